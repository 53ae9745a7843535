/*
 * fuzz_tnef - the [MS-OXTNEF] decoder on arbitrary bytes, with a names
 * callback that maps every name: it must refuse or decode without reading
 * outside the input, and what it decodes must be a content stream our
 * wire decoder accepts, with balanced markers.
 */
#include "xc_tnef.h"
#include "xc_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int map_all(void *ctx, const uint8_t guid[16], uint32_t lid,
                   const char *name, uint16_t *id_r)
{
    (void)ctx;
    if (name != NULL && !xc_utf8_valid((const uint8_t *)name, strlen(name)) &&
        name[0] != '\0')
        abort();
    *id_r = (uint16_t)(0x8000 | ((guid[0] + lid + (name ? strlen(name) : 0)) & 0x7FFF));
    return 0;
}

static xc_propval pv[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xc_wbuf out;
    const char *err;
    size_t n;
    int depth = 0, in = 0, stack[XC_TNEF_MAX_DEPTH + 2];

    xc_wbuf_init(&out, 0);
    if (xc_tnef_decode(data, size, 7, map_all, NULL, &out, &err) == 0) {
        if (xc_props_decode(out.p, out.len, pv, sizeof(pv) / sizeof(pv[0]),
                            &n, &err) < 0)
            abort();
        for (size_t i = 0; i < n; i++) {
            uint32_t t = pv[i].tag;
            if (t == XW_MARK_START_RECIP || t == XW_MARK_NEW_ATTACH) {
                if (in)
                    abort();
                in = t == XW_MARK_START_RECIP ? 1 : 2;
            } else if (t == XW_MARK_END_RECIP || t == XW_MARK_END_ATTACH) {
                if (in != (t == XW_MARK_END_RECIP ? 1 : 2))
                    abort();
                in = 0;
            } else if (t == XW_MARK_START_EMBED) {
                if (in != 2 || depth > XC_TNEF_MAX_DEPTH)
                    abort();
                stack[depth++] = in;
                in = 0;
            } else if (t == XW_MARK_END_EMBED) {
                if (in != 0 || depth == 0)
                    abort();
                in = stack[--depth];
            }
        }
        if (in || depth)
            abort();
    } else if (out.len != 0) {
        abort();
    }
    xc_wbuf_free(&out);
    return 0;
}
