/* test-api-tour.c: every route of the Compute API once, at each
 * microversion named in NLX_TEST_TOUR_VERSIONS ("2.1 latest" when unset)
 *
 * The other tests/test-api-* programs assert 2.1 shapes, so they cannot
 * run at other versions; this one asserts only that each request is
 * served (2xx; or 404 for a route Nova has only at some versions, or that
 * another branch has yet to add), and leaves the shapes to
 * tests/lib/check-schemas.py, which reads the exchanges it logs
 * (NLX_TEST_SCHEMA_LOG) and holds them against tempest's schema for the
 * version.  tests/test-api-schemas runs it. */
#include "config.h"

#include <string.h>

#include "lib/nlx-api-fixture.h"
#include "lib/nlx-test-client.h"

#define PUBLIC_KEY \
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEOhR3s2cPaL1vcn6LMdlHkjYQk/O4Zpd6TzNR0Sj0w/ tour@example"
#define OLDEST "compute 2.1"

typedef struct {
  Fixture *f;
  const char *version;
  guint minor;
} Tour;

/* A request that must be served at every version. */
static JsonNode *
must (Tour *t,
      const char *method,
      const char *path,
      const char *body)
{
  JsonNode *reply = NULL;
  guint status;

  g_test_message ("%s %s at %s", method, path, t->version);
  status = nlx_test_call (t->f->session, method, path, body, &reply);
  if (status < 200 || status >= 300)
    g_error ("%s %s at %s: %u %s", method, path, t->version, status,
             reply ? json_to_string (reply, FALSE) : "");
  return reply;
}

/* A request of a route that exists at some versions only, or that
 * nova-lxc may not serve yet: 404 is an answer too. */
static JsonNode *
may (Tour *t,
     const char *method,
     const char *path,
     const char *body)
{
  JsonNode *reply = NULL;
  guint status;

  g_test_message ("%s %s at %s (may be 404)", method, path, t->version);
  status = nlx_test_call (t->f->session, method, path, body, &reply);
  if (status == 404)
    g_clear_pointer (&reply, json_node_unref);
  else if (status < 200 || status >= 300)
    g_error ("%s %s at %s: %u %s", method, path, t->version, status,
             reply ? json_to_string (reply, FALSE) : "");
  return reply;
}

/* At 2.1 whatever the session asks: to make what a later version no
 * longer serves (volumes, images through the proxy). */
static JsonNode *
at_oldest (Tour *t,
           const char *method,
           const char *path,
           const char *body)
{
  JsonNode *reply = NULL;
  guint status = nlx_test_call_full (t->f->session, "http://localhost", method,
                                     path, body, "OpenStack-API-Version",
                                     OLDEST, &reply, NULL);

  if (status < 200 || status >= 300)
    g_error ("%s %s at 2.1: %u", method, path, status);
  return reply;
}

static void
unref (JsonNode *node)
{
  if (node != NULL)
    json_node_unref (node);
}

static const char *
string_at (JsonNode *node,
           const char *object,
           const char *member)
{
  return json_object_get_string_member (nlx_test_object_at (node, object),
                                        member);
}

static void
tour_host (Tour *t)
{
  g_autoptr(JsonNode) specs = NULL;
  g_autoptr(JsonNode) hypervisors = NULL;
  JsonArray *list;

  unref (must (t, "GET", "/", NULL));
  unref (must (t, "GET", "/v2.1", NULL));
  unref (must (t, "GET", "/v2.1/flavors", NULL));
  unref (must (t, "GET", "/v2.1/flavors/detail", NULL));
  unref (must (t, "GET", "/v2.1/flavors/m1.tiny", NULL));
  specs = must (t, "GET", "/v2.1/flavors/m1.tiny/os-extra_specs", NULL);
  {
    JsonObject *extra = nlx_test_object_at (specs, "extra_specs");
    g_autoptr(GList) keys = json_object_get_members (extra);

    if (keys != NULL)
      {
        g_autofree char *path = g_strdup_printf ("/v2.1/flavors/m1.tiny/os-extra_specs/%s",
                                                 (const char *) keys->data);

        unref (must (t, "GET", path, NULL));
      }
  }
  unref (may (t, "GET", "/v2.1/flavors/m1.tiny/os-flavor-access", NULL));
  unref (must (t, "GET", "/v2.1/limits", NULL));
  unref (must (t, "GET", "/v2.1/os-availability-zone", NULL));
  unref (must (t, "GET", "/v2.1/os-availability-zone/detail", NULL));
  unref (must (t, "GET", "/v2.1/os-services", NULL));
  unref (must (t, "GET", "/v2.1/os-aggregates", NULL));

  unref (must (t, "GET", "/v2.1/os-hypervisors", NULL));
  hypervisors = must (t, "GET", "/v2.1/os-hypervisors/detail", NULL);
  list = json_object_get_array_member (json_node_get_object (hypervisors),
                                       "hypervisors");
  g_assert_cmpuint (json_array_get_length (list), >, 0);
  {
    JsonObject *first = json_array_get_object_element (list, 0);
    JsonNode *id = json_object_get_member (first, "id");
    g_autofree char *id_text = JSON_NODE_HOLDS_VALUE (id) &&
      json_node_get_value_type (id) == G_TYPE_STRING
      ? g_strdup (json_node_get_string (id))
      : g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (id));
    const char *name = json_object_get_string_member (first,
                                                      "hypervisor_hostname");
    g_autofree char *show = g_strconcat ("/v2.1/os-hypervisors/", id_text, NULL);
    g_autofree char *search = g_strconcat ("/v2.1/os-hypervisors/", name,
                                           "/search", NULL);
    g_autofree char *servers = g_strconcat ("/v2.1/os-hypervisors/", name,
                                            "/servers", NULL);

    /* Not /uptime: the drivers have none, and a 501 is logged as a
     * warning, which g_test makes fatal. */
    unref (must (t, "GET", show, NULL));
    unref (may (t, "GET", search, NULL));
    unref (may (t, "GET", servers, NULL));
    unref (may (t, "GET", "/v2.1/os-hypervisors/statistics", NULL));
  }
}

static void
tour_keypairs (Tour *t)
{
  unref (must (t, "POST", "/v2.1/os-keypairs",
               "{\"keypair\": {\"name\": \"nlxtest-tour\", "
               "\"public_key\": \"" PUBLIC_KEY "\"}}"));
  unref (must (t, "GET", "/v2.1/os-keypairs", NULL));
  unref (must (t, "GET", "/v2.1/os-keypairs/nlxtest-tour", NULL));
  unref (must (t, "DELETE", "/v2.1/os-keypairs/nlxtest-tour", NULL));
}

/* From 2.37 Nova needs "networks"; "none" is what a container with no
 * network asks for, but main (issue 16) takes only a list yet: [] then. */
static JsonNode *
create (Tour *t)
{
  g_autofree char *body = g_strdup_printf (
    "{\"server\": {\"name\": \"nlxtest-tour\", \"flavorRef\": \"m1.tiny\", "
    "\"imageRef\": \"test-image\"%s}}",
    t->minor >= 37 ? ", \"networks\": \"none\"" : "");
  JsonNode *reply = NULL;

  if (t->minor >= 37 &&
      nlx_test_call (t->f->session, "POST", "/v2.1/servers", body, &reply) == 202)
    return reply;
  g_clear_pointer (&reply, json_node_unref);
  g_free (body);
  body = g_strdup ("{\"server\": {\"name\": \"nlxtest-tour\", "
                   "\"flavorRef\": \"m1.tiny\", \"imageRef\": \"test-image\", "
                   "\"networks\": []}}");
  return must (t, "POST", "/v2.1/servers", body);
}

/* The server's own routes and its actions. */
static void
tour_server (Tour *t)
{
  g_autoptr(JsonNode) created = create (t);
  g_autofree char *id = g_strdup (string_at (created, "server", "id"));
  g_autofree char *server = g_strconcat ("/v2.1/servers/", id, NULL);
  g_autofree char *action = g_strconcat (server, "/action", NULL);
  g_autofree char *metadata = g_strconcat (server, "/metadata", NULL);
  g_autofree char *item = g_strconcat (server, "/metadata/k", NULL);
  g_autofree char *ips = g_strconcat (server, "/ips", NULL);
  g_autofree char *consoles = g_strconcat (server, "/remote-consoles", NULL);
  g_autofree char *attachments = g_strconcat (server, "/os-volume_attachments",
                                              NULL);
  g_autofree char *attachment = g_strconcat (attachments, "/nlxtest-tour",
                                             NULL);
  g_autofree char *actions = g_strconcat (server, "/os-instance-actions", NULL);
  g_autofree char *tags = g_strconcat (server, "/tags", NULL);
  g_autofree char *tag = g_strconcat (server, "/tags/t", NULL);
  g_autoptr(JsonNode) addresses = NULL;
  g_autoptr(JsonNode) image = NULL;

  nlx_test_wait_for_status (t->f->session, id, "ACTIVE");
  unref (must (t, "GET", "/v2.1/servers", NULL));
  unref (must (t, "GET", "/v2.1/servers/detail", NULL));
  unref (must (t, "GET", "/v2.1/servers?limit=1", NULL));
  unref (must (t, "GET", server, NULL));
  unref (must (t, "PUT", server, "{\"server\": {\"name\": \"nlxtest-tour2\"}}"));

  unref (must (t, "PUT", metadata, "{\"metadata\": {\"k\": \"v\"}}"));
  unref (must (t, "POST", metadata, "{\"metadata\": {\"k2\": \"v2\"}}"));
  unref (must (t, "GET", metadata, NULL));
  unref (must (t, "PUT", item, "{\"meta\": {\"k\": \"w\"}}"));
  unref (must (t, "GET", item, NULL));
  unref (must (t, "DELETE", item, NULL));

  addresses = must (t, "GET", ips, NULL);
  {
    g_autoptr(GList) networks =
      json_object_get_members (nlx_test_object_at (addresses, "addresses"));

    if (networks != NULL)
      {
        g_autofree char *network = g_strconcat (ips, "/",
                                                (const char *) networks->data,
                                                NULL);

        unref (must (t, "GET", network, NULL));
      }
  }

  /* Attachments: the volume is made at 2.1, as os-volumes is gone at
   * 2.36; attaching is served at every version. */
  unref (at_oldest (t, "POST", "/v2.1/os-volumes",
                    "{\"volume\": {\"display_name\": \"nlxtest-tour\", \"size_mb\": 8}}"));
  unref (may (t, "GET", "/v2.1/os-volumes", NULL));
  unref (may (t, "GET", "/v2.1/os-volumes/detail", NULL));
  unref (may (t, "GET", "/v2.1/os-volumes/nlxtest-tour", NULL));
  unref (must (t, "POST", attachments,
               "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-tour\"}}"));
  unref (must (t, "GET", attachments, NULL));
  unref (must (t, "GET", attachment, NULL));
  unref (must (t, "GET", server, NULL));
  unref (must (t, "DELETE", attachment, NULL));
  unref (at_oldest (t, "DELETE", "/v2.1/os-volumes/nlxtest-tour", NULL));

  unref (must (t, "POST", action, "{\"os-getConsoleOutput\": {\"length\": 10}}"));
  unref (must (t, "POST", action, "{\"os-getSerialConsole\": {\"type\": \"serial\"}}"));
  unref (may (t, "POST", consoles,
              "{\"remote_console\": {\"protocol\": \"serial\", \"type\": \"serial\"}}"));

  unref (must (t, "POST", action, "{\"os-stop\": null}"));
  nlx_test_wait_for_status (t->f->session, id, "SHUTOFF");
  unref (must (t, "GET", server, NULL));
  unref (must (t, "POST", action, "{\"os-start\": null}"));
  nlx_test_wait_for_status (t->f->session, id, "ACTIVE");
  unref (must (t, "POST", action, "{\"reboot\": {\"type\": \"SOFT\"}}"));
  nlx_test_wait_for_status (t->f->session, id, "ACTIVE");
  unref (must (t, "POST", action, "{\"pause\": null}"));
  nlx_test_wait_for_status (t->f->session, id, "PAUSED");
  unref (must (t, "GET", server, NULL));
  unref (must (t, "POST", action, "{\"unpause\": null}"));
  nlx_test_wait_for_status (t->f->session, id, "ACTIVE");
  unref (must (t, "POST", action, "{\"rebuild\": {\"imageRef\": \"test-image\"}}"));
  nlx_test_wait_for_status (t->f->session, id, "ACTIVE");

  image = must (t, "POST", action, "{\"createImage\": {\"name\": \"nlxtest-tour\"}}");
  {
    g_autoptr(JsonNode) images = at_oldest (t, "GET", "/v2.1/images", NULL);
    JsonArray *list = json_object_get_array_member (json_node_get_object (images),
                                                    "images");

    unref (may (t, "GET", "/v2.1/images", NULL));
    unref (may (t, "GET", "/v2.1/images/detail", NULL));
    for (guint i = 0; i < json_array_get_length (list); i++)
      {
        JsonObject *one = json_array_get_object_element (list, i);

        if (g_strcmp0 (json_object_get_string_member (one, "name"),
                       "nlxtest-tour") == 0)
          {
            g_autofree char *path = g_strconcat ("/v2.1/images/",
                                                 json_object_get_string_member (one, "id"),
                                                 NULL);

            unref (may (t, "GET", path, NULL));
            if (t->minor <= 35)
              unref (must (t, "DELETE", path, NULL));
            else
              unref (at_oldest (t, "DELETE", path, NULL));
          }
      }
  }

  /* os-instance-actions, and tags that another branch adds (issue 16):
   * validated once they answer. */
  unref (may (t, "GET", actions, NULL));
  unref (may (t, "GET", tags, NULL));
  unref (may (t, "PUT", tag, NULL));
  unref (may (t, "GET", tag, NULL));
  unref (may (t, "DELETE", tag, NULL));

  nlx_test_delete_and_wait (t->f->session, id);
}

/* The fake driver's delay only slows a tour down: it asserts no state in
 * between, and walks every route at each of some thirty versions. */
static void
fixture_set_up_tour (Fixture *f,
                     gconstpointer data G_GNUC_UNUSED)
{
  fixture_set_up (f, "[fake]\ndelay_ms = 1\n");
}

static void
test_tour (Fixture *f,
           gconstpointer data)
{
  Tour t = { f, data, 0 };

  t.minor = g_str_equal (t.version, "latest")
    ? G_MAXUINT : (guint) g_ascii_strtoull (strchr (t.version, '.') + 1, NULL, 10);
  nlx_test_session_set_version (f->session, t.version);
  tour_host (&t);
  tour_keypairs (&t);
  tour_server (&t);
}

int
main (int argc,
      char **argv)
{
  const char *versions = g_getenv ("NLX_TEST_TOUR_VERSIONS");
  g_auto(GStrv) list = NULL;

  g_test_init (&argc, &argv, NULL);
  list = g_strsplit_set (versions ? versions : "2.1 latest", " ,", -1);
  for (guint i = 0; list[i] != NULL; i++)
    {
      g_autofree char *name = NULL;

      if (*list[i] == '\0')
        continue;
      if (!g_str_equal (list[i], "latest") &&
          (!g_str_has_prefix (list[i], "2.") || list[i][2] == '\0'))
        g_error ("NLX_TEST_TOUR_VERSIONS: %s is not 2.N or latest", list[i]);
      name = g_strconcat ("/nlx/api/tour/", list[i], NULL);
      g_test_add (name, Fixture, list[i], fixture_set_up_tour, test_tour,
                  fixture_tear_down);
    }
  return g_test_run ();
}
