/*
 * NAME
 *   sd_mime - messages in Internet format: import and read ([MS-OXCMAIL])
 *
 * DESCRIPTION
 *   IMPORT_MIME (lib/xc_wire.h op 30) converts RFC 5322 bytes into a
 *   message with lib/xc_mime and saves it as SAVE_MESSAGE does (one
 *   transaction, nothing visible before it commits), keeping the bytes
 *   exactly in message_mime (sql/006) as its received MIME. GET_MIME (op
 *   31) answers those bytes; for a message that has none (made through
 *   MAPI, EWS or ActiveSync, or changed since it came in) it writes MIME
 *   from the content and caches it for the message's current change
 *   number, so each change is converted once.
 *
 *   A received MIME stays while changes leave what it says alone: read
 *   state, flags, follow-up and last-verb properties and named properties
 *   (categories, the client's own) are not in it; any other property
 *   change drops it (sd_mime_relevant) and the next GET_MIME writes the
 *   message anew. Named properties that X- headers became are the
 *   exception the rule accepts: a client that edits one keeps the old
 *   header.
 *
 *   Both MIME and answer travel as streamed values (XW_F_CHUNK frames),
 *   so a message is bounded by max_message_size, not by the frame size.
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"
#include "xc_mime.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME_CACHE 32

/* Named-property lookups of one conversion, remembered for its length. */
typedef struct names {
    sd_db *db;
    int64_t mailbox;
    int n;
    struct {
        uint8_t guid[16];
        uint32_t lid;
        char name[64];          /* "" for a LID, or a name that fits */
        uint16_t id;
    } e[NAME_CACHE];
} names;

int sd_mime_relevant(uint32_t tag)
{
    switch (PROP_ID(tag)) {
    case 0x0E07:                /* PidTagMessageFlags (read state) */
    case 0x0E17:                /* PidTagMessageStatus */
    case 0x0E69:                /* PidTagRead */
    case 0x1080:                /* PidTagIconIndex */
    case 0x1081: case 0x1082:   /* PidTagLastVerbExecuted, its time */
    case 0x1090: case 0x1091:   /* PidTagFlagStatus, PidTagFlagCompleteTime */
        return 0;
    default:
        return PROP_ID(tag) < 0x8000;
    }
}

static int name_to_id(void *ctx, const uint8_t guid[16], uint32_t lid,
                      const char *name, uint16_t *id_r)
{
    names *c = ctx;
    uint16_t id;

    for (int i = 0; i < c->n; i++)
        if (memcmp(c->e[i].guid, guid, 16) == 0 &&
            (name ? strcmp(c->e[i].name, name) == 0
                  : c->e[i].name[0] == '\0' && c->e[i].lid == lid)) {
            *id_r = c->e[i].id;
            return 0;
        }
    if (sd_name_to_id(c->db, c->mailbox, guid, lid, name, &id) != XC_OK)
        return -1;      /* the converter drops this property */
    if (c->n < NAME_CACHE && (name == NULL || strlen(name) < 64)) {
        memcpy(c->e[c->n].guid, guid, 16);
        c->e[c->n].lid = lid;
        snprintf(c->e[c->n].name, sizeof(c->e[c->n].name), "%s",
                 name ? name : "");
        c->e[c->n].id = id;
        c->n++;
    }
    *id_r = id;
    return 0;
}

static int id_to_name(void *ctx, uint16_t id, uint8_t guid_r[16],
                      uint32_t *lid_r, char *name_r, size_t name_len)
{
    names *c = ctx;

    return sd_id_to_name(c->db, c->mailbox, id, guid_r, lid_r, name_r,
                         name_len) == XC_OK ? 0 : -1;
}

#define ROOM 4                  /* values the importer may add */

/* Decode a flat content stream, with room for ROOM more values; NULL if
   it doesn't decode. */
static xc_propval *decode_all(const xc_wbuf *w, size_t *n_r)
{
    size_t cap = w->len / 4 + 1 + ROOM;
    xc_propval *pv = malloc(sizeof(*pv) * cap);
    const char *err;

    if (pv != NULL &&
        xc_props_decode(w->p, w->len, pv, cap - ROOM, n_r, &err) < 0) {
        free(pv);
        pv = NULL;
    }
    return pv;
}

/* A message-level PT_LONG property of content pv (pv[0] START_MESSAGE,
   room for one more value): set, or with or_bits OR-ed into it. */
static void set_long(xc_propval *pv, size_t *n, uint32_t tag, int32_t v,
                     int or_bits)
{
    for (size_t i = 1; i < *n && !sd_is_marker(pv[i].tag); i++)
        if (pv[i].tag == tag) {
            pv[i].v.i32 = or_bits ? pv[i].v.i32 | v : v;
            return;
        }
    memmove(pv + 2, pv + 1, (*n - 1) * sizeof(*pv));
    pv[1].tag = tag;
    pv[1].v.i32 = v;
    (*n)++;
}

/* An imported message's delivery time: its Received date if the
   conversion found one, else its Date, else now. pv[0] is START_MESSAGE
   and pv has room for one more value. */
static void delivery_time(xc_propval *pv, size_t *n)
{
    const xc_propval *sent = NULL;
    size_t i;

    for (i = 1; i < *n && !sd_is_marker(pv[i].tag); i++) {
        if (pv[i].tag == PR_MESSAGE_DELIVERY_TIME)
            return;
        if (pv[i].tag == PR_CLIENT_SUBMIT_TIME)
            sent = &pv[i];
    }
    memmove(pv + 2, pv + 1, (*n - 1) * sizeof(*pv));
    if (sent != NULL)
        sent++;             /* it moved too */
    pv[1].tag = PR_MESSAGE_DELIVERY_TIME;
    pv[1].v.i64 = sent ? sent->v.i64
                       : sd_filetime_of_epoch((double)time(NULL));
    (*n)++;
}

/* QUEUE_ID and RCPT_IDX: mtad delivering a queued recipient (sql/018);
   only a trusted peer may take mail out of the queue. */
static int queued(sd_req *req, sd_reply *rp, sd_db *db)
{
    const xc_propval *idx = xc_props_find(req->args, req->nargs,
                                          XW_TAG_RCPT_IDX);
    int64_t id;

    db->dequeue_id = 0;
    if (sd_arg_i8(req, XW_TAG_QUEUE_ID, &id) < 0)
        return 0;
    if (!sd_peer_trusted(req->peer_uid)) {
        sd_reply_status(rp, XC_E_PERM, "the mail queue is for trusted "
                        "peers");
        return -1;
    }
    if (id <= 0 || idx == NULL || idx->v.i32 < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "QUEUE_ID needs its RCPT_IDX");
        return -1;
    }
    db->dequeue_id = id;
    db->dequeue_idx = idx->v.i32;
    return 0;
}

/* One message's bytes p[0..len) converted per [MS-OXCMAIL] into content
   (*pv_r[1..*n_r - 1), values pointing into out), with the state req asks
   for; -1 when refused (answered in rp). */
static int convert(sd_db *db, sd_req *req, sd_reply *rp, int64_t mailbox,
                   const uint8_t *p, size_t len, xc_wbuf *out,
                   xc_propval **pv_r, size_t *n_r)
{
    const xc_propval *rd = xc_props_find(req->args, req->nargs, XW_TAG_READ);
    const xc_propval *fl = xc_props_find(req->args, req->nargs,
                                         XW_TAG_FLAGGED);
    const char *err = NULL;
    char msg[160];
    names *ctx;
    int rc;

    *pv_r = NULL;
    if (len == 0) {
        sd_reply_status(rp, XC_E_BADREQ, "an empty message");
        return -1;
    }
    if (len > sd_config->max_message_size) {
        snprintf(msg, sizeof(msg), "message of %zu bytes exceeds "
                 "max_message_size (%zu)", len, sd_config->max_message_size);
        sd_reply_status(rp, XC_E_LIMIT, msg);
        return -1;
    }
    if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
        sd_reply_status(rp, XC_E_TEMP, "out of memory");
        return -1;
    }
    ctx->db = db;
    ctx->mailbox = mailbox;
    rc = xc_mime_to_content(p, len, NULL, name_to_id, ctx, out, &err);
    free(ctx);
    if (rc < 0) {
        snprintf(msg, sizeof(msg), "MIME refused: %s", err);
        sd_reply_status(rp, XC_E_BADREQ, msg);
        return -1;
    }
    if ((*pv_r = decode_all(out, n_r)) == NULL || *n_r < 2) {
        sd_reply_status(rp, XC_E_INTERNAL, "converted content does not "
                        "decode");
        return -1;
    }
    delivery_time(*pv_r, n_r);
    /* the state the message had where it came from (Maildir flags, an mbox
       Status field) */
    if (rd != NULL && rd->v.b)
        set_long(*pv_r, n_r, PR_MESSAGE_FLAGS, MSGFLAG_READ, 1);
    if (fl != NULL && fl->v.b)
        set_long(*pv_r, n_r, PR_FLAG_STATUS, 2, 0);     /* followupFlagged */
    return 0;
}

/* PARTS: mtad's deliveries to one mailbox at one moment, one after another
   in the stream, saved in one transaction (sd_save_new_many). */
static void import_parts(sd_db *db, sd_req *req, sd_reply *rp, int64_t mailbox,
                         const xc_propval *sizes)
{
    sd_part part[XW_IMPORT_PARTS_MAX];
    xc_wbuf out[XW_IMPORT_PARTS_MAX];
    xc_propval *pv[XW_IMPORT_PARTS_MAX];
    xc_mv_iter it;
    xc_propval one;
    size_t at = 0;
    int k = 0, r, ok = 1;

    if (db->dequeue_id > 0) {
        sd_reply_status(rp, XC_E_BADREQ, "PARTS can't deliver a queued "
                        "recipient");
        return;
    }
    xc_mv_iter_init(&it, sizes);
    while (ok && (r = xc_mv_next(&it, &one)) == 1) {
        if (k == XW_IMPORT_PARTS_MAX || one.v.i64 <= 0 ||
            (uint64_t)one.v.i64 > req->stream_len - at) {
            sd_reply_status(rp, XC_E_BADREQ, "PARTS don't divide the "
                            "stream");
            ok = 0;
            break;
        }
        xc_wbuf_init(&out[k], 0);
        part[k].mime = req->stream + at;
        part[k].mime_len = (size_t)one.v.i64;
        at += part[k].mime_len;
        ok = convert(db, req, rp, mailbox, part[k].mime, part[k].mime_len,
                     &out[k], &pv[k], &part[k].n) == 0;
        part[k].pv = pv[k] ? pv[k] + 1 : NULL;
        part[k].n = ok ? part[k].n - 2 : 0;
        k++;
    }
    if (ok && (r < 0 || k == 0 || at != req->stream_len)) {
        sd_reply_status(rp, XC_E_BADREQ, "PARTS don't divide the stream");
        ok = 0;
    }
    if (ok)
        sd_save_new_many(db, req, rp, part, k);
    for (int i = 0; i < k; i++) {
        free(pv[i]);
        xc_wbuf_free(&out[i]);
    }
}

void sd_mime_import(sd_db *db, sd_req *req, sd_reply *rp)
{
    const xc_propval *v = xc_props_find(req->args, req->nargs, XW_TAG_MIME);
    const xc_propval *sizes = xc_props_find(req->args, req->nargs,
                                            XW_TAG_PARTS);
    xc_wbuf out;
    xc_propval *pv = NULL;
    size_t n = 0;
    sd_user me;
    mbx m;
    int64_t fid;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    if (v == NULL || req->stream == NULL ||
        (uint64_t)v->v.i64 != req->stream_len) {
        sd_reply_status(rp, XC_E_BADREQ, "MIME must follow as a streamed "
                        "value of the length announced");
        return;
    }
    if (xc_props_find(req->args, req->nargs, PR_MID) != NULL ||
        xc_props_find(req->args, req->nargs, PR_FID) == NULL) {
        sd_reply_status(rp, XC_E_BADREQ, "IMPORT_MIME creates a message in "
                        "PR_FID");
        return;
    }
    if (queued(req, rp, db) < 0 ||
        sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0 ||
        sd_need_rights(db, rp, &m, fid, XW_RIGHT_CREATE, "creating a "
                       "message needs Create", NULL) < 0)
        return;
    if (sizes != NULL) {
        import_parts(db, req, rp, m.id, sizes);
        db->dequeue_id = 0;
        return;
    }
    xc_wbuf_init(&out, 0);
    if (convert(db, req, rp, m.id, req->stream, req->stream_len, &out, &pv,
                &n) == 0)
        sd_save_content(db, req, rp, pv + 1, n - 2, req->stream,
                        req->stream_len);
    db->dequeue_id = 0;
    free(pv);
    xc_wbuf_free(&out);
}

/* Keep generated MIME for the change it was made from, unless the message
   changed meanwhile (then the next reader makes it anew). */
static void cache_mime(sd_db *db, int64_t mailbox, int64_t mid, uint64_t cn,
                       const uint8_t *p, size_t len)
{
    static const char sql_lock[] =
        "SELECT cn FROM messages WHERE mailbox_id = $1 AND mid = $2 "
        "FOR UPDATE";
    static const char sql_drop[] =
        "DELETE FROM message_mime WHERE mailbox_id = $1 AND mid = $2";
    char a[24], b[24];
    const char *params[2] = { a, b };
    xc_status st;
    PGresult *res;

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRId64, mid);
    if (sd_db_begin(db) != XC_OK)
        return;
    res = sd_db_exec(db, sql_lock, 2, params, &st);
    if (res == NULL || PQntuples(res) != 1 ||
        strtoull(PQgetvalue(res, 0, 0), NULL, 10) != cn) {
        PQclear(res);
        sd_db_rollback(db);
        return;
    }
    PQclear(res);
    if ((res = sd_db_exec(db, sql_drop, 2, params, &st)) == NULL)
        goto fail;
    PQclear(res);
    if ((st = sd_put_mime(db, mailbox, (uint64_t)mid, cn, 0, p, len)) !=
            XC_OK ||
        (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    return;
fail:
    sd_db_rollback(db);
    sd_log_warn(30, "could not cache generated MIME of message %" PRId64
                " (status %d)", mid, (int)st);
}

/* MIME written from the stored content; *cn_r is the change it shows. */
static xc_status generate(sd_db *db, const mbx *m, int64_t mid,
                          xc_wbuf *mime, uint64_t *cn_r, const char **err_r)
{
    sd_content_rows r;
    xc_wbuf content;
    xc_propval *pv;
    size_t n = 0;
    names *ctx;
    xc_status st;

    if ((st = sd_fetch_content(db, m->id, mid, -1, 1, &r)) != XC_OK)
        return st;
    *cn_r = r.cn;
    xc_wbuf_init(&content, 0);
    sd_emit_content(&content, &r, m->replid, mid, 0);
    sd_content_rows_clear(&r);
    pv = content.err ? NULL : decode_all(&content, &n);
    ctx = calloc(1, sizeof(*ctx));
    st = XC_E_INTERNAL;
    *err_r = "stored content does not decode";
    if (pv != NULL && ctx != NULL) {
        ctx->db = db;
        ctx->mailbox = m->id;
        if (xc_content_to_mime(pv, n, id_to_name, ctx, mime, err_r) == 0)
            st = XC_OK;
    }
    free(ctx);
    free(pv);
    xc_wbuf_free(&content);
    return st;
}

void sd_mime_get(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "SELECT m.cn, mm.cn, mm.received, b.data, m.fid FROM messages m "
        "LEFT JOIN message_mime mm ON mm.mailbox_id = m.mailbox_id "
        "  AND mm.mid = m.mid "
        "LEFT JOIN blobs b ON b.hash = mm.blob "
        "WHERE m.mailbox_id = $1 AND m.mid = $2";
    char a[24], b[24];
    const char *params[2] = { a, b };
    const int fmt[2] = { 0, 0 };
    const char *err = NULL;
    int64_t mid;
    uint64_t cn;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res;
    xc_wbuf mime;
    const uint8_t *p;
    size_t len;

    if (sd_open_store(db, req, rp, &me, &m) < 0 ||
        sd_id_arg(req, rp, PR_MID, "message", &m, &mid) < 0)
        return;
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRId64, mid);
    if ((res = sd_db_execv(db, sql, 2, params, NULL, fmt, 1, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        sd_reply_status(rp, XC_E_NOTFOUND, "no such message");
        return;
    }
    if (!m.owner &&
        sd_need_rights(db, rp, &m, (int64_t)sd_be64(PQgetvalue(res, 0, 4)),
                       XW_RIGHT_READ_ANY, "reading needs ReadAny", NULL) < 0) {
        PQclear(res);
        return;
    }
    cn = sd_be64(PQgetvalue(res, 0, 0));
    xc_wbuf_init(&mime, 0);
    if (!PQgetisnull(res, 0, 3) &&
        (PQgetvalue(res, 0, 2)[0] || sd_be64(PQgetvalue(res, 0, 1)) == cn)) {
        p = (const uint8_t *)PQgetvalue(res, 0, 3);
        len = (size_t)PQgetlength(res, 0, 3);
    } else {
        PQclear(res);
        res = NULL;
        if ((st = generate(db, &m, mid, &mime, &cn, &err)) != XC_OK) {
            xc_wbuf_free(&mime);
            sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such message"
                                                        : err);
            return;
        }
        cache_mime(db, m.id, mid, cn, mime.p, mime.len);
        p = mime.p;
        len = mime.len;
    }
    if (sd_reply_stream(rp, p, len) == 0) {
        sd_reply_status(rp, XC_OK, NULL);
        xc_put_object(sd_reply_final(rp), XW_TAG_MIME, len);
        xc_put_i8(sd_reply_final(rp), XW_TAG_CN, (int64_t)cn);
    } else {
        sd_reply_status(rp, XC_E_TEMP, "client gone");
    }
    PQclear(res);
    xc_wbuf_free(&mime);
}
