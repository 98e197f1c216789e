/* bench-api: what the Compute API costs over the driver, and how the
 * daemon holds up with many instances
 *
 * Starts a private nova-lxc-compute on the lxc driver and, in one run:
 * boots servers to ACTIVE through the API, interleaved with spawns of the
 * same image straight through the driver, and prints percentiles of both
 * side by side; then, with --instances servers ACTIVE, times the detailed
 * server list, reads the daemon's resident memory and sends --concurrent
 * creates at once.  A benchmark, not a test: it exits 0 whether or not a
 * target is met, 1 when the benchmark itself failed, 77 when there is no
 * libvirt LXC to measure. */
#include "config.h"

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>

#include "nlx-bench.h"
#include "nlx-bench-api.h"
#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "driver/nlx-virt.h"
#include "host/nlx-network-filter.h"
#include "lxc/nlx-lxc-error.h"

#define EXIT_SKIP 77
#define EXIT_USAGE 2
#define URI "lxc:///"
/* Marks the domains spawned straight through the driver as bench
 * objects; servers created through the API get the daemon's uuids. */
#define UUID_PREFIX "7e57e"
#define IMAGE "nlxbench"
#define FLAVOR "m1.nano"
#define FLAVOR_MEMORY_MB 64
#define BOOT_RATIO_TARGET 1.5
#define DETAIL_P50_TARGET_MS 50
#define RSS_TARGET_MIB 64
#define DETAIL_REQUESTS 50
/* How often a server is looked at while it boots or goes away. */
#define POLL_INTERVAL_US (5 * 1000)
/* How often the server list is looked at while many go away. */
#define LIST_POLL_INTERVAL_US (100 * 1000)
#define BENCH_CIDR "198.19.248.0/21"
#define DAEMON_START_TIMEOUT_S 30
#define DAEMON_STOP_TIMEOUT_S 10
#define ACTIVE_TIMEOUT_S 120
#define REQUEST_TIMEOUT_S 60

/* mkrootfs lives in the source tree, which is the build tree unless the
 * build says otherwise; the daemon is built in the build tree. */
#ifndef NLX_ABS_TOP_SRCDIR
#define NLX_ABS_TOP_SRCDIR NLX_ABS_TOP_BUILDDIR
#endif
#define MKROOTFS NLX_ABS_TOP_SRCDIR "/tools/mkrootfs"

static int opt_boots = 20;
static int opt_instances = 200;
static int opt_concurrent = 20;
static char *opt_daemon_log = NULL;

static const GOptionEntry entries[] = {
  { "boots", 'b', 0, G_OPTION_ARG_INT, &opt_boots,
    "Boots through the API, and spawns through the driver (default 20)", "N" },
  { "instances", 'n', 0, G_OPTION_ARG_INT, &opt_instances,
    "ACTIVE servers to measure the daemon with (default 200)", "N" },
  { "concurrent", 'c', 0, G_OPTION_ARG_INT, &opt_concurrent,
    "Creates sent at once, also the batch size (default 20)", "N" },
  { "daemon-log", 0, 0, G_OPTION_ARG_FILENAME, &opt_daemon_log,
    "Keep the daemon's log in FILE (default: removed with the rest)",
    "FILE" },
  G_OPTION_ENTRY_NULL
};

/* Set from a signal handler so Ctrl-C still leaves no domain behind. */
static volatile sig_atomic_t interrupted = 0;

typedef struct {
  virConnectPtr conn;
  NlxVirt *virt;                /* for part 1 only */
  NlxImage *image;
  char *tmp_dir;
  char *config_path;
  char *bridge;                 /* the servers' bridge, nlxb<6 hex> */
  char *socket_path;
  char *log_path;
  GPid daemon;                  /* 0 once it is gone */
  SoupSession *session;
  /* Every uuid a domain of ours may have had, whatever failed: the
   * driver's and every server id the daemon answered with. */
  GPtrArray *uuids;
  /* Servers created through the API and not yet seen gone. */
  GHashTable *live;
  guint names;                  /* servers are nlxbench-1, nlxbench-2, ... */
} Bench;

/* One create of a burst, sent without waiting for the others. */
typedef struct {
  Bench *bench;
  SoupMessage *msg;
  guint *pending;
  char *name;
  char *id;
  /* The HTTP status of the POST, 0 when there was no answer. */
  guint status;
  /* Why it did not get to ACTIVE, when it did not. */
  char *problem;
  gint64 answered_us;
  gint64 active_us;
} Create;

static void
create_free (Create *create)
{
  g_clear_object (&create->msg);
  g_free (create->name);
  g_free (create->id);
  g_free (create->problem);
  g_free (create);
}

static void
on_signal (int signum G_GNUC_UNUSED)
{
  interrupted = 1;
}

static gboolean
check_interrupted (GError **error)
{
  if (!interrupted)
    return TRUE;
  g_set_error_literal (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "Interrupted");
  return FALSE;
}

static double
seconds_since (gint64 start_us)
{
  return (double) (g_get_monotonic_time () - start_us) / G_USEC_PER_SEC;
}

/* ---- the daemon ------------------------------------------------------- */

static gboolean
write_config (Bench *bench,
              GError **error)
{
  g_autofree char *state = g_build_filename (bench->tmp_dir, "state", NULL);
  g_autofree char *instances = g_build_filename (bench->tmp_dir, "instances",
                                                 NULL);
  g_autoptr(GKeyFile) config = g_key_file_new ();

  g_key_file_set_string (config, "DEFAULT", "compute_driver", "lxc");
  g_key_file_set_string (config, "DEFAULT", "state_path", state);
  g_key_file_set_string (config, "DEFAULT", "instances_path", instances);
  g_key_file_set_string (config, "api", "socket", bench->socket_path);
  /* A bridge of the bench's own, and room for --instances servers in a
   * corner of RFC 2544's benchmarking range. */
  g_key_file_set_string (config, "network", "bridge", bench->bridge);
  g_key_file_set_string (config, "network", "cidr", BENCH_CIDR);
  g_key_file_set_string (config, "libvirt", "wait_soft_reboot_seconds", "10");
  /* The bench measures the daemon with --instances servers on one
   * machine, far more than Nova's default ratios let a 2-CPU host hold. */
  g_key_file_set_string (config, "compute", "cpu_allocation_ratio", "10000");
  g_key_file_set_string (config, "compute", "ram_allocation_ratio", "100");
  g_key_file_set_string (config, "image " IMAGE, "path", bench->image->path);
  g_key_file_set_string (config, "image " IMAGE, "os_shutdown_signal",
                         "SIGUSR2");
  return g_key_file_save_to_file (config, bench->config_path, error);
}

/* Returns whether the daemon still runs; reaps it when it does not. */
static gboolean
daemon_alive (Bench *bench,
              int *status)
{
  if (bench->daemon == 0)
    return FALSE;
  if (waitpid (bench->daemon, status, WNOHANG) == 0)
    return TRUE;
  bench->daemon = 0;
  return FALSE;
}

static gboolean
check_daemon (Bench *bench,
              GError **error)
{
  int status = 0;

  if (daemon_alive (bench, &status))
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               "nova-lxc-compute is gone (wait status %d); see its log, "
               "below", status);
  return FALSE;
}

static void
print_log_tail (Bench *bench,
                guint lines)
{
  g_autofree char *text = NULL;
  gsize length;
  const char *start;

  if (bench->log_path == NULL ||
      !g_file_get_contents (bench->log_path, &text, &length, NULL) ||
      length == 0)
    return;
  start = text + length - 1;
  while (start > text && lines > 0)
    if (*--start == '\n')
      lines--;
  if (*start == '\n')
    start++;
  g_printerr ("bench-api: the end of the daemon's log (%s):\n%s",
              bench->log_path, start);
}

/* Fails only when there is no answer, or one that is not JSON. */
static gboolean
api_call (Bench *bench,
          const char *method,
          const char *path,
          const char *body,
          guint *status,
          JsonNode **reply,
          gsize *length,
          GError **error)
{
  g_autoptr(SoupMessage) msg = nlx_bench_api_message (method, path, NULL,
                                                      body);

  return nlx_bench_api_send (bench->session, msg, method, path, status,
                             reply, length, error);
}

static gboolean
daemon_start (Bench *bench,
              GError **error)
{
  g_autoptr(GSocketAddress) address = NULL;

  if (!nlx_bench_daemon_start (bench->config_path, bench->socket_path,
                               bench->log_path, FALSE, DAEMON_START_TIMEOUT_S,
                               &interrupted, &bench->daemon, error))
    return FALSE;
  address = g_unix_socket_address_new (bench->socket_path);
  /* As many connections as creates sent at once. */
  bench->session = soup_session_new_with_options (
    "remote-connectable", address, "timeout", REQUEST_TIMEOUT_S,
    "max-conns", opt_concurrent + 4, "max-conns-per-host", opt_concurrent + 4,
    NULL);
  return TRUE;
}

/* SIGTERM, then SIGKILL when it has not stopped in time. */
static void
daemon_stop (Bench *bench)
{
  gint64 deadline = g_get_monotonic_time () +
                    DAEMON_STOP_TIMEOUT_S * G_USEC_PER_SEC;
  int status;

  g_clear_object (&bench->session);
  if (!daemon_alive (bench, &status))
    return;
  kill (bench->daemon, SIGTERM);
  while (g_get_monotonic_time () < deadline)
    {
      if (!daemon_alive (bench, &status))
        return;
      g_usleep (20 * 1000);
    }
  g_printerr ("bench-api: nova-lxc-compute %d did not stop within %d s of "
              "SIGTERM; killing it\n", bench->daemon, DAEMON_STOP_TIMEOUT_S);
  kill (bench->daemon, SIGKILL);
  waitpid (bench->daemon, &status, 0);
  bench->daemon = 0;
}

/* VmRSS from /proc/PID/status, in KiB. */
static gboolean
daemon_rss_kib (Bench *bench,
                guint64 *rss,
                GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", bench->daemon);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  line = strstr (text, "\nVmRSS:");
  if (line == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "%s has no VmRSS", path);
      return FALSE;
    }
  *rss = g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
  return TRUE;
}

/* ---- servers through the API ------------------------------------------ */

static char *
next_name (Bench *bench)
{
  return g_strdup_printf ("nlxbench-%u", ++bench->names);
}

static char *
create_body (const char *name)
{
  return g_strdup_printf ("{\"server\": {\"name\": \"%s\", \"flavorRef\": \""
                          FLAVOR "\", \"imageRef\": \"" IMAGE "\"}}", name);
}

static void
remember_server (Bench *bench,
                 const char *id)
{
  g_ptr_array_add (bench->uuids, g_strdup (id));
  g_hash_table_add (bench->live, g_strdup (id));
}

static char *
api_create (Bench *bench,
            GError **error)
{
  g_autofree char *name = next_name (bench);
  g_autofree char *body = create_body (name);
  g_autoptr(JsonNode) reply = NULL;
  const char *id;
  guint status;

  if (!api_call (bench, "POST", "/servers", body, &status, &reply, NULL,
                 error))
    return NULL;
  id = nlx_bench_get_member (reply, "server", "id");
  if (status != SOUP_STATUS_ACCEPTED || id == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   "Creating server %s answered %u: %s", name, status,
                   status == SOUP_STATUS_ACCEPTED ? "no id"
                                                  : nlx_bench_fault_message (reply));
      return NULL;
    }
  remember_server (bench, id);
  return g_strdup (id);
}

/* The server's status, "" for one that is gone; ERROR comes with its
 * fault message in @fault. */
static char *
api_status (Bench *bench,
            const char *id,
            char **fault,
            GError **error)
{
  g_autofree char *path = g_strconcat ("/servers/", id, NULL);
  g_autoptr(JsonNode) reply = NULL;
  const char *server_status;
  guint status;

  if (!api_call (bench, "GET", path, NULL, &status, &reply, NULL, error))
    return NULL;
  if (status == SOUP_STATUS_NOT_FOUND)
    return g_strdup ("");
  server_status = nlx_bench_get_member (reply, "server", "status");
  if (status != SOUP_STATUS_OK || server_status == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   "GET %s answered %u: %s", path, status,
                   nlx_bench_fault_message (reply));
      return NULL;
    }
  if (fault != NULL && g_str_equal (server_status, "ERROR"))
    {
      JsonObject *server = json_object_get_object_member (
        json_node_get_object (reply), "server");
      JsonNode *node = json_object_get_member (server, "fault");

      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node) &&
          json_object_has_member (json_node_get_object (node), "message"))
        *fault = g_strdup (json_object_get_string_member (
          json_node_get_object (node), "message"));
    }
  return g_strdup (server_status);
}

/* Polls one server until it is ACTIVE. */
static gboolean
api_wait_active (Bench *bench,
                 const char *id,
                 GError **error)
{
  gint64 deadline = g_get_monotonic_time () + ACTIVE_TIMEOUT_S * G_USEC_PER_SEC;
  g_autofree char *last = NULL;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *fault = NULL;

      if (!check_interrupted (error) || !check_daemon (bench, error))
        return FALSE;
      g_free (last);
      last = api_status (bench, id, &fault, error);
      if (last == NULL)
        return FALSE;
      if (g_str_equal (last, "ACTIVE"))
        return TRUE;
      if (g_str_equal (last, "ERROR") || *last == '\0')
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "Server %s went %s instead of ACTIVE: %s", id,
                       *last ? last : "away", fault ? fault : "no fault");
          return FALSE;
        }
      g_usleep (POLL_INTERVAL_US);
    }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               "Server %s is still %s after %d s", id, last, ACTIVE_TIMEOUT_S);
  return FALSE;
}

/* 204, or 404 for one already gone. */
static gboolean
api_delete (Bench *bench,
            const char *id,
            GError **error)
{
  g_autofree char *path = g_strconcat ("/servers/", id, NULL);
  g_autoptr(JsonNode) reply = NULL;
  guint status;

  if (!api_call (bench, "DELETE", path, NULL, &status, &reply, NULL, error))
    return FALSE;
  if (status == SOUP_STATUS_NO_CONTENT || status == SOUP_STATUS_NOT_FOUND)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               "DELETE %s answered %u: %s", path, status,
               nlx_bench_fault_message (reply));
  return FALSE;
}

/* Polls one server until it is gone (404). */
static gboolean
api_wait_gone (Bench *bench,
               const char *id,
               GError **error)
{
  gint64 deadline = g_get_monotonic_time () + ACTIVE_TIMEOUT_S * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *status = NULL;

      if (!check_interrupted (error) || !check_daemon (bench, error))
        return FALSE;
      status = api_status (bench, id, NULL, error);
      if (status == NULL)
        return FALSE;
      if (*status == '\0')
        {
          g_hash_table_remove (bench->live, id);
          return TRUE;
        }
      g_usleep (POLL_INTERVAL_US);
    }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               "Server %s is still there %d s after its delete", id,
               ACTIVE_TIMEOUT_S);
  return FALSE;
}

/* Deletes every live server and waits until the list shows none of
 * them; with @interruptible FALSE, as cleanup does, Ctrl-C does not stop
 * it.  @deleted gets how many it deleted. */
static gboolean
api_delete_all (Bench *bench,
                gboolean interruptible,
                guint timeout_s,
                guint *deleted,
                GError **error)
{
  g_autoptr(JsonNode) listing = NULL;
  g_autofree gpointer *ids = NULL;
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  guint listed_status;
  guint n;

  /* A create the daemon took but whose answer never arrived made a server
   * this program has no id for: the daemon's own list has them all. */
  if (api_call (bench, "GET", "/servers", NULL, &listed_status, &listing,
                NULL, NULL) &&
      listed_status == SOUP_STATUS_OK && JSON_NODE_HOLDS_OBJECT (listing) &&
      json_object_has_member (json_node_get_object (listing), "servers"))
    {
      JsonArray *servers = json_object_get_array_member (json_node_get_object (listing),
                                                         "servers");

      for (guint i = 0; i < json_array_get_length (servers); i++)
        {
          const char *id = json_object_get_string_member (json_array_get_object_element (servers, i),
                                                          "id");

          if (!g_hash_table_contains (bench->live, id))
            remember_server (bench, id);
        }
    }
  ids = g_hash_table_get_keys_as_array (bench->live, &n);

  if (deleted != NULL)
    *deleted = n;
  for (guint i = 0; i < n; i++)
    if (!api_delete (bench, ids[i], error))
      return FALSE;

  while (g_hash_table_size (bench->live) > 0)
    {
      g_autoptr(JsonNode) reply = NULL;
      g_autoptr(GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr(GPtrArray) gone = g_ptr_array_new ();
      JsonArray *servers;
      GHashTableIter iter;
      gpointer id;
      guint status;

      if ((interruptible && !check_interrupted (error)) ||
          !check_daemon (bench, error))
        return FALSE;
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "%u servers are still there %u s after their delete",
                       g_hash_table_size (bench->live), timeout_s);
          return FALSE;
        }
      if (!api_call (bench, "GET", "/servers", NULL, &status, &reply, NULL,
                     error))
        return FALSE;
      if (status != SOUP_STATUS_OK || !JSON_NODE_HOLDS_OBJECT (reply) ||
          !json_object_has_member (json_node_get_object (reply), "servers"))
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "GET /servers answered %u: %s", status,
                       nlx_bench_fault_message (reply));
          return FALSE;
        }
      servers = json_object_get_array_member (json_node_get_object (reply),
                                              "servers");
      for (guint i = 0; i < json_array_get_length (servers); i++)
        {
          JsonObject *server = json_array_get_object_element (servers, i);

          if (json_object_has_member (server, "id"))
            g_hash_table_add (listed, (gpointer) json_object_get_string_member (server, "id"));
        }
      g_hash_table_iter_init (&iter, bench->live);
      while (g_hash_table_iter_next (&iter, &id, NULL))
        if (!g_hash_table_contains (listed, id))
          g_ptr_array_add (gone, id);
      for (guint i = 0; i < gone->len; i++)
        g_hash_table_remove (bench->live, gone->pdata[i]);
      if (g_hash_table_size (bench->live) > 0)
        g_usleep (LIST_POLL_INTERVAL_US);
    }
  return TRUE;
}

static void
on_created (GObject *source,
            GAsyncResult *result,
            gpointer data)
{
  Create *create = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *reply = NULL;
  const char *id = NULL;
  guint status;

  create->answered_us = g_get_monotonic_time ();
  (*create->pending)--;
  bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
                                             &error);
  if (bytes == NULL)
    {
      create->problem = g_strdup_printf ("POST failed: %s", error->message);
      return;
    }
  status = create->status = soup_message_get_status (create->msg);
  if (json_parser_load_from_data (parser, g_bytes_get_data (bytes, NULL),
                                  g_bytes_get_size (bytes), NULL))
    reply = json_parser_get_root (parser);
  id = nlx_bench_get_member (reply, "server", "id");
  if (status != SOUP_STATUS_ACCEPTED || id == NULL)
    {
      create->problem = g_strdup_printf ("POST answered %u: %s", status,
                                         reply ? nlx_bench_fault_message (reply)
                                               : "no JSON");
      return;
    }
  create->id = g_strdup (id);
  remember_server (create->bench, id);
}

/* Sends every create at once and waits for the answers. */
static GPtrArray *
post_creates (Bench *bench,
              guint count,
              gint64 *start_us)
{
  GPtrArray *creates = g_ptr_array_new_with_free_func ((GDestroyNotify) create_free);
  guint pending = count;

  for (guint i = 0; i < count; i++)
    {
      Create *create = g_new0 (Create, 1);
      g_autofree char *body = NULL;

      create->bench = bench;
      create->pending = &pending;
      create->name = next_name (bench);
      body = create_body (create->name);
      create->msg = nlx_bench_api_message ("POST", "/servers", NULL,
                                           body);
      g_ptr_array_add (creates, create);
    }
  *start_us = g_get_monotonic_time ();
  for (guint i = 0; i < count; i++)
    {
      Create *create = creates->pdata[i];

      soup_session_send_and_read_async (bench->session, create->msg,
                                        G_PRIORITY_DEFAULT, NULL, on_created,
                                        create);
    }
  while (pending > 0)
    g_main_context_iteration (NULL, TRUE);
  return creates;
}

/* Polls every created server until it is ACTIVE or cannot be; sets the
 * problem of those that are not.  Fails only when polling does. */
static gboolean
wait_creates_active (Bench *bench,
                     GPtrArray *creates,
                     GError **error)
{
  gint64 deadline = g_get_monotonic_time () + ACTIVE_TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      guint waiting = 0;

      if (!check_interrupted (error) || !check_daemon (bench, error))
        return FALSE;
      for (guint i = 0; i < creates->len; i++)
        {
          Create *create = creates->pdata[i];
          g_autofree char *fault = NULL;
          g_autofree char *status = NULL;

          if (create->id == NULL || create->problem != NULL ||
              create->active_us != 0)
            continue;
          status = api_status (bench, create->id, &fault, error);
          if (status == NULL)
            return FALSE;
          if (g_str_equal (status, "ACTIVE"))
            create->active_us = g_get_monotonic_time ();
          else if (g_str_equal (status, "ERROR") || *status == '\0')
            create->problem = g_strdup_printf ("went %s: %s",
                                               *status ? status : "away",
                                               fault ? fault : "no fault");
          else if (g_get_monotonic_time () >= deadline)
            create->problem = g_strdup_printf ("still %s after %d s", status,
                                               ACTIVE_TIMEOUT_S);
          else
            waiting++;
        }
      if (waiting == 0)
        return TRUE;
      g_usleep (POLL_INTERVAL_US);
    }
}

/* Prints and counts the creates that did not get to ACTIVE, but for
 * those that got no answer at all when @unanswered is NULL; those are
 * counted there. */
static guint
count_problems (GPtrArray *creates,
                guint *unanswered)
{
  guint problems = 0;

  for (guint i = 0; i < creates->len; i++)
    {
      Create *create = creates->pdata[i];

      if (create->problem != NULL && create->status == 0 &&
          unanswered != NULL)
        (*unanswered)++;
      else if (create->problem != NULL)
        {
          g_printerr ("bench-api: server %s %s: %s\n", create->name,
                      create->id ? create->id : "(no id)", create->problem);
          problems++;
        }
    }
  return problems;
}

/* ---- the driver, straight ---------------------------------------------- */

/* Domain names keep only the first eight digits of the uuid, so no two
 * of ours may share them. */
static char *
new_uuid (Bench *bench)
{
  char *uuid = g_uuid_string_random ();

  memcpy (uuid, UUID_PREFIX, strlen (UUID_PREFIX));
  for (guint i = 0; i < bench->uuids->len; i++)
    if (strncmp (uuid, g_ptr_array_index (bench->uuids, i), 8) == 0)
      {
        g_free (uuid);
        return new_uuid (bench);
      }
  return uuid;
}

/* The instance the API would make of a create: same flavor, same image. */
static NlxInstance *
driver_instance (Bench *bench,
                 guint n,
                 GError **error)
{
  g_autofree char *uuid = new_uuid (bench);
  g_autofree char *json = NULL;
  NlxInstance *instance;

  json = g_strdup_printf ("{\"uuid\": \"%s\", \"name\": \"nlxbench-driver-%u\", "
                          "\"flavor\": {\"name\": \"" FLAVOR "\", \"vcpus\": 1, "
                          "\"memory_mb\": %d, \"root_gb\": 0}, "
                          "\"image_ref\": \"" IMAGE "\", \"user_id\": \"admin\", "
                          "\"project_id\": \"admin\"}",
                          uuid, n, FLAVOR_MEMORY_MB);
  instance = nlx_instance_new_from_data (json, -1, error);
  if (instance != NULL)
    g_ptr_array_add (bench->uuids, g_steal_pointer (&uuid));
  return instance;
}

/* ---- figures ----------------------------------------------------------- */

static void
append (GArray *samples,
        double value)
{
  g_array_append_val (samples, value);
}

/* Returns the ratio of the p50s. */
static double
print_row (const char *what,
           GArray *api,
           const char *driver_call,
           GArray *driver,
           const char *target)
{
  double ratio = nlx_bench_percentile (api, 50) /
                 nlx_bench_percentile (driver, 50);

  g_print ("%-16s api p50 %.3f s  p90 %.3f s | driver %-7s p50 %.3f s  "
           "p90 %.3f s | ratio %.2f%s\n", what,
           nlx_bench_percentile (api, 50), nlx_bench_percentile (api, 90),
           driver_call, nlx_bench_percentile (driver, 50),
           nlx_bench_percentile (driver, 90), ratio, target);
  return ratio;
}

static void G_GNUC_PRINTF (3, 4)
print_target (const char *what,
              gboolean met,
              const char *format,
              ...)
{
  g_autofree char *value = NULL;
  va_list args;

  va_start (args, format);
  value = g_strdup_vprintf (format, args);
  va_end (args);
  g_print ("target %-44s %-6s (%s)\n", what, met ? "MET" : "MISSED", value);
}

/* ---- the measurements --------------------------------------------------- */

typedef struct {
  double boot_ratio;
  double detail_p50_ms;
  double rss_mib;
  guint burst_active;
  guint burst_count;
} Figures;

/* Part 1: boots through the API against spawns through the driver,
 * interleaved, so a host growing slower or faster during the run weighs
 * on both sides alike. */
static gboolean
measure_boots (Bench *bench,
               Figures *figures,
               GError **error)
{
  g_autoptr(GArray) api_boot = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) api_gone = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) spawn = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) destroy = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *driver_dir = g_build_filename (bench->tmp_dir,
                                                  "driver-instances", NULL);
  g_autoptr(GKeyFile) config = g_key_file_new ();

  /* Its own instances_path, so its console drainer leaves the daemon's
   * instances alone. */
  g_key_file_set_string (config, "DEFAULT", "instances_path", driver_dir);
  bench->virt = nlx_virt_open ("lxc", config, error);
  if (bench->virt == NULL)
    return FALSE;

  for (int i = 1; i <= opt_boots; i++)
    {
      g_autoptr(NlxInstance) instance = NULL;
      g_autofree char *id = NULL;
      gint64 start;

      if (!check_interrupted (error))
        return FALSE;
      start = g_get_monotonic_time ();
      id = api_create (bench, error);
      if (id == NULL || !api_wait_active (bench, id, error))
        return FALSE;
      append (api_boot, seconds_since (start));
      start = g_get_monotonic_time ();
      if (!api_delete (bench, id, error) || !api_wait_gone (bench, id, error))
        return FALSE;
      append (api_gone, seconds_since (start));

      instance = driver_instance (bench, i, error);
      if (instance == NULL)
        return FALSE;
      start = g_get_monotonic_time ();
      if (!nlx_virt_spawn (bench->virt, instance, bench->image, error))
        return FALSE;
      append (spawn, seconds_since (start));
      start = g_get_monotonic_time ();
      if (!nlx_virt_destroy (bench->virt, instance->uuid, error))
        return FALSE;
      append (destroy, seconds_since (start));
    }
  /* Its console drainer would look at every instance of part 2. */
  g_clear_pointer (&bench->virt, nlx_virt_close);

  figures->boot_ratio = print_row ("boot to ACTIVE", api_boot, "spawn", spawn,
                                   " (target <= "
                                   G_STRINGIFY (BOOT_RATIO_TARGET) ")");
  print_row ("delete to 404", api_gone, "destroy", destroy, "");
  return TRUE;
}

/* Creates --instances servers, --concurrent at a time, each batch ACTIVE
 * before the next.  A create that got no answer (a connection refused)
 * is sent again: this only sets the stage, and the burst measures. */
static gboolean
fill_host (Bench *bench,
           GError **error)
{
  g_autoptr(GArray) batches = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 start = g_get_monotonic_time ();
  guint resent = 0;

  for (int made = 0; made < opt_instances; made += opt_concurrent)
    {
      guint wanted = MIN (opt_concurrent, opt_instances - made);
      gint64 batch_start = 0;

      while (wanted > 0)
        {
          g_autoptr(GPtrArray) creates = NULL;
          guint unanswered = 0;
          gint64 sent;

          if (!check_interrupted (error))
            return FALSE;
          creates = post_creates (bench, wanted, &sent);
          if (batch_start == 0)
            batch_start = sent;
          if (!wait_creates_active (bench, creates, error))
            return FALSE;
          if (count_problems (creates, &unanswered) > 0)
            {
              g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           "Servers of the batch after the first %d did not "
                           "get to ACTIVE", made);
              return FALSE;
            }
          wanted = unanswered;
          resent += unanswered;
        }
      append (batches, seconds_since (batch_start));
    }
  g_print ("%d servers ACTIVE in %.1f s (batches of %d, each to ACTIVE in "
           "p50 %.2f s, p90 %.2f s; %u creates sent again after no answer)\n",
           opt_instances, seconds_since (start), opt_concurrent,
           nlx_bench_percentile (batches, 50),
           nlx_bench_percentile (batches, 90), resent);
  return TRUE;
}

static gboolean
measure_detail (Bench *bench,
                Figures *figures,
                GError **error)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  gsize length = 0;
  guint listed = 0;

  for (int i = 0; i < DETAIL_REQUESTS; i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      gint64 start = g_get_monotonic_time ();
      guint status;

      if (!check_interrupted (error) ||
          !api_call (bench, "GET", "/servers/detail", NULL, &status, &reply,
                     &length, error))
        return FALSE;
      append (samples, seconds_since (start) * 1000);
      if (status != SOUP_STATUS_OK || !JSON_NODE_HOLDS_OBJECT (reply) ||
          !json_object_has_member (json_node_get_object (reply), "servers"))
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "GET /servers/detail answered %u: %s", status,
                       nlx_bench_fault_message (reply));
          return FALSE;
        }
      listed = json_array_get_length (
        json_object_get_array_member (json_node_get_object (reply), "servers"));
    }
  figures->detail_p50_ms = nlx_bench_percentile (samples, 50);
  g_print ("GET /servers/detail, %u servers: p50 %.1f ms  p90 %.1f ms  "
           "max %.1f ms (%d requests, %" G_GSIZE_FORMAT " KiB each)\n",
           listed, figures->detail_p50_ms, nlx_bench_percentile (samples, 90),
           nlx_bench_percentile (samples, 100), DETAIL_REQUESTS,
           length / 1024);
  return TRUE;
}

static gboolean
measure_rss (Bench *bench,
             Figures *figures,
             GError **error)
{
  guint64 rss_kib;

  if (!check_daemon (bench, error) || !daemon_rss_kib (bench, &rss_kib, error))
    return FALSE;
  figures->rss_mib = rss_kib / 1024.0;
  g_print ("daemon VmRSS with %u servers: %.1f MiB\n",
           g_hash_table_size (bench->live), figures->rss_mib);
  return TRUE;
}

/* --concurrent creates at once, on top of --instances ACTIVE servers. */
static gboolean
measure_burst (Bench *bench,
               Figures *figures,
               GError **error)
{
  g_autoptr(GPtrArray) creates = NULL;
  g_autoptr(GArray) answered = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) active = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 start;
  guint problems;

  creates = post_creates (bench, opt_concurrent, &start);
  if (!wait_creates_active (bench, creates, error))
    return FALSE;
  problems = count_problems (creates, NULL);
  for (guint i = 0; i < creates->len; i++)
    {
      Create *create = creates->pdata[i];

      append (answered, (double) (create->answered_us - start) / G_USEC_PER_SEC);
      if (create->active_us != 0)
        append (active, (double) (create->active_us - start) / G_USEC_PER_SEC);
    }
  figures->burst_count = creates->len;
  figures->burst_active = active->len;
  g_print ("%d creates at once: %u/%u ACTIVE, %u failed; POSTs answered "
           "within %.3f s; ", opt_concurrent, active->len, creates->len,
           problems, nlx_bench_percentile (answered, 100));
  if (active->len > 0)
    g_print ("ACTIVE p50 %.2f s, %s %.2f s\n", nlx_bench_percentile (active, 50),
             problems == 0 ? "all ACTIVE after" : "last ACTIVE after",
             nlx_bench_percentile (active, 100));
  else
    g_print ("none ACTIVE\n");
  return TRUE;
}

static gboolean
run (Bench *bench,
     GError **error)
{
  g_autofree char *root = g_build_filename (bench->tmp_dir, "root", NULL);
  const char *argv[] = { "/bin/sh", MKROOTFS, root, NULL };
  Figures figures = { 0 };
  gint64 start;
  guint deleted;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     NULL, NULL, &status, error) ||
      !g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s %s failed: ", MKROOTFS, root);
      return FALSE;
    }
  /* What the daemon makes of its [image nlxbench] section. */
  bench->image = nlx_image_new_from_path (IMAGE, root, error);
  if (bench->image == NULL)
    return FALSE;
  nlx_image_set_property (bench->image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL,
                          "SIGUSR2");
  if (!write_config (bench, error) || !daemon_start (bench, error))
    return FALSE;

  g_print ("bench-api: nova-lxc-compute pid %d; %d boots each through the "
           "API and the driver, interleaved\n", bench->daemon, opt_boots);
  if (!measure_boots (bench, &figures, error))
    return FALSE;

  g_print ("bench-api: %d servers, then %d creates at once\n", opt_instances,
           opt_concurrent);
  if (!fill_host (bench, error) ||
      !measure_detail (bench, &figures, error) ||
      !measure_rss (bench, &figures, error) ||
      !measure_burst (bench, &figures, error))
    return FALSE;
  start = g_get_monotonic_time ();
  if (!api_delete_all (bench, TRUE, 60 + g_hash_table_size (bench->live),
                       &deleted, error))
    return FALSE;
  g_print ("deleted %u servers in %.1f s\n", deleted, seconds_since (start));

  print_target ("boot p50 ratio API/driver <= "
                G_STRINGIFY (BOOT_RATIO_TARGET),
                figures.boot_ratio <= BOOT_RATIO_TARGET, "%.2f",
                figures.boot_ratio);
  print_target ("GET /servers/detail p50 < "
                G_STRINGIFY (DETAIL_P50_TARGET_MS) " ms",
                figures.detail_p50_ms < DETAIL_P50_TARGET_MS, "%.1f ms",
                figures.detail_p50_ms);
  print_target ("daemon VmRSS < " G_STRINGIFY (RSS_TARGET_MIB) " MiB",
                figures.rss_mib < RSS_TARGET_MIB, "%.1f MiB", figures.rss_mib);
  print_target ("all concurrent creates ACTIVE, no error",
                figures.burst_active == figures.burst_count, "%u/%u ACTIVE",
                figures.burst_active, figures.burst_count);
  return TRUE;
}

/* ---- cleanup ------------------------------------------------------------ */

static gboolean
is_our_uuid (Bench *bench,
             const char *uuid)
{
  for (guint i = 0; i < bench->uuids->len; i++)
    if (g_ascii_strcasecmp (uuid, g_ptr_array_index (bench->uuids, i)) == 0)
      return TRUE;
  return FALSE;
}

/* What virsh itself shows, so the check does not trust this program's
 * own libvirt calls alone. */
static gboolean
check_virsh (Bench *bench)
{
  const char *argv[] = { "virsh", "-c", URI, "list", "--all", "--name", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) names = NULL;
  guint left = 0;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                     NULL, &out, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    {
      g_print ("check: virsh -c " URI " list --all --name failed: %s\n",
               error->message);
      return FALSE;
    }
  names = g_strsplit (out, "\n", -1);
  for (guint i = 0; names[i] != NULL; i++)
    {
      const char *name = g_strstrip (names[i]);
      virDomainPtr dom;
      char uuid[VIR_UUID_STRING_BUFLEN];

      if (!g_str_has_prefix (name, "instance-") ||
          strlen (name) != strlen ("instance-") + 8)
        continue;
      dom = virDomainLookupByName (bench->conn, name);
      if (dom == NULL)
        continue;
      if (virDomainGetUUIDString (dom, uuid) == 0 && is_our_uuid (bench, uuid))
        {
          g_print ("check: %s (uuid %s) is still defined\n", name, uuid);
          left++;
        }
      virDomainFree (dom);
    }
  g_print ("check: virsh -c " URI " list --all --name shows %u of the %u "
           "domains this run may have made: %s\n", left, bench->uuids->len,
           left == 0 ? "clean" : "NOT CLEAN");
  return left == 0;
}

/* Runs whatever happened before: deletes the servers through the daemon,
 * stops it, removes any domain still under one of our uuids, then the
 * directories.  The daemon is stopped before libvirt is looked at, so a
 * spawn it still ran cannot define a domain behind that look.  Returns
 * whether nothing was left. */
static gboolean
bench_cleanup (Bench *bench)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *bridge_path = g_build_filename ("/sys/class/net",
                                                   bench->bridge, NULL);
  gboolean clean = TRUE;

  g_clear_pointer (&bench->virt, nlx_virt_close);
  if (g_hash_table_size (bench->live) > 0 && daemon_alive (bench, NULL) &&
      !api_delete_all (bench, FALSE, 60 + g_hash_table_size (bench->live),
                       NULL, &error))
    {
      g_printerr ("bench-api: cleanup through the API: %s; removing the "
                  "domains through libvirt instead\n", error->message);
      g_clear_error (&error);
    }
  daemon_stop (bench);

  for (guint i = 0; i < bench->uuids->len; i++)
    {
      const char *uuid = g_ptr_array_index (bench->uuids, i);
      virDomainPtr dom = virDomainLookupByUUIDString (bench->conn, uuid);

      if (dom == NULL)
        continue;
      g_printerr ("bench-api: domain %s of uuid %s was left; removing it\n",
                  virDomainGetName (dom), uuid);
      if ((virDomainIsActive (dom) == 1 && virDomainDestroy (dom) < 0) ||
          (virDomainIsPersistent (dom) == 1 && virDomainUndefine (dom) < 0))
        {
          nlx_lxc_error_from_libvirt (&error);
          g_printerr ("bench-api: cleanup of domain %s failed: %s; remove it "
                      "with virsh -c " URI " destroy and undefine\n", uuid,
                      error->message);
          g_clear_error (&error);
          clean = FALSE;
        }
      virDomainFree (dom);
    }

  /* The daemon's lock of the bench's bridge, which nothing else removes. */
  {
    g_autofree char *name = g_strdup_printf ("bridge-%s.lock", bench->bridge);
    g_autofree char *lock = g_build_filename (NLX_RUN_DIR, name, NULL);

    g_unlink (lock);
  }
  if (g_file_test (bridge_path, G_FILE_TEST_EXISTS) &&
      !g_spawn_sync (NULL, (char **) (const char * const []) {
                       "ip", "link", "del", bench->bridge, NULL },
                     NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                     &error))
    {
      g_printerr ("bench-api: cannot remove bridge %s: %s; remove it with "
                  "ip link del %s\n", bench->bridge, error->message,
                  bench->bridge);
      g_clear_error (&error);
      clean = FALSE;
    }
  /* The daemon leaves its bridge's firewall tables when it stops. */
  if (!nlx_network_filter_delete (bench->bridge, &error))
    {
      g_printerr ("bench-api: %s\n", error->message);
      g_clear_error (&error);
      clean = FALSE;
    }
  if (!nlx_file_remove_tree (bench->tmp_dir, &error))
    {
      g_printerr ("bench-api: %s\n", error->message);
      g_clear_error (&error);
      clean = FALSE;
    }
  return check_virsh (bench) && clean;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) live = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  g_autofree char *tmp_dir = NULL;
  g_autofree char *bridge = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *socket_path = NULL;
  g_autofree char *log_path = NULL;
  Bench bench = { 0 };
  gboolean ok;

  context = g_option_context_new ("- time the Compute API of a private "
                                  "nova-lxc-compute against the lxc driver");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) ||
      opt_boots < 1 || opt_instances < 1 || opt_concurrent < 1 ||
      opt_concurrent > 1000 || argc > 1)
    {
      g_printerr ("bench-api: %s\n",
                  error ? error->message : "--boots and --instances must be "
                  "1 or more, --concurrent 1 to 1000, and there are no "
                  "arguments");
      return EXIT_USAGE;
    }

  nlx_lxc_error_silence_libvirt ();
  bench.conn = virConnectOpen (URI);
  if (bench.conn == NULL)
    {
      nlx_lxc_error_from_libvirt (&error);
      g_print ("bench-api: SKIP: libvirt at " URI " is not reachable (is "
               "libvirtd running, with its LXC driver, and are you root?): "
               "%s\n", error->message);
      return EXIT_SKIP;
    }

  tmp_dir = g_dir_make_tmp ("nlx-bench-api-XXXXXX", &error);
  /* Instances' root, an unprivileged uid, must reach their roots. */
  if (tmp_dir != NULL)
    g_chmod (tmp_dir, 0711);
  if (tmp_dir == NULL)
    {
      g_printerr ("bench-api: %s\n", error->message);
      virConnectClose (bench.conn);
      return 1;
    }
  config_path = g_build_filename (tmp_dir, "nova-lxc.conf", NULL);
  bridge = g_strdup_printf ("nlxb%06x", (guint) getpid () & 0xffffff);
  socket_path = g_build_filename (tmp_dir, "compute.sock", NULL);
  log_path = opt_daemon_log ? g_strdup (opt_daemon_log)
                            : g_build_filename (tmp_dir, "compute.log", NULL);
  bench.tmp_dir = tmp_dir;
  bench.config_path = config_path;
  bench.bridge = bridge;
  bench.socket_path = socket_path;
  bench.log_path = log_path;
  bench.uuids = uuids;
  bench.live = live;
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  /* A daemon gone mid-request must fail the request, not the bench. */
  signal (SIGPIPE, SIG_IGN);

  ok = run (&bench, &error);
  if (!ok)
    {
      g_printerr ("bench-api: %s\n", error->message);
      if (!interrupted)
        print_log_tail (&bench, 20);
    }
  ok = bench_cleanup (&bench) && ok;
  g_clear_pointer (&bench.image, nlx_image_free);
  virConnectClose (bench.conn);
  return ok ? 0 : 1;
}
