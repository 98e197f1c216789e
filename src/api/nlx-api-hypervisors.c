/* nlx-api-hypervisors.c: /os-hypervisors: this host, its details and
 * statistics */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"

/* ---- hypervisors ------------------------------------------------------ */

typedef enum {
  HYPERVISORS_LIST,
  HYPERVISORS_DETAIL,
  HYPERVISORS_STATISTICS,
} HypervisorsView;

typedef struct {
  NlxApiRequest *request;
  HypervisorsView view;
} HypervisorsCall;

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
    {
      nlx_api_respond_error (request, error);
      soup_server_message_unpause (request->msg);
      g_free (call);
      return;
    }

  json_builder_begin_object (builder);
  if (call->view == HYPERVISORS_STATISTICS)
    {
      json_builder_set_member_name (builder, "hypervisor_statistics");
      json_builder_begin_object (builder);
      nlx_api_add_int (builder, "count", 1);
      add_usage (builder, res, running);
      json_builder_end_object (builder);
    }
  else
    {
      json_builder_set_member_name (builder, "hypervisors");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      nlx_api_add_int (builder, "id", 1);
      nlx_api_add_string (builder, "hypervisor_hostname",
                          res->hypervisor_hostname);
      nlx_api_add_string (builder, "state", "up");
      nlx_api_add_string (builder, "status", "enabled");
      if (call->view == HYPERVISORS_DETAIL)
        {
          nlx_api_add_string (builder, "hypervisor_type", res->hypervisor_type);
          nlx_api_add_int (builder, "hypervisor_version",
                           res->hypervisor_version);
          add_usage (builder, res, running);
          nlx_api_add_string (builder, "host_ip", "127.0.0.1");
          json_builder_set_member_name (builder, "service");
          json_builder_begin_object (builder);
          nlx_api_add_string (builder, "host", nlx_manager_get_host (manager));
          nlx_api_add_int (builder, "id", 1);
          json_builder_end_object (builder);
        }
      json_builder_end_object (builder);
      json_builder_end_array (builder);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  nlx_api_respond (request, 200, body);
  soup_server_message_unpause (request->msg);
  g_free (call);
}

static void
get_resources (NlxApiRequest *request,
               HypervisorsView view)
{
  HypervisorsCall *call = g_new0 (HypervisorsCall, 1);

  call->view = view;
  call->request = nlx_api_request_keep (request);
  nlx_manager_get_resources_async (request->api->manager, hypervisors_ready,
                                   call);
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
