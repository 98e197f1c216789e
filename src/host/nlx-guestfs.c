/* nlx-guestfs.c: libguestfs's appliance, run in the nova-lxc-guestfs
 * helper
 *
 * Whatever nova-lxc must read from a disk it does not trust (a volume to
 * check, a disk image to import) is read by libguestfs's appliance, a
 * throwaway VM (nlx-guestfs-appliance.c).  libguestfs itself never runs
 * in the daemon: libguestfs 1.48 reads its subprocesses' output (qemu
 * -help, supermin, qemu-img, the rm of its temporary directory) in a
 * select() loop over pipes it opens at the lowest free numbers, and
 * glibc's fortified FD_SET aborts the process ("bit out of range 0 -
 * FD_SETSIZE on fd_set") on a descriptor of 1024 or more, which a daemon
 * holding many connections hands out.  So each use is one run of the
 * helper program, spawned with GSubprocess, which closes every inherited
 * descriptor: the helper starts with three, whatever the daemon holds.
 * Its answer comes back on its stdout (NLX_GUESTFS_RESULT_TYPE): the
 * GError its work set, with domain, code and message intact, and its log
 * messages, which are logged here again. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "host/nlx-guestfs.h"

#define HELPER_NAME "nova-lxc-guestfs"

/* Set once a helper said a launch with KVM failed, so later helpers go
 * straight to TCG. */
static gint kvm_failed;

/**
 * nlx_guestfs_helper_path:
 *
 * The helper program: $NOVA_LXC_GUESTFS_HELPER if set; the one in the
 * build tree when the running program lives there (as for driver plugins:
 * tests use what was just built, an installed program never does); else
 * the installed one, in $(pkglibexecdir).
 *
 * Returns: (transfer full): its path
 */
char *
nlx_guestfs_helper_path (void)
{
  const char *env = g_getenv (NLX_GUESTFS_HELPER_ENV);
  g_autofree char *exe = NULL;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe != NULL && g_str_has_prefix (exe, NLX_ABS_TOP_BUILDDIR "/"))
    return g_strdup (NLX_ABS_TOP_BUILDDIR "/src/" HELPER_NAME);
  return g_strdup (NLX_HELPER_DIR "/" HELPER_NAME);
}

static void
log_again (GVariantIter *messages)
{
  const char *text;
  int level;

  while (g_variant_iter_next (messages, "(i&s)", &level, &text))
    {
      if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
                   G_LOG_LEVEL_WARNING))
        g_warning ("%s: %s", HELPER_NAME, text);
      else if (level & G_LOG_LEVEL_MESSAGE)
        g_message ("%s: %s", HELPER_NAME, text);
      else if (level & G_LOG_LEVEL_INFO)
        g_info ("%s: %s", HELPER_NAME, text);
      else
        g_debug ("%s: %s", HELPER_NAME, text);
    }
}

/* Runs the helper with @args.  FALSE with *@answered set: the helper's
 * own error, whole.  FALSE without: the helper could not run or gave no
 * answer; the caller says what it was doing. */
static gboolean
run_helper (const char * const *args,
            gboolean *answered,
            GError **error)
{
  g_autofree char *helper = nlx_guestfs_helper_path ();
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariantIter) messages = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean ok;
  gboolean helper_kvm_failed;
  const char *domain;
  const char *message;
  int code;

  *answered = FALSE;
  g_ptr_array_add (argv, helper);
  if (g_atomic_int_get (&kvm_failed))
    g_ptr_array_add (argv, (char *) "--kvm-failed");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  /* stdin is /dev/null, stderr the daemon's; nothing else is inherited. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  process = g_subprocess_launcher_spawnv (launcher,
                                          (const char * const *) argv->pdata,
                                          &local_error);
  if (process == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot run the libguestfs helper %s: %s; reinstall "
                     "nova-lxc"), helper, local_error->message);
      return FALSE;
    }
  if (!g_subprocess_communicate (process, NULL, NULL, &out, NULL,
                                 &local_error))
    {
      g_subprocess_force_exit (process);
      g_subprocess_wait (process, NULL, NULL);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the answer of the libguestfs helper %s: "
                     "%s"), helper, local_error->message);
      return FALSE;
    }

  result = g_variant_ref_sink (
    g_variant_new_from_bytes (G_VARIANT_TYPE (NLX_GUESTFS_RESULT_TYPE), out,
                              FALSE));
  if (g_bytes_get_size (out) == 0 || !g_variant_is_normal_form (result))
    {
      /* Killed, crashed, or not the helper at all. */
      if (g_spawn_check_wait_status (g_subprocess_get_status (process),
                                     &local_error))
        g_set_error_literal (&local_error, G_SPAWN_EXIT_ERROR, 0,
                             _("its answer is not one"));
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("The libguestfs helper %s gave no answer (%s); its "
                     "messages are on the daemon's standard error"), helper,
                   local_error->message);
      return FALSE;
    }

  g_variant_get (result, "(b&si&sa(is)b)", &ok, &domain, &code, &message,
                 &messages, &helper_kvm_failed);
  log_again (messages);
  if (helper_kvm_failed)
    g_atomic_int_set (&kvm_failed, TRUE);
  if (ok)
    return TRUE;
  *answered = TRUE;
  g_set_error_literal (error, g_quark_from_string (domain), code, message);
  return FALSE;
}

/* run_helper(), with @what before the reason when the helper could not
 * be run or did not answer; the helper's own answer is passed on as it
 * is. */
static gboolean
run_helper_saying (const char * const *args,
                   const char *what,
                   GError **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean answered;

  if (run_helper (args, &answered, &local_error))
    return TRUE;
  if (answered)
    g_propagate_error (error, g_steal_pointer (&local_error));
  else
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                "%s: ", what);
  return FALSE;
}

/**
 * nlx_guestfs_fsck:
 * @path: the volume's canonical path
 * @fstype: its filesystem type, as libblkid found it
 * @id: the volume's id, for messages
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Runs nlx_guestfs_appliance_fsck() in the helper: see nlx_volume_fsck().
 *
 * Returns: %TRUE if the filesystem is clean
 */
gboolean
nlx_guestfs_fsck (const char *path,
                  const char *fstype,
                  const char *id,
                  GError **error)
{
  const char *args[] = { "fsck", path, fstype, id, NULL };
  g_autofree char *what = g_strdup_printf (_("Cannot check volume “%s”"), id);

  return run_helper_saying (args, what, error);
}

/**
 * nlx_guestfs_copy_out:
 * @file: a disk image
 * @format: its format as qemu names it ("raw", "qcow2")
 * @tar_path: where to write the tar of its Linux root tree
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Runs nlx_guestfs_appliance_copy_out() in the helper.
 *
 * Returns: %TRUE if the tar was written
 */
gboolean
nlx_guestfs_copy_out (const char *file,
                      const char *format,
                      const char *tar_path,
                      GError **error)
{
  const char *args[] = { "copy-out", file, format, tar_path, NULL };
  g_autofree char *what = g_strdup_printf (_("Cannot import disk image %s"),
                                           file);

  return run_helper_saying (args, what, error);
}
