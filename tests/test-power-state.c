/* test-power-state.c: libvirt domain states -> Nova power states */
#include "config.h"

#include <libvirt/libvirt.h>

#include "model/nlx-power-state.h"

/* Numbered as nova/compute/power_state.py, because callers store and
 * compare the numbers: checked when this compiles, not when it runs. */
G_STATIC_ASSERT (NLX_POWER_STATE_NOSTATE == 0);
G_STATIC_ASSERT (NLX_POWER_STATE_RUNNING == 1);
G_STATIC_ASSERT (NLX_POWER_STATE_PAUSED == 3);
G_STATIC_ASSERT (NLX_POWER_STATE_SHUTDOWN == 4);
G_STATIC_ASSERT (NLX_POWER_STATE_CRASHED == 6);
G_STATIC_ASSERT (NLX_POWER_STATE_SUSPENDED == 7);

static void
test_map (void)
{
  static const struct {
    int libvirt;
    NlxPowerState nova;
    const char *name;
  } cases[] = {
    { VIR_DOMAIN_NOSTATE, NLX_POWER_STATE_NOSTATE, "pending" },
    { VIR_DOMAIN_RUNNING, NLX_POWER_STATE_RUNNING, "running" },
    { VIR_DOMAIN_BLOCKED, NLX_POWER_STATE_RUNNING, "running" },
    { VIR_DOMAIN_PAUSED, NLX_POWER_STATE_PAUSED, "paused" },
    { VIR_DOMAIN_SHUTDOWN, NLX_POWER_STATE_SHUTDOWN, "shutdown" },
    { VIR_DOMAIN_SHUTOFF, NLX_POWER_STATE_SHUTDOWN, "shutdown" },
    { VIR_DOMAIN_CRASHED, NLX_POWER_STATE_CRASHED, "crashed" },
    { VIR_DOMAIN_PMSUSPENDED, NLX_POWER_STATE_SUSPENDED, "suspended" },
    { 99, NLX_POWER_STATE_NOSTATE, "pending" },
    { -1, NLX_POWER_STATE_NOSTATE, "pending" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      NlxPowerState state = nlx_power_state_from_libvirt (cases[i].libvirt);

      g_assert_cmpint (state, ==, cases[i].nova);
      g_assert_cmpstr (nlx_power_state_to_string (state), ==, cases[i].name);
    }
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Mapping libvirt domain states to Nova power states and "
                  "their names.");
  g_test_add_func ("/nlx/power-state/map", test_map);
  return g_test_run ();
}
