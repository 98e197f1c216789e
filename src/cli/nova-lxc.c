/* nova-lxc: command-line client of the nova-lxc compute API
 *
 * Speaks the HTTP API of nova-lxc-compute (docs/api.md) over its Unix
 * socket, or over TCP with a token, and prints tables for people or the
 * API's JSON for scripts.  This file holds the options, the table of
 * commands and the checks of a command line; the commands themselves are
 * in nlx-cli-GROUP.c, the HTTP client in nlx-cli-client.c and the
 * printing in nlx-cli-output.c (docs/hacking.md, "Add a CLI command"). */
#include "config.h"

#include <locale.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "cli/nlx-cli.h"
#include "model/nlx-volume-attachment.h"

#define DEFAULT_SOCKET NLX_RUN_DIR "/compute.sock"

/* ---- options --------------------------------------------------------- */

NlxCliOptions nlx_cli_opt;

/* The form of the API's volume ids, devices and mount paths is checked
 * here too, so a typo fails before anything is sent, with a message that
 * names the option. */

gboolean
nlx_cli_check_volume_id (const char *what,
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
parse_length (const char *option_name G_GNUC_UNUSED,
              const char *value,
              gpointer data G_GNUC_UNUSED,
              GError **error)
{
  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT, &nlx_cli_opt.length,
                                   NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--length wants a number of lines, 0 or more; got “%s”"),
                   value);
      return FALSE;
    }
  nlx_cli_opt.length_set = TRUE;
  return TRUE;
}

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
parse_volume (const char *option_name G_GNUC_UNUSED,
              const char *value,
              gpointer data G_GNUC_UNUSED,
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
  if (!nlx_cli_check_volume_id ("--volume", parts[0], error))
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
  if (nlx_cli_opt.volumes == NULL)
    nlx_cli_opt.volumes = g_ptr_array_new_with_free_func (
      (GDestroyNotify) nlx_cli_volume_free);
  g_ptr_array_add (nlx_cli_opt.volumes, g_steal_pointer (&volume));
  return TRUE;
}

static gboolean
parse_boot_volume (const char *option_name G_GNUC_UNUSED,
                   const char *value,
                   gpointer data G_GNUC_UNUSED,
                   GError **error)
{
  if (!nlx_cli_check_volume_id ("--boot-volume", value, error))
    return FALSE;
  g_free (nlx_cli_opt.boot_volume);
  nlx_cli_opt.boot_volume = g_strdup (value);
  return TRUE;
}

static gboolean
parse_fs (const char *option_name G_GNUC_UNUSED,
          const char *value,
          gpointer data G_GNUC_UNUSED,
          GError **error)
{
  if (!g_str_equal (value, "ext4") && !g_str_equal (value, "xfs"))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--fs wants ext4 or xfs; got “%s”"), value);
      return FALSE;
    }
  g_free (nlx_cli_opt.fs);
  nlx_cli_opt.fs = g_strdup (value);
  return TRUE;
}

static gboolean
parse_device (const char *option_name G_GNUC_UNUSED,
              const char *value,
              gpointer data G_GNUC_UNUSED,
              GError **error)
{
  if (!check_device ("--device", value, error))
    return FALSE;
  g_free (nlx_cli_opt.device);
  nlx_cli_opt.device = g_strdup (value);
  return TRUE;
}

static gboolean
parse_mount (const char *option_name G_GNUC_UNUSED,
             const char *value,
             gpointer data G_GNUC_UNUSED,
             GError **error)
{
  if (!check_mount_path ("--mount", value, error))
    return FALSE;
  g_free (nlx_cli_opt.mount);
  nlx_cli_opt.mount = g_strdup (value);
  return TRUE;
}

/* entries[0]'s description names a path configure chose, so main() fills
 * it in: the path glued into N_() would cut the msgid short. */
static GOptionEntry entries[] = {
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &nlx_cli_opt.socket, NULL,
    N_("PATH") },
  { "url", 'u', 0, G_OPTION_ARG_STRING, &nlx_cli_opt.url,
    N_("Reach the API over TCP instead, e.g. http://127.0.0.1:8774"),
    N_("URL") },
  { "token", 't', 0, G_OPTION_ARG_STRING, &nlx_cli_opt.token,
    N_("Token sent in X-Auth-Token (default: $NOVA_LXC_TOKEN)"),
    N_("TOKEN") },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &nlx_cli_opt.json,
    N_("Print the API's JSON answer instead of a table"), NULL },
  { "flavor", 'f', 0, G_OPTION_ARG_STRING, &nlx_cli_opt.flavor,
    N_("boot: the flavor (see flavor-list)"), N_("FLAVOR") },
  { "image", 'i', 0, G_OPTION_ARG_STRING, &nlx_cli_opt.image,
    N_("boot: the image (see image-list)"), N_("IMAGE") },
  { "meta", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &nlx_cli_opt.meta,
    N_("boot: a metadata item; rebuild: the same as --metadata; may be "
       "repeated"), N_("KEY=VALUE") },
  { "metadata", 0, 0, G_OPTION_ARG_STRING_ARRAY, &nlx_cli_opt.metadata,
    N_("image-create: a property of the new image; rebuild: a metadata "
       "item of the server, which then has these items only; may be "
       "repeated"), N_("KEY=VALUE") },
  { "wait", 'w', 0, G_OPTION_ARG_NONE, &nlx_cli_opt.wait,
    N_("boot, rebuild: wait until the server is ACTIVE (or, rebuilt, "
       "SHUTOFF as it was) or ERROR; delete: until it is gone"), NULL },
  { "hard", 0, 0, G_OPTION_ARG_NONE, &nlx_cli_opt.hard,
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
  { "from-dir", 0, 0, G_OPTION_ARG_FILENAME, &nlx_cli_opt.from_dir,
    N_("volume-create: fill the filesystem with the tree of this directory "
       "of the compute host (over the Unix socket only)"), N_("DIR") },
  { "name", 0, 0, G_OPTION_ARG_STRING, &nlx_cli_opt.name,
    N_("image-import: the image's name; rebuild: the server's new name"),
    N_("NAME") },
  { "property", 0, 0, G_OPTION_ARG_STRING_ARRAY, &nlx_cli_opt.properties,
    N_("image-import: an image property, e.g. os_shutdown_signal=SIGUSR2; "
       "may be repeated"), N_("KEY=VALUE") },
  { "device", 0, 0, G_OPTION_ARG_CALLBACK, parse_device,
    N_("volume-attach: the device in the server, /dev/vdb to /dev/vdz "
       "(default: the next free one)"), N_("DEVICE") },
  { "mount", 0, 0, G_OPTION_ARG_CALLBACK, parse_mount,
    N_("volume-attach: mount the volume's filesystem read-only at this path "
       "in the server (default: a bare device)"), N_("PATH") },
  { "key-name", 0, 0, G_OPTION_ARG_STRING, &nlx_cli_opt.key_name,
    N_("boot, rebuild: the key pair whose public key the server gets (see "
       "keypair-list)"), N_("NAME") },
  { "user-data", 0, 0, G_OPTION_ARG_FILENAME, &nlx_cli_opt.user_data,
    N_("boot, rebuild: a file of user data for the server (cloud-init "
       "reads it), sent base64-encoded; at most 49149 bytes"), N_("FILE") },
  { "hostname", 0, 0, G_OPTION_ARG_STRING, &nlx_cli_opt.hostname,
    N_("boot: the server's host name (default: made from NAME)"),
    N_("HOSTNAME") },
  { "config-drive", 0, 0, G_OPTION_ARG_NONE, &nlx_cli_opt.config_drive,
    N_("boot: give the server a config drive"), NULL },
  { "pub-key", 0, 0, G_OPTION_ARG_FILENAME, &nlx_cli_opt.pub_key,
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
  /* Instead of run, for a command that is a server action and nothing
   * else: the action, which nlx_cli_run_server_action() posts. */
  NlxCliServerAction action;
} NlxCommand;

static const NlxCommand commands[] = {
  { "boot", 1,
    OPT_FLAVOR | OPT_IMAGE | OPT_META | OPT_WAIT | OPT_VOLUME |
    OPT_BOOT_VOLUME | OPT_KEY_NAME | OPT_USER_DATA | OPT_HOSTNAME |
    OPT_CONFIG_DRIVE, nlx_cli_check_boot, nlx_cli_cmd_boot },
  { "list", 0, 0, NULL, nlx_cli_cmd_list },
  { "show", 1, 0, NULL, nlx_cli_cmd_show },
  { "delete", 1, OPT_WAIT, NULL, nlx_cli_cmd_delete },
  { "rebuild", 2,
    OPT_NAME | OPT_META | OPT_METADATA | OPT_WAIT | OPT_KEY_NAME |
    OPT_USER_DATA, nlx_cli_check_rebuild, nlx_cli_cmd_rebuild },
  { "reboot", 1, OPT_HARD, NULL, nlx_cli_cmd_reboot },
  { "stop", 1, 0, NULL, NULL,
    { "os-stop", N_("Request to stop server %s has been accepted.") } },
  { "start", 1, 0, NULL, NULL,
    { "os-start", N_("Request to start server %s has been accepted.") } },
  { "pause", 1, 0, NULL, NULL,
    { "pause", N_("Request to pause server %s has been accepted.") } },
  { "unpause", 1, 0, NULL, NULL,
    { "unpause", N_("Request to unpause server %s has been accepted.") } },
  { "console-log", 1, OPT_LENGTH, NULL, nlx_cli_cmd_console_log },
  { "console", 1, 0, NULL, nlx_cli_cmd_console },
  { "flavor-list", 0, 0, NULL, nlx_cli_cmd_flavor_list },
  { "image-list", 0, 0, NULL, nlx_cli_cmd_image_list },
  { "image-import", 1, OPT_NAME | OPT_PROPERTY, nlx_cli_check_image_import,
    nlx_cli_cmd_image_import },
  { "image-create", 2, OPT_METADATA, nlx_cli_check_image_create,
    nlx_cli_cmd_image_create },
  { "image-show", 1, 0, NULL, nlx_cli_cmd_image_show },
  { "image-delete", 1, 0, NULL, nlx_cli_cmd_image_delete },
  { "hypervisor-stats", 0, 0, NULL, nlx_cli_cmd_hypervisor_stats },
  { "volume-create", 2, OPT_FS | OPT_FROM_DIR, nlx_cli_check_volume_create,
    nlx_cli_cmd_volume_create },
  { "volume-list", 0, 0, NULL, nlx_cli_cmd_volume_list },
  { "volume-show", 1, 0, nlx_cli_check_volume_first,
    nlx_cli_cmd_volume_show },
  { "volume-delete", 1, 0, nlx_cli_check_volume_first,
    nlx_cli_cmd_volume_delete },
  { "volume-attach", 2, OPT_DEVICE | OPT_MOUNT, nlx_cli_check_volume_second,
    nlx_cli_cmd_volume_attach },
  { "volume-detach", 2, 0, nlx_cli_check_volume_second,
    nlx_cli_cmd_volume_detach },
  { "volume-attachments", 1, 0, NULL, nlx_cli_cmd_volume_attachments },
  { "keypair-add", 1, OPT_PUB_KEY, nlx_cli_check_keypair_add,
    nlx_cli_cmd_keypair_add },
  { "keypair-list", 0, 0, NULL, nlx_cli_cmd_keypair_list },
  { "keypair-show", 1, 0, NULL, nlx_cli_cmd_keypair_show },
  { "keypair-delete", 1, 0, NULL, nlx_cli_cmd_keypair_delete },
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

  return check_key_values ("--meta", nlx_cli_opt.meta, keys, error) &&
         check_key_values ("--metadata", nlx_cli_opt.metadata, keys, error);
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
    { OPT_FLAVOR, nlx_cli_opt.flavor != NULL, "flavor" },
    { OPT_IMAGE, nlx_cli_opt.image != NULL, "image" },
    { OPT_META, nlx_cli_opt.meta != NULL, "meta" },
    { OPT_WAIT, nlx_cli_opt.wait, "wait" },
    { OPT_HARD, nlx_cli_opt.hard, "hard" },
    { OPT_LENGTH, nlx_cli_opt.length_set, "length" },
    { OPT_VOLUME, nlx_cli_opt.volumes != NULL, "volume" },
    { OPT_BOOT_VOLUME, nlx_cli_opt.boot_volume != NULL, "boot-volume" },
    { OPT_FS, nlx_cli_opt.fs != NULL, "fs" },
    { OPT_FROM_DIR, nlx_cli_opt.from_dir != NULL, "from-dir" },
    { OPT_DEVICE, nlx_cli_opt.device != NULL, "device" },
    { OPT_MOUNT, nlx_cli_opt.mount != NULL, "mount" },
    { OPT_NAME, nlx_cli_opt.name != NULL, "name" },
    { OPT_PROPERTY, nlx_cli_opt.properties != NULL, "property" },
    { OPT_METADATA, nlx_cli_opt.metadata != NULL, "metadata" },
    { OPT_KEY_NAME, nlx_cli_opt.key_name != NULL, "key-name" },
    { OPT_USER_DATA, nlx_cli_opt.user_data != NULL, "user-data" },
    { OPT_HOSTNAME, nlx_cli_opt.hostname != NULL, "hostname" },
    { OPT_CONFIG_DRIVE, nlx_cli_opt.config_drive, "config-drive" },
    { OPT_PUB_KEY, nlx_cli_opt.pub_key != NULL, "pub-key" },
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
  if (nlx_cli_opt.url != NULL && nlx_cli_opt.socket != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("--url and --socket exclude each other: --url reaches "
                     "the API over TCP, --socket over a Unix socket"));
      return NULL;
    }
  if (nlx_cli_opt.url != NULL && !check_url (nlx_cli_opt.url, error))
    return NULL;
  if (nlx_cli_opt.socket != NULL && *nlx_cli_opt.socket == '\0')
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

  socket_path = nlx_cli_opt.socket;
  if (socket_path == NULL)
    socket_path = getenv_nonempty ("NOVA_LXC_SOCKET");
  if (socket_path == NULL)
    socket_path = DEFAULT_SOCKET;
  token = nlx_cli_opt.token ? nlx_cli_opt.token
                            : getenv_nonempty ("NOVA_LXC_TOKEN");
  client = nlx_client_new (socket_path, nlx_cli_opt.url, token);

  if (command->run != NULL ? !command->run (client, argv + 2, &error)
                           : !nlx_cli_run_server_action (client,
                                                         &command->action,
                                                         argv[2], &error))
    {
      g_printerr ("nova-lxc: %s\n", error->message);
      return 1;
    }
  return 0;
}
