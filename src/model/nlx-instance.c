/* nlx-instance.c: the instance model: freeing, names derived from it,
 * its attachments (its JSON form is in nlx-instance-json.c) */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "common/nlx-json.h"
#include "model/nlx-instance.h"

NlxVif *
nlx_vif_new (const char *bridge,
             const char *mac,
             const char *address,
             guint prefix,
             const char *gateway)
{
  NlxVif *vif = g_new0 (NlxVif, 1);

  vif->bridge = g_strdup (bridge);
  vif->mac = g_strdup (mac);
  vif->address = g_strdup (address);
  vif->prefix = prefix;
  vif->gateway = g_strdup (gateway);
  return vif;
}

void
nlx_vif_free (NlxVif *vif)
{
  if (vif == NULL)
    return;
  g_free (vif->bridge);
  g_free (vif->mac);
  g_free (vif->address);
  g_free (vif->gateway);
  g_free (vif);
}

void
nlx_instance_free (NlxInstance *instance)
{
  if (instance == NULL)
    return;
  g_free (instance->uuid);
  g_free (instance->name);
  g_free (instance->flavor.name);
  g_free (instance->image_ref);
  g_free (instance->root_volume);
  g_clear_pointer (&instance->volumes, g_ptr_array_unref);
  nlx_vif_free (instance->vif);
  g_free (instance->user_id);
  g_free (instance->project_id);
  g_clear_pointer (&instance->metadata, g_hash_table_unref);
  g_clear_pointer (&instance->created_at, g_date_time_unref);
  g_free (instance->hostname);
  g_free (instance->user_data);
  g_free (instance->key_name);
  g_free (instance->key_data);
  g_free (instance->description);
  g_clear_pointer (&instance->tags, g_ptr_array_unref);
  g_free (instance->access_ipv4);
  g_free (instance->access_ipv6);
  g_free (instance->locked_by);
  g_free (instance->locked_reason);
  g_free (instance);
}

/**
 * nlx_instance_domain_name:
 * @instance: an instance
 *
 * The libvirt domain name: "instance-" and the first eight hex digits of
 * the uuid, short enough to type in virsh and derived, never stored.
 *
 * Returns: (transfer full): the domain name
 */
char *
nlx_instance_domain_name (const NlxInstance *instance)
{
  return g_strdup_printf ("instance-%.8s", instance->uuid);
}

/**
 * nlx_hostname_is_valid:
 * @hostname: a host name
 *
 * Returns: whether @hostname is one DNS label of lower-case letters,
 *   digits and "-", neither starting nor ending with "-"
 */
gboolean
nlx_hostname_is_valid (const char *hostname)
{
  gsize length = strlen (hostname);

  if (length == 0 || length > NLX_HOSTNAME_MAX ||
      hostname[0] == '-' || hostname[length - 1] == '-')
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!(g_ascii_islower (hostname[i]) || g_ascii_isdigit (hostname[i]) ||
          hostname[i] == '-'))
      return FALSE;
  return TRUE;
}

/**
 * nlx_description_is_valid:
 * @description: a server description
 *
 * Returns: whether @description is what Nova takes: UTF-8, at most
 *   %NLX_DESCRIPTION_MAX characters, no control characters; "" is valid
 */
gboolean
nlx_description_is_valid (const char *description)
{
  return description[0] == '\0' ||
         nlx_json_text_is_valid (description, NLX_DESCRIPTION_MAX);
}

/**
 * nlx_tag_is_valid:
 * @tag: a server tag
 *
 * Returns: whether @tag is what Nova takes: 1 to %NLX_TAG_MAX characters,
 *   without "/" (it is a path segment) or "," (the list filters' separator)
 *   and without control characters
 */
gboolean
nlx_tag_is_valid (const char *tag)
{
  return nlx_json_text_is_valid (tag, NLX_TAG_MAX) &&
         strpbrk (tag, "/,") == NULL;
}

/**
 * nlx_access_ip_is_valid:
 * @address: an accessIPv4 or accessIPv6
 * @family: AF_INET or AF_INET6
 *
 * Returns: whether @address is one address of @family in its usual text
 *   form (dotted quad; RFC 4291's), as Nova's schema takes it
 */
gboolean
nlx_access_ip_is_valid (const char *address,
                        int family)
{
  struct in6_addr storage;

  return inet_pton (family, address, &storage) == 1;
}

/**
 * nlx_access_ip_normalize:
 * @address: an accessIPv4 or accessIPv6
 * @family: AF_INET or AF_INET6
 *
 * Returns: (transfer full) (nullable): @address in its canonical text
 *   form (RFC 5952's for IPv6: "0:0:0:0:0:babe:220.12.22.2" is
 *   "::babe:dc0c:1602"), as Nova keeps and shows it; %NULL when it is not
 *   an address of @family
 */
char *
nlx_access_ip_normalize (const char *address,
                         int family)
{
  struct in6_addr storage;
  char text[INET6_ADDRSTRLEN];

  if (inet_pton (family, address, &storage) != 1 ||
      inet_ntop (family, &storage, text, sizeof text) == NULL)
    return NULL;
  return g_strdup (text);
}

gboolean
nlx_instance_has_tag (const NlxInstance *instance,
                      const char *tag)
{
  for (guint i = 0; instance->tags != NULL && i < instance->tags->len; i++)
    if (g_str_equal (instance->tags->pdata[i], tag))
      return TRUE;
  return FALSE;
}

/**
 * nlx_hostname_from_name:
 * @name: a server's display name
 * @uuid: the server's uuid
 *
 * The host name Nova gives a server from its display name: spaces, "_"
 * and "." become "-", every other character but ASCII letters, digits
 * and "-" is dropped, letters are lower-cased, leading and trailing "-"
 * are stripped and the result is cut to 63 characters.  Nova keeps
 * Latin-1 letters; a host name here is plain ASCII, which every resolver
 * and every guest accepts.  A name with nothing left gives
 * "server-UUID", as Nova's "Server-UUID" lower-cased.
 *
 * Returns: (transfer full): a host name for which nlx_hostname_is_valid()
 *   holds
 */
char *
nlx_hostname_from_name (const char *name,
                        const char *uuid)
{
  GString *hostname = g_string_new (NULL);
  gsize start = 0;

  for (const char *p = name; *p != '\0' && hostname->len < NLX_HOSTNAME_MAX;
       p++)
    {
      if (*p == ' ' || *p == '_' || *p == '.' || *p == '-')
        g_string_append_c (hostname, '-');
      else if (g_ascii_isalnum (*p))
        g_string_append_c (hostname, g_ascii_tolower (*p));
    }
  while (start < hostname->len && hostname->str[start] == '-')
    start++;
  g_string_erase (hostname, 0, start);
  while (hostname->len > 0 && hostname->str[hostname->len - 1] == '-')
    g_string_truncate (hostname, hostname->len - 1);
  if (hostname->len == 0)
    g_string_printf (hostname, "server-%.*s",
                     NLX_HOSTNAME_MAX - (int) strlen ("server-"), uuid);
  return g_string_free (hostname, FALSE);
}

/**
 * nlx_instance_hostname:
 * @instance: an instance
 * @storage: (out) (transfer full): set to a string to free when the host
 *   name had to be made, else to %NULL
 *
 * Returns: (transfer none): @instance's host name, made from its name
 *   for a record that has none
 */
const char *
nlx_instance_hostname (const NlxInstance *instance,
                       char **storage)
{
  *storage = NULL;
  if (instance->hostname != NULL)
    return instance->hostname;
  *storage = nlx_hostname_from_name (instance->name, instance->uuid);
  return *storage;
}

/**
 * nlx_instance_find_attachment:
 * @instance: an instance
 * @volume_id: (nullable): a volume id
 * @root: storage for the root volume's attachment, filled when
 *   @volume_id is @instance's root volume; it points into @instance
 *
 * The one view of what is attached to an instance that every answer
 * about volumes uses: the root volume is an attachment too, at device
 * and mount path %NLX_ROOT_VOLUME_DEVICE, beside the attached volumes.
 *
 * Returns: (transfer none) (nullable): @root or one of @instance's
 *   attachments, or %NULL when @volume_id is neither
 */
const NlxVolumeAttachment *
nlx_instance_find_attachment (const NlxInstance *instance,
                              const char *volume_id,
                              NlxVolumeAttachment *root)
{
  if (volume_id != NULL && g_strcmp0 (instance->root_volume, volume_id) == 0)
    {
      root->volume_id = instance->root_volume;
      root->device = (char *) NLX_ROOT_VOLUME_DEVICE;
      root->mount_path = (char *) NLX_ROOT_VOLUME_DEVICE;
      return root;
    }
  return nlx_instance_find_volume (instance, volume_id);
}

NlxVolumeAttachment *
nlx_instance_find_volume (const NlxInstance *instance,
                          const char *volume_id)
{
  for (guint i = 0; i < instance->volumes->len; i++)
    {
      NlxVolumeAttachment *attachment = instance->volumes->pdata[i];

      if (g_strcmp0 (attachment->volume_id, volume_id) == 0)
        return attachment;
    }
  return NULL;
}

NlxVolumeAttachment *
nlx_instance_find_device (const NlxInstance *instance,
                          const char *device)
{
  for (guint i = 0; i < instance->volumes->len; i++)
    {
      NlxVolumeAttachment *attachment = instance->volumes->pdata[i];

      if (g_strcmp0 (attachment->device, device) == 0)
        return attachment;
    }
  return NULL;
}

/**
 * nlx_instance_next_device:
 * @instance: an instance
 *
 * Returns: (transfer full) (nullable): the first of /dev/vdb to /dev/vdz
 * no attachment uses, or %NULL when all are taken
 */
char *
nlx_instance_next_device (const NlxInstance *instance)
{
  for (char letter = 'b'; letter <= 'z'; letter++)
    {
      g_autofree char *device = g_strdup_printf ("/dev/vd%c", letter);

      if (nlx_instance_find_device (instance, device) == NULL)
        return g_steal_pointer (&device);
    }
  return NULL;
}
