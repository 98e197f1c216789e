/* bench-list: what the server lists cost with many servers
 *
 * Starts a private nova-lxc-compute on the fake driver (no containers:
 * only the daemon's own work is measured), creates --servers servers
 * through the API, and times the lists clients make: GET /servers/detail
 * of one page of them all (at 2.1, at the latest microversion, and after
 * one server changed), /servers, paging with limit and marker, and
 * changes-since; then reads the daemon's resident memory.  With
 * --baseline, a second daemon (another build, e.g. main's) gets the same
 * servers and every timed request goes to each in turn, so the two
 * columns are measured side by side on the same load.  A benchmark, not
 * a test: it exits 0 whether or not a target is met, 1 when the
 * benchmark itself failed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "nlx-bench.h"
#include "nlx-bench-api.h"
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
static char *opt_baseline = NULL;

static const GOptionEntry entries[] = {
  { "servers", 'n', 0, G_OPTION_ARG_INT, &opt_servers,
    "Servers to list (default 1000)", "N" },
  { "requests", 'r', 0, G_OPTION_ARG_INT, &opt_requests,
    "Requests timed for each figure (default 30)", "N" },
  { "daemon-log", 0, 0, G_OPTION_ARG_FILENAME, &opt_daemon_log,
    "Keep the daemon's log in FILE (default: removed with the rest)",
    "FILE" },
  { "baseline", 0, 0, G_OPTION_ARG_FILENAME, &opt_baseline,
    "Also measure this nova-lxc-compute (a build tree's), side by side",
    "PATH" },
  G_OPTION_ENTRY_NULL
};

static volatile sig_atomic_t interrupted = 0;

static void
on_signal (int signum G_GNUC_UNUSED)
{
  interrupted = 1;
}

/* One daemon measured: this build's, or --baseline. */
typedef struct {
  const char *label;
  const char *program;          /* NULL: this build tree's */
  char *dir;
  char *socket_path;
  char *log_path;
  GPid daemon;
  SoupSession *session;
} Bench;

#define MAX_DAEMONS 2
static Bench daemons[MAX_DAEMONS];
static guint n_daemons;

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
  g_autoptr(SoupMessage) msg = nlx_bench_api_message (method, path, version,
                                                      body);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  gint64 start = g_get_monotonic_time ();
  gsize size;
  const char *data;

  if (interrupted)
    return fail (error, "Interrupted");
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
          SoupMessage *msg = nlx_bench_api_message ("POST", "/servers", NULL,
                                                    body);

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

/* Prints one figure: each daemon's p50 and p90, and with a baseline
 * the ratio of the p50s. */
static void
print_figure (const char *what,
              GArray **samples,
              guint listed,
              gsize length)
{
  g_print ("%-36s %5u  %6" G_GSIZE_FORMAT " KiB", what, listed,
           length / 1024);
  for (guint d = 0; d < n_daemons; d++)
    g_print (" | %s p50 %7.2f p90 %7.2f", daemons[d].label,
             nlx_bench_percentile (samples[d], 50),
             nlx_bench_percentile (samples[d], 90));
  if (n_daemons > 1)
    g_print (" | ratio %.2f", nlx_bench_percentile (samples[0], 50) /
                              nlx_bench_percentile (samples[1], 50));
  g_print ("\n");
}

/* Times --requests of GET @path on each daemon in turn; @p50 gets this
 * build's. */
static gboolean
time_list (const char *what,
           const char *path,
           const char *version,
           guint expect_listed,
           double *p50,
           GError **error)
{
  g_autoptr(GArray) samples0 = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) samples1 = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *samples[MAX_DAEMONS] = { samples0, samples1 };
  gsize length = 0;
  guint listed = 0;

  for (int i = 0; i < opt_requests; i++)
    for (guint d = 0; d < n_daemons; d++)
      {
        g_autoptr(JsonNode) reply = NULL;
        double ms;

        if (!api_call (&daemons[d], "GET", path, version, NULL, 200, &reply,
                       &ms, &length, error))
          return FALSE;
        g_array_append_val (samples[d], ms);
        listed = json_array_get_length (servers_of (reply));
        if (listed != expect_listed)
          return fail (error, "%s: %s listed %u servers, not %u",
                       daemons[d].label, path, listed, expect_listed);
      }
  print_figure (what, samples, listed, length);
  if (p50 != NULL)
    *p50 = nlx_bench_percentile (samples0, 50);
  return TRUE;
}

/* Walks every page of PAGE_SIZE with limit and marker, as a client
 * reading them all does: the time of one page, and of the walk. */
static gboolean
time_paging (GError **error)
{
  g_autoptr(GArray) pages0 = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) pages1 = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) walks0 = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) walks1 = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *pages[MAX_DAEMONS] = { pages0, pages1 };
  GArray *walks[MAX_DAEMONS] = { walks0, walks1 };

  for (int r = 0; r < MAX (opt_requests / 5, 1); r++)
    for (guint d = 0; d < n_daemons; d++)
      {
        g_autofree char *marker = NULL;
        double walk = 0;
        guint seen = 0;

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

            if (!api_call (&daemons[d], "GET", path, NULL, NULL, 200, &reply,
                           &ms, NULL, error))
              return FALSE;
            g_array_append_val (pages[d], ms);
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
        if (seen != (guint) opt_servers)
          return fail (error, "%s: paging saw %u servers, not %d",
                       daemons[d].label, seen, opt_servers);
        g_array_append_val (walks[d], walk);
      }
  print_figure ("GET /servers/detail?limit=" G_STRINGIFY (PAGE_SIZE)
                "&marker", pages, MIN (PAGE_SIZE, opt_servers), 0);
  print_figure ("  the walk through every page", walks, opt_servers, 0);
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

static void
child_setup (gpointer data G_GNUC_UNUSED)
{
  setpgid (0, 0);
}

/* --baseline: started as nlx_bench_daemon_start() starts this build's,
 * and waited for until it answers. */
static gboolean
start_program (Bench *bench,
               const char *config_path,
               GError **error)
{
  const char *argv[] = { bench->program, "--config", config_path, NULL };
  gint64 deadline = g_get_monotonic_time () +
                    DAEMON_START_TIMEOUT_S * G_USEC_PER_SEC;
  int log_fd = open (bench->log_path, O_WRONLY | O_CREAT | O_TRUNC |
                                      O_CLOEXEC, 0600);
  gboolean ok;

  if (log_fd < 0)
    return fail (error, "Cannot open %s: %s", bench->log_path,
                 g_strerror (errno));
  ok = g_spawn_async_with_fds (NULL, (char **) argv, NULL,
                               G_SPAWN_DO_NOT_REAP_CHILD |
                               G_SPAWN_STDIN_FROM_DEV_NULL, child_setup,
                               NULL, &bench->daemon, -1, log_fd, log_fd,
                               error);
  close (log_fd);
  if (!ok)
    return FALSE;
  while (g_get_monotonic_time () < deadline && !interrupted)
    {
      int status;

      if (waitpid (bench->daemon, &status, WNOHANG) != 0)
        {
          bench->daemon = 0;
          return fail (error, "%s exited at start; see %s", bench->program,
                       bench->log_path);
        }
      if (api_call (bench, "GET", "", NULL, NULL, 200, NULL, NULL, NULL,
                    NULL))
        return TRUE;
      g_usleep (50 * 1000);
    }
  return fail (error, "%s did not answer within %d s", bench->program,
               DAEMON_START_TIMEOUT_S);
}

static gboolean
start (Bench *bench,
       GError **error)
{
  g_autofree char *config_path = g_build_filename (bench->dir, "nova-lxc.conf",
                                                   NULL);
  g_autofree char *image = g_build_filename (bench->dir, "image", NULL);
  g_autofree char *config = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  if (g_mkdir (image, 0755) != 0)
    return fail (error, "Cannot make %s: %s", image, g_strerror (errno));
  config = g_strdup_printf (
    "[DEFAULT]\ncompute_driver = fake\nstate_path = %s/state\n"
    "[api]\nsocket = %s\n"
    "[fake]\ndelay_ms = 0\nvcpus = 4096\n"
    /* Room for 1,000 addresses (the fake driver makes no bridge). */
    "[network]\ncidr = 198.19.248.0/21\n"
    "[compute]\ncpu_allocation_ratio = 10000\nram_allocation_ratio = 100\n"
    "[image nlxbench]\npath = %s\n", bench->dir, bench->socket_path, image);
  if (!g_file_set_contents (config_path, config, -1, error))
    return FALSE;
  address = g_unix_socket_address_new (bench->socket_path);
  bench->session = soup_session_new_with_options (
    "remote-connectable", address, "timeout", REQUEST_TIMEOUT_S,
    "max-conns", CONCURRENT + 4, "max-conns-per-host", CONCURRENT + 4, NULL);
  if (bench->program != NULL)
    return start_program (bench, config_path, error);
  return nlx_bench_daemon_start (config_path, bench->socket_path,
                                 bench->log_path, FALSE,
                                 DAEMON_START_TIMEOUT_S, &interrupted,
                                 &bench->daemon, error);
}

/* Renames the first server of each daemon's list: returns the
 * changes-since that finds it alone. */
static char *
change_one (GError **error)
{
  g_autoptr(GDateTime) now = NULL;

  /* changes-since is to the second: a second after the last create, and
   * a second before the change. */
  g_usleep (1100 * 1000);
  now = g_date_time_new_now_utc ();
  g_usleep (1100 * 1000);
  for (guint d = 0; d < n_daemons; d++)
    {
      g_autoptr(JsonNode) first = NULL;
      g_autofree char *path = NULL;

      if (!api_call (&daemons[d], "GET", "/servers?limit=1", NULL, NULL, 200,
                     &first, NULL, NULL, error))
        return NULL;
      path = g_strconcat ("/servers/", json_object_get_string_member (
        json_array_get_object_element (servers_of (first), 0), "id"), NULL);
      if (!api_call (&daemons[d], "PUT", path, NULL,
                     "{\"server\": {\"name\": \"nlxbench-renamed\"}}", 200,
                     NULL, NULL, NULL, error))
        return NULL;
    }
  return g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
}

static gboolean
run (GError **error)
{
  g_autofree char *changed_path = NULL;
  g_autofree char *detail_path = g_strdup_printf ("/servers/detail?limit=%d",
                                                  opt_servers);
  g_autofree char *list_path = g_strdup_printf ("/servers?limit=%d",
                                                opt_servers);
  g_autofree char *since = NULL;
  double detail = 0, latest = 0, rss[MAX_DAEMONS] = { 0 };

  for (guint d = 0; d < n_daemons; d++)
    {
      if (!start (&daemons[d], error))
        return FALSE;
      g_print ("bench-list: %s: %s pid %d on the fake driver\n",
               daemons[d].label,
               daemons[d].program ? daemons[d].program : "nova-lxc-compute",
               daemons[d].daemon);
    }
  for (guint d = 0; d < n_daemons; d++)
    if (!fill (&daemons[d], error))
      return FALSE;
  g_print ("%-36s %5s  %10s | p50 and p90 in ms, %d requests each\n",
           "request", "shown", "body", opt_requests);
  if (!time_list ("GET /servers/detail (2.1)", detail_path, NULL,
                  opt_servers, &detail, error) ||
      !time_list ("GET /servers/detail (latest)", detail_path,
                  "compute latest", opt_servers, &latest, error) ||
      !time_list ("GET /servers", list_path, NULL, opt_servers, NULL,
                  error) ||
      !time_paging (error))
    return FALSE;
  /* One server changes on each: the next lists show it, and
   * changes-since finds that one alone. */
  if ((since = change_one (error)) == NULL)
    return FALSE;
  changed_path = g_strdup_printf ("/servers/detail?changes-since=%s", since);
  if (!time_list ("GET /servers/detail after a change", detail_path, NULL,
                  opt_servers, NULL, error) ||
      !time_list ("GET /servers/detail?changes-since", changed_path, NULL, 1,
                  NULL, error))
    return FALSE;
  for (guint d = 0; d < n_daemons; d++)
    {
      if (!daemon_rss_mib (&daemons[d], &rss[d], error))
        return FALSE;
      g_print ("%s: daemon VmRSS with %d servers: %.1f MiB\n",
               daemons[d].label, opt_servers, rss[d]);
    }
  g_print ("target %-44s %-6s (%.1f ms at 2.1, %.1f ms latest)\n",
           "GET /servers/detail p50 < " G_STRINGIFY (DETAIL_P50_TARGET_MS)
           " ms", MAX (detail, latest) < DETAIL_P50_TARGET_MS ? "MET" : "MISSED",
           detail, latest);
  g_print ("target %-44s %-6s (%.1f MiB)\n",
           "daemon VmRSS < " G_STRINGIFY (RSS_TARGET_MIB) " MiB",
           rss[0] < RSS_TARGET_MIB ? "MET" : "MISSED", rss[0]);
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
  g_autofree char *tmp_dir = NULL;
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
  if (opt_baseline != NULL &&
      !g_file_test (opt_baseline, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_printerr ("bench-list: --baseline %s is no program; give a build "
                  "tree's src/nova-lxc-compute\n", opt_baseline);
      return EXIT_USAGE;
    }
  tmp_dir = g_dir_make_tmp ("nlx-bench-list-XXXXXX", &error);
  if (tmp_dir == NULL)
    {
      g_printerr ("bench-list: %s\n", error->message);
      return 1;
    }
  daemons[n_daemons++] = (Bench) { .label = "this", .program = NULL };
  if (opt_baseline != NULL)
    daemons[n_daemons++] = (Bench) { .label = "baseline",
                                     .program = opt_baseline };
  for (guint d = 0; d < n_daemons; d++)
    {
      Bench *bench = &daemons[d];

      bench->dir = g_build_filename (tmp_dir, bench->label, NULL);
      g_mkdir (bench->dir, 0700);
      bench->socket_path = g_build_filename (bench->dir, "compute.sock",
                                             NULL);
      bench->log_path = d == 0 && opt_daemon_log ? g_strdup (opt_daemon_log)
                        : g_build_filename (bench->dir, "compute.log", NULL);
    }
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  signal (SIGPIPE, SIG_IGN);

  ok = run (&error);
  if (!ok)
    g_printerr ("bench-list: %s\n", error->message);
  for (guint d = 0; d < n_daemons; d++)
    {
      g_autofree char *log = NULL;
      gsize length;

      daemon_stop (&daemons[d]);
      /* The log goes with the rest: its end says why it failed. */
      if (!ok && g_file_get_contents (daemons[d].log_path, &log, &length,
                                      NULL))
        g_printerr ("bench-list: %s: the end of its log:\n%s",
                    daemons[d].label, log + (length > 2000 ? length - 2000 : 0));
      g_free (daemons[d].dir);
      g_free (daemons[d].socket_path);
      g_free (daemons[d].log_path);
    }
  if (!nlx_file_remove_tree (tmp_dir, &error))
    {
      g_printerr ("bench-list: %s\n", error->message);
      ok = FALSE;
    }
  return ok ? 0 : 1;
}
