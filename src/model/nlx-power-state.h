/* nlx-power-state.h: Nova's power states, from libvirt's domain states */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * NlxPowerState:
 *
 * Numbered exactly as nova.compute.power_state, because callers store and
 * compare the numbers.
 */
typedef enum {
  NLX_POWER_STATE_NOSTATE = 0x00,
  NLX_POWER_STATE_RUNNING = 0x01,
  NLX_POWER_STATE_PAUSED = 0x03,
  NLX_POWER_STATE_SHUTDOWN = 0x04,
  NLX_POWER_STATE_CRASHED = 0x06,
  NLX_POWER_STATE_SUSPENDED = 0x07,
} NlxPowerState;

NlxPowerState nlx_power_state_from_libvirt (int domain_state);
const char *nlx_power_state_to_string (NlxPowerState state);

G_END_DECLS
