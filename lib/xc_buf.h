/*
 * NAME
 *   xc_buf - bounds-checked little-endian buffer reader and growable writer
 *
 * DESCRIPTION
 *   The reader moves a cursor over (ptr, len) and checks every read; a failed
 *   read sets a sticky error flag, so a decoder can read a whole structure and
 *   test once at the end (as PostgreSQL's pqformat.c does). All integers are
 *   little-endian, as in [MS-OXCDATA].
 *
 *   The writer grows a malloc'd buffer; an allocation failure is sticky too.
 */
#ifndef XC_BUF_H
#define XC_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct xc_rbuf {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err;
} xc_rbuf;

void xc_rbuf_init(xc_rbuf *r, const void *p, size_t len);
uint8_t xc_get_u8(xc_rbuf *r);
uint16_t xc_get_u16(xc_rbuf *r);
uint32_t xc_get_u32(xc_rbuf *r);
uint64_t xc_get_u64(xc_rbuf *r);
/* Returns a pointer into the buffer, or NULL (and sets err) if short. */
const uint8_t *xc_get_bytes(xc_rbuf *r, size_t n);
static inline size_t xc_rbuf_left(const xc_rbuf *r) { return r->len - r->pos; }

typedef struct xc_wbuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t max;     /* 0 = unlimited; exceeding it sets err */
    int err;
} xc_wbuf;

void xc_wbuf_init(xc_wbuf *w, size_t max);
void xc_wbuf_free(xc_wbuf *w);
void xc_wbuf_reset(xc_wbuf *w);
/* Reserve n bytes at the end and return them, or NULL (and set err). */
uint8_t *xc_wbuf_extend(xc_wbuf *w, size_t n);
void xc_put_u8(xc_wbuf *w, uint8_t v);
void xc_put_u16(xc_wbuf *w, uint16_t v);
void xc_put_u32(xc_wbuf *w, uint32_t v);
void xc_put_u64(xc_wbuf *w, uint64_t v);
void xc_put_bytes(xc_wbuf *w, const void *p, size_t n);
/* Overwrite a u32 already written at offset off (for length prefixes). */
void xc_patch_u32(xc_wbuf *w, size_t off, uint32_t v);

static inline uint32_t xc_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

#endif
