/*
 * NAME
 *   sd_stream - large property values in and out of the store
 *
 * DESCRIPTION
 *   A frame is bounded (max_frame, 1 MiB by default); a body or an
 *   attachment is not. Out: GET_MESSAGE leaves values that don't fit as
 *   NotEnoughMemory errors (sd_emit_content's budget) and READ_PROP (op
 *   33) sends one value, or a range of it, in XW_F_CHUNK frames, as
 *   RopOpenStream and RopReadStream of [MS-OXCPRPT] 2.2.9 and 2.2.10 give
 *   a client, reading a large value from the database a chunk at a time
 *   (stream_blob), so no value is ever in storaged's memory whole. In
 *   (past 1 MiB a request's stream waits in an unlinked spool file that is
 *   mapped when it runs, sd_conn.c): a request's streamed argument holds the bytes of the
 *   content's XW_MARK_STREAMED values (lib/xc_wire.h);
 *   sd_resolve_streamed turns each into an ordinary value pointing into
 *   the stream before the content is checked, so every writer of content
 *   (SAVE_MESSAGE, SET_PROPS) takes them.
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"
#include "xc_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sd_resolve_streamed(sd_req *req, sd_reply *rp, xc_propval *pv,
                        size_t *n)
{
    const xc_propval *v = xc_props_find(req->args, req->nargs, XW_TAG_VALUE);
    size_t used = 0, j = 0;

    for (size_t i = 0; i < *n; i++, j++) {
        uint16_t type;
        uint64_t len;
        const uint8_t *p;

        if (pv[i].tag != XW_MARK_STREAMED) {
            pv[j] = pv[i];
            continue;
        }
        type = (uint16_t)pv[i].v.i32;
        if (i + 1 >= *n || PROP_TYPE(pv[i + 1].tag) != PT_OBJECT ||
            (type != PT_BINARY && type != PT_STRING8 && type != PT_UNICODE)) {
            sd_reply_status(rp, XC_E_BADREQ, "XW_MARK_STREAMED takes "
                            "PT_BINARY, PT_STRING8 or PT_UNICODE and is "
                            "followed by a PT_OBJECT length");
            return -1;
        }
        len = pv[i + 1].v.u64;
        if (req->stream == NULL || len > req->stream_len - used ||
            len > UINT32_MAX) {
            sd_reply_status(rp, XC_E_BADREQ, "streamed values exceed the "
                            "streamed argument");
            return -1;
        }
        p = req->stream + used;
        if ((type == PT_STRING8 && !xc_utf8_valid(p, (size_t)len)) ||
            (type == PT_UNICODE && (len & 1))) {
            sd_reply_status(rp, XC_E_BADREQ, "a streamed string is not "
                            "valid UTF-8 or UTF-16");
            return -1;
        }
        pv[j].tag = PROP_TAG(type, PROP_ID(pv[i + 1].tag));
        pv[j].v.bin.p = p;
        pv[j].v.bin.n = (uint32_t)len;
        used += (size_t)len;
        i++;
    }
    *n = j;
    if (req->stream != NULL &&
        (v == NULL || v->v.u64 != req->stream_len || used != req->stream_len)) {
        sd_reply_status(rp, XC_E_BADREQ, "the streamed argument must be "
                        "announced by XW_TAG_VALUE and used whole by the "
                        "content's streamed values");
        return -1;
    }
    return 0;
}

int sd_value_fits(PGresult *res, int row, int col, size_t have,
                  size_t budget)
{
    uint32_t tag = sd_be32(PQgetvalue(res, row, col));
    size_t len = 0;

    if (budget == 0 || PROP_ID(tag) == PROP_ID(PR_XC_EMBEDDED))
        return 1;
    for (int k = 3; k <= 5; k++)        /* tval, bval, blob data */
        if (!PQgetisnull(res, row, col + k))
            len = (size_t)PQgetlength(res, row, col + k);
    /* a blob not read (ANSWER_VALUE_COLS): its size */
    if (PQnfields(res) > col + 6 && !PQgetisnull(res, row, col + 6) &&
        PQgetisnull(res, row, col + 5))
        len = (size_t)sd_be64(PQgetvalue(res, row, col + 6));
    if (PROP_TYPE(tag) == PT_UNICODE)
        len *= 2;                       /* UTF-8 -> UTF-16, at most */
    return len + 8 <= XW_INLINE_MAX && have + len + 16 <= budget;
}

void sd_emit_too_big(xc_wbuf *w, PGresult *res, int row, int col)
{
    uint32_t tag = sd_be32(PQgetvalue(res, row, col));

    xc_put_long(w, PROP_TAG(PT_ERROR, PROP_ID(tag)),
                (int32_t)XW_E_NOT_ENOUGH_MEMORY);
}

/* Where a value's bytes start in its wire encoding (after the tag, and
   after the length of a variable-size value). */
static size_t value_start(uint32_t tag)
{
    switch (PROP_TYPE(tag)) {
    case PT_STRING8: case PT_UNICODE: case PT_BINARY: case PT_SVREID:
        return 8;
    default:
        return 4;
    }
}

#define READ_CHUNK (1u << 20)   /* bytes of a large value read at once */

/* Bytes of p[0..n) that end on a whole UTF-8 character. */
static size_t utf8_whole(const uint8_t *p, size_t n)
{
    size_t i = n, need;

    if (n == 0)
        return 0;
    i = n - 1;
    while (i > 0 && (p[i] & 0xC0) == 0x80 && n - i < 4)
        i--;
    need = p[i] < 0x80 ? 1 : p[i] < 0xE0 ? 2 : p[i] < 0xF0 ? 3 : 4;
    return i + need <= n ? n : i;
}

/*
 * Send bytes [from, from + limit) of a large value's wire form (its
 * stored bytes; PT_UNICODE: their UTF-16LE) as it is read from the
 * database a chunk at a time (sql/002 keeps blobs uncompressed out of
 * line, so substring() reads only the chunk's pages): a 50 MB
 * attachment never sits in memory whole. *sent_r and *total_r get what
 * went out and the whole value's wire size. Inside a REPEATABLE READ
 * transaction, so the value stays what it was when the read began.
 */
static xc_status stream_blob(sd_db *db, sd_reply *rp, const char *hash,
                             int unicode, uint64_t size, uint64_t from,
                             uint64_t limit, uint64_t *sent_r,
                             uint64_t *total_r)
{
    static const char sql[] =
        "SELECT substring(data FROM $2 FOR $3) FROM blobs WHERE hash = $1";
    char b[24], c[24];
    const char *params[3] = { hash, b, c };
    const int len[3] = { 32, 0, 0 }, fmt[3] = { 1, 0, 0 };
    uint64_t pos = 0, out = 0, sent = 0;
    uint8_t carry[4];
    size_t ncarry = 0;
    xc_wbuf u16, in;
    xc_status st = XC_OK;

    if (!unicode)
        pos = from < size ? from : size;    /* bytes as stored */
    xc_wbuf_init(&u16, 0);
    xc_wbuf_init(&in, 0);
    while (pos < size && st == XC_OK && (unicode || sent < limit)) {
        uint64_t k = size - pos < READ_CHUNK ? size - pos : READ_CHUNK;
        PGresult *res;

        if (!unicode && k > limit - sent)
            k = limit - sent;
        snprintf(b, sizeof(b), "%" PRIu64, pos + 1);
        snprintf(c, sizeof(c), "%" PRIu64, k);
        res = sd_db_execv(db, sql, 3, params, len, fmt, 1, &st);
        if (res == NULL)
            break;
        if (PQntuples(res) != 1 || (uint64_t)PQgetlength(res, 0, 0) != k) {
            PQclear(res);
            st = XC_E_INTERNAL;
            break;
        }
        pos += k;
        if (!unicode) {
            if (sd_reply_stream(rp, (const uint8_t *)PQgetvalue(res, 0, 0),
                                (size_t)k) < 0)
                st = XC_E_TEMP;
            sent += k;
            PQclear(res);
            continue;
        }
        /* UTF-8 -> UTF-16LE, whole characters at a time */
        xc_wbuf_reset(&in);
        xc_put_bytes(&in, carry, ncarry);
        xc_put_bytes(&in, PQgetvalue(res, 0, 0), (size_t)k);
        PQclear(res);
        {
            size_t whole = pos < size ? utf8_whole(in.p, in.len) : in.len;
            xc_wbuf_reset(&u16);
            if (in.err || xc_utf8_to_utf16le(&u16, in.p, whole) < 0) {
                st = XC_E_INTERNAL;
                break;
            }
            ncarry = in.len - whole;
            memcpy(carry, in.p + whole, ncarry);
        }
        /* the part of [out, out + u16.len) inside [from, from + limit) */
        if (from < out + u16.len && sent < limit) {
            uint64_t a = from > out ? from - out : 0;
            uint64_t n = u16.len - a;
            if (n > limit - sent)
                n = limit - sent;
            if (sd_reply_stream(rp, u16.p + a, (size_t)n) < 0)
                st = XC_E_TEMP;
            sent += n;
        }
        out += u16.len;
    }
    xc_wbuf_free(&u16);
    xc_wbuf_free(&in);
    if (st == XC_OK && unicode && ncarry > 0)
        st = XC_E_INTERNAL;     /* stored text ends mid-character */
    *sent_r = sent;
    *total_r = unicode ? out : size;
    return st;
}

/* The one row (binary) a lookup of a value finds, or NULL with *st_r
   (XC_E_NOTFOUND when there is none). */
static PGresult *one_row(sd_db *db, const char *sql, int n,
                         const char *const *params, xc_status *st_r)
{
    static const int fmt[4] = { 0, 0, 0, 0 };
    PGresult *res = sd_db_execv(db, sql, n, params, NULL, fmt, 1, st_r);

    if (res != NULL && PQntuples(res) != 1) {
        PQclear(res);
        *st_r = XC_E_NOTFOUND;
        return NULL;
    }
    return res;
}

void sd_store_read_prop(sd_db *db, sd_req *req, sd_reply *rp)
{
    /* the value's columns; a large value of a type that streams
       (binary, text) without its bytes but with its hash and size: it is
       read afterwards a chunk at a time */
#define READ_SQL(table, sub)                                                \
    "SELECT p.tag, p.ival, p.fval, p.tval, p.bval, "                        \
    "CASE WHEN (p.tag & 65535) IN (30, 31, 258) THEN NULL ELSE b.data END, " \
    "p.blob, b.size FROM " table " p LEFT JOIN blobs b ON b.hash = p.blob "  \
    "WHERE p.mailbox_id = $1 AND p.mid = $2 "                               \
    "AND ((p.tag >> 16) & 65535) = $3" sub
    static const char *const sql[3] = {
        READ_SQL("message_props", ""),
        READ_SQL("recipients", " AND p.row_id = $4"),
        READ_SQL("attachments", " AND p.attach_num = $4"),
    };
    static const char sql_snapshot[] =
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    const xc_propval *tagv = xc_props_find(req->args, req->nargs,
                                           XW_TAG_PROPTAG);
    const xc_propval *att = xc_props_find(req->args, req->nargs,
                                          XW_TAG_ATTACH_NUM);
    const xc_propval *row = xc_props_find(req->args, req->nargs,
                                          XW_TAG_ROW_ID);
    const xc_propval *off = xc_props_find(req->args, req->nargs,
                                          XW_TAG_OFFSET);
    const xc_propval *lim = xc_props_find(req->args, req->nargs,
                                          XW_TAG_LIMIT);
    char a[24], b[24], c[16], d[16], hash[32];
    const char *params[4] = { a, b, c, d };
    int which = att ? 2 : row ? 1 : 0;
    int64_t mid, fid;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res;
    xc_wbuf w;
    size_t start;
    uint64_t total, from, count, limit;
    uint32_t tag;

    if (sd_open_store(db, req, rp, &me, &m) < 0 ||
        sd_id_arg(req, rp, PR_MID, "message", &m, &mid) < 0)
        return;
    if (tagv == NULL || (att && row) ||
        (off != NULL && off->v.i32 < 0) || (lim != NULL && lim->v.i32 < 0)) {
        sd_reply_status(rp, XC_E_BADREQ, "PROPTAG required; ATTACH_NUM or "
                        "ROW_ID, not both; OFFSET and LIMIT not negative");
        return;
    }
    if (PROP_ID((uint32_t)tagv->v.i32) == PROP_ID(PR_XC_EMBEDDED)) {
        sd_reply_status(rp, XC_E_NOTFOUND, "no such property");
        return;
    }
    from = off ? (uint64_t)off->v.i32 : 0;
    limit = lim ? (uint64_t)lim->v.i32 : UINT64_MAX;
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRId64, mid);
    if (!m.owner) {
        static const char sql_fid[] =
            "SELECT fid FROM messages WHERE mailbox_id = $1 AND mid = $2";
        res = sd_db_exec(db, sql_fid, 2, params, &st);
        if (res == NULL || PQntuples(res) != 1) {
            PQclear(res);
            sd_reply_status(rp, res ? XC_E_NOTFOUND : st,
                            res ? "no such message or property" : NULL);
            return;
        }
        fid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        if (sd_need_rights(db, rp, &m, fid, XW_RIGHT_READ_ANY,
                           "reading needs ReadAny", NULL) < 0)
            return;
    }
    snprintf(c, sizeof(c), "%u", PROP_ID((uint32_t)tagv->v.i32));
    snprintf(d, sizeof(d), "%d", att ? att->v.i32 : row ? row->v.i32 : 0);
    if ((st = sd_db_begin(db)) != XC_OK) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    res = sd_db_exec(db, sql_snapshot, 0, NULL, &st);
    PQclear(res);
    if (res == NULL ||
        (res = one_row(db, sql[which], which ? 4 : 3, params, &st)) == NULL)
        goto fail;
    tag = sd_be32(PQgetvalue(res, 0, 0));
    if (!PQgetisnull(res, 0, 6) && PQgetisnull(res, 0, 5) &&
        PQgetlength(res, 0, 6) == 32) {
        /* a large value READ_SQL left unread: a chunk at a time */
        uint64_t size = sd_be64(PQgetvalue(res, 0, 7));
        memcpy(hash, PQgetvalue(res, 0, 6), 32);
        PQclear(res);
        st = stream_blob(db, rp, hash, PROP_TYPE(tag) == PT_UNICODE, size,
                         from, limit, &count, &total);
        if (st != XC_OK)
            goto fail;
    } else {
        /* small or multi-valued values: whole, as GET_MESSAGE has them */
        xc_wbuf_init(&w, 0);
        sd_emit_value(&w, res, 0, 0);
        PQclear(res);
        start = value_start(tag);
        if (w.err || w.len < start) {
            xc_wbuf_free(&w);
            st = XC_E_TEMP;
            goto fail;
        }
        total = w.len - start;
        if (from > total)
            from = total;
        count = total - from < limit ? total - from : limit;
        if (sd_reply_stream(rp, w.p + start + from, (size_t)count) < 0) {
            xc_wbuf_free(&w);
            st = XC_E_TEMP;
            goto fail;
        }
        xc_wbuf_free(&w);
    }
    if ((st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_long(sd_reply_final(rp), XW_TAG_PROPTAG, (int32_t)tag);
    xc_put_object(sd_reply_final(rp), XW_TAG_VALUE, count);
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL,
                total > INT32_MAX ? INT32_MAX : (int32_t)total);
    return;
fail:
    sd_db_rollback(db);
    sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such message or "
                    "property" : st == XC_E_TEMP ? "client gone or out of "
                    "memory" : NULL);
}
