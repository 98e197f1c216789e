/* nlx-store.h: durable instance records */
#pragma once

#include "nlx-record.h"

G_BEGIN_DECLS

typedef struct _NlxStore NlxStore;

NlxStore *nlx_store_open (const char *dir,
                          GError **error);
void nlx_store_free (NlxStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxStore, nlx_store_free)

gboolean nlx_store_save (NlxStore *store,
                         const NlxRecord *record,
                         GError **error);
gboolean nlx_store_delete (NlxStore *store,
                           const char *uuid,
                           GError **error);
GPtrArray *nlx_store_load_all (NlxStore *store,
                               GPtrArray **quarantined,
                               GError **error);

G_END_DECLS
