/* nlx-test-daemon.h: the daemon's layers (manager, API, and the metadata
 * service if asked for) on a thread of the test's own process, as the
 * unit tests on the fake driver run them */
#pragma once

#include <glib.h>

#include "api/nlx-api.h"
#include "api/nlx-metadata-service.h"

G_BEGIN_DECLS

typedef struct {
  /* Set before nlx_test_daemon_start() to run the metadata service on
   * this bridge and address too; NULL for none. */
  const char *metadata_bridge;
  const char *metadata_address;

  /* What nlx_test_daemon_start() sets: why it did not start, or what
   * started.  The objects are the daemon thread's: read-only here. */
  GError *start_error;
  guint tcp_port;
  guint metadata_port;
  NlxApi *api;
  NlxManager *manager;
  NlxMetadataService *service;

  /* private */
  const char *config_text;
  GThread *thread;
  GMainLoop *loop;
  GMutex lock;
  GCond ready;
  gboolean started;
} NlxTestDaemon;

void nlx_test_daemon_init (NlxTestDaemon *daemon);
void nlx_test_daemon_start (NlxTestDaemon *daemon,
                            const char *config_text);
void nlx_test_daemon_quit (NlxTestDaemon *daemon);
void nlx_test_daemon_stop (NlxTestDaemon *daemon);
void nlx_test_daemon_clear (NlxTestDaemon *daemon);

G_END_DECLS
