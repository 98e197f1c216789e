/* nlx-fuzz.c: what every libFuzzer harness shares
 *
 * A harness turns the library's own complaints into crashes where they
 * mean a bug: a g_critical() (a g_return_if_fail() tripped, e.g. json-glib
 * handed a NULL root) or g_error() aborts, so libFuzzer keeps the input.
 * Messages and warnings are what bad input is supposed to produce, so
 * they are dropped: printing them would only slow the fuzzer down. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/nlx-file.h"
#include "nlx-fuzz.h"

static char *scratch_dir;

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags level,
                 const GLogField *fields,
                 gsize n_fields,
                 gpointer data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    {
      g_log_writer_standard_streams (level, fields, n_fields, data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

static void
remove_scratch_dir (void)
{
  if (scratch_dir != NULL)
    nlx_file_remove_tree (scratch_dir, NULL);
  g_clear_pointer (&scratch_dir, g_free);
}

/* Once per process, from the harness's first input. */
void
nlx_fuzz_init (void)
{
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
  /* As the tests run: messages in C, files named in UTF-8. */
  setlocale (LC_ALL, "C.UTF-8");
}

/* A harness killed by a sanitizer or a signal cannot remove its scratch
 * directory; the next run removes those whose process is gone. */
static void
remove_stale (const char *tmp)
{
  g_autoptr(GDir) dir = g_dir_open (tmp, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      guint64 pid;
      char *end;

      if (!g_str_has_prefix (name, "nlx-fuzz-"))
        continue;
      pid = g_ascii_strtoull (name + strlen ("nlx-fuzz-"), &end, 10);
      if (pid > 0 && *end == '-' && kill ((pid_t) pid, 0) != 0 &&
          errno == ESRCH)
        {
          g_autofree char *path = g_build_filename (tmp, name, NULL);

          nlx_file_remove_tree (path, NULL);
        }
    }
}

/* A directory of the harness's own, removed when the process exits;
 * /dev/shm where there is one, since some harnesses write each input. */
const char *
nlx_fuzz_scratch_dir (void)
{
  const char *tmp = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR)
                      ? "/dev/shm" : g_get_tmp_dir ();
  g_autofree char *template = NULL;

  if (scratch_dir != NULL)
    return scratch_dir;
  remove_stale (tmp);
  template = g_strdup_printf ("%s/nlx-fuzz-%d-XXXXXX", tmp, (int) getpid ());
  scratch_dir = g_mkdtemp (template) ? g_steal_pointer (&template) : NULL;
  if (scratch_dir == NULL)
    nlx_fuzz_fail ("cannot make a scratch directory under %s", tmp);
  atexit (remove_scratch_dir);
  return scratch_dir;
}

/* The input as a C string: parsers that take one see the input up to
 * its first NUL, as they would a file read with g_file_get_contents(). */
char *
nlx_fuzz_strndup (const uint8_t *data,
                  size_t size)
{
  return g_strndup ((const char *) data, size);
}

void
nlx_fuzz_fail (const char *format,
               ...)
{
  va_list args;

  va_start (args, format);
  fputs ("nlx-fuzz: ", stderr);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  remove_scratch_dir ();
  abort ();
}
