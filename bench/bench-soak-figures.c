/* bench-soak-figures.c: what the daemon and the host hold, as bench-soak
 * measures it, and waiting for it to settle. */
#include "config.h"

#include <libvirt/libvirt.h>
#include <string.h>
#include <unistd.h>

#include "common/nlx-error.h"

#include "nlx-bench-soak.h"

/* ---- what the daemon and the host hold ----------------------------------- */

/* Entries of @dir ending in @suffix; the others are counted in @others
 * and named on the output, once each. */
static int
count_dir (const char *dir,
           const char *suffix,
           int *others)
{
  static GHashTable *reported = NULL;
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;
  int count = 0;

  if (reported == NULL)
    reported = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  while (handle != NULL && (name = g_dir_read_name (handle)) != NULL)
    if (suffix == NULL || g_str_has_suffix (name, suffix))
      count++;
    else if (others != NULL)
      {
        (*others)++;
        if (g_hash_table_add (reported, g_build_filename (dir, name, NULL)))
          g_print ("unexpected file %s/%s\n", dir, name);
      }
  return count;
}

int
proc_status_field (GPid pid,
                   const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  g_autofree char *key = g_strdup_printf ("\n%s:", field);
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) ||
      (line = strstr (text, key)) == NULL)
    return -1;
  return (int) g_ascii_strtoll (line + strlen (key), NULL, 10);
}

int
daemon_fds (GPid pid)
{
  g_autofree char *dir = g_strdup_printf ("/proc/%d/fd", pid);

  return count_dir (dir, NULL, NULL);
}

static int
count_addresses (Soak *soak)
{
  g_autofree char *path = g_build_filename (soak->tmp_dir, "state", "network",
                                            "addresses.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *allocations;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return 0;
  if (!json_parser_load_from_file (parser, path, NULL) ||
      (allocations = object_member (json_parser_get_root (parser),
                                    "allocations")) == NULL)
    return -1;
  return json_object_get_size (allocations);
}

/* The loop devices of the run: each attached volume has two (see
 * src/lxc/nlx-lxc-volume.c), one over the volume's file and the host's
 * own over that one. */
int
count_loops (Soak *soak)
{
  g_autoptr(GDir) dir = g_dir_open ("/sys/block", 0, NULL);
  g_autofree char *prefix = g_strconcat (soak->tmp_dir, "/", NULL);
  g_autoptr(GHashTable) over_files = g_hash_table_new_full (g_str_hash,
                                                           g_str_equal,
                                                           g_free, NULL);
  g_autoptr(GHashTable) over_loops = g_hash_table_new_full (g_str_hash,
                                                           g_str_equal,
                                                           g_free, NULL);
  GHashTableIter iter;
  gpointer key;
  const char *name;
  int count = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *backing = NULL;

      if (!g_str_has_prefix (name, "loop"))
        continue;
      path = g_strdup_printf ("/sys/block/%s/loop/backing_file", name);
      if (!g_file_get_contents (path, &backing, NULL, NULL))
        continue;
      g_strchomp (backing);
      if (g_str_has_prefix (backing, prefix))
        g_hash_table_add (over_files, g_strconcat ("/dev/", name, NULL));
      else if (g_str_has_prefix (backing, "/dev/loop"))
        g_hash_table_add (over_loops, g_steal_pointer (&backing));
    }
  count = g_hash_table_size (over_files);
  g_hash_table_iter_init (&iter, over_loops);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_hash_table_contains (over_files, key))
      count++;
  return count;
}

int
count_mounts (Soak *soak)
{
  g_autofree char *text = NULL;
  g_autofree char *prefix = g_strconcat (soak->tmp_dir, "/", NULL);
  g_auto(GStrv) lines = NULL;
  int count = 0;

  if (!g_file_get_contents ("/proc/self/mountinfo", &text, NULL, NULL))
    return -1;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 6);

      if (g_strv_length (fields) >= 5 &&
          (g_str_has_prefix (fields[4], prefix) ||
           g_str_equal (fields[4], soak->tmp_dir)))
        count++;
    }
  return count;
}

/* Every server id this run may have made: those seen, and the records. */
GPtrArray *
run_uuids (Soak *soak)
{
  g_autofree char *records = g_build_filename (soak->tmp_dir, "state",
                                               "records", NULL);
  g_autoptr(GDir) dir = g_dir_open (records, 0, NULL);
  GPtrArray *uuids = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  GHashTableIter iter;
  gpointer key;

  g_mutex_lock (&soak->lock);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *uuid = g_strndup (name, strcspn (name, "."));

      if (g_uuid_string_is_valid (uuid) &&
          !g_hash_table_contains (soak->uuids, uuid))
        g_hash_table_insert (soak->uuids, g_strdup (uuid),
                             g_strdup ("(from its record)"));
    }
  g_hash_table_iter_init (&iter, soak->uuids);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (uuids, g_strdup (key));
  g_mutex_unlock (&soak->lock);
  return uuids;
}

/* Domains of this run: a uuid it saw, or a definition naming its
 * directory (a server whose create answer a kill lost). */
static gboolean
count_domains (Soak *soak,
               GPtrArray *uuids,
               int *domains,
               int *active,
               GPtrArray *names)
{
  virConnectPtr conn = virConnectOpen (URI);
  virDomainPtr *all = NULL;
  int n;

  *domains = *active = 0;
  if (conn == NULL)
    return FALSE;
  n = virConnectListAllDomains (conn, &all, 0);
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      gboolean ours = FALSE;

      if (virDomainGetUUIDString (all[i], uuid) == 0)
        for (guint j = 0; j < uuids->len && !ours; j++)
          ours = g_ascii_strcasecmp (uuid, uuids->pdata[j]) == 0;
      if (!ours)
        {
          g_autofree char *xml = virDomainGetXMLDesc (all[i], 0);

          ours = xml != NULL && strstr (xml, soak->tmp_dir) != NULL;
        }
      if (ours)
        {
          (*domains)++;
          if (virDomainIsActive (all[i]) == 1)
            (*active)++;
          if (names != NULL)
            g_ptr_array_add (names, g_strdup_printf ("%s (uuid %s)",
                                                     virDomainGetName (all[i]),
                                                     uuid));
        }
      virDomainFree (all[i]);
    }
  free (all);
  virConnectClose (conn);
  return n >= 0;
}

static int
count_veths (Soak *soak,
             GPtrArray *uuids)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  g_autofree char *brif = g_build_filename ("/sys/class/net", soak->bridge,
                                            "brif", NULL);
  g_autoptr(GDir) dir = g_dir_open (brif, 0, NULL);
  const char *name;

  for (guint i = 0; i < uuids->len; i++)
    {
      g_autofree char *veth = g_strdup_printf ("nlx-%.8s",
                                               (char *) uuids->pdata[i]);
      g_autofree char *path = g_build_filename ("/sys/class/net", veth, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        g_hash_table_add (seen, g_steal_pointer (&veth));
    }
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    g_hash_table_add (seen, g_strdup (name));
  return g_hash_table_size (seen);
}

/* The live servers as the daemon lists them, each checked against
 * libvirt; the volumes attached.  Sets @unreachable, and judges
 * nothing, when libvirt did not answer about a server. */
static gboolean
count_servers (Soak *soak,
               Client *client,
               Figures *figures,
               gboolean *unreachable)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) volumes_reply = NULL;
  JsonArray *servers;
  JsonArray *volumes;
  guint status;

  if (!client_call (client, CALL_GOOD, "GET", "/servers/detail", NULL,
                    &status, &reply) || status != SOUP_STATUS_OK ||
      (servers = array_member (reply, "servers")) == NULL ||
      !client_call (client, CALL_GOOD, "GET", "/os-volumes", NULL, &status,
                    &volumes_reply) || status != SOUP_STATUS_OK ||
      (volumes = array_member (volumes_reply, "volumes")) == NULL)
    return FALSE;
  figures->live = json_array_get_length (servers);
  for (guint i = 0; i < json_array_get_length (servers); i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);
      const char *id = string_member (server, "id");
      const char *state = string_member (server, "status");
      DomainState domain = domain_state (id);
      gboolean agrees;

      if (domain == DOMAIN_UNKNOWN)
        {
          *unreachable = TRUE;
          return TRUE;
        }
      if (g_strcmp0 (state, "ACTIVE") == 0)
        {
          figures->active++;
          agrees = domain == DOMAIN_RUNNING;
        }
      else if (g_strcmp0 (state, "SHUTOFF") == 0)
        agrees = domain == DOMAIN_SHUTOFF;
      else if (g_strcmp0 (state, "ERROR") == 0)
        agrees = domain == DOMAIN_NONE;
      else
        agrees = TRUE;
      if (!agrees)
        {
          figures->contradicted++;
          problem (soak, "server %s (%s) is %s but libvirt has %s", id,
                   string_member (server, "name"), state,
                   domain_state_names[domain]);
        }
    }
  for (guint i = 0; i < json_array_get_length (volumes); i++)
    {
      JsonObject *volume = json_array_get_object_element (volumes, i);
      JsonNode *attachments = json_object_get_member (volume, "attachments");
      const char *id = string_member (volume, "id");

      if (id != NULL && g_str_has_prefix (id, "nlxsoak-"))
        figures->volumes++;
      if (attachments != NULL && JSON_NODE_HOLDS_ARRAY (attachments))
        figures->attached += json_array_get_length (json_node_get_array (attachments));
    }
  return TRUE;
}

void
measure (Soak *soak,
         Client *client,
         gboolean with_daemon,
         Figures *figures)
{
  g_autofree char *records = g_build_filename (soak->tmp_dir, "state",
                                               "records", NULL);
  g_autofree char *images = g_build_filename (soak->tmp_dir, "state",
                                              "images", NULL);
  g_autofree char *scratch = g_build_filename (soak->tmp_dir, "state",
                                               "snapshots", NULL);
  g_autofree char *image_records = g_build_filename (images, "records", NULL);
  g_autofree char *bridge = g_build_filename ("/sys/class/net", soak->bridge,
                                              NULL);
  g_autoptr(GPtrArray) uuids = NULL;

  for (guint attempt = 0; with_daemon; attempt++)
    {
      gboolean unreachable = FALSE;

      memset (figures, 0, sizeof *figures);
      if (!wait_libvirt (120))
        problem (soak, "libvirt at " URI " did not answer for 120 s");
      if (!count_servers (soak, client, figures, &unreachable))
        problem (soak, "could not list the servers and volumes to measure");
      if (!unreachable)
        break;
      if (attempt == 10)
        {
          problem (soak, "libvirt kept going away while the servers were "
                   "checked against it");
          break;
        }
      note (soak, "libvirt went away while measuring; again in 3 s");
      g_usleep (3 * G_USEC_PER_SEC);
    }
  if (with_daemon)
    {
      figures->fds = daemon_fds (soak->daemon);
      figures->rss_kib = proc_status_field (soak->daemon, "VmRSS");
      figures->threads = proc_status_field (soak->daemon, "Threads");
    }
  else
    {
      memset (figures, 0, sizeof *figures);
      figures->fds = figures->rss_kib = figures->threads = -1;
      wait_libvirt (120);
    }
  figures->records = count_dir (records, ".json", &figures->record_temporaries);
  figures->addresses = count_addresses (soak);
  /* The store keeps an image as a record in records/ and its tree as
   * images/<sha256>, which images of the same content share; records/
   * itself is no image (counted as one, it looked like an image the API
   * did not list). */
  figures->images = count_dir (image_records, ".json", NULL);
  figures->trees = count_dir (images, NULL, NULL) -
                   (g_file_test (image_records, G_FILE_TEST_IS_DIR) ? 1 : 0);
  figures->scratch = count_dir (scratch, NULL, NULL);
  if (with_daemon)
    {
      g_autoptr(JsonNode) reply = NULL;
      JsonArray *list;
      guint status;

      /* A snapshot whose answer a kill lost is an image all the same. */
      if (client_call (client, CALL_GOOD, "GET", "/images", NULL, &status,
                       &reply) && status == SOUP_STATUS_OK &&
          (list = array_member (reply, "images")) != NULL)
        for (guint i = 0; i < json_array_get_length (list); i++)
          {
            const char *name = string_member (json_array_get_object_element (list, i),
                                              "name");

            if (name != NULL && g_str_has_prefix (name, "nlxsoak-"))
              figures->images_listed++;
          }
    }
  uuids = run_uuids (soak);
  if (!count_domains (soak, uuids, &figures->domains, &figures->domains_active,
                      NULL))
    figures->domains = figures->domains_active = -1;
  figures->loops = count_loops (soak);
  figures->mounts = count_mounts (soak);
  figures->veths = count_veths (soak, uuids);
  figures->bridge = g_file_test (bridge, G_FILE_TEST_EXISTS);
  g_mutex_lock (&soak->lock);
  figures->counts = soak->counts;
  g_mutex_unlock (&soak->lock);
}

/* Waits until no server has a task, then until the daemon's thread count
 * has not moved for 20 s (its worker pool lets idle threads go after
 * 15 s), so two measurements see the same quiet daemon. */
gboolean
settle (Soak *soak,
        Client *client,
        GError **error)
{
  gint64 deadline = g_get_monotonic_time () + SETTLE_TIMEOUT_S * G_USEC_PER_SEC;
  int threads = -1;
  gint64 threads_since = 0;

  for (;;)
    {
      g_autoptr(JsonNode) reply = NULL;
      JsonArray *servers;
      guint status, busy = 0;

      if (interrupted || g_get_monotonic_time () > deadline)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "The servers did not settle within %d s",
                       SETTLE_TIMEOUT_S);
          return FALSE;
        }
      if (client_call (client, CALL_GOOD, "GET", "/servers/detail", NULL,
                       &status, &reply) && status == SOUP_STATUS_OK &&
          (servers = array_member (reply, "servers")) != NULL)
        {
          for (guint i = 0; i < json_array_get_length (servers); i++)
            {
              JsonObject *server = json_array_get_object_element (servers, i);

              if (string_member (server, "OS-EXT-STS:task_state") != NULL ||
                  g_strcmp0 (string_member (server, "status"), "BUILD") == 0)
                busy++;
            }
          if (busy == 0)
            break;
        }
      g_usleep (500 * 1000);
    }
  for (;;)
    {
      int now = proc_status_field (soak->daemon, "Threads");

      if (now != threads)
        {
          threads = now;
          threads_since = g_get_monotonic_time ();
        }
      else if (g_get_monotonic_time () - threads_since >= 20 * G_USEC_PER_SEC)
        return TRUE;
      if (interrupted || g_get_monotonic_time () > deadline)
        return TRUE;
      g_usleep (G_USEC_PER_SEC);
    }
}
