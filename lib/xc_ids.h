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

#endif
