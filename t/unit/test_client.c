/*
 * test_client - lib/xc_client against a scripted fake storaged
 *
 * A thread plays storaged on a UNIX socket: for each scenario it reads one
 * request and answers with a script of frames (rows, chunks of a streamed
 * value, pushes, a wrong request id, a hang-up or silence). The client must
 * hand rows and chunks to its callbacks, skip pushes, and mark itself
 * broken on anything that desynchronises the stream.
 */
#include "tap.h"
#include "xc_client.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum scenario { S_ROWS, S_CHUNKS, S_PUSH, S_WRONG_ID, S_HANGUP, S_SILENT };

static char path[108];
static int lfd;
static enum scenario current;

static void send_frame(int fd, uint8_t flags, uint16_t op, uint32_t id,
                       void (*fill)(xc_wbuf *, int), int arg)
{
    xc_wbuf w;

    xc_wbuf_init(&w, 0);
    xw_frame_begin(&w, flags, op, id);
    if (fill)
        fill(&w, arg);
    xw_frame_end(&w);
    (void)!write(fd, w.p, w.len);
    xc_wbuf_free(&w);
}

static void fill_row(xc_wbuf *w, int i)
{
    xc_put_long(w, PROP_TAG(PT_LONG, 0x6000), i);
    xc_put_str(w, PR_DISPLAY_NAME, "row");
}

static void fill_chunk(xc_wbuf *w, int i)
{
    char piece[1000];
    memset(piece, 'a' + i, sizeof(piece));
    xc_put_bytes(w, piece, sizeof(piece));
}

static void fill_final(xc_wbuf *w, int st)
{
    xc_put_long(w, XW_TAG_STATUS, st);
    xc_put_str(w, XW_TAG_ERRMSG, st ? "nope" : "");
    xc_put_i8(w, XW_TAG_USER_ID, 42);
}

static void *server(void *arg)
{
    (void)arg;
    for (;;) {
        uint8_t buf[4096];
        size_t len = 0;
        xw_hdr h;
        const char *err;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0)
            return NULL;
        for (;;) {
            ssize_t n = read(fd, buf + len, sizeof(buf) - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            if (xw_frame_parse(buf, len, sizeof(buf), &h, &err) != XW_PARSE_MORE)
                break;
        }
        if (xw_frame_parse(buf, len, sizeof(buf), &h, &err) != XW_PARSE_DONE) {
            close(fd);
            continue;
        }
        switch (current) {
        case S_ROWS:
            for (int i = 0; i < 3; i++)
                send_frame(fd, XW_F_RESPONSE | XW_F_MORE, h.op, h.reqid, fill_row, i);
            send_frame(fd, XW_F_RESPONSE, h.op, h.reqid, fill_final, XC_OK);
            break;
        case S_CHUNKS:
            for (int i = 0; i < 5; i++)
                send_frame(fd, XW_F_RESPONSE | XW_F_MORE | XW_F_CHUNK, h.op,
                           h.reqid, fill_chunk, i);
            send_frame(fd, XW_F_RESPONSE, h.op, h.reqid, fill_final, XC_E_NOTFOUND);
            break;
        case S_PUSH:
            send_frame(fd, XW_F_RESPONSE | XW_F_PUSH, 77, 0, fill_row, 9);
            send_frame(fd, XW_F_RESPONSE, h.op, h.reqid, fill_final, XC_OK);
            break;
        case S_WRONG_ID:
            send_frame(fd, XW_F_RESPONSE, h.op, h.reqid + 1, fill_final, XC_OK);
            break;
        case S_HANGUP:
            send_frame(fd, XW_F_RESPONSE | XW_F_MORE, h.op, h.reqid, fill_row, 1);
            break;
        case S_SILENT:
            usleep(400 * 1000);
            break;
        }
        usleep(50 * 1000);
        close(fd);
    }
}

typedef struct { int rows; size_t bytes; int bad; } seen;

static int on_row(void *ctx, const xc_propval *pv, size_t n)
{
    seen *s = ctx;
    const xc_propval *v = xc_props_find(pv, n, PROP_TAG(PT_LONG, 0x6000));
    if (v == NULL || v->v.i32 != s->rows)
        s->bad = 1;
    s->rows++;
    return 0;
}

static int on_chunk(void *ctx, const uint8_t *p, size_t n)
{
    seen *s = ctx;
    for (size_t i = 0; i < n; i++)
        if (p[i] != 'a' + (int)(s->bytes / 1000))
            s->bad = 1, i = n;
    s->bytes += n;
    return 0;
}

static xc_client *connect_c(int timeout_ms)
{
    xc_client *c = NULL;
    const char *err;
    if (xc_client_connect(path, timeout_ms, 0, &c, &err) < 0)
        return NULL;
    return c;
}

int main(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    pthread_t t;
    xc_client *c;
    xc_reply rep;
    const char *err;
    seen s;
    xc_callbacks cb = { on_row, on_chunk, &s };

    /* the fake server writes to clients that may have hung up already */
    signal(SIGPIPE, SIG_IGN);
    snprintf(path, sizeof(path), "/tmp/xc-test-client.%d.sock", (int)getpid());
    unlink(path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0) {
        perror("bind");
        return 1;
    }
    pthread_create(&t, NULL, server, NULL);

    test_begin("connecting to a missing socket fails with a message");
    {
        xc_client *none = NULL;
        test_assert(xc_client_connect("/tmp/xc-no-such.sock", 1000, 0, &none,
                                      &err) < 0 && none == NULL &&
                    strstr(err, "not running") != NULL);
    }
    test_end();

    test_begin("rows go to the row callback in order, then the final reply");
    current = S_ROWS;
    memset(&s, 0, sizeof(s));
    c = connect_c(2000);
    test_assert(c != NULL);
    xc_put_str(xc_client_begin(c, XW_OP_LIST_FOLDERS), XW_TAG_SESSION, "x");
    test_assert(xc_client_call(c, &cb, &rep, &err) == 0);
    test_assert(s.rows == 3 && !s.bad);
    test_assert(rep.status == XC_OK && xc_reply_i8(&rep, XW_TAG_USER_ID, 0) == 42);
    test_assert(!xc_client_broken(c));
    xc_client_destroy(&c);
    test_assert(c == NULL);
    test_end();

    test_begin("a streamed value arrives as chunks; an error status is a reply");
    current = S_CHUNKS;
    memset(&s, 0, sizeof(s));
    c = connect_c(2000);
    xc_client_begin(c, XW_OP_HELLO);
    test_assert(xc_client_call(c, &cb, &rep, &err) == 0);
    test_assert(s.bytes == 5000 && !s.bad);
    test_assert(rep.status == XC_E_NOTFOUND && strcmp(rep.errmsg, "nope") == 0);
    xc_client_destroy(&c);
    test_end();

    test_begin("chunks without a chunk callback break the client");
    current = S_CHUNKS;
    c = connect_c(2000);
    xc_client_begin(c, XW_OP_HELLO);
    test_assert(xc_client_call(c, NULL, &rep, &err) < 0 && xc_client_broken(c));
    xc_client_destroy(&c);
    test_end();

    test_begin("pushed frames are skipped by a plain call");
    current = S_PUSH;
    c = connect_c(2000);
    xc_client_begin(c, XW_OP_HELLO);
    test_assert(xc_client_call(c, &cb, &rep, &err) == 0 && rep.status == XC_OK);
    xc_client_destroy(&c);
    test_end();

    test_begin("a reply to another request id breaks the client");
    current = S_WRONG_ID;
    c = connect_c(2000);
    xc_client_begin(c, XW_OP_HELLO);
    test_assert(xc_client_call(c, NULL, &rep, &err) < 0);
    test_assert(xc_client_broken(c) && strstr(err, "unknown request") != NULL);
    xc_client_begin(c, XW_OP_HELLO);
    test_assert(xc_client_call(c, NULL, &rep, &err) < 0);   /* stays broken */
    xc_client_destroy(&c);
    test_end();

    test_begin("a hang-up in the middle of a reply breaks the client");
    current = S_HANGUP;
    memset(&s, 0, sizeof(s));
    c = connect_c(2000);
    xc_client_begin(c, XW_OP_LIST_FOLDERS);
    test_assert(xc_client_call(c, &cb, &rep, &err) < 0 && xc_client_broken(c));
    test_assert(strstr(err, "lost") != NULL);
    xc_client_destroy(&c);
    test_end();

    test_begin("a silent server times out");
    current = S_SILENT;
    c = connect_c(150);
    xc_client_begin(c, XW_OP_HELLO);
    test_assert(xc_client_call(c, NULL, &rep, &err) < 0 &&
                strstr(err, "timeout") != NULL && xc_client_broken(c));
    xc_client_destroy(&c);
    test_end();

    test_begin("xc_client_alive notices that the server closed");
    current = S_ROWS;
    memset(&s, 0, sizeof(s));
    c = connect_c(2000);
    xc_client_begin(c, XW_OP_HELLO);
    test_assert(xc_client_call(c, &cb, &rep, &err) == 0);
    test_assert(xc_client_alive(c) == 1);
    usleep(200 * 1000);         /* the fake server closes after 50 ms */
    test_assert(xc_client_alive(c) == 0 && xc_client_broken(c));
    xc_client_destroy(&c);
    test_end();

    test_begin("a request over the frame limit is refused before sending");
    current = S_ROWS;
    {
        xc_client *small = NULL;
        static char big[8192];
        memset(big, 'x', sizeof(big) - 1);
        test_assert(xc_client_connect(path, 2000, 4096, &small, &err) == 0);
        xc_put_str(xc_client_begin(small, XW_OP_HELLO), XW_TAG_USER, big);
        test_assert(xc_client_call(small, NULL, &rep, &err) < 0 &&
                    !xc_client_broken(small));
        xc_client_destroy(&small);
    }
    test_end();

    close(lfd);
    unlink(path);
    return test_exit();
}
