/* nlx-network-private.h: what the bridge and settings part of
 * nlx-network.h (nlx-network.c) and the address allocator (nlx-ipam.c)
 * share */
#pragma once

#define SECTION "network"

