/* nlx-api-fixture.c: a daemon on the fake driver for each test case of
 * tests/test-api-*.c, and the checks several of those programs share. */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "common/nlx-file.h"
#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"

void
fixture_set_up (Fixture *f,
                gconstpointer extra_config)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *image = NULL;

  f->dir = g_dir_make_tmp ("nlx-test-api-XXXXXX", &error);
  g_assert_no_error (error);
  f->socket = g_build_filename (f->dir, "compute.sock", NULL);
  image = g_build_filename (f->dir, "image", NULL);
  g_assert_cmpint (g_mkdir (image, 0755), ==, 0);
  f->config_text = g_strdup_printf (
    "[DEFAULT]\ncompute_driver = fake\nstate_path = %s/state\n"
    "[api]\nsocket = %s\n"
    "[fake]\ndelay_ms = %d\n"
    "[image test-image]\npath = %s\nos_shutdown_signal = SIGUSR2\n%s",
    f->dir, f->socket, DELAY_MS, image,
    extra_config ? (const char *) extra_config : "");
  nlx_test_daemon_init (&f->daemon);

  nlx_test_daemon_start (&f->daemon, f->config_text);
  g_assert_no_error (f->daemon.start_error);

  address = g_unix_socket_address_new (f->socket);
  f->session = soup_session_new_with_options ("remote-connectable", address,
                                              NULL);
}

void
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

/* Every file under @dir, by relative path, with its bytes. */
static void
read_tree (GHashTable *files,
           const char *dir,
           const char *prefix)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  if (handle == NULL)
    return;
  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *relative = g_build_filename (prefix, name, NULL);
      char *contents = NULL;

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        read_tree (files, path, relative);
      else if (g_file_get_contents (path, &contents, NULL, NULL))
        g_hash_table_insert (files, g_steal_pointer (&relative), contents);
    }
}

GHashTable *
snapshot_tree (const char *dir)
{
  GHashTable *files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             g_free);

  read_tree (files, dir, "");
  return files;
}

void
assert_same_tree (GHashTable *before,
                  GHashTable *after)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_test_message ("comparing %s", (char *) key);
      g_assert_cmpstr (g_hash_table_lookup (after, key), ==, value);
    }
  g_assert_cmpuint (g_hash_table_size (after), ==, g_hash_table_size (before));
}

/* A fault's message names nothing inside the test's directory, which
 * holds the daemon's state. */
void
assert_no_state_path (Fixture *f,
                      JsonNode *reply)
{
  g_autofree char *text = json_to_string (reply, FALSE);

  if (strstr (text, f->dir) != NULL)
    g_error ("An answer shows an internal path: %s", text);
}

/* The daemon's own count of held connections drops to @wanted within a
 * few sweeps. */
void
wait_for_connections (Fixture *f,
                      guint wanted)
{
  for (guint i = 0; i < 100 && nlx_api_count_connections (f->daemon.api) != wanted; i++)
    g_usleep (50 * 1000);
  g_assert_cmpuint (nlx_api_count_connections (f->daemon.api), ==, wanted);
}

guint
server_count (Fixture *f)
{
  g_autoptr(JsonNode) list = NULL;

  g_assert_cmpint (nlx_test_call (f->session, "GET", "/v2.1/servers", NULL, &list), ==, 200);
  return json_array_get_length (json_object_get_array_member (json_node_get_object (list),
                                                              "servers"));
}
