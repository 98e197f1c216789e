/* nlx-lxc-error.c: the one bridge from libvirt errors to GErrors */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/nlx-error.h"
#include "lxc/nlx-lxc-error.h"

static void
ignore_libvirt_error (void *opaque G_GNUC_UNUSED,
                      virErrorPtr err G_GNUC_UNUSED)
{
  /* libvirt prints every error to stderr by default; ours reach the
   * caller as GErrors instead, so keep stderr for our own logging. */
}

void
nlx_lxc_error_silence_libvirt (void)
{
  virSetErrorFunc (NULL, ignore_libvirt_error);
}

static NlxDriverError
code_from_libvirt (virErrorPtr err)
{
  /* The RPC layer fails when libvirtd has gone away (restarted, or
   * stopped); the next operation reconnects. */
  if (err->domain == VIR_FROM_RPC || err->domain == VIR_FROM_REMOTE)
    return NLX_DRIVER_ERROR_UNAVAILABLE;
  switch (err->code)
    {
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
      return NLX_DRIVER_ERROR_UNAVAILABLE;
    case VIR_ERR_NO_DOMAIN:
      return NLX_DRIVER_ERROR_NOT_FOUND;
    case VIR_ERR_DOM_EXIST:
      return NLX_DRIVER_ERROR_EXISTS;
    case VIR_ERR_OPERATION_INVALID:
      return NLX_DRIVER_ERROR_INVALID_STATE;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      return NLX_DRIVER_ERROR_NOT_SUPPORTED;
    case VIR_ERR_INVALID_ARG:
      return NLX_DRIVER_ERROR_INVALID_ARGUMENT;
    default:
      return NLX_DRIVER_ERROR_FAILED;
    }
}

/**
 * nlx_lxc_error_from_libvirt:
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Turns this thread's last libvirt error into a GError carrying
 * libvirt's own message.  Callers add what they were doing with
 * g_prefix_error().
 *
 * Returns: %FALSE, so callers can `return nlx_lxc_error_from_libvirt (error);`
 */
gboolean
nlx_lxc_error_from_libvirt (GError **error)
{
  virErrorPtr err = virGetLastError ();

  if (err == NULL || err->message == NULL)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 _("libvirt failed without saying why; see libvirtd's log"));
  else
    g_set_error_literal (error, NLX_DRIVER_ERROR, code_from_libvirt (err),
                         err->message);
  return FALSE;
}

/* Whether this thread's last libvirt error has @virt_error_code. */
gboolean
nlx_lxc_error_last_is (int virt_error_code)
{
  virErrorPtr err = virGetLastError ();

  return err != NULL && err->code == virt_error_code;
}
