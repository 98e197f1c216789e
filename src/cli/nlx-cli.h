/* nlx-cli.h: what the pieces of the nova-lxc client share: its options,
 * the API client, reading and printing answers, and the commands the
 * table in nova-lxc.c runs.  Private to src/cli/. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Long enough for any answer of the API, whose slow work runs after it
 * has answered; short enough that a hung daemon does not hang scripts. */
#define NLX_CLI_REQUEST_TIMEOUT_S 60

/**
 * NlxCliError:
 * @NLX_CLI_ERROR_UNREACHABLE: the API could not be reached
 * @NLX_CLI_ERROR_NOT_FOUND: the API answered 404, or no server has the name
 * @NLX_CLI_ERROR_API: the API answered with another error status
 * @NLX_CLI_ERROR_BAD_REPLY: the answer is not what the API promises
 * @NLX_CLI_ERROR_AMBIGUOUS: more than one server has the name
 * @NLX_CLI_ERROR_FAILED: the server ended in the wrong state
 */
typedef enum {
  NLX_CLI_ERROR_UNREACHABLE,
  NLX_CLI_ERROR_NOT_FOUND,
  NLX_CLI_ERROR_API,
  NLX_CLI_ERROR_BAD_REPLY,
  NLX_CLI_ERROR_AMBIGUOUS,
  NLX_CLI_ERROR_FAILED,
} NlxCliError;

#define NLX_CLI_ERROR (nlx_cli_error_quark ())
GQuark nlx_cli_error_quark (void);

/**
 * NlxCliVolume:
 * @volume_id: the volume's id
 * @device: (nullable): where the server sees it; NULL lets the daemon
 *   choose
 * @mount_path: (nullable): where the daemon mounts it; NULL for a bare
 *   device
 *
 * One --volume of boot.
 */
typedef struct {
  char *volume_id;
  char *device;
  char *mount_path;
} NlxCliVolume;

/**
 * NlxCliOptions:
 *
 * The command line's options, as GOption parsed them (nova-lxc.c), and
 * what the checks of the command line read from them and the arguments:
 * @arg_size_mib, volume-create's SIZE in MiB; @arg_user_data,
 * --user-data's file, base64-encoded; @arg_public_key, --pub-key's line.
 */
typedef struct {
  char *socket;
  char *url;
  char *token;
  gboolean json;
  char *flavor;
  char *image;
  char **meta;
  char **metadata;
  gboolean wait;
  gboolean hard;
  gboolean length_set;
  guint64 length;
  char *fs;
  char *from_dir;
  char *name;
  char **properties;
  char *device;
  char *mount;
  char *boot_volume;
  GPtrArray *volumes; /* of NlxCliVolume */
  char *key_name;
  char *user_data;
  char *hostname;
  gboolean config_drive;
  char *pub_key;
  guint64 arg_size_mib;
  char *arg_user_data;
  char *arg_public_key;
} NlxCliOptions;

extern NlxCliOptions nlx_cli_opt;

gboolean nlx_cli_check_volume_id (const char *what,
                                  const char *id,
                                  GError **error);

/* nlx-cli-client.c */
typedef struct {
  SoupSession *session;
  char *base_url;   /* ends before "/v2.1" */
  char *socket_path; /* NULL over TCP */
  char *token;
  /* The microversion of the next requests ("2.N"); NULL: the one the
   * client reads everything at (nlx-cli-client.c).  A command that sends
   * a field of a later version sets it around that one request. */
  const char *version;
} NlxClient;

void nlx_client_free (NlxClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxClient, nlx_client_free)
NlxClient *nlx_client_new (const char *socket_path,
                           const char *url,
                           const char *token);
void nlx_client_set_timeout (NlxClient *client,
                             guint seconds);
JsonNode *nlx_client_call (NlxClient *client,
                           const char *method,
                           const char *path,
                           JsonNode *body,
                           GError **error);
JsonNode *nlx_cli_get_member (JsonNode *root,
                              const char *name,
                              JsonNodeType type,
                              GError **error);
JsonObject *nlx_cli_get_object (JsonNode *root,
                                const char *member,
                                GError **error);

/* nlx-cli-output.c */
char *nlx_cli_power_state_name (JsonNode *node);
char *nlx_cli_display_member (JsonObject *object,
                              const char *name);
void nlx_cli_write_stdout (const char *text);
void nlx_cli_print_json (JsonNode *root);
void nlx_cli_print_table (const char * const *headers,
                          GPtrArray *rows);
GPtrArray *nlx_cli_rows_new (void);
void nlx_cli_print_properties (JsonObject *object);
char *nlx_cli_list_networks (JsonObject *server);
void nlx_cli_print_server_properties (JsonObject *server);
void nlx_cli_print_server (JsonNode *root);
void nlx_cli_print_note (const char *text);
gboolean nlx_cli_call_delete (NlxClient *client,
                              const char *path,
                              const char *note,
                              GError **error);

/* nlx-cli-servers.c: what the other command groups use of servers */
char *nlx_cli_server_path (const char *id,
                           const char *suffix);
char *nlx_cli_resolve_server (NlxClient *client,
                              const char *ref,
                              JsonNode **server_out,
                              GError **error);
JsonNode *nlx_cli_post_action (NlxClient *client,
                               const char *id,
                               JsonNode *body,
                               GError **error);
void nlx_cli_add_key_values (JsonBuilder *builder,
                             char **items);

/**
 * NlxCliServerAction:
 * @action: the one member of the body the action POSTs, {"ACTION": null}
 * @note: an N_() format with one %s, the server as the user named it,
 *   printed (without --json) once the API accepted the action
 *
 * A command that is a server action and nothing else, such as stop: a row
 * of the command table holds it, nlx_cli_run_server_action() runs it.
 */
typedef struct {
  const char *action;
  const char *note;
} NlxCliServerAction;

gboolean nlx_cli_run_server_action (NlxClient *client,
                                    const NlxCliServerAction *action,
                                    const char *ref,
                                    GError **error);

/* nlx-cli-volumes.c: what show uses of volumes */
gboolean nlx_cli_describe_server_volumes (NlxClient *client,
                                          const char *id,
                                          JsonObject *server,
                                          char **row_out,
                                          GError **error);

/* The commands of the table in nova-lxc.c: nlx_cli_check_NAME() checks
 * what a command needs of its arguments and options before anything is
 * sent, nlx_cli_cmd_NAME() runs it with ARGS, its arguments. */

/* nlx-cli-servers.c */
gboolean nlx_cli_check_boot (char **args,
                             GError **error);
gboolean nlx_cli_check_rebuild (char **args,
                                GError **error);
gboolean nlx_cli_cmd_boot (NlxClient *client,
                           char **args,
                           GError **error);
gboolean nlx_cli_cmd_list (NlxClient *client,
                           char **args,
                           GError **error);
gboolean nlx_cli_cmd_show (NlxClient *client,
                           char **args,
                           GError **error);
gboolean nlx_cli_cmd_delete (NlxClient *client,
                             char **args,
                             GError **error);
gboolean nlx_cli_cmd_reboot (NlxClient *client,
                             char **args,
                             GError **error);
gboolean nlx_cli_cmd_rebuild (NlxClient *client,
                              char **args,
                              GError **error);

/* nlx-cli-console.c */
gboolean nlx_cli_cmd_console_log (NlxClient *client,
                                  char **args,
                                  GError **error);
gboolean nlx_cli_cmd_console (NlxClient *client,
                              char **args,
                              GError **error);

/* nlx-cli-host.c */
gboolean nlx_cli_cmd_flavor_list (NlxClient *client,
                                  char **args,
                                  GError **error);
gboolean nlx_cli_cmd_hypervisor_stats (NlxClient *client,
                                       char **args,
                                       GError **error);

/* nlx-cli-images.c */
gboolean nlx_cli_check_image_import (char **args,
                                     GError **error);
gboolean nlx_cli_check_image_create (char **args,
                                     GError **error);
gboolean nlx_cli_cmd_image_list (NlxClient *client,
                                 char **args,
                                 GError **error);
gboolean nlx_cli_cmd_image_import (NlxClient *client,
                                   char **args,
                                   GError **error);
gboolean nlx_cli_cmd_image_create (NlxClient *client,
                                   char **args,
                                   GError **error);
gboolean nlx_cli_cmd_image_show (NlxClient *client,
                                 char **args,
                                 GError **error);
gboolean nlx_cli_cmd_image_delete (NlxClient *client,
                                   char **args,
                                   GError **error);

/* nlx-cli-volumes.c */
gboolean nlx_cli_check_volume_create (char **args,
                                      GError **error);
gboolean nlx_cli_check_volume_first (char **args,
                                     GError **error);
gboolean nlx_cli_check_volume_second (char **args,
                                      GError **error);
gboolean nlx_cli_cmd_volume_create (NlxClient *client,
                                    char **args,
                                    GError **error);
gboolean nlx_cli_cmd_volume_list (NlxClient *client,
                                  char **args,
                                  GError **error);
gboolean nlx_cli_cmd_volume_show (NlxClient *client,
                                  char **args,
                                  GError **error);
gboolean nlx_cli_cmd_volume_delete (NlxClient *client,
                                    char **args,
                                    GError **error);
gboolean nlx_cli_cmd_volume_attach (NlxClient *client,
                                    char **args,
                                    GError **error);
gboolean nlx_cli_cmd_volume_detach (NlxClient *client,
                                    char **args,
                                    GError **error);
gboolean nlx_cli_cmd_volume_attachments (NlxClient *client,
                                         char **args,
                                         GError **error);

/* nlx-cli-keypairs.c */
gboolean nlx_cli_check_keypair_add (char **args,
                                    GError **error);
gboolean nlx_cli_cmd_keypair_add (NlxClient *client,
                                  char **args,
                                  GError **error);
gboolean nlx_cli_cmd_keypair_list (NlxClient *client,
                                   char **args,
                                   GError **error);
gboolean nlx_cli_cmd_keypair_show (NlxClient *client,
                                   char **args,
                                   GError **error);
gboolean nlx_cli_cmd_keypair_delete (NlxClient *client,
                                     char **args,
                                     GError **error);

G_END_DECLS
