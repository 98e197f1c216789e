/* nlx-json.h: strict JSON in, and the one check for text fields */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deeper documents are refused before anything is built from them: no
 * document nova-lxc reads or writes is more than a few levels deep. */
#define NLX_JSON_MAX_DEPTH 32

JsonNode *nlx_json_parse (const char *data,
                          gssize length,
                          GError **error);
JsonNode *nlx_json_parse_file (const char *path,
                               GError **error);

const char *nlx_json_get_string (JsonObject *object,
                                 const char *member);

gboolean nlx_json_text_is_valid (const char *text,
                                 gsize max_chars);

G_END_DECLS
