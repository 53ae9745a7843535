/*
 * NAME
 *   sd_queue - the mail queue mtad writes and delivers from (sql/018)
 *
 * DESCRIPTION
 *   The message processing system of [MS-OXPROTO] 2.1.2 keeps what it has
 *   accepted in the store's database, so an accepted message is as durable
 *   as a saved one and the queue can be read with SQL:
 *
 *   RCPT_CHECK (op 39) tells mtad at RCPT time whether an address is one
 *   of ours (a mailbox), unknown in a domain of ours (550 5.1.1), in a full
 *   mailbox (452/552 4.2.2/5.2.2) or remote. QUEUE_PUT (40) writes the
 *   envelope, one row per recipient and the bytes (a blob, stored once)
 *   in one transaction; mtad answers 250 after it commits. A recipient
 *   leaves the queue in the transaction that delivers it: IMPORT_MIME with
 *   QUEUE_ID and RCPT_IDX (sd_mime.c) runs xc_queue_done in the save's own
 *   pipeline, so a copy is saved exactly once. QUEUE_TAKE (41) leases due
 *   recipients to a delivery agent (after a restart: what was accepted but
 *   not yet delivered), QUEUE_READ (42) gives back the bytes, QUEUE_DEFER
 *   (43) schedules a retry with back-off and QUEUE_DONE (44) removes a
 *   recipient that was delivered elsewhere or given up on.
 *
 * SECURITY
 *   Only trusted peers (root, storaged's own user, trusted_users) may use
 *   these operations: they act for every mailbox.
 */
#include "sd.h"
#include "sd_store.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX_RCPTS 1000
#define QUEUE_ADDR_MAX 320

static int trusted(sd_req *req, sd_reply *rp)
{
    if (sd_peer_trusted(req->peer_uid))
        return 1;
    sd_log_warn(37, "mail queue operation %u refused to uid %d",
                req->hdr.op, (int)req->peer_uid);
    sd_reply_status(rp, XC_E_PERM, "the mail queue is for trusted peers");
    return 0;
}

/* An envelope address as mtad parsed it: printable, no line breaks or
   NULs (it goes into newline-separated lists below), bounded. */
static int plain(const xc_propval *v, size_t max)
{
    if (v->v.bin.n == 0 || v->v.bin.n > max)
        return 0;
    for (uint32_t i = 0; i < v->v.bin.n; i++)
        if (v->v.bin.p[i] < 0x20 || v->v.bin.p[i] == 0x7F)
            return 0;
    return 1;
}

void sd_queue_rcpt_check(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "SELECT d.id IS NOT NULL, m.id, a.user_id, m.used_bytes, "
        "coalesce(m.quota_bytes, -1), p.address, "
        "coalesce(m.send_quota_bytes, -1) "
        "FROM (SELECT lower($1::text) AS addr) x "
        "LEFT JOIN domains d ON d.name = split_part(x.addr, '@', 2) "
        "LEFT JOIN addresses a ON a.address = x.addr "
        "LEFT JOIN mailboxes m ON m.user_id = a.user_id "
        "LEFT JOIN addresses p ON p.user_id = a.user_id AND p.is_primary";
    char addr[QUEUE_ADDR_MAX + 1];
    const char *params[1] = { addr };
    int64_t size = 0, used, quota;
    xc_status st;
    PGresult *res;
    xc_wbuf *w;

    if (!trusted(req, rp))
        return;
    if (sd_arg_str(req, XW_TAG_ADDRESS, addr, sizeof(addr)) < 0 ||
        strchr(addr, '@') == NULL) {
        sd_reply_status(rp, XC_E_BADREQ, "ADDRESS (local@domain) required");
        return;
    }
    (void)sd_arg_i8(req, XW_TAG_SIZE, &size);
    if (size > 0 && (uint64_t)size > sd_config->max_message_size) {
        sd_reply_status(rp, XC_E_LIMIT, "message size exceeds fixed "
                        "maximum message size");
        return;
    }
    if ((res = sd_db_exec(db, sql, 1, params, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        sd_reply_status(rp, XC_E_INTERNAL, NULL);
        return;
    }
    if (PQgetisnull(res, 0, 1)) {
        int ours = PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (ours) {
            sd_reply_status(rp, XC_E_NOTFOUND, "no such mailbox here");
            return;
        }
        sd_reply_status(rp, XC_OK, NULL);
        xc_put_bool(sd_reply_final(rp), XW_TAG_LOCAL, 0);
        return;
    }
    used = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    quota = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    if (sd_arg_i8(req, XW_TAG_SEND_QUOTA_BYTES, &size) == 0) {
        /* a sender's check (submission): its send quota */
        int64_t send = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
        int64_t user = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        PQclear(res);
        if (send >= 0 && used >= send) {
            sd_reply_status(rp, XC_E_NOQUOTA, "send quota exceeded");
            return;
        }
        sd_reply_status(rp, XC_OK, NULL);
        xc_put_bool(sd_reply_final(rp), XW_TAG_LOCAL, 1);
        xc_put_i8(sd_reply_final(rp), XW_TAG_USER_ID, user);
        return;
    }
    if (quota >= 0 && (used >= quota || (size > 0 && used + size > quota))) {
        PQclear(res);
        sd_reply_status(rp, XC_E_NOQUOTA, "mailbox full");
        return;
    }
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    xc_put_bool(w, XW_TAG_LOCAL, 1);
    xc_put_i8(w, XW_TAG_MAILBOX_ID, strtoll(PQgetvalue(res, 0, 1), NULL, 10));
    xc_put_i8(w, XW_TAG_USER_ID, strtoll(PQgetvalue(res, 0, 2), NULL, 10));
    if (!PQgetisnull(res, 0, 5))
        xc_put_str(w, XW_TAG_USER, PQgetvalue(res, 0, 5));
    PQclear(res);
}

/* Newline-separated lists of the recipients and their DSN parameters
   (each recipient's NOTIFY and ORCPT follow its ADDRESS). */
typedef struct rcpts {
    xc_wbuf addr, notify, orcpt;
    size_t n;
} rcpts;

static void add_field(xc_wbuf *w, size_t i, const xc_propval *v)
{
    if (i > 0)
        xc_put_u8(w, '\n');
    if (v != NULL)
        xc_put_bytes(w, v->v.bin.p, v->v.bin.n);
}

static const char *gather(const sd_req *req, rcpts *r)
{
    const xc_propval *a = NULL, *n = NULL, *o = NULL;

    for (size_t i = 0; i <= req->nargs; i++) {
        const xc_propval *v = i < req->nargs ? &req->args[i] : NULL;
        if (v == NULL || v->tag == XW_TAG_ADDRESS) {
            if (a != NULL) {
                if (r->n == QUEUE_MAX_RCPTS)
                    return "too many recipients";
                add_field(&r->addr, r->n, a);
                add_field(&r->notify, r->n, n);
                add_field(&r->orcpt, r->n, o);
                r->n++;
            }
            if (v != NULL && !plain(v, QUEUE_ADDR_MAX))
                return "a recipient address is empty, too long or has "
                       "control characters";
            a = v;
            n = o = NULL;
        } else if (v->tag == XW_TAG_NOTIFY || v->tag == XW_TAG_ORCPT) {
            if (a == NULL || !plain(v, 500))
                return "NOTIFY and ORCPT follow their recipient's ADDRESS";
            if (v->tag == XW_TAG_NOTIFY)
                n = v;
            else
                o = v;
        }
    }
    if (r->n == 0)
        return "at least one recipient ADDRESS required";
    xc_put_u8(&r->addr, 0);
    xc_put_u8(&r->notify, 0);
    xc_put_u8(&r->orcpt, 0);
    return r->addr.err || r->notify.err || r->orcpt.err ? "out of memory"
                                                         : NULL;
}

/* Recipients of another queued message that the one being put settles
   (its bounce): they leave the queue in the same commit. */
typedef struct settles {
    int64_t queue;
    const xc_propval *idx;      /* XW_TAG_DONE_IDX, or NULL */
} settles;

static xc_status put_once(sd_db *db, const char *const *params,
                          const int *len, const int *fmt, const uint8_t *hash,
                          const uint8_t *mime, size_t mime_len,
                          const settles *done, PGresult **res_r)
{
    static const char sql_done[] = "SELECT xc_queue_done($1, $2)";
    static const char sql_put[] =
        "WITH q AS (INSERT INTO mail_queue (sender, blob, size, client, "
        "  auth_user, envid, ret) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "  RETURNING id), "
        "b AS (UPDATE blobs SET refcount = refcount + 1 WHERE hash = $2), "
        "r AS (INSERT INTO mail_queue_rcpt (queue_id, idx, address, domain, "
        "  mailbox_id, notify, orcpt, leased_until) "
        "  SELECT q.id, t.i - 1, t.a, lower(split_part(t.a, '@', 2)), mb.id, "
        "  nullif(t.n, ''), nullif(t.o, ''), "
        /* the caller delivers the local ones itself: leased to it */
        "  CASE WHEN mb.id IS NOT NULL AND $11::integer > 0 "
        "  THEN now() + make_interval(secs => $11::integer) END "
        "  FROM q, unnest(string_to_array($8, chr(10)), "
        "  string_to_array($9, chr(10)), string_to_array($10, chr(10))) "
        "  WITH ORDINALITY AS t(a, n, o, i) "
        "  LEFT JOIN LATERAL (SELECT m.id FROM addresses ad JOIN mailboxes m "
        "   ON m.user_id = ad.user_id WHERE ad.address = lower(t.a)) mb "
        "  ON true WHERE t.a IS NOT NULL "
        "  RETURNING idx, mailbox_id) "
        "SELECT q.id, (SELECT array_agg(idx ORDER BY idx) FROM r "
        "  WHERE mailbox_id IS NOT NULL) FROM q";
    static const char sql_hold[] = "SELECT xc_blob_hold($1, $2)";
    const char *hp[2] = { (const char *)hash, (const char *)mime };
    const int hl[2] = { 32, (int)mime_len }, hf[2] = { 1, 1 };
    xc_status st;

    *res_r = NULL;
    if ((st = sd_db_ready(db)) != XC_OK ||
        (st = sd_db_prepare(db, sql_put, 0)) != XC_OK ||
        (st = sd_db_prepare(db, sql_hold, 0)) != XC_OK ||
        (st = sd_db_prepare(db, sql_done, 0)) != XC_OK ||
        (st = sd_db_pipe_begin(db)) != XC_OK)
        return st;
    st = sd_db_pipe_tx_begin(db);
    if (st == XC_OK)
        st = sd_db_pipe_send(db, sql_hold, 2, hp, hl, hf);
    if (st == XC_OK) {
        sd_db_pipe_keep(db);
        st = sd_db_pipe_send(db, sql_put, 11, params, len, fmt);
    }
    if (st == XC_OK && done->idx != NULL) {
        xc_mv_iter it;
        xc_propval one;
        char q[24], i[16];
        const char *dp[2] = { q, i };
        snprintf(q, sizeof(q), "%" PRId64, done->queue);
        xc_mv_iter_init(&it, done->idx);
        while (st == XC_OK && xc_mv_next(&it, &one) == 1) {
            snprintf(i, sizeof(i), "%d", (int)one.v.i32);
            st = sd_db_pipe_send(db, sql_done, 2, dp, NULL, NULL);
        }
    }
    if (st == XC_OK)
        st = sd_db_pipe_tx_commit(db);
    st = sd_pipe_end(db, st);
    *res_r = sd_db_pipe_kept(db);
    if (st == XC_OK && (*res_r == NULL || PQntuples(*res_r) != 1))
        st = XC_E_INTERNAL;
    if (st == XC_OK)
        db->in_tx = 0;
    else
        sd_db_rollback(db);
    return st;
}

void sd_queue_put(sd_db *db, sd_req *req, sd_reply *rp)
{
    const xc_propval *mv = xc_props_find(req->args, req->nargs, XW_TAG_MIME);
    char sender[QUEUE_ADDR_MAX + 1], client[256] = "", envid[256] = "",
         ret[8] = "", size[24], auth[24], lease_s[16];
    const char *params[11];
    int len[11] = { 0 }, fmt[11] = { 0 };
    int32_t lease = 0;
    int64_t auth_user = 0;
    settles done;
    uint8_t hash[32];
    unsigned int hl = 0;
    const char *err;
    rcpts r;
    xc_status st = XC_OK;
    PGresult *res = NULL;
    xc_wbuf *w;

    if (!trusted(req, rp))
        return;
    if (sd_arg_str(req, XW_TAG_SENDER, sender, sizeof(sender)) < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "SENDER required (\"\" for <>)");
        return;
    }
    if (mv == NULL || req->stream == NULL || req->stream_len == 0 ||
        (uint64_t)mv->v.i64 != req->stream_len) {
        sd_reply_status(rp, XC_E_BADREQ, "the message must follow as a "
                        "streamed MIME value of the length announced");
        return;
    }
    if (req->stream_len > sd_config->max_message_size) {
        sd_reply_status(rp, XC_E_LIMIT, "message size exceeds fixed "
                        "maximum message size");
        return;
    }
    (void)sd_arg_str(req, XW_TAG_CLIENT, client, sizeof(client));
    (void)sd_arg_str(req, XW_TAG_ENVID, envid, sizeof(envid));
    (void)sd_arg_str(req, XW_TAG_RET, ret, sizeof(ret));
    (void)sd_arg_i8(req, XW_TAG_AUTH_USER, &auth_user);
    done.queue = 0;
    done.idx = xc_props_find(req->args, req->nargs, XW_TAG_DONE_IDX);
    if (done.idx != NULL &&
        (sd_arg_i8(req, XW_TAG_QUEUE_ID, &done.queue) < 0 || done.queue <= 0)) {
        sd_reply_status(rp, XC_E_BADREQ, "DONE_IDX needs its QUEUE_ID");
        return;
    }
    if (ret[0] && strcmp(ret, "FULL") != 0 && strcmp(ret, "HDRS") != 0) {
        sd_reply_status(rp, XC_E_BADREQ, "RET is FULL or HDRS");
        return;
    }
    memset(&r, 0, sizeof(r));
    xc_wbuf_init(&r.addr, 0);
    xc_wbuf_init(&r.notify, 0);
    xc_wbuf_init(&r.orcpt, 0);
    if ((err = gather(req, &r)) != NULL) {
        sd_reply_status(rp, XC_E_BADREQ, err);
        goto out;
    }
    if (!EVP_Digest(req->stream, req->stream_len, hash, &hl, EVP_sha256(),
                    NULL) || req->stream_len > INT32_MAX) {
        sd_reply_status(rp, XC_E_INTERNAL, NULL);
        goto out;
    }
    snprintf(size, sizeof(size), "%zu", req->stream_len);
    snprintf(auth, sizeof(auth), "%" PRId64, auth_user);
    params[0] = sender;
    params[1] = (const char *)hash; len[1] = 32; fmt[1] = 1;
    params[2] = size;
    params[3] = client;
    params[4] = auth_user > 0 ? auth : NULL;
    params[5] = envid[0] ? envid : NULL;
    params[6] = ret[0] ? ret : NULL;
    params[7] = (const char *)r.addr.p;
    params[8] = (const char *)r.notify.p;
    params[9] = (const char *)r.orcpt.p;
    {
        /* the caller delivers these itself now: they are its for LEASE
           seconds (0: any agent may take them at once) */
        const xc_propval *v = xc_props_find(req->args, req->nargs,
                                            XW_TAG_LEASE);
        if (v != NULL && v->v.i32 > 0 && v->v.i32 <= 86400)
            lease = v->v.i32;
    }
    snprintf(lease_s, sizeof(lease_s), "%d", (int)lease);
    params[10] = lease_s;
    /* again after a deadlock on the blob, never after a lost connection:
       its COMMIT may have happened */
    for (int tries = 0;; tries++) {
        PQclear(res);
        st = put_once(db, params, len, fmt, hash, req->stream,
                      req->stream_len, &done, &res);
        if (st != XC_E_TEMP || db->conn == NULL ||
            PQstatus(db->conn) != CONNECTION_OK || tries == 2)
            break;
    }
    if (st != XC_OK) {
        sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "the submitting user "
                        "is gone" : st == XC_E_EXISTS ? "a recipient it "
                        "settles left the queue already" : NULL);
        goto out;
    }
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    xc_put_i8(w, XW_TAG_QUEUE_ID, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    {
        /* "{0,2,5}" or NULL: the local recipients' indexes */
        const char *p = PQgetisnull(res, 0, 1) ? "{}" : PQgetvalue(res, 0, 1);
        size_t at, count = 0;
        xc_put_u32(w, XW_TAG_LOCALS);
        at = w->len;
        xc_put_u32(w, 0);
        while (*p) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end != p) {
                xc_put_u32(w, (uint32_t)v);
                count++;
                p = end;
            } else {
                p++;
            }
        }
        xc_patch_u32(w, at, (uint32_t)count);
    }
out:
    PQclear(res);
    xc_wbuf_free(&r.addr);
    xc_wbuf_free(&r.notify);
    xc_wbuf_free(&r.orcpt);
}

void sd_queue_take(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "SELECT queue_id, idx, address, mailbox_id, sender, size, attempts, "
        "domain, notify, orcpt, warned, envid, ret, age_secs "
        "FROM xc_queue_take($1, $2)";
    char a[16], b[16];
    const char *params[2] = { a, b };
    int64_t limit = 100, lease = 300;
    xc_status st;
    PGresult *res;

    if (!trusted(req, rp))
        return;
    {
        const xc_propval *v = xc_props_find(req->args, req->nargs,
                                            XW_TAG_LIMIT);
        if (v != NULL)
            limit = v->v.i32;
        if ((v = xc_props_find(req->args, req->nargs, XW_TAG_LEASE)) != NULL)
            lease = v->v.i32;
    }
    if (limit < 1 || limit > 1000 || lease < 1 || lease > 86400) {
        sd_reply_status(rp, XC_E_BADREQ, "LIMIT 1..1000, LEASE 1..86400 s");
        return;
    }
    snprintf(a, sizeof(a), "%" PRId64, limit);
    snprintf(b, sizeof(b), "%" PRId64, lease);
    if ((res = sd_db_exec(db, sql, 2, params, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        xc_wbuf *w = sd_reply_begin_row(rp);
        xc_put_i8(w, XW_TAG_QUEUE_ID, strtoll(PQgetvalue(res, i, 0), NULL, 10));
        xc_put_long(w, XW_TAG_RCPT_IDX, atoi(PQgetvalue(res, i, 1)));
        xc_put_str(w, XW_TAG_ADDRESS, PQgetvalue(res, i, 2));
        if (!PQgetisnull(res, i, 3))
            xc_put_i8(w, XW_TAG_MAILBOX_ID,
                      strtoll(PQgetvalue(res, i, 3), NULL, 10));
        xc_put_str(w, XW_TAG_SENDER, PQgetvalue(res, i, 4));
        xc_put_i8(w, XW_TAG_SIZE, strtoll(PQgetvalue(res, i, 5), NULL, 10));
        xc_put_long(w, XW_TAG_ATTEMPTS, atoi(PQgetvalue(res, i, 6)));
        xc_put_str(w, XW_TAG_DOMAIN, PQgetvalue(res, i, 7));
        if (!PQgetisnull(res, i, 8))
            xc_put_str(w, XW_TAG_NOTIFY, PQgetvalue(res, i, 8));
        if (!PQgetisnull(res, i, 9))
            xc_put_str(w, XW_TAG_ORCPT, PQgetvalue(res, i, 9));
        xc_put_bool(w, XW_TAG_WARNED, PQgetvalue(res, i, 10)[0] == 't');
        if (!PQgetisnull(res, i, 11))
            xc_put_str(w, XW_TAG_ENVID, PQgetvalue(res, i, 11));
        if (!PQgetisnull(res, i, 12))
            xc_put_str(w, XW_TAG_RET, PQgetvalue(res, i, 12));
        xc_put_i8(w, XW_TAG_AGE, strtoll(PQgetvalue(res, i, 13), NULL, 10));
        if (sd_reply_row(rp, w) < 0)
            break;
    }
    PQclear(res);
    sd_reply_status(rp, XC_OK, NULL);
}

void sd_queue_read(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "SELECT b.data, q.sender FROM mail_queue q "
        "JOIN blobs b ON b.hash = q.blob WHERE q.id = $1";
    char a[24];
    const char *params[1] = { a };
    const int fmt[1] = { 0 };
    int64_t id;
    xc_status st;
    PGresult *res;
    size_t n;

    if (!trusted(req, rp))
        return;
    if (sd_arg_i8(req, XW_TAG_QUEUE_ID, &id) < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "QUEUE_ID required");
        return;
    }
    snprintf(a, sizeof(a), "%" PRId64, id);
    if ((res = sd_db_execv(db, sql, 1, params, NULL, fmt, 1, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        sd_reply_status(rp, XC_E_NOTFOUND, "no such queue entry");
        return;
    }
    n = (size_t)PQgetlength(res, 0, 0);
    if (sd_reply_stream(rp, (const uint8_t *)PQgetvalue(res, 0, 0), n) == 0) {
        sd_reply_status(rp, XC_OK, NULL);
        xc_put_object(sd_reply_final(rp), XW_TAG_MIME, n);
        xc_put_strn(sd_reply_final(rp), XW_TAG_SENDER, PQgetvalue(res, 0, 1),
                    (size_t)PQgetlength(res, 0, 1));
    } else {
        sd_reply_status(rp, XC_E_TEMP, "client gone");
    }
    PQclear(res);
}

static int queue_entry(sd_req *req, sd_reply *rp, char id[24], char idx[16])
{
    const xc_propval *v = xc_props_find(req->args, req->nargs,
                                        XW_TAG_RCPT_IDX);
    int64_t q;

    if (!trusted(req, rp))
        return -1;
    if (sd_arg_i8(req, XW_TAG_QUEUE_ID, &q) < 0 || v == NULL ||
        v->v.i32 < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "QUEUE_ID and RCPT_IDX required");
        return -1;
    }
    snprintf(id, 24, "%" PRId64, q);
    snprintf(idx, 16, "%d", v->v.i32);
    return 0;
}

void sd_queue_defer(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] = "SELECT xc_queue_defer($1, $2, $3, $4, $5, $6)";
    char id[24], idx[16], why[512] = "", first[16], most[16];
    const xc_propval *warned = xc_props_find(req->args, req->nargs,
                                             XW_TAG_WARNED);
    const char *params[6] = { id, idx, why, first, most,
                              warned != NULL && warned->v.b ? "t" : "f" };
    const xc_propval *v;
    int32_t delay = 60, limit = 3600;
    xc_status st;
    PGresult *res;

    if (queue_entry(req, rp, id, idx) < 0)
        return;
    (void)sd_arg_str(req, XW_TAG_ERRMSG, why, sizeof(why));
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_DELAY)) != NULL)
        delay = v->v.i32;
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_LIMIT)) != NULL)
        limit = v->v.i32;
    if (delay < 1 || limit < delay || limit > 7 * 86400) {
        sd_reply_status(rp, XC_E_BADREQ, "DELAY 1..LIMIT, LIMIT up to a week");
        return;
    }
    snprintf(first, sizeof(first), "%d", delay);
    snprintf(most, sizeof(most), "%d", limit);
    if ((res = sd_db_exec(db, sql, 6, params, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    PQclear(res);
    sd_reply_status(rp, XC_OK, NULL);
}

void sd_queue_done(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] = "SELECT xc_queue_done($1, $2)";
    char id[24], idx[16];
    const char *params[2] = { id, idx };
    xc_status st;
    PGresult *res;

    if (queue_entry(req, rp, id, idx) < 0)
        return;
    if ((res = sd_db_exec(db, sql, 2, params, &st)) == NULL) {
        sd_reply_status(rp, st == XC_E_EXISTS ? XC_E_NOTFOUND : st,
                        st == XC_E_EXISTS ? "not queued (done already)"
                                          : NULL);
        return;
    }
    PQclear(res);
    sd_reply_status(rp, XC_OK, NULL);
}

void sd_queue_stats(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "SELECT count(*) FROM (SELECT 1 FROM mail_queue LIMIT $1) x";
    const xc_propval *v = xc_props_find(req->args, req->nargs, XW_TAG_LIMIT);
    char lim[16];
    const char *params[1] = { lim };
    xc_status st;
    PGresult *res;

    if (!trusted(req, rp))
        return;
    snprintf(lim, sizeof(lim), "%d",
             v != NULL && v->v.i32 > 0 && v->v.i32 < 100000000
                 ? v->v.i32 + 1 : 1000001);
    if ((res = sd_db_exec(db, sql, 1, params, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL,
                atoi(PQgetvalue(res, 0, 0)));
    PQclear(res);
}
