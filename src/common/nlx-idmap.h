/* nlx-idmap.h: user namespace id maps, as Nova's [libvirt] uid_maps has
 * them */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * NlxIdMapRange:
 * @start: the first id inside the instance
 * @target: the host id it maps to
 * @count: how many ids
 */
typedef struct {
  guint32 start;
  guint32 target;
  guint32 count;
} NlxIdMapRange;

/* At most as many ranges as the kernel takes in a uid_map. */
#define NLX_IDMAP_MAX_RANGES 340

#define NLX_IDMAP_DEFAULT "0:100000:65536"

/* What an unmapped host id shows as inside a user namespace: the kernel's
 * default /proc/sys/kernel/overflowuid and overflowgid (nobody, nogroup). */
#define NLX_IDMAP_OVERFLOW_ID 65534

GArray *nlx_idmap_parse (const char *text,
                         const char *key,
                         GError **error);
gboolean nlx_idmap_to_host (GArray *map,
                            guint32 id,
                            guint32 *host_id);
gboolean nlx_idmap_from_host (GArray *map,
                              guint32 host_id,
                              guint32 *id);
char *nlx_idmap_to_kernel (GArray *map);
char *nlx_idmap_to_string (GArray *map);

G_END_DECLS
