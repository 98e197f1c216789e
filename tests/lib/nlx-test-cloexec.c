/* nlx-test-cloexec.c: every descriptor nova-lxc's code makes must be
 * close-on-exec
 *
 * Linked into test programs (with -Wl,-E, so that the libraries and
 * plugins they load call these too), this file defines libc's calls that
 * make file descriptors, calls libc's own and checks what came back: a
 * descriptor without FD_CLOEXEC made while nova-lxc's code is on the
 * stack aborts the program at once, naming the descriptor, what it is
 * and a backtrace, so the case that ran the path fails.  GLib's calls
 * count (our code calls g_file_get_contents(), GLib calls open());
 * libvirt's do not, nor do dup2() onto 0, 1 and 2, which is how a child
 * gets its standard streams.  Only the process that loaded the program
 * is checked: a forked child, which is about to exec or _exit, may call
 * only async-signal-safe functions and dladdr() is not one.
 *
 * Descriptors the kernel makes through syscall() (fsopen, fsmount,
 * open_tree, pidfd_open, memfd_create) are checked too.
 *
 * NLX_TEST_CLOEXEC=0 in the environment turns the check off. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static pid_t checked_pid;
static int disabled;

__attribute__((constructor)) static void
cloexec_init (void)
{
  const char *env = getenv ("NLX_TEST_CLOEXEC");

  checked_pid = getpid ();
  disabled = env != NULL && strcmp (env, "0") == 0;
}

#define REAL(name) \
  static __typeof__ (name) *real; \
  if (real == NULL) \
    real = (__typeof__ (name) *) dlsym (RTLD_NEXT, #name)

/* Whether a descriptor made from @caller is ours to check: only when
 * nova-lxc's code (an nlx_ function, not the tests' nlx_test_ ones) is
 * on the stack, so that what a test does for itself is not checked; not
 * when a library other than GLib made it, nor when one of @known is on
 * the stack.  Static functions have no symbol of their own: dladdr()
 * names the exported one before them, an nlx_ one in nova-lxc's code. */
static int
caller_is_ours (const Dl_info *info)
{
  const char *object = info->dli_fname != NULL ? info->dli_fname : "";
  static const char * const theirs[] = {
    "libvirt", "libxml2", "libgnutls", "libsasl", "libssh", "libcurl",
    "libsystemd", "libdbus", "libselinux", "ld-linux", NULL
  };
  static const char * const known[] = {
    /* GLib 2.74 opens /dev/urandom without "e" once, at the first
     * g_random_*() call of the process, and closes it at once:
     * nova-lxc-compute makes that call before it starts any thread. */
    "g_rand_new",
    /* GIO 2.74 accept()s, then sets FD_CLOEXEC. */
    "g_socket_accept",
    /* libnftables 1.0.6 opens its netlink socket and its tables without
     * it: nlx-network-filter.c marks the socket, the one it keeps, and
     * the daemon makes the context before it runs any child. */
    "nft_ctx_new",
    NULL
  };
  void *frames[64];
  int depth;
  int ours = 0;

  for (int i = 0; theirs[i] != NULL; i++)
    if (strstr (object, theirs[i]) != NULL)
      return 0;
  depth = backtrace (frames, (int) (sizeof frames / sizeof frames[0]));
  for (int f = 0; f < depth; f++)
    {
      Dl_info frame = { 0 };

      if (dladdr (frames[f], &frame) == 0 || frame.dli_sname == NULL)
        continue;
      for (int i = 0; known[i] != NULL; i++)
        if (strcmp (frame.dli_sname, known[i]) == 0)
          return 0;
      if (strncmp (frame.dli_sname, "nlx_", 4) == 0 &&
          strncmp (frame.dli_sname, "nlx_test_", 9) != 0)
        ours = 1;
    }
  return ours;
}

static int
cloexec_check (int fd,
               const char *call,
               void *caller)
{
  static int (*real_fcntl) (int, int, ...);
  int saved_errno = errno;
  Dl_info info = { 0 };
  char link[64];
  char target[512];
  ssize_t n;

  if (fd < 0 || disabled || getpid () != checked_pid)
    return fd;
  if (real_fcntl == NULL)
    real_fcntl = (int (*) (int, int, ...)) dlsym (RTLD_NEXT, "fcntl");
  if (real_fcntl (fd, F_GETFD) & FD_CLOEXEC)
    {
      errno = saved_errno;
      return fd;
    }
  dladdr (caller, &info);
  if (!caller_is_ours (&info))
    {
      errno = saved_errno;
      return fd;
    }
  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, target, sizeof target - 1);
  target[n > 0 ? n : 0] = '\0';
  fprintf (stderr,
           "nlx-test-cloexec: descriptor %d (%s) made by %s() without "
           "close-on-exec, called from %s in %s (%p); a child exec'd by "
           "another thread would inherit it\n",
           fd, target, call,
           info.dli_sname != NULL ? info.dli_sname : "?",
           info.dli_fname != NULL ? info.dli_fname : "?", caller);
  {
    void *frames[32];
    int depth = backtrace (frames, (int) (sizeof frames / sizeof frames[0]));

    backtrace_symbols_fd (frames, depth, STDERR_FILENO);
  }
  abort ();
}

#define CHECK(call, fd) \
  cloexec_check ((fd), (call), __builtin_return_address (0))

static int
needs_mode (int flags)
{
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

#define MODE_ARG(flags, mode) \
  do { \
    if (needs_mode (flags)) \
      { \
        va_list ap; \
        va_start (ap, flags); \
        mode = va_arg (ap, mode_t); \
        va_end (ap); \
      } \
  } while (0)

int
open (const char *path, int flags, ...)
{
  mode_t mode = 0;
  REAL (open);
  MODE_ARG (flags, mode);
  return CHECK ("open", real (path, flags, mode));
}

int
open64 (const char *path, int flags, ...)
{
  mode_t mode = 0;
  REAL (open64);
  MODE_ARG (flags, mode);
  return CHECK ("open64", real (path, flags, mode));
}

int
openat (int dirfd, const char *path, int flags, ...)
{
  mode_t mode = 0;
  REAL (openat);
  MODE_ARG (flags, mode);
  return CHECK ("openat", real (dirfd, path, flags, mode));
}

int
openat64 (int dirfd, const char *path, int flags, ...)
{
  mode_t mode = 0;
  REAL (openat64);
  MODE_ARG (flags, mode);
  return CHECK ("openat64", real (dirfd, path, flags, mode));
}

/* What _FORTIFY_SOURCE turns open() into when the flags are not known
 * at compile time. */
int __open_2 (const char *path, int flags);
int __open64_2 (const char *path, int flags);
int __openat_2 (int dirfd, const char *path, int flags);
int __openat64_2 (int dirfd, const char *path, int flags);

int
__open_2 (const char *path, int flags)
{
  REAL (__open_2);
  return CHECK ("open", real (path, flags));
}

int
__open64_2 (const char *path, int flags)
{
  REAL (__open64_2);
  return CHECK ("open64", real (path, flags));
}

int
__openat_2 (int dirfd, const char *path, int flags)
{
  REAL (__openat_2);
  return CHECK ("openat", real (dirfd, path, flags));
}

int
__openat64_2 (int dirfd, const char *path, int flags)
{
  REAL (__openat64_2);
  return CHECK ("openat64", real (dirfd, path, flags));
}

int
creat (const char *path, mode_t mode)
{
  REAL (creat);
  return CHECK ("creat", real (path, mode));
}

int
socket (int domain, int type, int protocol)
{
  REAL (socket);
  return CHECK ("socket", real (domain, type, protocol));
}

int
socketpair (int domain, int type, int protocol, int sv[2])
{
  int rc;
  REAL (socketpair);
  rc = real (domain, type, protocol, sv);
  if (rc == 0)
    {
      CHECK ("socketpair", sv[0]);
      CHECK ("socketpair", sv[1]);
    }
  return rc;
}

int
accept (int fd, struct sockaddr *addr, socklen_t *len)
{
  REAL (accept);
  return CHECK ("accept", real (fd, addr, len));
}

int
accept4 (int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
  REAL (accept4);
  return CHECK ("accept4", real (fd, addr, len, flags));
}

int
pipe (int fds[2])
{
  int rc;
  REAL (pipe);
  rc = real (fds);
  if (rc == 0)
    {
      CHECK ("pipe", fds[0]);
      CHECK ("pipe", fds[1]);
    }
  return rc;
}

int
pipe2 (int fds[2], int flags)
{
  int rc;
  REAL (pipe2);
  rc = real (fds, flags);
  if (rc == 0)
    {
      CHECK ("pipe2", fds[0]);
      CHECK ("pipe2", fds[1]);
    }
  return rc;
}

int
dup (int fd)
{
  REAL (dup);
  return CHECK ("dup", real (fd));
}

int
dup2 (int fd, int fd2)
{
  int rc;
  REAL (dup2);
  rc = real (fd, fd2);
  /* A child's standard streams are meant to be inherited. */
  return fd2 <= 2 ? rc : CHECK ("dup2", rc);
}

int
dup3 (int fd, int fd2, int flags)
{
  int rc;
  REAL (dup3);
  rc = real (fd, fd2, flags);
  return fd2 <= 2 ? rc : CHECK ("dup3", rc);
}

int
fcntl (int fd, int cmd, ...)
{
  va_list ap;
  void *arg;
  int rc;
  REAL (fcntl);

  va_start (ap, cmd);
  arg = va_arg (ap, void *);
  va_end (ap);
  rc = real (fd, cmd, arg);
  return cmd == F_DUPFD ? CHECK ("fcntl(F_DUPFD)", rc) : rc;
}

int
fcntl64 (int fd, int cmd, ...)
{
  va_list ap;
  void *arg;
  int rc;
  REAL (fcntl64);

  va_start (ap, cmd);
  arg = va_arg (ap, void *);
  va_end (ap);
  rc = real (fd, cmd, arg);
  return cmd == F_DUPFD ? CHECK ("fcntl(F_DUPFD)", rc) : rc;
}

FILE *
fopen (const char *path, const char *mode)
{
  FILE *f;
  REAL (fopen);
  f = real (path, mode);
  if (f != NULL)
    CHECK ("fopen", fileno (f));
  return f;
}

FILE *
fopen64 (const char *path, const char *mode)
{
  FILE *f;
  REAL (fopen64);
  f = real (path, mode);
  if (f != NULL)
    CHECK ("fopen64", fileno (f));
  return f;
}

int
mkstemp (char *template)
{
  REAL (mkstemp);
  return CHECK ("mkstemp", real (template));
}

int
mkstemp64 (char *template)
{
  REAL (mkstemp64);
  return CHECK ("mkstemp64", real (template));
}

int
mkostemp (char *template, int flags)
{
  REAL (mkostemp);
  return CHECK ("mkostemp", real (template, flags));
}

int
mkostemp64 (char *template, int flags)
{
  REAL (mkostemp64);
  return CHECK ("mkostemp64", real (template, flags));
}

int
memfd_create (const char *name, unsigned int flags)
{
  REAL (memfd_create);
  return CHECK ("memfd_create", real (name, flags));
}

int
eventfd (unsigned int count, int flags)
{
  REAL (eventfd);
  return CHECK ("eventfd", real (count, flags));
}

int
inotify_init (void)
{
  REAL (inotify_init);
  return CHECK ("inotify_init", real ());
}

int
inotify_init1 (int flags)
{
  REAL (inotify_init1);
  return CHECK ("inotify_init1", real (flags));
}

long
syscall (long number, ...)
{
  va_list ap;
  long a[6];
  long rc;
  REAL (syscall);

  va_start (ap, number);
  for (int i = 0; i < 6; i++)
    a[i] = va_arg (ap, long);
  va_end (ap);
  rc = real (number, a[0], a[1], a[2], a[3], a[4], a[5]);
  switch (number)
    {
#ifdef SYS_fsopen
    case SYS_fsopen:
#endif
#ifdef SYS_fsmount
    case SYS_fsmount:
#endif
#ifdef SYS_open_tree
    case SYS_open_tree:
#endif
#ifdef SYS_pidfd_open
    case SYS_pidfd_open:
#endif
    case SYS_memfd_create:
    case SYS_open:
    case SYS_openat:
      if (rc >= 0 && rc <= INT_MAX)
        CHECK ("syscall", (int) rc);
      break;
    default:
      break;
    }
  return rc;
}
