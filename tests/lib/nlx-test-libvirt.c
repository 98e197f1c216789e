/* nlx-test-libvirt.c: what the tests that talk to libvirt themselves
 * share: libvirt's error printing turned off */
#include "config.h"

#include <libvirt/virterror.h>

#include "lib/nlx-test-libvirt.h"

static void
ignore_libvirt_error (void *opaque G_GNUC_UNUSED,
                      virErrorPtr err G_GNUC_UNUSED)
{
}

/* Tests look up domains that may not exist, and check what each call
 * returns: libvirt's printing every error on stderr is noise. */
void
nlx_test_quiet_libvirt (void)
{
  virSetErrorFunc (NULL, ignore_libvirt_error);
}
