/* bench-list: what the server lists cost with many servers
 *
 * Starts a private nova-lxc-compute on the fake driver (no containers:
 * only the daemon's own work is measured), creates --servers servers
 * through the API, and times the lists clients make: GET /servers/detail
 * of one page of them all (at 2.1, at the latest microversion, and after
 * one server changed), /servers, paging with limit and marker, and
 * changes-since; then reads the daemon's resident memory.  A benchmark,
 * not a test: it exits 0 whether or not a target is met, 1 when the
 * benchmark itself failed. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "nlx-bench.h"
#include "common/nlx-file.h"

#define EXIT_USAGE 2
#define DETAIL_P50_TARGET_MS 50
#define RSS_TARGET_MIB 64
#define PAGE_SIZE 100
#define DAEMON_START_TIMEOUT_S 30
#define DAEMON_STOP_TIMEOUT_S 10
#define REQUEST_TIMEOUT_S 120
#define ACTIVE_TIMEOUT_S 300
#define CONCURRENT 20

static int opt_servers = 1000;
static int opt_requests = 30;
static char *opt_daemon_log = NULL;

static const GOptionEntry entries[] = {
  { "servers", 'n', 0, G_OPTION_ARG_INT, &opt_servers,
    "Servers to list (default 1000)", "N" },
  { "requests", 'r', 0, G_OPTION_ARG_INT, &opt_requests,
    "Requests timed for each figure (default 30)", "N" },
  { "daemon-log", 0, 0, G_OPTION_ARG_FILENAME, &opt_daemon_log,
    "Keep the daemon's log in FILE (default: removed with the rest)",
    "FILE" },
  G_OPTION_ENTRY_NULL
};

static volatile sig_atomic_t interrupted = 0;

static void
on_signal (int signum G_GNUC_UNUSED)
{
  interrupted = 1;
}

typedef struct {
  char *tmp_dir;
  char *socket_path;
  char *log_path;
  GPid daemon;
  SoupSession *session;
} Bench;

static gboolean
fail (GError **error,
      const char *format,
      ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error,
      const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, message);
  return FALSE;
}

static SoupMessage *
api_message (const char *method,
             const char *path,
             const char *version,
             const char *body)
{
  g_autofree char *url = g_strconcat ("http://localhost/v2.1", path, NULL);
  SoupMessage *msg = soup_message_new (method, url);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);

  soup_message_headers_append (headers, "Accept", "application/json");
  if (version != NULL)
    soup_message_headers_append (headers, "OpenStack-API-Version", version);
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json",
                                                bytes);
    }
  return msg;
}

/* One request; @reply gets the parsed answer, @ms how long it took. */
static gboolean
api_call (Bench *bench,
          const char *method,
          const char *path,
          const char *version,
          const char *body,
          guint expected,
          JsonNode **reply,
          double *ms,
          gsize *length,
          GError **error)
{
  g_autoptr(SoupMessage) msg = api_message (method, path, version, body);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  gint64 start = g_get_monotonic_time ();
  gsize size;
  const char *data;

  bytes = soup_session_send_and_read (bench->session, msg, NULL, error);
  if (ms != NULL)
    *ms = (g_get_monotonic_time () - start) / 1000.0;
  if (bytes == NULL)
    return FALSE;
  data = g_bytes_get_data (bytes, &size);
  if (length != NULL)
    *length = size;
  if (soup_message_get_status (msg) != expected)
    return fail (error, "%s %s answered %u: %.*s", method, path,
                 soup_message_get_status (msg), (int) MIN (size, 300), data);
  if (reply == NULL || size == 0)
    return TRUE;
  if (!json_parser_load_from_data (parser, data, size, error))
    return FALSE;
  *reply = json_parser_steal_root (parser);
  return TRUE;
}

static JsonArray *
servers_of (JsonNode *reply)
{
  return json_object_get_array_member (json_node_get_object (reply), "servers");
}

static void
on_created (GObject *source,
            GAsyncResult *result,
            gpointer data)
{
  guint *pending = data;
  g_autoptr(GBytes) bytes = NULL;

  bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
                                             NULL);
  (*pending)--;
}

/* --servers creates, CONCURRENT at once, then waits until they are all
 * ACTIVE. */
static gboolean
fill (Bench *bench,
      GError **error)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + ACTIVE_TIMEOUT_S * G_USEC_PER_SEC;

  for (int made = 0; made < opt_servers; made += CONCURRENT)
    {
      g_autoptr(GPtrArray) msgs = g_ptr_array_new_with_free_func (g_object_unref);
      guint pending = MIN (CONCURRENT, opt_servers - made);

      for (guint i = 0, n = pending; i < n; i++)
        {
          g_autofree char *body =
            g_strdup_printf ("{\"server\": {\"name\": \"nlxbench-%d\", "
                             "\"flavorRef\": \"m1.nano\", \"imageRef\": "
                             "\"nlxbench\", \"metadata\": {\"bench\": "
                             "\"list\", \"n\": \"%d\"}}}", made + i,
                             made + i);
          SoupMessage *msg = api_message ("POST", "/servers", NULL, body);

          g_ptr_array_add (msgs, msg);
          soup_session_send_and_read_async (bench->session, msg,
                                            G_PRIORITY_DEFAULT, NULL,
                                            on_created, &pending);
        }
      while (pending > 0)
        g_main_context_iteration (NULL, TRUE);
      for (guint i = 0; i < msgs->len; i++)
        if (soup_message_get_status (msgs->pdata[i]) != SOUP_STATUS_ACCEPTED)
          return fail (error, "POST /servers answered %u",
                       soup_message_get_status (msgs->pdata[i]));
      if (interrupted)
        return fail (error, "Interrupted");
    }
  for (;;)
    {
      g_autoptr(JsonNode) reply = NULL;
      g_autofree char *path =
        g_strdup_printf ("/servers?status=ACTIVE&limit=%d", opt_servers);
      guint active;

      if (!api_call (bench, "GET", path, NULL, NULL, 200, &reply, NULL, NULL,
                     error))
        return FALSE;
      active = json_array_get_length (servers_of (reply));
      if (active == (guint) opt_servers)
        break;
      if (interrupted || g_get_monotonic_time () > deadline)
        return fail (error, "%u of %d servers ACTIVE after %d s", active,
                     opt_servers, ACTIVE_TIMEOUT_S);
      g_usleep (100 * 1000);
    }
  g_print ("%d servers ACTIVE in %.1f s\n", opt_servers,
           (g_get_monotonic_time () - start) / 1e6);
  return TRUE;
}

/* Times --requests of GET @path; returns the p50 in ms, or < 0. */
static double
time_list (Bench *bench,
           const char *what,
           const char *path,
           const char *version,
           guint expect_listed,
           GError **error)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  gsize length = 0;
  guint listed = 0;
  double p50;

  for (int i = 0; i < opt_requests; i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      double ms;

      if (!api_call (bench, "GET", path, version, NULL, 200, &reply, &ms,
                     &length, error))
        return -1;
      g_array_append_val (samples, ms);
      listed = json_array_get_length (servers_of (reply));
    }
  if (listed != expect_listed)
    {
      fail (error, "%s listed %u servers, not %u", path, listed,
            expect_listed);
      return -1;
    }
  p50 = nlx_bench_percentile (samples, 50);
  g_print ("%-34s %5u servers  p50 %7.2f ms  p90 %7.2f ms  max %7.2f ms  "
           "%5" G_GSIZE_FORMAT " KiB\n", what, listed, p50,
           nlx_bench_percentile (samples, 90),
           nlx_bench_percentile (samples, 100), length / 1024);
  return p50;
}

/* Walks every page of @PAGE_SIZE with limit and marker, as a client
 * reading them all does; prints the p50 of one page and the walk's
 * time. */
static gboolean
time_paging (Bench *bench,
             GError **error)
{
  g_autoptr(GArray) pages = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) walks = g_array_new (FALSE, FALSE, sizeof (double));
  guint seen = 0;

  for (int r = 0; r < MAX (opt_requests / 5, 1); r++)
    {
      g_autofree char *marker = NULL;
      double walk = 0;

      seen = 0;
      for (;;)
        {
          g_autoptr(JsonNode) reply = NULL;
          g_autofree char *path =
            marker ? g_strdup_printf ("/servers/detail?limit=%d&marker=%s",
                                      PAGE_SIZE, marker)
                   : g_strdup_printf ("/servers/detail?limit=%d", PAGE_SIZE);
          JsonArray *servers;
          guint n;
          double ms;

          if (!api_call (bench, "GET", path, NULL, NULL, 200, &reply, &ms,
                         NULL, error))
            return FALSE;
          g_array_append_val (pages, ms);
          walk += ms;
          servers = servers_of (reply);
          n = json_array_get_length (servers);
          seen += n;
          if (n < PAGE_SIZE || seen >= (guint) opt_servers)
            break;
          g_free (marker);
          marker = g_strdup (json_object_get_string_member (
            json_array_get_object_element (servers, n - 1), "id"));
        }
      g_array_append_val (walks, walk);
    }
  if (seen != (guint) opt_servers)
    return fail (error, "paging saw %u servers, not %d", seen, opt_servers);
  g_print ("%-34s %5d servers  p50 %7.2f ms  p90 %7.2f ms (one page); "
           "all pages p50 %.2f ms\n", "GET /servers/detail?limit=" G_STRINGIFY (PAGE_SIZE) "&marker",
           MIN (PAGE_SIZE, opt_servers), nlx_bench_percentile (pages, 50),
           nlx_bench_percentile (pages, 90), nlx_bench_percentile (walks, 50));
  return TRUE;
}

static gboolean
daemon_rss_mib (Bench *bench,
                double *mib,
                GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", bench->daemon);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  line = strstr (text, "\nVmRSS:");
  if (line == NULL)
    return fail (error, "%s has no VmRSS", path);
  *mib = g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10) / 1024.0;
  return TRUE;
}

static gboolean
run (Bench *bench,
     GError **error)
{
  g_autofree char *config_path = g_build_filename (bench->tmp_dir,
                                                   "nova-lxc.conf", NULL);
  g_autofree char *image = g_build_filename (bench->tmp_dir, "image", NULL);
  g_autofree char *config = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(JsonNode) first = NULL;
  g_autofree char *since = NULL;
  g_autofree char *changed_path = NULL;
  g_autofree char *detail_path = g_strdup_printf ("/servers/detail?limit=%d",
                                                  opt_servers);
  g_autofree char *list_path = g_strdup_printf ("/servers?limit=%d",
                                                opt_servers);
  g_autoptr(GDateTime) now = NULL;
  const char *id;
  double detail, latest, after_change, rss = 0;

  if (g_mkdir (image, 0755) != 0)
    return fail (error, "Cannot make %s: %s", image, g_strerror (errno));
  config = g_strdup_printf (
    "[DEFAULT]\ncompute_driver = fake\nstate_path = %s/state\n"
    "[api]\nsocket = %s\n"
    "[fake]\ndelay_ms = 0\nvcpus = 4096\n"
    /* Room for 1,000 addresses (the fake driver makes no bridge). */
    "[network]\ncidr = 198.19.248.0/21\n"
    "[compute]\ncpu_allocation_ratio = 10000\nram_allocation_ratio = 100\n"
    "[image nlxbench]\npath = %s\n", bench->tmp_dir, bench->socket_path,
    image);
  if (!g_file_set_contents (config_path, config, -1, error) ||
      !nlx_bench_daemon_start (config_path, bench->socket_path,
                               bench->log_path, FALSE, DAEMON_START_TIMEOUT_S,
                               &interrupted, &bench->daemon, error))
    return FALSE;
  address = g_unix_socket_address_new (bench->socket_path);
  bench->session = soup_session_new_with_options (
    "remote-connectable", address, "timeout", REQUEST_TIMEOUT_S,
    "max-conns", CONCURRENT + 4, "max-conns-per-host", CONCURRENT + 4, NULL);
  g_print ("bench-list: nova-lxc-compute pid %d on the fake driver; "
           "%d servers, %d requests a figure\n", bench->daemon, opt_servers,
           opt_requests);
  if (!fill (bench, error))
    return FALSE;

  if ((detail = time_list (bench, "GET /servers/detail (2.1)", detail_path,
                           NULL, opt_servers, error)) < 0 ||
      (latest = time_list (bench, "GET /servers/detail (latest)", detail_path,
                           "compute latest", opt_servers, error)) < 0 ||
      time_list (bench, "GET /servers", list_path, NULL, opt_servers,
                 error) < 0 ||
      !time_paging (bench, error))
    return FALSE;

  /* One server changes: the next lists show it, and changes-since finds
   * that one alone. */
  if (!api_call (bench, "GET", "/servers?limit=1", NULL, NULL, 200, &first,
                 NULL, NULL, error))
    return FALSE;
  id = json_object_get_string_member (
    json_array_get_object_element (servers_of (first), 0), "id");
  /* changes-since is to the second: a second after the last create, and
   * a second before the change. */
  g_usleep (1100 * 1000);
  now = g_date_time_new_now_utc ();
  g_usleep (1100 * 1000);
  since = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
  {
    g_autofree char *path = g_strconcat ("/servers/", id, NULL);

    if (!api_call (bench, "PUT", path, NULL,
                   "{\"server\": {\"name\": \"nlxbench-renamed\"}}", 200,
                   NULL, NULL, NULL, error))
      return FALSE;
  }
  changed_path = g_strdup_printf ("/servers/detail?changes-since=%s", since);
  if ((after_change = time_list (bench, "GET /servers/detail after a change",
                                 detail_path, NULL, opt_servers, error)) < 0 ||
      time_list (bench, "GET /servers/detail?changes-since", changed_path,
                 NULL, 1, error) < 0)
    return FALSE;
  if (!daemon_rss_mib (bench, &rss, error))
    return FALSE;
  g_print ("daemon VmRSS with %d servers: %.1f MiB\n", opt_servers, rss);
  g_print ("target %-44s %-6s (%.1f ms at 2.1, %.1f ms latest)\n",
           "GET /servers/detail p50 < " G_STRINGIFY (DETAIL_P50_TARGET_MS)
           " ms", MAX (detail, latest) < DETAIL_P50_TARGET_MS ? "MET" : "MISSED",
           detail, latest);
  g_print ("target %-44s %-6s (%.1f MiB)\n",
           "daemon VmRSS < " G_STRINGIFY (RSS_TARGET_MIB) " MiB",
           rss < RSS_TARGET_MIB ? "MET" : "MISSED", rss);
  (void) after_change;
  return TRUE;
}

static void
daemon_stop (Bench *bench)
{
  gint64 deadline = g_get_monotonic_time () +
                    DAEMON_STOP_TIMEOUT_S * G_USEC_PER_SEC;
  int status;

  g_clear_object (&bench->session);
  if (bench->daemon == 0)
    return;
  kill (bench->daemon, SIGTERM);
  while (g_get_monotonic_time () < deadline)
    {
      if (waitpid (bench->daemon, &status, WNOHANG) != 0)
        {
          bench->daemon = 0;
          return;
        }
      g_usleep (20 * 1000);
    }
  g_printerr ("bench-list: nova-lxc-compute %d did not stop within %d s of "
              "SIGTERM; killing it\n", bench->daemon, DAEMON_STOP_TIMEOUT_S);
  kill (bench->daemon, SIGKILL);
  waitpid (bench->daemon, &status, 0);
  bench->daemon = 0;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  Bench bench = { 0 };
  gboolean ok;

  context = g_option_context_new ("- time the server lists of a private "
                                  "nova-lxc-compute on the fake driver");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) ||
      opt_servers < 1 || opt_servers > 1000 || opt_requests < 1 || argc > 1)
    {
      g_printerr ("bench-list: %s\n",
                  error ? error->message : "--servers must be 1 to 1000 (one "
                  "page), --requests 1 or more, and there are no arguments");
      return EXIT_USAGE;
    }
  bench.tmp_dir = g_dir_make_tmp ("nlx-bench-list-XXXXXX", &error);
  if (bench.tmp_dir == NULL)
    {
      g_printerr ("bench-list: %s\n", error->message);
      return 1;
    }
  bench.socket_path = g_build_filename (bench.tmp_dir, "compute.sock", NULL);
  bench.log_path = opt_daemon_log ? g_strdup (opt_daemon_log)
                                  : g_build_filename (bench.tmp_dir,
                                                      "compute.log", NULL);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  signal (SIGPIPE, SIG_IGN);

  ok = run (&bench, &error);
  if (!ok)
    g_printerr ("bench-list: %s (the daemon's log: %s)\n", error->message,
                bench.log_path);
  daemon_stop (&bench);
  if (!nlx_file_remove_tree (bench.tmp_dir, &error))
    {
      g_printerr ("bench-list: %s\n", error->message);
      ok = FALSE;
    }
  g_free (bench.tmp_dir);
  g_free (bench.socket_path);
  g_free (bench.log_path);
  return ok ? 0 : 1;
}
