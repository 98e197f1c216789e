/* test-domain.c: golden files for the domain builder
 *
 * Each tests/data/domain/CASE.json holds {"instance": {...}, "root": DIR,
 * "init": PATH, "shutdown_signal": NAME, "disks": [DEVICE], "root_image":
 * DIR, "idmap": MAP, "pids": N, "cpuset": CPUS, "sandbox": DIR} (all but
 * the first two optional; pids and cpuset are the driver's resolved
 * limits; disks are the host devices of instance.volumes, root_image the
 * tree under an overlay root, idmap the uid and gid map, none meaning a
 * privileged instance, sandbox nova-lxc-init's directory, whose seccomp
 * filter follows the flavor's "seccomp", "config_drive" the config
 * drive's directory; the host name is the instance's, as the driver
 * passes it); the XML
 * built from it must equal CASE.xml byte for byte and be valid against
 * libvirt's domain.rng.  NLX_TEST_REGENERATE=1 rewrites the .xml files. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <libxml/relaxng.h>

#include "common/nlx-error.h"
#include "common/nlx-idmap.h"
#include "lib/nlx-test-tools.h"
#include "lxc/nlx-lxc-domain.h"

static xmlRelaxNGPtr schema;

static char *
optional_string (JsonObject *object,
                 const char *member)
{
  return json_object_has_member (object, member)
           ? g_strdup (json_object_get_string_member (object, member))
           : NULL;
}

static char *
build_case (const char *json_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(NlxInstance) instance = NULL;
  g_autofree char *root = NULL;
  g_autofree char *init = NULL;
  g_autofree char *signal = NULL;
  g_autofree char *root_image = NULL;
  g_autofree char *idmap_text = NULL;
  g_autofree char *cpuset = NULL;
  g_autofree char *sandbox = NULL;
  g_autofree char *config_drive = NULL;
  g_autofree char *hostname_storage = NULL;
  g_autoptr(GArray) idmap = NULL;
  g_autoptr(GPtrArray) disks = g_ptr_array_new ();
  NlxLxcDomainSpec spec = { 0 };
  JsonObject *object;
  char *xml;

  json_parser_load_from_file (parser, json_path, &error);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  instance = nlx_instance_new_from_node (json_object_get_member (object,
                                                                 "instance"),
                                         &error);
  g_assert_no_error (error);
  root = optional_string (object, "root");
  init = optional_string (object, "init");
  signal = optional_string (object, "shutdown_signal");
  root_image = optional_string (object, "root_image");
  spec.root_image = root_image;
  cpuset = optional_string (object, "cpuset");
  spec.cpuset = cpuset;
  if (json_object_has_member (object, "pids"))
    spec.pids = (guint) json_object_get_int_member (object, "pids");
  idmap_text = optional_string (object, "idmap");
  if (idmap_text != NULL)
    {
      idmap = nlx_idmap_parse (idmap_text, "idmap", &error);
      g_assert_no_error (error);
      spec.uid_map = idmap;
      spec.gid_map = idmap;
    }
  if (json_object_has_member (object, "disks"))
    {
      JsonArray *array = json_object_get_array_member (object, "disks");

      for (guint i = 0; i < json_array_get_length (array); i++)
        g_ptr_array_add (disks,
                         (gpointer) json_array_get_string_element (array, i));
      spec.disk_sources = (const char * const *) disks->pdata;
    }

  spec.instance = instance;
  spec.root_dir = root;
  spec.init_path = init;
  spec.shutdown_signal = signal;
  sandbox = optional_string (object, "sandbox");
  spec.sandbox_dir = sandbox;
  spec.seccomp = !instance->flavor.seccomp_unconfined;
  spec.hostname = nlx_instance_hostname (instance, &hostname_storage);
  config_drive = optional_string (object, "config_drive");
  spec.config_drive_dir = config_drive;
  xml = nlx_lxc_domain_build (&spec, &error);
  g_assert_no_error (error);
  return xml;
}

static void
assert_valid (const char *xml,
              const char *name)
{
  xmlDocPtr doc = xmlReadMemory (xml, strlen (xml), name, NULL, XML_PARSE_NONET);
  xmlRelaxNGValidCtxtPtr ctxt;
  int rc;

  g_assert_nonnull (doc);
  ctxt = xmlRelaxNGNewValidCtxt (schema);
  rc = xmlRelaxNGValidateDoc (ctxt, doc);
  xmlRelaxNGFreeValidCtxt (ctxt);
  xmlFreeDoc (doc);
  if (rc != 0)
    g_error ("%s: domain XML does not validate against domain.rng", name);
}

static void
test_golden (gconstpointer data)
{
  const char *name = data;
  g_autofree char *json_file = g_strdup_printf ("%s.json", name);
  g_autofree char *xml_file = g_strdup_printf ("%s.xml", name);
  g_autofree char *json_path = g_test_build_filename (G_TEST_DIST, "data",
                                                      "domain", json_file, NULL);
  g_autofree char *xml_path = g_test_build_filename (G_TEST_DIST, "data",
                                                     "domain", xml_file, NULL);
  g_autofree char *actual = build_case (json_path);
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;

  if (g_getenv ("NLX_TEST_REGENERATE") != NULL)
    {
      g_file_set_contents (xml_path, actual, -1, &error);
      g_assert_no_error (error);
    }
  g_file_get_contents (xml_path, &expected, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (actual, ==, expected);

  if (schema == NULL)
    g_test_skip ("libvirt's domain.rng was not found (" NLX_LIBVIRT_SCHEMAS
                 "); install libvirt0 or configure --with-libvirt-schemas");
  else
    assert_valid (actual, name);
}

static void
test_relative_paths (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = NULL;
  NlxLxcDomainSpec spec = { 0 };
  char *xml;

  instance = nlx_instance_new_from_data (
    "{\"uuid\": \"7e57d000-0000-4000-8000-000000000002\", \"name\": \"n\","
    " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
    " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\","
    " \"project_id\": \"p\"}", -1, &error);
  g_assert_no_error (error);

  spec.instance = instance;
  spec.root_dir = "relative/root";
  xml = nlx_lxc_domain_build (&spec, &error);
  g_assert_null (xml);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "root filesystem must be an absolute"));
  g_clear_error (&error);

  spec.root_dir = "/srv/root";
  spec.init_path = "sbin/init";
  xml = nlx_lxc_domain_build (&spec, &error);
  g_assert_null (xml);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "os_init_path"));
  g_clear_error (&error);

  spec.init_path = NULL;
  spec.sandbox_dir = "usr/lib/nova-lxc/sandbox";
  xml = nlx_lxc_domain_build (&spec, &error);
  g_assert_null (xml);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "sandbox directory"));
  g_clear_error (&error);

  spec.sandbox_dir = NULL;
  spec.config_drive_dir = "config-drive";
  xml = nlx_lxc_domain_build (&spec, &error);
  g_assert_null (xml);
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "config drive"));
  g_clear_error (&error);
}

/* A host name reaches nova-lxc-init's command line only as one DNS
 * label: nothing that could be read as an option or another argument. */
static void
test_bad_hostname (void)
{
  const char * const bad[] = {
    "", "-x", "x-", "--", "--seccomp", "a b", "a.b", "UPPER", "a/b",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = NULL;
  NlxLxcDomainSpec spec = { 0 };

  instance = nlx_instance_new_from_data (
    "{\"uuid\": \"7e57d000-0000-4000-8000-000000000002\", \"name\": \"n\","
    " \"flavor\": {\"name\": \"f\", \"vcpus\": 1, \"memory_mb\": 64,"
    " \"root_gb\": 0}, \"image_ref\": \"i\", \"user_id\": \"u\","
    " \"project_id\": \"p\"}", -1, &error);
  g_assert_no_error (error);
  spec.instance = instance;
  spec.root_dir = "/srv/root";
  spec.sandbox_dir = "/usr/libexec/nova-lxc/sandbox";
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      spec.hostname = bad[i];
      g_assert_null (nlx_lxc_domain_build (&spec, &error));
      g_assert_error (error, NLX_DRIVER_ERROR,
                      NLX_DRIVER_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
}

/* The domain's metadata keeps a vif without a gateway (a Nova driver's
 * network may have none) and gives it back so: the driver reads it at
 * every start. */
static void
test_metadata_vif_without_gateway (void)
{
  g_autoptr(NlxLxcMetadata) metadata = nlx_lxc_metadata_new ();
  g_autoptr(NlxLxcMetadata) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;

  metadata->vif = nlx_vif_new ("brq1a2b3c4d-5e", "fa:16:3e:12:34:56",
                               "192.0.2.10", 24, NULL);
  xml = nlx_lxc_metadata_to_xml (metadata);
  g_assert_null (strstr (xml, "gateway"));
  back = nlx_lxc_metadata_parse (xml, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back->vif);
  g_assert_cmpstr (back->vif->bridge, ==, "brq1a2b3c4d-5e");
  g_assert_cmpstr (back->vif->address, ==, "192.0.2.10");
  g_assert_cmpuint (back->vif->prefix, ==, 24);
  g_assert_null (back->vif->gateway);
}

int
main (int argc,
      char **argv)
{
  g_autofree char *dir = NULL;
  g_autoptr(GDir) cases = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *file;
  int rc;

  g_test_init (&argc, &argv, NULL);
  g_test_summary ("The domain builder's XML against golden files and "
                  "libvirt's domain.rng.");

  if (g_file_test (NLX_LIBVIRT_SCHEMAS "/domain.rng", G_FILE_TEST_EXISTS))
    {
      xmlRelaxNGParserCtxtPtr parser =
        xmlRelaxNGNewParserCtxt (NLX_LIBVIRT_SCHEMAS "/domain.rng");

      schema = xmlRelaxNGParse (parser);
      xmlRelaxNGFreeParserCtxt (parser);
      g_assert_nonnull (schema);
    }

  dir = g_test_build_filename (G_TEST_DIST, "data", "domain", NULL);
  cases = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (cases);
  while ((file = g_dir_read_name (cases)) != NULL)
    if (g_str_has_suffix (file, ".json"))
      g_ptr_array_add (names, g_strndup (file, strlen (file) - 5));
  g_ptr_array_sort (names, nlx_test_compare_strings);
  /* The cases run in this order: it must be the names' order, not the
   * order readdir or the allocator happened to give. */
  for (guint i = 1; i < names->len; i++)
    g_assert_cmpint (strcmp (names->pdata[i - 1], names->pdata[i]), <, 0);
  /* The issue asks for at least eight: catch cases lost from the tree. */
  g_assert_cmpuint (names->len, >=, 8);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_strdup_printf ("/nlx/domain/golden/%s",
                                               (char *) names->pdata[i]);
      g_test_add_data_func (path, names->pdata[i], test_golden);
    }
  g_test_add_func ("/nlx/domain/relative-paths", test_relative_paths);
  g_test_add_func ("/nlx/domain/bad-hostname", test_bad_hostname);
  g_test_add_func ("/nlx/domain/metadata-vif-without-gateway",
                   test_metadata_vif_without_gateway);

  rc = g_test_run ();
  g_clear_pointer (&schema, xmlRelaxNGFree);
  return rc;
}
