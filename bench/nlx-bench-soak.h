/* nlx-bench-soak.h: what the pieces of bench-soak share: its limits, its
 * options, the run's state (Soak), and the functions one piece calls in
 * another. */
#pragma once

#include <signal.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

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

/* One per thread: libsoup sessions are not shared between threads. */
typedef struct {
  Soak *soak;
  SoupSession *session;
  gboolean tcp;
  char *base;
} Client;

typedef enum {
  CALL_GOOD,                    /* a 5xx is counted and kept */
  CALL_BAD,                     /* must get a 4xx */
  CALL_NO_TOKEN                 /* TCP without the token: must get 401 */
} CallKind;

typedef struct {
  Soak *soak;
  gboolean tcp;
} MixArgs;

typedef enum {
  DOMAIN_UNKNOWN,               /* libvirt did not answer */
  DOMAIN_NONE,
  DOMAIN_RUNNING,
  DOMAIN_SHUTOFF,
  DOMAIN_OTHER
} DomainState;

typedef struct {
  char *status;                 /* "" when gone (404) */
  char *task_state;             /* NULL when idle */
  char *fault;
} ServerView;

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

/* bench-soak.c */
extern int opt_duration;
extern int opt_kills;
extern int opt_libvirtd_restarts;
extern gint64 opt_seed;
extern volatile sig_atomic_t interrupted;
extern const char *const op_names[N_OPS];
double since_start (Soak *soak,
                    gint64 when);
void note (Soak *soak,
           const char *format,
           ...) G_GNUC_PRINTF (2, 3);
void problem (Soak *soak,
              const char *format,
              ...) G_GNUC_PRINTF (2, 3);
Phase get_phase (Soak *soak);
void window_open (Soak *soak,
                  WindowKind kind,
                  gint64 before_us);
void window_close (Soak *soak,
                   WindowKind kind,
                   gint64 grace_us);
gboolean in_window_locked (Soak *soak,
                           gint64 when,
                           guint kinds);
void print_start (const Figures *f);

/* bench-soak-clients.c */
Client *client_new (Soak *soak,
                    gboolean tcp);
void client_free (Client *client);
char *fault_message (JsonNode *node);
gboolean client_call (Client *client,
                      CallKind kind,
                      const char *method,
                      const char *path,
                      const char *body,
                      guint *status_out,
                      JsonNode **reply);
const char *string_member (JsonObject *object,
                           const char *name);
JsonObject *object_member (JsonNode *root,
                           const char *name);
JsonArray *array_member (JsonNode *root,
                         const char *name);
gpointer mix_thread (gpointer data);
void server_view_clear (ServerView *view);
gboolean server_get (Client *client,
                     const char *id,
                     ServerView *view);
gpointer worker_thread (gpointer data);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ServerView, server_view_clear)

/* bench-soak-daemon.c */
extern const char *const domain_state_names[];
DomainState domain_state (const char *uuid);
gboolean wait_libvirt (guint timeout_s);
guint free_port (void);
gboolean write_config (Soak *soak,
                       GError **error);
gboolean daemon_alive (Soak *soak,
                       int *status);
void print_log_tail (Soak *soak,
                     guint lines);
guint total_requests (Soak *soak);
gboolean daemon_start (Soak *soak,
                       GError **error);
void daemon_stop (Soak *soak);
gboolean daemon_kill_restart (Soak *soak,
                              GError **error);
gboolean libvirtd_restart (Soak *soak,
                           GError **error);
GPid libvirtd_pid (void);

/* bench-soak-figures.c */
int proc_status_field (GPid pid,
                       const char *field);
int daemon_fds (GPid pid);
int count_loops (Soak *soak);
int count_mounts (Soak *soak);
GPtrArray *run_uuids (Soak *soak);
void measure (Soak *soak,
              Client *client,
              gboolean with_daemon,
              Figures *figures);
gboolean settle (Soak *soak,
                 Client *client,
                 GError **error);

/* bench-soak-run.c */
guint judge_5xx (Soak *soak);
gboolean run (Soak *soak,
              Figures *start,
              Figures *end,
              GError **error);
void stop_workers (Soak *soak);
gboolean delete_through_api (Soak *soak,
                             Client *client,
                             GError **error);
gboolean remove_leftovers (Soak *soak);

G_END_DECLS
