/* nlx-instance-json.c: an instance from its JSON form, checked field by
 * field, and back */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "model/nlx-address.h"
#include "model/nlx-instance.h"

#define NLX_METADATA_ITEM_MAX 255

/* Every reader below names the field by its dotted path, so a caller
 * reading the error knows exactly which part of the document to fix. */

static JsonNode *
member_get (JsonObject *object,
            const char *member,
            const char *path,
            gboolean required,
            GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL && required)
    g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                 _("Field “%s” is missing; add it to the instance document"),
                 path);
  return node;
}

static char *
read_string (JsonObject *object,
             const char *member,
             const char *path,
             gboolean required,
             gsize max_length,
             GError **error)
{
  JsonNode *node;
  const char *value;

  node = member_get (object, member, path, required, error);
  if (node == NULL)
    return NULL;

  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be a string"), path);
      return NULL;
    }

  value = json_node_get_string (node);
  if (!nlx_json_text_is_valid (value, max_length))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be 1 to %zu printable characters"),
                   path, max_length);
      return NULL;
    }
  return g_strdup (value);
}

static gboolean
read_uint (JsonObject *object,
           const char *member,
           const char *path,
           guint min,
           guint max,
           guint *out,
           GError **error)
{
  JsonNode *node;
  gint64 value;

  node = member_get (object, member, path, TRUE, error);
  if (node == NULL)
    return FALSE;

  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 ||
      (value = json_node_get_int (node)) < min || value > max)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be a whole number from %u to %u"),
                   path, min, max);
      return FALSE;
    }
  *out = (guint) value;
  return TRUE;
}

static JsonObject *
read_object (JsonObject *object,
             const char *member,
             const char *path,
             gboolean required,
             GError **error)
{
  JsonNode *node = member_get (object, member, path, required, error);

  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be an object"), path);
      return NULL;
    }
  return json_node_get_object (node);
}

/* A misspelt optional field would otherwise be silently ignored. */
static gboolean
check_known_members (JsonObject *object,
                     const char *prefix,
                     const char * const *known,
                     GError **error)
{
  g_autoptr(GList) members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                     _("Unknown field “%s%s”; check its spelling"),
                     prefix, (const char *) l->data);
        return FALSE;
      }
  return TRUE;
}

static gboolean
read_flavor (JsonObject *root,
             NlxFlavor *flavor,
             GError **error)
{
  static const char * const known[] = {
    "name", "vcpus", "memory_mb", "root_gb", "privileged", "pids",
    "cpu_shares", "seccomp", NULL
  };
  JsonObject *object = read_object (root, "flavor", "flavor", TRUE, error);
  JsonNode *privileged;
  JsonNode *seccomp;

  if (object == NULL || !check_known_members (object, "flavor.", known, error))
    return FALSE;
  privileged = json_object_get_member (object, "privileged");
  if (privileged != NULL &&
      (!JSON_NODE_HOLDS_VALUE (privileged) ||
       json_node_get_value_type (privileged) != G_TYPE_BOOLEAN))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be true or false"), "flavor.privileged");
      return FALSE;
    }
  flavor->privileged = privileged != NULL && json_node_get_boolean (privileged);
  seccomp = json_object_get_member (object, "seccomp");
  if (seccomp != NULL &&
      (!JSON_NODE_HOLDS_VALUE (seccomp) ||
       json_node_get_value_type (seccomp) != G_TYPE_STRING ||
       (g_strcmp0 (json_node_get_string (seccomp), NLX_SECCOMP_DEFAULT) != 0 &&
        g_strcmp0 (json_node_get_string (seccomp), NLX_SECCOMP_UNCONFINED) != 0)))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be “%s” or “%s”"), "flavor.seccomp",
                   NLX_SECCOMP_DEFAULT, NLX_SECCOMP_UNCONFINED);
      return FALSE;
    }
  flavor->seccomp_unconfined =
    seccomp != NULL &&
    g_str_equal (json_node_get_string (seccomp), NLX_SECCOMP_UNCONFINED);

  flavor->name = read_string (object, "name", "flavor.name", TRUE,
                              NLX_INSTANCE_NAME_MAX, error);
  return flavor->name != NULL &&
         read_uint (object, "vcpus", "flavor.vcpus", 1, NLX_FLAVOR_VCPUS_MAX,
                    &flavor->vcpus, error) &&
         read_uint (object, "memory_mb", "flavor.memory_mb", 1,
                    NLX_FLAVOR_MEMORY_MB_MAX, &flavor->memory_mb, error) &&
         read_uint (object, "root_gb", "flavor.root_gb", 0,
                    NLX_FLAVOR_ROOT_GB_MAX, &flavor->root_gb, error) &&
         /* Optional: records written before limits existed have none. */
         (!json_object_has_member (object, "pids") ||
          read_uint (object, "pids", "flavor.pids", 1, NLX_FLAVOR_PIDS_MAX,
                     &flavor->pids, error)) &&
         (!json_object_has_member (object, "cpu_shares") ||
          read_uint (object, "cpu_shares", "flavor.cpu_shares",
                     NLX_FLAVOR_CPU_SHARES_MIN, NLX_FLAVOR_CPU_SHARES_MAX,
                     &flavor->cpu_shares, error));
}

static GHashTable *
read_metadata (JsonObject *root,
               GError **error)
{
  g_autoptr(GHashTable) metadata = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *object;

  metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!json_object_has_member (root, "metadata"))
    return g_steal_pointer (&metadata);

  object = read_object (root, "metadata", "metadata", FALSE, error);
  if (object == NULL)
    return NULL;

  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      g_autofree char *path = g_strdup_printf ("metadata.%s", key);
      char *value;

      if (!nlx_json_text_is_valid (key, NLX_METADATA_ITEM_MAX))
        {
          g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                       _("Metadata keys must be 1 to %d printable "
                         "characters"), NLX_METADATA_ITEM_MAX);
          return NULL;
        }
      value = read_string (object, key, path, TRUE, NLX_METADATA_ITEM_MAX,
                           error);
      if (value == NULL)
        return NULL;
      g_hash_table_insert (metadata, g_strdup (key), value);
    }
  return g_steal_pointer (&metadata);
}

static char *
read_optional_string (JsonObject *object,
                      const char *member,
                      const char *path,
                      gsize max_length,
                      GError **error,
                      gboolean *ok)
{
  JsonNode *node = json_object_get_member (object, member);
  char *value;

  *ok = TRUE;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  value = read_string (object, member, path, TRUE, max_length, error);
  *ok = value != NULL;
  return value;
}

/* Six lower-case hexadecimal pairs, unicast (the group bit clear). */
static gboolean
mac_is_valid (const char *mac)
{
  if (strlen (mac) != 17)
    return FALSE;
  for (guint i = 0; i < 17; i++)
    if (i % 3 == 2 ? mac[i] != ':'
                   : !(g_ascii_isdigit (mac[i]) ||
                       (mac[i] >= 'a' && mac[i] <= 'f')))
      return FALSE;
  return (g_ascii_xdigit_value (mac[1]) & 1) == 0;
}

static gboolean
read_ipv4 (JsonObject *object,
           const char *member,
           const char *path,
           guint32 *addr,
           char **text,
           GError **error)
{
  *text = read_string (object, member, path, TRUE, INET_ADDRSTRLEN, error);
  if (*text == NULL)
    return FALSE;
  if (!nlx_address_parse_ipv4 (*text, addr))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be a dotted IPv4 address such as "
                     "10.251.0.2, got “%s”"), path, *text);
      return FALSE;
    }
  return TRUE;
}

/* Absent is fine (no network); present, every field must hold together:
 * the address and the gateway in one subnet and neither its network nor
 * its broadcast address.  The gateway may be absent or null: a network
 * a Nova driver gives (docs/api.md, "The driver API") may have none,
 * and the instance then has no default route. */
static gboolean
read_vif (JsonObject *root,
          NlxVif **out,
          GError **error)
{
  static const char * const known[] = {
    "bridge", "mac", "address", "prefix", "gateway", NULL
  };
  JsonObject *object;
  g_autoptr(NlxVif) vif = g_new0 (NlxVif, 1);
  guint32 address, gateway = 0;
  gboolean has_gateway;

  *out = NULL;
  if (json_object_get_member (root, "vif") == NULL)
    return TRUE;
  object = read_object (root, "vif", "vif", TRUE, error);
  has_gateway = object != NULL &&
                json_object_get_member (object, "gateway") != NULL &&
                !JSON_NODE_HOLDS_NULL (json_object_get_member (object,
                                                               "gateway"));
  if (object == NULL || !check_known_members (object, "vif.", known, error) ||
      (vif->bridge = read_string (object, "bridge", "vif.bridge", TRUE,
                                  NLX_NETWORK_BRIDGE_NAME_MAX, error)) == NULL ||
      (vif->mac = read_string (object, "mac", "vif.mac", TRUE, 17,
                               error)) == NULL ||
      !read_ipv4 (object, "address", "vif.address", &address, &vif->address,
                  error) ||
      (has_gateway &&
       !read_ipv4 (object, "gateway", "vif.gateway", &gateway, &vif->gateway,
                   error)) ||
      !read_uint (object, "prefix", "vif.prefix", NLX_NETWORK_PREFIX_MIN,
                  NLX_NETWORK_PREFIX_MAX, &vif->prefix, error))
    return FALSE;
  if (!nlx_address_bridge_name_is_valid (vif->bridge))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “vif.bridge” must be an interface name of 1 to "
                     "%u letters, digits, “_”, “.” or “-”, got “%s”"),
                   NLX_NETWORK_BRIDGE_NAME_MAX, vif->bridge);
      return FALSE;
    }
  if (!mac_is_valid (vif->mac))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “vif.mac” must be a unicast MAC address in "
                     "lower case such as fa:16:3e:00:00:01, got “%s”"),
                   vif->mac);
      return FALSE;
    }
  if (!has_gateway &&
      !nlx_address_is_host_of (address, address &
                               nlx_address_netmask (vif->prefix), vif->prefix))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “vif.address” (%s) must be a host address of its "
                     "/%u subnet, neither the network's nor the broadcast "
                     "address"), vif->address, vif->prefix);
      return FALSE;
    }
  if (has_gateway &&
      !nlx_address_are_hosts_of_one_subnet (address, gateway, vif->prefix))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Fields “vif.address” (%s) and “vif.gateway” (%s) must "
                     "be two different host addresses of one /%u subnet"),
                   vif->address, vif->gateway, vif->prefix);
      return FALSE;
    }
  *out = g_steal_pointer (&vif);
  return TRUE;
}

static GPtrArray *
read_volumes (JsonObject *root,
              GError **error)
{
  static const char * const known[] = {
    "volume_id", "device", "mount_path", NULL
  };
  g_autoptr(GPtrArray) volumes =
    g_ptr_array_new_with_free_func ((GDestroyNotify) nlx_volume_attachment_free);
  JsonNode *node = json_object_get_member (root, "volumes");
  JsonArray *array;

  if (node == NULL)
    return g_steal_pointer (&volumes);
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be an array"), "volumes");
      return NULL;
    }
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree char *prefix = g_strdup_printf ("volumes[%u].", i);
      g_autofree char *id_path = g_strconcat (prefix, "volume_id", NULL);
      g_autofree char *device_path = g_strconcat (prefix, "device", NULL);
      g_autofree char *mount_path = g_strconcat (prefix, "mount_path", NULL);
      g_autoptr(NlxVolumeAttachment) attachment = g_new0 (NlxVolumeAttachment, 1);
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *object;
      gboolean ok;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        {
          g_autofree char *path = g_strdup_printf ("volumes[%u]", i);

          g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                       _("Field “%s” must be an object"), path);
          return NULL;
        }
      object = json_node_get_object (element);
      if (!check_known_members (object, prefix, known, error) ||
          (attachment->volume_id = read_string (object, "volume_id", id_path,
                                                TRUE, NLX_VOLUME_ID_MAX,
                                                error)) == NULL ||
          (attachment->device = read_string (object, "device", device_path,
                                             TRUE, 16, error)) == NULL)
        return NULL;
      attachment->mount_path = read_optional_string (object, "mount_path",
                                                     mount_path,
                                                     NLX_MOUNT_PATH_MAX,
                                                     error, &ok);
      if (!ok || !nlx_volume_attachment_check (attachment, error))
        return NULL;
      if (nlx_instance_find_volume (&(NlxInstance) { .volumes = volumes },
                                    attachment->volume_id) != NULL ||
          nlx_instance_find_device (&(NlxInstance) { .volumes = volumes },
                                    attachment->device) != NULL)
        {
          g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                       _("Volume “%s” or device %s is named twice in "
                         "“volumes”; each may be attached once"),
                       attachment->volume_id, attachment->device);
          return NULL;
        }
      g_ptr_array_add (volumes, g_steal_pointer (&attachment));
    }
  return g_steal_pointer (&volumes);
}

static GDateTime *
read_created_at (JsonObject *root,
                 GError **error)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autofree char *text = NULL;
  g_autoptr(GDateTime) given = NULL;
  GDateTime *created;

  if (!json_object_has_member (root, "created_at"))
    return g_date_time_new_now_utc ();

  text = read_string (root, "created_at", "created_at", TRUE, 64, error);
  if (text == NULL)
    return NULL;

  /* Kept in UTC, as it is written back; a time whose UTC form leaves
   * years 1 to 9999 has none. */
  given = g_date_time_new_from_iso8601 (text, utc);
  created = given != NULL ? g_date_time_to_utc (given) : NULL;
  if (created == NULL)
    g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                 _("Field “created_at” must be an ISO 8601 time such as "
                   "2026-01-31T12:00:00Z, from year 1 to 9999 in UTC"));
  return created;
}

/* What the instance is told at boot: host name, user data, key pair and
 * config drive, each optional in the document. */
static gboolean
read_boot_config (JsonObject *root,
                  NlxInstance *instance,
                  GError **error)
{
  JsonNode *config_drive, *no_network;
  gboolean ok;

  instance->hostname = read_optional_string (root, "hostname", "hostname",
                                             NLX_HOSTNAME_MAX, error, &ok);
  if (!ok)
    return FALSE;
  if (instance->hostname != NULL &&
      !nlx_hostname_is_valid (instance->hostname))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “hostname” must be lower-case letters, digits "
                     "and “-”, not starting or ending with “-”, got “%s”"),
                   instance->hostname);
      return FALSE;
    }
  instance->user_data = read_optional_string (root, "user_data", "user_data",
                                              NLX_USER_DATA_MAX, error, &ok);
  if (!ok)
    return FALSE;
  instance->key_name = read_optional_string (root, "key_name", "key_name",
                                             NLX_KEY_NAME_MAX, error, &ok);
  if (!ok)
    return FALSE;
  instance->key_data = read_optional_string (root, "key_data", "key_data",
                                             NLX_KEY_DATA_MAX, error, &ok);
  if (!ok)
    return FALSE;
  config_drive = json_object_get_member (root, "config_drive");
  if (config_drive != NULL &&
      (!JSON_NODE_HOLDS_VALUE (config_drive) ||
       json_node_get_value_type (config_drive) != G_TYPE_BOOLEAN))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be true or false"), "config_drive");
      return FALSE;
    }
  instance->config_drive = config_drive != NULL &&
                           json_node_get_boolean (config_drive);
  no_network = json_object_get_member (root, "no_network");
  if (no_network != NULL &&
      (!JSON_NODE_HOLDS_VALUE (no_network) ||
       json_node_get_value_type (no_network) != G_TYPE_BOOLEAN))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be true or false"), "no_network");
      return FALSE;
    }
  instance->no_network = no_network != NULL &&
                         json_node_get_boolean (no_network);
  return TRUE;
}

/* The user's description: any text Nova takes, "" included. */
static gboolean
read_description (JsonObject *root,
                  char **description,
                  GError **error)
{
  JsonNode *node = json_object_get_member (root, "description");

  *description = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING ||
      !nlx_description_is_valid (json_node_get_string (node)))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be a string of at most %d printable "
                     "characters"), "description", NLX_DESCRIPTION_MAX);
      return FALSE;
    }
  *description = g_strdup (json_node_get_string (node));
  return TRUE;
}

/* Nova's accessIPv4 and accessIPv6; "" is kept as unset. */
static gboolean
read_access_ip (JsonObject *root,
                const char *member,
                int family,
                char **address,
                GError **error)
{
  gboolean ok;
  g_autofree char *value = read_optional_string (root, member, member,
                                                 INET6_ADDRSTRLEN, error, &ok);

  *address = NULL;
  if (!ok)
    return FALSE;
  if (value == NULL || value[0] == '\0')
    return TRUE;
  /* Kept in canonical form, as Nova keeps it. */
  *address = nlx_access_ip_normalize (value, family);
  if (*address == NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be an %s address, got “%s”"), member,
                   family == AF_INET ? "IPv4" : "IPv6", value);
      return FALSE;
    }
  return TRUE;
}

/* Nova's lock: who locked it and, optionally, why. */
static gboolean
read_lock (JsonObject *root,
           NlxInstance *instance,
           GError **error)
{
  gboolean ok;

  instance->locked_by = read_optional_string (root, "locked_by", "locked_by",
                                              16, error, &ok);
  if (!ok)
    return FALSE;
  if (instance->locked_by != NULL &&
      !g_str_equal (instance->locked_by, NLX_LOCKED_BY_OWNER) &&
      !g_str_equal (instance->locked_by, NLX_LOCKED_BY_ADMIN))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be “%s” or “%s”, got “%s”"),
                   "locked_by", NLX_LOCKED_BY_OWNER, NLX_LOCKED_BY_ADMIN,
                   instance->locked_by);
      return FALSE;
    }
  instance->locked_reason = read_optional_string (root, "locked_reason",
                                                  "locked_reason",
                                                  NLX_LOCKED_REASON_MAX,
                                                  error, &ok);
  if (!ok)
    return FALSE;
  if (instance->locked_reason != NULL && instance->locked_by == NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” needs “%s”: an unlocked server has no "
                     "lock reason"), "locked_reason", "locked_by");
      return FALSE;
    }
  return TRUE;
}

/* The server's tags: distinct, each as nlx_tag_is_valid(), at most
 * NLX_TAGS_MAX; none when the document has no "tags". */
static GPtrArray *
read_tags (JsonObject *root,
           GError **error)
{
  g_autoptr(GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
  JsonNode *node = json_object_get_member (root, "tags");
  JsonArray *array;

  if (node == NULL)
    return g_steal_pointer (&tags);
  if (!JSON_NODE_HOLDS_ARRAY (node) ||
      json_array_get_length (array = json_node_get_array (node)) > NLX_TAGS_MAX)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” must be a list of at most %d tags"), "tags",
                   NLX_TAGS_MAX);
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      const char *tag;

      if (!JSON_NODE_HOLDS_VALUE (element) ||
          json_node_get_value_type (element) != G_TYPE_STRING ||
          !nlx_tag_is_valid (tag = json_node_get_string (element)) ||
          g_ptr_array_find_with_equal_func (tags, tag, g_str_equal, NULL))
        {
          g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                       _("Field “tags[%u]” must be a tag of 1 to %d "
                         "characters without “/” or “,”, not given before"),
                       i, NLX_TAG_MAX);
          return NULL;
        }
      g_ptr_array_add (tags, g_strdup (tag));
    }
  return g_steal_pointer (&tags);
}

/**
 * nlx_instance_new_from_node:
 * @node: a JSON object describing an instance
 * @error: return location for a #NLX_MODEL_ERROR naming the wrong field
 *
 * Returns: (transfer full): the instance, or %NULL if any field is
 * missing, of the wrong type, out of range or unknown.
 */
NlxInstance *
nlx_instance_new_from_node (JsonNode *node,
                            GError **error)
{
  static const char * const known[] = {
    "uuid", "name", "flavor", "image_ref", "root_volume", "volumes",
    "vif", "user_id", "project_id", "metadata", "created_at", "hostname",
    "user_data", "key_name", "key_data", "config_drive", "no_network",
    "description", "tags", "access_ipv4", "access_ipv6", "locked_by",
    "locked_reason", NULL
  };
  g_autoptr(NlxInstance) instance = g_new0 (NlxInstance, 1);
  g_autofree char *uuid = NULL;
  JsonObject *root;
  gboolean ok;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("An instance document must be a JSON object"));
      return NULL;
    }
  root = json_node_get_object (node);
  if (!check_known_members (root, "", known, error))
    return NULL;

  uuid = read_string (root, "uuid", "uuid", TRUE, 36, error);
  if (uuid == NULL)
    return NULL;
  if (!g_uuid_string_is_valid (uuid))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “uuid” must be a UUID such as "
                     "0b7e1f0e-5b8a-4c8e-9d1e-2f3a4b5c6d7e, got “%s”"), uuid);
      return NULL;
    }
  instance->uuid = g_ascii_strdown (uuid, -1);

  if ((instance->name = read_string (root, "name", "name", TRUE,
                                     NLX_INSTANCE_NAME_MAX, error)) == NULL ||
      !read_flavor (root, &instance->flavor, error))
    return NULL;
  instance->root_volume = read_optional_string (root, "root_volume",
                                                "root_volume",
                                                NLX_VOLUME_ID_MAX, error, &ok);
  if (!ok)
    return NULL;
  if (instance->root_volume != NULL &&
      !nlx_volume_id_is_valid (instance->root_volume))
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “root_volume” must be a volume id (letters, "
                     "digits, “.”, “_” and “-”), got “%s”"),
                   instance->root_volume);
      return NULL;
    }
  /* Booting from a volume, the image only lends its properties. */
  instance->image_ref = read_optional_string (root, "image_ref", "image_ref",
                                              NLX_INSTANCE_NAME_MAX, error,
                                              &ok);
  if (!ok)
    return NULL;
  if (instance->image_ref == NULL && instance->root_volume == NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("Field “%s” is missing; add it to the instance document"),
                   "image_ref");
      return NULL;
    }
  if ((instance->volumes = read_volumes (root, error)) == NULL ||
      !read_vif (root, &instance->vif, error) ||
      (instance->user_id = read_string (root, "user_id", "user_id", TRUE,
                                        NLX_INSTANCE_NAME_MAX, error)) == NULL ||
      (instance->project_id = read_string (root, "project_id", "project_id",
                                           TRUE, NLX_INSTANCE_NAME_MAX,
                                           error)) == NULL ||
      (instance->metadata = read_metadata (root, error)) == NULL ||
      (instance->created_at = read_created_at (root, error)) == NULL ||
      !read_boot_config (root, instance, error) ||
      !read_description (root, &instance->description, error) ||
      (instance->tags = read_tags (root, error)) == NULL ||
      !read_access_ip (root, "access_ipv4", AF_INET, &instance->access_ipv4,
                       error) ||
      !read_access_ip (root, "access_ipv6", AF_INET6, &instance->access_ipv6,
                       error) ||
      !read_lock (root, instance, error))
    return NULL;

  return g_steal_pointer (&instance);
}

/**
 * nlx_instance_new_from_data:
 * @data: JSON text
 * @length: length of @data, or -1 if it is nul-terminated
 * @error: return location for a #NLX_MODEL_ERROR
 *
 * Returns: (transfer full): the instance, or %NULL if @data is not JSON
 * or not a valid instance document.
 */
NlxInstance *
nlx_instance_new_from_data (const char *data,
                            gssize length,
                            GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = nlx_json_parse (data, length, &local_error);

  if (root == NULL)
    {
      g_set_error (error, NLX_MODEL_ERROR, NLX_MODEL_ERROR_INVALID,
                   _("The instance document is not valid JSON: %s"),
                   local_error->message);
      return NULL;
    }
  return nlx_instance_new_from_node (root, error);
}

NlxInstance *
nlx_instance_new_from_file (const char *path,
                            GError **error)
{
  g_autofree char *data = NULL;
  gsize length;
  NlxInstance *instance;

  if (!nlx_file_get_contents (path, &data, &length, error))
    return NULL;
  instance = nlx_instance_new_from_data (data, length, error);
  if (instance == NULL)
    g_prefix_error (error, "%s: ", path);
  return instance;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

static void
add_optional_string (JsonBuilder *builder,
                     const char *member,
                     const char *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (builder, member);
  json_builder_add_string_value (builder, value);
}

/**
 * nlx_instance_to_node:
 * @instance: an instance
 *
 * Metadata keys come out sorted so the document is stable.
 *
 * Returns: (transfer full): the JSON form read by
 * nlx_instance_new_from_node().
 */
JsonNode *
nlx_instance_to_node (const NlxInstance *instance)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autofree const char **keys = NULL;
  g_autofree char *created = NULL;
  guint n_keys;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "uuid");
  json_builder_add_string_value (builder, instance->uuid);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, instance->name);

  json_builder_set_member_name (builder, "flavor");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, instance->flavor.name);
  json_builder_set_member_name (builder, "vcpus");
  json_builder_add_int_value (builder, instance->flavor.vcpus);
  json_builder_set_member_name (builder, "memory_mb");
  json_builder_add_int_value (builder, instance->flavor.memory_mb);
  json_builder_set_member_name (builder, "root_gb");
  json_builder_add_int_value (builder, instance->flavor.root_gb);
  if (instance->flavor.privileged)
    {
      json_builder_set_member_name (builder, "privileged");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (instance->flavor.pids != 0)
    {
      json_builder_set_member_name (builder, "pids");
      json_builder_add_int_value (builder, instance->flavor.pids);
    }
  if (instance->flavor.cpu_shares != 0)
    {
      json_builder_set_member_name (builder, "cpu_shares");
      json_builder_add_int_value (builder, instance->flavor.cpu_shares);
    }
  if (instance->flavor.seccomp_unconfined)
    {
      json_builder_set_member_name (builder, "seccomp");
      json_builder_add_string_value (builder, NLX_SECCOMP_UNCONFINED);
    }
  json_builder_end_object (builder);

  if (instance->image_ref != NULL)
    {
      json_builder_set_member_name (builder, "image_ref");
      json_builder_add_string_value (builder, instance->image_ref);
    }
  if (instance->root_volume != NULL)
    {
      json_builder_set_member_name (builder, "root_volume");
      json_builder_add_string_value (builder, instance->root_volume);
    }
  json_builder_set_member_name (builder, "volumes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < instance->volumes->len; i++)
    {
      const NlxVolumeAttachment *attachment = instance->volumes->pdata[i];

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "volume_id");
      json_builder_add_string_value (builder, attachment->volume_id);
      json_builder_set_member_name (builder, "device");
      json_builder_add_string_value (builder, attachment->device);
      if (attachment->mount_path != NULL)
        {
          json_builder_set_member_name (builder, "mount_path");
          json_builder_add_string_value (builder, attachment->mount_path);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  if (instance->vif != NULL)
    {
      json_builder_set_member_name (builder, "vif");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "bridge");
      json_builder_add_string_value (builder, instance->vif->bridge);
      json_builder_set_member_name (builder, "mac");
      json_builder_add_string_value (builder, instance->vif->mac);
      json_builder_set_member_name (builder, "address");
      json_builder_add_string_value (builder, instance->vif->address);
      json_builder_set_member_name (builder, "prefix");
      json_builder_add_int_value (builder, instance->vif->prefix);
      if (instance->vif->gateway != NULL)
        {
          json_builder_set_member_name (builder, "gateway");
          json_builder_add_string_value (builder, instance->vif->gateway);
        }
      json_builder_end_object (builder);
    }
  json_builder_set_member_name (builder, "user_id");
  json_builder_add_string_value (builder, instance->user_id);
  json_builder_set_member_name (builder, "project_id");
  json_builder_add_string_value (builder, instance->project_id);

  json_builder_set_member_name (builder, "metadata");
  json_builder_begin_object (builder);
  keys = (const char **) g_hash_table_get_keys_as_array (instance->metadata,
                                                        &n_keys);
  qsort (keys, n_keys, sizeof (char *), compare_strings);
  for (guint i = 0; i < n_keys; i++)
    {
      json_builder_set_member_name (builder, keys[i]);
      json_builder_add_string_value (builder,
                                     g_hash_table_lookup (instance->metadata,
                                                          keys[i]));
    }
  json_builder_end_object (builder);

  created = nlx_time_to_string (instance->created_at);
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_string_value (builder, created);
  add_optional_string (builder, "hostname", instance->hostname);
  add_optional_string (builder, "user_data", instance->user_data);
  add_optional_string (builder, "key_name", instance->key_name);
  add_optional_string (builder, "key_data", instance->key_data);
  if (instance->config_drive)
    {
      json_builder_set_member_name (builder, "config_drive");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (instance->no_network)
    {
      json_builder_set_member_name (builder, "no_network");
      json_builder_add_boolean_value (builder, TRUE);
    }
  if (instance->description != NULL)
    {
      json_builder_set_member_name (builder, "description");
      json_builder_add_string_value (builder, instance->description);
    }
  if (instance->tags != NULL && instance->tags->len > 0)
    {
      json_builder_set_member_name (builder, "tags");
      json_builder_begin_array (builder);
      for (guint i = 0; i < instance->tags->len; i++)
        json_builder_add_string_value (builder, instance->tags->pdata[i]);
      json_builder_end_array (builder);
    }
  add_optional_string (builder, "access_ipv4", instance->access_ipv4);
  add_optional_string (builder, "access_ipv6", instance->access_ipv6);
  add_optional_string (builder, "locked_by", instance->locked_by);
  add_optional_string (builder, "locked_reason", instance->locked_reason);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

char *
nlx_instance_to_data (const NlxInstance *instance)
{
  g_autoptr(JsonNode) node = nlx_instance_to_node (instance);

  return json_to_string (node, TRUE);
}

/**
 * nlx_time_to_string:
 * @time: a time
 *
 * @time in UTC as ISO 8601 with a four-digit year ("0362-11-23T10:00:00Z"),
 * the form records and the API use.  g_date_time_format()'s "%Y" drops
 * leading zeros, which g_date_time_new_from_iso8601() then refuses.
 *
 * Returns: (transfer full): the text
 */
char *
nlx_time_to_string (GDateTime *time)
{
  g_autoptr(GDateTime) utc = g_date_time_to_utc (time);

  g_return_val_if_fail (utc != NULL, NULL);
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02dZ",
                          g_date_time_get_year (utc),
                          g_date_time_get_month (utc),
                          g_date_time_get_day_of_month (utc),
                          g_date_time_get_hour (utc),
                          g_date_time_get_minute (utc),
                          g_date_time_get_second (utc));
}
