/* nova-lxc-guestfs.c: the helper that runs libguestfs's appliance for
 * nova-lxc
 *
 *   nova-lxc-guestfs [--kvm-failed] fsck PATH FSTYPE ID
 *   nova-lxc-guestfs [--kvm-failed] copy-out FILE FORMAT TAR
 *
 * Not for people: nova-lxc-compute and nova-lxc-virt run it for each
 * volume check and each disk image import (nlx-guestfs.c says why it is
 * a process of its own).  It does the one job and writes its answer on
 * stdout, one serialized GVariant of type NLX_GUESTFS_RESULT_TYPE, and
 * exits 0; anything else (usage error, crash) exits without an answer.
 * Its log messages travel in the answer, to be logged by its caller;
 * libguestfs's own debugging output (LIBGUESTFS_DEBUG) goes to stderr. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include "host/nlx-guestfs-appliance.h"
#include "host/nlx-guestfs.h"

static GVariantBuilder messages;

/* Keeps every message for the answer: the caller logs it as its own. */
static GLogWriterOutput
keep_message (GLogLevelFlags level,
              const GLogField *fields,
              gsize n_fields,
              gpointer user_data G_GNUC_UNUSED)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      {
        g_autofree char *text = fields[i].length < 0
          ? g_strdup (fields[i].value)
          : g_strndup (fields[i].value, fields[i].length);

        g_variant_builder_add (&messages, "(is)", (int) level, text);
        break;
      }
  return G_LOG_WRITER_HANDLED;
}

static gboolean
write_all (int fd,
           const guint8 *data,
           gsize size)
{
  while (size > 0)
    {
      ssize_t n = write (fd, data, size);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      size -= n;
    }
  return TRUE;
}

static int
usage (void)
{
  g_printerr ("%s\n", _("Usage: nova-lxc-guestfs [--kvm-failed] fsck PATH "
                        "FSTYPE ID | copy-out FILE FORMAT TAR (run by "
                        "nova-lxc-compute, not by people)"));
  return 2;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) answer = NULL;
  int answer_fd;
  int arg = 1;
  gboolean ok;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, NLX_LOCALE_DIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* The answer gets stdout to itself: whatever else writes there (a
   * library, a child) goes to stderr. */
  answer_fd = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (answer_fd < 0 || dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
    {
      g_printerr ("nova-lxc-guestfs: %s\n", g_strerror (errno));
      return 1;
    }

  if (arg < argc && g_str_equal (argv[arg], "--kvm-failed"))
    {
      nlx_guestfs_appliance_set_kvm_failed ();
      arg++;
    }
  if (argc - arg != 4)
    return usage ();

  g_variant_builder_init (&messages, G_VARIANT_TYPE ("a(is)"));
  g_log_set_writer_func (keep_message, NULL, NULL);
  if (g_str_equal (argv[arg], "fsck"))
    ok = nlx_guestfs_appliance_fsck (argv[arg + 1], argv[arg + 2],
                                     argv[arg + 3], &error);
  else if (g_str_equal (argv[arg], "copy-out"))
    ok = nlx_guestfs_appliance_copy_out (argv[arg + 1], argv[arg + 2],
                                         argv[arg + 3], &error);
  else
    return usage ();

  answer = g_variant_ref_sink (
    g_variant_new (NLX_GUESTFS_RESULT_TYPE, ok,
                   ok ? "" : g_quark_to_string (error->domain),
                   ok ? 0 : error->code,
                   ok ? "" : error->message,
                   &messages,
                   nlx_guestfs_appliance_get_kvm_failed ()));
  if (!write_all (answer_fd, g_variant_get_data (answer),
                  g_variant_get_size (answer)))
    {
      g_printerr ("nova-lxc-guestfs: %s\n", g_strerror (errno));
      return 1;
    }
  return 0;
}
