/* test-cloud.c: a tenant's cloud image on real libvirt LXC: Debian 12
 * with cloud-init and openssh-server (tools/debian-root cloud, named by
 * NLX_TEST_CLOUD_ROOT) booted with a key pair and user data; the test
 * logs in with ssh over the case's bridge, as a tenant would, then
 * reboots, stops, starts and snapshots the server.  The fixture is in
 * nlx-compute-fixture.c.
 *
 * Three ways to hand cloud-init its data:
 *  - config-drive: through the API (key_name, user_data, config_drive),
 *    the daemon making the config drive;
 *  - metadata-service: the same without config_drive, cloud-init's
 *    OpenStack datasource reading the daemon's metadata service;
 *  - seeded: a copy of the root with the config drive's files at
 *    cloud-init's seed directory (/var/lib/cloud/seed/config_drive),
 *    written by the test: it proves the image, sshd and the test's
 *    plumbing without the daemon's part. */
#include "config.h"

#include <unistd.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>

#include "lib/nlx-compute-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"

#define KEY_NAME "nlxtest-cloud-key"
#define MARKER "nlx-marker"
#define USER_DATA "#!/bin/sh\necho " MARKER " > /var/tmp/nlx-user-data\n"
/* From POST to the first command run over ssh, and for ssh to answer
 * again after a reboot or start; a boot takes a few seconds here. */
#define SSH_TIMEOUT_S 120

/* Timings go to stderr, which the case's subprocess shares with the
 * test's log (its stdout is captured), as TAP comments. */
#define report_time(...) g_printerr ("# " __VA_ARGS__)

typedef struct {
  char *dir;
  char *key;
  char *public_key;   /* one OpenSSH line, no newline */
} Key;

static void
key_free (Key *key)
{
  g_autoptr(GError) error = NULL;

  if (key->dir != NULL)
    {
      g_autofree char *pub = g_strconcat (key->key, ".pub", NULL);

      g_unlink (key->key);
      g_unlink (pub);
      g_rmdir (key->dir);
    }
  g_free (key->dir);
  g_free (key->key);
  g_free (key->public_key);
  g_free (key);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Key, key_free)

/* A fresh ed25519 key pair, made with ssh-keygen in a directory of its
 * own under the fixture's (removed with it when the case fails). */
static Key *
make_key (Fixture *f)
{
  g_autoptr(Key) key = g_new0 (Key, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *pub = NULL;
  g_autofree char *text = NULL;
  g_autofree char *template = g_build_filename (f->dir, "ssh-XXXXXX", NULL);

  key->dir = g_mkdtemp (g_steal_pointer (&template));
  g_assert_nonnull (key->dir);
  key->key = g_build_filename (key->dir, "id_ed25519", NULL);
  nlx_test_run_command ((const char * const []) { "ssh-keygen", "-q", "-t", "ed25519",
                                         "-N", "", "-C", "nlxtest-cloud",
                                         "-f", key->key, NULL });
  pub = g_strconcat (key->key, ".pub", NULL);
  g_file_get_contents (pub, &text, NULL, &error);
  g_assert_no_error (error);
  key->public_key = g_strdup (g_strstrip (text));
  return g_steal_pointer (&key);
}

/* Runs @command as root on @address over ssh with @key; returns its
 * exit status (255: ssh could not connect or log in) and sets @output
 * to what it printed (stdout and stderr). */
static int
ssh_run (Key *key,
         const char *address,
         const char *command,
         char **output)
{
  g_autofree char *target = g_strconcat ("root@", address, NULL);
  const char * const argv[] = {
    "timeout", "30", "ssh", "-i", key->key,
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR",
    target, command, NULL
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (output != NULL)
    *output = g_strconcat (out, err, NULL);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 255;
}

/* Waits (SSH_TIMEOUT_S at most) until ssh runs `true` on @address; returns
 * the seconds it took from @since (monotonic µs). */
static double
wait_for_ssh (Key *key,
              const char *address,
              gint64 since)
{
  gint64 deadline = g_get_monotonic_time () + SSH_TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *output = NULL;
      int rc = ssh_run (key, address, "true", &output);

      if (rc == 0)
        return (g_get_monotonic_time () - since) / (double) G_USEC_PER_SEC;
      if (g_get_monotonic_time () > deadline)
        g_error ("ssh root@%s did not answer in %d s: exit %d, %s", address,
                 SSH_TIMEOUT_S, rc, output);
      g_usleep (200 * 1000);
    }
}

/* Runs @command over ssh and checks its status is 0 and, when
 * @expected is not NULL, that it printed @expected (one line). */
static void
assert_ssh (Key *key,
            const char *address,
            const char *command,
            const char *expected)
{
  g_autofree char *output = NULL;
  int rc = ssh_run (key, address, command, &output);

  g_test_message ("ssh %s: %s -> %d %s", address, command, rc, output);
  if (rc != 0)
    g_error ("ssh root@%s %s: exit %d, %s", address, command, rc, output);
  if (expected != NULL)
    g_assert_cmpstr (g_strstrip (output), ==, expected);
}

/* POSTs a server on m1.cloud; @extra is JSON members to add. */
static char *
create_cloud (Fixture *f,
              const char *name,
              const char *image,
              const char *extra)
{
  return nlx_test_create_on_flavor (f->session, name, "m1.cloud", image, extra);
}

/* Imports @key as the key pair KEY_NAME; returns the JSON members that
 * boot a server with it and with USER_DATA. */
static char *
key_and_user_data (Fixture *f,
                   Key *key)
{
  g_autofree char *keypair = g_strdup_printf (
    "{\"keypair\": {\"name\": \"" KEY_NAME "\", \"public_key\": \"%s\"}}",
    key->public_key);
  g_autofree char *user_data = g_base64_encode ((const guchar *) USER_DATA,
                                                strlen (USER_DATA));
  guint status = nlx_test_call (f->session, "POST", "/v2.1/os-keypairs",
                                keypair, NULL);

  g_assert_true (status == 200 || status == 201);
  return g_strdup_printf (", \"key_name\": \"" KEY_NAME "\", "
                          "\"user_data\": \"%s\"", user_data);
}

/* Boots @name from @image (@extra as for create_cloud()) and waits for
 * ACTIVE and for ssh with @key, reporting the time from the POST to the
 * first command over ssh.  Returns its id; @address gets its address. */
static char *
boot_to_ssh (Fixture *f,
             Key *key,
             const char *name,
             const char *image,
             const char *extra,
             char **address)
{
  gint64 t0 = g_get_monotonic_time ();
  char *id = create_cloud (f, name, image, extra);

  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  *address = address_of (f, id, NULL);
  report_time ("boot to ssh (POST to the first command over ssh): %.1f s\n",
               wait_for_ssh (key, *address, t0));
  return id;
}

/* What a tenant checks first: the key let root in (it is in
 * authorized_keys), the user-data script ran, every unit started, and
 * the host name is the server's, as @hostname_command prints it. */
static void
assert_cloud_configured (Fixture *f,
                         const char *id,
                         Key *key,
                         const char *address,
                         const char *hostname_command,
                         const char *hostname)
{
  g_auto(GStrv) fields = g_strsplit (key->public_key, " ", 3);
  g_autofree char *grep = g_strdup_printf ("grep -c -F '%s' "
                                           "/root/.ssh/authorized_keys",
                                           fields[1]);

  /* sshd answers before cloud-init's last stage has run the user data. */
  assert_ssh (key, address, "timeout 60 cloud-init status --wait "
                            "| tail -n 1", "status: done");
  assert_ssh (key, address, "cat /var/tmp/nlx-user-data", MARKER);
  assert_ssh (key, address, grep, "1");
  assert_ssh (key, address, hostname_command, hostname);
  assert_systemd_running (f, id);
}

/* Soft reboot, graceful stop (SIGRTMIN+4: systemd ends by itself, not
 * killed after shutdown_timeout) and start; ssh answers after each boot
 * and the first boot's work stays done. */
static void
reboot_stop_start (Fixture *f,
                   const char *id,
                   Key *key,
                   const char *address)
{
  g_autoptr(virDomain) dom = NULL;
  int state = -1;
  int reason = -1;
  gint64 t0;

  t0 = g_get_monotonic_time ();
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"SOFT\"}}",
                         "rebooting", "ACTIVE");
  report_time ("soft reboot to ssh: %.1f s\n", wait_for_ssh (key, address, t0));
  assert_ssh (key, address, "cat /var/tmp/nlx-user-data", MARKER);
  assert_systemd_running (f, id);

  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  dom = virDomainLookupByUUIDString (f->conn, id);
  g_assert_nonnull (dom);
  g_assert_cmpint (virDomainGetState (dom, &state, &reason, 0), ==, 0);
  g_assert_cmpint (state, ==, VIR_DOMAIN_SHUTOFF);
  g_assert_cmpint (reason, ==, VIR_DOMAIN_SHUTOFF_SHUTDOWN);

  t0 = g_get_monotonic_time ();
  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", "powering-on",
                         "ACTIVE");
  report_time ("start to ssh: %.1f s\n", wait_for_ssh (key, address, t0));
  assert_ssh (key, address, "cat /var/tmp/nlx-user-data", MARKER);
  assert_systemd_running (f, id);
}

static char *
snapshot (Fixture *f,
          const char *id)
{
  return nlx_test_create_image (f->session, id, "{\"createImage\": "
                                "{\"name\": \"nlxtest-cloud-snap\"}}");
}

static void
delete_image (Fixture *f,
              const char *image)
{
  g_autofree char *path = g_strconcat ("/v2.1/images/", image, NULL);

  g_assert_cmpint (nlx_test_call (f->session, "DELETE", path, NULL, NULL), ==,
                   204);
}

/* Through the API: a key pair, user data and a config drive the daemon
 * makes.  The snapshot boots as a new instance (a new uuid): cloud-init
 * runs again there and makes the new server's own SSH host keys, the
 * snapshot having none. */
static void
test_config_drive (Fixture *f)
{
  g_autoptr(Key) key = make_key (f);
  g_autofree char *boot_config = key_and_user_data (f, key);
  g_autofree char *extra = g_strconcat (boot_config, ", \"config_drive\": true",
                                        NULL);
  g_autofree char *address = NULL;
  g_autofree char *id = boot_to_ssh (f, key, "Nlx Test_Cloud.1", CLOUD_IMAGE,
                                     extra, &address);
  g_autofree char *image = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *copy_address = NULL;
  g_autofree char *host_key = NULL;
  g_autofree char *copy_host_key = NULL;

  assert_cloud_configured (f, id, key, address, "hostname", "nlx-test-cloud-1");
  g_assert_cmpint (ssh_run (key, address,
                            "cat /etc/ssh/ssh_host_ed25519_key.pub",
                            &host_key), ==, 0);

  reboot_stop_start (f, id, key, address);

  image = snapshot (f, id);
  copy = boot_to_ssh (f, key, "nlxtest-cloud-copy", image,
                      ", \"key_name\": \"" KEY_NAME "\", \"config_drive\": true",
                      &copy_address);
  assert_ssh (key, copy_address, "hostname", "nlxtest-cloud-copy");
  g_assert_cmpint (ssh_run (key, copy_address,
                            "cat /etc/ssh/ssh_host_ed25519_key.pub",
                            &copy_host_key), ==, 0);
  g_assert_cmpstr (copy_host_key, !=, host_key);
  assert_systemd_running (f, copy);

  delete_and_check (f, copy);
  delete_image (f, image);
  delete_and_check (f, id);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE",
                                  "/v2.1/os-keypairs/" KEY_NAME, NULL, NULL),
                   ==, 202);
}

/* Without a config drive: cloud-init's ds-identify takes the container
 * for OpenStack from product_name in PID 1's environment and reads the
 * daemon's metadata service at 169.254.169.254 over the bridge. */
static void
test_metadata_service (Fixture *f)
{
  g_autoptr(Key) key = make_key (f);
  g_autofree char *extra = key_and_user_data (f, key);
  g_autofree char *address = NULL;
  g_autofree char *id = boot_to_ssh (f, key, "nlxtest-cloud-mds", CLOUD_IMAGE,
                                     extra, &address);

  assert_cloud_configured (f, id, key, address, "hostname",
                           "nlxtest-cloud-mds");
  assert_ssh (key, address, "cloud-init query platform", "openstack");
  delete_and_check (f, id);
}

/* The cloud root hard-linked into the fixture's directory (nothing
 * writes to an image: instances boot from an overlay over it), with
 * the config drive's files in cloud-init's seed directory. */
static void
make_seeded_image (Fixture *f,
                   Key *key,
                   const char *hostname)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_build_filename (f->dir, CLOUD_SEEDED_IMAGE, NULL);
  g_autofree char *seed = g_build_filename (root, "var", "lib", "cloud", "seed",
                                            "config_drive", "openstack",
                                            "latest", NULL);
  g_autofree char *meta_data = g_build_filename (seed, "meta_data.json", NULL);
  g_autofree char *user_data = g_build_filename (seed, "user_data", NULL);
  g_autofree char *text = g_strdup_printf (
    "{\"uuid\": \"6e0b1cd2-5c2a-4a8e-9a57-0c1d2e3f4a5b\", "
    "\"name\": \"%s\", \"hostname\": \"%s\", "
    "\"public_keys\": {\"" KEY_NAME "\": \"%s\"}}\n",
    hostname, hostname, key->public_key);

  nlx_test_run_command ((const char * const []) { "cp", "-al",
                                         g_getenv ("NLX_TEST_CLOUD_ROOT"), root,
                                         NULL });
  g_assert_cmpint (g_mkdir_with_parents (seed, 0755), ==, 0);
  g_file_set_contents (meta_data, text, -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (user_data, USER_DATA, -1, &error);
  g_assert_no_error (error);
}

/* By hand: the image carries the seed, so the daemon's part is not
 * needed.  cloud-init cannot set the running host name here (sethostname
 * needs CAP_SYS_ADMIN, which the container lacks): it writes
 * /etc/hostname, which is what this case checks.  The snapshot keeps the
 * seed's instance id, so cloud-init sees no new instance there and makes
 * no host keys: it is only booted. */
static void
test_seeded (Fixture *f)
{
  g_autoptr(Key) key = make_key (f);
  g_autofree char *id = NULL;
  g_autofree char *address = NULL;
  g_autofree char *image = NULL;
  g_autofree char *copy = NULL;

  make_seeded_image (f, key, "nlxtest-cloud-seeded");
  id = boot_to_ssh (f, key, "nlxtest-cloud-seeded", CLOUD_SEEDED_IMAGE, NULL,
                    &address);
  assert_cloud_configured (f, id, key, address, "cat /etc/hostname",
                           "nlxtest-cloud-seeded");

  reboot_stop_start (f, id, key, address);

  image = snapshot (f, id);
  copy = create_cloud (f, "nlxtest-cloud-copy", image, NULL);
  nlx_test_wait_for_status (f->session, copy, "ACTIVE");
  g_assert_cmpint (domain_running (f, copy), ==, 1);
  delete_and_check (f, copy);
  delete_image (f, image);
  delete_and_check (f, id);
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/cloud/config-drive", test_config_drive, "NLX_TEST_CLOUD_ROOT" },
    { "/nlx/cloud/metadata-service", test_metadata_service,
      "NLX_TEST_CLOUD_ROOT" },
    { "/nlx/cloud/seeded", test_seeded, "NLX_TEST_CLOUD_ROOT" },
  };

  return run_cases (&argc, &argv,
                    "A tenant's cloud image (Debian 12, cloud-init, sshd) "
                    "booted by nova-lxc-compute on real libvirt LXC, reached "
                    "over ssh.",
                    cases, G_N_ELEMENTS (cases));
}
