/* nlx-api-hypervisors.c: /os-hypervisors: this host, its details and
 * statistics */
#include "config.h"

#include <sys/utsname.h>
#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- hypervisors ------------------------------------------------------ */

/* This host's hypervisor, as the list numbers it. */
#define HYPERVISOR_ID 1

typedef enum {
  HYPERVISORS_LIST,
  HYPERVISORS_DETAIL,
  HYPERVISORS_STATISTICS,
  HYPERVISORS_SHOW,             /* /os-hypervisors/{id} */
  HYPERVISORS_SEARCH,           /* /os-hypervisors/{pattern}/search */
  HYPERVISORS_SERVERS,          /* /os-hypervisors/{pattern}/servers */
} HypervisorsView;

typedef struct {
  NlxApiRequest *request;
  HypervisorsView view;
  char *pattern;                /* SEARCH and SERVERS */
} HypervisorsCall;

static void
hypervisors_call_free (HypervisorsCall *call)
{
  g_free (call->pattern);
  g_free (call);
}

static void
add_usage (JsonBuilder *builder,
           const NlxHostResources *res,
           guint running)
{
  nlx_api_add_int (builder, "vcpus", res->vcpus);
  nlx_api_add_int (builder, "vcpus_used", res->vcpus_used);
  nlx_api_add_int (builder, "memory_mb", res->memory_mb);
  nlx_api_add_int (builder, "memory_mb_used", res->memory_mb_used);
  nlx_api_add_int (builder, "local_gb", res->local_gb);
  nlx_api_add_int (builder, "local_gb_used", res->local_gb_used);
  nlx_api_add_int (builder, "free_ram_mb",
                   (gint64) res->memory_mb - (gint64) res->memory_mb_used);
  nlx_api_add_int (builder, "free_disk_gb",
                   (gint64) res->local_gb - (gint64) res->local_gb_used);
  /* As Nova's: every instance that holds a place here, whatever its
   * power state. */
  nlx_api_add_int (builder, "running_vms", running);
  nlx_api_add_int (builder, "current_workload", 0);
  nlx_api_add_int (builder, "disk_available_least",
                   (gint64) res->local_gb - (gint64) res->local_gb_used);
}

/* Nova 2.1's cpu_info: a JSON document in a string.  The drivers do not
 * report the CPU's model, vendor or topology, so it has what the host
 * says of itself: its architecture. */
static void
add_cpu_info (JsonBuilder *builder)
{
  g_autoptr(JsonBuilder) info = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  struct utsname host;

  json_builder_begin_object (info);
  if (uname (&host) == 0)
    nlx_api_add_string (info, "arch", host.machine);
  json_builder_end_object (info);
  root = json_builder_get_root (info);
  text = json_to_string (root, FALSE);
  nlx_api_add_string (builder, "cpu_info", text);
}

static void
add_hypervisor (JsonBuilder *builder,
                NlxManager *manager,
                const NlxHostResources *res,
                guint running,
                gboolean detail)
{
  nlx_api_add_int (builder, "id", HYPERVISOR_ID);
  nlx_api_add_string (builder, "hypervisor_hostname", res->hypervisor_hostname);
  nlx_api_add_string (builder, "state", "up");
  nlx_api_add_string (builder, "status", "enabled");
  if (!detail)
    return;
  nlx_api_add_string (builder, "hypervisor_type", res->hypervisor_type);
  nlx_api_add_int (builder, "hypervisor_version", res->hypervisor_version);
  add_cpu_info (builder);
  add_usage (builder, res, running);
  nlx_api_add_string (builder, "host_ip", "127.0.0.1");
  json_builder_set_member_name (builder, "service");
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "host", nlx_manager_get_host (manager));
  nlx_api_add_int (builder, "id", NLX_API_SERVICE_ID);
  json_builder_set_member_name (builder, "disabled_reason");
  json_builder_add_null_value (builder);
  json_builder_end_object (builder);
}

/* The servers that hold a place on this host, as Nova lists a
 * hypervisor's instances: {"uuid", "name"}; none, no member (2.1). */
static void
add_servers (JsonBuilder *builder,
             NlxManager *manager)
{
  g_autoptr(GPtrArray) records = nlx_manager_list (manager);
  gboolean any = FALSE;

  for (guint i = 0; i < records->len; i++)
    {
      const NlxRecord *record = records->pdata[i];

      if (record->unplaced)
        continue;
      if (!any)
        {
          json_builder_set_member_name (builder, "servers");
          json_builder_begin_array (builder);
          any = TRUE;
        }
      json_builder_begin_object (builder);
      nlx_api_add_string (builder, "uuid", record->instance->uuid);
      nlx_api_add_string (builder, "name", record->instance->name);
      json_builder_end_object (builder);
    }
  if (any)
    json_builder_end_array (builder);
}

static void
hypervisors_ready (GObject *source G_GNUC_UNUSED,
                   GAsyncResult *result,
                   gpointer data)
{
  HypervisorsCall *call = data;
  g_autoptr(NlxApiRequest) request = call->request;
  NlxManager *manager = request->api->manager;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxHostResources) res =
    nlx_manager_get_resources_finish (manager, result, &error);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) body = NULL;
  NlxClaims claims;
  guint running;

  nlx_manager_get_claims (manager, &claims);
  running = claims.instances;
  if (res == NULL)
    nlx_api_respond_error (request, error);
  else if (call->pattern != NULL &&
           strstr (res->hypervisor_hostname, call->pattern) == NULL)
    {
      /* Nova matches the pattern anywhere in the name (SQL's LIKE
       * %pattern%). */
      g_autofree char *message =
        g_strdup_printf (_("No hypervisor matching '%s' could be found."),
                         call->pattern);

      nlx_api_respond_fault (request, 404, message);
    }
  else
    {
      json_builder_begin_object (builder);
      switch (call->view)
        {
        case HYPERVISORS_STATISTICS:
          json_builder_set_member_name (builder, "hypervisor_statistics");
          json_builder_begin_object (builder);
          nlx_api_add_int (builder, "count", 1);
          add_usage (builder, res, running);
          json_builder_end_object (builder);
          break;
        case HYPERVISORS_SHOW:
          json_builder_set_member_name (builder, "hypervisor");
          json_builder_begin_object (builder);
          add_hypervisor (builder, manager, res, running, TRUE);
          json_builder_end_object (builder);
          break;
        case HYPERVISORS_LIST:
        case HYPERVISORS_DETAIL:
        case HYPERVISORS_SEARCH:
        case HYPERVISORS_SERVERS:
        default:
          json_builder_set_member_name (builder, "hypervisors");
          json_builder_begin_array (builder);
          json_builder_begin_object (builder);
          add_hypervisor (builder, manager, res, running,
                          call->view == HYPERVISORS_DETAIL);
          if (call->view == HYPERVISORS_SERVERS)
            add_servers (builder, manager);
          json_builder_end_object (builder);
          json_builder_end_array (builder);
          break;
        }
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      nlx_api_respond (request, 200, body);
    }
  soup_server_message_unpause (request->msg);
  hypervisors_call_free (call);
}

static void
get_resources_matching (NlxApiRequest *request,
                        HypervisorsView view,
                        const char *pattern)
{
  HypervisorsCall *call = g_new0 (HypervisorsCall, 1);

  call->view = view;
  call->pattern = g_strdup (pattern);
  call->request = nlx_api_request_keep (request);
  nlx_manager_get_resources_async (request->api->manager, hypervisors_ready,
                                   call);
}

static void
get_resources (NlxApiRequest *request,
               HypervisorsView view)
{
  get_resources_matching (request, view, NULL);
}

/* Whether @id is this host's hypervisor's, as the list numbers it;
 * answers 404 if not, as Nova does for an id it does not know. */
static gboolean
check_id (NlxApiRequest *request,
          const char *id)
{
  g_autofree char *expected = g_strdup_printf ("%d", HYPERVISOR_ID);
  g_autofree char *message = NULL;

  if (g_str_equal (id, expected))
    return TRUE;
  message = g_strdup_printf (_("Hypervisor with ID '%s' could not be found."),
                             id);
  nlx_api_respond_fault (request, 404, message);
  return FALSE;
}

/* GET /os-hypervisors */
void
nlx_api_list_hypervisors (NlxApiRequest *request,
                          const char *method G_GNUC_UNUSED,
                          const char * const *ids G_GNUC_UNUSED)
{
  get_resources (request, HYPERVISORS_LIST);
}

/* GET /os-hypervisors/detail */
void
nlx_api_list_hypervisors_detail (NlxApiRequest *request,
                                 const char *method G_GNUC_UNUSED,
                                 const char * const *ids G_GNUC_UNUSED)
{
  get_resources (request, HYPERVISORS_DETAIL);
}

/* GET /os-hypervisors/statistics */
void
nlx_api_get_hypervisor_statistics (NlxApiRequest *request,
                                   const char *method G_GNUC_UNUSED,
                                   const char * const *ids G_GNUC_UNUSED)
{
  get_resources (request, HYPERVISORS_STATISTICS);
}

/* GET /os-hypervisors/{id} */
void
nlx_api_show_hypervisor (NlxApiRequest *request,
                         const char *method G_GNUC_UNUSED,
                         const char * const *ids)
{
  if (check_id (request, ids[0]))
    get_resources (request, HYPERVISORS_SHOW);
}

/* GET /os-hypervisors/{id}/uptime: the drivers do not tell the host's
 * uptime, and Nova answers 501 for a driver that does not; clients
 * (openstackclient's hypervisor show) go on without it. */
void
nlx_api_get_hypervisor_uptime (NlxApiRequest *request,
                               const char *method G_GNUC_UNUSED,
                               const char * const *ids)
{
  if (check_id (request, ids[0]))
    nlx_api_respond_fault (request, 501,
                           _("Virt driver does not implement uptime "
                             "function."));
}

/* GET /os-hypervisors/{pattern}/search */
void
nlx_api_search_hypervisors (NlxApiRequest *request,
                            const char *method G_GNUC_UNUSED,
                            const char * const *ids)
{
  get_resources_matching (request, HYPERVISORS_SEARCH, ids[0]);
}

/* GET /os-hypervisors/{pattern}/servers */
void
nlx_api_list_hypervisor_servers (NlxApiRequest *request,
                                 const char *method G_GNUC_UNUSED,
                                 const char * const *ids)
{
  get_resources_matching (request, HYPERVISORS_SERVERS, ids[0]);
}
