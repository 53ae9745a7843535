/*
 * NAME
 *   sd_folder - deleting, moving, copying and emptying folders; folder
 *   properties
 *
 * DESCRIPTION
 *   The folder operations of lib/xc_wire.h (ops 20..23, 28, and SET_PROPS /
 *   DELETE_PROPS on a folder) over sql/002_store.sql and sql/005:
 *   RopDeleteFolder, RopMoveFolder, RopCopyFolder and RopEmptyFolder of
 *   [MS-OXCFOLD] 2.2.1.3, 2.2.1.7-2.2.1.9 (server behaviour 3.2.5.3,
 *   3.2.5.7-3.2.5.9), and RopSetProperties / RopDeleteProperties of
 *   [MS-OXCPRPT] 2.2.5, 2.2.7 on Folder objects.
 *
 *   The rules of sd_store.c hold: one transaction that takes the mailbox
 *   row first; each folder or message changed gets its own change number
 *   and change-log row; deleted ones leave a tombstone (folders in
 *   folder_tombstones, sql/005), so sync clients learn of them; counts and
 *   used_bytes change with the rows. Statements of one operation go in one
 *   libpq pipeline, so a tree of thousands of messages costs a few round
 *   trips, not thousands.
 *
 *   A folder's display name and container class live in folders' columns
 *   (the folder list reads them); its other properties in folder_props.
 *   Special folders ([MS-OXOSFLD], folders.special) can't be deleted,
 *   moved or renamed.
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"
#include "xc_restrict.h"
#include "xc_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TREE 10000          /* folders one operation may touch */
#define SPECIAL_ROOT 1
#define SPECIAL_PUBLIC_ROOT 101     /* the public store's (sql/014) */

/* A folder and its descendants, parents before children. */
typedef struct tree {
    PGresult *res;
    uint64_t *fid;
    int64_t *parent;            /* -1: none (the root) */
    int *special;               /* 0: an ordinary folder */
    size_t n;
} tree;

static const char sql_subtree[] =
    "WITH RECURSIVE t AS ("
    "  SELECT fid, parent_fid, special, 0 AS depth FROM folders "
    "  WHERE mailbox_id = $1 AND fid = $2 "
    "  UNION ALL "
    "  SELECT f.fid, f.parent_fid, f.special, t.depth + 1 FROM folders f "
    "  JOIN t ON f.mailbox_id = $1 AND f.parent_fid = t.fid "
    "  WHERE $3) "
    "SELECT fid, coalesce(parent_fid, -1), coalesce(special, 0) FROM t "
    "ORDER BY depth, fid LIMIT $4";
static const char sql_ftomb[] =
    "INSERT INTO folder_tombstones (mailbox_id, fid, parent_fid, cn) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox_id, fid) DO UPDATE "
    "SET parent_fid = excluded.parent_fid, cn = excluded.cn, "
    "deleted_at = now()";
static const char sql_fdel[] =
    "DELETE FROM folders WHERE mailbox_id = $1 AND fid = $2";
/* A folder's copy under a new id and parent, its stored properties, and
   one more reference to each blob they use. */
static const char sql_fcopy[] =
    "WITH f AS (INSERT INTO folders (mailbox_id, fid, parent_fid, "
    "  display_name, container_class, folder_type, cn, change_key, pcl) "
    "  SELECT mailbox_id, $3, $4, coalesce($5, display_name), "
    "  container_class, CASE WHEN folder_type = 0 THEN 1 ELSE folder_type END, "
    "  $6, $7, $8 FROM folders WHERE mailbox_id = $1 AND fid = $2), "
    "p AS (INSERT INTO folder_props (mailbox_id, fid, tag, ival, fval, tval, "
    "  bval, blob) SELECT mailbox_id, $3, tag, ival, fval, tval, bval, blob "
    "  FROM folder_props WHERE mailbox_id = $1 AND fid = $2 RETURNING blob) "
    "UPDATE blobs b SET refcount = b.refcount + x.n "
    "FROM (SELECT blob, count(*) AS n FROM p WHERE blob IS NOT NULL "
    "  GROUP BY blob) x WHERE b.hash = x.blob";
static const char sql_fdel_props[] =
    "DELETE FROM folder_props WHERE mailbox_id = $1 AND fid = $2 "
    "AND ((tag >> 16) & 65535) = ANY ($3::int[])";
static const char sql_fset[] =
    "UPDATE folders SET cn = $3, change_key = $4, pcl = $5, "
    "display_name = coalesce($6, display_name), "
    "container_class = CASE WHEN $7::boolean THEN $8 ELSE container_class END "
    "WHERE mailbox_id = $1 AND fid = $2";

/* The tree under fid (just fid unless whole). */
static xc_status tree_of(sd_db *db, int64_t mailbox, uint64_t fid, int whole,
                         tree *t)
{
    char a[24], b[24], lim[16];
    const char *params[4] = { a, b, whole ? "t" : "f", lim };
    xc_status st;

    memset(t, 0, sizeof(*t));
    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, fid);
    snprintf(lim, sizeof(lim), "%d", MAX_TREE + 1);
    t->res = sd_db_exec(db, sql_subtree, 4, params, &st);
    if (t->res == NULL)
        return st;
    t->n = (size_t)PQntuples(t->res);
    if (t->n == 0)
        return XC_E_NOTFOUND;
    if (t->n > MAX_TREE)
        return XC_E_LIMIT;
    t->fid = calloc(t->n, sizeof(*t->fid));
    t->parent = calloc(t->n, sizeof(*t->parent));
    t->special = calloc(t->n, sizeof(*t->special));
    if (t->fid == NULL || t->parent == NULL || t->special == NULL)
        return XC_E_TEMP;
    for (size_t i = 0; i < t->n; i++) {
        t->fid[i] = (uint64_t)strtoll(PQgetvalue(t->res, (int)i, 0), NULL, 10);
        t->parent[i] = strtoll(PQgetvalue(t->res, (int)i, 1), NULL, 10);
        t->special[i] = atoi(PQgetvalue(t->res, (int)i, 2));
    }
    return XC_OK;
}

static void tree_free(tree *t)
{
    PQclear(t->res);
    free(t->fid);
    free(t->parent);
    free(t->special);
    memset(t, 0, sizeof(*t));
}

static int tree_has(const tree *t, uint64_t fid, size_t from)
{
    for (size_t i = from; i < t->n; i++)
        if (t->fid[i] == fid)
            return 1;
    return 0;
}

/*
 * Delete folders t->fid[from..n), deepest first (their messages must be
 * gone already): each a tombstone and a "delete" change (mid NULL) with a
 * change number from *cn on.
 */
static xc_status delete_folders(sd_db *db, const mbx *m, const tree *t,
                                size_t from, uint64_t *cn)
{
    char a[24], b[24], c[24], d[24];
    const char *p4[4] = { a, b, c, d };
    xc_status st;

    snprintf(a, sizeof(a), "%" PRId64, m->id);
    for (size_t i = t->n; i-- > from;) {
        snprintf(b, sizeof(b), "%" PRIu64, t->fid[i]);
        snprintf(c, sizeof(c), "%" PRId64, t->parent[i]);
        snprintf(d, sizeof(d), "%" PRIu64, *cn);
        p4[2] = t->parent[i] < 0 ? NULL : c;
        if ((st = sd_run(db, sql_ftomb, 4, p4, NULL, NULL)) != XC_OK ||
            (st = sd_run(db, sql_fdel, 2, p4, NULL, NULL)) != XC_OK ||
            (st = sd_log_change(db, m->id, *cn, "delete", t->fid[i], NULL,
                                0)) != XC_OK)
            return st;
        (*cn)++;
    }
    return XC_OK;
}

/* a new folder's permissions: its new parent's ([MS-OXCPERM]; as
   CREATE_FOLDER), and a delegate who made it owns it */
static const char sql_fperm_inherit[] =
    "INSERT INTO folder_permissions (mailbox_id, fid, member_id, rights) "
    "SELECT mailbox_id, $2, member_id, rights FROM folder_permissions "
    "WHERE mailbox_id = $1 AND fid = $3";
static const char sql_fperm_own[] =
    "INSERT INTO folder_permissions (mailbox_id, fid, member_id, rights) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox_id, fid, member_id) "
    "DO UPDATE SET rights = EXCLUDED.rights";

static const char *const folder_sqls[] = {
    sql_ftomb, sql_fdel, sql_fcopy, sql_fdel_props, sql_fset,
    sql_fperm_inherit, sql_fperm_own, NULL
};

/* Answer a failed folder operation (after rolling back). */
static void fail_reply(sd_db *db, sd_reply *rp, xc_status st,
                       const char *msg)
{
    sd_db_rollback(db);
    if (msg == NULL)
        msg = st == XC_E_NOTFOUND ? "no such folder"
            : st == XC_E_EXISTS ? "a folder of that name exists"
            : st == XC_E_NOQUOTA ? "mailbox quota exceeded"
            : st == XC_E_LIMIT ? "too many folders in one operation" : NULL;
    sd_reply_status(rp, st, msg);
}

/*
 * Someone else's store ([MS-OXCPERM]): whether the session holds right
 * in every folder fids[from..to); XC_OK, XC_E_PERM (*msg_r says what was
 * needed) or the query's failure. The owner holds them all.
 */
static xc_status need_in_each(sd_db *db, mbx *m, const uint64_t *fids,
                              size_t from, size_t to, uint32_t right,
                              const char *what, const char **msg_r)
{
    for (size_t i = from; i < to && !m->owner; i++) {
        uint32_t have = 0;
        xc_status st = sd_rights(db, m, (int64_t)fids[i], &have);

        if (st != XC_OK)
            return st;
        if (!(have & right)) {
            *msg_r = what;
            return XC_E_PERM;
        }
    }
    return XC_OK;
}

static void reply_done(sd_reply *rp, size_t total, uint64_t last_cn)
{
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL, (int32_t)total);
    xc_put_i8(sd_reply_final(rp), XW_TAG_CN, (int64_t)last_cn);
}

/*
 * RopDeleteFolder ([MS-OXCFOLD] 3.2.5.3). Without DEL_MESSAGES a folder
 * holding messages (or subfolders holding any), without DEL_FOLDERS one
 * with subfolders, is not deleted: XC_E_EXISTS "folder not empty", which
 * the ROP edge turns into ReturnValue 0 with PartialCompletion.
 */
void sd_folder_delete(sd_db *db, sd_req *req, sd_reply *rp)
{
    const xc_propval *v = xc_props_find(req->args, req->nargs,
                                        XW_TAG_FOLDER_FLAGS);
    uint32_t flags = v ? (uint32_t)v->v.i32 : 0;
    int64_t fid;
    uint64_t cn = 0;
    tree t = { 0 };
    sd_msgset msgs = { 0 };
    sd_user me;
    mbx m;
    xc_status st;
    const char *msg = NULL;

    if (sd_open_store(db, req, rp, &me, &m) < 0 ||
        sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0)
        return;
    if (flags & ~(uint32_t)(XW_DEL_MESSAGES | XW_DEL_FOLDERS |
                            XW_DELETE_HARD_DELETE)) {
        sd_reply_status(rp, XC_E_BADREQ, "FOLDER_FLAGS: only DEL_MESSAGES, "
                        "DEL_FOLDERS and DELETE_HARD_DELETE");
        return;
    }
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m.id)) != XC_OK ||
        (st = tree_of(db, m.id, (uint64_t)fid, 1, &t)) != XC_OK)
        goto fail;
    for (size_t i = 0; i < t.n; i++)
        if (t.special[i]) {
            st = XC_E_PERM;
            msg = i ? "a special folder is below it" : "a special folder "
                  "can't be deleted";
            goto fail;
        }
    /* a delegate deletes only folders they own, each of them */
    if ((st = need_in_each(db, &m, t.fid, 0, t.n, XW_RIGHT_FOLDER_OWNER,
                           "access denied: deleting a folder needs "
                           "FolderOwner on it and every folder below",
                           &msg)) != XC_OK)
        goto fail;
    if ((st = sd_msgs_in_folders(db, m.id, t.fid, t.n, 1, &msgs))
            != XC_OK)
        goto fail;
    if ((msgs.n > 0 && !(flags & XW_DEL_MESSAGES)) ||
        (t.n > 1 && !(flags & XW_DEL_FOLDERS))) {
        st = XC_E_EXISTS;
        msg = msgs.n > 0 && !(flags & XW_DEL_MESSAGES)
                  ? "folder not empty: it holds messages (DEL_MESSAGES)"
                  : "folder not empty: it has subfolders (DEL_FOLDERS)";
        goto fail;
    }
    if ((st = sd_take_ids(db, m.id, (int)(msgs.n + t.n), 0, &m, &cn,
                          NULL)) != XC_OK ||
        (st = sd_prepare_store(db, folder_sqls)) != XC_OK ||
        (st = sd_db_pipe_begin(db)) != XC_OK)
        goto fail;
    /* the folders go, and their counts with them */
    st = sd_delete_msgs(db, &m, msgs.v, msgs.n, &cn, NULL);
    if (st == XC_OK)
        st = delete_folders(db, &m, &t, 0, &cn);
    if ((st = sd_pipe_end(db, st)) != XC_OK ||
        (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    reply_done(rp, msgs.n + t.n, cn - 1);
    tree_free(&t);
    sd_msgset_free(&msgs);
    return;
fail:
    fail_reply(db, rp, st, msg);
    tree_free(&t);
    sd_msgset_free(&msgs);
}

/*
 * RopEmptyFolder ([MS-OXCFOLD] 3.2.5.9): the folder's messages (its
 * associated ones only if asked) and all its subfolders with everything
 * in them; the folder stays.
 */
void sd_folder_empty(sd_db *db, sd_req *req, sd_reply *rp)
{
    const xc_propval *v = xc_props_find(req->args, req->nargs, XW_TAG_FAI);
    int fai = v != NULL && v->v.b;
    int64_t fid;
    uint64_t cn = 0;
    tree t = { 0 };
    sd_msgset own = { 0 }, below = { 0 };
    sd_counts counts = { 0 };
    sd_user me;
    mbx m;
    xc_status st;
    const char *msg = NULL;

    if (sd_open_store(db, req, rp, &me, &m) < 0 ||
        sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0)
        return;
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m.id)) != XC_OK ||
        (st = tree_of(db, m.id, (uint64_t)fid, 1, &t)) != XC_OK)
        goto fail;
    for (size_t i = 0; i < t.n; i++)
        if (t.special[i] == SPECIAL_ROOT ||
            t.special[i] == SPECIAL_PUBLIC_ROOT || (i > 0 && t.special[i])) {
            st = XC_E_PERM;
            msg = i ? "a special folder is below it"
                    : "the root folder can't be emptied";
            goto fail;
        }
    if ((st = need_in_each(db, &m, t.fid, 0, 1, XW_RIGHT_DELETE_ANY,
                           "access denied: emptying a folder needs "
                           "DeleteAny", &msg)) != XC_OK ||
        (st = need_in_each(db, &m, t.fid, 1, t.n, XW_RIGHT_FOLDER_OWNER,
                           "access denied: emptying a folder deletes its "
                           "subfolders: FolderOwner on each", &msg)) != XC_OK)
        goto fail;
    if ((st = sd_msgs_in_folders(db, m.id, t.fid, 1, fai, &own)) !=
            XC_OK ||
        (t.n > 1 && (st = sd_msgs_in_folders(db, m.id, t.fid + 1,
                                             t.n - 1, 1, &below)) != XC_OK))
        goto fail;
    if (own.n + below.n + t.n - 1 == 0) {
        sd_db_rollback(db);
        reply_done(rp, 0, 0);
        tree_free(&t);
        return;
    }
    if ((st = sd_take_ids(db, m.id, (int)(own.n + below.n + t.n - 1),
                          0, &m, &cn, NULL)) != XC_OK ||
        (st = sd_prepare_store(db, folder_sqls)) != XC_OK ||
        (st = sd_db_pipe_begin(db)) != XC_OK)
        goto fail;
    st = sd_delete_msgs(db, &m, own.v, own.n, &cn, &counts);
    if (st == XC_OK)
        st = sd_delete_msgs(db, &m, below.v, below.n, &cn, NULL);
    if (st == XC_OK)
        st = delete_folders(db, &m, &t, 1, &cn);
    if (st == XC_OK)
        st = sd_counts_apply(db, m.id, &counts);
    if ((st = sd_pipe_end(db, st)) != XC_OK ||
        (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    reply_done(rp, own.n + below.n + t.n - 1, cn - 1);
    tree_free(&t);
    sd_msgset_free(&own);
    sd_msgset_free(&below);
    sd_counts_free(&counts);
    return;
fail:
    fail_reply(db, rp, st, msg);
    tree_free(&t);
    sd_msgset_free(&own);
    sd_msgset_free(&below);
    sd_counts_free(&counts);
}

/* A folder's parent, special number and PCL (PQunescapeBytea'd into pcl,
   *pcllen 0 if none). */
static xc_status folder_row(sd_db *db, int64_t mailbox, uint64_t fid,
                            int64_t *parent, int *special, uint8_t *pcl,
                            size_t *pcllen)
{
    static const char sql[] =
        "SELECT coalesce(parent_fid, -1), coalesce(special, 0), pcl "
        "FROM folders WHERE mailbox_id = $1 AND fid = $2";
    char a[24], b[24];
    const char *params[2] = { a, b };
    xc_status st;
    PGresult *res;

    snprintf(a, sizeof(a), "%" PRId64, mailbox);
    snprintf(b, sizeof(b), "%" PRIu64, fid);
    res = sd_db_exec(db, sql, 2, params, &st);
    if (res == NULL)
        return st;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return XC_E_NOTFOUND;
    }
    *parent = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *special = atoi(PQgetvalue(res, 0, 1));
    *pcllen = 0;
    if (!PQgetisnull(res, 0, 2)) {
        size_t ol = 0;
        unsigned char *old = PQunescapeBytea(
            (const unsigned char *)PQgetvalue(res, 0, 2), &ol);
        if (old != NULL && ol <= XC_PCL_MAX) {
            memcpy(pcl, old, ol);
            *pcllen = ol;
        }
        PQfreemem(old);
    }
    PQclear(res);
    return XC_OK;
}

/* The change key of change cn and the PCL with it merged in (pcl holds
   the old one, *pcllen its length; both updated). */
static void new_change(const mbx *m, uint64_t cn, uint8_t xid[XC_XID_LEN],
                       uint8_t *pcl, size_t *pcllen)
{
    uint8_t out[XC_PCL_MAX];
    int n;

    xc_xid(xid, m->guid, cn);
    n = xc_pcl_merge(pcl, *pcllen, xid, XC_XID_LEN, out, sizeof(out));
    if (n < 0)      /* a damaged PCL restarts from this change */
        n = xc_pcl_merge(NULL, 0, xid, XC_XID_LEN, out, sizeof(out));
    memcpy(pcl, out, (size_t)n);
    *pcllen = (size_t)n;
}

/* The arguments of a move or copy: PR_FID, PR_PARENT_FID and an optional
   new name (1 to 255 bytes); -1 after answering BADREQ / NOTFOUND. */
static int target_args(sd_req *req, sd_reply *rp, const mbx *m,
                       int64_t *fid, int64_t *dest, char name[256],
                       int *has_name)
{
    if (sd_id_arg(req, rp, PR_FID, "folder", m, fid) < 0 ||
        sd_id_arg(req, rp, PR_PARENT_FID, "parent folder", m, dest) < 0)
        return -1;
    *has_name = sd_arg_str(req, PR_DISPLAY_NAME, name, 256) == 0;
    if ((*has_name && name[0] == '\0') ||
        (!*has_name && xc_props_find(req->args, req->nargs, PR_DISPLAY_NAME))) {
        sd_reply_status(rp, XC_E_BADREQ, "a name is 1 to 255 bytes");
        return -1;
    }
    return 0;
}

/*
 * RopMoveFolder ([MS-OXCFOLD] 3.2.5.7): a new parent (and name); the
 * folder keeps its FID, and its subtree comes along untouched.
 */
void sd_folder_move(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "UPDATE folders SET parent_fid = $3, "
        "display_name = coalesce($4, display_name), cn = $5, "
        "change_key = $6, pcl = $7 WHERE mailbox_id = $1 AND fid = $2";
    char a[24], b[24], c[24], e[24], name[256];
    const char *params[7] = { a, b, c, NULL, e, NULL, NULL };
    int len[7] = { 0 }, fmt[7] = { 0, 0, 0, 0, 0, 1, 1 };
    uint8_t xid[XC_XID_LEN], pcl[XC_PCL_MAX];
    size_t pcllen;
    int64_t fid, dest, parent;
    int special, has_name;
    uint64_t cn;
    tree t = { 0 };
    sd_user me;
    mbx m;
    xc_status st;
    const char *msg = NULL;
    PGresult *res;

    if (sd_open_store(db, req, rp, &me, &m) < 0 ||
        target_args(req, rp, &m, &fid, &dest, name, &has_name) < 0)
        return;
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m.id)) != XC_OK ||
        (st = folder_row(db, m.id, (uint64_t)fid, &parent, &special,
                         pcl, &pcllen)) != XC_OK)
        goto fail;
    if (special) {
        st = XC_E_PERM;
        msg = "a special folder can't be moved";
        goto fail;
    }
    if ((st = sd_folder_exists(db, m.id, (uint64_t)dest)) != XC_OK) {
        msg = "no such parent folder";
        goto fail;
    }
    if ((st = tree_of(db, m.id, (uint64_t)fid, 1, &t)) != XC_OK)
        goto fail;
    if (tree_has(&t, (uint64_t)dest, 0)) {
        st = XC_E_BADREQ;
        msg = "a folder can't move under itself";
        goto fail;
    }
    {
        const uint64_t udest = (uint64_t)dest;
        if ((st = need_in_each(db, &m, t.fid, 0, 1, XW_RIGHT_FOLDER_OWNER,
                               "access denied: moving a folder needs "
                               "FolderOwner on it", &msg)) != XC_OK ||
            (st = need_in_each(db, &m, &udest, 0, 1,
                               XW_RIGHT_CREATE_SUBFOLDER, "access denied: "
                               "moving a folder needs CreateSubFolder in "
                               "the new parent", &msg)) != XC_OK)
            goto fail;
    }
    if ((st = sd_take_ids(db, m.id, 1, 0, &m, &cn, NULL)) != XC_OK)
        goto fail;
    new_change(&m, cn, xid, pcl, &pcllen);
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    snprintf(c, sizeof(c), "%" PRId64, dest);
    snprintf(e, sizeof(e), "%" PRIu64, cn);
    params[3] = has_name ? name : NULL;
    params[5] = (const char *)xid;
    len[5] = sizeof(xid);
    params[6] = (const char *)pcl;
    len[6] = (int)pcllen;
    res = sd_db_execv(db, sql, 7, params, len, fmt, 0, &st);
    if (res == NULL)
        goto fail;
    PQclear(res);
    if ((st = sd_log_change(db, m.id, cn, "move", (uint64_t)fid,
                            NULL, 0)) != XC_OK ||
        (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    tree_free(&t);
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_i8(sd_reply_final(rp), XW_TAG_CN, (int64_t)cn);
    xc_put_bin(sd_reply_final(rp), PR_CHANGE_KEY, xid, sizeof(xid));
    return;
fail:
    tree_free(&t);
    fail_reply(db, rp, st, msg);
}

/*
 * RopCopyFolder ([MS-OXCFOLD] 2.2.1.8): the folder (with WantRecursive its
 * whole subtree) under a new parent, every folder and message with a new
 * id, a "create" change each, parents before children.
 */
void sd_folder_copy(sd_db *db, sd_req *req, sd_reply *rp)
{
    const xc_propval *v = xc_props_find(req->args, req->nargs,
                                        XW_TAG_RECURSIVE);
    int recursive = v != NULL && v->v.b, has_name;
    char a[24], b[24], c[24], d[24], e[24], name[256];
    const char *params[8] = { a, b, c, d, NULL, e, NULL, NULL };
    int len[8] = { 0 }, fmt[8] = { 0, 0, 0, 0, 0, 0, 1, 1 };
    uint8_t xid[XC_XID_LEN], pcl[XC_XID_LEN + 1];
    int64_t fid, dest, bytes = 0;
    uint64_t cn = 0, gc = 0;
    size_t total = 0;
    tree t = { 0 };
    sd_msgset msgs = { 0 };
    sd_counts counts = { 0 };
    sd_user me;
    mbx m;
    xc_status st;
    const char *msg = NULL;

    if (sd_open_store(db, req, rp, &me, &m) < 0 ||
        target_args(req, rp, &m, &fid, &dest, name, &has_name) < 0)
        return;
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m.id)) != XC_OK ||
        (st = tree_of(db, m.id, (uint64_t)fid, recursive, &t)) !=
            XC_OK)
        goto fail;
    if (t.special[0] == SPECIAL_ROOT || t.special[0] == SPECIAL_PUBLIC_ROOT) {
        st = XC_E_PERM;
        msg = "the root folder can't be copied";
        goto fail;
    }
    {
        const uint64_t udest = (uint64_t)dest;
        if ((st = need_in_each(db, &m, t.fid, 0, t.n, XW_RIGHT_READ_ANY,
                               "access denied: copying a folder needs "
                               "ReadAny in it and every folder copied",
                               &msg)) != XC_OK ||
            (st = need_in_each(db, &m, &udest, 0, 1,
                               XW_RIGHT_CREATE_SUBFOLDER, "access denied: "
                               "copying a folder needs CreateSubFolder in "
                               "the destination", &msg)) != XC_OK)
            goto fail;
    }
    if ((st = sd_folder_exists(db, m.id, (uint64_t)dest)) != XC_OK) {
        msg = "no such parent folder";
        goto fail;
    }
    if (recursive && tree_has(&t, (uint64_t)dest, 0)) {
        st = XC_E_BADREQ;
        msg = "a folder can't be copied into itself recursively";
        goto fail;
    }
    if ((st = sd_msgs_in_folders(db, m.id, t.fid, t.n, 1, &msgs)) !=
            XC_OK)
        goto fail;
    for (size_t i = 0; i < msgs.n; i++)
        bytes += msgs.v[i].size;
    total = t.n + msgs.n;
    if ((st = sd_take_ids(db, m.id, (int)total, (int)total, &m, &cn,
                          &gc)) != XC_OK)
        goto fail;
    if (sd_over_quota(&m, bytes)) {
        st = XC_E_NOQUOTA;
        goto fail;
    }
    if ((st = sd_prepare_store(db, folder_sqls)) != XC_OK ||
        (st = sd_db_pipe_begin(db)) != XC_OK)
        goto fail;
    /* folder i becomes gc + i, message j gc + t.n + j */
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    for (size_t i = 0; i < t.n && st == XC_OK; i++) {
        uint64_t copy = gc + i, parent = (uint64_t)dest;
        for (size_t k = 0; k < i; k++)
            if ((int64_t)t.fid[k] == t.parent[i])
                parent = gc + k;
        snprintf(b, sizeof(b), "%" PRIu64, t.fid[i]);
        snprintf(c, sizeof(c), "%" PRIu64, copy);
        snprintf(d, sizeof(d), "%" PRIu64, parent);
        snprintf(e, sizeof(e), "%" PRIu64, cn);
        params[4] = i == 0 && has_name ? name : NULL;
        xc_xid(xid, m.guid, cn);
        params[6] = (const char *)xid;
        len[6] = sizeof(xid);
        params[7] = (const char *)pcl;
        len[7] = xc_pcl_merge(NULL, 0, xid, sizeof(xid), pcl, sizeof(pcl));
        st = sd_run(db, sql_fcopy, 8, params, len, fmt);
        if (st == XC_OK) {
            const char *pp[3] = { a, c, d };
            st = sd_run(db, sql_fperm_inherit, 3, pp, NULL, NULL);
        }
        if (st == XC_OK && !m.owner) {
            char u[24], r[16];
            const char *op[4] = { a, c, u, r };
            snprintf(u, sizeof(u), "%" PRId64, m.me);
            snprintf(r, sizeof(r), "%u", XW_RIGHTS_ALL);
            st = sd_run(db, sql_fperm_own, 4, op, NULL, NULL);
        }
        if (st == XC_OK)
            st = sd_log_change(db, m.id, cn, "create", copy, NULL, 0);
        cn++;
    }
    for (size_t j = 0; j < msgs.n && st == XC_OK; j++) {
        const sd_msg *x = &msgs.v[j];
        uint64_t into = 0;
        for (size_t k = 0; k < t.n; k++)
            if (t.fid[k] == x->fid)
                into = gc + k;
        st = sd_copy_msg(db, &m, x, gc + t.n + j, into, cn++);
        if (st == XC_OK &&
            sd_counts_add(&counts, into, x->fai, 1, x->read ? 0 : 1) < 0)
            st = XC_E_TEMP;
    }
    if (st == XC_OK)
        st = sd_counts_apply(db, m.id, &counts);
    if (st == XC_OK)
        st = sd_use_bytes(db, &m, bytes);
    if ((st = sd_pipe_end(db, st)) != XC_OK ||
        (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_i8(sd_reply_final(rp), PR_FID, (int64_t)xc_make_id(m.replid, gc));
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL, (int32_t)total);
    xc_put_i8(sd_reply_final(rp), XW_TAG_CN, (int64_t)cn - 1);
    tree_free(&t);
    sd_msgset_free(&msgs);
    sd_counts_free(&counts);
    return;
fail:
    fail_reply(db, rp, st, msg);
    tree_free(&t);
    sd_msgset_free(&msgs);
    sd_counts_free(&counts);
}

/* A folder's properties: computed ones first, then the stored ones, between
   START_MESSAGE and END_MESSAGE as a message's are. */
void sd_folder_get(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql_row[] =
        "SELECT coalesce(f.parent_fid, -1), f.display_name, "
        "f.container_class, f.folder_type, coalesce(f.special, 0), "
        "f.content_count, " UNREAD_OF("f", "$3", "$4") ", f.assoc_count, "
        "EXISTS (SELECT 1 FROM folders c WHERE c.mailbox_id = f.mailbox_id "
        "        AND c.parent_fid = f.fid), "
        "f.cn, f.change_key, f.pcl, extract(epoch FROM f.created_at)::float8 "
        "FROM folders f WHERE f.mailbox_id = $1 AND f.fid = $2";
    static const char sql_props[] =
        "SELECT " VALUE_COLS " FROM folder_props p "
        "LEFT JOIN blobs b ON b.hash = p.blob "
        "WHERE p.mailbox_id = $1 AND p.fid = $2 ORDER BY p.tag";
    char a[24], b[24], c[24];
    const char *params[4] = { a, b, c, NULL };
    const int fmt[2] = { 0, 0 };
    int64_t fid;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res, *props = NULL;
    xc_wbuf *w;

    if (sd_open_store(db, req, rp, &me, &m) < 0 ||
        sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0 ||
        sd_need_rights(db, rp, &m, fid, XW_RIGHT_FOLDER_VISIBLE,
                       "the folder is not visible to you", NULL) < 0)
        return;
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    snprintf(c, sizeof(c), "%" PRId64, m.me);
    params[3] = m.is_public ? "t" : "f";
    /* one snapshot: the row and its properties as of one commit */
    if ((st = sd_db_begin(db)) != XC_OK) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    res = sd_db_exec(db, sql_row, 4, params, &st);
    if (res != NULL && PQntuples(res) == 1)
        props = sd_db_execv(db, sql_props, 2, params, NULL, fmt, 1, &st);
    else if (res != NULL)
        st = XC_E_NOTFOUND;
    sd_db_rollback(db);
    if (props == NULL) {
        PQclear(res);
        sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such folder" : NULL);
        return;
    }
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    xc_put_long(w, XW_MARK_START_MESSAGE, 0);
    xc_put_i8(w, PR_FID, (int64_t)xc_make_id(m.replid, (uint64_t)fid));
    if (strtoll(PQgetvalue(res, 0, 0), NULL, 10) >= 0)
        xc_put_i8(w, PR_PARENT_FID, (int64_t)xc_make_id(m.replid,
                  (uint64_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10)));
    xc_put_str(w, PR_DISPLAY_NAME, PQgetvalue(res, 0, 1));
    if (!PQgetisnull(res, 0, 2))
        xc_put_str(w, PR_CONTAINER_CLASS, PQgetvalue(res, 0, 2));
    xc_put_long(w, PR_FOLDER_TYPE, atoi(PQgetvalue(res, 0, 3)));
    xc_put_long(w, PR_XC_SPECIAL_FOLDER, atoi(PQgetvalue(res, 0, 4)));
    {
        int count = atoi(PQgetvalue(res, 0, 5));
        int unread = atoi(PQgetvalue(res, 0, 6));
        sd_shown_counts(db, &m, fid, atoi(PQgetvalue(res, 0, 3)), &count,
                        &unread);
        xc_put_long(w, PR_CONTENT_COUNT, count);
        xc_put_long(w, PR_CONTENT_UNREAD, unread);
    }
    xc_put_long(w, PR_ASSOC_CONTENT_COUNT, atoi(PQgetvalue(res, 0, 7)));
    xc_put_bool(w, PR_SUBFOLDERS, PQgetvalue(res, 0, 8)[0] == 't');
    xc_put_i8(w, PR_CHANGE_NUMBER, (int64_t)xc_make_id(m.replid,
              (uint64_t)strtoll(PQgetvalue(res, 0, 9), NULL, 10)));
    for (int col = 10; col <= 11; col++) {
        size_t kl = 0;
        unsigned char *k;
        if (PQgetisnull(res, 0, col))
            continue;
        k = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, col),
                            &kl);
        if (k != NULL)
            xc_put_bin(w, col == 10 ? PR_CHANGE_KEY
                                    : PR_PREDECESSOR_CHANGE_LIST, k, kl);
        PQfreemem(k);
    }
    xc_put_i8(w, PR_CREATION_TIME,
              sd_filetime_of_epoch(strtod(PQgetvalue(res, 0, 12), NULL)));
    for (int i = 0; i < PQntuples(props); i++)
        sd_emit_value(w, props, i, 0);
    xc_put_long(w, XW_MARK_END_MESSAGE, 0);
    PQclear(res);
    PQclear(props);
}

/* What a client can't set on a folder: what sd_is_computed says, and what
   the store keeps itself. */
static int folder_computed(uint32_t tag)
{
    switch (PROP_ID(tag)) {
    case PROP_ID(PR_CONTENT_COUNT): case PROP_ID(PR_CONTENT_UNREAD):
    case PROP_ID(PR_ASSOC_CONTENT_COUNT): case PROP_ID(PR_SUBFOLDERS):
    case PROP_ID(PR_FOLDER_TYPE): case PROP_ID(PR_XC_SPECIAL_FOLDER):
        return 1;
    default:
        return sd_is_computed(tag);
    }
}

/*
 * SET_PROPS / DELETE_PROPS on a folder ([MS-OXCPRPT] 3.2.5.4, 3.2.5.6).
 * PR_DISPLAY_NAME renames (not a special folder; not to a sibling's name:
 * EC_DUPLICATE_NAME; it can't be deleted), PR_CONTAINER_CLASS sets the
 * class; the rest is stored as it comes.
 */
void sd_folder_set_props(sd_db *db, sd_req *req, sd_reply *rp, mbx *m,
                         int64_t fid, const xc_propval *pv, size_t n,
                         int del)
{
    static const char sql_clash[] =
        "SELECT 1 FROM folders WHERE mailbox_id = $1 AND fid <> $2 "
        "AND parent_fid = $3 AND lower(display_name) = lower($4)";
    uint32_t *prob = calloc(n * 3 + 1, sizeof(*prob));
    int32_t *ids = calloc(n + 1, sizeof(*ids));
    size_t nprob = 0, nids = 0, pcllen;
    int special, set_class = 0, has_rename = 0;
    size_t rename_at = 0;
    int64_t parent;
    uint64_t cn = 0;
    uint8_t xid[XC_XID_LEN], pcl[XC_PCL_MAX];
    char a[24], b[24], c[24];
    const char *params[8] = { a, b, NULL, NULL, NULL, NULL, NULL, NULL };
    int len[8] = { 0 }, fmt[8] = { 0, 0, 0, 1, 1, 0, 0, 0 };
    xc_wbuf name, cls, idarray;
    xc_status st = XC_E_TEMP;

    (void)req;
    xc_wbuf_init(&name, 1024);
    xc_wbuf_init(&cls, 1024);
    xc_wbuf_init(&idarray, 0);
    if (prob == NULL || ids == NULL)
        goto fail_early;
#define PROBLEM(i, code) do {                                               \
        prob[nprob * 3] = (uint32_t)(i);                                    \
        prob[nprob * 3 + 1] = pv[i].tag;                                    \
        prob[nprob * 3 + 2] = (code);                                       \
        nprob++;                                                            \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        uint32_t tag = pv[i].tag;
        uint16_t id = PROP_ID(tag);

        if (folder_computed(tag) || (del && id == PROP_ID(PR_DISPLAY_NAME))) {
            PROBLEM(i, EC_ACCESS_DENIED);
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (PROP_ID(pv[j].tag) == id) {
                st = XC_E_BADREQ;
                goto fail_early;
            }
        if (id == PROP_ID(PR_DISPLAY_NAME)) {
            if (sd_text_of(&pv[i], &name) < 0 || name.len < 2 ||
                name.len > 256)
                PROBLEM(i, EC_INVALID_PARAM);
            else {
                has_rename = 1;
                rename_at = i;
            }
        } else if (id == PROP_ID(PR_CONTAINER_CLASS)) {
            if (!del && sd_text_of(&pv[i], &cls) < 0)
                PROBLEM(i, EC_INVALID_PARAM);
            else
                set_class = 1;
        } else if (!del && (PROP_TYPE(tag) == PT_NULL ||
                            PROP_TYPE(tag) == PT_OBJECT ||
                            PROP_TYPE(tag) == PT_UNSPECIFIED)) {
            PROBLEM(i, EC_INVALID_PARAM);
        } else {
            ids[nids++] = id;
        }
    }
    if (sd_id_array(&idarray, ids, nids, 'l') < 0) {
        st = XC_E_TEMP;
        goto fail_early;
    }
    snprintf(a, sizeof(a), "%" PRId64, m->id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m->id)) != XC_OK ||
        (st = folder_row(db, m->id, (uint64_t)fid, &parent, &special, pcl,
                         &pcllen)) != XC_OK)
        goto fail;
    if (has_rename && special) {
        PROBLEM(rename_at, EC_ACCESS_DENIED);
        has_rename = 0;
    } else if (has_rename) {
        const char *p4[4] = { a, b, c, (const char *)name.p };
        PGresult *res;
        snprintf(c, sizeof(c), "%" PRId64, parent);
        res = sd_db_exec(db, sql_clash, 4, p4, &st);
        if (res == NULL)
            goto fail;
        if (PQntuples(res) > 0) {
            PROBLEM(rename_at, EC_DUPLICATE_NAME);
            has_rename = 0;
        }
        PQclear(res);
    }
#undef PROBLEM
    if (nids == 0 && !has_rename && !set_class) {
        sd_db_rollback(db);
        sd_reply_props(rp, prob, nprob, m, 0);
        goto out;
    }
    if ((st = sd_take_ids(db, m->id, 1, 0, m, &cn, NULL)) != XC_OK ||
        (st = sd_prepare_store(db, folder_sqls)) != XC_OK ||
        (st = sd_db_pipe_begin(db)) != XC_OK)
        goto fail;
    new_change(m, cn, xid, pcl, &pcllen);
    params[2] = (const char *)idarray.p;
    st = nids ? sd_db_pipe_send(db, sql_fdel_props, 3, params, NULL, NULL)
              : XC_OK;
    for (size_t i = 0; i < n && st == XC_OK && !del; i++) {
        uint16_t id = PROP_ID(pv[i].tag);
        int stored = 0;
        for (size_t j = 0; j < nids; j++)
            stored |= ids[j] == id;
        if (stored)
            st = sd_put_value(db, T_FOLDER, m->id, (uint64_t)fid, 0, &pv[i]);
    }
    snprintf(c, sizeof(c), "%" PRIu64, cn);
    params[2] = c;
    params[3] = (const char *)xid;
    len[3] = sizeof(xid);
    params[4] = (const char *)pcl;
    len[4] = (int)pcllen;
    params[5] = has_rename ? (const char *)name.p : NULL;
    params[6] = set_class ? "t" : "f";
    params[7] = set_class && !del && cls.len > 1 ? (const char *)cls.p : NULL;
    if (st == XC_OK)
        st = sd_db_pipe_send(db, sql_fset, 8, params, len, fmt);
    if (st == XC_OK)
        st = sd_log_change(db, m->id, cn, "modify", (uint64_t)fid, NULL, 0);
    if ((st = sd_pipe_end(db, st)) != XC_OK ||
        (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    sd_reply_props(rp, prob, nprob, m, cn);
    goto out;
fail:
    sd_db_rollback(db);
fail_early:
    sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such folder"
                            : st == XC_E_BADREQ ? "a property appears twice"
                            : NULL);
out:
    xc_wbuf_free(&name);
    xc_wbuf_free(&cls);
    xc_wbuf_free(&idarray);
    free(prob);
    free(ids);
}

/* ---- search folders (sql/016) ------------------------------------------ */

#define MAX_SCOPE 1000          /* folders one search names */

/* The folder's type and whether it has criteria (folder_type 2: search);
   XC_E_NOTFOUND when there is no such folder. */
static xc_status search_folder_row(sd_db *db, const mbx *m, int64_t fid,
                                   int *search, PGresult **crit)
{
    static const char sql[] =
        "SELECT f.folder_type = 2, s.restriction, s.scope, s.recursive "
        "FROM folders f LEFT JOIN search_criteria s "
        "ON s.mailbox_id = f.mailbox_id AND s.fid = f.fid "
        "WHERE f.mailbox_id = $1 AND f.fid = $2";
    char a[24], b[24];
    const char *params[2] = { a, b };
    const int fmt[2] = { 0, 0 };
    xc_status st;
    PGresult *res;

    snprintf(a, sizeof(a), "%" PRId64, m->id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    if ((res = sd_db_execv(db, sql, 2, params, NULL, fmt, 1, &st)) == NULL)
        return st;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return XC_E_NOTFOUND;
    }
    *search = PQgetvalue(res, 0, 0)[0] != 0;
    *crit = res;
    return XC_OK;
}

/*
 * RopSetSearchCriteria ([MS-OXCFOLD] 2.2.1.4): what a search folder
 * finds. The restriction is checked (decoded) here and compiled when the
 * folder's contents are read; scope folders must be this mailbox's and no
 * search folders.
 */
void sd_folder_set_search(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql_scope[] =
        "SELECT (SELECT count(*) FROM folders WHERE mailbox_id = $1 "
        "AND fid = ANY ($2::bigint[]) AND folder_type <> 2) = "
        "(SELECT count(DISTINCT x) FROM unnest($2::bigint[]) x)";
    static const char sql_set[] =
        "INSERT INTO search_criteria AS s (mailbox_id, fid, restriction, "
        "scope, recursive) VALUES ($1, $2, nullif($3::bytea, ''), "
        "coalesce($4::bigint[], '{}'), coalesce($5::boolean, false)) "
        "ON CONFLICT (mailbox_id, fid) DO UPDATE SET "
        "restriction = CASE WHEN $6::boolean "
        "  THEN nullif($3::bytea, '') ELSE s.restriction END, "
        "scope = coalesce($4::bigint[], s.scope), "
        "recursive = coalesce($5::boolean, s.recursive)";
    const xc_propval *resv = xc_props_find(req->args, req->nargs,
                                           XW_TAG_RESTRICTION);
    const xc_propval *fidsv = xc_props_find(req->args, req->nargs,
                                            XW_TAG_FIDS);
    const xc_propval *flagsv = xc_props_find(req->args, req->nargs,
                                             XW_TAG_SEARCH_FLAGS);
    char a[24], b[24];
    const char *params[6] = { a, b, NULL, NULL, NULL, NULL };
    int len[6] = { 0 }, fmt[6] = { 0, 0, 1, 0, 0, 0 };
    int64_t fid, scope[MAX_SCOPE];
    size_t nscope = 0;
    int search = 0;
    xc_wbuf arr;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res = NULL;
    const char *msg = NULL;

    xc_wbuf_init(&arr, 0);
    if (sd_open_mailbox(db, req, rp, &me, &m) < 0 ||
        sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0)
        goto out;
    if (resv != NULL) {
        xc_rnode *nodes = calloc(1024, sizeof(*nodes));
        xc_rnode **kids = calloc(1024, sizeof(*kids)), *root;
        const char *err = NULL;
        int bad = PROP_TYPE(resv->tag) != PT_BINARY ||
                  (nodes != NULL && kids != NULL && resv->v.bin.n > 0 &&
                   xc_restrict_parse(resv->v.bin.p, resv->v.bin.n, nodes,
                                     kids, 1024, &root, &err) < 0);
        free(nodes);
        free(kids);
        if (nodes == NULL || kids == NULL) {
            sd_reply_status(rp, XC_E_TEMP, NULL);
            goto out;
        }
        if (bad) {
            sd_reply_status(rp, XC_E_BADREQ, err ? err : "RESTRICTION must "
                            "be binary");
            goto out;
        }
        params[2] = (const char *)(resv->v.bin.p ? resv->v.bin.p
                                                 : (const uint8_t *)"");
        len[2] = (int)resv->v.bin.n;
        params[5] = "t";
    } else {
        params[5] = "f";
    }
    if (fidsv != NULL) {
        xc_mv_iter it;
        xc_propval one;
        if (PROP_TYPE(fidsv->tag) != (PT_MV | PT_I8) ||
            fidsv->v.mv.count > MAX_SCOPE) {
            sd_reply_status(rp, XC_E_BADREQ, "FIDS: at most 1000 folder ids");
            goto out;
        }
        xc_mv_iter_init(&it, fidsv);
        while (xc_mv_next(&it, &one) == 1) {
            if ((scope[nscope] = sd_gc_of(&m, one.v.i64)) < 0) {
                sd_reply_status(rp, XC_E_NOTFOUND, "no such folder to "
                                "search");
                goto out;
            }
            nscope++;
        }
        if (sd_id_array(&arr, scope, nscope, 'i') < 0) {
            sd_reply_status(rp, XC_E_TEMP, NULL);
            goto out;
        }
        params[3] = (const char *)arr.p;
    }
    if (flagsv != NULL)
        params[4] = ((uint32_t)flagsv->v.i32 & XW_SEARCH_RECURSIVE) ? "t"
                                                                    : "f";
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    if ((st = sd_db_begin(db)) != XC_OK ||
        (st = sd_lock_mailbox(db, m.id)) != XC_OK ||
        (st = search_folder_row(db, &m, fid, &search, &res)) != XC_OK)
        goto fail;
    if (!search) {
        st = XC_E_BADREQ;
        msg = "not a search folder";
        goto fail;
    }
    if (PQgetisnull(res, 0, 2) && fidsv == NULL) {
        st = XC_E_BADREQ;
        msg = "FIDS (the folders to search) required the first time";
        goto fail;
    }
    PQclear(res);
    res = NULL;
    if (fidsv != NULL) {
        const char *sp[2] = { a, params[3] };
        PGresult *r = sd_db_exec(db, sql_scope, 2, sp, &st);
        if (r == NULL)
            goto fail;
        if (PQgetvalue(r, 0, 0)[0] != 't') {
            PQclear(r);
            st = XC_E_NOTFOUND;
            msg = "no such folder to search (or a search folder)";
            goto fail;
        }
        PQclear(r);
    }
    if ((res = sd_db_execv(db, sql_set, 6, params, len, fmt, 0, &st)) ==
            NULL ||
        (st = sd_db_commit(db)) != XC_OK)
        goto fail;
    PQclear(res);
    sd_reply_status(rp, XC_OK, NULL);
    xc_wbuf_free(&arr);
    return;
fail:
    PQclear(res);
    fail_reply(db, rp, st, msg);
out:
    xc_wbuf_free(&arr);
}

/* RopGetSearchCriteria ([MS-OXCFOLD] 2.2.1.5). */
void sd_folder_get_search(sd_db *db, sd_req *req, sd_reply *rp)
{
    int64_t fid;
    int search = 0;
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res = NULL;
    xc_wbuf *w;
    uint32_t flags = XW_SEARCH_COMPLETE;

    if (sd_open_mailbox(db, req, rp, &me, &m) < 0 ||
        sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0)
        return;
    if ((st = search_folder_row(db, &m, fid, &search, &res)) != XC_OK) {
        sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such folder"
                                                    : NULL);
        return;
    }
    if (!search || PQgetisnull(res, 0, 2)) {
        PQclear(res);
        sd_reply_status(rp, search ? XC_E_NOTFOUND : XC_E_BADREQ,
                        search ? "no search criteria set"
                               : "not a search folder");
        return;
    }
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    if (!PQgetisnull(res, 0, 1))
        xc_put_bin(w, XW_TAG_RESTRICTION, PQgetvalue(res, 0, 1),
                   (size_t)PQgetlength(res, 0, 1));
    {
        /* a binary int8[]: header (ndim, flags, oid), then per dimension
           (size, lower bound), then (length, value) per element */
        const char *p = PQgetvalue(res, 0, 2);
        size_t plen = (size_t)PQgetlength(res, 0, 2);
        uint32_t n = plen >= 20 && sd_be32(p) == 1 ? sd_be32(p + 12) : 0;

        if (plen < 20 || 20 + (size_t)n * 12 > plen)
            n = 0;
        xc_put_u32(w, XW_TAG_FIDS);
        xc_put_u32(w, n);
        for (uint32_t i = 0; i < n; i++)
            xc_put_u64(w, xc_make_id(m.replid,
                                     sd_be64(p + 20 + (size_t)i * 12 + 4)));
    }
    if (PQgetvalue(res, 0, 3)[0])
        flags |= XW_SEARCH_RECURSIVE;
    xc_put_long(w, XW_TAG_SEARCH_FLAGS, (int32_t)flags);
    PQclear(res);
}
