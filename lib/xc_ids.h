/*
 * NAME
 *   xc_ids - folder and message ids of [MS-OXCDATA] 2.2.1.1 / 2.2.1.2
 *
 * DESCRIPTION
 *   An id is a 2-byte replica id followed by a 6-byte global counter stored
 *   big-endian. As the 64-bit little-endian integer that ROPs and our wire
 *   carry, the replica id is the low 16 bits and the counter's bytes follow.
 */
#ifndef XC_IDS_H
#define XC_IDS_H

#include <stddef.h>
#include <stdint.h>

#define XC_GC_MAX ((UINT64_C(1) << 48) - 1)

static inline uint64_t xc_make_id(uint16_t replid, uint64_t gc)
{
    uint64_t id = replid;
    for (int i = 0; i < 6; i++)
        id |= ((gc >> (8 * (5 - i))) & 0xFF) << (8 * (2 + i));
    return id;
}

static inline uint64_t xc_id_gc(uint64_t id)
{
    uint64_t gc = 0;
    for (int i = 0; i < 6; i++)
        gc = gc << 8 | ((id >> (8 * (2 + i))) & 0xFF);
    return gc;
}

static inline uint16_t xc_id_replid(uint64_t id)
{
    return (uint16_t)(id & 0xFFFF);
}

/*
 * [MS-OXCFXICS] 2.2.2.2: an XID is a namespace GUID and a local id; ours
 * are the mailbox's replica GUID and the change number, 6 bytes big-endian
 * (22 bytes: a change key). 2.2.2.4: a predecessor change list (PCL) is a
 * sequence of SizedXid (a size byte, then the XID), one per namespace.
 */
#define XC_XID_LEN 22
#define XC_PCL_MAX 2048         /* bytes we keep of a PCL */

static inline void xc_xid(uint8_t out[XC_XID_LEN], const uint8_t guid[16],
                          uint64_t cn)
{
    for (int i = 0; i < 16; i++)
        out[i] = guid[i];
    for (int i = 0; i < 6; i++)
        out[16 + i] = (uint8_t)(cn >> (8 * (5 - i)));
}

/*
 * A PCL with xid as the newest change of its namespace: entries of other
 * namespaces are kept, one of the same namespace is replaced. Returns the
 * new length in out (at most XC_PCL_MAX), or -1 if pcl is malformed.
 */
int xc_pcl_merge(const uint8_t *pcl, size_t len, const uint8_t *xid,
                 size_t xidlen, uint8_t *out, size_t outcap);

#endif
