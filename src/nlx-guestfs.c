/* nlx-guestfs.c: libguestfs appliances over untrusted disks
 *
 * Whatever nova-lxc must read from a disk it does not trust (a volume to
 * check, a disk image to import) is read by libguestfs's appliance, a
 * throwaway VM with the disk as a read-only drive: a hostile filesystem
 * meets that VM's kernel, never the host's. */
#include "config.h"

#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <unistd.h>

#include "nlx-error.h"
#include "nlx-guestfs.h"

/* Set once a launch with KVM failed, so later launches go straight to
 * TCG. */
static gint kvm_failed;

static gboolean
kvm_usable (void)
{
  int fd;

  if (g_atomic_int_get (&kvm_failed))
    return FALSE;
  fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

void
nlx_guestfs_close (guestfs_h *g)
{
  if (g != NULL)
    guestfs_close (g);
}

/**
 * nlx_guestfs_last_error:
 * @g: a handle
 *
 * Returns: (transfer none): the message of the last failed call on @g,
 *   never %NULL
 */
const char *
nlx_guestfs_last_error (guestfs_h *g)
{
  const char *message = guestfs_last_error (g);

  return message != NULL ? message : _("unknown libguestfs error");
}

static guestfs_h *
launch_once (const char *path,
             const char *format,
             gboolean tcg,
             GError **error)
{
  g_autoptr(guestfs_h) g = guestfs_create ();

  if (g == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create a libguestfs handle; run "
                     "libguestfs-test-tool(1) to see why"));
      return NULL;
    }
  /* Errors are read with guestfs_last_error(), not printed. */
  guestfs_set_error_handler (g, NULL, NULL);
  if (tcg)
    {
      char *tcg_settings[] = { (char *) "force_tcg", NULL };

      if (g_getenv ("LIBGUESTFS_BACKEND") == NULL &&
          guestfs_set_backend (g, "direct") != 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot select libguestfs's direct backend: %s"),
                       nlx_guestfs_last_error (g));
          return NULL;
        }
      if (guestfs_set_backend_settings (g, tcg_settings) != 0)
        {
          g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                       _("Cannot make libguestfs use TCG: %s"),
                       nlx_guestfs_last_error (g));
          return NULL;
        }
    }
  /* An explicit format: qemu must not guess it from the content. */
  if (guestfs_add_drive_opts (g, path,
                              GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
                              GUESTFS_ADD_DRIVE_OPTS_FORMAT, format,
                              -1) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot give %s to libguestfs: %s"), path,
                   nlx_guestfs_last_error (g));
      return NULL;
    }
  if (guestfs_launch (g) != 0)
    {
      /* The rest of libguestfs's message is advice on debugging it. */
      const char *message = nlx_guestfs_last_error (g);
      g_autofree char *first_line = g_strndup (message,
                                               strcspn (message, "\n"));

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot start libguestfs's appliance: %s; run "
                     "libguestfs-test-tool(1) to see why"), first_line);
      return NULL;
    }
  return g_steal_pointer (&g);
}

/**
 * nlx_guestfs_launch:
 * @path: a disk image or block device
 * @format: its format as qemu names it ("raw", "qcow2")
 * @error: return location for a #NLX_DRIVER_ERROR (FAILED)
 *
 * Starts libguestfs's appliance with @path as its only drive, read-only
 * (writes land in a throwaway overlay), known to the appliance as
 * /dev/sda.  Without a usable KVM (none, or a launch with it failed
 * before: nested KVM can exist and still make qemu abort at once), the
 * appliance runs under TCG (direct backend, force_tcg), unless
 * LIBGUESTFS_BACKEND_SETTINGS says otherwise.  That takes seconds to tens
 * of seconds; callers launch only when they must.
 *
 * Returns: (transfer full): a launched handle, or %NULL
 */
guestfs_h *
nlx_guestfs_launch (const char *path,
                    const char *format,
                    GError **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean configured = g_getenv ("LIBGUESTFS_BACKEND_SETTINGS") != NULL;
  gboolean tcg = !configured && !kvm_usable ();
  guestfs_h *g;

  g = launch_once (path, format, tcg, &local_error);
  if (g == NULL && !tcg && !configured)
    {
      g_debug ("libguestfs failed with KVM, trying TCG: %s",
               local_error->message);
      g_atomic_int_set (&kvm_failed, TRUE);
      g_clear_error (&local_error);
      g = launch_once (path, format, TRUE, &local_error);
    }
  if (g == NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return g;
}
