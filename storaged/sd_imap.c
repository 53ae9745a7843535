/*
 * NAME
 *   sd_imap - IMAP's view of a folder ([MS-OXPROTO] 2.2.7, [MS-OXIMAP4])
 *
 * DESCRIPTION
 *   IMAP_LIST (lib/xc_wire.h op 46) answers what an IMAP session needs to
 *   select a folder and follow it: each message's UID (sql/020), MODSEQ
 *   (its CN, RFC 7162), system flags and keywords as the store keeps them
 *   (XW_IMAP_* in lib/xc_wire.h), INTERNALDATE (the delivery time) and,
 *   when the store has its MIME already (received bytes, or generated for
 *   its current change), RFC822.SIZE; then the folder's UIDVALIDITY,
 *   UIDNEXT, message count and highest change. One query, in UID order,
 *   streamed row by row, so a 100,000-message folder is no special case.
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_FLAG_STATUS 0x10900003      /* PidTagFlagStatus */
#define TAG_LAST_VERB 0x10810003        /* PidTagLastVerbExecuted */
#define TAG_MSG_STATUS 0x0E170003       /* PidTagMessageStatus */
#define FLAG_FOLLOWUP 2                 /* followupFlagged */
#define VERB_REPLY 102
#define VERB_REPLY_ALL 103
#define VERB_FORWARD 104
#define MSGSTATUS_DELMARKED 0x8

/* The Keywords named property's tag in mailbox (PT_MV_UNICODE), or 0 when
   the mailbox never had one. */
static int32_t keywords_tag(sd_db *db, int64_t mailbox)
{
    static const char sql[] =
        "SELECT prop_id FROM named_props WHERE mailbox_id = $1 "
        "AND guid = '00020329-0000-0000-c000-000000000046' "
        "AND name = 'Keywords'";
    char a[24];
    const char *params[1] = { a };
    xc_status st;
    PGresult *res;
    int32_t tag = 0;

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    if ((res = sd_db_exec(db, sql, 1, params, &st)) == NULL)
        return 0;
    if (PQntuples(res) == 1)
        tag = (int32_t)((uint32_t)atoi(PQgetvalue(res, 0, 0)) << 16 |
                        (PT_MV | PT_UNICODE));
    PQclear(res);
    return tag;
}

static int flags_of(PGresult *res, int i)
{
    int f = 0;

    if (PQgetvalue(res, i, 3)[0] == 't')
        f |= XW_IMAP_SEEN;
    if (!PQgetisnull(res, i, 6) && atoi(PQgetvalue(res, i, 6)) == FLAG_FOLLOWUP)
        f |= XW_IMAP_FLAGGED;
    if (!PQgetisnull(res, i, 7)) {
        int verb = atoi(PQgetvalue(res, i, 7));
        if (verb == VERB_REPLY || verb == VERB_REPLY_ALL)
            f |= XW_IMAP_ANSWERED;
        else if (verb == VERB_FORWARD)
            f |= XW_IMAP_FORWARDED;
    }
    if (!PQgetisnull(res, i, 8) &&
        (strtoul(PQgetvalue(res, i, 8), NULL, 10) & MSGSTATUS_DELMARKED))
        f |= XW_IMAP_DELETED;
    if (atoi(PQgetvalue(res, i, 10)) & MSGFLAG_UNSENT)
        f |= XW_IMAP_DRAFT;
    return f;
}

void sd_imap_list(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql_rows[] =
        "SELECT m.imap_uid, m.mid, m.cn, "
        "CASE WHEN $6::boolean THEN EXISTS (SELECT 1 FROM public_read r "
        "  WHERE r.mailbox_id = m.mailbox_id AND r.mid = m.mid "
        "  AND r.user_id = $7) ELSE m.is_read END, "
        "extract(epoch FROM coalesce(m.delivery_time, m.created_at)), "
        "(SELECT b.size FROM message_mime mm JOIN blobs b ON b.hash = mm.blob "
        "  WHERE mm.mailbox_id = m.mailbox_id AND mm.mid = m.mid "
        "  AND (mm.received OR mm.cn = m.cn)), "
        "p.fs, p.verb, p.ms, p.kw, m.msg_flags "
        "FROM messages m LEFT JOIN LATERAL ("
        "  SELECT max(x.ival) FILTER (WHERE x.tag = " "277872643" ") AS fs, "
        "  max(x.ival) FILTER (WHERE x.tag = 276889603) AS verb, "
        "  max(x.ival) FILTER (WHERE x.tag = 236388355) AS ms, "
        "  (array_agg(x.bval) FILTER (WHERE x.tag = $8))[1] AS kw "
        "  FROM message_props x WHERE x.mailbox_id = m.mailbox_id "
        "  AND x.mid = m.mid AND x.tag IN (277872643, 276889603, 236388355, "
        "  $8)) p ON true "
        "WHERE m.mailbox_id = $1 AND m.fid = $2 AND NOT m.is_fai "
        "AND m.imap_uid BETWEEN $3 AND $4 AND m.cn > $5 "
        "ORDER BY m.imap_uid";
    static const char sql_folder[] =
        "SELECT f.imap_uidvalidity, f.imap_uidnext, f.content_count, "
        "greatest((SELECT max(cn) FROM changes c WHERE c.mailbox_id = $1 "
        "  AND c.fid = $2), (SELECT max(cn) FROM messages m "
        "  WHERE m.mailbox_id = $1 AND m.fid = $2), 0) "
        "FROM folders f WHERE f.mailbox_id = $1 AND f.fid = $2";
    int64_t fid, first = 1, last = 4294967295LL, since = 0;
    char a[24], f[24], lo[24], hi[24], cn[24], me[24], kw[16];
    const char *params[8] = { a, f, lo, hi, cn, NULL, me, kw };
    sd_user user;
    mbx m;
    xc_status st;
    PGresult *res, *fol;
    xc_wbuf *w;

    if (sd_open_store(db, req, rp, &user, &m) < 0 ||
        sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0 ||
        sd_need_rights(db, rp, &m, fid, XW_RIGHT_READ_ANY, "listing a "
                       "folder's messages needs ReadAny", NULL) < 0)
        return;
    (void)sd_arg_i8(req, XW_TAG_UID_FIRST, &first);
    (void)sd_arg_i8(req, XW_TAG_UID_LAST, &last);
    (void)sd_arg_i8(req, XW_TAG_CN, &since);
    if (first < 1 || last > 4294967295LL || first > last || since < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "UID_FIRST <= UID_LAST within "
                        "1 .. 2^32 - 1, CN >= 0");
        return;
    }
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(f, sizeof(f), "%" PRId64, fid);
    snprintf(lo, sizeof(lo), "%" PRId64, first);
    snprintf(hi, sizeof(hi), "%" PRId64, last);
    snprintf(cn, sizeof(cn), "%" PRId64, since);
    snprintf(me, sizeof(me), "%" PRId64, m.me);
    snprintf(kw, sizeof(kw), "%" PRId32, keywords_tag(db, m.id));
    params[5] = m.is_public ? "t" : "f";
    if ((fol = sd_db_exec(db, sql_folder, 2, params, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    if (PQntuples(fol) != 1) {
        PQclear(fol);
        sd_reply_status(rp, XC_E_NOTFOUND, "no such folder");
        return;
    }
    if ((res = sd_db_exec(db, sql_rows, 8, params, &st)) == NULL) {
        PQclear(fol);
        sd_reply_status(rp, st, NULL);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        w = sd_reply_begin_row(rp);
        xc_put_i8(w, XW_TAG_UID, strtoll(PQgetvalue(res, i, 0), NULL, 10));
        xc_put_i8(w, PR_MID, (int64_t)xc_make_id(m.replid,
                  (uint64_t)strtoll(PQgetvalue(res, i, 1), NULL, 10)));
        xc_put_i8(w, XW_TAG_CN, strtoll(PQgetvalue(res, i, 2), NULL, 10));
        xc_put_long(w, XW_TAG_IMAP_FLAGS, flags_of(res, i));
        xc_put_i8(w, PR_MESSAGE_DELIVERY_TIME,
                  sd_filetime_of_epoch(strtod(PQgetvalue(res, i, 4), NULL)));
        if (!PQgetisnull(res, i, 5))
            xc_put_i8(w, XW_TAG_SIZE, strtoll(PQgetvalue(res, i, 5), NULL,
                                              10));
        if (!PQgetisnull(res, i, 9)) {
            size_t kl = 0;
            unsigned char *k = PQunescapeBytea(
                (const unsigned char *)PQgetvalue(res, i, 9), &kl);
            /* stored in the wire encoding of its type: count, values */
            if (k != NULL && kl >= 4) {
                xc_put_u32(w, XW_TAG_KEYWORDS);
                xc_put_bytes(w, k, kl);
            }
            PQfreemem(k);
        }
        if (sd_reply_row(rp, w) < 0) {
            PQclear(res);
            PQclear(fol);
            return;
        }
    }
    PQclear(res);
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    xc_put_i8(w, XW_TAG_UIDVALIDITY, strtoll(PQgetvalue(fol, 0, 0), NULL, 10));
    xc_put_i8(w, XW_TAG_UIDNEXT, strtoll(PQgetvalue(fol, 0, 1), NULL, 10));
    xc_put_long(w, XW_TAG_TOTAL, atoi(PQgetvalue(fol, 0, 2)));
    xc_put_i8(w, XW_TAG_CN, strtoll(PQgetvalue(fol, 0, 3), NULL, 10));
    PQclear(fol);
}
