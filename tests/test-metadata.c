/* test-metadata.c: the metadata service's and config drive's content */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "common/nlx-file.h"
#include "model/nlx-metadata.h"

#define UUID "7e57d000-1111-4222-8333-444455556666"
#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx test@example"
/* "#!/bin/sh\necho hi\n" */
#define USER_DATA_B64 "IyEvYmluL3NoCmVjaG8gaGkK"
#define USER_DATA "#!/bin/sh\necho hi\n"

static NlxInstance *
make_instance (gboolean with_key,
               gboolean with_user_data,
               gboolean with_vif)
{
  g_autoptr(GString) json = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  NlxInstance *instance;

  g_string_append (json,
    "{\"uuid\": \"" UUID "\", \"name\": \"Web Server_1\","
    " \"flavor\": {\"name\": \"m1.tiny\", \"vcpus\": 1, \"memory_mb\": 128,"
    " \"root_gb\": 1}, \"image_ref\": \"busybox\", \"user_id\": \"alice\","
    " \"project_id\": \"demo\", \"hostname\": \"web-server-1\","
    " \"metadata\": {\"role\": \"web\", \"a\": \"b\"}");
  if (with_key)
    g_string_append (json, ", \"key_name\": \"mykey\", \"key_data\": \"" KEY "\"");
  if (with_user_data)
    g_string_append (json, ", \"user_data\": \"" USER_DATA_B64 "\"");
  if (with_vif)
    g_string_append (json, ", \"vif\": {\"bridge\": \"nlxbr0\","
                     " \"mac\": \"fa:16:3e:00:00:01\", \"address\": \"10.11.0.5\","
                     " \"prefix\": 24, \"gateway\": \"10.11.0.1\"}");
  g_string_append (json, "}");
  instance = nlx_instance_new_from_data (json->str, -1, &error);
  g_assert_no_error (error);
  return instance;
}

/* The body at @path as a string, asserting its content type. */
static char *
get (const NlxInstance *instance,
     const char *path,
     const char *expected_type)
{
  g_autoptr(GError) error = NULL;
  const char *type = NULL;
  g_autoptr(GBytes) body = nlx_metadata_lookup (instance, path, &type, &error);
  gsize length;
  const char *data;

  if (body == NULL)
    g_error ("%s: %s", path, error->message);
  g_assert_cmpstr (type, ==, expected_type);
  data = g_bytes_get_data (body, &length);
  return g_strndup (data ? data : "", length);
}

static void
assert_not_found (const NlxInstance *instance,
                  const char *path)
{
  g_autoptr(GError) error = NULL;
  const char *type = NULL;
  g_autoptr(GBytes) body = nlx_metadata_lookup (instance, path, &type, &error);

  if (body != NULL)
    g_error ("%s: found, expected 404", path);
  g_assert_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_NOT_FOUND);
}

static void
assert_text (const NlxInstance *instance,
             const char *path,
             const char *expected)
{
  g_autofree char *body = get (instance, path, NLX_METADATA_TEXT);

  g_assert_cmpstr (body, ==, expected);
}

static JsonObject *
get_json (const NlxInstance *instance,
          const char *path,
          const char *expected_type,
          JsonParser *parser)
{
  g_autofree char *body = get (instance, path, expected_type);
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, body, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_node_get_object (json_parser_get_root (parser));
}

static void
test_openstack_listings (void)
{
  g_autoptr(NlxInstance) plain = make_instance (FALSE, FALSE, FALSE);
  g_autoptr(NlxInstance) full = make_instance (TRUE, TRUE, TRUE);
  const char *versions = "2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n"
                         "2016-06-30\n2016-10-06\n2017-02-22\n2018-08-27\n"
                         "2020-10-14\n2025-04-04\nlatest";

  assert_text (plain, "/openstack", versions);
  assert_text (plain, "/openstack/", versions);
  assert_text (plain, "/openstack/latest",
               "meta_data.json\npassword\nvendor_data.json\n"
               "network_data.json\nvendor_data2.json");
  assert_text (full, "/openstack/latest/",
               "meta_data.json\nuser_data\npassword\nvendor_data.json\n"
               "network_data.json\nvendor_data2.json");
  /* Folsom had only these two; Havana added vendor data. */
  assert_text (full, "/openstack/2012-08-10", "meta_data.json\nuser_data");
  assert_text (plain, "/openstack/2013-10-17",
               "meta_data.json\npassword\nvendor_data.json");
}

static void
test_meta_data_json (void)
{
  g_autoptr(NlxInstance) instance = make_instance (TRUE, FALSE, FALSE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonParser) old_parser = json_parser_new ();
  JsonObject *object = get_json (instance, "/openstack/latest/meta_data.json",
                                 NLX_METADATA_JSON, parser);
  JsonObject *old;
  JsonObject *key;
  g_autofree guchar *seed = NULL;
  gsize seed_length = 0;

  g_assert_cmpstr (json_object_get_string_member (object, "uuid"), ==, UUID);
  g_assert_cmpstr (json_object_get_string_member (object, "name"), ==,
                   "Web Server_1");
  g_assert_cmpstr (json_object_get_string_member (object, "hostname"), ==,
                   "web-server-1");
  g_assert_cmpint (json_object_get_int_member (object, "launch_index"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (object, "availability_zone"),
                   ==, "nova");
  g_assert_cmpstr (json_object_get_string_member (object, "project_id"), ==,
                   "demo");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (object, "meta"), "role"),
                   ==, "web");
  /* In the order of their names, whatever the table's. */
  {
    g_autoptr(GList) names = json_object_get_members (
      json_object_get_object_member (object, "meta"));

    g_assert_cmpuint (g_list_length (names), ==, 2);
    g_assert_cmpstr (names->data, ==, "a");
    g_assert_cmpstr (names->next->data, ==, "role");
  }
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (object, "public_keys"),
                     "mykey"), ==, KEY);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object,
                                                                         "keys")),
                    ==, 1);
  key = json_array_get_object_element (json_object_get_array_member (object,
                                                                     "keys"), 0);
  g_assert_cmpstr (json_object_get_string_member (key, "name"), ==, "mykey");
  g_assert_cmpstr (json_object_get_string_member (key, "type"), ==, "ssh");
  g_assert_cmpstr (json_object_get_string_member (key, "data"), ==, KEY);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object,
                                                                         "devices")),
                    ==, 0);
  seed = g_base64_decode (json_object_get_string_member (object, "random_seed"),
                          &seed_length);
  g_assert_cmpuint (seed_length, ==, 512);

  /* Folsom's has none of the later fields. */
  old = get_json (instance, "/openstack/2012-08-10/meta_data.json",
                  NLX_METADATA_JSON, old_parser);
  g_assert_cmpstr (json_object_get_string_member (old, "uuid"), ==, UUID);
  g_assert_false (json_object_has_member (old, "random_seed"));
  g_assert_false (json_object_has_member (old, "project_id"));
  g_assert_false (json_object_has_member (old, "devices"));
}

/* A server booted with an x509 key pair: its certificate where Nova puts
 * it, and "keys" saying it is one (for cloudbase-init). */
static void
test_x509_key (void)
{
  g_autoptr(NlxInstance) instance = make_instance (TRUE, FALSE, FALSE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
  JsonObject *object, *key;

  g_free (instance->key_data);
  instance->key_data = g_strdup (cert);
  object = get_json (instance, "/openstack/latest/meta_data.json",
                     NLX_METADATA_JSON, parser);
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (object, "public_keys"),
                     "mykey"), ==, cert);
  key = json_array_get_object_element (json_object_get_array_member (object,
                                                                     "keys"), 0);
  g_assert_cmpstr (json_object_get_string_member (key, "type"), ==, "x509");
  g_assert_cmpstr (json_object_get_string_member (key, "data"), ==, cert);
}

static void
test_no_key_no_user_data (void)
{
  g_autoptr(NlxInstance) instance = make_instance (FALSE, FALSE, FALSE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object = get_json (instance, "/openstack/latest/meta_data.json",
                                 NLX_METADATA_JSON, parser);
  g_autofree char *listing = get (instance, "/latest/meta-data/",
                                  NLX_METADATA_TEXT);

  g_assert_false (json_object_has_member (object, "public_keys"));
  g_assert_false (json_object_has_member (object, "keys"));
  g_assert_null (strstr (listing, "public-keys"));
  assert_not_found (instance, "/latest/meta-data/public-keys/");
  assert_not_found (instance, "/latest/meta-data/public-keys/0/openssh-key");
  assert_not_found (instance, "/openstack/latest/user_data");
  assert_not_found (instance, "/latest/user-data");
  assert_not_found (instance, "/2009-04-04/user-data");
  assert_text (instance, "/latest", "meta-data/");
}

static void
test_user_data (void)
{
  g_autoptr(NlxInstance) instance = make_instance (FALSE, TRUE, FALSE);
  g_autoptr(NlxInstance) binary = make_instance (FALSE, FALSE, FALSE);
  g_autoptr(GBytes) body = NULL;
  const guchar gzip[] = { 0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00, 0x41 };
  const char *type;

  assert_text (instance, "/openstack/latest/user_data", USER_DATA);
  assert_text (instance, "/openstack/2012-08-10/user_data", USER_DATA);
  assert_text (instance, "/latest/user-data", USER_DATA);
  assert_text (instance, "/2009-04-04/user-data", USER_DATA);
  assert_text (instance, "/1.0/user-data", USER_DATA);
  assert_text (instance, "/latest", "meta-data/\nuser-data");
  assert_not_found (instance, "/latest/user-data/x");

  /* Served as bytes, NULs and all. */
  binary->user_data = g_base64_encode (gzip, sizeof gzip);
  body = nlx_metadata_lookup (binary, "/openstack/latest/user_data", &type,
                              NULL);
  g_assert_nonnull (body);
  g_assert_cmpmem (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                   gzip, sizeof gzip);
}

static void
test_network_data (void)
{
  g_autoptr(NlxInstance) instance = make_instance (FALSE, FALSE, TRUE);
  g_autoptr(NlxInstance) isolated = make_instance (FALSE, FALSE, FALSE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *object = get_json (instance, "/openstack/latest/network_data.json",
                                 NLX_METADATA_TEXT, parser);
  JsonObject *link = json_array_get_object_element (
    json_object_get_array_member (object, "links"), 0);
  JsonObject *network = json_array_get_object_element (
    json_object_get_array_member (object, "networks"), 0);
  JsonObject *route;

  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object,
                                                                         "links")),
                    ==, 1);
  g_assert_cmpstr (json_object_get_string_member (link, "ethernet_mac_address"),
                   ==, "fa:16:3e:00:00:01");
  g_assert_cmpstr (json_object_get_string_member (network, "type"), ==, "ipv4");
  g_assert_cmpstr (json_object_get_string_member (network, "link"), ==,
                   json_object_get_string_member (link, "id"));
  g_assert_cmpstr (json_object_get_string_member (network, "ip_address"), ==,
                   "10.11.0.5");
  g_assert_cmpstr (json_object_get_string_member (network, "netmask"), ==,
                   "255.255.255.0");
  route = json_array_get_object_element (
    json_object_get_array_member (network, "routes"), 0);
  g_assert_cmpstr (json_object_get_string_member (route, "network"), ==,
                   "0.0.0.0");
  g_assert_cmpstr (json_object_get_string_member (route, "netmask"), ==,
                   "0.0.0.0");
  g_assert_cmpstr (json_object_get_string_member (route, "gateway"), ==,
                   "10.11.0.1");
  /* No DNS server is made up. */
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object,
                                                                         "services")),
                    ==, 0);

  assert_text (isolated, "/openstack/latest/network_data.json", "{}");
  assert_not_found (instance, "/openstack/2013-10-17/network_data.json");
}

static void
test_vendor_data_and_password (void)
{
  g_autoptr(NlxInstance) instance = make_instance (FALSE, FALSE, FALSE);
  g_autofree char *vd = get (instance, "/openstack/latest/vendor_data.json",
                             NLX_METADATA_JSON);
  g_autofree char *vd2 = get (instance, "/openstack/latest/vendor_data2.json",
                              NLX_METADATA_JSON);

  g_assert_cmpstr (vd, ==, "{}");
  g_assert_cmpstr (vd2, ==, "{\"static\":{}}");
  assert_text (instance, "/openstack/latest/password", "");
  assert_not_found (instance, "/openstack/2012-08-10/password");
  assert_not_found (instance, "/openstack/2013-04-04/vendor_data.json");
  assert_not_found (instance, "/openstack/2016-06-30/vendor_data2.json");
}

static void
test_ec2 (void)
{
  g_autoptr(NlxInstance) instance = make_instance (TRUE, TRUE, TRUE);
  g_autofree char *ami = get (instance, "/latest/meta-data/ami-id",
                              NLX_METADATA_TEXT);
  g_autofree char *reservation = get (instance, "/latest/meta-data/reservation-id",
                                      NLX_METADATA_TEXT);
  const char *versions = "1.0\n2007-01-19\n2007-03-01\n2007-08-29\n"
                         "2007-10-10\n2007-12-15\n2008-02-01\n2008-09-01\n"
                         "2009-04-04\nlatest";

  assert_text (instance, "/", versions);
  assert_text (instance, "", versions);
  assert_text (instance, "/ec2", versions);
  assert_text (instance, "/latest/meta-data/",
               "ami-id\nami-launch-index\nami-manifest-path\nhostname\n"
               "instance-action\ninstance-id\ninstance-type\nlocal-hostname\n"
               "local-ipv4\nplacement/\npublic-hostname\npublic-ipv4\n"
               "public-keys/\nreservation-id\nsecurity-groups");
  assert_text (instance, "/2009-04-04/meta-data",
               "ami-id\nami-launch-index\nami-manifest-path\nhostname\n"
               "instance-action\ninstance-id\ninstance-type\nlocal-hostname\n"
               "local-ipv4\nplacement/\npublic-hostname\npublic-ipv4\n"
               "public-keys/\nreservation-id\nsecurity-groups");
  /* The fields of 1.0 only. */
  assert_text (instance, "/1.0/meta-data/",
               "ami-id\nami-launch-index\nami-manifest-path\nhostname\n"
               "instance-id\nlocal-ipv4\npublic-keys/\nreservation-id\n"
               "security-groups");
  assert_text (instance, "/latest/meta-data/instance-id", "i-7e57d000");
  assert_text (instance, "/ec2/latest/meta-data/instance-id", "i-7e57d000");
  assert_text (instance, "/latest/meta-data/hostname", "web-server-1");
  assert_text (instance, "/latest/meta-data/local-hostname", "web-server-1");
  assert_text (instance, "/latest/meta-data/public-hostname", "web-server-1");
  assert_text (instance, "/latest/meta-data/local-ipv4", "10.11.0.5");
  assert_text (instance, "/latest/meta-data/public-ipv4", "");
  assert_text (instance, "/latest/meta-data/instance-type", "m1.tiny");
  assert_text (instance, "/latest/meta-data/ami-launch-index", "0");
  assert_text (instance, "/latest/meta-data/placement/", "availability-zone");
  assert_text (instance, "/latest/meta-data/placement/availability-zone", "nova");
  assert_text (instance, "/latest/meta-data/security-groups", "default");
  assert_text (instance, "/latest/meta-data/public-keys/", "0=mykey");
  assert_text (instance, "/latest/meta-data/public-keys/0/", "openssh-key");
  assert_text (instance, "/latest/meta-data/public-keys/0/openssh-key", KEY);
  assert_text (instance, "/2009-04-04/meta-data/public-keys/0/openssh-key", KEY);
  g_assert_true (g_str_has_prefix (ami, "ami-"));
  g_assert_cmpuint (strlen (ami), ==, 12);
  g_assert_true (g_str_has_prefix (reservation, "r-"));
  g_assert_cmpuint (strlen (reservation), ==, 10);

  /* The same instance gives the same identifiers every time. */
  {
    g_autofree char *again = get (instance, "/latest/meta-data/ami-id",
                                  NLX_METADATA_TEXT);

    g_assert_cmpstr (again, ==, ami);
  }
}

static void
test_not_found (void)
{
  g_autoptr(NlxInstance) instance = make_instance (TRUE, TRUE, TRUE);
  g_autoptr(GError) error = NULL;
  g_autofree char *long_path = NULL;
  const char *type;
  const char * const missing[] = {
    "/openstack/2099-01-01/meta_data.json",
    "/openstack/latest/nothing",
    "/openstack/latest/meta_data.json/uuid",
    "/openstack/content",
    "/openstack/latest/content/0000",
    "/2099-01-01/meta-data/",
    "/latest/nothing",
    "/latest/meta-data/nothing",
    "/latest/meta-data/instance-id/x",
    "/latest/meta-data/security-groups/default",
    "/latest/meta-data/public-keys/1",
    "/latest/meta-data/public-keys/0/_name",
    "/latest/meta-data/public-keys/0/openssh-key/x",
    "/latest/meta-data/placement/region",
    "/latest/meta-data/block-device-mapping/",
    "/nothing",
    "/openstack/latest/meta_data.json%00",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (missing); i++)
    assert_not_found (instance, missing[i]);

  /* Too long to be anything, even though it resolves to the top. */
  long_path = g_strnfill (NLX_METADATA_PATH_MAX + 1, '/');
  g_assert_null (nlx_metadata_lookup (instance, long_path, &type, &error));
  g_assert_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_NOT_FOUND);
  g_clear_pointer (&long_path, g_free);
  long_path = g_strnfill (NLX_METADATA_PATH_MAX, '/');
  assert_text (instance, long_path, "1.0\n2007-01-19\n2007-03-01\n2007-08-29\n"
               "2007-10-10\n2007-12-15\n2008-02-01\n2008-09-01\n2009-04-04\n"
               "latest");
}

/* As Nova's posixpath.normpath(): nothing above the top, "//" and "."
 * are nothing, a query is not part of the path. */
static void
test_path_forms (void)
{
  g_autoptr(NlxInstance) instance = make_instance (TRUE, TRUE, TRUE);

  assert_text (instance, "//latest//meta-data///instance-id", "i-7e57d000");
  assert_text (instance, "latest/meta-data/instance-id", "i-7e57d000");
  assert_text (instance, "/latest/./meta-data/./instance-id", "i-7e57d000");
  assert_text (instance, "/latest/meta-data/nothing/../instance-id",
               "i-7e57d000");
  assert_text (instance, "/../../../latest/meta-data/instance-id",
               "i-7e57d000");
  assert_text (instance, "/openstack/2012-08-10/../latest/user_data",
               USER_DATA);
  assert_text (instance, "/openstack/latest/user_data?x=1&y=/../..",
               USER_DATA);
  assert_text (instance, "/latest/meta-data/instance-id?", "i-7e57d000");
  /* ".." of the layout's top is the EC2 layout's top. */
  assert_text (instance, "/openstack/..", "1.0\n2007-01-19\n2007-03-01\n"
               "2007-08-29\n2007-10-10\n2007-12-15\n2008-02-01\n2008-09-01\n"
               "2009-04-04\nlatest");
  assert_not_found (instance, "/openstack/latest/../../etc/passwd");
  assert_not_found (instance, "/latest/meta-data/..%2finstance-id");
}

static char *
read_tree_file (const char *dir,
                const char *name,
                guint expected_mode)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, expected_mode);
  if (S_ISREG (st.st_mode))
    {
      g_file_get_contents (path, &contents, NULL, &error);
      g_assert_no_error (error);
    }
  return contents;
}

static gboolean
exists (const char *dir,
        const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
test_config_drive (void)
{
  g_autoptr(NlxInstance) instance = make_instance (TRUE, TRUE, TRUE);
  g_autoptr(NlxInstance) plain = make_instance (FALSE, FALSE, FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *top = g_dir_make_tmp ("nlx-test-metadata-XXXXXX", &error);
  g_autofree char *drive = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *meta = NULL;
  g_autofree char *ec2 = NULL;
  g_autofree char *ud = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GDir) listing = NULL;
  JsonObject *object;
  mode_t old_umask;

  g_assert_no_error (error);
  drive = g_build_filename (top, "config-drive", NULL);
  /* The daemon's umask must not close the tree to the instance. */
  old_umask = umask (077);
  g_assert_true (nlx_metadata_write_config_drive (instance, drive, &error));
  umask (old_umask);
  g_assert_no_error (error);

  g_free (read_tree_file (drive, ".", 0755));
  g_free (read_tree_file (drive, "openstack/latest", 0755));
  meta = read_tree_file (drive, "openstack/latest/meta_data.json", 0644);
  json_parser_load_from_data (parser, meta, -1, &error);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (object, "uuid"), ==, UUID);
  g_assert_cmpstr (json_object_get_string_member (object, "hostname"), ==,
                   "web-server-1");
  /* ds-identify looks for a dated version too. */
  g_free (read_tree_file (drive, "openstack/2012-08-10/meta_data.json", 0644));
  ud = read_tree_file (drive, "openstack/latest/user_data", 0644);
  g_assert_cmpstr (ud, ==, USER_DATA);
  g_free (read_tree_file (drive, "openstack/latest/network_data.json", 0644));
  g_free (read_tree_file (drive, "openstack/latest/vendor_data.json", 0644));
  g_free (read_tree_file (drive, "openstack/latest/vendor_data2.json", 0644));
  g_assert_false (exists (drive, "openstack/latest/password"));
  g_assert_false (exists (drive, "openstack/2012-08-10/network_data.json"));
  g_clear_pointer (&ud, g_free);
  ud = read_tree_file (drive, "ec2/latest/user-data", 0644);
  g_assert_cmpstr (ud, ==, USER_DATA);

  /* EC2's meta-data as one JSON document, without listing names. */
  ec2 = read_tree_file (drive, "ec2/2009-04-04/meta-data.json", 0644);
  json_parser_load_from_data (parser, ec2, -1, &error);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (object, "instance-id"), ==,
                   "i-7e57d000");
  object = json_object_get_object_member (
    json_object_get_object_member (object, "public-keys"), "0");
  g_assert_cmpstr (json_object_get_string_member (object, "openssh-key"), ==,
                   KEY);
  g_assert_false (json_object_has_member (object, "_name"));

  /* Written again for another instance state: replaced whole. */
  g_assert_true (nlx_metadata_write_config_drive (plain, drive, &error));
  g_assert_no_error (error);
  g_assert_false (exists (drive, "openstack/latest/user_data"));
  g_assert_false (exists (drive, "ec2/latest/user-data"));
  g_assert_true (exists (drive, "openstack/latest/meta_data.json"));
  /* Nothing left beside it. */
  listing = g_dir_open (top, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_dir_read_name (listing), ==, "config-drive");
  g_assert_null (g_dir_read_name (listing));

  /* A parent that is missing is an error, and nothing is made. */
  missing = g_build_filename (top, "no", "config-drive", NULL);
  g_assert_false (nlx_metadata_write_config_drive (plain, missing, &error));
  g_assert_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_FAILED);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));

  g_assert_true (nlx_file_remove_tree (top, NULL));
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The metadata service's and config drive's content.");
  g_test_add_func ("/nlx/metadata/openstack/listings", test_openstack_listings);
  g_test_add_func ("/nlx/metadata/openstack/meta-data-json", test_meta_data_json);
  g_test_add_func ("/nlx/metadata/openstack/network-data", test_network_data);
  g_test_add_func ("/nlx/metadata/openstack/vendor-data-password",
                   test_vendor_data_and_password);
  g_test_add_func ("/nlx/metadata/no-key-no-user-data", test_no_key_no_user_data);
  g_test_add_func ("/nlx/metadata/openstack/x509-key", test_x509_key);
  g_test_add_func ("/nlx/metadata/user-data", test_user_data);
  g_test_add_func ("/nlx/metadata/ec2", test_ec2);
  g_test_add_func ("/nlx/metadata/not-found", test_not_found);
  g_test_add_func ("/nlx/metadata/path-forms", test_path_forms);
  g_test_add_func ("/nlx/metadata/config-drive", test_config_drive);
  return g_test_run ();
}
