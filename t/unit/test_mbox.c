/*
 * test_mbox - mbox splitting, canonical message bytes and mboxrd entries
 * (lib/xc_mbox): From_ lines and the writer's blank lines, mboxrd
 * quoting both ways, CRLF/LF/CR line ends, an empty message, text before
 * the first From_ line, and 2000 random messages round-tripped through an
 * entry.
 */
#include "tap.h"
#include "xc_mbox.h"

#include <stdlib.h>
#include <string.h>

typedef struct got {
    int n;
    char msg[8][256];
} got;

static int collect(void *ctx, const uint8_t *p, size_t n)
{
    got *g = ctx;

    if (g->n < 8 && n < sizeof(g->msg[0])) {
        memcpy(g->msg[g->n], p, n);
        g->msg[g->n][n] = '\0';
    }
    g->n++;
    return 0;
}

static int stop_after_one(void *ctx, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    ++*(int *)ctx;
    return -1;
}

static int keep(void *ctx, const uint8_t *p, size_t n)
{
    xc_put_bytes(ctx, p, n);
    return 0;
}

static int streq_buf(const xc_wbuf *w, const char *s)
{
    return w->len == strlen(s) && memcmp(w->p, s, w->len) == 0;
}

int main(void)
{
    got g;
    xc_wbuf w, e;

    xc_wbuf_init(&w, 0);
    xc_wbuf_init(&e, 0);

    test_begin("split: messages between From_ lines, less the blank line");
    {
        static const char box[] =
            "junk before the first message\n"
            "From alice@example.test Mon Jan  1 10:00:00 2018\n"
            "Subject: one\n\nbody 1\n\n"
            "From bob Mon Jan  1 10:01:00 2018\n"
            "Subject: two\n\nbody 2\n>From quoted\n\n"
            "From x Mon Jan  1 10:02:00 2018\n"
            "Subject: three\n\nno newline at the end";
        memset(&g, 0, sizeof(g));
        test_assert(xc_mbox_split((const uint8_t *)box, strlen(box), collect,
                                  &g) == 3);
        test_assert(g.n == 3);
        test_assert(!strcmp(g.msg[0], "Subject: one\n\nbody 1\n"));
        test_assert(!strcmp(g.msg[1], "Subject: two\n\nbody 2\n>From quoted\n"));
        test_assert(!strcmp(g.msg[2], "Subject: three\n\nno newline at the end"));
    }
    test_end();

    test_begin("split: CRLF files, an empty message, no From_ line at all");
    {
        static const char crlf[] = "From a b\r\nSubject: x\r\n\r\nhi\r\n\r\n"
                                   "From c d\r\n\r\nFrom e f\r\nS: y\r\n";
        memset(&g, 0, sizeof(g));
        test_assert(xc_mbox_split((const uint8_t *)crlf, strlen(crlf), collect,
                                  &g) == 3);
        test_assert(!strcmp(g.msg[0], "Subject: x\r\n\r\nhi\r\n"));
        test_assert(!strcmp(g.msg[1], ""));
        test_assert(!strcmp(g.msg[2], "S: y\r\n"));
        memset(&g, 0, sizeof(g));
        test_assert(xc_mbox_split((const uint8_t *)"Subject: no\n\nx\n", 15,
                                  collect, &g) == 0);
        test_assert(xc_mbox_split((const uint8_t *)"", 0, collect, &g) == 0);
    }
    test_end();

    test_begin("split: a callback's -1 stops it");
    {
        static const char box[] = "From a\nx\n\nFrom b\ny\n";
        int calls = 0;
        test_assert(xc_mbox_split((const uint8_t *)box, strlen(box),
                                  stop_after_one, &calls) == 1);
        test_assert(calls == 1);
    }
    test_end();

    test_begin("canonical: CRLF line ends, mboxrd quotes taken off");
    {
        static const char m[] = "Subject: s\n\nFrom here\n>From there\n"
                                ">>From far\n>not from\nCR\r\r\nend";
        xc_mbox_canonical((const uint8_t *)m, strlen(m), 1, &w);
        test_assert(streq_buf(&w, "Subject: s\r\n\r\nFrom here\r\nFrom there\r\n"
                                  ">From far\r\n>not from\r\nCR\r\nend\r\n"));
        xc_mbox_canonical((const uint8_t *)m, strlen(m), 0, &w);
        test_assert(streq_buf(&w, "Subject: s\r\n\r\nFrom here\r\n>From there\r\n"
                                  ">>From far\r\n>not from\r\nCR\r\nend\r\n"));
        xc_mbox_canonical((const uint8_t *)"", 0, 1, &w);
        test_assert(w.len == 0);
    }
    test_end();

    test_begin("entry: From_ line, LF ends, quoting, blank line");
    {
        static const char m[] = "Subject: s\r\n\r\nFrom here\r\n>From there\r\nok\r\n";
        xc_wbuf_reset(&e);
        xc_mbox_entry((const uint8_t *)m, strlen(m), NULL, 1514800800, &e);
        test_assert(streq_buf(&e, "From MAILER-DAEMON Mon Jan  1 10:00:00 2018\n"
                                  "Subject: s\n\n>From here\n>>From there\nok\n\n"));
        xc_wbuf_reset(&e);
        xc_mbox_entry((const uint8_t *)"x\r\n", 3, "bad sender", 0, &e);
        test_assert(streq_buf(&e, "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"
                                  "x\n\n"));
        xc_wbuf_reset(&e);
        xc_mbox_entry((const uint8_t *)"x\r\n", 3, "a@b.test", 0, &e);
        test_assert(!memcmp(e.p, "From a@b.test Thu", 17));
    }
    test_end();

    test_begin("read and flagged state from mbox headers and Maildir names");
    {
        static const char h1[] = "Subject: x\nStatus: RO\nX-Status: AF\n\n"
                                 "Status: body lines don't count\n";
        static const char h2[] = "status: O\r\nx-status: A\r\n\r\n";
        static const char h3[] = "Subject: x\n\nStatus: R\nX-Status: F\n";
        int r, f;
        xc_mbox_status((const uint8_t *)h1, strlen(h1), &r, &f);
        test_assert(r == 1 && f == 1);
        xc_mbox_status((const uint8_t *)h2, strlen(h2), &r, &f);
        test_assert(r == 0 && f == 0);
        xc_mbox_status((const uint8_t *)h3, strlen(h3), &r, &f);
        test_assert(r == 0 && f == 0);
        xc_mbox_status((const uint8_t *)"Status:", 7, &r, &f);
        test_assert(r == 0 && f == 0);
        xc_maildir_status("1514800000.1_1.host:2,FS", &r, &f);
        test_assert(r == 1 && f == 1);
        xc_maildir_status("1514800000.1_1.host:2,", &r, &f);
        test_assert(r == 0 && f == 0);
        xc_maildir_status("1514800000.1_1.host", &r, &f);
        test_assert(r == 0 && f == 0);
    }
    test_end();

    test_begin("2000 random messages survive entry and split");
    {
        static const char *const pieces[] = {
            "From ", ">From ", ">>From ", "From", "\n", "\r\n", "\r", ">",
            "Subject: x", " ", "body", "\n\n", "F", "rom ",
        };
        uint32_t seed = 12345;
        for (int k = 0; k < 2000; k++) {
            xc_wbuf m, c, one, back;
            int parts;

            xc_wbuf_init(&m, 0);
            xc_wbuf_init(&c, 0);
            xc_wbuf_init(&one, 0);
            xc_wbuf_init(&back, 0);
            seed = seed * 1103515245u + 12345u;
            parts = 1 + (int)((seed >> 16) % 40);
            for (int i = 0; i < parts; i++) {
                const char *p;
                seed = seed * 1103515245u + 12345u;
                p = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
                xc_put_bytes(&m, p, strlen(p));
            }
            xc_mbox_canonical(m.p, m.len, 0, &c);
            xc_wbuf_reset(&e);
            xc_mbox_entry(c.p, c.len, NULL, 1514800800, &e);
            test_assert_idx(xc_mbox_split(e.p, e.len, keep, &one) == 1, k);
            xc_mbox_canonical(one.p, one.len, 1, &back);
            test_assert_idx(back.len == c.len &&
                            (c.len == 0 || !memcmp(back.p, c.p, c.len)), k);
            xc_wbuf_free(&m);
            xc_wbuf_free(&c);
            xc_wbuf_free(&one);
            xc_wbuf_free(&back);
        }
    }
    test_end();

    xc_wbuf_free(&w);
    xc_wbuf_free(&e);
    return test_exit();
}
