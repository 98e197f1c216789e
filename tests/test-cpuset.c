/* test-cpuset.c: CPU lists, and which CPUs an instance is pinned to */
#include "config.h"

#include "common/nlx-error.h"
#include "lxc/nlx-lxc-cpuset.h"

static char *
round_trip (const char *text,
            guint ncpus)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) cpus = nlx_lxc_cpuset_parse (text, ncpus, &error);

  g_assert_no_error (error);
  return nlx_lxc_cpuset_format (cpus);
}

static void
test_parse (void)
{
  static const struct {
    const char *text;
    const char *canonical;
  } cases[] = {
    { "0", "0" },
    { "0-3", "0-3" },
    { "0-3,^2,6", "0-1,3,6" },
    { " 1 , 0 ", "0-1" },
    { "5,4,6", "4-6" },
  };
  static const char * const bad[] = { "", "x", "1-", "3-1", "^1-2", "8", "0-8",
                                      "-1", "0,^0" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = round_trip (cases[i].text, 8);

      g_assert_cmpstr (text, ==, cases[i].canonical);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GArray) cpus = nlx_lxc_cpuset_parse (bad[i], 8, &error);

      g_assert_null (cpus);
      g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT);
    }
}

/* Least loaded first, lower number on a tie; as many CPUs as vcpus, and
 * none (unpinned) when vcpus cover every allowed CPU. */
static void
test_choose (void)
{
  g_autoptr(GArray) all = nlx_lxc_cpuset_parse ("0-3", 4, NULL);
  g_autoptr(GArray) shared = nlx_lxc_cpuset_parse ("1-3", 4, NULL);
  double idle[4] = { 0, 0, 0, 0 };
  double busy0[4] = { 2, 0, 1, 0 };
  char *pick;

  pick = nlx_lxc_cpuset_choose (all, idle, 4, 1);
  g_assert_cmpstr (pick, ==, "0");
  g_free (pick);
  pick = nlx_lxc_cpuset_choose (all, busy0, 4, 1);
  g_assert_cmpstr (pick, ==, "1");
  g_free (pick);
  pick = nlx_lxc_cpuset_choose (all, busy0, 4, 2);
  g_assert_cmpstr (pick, ==, "1,3");
  g_free (pick);
  pick = nlx_lxc_cpuset_choose (all, busy0, 4, 3);
  g_assert_cmpstr (pick, ==, "1-3");
  g_free (pick);
  g_assert_null (nlx_lxc_cpuset_choose (all, busy0, 4, 4));
  g_assert_null (nlx_lxc_cpuset_choose (all, busy0, 4, 16));

  /* Only within [compute] cpu_shared_set, though CPU 0 is idle. */
  pick = nlx_lxc_cpuset_choose (shared, (double[]) { 0, 1, 1, 0.5 }, 4, 1);
  g_assert_cmpstr (pick, ==, "3");
  g_free (pick);
  g_assert_null (nlx_lxc_cpuset_choose (shared, idle, 4, 3));
}

/* Successive 1-vcpu instances on a 2-CPU host alternate, as the driver
 * adds each pin to the load. */
static void
test_spread (void)
{
  g_autoptr(GArray) all = nlx_lxc_cpuset_parse ("0-1", 2, NULL);
  double load[2] = { 0, 0 };
  guint on[2] = { 0, 0 };

  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *pick = nlx_lxc_cpuset_choose (all, load, 2, 1);
      guint cpu = g_str_equal (pick, "0") ? 0 : 1;

      load[cpu] += 1;
      on[cpu]++;
    }
  g_assert_cmpuint (on[0], ==, 3);
  g_assert_cmpuint (on[1], ==, 3);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("CPU lists, and which CPUs an instance is pinned to.");
  g_test_add_func ("/nlx/cpuset/parse", test_parse);
  g_test_add_func ("/nlx/cpuset/choose", test_choose);
  g_test_add_func ("/nlx/cpuset/spread", test_spread);
  return g_test_run ();
}
