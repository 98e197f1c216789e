/* nlx-console-text.c: console output made safe to show on a terminal
 *
 * What an instance prints on its console is the tenant's: shown as it is
 * on an operator's terminal (nova-lxc console-log) or in a dashboard, its
 * escape sequences could retitle the window, move the cursor over
 * earlier text, redefine keys or hide what it printed.  The log file
 * keeps the raw bytes (a tenant may want them); what the API and the CLI
 * show is this text, in which every control character is visible. */
#include "config.h"

#include <string.h>

#include "common/nlx-console-text.h"

/* Caret notation, as `cat -v` and less show control characters: ESC is
 * "^[", BEL "^G", DEL "^?". */
static void
append_caret (GString *out,
              gunichar c)
{
  g_string_append_c (out, '^');
  g_string_append_c (out, c == 0x7f ? '?' : (char) (c + 0x40));
}

/**
 * nlx_console_text_for_display:
 * @data: console output, any bytes
 * @length: its length, or -1 when it ends with a NUL
 *
 * @data as UTF-8 text that does nothing but print on a terminal:
 *  - newlines and tabs stay;
 *  - "\r\n", the serial console's line end, becomes "\n", and a lone
 *    "\r" (a progress bar rewriting its line) becomes "\n" too, so every
 *    state it showed stays readable instead of being drawn over;
 *  - every other C0 control character and DEL is shown in caret
 *    notation ("^[" for ESC, so "\e[1;31m" reads "^[[1;31m");
 *  - C1 controls (U+0080..U+009F, CSI among them), Unicode format
 *    characters (bidirectional overrides) and bytes that are not UTF-8
 *    become U+FFFD.
 *
 * Returns: (transfer full): the text, valid UTF-8
 */
char *
nlx_console_text_for_display (const char *data,
                              gssize length)
{
  g_autofree char *valid = NULL;
  GString *out;
  const char *p;
  const char *end;

  if (length < 0)
    length = strlen (data);
  /* g_utf8_make_valid() stops at a NUL: NULs are shown as "^@" instead. */
  out = g_string_sized_new (length + length / 8 + 1);
  for (gsize start = 0; start <= (gsize) length;)
    {
      const char *nul = memchr (data + start, '\0', length - start);
      gsize chunk = (nul != NULL ? (gsize) (nul - data) : (gsize) length) - start;

      valid = g_utf8_make_valid (data + start, chunk);
      end = valid + strlen (valid);
      for (p = valid; p < end; p = g_utf8_next_char (p))
        {
          gunichar c = g_utf8_get_char (p);

          if (c == '\n' || c == '\t')
            g_string_append_c (out, (char) c);
          else if (c == '\r')
            {
              if (p[1] != '\n')
                g_string_append_c (out, '\n');
            }
          else if (c < 0x20 || c == 0x7f)
            append_caret (out, c);
          else if (g_unichar_iscntrl (c) ||
                   g_unichar_type (c) == G_UNICODE_FORMAT)
            g_string_append_unichar (out, 0xfffd);
          else
            g_string_append_len (out, p, g_utf8_next_char (p) - p);
        }
      g_clear_pointer (&valid, g_free);
      if (nul == NULL)
        break;
      g_string_append (out, "^@");
      start += chunk + 1;
    }
  return g_string_free (out, FALSE);
}
