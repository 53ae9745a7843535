/*
 * NAME
 *   xc_client - blocking storaged client over a UNIX socket
 */
#include "xc_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct xc_client {
    int fd;
    int broken;
    int timeout_ms;
    size_t max_frame;
    uint32_t next_id;
    uint16_t op;
    xc_wbuf out;
    const uint8_t *stream;      /* a streamed argument to send, or NULL */
    size_t stream_len;
    uint8_t *in;                /* receive buffer */
    size_t in_len, in_cap;
    size_t in_used;             /* bytes of the last frame handed out */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int xc_client_connect(const char *path, int timeout_ms, size_t max_frame,
                      xc_client **c_r, const char **error_r)
{
    struct sockaddr_un sa;
    xc_client *c;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        *error_r = "storaged socket path too long";
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *error_r = "cannot create a socket";
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        /* UNIX sockets connect at once or fail; EAGAIN = backlog full */
        *error_r = errno == EAGAIN ? "storaged is busy (backlog full)"
                 : errno == EACCES ? "permission denied on storaged socket"
                 : "storaged is not running";
        close(fd);
        return -1;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        *error_r = "out of memory";
        return -1;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    /* From here on the socket blocks, bounded by the timeout: one recv per
       answer instead of recv (EAGAIN) + poll + recv. */
    {
        struct timeval tv = { .tv_sec = c->timeout_ms / 1000,
                              .tv_usec = (c->timeout_ms % 1000) * 1000 };
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
            close(fd);
            free(c);
            *error_r = "cannot set up the storaged socket";
            return -1;
        }
    }
    c->max_frame = max_frame ? max_frame : XW_DEFAULT_MAX_FRAME;
    c->next_id = 1;
    xc_wbuf_init(&c->out, c->max_frame);
    *c_r = c;
    return 0;
}

void xc_client_destroy(xc_client **cp)
{
    xc_client *c = *cp;

    if (c == NULL)
        return;
    close(c->fd);
    xc_wbuf_free(&c->out);
    free(c->in);
    free(c);
    *cp = NULL;
}

int xc_client_broken(const xc_client *c)
{
    return c->broken;
}

int xc_client_alive(xc_client *c)
{
    struct pollfd p = { .fd = c->fd, .events = POLLIN };

    if (c->broken)
        return 0;
    /* between calls nothing may arrive: readable means EOF or garbage */
    if (poll(&p, 1, 0) != 0)
        c->broken = 1;
    return !c->broken;
}

xc_wbuf *xc_client_begin(xc_client *c, uint16_t op)
{
    c->op = op;
    c->stream = NULL;
    c->stream_len = 0;
    xw_frame_begin(&c->out, 0, op, c->next_id);
    return &c->out;
}

void xc_client_stream(xc_client *c, const uint8_t *p, size_t n)
{
    c->stream = p;
    c->stream_len = n;
}

static int send_buf(xc_client *c, const uint8_t *p, size_t len,
                    long long deadline, const char **error_r)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(c->fd, p + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *error_r = "timeout sending to storaged";
            return -1;
        }
        if (now_ms() > deadline) {
            *error_r = "timeout sending to storaged";
            return -1;
        }
        *error_r = "connection to storaged lost";
        return -1;
    }
    return 0;
}

/* The request in c->out, then its streamed argument in XW_F_CHUNK frames
   (the request frame says XW_F_MORE; the last chunk doesn't). */
static int send_all(xc_client *c, uint32_t id, long long deadline,
                    const char **error_r)
{
    xc_wbuf h;
    size_t off = 0;
    int rc = 0;

    if (c->stream == NULL)
        return send_buf(c, c->out.p, c->out.len, deadline, error_r);
    c->out.p[5] |= XW_F_MORE;           /* the flags byte */
    if (send_buf(c, c->out.p, c->out.len, deadline, error_r) < 0)
        return -1;
    xc_wbuf_init(&h, XW_HDR_LEN);
    do {
        size_t k = c->stream_len - off < XW_CHUNK ? c->stream_len - off
                                                  : XW_CHUNK;

        xw_frame_begin(&h, XW_F_CHUNK | (off + k < c->stream_len ? XW_F_MORE
                                                                  : 0),
                       c->op, id);
        xc_patch_u32(&h, 0, (uint32_t)(XW_HDR_LEN - 4 + k));
        if (h.err) {
            *error_r = "out of memory";
            rc = -1;
        } else if (send_buf(c, h.p, h.len, deadline, error_r) < 0 ||
                   send_buf(c, c->stream + off, k, deadline, error_r) < 0) {
            rc = -1;
        }
        off += k;
    } while (rc == 0 && off < c->stream_len);
    xc_wbuf_free(&h);
    return rc;
}

/* Read one whole frame into c->in; returns 0 and the header. */
static int read_frame(xc_client *c, long long deadline, xw_hdr *hdr,
                      const char **error_r)
{
    if (c->in_used) {
        memmove(c->in, c->in + c->in_used, c->in_len - c->in_used);
        c->in_len -= c->in_used;
        c->in_used = 0;
    }
    for (;;) {
        xw_parse pr = xw_frame_parse(c->in, c->in_len, c->max_frame, hdr,
                                     error_r);
        ssize_t n;

        if (pr == XW_PARSE_DONE) {
            c->in_used = hdr->len;
            return 0;
        }
        if (pr == XW_PARSE_ERROR)
            return -1;
        if (c->in_cap - c->in_len < 4096) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 16384;
            uint8_t *p;
            if (cap > c->max_frame + 4096)
                cap = c->max_frame + 4096;
            if (cap <= c->in_len) {
                *error_r = "frame exceeds the size limit";
                return -1;
            }
            p = realloc(c->in, cap);
            if (p == NULL) {
                *error_r = "out of memory";
                return -1;
            }
            c->in = p;
            c->in_cap = cap;
        }
        if (now_ms() > deadline) {
            *error_r = "timeout waiting for storaged";
            return -1;
        }
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *error_r = "timeout waiting for storaged";
            return -1;
        }
        *error_r = "connection to storaged lost";
        return -1;
    }
}

int xc_client_call(xc_client *c, const xc_callbacks *cb, xc_reply *reply,
                   const char **error_r)
{
    long long deadline = now_ms() + c->timeout_ms;
    uint32_t id = c->next_id++;
    xc_propval rowbuf[XC_REPLY_MAX_PROPS];

    if (c->next_id == 0)
        c->next_id = 1;
    if (c->broken) {
        *error_r = "connection to storaged is broken";
        return -1;
    }
    if (xw_frame_end(&c->out) < 0) {
        *error_r = "request exceeds the frame size limit";
        return -1;          /* not broken: nothing was sent */
    }
    if (send_all(c, id, deadline, error_r) < 0)
        goto broken;
    for (;;) {
        xw_hdr h;
        const uint8_t *pl;
        size_t pllen, n;

        if (read_frame(c, deadline, &h, error_r) < 0)
            goto broken;
        if (!(h.flags & XW_F_RESPONSE) || (h.flags & XW_F_PUSH))
            continue;   /* notifications are not for a plain call */
        if (h.reqid != id || h.op != c->op) {
            *error_r = "reply for an unknown request";
            goto broken;
        }
        pl = c->in + XW_HDR_LEN;
        pllen = h.len - XW_HDR_LEN;
        if (h.flags & XW_F_CHUNK) {
            if (cb == NULL || cb->chunk == NULL ||
                cb->chunk(cb->ctx, pl, pllen) < 0) {
                *error_r = "streamed value not consumed";
                goto broken;
            }
            if (h.flags & XW_F_MORE)
                continue;
            *error_r = "streamed value ended a reply";
            goto broken;
        }
        if (h.flags & XW_F_MORE) {
            if (xc_props_decode(pl, pllen, rowbuf, XC_REPLY_MAX_PROPS, &n,
                                error_r) < 0)
                goto broken;
            if (cb == NULL || cb->row == NULL ||
                cb->row(cb->ctx, rowbuf, n) < 0) {
                *error_r = "row not consumed";
                goto broken;
            }
            continue;
        }
        if (xc_props_decode(pl, pllen, reply->props, XC_REPLY_MAX_PROPS,
                            &reply->nprops, error_r) < 0)
            goto broken;
        if (reply->nprops == 0 || reply->props[0].tag != XW_TAG_STATUS) {
            *error_r = "reply without a status";
            goto broken;
        }
        reply->status = (uint32_t)reply->props[0].v.i32;
        reply->errmsg[0] = '\0';
        {
            const xc_propval *m = xc_reply_get(reply, XW_TAG_ERRMSG);
            if (m != NULL) {
                size_t k = m->v.bin.n < sizeof(reply->errmsg) - 1
                               ? m->v.bin.n : sizeof(reply->errmsg) - 1;
                memcpy(reply->errmsg, m->v.bin.p, k);
                reply->errmsg[k] = '\0';
            }
        }
        return 0;
    }
broken:
    c->broken = 1;
    return -1;
}

const xc_propval *xc_reply_get(const xc_reply *r, uint32_t tag)
{
    return xc_props_find(r->props, r->nprops, tag);
}

int xc_reply_str(const xc_reply *r, uint32_t tag, char *dst, size_t dstlen)
{
    return xc_props_str(r->props, r->nprops, tag, dst, dstlen);
}

int64_t xc_reply_i8(const xc_reply *r, uint32_t tag, int64_t dflt)
{
    const xc_propval *v = xc_reply_get(r, tag);
    return v ? v->v.i64 : dflt;
}
