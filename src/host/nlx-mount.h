/* nlx-mount.h: read-only loop devices, and mounts made by the host and
 * placed in a container's mount namespace */
#pragma once

#include <glib.h>
#include <sys/stat.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Loop devices carry a name (the kernel's lo_file_name, at most 63
 * bytes) so that what this host made can be found again after a crash. */
#define NLX_LOOP_NAME_MAX 63

/**
 * NlxLoopFlags:
 * @NLX_LOOP_READ_ONLY: the loop driver's read-only flag
 * @NLX_LOOP_DIRECT_IO: direct I/O to the backing store, where it can
 */
typedef enum {
  NLX_LOOP_READ_ONLY = 1 << 0,
  NLX_LOOP_DIRECT_IO = 1 << 1,
} NlxLoopFlags;

/* Loop devices: nlx-loop.c */
char *nlx_loop_attach (int fd,
                       const char *name,
                       GError **error);
char *nlx_loop_attach_full (int fd,
                            const char *name,
                            NlxLoopFlags flags,
                            GError **error);
gboolean nlx_loop_check (const char *device,
                         const struct stat *backing,
                         NlxLoopFlags flags,
                         GError **error);
char *nlx_loop_attach_writable (int fd,
                                const char *name,
                                int *loop_fd,
                                GError **error);
char *nlx_loop_find (const char *name);
char *nlx_loop_find_backing (int fd);
GPtrArray *nlx_loop_find_prefix (const char *prefix);
gboolean nlx_loop_detach (const char *device,
                          GError **error);

/* Mounts made by the host, user namespaces for idmapped mounts:
 * nlx-mount.c */
int nlx_mount_prepare (const char *device,
                       const char *fstype,
                       gboolean for_root,
                       GError **error);
int nlx_mount_clone_as_is (const char *source,
                           GError **error);
gboolean nlx_mount_make_private (const char *path,
                                 GError **error);
int nlx_mount_clone (const char *source,
                     gboolean read_only,
                     GError **error);
int nlx_mount_clone_at (int fd,
                        const char *source,
                        gboolean read_only,
                        GError **error);
gboolean nlx_mount_at (int mount_fd,
                       const char *path,
                       GError **error);
gboolean nlx_mount_writable_ext4 (const char *device,
                                  const char *path,
                                  GError **error);
gboolean nlx_mount_overlay (const char *lower,
                            const char *upper,
                            const char *work,
                            const char *target,
                            GError **error);
gboolean nlx_mount_is_mount_point (const char *path);
gboolean nlx_umount (const char *path,
                     GError **error);

int nlx_userns_open (GArray *uid_map,
                     GArray *gid_map,
                     GError **error);
gboolean nlx_mount_idmap (int mount_fd,
                          int userns_fd,
                          GError **error);
gboolean nlx_mount_idmapped (const char *source,
                             int userns_fd,
                             const char *target,
                             GError **error);

/* Mounts in a container's mount namespace: nlx-mount-namespace.c */
typedef struct {
  int mount_fd;         /* a detached mount; the caller closes it */
  const char *path;     /* where it goes in the container */
  gboolean file;        /* an existing regular file, not a directory */
} NlxMountTarget;

gboolean nlx_mount_all_into_namespace (const NlxMountTarget *targets,
                                       guint n,
                                       pid_t pid,
                                       GError **error);
gboolean nlx_mount_into_namespace (int mount_fd,
                                   pid_t pid,
                                   const char *path,
                                   GError **error);
gboolean nlx_mount_file_into_namespace (int mount_fd,
                                        pid_t pid,
                                        const char *path,
                                        GError **error);
gboolean nlx_umount_in_namespace (pid_t pid,
                                  const char *path,
                                  GError **error);
gboolean nlx_mount_is_in_namespace (pid_t pid,
                                    const char *path);
GPtrArray *nlx_mount_list_below (pid_t pid,
                                 const char *path);

G_END_DECLS
