/*
 * NAME
 *   xc_ids - predecessor change lists ([MS-OXCFXICS] 2.2.2.4)
 */
#include "xc_ids.h"

#include <string.h>

int xc_pcl_merge(const uint8_t *pcl, size_t len, const uint8_t *xid,
                 size_t xidlen, uint8_t *out, size_t outcap)
{
    size_t o = 0, i = 0;

    if (xidlen < 17 || xidlen > 24 || outcap < xidlen + 1)
        return -1;
    while (i < len) {
        size_t n = pcl[i];

        /* a SizedXid: GUID (16) + LocalId (1..8) */
        if (n < 17 || n > 24 || n > len - i - 1)
            return -1;
        if (memcmp(pcl + i + 1, xid, 16) != 0 &&
            o + n + 1 + xidlen + 1 <= outcap) {
            memcpy(out + o, pcl + i, n + 1);
            o += n + 1;
        }
        i += n + 1;
    }
    out[o++] = (uint8_t)xidlen;
    memcpy(out + o, xid, xidlen);
    return (int)(o + xidlen);
}
