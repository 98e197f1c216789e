/* nlx-image-import.c: root tarballs and disk images into the image store
 *
 * What an image is comes from its content, never from its file name.  A
 * root tarball (plain, gzip, xz or zstd) is extracted with libarchive's
 * secure flags (nlx-archive.c).  A raw or qcow2 disk image is read only by
 * libguestfs's appliance (nlx-guestfs.c): it finds the Linux root by
 * inspection, mounts it and the other filesystems inspection reports
 * read-only inside its own VM, and streams the tree out as a tar, which
 * is then extracted like any root tarball.  The host's kernel never mounts
 * an untrusted disk image.
 *
 * An import finds the format, checksums the file, extracts it in a work
 * directory DIR/.import-XXXXXX it holds a flock(2) on, and commits it
 * under the store's lock: the record first, then the tree renamed into
 * place (nlx-image-store.c says why in that order). */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/nlx-autoptr.h"
#include "common/nlx-error.h"
#include "common/nlx-file.h"
#include "common/nlx-json.h"
#include "host/nlx-archive.h"
#include "host/nlx-blkid.h"
#include "host/nlx-guestfs.h"
#include "storage/nlx-image-store-private.h"
#include "storage/nlx-image-store.h"

/* Long enough for a path such as os_init_path. */
#define NLX_IMAGE_PROPERTY_MAX 4096
#define READ_CHUNK (1024 * 1024)
/* Enough of a file's start to tell a qcow2 header or a compressor. */
#define HEAD_SIZE 512

#define QCOW2_MAGIC "QFI\xfb"
/* qcow2 version 3 incompatible feature: the data lives in another file. */
#define QCOW2_INCOMPAT_DATA_FILE (G_GUINT64_CONSTANT (1) << 2)

/* ---- import: the source file ---------------------------------------------- */

typedef NlxImageFileStamp FileStamp;

void
nlx_image_file_stamp_from_stat (NlxImageFileStamp *stamp,
                                const struct stat *st)
{
  stamp->dev = st->st_dev;
  stamp->ino = st->st_ino;
  stamp->size = st->st_size;
  stamp->mtime = st->st_mtim;
  stamp->ctime = st->st_ctim;
}

gboolean
nlx_image_file_stamp_equal (const NlxImageFileStamp *a,
                            const NlxImageFileStamp *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime.tv_sec == b->mtime.tv_sec &&
         a->mtime.tv_nsec == b->mtime.tv_nsec &&
         a->ctime.tv_sec == b->ctime.tv_sec &&
         a->ctime.tv_nsec == b->ctime.tv_nsec;
}

#define stamp_from_stat nlx_image_file_stamp_from_stat
#define stamps_equal nlx_image_file_stamp_equal

int
nlx_image_store_open_source (const char *file,
             FileStamp *stamp,
             GError **error)
{
  struct stat st;
  int fd;

  /* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
  fd = open (file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR,
                   saved_errno == ENOENT || saved_errno == EACCES ||
                   saved_errno == ENOTDIR
                     ? NLX_DRIVER_ERROR_INVALID_ARGUMENT
                     : NLX_DRIVER_ERROR_FAILED,
                   _("Cannot open image file %s: %s"), file,
                   g_strerror (saved_errno));
      return -1;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import %s: it is not a regular file; give a root "
                     "tarball or a disk image file"), file);
      return -1;
    }
  stamp_from_stat (stamp, &st);
  return fd;
}

static gssize
read_at (int fd,
         void *buf,
         gsize len,
         goffset offset)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n = pread (fd, (char *) buf + done, len - done, offset + done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      done += n;
    }
  return done;
}

/* The SHA-256 of everything @fd holds, in hexadecimal. */
char *
nlx_image_store_checksum_file (int fd,
               const char *file,
               GError **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buf = g_malloc (READ_CHUNK);
  goffset offset = 0;
  gssize n;

  while ((n = read_at (fd, buf, READ_CHUNK, offset)) > 0)
    {
      g_checksum_update (checksum, buf, n);
      offset += n;
    }
  if (n < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read image file %s: %s"), file,
                   g_strerror (saved_errno));
      return NULL;
    }
  return g_strdup (g_checksum_get_string (checksum));
}

/* ---- import: what the file is --------------------------------------------- */

static guint32
be32 (const guchar *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
         ((guint32) p[2] << 8) | (guint32) p[3];
}

static guint64
be64 (const guchar *p)
{
  return ((guint64) be32 (p) << 32) | be32 (p + 4);
}

/* qemu would open whatever file a qcow2 image names as its backing or
 * data file: a host file could end up in the image.  Only self-contained,
 * unencrypted images are taken. */
static gboolean
check_qcow2 (const guchar *head,
             gsize len,
             const char *file,
             GError **error)
{
  guint32 version = len >= 8 ? be32 (head + 4) : 0;

  if (len < 72 || (version != 2 && version != 3) ||
      (version == 3 && len < 104))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import %s: it starts like a qcow2 image but its "
                     "header is truncated or of an unknown version; check it "
                     "with qemu-img check"), file);
      return FALSE;
    }
  if (be64 (head + 8) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import qcow2 image %s: it has a backing file; "
                     "make a self-contained copy with qemu-img convert -O "
                     "qcow2 and import that"), file);
      return FALSE;
    }
  if (version == 3 && (be64 (head + 72) & QCOW2_INCOMPAT_DATA_FILE))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import qcow2 image %s: its data lives in an "
                     "external data file; make a self-contained copy with "
                     "qemu-img convert -O qcow2 and import that"), file);
      return FALSE;
    }
  if (be32 (head + 32) != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import qcow2 image %s: it is encrypted; decrypt "
                     "it with qemu-img convert and import the result"), file);
      return FALSE;
    }
  return TRUE;
}

/* The compressor whose magic @head starts with, if nova-lxc reads it. */
static const char *
compressor_name (const guchar *head,
                 gsize len)
{
  if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
    return "gzip";
  if (len >= 6 && memcmp (head, "\xfd" "7zXZ\0", 6) == 0)
    return "xz";
  if (len >= 4 && memcmp (head, "\x28\xb5\x2f\xfd", 4) == 0)
    return "zstd";
  return NULL;
}

typedef enum {
  TAR_NO,
  TAR_YES,
  /* A tar archive without a single member. */
  TAR_EMPTY,
} TarProbe;

/* Whether @fd holds a tar archive with at least one member libarchive
 * can read, plain or compressed with one of gzip, xz and zstd.  Disk
 * images often start with a block of zeros, which libarchive reads as
 * the end of an empty archive: that is not a tarball. */
static TarProbe
probe_tarball (int fd,
               NlxStoredImageFormat *format,
               char **problem)
{
  g_autoptr(NlxArchive) a = archive_read_new ();
  struct archive_entry *entry;
  int rc;

  archive_read_support_filter_gzip (a);
  archive_read_support_filter_xz (a);
  archive_read_support_filter_zstd (a);
  archive_read_support_format_tar (a);
  if (lseek (fd, 0, SEEK_SET) != 0 ||
      archive_read_open_fd (a, fd, 64 * 1024) != ARCHIVE_OK)
    {
      *problem = g_strdup (archive_error_string (a));
      return TAR_NO;
    }
  rc = archive_read_next_header (a, &entry);
  if (rc == ARCHIVE_EOF)
    return TAR_EMPTY;
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
    {
      *problem = g_strdup (archive_error_string (a));
      return TAR_NO;
    }
  /* Filters are numbered from the format's side; the last reads the
   * file itself. */
  if (archive_filter_count (a) > 2)
    {
      *problem = g_strdup (_("it is compressed more than once"));
      return TAR_NO;
    }
  switch (archive_filter_code (a, 0))
    {
    case ARCHIVE_FILTER_NONE:
      *format = NLX_STORED_IMAGE_FORMAT_TAR;
      break;
    case ARCHIVE_FILTER_GZIP:
      *format = NLX_STORED_IMAGE_FORMAT_TAR_GZ;
      break;
    case ARCHIVE_FILTER_XZ:
      *format = NLX_STORED_IMAGE_FORMAT_TAR_XZ;
      break;
    case ARCHIVE_FILTER_ZSTD:
      *format = NLX_STORED_IMAGE_FORMAT_TAR_ZST;
      break;
    default:
      *problem = g_strdup (archive_filter_name (a, 0));
      return TAR_NO;
    }
  return TAR_YES;
}

/* Whether libblkid finds a partition table or a filesystem on @fd, by
 * reading signatures: nothing is mounted. */
static gboolean
has_disk_signature (int fd,
                    const char *file,
                    gboolean *found,
                    GError **error)
{
  g_autoptr(GError) local_error = NULL;
  NlxBlkidFound what;

  if (!nlx_blkid_probe (fd, &what, NULL, NULL, &local_error))
    {
      if (g_error_matches (local_error, NLX_BLKID_ERROR, NLX_BLKID_ERROR_OPEN))
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot read image file %s to identify it"), file);
      else
        g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                     _("Cannot read image file %s to identify it (libblkid "
                       "failed)"), file);
      return FALSE;
    }
  /* Several signatures: the appliance's inspection sorts them out. */
  *found = what != NLX_BLKID_FOUND_NOTHING;
  return TRUE;
}

gboolean
nlx_image_store_detect_format (int fd,
               const char *file,
               NlxStoredImageFormat *format,
               GError **error)
{
  guchar head[HEAD_SIZE];
  g_autofree char *problem = NULL;
  const char *compressor;
  gboolean disk = FALSE;
  gssize len = read_at (fd, head, sizeof head, 0);
  TarProbe tar;

  if (len < 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot read image file %s: %s"), file,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (len == 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import %s: the file is empty"), file);
      return FALSE;
    }
  if (len >= 4 && memcmp (head, QCOW2_MAGIC, 4) == 0)
    {
      if (!check_qcow2 (head, len, file, error))
        return FALSE;
      *format = NLX_STORED_IMAGE_FORMAT_QCOW2;
      return TRUE;
    }

  tar = probe_tarball (fd, format, &problem);
  if (tar == TAR_YES)
    return TRUE;
  compressor = compressor_name (head, len);
  if (compressor != NULL)
    {
      if (tar == TAR_EMPTY)
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot import %s: it is an empty tar archive "
                       "(compressed with %s); a root tarball holds a root "
                       "filesystem"), file, compressor);
      else
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Cannot import %s: it is compressed with %s but does "
                       "not hold a tar archive nova-lxc can read (%s); make "
                       "a root tarball with tar and import that"), file,
                     compressor, problem != NULL ? problem : _("unknown"));
      return FALSE;
    }

  if (!has_disk_signature (fd, file, &disk, error))
    return FALSE;
  if (disk)
    {
      *format = NLX_STORED_IMAGE_FORMAT_RAW;
      return TRUE;
    }
  if (tar == TAR_EMPTY)
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                 _("Cannot import %s: it is an empty tar archive, or a disk "
                   "image holding nothing but zeros; give a root tarball or "
                   "a disk image with a Linux root filesystem"), file);
  else
    g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                 _("Cannot import %s: it is neither a root tarball (tar, "
                   "plain or compressed with gzip, xz or zstd) nor a disk "
                   "image (qcow2, or raw with a partition table or a "
                   "filesystem nova-lxc recognises)"), file);
  return FALSE;
}

/* ---- import: disk images, through libguestfs ------------------------------ */

/* Writes the Linux root tree of disk image @file to the tar @tar_path,
 * in the nova-lxc-guestfs helper (nlx-guestfs.c says why). */
static gboolean
copy_out_disk (const char *file,
               NlxStoredImageFormat format,
               const char *tar_path,
               GError **error)
{
  return nlx_guestfs_copy_out (file,
                               nlx_stored_image_format_to_string (format),
                               tar_path, error);
}

/* ---- import: the work directory ------------------------------------------- */

/* DIR/.import-XXXXXX, locked, removed on free unless it was committed. */
typedef struct {
  char *path;
  int fd;
} WorkDir;

static void
work_dir_free (WorkDir *work)
{
  g_autoptr(GError) error = NULL;

  if (work == NULL)
    return;
  if (work->path != NULL && !nlx_file_remove_tree (work->path, &error))
    g_warning (_("Cannot remove an interrupted image import: %s"),
               error->message);
  if (work->fd >= 0)
    close (work->fd);
  g_free (work->path);
  g_free (work);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WorkDir, work_dir_free)

static WorkDir *
work_dir_new (NlxImageStore *store,
              GError **error)
{
  g_autoptr(WorkDir) work = g_new0 (WorkDir, 1);
  struct stat st;
  int saved_errno;

  work->fd = -1;
  /* Another open of the store may take a fresh, unlocked directory for a
   * leftover and remove it before it is locked; then make another. */
  for (guint attempt = 0; attempt < 8; attempt++)
    {
      g_clear_pointer (&work->path, g_free);
      if (work->fd >= 0)
        close (work->fd);
      work->path = g_build_filename (store->dir, IMPORT_PREFIX "XXXXXX", NULL);
      if (g_mkdtemp_full (work->path, 0700) == NULL)
        break;
      work->fd = open (work->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                   O_CLOEXEC);
      if (work->fd < 0 || flock (work->fd, LOCK_EX) != 0 ||
          fstat (work->fd, &st) != 0)
        break;
      if (st.st_nlink > 0)
        return g_steal_pointer (&work);
      errno = EAGAIN;
    }
  saved_errno = errno;
  g_warning (_("Cannot make a directory in the image store %s: %s"),
             store->dir, g_strerror (saved_errno));
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
               _("Cannot make a directory in the image store: %s"),
               g_strerror (saved_errno));
  return NULL;
}

static gboolean
make_dir (const char *path,
          mode_t mode,
          GError **error)
{
  /* chmod(): mkdir() would let the umask take bits away. */
  if (g_mkdir (path, mode) != 0 || g_chmod (path, mode) != 0)
    {
      int saved_errno = errno;

      g_warning (_("Cannot make directory %s: %s"), path,
                 g_strerror (saved_errno));
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make a directory in the image store: %s"),
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  dev_t dev;
  ino_t ino;
} InodeKey;

static guint
inode_hash (gconstpointer key)
{
  const InodeKey *k = key;

  return (guint) (k->ino ^ (k->ino >> 32)) ^ (guint) k->dev;
}

static gboolean
inode_equal (gconstpointer a,
             gconstpointer b)
{
  const InodeKey *ka = a;
  const InodeKey *kb = b;

  return ka->dev == kb->dev && ka->ino == kb->ino;
}

/* The apparent size of the files and symbolic links under @root, a file
 * with several hard links counted once. */
static gboolean
tree_size (const char *root,
           guint64 *size,
           GError **error)
{
  char *paths[] = { (char *) root, NULL };
  g_autoptr(GHashTable) seen = g_hash_table_new_full (inode_hash, inode_equal,
                                                      g_free, NULL);
  FTS *fts = fts_open (paths, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
  FTSENT *entry;
  int saved_errno = fts == NULL ? errno : 0;

  *size = 0;
  while (saved_errno == 0)
    {
      errno = 0;
      entry = fts_read (fts);
      if (entry == NULL)
        {
          /* The end of the walk, or an error. */
          saved_errno = errno;
          break;
        }
      switch (entry->fts_info)
        {
        case FTS_F:
          if (entry->fts_statp->st_nlink > 1)
            {
              InodeKey *key = g_new (InodeKey, 1);

              key->dev = entry->fts_statp->st_dev;
              key->ino = entry->fts_statp->st_ino;
              if (!g_hash_table_add (seen, key))
                break;
            }
          *size += entry->fts_statp->st_size;
          break;
        case FTS_SL:
        case FTS_SLNONE:
          *size += entry->fts_statp->st_size;
          break;
        case FTS_DNR:
        case FTS_ERR:
        case FTS_NS:
          saved_errno = entry->fts_errno;
          break;
        default:
          break;
        }
    }
  if (fts != NULL)
    fts_close (fts);
  if (saved_errno != 0)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot measure the extracted tree %s: %s"), root,
                   g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_properties (GHashTable *properties,
                  GError **error)
{
  GHashTableIter iter;
  gpointer key;
  gpointer value;

  if (properties == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, properties);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!nlx_json_text_is_valid (key, NLX_IMAGE_PROPERTY_MAX) ||
        !nlx_json_text_is_valid (value, NLX_IMAGE_PROPERTY_MAX))
      {
        g_set_error (error, NLX_DRIVER_ERROR,
                     NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                     _("Image properties must have names and values of 1 "
                       "to %d characters of UTF-8 text without control "
                       "characters"), NLX_IMAGE_PROPERTY_MAX);
        return FALSE;
      }
  return TRUE;
}

static void
set_name_taken (GError **error,
                const NlxStoredImage *existing)
{
  g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_EXISTS,
               _("An image named “%s” already exists (id %s); choose another "
                 "name, or delete that image first"), existing->name,
               existing->id);
}

/* Refuses @name if an image of the store has it. */
static gboolean
check_name_free (NlxImageStore *store,
                 const char *name,
                 GError **error)
{
  g_autoptr(NlxStoredImage) existing = NULL;
  g_autoptr(GError) local_error = NULL;

  existing = nlx_image_store_find_by_name (store, name, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (existing != NULL)
    {
      set_name_taken (error, existing);
      return FALSE;
    }
  return TRUE;
}

/* The size of the stored tree of @image->checksum: another image's record
 * of it says, or the tree is measured. */
static gboolean
shared_tree_size (NlxImageStore *store,
                  NlxStoredImage *image,
                  GError **error)
{
  g_autoptr(GPtrArray) images = nlx_image_store_list (store, NULL);
  g_autofree char *rootfs = NULL;

  for (guint i = 0; images != NULL && i < images->len; i++)
    {
      const NlxStoredImage *other = images->pdata[i];

      if (g_str_equal (other->checksum, image->checksum))
        {
          image->tree_size_bytes = other->tree_size_bytes;
          return TRUE;
        }
    }
  rootfs = nlx_image_store_get_rootfs (store, image);
  return tree_size (rootfs, &image->tree_size_bytes, error);
}

typedef enum {
  COMMIT_DONE,
  COMMIT_FAILED,
  COMMIT_NEEDS_TREE, /* the tree it meant to share was deleted meanwhile */
} CommitResult;

/* Records @image with its tree (@record under the store's lock: an
 * imported image's record, or a config image's): the tree the store
 * holds, or else @work's, renamed into place as DIR/<checksum>.  The
 * record is written before a new tree is put in place: a crash between
 * the two leaves a record without a tree, which opening the store removes
 * (nothing could use it), never a tree that only looks unused. */
static CommitResult
commit (NlxImageStore *store,
        WorkDir *work,
        NlxStoredImage *image,
        NlxImageStoreRecordFunc record,
        gpointer data,
        GError **error)
{
  g_autofree char *target = g_build_filename (store->dir, image->checksum,
                                              NULL);
  int lock = nlx_image_store_lock (store, error);
  CommitResult result = COMMIT_DONE;

  if (lock < 0)
    return COMMIT_FAILED;
  if (nlx_image_store_has_tree (store, image->checksum))
    {
      /* Extracted for nothing when another import of the same content
       * came first: @work goes when it is freed. */
      if ((work == NULL && !shared_tree_size (store, image, error)) ||
          !record (store, image, data, FALSE, error))
        result = COMMIT_FAILED;
    }
  else if (work == NULL)
    result = COMMIT_NEEDS_TREE;
  else if (!record (store, image, data, FALSE, error))
    result = COMMIT_FAILED;
  else if (rename (work->path, target) != 0)
    {
      int saved_errno = errno;

      record (store, image, data, TRUE, NULL);
      g_warning (_("Cannot put image tree %s in place as %s: %s"), work->path,
                 target, g_strerror (saved_errno));
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot put image “%s” in place: %s"), image->name,
                   g_strerror (saved_errno));
      result = COMMIT_FAILED;
    }
  else
    {
      g_clear_pointer (&work->path, g_free);
      /* The rename itself must outlive a crash. */
      if (fsync (lock) != 0)
        g_debug ("Cannot sync image store %s: %s", store->dir,
                 g_strerror (errno));
    }
  close (lock);
  return result;
}

/* An imported image's record: its name must still be free.  Undone by
 * removing it. */
static gboolean
record_image (NlxImageStore *store,
              NlxStoredImage *image,
              gpointer data G_GNUC_UNUSED,
              gboolean undo,
              GError **error)
{
  if (undo)
    {
      g_autofree char *path = nlx_image_store_record_path (store, image->id);

      g_unlink (path);
      return TRUE;
    }
  return check_name_free (store, image->name, error) &&
         nlx_image_store_write_record (store, image, error);
}

/* Extracts @file into a new work directory, as it was checksummed. */
static WorkDir *
extract (NlxImageStore *store,
         int fd,
         const FileStamp *stamp,
         const char *file,
         NlxStoredImage *image,
         GError **error)
{
  g_autoptr(WorkDir) work = work_dir_new (store, error);
  g_autofree char *rootfs = NULL;
  FileStamp now;
  struct stat st;

  if (work == NULL)
    return NULL;
  rootfs = g_build_filename (work->path, ROOTFS_DIR, NULL);
  if (!make_dir (rootfs, 0755, error))
    return NULL;

  if (nlx_stored_image_format_is_disk (image->format))
    {
      g_autofree char *tar = g_build_filename (work->path, "image.tar", NULL);
      g_autofree char *absolute = g_canonicalize_filename (file, NULL);
      g_autoptr(GError) local_error = NULL;

      if (!copy_out_disk (absolute, image->format, tar, error))
        return NULL;
      if (!nlx_archive_extract (tar, rootfs, &local_error))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      _("Cannot import disk image %s: "),
                                      file);
          return NULL;
        }
      g_unlink (tar);
    }
  else if (!nlx_archive_extract (file, rootfs, error))
    return NULL;

  /* What was extracted must be what was checksummed. */
  if (fstat (fd, &st) != 0)
    memset (&st, 0, sizeof st);
  stamp_from_stat (&now, &st);
  if (!stamps_equal (stamp, &now) || stat (file, &st) != 0 ||
      st.st_dev != stamp->dev || st.st_ino != stamp->ino)
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Cannot import %s: the file changed while it was being "
                     "imported; import it again once nothing writes to it"),
                   file);
      return NULL;
    }

  if (!tree_size (rootfs, &image->tree_size_bytes, error))
    return NULL;
  /* The tree reaches the disk before the record that vouches for it. */
  if (syncfs (work->fd) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot write image “%s” to disk: %s"), image->name,
                   g_strerror (saved_errno));
      return NULL;
    }
  if (g_chmod (work->path, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_FAILED,
                   _("Cannot make image “%s” readable: %s"), image->name,
                   g_strerror (saved_errno));
      return NULL;
    }
  return g_steal_pointer (&work);
}

static NlxStoredImage *
import_from (NlxImageStore *store,
             int fd,
             const FileStamp *stamp,
             const char *file,
             const char *name,
             GHashTable *properties,
             GError **error)
{
  g_autoptr(NlxStoredImage) image = g_new0 (NlxStoredImage, 1);

  if (!check_name_free (store, name, error) ||
      !nlx_image_store_detect_format (fd, file, &image->format, error))
    return NULL;
  image->checksum = nlx_image_store_checksum_file (fd, file, error);
  if (image->checksum == NULL)
    return NULL;
  image->id = g_uuid_string_random ();
  image->name = g_strdup (name);
  image->size_bytes = stamp->size;
  image->properties = nlx_image_store_new_properties ();
  if (properties != NULL)
    {
      GHashTableIter iter;
      gpointer key;
      gpointer value;

      g_hash_table_iter_init (&iter, properties);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_replace (image->properties, g_strdup (key),
                              g_strdup (value));
    }

  if (!nlx_image_store_put_content (store, fd, stamp, file, image,
                                    record_image, NULL, error))
    return NULL;
  return g_steal_pointer (&image);
}

/**
 * nlx_image_store_put_content:
 * @image: checksum, format and size_bytes set, and what @record needs
 *
 * Puts @file's content into the store's tree of @image->checksum and has
 * @record record it under the store's lock.  Content the store holds is
 * not extracted again: the record shares its tree.  If that tree goes
 * before the commit (its last image deleted meanwhile), it is extracted
 * after all.
 */
gboolean
nlx_image_store_put_content (NlxImageStore *store,
                             int fd,
                             const NlxImageFileStamp *stamp,
                             const char *file,
                             NlxStoredImage *image,
                             NlxImageStoreRecordFunc record,
                             gpointer data,
                             GError **error)
{
  gboolean share = nlx_image_store_has_tree (store, image->checksum);

  for (;;)
    {
      g_autoptr(WorkDir) work = NULL;

      if (!share &&
          (work = extract (store, fd, stamp, file, image, error)) == NULL)
        return FALSE;
      g_clear_pointer (&image->created_at, g_date_time_unref);
      image->created_at = g_date_time_new_now_utc ();
      switch (commit (store, work, image, record, data, error))
        {
        case COMMIT_DONE:
          return TRUE;
        case COMMIT_FAILED:
          return FALSE;
        case COMMIT_NEEDS_TREE:
          share = FALSE;
          break;
        }
    }
}

/**
 * nlx_image_store_import:
 * @store: the store
 * @file: a root tarball (tar, plain or compressed with gzip, xz or zstd)
 *   or a disk image (raw or qcow2) holding a Linux root filesystem; it
 *   must not change while it is imported
 * @name: the new image's name (see nlx_image_name_is_valid())
 * @properties: (nullable) (element-type utf8 utf8): string properties to
 *   record with the image, copied
 * @error: return location for a #NLX_DRIVER_ERROR: INVALID_ARGUMENT for a
 *   bad name, property or file (the message says what is wrong with it),
 *   EXISTS when @name is taken, FAILED when the host cannot do it
 *
 * Imports @file as a new image with an id of its own: its root tree is
 * extracted into the store once, to be shared read-only by the instances
 * that use it, and by every image of the same content (a file the store
 * already holds is not extracted again).  The
 * format comes from the content.  A tarball is extracted with libarchive,
 * refusing members that would land outside the tree (absolute paths,
 * "..", writes through symbolic links); a disk image is read only through
 * libguestfs's appliance, which finds its Linux root by inspection: no
 * disk image is mounted by the host's kernel.  That launch takes seconds
 * (tens of seconds without KVM), so callers do not import from a main
 * loop.  A qcow2 image must be self-contained: no backing or external
 * data file, no encryption.
 *
 * The image appears whole or not at all; on failure nothing is left in
 * the store.
 *
 * Returns: (transfer full): the new image's record, or %NULL
 */
NlxStoredImage *
nlx_image_store_import (NlxImageStore *store,
                        const char *file,
                        const char *name,
                        GHashTable *properties,
                        GError **error)
{
  NlxStoredImage *image;
  FileStamp stamp;
  int fd;

  if (!nlx_image_name_is_valid (name))
    {
      g_set_error (error, NLX_DRIVER_ERROR, NLX_DRIVER_ERROR_INVALID_ARGUMENT,
                   _("Image name “%s” is not valid: use 1 to %d letters, "
                     "digits, '.', '_' and '-', starting with a letter or "
                     "digit (64 hexadecimal digits or a UUID would read as "
                     "an image id)"), name != NULL ? name : "",
                   NLX_IMAGE_NAME_MAX);
      return NULL;
    }
  if (!check_properties (properties, error))
    return NULL;
  fd = nlx_image_store_open_source (file, &stamp, error);
  if (fd < 0)
    return NULL;
  image = import_from (store, fd, &stamp, file, name, properties, error);
  close (fd);
  return image;
}
