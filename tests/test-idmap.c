/* test-idmap.c: id maps as [lxc] uid_maps and gid_maps give them */
#include "config.h"

#include "nlx-error.h"
#include "nlx-idmap.h"

static void
test_parse (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) map = nlx_idmap_parse ("0:100000:65536", "k", &error);
  g_autoptr(GArray) two = NULL;
  g_autofree char *kernel = NULL;
  g_autofree char *text = NULL;
  guint32 host;

  g_assert_no_error (error);
  g_assert_cmpuint (map->len, ==, 1);
  g_assert_true (nlx_idmap_to_host (map, 0, &host));
  g_assert_cmpuint (host, ==, 100000);
  g_assert_true (nlx_idmap_to_host (map, 65535, &host));
  g_assert_cmpuint (host, ==, 165535);
  g_assert_false (nlx_idmap_to_host (map, 65536, &host));

  /* Nova's list form, with spaces around the commas. */
  two = nlx_idmap_parse ("0:200000:1000, 1000:1000:1,1001:201001:64535", "k",
                         &error);
  g_assert_no_error (error);
  g_assert_cmpuint (two->len, ==, 3);
  g_assert_true (nlx_idmap_to_host (two, 1000, &host));
  g_assert_cmpuint (host, ==, 1000);
  g_assert_true (nlx_idmap_to_host (two, 1001, &host));
  g_assert_cmpuint (host, ==, 201001);
  g_assert_true (nlx_idmap_to_host (two, 65535, &host));
  g_assert_cmpuint (host, ==, 265535);
  kernel = nlx_idmap_to_kernel (two);
  g_assert_cmpstr (kernel, ==, "0 200000 1000\n1000 1000 1\n1001 201001 64535\n");
  text = nlx_idmap_to_string (two);
  g_assert_cmpstr (text, ==, "0:200000:1000,1000:1000:1,1001:201001:64535");

  /* The top of the id space is reachable, not beyond. */
  g_clear_pointer (&map, g_array_unref);
  map = nlx_idmap_parse ("0:4294901760:65536", "k", &error);
  g_assert_no_error (error);
  g_assert_true (nlx_idmap_to_host (map, 65535, &host));
  g_assert_cmpuint (host, ==, G_MAXUINT32);
}

static void
test_bad (void)
{
  static const char * const bad[] = {
    "", "0:100000", "0:100000:65536:1", "a:100000:10", "0:100000:0",
    "-1:100000:10", "0:100000:10,", "0:4294967295:2", "4294967295:1:2",
    "0:100000:10,5:300000:10",        /* inside ids overlap */
    "0:100000:10,20:100005:10",       /* host ids overlap */
    "1:100000:10",                    /* no root */
    "0:0:65536",                      /* root is the host's root */
    " 0 : 100000 : 10",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GArray) map = nlx_idmap_parse (bad[i], "[lxc] uid_maps", &error);

      g_test_message ("“%s”", bad[i]);
      g_assert_null (map);
      g_assert_error (error, NLX_CONFIG_ERROR, NLX_CONFIG_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, "[lxc] uid_maps"));
    }
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nlx/idmap/parse", test_parse);
  g_test_add_func ("/nlx/idmap/bad", test_bad);
  return g_test_run ();
}
