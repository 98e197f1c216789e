/* bench-volume: live attach and detach of a mounted volume, against the
 * floor of doing the same by hand
 *
 * Spawns one busybox container through the lxc driver, then attaches a
 * 64 MiB ext4 volume to it (mount mode) and detaches it again, timing
 * each.  Interleaved with those cycles it measures the floor: a
 * read-only loop device over the same volume plus a read-only mount of
 * it on the host, and their undoing, with nothing else.  A benchmark, not
 * a test: it exits 0 whether or not a target is met, 1 when the benchmark
 * itself failed, 77 when there is no libvirt LXC to measure. */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "nlx-bench.h"
#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "driver/nlx-virt.h"
#include "host/nlx-mount.h"
#include "lxc/nlx-lxc-error.h"
#include "lxc/nlx-lxc-volume.h"

#define EXIT_SKIP 77
#define EXIT_USAGE 2
#define URI "lxc:///"
/* A uuid, volume and loop names nobody else uses. */
#define UUID "7e57b0f0-0000-4000-8000-00000000b0f0"
#define VOLUME_ID "nlxbench-volume"
#define FLOOR_LOOP_NAME "nlxbench:floor"
#define TARGET_MS 100.0

#ifndef NLX_ABS_TOP_SRCDIR
#define NLX_ABS_TOP_SRCDIR NLX_ABS_TOP_BUILDDIR
#endif
#define MKROOTFS NLX_ABS_TOP_SRCDIR "/tools/mkrootfs"

static int opt_count = 20;

static const GOptionEntry entries[] = {
  { "count", 'n', 0, G_OPTION_ARG_INT, &opt_count,
    "Attach/detach cycles per measurement (default 20)", "N" },
  G_OPTION_ENTRY_NULL
};

static volatile sig_atomic_t interrupted = 0;

static void
on_signal (int signum G_GNUC_UNUSED)
{
  interrupted = 1;
}

static gboolean
run_command (const char * const *argv,
             GError **error)
{
  int status;

  return g_spawn_sync (NULL, (char **) argv, NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                       NULL, NULL, NULL, &status, error) &&
         g_spawn_check_wait_status (status, error);
}

static double
elapsed_ms (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

/* The floor: what any attach must do at least (a read-only loop device
 * and a read-only mount of its filesystem), done directly on the host. */
static gboolean
floor_cycle (const NlxVolumeSettings *settings,
             const char *target,
             GArray *attach_ms,
             GArray *detach_ms,
             GError **error)
{
  g_autofree char *loop = NULL;
  gint64 start = g_get_monotonic_time ();
  double ms;
  int fd, mount_fd;
  gboolean ok;

  fd = nlx_volume_open (settings, VOLUME_ID, NULL, error);
  if (fd < 0)
    return FALSE;
  loop = nlx_loop_attach (fd, FLOOR_LOOP_NAME, error);
  close (fd);
  if (loop == NULL)
    return FALSE;
  mount_fd = nlx_mount_prepare (loop, "ext4", FALSE, error);
  ok = mount_fd >= 0 && nlx_mount_at (mount_fd, target, error);
  if (mount_fd >= 0)
    close (mount_fd);
  ms = elapsed_ms (start);
  if (!ok)
    {
      nlx_loop_detach (loop, NULL);
      return FALSE;
    }
  g_array_append_val (attach_ms, ms);

  start = g_get_monotonic_time ();
  ok = nlx_umount (target, error) && nlx_loop_detach (loop, error);
  ms = elapsed_ms (start);
  g_array_append_val (detach_ms, ms);
  return ok;
}

static gboolean
driver_cycle (NlxVirt *virt,
              const NlxVolumeAttachment *attachment,
              GArray *attach_ms,
              GArray *detach_ms,
              GError **error)
{
  gint64 start = g_get_monotonic_time ();
  double ms;

  if (!nlx_virt_attach_volume (virt, UUID, attachment, error))
    return FALSE;
  ms = elapsed_ms (start);
  g_array_append_val (attach_ms, ms);

  start = g_get_monotonic_time ();
  if (!nlx_virt_detach_volume (virt, UUID, attachment, error))
    return FALSE;
  ms = elapsed_ms (start);
  g_array_append_val (detach_ms, ms);
  return TRUE;
}

static void
print_row (const char *what,
           GArray *driver,
           GArray *floor)
{
  double p50 = nlx_bench_percentile (driver, 50);
  double floor_p50 = nlx_bench_percentile (floor, 50);

  g_print ("  %-7s p50 %7.1f ms  p90 %7.1f ms   floor p50 %6.1f ms  "
           "ratio %5.2f   %s (target p50 < %.0f ms)\n", what, p50,
           nlx_bench_percentile (driver, 90), floor_p50, p50 / floor_p50,
           p50 < TARGET_MS ? "MET" : "MISSED", TARGET_MS);
}

static gboolean
run (NlxVirt *virt,
     const NlxVolumeSettings *settings,
     const char *tmp_dir,
     GError **error)
{
  g_autofree char *root = g_build_filename (tmp_dir, "root", NULL);
  g_autofree char *tree = g_build_filename (tmp_dir, "tree", NULL);
  g_autofree char *hello = g_build_filename (tree, "hello.txt", NULL);
  g_autofree char *target = g_build_filename (tmp_dir, "floor-mount", NULL);
  g_autoptr(NlxImage) image = NULL;
  g_autoptr(NlxInstance) instance = NULL;
  g_autoptr(GArray) attach_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) detach_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) floor_attach_ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) floor_detach_ms = g_array_new (FALSE, FALSE, sizeof (double));
  NlxVolumeAttachment attachment = {
    .volume_id = (char *) VOLUME_ID,
    .device = (char *) "/dev/vdb",
    .mount_path = (char *) "/data",
  };
  g_autofree char *document = NULL;

  if (!run_command ((const char * const []) { MKROOTFS, root, NULL }, error) ||
      g_mkdir (tree, 0755) != 0 || g_mkdir (target, 0755) != 0 ||
      !g_file_set_contents (hello, "bench\n", -1, error) ||
      !nlx_volume_create (settings, VOLUME_ID, 64 * 1024 * 1024, "ext4", tree,
                          error))
    return FALSE;

  document = g_strdup_printf ("{\"uuid\": \"" UUID "\", \"name\": \"nlxbench\", "
                              "\"flavor\": {\"name\": \"bench\", \"vcpus\": 1, "
                              "\"memory_mb\": 128, \"root_gb\": 0}, "
                              "\"image_ref\": \"bench-busybox\", "
                              "\"user_id\": \"bench\", \"project_id\": \"bench\"}");
  instance = nlx_instance_new_from_data (document, -1, error);
  image = instance ? nlx_image_new_from_path ("bench-busybox", root, error) : NULL;
  if (image == NULL)
    return FALSE;
  nlx_image_set_property (image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL, "SIGUSR2");
  if (!nlx_virt_spawn (virt, instance, image, error))
    return FALSE;

  g_print ("bench-volume: %d cycles of attach (mounted at /data) and detach "
           "of a 64 MiB ext4 volume to a running container, interleaved with "
           "the floor (read-only loop device + mount on the host)\n", opt_count);
  /* One of each first, so that neither side pays for a cold cache. */
  if (!driver_cycle (virt, &attachment, attach_ms, detach_ms, error) ||
      !floor_cycle (settings, target, floor_attach_ms, floor_detach_ms, error))
    return FALSE;
  g_array_set_size (attach_ms, 0);
  g_array_set_size (detach_ms, 0);
  g_array_set_size (floor_attach_ms, 0);
  g_array_set_size (floor_detach_ms, 0);
  for (int i = 0; i < opt_count && !interrupted; i++)
    if (!driver_cycle (virt, &attachment, attach_ms, detach_ms, error) ||
        !floor_cycle (settings, target, floor_attach_ms, floor_detach_ms, error))
      return FALSE;
  if (interrupted)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   "interrupted");
      return FALSE;
    }
  print_row ("attach", attach_ms, floor_attach_ms);
  print_row ("detach", detach_ms, floor_detach_ms);
  return TRUE;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) config = g_key_file_new ();
  g_autoptr(NlxVolumeSettings) settings = NULL;
  g_autofree char *tmp_dir = NULL;
  g_autofree char *volumes = NULL;
  g_autofree char *instances = NULL;
  g_autofree char *floor_target = NULL;
  NlxVirt *virt = NULL;
  virConnectPtr conn;
  gboolean ok;

  context = g_option_context_new ("- time live volume attach and detach "
                                  "against doing it by hand");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) ||
      opt_count < 1 || argc > 1)
    {
      g_printerr ("bench-volume: %s\n",
                  error ? error->message : "--count must be 1 or more and "
                  "there are no arguments");
      return EXIT_USAGE;
    }

  nlx_lxc_error_silence_libvirt ();
  conn = virConnectOpen (URI);
  if (conn == NULL)
    {
      nlx_lxc_error_from_libvirt (&error);
      g_print ("bench-volume: SKIP: libvirt at " URI " is not reachable (is "
               "libvirtd running, with its LXC driver, and are you root?): "
               "%s\n", error->message);
      return EXIT_SKIP;
    }
  virConnectClose (conn);

  tmp_dir = g_dir_make_tmp ("nlx-bench-volume-XXXXXX", &error);
  /* Instances' root, an unprivileged uid, must reach their roots. */
  if (tmp_dir != NULL)
    g_chmod (tmp_dir, 0711);
  if (tmp_dir == NULL)
    {
      g_printerr ("bench-volume: %s\n", error->message);
      return 1;
    }
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  volumes = g_build_filename (tmp_dir, "volumes", NULL);
  instances = g_build_filename (tmp_dir, "instances", NULL);
  g_key_file_set_string (config, "DEFAULT", "instances_path", instances);
  g_key_file_set_string (config, "volumes", "path", volumes);

  settings = nlx_volume_settings_new (config, &error);
  virt = settings ? nlx_virt_open ("lxc", config, &error) : NULL;
  ok = virt != NULL && run (virt, settings, tmp_dir, &error);
  if (!ok)
    g_printerr ("bench-volume: %s\n", error->message);

  /* Whatever happened: no domain, mount or loop device left. */
  g_clear_error (&error);
  if (virt != NULL && !nlx_virt_destroy (virt, UUID, &error))
    {
      g_printerr ("bench-volume: %s; remove domain instance-7e57b0f0 with "
                  "virsh\n", error->message);
      ok = FALSE;
    }
  g_clear_pointer (&virt, nlx_virt_close);
  floor_target = g_build_filename (tmp_dir, "floor-mount", NULL);
  nlx_umount (floor_target, NULL);
  {
    g_autofree char *loop = nlx_loop_find (FLOOR_LOOP_NAME);

    if (loop != NULL)
      nlx_loop_detach (loop, NULL);
  }
  g_clear_error (&error);
  if (!nlx_file_remove_tree (tmp_dir, &error))
    {
      g_printerr ("bench-volume: %s\n", error->message);
      ok = FALSE;
    }
  return ok ? 0 : 1;
}
