/*
 * NAME
 *   sd_perm - folder permissions ([MS-OXCPERM])
 *
 * DESCRIPTION
 *   Who may do what in a mailbox that isn't theirs (lib/xc_wire.h lists
 *   which operation needs which right): the rights of the user's own row
 *   in folder_permissions (sql/008), else the folder's Default row, else
 *   none. The owner's requests never query this table. GET_PERMISSIONS
 *   and SET_PERMISSIONS (ops 34, 35) read and change a folder's rows, as
 *   RopGetPermissionsTable and RopModifyPermissions ([MS-OXCPERM] 2.2.2,
 *   2.2.5) do.
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHANGES 256         /* members one SET_PERMISSIONS changes */

int sd_open_store(sd_db *db, sd_req *req, sd_reply *rp, sd_user *me, mbx *m)
{
    /* another's mailbox or the public store (sql/014): reachable with a
       right in some folder; the public store's administrators have them
       all, as an owner */
    static const char sql[] =
        "SELECT x.replica_id, a.admin, x.kind = 'public' FROM mailboxes x, "
        "LATERAL (SELECT x.kind = 'public' AND EXISTS (SELECT 1 FROM "
        "  public_admins WHERE user_id = $2) AS admin) a "
        "WHERE x.id = $1 AND (a.admin OR EXISTS ("
        "  SELECT 1 FROM folder_permissions WHERE mailbox_id = $1 "
        "  AND member_id IN ($2, 0) AND rights <> 0))";
    char a[24], b[24];
    const char *params[2] = { a, b };
    int64_t id;
    xc_status st;
    PGresult *res;

    if (sd_need_session(req, rp, me) < 0)
        return -1;
    if (sd_arg_i8(req, XW_TAG_MAILBOX_ID, &id) < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "mailbox id required");
        return -1;
    }
    memset(m, 0, sizeof(*m));
    m->id = id;
    m->me = me->user_id;
    if (id == me->mailbox_id) {
        m->replid = me->replica_id;
        m->owner = 1;
        return 0;
    }
    snprintf(a, sizeof(a), "%" PRId64, id);
    snprintf(b, sizeof(b), "%" PRId64, me->user_id);
    if ((res = sd_db_exec(db, sql, 2, params, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return -1;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        sd_reply_status(rp, XC_E_NOTFOUND, "no such mailbox");
        return -1;
    }
    m->replid = (uint16_t)atoi(PQgetvalue(res, 0, 0));
    m->owner = PQgetvalue(res, 0, 1)[0] == 't';
    m->is_public = PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    return 0;
}

xc_status sd_rights(sd_db *db, mbx *m, int64_t fid, uint32_t *rights)
{
    static const char sql[] =
        "SELECT rights FROM folder_permissions WHERE mailbox_id = $1 "
        "AND fid = $2 AND member_id IN ($3, 0) ORDER BY member_id DESC "
        "LIMIT 1";
    char a[24], b[24], c[24];
    const char *params[3] = { a, b, c };
    xc_status st;
    PGresult *res;

    if (m->owner) {
        *rights = XW_RIGHTS_ALL;
        return XC_OK;
    }
    if (fid == m->rights_fid) {     /* messages of one folder, asked again */
        *rights = m->rights;
        return XC_OK;
    }
    snprintf(a, sizeof(a), "%" PRId64, m->id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    snprintf(c, sizeof(c), "%" PRId64, m->me);
    if ((res = sd_db_exec(db, sql, 3, params, &st)) == NULL)
        return st;
    *rights = PQntuples(res) == 1
                  ? (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    /* FolderOwner carries every other right over the folder's contents */
    if (*rights & XW_RIGHT_FOLDER_OWNER)
        *rights |= XW_RIGHT_READ_ANY | XW_RIGHT_CREATE | XW_RIGHT_EDIT_ANY |
                   XW_RIGHT_DELETE_ANY | XW_RIGHT_CREATE_SUBFOLDER |
                   XW_RIGHT_FOLDER_VISIBLE;
    m->rights_fid = fid;
    m->rights = *rights;
    return XC_OK;
}

int sd_need_rights(sd_db *db, sd_reply *rp, mbx *m, int64_t fid,
                   uint32_t any, const char *what, uint32_t *have_r)
{
    uint32_t have = 0;
    xc_status st;
    char msg[128];

    if ((st = sd_rights(db, m, fid, &have)) != XC_OK) {
        sd_reply_status(rp, st, NULL);
        return -1;
    }
    if (have_r != NULL)
        *have_r = have;
    if (have & any)
        return 0;
    snprintf(msg, sizeof(msg), "access denied: %s", what);
    sd_reply_status(rp, XC_E_PERM, msg);
    return -1;
}

int sd_may_change(uint32_t rights, const mbx *m, int64_t creator_id, int edit)
{
    uint32_t any = edit ? XW_RIGHT_EDIT_ANY : XW_RIGHT_DELETE_ANY;
    uint32_t own = edit ? XW_RIGHT_EDIT_OWNED : XW_RIGHT_DELETE_OWNED;

    if (m->owner || (rights & any))
        return 1;
    return (rights & own) && creator_id == m->me;
}

/* The folder argument of a permissions op: its global counter, after
   checking the session may at least see it. */
static int perm_folder(sd_db *db, sd_req *req, sd_reply *rp, sd_user *me,
                       mbx *m, int64_t *fid, uint32_t need, const char *what)
{
    xc_status st;

    if (sd_open_store(db, req, rp, me, m) < 0 ||
        sd_id_arg(req, rp, PR_FID, "folder", m, fid) < 0)
        return -1;
    if ((st = sd_folder_exists(db, m->id, (uint64_t)*fid)) != XC_OK) {
        sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such folder" : NULL);
        return -1;
    }
    return sd_need_rights(db, rp, m, *fid, need, what, NULL);
}

void sd_perm_get(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "SELECT 0::bigint, 'Default', NULL, coalesce((SELECT rights FROM "
        "  folder_permissions WHERE mailbox_id = $1 AND fid = $2 "
        "  AND member_id = 0), 0) "
        "UNION ALL "
        "SELECT fp.member_id, CASE WHEN fp.member_id = -1 THEN 'Anonymous' "
        "  ELSE u.display_name END, a.address, fp.rights "
        "FROM folder_permissions fp "
        "LEFT JOIN users u ON u.id = fp.member_id "
        "LEFT JOIN addresses a ON a.user_id = u.id AND a.is_primary "
        "WHERE fp.mailbox_id = $1 AND fp.fid = $2 AND fp.member_id <> 0 "
        "ORDER BY 1";
    char a[24], b[24];
    const char *params[2] = { a, b };
    int64_t fid;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res;

    if (perm_folder(db, req, rp, &me, &m, &fid, XW_RIGHT_FOLDER_VISIBLE,
                    "the folder is not visible to you") < 0)
        return;
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    if ((res = sd_db_exec(db, sql, 2, params, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        xc_wbuf *w = sd_reply_begin_row(rp);
        xc_put_i8(w, PR_MEMBER_ID, strtoll(PQgetvalue(res, i, 0), NULL, 10));
        xc_put_str(w, PR_MEMBER_NAME, PQgetvalue(res, i, 1));
        if (!PQgetisnull(res, i, 2))
            xc_put_str(w, PR_SMTP_ADDRESS, PQgetvalue(res, i, 2));
        xc_put_long(w, PR_MEMBER_RIGHTS, atoi(PQgetvalue(res, i, 3)));
        if (sd_reply_row(rp, w) < 0)
            break;
    }
    PQclear(res);
    sd_reply_status(rp, XC_OK, NULL);
}

void sd_perm_set(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql_user[] =
        "SELECT a.user_id FROM addresses a JOIN users u ON u.id = a.user_id "
        "WHERE a.address = $1";
    static const char sql_put[] =
        "INSERT INTO folder_permissions (mailbox_id, fid, member_id, rights) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox_id, fid, member_id) "
        "DO UPDATE SET rights = excluded.rights";
    static const char sql_del[] =
        "DELETE FROM folder_permissions WHERE mailbox_id = $1 AND fid = $2 "
        "AND member_id = $3";
    char a[24], b[24], c[24], d[16], addr[321], msg[400];
    const char *params[4] = { a, b, c, d };
    int64_t fid, owner_user = -1;
    int changes = 0;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res;

    if (perm_folder(db, req, rp, &me, &m, &fid, XW_RIGHT_FOLDER_OWNER,
                    "changing permissions needs FolderOwner") < 0)
        return;
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    {
        static const char sql_owner[] =
            "SELECT user_id FROM mailboxes WHERE id = $1";
        const char *op[1] = { a };
        if ((res = sd_db_exec(db, sql_owner, 1, op, &st)) == NULL) {
            sd_reply_status(rp, st, NULL);
            return;
        }
        if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
            owner_user = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    if ((st = sd_db_begin(db)) != XC_OK)
        goto fail;
    for (size_t i = 0; i < req->nargs; i++) {
        const xc_propval *r;
        int64_t member;

        if (req->args[i].tag != XW_TAG_ADDRESS)
            continue;
        r = i + 1 < req->nargs && req->args[i + 1].tag == PR_MEMBER_RIGHTS
                ? &req->args[i + 1] : NULL;
        if (r == NULL || req->args[i].v.bin.n == 0 ||
            req->args[i].v.bin.n >= sizeof(addr) || ++changes > MAX_CHANGES ||
            (r->v.i32 < -1 || (r->v.i32 >= 0 &&
                               ((uint32_t)r->v.i32 & ~XW_RIGHTS_ALL)))) {
            sd_db_rollback(db);
            sd_reply_status(rp, XC_E_BADREQ, "each change is ADDRESS, then "
                            "PR_MEMBER_RIGHTS (rights bits, or -1 to remove)");
            return;
        }
        for (uint32_t k = 0; k < req->args[i].v.bin.n; k++)
            addr[k] = (char)tolower(req->args[i].v.bin.p[k]);
        addr[req->args[i].v.bin.n] = '\0';
        if (strcmp(addr, "default") == 0) {
            member = 0;
        } else if (strcmp(addr, "anonymous") == 0) {
            member = -1;
        } else {
            const char *up[1] = { addr };
            if ((res = sd_db_exec(db, sql_user, 1, up, &st)) == NULL)
                goto fail;
            member = PQntuples(res) == 1
                         ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -2;
            PQclear(res);
            if (member == -2) {
                sd_db_rollback(db);
                snprintf(msg, sizeof(msg), "no such user: %s", addr);
                sd_reply_status(rp, XC_E_NOTFOUND, msg);
                return;
            }
            if (member == owner_user) {
                sd_db_rollback(db);
                sd_reply_status(rp, XC_E_BADREQ, "the mailbox's owner has "
                                "every right already");
                return;
            }
        }
        snprintf(c, sizeof(c), "%" PRId64, member);
        snprintf(d, sizeof(d), "%d", r->v.i32);
        res = sd_db_exec(db, r->v.i32 < 0 ? sql_del : sql_put,
                         r->v.i32 < 0 ? 3 : 4, params, &st);
        if (res == NULL)
            goto fail;
        PQclear(res);
        i++;
    }
    /* permissions are not folder content: no change number (a sync of
       the hierarchy doesn't carry them) */
    if ((st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_status(rp, XC_OK, NULL);
    return;
fail:
    sd_db_rollback(db);
    sd_reply_status(rp, st, NULL);
}
