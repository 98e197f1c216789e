/* nlxtest-probe: a static program the functional tests run inside
 * containers, whose busybox cannot change user or show setuid effects.
 *
 *   nlxtest-probe euid            prints the effective uid
 *   nlxtest-probe as UID PROG...  runs PROG as UID (and gid UID)
 *
 * Copied setuid-root onto a volume, "as 65534 .../nlxtest-probe euid"
 * prints 0 where setuid works and 65534 where nosuid holds.
 *
 * Loop device attacks (issue 13, volumes): each opens DEV read-only, as
 * a server's root can open its volume's /dev/vdX, makes one ioctl and
 * prints "ok" (exit 0) or the error (exit 1).
 *
 *   nlxtest-probe loop-change-fd DEV FILE        LOOP_CHANGE_FD to FILE
 *   nlxtest-probe loop-clr-fd DEV                LOOP_CLR_FD
 *   nlxtest-probe loop-configure DEV FILE NAME   LOOP_CONFIGURE, read-only,
 *                                                over FILE, named NAME */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- loop device attacks ------------------------------------------------ */

static int
loop_attack (int argc,
             char **argv)
{
  const char *what = argv[1];
  struct loop_config config;
  int device;
  int file = -1;
  int rc;

  device = open (argv[2], O_RDONLY | O_CLOEXEC);
  if (device < 0)
    {
      printf ("open %s: %s\n", argv[2], strerror (errno));
      return 1;
    }
  if (argc >= 4 && (file = open (argv[3], O_RDONLY | O_CLOEXEC)) < 0)
    {
      printf ("open %s: %s\n", argv[3], strerror (errno));
      return 1;
    }
  if (strcmp (what, "loop-change-fd") == 0 && argc == 4)
    rc = ioctl (device, LOOP_CHANGE_FD, file);
  else if (strcmp (what, "loop-clr-fd") == 0 && argc == 3)
    rc = ioctl (device, LOOP_CLR_FD, 0);
  else if (strcmp (what, "loop-configure") == 0 && argc == 5)
    {
      memset (&config, 0, sizeof config);
      config.fd = file;
      config.info.lo_flags = LO_FLAGS_READ_ONLY;
      strncpy ((char *) config.info.lo_file_name, argv[4], LO_NAME_SIZE - 1);
      rc = ioctl (device, LOOP_CONFIGURE, &config);
    }
  else
    {
      fprintf (stderr, "nlxtest-probe: wrong arguments for %s\n", what);
      return 2;
    }
  if (rc != 0)
    {
      printf ("%s: %s\n", what, strerror (errno));
      return 1;
    }
  printf ("ok\n");
  return 0;
}

/* ---- end of loop device attacks ----------------------------------------- */

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
  if (argc >= 3 && strncmp (argv[1], "loop-", 5) == 0)
    return loop_attack (argc, argv);
  fprintf (stderr, "usage: nlxtest-probe euid | as UID PROGRAM [ARG...]\n");
  return 2;
}
