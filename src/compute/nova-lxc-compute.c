/* nova-lxc-compute: the compute host daemon
 *
 * Loads the driver, reconciles instance records with it, and serves the
 * Compute API until SIGTERM or SIGINT. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/resource.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>

#include "api/nlx-api.h"
#include "api/nlx-metadata-service.h"
#include "compute/nlx-manager.h"
#include "driver/nlx-virt.h"
#include "host/nlx-network.h"
#include "model/nlx-config.h"

#define DEFAULT_CONFIG NLX_SYSCONF_DIR "/nova-lxc.conf"
/* glibc's malloc arenas for the whole daemon; see main(). */
#define MALLOC_ARENAS 2

static char *opt_config = NULL;
static gboolean opt_debug = FALSE;
static gboolean opt_version = FALSE;

/* entries[0]'s description names a path configure chose, so main() fills
 * it in: the path glued into N_() would cut the msgid short. */
static GOptionEntry entries[] = {
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, NULL, N_("FILE") },
  { "debug", 'd', 0, G_OPTION_ARG_NONE, &opt_debug,
    N_("Log debug messages too"), NULL },
  { "version", 0, 0, G_OPTION_ARG_NONE, &opt_version,
    N_("Print the version and exit"), NULL },
  { NULL }
};

/* ---- logging ---------------------------------------------------------- */

static gboolean log_debug = FALSE;
static gboolean log_syslog = FALSE;

static const char *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "ERROR";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "CRITICAL";
  if (level & G_LOG_LEVEL_WARNING)
    return "WARNING";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "NOTICE";
  if (level & G_LOG_LEVEL_INFO)
    return "INFO";
  return "DEBUG";
}

static int
syslog_priority (GLogLevelFlags level)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return LOG_ERR;
  if (level & G_LOG_LEVEL_WARNING)
    return LOG_WARNING;
  if (level & G_LOG_LEVEL_MESSAGE)
    return LOG_NOTICE;
  if (level & G_LOG_LEVEL_INFO)
    return LOG_INFO;
  return LOG_DEBUG;
}

/* INFO and up always, as Nova logs; DEBUG with --debug.  One line each,
 * to syslog, to the journal when stderr is it, or to stderr. */
static GLogWriterOutput
write_log (GLogLevelFlags level,
           const GLogField *fields,
           gsize n_fields,
           gpointer data)
{
  const char *message = NULL;

  if ((level & G_LOG_LEVEL_DEBUG) && !log_debug)
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      message = fields[i].value;
  if (message == NULL)
    return G_LOG_WRITER_UNHANDLED;

  if (log_syslog)
    syslog (syslog_priority (level), "%s", message);
  else if (g_log_writer_is_journald (fileno (stderr)))
    return g_log_writer_journald (level, fields, n_fields, data);
  else
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *stamp = g_date_time_format (now, "%F %T.%f");

      /* milliseconds are enough */
      stamp[strlen (stamp) - 3] = '\0';
      fprintf (stderr, "%s %d %s %s\n", stamp, (int) getpid (),
               level_name (level), message);
    }
  return G_LOG_WRITER_HANDLED;
}

/* ---- running ---------------------------------------------------------- */

/* Each instance holds a few descriptors of the daemon's (a thousand
 * instances, some three thousand), past the soft limit of 1024 that
 * systemd and most shells give; the hard limit is the operator's choice
 * (LimitNOFILE= in nova-lxc-compute.service), so take all of it, as
 * systemd advises a program that needs many.  The lxc driver then says
 * whether it is enough (nova-lxc-compute(8), "LIMITS"). */
static void
raise_open_files_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 ||
      limit.rlim_cur >= limit.rlim_max)
    return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
    g_warning ("Cannot raise the open files limit to its hard limit, %llu: "
               "%s", (unsigned long long) limit.rlim_max, g_strerror (errno));
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gboolean
on_hangup (gpointer data G_GNUC_UNUSED)
{
  g_message ("SIGHUP: the configuration is only read at start-up; restart "
             "the service to apply changes");
  return G_SOURCE_CONTINUE;
}

static void
watch_signal (GMainContext *context,
              int signum,
              GSourceFunc func,
              gpointer data)
{
  g_autoptr(GSource) source = g_unix_signal_source_new (signum);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, context);
}

static NlxConfig *
load_config (GError **error)
{
  const char *path = opt_config ? opt_config : DEFAULT_CONFIG;

  /* No file at the default place means every default. */
  if (opt_config == NULL && !g_file_test (path, G_FILE_TEST_EXISTS))
    return nlx_config_new_from_data ("", error);
  return nlx_config_new_from_file (path, error);
}

/* The metadata service, when the driver routes instances to it and
 * [network] metadata_port is not 0; *service stays NULL otherwise. */
static gboolean
serve_metadata (NlxConfig *config,
                NlxVirt *virt,
                NlxManager *manager,
                NlxMetadataService **service,
                GError **error)
{
  g_autoptr(NlxNetworkSettings) network = NULL;
  NlxListenerLimits limits = {
    .max_connections = config->api_max_connections,
    .request_timeout_s = config->api_request_timeout_s,
    .max_body = 0,
  };

  *service = NULL;
  if (!nlx_virt_has_capability (virt, NLX_DRIVER_CAP_METADATA_SERVICE))
    return TRUE;
  network = nlx_network_settings_new (config->keyfile, error);
  if (network == NULL)
    return FALSE;
  if (network->metadata_port == 0)
    return TRUE;
  *service = nlx_metadata_service_new (manager, network->bridge,
                                       network->gateway,
                                       network->metadata_port, &limits,
                                       error);
  if (*service == NULL)
    return FALSE;
  g_message ("Serving the metadata service for bridge %s on %s:%u",
             network->bridge, network->gateway, network->metadata_port);
  return TRUE;
}

static gboolean
run (GError **error)
{
  g_autoptr(NlxConfig) config = NULL;
  /* Declared before what it guards, so that it is released last. */
  g_autoptr(NlxLock) state_lock = NULL;
  g_autoptr(NlxVirt) virt = NULL;
  g_autoptr(NlxManager) manager = NULL;
  g_autoptr(NlxApi) api = NULL;
  g_autoptr(NlxMetadataService) metadata = NULL;
  /* Not the global default context, which libvirt's event loop runs in
   * a thread of its own. */
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (context, FALSE);
  guint running;

  g_main_context_push_thread_default (context);
  config = load_config (error);
  if (config == NULL)
    return FALSE;
  log_debug = opt_debug || config->debug;
  log_syslog = config->use_syslog;
  if (log_syslog)
    openlog ("nova-lxc-compute", LOG_PID, LOG_DAEMON);

  /* Before anything reads or writes the state: a second daemon must not
   * reconcile the first one's records. */
  state_lock = nlx_manager_lock_state (config, error);
  if (state_lock == NULL)
    return FALSE;
  /* Before the socket exists: a SIGTERM as soon as it does must stop the
   * daemon cleanly (once the loop runs), not kill it. */
  watch_signal (context, SIGTERM, on_signal, loop);
  watch_signal (context, SIGINT, on_signal, loop);
  watch_signal (context, SIGHUP, on_hangup, NULL);

  virt = nlx_virt_open (config->compute_driver, config->keyfile, error);
  if (virt == NULL)
    return FALSE;
  manager = nlx_manager_new (config, virt, error);
  if (manager == NULL)
    return FALSE;
  api = nlx_api_new (config, manager, error);
  if (api == NULL ||
      !serve_metadata (config, virt, manager, &metadata, error))
    return FALSE;

  g_message ("nova-lxc-compute %s serving on %s%s%s with the %s driver",
             PACKAGE_VERSION, config->api_socket,
             config->api_listen ? " and " : "",
             config->api_listen ? config->api_listen : "",
             config->compute_driver);
  g_main_loop_run (loop);

  g_clear_pointer (&metadata, nlx_metadata_service_free);
  g_clear_pointer (&api, nlx_api_free);
  running = nlx_manager_count_running_operations (manager);
  if (running > 0)
    {
      /* Waiting could take minutes (a soft reboot); the next start
       * reconciles whatever these leave behind. */
      g_message ("Stopping with %u operations still running; they are "
                 "reconciled at the next start", running);
      exit (0);
    }
  /* In this order: the driver's events stop before it closes, and the
   * manager they reach goes last. */
  nlx_manager_stop (manager);
  g_clear_pointer (&virt, nlx_virt_close);
  g_clear_pointer (&manager, nlx_manager_free);
  g_message ("Stopped");
  return TRUE;
}

int
main (int argc,
      char **argv)
{
  /* Before the context, so it outlives it (cleanups run in reverse). */
  g_autofree char *config_help = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;

  /* glibc gives a thread that finds the arenas in use an arena of its
   * own, up to 8 per core, and keeps in each what was freed there.  The
   * operation workers (snapshots build whole tarballs) each grew one, so
   * RSS rose in shrinking steps for as long as new threads took new
   * arenas (docs/architecture.md, "Memory").  Two arenas hold it flat at
   * no measurable cost: the work is I/O, not malloc.  Before any thread,
   * and MALLOC_ARENA_MAX in the environment still wins. */
  if (g_getenv ("MALLOC_ARENA_MAX") == NULL)
    mallopt (M_ARENA_MAX, MALLOC_ARENAS);
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, NLX_LOCALE_DIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (_("- the nova-lxc compute host daemon"));
  config_help = g_strdup_printf (_("Configuration file (default %s)"),
                                 DEFAULT_CONFIG);
  entries[0].description = config_help;
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("nova-lxc-compute: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      g_printerr (_("nova-lxc-compute: unexpected argument “%s”; see --help\n"),
                  argv[1]);
      return 2;
    }
  if (opt_version)
    {
      g_print ("nova-lxc-compute %s\n", PACKAGE_VERSION);
      return 0;
    }

  g_log_set_writer_func (write_log, NULL, NULL);
  /* A write to a libvirtd that has just gone away must fail, not kill the
   * daemon. */
  signal (SIGPIPE, SIG_IGN);
  raise_open_files_limit ();
  /* GLib 2.74 seeds its random numbers from /dev/urandom, opened without
   * O_CLOEXEC, at the first g_random_*() call: make it now, while no
   * other thread can start a child that would inherit it. */
  (void) g_random_int ();
  if (!run (&error))
    {
      g_printerr ("nova-lxc-compute: %s\n", error->message);
      return 1;
    }
  return 0;
}
