/* nlxtest-probe: a static program the functional tests run inside
 * containers, whose busybox cannot change user or show setuid effects.
 *
 *   nlxtest-probe euid            prints the effective uid
 *   nlxtest-probe as UID PROG...  runs PROG as UID (and gid UID)
 *
 * Copied setuid-root onto a volume, "as 65534 .../nlxtest-probe euid"
 * prints 0 where setuid works and 65534 where nosuid holds.
 *
 * System calls and keyrings (seccomp and keyring isolation):
 *
 *   nlxtest-probe syscalls        calls each call of the default seccomp
 *                                 denylist with arguments that change
 *                                 nothing (bad flags, descriptors, names)
 *                                 and prints "NAME ok" or "NAME ERRNO",
 *                                 e.g. "keyctl ENOSYS"
 *   nlxtest-probe keyring         prints "session SERIAL DESCRIPTION" and
 *                                 "user SERIAL" (the keyrings as they
 *                                 exist, none created), or "keyctl ERRNO"
 *   nlxtest-probe find-key DESC   prints the serial of the "user" key DESC
 *                                 reachable from the session keyring, or
 *                                 its errno (ENOKEY when unreachable) */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/keyctl.h>
#include <sys/syscall.h>

/* ---- syscalls, keyring, find-key ---- */

static const char *
errno_name (int number)
{
  switch (number)
    {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case ENOEXEC: return "ENOEXEC";
    case ENOSYS: return "ENOSYS";
    case ENOKEY: return "ENOKEY";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "other";
    }
}

static void
report (const char *name,
        long rc)
{
  if (rc >= 0)
    printf ("%s ok\n", name);
  else
    printf ("%s %s\n", name, errno_name (errno));
}

static int
probe_syscalls (void)
{
  /* Invalid flags, descriptors or names: where the kernel has the call,
   * it refuses before doing anything (kexec_load with no segments and
   * flags 0 would unload a loaded kernel: never call it so). */
  report ("kexec_load", syscall (SYS_kexec_load, 0, 0, NULL, 0xffff0000ul));
  report ("kexec_file_load",
          syscall (SYS_kexec_file_load, -1, -1, 0, NULL, 0xffff0000ul));
  report ("open_by_handle_at", syscall (SYS_open_by_handle_at, -1, NULL, 0));
  report ("init_module", syscall (SYS_init_module, NULL, 0, ""));
  report ("finit_module", syscall (SYS_finit_module, -1, "", 0));
  report ("delete_module", syscall (SYS_delete_module, "nlxtest-none", 0));
  report ("keyctl", syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID,
                             KEY_SPEC_SESSION_KEYRING, 0));
  report ("add_key", syscall (SYS_add_key, "nlxtest-none", "nlxtest", "x",
                              (size_t) 1, KEY_SPEC_THREAD_KEYRING));
  report ("request_key", syscall (SYS_request_key, "user", "nlxtest-none",
                                  NULL, 0));
  report ("userfaultfd", syscall (SYS_userfaultfd, 0x7fff0000));
  return 0;
}

static int
probe_keyring (void)
{
  long session = syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID,
                          KEY_SPEC_SESSION_KEYRING, 0);
  long user = syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID,
                       KEY_SPEC_USER_KEYRING, 0);
  char description[256] = "";

  if (session < 0 || user < 0)
    {
      report ("keyctl", -1);
      return 0;
    }
  if (syscall (SYS_keyctl, KEYCTL_DESCRIBE, session, description,
               sizeof description - 1) < 0)
    strcpy (description, "?");
  /* "TYPE;UID;GID;PERM;DESCRIPTION": keep the description. */
  printf ("session %ld %s\n", session,
          strrchr (description, ';') ? strrchr (description, ';') + 1
                                     : description);
  printf ("user %ld\n", user);
  return 0;
}

static int
probe_find_key (const char *description)
{
  long key = syscall (SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING,
                      "user", description, 0);

  if (key < 0)
    printf ("%s\n", errno_name (errno));
  else
    printf ("%ld\n", key);
  return 0;
}

/* ---- end of syscalls, keyring, find-key ---- */

int
main (int argc,
      char **argv)
{
  if (argc == 2 && strcmp (argv[1], "syscalls") == 0)
    return probe_syscalls ();
  if (argc == 2 && strcmp (argv[1], "keyring") == 0)
    return probe_keyring ();
  if (argc == 3 && strcmp (argv[1], "find-key") == 0)
    return probe_find_key (argv[2]);
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
  fprintf (stderr, "usage: nlxtest-probe euid | as UID PROGRAM [ARG...] | "
           "syscalls | keyring | find-key DESCRIPTION\n");
  return 2;
}
