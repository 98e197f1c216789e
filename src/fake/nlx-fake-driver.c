/* nlx-fake-driver.c: an in-memory driver for testing the layers above
 *
 * It keeps the same rules as the lxc driver (states, errors, what is
 * idempotent) so manager and API tests exercise real behaviour, but runs
 * nothing.  Never use it to test the lxc driver itself. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <gmodule.h>

#include "common/nlx-file.h"
#include "driver/nlx-driver.h"
#include "host/nlx-archive.h"
#include "model/nlx-config.h"

typedef struct {
  NlxInstance *instance;
  NlxPowerState state;
  GString *console;
  guint boot_failures;  /* boots left that fail (FAKE_BOOT_FAILURE_KEY) */
  char *fault;          /* get_fault's, until the next start or stop */
} FakeInstance;

/* An attached console client: a thread that echoes what the client types,
 * as a terminal in cooked mode does, and adds it to the console log. */
typedef struct {
  NlxDriverState *state;
  char *uuid;
  int fd;                /* the driver's end; under lock, -1 once closed */
  gboolean done;         /* under lock: the thread has ended */
  GThread *thread;
} FakeConsole;

struct _NlxDriverState {
  GMutex lock;
  GHashTable *instances; /* uuid -> FakeInstance */
  GPtrArray *consoles;   /* FakeConsole, under lock */
  guint delay_ms;        /* [fake] delay_ms: how long each change takes */
  /* [fake] vcpus, memory_mb, local_gb: the host's size, small in tests
   * of what does not fit */
  guint vcpus;
  guint memory_mb;
  guint local_gb;
  char *shared;          /* [fake] shared: the process-wide table's name */
  /* [fake] hold_path: see fake_call_enter() */
  char *hold_path;
  gint calls;            /* atomic: reads in progress (fake_call_enter()) */

  /* [fake] event_interval_ms: a stream of events from a thread, as
   * libvirt sends them, so that shutdown can be tested under one. */
  guint event_interval_ms;
  GMutex event_lock;
  GCond event_cond;
  NlxDriverEventFunc event_func;
  gpointer event_data;
  GThread *event_thread;
  gboolean events_stopping;
};

/* Tables named by [fake] shared, which outlive cleanup_host as containers
 * outlive the daemon, so that tests can restart the layers above on
 * instances that kept running.  Their instances are only ever touched
 * by one driver state at a time. */
static GMutex shared_lock;
static GHashTable *shared_tables;  /* name -> GHashTable of FakeInstance */

/* Metadata key that makes spawn fail with its value as the message, so
 * tests of the layers above can see a build fail. */
#define FAKE_SPAWN_ERROR_KEY "fake_spawn_error"

/* Metadata key that makes the first boot's init print its value and exit
 * at once, as an init that fails during boot: spawn succeeds, the
 * instance is stopped and get_fault says why.  Later boots work, so
 * tests can see a start clear the fault. */
#define FAKE_BOOT_FAILURE_KEY "fake_boot_failure"

/* Operations that change an instance take [fake] delay_ms, so tests can
 * see them in progress. */
static void
take_time (NlxDriverState *state)
{
  if (state->delay_ms > 0)
    g_usleep (state->delay_ms * 1000);
}

/* A read the manager runs beside anything (get_console_output,
 * get_available_resource, console_attach) is in progress from here to
 * fake_call_leave().  With [fake] hold_path set, and while a file of that
 * name exists, the reads of the console log and of the host's size wait
 * for it to go, having written PATH.held: so a test can stop the layers
 * above with a read in progress, which cleanup_host then catches. */
typedef NlxDriverState FakeCall;

static FakeCall *
fake_call_enter (NlxDriverState *state,
                 gboolean may_hold)
{
  g_atomic_int_inc (&state->calls);
  if (may_hold && state->hold_path != NULL &&
      g_file_test (state->hold_path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *held = g_strconcat (state->hold_path, ".held", NULL);
      int fd = open (held, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

      if (fd < 0)
        g_warning ("fake driver: cannot write %s: %s", held, g_strerror (errno));
      else
        close (fd);
      while (g_file_test (state->hold_path, G_FILE_TEST_EXISTS))
        g_usleep (10 * 1000);
    }
  return state;
}

static void
fake_call_leave (FakeCall *state)
{
  g_atomic_int_add (&state->calls, -1);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeCall, fake_call_leave)

static GMutexLocker *
lock_for_change (NlxDriverState *state)
{
  take_time (state);
  return g_mutex_locker_new (&state->lock);
}

static void
fake_instance_free (FakeInstance *fake)
{
  nlx_instance_free (fake->instance);
  g_string_free (fake->console, TRUE);
  g_free (fake->fault);
  g_free (fake);
}

static void
fake_console_free (FakeConsole *console)
{
  if (console->thread != NULL)
    g_thread_join (console->thread);
  g_free (console->uuid);
  g_free (console);
}

/* Ends the clients of @uuid's console (all, with %NULL), as a console
 * that goes away with its instance: they read end of file.  Called with
 * state->lock held; only the thread closes its descriptor, under it. */
static void
hang_up_consoles (NlxDriverState *state,
                  const char *uuid)
{
  for (guint i = 0; i < state->consoles->len; i++)
    {
      FakeConsole *console = state->consoles->pdata[i];

      if (console->fd >= 0 &&
          (uuid == NULL || g_str_equal (console->uuid, uuid)))
        shutdown (console->fd, SHUT_RDWR);
    }
}

static void
boot (FakeInstance *fake)
{
  const char *last_words = g_hash_table_lookup (fake->instance->metadata,
                                                FAKE_BOOT_FAILURE_KEY);

  g_clear_pointer (&fake->fault, g_free);
  if (last_words != NULL && fake->boot_failures > 0)
    {
      fake->boot_failures--;
      fake->state = NLX_POWER_STATE_SHUTDOWN;
      g_string_append_printf (fake->console, "%s\n", last_words);
      fake->fault = g_strdup_printf ("Instance %s stopped during boot: its "
                                     "init exited. Its last console "
                                     "lines:\n%s", fake->instance->uuid,
                                     last_words);
      return;
    }
  fake->state = NLX_POWER_STATE_RUNNING;
  /* A few lines, as a real boot prints: clients (tempest) ask for the
   * last N lines and expect N. */
  g_string_append_printf (fake->console,
                          "fake instance %s starting\n"
                          "fake instance %s: mounting the root\n"
                          "fake instance %s: starting init\n"
                          "fake instance %s booted\n",
                          fake->instance->uuid, fake->instance->uuid,
                          fake->instance->uuid, fake->instance->uuid);
}

static FakeInstance *
lookup (NlxDriverState *state,
        const char *uuid,
        GError **error)
{
  FakeInstance *fake = g_hash_table_lookup (state->instances, uuid);

  if (fake == NULL)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                 _("No instance %s on this host"), uuid);
  return fake;
}

static gboolean
require_state (FakeInstance *fake,
               NlxPowerState wanted,
               GError **error)
{
  if (fake->state == wanted)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
               _("Instance %s is %s, not %s"), fake->instance->uuid,
               nlx_power_state_to_string (fake->state),
               nlx_power_state_to_string (wanted));
  return FALSE;
}

/* [fake] foreign_instances: running instances the host has but no
 * compute service asked for here (another service's, or stale ones), as
 * a real host can have libvirt domains nova-lxc did not make.  Each has
 * FAKE_FOREIGN_VCPUS vcpus, so tests see whether they are counted. */
#define FAKE_FOREIGN_VCPUS 3

static gboolean
add_foreign (NlxDriverState *state,
             guint count,
             GError **error)
{
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *uuid = g_uuid_string_random ();
      g_autofree char *document = g_strdup_printf (
        "{\"uuid\": \"%s\", \"name\": \"foreign-%u\", \"image_ref\": \"none\", "
        "\"user_id\": \"other\", \"project_id\": \"other\", \"flavor\": "
        "{\"name\": \"other\", \"vcpus\": %d, \"memory_mb\": 64, "
        "\"root_gb\": 0}}", uuid, i, FAKE_FOREIGN_VCPUS);
      FakeInstance *fake = g_new0 (FakeInstance, 1);

      fake->instance = nlx_instance_new_from_data (document, -1, error);
      fake->console = g_string_new (NULL);
      if (fake->instance == NULL)
        {
          fake_instance_free (fake);
          return FALSE;
        }
      boot (fake);
      g_hash_table_insert (state->instances, g_strdup (fake->instance->uuid),
                           fake);
    }
  return TRUE;
}

static void fake_cleanup_host (NlxDriverState *state);

static NlxDriverState *
fake_init_host (GKeyFile *config,
                GError **error)
{
  NlxDriverState *state;
  guint delay_ms = 0;
  guint foreign = 0;

  guint event_interval_ms = 0;
  guint vcpus = 64, memory_mb = 256 * 1024, local_gb = 2048;
  g_autofree char *shared = nlx_config_get_string (config, "fake", "shared",
                                                   NULL);
  g_autofree char *hold_path = nlx_config_get_string (config, "fake",
                                                      "hold_path", NULL);

  if (!nlx_config_get_uint (config, "fake", "delay_ms", 0, 60000, &delay_ms,
                            error) ||
      !nlx_config_get_uint (config, "fake", "foreign_instances", 0, 1000,
                            &foreign, error) ||
      !nlx_config_get_uint (config, "fake", "event_interval_ms", 0, 60000,
                            &event_interval_ms, error) ||
      !nlx_config_get_uint (config, "fake", "vcpus", 1, 4096, &vcpus, error) ||
      !nlx_config_get_uint (config, "fake", "memory_mb", 1, G_MAXINT,
                            &memory_mb, error) ||
      !nlx_config_get_uint (config, "fake", "local_gb", 1, G_MAXINT,
                            &local_gb, error))
    return NULL;
  state = g_new0 (NlxDriverState, 1);
  state->delay_ms = delay_ms;
  state->vcpus = vcpus;
  state->memory_mb = memory_mb;
  state->local_gb = local_gb;
  state->event_interval_ms = event_interval_ms;
  state->hold_path = g_steal_pointer (&hold_path);
  g_mutex_init (&state->lock);
  state->consoles =
    g_ptr_array_new_with_free_func ((GDestroyNotify) fake_console_free);
  g_mutex_init (&state->event_lock);
  g_cond_init (&state->event_cond);
  if (shared != NULL)
    {
      g_mutex_lock (&shared_lock);
      if (shared_tables == NULL)
        shared_tables = g_hash_table_new_full (g_str_hash, g_str_equal,
                                               g_free, NULL);
      state->instances = g_hash_table_lookup (shared_tables, shared);
      if (state->instances == NULL)
        {
          state->instances = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                    g_free,
                                                    (GDestroyNotify) fake_instance_free);
          g_hash_table_insert (shared_tables, g_strdup (shared),
                               state->instances);
        }
      g_hash_table_ref (state->instances);
      g_mutex_unlock (&shared_lock);
      state->shared = g_steal_pointer (&shared);
    }
  else
    state->instances = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) fake_instance_free);
  if (!add_foreign (state, foreign, error))
    {
      fake_cleanup_host (state);
      return NULL;
    }
  return state;
}

/* The stream: every instance in turn, then "any instance" (as after a
 * lost connection), until stopped. */
static gpointer
send_events (gpointer data)
{
  NlxDriverState *state = data;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->event_lock);

  while (!state->events_stopping)
    {
      g_auto(GStrv) uuids = NULL;
      gint64 until;

      g_mutex_lock (&state->lock);
      uuids = (char **) g_hash_table_get_keys_as_array (state->instances, NULL);
      uuids = g_strdupv (uuids);
      g_mutex_unlock (&state->lock);
      for (guint i = 0; uuids[i] != NULL && state->event_func != NULL; i++)
        state->event_func (uuids[i], state->event_data);
      if (state->event_func != NULL)
        state->event_func (NULL, state->event_data);
      until = g_get_monotonic_time () + state->event_interval_ms * 1000;
      while (!state->events_stopping &&
             g_cond_wait_until (&state->event_cond, &state->event_lock, until))
        ;
    }
  return NULL;
}

static void
stop_events (NlxDriverState *state)
{
  g_mutex_lock (&state->event_lock);
  state->events_stopping = TRUE;
  state->event_func = NULL;
  state->event_data = NULL;
  g_cond_signal (&state->event_cond);
  g_mutex_unlock (&state->event_lock);
  if (state->event_thread != NULL)
    g_thread_join (g_steal_pointer (&state->event_thread));
}

/* Stops the stream with func %NULL; once that returns, no call is made. */
static void
fake_watch_events (NlxDriverState *state,
                   NlxDriverEventFunc func,
                   gpointer user_data)
{
  if (func == NULL)
    {
      stop_events (state);
      return;
    }
  g_mutex_lock (&state->event_lock);
  state->event_func = func;
  state->event_data = user_data;
  g_mutex_unlock (&state->event_lock);
  if (state->event_interval_ms > 0 && state->event_thread == NULL)
    state->event_thread = g_thread_new ("fake-events", send_events, state);
}

static void
fake_cleanup_host (NlxDriverState *state)
{
  /* The caller waits for every call before it closes the driver
   * (nlx-driver.h); a read still running would use what is freed here. */
  if (g_atomic_int_get (&state->calls) > 0)
    g_error ("fake driver: cleanup_host while %d reads still run",
             g_atomic_int_get (&state->calls));
  /* A real driver can deliver an event up to the moment its cleanup
   * stops them (libvirt's thread may be inside the callback); with a
   * stream configured the fake always does, the worst case, so that a
   * caller that frees the receiver first is caught. */
  g_mutex_lock (&state->event_lock);
  if (state->event_thread != NULL && state->event_func != NULL)
    state->event_func (NULL, state->event_data);
  g_mutex_unlock (&state->event_lock);
  stop_events (state);
  g_mutex_lock (&state->lock);
  hang_up_consoles (state, NULL);
  g_mutex_unlock (&state->lock);
  /* Joins each thread, which takes the lock to end. */
  g_ptr_array_unref (state->consoles);
  g_hash_table_unref (state->instances);
  g_mutex_clear (&state->lock);
  g_mutex_clear (&state->event_lock);
  g_cond_clear (&state->event_cond);
  g_free (state->shared);
  g_free (state->hold_path);
  g_free (state);
}

/* The vif the instance was spawned with, as libvirt keeps it in the
 * domain's metadata. */
static NlxVif *
fake_get_vif (NlxDriverState *state,
              const char *uuid,
              GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);
  FakeInstance *fake = lookup (state, uuid, error);
  const NlxVif *vif;

  if (fake == NULL || fake->instance->vif == NULL)
    return NULL;
  vif = fake->instance->vif;
  return nlx_vif_new (vif->bridge, vif->mac, vif->address, vif->prefix,
                      vif->gateway);
}

static char **
fake_list_instances (NlxDriverState *state,
                     GError **error G_GNUC_UNUSED)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);
  g_autofree char **uuids = NULL;

  uuids = (char **) g_hash_table_get_keys_as_array (state->instances, NULL);
  return g_strdupv (uuids);
}

static gboolean
fake_spawn (NlxDriverState *state,
            const NlxInstance *instance,
            const NlxImage *image G_GNUC_UNUSED,
            GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(JsonNode) node = NULL;
  const char *failure = g_hash_table_lookup (instance->metadata,
                                             FAKE_SPAWN_ERROR_KEY);
  FakeInstance *fake;

  take_time (state);
  if (failure != NULL)
    {
      g_set_error_literal (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           failure);
      return FALSE;
    }
  locker = g_mutex_locker_new (&state->lock);
  if (g_hash_table_contains (state->instances, instance->uuid))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                   _("Instance %s already exists on this host; destroy it "
                     "first or use another uuid"), instance->uuid);
      return FALSE;
    }

  fake = g_new0 (FakeInstance, 1);
  node = nlx_instance_to_node (instance);
  fake->instance = nlx_instance_new_from_node (node, NULL);
  fake->console = g_string_new (NULL);
  fake->boot_failures = 1;
  boot (fake);
  g_hash_table_insert (state->instances, g_strdup (instance->uuid), fake);
  return TRUE;
}

static gboolean
fake_destroy (NlxDriverState *state,
              const char *uuid,
              GError **error G_GNUC_UNUSED)
{
  g_autoptr(GMutexLocker) locker = lock_for_change (state);

  hang_up_consoles (state, uuid);
  g_hash_table_remove (state->instances, uuid);
  return TRUE;
}

static gboolean
fake_reboot (NlxDriverState *state,
             const char *uuid,
             NlxRebootType type,
             GError **error)
{
  g_autoptr(GMutexLocker) locker = lock_for_change (state);
  FakeInstance *fake = lookup (state, uuid, error);

  if (fake == NULL ||
      (type == NLX_REBOOT_SOFT &&
       !require_state (fake, NLX_POWER_STATE_RUNNING, error)))
    return FALSE;
  boot (fake);
  return TRUE;
}

static gboolean
fake_power_off (NlxDriverState *state,
                const char *uuid,
                guint timeout_s G_GNUC_UNUSED,
                GError **error)
{
  g_autoptr(GMutexLocker) locker = lock_for_change (state);
  FakeInstance *fake = lookup (state, uuid, error);

  if (fake == NULL)
    return FALSE;
  fake->state = NLX_POWER_STATE_SHUTDOWN;
  g_clear_pointer (&fake->fault, g_free);
  hang_up_consoles (state, uuid);
  return TRUE;
}

static char *
fake_get_fault (NlxDriverState *state,
                const char *uuid,
                GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);
  FakeInstance *fake = lookup (state, uuid, error);

  return fake != NULL ? g_strdup (fake->fault) : NULL;
}

static gboolean
fake_power_on (NlxDriverState *state,
               const char *uuid,
               GError **error)
{
  g_autoptr(GMutexLocker) locker = lock_for_change (state);
  FakeInstance *fake = lookup (state, uuid, error);

  if (fake == NULL)
    return FALSE;
  if (fake->state == NLX_POWER_STATE_PAUSED)
    return require_state (fake, NLX_POWER_STATE_SHUTDOWN, error);
  if (fake->state != NLX_POWER_STATE_RUNNING)
    boot (fake);
  return TRUE;
}

static gboolean
fake_pause (NlxDriverState *state,
            const char *uuid,
            GError **error)
{
  g_autoptr(GMutexLocker) locker = lock_for_change (state);
  FakeInstance *fake = lookup (state, uuid, error);

  if (fake == NULL || !require_state (fake, NLX_POWER_STATE_RUNNING, error))
    return FALSE;
  fake->state = NLX_POWER_STATE_PAUSED;
  return TRUE;
}

static gboolean
fake_unpause (NlxDriverState *state,
              const char *uuid,
              GError **error)
{
  g_autoptr(GMutexLocker) locker = lock_for_change (state);
  FakeInstance *fake = lookup (state, uuid, error);

  if (fake == NULL || !require_state (fake, NLX_POWER_STATE_PAUSED, error))
    return FALSE;
  fake->state = NLX_POWER_STATE_RUNNING;
  return TRUE;
}

static gboolean
fake_get_info (NlxDriverState *state,
               const char *uuid,
               NlxInstanceInfo *info,
               GError **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);
  FakeInstance *fake = lookup (state, uuid, error);

  if (fake == NULL)
    return FALSE;
  info->state = fake->state;
  info->max_mem_kib = (guint64) fake->instance->flavor.memory_mb * 1024;
  info->mem_kib = fake->state == NLX_POWER_STATE_SHUTDOWN ? 0 : 1024;
  info->num_cpu = fake->instance->flavor.vcpus;
  info->cpu_time_ns = 0;
  return TRUE;
}

static GHashTable *
fake_get_power_states (NlxDriverState *state,
                       GError **error G_GNUC_UNUSED)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);
  GHashTable *states = g_hash_table_new_full (g_str_hash, g_str_equal,
                                              g_free, NULL);
  GHashTableIter iter;
  const char *uuid;
  FakeInstance *fake;

  g_hash_table_iter_init (&iter, state->instances);
  while (g_hash_table_iter_next (&iter, (gpointer *) &uuid, (gpointer *) &fake))
    g_hash_table_insert (states, g_ascii_strdown (uuid, -1),
                         GINT_TO_POINTER (fake->state + 1));
  return states;
}

static char *
fake_get_console_output (NlxDriverState *state,
                         const char *uuid,
                         gsize max_bytes,
                         GError **error)
{
  /* Before the lock, which a held read must not keep. */
  g_autoptr(FakeCall) call = fake_call_enter (state, TRUE);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);
  FakeInstance *fake = lookup (state, uuid, error);
  gsize length;

  if (fake == NULL)
    return NULL;
  length = fake->console->len;
  return g_strdup (fake->console->str + length - MIN (length, max_bytes));
}

static gpointer
echo_thread (gpointer data)
{
  FakeConsole *console = data;
  NlxDriverState *state = console->state;
  char buffer[4096];

  for (;;)
    {
      ssize_t n = recv (console->fd, buffer, sizeof buffer, 0);
      FakeInstance *fake;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_mutex_lock (&state->lock);
      fake = g_hash_table_lookup (state->instances, console->uuid);
      if (fake != NULL)
        g_string_append_len (fake->console, buffer, n);
      g_mutex_unlock (&state->lock);
      if (send (console->fd, buffer, n, MSG_NOSIGNAL) < 0)
        break;
    }
  g_mutex_lock (&state->lock);
  close (console->fd);
  console->fd = -1;
  console->done = TRUE;
  g_mutex_unlock (&state->lock);
  return NULL;
}

static int
fake_console_attach (NlxDriverState *state,
                     const char *uuid,
                     GError **error)
{
  g_autoptr(FakeCall) call = fake_call_enter (state, FALSE);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);
  g_autoptr(GPtrArray) ended = g_ptr_array_new_with_free_func (
    (GDestroyNotify) fake_console_free);
  FakeInstance *fake = lookup (state, uuid, error);
  FakeConsole *console;
  int fds[2];

  if (fake == NULL || !require_state (fake, NLX_POWER_STATE_RUNNING, error))
    return -1;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot attach to the console of instance %s: %s"),
                   uuid, g_strerror (saved_errno));
      return -1;
    }
  /* Threads whose client left are joined here, not left to pile up. */
  for (guint i = state->consoles->len; i-- > 0;)
    if (((FakeConsole *) state->consoles->pdata[i])->done)
      g_ptr_array_add (ended, g_ptr_array_steal_index (state->consoles, i));
  console = g_new0 (FakeConsole, 1);
  console->state = state;
  console->uuid = g_strdup (uuid);
  console->fd = fds[1];
  console->thread = g_thread_new ("fake-console", echo_thread, console);
  g_ptr_array_add (state->consoles, console);
  return fds[0];
}

static NlxHostResources *
fake_get_available_resource (NlxDriverState *state,
                             GError **error G_GNUC_UNUSED)
{
  g_autoptr(FakeCall) call = fake_call_enter (state, TRUE);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&state->lock);
  NlxHostResources *res = g_new0 (NlxHostResources, 1);
  GHashTableIter iter;
  FakeInstance *fake;

  res->vcpus = state->vcpus;
  res->memory_mb = state->memory_mb;
  res->local_gb = state->local_gb;
  g_hash_table_iter_init (&iter, state->instances);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &fake))
    if (fake->state != NLX_POWER_STATE_SHUTDOWN)
      {
        res->vcpus_used += fake->instance->flavor.vcpus;
        res->memory_mb_used += fake->instance->flavor.memory_mb;
      }
  res->hypervisor_type = g_strdup ("fake");
  res->hypervisor_version = 1000;
  res->hypervisor_hostname = g_strdup (g_get_host_name ());
  return res;
}

/* Records attachments as the lxc driver keeps them; nothing is opened. */
static gboolean
fake_attach_volume (NlxDriverState *state,
                    const char *uuid,
                    const NlxVolumeAttachment *attachment,
                    GError **error)
{
  g_autoptr(GMutexLocker) locker = lock_for_change (state);
  FakeInstance *fake = lookup (state, uuid, error);

  if (fake == NULL)
    return FALSE;
  if (nlx_instance_find_volume (fake->instance, attachment->volume_id) != NULL ||
      nlx_instance_find_device (fake->instance, attachment->device) != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                   _("Instance %s already has volume %s or device %s"),
                   uuid, attachment->volume_id, attachment->device);
      return FALSE;
    }
  g_ptr_array_add (fake->instance->volumes,
                   nlx_volume_attachment_new (attachment->volume_id,
                                              attachment->device,
                                              attachment->mount_path));
  return TRUE;
}

static gboolean
fake_detach_volume (NlxDriverState *state,
                    const char *uuid,
                    const NlxVolumeAttachment *attachment,
                    GError **error G_GNUC_UNUSED)
{
  g_autoptr(GMutexLocker) locker = lock_for_change (state);
  FakeInstance *fake = g_hash_table_lookup (state->instances, uuid);
  NlxVolumeAttachment *found;

  if (fake != NULL &&
      (found = nlx_instance_find_volume (fake->instance,
                                         attachment->volume_id)) != NULL)
    g_ptr_array_remove (fake->instance->volumes, found);
  return TRUE;
}

/* A fake root of one file naming the instance and its image, so that
 * snapshots of different instances differ. */
/* An unchanged root gives the same tarball every time, as the lxc
 * driver's does: the files keep the instance's creation time. */
static gboolean
set_fixed_mtimes (FakeInstance *fake,
                  const char * const *paths,
                  guint count,
                  GError **error)
{
  struct timespec times[2] = {
    { .tv_sec = g_date_time_to_unix (fake->instance->created_at) },
    { .tv_sec = g_date_time_to_unix (fake->instance->created_at) },
  };

  for (guint i = 0; i < count; i++)
    if (utimensat (AT_FDCWD, paths[i], times, AT_SYMLINK_NOFOLLOW) != 0)
      {
        int saved_errno = errno;

        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot set the times of %s: %s"), paths[i],
                     g_strerror (saved_errno));
        return FALSE;
      }
  return TRUE;
}

static gboolean
fake_snapshot (NlxDriverState *state,
               const char *uuid,
               const char *image_dir,
               GError **error)
{
  g_autoptr(GMutexLocker) locker = lock_for_change (state);
  FakeInstance *fake = lookup (state, uuid, error);
  g_autofree char *root = g_build_filename (image_dir, "fake-root", NULL);
  g_autofree char *etc = g_build_filename (root, "etc", NULL);
  g_autofree char *file = g_build_filename (etc, "nlx-fake-snapshot", NULL);
  g_autofree char *tarball = g_build_filename (image_dir, NLX_SNAPSHOT_FILE,
                                               NULL);
  g_autofree char *text = NULL;
  gboolean ok;

  if (fake == NULL)
    return FALSE;
  text = g_strdup_printf ("%s %s\n", uuid, fake->instance->image_ref
                                            ? fake->instance->image_ref : "");
  if (g_mkdir_with_parents (etc, 0755) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create %s: %s"), etc, g_strerror (errno));
      return FALSE;
    }
  ok = nlx_file_set_contents_full (file, text, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_ONLY_EXISTING,
                                   0666, error) &&
       set_fixed_mtimes (fake, (const char *[]) { file, etc, root }, 3,
                         error) &&
       nlx_archive_write_tree (root, tarball, NULL, NULL, error);
  nlx_file_remove_tree (root, NULL);
  return ok;
}

static const NlxDriver fake_driver = {
  .abi_version = NLX_DRIVER_ABI_VERSION,
  .name = "fake",
  .capabilities = NLX_DRIVER_CAP_PAUSE | NLX_DRIVER_CAP_CONSOLE_OUTPUT |
                  NLX_DRIVER_CAP_VOLUMES | NLX_DRIVER_CAP_SNAPSHOT,
  .init_host = fake_init_host,
  .cleanup_host = fake_cleanup_host,
  .list_instances = fake_list_instances,
  .get_power_states = fake_get_power_states,
  .spawn = fake_spawn,
  .destroy = fake_destroy,
  .reboot = fake_reboot,
  .power_off = fake_power_off,
  .power_on = fake_power_on,
  .pause = fake_pause,
  .attach_volume = fake_attach_volume,
  .detach_volume = fake_detach_volume,
  .snapshot = fake_snapshot,
  .unpause = fake_unpause,
  .get_info = fake_get_info,
  .get_console_output = fake_get_console_output,
  .console_attach = fake_console_attach,
  .get_available_resource = fake_get_available_resource,
  .watch_events = fake_watch_events,
  .get_vif = fake_get_vif,
  .get_fault = fake_get_fault,
};

G_MODULE_EXPORT const NlxDriver *nlx_driver_get (void);

const NlxDriver *
nlx_driver_get (void)
{
  return &fake_driver;
}
