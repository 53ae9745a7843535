/*
 * NAME
 *   mt_store - mtad's work with storaged: checks, the queue, local delivery
 *
 * DESCRIPTION
 *   The event loop never waits for storaged. Jobs go to a queue served by
 *   `workers` threads, each with its own storaged connection (the client
 *   in lib/ blocks); a finished job goes back to the loop through an
 *   eventfd and its done callback runs there.
 *
 *   ACCEPT ([MS-OXPROTO] 2.1.2; RFC 5321 6.1: once we say 250 the message
 *   is ours): a message for one recipient of ours is saved into its Inbox
 *   in one durable commit (deliver_direct); any other goes to the queue.
 *   Messages for one recipient that wait at the same moment go in one
 *   such commit together (take_jobs, deliver_batch): at most PER_MAILBOX
 *   workers deliver to one mailbox at once, and what arrives meanwhile
 *   waits for the next batch instead of for the mailbox row, as a
 *   database groups commits.
 *   QUEUE_PUT writes envelope, recipients and bytes in one
 *   transaction (sql/018), and only when it committed does the loop
 *   answer 250. The same thread then delivers the local recipients, each
 *   with IMPORT_MIME into the recipient's Inbox carrying its QUEUE_ID and
 *   RCPT_IDX, so the copy is saved and the recipient leaves the queue in
 *   one commit: exactly once, whatever crashes when. QUEUE_PUT leases the
 *   recipients to us for queue_lease seconds; if we die before delivering,
 *   the queue runner (of this or another mtad) takes them once the lease
 *   ran out.
 *
 *   The queue runner, a thread of its own, takes due recipients every
 *   queue_interval seconds (QUEUE_TAKE) and delivers them the same way. A
 *   delivery that fails for a reason that may pass (storaged restarting, a
 *   full mailbox) is put off with a doubling delay (QUEUE_DEFER).
 *
 *   Each thread keeps the sessions it opened for recipients (TRUSTED_LOGIN,
 *   mtad is a trusted peer of storaged) and their Inbox ids.
 */
#include "mt.h"
#include "mt_sd.h"
#include "xc_client.h"
#include "xc_text.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/statvfs.h>
#include <unistd.h>

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static mt_job *qhead, *qtail;           /* to do */
static mt_job *dhead;                   /* done, for the loop */
static int stopping;
static int donefd = -1;
static mt_watch *donew;
static pthread_t *threads, runner;
static int nthreads;
static pthread_mutex_t rlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rcond = PTHREAD_COND_INITIALIZER;
static int poked;

void mt_job_free(mt_job *j)
{
    if (j == NULL)
        return;
    if (__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    xc_wbuf_free(&j->mime);
    free(j->rcpts);
    free(j->local_idx);
    free(j);
}

/* ---- storaged calls ---------------------------------------------------- */

int mt_sd_connected(mt_sd *w)
{
    const char *err;

    if (w->c != NULL && !xc_client_broken(w->c))
        return 0;
    xc_client_destroy(&w->c);
    memset(w->s, 0, sizeof(w->s));      /* sessions may be gone too */
    if (xc_client_connect(mt_config->storaged_socket, 30000, 0, &w->c,
                          &err) < 0) {
        mt_log_error(38, "cannot reach storaged at %s: %s",
                     mt_config->storaged_socket, err);
        return -1;
    }
    return 0;
}

/* Send the request begun on w->c; transport failures are XC_E_TEMP. */
xc_status mt_sd_call(mt_sd *w, const xc_callbacks *cb, xc_reply *r)
{
    const char *err;

    if (xc_client_call(w->c, cb, r, &err) < 0) {
        mt_log_error(39, "storaged call failed: %s", err);
        xc_client_destroy(&w->c);
        memset(w->s, 0, sizeof(w->s));
        r->status = XC_E_TEMP;
        snprintf(r->errmsg, sizeof(r->errmsg), "storaged unavailable");
    }
    return (xc_status)r->status;
}

static void rcpt_check(mt_sd *w, mt_job *j)
{
    xc_reply r;
    xc_wbuf *b;
    const xc_propval *v;

    if (mt_sd_connected(w) < 0) {
        j->st = XC_E_TEMP;
        return;
    }
    b = xc_client_begin(w->c, XW_OP_RCPT_CHECK);
    xc_put_str(b, XW_TAG_ADDRESS, j->addr);
    if (j->size > 0)
        xc_put_i8(b, XW_TAG_SIZE, j->size);
    j->st = mt_sd_call(w, NULL, &r);
    snprintf(j->msg, sizeof(j->msg), "%s", r.errmsg);
    v = xc_reply_get(&r, XW_TAG_LOCAL);
    j->local = j->st == XC_OK && v != NULL && v->v.b;
    j->user_id = j->st == XC_OK ? xc_reply_i8(&r, XW_TAG_USER_ID, 0) : 0;
}

/* An authenticated client's envelope sender: one of its addresses, and
   its send quota not exceeded. */
static void sender_check(mt_sd *w, mt_job *j)
{
    xc_reply r;
    xc_wbuf *b;

    if (mt_sd_connected(w) < 0) {
        j->st = XC_E_TEMP;
        return;
    }
    b = xc_client_begin(w->c, XW_OP_RCPT_CHECK);
    xc_put_str(b, XW_TAG_ADDRESS, j->addr);
    xc_put_i8(b, XW_TAG_SEND_QUOTA_BYTES, 0);
    j->st = mt_sd_call(w, NULL, &r);
    snprintf(j->msg, sizeof(j->msg), "%s", r.errmsg);
    j->user_id = j->st == XC_OK ? xc_reply_i8(&r, XW_TAG_USER_ID, 0) : 0;
}

/* SMTP AUTH ([MS-XLOGIN], RFC 4954): storaged checks the password (and
   rate-limits failures); the session it opens is not needed. */
static void auth_check(mt_sd *w, mt_job *j)
{
    xc_reply r;
    xc_wbuf *b;
    char token[65];

    if (mt_sd_connected(w) < 0) {
        j->st = XC_E_TEMP;
        OPENSSL_cleanse(j->password, sizeof(j->password));
        return;
    }
    b = xc_client_begin(w->c, XW_OP_AUTH);
    xc_put_str(b, XW_TAG_USER, j->addr);
    xc_put_str(b, XW_TAG_PASSWORD, j->password);
    xc_put_str(b, XW_TAG_REMOTE_ADDR, j->client);
    j->st = mt_sd_call(w, NULL, &r);
    /* the request buffer held the password too */
    OPENSSL_cleanse(b->p, b->cap);
    OPENSSL_cleanse(j->password, sizeof(j->password));
    if (j->st != XC_OK)
        return;
    j->user_id = xc_reply_i8(&r, XW_TAG_USER_ID, 0);
    (void)xc_reply_str(&r, PR_SMTP_ADDRESS, j->user, sizeof(j->user));
    if (xc_reply_str(&r, XW_TAG_SESSION, token, sizeof(token)) == 0) {
        b = xc_client_begin(w->c, XW_OP_LOGOFF);
        xc_put_str(b, XW_TAG_SESSION, token);
        (void)mt_sd_call(w, NULL, &r);
    }
}

typedef struct inbox_find {
    int64_t fid, sent, junk;
} inbox_find;

static int find_inbox(void *ctx, const xc_propval *pv, size_t n)
{
    inbox_find *f = ctx;
    int64_t fid = 0;
    int special = 0;

    for (size_t i = 0; i < n; i++) {
        if (pv[i].tag == PR_FID)
            fid = pv[i].v.i64;
        else if (pv[i].tag == PR_XC_SPECIAL_FOLDER)
            special = pv[i].v.i32;
    }
    if (special == INBOX)
        f->fid = fid;
    else if (special == SENT_ITEMS)
        f->sent = fid;
    else if (special == JUNK_EMAIL)
        f->junk = fid;
    return 0;
}

/* The session and Inbox of a recipient (its address in lower case). */
static sess *session_of(mt_sd *w, const char *user, xc_status *st_r)
{
    sess *s = NULL, *oldest = &w->s[0];
    xc_reply r;
    xc_wbuf *b;
    inbox_find f = { 0 };
    xc_callbacks cb = { find_inbox, NULL, &f };
    int64_t mailbox;

    for (int i = 0; i < SESSIONS; i++) {
        if (w->s[i].token[0] && strcmp(w->s[i].user, user) == 0) {
            w->s[i].used = time(NULL);
            return &w->s[i];
        }
        if (w->s[i].used < oldest->used)
            oldest = &w->s[i];
    }
    s = oldest;
    memset(s, 0, sizeof(*s));
    b = xc_client_begin(w->c, XW_OP_TRUSTED_LOGIN);
    xc_put_str(b, XW_TAG_USER, user);
    if ((*st_r = mt_sd_call(w, NULL, &r)) != XC_OK)
        return NULL;
    if (xc_reply_str(&r, XW_TAG_SESSION, s->token, sizeof(s->token)) < 0) {
        *st_r = XC_E_INTERNAL;
        return NULL;
    }
    mailbox = xc_reply_i8(&r, XW_TAG_MAILBOX_ID, 0);
    b = xc_client_begin(w->c, XW_OP_LIST_FOLDERS);
    xc_put_str(b, XW_TAG_SESSION, s->token);
    xc_put_i8(b, XW_TAG_MAILBOX_ID, mailbox);
    if ((*st_r = mt_sd_call(w, &cb, &r)) != XC_OK || f.fid == 0) {
        if (*st_r == XC_OK)
            *st_r = XC_E_NOTFOUND;
        s->token[0] = '\0';
        return NULL;
    }
    snprintf(s->user, sizeof(s->user), "%s", user);
    s->inbox = f.fid;
    s->sent = f.sent;
    s->junk = f.junk;
    s->mailbox = mailbox;
    s->used = time(NULL);
    return s;
}

static void lower(char *dst, const char *src, size_t n)
{
    size_t i;

    for (i = 0; src[i] && i + 1 < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32)
                                                  : src[i];
    dst[i] = '\0';
}

/*
 * Deliver queued recipient (queue, idx) at addr: bytes are the message
 * with its Return-Path. Returns XC_OK when it left the queue (delivered
 * now or before).
 */
static xc_status deliver_one(mt_sd *w, int64_t queue, int idx,
                             const char *addr, const uint8_t *bytes,
                             size_t n, const int64_t *parts, int nparts,
                             char *why, size_t whylen)
{
    char user[XC_SMTP_PATH_MAX + 1];
    xc_status st = XC_E_TEMP;
    xc_reply r;
    int folder = mt_hooks_folder(bytes, nparts > 1 ? (size_t)parts[0] : n);

    lower(user, addr, sizeof(user));
    for (int tries = 0; tries < 2; tries++) {
        sess *s;
        xc_wbuf *b;

        if (mt_sd_connected(w) < 0) {
            snprintf(why, whylen, "storaged unavailable");
            return XC_E_TEMP;
        }
        if ((s = session_of(w, user, &st)) == NULL) {
            snprintf(why, whylen, "no session for the recipient (%s)",
                     xc_status_name(st));
            if (st == XC_E_SESSION || st == XC_E_TEMP)
                continue;
            return st;
        }
        b = xc_client_begin(w->c, XW_OP_IMPORT_MIME);
        xc_put_str(b, XW_TAG_SESSION, s->token);
        xc_put_i8(b, XW_TAG_MAILBOX_ID, s->mailbox);
        xc_put_i8(b, PR_FID, folder == MT_FOLDER_JUNK && s->junk ? s->junk
                                                               : s->inbox);
        if (queue > 0) {
            xc_put_i8(b, XW_TAG_QUEUE_ID, queue);
            xc_put_long(b, XW_TAG_RCPT_IDX, idx);
        }
        if (nparts > 1) {
            xc_put_u32(b, XW_TAG_PARTS);
            xc_put_u32(b, (uint32_t)nparts);
            for (int i = 0; i < nparts; i++)
                xc_put_u64(b, (uint64_t)parts[i]);
        }
        xc_put_object(b, XW_TAG_MIME, n);
        xc_client_stream(w->c, bytes, n);
        st = mt_sd_call(w, NULL, &r);
        snprintf(why, whylen, "%s%s%s", xc_status_name(st),
                 r.errmsg[0] ? ": " : "", r.errmsg);
        if (st == XC_OK || st == XC_E_EXISTS)
            return XC_OK;       /* EXISTS: it left the queue before */
        if (st == XC_E_SESSION || (st == XC_E_NOTFOUND && tries == 0)) {
            s->token[0] = '\0'; /* expired, or the Inbox moved: anew */
            continue;
        }
        break;
    }
    return st;
}

void mt_sd_defer(mt_sd *w, int64_t queue, int idx, const char *why,
                 int warned)
{
    xc_reply r;
    xc_wbuf *b;

    if (mt_sd_connected(w) < 0)
        return;     /* the lease runs out and the runner tries again */
    b = xc_client_begin(w->c, XW_OP_QUEUE_DEFER);
    xc_put_i8(b, XW_TAG_QUEUE_ID, queue);
    xc_put_long(b, XW_TAG_RCPT_IDX, idx);
    xc_put_str(b, XW_TAG_ERRMSG, why);
    xc_put_long(b, XW_TAG_DELAY, mt_config->retry_first);
    xc_put_long(b, XW_TAG_LIMIT, mt_config->retry_max);
    if (warned)
        xc_put_bool(b, XW_TAG_WARNED, 1);
    (void)mt_sd_call(w, NULL, &r);
}

/* The queued bytes (they start with the Return-Path, smtp_server.c) into
   the Inboxes of m's recipients (all local). A failure that can't pass (a
   message the store refuses) bounces at once, one that may pass (storaged
   away, a full mailbox, a user disabled or gone) waits and bounces once
   the message is queue_lifetime old; the sender hears of deliveries it
   asked for with NOTIFY=SUCCESS (RFC 3461 6.2). */
static void deliver_locals(mt_sd *w, const mt_out_job *m, const uint8_t *p,
                           size_t n)
{
    char why[300];
    int *fail = calloc((size_t)m->n, sizeof(int)), nfail = 0;
    int *ok = calloc((size_t)m->n, sizeof(int)), nok = 0;
    char (*diag)[300] = calloc((size_t)m->n, sizeof(*diag));
    const char **st_f = calloc((size_t)m->n, sizeof(char *));
    const char **dg_f = calloc((size_t)m->n, sizeof(char *));
    const char **st_ok = calloc((size_t)m->n, sizeof(char *));

    if (!fail || !ok || !diag || !st_f || !dg_f || !st_ok)
        goto out;           /* out of memory: the lease runs out, later */
    for (int i = 0; i < m->n; i++) {
        const mt_out_rcpt *r = &m->r[i];
        xc_status st = deliver_one(w, m->queue, r->idx, r->addr, p, n,
                                   NULL, 0, why, sizeof(why));
        char safe[700];
        xc_log_escape(safe, sizeof(safe), r->addr, strlen(r->addr));
        if (st == XC_OK) {
            mt_log_info(40, "delivered queue=%" PRId64 " rcpt=%d to=%s",
                        m->queue, r->idx, safe);
            if (mt_out_wants(r->notify, "SUCCESS")) {
                st_ok[nok] = "2.0.0";
                ok[nok++] = i;
            }
        } else if (st == XC_E_LIMIT || st == XC_E_BADREQ ||
                   m->age >= mt_config->queue_lifetime) {
            mt_log_warn(66, "bounced queue=%" PRId64 " rcpt=%d to=%s: %s",
                        m->queue, r->idx, safe, why);
            snprintf(diag[nfail], sizeof(diag[0]), "%s", why);
            st_f[nfail] = st == XC_E_LIMIT ? "5.3.4"
                          : st == XC_E_BADREQ ? "5.6.0"
                          : st == XC_E_NOQUOTA ? "5.2.2"
                          : st == XC_E_NOTFOUND ? "5.1.1" : "5.4.7";
            dg_f[nfail] = diag[nfail];
            fail[nfail++] = i;
        } else {
            mt_log_warn(41, "deferred queue=%" PRId64 " rcpt=%d to=%s: %s",
                        m->queue, r->idx, safe, why);
            mt_sd_defer(w, m->queue, r->idx, why, 0);
        }
    }
    if (nfail > 0 && mt_out_dsn(w, m, p, n, fail, nfail, "failed", st_f,
                                dg_f, NULL) != XC_OK)
        for (int i = 0; i < nfail; i++)
            mt_sd_defer(w, m->queue, m->r[fail[i]].idx, dg_f[i], 0);
    if (nok > 0)
        (void)mt_out_dsn(w, m, p, n, ok, nok, "delivered", st_ok, NULL,
                         NULL);
out:
    free(fail);
    free(ok);
    free(diag);
    free(st_f);
    free(dg_f);
    free(st_ok);
}

/* A copy of what a user submitted in its Sent Items (save_sent), read. */
static void save_sent(mt_sd *w, mt_job *j)
{
    xc_status st = XC_E_TEMP;
    xc_reply r;
    sess *s;
    xc_wbuf *b;
    char user[XC_SMTP_PATH_MAX + 1];

    lower(user, j->user, sizeof(user));
    if (mt_sd_connected(w) < 0 || (s = session_of(w, user, &st)) == NULL ||
        s->sent == 0) {
        mt_log_warn(60, "no copy in Sent Items for %s: %s", user,
                    xc_status_name(st));
        return;
    }
    b = xc_client_begin(w->c, XW_OP_IMPORT_MIME);
    xc_put_str(b, XW_TAG_SESSION, s->token);
    xc_put_i8(b, XW_TAG_MAILBOX_ID, s->mailbox);
    xc_put_i8(b, PR_FID, s->sent);
    xc_put_bool(b, XW_TAG_READ, 1);
    xc_put_object(b, XW_TAG_MIME, j->mime.len);
    xc_client_stream(w->c, j->mime.p, j->mime.len);
    if ((st = mt_sd_call(w, NULL, &r)) != XC_OK)
        mt_log_warn(60, "no copy in Sent Items for %s: %s %s", user,
                    xc_status_name(st), r.errmsg);
}

/*
 * Mail for one recipient of ours (most mail): saved into its Inbox in one
 * durable commit, without a trip through the queue; 250 follows that
 * commit as it would the queue's. 1 when it was delivered; 0 when it was
 * not and the queue should take it (the store refused, e.g. a mailbox
 * that filled up since RCPT: the queue retries and bounces); -1 when it
 * is unknown whether the commit happened (the connection broke): then
 * the client is told to try again, never is the message queued too.
 */
static int direct_ok(const mt_job *j)
{
    return j->kind == MT_JOB_ACCEPT && j->nrcpts == 1 && j->rcpts[0].local &&
           !mt_out_wants(j->rcpts[0].notify, "SUCCESS");
}

static int deliver_direct(mt_sd *w, mt_job *j)
{
    char why[300], safe[700];
    xc_status st;

    if (!direct_ok(j))
        return 0;               /* the queue tells of deliveries */
    st = deliver_one(w, 0, 0, j->rcpts[0].addr, j->mime.p, j->mime.len, NULL,
                     0, why, sizeof(why));
    if (st == XC_OK) {
        xc_log_escape(safe, sizeof(safe), j->rcpts[0].addr,
                      strlen(j->rcpts[0].addr));
        mt_log_info(71, "delivered id=%s to=%s (direct)", j->id, safe);
        return 1;
    }
    if (w->c == NULL) {
        j->st = XC_E_TEMP;
        snprintf(j->msg, sizeof(j->msg), "%.250s", why);
        return -1;
    }
    return 0;
}

static void accept_msg(mt_sd *w, mt_job *j)
{
    xc_reply r;
    xc_wbuf *b;
    const xc_propval *locals;

    if (mt_sd_connected(w) < 0) {
        j->st = XC_E_TEMP;
        return;
    }
    switch (deliver_direct(w, j)) {
    case 1:
        j->st = XC_OK;
        j->queue_id = 0;
        j->nlocal = 0;
        return;
    case -1:
        return;
    default:
        if (mt_sd_connected(w) < 0) {
            j->st = XC_E_TEMP;
            return;
        }
        break;
    }
    b = xc_client_begin(w->c, XW_OP_QUEUE_PUT);
    xc_put_str(b, XW_TAG_SENDER, j->sender);
    for (int i = 0; i < j->nrcpts; i++) {
        xc_put_str(b, XW_TAG_ADDRESS, j->rcpts[i].addr);
        if (j->rcpts[i].notify[0])
            xc_put_str(b, XW_TAG_NOTIFY, j->rcpts[i].notify);
        if (j->rcpts[i].orcpt[0])
            xc_put_str(b, XW_TAG_ORCPT, j->rcpts[i].orcpt);
    }
    xc_put_str(b, XW_TAG_CLIENT, j->client);
    if (j->user_id > 0)
        xc_put_i8(b, XW_TAG_AUTH_USER, j->user_id);
    if (j->envid[0])
        xc_put_str(b, XW_TAG_ENVID, j->envid);
    if (j->ret[0])
        xc_put_str(b, XW_TAG_RET, j->ret);
    xc_put_long(b, XW_TAG_LEASE, mt_config->queue_lease);
    xc_put_object(b, XW_TAG_MIME, j->mime.len);
    xc_client_stream(w->c, j->mime.p, j->mime.len);
    j->st = mt_sd_call(w, NULL, &r);
    snprintf(j->msg, sizeof(j->msg), "%s", r.errmsg);
    if (j->st != XC_OK)
        return;
    j->queue_id = xc_reply_i8(&r, XW_TAG_QUEUE_ID, 0);
    j->nlocal = 0;
    if ((locals = xc_reply_get(&r, XW_TAG_LOCALS)) != NULL &&
        (j->local_idx = calloc((size_t)j->nrcpts, sizeof(int))) != NULL) {
        xc_mv_iter it;
        xc_propval one;
        xc_mv_iter_init(&it, locals);
        while (j->nlocal < j->nrcpts && xc_mv_next(&it, &one) == 1)
            if (one.v.i32 >= 0 && one.v.i32 < j->nrcpts)
                j->local_idx[j->nlocal++] = one.v.i32;
    }
}

/* ---- the job queue ----------------------------------------------------- */

static void finish(mt_job *j)
{
    uint64_t one = 1;

    pthread_mutex_lock(&qlock);
    j->next = dhead;
    dhead = j;
    pthread_mutex_unlock(&qlock);
    if (write(donefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        mt_log_error(42, "eventfd: %s", strerror(errno));
}

/*
 * Several messages for one recipient at one moment (a burst of mail for
 * one mailbox) go into its Inbox in one transaction: one durable commit
 * and one turn at the mailbox row for all, where each alone would wait
 * for the others' (storaged IMPORT_MIME with PARTS). If the store refuses
 * the batch (one message too large for the quota, say), each is accepted
 * on its own as any other; if the connection broke, nobody knows whether
 * the commit happened, and every sender is told to try again.
 */
static void deliver_batch(mt_sd *w, mt_job **jobs, int k)
{
    int64_t sizes[XW_IMPORT_PARTS_MAX];
    char why[300], safe[700];
    xc_wbuf cat;
    xc_status st = XC_E_TEMP;

    xc_wbuf_init(&cat, 0);
    for (int i = 0; i < k; i++) {
        sizes[i] = (int64_t)jobs[i]->mime.len;
        xc_put_bytes(&cat, jobs[i]->mime.p, jobs[i]->mime.len);
    }
    snprintf(why, sizeof(why), "out of memory");
    if (!cat.err && mt_sd_connected(w) == 0)
        st = deliver_one(w, 0, 0, jobs[0]->rcpts[0].addr, cat.p, cat.len,
                         sizes, k, why, sizeof(why));
    xc_wbuf_free(&cat);
    for (int i = 0; i < k; i++) {
        mt_job *j = jobs[i];
        if (st == XC_OK) {
            j->st = XC_OK;
            j->queue_id = 0;
            j->nlocal = 0;
            xc_log_escape(safe, sizeof(safe), j->rcpts[0].addr,
                          strlen(j->rcpts[0].addr));
            mt_log_info(71, "delivered id=%s to=%s (direct, %d together)",
                        j->id, safe, k);
        } else if (w->c == NULL) {
            j->st = XC_E_TEMP;
            snprintf(j->msg, sizeof(j->msg), "%.250s", why);
        } else {
            accept_msg(w, j);
        }
    }
}

/* After ACCEPT: the loop hears (and answers 250 or not), the local
   recipients of a queued message are delivered, a submission's copy goes
   to Sent Items. j holds a reference of ours, dropped here. */
static void accepted(mt_sd *w, mt_job *j)
{
    int n = j->st == XC_OK ? j->nlocal : 0;

    finish(j);
    if (j->st == XC_OK && n < j->nrcpts)
        mt_store_poke();    /* others for the outbound threads */
    if (j->st == XC_OK && j->user_id > 0 && j->user[0] &&
        mt_config->save_sent)
        save_sent(w, j);
    if (n > 0) {
        mt_out_job m;
        memset(&m, 0, sizeof(m));
        m.queue = j->queue_id;
        snprintf(m.sender, sizeof(m.sender), "%s", j->sender);
        snprintf(m.envid, sizeof(m.envid), "%s", j->envid);
        snprintf(m.ret, sizeof(m.ret), "%s", j->ret);
        if ((m.r = calloc((size_t)n, sizeof(*m.r))) != NULL) {
            for (int i = 0; i < n; i++) {
                const mt_rcpt *src = &j->rcpts[j->local_idx[i]];
                m.r[i].idx = j->local_idx[i];
                snprintf(m.r[i].addr, sizeof(m.r[i].addr), "%s", src->addr);
                snprintf(m.r[i].notify, sizeof(m.r[i].notify), "%s",
                         src->notify);
                snprintf(m.r[i].orcpt, sizeof(m.r[i].orcpt), "%s",
                         src->orcpt);
            }
            m.n = n;
            deliver_locals(w, &m, j->mime.p, j->mime.len);
            free(m.r);
        }
    }
    mt_job_free(j);
}

/* The recipient each worker is delivering to directly now ("" for none;
   qlock): others for it wait and go together once it is done. */
static char (*busy)[XC_SMTP_PATH_MAX + 1];
#define BATCH_BYTES (8u << 20)
/* Batches for one mailbox at once: one converts its messages while the
   other holds the mailbox row to its commit. */
#define PER_MAILBOX 2

static int is_busy(const char *addr)
{
    int n = 0;

    for (int i = 0; i < nthreads; i++)
        if (busy[i][0] && strcasecmp(busy[i], addr) == 0)
            n++;
    return n >= PER_MAILBOX;
}

/* With qlock: the next job into jobs[0], the first whose recipient no
   other worker is delivering to; with it, when it is a direct delivery,
   the others waiting for the same recipient and folder, up to
   XW_IMPORT_PARTS_MAX and BATCH_BYTES. How many; 0 if none may run. */
static int take_jobs(int me, mt_job **jobs)
{
    mt_job **pp = &qhead, *j;
    const char *addr;
    size_t bytes;
    int k = 0, folder;

    while ((j = *pp) != NULL && direct_ok(j) && is_busy(j->rcpts[0].addr))
        pp = &j->next;
    if (j == NULL)
        return 0;
    *pp = j->next;
    jobs[k++] = j;
    if (direct_ok(j)) {
        addr = j->rcpts[0].addr;
        snprintf(busy[me], sizeof(busy[me]), "%s", addr);
        folder = mt_hooks_folder(j->mime.p, j->mime.len);
        bytes = j->mime.len;
        while (*pp != NULL && k < XW_IMPORT_PARTS_MAX) {
            mt_job *x = *pp;
            if (direct_ok(x) && strcasecmp(x->rcpts[0].addr, addr) == 0 &&
                bytes + x->mime.len <= BATCH_BYTES &&
                mt_hooks_folder(x->mime.p, x->mime.len) == folder) {
                *pp = x->next;
                jobs[k++] = x;
                bytes += x->mime.len;
            } else {
                pp = &x->next;
            }
        }
    }
    for (qtail = qhead; qtail != NULL && qtail->next != NULL;)
        qtail = qtail->next;
    return k;
}

static void *worker_main(void *arg)
{
    int me = (int)(intptr_t)arg;
    mt_job *jobs[XW_IMPORT_PARTS_MAX];
    mt_sd w;

    memset(&w, 0, sizeof(w));
    pthread_mutex_lock(&qlock);
    for (;;) {
        mt_job *j;
        int k;

        while ((k = take_jobs(me, jobs)) == 0 && !stopping)
            pthread_cond_wait(&qcond, &qlock);
        if (k == 0)
            break;
        pthread_mutex_unlock(&qlock);
        j = jobs[0];
        if (j->kind == MT_JOB_RCPT) {
            rcpt_check(&w, j);
            finish(j);
        } else if (j->kind == MT_JOB_SENDER) {
            sender_check(&w, j);
            finish(j);
        } else if (j->kind == MT_JOB_AUTH) {
            auth_check(&w, j);
            finish(j);
        } else {
            /* the loop answers 250 as soon as it has the queue id; the
               job stays ours (a reference) for the delivery */
            for (int i = 0; i < k; i++)
                __atomic_add_fetch(&jobs[i]->refs, 1, __ATOMIC_ACQ_REL);
            if (k > 1)
                deliver_batch(&w, jobs, k);
            else
                accept_msg(&w, j);
            for (int i = 0; i < k; i++)
                accepted(&w, jobs[i]);
        }
        pthread_mutex_lock(&qlock);
        if (busy[me][0]) {
            busy[me][0] = '\0';
            pthread_cond_broadcast(&qcond);     /* its waiters may go */
        }
    }
    pthread_mutex_unlock(&qlock);
    xc_client_destroy(&w.c);
    return NULL;
}

void mt_store_submit(mt_job *j)
{
    j->next = NULL;
    j->refs = 1;
    pthread_mutex_lock(&qlock);
    if (qtail != NULL)
        qtail->next = j;
    else
        qhead = j;
    qtail = j;
    pthread_cond_signal(&qcond);
    pthread_mutex_unlock(&qlock);
}

static void done_ready(void *ctx, uint32_t events)
{
    uint64_t n;
    mt_job *list, *rev = NULL;

    (void)ctx;
    (void)events;
    if (read(donefd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&qlock);
    list = dhead;
    dhead = NULL;
    pthread_mutex_unlock(&qlock);
    while (list != NULL) {      /* oldest first */
        mt_job *j = list;
        list = j->next;
        j->next = rev;
        rev = j;
    }
    while (rev != NULL) {
        mt_job *j = rev;
        rev = j->next;
        j->done(j);
    }
}

/* ---- the queue runner -------------------------------------------------- */

typedef struct taken {
    int64_t queue, age, size;
    int idx, local, warned;
    char addr[XC_SMTP_PATH_MAX + 1];
    char sender[XC_SMTP_PATH_MAX + 1];
    char domain[256], notify[64], orcpt[512], envid[128], ret[8];
} taken;

typedef struct take_ctx {
    taken *t;
    int n, max;
} take_ctx;

static void copy_str(char *dst, size_t n, const xc_propval *pv)
{
    size_t k = pv->v.bin.n < n - 1 ? pv->v.bin.n : n - 1;
    memcpy(dst, pv->v.bin.p, k);
    dst[k] = '\0';
}

static int take_row(void *ctx, const xc_propval *pv, size_t n)
{
    take_ctx *tc = ctx;
    taken *t;

    if (tc->n == tc->max)
        return 0;
    t = &tc->t[tc->n];
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        switch (pv[i].tag) {
        case XW_TAG_QUEUE_ID: t->queue = pv[i].v.i64; break;
        case XW_TAG_RCPT_IDX: t->idx = pv[i].v.i32; break;
        case XW_TAG_MAILBOX_ID: t->local = 1; break;
        case XW_TAG_SIZE: t->size = pv[i].v.i64; break;
        case XW_TAG_AGE: t->age = pv[i].v.i64; break;
        case XW_TAG_WARNED: t->warned = pv[i].v.b; break;
        case XW_TAG_ADDRESS: copy_str(t->addr, sizeof(t->addr), &pv[i]); break;
        case XW_TAG_SENDER:
            copy_str(t->sender, sizeof(t->sender), &pv[i]);
            break;
        case XW_TAG_DOMAIN:
            copy_str(t->domain, sizeof(t->domain), &pv[i]);
            break;
        case XW_TAG_NOTIFY:
            copy_str(t->notify, sizeof(t->notify), &pv[i]);
            break;
        case XW_TAG_ORCPT: copy_str(t->orcpt, sizeof(t->orcpt), &pv[i]); break;
        case XW_TAG_ENVID: copy_str(t->envid, sizeof(t->envid), &pv[i]); break;
        case XW_TAG_RET: copy_str(t->ret, sizeof(t->ret), &pv[i]); break;
        default: break;
        }
    }
    tc->n++;
    return 0;
}

int mt_sd_keep_chunk(void *ctx, const uint8_t *p, size_t n)
{
    xc_put_bytes(ctx, p, n);
    return ((xc_wbuf *)ctx)->err ? -1 : 0;
}

/* The recipients t[from..to) of one message in one other domain: a job
   for the outbound threads. */
static void hand_over(const taken *t, int from, int to)
{
    mt_out_job *j = calloc(1, sizeof(*j));

    if (j == NULL || (j->r = calloc((size_t)(to - from), sizeof(*j->r)))
                     == NULL) {
        free(j);
        return;                 /* the lease runs out; later then */
    }
    j->queue = t[from].queue;
    j->size = t[from].size;
    j->age = t[from].age;
    snprintf(j->sender, sizeof(j->sender), "%s", t[from].sender);
    snprintf(j->domain, sizeof(j->domain), "%s", t[from].domain);
    snprintf(j->envid, sizeof(j->envid), "%s", t[from].envid);
    snprintf(j->ret, sizeof(j->ret), "%s", t[from].ret);
    for (int k = from; k < to; k++) {
        mt_out_rcpt *r = &j->r[j->n++];
        r->idx = t[k].idx;
        r->warned = t[k].warned;
        snprintf(r->addr, sizeof(r->addr), "%s", t[k].addr);
        snprintf(r->notify, sizeof(r->notify), "%s", t[k].notify);
        snprintf(r->orcpt, sizeof(r->orcpt), "%s", t[k].orcpt);
    }
    mt_out_submit(j);
}

/* One run: the due recipients, message by message; local ones delivered
   here, those of other domains handed to the outbound threads. */
static void run_queue(mt_sd *w)
{
    taken *t;
    take_ctx tc;
    xc_callbacks cb = { take_row, NULL, NULL };
    xc_reply r;
    xc_wbuf *b, mime;

    /* take more only when the outbound threads have room: what we take
       is leased for queue_lease seconds */
    if (mt_out_busy() >= mt_config->outbound_workers)
        return;
    if (mt_sd_connected(w) < 0 || (t = calloc(100, sizeof(*t))) == NULL)
        return;
    tc.t = t;
    tc.n = 0;
    tc.max = 100;
    cb.ctx = &tc;
    b = xc_client_begin(w->c, XW_OP_QUEUE_TAKE);
    xc_put_long(b, XW_TAG_LIMIT, 100);
    xc_put_long(b, XW_TAG_LEASE, mt_config->queue_lease);
    if (mt_sd_call(w, &cb, &r) != XC_OK || tc.n == 0) {
        free(t);
        return;
    }
    mt_log_debug(43, "queue run: %d recipients due", tc.n);
    /* one an outbound thread still sends (a slow server, a lease run out,
       a flush) is left to it: taking it again renewed its lease */
    for (int k = 0; k < tc.n; k++)
        if (!t[k].local && mt_out_in_flight(t[k].queue, t[k].idx))
            t[k].local = -1;
    xc_wbuf_init(&mime, 0);
    for (int i = 0; i < tc.n;) {
        int j = i;
        mt_out_job m;
        mt_out_rcpt locals[100];
        xc_callbacks mc = { NULL, mt_sd_keep_chunk, &mime };

        while (j < tc.n && t[j].queue == t[i].queue)
            j++;
        memset(&m, 0, sizeof(m));
        m.queue = t[i].queue;
        m.age = t[i].age;
        m.r = locals;
        snprintf(m.sender, sizeof(m.sender), "%s", t[i].sender);
        snprintf(m.envid, sizeof(m.envid), "%s", t[i].envid);
        snprintf(m.ret, sizeof(m.ret), "%s", t[i].ret);
        for (int k = i; k < j; k++)
            if (t[k].local == 1) {
                mt_out_rcpt *lr = &locals[m.n++];
                memset(lr, 0, sizeof(*lr));
                lr->idx = t[k].idx;
                snprintf(lr->addr, sizeof(lr->addr), "%s", t[k].addr);
                snprintf(lr->notify, sizeof(lr->notify), "%s", t[k].notify);
                snprintf(lr->orcpt, sizeof(lr->orcpt), "%s", t[k].orcpt);
            }
        for (int k = i; k < j;) {   /* rows come sorted by domain */
            int e = k;
            if (t[k].local) {
                k++;
                continue;
            }
            while (e < j && !t[e].local && !strcmp(t[e].domain, t[k].domain))
                e++;
            hand_over(t, k, e);
            k = e;
        }
        if (m.n > 0 && mt_sd_connected(w) == 0) {
            xc_wbuf_reset(&mime);
            b = xc_client_begin(w->c, XW_OP_QUEUE_READ);
            xc_put_i8(b, XW_TAG_QUEUE_ID, t[i].queue);
            if (mt_sd_call(w, &mc, &r) == XC_OK && !mime.err)
                deliver_locals(w, &m, mime.p, mime.len);
        }
        i = j;
    }
    xc_wbuf_free(&mime);
    free(t);
}

/* ---- is there room? -------------------------------------------------- */

static const char *full_why;    /* written by the runner, read by the loop */

const char *mt_store_full(void)
{
    return __atomic_load_n(&full_why, __ATOMIC_ACQUIRE);
}

static void check_room(mt_sd *w)
{
    const char *why = NULL;
    struct statvfs sv;
    xc_reply r;
    xc_wbuf *b;

    if (mt_config->space_path[0] && statvfs(mt_config->space_path, &sv) == 0 &&
        (uint64_t)sv.f_bavail * sv.f_frsize < mt_config->min_free_space)
        why = "disk nearly full";
    if (why == NULL && mt_sd_connected(w) == 0) {
        b = xc_client_begin(w->c, XW_OP_QUEUE_STATS);
        xc_put_long(b, XW_TAG_LIMIT, mt_config->max_queue);
        if (mt_sd_call(w, NULL, &r) == XC_OK &&
            xc_reply_i8(&r, XW_TAG_TOTAL, 0) >= mt_config->max_queue)
            why = "queue full";
    }
    if (why != mt_store_full()) {
        if (why)
            mt_log_warn(69, "refusing new mail: %s", why);
        else
            mt_log_info(70, "taking new mail again");
    }
    __atomic_store_n(&full_why, why, __ATOMIC_RELEASE);
}

void mt_store_poke(void)
{
    pthread_mutex_lock(&rlock);
    poked = 1;
    pthread_cond_signal(&rcond);
    pthread_mutex_unlock(&rlock);
}

static void *runner_main(void *arg)
{
    mt_sd w;

    (void)arg;
    memset(&w, 0, sizeof(w));
    pthread_mutex_lock(&rlock);
    while (!stopping) {
        struct timespec until;
        pthread_mutex_unlock(&rlock);
        check_room(&w);
        run_queue(&w);
        pthread_mutex_lock(&rlock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += mt_config->queue_interval;
        while (!stopping && !poked &&
               pthread_cond_timedwait(&rcond, &rlock, &until) != ETIMEDOUT)
            ;
        poked = 0;
    }
    pthread_mutex_unlock(&rlock);
    xc_client_destroy(&w.c);
    return NULL;
}

int mt_store_start(void)
{
    if ((donefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (donew = mt_loop_add(donefd, EPOLLIN, done_ready, NULL)) == NULL)
        return -1;
    nthreads = mt_config->workers;
    if ((threads = calloc((size_t)nthreads, sizeof(*threads))) == NULL ||
        (busy = calloc((size_t)nthreads, sizeof(*busy))) == NULL)
        return -1;
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&threads[i], NULL, worker_main,
                           (void *)(intptr_t)i) != 0)
            return -1;
    return pthread_create(&runner, NULL, runner_main, NULL) != 0 ? -1 : 0;
}

void mt_store_stop(void)
{
    pthread_mutex_lock(&qlock);
    stopping = 1;
    pthread_cond_broadcast(&qcond);
    pthread_mutex_unlock(&qlock);
    pthread_mutex_lock(&rlock);
    stopping = 1;
    pthread_cond_broadcast(&rcond);
    pthread_mutex_unlock(&rlock);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    pthread_join(runner, NULL);
    free(threads);
    free(busy);
}
