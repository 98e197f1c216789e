/* test-instance.c: the instance model and its JSON form */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "model/nlx-instance.h"
#include "model/nlx-instance-action.h"

#define GOOD_INSTANCE \
  "{\"uuid\": \"0B7E1F0E-5B8A-4C8E-9D1E-2F3A4B5C6D7E\"," \
  " \"name\": \"web-1 \\u00e9t\\u00e9\"," \
  " \"flavor\": {\"name\": \"m1.small\", \"vcpus\": 2, \"memory_mb\": 2048," \
  "              \"root_gb\": 20, \"seccomp\": \"unconfined\"}," \
  " \"image_ref\": \"debian-12\", \"user_id\": \"alice\"," \
  " \"project_id\": \"demo\"," \
  " \"metadata\": {\"role\": \"web\", \"tier\": \"front\"}," \
  " \"created_at\": \"2026-01-31T12:34:56Z\", \"hostname\": \"web-1\"," \
  " \"user_data\": \"IyEvYmluL3NoCg==\", \"key_name\": \"k\"," \
  " \"key_data\": \"ssh-ed25519 AAAA k\", \"config_drive\": true," \
  " \"access_ipv4\": \"192.0.2.7\", \"access_ipv6\": \"2001:DB8:0::7\"," \
  " \"locked_by\": \"owner\", \"locked_reason\": \"upgrade\"}"

static void
test_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = NULL;
  g_autoptr(NlxInstance) again = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *created = NULL;

  instance = nlx_instance_new_from_data (GOOD_INSTANCE, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (instance->uuid, ==, "0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e");
  g_assert_cmpstr (instance->name, ==, "web-1 été");
  g_assert_cmpstr (instance->flavor.name, ==, "m1.small");
  g_assert_cmpuint (instance->flavor.vcpus, ==, 2);
  g_assert_cmpuint (instance->flavor.memory_mb, ==, 2048);
  g_assert_cmpuint (instance->flavor.root_gb, ==, 20);
  g_assert_true (instance->flavor.seccomp_unconfined);
  g_assert_cmpstr (instance->image_ref, ==, "debian-12");
  g_assert_cmpstr (instance->user_id, ==, "alice");
  g_assert_cmpstr (instance->project_id, ==, "demo");
  g_assert_cmpuint (g_hash_table_size (instance->metadata), ==, 2);
  g_assert_cmpstr (g_hash_table_lookup (instance->metadata, "tier"), ==, "front");
  created = g_date_time_format_iso8601 (instance->created_at);
  g_assert_cmpstr (created, ==, "2026-01-31T12:34:56Z");
  g_assert_cmpstr (instance->hostname, ==, "web-1");
  g_assert_cmpstr (instance->user_data, ==, "IyEvYmluL3NoCg==");
  g_assert_cmpstr (instance->key_name, ==, "k");
  g_assert_cmpstr (instance->key_data, ==, "ssh-ed25519 AAAA k");
  g_assert_true (instance->config_drive);
  g_assert_cmpstr (instance->access_ipv4, ==, "192.0.2.7");
  /* Kept in canonical form. */
  g_assert_cmpstr (instance->access_ipv6, ==, "2001:db8::7");
  g_assert_cmpstr (instance->locked_by, ==, "owner");
  g_assert_cmpstr (instance->locked_reason, ==, "upgrade");

  first = nlx_instance_to_data (instance);
  again = nlx_instance_new_from_data (first, -1, &error);
  g_assert_no_error (error);
  second = nlx_instance_to_data (again);
  g_assert_cmpstr (first, ==, second);
}

static void
test_defaults (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = NULL;
  g_autoptr(GDateTime) before = g_date_time_new_now_utc ();
  g_autofree char *name = NULL;

  instance = nlx_instance_new_from_data (
    "{\"uuid\": \"7e57d000-0000-4000-8000-000000000001\", \"name\": \"n\","
    " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
    " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\","
    " \"project_id\": \"p\"}", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (instance->metadata), ==, 0);
  g_assert_cmpint (g_date_time_compare (instance->created_at, before), >=, 0);

  name = nlx_instance_domain_name (instance);
  g_assert_cmpstr (name, ==, "instance-7e57d000");
  g_assert_null (instance->hostname);
  g_assert_null (instance->user_data);
  g_assert_null (instance->key_name);
  g_assert_false (instance->config_drive);
}

/* Nova's sanitize_hostname, but ASCII only. */
static void
test_hostname (void)
{
  static const struct {
    const char *name;
    const char *hostname;
  } cases[] = {
    { "web-1", "web-1" },
    { "Web Server_2.example", "web-server-2-example" },
    { "--a--", "a" },
    { "été 1", "t-1" },
    { "a!b@c", "abc" },
    { "!!!", "server-7e57d000-0000-4000-8000-000000000001" },
    { "", "server-7e57d000-0000-4000-8000-000000000001" },
    { "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxyz",
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" },
  };
  static const char * const bad[] = { "", "-a", "a-", "A", "a.b", "a b" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *hostname =
        nlx_hostname_from_name (cases[i].name,
                                "7e57d000-0000-4000-8000-000000000001");

      g_assert_cmpstr (hostname, ==, cases[i].hostname);
      g_assert_true (nlx_hostname_is_valid (hostname));
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_false (nlx_hostname_is_valid (bad[i]));
}

/* Each bad document replaces one part of a good one; the error must name
 * the field so the user knows what to fix. */
static void
test_bad_fields (void)
{
  static const struct {
    const char *json;
    const char *mentions;
  } cases[] = {
    { "not json", "not valid JSON" },
#define MINIMAL "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", " \
  "\"name\": \"n\", \"flavor\": {\"name\": \"f\", \"vcpus\": 1, " \
  "\"memory_mb\": 64, \"root_gb\": 0}, \"image_ref\": \"i\", " \
  "\"user_id\": \"u\", \"project_id\": \"p\", "
    { MINIMAL "\"access_ipv4\": \"2001:db8::1\"}", "“access_ipv4” must be an IPv4" },
    { MINIMAL "\"access_ipv6\": \"192.0.2.1\"}", "“access_ipv6” must be an IPv6" },
    { MINIMAL "\"locked_by\": \"someone\"}", "“locked_by” must be" },
    { MINIMAL "\"locked_reason\": \"why\"}", "“locked_reason” needs" },
#undef MINIMAL
    { "[1, 2]", "must be a JSON object" },
    { "{}", "“uuid” is missing" },
    { "{\"uuid\": 7}", "“uuid” must be a string" },
    { "{\"uuid\": \"not-a-uuid\"}", "“uuid” must be a UUID" },
    { "{\"uuid\": \"\"}", "“uuid” must be 1 to" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\"}", "“name” is missing" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"\"}",
      "“name” must be 1 to 255 printable" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"a\\nb\"}",
      "“name” must be 1 to 255 printable" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\"}",
      "“flavor” is missing" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": \"m1.tiny\"}", "“flavor” must be an object" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"vcpus\": 1}}", "“flavor.name” is missing" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": \"2\"}}",
      "“flavor.vcpus” must be a whole number from 1 to 1024" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 0}}", "“flavor.vcpus”" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1025}}", "“flavor.vcpus”" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": -5}}",
      "“flavor.memory_mb”" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 1.5}}", "“flavor.root_gb”" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memroy_mb\": 64}}",
      "Unknown field “flavor.memroy_mb”" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0, \"seccomp\": \"off\"}}",
      "“flavor.seccomp” must be “default” or “unconfined”" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0, \"seccomp\": false}}",
      "“flavor.seccomp” must be “default” or “unconfined”" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0}}", "“image_ref” is missing" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0}, \"image_ref\": \"i\"}", "“user_id” is missing" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\"}",
      "“project_id” is missing" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\","
      " \"project_id\": \"p\", \"metadata\": [1]}", "“metadata” must be an object" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\","
      " \"project_id\": \"p\", \"metadata\": {\"k\": 1}}",
      "“metadata.k” must be a string" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\","
      " \"project_id\": \"p\", \"created_at\": \"yesterday\"}",
      "“created_at” must be an ISO 8601 time" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\","
      " \"project_id\": \"p\", \"hostname\": \"Web_1\"}",
      "“hostname” must be lower-case letters" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"name\": \"n\","
      " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
      " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\","
      " \"project_id\": \"p\", \"config_drive\": \"yes\"}",
      "“config_drive” must be true or false" },
    { "{\"uuid\": \"0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e\", \"nmae\": \"n\"}",
      "Unknown field “nmae”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NlxInstance) instance = NULL;

      instance = nlx_instance_new_from_data (cases[i].json, -1, &error);
      g_assert_null (instance);
      g_assert_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
      if (strstr (error->message, cases[i].mentions) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message,
                 cases[i].mentions);
    }
}

#define VIF_INSTANCE(vif) \
  "{\"uuid\": \"7e57d000-0000-4000-8000-000000000002\", \"name\": \"n\"," \
  " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64," \
  " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\"," \
  " \"project_id\": \"p\", \"vif\": " vif "}"

static void
test_vif (void)
{
  static const struct {
    const char *json;
    const char *mentions;
  } bad[] = {
    { VIF_INSTANCE ("[]"), "“vif” must be an object" },
    { VIF_INSTANCE ("{\"bridge\": \"nlxbr0\"}"), "“vif.mac” is missing" },
    { VIF_INSTANCE ("{\"bridge\": \"a/b\", \"mac\": \"fa:16:3e:00:00:01\","
                    " \"address\": \"10.0.0.2\", \"prefix\": 24,"
                    " \"gateway\": \"10.0.0.1\"}"), "“vif.bridge” must be" },
    { VIF_INSTANCE ("{\"bridge\": \"br\", \"mac\": \"FA:16:3E:00:00:01\","
                    " \"address\": \"10.0.0.2\", \"prefix\": 24,"
                    " \"gateway\": \"10.0.0.1\"}"), "“vif.mac” must be" },
    { VIF_INSTANCE ("{\"bridge\": \"br\", \"mac\": \"ff:16:3e:00:00:01\","
                    " \"address\": \"10.0.0.2\", \"prefix\": 24,"
                    " \"gateway\": \"10.0.0.1\"}"), "unicast" },
    { VIF_INSTANCE ("{\"bridge\": \"br\", \"mac\": \"fa:16:3e:00:00:01\","
                    " \"address\": \"10.0.0.256\", \"prefix\": 24,"
                    " \"gateway\": \"10.0.0.1\"}"), "“vif.address” must be" },
    { VIF_INSTANCE ("{\"bridge\": \"br\", \"mac\": \"fa:16:3e:00:00:01\","
                    " \"address\": \"10.0.0.2\", \"prefix\": 31,"
                    " \"gateway\": \"10.0.0.1\"}"), "“vif.prefix” must be" },
    { VIF_INSTANCE ("{\"bridge\": \"br\", \"mac\": \"fa:16:3e:00:00:01\","
                    " \"address\": \"10.0.1.2\", \"prefix\": 24,"
                    " \"gateway\": \"10.0.0.1\"}"), "one /24 subnet" },
    { VIF_INSTANCE ("{\"bridge\": \"br\", \"mac\": \"fa:16:3e:00:00:01\","
                    " \"address\": \"10.0.0.255\", \"prefix\": 24,"
                    " \"gateway\": \"10.0.0.1\"}"), "one /24 subnet" },
    { VIF_INSTANCE ("{\"bridge\": \"br\", \"mac\": \"fa:16:3e:00:00:01\","
                    " \"address\": \"10.0.0.2\", \"prefix\": 24,"
                    " \"gateway\": \"10.0.0.1\", \"mtu\": 1500}"),
      "Unknown field “vif.mtu”" },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = NULL;
  g_autoptr(NlxInstance) again = NULL;
  g_autofree char *data = NULL;

  instance = nlx_instance_new_from_data (
    VIF_INSTANCE ("{\"bridge\": \"nlxbr0\", \"mac\": \"fa:16:3e:0a:1b:2c\","
                  " \"address\": \"10.251.0.2\", \"prefix\": 24,"
                  " \"gateway\": \"10.251.0.1\"}"), -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (instance->vif);
  g_assert_cmpstr (instance->vif->bridge, ==, "nlxbr0");
  g_assert_cmpstr (instance->vif->mac, ==, "fa:16:3e:0a:1b:2c");
  g_assert_cmpstr (instance->vif->address, ==, "10.251.0.2");
  g_assert_cmpuint (instance->vif->prefix, ==, 24);
  g_assert_cmpstr (instance->vif->gateway, ==, "10.251.0.1");
  data = nlx_instance_to_data (instance);
  again = nlx_instance_new_from_data (data, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->vif->address, ==, "10.251.0.2");
  g_assert_cmpuint (again->vif->prefix, ==, 24);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(NlxInstance) refused = NULL;

      refused = nlx_instance_new_from_data (bad[i].json, -1, &local_error);
      g_assert_null (refused);
      g_assert_error (local_error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
      if (strstr (local_error->message, bad[i].mentions) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i,
                 local_error->message, bad[i].mentions);
    }
}

#define TIME_INSTANCE(created) \
  "{\"uuid\": \"7e57d000-0000-4000-8000-000000000003\", \"name\": \"n\"," \
  " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64," \
  " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\"," \
  " \"project_id\": \"p\", \"created_at\": \"" created "\"}"

/* Found by the instance fuzzer: a year before 1000 was written without
 * its leading zeros ("362-11-23…"), which the loader refuses, so the
 * record of such an instance could not be read back; and a time with an
 * offset was written with its local hour and a "Z", moving it. */
static void
test_created_at_round_trip (void)
{
  static const struct {
    const char *given;
    const char *written;
  } cases[] = {
    { "0362-11-23T10:00:00Z", "0362-11-23T10:00:00Z" },
    { "0026-01-02T03:04:05Z", "0026-01-02T03:04:05Z" },
    { "2026-01-31T12:34:56+02:00", "2026-01-31T10:34:56Z" },
    { "2026-01-01T01:00:00-03:30", "2026-01-01T04:30:00Z" },
    { "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z" },
  };
  /* In range only with their offset: no UTC time to store. */
  static const char * const refused[] = {
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:00:00-02:00",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *json = g_strdup_printf (TIME_INSTANCE ("%s"),
                                               cases[i].given);
      g_autoptr(NlxInstance) instance = nlx_instance_new_from_data (json, -1,
                                                                    &error);
      g_autoptr(NlxInstance) again = NULL;
      g_autofree char *text = NULL;
      g_autofree char *expected = NULL;

      g_assert_no_error (error);
      text = nlx_instance_to_data (instance);
      expected = g_strdup_printf ("\"created_at\" : \"%s\"", cases[i].written);
      if (strstr (text, expected) == NULL)
        g_error ("%s was written as:\n%s", cases[i].given, text);
      again = nlx_instance_new_from_data (text, -1, &error);
      g_assert_no_error (error);
      g_assert_true (g_date_time_equal (instance->created_at,
                                        again->created_at));
    }
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *json = g_strdup_printf (TIME_INSTANCE ("%s"),
                                               refused[i]);
      g_autoptr(NlxInstance) instance = nlx_instance_new_from_data (json, -1,
                                                                    &error);

      g_assert_null (instance);
      g_assert_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
    }
}

static void
test_missing_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = NULL;

  instance = nlx_instance_new_from_file ("/nonexistent/nlx-test.json", &error);
  g_assert_null (instance);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

static NlxDeletedServer *
deleted_server (const char *uuid,
                const char *action)
{
  NlxDeletedServer *server = g_new0 (NlxDeletedServer, 1);

  server->uuid = g_strdup (uuid);
  server->project_id = g_strdup ("p");
  server->user_id = g_strdup ("u");
  server->deleted_at = g_date_time_new_utc (2026, 12, 3, 12, 0, 0);
  server->actions =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_instance_action_free);
  g_ptr_array_add (server->actions,
                   nlx_instance_action_new (action, "req-1", "u", "p",
                                            "compute_" "x", "host"));
  return server;
}

static GPtrArray *
deleted_list (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_deleted_server_free);
}

/* The deleted servers' file keeps each server's text once made: what
 * it writes after the list changed (the oldest dropped, one added) is
 * what the same list writes without kept texts, and reads back as the
 * list. */
static void
test_deleted_servers_kept_text (void)
{
  const char *uuids[] = { "11111111-1111-4111-8111-111111111111",
                          "22222222-2222-4222-8222-222222222222",
                          "33333333-3333-4333-8333-333333333333" };
  g_autoptr(GPtrArray) kept = deleted_list ();
  g_autoptr(GPtrArray) loaded = NULL;
  g_autofree char *first = NULL;
  g_autofree char *again = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nlx-test-deleted-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "deleted.json", NULL);
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (kept, deleted_server (uuids[0], "create"));
  g_ptr_array_add (kept, deleted_server (uuids[1], "reboot"));
  first = nlx_deleted_servers_to_data (kept);
  g_ptr_array_remove_index (kept, 0);
  g_ptr_array_add (kept, deleted_server (uuids[2], "stop"));
  again = nlx_deleted_servers_to_data (kept);

  /* Made afresh, without the kept texts. */
  for (guint i = 0; i < kept->len; i++)
    g_clear_pointer (&((NlxDeletedServer *) kept->pdata[i])->text, g_free);
  expected = nlx_deleted_servers_to_data (kept);
  g_assert_cmpstr (again, ==, expected);
  g_assert_nonnull (strstr (first, uuids[0]));
  g_assert_null (strstr (again, uuids[0]));

  g_assert_true (g_file_set_contents (path, again, -1, &error));
  g_assert_no_error (error);
  loaded = nlx_deleted_servers_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, 2);
  g_assert_cmpstr (((NlxDeletedServer *) loaded->pdata[0])->uuid, ==, uuids[1]);
  g_assert_cmpstr (((NlxDeletedServer *) loaded->pdata[1])->uuid, ==, uuids[2]);
  g_assert_cmpstr (((NlxInstanceAction *) ((NlxDeletedServer *) loaded->pdata[1])->actions->pdata[0])->action,
                   ==, "stop");
  /* Read back, it writes the same text again. */
  g_free (expected);
  expected = nlx_deleted_servers_to_data (loaded);
  g_assert_cmpstr (again, ==, expected);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The instance model and its JSON form.");
  g_test_add_func ("/nlx/instance/round-trip", test_round_trip);
  g_test_add_func ("/nlx/instance/defaults", test_defaults);
  g_test_add_func ("/nlx/instance/hostname", test_hostname);
  g_test_add_func ("/nlx/instance/bad-fields", test_bad_fields);
  g_test_add_func ("/nlx/instance/vif", test_vif);
  g_test_add_func ("/nlx/instance/missing-file", test_missing_file);
  g_test_add_func ("/nlx/instance/deleted-servers-kept-text",
                   test_deleted_servers_kept_text);
  g_test_add_func ("/nlx/instance/created-at-round-trip",
                   test_created_at_round_trip);
  return g_test_run ();
}
