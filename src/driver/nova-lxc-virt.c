/* nova-lxc-virt: run compute driver operations by hand
 *
 * Talks to a driver plugin directly, with no daemon: for bringing a host
 * up, for debugging a driver, and for the quick start. */
#include "config.h"

#include <locale.h>
#include <glib/gi18n-lib.h>

#include "driver/nlx-virt.h"
#include "model/nlx-config.h"

#define DEFAULT_CONFIG NLX_SYSCONF_DIR "/nova-lxc.conf"
#define DEFAULT_POWER_OFF_TIMEOUT_S 60
#define DEFAULT_CONSOLE_BYTES (64 * 1024)

static char *opt_config = NULL;
static char *opt_driver = NULL;
static gboolean opt_hard = FALSE;
static int opt_timeout = DEFAULT_POWER_OFF_TIMEOUT_S;
static int opt_bytes = DEFAULT_CONSOLE_BYTES;
static char *opt_init = NULL;
static char *opt_shutdown_signal = NULL;

/* entries[0]'s description names a path configure chose, so main() fills
 * it in: the path glued into N_() would cut the msgid short. */
static GOptionEntry entries[] = {
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, NULL, N_("FILE") },
  { "driver", 'd', 0, G_OPTION_ARG_STRING, &opt_driver,
    N_("Driver plugin (default: compute_driver from the configuration, "
       "else lxc)"), N_("NAME") },
  { "hard", 0, 0, G_OPTION_ARG_NONE, &opt_hard,
    N_("reboot: stop at once instead of asking init"), NULL },
  { "timeout", 't', 0, G_OPTION_ARG_INT, &opt_timeout,
    N_("power-off: seconds to wait for init before stopping (default 60)"),
    N_("SECONDS") },
  { "bytes", 'b', 0, G_OPTION_ARG_INT, &opt_bytes,
    N_("console-log: how much of the end to show (default 65536)"),
    N_("BYTES") },
  { "init", 0, 0, G_OPTION_ARG_STRING, &opt_init,
    N_("spawn: init program inside the root (default /sbin/init)"),
    N_("PATH") },
  { "shutdown-signal", 0, 0, G_OPTION_ARG_STRING, &opt_shutdown_signal,
    N_("spawn: signal init takes as \"power off\", e.g. SIGUSR2 for "
       "busybox init"), N_("SIGNAL") },
  { NULL }
};

static const char summary[] = N_(
  "Commands:\n"
  "  list                      uuids of this host's instances\n"
  "  spawn INSTANCE.json ROOT  create and start an instance; ROOT is a\n"
  "                            directory or a root tarball\n"
  "  destroy UUID              stop and remove an instance\n"
  "  reboot [--hard] UUID\n"
  "  power-off [--timeout S] UUID\n"
  "  power-on UUID\n"
  "  pause UUID\n"
  "  unpause UUID\n"
  "  info UUID                 power state and resources\n"
  "  console-log [--bytes N] UUID\n"
  "  resources                 what this host has and uses");

static GKeyFile *
load_config (GError **error)
{
  g_autoptr(GKeyFile) config = g_key_file_new ();
  const char *path = opt_config ? opt_config : DEFAULT_CONFIG;

  if (opt_config == NULL && !g_file_test (path, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&config);
  if (!nlx_config_load_keyfile (config, path, error))
    return NULL;
  return g_steal_pointer (&config);
}

static gboolean
print_info (NlxVirt *virt,
            const char *uuid,
            GError **error)
{
  NlxInstanceInfo info;

  if (!nlx_virt_get_info (virt, uuid, &info, error))
    return FALSE;
  g_print ("uuid:        %s\n", uuid);
  g_print ("power_state: %d (%s)\n", info.state,
           nlx_power_state_to_string (info.state));
  g_print ("vcpus:       %u\n", info.num_cpu);
  g_print ("max_mem_kib: %" G_GUINT64_FORMAT "\n", info.max_mem_kib);
  g_print ("mem_kib:     %" G_GUINT64_FORMAT "\n", info.mem_kib);
  g_print ("cpu_time_ns: %" G_GUINT64_FORMAT "\n", info.cpu_time_ns);
  return TRUE;
}

static gboolean
print_resources (NlxVirt *virt,
                 GError **error)
{
  g_autoptr(NlxHostResources) res = nlx_virt_get_available_resource (virt, error);

  if (res == NULL)
    return FALSE;
  g_print ("hypervisor_hostname: %s\n", res->hypervisor_hostname);
  g_print ("hypervisor_type:     %s\n", res->hypervisor_type);
  g_print ("hypervisor_version:  %" G_GUINT64_FORMAT "\n",
           res->hypervisor_version);
  g_print ("vcpus:               %u (used %u)\n", res->vcpus, res->vcpus_used);
  g_print ("memory_mb:           %" G_GUINT64_FORMAT " (used %" G_GUINT64_FORMAT ")\n",
           res->memory_mb, res->memory_mb_used);
  g_print ("local_gb:            %" G_GUINT64_FORMAT " (used %" G_GUINT64_FORMAT ")\n",
           res->local_gb, res->local_gb_used);
  return TRUE;
}

static gboolean
spawn (NlxVirt *virt,
       const char *instance_path,
       const char *root,
       GError **error)
{
  g_autoptr(NlxInstance) instance = nlx_instance_new_from_file (instance_path,
                                                                error);
  g_autoptr(NlxImage) image = NULL;

  if (instance == NULL)
    return FALSE;
  image = nlx_image_new_from_path (instance->image_ref, root, error);
  if (image == NULL)
    return FALSE;
  if (opt_init != NULL)
    nlx_image_set_property (image, NLX_IMAGE_PROP_INIT_PATH, opt_init);
  if (opt_shutdown_signal != NULL)
    nlx_image_set_property (image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL,
                            opt_shutdown_signal);
  if (!nlx_virt_spawn (virt, instance, image, error))
    return FALSE;
  g_print ("%s\n", instance->uuid);
  return TRUE;
}

/* Commands that take one uuid; the others take what they say. */
static const char * const uuid_commands[] = {
  "destroy", "reboot", "power-off", "power-on", "pause", "unpause", "info",
  "console-log", NULL
};

/* Whether the arguments make a command, checked before the driver is
 * loaded so a typo costs nothing. */
static gboolean
check_usage (int argc,
             char **argv,
             GError **error)
{
  const char *command = argv[1];

  if ((g_str_equal (command, "list") || g_str_equal (command, "resources")) &&
      argc == 2)
    return TRUE;
  if (g_str_equal (command, "spawn") && argc == 4)
    return TRUE;
  if (g_strv_contains (uuid_commands, command) && argc == 3)
    return TRUE;
  if (g_str_equal (command, "list") || g_str_equal (command, "resources") ||
      g_str_equal (command, "spawn") || g_strv_contains (uuid_commands, command))
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 _("Wrong arguments for “%s”; see --help"), command);
  else
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 _("Unknown command “%s”; see --help"), command);
  return FALSE;
}

/* Commands that take exactly one uuid. */
static gboolean
run_uuid_command (NlxVirt *virt,
                  const char *command,
                  const char *uuid,
                  GError **error)
{
  if (g_str_equal (command, "destroy"))
    return nlx_virt_destroy (virt, uuid, error);
  if (g_str_equal (command, "reboot"))
    return nlx_virt_reboot (virt, uuid,
                            opt_hard ? NLX_REBOOT_HARD : NLX_REBOOT_SOFT,
                            error);
  if (g_str_equal (command, "power-off"))
    return nlx_virt_power_off (virt, uuid, MAX (opt_timeout, 0), error);
  if (g_str_equal (command, "power-on"))
    return nlx_virt_power_on (virt, uuid, error);
  if (g_str_equal (command, "pause"))
    return nlx_virt_pause (virt, uuid, error);
  if (g_str_equal (command, "unpause"))
    return nlx_virt_unpause (virt, uuid, error);
  if (g_str_equal (command, "info"))
    return print_info (virt, uuid, error);
  if (g_str_equal (command, "console-log"))
    {
      g_autofree char *log = nlx_virt_get_console_output (virt, uuid,
                                                          MAX (opt_bytes, 0),
                                                          error);
      if (log == NULL)
        return FALSE;
      g_print ("%s", log);
      return TRUE;
    }
  g_assert_not_reached ();
}

static gboolean
run (int argc G_GNUC_UNUSED,
     char **argv,
     GError **error)
{
  g_autoptr(GKeyFile) config = NULL;
  g_autoptr(NlxVirt) virt = NULL;
  g_autofree char *driver = NULL;
  const char *command = argv[1];

  config = load_config (error);
  if (config == NULL)
    return FALSE;
  driver = opt_driver ? g_strdup (opt_driver)
                      : g_key_file_get_string (config, "DEFAULT",
                                               "compute_driver", NULL);
  if (driver != NULL && *g_strstrip (driver) == '\0')
    g_clear_pointer (&driver, g_free);
  virt = nlx_virt_open (driver ? driver : "lxc", config, error);
  if (virt == NULL)
    return FALSE;

  if (g_str_equal (command, "list"))
    {
      g_auto(GStrv) uuids = nlx_virt_list_instances (virt, error);

      if (uuids == NULL)
        return FALSE;
      for (guint i = 0; uuids[i] != NULL; i++)
        g_print ("%s\n", uuids[i]);
      return TRUE;
    }
  if (g_str_equal (command, "resources"))
    return print_resources (virt, error);
  if (g_str_equal (command, "spawn"))
    return spawn (virt, argv[2], argv[3], error);
  return run_uuid_command (virt, command, argv[2], error);
}

int
main (int argc,
      char **argv)
{
  /* Before the context, so it outlives it (cleanups run in reverse). */
  g_autofree char *config_help = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, NLX_LOCALE_DIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (_("COMMAND [ARGUMENTS] - run compute "
                                    "driver operations by hand"));
  config_help = g_strdup_printf (_("Configuration file (default %s)"),
                                 DEFAULT_CONFIG);
  entries[0].description = config_help;
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_description (context, _(summary));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("nova-lxc-virt: %s\n", error->message);
      return 2;
    }
  if (argc < 2)
    {
      g_printerr (_("nova-lxc-virt: no command given; see --help\n"));
      return 2;
    }
  if (!check_usage (argc, argv, &error))
    {
      g_printerr ("nova-lxc-virt: %s\n", error->message);
      return 2;
    }
  if (!run (argc, argv, &error))
    {
      g_printerr ("nova-lxc-virt: %s\n", error->message);
      return 1;
    }
  return 0;
}
