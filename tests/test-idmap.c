/* test-idmap.c: id maps as [lxc] uid_maps and gid_maps give them */
#include "config.h"

#include "common/nlx-error.h"
#include "common/nlx-idmap.h"

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

/* from_host undoes to_host over every range, and refuses host ids that
 * no range reaches: below, between and above the ranges. */
static void
test_from_host (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) map = nlx_idmap_parse ("0:100000:65536", "k", &error);
  g_autoptr(GArray) three = NULL;
  static const guint32 inside[] = { 0, 1, 999, 1000, 1001, 5000, 65535 };
  static const guint32 outside[] = {
    0, 999, 1001, 199999, 201000, 265536, 300000, G_MAXUINT32,
  };
  guint32 id, host;

  g_assert_no_error (error);
  g_assert_true (nlx_idmap_from_host (map, 100000, &id));
  g_assert_cmpuint (id, ==, 0);
  g_assert_true (nlx_idmap_from_host (map, 100005, &id));
  g_assert_cmpuint (id, ==, 5);
  g_assert_true (nlx_idmap_from_host (map, 165535, &id));
  g_assert_cmpuint (id, ==, 65535);
  g_assert_false (nlx_idmap_from_host (map, 99999, &id));
  g_assert_false (nlx_idmap_from_host (map, 165536, &id));
  g_assert_false (nlx_idmap_from_host (map, 0, &id));

  /* Ranges out of order on the host side, one of them the identity. */
  three = nlx_idmap_parse ("0:200000:1000,1000:1000:1,1001:201001:64535", "k",
                           &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (inside); i++)
    {
      g_assert_true (nlx_idmap_to_host (three, inside[i], &host));
      g_assert_true (nlx_idmap_from_host (three, host, &id));
      g_assert_cmpuint (id, ==, inside[i]);
    }
  g_assert_true (nlx_idmap_from_host (three, 1000, &id));
  g_assert_cmpuint (id, ==, 1000);
  for (gsize i = 0; i < G_N_ELEMENTS (outside); i++)
    {
      id = 4242;
      if (nlx_idmap_from_host (three, outside[i], &id))
        g_error ("host id %u should be unmapped, got %u", outside[i], id);
      g_assert_cmpuint (id, ==, 4242);
    }

  /* The top of the id space, both ways. */
  g_clear_pointer (&map, g_array_unref);
  map = nlx_idmap_parse ("0:4294901760:65536", "k", &error);
  g_assert_no_error (error);
  g_assert_true (nlx_idmap_from_host (map, G_MAXUINT32, &id));
  g_assert_cmpuint (id, ==, 65535);
  g_assert_false (nlx_idmap_from_host (map, 4294901759u, &id));
}

/* No map is a privileged instance: every id is the host's, both ways. */
static void
test_identity (void)
{
  static const guint32 ids[] = { 0, 1, 1000, 65534, 100000, G_MAXUINT32 };
  guint32 out;

  for (gsize i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_assert_true (nlx_idmap_from_host (NULL, ids[i], &out));
      g_assert_cmpuint (out, ==, ids[i]);
      g_assert_true (nlx_idmap_to_host (NULL, ids[i], &out));
      g_assert_cmpuint (out, ==, ids[i]);
    }
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
  g_test_summary ("Id maps as [lxc] uid_maps and gid_maps give them.");
  g_test_add_func ("/nlx/idmap/parse", test_parse);
  g_test_add_func ("/nlx/idmap/from-host", test_from_host);
  g_test_add_func ("/nlx/idmap/identity", test_identity);
  g_test_add_func ("/nlx/idmap/bad", test_bad);
  return g_test_run ();
}
