/* nlx-ipam.c: the IPv4 address allocator of instance networking
 *
 * The address allocator (NlxIpam) keeps one JSON file, replaced
 * atomically (temporary file, fsync, rename, fsync of the directory), so
 * an address handed out is on disk before anyone hears of it, and a crash
 * leaves the old file or the new one.  It is not thread-safe: the daemon
 * uses it from its main thread only, as it does the instance records. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "host/nlx-network-private.h"
#include "host/nlx-network.h"

/* Version of the allocation file's layout. */
#define IPAM_FILE_VERSION 1

/* ---- the address allocator ----------------------------------------------- */

typedef struct {
  char *uuid;
  guint32 addr;
  char *address;
} Allocation;

static void
allocation_free (Allocation *allocation)
{
  g_free (allocation->uuid);
  g_free (allocation->address);
  g_free (allocation);
}

struct _NlxIpam {
  char *path;
  char *cidr;
  guint32 network_addr;
  guint prefix;
  guint32 gateway_addr;
  guint32 range_start_addr;
  guint32 range_end_addr;
  GHashTable *by_uuid;  /* uuid → Allocation (owned) */
  GHashTable *by_addr;  /* GUINT_TO_POINTER (addr) → Allocation */
  /* The caller writes the file (nlx_ipam_to_data()): changes are made in
   * memory only. */
  gboolean deferred;
};

void
nlx_ipam_free (NlxIpam *ipam)
{
  if (ipam == NULL)
    return;
  g_clear_pointer (&ipam->by_addr, g_hash_table_unref);
  g_clear_pointer (&ipam->by_uuid, g_hash_table_unref);
  g_free (ipam->path);
  g_free (ipam->cidr);
  g_free (ipam);
}

static Allocation *
ipam_add (NlxIpam *ipam,
          const char *uuid,
          guint32 addr)
{
  Allocation *allocation = g_new0 (Allocation, 1);

  allocation->uuid = g_strdup (uuid);
  allocation->addr = addr;
  allocation->address = nlx_address_format_ipv4 (addr);
  g_hash_table_insert (ipam->by_uuid, allocation->uuid, allocation);
  g_hash_table_insert (ipam->by_addr, GUINT_TO_POINTER (addr), allocation);
  return allocation;
}

static void
ipam_remove (NlxIpam *ipam,
             Allocation *allocation)
{
  g_hash_table_remove (ipam->by_addr, GUINT_TO_POINTER (allocation->addr));
  g_hash_table_remove (ipam->by_uuid, allocation->uuid);  /* frees it */
}

static gint
compare_by_address (gconstpointer a,
                    gconstpointer b)
{
  const Allocation *x = *(Allocation * const *) a;
  const Allocation *y = *(Allocation * const *) b;

  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The allocations, in address order (g_hash_table_get_values_as_ptr_array()
 * is newer than the GLib we target). */
static GPtrArray *
sorted_allocations (NlxIpam *ipam)
{
  GPtrArray *sorted = g_ptr_array_sized_new (g_hash_table_size (ipam->by_uuid));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, ipam->by_uuid);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sorted, value);
  g_ptr_array_sort (sorted, compare_by_address);
  return sorted;
}

/**
 * nlx_ipam_to_data:
 *
 * The allocation file's text, as memory has it: every allocation, sorted
 * by address so that a person can read the file.
 *
 * Returns: (transfer full): the text
 */
char *
nlx_ipam_to_data (NlxIpam *ipam)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(GPtrArray) sorted = sorted_allocations (ipam);
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, IPAM_FILE_VERSION);
  json_builder_set_member_name (builder, "cidr");
  json_builder_add_string_value (builder, ipam->cidr);
  json_builder_set_member_name (builder, "allocations");
  json_builder_begin_object (builder);
  for (guint i = 0; i < sorted->len; i++)
    {
      Allocation *allocation = sorted->pdata[i];

      json_builder_set_member_name (builder, allocation->uuid);
      json_builder_add_string_value (builder, allocation->address);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, TRUE);
}

/* The allocation file's path. */
const char *
nlx_ipam_get_path (NlxIpam *ipam)
{
  return ipam->path;
}

/**
 * nlx_ipam_set_deferred:
 * @deferred: whether the caller writes the file
 *
 * From now on, allocate, reserve and release change the allocations in
 * memory only, and the caller writes nlx_ipam_to_data() to
 * nlx_ipam_get_path() durably (the compute daemon's record store does,
 * off its main loop).  The records are the truth the file is rebuilt
 * from at every start, so a write that is late or lost loses nothing.
 */
void
nlx_ipam_set_deferred (NlxIpam *ipam,
                       gboolean deferred)
{
  ipam->deferred = deferred;
}

/* The rename makes the new file visible whole, and the fsync of the
 * directory (nlx_file_set_contents_full()) makes the rename itself survive
 * a power cut. */
static gboolean
ipam_save (NlxIpam *ipam,
           GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;

  if (ipam->deferred)
    return TRUE;
  data = nlx_ipam_to_data (ipam);
  if (!nlx_file_set_contents_full (ipam->path, data, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT |
                                   G_FILE_SET_CONTENTS_DURABLE,
                                   0600, &local_error))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot save the address allocations to %s: %s"),
                   ipam->path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

static void
set_damaged (NlxIpam *ipam,
             const char *problem,
             GError **error)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("The address allocation file %s is damaged: %s; fix it, or "
                 "move it aside: the daemon then rebuilds it from the "
                 "servers' records and running instances"), ipam->path,
               problem);
}

/* Reads the file; a missing file is an empty allocator. */
static gboolean
ipam_load (NlxIpam *ipam,
           GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;
  JsonNode *member;
  JsonObjectIter iter;
  const char *uuid;
  guint32 broadcast = nlx_address_broadcast_of (ipam->network_addr,
                                                ipam->prefix);

  if (!nlx_file_get_contents (ipam->path, &contents, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read the address allocation file %s: %s"),
                   ipam->path, local_error->message);
      return FALSE;
    }
  /* Strictly: json-glib would keep one of two entries of one server. */
  root = nlx_json_parse (contents, length, &local_error);
  if (root == NULL)
    {
      set_damaged (ipam, local_error->message, error);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      set_damaged (ipam, _("it is not a JSON object"), error);
      return FALSE;
    }
  object = json_node_get_object (root);
  member = json_object_get_member (object, "version");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) ||
      json_node_get_value_type (member) != G_TYPE_INT64 ||
      json_node_get_int (member) != IPAM_FILE_VERSION)
    {
      set_damaged (ipam, _("its “version” is not 1"), error);
      return FALSE;
    }
  member = json_object_get_member (object, "allocations");
  if (member == NULL || !JSON_NODE_HOLDS_OBJECT (member))
    {
      set_damaged (ipam, _("it has no “allocations” object"), error);
      return FALSE;
    }

  /* In file order, so that warnings come in address order. */
  json_object_iter_init_ordered (&iter, json_node_get_object (member));
  while (json_object_iter_next_ordered (&iter, &uuid, &member))
    {
      const char *address = NULL;
      Allocation *holder;
      guint32 addr;

      if (JSON_NODE_HOLDS_VALUE (member) &&
          json_node_get_value_type (member) == G_TYPE_STRING)
        address = json_node_get_string (member);
      if (*uuid == '\0' || !nlx_address_parse_ipv4 (address, &addr))
        {
          g_autofree char *problem = g_strdup_printf (
            _("the entry of server “%s” is not an IPv4 address"), uuid);

          set_damaged (ipam, problem, error);
          return FALSE;
        }
      holder = g_hash_table_lookup (ipam->by_addr, GUINT_TO_POINTER (addr));
      if (holder != NULL)
        {
          g_autofree char *problem = g_strdup_printf (
            _("servers %s and %s both hold %s"), holder->uuid, uuid, address);

          set_damaged (ipam, problem, error);
          return FALSE;
        }
      ipam_add (ipam, uuid, addr);

      /* The subnet may have changed under running servers: their
       * addresses still work until they are deleted, so keep them. */
      if ((addr & nlx_address_netmask (ipam->prefix)) != ipam->network_addr ||
          addr == ipam->network_addr || addr == broadcast)
        g_warning (_("Server %s holds address %s, which is not a host "
                     "address of [%s] cidr %s; it keeps it until the server "
                     "is deleted, but its network may not work"),
                   uuid, address, SECTION, ipam->cidr);
      else if (addr == ipam->gateway_addr)
        g_warning (_("Server %s holds address %s, which is now [%s] "
                     "gateway; delete the server or change the gateway"),
                   uuid, address, SECTION);
    }
  return TRUE;
}

/**
 * nlx_ipam_open:
 * @settings: the [network] settings; they are copied
 * @path: the allocation file, e.g. @settings->addresses_path; its
 *   directory is created (0700) if missing, and a missing file means no
 *   address is in use
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Opens the allocator.  An allocation outside the current subnet (the
 * configuration changed) is kept, with a warning, until its server is
 * released.  A file that cannot be understood is an error, never
 * replaced: forgetting allocations would hand addresses out twice.
 *
 * Not thread-safe: use it from one thread (the daemon's main thread).
 *
 * Returns: (transfer full): the allocator, or %NULL
 */
NlxIpam *
nlx_ipam_open (const NlxNetworkSettings *settings,
               const char *path,
               GError **error)
{
  g_autoptr(NlxIpam) ipam = g_new0 (NlxIpam, 1);
  g_autofree char *dir = g_path_get_dirname (path);

  ipam->path = g_strdup (path);
  ipam->cidr = g_strdup (settings->cidr);
  ipam->network_addr = settings->network_addr;
  ipam->prefix = settings->prefix;
  ipam->gateway_addr = settings->gateway_addr;
  ipam->range_start_addr = settings->range_start_addr;
  ipam->range_end_addr = settings->range_end_addr;
  ipam->by_uuid = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) allocation_free);
  ipam->by_addr = g_hash_table_new (g_direct_hash, g_direct_equal);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot create the directory %s for address "
                     "allocations: %s"), dir, g_strerror (saved_errno));
      return NULL;
    }
  /* Only one daemon writes here (it holds the state's lock). */
  nlx_file_remove_save_temporaries (dir);
  if (!ipam_load (ipam, error))
    return NULL;
  return g_steal_pointer (&ipam);
}

/**
 * nlx_ipam_allocate:
 * @ipam: the allocator
 * @uuid: the instance's uuid
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Gives @uuid an address and saves that before returning it.  An
 * instance that has one gets the same again; otherwise it gets the lowest
 * free address of the range (never the gateway).
 *
 * Returns: (transfer full): the address, dotted, or %NULL with
 * %NLX_DRIVER_ERROR_INVALID_STATE when none is free
 */
char *
nlx_ipam_allocate (NlxIpam *ipam,
                   const char *uuid,
                   GError **error)
{
  Allocation *allocation;

  g_return_val_if_fail (ipam != NULL, NULL);
  g_return_val_if_fail (uuid != NULL, NULL);

  allocation = g_hash_table_lookup (ipam->by_uuid, uuid);
  if (allocation != NULL)
    return g_strdup (allocation->address);
  if (*uuid == '\0')
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot allocate an address for a server without a "
                     "uuid"));
      return NULL;
    }

  /* 64 bits, so that the loop ends even if the range reached the top. */
  for (guint64 addr = ipam->range_start_addr; addr <= ipam->range_end_addr;
       addr++)
    {
      if (addr == ipam->gateway_addr ||
          g_hash_table_contains (ipam->by_addr, GUINT_TO_POINTER (addr)))
        continue;
      allocation = ipam_add (ipam, uuid, (guint32) addr);
      if (!ipam_save (ipam, error))
        {
          ipam_remove (ipam, allocation);
          return NULL;
        }
      return g_strdup (allocation->address);
    }

  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
               _("No free address in %s; delete servers or widen [%s] cidr"),
               ipam->cidr, SECTION);
  return NULL;
}

/**
 * nlx_ipam_reserve:
 * @ipam: the allocator
 * @uuid: an instance's uuid
 * @address: the address its record or its running domain says it has
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Makes the allocations agree with what exists: @uuid holds @address
 * from now on, saved, whatever the file said (it may have been lost), so
 * that the address is never handed out again.  Any address @address may
 * be, in the subnet or not (the subnet may have changed since).
 *
 * Returns: %FALSE with %NLX_DRIVER_ERROR_INVALID_STATE when another
 * instance holds @address (two servers claim it: a person must look),
 * %NLX_DRIVER_ERROR_INVALID_ARGUMENT for a malformed address, or when
 * the change cannot be saved (it is then undone)
 */
gboolean
nlx_ipam_reserve (NlxIpam *ipam,
                  const char *uuid,
                  const char *address,
                  GError **error)
{
  Allocation *held, *holder;
  g_autofree char *old_uuid = NULL;
  guint32 old_addr = 0;
  guint32 addr;

  g_return_val_if_fail (ipam != NULL, FALSE);
  g_return_val_if_fail (uuid != NULL && *uuid != '\0', FALSE);

  if (!nlx_address_parse_ipv4 (address, &addr))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Server %s has “%s” for an address, which is not an "
                     "IPv4 address"), uuid, address ? address : "");
      return FALSE;
    }
  held = g_hash_table_lookup (ipam->by_uuid, uuid);
  if (held != NULL && held->addr == addr)
    return TRUE;
  holder = g_hash_table_lookup (ipam->by_addr, GUINT_TO_POINTER (addr));
  if (holder != NULL)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_STATE,
                   _("Servers %s and %s both have address %s; delete one of "
                     "them"), holder->uuid, uuid, address);
      return FALSE;
    }
  if (held != NULL)
    {
      old_uuid = g_strdup (held->uuid);
      old_addr = held->addr;
      ipam_remove (ipam, held);
    }
  held = ipam_add (ipam, uuid, addr);
  if (!ipam_save (ipam, error))
    {
      ipam_remove (ipam, held);
      if (old_uuid != NULL)
        ipam_add (ipam, old_uuid, old_addr);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_ipam_release:
 * @ipam: the allocator
 * @uuid: the instance's uuid
 * @error: return location for a #NLX_DRIVER_ERROR
 *
 * Frees @uuid's address and saves that.  Releasing an instance that holds
 * no address succeeds and writes nothing.
 *
 * Returns: %FALSE if the change could not be saved (it is then undone)
 */
gboolean
nlx_ipam_release (NlxIpam *ipam,
                  const char *uuid,
                  GError **error)
{
  Allocation *allocation;
  g_autofree char *held_uuid = NULL;
  guint32 held_addr;

  g_return_val_if_fail (ipam != NULL, FALSE);
  g_return_val_if_fail (uuid != NULL, FALSE);

  allocation = g_hash_table_lookup (ipam->by_uuid, uuid);
  if (allocation == NULL)
    return TRUE;
  held_uuid = g_strdup (allocation->uuid);
  held_addr = allocation->addr;
  ipam_remove (ipam, allocation);
  if (!ipam_save (ipam, error))
    {
      /* Memory and disk must agree, or a restart would change answers. */
      ipam_add (ipam, held_uuid, held_addr);
      return FALSE;
    }
  return TRUE;
}

/**
 * nlx_ipam_lookup:
 * @ipam: the allocator
 * @uuid: the instance's uuid
 *
 * Returns: (nullable): @uuid's address, owned by @ipam and valid until it
 * is released, or %NULL when it holds none
 */
const char *
nlx_ipam_lookup (NlxIpam *ipam,
                 const char *uuid)
{
  Allocation *allocation;

  g_return_val_if_fail (ipam != NULL, NULL);
  g_return_val_if_fail (uuid != NULL, NULL);

  allocation = g_hash_table_lookup (ipam->by_uuid, uuid);
  return allocation != NULL ? allocation->address : NULL;
}

/**
 * nlx_ipam_list:
 * @ipam: the allocator
 *
 * For reconciliation at start-up: an instance that holds an address but
 * has no record any more (a crash between allocation and saving the
 * record) should be released.
 *
 * Returns: (transfer full): the uuids holding an address, in address
 * order
 */
GStrv
nlx_ipam_list (NlxIpam *ipam)
{
  g_autoptr(GPtrArray) sorted = NULL;
  GStrv uuids;

  g_return_val_if_fail (ipam != NULL, NULL);

  sorted = sorted_allocations (ipam);
  uuids = g_new0 (char *, sorted->len + 1);
  for (guint i = 0; i < sorted->len; i++)
    uuids[i] = g_strdup (((Allocation *) sorted->pdata[i])->uuid);
  return uuids;
}
