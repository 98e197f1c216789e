/* fuzz-record.c: instance record files, read as the daemon reads them at
 * start (nlx_store_load_all) and shown as the API shows them
 *
 * A record the store loads must be usable (status, power state) and
 * must save and load again unchanged. */
#include "config.h"

#include <glib/gstdio.h>

#include "common/nlx-file.h"
#include "nlx-fuzz.h"
#include "common/nlx-json.h"
#include "compute/nlx-store.h"
#include "model/nlx-power-state.h"

static char *
record_text (const NlxRecord *record)
{
  g_autoptr(JsonNode) node = nlx_record_to_node (record);

  /* As nlx_store_save() writes it. */
  return json_to_string (node, TRUE);
}

/* The store takes a record only from the file its uuid names; the
 * input's own uuid, when it has a usable one, names the file. */
static char *
file_name_for (const uint8_t *data,
               size_t size)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;
  JsonObject *instance;
  const char *uuid;

  if (json_parser_load_from_data (parser, (const char *) data, (gssize) size,
                                  NULL) &&
      (root = json_parser_get_root (parser)) != NULL &&
      JSON_NODE_HOLDS_OBJECT (root) &&
      json_object_has_member (json_node_get_object (root), "instance") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (json_node_get_object (root),
                                                      "instance")) &&
      (instance = json_object_get_object_member (json_node_get_object (root),
                                                 "instance")) != NULL &&
      json_object_has_member (instance, "uuid") &&
      JSON_NODE_HOLDS_VALUE (json_object_get_member (instance, "uuid")) &&
      (uuid = json_node_get_string (json_object_get_member (instance,
                                                            "uuid"))) != NULL &&
      g_uuid_string_is_valid (uuid))
    {
      g_autofree char *lower = g_ascii_strdown (uuid, -1);

      return g_strconcat (lower, ".json", NULL);
    }
  return g_strdup ("00000000-0000-4000-8000-000000000000.json");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static NlxStore *store;
  static char *dir, *quarantine;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;

  if (store == NULL)
    {
      nlx_fuzz_init ();
      dir = g_build_filename (nlx_fuzz_scratch_dir (), "records", NULL);
      quarantine = g_build_filename (dir, "quarantine", NULL);
      store = nlx_store_open (dir, &error);
      if (store == NULL)
        nlx_fuzz_fail ("%s", error->message);
    }
  name = file_name_for (data, size);
  path = g_build_filename (dir, name, NULL);
  if (!g_file_set_contents (path, (const char *) data, (gssize) size, &error))
    nlx_fuzz_fail ("%s", error->message);
  records = nlx_store_load_all (store, NULL, &error);
  if (records == NULL)
    nlx_fuzz_fail ("%s", error->message);
  /* Each input on its own: what it left, or had quarantined, goes. */
  g_unlink (path);
  if (g_file_test (quarantine, G_FILE_TEST_IS_DIR) &&
      !nlx_file_remove_tree (quarantine, &error))
    nlx_fuzz_fail ("%s", error->message);
  if (records->len > 1)
    nlx_fuzz_fail ("one file gave %u records", records->len);

  for (guint i = 0; i < records->len; i++)
    {
      const NlxRecord *record = records->pdata[i];
      g_autofree char *text = record_text (record);
      g_autoptr(JsonNode) root = NULL;
      g_autoptr(NlxRecord) again = NULL;
      g_autofree char *text_again = NULL;

      if (nlx_record_status (record) == NULL ||
          nlx_vm_state_to_string (record->vm_state) == NULL ||
          nlx_power_state_to_string (record->power_state) == NULL)
        nlx_fuzz_fail ("a loaded record has no status");
      if ((root = nlx_json_parse (text, -1, &error)) == NULL ||
          (again = nlx_record_new_from_node (root, &error)) == NULL)
        nlx_fuzz_fail ("loaded a record it cannot read back: %s\n%s",
                       error->message, text);
      text_again = record_text (again);
      if (!g_str_equal (text, text_again))
        nlx_fuzz_fail ("read back differently:\n%s\n%s", text, text_again);
    }
  return 0;
}
