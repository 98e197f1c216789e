/* nova-lxc-init: the first program of every instance, before its init
 *
 *   nova-lxc-init [--seccomp] -- INIT [ARG...]
 *
 * libvirt's LXC driver has no seccomp support and gives every container
 * the session keyring of libvirtd, which a privileged instance (no user
 * namespace) shares with host root.  So the domain's <init> is this
 * program, bind-mounted read-only from the host at NLX_SANDBOX_MOUNT
 * (libvirt makes it inside the container's own /dev tmpfs, so nothing is
 * written into the instance's root), and it:
 *
 *   1. joins a new anonymous session keyring, which every process of the
 *      instance inherits (it is not published for others to join: only
 *      its possessors may search it);
 *   2. with --seccomp, loads the default filter: the calls in
 *      denied_calls[] fail with ENOSYS on every ABI the CPU runs (x86-64,
 *      i386 and x32 on x86-64), other ABIs kill the caller;
 *   3. drops CAP_SYS_ADMIN from all its capability sets, the bounding set
 *      included.  libvirt keeps it for this program only so that the
 *      filter loads without no_new_privs, which would stop every setuid
 *      program inside (su, sudo, ping);
 *   4. execs INIT with ARGs, so INIT is pid 1 with its own argv and
 *      environment.
 *
 * Any failure stops here with a message on the console (console.log) and
 * exit status 1: an instance never runs with less than it was given.
 * Static, since instances' roots have their own C libraries or none. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

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

static void
join_session_keyring (void)
{
  /* A NULL name makes a new keyring, never joins an existing one. */
  if (syscall (SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 &&
      errno != ENOSYS)
    die ("cannot join a session keyring of its own", errno);
}

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
  int i;

  for (i = 1; i < argc && strcmp (argv[i], "--") != 0; i++)
    if (strcmp (argv[i], "--seccomp") == 0)
      seccomp = 1;
    else
      {
        fprintf (stderr, "nova-lxc-init: unknown option %s\n"
                 "usage: nova-lxc-init [--seccomp] -- INIT [ARG...]\n", argv[i]);
        return 1;
      }
  if (i + 1 >= argc || argv[i + 1][0] != '/')
    {
      fprintf (stderr, "usage: nova-lxc-init [--seccomp] -- INIT [ARG...]\n"
               "(INIT an absolute path)\n");
      return 1;
    }
  join_session_keyring ();
  if (seccomp)
    load_seccomp ();
  drop_sys_admin ();
  execv (argv[i + 1], argv + i + 1);
  die (argv[i + 1], errno);
}
