/* nlx-test-daemon.c: the daemon's layers (manager, API, and the metadata
 * service if asked for) on a thread of the test's own process, as the
 * unit tests on the fake driver run them */
#include "config.h"

#include "lib/nlx-test-daemon.h"

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* What nova-lxc-compute's main does, on this thread's own main context,
 * until nlx_test_daemon_stop(). */
static gpointer
serve (gpointer data)
{
  NlxTestDaemon *d = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(NlxConfig) config = NULL;
  g_autoptr(NlxLock) state_lock = NULL;
  g_autoptr(NlxVirt) virt = NULL;
  g_autoptr(NlxManager) manager = NULL;
  g_autoptr(NlxApi) api = NULL;
  g_autoptr(NlxMetadataService) service = NULL;
  NlxListenerLimits limits = { 8, 5, 0 };
  gboolean up;
  GError *error = NULL;

  g_main_context_push_thread_default (context);
  config = nlx_config_new_from_data (d->config_text, &error);
  if (config != NULL)
    state_lock = nlx_manager_lock_state (config, &error);
  if (state_lock != NULL)
    virt = nlx_virt_open (config->compute_driver, config->keyfile, &error);
  if (virt != NULL)
    manager = nlx_manager_new (config, virt, &error);
  if (manager != NULL)
    api = nlx_api_new (config, manager, &error);
  if (api != NULL && d->metadata_bridge != NULL)
    service = nlx_metadata_service_new (manager, d->metadata_bridge,
                                        d->metadata_address, 0, &limits,
                                        &error);
  up = api != NULL && (d->metadata_bridge == NULL || service != NULL);

  g_mutex_lock (&d->lock);
  d->loop = g_main_loop_new (context, FALSE);
  d->start_error = error;
  d->tcp_port = api ? nlx_api_get_tcp_port (api) : 0;
  d->metadata_port = service ? nlx_metadata_service_get_port (service) : 0;
  d->api = api;
  d->manager = manager;
  d->service = service;
  d->started = TRUE;
  g_cond_signal (&d->ready);
  g_mutex_unlock (&d->lock);

  if (up)
    g_main_loop_run (d->loop);
  d->api = NULL;
  d->manager = NULL;
  d->service = NULL;
  /* As the daemon stops: events, then the driver, then the manager. */
  g_clear_pointer (&service, nlx_metadata_service_free);
  g_clear_pointer (&api, nlx_api_free);
  if (manager != NULL)
    nlx_manager_stop (manager);
  g_clear_pointer (&virt, nlx_virt_close);
  g_clear_pointer (&manager, nlx_manager_free);
  g_main_context_pop_thread_default (context);
  return NULL;
}

void
nlx_test_daemon_init (NlxTestDaemon *d)
{
  g_mutex_init (&d->lock);
  g_cond_init (&d->ready);
}

/**
 * nlx_test_daemon_start:
 * @config_text: the daemon's configuration; must live until the daemon
 *   stops
 *
 * Starts the daemon's layers on a thread of their own and returns once
 * they are up, or failed to start: @daemon's start_error says which.
 */
void
nlx_test_daemon_start (NlxTestDaemon *d,
                       const char *config_text)
{
  d->config_text = config_text;
  d->started = FALSE;
  g_clear_error (&d->start_error);
  d->thread = g_thread_new ("daemon", serve, d);
  g_mutex_lock (&d->lock);
  while (!d->started)
    g_cond_wait (&d->ready, &d->lock);
  g_mutex_unlock (&d->lock);
}

/* Stops the daemon's layers, as the daemon does on SIGTERM; nothing if
 * they do not run. */
/* Asks the daemon's thread to stop, without waiting for it: what a
 * SIGTERM does to nova-lxc-compute.  nlx_test_daemon_stop() waits. */
void
nlx_test_daemon_quit (NlxTestDaemon *d)
{
  g_main_context_invoke (g_main_loop_get_context (d->loop), quit_loop, d->loop);
}

void
nlx_test_daemon_stop (NlxTestDaemon *d)
{
  if (d->thread == NULL)
    return;
  nlx_test_daemon_quit (d);
  g_thread_join (d->thread);
  d->thread = NULL;
  g_clear_pointer (&d->loop, g_main_loop_unref);
}

/* Stops the daemon if it runs and frees what nlx_test_daemon_init() and
 * nlx_test_daemon_start() made. */
void
nlx_test_daemon_clear (NlxTestDaemon *d)
{
  nlx_test_daemon_stop (d);
  g_clear_error (&d->start_error);
  g_mutex_clear (&d->lock);
  g_cond_clear (&d->ready);
}
