/* nova-lxc-init: runs first in every container, then becomes its init
 *
 *   nova-lxc-init INIT [ARG...]
 *
 * libvirt 9.0's LXC driver gives a container no cgroup namespace and
 * bind-mounts the host's whole cgroup hierarchies at /sys/fs/cgroup, so
 * that root inside reads every other instance's cgroups and, in a
 * privileged container, writes them.  This program, which libvirt starts
 * as the container's init from a read-only mount of the host's (see
 * nlx-lxc-domain.c), closes that before the image's own init runs:
 *
 *  1. it waits (at most PIDS_WAIT_S) for the daemon to move it into the
 *     instance's pids group, so that the namespace is rooted there and
 *     no process of the image ever runs outside the limit;
 *  2. it enters a new cgroup namespace, rooted at the container's own
 *     cgroups, which libvirt placed it in before starting it;
 *  3. it mounts every cgroup hierarchy under /sys/fs/cgroup again, now
 *     showing the container's own subtree only, and detaches libvirt's.
 *     Hierarchies with controllers are read-only (root of a privileged
 *     container would otherwise raise its own limits; an unprivileged
 *     one cannot write them anyway); those without any, the named
 *     name=systemd and, on a hybrid host, the unified cgroup2, stay
 *     writable: they limit nothing, and systemd must make its groups
 *     there or it exits at once;
 *  4. it detaches its own mount;
 *  5. it drops CAP_SYS_ADMIN, which the domain keeps for it alone, from
 *     its bounding, permitted, effective and inheritable sets, and
 *     executes INIT as process 1.
 *
 * A step that fails stops the container (exit 1, the reason on the
 * console), never runs the image's init with less than promised.  Static:
 * no library of the image's is ever loaded with CAP_SYS_ADMIN. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define PIDS_WAIT_S 10
#define PIDS_GROUP ":pids:/nova-lxc/"
#define SELF_DIR "/.nova-lxc"

static void
die (const char *what)
{
  fprintf (stderr, "nova-lxc-init: %s: %s\n", what, strerror (errno));
  exit (1);
}

static int
in_pids_group (void)
{
  char line[4096];
  FILE *file = fopen ("/proc/self/cgroup", "re");
  int found = 0;

  if (file == NULL)
    return 0;
  while (!found && fgets (line, sizeof line, file) != NULL)
    found = strstr (line, PIDS_GROUP) != NULL;
  fclose (file);
  return found;
}

/* Undoes mountinfo's octal escapes in place. */
static void
unescape (char *text)
{
  char *out = text;

  for (char *p = text; *p != '\0'; p++)
    {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
          p[2] <= '7' && p[3] >= '0' && p[3] <= '7')
        {
          *out++ = (char) (((p[1] - '0') << 6) | ((p[2] - '0') << 3) |
                           (p[3] - '0'));
          p += 3;
        }
      else
        *out++ = *p;
    }
  *out = '\0';
}

#define MAX_HIERARCHIES 32

struct hierarchy {
  char point[256];
  char type[16];
  char options[256];
  int limits;                   /* it has controllers: mounted read-only */
};

/* Mounts each cgroup hierarchy at /sys/fs/cgroup/X again from inside the
 * new namespace, with the options it had but for rw/ro.  All are read
 * first: the new mounts join mountinfo as it is read. */
static void
remount_cgroups (void)
{
  static struct hierarchy found[MAX_HIERARCHIES];
  char line[8192];
  FILE *file = fopen ("/proc/self/mountinfo", "re");
  int n = 0;

  if (file == NULL)
    die ("cannot read /proc/self/mountinfo");
  while (fgets (line, sizeof line, file) != NULL)
    {
      /* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER */
      char *fields[6] = { 0 };
      char *rest = strstr (line, " - ");
      char *type, *source, *super, *save = NULL;
      char *p = line;
      struct hierarchy *h;

      if (rest == NULL)
        continue;
      *rest = '\0';
      rest += 3;
      for (int i = 0; i < 6 && p != NULL; i++)
        fields[i] = strsep (&p, " ");
      type = strtok_r (rest, " \n", &save);
      source = strtok_r (NULL, " \n", &save);
      super = strtok_r (NULL, " \n", &save);
      if (fields[4] == NULL || type == NULL || source == NULL || super == NULL)
        continue;
      unescape (fields[4]);
      if (strncmp (fields[4], "/sys/fs/cgroup/", strlen ("/sys/fs/cgroup/")) != 0 ||
          (strcmp (type, "cgroup") != 0 && strcmp (type, "cgroup2") != 0))
        continue;
      if (n == MAX_HIERARCHIES || strlen (fields[4]) >= sizeof h->point ||
          strlen (super) >= sizeof h->options)
        {
          errno = E2BIG;
          die ("too many or too long cgroup mounts");
        }
      h = &found[n++];
      strcpy (h->point, fields[4]);
      strcpy (h->type, type);
      /* name=systemd has no controllers, nor has cgroup2 beside v1
       * hierarchies (a hybrid host mounts it at /sys/fs/cgroup/unified);
       * a cgroup2 alone at /sys/fs/cgroup holds them all. */
      h->limits = strcmp (type, "cgroup2") == 0
                    ? strcmp (fields[4], "/sys/fs/cgroup") == 0
                    : strstr (super, "name=") == NULL;
      for (char *opt = strtok_r (super, ",", &save); opt != NULL;
           opt = strtok_r (NULL, ",", &save))
        {
          if (strcmp (opt, "rw") == 0 || strcmp (opt, "ro") == 0)
            continue;
          if (h->options[0] != '\0')
            strcat (h->options, ",");
          strcat (h->options, opt);
        }
    }
  fclose (file);
  for (int i = 0; i < n; i++)
    {
      if (umount2 (found[i].point, MNT_DETACH) != 0)
        die (found[i].point);
      if (mount (found[i].type, found[i].point, found[i].type,
                 (found[i].limits ? MS_RDONLY : 0) |
                 MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 found[i].options[0] != '\0' ? found[i].options : NULL) != 0)
        die (found[i].point);
    }
}

static void
drop_sys_admin (void)
{
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  unsigned mask = ~(1u << (CAP_SYS_ADMIN % 32));

  if (prctl (PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0)
    die ("cannot drop CAP_SYS_ADMIN from the bounding set");
  if (syscall (SYS_capget, &header, data) != 0)
    die ("cannot read capabilities");
  data[CAP_SYS_ADMIN / 32].effective &= mask;
  data[CAP_SYS_ADMIN / 32].permitted &= mask;
  data[CAP_SYS_ADMIN / 32].inheritable &= mask;
  if (syscall (SYS_capset, &header, data) != 0)
    die ("cannot drop CAP_SYS_ADMIN");
}

int
main (int argc,
      char **argv)
{
  if (argc < 2 || argv[1][0] != '/')
    {
      fprintf (stderr, "usage: nova-lxc-init /PATH/OF/INIT [ARG...]\n");
      return 1;
    }
  for (int waited = 0; !in_pids_group () && waited < PIDS_WAIT_S * 100;
       waited++)
    usleep (10 * 1000);
  if (!in_pids_group ())
    fprintf (stderr, "nova-lxc-init: the compute daemon did not apply the "
             "pids limit within %d s; it applies it when it next starts\n",
             PIDS_WAIT_S);
  if (unshare (CLONE_NEWCGROUP) != 0)
    die ("cannot make a cgroup namespace");
  remount_cgroups ();
  if (umount2 (SELF_DIR, MNT_DETACH) != 0)
    die ("cannot detach " SELF_DIR);
  drop_sys_admin ();
  execv (argv[1], argv + 1);
  die (argv[1]);
}
