/*
 * fuzz_smtp - lib/xc_smtp on arbitrary bytes. The first byte picks a mode
 * (low two bits) and flags (the next three):
 *   0  a command line; MAIL and RCPT arguments go on to the path checks;
 *      the same bytes as a server's reply line: code in range, text inside
 *      the line, EHLO keywords only known bits
 *   1  a MAIL / RCPT argument: on success the text fits, has no CR, LF
 *      or NUL, agrees with local, domain, null and utf8, and "<" text ">"
 *      parses again to the same address (the canonical form is stable)
 *   2  xtext: what decodes encodes and decodes to the same bytes; any
 *      NUL-free bytes encode and decode back (flags 0-3); AUTH responses:
 *      base64 that decodes encodes back, PLAIN fields lie in the buffer
 *      (4-5); a header field's value is one NUL-terminated line (6-7)
 *   3  the DATA reader (next four bytes: limits and a seed): whole, byte
 *      by byte and in random pieces give the same output and counters;
 *      the output has CRLF line ends only; a complete message written out
 *      again dot-stuffed reads back the same. BDAT raw mode likewise.
 * Any broken invariant is an abort().
 */
#include "xc_smtp.h"

#include <openssl/evp.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)            \
    do {                    \
        if (!(c))           \
            abort();        \
    } while (0)

static int has_8bit(const char *s)
{
    for (; *s; s++)
        if ((uint8_t)*s >= 0x80)
            return 1;
    return 0;
}

static void check_path(const char *arg, size_t len, int flags)
{
    xc_smtp_param params[XC_SMTP_PARAMS_MAX];
    xc_smtp_addr a, b;
    const char *error = NULL;
    size_t np = 0, max = (flags & 1) ? 3 : XC_SMTP_PARAMS_MAX;
    char buf[XC_SMTP_PATH_MAX + 3];
    size_t tl, ll, dl;
    int r = xc_smtp_path(arg, len, flags, &a, params, max, &np, &error);

    CHECK(r == XC_SMTP_OK || r == XC_SMTP_EPATH || r == XC_SMTP_EPARAM ||
          r == XC_SMTP_ELONG);
    if (r != XC_SMTP_OK)
        CHECK(error != NULL && error[0] != '\0');
    if (r != XC_SMTP_OK && r != XC_SMTP_EPARAM)
        return;
    tl = strnlen(a.text, sizeof(a.text));
    ll = strnlen(a.local, sizeof(a.local));
    dl = strnlen(a.domain, sizeof(a.domain));
    CHECK(tl <= XC_SMTP_PATH_MAX - 2 && ll <= XC_SMTP_LOCAL_MAX &&
          dl <= XC_SMTP_DOMAIN_MAX);
    CHECK(strpbrk(a.text, "\r\n") == NULL);
    if (a.null) {
        CHECK((flags & XC_SMTP_ALLOW_NULL) && tl == 0 && ll == 0 && dl == 0);
    } else if (dl == 0) {
        CHECK((flags & XC_SMTP_ALLOW_POSTMASTER) &&
              strcmp(a.text, "Postmaster") == 0 &&
              strcmp(a.local, "Postmaster") == 0);
    } else {
        CHECK(tl == ll + 1 + dl && ll > 0 && memcmp(a.text, a.local, ll) == 0 &&
              a.text[ll] == '@' && strcmp(a.text + ll + 1, a.domain) == 0);
    }
    CHECK(a.utf8 == has_8bit(a.text));
    CHECK(!a.utf8 || (flags & XC_SMTP_UTF8));
    if (r != XC_SMTP_OK)
        return;
    CHECK(np <= max);
    for (size_t i = 0; i < np; i++) {
        CHECK(params[i].key >= arg && params[i].key_len > 0 &&
              params[i].key + params[i].key_len <= arg + len);
        CHECK(params[i].value == NULL ||
              (params[i].value_len > 0 && params[i].value >= arg &&
               params[i].value + params[i].value_len <= arg + len));
    }
    buf[0] = '<';
    memcpy(buf + 1, a.text, tl);
    buf[tl + 1] = '>';
    CHECK(xc_smtp_path(buf, tl + 2, flags, &b, NULL, 0, NULL, &error) ==
          XC_SMTP_OK);
    CHECK(strcmp(a.text, b.text) == 0 && strcmp(a.local, b.local) == 0 &&
          strcmp(a.domain, b.domain) == 0 && a.null == b.null &&
          a.utf8 == b.utf8);
}

static void check_command(const char *line, size_t len, int flags)
{
    xc_smtp_cmd cmd;
    const char *error = NULL;

    if (xc_smtp_command(line, len, &cmd, &error) < 0) {
        CHECK(error != NULL);
        return;
    }
    CHECK(len <= XC_SMTP_CMD_MAX);
    CHECK(cmd.arg >= line && cmd.arg + cmd.arg_len <= line + len);
    CHECK(cmd.arg_len == 0 || (cmd.arg[0] != ' ' &&
                               cmd.arg[cmd.arg_len - 1] != ' '));
    if (cmd.verb == XC_SMTP_MAIL || cmd.verb == XC_SMTP_RCPT)
        check_path(cmd.arg, cmd.arg_len, flags);
}

/* a server's reply line (mtad's outbound client) and EHLO keywords */
static void check_reply(const char *line, size_t len)
{
    xc_smtp_reply r;
    unsigned ext = 0;
    uint64_t size = 7;

    if (xc_smtp_reply_line(line, len, &r) < 0)
        return;
    CHECK(len >= 3 && len <= XC_SMTP_REPLY_MAX);
    CHECK(r.code >= 200 && r.code <= 559);
    CHECK(r.more == (len > 3 && line[3] == '-'));
    CHECK(r.text >= line && r.text + r.text_len <= line + len);
    xc_smtp_ehlo_line(r.text, r.text_len, &ext, &size);
    CHECK((ext & ~0x7Fu) == 0);
    CHECK((ext & XC_SMTP_EXT_SIZE) || size == 7);
}

static void check_xtext(const char *p, size_t n)
{
    char *dec = malloc(n + 1), *enc = malloc(3 * n + 1),
         *back = malloc(n + 1);
    size_t k;

    CHECK(dec && enc && back);
    if (xc_smtp_xtext_decode(p, n, dec, n + 1) == 0) {
        k = strlen(dec);
        CHECK(k <= n);
        CHECK(xc_smtp_xtext_encode(dec, k, enc, 3 * n + 1) == 0);
        CHECK(strlen(enc) >= k);
        CHECK(xc_smtp_xtext_decode(enc, strlen(enc), back, n + 1) == 0);
        CHECK(strcmp(back, dec) == 0);
    }
    /* the input as plain bytes */
    if (memchr(p, '\0', n) != NULL) {
        CHECK(xc_smtp_xtext_encode(p, n, enc, 3 * n + 1) == -1);
    } else {
        CHECK(xc_smtp_xtext_encode(p, n, enc, 3 * n + 1) == 0);
        CHECK(strlen(enc) >= n);
        CHECK(xc_smtp_xtext_decode(enc, strlen(enc), back, n + 1) == 0);
        CHECK(strlen(back) == n && (n == 0 || memcmp(back, p, n) == 0));
    }
    free(dec);
    free(enc);
    free(back);
}

typedef struct run {
    int ret;
    size_t used;
    xc_smtp_data d;
    xc_wbuf out;
} run;

/* step 0: whole; 1: byte by byte; else pieces of random size */
static void feed(const uint8_t *p, size_t n, const size_t lim[3], int raw,
                 int step, uint32_t seed, run *r)
{
    size_t pos = 0;

    xc_smtp_data_init(&r->d, lim[0], lim[1], lim[2]);
    xc_wbuf_init(&r->out, 0);
    r->ret = 0;
    while (pos < n) {
        size_t k = n - pos, used = k;

        if (step == 1) {
            k = 1;
        } else if (step > 1) {
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % 17;
            if (k > n - pos)
                k = n - pos;
        }
        if (raw) {
            r->ret = xc_smtp_data_raw(&r->d, p + pos, k, &r->out);
            used = k;
        } else {
            r->ret = xc_smtp_data_feed(&r->d, p + pos, k, &r->out, &used);
        }
        CHECK(r->ret >= 0 && used <= k);
        CHECK(r->ret == 1 || used == k);
        pos += used;
        if (r->ret != 0)
            break;
    }
    if (raw)
        CHECK(xc_smtp_data_raw(&r->d, NULL, 0, &r->out) == 0);
    r->used = pos;
}

static void same(const run *a, const run *b)
{
    CHECK(a->ret == b->ret && a->used == b->used);
    CHECK(a->out.len == b->out.len &&
          (a->out.len == 0 || memcmp(a->out.p, b->out.p, a->out.len) == 0));
    CHECK(a->d.size == b->d.size && a->d.header_size == b->d.header_size &&
          a->d.longest_line == b->d.longest_line &&
          a->d.in_header == b->d.in_header && a->d.bare_lf == b->d.bare_lf &&
          a->d.over == b->d.over);
}

static void sane(const run *r, const size_t lim[3])
{
    const xc_smtp_data *d = &r->d;

    CHECK(r->out.len <= d->size && d->header_size <= d->size &&
          d->longest_line <= d->size);
    CHECK(d->over || r->out.len == d->size);
    CHECK(d->over >= 0 && d->over <= XC_SMTP_OVER_LINE);
    if (d->over == XC_SMTP_OVER_SIZE)
        CHECK(lim[0] && d->size > lim[0] && r->out.len <= lim[0]);
    if (d->over == XC_SMTP_OVER_HEADER)
        CHECK(lim[1] && d->header_size > lim[1]);
    if (d->over == XC_SMTP_OVER_LINE)
        CHECK(lim[2] && d->longest_line > lim[2]);
    if (!d->over) {
        CHECK(!lim[0] || d->size <= lim[0]);
        CHECK(!lim[1] || d->header_size <= lim[1]);
        CHECK(!lim[2] || d->longest_line <= lim[2]);
    }
    for (size_t i = 0; i < r->out.len; i++)
        if (r->out.p[i] == '\n')
            CHECK(i > 0 && r->out.p[i - 1] == '\r');
}

static void check_data(const uint8_t *p, size_t n, int flags)
{
    static const size_t none[3] = { 0, 0, 0 };
    size_t lim[3] = { 0, 0, 0 };
    uint32_t seed;
    run whole, bytes, part;

    if (n < 4)
        return;
    for (int k = 0; k < 3; k++)
        if (flags & (1 << k))
            lim[k] = p[k];
    seed = p[3];
    p += 4;
    n -= 4;

    for (int raw = 0; raw <= 1; raw++) {
        feed(p, n, lim, raw, 0, 0, &whole);
        feed(p, n, lim, raw, 1, 0, &bytes);
        feed(p, n, lim, raw, 2, seed, &part);
        same(&whole, &bytes);
        same(&whole, &part);
        sane(&whole, lim);
        if (raw)
            CHECK(whole.used == n && whole.ret == 0);
        if (!raw && whole.ret == 1 && !whole.d.over) {
            xc_wbuf st;
            run again;
            int bol = 1;

            CHECK(whole.out.len == 0 ||
                  (whole.out.len >= 2 &&
                   whole.out.p[whole.out.len - 1] == '\n'));
            xc_wbuf_init(&st, 0);
            for (size_t i = 0; i < whole.out.len; i++) {
                if (bol && whole.out.p[i] == '.')
                    xc_put_bytes(&st, ".", 1);
                xc_put_bytes(&st, whole.out.p + i, 1);
                bol = whole.out.p[i] == '\n';
            }
            xc_put_bytes(&st, ".\r\n", 3);
            feed(st.p, st.len, none, 0, 0, 0, &again);
            CHECK(again.ret == 1 && again.used == st.len);
            CHECK(again.out.len == whole.out.len &&
                  (whole.out.len == 0 ||
                   memcmp(again.out.p, whole.out.p, whole.out.len) == 0));
            CHECK(again.d.size == whole.d.size &&
                  again.d.header_size == whole.d.header_size &&
                  again.d.longest_line == whole.d.longest_line &&
                  again.d.bare_lf == 0);
            xc_wbuf_free(&again.out);
            xc_wbuf_free(&st);
        }
        xc_wbuf_free(&whole.out);
        xc_wbuf_free(&bytes.out);
        xc_wbuf_free(&part.out);
    }
}

/* AUTH responses: decoded base64 encodes back to the input (canonical
   padding aside: the last group's unused bits may differ), PLAIN fields
   lie inside the buffer and are NUL-terminated there. */
static void check_auth(const char *p, size_t n)
{
    char buf[300], again[400];
    size_t len;
    const char *a, *u, *pw;

    if (xc_smtp_b64_decode(p, n, buf, sizeof(buf), &len) == 0) {
        CHECK(len < sizeof(buf) && buf[len] == '\0');
        CHECK(len == n / 4 * 3 - (p[n - 1] == '=') - (p[n - 2] == '='));
        CHECK(EVP_EncodeBlock((unsigned char *)again, (const unsigned char *)buf,
                              (int)len) == (int)n);
        {
            char back[300];
            size_t blen;
            /* only the last group may differ (bits the padding drops) */
            CHECK(memcmp(again, p, n - 4) == 0);
            CHECK(xc_smtp_b64_decode(again, n, back, sizeof(back), &blen) == 0);
            CHECK(blen == len && memcmp(back, buf, len) == 0);
        }
    }
    if (xc_smtp_sasl_plain(p, n, buf, sizeof(buf), &a, &u, &pw) == 0) {
        CHECK(a == buf && u > a && pw > u && pw < buf + sizeof(buf));
        CHECK(*u != '\0' && *pw != '\0' && u[-1] == '\0' && pw[-1] == '\0');
    }
}

/* A header field's value: NUL-terminated within the buffer, one line. */
static void check_header(const uint8_t *p, size_t n)
{
    char v[64];

    if (xc_smtp_header_field(p, n, "Subject", v, sizeof(v)) == 0) {
        CHECK(memchr(v, '\0', sizeof(v)) != NULL);
        CHECK(strchr(v, '\r') == NULL && strchr(v, '\n') == NULL);
    }
    CHECK(xc_smtp_header_field(p, n, "Subject", v, 1) == -1 || v[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int mode, flags;
    char *copy;

    if (size < 1)
        return 0;
    mode = data[0] & 3;
    flags = (data[0] >> 2) & 7;
    /* an exact-size copy, so reads past the end are caught */
    copy = malloc(size - 1 ? size - 1 : 1);
    CHECK(copy != NULL);
    memcpy(copy, data + 1, size - 1);
    switch (mode) {
    case 0:
        check_command(copy, size - 1, flags);
        check_reply(copy, size - 1);
        break;
    case 1:
        check_path(copy, size - 1, flags);
        break;
    case 2:
        /* flags pick among the smaller parsers */
        if (flags < 4)
            check_xtext(copy, size - 1);
        else if (flags < 6)
            check_auth(copy, size - 1);
        else
            check_header((const uint8_t *)copy, size - 1);
        break;
    default:
        check_data((const uint8_t *)copy, size - 1, flags);
        break;
    }
    free(copy);
    return 0;
}
