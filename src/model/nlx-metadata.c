/* nlx-metadata.c: what Nova's metadata service and config drive give an
 * instance
 *
 * The same content in both of Nova's layouts, shaped as Nova's
 * nova/api/metadata/base.py gives it, so that cloud-init's OpenStack,
 * ConfigDrive and Ec2 datasources (and any other client of Nova's) read
 * an instance of ours as one of Nova's:
 *
 *   /openstack                       the dated versions and "latest"
 *   /openstack/V                     what V has (meta_data.json, ...)
 *   /openstack/V/meta_data.json      identity, keys, host name, metadata
 *   /openstack/V/user_data           the user data, decoded (404 if none)
 *   /openstack/V/password            empty: no password was ever posted
 *   /openstack/V/network_data.json   the instance's one fixed IPv4 address
 *   /openstack/V/vendor_data.json    {}  (no vendor data configured)
 *   /openstack/V/vendor_data2.json   {"static": {}}, as Nova's default
 *   /, /ec2                          the EC2 versions and "latest"
 *   /V/meta-data/...                 EC2's tree (instance-id, ...)
 *   /V/user-data                     the user data (404 if none)
 *
 * Directory listings are text/plain, one name a line, no final newline,
 * names of subdirectories ending in "/" (and public-keys/ listing
 * "0=KEYNAME"), as Nova's ec2_md_print() gives them.  Fields appear from
 * the version Nova added them in.  What a container has no equivalent
 * of is left out rather than invented: no block-device-mapping, no
 * kernel or ramdisk ids, no DNS servers, no floating address.
 *
 * Identifiers Nova takes from its database are made from the instance
 * instead, stable across restarts and rebuilds: instance-id is "i-" and
 * the first eight hex digits of the uuid (the same digits as the domain
 * name, instance-XXXXXXXX, as Nova's i-%08x and instance-%08x share
 * its id), reservation-id "r-" and eight of the SHA-256 of the uuid,
 * ami-id "ami-" and eight of the SHA-256 of the image reference
 * (ami-00000000 for a root volume).
 *
 * Pure functions of the instance (but for meta_data.json's random_seed,
 * fresh each time as Nova's): no clock, no connection. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "common/nlx-file.h"
#include "model/nlx-address.h"
#include "model/nlx-keypair.h"
#include "model/nlx-metadata.h"

G_DEFINE_QUARK (nlx-metadata-error-quark, nlx_metadata_error)

#define LATEST "latest"
#define AVAILABILITY_ZONE "nova"
#define SECURITY_GROUP "default"
/* Nova's random_seed: 512 bytes, base64. */
#define RANDOM_SEED_BYTES 512
/* A veth's default; the bridge does not lower it. */
#define LINK_MTU 1500

/* Nova's EC2 versions, oldest first; "latest" is the last. */
static const char * const ec2_versions[] = {
  "1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10",
  "2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04",
};
enum {
  EC2_1_0, EC2_2007_01_19, EC2_2007_03_01, EC2_2007_08_29, EC2_2007_10_10,
  EC2_2007_12_15, EC2_2008_02_01, EC2_2008_09_01, EC2_2009_04_04,
};

/* Nova's OpenStack versions (Folsom to Epoxy), oldest first. */
static const char * const openstack_versions[] = {
  "2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30",
  "2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14", "2025-04-04",
};
enum {
  FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY,
  VICTORIA, EPOXY,
};

#define MD_JSON "meta_data.json"
#define UD_NAME "user_data"
#define PASSWORD "password"
#define VD_JSON "vendor_data.json"
#define NW_JSON "network_data.json"
#define VD2_JSON "vendor_data2.json"

/* An EC2 tree member whose listing shows this instead of "NAME/". */
#define EC2_LISTING_NAME "_name"

static int
version_index (const char * const *versions,
               gsize n_versions,
               const char *version)
{
  if (g_str_equal (version, LATEST))
    return (int) n_versions - 1;
  for (gsize i = 0; i < n_versions; i++)
    if (g_str_equal (versions[i], version))
      return (int) i;
  return -1;
}

static GBytes *
not_found (const char *path,
           GError **error)
{
  g_autofree char *shown = g_strescape (path, NULL);

  g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_NOT_FOUND,
               _("No metadata at “%s”"), shown);
  return NULL;
}

static GBytes *
text (const char *string,
      const char **content_type,
      const char *type)
{
  *content_type = type;
  return g_bytes_new (string, strlen (string));
}

static GBytes *
take_text (char *string,
           const char **content_type,
           const char *type)
{
  *content_type = type;
  return g_bytes_new_take (string, strlen (string));
}

static char *
to_json (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static char *
short_digest (const char *text)
{
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
                                                           text, -1);

  return g_strndup (digest, 8);
}

/* The user data, decoded, or %NULL when it has none.  The API checked
 * that it is base64. */
static GBytes *
user_data (const NlxInstance *instance)
{
  guchar *data;
  gsize length = 0;

  if (instance->user_data == NULL)
    return NULL;
  if (instance->user_data[0] == '\0')
    return g_bytes_new (NULL, 0);
  data = g_base64_decode (instance->user_data, &length);
  return g_bytes_new_take (data, length);
}

static gboolean
has_key (const NlxInstance *instance)
{
  return instance->key_name != NULL && instance->key_data != NULL;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* ---- the OpenStack layout ----------------------------------------------- */

static char *
meta_data_json (const NlxInstance *instance,
                int version,
                GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *storage = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "uuid");
  json_builder_add_string_value (builder, instance->uuid);
  if (instance->metadata != NULL && g_hash_table_size (instance->metadata) > 0)
    {
      g_autofree const char **keys = (const char **)
        g_hash_table_get_keys_as_array (instance->metadata, NULL);
      guint n = g_hash_table_size (instance->metadata);

      /* Sorted, so that two lookups give the same text. */
      qsort (keys, n, sizeof *keys, compare_names);
      json_builder_set_member_name (builder, "meta");
      json_builder_begin_object (builder);
      for (guint i = 0; i < n; i++)
        {
          json_builder_set_member_name (builder, keys[i]);
          json_builder_add_string_value (builder,
                                         g_hash_table_lookup (instance->metadata,
                                                              keys[i]));
        }
      json_builder_end_object (builder);
    }
  if (has_key (instance))
    {
      json_builder_set_member_name (builder, "public_keys");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, instance->key_name);
      json_builder_add_string_value (builder, instance->key_data);
      json_builder_end_object (builder);
      json_builder_set_member_name (builder, "keys");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, instance->key_name);
      /* As Nova's: an x509 key pair's certificate is in public_keys too
       * (key_data is whatever the key pair held), and "keys" says which
       * it is, where cloudbase-init looks for its WinRM certificate. */
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder,
        nlx_keypair_type_to_string (
          nlx_keypair_type_of_public_key (instance->key_data)));
      json_builder_set_member_name (builder, "data");
      json_builder_add_string_value (builder, instance->key_data);
      json_builder_end_object (builder);
      json_builder_end_array (builder);
    }
  json_builder_set_member_name (builder, "hostname");
  json_builder_add_string_value (builder,
                                 nlx_instance_hostname (instance, &storage));
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, instance->name);
  json_builder_set_member_name (builder, "launch_index");
  json_builder_add_int_value (builder, 0);
  json_builder_set_member_name (builder, "availability_zone");
  json_builder_add_string_value (builder, AVAILABILITY_ZONE);
  if (version >= GRIZZLY)
    {
      guchar seed[RANDOM_SEED_BYTES];
      g_autofree char *encoded = NULL;

      if (getrandom (seed, sizeof seed, 0) != (ssize_t) sizeof seed)
        {
          g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_FAILED,
                       _("Cannot make the random seed of instance %s: %s"),
                       instance->uuid, g_strerror (errno));
          return NULL;
        }
      encoded = g_base64_encode (seed, sizeof seed);
      json_builder_set_member_name (builder, "random_seed");
      json_builder_add_string_value (builder, encoded);
    }
  if (version >= LIBERTY)
    {
      json_builder_set_member_name (builder, "project_id");
      json_builder_add_string_value (builder, instance->project_id);
    }
  /* No device carries tags, so Nova would list none either. */
  if (version >= NEWTON_ONE)
    {
      json_builder_set_member_name (builder, "devices");
      json_builder_begin_array (builder);
      json_builder_end_array (builder);
    }
  if (version >= VICTORIA)
    {
      json_builder_set_member_name (builder, "dedicated_cpus");
      json_builder_begin_array (builder);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  return to_json (builder);
}

/* Nova's network_data.json for one port with a fixed address on a
 * subnet without DHCP: a static ipv4 network with the default route. */
static char *
network_data_json (const NlxInstance *instance)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  const NlxVif *vif = instance->vif;
  g_autofree char *netmask = NULL;

  json_builder_begin_object (builder);
  if (vif == NULL)
    {
      json_builder_end_object (builder);
      return to_json (builder);
    }
  netmask = nlx_address_format_ipv4 (nlx_address_netmask (vif->prefix));

  json_builder_set_member_name (builder, "links");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  /* Nova's name when the port has no device name. */
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, "interface0");
  /* One port per instance, which has no id of its own. */
  json_builder_set_member_name (builder, "vif_id");
  json_builder_add_string_value (builder, instance->uuid);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "bridge");
  json_builder_set_member_name (builder, "mtu");
  json_builder_add_int_value (builder, LINK_MTU);
  json_builder_set_member_name (builder, "ethernet_mac_address");
  json_builder_add_string_value (builder, vif->mac);
  json_builder_end_object (builder);
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "networks");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, "network0");
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "ipv4");
  json_builder_set_member_name (builder, "link");
  json_builder_add_string_value (builder, "interface0");
  json_builder_set_member_name (builder, "ip_address");
  json_builder_add_string_value (builder, vif->address);
  json_builder_set_member_name (builder, "netmask");
  json_builder_add_string_value (builder, netmask);
  json_builder_set_member_name (builder, "routes");
  json_builder_begin_array (builder);
  if (vif->gateway != NULL)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "network");
      json_builder_add_string_value (builder, "0.0.0.0");
      json_builder_set_member_name (builder, "netmask");
      json_builder_add_string_value (builder, "0.0.0.0");
      json_builder_set_member_name (builder, "gateway");
      json_builder_add_string_value (builder, vif->gateway);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  /* The bridge is the network. */
  json_builder_set_member_name (builder, "network_id");
  json_builder_add_string_value (builder, vif->bridge);
  json_builder_set_member_name (builder, "services");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "services");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return to_json (builder);
}

/* What /openstack/V lists, in Nova's order. */
static GStrv
openstack_files (const NlxInstance *instance,
                 int version)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();

  g_strv_builder_add (names, MD_JSON);
  if (instance->user_data != NULL)
    g_strv_builder_add (names, UD_NAME);
  if (version >= GRIZZLY)
    g_strv_builder_add (names, PASSWORD);
  if (version >= HAVANA)
    g_strv_builder_add (names, VD_JSON);
  if (version >= LIBERTY)
    g_strv_builder_add (names, NW_JSON);
  if (version >= NEWTON_TWO)
    g_strv_builder_add (names, VD2_JSON);
  return g_strv_builder_end (names);
}

static GBytes *
openstack_file (const NlxInstance *instance,
                int version,
                const char *name,
                const char *path,
                const char **content_type,
                GError **error)
{
  g_auto(GStrv) names = openstack_files (instance, version);
  char *json;

  if (!g_strv_contains ((const char * const *) names, name))
    return not_found (path, error);
  if (g_str_equal (name, MD_JSON))
    {
      json = meta_data_json (instance, version, error);
      return json ? take_text (json, content_type, NLX_METADATA_JSON) : NULL;
    }
  if (g_str_equal (name, UD_NAME))
    {
      *content_type = NLX_METADATA_TEXT;
      return user_data (instance);
    }
  /* A password is only ever posted to the metadata service (not
   * here); until then Nova gives an empty one. */
  if (g_str_equal (name, PASSWORD))
    return text ("", content_type, NLX_METADATA_TEXT);
  if (g_str_equal (name, VD_JSON))
    return text ("{}", content_type, NLX_METADATA_JSON);
  /* Nova leaves this one text/plain. */
  if (g_str_equal (name, NW_JSON))
    return take_text (network_data_json (instance), content_type,
                      NLX_METADATA_TEXT);
  /* Nova's default providers: the static one, with no file. */
  return text ("{\"static\":{}}", content_type, NLX_METADATA_JSON);
}

static char *
join_lines (const char * const *lines,
            gsize n_lines,
            gboolean with_latest)
{
  g_autoptr(GString) listing = g_string_new (NULL);

  for (gsize i = 0; i < n_lines; i++)
    g_string_append_printf (listing, "%s%s", i ? "\n" : "", lines[i]);
  if (with_latest)
    g_string_append (listing, n_lines ? "\n" LATEST : LATEST);
  return g_string_free (g_steal_pointer (&listing), FALSE);
}

static GBytes *
lookup_openstack (const NlxInstance *instance,
                  char **tokens,
                  guint n_tokens,
                  const char *path,
                  const char **content_type,
                  GError **error)
{
  int version;

  if (n_tokens == 0)
    return take_text (join_lines (openstack_versions,
                                  G_N_ELEMENTS (openstack_versions), TRUE),
                      content_type, NLX_METADATA_TEXT);
  version = version_index (openstack_versions,
                           G_N_ELEMENTS (openstack_versions), tokens[0]);
  if (version < 0 || n_tokens > 2)
    return not_found (path, error);
  if (n_tokens == 1)
    {
      g_auto(GStrv) names = openstack_files (instance, version);

      return take_text (join_lines ((const char * const *) names,
                                    g_strv_length (names), FALSE),
                        content_type, NLX_METADATA_TEXT);
    }
  return openstack_file (instance, version, tokens[1], path, content_type,
                         error);
}

/* ---- the EC2 layout ----------------------------------------------------- */

static void
add_string (JsonBuilder *builder,
            const char *name,
            const char *value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

/* EC2's meta-data tree for @version as Nova's get_ec2_metadata() has
 * it; with @listing_names, public-keys/0 carries the "0=NAME" its
 * parent's listing shows (the config drive's JSON has none). */
static JsonNode *
ec2_meta_data (const NlxInstance *instance,
               int version,
               gboolean listing_names)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *storage = NULL;
  const char *hostname = nlx_instance_hostname (instance, &storage);
  g_autofree char *instance_id = g_strdup_printf ("i-%.8s", instance->uuid);
  g_autofree char *reservation = short_digest (instance->uuid);
  g_autofree char *reservation_id = g_strdup_printf ("r-%s", reservation);
  g_autofree char *image = instance->image_ref
                             ? short_digest (instance->image_ref)
                             : g_strdup ("00000000");
  g_autofree char *ami_id = g_strdup_printf ("ami-%s", image);

  json_builder_begin_object (builder);
  add_string (builder, "ami-id", ami_id);
  json_builder_set_member_name (builder, "ami-launch-index");
  json_builder_add_int_value (builder, 0);
  /* Nova's own value. */
  add_string (builder, "ami-manifest-path", "FIXME");
  add_string (builder, "instance-id", instance_id);
  add_string (builder, "hostname", hostname);
  add_string (builder, "local-ipv4",
              instance->vif ? instance->vif->address : "");
  add_string (builder, "reservation-id", reservation_id);
  json_builder_set_member_name (builder, "security-groups");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, SECURITY_GROUP);
  json_builder_end_array (builder);
  if (has_key (instance))
    {
      g_autofree char *name = g_strdup_printf ("0=%s", instance->key_name);

      json_builder_set_member_name (builder, "public-keys");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "0");
      json_builder_begin_object (builder);
      if (listing_names)
        add_string (builder, EC2_LISTING_NAME, name);
      add_string (builder, "openssh-key", instance->key_data);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
    }
  if (version >= EC2_2007_01_19)
    {
      add_string (builder, "local-hostname", hostname);
      add_string (builder, "public-hostname", hostname);
      add_string (builder, "public-ipv4", "");
    }
  if (version >= EC2_2007_08_29)
    add_string (builder, "instance-type", instance->flavor.name);
  if (version >= EC2_2008_02_01)
    {
      json_builder_set_member_name (builder, "placement");
      json_builder_begin_object (builder);
      add_string (builder, "availability-zone", AVAILABILITY_ZONE);
      json_builder_end_object (builder);
    }
  if (version >= EC2_2008_09_01)
    add_string (builder, "instance-action", "none");
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* Nova's ec2_md_print(): a directory's names sorted, subdirectories
 * with "/" unless they carry a listing name; a list's items; a value. */
static char *
ec2_print (JsonNode *node)
{
  g_autoptr(GString) out = g_string_new (NULL);

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr(GList) members = json_object_get_members (object);
      g_autoptr(GPtrArray) names = g_ptr_array_new ();

      for (GList *l = members; l != NULL; l = l->next)
        if (!g_str_equal (l->data, EC2_LISTING_NAME))
          g_ptr_array_add (names, l->data);
      g_ptr_array_sort (names, compare_names);
      for (guint i = 0; i < names->len; i++)
        {
          const char *name = names->pdata[i];
          JsonNode *child = json_object_get_member (object, name);

          if (i > 0)
            g_string_append_c (out, '\n');
          if (JSON_NODE_HOLDS_OBJECT (child) &&
              json_object_has_member (json_node_get_object (child),
                                      EC2_LISTING_NAME))
            g_string_append (out,
                             json_object_get_string_member (json_node_get_object (child),
                                                            EC2_LISTING_NAME));
          else if (JSON_NODE_HOLDS_OBJECT (child))
            g_string_append_printf (out, "%s/", name);
          else
            g_string_append (out, name);
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        g_string_append_printf (out, "%s%s", i ? "\n" : "",
                                json_array_get_string_element (array, i));
    }
  else if (json_node_get_value_type (node) == G_TYPE_INT64)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
  else
    g_string_append (out, json_node_get_string (node));
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static GBytes *
lookup_ec2 (const NlxInstance *instance,
            char **tokens,
            guint n_tokens,
            const char *path,
            const char **content_type,
            GError **error)
{
  g_autoptr(JsonNode) meta_data = NULL;
  JsonNode *node;
  int version;

  if (n_tokens == 0)
    return take_text (join_lines (ec2_versions, G_N_ELEMENTS (ec2_versions),
                                  TRUE),
                      content_type, NLX_METADATA_TEXT);
  version = version_index (ec2_versions, G_N_ELEMENTS (ec2_versions),
                           tokens[0]);
  if (version < 0)
    return not_found (path, error);
  if (n_tokens == 1)
    return text (instance->user_data ? "meta-data/\nuser-data" : "meta-data/",
                 content_type, NLX_METADATA_TEXT);
  if (g_str_equal (tokens[1], "user-data"))
    {
      if (n_tokens > 2 || instance->user_data == NULL)
        return not_found (path, error);
      *content_type = NLX_METADATA_TEXT;
      return user_data (instance);
    }
  if (!g_str_equal (tokens[1], "meta-data"))
    return not_found (path, error);
  meta_data = ec2_meta_data (instance, version, TRUE);
  node = meta_data;
  for (guint i = 2; i < n_tokens; i++)
    {
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (node)
                             ? json_node_get_object (node) : NULL;

      if (object == NULL || g_str_equal (tokens[i], EC2_LISTING_NAME) ||
          !json_object_has_member (object, tokens[i]))
        return not_found (path, error);
      node = json_object_get_member (object, tokens[i]);
    }
  return take_text (ec2_print (node), content_type, NLX_METADATA_TEXT);
}

/* ---- requests ----------------------------------------------------------- */

/* The path's names, as Nova's posixpath.normpath() leaves them: no query,
 * no empty names or ".", and ".." taking away the name before it (never
 * above the top, which is all there is to reach: nothing here is a
 * file).  Returns %NULL if the path is too long to be one of ours. */
static GPtrArray *
split_path (const char *path)
{
  g_autoptr(GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *copy = NULL;
  g_auto(GStrv) names = NULL;
  char *query;

  if (strlen (path) > NLX_METADATA_PATH_MAX)
    return NULL;
  copy = g_strdup (path);
  query = strchr (copy, '?');
  if (query != NULL)
    *query = '\0';
  names = g_strsplit (copy, "/", -1);
  for (char **name = names; *name != NULL; name++)
    {
      if (**name == '\0' || g_str_equal (*name, "."))
        continue;
      if (g_str_equal (*name, ".."))
        {
          if (tokens->len > 0)
            g_ptr_array_remove_index (tokens, tokens->len - 1);
          continue;
        }
      g_ptr_array_add (tokens, g_strdup (*name));
    }
  g_ptr_array_add (tokens, NULL);
  return g_steal_pointer (&tokens);
}

/**
 * nlx_metadata_lookup:
 * @instance: the instance asking
 * @path: the request's path, percent-decoded, such as
 *   "/openstack/latest/meta_data.json" or "/latest/meta-data/"; a query
 *   is ignored, "//", "." and ".." are resolved as Nova does
 * @content_type: (out): set to a static string, %NLX_METADATA_TEXT or
 *   %NLX_METADATA_JSON
 * @error: return location for a #NLX_METADATA_ERROR_NOT_FOUND when
 *   nothing is at @path (user data of an instance without any, a key of
 *   an instance without one, an unknown version, a path longer than
 *   %NLX_METADATA_PATH_MAX), or #NLX_METADATA_ERROR_FAILED
 *
 * Answers a request to the metadata service as Nova's does for
 * @instance, in the OpenStack (/openstack/...) or the EC2 layout
 * (anything else, or /ec2/...).  See the top of nlx-metadata.c.
 *
 * Returns: (transfer full): the body, or %NULL
 */
GBytes *
nlx_metadata_lookup (const NlxInstance *instance,
                     const char *path,
                     const char **content_type,
                     GError **error)
{
  g_autoptr(GPtrArray) tokens = NULL;
  char **names;
  guint n;

  g_return_val_if_fail (instance != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (content_type != NULL, NULL);

  tokens = split_path (path);
  if (tokens == NULL)
    {
      g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_NOT_FOUND,
                   _("No metadata at a path of %zu bytes: paths are at most "
                     "%d bytes long"), strlen (path), NLX_METADATA_PATH_MAX);
      return NULL;
    }
  names = (char **) tokens->pdata;
  n = tokens->len - 1;
  if (n > 0 && g_str_equal (names[0], "openstack"))
    return lookup_openstack (instance, names + 1, n - 1, path, content_type,
                             error);
  if (n > 0 && g_str_equal (names[0], "ec2"))
    return lookup_ec2 (instance, names + 1, n - 1, path, content_type, error);
  return lookup_ec2 (instance, names, n, path, content_type, error);
}

/* ---- the config drive --------------------------------------------------- */

static gboolean
make_dir (const char *path,
          GError **error)
{
  /* Explicitly, whatever the daemon's umask: the instance's root reads
   * it as "others". */
  if (g_mkdir (path, 0755) != 0 || g_chmod (path, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_FAILED,
                   _("Cannot create directory %s of the config drive: %s"),
                   path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_file (const char *dir,
            const char *name,
            GBytes *contents,
            GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  gsize length = 0;
  const char *data = g_bytes_get_data (contents, &length);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 0644);
  gboolean ok = fd >= 0 && fchmod (fd, 0644) == 0;
  int saved_errno;

  while (ok && length > 0)
    {
      ssize_t written = write (fd, data, length);

      if (written < 0 && errno == EINTR)
        continue;
      ok = written > 0;
      if (ok)
        {
          data += written;
          length -= (gsize) written;
        }
    }
  saved_errno = errno;
  if (fd >= 0 && close (fd) != 0 && ok)
    {
      saved_errno = errno;
      ok = FALSE;
    }
  if (!ok)
    g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_FAILED,
                 _("Cannot write %s of the config drive: %s"), path,
                 g_strerror (saved_errno));
  return ok;
}

static gboolean
write_lookup (const NlxInstance *instance,
              const char *dir,
              const char *version,
              const char *name,
              GError **error)
{
  g_autofree char *path = g_strdup_printf ("/openstack/%s/%s", version, name);
  const char *content_type;
  g_autoptr(GBytes) contents = nlx_metadata_lookup (instance, path,
                                                    &content_type, error);

  return contents != NULL && write_file (dir, name, contents, error);
}

static gboolean
write_tree (const NlxInstance *instance,
            const char *top,
            GError **error)
{
  g_autofree char *ec2 = g_build_filename (top, "ec2", NULL);
  g_autofree char *openstack = g_build_filename (top, "openstack", NULL);
  g_autoptr(GBytes) data = user_data (instance);

  if (!make_dir (ec2, error) || !make_dir (openstack, error))
    return FALSE;
  /* Nova's metadata_for_config_drive(): every version and "latest",
   * EC2's meta-data as one JSON document. */
  for (gsize i = 0; i <= G_N_ELEMENTS (ec2_versions); i++)
    {
      const char *name = i < G_N_ELEMENTS (ec2_versions) ? ec2_versions[i]
                                                          : LATEST;
      g_autofree char *dir = g_build_filename (ec2, name, NULL);
      g_autoptr(JsonNode) meta_data =
        ec2_meta_data (instance, version_index (ec2_versions,
                                                G_N_ELEMENTS (ec2_versions),
                                                name), FALSE);
      char *json = json_to_string (meta_data, FALSE);
      gsize length = strlen (json);
      g_autoptr(GBytes) contents = g_bytes_new_take (json, length);

      if (!make_dir (dir, error) ||
          (data != NULL && !write_file (dir, "user-data", data, error)) ||
          !write_file (dir, "meta-data.json", contents, error))
        return FALSE;
    }
  for (gsize i = 0; i <= G_N_ELEMENTS (openstack_versions); i++)
    {
      const char *name = i < G_N_ELEMENTS (openstack_versions)
                           ? openstack_versions[i] : LATEST;
      g_autofree char *dir = g_build_filename (openstack, name, NULL);
      g_auto(GStrv) files =
        openstack_files (instance,
                         version_index (openstack_versions,
                                        G_N_ELEMENTS (openstack_versions),
                                        name));

      if (!make_dir (dir, error))
        return FALSE;
      /* The password is for the service only, as Nova's drive. */
      for (char **file = files; *file != NULL; file++)
        if (!g_str_equal (*file, PASSWORD) &&
            !write_lookup (instance, dir, name, *file, error))
          return FALSE;
    }
  return TRUE;
}

/**
 * nlx_metadata_write_config_drive:
 * @instance: the instance
 * @dir: the directory to hold the tree; made, or replaced if it exists;
 *   its parent must exist
 * @error: return location for a #NLX_METADATA_ERROR_FAILED
 *
 * Writes the config drive's tree as Nova's: ec2/V/meta-data.json and
 * user-data, openstack/V/meta_data.json, user_data, vendor_data.json,
 * network_data.json and vendor_data2.json for every version Nova has
 * and "latest".  Directories are mode 0755 and files 0644 whatever the
 * umask, so that any user may read them and only their owner (the
 * caller, not the instance) write them.  Written beside @dir first and
 * renamed into place: @dir holds the whole tree or what it held before.
 *
 * Returns: %TRUE if @dir holds the tree
 */
gboolean
nlx_metadata_write_config_drive (const NlxInstance *instance,
                                 const char *dir,
                                 GError **error)
{
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *base = g_path_get_basename (dir);
  g_autofree char *tmpl = g_strdup_printf ("%s/.%s-XXXXXX", parent, base);
  g_autofree char *old = NULL;
  g_autoptr(GError) local_error = NULL;
  char *top;

  top = g_mkdtemp_full (tmpl, 0700);
  if (top == NULL)
    {
      g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_FAILED,
                   _("Cannot create the config drive of instance %s in %s: "
                     "%s"), instance->uuid, parent, g_strerror (errno));
      return FALSE;
    }
  /* 0700 until it is whole. */
  if (!write_tree (instance, top, error) || g_chmod (top, 0755) != 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_FAILED,
                     _("Cannot create the config drive of instance %s in "
                       "%s: %s"), instance->uuid, parent, g_strerror (errno));
      nlx_file_remove_tree (top, NULL);
      return FALSE;
    }
  if (g_file_test (dir, G_FILE_TEST_EXISTS))
    {
      old = g_strdup_printf ("%s/.%s-old-XXXXXX", parent, base);
      if (g_mkdtemp (old) == NULL || rename (dir, old) != 0)
        {
          g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_FAILED,
                       _("Cannot replace the config drive %s: %s"), dir,
                       g_strerror (errno));
          if (old != NULL)
            g_rmdir (old);
          nlx_file_remove_tree (top, NULL);
          return FALSE;
        }
    }
  if (rename (top, dir) != 0)
    {
      g_set_error (error, NLX_METADATA_ERROR, NLX_METADATA_ERROR_FAILED,
                   _("Cannot put the config drive in place at %s: %s"), dir,
                   g_strerror (errno));
      nlx_file_remove_tree (top, NULL);
      if (old != NULL)
        rename (old, dir);
      return FALSE;
    }
  if (old != NULL && !nlx_file_remove_tree (old, &local_error))
    g_warning ("The previous config drive stays at %s: %s", old,
               local_error->message);
  return TRUE;
}
