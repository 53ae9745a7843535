/*
 * fuzz_mbox - lib/xc_mbox on arbitrary bytes: splitting never reads
 * outside the input, and every message it finds, made canonical, written
 * as an mboxrd entry and split again, is one message with the same
 * canonical bytes.
 */
#include "xc_mbox.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int check_one(void *ctx, const uint8_t *p, size_t n);

static int keep(void *ctx, const uint8_t *p, size_t n)
{
    xc_put_bytes(ctx, p, n);
    return 0;
}

static int check_one(void *ctx, const uint8_t *p, size_t n)
{
    xc_wbuf c, e, one, back;

    int r, f;

    (void)ctx;
    xc_mbox_status(p, n, &r, &f);
    if ((r | f) & ~1)
        abort();
    xc_wbuf_init(&c, 0);
    xc_wbuf_init(&e, 0);
    xc_wbuf_init(&one, 0);
    xc_wbuf_init(&back, 0);
    xc_mbox_canonical(p, n, 1, &c);
    xc_mbox_entry(c.p, c.len, "fuzz@example.test", 1514800800, &e);
    if (xc_mbox_split(e.p, e.len, keep, &one) != 1)
        abort();
    xc_mbox_canonical(one.p, one.len, 1, &back);
    if (back.len != c.len || (c.len && memcmp(back.p, c.p, c.len) != 0))
        abort();
    xc_wbuf_free(&c);
    xc_wbuf_free(&e);
    xc_wbuf_free(&one);
    xc_wbuf_free(&back);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)xc_mbox_split(data, size, check_one, NULL);
    /* the input as one message, too */
    (void)check_one(NULL, data, size);
    return 0;
}
