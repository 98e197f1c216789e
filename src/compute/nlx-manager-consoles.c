/* nlx-manager-consoles.c: consoles: the console log, remote console
 * tokens and attaching to a serial console */
#include "config.h"

#include <errno.h>
#include <sys/random.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"

typedef struct {
  char *uuid;
  gsize max_bytes;
} ConsoleRequest;

static void
console_request_free (ConsoleRequest *request)
{
  g_free (request->uuid);
  g_free (request);
}

static gpointer
read_console (NlxManager *manager,
              gpointer data,
              GCancellable *cancellable G_GNUC_UNUSED,
              GError **error)
{
  ConsoleRequest *request = data;

  return nlx_virt_get_console_output (manager->virt, request->uuid,
                                      request->max_bytes, error);
}

/**
 * nlx_manager_get_console_output_async:
 *
 * Reads the end of an instance's console log.  An instance still being
 * built has none yet (#NLX_DRIVER_ERROR_INVALID_STATE).
 */
void
nlx_manager_get_console_output_async (NlxManager *manager,
                                      const char *uuid,
                                      gsize max_bytes,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  GError *error = NULL;
  Entry *entry = nlx_manager_find (manager, uuid, &error);
  ConsoleRequest *request;

  if (entry != NULL && (entry->record->vm_state == NLX_VM_STATE_BUILDING ||
                        entry->record->task_state == NLX_TASK_STATE_DELETING))
    g_set_error (&error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                 _("Instance %s is not ready: it is %s"), uuid,
                 nlx_record_status (entry->record));
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  request = g_new0 (ConsoleRequest, 1);
  request->uuid = g_strdup (entry->record->instance->uuid);
  request->max_bytes = max_bytes;
  g_task_set_task_data (task, request, (GDestroyNotify) console_request_free);
  nlx_manager_run_task_in_worker (manager, task, read_console, g_free, NULL);
}

char *
nlx_manager_get_console_output_finish (NlxManager *manager G_GNUC_UNUSED,
                                       GAsyncResult *result,
                                       GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* At most this many unused console URLs per server: a caller asking in a
 * loop cannot grow the table without bound within a token's life. */
#define CONSOLE_TOKENS_PER_SERVER 16

typedef struct {
  char *uuid;
  gint64 expires_at;            /* monotonic µs */
} ConsoleToken;

void
nlx_manager_console_token_free (gpointer data)
{
  ConsoleToken *token = data;

  g_free (token->uuid);
  g_free (token);
}

/* Whether the console of @entry may be used now: as Nova, only an
 * ACTIVE server not being deleted has one. */
static gboolean
console_ready_check (Entry *entry,
                     GError **error)
{
  if (entry->record->vm_state == NLX_VM_STATE_ACTIVE &&
      entry->record->task_state != NLX_TASK_STATE_DELETING)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
               _("Instance %s is not ready: it is %s; its console can be "
                 "used once it is ACTIVE"), entry->record->instance->uuid,
               nlx_record_status (entry->record));
  return FALSE;
}

/* Drops expired tokens, and the oldest of @uuid's beyond the cap. */
static void
prune_console_tokens (NlxManager *manager,
                      const char *uuid)
{
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  ConsoleToken *token;
  guint count = 0;

  g_hash_table_iter_init (&iter, manager->console_tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    if (token->expires_at <= now)
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, manager->console_tokens);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &token))
    if (g_str_equal (token->uuid, uuid))
      count++;
  for (; count >= CONSOLE_TOKENS_PER_SERVER; count--)
    {
      const char *oldest = NULL;
      gint64 oldest_expiry = G_MAXINT64;
      const char *key;

      g_hash_table_iter_init (&iter, manager->console_tokens);
      while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &token))
        if (g_str_equal (token->uuid, uuid) && token->expires_at < oldest_expiry)
          {
            oldest = key;
            oldest_expiry = token->expires_at;
          }
      if (oldest == NULL)
        break;
      g_hash_table_remove (manager->console_tokens, oldest);
    }
}

/**
 * nlx_manager_create_console_token:
 * @uuid: the server's
 * @error: NOT_FOUND, INVALID_STATE (not ACTIVE), FAILED
 *
 * A new token for @uuid's serial console, as Nova's console auth tokens:
 * 128 random bits, usable once, for `[console] token_ttl` seconds.
 * Main thread only.
 *
 * Returns: (transfer full): the token, or %NULL
 */
char *
nlx_manager_create_console_token (NlxManager *manager,
                                  const char *uuid,
                                  GError **error)
{
  Entry *entry = nlx_manager_find (manager, uuid, error);
  guint8 bytes[16];
  GString *text;
  ConsoleToken *token;

  if (entry == NULL || !console_ready_check (entry, error))
    return NULL;
  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make a console token: %s"),
                   g_strerror (saved_errno));
      return NULL;
    }
  text = g_string_sized_new (2 * sizeof bytes);
  for (gsize i = 0; i < sizeof bytes; i++)
    g_string_append_printf (text, "%02x", bytes[i]);
  prune_console_tokens (manager, entry->record->instance->uuid);
  token = g_new0 (ConsoleToken, 1);
  token->uuid = g_strdup (entry->record->instance->uuid);
  token->expires_at = g_get_monotonic_time () +
                      (gint64) manager->config->console_token_ttl_s *
                      G_USEC_PER_SEC;
  g_hash_table_replace (manager->console_tokens, g_strdup (text->str), token);
  return g_string_free (text, FALSE);
}

/**
 * nlx_manager_take_console_token:
 * @token: what the caller presented
 * @error: NOT_AUTHORIZED-like #NLX_DRIVER_ERROR_NOT_FOUND when the token
 *   is unknown, used or expired; INVALID_STATE when the server is no
 *   longer ACTIVE
 *
 * Uses up @token, valid or not.  Main thread only.
 *
 * Returns: (transfer full): the uuid of the server it is for, or %NULL
 */
char *
nlx_manager_take_console_token (NlxManager *manager,
                                const char *token,
                                GError **error)
{
  g_autofree char *key = NULL;
  ConsoleToken *found = NULL;
  g_autofree char *uuid = NULL;
  gboolean expired;
  Entry *entry;

  if (token == NULL ||
      !g_hash_table_steal_extended (manager->console_tokens, token,
                                    (gpointer *) &key, (gpointer *) &found))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                   _("The console token is invalid, used or expired; ask "
                     "for a new console URL"));
      return NULL;
    }
  expired = found->expires_at <= g_get_monotonic_time ();
  uuid = g_steal_pointer (&found->uuid);
  nlx_manager_console_token_free (found);
  if (expired)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                   _("The console token is invalid, used or expired; ask "
                     "for a new console URL"));
      return NULL;
    }
  entry = nlx_manager_find (manager, uuid, error);
  if (entry == NULL || !console_ready_check (entry, error))
    return NULL;
  return g_steal_pointer (&uuid);
}

/* An attached console's socket, closed unless someone takes it. */
static void
console_fd_free (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  g_free (fd);
}

static gpointer
attach_console (NlxManager *manager,
                gpointer data,
                GCancellable *cancellable G_GNUC_UNUSED,
                GError **error)
{
  ConsoleRequest *request = data;
  int fd = nlx_virt_console_attach (manager->virt, request->uuid, error);

  if (fd < 0)
    return NULL;
  return g_memdup2 (&fd, sizeof fd);
}

/**
 * nlx_manager_console_attach_async:
 *
 * Attaches to @uuid's serial console (NlxDriver.console_attach) in a
 * worker thread, since the driver may wait on the hypervisor.
 */
void
nlx_manager_console_attach_async (NlxManager *manager,
                                  const char *uuid,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  GError *error = NULL;
  Entry *entry = nlx_manager_find (manager, uuid, &error);
  ConsoleRequest *request;

  if (entry == NULL || !console_ready_check (entry, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  request = g_new0 (ConsoleRequest, 1);
  request->uuid = g_strdup (entry->record->instance->uuid);
  g_task_set_task_data (task, request, (GDestroyNotify) console_request_free);
  nlx_manager_run_task_in_worker (manager, task, attach_console,
                                  (GDestroyNotify) console_fd_free, NULL);
}

/**
 * nlx_manager_console_attach_finish:
 *
 * Returns: a socket the caller owns (see NlxDriver.console_attach), or -1
 */
int
nlx_manager_console_attach_finish (NlxManager *manager G_GNUC_UNUSED,
                                   GAsyncResult *result,
                                   GError **error)
{
  g_autofree int *fd = g_task_propagate_pointer (G_TASK (result), error);

  return fd != NULL ? *fd : -1;
}
