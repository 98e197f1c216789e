/* nlx-test-libvirt.h: what the tests that talk to libvirt themselves
 * share: a virDomain cleanup and libvirt's error printing turned off */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)

void nlx_test_quiet_libvirt (void);

G_END_DECLS
