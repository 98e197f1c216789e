/* nova-lxc-init: the first program of every instance, before its init
 *
 *   nova-lxc-init [--seccomp] [--hostname NAME] -- INIT [ARG...]
 *
 * libvirt 9.0's LXC driver gives a container no cgroup namespace (it
 * bind-mounts the host's whole cgroup hierarchies at /sys/fs/cgroup, so
 * that root inside reads every other instance's cgroups and, in a
 * privileged container, writes them), no seccomp filter, and the session
 * keyring of libvirtd, which a privileged instance (no user namespace)
 * shares with host root.  So the domain's <init> is this program,
 * bind-mounted read-only from the host at /dev/.nova-lxc (libvirt makes
 * that inside the container's own /dev tmpfs, so nothing is written into
 * the instance's root; see nlx-lxc-domain.c), and it:
 *
 *   1. waits (at most PIDS_WAIT_S) for the daemon to move it into the
 *      instance's pids group, so that the cgroup namespace is rooted
 *      there and no process of the image ever runs outside the limit
 *      (the daemon's SIGCONT says it has);
 *   2. enters a new cgroup namespace, rooted at the container's own
 *      cgroups, which libvirt placed it in before starting it, and mounts
 *      every cgroup hierarchy under /sys/fs/cgroup again, now showing the
 *      container's own subtree only, detaching libvirt's.  Hierarchies
 *      with controllers are read-only (root of a privileged container
 *      would otherwise raise its own limits; an unprivileged one cannot
 *      write them anyway); those without any, the named name=systemd
 *      and, on a hybrid host, the unified cgroup2, stay writable: they
 *      limit nothing, and systemd must make its groups there or it exits
 *      at once.  Then it detaches its own mount, so that the image sees
 *      an empty /dev/.nova-lxc;
 *   3. joins a new anonymous session keyring, which every process of the
 *      instance inherits (it is not published for others to join: only
 *      its possessors may search it).  Before the filter, which denies
 *      keyctl;
 *   4. with --seccomp, loads the default filter: the calls in
 *      denied_calls[] fail with ENOSYS on every ABI the CPU runs (x86-64,
 *      i386 and x32 on x86-64), other ABIs kill the caller;
 *   5. with --hostname, sets the container's host name (libvirt sets the
 *      domain's name, instance-XXXXXXXX; the API's name is the server's,
 *      and the image's init cannot change it without CAP_SYS_ADMIN).
 *      NAME must be one DNS label (what nlx_hostname_is_valid() accepts),
 *      checked again here since it is about to reach the kernel;
 *   6. drops CAP_SYS_ADMIN from all its capability sets, the bounding set
 *      included, as its last privileged step.  libvirt keeps it for this
 *      program only: for the cgroup namespace and mounts, and so that the
 *      filter loads without no_new_privs, which would stop every setuid
 *      program inside (su, sudo, ping);
 *   7. execs INIT with ARGs, so INIT is pid 1 with its own argv and
 *      environment: the one libvirt gave this program (its own and the
 *      domain's <initenv>, product_name for cloud-init), with nothing of
 *      this program's added: its options are arguments, never variables.
 *
 * Any failure stops here with a message on the console (console.log) and
 * exit status 1: an instance never runs its init with less than it was
 * given.  Static, since instances' roots have their own C libraries or
 * none, and no library of the image's is ever loaded with CAP_SYS_ADMIN. */
/* _GNU_SOURCE (clone flags, setns) comes from config.h, as everywhere:
 * configure's AC_USE_SYSTEM_EXTENSIONS.  Nothing else of config.h is used,
 * and no library of the project's is linked. */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define PIDS_WAIT_S 10
#define PIDS_GROUP ":pids:/nova-lxc/"
/* NLX_LXC_SANDBOX_MOUNT in nlx-lxc-domain.h */
#define SELF_DIR "/dev/.nova-lxc"
#define USAGE "usage: nova-lxc-init [--seccomp] [--hostname NAME] -- INIT [ARG...]\n"
/* NLX_HOSTNAME_MAX in nlx-instance.h: one DNS label. */
#define HOSTNAME_MAX 63

/* LXD's default denylist, then the keyring calls (keys are not
 * namespaced: they reach the host's and other tenants' keys) and
 * userfaultfd (a classic aid to kernel exploits). */
static const char * const denied_calls[] = {
  "kexec_load", "kexec_file_load", "open_by_handle_at", "init_module",
  "finit_module", "delete_module",
  "keyctl", "add_key", "request_key",
  "userfaultfd",
};

static void __attribute__ ((noreturn))
die (const char *what,
     int error_number)
{
  fprintf (stderr, "nova-lxc-init: %s: %s; the instance does not start\n",
           what, strerror (error_number));
  exit (1);
}

/* ---- 1. the pids group ------------------------------------------------ */

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

/* The daemon sends SIGCONT once it has moved this process
 * (nlx_lxc_apply_limits()), which ends the wait at once; it is blocked
 * before the first look, so that one sent after it is kept until the
 * wait takes it (to the init of a PID namespace, a signal from outside
 * that is neither blocked nor handled is dropped).  Every 10 ms the
 * group is looked at again all the same.  The mask goes back to what it
 * was: the image's init inherits it. */
static void
wait_for_pids_group (void)
{
  const struct timespec tick = { 0, 10 * 1000 * 1000 };
  sigset_t cont;
  sigset_t saved;

  sigemptyset (&cont);
  sigaddset (&cont, SIGCONT);
  if (sigprocmask (SIG_BLOCK, &cont, &saved) != 0)
    die ("sigprocmask", errno);
  for (int waited = 0; !in_pids_group () && waited < PIDS_WAIT_S * 100;
       waited++)
    sigtimedwait (&cont, NULL, &tick);
  if (sigprocmask (SIG_SETMASK, &saved, NULL) != 0)
    die ("sigprocmask", errno);
  if (!in_pids_group ())
    fprintf (stderr, "nova-lxc-init: the compute daemon did not apply the "
             "pids limit within %d s; it applies it when it next starts\n",
             PIDS_WAIT_S);
}

/* ---- 2. the cgroup namespace ------------------------------------------ */

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
    die ("cannot read /proc/self/mountinfo", errno);
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
        die ("too many or too long cgroup mounts", E2BIG);
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
        die (found[i].point, errno);
      if (mount (found[i].type, found[i].point, found[i].type,
                 (found[i].limits ? MS_RDONLY : 0) |
                 MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 found[i].options[0] != '\0' ? found[i].options : NULL) != 0)
        die (found[i].point, errno);
    }
}

static void
enter_cgroup_namespace (void)
{
  if (unshare (CLONE_NEWCGROUP) != 0)
    die ("cannot make a cgroup namespace", errno);
  remount_cgroups ();
  /* The program keeps running from the detached mount. */
  if (umount2 (SELF_DIR, MNT_DETACH) != 0)
    die ("cannot detach " SELF_DIR, errno);
}

/* ---- 3. the keyring --------------------------------------------------- */

static void
join_session_keyring (void)
{
  /* A NULL name makes a new keyring, never joins an existing one. */
  if (syscall (SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 &&
      errno != ENOSYS)
    die ("cannot join a session keyring of its own", errno);
}

/* ---- 4. the seccomp filter -------------------------------------------- */

static void
load_seccomp (void)
{
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
  int rc;

  if (ctx == NULL)
    die ("cannot make a seccomp filter", ENOMEM);
  /* The filter is loaded with CAP_SYS_ADMIN, so no_new_privs is not
   * needed, and is left off for the instance's setuid programs. */
  rc = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  /* The other ABIs of the same CPU reach the same kernel. */
  if (rc == 0 && seccomp_arch_native () == SCMP_ARCH_X86_64)
    {
      rc = seccomp_arch_add (ctx, SCMP_ARCH_X86);
      if (rc == 0)
        rc = seccomp_arch_add (ctx, SCMP_ARCH_X32);
    }
  for (size_t i = 0; rc == 0 && i < sizeof denied_calls / sizeof *denied_calls; i++)
    {
      int nr = seccomp_syscall_resolve_name (denied_calls[i]);

      if (nr != __NR_SCMP_ERROR)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), nr, 0);
    }
  if (rc == 0)
    rc = seccomp_load (ctx);
  seccomp_release (ctx);
  if (rc != 0)
    die ("cannot load the seccomp filter", -rc);
}

/* ---- 5. the host name ------------------------------------------------- */

/* As nlx_hostname_is_valid(): lower-case letters, digits and "-", not
 * first or last, at most HOSTNAME_MAX. */
static int
hostname_is_valid (const char *name)
{
  size_t length = strlen (name);

  if (length == 0 || length > HOSTNAME_MAX || name[0] == '-' ||
      name[length - 1] == '-')
    return 0;
  for (size_t i = 0; i < length; i++)
    if (!((name[i] >= 'a' && name[i] <= 'z') ||
          (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
      return 0;
  return 1;
}

static void
set_hostname (const char *name)
{
  if (sethostname (name, strlen (name)) != 0)
    die ("cannot set the host name", errno);
}

/* ---- 6. CAP_SYS_ADMIN ------------------------------------------------- */

static void
drop_sys_admin (void)
{
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  unsigned int bit = CAP_SYS_ADMIN % 32;
  unsigned int word = CAP_SYS_ADMIN / 32;

  if (prctl (PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0 && errno != EINVAL)
    die ("cannot drop CAP_SYS_ADMIN from the bounding set", errno);
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_ADMIN, 0, 0) != 0 &&
      errno != EINVAL)
    die ("cannot drop CAP_SYS_ADMIN from the ambient set", errno);
  if (syscall (SYS_capget, &header, data) != 0)
    die ("cannot read its capabilities", errno);
  data[word].effective &= ~(1u << bit);
  data[word].permitted &= ~(1u << bit);
  data[word].inheritable &= ~(1u << bit);
  if (syscall (SYS_capset, &header, data) != 0)
    die ("cannot drop CAP_SYS_ADMIN", errno);
  /* Whatever happened above, never exec init while it could come back. */
  if (prctl (PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
    die ("CAP_SYS_ADMIN is still in the bounding set", EPERM);
}

int
main (int argc,
      char **argv)
{
  int seccomp = 0;
  const char *hostname = NULL;
  int i;

  for (i = 1; i < argc && strcmp (argv[i], "--") != 0; i++)
    if (strcmp (argv[i], "--seccomp") == 0)
      seccomp = 1;
    else if (strcmp (argv[i], "--hostname") == 0 && i + 1 < argc)
      {
        hostname = argv[++i];
        if (!hostname_is_valid (hostname))
          {
            fprintf (stderr, "nova-lxc-init: invalid host name \"%.*s\": "
                     "one DNS label of a-z, 0-9 and \"-\" is needed; the "
                     "instance does not start\n", HOSTNAME_MAX + 1, hostname);
            return 1;
          }
      }
    else
      {
        fprintf (stderr, "nova-lxc-init: unknown option %s\n" USAGE, argv[i]);
        return 1;
      }
  if (i + 1 >= argc || argv[i + 1][0] != '/')
    {
      fprintf (stderr, USAGE "(INIT an absolute path)\n");
      return 1;
    }
  /* In this order: the pids group is found by its host path, which the
   * cgroup namespace hides; the mounts and the keyring need calls the
   * filter or the capability drop take away. */
  wait_for_pids_group ();
  enter_cgroup_namespace ();
  join_session_keyring ();
  if (seccomp)
    load_seccomp ();
  if (hostname != NULL)
    set_hostname (hostname);
  drop_sys_admin ();
  execv (argv[i + 1], argv + i + 1);
  die (argv[i + 1], errno);
}
