/* nlx-test-libvirt.h: what the tests that talk to libvirt themselves
 * share: g_autoptr() for its types and its error printing turned off */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "common/nlx-autoptr.h"

G_BEGIN_DECLS

void nlx_test_quiet_libvirt (void);

G_END_DECLS
