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
 *   a client. In: a request's streamed argument holds the bytes of the
 *   content's XW_MARK_STREAMED values (lib/xc_wire.h);
 *   sd_resolve_streamed turns each into an ordinary value pointing into
 *   the stream before the content is checked, so every writer of content
 *   (SAVE_MESSAGE, SET_PROPS) takes them.
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"

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

void sd_store_read_prop(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char *const sql[3] = {
        "SELECT " VALUE_COLS " FROM message_props p "
        "LEFT JOIN blobs b ON b.hash = p.blob "
        "WHERE p.mailbox_id = $1 AND p.mid = $2 "
        "AND ((p.tag >> 16) & 65535) = $3",
        "SELECT " VALUE_COLS " FROM recipients p "
        "LEFT JOIN blobs b ON b.hash = p.blob "
        "WHERE p.mailbox_id = $1 AND p.mid = $2 "
        "AND ((p.tag >> 16) & 65535) = $3 AND p.row_id = $4",
        "SELECT " VALUE_COLS " FROM attachments p "
        "LEFT JOIN blobs b ON b.hash = p.blob "
        "WHERE p.mailbox_id = $1 AND p.mid = $2 "
        "AND ((p.tag >> 16) & 65535) = $3 AND p.attach_num = $4",
    };
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
    char a[24], b[24], c[16], d[16];
    const char *params[4] = { a, b, c, d };
    const int fmt[4] = { 0, 0, 0, 0 };
    int which = att ? 2 : row ? 1 : 0;
    int64_t mid, fid;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res;
    xc_wbuf w;
    size_t start, total, from, count;
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
    res = sd_db_execv(db, sql[which], which ? 4 : 3, params, NULL, fmt, 1,
                      &st);
    if (res == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        sd_reply_status(rp, XC_E_NOTFOUND, "no such message or property");
        return;
    }
    tag = sd_be32(PQgetvalue(res, 0, 0));
    xc_wbuf_init(&w, 0);
    sd_emit_value(&w, res, 0, 0);
    PQclear(res);
    start = value_start(tag);
    if (w.err || w.len < start) {
        xc_wbuf_free(&w);
        sd_reply_status(rp, XC_E_TEMP, "out of memory");
        return;
    }
    total = w.len - start;
    from = off ? (size_t)off->v.i32 : 0;
    if (from > total)
        from = total;
    count = total - from;
    if (lim != NULL && (size_t)lim->v.i32 < count)
        count = (size_t)lim->v.i32;
    if (sd_reply_stream(rp, w.p + start + from, count) < 0) {
        xc_wbuf_free(&w);
        sd_reply_status(rp, XC_E_TEMP, "client gone");
        return;
    }
    xc_wbuf_free(&w);
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_long(sd_reply_final(rp), XW_TAG_PROPTAG, (int32_t)tag);
    xc_put_object(sd_reply_final(rp), XW_TAG_VALUE, count);
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL,
                total > INT32_MAX ? INT32_MAX : (int32_t)total);
}
