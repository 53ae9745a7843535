/*
 * NAME
 *   sd_store - folders, messages, contents tables and the change log
 *
 * DESCRIPTION
 *   The store operations of lib/xc_wire.h on the model of sql/002_store.sql
 *   ([MS-OXCFOLD], [MS-OXCMSG], [MS-OXCPRPT], [MS-OXCTABL]).
 *
 *   Every change runs in one transaction that takes the mailbox row
 *   (UPDATE ... next_cn): the change number, the change key (the mailbox's
 *   replica GUID + CN, [MS-OXCFXICS] 2.2.2.2), the predecessor change list,
 *   the rows themselves and the change log entry commit together or not at
 *   all, and CN order is commit order. Nothing is visible before COMMIT.
 *   Changes take the row first (one lock order, no deadlocks between
 *   writers), except a new message's save, the most frequent: its id comes
 *   from a range taken ahead (new_id) and it takes the row last, in the
 *   same pipeline as its COMMIT (save_new, sql/012), so saves into one
 *   mailbox overlap but for that last statement.
 *
 *   Property values are kept in the column of their type (ival, fval,
 *   tval, bval); strings as UTF-8 whatever their wire type, so that they
 *   can be searched; values over 4 KiB once per content in blobs.
 *
 *   Access: a session reaches its own mailbox (delegation and folder
 *   permissions, [MS-OXCPERM], come later); other mailboxes are NOTFOUND.
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"
#include "xc_text.h"

#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INLINE_MAX 4096         /* larger values go to blobs */


/* Statements of the pipelined save: prepared before the pipeline. */
static const char sql_put_msg[] =
    "INSERT INTO message_props (mailbox_id, mid, tag, ival, fval, tval, "
    "bval, blob) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
static const char sql_put_recip[] =
    "INSERT INTO recipients (mailbox_id, mid, tag, ival, fval, tval, "
    "bval, blob, row_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
static const char sql_put_attach[] =
    "INSERT INTO attachments (mailbox_id, mid, tag, ival, fval, tval, "
    "bval, blob, attach_num) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
static const char sql_put_folder[] =
    "INSERT INTO folder_props (mailbox_id, fid, tag, ival, fval, tval, "
    "bval, blob) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
static const char sql_put_blob[] = "SELECT xc_blob_put($1, $2)";
static const char sql_hold_blob[] = "SELECT xc_blob_hold($1, $2)";
static const char sql_ref_blobs[] = "SELECT xc_blob_ref($1, $2)";
static const char sql_log_change[] =
    "INSERT INTO changes (mailbox_id, cn, kind, fid, mid, is_fai) "
    "VALUES ($1, $2, $3, $4, $5, $6)";


/* ---- small helpers --------------------------------------------------- */

uint64_t sd_be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (uint8_t)p[i];
    return v;
}

uint32_t sd_be32(const char *p)
{
    return (uint32_t)(uint8_t)p[0] << 24 | (uint32_t)(uint8_t)p[1] << 16 |
           (uint32_t)(uint8_t)p[2] << 8 | (uint8_t)p[3];
}

/* RFC 4122 byte order (PostgreSQL uuid) -> [MS-OXCDATA] 2.5.1 GUID. */
void sd_guid_from_uuid(uint8_t out[16], const uint8_t in[16])
{
    static const int map[16] = { 3, 2, 1, 0, 5, 4, 7, 6,
                                 8, 9, 10, 11, 12, 13, 14, 15 };
    for (int i = 0; i < 16; i++)
        out[i] = in[map[i]];
}

int64_t sd_filetime_of_epoch(double secs)
{
    return (int64_t)llround((secs + (double)FILETIME_UNIX_DIFF) * 1e7);
}

/* A store the session owns: its own mailbox, or the public store for its
   administrators (id and replica id in *m); else answer NOTFOUND and
   return -1. */
int sd_open_mailbox(sd_db *db, sd_req *req, sd_reply *rp, sd_user *me,
                    mbx *m)
{
    if (sd_open_store(db, req, rp, me, m) < 0)
        return -1;
    if (!m->owner) {
        sd_reply_status(rp, XC_E_NOTFOUND, "no such mailbox");
        return -1;
    }
    return 0;
}

/* Take the mailbox row for a change: next CN (and n new ids). */
xc_status sd_take_mailbox(sd_db *db, int64_t mailbox, int nids, mbx *m,
                              uint64_t *cn_r, uint64_t *gc_r)
{
    return sd_take_ids(db, mailbox, 1, nids, m, cn_r, gc_r);
}

xc_status sd_take_ids(sd_db *db, int64_t mailbox, int ncn, int nids, mbx *m,
                      uint64_t *cn_r, uint64_t *gc_r)
{
    static const char sql[] =
        "UPDATE mailboxes SET next_cn = next_cn + $3, next_gc = next_gc + $2 "
        "WHERE id = $1 "
        "RETURNING next_cn - $3, next_gc - $2, uuid_send(replica_guid), "
        "used_bytes, coalesce(quota_bytes, -1)";
    char a[24], b[16], c[16];
    const char *params[3] = { a, b, c };
    const int fmt[3] = { 0, 0, 0 };
    xc_status st;
    PGresult *res;

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%d", nids);
    snprintf(c, sizeof(c), "%d", ncn);
    res = sd_db_execv(db, sql, 3, params, NULL, fmt, 1, &st);
    if (res == NULL)
        return st;
    if (PQntuples(res) != 1 || PQgetlength(res, 0, 2) != 16) {
        PQclear(res);
        return XC_E_NOTFOUND;
    }
    *cn_r = sd_be64(PQgetvalue(res, 0, 0));
    if (gc_r != NULL)
        *gc_r = sd_be64(PQgetvalue(res, 0, 1));
    sd_guid_from_uuid(m->guid, (const uint8_t *)PQgetvalue(res, 0, 2));
    m->used = (int64_t)sd_be64(PQgetvalue(res, 0, 3));
    m->quota = (int64_t)sd_be64(PQgetvalue(res, 0, 4));
    PQclear(res);
    if (*cn_r + (uint64_t)ncn - 1 > XC_GC_MAX ||
        (gc_r != NULL && *gc_r + (uint64_t)nids > XC_GC_MAX))
        return XC_E_LIMIT;
    return XC_OK;
}

int sd_over_quota(const mbx *m, int64_t delta)
{
    return delta > 0 && m->quota >= 0 && m->used + delta > m->quota;
}

static const char sql_use_bytes[] =
    "UPDATE mailboxes SET used_bytes = used_bytes + $2 WHERE id = $1";

xc_status sd_use_bytes(sd_db *db, mbx *m, int64_t delta)
{
    char a[24], b[24];
    const char *params[2] = { a, b };

    if (delta == 0)
        return XC_OK;
    snprintf(a, sizeof(a), "%" PRId64, m->id);
    snprintf(b, sizeof(b), "%" PRId64, delta);
    m->used += delta;
    return sd_run(db, sql_use_bytes, 2, params, NULL, NULL);
}

xc_status sd_pipe_end(sd_db *db, xc_status st)
{
    xc_status end = sd_db_pipe_end(db);
    return st != XC_OK ? st : end;
}

xc_status sd_run(sd_db *db, const char *sql, int nparams,
                 const char *const *params, const int *lengths,
                 const int *formats)
{
    xc_status st;
    PGresult *res;

    if (db->conn != NULL && PQpipelineStatus(db->conn) == PQ_PIPELINE_ON)
        return sd_db_pipe_send(db, sql, nparams, params, lengths, formats);
    res = sd_db_execv(db, sql, nparams, params, lengths, formats, 0, &st);
    PQclear(res);
    return res ? XC_OK : st;
}

xc_status sd_log_change(sd_db *db, int64_t mailbox, uint64_t cn,
                            const char *kind, uint64_t fid, const uint64_t *mid,
                            int fai)
{
    char a[24], b[24], d[24], e[24];
    const char *params[6] = { a, b, kind, d, mid ? e : NULL, fai ? "t" : "f" };

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, cn);
    snprintf(d, sizeof(d), "%" PRIu64, fid);
    if (mid)
        snprintf(e, sizeof(e), "%" PRIu64, *mid);
    return sd_run(db, sql_log_change, 6, params, NULL, NULL);
}

/*
 * Every writer takes the mailbox row first (sd_take_mailbox, or this when the
 * change numbers come later): one lock order, no deadlocks between writers.
 */
xc_status sd_lock_mailbox(sd_db *db, int64_t mailbox)
{
    static const char sql[] = "SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE";
    char a[24];
    const char *params[1] = { a };
    xc_status st;
    PGresult *res;

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    res = sd_db_exec(db, sql, 1, params, &st);
    PQclear(res);
    return res ? XC_OK : st;
}

static const char sql_count[] = "SELECT xc_folder_count($1, $2, $3, $4, $5)";

/* Adjust a folder's counts (content, unread; FAI counted apart). */
xc_status sd_count_folder(sd_db *db, int64_t mailbox, uint64_t fid,
                              int fai, int content, int unread)
{
    char a[24], b[24], d[16], e[16];
    const char *params[5] = { a, b, fai ? "t" : "f", d, e };

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, fid);
    snprintf(d, sizeof(d), "%d", content);
    snprintf(e, sizeof(e), "%d", unread);
    return sd_run(db, sql_count, 5, params, NULL, NULL);
}

/* Wire id of this mailbox -> global counter, or -1. */
int64_t sd_gc_of(const mbx *m, int64_t wire)
{
    if (xc_id_replid((uint64_t)wire) != m->replid)
        return -1;
    return (int64_t)xc_id_gc((uint64_t)wire);
}

/*
 * The id argument tag (PR_MID or PR_FID) of the request as a global counter
 * of the caller's mailbox; answers the request (BADREQ / NOTFOUND naming
 * what) and returns -1 if it is missing or not of this mailbox.
 */
int sd_id_arg(sd_req *req, sd_reply *rp, uint32_t tag, const char *what,
                  const mbx *m, int64_t *gc_r)
{
    int64_t wire;
    char msg[64];

    if (sd_arg_i8(req, tag, &wire) < 0) {
        snprintf(msg, sizeof(msg), "%s id required", what);
        sd_reply_status(rp, XC_E_BADREQ, msg);
        return -1;
    }
    if ((*gc_r = sd_gc_of(m, wire)) < 0) {
        snprintf(msg, sizeof(msg), "no such %s", what);
        sd_reply_status(rp, XC_E_NOTFOUND, msg);
        return -1;
    }
    return 0;
}

/* ---- property values <-> typed columns -------------------------------- */

/* Which tags are arguments or computed, never stored as content. */
int sd_is_computed(uint32_t tag)
{
    switch (PROP_ID(tag)) {
    case PROP_ID(PR_FID): case PROP_ID(PR_PARENT_FID): case PROP_ID(PR_MID):
    case PROP_ID(PR_CHANGE_KEY): case PROP_ID(PR_PREDECESSOR_CHANGE_LIST):
    case PROP_ID(PR_MESSAGE_FLAGS): case PROP_ID(PR_MESSAGE_SIZE):
    case PROP_ID(PR_CHANGE_NUMBER): case PROP_ID(PR_ASSOCIATED):
    case PROP_ID(PR_CREATION_TIME): case PROP_ID(PR_LAST_MODIFICATION_TIME):
        return 1;
    default:
        return 0;
    }
}

int sd_is_marker(uint32_t tag)
{
    return tag == XW_MARK_START_MESSAGE || tag == XW_MARK_END_MESSAGE ||
           tag == XW_MARK_START_RECIP || tag == XW_MARK_END_RECIP ||
           tag == XW_MARK_NEW_ATTACH || tag == XW_MARK_END_ATTACH ||
           tag == XW_MARK_START_EMBED || tag == XW_MARK_END_EMBED;
}

/* What a value adds to PR_MESSAGE_SIZE (its stored length). */
int64_t sd_value_size(const xc_propval *pv)
{
    uint16_t type = PROP_TYPE(pv->tag);

    if (type & PT_MV)
        return 4 + (int64_t)pv->v.mv.n;
    switch (type) {
    case PT_STRING8: case PT_UNICODE: case PT_BINARY: case PT_SVREID:
        return pv->v.bin.n ? (int64_t)pv->v.bin.n : 8;
    case PT_CLSID:
        return 16;
    default:
        return 8;
    }
}

void sd_cols_free(sd_cols *c)
{
    free(c->mvbuf);
    xc_wbuf_free(&c->u8);
}

/* Remember a blob held for the save in progress (save_new). */
static xc_status held_add(sd_held *h, const uint8_t hash[32])
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        uint8_t (*p)[32] = realloc(h->hash, cap * sizeof(*p));
        if (p == NULL)
            return XC_E_TEMP;
        h->hash = p;
        h->cap = cap;
    }
    memcpy(h->hash[h->n++], hash, 32);
    return XC_OK;
}

xc_status sd_value_cols(sd_db *db, const xc_propval *pv, sd_cols *c)
{
    uint16_t type = PROP_TYPE(pv->tag);

    memset(c, 0, sizeof(*c));
    xc_wbuf_init(&c->u8, 0);
    if (type & PT_MV) {
        /* the wire form: count, then the values */
        c->mvbuf = malloc(4 + pv->v.mv.n);
        if (c->mvbuf == NULL)
            return XC_E_TEMP;
        c->mvbuf[0] = (uint8_t)pv->v.mv.count;
        c->mvbuf[1] = (uint8_t)(pv->v.mv.count >> 8);
        c->mvbuf[2] = (uint8_t)(pv->v.mv.count >> 16);
        c->mvbuf[3] = (uint8_t)(pv->v.mv.count >> 24);
        memcpy(c->mvbuf + 4, pv->v.mv.p, pv->v.mv.n);
        c->data = c->mvbuf;
        c->dlen = 4 + pv->v.mv.n;
    } else {
        switch (type) {
        case PT_SHORT: c->has_i = 1; c->i = pv->v.i16; break;
        case PT_LONG: c->has_i = 1; c->i = pv->v.i32; break;
        case PT_ERROR: c->has_i = 1; c->i = (uint32_t)pv->v.i32; break;
        case PT_BOOLEAN: c->has_i = 1; c->i = pv->v.b; break;
        case PT_I8: case PT_CURRENCY: case PT_SYSTIME:
            c->has_i = 1;
            c->i = pv->v.i64;
            break;
        case PT_FLOAT: {
            /* as its 9 significant digits, which is how restrictions
               compare floats (sd_query.c) */
            char fv[40];
            snprintf(fv, sizeof(fv), "%.9g", (double)pv->v.f32);
            c->has_f = 1;
            c->f = strtod(fv, NULL);
            break;
        }
        case PT_DOUBLE: case PT_APPTIME: c->has_f = 1; c->f = pv->v.f64; break;
        case PT_STRING8:
            c->data = pv->v.bin.p ? pv->v.bin.p : (const uint8_t *)"";
            c->dlen = pv->v.bin.n;
            c->is_text = 1;
            break;
        case PT_UNICODE:
            if (xc_utf16le_to_utf8(&c->u8, pv->v.bin.p, pv->v.bin.n) < 0)
                return XC_E_BADREQ;
            c->data = c->u8.p ? c->u8.p : (const uint8_t *)"";
            c->dlen = c->u8.len;
            c->is_text = 1;
            break;
        case PT_BINARY: case PT_SVREID: case PT_CLSID:
            c->data = pv->v.bin.p ? pv->v.bin.p : (const uint8_t *)"";
            c->dlen = pv->v.bin.n;
            break;
        default:
            return XC_E_BADREQ;     /* PT_NULL, PT_OBJECT: not storable */
        }
    }
    if (c->data != NULL && c->dlen > INLINE_MAX) {
        /* single-instance: the value lives in blobs once per content */
        const char *bp[2] = { (const char *)c->hash, (const char *)c->data };
        const int bl[2] = { 32, (int)c->dlen }, bf[2] = { 1, 1 };
        unsigned int hl = 0;

        if (c->dlen > INT32_MAX ||
            !EVP_Digest(c->data, c->dlen, c->hash, &hl, EVP_sha256(), NULL))
            return XC_E_INTERNAL;
        c->has_blob = 1;
        if (db != NULL && db->held != NULL) {     /* save_new */
            xc_status st = held_add(db->held, c->hash);
            return st != XC_OK ? st : sd_run(db, sql_hold_blob, 2, bp, bl, bf);
        }
        return sd_run(db, sql_put_blob, 2, bp, bl, bf);
    }
    return XC_OK;
}

/* The numeric column's text of a value in its columns (ival or fval), or
   "" when it has neither. */
static void cols_number(const sd_cols *c, uint32_t tag, char out[40])
{
    if (c->has_i)
        snprintf(out, 40, "%" PRId64, c->i);
    else if (c->has_f)
        snprintf(out, 40, PROP_TYPE(tag) == PT_FLOAT ? "%.9g" : "%.17g",
                 c->f);
    else
        out[0] = '\0';
}

/*
 * The parameters of one row of a value table: mailbox, mid, tag (num[0]),
 * ival or fval (num[1]), tval, bval, blob and, with ncols 9, the row or
 * attachment number (num[2]).
 */
static void cols_params(const sd_cols *c, const char *mailbox,
                        const char *mid, char num[3][40], int ncols,
                        const char **p, int *l, int *f)
{
    for (int k = 0; k < ncols; k++) {
        p[k] = NULL;
        l[k] = 0;
        f[k] = k >= 5 && k <= 7;        /* tval, bval, blob: binary */
    }
    p[0] = mailbox;
    p[1] = mid;
    p[2] = num[0];
    if (c->has_i)
        p[3] = num[1];
    else if (c->has_f)
        p[4] = num[1];
    if (c->has_blob) {
        p[7] = (const char *)c->hash;
        l[7] = 32;
    } else if (c->data != NULL) {
        p[c->is_text ? 5 : 6] = (const char *)c->data;
        l[c->is_text ? 5 : 6] = (int)c->dlen;
    }
    if (ncols == 9)
        p[8] = num[2];
}

/*
 * Store one value. sub is the recipient row or attachment number.
 */
xc_status sd_put_value(sd_db *db, int table, int64_t mailbox,
                       uint64_t mid, int32_t sub, const xc_propval *pv)
{
    char a[24], b[24], num[3][40];
    const char *params[9];
    int len[9], fmt[9], ncols = table == T_MSG || table == T_FOLDER ? 8 : 9;
    sd_cols c;
    xc_status st;

    if ((st = sd_value_cols(db, pv, &c)) != XC_OK) {
        sd_cols_free(&c);
        return st;
    }
    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, mid);
    snprintf(num[0], sizeof(num[0]), "%d", (int32_t)pv->tag);
    cols_number(&c, pv->tag, num[1]);
    snprintf(num[2], sizeof(num[2]), "%d", sub);
    cols_params(&c, a, b, num, ncols, params, len, fmt);
    st = sd_run(db, table == T_MSG ? sql_put_msg
                    : table == T_RECIP ? sql_put_recip
                    : table == T_ATTACH ? sql_put_attach : sql_put_folder,
                ncols, params, len, fmt);
    sd_cols_free(&c);
    return st;
}

/*
 * Append a stored value (binary result columns tag, ival, fval, tval,
 * bval, blob data starting at col) to w.
 */
/* At most max characters of UTF-8 text p[0..n): its byte length. */
static size_t utf8_prefix(const uint8_t *p, size_t n, size_t max)
{
    size_t i = 0;

    while (i < n && max-- > 0) {
        i++;
        while (i < n && (p[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

void sd_emit_value(xc_wbuf *w, PGresult *res, int row, int col)
{
    sd_emit_value_max(w, res, row, col, 0);
}

void sd_emit_value_max(xc_wbuf *w, PGresult *res, int row, int col,
                       size_t max)
{
    uint32_t tag = sd_be32(PQgetvalue(res, row, col));
    uint16_t type = PROP_TYPE(tag);
    const char *iv = PQgetvalue(res, row, col + 1);
    const char *fvp = PQgetvalue(res, row, col + 2);
    int blobcol = col + 5;
    const char *data;
    size_t dlen;
    double f;

    if (!PQgetisnull(res, row, blobcol)) {
        data = PQgetvalue(res, row, blobcol);
        dlen = (size_t)PQgetlength(res, row, blobcol);
    } else if (!PQgetisnull(res, row, col + 3)) {
        data = PQgetvalue(res, row, col + 3);
        dlen = (size_t)PQgetlength(res, row, col + 3);
    } else {
        data = PQgetvalue(res, row, col + 4);
        dlen = (size_t)PQgetlength(res, row, col + 4);
    }
    if (type & PT_MV) {
        xc_put_u32(w, tag);
        xc_put_bytes(w, data, dlen);    /* count + values */
        return;
    }
    if (max > 0 && (type == PT_STRING8 || type == PT_UNICODE))
        dlen = utf8_prefix((const uint8_t *)data, dlen, max);
    else if (max > 0 && type == PT_BINARY && dlen > max)
        dlen = max;
    switch (type) {
    case PT_SHORT:
        xc_put_u32(w, tag);
        xc_put_u16(w, (uint16_t)sd_be64(iv));
        break;
    case PT_LONG: case PT_ERROR:
        xc_put_long(w, tag, (int32_t)sd_be64(iv));
        break;
    case PT_BOOLEAN:
        xc_put_bool(w, tag, sd_be64(iv) != 0);
        break;
    case PT_I8: case PT_CURRENCY: case PT_SYSTIME:
        xc_put_i8(w, tag, (int64_t)sd_be64(iv));
        break;
    case PT_FLOAT: case PT_DOUBLE: case PT_APPTIME: {
        uint64_t u = sd_be64(fvp);
        memcpy(&f, &u, 8);
        xc_put_u32(w, tag);
        if (type == PT_FLOAT) {
            float g = (float)f;
            uint32_t v;
            memcpy(&v, &g, 4);
            xc_put_u32(w, v);
        } else {
            xc_put_u64(w, u);
        }
        break;
    }
    case PT_STRING8:
        xc_put_strn(w, tag, data, dlen);
        break;
    case PT_UNICODE: {
        size_t at;
        xc_put_u32(w, tag);
        at = w->len;
        xc_put_u32(w, 0);
        (void)xc_utf8_to_utf16le(w, (const uint8_t *)data, dlen);
        xc_patch_u32(w, at, (uint32_t)(w->len - at - 4));
        break;
    }
    case PT_CLSID:
        xc_put_u32(w, tag);
        xc_put_bytes(w, data, 16);
        break;
    default:
        xc_put_bin(w, tag, data, dlen);
        break;
    }
}

/* ---- folders ----------------------------------------------------------- */

void sd_store_create_folder(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "INSERT INTO folders (mailbox_id, fid, parent_fid, display_name, "
        "container_class, cn, change_key, pcl, folder_type) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    char a[24], b[24], c3[24], cn6[24], name[256], cls[256];
    const char *params[9] = { a, b, c3, name, NULL, cn6, NULL, NULL, NULL };
    int len[9] = { 0 }, fmt[9] = { 0, 0, 0, 0, 0, 0, 1, 1, 0 };
    uint8_t xid[XC_XID_LEN], pcl[XC_XID_LEN + 1];
    int64_t parent_w, parent;
    uint64_t cn, gc;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    if (sd_arg_i8(req, PR_PARENT_FID, &parent_w) < 0 ||
        sd_arg_str(req, PR_DISPLAY_NAME, name, sizeof(name)) < 0 ||
        name[0] == '\0') {
        sd_reply_status(rp, XC_E_BADREQ, "parent folder and name required");
        return;
    }
    if (sd_arg_str(req, PR_CONTAINER_CLASS, cls, sizeof(cls)) == 0)
        params[4] = cls;
    {
        /* FOLDER_GENERIC (1) or FOLDER_SEARCH (2, sql/016) */
        const xc_propval *t = xc_props_find(req->args, req->nargs,
                                            PR_FOLDER_TYPE);
        if (t != NULL && t->v.i32 != 1 && t->v.i32 != 2) {
            sd_reply_status(rp, XC_E_BADREQ, "PR_FOLDER_TYPE: 1 (generic) "
                            "or 2 (search)");
            return;
        }
        params[8] = t != NULL && t->v.i32 == 2 ? "2" : "1";
    }
    if ((parent = sd_gc_of(&m, parent_w)) < 0) {
        sd_reply_status(rp, XC_E_NOTFOUND, "no such parent folder");
        return;
    }
    if (sd_need_rights(db, rp, &m, parent, XW_RIGHT_CREATE_SUBFOLDER,
                       "creating a subfolder needs CreateSubFolder",
                       NULL) < 0)
        return;
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_take_mailbox(db, m.id, 1, &m, &cn, &gc)) != XC_OK)
        goto fail;
    xc_xid(xid, m.guid, cn);
    (void)xc_pcl_merge(NULL, 0, xid, sizeof(xid), pcl, sizeof(pcl));
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRIu64, gc);
    snprintf(c3, sizeof(c3), "%" PRId64, parent);
    snprintf(cn6, sizeof(cn6), "%" PRIu64, cn);
    params[6] = (const char *)xid;
    len[6] = sizeof(xid);
    params[7] = (const char *)pcl;
    len[7] = sizeof(pcl);
    res = sd_db_execv(db, sql, 9, params, len, fmt, 0, &st);
    if (res == NULL)
        goto fail;
    PQclear(res);
    {
        /* a new folder starts with its parent's permissions, as in
           Exchange (a shared folder's subfolders are shared alike; a
           public folder's too) */
        static const char sql_inherit[] =
            "INSERT INTO folder_permissions (mailbox_id, fid, member_id, "
            "rights) SELECT mailbox_id, $2, member_id, rights "
            "FROM folder_permissions WHERE mailbox_id = $1 AND fid = $3";
        const char *ip[3] = { a, b, c3 };
        if ((res = sd_db_exec(db, sql_inherit, 3, ip, &st)) == NULL)
            goto fail;
        PQclear(res);
    }
    if (!m.owner) {
        /* a delegate owns the folder they made ([MS-OXCPERM]) */
        static const char sql_own[] =
            "INSERT INTO folder_permissions (mailbox_id, fid, member_id, "
            "rights) VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox_id, fid, "
            "member_id) DO UPDATE SET rights = EXCLUDED.rights";
        char u[24], r[16];
        const char *op[4] = { a, b, u, r };
        snprintf(u, sizeof(u), "%" PRId64, m.me);
        snprintf(r, sizeof(r), "%u", XW_RIGHTS_ALL);
        if ((res = sd_db_exec(db, sql_own, 4, op, &st)) == NULL)
            goto fail;
        PQclear(res);
    }
    if ((st = sd_log_change(db, m.id, cn, "create", gc, NULL, 0)) !=
            XC_OK ||
        (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_i8(sd_reply_final(rp), PR_FID, (int64_t)xc_make_id(m.replid, gc));
    xc_put_i8(sd_reply_final(rp), XW_TAG_CN, (int64_t)cn);
    return;
fail:
    sd_db_rollback(db);
    sd_reply_status(rp, st, st == XC_E_EXISTS ? "a folder of that name exists"
                            : st == XC_E_NOTFOUND ? "no such parent folder"
                                                  : NULL);
}

/* ---- messages ---------------------------------------------------------- */

/* The END_EMBED matching the START_EMBED at pv[i], or n. */
static size_t embed_end(const xc_propval *pv, size_t n, size_t i)
{
    int depth = 0;

    for (; i < n; i++) {
        if (pv[i].tag == XW_MARK_START_EMBED)
            depth++;
        else if (pv[i].tag == XW_MARK_END_EMBED && --depth == 0)
            return i;
    }
    return n;
}

/* Check the content's structure before touching the database: markers
   balanced, sub-objects not nested, storable types; nothing partial is
   ever visible. An embedded message is checked as content of its own
   (XC_MAX_EMBED_DEPTH bounds the recursion). */
static const char *check_level(const xc_propval *pv, size_t n, int depth)
{
    int in = 0;     /* 0 message, 1 recipient, 2 attachment */
    int embedded = 0;

    if (depth > XC_MAX_EMBED_DEPTH)
        return "embedded messages nest too deeply";
    for (size_t i = 0; i < n; i++) {
        uint32_t tag = pv[i].tag;
        uint16_t type = PROP_TYPE(tag);

        if (tag == XW_MARK_START_EMBED) {
            size_t end = embed_end(pv, n, i);
            const char *err;
            if (in != 2 || embedded)
                return "an embedded message must stand alone in an "
                       "attachment";
            if (end == n)
                return "embedded message not ended";
            if ((err = check_level(pv + i + 1, end - i - 1, depth + 1)) != NULL)
                return err;
            embedded = 1;
            i = end;
            continue;
        }
        if (tag == XW_MARK_END_EMBED)
            return "end marker without its start";
        if (PROP_ID(tag) == PROP_ID(PR_XC_EMBEDDED))
            return "property 0x67F0 is reserved";
        if (tag == XW_MARK_START_MESSAGE || tag == XW_MARK_END_MESSAGE)
            return "message markers may not nest";
        if (tag == XW_MARK_START_RECIP || tag == XW_MARK_NEW_ATTACH) {
            if (in != 0)
                return "sub-objects may not nest";
            in = tag == XW_MARK_START_RECIP ? 1 : 2;
            embedded = 0;
            continue;
        }
        if (tag == XW_MARK_END_RECIP || tag == XW_MARK_END_ATTACH) {
            if (in != (tag == XW_MARK_END_RECIP ? 1 : 2))
                return "end marker without its start";
            in = 0;
            continue;
        }
        if (in == 0 && sd_is_computed(tag))
            continue;
        if (type == PT_NULL || type == PT_OBJECT || type == PT_UNSPECIFIED)
            return "property type can't be stored";
    }
    return in != 0 ? "sub-object not ended" : NULL;
}

static const char *check_content(const xc_propval *pv, size_t n)
{
    return check_level(pv, n, 0);
}

/* An attachment's embedded message as its one PR_XC_EMBEDDED value. */
static xc_status put_embedded(sd_db *db, int64_t mailbox, uint64_t mid,
                              int32_t attach_num, const xc_propval *pv,
                              size_t n)
{
    xc_wbuf w;
    xc_propval v;
    xc_status st;

    xc_wbuf_init(&w, 0);
    for (size_t i = 0; i < n; i++)
        xc_put_propval(&w, &pv[i]);
    if (w.err || w.len > UINT32_MAX) {
        xc_wbuf_free(&w);
        return XC_E_TEMP;
    }
    v.tag = PR_XC_EMBEDDED;
    v.v.bin.p = w.p;
    v.v.bin.n = (uint32_t)w.len;
    st = sd_put_value(db, T_ATTACH, mailbox, mid, attach_num, &v);
    xc_wbuf_free(&w);
    return st;
}

static xc_status delete_content(sd_db *db, int64_t mailbox, uint64_t mid)
{
    static const char *const sql[4] = {
        "DELETE FROM message_props WHERE mailbox_id = $1 AND mid = $2",
        "DELETE FROM recipients WHERE mailbox_id = $1 AND mid = $2",
        "DELETE FROM attachments WHERE mailbox_id = $1 AND mid = $2",
        "DELETE FROM message_mime WHERE mailbox_id = $1 AND mid = $2",
    };
    char a[24], b[24];
    const char *params[2] = { a, b };
    xc_status st;

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, mid);
    for (int i = 0; i < 4; i++) {
        PGresult *res = sd_db_exec(db, sql[i], 2, params, &st);
        if (res == NULL)
            return st;
        PQclear(res);
    }
    return XC_OK;
}

/* A string property (PT_STRING8 or PT_UNICODE) as NUL-terminated UTF-8. */
int sd_text_of(const xc_propval *pv, xc_wbuf *w)
{
    xc_wbuf_reset(w);
    if (PROP_TYPE(pv->tag) == PT_UNICODE) {
        if (xc_utf16le_to_utf8(w, pv->v.bin.p, pv->v.bin.n) < 0)
            return -1;
    } else if (PROP_TYPE(pv->tag) == PT_STRING8) {
        xc_put_bytes(w, pv->v.bin.p, pv->v.bin.n);
    } else {
        return -1;
    }
    xc_put_u8(w, 0);
    return w->err ? -1 : 0;
}

/*
 * The hot columns of messages (message_class, subject, delivery_time,
 * is_read) as a message's own properties give them: SAVE_MESSAGE sets all
 * of them from its content, SET_PROPS and DELETE_PROPS those whose
 * property they name. Absent values mean the defaults of sql/002.
 */
typedef struct hot {
    xc_wbuf cls, subj;          /* UTF-8 + NUL; empty: none */
    char when[40];              /* epoch seconds; "": none */
    int read;                   /* MSGFLAG_READ of PR_MESSAGE_FLAGS; -1 */
    int32_t flags;              /* its client bits (sql/021), at creation */
    int has_cls, has_subj, has_when;    /* named by the properties */
} hot;

static void hot_init(hot *h)
{
    xc_wbuf_init(&h->cls, 4096);
    xc_wbuf_init(&h->subj, 65536);
    h->when[0] = '\0';
    h->read = -1;
    h->flags = 0;
    h->has_cls = h->has_subj = h->has_when = 0;
}

static void hot_free(hot *h)
{
    xc_wbuf_free(&h->cls);
    xc_wbuf_free(&h->subj);
}

static int is_text_type(uint32_t tag)
{
    return PROP_TYPE(tag) == PT_UNICODE || PROP_TYPE(tag) == PT_STRING8;
}

/* One message-level property: its hot column, if it has one. With del,
   the property goes away: its column returns to the default. */
static void hot_take(hot *h, const xc_propval *pv, int del)
{
    uint16_t id = PROP_ID(pv->tag);

    if (id == PROP_ID(PR_MESSAGE_CLASS) && (del || is_text_type(pv->tag))) {
        h->has_cls = 1;
        if (del || sd_text_of(pv, &h->cls) < 0)
            xc_wbuf_reset(&h->cls);
    } else if (id == PROP_ID(PR_SUBJECT) && (del || is_text_type(pv->tag))) {
        h->has_subj = 1;
        if (del || sd_text_of(pv, &h->subj) < 0)
            xc_wbuf_reset(&h->subj);
    } else if (id == PROP_ID(PR_MESSAGE_DELIVERY_TIME) &&
               (del || pv->tag == PR_MESSAGE_DELIVERY_TIME)) {
        h->has_when = 1;
        h->when[0] = '\0';
        if (!del)
            snprintf(h->when, sizeof(h->when), "%.7f",
                     (double)pv->v.i64 / 1e7 - (double)FILETIME_UNIX_DIFF);
    } else if (pv->tag == PR_MESSAGE_FLAGS && !del) {
        h->read = (pv->v.i32 & MSGFLAG_READ) != 0;
        h->flags = pv->v.i32 & MSGFLAG_CLIENT;
    }
}

/* The message's own properties of content pv[0..n) (up to its first
   sub-object). */
static void hot_scan(hot *h, const xc_propval *pv, size_t n)
{
    for (size_t i = 0; i < n && !sd_is_marker(pv[i].tag); i++)
        hot_take(h, &pv[i], 0);
}

/* Statement parameters of the columns: class, subject, delivery time. */
static void hot_params(const hot *h, const char **p)
{
    p[0] = h->cls.len ? (const char *)h->cls.p : NULL;
    p[1] = h->subj.len ? (const char *)h->subj.p : NULL;
    p[2] = h->when[0] ? h->when : NULL;
}

/* PR_MESSAGE_SIZE of content pv[0..n): its stored values, and 64 bytes
   for each recipient and attachment. */
static int64_t content_size(const xc_propval *pv, size_t n)
{
    int64_t size = 0;

    for (size_t i = 0; i < n; i++) {
        if (pv[i].tag == XW_MARK_START_RECIP || pv[i].tag == XW_MARK_NEW_ATTACH)
            size += 64;
        else if (!sd_is_marker(pv[i].tag) && !sd_is_computed(pv[i].tag))
            size += sd_value_size(&pv[i]);
    }
    return size;
}

int sd_content_of(sd_req *req, sd_reply *rp, const xc_propval **pv_r,
                  size_t *n_r)
{
    size_t start, n;

    /* arguments, then START_MESSAGE content END_MESSAGE: arguments are
       looked up only before the content, which may use any tag */
    for (start = 0; start < req->nargs; start++)
        if (req->args[start].tag == XW_MARK_START_MESSAGE)
            break;
    if (start == req->nargs || req->nargs - start < 2 ||
        req->args[req->nargs - 1].tag != XW_MARK_END_MESSAGE) {
        sd_reply_status(rp, XC_E_BADREQ, "content must stand between "
                        "START_MESSAGE and END_MESSAGE, last");
        return -1;
    }
    n = req->nargs - start - 2;
    req->nargs = start;
    /* large values whose bytes came in the streamed argument */
    if (sd_resolve_streamed(req, rp, req->args + start + 1, &n) < 0)
        return -1;
    *pv_r = req->args + start + 1;
    *n_r = n;
    return 0;
}

static const char sql_folder_exists[] =
    "SELECT 1 FROM folders WHERE mailbox_id = $1 AND fid = $2";

xc_status sd_folder_exists(sd_db *db, int64_t mailbox, uint64_t fid)
{
    char a[24], b[24];
    const char *params[2] = { a, b };
    xc_status st;
    PGresult *res;

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, fid);
    res = sd_db_exec(db, sql_folder_exists, 2, params, &st);
    if (res == NULL)
        return st;
    st = PQntuples(res) == 1 ? XC_OK : XC_E_NOTFOUND;
    PQclear(res);
    return st;
}

/* The per-message size limit of storaged.conf as an answer, or 0. */
static int too_large(sd_reply *rp, int64_t size)
{
    char msg[96];

    if (size <= (int64_t)sd_config->max_message_size)
        return 0;
    snprintf(msg, sizeof(msg), "message of %" PRId64 " bytes exceeds "
             "max_message_size (%zu)", size, sd_config->max_message_size);
    sd_reply_status(rp, XC_E_LIMIT, msg);
    return 1;
}

static const char msg_noquota[] = "mailbox quota exceeded";

void sd_store_save_message(sd_db *db, sd_req *req, sd_reply *rp)
{
    const xc_propval *pv;
    size_t n;

    if (sd_content_of(req, rp, &pv, &n) < 0)
        return;
    sd_save_content(db, req, rp, pv, n, NULL, 0);
}

static const char sql_put_mime[] =
    "INSERT INTO message_mime (mailbox_id, mid, cn, received, blob) "
    "VALUES ($1, $2, $3, $4, xc_blob_put($5, $6))";
/* a new message's received MIME, its blob put before (save_new) */
static const char sql_new_mime[] =
    "INSERT INTO message_mime (mailbox_id, mid, cn, received, blob) "
    "SELECT $1, $2, m.cn, true, $3 FROM messages m "
    "WHERE m.mailbox_id = $1 AND m.mid = $2";

static int mime_hash(const uint8_t *mime, size_t len, uint8_t hash[32])
{
    unsigned int hl = 0;

    return len <= INT32_MAX &&
           EVP_Digest(mime, len, hash, &hl, EVP_sha256(), NULL) ? 0 : -1;
}

xc_status sd_put_mime(sd_db *db, int64_t mailbox, uint64_t mid, uint64_t cn,
                      int received, const uint8_t *mime, size_t len)
{
    char a[24], b[24], c[24];
    uint8_t hash[32];
    const char *params[6] = { a, b, c, received ? "t" : "f",
                              (const char *)hash, (const char *)mime };
    const int lens[6] = { 0, 0, 0, 0, 32, (int)len };
    const int fmt[6] = { 0, 0, 0, 0, 1, 1 };

    if (mime_hash(mime, len, hash) < 0)
        return XC_E_INTERNAL;
    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, mid);
    snprintf(c, sizeof(c), "%" PRIu64, cn);
    /* in a save's pipeline (prepared with it: sd_save_content's extra),
       or on its own */
    return sd_run(db, sql_put_mime, 6, params, lens, fmt);
}

/* ---- content rows, many per statement ------------------------------------
 * A save writes one row per property. One INSERT per row cost PostgreSQL
 * more in statement overhead (bind, executor start and end) than in the
 * rows themselves: measured with pgbench, 20 single-row INSERTs and a
 * message row ran at 1,716 transactions/s on 16 connections, one 20-row
 * INSERT and the message row at 5,310. So a content's rows go out in
 * INSERTs of 32, 16, 8, 4, 2 or 1 rows (six prepared statements per table).
 */
#define BATCH_MAX 32
#define BATCH_SIZES 6           /* 32, 16, 8, 4, 2, 1 */

static char *batch_sql[3][BATCH_SIZES];
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;

static void batch_init(void)
{
    static const char *const head[3] = {
        "INSERT INTO message_props (mailbox_id, mid, tag, ival, fval, tval, "
        "bval, blob) VALUES ",
        "INSERT INTO recipients (mailbox_id, mid, tag, ival, fval, tval, "
        "bval, blob, row_id) VALUES ",
        "INSERT INTO attachments (mailbox_id, mid, tag, ival, fval, tval, "
        "bval, blob, attach_num) VALUES ",
    };

    for (int t = 0; t < 3; t++) {
        int cols = t == T_MSG ? 8 : 9;
        for (int k = 0; k < BATCH_SIZES; k++) {
            int rows = BATCH_MAX >> k, p = 1;
            xc_wbuf w;

            xc_wbuf_init(&w, 0);
            xc_put_bytes(&w, head[t], strlen(head[t]));
            for (int r = 0; r < rows; r++) {
                char one[24];
                xc_put_bytes(&w, r ? ", (" : "(", r ? 3 : 1);
                for (int c = 0; c < cols; c++, p++) {
                    int l = snprintf(one, sizeof(one), "%s$%d",
                                     c ? ", " : "", p);
                    xc_put_bytes(&w, one, (size_t)l);
                }
                xc_put_u8(&w, ')');
            }
            xc_put_u8(&w, '\0');
            batch_sql[t][k] = w.err ? NULL : (char *)w.p;   /* kept */
        }
    }
}

/* Prepare the batch statements (before a pipeline). */
static xc_status batch_prepare(sd_db *db)
{
    xc_status st;

    pthread_once(&batch_once, batch_init);
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < BATCH_SIZES; k++) {
            if (batch_sql[t][k] == NULL)
                return XC_E_TEMP;
            if ((st = sd_db_prepare(db, batch_sql[t][k], 0)) != XC_OK)
                return st;
        }
    return XC_OK;
}

typedef struct row_batch {
    int table, n;
    const char *mailbox, *mid;  /* as parameters */
    sd_cols c[BATCH_MAX];
    char num[BATCH_MAX][3][40]; /* tag, ival or fval, row or attachment */
} row_batch;

/* Send the rows gathered so far, in the fewest statements. */
static xc_status batch_flush(sd_db *db, row_batch *rb)
{
    const char *params[BATCH_MAX * 9];
    int len[BATCH_MAX * 9], fmt[BATCH_MAX * 9];
    int cols = rb->table == T_MSG ? 8 : 9, done = 0;
    xc_status st = XC_OK;

    for (int i = 0; i < rb->n; i++)
        cols_params(&rb->c[i], rb->mailbox, rb->mid, rb->num[i], cols,
                    params + i * cols, len + i * cols, fmt + i * cols);
    for (int k = 0; k < BATCH_SIZES && st == XC_OK; k++) {
        int rows = BATCH_MAX >> k;
        while (rb->n - done >= rows && st == XC_OK) {
            st = sd_db_pipe_send(db, batch_sql[rb->table][k], rows * cols,
                                 params + done * cols, len + done * cols,
                                 fmt + done * cols);
            done += rows;
        }
    }
    for (int i = 0; i < rb->n; i++)
        sd_cols_free(&rb->c[i]);
    rb->n = 0;
    return st;
}

/* One row of a content's table: its large value put (or held) now, the
   row gathered for batch_flush. */
static xc_status batch_add(sd_db *db, row_batch *rb, int table, int32_t sub,
                           const xc_propval *pv)
{
    sd_cols *c;
    xc_status st;

    if (rb->n > 0 && (rb->table != table || rb->n == BATCH_MAX) &&
        (st = batch_flush(db, rb)) != XC_OK)
        return st;
    c = &rb->c[rb->n];
    if ((st = sd_value_cols(db, pv, c)) != XC_OK) {
        sd_cols_free(c);
        return st;
    }
    snprintf(rb->num[rb->n][0], sizeof(rb->num[0][0]), "%d", (int32_t)pv->tag);
    cols_number(c, pv->tag, rb->num[rb->n][1]);
    snprintf(rb->num[rb->n][2], sizeof(rb->num[0][2]), "%d", sub);
    rb->table = table;
    rb->n++;
    return XC_OK;
}

/* Send the rows of content pv[0..n) of message mid into the pipeline
   (statements prepared by sd_prepare_store). */
static xc_status put_content(sd_db *db, int64_t mailbox, uint64_t mid,
                             const xc_propval *pv, size_t n)
{
    int table = T_MSG;
    int32_t sub = 0;
    xc_status st = XC_OK;
    char a[24], b[24];
    row_batch *rb = malloc(sizeof(*rb));

    if (rb == NULL)
        return XC_E_TEMP;
    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, mid);
    rb->n = 0;
    rb->table = T_MSG;
    rb->mailbox = a;
    rb->mid = b;
    for (size_t i = 0; i < n && st == XC_OK; i++) {
        uint32_t tag = pv[i].tag;

        if (tag == XW_MARK_START_RECIP || tag == XW_MARK_NEW_ATTACH) {
            table = tag == XW_MARK_START_RECIP ? T_RECIP : T_ATTACH;
            sub = pv[i].v.i32;
            continue;
        }
        if (tag == XW_MARK_END_RECIP || tag == XW_MARK_END_ATTACH) {
            table = T_MSG;
            continue;
        }
        if (table == T_MSG && sd_is_computed(tag))
            continue;
        if (tag == XW_MARK_START_EMBED) {
            size_t end = embed_end(pv, n, i);
            if (rb->n > 0)
                st = batch_flush(db, rb);
            if (st == XC_OK)
                st = put_embedded(db, mailbox, mid, sub, pv + i + 1,
                                  end - i - 1);
            i = end;
            continue;
        }
        st = batch_add(db, rb, table, sub, &pv[i]);
    }
    if (rb->n > 0) {
        xc_status fst = batch_flush(db, rb);   /* frees the gathered rows */
        if (st == XC_OK)
            st = fst;
    }
    free(rb);
    return st;
}

/* ---- ids in ranges ------------------------------------------------------
 * New messages take their id from a range this process took ahead
 * (sql/012 xc_take_ids, its own short transaction), so a save doesn't need
 * the mailbox row until its end. A range's unused rest is dropped when its
 * slot goes to another mailbox or storaged stops: ids are 48 bits.
 */
#define ID_RANGE 64
#define ID_SLOTS 256

static struct id_slot {
    int64_t mailbox;
    uint64_t next, end;
    uint8_t guid[16];
} id_slots[ID_SLOTS];
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;

/* A new global counter of mailbox m in *gc_r, and m->guid; outside any
   transaction of db. */
static xc_status new_id(sd_db *db, mbx *m, uint64_t *gc_r)
{
    static const char sql[] =
        "SELECT first_gc, guid FROM xc_take_ids($1, $2)";
    struct id_slot *slot = &id_slots[(uint64_t)m->id % ID_SLOTS];
    char a[24], b[16];
    const char *params[2] = { a, b };
    const int fmt[2] = { 0, 0 };
    uint64_t first;
    xc_status st;
    PGresult *res;

    pthread_mutex_lock(&id_lock);
    if (slot->mailbox == m->id && slot->next < slot->end) {
        *gc_r = slot->next++;
        memcpy(m->guid, slot->guid, 16);
        pthread_mutex_unlock(&id_lock);
        return XC_OK;
    }
    pthread_mutex_unlock(&id_lock);

    snprintf(a, sizeof(a), "%" PRId64, m->id);
    snprintf(b, sizeof(b), "%d", ID_RANGE);
    res = sd_db_execv(db, sql, 2, params, NULL, fmt, 1, &st);
    if (res == NULL)
        return st;
    if (PQntuples(res) != 1 || PQgetlength(res, 0, 1) != 16) {
        PQclear(res);
        return XC_E_NOTFOUND;
    }
    first = sd_be64(PQgetvalue(res, 0, 0));
    sd_guid_from_uuid(m->guid, (const uint8_t *)PQgetvalue(res, 0, 1));
    PQclear(res);
    if (first + ID_RANGE > XC_GC_MAX)
        return XC_E_LIMIT;
    pthread_mutex_lock(&id_lock);
    slot->mailbox = m->id;
    slot->next = first + 1;
    slot->end = first + ID_RANGE;
    memcpy(slot->guid, m->guid, 16);
    pthread_mutex_unlock(&id_lock);
    *gc_r = first;
    return XC_OK;
}

/* One message of a save (save_new): what it brings, what it gets. */
typedef struct newmsg {
    const xc_propval *pv;
    size_t n;
    hot h;
    int64_t size;
    int is_read;
    const uint8_t *mime;        /* received bytes, or NULL */
    size_t mime_len;
    uint8_t hash[32];
    uint64_t mid, cn;
} newmsg;

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* One reference more on every blob held in h, each as often as it is
   there: one statement per distinct blob (a burst of mail often shares a
   body or an attachment). */
static xc_status ref_held(sd_db *db, sd_held *h)
{
    xc_status st = XC_OK;

    if (h->n > 1)
        qsort(h->hash, h->n, 32, cmp_hash);
    for (size_t a = 0; a < h->n && st == XC_OK;) {
        size_t b = a + 1;
        char n[16];
        while (b < h->n && memcmp(h->hash[a], h->hash[b], 32) == 0)
            b++;
        snprintf(n, sizeof(n), "%zu", b - a);
        {
            const char *rp_[2] = { (const char *)h->hash[a], n };
            const int rl[2] = { 32, 0 }, rf[2] = { 1, 0 };
            st = sd_db_pipe_send(db, sql_ref_blobs, 2, rp_, rl, rf);
        }
        a = b;
    }
    return st;
}

/* A PostgreSQL array literal of k texts (NULL: a NULL element), NUL
   terminated, appended to w. */
static void pg_array(xc_wbuf *w, const char *const *vals, int k)
{
    xc_put_u8(w, '{');
    for (int i = 0; i < k; i++) {
        if (i)
            xc_put_u8(w, ',');
        if (vals[i] == NULL) {
            xc_put_bytes(w, "NULL", 4);
            continue;
        }
        xc_put_u8(w, '"');
        for (const char *c = vals[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                xc_put_u8(w, '\\');
            xc_put_u8(w, (uint8_t)*c);
        }
        xc_put_u8(w, '"');
    }
    xc_put_bytes(w, "}", 2);
}

static const char sql_news[] =
    "SELECT xc_new_messages($1, $2::bigint[], $3, $4, $5, $6::text[], "
    "$7::text[], $8::float8[], $9::bigint[], $10::boolean[], $11)";

/* xc_new_messages (sql/019) for v[0..k) into the pipeline, its result
   kept: the first CN. */
static xc_status new_messages(sd_db *db, const mbx *m, const char *a,
                              const char *f, const char *who, int fai,
                              const newmsg *v, int k)
{
    enum { MIDS, CLS, SUBJ, WHEN, SIZE, READ, NARR };
    xc_wbuf arr[NARR];
    const char **col = calloc((size_t)k * 3, sizeof(*col));
    char (*num)[2][24] = calloc((size_t)k, sizeof(*num));
    const char *params[11];
    int len[11] = { 0 }, fmt[11] = { 0 };
    xc_status st = XC_E_TEMP;
    int j;

    for (j = 0; j < NARR; j++)
        xc_wbuf_init(&arr[j], 0);
    if (col == NULL || num == NULL)
        goto out;
    for (int i = 0; i < k; i++) {
        snprintf(num[i][0], sizeof(num[i][0]), "%" PRIu64, v[i].mid);
        snprintf(num[i][1], sizeof(num[i][1]), "%" PRId64, v[i].size);
    }
    for (j = 0; j < NARR; j++) {
        for (int i = 0; i < k; i++) {
            const char *hp[3];
            hot_params(&v[i].h, hp);
            col[i] = j == MIDS ? num[i][0]
                     : j == SIZE ? num[i][1]
                     : j == READ ? (v[i].is_read ? "t" : "f")
                     : hp[j - CLS];
        }
        pg_array(&arr[j], col, k);
        if (arr[j].err)
            goto out;
    }
    params[0] = a;
    params[1] = (const char *)arr[MIDS].p;
    params[2] = f;
    params[3] = fai ? "t" : "f";
    params[4] = (const char *)m->guid; len[4] = 16; fmt[4] = 1;
    params[5] = (const char *)arr[CLS].p;
    params[6] = (const char *)arr[SUBJ].p;
    params[7] = (const char *)arr[WHEN].p;
    params[8] = (const char *)arr[SIZE].p;
    params[9] = (const char *)arr[READ].p;
    params[10] = who;
    sd_db_pipe_keep(db);
    st = sd_db_pipe_send(db, sql_news, 11, params, len, fmt);
out:
    for (j = 0; j < NARR; j++)
        xc_wbuf_free(&arr[j]);
    free(col);
    free(num);
    return st;
}

/*
 * New messages (sql/012, sql/019), k of them into one folder in one
 * transaction (one message, or several mtad delivers to one mailbox at
 * once): their ids from the range, their content rows, then
 * xc_new_messages (CNs, quota, message rows, change log, folder counts and
 * IMAP UIDs) once for all and COMMIT, all in one
 * pipeline: the mailbox row is locked only from the first of those
 * statements to the end of the commit, once for all k. Every blob (large
 * values, received MIME) is taken before the mailbox row, so the only
 * writers this can deadlock with are those that drop a reference to the
 * same blob in the same mailbox at that moment (the mailbox row first);
 * PostgreSQL breaks that, and the save runs again.
 */
static xc_status save_new_once(sd_db *db, mbx *m, int64_t fid, int fai,
                               newmsg *v, int k)
{
    /* in the public store the read flag a new message comes with is its
       author's (sql/015) */
    static const char sql_pub_read[] =
        "INSERT INTO public_read (mailbox_id, mid, user_id) "
        "VALUES ($1, $2, $3)";
    static const char sql_dequeue[] = "SELECT xc_queue_done($1, $2)";
    static const char sql_async[] =
        "SELECT set_config('synchronous_commit', 'off', true)";
    static const char sql_set_flags[] =
        "UPDATE messages SET msg_flags = $3 "
        "WHERE mailbox_id = $1 AND mid = $2";
    const char *const extra[] = { sql_news, sql_new_mime,
                                  sql_hold_blob, sql_ref_blobs, sql_pub_read,
                                  sql_dequeue, sql_async, sql_set_flags,
                                  NULL };
    sd_held held = { NULL, 0, 0 };
    char a[24], b[24], f[24], who[24];
    xc_status st;
    int i, got;

    for (i = 0; i < k; i++)
        if (v[i].mime != NULL && mime_hash(v[i].mime, v[i].mime_len,
                                           v[i].hash) < 0)
            return XC_E_INTERNAL;
    if ((st = sd_db_ready(db)) != XC_OK)
        return st;
    for (i = 0; i < k; i++)
        if ((st = new_id(db, m, &v[i].mid)) != XC_OK)
            return st;
    if ((st = sd_prepare_store(db, extra)) != XC_OK)
        return st;
    snprintf(a, sizeof(a), "%" PRId64, m->id);
    snprintf(f, sizeof(f), "%" PRId64, fid);
    snprintf(who, sizeof(who), "%" PRId64, m->me);
    if ((st = sd_db_pipe_begin(db)) != XC_OK)
        return st;
    st = sd_db_pipe_tx_begin(db);
    /* Delivering a queued recipient (sql/018): the copy and the queue row
       leave or stay together, so this commit need not wait for the disk.
       A crash that loses it loses both, and the recipient is delivered
       again from the queue, whose own commit (mtad's 250) was durable.
       Saves into one mailbox hold its row until their commit: without
       the wait they follow each other several times faster. */
    if (st == XC_OK && db->dequeue_id > 0)
        st = sd_db_pipe_send(db, sql_async, 0, NULL, NULL, NULL);
    db->held = &held;           /* large values: held now, referenced below */
    for (i = 0; i < k && st == XC_OK; i++) {
        if (v[i].mime != NULL) {
            const char *bp[2] = { (const char *)v[i].hash,
                                  (const char *)v[i].mime };
            const int bl[2] = { 32, (int)v[i].mime_len }, bf[2] = { 1, 1 };
            st = sd_db_pipe_send(db, sql_hold_blob, 2, bp, bl, bf);
        }
        if (st == XC_OK)
            st = put_content(db, m->id, v[i].mid, v[i].pv, v[i].n);
    }
    db->held = NULL;
    if (st == XC_OK)
        st = new_messages(db, m, a, f, who, fai, v, k);
    for (i = 0; i < k && st == XC_OK; i++)
        if (m->is_public && v[i].is_read) {
            const char *rp_[3] = { a, b, who };
            snprintf(b, sizeof(b), "%" PRIu64, v[i].mid);
            st = sd_db_pipe_send(db, sql_pub_read, 3, rp_, NULL, NULL);
        }
    /* the bits of PR_MESSAGE_FLAGS a client set on a new message (a
       draft's mfUnsent, sql/021): rare, so a statement of their own */
    for (i = 0; i < k && st == XC_OK; i++)
        if (v[i].h.flags != 0) {
            char fl[16];
            const char *fp[3] = { a, b, fl };
            snprintf(b, sizeof(b), "%" PRIu64, v[i].mid);
            snprintf(fl, sizeof(fl), "%d", (int)v[i].h.flags);
            st = sd_db_pipe_send(db, sql_set_flags, 3, fp, NULL, NULL);
        }
    /* the mailbox row is ours: the references, as every writer takes them
       (one statement per blob, however many of the messages use it) */
    for (i = 0; i < k && st == XC_OK; i++)
        if (v[i].mime != NULL)
            st = held_add(&held, v[i].hash);
    if (st == XC_OK)
        st = ref_held(db, &held);
    free(held.hash);
    for (i = 0; i < k && st == XC_OK; i++)
        if (v[i].mime != NULL) {
            const char *mp[3] = { a, b, (const char *)v[i].hash };
            const int ml[3] = { 0, 0, 32 }, mf[3] = { 0, 0, 1 };
            snprintf(b, sizeof(b), "%" PRIu64, v[i].mid);
            st = sd_db_pipe_send(db, sql_new_mime, 3, mp, ml, mf);
        }
    /* a queued recipient this save delivers (sql/018): it leaves the
       queue in this commit, or the save fails if it left already */
    if (st == XC_OK && db->dequeue_id > 0) {
        char q[24], ix[16];
        const char *dp[2] = { q, ix };
        snprintf(q, sizeof(q), "%" PRId64, db->dequeue_id);
        snprintf(ix, sizeof(ix), "%d", (int)db->dequeue_idx);
        st = sd_db_pipe_send(db, sql_dequeue, 2, dp, NULL, NULL);
    }
    if (st == XC_OK)
        st = sd_db_pipe_tx_commit(db);
    st = sd_pipe_end(db, st);
    /* xc_new_messages gave the first CN, the others follow */
    {
        PGresult *res = sd_db_pipe_kept(db);
        got = res != NULL && PQntuples(res) == 1;
        for (i = 0; i < k && got; i++)
            v[i].cn = strtoull(PQgetvalue(res, 0, 0), NULL, 10) + (uint64_t)i;
        PQclear(res);
    }
    if (st == XC_OK && !got)
        st = XC_E_INTERNAL;
    if (st == XC_OK)
        db->in_tx = 0;
    else
        sd_db_rollback(db);
    return st;
}

#define SAVE_TRIES 3

static void save_new(sd_db *db, sd_reply *rp, mbx *m, int64_t fid, int fai,
                     newmsg *v, int k)
{
    uint8_t xid[XC_XID_LEN];
    xc_status st;
    int tries = 0;
    xc_wbuf *w;

    /* again after a deadlock, never after a lost connection: its COMMIT
       may have happened */
    do
        st = save_new_once(db, m, fid, fai, v, k);
    while (st == XC_E_TEMP && db->conn != NULL &&
           PQstatus(db->conn) == CONNECTION_OK && ++tries < SAVE_TRIES);
    if (st == XC_E_EXISTS && db->dequeue_id > 0) {
        sd_reply_status(rp, st, "that queued recipient was delivered "
                        "already");
        return;
    }
    if (st != XC_OK) {
        if (st == XC_E_EXISTS)
            st = XC_E_BADREQ;   /* the same tag twice in one object */
        sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such folder"
                                : st == XC_E_BADREQ ? "a property appears "
                                  "twice or can't be stored"
                                : st == XC_E_NOQUOTA ? msg_noquota
                                : st == XC_E_PERM ? "a search folder holds "
                                  "no messages of its own" : NULL);
        return;
    }
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    if (k > 1) {                /* several: their ids in order */
        xc_put_u32(w, XW_TAG_NEW_MIDS);
        xc_put_u32(w, (uint32_t)k);
        for (int i = 0; i < k; i++)
            xc_put_u64(w, xc_make_id(m->replid, v[i].mid));
    }
    xc_xid(xid, m->guid, v[k - 1].cn);
    xc_put_i8(w, PR_MID, (int64_t)xc_make_id(m->replid, v[k - 1].mid));
    xc_put_bin(w, PR_CHANGE_KEY, xid, sizeof(xid));
    xc_put_i8(w, XW_TAG_CN, (int64_t)v[k - 1].cn);
}

void sd_save_new_many(sd_db *db, sd_req *req, sd_reply *rp,
                      const sd_part *parts, int k)
{
    const xc_propval *fa = xc_props_find(req->args, req->nargs, XW_TAG_FAI);
    newmsg *v;
    int64_t fid_w, fid;
    const char *err;
    sd_user me;
    mbx m;
    int i, fai = fa != NULL && fa->v.b;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    if (sd_arg_i8(req, PR_FID, &fid_w) < 0 ||
        xc_props_find(req->args, req->nargs, PR_MID) != NULL || k < 1) {
        sd_reply_status(rp, XC_E_BADREQ, "new messages need PR_FID");
        return;
    }
    for (i = 0; i < k; i++) {
        if ((err = check_content(parts[i].pv, parts[i].n)) != NULL) {
            sd_reply_status(rp, strstr(err, "not supported")
                                    ? XC_E_UNSUPPORTED : XC_E_BADREQ, err);
            return;
        }
        if (too_large(rp, content_size(parts[i].pv, parts[i].n)) ||
            too_large(rp, (int64_t)parts[i].mime_len))
            return;
    }
    if ((fid = sd_gc_of(&m, fid_w)) < 0) {
        sd_reply_status(rp, XC_E_NOTFOUND, "no such folder");
        return;
    }
    if (sd_need_rights(db, rp, &m, fid, XW_RIGHT_CREATE, "creating a "
                       "message needs Create", NULL) < 0)
        return;
    if ((v = calloc((size_t)k, sizeof(*v))) == NULL) {
        sd_reply_status(rp, XC_E_TEMP, "out of memory");
        return;
    }
    for (i = 0; i < k; i++) {
        v[i].pv = parts[i].pv;
        v[i].n = parts[i].n;
        v[i].size = content_size(parts[i].pv, parts[i].n);
        v[i].mime = parts[i].mime;
        v[i].mime_len = parts[i].mime_len;
        hot_init(&v[i].h);
        hot_scan(&v[i].h, parts[i].pv, parts[i].n);
        v[i].is_read = v[i].h.read > 0;
    }
    save_new(db, rp, &m, fid, fai, v, k);
    for (i = 0; i < k; i++)
        hot_free(&v[i].h);
    free(v);
}

void sd_save_content(sd_db *db, sd_req *req, sd_reply *rp,
                     const xc_propval *pv, size_t n, const uint8_t *mime,
                     size_t mime_len)
{
    static const char sql_old[] =
        "SELECT fid, is_fai, pcl, is_read, message_size, "
        "coalesce(creator_id, -1) FROM messages "
        "WHERE mailbox_id = $1 AND mid = $2 FOR UPDATE";
    static const char sql_update[] =
        "UPDATE messages SET cn = $5, change_key = $6, pcl = $7, "
        "message_class = coalesce($8, 'IPM.Note'), subject = coalesce($9, ''), "
        "delivery_time = to_timestamp($10::float8), message_size = $11, "
        "is_read = $12, modified_at = now() "
        "WHERE mailbox_id = $1 AND mid = $2 AND fid = $3 AND is_fai = $4";
    const char *const extra[] = { sql_update, sql_put_mime, NULL };
    const xc_propval *v;
    int64_t fid_w, mid_w, size, old_size = 0, fid = -1, mid = -1;
    uint64_t cn;
    int create, fai = 0, is_read, was_read = 0;
    uint8_t xid[XC_XID_LEN], pcl[XC_PCL_MAX];
    int pcllen;
    char a[24], b[24], f[24], c5[24], sz[24];
    uint32_t rights = 0;
    hot h;
    const char *err;
    const char *params[12];
    int len[12] = { 0 }, fmt[12] = { 0 };
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    create = sd_arg_i8(req, PR_MID, &mid_w) < 0;
    if (create && sd_arg_i8(req, PR_FID, &fid_w) < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "PR_FID (create) or PR_MID required");
        return;
    }
    if ((err = check_content(pv, n)) != NULL) {
        sd_reply_status(rp, strstr(err, "not supported") ? XC_E_UNSUPPORTED
                                                          : XC_E_BADREQ, err);
        return;
    }
    /* PR_MESSAGE_SIZE: known before anything is written */
    size = content_size(pv, n);
    if (too_large(rp, size) || too_large(rp, (int64_t)mime_len))
        return;
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_FAI)) != NULL)
        fai = v->v.b;
    hot_init(&h);
    hot_scan(&h, pv, n);
    is_read = h.read > 0;

    if (create) {
        fid = sd_gc_of(&m, fid_w);
        if (fid < 0) {
            st = XC_E_NOTFOUND;
            goto fail_early;
        }
        if (sd_need_rights(db, rp, &m, fid, XW_RIGHT_CREATE, "creating a "
                           "message needs Create", NULL) < 0) {
            hot_free(&h);
            return;
        }
        /* a new message takes its CN last (sql/012) */
        newmsg one = { .pv = pv, .n = n, .h = h, .size = size,
                       .is_read = is_read, .mime = mime,
                       .mime_len = mime_len };
        save_new(db, rp, &m, fid, fai, &one, 1);
        hot_free(&h);
        return;
    }
    /* saving over a message: the mailbox row first, as every change */
    if ((mid = sd_gc_of(&m, mid_w)) < 0) {
        st = XC_E_NOTFOUND;
        goto fail_early;
    }
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    if ((st = sd_db_begin(db)) != XC_OK)
        goto fail;
    if ((st = sd_take_mailbox(db, m.id, 0, &m, &cn, NULL)) != XC_OK)
        goto fail;
    pcllen = 0;
    {
        const char *op[2] = { a, b };
        snprintf(b, sizeof(b), "%" PRId64, mid);
        res = sd_db_exec(db, sql_old, 2, op, &st);
        if (res == NULL)
            goto fail;
        if (PQntuples(res) != 1) {
            PQclear(res);
            st = XC_E_NOTFOUND;
            goto fail;
        }
        fid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        fai = PQgetvalue(res, 0, 1)[0] == 't';
        was_read = PQgetvalue(res, 0, 3)[0] == 't';
        old_size = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        if (!m.owner &&
            ((st = sd_rights(db, &m, fid, &rights)) != XC_OK ||
             !sd_may_change(rights, &m,
                            strtoll(PQgetvalue(res, 0, 5), NULL, 10), 1))) {
            PQclear(res);
            if (st == XC_OK) {
                sd_db_rollback(db);
                hot_free(&h);
                sd_reply_status(rp, XC_E_PERM, "access denied: saving over "
                                "a message needs EditAny, or EditOwned on "
                                "your own");
                return;
            }
            goto fail;
        }
        {
            size_t ol = 0;
            unsigned char *old = PQunescapeBytea(
                (const unsigned char *)PQgetvalue(res, 0, 2), &ol);
            xc_xid(xid, m.guid, cn);
            pcllen = old ? xc_pcl_merge(old, ol, xid, sizeof(xid), pcl,
                                        sizeof(pcl)) : -1;
            PQfreemem(old);
        }
        PQclear(res);
        if (pcllen < 0)
            pcllen = 0;     /* a damaged PCL restarts from this change */
        if ((st = delete_content(db, m.id, (uint64_t)mid)) != XC_OK)
            goto fail;
    }
    if (sd_over_quota(&m, size - old_size)) {
        st = XC_E_NOQUOTA;
        goto fail;
    }
    xc_xid(xid, m.guid, cn);
    if (pcllen == 0)
        pcllen = xc_pcl_merge(NULL, 0, xid, sizeof(xid), pcl, sizeof(pcl));
    snprintf(f, sizeof(f), "%" PRId64, fid);

    /* one pipeline: the row (content rows reference it), the content, the
       change log entry, counts and bytes; then COMMIT */
    if ((st = sd_prepare_store(db, extra)) != XC_OK)
        goto fail;
    snprintf(c5, sizeof(c5), "%" PRIu64, cn);
    snprintf(sz, sizeof(sz), "%" PRId64, size);
    params[0] = a; params[1] = b; params[2] = f;
    params[3] = fai ? "t" : "f";
    params[4] = c5;
    params[5] = (const char *)xid; len[5] = sizeof(xid); fmt[5] = 1;
    params[6] = (const char *)pcl; len[6] = pcllen; fmt[6] = 1;
    hot_params(&h, params + 7);
    params[10] = sz;
    params[11] = is_read ? "t" : "f";
    if ((st = sd_db_pipe_begin(db)) != XC_OK)
        goto fail;
    st = sd_db_pipe_send(db, sql_update, 12, params, len, fmt);
    if (st == XC_OK)
        st = put_content(db, m.id, (uint64_t)mid, pv, n);
    if (st == XC_OK && mime != NULL)
        st = sd_put_mime(db, m.id, (uint64_t)mid, cn, 1, mime, mime_len);
    if (st == XC_OK) {
        uint64_t umid = (uint64_t)mid;
        st = sd_log_change(db, m.id, cn, "modify", (uint64_t)fid, &umid,
                           fai);
    }
    if (st == XC_OK && was_read != is_read)
        st = sd_count_folder(db, m.id, (uint64_t)fid, fai, 0,
                             was_read - is_read);
    if (st == XC_OK)
        st = sd_use_bytes(db, &m, size - old_size);
    st = sd_pipe_end(db, st);
    if (st == XC_E_EXISTS)
        st = XC_E_BADREQ;       /* the same tag twice in one object */
    if (st != XC_OK || (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    hot_free(&h);
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_i8(sd_reply_final(rp), PR_MID,
              (int64_t)xc_make_id(m.replid, (uint64_t)mid));
    xc_put_bin(sd_reply_final(rp), PR_CHANGE_KEY, xid, sizeof(xid));
    xc_put_i8(sd_reply_final(rp), XW_TAG_CN, (int64_t)cn);
    return;
fail:
    sd_db_rollback(db);
fail_early:
    hot_free(&h);
    sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such folder or message"
                            : st == XC_E_BADREQ ? "a property appears twice "
                              "or can't be stored"
                            : st == XC_E_NOQUOTA ? msg_noquota : NULL);
}

/* An attachment's stored embedded message (row i) between its markers,
   after the attachment's properties. */
static void emit_embedded(xc_wbuf *w, PGresult *res, int i, int col)
{
    xc_wbuf v;

    xc_wbuf_init(&v, 0);
    sd_emit_value(&v, res, i, col);     /* tag, length, content */
    xc_put_long(w, XW_MARK_START_EMBED, 0);
    if (v.len >= 8)
        xc_put_bytes(w, v.p + 8, v.len - 8);
    else
        w->err = 1;
    xc_put_long(w, XW_MARK_END_EMBED, 0);
    xc_wbuf_free(&v);
}

/* Rows from..to of res are one kind of sub-object: its number in column
   col - 1, the values from column col. */
static void emit_sub(xc_wbuf *w, PGresult *res, int from, int to, int col,
                     uint32_t start, uint32_t end, size_t budget)
{
    int32_t cur = -1;
    int open_ = 0, embed = -1;

    for (int i = from; i < to; i++) {
        int32_t sub = (int32_t)sd_be32(PQgetvalue(res, i, col - 1));
        if (!open_ || sub != cur) {
            if (embed >= 0)
                emit_embedded(w, res, embed, col);
            embed = -1;
            if (open_)
                xc_put_long(w, end, 0);
            xc_put_long(w, start, sub);
            cur = sub;
            open_ = 1;
        }
        if (sd_be32(PQgetvalue(res, i, col)) == PR_XC_EMBEDDED)
            embed = i;
        else if (sd_value_fits(res, i, col, w->len, budget))
            sd_emit_value(w, res, i, col);
        else
            sd_emit_too_big(w, res, i, col);
    }
    if (embed >= 0)
        emit_embedded(w, res, embed, col);
    if (open_)
        xc_put_long(w, end, 0);
}

/* The message row's columns, then which table a value comes from (k: 0
   message, 1 recipient, 2 attachment) and its row or attachment number,
   then the value's columns (VALUE_COLS, or ANSWER_VALUE_COLS); one row per
   value, or one with NULL values for a message with none. */
#define FETCH_SQL(vcols, is_read)                                           \
    "SELECT m.fid, m.is_fai, m.cn, m.change_key, m.pcl, m.message_size, "   \
    is_read ", extract(epoch FROM m.created_at)::float8, "                  \
    "extract(epoch FROM m.modified_at)::float8, m.msg_flags, v.* "          \
    "FROM messages m "                                                      \
    "LEFT JOIN LATERAL ("                                                   \
    "  SELECT 0 AS k, 0 AS sub, " vcols " FROM message_props p "            \
    "  LEFT JOIN blobs b ON b.hash = p.blob "                               \
    "  WHERE p.mailbox_id = m.mailbox_id AND p.mid = m.mid "                \
    "  UNION ALL SELECT 1, p.row_id, " vcols " FROM recipients p "          \
    "  LEFT JOIN blobs b ON b.hash = p.blob "                               \
    "  WHERE p.mailbox_id = m.mailbox_id AND p.mid = m.mid "                \
    "  UNION ALL SELECT 2, p.attach_num, " vcols " FROM attachments p "     \
    "  LEFT JOIN blobs b ON b.hash = p.blob "                               \
    "  WHERE p.mailbox_id = m.mailbox_id AND p.mid = m.mid) v ON true "     \
    "WHERE m.mailbox_id = $1 AND m.mid = $2 ORDER BY v.k, v.sub, v.tag"
#define FETCH_K 10              /* column of k; sub follows, then values */

static double be_double(const char *p)
{
    uint64_t u = sd_be64(p);
    double d;

    memcpy(&d, &u, 8);
    return d;
}

/* the public store's read state, per user (sql/015): the reader is $3 */
#define PUBLIC_IS_READ                                                      \
    "EXISTS (SELECT 1 FROM public_read r WHERE r.mailbox_id = m.mailbox_id " \
    "AND r.user_id = $3::bigint AND r.mid = m.mid)"

xc_status sd_fetch_content(sd_db *db, int64_t mailbox, int64_t mid,
                           int64_t reader, int whole, sd_content_rows *r)
{
    /* one statement: the message and its parts as of one snapshot */
    static const char sql_whole[] = FETCH_SQL(VALUE_COLS, "m.is_read");
    static const char sql_answer[] = FETCH_SQL(ANSWER_VALUE_COLS,
                                               "m.is_read");
    static const char sql_pub_whole[] = FETCH_SQL(VALUE_COLS,
                                                  PUBLIC_IS_READ);
    static const char sql_pub_answer[] = FETCH_SQL(ANSWER_VALUE_COLS,
                                                   PUBLIC_IS_READ);
    const int fmt[3] = { 0, 0, 0 };
    char a[24], b[24], c[24];
    const char *params[3] = { a, b, c };
    PGresult *res;
    xc_status st;
    int n;

    memset(r, 0, sizeof(*r));
    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRId64, mid);
    snprintf(c, sizeof(c), "%" PRId64, reader);
    res = sd_db_execv(db, reader >= 0 ? (whole ? sql_pub_whole
                                               : sql_pub_answer)
                                      : (whole ? sql_whole : sql_answer),
                      reader >= 0 ? 3 : 2, params, NULL, fmt, 1, &st);
    if (res == NULL)
        return st;
    if ((n = PQntuples(res)) == 0) {
        PQclear(res);
        return XC_E_NOTFOUND;
    }
    r->res = res;
    r->fid = (int64_t)sd_be64(PQgetvalue(res, 0, 0));
    r->fai = PQgetvalue(res, 0, 1)[0] != 0;
    r->cn = sd_be64(PQgetvalue(res, 0, 2));
    r->ck = (const uint8_t *)PQgetvalue(res, 0, 3);
    r->cklen = (size_t)PQgetlength(res, 0, 3);
    r->pcl = (const uint8_t *)PQgetvalue(res, 0, 4);
    r->pcllen = (size_t)PQgetlength(res, 0, 4);
    r->size = (int64_t)sd_be64(PQgetvalue(res, 0, 5));
    r->read = PQgetvalue(res, 0, 6)[0] != 0;
    r->created = be_double(PQgetvalue(res, 0, 7));
    r->modified = be_double(PQgetvalue(res, 0, 8));
    r->flags = (int32_t)sd_be32(PQgetvalue(res, 0, 9));
    /* the rows of each kind, in order (none when the value is NULL) */
    for (int k = 0; k < 3; k++)
        r->from[k] = r->to[k] = 0;
    for (int i = n - 1; i >= 0; i--) {
        int k;
        if (PQgetisnull(res, i, FETCH_K))
            continue;
        k = (int)sd_be32(PQgetvalue(res, i, FETCH_K));
        if (k < 0 || k > 2)
            continue;
        if (r->to[k] == 0)
            r->to[k] = i + 1;
        r->from[k] = i;
    }
    return XC_OK;
}

void sd_content_rows_clear(sd_content_rows *r)
{
    PQclear(r->res);
    memset(r, 0, sizeof(*r));
}

void sd_emit_content(xc_wbuf *w, const sd_content_rows *r, uint16_t replid,
                     int64_t mid, size_t budget)
{
    const int col = FETCH_K + 2;        /* the first value column */

    xc_put_long(w, XW_MARK_START_MESSAGE, 0);
    xc_put_i8(w, PR_MID, (int64_t)xc_make_id(replid, (uint64_t)mid));
    xc_put_i8(w, PR_PARENT_FID, (int64_t)xc_make_id(replid,
                                                    (uint64_t)r->fid));
    xc_put_i8(w, PR_CHANGE_NUMBER, (int64_t)xc_make_id(replid, r->cn));
    xc_put_bin(w, PR_CHANGE_KEY, r->ck, r->cklen);
    xc_put_bin(w, PR_PREDECESSOR_CHANGE_LIST, r->pcl, r->pcllen);
    xc_put_long(w, PR_MESSAGE_SIZE, (int32_t)r->size);
    xc_put_long(w, PR_MESSAGE_FLAGS, (r->read ? MSGFLAG_READ : 0) |
                                     (r->fai ? MSGFLAG_ASSOCIATED : 0) |
                                     r->flags);
    xc_put_bool(w, PR_ASSOCIATED, r->fai);
    xc_put_i8(w, PR_CREATION_TIME, sd_filetime_of_epoch(r->created));
    xc_put_i8(w, PR_LAST_MODIFICATION_TIME,
              sd_filetime_of_epoch(r->modified));
    for (int i = r->from[0]; i < r->to[0]; i++) {
        if (sd_value_fits(r->res, i, col, w->len, budget))
            sd_emit_value(w, r->res, i, col);
        else
            sd_emit_too_big(w, r->res, i, col);
    }
    emit_sub(w, r->res, r->from[1], r->to[1], col, XW_MARK_START_RECIP,
             XW_MARK_END_RECIP, budget);
    emit_sub(w, r->res, r->from[2], r->to[2], col, XW_MARK_NEW_ATTACH,
             XW_MARK_END_ATTACH, budget);
    xc_put_long(w, XW_MARK_END_MESSAGE, 0);
}

void sd_store_get_message(sd_db *db, sd_req *req, sd_reply *rp)
{
    int64_t mid;
    sd_user me;
    mbx m;
    xc_status st;
    sd_content_rows r;

    if (sd_open_store(db, req, rp, &me, &m) < 0 ||
        sd_id_arg(req, rp, PR_MID, "message", &m, &mid) < 0)
        return;
    if ((st = sd_fetch_content(db, m.id, mid, m.is_public ? m.me : -1, 0,
                               &r)) != XC_OK) {
        sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such message" : NULL);
        return;
    }
    if (!m.owner &&
        sd_need_rights(db, rp, &m, r.fid, XW_RIGHT_READ_ANY,
                       "reading needs ReadAny", NULL) < 0) {
        sd_content_rows_clear(&r);
        return;
    }
    sd_reply_status(rp, XC_OK, NULL);
    /* what doesn't fit in the answer is read with READ_PROP */
    sd_emit_content(sd_reply_final(rp), &r, m.replid, mid,
                    sd_config->max_frame - 1024);
    sd_content_rows_clear(&r);
}

/* The MIDS argument as global counters of this mailbox (-1: not ours). */
static int mids_of(sd_req *req, const mbx *m, int64_t **out, size_t *n_r)
{
    const xc_propval *v = xc_props_find(req->args, req->nargs, XW_TAG_MIDS);
    xc_mv_iter it;
    xc_propval one;
    size_t n = 0;

    if (v == NULL || v->v.mv.count == 0 || v->v.mv.count > MAX_ROWS)
        return -1;
    *out = malloc(sizeof(**out) * v->v.mv.count);
    if (*out == NULL)
        return -1;
    xc_mv_iter_init(&it, v);
    while (xc_mv_next(&it, &one) == 1)
        (*out)[n++] = sd_gc_of(m, one.v.i64);
    *n_r = n;
    return 0;
}

/*
 * Delete messages ([MS-OXCFOLD] 2.2.1.11): each gets a change number, a
 * tombstone and a "delete" entry in the change log; unknown ids are
 * skipped (TOTAL counts those deleted).
 */
void sd_store_delete_messages(sd_db *db, sd_req *req, sd_reply *rp)
{
    int64_t *mids = NULL;
    size_t n = 0;
    uint64_t cn = 0;
    sd_msgset set = { 0 };
    sd_counts counts = { 0 };
    sd_user me;
    mbx m;
    xc_status st;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    if (mids_of(req, &m, &mids, &n) < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "MIDS: 1 to 1000 message ids");
        return;
    }
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m.id)) != XC_OK ||
        (st = sd_msgs_by_id(db, m.id, mids, n, &set)) != XC_OK)
        goto fail;
    for (size_t i = 0; i < set.n && !m.owner; i++) {
        uint32_t rights = 0;
        if ((st = sd_rights(db, &m, (int64_t)set.v[i].fid, &rights)) != XC_OK)
            goto fail;
        if (!sd_may_change(rights, &m, set.v[i].creator, 0)) {
            st = XC_E_PERM;
            goto fail;
        }
    }
    if (set.n > 0) {
        if ((st = sd_take_ids(db, m.id, (int)set.n, 0, &m, &cn,
                              NULL)) != XC_OK ||
            (st = sd_prepare_store(db, NULL)) != XC_OK ||
            (st = sd_db_pipe_begin(db)) != XC_OK)
            goto fail;
        st = sd_delete_msgs(db, &m, set.v, set.n, &cn, &counts);
        if (st == XC_OK)
            st = sd_counts_apply(db, m.id, &counts);
        st = sd_pipe_end(db, st);
        if (st != XC_OK)
            goto fail;
    }
    if ((st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL, (int32_t)set.n);
    xc_put_i8(sd_reply_final(rp), XW_TAG_CN, set.n ? (int64_t)cn - 1 : 0);
    free(mids);
    sd_msgset_free(&set);
    sd_counts_free(&counts);
    return;
fail:
    sd_db_rollback(db);
    free(mids);
    sd_msgset_free(&set);
    sd_counts_free(&counts);
    sd_reply_status(rp, st, st == XC_E_PERM ? "access denied: deleting needs "
                    "DeleteAny, or DeleteOwned on your own" : NULL);
}

/*
 * SET_READ in the public store (sql/015): the session's user's own read
 * state, rows of public_read; the messages, their change numbers and the
 * folders' counts stay as they are, so nothing is logged or pushed.
 */
static void set_read_public(sd_db *db, sd_reply *rp, mbx *m,
                            const int64_t *mids, size_t n, int read)
{
    static const char sql_fid[] =
        "SELECT fid FROM messages WHERE mailbox_id = $1 AND mid = $2";
    static const char sql_read[] =
        "INSERT INTO public_read (mailbox_id, mid, user_id) "
        "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    static const char sql_unread[] =
        "DELETE FROM public_read "
        "WHERE mailbox_id = $1 AND mid = $2 AND user_id = $3";
    char a[24], b[24], c[24];
    const char *params[3] = { a, b, c };
    int total = 0;
    xc_status st;

    snprintf(a, sizeof(a), "%" PRId64, m->id);
    snprintf(c, sizeof(c), "%" PRId64, m->me);
    if ((st = sd_db_begin(db)) != XC_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        PGresult *res;
        uint32_t rights = 0;

        if (mids[i] < 0)
            continue;
        snprintf(b, sizeof(b), "%" PRId64, mids[i]);
        if ((res = sd_db_exec(db, sql_fid, 2, params, &st)) == NULL)
            goto fail;
        if (PQntuples(res) != 1) {
            PQclear(res);
            continue;           /* gone: as in a mailbox, not an error */
        }
        st = sd_rights(db, m, strtoll(PQgetvalue(res, 0, 0), NULL, 10),
                       &rights);
        PQclear(res);
        if (st == XC_OK && !(rights & XW_RIGHT_READ_ANY))
            st = XC_E_PERM;
        if (st != XC_OK)
            goto fail;
        if ((res = sd_db_exec(db, read ? sql_read : sql_unread, 3, params,
                              &st)) == NULL)
            goto fail;
        total += atoi(PQcmdTuples(res));
        PQclear(res);
    }
    if ((st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL, total);
    xc_put_i8(sd_reply_final(rp), XW_TAG_CN, 0);
    return;
fail:
    sd_db_rollback(db);
    sd_reply_status(rp, st, st == XC_E_PERM ? "access denied: changing the "
                    "read state needs ReadAny" : NULL);
}

void sd_store_set_read(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "UPDATE messages SET is_read = $3 "
        "WHERE mailbox_id = $1 AND mid = $2 AND is_read <> $3 "
        "RETURNING fid, is_fai";
    const xc_propval *rv = xc_props_find(req->args, req->nargs, XW_TAG_READ);
    int64_t *mids = NULL;
    size_t n = 0;
    int total = 0;
    uint64_t cn = 0, last = 0;
    char a[24], b[24];
    sd_user me;
    mbx m;
    xc_status st;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    if (rv == NULL || mids_of(req, &m, &mids, &n) < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "MIDS and READ required");
        return;
    }
    if (m.is_public) {
        set_read_public(db, rp, &m, mids, n, rv->v.b);
        free(mids);
        return;
    }
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m.id)) != XC_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const char *p3[3] = { a, b, rv->v.b ? "t" : "f" };
        PGresult *res;
        uint64_t umid;

        if (mids[i] < 0)
            continue;
        snprintf(b, sizeof(b), "%" PRId64, mids[i]);
        res = sd_db_exec(db, sql, 3, p3, &st);
        if (res == NULL)
            goto fail;
        if (PQntuples(res) == 1 && !m.owner) {
            uint32_t rights = 0;
            if ((st = sd_rights(db, &m, strtoll(PQgetvalue(res, 0, 0), NULL,
                                                10), &rights)) != XC_OK ||
                !(rights & XW_RIGHT_READ_ANY)) {
                PQclear(res);
                if (st == XC_OK)
                    st = XC_E_PERM;
                goto fail;
            }
        }
        if (PQntuples(res) == 1) {
            umid = (uint64_t)mids[i];
            if ((st = sd_take_mailbox(db, m.id, 0, &m, &cn, NULL)) !=
                    XC_OK ||
                (st = sd_log_change(db, m.id, cn, "read",
                                 (uint64_t)strtoll(PQgetvalue(res, 0, 0),
                                                   NULL, 10),
                                 &umid, PQgetvalue(res, 0, 1)[0] == 't')) !=
                    XC_OK ||
                (st = sd_count_folder(db, m.id,
                                   (uint64_t)strtoll(PQgetvalue(res, 0, 0),
                                                     NULL, 10),
                                   PQgetvalue(res, 0, 1)[0] == 't', 0,
                                   rv->v.b ? -1 : 1)) != XC_OK) {
                PQclear(res);
                goto fail;
            }
            last = cn;
            total++;
        }
        PQclear(res);
    }
    if ((st = sd_db_commit(db)) != XC_OK)
        goto fail;
    free(mids);
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL, total);
    xc_put_i8(sd_reply_final(rp), XW_TAG_CN, (int64_t)last);
    return;
fail:
    sd_db_rollback(db);
    free(mids);
    sd_reply_status(rp, st, st == XC_E_PERM ? "access denied: changing the "
                    "read state needs ReadAny" : NULL);
}

/* The change log after a CN, in CN order: what sync protocols read. */
void sd_store_changes(sd_db *db, sd_req *req, sd_reply *rp)
{
    /* one snapshot: the rows, and what the mailbox has forgotten */
    static const char sql[] =
        "SELECT c.cn, c.kind, c.fid, c.mid, x.expired_cn FROM mailboxes x "
        "LEFT JOIN LATERAL (SELECT cn, kind, fid, mid FROM changes "
        "  WHERE mailbox_id = x.id AND cn > $2 ORDER BY cn LIMIT $3) c "
        "ON true WHERE x.id = $1 ORDER BY c.cn";
    const xc_propval *v;
    int64_t after = 0;
    int limit = MAX_ROWS;
    uint16_t replid;
    char a[24], b[24], l[16];
    const char *params[3] = { a, b, l };
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res;

    if (sd_open_mailbox(db, req, rp, &me, &m) < 0)
        return;
    (void)sd_arg_i8(req, XW_TAG_CN, &after);
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_LIMIT)) != NULL)
        limit = v->v.i32 < 1 ? 1 : v->v.i32 > MAX_ROWS ? MAX_ROWS : v->v.i32;
    replid = m.replid;
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRId64, after < 0 ? 0 : after);
    snprintf(l, sizeof(l), "%d", limit);
    res = sd_db_exec(db, sql, 3, params, &st);
    if (res == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    if (PQntuples(res) > 0 &&
        strtoll(PQgetvalue(res, 0, 4), NULL, 10) > (after < 0 ? 0 : after)) {
        char msg[128];
        snprintf(msg, sizeof(msg), "changes up to %s are forgotten "
                 "(tombstone_days): start over from the contents",
                 PQgetvalue(res, 0, 4));
        sd_reply_status(rp, XC_E_LIMIT, msg);
        xc_put_i8(sd_reply_final(rp), XW_TAG_CN,
                  strtoll(PQgetvalue(res, 0, 4), NULL, 10));
        PQclear(res);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        xc_wbuf *w;

        if (PQgetisnull(res, i, 0))
            continue;           /* no changes: the mailbox row alone */
        w = sd_reply_begin_row(rp);
        after = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        xc_put_i8(w, XW_TAG_CN, after);
        xc_put_str(w, XW_TAG_KIND, PQgetvalue(res, i, 1));
        xc_put_i8(w, PR_FID, (int64_t)xc_make_id(replid,
                  (uint64_t)strtoll(PQgetvalue(res, i, 2), NULL, 10)));
        if (!PQgetisnull(res, i, 3))
            xc_put_i8(w, PR_MID, (int64_t)xc_make_id(replid,
                      (uint64_t)strtoll(PQgetvalue(res, i, 3), NULL, 10)));
        if (sd_reply_row(rp, w) < 0)
            break;
    }
    PQclear(res);
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_i8(sd_reply_final(rp), XW_TAG_CN, after);
}

/* ---- named properties ([MS-OXCPRPT] 2.2.12, [MS-OXPROPS] 1.3.2) ------- */

#define NAMED_FIRST 0x8000
#define NAMED_LAST 0xFFFE
#define MAX_NAMES 1024

/* PS_MAPI {00020328-0000-0000-C000-000000000046}: the LID is the id */
static const uint8_t PS_MAPI[16] = { 0x28, 0x03, 0x02, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0xC0, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x46 };

static const char sql_lid[] =
    "SELECT prop_id FROM named_props "
    "WHERE mailbox_id = $1 AND guid = $2 AND lid = $3";
static const char sql_name[] =
    "SELECT prop_id FROM named_props "
    "WHERE mailbox_id = $1 AND guid = $2 AND name = $3";
static const char sql_lock[] =
    "SELECT coalesce((SELECT max(prop_id) FROM named_props "
    "WHERE mailbox_id = $1), 32767) FROM mailboxes WHERE id = $1 "
    "FOR UPDATE";
static const char sql_add[] =
    "INSERT INTO named_props (mailbox_id, prop_id, guid, lid, name) "
    "VALUES ($1, $2, $3, $4, $5)";

/* One name's id, or -1 if unknown (st XC_OK). */
static int name_lookup(sd_db *db, const char *a, const uint8_t uuid[16],
                       const char *lid, const char *name, xc_status *st)
{
    const char *params[3] = { a, (const char *)uuid, lid ? lid : name };
    const int len[3] = { 0, 16, 0 }, fmt[3] = { 0, 1, 0 };
    PGresult *res = sd_db_execv(db, lid ? sql_lid : sql_name, 3, params, len,
                                fmt, 0, st);
    int id = -1;

    if (res != NULL && PQntuples(res) == 1)
        id = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return res == NULL ? -2 : id;
}

xc_status sd_name_to_id(sd_db *db, int64_t mailbox, const uint8_t guid[16],
                        uint32_t lid, const char *name, uint16_t *id_r)
{
    char a[24], lidbuf[16], idbuf[16];
    uint8_t uuid[16];
    xc_status st = XC_OK;
    int id, next;
    PGresult *res;

    if (name == NULL && memcmp(guid, PS_MAPI, 16) == 0) {
        *id_r = (uint16_t)lid;
        return lid < NAMED_FIRST ? XC_OK : XC_E_BADREQ;
    }
    if (name != NULL && (name[0] == '\0' || strlen(name) > 255))
        return XC_E_BADREQ;
    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(lidbuf, sizeof(lidbuf), "%u", lid);
    sd_guid_from_uuid(uuid, guid);      /* the same swap both ways */
    if ((id = name_lookup(db, a, uuid, name ? NULL : lidbuf, name, &st)) >= 0) {
        *id_r = (uint16_t)id;
        return XC_OK;
    }
    if (id == -2)
        return st;
    /* create it under the mailbox row's lock, as NAMES_TO_IDS does */
    if ((st = sd_db_begin(db)) != XC_OK)
        return st;
    {
        const char *lp[1] = { a };
        if ((res = sd_db_exec(db, sql_lock, 1, lp, &st)) == NULL)
            goto fail;
        next = atoi(PQgetvalue(res, 0, 0)) + 1;
        PQclear(res);
    }
    id = name_lookup(db, a, uuid, name ? NULL : lidbuf, name, &st);
    if (id == -2)
        goto fail;
    if (id < 0) {
        const char *params[5] = { a, idbuf, (const char *)uuid,
                                   name ? NULL : lidbuf, name };
        const int len[5] = { 0, 0, 16, 0, 0 }, fmt[5] = { 0, 0, 1, 0, 0 };
        if (next > NAMED_LAST) {
            st = XC_E_LIMIT;
            goto fail;
        }
        snprintf(idbuf, sizeof(idbuf), "%d", next);
        if ((res = sd_db_execv(db, sql_add, 5, params, len, fmt, 0, &st))
            == NULL)
            goto fail;
        PQclear(res);
        id = next;
    }
    if ((st = sd_db_commit(db)) != XC_OK)
        goto fail;
    *id_r = (uint16_t)id;
    return XC_OK;
fail:
    sd_db_rollback(db);
    return st;
}

xc_status sd_id_to_name(sd_db *db, int64_t mailbox, uint16_t id,
                        uint8_t guid_r[16], uint32_t *lid_r, char *name_r,
                        size_t name_len)
{
    static const char sql[] =
        "SELECT guid, lid, name FROM named_props "
        "WHERE mailbox_id = $1 AND prop_id = $2";
    char a[24], b[16];
    const char *params[2] = { a, b };
    const int fmt[2] = { 0, 0 };
    xc_status st;
    PGresult *res;

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%u", id);
    if ((res = sd_db_execv(db, sql, 2, params, NULL, fmt, 1, &st)) == NULL)
        return st;
    st = XC_E_NOTFOUND;
    if (PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 16) {
        sd_guid_from_uuid(guid_r, (const uint8_t *)PQgetvalue(res, 0, 0));
        name_r[0] = '\0';
        *lid_r = 0;
        st = XC_OK;
        if (!PQgetisnull(res, 0, 1)) {
            *lid_r = (uint32_t)sd_be64(PQgetvalue(res, 0, 1));
        } else if ((size_t)PQgetlength(res, 0, 2) < name_len) {
            memcpy(name_r, PQgetvalue(res, 0, 2),
                   (size_t)PQgetlength(res, 0, 2));
            name_r[PQgetlength(res, 0, 2)] = '\0';
        } else {
            st = XC_E_LIMIT;
        }
    }
    PQclear(res);
    return st;
}

/*
 * Map names to property ids of this mailbox, creating them if asked (under
 * the mailbox row's lock, so concurrent creators never collide). When the
 * id space is full a create answers XC_E_LIMIT naming the problem. Anyone
 * who may open the store may map names (a delegate reading a message
 * needs its named properties; everyone writes in the public store), as
 * RopGetPropertyIdsFromNames asks no right ([MS-OXCPRPT] 3.2.5.8).
 */
void sd_store_names_to_ids(sd_db *db, sd_req *req, sd_reply *rp)
{
    const xc_propval *v = xc_props_find(req->args, req->nargs, XW_TAG_CREATE);
    int create = v != NULL && v->v.b, locked = 0, next = 0, count = 0;
    int32_t ids[MAX_NAMES];
    char a[24], idbuf[16], lidbuf[16], strbuf[256];
    sd_user me;
    mbx m;
    xc_status st;
    xc_wbuf *w;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    if ((st = sd_db_begin(db)) != XC_OK)
        goto fail;
    if (create) {
        /* lock first: lookups after it see every name a concurrent
           creator committed before us (READ COMMITTED: each statement
           takes a new snapshot) */
        const char *lp[1] = { a };
        PGresult *res = sd_db_exec(db, sql_lock, 1, lp, &st);
        if (res == NULL)
            goto fail;
        next = atoi(PQgetvalue(res, 0, 0)) + 1;
        PQclear(res);
        locked = 1;
    }
    for (size_t i = 0; i < req->nargs; i++) {
        const xc_propval *g = &req->args[i], *k;
        uint8_t uuid[16];
        const char *params[5] = { a, (const char *)uuid, NULL, NULL, NULL };
        PGresult *res;
        int is_lid, found;

        if (g->tag != XW_TAG_NAME_GUID)
            continue;
        if (count == MAX_NAMES || i + 1 >= req->nargs) {
            st = XC_E_BADREQ;
            goto fail;
        }
        k = &req->args[++i];
        is_lid = k->tag == XW_TAG_NAME_LID;
        if (!is_lid && (k->tag != XW_TAG_NAME_STRING || k->v.bin.n == 0 ||
                        k->v.bin.n >= sizeof(strbuf))) {
            st = XC_E_BADREQ;
            goto fail;
        }
        if (is_lid && memcmp(g->v.bin.p, PS_MAPI, 16) == 0) {
            ids[count++] = k->v.i32 & 0xFFFF;
            continue;
        }
        /* [MS-OXCDATA] GUID -> RFC 4122 byte order for uuid_recv */
        sd_guid_from_uuid(uuid, g->v.bin.p);   /* the same swap both ways */
        if (is_lid) {
            snprintf(lidbuf, sizeof(lidbuf), "%u", (uint32_t)k->v.i32);
        } else {
            memcpy(strbuf, k->v.bin.p, k->v.bin.n);
            strbuf[k->v.bin.n] = '\0';
        }
        if ((found = name_lookup(db, a, uuid, is_lid ? lidbuf : NULL,
                                 is_lid ? NULL : strbuf, &st)) == -2)
            goto fail;
        if (found >= 0) {
            ids[count++] = found;
            continue;
        }
        if (!create) {
            ids[count++] = 0;       /* unknown: the caller gets a warning */
            continue;
        }
        if (next > NAMED_LAST || !locked) {
            sd_db_rollback(db);
            sd_reply_status(rp, XC_E_LIMIT, "the mailbox's named property "
                            "table is full");
            return;
        }
        snprintf(idbuf, sizeof(idbuf), "%d", next);
        params[1] = idbuf;
        params[2] = (const char *)uuid;
        params[3] = is_lid ? lidbuf : NULL;
        params[4] = is_lid ? NULL : strbuf;
        {
            int l2[5] = { 0, 0, 16, 0, 0 }, f2[5] = { 0, 0, 1, 0, 0 };
            res = sd_db_execv(db, sql_add, 5, params, l2, f2, 0, &st);
        }
        if (res == NULL)
            goto fail;
        PQclear(res);
        ids[count++] = next++;
    }
    if ((st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    xc_put_u32(w, XW_TAG_PROPIDS);
    xc_put_u32(w, (uint32_t)count);
    for (int i = 0; i < count; i++)
        xc_put_u32(w, (uint32_t)ids[i]);
    return;
fail:
    sd_db_rollback(db);
    sd_reply_status(rp, st, st == XC_E_BADREQ ? "each name is NAME_GUID "
                    "followed by NAME_LID or a NAME_STRING of 1-255 bytes"
                    : NULL);
}

/* ---- notifications ([MS-OXCNOTIF]) ------------------------------------- */

void sd_store_subscribe(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql_folder[] =
        "SELECT 1 FROM folders WHERE mailbox_id = $1 AND fid = $2";
    int64_t fid_w, fid = -1;
    sd_user me;
    mbx m;
    xc_status st;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    if (sd_arg_i8(req, PR_FID, &fid_w) == 0) {
        char a[24], b[24];
        const char *params[2] = { a, b };
        PGresult *res;

        if (sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0)
            return;
        snprintf(a, sizeof(a), "%" PRId64, m.id);
        snprintf(b, sizeof(b), "%" PRId64, fid);
        res = sd_db_exec(db, sql_folder, 2, params, &st);
        if (res == NULL || PQntuples(res) != 1) {
            PQclear(res);
            sd_reply_status(rp, res ? XC_E_NOTFOUND : st, "no such folder");
            return;
        }
        PQclear(res);
        if (sd_need_rights(db, rp, &m, fid, XW_RIGHT_READ_ANY,
                           "notifications need ReadAny", NULL) < 0)
            return;
    } else if (!m.owner) {
        sd_reply_status(rp, XC_E_PERM, "access denied: a whole mailbox's "
                        "notifications are its owner's");
        return;
    }
    st = sd_conn_subscribe(rp, sd_reply_reqid(rp), m.id, fid);
    sd_reply_status(rp, st, st == XC_E_LIMIT ? "too many subscriptions on "
                    "this connection" : NULL);
    if (st == XC_OK)
        xc_put_long(sd_reply_final(rp), XW_TAG_SUBSCRIPTION,
                    (int32_t)sd_reply_reqid(rp));
}

void sd_store_unsubscribe(sd_db *db, sd_req *req, sd_reply *rp)
{
    const xc_propval *v = xc_props_find(req->args, req->nargs,
                                        XW_TAG_SUBSCRIPTION);
    xc_status st;

    (void)db;
    if (v == NULL) {
        sd_reply_status(rp, XC_E_BADREQ, "SUBSCRIPTION required");
        return;
    }
    st = sd_conn_unsubscribe(rp, (uint32_t)v->v.i32);
    sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such subscription" : NULL);
}

/* ---- moves, copies and deletes of messages ([MS-OXCFOLD] 2.2.1.6) ----- */

static const char sql_tomb[] =
    "INSERT INTO tombstones (mailbox_id, mid, fid, cn, is_fai) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (mailbox_id, mid) DO UPDATE "
    "SET fid = excluded.fid, cn = excluded.cn, is_fai = excluded.is_fai, "
    "deleted_at = now()";
static const char sql_del_row[] =
    "DELETE FROM messages WHERE mailbox_id = $1 AND mid = $2";
/* A copy: the row, its parts, and one more reference to each blob they
   use, in one statement. */
static const char sql_copy_msg[] =
    "WITH msg AS (INSERT INTO messages (mailbox_id, mid, fid, is_fai, cn, "
    "  change_key, pcl, message_class, subject, delivery_time, message_size, "
    "  is_read, creator_id, msg_flags) "
    "  SELECT mailbox_id, $3, $4, is_fai, $5, $6, $7, message_class, "
    "  subject, delivery_time, message_size, is_read, creator_id, msg_flags "
    "  FROM messages WHERE mailbox_id = $1 AND mid = $2), "
    "p AS (INSERT INTO message_props (mailbox_id, mid, tag, ival, fval, "
    "  tval, bval, blob) SELECT mailbox_id, $3, tag, ival, fval, tval, bval, "
    "  blob FROM message_props WHERE mailbox_id = $1 AND mid = $2 "
    "  RETURNING blob), "
    "r AS (INSERT INTO recipients (mailbox_id, mid, row_id, tag, ival, fval, "
    "  tval, bval, blob) SELECT mailbox_id, $3, row_id, tag, ival, fval, "
    "  tval, bval, blob FROM recipients WHERE mailbox_id = $1 AND mid = $2 "
    "  RETURNING blob), "
    "a AS (INSERT INTO attachments (mailbox_id, mid, attach_num, tag, ival, "
    "  fval, tval, bval, blob) SELECT mailbox_id, $3, attach_num, tag, ival, "
    "  fval, tval, bval, blob FROM attachments "
    "  WHERE mailbox_id = $1 AND mid = $2 RETURNING blob), "
    "mm AS (INSERT INTO message_mime (mailbox_id, mid, cn, received, blob) "
    "  SELECT mailbox_id, $3, $5, true, blob FROM message_mime "
    "  WHERE mailbox_id = $1 AND mid = $2 AND received RETURNING blob) "
    "UPDATE blobs b SET refcount = b.refcount + x.n "
    "FROM (SELECT blob, count(*) AS n FROM (SELECT blob FROM p UNION ALL "
    "  SELECT blob FROM r UNION ALL SELECT blob FROM a UNION ALL "
    "  SELECT blob FROM mm) y "
    "  WHERE blob IS NOT NULL GROUP BY blob) x "
    "WHERE b.hash = x.blob";
/* A move: the row under its new id, then its parts handed over to it
   (nothing is rewritten, no blob reference changes), then the old row
   goes as any deleted message does. */
static const char sql_move_row[] =
    "INSERT INTO messages (mailbox_id, mid, fid, is_fai, cn, change_key, "
    "pcl, message_class, subject, delivery_time, message_size, is_read, "
    "created_at, modified_at, creator_id, msg_flags) "
    "SELECT mailbox_id, $3, $4, is_fai, $5, $6, $7, message_class, subject, "
    "delivery_time, message_size, is_read, created_at, modified_at, "
    "creator_id, msg_flags FROM messages WHERE mailbox_id = $1 AND mid = $2";
static const char sql_move_parts[] =
    "WITH p AS (UPDATE message_props SET mid = $3 "
    "  WHERE mailbox_id = $1 AND mid = $2), "
    "r AS (UPDATE recipients SET mid = $3 WHERE mailbox_id = $1 AND mid = $2), "
    "mm AS (UPDATE message_mime SET mid = $3 "
    "  WHERE mailbox_id = $1 AND mid = $2) "
    "UPDATE attachments SET mid = $3 WHERE mailbox_id = $1 AND mid = $2";
/* Property-level changes of a message */
static const char sql_del_props[] =
    "DELETE FROM message_props WHERE mailbox_id = $1 AND mid = $2 "
    "AND ((tag >> 16) & 65535) = ANY ($3::int[])";
static const char sql_drop_mime[] =
    "DELETE FROM message_mime WHERE mailbox_id = $1 AND mid = $2";
/* ... when one of the named properties $3 is one that MIME carries
   (lib/xc_mime.c): a PS_INTERNET_HEADERS header, or PS_PUBLIC_STRINGS
   "Keywords" */
static const char sql_drop_mime_named[] =
    "DELETE FROM message_mime WHERE mailbox_id = $1 AND mid = $2 "
    "AND EXISTS (SELECT 1 FROM named_props WHERE mailbox_id = $1 "
    "AND prop_id = ANY ($3::int[]) "
    "AND (guid = '00020386-0000-0000-c000-000000000046' "
    "OR (guid = '00020329-0000-0000-c000-000000000046' "
    "AND name = 'Keywords')))";
static const char sql_set_hot[] =
    "UPDATE messages SET cn = $3, change_key = $4, pcl = $5, "
    "message_class = CASE WHEN $6::boolean THEN coalesce($7, 'IPM.Note') "
    "  ELSE message_class END, "
    "subject = CASE WHEN $8::boolean THEN coalesce($9, '') ELSE subject END, "
    "delivery_time = CASE WHEN $10::boolean THEN to_timestamp($11::float8) "
    "  ELSE delivery_time END, "
    "message_size = message_size + $12, "
    "is_read = coalesce($13::boolean, is_read), modified_at = now() "
    "WHERE mailbox_id = $1 AND mid = $2";

xc_status sd_prepare_store(sd_db *db, const char *const *extra)
{
    static const char *const sqls[] = {
        sql_put_msg, sql_put_recip, sql_put_attach, sql_put_folder,
        sql_put_blob, sql_log_change, sql_count, sql_use_bytes, sql_tomb,
        sql_del_row, sql_copy_msg, sql_move_row, sql_move_parts,
        sql_del_props, sql_set_hot, sql_drop_mime, sql_drop_mime_named, NULL
    };
    xc_status st;

    for (int i = 0; sqls[i]; i++)
        if ((st = sd_db_prepare(db, sqls[i], 0)) != XC_OK)
            return st;
    for (int i = 0; extra && extra[i]; i++)
        if ((st = sd_db_prepare(db, extra[i], 0)) != XC_OK)
            return st;
    return batch_prepare(db);
}

int sd_id_array(xc_wbuf *w, const void *ids, size_t n, char kind)
{
    char one[24];

    xc_wbuf_reset(w);
    xc_put_u8(w, '{');
    for (size_t i = 0; i < n; i++) {
        int k = kind == 'u'
            ? snprintf(one, sizeof(one), "%s%" PRIu64, i ? "," : "",
                       ((const uint64_t *)ids)[i])
            : kind == 'i'
            ? snprintf(one, sizeof(one), "%s%" PRId64, i ? "," : "",
                       ((const int64_t *)ids)[i])
            : snprintf(one, sizeof(one), "%s%d", i ? "," : "",
                       ((const int32_t *)ids)[i]);
        xc_put_bytes(w, one, (size_t)k);
    }
    xc_put_u8(w, '}');
    xc_put_u8(w, 0);
    return w->err ? -1 : 0;
}

#define MSG_COLS "mid, fid, is_fai, is_read, message_size, pcl, " \
                 "coalesce(creator_id, -1)"

/* Fill s->v from s->res (binary MSG_COLS), all rows in result order. */
static xc_status msgs_from(sd_msgset *s)
{
    int rows = PQntuples(s->res);

    s->n = 0;
    s->v = calloc((size_t)rows + 1, sizeof(*s->v));
    if (s->v == NULL)
        return XC_E_TEMP;
    for (int i = 0; i < rows; i++) {
        sd_msg *x = &s->v[s->n++];
        x->mid = sd_be64(PQgetvalue(s->res, i, 0));
        x->fid = sd_be64(PQgetvalue(s->res, i, 1));
        x->fai = PQgetvalue(s->res, i, 2)[0] != 0;
        x->read = PQgetvalue(s->res, i, 3)[0] != 0;
        x->size = (int64_t)sd_be64(PQgetvalue(s->res, i, 4));
        x->pcl = (const uint8_t *)PQgetvalue(s->res, i, 5);
        x->pcllen = (size_t)PQgetlength(s->res, i, 5);
        x->creator = (int64_t)sd_be64(PQgetvalue(s->res, i, 6));
    }
    return XC_OK;
}

/* Run sql ($1 mailbox, $2 the ids as an array of kind, $3 extra) into s. */
static xc_status msgs_query(sd_db *db, const char *sql, int64_t mailbox,
                            const void *ids, size_t n, char kind,
                            const char *extra, sd_msgset *s)
{
    char a[24];
    const char *params[3] = { a, NULL, extra };
    const int fmt[3] = { 0, 0, 0 };
    xc_wbuf w;
    xc_status st;

    memset(s, 0, sizeof(*s));
    xc_wbuf_init(&w, 0);
    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    if (sd_id_array(&w, ids, n, kind) < 0) {
        xc_wbuf_free(&w);
        return XC_E_TEMP;
    }
    params[1] = (const char *)w.p;
    s->res = sd_db_execv(db, sql, extra ? 3 : 2, params, NULL, fmt, 1, &st);
    xc_wbuf_free(&w);
    return s->res == NULL ? st : msgs_from(s);
}

xc_status sd_msgs_by_id(sd_db *db, int64_t mailbox, const int64_t *mids,
                        size_t n, sd_msgset *s)
{
    static const char sql[] =
        "SELECT " MSG_COLS " FROM messages "
        "WHERE mailbox_id = $1 AND mid = ANY ($2::bigint[])";
    xc_status st;
    sd_msg *found;
    size_t nfound;

    if ((st = msgs_query(db, sql, mailbox, mids, n, 'i', NULL, s)) != XC_OK)
        return st;
    /* the request's order (change numbers follow it), each id once */
    found = s->v;
    nfound = s->n;
    if ((s->v = calloc(nfound + 1, sizeof(*s->v))) == NULL) {
        s->v = found;
        return XC_E_TEMP;
    }
    s->n = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nfound; j++)
            if (found[j].mid == (uint64_t)mids[i] && mids[i] >= 0) {
                s->v[s->n++] = found[j];
                found[j].mid = UINT64_MAX;      /* taken */
                break;
            }
    free(found);
    return XC_OK;
}

xc_status sd_msgs_in_folders(sd_db *db, int64_t mailbox,
                             const uint64_t *fids, size_t nf, int fai,
                             sd_msgset *s)
{
    static const char sql[] =
        "SELECT " MSG_COLS " FROM messages "
        "WHERE mailbox_id = $1 AND fid = ANY ($2::bigint[]) "
        "AND (NOT is_fai OR $3) ORDER BY fid, mid";

    return msgs_query(db, sql, mailbox, fids, nf, 'u', fai ? "t" : "f", s);
}

void sd_msgset_free(sd_msgset *s)
{
    PQclear(s->res);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

int sd_counts_add(sd_counts *c, uint64_t fid, int fai, int content,
                  int unread)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].fid == fid && c->v[i].fai == fai) {
            c->v[i].content += content;
            c->v[i].unread += unread;
            return 0;
        }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct sd_count *v = realloc(c->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (struct sd_count){ fid, fai, content, unread };
    return 0;
}

xc_status sd_counts_apply(sd_db *db, int64_t mailbox, sd_counts *c)
{
    xc_status st;

    for (size_t i = 0; i < c->n; i++)
        if ((c->v[i].content || c->v[i].unread) &&
            (st = sd_count_folder(db, mailbox, c->v[i].fid, c->v[i].fai,
                                  c->v[i].content, c->v[i].unread)) != XC_OK)
            return st;
    c->n = 0;
    return XC_OK;
}

void sd_counts_free(sd_counts *c)
{
    free(c->v);
    memset(c, 0, sizeof(*c));
}

xc_status sd_delete_msgs(sd_db *db, mbx *m, const sd_msg *v, size_t n,
                         uint64_t *cn, sd_counts *c)
{
    char a[24], b[24], f[24], c4[24];
    const char *p2[2] = { a, b }, *p5[5] = { a, b, f, c4, NULL };
    int64_t bytes = 0;
    xc_status st;

    snprintf(a, sizeof(a), "%" PRId64, m->id);
    for (size_t i = 0; i < n; i++) {
        snprintf(b, sizeof(b), "%" PRIu64, v[i].mid);
        snprintf(f, sizeof(f), "%" PRIu64, v[i].fid);
        snprintf(c4, sizeof(c4), "%" PRIu64, *cn);
        p5[4] = v[i].fai ? "t" : "f";
        if ((st = sd_run(db, sql_del_row, 2, p2, NULL, NULL)) != XC_OK ||
            (st = sd_run(db, sql_tomb, 5, p5, NULL, NULL)) != XC_OK ||
            (st = sd_log_change(db, m->id, *cn, "delete", v[i].fid,
                                &v[i].mid, v[i].fai)) != XC_OK)
            return st;
        if (c != NULL &&
            sd_counts_add(c, v[i].fid, v[i].fai, -1, v[i].read ? 0 : -1) < 0)
            return XC_E_TEMP;
        bytes += v[i].size;
        (*cn)++;
    }
    return sd_use_bytes(db, m, -bytes);
}

/* The statement parameters of a message row under a new id: mailbox,
   source, new id, folder, CN, change key, PCL. */
typedef struct newrow {
    char a[24], b[24], c[24], d[24], e[24];
    uint8_t xid[XC_XID_LEN], pcl[XC_PCL_MAX];
    const char *params[7];
    int len[7], fmt[7];
} newrow;

static void newrow_init(newrow *r, const mbx *m, const sd_msg *src,
                        uint64_t new_mid, uint64_t fid, uint64_t cn,
                        int keep_pcl)
{
    int pcllen = -1;

    snprintf(r->a, sizeof(r->a), "%" PRId64, m->id);
    snprintf(r->b, sizeof(r->b), "%" PRIu64, src->mid);
    snprintf(r->c, sizeof(r->c), "%" PRIu64, new_mid);
    snprintf(r->d, sizeof(r->d), "%" PRIu64, fid);
    snprintf(r->e, sizeof(r->e), "%" PRIu64, cn);
    xc_xid(r->xid, m->guid, cn);
    if (keep_pcl)
        pcllen = xc_pcl_merge(src->pcl, src->pcllen, r->xid, sizeof(r->xid),
                              r->pcl, sizeof(r->pcl));
    if (pcllen < 0)
        pcllen = xc_pcl_merge(NULL, 0, r->xid, sizeof(r->xid), r->pcl,
                              sizeof(r->pcl));
    r->params[0] = r->a; r->params[1] = r->b; r->params[2] = r->c;
    r->params[3] = r->d; r->params[4] = r->e;
    r->params[5] = (const char *)r->xid;
    r->params[6] = (const char *)r->pcl;
    for (int i = 0; i < 7; i++)
        r->len[i] = r->fmt[i] = 0;
    r->len[5] = sizeof(r->xid);
    r->len[6] = pcllen;
    r->fmt[5] = r->fmt[6] = 1;
}

xc_status sd_copy_msg(sd_db *db, const mbx *m, const sd_msg *src,
                      uint64_t new_mid, uint64_t fid, uint64_t cn)
{
    newrow r;
    xc_status st;

    newrow_init(&r, m, src, new_mid, fid, cn, 0);
    if ((st = sd_run(db, sql_copy_msg, 7, r.params, r.len, r.fmt)) != XC_OK)
        return st;
    return sd_log_change(db, m->id, cn, "create", fid, &new_mid, src->fai);
}

/*
 * Move one message to fid as new_mid: a "delete" of the old id (change
 * number *cn) and a "create" of the new one (*cn + 1). Its PCL keeps its
 * history with the new change added.
 */
static xc_status move_msg(sd_db *db, mbx *m, const sd_msg *src,
                          uint64_t new_mid, uint64_t fid, uint64_t *cn,
                          sd_counts *c)
{
    newrow r;
    xc_status st;

    newrow_init(&r, m, src, new_mid, fid, *cn + 1, 1);
    if ((st = sd_run(db, sql_move_row, 7, r.params, r.len, r.fmt)) != XC_OK ||
        (st = sd_run(db, sql_move_parts, 3, r.params, NULL, NULL)) != XC_OK ||
        /* its bytes stay: the delete takes them off, we put them back */
        (st = sd_delete_msgs(db, m, src, 1, cn, c)) != XC_OK ||
        (st = sd_use_bytes(db, m, src->size)) != XC_OK ||
        (st = sd_log_change(db, m->id, *cn, "create", fid, &new_mid,
                            src->fai)) != XC_OK)
        return st;
    (*cn)++;
    return XC_OK;
}

/* MOVE_MESSAGES and COPY_MESSAGES: one transaction, one pipeline. */
static void move_copy(sd_db *db, sd_req *req, sd_reply *rp, int copy)
{
    int64_t *mids = NULL, dest;
    size_t n = 0;
    uint64_t cn = 0, gc = 0;
    int64_t bytes = 0;
    sd_msgset set = { 0 };
    sd_counts counts = { 0 };
    sd_user me;
    mbx m;
    xc_status st;
    xc_wbuf *w;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    if (mids_of(req, &m, &mids, &n) < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "MIDS: 1 to 1000 message ids");
        return;
    }
    if (sd_id_arg(req, rp, PR_FID, "folder", &m, &dest) < 0) {
        free(mids);
        return;
    }
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m.id)) != XC_OK ||
        (st = sd_folder_exists(db, m.id, (uint64_t)dest)) != XC_OK ||
        (st = sd_msgs_by_id(db, m.id, mids, n, &set)) != XC_OK)
        goto fail;
    if (!m.owner) {
        /* a delegate: Create in the destination, ReadAny where each
           message is, and for a move the right to delete it there */
        uint32_t rights = 0;
        if ((st = sd_rights(db, &m, dest, &rights)) != XC_OK)
            goto fail;
        if (!(rights & XW_RIGHT_CREATE))
            st = XC_E_PERM;
        for (size_t i = 0; i < set.n && st == XC_OK; i++) {
            if ((st = sd_rights(db, &m, (int64_t)set.v[i].fid, &rights)) !=
                XC_OK)
                goto fail;
            if (!(rights & XW_RIGHT_READ_ANY) ||
                (!copy && !sd_may_change(rights, &m, set.v[i].creator, 0)))
                st = XC_E_PERM;
        }
        if (st != XC_OK)
            goto fail;
    }
    for (size_t i = 0; i < set.n; i++)
        bytes += set.v[i].size;
    if (set.n > 0) {
        if ((st = sd_take_ids(db, m.id, (int)set.n * (copy ? 1 : 2),
                              (int)set.n, &m, &cn, &gc)) != XC_OK)
            goto fail;
        if (copy && sd_over_quota(&m, bytes)) {
            st = XC_E_NOQUOTA;
            goto fail;
        }
        if ((st = sd_prepare_store(db, NULL)) != XC_OK ||
            (st = sd_db_pipe_begin(db)) != XC_OK)
            goto fail;
        for (size_t i = 0; i < set.n && st == XC_OK; i++) {
            const sd_msg *x = &set.v[i];
            if (copy)
                st = sd_copy_msg(db, &m, x, gc + i, (uint64_t)dest, cn++);
            else
                st = move_msg(db, &m, x, gc + i, (uint64_t)dest, &cn, &counts);
            if (st == XC_OK &&
                sd_counts_add(&counts, (uint64_t)dest, x->fai, 1,
                              x->read ? 0 : 1) < 0)
                st = XC_E_TEMP;
        }
        if (st == XC_OK)
            st = sd_counts_apply(db, m.id, &counts);
        if (st == XC_OK && copy)
            st = sd_use_bytes(db, &m, bytes);
        st = sd_pipe_end(db, st);
        if (st != XC_OK)
            goto fail;
    }
    if ((st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    /* the new ids in the request's order, 0 where nothing was moved */
    xc_put_u32(w, XW_TAG_NEW_MIDS);
    xc_put_u32(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint64_t id = 0;
        for (size_t j = 0; j < set.n; j++)
            if (mids[i] >= 0 && set.v[j].mid == (uint64_t)mids[i])
                id = xc_make_id(m.replid, gc + j);
        xc_put_u64(w, id);
    }
    xc_put_long(w, XW_TAG_TOTAL, (int32_t)set.n);
    xc_put_i8(w, XW_TAG_CN, set.n ? (int64_t)cn - 1 : 0);
    free(mids);
    sd_msgset_free(&set);
    sd_counts_free(&counts);
    return;
fail:
    sd_db_rollback(db);
    free(mids);
    sd_msgset_free(&set);
    sd_counts_free(&counts);
    sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such folder"
                            : st == XC_E_NOQUOTA ? msg_noquota
                            : st == XC_E_PERM ? "access denied: Create in "
                              "the destination, ReadAny at the source and "
                              "for a move DeleteAny (or DeleteOwned) there"
                            : NULL);
}

void sd_store_move_messages(sd_db *db, sd_req *req, sd_reply *rp)
{
    move_copy(db, req, rp, 0);
}

void sd_store_copy_messages(sd_db *db, sd_req *req, sd_reply *rp)
{
    move_copy(db, req, rp, 1);
}

/* ---- property-level changes ([MS-OXCPRPT] 2.2.5, 2.2.7) ---------------- */

void sd_reply_props(sd_reply *rp, const uint32_t *problems, size_t nprob,
                    const mbx *m, uint64_t cn)
{
    xc_wbuf *w;

    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    xc_put_u32(w, XW_TAG_PROBLEMS);
    xc_put_u32(w, (uint32_t)(nprob * 3));
    for (size_t i = 0; i < nprob * 3; i++)
        xc_put_u32(w, problems[i]);
    if (cn != 0) {
        uint8_t xid[XC_XID_LEN];
        xc_xid(xid, m->guid, cn);
        xc_put_i8(w, XW_TAG_CN, (int64_t)cn);
        xc_put_bin(w, PR_CHANGE_KEY, xid, sizeof(xid));
    }
}

/* The size the stored values of these property ids add to PR_MESSAGE_SIZE:
   read back as they would be sent, measured as SAVE measures them. */
static xc_status stored_size(sd_db *db, int64_t mailbox, uint64_t mid,
                             const char *idarray, int64_t *size_r)
{
    static const char sql[] =
        "SELECT " VALUE_COLS " FROM message_props p "
        "LEFT JOIN blobs b ON b.hash = p.blob "
        "WHERE p.mailbox_id = $1 AND p.mid = $2 "
        "AND ((p.tag >> 16) & 65535) = ANY ($3::int[])";
    char a[24], b[24];
    const char *params[3] = { a, b, idarray };
    const int fmt[3] = { 0, 0, 0 };
    xc_wbuf w;
    xc_propval *pv = NULL;
    size_t n = 0;
    const char *err;
    xc_status st;
    PGresult *res;

    *size_r = 0;
    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, mid);
    res = sd_db_execv(db, sql, 3, params, NULL, fmt, 1, &st);
    if (res == NULL)
        return st;
    xc_wbuf_init(&w, 0);
    for (int i = 0; i < PQntuples(res); i++)
        sd_emit_value(&w, res, i, 0);
    st = XC_E_TEMP;
    if (!w.err && (pv = calloc((size_t)PQntuples(res) + 1, sizeof(*pv))) &&
        xc_props_decode(w.p, w.len, pv, (size_t)PQntuples(res) + 1, &n,
                        &err) == 0) {
        for (size_t i = 0; i < n; i++)
            *size_r += sd_value_size(&pv[i]);
        st = XC_OK;
    }
    free(pv);
    xc_wbuf_free(&w);
    PQclear(res);
    return st;
}

/* Can this value be stored at all? (check_content's rule) */
static int storable(uint32_t tag)
{
    uint16_t type = PROP_TYPE(tag);
    return type != PT_NULL && type != PT_OBJECT && type != PT_UNSPECIFIED &&
           PROP_ID(tag) != PROP_ID(PR_XC_EMBEDDED);
}

/*
 * SET_PROPS (del == 0: pv are values) and DELETE_PROPS (del == 1: only
 * the tags of pv count) on a saved message. Each property id once; the
 * computed ones are problems (EC_ACCESS_DENIED), except the read bit of
 * PR_MESSAGE_FLAGS on a set, which sets the read state as SAVE does.
 */
static void message_props(sd_db *db, sd_reply *rp, mbx *m, int64_t mid,
                          const xc_propval *pv, size_t n, int del)
{
    static const char sql_row[] =
        "SELECT fid, is_fai, is_read, message_size, pcl, "
        "coalesce(creator_id, -1) FROM messages "
        "WHERE mailbox_id = $1 AND mid = $2";
    uint32_t *prob = calloc(n * 3 + 1, sizeof(*prob));
    int32_t *ids = calloc(n + 1, sizeof(*ids));
    size_t nprob = 0, nids = 0;
    char a[24], b[24], c[24], sz[24], flags[3][2];
    const char *params[13];
    int len[13] = { 0 }, fmt[13] = { 0 };
    uint8_t xid[XC_XID_LEN], pcl[XC_PCL_MAX];
    int pcllen, fai, was_read, read;
    int64_t size, old_size = 0, new_size = 0;
    uint64_t fid, cn = 0, umid = (uint64_t)mid;
    xc_wbuf idarray;
    hot h;
    xc_status st = XC_E_TEMP;
    PGresult *res = NULL;

    hot_init(&h);
    xc_wbuf_init(&idarray, 0);
    if (prob == NULL || ids == NULL)
        goto fail_early;
    for (size_t i = 0; i < n; i++) {
        uint32_t tag = pv[i].tag;
        int settable = !sd_is_computed(tag) ||
                       (!del && tag == PR_MESSAGE_FLAGS);

        if (!settable || (!del && !storable(tag))) {
            prob[nprob * 3] = (uint32_t)i;
            prob[nprob * 3 + 1] = tag;
            prob[nprob * 3 + 2] = settable ? EC_INVALID_PARAM
                                           : EC_ACCESS_DENIED;
            nprob++;
            continue;
        }
        for (size_t j = 0; j < nids; j++)
            if (ids[j] == PROP_ID(tag)) {
                st = XC_E_BADREQ;
                goto fail_early;
            }
        hot_take(&h, &pv[i], del);
        if (tag == PR_MESSAGE_FLAGS)
            continue;       /* not stored: the read state */
        ids[nids++] = PROP_ID(tag);
        if (!del)
            new_size += sd_value_size(&pv[i]);
    }
    if (sd_id_array(&idarray, ids, nids, 'l') < 0)
        goto fail_early;
    snprintf(a, sizeof(a), "%" PRId64, m->id);
    snprintf(b, sizeof(b), "%" PRIu64, umid);
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m->id)) != XC_OK)
        goto fail;
    {
        const char *p2[2] = { a, b };
        res = sd_db_exec(db, sql_row, 2, p2, &st);
    }
    if (res == NULL)
        goto fail;
    if (PQntuples(res) != 1) {
        st = XC_E_NOTFOUND;
        goto fail;
    }
    fid = (uint64_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    if (!m->owner) {
        uint32_t rights = 0;
        if ((st = sd_rights(db, m, (int64_t)fid, &rights)) != XC_OK)
            goto fail;
        if (!sd_may_change(rights, m, strtoll(PQgetvalue(res, 0, 5), NULL,
                                              10), 1)) {
            st = XC_E_PERM;
            goto fail;
        }
    }
    fai = PQgetvalue(res, 0, 1)[0] == 't';
    was_read = PQgetvalue(res, 0, 2)[0] == 't';
    size = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    read = h.read >= 0 ? h.read : was_read;
    if (nids == 0 && read == was_read) {
        /* nothing to change: no change number */
        PQclear(res);
        sd_db_rollback(db);
        sd_reply_props(rp, prob, nprob, m, 0);
        goto out;
    }
    if (nids > 0 &&
        (st = stored_size(db, m->id, umid, (const char *)idarray.p,
                          &old_size)) != XC_OK)
        goto fail;
    if (too_large(rp, size - old_size + new_size)) {
        st = XC_OK;     /* answered */
        goto fail;
    }
    if ((st = sd_take_ids(db, m->id, 1, 0, m, &cn, NULL)) != XC_OK)
        goto fail;
    if (sd_over_quota(m, new_size - old_size)) {
        st = XC_E_NOQUOTA;
        goto fail;
    }
    xc_xid(xid, m->guid, cn);
    {
        size_t ol = 0;
        unsigned char *old = PQunescapeBytea(
            (const unsigned char *)PQgetvalue(res, 0, 4), &ol);
        pcllen = old ? xc_pcl_merge(old, ol, xid, sizeof(xid), pcl,
                                    sizeof(pcl)) : -1;
        PQfreemem(old);
        if (pcllen < 0)
            pcllen = xc_pcl_merge(NULL, 0, xid, sizeof(xid), pcl, sizeof(pcl));
    }
    PQclear(res);
    res = NULL;
    if ((st = sd_prepare_store(db, NULL)) != XC_OK ||
        (st = sd_db_pipe_begin(db)) != XC_OK)
        goto fail;
    params[0] = a;
    params[1] = b;
    params[2] = (const char *)idarray.p;
    if (nids > 0)
        st = sd_db_pipe_send(db, sql_del_props, 3, params, NULL, NULL);
    for (size_t i = 0; i < n && st == XC_OK && !del; i++)
        if (sd_is_computed(pv[i].tag) == 0 && storable(pv[i].tag))
            st = sd_put_value(db, T_MSG, m->id, umid, 0, &pv[i]);
    {
        int dropped = 0, named = 0;

        for (size_t i = 0; i < n && st == XC_OK && !dropped; i++)
            if (sd_mime_relevant(pv[i].tag)) {
                /* the received MIME no longer says what the message holds */
                st = sd_db_pipe_send(db, sql_drop_mime, 2, params, NULL,
                                     NULL);
                dropped = 1;
            }
        for (size_t i = 0; i < nids; i++)
            named |= ids[i] >= 0x8000;
        if (st == XC_OK && !dropped && named)
            /* named ones that MIME carries: X- headers, Keywords */
            st = sd_db_pipe_send(db, sql_drop_mime_named, 3, params, NULL,
                                 NULL);
    }
    snprintf(c, sizeof(c), "%" PRIu64, cn);
    snprintf(sz, sizeof(sz), "%" PRId64, new_size - old_size);
    snprintf(flags[0], 2, "%d", h.has_cls);
    snprintf(flags[1], 2, "%d", h.has_subj);
    snprintf(flags[2], 2, "%d", h.has_when);
    params[2] = c;
    params[3] = (const char *)xid; len[3] = sizeof(xid); fmt[3] = 1;
    params[4] = (const char *)pcl; len[4] = pcllen; fmt[4] = 1;
    {
        const char *hp[3];
        hot_params(&h, hp);
        params[5] = flags[0]; params[6] = hp[0];
        params[7] = flags[1]; params[8] = hp[1];
        params[9] = flags[2]; params[10] = hp[2];
    }
    params[11] = sz;
    params[12] = h.read < 0 ? NULL : h.read ? "t" : "f";
    if (st == XC_OK)
        st = sd_db_pipe_send(db, sql_set_hot, 13, params, len, fmt);
    if (st == XC_OK)
        st = sd_log_change(db, m->id, cn, "modify", fid, &umid, fai);
    if (st == XC_OK && read != was_read)
        st = sd_count_folder(db, m->id, fid, fai, 0, was_read - read);
    if (st == XC_OK)
        st = sd_use_bytes(db, m, new_size - old_size);
    st = sd_pipe_end(db, st);
    if (st != XC_OK || (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_props(rp, prob, nprob, m, cn);
    goto out;
fail:
    PQclear(res);
    sd_db_rollback(db);
fail_early:
    if (st != XC_OK)
        sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such message"
                                : st == XC_E_BADREQ ? "a property appears twice"
                                : st == XC_E_NOQUOTA ? msg_noquota
                                : st == XC_E_PERM ? "access denied: changing "
                                  "a message needs EditAny, or EditOwned on "
                                  "your own" : NULL);
out:
    hot_free(&h);
    xc_wbuf_free(&idarray);
    free(prob);
    free(ids);
}

/* The request's target: a message (PR_MID) or a folder (PR_FID). */
static void props_change(sd_db *db, sd_req *req, sd_reply *rp, int del)
{
    const xc_propval *pv = NULL;
    xc_propval *tags = NULL;
    size_t n = 0;
    int64_t id, wire;
    sd_user me;
    mbx m;

    if (!del) {
        if (sd_content_of(req, rp, &pv, &n) < 0)
            return;
        for (size_t i = 0; i < n; i++)
            if (sd_is_marker(pv[i].tag)) {
                sd_reply_status(rp, XC_E_BADREQ, "properties only: no "
                                "recipients or attachments");
                return;
            }
    }
    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    if (del) {
        const xc_propval *v = xc_props_find(req->args, req->nargs,
                                            XW_TAG_PROPTAGS);
        xc_mv_iter it;
        xc_propval one;

        if (v == NULL || v->v.mv.count == 0 || v->v.mv.count > XW_MAX_PROPS) {
            sd_reply_status(rp, XC_E_BADREQ, "PROPTAGS: 1 to 4096 tags");
            return;
        }
        if ((tags = calloc(v->v.mv.count, sizeof(*tags))) == NULL) {
            sd_reply_status(rp, XC_E_TEMP, NULL);
            return;
        }
        xc_mv_iter_init(&it, v);
        while (xc_mv_next(&it, &one) == 1)
            tags[n++].tag = (uint32_t)one.v.i32;
        pv = tags;
    }
    if (sd_arg_i8(req, PR_MID, &wire) == 0) {
        if (sd_id_arg(req, rp, PR_MID, "message", &m, &id) == 0)
            message_props(db, rp, &m, id, pv, n, del);
    } else if (sd_arg_i8(req, PR_FID, &wire) == 0) {
        if (sd_id_arg(req, rp, PR_FID, "folder", &m, &id) == 0 &&
            sd_need_rights(db, rp, &m, id, XW_RIGHT_FOLDER_OWNER,
                           "changing a folder needs FolderOwner", NULL) == 0)
            sd_folder_set_props(db, req, rp, &m, id, pv, n, del);
    } else {
        sd_reply_status(rp, XC_E_BADREQ, "PR_MID or PR_FID required");
    }
    free(tags);
}

void sd_store_set_props(sd_db *db, sd_req *req, sd_reply *rp)
{
    props_change(db, req, rp, 0);
}

void sd_store_delete_props(sd_db *db, sd_req *req, sd_reply *rp)
{
    props_change(db, req, rp, 1);
}

/* ---- quotas ------------------------------------------------------------ */

void sd_store_quota(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "SELECT used_bytes, quota_bytes, send_quota_bytes FROM mailboxes "
        "WHERE id = $1";
    char a[24];
    const char *params[1] = { a };
    sd_user me;
    mbx m;
    xc_status st;
    xc_wbuf *w;
    PGresult *res;

    if (sd_open_mailbox(db, req, rp, &me, &m) < 0)
        return;
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    res = sd_db_exec(db, sql, 1, params, &st);
    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        sd_reply_status(rp, res ? XC_E_NOTFOUND : st, NULL);
        return;
    }
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    xc_put_i8(w, XW_TAG_USED_BYTES, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    if (!PQgetisnull(res, 0, 1))
        xc_put_i8(w, XW_TAG_QUOTA_BYTES,
                  strtoll(PQgetvalue(res, 0, 1), NULL, 10));
    if (!PQgetisnull(res, 0, 2))
        xc_put_i8(w, XW_TAG_SEND_QUOTA_BYTES,
                  strtoll(PQgetvalue(res, 0, 2), NULL, 10));
    xc_put_i8(w, XW_TAG_MAX_MESSAGE_SIZE, (int64_t)sd_config->max_message_size);
    PQclear(res);
}
