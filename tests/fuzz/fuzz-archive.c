/* fuzz-archive.c: root tarball extraction and its member checks
 * (nlx_archive_extract)
 *
 * Each input is extracted as root, as the daemon extracts an image, into
 * an empty directory beside a canary file.  Whatever the archive holds,
 * nothing may appear beside the destination nor change the canary; a
 * refusal must be INVALID_ARGUMENT (the archive's fault), never FAILED
 * (the host's), since the scratch directory has room. */
#include "config.h"

#include <glib/gstdio.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "host/nlx-archive.h"
#include "nlx-fuzz.h"

#define CANARY_TEXT "canary\n"

static void
check_box (const char *box)
{
  g_autoptr(GDir) dir = g_dir_open (box, 0, NULL);
  g_autofree char *canary = g_build_filename (box, "canary", NULL);
  g_autofree char *text = NULL;
  const char *name;

  if (dir == NULL)
    nlx_fuzz_fail ("the box %s is gone", box);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (!g_str_equal (name, "canary") && !g_str_equal (name, "dest") &&
        !g_str_equal (name, "input.tar"))
      nlx_fuzz_fail ("extraction wrote “%s” outside its destination", name);
  if (!g_file_get_contents (canary, &text, NULL, NULL) ||
      !g_str_equal (text, CANARY_TEXT))
    nlx_fuzz_fail ("extraction changed the canary beside its destination");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static char *box, *input, *dest, *canary;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (box == NULL)
    {
      nlx_fuzz_init ();
      box = g_build_filename (nlx_fuzz_scratch_dir (), "box", NULL);
      input = g_build_filename (box, "input.tar", NULL);
      dest = g_build_filename (box, "dest", NULL);
      canary = g_build_filename (box, "canary", NULL);
      if (g_mkdir (box, 0700) != 0 ||
          !g_file_set_contents (canary, CANARY_TEXT, -1, &error))
        nlx_fuzz_fail ("cannot set up %s", box);
    }
  if (!g_file_set_contents (input, (const char *) data, (gssize) size, &error))
    nlx_fuzz_fail ("%s", error->message);
  if (g_mkdir (dest, 0755) != 0)
    nlx_fuzz_fail ("cannot make %s", dest);

  ok = nlx_archive_extract (input, dest, &error);
  if (!ok && (error == NULL ||
              !g_error_matches (error, NLX_DRIVER_ERROR,
                                NLX_DRIVER_ERROR_INVALID_ARGUMENT)))
    nlx_fuzz_fail ("refused as the host's fault: %s",
                   error ? error->message : "no message");
  check_box (box);
  if (!nlx_file_remove_tree (dest, &error))
    nlx_fuzz_fail ("cannot remove what was extracted: %s", error->message);
  return 0;
}
