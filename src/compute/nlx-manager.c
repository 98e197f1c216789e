/* nlx-manager.c: the compute manager's seam: opening and stopping it,
 * looking records up, and what instances claim of the host's size
 *
 * Like Nova's compute manager.  Records live in the main thread and
 * change only there; every driver call that can block runs in a worker
 * thread and hands its result back to the main context.  An instance has
 * at most one operation at a time (its task state says which), and its
 * record is saved durably before the operation starts and after it ends,
 * so a restart finds out what was interrupted and reconciles it with the
 * driver: the store says what was asked, the driver what runs.
 *
 * The operations live beside this file by family, as Nova groups them:
 * nlx-manager-servers.c, -volumes.c, -images.c, -consoles.c and
 * -keypairs.c; under them nlx-manager-records.c saves records,
 * nlx-manager-jobs.c runs the workers and nlx-manager-sync.c keeps the
 * records in line with the driver.  nlx-manager-private.h is what they
 * share. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "compute/nlx-manager-private.h"

/* Workers run driver operations; a soft reboot can hold one for minutes,
 * so allow many. */
#define MAX_WORKERS 64

gboolean
nlx_manager_is_unavailable (const GError *error)
{
  return g_error_matches (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE);
}

static void set_host_size (NlxManager *manager,
                           const NlxHostResources *resources);

/* Its queues are empty unless the manager stops with them full. */
static void
entry_free (Entry *entry)
{
  GTask *task;
  Job *job;

  while ((task = g_queue_pop_head (&entry->waiting)) != NULL)
    {
      nlx_manager_fail_stopping (task);
      g_object_unref (task);
    }
  while ((job = g_queue_pop_head (&entry->deferred)) != NULL)
    {
      NlxManager *manager = job->manager;

      nlx_manager_job_free (job);
      nlx_manager_unref (manager);
    }
  nlx_record_free (entry->shown);
  nlx_record_free (entry->record);
  g_free (entry->snapshot_name);
  g_free (entry);
}

Entry *
nlx_manager_entry_new (NlxManager *manager,
                       NlxRecord *record)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->record = record;
  entry->serial = ++manager->next_serial;
  /* A record read at start is what runs already: no change to tell. */
  entry->announced_power_state = record->power_state;
  g_queue_init (&entry->waiting);
  g_queue_init (&entry->deferred);
  return entry;
}

NlxManager *
nlx_manager_ref (NlxManager *manager)
{
  g_atomic_ref_count_inc (&manager->refs);
  return manager;
}

void
nlx_manager_unref (NlxManager *manager)
{
  if (!g_atomic_ref_count_dec (&manager->refs))
    return;
  g_free (manager->host);
  nlx_manager_caller_free (manager->caller);
  g_clear_pointer (&manager->console_tokens, g_hash_table_unref);
  g_clear_pointer (&manager->quarantined, g_hash_table_unref);
  g_clear_pointer (&manager->images_deleting, g_hash_table_unref);
  g_clear_pointer (&manager->images_exporting, g_hash_table_unref);
  g_clear_object (&manager->stopping);
  nlx_lock_release (manager->volumes_lock);
  nlx_volume_settings_free (manager->volumes);
  nlx_image_store_free (manager->images);
  nlx_ipam_free (manager->ipam);
  nlx_network_settings_free (manager->network);
  nlx_keypairs_free (manager->keypairs);
  g_clear_pointer (&manager->deleted, g_ptr_array_unref);
  g_free (manager->deleted_path);
  g_free (manager);
}

void
nlx_manager_set_fault (NlxRecord *record,
                       const char *message)
{
  g_free (record->fault);
  record->fault = g_strdup (message);
}

NlxVmState
nlx_manager_vm_state_for (NlxPowerState power_state)
{
  switch (power_state)
    {
    case NLX_POWER_STATE_RUNNING:
      return NLX_VM_STATE_ACTIVE;
    case NLX_POWER_STATE_PAUSED:
      return NLX_VM_STATE_PAUSED;
    default:
      return NLX_VM_STATE_STOPPED;
    }
}

/* Brings an idle record in line with what the driver says runs, as Nova's
 * _sync_power_states does.  ERROR stays until someone acts on it. */
gboolean
nlx_manager_apply_power_state (NlxRecord *record,
                               NlxPowerState power_state)
{
  NlxVmState vm_state = nlx_manager_vm_state_for (power_state);
  gboolean changed = record->power_state != power_state;

  record->power_state = power_state;
  if (record->vm_state != NLX_VM_STATE_ERROR &&
      record->vm_state != NLX_VM_STATE_BUILDING &&
      record->vm_state != vm_state)
    {
      g_message ("Instance %s is %s on the hypervisor; it was %s",
                 record->instance->uuid, nlx_power_state_to_string (power_state),
                 nlx_vm_state_to_string (record->vm_state));
      record->vm_state = vm_state;
      changed = TRUE;
    }
  return changed;
}

Entry *
nlx_manager_find (NlxManager *manager,
                  const char *uuid,
                  GError **error)
{
  Entry *entry = NULL;

  if (uuid != NULL && g_uuid_string_is_valid (uuid))
    {
      g_autofree char *lower = g_ascii_strdown (uuid, -1);

      entry = g_hash_table_lookup (manager->entries, lower);
    }
  /* Not there until its record is. */
  if (entry != NULL && entry->creating)
    entry = NULL;
  if (entry == NULL)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_NOT_FOUND,
                 _("Instance %s could not be found."), uuid ? uuid : "");
  return entry;
}

/**
 * nlx_manager_lock_state:
 * @config: the host's configuration
 * @error: return location for an error naming the pid of the daemon that
 *   holds the lock
 *
 * Takes the lock of `state_path` (created, 0700, if missing) that one
 * compute daemon holds for its whole life.  Call it before anything reads
 * or writes there (before the driver opens and the manager loads the
 * records), and release it last.
 *
 * Returns: (transfer full): the lock
 */
NlxLock *
nlx_manager_lock_state (const NlxConfig *config,
                        GError **error)
{
  g_autofree char *what = g_strdup_printf (_("state_path %s"),
                                           config->state_path);

  return nlx_lock_acquire_dir (config->state_path, 0700, what, error);
}

/**
 * nlx_manager_new:
 * @config: the host's configuration; must outlive the manager
 * @virt: the driver; must outlive the manager
 * @error: return location for an error from the store or the driver
 *
 * Locks the volume directory and what the driver uses on the host
 * (nlx_virt_lock_host()), loads the records under `state_path/records`,
 * reconciles them with the driver and starts watching it.  The caller
 * holds nlx_manager_lock_state().  Results of operations are applied
 * in the thread-default main context of the caller, which must not be the
 * global default context: libvirt's default event loop (the lxc driver
 * runs it) iterates that one from a thread of its own.
 *
 * Returns: (transfer full): the manager
 */
NlxManager *
nlx_manager_new (const NlxConfig *config,
                 NlxVirt *virt,
                 GError **error)
{
  /* Not "instances", the lxc driver's default instances_path there. */
  g_autofree char *dir = g_build_filename (config->state_path, "records", NULL);
  g_autoptr(NlxManager) manager = g_new0 (NlxManager, 1);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GPtrArray) quarantined = NULL;

  g_atomic_ref_count_init (&manager->refs);
  manager->config = config;
  manager->virt = virt;
  manager->context = g_main_context_ref_thread_default ();
  manager->host = g_strdup (g_get_host_name ());
  manager->available = TRUE;
  manager->console_tokens =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                           nlx_manager_console_token_free);
  manager->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) entry_free);
  manager->quarantined = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                g_free, NULL);
  manager->images_deleting = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                    g_free, NULL);
  manager->images_exporting = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                     g_free, NULL);
  manager->workers = g_thread_pool_new (nlx_manager_work, NULL, MAX_WORKERS,
                                        FALSE, NULL);
  manager->stopping = g_cancellable_new ();
  g_queue_init (&manager->unanswered);
  manager->volumes = nlx_volume_settings_new (config->keyfile, error);
  if (manager->volumes == NULL)
    return NULL;
  /* Before anything is read: a second daemon on the same volumes or the
   * same instances would hand them out twice or reconcile the other's. */
  {
    g_autofree char *what = g_strdup_printf (_("the volume directory %s"),
                                             manager->volumes->dir);

    manager->volumes_lock = nlx_lock_acquire_dir (manager->volumes->dir, 0700,
                                                  what, error);
    if (manager->volumes_lock == NULL || !nlx_virt_lock_host (virt, error))
      return NULL;
  }
  {
    g_autofree char *images = g_build_filename (config->state_path, "images",
                                                NULL);

    manager->images = nlx_image_store_open (images, error);
    if (manager->images == NULL)
      return NULL;
  }
  manager->network = nlx_network_settings_new (config->keyfile, error);
  if (manager->network == NULL)
    return NULL;
  manager->ipam = nlx_ipam_open (manager->network,
                                 manager->network->addresses_path, error);
  if (manager->ipam == NULL)
    return NULL;

  manager->store = nlx_store_open (dir, error);
  if (manager->store == NULL)
    return NULL;
  {
    g_autofree char *keypairs = g_build_filename (config->state_path,
                                                  "keypairs.json", NULL);

    manager->keypairs = nlx_keypairs_load (keypairs, error);
    if (manager->keypairs == NULL)
      return NULL;
  }
  nlx_manager_load_deleted (manager);
  records = nlx_store_load_all (manager->store, &quarantined, error);
  if (records == NULL)
    return NULL;
  for (guint i = 0; i < quarantined->len; i++)
    g_hash_table_add (manager->quarantined,
                      g_steal_pointer (&quarantined->pdata[i]));
  for (guint i = 0; i < records->len; i++)
    {
      Entry *entry =
        nlx_manager_entry_new (manager, g_steal_pointer (&records->pdata[i]));

      g_hash_table_replace (manager->entries, entry->record->instance->uuid,
                            entry);
    }
  g_ptr_array_set_free_func (records, NULL);
  nlx_manager_import_config_images (manager);

  /* What snapshots a stop interrupted left. */
  {
    g_autofree char *snapshots = g_build_filename (config->state_path,
                                                   "snapshots", NULL);

    if (!nlx_file_remove_tree (snapshots, error))
      return NULL;
  }
  if (!nlx_manager_reconcile (manager, error))
    return NULL;
  {
    g_autoptr(NlxHostResources) resources =
      nlx_virt_get_available_resource (virt, error);

    if (resources == NULL)
      {
        g_prefix_error (error, _("Cannot read the host's size, which "
                                 "instances' claims are held against: "));
        return NULL;
      }
    set_host_size (manager, resources);
  }
  /* From now on the address file is written by the store's writer, in
   * order with the records, off the main loop
   * (nlx_manager_save_addresses()). */
  nlx_ipam_set_deferred (manager->ipam, TRUE);
  nlx_virt_watch_events (virt, nlx_manager_on_driver_event, manager);
  manager->sync_source = nlx_manager_add_timeout (manager,
                                                  config->sync_interval_s,
                                                  nlx_manager_periodic_sync);
  return g_steal_pointer (&manager);
}

/**
 * nlx_manager_stop:
 *
 * Stops what the manager does on its own: the periodic sync, the
 * driver's events, the workers (waiting for every call they run: record
 * operations, syncs, console reads and attaches, the host's size, volume
 * lists and creates, image imports and deletes; so call it once nothing
 * new can start).  Then the driver may be closed, and the manager freed
 * after it: an event arriving between the manager's free and the
 * driver's close would otherwise reach freed memory.  Callers whose work
 * ends meanwhile are not called back here (the API is already gone) but
 * failed by nlx_manager_free().  Calling it twice does nothing more.
 */
void
nlx_manager_stop (NlxManager *manager)
{
  if (manager->closed)
    return;
  manager->closed = TRUE;
  /* First, and returning only once no event is being delivered. */
  nlx_virt_unwatch_events (manager->virt);
  if (manager->sync_source != NULL)
    g_source_destroy (manager->sync_source);
  g_clear_pointer (&manager->sync_source, g_source_unref);
  if (manager->retry_source != NULL)
    g_source_destroy (manager->retry_source);
  g_clear_pointer (&manager->retry_source, g_source_unref);
  if (manager->save_source != NULL)
    g_source_destroy (manager->save_source);
  g_clear_pointer (&manager->save_source, g_source_unref);
  /* Work queued and not started does not start; an image import that
   * runs is waited for (nlx_image_store_import() cannot be cancelled). */
  g_cancellable_cancel (manager->stopping);
  if (manager->calls > 0)
    g_debug ("Waiting for %u calls in workers", manager->calls);
  /* Every call into the driver runs in this pool
   * (nlx_manager_run_in_worker()): once it is gone none runs, and the
   * driver may close. */
  g_thread_pool_free (manager->workers, FALSE, TRUE);
  manager->workers = NULL;
  /* Deliver what the workers, events and saves handed back, so they are
   * freed; a save's end can ask for another. */
  for (gboolean more = TRUE; more; )
    {
      /* NULL when nlx_manager_new() failed before opening it. */
      if (manager->store != NULL)
        nlx_store_flush (manager->store);
      more = FALSE;
      while (g_main_context_iteration (manager->context, FALSE))
        more = TRUE;
    }
}

/**
 * nlx_manager_free:
 *
 * Stops the manager (nlx_manager_stop()) if that was not done, then frees
 * it.  The order is nlx_manager_stop(), nlx_virt_close(), then this.
 */
void
nlx_manager_free (NlxManager *manager)
{
  if (manager == NULL)
    return;
  nlx_manager_stop (manager);
  /* Outside any callback, so that these are answered only if someone
   * still runs the context: whoever asked may be gone. */
  for (GTask *task; (task = g_queue_pop_head (&manager->unanswered)) != NULL; )
    {
      nlx_manager_fail_stopping (task);
      g_object_unref (task);
    }
  nlx_store_free (manager->store);
  g_hash_table_unref (manager->entries);
  g_main_context_unref (manager->context);
  nlx_manager_unref (manager);
}

/* Operations running in workers now: what a stop would interrupt. */
guint
nlx_manager_count_running_operations (NlxManager *manager)
{
  return manager->running;
}

/* The store of instance records (tests hold its writes). */
NlxStore *
nlx_manager_get_store (NlxManager *manager)
{
  return manager->store;
}

/* The host name instances show as their host. */
const char *
nlx_manager_get_host (NlxManager *manager)
{
  return manager->host;
}

/* The whole GiB of a flavor's disk that an instance claims (Nova's
 * root_gb; nova-lxc flavors have no ephemeral disk or swap). */
static guint64
claimed_disk_gb (const NlxFlavor *flavor)
{
  return flavor->root_gb;
}

/* What the instances of @project_id (every project's if NULL) claim of
 * the host. */
static void
add_up_claims (NlxManager *manager,
               const char *project_id,
               NlxClaims *claims)
{
  GHashTableIter iter;
  Entry *entry;

  memset (claims, 0, sizeof *claims);
  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      const NlxInstance *instance = entry->record->instance;
      const NlxFlavor *flavor = &instance->flavor;

      if (entry->record->unplaced)
        continue;
      if (project_id != NULL &&
          g_strcmp0 (instance->project_id, project_id) != 0)
        continue;
      claims->instances++;
      claims->vcpus += flavor->vcpus;
      claims->memory_mb += flavor->memory_mb;
      claims->disk_gb += claimed_disk_gb (flavor);
    }
}

/**
 * nlx_manager_get_claims:
 * @claims: (out): what this service's instances hold
 *
 * Adds up the flavors of every instance that holds host resources, as
 * Nova's resource tracker does: whatever its power state (a stopped
 * server keeps its place), including one being created, and not one that
 * is unplaced (no room at create, or a failed spawn).  Main thread only.
 */
void
nlx_manager_get_claims (NlxManager *manager,
                        NlxClaims *claims)
{
  add_up_claims (manager, NULL, claims);
}

/**
 * nlx_manager_get_project_claims:
 * @project_id: the owning project
 * @claims: (out): what that project's instances hold
 *
 * As nlx_manager_get_claims(), for the instances of one project only: its
 * usage, as Nova's limits show it.  Main thread only.
 */
void
nlx_manager_get_project_claims (NlxManager *manager,
                                const char *project_id,
                                NlxClaims *claims)
{
  g_return_if_fail (project_id != NULL);
  add_up_claims (manager, project_id, claims);
}

/* How much of one resource instances may claim, as Placement counts it:
 * (total - reserved) * allocation_ratio, rounded down. */
static guint64
capacity (guint64 total,
          guint64 reserved,
          double ratio)
{
  if (reserved >= total)
    return 0;
  return (guint64) ((double) (total - reserved) * ratio);
}

/* The host's disk held back, in whole GiB, as Nova rounds
 * reserved_host_disk_mb for Placement. */
static guint64
reserved_disk_gb (const NlxConfig *config)
{
  return ((guint64) config->reserved_host_disk_mb + 1023) / 1024;
}

/**
 * nlx_manager_get_capacity:
 * @capacity: (out): what instances may claim of the host in all
 *
 * The host's size less what is reserved, times the allocation ratios,
 * as a create is checked against (nlx_manager_fits()); @capacity's
 * instances is [filter_scheduler] max_instances_per_host.  Main thread
 * only.
 */
void
nlx_manager_get_capacity (NlxManager *manager,
                          NlxClaims *capacity_out)
{
  const NlxConfig *config = manager->config;

  memset (capacity_out, 0, sizeof *capacity_out);
  capacity_out->instances = config->max_instances_per_host;
  capacity_out->vcpus = capacity (manager->host_vcpus,
                                  config->reserved_host_cpus,
                                  config->cpu_allocation_ratio);
  capacity_out->memory_mb = capacity (manager->host_memory_mb,
                                      config->reserved_host_memory_mb,
                                      config->ram_allocation_ratio);
  capacity_out->disk_gb = capacity (manager->host_local_gb,
                                    reserved_disk_gb (config),
                                    config->disk_allocation_ratio);
}

/* Whether @count instances whose flavors add up to @flavor fit beside
 * every claim held now.  Claims are only taken and counted on the main
 * thread, and a new instance's entry is in the table before run_create()
 * returns, so two creates racing for the last room cannot both fit.
 * @why says what is short, for the log. */
gboolean
nlx_manager_fits (NlxManager *manager,
                  const NlxFlavor *flavor,
                  guint count,
                  char **why)
{
  const NlxConfig *config = manager->config;
  NlxClaims used, cap;

  nlx_manager_get_capacity (manager, &cap);
  nlx_manager_get_claims (manager, &used);
  /* As Nova's NumInstancesFilter, before the flavors' size. */
  if ((guint64) used.instances + count > cap.instances)
    *why = g_strdup_printf ("%u of [filter_scheduler] "
                            "max_instances_per_host %u hold a place already",
                            used.instances, cap.instances);
  else if (used.vcpus + flavor->vcpus > cap.vcpus)
    *why = g_strdup_printf ("it needs %u vcpus, %" G_GUINT64_FORMAT " of %"
                            G_GUINT64_FORMAT " are free ([compute] "
                            "cpu_allocation_ratio %g)", flavor->vcpus,
                            cap.vcpus - MIN (used.vcpus, cap.vcpus), cap.vcpus,
                            config->cpu_allocation_ratio);
  else if (used.memory_mb + flavor->memory_mb > cap.memory_mb)
    *why = g_strdup_printf ("it needs %u MiB of memory, %" G_GUINT64_FORMAT
                            " of %" G_GUINT64_FORMAT " MiB are free "
                            "([compute] ram_allocation_ratio %g)",
                            flavor->memory_mb,
                            cap.memory_mb - MIN (used.memory_mb, cap.memory_mb),
                            cap.memory_mb, config->ram_allocation_ratio);
  else if (used.disk_gb + claimed_disk_gb (flavor) > cap.disk_gb)
    *why = g_strdup_printf ("it needs %" G_GUINT64_FORMAT " GiB of disk, %"
                            G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " GiB "
                            "are free ([compute] disk_allocation_ratio %g)",
                            claimed_disk_gb (flavor),
                            cap.disk_gb - MIN (used.disk_gb, cap.disk_gb), cap.disk_gb,
                            config->disk_allocation_ratio);
  else
    return TRUE;
  return FALSE;
}

/* Takes the host's size from what the driver reported. */
static void
set_host_size (NlxManager *manager,
               const NlxHostResources *resources)
{
  manager->host_vcpus = resources->vcpus;
  manager->host_memory_mb = resources->memory_mb;
  manager->host_local_gb = resources->local_gb;
}

gboolean
nlx_manager_check_available (NlxManager *manager,
                             GError **error)
{
  if (manager->available)
    return TRUE;
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_UNAVAILABLE,
               _("The hypervisor cannot be reached right now (is libvirtd "
                 "restarting?); try again in a few seconds"));
  return FALSE;
}

static int
compare_created (gconstpointer a,
                 gconstpointer b)
{
  const NlxRecord *ra = *(const NlxRecord * const *) a;
  const NlxRecord *rb = *(const NlxRecord * const *) b;
  int order = g_date_time_compare (rb->instance->created_at,
                                   ra->instance->created_at);

  return order != 0 ? order : g_strcmp0 (ra->instance->uuid, rb->instance->uuid);
}

/**
 * nlx_manager_list:
 *
 * Returns: (transfer container) (element-type NlxRecord): every record,
 *   newest first as Nova lists them; valid until the main loop runs
 */
GPtrArray *
nlx_manager_list (NlxManager *manager)
{
  GPtrArray *records = g_ptr_array_sized_new (g_hash_table_size (manager->entries));
  GHashTableIter iter;
  Entry *entry;

  g_hash_table_iter_init (&iter, manager->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (!entry->creating)
      g_ptr_array_add (records, entry->shown ? entry->shown : entry->record);
  g_ptr_array_sort (records, compare_created);
  return records;
}

const NlxRecord *
nlx_manager_lookup (NlxManager *manager,
                    const char *uuid,
                    GError **error)
{
  Entry *entry = nlx_manager_find (manager, uuid, error);

  /* Not a change that is not saved yet, which may be undone. */
  if (entry != NULL && entry->shown != NULL)
    return entry->shown;
  return entry ? entry->record : NULL;
}

static gpointer
read_resources (NlxManager *manager,
                gpointer data G_GNUC_UNUSED,
                GCancellable *cancellable G_GNUC_UNUSED,
                GError **error)
{
  return nlx_virt_get_available_resource (manager->virt, error);
}

/**
 * nlx_manager_get_resources_async:
 *
 * Reads the host's size from the driver, in a worker; finishing fills
 * in what this service's instances claim of it.
 */
void
nlx_manager_get_resources_async (NlxManager *manager,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);

  nlx_manager_run_task_in_worker (manager, task, read_resources,
                                  (GDestroyNotify) nlx_host_resources_free,
                                  NULL);
}

NlxHostResources *
nlx_manager_get_resources_finish (NlxManager *manager,
                                  GAsyncResult *result,
                                  GError **error)
{
  NlxHostResources *resources = g_task_propagate_pointer (G_TASK (result),
                                                          error);
  NlxClaims claims;

  if (resources == NULL)
    return NULL;
  /* Used is what this service's flavors claim, plus what is reserved for
   * the host, as Nova's compute node shows it; not what the driver
   * measures, which other processes of the host share. */
  set_host_size (manager, resources);
  nlx_manager_get_claims (manager, &claims);
  resources->vcpus_used = claims.vcpus;
  resources->memory_mb_used = (guint64) manager->config->reserved_host_memory_mb +
                              claims.memory_mb;
  resources->local_gb_used = reserved_disk_gb (manager->config) +
                             claims.disk_gb;
  return resources;
}
