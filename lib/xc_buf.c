/*
 * NAME
 *   xc_buf - bounds-checked little-endian buffer reader and growable writer
 */
#include "xc_buf.h"

#include <stdlib.h>
#include <string.h>

void xc_rbuf_init(xc_rbuf *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = 0;
}

const uint8_t *xc_get_bytes(xc_rbuf *r, size_t n)
{
    const uint8_t *p;

    if (r->err || n > r->len - r->pos) {
        r->err = 1;
        return NULL;
    }
    p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint8_t xc_get_u8(xc_rbuf *r)
{
    const uint8_t *p = xc_get_bytes(r, 1);
    return p ? p[0] : 0;
}

uint16_t xc_get_u16(xc_rbuf *r)
{
    const uint8_t *p = xc_get_bytes(r, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t xc_get_u32(xc_rbuf *r)
{
    const uint8_t *p = xc_get_bytes(r, 4);
    return p ? xc_le32(p) : 0;
}

uint64_t xc_get_u64(xc_rbuf *r)
{
    const uint8_t *p = xc_get_bytes(r, 8);
    return p ? (uint64_t)xc_le32(p) | (uint64_t)xc_le32(p + 4) << 32 : 0;
}

void xc_wbuf_init(xc_wbuf *w, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->max = max;
}

void xc_wbuf_free(xc_wbuf *w)
{
    free(w->p);
    w->p = NULL;
    w->len = w->cap = 0;
}

void xc_wbuf_reset(xc_wbuf *w)
{
    w->len = 0;
    w->err = 0;
}

uint8_t *xc_wbuf_extend(xc_wbuf *w, size_t n)
{
    uint8_t *p;

    if (w->err)
        return NULL;
    if (n > SIZE_MAX / 2 - w->len || (w->max && w->len + n > w->max)) {
        w->err = 1;
        return NULL;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        p = realloc(w->p, cap);
        if (p == NULL) {
            w->err = 1;
            return NULL;
        }
        w->p = p;
        w->cap = cap;
    }
    p = w->p + w->len;
    w->len += n;
    return p;
}

void xc_put_bytes(xc_wbuf *w, const void *src, size_t n)
{
    uint8_t *p = xc_wbuf_extend(w, n);
    if (p && n)
        memcpy(p, src, n);
}

void xc_put_u8(xc_wbuf *w, uint8_t v)
{
    xc_put_bytes(w, &v, 1);
}

void xc_put_u16(xc_wbuf *w, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    xc_put_bytes(w, b, 2);
}

void xc_put_u32(xc_wbuf *w, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                     (uint8_t)(v >> 24) };
    xc_put_bytes(w, b, 4);
}

void xc_put_u64(xc_wbuf *w, uint64_t v)
{
    xc_put_u32(w, (uint32_t)v);
    xc_put_u32(w, (uint32_t)(v >> 32));
}

void xc_patch_u32(xc_wbuf *w, size_t off, uint32_t v)
{
    if (w->err || off + 4 > w->len)
        return;
    w->p[off] = (uint8_t)v;
    w->p[off + 1] = (uint8_t)(v >> 8);
    w->p[off + 2] = (uint8_t)(v >> 16);
    w->p[off + 3] = (uint8_t)(v >> 24);
}
