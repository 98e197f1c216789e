/* nlx-autoptr.h: g_autoptr() for the foreign types nova-lxc uses
 * (libvirt, libxml2, libarchive, libblkid, dirent), declared once.
 *
 * GLib refuses a second G_DEFINE_AUTOPTR_CLEANUP_FUNC for one type, so
 * two files each declaring xmlDoc's cannot be linked into one program's
 * translation unit through a shared header: they live here.  Each block
 * is compiled only when its library's header was included before (its
 * include guard is defined), once: so including this header costs a file
 * nothing it does not use, and the header has no guard of its own, so a
 * file including it again after more libraries' headers gets their
 * blocks too. */
#include <glib.h>

#if defined LIBVIRT_H && !defined NLX_AUTOPTR_LIBVIRT
#define NLX_AUTOPTR_LIBVIRT
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)
#endif

#if defined __XML_TREE_H__ && !defined NLX_AUTOPTR_XML_TREE
#define NLX_AUTOPTR_XML_TREE
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlBuffer, xmlBufferFree)
#endif

#if defined __XML_XPATH_H__ && !defined NLX_AUTOPTR_XML_XPATH
#define NLX_AUTOPTR_XML_XPATH
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlXPathObject, xmlXPathFreeObject)
#endif

#if defined ARCHIVE_H_INCLUDED && !defined NLX_AUTOPTR_ARCHIVE
#define NLX_AUTOPTR_ARCHIVE
typedef struct archive NlxArchive;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxArchive, archive_free)
#endif

#if defined ARCHIVE_ENTRY_H_INCLUDED && !defined NLX_AUTOPTR_ARCHIVE_ENTRY
#define NLX_AUTOPTR_ARCHIVE_ENTRY
typedef struct archive_entry NlxArchiveEntry;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxArchiveEntry, archive_entry_free)
#endif

#if defined _DIRENT_H && !defined NLX_AUTOPTR_DIRENT
#define NLX_AUTOPTR_DIRENT
typedef DIR NlxDir;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxDir, closedir)
#endif

#if defined _BLKID_BLKID_H && !defined NLX_AUTOPTR_BLKID
#define NLX_AUTOPTR_BLKID
/* blkid_probe is a pointer type; g_autoptr() needs the struct's name. */
typedef struct blkid_struct_probe NlxBlkidProbe;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NlxBlkidProbe, blkid_free_probe)
#endif
