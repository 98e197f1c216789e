/* nova-lxc: command-line client of the nova-lxc compute API
 *
 * Speaks the HTTP API of nova-lxc-compute (docs/api.md) over its Unix
 * socket, or over TCP with a token, and prints tables for people or the
 * API's JSON for scripts. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "common/nlx-console-text.h"
#include "common/nlx-file.h"
#include "model/nlx-image.h"
#include "model/nlx-instance.h"
#include "model/nlx-keypair.h"
#include "common/nlx-json.h"
#include "model/nlx-volume-attachment.h"

#define DEFAULT_SOCKET NLX_RUN_DIR "/compute.sock"
#define API_VERSION_HEADER "compute 2.1"
/* Long enough for any answer of the API, whose slow work runs after it
 * has answered; short enough that a hung daemon does not hang scripts. */
#define REQUEST_TIMEOUT_S 60
/* But createImage and image import answer once the image is stored,
 * which for a large root takes minutes. */
#define STORE_TIMEOUT_S (60 * 60)
#define POLL_INTERVAL_US (G_USEC_PER_SEC / 2)

/* ---- errors ---------------------------------------------------------- */

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
static GQuark nlx_cli_error_quark (void);
G_DEFINE_QUARK (nlx-cli-error-quark, nlx_cli_error)

/* ---- options --------------------------------------------------------- */

static char *opt_socket = NULL;
static char *opt_url = NULL;
static char *opt_token = NULL;
static gboolean opt_json = FALSE;
static char *opt_flavor = NULL;
static char *opt_image = NULL;
static char **opt_meta = NULL;
static char **opt_metadata = NULL;
static gboolean opt_wait = FALSE;
static gboolean opt_hard = FALSE;
static gboolean opt_length_set = FALSE;
static guint64 opt_length = 0;
static char *opt_fs = NULL;
static char *opt_from_dir = NULL;
static char *opt_name = NULL;
static char **opt_properties = NULL;
static char *opt_device = NULL;
static char *opt_mount = NULL;
static char *opt_boot_volume = NULL;
static GPtrArray *opt_volumes = NULL; /* of NlxCliVolume */
static char *opt_key_name = NULL;
static char *opt_user_data = NULL;
static char *opt_hostname = NULL;
static gboolean opt_config_drive = FALSE;
static char *opt_pub_key = NULL;
/* volume-create's SIZE in MiB, once check_usage has read it. */
static guint64 arg_size_mib = 0;
/* --user-data's file, base64-encoded, and --pub-key's line. */
static char *arg_user_data = NULL;
static char *arg_public_key = NULL;

/* The form of the API's volume ids, devices and mount paths is checked
 * here too, so a typo fails before anything is sent, with a message that
 * names the option. */

static gboolean
check_volume_id (const char *what,
                 const char *id,
                 GError **error)
{
  if (nlx_volume_id_is_valid (id))
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("%s: “%s” is not a volume ID; an ID is up to %d letters, "
                 "digits, “.”, “_” and “-”, starting with a letter or digit "
                 "(see volume-list)"), what, id, NLX_VOLUME_ID_MAX);
  return FALSE;
}

static gboolean
check_device (const char *what,
              const char *device,
              GError **error)
{
  if (strlen (device) == strlen ("/dev/vdb") &&
      g_str_has_prefix (device, "/dev/vd") &&
      device[7] >= 'b' && device[7] <= 'z')
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("%s: device “%s” is not one nova-lxc gives out; use /dev/vdb "
                 "to /dev/vdz, or leave it out for the next free one"),
               what, device);
  return FALSE;
}

static gboolean
check_mount_path (const char *what,
                  const char *path,
                  GError **error)
{
  if (path[0] == '/' && path[1] != '\0' && g_utf8_validate (path, -1, NULL))
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("%s: mount path “%s” is not an absolute path inside the "
                 "server; give one such as /data"), what, path);
  return FALSE;
}

static gboolean
parse_length (const char *option_name,
              const char *value,
              gpointer data,
              GError **error)
{
  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT, &opt_length,
                                   NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--length wants a number of lines, 0 or more; got “%s”"),
                   value);
      return FALSE;
    }
  opt_length_set = TRUE;
  return TRUE;
}

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

static void
nlx_cli_volume_free (NlxCliVolume *volume)
{
  g_free (volume->volume_id);
  g_free (volume->device);
  g_free (volume->mount_path);
  g_free (volume);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxCliVolume, nlx_cli_volume_free)

/* --volume ID[:DEVICE[:MOUNT_PATH]]; an empty DEVICE lets the daemon
 * choose, and MOUNT_PATH keeps any further colons. */
static gboolean
parse_volume (const char *option_name,
              const char *value,
              gpointer data,
              GError **error)
{
  g_auto(GStrv) parts = g_strsplit (value, ":", 3);
  g_autoptr(NlxCliVolume) volume = g_new0 (NlxCliVolume, 1);

  if (parts[0] == NULL || *parts[0] == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--volume wants ID[:DEVICE[:MOUNT_PATH]], such as "
                     "data:/dev/vdb:/data or data::/data; got “%s”"), value);
      return FALSE;
    }
  if (!check_volume_id ("--volume", parts[0], error))
    return FALSE;
  volume->volume_id = g_strdup (parts[0]);
  if (parts[1] != NULL && *parts[1] != '\0')
    {
      if (!check_device ("--volume", parts[1], error))
        return FALSE;
      volume->device = g_strdup (parts[1]);
    }
  if (parts[1] != NULL && parts[2] != NULL)
    {
      if (!check_mount_path ("--volume", parts[2], error))
        return FALSE;
      volume->mount_path = g_strdup (parts[2]);
    }
  if (opt_volumes == NULL)
    opt_volumes = g_ptr_array_new_with_free_func (
      (GDestroyNotify) nlx_cli_volume_free);
  g_ptr_array_add (opt_volumes, g_steal_pointer (&volume));
  return TRUE;
}

static gboolean
parse_boot_volume (const char *option_name,
                   const char *value,
                   gpointer data,
                   GError **error)
{
  if (!check_volume_id ("--boot-volume", value, error))
    return FALSE;
  g_free (opt_boot_volume);
  opt_boot_volume = g_strdup (value);
  return TRUE;
}

static gboolean
parse_fs (const char *option_name,
          const char *value,
          gpointer data,
          GError **error)
{
  if (!g_str_equal (value, "ext4") && !g_str_equal (value, "xfs"))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--fs wants ext4 or xfs; got “%s”"), value);
      return FALSE;
    }
  g_free (opt_fs);
  opt_fs = g_strdup (value);
  return TRUE;
}

static gboolean
parse_device (const char *option_name,
              const char *value,
              gpointer data,
              GError **error)
{
  if (!check_device ("--device", value, error))
    return FALSE;
  g_free (opt_device);
  opt_device = g_strdup (value);
  return TRUE;
}

static gboolean
parse_mount (const char *option_name,
             const char *value,
             gpointer data,
             GError **error)
{
  if (!check_mount_path ("--mount", value, error))
    return FALSE;
  g_free (opt_mount);
  opt_mount = g_strdup (value);
  return TRUE;
}

/* volume-create's SIZE: a whole number of GiB as in Nova, or of MiB or
 * GiB with the suffix M or G; returns MiB. */
static gboolean
parse_size (const char *text,
            guint64 *mib,
            GError **error)
{
  g_autofree char *number = g_strdup (text);
  gsize len = strlen (number);
  guint64 unit = 1024;
  guint64 value;

  if (len > 0 && (number[len - 1] == 'G' || number[len - 1] == 'g'))
    number[--len] = '\0';
  else if (len > 0 && (number[len - 1] == 'M' || number[len - 1] == 'm'))
    {
      number[--len] = '\0';
      unit = 1;
    }
  /* The bound only keeps the arithmetic whole; the daemon has the real
   * limit and says it. */
  if (!g_ascii_string_to_unsigned (number, 10, 1, G_MAXUINT32 / unit, &value,
                                   NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("SIZE wants a whole number of GiB greater than 0, "
                     "optionally with the suffix M (MiB) or G (GiB), such as "
                     "16M, 512M or 2G; got “%s”"), text);
      return FALSE;
    }
  *mib = value * unit;
  return TRUE;
}

/* entries[0]'s description names a path configure chose, so main() fills
 * it in: the path glued into N_() would cut the msgid short. */
static GOptionEntry entries[] = {
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket, NULL,
    N_("PATH") },
  { "url", 'u', 0, G_OPTION_ARG_STRING, &opt_url,
    N_("Reach the API over TCP instead, e.g. http://127.0.0.1:8774"),
    N_("URL") },
  { "token", 't', 0, G_OPTION_ARG_STRING, &opt_token,
    N_("Token sent in X-Auth-Token (default: $NOVA_LXC_TOKEN)"),
    N_("TOKEN") },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
    N_("Print the API's JSON answer instead of a table"), NULL },
  { "flavor", 'f', 0, G_OPTION_ARG_STRING, &opt_flavor,
    N_("boot: the flavor (see flavor-list)"), N_("FLAVOR") },
  { "image", 'i', 0, G_OPTION_ARG_STRING, &opt_image,
    N_("boot: the image (see image-list)"), N_("IMAGE") },
  { "meta", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &opt_meta,
    N_("boot: a metadata item; rebuild: the same as --metadata; may be "
       "repeated"), N_("KEY=VALUE") },
  { "metadata", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_metadata,
    N_("image-create: a property of the new image; rebuild: a metadata "
       "item of the server, which then has these items only; may be "
       "repeated"), N_("KEY=VALUE") },
  { "wait", 'w', 0, G_OPTION_ARG_NONE, &opt_wait,
    N_("boot, rebuild: wait until the server is ACTIVE (or, rebuilt, "
       "SHUTOFF as it was) or ERROR; delete: until it is gone"), NULL },
  { "hard", 0, 0, G_OPTION_ARG_NONE, &opt_hard,
    N_("reboot: stop the server at once instead of asking its init"), NULL },
  { "length", 'n', 0, G_OPTION_ARG_CALLBACK, parse_length,
    N_("console-log: how many lines from the end (default: all)"),
    N_("LINES") },
  { "volume", 0, 0, G_OPTION_ARG_CALLBACK, parse_volume,
    N_("boot: attach a volume, at DEVICE (default: the next free one) and "
       "mounted at MOUNT_PATH (default: not mounted); may be repeated"),
    N_("ID[:DEVICE[:MOUNT_PATH]]") },
  { "boot-volume", 0, 0, G_OPTION_ARG_CALLBACK, parse_boot_volume,
    N_("boot: the volume holding the root filesystem; --image is then "
       "optional"), N_("ID") },
  { "fs", 0, 0, G_OPTION_ARG_CALLBACK, parse_fs,
    N_("volume-create: the filesystem, ext4 (default) or xfs"), N_("FS") },
  { "from-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_from_dir,
    N_("volume-create: fill the filesystem with the tree of this directory "
       "of the compute host (over the Unix socket only)"), N_("DIR") },
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name,
    N_("image-import: the image's name; rebuild: the server's new name"),
    N_("NAME") },
  { "property", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_properties,
    N_("image-import: an image property, e.g. os_shutdown_signal=SIGUSR2; "
       "may be repeated"), N_("KEY=VALUE") },
  { "device", 0, 0, G_OPTION_ARG_CALLBACK, parse_device,
    N_("volume-attach: the device in the server, /dev/vdb to /dev/vdz "
       "(default: the next free one)"), N_("DEVICE") },
  { "mount", 0, 0, G_OPTION_ARG_CALLBACK, parse_mount,
    N_("volume-attach: mount the volume's filesystem read-only at this path "
       "in the server (default: a bare device)"), N_("PATH") },
  { "key-name", 0, 0, G_OPTION_ARG_STRING, &opt_key_name,
    N_("boot, rebuild: the key pair whose public key the server gets (see "
       "keypair-list)"), N_("NAME") },
  { "user-data", 0, 0, G_OPTION_ARG_FILENAME, &opt_user_data,
    N_("boot, rebuild: a file of user data for the server (cloud-init "
       "reads it), sent base64-encoded; at most 49149 bytes"), N_("FILE") },
  { "hostname", 0, 0, G_OPTION_ARG_STRING, &opt_hostname,
    N_("boot: the server's host name (default: made from NAME)"),
    N_("HOSTNAME") },
  { "config-drive", 0, 0, G_OPTION_ARG_NONE, &opt_config_drive,
    N_("boot: give the server a config drive"), NULL },
  { "pub-key", 0, 0, G_OPTION_ARG_FILENAME, &opt_pub_key,
    N_("keypair-add: import this public key (e.g. ~/.ssh/id_ed25519.pub) "
       "instead of generating a key pair"), N_("FILE") },
  { NULL }
};

static const char summary[] = N_(
  "Commands:\n"
  "  boot NAME --flavor F --image I [--meta K=V ...] [--wait]\n"
  "       [--volume ID[:DEVICE[:MOUNT_PATH]] ...] [--boot-volume ID]\n"
  "       [--key-name KEY] [--user-data FILE] [--hostname HOSTNAME]\n"
  "       [--config-drive]\n"
  "                          create a server (--image is optional with\n"
  "                          --boot-volume)\n"
  "  list                    the servers\n"
  "  show SERVER             a server's details\n"
  "  delete [--wait] SERVER  remove a server\n"
  "  rebuild SERVER IMAGE [--name NAME] [--metadata K=V ...] [--wait]\n"
  "       [--key-name KEY] [--user-data FILE]\n"
  "                          give a server a new root from IMAGE, keeping\n"
  "                          its ID, address and volumes\n"
  "  reboot [--hard] SERVER\n"
  "  stop SERVER\n"
  "  start SERVER\n"
  "  pause SERVER\n"
  "  unpause SERVER\n"
  "  console-log [--length N] SERVER\n"
  "                          what the server printed on its console\n"
  "  console SERVER          an interactive console on the server (Ctrl+]\n"
  "                          leaves); from a pipe: send it, print the answer\n"
  "  flavor-list             the flavors servers can be booted with\n"
  "  image-list              the images servers can be booted from\n"
  "  image-import FILE --name NAME [--property K=V ...]\n"
  "                          import a root tarball or a raw or qcow2 disk\n"
  "                          image of this host (over the Unix socket only)\n"
  "  image-create SERVER NAME [--metadata K=V ...]\n"
  "                          snapshot a server's root into a new image\n"
  "  image-show IMAGE        an image's details\n"
  "  image-delete IMAGE      remove an imported image no server uses\n"
  "  hypervisor-stats        what this host has and uses\n"
  "  volume-create NAME SIZE [--fs ext4|xfs] [--from-dir DIR]\n"
  "                          create a volume of SIZE GiB, or e.g. 512M, 2G\n"
  "  volume-list             the volumes\n"
  "  volume-show VOLUME      a volume's details\n"
  "  volume-delete VOLUME    remove a volume that is not attached\n"
  "  volume-attach SERVER VOLUME [--device /dev/vdX] [--mount PATH]\n"
  "                          attach a volume, read-only\n"
  "  volume-detach SERVER VOLUME\n"
  "  volume-attachments SERVER\n"
  "                          the volumes attached to a server\n"
  "  keypair-add NAME [--pub-key FILE]\n"
  "                          import a public key, or generate a key pair\n"
  "                          and print its private key (shown only once)\n"
  "  keypair-list            your key pairs\n"
  "  keypair-show KEY        a key pair's details\n"
  "  keypair-delete KEY      remove a key pair (servers keep their copy)\n"
  "\n"
  "SERVER is a server's ID or, when no other server has it, its name.\n"
  "VOLUME is a volume's ID, which is its name.  KEY is a key pair's name.");

/* ---- the API client -------------------------------------------------- */

typedef struct {
  SoupSession *session;
  char *base_url;   /* ends before "/v2.1" */
  char *socket_path; /* NULL over TCP */
  char *token;
} NlxClient;

static void
nlx_client_free (NlxClient *client)
{
  g_clear_object (&client->session);
  g_free (client->base_url);
  g_free (client->socket_path);
  g_free (client->token);
  g_free (client);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxClient, nlx_client_free)

/* A URL as given, without the trailing slash and without "/v2.1", so
 * both http://host:8774 and Nova's usual endpoint http://host:8774/v2.1
 * work. */
static char *
normalize_base_url (const char *url)
{
  g_autofree char *base = g_strdup (url);
  gsize len = strlen (base);

  while (len > 0 && base[len - 1] == '/')
    base[--len] = '\0';
  if (g_str_has_suffix (base, "/v2.1"))
    base[len - strlen ("/v2.1")] = '\0';
  return g_steal_pointer (&base);
}

static NlxClient *
nlx_client_new (const char *socket_path,
                const char *url,
                const char *token)
{
  g_autoptr(NlxClient) client = g_new0 (NlxClient, 1);
  const char *user_agent = PACKAGE_NAME "/" PACKAGE_VERSION;

  if (url != NULL)
    {
      client->base_url = normalize_base_url (url);
      client->session = soup_session_new_with_options (
        "timeout", REQUEST_TIMEOUT_S, "user-agent", user_agent, NULL);
    }
  else
    {
      g_autoptr(GSocketAddress) address =
        g_unix_socket_address_new (socket_path);

      /* Over the socket the host part is ignored by the daemon. */
      client->base_url = g_strdup ("http://localhost");
      client->socket_path = g_strdup (socket_path);
      client->session = soup_session_new_with_options (
        "remote-connectable", address, "timeout", REQUEST_TIMEOUT_S,
        "user-agent", user_agent, NULL);
    }
  client->token = g_strdup (token);
  return g_steal_pointer (&client);
}

/* For the requests that are answered only once slow work is done. */
static void
nlx_client_set_timeout (NlxClient *client,
                        guint seconds)
{
  g_object_set (client->session, "timeout", seconds, NULL);
}

/* Sends one request; fails only when the API cannot be reached. */
static GBytes *
nlx_client_send (NlxClient *client,
                 const char *method,
                 const char *path,
                 JsonNode *body,
                 SoupMessage **message_out,
                 GError **error)
{
  g_autofree char *url = g_strconcat (client->base_url, "/v2.1", path, NULL);
  g_autoptr(SoupMessage) message = soup_message_new (method, url);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GBytes) reply = NULL;
  SoupMessageHeaders *headers;

  if (message == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_UNREACHABLE,
                   _("Cannot make a request for %s; check --url"), url);
      return NULL;
    }
  headers = soup_message_get_request_headers (message);
  soup_message_headers_append (headers, "Accept", "application/json");
  soup_message_headers_append (headers, "OpenStack-API-Version",
                               API_VERSION_HEADER);
  if (client->token != NULL)
    soup_message_headers_append (headers, "X-Auth-Token", client->token);
  if (body != NULL)
    {
      g_autofree char *text = json_to_string (body, FALSE);
      gsize len = strlen (text);
      g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&text),
                                                  len);

      soup_message_set_request_body_from_bytes (message, "application/json",
                                                bytes);
    }

  reply = soup_session_send_and_read (client->session, message, NULL,
                                      &local_error);
  if (reply == NULL)
    {
      if (client->socket_path != NULL)
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_UNREACHABLE,
                     _("Cannot reach nova-lxc-compute on the socket %s: %s. "
                       "Is nova-lxc-compute running? Check the socket path "
                       "(--socket or NOVA_LXC_SOCKET, the daemon's [api] "
                       "socket) and that you may open it."),
                     client->socket_path, local_error->message);
      else
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_UNREACHABLE,
                     _("Cannot reach nova-lxc-compute at %s: %s. "
                       "Is nova-lxc-compute running with [api] listen set, "
                       "and is --url right?"),
                     client->base_url, local_error->message);
      return NULL;
    }
  if (message_out != NULL)
    *message_out = g_steal_pointer (&message);
  return g_steal_pointer (&reply);
}

/* The message of a Nova fault body {"NAME": {"code": N, "message": S}},
 * or NULL. */
static const char *
fault_message (JsonNode *root)
{
  JsonObject *object;
  g_autoptr(GList) members = NULL;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  object = json_node_get_object (root);
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *fault = json_object_get_member (object, l->data);
      JsonNode *message;

      if (!JSON_NODE_HOLDS_OBJECT (fault))
        continue;
      message = json_object_get_member (json_node_get_object (fault),
                                        "message");
      if (message != NULL && JSON_NODE_HOLDS_VALUE (message) &&
          json_node_get_value_type (message) == G_TYPE_STRING)
        return json_node_get_string (message);
    }
  return NULL;
}

/* No body at all (204, 202) is a null node; anything else must be one
 * JSON value: json-glib gives no root for a blank body, and the callers
 * would dereference it. */
static JsonNode *
parse_json (GBytes *bytes,
            GError **error)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);

  if (len == 0)
    return json_node_new (JSON_NODE_NULL);
  return nlx_json_parse (data, len, error);
}

/**
 * nlx_client_call:
 * @body: (nullable): the request body
 *
 * Sends one request and returns the answer's JSON (a null node when the
 * answer has no body).  An error status becomes an error carrying the
 * API's fault message; 404 has its own code so callers can tell "gone".
 */
static JsonNode *
nlx_client_call (NlxClient *client,
                 const char *method,
                 const char *path,
                 JsonNode *body,
                 GError **error)
{
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) parse_error = NULL;
  guint status;

  reply = nlx_client_send (client, method, path, body, &message, error);
  if (reply == NULL)
    return NULL;
  status = soup_message_get_status (message);
  root = parse_json (reply, &parse_error);

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      const char *text = fault_message (root);
      int code = status == SOUP_STATUS_NOT_FOUND ? NLX_CLI_ERROR_NOT_FOUND
                                                 : NLX_CLI_ERROR_API;

      if (text != NULL && status == SOUP_STATUS_UNAUTHORIZED)
        g_set_error (error, NLX_CLI_ERROR, code,
                     _("%s (HTTP %u); give the token with --token or "
                       "NOVA_LXC_TOKEN"), text, status);
      else if (text != NULL)
        g_set_error (error, NLX_CLI_ERROR, code, _("%s (HTTP %u)"), text,
                     status);
      else
        g_set_error (error, NLX_CLI_ERROR, code,
                     _("nova-lxc-compute answered %s /v2.1%s with HTTP %u %s "
                       "and no fault message; see its log"),
                     method, path, status,
                     soup_message_get_reason_phrase (message));
      return NULL;
    }
  if (root == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("nova-lxc-compute answered %s /v2.1%s with something "
                     "that is not JSON (%s); is that address really "
                     "nova-lxc-compute?"),
                   method, path, parse_error->message);
      return NULL;
    }
  return g_steal_pointer (&root);
}

/* ---- reading answers ------------------------------------------------- */

/* Member NAME of ROOT, which must be of TYPE (the answers' fixed shapes). */
static JsonNode *
get_member (JsonNode *root,
            const char *name,
            JsonNodeType type,
            GError **error)
{
  JsonNode *member = NULL;

  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    member = json_object_get_member (json_node_get_object (root), name);
  if (member == NULL || JSON_NODE_TYPE (member) != type)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("The API's answer lacks “%s” or it has the wrong type; "
                     "is this nova-lxc-compute, and as new as this "
                     "program?"), name);
      return NULL;
    }
  return member;
}

/* Nova's power state names, as the nova client prints them. */
static char *
power_state_name (JsonNode *node)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return g_strdup ("-");
  switch (json_node_get_int (node))
    {
    case 0:
      return g_strdup (_("NOSTATE"));
    case 1:
      return g_strdup (_("Running"));
    case 3:
      return g_strdup (_("Paused"));
    case 4:
      return g_strdup (_("Shutdown"));
    case 6:
      return g_strdup (_("Crashed"));
    case 7:
      return g_strdup (_("Suspended"));
    default:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    }
}

/* How a value reads in a table: null as "-", scalars as themselves,
 * objects and arrays as compact JSON. */
static char *
display_value (JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_strdup ("-");
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      GType type = json_node_get_value_type (node);

      if (type == G_TYPE_STRING)
        return g_strdup (json_node_get_string (node));
      if (type == G_TYPE_INT64)
        return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
      if (type == G_TYPE_DOUBLE)
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          g_ascii_dtostr (buf, sizeof buf, json_node_get_double (node));
          /* 1.0 stays a float to the eye, as Python prints it. */
          if (strspn (buf, "-0123456789") == strlen (buf))
            return g_strconcat (buf, ".0", NULL);
          return g_strdup (buf);
        }
      if (type == G_TYPE_BOOLEAN)
        return g_strdup (json_node_get_boolean (node) ? "True" : "False");
    }
  return json_to_string (node, FALSE);
}

static char *
display_member (JsonObject *object,
                const char *name)
{
  return display_value (json_object_get_member (object, name));
}

/* ---- output ---------------------------------------------------------- */

/* Written as bytes: g_print would convert to the locale's charset and
 * mangle JSON and console logs in a C locale. */
static void
write_stdout (const char *text)
{
  fwrite (text, 1, strlen (text), stdout);
}

static void
print_json (JsonNode *root)
{
  g_autofree char *text = NULL;

  if (root == NULL || JSON_NODE_HOLDS_NULL (root))
    return;
  text = json_to_string (root, TRUE);
  write_stdout (text);
  write_stdout ("\n");
}

/* Columns a string takes on a terminal. */
static gsize
text_width (const char *text)
{
  gsize width = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iszerowidth (c))
        continue;
      width += g_unichar_iswide (c) ? 2 : 1;
    }
  return width;
}

static void
print_rule (GString *out,
            const gsize *widths,
            guint n_columns)
{
  g_string_append_c (out, '+');
  for (guint c = 0; c < n_columns; c++)
    {
      for (gsize i = 0; i < widths[c] + 2; i++)
        g_string_append_c (out, '-');
      g_string_append_c (out, '+');
    }
  g_string_append_c (out, '\n');
}

/* One row; a cell holding newlines takes several lines. */
static void
print_row (GString *out,
           const gsize *widths,
           guint n_columns,
           char **cells)
{
  g_autofree GStrv *lines = g_new0 (GStrv, n_columns);
  guint height = 1;

  for (guint c = 0; c < n_columns; c++)
    {
      lines[c] = g_strsplit (cells[c], "\n", -1);
      height = MAX (height, g_strv_length (lines[c]));
    }
  for (guint row = 0; row < height; row++)
    {
      g_string_append_c (out, '|');
      for (guint c = 0; c < n_columns; c++)
        {
          const char *line = row < g_strv_length (lines[c]) ? lines[c][row]
                                                            : "";

          g_string_append_printf (out, " %s%*s |", line,
                                  (int) (widths[c] - text_width (line)), "");
        }
      g_string_append_c (out, '\n');
    }
  for (guint c = 0; c < n_columns; c++)
    g_strfreev (lines[c]);
}

/**
 * print_table:
 * @headers: the column titles, NULL-terminated
 * @rows: (element-type GStrv): one array of cells per row
 *
 * Prints a boxed table with aligned columns, as the nova client does.
 */
static void
print_table (const char * const *headers,
             GPtrArray *rows)
{
  guint n_columns = g_strv_length ((GStrv) headers);
  g_autofree gsize *widths = g_new0 (gsize, n_columns);
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint c = 0; c < n_columns; c++)
    widths[c] = text_width (headers[c]);
  for (guint r = 0; r < rows->len; r++)
    {
      char **cells = g_ptr_array_index (rows, r);

      for (guint c = 0; c < n_columns; c++)
        {
          g_auto(GStrv) lines = g_strsplit (cells[c], "\n", -1);

          for (guint i = 0; lines[i] != NULL; i++)
            widths[c] = MAX (widths[c], text_width (lines[i]));
        }
    }

  print_rule (out, widths, n_columns);
  print_row (out, widths, n_columns, (GStrv) headers);
  print_rule (out, widths, n_columns);
  for (guint r = 0; r < rows->len; r++)
    print_row (out, widths, n_columns, g_ptr_array_index (rows, r));
  print_rule (out, widths, n_columns);
  write_stdout (out->str);
}

static GPtrArray *
rows_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (a, b);
}

/* An object as Property/Value rows, sorted by property, links left out. */
static void
print_properties (JsonObject *object)
{
  const char *headers[] = { _("Property"), _("Value"), NULL };
  g_autoptr(GPtrArray) rows = rows_new ();
  g_autoptr(GList) names = json_object_get_members (object);

  names = g_list_sort (names, compare_strings);
  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *value = json_object_get_member (object, name);
      char **row = g_new0 (char *, 3);

      if (g_str_equal (name, "links"))
        {
          g_free (row);
          continue;
        }
      row[0] = g_strdup (name);
      if (g_str_equal (name, "OS-EXT-STS:power_state"))
        row[1] = power_state_name (value);
      else if ((g_str_equal (name, "flavor") || g_str_equal (name, "image")) &&
               JSON_NODE_HOLDS_OBJECT (value) &&
               nlx_json_get_string (json_node_get_object (value), "id") != NULL)
        row[1] = g_strdup (nlx_json_get_string (json_node_get_object (value), "id"));
      else if (g_str_equal (name, "image") &&
               (JSON_NODE_HOLDS_OBJECT (value) ||
                (JSON_NODE_HOLDS_VALUE (value) &&
                 json_node_get_value_type (value) == G_TYPE_STRING &&
                 *json_node_get_string (value) == '\0')))
        /* Booted from a volume: Nova answers "", and an image without an
         * id means the same. */
        row[1] = g_strdup ("-");
      else
        row[1] = display_value (value);
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
}

/* One network's addresses in Nova's "addresses", joined by ", ". */
static char *
network_addresses (JsonNode *network)
{
  g_autoptr(GString) text = g_string_new (NULL);
  JsonArray *array;

  if (network == NULL || !JSON_NODE_HOLDS_ARRAY (network))
    return g_strdup ("-");
  array = json_node_get_array (network);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      const char *addr;

      if (!JSON_NODE_HOLDS_OBJECT (element) ||
          (addr = nlx_json_get_string (json_node_get_object (element), "addr")) == NULL)
        continue;
      if (text->len > 0)
        g_string_append (text, ", ");
      g_string_append (text, addr);
    }
  if (text->len == 0)
    return g_strdup ("-");
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* The server's "addresses" member as an object, or NULL. */
static JsonObject *
server_addresses (JsonObject *server)
{
  JsonNode *node = json_object_get_member (server, "addresses");

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

/* list's "Networks" cell, as the nova client has it:
 * "net=10.0.0.2, 10.0.0.3; net2=10.1.0.2". */
static char *
list_networks (JsonObject *server)
{
  JsonObject *addresses = server_addresses (server);
  g_autoptr(GList) names = NULL;
  g_autoptr(GString) text = g_string_new (NULL);

  if (addresses == NULL)
    return g_strdup ("-");
  names = g_list_sort (json_object_get_members (addresses), compare_strings);
  for (GList *l = names; l != NULL; l = l->next)
    {
      g_autofree char *list = network_addresses (
        json_object_get_member (addresses, l->data));

      if (text->len > 0)
        g_string_append (text, "; ");
      g_string_append_printf (text, "%s=%s", (const char *) l->data, list);
    }
  if (text->len == 0)
    return g_strdup ("-");
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* A server as Property/Value rows, with "addresses" shown as the nova
 * client does: a row "NETWORK network" per network, which sorts in with
 * the others.  The answer is ours to change. */
static void
print_server_properties (JsonObject *server)
{
  JsonObject *addresses = server_addresses (server);

  if (addresses != NULL)
    {
      g_autoptr(JsonObject) kept = json_object_ref (addresses);
      g_autoptr(GList) names = json_object_get_members (kept);

      json_object_remove_member (server, "addresses");
      for (GList *l = names; l != NULL; l = l->next)
        {
          /* Not translated: it reads as a property name, as in Nova. */
          g_autofree char *row = g_strdup_printf ("%s network",
                                                  (const char *) l->data);
          g_autofree char *list = network_addresses (
            json_object_get_member (kept, l->data));

          json_object_set_string_member (server, row, list);
        }
    }
  print_properties (server);
}

static void
print_server (JsonNode *root)
{
  if (opt_json)
    print_json (root);
  else
    print_server_properties (json_node_get_object (
      json_object_get_member (json_node_get_object (root), "server")));
}

/* Prints a plain message for people; scripts using --json get only JSON
 * on standard output. */
static void
print_note (const char *text)
{
  if (!opt_json)
    {
      write_stdout (text);
      write_stdout ("\n");
    }
}

/* ---- servers --------------------------------------------------------- */

static char *
server_path (const char *id,
             const char *suffix)
{
  g_autofree char *escaped = g_uri_escape_string (id, NULL, FALSE);

  return g_strconcat ("/servers/", escaped, suffix, NULL);
}

/* GET /servers/ID, checked to hold a server object. */
static JsonNode *
get_server (NlxClient *client,
            const char *id,
            GError **error)
{
  g_autofree char *path = server_path (id, "");
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL,
                                              error);

  if (root == NULL || get_member (root, "server", JSON_NODE_OBJECT,
                                  error) == NULL)
    return NULL;
  return g_steal_pointer (&root);
}

/* The id of the one server named NAME. */
static char *
find_server_by_name (NlxClient *client,
                     const char *name,
                     GError **error)
{
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", "/servers",
                                              NULL, error);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  JsonNode *servers;
  JsonArray *array;

  if (root == NULL)
    return NULL;
  servers = get_member (root, "servers", JSON_NODE_ARRAY, error);
  if (servers == NULL)
    return NULL;
  array = json_node_get_array (servers);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *server;
      const char *id;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      server = json_node_get_object (node);
      id = nlx_json_get_string (server, "id");
      if (id != NULL && g_strcmp0 (nlx_json_get_string (server, "name"), name) == 0)
        g_ptr_array_add (ids, (gpointer) id);
    }

  if (ids->len == 0)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_NOT_FOUND,
                   _("No server named “%s” (HTTP 404)"), name);
      return NULL;
    }
  if (ids->len > 1)
    {
      g_autofree char *list = NULL;

      g_ptr_array_add (ids, NULL);
      list = g_strjoinv (", ", (GStrv) ids->pdata);
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_AMBIGUOUS,
                   _("More than one server is named “%s”; name the one you "
                     "mean by its ID: %s"), name, list);
      return NULL;
    }
  return g_strdup (g_ptr_array_index (ids, 0));
}

/**
 * resolve_server:
 * @ref: a server's id or name, as the user gave it
 * @server_out: (out) (optional) (nullable): the server's GET answer when
 *   it was fetched on the way
 *
 * A uuid is looked up as an id first; a name, or a uuid no server has as
 * id, is matched against the names of all servers.
 *
 * Returns: the server's id
 */
static char *
resolve_server (NlxClient *client,
                const char *ref,
                JsonNode **server_out,
                GError **error)
{
  g_autoptr(GError) by_id_error = NULL;
  g_autoptr(GError) by_name_error = NULL;
  char *id;

  if (g_uuid_string_is_valid (ref))
    {
      g_autofree char *lower = g_ascii_strdown (ref, -1);
      g_autoptr(JsonNode) root = get_server (client, lower, &by_id_error);

      if (root != NULL)
        {
          if (server_out != NULL)
            *server_out = g_steal_pointer (&root);
          return g_steal_pointer (&lower);
        }
      if (!g_error_matches (by_id_error, NLX_CLI_ERROR,
                            NLX_CLI_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&by_id_error));
          return NULL;
        }
    }

  id = find_server_by_name (client, ref, &by_name_error);
  if (id == NULL)
    {
      /* For a uuid, the API's own "not found" says it best. */
      if (by_id_error != NULL &&
          g_error_matches (by_name_error, NLX_CLI_ERROR,
                           NLX_CLI_ERROR_NOT_FOUND))
        g_propagate_error (error, g_steal_pointer (&by_id_error));
      else
        g_propagate_error (error, g_steal_pointer (&by_name_error));
      return NULL;
    }
  return id;
}

/* Reports on standard error how the server stands, when it changed. */
static void
report_progress (const char *label,
                 JsonObject *server,
                 char **last)
{
  const char *task = nlx_json_get_string (server, "OS-EXT-STS:task_state");
  g_autofree char *status = display_member (server, "status");
  g_autofree char *power = power_state_name (
    json_object_get_member (server, "OS-EXT-STS:power_state"));
  g_autofree char *line = g_strdup_printf (
    _("Server %s: status %s, task state %s, power state %s"),
    label, status, task ? task : "-", power);

  if (g_strcmp0 (line, *last) != 0)
    {
      g_printerr ("nova-lxc: %s\n", line);
      g_free (*last);
      *last = g_steal_pointer (&line);
    }
}

/* Polls while the server's string MEMBER is VALUE, such as status BUILD;
 * returns its last GET answer. */
static JsonNode *
wait_while (NlxClient *client,
            const char *id,
            const char *label,
            const char *member,
            const char *value,
            GError **error)
{
  g_autofree char *last = NULL;

  for (;;)
    {
      g_autoptr(JsonNode) root = get_server (client, id, error);
      JsonObject *server;

      if (root == NULL)
        return NULL;
      server = json_node_get_object (
        json_object_get_member (json_node_get_object (root), "server"));
      report_progress (label, server, &last);
      if (g_strcmp0 (nlx_json_get_string (server, member), value) != 0)
        return g_steal_pointer (&root);
      g_usleep (POLL_INTERVAL_US);
    }
}

/* Polls until the server is gone; fails when it stops being deleted. */
static gboolean
wait_for_deletion (NlxClient *client,
                   const char *id,
                   const char *label,
                   GError **error)
{
  g_autofree char *last = NULL;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(JsonNode) root = get_server (client, id, &local_error);
      JsonObject *server;
      JsonNode *fault;
      const char *message = NULL;

      if (root == NULL)
        {
          if (g_error_matches (local_error, NLX_CLI_ERROR,
                               NLX_CLI_ERROR_NOT_FOUND))
            return TRUE;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      server = json_node_get_object (
        json_object_get_member (json_node_get_object (root), "server"));
      report_progress (label, server, &last);
      if (g_strcmp0 (nlx_json_get_string (server, "OS-EXT-STS:task_state"),
                     "deleting") == 0)
        {
          g_usleep (POLL_INTERVAL_US);
          continue;
        }

      /* The API keeps "deleting" until the server is gone, so a server
       * still there without it was not deleted. */
      fault = json_object_get_member (server, "fault");
      if (fault != NULL && JSON_NODE_HOLDS_OBJECT (fault))
        message = nlx_json_get_string (json_node_get_object (fault), "message");
      if (message != NULL)
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                     _("Deleting server %s failed: %s"), label, message);
      else
        g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                     _("Server %s is still there (status %s) but no longer "
                       "being deleted; see the nova-lxc-compute log"),
                     label, nlx_json_get_string (server, "status"));
      return FALSE;
    }
}

/* Fails when a server waited for went into ERROR, with its fault. */
static gboolean
check_not_error (JsonObject *server,
                 const char *label,
                 const char *id,
                 GError **error)
{
  JsonNode *fault;
  const char *message = NULL;

  if (g_strcmp0 (nlx_json_get_string (server, "status"), "ERROR") != 0)
    return TRUE;
  fault = json_object_get_member (server, "fault");
  if (fault != NULL && JSON_NODE_HOLDS_OBJECT (fault))
    message = nlx_json_get_string (json_node_get_object (fault), "message");
  if (message != NULL)
    g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                 _("Server %s (%s) went into ERROR: %s"), label, id,
                 message);
  else
    g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                 _("Server %s (%s) went into ERROR with no fault "
                   "message; see the nova-lxc-compute log"), label, id);
  return FALSE;
}

/* ---- volumes --------------------------------------------------------- */

static char *
volume_path (const char *volume_id)
{
  g_autofree char *escaped = g_uri_escape_string (volume_id, NULL, FALSE);

  return g_strconcat ("/os-volumes/", escaped, NULL);
}

static char *
attachment_path (const char *server_id,
                 const char *volume_id)
{
  g_autofree char *escaped = g_uri_escape_string (volume_id, NULL, FALSE);
  g_autofree char *suffix = g_strconcat ("/os-volume_attachments/", escaped,
                                         NULL);

  return server_path (server_id, suffix);
}

/* A size for people, in the largest binary unit it fills: 16 MiB,
 * 1.5 GiB. */
static char *
format_size (guint64 bytes)
{
  static const char * const units[] = {
    "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
  };
  guint64 scale = 1;
  guint unit = 0;

  while (unit + 1 < G_N_ELEMENTS (units) && bytes / 1024 >= scale)
    {
      scale *= 1024;
      unit++;
    }
  if (bytes % scale == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " %s", bytes / scale,
                            units[unit]);
  return g_strdup_printf ("%.1f %s", (double) bytes / (double) scale,
                          units[unit]);
}

static char *
volume_size (JsonObject *volume)
{
  JsonNode *bytes = json_object_get_member (volume, "size_bytes");
  JsonNode *gib = json_object_get_member (volume, "size");

  if (bytes != NULL && JSON_NODE_HOLDS_VALUE (bytes) &&
      json_node_get_value_type (bytes) == G_TYPE_INT64 &&
      json_node_get_int (bytes) >= 0)
    return format_size ((guint64) json_node_get_int (bytes));
  /* Nova's own field, rounded up to GiB. */
  if (gib != NULL && JSON_NODE_HOLDS_VALUE (gib) &&
      json_node_get_value_type (gib) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT " GiB",
                            json_node_get_int (gib));
  return g_strdup ("-");
}

/* The "Attached to" cell: one line per attachment, "SERVER on DEVICE". */
static char *
volume_attached_to (JsonObject *volume)
{
  JsonNode *node = json_object_get_member (volume, "attachments");
  g_autoptr(GString) text = g_string_new (NULL);
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return g_strdup ("-");
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      g_autofree char *server = NULL;
      g_autofree char *device = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      server = display_member (json_node_get_object (element), "serverId");
      device = display_member (json_node_get_object (element), "device");
      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append_printf (text, _("%s on %s"), server, device);
    }
  if (text->len == 0)
    return g_strdup ("-");
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* The member MEMBER of ROOT, an object as the API promises. */
static JsonObject *
get_object (JsonNode *root,
            const char *member,
            GError **error)
{
  JsonNode *node = get_member (root, member, JSON_NODE_OBJECT, error);

  return node != NULL ? json_node_get_object (node) : NULL;
}

static gboolean
print_volume_answer (JsonNode *root,
                     GError **error)
{
  JsonObject *volume = get_object (root, "volume", error);

  if (volume == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  else
    print_properties (volume);
  return TRUE;
}

/* One line of show's "volumes" row: "data /dev/vdb at /data". */
static char *
describe_attachment (const char *volume_id,
                     JsonObject *attachment)
{
  const char *device = attachment ? nlx_json_get_string (attachment, "device") : NULL;
  const char *mount_path = attachment ? nlx_json_get_string (attachment, "mount_path")
                                      : NULL;

  if (device != NULL && mount_path != NULL)
    return g_strdup_printf (_("%s %s at %s"), volume_id, device, mount_path);
  if (device != NULL)
    return g_strdup_printf ("%s %s", volume_id, device);
  return g_strdup (volume_id);
}

/**
 * describe_server_volumes:
 * @server: the server's GET answer's "server"
 * @row_out: (out) (nullable): the "volumes" row of show, one line per
 *   volume; NULL when the answer says nothing of volumes
 *
 * The server's answer lists only the volumes' ids, so their devices and
 * mount paths take one more request, made only when there is a volume.
 */
static gboolean
describe_server_volumes (NlxClient *client,
                         const char *id,
                         JsonObject *server,
                         char **row_out,
                         GError **error)
{
  JsonNode *attached = json_object_get_member (
    server, "os-extended-volumes:volumes_attached");
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *path = NULL;
  JsonArray *ids;
  JsonArray *attachments = NULL;

  *row_out = NULL;
  if (attached == NULL || !JSON_NODE_HOLDS_ARRAY (attached))
    return TRUE;
  ids = json_node_get_array (attached);
  if (json_array_get_length (ids) == 0)
    {
      *row_out = g_strdup ("-");
      return TRUE;
    }

  path = server_path (id, "/os-volume_attachments");
  root = nlx_client_call (client, "GET", path, NULL, &local_error);
  if (root != NULL)
    {
      JsonNode *node = get_member (root, "volumeAttachments", JSON_NODE_ARRAY,
                                   error);

      if (node == NULL)
        return FALSE;
      attachments = json_node_get_array (node);
    }
  else if (!g_error_matches (local_error, NLX_CLI_ERROR,
                             NLX_CLI_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  /* Else the server went meanwhile: its ids are still worth showing. */

  for (guint i = 0; i < json_array_get_length (ids); i++)
    {
      JsonNode *element = json_array_get_element (ids, i);
      JsonObject *attachment = NULL;
      g_autofree char *line = NULL;
      const char *volume_id;

      if (!JSON_NODE_HOLDS_OBJECT (element) ||
          (volume_id = nlx_json_get_string (json_node_get_object (element),
                                   "id")) == NULL)
        continue;
      for (guint j = 0; attachments != NULL &&
           j < json_array_get_length (attachments); j++)
        {
          JsonNode *candidate = json_array_get_element (attachments, j);

          if (JSON_NODE_HOLDS_OBJECT (candidate) &&
              g_strcmp0 (nlx_json_get_string (json_node_get_object (candidate),
                                     "volumeId"), volume_id) == 0)
            attachment = json_node_get_object (candidate);
        }
      line = describe_attachment (volume_id, attachment);
      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append (text, line);
    }
  *row_out = text->len > 0 ? g_string_free (g_steal_pointer (&text), FALSE)
                           : g_strdup ("-");
  return TRUE;
}

/* ---- commands -------------------------------------------------------- */

/* The KEY=VALUE items of --meta or --metadata, checked by check_meta, as
 * members of the object being built. */
static void
add_key_values (JsonBuilder *builder,
                char **items)
{
  for (guint i = 0; items != NULL && items[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (items[i], "=", 2);

      json_builder_set_member_name (builder, kv[0]);
      json_builder_add_string_value (builder, kv[1]);
    }
}

/* Nova's block_device_mapping_v2 for --boot-volume and --volume. */
static void
add_block_devices (JsonBuilder *builder)
{
  json_builder_set_member_name (builder, "block_device_mapping_v2");
  json_builder_begin_array (builder);
  if (opt_boot_volume != NULL)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "boot_index");
      json_builder_add_int_value (builder, 0);
      json_builder_set_member_name (builder, "uuid");
      json_builder_add_string_value (builder, opt_boot_volume);
      json_builder_set_member_name (builder, "source_type");
      json_builder_add_string_value (builder, "volume");
      json_builder_set_member_name (builder, "destination_type");
      json_builder_add_string_value (builder, "volume");
      json_builder_end_object (builder);
    }
  for (guint i = 0; opt_volumes != NULL && i < opt_volumes->len; i++)
    {
      const NlxCliVolume *volume = g_ptr_array_index (opt_volumes, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "uuid");
      json_builder_add_string_value (builder, volume->volume_id);
      json_builder_set_member_name (builder, "source_type");
      json_builder_add_string_value (builder, "volume");
      json_builder_set_member_name (builder, "destination_type");
      json_builder_add_string_value (builder, "volume");
      if (volume->device != NULL)
        {
          json_builder_set_member_name (builder, "device_name");
          json_builder_add_string_value (builder, volume->device);
        }
      if (volume->mount_path != NULL)
        {
          json_builder_set_member_name (builder, "mount_path");
          json_builder_add_string_value (builder, volume->mount_path);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

/* --key-name and --user-data, which boot and rebuild share. */
static void
add_boot_config (JsonBuilder *builder)
{
  if (opt_key_name != NULL)
    {
      json_builder_set_member_name (builder, "key_name");
      json_builder_add_string_value (builder, opt_key_name);
    }
  if (arg_user_data != NULL)
    {
      json_builder_set_member_name (builder, "user_data");
      json_builder_add_string_value (builder, arg_user_data);
    }
}

static gboolean
cmd_boot (NlxClient *client,
          char **args,
          GError **error)
{
  const char *name = args[0];
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonNode *id_node;
  const char *id;
  JsonObject *server;
  const char *status;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "server");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "flavorRef");
  json_builder_add_string_value (builder, opt_flavor);
  if (opt_image != NULL)
    {
      json_builder_set_member_name (builder, "imageRef");
      json_builder_add_string_value (builder, opt_image);
    }
  if (opt_boot_volume != NULL || opt_volumes != NULL)
    add_block_devices (builder);
  if (opt_meta != NULL)
    {
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      add_key_values (builder, opt_meta);
      json_builder_end_object (builder);
    }
  add_boot_config (builder);
  if (opt_hostname != NULL)
    {
      json_builder_set_member_name (builder, "hostname");
      json_builder_add_string_value (builder, opt_hostname);
    }
  if (opt_config_drive)
    {
      json_builder_set_member_name (builder, "config_drive");
      json_builder_add_boolean_value (builder, TRUE);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  created = nlx_client_call (client, "POST", "/servers", body, error);
  if (created == NULL)
    return FALSE;
  id_node = get_member (created, "server", JSON_NODE_OBJECT, error);
  if (id_node == NULL)
    return FALSE;
  id = nlx_json_get_string (json_node_get_object (id_node), "id");
  if (id == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("The API's answer lacks “%s” or it has the wrong type; "
                     "is this nova-lxc-compute, and as new as this "
                     "program?"), "server.id");
      return FALSE;
    }

  root = opt_wait ? wait_while (client, id, name, "status", "BUILD", error)
                  : get_server (client, id, error);
  if (root == NULL)
    return FALSE;
  /* Printed even on ERROR: the caller needs the id to clean up. */
  print_server (root);
  if (!opt_wait)
    return TRUE;

  server = json_node_get_object (
    json_object_get_member (json_node_get_object (root), "server"));
  if (!check_not_error (server, name, id, error))
    return FALSE;
  status = nlx_json_get_string (server, "status");
  if (g_strcmp0 (status, "ACTIVE") != 0)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Server %s (%s) ended in status %s instead of ACTIVE"),
                   name, id, status ? status : "-");
      return FALSE;
    }
  return TRUE;
}

static gboolean
cmd_list (NlxClient *client,
          char **args,
          GError **error)
{
  const char *headers[] = {
    _("ID"), _("Name"), _("Status"), _("Task State"), _("Power State"),
    _("Networks"), NULL
  };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/servers/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = rows_new ();
  JsonNode *servers;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  servers = get_member (root, "servers", JSON_NODE_ARRAY, error);
  if (servers == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  array = json_node_get_array (servers);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *server;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      server = json_node_get_object (node);
      row = g_new0 (char *, 7);
      row[0] = display_member (server, "id");
      row[1] = display_member (server, "name");
      row[2] = display_member (server, "status");
      row[3] = display_member (server, "OS-EXT-STS:task_state");
      row[4] = power_state_name (json_object_get_member (
        server, "OS-EXT-STS:power_state"));
      row[5] = list_networks (server);
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
  return TRUE;
}

static gboolean
cmd_show (NlxClient *client,
          char **args,
          GError **error)
{
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *id = resolve_server (client, args[0], &root, error);
  g_autofree char *volumes = NULL;
  JsonObject *server;

  if (id == NULL)
    return FALSE;
  if (root == NULL)
    root = get_server (client, id, error);
  if (root == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  server = json_node_get_object (
    json_object_get_member (json_node_get_object (root), "server"));
  if (!describe_server_volumes (client, id, server, &volumes, error))
    return FALSE;
  /* The answer is ours to change; the row sorts in with the others. */
  if (volumes != NULL)
    json_object_set_string_member (server, "volumes", volumes);
  print_server_properties (server);
  return TRUE;
}

static gboolean
cmd_delete (NlxClient *client,
            char **args,
            GError **error)
{
  const char *label = args[0];
  g_autofree char *id = resolve_server (client, label, NULL, error);
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *note = NULL;

  if (id == NULL)
    return FALSE;
  path = server_path (id, "");
  root = nlx_client_call (client, "DELETE", path, NULL, error);
  if (root == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  note = g_strdup_printf (_("Request to delete server %s has been "
                            "accepted."), label);
  print_note (note);
  if (!opt_wait)
    return TRUE;
  if (!wait_for_deletion (client, id, label, error))
    return FALSE;
  g_clear_pointer (&note, g_free);
  note = g_strdup_printf (_("Server %s has been deleted."), label);
  print_note (note);
  return TRUE;
}

/* POSTs an action to the server with the id ID; returns the answer. */
static JsonNode *
post_action (NlxClient *client,
             const char *id,
             JsonNode *body,
             GError **error)
{
  g_autofree char *path = server_path (id, "/action");

  return nlx_client_call (client, "POST", path, body, error);
}

/* POSTs an action, answered 202 with no body, to the server REF names. */
static gboolean
run_action (NlxClient *client,
            const char *ref,
            JsonNode *body,
            GError **error)
{
  g_autofree char *id = resolve_server (client, ref, NULL, error);
  g_autoptr(JsonNode) root = NULL;

  if (id == NULL)
    return FALSE;
  root = post_action (client, id, body, error);
  if (root == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  return TRUE;
}

/* {"ACTION": null} */
static JsonNode *
action_body (const char *action)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, action);
  json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static gboolean
cmd_reboot (NlxClient *client,
            char **args,
            GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *note = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "reboot");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, opt_hard ? "HARD" : "SOFT");
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  if (!run_action (client, args[0], body, error))
    return FALSE;
  if (opt_hard)
    note = g_strdup_printf (_("Request to hard-reboot server %s has been "
                              "accepted."), args[0]);
  else
    note = g_strdup_printf (_("Request to reboot server %s has been "
                              "accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_stop (NlxClient *client,
          char **args,
          GError **error)
{
  g_autoptr(JsonNode) body = action_body ("os-stop");

  g_autofree char *note = NULL;

  if (!run_action (client, args[0], body, error))
    return FALSE;
  note = g_strdup_printf (_("Request to stop server %s has been accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_start (NlxClient *client,
           char **args,
           GError **error)
{
  g_autoptr(JsonNode) body = action_body ("os-start");

  g_autofree char *note = NULL;

  if (!run_action (client, args[0], body, error))
    return FALSE;
  note = g_strdup_printf (_("Request to start server %s has been accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_pause (NlxClient *client,
           char **args,
           GError **error)
{
  g_autoptr(JsonNode) body = action_body ("pause");

  g_autofree char *note = NULL;

  if (!run_action (client, args[0], body, error))
    return FALSE;
  note = g_strdup_printf (_("Request to pause server %s has been accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_unpause (NlxClient *client,
             char **args,
             GError **error)
{
  g_autoptr(JsonNode) body = action_body ("unpause");

  g_autofree char *note = NULL;

  if (!run_action (client, args[0], body, error))
    return FALSE;
  note = g_strdup_printf (_("Request to unpause server %s has been accepted."), args[0]);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_rebuild (NlxClient *client,
             char **args,
             GError **error)
{
  const char *label = args[0];
  g_autofree char *id = resolve_server (client, label, NULL, error);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *server;
  const char *status;

  if (id == NULL)
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rebuild");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "imageRef");
  json_builder_add_string_value (builder, args[1]);
  if (opt_name != NULL)
    {
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, opt_name);
    }
  /* As in Nova, given metadata replaces the server's; none keeps it. */
  if (opt_meta != NULL || opt_metadata != NULL)
    {
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      add_key_values (builder, opt_meta);
      add_key_values (builder, opt_metadata);
      json_builder_end_object (builder);
    }
  add_boot_config (builder);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  root = post_action (client, id, body, error);
  if (root == NULL ||
      get_member (root, "server", JSON_NODE_OBJECT, error) == NULL)
    return FALSE;
  if (opt_wait)
    {
      g_clear_pointer (&root, json_node_unref);
      root = wait_while (client, id, label, "OS-EXT-STS:task_state",
                         "rebuilding", error);
      if (root == NULL)
        return FALSE;
    }
  /* Printed even on ERROR, as boot does. */
  print_server (root);
  if (!opt_wait)
    return TRUE;

  server = json_node_get_object (
    json_object_get_member (json_node_get_object (root), "server"));
  if (!check_not_error (server, label, id, error))
    return FALSE;
  status = nlx_json_get_string (server, "status");
  if (g_strcmp0 (status, "ACTIVE") != 0 && g_strcmp0 (status, "SHUTOFF") != 0)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Server %s (%s) ended in status %s instead of ACTIVE "
                     "or SHUTOFF"), label, id, status ? status : "-");
      return FALSE;
    }
  return TRUE;
}

static gboolean
cmd_console_log (NlxClient *client,
                 char **args,
                 GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *id = NULL;
  g_autofree char *path = NULL;
  JsonNode *output;

  id = resolve_server (client, args[0], NULL, error);
  if (id == NULL)
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "os-getConsoleOutput");
  json_builder_begin_object (builder);
  if (opt_length_set)
    {
      json_builder_set_member_name (builder, "length");
      json_builder_add_int_value (builder, (gint64) opt_length);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  path = server_path (id, "/action");
  root = nlx_client_call (client, "POST", path, body, error);
  if (root == NULL)
    return FALSE;
  output = get_member (root, "output", JSON_NODE_VALUE, error);
  if (output == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  else if (json_node_get_string (output) != NULL)
    {
      /* The daemon neutralised it already; an older or foreign one may
       * not have, and the terminal is ours.  No newline added. */
      g_autofree char *text =
        nlx_console_text_for_display (json_node_get_string (output), -1);

      write_stdout (text);
    }
  return TRUE;
}

/* ---- console ------------------------------------------------------------ */

/* Ctrl+], as virsh console and telnet leave. */
#define CONSOLE_ESCAPE 0x1d
/* With input from a pipe: how long the console must stay quiet after the
 * input's end before the command ends, so the answer to the last line is
 * printed. */
#define CONSOLE_LINGER_MS 1000

typedef struct {
  GMainLoop *loop;
  SoupWebsocketConnection *ws;
  GError *error;
  gboolean interactive;         /* stdin is a terminal, in raw mode */
  gboolean input_done;
  guint stdin_source;
  guint linger_source;
  gboolean closed_by_server;
} NlxConsole;

/* The terminal as it was, restored on every way out. */
static struct termios saved_termios;
static gboolean termios_saved;

static void
restore_terminal (void)
{
  if (termios_saved)
    {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved_termios);
      termios_saved = FALSE;
    }
}

static gboolean
make_terminal_raw (GError **error)
{
  struct termios raw;

  if (tcgetattr (STDIN_FILENO, &saved_termios) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Cannot read the terminal's settings: %s"),
                   g_strerror (saved_errno));
      return FALSE;
    }
  raw = saved_termios;
  /* Every key goes to the server, Ctrl+C included: its shell decides. */
  cfmakeraw (&raw);
  termios_saved = TRUE;
  if (tcsetattr (STDIN_FILENO, TCSAFLUSH, &raw) != 0)
    {
      int saved_errno = errno;

      restore_terminal ();
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Cannot put the terminal in raw mode: %s"),
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static void
write_all (int fd,
           const char *data,
           gsize length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      data += n;
      length -= n;
    }
}

static void
console_quit (NlxConsole *console)
{
  g_main_loop_quit (console->loop);
}

static gboolean
console_linger_done (gpointer data)
{
  NlxConsole *console = data;

  console->linger_source = 0;
  console_quit (console);
  return G_SOURCE_REMOVE;
}

/* After piped input ended: wait for the console to go quiet. */
static void
console_linger (NlxConsole *console)
{
  if (console->linger_source != 0)
    g_source_remove (console->linger_source);
  console->linger_source = g_timeout_add (CONSOLE_LINGER_MS,
                                          console_linger_done, console);
}

static void
console_message (SoupWebsocketConnection *ws,
                 gint type,
                 GBytes *message,
                 gpointer data)
{
  NlxConsole *console = data;
  gsize length;
  const char *bytes = g_bytes_get_data (message, &length);

  write_all (STDOUT_FILENO, bytes, length);
  if (console->input_done)
    console_linger (console);
}

static void
console_closed (SoupWebsocketConnection *ws,
                gpointer data)
{
  NlxConsole *console = data;

  console->closed_by_server = TRUE;
  console_quit (console);
}

static gboolean
console_stdin (int fd,
               GIOCondition condition,
               gpointer data)
{
  NlxConsole *console = data;
  char buffer[4096];
  ssize_t n = read (fd, buffer, sizeof buffer);
  const char *escape;

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      console->stdin_source = 0;
      console->input_done = TRUE;
      if (console->interactive)
        console_quit (console);
      else
        console_linger (console);
      return G_SOURCE_REMOVE;
    }
  escape = console->interactive ? memchr (buffer, CONSOLE_ESCAPE, n) : NULL;
  if (escape != NULL)
    n = escape - buffer;
  if (n > 0)
    soup_websocket_connection_send_binary (console->ws, buffer, n);
  if (escape != NULL)
    {
      console->stdin_source = 0;
      console_quit (console);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
console_signal (gpointer data)
{
  console_quit (data);
  return G_SOURCE_CONTINUE;
}

typedef struct {
  GMainLoop *loop;
  SoupWebsocketConnection *ws;
  GError *error;
} ConsoleConnect;

static void
console_connected (GObject *source,
                   GAsyncResult *result,
                   gpointer data)
{
  ConsoleConnect *connect = data;

  connect->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
                                                       result, &connect->error);
  g_main_loop_quit (connect->loop);
}

/* Asks for a console URL and opens it, over the same socket or host the
 * API was reached on. */
static SoupWebsocketConnection *
console_open (NlxClient *client,
              const char *id,
              GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(SoupMessage) message = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *path = server_path (id, "/remote-consoles");
  ConsoleConnect connect = { 0 };
  JsonObject *console;
  const char *url;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "remote_console");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "protocol");
  json_builder_add_string_value (builder, "serial");
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "serial");
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  root = nlx_client_call (client, "POST", path, body, error);
  if (root == NULL || (console = get_object (root, "remote_console", error)) == NULL)
    return NULL;
  url = json_object_get_string_member_with_default (console, "url", NULL);
  if (url == NULL || (message = soup_message_new ("GET", url)) == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("The compute service answered no usable console URL"));
      return NULL;
    }
  /* The session's I/O timeout would end a console left idle. */
  nlx_client_set_timeout (client, 0);
  loop = g_main_loop_new (NULL, FALSE);
  connect.loop = loop;
  soup_session_websocket_connect_async (client->session, message, NULL, NULL,
                                        G_PRIORITY_DEFAULT, NULL,
                                        console_connected, &connect);
  g_main_loop_run (loop);
  if (connect.ws == NULL)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_FAILED,
                   _("Cannot open the console of server %s: %s (HTTP %u)"),
                   id, connect.error->message,
                   soup_message_get_status (message));
      g_clear_error (&connect.error);
      return NULL;
    }
  return connect.ws;
}

static gboolean
cmd_console (NlxClient *client,
             char **args,
             GError **error)
{
  g_autofree char *id = resolve_server (client, args[0], NULL, error);
  g_autoptr(GMainLoop) loop = NULL;
  NlxConsole console = { 0 };
  guint signals[3];
  const int signal_numbers[] = { SIGINT, SIGTERM, SIGHUP };

  if (id == NULL)
    return FALSE;
  console.ws = console_open (client, id, error);
  if (console.ws == NULL)
    return FALSE;
  loop = g_main_loop_new (NULL, FALSE);
  console.loop = loop;
  console.interactive = isatty (STDIN_FILENO);
  if (console.interactive && !make_terminal_raw (error))
    {
      soup_websocket_connection_close (console.ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
                                       NULL);
      g_object_unref (console.ws);
      return FALSE;
    }
  if (console.interactive)
    {
      /* In raw mode a newline does not return the carriage. */
      g_autofree char *note =
        g_strdup_printf (_("Connected to server %s (escape character is ^])"),
                         args[0]);

      fprintf (stderr, "%s\r\n", note);
    }
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    signals[i] = g_unix_signal_add (signal_numbers[i], console_signal, &console);
  g_signal_connect (console.ws, "message", G_CALLBACK (console_message), &console);
  g_signal_connect (console.ws, "closed", G_CALLBACK (console_closed), &console);
  console.stdin_source = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                        console_stdin, &console);

  g_main_loop_run (loop);

  restore_terminal ();
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    g_source_remove (signals[i]);
  if (console.stdin_source != 0)
    g_source_remove (console.stdin_source);
  if (console.linger_source != 0)
    g_source_remove (console.linger_source);
  g_signal_handlers_disconnect_by_data (console.ws, &console);
  if (console.closed_by_server && console.interactive)
    fprintf (stderr, "\n%s\n", _("The console was closed by the server."));
  else if (console.interactive)
    fputc ('\n', stderr);
  if (soup_websocket_connection_get_state (console.ws) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      /* A clean close, so the daemon detaches at once. */
      soup_websocket_connection_close (console.ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
                                       NULL);
      for (guint i = 0; i < 50 && soup_websocket_connection_get_state (console.ws) !=
                                  SOUP_WEBSOCKET_STATE_CLOSED; i++)
        g_main_context_iteration (NULL, TRUE);
    }
  g_object_unref (console.ws);
  return TRUE;
}

static gboolean
cmd_flavor_list (NlxClient *client,
                 char **args,
                 GError **error)
{
  const char *headers[] = {
    _("ID"), _("Name"), _("Memory_MB"), _("Disk"), _("Ephemeral"),
    _("Swap"), _("VCPUs"), _("RXTX_Factor"), _("Is_Public"), NULL
  };
  static const char * const members[] = {
    "id", "name", "ram", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap",
    "vcpus", "rxtx_factor", "os-flavor-access:is_public"
  };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/flavors/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = rows_new ();
  JsonNode *flavors;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  flavors = get_member (root, "flavors", JSON_NODE_ARRAY, error);
  if (flavors == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  array = json_node_get_array (flavors);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      row = g_new0 (char *, G_N_ELEMENTS (members) + 1);
      for (guint c = 0; c < G_N_ELEMENTS (members); c++)
        row[c] = display_member (json_node_get_object (node), members[c]);
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
  return TRUE;
}

static gboolean
cmd_image_list (NlxClient *client,
                char **args,
                GError **error)
{
  const char *headers[] = { _("ID"), _("Name"), _("Status"), NULL };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/images/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = rows_new ();
  JsonNode *images;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  images = get_member (root, "images", JSON_NODE_ARRAY, error);
  if (images == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  array = json_node_get_array (images);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *image;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      image = json_node_get_object (node);
      row = g_new0 (char *, 4);
      row[0] = display_member (image, "id");
      row[1] = display_member (image, "name");
      row[2] = display_member (image, "status");
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
  return TRUE;
}

static gboolean
cmd_hypervisor_stats (NlxClient *client,
                      char **args,
                      GError **error)
{
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/os-hypervisors/statistics",
                                              NULL, error);
  JsonNode *stats;

  if (root == NULL)
    return FALSE;
  stats = get_member (root, "hypervisor_statistics", JSON_NODE_OBJECT,
                      error);
  if (stats == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  else
    print_properties (json_node_get_object (stats));
  return TRUE;
}

static gboolean
cmd_volume_create (NlxClient *client,
                   char **args,
                   GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volume");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "display_name");
  json_builder_add_string_value (builder, args[0]);
  /* Nova's "size" when it is whole GiB, so any Nova-like API takes it. */
  if (arg_size_mib % 1024 == 0)
    {
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder, (gint64) (arg_size_mib / 1024));
    }
  else
    {
      json_builder_set_member_name (builder, "size_mb");
      json_builder_add_int_value (builder, (gint64) arg_size_mib);
    }
  if (opt_fs != NULL)
    {
      json_builder_set_member_name (builder, "filesystem");
      json_builder_add_string_value (builder, opt_fs);
    }
  if (opt_from_dir != NULL)
    {
      /* The daemon reads it on this host, but from its own directory. */
      g_autofree char *absolute = g_canonicalize_filename (opt_from_dir,
                                                           NULL);

      json_builder_set_member_name (builder, "from_dir");
      json_builder_add_string_value (builder, absolute);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  root = nlx_client_call (client, "POST", "/os-volumes", body, error);
  return root != NULL && print_volume_answer (root, error);
}

static gboolean
cmd_volume_list (NlxClient *client,
                 char **args,
                 GError **error)
{
  const char *headers[] = {
    _("ID"), _("Status"), _("Size"), _("Filesystem"), _("Type"),
    _("Attached to"), NULL
  };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET",
                                              "/os-volumes/detail", NULL,
                                              error);
  g_autoptr(GPtrArray) rows = rows_new ();
  JsonNode *volumes;
  JsonArray *array;

  if (root == NULL)
    return FALSE;
  volumes = get_member (root, "volumes", JSON_NODE_ARRAY, error);
  if (volumes == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  array = json_node_get_array (volumes);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *volume;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      volume = json_node_get_object (node);
      row = g_new0 (char *, 7);
      row[0] = display_member (volume, "id");
      row[1] = display_member (volume, "status");
      row[2] = volume_size (volume);
      row[3] = display_member (volume, "filesystem");
      row[4] = display_member (volume, "volumeType");
      row[5] = volume_attached_to (volume);
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
  return TRUE;
}

static char *
image_path (const char *image)
{
  g_autofree char *escaped = g_uri_escape_string (image, NULL, FALSE);

  return g_strconcat ("/images/", escaped, NULL);
}

static gboolean
print_image_answer (JsonNode *root,
                    GError **error)
{
  JsonObject *image = get_object (root, "image", error);

  if (image == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  else
    print_properties (image);
  return TRUE;
}

static gboolean
cmd_image_import (NlxClient *client,
                  char **args,
                  GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  /* The daemon reads it on this host, but from its own directory. */
  g_autofree char *file = g_canonicalize_filename (args[0], NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "image");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, opt_name);
  json_builder_set_member_name (builder, "file");
  json_builder_add_string_value (builder, file);
  json_builder_set_member_name (builder, "properties");
  json_builder_begin_object (builder);
  for (guint i = 0; opt_properties != NULL && opt_properties[i] != NULL; i++)
    {
      const char *eq = strchr (opt_properties[i], '=');
      g_autofree char *key = g_strndup (opt_properties[i],
                                        eq - opt_properties[i]);

      json_builder_set_member_name (builder, key);
      json_builder_add_string_value (builder, eq + 1);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  nlx_client_set_timeout (client, STORE_TIMEOUT_S);
  root = nlx_client_call (client, "POST", "/images", body, error);
  return root != NULL && print_image_answer (root, error);
}

static gboolean
cmd_image_create (NlxClient *client,
                  char **args,
                  GError **error)
{
  g_autofree char *id = resolve_server (client, args[0], NULL, error);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *path = NULL;
  JsonNode *image_id;

  if (id == NULL)
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "createImage");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, args[1]);
  if (opt_metadata != NULL)
    {
      json_builder_set_member_name (builder, "metadata");
      json_builder_begin_object (builder);
      add_key_values (builder, opt_metadata);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  nlx_client_set_timeout (client, STORE_TIMEOUT_S);
  created = post_action (client, id, body, error);
  nlx_client_set_timeout (client, REQUEST_TIMEOUT_S);
  if (created == NULL)
    return FALSE;
  image_id = get_member (created, "image_id", JSON_NODE_VALUE, error);
  if (image_id == NULL)
    return FALSE;
  if (json_node_get_value_type (image_id) != G_TYPE_STRING)
    {
      g_set_error (error, NLX_CLI_ERROR, NLX_CLI_ERROR_BAD_REPLY,
                   _("The API's answer lacks “%s” or it has the wrong type; "
                     "is this nova-lxc-compute, and as new as this "
                     "program?"), "image_id");
      return FALSE;
    }

  /* The answer holds only the id; show the image as image-show does. */
  path = image_path (json_node_get_string (image_id));
  root = nlx_client_call (client, "GET", path, NULL, error);
  return root != NULL && print_image_answer (root, error);
}

static gboolean
cmd_image_show (NlxClient *client,
                char **args,
                GError **error)
{
  g_autofree char *path = image_path (args[0]);
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL,
                                              error);

  return root != NULL && print_image_answer (root, error);
}

/* DELETEs PATH, then prints the answer (with --json) and NOTE. */
static gboolean
call_delete (NlxClient *client,
             const char *path,
             const char *note,
             GError **error)
{
  g_autoptr(JsonNode) root = nlx_client_call (client, "DELETE", path, NULL,
                                              error);

  if (root == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  print_note (note);
  return TRUE;
}

static gboolean
cmd_image_delete (NlxClient *client,
                  char **args,
                  GError **error)
{
  g_autofree char *path = image_path (args[0]);
  g_autofree char *note = g_strdup_printf (_("Image %s has been deleted."),
                                           args[0]);

  return call_delete (client, path, note, error);
}

static gboolean
cmd_volume_show (NlxClient *client,
                 char **args,
                 GError **error)
{
  g_autofree char *path = volume_path (args[0]);
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL,
                                              error);

  return root != NULL && print_volume_answer (root, error);
}

static gboolean
cmd_volume_delete (NlxClient *client,
                   char **args,
                   GError **error)
{
  g_autofree char *path = volume_path (args[0]);
  g_autofree char *note = g_strdup_printf (
    _("Request to delete volume %s has been accepted."), args[0]);

  return call_delete (client, path, note, error);
}

static gboolean
cmd_volume_attach (NlxClient *client,
                   char **args,
                   GError **error)
{
  g_autofree char *id = resolve_server (client, args[0], NULL, error);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *path = NULL;
  JsonObject *attachment;

  if (id == NULL)
    return FALSE;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volumeAttachment");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "volumeId");
  json_builder_add_string_value (builder, args[1]);
  if (opt_device != NULL)
    {
      json_builder_set_member_name (builder, "device");
      json_builder_add_string_value (builder, opt_device);
    }
  if (opt_mount != NULL)
    {
      json_builder_set_member_name (builder, "mount_path");
      json_builder_add_string_value (builder, opt_mount);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  path = server_path (id, "/os-volume_attachments");
  root = nlx_client_call (client, "POST", path, body, error);
  if (root == NULL)
    return FALSE;
  attachment = get_object (root, "volumeAttachment", error);
  if (attachment == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  else
    print_properties (attachment);
  return TRUE;
}

static gboolean
cmd_volume_detach (NlxClient *client,
                   char **args,
                   GError **error)
{
  g_autofree char *id = resolve_server (client, args[0], NULL, error);
  g_autofree char *path = NULL;
  g_autofree char *note = NULL;

  if (id == NULL)
    return FALSE;
  path = attachment_path (id, args[1]);
  /* The API answers once the volume is detached. */
  note = g_strdup_printf (_("Volume %s has been detached from server %s."),
                          args[1], args[0]);
  return call_delete (client, path, note, error);
}

static gboolean
cmd_volume_attachments (NlxClient *client,
                        char **args,
                        GError **error)
{
  const char *headers[] = {
    _("Volume"), _("Device"), _("Mount path"), NULL
  };
  g_autofree char *id = resolve_server (client, args[0], NULL, error);
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) rows = rows_new ();
  JsonNode *attachments;
  JsonArray *array;

  if (id == NULL)
    return FALSE;
  path = server_path (id, "/os-volume_attachments");
  root = nlx_client_call (client, "GET", path, NULL, error);
  if (root == NULL)
    return FALSE;
  attachments = get_member (root, "volumeAttachments", JSON_NODE_ARRAY,
                            error);
  if (attachments == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  array = json_node_get_array (attachments);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonObject *attachment;
      char **row;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      attachment = json_node_get_object (node);
      row = g_new0 (char *, 4);
      row[0] = display_member (attachment, "volumeId");
      row[1] = display_member (attachment, "device");
      row[2] = display_member (attachment, "mount_path");
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
  return TRUE;
}

/* ---- key pairs ------------------------------------------------------- */

static char *
keypair_path (const char *name)
{
  g_autofree char *escaped = g_uri_escape_string (name, NULL, FALSE);

  return g_strconcat ("/os-keypairs/", escaped, NULL);
}

static gboolean
cmd_keypair_add (NlxClient *client,
                 char **args,
                 GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *keypair;
  const char *private_key;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "keypair");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, args[0]);
  if (arg_public_key != NULL)
    {
      json_builder_set_member_name (builder, "public_key");
      json_builder_add_string_value (builder, arg_public_key);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  root = nlx_client_call (client, "POST", "/os-keypairs", body, error);
  if (root == NULL || (keypair = get_object (root, "keypair", error)) == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  /* As the nova client: a generated key pair prints its private key
   * alone, ready for "> key.pem"; the service keeps no copy. */
  private_key = nlx_json_get_string (keypair, "private_key");
  if (private_key != NULL)
    {
      write_stdout (private_key);
      if (!g_str_has_suffix (private_key, "\n"))
        write_stdout ("\n");
      return TRUE;
    }
  print_properties (keypair);
  return TRUE;
}

static gboolean
cmd_keypair_list (NlxClient *client,
                  char **args,
                  GError **error)
{
  const char *headers[] = { _("Name"), _("Fingerprint"), NULL };
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", "/os-keypairs",
                                              NULL, error);
  g_autoptr(GPtrArray) rows = rows_new ();
  JsonNode *keypairs;
  JsonArray *array;

  if (root == NULL ||
      (keypairs = get_member (root, "keypairs", JSON_NODE_ARRAY, error)) == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (root);
      return TRUE;
    }
  array = json_node_get_array (keypairs);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      JsonNode *inner;
      char **row;

      /* Nova's list wraps each one: [{"keypair": {...}}]. */
      if (!JSON_NODE_HOLDS_OBJECT (node) ||
          (inner = json_object_get_member (json_node_get_object (node),
                                           "keypair")) == NULL ||
          !JSON_NODE_HOLDS_OBJECT (inner))
        continue;
      row = g_new0 (char *, 3);
      row[0] = display_member (json_node_get_object (inner), "name");
      row[1] = display_member (json_node_get_object (inner), "fingerprint");
      g_ptr_array_add (rows, row);
    }
  print_table (headers, rows);
  return TRUE;
}

static gboolean
cmd_keypair_show (NlxClient *client,
                  char **args,
                  GError **error)
{
  g_autofree char *path = keypair_path (args[0]);
  g_autoptr(JsonNode) root = nlx_client_call (client, "GET", path, NULL,
                                              error);
  JsonObject *keypair;

  if (root == NULL || (keypair = get_object (root, "keypair", error)) == NULL)
    return FALSE;
  if (opt_json)
    print_json (root);
  else
    print_properties (keypair);
  return TRUE;
}

static gboolean
cmd_keypair_delete (NlxClient *client,
                    char **args,
                    GError **error)
{
  g_autofree char *path = keypair_path (args[0]);
  g_autofree char *note = g_strdup_printf (_("Key pair %s has been deleted."),
                                           args[0]);

  return call_delete (client, path, note, error);
}

/* ---- usage ----------------------------------------------------------- */

/* Options that belong to one or two commands. */
typedef enum {
  OPT_FLAVOR = 1 << 0,
  OPT_IMAGE = 1 << 1,
  OPT_META = 1 << 2,
  OPT_WAIT = 1 << 3,
  OPT_HARD = 1 << 4,
  OPT_LENGTH = 1 << 5,
  OPT_VOLUME = 1 << 6,
  OPT_BOOT_VOLUME = 1 << 7,
  OPT_FS = 1 << 8,
  OPT_FROM_DIR = 1 << 9,
  OPT_DEVICE = 1 << 10,
  OPT_MOUNT = 1 << 11,
  OPT_NAME = 1 << 12,
  OPT_PROPERTY = 1 << 13,
  OPT_METADATA = 1 << 14,
  OPT_KEY_NAME = 1 << 15,
  OPT_USER_DATA = 1 << 16,
  OPT_HOSTNAME = 1 << 17,
  OPT_CONFIG_DRIVE = 1 << 18,
  OPT_PUB_KEY = 1 << 19,
} NlxCommandOption;

typedef gboolean (*NlxCommandFunc) (NlxClient *client,
                                    char **args,
                                    GError **error);

/* What a command needs of its arguments and options beyond their
 * number, checked before anything is sent. */
typedef gboolean (*NlxCommandCheck) (char **args,
                                     GError **error);

typedef struct {
  const char *name;
  guint n_args;
  guint options;
  NlxCommandCheck check;
  NlxCommandFunc run;
} NlxCommand;

/* --user-data FILE, read and encoded before anything is sent. */
static gboolean
read_user_data (GError **error)
{
  g_autofree char *data = NULL;
  gsize length;
  g_autoptr(GError) local_error = NULL;

  if (opt_user_data == NULL)
    return TRUE;
  if (!nlx_file_get_contents (opt_user_data, &data, &length, &local_error))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--user-data: %s"), local_error->message);
      return FALSE;
    }
  /* Base64 makes 4 characters of every 3 bytes, and Nova takes 65535. */
  if (length > NLX_USER_DATA_MAX / 4 * 3)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--user-data: %s has %zu bytes; user "
                     "data can be at most %d bytes (65535 once "
                     "base64-encoded); compress it (cloud-init reads gzip) "
                     "or fetch the rest from the server"),
                   opt_user_data, length, NLX_USER_DATA_MAX / 4 * 3);
      return FALSE;
    }
  arg_user_data = g_base64_encode ((const guchar *) data, length);
  return TRUE;
}

static gboolean
check_boot_config (GError **error)
{
  if (opt_key_name != NULL && *opt_key_name == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--key-name wants a key pair's name (see "
                     "keypair-list)"));
      return FALSE;
    }
  if (opt_hostname != NULL && *opt_hostname == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--hostname wants a host name; leave it out to have "
                     "one made from the server's name"));
      return FALSE;
    }
  return read_user_data (error);
}

static gboolean
check_keypair_add (char **args,
                   GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!nlx_keypair_name_is_valid (args[0]))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("keypair-add: “%s” is no key pair name; a name is 1 to "
                     "%d letters, digits, spaces, “_”, “-”, “.” and “@”"),
                   args[0], NLX_KEYPAIR_NAME_MAX);
      return FALSE;
    }
  if (opt_pub_key == NULL)
    return TRUE;
  if (!nlx_file_get_contents (opt_pub_key, &data, NULL, &local_error))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--pub-key: %s"), local_error->message);
      return FALSE;
    }
  /* The API checks the key itself and says what is wrong with it. */
  arg_public_key = g_strstrip (g_steal_pointer (&data));
  return TRUE;
}

static gboolean
check_boot (char **args,
            GError **error)
{
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) devices = g_hash_table_new (g_str_hash, g_str_equal);

  if (opt_flavor == NULL || *opt_flavor == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("“boot” needs --flavor (see flavor-list)"));
      return FALSE;
    }
  if ((opt_image == NULL || *opt_image == '\0') && opt_boot_volume == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("“boot” needs --image (see image-list), or --boot-volume "
                     "to boot from a volume (see volume-list)"));
      return FALSE;
    }
  if (opt_image != NULL && *opt_image == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--image wants an image ID (see image-list); leave it "
                     "out to boot from --boot-volume alone"));
      return FALSE;
    }
  if (!check_boot_config (error))
    return FALSE;
  if (opt_boot_volume != NULL)
    g_hash_table_add (ids, opt_boot_volume);
  for (guint i = 0; opt_volumes != NULL && i < opt_volumes->len; i++)
    {
      const NlxCliVolume *volume = g_ptr_array_index (opt_volumes, i);

      if (!g_hash_table_add (ids, volume->volume_id))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("Volume “%s” is given twice; a volume is attached "
                         "to a server once, by --volume or as "
                         "--boot-volume"), volume->volume_id);
          return FALSE;
        }
      if (volume->device != NULL &&
          !g_hash_table_add (devices, volume->device))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--volume gives the device %s twice; give each "
                         "volume its own, or leave it out"), volume->device);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_volume_create (char **args,
                     GError **error)
{
  if (!check_volume_id ("NAME", args[0], error) ||
      !parse_size (args[1], &arg_size_mib, error))
    return FALSE;
  if (opt_from_dir != NULL &&
      (*opt_from_dir == '\0' || !g_utf8_validate (opt_from_dir, -1, NULL)))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--from-dir wants the path of a directory, in UTF-8"));
      return FALSE;
    }
  if (opt_from_dir != NULL && opt_url != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("--from-dir names a directory of the compute host, so "
                     "the API takes it only over the Unix socket; run "
                     "nova-lxc on that host without --url"));
      return FALSE;
    }
  return TRUE;
}

/* For commands whose first argument is a volume. */
static gboolean
check_volume_first (char **args,
                    GError **error)
{
  return check_volume_id ("VOLUME", args[0], error);
}

/* For commands of a server and a volume. */
static gboolean
check_volume_second (char **args,
                     GError **error)
{
  return check_volume_id ("VOLUME", args[1], error);
}

static gboolean
check_image_import (char **args,
                    GError **error)
{
  if (opt_name == NULL || !nlx_image_name_is_valid (opt_name))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("image-import needs --name NAME: up to %d letters, "
                     "digits, “.”, “_” and “-”, starting with a letter or "
                     "digit"), NLX_IMAGE_NAME_MAX);
      return FALSE;
    }
  for (guint i = 0; opt_properties != NULL && opt_properties[i] != NULL; i++)
    {
      const char *eq = strchr (opt_properties[i], '=');

      if (eq == NULL || eq == opt_properties[i])
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--property wants KEY=VALUE with a non-empty KEY; "
                         "got “%s”"), opt_properties[i]);
          return FALSE;
        }
    }
  if (opt_url != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("image-import names a file of the compute host, so it "
                     "works over the Unix socket only; leave out --url"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_image_create (char **args,
                    GError **error)
{
  if (!nlx_image_name_is_valid (args[1]))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("image-create: NAME “%s” is no image name; a name is "
                     "up to %d letters, digits, “.”, “_” and “-”, starting "
                     "with a letter or digit"), args[1], NLX_IMAGE_NAME_MAX);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_rebuild (char **args,
               GError **error)
{
  if (opt_name != NULL && *opt_name == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--name wants the server's new name; leave it out to "
                     "keep the name"));
      return FALSE;
    }
  return check_boot_config (error);
}

static const NlxCommand commands[] = {
  { "boot", 1,
    OPT_FLAVOR | OPT_IMAGE | OPT_META | OPT_WAIT | OPT_VOLUME |
    OPT_BOOT_VOLUME | OPT_KEY_NAME | OPT_USER_DATA | OPT_HOSTNAME |
    OPT_CONFIG_DRIVE, check_boot, cmd_boot },
  { "list", 0, 0, NULL, cmd_list },
  { "show", 1, 0, NULL, cmd_show },
  { "delete", 1, OPT_WAIT, NULL, cmd_delete },
  { "rebuild", 2,
    OPT_NAME | OPT_META | OPT_METADATA | OPT_WAIT | OPT_KEY_NAME |
    OPT_USER_DATA, check_rebuild, cmd_rebuild },
  { "reboot", 1, OPT_HARD, NULL, cmd_reboot },
  { "stop", 1, 0, NULL, cmd_stop },
  { "start", 1, 0, NULL, cmd_start },
  { "pause", 1, 0, NULL, cmd_pause },
  { "unpause", 1, 0, NULL, cmd_unpause },
  { "console-log", 1, OPT_LENGTH, NULL, cmd_console_log },
  { "console", 1, 0, NULL, cmd_console },
  { "flavor-list", 0, 0, NULL, cmd_flavor_list },
  { "image-list", 0, 0, NULL, cmd_image_list },
  { "image-import", 1, OPT_NAME | OPT_PROPERTY, check_image_import,
    cmd_image_import },
  { "image-create", 2, OPT_METADATA, check_image_create, cmd_image_create },
  { "image-show", 1, 0, NULL, cmd_image_show },
  { "image-delete", 1, 0, NULL, cmd_image_delete },
  { "hypervisor-stats", 0, 0, NULL, cmd_hypervisor_stats },
  { "volume-create", 2, OPT_FS | OPT_FROM_DIR, check_volume_create,
    cmd_volume_create },
  { "volume-list", 0, 0, NULL, cmd_volume_list },
  { "volume-show", 1, 0, check_volume_first, cmd_volume_show },
  { "volume-delete", 1, 0, check_volume_first, cmd_volume_delete },
  { "volume-attach", 2, OPT_DEVICE | OPT_MOUNT, check_volume_second,
    cmd_volume_attach },
  { "volume-detach", 2, 0, check_volume_second, cmd_volume_detach },
  { "volume-attachments", 1, 0, NULL, cmd_volume_attachments },
  { "keypair-add", 1, OPT_PUB_KEY, check_keypair_add, cmd_keypair_add },
  { "keypair-list", 0, 0, NULL, cmd_keypair_list },
  { "keypair-show", 1, 0, NULL, cmd_keypair_show },
  { "keypair-delete", 1, 0, NULL, cmd_keypair_delete },
};

/* The KEY=VALUE items of OPTION; KEYS holds the keys seen so far, so
 * rebuild's --meta and --metadata, which make one object, are checked
 * together. */
static gboolean
check_key_values (const char *option,
                  char **items,
                  GHashTable *keys,
                  GError **error)
{
  for (guint i = 0; items != NULL && items[i] != NULL; i++)
    {
      const char *item = items[i];
      const char *eq = strchr (item, '=');
      g_autofree char *key = NULL;

      if (eq == NULL || eq == item)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("%s wants KEY=VALUE with a non-empty KEY; "
                         "got “%s”"), option, item);
          return FALSE;
        }
      key = g_strndup (item, eq - item);
      if (g_hash_table_contains (keys, key))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("%s gives the key “%s” a second time"), option, key);
          return FALSE;
        }
      g_hash_table_add (keys, g_steal_pointer (&key));
    }
  return TRUE;
}

static gboolean
check_meta (GError **error)
{
  g_autoptr(GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);

  return check_key_values ("--meta", opt_meta, keys, error) &&
         check_key_values ("--metadata", opt_metadata, keys, error);
}

static gboolean
check_url (const char *url,
           GError **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri ? g_uri_get_scheme (uri) : NULL;

  if (uri == NULL ||
      (g_ascii_strcasecmp (scheme, "http") != 0 &&
       g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--url wants an http:// or https:// URL such as "
                     "http://127.0.0.1:8774; got “%s”"), url);
      return FALSE;
    }
  return TRUE;
}

/* Whether the arguments make a command, checked before any connection so
 * a typo costs nothing. */
static const NlxCommand *
check_usage (int argc,
             char **argv,
             GError **error)
{
  const NlxCommand *command = NULL;
  struct {
    guint option;
    gboolean given;
    const char *name;
  } given[] = {
    { OPT_FLAVOR, opt_flavor != NULL, "flavor" },
    { OPT_IMAGE, opt_image != NULL, "image" },
    { OPT_META, opt_meta != NULL, "meta" },
    { OPT_WAIT, opt_wait, "wait" },
    { OPT_HARD, opt_hard, "hard" },
    { OPT_LENGTH, opt_length_set, "length" },
    { OPT_VOLUME, opt_volumes != NULL, "volume" },
    { OPT_BOOT_VOLUME, opt_boot_volume != NULL, "boot-volume" },
    { OPT_FS, opt_fs != NULL, "fs" },
    { OPT_FROM_DIR, opt_from_dir != NULL, "from-dir" },
    { OPT_DEVICE, opt_device != NULL, "device" },
    { OPT_MOUNT, opt_mount != NULL, "mount" },
    { OPT_NAME, opt_name != NULL, "name" },
    { OPT_PROPERTY, opt_properties != NULL, "property" },
    { OPT_METADATA, opt_metadata != NULL, "metadata" },
    { OPT_KEY_NAME, opt_key_name != NULL, "key-name" },
    { OPT_USER_DATA, opt_user_data != NULL, "user-data" },
    { OPT_HOSTNAME, opt_hostname != NULL, "hostname" },
    { OPT_CONFIG_DRIVE, opt_config_drive, "config-drive" },
    { OPT_PUB_KEY, opt_pub_key != NULL, "pub-key" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, argv[1]))
      command = &commands[i];
  if (command == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("Unknown command “%s”; see --help"), argv[1]);
      return NULL;
    }
  if ((guint) argc - 2 != command->n_args)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("Wrong arguments for “%s”; see --help"), command->name);
      return NULL;
    }
  for (int i = 2; i < argc; i++)
    if (*argv[i] == '\0' || !g_utf8_validate (argv[i], -1, NULL))
      {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     _("“%s” needs a non-empty name or ID in UTF-8"),
                     command->name);
        return NULL;
      }
  for (guint i = 0; i < G_N_ELEMENTS (given); i++)
    if (given[i].given && !(command->options & given[i].option))
      {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                     _("“%s” does not take --%s; see --help"),
                     command->name, given[i].name);
        return NULL;
      }
  if (command->check != NULL && !command->check (argv + 2, error))
    return NULL;
  if (!check_meta (error))
    return NULL;
  if (opt_url != NULL && opt_socket != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("--url and --socket exclude each other: --url reaches "
                     "the API over TCP, --socket over a Unix socket"));
      return NULL;
    }
  if (opt_url != NULL && !check_url (opt_url, error))
    return NULL;
  if (opt_socket != NULL && *opt_socket == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--socket wants the path of nova-lxc-compute's socket"));
      return NULL;
    }
  return command;
}

/* An environment variable, NULL when unset or empty. */
static const char *
getenv_nonempty (const char *name)
{
  const char *value = g_getenv (name);

  return value != NULL && *value != '\0' ? value : NULL;
}

int
main (int argc,
      char **argv)
{
  /* Before the context, so it outlives it (cleanups run in reverse). */
  g_autofree char *socket_help = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxClient) client = NULL;
  const NlxCommand *command;
  const char *socket_path;
  const char *token;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, NLX_LOCALE_DIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (_("COMMAND [ARGUMENTS] - manage servers "
                                    "and volumes of nova-lxc-compute"));
  socket_help = g_strdup_printf (_("Unix socket of nova-lxc-compute "
                                   "(default: $NOVA_LXC_SOCKET, else %s)"),
                                 DEFAULT_SOCKET);
  entries[0].description = socket_help;
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_description (context, _(summary));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("nova-lxc: %s\n", error->message);
      return 2;
    }
  if (argc < 2)
    {
      g_printerr (_("nova-lxc: no command given; see --help\n"));
      return 2;
    }
  command = check_usage (argc, argv, &error);
  if (command == NULL)
    {
      g_printerr ("nova-lxc: %s\n", error->message);
      return 2;
    }

  socket_path = opt_socket;
  if (socket_path == NULL)
    socket_path = getenv_nonempty ("NOVA_LXC_SOCKET");
  if (socket_path == NULL)
    socket_path = DEFAULT_SOCKET;
  token = opt_token ? opt_token : getenv_nonempty ("NOVA_LXC_TOKEN");
  client = nlx_client_new (socket_path, opt_url, token);

  if (!command->run (client, argv + 2, &error))
    {
      g_printerr ("nova-lxc: %s\n", error->message);
      return 1;
    }
  return 0;
}
