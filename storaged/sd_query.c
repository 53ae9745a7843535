/*
 * NAME
 *   sd_query - contents tables: columns, sort orders, restrictions
 *
 * DESCRIPTION
 *   XW_OP_CONTENTS over sql/002_store.sql ([MS-OXCTABL]): one page of a
 *   folder's messages with the requested columns, in the requested order.
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"
#include "xc_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Contents table sorts: one key (and the MID to break ties). The SQL is
   chosen from this fixed list, never built from the request. */
#define CONTENTS_SQL(order)                                                 \
    "SELECT mid, fid, cn, change_key, message_size, is_read, is_fai "       \
    "FROM messages WHERE mailbox_id = $1 AND fid = $2 AND is_fai = $3 "     \
    "ORDER BY " order " OFFSET $4 LIMIT $5"
static const struct sortkey {
    uint16_t prop_id;
    const char *sql[2];         /* ascending, descending */
} sortkeys[] = {
    { 0x0E06, { CONTENTS_SQL("delivery_time ASC NULLS FIRST, mid ASC"),
                CONTENTS_SQL("delivery_time DESC NULLS LAST, mid DESC") } },
    { 0x0037, { CONTENTS_SQL("subject ASC, mid ASC"),
                CONTENTS_SQL("subject DESC, mid DESC") } },
    { 0x0E08, { CONTENTS_SQL("message_size ASC, mid ASC"),
                CONTENTS_SQL("message_size DESC, mid DESC") } },
    { 0x674A, { CONTENTS_SQL("mid ASC"), CONTENTS_SQL("mid DESC") } },
};

void sd_store_contents(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql_total[] =
        "SELECT CASE WHEN $3::boolean THEN assoc_count ELSE content_count END "
        "FROM folders WHERE mailbox_id = $1 AND fid = $2";
    static const char sql_props[] =
        "SELECT p.mid, " VALUE_COLS " FROM message_props p "
        "LEFT JOIN blobs b ON b.hash = p.blob "
        "WHERE p.mailbox_id = $1 AND p.mid = ANY ($2::bigint[]) "
        "AND ((p.tag >> 16) & 65535) = ANY ($3::int[]) ORDER BY p.mid, p.tag";
    const xc_propval *cols = xc_props_find(req->args, req->nargs,
                                           XW_TAG_COLUMNS);
    const xc_propval *sort = xc_props_find(req->args, req->nargs, XW_TAG_SORT);
    const xc_propval *v;
    uint32_t col[256];
    size_t ncol = 0;
    const char *sql = sortkeys[0].sql[1];
    int offset = 0, limit = 50, fai = 0;
    int64_t fid_w, fid;
    uint16_t replid;
    char a[24], b[24], o[16], l[16];
    xc_wbuf ids, pids;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res = NULL, *props = NULL;
    xc_mv_iter it;
    xc_propval one;

    if (sd_open_mailbox(req, rp, &me, &m) < 0)
        return;
    if (cols == NULL || cols->v.mv.count > 256) {
        sd_reply_status(rp, XC_E_BADREQ, "COLUMNS (at most 256) required");
        return;
    }
    xc_mv_iter_init(&it, cols);
    while (xc_mv_next(&it, &one) == 1)
        col[ncol++] = (uint32_t)one.v.i32;
    if (sort != NULL) {
        xc_propval key, dir;
        int found = 0;
        if (sort->v.mv.count == 0 || sort->v.mv.count % 2) {
            sd_reply_status(rp, XC_E_BADREQ, "SORT is pairs of (property "
                            "tag, 0 ascending or 1 descending)");
            return;
        }
        xc_mv_iter_init(&it, sort);
        if (sort->v.mv.count != 2 || xc_mv_next(&it, &key) != 1 ||
            xc_mv_next(&it, &dir) != 1) {
            sd_reply_status(rp, XC_E_UNSUPPORTED, "one sort key for now");
            return;
        }
        for (size_t i = 0; i < sizeof(sortkeys) / sizeof(sortkeys[0]); i++)
            if (sortkeys[i].prop_id == PROP_ID((uint32_t)key.v.i32)) {
                sql = sortkeys[i].sql[dir.v.i32 ? 1 : 0];
                found = 1;
            }
        if (!found) {
            sd_reply_status(rp, XC_E_UNSUPPORTED, "can't sort by that "
                            "property yet");
            return;
        }
    }
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_OFFSET)) != NULL)
        offset = v->v.i32 < 0 ? 0 : v->v.i32;
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_LIMIT)) != NULL)
        limit = v->v.i32 < 1 ? 1 : v->v.i32 > MAX_ROWS ? MAX_ROWS : v->v.i32;
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_FAI)) != NULL)
        fai = v->v.b;
    if (sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0)
        return;
    replid = m.replid;
    (void)sd_arg_i8(req, PR_FID, &fid_w);
    snprintf(a, sizeof(a), "%" PRId64, me.mailbox_id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    snprintf(o, sizeof(o), "%d", offset);
    snprintf(l, sizeof(l), "%d", limit);
    xc_wbuf_init(&ids, 0);
    xc_wbuf_init(&pids, 0);
    if ((st = sd_db_begin(db)) != XC_OK)
        goto fail;
    {
        static const char sql_folder[] =
            "SELECT 1 FROM folders WHERE mailbox_id = $1 AND fid = $2";
        const char *p2[2] = { a, b };
        res = sd_db_exec(db, sql_folder, 2, p2, &st);
        if (res == NULL)
            goto fail;
        if (PQntuples(res) != 1) {
            st = XC_E_NOTFOUND;
            goto fail;
        }
        PQclear(res);
    }
    {
        const char *p5[5] = { a, b, fai ? "t" : "f", o, l };
        res = sd_db_exec(db, sql, 5, p5, &st);
        if (res == NULL)
            goto fail;
    }
    /* the page's ids and the requested property ids, as array literals
       of numbers (formatted here, so they are numbers) */
    xc_out(&ids, "{");
    for (int i = 0; i < PQntuples(res); i++) {
        xc_out(&ids, i ? "," : "");
        xc_out(&ids, PQgetvalue(res, i, 0));
    }
    xc_out(&ids, "}");
    xc_put_u8(&ids, 0);
    xc_out(&pids, "{");
    for (size_t i = 0; i < ncol; i++) {
        char num[16];
        snprintf(num, sizeof(num), "%s%u", i ? "," : "", PROP_ID(col[i]));
        xc_out(&pids, num);
    }
    xc_out(&pids, "}");
    xc_put_u8(&pids, 0);
    if (ids.err || pids.err) {
        st = XC_E_TEMP;
        goto fail;
    }
    {
        const char *p3[3] = { a, (const char *)ids.p, (const char *)pids.p };
        const int fmt[3] = { 0, 0, 0 };
        props = sd_db_execv(db, sql_props, 3, p3, NULL, fmt, 1, &st);
        if (props == NULL)
            goto fail;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t mid = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        int first = 0, pi, hi = PQntuples(props);
        xc_wbuf *w = sd_reply_begin_row(rp);

        /* props are in MID order, rows in the table's: find this row's
           run of properties by binary search */
        while (first < hi) {
            int mid_i = first + (hi - first) / 2;
            if ((int64_t)sd_be64(PQgetvalue(props, mid_i, 0)) < mid)
                first = mid_i + 1;
            else
                hi = mid_i;
        }
        for (pi = first; pi < PQntuples(props) &&
                         (int64_t)sd_be64(PQgetvalue(props, pi, 0)) == mid;
             pi++)
            ;
        for (size_t c = 0; c < ncol; c++) {
            switch (PROP_ID(col[c])) {
            case PROP_ID(PR_MID):
                xc_put_i8(w, PR_MID, (int64_t)xc_make_id(replid,
                          (uint64_t)mid));
                continue;
            case PROP_ID(PR_PARENT_FID):
                xc_put_i8(w, PR_PARENT_FID, fid_w);
                continue;
            case PROP_ID(PR_MESSAGE_SIZE):
                xc_put_long(w, PR_MESSAGE_SIZE,
                            (int32_t)strtoll(PQgetvalue(res, i, 4), NULL, 10));
                continue;
            case PROP_ID(PR_MESSAGE_FLAGS):
                xc_put_long(w, PR_MESSAGE_FLAGS,
                            (PQgetvalue(res, i, 5)[0] == 't' ? MSGFLAG_READ
                                                             : 0) |
                            (fai ? MSGFLAG_ASSOCIATED : 0));
                continue;
            case PROP_ID(PR_CHANGE_NUMBER):
                xc_put_i8(w, PR_CHANGE_NUMBER, (int64_t)xc_make_id(replid,
                          (uint64_t)strtoll(PQgetvalue(res, i, 2), NULL, 10)));
                continue;
            case PROP_ID(PR_CHANGE_KEY): {
                size_t kl = 0;
                unsigned char *k = PQunescapeBytea(
                    (const unsigned char *)PQgetvalue(res, i, 3), &kl);
                if (k != NULL)
                    xc_put_bin(w, PR_CHANGE_KEY, k, kl);
                PQfreemem(k);
                continue;
            }
            default:
                break;
            }
            /* stored: matched by property id, sent in its stored type */
            for (int k = first; k < pi; k++)
                if (PROP_ID(sd_be32(PQgetvalue(props, k, 1))) == PROP_ID(col[c])) {
                    sd_emit_value(w, props, k, 1);
                    break;
                }
        }
        if (sd_reply_row(rp, w) < 0)
            break;
    }
    PQclear(res);
    PQclear(props);
    props = NULL;
    {
        const char *p3[3] = { a, b, fai ? "t" : "f" };
        res = sd_db_exec(db, sql_total, 3, p3, &st);
        if (res == NULL)
            goto fail;
    }
    sd_db_rollback(db);     /* read-only */
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL,
                atoi(PQgetvalue(res, 0, 0)));
    PQclear(res);
    xc_wbuf_free(&ids);
    xc_wbuf_free(&pids);
    return;
fail:
    PQclear(res);
    PQclear(props);
    sd_db_rollback(db);
    xc_wbuf_free(&ids);
    xc_wbuf_free(&pids);
    sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such folder" : NULL);
}

