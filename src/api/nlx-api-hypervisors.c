/* nlx-api-hypervisors.c: /os-hypervisors: this host, its details and
 * statistics */
#include "config.h"

#include <sys/utsname.h>
#include <time.h>
#include <utmpx.h>
#include <glib/gi18n-lib.h>

#include "api/nlx-api-private.h"
#include "common/nlx-file.h"

/* ---- hypervisors ------------------------------------------------------ */

/* This host's hypervisor, as the list numbers it. */
#define HYPERVISOR_ID 1

typedef enum {
  HYPERVISORS_LIST,
  HYPERVISORS_DETAIL,
  HYPERVISORS_STATISTICS,
  HYPERVISORS_SHOW,             /* /os-hypervisors/{id} */
  HYPERVISORS_UPTIME,           /* /os-hypervisors/{id}/uptime */
  HYPERVISORS_SEARCH,           /* /os-hypervisors/{pattern}/search */
  HYPERVISORS_SERVERS,          /* /os-hypervisors/{pattern}/servers */
} HypervisorsView;

typedef struct {
  NlxApiRequest *request;
  HypervisorsView view;
  char *pattern;                /* SEARCH, SERVERS, and 2.53's pattern */
  gboolean with_servers;        /* 2.53's ?with_servers= */
  gboolean after_marker;        /* the marker was this host: list none */
  gint64 limit;                 /* 2.33's ?limit=; -1 without */
  GHashTable *form;             /* the query, for the next page's link */
} HypervisorsCall;

static void
hypervisors_call_free (HypervisorsCall *call)
{
  g_free (call->pattern);
  g_clear_pointer (&call->form, g_hash_table_unref);
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

/* Nova's cpu_info: a JSON document in a string until 2.27, the object
 * itself from 2.28.  The drivers do not report the CPU's model, vendor or
 * topology, so it has what the host says of itself: its architecture. */
static void
add_cpu_info (JsonBuilder *builder,
              NlxApiRequest *request)
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
  json_builder_set_member_name (builder, "cpu_info");
  if (nlx_api_has (request, NLX_API_HYPERVISOR_CPU_INFO_OBJECT))
    {
      json_builder_add_value (builder, g_steal_pointer (&root));
      return;
    }
  text = json_to_string (root, FALSE);
  json_builder_add_string_value (builder, text);
}

/* The host's uptime as Nova's libvirt driver gives it, the output of
 * uptime(1): " HH:MM:SS up [D days, ]H:MM,  N users,  load average: A,
 * B, C" (clients parse it: openstackclient's hypervisor show splits it
 * with a pattern).  NULL when /proc cannot tell. */
static char *
host_uptime (void)
{
  g_autofree char *uptime_text = NULL;
  g_autofree char *load_text = NULL;
  g_auto(GStrv) load = NULL;
  char clock[16] = "";
  time_t now = time (NULL);
  struct tm local;
  g_autofree char *up = NULL;
  struct utmpx *entry;
  guint users = 0;
  guint64 seconds, days, hours, minutes;

  if (!nlx_file_get_contents ("/proc/uptime", &uptime_text, NULL, NULL) ||
      !nlx_file_get_contents ("/proc/loadavg", &load_text, NULL, NULL))
    return NULL;
  load = g_strsplit (load_text, " ", 4);
  if (g_strv_length (load) < 3)
    return NULL;
  seconds = (guint64) g_ascii_strtod (uptime_text, NULL);
  days = seconds / 86400;
  hours = seconds % 86400 / 3600;
  minutes = seconds % 3600 / 60;
  /* Who is logged in, as uptime(1) counts them. */
  setutxent ();
  while ((entry = getutxent ()) != NULL)
    if (entry->ut_type == USER_PROCESS)
      users++;
  endutxent ();
  /* libc's, not GLib's time zone: GLib opens zoneinfo without
   * O_CLOEXEC, which a child the daemon spawns would inherit. */
  if (localtime_r (&now, &local) != NULL)
    strftime (clock, sizeof clock, "%H:%M:%S", &local);
  if (days > 0)
    up = g_strdup_printf ("%" G_GUINT64_FORMAT " day%s, %2" G_GUINT64_FORMAT
                          ":%02" G_GUINT64_FORMAT, days, days == 1 ? "" : "s",
                          hours, minutes);
  else
    up = g_strdup_printf ("%2" G_GUINT64_FORMAT ":%02" G_GUINT64_FORMAT,
                          hours, minutes);
  return g_strdup_printf (" %s up %s,  %u user%s,  load average: %s, %s, %s",
                          clock, up, users, users == 1 ? "" : "s", load[0],
                          load[1], load[2]);
}

/* This host's hypervisor's id as @request's version has it: Nova's
 * database id until 2.52, its UUID from 2.53.  Free with g_free(). */
static char *
hypervisor_id (NlxApiRequest *request)
{
  if (nlx_api_has (request, NLX_API_UUID_IDS))
    return nlx_api_host_uuid (request, "hypervisor");
  return g_strdup_printf ("%d", HYPERVISOR_ID);
}

static void
add_id (JsonBuilder *builder,
        NlxApiRequest *request,
        const char *what,
        gint64 number)
{
  if (nlx_api_has (request, NLX_API_UUID_IDS))
    {
      g_autofree char *uuid = nlx_api_host_uuid (request, what);

      nlx_api_add_string (builder, "id", uuid);
    }
  else
    nlx_api_add_int (builder, "id", number);
}

static void
add_hypervisor (JsonBuilder *builder,
                NlxApiRequest *request,
                const NlxHostResources *res,
                guint running,
                gboolean detail)
{
  NlxManager *manager = request->api->manager;

  add_id (builder, request, "hypervisor", HYPERVISOR_ID);
  nlx_api_add_string (builder, "hypervisor_hostname", res->hypervisor_hostname);
  nlx_api_add_string (builder, "state", "up");
  nlx_api_add_string (builder, "status", "enabled");
  if (!detail)
    return;
  nlx_api_add_string (builder, "hypervisor_type", res->hypervisor_type);
  nlx_api_add_int (builder, "hypervisor_version", res->hypervisor_version);
  nlx_api_add_string (builder, "host_ip", "127.0.0.1");
  json_builder_set_member_name (builder, "service");
  json_builder_begin_object (builder);
  nlx_api_add_string (builder, "host", nlx_manager_get_host (manager));
  add_id (builder, request, "service", NLX_API_SERVICE_ID);
  json_builder_set_member_name (builder, "disabled_reason");
  json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  if (nlx_api_has (request, NLX_API_HYPERVISOR_SLIM))
    {
      /* 2.88 took the usage out (placement has it) and put the host's
       * uptime in (null, as Nova's, when it cannot be told). */
      g_autofree char *uptime = host_uptime ();

      nlx_api_add_string (builder, "uptime", uptime);
      return;
    }
  add_cpu_info (builder, request);
  add_usage (builder, res, running);
}

/* The servers that hold a place on this host, as Nova lists a
 * hypervisor's instances: {"uuid", "name"}; none, no member until 2.74,
 * an empty list from 2.75 (@always). */
static void
add_servers (JsonBuilder *builder,
             NlxManager *manager,
             gboolean always)
{
  g_autoptr(GPtrArray) records = nlx_manager_list (manager);
  gboolean any = FALSE;

  if (always)
    {
      json_builder_set_member_name (builder, "servers");
      json_builder_begin_array (builder);
      any = TRUE;
    }
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
  gboolean always = nlx_api_has (request, NLX_API_HYPERVISOR_EMPTY_SERVERS);
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
          add_hypervisor (builder, request, res, running, TRUE);
          if (call->with_servers)
            add_servers (builder, manager, always);
          json_builder_end_object (builder);
          break;
        case HYPERVISORS_UPTIME:
          {
            g_autofree char *uptime = host_uptime ();

            json_builder_set_member_name (builder, "hypervisor");
            json_builder_begin_object (builder);
            add_hypervisor (builder, request, res, running, FALSE);
            nlx_api_add_string (builder, "uptime", uptime != NULL ? uptime
                                                                  : "");
            json_builder_end_object (builder);
          }
          break;
        case HYPERVISORS_LIST:
        case HYPERVISORS_DETAIL:
        case HYPERVISORS_SEARCH:
        case HYPERVISORS_SERVERS:
        default:
          json_builder_set_member_name (builder, "hypervisors");
          json_builder_begin_array (builder);
          if (!call->after_marker && call->limit != 0)
            {
              json_builder_begin_object (builder);
              add_hypervisor (builder, request, res, running,
                              call->view == HYPERVISORS_DETAIL);
              if (call->view == HYPERVISORS_SERVERS)
                add_servers (builder, manager, FALSE);
              else if (call->with_servers)
                add_servers (builder, manager, always);
              json_builder_end_object (builder);
            }
          json_builder_end_array (builder);
          /* This host is the one row: a limit of 1 filled the page. */
          if (call->limit == 1 && !call->after_marker && call->form != NULL)
            {
              g_autofree char *id = hypervisor_id (request);

              nlx_api_add_next_link (builder, request, "hypervisors_links",
                                     id);
            }
          break;
        }
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      nlx_api_respond (request, 200, body);
    }
  soup_server_message_unpause (request->msg);
  hypervisors_call_free (call);
}

static HypervisorsCall *
hypervisors_call_new (HypervisorsView view,
                      const char *pattern)
{
  HypervisorsCall *call = g_new0 (HypervisorsCall, 1);

  call->view = view;
  call->pattern = g_strdup (pattern);
  call->limit = -1;
  return call;
}

static void
hypervisors_call_start (NlxApiRequest *request,
                        HypervisorsCall *call)
{
  call->request = nlx_api_request_keep (request);
  nlx_manager_get_resources_async (request->api->manager, hypervisors_ready,
                                   call);
}

static void
get_resources_matching (NlxApiRequest *request,
                        HypervisorsView view,
                        const char *pattern)
{
  hypervisors_call_start (request, hypervisors_call_new (view, pattern));
}

static void
get_resources (NlxApiRequest *request,
               HypervisorsView view)
{
  get_resources_matching (request, view, NULL);
}

static GHashTable *
read_form (NlxApiRequest *request)
{
  const char *query = g_uri_get_query (soup_server_message_get_uri (request->msg));

  return query != NULL ? soup_form_decode (query) : NULL;
}

/* Whether @id is this host's hypervisor's, as @request's version numbers
 * it; answers as Nova does if not: until 2.52 404 (for a number or not),
 * from 2.53 400 for what is no UUID and 404 for another UUID. */
static gboolean
check_id (NlxApiRequest *request,
          const char *id)
{
  g_autofree char *expected = hypervisor_id (request);
  g_autofree char *message = NULL;

  if (g_ascii_strcasecmp (id, expected) == 0)
    return TRUE;
  if (nlx_api_has (request, NLX_API_UUID_IDS) && !g_uuid_string_is_valid (id))
    {
      message = g_strdup_printf (_("Invalid uuid %s: from microversion 2.53 "
                                   "a hypervisor is named by the UUID that "
                                   "the hypervisor list gives"), id);
      nlx_api_respond_fault (request, 400, message);
      return FALSE;
    }
  message = g_strdup_printf (_("Hypervisor with ID '%s' could not be found."),
                             id);
  nlx_api_respond_fault (request, 404, message);
  return FALSE;
}

/* The list's query: 2.33's limit and marker, 2.53's
 * hypervisor_hostname_pattern and with_servers, read as Nova does;
 * FALSE once a 400 has said what was wrong. */
static gboolean
read_list_query (NlxApiRequest *request,
                 HypervisorsCall *call)
{
  const char *limit, *marker, *pattern;

  call->form = read_form (request);
  if (call->form == NULL)
    return TRUE;
  limit = g_hash_table_lookup (call->form, "limit");
  marker = g_hash_table_lookup (call->form, "marker");
  pattern = g_hash_table_lookup (call->form, "hypervisor_hostname_pattern");
  if (nlx_api_has (request, NLX_API_HYPERVISOR_PAGING))
    {
      g_autofree char *expected = hypervisor_id (request);

      if (limit != NULL)
        {
          g_autoptr(JsonNode) node =
            json_node_init_string (json_node_alloc (), limit);

          if (!nlx_api_read_whole_number (node, 0, G_MAXINT32, &call->limit))
            {
              g_autofree char *message =
                g_strdup_printf (_("Invalid limit [%s]: give a whole number "
                                   "of at least 0"), limit);

              nlx_api_respond_fault (request, 400, message);
              return FALSE;
            }
        }
      if (marker != NULL && g_ascii_strcasecmp (marker, expected) != 0)
        {
          g_autofree char *message =
            g_strdup_printf (_("marker [%s] not found"), marker);

          nlx_api_respond_fault (request, 400, message);
          return FALSE;
        }
      call->after_marker = marker != NULL;
    }
  if (!nlx_api_has (request, NLX_API_UUID_IDS))
    return TRUE;
  if (!nlx_api_read_query_bool (request, call->form, "with_servers",
                                &call->with_servers))
    return FALSE;
  if (pattern != NULL)
    {
      if (limit != NULL || marker != NULL)
        {
          nlx_api_respond_fault (request, 400,
                                 _("Paging over hypervisors with the "
                                   "hypervisor_hostname_pattern query "
                                   "parameter is not supported: leave out "
                                   "limit and marker"));
          return FALSE;
        }
      call->pattern = g_strdup (pattern);
    }
  return TRUE;
}

static void
list_hypervisors (NlxApiRequest *request,
                  HypervisorsView view)
{
  HypervisorsCall *call = hypervisors_call_new (view, NULL);

  if (!read_list_query (request, call))
    {
      hypervisors_call_free (call);
      return;
    }
  hypervisors_call_start (request, call);
}

/* GET /os-hypervisors */
void
nlx_api_list_hypervisors (NlxApiRequest *request,
                          const char *method G_GNUC_UNUSED,
                          const char * const *ids G_GNUC_UNUSED)
{
  list_hypervisors (request, HYPERVISORS_LIST);
}

/* GET /os-hypervisors/detail */
void
nlx_api_list_hypervisors_detail (NlxApiRequest *request,
                                 const char *method G_GNUC_UNUSED,
                                 const char * const *ids G_GNUC_UNUSED)
{
  list_hypervisors (request, HYPERVISORS_DETAIL);
}

/* GET /os-hypervisors/statistics (until 2.87) */
void
nlx_api_get_hypervisor_statistics (NlxApiRequest *request,
                                   const char *method G_GNUC_UNUSED,
                                   const char * const *ids G_GNUC_UNUSED)
{
  get_resources (request, HYPERVISORS_STATISTICS);
}

/* GET /os-hypervisors/{id}; from 2.53 with ?with_servers= */
void
nlx_api_show_hypervisor (NlxApiRequest *request,
                         const char *method G_GNUC_UNUSED,
                         const char * const *ids)
{
  g_autoptr(GHashTable) form = NULL;
  HypervisorsCall *call;
  gboolean with_servers = FALSE;

  if (nlx_api_has (request, NLX_API_UUID_IDS))
    {
      form = read_form (request);
      if (!nlx_api_read_query_bool (request, form, "with_servers",
                                    &with_servers))
        return;
    }
  /* From 2.88 the statistics' row is gone from the table, so its path
   * comes here; it is still Nova's 404 for a path of another version,
   * not the 400 of an id that is no UUID. */
  if (g_str_equal (ids[0], "statistics"))
    {
      nlx_api_respond_fault (request, 404,
                             _("Hypervisor statistics are gone from "
                               "microversion 2.88: ask for 2.87 or "
                               "earlier"));
      return;
    }
  if (!check_id (request, ids[0]))
    return;
  call = hypervisors_call_new (HYPERVISORS_SHOW, NULL);
  call->with_servers = with_servers;
  hypervisors_call_start (request, call);
}
/* GET /os-hypervisors/{id}/uptime (until 2.87): the host's uptime(1), as
 * Nova's libvirt driver tells it. */
void
nlx_api_get_hypervisor_uptime (NlxApiRequest *request,
                               const char *method G_GNUC_UNUSED,
                               const char * const *ids)
{
  if (check_id (request, ids[0]))
    get_resources (request, HYPERVISORS_UPTIME);
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
