/* test-metadata-service.c: who the metadata service takes a caller for,
 * on the fake driver, over loopback
 *
 * The daemon's layers and the service run in a thread of their own; the
 * instances' subnet is a /24 of 127.0.0.0/8, every address of which is
 * the host's own, so a test can call from any instance's address (bind
 * its socket there) without a bridge, a container or root.  What stops
 * a forged source address on a real bridge is the port rules, tested in
 * tests/functional/test-metadata. */
#include "config.h"

#include <string.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "api/nlx-api.h"
#include "api/nlx-metadata-service.h"
#include "common/nlx-file.h"
#include "host/nlx-network.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-daemon.h"
#include "lib/nlx-test-tools.h"

#define SUBNET "127.77.0"
#define BRIDGE "nlxmdtest0"

typedef struct {
  char *dir;
  char *socket;
  char *config_text;
  NlxTestDaemon daemon;
  SoupSession *session;
} Fixture;

static void
fixture_set_up (Fixture *f,
                gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *image = NULL;

  f->dir = g_dir_make_tmp ("nlx-test-mdservice-XXXXXX", &error);
  g_assert_no_error (error);
  f->socket = g_build_filename (f->dir, "compute.sock", NULL);
  image = g_build_filename (f->dir, "image", NULL);
  g_assert_cmpint (g_mkdir (image, 0755), ==, 0);
  f->config_text = g_strdup_printf (
    "[DEFAULT]\ncompute_driver = fake\nstate_path = %s/state\n"
    "[api]\nsocket = %s\n[fake]\ndelay_ms = 1\n"
    "[image test-image]\npath = %s\n"
    "[network]\nbridge = " BRIDGE "\ncidr = " SUBNET ".0/24\n",
    f->dir, f->socket, image);
  nlx_test_daemon_init (&f->daemon);
  f->daemon.metadata_bridge = BRIDGE;
  f->daemon.metadata_address = SUBNET ".1";
  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);
  address = g_unix_socket_address_new (f->socket);
  f->session = soup_session_new_with_options ("remote-connectable", address,
                                              NULL);
}

static void
fixture_tear_down (Fixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  nlx_test_daemon_clear (&f->daemon);
  g_clear_object (&f->session);
  g_assert_true (nlx_file_remove_tree (f->dir, NULL));
  g_free (f->dir);
  g_free (f->socket);
  g_free (f->config_text);
}

/* Sends @request to the service from @source and returns the whole
 * answer (the service closes after one). */
static char *
ask (Fixture *f,
     const char *source,
     const char *request)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4,
                                            G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GInetAddress) from = g_inet_address_new_from_string (source);
  g_autoptr(GInetAddress) to = g_inet_address_new_from_string (SUBNET ".1");
  g_autoptr(GSocketAddress) local = g_inet_socket_address_new (from, 0);
  g_autoptr(GSocketAddress) remote = g_inet_socket_address_new (to, f->daemon.metadata_port);
  GString *answer = g_string_new (NULL);
  char buffer[4096];
  gssize got;

  g_assert_no_error (error);
  g_socket_set_timeout (socket, 10);
  g_socket_bind (socket, local, FALSE, &error);
  g_assert_no_error (error);
  g_socket_connect (socket, remote, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_socket_send (socket, request, strlen (request), NULL,
                                  &error), ==, (gssize) strlen (request));
  g_assert_no_error (error);
  while ((got = g_socket_receive (socket, buffer, sizeof buffer, NULL,
                                  &error)) > 0)
    g_string_append_len (answer, buffer, got);
  g_assert_no_error (error);
  return g_string_free (answer, FALSE);
}

static char *
address_of (Fixture *f,
            const char *id)
{
  g_autoptr(JsonNode) reply = nlx_test_show (f->session, id);
  JsonObject *addresses = json_object_get_object_member (
    nlx_test_object_at (reply, "server"), "addresses");
  JsonArray *list = json_object_get_array_member (addresses, BRIDGE);

  return g_strdup (json_object_get_string_member (
    json_array_get_object_element (list, 0), "addr"));
}

#define GET_META "GET /openstack/latest/meta_data.json HTTP/1.1\r\n" \
                 "Host: 169.254.169.254\r\n"

/* The caller is the instance with its source address, whatever it
 * claims; any other address is no caller; only GET and HEAD. */
static void
test_identity (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *a = nlx_test_create (f->session, "md-a", "test-image", NULL);
  g_autofree char *b = NULL;
  g_autofree char *a_address = NULL;
  g_autofree char *b_address = NULL;
  g_autofree char *answer = NULL;
  g_autofree char *claim = NULL;

  nlx_test_wait_for_status (f->session, a, "ACTIVE");
  b = nlx_test_create (f->session, "md-b", "test-image", NULL);
  nlx_test_wait_for_status (f->session, b, "ACTIVE");
  a_address = address_of (f, a);
  b_address = address_of (f, b);
  g_assert_true (g_str_has_prefix (a_address, SUBNET "."));
  g_assert_cmpstr (a_address, !=, b_address);

  answer = ask (f, a_address, GET_META "\r\n");
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200"));
  g_assert_nonnull (strstr (answer, "Content-Type: application/json"));
  g_assert_nonnull (strstr (answer, a));
  g_assert_null (strstr (answer, b));
  g_clear_pointer (&answer, g_free);

  /* A names B every way a proxy would. */
  claim = g_strdup_printf (GET_META "X-Forwarded-For: %s\r\n"
                           "X-Instance-ID: %s\r\nX-Real-IP: %s\r\n"
                           "Forwarded: for=%s\r\n\r\n",
                           b_address, b, b_address, b_address);
  answer = ask (f, a_address, claim);
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200"));
  g_assert_nonnull (strstr (answer, a));
  g_assert_null (strstr (answer, b));
  g_clear_pointer (&answer, g_free);

  answer = ask (f, b_address, GET_META "\r\n");
  g_assert_nonnull (strstr (answer, b));
  g_assert_null (strstr (answer, a));
  g_clear_pointer (&answer, g_free);

  /* An address no instance holds (the gateway, or a free one), even
   * claiming to be A. */
  g_clear_pointer (&claim, g_free);
  claim = g_strdup_printf (GET_META "X-Instance-ID: %s\r\n"
                           "X-Forwarded-For: %s\r\n\r\n", a, a_address);
  answer = ask (f, SUBNET ".200", claim);
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 404"));
  g_assert_null (strstr (answer, a));
  g_clear_pointer (&answer, g_free);
  answer = ask (f, SUBNET ".1", claim);
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 404"));
  g_clear_pointer (&answer, g_free);

  answer = ask (f, a_address, "POST /openstack/latest/meta_data.json "
                "HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 405"));
  g_assert_nonnull (strstr (answer, "Allow: GET, HEAD"));
  g_clear_pointer (&answer, g_free);
  answer = ask (f, a_address, "HEAD /openstack/latest/meta_data.json "
                "HTTP/1.1\r\nHost: x\r\n\r\n");
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200"));
  g_assert_null (strstr (answer, a));
  g_clear_pointer (&answer, g_free);
  answer = ask (f, a_address, "GET /no/such/path HTTP/1.1\r\nHost: x\r\n\r\n");
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 404"));
  g_clear_pointer (&answer, g_free);

  /* Deleted, A's address is no caller any more. */
  nlx_test_delete_and_wait (f->session, a);
  answer = ask (f, a_address, GET_META "\r\n");
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 404"));
  g_assert_null (strstr (answer, a));
}

/* The heap in use once the daemon's thread is idle: the least of a few
 * looks, since a look may catch it in the middle of something (a
 * request's 64 KiB header buffer, a periodic sync). */
static gsize
settled_heap (void)
{
  gsize least = G_MAXSIZE;

  for (guint i = 0; i < 10; i++)
    {
      least = MIN (least, nlx_test_heap_in_use ());
      g_usleep (G_USEC_PER_SEC / 50);
    }
  return least;
}

/* Requests leave nothing behind in the daemon: no descriptor, and no
 * heap beyond the shared slack (so less than 33 bytes a request).  The
 * heap is the whole process's, the test's side included. */
static void
test_no_leak (Fixture *f,
              gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *a = nlx_test_create (f->session, "md-leak", "test-image",
                                        NULL);
  g_autofree char *address = NULL;
  guint fds;
  gsize heap;
  const guint rounds = 2000;

  nlx_test_wait_for_status (f->session, a, "ACTIVE");
  address = address_of (f, a);
  for (guint i = 0; i < rounds / 10; i++)
    g_free (ask (f, address, GET_META "X-Instance-ID: x\r\n\r\n"));
  g_usleep (G_USEC_PER_SEC / 5);
  fds = nlx_test_count_fds ();
  heap = settled_heap ();
  for (guint i = 0; i < rounds; i++)
    {
      g_autofree char *answer = ask (f, i % 2 ? address : SUBNET ".250",
                                     GET_META "\r\n");

      g_assert_true (g_str_has_prefix (answer, i % 2 ? "HTTP/1.1 200"
                                                     : "HTTP/1.1 404"));
    }
  /* The daemon's thread closes its ends as the requests end. */
  for (guint i = 0; i < 50 && nlx_test_count_fds () > fds; i++)
    g_usleep (G_USEC_PER_SEC / 10);
  g_assert_cmpuint (nlx_test_count_fds (), <=, fds);
  g_assert_cmpuint (settled_heap (), <=, heap + NLX_TEST_LEAK_SLACK);
}

/* The mapping alone: only an instance on the daemon's bridge with that
 * very address. */
static void
test_find_caller (void)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (
    (GDestroyNotify) nlx_record_free);
  const struct { const char *uuid, *bridge, *address; } vifs[] = {
    { "11111111-1111-1111-1111-111111111111", "br-a", "10.0.0.2" },
    { "22222222-2222-2222-2222-222222222222", "br-b", "10.0.0.3" },
    { "33333333-3333-3333-3333-333333333333", NULL, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (vifs); i++)
    {
      NlxInstance *instance = g_new0 (NlxInstance, 1);

      instance->uuid = g_strdup (vifs[i].uuid);
      instance->name = g_strdup ("x");
      if (vifs[i].bridge != NULL)
        instance->vif = nlx_vif_new (vifs[i].bridge, "fa:16:3e:00:00:02",
                                     vifs[i].address, 24, "10.0.0.1");
      g_ptr_array_add (records, nlx_record_new (instance));
    }
  g_assert_cmpstr (nlx_metadata_service_find_caller (records, "br-a",
                                                     "10.0.0.2")->instance->uuid,
                   ==, vifs[0].uuid);
  /* Its address, but on another bridge: another daemon's instance. */
  g_assert_null (nlx_metadata_service_find_caller (records, "br-a",
                                                   "10.0.0.3"));
  g_assert_null (nlx_metadata_service_find_caller (records, "br-b",
                                                   "10.0.0.2"));
  g_assert_null (nlx_metadata_service_find_caller (records, "br-a",
                                                   "10.0.0.1"));
  g_assert_null (nlx_metadata_service_find_caller (records, "br-a",
                                                   "10.0.0.20"));
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Who the metadata service takes a caller for, on the fake "
                  "driver, over loopback.");
  g_test_add_func ("/nlx/metadata-service/find-caller", test_find_caller);
  g_test_add ("/nlx/metadata-service/identity", Fixture, NULL, fixture_set_up,
              test_identity, fixture_tear_down);
  g_test_add ("/nlx/metadata-service/no-leak", Fixture, NULL, fixture_set_up,
              test_no_leak, fixture_tear_down);
  return g_test_run ();
}
