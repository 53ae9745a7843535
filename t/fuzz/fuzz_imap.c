/*
 * fuzz_imap - lib/xc_imap on arbitrary bytes. The first byte picks a mode
 * (low two bits); the rest is the input:
 *   0  a client's byte stream: scanned whole and in pieces (sizes from the
 *      second byte) with the same results, each synchronizing literal
 *      stopping once; every command found is parsed: spans lie inside it,
 *      lists hold what they say, and every token goes through the string,
 *      number, sequence-set and fetch-attribute readers, which keep their
 *      promises (ranges ordered, parts non-zero, fields inside the atom)
 *   1  modified UTF-7: what decodes encodes to a name that decodes to the
 *      same UTF-8, and what encodes decodes back to the UTF-8 it came from
 *   2  dates: a date-time that parses is written and parses to the same
 *      instant; a date that parses is a midnight
 *   3  strings written by xc_imap_put_string parse back to their bytes
 * Any broken invariant is an abort().
 */
#include "xc_imap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)            \
    do {                    \
        if (!(c))           \
            abort();        \
    } while (0)

#define NODES 256

static void tokens_ok(const xc_imap_node *nd, size_t n, const uint8_t *p,
                      size_t len)
{
    for (size_t i = 0; i < n; i++) {
        const xc_imap_node *x = &nd[i];
        char out[64];
        uint32_t v;
        uint64_t v64;
        xc_imap_range r[8];
        xc_imap_att a;
        int k;

        CHECK(x->end > i && x->end <= n);
        if (x->type == XC_IMAP_LIST) {
            size_t kids = 0;
            for (size_t j = i + 1; j < x->end; j = nd[j].end)
                kids++;
            CHECK(kids == x->n);
            continue;
        }
        CHECK(x->end == i + 1);
        CHECK(x->p >= p && x->p + x->len <= p + len);
        if (xc_imap_string(x, out, sizeof(out)) >= 0)
            CHECK(strlen(out) < sizeof(out));
        if (xc_imap_number(x, 0, &v) == 0)
            CHECK(x->type == XC_IMAP_ATOM);
        (void)xc_imap_number64(x, 1, &v64);
        if (x->type != XC_IMAP_ATOM)
            continue;
        k = xc_imap_seqset(x->p, x->len, r, 8);
        CHECK(k == -1 || (k >= 1 && k <= 8));
        for (int j = 0; j < k; j++)
            CHECK(r[j].lo >= 1 && r[j].lo <= r[j].hi);
        if (xc_imap_fetch_att(x, &a) == 0) {
            CHECK(a.name[0] != '\0');
            CHECK(a.nparts >= 0 && a.nparts <= XC_IMAP_SECTION_PARTS);
            for (int j = 0; j < a.nparts; j++)
                CHECK(a.part[j] != 0);
            CHECK(a.nfields >= 0 && a.nfields <= XC_IMAP_FIELDS_MAX);
            for (int j = 0; j < a.nfields; j++)
                CHECK(a.field[j] >= x->p && a.field_len[j] > 0 &&
                      a.field[j] + a.field_len[j] <= x->p + x->len);
            if (a.has_partial)
                CHECK(a.length > 0);
        }
    }
}

static void stream(const uint8_t *p, size_t n, unsigned step)
{
    size_t at = 0;

    while (at < n) {
        xc_imap_scanner whole, piece;
        const char *e1 = NULL, *e2 = NULL;
        int r1, r2, lits1 = 0, lits2 = 0;
        size_t have = 0;

        xc_imap_scan_init(&whole);
        do {
            r1 = xc_imap_scan(&whole, p + at, n - at, 200, 4096, &e1);
            if (r1 == XC_IMAP_LITERAL)
                lits1++;
        } while (r1 == XC_IMAP_LITERAL);
        xc_imap_scan_init(&piece);
        for (;;) {
            have = have + step < n - at ? have + step : n - at;
            r2 = xc_imap_scan(&piece, p + at, have, 200, 4096, &e2);
            if (r2 == XC_IMAP_LITERAL) {
                lits2++;
                continue;
            }
            if (r2 != XC_IMAP_MORE || have == n - at)
                break;
        }
        CHECK(r1 == r2 && lits1 == lits2);
        if (r1 < 0)
            CHECK(e1 != NULL && e2 != NULL);
        if (r1 != XC_IMAP_COMPLETE)
            return;
        CHECK(whole.end == piece.end && whole.end > 0 &&
              whole.end <= n - at);
        {
            xc_imap_node nd[NODES];
            xc_imap_cmd cmd;
            const char *err = NULL;
            if (xc_imap_parse(p + at, whole.end, nd, NODES, &cmd, &err) == 0) {
                CHECK(cmd.tag_len > 0 && cmd.tag_len <= XC_IMAP_TAG_MAX);
                CHECK(cmd.name[0] != '\0');
                CHECK(cmd.nargs_nodes <= NODES);
                tokens_ok(nd, cmd.nargs_nodes, p + at, whole.end);
            } else {
                CHECK(err != NULL);
                CHECK(cmd.tag == NULL || cmd.tag_len <= XC_IMAP_TAG_MAX);
            }
        }
        at += whole.end;
    }
}

static void mutf7(const uint8_t *p, size_t n)
{
    xc_wbuf a, b;

    xc_wbuf_init(&a, 1 << 16);
    xc_wbuf_init(&b, 1 << 16);
    if (xc_imap_mutf7_decode(&a, (const char *)p, n) == 0) {
        xc_wbuf c;
        xc_wbuf_init(&c, 1 << 16);
        CHECK(xc_imap_mutf7_encode(&b, (const char *)a.p, a.len) == 0);
        CHECK(xc_imap_mutf7_decode(&c, (const char *)b.p, b.len) == 0);
        CHECK(c.len == a.len && memcmp(c.p, a.p, a.len) == 0);
        xc_wbuf_free(&c);
    }
    xc_wbuf_reset(&a);
    xc_wbuf_reset(&b);
    if (xc_imap_mutf7_encode(&a, (const char *)p, n) == 0) {
        CHECK(xc_imap_mutf7_decode(&b, (const char *)a.p, a.len) == 0);
        CHECK(b.len == n && memcmp(b.p, p, n) == 0);
    }
    xc_wbuf_free(&a);
    xc_wbuf_free(&b);
}

static void dates(const uint8_t *p, size_t n)
{
    char s[64], out[27];
    time_t t, t2;

    if (n >= sizeof(s))
        n = sizeof(s) - 1;
    memcpy(s, p, n);
    s[n] = '\0';
    if (xc_imap_datetime(s, &t) == 0) {
        xc_imap_format_datetime(t, out);
        CHECK(xc_imap_datetime(out, &t2) == 0 && t2 == t);
    }
    if (xc_imap_date(s, &t) == 0)
        CHECK(t % 86400 == 0);
}

static void strings(const uint8_t *p, size_t n, int utf8)
{
    xc_wbuf w;
    xc_imap_node nd[4];
    xc_imap_cmd cmd;
    const char *err;
    char *out;

    if (n > 4000 || memchr(p, 0, n) != NULL)
        return;
    xc_wbuf_init(&w, 0);
    xc_put_bytes(&w, "t X ", 4);
    xc_imap_put_string(&w, (const char *)p, n, utf8);
    xc_put_bytes(&w, "\r\n", 2);
    CHECK(!w.err);
    CHECK(xc_imap_parse(w.p, w.len, nd, 4, &cmd, &err) == 0);
    CHECK(cmd.nargs_nodes == 1);
    out = malloc(n + 1);
    CHECK(out != NULL);
    CHECK(xc_imap_string(&nd[0], out, n + 1) >= 0);
    CHECK(memcmp(out, p, n) == 0 && out[n] == '\0');
    free(out);
    xc_wbuf_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    switch (data[0] & 3) {
    case 0:
        stream(data + 2, size - 2, (unsigned)data[1] % 17 + 1);
        break;
    case 1:
        mutf7(data + 1, size - 1);
        break;
    case 2:
        dates(data + 1, size - 1);
        break;
    default:
        strings(data + 1, size - 1, data[0] & 4);
        break;
    }
    return 0;
}
