/* fuzz-instance.c: instance documents (nlx_instance_new_from_data)
 *
 * Beyond not crashing: a document the parser accepts must be written and
 * read back unchanged, since the daemon stores what it accepted and must
 * load it again at its next start. */
#include "config.h"

#include "nlx-fuzz.h"
#include "model/nlx-instance.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static gboolean initialized;
  g_autoptr(GError) error = NULL;
  g_autoptr(NlxInstance) instance = NULL;
  g_autoptr(NlxInstance) again = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;
  g_autofree char *domain = NULL;
  g_autofree char *next = NULL;

  if (!initialized)
    {
      nlx_fuzz_init ();
      initialized = TRUE;
    }
  instance = nlx_instance_new_from_data ((const char *) data, (gssize) size,
                                         &error);
  if (instance == NULL)
    {
      if (error == NULL || !g_utf8_validate (error->message, -1, NULL))
        nlx_fuzz_fail ("refused without a readable message");
      return 0;
    }
  if (!g_utf8_validate (instance->name, -1, NULL))
    nlx_fuzz_fail ("accepted a name that is not UTF-8");

  domain = nlx_instance_domain_name (instance);
  next = nlx_instance_next_device (instance);
  for (guint i = 0; i < instance->volumes->len; i++)
    {
      const NlxVolumeAttachment *attachment = instance->volumes->pdata[i];

      if (nlx_instance_find_volume (instance, attachment->volume_id) == NULL ||
          nlx_instance_find_device (instance, attachment->device) == NULL)
        nlx_fuzz_fail ("attachment %u cannot be found again", i);
    }

  text = nlx_instance_to_data (instance);
  again = nlx_instance_new_from_data (text, -1, &error);
  if (again == NULL)
    nlx_fuzz_fail ("accepted a document it cannot read back: %s\n%s",
                   error->message, text);
  text_again = nlx_instance_to_data (again);
  if (g_strcmp0 (text, text_again) != 0)
    nlx_fuzz_fail ("read back differently:\n%s\n%s", text, text_again);
  return 0;
}
