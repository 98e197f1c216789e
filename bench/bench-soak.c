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

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-network-filter.h"
#include "lxc/nlx-lxc-error.h"

#include "nlx-bench.h"

#define EXIT_SKIP 77
#define EXIT_USAGE 2
#define URI "lxc:///"
#define IMAGE "nlxsoak"
#define FLAVOR "m1.nano"
#define SERVERS 10
#define VOLUME_MB 16
/* The mix: one request per listener every so often. */
#define MIX_INTERVAL_US (20 * 1000)
/* How often a worker looks at its server while it is busy. */
#define POLL_INTERVAL_US (250 * 1000)
/* Cycles each server goes through in the warm-up: the daemon's malloc
 * arenas (one per worker thread, up to 8 per core) grow to their size
 * under concurrent operations, which is not a leak. */
#define WARMUP_CYCLES 3
/* Requests each mix client sends during the warm-up. */
#define WARMUP_REQUESTS 400
#define DAEMON_START_TIMEOUT_S 60
#define DAEMON_STOP_TIMEOUT_S 20
#define SETTLE_TIMEOUT_S 300
/* How often the daemon's figures are printed during the soak. */
#define REPORT_INTERVAL_S 30
#define REQUEST_TIMEOUT_S 60
/* Seconds between two disruptions (a kill, a libvirtd restart), so the
 * daemon has come back and reconciled before the next one. */
#define EVENT_SPACING_S 12
/* After libvirtd answers again, the daemon probes it once a second and
 * refuses operations with 503 until it sees it: 503s this long after a
 * libvirtd restart are expected. */
#define LIBVIRTD_GRACE_US (10 * G_USEC_PER_SEC)
/* Someone else's libvirtd restart is seen when its pid goes, which
 * tools/libvirtd-service gives up to 10 s after it asked libvirtd to
 * stop; libvirtd fails calls meanwhile. */
#define FOREIGN_BEFORE_US (12 * G_USEC_PER_SEC)
/* Threads the daemon's worker pool may keep idle, and fds a settled
 * daemon may hold more at the end than at the start (a libvirt
 * reconnect, the log reopened): beyond these it leaked. */
#define THREADS_SLACK 2
#define FDS_SLACK 4
#define RSS_SLACK_KIB (4 * 1024)
/* An instance's root: the idmapped image (lower) and the overlay. */
#define MOUNTS_PER_SERVER 2
/* An attached volume: the instance's loop device and the host's own over
 * it. */
#define LOOPS_PER_VOLUME 2

#ifndef NLX_ABS_TOP_SRCDIR
#define NLX_ABS_TOP_SRCDIR NLX_ABS_TOP_BUILDDIR
#endif
#define MKROOTFS NLX_ABS_TOP_SRCDIR "/tools/mkrootfs"
#define LIBVIRTD_SERVICE NLX_ABS_TOP_SRCDIR "/tools/libvirtd-service"

static int opt_duration = 600;
static int opt_kills = -1;
static int opt_libvirtd_restarts = 2;
static gint64 opt_seed = 0;
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

static volatile sig_atomic_t interrupted = 0;

typedef enum {
  OP_ATTACH,
  OP_REBOOT,
  OP_STOP,
  OP_START,
  OP_DETACH,
  OP_SNAPSHOT,
  OP_DELETE,
  OP_CREATE,
  N_OPS
} Op;

static const char *const op_names[N_OPS] = {
  "attach", "reboot", "stop", "start", "detach", "snapshot", "delete",
  "create"
};

/* What the workers do, then park at. */
typedef enum {
  PHASE_WARMUP,                 /* one whole cycle, then park */
  PHASE_SOAK,                   /* cycle until told to stop */
  PHASE_STOP                    /* park once the server is idle */
} Phase;

typedef enum {
  WINDOW_DAEMON,                /* the daemon killed until it answers */
  WINDOW_LIBVIRTD,              /* libvirtd down until it answers, + grace */
  WINDOW_FOREIGN                /* someone else restarted libvirtd */
} WindowKind;

typedef struct {
  WindowKind kind;
  gint64 start;
  gint64 end;                   /* G_MAXINT64 while open */
} Window;

typedef struct {
  guint requests;               /* answered */
  guint unanswered;
  guint bad_requests;           /* sent to get a 4xx */
  guint bad_misanswered;        /* ... and got something else */
  guint unexpected;             /* a good request with an odd status */
  guint answers_5xx;
  guint ops_sent[N_OPS];
  guint ops_ok[N_OPS];
  guint conflicts;              /* 409 on an operation */
  guint snapshot_conflicts;     /* 409 on createImage */
  guint errors;                 /* servers seen in ERROR */
  guint false_errors;           /* ... whose domain libvirt has */
  guint vanished;               /* servers gone without a delete */
  guint cycles;
} Counts;

typedef struct Soak Soak;

typedef struct {
  Soak *soak;
  guint index;
  GThread *thread;
  char *id;                     /* the server now, NULL between two */
  char *volume;
  guint generation;
  guint step;
  guint cycled;                 /* cycles completed in this phase */
  gboolean parked;
} Slot;

struct Soak {
  char *tmp_dir;
  char *config_path;
  char *socket_path;
  char *log_path;
  char *bridge;
  char *subnet;                 /* "198.18.N" */
  char *token;
  char *root;
  guint port;
  GPid daemon;                  /* main thread only; 0 once it is gone */
  guint daemon_starts;
  guint requests_at_last_start;

  GMutex lock;                  /* everything below */
  Counts counts;
  GHashTable *uuids;            /* every server id seen: id -> name */
  GPtrArray *windows;           /* of Window */
  GPtrArray *events_5xx;        /* of char *, with a time */
  GArray *times_5xx;            /* of gint64, one per event */
  guint8 *codes_5xx;            /* 503 or not, one per event */
  GPtrArray *problems;          /* false ERRORs, lost servers, ... */
  GPtrArray *snapshot_ids;      /* images made and not yet deleted */
  Phase phase;
  gint stop_workers;            /* atomic */
  gboolean stop_mix;
  gboolean pause_mix;
  guint mix_done[2];
  Slot slots[SERVERS];
  gint64 start_us;
};

static void
on_signal (int signum G_GNUC_UNUSED)
{
  interrupted = 1;
}

static double
since_start (Soak *soak,
             gint64 when)
{
  return (double) (when - soak->start_us) / G_USEC_PER_SEC;
}

static void G_GNUC_PRINTF (2, 3)
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

static void G_GNUC_PRINTF (2, 3)
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

static Phase
get_phase (Soak *soak)
{
  Phase phase;

  g_mutex_lock (&soak->lock);
  phase = soak->phase;
  g_mutex_unlock (&soak->lock);
  return phase;
}

static void
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

static void
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
static gboolean
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

/* ---- HTTP clients ------------------------------------------------------- */

/* One per thread: libsoup sessions are not shared between threads. */
typedef struct {
  Soak *soak;
  SoupSession *session;
  gboolean tcp;
  char *base;
} Client;

static Client *
client_new (Soak *soak,
            gboolean tcp)
{
  Client *client = g_new0 (Client, 1);

  client->soak = soak;
  client->tcp = tcp;
  if (tcp)
    {
      client->session = soup_session_new_with_options ("timeout",
                                                        REQUEST_TIMEOUT_S,
                                                        NULL);
      client->base = g_strdup_printf ("http://127.0.0.1:%u/v2.1", soak->port);
    }
  else
    {
      g_autoptr(GSocketAddress) address =
        g_unix_socket_address_new (soak->socket_path);

      client->session = soup_session_new_with_options (
        "remote-connectable", address, "timeout", REQUEST_TIMEOUT_S, NULL);
      client->base = g_strdup ("http://localhost/v2.1");
    }
  return client;
}

static void
client_free (Client *client)
{
  g_clear_object (&client->session);
  g_free (client->base);
  g_free (client);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

/* The message of a Nova fault body {"NAME": {"code": N, "message": S}}. */
static char *
fault_message (JsonNode *node)
{
  JsonObject *root;
  g_autoptr(GList) members = NULL;
  JsonNode *inner;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return g_strdup ("(no fault body)");
  root = json_node_get_object (node);
  members = json_object_get_members (root);
  if (members == NULL)
    return g_strdup ("(empty body)");
  inner = json_object_get_member (root, members->data);
  if (!JSON_NODE_HOLDS_OBJECT (inner) ||
      !json_object_has_member (json_node_get_object (inner), "message"))
    return g_strdup ("(no message)");
  return g_strdup (json_object_get_string_member (json_node_get_object (inner),
                                                  "message"));
}

typedef enum {
  CALL_GOOD,                    /* a 5xx is counted and kept */
  CALL_BAD,                     /* must get a 4xx */
  CALL_NO_TOKEN                 /* TCP without the token: must get 401 */
} CallKind;

/* Sends one request; returns FALSE when there was no answer (counted).
 * Every 5xx is counted and kept with its time, to be judged against the
 * libvirtd outages at the end. */
static gboolean
client_call (Client *client,
             CallKind kind,
             const char *method,
             const char *path,
             const char *body,
             guint *status_out,
             JsonNode **reply)
{
  Soak *soak = client->soak;
  g_autofree char *url = g_strconcat (client->base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers;
  guint status;
  gint64 now;

  if (msg == NULL)
    g_error ("bench-soak: bad URL %s", url);
  headers = soup_message_get_request_headers (msg);
  soup_message_headers_append (headers, "Accept", "application/json");
  if (client->tcp && kind != CALL_NO_TOKEN)
    soup_message_headers_append (headers, "X-Auth-Token", soak->token);
  if (body != NULL)
    {
      g_autoptr(GBytes) request = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json",
                                                request);
    }
  bytes = soup_session_send_and_read (client->session, msg, NULL, &error);
  now = g_get_monotonic_time ();
  if (bytes == NULL)
    {
      g_mutex_lock (&soak->lock);
      soak->counts.unanswered++;
      /* Outside a kill, the daemon dropped a connection it should have
       * answered. */
      if (!in_window_locked (soak, now - G_USEC_PER_SEC, 1u << WINDOW_DAEMON) &&
          !in_window_locked (soak, now, 1u << WINDOW_DAEMON))
        g_ptr_array_add (soak->problems,
                         g_strdup_printf ("[%.1f s] %s %s over %s got no "
                                          "answer outside a daemon restart: "
                                          "%s", since_start (soak, now),
                                          method, path,
                                          client->tcp ? "TCP" : "the Unix "
                                          "socket", error->message));
      g_mutex_unlock (&soak->lock);
      return FALSE;
    }
  status = soup_message_get_status (msg);
  if (status_out != NULL)
    *status_out = status;
  if (reply != NULL || status >= 500)
    {
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      gsize size;
      const char *data = g_bytes_get_data (bytes, &size);

      gboolean parsed = size > 0 &&
                        json_parser_load_from_data (parser, data, size, NULL);

      if (status >= 500)
        {
          g_autofree char *message = fault_message (parsed ? json_parser_get_root (parser)
                                                           : NULL);
          g_autofree char *event = g_strdup_printf (
            "[%.1f s] %s %s over %s: %u %s", since_start (soak, now), method,
            path, client->tcp ? "TCP" : "Unix", status, message);

          g_mutex_lock (&soak->lock);
          soak->counts.answers_5xx++;
          g_ptr_array_add (soak->events_5xx, g_steal_pointer (&event));
          g_array_append_val (soak->times_5xx, now);
          soak->codes_5xx = g_realloc (soak->codes_5xx, soak->events_5xx->len);
          soak->codes_5xx[soak->events_5xx->len - 1] = status == 503;
          g_mutex_unlock (&soak->lock);
        }
      if (parsed && json_parser_get_root (parser) != NULL && reply != NULL)
        *reply = json_parser_steal_root (parser);
    }
  g_mutex_lock (&soak->lock);
  soak->counts.requests++;
  if (kind != CALL_GOOD)
    {
      soak->counts.bad_requests++;
      if (status < 400 || status >= 500 ||
          (kind == CALL_NO_TOKEN && status != 401))
        {
          soak->counts.bad_misanswered++;
          g_ptr_array_add (soak->problems,
                           g_strdup_printf ("[%.1f s] bad request %s %s over "
                                            "%s answered %u, not a 4xx",
                                            since_start (soak, now), method,
                                            path, client->tcp ? "TCP" : "Unix",
                                            status));
        }
    }
  g_mutex_unlock (&soak->lock);
  return TRUE;
}

static const char *
string_member (JsonObject *object,
               const char *name)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, name))
    return NULL;
  node = json_object_get_member (object, name);
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* @root's member @name when it holds a node of @type, else %NULL. */
static JsonNode *
member_of_type (JsonNode *root,
                const char *name,
                JsonNodeType type)
{
  JsonObject *object;
  JsonNode *member;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  object = json_node_get_object (root);
  member = json_object_get_member (object, name);
  return member != NULL && json_node_get_node_type (member) == type ? member
                                                                   : NULL;
}

static JsonObject *
object_member (JsonNode *root,
               const char *name)
{
  JsonNode *member = member_of_type (root, name, JSON_NODE_OBJECT);

  return member ? json_node_get_object (member) : NULL;
}

static JsonArray *
array_member (JsonNode *root,
              const char *name)
{
  JsonNode *member = member_of_type (root, name, JSON_NODE_ARRAY);

  return member ? json_node_get_array (member) : NULL;
}

/* ---- libvirt, as the truth ---------------------------------------------- */

typedef enum {
  DOMAIN_UNKNOWN,               /* libvirt did not answer */
  DOMAIN_NONE,
  DOMAIN_RUNNING,
  DOMAIN_SHUTOFF,
  DOMAIN_OTHER
} DomainState;

static const char *const domain_state_names[] = {
  "libvirt unreachable", "no domain", "running", "shut off", "other"
};

/* A connection of its own each time: libvirtd may have restarted. */
static DomainState
domain_state (const char *uuid)
{
  virConnectPtr conn = virConnectOpen (URI);
  virDomainPtr dom;
  DomainState result = DOMAIN_UNKNOWN;
  int state, reason;

  if (conn == NULL)
    return DOMAIN_UNKNOWN;
  dom = virDomainLookupByUUIDString (conn, uuid);
  if (dom == NULL)
    result = nlx_lxc_error_last_is (VIR_ERR_NO_DOMAIN) ? DOMAIN_NONE
                                                       : DOMAIN_UNKNOWN;
  else
    {
      if (virDomainGetState (dom, &state, &reason, 0) < 0)
        result = DOMAIN_UNKNOWN;
      else if (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED)
        result = DOMAIN_RUNNING;
      else if (state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_SHUTDOWN)
        result = DOMAIN_SHUTOFF;
      else
        result = DOMAIN_OTHER;
      virDomainFree (dom);
    }
  virConnectClose (conn);
  return result;
}

/* Waits until libvirtd answers: someone else may be restarting it. */
static gboolean
wait_libvirt (guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline && !interrupted)
    {
      virConnectPtr conn = virConnectOpen (URI);

      if (conn != NULL)
        {
          virConnectClose (conn);
          return TRUE;
        }
      g_usleep (500 * 1000);
    }
  return FALSE;
}

/* ---- the daemon ---------------------------------------------------------- */

/* A free port on 127.0.0.1, asked of the kernel. */
static guint
free_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t length = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint port = 0;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0 &&
      getsockname (fd, (struct sockaddr *) &addr, &length) == 0)
    port = ntohs (addr.sin_port);
  if (fd >= 0)
    close (fd);
  return port;
}

static gboolean
write_config (Soak *soak,
              GError **error)
{
  g_autofree char *text = g_strdup_printf (
    "[DEFAULT]\n"
    "compute_driver = lxc\n"
    "state_path = %s/state\n"
    "instances_path = %s/instances\n"
    "shutdown_timeout = 20\n"
    "[api]\n"
    "socket = %s\n"
    "listen = 127.0.0.1:%u\n"
    "auth_token = %s\n"
    "[libvirt]\n"
    "wait_soft_reboot_seconds = 20\n"
    /* SERVERS 1-vcpu servers must fit a 2-CPU machine: the default
     * cpu_allocation_ratio (4.0) would refuse the ninth. */
    "[compute]\ncpu_allocation_ratio = 16.0\n"
    "[flavor " FLAVOR "]\nvcpus = 1\nmemory_mb = 64\nroot_gb = 0\n"
    "[image " IMAGE "]\npath = %s\nos_shutdown_signal = SIGUSR2\n"
    "[network]\nbridge = %s\ncidr = %s.0/24\n",
    soak->tmp_dir, soak->tmp_dir, soak->socket_path, soak->port, soak->token,
    soak->root, soak->bridge, soak->subnet);

  return g_file_set_contents_full (soak->config_path, text, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static gboolean
daemon_alive (Soak *soak,
              int *status)
{
  int ignored;

  if (soak->daemon == 0)
    return FALSE;
  if (waitpid (soak->daemon, status ? status : &ignored, WNOHANG) == 0)
    return TRUE;
  soak->daemon = 0;
  return FALSE;
}

static void
print_log_tail (Soak *soak,
                guint lines)
{
  g_autofree char *text = NULL;
  gsize length;
  const char *start;

  if (!g_file_get_contents (soak->log_path, &text, &length, NULL) ||
      length == 0)
    return;
  start = text + length - 1;
  while (start > text && lines > 0)
    if (*--start == '\n')
      lines--;
  if (*start == '\n')
    start++;
  g_printerr ("bench-soak: the end of the daemon's log (%s):\n%s",
              soak->log_path, start);
}

static guint
total_requests (Soak *soak)
{
  guint requests;

  g_mutex_lock (&soak->lock);
  requests = soak->counts.requests;
  g_mutex_unlock (&soak->lock);
  return requests;
}

/* Starts the daemon, appending to its log, and waits until it answers. */
static gboolean
daemon_start (Soak *soak,
              GError **error)
{
  if (!nlx_bench_daemon_start (soak->config_path, soak->socket_path,
                               soak->log_path, TRUE, DAEMON_START_TIMEOUT_S,
                               &interrupted, &soak->daemon, error))
    return FALSE;
  soak->daemon_starts++;
  soak->requests_at_last_start = total_requests (soak);
  return TRUE;
}

static void
daemon_stop (Soak *soak)
{
  gint64 deadline = g_get_monotonic_time () +
                    DAEMON_STOP_TIMEOUT_S * G_USEC_PER_SEC;

  if (!daemon_alive (soak, NULL))
    return;
  kill (soak->daemon, SIGTERM);
  while (g_get_monotonic_time () < deadline)
    {
      if (!daemon_alive (soak, NULL))
        return;
      g_usleep (20 * 1000);
    }
  g_printerr ("bench-soak: nova-lxc-compute %d did not stop within %d s of "
              "SIGTERM; killing it\n", soak->daemon, DAEMON_STOP_TIMEOUT_S);
  kill (soak->daemon, SIGKILL);
  waitpid (soak->daemon, NULL, 0);
  soak->daemon = 0;
}

/* SIGKILL at a random moment, then a fresh daemon on the same state. */
static gboolean
daemon_kill_restart (Soak *soak,
                     GError **error)
{
  guint served = total_requests (soak) - soak->requests_at_last_start;

  window_open (soak, WINDOW_DAEMON, 0);
  note (soak, "SIGKILL to nova-lxc-compute %d (it answered %u requests)",
        soak->daemon, served);
  kill (soak->daemon, SIGKILL);
  waitpid (soak->daemon, NULL, 0);
  soak->daemon = 0;
  if (!daemon_start (soak, error))
    return FALSE;
  window_close (soak, WINDOW_DAEMON, G_USEC_PER_SEC);
  note (soak, "nova-lxc-compute %d answers again", soak->daemon);
  return TRUE;
}

static gboolean
run_libvirtd_service (const char *action,
                      GError **error)
{
  const char *argv[] = { "/bin/bash", LIBVIRTD_SERVICE, action, NULL };
  g_autofree char *out = NULL;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, &status, error) ||
      !g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s %s: ", LIBVIRTD_SERVICE, action);
      return FALSE;
    }
  return TRUE;
}

static gboolean
libvirtd_restart (Soak *soak,
                  GError **error)
{
  window_open (soak, WINDOW_LIBVIRTD, 0);
  note (soak, "stopping libvirtd (tools/libvirtd-service stop)");
  if (!run_libvirtd_service ("stop", error))
    return FALSE;
  /* Down long enough for operations in flight to notice. */
  g_usleep (2 * G_USEC_PER_SEC);
  if (!run_libvirtd_service ("start", error))
    return FALSE;
  window_close (soak, WINDOW_LIBVIRTD, LIBVIRTD_GRACE_US);
  note (soak, "libvirtd answers again");
  return TRUE;
}

/* libvirtd's pid, or 0; another engineer's test may restart it too. */
static GPid
libvirtd_pid (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *comm = NULL;

      if (!g_ascii_isdigit (*name))
        continue;
      path = g_strdup_printf ("/proc/%s/comm", name);
      if (g_file_get_contents (path, &comm, NULL, NULL) &&
          g_str_equal (g_strchomp (comm), "libvirtd"))
        return (GPid) g_ascii_strtoll (name, NULL, 10);
    }
  return 0;
}

/* ---- the request mix ------------------------------------------------------ */

typedef struct {
  Soak *soak;
  gboolean tcp;
} MixArgs;

static char *
random_server (Soak *soak)
{
  char *id = NULL;
  guint start = g_random_int_range (0, SERVERS);

  g_mutex_lock (&soak->lock);
  for (guint i = 0; i < SERVERS && id == NULL; i++)
    if (soak->slots[(start + i) % SERVERS].id != NULL)
      id = g_strdup (soak->slots[(start + i) % SERVERS].id);
  g_mutex_unlock (&soak->lock);
  return id;
}

/* A read that must be 200 (a server show may be 404: it was deleted). */
static void
mix_get (Client *client,
         const char *path,
         gboolean may_be_gone)
{
  guint status = 0;

  if (!client_call (client, CALL_GOOD, "GET", path, NULL, &status, NULL) ||
      status == SOUP_STATUS_OK || status >= 500 ||
      (may_be_gone && status == SOUP_STATUS_NOT_FOUND))
    return;
  g_mutex_lock (&client->soak->lock);
  client->soak->counts.unexpected++;
  g_ptr_array_add (client->soak->problems,
                   g_strdup_printf ("[%.1f s] GET %s over %s answered %u",
                                    since_start (client->soak,
                                                 g_get_monotonic_time ()),
                                    path, client->tcp ? "TCP" : "Unix",
                                    status));
  g_mutex_unlock (&client->soak->lock);
}

static gpointer
mix_thread (gpointer data)
{
  MixArgs *args = data;
  Soak *soak = args->soak;
  g_autoptr(Client) client = client_new (soak, args->tcp);
  guint round = 0;

  for (;;)
    {
      g_autofree char *id = NULL;
      g_autofree char *path = NULL;
      gboolean stop, pause;

      g_mutex_lock (&soak->lock);
      stop = soak->stop_mix;
      pause = soak->pause_mix;
      g_mutex_unlock (&soak->lock);
      if (stop)
        break;
      if (pause)
        {
          g_usleep (100 * 1000);
          continue;
        }
      round++;
      switch (round % 4)
        {
        case 0:
          mix_get (client, "/servers/detail", FALSE);
          break;
        case 1:
          mix_get (client, "/flavors", FALSE);
          break;
        case 2:
          id = random_server (soak);
          path = g_strconcat ("/servers/", id ? id : "detail", NULL);
          mix_get (client, path, TRUE);
          break;
        default:
          mix_get (client, "/os-hypervisors", FALSE);
          break;
        }
      /* Now and then a bad request, which must get a 4xx. */
      if (round % 20 == 0)
        switch ((round / 20) % (args->tcp ? 5 : 4))
          {
          case 0:
            client_call (client, CALL_BAD, "GET",
                         "/servers/7e57d00d-0000-4000-8000-000000000000",
                         NULL, NULL, NULL);
            break;
          case 1:
            client_call (client, CALL_BAD, "POST", "/servers",
                         "{\"server\": {\"name\": ", NULL, NULL);
            break;
          case 2:
            g_clear_pointer (&id, g_free);
            id = random_server (soak);
            g_clear_pointer (&path, g_free);
            path = g_strdup_printf ("/servers/%s/action",
                                    id ? id : "7e57d00d");
            client_call (client, CALL_BAD, "POST", path,
                         "{\"nlx-soak-no-such-action\": null}", NULL, NULL);
            break;
          case 3:
            client_call (client, CALL_BAD, "PUT", "/flavors", "{}", NULL,
                         NULL);
            break;
          default:
            client_call (client, CALL_NO_TOKEN, "GET", "/servers", NULL,
                         NULL, NULL);
            break;
          }
      g_mutex_lock (&soak->lock);
      soak->mix_done[args->tcp]++;
      g_mutex_unlock (&soak->lock);
      g_usleep (MIX_INTERVAL_US);
    }
  return NULL;
}

/* ---- the servers ----------------------------------------------------------- */

typedef struct {
  char *status;                 /* "" when gone (404) */
  char *task_state;             /* NULL when idle */
  char *fault;
} ServerView;

static void
server_view_clear (ServerView *view)
{
  g_clear_pointer (&view->status, g_free);
  g_clear_pointer (&view->task_state, g_free);
  g_clear_pointer (&view->fault, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ServerView, server_view_clear)

/* FALSE when there was no usable answer. */
static gboolean
server_get (Client *client,
            const char *id,
            ServerView *view)
{
  g_autofree char *path = g_strconcat ("/servers/", id, NULL);
  g_autoptr(JsonNode) reply = NULL;
  JsonObject *server;
  JsonObject *fault;
  guint status;

  if (!client_call (client, CALL_GOOD, "GET", path, NULL, &status, &reply))
    return FALSE;
  if (status == SOUP_STATUS_NOT_FOUND)
    {
      view->status = g_strdup ("");
      return TRUE;
    }
  server = object_member (reply, "server");
  if (status != SOUP_STATUS_OK || string_member (server, "status") == NULL)
    return FALSE;
  view->status = g_strdup (string_member (server, "status"));
  view->task_state = g_strdup (string_member (server, "OS-EXT-STS:task_state"));
  fault = json_object_has_member (server, "fault") &&
          JSON_NODE_HOLDS_OBJECT (json_object_get_member (server, "fault"))
          ? json_object_get_object_member (server, "fault") : NULL;
  view->fault = g_strdup (string_member (fault, "message"));
  return TRUE;
}

/* Whether the slot's volume is attached to its server: -1 when unknown. */
static int
volume_attached (Client *client,
                 Slot *slot)
{
  g_autofree char *path = g_strdup_printf ("/servers/%s/os-volume_attachments",
                                           slot->id);
  g_autoptr(JsonNode) reply = NULL;
  JsonArray *attachments;
  guint status;

  if (!client_call (client, CALL_GOOD, "GET", path, NULL, &status, &reply) ||
      status != SOUP_STATUS_OK ||
      (attachments = array_member (reply, "volumeAttachments")) == NULL)
    return -1;
  for (guint i = 0; i < json_array_get_length (attachments); i++)
    if (g_strcmp0 (string_member (json_array_get_object_element (attachments, i),
                                  "volumeId"), slot->volume) == 0)
      return 1;
  return 0;
}

/* The id of the server named @name, when the daemon has one. */
static char *
find_by_name (Client *client,
              const char *name)
{
  g_autoptr(JsonNode) reply = NULL;
  JsonArray *servers;
  guint status;

  if (!client_call (client, CALL_GOOD, "GET", "/servers", NULL, &status,
                    &reply) ||
      status != SOUP_STATUS_OK ||
      (servers = array_member (reply, "servers")) == NULL)
    return NULL;
  for (guint i = 0; i < json_array_get_length (servers); i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);

      if (g_strcmp0 (string_member (server, "name"), name) == 0)
        return g_strdup (string_member (server, "id"));
    }
  return NULL;
}

static void
count_op (Soak *soak,
          Op op,
          guint status)
{
  g_mutex_lock (&soak->lock);
  soak->counts.ops_sent[op]++;
  if (status >= 200 && status < 300)
    soak->counts.ops_ok[op]++;
  else if (status == SOUP_STATUS_CONFLICT && op == OP_SNAPSHOT)
    soak->counts.snapshot_conflicts++;
  else if (status == SOUP_STATUS_CONFLICT)
    soak->counts.conflicts++;
  g_mutex_unlock (&soak->lock);
}

static void
slot_set_id (Slot *slot,
             const char *id)
{
  Soak *soak = slot->soak;

  g_mutex_lock (&soak->lock);
  g_free (slot->id);
  slot->id = g_strdup (id);
  if (id != NULL && !g_hash_table_contains (soak->uuids, id))
    g_hash_table_insert (soak->uuids, g_strdup (id),
                         g_strdup_printf ("soak-%u-%u", slot->index,
                                          slot->generation));
  g_mutex_unlock (&soak->lock);
}

static gboolean
slot_create (Client *client,
             Slot *slot)
{
  g_autofree char *name = g_strdup_printf ("soak-%u-%u", slot->index,
                                           slot->generation);
  g_autofree char *body = g_strdup_printf (
    "{\"server\": {\"name\": \"%s\", \"flavorRef\": \"" FLAVOR "\", "
    "\"imageRef\": \"" IMAGE "\"}}", name);
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *found = NULL;
  const char *id;
  guint status = 0;

  if (!client_call (client, CALL_GOOD, "POST", "/servers", body, &status,
                    &reply))
    {
      /* The daemon may have made it before it died: names are unique. */
      while ((found = find_by_name (client, name)) == NULL &&
             !interrupted && !g_atomic_int_get (&slot->soak->stop_workers) &&
             client_call (client, CALL_GOOD, "GET", "",
                                          NULL, &status, NULL) == FALSE)
        g_usleep (POLL_INTERVAL_US);
      if (found == NULL)
        found = find_by_name (client, name);
      if (found != NULL)
        {
          count_op (slot->soak, OP_CREATE, SOUP_STATUS_ACCEPTED);
          slot_set_id (slot, found);
          return TRUE;
        }
      return FALSE;
    }
  count_op (slot->soak, OP_CREATE, status);
  id = string_member (object_member (reply, "server"), "id");
  if (status != SOUP_STATUS_ACCEPTED || id == NULL)
    {
      g_autofree char *message = fault_message (reply);

      if (status != SOUP_STATUS_SERVICE_UNAVAILABLE)
        problem (slot->soak, "creating %s answered %u: %s", name, status,
                 message);
      return FALSE;
    }
  slot_set_id (slot, id);
  return TRUE;
}

/* A server in ERROR: is libvirt of the same opinion? */
static void
judge_error (Client *client G_GNUC_UNUSED,
             Slot *slot,
             const ServerView *view)
{
  Soak *soak = slot->soak;
  DomainState state = domain_state (slot->id);
  gboolean false_error;

  /* An ERROR while libvirtd is down is judged once it is back. */
  if (state == DOMAIN_UNKNOWN && wait_libvirt (120))
    state = domain_state (slot->id);
  false_error = state == DOMAIN_RUNNING || state == DOMAIN_SHUTOFF;

  g_mutex_lock (&soak->lock);
  soak->counts.errors++;
  if (false_error)
    soak->counts.false_errors++;
  g_mutex_unlock (&soak->lock);
  if (false_error)
    problem (soak, "false ERROR: server %s (slot %u) is ERROR ('%s') while "
             "libvirt has its domain %s", slot->id, slot->index,
             view->fault ? view->fault : "no fault", domain_state_names[state]);
  else
    note (soak, "server %s (slot %u) is ERROR ('%s'); libvirt: %s",
          slot->id, slot->index, view->fault ? view->fault : "no fault",
          domain_state_names[state]);
}

/* Sends @op for the server in @view's state.  Returns whether the cycle
 * moves on (done, or it does not apply to this state). */
static gboolean
slot_operate (Client *client,
              Slot *slot,
              Op op,
              const ServerView *view)
{
  Soak *soak = slot->soak;
  g_autofree char *server_path = g_strconcat ("/servers/", slot->id, NULL);
  g_autofree char *action_path = g_strconcat (server_path, "/action", NULL);
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) reply = NULL;
  gboolean active = g_str_equal (view->status, "ACTIVE");
  gboolean shutoff = g_str_equal (view->status, "SHUTOFF");
  const char *method = "POST";
  gboolean started_first = FALSE;
  guint status = 0;
  int attached;

  switch (op)
    {
    case OP_ATTACH:
    case OP_DETACH:
      if (!active && !shutoff)
        return FALSE;
      attached = volume_attached (client, slot);
      if (attached < 0)
        return FALSE;
      if (attached == (op == OP_ATTACH))
        return TRUE;
      if (op == OP_ATTACH)
        {
          path = g_strconcat (server_path, "/os-volume_attachments", NULL);
          body = g_strdup_printf ("{\"volumeAttachment\": {\"volumeId\": "
                                  "\"%s\", \"mount_path\": \"/data\"}}",
                                  slot->volume);
        }
      else
        {
          path = g_strconcat (server_path, "/os-volume_attachments/",
                              slot->volume, NULL);
          method = "DELETE";
        }
      break;
    case OP_REBOOT:
    case OP_STOP:
      if (shutoff)
        {
          if (op == OP_STOP)
            return TRUE;
          /* Back up first, then the reboot. */
          op = OP_START;
          started_first = TRUE;
          body = g_strdup ("{\"os-start\": null}");
        }
      else if (!active)
        return FALSE;
      else
        body = g_strdup (op == OP_STOP ? "{\"os-stop\": null}"
                                       : "{\"reboot\": {\"type\": \"SOFT\"}}");
      path = g_strdup (action_path);
      break;
    case OP_START:
      if (active)
        return TRUE;
      if (!shutoff)
        return FALSE;
      path = g_strdup (action_path);
      body = g_strdup ("{\"os-start\": null}");
      break;
    case OP_SNAPSHOT:
      if (!active && !shutoff)
        return FALSE;
      path = g_strdup (action_path);
      body = g_strdup_printf ("{\"createImage\": {\"name\": "
                              "\"nlxsoak-%u-%u-%u\"}}", slot->index,
                              slot->generation, g_random_int ());
      break;
    case OP_DELETE:
      path = g_strdup (server_path);
      method = "DELETE";
      break;
    default:
      g_assert_not_reached ();
    }

  if (!client_call (client, CALL_GOOD, method, path, body, &status, &reply))
    return FALSE;
  count_op (soak, op, status);
  if (op == OP_SNAPSHOT && status == SOUP_STATUS_ACCEPTED)
    {
      const char *image = NULL;
      g_autofree char *image_path = NULL;
      guint deleted = 0;

      if (reply != NULL && JSON_NODE_HOLDS_OBJECT (reply))
        image = string_member (json_node_get_object (reply), "image_id");
      if (image == NULL)
        {
          problem (soak, "createImage of %s answered 202 without an image_id",
                   slot->id);
          return TRUE;
        }
      /* Kept until deleted, so the cleanup finds one a kill orphaned. */
      g_mutex_lock (&soak->lock);
      g_ptr_array_add (soak->snapshot_ids, g_strdup (image));
      g_mutex_unlock (&soak->lock);
      image_path = g_strconcat ("/images/", image, NULL);
      if (client_call (client, CALL_GOOD, "DELETE", image_path, NULL,
                       &deleted, NULL) &&
          (deleted == SOUP_STATUS_NO_CONTENT ||
           deleted == SOUP_STATUS_NOT_FOUND))
        {
          g_mutex_lock (&soak->lock);
          for (guint i = 0; i < soak->snapshot_ids->len; i++)
            if (g_str_equal (soak->snapshot_ids->pdata[i], image))
              g_ptr_array_remove_index_fast (soak->snapshot_ids, i);
          g_mutex_unlock (&soak->lock);
        }
      else if (deleted != 0 && deleted < 500)
        problem (soak, "DELETE %s answered %u", image_path, deleted);
      return TRUE;
    }
  if (status >= 200 && status < 300)
    return !started_first;
  if (status == SOUP_STATUS_NOT_FOUND && op == OP_DELETE)
    return TRUE;
  /* A tenant's answer never shows where the daemon keeps things. */
  if (status >= 400)
    {
      g_autofree char *message = fault_message (reply);

      if (strstr (message, soak->tmp_dir) != NULL)
        problem (soak, "%s %s (%s) answered %u naming a host path: %s",
                 method, path, op_names[op], status, message);
      else if (status == SOUP_STATUS_CONFLICT && op == OP_SNAPSHOT)
        note (soak, "createImage of %s: 409 %s", slot->id, message);
    }
  /* Busy (a retry after a lost answer finds the first still running):
   * counted, and the cycle goes on. */
  if (status == SOUP_STATUS_CONFLICT && op == OP_SNAPSHOT)
    return TRUE;
  if (status == SOUP_STATUS_CONFLICT || status == SOUP_STATUS_SERVICE_UNAVAILABLE)
    return FALSE;
  if (status < 500)
    {
      g_autofree char *message = fault_message (reply);

      problem (soak, "%s %s (%s, server %s) answered %u: %s", method, path,
               op_names[op], view->status, status, message);
    }
  /* A 5xx is kept by client_call; go on with the cycle. */
  return TRUE;
}

static const Op cycle[] = {
  OP_ATTACH, OP_REBOOT, OP_STOP, OP_START, OP_DETACH, OP_SNAPSHOT, OP_DELETE
};

static gpointer
worker_thread (gpointer data)
{
  Slot *slot = data;
  Soak *soak = slot->soak;
  g_autoptr(Client) client = client_new (soak, FALSE);
  Phase seen = PHASE_WARMUP;
  guint refused = 0;
  gboolean deleting = FALSE;

  g_usleep (g_random_int_range (0, 3000) * 1000);

  while (!interrupted && !g_atomic_int_get (&soak->stop_workers))
    {
      g_auto(ServerView) view = { 0 };
      Phase phase = get_phase (soak);
      gboolean park;

      if (phase != seen)
        {
          g_mutex_lock (&soak->lock);
          slot->cycled = 0;
          slot->parked = FALSE;
          g_mutex_unlock (&soak->lock);
          seen = phase;
          /* Out of step with the others, so a kill finds them doing
           * different things. */
          if (phase == PHASE_SOAK)
            g_usleep (g_random_int_range (0, 3000) * 1000);
        }

      if (slot->id == NULL)
        {
          g_mutex_lock (&soak->lock);
          park = slot->parked;
          g_mutex_unlock (&soak->lock);
          if (park)
            {
              g_usleep (POLL_INTERVAL_US);
              continue;
            }
          if (!slot_create (client, slot))
            g_usleep (POLL_INTERVAL_US);
          deleting = FALSE;
          continue;
        }

      if (!server_get (client, slot->id, &view))
        {
          g_usleep (POLL_INTERVAL_US);
          continue;
        }
      if (*view.status == '\0')
        {
          if (!deleting)
            {
              g_mutex_lock (&soak->lock);
              soak->counts.vanished++;
              g_mutex_unlock (&soak->lock);
              problem (soak, "server %s (slot %u) vanished without a delete; "
                       "libvirt: %s", slot->id, slot->index,
                       domain_state_names[domain_state (slot->id)]);
            }
          slot_set_id (slot, NULL);
          slot->generation++;
          slot->step = 0;
          g_mutex_lock (&soak->lock);
          soak->counts.cycles++;
          slot->cycled++;
          /* Parks with a new, idle server. */
          g_mutex_unlock (&soak->lock);
          continue;
        }
      if (view.task_state != NULL || g_str_equal (view.status, "BUILD"))
        {
          g_usleep (POLL_INTERVAL_US);
          continue;
        }
      if (g_str_equal (view.status, "ERROR") && !deleting)
        {
          judge_error (client, slot, &view);
          slot->step = G_N_ELEMENTS (cycle) - 1;
        }

      g_mutex_lock (&soak->lock);
      park = (phase == PHASE_STOP ||
              (phase == PHASE_WARMUP && slot->cycled >= WARMUP_CYCLES)) &&
             !g_str_equal (view.status, "ERROR");
      slot->parked = park;
      g_mutex_unlock (&soak->lock);
      if (park)
        {
          g_usleep (POLL_INTERVAL_US);
          continue;
        }

      if (cycle[slot->step] == OP_DELETE)
        deleting = TRUE;
      if (slot_operate (client, slot, cycle[slot->step], &view))
        {
          refused = 0;
          if (slot->step + 1 < G_N_ELEMENTS (cycle))
            slot->step++;
          g_usleep (g_random_int_range (0, 500) * 1000);
        }
      else if (++refused >= 20)
        {
          /* A state the cycle does not expect (PAUSED, say): move on. */
          note (soak, "server %s (slot %u), %s: %s refused or not "
                "applicable 20 times; skipping it", slot->id,
                slot->index, view.status, op_names[cycle[slot->step]]);
          refused = 0;
          if (slot->step + 1 < G_N_ELEMENTS (cycle))
            slot->step++;
        }
      else
        g_usleep (POLL_INTERVAL_US);
    }
  return NULL;
}

/* ---- what the daemon and the host hold ----------------------------------- */

typedef struct {
  /* the daemon */
  int fds;
  int rss_kib;
  int threads;
  /* its files */
  int records;
  int record_temporaries;
  int addresses;
  int images;                   /* records in state/images/records */
  int trees;                    /* other entries of state/images */
  int images_listed;            /* nlxsoak-* images the API lists */
  int scratch;                  /* entries of state/snapshots */
  int volumes;
  /* the host */
  int domains;
  int domains_active;
  int loops;
  int mounts;
  int veths;
  int bridge;
  /* what the live servers should hold */
  int live;
  int active;
  int attached;
  int contradicted;             /* servers libvirt contradicts */
  /* counts */
  Counts counts;
} Figures;

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

static int
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

static int
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
static int
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

static int
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
static GPtrArray *
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

static void
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
static gboolean
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

static void
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
static guint
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

static gboolean
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

static void
stop_workers (Soak *soak)
{
  g_atomic_int_set (&soak->stop_workers, 1);
  for (guint i = 0; i < SERVERS; i++)
    if (soak->slots[i].thread != NULL)
      g_thread_join (g_steal_pointer (&soak->slots[i].thread));
}

/* Deletes every server, snapshot and volume through the daemon and waits
 * until they are gone. */
static gboolean
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
static gboolean
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
