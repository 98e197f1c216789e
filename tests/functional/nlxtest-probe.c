/* nlxtest-probe: a static program the functional tests run inside
 * containers, whose busybox cannot change user or show setuid effects.
 *
 *   nlxtest-probe euid            prints the effective uid
 *   nlxtest-probe as UID PROG...  runs PROG as UID (and gid UID)
 *
 * Copied setuid-root onto a volume, "as 65534 .../nlxtest-probe euid"
 * prints 0 where setuid works and 65534 where nosuid holds. */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main (int argc,
      char **argv)
{
  if (argc == 2 && strcmp (argv[1], "euid") == 0)
    {
      printf ("%u\n", (unsigned) geteuid ());
      return 0;
    }
  if (argc >= 4 && strcmp (argv[1], "as") == 0)
    {
      unsigned long id = strtoul (argv[2], NULL, 10);

      if (setgroups (0, NULL) != 0 || setgid (id) != 0 || setuid (id) != 0)
        {
          perror ("nlxtest-probe: cannot change user");
          return 2;
        }
      execv (argv[3], argv + 3);
      perror ("nlxtest-probe: cannot run the program");
      return 2;
    }
  fprintf (stderr, "usage: nlxtest-probe euid | as UID PROGRAM [ARG...]\n");
  return 2;
}
