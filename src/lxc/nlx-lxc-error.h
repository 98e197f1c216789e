/* nlx-lxc-error.h: the one bridge from libvirt errors to GErrors */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void nlx_lxc_error_silence_libvirt (void);
gboolean nlx_lxc_error_from_libvirt (GError **error);
gboolean nlx_lxc_error_last_is (int virt_error_code);

G_END_DECLS
