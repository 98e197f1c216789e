/* bench-scale [--count N] [--batch B] [--report-every SERVERS] [--delete-concurrency C] [--cidr NET] [--no-libvirt-alone]: how a private nova-lxc-compute on the lxc driver scales to N servers on one host, as root
 *
 * Starts a daemon of its own (state, instances, bridge nlxk<hex> on
 * 198.19.224.0/21 or --cidr, a busybox root from tools/mkrootfs as a directory
 * image, the built-in m1.nano flavor) and boots servers through the
 * Compute API in batches of B concurrent creates up to N, waiting for
 * each batch to be ACTIVE.  Every --report-every servers (and after the
 * first and the last batch) it prints a row: the servers running, the
 * last batch's boot p50/p90 (POST to ACTIVE), the CPU time it took per
 * server (the daemon's with its children's, libvirtd's, the whole
 * host's, the bench's own polling included), the p50 of GET
 * /servers/detail, GET /servers, a page of the detail list
 * (limit=100 from a marker half-way) and a changes-since call, the
 * daemon's and libvirtd's RSS and fds, the mounts of libvirtd's and of
 * the run's controllers' namespaces, and the host's mount objects
 * (mnt_cache in /proc/slabinfo).  Then it deletes them all: a tenth (at
 * most ALONE_DELETES) one at a time, the rest C at once, the last tenth
 * one at a time; it prints the concurrent part's time, deletes a second
 * and DELETE to 404 p50/p90, the one-at-a-time p50 with N running and
 * with few, checks that nothing of the run is left, and prints the
 * targets of issue 17 as MET or MISSED.
 *
 * Side by side with each row's batch (unless --no-libvirt-alone, for
 * runs at once), libvirt alone: B transient domains
 * of the XML the driver builds (a busybox root of their own, the same
 * user namespace, no overlay and no network) created at once with
 * virDomainCreateXML, timed until their init runs, and destroyed again.
 * With --libvirt-only no daemon runs: the N are libvirt alone's, booted
 * in batches the same way, so libvirt's own growth with N shows without
 * any instance's mounts in libvirtd's namespace.  How their p50 grows with N is
 * what libvirt itself adds, whatever nova-lxc does.
 *
 * It refuses to start (exit 77, saying what to raise) when the host has
 * not the memory, ptys, fds, tasks or bridge ports for N.  A benchmark,
 * not a test: it exits 0 whether or not a target is met, 1 when the
 * benchmark itself failed, 77 when there is no libvirt LXC. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>

#include <libvirt/libvirt.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "nlx-bench.h"
#include "nlx-bench-api.h"
#include "nlx-bench-scale.h"
#include "common/nlx-error.h"
#include "common/nlx-idmap.h"
#include "lxc/nlx-lxc-domain.h"
#include "lxc/nlx-lxc-error.h"
#include "model/nlx-instance.h"

static int opt_count = 1000;
static int opt_batch = 20;
static int opt_report_every = 100;
static int opt_delete_concurrency = 20;
static int opt_requests = 20;
static char *opt_daemon_log = NULL;
static gboolean opt_libvirt_only = FALSE;
static char *opt_cidr = NULL;
static gboolean opt_no_libvirt_alone = FALSE;

static const GOptionEntry entries[] = {
  { "count", 'n', 0, G_OPTION_ARG_INT, &opt_count,
    "Servers to boot (default 1000)", "N" },
  { "batch", 'b', 0, G_OPTION_ARG_INT, &opt_batch,
    "Creates sent at once; each batch is ACTIVE before the next "
    "(default 20)", "B" },
  { "report-every", 'r', 0, G_OPTION_ARG_INT, &opt_report_every,
    "Print a row each time this many more servers run (default 100; "
    "a batch size or less prints every batch)", "SERVERS" },
  { "delete-concurrency", 'c', 0, G_OPTION_ARG_INT, &opt_delete_concurrency,
    "Deletes sent at once in the teardown (default 20)", "C" },
  { "requests", 0, 0, G_OPTION_ARG_INT, &opt_requests,
    "Requests of each list call per row (default 20)", "R" },
  { "daemon-log", 0, 0, G_OPTION_ARG_FILENAME, &opt_daemon_log,
    "Keep the daemon's log in FILE (default: removed with the rest)",
    "FILE" },
  { "cidr", 0, 0, G_OPTION_ARG_STRING, &opt_cidr,
    "The servers' IPv4 network, the daemon's [network] cidr (default "
    CIDR "); another for each bench-scale run at once", "A.B.C.D/LENGTH" },
  { "no-libvirt-alone", 0, 0, G_OPTION_ARG_NONE, &opt_no_libvirt_alone,
    "No libvirt alone beside each row: for runs at once, whose side "
    "measurements (libvirt's slow destroys) would stall each other's "
    "batches", NULL },
  { "libvirt-only", 0, 0, G_OPTION_ARG_NONE, &opt_libvirt_only,
    "Boot the N through libvirt alone, no daemon: how libvirt's own batch "
    "boot grows with N", NULL },
  G_OPTION_ENTRY_NULL
};

static volatile sig_atomic_t interrupted = 0;

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

/* ---- HTTP ------------------------------------------------------------- */

static SoupSession *
session_new (Scale *scale)
{
  g_autoptr(GSocketAddress) address =
    g_unix_socket_address_new (scale->socket_path);

  return soup_session_new_with_options ("remote-connectable", address,
                                        "timeout", REQUEST_TIMEOUT_S, NULL);
}

/* Fails only when there is no answer, or one that is not JSON. */
static gboolean
api_call (SoupSession *session,
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

  return nlx_bench_api_send (session, msg, method, path, status, reply,
                             length, error);
}

/* How long to wait before looking again at something that began
 * @elapsed_us ago: a tenth of it, 5 ms to 100 ms, so a time measured by
 * polling is at most ~10% long, without 20 pollers flooding the daemon.
 * With @alone (one poller, timing a delete of well under 0.1 s against
 * a 0.1 s target), a 25th of it, 2 ms to 100 ms: at most ~4% and 2 ms
 * long, one GET every few milliseconds. */
static void
poll_sleep (gint64 elapsed_us,
            gboolean alone)
{
  if (alone)
    g_usleep (CLAMP (elapsed_us / 25, 2 * 1000, 100 * 1000));
  else
    g_usleep (CLAMP (elapsed_us / 10, 5 * 1000, 100 * 1000));
}

/* ---- jobs: a boot or a delete, run C at a time ------------------------ */

typedef struct Job Job;
typedef gboolean (*JobFunc) (Scale *scale,
                             SoupSession *session,
                             Job *job,
                             GError **error);

struct Job {
  char *id;
  double seconds;
  GError *error;
  char *xml;                    /* libvirt alone: its domain's XML */
  virDomainPtr dom;             /* and the domain, until destroyed */
};

typedef struct {
  Scale *scale;
  JobFunc func;
  Job *jobs;
  guint n;
  gint next;                    /* atomic */
} Pool;

static gpointer
pool_thread (gpointer data)
{
  Pool *pool = data;
  g_autoptr(SoupSession) session = session_new (pool->scale);

  for (;;)
    {
      guint i = (guint) g_atomic_int_add (&pool->next, 1);

      if (i >= pool->n)
        return NULL;
      if (interrupted)
        {
          g_set_error_literal (&pool->jobs[i].error, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_FAILED, "Interrupted");
          continue;
        }
      pool->func (pool->scale, session, &pool->jobs[i], &pool->jobs[i].error);
    }
}

static void
pool_run (Scale *scale,
          JobFunc func,
          Job *jobs,
          guint n,
          guint concurrency)
{
  Pool pool = { scale, func, jobs, n, 0 };
  g_autoptr(GPtrArray) threads = g_ptr_array_new ();

  for (guint i = 0; i < MIN (concurrency, n); i++)
    g_ptr_array_add (threads, g_thread_new ("job", pool_thread, &pool));
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (threads->pdata[i]);
}

/* POST, then GET the server until it is ACTIVE. */
static gboolean
boot_job (Scale *scale,
          SoupSession *session,
          Job *job,
          GError **error)
{
  g_autofree char *name = NULL;
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) reply = NULL;
  gint64 start;
  guint status;
  const char *id;

  g_mutex_lock (&scale->lock);
  name = g_strdup_printf ("nlxscale-%s-%u", scale->tag, ++scale->names);
  g_mutex_unlock (&scale->lock);
  body = g_strdup_printf ("{\"server\": {\"name\": \"%s\", \"flavorRef\": \""
                          FLAVOR "\", \"imageRef\": \"" IMAGE "\"}}", name);
  start = g_get_monotonic_time ();
  if (!api_call (session, "POST", "/servers", body, &status, &reply, NULL,
                 error))
    return FALSE;
  id = nlx_bench_get_member (reply, "server", "id");
  if (status != SOUP_STATUS_ACCEPTED || id == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   "Creating %s answered %u: %s", name, status,
                   nlx_bench_fault_message (reply));
      return FALSE;
    }
  job->id = g_strdup (id);
  g_mutex_lock (&scale->lock);
  g_ptr_array_add (scale->ids, g_strdup (id));
  g_hash_table_add (scale->live, g_strdup (id));
  g_mutex_unlock (&scale->lock);
  path = g_strconcat ("/servers/", id, NULL);
  for (;;)
    {
      g_autoptr(JsonNode) server = NULL;
      const char *state;

      if (!check_interrupted (error) ||
          !api_call (session, "GET", path, NULL, &status, &server, NULL,
                     error))
        return FALSE;
      state = nlx_bench_get_member (server, "server", "status");
      if (status == SOUP_STATUS_OK && g_strcmp0 (state, "ACTIVE") == 0)
        break;
      if (status != SOUP_STATUS_OK || g_strcmp0 (state, "ERROR") == 0)
        {
          JsonNode *fault = NULL;

          if (server != NULL && JSON_NODE_HOLDS_OBJECT (server))
            {
              JsonNode *inner = json_object_get_member (json_node_get_object (server),
                                                        "server");

              if (inner != NULL && JSON_NODE_HOLDS_OBJECT (inner))
                fault = json_object_get_member (json_node_get_object (inner),
                                                "fault");
            }
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "Server %s (%s): GET answered %u, status %s: %s", id,
                       name, status, state ? state : "(none)",
                       fault != NULL && JSON_NODE_HOLDS_OBJECT (fault) &&
                       json_object_has_member (json_node_get_object (fault),
                                               "message")
                       ? json_object_get_string_member (json_node_get_object (fault),
                                                        "message")
                       : nlx_bench_fault_message (server));
          return FALSE;
        }
      if (g_get_monotonic_time () - start > ACTIVE_TIMEOUT_S * G_USEC_PER_SEC)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "Server %s (%s) is still %s %d s after its POST", id,
                       name, state ? state : "(none)", ACTIVE_TIMEOUT_S);
          return FALSE;
        }
      poll_sleep (g_get_monotonic_time () - start, FALSE);
    }
  job->seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  return TRUE;
}

/* DELETE, then GET the server until it is 404. */
static gboolean
delete_job (Scale *scale,
            SoupSession *session,
            Job *job,
            GError **error)
{
  g_autofree char *path = g_strconcat ("/servers/", job->id, NULL);
  g_autoptr(JsonNode) reply = NULL;
  gint64 start = g_get_monotonic_time ();
  guint status;

  if (!api_call (session, "DELETE", path, NULL, &status, &reply, NULL, error))
    return FALSE;
  if (status != SOUP_STATUS_NO_CONTENT && status != SOUP_STATUS_NOT_FOUND)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   "DELETE %s answered %u: %s", path, status,
                   nlx_bench_fault_message (reply));
      return FALSE;
    }
  while (status != SOUP_STATUS_NOT_FOUND)
    {
      if (g_get_monotonic_time () - start > GONE_TIMEOUT_S * G_USEC_PER_SEC)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "Server %s is still there %d s after its DELETE",
                       job->id, GONE_TIMEOUT_S);
          return FALSE;
        }
      poll_sleep (g_get_monotonic_time () - start, scale->alone);
      if (!check_interrupted (error) ||
          !api_call (session, "GET", path, NULL, &status, NULL, NULL, error))
        return FALSE;
      if (status != SOUP_STATUS_OK && status != SOUP_STATUS_NOT_FOUND)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "GET %s answered %u while it was deleted", path,
                       status);
          return FALSE;
        }
    }
  job->seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_mutex_lock (&scale->lock);
  g_hash_table_remove (scale->live, job->id);
  g_mutex_unlock (&scale->lock);
  return TRUE;
}

static void
jobs_free (Job *jobs,
           guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_free (jobs[i].id);
      g_free (jobs[i].xml);
      g_clear_error (&jobs[i].error);
    }
  g_free (jobs);
}

/* ---- the run ---------------------------------------------------------- */

typedef struct {
  guint running;
  double boot_p50, boot_p90;
  double detail_ms, list_ms, page_ms, since_ms;
  double detail_kib;
  int rss_kib, fds, libvirtd_rss_kib, libvirtd_fds;
  gint64 mounts;
  double controller_mounts;
  int libvirtd_mounts;
  double libvirt_p50;           /* libvirt alone's batch */
  /* CPU time of the last batch per server booted: the daemon's (with
   * its children's), libvirtd's, and the host's. */
  double daemon_cpu_ms, libvirtd_cpu_ms, host_cpu_ms;
} Row;

/* ---- libvirt alone ---------------------------------------------------- */

/* Whether the container of the domain whose libvirt_lxc controller is
 * @controller has exec'd its init, as the driver's ACTIVE waits for: its
 * only child runs a program other than the controller's. */
static gboolean
init_runs (guint controller)
{
  g_autofree char *children_path = g_strdup_printf ("/proc/%u/task/%u/children",
                                                    controller, controller);
  g_autofree char *controller_exe_path = g_strdup_printf ("/proc/%u/exe",
                                                          controller);
  g_autofree char *children = NULL;
  g_autofree char *init_exe_path = NULL;
  g_autofree char *controller_exe = NULL;
  g_autofree char *init_exe = NULL;
  guint64 init;

  if (!g_file_get_contents (children_path, &children, NULL, NULL) ||
      (init = g_ascii_strtoull (children, NULL, 10)) == 0)
    return FALSE;
  init_exe_path = g_strdup_printf ("/proc/%" G_GUINT64_FORMAT "/exe", init);
  controller_exe = g_file_read_link (controller_exe_path, NULL);
  init_exe = g_file_read_link (init_exe_path, NULL);
  return controller_exe != NULL && init_exe != NULL &&
         strcmp (controller_exe, init_exe) != 0;
}

/* virDomainCreateXML, then until its init runs. */
static gboolean
libvirt_job (Scale *scale,
             SoupSession *session G_GNUC_UNUSED,
             Job *job,
             GError **error)
{
  gint64 start = g_get_monotonic_time ();
  guint controller;

  job->dom = virDomainCreateXML (scale->conn, job->xml, 0);
  if (job->dom == NULL)
    {
      nlx_lxc_error_from_libvirt (error);
      g_prefix_error (error, "virDomainCreateXML of libvirt alone's domain "
                      "failed: ");
      return FALSE;
    }
  controller = virDomainGetID (job->dom);
  while (!init_runs (controller))
    {
      if (g_get_monotonic_time () - start > ACTIVE_TIMEOUT_S * G_USEC_PER_SEC)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "libvirt alone's domain %s did not run its init "
                       "within %d s", virDomainGetName (job->dom),
                       ACTIVE_TIMEOUT_S);
          return FALSE;
        }
      g_usleep (1000);
    }
  job->seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  return TRUE;
}

/* The XML the driver builds for an unprivileged m1.nano instance, with
 * the root of libvirt alone's own (no overlay: libvirt's part only).
 * Its uuid starts with four digits of the run's tag and a count, so its
 * name ("instance-" and 8 digits) is another of libvirt alone's only
 * when 65,536 came before, or another bench-scale at once drew the same
 * four (one in 65,536). */
static char *
libvirt_xml (Scale *scale,
             GError **error)
{
  guint i = scale->libvirt_names++;
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *json = NULL;
  g_autoptr(NlxInstance) instance = NULL;
  g_autoptr(GArray) map = nlx_idmap_parse (NLX_IDMAP_DEFAULT, NULL, error);
  NlxLxcDomainSpec spec = { 0 };

  if (map == NULL)
    return NULL;
  g_snprintf (uuid, 9, "%.4s%04x", scale->tag, i & 0xffff);
  uuid[8] = '-';
  json = g_strdup_printf ("{\"uuid\": \"%s\", \"name\": \"nlxscale-%s-libvirt-%u\", "
                          "\"flavor\": {\"name\": \"" FLAVOR "\", "
                          "\"vcpus\": 1, \"memory_mb\": 64, \"root_gb\": 0}, "
                          "\"image_ref\": \"" IMAGE "\", \"user_id\": \"bench\", "
                          "\"project_id\": \"bench\"}", uuid, scale->tag, i);
  instance = nlx_instance_new_from_data (json, -1, error);
  if (instance == NULL)
    return NULL;
  spec.instance = instance;
  spec.root_dir = scale->libvirt_root;
  spec.uid_map = map;
  spec.gid_map = map;
  return nlx_lxc_domain_build (&spec, error);
}

/* Starts @n domains at once through libvirt alone, and gives their
 * start's p50 and p90; with @keep, the domains that started go into
 * @keep, else they are destroyed again. */
static gboolean
libvirt_batch (Scale *scale,
               guint n,
               GPtrArray *keep,
               double *p50,
               double *p90,
               GError **error)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  Job *jobs = g_new0 (Job, n);
  gboolean ok = TRUE;

  if (scale->conn == NULL && (scale->conn = virConnectOpen (URI)) == NULL)
    {
      nlx_lxc_error_from_libvirt (error);
      g_free (jobs);
      return FALSE;
    }
  for (guint i = 0; i < n && ok; i++)
    ok = (jobs[i].xml = libvirt_xml (scale, error)) != NULL;
  if (ok)
    pool_run (scale, libvirt_job, jobs, n, n);
  for (guint i = 0; i < n; i++)
    {
      if (jobs[i].dom != NULL)
        {
          if (jobs[i].error == NULL)
            g_array_append_val (samples, jobs[i].seconds);
          if (keep != NULL)
            g_ptr_array_add (keep, g_steal_pointer (&jobs[i].dom));
          else if (virDomainDestroy (jobs[i].dom) < 0 && ok)
            {
              nlx_lxc_error_from_libvirt (error);
              g_prefix_error (error, "virDomainDestroy of libvirt alone's "
                              "domain failed: ");
              ok = FALSE;
            }
          g_clear_pointer (&jobs[i].dom, virDomainFree);
        }
      if (jobs[i].error != NULL && ok)
        {
          g_propagate_error (error, g_steal_pointer (&jobs[i].error));
          ok = FALSE;
        }
    }
  jobs_free (jobs, n);
  *p50 = ok ? nlx_bench_percentile (samples, 50) : 0;
  if (p90 != NULL)
    *p90 = ok ? nlx_bench_percentile (samples, 90) : 0;
  return ok;
}

/* p50 of opt_requests GETs of @path, which must all answer 200. */
static gboolean
time_get (SoupSession *session,
          const char *path,
          double *p50_ms,
          gsize *length,
          GError **error)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));

  for (int i = 0; i < opt_requests; i++)
    {
      gint64 start = g_get_monotonic_time ();
      guint status;
      double ms;

      if (!check_interrupted (error) ||
          !api_call (session, "GET", path, NULL, &status, NULL, length, error))
        return FALSE;
      ms = (double) (g_get_monotonic_time () - start) / 1000.0;
      if (status != SOUP_STATUS_OK)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "GET %s answered %u", path, status);
          return FALSE;
        }
      g_array_append_val (samples, ms);
    }
  *p50_ms = nlx_bench_percentile (samples, 50);
  return TRUE;
}

/* The host's 1-minute load average: others share the machine, and a
 * row taken under load is slower for it. */
static double
load_average (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return -1;
  return g_ascii_strtod (text, NULL);
}

static void
print_header (void)
{
  g_print ("\n%7s %8s %8s %8s %6s %6s %6s %8s %8s %8s %8s %8s %8s %6s %8s %6s %6s %6s %9s %5s\n",
           "running", "boot", "boot", "libvirt", "daemon", "lvd", "host",
           "detail", "list", "page", "since", "detail", "daemon", "daemon",
           "libvirtd", "lvd", "lvd", "ctl", "host", "host");
  g_print ("%7s %8s %8s %8s %6s %6s %6s %8s %8s %8s %8s %8s %8s %6s %8s %6s %6s %6s %9s %5s\n",
           "", "p50 s", "p90 s", "p50 s", "ms/bt", "ms/bt", "ms/bt",
           "p50 ms", "p50 ms", "p50 ms", "p50 ms", "KiB", "RSS MiB", "fds",
           "RSS MiB", "fds", "mnts", "mnts", "mnt objs", "load");
}

static gboolean
measure_row (Scale *scale,
             SoupSession *session,
             GArray *batch,
             gint64 batch_real_us,
             Row *row,
             GError **error)
{
  /* The servers changed since the last batch began: what a client
   * polling for changes would ask. */
  g_autoptr(GDateTime) since =
    g_date_time_new_from_unix_utc (batch_real_us / G_USEC_PER_SEC - 1);
  g_autofree char *since_text = g_date_time_format (since,
                                                    "%Y-%m-%dT%H:%M:%SZ");
  g_autofree char *since_path = g_strconcat ("/servers/detail?changes-since=",
                                             since_text, NULL);
  g_autofree char *page_path = NULL;
  g_autofree char *alone = NULL;
  GPid libvirtd = libvirtd_pid ();
  gsize length = 0, ignored;
  int rss;

  /* A page from the middle of the list, as a client paging through
   * would ask for it. */
  g_mutex_lock (&scale->lock);
  page_path = g_strdup_printf ("/servers/detail?limit=100&marker=%s",
                               (char *) scale->ids->pdata[scale->ids->len / 2]);
  row->running = g_hash_table_size (scale->live);
  g_mutex_unlock (&scale->lock);
  row->boot_p50 = nlx_bench_percentile (batch, 50);
  row->boot_p90 = nlx_bench_percentile (batch, 90);
  if (!time_get (session, "/servers/detail", &row->detail_ms, &length,
                 error) ||
      !time_get (session, "/servers", &row->list_ms, &ignored, error) ||
      !time_get (session, page_path, &row->page_ms, &ignored, error) ||
      !time_get (session, since_path, &row->since_ms, &ignored, error))
    return FALSE;
  row->detail_kib = (double) length / 1024.0;
  row->rss_kib = proc_status_field (scale->daemon, "VmRSS");
  row->fds = process_fds (scale->daemon);
  rss = proc_status_field (libvirtd, "VmRSS");
  row->libvirtd_rss_kib = rss;
  row->libvirtd_fds = process_fds (libvirtd);
  row->mounts = mount_objects ();
  row->controller_mounts = controller_mounts (scale);
  row->libvirtd_mounts = libvirtd_mounts ();
  /* Last: its domains are gone again before the next batch. */
  if (!opt_no_libvirt_alone &&
      !libvirt_batch (scale, (guint) opt_batch, NULL, &row->libvirt_p50, NULL,
                      error))
    return FALSE;
  alone = opt_no_libvirt_alone ? g_strdup ("-")
                               : g_strdup_printf ("%.3f", row->libvirt_p50);
  g_print ("%7u %8.3f %8.3f %8s %6.0f %6.0f %6.0f %8.1f %8.1f %8.1f %8.1f "
           "%8.0f %8.1f %6d %8.1f %6d %6d %6.0f %9" G_GINT64_FORMAT
           " %5.1f\n", row->running, row->boot_p50, row->boot_p90,
           alone, row->daemon_cpu_ms, row->libvirtd_cpu_ms,
           row->host_cpu_ms, row->detail_ms, row->list_ms,
           row->page_ms, row->since_ms, row->detail_kib, row->rss_kib / 1024.0,
           row->fds, row->libvirtd_rss_kib / 1024.0, row->libvirtd_fds,
           row->libvirtd_mounts, row->controller_mounts, row->mounts,
           load_average ());
  return TRUE;
}

typedef struct {
  double first_boot_p50;
  double first_libvirt_p50;
  Row last;
  gboolean booted;              /* all N ACTIVE */
  guint boot_failures;
  double teardown_s;             /* the concurrent deletes' */
  guint deleted;                 /* by the concurrent deletes */
  GArray *destroys;              /* theirs: DELETE to 404 */
  double destroy_first_p50, destroy_last_p50;
  /* One delete at a time, with N running and with few: what a destroy
   * itself takes, without waiting behind the others. */
  double alone_first_p50, alone_last_p50;
  Left left;
  gboolean torn_down;
} Result;

static gboolean
boot_all (Scale *scale,
          Result *result,
          GError **error)
{
  g_autoptr(SoupSession) session = session_new (scale);
  guint running = 0, batches = 0;

  print_header ();
  while (running < (guint) opt_count)
    {
      guint n = MIN ((guint) opt_batch, opt_count - running);
      Job *jobs = g_new0 (Job, n);
      g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
      gint64 batch_real_us = g_get_real_time ();
      GPid libvirtd = libvirtd_pid ();
      double daemon_cpu = process_cpu_ms (scale->daemon, TRUE);
      double libvirtd_cpu = process_cpu_ms (libvirtd, FALSE);
      double host_cpu = host_cpu_ms ();
      guint failed = 0;
      gboolean report;

      pool_run (scale, boot_job, jobs, n, n);
      result->last.daemon_cpu_ms =
        (process_cpu_ms (scale->daemon, TRUE) - daemon_cpu) / n;
      result->last.libvirtd_cpu_ms =
        (process_cpu_ms (libvirtd, FALSE) - libvirtd_cpu) / n;
      result->last.host_cpu_ms = (host_cpu_ms () - host_cpu) / n;
      for (guint i = 0; i < n; i++)
        if (jobs[i].error == NULL)
          g_array_append_val (samples, jobs[i].seconds);
        else
          {
            if (failed++ < 3 && !interrupted)
              g_printerr ("bench-scale: %s\n", jobs[i].error->message);
            result->boot_failures++;
          }
      jobs_free (jobs, n);
      if (!check_interrupted (error))
        return FALSE;
      if (failed > 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "%u of the %u servers of the batch after %u did not "
                       "become ACTIVE", failed, n, running);
          return FALSE;
        }
      if (!daemon_alive (scale))
        {
          g_set_error_literal (error, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_FAILED,
                               "nova-lxc-compute is gone");
          return FALSE;
        }
      running += n;
      batches++;
      if (batches == 1)
        result->first_boot_p50 = nlx_bench_percentile (samples, 50);
      report = batches == 1 || running == (guint) opt_count ||
               running / opt_report_every != (running - n) / opt_report_every;
      if (report && !measure_row (scale, session, samples, batch_real_us,
                                  &result->last, error))
        return FALSE;
      if (batches == 1)
        result->first_libvirt_p50 = result->last.libvirt_p50;
    }
  result->booted = TRUE;
  return TRUE;
}

/* DELETE to 404 of @n jobs, @concurrency at once: their times into
 * @times (may be %NULL); how many failed. */
static guint
delete_some (Scale *scale,
             Job *jobs,
             guint n,
             int concurrency,
             GArray *times)
{
  guint failed = 0;

  scale->alone = concurrency == 1;
  pool_run (scale, delete_job, jobs, n, concurrency);
  scale->alone = FALSE;
  for (guint i = 0; i < n; i++)
    if (jobs[i].error == NULL)
      {
        if (times != NULL)
          g_array_append_val (times, jobs[i].seconds);
      }
    else if (failed++ < 3 && !interrupted)
      g_printerr ("bench-scale: %s\n", jobs[i].error->message);
  return failed;
}

static gboolean
tear_down (Scale *scale,
           Result *result,
           GError **error)
{
  g_autoptr(GArray) alone_first = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) alone_last = g_array_new (FALSE, FALSE, sizeof (double));
  guint n, alone, middle;
  Job *jobs;
  gint64 start;
  guint failed;

  g_mutex_lock (&scale->lock);
  n = scale->ids->len;
  jobs = g_new0 (Job, n);
  for (guint i = 0; i < n; i++)
    jobs[i].id = g_strdup (scale->ids->pdata[i]);
  g_mutex_unlock (&scale->lock);
  /* A tenth, at most ALONE_DELETES, one at a time first and last; the
   * rest at once. */
  alone = MIN (ALONE_DELETES, n / 10);
  middle = n - 2 * alone;
  g_print ("\nteardown: deleting %u servers, %u one at a time, %u %d at "
           "once, %u one at a time\n", n, alone, middle,
           opt_delete_concurrency, alone);
  result->destroys = g_array_new (FALSE, FALSE, sizeof (double));
  failed = delete_some (scale, jobs, alone, 1, alone_first);
  start = g_get_monotonic_time ();
  failed += delete_some (scale, jobs + alone, middle, opt_delete_concurrency,
                         result->destroys);
  result->teardown_s = (double) (g_get_monotonic_time () - start) /
                       G_USEC_PER_SEC;
  failed += delete_some (scale, jobs + alone + middle, alone, 1, alone_last);
  result->deleted = result->destroys->len;
  jobs_free (jobs, n);
  if (!check_interrupted (error))
    return FALSE;
  if (failed > 0 || result->deleted == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   "%u of the %u deletes failed", failed, n);
      return FALSE;
    }
  result->alone_first_p50 = alone > 0 ? nlx_bench_percentile (alone_first, 50)
                                      : -1;
  result->alone_last_p50 = alone > 0 ? nlx_bench_percentile (alone_last, 50)
                                     : -1;
  /* Those sent first went with N running, the last ones with few. */
  {
    guint tenth = MAX (result->deleted / 10, 1);
    g_autoptr(GArray) first = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr(GArray) last = g_array_new (FALSE, FALSE, sizeof (double));

    g_array_append_vals (first, result->destroys->data, tenth);
    g_array_append_vals (last, &g_array_index (result->destroys, double,
                                               result->deleted - tenth),
                         tenth);
    result->destroy_first_p50 = nlx_bench_percentile (first, 50);
    result->destroy_last_p50 = nlx_bench_percentile (last, 50);
  }
  g_print ("teardown: %u deleted %d at once in %.1f s, %.1f deletes/s; "
           "DELETE to 404 p50 %.3f s, p90 %.3f s, max %.3f s; p50 of the "
           "first tenth %.3f s, of the last %.3f s\n", result->deleted,
           opt_delete_concurrency, result->teardown_s,
           result->deleted / result->teardown_s,
           nlx_bench_percentile (result->destroys, 50),
           nlx_bench_percentile (result->destroys, 90),
           nlx_bench_percentile (result->destroys, 100),
           result->destroy_first_p50, result->destroy_last_p50);
  if (alone > 0)
    g_print ("teardown: one at a time, DELETE to 404 p50 %.3f s with %u "
             "running, %.3f s with %u\n", result->alone_first_p50, n,
             result->alone_last_p50, alone);
  measure_left (scale, &result->left);
  g_print ("left after teardown: %d domains, %d instance dirs, %d mounts "
           "and %d loop devices under %s, %d bridge ports/veths: %s\n",
           result->left.domains, result->left.dirs, result->left.mounts,
           result->left.loops, scale->tmp_dir, result->left.veths,
           left_nothing (&result->left) ? "nothing" : "NOT CLEAN");
  result->torn_down = TRUE;
  return TRUE;
}

/* Destroys the domain of @job, which stays the caller's. */
static gboolean
libvirt_destroy_job (Scale *scale G_GNUC_UNUSED,
                     SoupSession *session G_GNUC_UNUSED,
                     Job *job,
                     GError **error)
{
  if (virDomainDestroy (job->dom) == 0)
    return TRUE;
  nlx_lxc_error_from_libvirt (error);
  g_prefix_error (error, "virDomainDestroy of libvirt alone's domain "
                  "failed: ");
  return FALSE;
}

static void
domain_free (gpointer dom)
{
  virDomainFree (dom);
}

/* --libvirt-only: N domains of libvirt alone in batches, rows of their
 * boot p50/p90 and libvirtd's size, then all destroyed, 20 at once. */
static gboolean
run_libvirt_only (Scale *scale,
                  GError **error)
{
  g_autoptr(GPtrArray) doms = g_ptr_array_new_with_free_func (domain_free);
  double first = 0, p50 = 0, p90 = 0;
  Job *jobs;
  gint64 start;
  gboolean ok = TRUE;

  g_print ("bench-scale: %d domains of libvirt alone (the driver's XML, "
           "busybox root, no network) in batches of %d, a row every %d, in "
           "%s\n\n%7s %8s %8s %8s %6s %6s %9s %5s\n%7s %8s %8s %8s %6s %6s "
           "%9s %5s\n", opt_count, opt_batch, opt_report_every,
           scale->tmp_dir, "running", "boot", "boot", "libvirtd", "lvd", "lvd",
           "host", "host", "", "p50 s", "p90 s", "RSS MiB", "fds", "mnts",
           "mnt objs", "load");
  while (ok && doms->len < (guint) opt_count)
    {
      guint n = MIN ((guint) opt_batch, opt_count - doms->len);
      GPid libvirtd = libvirtd_pid ();

      ok = libvirt_batch (scale, n, doms, &p50, &p90, error) &&
           check_interrupted (error);
      if (first == 0)
        first = p50;
      if (ok && (doms->len == n || doms->len == (guint) opt_count ||
                 doms->len / opt_report_every !=
                 (doms->len - n) / opt_report_every))
        g_print ("%7u %8.3f %8.3f %8.1f %6d %6d %9" G_GINT64_FORMAT
                 " %5.1f\n", doms->len, p50, p90,
                 proc_status_field (libvirtd, "VmRSS") / 1024.0,
                 process_fds (libvirtd), libvirtd_mounts (), mount_objects (),
                 load_average ());
    }
  start = g_get_monotonic_time ();
  jobs = g_new0 (Job, doms->len);
  for (guint i = 0; i < doms->len; i++)
    jobs[i].dom = doms->pdata[i];
  pool_run (scale, libvirt_destroy_job, jobs, doms->len,
            opt_delete_concurrency);
  for (guint i = 0; i < doms->len; i++)
    if (jobs[i].error != NULL && ok)
      {
        g_propagate_error (error, g_steal_pointer (&jobs[i].error));
        ok = FALSE;
      }
  jobs_free (jobs, doms->len);
  if (ok)
    g_print ("\nteardown: %u destroyed, %d at once, in %.1f s\n"
             "libvirt alone: batch boot p50 at %u %.3f s against %.3f s "
             "first: %.2fx\n", doms->len, opt_delete_concurrency,
             (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC,
             doms->len, p50, first, p50 / first);
  return ok;
}

static gboolean
run (Scale *scale,
     Result *result,
     GError **error)
{
  const char *roots[] = { scale->root, scale->libvirt_root };
  guint32 root_id;
  g_autoptr(GArray) map = nlx_idmap_parse (NLX_IDMAP_DEFAULT, NULL, error);

  for (guint i = 0; i < G_N_ELEMENTS (roots); i++)
    {
      const char *mkrootfs[] = { "/bin/sh", MKROOTFS, roots[i], NULL };
      int status;

      if (!g_spawn_sync (NULL, (char **) mkrootfs, NULL, G_SPAWN_DEFAULT,
                         NULL, NULL, NULL, NULL, &status, error) ||
          !g_spawn_check_wait_status (status, error))
        {
          g_prefix_error (error, "%s %s failed: ", MKROOTFS, roots[i]);
          return FALSE;
        }
    }
  /* libvirt makes .oldroot in it as the container's root, as the
   * instances' root owns the overlay's upper directory. */
  if (map == NULL || !nlx_idmap_to_host (map, 0, &root_id))
    return FALSE;
  if (lchown (scale->libvirt_root, root_id, root_id) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Cannot give %s to the containers' root: %s",
                   scale->libvirt_root, g_strerror (saved_errno));
      return FALSE;
    }
  if (opt_libvirt_only)
    return run_libvirt_only (scale, error);
  if (!write_config (scale, error) ||
      !nlx_bench_daemon_start (scale->config_path, scale->socket_path,
                               scale->log_path, FALSE, DAEMON_START_TIMEOUT_S,
                               &interrupted, &scale->daemon, error))
    return FALSE;
  g_print ("bench-scale: %d servers (" FLAVOR ", busybox directory image) in "
           "batches of %d, a row every %d; nova-lxc-compute pid %d, bridge "
           "%s on %s, in %s\n", opt_count, opt_batch, opt_report_every,
           scale->daemon, scale->bridge, scale->cidr, scale->tmp_dir);
  return boot_all (scale, result, error) && tear_down (scale, result, error);
}

/* Deletes what the daemon still has, stops it, then removes whatever is
 * left of the run; returns whether nothing had to be removed by force. */
static gboolean
clean_up (Scale *scale)
{
  guint live;

  g_mutex_lock (&scale->lock);
  live = g_hash_table_size (scale->live);
  g_mutex_unlock (&scale->lock);
  if (live > 0 && daemon_alive (scale))
    {
      Job *jobs = g_new0 (Job, live);
      GHashTableIter iter;
      gpointer key;
      guint i = 0;

      g_printerr ("bench-scale: deleting the %u servers left through the "
                  "daemon\n", live);
      /* The jobs check the flag: a signal must not stop the cleanup. */
      interrupted = 0;
      g_mutex_lock (&scale->lock);
      g_hash_table_iter_init (&iter, scale->live);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        jobs[i++].id = g_strdup (key);
      g_mutex_unlock (&scale->lock);
      pool_run (scale, delete_job, jobs, live, opt_delete_concurrency);
      jobs_free (jobs, live);
    }
  daemon_stop (scale);
  return remove_leftovers (scale);
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
  g_print ("target %-46s %-6s (%s)\n", what, met ? "MET" : "MISSED", value);
}

static void
print_targets (const Result *r,
               gboolean clean)
{
  double growth = r->last.boot_p50 / r->first_boot_p50;
  double rate = r->deleted / r->teardown_s;
  double destroy = MAX (r->alone_first_p50, r->alone_last_p50);
  g_autofree char *boot = g_strdup_printf ("batch boot p50 at %u <= %.0fx first",
                                           r->last.running,
                                           BOOT_GROWTH_TARGET);
  g_autofree char *detail = g_strdup_printf ("GET /servers/detail p50 at %u < "
                                             "%.0f ms", r->last.running,
                                             DETAIL_P50_TARGET_MS);
  gboolean nothing = clean && left_nothing (&r->left);

  g_print ("\n");
  print_target (boot, growth <= BOOT_GROWTH_TARGET,
                "%.3f s against %.3f s: %.2fx", r->last.boot_p50,
                r->first_boot_p50, growth);
  if (!opt_no_libvirt_alone)
    g_print ("       %-46s        (%.3f s against %.3f s: %.2fx)\n",
             "libvirt alone, the same growth", r->last.libvirt_p50,
             r->first_libvirt_p50, r->last.libvirt_p50 / r->first_libvirt_p50);
  print_target (detail, r->last.detail_ms < DETAIL_P50_TARGET_MS, "%.1f ms",
                r->last.detail_ms);
  print_target ("delete throughput >= 10/s", rate >= DELETES_PER_S_TARGET,
                "%.1f/s, %d at once", rate, opt_delete_concurrency);
  print_target ("daemon RSS < 64 MiB", r->last.rss_kib / 1024.0 < RSS_TARGET_MIB,
                "%.1f MiB at %u", r->last.rss_kib / 1024.0, r->last.running);
  print_target ("nothing left after teardown", nothing,
                "%d domains, %d dirs, %d mounts, %d loops, %d veths%s",
                r->left.domains, r->left.dirs, r->left.mounts, r->left.loops,
                r->left.veths, clean ? "" : "; the cleanup removed more");
  print_target ("destroy p50 <= 0.1 s, alone, with N or few",
                destroy >= 0 && destroy <= DESTROY_P50_TARGET_S,
                "%.3f s with %u running, %.3f s with few",
                r->alone_first_p50, r->last.running, r->alone_last_p50);
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  Scale scale = { 0 };
  Result result = { 0 };
  virConnectPtr conn;
  gboolean ok, clean;

  context = g_option_context_new ("- boot N servers on a private "
                                  "nova-lxc-compute and see how it scales");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) ||
      opt_count < 1 || opt_batch < 1 || opt_batch > 200 ||
      opt_report_every < 1 || opt_delete_concurrency < 1 ||
      opt_delete_concurrency > 200 || opt_requests < 1 ||
      opt_requests > 1000 || argc > 1)
    {
      g_printerr ("bench-scale: %s\n",
                  error ? error->message : "--count and --report-every must "
                  "be 1 or more, --batch and --delete-concurrency 1 to 200, "
                  "--requests 1 to 1000, and there are no arguments");
      return EXIT_USAGE;
    }

  nlx_lxc_error_silence_libvirt ();
  conn = virConnectOpen (URI);
  if (conn == NULL)
    {
      nlx_lxc_error_from_libvirt (&error);
      g_print ("bench-scale: SKIP: libvirt at " URI " is not reachable (is "
               "libvirtd running, with its LXC driver, and are you root?): "
               "%s\n", error->message);
      return EXIT_SKIP;
    }
  virConnectClose (conn);
  scale.cidr = opt_cidr != NULL ? opt_cidr : CIDR;
  if (!host_fits ((guint) opt_count, scale.cidr))
    return EXIT_SKIP;

  scale.tmp_dir = g_dir_make_tmp ("nlx-bench-scale-XXXXXX", &error);
  if (scale.tmp_dir == NULL)
    {
      g_printerr ("bench-scale: %s\n", error->message);
      return 1;
    }
  /* Instances' root, an unprivileged uid, must reach their roots. */
  g_chmod (scale.tmp_dir, 0711);
  scale.config_path = g_build_filename (scale.tmp_dir, "nova-lxc.conf", NULL);
  scale.socket_path = g_build_filename (scale.tmp_dir, "compute.sock", NULL);
  scale.log_path = opt_daemon_log ? g_strdup (opt_daemon_log)
                                  : g_build_filename (scale.tmp_dir,
                                                      "compute.log", NULL);
  scale.root = g_build_filename (scale.tmp_dir, "root", NULL);
  scale.libvirt_root = g_build_filename (scale.tmp_dir, "libvirt-root", NULL);
  scale.instances = g_build_filename (scale.tmp_dir, "instances", NULL);
  scale.tag = g_strdup_printf ("%06x", g_random_int () & 0xffffff);
  scale.bridge = g_strdup_printf ("nlxk%s", scale.tag);
  scale.count = (guint) opt_count;
  g_mutex_init (&scale.lock);
  scale.ids = g_ptr_array_new_with_free_func (g_free);
  scale.live = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  /* A daemon gone mid-request must fail the request, not the bench. */
  signal (SIGPIPE, SIG_IGN);

  ok = run (&scale, &result, &error);
  if (!ok)
    {
      g_printerr ("bench-scale: %s\n", error->message);
      if (!interrupted)
        print_log_tail (&scale, 20);
    }
  clean = clean_up (&scale);
  if (ok && !opt_libvirt_only)
    print_targets (&result, clean);
  g_print ("bench-scale: %s\n", !ok ? "FAILED" : clean ? "done"
                                                       : "done, NOT CLEAN");

  g_clear_pointer (&result.destroys, g_array_unref);
  g_ptr_array_unref (scale.ids);
  g_hash_table_unref (scale.live);
  g_mutex_clear (&scale.lock);
  g_free (scale.tmp_dir);
  g_free (scale.config_path);
  g_free (scale.socket_path);
  g_free (scale.log_path);
  g_free (scale.root);
  g_free (scale.libvirt_root);
  g_clear_pointer (&scale.conn, virConnectClose);
  g_free (scale.instances);
  g_free (scale.tag);
  g_free (scale.bridge);
  return ok ? 0 : 1;
}
