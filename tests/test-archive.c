/* test-archive.c: writing a directory tree as a tarball, with owners as
 * an instance sees them, and taking it back with nlx_archive_extract()
 *
 * Each case runs in a subprocess over a temporary directory its parent
 * made, so the parent removes the directory even when the case fails.  A
 * case that needs what the host lacks (root, a mount namespace) says why
 * in a file the parent reads, which then skips the test. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-idmap.h"
#include "host/nlx-archive.h"
#include "lib/nlx-test-tools.h"

typedef struct {
  char *dir;
  char *src;      /* the tree to archive */
  char *out;      /* where the tarball is extracted */
  char *tar;      /* the tarball */
  char *skip;     /* a case's reason to be skipped */
} Fixture;

typedef void (*CaseFunc) (Fixture *f);

#define BIG_SIZE (1024 * 1024)
#define MTIME 1600000000

/* ---- helpers ----------------------------------------------------------- */

/* Tells the parent to skip the test, for @reason. */
static void
case_skip (Fixture *f,
           const char *reason)
{
  g_assert_true (g_file_set_contents (f->skip, reason, -1, NULL));
}

static void
make_file (const char *dir,
           const char *name,
           const char *data,
           gssize len,
           guint mode)
{
  g_autofree char *path = nlx_test_path (dir, name);
  g_autofree char *parent = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, data, len, NULL));
  g_assert_cmpint (chmod (path, mode), ==, 0);
}

static void
make_dir (const char *dir,
          const char *name,
          guint mode)
{
  g_autofree char *path = nlx_test_path (dir, name);

  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
  g_assert_cmpint (chmod (path, mode), ==, 0);
}

static void
make_symlink (const char *dir,
              const char *name,
              const char *target)
{
  g_autofree char *path = nlx_test_path (dir, name);

  g_assert_cmpint (symlink (target, path), ==, 0);
}

static void
set_owner (const char *dir,
           const char *name,
           uid_t uid,
           gid_t gid)
{
  g_autofree char *path = nlx_test_path (dir, name);

  g_assert_cmpint (lchown (path, uid, gid), ==, 0);
}

/* Gives every entry below @dir (and @dir) the same mtime, so that trees
 * compare whole; directories last, as making entries changes them. */
static void
set_times (const char *dir,
           const char *rel)
{
  g_autofree char *path = nlx_test_path (dir, rel);
  struct timespec times[2] = { { MTIME, 0 }, { MTIME, 0 } };
  g_autoptr(GDir) gdir = g_dir_open (path, 0, NULL);
  const char *name;

  while (gdir != NULL && (name = g_dir_read_name (gdir)) != NULL)
    {
      g_autofree char *child = g_build_filename (rel, name, NULL);

      set_times (dir, child);
    }
  g_assert_cmpint (utimensat (AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW),
                   ==, 0);
}

static void
describe_tree (GPtrArray *lines,
               const char *root,
               const char *rel)
{
  g_autofree char *path = nlx_test_path (root, rel);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child_rel = g_build_filename (rel, name, NULL);
      g_autofree char *child = nlx_test_path (root, child_rel);
      g_autofree char *what = NULL;
      struct stat st;

      g_assert_cmpint (lstat (child, &st), ==, 0);
      if (S_ISSOCK (st.st_mode))
        continue;
      if (S_ISREG (st.st_mode))
        {
          g_autofree char *data = NULL;
          gsize len;

          g_assert_true (g_file_get_contents (child, &data, &len, NULL));
          what = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                              (guchar *) data, len);
        }
      else if (S_ISLNK (st.st_mode))
        what = g_file_read_link (child, NULL);
      else if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
        what = g_strdup_printf ("%u,%u", major (st.st_rdev),
                                minor (st.st_rdev));
      /* Only root can give files back their owners. */
      if (geteuid () != 0)
        st.st_uid = st.st_gid = 0;
      g_ptr_array_add (lines,
                       g_strdup_printf ("%s %o %u:%u %" G_GINT64_FORMAT
                                        " %s", child_rel, st.st_mode,
                                        st.st_uid, st.st_gid,
                                        (gint64) st.st_mtime,
                                        what ? what : "-"));
      if (S_ISDIR (st.st_mode))
        describe_tree (lines, root, child_rel);
    }
}

/* Everything below @dir but sockets, sorted, one entry a line: path,
 * mode, owner, mtime, and content (a checksum, a link's target or a
 * device's numbers). */
static char *
tree_description (const char *dir)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  describe_tree (lines, dir, ".");
  g_ptr_array_sort (lines, nlx_test_compare_strings);
  g_ptr_array_add (lines, NULL);
  return g_strjoinv ("\n", (char **) lines->pdata);
}

typedef struct {
  char *name;
  mode_t mode;
  guint uid;
  guint gid;
  gint64 size;
  char *symlink;
  char *hardlink;
} Member;

static void
member_free (Member *m)
{
  g_free (m->name);
  g_free (m->symlink);
  g_free (m->hardlink);
  g_free (m);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Member, member_free)

/* The members of tarball @path, in order, read with libarchive; each
 * member's parent must come before it. */
static GPtrArray *
read_members (const char *path)
{
  GPtrArray *members = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                                       member_free);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  struct archive *a = archive_read_new ();
  struct archive_entry *entry;
  int rc;

  archive_read_support_format_tar (a);
  g_assert_cmpint (archive_read_open_filename (a, path, 10240), ==,
                   ARCHIVE_OK);
  while ((rc = archive_read_next_header (a, &entry)) == ARCHIVE_OK)
    {
      g_autoptr(Member) m = g_new0 (Member, 1);
      g_autofree char *parent = NULL;

      m->name = g_strdup (archive_entry_pathname (entry));
      /* Relative, and not the top itself. */
      g_assert_false (g_str_has_prefix (m->name, "/"));
      g_assert_false (g_str_has_prefix (m->name, "./"));
      g_assert_cmpstr (m->name, !=, ".");
      if (g_str_has_suffix (m->name, "/"))
        m->name[strlen (m->name) - 1] = '\0';
      g_assert_cmpstr (m->name, !=, "");
      parent = g_path_get_dirname (m->name);
      if (!g_str_equal (parent, ".") && !g_hash_table_contains (seen, parent))
        g_error ("%s comes before its directory", m->name);
      m->mode = archive_entry_mode (entry);
      m->uid = (guint) archive_entry_uid (entry);
      m->gid = (guint) archive_entry_gid (entry);
      m->size = archive_entry_size (entry);
      m->symlink = g_strdup (archive_entry_symlink (entry));
      m->hardlink = g_strdup (archive_entry_hardlink (entry));
      /* No names: the host's would be wrong for the instance. */
      g_assert_cmpstr (archive_entry_uname (entry) ?: "", ==, "");
      g_assert_cmpstr (archive_entry_gname (entry) ?: "", ==, "");
      g_hash_table_add (seen, m->name);
      g_ptr_array_add (members, g_steal_pointer (&m));
    }
  g_assert_cmpint (rc, ==, ARCHIVE_EOF);
  if (members->len > 0)
    g_assert_cmpint (archive_format (a) & ARCHIVE_FORMAT_BASE_MASK, ==,
                     ARCHIVE_FORMAT_TAR);
  archive_read_free (a);
  return members;
}

static const Member *
find_member (GPtrArray *members,
             const char *name)
{
  for (guint i = 0; i < members->len; i++)
    {
      const Member *m = members->pdata[i];

      if (g_str_equal (m->name, name))
        return m;
    }
  return NULL;
}

static const Member *
get_member (GPtrArray *members,
            const char *name)
{
  const Member *m = find_member (members, name);

  if (m == NULL)
    g_error ("the tarball has no member “%s”", name);
  return m;
}

static void
write_tree_ok (Fixture *f,
               GArray *uid_map,
               GArray *gid_map)
{
  g_autoptr(GError) error = NULL;
  guint fds = nlx_test_count_fds ();

  g_assert_true (nlx_archive_write_tree (f->src, f->tar, uid_map, gid_map,
                                         &error));
  g_assert_no_error (error);
  g_assert_cmpuint (nlx_test_count_fds (), ==, fds);
}

/* Writing fails with a message matching @pattern; neither the tarball
 * nor a temporary file is left beside it. */
static void
assert_write_fails (Fixture *f G_GNUC_UNUSED,
                    const char *dir,
                    const char *tar,
                    const char *pattern)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *parent = g_path_get_dirname (tar);
  g_autofree char *base = g_path_get_basename (tar);
  g_autofree char *hidden = g_strdup_printf (".%s.", base);
  g_autoptr(GDir) listing = NULL;
  const char *name;
  guint fds = nlx_test_count_fds ();

  g_assert_false (nlx_archive_write_tree (dir, tar, NULL, NULL, &error));
  g_assert_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED);
  g_assert_cmpuint (nlx_test_count_fds (), ==, fds);
  if (!g_pattern_match_simple (pattern, error->message))
    g_error ("“%s” does not match “%s”", error->message, pattern);
  g_test_message ("failed as expected: %s", error->message);
  listing = g_dir_open (parent, 0, NULL);
  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    if (g_str_has_prefix (name, hidden))
      g_error ("%s/%s was left behind", parent, name);
}

/* A tree with one of everything the tarball keeps, and a socket, which
 * it does not. */
static void
make_source_tree (Fixture *f)
{
  g_autofree char *big = g_malloc (BIG_SIZE);
  g_autofree char *hosts = nlx_test_path (f->src, "etc/hosts");
  g_autofree char *hosts_link = nlx_test_path (f->src, "etc/hosts.again");
  g_autofree char *fifo = nlx_test_path (f->src, "run/initctl");
  g_autofree char *sock_path = nlx_test_path (f->src, "run/socket");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int sock;

  for (gsize i = 0; i < BIG_SIZE; i++)
    big[i] = (char) (i * 7 + i / 251);
  make_file (f->src, "etc/hosts", "127.0.0.1 localhost\n", -1, 0644);
  make_file (f->src, "empty", "", 0, 0600);
  make_file (f->src, "big", big, BIG_SIZE, 0644);
  make_file (f->src, "bin/su", "#!setuid\n", -1, 04755);
  make_file (f->src, "bin/wall", "#!setgid\n", -1, 02711);
  make_file (f->src, "a/b/c/d/deep", "deep\n", -1, 0400);
  make_file (f->src, "caf\xc3\xa9", "UTF-8 name\n", -1, 0644);
  make_file (f->src, "latin\xe9", "not UTF-8\n", -1, 0644);
  make_dir (f->src, "empty-dir", 0700);
  make_dir (f->src, "tmp", 01777);
  make_symlink (f->src, "etc/passwd", "/etc/passwd");
  make_symlink (f->src, "a/up", "../../x");
  make_symlink (f->src, "a/b/dangling", "nowhere");
  g_assert_cmpint (link (hosts, hosts_link), ==, 0);
  make_dir (f->src, "run", 0755);
  g_assert_cmpint (mkfifo (fifo, 0620), ==, 0);

  /* Sockets are not archived: they are nothing without their server. */
  g_assert_cmpuint (strlen (sock_path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, sock_path);
  sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (sock, >=, 0);
  g_assert_cmpint (bind (sock, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  close (sock);

  if (geteuid () == 0)
    {
      g_autofree char *null = nlx_test_path (f->src, "dev/null");

      make_dir (f->src, "dev", 0755);
      g_assert_cmpint (mknod (null, S_IFCHR | 0666, makedev (1, 3)), ==, 0);
    }
  set_times (f->src, ".");
}

static void
extract_ok (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir (f->out, 0755), ==, 0);
  g_assert_true (nlx_archive_extract (f->tar, f->out, &error));
  g_assert_no_error (error);
}

/* ---- fixture ----------------------------------------------------------- */

static void
fixture_setup (Fixture *f,
               gconstpointer data G_GNUC_UNUSED)
{
  f->dir = nlx_test_case_dir ("nlxtest-archive-XXXXXX");
  f->src = nlx_test_path (f->dir, "src");
  f->out = nlx_test_path (f->dir, "out");
  f->tar = nlx_test_path (f->dir, "snapshot.tar");
  f->skip = nlx_test_path (f->dir, "skip");
  if (g_test_subprocess ())
    g_assert_cmpint (g_mkdir (f->src, 0755), ==, 0);
}

static void
fixture_teardown (Fixture *f,
                  gconstpointer data G_GNUC_UNUSED)
{
  nlx_test_case_dir_remove (f->dir);
  g_free (f->dir);
  g_free (f->src);
  g_free (f->out);
  g_free (f->tar);
  g_free (f->skip);
}

static void
run_case (Fixture *f,
          gconstpointer data)
{
  CaseFunc body = (CaseFunc) data;
  g_autofree char *reason = NULL;

  if (NLX_TEST_RUN_BODY (body, f, 60) &&
      g_file_get_contents (f->skip, &reason, NULL, NULL))
    g_test_skip (reason);
}

/* ---- cases ------------------------------------------------------------- */

/* What goes in comes out: contents, modes, owners, times, link targets
 * (never followed, even pointing outside), hard links as one file. */
static void
case_round_trip (Fixture *f)
{
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *hosts = NULL;
  g_autofree char *hosts_link = NULL;
  g_autoptr(GPtrArray) members = NULL;
  const Member *m;
  struct stat st, st2;

  make_source_tree (f);
  before = tree_description (f->src);
  write_tree_ok (f, NULL, NULL);
  g_assert_cmpint (stat (f->tar, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);

  members = read_members (f->tar);
  g_assert_null (find_member (members, "run/socket"));
  m = get_member (members, "etc/passwd");
  g_assert_true (S_ISLNK (m->mode));
  g_assert_cmpstr (m->symlink, ==, "/etc/passwd");
  m = get_member (members, "a/up");
  g_assert_cmpstr (m->symlink, ==, "../../x");
  /* The first path of the file (in name order) holds its data. */
  m = get_member (members, "etc/hosts");
  g_assert_null (m->hardlink);
  g_assert_cmpint (m->size, ==, strlen ("127.0.0.1 localhost\n"));
  m = get_member (members, "etc/hosts.again");
  g_assert_cmpstr (m->hardlink, ==, "etc/hosts");
  g_assert_cmpint (m->size, ==, 0);
  m = get_member (members, "bin/su");
  g_assert_cmpuint (m->mode, ==, S_IFREG | 04755);
  m = get_member (members, "big");
  g_assert_cmpint (m->size, ==, BIG_SIZE);
  m = get_member (members, "run/initctl");
  g_assert_true (S_ISFIFO (m->mode));
  m = get_member (members, "empty-dir");
  g_assert_cmpuint (m->mode, ==, S_IFDIR | 0700);

  extract_ok (f);
  after = tree_description (f->out);
  g_assert_cmpstr (after, ==, before);
  g_test_message ("%s", after);

  hosts = nlx_test_path (f->out, "etc/hosts");
  hosts_link = nlx_test_path (f->out, "etc/hosts.again");
  g_assert_cmpint (lstat (hosts, &st), ==, 0);
  g_assert_cmpint (lstat (hosts_link, &st2), ==, 0);
  g_assert_cmpuint (st.st_ino, ==, st2.st_ino);
  g_assert_cmpuint (st.st_nlink, ==, 2);
}

/* An empty tree is an empty tarball, which extracts to nothing. */
static void
case_empty (Fixture *f)
{
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GDir) dir = NULL;

  write_tree_ok (f, NULL, NULL);
  members = read_members (f->tar);
  g_assert_cmpuint (members->len, ==, 0);
  extract_ok (f);
  dir = g_dir_open (f->out, 0, NULL);
  g_assert_nonnull (dir);
  g_assert_null (g_dir_read_name (dir));
}

/* Host ids become the instance's through the maps; ids outside them
 * become the overflow id. */
static void
case_idmap (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) uid_map = nlx_idmap_parse ("0:100000:65536", "k", &error);
  g_autoptr(GArray) gid_map = nlx_idmap_parse ("0:200000:1000,1000:1000:1,"
                                               "1001:201001:64535", "k",
                                               &error);
  g_autoptr(GPtrArray) members = NULL;
  g_autofree char *home = NULL;
  const Member *m;
  struct stat st;

  g_assert_no_error (error);
  if (geteuid () != 0)
    {
      case_skip (f, "changing owners needs root");
      return;
    }
  make_file (f->src, "etc/shadow", "root:*:\n", -1, 0640);
  make_file (f->src, "home/user/notes", "five\n", -1, 0600);
  make_file (f->src, "lost", "unmapped\n", -1, 0644);
  make_file (f->src, "host-root", "unmapped\n", -1, 0644);
  make_symlink (f->src, "home/user/link", "notes");
  set_owner (f->src, "etc", 100000, 200000);
  set_owner (f->src, "etc/shadow", 100000, 200042);
  set_owner (f->src, "home", 100000, 200000);
  set_owner (f->src, "home/user", 100005, 1000);
  set_owner (f->src, "home/user/notes", 100005, 201005);
  set_owner (f->src, "home/user/link", 100005, 1000);
  set_owner (f->src, "lost", 4242, 201000);
  set_owner (f->src, "host-root", 0, 0);

  write_tree_ok (f, uid_map, gid_map);
  members = read_members (f->tar);
  m = get_member (members, "etc");
  g_assert_cmpuint (m->uid, ==, 0);
  g_assert_cmpuint (m->gid, ==, 0);
  m = get_member (members, "etc/shadow");
  g_assert_cmpuint (m->uid, ==, 0);
  g_assert_cmpuint (m->gid, ==, 42);
  m = get_member (members, "home/user");
  g_assert_cmpuint (m->uid, ==, 5);
  g_assert_cmpuint (m->gid, ==, 1000);
  m = get_member (members, "home/user/notes");
  g_assert_cmpuint (m->uid, ==, 5);
  g_assert_cmpuint (m->gid, ==, 1005);
  m = get_member (members, "home/user/link");
  g_assert_cmpuint (m->uid, ==, 5);
  g_assert_cmpuint (m->gid, ==, 1000);
  m = get_member (members, "lost");
  g_assert_cmpuint (m->uid, ==, NLX_IDMAP_OVERFLOW_ID);
  g_assert_cmpuint (m->gid, ==, NLX_IDMAP_OVERFLOW_ID);
  m = get_member (members, "host-root");
  g_assert_cmpuint (m->uid, ==, NLX_IDMAP_OVERFLOW_ID);
  g_assert_cmpuint (m->gid, ==, NLX_IDMAP_OVERFLOW_ID);

  /* Extracted by a privileged host, the files have the instance's ids. */
  extract_ok (f);
  home = nlx_test_path (f->out, "home/user/notes");
  g_assert_cmpint (lstat (home, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, 5);
  g_assert_cmpuint (st.st_gid, ==, 1005);

  /* Without maps, the host's ids are kept. */
  g_clear_pointer (&members, g_ptr_array_unref);
  write_tree_ok (f, NULL, NULL);
  members = read_members (f->tar);
  m = get_member (members, "home/user/notes");
  g_assert_cmpuint (m->uid, ==, 100005);
  g_assert_cmpuint (m->gid, ==, 201005);
  m = get_member (members, "lost");
  g_assert_cmpuint (m->uid, ==, 4242);
}

/* Like tar --one-file-system: a mount point is a member, what is mounted
 * there is not.  The mount is made in a mount namespace of the case's
 * own, so it goes away with the case. */
static void
case_one_file_system (Fixture *f)
{
  g_autofree char *mnt = nlx_test_path (f->src, "proc");
  g_autoptr(GPtrArray) members = NULL;
  const Member *m;

  if (geteuid () != 0)
    {
      case_skip (f, "mounting needs root");
      return;
    }
  if (unshare (CLONE_NEWNS) != 0 ||
      /* The kernel ignores the source and type here; valgrind does not. */
      mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
    {
      g_autofree char *reason = g_strdup_printf ("no mount namespace: %s",
                                                 g_strerror (errno));

      case_skip (f, reason);
      return;
    }
  make_file (f->src, "etc/hostname", "box\n", -1, 0644);
  make_dir (f->src, "proc", 0555);
  g_assert_cmpint (mount ("nlxtest", mnt, "tmpfs", 0, "mode=0711"), ==, 0);
  make_file (mnt, "secret", "not in the tarball\n", -1, 0600);
  make_dir (mnt, "sub", 0755);

  write_tree_ok (f, NULL, NULL);
  members = read_members (f->tar);
  get_member (members, "etc/hostname");
  m = get_member (members, "proc");
  g_assert_cmpuint (m->mode, ==, S_IFDIR | 0711);
  g_assert_null (find_member (members, "proc/secret"));
  g_assert_null (find_member (members, "proc/sub"));
  g_assert_cmpint (umount (mnt), ==, 0);
}

/* The walk never leaves the tree: the top must not be a symbolic link,
 * and links inside are members, not ways out. */
static void
case_symlinks (Fixture *f)
{
  g_autofree char *outside = nlx_test_path (f->dir, "outside");
  g_autofree char *link = nlx_test_path (f->dir, "link");
  g_autoptr(GPtrArray) members = NULL;

  make_file (outside, "secret", "outside the tree\n", -1, 0600);
  make_symlink (f->src, "escape", outside);
  make_symlink (f->src, "escape-rel", "../outside");
  make_symlink (f->src, "loop", "loop");
  write_tree_ok (f, NULL, NULL);
  members = read_members (f->tar);
  g_assert_cmpuint (members->len, ==, 3);
  g_assert_cmpstr (get_member (members, "escape")->symlink, ==, outside);
  g_assert_null (find_member (members, "escape/secret"));
  g_assert_null (find_member (members, "escape-rel/secret"));
  g_assert_cmpstr (get_member (members, "loop")->symlink, ==, "loop");

  g_assert_cmpint (symlink (f->src, link), ==, 0);
  assert_write_fails (f, link, f->tar,
                      "Cannot archive */link: *not a symbolic link");
}

/* A tarball written inside the tree does not hold itself. */
static void
case_inside (Fixture *f)
{
  g_autofree char *tar = nlx_test_path (f->src, "snapshot.tar");
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GError) error = NULL;

  make_file (f->src, "file", "data\n", -1, 0644);
  g_assert_true (nlx_archive_write_tree (f->src, tar, NULL, NULL, &error));
  g_assert_no_error (error);
  members = read_members (tar);
  g_assert_cmpuint (members->len, ==, 1);
  get_member (members, "file");
}

/* An existing tarball is replaced whole. */
static void
case_replace (Fixture *f)
{
  g_autoptr(GPtrArray) members = NULL;

  make_file (f->src, "old", "old\n", -1, 0644);
  write_tree_ok (f, NULL, NULL);
  g_assert_true (nlx_file_remove_tree (f->src, NULL));
  g_assert_cmpint (g_mkdir (f->src, 0755), ==, 0);
  make_file (f->src, "new", "new\n", -1, 0644);
  write_tree_ok (f, NULL, NULL);
  members = read_members (f->tar);
  g_assert_cmpuint (members->len, ==, 1);
  get_member (members, "new");
}

static void
case_missing_source (Fixture *f)
{
  g_autofree char *missing = nlx_test_path (f->dir, "missing");
  g_autofree char *file = nlx_test_path (f->dir, "file");

  assert_write_fails (f, missing, f->tar,
                      "Cannot archive */missing: No such file or directory; "
                      "it must be an existing directory*");
  g_assert_false (g_file_test (f->tar, G_FILE_TEST_EXISTS));

  make_file (f->dir, "file", "not a directory\n", -1, 0644);
  assert_write_fails (f, file, f->tar,
                      "Cannot archive */file: Not a directory*");
  g_assert_false (g_file_test (f->tar, G_FILE_TEST_EXISTS));
}

/* The tarball cannot be made, put in place or written in full: nothing
 * is left, and what was at its path stays. */
static void
case_unwritable (Fixture *f)
{
  g_autofree char *no_dir = g_build_filename (f->dir, "no", "snapshot.tar",
                                              NULL);
  g_autofree char *a_dir = nlx_test_path (f->dir, "a-dir");
  g_autofree char *kept = nlx_test_path (a_dir, "kept");
  struct rlimit limit = { 256 * 1024, 256 * 1024 };
  g_autofree char *big = g_malloc0 (BIG_SIZE);

  make_file (f->src, "file", "data\n", -1, 0644);
  assert_write_fails (f, f->src, no_dir,
                      "Cannot write tarball */no/snapshot.tar: No such file "
                      "or directory; check that its directory exists*");

  make_file (a_dir, "kept", "kept\n", -1, 0644);
  assert_write_fails (f, f->src, a_dir,
                      "Cannot put tarball */a-dir in place: *");
  g_assert_true (g_file_test (kept, G_FILE_TEST_IS_REGULAR));

  /* A full disk, as a file size limit: writes fail with EFBIG. */
  make_file (f->src, "big", big, BIG_SIZE, 0644);
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  assert_write_fails (f, f->src, f->tar,
                      "Cannot write tarball */snapshot.tar: *File too large; "
                      "check that its directory exists, is writable and has "
                      "free space");
  g_assert_false (g_file_test (f->tar, G_FILE_TEST_EXISTS));
}

/* A snapshot for new machines: the machine-id is kept empty (mode and
 * owner as they were), the SSH host keys and a copied dbus machine-id
 * are left out, everything else is as without the flag, which keeps
 * them all (the control). */
static void
case_reset_identity (Fixture *f)
{
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GPtrArray) plain = NULL;
  g_autoptr(GError) error = NULL;
  const Member *id;

  make_file (f->src, "etc/machine-id", "0123456789abcdef0123456789abcdef\n",
             -1, 0444);
  make_file (f->src, "var/lib/dbus/machine-id",
             "0123456789abcdef0123456789abcdef\n", -1, 0644);
  make_file (f->src, "etc/ssh/ssh_host_rsa_key", "secret\n", -1, 0600);
  make_file (f->src, "etc/ssh/ssh_host_rsa_key.pub", "public\n", -1, 0644);
  make_file (f->src, "etc/ssh/ssh_host_ed25519_key-cert.pub", "cert\n", -1,
             0644);
  make_symlink (f->src, "etc/ssh/ssh_host_ecdsa_key", "/elsewhere");
  make_file (f->src, "etc/ssh/sshd_config", "Port 22\n", -1, 0644);
  make_file (f->src, "etc/ssh/sshd_config.d/ssh_host_note", "kept\n", -1,
             0644);
  make_file (f->src, "root/etc/machine-id", "not the machine's\n", -1, 0644);
  make_file (f->src, "root/.ssh/ssh_host_key", "a user's file\n", -1, 0600);

  write_tree_ok (f, NULL, NULL);
  plain = read_members (f->tar);
  g_assert_cmpint (get_member (plain, "etc/machine-id")->size, ==, 33);
  get_member (plain, "etc/ssh/ssh_host_rsa_key");
  get_member (plain, "var/lib/dbus/machine-id");

  g_assert_true (nlx_archive_write_tree_full (f->src, f->tar, NULL, NULL,
                                              NLX_ARCHIVE_WRITE_RESET_IDENTITY,
                                              &error));
  g_assert_no_error (error);
  members = read_members (f->tar);
  id = get_member (members, "etc/machine-id");
  g_assert_cmpint (id->size, ==, 0);
  g_assert_cmpuint (id->mode, ==, S_IFREG | 0444);
  g_assert_null (find_member (members, "var/lib/dbus/machine-id"));
  g_assert_null (find_member (members, "etc/ssh/ssh_host_rsa_key"));
  g_assert_null (find_member (members, "etc/ssh/ssh_host_rsa_key.pub"));
  g_assert_null (find_member (members, "etc/ssh/ssh_host_ed25519_key-cert.pub"));
  g_assert_null (find_member (members, "etc/ssh/ssh_host_ecdsa_key"));
  get_member (members, "etc/ssh");
  g_assert_cmpint (get_member (members, "etc/ssh/sshd_config")->size, ==, 8);
  get_member (members, "etc/ssh/sshd_config.d/ssh_host_note");
  g_assert_cmpint (get_member (members, "root/etc/machine-id")->size, >, 0);
  get_member (members, "root/.ssh/ssh_host_key");
  g_assert_cmpuint (members->len, ==, plain->len - 5);
  /* The tree itself is untouched. */
  g_assert_true (g_file_test (f->src, G_FILE_TEST_IS_DIR));
  {
    g_autofree char *key = nlx_test_path (f->src, "etc/ssh/ssh_host_rsa_key");
    g_autofree char *mid = nlx_test_path (f->src, "etc/machine-id");
    g_autofree char *text = NULL;

    g_assert_true (g_file_test (key, G_FILE_TEST_IS_REGULAR));
    g_assert_true (g_file_get_contents (mid, &text, NULL, NULL));
    g_assert_cmpuint (strlen (text), ==, 33);
  }
}

int
main (int argc,
      char **argv)
{
  static const struct {
    const char *path;
    CaseFunc body;
  } cases[] = {
    { "/nlx/archive/write/round-trip", case_round_trip },
    { "/nlx/archive/write/empty", case_empty },
    { "/nlx/archive/write/idmap", case_idmap },
    { "/nlx/archive/write/one-file-system", case_one_file_system },
    { "/nlx/archive/write/symlinks", case_symlinks },
    { "/nlx/archive/write/inside", case_inside },
    { "/nlx/archive/write/replace", case_replace },
    { "/nlx/archive/write/missing-source", case_missing_source },
    { "/nlx/archive/write/unwritable", case_unwritable },
    { "/nlx/archive/write/reset-identity", case_reset_identity },
  };

  /* The daemon runs in the host's locale, most often a UTF-8 one, where
   * a name that is not UTF-8 ("latin\xe9") is the hard case. */
  setlocale (LC_ALL, "C.UTF-8");
  g_test_init (&argc, &argv, NULL);
  g_test_summary ("Writing a directory tree as a tarball with owners as an "
                  "instance sees them, and extracting it again.");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add (cases[i].path, Fixture, cases[i].body, fixture_setup,
                run_case, fixture_teardown);
  return g_test_run ();
}
