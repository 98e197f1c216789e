/* nlx-store.h: durable instance records */
#pragma once

#include <gio/gio.h>

#include "model/nlx-record.h"

G_BEGIN_DECLS

typedef struct _NlxStore NlxStore;

typedef struct {
  guint64 rounds;               /* rounds of writes, each one fsync of the
                                 * records' directory at most */
  guint64 records_written;      /* records renamed into place or unlinked */
  guint64 files_written;        /* other files of the state */
} NlxStoreStats;

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
void nlx_store_save_async (NlxStore *store,
                           const NlxRecord *record,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
void nlx_store_save_with_file_async (NlxStore *store,
                                     const NlxRecord *record,
                                     const char *path,
                                     const char *data,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
void nlx_store_write_file_async (NlxStore *store,
                                 const char *path,
                                 const char *data,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean nlx_store_save_finish (NlxStore *store,
                                GAsyncResult *result,
                                GError **error);
void nlx_store_delete_async (NlxStore *store,
                             const char *uuid,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
gboolean nlx_store_delete_finish (NlxStore *store,
                                  GAsyncResult *result,
                                  GError **error);
void nlx_store_flush (NlxStore *store);
void nlx_store_hold (NlxStore *store,
                     gboolean held);
guint nlx_store_count_pending (NlxStore *store);
void nlx_store_get_stats (NlxStore *store,
                          NlxStoreStats *stats);
gboolean nlx_store_is_saved (NlxStore *store,
                             const NlxRecord *record);
const char *nlx_store_get_dir (NlxStore *store);
void nlx_store_note_on_disk (NlxStore *store,
                             const char *uuid,
                             const char *data);
GPtrArray *nlx_store_load_all (NlxStore *store,
                               GPtrArray **quarantined,
                               GError **error);

G_END_DECLS
