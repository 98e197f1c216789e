/* nlx-api-server-create.c: POST /servers: reading Nova 2.1's create
 * body (what nova-lxc honours, and Nova's 400 for what it cannot), the
 * instance it asks for, and the answer once the records are saved */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-keystone.h"
#include "api/nlx-api-private.h"
#include "model/nlx-address.h"

/* Nova's parameter_types.boolean: JSON true or false, or one of the
 * strings Nova takes for them.  Absent or null leaves *value alone.
 * Answers 400 itself. */
static gboolean
read_boolean (NlxApiRequest *request,
              JsonObject *object,
              const char *key,
              gboolean *value)
{
  static const char * const yes[] = {
    "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", NULL
  };
  static const char * const no[] = {
    "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", NULL
  };
  JsonNode *node = json_object_get_member (object, key);
  g_autofree char *message = NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    {
      *value = json_node_get_boolean (node);
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    {
      const char *text = json_node_get_string (node);

      if (g_strv_contains (yes, text) || g_strv_contains (no, text))
        {
          *value = g_strv_contains (yes, text);
          return TRUE;
        }
    }
  message = g_strdup_printf (_("Invalid input for field/attribute %s: it "
                               "must be true or false (or \"true\", "
                               "\"false\", \"yes\", \"no\", \"1\", \"0\")"),
                             key);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* Nova's block_device_mapping_v2, for volumes: boot_index 0 is the
 * root volume, the others are attached; and the image as the root disk
 * (source_type "image", destination_type "local", boot_index 0), which
 * novaclient sends beside imageRef.  Other shapes, and Nova's fields
 * nova-lxc has no use for, are refused.  Answers 400 itself. */
static gboolean
read_block_devices (NlxApiRequest *request,
                    JsonObject *server,
                    char **root_volume,
                    char **root_image,
                    GPtrArray *volumes)
{
  static const char * const known[] = {
    "boot_index", "uuid", "source_type", "destination_type", "device_name",
    "mount_path", "delete_on_termination", "volume_id",
    /* Nova's, refused below with a reason rather than as unknown */
    "guest_format", "volume_size", "disk_bus", "device_type", "no_device",
    "snapshot_id", "image_id", "connection_info", "tag", "volume_type", NULL
  };
  static const char * const unsupported[] = {
    "guest_format", "volume_size", "disk_bus", "device_type", "no_device",
    "snapshot_id", "image_id", "connection_info", "tag", "volume_type", NULL
  };
  JsonNode *node = json_object_get_member (server, "block_device_mapping_v2");
  JsonArray *array;
  NlxInstance view = { .volumes = volumes };

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      nlx_api_respond_fault (request, 400,
                             _("“block_device_mapping_v2” must be a list"));
      return FALSE;
    }
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *bdm;
      const char *id, *source, *destination, *device, *mount_path;
      g_autofree char *chosen = NULL;
      gint64 boot_index = -1;
      JsonNode *index;

      gboolean delete_on_termination = FALSE;

      if (!nlx_api_require_object (request, element,
                                   "block_device_mapping_v2[]"))
        return FALSE;
      bdm = json_node_get_object (element);
      for (guint j = 0; unsupported[j] != NULL; j++)
        {
          JsonNode *member = json_object_get_member (bdm, unsupported[j]);

          if (member != NULL && !JSON_NODE_HOLDS_NULL (member))
            {
              g_autofree char *message =
                g_strdup_printf (_("nova-lxc takes no “%s” in a block device "
                                   "mapping: give a volume by “uuid” with "
                                   "source_type “volume”"), unsupported[j]);

              nlx_api_respond_fault (request, 400, message);
              return FALSE;
            }
        }
      if (!read_boolean (request, bdm, "delete_on_termination",
                         &delete_on_termination))
        return FALSE;
      if (!nlx_api_check_members (request, bdm, known) ||
          !nlx_api_get_optional_string (request, bdm, "uuid", &id) ||
          !nlx_api_get_optional_string (request, bdm, "source_type", &source) ||
          !nlx_api_get_optional_string (request, bdm, "destination_type",
                                        &destination) ||
          !nlx_api_get_optional_string (request, bdm, "device_name", &device) ||
          !nlx_api_get_optional_string (request, bdm, "mount_path",
                                        &mount_path))
        return FALSE;
      /* It answers 400 itself: going on would answer a second time. */
      if (id == NULL && !nlx_api_get_optional_string (request, bdm, "volume_id",
                                                      &id))
        return FALSE;
      index = json_object_get_member (bdm, "boot_index");
      if (index != NULL && !JSON_NODE_HOLDS_NULL (index) &&
          !nlx_api_read_whole_number (index, G_MININT32, G_MAXINT32,
                                      &boot_index))
        {
          nlx_api_respond_fault (request, 400,
                                 _("“boot_index” must be a whole number, in "
                                   "JSON or as a string of decimal digits, or "
                                   "null"));
          return FALSE;
        }

      if (id != NULL && g_strcmp0 (source, "image") == 0 &&
          g_strcmp0 (destination, "local") == 0 && boot_index == 0 &&
          *root_image == NULL && device == NULL && mount_path == NULL)
        {
          *root_image = g_strdup (id);
          continue;
        }
      if (delete_on_termination)
        {
          nlx_api_respond_fault (request, 400,
                                 _("nova-lxc keeps volumes when their server "
                                   "is deleted: send delete_on_termination "
                                   "false, or leave it out"));
          return FALSE;
        }
      if (id == NULL || g_strcmp0 (source, "volume") != 0 ||
          (destination != NULL && !g_str_equal (destination, "volume")))
        {
          nlx_api_respond_fault (request, 400,
                                 _("Each block device mapping needs a volume "
                                   "id in “uuid” and source_type “volume”; "
                                   "nova-lxc has no other kind of block "
                                   "device"));
          return FALSE;
        }
      if (boot_index == 0)
        {
          if (*root_volume != NULL || mount_path != NULL || device != NULL)
            {
              nlx_api_respond_fault (request, 400,
                                     _("Only one block device mapping can have "
                                       "boot_index 0, and the root volume "
                                       "takes no device_name or mount_path"));
              return FALSE;
            }
          *root_volume = g_strdup (id);
          continue;
        }
      /* The instance document checks devices, mount paths and repeats. */
      chosen = device ? g_strdup (device) : nlx_instance_next_device (&view);
      g_ptr_array_add (volumes, nlx_volume_attachment_new (id, chosen,
                                                           mount_path));
    }
  return TRUE;
}

/* Nova's user_data: base64 (format "base64", which Python decodes
 * leniently about line breaks) of at most 65535 characters.  Answers 400
 * itself.  *cleaned is the text without its line breaks (the same bytes
 * once decoded), as the instance document keeps it, which allows no
 * control characters; NULL for "", which holds nothing. */
gboolean
nlx_api_check_user_data (NlxApiRequest *request,
                         const char *user_data,
                         char **cleaned)
{
  gsize length = user_data ? strlen (user_data) : 0;
  g_autoptr(GString) text = NULL;
  gsize padding = 0;

  *cleaned = NULL;
  if (user_data == NULL)
    return TRUE;
  if (length > NLX_USER_DATA_MAX)
    {
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for field/attribute user_data: it "
                           "is %zu characters long, more "
                           "than the %d allowed"), length, NLX_USER_DATA_MAX);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  text = g_string_new (NULL);
  for (const char *p = user_data; *p != '\0'; p++)
    {
      if (*p == '\n' || *p == '\r')
        continue;
      if (*p == '=')
        padding++;
      else if (padding > 0 ||
               !(g_ascii_isalnum (*p) || *p == '+' || *p == '/'))
        {
          padding = 3;
          break;
        }
      g_string_append_c (text, *p);
    }
  if (padding > 2 || text->len % 4 != 0)
    {
      nlx_api_respond_fault (request, 400,
                             _("Invalid input for field/attribute user_data: "
                               "it is not base64; send the data base64-encoded "
                               "(A–Z, a–z, 0–9, “+” and “/”, “=” padding at "
                               "the end, line breaks allowed)"));
      return FALSE;
    }
  if (text->len > 0)
    *cleaned = g_string_free (g_steal_pointer (&text), FALSE);
  return TRUE;
}

/* Nova's hostname (2.90): 2 to 63 letters, digits and "-", starting and
 * ending with a letter or digit.  Kept lower-case, as DNS compares host
 * names.  Answers 400 itself. */
gboolean
nlx_api_check_hostname (NlxApiRequest *request,
                        const char *hostname,
                        char **lower)
{
  gsize length = hostname ? strlen (hostname) : 0;
  gboolean valid = length >= 2 && length <= NLX_HOSTNAME_MAX &&
                   g_ascii_isalnum (hostname[0]) &&
                   g_ascii_isalnum (hostname[length - 1]);

  *lower = NULL;
  if (hostname == NULL)
    return TRUE;
  for (gsize i = 0; valid && i < length; i++)
    valid = g_ascii_isalnum (hostname[i]) || hostname[i] == '-';
  /* Nova 2.94 takes a FQDN (1 to 255 letters, digits, "-", "." and
   * "_"); a container's host name is one DNS label (the kernel's UTS
   * name holds 64 bytes), so nova-lxc says so rather than cut it. */
  if (!valid && nlx_api_has (request, NLX_API_FQDN_HOSTNAME) &&
      length >= 1 && length <= 255 &&
      strspn (hostname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789-._") == length)
    {
      g_autofree char *shown = g_utf8_make_valid (hostname, MIN (length, 80));
      g_autofree char *message =
        g_strdup_printf (_("nova-lxc gives a server one DNS label as its "
                           "host name, not “%s”: give 2 to %d letters, "
                           "digits and “-”, starting and ending with a "
                           "letter or digit"), shown, NLX_HOSTNAME_MAX);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  if (!valid)
    {
      g_autofree char *shown = g_utf8_make_valid (hostname, MIN (length, 80));
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for field/attribute hostname: "
                           "“%s” is not a host name; give 2 to %d letters, "
                           "digits and “-”, starting and ending with a "
                           "letter or digit"), shown, NLX_HOSTNAME_MAX);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  *lower = g_ascii_strdown (hostname, -1);
  return TRUE;
}

/* The caller's key pair @name, as Nova looks it up; answers 400 with
 * Nova's message itself when the caller has none of that name. */
const NlxKeypair *
nlx_api_find_key_name (NlxApiRequest *request,
                       const char *name)
{
  const NlxKeypair *keypair =
    nlx_manager_find_keypair (request->api->manager,
                              nlx_api_identity (request, "X-User-Id"), name);

  if (keypair == NULL)
    nlx_api_respond_fault (request, 400, _("Invalid key_name provided."));
  return keypair;
}

/* Nova's positive_integer (min_count, max_count): a whole number of at
 * least 1, in JSON or as a string of digits.  Answers 400 itself. */
static gboolean
read_count (NlxApiRequest *request,
            JsonObject *server,
            const char *key,
            gint64 *count)
{
  JsonNode *node = json_object_get_member (server, key);

  if (node == NULL)
    return TRUE;
  if (!nlx_api_read_whole_number (node, 1, G_MAXINT32, count))
    {
      g_autofree char *message =
        g_strdup_printf (_("Invalid input for field/attribute %s: it must be "
                           "a whole number of at least 1"), key);

      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  return TRUE;
}

/* What Nova's create takes that nova-lxc has no use for or cannot
 * honour: each is refused with a reason, as Nova refuses what it cannot
 * do, rather than taken and ignored.  (adminPass is not among them:
 * Nova takes it and, with its libvirt driver's default inject_password
 * false, sets nothing with it; tempest sends one with every server it
 * makes.  nova-lxc does as Nova does there, and answers no adminPass, as
 * Nova with [api] enable_instance_password false.)  Answers 400 itself. */
static gboolean
check_refused (NlxApiRequest *request,
               JsonObject *server)
{
  static const struct {
    const char *key;
    const char *why;
  } refused[] = {
    { "personality", N_("nova-lxc injects no files (“personality”): send "
                        "them in “user_data” or on a config drive") },
    { "block_device_mapping", N_("nova-lxc takes volumes in "
                                 "“block_device_mapping_v2”, not the legacy "
                                 "“block_device_mapping”") },
    { "trusted_image_certificates", N_("nova-lxc verifies no image "
                                       "signatures: leave out "
                                       "“trusted_image_certificates”") },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      JsonNode *node = json_object_get_member (server, refused[i].key);

      if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
        {
          nlx_api_respond_fault (request, 400, _(refused[i].why));
          return FALSE;
        }
    }
  return TRUE;
}

/* Fields of Nova's create body that exist only from (or up to) some
 * microversion: elsewhere Nova's schema has no such property, and
 * answers 400.  Answers 400 itself. */
static gboolean
check_versioned_fields (NlxApiRequest *request,
                        JsonObject *server)
{
  static const NlxApiVersionedMember members[] = {
    { "personality", NLX_API_PERSONALITY },
    { "trusted_image_certificates", NLX_API_TRUSTED_CERTS },
    { "host", NLX_API_REQUESTED_DESTINATION },
    { "hypervisor_hostname", NLX_API_REQUESTED_DESTINATION },
    { "hostname", NLX_API_HOSTNAME },
  };

  return nlx_api_check_versioned_members (request, server, "server",
                                          members, G_N_ELEMENTS (members));
}

/* Nova 2.74's host and hypervisor_hostname: where to build the server,
 * for admins (Nova's policy answers others 403).  This host is the only
 * place, under one name for both.  Answers itself. */
static gboolean
check_requested_destination (NlxApiRequest *request,
                             JsonObject *server)
{
  static const char * const keys[] = { "host", "hypervisor_hostname" };
  const char *host = nlx_manager_get_host (request->api->manager);

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *wanted;

      if (!json_object_has_member (server, keys[i]))
        continue;
      if (!nlx_api_require_admin (request) ||
          !nlx_api_get_optional_string (request, server, keys[i], &wanted))
        return FALSE;
      if (wanted != NULL && !g_str_equal (wanted, host))
        {
          g_autofree char *shown =
            g_utf8_make_valid (wanted, MIN (strlen (wanted), 80));
          g_autofree char *message =
            g_strdup_printf (_("Compute host %s could not be found. (The "
                               "one host here is %s.)"), shown, host);

          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
    }
  return TRUE;
}

/* Nova's availability_zone: this host is in "nova" alone.  Answers 400
 * itself, with Nova's message. */
static gboolean
check_availability_zone (NlxApiRequest *request,
                         JsonObject *server)
{
  const char *zone;

  if (!nlx_api_get_optional_string (request, server, "availability_zone",
                                    &zone))
    return FALSE;
  /* Nova's "zone:host[:node]" names a host too. */
  if (zone != NULL && !g_str_equal (zone, NLX_API_AVAILABILITY_ZONE) &&
      !(g_str_has_prefix (zone, NLX_API_AVAILABILITY_ZONE ":") &&
        g_str_equal (zone + strlen (NLX_API_AVAILABILITY_ZONE ":"),
                     nlx_manager_get_host (request->api->manager))))
    {
      nlx_api_respond_fault (request, 400,
                             _("The requested availability zone is not "
                               "available"));
      return FALSE;
    }
  return TRUE;
}

/* Nova's networks at 2.1: a list, each {"uuid"} of a network (here the
 * one every server joins, named as its addresses show it), "fixed_ip"
 * or "port".  [] and the one network are what nova-lxc gives anyway;
 * ports and fixed addresses it cannot honour.  Answers 400 itself. */
static gboolean
check_networks (NlxApiRequest *request,
                JsonObject *server,
                gboolean *no_network)
{
  static const char * const known[] = {
    "uuid", "fixed_ip", "port", "tag", NULL
  };
  JsonNode *node = json_object_get_member (server, "networks");
  const char *network = nlx_manager_get_network_name (request->api->manager);
  JsonArray *array;

  *no_network = FALSE;
  /* Nova 2.37: networks is required, and may be "auto" (the one network
   * here, as Nova allocates one) or "none" (no interface: the server has
   * its loopback alone, which the drivers can make). */
  if (node == NULL && nlx_api_has (request, NLX_API_NETWORKS_REQUIRED))
    {
      nlx_api_respond_fault (request, 400,
                             _("Invalid input for field/attribute server: "
                               "“networks” is a required property at this "
                               "microversion; give \"auto\", \"none\" or a "
                               "list of networks"));
      return FALSE;
    }
  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING &&
      nlx_api_has (request, NLX_API_NETWORKS_REQUIRED))
    {
      const char *text = json_node_get_string (node);

      if (g_str_equal (text, "auto") || g_str_equal (text, "none"))
        {
          *no_network = g_str_equal (text, "none");
          return TRUE;
        }
      nlx_api_respond_fault (request, 400,
                             _("Invalid input for field/attribute networks: "
                               "it must be \"auto\", \"none\" or a list of "
                               "networks, [{\"uuid\": NETWORK}]"));
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      nlx_api_respond_fault (request, 400,
                             _("Invalid input for field/attribute networks: "
                               "it must be a list of networks, "
                               "[{\"uuid\": NETWORK}] or []"));
      return FALSE;
    }
  array = json_node_get_array (node);
  if (json_array_get_length (array) > 1)
    {
      nlx_api_respond_fault (request, 400,
                             _("A nova-lxc server has one network "
                               "interface: give at most one network"));
      return FALSE;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *object;
      const char *uuid, *fixed_ip, *port;

      if (!nlx_api_require_object (request, element, "networks[]"))
        return FALSE;
      object = json_node_get_object (element);
      if (!nlx_api_check_members (request, object, known) ||
          !nlx_api_get_optional_string (request, object, "uuid", &uuid) ||
          !nlx_api_get_optional_string (request, object, "fixed_ip",
                                        &fixed_ip) ||
          !nlx_api_get_optional_string (request, object, "port", &port))
        return FALSE;
      if (json_object_has_member (object, "tag"))
        {
          nlx_api_respond_fault (request, 400,
                                 _("nova-lxc keeps no device tags: leave "
                                   "out “tag” in “networks”"));
          return FALSE;
        }
      if (port != NULL || fixed_ip != NULL)
        {
          nlx_api_respond_fault (request, 400,
                                 _("nova-lxc has no ports and gives "
                                   "addresses itself: leave out “port” and "
                                   "“fixed_ip”"));
          return FALSE;
        }
      if (uuid != NULL && !g_str_equal (uuid, network))
        {
          g_autofree char *shown =
            g_utf8_make_valid (uuid, MIN (strlen (uuid), 80));
          g_autofree char *message =
            g_strdup_printf (_("Network %s could not be found. (The one "
                               "network here is %s.)"), shown, network);

          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
    }
  return TRUE;
}

/* Nova's security_groups: [{"name"}]; nova-lxc has only Nova's
 * "default" (its bridge's rules).  Answers 400 itself. */
static gboolean
check_security_groups (NlxApiRequest *request,
                       JsonObject *server)
{
  static const char * const known[] = { "name", NULL };
  JsonNode *node = json_object_get_member (server, "security_groups");
  JsonArray *array;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      nlx_api_respond_fault (request, 400,
                             _("Invalid input for field/attribute "
                               "security_groups: it must be a list, "
                               "[{\"name\": \"default\"}]"));
      return FALSE;
    }
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *object;
      const char *name;

      if (!nlx_api_require_object (request, element, "security_groups[]"))
        return FALSE;
      object = json_node_get_object (element);
      if (!nlx_api_check_members (request, object, known) ||
          (name = nlx_api_get_string_member (request, object, "name")) == NULL)
        return FALSE;
      if (!g_str_equal (name, "default"))
        {
          g_autofree char *shown =
            g_utf8_make_valid (name, MIN (strlen (name), 80));
          g_autofree char *message =
            g_strdup_printf (_("Security group %s not found. (nova-lxc has "
                               "only “default”.)"), shown);

          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
    }
  return TRUE;
}

/* Nova's scheduler hints, beside "server": one host has nothing to
 * choose, so only none is taken.  Answers 400 itself. */
static gboolean
check_scheduler_hints (NlxApiRequest *request)
{
  static const char * const keys[] = {
    "os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"
  };
  JsonObject *root = json_node_get_object (request->body);

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      JsonNode *node = json_object_get_member (root, keys[i]);

      if (node == NULL || JSON_NODE_HOLDS_NULL (node) ||
          (JSON_NODE_HOLDS_OBJECT (node) &&
           json_object_get_size (json_node_get_object (node)) == 0))
        continue;
      nlx_api_respond_fault (request, 400,
                             _("nova-lxc has one host and takes no "
                               "scheduler hints"));
      return FALSE;
    }
  return TRUE;
}

/* What a create request asks for, read and checked once for all the
 * servers it makes. */
typedef struct {
  const char *name;
  const NlxFlavor *flavor;
  const char *image_ref;
  char *root_volume;
  char *root_image;             /* from a block device mapping */
  GPtrArray *volumes;
  char *user_data;
  char *hostname;
  const NlxKeypair *keypair;
  gboolean config_drive;
  gboolean no_network;
  JsonNode *metadata;
  gint64 min_count;
  gint64 max_count;
  gboolean return_reservation_id;
  const char *disk_config;
  gboolean has_description;     /* 2.19+ */
  const char *description;
  GPtrArray *tags;              /* 2.52+; NULL: none given */
  const char *access_ipv4;      /* NULL: none given */
  const char *access_ipv6;
  /* "nova_lxc:driver" (read_driver()): a Nova driver's create */
  gboolean driver;
  char *uuid;
  NlxFlavor driver_flavor;      /* what flavor points to */
  NlxVif *vif;                  /* NULL: no network, if vif_given */
  gboolean vif_given;           /* absent: "networks" decides */
  const char *project_id;       /* NULL: the caller's */
  const char *user_id;
  char *key_name;               /* Nova's instance's key; NULL: none */
  char *key_data;
} CreateRequest;

static void
create_request_clear (CreateRequest *create)
{
  g_free (create->root_volume);
  g_free (create->root_image);
  g_clear_pointer (&create->volumes, g_ptr_array_unref);
  g_free (create->user_data);
  g_free (create->hostname);
  g_clear_pointer (&create->tags, g_ptr_array_unref);
  g_free (create->uuid);
  g_free (create->driver_flavor.name);
  g_clear_pointer (&create->vif, nlx_vif_free);
  g_free (create->key_name);
  g_free (create->key_data);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CreateRequest, create_request_clear)

/* ---- the driver API (docs/api.md, "The driver API") ---------------------- */

#define DRIVER_MEMBER "nova_lxc:driver"

static gboolean
respond_bad (NlxApiRequest *request,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

/* Answers 400 with @format's message; always FALSE. */
static gboolean
respond_bad (NlxApiRequest *request,
             const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  nlx_api_respond_fault (request, 400, message);
  return FALSE;
}

/* A whole number in [@min, @max], JSON or a string of digits (as Nova's
 * flavor fields and extra specs are).  Answers 400 itself. */
static gboolean
read_driver_number (NlxApiRequest *request,
                    JsonNode *node,
                    const char *path,
                    gint64 min,
                    gint64 max,
                    guint *value)
{
  gint64 number;

  if (node == NULL)
    return respond_bad (request, _("“%s” is a required property"), path);
  if (!nlx_api_read_whole_number (node, min, max, &number))
    return respond_bad (request, _("“%s” must be a whole number from %lld "
                                   "to %lld"),
                        path, (long long) min, (long long) max);
  *value = (guint) number;
  return TRUE;
}

/* The extra specs nova-lxc reads, checked as nova-lxc.conf's [flavor]
 * keys that set them are (nlx-config.c); the rest of Nova's (hw:,
 * resources:, trait:, other quota: keys...) mean nothing to a container
 * and are ignored, as a configured flavor's unknown keys are.  Only
 * nova-lxc's own namespace is strict, since a typo there would quietly
 * drop a limit.  Answers 400 itself. */
static gboolean
read_driver_extra_specs (NlxApiRequest *request,
                         JsonObject *flavor_object,
                         NlxFlavor *flavor)
{
  JsonNode *node = json_object_get_member (flavor_object, "extra_specs");
  g_autoptr(GList) keys = NULL;
  JsonObject *specs;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return respond_bad (request, _("“%s” must be a JSON object of strings"),
                        DRIVER_MEMBER ".flavor.extra_specs");
  specs = json_node_get_object (node);
  keys = json_object_get_members (specs);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode *value = json_object_get_member (specs, key);
      const char *text;

      if (!JSON_NODE_HOLDS_VALUE (value) ||
          json_node_get_value_type (value) != G_TYPE_STRING)
        return respond_bad (request, _("Flavor extra spec “%s” must be a "
                                       "string, as Nova's are"), key);
      text = json_node_get_string (value);
      if (g_str_equal (key, NLX_API_PRIVILEGED_SPEC))
        {
          if (g_ascii_strcasecmp (text, "true") == 0 || g_str_equal (text, "1"))
            flavor->privileged = TRUE;
          else if (g_ascii_strcasecmp (text, "false") == 0 ||
                   g_str_equal (text, "0"))
            flavor->privileged = FALSE;
          else
            return respond_bad (request, _("Flavor extra spec “%s” must be "
                                           "“true” or “false”, not “%s”"),
                                key, text);
        }
      else if (g_str_equal (key, NLX_API_PIDS_SPEC))
        {
          if (!read_driver_number (request, value, key, 1, NLX_FLAVOR_PIDS_MAX,
                                   &flavor->pids))
            return FALSE;
        }
      else if (g_str_equal (key, NLX_API_CPU_SHARES_SPEC))
        {
          if (!read_driver_number (request, value, key,
                                   NLX_FLAVOR_CPU_SHARES_MIN,
                                   NLX_FLAVOR_CPU_SHARES_MAX,
                                   &flavor->cpu_shares))
            return FALSE;
        }
      else if (g_str_equal (key, NLX_API_SECCOMP_SPEC))
        {
          if (!g_str_equal (text, NLX_SECCOMP_DEFAULT) &&
              !g_str_equal (text, NLX_SECCOMP_UNCONFINED))
            return respond_bad (request, _("Flavor extra spec “%s” must be "
                                           "“%s” or “%s”, not “%s”"), key,
                                NLX_SECCOMP_DEFAULT, NLX_SECCOMP_UNCONFINED,
                                text);
          flavor->seccomp_unconfined = g_str_equal (text,
                                                    NLX_SECCOMP_UNCONFINED);
        }
      else if (g_str_has_prefix (key, "nova_lxc:"))
        return respond_bad (request, _("Flavor extra spec “%s” is not one "
                                       "nova-lxc knows: %s, %s, %s or %s"),
                            key, NLX_API_PRIVILEGED_SPEC, NLX_API_PIDS_SPEC,
                            NLX_API_SECCOMP_SPEC, NLX_API_CPU_SHARES_SPEC);
    }
  return TRUE;
}

/* The flavor, given whole as Nova's instance carries it rather than
 * named, and checked as a [flavor] section of nova-lxc.conf is.  Answers
 * 400 itself. */
static gboolean
read_driver_flavor (NlxApiRequest *request,
                    JsonObject *driver,
                    NlxFlavor *flavor)
{
  static const char * const known[] = {
    "name", "vcpus", "ram", "disk", "extra_specs", NULL
  };
  JsonNode *node = json_object_get_member (driver, "flavor");
  JsonObject *object;
  const char *name;

  if (node == NULL)
    return respond_bad (request, _("“%s” is a required property"),
                        DRIVER_MEMBER ".flavor");
  if (!nlx_api_require_object (request, node, DRIVER_MEMBER ".flavor"))
    return FALSE;
  object = json_node_get_object (node);
  if (!nlx_api_check_members (request, object, known) ||
      (name = nlx_api_get_string_member (request, object, "name")) == NULL)
    return FALSE;
  if (!nlx_json_text_is_valid (name, NLX_INSTANCE_NAME_MAX))
    return respond_bad (request, _("A flavor name must be 1 to %d printable "
                                   "characters (no control characters)"),
                        NLX_INSTANCE_NAME_MAX);
  if (!read_driver_number (request, json_object_get_member (object, "vcpus"),
                           DRIVER_MEMBER ".flavor.vcpus", 1,
                           NLX_FLAVOR_VCPUS_MAX, &flavor->vcpus) ||
      !read_driver_number (request, json_object_get_member (object, "ram"),
                           DRIVER_MEMBER ".flavor.ram", 1,
                           NLX_FLAVOR_MEMORY_MB_MAX, &flavor->memory_mb) ||
      !read_driver_number (request, json_object_get_member (object, "disk"),
                           DRIVER_MEMBER ".flavor.disk", 0,
                           NLX_FLAVOR_ROOT_GB_MAX, &flavor->root_gb) ||
      !read_driver_extra_specs (request, object, flavor))
    return FALSE;
  flavor->name = g_strdup (name);
  return TRUE;
}

/* A MAC address as Neutron gives one, in either case; *out is the
 * lower-case form the record keeps.  A multicast address (the group bit
 * set) or all zeroes can be no interface's. */
static gboolean
read_mac (const char *text,
          char **out)
{
  g_autofree char *lower = NULL;
  gboolean zero = TRUE;

  if (strlen (text) != 17)
    return FALSE;
  lower = g_ascii_strdown (text, -1);
  for (guint i = 0; i < 17; i++)
    {
      if (i % 3 == 2 ? lower[i] != ':' : !g_ascii_isxdigit (lower[i]))
        return FALSE;
      if (i % 3 != 2 && lower[i] != '0')
        zero = FALSE;
    }
  if (zero || (g_ascii_xdigit_value (lower[1]) & 1) != 0)
    return FALSE;
  *out = g_steal_pointer (&lower);
  return TRUE;
}

/* The interface Neutron allocated: a bridge to plug into, the port's MAC
 * and fixed address.  Whether the bridge exists is the manager's check
 * (nlx-manager-servers.c), made with the rest before anything is made.
 * Null: no network (absent: the caller's "networks" decide).  Answers
 * 400 itself. */
static gboolean
read_driver_vif (NlxApiRequest *request,
                 JsonObject *driver,
                 NlxVif **out)
{
  static const char * const known[] = {
    "bridge", "mac", "address", "prefix", "gateway", NULL
  };
  JsonNode *node = json_object_get_member (driver, "vif");
  g_autoptr(NlxVif) vif = NULL;
  JsonObject *object;
  const char *bridge, *mac, *address, *gateway;
  guint32 address_addr, gateway_addr;

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!nlx_api_require_object (request, node, DRIVER_MEMBER ".vif"))
    return FALSE;
  object = json_node_get_object (node);
  vif = g_new0 (NlxVif, 1);
  if (!nlx_api_check_members (request, object, known) ||
      (bridge = nlx_api_get_string_member (request, object, "bridge")) == NULL ||
      (mac = nlx_api_get_string_member (request, object, "mac")) == NULL ||
      (address = nlx_api_get_string_member (request, object,
                                            "address")) == NULL ||
      !read_driver_number (request, json_object_get_member (object, "prefix"),
                           DRIVER_MEMBER ".vif.prefix", NLX_NETWORK_PREFIX_MIN,
                           NLX_NETWORK_PREFIX_MAX, &vif->prefix) ||
      !nlx_api_get_optional_string (request, object, "gateway", &gateway))
    return FALSE;
  if (!nlx_address_bridge_name_is_valid (bridge))
    return respond_bad (request, _("“%s” is not a bridge name: 1 to %u "
                                   "letters, digits, “_”, “.” or “-”"),
                        bridge, NLX_NETWORK_BRIDGE_NAME_MAX);
  if (!read_mac (mac, &vif->mac))
    return respond_bad (request, _("“%s” is not a MAC address an interface "
                                   "can have: give six hexadecimal pairs "
                                   "separated by “:”, unicast and not all "
                                   "zero, such as fa:16:3e:00:00:01"), mac);
  if (!nlx_address_parse_ipv4 (address, &address_addr))
    return respond_bad (request, _("“%s” is not a dotted IPv4 address such "
                                   "as 10.0.0.5"), address);
  if (gateway != NULL && !nlx_address_parse_ipv4 (gateway, &gateway_addr))
    return respond_bad (request, _("Gateway “%s” is not a dotted IPv4 "
                                   "address; give one, or null for no "
                                   "default route"), gateway);
  if (gateway == NULL
      ? !nlx_address_is_host_of (address_addr,
                                 address_addr &
                                 nlx_address_netmask (vif->prefix),
                                 vif->prefix)
      : !nlx_address_are_hosts_of_one_subnet (address_addr, gateway_addr,
                                              vif->prefix))
    return respond_bad (request, _("Address %s/%u%s%s must be a host address "
                                   "of its subnet (neither the network's nor "
                                   "the broadcast address), as must the "
                                   "gateway, and the two must differ"),
                        address, vif->prefix, gateway ? _(", gateway ") : "",
                        gateway ? gateway : "");
  vif->bridge = g_strdup (bridge);
  vif->address = g_strdup (address);
  vif->gateway = g_strdup (gateway);
  *out = g_steal_pointer (&vif);
  return TRUE;
}

/* "key_name" and "key_data" of "nova_lxc:driver": the key Nova copied
 * from its key pair into the instance (the key pair is Nova's, not in
 * this daemon's store), shown to the instance as a key pair's is.  Both
 * or neither, as a Nova instance has them; the key is checked as a key
 * pair's public key is at its import.  Answers 400 itself. */
static gboolean
read_driver_key (NlxApiRequest *request,
                 JsonObject *server,
                 JsonObject *driver,
                 CreateRequest *create)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *key_data = NULL;
  const char *name = NULL, *data = NULL;

  if (!nlx_api_get_optional_string (request, driver, "key_name", &name) ||
      !nlx_api_get_optional_string (request, driver, "key_data", &data))
    return FALSE;
  if (name == NULL && data == NULL)
    return TRUE;
  if (name == NULL || data == NULL)
    return respond_bad (request, _("“%s” gives an instance's key with "
                                   "“key_data” (its public key) and "
                                   "“key_name” (its key pair's name) "
                                   "together: give both or neither"),
                        DRIVER_MEMBER);
  if (json_object_has_member (server, "key_name"))
    return respond_bad (request, _("“%s” gives the key itself: leave out "
                                   "the server's “key_name”"), DRIVER_MEMBER);
  if (!nlx_keypair_check_name (name, &error))
    return respond_bad (request, _("“%s.key_name”: %s"), DRIVER_MEMBER,
                        error->message);
  key_data = g_strstrip (g_strdup (data));
  if (!nlx_keypair_check_public_key (key_data, &error))
    return respond_bad (request, _("“%s.key_data”: %s"), DRIVER_MEMBER,
                        error->message);
  create->key_name = g_strdup (name);
  create->key_data = g_steal_pointer (&key_data);
  return TRUE;
}

/* "nova_lxc:driver": a Nova driver's create, with Nova's uuid, the flavor
 * inline and Neutron's interface; only over the Unix socket, since it
 * names host bridges and identities no tenant may choose.  Answers 400
 * or 403 itself. */
static gboolean
read_driver (NlxApiRequest *request,
             JsonObject *server,
             CreateRequest *create)
{
  static const char * const known[] = {
    "uuid", "flavor", "vif", "project_id", "user_id", "key_name",
    "key_data", NULL
  };
  JsonNode *node = json_object_get_member (server, DRIVER_MEMBER);
  JsonObject *driver;
  const char *uuid;

  if (node == NULL)
    return TRUE;
  /* Translators: the name of a member of the request body. */
  if (!nlx_api_require_unix_socket (request, _("“nova_lxc:driver”")) ||
      !nlx_api_require_object (request, node, DRIVER_MEMBER))
    return FALSE;
  if (json_object_has_member (server, "flavorRef"))
    return respond_bad (request, _("“%s” gives the flavor itself: leave out "
                                   "“flavorRef”"), DRIVER_MEMBER);
  driver = json_node_get_object (node);
  if (!nlx_api_check_members (request, driver, known) ||
      (uuid = nlx_api_get_string_member (request, driver, "uuid")) == NULL)
    return FALSE;
  if (!g_uuid_string_is_valid (uuid))
    return respond_bad (request, _("“%s” is not a UUID such as "
                                   "0b1d4f6e-5a3c-4e8f-9d2a-7c6b5e4f3a21"),
                        uuid);
  create->vif_given = json_object_has_member (driver, "vif");
  if (!read_driver_flavor (request, driver, &create->driver_flavor) ||
      !read_driver_vif (request, driver, &create->vif) ||
      !nlx_api_get_optional_string (request, driver, "project_id",
                                    &create->project_id) ||
      !nlx_api_get_optional_string (request, driver, "user_id",
                                    &create->user_id) ||
      !read_driver_key (request, server, driver, create))
    return FALSE;
  create->uuid = g_ascii_strdown (uuid, -1);
  create->flavor = &create->driver_flavor;
  create->driver = TRUE;
  return TRUE;
}

/* "tags" (2.52+) as Nova takes them at create; before 2.52, unknown.
 * Answers 400 itself. */
static gboolean
read_create_tags (NlxApiRequest *request,
                  JsonObject *server,
                  GPtrArray **tags)
{
  if (json_object_has_member (server, "tags") &&
      !nlx_api_has (request, NLX_API_CREATE_TAGS))
    {
      nlx_api_respond_fault (request, 400,
                             _("Additional properties are not allowed "
                               "(“tags” was unexpected): tags at create need "
                               "microversion 2.52 or later"));
      return FALSE;
    }
  return nlx_api_read_tags (request, server, "tags", tags);
}

/* Answers 400 itself; sets @error for what the caller answers. */
static gboolean
read_create (NlxApiRequest *request,
             JsonObject *server,
             CreateRequest *create,
             GError **error)
{
  static const char * const known[] = {
    "name", "flavorRef", "imageRef", "metadata", "block_device_mapping_v2",
    "user_data", "key_name", "hostname", "config_drive",
    "min_count", "max_count", "return_reservation_id", "availability_zone",
    "networks", "security_groups", "OS-DCF:diskConfig", "adminPass",
    /* Nova's at some microversions (check_versioned_fields()) */
    "host", "hypervisor_hostname", "trusted_image_certificates",
    /* by their microversions: nlx_api_read_description(),
     * read_create_tags() */
    "description", "tags",
    /* kept and shown, as Nova's: nlx_api_read_access_ips() */
    "accessIPv4", "accessIPv6",
    /* Nova's, refused by check_refused() with a reason */
    "personality", "block_device_mapping",
    /* driver-only: read_driver() */
    DRIVER_MEMBER, NULL
  };
  const char *flavor_ref = NULL, *user_data, *key_name, *hostname, *admin_pass;
  g_autofree char *root_image = NULL;
  gint64 metadata_items = 0;

  create->volumes =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_volume_attachment_free);
  create->min_count = 1;
  create->max_count = -1;
  if (!nlx_api_check_members (request, server, known) ||
      !read_driver (request, server, create) ||
      !check_versioned_fields (request, server) ||
      !check_refused (request, server) ||
      !check_requested_destination (request, server) ||
      !nlx_api_get_optional_string (request, server, "adminPass",
                                    &admin_pass) ||
      !check_scheduler_hints (request) ||
      (create->name = nlx_api_get_string_member (request, server,
                                                 "name")) == NULL ||
      (!create->driver &&
       (flavor_ref = nlx_api_get_string_member (request, server,
                                                "flavorRef")) == NULL) ||
      !read_block_devices (request, server, &create->root_volume, &root_image,
                           create->volumes) ||
      !nlx_api_get_optional_string (request, server, "user_data", &user_data) ||
      !nlx_api_check_user_data (request, user_data, &create->user_data) ||
      !nlx_api_get_optional_string (request, server, "hostname", &hostname) ||
      !nlx_api_check_hostname (request, hostname, &create->hostname) ||
      !read_boolean (request, server, "config_drive", &create->config_drive) ||
      !read_count (request, server, "min_count", &create->min_count) ||
      !read_count (request, server, "max_count", &create->max_count) ||
      !read_boolean (request, server, "return_reservation_id",
                     &create->return_reservation_id) ||
      !check_availability_zone (request, server) ||
      !check_networks (request, server, &create->no_network) ||
      !check_security_groups (request, server) ||
      !nlx_api_get_optional_string (request, server, "OS-DCF:diskConfig",
                                    &create->disk_config) ||
      !nlx_api_get_optional_string (request, server, "key_name", &key_name) ||
      (key_name != NULL &&
       (create->keypair = nlx_api_find_key_name (request, key_name)) == NULL) ||
      !nlx_api_read_description (request, server, &create->has_description,
                                 &create->description) ||
      !read_create_tags (request, server, &create->tags) ||
      !nlx_api_read_access_ips (request, server, &create->access_ipv4,
                                &create->access_ipv6))
    return FALSE;
  /* Nova: max_count defaults to min_count. */
  if (create->max_count < 0)
    create->max_count = create->min_count;
  if (create->driver && create->max_count > 1)
    return respond_bad (request, _("“%s” gives one server's uuid: ask for "
                                   "one server (min_count and max_count 1)"),
                        DRIVER_MEMBER);
  /* The driver's interface, or none, replaces "networks"; without
   * "vif" the daemon allocates as "networks" says. */
  if (create->driver && create->vif_given)
    create->no_network = create->vif == NULL;
  if (create->min_count > create->max_count)
    {
      nlx_api_respond_fault (request, 400, _("min_count must be <= max_count"));
      return FALSE;
    }
  if (create->max_count > NLX_API_MAX_COUNT)
    {
      g_autofree char *message =
        g_strdup_printf (_("Quota exceeded for instances: Requested %d, "
                           "but one request may make at most %d"),
                         (int) create->max_count, NLX_API_MAX_COUNT);

      nlx_api_respond_fault (request, 403, message);
      return FALSE;
    }
  /* Nova's enum; a container's root is never resized, so both mean the
   * same here. */
  if (create->disk_config != NULL &&
      !g_str_equal (create->disk_config, "AUTO") &&
      !g_str_equal (create->disk_config, "MANUAL"))
    {
      nlx_api_respond_fault (request, 400,
                             _("Invalid input for field/attribute "
                               "OS-DCF:diskConfig: it must be “AUTO” or "
                               "“MANUAL”"));
      return FALSE;
    }
  create->metadata = json_object_get_member (server, "metadata");
  if (create->metadata != NULL && JSON_NODE_HOLDS_OBJECT (create->metadata))
    metadata_items =
      json_object_get_size (json_node_get_object (create->metadata));
  if (metadata_items > NLX_API_METADATA_ITEMS_MAX)
    {
      nlx_api_respond_metadata_limit (request);
      return FALSE;
    }
  /* Booting from a volume, imageRef is optional (and may be "");
   * novaclient gives the image as a block device mapping too. */
  if ((create->root_volume == NULL && root_image == NULL) ||
      json_object_has_member (server, "imageRef"))
    {
      create->image_ref = nlx_api_get_string_member (request, server,
                                                     "imageRef");
      if (create->image_ref == NULL)
        return FALSE;
      if (*create->image_ref == '\0')
        create->image_ref = NULL;
    }
  if (root_image != NULL &&
      (create->root_volume != NULL ||
       (create->image_ref != NULL &&
        !g_str_equal (create->image_ref, root_image))))
    {
      nlx_api_respond_fault (request, 400,
                             _("The image block device mapping must name the "
                               "image of “imageRef”, and the server boots "
                               "from either an image or a volume"));
      return FALSE;
    }
  if (create->image_ref == NULL && root_image != NULL)
    create->image_ref = create->root_image = g_steal_pointer (&root_image);
  if (create->image_ref == NULL && create->root_volume == NULL)
    {
      nlx_api_respond_fault (request, 400,
                             _("Give an image in “imageRef”, or a root volume "
                               "as block device mapping with boot_index 0"));
      return FALSE;
    }
  if (create->image_ref != NULL &&
      !nlx_api_check_image_ref (request, create->image_ref))
    return FALSE;
  /* Another project's volume is an unknown one (Cinder's policy). */
  if (create->root_volume != NULL &&
      !nlx_api_check_volume_ref (request, create->root_volume))
    return FALSE;
  for (guint i = 0; i < create->volumes->len; i++)
    if (!nlx_api_check_volume_ref (
          request,
          ((NlxVolumeAttachment *) create->volumes->pdata[i])->volume_id))
      return FALSE;
  if (create->driver)
    return TRUE;
  create->flavor = nlx_config_find_flavor (request->api->config, flavor_ref);
  if (create->flavor == NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Flavor %s could not be found; see the flavor list"),
                   flavor_ref);
      return FALSE;
    }
  return TRUE;
}

/* One server of @create, named @name. */
static NlxInstance *
instance_from_create (NlxApiRequest *request,
                      const CreateRequest *create,
                      const char *name,
                      GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *uuid = create->uuid ? g_strdup (create->uuid)
                                        : g_uuid_string_random ();
  const NlxFlavor *flavor = create->flavor;

  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "uuid", uuid);
  nlx_api_add_string (builder, "name", name);
  json_builder_set_member_name (builder, "flavor");
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "name", flavor->name);
  nlx_api_add_int (builder, "vcpus", flavor->vcpus);
  nlx_api_add_int (builder, "memory_mb", flavor->memory_mb);
  nlx_api_add_int (builder, "root_gb", flavor->root_gb);
  if (flavor->privileged)
    {
      json_builder_set_member_name (builder, "privileged");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (flavor->pids != 0)
    nlx_api_add_int (builder, "pids", flavor->pids);
  if (flavor->cpu_shares != 0)
    nlx_api_add_int (builder, "cpu_shares", flavor->cpu_shares);
  if (flavor->seccomp_unconfined)
    nlx_api_add_string (builder, "seccomp", NLX_SECCOMP_UNCONFINED);
  json_builder_end_object (builder);
  if (create->image_ref != NULL)
    nlx_api_add_string (builder, "image_ref", create->image_ref);
  if (create->root_volume != NULL)
    nlx_api_add_string (builder, "root_volume", create->root_volume);
  json_builder_set_member_name (builder, "volumes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < create->volumes->len; i++)
    {
      NlxVolumeAttachment *attachment = create->volumes->pdata[i];

      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "volume_id", attachment->volume_id);
      nlx_api_add_string (builder, "device", attachment->device);
      if (attachment->mount_path != NULL)
        nlx_api_add_string (builder, "mount_path", attachment->mount_path);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  nlx_api_add_string (builder, "user_id",
                      create->user_id ? create->user_id
                                      : nlx_api_identity (request, "X-User-Id"));
  nlx_api_add_string (builder, "project_id",
                      create->project_id
                        ? create->project_id
                        : nlx_api_identity (request, "X-Project-Id"));
  if (create->vif != NULL)
    {
      json_builder_set_member_name (builder, "vif");
      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "bridge", create->vif->bridge);
      nlx_api_add_string (builder, "mac", create->vif->mac);
      nlx_api_add_string (builder, "address", create->vif->address);
      nlx_api_add_int (builder, "prefix", create->vif->prefix);
      if (create->vif->gateway != NULL)
        nlx_api_add_string (builder, "gateway", create->vif->gateway);
      json_builder_end_object (builder);
    }
  if (create->metadata != NULL)
    {
      json_builder_set_member_name (builder, "metadata");
      json_builder_add_value (builder, json_node_copy (create->metadata));
    }
  nlx_api_add_time (builder, "created_at", now);
  if (create->hostname != NULL)
    nlx_api_add_string (builder, "hostname", create->hostname);
  if (create->user_data != NULL)
    nlx_api_add_string (builder, "user_data", create->user_data);
  if (create->keypair != NULL)
    {
      /* A copy, as Nova's key_data: the server keeps it if the key pair
       * goes. */
      nlx_api_add_string (builder, "key_name", create->keypair->name);
      nlx_api_add_string (builder, "key_data", create->keypair->public_key);
    }
  else if (create->key_data != NULL)
    {
      nlx_api_add_string (builder, "key_name", create->key_name);
      nlx_api_add_string (builder, "key_data", create->key_data);
    }
  if (create->config_drive)
    {
      json_builder_set_member_name (builder, "config_drive");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (create->no_network)
    {
      json_builder_set_member_name (builder, "no_network");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (create->description != NULL)
    nlx_api_add_string (builder, "description", create->description);
  if (create->access_ipv4 != NULL)
    nlx_api_add_string (builder, "access_ipv4", create->access_ipv4);
  if (create->access_ipv6 != NULL)
    nlx_api_add_string (builder, "access_ipv6", create->access_ipv6);
  if (create->tags != NULL)
    {
      json_builder_set_member_name (builder, "tags");
      json_builder_begin_array (builder);
      for (guint i = 0; i < create->tags->len; i++)
        json_builder_add_string_value (builder, create->tags->pdata[i]);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  return nlx_instance_new_from_node (node, error);
}

/* A create waiting for its records to be on disk. */
typedef struct {
  NlxApiRequest *request;
  NlxManager *manager;
  char *uuid;                   /* the first server's */
  char *reservation_id;         /* when the caller asked for it */
  char *disk_config;
  gboolean many;
} Created;

static void
created_free (Created *created)
{
  soup_server_message_unpause (created->request->msg);
  nlx_api_request_free (created->request);
  g_free (created->uuid);
  g_free (created->reservation_id);
  g_free (created->disk_config);
  g_free (created);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Created, created_free)

/* Nova's: "r-" and 8 letters or digits. */
static char *
new_reservation_id (void)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  char id[11] = "r-";

  for (int i = 2; i < 10; i++)
    id[i] = alphabet[g_random_int_range (0, sizeof alphabet - 1)];
  id[10] = '\0';
  return g_strdup (id);
}

static void
server_created (GObject *source G_GNUC_UNUSED,
                GAsyncResult *result,
                gpointer data)
{
  g_autoptr(Created) created = data;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(GError) error = NULL;

  if (created->many ? !nlx_manager_change_finish (created->manager, result,
                                                  &error)
                    : nlx_manager_create_finish (created->manager, result,
                                                 &error) == NULL)
    {
      nlx_api_respond_error (created->request, error);
      return;
    }
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  if (created->reservation_id != NULL)
    nlx_api_add_string (builder, "reservation_id", created->reservation_id);
  else
    {
      /* Nova answers with the first server of several. */
      json_builder_set_member_name (builder, "server");
      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "id", created->uuid);
      nlx_api_add_links (builder, created->request, "servers", created->uuid);
      nlx_api_add_string (builder, "OS-DCF:diskConfig", created->disk_config);
      json_builder_set_member_name (builder, "security_groups");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "name", "default");
      json_builder_end_object (builder);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (created->request, 202, body);
}

/* POST /servers */
void
nlx_api_create_server (NlxApiRequest *request,
                       const char *method G_GNUC_UNUSED,
                       const char * const *ids G_GNUC_UNUSED)
{
  g_autoptr(GError) error = NULL;
  g_auto(CreateRequest) create = { 0 };
  g_autoptr(GPtrArray) instances =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_instance_free);
  JsonObject *server = nlx_api_read_body (request, "server");
  Created *created;

  if (server == NULL)
    return;
  if (!read_create (request, server, &create, &error))
    {
      if (error != NULL)
        nlx_api_respond_error (request, error);
      return;
    }
  /* Nova makes max_count servers (as many as its quota allows, at least
   * min_count; nova-lxc has no quota but the bound on one request), named
   * NAME-1, NAME-2 ... when there are several. */
  for (gint64 i = 1; i <= create.max_count; i++)
    {
      g_autofree char *name =
        create.max_count > 1
          ? g_strdup_printf ("%s-%" G_GINT64_FORMAT, create.name, i)
          : g_strdup (create.name);
      NlxInstance *instance = instance_from_create (request, &create, name,
                                                    &error);

      if (instance == NULL)
        {
          nlx_api_respond_error (request, error);
          return;
        }
      g_ptr_array_add (instances, instance);
    }
  created = g_new0 (Created, 1);
  created->request = nlx_api_request_keep (request);
  created->manager = request->api->manager;
  created->uuid = g_strdup (((NlxInstance *) instances->pdata[0])->uuid);
  created->disk_config = g_strdup (create.disk_config ? create.disk_config
                                                      : "MANUAL");
  if (create.return_reservation_id)
    created->reservation_id = new_reservation_id ();
  created->many = instances->len > 1;
  /* Answered once the records are on disk. */
  if (created->many)
    nlx_manager_create_many_async (request->api->manager,
                                   g_steal_pointer (&instances),
                                   server_created, created);
  else
    nlx_manager_create_async (request->api->manager,
                              g_ptr_array_steal_index (instances, 0),
                              server_created, created);
}
