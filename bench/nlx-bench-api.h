/* nlx-bench-api.h: Compute API requests for the benchmarks that talk to a
 * daemon (bench-api, bench-scale, bench-list) */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

SoupMessage *nlx_bench_api_message (const char *method,
                                    const char *path,
                                    const char *version,
                                    const char *body);
gboolean nlx_bench_api_send (SoupSession *session,
                             SoupMessage *msg,
                             const char *method,
                             const char *path,
                             guint *status,
                             JsonNode **reply,
                             gsize *length,
                             GError **error);
const char *nlx_bench_get_member (JsonNode *root,
                                  const char *outer,
                                  const char *name);
const char *nlx_bench_fault_message (JsonNode *root);

G_END_DECLS
