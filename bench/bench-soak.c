/* bench-soak [--duration SECONDS] [--seed N] [--kills N] [--libvirtd-restarts N] [--daemon-log FILE]: soak a private nova-lxc-compute on the lxc driver, as root, and check that nothing leaks
 *
 * Runs a daemon of its own (state, instances, volumes, bridge nlxs<hex>
 * on a 198.18.x.0/24 subnet, Unix socket and TCP on 127.0.0.1 with a
 * token) for --duration seconds while: two clients send a steady mix of
 * reads and bad requests, one per listener; ten workers each drive a
 * server through create, attach, reboot, stop, start, detach, snapshot
 * and delete, over and over; and the bench kills the daemon with SIGKILL
 * now and then and restarts libvirtd (tools/libvirtd-service).  It prints
 * what the daemon and the host hold after a warm-up and at the end, once
 * everything has settled, then deletes all it made and checks that
 * nothing of it is left.
 *
 * Exits 0 when everything stayed flat and clean, 1 when something leaked,
 * a server ended in a state libvirt contradicts, a 5xx came that no
 * libvirtd outage explains, or the bench itself failed; 77 when there is
 * no libvirt LXC to run on. */
#include "config.h"

#include <glib/gstdio.h>

#include <libvirt/libvirt.h>
#include <signal.h>

#include "common/nlx-file.h"
#include "host/nlx-network-filter.h"
#include "lxc/nlx-lxc-error.h"

#include "nlx-bench-soak.h"

int opt_duration = 600;
int opt_kills = -1;
int opt_libvirtd_restarts = 2;
gint64 opt_seed = 0;
static char *opt_daemon_log = NULL;

static const GOptionEntry entries[] = {
  { "duration", 'd', 0, G_OPTION_ARG_INT, &opt_duration,
    "Seconds of soak after the warm-up (default 600)", "SECONDS" },
  { "kills", 'k', 0, G_OPTION_ARG_INT, &opt_kills,
    "SIGKILLs of the daemon (default 3 to 5, fewer when the run is short)",
    "N" },
  { "libvirtd-restarts", 'l', 0, G_OPTION_ARG_INT, &opt_libvirtd_restarts,
    "libvirtd restarts (default 2; 0 leaves libvirtd alone)", "N" },
  { "seed", 's', 0, G_OPTION_ARG_INT64, &opt_seed,
    "Seed of the random moments (default: from the clock, printed)", "N" },
  { "daemon-log", 0, 0, G_OPTION_ARG_FILENAME, &opt_daemon_log,
    "Keep the daemon's log in FILE (default: removed with the rest)",
    "FILE" },
  G_OPTION_ENTRY_NULL
};

volatile sig_atomic_t interrupted = 0;

const char *const op_names[N_OPS] = {
  "attach", "reboot", "stop", "start", "detach", "snapshot", "delete",
  "create"
};

static void
on_signal (int signum G_GNUC_UNUSED)
{
  interrupted = 1;
}

double
since_start (Soak *soak,
             gint64 when)
{
  return (double) (when - soak->start_us) / G_USEC_PER_SEC;
}

void G_GNUC_PRINTF (2, 3)
note (Soak *soak,
      const char *format,
      ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_print ("[%7.1f] %s\n", since_start (soak, g_get_monotonic_time ()), text);
}

void G_GNUC_PRINTF (2, 3)
problem (Soak *soak,
         const char *format,
         ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  note (soak, "PROBLEM: %s", text);
  g_mutex_lock (&soak->lock);
  g_ptr_array_add (soak->problems,
                   g_strdup_printf ("[%.1f s] %s",
                                    since_start (soak, g_get_monotonic_time ()),
                                    text));
  g_mutex_unlock (&soak->lock);
}

Phase
get_phase (Soak *soak)
{
  Phase phase;

  g_mutex_lock (&soak->lock);
  phase = soak->phase;
  g_mutex_unlock (&soak->lock);
  return phase;
}

void
window_open (Soak *soak,
             WindowKind kind,
             gint64 before_us)
{
  Window *window = g_new0 (Window, 1);

  window->kind = kind;
  window->start = g_get_monotonic_time () - before_us;
  window->end = G_MAXINT64;
  g_mutex_lock (&soak->lock);
  g_ptr_array_add (soak->windows, window);
  g_mutex_unlock (&soak->lock);
}

void
window_close (Soak *soak,
              WindowKind kind,
              gint64 grace_us)
{
  g_mutex_lock (&soak->lock);
  for (guint i = 0; i < soak->windows->len; i++)
    {
      Window *window = soak->windows->pdata[i];

      if (window->kind == kind && window->end == G_MAXINT64)
        window->end = g_get_monotonic_time () + grace_us;
    }
  g_mutex_unlock (&soak->lock);
}

/* Whether @when falls in a window of a kind in @kinds (a bit mask);
 * called with the lock held. */
gboolean
in_window_locked (Soak *soak,
                  gint64 when,
                  guint kinds)
{
  for (guint i = 0; i < soak->windows->len; i++)
    {
      Window *window = soak->windows->pdata[i];

      if ((kinds & (1u << window->kind)) && when >= window->start &&
          when <= window->end)
        return TRUE;
    }
  return FALSE;
}

/* ---- the table ------------------------------------------------------------- */

typedef struct {
  gboolean ok;
  guint failures;
} Verdicts;

static void
row (Verdicts *verdicts,
     const char *what,
     int start,
     int end,
     int cleaned,
     const char *expected,
     gboolean ok)
{
  char s[32], e[32], c[32];

  g_snprintf (s, sizeof s, start < 0 ? "-" : "%d", start);
  g_snprintf (e, sizeof e, end < 0 ? "-" : "%d", end);
  g_snprintf (c, sizeof c, cleaned < 0 ? "-" : "%d", cleaned);
  g_print ("%-30s %10s %10s %10s  %-24s %s\n", what, s, e, c, expected,
           ok ? "ok" : "LEAK/FAIL");
  if (!ok)
    verdicts->failures++;
}

static guint
ops_total (const Counts *counts,
           gboolean ok)
{
  guint total = 0;

  for (guint i = 0; i < N_OPS; i++)
    total += ok ? counts->ops_ok[i] : counts->ops_sent[i];
  return total;
}

void
print_start (const Figures *f)
{
  g_print ("\n%-30s %10s   %s\n", "at start, after the warm-up", "value",
           "expected");
  g_print ("%-30s %10d\n", "daemon fds", f->fds);
  g_print ("%-30s %10d\n", "daemon RSS (KiB)", f->rss_kib);
  g_print ("%-30s %10d\n", "daemon threads", f->threads);
  g_print ("%-30s %10d   %d live servers\n", "records (state/records)",
           f->records, f->live);
  g_print ("%-30s %10d   %d\n", "addresses (addresses.json)", f->addresses,
           f->live);
  g_print ("%-30s %10d   %d\n", "libvirt domains", f->domains, f->live);
  g_print ("%-30s %10d   %d ACTIVE\n", "  of which running",
           f->domains_active, f->active);
  g_print ("%-30s %10d   %d, two per attached volume\n", "loop devices",
           f->loops, LOOPS_PER_VOLUME * f->attached);
  g_print ("%-30s %10d   %d\n", "mounts under the run's dirs", f->mounts,
           MOUNTS_PER_SERVER * f->live);
  g_print ("%-30s %10d   %d\n", "veths nlx-XXXXXXXX", f->veths, f->active);
  g_print ("%-30s %10d   %d listed\n", "store images", f->images,
           f->images_listed);
  g_print ("%-30s %10d   <= images\n", "store trees", f->trees);
  g_print ("%-30s %10u\n", "requests answered", f->counts.requests);
  g_print ("%-30s %10u\n", "operations answered 2xx",
           ops_total (&f->counts, TRUE));
  g_print ("%-30s %10u\n", "5xx answers", f->counts.answers_5xx);
  g_print ("%-30s %10u\n\n", "false ERRORs", f->counts.false_errors);
}

/* Prints the table; returns how many rows failed. */
static guint
print_table (Soak *soak G_GNUC_UNUSED,
             const Figures *s,
             const Figures *e,
             const Figures *c,
             guint unexplained_5xx)
{
  Verdicts v = { 0 };
  g_autofree char *fds = g_strdup_printf ("<= start + %d", FDS_SLACK);
  g_autofree char *rss = g_strdup_printf ("<= start + %d MiB",
                                          RSS_SLACK_KIB / 1024);
  g_autofree char *threads = g_strdup_printf ("<= start + %d", THREADS_SLACK);
  g_autofree char *live = g_strdup_printf ("%d live; then 0", e->live);
  g_autofree char *active = g_strdup_printf ("%d ACTIVE; then 0", e->active);
  g_autofree char *attached = g_strdup_printf ("%d; then 0",
                                               LOOPS_PER_VOLUME * e->attached);
  g_autofree char *mounts = g_strdup_printf ("%d x live; then 0",
                                             MOUNTS_PER_SERVER);
  g_autofree char *listed = g_strdup_printf ("%d listed; then 0",
                                             e->images_listed);
  g_autofree char *unexplained = g_strdup_printf ("%u outside outages",
                                                  unexplained_5xx);

  g_print ("\n%-30s %10s %10s %10s  %-24s %s\n", "", "start", "end",
           "cleaned", "expected", "verdict");
  row (&v, "daemon fds", s->fds, e->fds, c->fds, fds,
       e->fds <= s->fds + FDS_SLACK && c->fds <= s->fds + FDS_SLACK);
  row (&v, "daemon RSS (KiB)", s->rss_kib, e->rss_kib, c->rss_kib, rss,
       e->rss_kib <= s->rss_kib + RSS_SLACK_KIB);
  row (&v, "daemon threads", s->threads, e->threads, c->threads, threads,
       e->threads <= s->threads + THREADS_SLACK);
  row (&v, "records (state/records)", s->records, e->records, c->records,
       live, e->records == e->live && c->records == 0 &&
       e->record_temporaries == 0);
  if (e->record_temporaries > 0 || c->record_temporaries > 0)
    row (&v, "  other files in records/", s->record_temporaries,
         e->record_temporaries, c->record_temporaries, "0", FALSE);
  row (&v, "addresses (addresses.json)", s->addresses, e->addresses,
       c->addresses, live, e->addresses == e->live && c->addresses == 0);
  row (&v, "libvirt domains", s->domains, e->domains, c->domains, live,
       e->domains == e->live && c->domains == 0);
  row (&v, "  of which running", s->domains_active, e->domains_active,
       c->domains_active, active,
       e->domains_active == e->active && c->domains_active == 0);
  row (&v, "loop devices", s->loops, e->loops, c->loops, attached,
       e->loops == LOOPS_PER_VOLUME * e->attached && c->loops == 0);
  row (&v, "mounts under the run's dirs", s->mounts, e->mounts, c->mounts,
       mounts, e->mounts == MOUNTS_PER_SERVER * e->live && c->mounts == 0);
  row (&v, "veths nlx-XXXXXXXX", s->veths, e->veths, c->veths, active,
       e->veths == e->active && c->veths == 0);
  row (&v, "store images (snapshots)", s->images, e->images, c->images,
       listed, e->images == e->images_listed && c->images == 0);
  row (&v, "store trees", s->trees, e->trees, c->trees, "<= images; then 0",
       e->trees <= e->images && c->trees == 0);
  row (&v, "snapshot scratch (snapshots/)", s->scratch, e->scratch,
       c->scratch, "0", e->scratch == 0 && c->scratch == 0);
  row (&v, "servers libvirt contradicts", s->contradicted, e->contradicted,
       -1, "0", e->contradicted == 0);
  row (&v, "requests answered", s->counts.requests, e->counts.requests, -1,
       "", TRUE);
  row (&v, "  unanswered (daemon down)", s->counts.unanswered,
       e->counts.unanswered, -1, "", TRUE);
  row (&v, "  bad requests, not 4xx", s->counts.bad_misanswered,
       e->counts.bad_misanswered, -1, "0", e->counts.bad_misanswered == 0);
  row (&v, "operations sent", ops_total (&s->counts, FALSE),
       ops_total (&e->counts, FALSE), -1, "", TRUE);
  row (&v, "  answered 2xx", ops_total (&s->counts, TRUE),
       ops_total (&e->counts, TRUE), -1, "", TRUE);
  row (&v, "5xx answers", s->counts.answers_5xx, e->counts.answers_5xx, -1,
       unexplained, unexplained_5xx == 0);
  row (&v, "servers in ERROR", s->counts.errors, e->counts.errors, -1, "",
       TRUE);
  row (&v, "false ERRORs", s->counts.false_errors, e->counts.false_errors,
       -1, "0", e->counts.false_errors == 0);
  row (&v, "servers vanished", s->counts.vanished, e->counts.vanished, -1,
       "0", e->counts.vanished == 0);
  g_print ("%-30s %10s %10d %10d  %-24s %s\n", "bridge", "", e->bridge,
           c->bridge, "removed by the bench", "");
  return v.failures;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Client) client = NULL;
  g_autofree char *bridge_path = NULL;
  Soak soak = { 0 };
  Figures start = { 0 }, end = { 0 }, cleaned = { 0 };
  virConnectPtr conn;
  gboolean ok, clean;
  guint failures = 0;

  context = g_option_context_new ("- soak a private nova-lxc-compute on the "
                                  "lxc driver and check that nothing leaks");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) ||
      opt_duration < 10 || opt_kills > 100 || opt_libvirtd_restarts < 0 ||
      opt_libvirtd_restarts > 100 || argc > 1)
    {
      g_printerr ("bench-soak: %s\n",
                  error ? error->message : "--duration must be 10 or more, "
                  "--kills and --libvirtd-restarts 0 to 100, and there are "
                  "no arguments");
      return EXIT_USAGE;
    }
  if (opt_seed == 0)
    opt_seed = g_get_real_time () % 1000000;

  nlx_lxc_error_silence_libvirt ();
  conn = virConnectOpen (URI);
  if (conn == NULL)
    {
      nlx_lxc_error_from_libvirt (&error);
      g_print ("bench-soak: SKIP: libvirt at " URI " is not reachable (is "
               "libvirtd running, with its LXC driver, and are you root?): "
               "%s\n", error->message);
      return EXIT_SKIP;
    }
  virConnectClose (conn);

  soak.tmp_dir = g_dir_make_tmp ("nlx-bench-soak-XXXXXX", &error);
  if (soak.tmp_dir == NULL)
    {
      g_printerr ("bench-soak: %s\n", error->message);
      return 1;
    }
  /* Instances' root, an unprivileged uid, must reach their roots. */
  g_chmod (soak.tmp_dir, 0711);
  soak.start_us = g_get_monotonic_time ();
  soak.config_path = g_build_filename (soak.tmp_dir, "nova-lxc.conf", NULL);
  soak.socket_path = g_build_filename (soak.tmp_dir, "compute.sock", NULL);
  soak.log_path = opt_daemon_log ? g_strdup (opt_daemon_log)
                                 : g_build_filename (soak.tmp_dir,
                                                     "compute.log", NULL);
  soak.root = g_build_filename (soak.tmp_dir, "root", NULL);
  soak.bridge = g_strdup_printf ("nlxs%06x", g_random_int () & 0xffffff);
  soak.subnet = g_strdup_printf ("198.18.%u", g_random_int_range (0, 256));
  soak.token = g_strdup_printf ("%08x%08x%08x%08x", g_random_int (),
                                g_random_int (), g_random_int (),
                                g_random_int ());
  soak.port = free_port ();
  g_mutex_init (&soak.lock);
  soak.uuids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      g_free);
  soak.windows = g_ptr_array_new_with_free_func (g_free);
  soak.events_5xx = g_ptr_array_new_with_free_func (g_free);
  soak.times_5xx = g_array_new (FALSE, FALSE, sizeof (gint64));
  soak.problems = g_ptr_array_new_with_free_func (g_free);
  soak.snapshot_ids = g_ptr_array_new_with_free_func (g_free);
  bridge_path = g_build_filename ("/sys/class/net", soak.bridge, NULL);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  signal (SIGPIPE, SIG_IGN);

  note (&soak, "bench-soak: %d s soak, seed %" G_GINT64_FORMAT ", in %s",
        opt_duration, opt_seed, soak.tmp_dir);
  ok = soak.port != 0 && run (&soak, &start, &end, &error);
  if (!ok)
    {
      g_printerr ("bench-soak: %s\n", error ? error->message
                                            : "no free TCP port");
      print_log_tail (&soak, 30);
    }
  stop_workers (&soak);

  /* Delete everything through the daemon, measure it once more, stop it,
   * then look for what is left. */
  if (daemon_alive (&soak, NULL))
    {
      g_autoptr(GError) cleanup_error = NULL;

      client = client_new (&soak, FALSE);
      if (!delete_through_api (&soak, client, &cleanup_error))
        {
          g_printerr ("bench-soak: cleanup through the API: %s\n",
                      cleanup_error->message);
          ok = FALSE;
        }
      measure (&soak, client, TRUE, &cleaned);
      /* Not counted as servers: there are none. */
      cleaned.live = cleaned.active = cleaned.attached = 0;
    }
  daemon_stop (&soak);
  if (ok)
    {
      Figures after_stop;

      failures = print_table (&soak, &start, &end, &cleaned, judge_5xx (&soak));
      measure (&soak, NULL, FALSE, &after_stop);
      if (after_stop.domains != 0 || after_stop.loops != 0 ||
          after_stop.mounts != 0 || after_stop.veths != 0)
        {
          g_print ("after the daemon stopped: %d domains, %d loop devices, "
                   "%d mounts, %d veths remain\n", after_stop.domains,
                   after_stop.loops, after_stop.mounts, after_stop.veths);
          failures++;
        }
      for (guint i = 0; i < N_OPS; i++)
        g_print ("%s %u/%u%s", op_names[i], end.counts.ops_ok[i],
                 end.counts.ops_sent[i], i + 1 < N_OPS ? ", " : "\n");
      g_print ("operations answered 2xx/sent; %u cycles; %u 409s on "
               "operations, %u on snapshots; %u daemon starts\n",
               end.counts.cycles, end.counts.conflicts,
               end.counts.snapshot_conflicts, soak.daemon_starts);
    }

  clean = remove_leftovers (&soak);
  if (g_file_test (bridge_path, G_FILE_TEST_EXISTS) &&
      !g_spawn_sync (NULL, (char **) (const char * const []) {
                       "ip", "link", "del", soak.bridge, NULL },
                     NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                     &error))
    {
      g_printerr ("bench-soak: cannot remove bridge %s: %s\n", soak.bridge,
                  error->message);
      clean = FALSE;
    }
  g_clear_error (&error);
  if (g_file_test (bridge_path, G_FILE_TEST_EXISTS))
    clean = FALSE;
  /* The daemon leaves its bridge's firewall tables when it stops. */
  if (!nlx_network_filter_delete (soak.bridge, &error))
    {
      g_printerr ("bench-soak: %s\n", error->message);
      g_clear_error (&error);
      clean = FALSE;
    }
  if (!nlx_file_remove_tree (soak.tmp_dir, &error))
    {
      g_printerr ("bench-soak: %s\n", error->message);
      clean = FALSE;
    }
  g_print ("cleanup: %s (no domain, loop device, mount, veth, bridge or "
           "file of this run %s)\n", clean ? "clean" : "NOT CLEAN",
           clean ? "remains" : "should remain; see above");

  if (soak.problems->len > 0)
    {
      g_print ("problems seen (%u):\n", soak.problems->len);
      for (guint i = 0; i < soak.problems->len && i < 40; i++)
        g_print ("  %s\n", (char *) soak.problems->pdata[i]);
    }
  ok = ok && clean && failures == 0 && soak.problems->len == 0;
  g_print ("bench-soak: %s\n", ok ? "flat and clean" : "FAILED");
  return ok ? 0 : 1;
}
