/* nlx-archive.h: safe extraction of root filesystem tarballs, and
 * tarballs of directory trees (instance snapshots) */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nlx_archive_extract (const char *archive_path,
                              const char *dest_dir,
                              GError **error);
/**
 * NlxArchiveWriteFlags:
 * @NLX_ARCHIVE_WRITE_NONE: the tree as it is
 * @NLX_ARCHIVE_WRITE_RESET_IDENTITY: leave the machine's identity out,
 *   as virt-sysprep's machine-id and ssh-hostkeys operations do:
 *   etc/machine-id empty, var/lib/dbus/machine-id and etc/ssh's
 *   `*_host_*` files left out
 * @NLX_ARCHIVE_WRITE_XATTRS: members keep their extended attributes
 *   (security.capability, user.*, ACLs), as nlx_archive_extract() puts
 *   them back: what an image's stored tree has, for its download
 */
typedef enum {
  NLX_ARCHIVE_WRITE_NONE = 0,
  NLX_ARCHIVE_WRITE_RESET_IDENTITY = 1 << 0,
  NLX_ARCHIVE_WRITE_XATTRS = 1 << 1,
} NlxArchiveWriteFlags;

gboolean nlx_archive_write_tree_full (const char *dir,
                                      const char *tar_path,
                                      GArray *uid_map,
                                      GArray *gid_map,
                                      NlxArchiveWriteFlags flags,
                                      GError **error);
gboolean nlx_archive_write_tree (const char *dir,
                                 const char *tar_path,
                                 GArray *uid_map,
                                 GArray *gid_map,
                                 GError **error);
gboolean nlx_archive_write_tree_to_socket (const char *dir,
                                           int socket,
                                           NlxArchiveWriteFlags flags,
                                           GError **error);

G_END_DECLS
