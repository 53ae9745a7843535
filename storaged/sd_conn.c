/*
 * NAME
 *   sd_conn - client connections and the worker pool of storaged
 *
 * DESCRIPTION
 *   A reader thread per connection splits the byte stream into frames with
 *   the pure codec of lib/xc_wire.c and queues each request; at most
 *   max_inflight requests of one connection wait or run at a time (the
 *   reader stops reading beyond that: back-pressure, bounded memory).
 *   Workers take requests from the queue, each with its own libpq
 *   connection, and write the answer frames under the connection's write
 *   lock, so answers to one connection can come in any order.
 *
 *   A malformed frame closes the connection (the stream can't be resynced);
 *   a well-framed request with bad arguments gets XC_E_BADREQ and the
 *   connection lives on. A client that stops reading for io_timeout seconds
 *   is dropped.
 */
#include "sd.h"
#include "xc_ids.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_SUBS 64            /* subscriptions per connection */

typedef struct sub {
    uint32_t id;                /* the SUBSCRIBE request id */
    int64_t mailbox;
    int64_t fid;                /* global counter, or -1: whole mailbox */
} sub;

typedef struct conn {
    int fd;
    sub subs[MAX_SUBS];         /* under qlock */
    int nsubs;
    uid_t uid;
    pid_t pid;
    pthread_mutex_t wlock;      /* one writer at a time */
    int inflight;               /* under qlock */
    int refs;                   /* under qlock */
    int dead;
    struct conn *next, *prev;   /* under qlock */
} conn;

typedef struct job {
    struct job *next;
    conn *c;
    xw_hdr hdr;
    uint8_t *stream;            /* a streamed argument's bytes, or NULL */
    size_t stream_len, stream_cap;
    int stream_over;            /* 1: past max_message_size; 2: past
                                   max_stream_memory (all connections);
                                   3: the spool failed (disk full) */
    int spool_fd;               /* past SPOOL_AT: the bytes in an unlinked
                                   file (+1: 0 means none) */
    int mapped;                 /* stream is that file, mapped */
    uint8_t frame[];
} job;

/*
 * A streamed argument past SPOOL_AT bytes goes on to an unlinked file in
 * spool_dir and is mapped when the request runs: a 50 MB attachment costs
 * page cache the kernel may reclaim, not 50 MB of storaged's heap, and
 * max_stream_memory bounds only what is held in memory.
 */
#define SPOOL_AT (1u << 20)

/* Bytes held by streamed requests of every connection (their buffers'
   capacity), bounded by max_stream_memory. */
static size_t stream_memory;

static void job_free(job *j)
{
    if (j->stream_cap > 0)
        __atomic_sub_fetch(&stream_memory, j->stream_cap, __ATOMIC_RELAXED);
    if (j->mapped)
        munmap(j->stream, j->stream_len);
    else
        free(j->stream);
    if (j->spool_fd > 0)
        close(j->spool_fd - 1);
    free(j);
}

/* An unlinked file of storaged's own in spool_dir; -1 on failure. */
static int spool_open(void)
{
    const char *dir = sd_config->spool_dir;
    char path[PATH_MAX];
    int fd;

    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    /* a file system without O_TMPFILE: a named file, unlinked at once */
    if (snprintf(path, sizeof(path), "%s/storaged-spool.XXXXXX", dir) >=
        (int)sizeof(path))
        return -1;
    if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
        return -1;
    unlink(path);
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Move j's stream to the spool, or add n bytes to it there. */
static int spool_add(job *j, const uint8_t *p, size_t n)
{
    if (j->spool_fd == 0) {
        int fd = spool_open();
        if (fd < 0 || write_all(fd, j->stream, j->stream_len) < 0) {
            if (fd >= 0)
                close(fd);
            sd_log_error(36, "cannot spool a streamed request in %s: %s",
                         sd_config->spool_dir, strerror(errno));
            return -1;
        }
        j->spool_fd = fd + 1;
        __atomic_sub_fetch(&stream_memory, j->stream_cap, __ATOMIC_RELAXED);
        free(j->stream);
        j->stream = NULL;
        j->stream_cap = 0;
    }
    if (n > 0 && write_all(j->spool_fd - 1, p, n) < 0) {
        sd_log_error(36, "cannot spool a streamed request in %s: %s",
                     sd_config->spool_dir, strerror(errno));
        return -1;
    }
    j->stream_len += n;
    return 0;
}

/* A spooled stream, mapped for the request to read; -1 on failure. */
static int spool_map(job *j)
{
    void *p;

    if (j->spool_fd == 0 || j->mapped)
        return 0;
    p = mmap(NULL, j->stream_len, PROT_READ, MAP_SHARED, j->spool_fd - 1, 0);
    if (p == MAP_FAILED)
        return -1;
    j->stream = p;
    j->mapped = 1;
    return 0;
}

struct sd_reply {
    conn *c;
    uint16_t op;
    uint32_t reqid;
    xc_wbuf row, fin;
    int have_status;
};

const sd_conf *sd_config;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;   /* jobs queued */
static pthread_cond_t slot = PTHREAD_COND_INITIALIZER;    /* inflight-- */
static pthread_cond_t gone = PTHREAD_COND_INITIALIZER;    /* conn freed */
static job *qhead, **qtail = &qhead;
static conn *conns;
static int nconns;
static int stopping;
static pthread_t *workers;
static int nworkers;
static int total_subs;          /* under qlock */

static void conn_unref_locked(conn *c)
{
    if (--c->refs > 0)
        return;
    total_subs -= c->nsubs;
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    nconns--;
    close(c->fd);
    pthread_mutex_destroy(&c->wlock);
    free(c);
    pthread_cond_broadcast(&gone);
}

static int send_frame(conn *c, xc_wbuf *w)
{
    size_t off = 0;
    int rc = 0;

    if (xw_frame_end(w) < 0)
        return -1;
    pthread_mutex_lock(&c->wlock);
    while (!c->dead && off < w->len) {
        ssize_t n = send(c->fd, w->p + off, w->len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            sd_log_warn(17, "client pid %d stopped reading; dropping it",
                        (int)c->pid);
        c->dead = 1;
        shutdown(c->fd, SHUT_RDWR);     /* wakes the reader */
    }
    rc = c->dead ? -1 : 0;
    pthread_mutex_unlock(&c->wlock);
    return rc;
}

xc_wbuf *sd_reply_begin_row(sd_reply *rp)
{
    xw_frame_begin(&rp->row, XW_F_RESPONSE | XW_F_MORE, rp->op, rp->reqid);
    return &rp->row;
}

int sd_reply_row(sd_reply *rp, xc_wbuf *row)
{
    return send_frame(rp->c, row);
}

int sd_reply_stream(sd_reply *rp, const uint8_t *p, size_t n)
{
    xc_wbuf w;
    int rc = 0;

    xc_wbuf_init(&w, XW_HDR_LEN + XW_CHUNK);
    for (size_t off = 0; off < n && rc == 0; off += XW_CHUNK) {
        size_t k = n - off < XW_CHUNK ? n - off : XW_CHUNK;
        xw_frame_begin(&w, XW_F_RESPONSE | XW_F_CHUNK | XW_F_MORE, rp->op,
                       rp->reqid);
        xc_put_bytes(&w, p + off, k);
        rc = send_frame(rp->c, &w);
    }
    xc_wbuf_free(&w);
    return rc;
}

void sd_reply_status(sd_reply *rp, xc_status st, const char *msg)
{
    xw_frame_begin(&rp->fin, XW_F_RESPONSE, rp->op, rp->reqid);
    xc_put_long(&rp->fin, XW_TAG_STATUS, (int32_t)st);
    if (msg != NULL)
        xc_put_str(&rp->fin, XW_TAG_ERRMSG, msg);
    rp->have_status = 1;
}

xc_wbuf *sd_reply_final(sd_reply *rp)
{
    return &rp->fin;
}

uint32_t sd_reply_reqid(const sd_reply *rp)
{
    return rp->reqid;
}

xc_status sd_conn_subscribe(sd_reply *rp, uint32_t subid, int64_t mailbox,
                            int64_t fid)
{
    conn *c = rp->c;
    xc_status st = XC_OK;

    pthread_mutex_lock(&qlock);
    if (c->nsubs == MAX_SUBS) {
        st = XC_E_LIMIT;
    } else {
        c->subs[c->nsubs++] = (sub){ subid, mailbox, fid };
        total_subs++;
    }
    pthread_mutex_unlock(&qlock);
    return st;
}

xc_status sd_conn_unsubscribe(sd_reply *rp, uint32_t subid)
{
    conn *c = rp->c;
    xc_status st = XC_E_NOTFOUND;

    pthread_mutex_lock(&qlock);
    for (int i = 0; i < c->nsubs; i++)
        if (c->subs[i].id == subid) {
            c->subs[i] = c->subs[--c->nsubs];
            total_subs--;
            st = XC_OK;
            break;
        }
    pthread_mutex_unlock(&qlock);
    return st;
}

int sd_conns_have_subscribers(void)
{
    int n;

    pthread_mutex_lock(&qlock);
    n = total_subs;
    pthread_mutex_unlock(&qlock);
    return n > 0;
}

/*
 * Called by the listener thread: find the subscriptions that match (taking
 * a reference on their connections), then send outside the lock, each
 * connection's frames under its own write lock.
 */
void sd_conns_notify(int64_t mailbox, uint16_t replid, uint64_t cn,
                     const char *kind, uint64_t fid, int64_t mid)
{
    struct target { conn *c; uint32_t id; } *t = NULL;
    int n = 0, cap = 0;
    xc_wbuf w;

    pthread_mutex_lock(&qlock);
    for (conn *c = conns; c != NULL; c = c->next) {
        if (c->dead)
            continue;
        for (int i = 0; i < c->nsubs; i++) {
            const sub *s = &c->subs[i];
            if (s->mailbox != mailbox || (s->fid >= 0 && (uint64_t)s->fid != fid))
                continue;
            if (n == cap) {
                struct target *nt;
                cap = cap ? cap * 2 : 16;
                nt = realloc(t, sizeof(*t) * (size_t)cap);
                if (nt == NULL)
                    break;
                t = nt;
            }
            c->refs++;
            t[n++] = (struct target){ c, s->id };
        }
    }
    pthread_mutex_unlock(&qlock);
    xc_wbuf_init(&w, 4096);
    for (int i = 0; i < n; i++) {
        xw_frame_begin(&w, XW_F_RESPONSE | XW_F_PUSH, XW_OP_SUBSCRIBE, t[i].id);
        xc_put_i8(&w, XW_TAG_CN, (int64_t)cn);
        xc_put_str(&w, XW_TAG_KIND, kind);
        xc_put_i8(&w, PR_FID, (int64_t)xc_make_id(replid, fid));
        if (mid >= 0)
            xc_put_i8(&w, PR_MID, (int64_t)xc_make_id(replid, (uint64_t)mid));
        (void)send_frame(t[i].c, &w);
    }
    xc_wbuf_free(&w);
    pthread_mutex_lock(&qlock);
    for (int i = 0; i < n; i++)
        conn_unref_locked(t[i].c);
    pthread_mutex_unlock(&qlock);
    free(t);
}

/*
 * Run one request. With db == NULL (a reader thread) only what can be
 * answered from memory is: returns 0 without answering otherwise, and the
 * request goes to a worker. Returns 1 once answered.
 */
static int run_job(sd_db *db, job *j)
{
    sd_reply rp = { .c = j->c, .op = j->hdr.op, .reqid = j->hdr.reqid };
    sd_req req;
    const char *err = NULL;
    int spool_bad;

    xc_wbuf_init(&rp.row, sd_config->max_frame);
    xc_wbuf_init(&rp.fin, sd_config->max_frame);
    memset(&req, 0, sizeof(req));
    req.hdr = j->hdr;
    req.payload = j->frame + XW_HDR_LEN;
    req.len = j->hdr.len - XW_HDR_LEN;
    spool_bad = spool_map(j) < 0;
    req.stream = j->stream;
    req.stream_len = j->stream_len;
    req.peer_uid = j->c->uid;
    if (j->hdr.flags != 0 && j->hdr.flags != XW_F_MORE) {
        sd_reply_status(&rp, XC_E_BADREQ, "a request frame carries no flags "
                        "but XW_F_MORE");
    } else if (j->stream_over == 2) {
        sd_reply_status(&rp, XC_E_TEMP, "too many streamed requests at once "
                        "(max_stream_memory): try again");
    } else if (j->stream_over == 3 || spool_bad) {
        sd_reply_status(&rp, XC_E_TEMP, "no room to spool the streamed "
                        "value: try again");
    } else if (j->stream_over) {
        sd_reply_status(&rp, XC_E_LIMIT, "streamed value exceeds "
                        "max_message_size");
    } else if ((req.args = malloc(sizeof(*req.args) *
                                  (req.len / 4 + 1 < XW_MAX_PROPS
                                       ? req.len / 4 + 1 : XW_MAX_PROPS)))
               == NULL) {
        sd_reply_status(&rp, XC_E_TEMP, "out of memory");
    } else if (xc_props_decode(req.payload, req.len, req.args,
                               req.len / 4 + 1 < XW_MAX_PROPS
                                   ? req.len / 4 + 1 : XW_MAX_PROPS,
                               &req.nargs, &err) < 0) {
        sd_reply_status(&rp, XC_E_BADREQ, err);
    } else if (db != NULL) {
        sd_ops_run(db, &req, &rp);
    } else if (!sd_ops_fast(&req, &rp)) {
        free(req.args);
        xc_wbuf_free(&rp.row);
        xc_wbuf_free(&rp.fin);
        return 0;
    }
    free(req.args);
    if (!rp.have_status)
        sd_reply_status(&rp, XC_E_INTERNAL, "no answer");
    if (rp.fin.err)
        sd_reply_status(&rp, XC_E_LIMIT, "answer exceeds the frame size");
    (void)send_frame(j->c, &rp.fin);
    /* answers may hold secrets (session tokens): wipe before freeing */
    if (rp.fin.p)
        memset(rp.fin.p, 0, rp.fin.cap);
    memset(j->frame, 0, j->hdr.len);    /* requests hold passwords */
    xc_wbuf_free(&rp.row);
    xc_wbuf_free(&rp.fin);
    return 1;
}

static void *worker_main(void *arg)
{
    sd_db db;

    (void)arg;
    (void)sd_db_open(&db, sd_config->database);    /* retried per query */
    pthread_mutex_lock(&qlock);
    for (;;) {
        job *j;

        while (qhead == NULL && !stopping)
            pthread_cond_wait(&qcond, &qlock);
        if (qhead == NULL)
            break;
        j = qhead;
        qhead = j->next;
        if (qhead == NULL)
            qtail = &qhead;
        pthread_mutex_unlock(&qlock);

        (void)run_job(&db, j);

        pthread_mutex_lock(&qlock);
        j->c->inflight--;
        pthread_cond_broadcast(&slot);
        conn_unref_locked(j->c);
        job_free(j);
    }
    pthread_mutex_unlock(&qlock);
    sd_db_close(&db);
    return NULL;
}

int sd_workers_start(const sd_conf *conf)
{
    sd_config = conf;
    workers = calloc((size_t)conf->workers, sizeof(*workers));
    if (workers == NULL)
        return -1;
    for (nworkers = 0; nworkers < conf->workers; nworkers++)
        if (pthread_create(&workers[nworkers], NULL, worker_main, NULL))
            return -1;
    return 0;
}

void sd_workers_stop(void)
{
    pthread_mutex_lock(&qlock);
    stopping = 1;
    pthread_cond_broadcast(&qcond);
    pthread_mutex_unlock(&qlock);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    free(workers);
}

/* Append a chunk to j's streamed argument, up to max_message_size plus
   room for the request's own framing; beyond it the bytes are dropped and
   the request gets XC_E_LIMIT. -1: out of memory. */
static int stream_add(job *j, const uint8_t *p, size_t n)
{
    size_t limit = sd_config->max_message_size + 65536;

    if (j->stream_over)
        return 0;
    if (n > limit - j->stream_len) {
        j->stream_over = 1;
        return 0;
    }
    if (j->spool_fd > 0 || j->stream_len + n > SPOOL_AT) {
        if (spool_add(j, p, n) < 0)
            j->stream_over = 3;
        return 0;
    }
    /* the first chunk makes the stream, even an empty one */
    if (j->stream_len + n > j->stream_cap || j->stream == NULL) {
        size_t cap = j->stream_cap ? j->stream_cap : 65536;
        uint8_t *np;
        while (cap < j->stream_len + n)
            cap *= 2;
        if (cap > limit)
            cap = limit;
        /* the growth counts against every connection's budget */
        if (__atomic_add_fetch(&stream_memory, cap - j->stream_cap,
                               __ATOMIC_RELAXED) >
            sd_config->max_stream_memory) {
            __atomic_sub_fetch(&stream_memory, cap - j->stream_cap,
                               __ATOMIC_RELAXED);
            j->stream_over = 2;
            return 0;
        }
        if ((np = realloc(j->stream, cap)) == NULL) {
            __atomic_sub_fetch(&stream_memory, cap - j->stream_cap,
                               __ATOMIC_RELAXED);
            sd_log_error(18, "out of memory");
            return -1;
        }
        j->stream = np;
        j->stream_cap = cap;
    }
    if (n > 0)
        memcpy(j->stream + j->stream_len, p, n);
    j->stream_len += n;
    return 0;
}

/* Answer j from memory right here, or queue it for a worker; -1 if the
   connection died meanwhile. */
static int dispatch(conn *c, job *j)
{
    if (run_job(NULL, j)) {
        job_free(j);
        return 0;
    }
    pthread_mutex_lock(&qlock);
    while (c->inflight >= sd_config->max_inflight && !c->dead)
        pthread_cond_wait(&slot, &qlock);
    c->inflight++;
    c->refs++;
    *qtail = j;
    qtail = &j->next;
    pthread_cond_signal(&qcond);
    pthread_mutex_unlock(&qlock);
    return 0;
}

static void *reader_main(void *arg)
{
    conn *c = arg;
    size_t cap = 65536, len = 0;
    uint8_t *buf = malloc(cap);
    job *pending = NULL, *j;

    while (buf != NULL) {
        xw_hdr h;
        const char *err = NULL;
        xw_parse pr = xw_frame_parse(buf, len, sd_config->max_frame, &h, &err);

        if (pr == XW_PARSE_ERROR) {
            sd_log_warn(9, "bad frame from client pid %d: %s", (int)c->pid,
                        err);
            break;
        }
        if (pr == XW_PARSE_DONE && (h.flags & XW_F_CHUNK)) {
            /* a piece of the pending request's streamed argument */
            if (pending == NULL || h.reqid != pending->hdr.reqid ||
                h.op != pending->hdr.op ||
                (h.flags & ~(XW_F_CHUNK | XW_F_MORE))) {
                sd_log_warn(9, "bad frame from client pid %d: a chunk "
                            "outside a streamed request", (int)c->pid);
                break;
            }
            if (stream_add(pending, buf + XW_HDR_LEN, h.len - XW_HDR_LEN) < 0)
                break;
            memmove(buf, buf + h.len, len - h.len);
            len -= h.len;
            if (h.flags & XW_F_MORE)
                continue;
            j = pending;
            pending = NULL;
            if (dispatch(c, j) < 0)
                break;
            continue;
        }
        if (pr == XW_PARSE_DONE) {
            if (pending != NULL) {
                sd_log_warn(9, "bad frame from client pid %d: a request "
                            "inside a streamed request", (int)c->pid);
                break;
            }
            j = calloc(1, sizeof(*j) + h.len);
            if (j == NULL) {
                sd_log_error(18, "out of memory");
                break;
            }
            j->c = c;
            j->hdr = h;
            memcpy(j->frame, buf, h.len);
            memset(buf, 0, h.len);
            memmove(buf, buf + h.len, len - h.len);
            len -= h.len;
            if (h.flags == XW_F_MORE) {
                pending = j;        /* its streamed argument follows */
                continue;
            }
            if (dispatch(c, j) < 0)
                break;
            continue;
        }
        if (cap - len < 4096 || (len >= 4 && xc_le32(buf) + 4 > cap)) {
            size_t want = len >= 4 ? (size_t)xc_le32(buf) + 4 : cap * 2;
            uint8_t *nb;
            if (want < cap * 2)
                want = cap * 2;
            nb = realloc(buf, want);
            if (nb == NULL)
                break;
            buf = nb;
            cap = want;
        }
        {
            ssize_t n = recv(c->fd, buf + len, cap - len, 0);
            if (n > 0)
                len += (size_t)n;
            else if (n < 0 && errno == EINTR)
                continue;
            else
                break;      /* EOF, error, or shutdown */
        }
    }
    if (buf != NULL) {
        memset(buf, 0, cap);
        free(buf);
    }
    if (pending != NULL)
        job_free(pending);
    shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_lock(&qlock);
    c->dead = 1;
    conn_unref_locked(c);
    pthread_mutex_unlock(&qlock);
    return NULL;
}

int sd_conn_start(int fd, uid_t uid, pid_t pid)
{
    conn *c;
    pthread_t t;
    pthread_attr_t at;
    struct timeval tv = { .tv_sec = sd_config->io_timeout };

    pthread_mutex_lock(&qlock);
    if (nconns >= sd_config->max_connections || stopping) {
        pthread_mutex_unlock(&qlock);
        sd_log_warn(8, "too many connections (%d); refusing pid %d", nconns,
                    (int)pid);
        close(fd);
        return -1;
    }
    pthread_mutex_unlock(&qlock);
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return -1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    c->fd = fd;
    c->uid = uid;
    c->pid = pid;
    c->refs = 1;        /* the reader's */
    pthread_mutex_init(&c->wlock, NULL);
    pthread_mutex_lock(&qlock);
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    nconns++;
    pthread_mutex_unlock(&qlock);
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 * 1024);
    if (pthread_create(&t, &at, reader_main, c) != 0) {
        pthread_mutex_lock(&qlock);
        conn_unref_locked(c);
        pthread_mutex_unlock(&qlock);
        pthread_attr_destroy(&at);
        return -1;
    }
    pthread_attr_destroy(&at);
    return 0;
}

void sd_conns_shutdown(void)
{
    pthread_mutex_lock(&qlock);
    for (conn *c = conns; c != NULL; c = c->next)
        shutdown(c->fd, SHUT_RD);   /* readers stop; answers still go out */
    while (nconns > 0)
        pthread_cond_wait(&gone, &qlock);
    pthread_mutex_unlock(&qlock);
}

int sd_conns_count(void)
{
    int n;
    pthread_mutex_lock(&qlock);
    n = nconns;
    pthread_mutex_unlock(&qlock);
    return n;
}
