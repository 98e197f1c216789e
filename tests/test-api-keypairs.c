/* test-api-keypairs.c: the Compute API and the manager, over HTTP, on the
 * fake driver: key pairs and the boot-time configuration servers are
 * created and rebuilt with (the fixture: lib/nlx-api-fixture.h). */
#include "config.h"

#include "common/nlx-json.h"
#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

/* ---- boot-time configuration and key pairs ------------------------------ */

#define KEY_ED25519 \
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEOhR3s2cPaL1vcn6LMdlHkjYQk/O4Zpd6TzNR0Sj0w/ alice@example"
#define KEY_ED25519_MD5 "00:ee:22:2a:85:49:e1:86:92:2d:8d:0f:34:38:9f:91"
#define KEY_RSA \
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDdusKRs15tHl9WOB9VFh5I0Q299FY8KzkObTMmRVHkmNYKnH9PJ/9PejkrgAhLr9TmXM8+KnKlKplboIHyUAaZdcDWYeUQOEJKGonwEgotJeGTXtB7G+h9DiQzXDoIR3mw39J7nVvWakIg2553LzB6PuW6oSYpzOUdDhKGAM/oXQ=="
#define KEY_RSA_MD5 "94:8f:7e:92:dd:31:f5:4a:ed:58:8b:03:37:f7:97:e1"
#define KEY_ECDSA \
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBK3xzaZBzCeEfRce9Nzyx9rit0Ic2vE3SwRcXZ9VsDp/cn2vxguF9KLa+JhDrPOUJ4OmRMfebIT7Lx06znLIO+M= e c"
#define KEY_ECDSA_MD5 "87:ad:97:0d:20:77:5a:ab:27:a4:4f:a1:90:d2:62:8e"

/* An EC P-256 self-signed certificate (openssl req -x509), and its
 * SHA-1 fingerprint as "openssl x509 -fingerprint -sha1" gave it. */
#define CERT_LINES(nl) \
  "-----BEGIN CERTIFICATE-----" nl \
  "MIIBfjCCASOgAwIBAgIUM8Gfqod1WZ6MatFHRdUffbbsRrswCgYIKoZIzj0EAwIw" nl \
  "EzERMA8GA1UEAwwIbmx4LXRlc3QwIBcNMjYxMjAzMDY0OTE3WhgPMjEyNjExMDkw" nl \
  "NjQ5MTdaMBMxETAPBgNVBAMMCG5seC10ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0D" nl \
  "AQcDQgAEC/q16I8+hPmsubZVbn4Xgjp4HkxqtkMp/wlwJjJr4JLKNS/JZRFVZu7g" nl \
  "hhN4aHneEiuP+8whOWN5JdZ+qIiOcKNTMFEwHQYDVR0OBBYEFMQgXNKIy+cY0q+l" nl \
  "cZovrigNsSFJMB8GA1UdIwQYMBaAFMQgXNKIy+cY0q+lcZovrigNsSFJMA8GA1Ud" nl \
  "EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhANzy12K5oC83rVQdDQ7U5i8N" nl \
  "EehKrmY3E5Avnew9Rv5XAiEAjIYld8IVsh/bEg67aaTH7ZC9N22V38q4ljbLP2Bd" nl \
  "VgE=" nl \
  "-----END CERTIFICATE-----"
/* As it is written in a JSON string. */
#define CERT_JSON CERT_LINES ("\\n")
#define CERT CERT_LINES ("\n")
#define CERT_SHA1 "cb:d1:48:5d:f4:13:7f:bd:58:1b:9b:84:40:0b:2e:cb:11:86:68:fe"

/* A request as user @user (NULL: the default identity, "admin"). */
static guint
call_as (Fixture *f,
         const char *user,
         const char *method,
         const char *path,
         const char *body,
         JsonNode **reply)
{
  return nlx_test_call_full (f->session, "http://localhost", method, path,
                             body, user ? "X-User-Id" : NULL, user, reply,
                             NULL);
}

/* A fault of @status whose message holds @text. */
static void
expect_fault_saying (Fixture *f,
                     const char *user,
                     const char *method,
                     const char *path,
                     const char *body,
                     guint status,
                     const char *text)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *fault;
  GList *members;
  const char *message;

  g_test_message ("%s %s %.200s", method, path, body ? body : "");
  g_assert_cmpint (call_as (f, user, method, path, body, &reply), ==, status);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (reply));
  members = json_object_get_members (json_node_get_object (reply));
  g_assert_cmpuint (g_list_length (members), ==, 1);
  fault = json_object_get_object_member (json_node_get_object (reply),
                                         members->data);
  g_list_free (members);
  g_assert_cmpint (json_object_get_int_member (fault, "code"), ==, status);
  message = json_object_get_string_member (fault, "message");
  if (strstr (message, text) == NULL)
    g_error ("fault “%s” does not say “%s”", message, text);
}

static JsonObject *
import_key (Fixture *f,
            const char *user,
            const char *name,
            const char *public_key,
            JsonNode **reply)
{
  g_autofree char *body = g_strdup_printf (
    "{\"keypair\": {\"name\": \"%s\", \"public_key\": \"%s\"}}", name,
    public_key);

  guint status = call_as (f, user, "POST", "/v2.1/os-keypairs", body, reply);

  /* 200 at 2.1, 201 from 2.2 (Nova's), whichever the session asks for. */
  g_assert_true (status == 200 || status == 201);
  return nlx_test_object_at (*reply, "keypair");
}

static guint
keypair_count (Fixture *f,
               const char *user)
{
  g_autoptr(JsonNode) list = NULL;

  g_assert_cmpint (call_as (f, user, "GET", "/v2.1/os-keypairs", NULL, &list),
                   ==, 200);
  return json_array_get_length (json_object_get_array_member (json_node_get_object (list),
                                                              "keypairs"));
}

/* The instance record as the daemon keeps it on disk. */
static JsonObject *
record_of (Fixture *f,
           const char *id,
           JsonNode **root)
{
  g_autofree char *path = g_strdup_printf ("%s/state/records/%s.json", f->dir,
                                           id);
  g_autoptr(GError) error = NULL;

  *root = nlx_json_parse_file (path, &error);
  g_assert_no_error (error);
  return nlx_test_object_at (*root, "instance");
}

static void
test_keypairs (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) generated = NULL;
  g_autofree char *file = g_build_filename (f->dir, "state", "keypairs.json",
                                            NULL);
  g_autofree char *stored = NULL;
  g_autofree char *long_name = g_strnfill (256, 'k');
  g_autofree char *long_name_body = NULL;
  JsonObject *keypair, *item;
  JsonArray *keypairs;
  const char *private_key;

  g_assert_cmpuint (keypair_count (f, NULL), ==, 0);

  /* Imported: Nova's fingerprint (MD5 of the blob), no private key. */
  keypair = import_key (f, NULL, "alice key_1-x", KEY_ED25519, &reply);
  g_assert_cmpstr (json_object_get_string_member (keypair, "name"), ==, "alice key_1-x");
  g_assert_cmpstr (json_object_get_string_member (keypair, "public_key"), ==, KEY_ED25519);
  g_assert_cmpstr (json_object_get_string_member (keypair, "fingerprint"), ==, KEY_ED25519_MD5);
  g_assert_cmpstr (json_object_get_string_member (keypair, "user_id"), ==, "admin");
  g_assert_false (json_object_has_member (keypair, "private_key"));
  g_clear_pointer (&reply, json_node_unref);
  keypair = import_key (f, NULL, "rsa", KEY_RSA "\\n", &reply);
  g_assert_cmpstr (json_object_get_string_member (keypair, "public_key"), ==, KEY_RSA);
  g_assert_cmpstr (json_object_get_string_member (keypair, "fingerprint"), ==, KEY_RSA_MD5);
  g_clear_pointer (&reply, json_node_unref);
  keypair = import_key (f, NULL, "ec", KEY_ECDSA, &reply);
  g_assert_cmpstr (json_object_get_string_member (keypair, "fingerprint"), ==, KEY_ECDSA_MD5);

  /* The list, in Nova's shape, by name. */
  g_assert_cmpint (call_as (f, NULL, "GET", "/v2.1/os-keypairs", NULL, &list), ==, 200);
  keypairs = json_object_get_array_member (json_node_get_object (list), "keypairs");
  g_assert_cmpuint (json_array_get_length (keypairs), ==, 3);
  item = nlx_test_object_at (json_array_get_element (keypairs, 0), "keypair");
  g_assert_cmpstr (json_object_get_string_member (item, "name"), ==, "alice key_1-x");
  g_assert_cmpstr (json_object_get_string_member (item, "fingerprint"), ==, KEY_ED25519_MD5);
  g_assert_cmpuint (json_object_get_size (item), ==, 3);

  /* One, with the database fields Nova shows. */
  g_assert_cmpint (call_as (f, NULL, "GET", "/v2.1/os-keypairs/alice%20key_1-x", NULL,
                            &shown), ==, 200);
  item = nlx_test_object_at (shown, "keypair");
  g_assert_cmpstr (json_object_get_string_member (item, "public_key"), ==, KEY_ED25519);
  g_assert_cmpstr (json_object_get_string_member (item, "user_id"), ==, "admin");
  g_assert_cmpint (json_object_get_int_member (item, "id"), >, 0);
  g_assert_false (json_object_get_boolean_member (item, "deleted"));
  g_assert_true (json_object_get_null_member (item, "deleted_at"));
  g_assert_true (json_object_has_member (item, "created_at"));

  /* Refused, and nothing made. */
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"rsa\", \"public_key\": \"" KEY_ECDSA "\"}}",
                       409, "Key pair 'rsa' already exists.");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"rsa\"}}",
                       409, "Key pair 'rsa' already exists.");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b1\", \"public_key\": \"ssh-ed25519 not*base64 x\"}}",
                       400, "not the base64 of a ssh-ed25519 key");
  /* An RSA blob under the ed25519 label. */
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b2\", \"public_key\": \"ssh-ed25519 "
                       "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDdusKRs15tHl9WOB9VFh5I0Q299FY8KzkObTMmRVHkmNYKnH9PJ/9PejkrgAhLr9TmXM8+KnKlKplboIHyUAaZdcDWYeUQOEJKGonwEgotJeGTXtB7G+h9DiQzXDoIR3mw39J7nVvWakIg2553LzB6PuW6oSYpzOUdDhKGAM/oXQ==\"}}",
                       400, "not the base64 of a ssh-ed25519 key");
  /* A blob cut short. */
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b3\", \"public_key\": \"ssh-ed25519 "
                       "AAAAC3NzaC1lZDI1NTE5AAAAIEOhR3s2cPaL1vcn6LMdlHkjYQk/O4Zpd6TzNR0S\"}}",
                       400, "not the base64");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b4\", \"public_key\": \"ssh-dss AAAAB3NzaC1kc3M=\"}}",
                       400, "key type “ssh-dss” is not one of");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b5\", \"public_key\": \"" KEY_ED25519 "\\n" KEY_RSA "\"}}",
                       400, "one OpenSSH line");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b6\", \"public_key\": \"\"}}",
                       400, "one OpenSSH line");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"a/b\", \"public_key\": \"" KEY_ED25519 "\"}}",
                       400, "a key pair name is 1 to 255");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"\", \"public_key\": \"" KEY_ED25519 "\"}}",
                       400, "a key pair name is 1 to 255");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"..\", \"public_key\": \"" KEY_ED25519 "\"}}",
                       400, "a key pair name is 1 to 255");
  long_name_body = g_strdup_printf ("{\"keypair\": {\"name\": \"%s\"}}", long_name);
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs", long_name_body, 400,
                       "a key pair name is 1 to 255");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"x\", \"type\": \"ssh\"}}", 400,
                       "“type” was unexpected");
  expect_fault_saying (f, NULL, "PUT", "/v2.1/os-keypairs", "{}", 405, "GET or POST");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs/rsa", "{}", 405, "GET or DELETE");
  g_assert_cmpuint (keypair_count (f, NULL), ==, 3);

  /* Generated: the private key is in the answer once, never on disk. */
  g_assert_cmpint (call_as (f, NULL, "POST", "/v2.1/os-keypairs",
                            "{\"keypair\": {\"name\": \"gen\"}}", &generated), ==, 200);
  keypair = nlx_test_object_at (generated, "keypair");
  private_key = json_object_get_string_member (keypair, "private_key");
  g_assert_true (g_str_has_prefix (private_key, "-----BEGIN RSA PRIVATE KEY-----"));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (keypair, "public_key"),
                                   "ssh-rsa "));
  g_assert_true (g_str_has_suffix (json_object_get_string_member (keypair, "public_key"),
                                   " Generated-by-Nova"));
  g_clear_pointer (&shown, json_node_unref);
  g_assert_cmpint (call_as (f, NULL, "GET", "/v2.1/os-keypairs/gen", NULL, &shown), ==, 200);
  g_assert_false (json_object_has_member (nlx_test_object_at (shown, "keypair"),
                                          "private_key"));
  g_assert_true (g_file_get_contents (file, &stored, NULL, NULL));
  g_assert_null (strstr (stored, "PRIVATE"));
  g_assert_nonnull (strstr (stored, "\"gen\""));

  /* Another user's key pairs are their own. */
  g_assert_cmpuint (keypair_count (f, "bob"), ==, 0);
  expect_fault_saying (f, "bob", "GET", "/v2.1/os-keypairs/rsa", NULL, 404,
                       "Keypair rsa not found for user bob");
  expect_fault_saying (f, "bob", "DELETE", "/v2.1/os-keypairs/rsa", NULL, 404,
                       "Keypair rsa not found for user bob");
  g_clear_pointer (&reply, json_node_unref);
  keypair = import_key (f, "bob", "rsa", KEY_ECDSA, &reply);
  g_assert_cmpstr (json_object_get_string_member (keypair, "user_id"), ==, "bob");
  g_assert_cmpuint (keypair_count (f, "bob"), ==, 1);
  g_assert_cmpuint (keypair_count (f, NULL), ==, 4);
  /* A user id the file could not keep (as an instance's: 1 to 255). */
  {
    g_autofree char *long_user = g_strnfill (256, 'u');

    expect_fault_saying (f, long_user, "POST", "/v2.1/os-keypairs",
                         "{\"keypair\": {\"name\": \"x\", \"public_key\": \"" KEY_ED25519 "\"}}",
                         400, "the user id (X-User-Id) must be 1 to 255");
    expect_fault_saying (f, long_user, "POST", "/v2.1/os-keypairs",
                         "{\"keypair\": {\"name\": \"x\"}}",
                         400, "the user id (X-User-Id) must be 1 to 255");
  }

  /* They outlive the daemon. */
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_assert_cmpuint (keypair_count (f, NULL), ==, 4);
  g_clear_pointer (&shown, json_node_unref);
  g_assert_cmpint (call_as (f, "bob", "GET", "/v2.1/os-keypairs/rsa", NULL, &shown), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (nlx_test_object_at (shown, "keypair"),
                                                  "fingerprint"), ==, KEY_ECDSA_MD5);

  /* Deleted: 202, as Nova 2.1; then gone, for its owner only. */
  g_assert_cmpint (call_as (f, NULL, "DELETE", "/v2.1/os-keypairs/rsa", NULL, NULL), ==, 202);
  expect_fault_saying (f, NULL, "GET", "/v2.1/os-keypairs/rsa", NULL, 404,
                       "Keypair rsa not found for user admin");
  expect_fault_saying (f, NULL, "DELETE", "/v2.1/os-keypairs/rsa", NULL, 404, "not found");
  g_assert_cmpuint (keypair_count (f, NULL), ==, 3);
  g_assert_cmpuint (keypair_count (f, "bob"), ==, 1);
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_assert_cmpuint (keypair_count (f, NULL), ==, 3);

  /* A damaged file stops the daemon, naming it, rather than losing
   * every key pair at the next write. */
  nlx_test_daemon_stop (&f->daemon);
  g_assert_true (g_file_set_contents (file, "{\"keypairs\": [{\"name\": 1}]}", -1, NULL));
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_error (f->daemon.start_error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
  g_assert_nonnull (strstr (f->daemon.start_error->message, file));
  nlx_test_daemon_stop (&f->daemon);
  g_assert_true (g_file_set_contents (file, stored, -1, NULL));
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_assert_cmpuint (keypair_count (f, NULL), ==, 4);
}

/* What "openssl x509 @option -noout" says of @pem, without its
 * "NAME=" prefix, in lower case. */
static char *
openssl_x509 (const char *pem,
              const char *option)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  const char *value;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                              G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                              "openssl", "x509", "-noout", option,
                              option[1] == 'f' ? "-sha1" : NULL, NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, pem, NULL, &out,
                                                NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (process));
  value = strchr (out, '=');
  g_assert_nonnull (value);
  return g_ascii_strdown (g_strstrip (g_strdup (value + 1)), -1);
}

static const char *
keypair_string (JsonNode *reply,
                const char *member)
{
  return json_object_get_string_member (nlx_test_object_at (reply, "keypair"),
                                        member);
}

/* Nova's x509 key pairs (2.2+): generated (an RSA key and a self-signed
 * certificate), imported (a PEM certificate), fingerprinted with SHA-1
 * of the DER, kept with their type. */
static void
test_x509 (Fixture *f,
           gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) generated = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *file = g_build_filename (f->dir, "state", "keypairs.json",
                                            NULL);
  g_autofree char *stored = NULL;
  const char *public_key;
  JsonArray *keypairs;

  nlx_test_session_set_version (f->session, "2.2");

  /* Generated: a certificate for the caller, its fingerprint openssl's. */
  g_assert_cmpint (call_as (f, NULL, "POST", "/v2.1/os-keypairs",
                            "{\"keypair\": {\"name\": \"win\", \"type\": \"x509\"}}",
                            &generated), ==, 201);
  public_key = keypair_string (generated, "public_key");
  g_assert_true (g_str_has_prefix (public_key, "-----BEGIN CERTIFICATE-----\n"));
  g_assert_true (g_str_has_suffix (public_key, "-----END CERTIFICATE-----"));
  g_assert_true (g_str_has_prefix (keypair_string (generated, "private_key"),
                                   "-----BEGIN PRIVATE KEY-----"));
  g_assert_cmpstr (keypair_string (generated, "type"), ==, "x509");
  fingerprint = openssl_x509 (public_key, "-fingerprint");
  g_assert_cmpstr (keypair_string (generated, "fingerprint"), ==, fingerprint);
  subject = openssl_x509 (public_key, "-subject");
  g_assert_cmpstr (subject, ==, "cn = admin");

  /* Imported, with CRLF lines too. */
  g_assert_cmpint (call_as (f, NULL, "POST", "/v2.1/os-keypairs",
                            "{\"keypair\": {\"name\": \"cert\", \"type\": \"x509\", "
                            "\"public_key\": \"" CERT_JSON "\\n\"}}", &reply), ==, 201);
  g_assert_cmpstr (keypair_string (reply, "public_key"), ==, CERT);
  g_assert_cmpstr (keypair_string (reply, "fingerprint"), ==, CERT_SHA1);
  g_assert_cmpstr (keypair_string (reply, "type"), ==, "x509");
  g_assert_false (json_object_has_member (nlx_test_object_at (reply, "keypair"),
                                          "private_key"));
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_as (f, NULL, "POST", "/v2.1/os-keypairs",
                            "{\"keypair\": {\"name\": \"crlf\", \"type\": \"x509\", "
                            "\"public_key\": \"" CERT_LINES ("\\r\\n") "\"}}", &reply), ==, 201);
  g_assert_cmpstr (keypair_string (reply, "fingerprint"), ==, CERT_SHA1);
  g_clear_pointer (&reply, json_node_unref);
  import_key (f, NULL, "ssh", KEY_ED25519, &reply);
  g_assert_cmpuint (keypair_count (f, NULL), ==, 4);

  /* Refused, and nothing made: not a certificate, or the wrong type. */
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b1\", \"type\": \"x509\", "
                       "\"public_key\": \"" KEY_ED25519 "\"}}", 400, "one PEM certificate");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b2\", \"type\": \"x509\", "
                       "\"public_key\": \"-----BEGIN CERTIFICATE-----\\nMIIBfjCCASOgAwIB"
                       "\\n-----END CERTIFICATE-----\"}}", 400, "one PEM certificate");
  /* A key's PEM (a SEQUENCE, but not a certificate's). */
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b3\", \"type\": \"x509\", "
                       "\"public_key\": \"-----BEGIN CERTIFICATE-----\\n"
                       "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="
                       "\\n-----END CERTIFICATE-----\"}}", 400, "one PEM certificate");
  /* Two certificates. */
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b4\", \"type\": \"x509\", "
                       "\"public_key\": \"" CERT_JSON "\\n" CERT_JSON "\"}}",
                       400, "one PEM certificate");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b5\", \"public_key\": \"" CERT_JSON "\"}}",
                       400, "one OpenSSH line");
  expect_fault_saying (f, NULL, "POST", "/v2.1/os-keypairs",
                       "{\"keypair\": {\"name\": \"b6\", \"type\": \"rsa\"}}",
                       400, "is not one of ['ssh', 'x509']");
  g_assert_cmpuint (keypair_count (f, NULL), ==, 4);

  /* Listed and shown with their types. */
  g_assert_cmpint (call_as (f, NULL, "GET", "/v2.1/os-keypairs", NULL, &list), ==, 200);
  keypairs = json_object_get_array_member (json_node_get_object (list), "keypairs");
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (json_array_get_element (keypairs, 0), "keypair"),
                     "type"), ==, "x509");
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (json_array_get_element (keypairs, 2), "keypair"),
                     "type"), ==, "ssh");
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_as (f, NULL, "GET", "/v2.1/os-keypairs/win", NULL, &reply), ==, 200);
  g_assert_cmpstr (keypair_string (reply, "type"), ==, "x509");
  g_assert_cmpstr (keypair_string (reply, "fingerprint"), ==, fingerprint);
  g_assert_false (json_object_has_member (nlx_test_object_at (reply, "keypair"),
                                          "private_key"));

  /* 2.92: a certificate must be given too (the session's version is
   * its first: this one request asks for its own). */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "POST",
                                       "/v2.1/os-keypairs",
                                       "{\"keypair\": {\"name\": \"gen\", \"type\": \"x509\"}}",
                                       "OpenStack-API-Version", "compute 2.92",
                                       &reply, NULL), ==, 400);
  g_assert_nonnull (strstr (json_object_get_string_member (
                              nlx_test_object_at (reply, "badRequest"), "message"),
                            "'public_key' is a required property"));
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "POST",
                                       "/v2.1/os-keypairs",
                                       "{\"keypair\": {\"name\": \"c@92\", \"type\": \"x509\", "
                                       "\"public_key\": \"" CERT_JSON "\"}}",
                                       "OpenStack-API-Version", "compute 2.92",
                                       &reply, NULL), ==, 201);
  g_assert_cmpstr (keypair_string (reply, "type"), ==, "x509");
  g_assert_cmpuint (keypair_count (f, NULL), ==, 5);

  /* Kept with the type, across a restart; the private key is not. */
  g_assert_true (g_file_get_contents (file, &stored, NULL, NULL));
  g_assert_null (strstr (stored, "PRIVATE"));
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_as (f, NULL, "GET", "/v2.1/os-keypairs/cert", NULL, &reply), ==, 200);
  g_assert_cmpstr (keypair_string (reply, "type"), ==, "x509");
  g_assert_cmpstr (keypair_string (reply, "fingerprint"), ==, CERT_SHA1);

  /* A file from before types: every key pair in it is ssh. */
  nlx_test_daemon_stop (&f->daemon);
  g_assert_true (g_file_set_contents (file,
    "{\"keypairs\": [{\"id\": 7, \"user_id\": \"admin\", \"name\": \"old\", "
    "\"public_key\": \"" KEY_RSA "\", \"created_at\": \"2025-01-02T03:04:05Z\"}]}",
    -1, NULL));
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (call_as (f, NULL, "GET", "/v2.1/os-keypairs/old", NULL, &reply), ==, 200);
  g_assert_cmpstr (keypair_string (reply, "type"), ==, "ssh");
  g_assert_cmpstr (keypair_string (reply, "fingerprint"), ==, KEY_RSA_MD5);
  g_assert_cmpuint (keypair_count (f, NULL), ==, 1);

  /* A type it does not know stops the daemon, naming the file. */
  nlx_test_daemon_stop (&f->daemon);
  g_assert_true (g_file_set_contents (file,
    "{\"keypairs\": [{\"id\": 7, \"user_id\": \"admin\", \"name\": \"old\", "
    "\"type\": \"dsa\", \"public_key\": \"" KEY_RSA "\", "
    "\"created_at\": \"2025-01-02T03:04:05Z\"}]}", -1, NULL));
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_error (f->daemon.start_error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID);
  g_assert_nonnull (strstr (f->daemon.start_error->message, "“x509”"));
  nlx_test_daemon_stop (&f->daemon);
  g_assert_true (g_file_set_contents (file, stored, -1, NULL));
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
}

/* At 2.37 and later, a create names its networks. */
#define CREATE_BODY_AUTO(extra) CREATE_BODY (", \"networks\": \"auto\"" extra)

/* user_data, key_name, hostname and config_drive at create: kept in the
 * record, shown as Nova 2.1 shows them, refused when wrong with nothing
 * made. */
static void
test_boot_config (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) record = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *id = NULL;
  g_autofree char *plain = NULL;
  g_autofree char *huge = NULL;
  g_autofree char *huge_body = NULL;
  g_autofree char *path = NULL;
  JsonObject *instance, *server;
  guint before;

  /* hostname is Nova 2.90's. */
  nlx_test_session_set_version (f->session, "2.90");
  import_key (f, NULL, "k1", KEY_ED25519, &reply);
  g_clear_pointer (&reply, json_node_unref);
  import_key (f, "bob", "bobs", KEY_RSA, &reply);

  /* base64 wrapped as base64(1) wraps it; "true" as Nova takes it. */
  id = nlx_test_create (f->session, "Web Server_1", "test-image",
                        ", \"user_data\": \"IyEvYmluL3NoCmVjaG8g\\naGkK\", "
                        "\"key_name\": \"k1\", \"hostname\": \"My-Host-1\", "
                        "\"config_drive\": \"true\"");
  instance = record_of (f, id, &record);
  g_assert_cmpstr (json_object_get_string_member (instance, "user_data"), ==,
                   "IyEvYmluL3NoCmVjaG8gaGkK");
  g_assert_cmpstr (json_object_get_string_member (instance, "key_name"), ==, "k1");
  g_assert_cmpstr (json_object_get_string_member (instance, "key_data"), ==, KEY_ED25519);
  g_assert_cmpstr (json_object_get_string_member (instance, "hostname"), ==, "my-host-1");
  g_assert_true (json_object_get_boolean_member (instance, "config_drive"));
  path = g_strconcat ("/v2.1/servers/", id, NULL);
  g_assert_cmpint (nlx_test_call_full (f->session, "http://localhost", "GET",
                                       path, NULL, "OpenStack-API-Version",
                                       "compute 2.1", &shown, NULL), ==, 200);
  server = nlx_test_object_at (shown, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "key_name"), ==, "k1");
  g_assert_cmpstr (json_object_get_string_member (server, "config_drive"), ==, "True");
  /* Not in Nova 2.1's server: its schema forbids them. */
  g_assert_false (json_object_has_member (server, "OS-EXT-SRV-ATTR:hostname"));
  g_assert_false (json_object_has_member (server, "OS-EXT-SRV-ATTR:user_data"));
  g_assert_false (json_object_has_member (server, "key_data"));

  /* Without them: the host name from the name, as Nova sanitises it. */
  plain = nlx_test_create (f->session, "Web Server_1", "test-image",
                           ", \"config_drive\": false");
  g_clear_pointer (&record, json_node_unref);
  instance = record_of (f, plain, &record);
  g_assert_cmpstr (json_object_get_string_member (instance, "hostname"), ==, "web-server-1");
  g_assert_false (json_object_has_member (instance, "user_data"));
  g_assert_false (json_object_has_member (instance, "key_name"));
  g_assert_false (json_object_has_member (instance, "config_drive"));
  g_clear_pointer (&shown, json_node_unref);
  shown = nlx_test_show (f->session, plain);
  server = nlx_test_object_at (shown, "server");
  g_assert_true (json_object_get_null_member (server, "key_name"));
  g_assert_cmpstr (json_object_get_string_member (server, "config_drive"), ==, "");

  /* Refused with Nova's messages; nothing made. */
  before = server_count (f);
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"user_data\": \"not base64!\""), 400,
                       "user_data: it is not base64");
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"user_data\": \"abc\""), 400,
                       "user_data: it is not base64");
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"user_data\": \"ab=c\""), 400,
                       "user_data: it is not base64");
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"user_data\": 12"), 400, "must be a string");
  huge = g_strnfill (65536, 'A');
  huge_body = g_strdup_printf (CREATE_BODY_AUTO (", \"user_data\": \"%s\""), huge);
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers", huge_body, 400,
                       "65536 characters long, more than the 65535 allowed");
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"key_name\": \"nope\""), 400,
                       "Invalid key_name provided.");
  /* bob's key pair is not admin's. */
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"key_name\": \"bobs\""), 400,
                       "Invalid key_name provided.");
  expect_fault_saying (f, "bob", "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"key_name\": \"k1\""), 400,
                       "Invalid key_name provided.");
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"hostname\": \"-bad\""), 400,
                       "hostname: “-bad” is not a host name");
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"hostname\": \"a\""), 400, "is not a host name");
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"hostname\": \"a_b.example\""), 400,
                       "is not a host name");
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"config_drive\": \"maybe\""), 400,
                       "config_drive: it must be true or false");
  expect_fault_saying (f, NULL, "POST", "/v2.1/servers",
                       CREATE_BODY_AUTO (", \"config_drive\": 1"), 400,
                       "config_drive: it must be true or false");
  g_assert_cmpuint (server_count (f), ==, before);

  /* Another user may use their own. */
  {
    g_autoptr(JsonNode) made = NULL;
    g_autoptr(JsonNode) bobs_record = NULL;
    const char *bobs_id;

    g_assert_cmpint (call_as (f, "bob", "POST", "/v2.1/servers",
                              CREATE_BODY_AUTO (", \"key_name\": \"bobs\""), &made), ==, 202);
    bobs_id = json_object_get_string_member (nlx_test_object_at (made, "server"), "id");
    g_assert_cmpstr (json_object_get_string_member (record_of (f, bobs_id, &bobs_record),
                                                    "key_data"), ==, KEY_RSA);
    nlx_test_wait_for_status (f->session, bobs_id, "ACTIVE");
    nlx_test_delete_and_wait (f->session, bobs_id);
  }

  /* Deleting the key pair leaves the server its copy, as in Nova; the
   * record outlives the daemon. */
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  /* The session asks for 2.90: Nova's 204 (202 was 2.1's). */
  g_assert_cmpint (call_as (f, NULL, "DELETE", "/v2.1/os-keypairs/k1", NULL, NULL), ==, 204);
  nlx_test_daemon_stop (&f->daemon);
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  g_clear_pointer (&record, json_node_unref);
  instance = record_of (f, id, &record);
  g_assert_cmpstr (json_object_get_string_member (instance, "key_data"), ==, KEY_ED25519);
  g_assert_cmpstr (json_object_get_string_member (instance, "hostname"), ==, "my-host-1");
  g_clear_pointer (&shown, json_node_unref);
  shown = nlx_test_show (f->session, id);
  server = nlx_test_object_at (shown, "server");
  g_assert_cmpstr (json_object_get_string_member (server, "key_name"), ==, "k1");
  g_assert_cmpstr (json_object_get_string_member (server, "config_drive"), ==, "True");
  nlx_test_delete_and_wait (f->session, id);
  nlx_test_wait_for_status (f->session, plain, "ERROR");
  nlx_test_delete_and_wait (f->session, plain);
}

/* Rebuild changes user_data and key_name as Nova 2.54/2.57: given, they
 * replace; null removes; left out, they stay. */
static void
test_rebuild_boot_config (Fixture *f,
                          gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) record = NULL;
  g_autofree char *id = NULL;
  g_autofree char *action = NULL;
  JsonObject *instance;

  /* key_name is Nova 2.54's at rebuild, user_data 2.57's, hostname
   * 2.90's. */
  nlx_test_session_set_version (f->session, "2.90");
  import_key (f, NULL, "k1", KEY_ED25519, &reply);
  g_clear_pointer (&reply, json_node_unref);
  import_key (f, NULL, "k2", KEY_ECDSA, &reply);
  id = nlx_test_create (f->session, "rebuilt", "test-image",
                        ", \"user_data\": \"YQ==\", \"key_name\": \"k1\", "
                        "\"config_drive\": true");
  action = g_strconcat ("/v2.1/servers/", id, "/action", NULL);
  nlx_test_wait_for_status (f->session, id, "ACTIVE");

  nlx_test_act_and_wait (f->session, id,
                         "{\"rebuild\": {\"imageRef\": \"test-image\", "
                         "\"user_data\": \"Yg==\", \"key_name\": \"k2\", "
                         "\"hostname\": \"renamed\"}}", "rebuilding", "ACTIVE");
  instance = record_of (f, id, &record);
  g_assert_cmpstr (json_object_get_string_member (instance, "user_data"), ==, "Yg==");
  g_assert_cmpstr (json_object_get_string_member (instance, "key_name"), ==, "k2");
  g_assert_cmpstr (json_object_get_string_member (instance, "key_data"), ==, KEY_ECDSA);
  g_assert_cmpstr (json_object_get_string_member (instance, "hostname"), ==, "renamed");
  g_assert_true (json_object_get_boolean_member (instance, "config_drive"));

  /* Left out, they stay. */
  nlx_test_act_and_wait (f->session, id,
                         "{\"rebuild\": {\"imageRef\": \"test-image\"}}",
                         "rebuilding", "ACTIVE");
  g_clear_pointer (&record, json_node_unref);
  instance = record_of (f, id, &record);
  g_assert_cmpstr (json_object_get_string_member (instance, "user_data"), ==, "Yg==");
  g_assert_cmpstr (json_object_get_string_member (instance, "key_name"), ==, "k2");

  /* Refused, the record unchanged. */
  expect_fault_saying (f, NULL, "POST", action,
                       "{\"rebuild\": {\"imageRef\": \"test-image\", \"key_name\": \"nope\"}}",
                       400, "Invalid key_name provided.");
  expect_fault_saying (f, NULL, "POST", action,
                       "{\"rebuild\": {\"imageRef\": \"test-image\", \"user_data\": \"%%%\"}}",
                       400, "user_data: it is not base64");
  expect_fault_saying (f, NULL, "POST", action,
                       "{\"rebuild\": {\"imageRef\": \"test-image\", \"config_drive\": true}}",
                       400, "“config_drive” was unexpected");
  g_clear_pointer (&record, json_node_unref);
  instance = record_of (f, id, &record);
  g_assert_cmpstr (json_object_get_string_member (instance, "user_data"), ==, "Yg==");
  g_assert_cmpstr (json_object_get_string_member (instance, "key_name"), ==, "k2");

  /* null removes them. */
  nlx_test_act_and_wait (f->session, id,
                         "{\"rebuild\": {\"imageRef\": \"test-image\", "
                         "\"user_data\": null, \"key_name\": null}}",
                         "rebuilding", "ACTIVE");
  g_clear_pointer (&record, json_node_unref);
  instance = record_of (f, id, &record);
  g_assert_false (json_object_has_member (instance, "user_data"));
  g_assert_false (json_object_has_member (instance, "key_name"));
  g_assert_false (json_object_has_member (instance, "key_data"));
  g_assert_cmpstr (json_object_get_string_member (instance, "hostname"), ==, "renamed");
  g_clear_pointer (&reply, json_node_unref);
  reply = nlx_test_show (f->session, id);
  g_assert_true (json_object_get_null_member (nlx_test_object_at (reply, "server"),
                                              "key_name"));
  nlx_test_delete_and_wait (f->session, id);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The Compute API and the manager, over HTTP, on the fake "
                  "driver: key pairs and the boot-time configuration servers "
                  "are created and rebuilt with.");
  /* Failed operations are logged as warnings, and some tests fail them
   * on purpose. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);

#define ADD(path, func, config) \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
  ADD ("/nlx/api/keypairs", test_keypairs, NULL);
  ADD ("/nlx/api/keypairs/x509", test_x509, NULL);
  ADD ("/nlx/api/servers/boot-config", test_boot_config, NULL);
  ADD ("/nlx/api/servers/rebuild-boot-config", test_rebuild_boot_config, NULL);
#undef ADD

  return g_test_run ();
}
