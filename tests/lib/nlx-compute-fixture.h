/* nlx-compute-fixture.h: a private daemon on real libvirt LXC for the
 * tempest-style functional tests (test-compute, test-volumes,
 * test-security); see nlx-compute-fixture.c. */
#pragma once

#include <sys/types.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>
#include <libsoup/soup.h>

#include "lib/nlx-test-libvirt.h"

#define IMAGE "nlxtest-busybox"
#define BROKEN_IMAGE "nlxtest-broken"
/* The busybox root with a "shutdown" signal its init ignores (SIGHUP
 * rereads inittab), so a stop waits shutdown_timeout, then kills it. */
#define DEAF_IMAGE "nlxtest-deaf"
/* The busybox root whose init (a script) prints "nlxtest-last-words"
 * and exits 1 at its first boot, "nlxtest-later-words" and exits 2 a
 * second into its second, and runs busybox init after that. */
#define DYING_IMAGE "nlxtest-dying"
#define DYING_INIT "/sbin/nlxtest-dying-init"
/* A Debian 12 root with systemd as init, from tools/debian-root, when
 * NLX_TEST_DEBIAN_ROOT names it. */
#define DEBIAN_IMAGE "nlxtest-debian"
/* The Debian 12 root with cloud-init and openssh-server, from
 * tools/debian-root cloud, when NLX_TEST_CLOUD_ROOT names it; and a
 * copy of it (hard links, in the fixture's directory) with a config
 * drive seeded inside, which the case that boots it makes. */
#define CLOUD_IMAGE "nlxtest-cloud"
#define CLOUD_SEEDED_IMAGE "nlxtest-cloud-seeded"
#define START_TIMEOUT_US (20 *G_USEC_PER_SEC)

typedef struct {
  char *dir;
  char *config;
  char *socket;
  SoupSession *session;
  virConnectPtr conn;
  gboolean usable;
  gboolean verify_fsck;
  /* The instances' bridge, nlxc<6 hex>, and its /24 of 198.18.0.0/15
   * (RFC 2544's range for network tests): "198.18.N" */
  char *bridge;
  char *subnet;
} Fixture;

typedef void (*CaseFunc) (Fixture *f);

typedef struct {
  const char *path;
  CaseFunc body;
  /* An environment variable the case needs, or NULL.  Without it, with
   * @why the variable is an opt-in and the case is skipped saying @why;
   * without @why it names what this host must provide (tools/check
   * does), as nlx_test_host_unusable() reports. */
  const char *needs;
  const char *why;
} Case;

GPid daemon_pid (Fixture *f);
void daemon_start (Fixture *f);
void daemon_stop (Fixture *f, int signal);
void write_config (Fixture *f);
void fixture_setup (Fixture *f, gconstpointer data);
void fixture_teardown (Fixture *f, gconstpointer data);
char *neighbour_bridge (Fixture *f);
GSubprocess *start_neighbour_daemon (Fixture *f, const char *config_text, const char *socket);
char *host_output (const char * const *argv);
void run_case (Fixture *f, gconstpointer data);
int domain_running (Fixture *f, const char *uuid);
int domain_state (Fixture *f, const char *uuid);
gboolean instance_dir_exists (Fixture *f, const char *uuid);
const char *member_string (JsonNode *reply, const char *member);
void delete_and_check (Fixture *f, const char *id);
char *boot_image (Fixture *f, const char *name, const char *image);
char *boot (Fixture *f, const char *name);
char *console (Fixture *f, const char *id);
unsigned int domain_id (Fixture *f, const char *uuid);
void host_learns (Fixture *f, const char *b_address);
void wait_restarted (Fixture *f, const char *uuid, unsigned int old_id,
                     guint timeout_s);
char *volumes_dir (Fixture *f);
char *volume_tree (Fixture *f, const char *name);
void create_volume (Fixture *f, const char *id, const char *tree);
guint attach (Fixture *f, const char *server, const char *volume, const char *extra, JsonNode **reply);
guint detach (Fixture *f, const char *server, const char *volume);
pid_t init_of (Fixture *f, const char *uuid);
char *in_init_cgroups (Fixture *f, const char *uuid, const char *command);
int in_container (Fixture *f, const char *uuid, const char *script, char **output);
void assert_in_container (Fixture *f, const char *uuid, const char *script, int expected_rc, const char *expected_output);
guint loop_devices_of (const char *uuid);
const char *task_state_of (JsonNode *reply);
guint host_uid (pid_t pid);
char *address_of (Fixture *f, const char *id, char **mac);
gboolean bridge_has_port (Fixture *f, const char *id);
void assert_reaches (Fixture *f, const char *from, const char *address);
void libvirtd (const char *command);
void wait_settled (Fixture *f, const char *id, const char *wanted);
/* Waits (60 s at most) for systemd in the container to finish booting;
 * fails the case, listing the failed units, unless it is "running". */
void assert_systemd_running (Fixture *f, const char *uuid);
int run_cases (int *argc, char ***argv, const char *summary,
               const Case *cases, gsize n_cases);
