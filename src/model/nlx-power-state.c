/* nlx-power-state.c: Nova's power states, from libvirt's domain states */
#include "config.h"

#include <libvirt/libvirt.h>

#include "model/nlx-power-state.h"

/**
 * nlx_power_state_from_libvirt:
 * @domain_state: a virDomainState
 *
 * Maps as Nova's libvirt driver does: BLOCKED is a running domain whose
 * CPUs idle; SHUTDOWN (going down) and SHUTOFF both count as SHUTDOWN.
 * A state this libvirt does not know yet is NOSTATE, never a guess.
 */
NlxPowerState
nlx_power_state_from_libvirt (int domain_state)
{
  switch (domain_state)
    {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
      return NLX_POWER_STATE_RUNNING;
    case VIR_DOMAIN_PAUSED:
      return NLX_POWER_STATE_PAUSED;
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_SHUTOFF:
      return NLX_POWER_STATE_SHUTDOWN;
    case VIR_DOMAIN_CRASHED:
      return NLX_POWER_STATE_CRASHED;
    case VIR_DOMAIN_PMSUSPENDED:
      return NLX_POWER_STATE_SUSPENDED;
    case VIR_DOMAIN_NOSTATE:
    default:
      return NLX_POWER_STATE_NOSTATE;
    }
}

/* Nova's names, as its API and logs print them. */
const char *
nlx_power_state_to_string (NlxPowerState state)
{
  switch (state)
    {
    case NLX_POWER_STATE_RUNNING:
      return "running";
    case NLX_POWER_STATE_PAUSED:
      return "paused";
    case NLX_POWER_STATE_SHUTDOWN:
      return "shutdown";
    case NLX_POWER_STATE_CRASHED:
      return "crashed";
    case NLX_POWER_STATE_SUSPENDED:
      return "suspended";
    case NLX_POWER_STATE_NOSTATE:
    default:
      return "pending";
    }
}
