/* bench-saves: what record saves on a slow disk cost the requests that
 * do not save
 *
 * Every change to a server is saved durably (write, fsync, rename, fsync
 * of the directory) before it is answered.  When those fsyncs ran on the
 * daemon's main loop, a slow disk made every request wait, a GET as much
 * as a rename.  This runs one daemon, or two side by side (--before, a
 * build of the code before the change), with the fake driver, its
 * state_path on a disk made slow for real:
 *
 *   an ext4 filesystem on a loop device of the bench's own, with the
 *   daemon in a blkio cgroup (v1) that may write to that device only
 *   --iops times a second (blkio.throttle.write_iops_device), as a cloud
 *   volume with provisioned IOPS; the fsync's writes queue behind the
 *   limit in the kernel's block layer.  Only the daemon's own writes
 *   count (the files' data): the journal commits an fsync waits for are
 *   written by ext4's jbd2 thread, outside the cgroup.  So a low --iops
 *   measures how many files are written, and --iops 100000 (no limit
 *   reached) the disk's own fsync latency, which is what grouping the
 *   records' fsyncs in rounds saves.
 *
 * For each daemon it creates --servers servers, times --gets cheap GETs
 * of one server with nothing else going on, then again while --writers
 * clients rename servers as fast as they are answered (each rename is one
 * save), then sends --creates creates, --concurrent at a time (each saves
 * the address allocations and the new record before it is answered, and
 * its spawn's end saves the record again), and prints the percentiles
 * side by side with their ratios.  The store writes what is asked for
 * while one round of writes is on disk in the next round, with one fsync
 * of the directory for all: the more clients at once, the fewer fsyncs
 * per save.  A
 * benchmark, not a test: it exits 0 whatever the figures, 1 when the
 * benchmark itself failed, 77 when the machine cannot make a slow disk
 * (no root, no blkio throttling, no loop device). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "nlx-bench.h"
#include "common/nlx-file.h"

#define EXIT_SKIP 77
#define DAEMON NLX_ABS_TOP_BUILDDIR "/src/nova-lxc-compute"
#define BLKIO "/sys/fs/cgroup/blkio"
#define START_TIMEOUT_S 30
#define ACTIVE_TIMEOUT_S 60
#define WARMUP_MS 300

static int opt_iops = 20;
static int opt_servers = 8;
static int opt_gets = 300;
static int opt_seconds = 5;
static int opt_writers = 4;
static int opt_creates = 100;
static int opt_concurrent = 20;
static char *opt_before = NULL;
static char *opt_after = NULL;

static const GOptionEntry entries[] = {
  { "iops", 'i', 0, G_OPTION_ARG_INT, &opt_iops,
    "Writes per second the daemon may make to its state disk (default 20)",
    "N" },
  { "servers", 's', 0, G_OPTION_ARG_INT, &opt_servers,
    "Servers to rename (default 8)", "N" },
  { "gets", 'g', 0, G_OPTION_ARG_INT, &opt_gets,
    "GETs timed with nothing else going on (default 300)", "N" },
  { "seconds", 't', 0, G_OPTION_ARG_INT, &opt_seconds,
    "How long the GETs go on while renames save (default 5)", "S" },
  { "writers", 'w', 0, G_OPTION_ARG_INT, &opt_writers,
    "Clients renaming servers at once (default 4)", "N" },
  { "creates", 'c', 0, G_OPTION_ARG_INT, &opt_creates,
    "Servers created in the concurrent-create phase (default 100)", "N" },
  { "concurrent", 'C', 0, G_OPTION_ARG_INT, &opt_concurrent,
    "Creates in flight at once (default 20)", "N" },
  { "before", 'b', 0, G_OPTION_ARG_FILENAME, &opt_before,
    "nova-lxc-compute built from the code before (in its own build tree)",
    "DAEMON" },
  { "after", 'a', 0, G_OPTION_ARG_FILENAME, &opt_after,
    "nova-lxc-compute to measure (default: this build tree's)", "DAEMON" },
  G_OPTION_ENTRY_NULL
};

typedef struct {
  char *tmp;                    /* everything of the bench's, removed */
  char *image;                  /* the slow filesystem's backing file */
  char *mount;                  /* where it is mounted */
  char *loop;                   /* /dev/loopN */
  char *cgroup;                 /* blkio cgroup the daemons run in */
  gboolean mounted;
  GPtrArray *read_only;         /* loop devices skipped */
} Disk;

typedef struct {
  const char *label;
  const char *daemon_path;
  char *dir;
  char *socket;
  char *log;
  GPid pid;
  GPtrArray *ids;
  GArray *quiet;                /* ms */
  GArray *loaded;               /* ms */
  GArray *renames;              /* ms */
  double renames_per_s;
  guint failures;
  GArray *creates;              /* ms */
  double creates_per_s;
  guint create_failures;
} Run;

static gboolean
run_command (GError **error,
             char **out,
             const char *first,
             ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;
  va_list args;
  int status;

  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH,
                     NULL, NULL, out, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "%s failed: %s",
                   first, err ? g_strstrip (err) : "");
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_text (const char *path,
            const char *text,
            GError **error)
{
  return g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE,
                                   0644, error);
}

/* The slow disk: see the top of this file. */
static gboolean
disk_make (Disk *disk,
           GError **error)
{
  g_autofree char *loop = NULL;
  g_autofree char *limit = NULL;
  g_autofree char *file = NULL;
  struct stat st;

  disk->image = g_build_filename (disk->tmp, "disk.img", NULL);
  disk->mount = g_build_filename (disk->tmp, "slow", NULL);
  if (g_mkdir (disk->mount, 0755) != 0 ||
      !run_command (error, NULL, "truncate", "-s", "512M", disk->image, NULL) ||
      !run_command (error, NULL, "mkfs.ext4", "-q", "-F", disk->image, NULL))
    return FALSE;
  /* A free loop device someone marked read-only (BLKROSET outlives the
   * detach) is kept attached while the next free one is taken. */
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *ro_path = NULL;
      g_autofree char *ro = NULL;

      g_clear_pointer (&loop, g_free);
      if (!run_command (error, &loop, "losetup", "-f", "--show", disk->image,
                        NULL))
        break;
      g_strstrip (loop);
      ro_path = g_strdup_printf ("/sys/block/%s/ro", loop + strlen ("/dev/"));
      if (g_file_get_contents (ro_path, &ro, NULL, NULL) &&
          g_str_has_prefix (ro, "0"))
        {
          disk->loop = g_steal_pointer (&loop);
          break;
        }
      g_ptr_array_add (disk->read_only, g_steal_pointer (&loop));
    }
  for (guint i = 0; i < disk->read_only->len; i++)
    run_command (NULL, NULL, "losetup", "-d", disk->read_only->pdata[i], NULL);
  if (disk->loop == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                     "every free loop device is read-only");
      return FALSE;
    }
  if (!run_command (error, NULL, "mount", disk->loop, disk->mount, NULL))
    return FALSE;
  disk->mounted = TRUE;
  if (stat (disk->loop, &st) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "Cannot stat %s: %s", disk->loop, g_strerror (errno));
      return FALSE;
    }
  disk->cgroup = g_strdup_printf (BLKIO "/nlx-bench-saves-%d", getpid ());
  if (g_mkdir (disk->cgroup, 0755) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "Cannot create %s: %s", disk->cgroup, g_strerror (errno));
      return FALSE;
    }
  limit = g_strdup_printf ("%u:%u %d\n", major (st.st_rdev),
                           minor (st.st_rdev), opt_iops);
  file = g_build_filename (disk->cgroup, "blkio.throttle.write_iops_device",
                           NULL);
  return write_text (file, limit, error);
}

static void
disk_remove (Disk *disk)
{
  g_autoptr(GError) error = NULL;

  if (disk->cgroup != NULL && g_rmdir (disk->cgroup) != 0)
    g_printerr ("bench-saves: cannot remove %s: %s\n", disk->cgroup,
                g_strerror (errno));
  if (disk->mounted &&
      !run_command (&error, NULL, "umount", disk->mount, NULL))
    g_printerr ("bench-saves: %s\n", error->message);
  g_clear_error (&error);
  if (disk->loop != NULL &&
      !run_command (&error, NULL, "losetup", "-d", disk->loop, NULL))
    g_printerr ("bench-saves: %s\n", error->message);
  if (disk->tmp != NULL)
    nlx_file_remove_tree (disk->tmp, NULL);
  g_free (disk->tmp);
  g_free (disk->image);
  g_free (disk->mount);
  g_free (disk->loop);
  g_free (disk->cgroup);
  g_clear_pointer (&disk->read_only, g_ptr_array_unref);
}

/* ---- HTTP ----------------------------------------------------------------- */

static SoupSession *
session_new (const char *socket)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket);

  return soup_session_new_with_options ("remote-connectable", address,
                                        "timeout", 120, NULL);
}

/* The status, 0 when there was no answer; @ms how long it took. */
static guint
call (SoupSession *session,
      const char *method,
      const char *path,
      const char *body,
      JsonNode **reply,
      double *ms)
{
  g_autofree char *uri = g_strconcat ("http://localhost", path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr(GBytes) answer = NULL;
  gint64 start = g_get_monotonic_time ();

  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new_static (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json",
                                                bytes);
    }
  answer = soup_session_send_and_read (session, msg, NULL, NULL);
  if (ms != NULL)
    *ms = (g_get_monotonic_time () - start) / 1000.0;
  if (answer == NULL)
    return 0;
  if (reply != NULL && g_bytes_get_size (answer) > 0)
    *reply = json_from_string (g_bytes_get_data (answer, NULL), NULL);
  return soup_message_get_status (msg);
}

static const char *
member (JsonNode *node,
        const char *object,
        const char *name)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  node = json_object_get_member (json_node_get_object (node), object);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_object_get_string_member_with_default (
    json_node_get_object (node), name, NULL);
}

/* ---- one daemon ----------------------------------------------------------- */

static void
child_setup (gpointer data G_GNUC_UNUSED)
{
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
daemon_start (Run *run,
              Disk *disk,
              GError **error)
{
  g_autofree char *image = g_build_filename (run->dir, "image", NULL);
  g_autofree char *state = g_build_filename (disk->mount, run->label, NULL);
  g_autofree char *config = g_build_filename (run->dir, "compute.conf", NULL);
  g_autofree char *text = NULL;
  g_autofree char *procs = g_build_filename (disk->cgroup, "cgroup.procs",
                                             NULL);
  g_autofree char *pid = NULL;
  g_autoptr(SoupSession) session = NULL;
  const char *argv[] = { run->daemon_path, "--config", config, NULL };
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_S * G_USEC_PER_SEC;
  int log_fd;
  gboolean ok;

  run->socket = g_build_filename (run->dir, "compute.sock", NULL);
  run->log = g_build_filename (run->dir, "compute.log", NULL);
  text = g_strdup_printf ("[DEFAULT]\ncompute_driver = fake\nstate_path = %s\n"
                          "[api]\nsocket = %s\n"
                          "[image nlxbench]\npath = %s\n",
                          state, run->socket, image);
  if (g_mkdir (image, 0755) != 0 || !write_text (config, text, error))
    return FALSE;
  log_fd = open (run->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "Cannot create %s: %s", run->log, g_strerror (errno));
      return FALSE;
    }
  ok = g_spawn_async_with_fds (NULL, (char **) argv, NULL,
                               G_SPAWN_DO_NOT_REAP_CHILD |
                               G_SPAWN_STDIN_FROM_DEV_NULL,
                               child_setup, NULL, &run->pid, -1, log_fd,
                               log_fd, error);
  close (log_fd);
  /* Every thread of it: cgroup.procs moves the whole process. */
  pid = g_strdup_printf ("%d\n", run->pid);
  if (!ok || !write_text (procs, pid, error))
    return FALSE;
  session = session_new (run->socket);
  while (g_get_monotonic_time () < deadline)
    {
      if (waitpid (run->pid, NULL, WNOHANG) == run->pid)
        {
          run->pid = 0;
          g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                       "%s exited at start; see %s", run->daemon_path,
                       run->log);
          return FALSE;
        }
      if (g_file_test (run->socket, G_FILE_TEST_EXISTS) &&
          call (session, "GET", "/", NULL, NULL, NULL) == 200)
        return TRUE;
      g_usleep (20 * 1000);
    }
  g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
               "%s did not answer within %d s", run->daemon_path,
               START_TIMEOUT_S);
  return FALSE;
}

static void
daemon_stop (Run *run)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  if (run->pid == 0)
    return;
  kill (run->pid, SIGTERM);
  while (g_get_monotonic_time () < deadline)
    {
      if (waitpid (run->pid, NULL, WNOHANG) == run->pid)
        {
          run->pid = 0;
          return;
        }
      g_usleep (20 * 1000);
    }
  kill (run->pid, SIGKILL);
  waitpid (run->pid, NULL, 0);
  run->pid = 0;
}

static gboolean
create_servers (Run *run,
                SoupSession *session,
                GError **error)
{
  gint64 deadline;

  for (int i = 0; i < opt_servers; i++)
    {
      g_autofree char *body = g_strdup_printf (
        "{\"server\": {\"name\": \"nlxbench-%d\", \"flavorRef\": \"m1.tiny\", "
        "\"imageRef\": \"nlxbench\"}}", i);
      g_autoptr(JsonNode) reply = NULL;
      guint status = call (session, "POST", "/v2.1/servers", body, &reply,
                           NULL);
      const char *id = member (reply, "server", "id");

      if (status != 202 || id == NULL)
        {
          g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                       "create answered %u; see %s", status, run->log);
          return FALSE;
        }
      g_ptr_array_add (run->ids, g_strdup (id));
    }
  deadline = g_get_monotonic_time () + ACTIVE_TIMEOUT_S * G_USEC_PER_SEC;
  for (guint i = 0; i < run->ids->len; i++)
    for (;;)
      {
        g_autofree char *path = g_strconcat ("/v2.1/servers/",
                                             (char *) run->ids->pdata[i], NULL);
        g_autoptr(JsonNode) reply = NULL;

        call (session, "GET", path, NULL, &reply, NULL);
        if (g_strcmp0 (member (reply, "server", "status"), "ACTIVE") == 0)
          break;
        if (g_get_monotonic_time () > deadline)
          {
            g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                         "server %s not ACTIVE within %d s",
                         (char *) run->ids->pdata[i], ACTIVE_TIMEOUT_S);
            return FALSE;
          }
        g_usleep (20 * 1000);
      }
  return TRUE;
}

typedef struct {
  Run *run;
  guint index;
  gint *stop;
  GArray *samples;              /* ms */
  GArray *ends;                 /* gint64, monotonic, when each answered */
  guint failures;
} Writer;

/* Renames servers, one after the other, until told to stop. */
static gpointer
writer (gpointer data)
{
  Writer *w = data;
  g_autoptr(SoupSession) session = session_new (w->run->socket);

  for (guint n = 0; !g_atomic_int_get (w->stop); n++)
    {
      const char *id = w->run->ids->pdata[(w->index + n) % w->run->ids->len];
      g_autofree char *path = g_strconcat ("/v2.1/servers/", id, NULL);
      g_autofree char *body = g_strdup_printf (
        "{\"server\": {\"name\": \"nlxbench-%u-%u\"}}", w->index, n);
      double ms;

      if (call (session, "PUT", path, body, NULL, &ms) == 200)
        {
          gint64 now = g_get_monotonic_time ();

          g_array_append_val (w->samples, ms);
          g_array_append_val (w->ends, now);
        }
      else
        w->failures++;
    }
  return NULL;
}

/* GETs of one server, @count of them, or for @seconds when @count is 0. */
static gboolean
time_gets (Run *run,
           SoupSession *session,
           GArray *samples,
           int count,
           int seconds,
           GError **error)
{
  g_autofree char *path = g_strconcat ("/v2.1/servers/",
                                       (char *) run->ids->pdata[0], NULL);
  gint64 end = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  for (int i = 0; count > 0 ? i < count : g_get_monotonic_time () < end; i++)
    {
      double ms;

      if (call (session, "GET", path, NULL, NULL, &ms) != 200)
        {
          g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                       "GET %s failed; see %s", path, run->log);
          return FALSE;
        }
      g_array_append_val (samples, ms);
    }
  return TRUE;
}

typedef struct {
  Run *run;
  gint *next;                   /* creates handed out so far */
  GArray *samples;              /* ms */
  guint failures;
} Creator;

/* Creates servers, one after the other, until --creates are handed out. */
static gpointer
creator (gpointer data)
{
  Creator *c = data;
  g_autoptr(SoupSession) session = session_new (c->run->socket);
  int n;

  while ((n = g_atomic_int_add (c->next, 1)) < opt_creates)
    {
      g_autofree char *body = g_strdup_printf (
        "{\"server\": {\"name\": \"nlxbench-c%d\", \"flavorRef\": "
        "\"m1.tiny\", \"imageRef\": \"nlxbench\"}}", n);
      double ms;

      if (call (session, "POST", "/v2.1/servers", body, NULL, &ms) == 202)
        g_array_append_val (c->samples, ms);
      else
        c->failures++;
    }
  return NULL;
}

/* --creates creates, --concurrent at once: each is answered once its
 * record is on disk. */
static void
time_creates (Run *run)
{
  g_autofree Creator *creators = g_new0 (Creator, opt_concurrent);
  g_autofree GThread **threads = g_new0 (GThread *, opt_concurrent);
  gint next = 0;
  gint64 start = g_get_monotonic_time ();

  for (int i = 0; i < opt_concurrent; i++)
    {
      creators[i] = (Creator) { run, &next,
                                g_array_new (FALSE, FALSE, sizeof (double)),
                                0 };
      threads[i] = g_thread_new ("creator", creator, &creators[i]);
    }
  for (int i = 0; i < opt_concurrent; i++)
    {
      g_thread_join (threads[i]);
      g_array_append_vals (run->creates, creators[i].samples->data,
                           creators[i].samples->len);
      run->create_failures += creators[i].failures;
      g_array_unref (creators[i].samples);
    }
  run->creates_per_s = run->creates->len /
                       ((g_get_monotonic_time () - start) / 1e6);
}

static gboolean
measure (Run *run,
         Disk *disk,
         GError **error)
{
  g_autoptr(SoupSession) session = NULL;
  g_autofree Writer *writers = g_new0 (Writer, opt_writers);
  g_autofree GThread **threads = g_new0 (GThread *, opt_writers);
  gint stop = FALSE;
  gint64 start, end;
  guint answered = 0;
  gboolean ok;

  g_print ("bench-saves: %s: %s\n", run->label, run->daemon_path);
  if (!daemon_start (run, disk, error))
    return FALSE;
  session = session_new (run->socket);
  if (!create_servers (run, session, error) ||
      !time_gets (run, session, run->quiet, opt_gets, 0, error))
    return FALSE;

  for (int i = 0; i < opt_writers; i++)
    {
      writers[i] = (Writer) { run, i, &stop,
                              g_array_new (FALSE, FALSE, sizeof (double)),
                              g_array_new (FALSE, FALSE, sizeof (gint64)), 0 };
      threads[i] = g_thread_new ("writer", writer, &writers[i]);
    }
  /* Renames counted and GETs timed over the same window, after the
   * writers are under way. */
  g_usleep (WARMUP_MS * 1000);
  start = g_get_monotonic_time ();
  ok = time_gets (run, session, run->loaded, 0, opt_seconds, error);
  end = g_get_monotonic_time ();
  g_atomic_int_set (&stop, TRUE);
  for (int i = 0; i < opt_writers; i++)
    {
      g_thread_join (threads[i]);
      g_array_append_vals (run->renames, writers[i].samples->data,
                           writers[i].samples->len);
      for (guint j = 0; j < writers[i].ends->len; j++)
        {
          gint64 at = g_array_index (writers[i].ends, gint64, j);

          answered += at >= start && at <= end;
        }
      run->failures += writers[i].failures;
      g_array_unref (writers[i].samples);
      g_array_unref (writers[i].ends);
    }
  run->renames_per_s = answered / ((end - start) / 1e6);
  if (ok)
    time_creates (run);
  return ok;
}

/* ---- report --------------------------------------------------------------- */

static void
row (const char *what,
     Run **runs,
     guint n,
     double (*value) (Run *run, gconstpointer data),
     gconstpointer data,
     const char *unit)
{
  double first = value (runs[0], data);

  g_print ("  %-34s", what);
  for (guint i = 0; i < n; i++)
    g_print (" %10.2f", value (runs[i], data));
  /* How many times the figure before is the one after: above 1, the
   * change made it smaller (faster). */
  if (n == 2)
    g_print ("   %9.2f", value (runs[1], data) > 0
                           ? first / value (runs[1], data) : 0.0);
  g_print ("  %s\n", unit);
}

static double
quiet_p (Run *run, gconstpointer p)
{
  return nlx_bench_percentile (run->quiet, GPOINTER_TO_UINT (p));
}

static double
loaded_p (Run *run, gconstpointer p)
{
  return nlx_bench_percentile (run->loaded, GPOINTER_TO_UINT (p));
}

static double
rename_p (Run *run, gconstpointer p)
{
  if (run->renames->len == 0)
    return 0;
  return nlx_bench_percentile (run->renames, GPOINTER_TO_UINT (p));
}

static double
create_p (Run *run, gconstpointer p)
{
  if (run->creates->len == 0)
    return 0;
  return nlx_bench_percentile (run->creates, GPOINTER_TO_UINT (p));
}

static double
create_rate (Run *run, gconstpointer p G_GNUC_UNUSED)
{
  return run->creates_per_s;
}

static double
rate (Run *run, gconstpointer p G_GNUC_UNUSED)
{
  return run->renames_per_s;
}

static void
report (Run **runs,
        guint n)
{
  g_print ("\nbench-saves: state_path on ext4 over a loop device limited to "
           "%d writes/s (blkio cgroup); %d servers; %d GETs alone, then GETs "
           "for %d s while %d clients rename servers; then %d creates, %d at "
           "once\n\n", opt_iops, opt_servers, opt_gets, opt_seconds,
           opt_writers, opt_creates, opt_concurrent);
  g_print ("  %-34s", "");
  for (guint i = 0; i < n; i++)
    g_print (" %10s", runs[i]->label);
  if (n == 2)
    g_print ("   %9s", "before/after");
  g_print ("\n");
  row ("GET p50, nothing else (ms)", runs, n, quiet_p, GUINT_TO_POINTER (50), "");
  row ("GET p99, nothing else (ms)", runs, n, quiet_p, GUINT_TO_POINTER (99), "");
  row ("GET p50, renames saving (ms)", runs, n, loaded_p, GUINT_TO_POINTER (50), "");
  row ("GET p95, renames saving (ms)", runs, n, loaded_p, GUINT_TO_POINTER (95), "");
  row ("GET p99, renames saving (ms)", runs, n, loaded_p, GUINT_TO_POINTER (99), "");
  row ("GET max, renames saving (ms)", runs, n, loaded_p, GUINT_TO_POINTER (100), "");
  row ("rename p50 (ms)", runs, n, rename_p, GUINT_TO_POINTER (50), "");
  row ("rename p99 (ms)", runs, n, rename_p, GUINT_TO_POINTER (99), "");
  row ("renames answered per second", runs, n, rate, NULL,
       "(higher is better)");
  row ("create p50, concurrent (ms)", runs, n, create_p, GUINT_TO_POINTER (50), "");
  row ("create p90, concurrent (ms)", runs, n, create_p, GUINT_TO_POINTER (90), "");
  row ("create max, concurrent (ms)", runs, n, create_p, GUINT_TO_POINTER (100), "");
  row ("creates answered per second", runs, n, create_rate, NULL,
       "(higher is better)");
  for (guint i = 0; i < n; i++)
    if (runs[i]->failures > 0)
      g_print ("  %s: %u renames failed\n", runs[i]->label, runs[i]->failures);
  for (guint i = 0; i < n; i++)
    if (runs[i]->create_failures > 0)
      g_print ("  %s: %u creates failed\n", runs[i]->label,
               runs[i]->create_failures);
}

static void
run_free (Run *run)
{
  g_free (run->dir);
  g_free (run->socket);
  g_free (run->log);
  g_ptr_array_unref (run->ids);
  g_array_unref (run->quiet);
  g_array_unref (run->loaded);
  g_array_unref (run->renames);
  g_array_unref (run->creates);
  g_free (run);
}

static Run *
run_new (Disk *disk,
         const char *label,
         const char *daemon_path)
{
  Run *run = g_new0 (Run, 1);

  run->label = label;
  run->daemon_path = daemon_path;
  run->dir = g_build_filename (disk->tmp, label, NULL);
  g_mkdir (run->dir, 0755);
  run->ids = g_ptr_array_new_with_free_func (g_free);
  run->quiet = g_array_new (FALSE, FALSE, sizeof (double));
  run->loaded = g_array_new (FALSE, FALSE, sizeof (double));
  run->renames = g_array_new (FALSE, FALSE, sizeof (double));
  run->creates = g_array_new (FALSE, FALSE, sizeof (double));
  return run;
}

static void
on_signal (int signum G_GNUC_UNUSED)
{
  /* The cleanup runs as the measurement fails. */
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  Disk disk = { .read_only = g_ptr_array_new_with_free_func (g_free) };
  Run *runs[2];
  guint n = 0;
  int status = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
    "Times cheap GETs while renames save on a slow disk, for one daemon or "
    "two side by side.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-saves: %s\n", error->message);
      return 2;
    }
  if (opt_iops < 1 || opt_servers < 1 || opt_gets < 1 || opt_writers < 1 ||
      opt_seconds < 1 || opt_creates < 1 || opt_concurrent < 1)
    {
      g_printerr ("bench-saves: --iops, --servers, --gets, --seconds, "
                  "--writers, --creates and --concurrent must be at least "
                  "1\n");
      return 2;
    }
  if (geteuid () != 0 || !g_file_test (BLKIO "/blkio.throttle.write_iops_device",
                                       G_FILE_TEST_EXISTS))
    {
      g_print ("bench-saves: SKIP: needs root and a cgroup v1 blkio "
               "controller with throttling at " BLKIO "\n");
      return EXIT_SKIP;
    }
  signal (SIGINT, on_signal);
  signal (SIGPIPE, SIG_IGN);

  disk.tmp = g_dir_make_tmp ("nlx-bench-saves-XXXXXX", &error);
  if (disk.tmp == NULL || !disk_make (&disk, &error))
    {
      g_print ("bench-saves: SKIP: cannot make a slow disk: %s\n",
               error->message);
      disk_remove (&disk);
      return EXIT_SKIP;
    }
  if (opt_before != NULL)
    runs[n++] = run_new (&disk, "before", opt_before);
  runs[n++] = run_new (&disk, "after", opt_after ? opt_after : DAEMON);
  for (guint i = 0; i < n && status == 0; i++)
    {
      if (!measure (runs[i], &disk, &error))
        {
          g_printerr ("bench-saves: %s: %s\n", runs[i]->label, error->message);
          status = 1;
        }
      daemon_stop (runs[i]);
    }
  if (status == 0)
    report (runs, n);
  for (guint i = 0; i < n; i++)
    run_free (runs[i]);
  disk_remove (&disk);
  return status;
}
