/* bench-soak-run.c: bench-soak's run: the disruptions it plans, the
 * warm-up, the soak, and the cleanup of all it made. */
#include "config.h"

#include <libvirt/libvirt.h>
#include <signal.h>
#include <unistd.h>

#include "common/nlx-error.h"

#include "nlx-bench-soak.h"

/* ---- the run ------------------------------------------------------------- */

typedef struct {
  gint64 at;                    /* monotonic */
  gboolean libvirtd;            /* else a daemon kill */
} Event;

static int
compare_events (gconstpointer a,
                gconstpointer b)
{
  const Event *x = a, *y = b;

  return (x->at > y->at) - (x->at < y->at);
}

/* Random moments in the first 10 %-70 % of the soak, at least
 * EVENT_SPACING_S apart, so the final daemon has served a good while
 * when it is measured. */
static GArray *
plan_events (Soak *soak,
             GRand *rand,
             gint64 soak_start,
             int kills,
             int restarts)
{
  GArray *events = g_array_new (FALSE, FALSE, sizeof (Event));
  double from = 0.1 * opt_duration, to = 0.7 * opt_duration;
  int room = (int) ((to - from) / EVENT_SPACING_S) + 1;

  if (kills + restarts > room)
    {
      note (soak, "only %d disruptions fit in %d s; fewer kills", room,
            opt_duration);
      restarts = MIN (restarts, room);
      kills = MAX (0, room - restarts);
    }
  for (int attempt = 0; attempt < 10000; attempt++)
    {
      gboolean spaced = TRUE;

      g_array_set_size (events, 0);
      for (int i = 0; i < kills + restarts; i++)
        {
          Event event = {
            .at = soak_start + (gint64) (g_rand_double_range (rand, from, to) *
                                         G_USEC_PER_SEC),
            .libvirtd = i >= kills
          };

          g_array_append_val (events, event);
        }
      g_array_sort (events, compare_events);
      for (guint i = 1; i < events->len; i++)
        if (g_array_index (events, Event, i).at -
            g_array_index (events, Event, i - 1).at <
            EVENT_SPACING_S * G_USEC_PER_SEC)
          spaced = FALSE;
      if (spaced)
        break;
    }
  for (guint i = 0; i < events->len; i++)
    {
      Event *event = &g_array_index (events, Event, i);

      note (soak, "planned: %s at +%.0f s", event->libvirtd
            ? "libvirtd restart" : "daemon SIGKILL",
            (double) (event->at - soak_start) / G_USEC_PER_SEC);
    }
  return events;
}

static gboolean
all_parked (Soak *soak)
{
  gboolean parked = TRUE;

  g_mutex_lock (&soak->lock);
  for (guint i = 0; i < SERVERS; i++)
    parked = parked && soak->slots[i].parked;
  g_mutex_unlock (&soak->lock);
  return parked;
}

static gboolean
wait_parked (Soak *soak,
             guint timeout_s,
             GError **error)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  int status;

  while (!all_parked (soak))
    {
      if (interrupted)
        {
          g_set_error_literal (error, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_FAILED, "Interrupted");
          return FALSE;
        }
      if (!daemon_alive (soak, &status))
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "nova-lxc-compute died (wait status %d)", status);
          return FALSE;
        }
      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "The workers did not finish within %u s", timeout_s);
          return FALSE;
        }
      g_usleep (200 * 1000);
    }
  return TRUE;
}

static gboolean
create_volumes (Soak *soak,
                Client *client,
                GError **error)
{
  for (guint i = 0; i < SERVERS; i++)
    {
      g_autofree char *body = NULL;
      g_autoptr(JsonNode) reply = NULL;
      guint status = 0;

      soak->slots[i].volume = g_strdup_printf ("nlxsoak-%u", i);
      body = g_strdup_printf ("{\"volume\": {\"display_name\": \"%s\", "
                              "\"size_mb\": %d}}", soak->slots[i].volume,
                              VOLUME_MB);
      if (!client_call (client, CALL_GOOD, "POST", "/os-volumes", body,
                        &status, &reply) || status != SOUP_STATUS_OK)
        {
          g_autofree char *message = fault_message (reply);

          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "Creating volume %s answered %u: %s",
                       soak->slots[i].volume, status, message);
          return FALSE;
        }
    }
  return TRUE;
}

/* Sorts the 5xx answers into those a libvirtd outage explains (503
 * while it was down or just back) and the rest; prints the rest. */
guint
judge_5xx (Soak *soak)
{
  guint unexplained = 0, explained = 0;

  g_mutex_lock (&soak->lock);
  for (guint i = 0; i < soak->events_5xx->len; i++)
    {
      gint64 when = g_array_index (soak->times_5xx, gint64, i);

      if (soak->codes_5xx[i] &&
          in_window_locked (soak, when, (1u << WINDOW_LIBVIRTD) |
                                        (1u << WINDOW_FOREIGN)))
        explained++;
      else
        {
          if (unexplained < 20)
            g_print ("5xx: %s\n", (char *) soak->events_5xx->pdata[i]);
          unexplained++;
        }
    }
  g_mutex_unlock (&soak->lock);
  g_print ("5xx answers: %u 503 while libvirtd was down or just back "
           "(expected), %u unexplained\n", explained, unexplained);
  return unexplained;
}

static void
stop_threads (Soak *soak,
              GThread **mix)
{
  g_mutex_lock (&soak->lock);
  soak->stop_mix = TRUE;
  g_mutex_unlock (&soak->lock);
  for (guint i = 0; i < 2; i++)
    if (mix[i] != NULL)
      g_thread_join (g_steal_pointer (&mix[i]));
}

gboolean
run (Soak *soak,
     Figures *start,
     Figures *end,
     GError **error)
{
  const char *mkrootfs[] = { "/bin/sh", MKROOTFS, soak->root, NULL };
  g_autofree char *inittab = g_build_filename (soak->root, "etc", "inittab",
                                               NULL);
  g_autofree char *text = NULL;
  g_autoptr(Client) client = NULL;
  g_autoptr(GArray) events = NULL;
  /* The moments of the kills and restarts, the same for the same seed. */
  g_autoptr(GRand) rand = g_rand_new_with_seed ((guint32) opt_seed);
  MixArgs mix_args[2] = { { soak, FALSE }, { soak, TRUE } };
  GThread *mix[2] = { NULL, NULL };
  gint64 soak_start, soak_end, next_report;
  guint next_event = 0;
  GPid libvirtd = libvirtd_pid ();
  gboolean ok = FALSE;
  int kills = opt_kills;
  int status;

  if (!g_spawn_sync (NULL, (char **) mkrootfs, NULL, G_SPAWN_DEFAULT, NULL,
                     NULL, NULL, NULL, &status, error) ||
      !g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s %s failed: ", MKROOTFS, soak->root);
      return FALSE;
    }
  /* Each boot writes a file of its own, so two snapshots never hold the
   * same content (the store refuses content it already has). */
  if (!g_file_get_contents (inittab, &text, NULL, error))
    return FALSE;
  {
    g_autofree char *more = g_strconcat (
      text, "::sysinit:/bin/sh -c 'cat /proc/sys/kernel/random/uuid "
      ">/etc/nlxsoak-boot'\n", NULL);

    if (!g_file_set_contents (inittab, more, -1, error))
      return FALSE;
  }
  if (!write_config (soak, error) || !daemon_start (soak, error))
    return FALSE;
  client = client_new (soak, FALSE);
  note (soak, "nova-lxc-compute pid %d; Unix socket %s, TCP 127.0.0.1:%u, "
        "bridge %s on %s.0/24", soak->daemon, soak->socket_path, soak->port,
        soak->bridge, soak->subnet);
  if (!create_volumes (soak, client, error))
    return FALSE;

  /* Warm-up: every server once round the cycle, the mix a while. */
  for (guint i = 0; i < 2; i++)
    mix[i] = g_thread_new ("mix", mix_thread, &mix_args[i]);
  for (guint i = 0; i < SERVERS; i++)
    {
      soak->slots[i].soak = soak;
      soak->slots[i].index = i;
      soak->slots[i].thread = g_thread_new ("worker", worker_thread,
                                            &soak->slots[i]);
    }
  note (soak, "warm-up: %d servers %d times through %s; %d requests per "
        "listener", SERVERS, WARMUP_CYCLES, "attach reboot stop start detach "
        "snapshot delete create", WARMUP_REQUESTS);
  if (!wait_parked (soak, SETTLE_TIMEOUT_S, error))
    goto out;
  for (;;)
    {
      guint done;

      g_mutex_lock (&soak->lock);
      done = MIN (soak->mix_done[0], soak->mix_done[1]);
      g_mutex_unlock (&soak->lock);
      if (done >= WARMUP_REQUESTS || interrupted)
        break;
      g_usleep (100 * 1000);
    }
  g_mutex_lock (&soak->lock);
  soak->pause_mix = TRUE;
  g_mutex_unlock (&soak->lock);
  if (!settle (soak, client, error))
    goto out;
  measure (soak, client, TRUE, start);
  print_start (start);

  /* The soak. */
  if (kills < 0)
    kills = opt_duration >= 300 ? g_rand_int_range (rand, 3, 6)
                                : MAX (1, opt_duration / 40);
  soak_start = g_get_monotonic_time ();
  soak_end = soak_start + (gint64) opt_duration * G_USEC_PER_SEC;
  events = plan_events (soak, rand, soak_start, kills,
                        opt_libvirtd_restarts);
  next_report = soak_start + REPORT_INTERVAL_S * G_USEC_PER_SEC;
  g_mutex_lock (&soak->lock);
  soak->pause_mix = FALSE;
  soak->phase = PHASE_SOAK;
  g_mutex_unlock (&soak->lock);
  while (g_get_monotonic_time () < soak_end && !interrupted)
    {
      GPid now = libvirtd_pid ();

      if (!daemon_alive (soak, &status))
        {
          problem (soak, "nova-lxc-compute died by itself (wait status %d); "
                   "starting it again", status);
          print_log_tail (soak, 20);
          window_open (soak, WINDOW_DAEMON, 0);
          if (!daemon_start (soak, error))
            goto out;
          window_close (soak, WINDOW_DAEMON, G_USEC_PER_SEC);
        }
      if (now != libvirtd)
        {
          /* Someone else's restart: its 503s are explained too. */
          if (now == 0)
            {
              note (soak, "libvirtd %d went away (not this bench)", libvirtd);
              window_open (soak, WINDOW_FOREIGN, FOREIGN_BEFORE_US);
            }
          else
            {
              note (soak, "libvirtd is now %d (not this bench)", now);
              window_open (soak, WINDOW_FOREIGN, FOREIGN_BEFORE_US);
              window_close (soak, WINDOW_FOREIGN, LIBVIRTD_GRACE_US);
            }
          libvirtd = now;
        }
      if (g_get_monotonic_time () >= next_report)
        {
          guint requests = total_requests (soak);

          note (soak, "nova-lxc-compute %d: %d fds, RSS %d KiB, %d threads; "
                "%u requests answered since its start", soak->daemon,
                daemon_fds (soak->daemon),
                proc_status_field (soak->daemon, "VmRSS"),
                proc_status_field (soak->daemon, "Threads"),
                requests - soak->requests_at_last_start);
          next_report += REPORT_INTERVAL_S * G_USEC_PER_SEC;
        }
      if (next_event < events->len &&
          g_get_monotonic_time () >= g_array_index (events, Event,
                                                    next_event).at)
        {
          Event *event = &g_array_index (events, Event, next_event++);

          if (event->libvirtd)
            {
              if (!libvirtd_restart (soak, error))
                goto out;
              libvirtd = libvirtd_pid ();
            }
          else if (!daemon_kill_restart (soak, error))
            goto out;
        }
      g_usleep (100 * 1000);
    }
  if (interrupted)
    {
      g_set_error_literal (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           "Interrupted");
      goto out;
    }

  /* Let every operation end, the servers go idle, then measure. */
  note (soak, "soak over: letting the operations end");
  g_mutex_lock (&soak->lock);
  soak->phase = PHASE_STOP;
  soak->pause_mix = TRUE;
  g_mutex_unlock (&soak->lock);
  if (!wait_parked (soak, SETTLE_TIMEOUT_S, error) ||
      !settle (soak, client, error))
    goto out;
  measure (soak, client, TRUE, end);
  note (soak, "the final daemon (start %u) answered %u requests",
        soak->daemon_starts, end->counts.requests - soak->requests_at_last_start);
  ok = TRUE;

out:
  stop_threads (soak, mix);
  return ok;
}

/* ---- cleanup --------------------------------------------------------------- */

void
stop_workers (Soak *soak)
{
  g_atomic_int_set (&soak->stop_workers, 1);
  for (guint i = 0; i < SERVERS; i++)
    if (soak->slots[i].thread != NULL)
      g_thread_join (g_steal_pointer (&soak->slots[i].thread));
}

/* Deletes every server, snapshot and volume through the daemon and waits
 * until they are gone. */
gboolean
delete_through_api (Soak *soak,
                    Client *client,
                    GError **error)
{
  gint64 deadline = g_get_monotonic_time () + 180 * G_USEC_PER_SEC;
  g_autoptr(GPtrArray) images = NULL;

  for (;;)
    {
      g_autoptr(JsonNode) reply = NULL;
      JsonArray *servers;
      guint status;

      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "Servers are still there 180 s after their delete");
          return FALSE;
        }
      if (!client_call (client, CALL_GOOD, "GET", "/servers", NULL, &status,
                        &reply) || status != SOUP_STATUS_OK ||
          (servers = array_member (reply, "servers")) == NULL)
        {
          g_usleep (500 * 1000);
          continue;
        }
      if (json_array_get_length (servers) == 0)
        break;
      for (guint i = 0; i < json_array_get_length (servers); i++)
        {
          const char *id = string_member (json_array_get_object_element (servers, i),
                                          "id");
          g_auto(ServerView) view = { 0 };
          g_autofree char *path = g_strconcat ("/servers/", id, NULL);

          if (id == NULL)
            continue;
          g_mutex_lock (&soak->lock);
          if (!g_hash_table_contains (soak->uuids, id))
            g_hash_table_insert (soak->uuids, g_strdup (id),
                                 g_strdup ("(listed)"));
          g_mutex_unlock (&soak->lock);
          if (server_get (client, id, &view) &&
              g_strcmp0 (view.task_state, "deleting") != 0)
            client_call (client, CALL_GOOD, "DELETE", path, NULL, NULL, NULL);
        }
      g_usleep (500 * 1000);
    }

  g_mutex_lock (&soak->lock);
  images = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < soak->snapshot_ids->len; i++)
    g_ptr_array_add (images, g_strdup (soak->snapshot_ids->pdata[i]));
  g_mutex_unlock (&soak->lock);
  {
    g_autoptr(JsonNode) reply = NULL;
    JsonArray *list;
    guint status;

    /* Snapshots whose id a kill lost are found by their name. */
    if (client_call (client, CALL_GOOD, "GET", "/images", NULL, &status,
                     &reply) && status == SOUP_STATUS_OK &&
        (list = array_member (reply, "images")) != NULL)
      for (guint i = 0; i < json_array_get_length (list); i++)
        {
          JsonObject *image = json_array_get_object_element (list, i);
          const char *name = string_member (image, "name");

          if (name != NULL && g_str_has_prefix (name, "nlxsoak-"))
            g_ptr_array_add (images, g_strdup (string_member (image, "id")));
        }
  }
  for (guint i = 0; i < images->len; i++)
    {
      g_autofree char *path = g_strconcat ("/images/", images->pdata[i], NULL);
      guint status = 0;

      if (client_call (client, CALL_GOOD, "DELETE", path, NULL, &status,
                       NULL) &&
          status != SOUP_STATUS_NO_CONTENT && status != SOUP_STATUS_NOT_FOUND)
        problem (soak, "DELETE %s answered %u", path, status);
    }
  for (guint i = 0; i < SERVERS; i++)
    {
      g_autofree char *path = NULL;
      guint status = 0;

      if (soak->slots[i].volume == NULL)
        continue;
      path = g_strconcat ("/os-volumes/", soak->slots[i].volume, NULL);
      if (client_call (client, CALL_GOOD, "DELETE", path, NULL, &status,
                       NULL) &&
          status != SOUP_STATUS_ACCEPTED && status != SOUP_STATUS_NOT_FOUND)
        problem (soak, "DELETE %s answered %u", path, status);
    }
  return TRUE;
}

/* Whatever the daemon left: domains, root mounts, loop devices. */
gboolean
remove_leftovers (Soak *soak)
{
  g_autoptr(GPtrArray) uuids = run_uuids (soak);
  virConnectPtr conn = virConnectOpen (URI);
  gboolean clean = TRUE;

  for (guint i = 0; conn != NULL && i < uuids->len; i++)
    {
      virDomainPtr dom = virDomainLookupByUUIDString (conn, uuids->pdata[i]);

      if (dom == NULL)
        continue;
      g_printerr ("bench-soak: domain %s (uuid %s) was left; removing it\n",
                  virDomainGetName (dom), (char *) uuids->pdata[i]);
      if (virDomainIsActive (dom) == 1)
        virDomainDestroy (dom);
      virDomainUndefine (dom);
      virDomainFree (dom);
      clean = FALSE;
    }
  if (conn != NULL)
    virConnectClose (conn);
  if (count_mounts (soak) > 0)
    {
      const char *argv[] = { "/bin/sh", "-c",
        "findmnt -rn -o TARGET | grep \"^$0/\" | sort -r | "
        "while read m; do umount -l \"$m\"; done", soak->tmp_dir, NULL };

      g_printerr ("bench-soak: mounts were left under %s; unmounting them\n",
                  soak->tmp_dir);
      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                    NULL, NULL, NULL, NULL);
      clean = FALSE;
    }
  if (count_loops (soak) > 0)
    {
      const char *argv[] = { "/bin/sh", "-c",
        "for f in /sys/block/loop*/loop/backing_file; do "
        "b=$(cat $f); d=${f%/loop/backing_file}; "
        "case $b in /dev/loop*) "
        "b=$(cat /sys/block/${b#/dev/}/loop/backing_file 2>/dev/null);; esac; "
        "case $b in \"$0\"/*) losetup -d /dev/${d##*/};; esac; done",
        soak->tmp_dir, NULL };

      g_printerr ("bench-soak: loop devices were left on %s; detaching "
                  "them\n", soak->tmp_dir);
      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                    NULL, NULL, NULL, NULL);
      clean = FALSE;
    }
  return clean;
}
