/*
 * NAME
 *   fuzz_frame - libFuzzer target for the storaged wire protocol
 *
 * DESCRIPTION
 *   Splits the input into frames with xw_frame_parse() as a receiver
 *   would, decodes each payload with xc_props_decode(), and checks that
 *   the decoded properties encode back (xc_put_propval) to the very same
 *   frame, that decoding that again gives the same tags and counts, and
 *   that multi-valued properties iterate to exactly their count. Also
 *   compares xc_utf8_valid() with an independent table-driven checker.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xc_buf.h"
#include "xc_wire.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define MAX_FRAME (1u << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xc_propval props[XW_MAX_PROPS], again[XW_MAX_PROPS];

/* Well-formed UTF-8 after Unicode 15, table 3-7, minus U+0000. */
static int ref_utf8(const uint8_t *p, size_t n)
{
    static const struct {
        uint8_t lo, hi;     /* lead byte range */
        uint8_t n;          /* continuation bytes */
        uint8_t lo2, hi2;   /* range of the first continuation byte */
    } rows[] = {
        { 0x01, 0x7f, 0, 0, 0 },
        { 0xc2, 0xdf, 1, 0x80, 0xbf },
        { 0xe0, 0xe0, 2, 0xa0, 0xbf },
        { 0xe1, 0xec, 2, 0x80, 0xbf },
        { 0xed, 0xed, 2, 0x80, 0x9f },
        { 0xee, 0xef, 2, 0x80, 0xbf },
        { 0xf0, 0xf0, 3, 0x90, 0xbf },
        { 0xf1, 0xf3, 3, 0x80, 0xbf },
        { 0xf4, 0xf4, 3, 0x80, 0x8f },
    };
    size_t i = 0;

    while (i < n) {
        size_t r;

        for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
            if (p[i] >= rows[r].lo && p[i] <= rows[r].hi)
                break;
        if (r == sizeof(rows) / sizeof(rows[0]) || n - i - 1 < rows[r].n)
            return 0;
        for (size_t k = 1; k <= rows[r].n; k++) {
            uint8_t lo = k == 1 ? rows[r].lo2 : 0x80;
            uint8_t hi = k == 1 ? rows[r].hi2 : 0xbf;
            if (p[i + k] < lo || p[i + k] > hi)
                return 0;
        }
        i += 1 + rows[r].n;
    }
    return 1;
}

/* The bytes of one value as xc_put_propval writes them, without the tag. */
static int same_value(const xc_propval *a, const xc_propval *b)
{
    xc_wbuf wa, wb;
    int same;

    xc_wbuf_init(&wa, 0);
    xc_wbuf_init(&wb, 0);
    xc_put_propval(&wa, a);
    xc_put_propval(&wb, b);
    same = !wa.err && !wb.err && wa.len == wb.len &&
           memcmp(wa.p, wb.p, wa.len) == 0;
    xc_wbuf_free(&wa);
    xc_wbuf_free(&wb);
    return same;
}

static void check_mv(const xc_propval *a, const xc_propval *b)
{
    uint16_t base = PROP_TYPE(a->tag) & (uint16_t)~PT_MV;
    xc_mv_iter ia, ib;
    xc_propval va, vb;
    uint32_t n = 0;

    CHECK(a->v.mv.count <= XW_MAX_MV);
    xc_mv_iter_init(&ia, a);
    xc_mv_iter_init(&ib, b);
    while (xc_mv_next(&ia, &va) == 1) {
        CHECK(xc_mv_next(&ib, &vb) == 1);
        CHECK(PROP_TYPE(va.tag) == base);
        CHECK(same_value(&va, &vb));
        if (base == PT_STRING8)
            CHECK(xc_utf8_valid(va.v.bin.p, va.v.bin.n));
        if (base == PT_UNICODE)
            CHECK((va.v.bin.n & 1) == 0);
        n++;
    }
    CHECK(n == a->v.mv.count);
    CHECK(xc_mv_next(&ib, &vb) == 0);
    /* every value was consumed */
    CHECK(xc_rbuf_left(&ia.r) == 0);
}

static void check_frame(const uint8_t *frame, const xw_hdr *h)
{
    const uint8_t *payload = frame + XW_HDR_LEN;
    size_t plen = h->len - XW_HDR_LEN, n = 0, n2 = 0;
    const char *err = NULL;
    xc_wbuf w;

    if (xc_props_decode(payload, plen, props, XW_MAX_PROPS, &n, &err) < 0) {
        CHECK(err != NULL);
        return;
    }
    CHECK(n <= plen / 4);

    /* decoded values encode back to the same frame, byte for byte */
    xc_wbuf_init(&w, MAX_FRAME);
    xw_frame_begin(&w, h->flags, h->op, h->reqid);
    for (size_t i = 0; i < n; i++)
        xc_put_propval(&w, &props[i]);
    CHECK(xw_frame_end(&w) == 0);
    CHECK(w.len == h->len && memcmp(w.p, frame, h->len) == 0);

    CHECK(xc_props_decode(w.p + XW_HDR_LEN, w.len - XW_HDR_LEN, again,
                          XW_MAX_PROPS, &n2, &err) == 0);
    CHECK(n2 == n);
    for (size_t i = 0; i < n; i++) {
        uint16_t type = PROP_TYPE(props[i].tag);
        const xc_propval *f;

        CHECK(again[i].tag == props[i].tag);
        CHECK(xc_type_ok(type));
        if (type & PT_MV) {
            CHECK(again[i].v.mv.count == props[i].v.mv.count);
            CHECK(again[i].v.mv.n == props[i].v.mv.n);
            check_mv(&props[i], &again[i]);
        } else {
            CHECK(same_value(&props[i], &again[i]));
        }
        if (type == PT_STRING8) {
            char s[64];
            f = xc_props_find(props, n, props[i].tag);
            CHECK(f != NULL && f <= &props[i]);
            CHECK(xc_utf8_valid(f->v.bin.p, f->v.bin.n));
            CHECK((xc_props_str(props, n, props[i].tag, s, sizeof(s)) == 0)
                  == (f->v.bin.n < sizeof(s)));
        }
        if (type == PT_BOOLEAN)
            CHECK(props[i].v.b <= 1);
    }
    xc_wbuf_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    CHECK(xc_utf8_valid(data, size) == ref_utf8(data, size));

    while (off < size) {
        const char *err = NULL;
        xw_hdr h;
        xw_parse r = xw_frame_parse(data + off, size - off, MAX_FRAME, &h,
                                    &err);

        if (r == XW_PARSE_ERROR) {
            CHECK(err != NULL);
            break;
        }
        if (r == XW_PARSE_MORE)
            break;
        CHECK(r == XW_PARSE_DONE);
        CHECK(h.len >= XW_HDR_LEN && h.len <= size - off &&
              h.len <= MAX_FRAME);
        CHECK(h.version == XW_VERSION && h.len == xc_le32(data + off) + 4);
        /* one byte less is not a frame yet */
        {
            xw_hdr h2;
            CHECK(xw_frame_parse(data + off, h.len - 1, MAX_FRAME, &h2,
                                 &err) == XW_PARSE_MORE);
        }
        check_frame(data + off, &h);
        off += h.len;
    }
    return 0;
}
