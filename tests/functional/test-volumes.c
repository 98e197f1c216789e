/* test-volumes.c: tempest-style tests of volumes on real libvirt LXC:
 * attach, detach, refusals, dirty journals, boot from volume, crashes and
 * fsck, each checked from inside the container.  The fixture is in
 * nlx-compute-fixture.c. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/nlx-file.h"
#include "host/nlx-mount.h"
#include "lib/nlx-compute-fixture.h"
#include "lib/nlx-test-client.h"
#include "lib/nlx-test-tools.h"
#include "lxc/nlx-lxc-volume.h"

/* ---- api/compute/volumes ------------------------------------------------- */

/* What a mounted, attached volume must give the instance, and refuse. */
static void
check_volume_inside (Fixture *f,
                     const char *id)
{
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  /* Read-only all the way down. */
  assert_in_container (f, id, "echo x > /data/new", 1, NULL);
  assert_in_container (f, id, "dd if=/dev/zero of=/dev/vdb bs=512 count=1", 1,
                       NULL);
  assert_in_container (f, id, "dd if=/dev/vdb of=/dev/null bs=512 count=1", 0,
                       NULL);
  assert_in_container (f, id, "mkdir -p /tmp/m && mount -t ext4 -o ro "
                       "/dev/vdb /tmp/m", 1, NULL);
  /* A setuid-root program elevates from the image root, but the volume's
   * copy of it cannot (noexec, and nosuid besides). */
  assert_in_container (f, id, "nlxtest-probe as 65534 /bin/nlxtest-probe euid",
                       0, "0");
  assert_in_container (f, id, "nlxtest-probe as 65534 /data/nlxtest-probe euid",
                       1, NULL);
  assert_in_container (f, id, "grep ' /data ' /proc/mounts | "
                       "grep -q ' ro,nosuid,nodev,noexec'", 0, NULL);
  /* nodev: the volume's char 1:3 node does not open; /dev/null does. */
  assert_in_container (f, id, "echo x > /dev/null", 0, NULL);
  assert_in_container (f, id, "echo x > /data/null", 1, NULL);
}

static void
test_volume_attach_detach (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *id = NULL;
  g_autofree char *other = NULL;
  g_autofree char *list_path = NULL;
  g_autofree char *vol_path = g_strconcat ("/v2.1/os-volumes/", "nlxtest-data",
                                           NULL);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *mountinfo = NULL;
  JsonArray *attachments;

  create_volume (f, "nlxtest-data", tree);
  id = boot (f, "nlxtest-volume");
  other = boot (f, "nlxtest-volume-other");

  g_assert_cmpint (attach (f, id, "nlxtest-data",
                           ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                           &reply), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "volumeAttachment"), "device"),
                   ==, "/dev/vdb");
  list_path = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments", NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", list_path, NULL, &list),
                   ==, 200);
  attachments = json_object_get_array_member (json_node_get_object (list),
                                              "volumeAttachments");
  g_assert_cmpuint (json_array_get_length (attachments), ==, 1);
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (nlx_test_call (f->session, "GET", vol_path, NULL, &reply),
                   ==, 200);
  g_assert_cmpstr (json_object_get_string_member (
                     nlx_test_object_at (reply, "volume"), "status"), ==,
                   "in-use");

  /* virsh shows a read-only disk over a loop device. */
  dom = virDomainLookupByUUIDString (f->conn, id);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  g_assert_nonnull (strstr (xml, "dev='vdb'"));
  g_assert_nonnull (strstr (xml, "<readonly/>"));
  g_assert_nonnull (strstr (xml, "/dev/loop"));
  /* Two per attachment: the device the instance has, and the host's
   * own over it (see nlx-lxc-volume.c). */
  g_assert_cmpuint (loop_devices_of (id), ==, 2);
  /* The mount is the container's alone. */
  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &mountinfo, NULL,
                                      NULL));
  g_assert_null (strstr (mountinfo, " /data "));

  check_volume_inside (f, id);

  /* One server at a time, and not deleted under it. */
  g_clear_pointer (&reply, json_node_unref);
  g_assert_cmpint (attach (f, other, "nlxtest-data", NULL, &reply), ==, 409);
  nlx_test_assert_fault (reply, "conflictingRequest", 409);
  g_assert_cmpuint (loop_devices_of (other), ==, 0);
  nlx_test_expect_fault (f->session, "DELETE", vol_path, NULL, 409,
                         "conflictingRequest");

  /* It comes back after every kind of restart. */
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"SOFT\"}}",
                         "rebooting", "ACTIVE");
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  nlx_test_act_and_wait (f->session, id, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  nlx_test_act_and_wait (f->session, id, "{\"os-start\": null}", "powering-on",
                         "ACTIVE");
  check_volume_inside (f, id);

  /* Detach leaves no mount, node or loop device. */
  g_assert_cmpint (detach (f, id, "nlxtest-data"), ==, 202);
  assert_in_container (f, id, "grep -q ' /data ' /proc/mounts", 1, NULL);
  assert_in_container (f, id, "test -e /dev/vdb", 1, NULL);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
  g_clear_pointer (&xml, g_free);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  g_assert_null (strstr (xml, "dev='vdb'"));
  g_assert_cmpint (detach (f, id, "nlxtest-data"), ==, 404);

  /* Free again: another server takes it; deleting that one releases it. */
  g_assert_cmpint (attach (f, other, "nlxtest-data", NULL, NULL), ==, 200);
  g_assert_cmpuint (loop_devices_of (other), ==, 2);
  delete_and_check (f, other);
  g_assert_cmpuint (loop_devices_of (other), ==, 0);
  g_assert_cmpint (nlx_test_call (f->session, "DELETE", vol_path, NULL, NULL),
                   ==, 202);
  delete_and_check (f, id);
}

/* Detaches a volume at once, right after @when. */
static void
detach_now (Fixture *f,
            const char *id,
            const char *volume,
            const char *when)
{
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *path = g_strconcat ("/v2.1/servers/", id,
                                       "/os-volume_attachments/", volume, NULL);
  guint status = nlx_test_call (f->session, "DELETE", path, NULL, &reply);

  if (status != 202)
    g_error ("detach right after %s answered %u: %s", when, status,
             reply ? json_to_string (reply, FALSE) : "");
}

/* Attaches (mounted at /data) and detaches at once, checking each
 * answer: libvirt must already know the container's init. */
static void
attach_detach_now (Fixture *f,
                   const char *id,
                   const char *volume,
                   const char *when)
{
  g_autoptr(JsonNode) reply = NULL;
  guint status;

  status = attach (f, id, volume,
                   ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                   &reply);
  if (status != 200)
    g_error ("attach right after %s answered %u: %s", when, status,
             reply ? json_to_string (reply, FALSE) : "");
  detach_now (f, id, volume, when);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
}

/* Servers that stop and start over and over, as bench-soak's do: each
 * stop is cleaned up in libvirtd's one event loop thread, which also
 * delivers the init pids of containers that start meanwhile. */
#define NOISE_SERVERS 4
typedef struct {
  Fixture *f;
  char *ids[NOISE_SERVERS];
  gint stop;
} Noise;

static gpointer
noise_thread (gpointer data)
{
  Noise *noise = data;
  g_autoptr(GSocketAddress) address =
    g_unix_socket_address_new (noise->f->socket);
  g_autoptr(SoupSession) session =
    soup_session_new_with_options ("remote-connectable", address,
                                   "timeout", 120, NULL);

  while (!g_atomic_int_get (&noise->stop))
    for (guint i = 0; i < NOISE_SERVERS; i++)
      {
        g_autofree char *status = nlx_test_status_of (session, noise->ids[i]);

        if (g_str_equal (status, "ACTIVE"))
          nlx_test_act (session, noise->ids[i], "{\"os-stop\": null}");
        else if (g_str_equal (status, "SHUTOFF"))
          nlx_test_act (session, noise->ids[i], "{\"os-start\": null}");
        g_usleep (20 * 1000);
      }
  return NULL;
}

/* ACTIVE means the container can take volumes: libvirt learns the pid
 * of a new init from its controller a moment after init runs (up to
 * seconds while other containers stop), and until then its attach
 * refused with 409 and its detach failed with 500 ("Kernel does not
 * provide mount namespace": it tried the previous boot's init).  Rounds
 * of restarts while other servers stop and start, since it is a race. */
#define QUICK_SERVERS 2
#define QUICK_ROUNDS 6
static void
test_volume_right_after_start (Fixture *f)
{
  char *ids[QUICK_SERVERS];
  char *volumes[QUICK_SERVERS];
  Noise noise = { f };
  GThread *thread;

  for (guint i = 0; i < NOISE_SERVERS; i++)
    noise.ids[i] = nlx_test_create (f->session, "nlxtest-noise", IMAGE, NULL);
  for (guint i = 0; i < QUICK_SERVERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("tree%u", i);
      g_autofree char *tree = volume_tree (f, name);

      volumes[i] = g_strdup_printf ("nlxtest-quick%u", i);
      create_volume (f, volumes[i], tree);
      ids[i] = nlx_test_create (f->session, volumes[i], IMAGE, NULL);
    }
  for (guint i = 0; i < NOISE_SERVERS; i++)
    nlx_test_wait_for_status (f->session, noise.ids[i], "ACTIVE");
  thread = g_thread_new ("noise", noise_thread, &noise);
  for (guint i = 0; i < QUICK_SERVERS; i++)
    {
      nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
      attach_detach_now (f, ids[i], volumes[i], "spawn");
    }
  for (guint round = 0; round < QUICK_ROUNDS; round++)
    {
      for (guint i = 0; i < QUICK_SERVERS; i++)
        g_assert_cmpint (nlx_test_act (f->session, ids[i],
                                       "{\"reboot\": {\"type\": \"HARD\"}}"),
                         ==, 202);
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
          attach_detach_now (f, ids[i], volumes[i], "a hard reboot");
        }
      /* Attached before: the reboot mounts it again, detach undoes it. */
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          g_assert_cmpint (attach (f, ids[i], volumes[i],
                                   ", \"device\": \"/dev/vdb\", "
                                   "\"mount_path\": \"/data\"", NULL), ==, 200);
          g_assert_cmpint (nlx_test_act (f->session, ids[i],
                                         "{\"reboot\": {\"type\": \"HARD\"}}"),
                           ==, 202);
        }
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
          detach_now (f, ids[i], volumes[i], "a hard reboot");
          g_assert_cmpuint (loop_devices_of (ids[i]), ==, 0);
        }
      /* As bench-soak's cycle: attached, stopped and started, then
       * detached and attached at once. */
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          g_assert_cmpint (attach (f, ids[i], volumes[i],
                                   ", \"device\": \"/dev/vdb\", "
                                   "\"mount_path\": \"/data\"", NULL), ==, 200);
          nlx_test_act_and_wait (f->session, ids[i], "{\"os-stop\": null}",
                                 "powering-off", "SHUTOFF");
          g_assert_cmpint (nlx_test_act (f->session, ids[i],
                                         "{\"os-start\": null}"), ==, 202);
        }
      for (guint i = 0; i < QUICK_SERVERS; i++)
        {
          nlx_test_wait_for_status (f->session, ids[i], "ACTIVE");
          detach_now (f, ids[i], volumes[i], "a start");
          attach_detach_now (f, ids[i], volumes[i], "a start");
        }
    }
  g_atomic_int_set (&noise.stop, 1);
  g_thread_join (thread);
  for (guint i = 0; i < QUICK_SERVERS; i++)
    {
      delete_and_check (f, ids[i]);
      g_free (ids[i]);
      g_free (volumes[i]);
    }
  for (guint i = 0; i < NOISE_SERVERS; i++)
    {
      /* A delete waits for a stop or start still running. */
      delete_and_check (f, noise.ids[i]);
      g_free (noise.ids[i]);
    }
}

/* Another compute daemon on the host, with state, instances and volumes
 * of its own and no network: it sees every nova-lxc domain's events.
 * Returns it running; its log is in @f's directory as neighbour.log. */
static GSubprocess *
start_neighbour (Fixture *f)
{
  g_autofree char *socket = g_build_filename (f->dir, "neighbour.sock", NULL);
  g_autofree char *bridge = neighbour_bridge (f);
  g_autofree char *text = g_strdup_printf (
    "[DEFAULT]\ncompute_driver = lxc\nstate_path = %s/n-state\n"
    "instances_path = %s/n-instances\n[api]\nsocket = %s\n"
    "[volumes]\npath = %s/n-volumes\n"
    /* A bridge of its own, only locked: it starts no server, so the
     * bridge is never made.  The fixture's teardown removes its lock and
     * firewall tables. */
    "[network]\nbridge = %s\ncidr = %s.0/24\n"
    /* The case's subnet, so the case's gateway: the case's daemon
     * serves the metadata service there. */
    "metadata_port = 0\n",
    f->dir, f->dir, socket, f->dir, bridge, f->subnet);

  return start_neighbour_daemon (f, text, socket);
}

/* busybox reboot run inside: init restarts the container itself and
 * libvirt starts it again, with no operation of the daemon's; the
 * daemon must mount the volume again in the new container. */
static void
test_volume_guest_reboot (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *id = NULL;
  g_autofree char *list_path = NULL;
  g_autoptr(GSubprocess) neighbour = NULL;
  g_autofree char *neighbour_log = NULL;
  g_autofree char *neighbour_text = NULL;
  g_autofree char *remounted = NULL;
  unsigned int first_id;
  gint64 deadline;

  create_volume (f, "nlxtest-reboot-data", tree);
  id = boot (f, "nlxtest-guest-reboot");
  g_assert_cmpint (attach (f, id, "nlxtest-reboot-data",
                           ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                           NULL), ==, 200);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");

  first_id = domain_id (f, id);
  /* A neighbour daemon hears of this reboot too, and must leave the
   * instance alone: it once mounted the volume a second time. */
  neighbour = start_neighbour (f);
  /* In the background, so the agent reports before init goes down. */
  assert_in_container (f, id, "(sleep 0.5; reboot) >/dev/null 2>&1 &", 0, NULL);
  wait_restarted (f, id, first_id, 30);

  /* The daemon only hears of it through libvirt's event, after the new
   * init may already run: give it a few seconds. */
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autofree char *output = NULL;

      if (in_container (f, id, "test -f /data/hello.txt", &output) == 0)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  assert_in_container (f, id, "grep ' /data ' /proc/mounts | "
                       "grep -q ' ro,nosuid,nodev,noexec'", 0, NULL);
  /* Once, not stacked on a mount the daemon made at the same time. */
  assert_in_container (f, id, "grep -c ' /data ' /proc/mounts", 0, "1");
  g_subprocess_send_signal (neighbour, SIGTERM);
  g_subprocess_wait (neighbour, NULL, NULL);
  neighbour_log = g_build_filename (f->dir, "neighbour.log", NULL);
  g_assert_true (g_file_get_contents (neighbour_log, &neighbour_text, NULL, NULL));
  g_test_message ("neighbour daemon's log:\n%s", neighbour_text);
  remounted = g_strdup_printf ("Instance %s rebooted itself", id);
  g_assert_null (strstr (neighbour_text, remounted));
  list_path = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments", NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", list_path, NULL, NULL),
                   ==, 200);

  /* A reboot through the API after it mounts it once too. */
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_in_container (f, id, "grep -c ' /data ' /proc/mounts", 0, "1");
  delete_and_check (f, id);
}

static void
write_volume (Fixture *f,
              const char *id,
              const char * const *mkfs)
{
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *path = g_build_filename (dir, id, NULL);
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();
  g_auto(GStrv) args = NULL;
  int fd;

  g_mkdir_with_parents (dir, 0700);
  fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 320 * 1024 * 1024), ==, 0);
  close (fd);
  if (mkfs == NULL)
    return;
  g_strv_builder_addv (argv, (const char **) mkfs);
  g_strv_builder_add (argv, path);
  args = g_strv_builder_end (argv);
  nlx_test_run_command ((const char * const *) args);
}

/* Every refusal is clear and leaves the server as it was. */
static void
test_volume_refused (Fixture *f)
{
  static const struct {
    const char *volume;
    const char *extra;
    guint status;
  } refused[] = {
    { "nlxtest-btrfs", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-vfat", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-empty", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-two", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-broken", ", \"mount_path\": \"/data\"", 400 },
    { "nlxtest-escape", NULL, 400 },
    { "../volumes/nlxtest-empty", NULL, 400 },
    { "a/b", NULL, 400 },
    { "nlxtest-missing", NULL, 404 },
    { "nlxtest-empty", ", \"device\": \"/dev/sda\"", 400 },
    { "nlxtest-empty", ", \"mount_path\": \"/proc/x\"", 400 },
    { "nlxtest-empty", ", \"mount_path\": \"/a/../b\"", 400 },
  };
  g_autofree char *id = boot (f, "nlxtest-refused");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *escape = g_build_filename (dir, "nlxtest-escape", NULL);
  g_autofree char *outside = g_build_filename (f->dir, "outside", NULL);
  g_autofree char *two = g_build_filename (dir, "nlxtest-two", NULL);
  g_autofree char *xfs = g_build_filename (f->dir, "xfs-head", NULL);
  g_autofree char *broken = g_build_filename (dir, "nlxtest-broken", NULL);
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, id);
  g_autofree char *xml_before = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);

  write_volume (f, "nlxtest-btrfs", (const char * const []) { "mkfs.btrfs", "-q", NULL });
  write_volume (f, "nlxtest-vfat", (const char * const []) { "mkfs.vfat", NULL });
  write_volume (f, "nlxtest-empty", NULL);
  /* ext4 with an XFS superblock in front: two signatures. */
  write_volume (f, "nlxtest-two", (const char * const []) { "mkfs.ext4", "-q", NULL });
  nlx_test_run_command ((const char * const []) { "truncate", "-s", "320M", xfs, NULL });
  nlx_test_run_command ((const char * const []) { "mkfs.xfs", "-q", xfs, NULL });
  {
    g_autofree char *of = g_strconcat ("of=", two, NULL);
    g_autofree char *in = g_strconcat ("if=", xfs, NULL);

    nlx_test_run_command ((const char * const []) { "dd", in, of, "bs=512", "count=1",
                                           "conv=notrunc", "status=none", NULL });
  }
  /* ext4 whose superblock magic is gone. */
  write_volume (f, "nlxtest-broken", (const char * const []) { "mkfs.ext4", "-q", NULL });
  {
    g_autofree char *of = g_strconcat ("of=", broken, NULL);

    nlx_test_run_command ((const char * const []) { "dd", "if=/dev/zero", of, "bs=1",
                                           "seek=1080", "count=2", "conv=notrunc",
                                           "status=none", NULL });
  }
  /* A symlink out of the volume directory. */
  nlx_test_run_command ((const char * const []) { "touch", outside, NULL });
  g_assert_cmpint (symlink (outside, escape), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      g_autofree char *xml = NULL;
      JsonObject *fault;

      g_test_message ("attaching %s%s", refused[i].volume,
                      refused[i].extra ? refused[i].extra : "");
      g_assert_cmpint (attach (f, id, refused[i].volume, refused[i].extra,
                               &reply), ==, refused[i].status);
      fault = nlx_test_object_at (reply, refused[i].status == 404 ? "itemNotFound"
                                                                   : "badRequest");
      g_test_message ("  -> %s", json_object_get_string_member (fault, "message"));
      g_assert_cmpstr (nlx_test_status_of (f->session, id), ==, "ACTIVE");
      g_assert_cmpuint (loop_devices_of (id), ==, 0);
      xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
      g_assert_cmpstr (xml, ==, xml_before);
    }
  /* The same empty device is fine without a mount. */
  g_assert_cmpint (attach (f, id, "nlxtest-empty", NULL, NULL), ==, 200);
  assert_in_container (f, id, "test -b /dev/vdb", 0, NULL);
  g_assert_cmpint (detach (f, id, "nlxtest-btrfs"), ==, 404);
  nlx_test_expect_fault (f->session, "POST",
                         "/v2.1/servers/7e57c0de-0000-4000-8000-000000000000/os-volume_attachments",
                         "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-vfat\"}}",
                         404, "itemNotFound");
  delete_and_check (f, id);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
}

/* A mount path the tenant has made unusable, from inside as its root:
 * a symbolic link or a file on the way, a link as the last component,
 * a dangling link.  Each attach is a 400 naming the reason, and is
 * undone in full: no disk in the live or persistent domain, no loop
 * device, no /dev/vdb inside, the volume available and attachable. */
static void
test_volume_mount_path_planted (Fixture *f)
{
  static const struct {
    const char *plant;
    const char *mount_path;
    const char *reason;
  } shapes[] = {
    { "ln -s / /nlxtest-link", "/nlxtest-link/y", "symbolic link" },
    { "echo x > /nlxtest-file", "/nlxtest-file/y", "not a directory" },
    { "mkdir /nlxtest-dir && ln -s /nlxtest-dir /nlxtest-last",
      "/nlxtest-last", "symbolic link" },
    { "ln -s /nlxtest-nowhere /nlxtest-dangling", "/nlxtest-dangling",
      "symbolic link" },
  };
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *id = NULL;
  g_autofree char *live_before = NULL;
  g_autofree char *config_before = NULL;
  g_autofree char *list_path = NULL;
  g_autoptr(virDomain) dom = NULL;

  create_volume (f, "nlxtest-pvol", tree);
  id = boot (f, "nlxtest-planted");
  dom = virDomainLookupByUUIDString (f->conn, id);
  live_before = virDomainGetXMLDesc (dom, 0);
  config_before = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  g_assert_null (strstr (live_before, "dev='vdb'"));
  list_path = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments",
                           NULL);

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      g_autoptr(JsonNode) volume = NULL;
      g_autoptr(JsonNode) list = NULL;
      g_autofree char *extra = g_strdup_printf (
        ", \"device\": \"/dev/vdb\", \"mount_path\": \"%s\"",
        shapes[i].mount_path);
      g_autofree char *live = NULL;
      g_autofree char *config = NULL;
      const char *message;

      g_test_message ("planting: %s; mounting at %s", shapes[i].plant,
                      shapes[i].mount_path);
      assert_in_container (f, id, shapes[i].plant, 0, NULL);
      g_assert_cmpint (attach (f, id, "nlxtest-pvol", extra, &reply), ==,
                       400);
      message = json_object_get_string_member (
        nlx_test_object_at (reply, "badRequest"), "message");
      g_test_message ("  -> %s", message);
      g_assert_nonnull (strstr (message, shapes[i].reason));

      /* Undone in full, as seen by libvirt, the kernel, the container
       * and the API. */
      live = virDomainGetXMLDesc (dom, 0);
      config = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
      g_assert_null (strstr (live, "dev='vdb'"));
      g_assert_null (strstr (config, "dev='vdb'"));
      /* The domain's metadata names no such attachment either. */
      g_assert_null (strstr (config, "nlxtest-pvol"));
      g_assert_null (strstr (live, "nlxtest-pvol"));
      g_assert_cmpuint (loop_devices_of (id), ==, 0);
      assert_in_container (f, id, "test -e /dev/vdb", 1, NULL);
      g_assert_cmpint (nlx_test_call (f->session, "GET",
                                      "/v2.1/os-volumes/nlxtest-pvol", NULL,
                                      &volume), ==, 200);
      g_assert_cmpstr (json_object_get_string_member (
                         nlx_test_object_at (volume, "volume"), "status"), ==,
                       "available");
      g_assert_cmpint (nlx_test_call (f->session, "GET", list_path, NULL,
                                      &list), ==, 200);
      g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                          json_node_get_object (list), "volumeAttachments")),
                        ==, 0);
      g_assert_cmpstr (nlx_test_status_of (f->session, id), ==, "ACTIVE");
    }

  /* Attachable again, and where the path is sound, mounted. */
  g_assert_cmpint (attach (f, id, "nlxtest-pvol",
                           ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                           NULL), ==, 200);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  g_assert_cmpint (detach (f, id, "nlxtest-pvol"), ==, 202);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
  delete_and_check (f, id);
}

/* The ext4 options of the filesystem on loop device @loop, from
 * /proc/fs/ext4/<dev>/options: every option, defaults included. */
static char *
ext4_errors_option (const char *loop)
{
  g_autofree char *name = g_path_get_basename (loop);
  g_autofree char *file = g_build_filename ("/proc/fs/ext4", name, "options",
                                            NULL);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents (file, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "errors="))
      return g_strdup (lines[i]);
  return NULL;
}

/* An image that asks to panic the kernel at its first error (tune2fs -e
 * panic, and errors=panic in its default mount options): mounted in a
 * server, the host's view of the filesystem says remount-ro. */
static void
test_volume_errors_panic (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *path = g_build_filename (dir, "nlxtest-panicky", NULL);
  g_autofree char *header = NULL;
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;
  g_autofree char *loop = NULL;
  g_autofree char *errors = NULL;
  g_autoptr(GError) error = NULL;

  create_volume (f, "nlxtest-panicky", tree);
  nlx_test_run_command ((const char * const []) { "tune2fs", "-e", "panic", "-E",
                                         "mount_opts=errors=panic", path,
                                         NULL });
  /* What the image asks for, which the kernel would otherwise do. */
  g_spawn_sync (NULL, (char *[]) { "dumpe2fs", "-h", path, NULL }, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                &header, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (header, "Panic"));
  g_assert_nonnull (strstr (header, "errors=panic"));

  id = boot (f, "nlxtest-panicky");
  g_assert_cmpint (attach (f, id, "nlxtest-panicky",
                           ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                           NULL), ==, 200);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  name = nlx_lxc_volume_loop_name (id, "/dev/vdb");
  loop = nlx_loop_find (name);
  g_assert_nonnull (loop);
  errors = ext4_errors_option (loop);
  g_test_message ("%s (%s) is mounted with %s", name, loop, errors);
  g_assert_cmpstr (errors, ==, "errors=remount-ro");
  /* After a hard reboot, mounted again the same way. */
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  g_clear_pointer (&loop, g_free);
  g_clear_pointer (&errors, g_free);
  loop = nlx_loop_find (name);
  g_assert_nonnull (loop);
  errors = ext4_errors_option (loop);
  g_assert_cmpstr (errors, ==, "errors=remount-ro");
  delete_and_check (f, id);
}

/* Volumes a careless operator (or whoever writes the volume directory)
 * left: a 1 MiB ext4 that is also an iso9660, a hard link to a file
 * outside the allowed roots, a loop of symbolic links.  Each is a 400
 * that names the reason and leaves nothing attached; the control, a
 * plain 1 MiB ext4, attaches. */
static void
test_volume_refused_entries (Fixture *f)
{
  static const struct {
    const char *volume;
    const char *reason;
  } refused[] = {
    { "nlxtest-polyglot", "several filesystem signatures (ext4, iso9660)" },
    { "nlxtest-hardlink", "hard links" },
    { "nlxtest-symloop", "loop of symbolic links" },
  };
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *polyglot = g_build_filename (dir, "nlxtest-polyglot", NULL);
  g_autofree char *small = g_build_filename (dir, "nlxtest-small", NULL);
  g_autofree char *outside = g_build_filename (f->dir, "outside.img", NULL);
  g_autofree char *hardlink = g_build_filename (dir, "nlxtest-hardlink", NULL);
  g_autofree char *symloop = g_build_filename (dir, "nlxtest-symloop", NULL);
  g_autofree char *id = NULL;
  g_autoptr(GError) error = NULL;
  guint8 descriptor[2048] = { 0 };
  int fd;

  g_mkdir_with_parents (dir, 0700);
  nlx_test_run_command ((const char * const []) { "truncate", "-s", "1M", polyglot,
                                         small, outside, NULL });
  nlx_test_run_command ((const char * const []) { "mkfs.ext4", "-q", "-F", polyglot,
                                         NULL });
  nlx_test_run_command ((const char * const []) { "mkfs.ext4", "-q", "-F", small,
                                         NULL });
  nlx_test_run_command ((const char * const []) { "mkfs.ext4", "-q", "-F", outside,
                                         NULL });
  /* An iso9660 primary volume descriptor at 32 KiB, then the set's
   * terminator. */
  fd = g_open (polyglot, O_WRONLY, 0);
  g_assert_cmpint (fd, >=, 0);
  descriptor[0] = 1;
  memcpy (descriptor + 1, "CD001", 5);
  descriptor[6] = 1;
  g_assert_cmpint (pwrite (fd, descriptor, sizeof descriptor, 32768), ==,
                   sizeof descriptor);
  descriptor[0] = 255;
  g_assert_cmpint (pwrite (fd, descriptor, sizeof descriptor, 34816), ==,
                   sizeof descriptor);
  close (fd);
  g_assert_cmpint (link (outside, hardlink), ==, 0);
  g_assert_cmpint (symlink ("nlxtest-symloop", symloop), ==, 0);

  id = boot (f, "nlxtest-entries");
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(JsonNode) reply = NULL;
      g_autoptr(JsonNode) shown = NULL;
      g_autofree char *show = g_strconcat ("/v2.1/os-volumes/",
                                           refused[i].volume, NULL);
      const char *message;

      g_assert_cmpint (attach (f, id, refused[i].volume,
                               ", \"mount_path\": \"/data\"", &reply), ==, 400);
      message = json_object_get_string_member (
        nlx_test_object_at (reply, "badRequest"), "message");
      g_test_message ("%s -> %s", refused[i].volume, message);
      g_assert_nonnull (strstr (message, refused[i].reason));
      g_assert_cmpuint (loop_devices_of (id), ==, 0);
      assert_in_container (f, id, "test -e /dev/vdb", 1, NULL);
      /* Shown as what it is, a 4xx too, never a 500. */
      if (i > 0)
        g_assert_cmpint (nlx_test_call (f->session, "GET", show, NULL,
                                        &shown), ==, 400);
    }
  g_assert_cmpint (attach (f, id, "nlxtest-small",
                           ", \"mount_path\": \"/data\"", NULL), ==, 200);
  assert_in_container (f, id, "grep -q ' /data ' /proc/mounts", 0, NULL);
  delete_and_check (f, id);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
}

/* A dirty journal is not replayed: the volume's bytes stay the same. */
static void
test_volume_dirty_journal (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *path = g_build_filename (dir, "nlxtest-dirty", NULL);
  g_autofree char *cmds = g_build_filename (f->dir, "debugfs.cmds", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *id = NULL;
  g_autofree char *dumpe2fs = NULL;
  g_autoptr(GError) error = NULL;

  create_volume (f, "nlxtest-dirty", tree);
  /* debugfs writes a journal transaction without mounting anything. */
  g_file_set_contents (cmds, "jo\njw -b 333 /dev/null\njc\n", -1, &error);
  g_assert_no_error (error);
  nlx_test_run_command ((const char * const []) { "debugfs", "-w", "-f", cmds, path, NULL });
  g_spawn_sync (NULL, (char *[]) { "dumpe2fs", "-h", path, NULL }, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                &dumpe2fs, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (dumpe2fs, "needs_recovery"));
  before = nlx_test_file_checksum (path);

  id = boot (f, "nlxtest-dirty");
  g_assert_cmpint (attach (f, id, "nlxtest-dirty",
                           ", \"mount_path\": \"/data\"", NULL), ==, 200);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  g_assert_cmpint (detach (f, id, "nlxtest-dirty"), ==, 202);
  after = nlx_test_file_checksum (path);
  g_assert_cmpstr (before, ==, after);
  delete_and_check (f, id);
}

/* The root from a volume, read-only underneath, and a data volume
 * mounted from the start. */
static void
test_boot_from_volume (Fixture *f)
{
  g_autofree char *root_tree = g_build_filename (f->dir, "root", NULL);
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *root_path = g_build_filename (dir, "nlxtest-root", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *id = NULL;
  g_autofree char *upper = NULL;
  g_autofree char *attachments = NULL;
  g_autofree char *root_attachment = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonNode) listed = NULL;
  JsonArray *list;

  create_volume (f, "nlxtest-root", root_tree);
  create_volume (f, "nlxtest-data", tree);
  before = nlx_test_file_checksum (root_path);

  id = nlx_test_create (f->session, "nlxtest-bfv", IMAGE,
                        ", \"block_device_mapping_v2\": ["
                        "{\"boot_index\": 0, \"uuid\": \"nlxtest-root\", "
                        "\"source_type\": \"volume\", \"destination_type\": \"volume\"},"
                        "{\"uuid\": \"nlxtest-data\", \"source_type\": \"volume\", "
                        "\"destination_type\": \"volume\", \"mount_path\": \"/data\"}]");
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  reply = nlx_test_show (f->session, id);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      nlx_test_object_at (reply, "server"),
                      "os-extended-volumes:volumes_attached")), ==, 2);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  assert_in_container (f, id, "test -b /dev/vdb", 0, NULL);
  /* Writes land in the instance's upper layer, never on the volume. */
  assert_in_container (f, id, "echo changed > /etc/nlxtest && cat /etc/nlxtest",
                       0, "changed");
  upper = g_build_filename (f->dir, "instances", id, "upper", "etc", "nlxtest",
                            NULL);
  g_assert_true (g_file_test (upper, G_FILE_TEST_EXISTS));
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_in_container (f, id, "cat /etc/nlxtest /data/hello.txt", 0,
                       "changed\nhello from a volume");
  nlx_test_expect_fault (f->session, "DELETE", "/v2.1/os-volumes/nlxtest-root",
                         NULL, 409, "conflictingRequest");
  /* The root volume is an attachment at "/", first, and is not
   * detached: 409, and the server keeps running on it. */
  attachments = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments",
                             NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", attachments, NULL, &listed),
                   ==, 200);
  list = json_object_get_array_member (json_node_get_object (listed),
                                       "volumeAttachments");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0),
                                                  "volumeId"), ==, "nlxtest-root");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0),
                                                  "device"), ==, "/");
  root_attachment = g_strconcat (attachments, "/nlxtest-root", NULL);
  nlx_test_expect_fault (f->session, "DELETE", root_attachment, NULL, 409,
                         "conflictingRequest");
  assert_in_container (f, id, "cat /etc/nlxtest", 0, "changed");
  delete_and_check (f, id);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
  after = nlx_test_file_checksum (root_path);
  g_assert_cmpstr (before, ==, after);
}

/* kill -9 while an attach runs: after the restart the attachment is
 * either whole or gone, never half made. */
static void
test_volume_crash (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *id = NULL;
  g_autofree char *list_path = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *path = NULL;
  SoupMessage *msg;
  guint attached;

  create_volume (f, "nlxtest-crash", tree);
  id = boot (f, "nlxtest-crash");
  path = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments", NULL);
  {
    g_autofree char *url = g_strconcat ("http://localhost", path, NULL);
    g_autoptr(GBytes) body = g_bytes_new_static (
      "{\"volumeAttachment\": {\"volumeId\": \"nlxtest-crash\", "
      "\"mount_path\": \"/data\"}}", strlen ("{\"volumeAttachment\": "
      "{\"volumeId\": \"nlxtest-crash\", \"mount_path\": \"/data\"}}"));

    msg = soup_message_new ("POST", url);
    soup_message_set_request_body_from_bytes (msg, "application/json", body);
    soup_session_send_async (f->session, msg, G_PRIORITY_DEFAULT, NULL, NULL,
                             NULL);
  }
  /* Let the request reach the daemon, then kill it mid-attach. */
  for (int i = 0; i < 5; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
  daemon_stop (f, SIGKILL);
  g_object_unref (msg);
  daemon_start (f);

  list_path = g_strconcat ("/v2.1/servers/", id, "/os-volume_attachments", NULL);
  g_assert_cmpint (nlx_test_call (f->session, "GET", list_path, NULL, &list),
                   ==, 200);
  attached = json_array_get_length (json_object_get_array_member (
                                      json_node_get_object (list),
                                      "volumeAttachments"));
  dom = virDomainLookupByUUIDString (f->conn, id);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  g_test_message ("after the crash the volume is %s",
                  attached ? "attached" : "detached");
  g_assert_cmpuint (loop_devices_of (id), ==, 2 * attached);
  g_assert_cmpint (strstr (xml, "dev='vdb'") != NULL, ==, attached);
  if (attached)
    assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  else
    g_assert_cmpint (attach (f, id, "nlxtest-crash", NULL, NULL), ==, 200);
  delete_and_check (f, id);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
}

/* [volumes] verify = fsck: a damaged filesystem is refused before the
 * kernel sees it, a sound one is mounted. */
static void
test_volume_fsck (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *bad = g_build_filename (dir, "nlxtest-bad", NULL);
  g_autofree char *block = NULL;
  g_autofree char *freeb = NULL;
  g_autofree char *id = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *message;

  daemon_stop (f, SIGTERM);
  f->verify_fsck = TRUE;
  write_config (f);
  daemon_start (f);

  create_volume (f, "nlxtest-good", tree);
  create_volume (f, "nlxtest-bad", tree);
  /* Mark a block in use by hello.txt free: the kind of damage the kernel
   * would only find while reading. */
  g_spawn_sync (NULL, (char *[]) { "debugfs", "-R", "bmap hello.txt 0", bad, NULL },
                NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                NULL, &block, NULL, NULL, &error);
  g_assert_no_error (error);
  freeb = g_strdup_printf ("freeb %s", g_strstrip (block));
  nlx_test_run_command ((const char * const []) { "debugfs", "-w", "-R", freeb, bad, NULL });

  id = boot (f, "nlxtest-fsck");
  g_assert_cmpint (attach (f, id, "nlxtest-bad", ", \"mount_path\": \"/data\"",
                           &reply), ==, 400);
  message = json_object_get_string_member (nlx_test_object_at (reply, "badRequest"),
                                           "message");
  g_test_message ("refused: %s", message);
  g_assert_nonnull (strstr (message, "nlxtest-bad"));
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
  g_assert_cmpint (attach (f, id, "nlxtest-good", ", \"mount_path\": \"/data\"",
                           NULL), ==, 200);
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  delete_and_check (f, id);
}

/* ---- loop devices the tenant holds (issue 13) ---------------------------- */

/* The source of the instance's disk at @target (vdb), as libvirt has it. */
static char *
disk_source (Fixture *f,
             const char *uuid,
             const char *target)
{
  g_autoptr(virDomain) dom = virDomainLookupByUUIDString (f->conn, uuid);
  g_autofree char *xml = NULL;
  g_autofree char *wanted = g_strdup_printf ("<target dev='%s'", target);
  g_auto(GStrv) disks = NULL;

  g_assert_nonnull (dom);
  xml = virDomainGetXMLDesc (dom, 0);
  disks = g_strsplit (xml, "</disk>", -1);
  for (guint i = 0; disks[i] != NULL; i++)
    {
      const char *source = strstr (disks[i], "<source dev='");

      if (source != NULL && strstr (disks[i], wanted) != NULL)
        {
          source += strlen ("<source dev='");
          return g_strndup (source, strcspn (source, "'"));
        }
    }
  g_error ("instance %s has no disk %s", uuid, target);
  return NULL;
}

/* What loop device @device reads, as the kernel shows it. */
static char *
loop_backing (const char *device)
{
  g_autofree char *base = g_path_get_basename (device);
  g_autofree char *path = g_build_filename ("/sys/block", base, "loop",
                                            "backing_file", NULL);
  char *backing = NULL;

  if (!g_file_get_contents (path, &backing, NULL, NULL))
    return g_strdup ("(unbound)");
  return g_strchomp (backing);
}

/* Runs nlxtest-probe on the host as root. */
static int
probe_on_host (const char * const *args,
               char **output)
{
  g_autofree char *probe = g_build_filename (g_getenv ("NLX_TOP_BUILDDIR"),
                                             "tests", "functional",
                                             "nlxtest-probe", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  int status;

  g_ptr_array_add (argv, probe);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                output, NULL, &status, &error);
  g_assert_no_error (error);
  g_test_message ("on the host: %s %s -> %s", args[0], args[1], *output);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* A volume tree whose hello.txt says @hello. */
static char *
tree_saying (Fixture *f,
             const char *name,
             const char *hello)
{
  g_autoptr(GError) error = NULL;
  char *tree = volume_tree (f, name);
  g_autofree char *path = g_build_filename (tree, "hello.txt", NULL);

  g_file_set_contents (path, hello, -1, &error);
  g_assert_no_error (error);
  return tree;
}

/* A server of the m1.privileged flavor: no user namespace. */
static char *
boot_privileged (Fixture *f,
                 const char *name)
{
  g_autofree char *body = g_strdup_printf (
    "{\"server\": {\"name\": \"%s\", \"flavorRef\": \"m1.privileged\", "
    "\"imageRef\": \"" IMAGE "\"}}", name);
  g_autoptr(JsonNode) reply = NULL;
  char *id;

  g_assert_cmpint (nlx_test_call (f->session, "POST", "/v2.1/servers", body,
                                  &reply), ==, 202);
  id = g_strdup (json_object_get_string_member (nlx_test_object_at (reply,
                                                                    "server"),
                                                "id"));
  nlx_test_wait_for_status (f->session, id, "ACTIVE");
  g_assert_cmpuint (host_uid (init_of (f, id)), ==, 0);
  return id;
}

/* Checks that the host mounts for @uuid's @target what the daemon made:
 * the device loop the instance has reads the volume's own file, and the
 * mount loop named for it reads that device loop. */
static void
assert_loops_read (Fixture *f,
                   const char *uuid,
                   const char *target,
                   const char *volume)
{
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *file = g_build_filename (dir, volume, NULL);
  g_autofree char *device = disk_source (f, uuid, target);
  g_autofree char *device_backing = loop_backing (device);
  g_autofree char *dev_path = g_strconcat ("/dev/", target, NULL);
  g_autofree char *name = nlx_lxc_volume_loop_name (uuid, dev_path);
  g_autofree char *mount = nlx_loop_find (name);
  g_autofree char *mount_backing = NULL;

  g_assert_cmpstr (device_backing, ==, file);
  g_assert_nonnull (mount);
  g_assert_cmpstr (mount, !=, device);
  mount_backing = loop_backing (mount);
  g_assert_cmpstr (mount_backing, ==, device);
}

/* As root inside an unprivileged server: copy a volume of its own to a
 * file, then LOOP_CHANGE_FD the mounted volume's device onto that file,
 * or free it and bind it again over the file.  Either would have the
 * host mount the tenant's file at the next hard reboot.  Both must fail,
 * and the host must go on reading the volume's own file.  The control:
 * a read-only loop device such as servers used to get takes the same
 * ioctl from the same probe on the host. */
static void
test_volume_loop_change_fd (Fixture *f)
{
  g_autofree char *tree = volume_tree (f, "tree");
  g_autofree char *evil = tree_saying (f, "evil", "hello from the tenant\n");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *tenant_file = g_build_filename (dir, "nlxtest-tenant", NULL);
  g_autofree char *control_file = g_build_filename (f->dir, "control.img",
                                                    NULL);
  g_autofree char *evil_file = g_build_filename (f->dir, "evil.img", NULL);
  g_autofree char *id = NULL;
  g_autofree char *output = NULL;
  g_autofree char *control_name = NULL;
  g_autofree char *control = NULL;
  g_autofree char *control_backing = NULL;
  g_autofree char *spoof = NULL;
  g_autofree char *device = NULL;
  g_autoptr(GError) error = NULL;
  int control_rc;
  int fd;

  create_volume (f, "nlxtest-own", tree);
  create_volume (f, "nlxtest-tenant", evil);
  id = boot (f, "nlxtest-change-fd");
  g_assert_cmpint (attach (f, id, "nlxtest-own",
                           ", \"device\": \"/dev/vdb\", \"mount_path\": \"/data\"",
                           NULL), ==, 200);
  g_assert_cmpint (attach (f, id, "nlxtest-tenant",
                           ", \"device\": \"/dev/vdc\"", NULL), ==, 200);
  assert_loops_read (f, id, "vdb", "nlxtest-own");
  g_assert_cmpuint (loop_devices_of (id), ==, 4);

  /* The tenant's copy of a filesystem it chose, as big as the volume. */
  assert_in_container (f, id, "dd if=/dev/vdc of=/tmp/evil bs=1M 2>/dev/null",
                       0, NULL);
  g_assert_cmpint (in_container (f, id, "nlxtest-probe loop-change-fd "
                                 "/dev/vdb /tmp/evil", &output), !=, 0);
  /* Refused by the loop driver, not for want of the node. */
  g_assert_nonnull (strstr (output, "loop-change-fd: "));
  g_clear_pointer (&output, g_free);
  /* Freeing it and binding it again: the first is only a mark while
   * the host's own loop device reads it, so the second finds it busy. */
  g_clear_pointer (&output, g_free);
  in_container (f, id, "nlxtest-probe loop-clr-fd /dev/vdb", &output);
  g_clear_pointer (&output, g_free);
  spoof = g_strdup_printf ("nlxtest-probe loop-configure /dev/vdb /tmp/evil "
                           "nlx:%s:vdb:dev", id);
  g_assert_cmpint (in_container (f, id, spoof, &output), !=, 0);
  g_assert_nonnull (strstr (output, "loop-configure: "));
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  assert_in_container (f, id, "dd if=/dev/vdb bs=1M 2>/dev/null | cmp - /tmp/evil",
                       1, NULL);

  /* The hard reboot makes the host mount again: the volume's own file. */
  nlx_test_act_and_wait (f->session, id, "{\"reboot\": {\"type\": \"HARD\"}}",
                         "rebooting_hard", "ACTIVE");
  assert_in_container (f, id, "cat /data/hello.txt", 0, "hello from a volume");
  assert_loops_read (f, id, "vdb", "nlxtest-own");

  /* The control, on the host: a read-only loop device over a copy of
   * the tenant's volume takes LOOP_CHANGE_FD.  Named for the instance,
   * so the fixture frees it should an assertion stop the case first. */
  nlx_test_run_command ((const char * const []) { "cp", tenant_file, control_file, NULL });
  nlx_test_run_command ((const char * const []) { "cp", tenant_file, evil_file, NULL });
  control_name = g_strdup_printf ("nlx:%s:control", id);
  fd = open (control_file, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  control = nlx_loop_attach (fd, control_name, &error);
  close (fd);
  g_assert_no_error (error);
  g_clear_pointer (&output, g_free);
  control_rc = probe_on_host ((const char * const []) { "loop-change-fd",
                                                        control, evil_file,
                                                        NULL }, &output);
  control_backing = loop_backing (control);
  nlx_loop_detach (control, &error);
  g_assert_no_error (error);
  g_assert_cmpint (control_rc, ==, 0);
  g_assert_cmpstr (control_backing, ==, evil_file);

  device = disk_source (f, id, "vdb");
  g_assert_cmpint (detach (f, id, "nlxtest-own"), ==, 202);
  g_assert_cmpint (detach (f, id, "nlxtest-tenant"), ==, 202);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
  /* The freed device is not left read-only for whoever binds it next
   * (unless someone has bound it already). */
  {
    g_autofree char *base = g_path_get_basename (device);
    g_autofree char *bound = g_build_filename ("/sys/block", base, "loop", NULL);
    g_autofree char *ro_path = g_build_filename ("/sys/block", base, "ro", NULL);
    g_autofree char *ro = NULL;

    if (!g_file_test (bound, G_FILE_TEST_EXISTS) &&
        g_file_get_contents (ro_path, &ro, NULL, NULL))
      g_assert_cmpstr (g_strchomp (ro), ==, "0");
  }
  delete_and_check (f, id);

  /* Root of a privileged server (host uid 0, no user namespace) fares
   * no better. */
  g_clear_pointer (&id, g_free);
  id = boot_privileged (f, "nlxtest-change-fd-privileged");
  g_assert_cmpint (attach (f, id, "nlxtest-tenant", ", \"device\": \"/dev/vdb\"",
                           NULL), ==, 200);
  assert_in_container (f, id, "dd if=/dev/vdb of=/tmp/evil bs=1M 2>/dev/null",
                       0, NULL);
  g_clear_pointer (&output, g_free);
  g_assert_cmpint (in_container (f, id, "nlxtest-probe loop-change-fd "
                                 "/dev/vdb /tmp/evil", &output), !=, 0);
  g_assert_nonnull (strstr (output, "loop-change-fd: "));
  g_clear_pointer (&output, g_free);
  in_container (f, id, "nlxtest-probe loop-clr-fd /dev/vdb", &output);
  g_clear_pointer (&output, g_free);
  g_assert_cmpint (in_container (f, id, "nlxtest-probe loop-configure /dev/vdb "
                                 "/tmp/evil nlxtest", &output), !=, 0);
  g_assert_nonnull (strstr (output, "loop-configure: "));
  assert_loops_read (f, id, "vdb", "nlxtest-tenant");
  delete_and_check (f, id);
  g_assert_cmpuint (loop_devices_of (id), ==, 0);
}

/* Across servers: A frees the device of a bare volume of its own and
 * binds it again over its own file under the name of B's next
 * attachment.  That must fail, and B's attach must mount B's volume.  A
 * loop device bound under such a name by anyone else (only host root
 * can, now) is refused, not used, and left alone. */
static void
test_volume_loop_name_spoof (Fixture *f)
{
  g_autofree char *tree_a = tree_saying (f, "tree-a", "hello from A\n");
  g_autofree char *tree_b = tree_saying (f, "tree-b", "hello from B\n");
  g_autofree char *dir = volumes_dir (f);
  g_autofree char *a_file = g_build_filename (dir, "nlxtest-spoof-a", NULL);
  g_autofree char *spoof_file = g_build_filename (f->dir, "spoof.img", NULL);
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *script = NULL;
  g_autofree char *output = NULL;
  g_autofree char *spoof_name = NULL;
  g_autofree char *spoof = NULL;
  g_autofree char *spoof_backing = NULL;
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *message;
  int fd;

  create_volume (f, "nlxtest-spoof-a", tree_a);
  create_volume (f, "nlxtest-spoof-b", tree_b);
  create_volume (f, "nlxtest-spoof-c", tree_b);
  a = boot (f, "nlxtest-spoof-a");
  b = boot (f, "nlxtest-spoof-b");
  g_assert_cmpint (attach (f, a, "nlxtest-spoof-a", ", \"device\": \"/dev/vdd\"",
                           NULL), ==, 200);
  assert_in_container (f, a, "dd if=/dev/vdd of=/tmp/a.img bs=1M 2>/dev/null",
                       0, NULL);
  in_container (f, a, "nlxtest-probe loop-clr-fd /dev/vdd", &output);
  g_clear_pointer (&output, g_free);
  /* Old and new names alike. */
  script = g_strdup_printf ("nlxtest-probe loop-configure /dev/vdd /tmp/a.img "
                            "nlx:%s:vdd", b);
  g_assert_cmpint (in_container (f, a, script, &output), !=, 0);
  g_assert_nonnull (strstr (output, "loop-configure: "));
  g_clear_pointer (&script, g_free);
  g_clear_pointer (&output, g_free);
  script = g_strdup_printf ("nlxtest-probe loop-configure /dev/vdd /tmp/a.img "
                            "nlx:%s:vdd:dev", b);
  g_assert_cmpint (in_container (f, a, script, &output), !=, 0);
  g_assert_nonnull (strstr (output, "loop-configure: "));

  g_assert_cmpint (attach (f, b, "nlxtest-spoof-b",
                           ", \"device\": \"/dev/vdd\", \"mount_path\": \"/data\"",
                           NULL), ==, 200);
  assert_in_container (f, b, "cat /data/hello.txt", 0, "hello from B");
  assert_loops_read (f, b, "vdd", "nlxtest-spoof-b");
  /* A still reads its own volume. */
  assert_loops_read (f, a, "vdd", "nlxtest-spoof-a");

  /* Never by name: a loop device over A's data, named as B's vde's
   * device loop, is refused with the reason and left as it is. */
  nlx_test_run_command ((const char * const []) { "cp", a_file, spoof_file, NULL });
  spoof_name = g_strdup_printf ("nlx:%s:vde:dev", b);
  fd = open (spoof_file, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  spoof = nlx_loop_attach_full (fd, spoof_name, 0, &error);
  close (fd);
  g_assert_no_error (error);
  g_assert_cmpint (attach (f, b, "nlxtest-spoof-c",
                           ", \"device\": \"/dev/vde\", \"mount_path\": \"/data2\"",
                           &reply), ==, 500);
  message = json_object_get_string_member (nlx_test_object_at (reply,
                                                               "computeFault"),
                                           "message");
  g_test_message ("refused: %s", message);
  g_assert_nonnull (strstr (message, "nlxtest-spoof-c"));
  g_assert_nonnull (strstr (message, spoof));
  assert_in_container (f, b, "test -e /dev/vde", 1, NULL);
  assert_in_container (f, b, "test -e /data2/hello.txt", 1, NULL);
  spoof_backing = loop_backing (spoof);
  g_assert_cmpstr (spoof_backing, ==, spoof_file);
  nlx_loop_detach (spoof, &error);
  g_assert_no_error (error);
  /* B's vdd pair only. */
  g_assert_cmpuint (loop_devices_of (b), ==, 2);

  /* A start that finds B's device loop replaced refuses it: B goes to
   * ERROR with the reason as its fault, and the impostor stays. */
  nlx_test_act_and_wait (f->session, b, "{\"os-stop\": null}", "powering-off",
                         "SHUTOFF");
  g_assert_true (nlx_lxc_volume_release (b, "/dev/vdd", &error));
  g_assert_no_error (error);
  g_clear_pointer (&spoof_name, g_free);
  g_clear_pointer (&spoof, g_free);
  g_clear_pointer (&spoof_backing, g_free);
  g_clear_pointer (&reply, json_node_unref);
  spoof_name = g_strdup_printf ("nlx:%s:vdd:dev", b);
  fd = open (spoof_file, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  spoof = nlx_loop_attach_full (fd, spoof_name, 0, &error);
  close (fd);
  g_assert_no_error (error);
  g_assert_cmpint (nlx_test_act (f->session, b, "{\"os-start\": null}"), ==,
                   202);
  nlx_test_wait_for_status (f->session, b, "ERROR");
  reply = nlx_test_show (f->session, b);
  message = json_object_get_string_member (
    json_object_get_object_member (nlx_test_object_at (reply, "server"),
                                   "fault"), "message");
  g_test_message ("fault: %s", message);
  g_assert_nonnull (strstr (message, "nlxtest-spoof-b"));
  g_assert_nonnull (strstr (message, spoof));
  g_assert_cmpint (domain_running (f, b), ==, 0);
  spoof_backing = loop_backing (spoof);
  g_assert_cmpstr (spoof_backing, ==, spoof_file);
  nlx_loop_detach (spoof, &error);
  g_assert_no_error (error);

  delete_and_check (f, a);
  delete_and_check (f, b);
  g_assert_cmpuint (loop_devices_of (a), ==, 0);
  g_assert_cmpuint (loop_devices_of (b), ==, 0);
}

int
main (int argc,
      char **argv)
{
  static const Case cases[] = {
    { "/nlx/compute/volumes/attach-detach", test_volume_attach_detach },
    { "/nlx/compute/volumes/right-after-start", test_volume_right_after_start },
    { "/nlx/compute/volumes/guest-reboot", test_volume_guest_reboot },
    { "/nlx/compute/volumes/refused", test_volume_refused },
    { "/nlx/compute/volumes/dirty-journal", test_volume_dirty_journal },
    { "/nlx/compute/volumes/boot-from-volume", test_boot_from_volume },
    { "/nlx/compute/volumes/crash", test_volume_crash },
    { "/nlx/compute/volumes/fsck", test_volume_fsck },
    { "/nlx/compute/volumes/mount-path-planted",
      test_volume_mount_path_planted },
    { "/nlx/compute/volumes/errors-panic", test_volume_errors_panic },
    { "/nlx/compute/volumes/refused-entries", test_volume_refused_entries },
    { "/nlx/compute/volumes/loop-change-fd", test_volume_loop_change_fd },
    { "/nlx/compute/volumes/loop-name-spoof", test_volume_loop_name_spoof },
  };

  return run_cases (&argc, &argv,
                    "Volumes through nova-lxc-compute on real libvirt LXC: "
                    "attach, detach, refusals, dirty journals, boot from "
                    "volume, crashes.",
                    cases, G_N_ELEMENTS (cases));
}
