/* nlx-driver-loader.c: finds and checks driver plugins */
#include "config.h"

#include <gmodule.h>
#include <glib/gi18n-lib.h>

#include "driver/nlx-driver-loader.h"

/**
 * nlx_driver_loader_search_path:
 *
 * Where plugins are looked for, in order: the directories in
 * $NOVA_LXC_DRIVER_PATH; the build tree, when the running program itself
 * lives in it (so tests and uninstalled programs use what was just built,
 * and an installed program never does); the installed plugin directory.
 *
 * Returns: (transfer full): the directories
 */
char **
nlx_driver_loader_search_path (void)
{
  g_autoptr(GStrvBuilder) dirs = g_strv_builder_new ();
  const char *env = g_getenv (NLX_DRIVER_PATH_ENV);
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);

  if (env != NULL && *env != '\0')
    {
      g_auto(GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (guint i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_strv_builder_add (dirs, parts[i]);
    }
  if (exe != NULL && g_str_has_prefix (exe, NLX_ABS_TOP_BUILDDIR "/"))
    g_strv_builder_add (dirs, NLX_ABS_TOP_BUILDDIR "/src/.libs");
  g_strv_builder_add (dirs, NLX_DRIVER_DIR);

  return g_strv_builder_end (dirs);
}

static gboolean
name_is_plain (const char *name)
{
  if (*name == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
check_table (const NlxDriver *driver,
             const char *name,
             const char *path,
             GError **error)
{
  gboolean has_pause = driver->pause != NULL && driver->unpause != NULL;
  gboolean has_volumes = driver->attach_volume != NULL &&
                         driver->detach_volume != NULL;

  if (driver->abi_version != NLX_DRIVER_ABI_VERSION)
    {
      g_set_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_INVALID,
                   _("Driver plugin %s was built for driver interface %u but "
                     "this program needs %u; rebuild and reinstall it"),
                   path, driver->abi_version, NLX_DRIVER_ABI_VERSION);
      return FALSE;
    }
  if (g_strcmp0 (driver->name, name) != 0)
    {
      g_set_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_INVALID,
                   _("Driver plugin %s calls itself “%s”, not “%s”; the "
                     "file is misnamed"), path,
                   driver->name ? driver->name : "", name);
      return FALSE;
    }
  if (driver->init_host == NULL || driver->cleanup_host == NULL ||
      driver->list_instances == NULL || driver->spawn == NULL ||
      driver->destroy == NULL || driver->reboot == NULL ||
      driver->power_off == NULL || driver->power_on == NULL ||
      driver->get_info == NULL || driver->get_available_resource == NULL ||
      has_pause != !!(driver->capabilities & NLX_DRIVER_CAP_PAUSE) ||
      has_volumes != !!(driver->capabilities & NLX_DRIVER_CAP_VOLUMES) ||
      (driver->get_console_output != NULL) !=
        !!(driver->capabilities & NLX_DRIVER_CAP_CONSOLE_OUTPUT) ||
      (driver->snapshot != NULL) !=
        !!(driver->capabilities & NLX_DRIVER_CAP_SNAPSHOT))
    {
      g_set_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_INVALID,
                   _("Driver plugin %s lacks a required operation or "
                     "declares capabilities it does not implement"), path);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_driver_load:
 * @name: the driver's name, e.g. "lxc": lower-case letters, digits, "_"
 * @error: return location for a #NLX_PLUGIN_ERROR
 *
 * Loads nlx-driver-@name.so from the first directory of
 * nlx_driver_loader_search_path() that has it.  The module stays loaded
 * for the life of the process.
 *
 * Returns: (transfer none): the driver's table, or %NULL with an error
 * naming every place looked in, or what is wrong with the file found
 */
const NlxDriver *
nlx_driver_load (const char *name,
                 GError **error)
{
  g_auto(GStrv) dirs = nlx_driver_loader_search_path ();
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  g_autofree char *looked = NULL;
  const NlxDriver *(*entry) (void) = NULL;
  const NlxDriver *driver;
  GModule *module;

  if (!name_is_plain (name))
    {
      g_set_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_NOT_FOUND,
                   _("“%s” is not a driver name; use lower-case letters, "
                     "digits and “_”, e.g. “lxc”"), name);
      return NULL;
    }

  file = g_strdup_printf ("nlx-driver-%s.so", name);
  for (guint i = 0; dirs[i] != NULL && path == NULL; i++)
    {
      g_autofree char *candidate = g_build_filename (dirs[i], file, NULL);

      if (g_file_test (candidate, G_FILE_TEST_IS_REGULAR))
        path = g_steal_pointer (&candidate);
    }
  if (path == NULL)
    {
      looked = g_strjoinv (", ", dirs);
      g_set_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_NOT_FOUND,
                   _("No driver plugin “%s”: %s is not in any of %s. Check "
                     "compute_driver, or set %s to the directory holding it"),
                   name, file, looked, NLX_DRIVER_PATH_ENV);
      return NULL;
    }

  module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_INVALID,
                   _("Cannot load driver plugin %s: %s"), path,
                   g_module_error ());
      return NULL;
    }
  if (!g_module_symbol (module, NLX_DRIVER_ENTRY_POINT, (gpointer *) &entry) ||
      entry == NULL)
    {
      g_set_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_INVALID,
                   _("%s is not a nova-lxc driver plugin: it does not export "
                     "%s()"), path, NLX_DRIVER_ENTRY_POINT);
      g_module_close (module);
      return NULL;
    }

  driver = entry ();
  if (driver == NULL || !check_table (driver, name, path, error))
    {
      if (driver == NULL)
        g_set_error (error, NLX_PLUGIN_ERROR, NLX_PLUGIN_ERROR_INVALID,
                     _("Driver plugin %s returned no driver"), path);
      g_module_close (module);
      return NULL;
    }

  /* The table and its code live in the module: keep it for good. */
  g_module_make_resident (module);
  return driver;
}
