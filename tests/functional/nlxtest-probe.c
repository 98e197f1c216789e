/* nlxtest-probe: a static program the functional tests run inside
 * containers, whose busybox cannot change user or show setuid effects.
 *
 *   nlxtest-probe euid            prints the effective uid
 *   nlxtest-probe as UID PROG...  runs PROG as UID (and gid UID)
 *
 * Copied setuid-root onto a volume, "as 65534 .../nlxtest-probe euid"
 * prints 0 where setuid works and 65534 where nosuid holds.
 *
 * Limits (test-security's pids and CPU cases):
 *   nlxtest-probe forks N [HOLD]  forks up to N children that sleep, stops
 *                                 at the first failure, prints how many it
 *                                 made, holds them HOLD seconds (default
 *                                 0), then kills and reaps them all
 *   nlxtest-probe churn N SECONDS starts N relays of processes, each
 *                                 forking its successor at once and
 *                                 exiting 5 ms later, for SECONDS;
 *                                 returns at once, prints nothing
 *   nlxtest-probe burn N SECONDS  runs N busy processes for SECONDS and
 *                                 prints the CPUs they used on average
 *                                 (CPU time / wall time, e.g. "0.98")
 *
 * Loop device attacks (issue 13, volumes): each opens DEV read-only, as
 * a server's root can open its volume's /dev/vdX, makes one ioctl and
 * prints "ok" (exit 0) or the error (exit 1).
 *
 *   nlxtest-probe loop-change-fd DEV FILE        LOOP_CHANGE_FD to FILE
 *   nlxtest-probe loop-clr-fd DEV                LOOP_CLR_FD
 *   nlxtest-probe loop-configure DEV FILE NAME   LOOP_CONFIGURE, read-only,
 *                                                over FILE, named NAME
 *
 * Network (port security, test-security.c):
 *
 *   nlxtest-probe spoofed IFACE SECONDS
 *       counts, for SECONDS, the frames IFACE receives that only a
 *       spoofer sends: from IFACE's own MAC, or ARP whose sender is
 *       IFACE's own IPv4 address; prints the count.
 *   nlxtest-probe lldp IFACE MAC
 *       sends one frame to the LLDP group address (01:80:c2:00:00:0e)
 *       from MAC, which a bridge learns before netfilter sees it.
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
 *                                 its errno (ENOKEY when unreachable)
 *
 * The /proc view (test-proc):
 *   nlxtest-probe reread FILE     reads FILE, seeks back to 0 and prints
 *                                 what a second read gives, as procps 4
 *                                 reads /proc/meminfo (exit 3: no seek)
 *   nlxtest-probe nprocs          prints sysconf(_SC_NPROCESSORS_ONLN) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_packet.h>
#include <linux/loop.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
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

/* ---- limits ---- */

static int
forks (long wanted,
       unsigned hold)
{
  pid_t *children = calloc (wanted > 0 ? wanted : 1, sizeof (pid_t));
  long made = 0;

  if (children == NULL)
    return 2;
  while (made < wanted)
    {
      pid_t pid = fork ();

      if (pid < 0)
        break;
      if (pid == 0)
        {
          /* Bounded even if the parent dies before killing it. */
          sleep (60);
          _exit (0);
        }
      children[made++] = pid;
    }
  printf ("%ld\n", made);
  fflush (stdout);
  sleep (hold);
  for (long i = 0; i < made; i++)
    kill (children[i], SIGKILL);
  while (wait (NULL) > 0)
    ;
  free (children);
  return 0;
}

static double
seconds_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A tenant's fork loop that never lets up: N relays, in each of which
 * every process forks its successor at once and exits 5 ms later (a
 * fork that fails is tried again).  Moving processes into a cgroup one
 * by one never catches a relay: its newest process is always one not
 * listed yet.  Returns at once; the relays (children of init by then,
 * reaped by the kernel: SIGCHLD ignored) end after SECONDS. */
static int
churn (long n,
       double seconds)
{
  double end = seconds_now () + seconds;
  const struct timespec life = { 0, 5 * 1000 * 1000 };

  signal (SIGCHLD, SIG_IGN);
  for (long i = 0; i < n; i++)
    if (fork () == 0)
      {
        while (seconds_now () < end)
          {
            pid_t pid = fork ();

            /* The successor carries on; this one waits and goes. */
            if (pid > 0)
              {
                nanosleep (&life, NULL);
                _exit (0);
              }
          }
        _exit (0);
      }
  return 0;
}

static int
burn (long n,
      double seconds)
{
  double start = seconds_now ();
  struct rusage usage;
  double cpu;

  for (long i = 0; i < n; i++)
    if (fork () == 0)
      {
        volatile unsigned long spin = 0;

        while (seconds_now () - start < seconds)
          spin++;
        _exit (0);
      }
  while (wait (NULL) > 0)
    ;
  getrusage (RUSAGE_CHILDREN, &usage);
  cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
        usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  printf ("%.2f\n", cpu / (seconds_now () - start));
  return 0;
}

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

/* ---- network ---- */

static int
count_spoofed (const char *iface,
               int seconds)
{
  struct ifreq ifr;
  unsigned char own_mac[ETH_ALEN];
  struct in_addr own_ip;
  struct sockaddr_ll sll = { 0 };
  struct timespec end, now;
  unsigned count = 0;
  int fd = socket (AF_PACKET, SOCK_RAW, htons (ETH_P_ALL));

  if (fd < 0 || strlen (iface) >= IFNAMSIZ)
    {
      perror ("nlxtest-probe: cannot open a packet socket");
      return 2;
    }
  memset (&ifr, 0, sizeof ifr);
  strcpy (ifr.ifr_name, iface);
  if (ioctl (fd, SIOCGIFHWADDR, &ifr) != 0)
    {
      perror ("nlxtest-probe: no such interface");
      return 2;
    }
  memcpy (own_mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
  if (ioctl (fd, SIOCGIFADDR, &ifr) != 0)
    {
      perror ("nlxtest-probe: the interface has no IPv4 address");
      return 2;
    }
  own_ip = ((struct sockaddr_in *) &ifr.ifr_addr)->sin_addr;
  if (ioctl (fd, SIOCGIFINDEX, &ifr) != 0)
    return 2;
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons (ETH_P_ALL);
  sll.sll_ifindex = ifr.ifr_ifindex;
  if (bind (fd, (struct sockaddr *) &sll, sizeof sll) != 0)
    {
      perror ("nlxtest-probe: cannot bind the packet socket");
      return 2;
    }
  clock_gettime (CLOCK_MONOTONIC, &end);
  end.tv_sec += seconds;
  for (;;)
    {
      unsigned char frame[2048];
      struct sockaddr_ll from;
      socklen_t from_len = sizeof from;
      struct pollfd pfd = { fd, POLLIN, 0 };
      const struct ether_header *eth = (const void *) frame;
      long left_ms;
      ssize_t n;

      clock_gettime (CLOCK_MONOTONIC, &now);
      left_ms = (end.tv_sec - now.tv_sec) * 1000 +
                (end.tv_nsec - now.tv_nsec) / 1000000;
      if (left_ms <= 0 || poll (&pfd, 1, (int) left_ms) <= 0)
        break;
      n = recvfrom (fd, frame, sizeof frame, 0, (struct sockaddr *) &from,
                    &from_len);
      if (n < (ssize_t) sizeof *eth || from.sll_pkttype == PACKET_OUTGOING)
        continue;
      if (memcmp (eth->ether_shost, own_mac, ETH_ALEN) == 0)
        count++;
      else if (ntohs (eth->ether_type) == ETHERTYPE_ARP &&
               n >= (ssize_t) (sizeof *eth + sizeof (struct ether_arp)))
        {
          const struct ether_arp *arp = (const void *) (frame + sizeof *eth);

          if (memcmp (arp->arp_spa, &own_ip, 4) == 0)
            count++;
        }
    }
  printf ("%u\n", count);
  return 0;
}

static int
send_lldp (const char *iface,
           const char *mac)
{
  unsigned char frame[60] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
  struct sockaddr_ll sll = { 0 };
  unsigned int b[6];
  int fd = socket (AF_PACKET, SOCK_RAW, htons (ETH_P_ALL));

  if (sscanf (mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
              &b[5]) != 6)
    {
      fprintf (stderr, "nlxtest-probe: bad MAC %s\n", mac);
      return 2;
    }
  for (int i = 0; i < 6; i++)
    frame[6 + i] = (unsigned char) b[i];
  frame[12] = 0x88;
  frame[13] = 0xcc;
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = (int) if_nametoindex (iface);
  sll.sll_halen = ETH_ALEN;
  memcpy (sll.sll_addr, frame, ETH_ALEN);
  if (fd < 0 || sll.sll_ifindex == 0 ||
      sendto (fd, frame, sizeof frame, 0, (struct sockaddr *) &sll,
              sizeof sll) != (ssize_t) sizeof frame)
    {
      perror ("nlxtest-probe: cannot send");
      return 2;
    }
  return 0;
}

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
  if ((argc == 3 || argc == 4) && strcmp (argv[1], "forks") == 0)
    return forks (strtol (argv[2], NULL, 10),
                  argc == 4 ? (unsigned) strtoul (argv[3], NULL, 10) : 0);
  if (argc == 4 && strcmp (argv[1], "churn") == 0)
    return churn (strtol (argv[2], NULL, 10), strtod (argv[3], NULL));
  if (argc == 4 && strcmp (argv[1], "burn") == 0)
    return burn (strtol (argv[2], NULL, 10), strtod (argv[3], NULL));
  if (argc >= 3 && strncmp (argv[1], "loop-", 5) == 0)
    return loop_attack (argc, argv);
  if (argc == 4 && strcmp (argv[1], "spoofed") == 0)
    return count_spoofed (argv[2], atoi (argv[3]));
  if (argc == 4 && strcmp (argv[1], "lldp") == 0)
    return send_lldp (argv[2], argv[3]);
  /* ---- the /proc view ---- */
  if (argc == 3 && strcmp (argv[1], "reread") == 0)
    {
      static char buffer[65536];
      int fd = open (argv[2], O_RDONLY);
      ssize_t n;

      if (fd < 0 || read (fd, buffer, sizeof buffer) < 0)
        {
          perror ("nlxtest-probe: cannot read");
          return 2;
        }
      if (lseek (fd, 0, SEEK_SET) != 0)
        {
          perror ("nlxtest-probe: cannot seek");
          return 3;
        }
      n = read (fd, buffer, sizeof buffer);
      if (n < 0)
        {
          perror ("nlxtest-probe: cannot read again");
          return 2;
        }
      fwrite (buffer, 1, (size_t) n, stdout);
      return 0;
    }
  if (argc == 2 && strcmp (argv[1], "nprocs") == 0)
    {
      printf ("%ld\n", sysconf (_SC_NPROCESSORS_ONLN));
      return 0;
    }
  fprintf (stderr, "usage: nlxtest-probe euid | as UID PROGRAM [ARG...] | "
           "forks N | churn N SECONDS | burn N SECONDS | loop-change-fd DEV FILE | "
           "loop-clr-fd DEV | loop-configure DEV FILE NAME | "
           "spoofed IFACE SECONDS | lldp IFACE MAC | syscalls | keyring | "
           "find-key DESCRIPTION | reread FILE | nprocs\n");
  return 2;
}
