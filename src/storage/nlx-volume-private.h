/* nlx-volume-private.h: what resolving and creating volumes share
 * (nlx-volume.c, nlx-volume-create.c); not for other layers */
#pragma once

#include <glib.h>

#include "storage/nlx-volume.h"

G_BEGIN_DECLS

gboolean nlx_volume_check_id (const char *id,
                              GError **error);
char *nlx_volume_entry_path (const NlxVolumeSettings *settings,
                             const char *id);
gboolean nlx_volume_check_within_roots (const NlxVolumeSettings *settings,
                                        const char *id,
                                        const char *resolved,
                                        GError **error);
int nlx_volume_compare_strings (gconstpointer a,
                                gconstpointer b);

G_END_DECLS
