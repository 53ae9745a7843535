/*
 * test_ids_text - change keys and predecessor change lists ([MS-OXCFXICS]
 * 2.2.2.2, 2.2.2.4), and UTF-16LE <-> UTF-8 conversion of strings.
 */
#include "tap.h"
#include "xc_ids.h"
#include "xc_text.h"

#include <string.h>

static const uint8_t G1[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
static const uint8_t G2[16] = { 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 };

static void test_xid(void)
{
    uint8_t x[XC_XID_LEN];

    test_begin("xc_xid: GUID then the CN as 6 big-endian bytes");
    xc_xid(x, G1, 0x0102030405A6ULL);
    test_assert(memcmp(x, G1, 16) == 0);
    test_assert(x[16] == 0x01 && x[17] == 0x02 && x[18] == 0x03 &&
                x[19] == 0x04 && x[20] == 0x05 && x[21] == 0xA6);
    test_end();
}

static void test_pcl(void)
{
    uint8_t a[XC_XID_LEN], b[XC_XID_LEN], c[XC_XID_LEN];
    uint8_t p1[256], p2[256], p3[256];
    int n1, n2, n3;

    xc_xid(a, G1, 1);
    xc_xid(b, G2, 7);
    xc_xid(c, G1, 2);
    test_begin("xc_pcl_merge: a new PCL is one SizedXid");
    n1 = xc_pcl_merge(NULL, 0, a, sizeof(a), p1, sizeof(p1));
    test_assert(n1 == 23 && p1[0] == 22 && memcmp(p1 + 1, a, 22) == 0);
    test_end();

    test_begin("xc_pcl_merge: other namespaces are kept, ours replaced");
    n2 = xc_pcl_merge(p1, (size_t)n1, b, sizeof(b), p2, sizeof(p2));
    test_assert(n2 == 46);
    n3 = xc_pcl_merge(p2, (size_t)n2, c, sizeof(c), p3, sizeof(p3));
    test_assert(n3 == 46);
    /* G2's entry first (kept), then the new G1 entry */
    test_assert(p3[0] == 22 && memcmp(p3 + 1, b, 22) == 0);
    test_assert(p3[23] == 22 && memcmp(p3 + 24, c, 22) == 0);
    test_end();

    test_begin("xc_pcl_merge: malformed PCLs are refused");
    {
        static const struct { uint8_t in[8]; size_t len; } bad[] = {
            { { 22 }, 1 },                  /* size beyond the data */
            { { 5, 1, 2, 3, 4, 5 }, 6 },    /* XID shorter than a GUID */
            { { 30 }, 1 },                  /* XID longer than 24 */
        };
        for (size_t i = 0; i < N_ELEMENTS(bad); i++)
            test_assert_idx(xc_pcl_merge(bad[i].in, bad[i].len, a, sizeof(a),
                                         p3, sizeof(p3)) == -1, i);
        test_assert(xc_pcl_merge(NULL, 0, a, 16, p3, sizeof(p3)) == -1);
        test_assert(xc_pcl_merge(NULL, 0, a, sizeof(a), p3, 10) == -1);
    }
    test_end();

    test_begin("xc_pcl_merge: the output is bounded, the new XID always in");
    {
        uint8_t big[XC_PCL_MAX], out[64];
        size_t len = 0;
        int n;
        for (int i = 0; len + 23 <= sizeof(big); i++) {
            uint8_t g[16];
            memset(g, 0x10 + i, 16);
            big[len] = 22;
            xc_xid(big + len + 1, g, 1);
            len += 23;
        }
        n = xc_pcl_merge(big, len, a, sizeof(a), out, sizeof(out));
        test_assert(n > 0 && n <= (int)sizeof(out));
        test_assert(memcmp(out + n - 22, a, 22) == 0);
    }
    test_end();
}

static const struct utf_case {
    const char *u8;
    const char *u16;
    size_t u16len;
} utf_cases[] = {
    { "", "", 0 },
    { "A", "A\0", 2 },
    { "Gr\xc3\xbc\xc3\x9f" "e", "G\0r\0\xfc\0\xdf\0e\0", 10 },
    { "\xe2\x82\xac", "\xac\x20", 2 },                  /* U+20AC */
    { "\xf0\x9f\x98\x80", "\x3d\xd8\x00\xde", 4 },      /* U+1F600 */
};

static void test_utf(void)
{
    xc_wbuf w;

    test_begin("UTF-16LE <-> UTF-8 round trips");
    for (size_t i = 0; i < N_ELEMENTS(utf_cases); i++) {
        const struct utf_case *c = &utf_cases[i];
        xc_wbuf_init(&w, 0);
        test_assert_idx(xc_utf16le_to_utf8(&w, (const uint8_t *)c->u16,
                                           c->u16len) == 0, i);
        test_assert_idx(w.len == strlen(c->u8) &&
                        (w.len == 0 || memcmp(w.p, c->u8, w.len) == 0), i);
        xc_wbuf_reset(&w);
        test_assert_idx(xc_utf8_to_utf16le(&w, (const uint8_t *)c->u8,
                                           strlen(c->u8)) == 0, i);
        test_assert_idx(w.len == c->u16len &&
                        (w.len == 0 || memcmp(w.p, c->u16, w.len) == 0), i);
        xc_wbuf_free(&w);
    }
    test_end();

    test_begin("bad UTF-16 and UTF-8 are refused");
    {
        static const struct { const char *s; size_t n; } bad16[] = {
            { "\x3d\xd8", 2 },              /* lone high surrogate */
            { "\x00\xde", 2 },              /* lone low surrogate */
            { "\x3d\xd8" "A\0", 4 },        /* high + not low */
            { "A", 1 },                     /* odd length */
            { "\0\0", 2 },                  /* NUL */
        };
        for (size_t i = 0; i < N_ELEMENTS(bad16); i++) {
            xc_wbuf_init(&w, 0);
            test_assert_idx(xc_utf16le_to_utf8(&w, (const uint8_t *)bad16[i].s,
                                               bad16[i].n) == -1, i);
            xc_wbuf_free(&w);
        }
        xc_wbuf_init(&w, 0);
        test_assert(xc_utf8_to_utf16le(&w, (const uint8_t *)"\xc0\xaf", 2) == -1);
        test_assert(xc_utf8_to_utf16le(&w, (const uint8_t *)"\xed\xa0\x80", 3) == -1);
        xc_wbuf_free(&w);
    }
    test_end();
}

int main(void)
{
    test_xid();
    test_pcl();
    test_utf();
    return test_exit();
}
