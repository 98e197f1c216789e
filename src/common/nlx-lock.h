/* nlx-lock.h: one daemon per state directory, instances directory,
 * volume directory and bridge */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The lock file a directory holds: a name no record, volume id or
 * instance uuid can have. */
#define NLX_LOCK_FILE ".nova-lxc-compute.lock"

typedef struct _NlxLock NlxLock;

NlxLock *nlx_lock_acquire (const char *path,
                           const char *what,
                           GError **error);
NlxLock *nlx_lock_acquire_dir (const char *dir,
                               int mode,
                               const char *what,
                               GError **error);
void nlx_lock_release (NlxLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxLock, nlx_lock_release)

G_END_DECLS
