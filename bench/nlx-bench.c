/* nlx-bench.c: what the benchmarks share */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

#include "nlx-bench.h"
#include "common/nlx-error.h"

#define DAEMON NLX_ABS_TOP_BUILDDIR "/src/nova-lxc-compute"

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/**
 * nlx_bench_percentile:
 * @samples: (element-type double): at least one
 * @p: 1 to 100
 *
 * By nearest rank, so every figure printed is a time actually measured.
 */
double
nlx_bench_percentile (GArray *samples,
                      guint p)
{
  g_autoptr(GArray) sorted = g_array_copy (samples);
  guint rank = (p * sorted->len + 99) / 100;

  g_array_sort (sorted, compare_doubles);
  return g_array_index (sorted, double, CLAMP (rank, 1, sorted->len) - 1);
}

/* Its own process group, so that a Ctrl-C at the terminal reaches the
 * bench alone, which then still deletes through the daemon; and a
 * SIGTERM should the bench die without stopping it. */
static void
daemon_child_setup (gpointer data G_GNUC_UNUSED)
{
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Whether the daemon answers GET /v2.1 with 200 on its Unix socket.
 * Plain GIO rather than libsoup, so that every benchmark can link this
 * file; refusals while it starts are expected and not reported. */
static gboolean
daemon_answers (const char *socket_path)
{
  static const char request[] = "GET /v2.1 HTTP/1.1\r\nHost: localhost\r\n"
                                "Connection: close\r\n\r\n";
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket_path);
  g_autoptr(GSocketConnection) connection = NULL;
  char reply[16] = "";
  gsize got = 0;

  if (!g_file_test (socket_path, G_FILE_TEST_EXISTS))
    return FALSE;
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address),
                                        NULL, NULL);
  if (connection == NULL ||
      !g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                  request, sizeof request - 1, NULL, NULL,
                                  NULL) ||
      !g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                                reply, sizeof reply - 1, &got, NULL, NULL))
    return FALSE;
  reply[got] = '\0';
  return g_str_has_prefix (reply, "HTTP/1.1 200 ") ||
         g_str_has_prefix (reply, "HTTP/1.0 200 ");
}

/**
 * nlx_bench_daemon_start:
 * @config_path: the daemon's configuration file
 * @socket_path: its Unix socket, where it answers once it is ready
 * @log_path: where its stdout and stderr go
 * @append: add to @log_path (a restart of the same daemon) rather than
 *   start it afresh
 * @timeout_s: how long it may take to answer
 * @interrupted: (nullable): a signal handler's flag; set, the wait gives up
 * @pid: (out): the daemon, in a process group of its own and not reaped
 *   (the caller waits for it); 0 when it failed to start
 *
 * Starts the build tree's nova-lxc-compute and waits until it answers.
 */
gboolean
nlx_bench_daemon_start (const char *config_path,
                        const char *socket_path,
                        const char *log_path,
                        gboolean append,
                        guint timeout_s,
                        volatile sig_atomic_t *interrupted,
                        GPid *pid,
                        GError **error)
{
  const char *argv[] = { DAEMON, "--config", config_path, NULL };
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  int log_fd;
  gboolean ok;

  *pid = 0;
  if (!g_file_test (DAEMON, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   "%s is not built; run make first", DAEMON);
      return FALSE;
    }
  log_fd = open (log_path, O_WRONLY | O_CREAT | O_CLOEXEC |
                           (append ? O_APPEND : O_TRUNC), 0600);
  if (log_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Cannot open %s: %s", log_path, g_strerror (saved_errno));
      return FALSE;
    }
  ok = g_spawn_async_with_fds (NULL, (char **) argv, NULL,
                               G_SPAWN_DO_NOT_REAP_CHILD |
                               G_SPAWN_STDIN_FROM_DEV_NULL,
                               daemon_child_setup, NULL, pid, -1,
                               log_fd, log_fd, error);
  close (log_fd);
  if (!ok)
    return FALSE;

  while (g_get_monotonic_time () < deadline)
    {
      int status = 0;

      if (interrupted != NULL && *interrupted)
        {
          g_set_error_literal (error, NLX_DRIVER_ERROR,
                               NLX_DRIVER_ERROR_FAILED, "Interrupted");
          return FALSE;
        }
      if (waitpid (*pid, &status, WNOHANG) != 0)
        {
          *pid = 0;
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       "nova-lxc-compute exited at start (wait status %d); "
                       "see its log, %s", status, log_path);
          return FALSE;
        }
      if (daemon_answers (socket_path))
        return TRUE;
      g_usleep (20 * 1000);
    }
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               "nova-lxc-compute did not answer on %s within %u s",
               socket_path, timeout_s);
  return FALSE;
}
