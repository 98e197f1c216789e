/* bench-spawn: what the lxc driver costs over libvirt alone
 *
 * Spawns and destroys containers through the driver and, interleaved with
 * them, creates and destroys the same domain straight through libvirt,
 * then prints percentiles of both side by side.  Then spawns from a
 * 10 MiB and a 1 GiB image, interleaved, whose copy-on-write roots must
 * make the size not matter.  A benchmark, not a test:
 * it exits 0 whether or not a target is met, 1 when the benchmark itself
 * failed, 77 when there is no libvirt LXC to measure. */
#include "config.h"

#include <glib/gstdio.h>

#include <libvirt/libvirt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "nlx-bench.h"
#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "driver/nlx-virt.h"
#include "lxc/nlx-lxc-domain.h"
#include "lxc/nlx-lxc-error.h"

#define EXIT_SKIP 77
#define EXIT_USAGE 2
#define URI "lxc:///"
/* Marks every domain and directory as a bench object to whoever finds
 * one left behind. */
#define UUID_PREFIX "7e57b"
#define SPAWN_RATIO_TARGET 1.3
#define DESTROY_P50_TARGET_S 0.1
#define STUBBORN_DESTROY_P50_TARGET_S 0.25
#define STUBBORN_DESTROY_RATIO_TARGET 0.2
#define IMAGE_SIZE_RATIO_TARGET 1.2
#define SMALL_IMAGE_MIB 10
#define LARGE_IMAGE_MIB 1024

/* mkrootfs lives in the source tree, which is the build tree unless the
 * build says otherwise. */
#ifndef NLX_ABS_TOP_SRCDIR
#define NLX_ABS_TOP_SRCDIR NLX_ABS_TOP_BUILDDIR
#endif
#define MKROOTFS NLX_ABS_TOP_SRCDIR "/tools/mkrootfs"

/* The init of part 2: ignoring SIGTERM is inherited by sleep too, so
 * nothing in the container dies until something sends SIGKILL. */
static const char term_ignoring_init[] =
  "#!/bin/sh\n"
  "trap '' TERM\n"
  "while :; do sleep 1; done\n";

static int opt_count = 20;
static int opt_root_gb = 0;

static const GOptionEntry entries[] = {
  { "count", 'n', 0, G_OPTION_ARG_INT, &opt_count,
    "Spawn/destroy cycles per measurement (default 20)", "N" },
  { "root-gb", 0, 0, G_OPTION_ARG_INT, &opt_root_gb,
    "The driver's instances get a root disk of N GiB (default 0: none)",
    "N" },
  G_OPTION_ENTRY_NULL
};

/* Set from a signal handler so Ctrl-C still leaves no domain behind. */
static volatile sig_atomic_t interrupted = 0;

typedef struct {
  virConnectPtr conn;
  NlxVirt *virt;
  char *tmp_dir;
  /* Every uuid a domain may have been created under, whatever failed. */
  GPtrArray *uuids;
} Bench;

/* One side of a comparison: the driver, or libvirt straight. */
typedef struct {
  gboolean via_driver;
  const NlxImage *image;
  NlxInstance *instance;
  char *xml;
  virDomainPtr dom;
  GArray *start_s;
  GArray *stop_s;
} Side;

static void
side_clear (Side *side)
{
  g_clear_pointer (&side->instance, nlx_instance_free);
  g_clear_pointer (&side->xml, g_free);
  g_clear_pointer (&side->dom, virDomainFree);
  g_clear_pointer (&side->start_s, g_array_unref);
  g_clear_pointer (&side->stop_s, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Side, side_clear)

static void
on_signal (int signum G_GNUC_UNUSED)
{
  interrupted = 1;
}

static gboolean
libvirt_failed (GError **error,
                const char *what,
                const char *uuid)
{
  nlx_lxc_error_from_libvirt (error);
  g_prefix_error (error, "%s of domain %s failed: ", what, uuid);
  return FALSE;
}

/* Domain names keep only the first eight digits of the uuid, so no two
 * of ours may share them. */
static char *
new_uuid (Bench *bench)
{
  char *uuid = g_uuid_string_random ();

  memcpy (uuid, UUID_PREFIX, strlen (UUID_PREFIX));
  for (guint i = 0; i < bench->uuids->len; i++)
    if (strncmp (uuid, g_ptr_array_index (bench->uuids, i), 8) == 0)
      {
        g_free (uuid);
        return new_uuid (bench);
      }
  return uuid;
}

/* The baseline gets the XML the driver would define, so the two sides
 * differ only in who starts and stops the domain. */
static gboolean
side_init (Bench *bench,
           Side *side,
           gboolean via_driver,
           const NlxImage *image,
           GError **error)
{
  g_autofree char *uuid = new_uuid (bench);
  g_autofree char *json = NULL;
  NlxLxcDomainSpec spec = { 0 };

  json = g_strdup_printf ("{\"uuid\": \"%s\", \"name\": \"bench-%s\", "
                          "\"flavor\": {\"name\": \"m1.tiny\", \"vcpus\": 1, "
                          "\"memory_mb\": 128, \"root_gb\": %d}, "
                          "\"image_ref\": \"%s\", \"user_id\": \"bench\", "
                          "\"project_id\": \"bench\"}",
                          uuid, via_driver ? "driver" : "libvirt",
                          via_driver ? opt_root_gb : 0, image->id);
  side->via_driver = via_driver;
  side->image = image;
  side->start_s = g_array_new (FALSE, FALSE, sizeof (double));
  side->stop_s = g_array_new (FALSE, FALSE, sizeof (double));
  side->instance = nlx_instance_new_from_data (json, -1, error);
  if (side->instance == NULL)
    return FALSE;
  g_ptr_array_add (bench->uuids, g_steal_pointer (&uuid));
  if (via_driver)
    return TRUE;

  spec.instance = side->instance;
  spec.root_dir = image->path;
  spec.init_path = nlx_image_get_property (image, NLX_IMAGE_PROP_INIT_PATH);
  spec.shutdown_signal = nlx_image_get_property (image,
                                                 NLX_IMAGE_PROP_SHUTDOWN_SIGNAL);
  side->xml = nlx_lxc_domain_build (&spec, error);
  return side->xml != NULL;
}

static gboolean
side_start (Bench *bench,
            Side *side,
            GError **error)
{
  if (side->via_driver)
    return nlx_virt_spawn (bench->virt, side->instance, side->image, error);
  side->dom = virDomainCreateXML (bench->conn, side->xml, 0);
  return side->dom != NULL ||
         libvirt_failed (error, "virDomainCreateXML", side->instance->uuid);
}

static gboolean
side_stop (Bench *bench,
           Side *side,
           GError **error)
{
  gboolean ok;

  if (side->via_driver)
    return nlx_virt_destroy (bench->virt, side->instance->uuid, error);
  /* Before virDomainFree, which resets libvirt's last error. */
  ok = virDomainDestroy (side->dom) == 0 ||
       libvirt_failed (error, "virDomainDestroy", side->instance->uuid);
  g_clear_pointer (&side->dom, virDomainFree);
  return ok;
}

static gboolean
time_cycle (Bench *bench,
            Side *side,
            GError **error)
{
  gint64 start, started;
  double seconds;

  if (interrupted)
    {
      g_set_error_literal (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                           "Interrupted");
      return FALSE;
    }
  start = g_get_monotonic_time ();
  if (!side_start (bench, side, error))
    return FALSE;
  started = g_get_monotonic_time ();
  if (!side_stop (bench, side, error))
    return FALSE;
  seconds = (double) (g_get_monotonic_time () - started) / G_USEC_PER_SEC;
  g_array_append_val (side->stop_s, seconds);
  seconds = (double) (started - start) / G_USEC_PER_SEC;
  g_array_append_val (side->start_s, seconds);
  return TRUE;
}

/* Interleaved, so a host growing slower or faster during the run weighs
 * on both sides alike. */
static gboolean
measure (Bench *bench,
         const NlxImage *image,
         Side *driver,
         Side *libvirt,
         GError **error)
{
  Side *sides[] = { driver, libvirt };

  if (!side_init (bench, driver, TRUE, image, error) ||
      !side_init (bench, libvirt, FALSE, image, error))
    return FALSE;
  for (int i = 0; i < opt_count; i++)
    for (guint s = 0; s < G_N_ELEMENTS (sides); s++)
      if (!time_cycle (bench, sides[s], error))
        return FALSE;
  return TRUE;
}

/* Returns the ratio of the p50s. */
static double
print_row (const char *what,
           GArray *driver,
           const char *libvirt_call,
           GArray *libvirt,
           const char *target)
{
  double ratio = nlx_bench_percentile (driver, 50) / nlx_bench_percentile (libvirt, 50);

  g_print ("%-22s driver p50 %.3f s  p90 %.3f s | libvirt %-7s p50 %.3f s  "
           "p90 %.3f s | ratio %.2f%s\n", what,
           nlx_bench_percentile (driver, 50), nlx_bench_percentile (driver, 90), libvirt_call,
           nlx_bench_percentile (libvirt, 50), nlx_bench_percentile (libvirt, 90), ratio, target);
  return ratio;
}

static void
print_target (const char *what,
              gboolean met,
              double value,
              const char *unit)
{
  g_print ("target %-38s %-6s (%.3f%s)\n", what, met ? "MET" : "MISSED",
           value, unit);
}

static NlxImage *
make_image (const char *id,
            const char *dir,
            gboolean term_ignoring,
            GError **error)
{
  const char *argv[] = { "/bin/sh", MKROOTFS, dir, NULL };
  g_autofree char *init = g_build_filename (dir, "sbin", "init", NULL);
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     NULL, NULL, &status, error) ||
      !g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s %s failed: ", MKROOTFS, dir);
      return NULL;
    }
  /* sbin/init is a symbolic link to busybox; a consistent write renames
   * a new file over the link instead of writing through it. */
  if (term_ignoring &&
      !g_file_set_contents_full (init, term_ignoring_init, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0755, error))
    return NULL;
  return nlx_image_new_from_path (id, dir, error);
}

/* Grows an image by a file of @mib MiB of written (not sparse) data. */
static gboolean
add_payload (const NlxImage *image,
             guint mib,
             GError **error)
{
  g_autofree char *path = g_build_filename (image->path, "payload", NULL);
  g_autofree char *block = g_malloc0 (1024 * 1024);
  FILE *file = fopen (path, "wb");
  gboolean ok = file != NULL;

  for (guint i = 0; ok && i < mib; i++)
    {
      memset (block, (int) i, 1024 * 1024);
      ok = fwrite (block, 1024 * 1024, 1, file) == 1;
    }
  if (file != NULL && fclose (file) != 0)
    ok = FALSE;
  if (!ok)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                 "Cannot write %u MiB to %s", mib, path);
  return ok;
}

/* Spawn from a small and from a large image, interleaved: with
 * copy-on-write roots the size must not matter.  Returns the ratio of
 * the p50s, large over small. */
static gboolean
measure_sizes (Bench *bench,
               double *ratio,
               GError **error)
{
  g_autofree char *small_dir = g_build_filename (bench->tmp_dir, "image-small", NULL);
  g_autofree char *large_dir = g_build_filename (bench->tmp_dir, "image-large", NULL);
  g_autoptr(NlxImage) small_image = make_image ("bench-small", small_dir, FALSE,
                                                error);
  g_autoptr(NlxImage) large_image = NULL;
  g_auto(Side) small = { 0 };
  g_auto(Side) large = { 0 };

  if (small_image == NULL ||
      !add_payload (small_image, SMALL_IMAGE_MIB, error) ||
      (large_image = make_image ("bench-large", large_dir, FALSE, error)) == NULL ||
      !add_payload (large_image, LARGE_IMAGE_MIB, error))
    return FALSE;
  nlx_image_set_property (small_image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL, "SIGUSR2");
  nlx_image_set_property (large_image, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL, "SIGUSR2");
  if (!side_init (bench, &small, TRUE, small_image, error) ||
      !side_init (bench, &large, TRUE, large_image, error))
    return FALSE;
  for (int i = 0; i < opt_count; i++)
    if (!time_cycle (bench, &small, error) || !time_cycle (bench, &large, error))
      return FALSE;
  *ratio = nlx_bench_percentile (large.start_s, 50) /
           nlx_bench_percentile (small.start_s, 50);
  g_print ("%-22s %u MiB image p50 %.3f s  p90 %.3f s | %u MiB image p50 "
           "%.3f s  p90 %.3f s | ratio %.2f (target <= "
           G_STRINGIFY (IMAGE_SIZE_RATIO_TARGET) ")\n", "spawn by image size",
           LARGE_IMAGE_MIB, nlx_bench_percentile (large.start_s, 50),
           nlx_bench_percentile (large.start_s, 90), SMALL_IMAGE_MIB,
           nlx_bench_percentile (small.start_s, 50),
           nlx_bench_percentile (small.start_s, 90), *ratio);
  return TRUE;
}

static gboolean
run (Bench *bench,
     GError **error)
{
  g_autofree char *busybox_dir = NULL;
  g_autofree char *stubborn_dir = NULL;
  g_autoptr(NlxImage) busybox = NULL;
  g_autoptr(NlxImage) stubborn = NULL;
  g_auto(Side) driver = { 0 };
  g_auto(Side) libvirt = { 0 };
  g_auto(Side) stubborn_driver = { 0 };
  g_auto(Side) stubborn_libvirt = { 0 };
  double spawn_ratio, destroy_ratio, destroy_p50, size_ratio, plain_destroy_p50;

  busybox_dir = g_build_filename (bench->tmp_dir, "busybox-init", NULL);
  stubborn_dir = g_build_filename (bench->tmp_dir, "term-ignoring-init", NULL);
  busybox = make_image ("bench-busybox", busybox_dir, FALSE, error);
  if (busybox == NULL)
    return FALSE;
  nlx_image_set_property (busybox, NLX_IMAGE_PROP_SHUTDOWN_SIGNAL, "SIGUSR2");
  stubborn = make_image ("bench-term-ignoring", stubborn_dir, TRUE, error);
  if (stubborn == NULL)
    return FALSE;

  g_print ("bench-spawn: %d cycles per side, driver and libvirt interleaved\n",
           opt_count);
  if (!measure (bench, busybox, &driver, &libvirt, error))
    return FALSE;
  spawn_ratio = print_row ("spawn", driver.start_s, "create", libvirt.start_s,
                           " (target <= " G_STRINGIFY (SPAWN_RATIO_TARGET) ")");
  print_row ("destroy", driver.stop_s, "destroy", libvirt.stop_s, "");
  plain_destroy_p50 = nlx_bench_percentile (driver.stop_s, 50);

  if (!measure (bench, stubborn, &stubborn_driver, &stubborn_libvirt, error))
    return FALSE;
  destroy_ratio = print_row ("destroy, TERM ignored", stubborn_driver.stop_s,
                             "destroy", stubborn_libvirt.stop_s,
                             " (target <= "
                             G_STRINGIFY (STUBBORN_DESTROY_RATIO_TARGET) ")");
  destroy_p50 = nlx_bench_percentile (stubborn_driver.stop_s, 50);
  if (!measure_sizes (bench, &size_ratio, error))
    return FALSE;

  print_target ("spawn ratio <= " G_STRINGIFY (SPAWN_RATIO_TARGET),
                spawn_ratio <= SPAWN_RATIO_TARGET, spawn_ratio, "");
  /* Event-driven (the STOPPED event), not libvirt's 200 ms polling. */
  print_target ("destroy p50 <= " G_STRINGIFY (DESTROY_P50_TARGET_S) " s",
                plain_destroy_p50 <= DESTROY_P50_TARGET_S, plain_destroy_p50,
                " s");
  print_target ("destroy p50, TERM ignored, < "
                G_STRINGIFY (STUBBORN_DESTROY_P50_TARGET_S) " s",
                destroy_p50 < STUBBORN_DESTROY_P50_TARGET_S, destroy_p50, " s");
  print_target ("destroy ratio, TERM ignored, <= "
                G_STRINGIFY (STUBBORN_DESTROY_RATIO_TARGET),
                destroy_ratio <= STUBBORN_DESTROY_RATIO_TARGET, destroy_ratio,
                "");
  print_target ("spawn 1 GiB / 10 MiB image <= "
                G_STRINGIFY (IMAGE_SIZE_RATIO_TARGET),
                size_ratio <= IMAGE_SIZE_RATIO_TARGET, size_ratio, "");
  return TRUE;
}

/* Runs whatever happened before: removes every domain under a bench
 * uuid, then the directories.  Returns whether nothing was left. */
static gboolean
bench_cleanup (Bench *bench)
{
  g_autoptr(GError) error = NULL;
  gboolean clean = TRUE;

  for (guint i = 0; i < bench->uuids->len; i++)
    {
      const char *uuid = g_ptr_array_index (bench->uuids, i);
      virDomainPtr dom = virDomainLookupByUUIDString (bench->conn, uuid);

      if (dom == NULL)
        continue;
      if ((virDomainIsActive (dom) == 1 && virDomainDestroy (dom) < 0) ||
          (virDomainIsPersistent (dom) == 1 && virDomainUndefine (dom) < 0))
        {
          libvirt_failed (&error, "Cleanup", uuid);
          g_printerr ("bench-spawn: %s; remove it with virsh -c " URI
                      " destroy and undefine\n", error->message);
          g_clear_error (&error);
          clean = FALSE;
        }
      virDomainFree (dom);
    }
  g_clear_pointer (&bench->virt, nlx_virt_close);
  if (!nlx_file_remove_tree (bench->tmp_dir, &error))
    {
      g_printerr ("bench-spawn: %s\n", error->message);
      clean = FALSE;
    }
  return clean;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) config = g_key_file_new ();
  g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *tmp_dir = NULL;
  Bench bench = { 0 };
  gboolean ok;

  context = g_option_context_new ("- time spawn and destroy of the lxc "
                                  "driver against libvirt alone");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) ||
      opt_count < 1 || opt_root_gb < 0 || argc > 1)
    {
      g_printerr ("bench-spawn: %s\n",
                  error ? error->message : "--count must be 1 or more, "
                  "--root-gb 0 or more, and there are no arguments");
      return EXIT_USAGE;
    }

  nlx_lxc_error_silence_libvirt ();
  bench.conn = virConnectOpen (URI);
  if (bench.conn == NULL)
    {
      nlx_lxc_error_from_libvirt (&error);
      g_print ("bench-spawn: SKIP: libvirt at " URI " is not reachable (is "
               "libvirtd running, with its LXC driver, and are you root?): "
               "%s\n", error->message);
      return EXIT_SKIP;
    }

  tmp_dir = g_dir_make_tmp ("nlx-bench-XXXXXX", &error);
  /* Instances' root, an unprivileged uid, must reach their roots. */
  if (tmp_dir != NULL)
    g_chmod (tmp_dir, 0711);
  if (tmp_dir == NULL)
    {
      g_printerr ("bench-spawn: %s\n", error->message);
      virConnectClose (bench.conn);
      return 1;
    }
  bench.tmp_dir = tmp_dir;
  bench.uuids = uuids;
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);

  g_key_file_set_string (config, "DEFAULT", "instances_path", tmp_dir);
  bench.virt = nlx_virt_open ("lxc", config, &error);
  ok = bench.virt != NULL && run (&bench, &error);
  if (!ok)
    g_printerr ("bench-spawn: %s\n", error->message);
  ok = bench_cleanup (&bench) && ok;
  virConnectClose (bench.conn);
  return ok ? 0 : 1;
}
