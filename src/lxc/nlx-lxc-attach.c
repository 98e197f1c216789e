/* nlx-lxc-attach.c: attaching a volume to an instance and detaching
 * it: the domain's disk, the loop device, the mount inside the instance
 * and the metadata that lists it, undone step by step. */

#include "config.h"

#include <glib/gi18n-lib.h>
#include <libvirt/virterror.h>

#include "host/nlx-mount.h"
#include "lxc/nlx-lxc-driver-private.h"
#include "lxc/nlx-lxc-error.h"

/* Whether the domain's definition (live, or persistent) has a disk at
 * /dev/DEVICE. */
gboolean
nlx_lxc_has_disk (virDomainPtr dom,
                  const char *device,
                  unsigned int flags)
{
  g_autofree char *xml = virDomainGetXMLDesc (dom, flags);
  g_autofree char *expression = NULL;
  g_autofree char *found = NULL;

  if (xml == NULL)
    return FALSE;
  expression = g_strdup_printf ("string(/domain/devices/disk/target"
                                "[@dev='%s']/@dev)",
                                device + strlen ("/dev/"));
  found = nlx_lxc_xpath_string (xml, expression);
  return found != NULL;
}

gboolean
nlx_lxc_change_disk (virDomainPtr dom,
                     const char *device,
                     const char *source,
                     gboolean attach,
                     unsigned int flags,
                     GError **error)
{
  g_autofree char *xml = nlx_lxc_disk_xml (device, source);
  int rc = attach ? virDomainAttachDeviceFlags (dom, xml, flags)
                  : virDomainDetachDeviceFlags (dom, xml, flags);

  if (rc < 0)
    {
      nlx_lxc_error_from_libvirt (error);
      /* The container restarted (its own reboot) since the caller
       * checked, and libvirt does not know the new init yet: a race the
       * caller can retry, not a failure (see nlx_lxc_libvirt_knows_init()). */
      if ((flags & VIR_DOMAIN_AFFECT_LIVE) && virDomainIsActive (dom) == 1 &&
          nlx_lxc_libvirt_knows_init (dom, nlx_lxc_init_pid (dom), NULL) == 0)
        {
          g_autoptr(GError) cause = g_steal_pointer (error);
          char uuid[VIR_UUID_STRING_BUFLEN] = "";

          virDomainGetUUIDString (dom, uuid);
          if (attach)
            g_set_error (error, NLX_DRIVER_ERROR,
                         NLX_DRIVER_ERROR_INVALID_STATE,
                         _("Instance %s has just restarted and libvirt does "
                           "not know its new init yet, so %s cannot be "
                           "attached now; retry in a few seconds (libvirt "
                           "said: %s)"), uuid, device, cause->message);
          else
            g_set_error (error, NLX_DRIVER_ERROR,
                         NLX_DRIVER_ERROR_INVALID_STATE,
                         _("Instance %s has just restarted and libvirt does "
                           "not know its new init yet, so %s cannot be "
                           "detached now; retry in a few seconds (libvirt "
                           "said: %s)"), uuid, device, cause->message);
          return FALSE;
        }
      g_prefix_error (error, attach ? _("Cannot attach %s to domain %s: ")
                                    : _("Cannot detach %s from domain %s: "),
                      device, virDomainGetName (dom));
      return FALSE;
    }
  return TRUE;
}

static gboolean undo_attachment (NlxDriverState *state,
                                 const char *uuid,
                                 const NlxVolumeAttachment *attachment,
                                 gboolean whatever_fails,
                                 GError **error);

gboolean
nlx_lxc_driver_attach_volume (NlxDriverState *state,
                              const char *uuid,
                              const NlxVolumeAttachment *attachment,
                              GError **error)
{
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, error);
  g_autoptr(NlxLxcMetadata) metadata = NULL;
  g_autofree char *loop = NULL;
  gboolean created;
  pid_t pid;

  if (dom == NULL || (metadata = nlx_lxc_read_metadata (dom, error)) == NULL)
    return FALSE;
  if (nlx_instance_find_volume (&(NlxInstance) { .volumes = metadata->volumes },
                                attachment->volume_id) != NULL ||
      nlx_instance_find_device (&(NlxInstance) { .volumes = metadata->volumes },
                                attachment->device) != NULL ||
      g_strcmp0 (metadata->root_volume, attachment->volume_id) == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
                   _("Instance %s already has volume %s or device %s; "
                     "detach it first"), uuid, attachment->volume_id,
                   attachment->device);
      return FALSE;
    }

  /* Nothing is made before libvirt can attach the disk. */
  if (virDomainIsActive (dom) == 1 &&
      !nlx_lxc_wait_init_known (state, &dom, uuid, NLX_LXC_INIT_KNOWN_VOLUME_TIMEOUT_US,
                        NLX_DRIVER_ERROR_INVALID_STATE, error))
    return FALSE;
  loop = nlx_lxc_volume_setup (state->volumes, uuid, attachment, &created,
                               error);
  if (loop == NULL)
    return FALSE;
  g_ptr_array_add (metadata->volumes,
                   nlx_volume_attachment_new (attachment->volume_id,
                                              attachment->device,
                                              attachment->mount_path));
  /* The disk first: a domain whose metadata names a volume always has
   * it, so a crash in between leaves what detach_volume undoes. */
  if (nlx_lxc_change_disk (dom, attachment->device, loop, TRUE, nlx_lxc_live_and_config (dom),
                   error) &&
      nlx_lxc_write_metadata (dom, metadata, error))
    {
      if (attachment->mount_path == NULL || virDomainIsActive (dom) != 1)
        return TRUE;
      pid = nlx_lxc_init_pid (dom);
      if (pid > 0 && nlx_lxc_volume_mount (state->volumes, uuid, attachment,
                                           pid, error))
        return TRUE;
      if (pid == 0)
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot mount volume %s: the init of instance %s is "
                       "not running"), attachment->volume_id, uuid);
    }
  /* Every step of the undo is tried whatever the one before it did: a
   * rollback that stopped at a refused mount path left the disk in the
   * domain, the loop device bound and the volume listed as free. */
  undo_attachment (state, uuid, attachment, TRUE, NULL);
  return FALSE;
}

/* With @whatever_fails (a rollback), a failed step is logged and the
 * next one tried all the same; otherwise the first failure stops it, so
 * that a detach that cannot unmount leaves the attachment whole. */
static gboolean
undo_step (gboolean ok,
           gboolean whatever_fails,
           const char *uuid,
           GError **step_error,
           gboolean *failed,
           GError **error)
{
  if (ok)
    return TRUE;
  *failed = TRUE;
  if (!whatever_fails)
    {
      g_propagate_error (error, g_steal_pointer (step_error));
      return FALSE;
    }
  g_warning (_("Undoing a volume attachment of instance %s: %s"), uuid,
             *step_error != NULL ? (*step_error)->message : _("unknown error"));
  if (error != NULL && *error == NULL)
    g_propagate_error (error, g_steal_pointer (step_error));
  g_clear_error (step_error);
  return TRUE;
}

gboolean
nlx_lxc_driver_detach_volume (NlxDriverState *state,
                              const char *uuid,
                              const NlxVolumeAttachment *attachment,
                              GError **error)
{
  return undo_attachment (state, uuid, attachment, FALSE, error);
}

static gboolean
undo_attachment (NlxDriverState *state,
                 const char *uuid,
                 const NlxVolumeAttachment *attachment,
                 gboolean whatever_fails,
                 GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(virDomain) dom = nlx_lxc_lookup (state, uuid, &local_error);
  g_autoptr(NlxLxcMetadata) metadata = NULL;
  const NlxVolumeAttachment *kept = NULL;
  const char *mount_path = attachment->mount_path;
  gboolean failed = FALSE;
  gboolean active;

  if (dom == NULL)
    {
      if (!g_error_matches (local_error, NLX_DRIVER_ERROR,
                            NLX_DRIVER_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      return nlx_lxc_volume_release (uuid, attachment->device, error);
    }
  if ((metadata = nlx_lxc_read_metadata (dom, &local_error)) == NULL &&
      !undo_step (FALSE, whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  if (metadata != NULL)
    kept = nlx_instance_find_volume (&(NlxInstance) { .volumes = metadata->volumes },
                                     attachment->volume_id);
  if (kept != NULL)
    mount_path = kept->mount_path;

  active = virDomainIsActive (dom) == 1;
  /* Nothing is undone before libvirt can detach the disk. */
  if (active &&
      !nlx_lxc_wait_init_known (state, &dom, uuid, NLX_LXC_INIT_KNOWN_VOLUME_TIMEOUT_US,
                        NLX_DRIVER_ERROR_INVALID_STATE, error))
    return FALSE;
  if (active && mount_path != NULL &&
      !undo_step (nlx_umount_in_namespace (nlx_lxc_init_pid (dom), mount_path,
                                           &local_error),
                  whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  if (active && nlx_lxc_has_disk (dom, attachment->device, 0) &&
      !undo_step (nlx_lxc_change_disk (dom, attachment->device, "/dev/null", FALSE,
                               VIR_DOMAIN_AFFECT_LIVE, &local_error),
                  whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  if (nlx_lxc_has_disk (dom, attachment->device, VIR_DOMAIN_XML_INACTIVE) &&
      !undo_step (nlx_lxc_change_disk (dom, attachment->device, "/dev/null", FALSE,
                               VIR_DOMAIN_AFFECT_CONFIG, &local_error),
                  whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  if (kept != NULL)
    {
      g_ptr_array_remove (metadata->volumes, (gpointer) kept);
      if (!undo_step (nlx_lxc_write_metadata (dom, metadata, &local_error),
                      whatever_fails, uuid, &local_error, &failed, error))
        return FALSE;
    }
  if (!undo_step (nlx_lxc_volume_release (uuid, attachment->device,
                                          &local_error),
                  whatever_fails, uuid, &local_error, &failed, error))
    return FALSE;
  return !failed;
}
