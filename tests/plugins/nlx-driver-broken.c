/* nlx-driver-broken.c: plugins the loader must refuse
 *
 * Built twice: as nlx-driver-nosymbol (exports no entry point) and, with
 * NLX_TEST_BAD_ABI, as nlx-driver-badabi (a table for another ABI). */
#include "config.h"

#include <gmodule.h>

#include "nlx-driver.h"

#ifdef NLX_TEST_BAD_ABI
static const NlxDriver badabi_driver = {
  .abi_version = NLX_DRIVER_ABI_VERSION + 1,
  .name = "badabi",
};

G_MODULE_EXPORT const NlxDriver *nlx_driver_get (void);

const NlxDriver *
nlx_driver_get (void)
{
  return &badabi_driver;
}
#else
G_MODULE_EXPORT int nlx_driver_something_else (void);

int
nlx_driver_something_else (void)
{
  return 0;
}
#endif
