/*
 * NAME
 *   sd_ops - storaged request handlers
 *
 * DESCRIPTION
 *   One function per opcode of xc_wire.h. Each checks its arguments, the
 *   caller's session and its right to the object, runs parameterised SQL,
 *   and answers with a status (and values, or rows).
 *
 *   Access rule for now: a session reaches its own mailbox only. Delegates
 *   and folder permissions ([MS-OXCPERM]) extend this with the store.
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STORAGED_VERSION "0.1"

int sd_arg_str(const sd_req *req, uint32_t tag, char *dst, size_t len)
{
    return xc_props_str(req->args, req->nargs, tag, dst, len);
}

int sd_arg_i8(const sd_req *req, uint32_t tag, int64_t *v)
{
    const xc_propval *pv = xc_props_find(req->args, req->nargs, tag);
    if (pv == NULL)
        return -1;
    *v = pv->v.i64;
    return 0;
}

int sd_need_session(const sd_req *req, sd_reply *rp, sd_user *u)
{
    char token[65];
    xc_status st;

    if (sd_arg_str(req, XW_TAG_SESSION, token, sizeof(token)) < 0) {
        sd_reply_status(rp, XC_E_SESSION, "no session");
        return -1;
    }
    st = sd_session_get(token, u);
    if (st != XC_OK) {
        sd_reply_status(rp, st, "unknown or expired session");
        return -1;
    }
    return 0;
}

static void put_user(xc_wbuf *w, const sd_user *u)
{
    xc_put_i8(w, XW_TAG_USER_ID, u->user_id);
    xc_put_i8(w, XW_TAG_MAILBOX_ID, u->mailbox_id);
    xc_put_str(w, PR_SMTP_ADDRESS, u->address);
    xc_put_str(w, PR_DISPLAY_NAME, u->display_name);
    xc_put_str(w, PR_EMAIL_ADDRESS, u->legacy_dn);
    xc_put_str(w, XW_TAG_MAILBOX_GUID, u->mailbox_guid);
    xc_put_str(w, XW_TAG_DEPLOYMENT_ID, u->deployment_id);
}

static void op_hello(sd_db *db, sd_req *req, sd_reply *rp)
{
    xc_wbuf *w;

    (void)db;
    (void)req;
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    xc_put_str(w, XW_TAG_SERVER_NAME, "storaged " STORAGED_VERSION);
    xc_put_long(w, XW_TAG_PROTO_VERSION, XW_VERSION);
}

/*
 * With db == NULL (a connection's reader thread) only a login verified
 * before is answered; 0 means "not answered, ask a worker".
 */
static int op_auth(sd_db *db, sd_req *req, sd_reply *rp)
{
    char user[321], password[1025], remote[64] = "unknown", token[65];
    sd_user u;
    xc_status st;

    if (sd_arg_str(req, XW_TAG_USER, user, sizeof(user)) < 0 ||
        sd_arg_str(req, XW_TAG_PASSWORD, password, sizeof(password)) < 0) {
        if (db == NULL)
            return 0;
        sd_reply_status(rp, XC_E_AUTH, "user and password required");
        return 1;
    }
    (void)sd_arg_str(req, XW_TAG_REMOTE_ADDR, remote, sizeof(remote));
    if (db == NULL)
        st = sd_auth_login_cached(user, password, remote, &u, token)
                 ? XC_OK : XC_E_TEMP;
    else
        st = sd_auth_login(db, user, password, remote, &u, token);
    memset(password, 0, sizeof(password));
    if (db == NULL && st != XC_OK)
        return 0;
    if (st != XC_OK) {
        sd_reply_status(rp, st, NULL);
        return 1;
    }
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_str(sd_reply_final(rp), XW_TAG_SESSION, token);
    put_user(sd_reply_final(rp), &u);
    return 1;
}

/*
 * A session for any user, without a password, for a local peer running as
 * root, as storaged's own user or as one of trusted_users (admin tools;
 * mtad delivering mail).
 * Members of socket_group (httpd) may connect but never do this: they
 * must log users in with their credentials.
 */
static void op_trusted_login(sd_db *db, sd_req *req, sd_reply *rp)
{
    char user[321], token[65];
    sd_user u;
    xc_status st;

    if (!sd_peer_trusted(req->peer_uid)) {
        sd_log_warn(32, "trusted login refused to uid %d",
                    (int)req->peer_uid);
        sd_reply_status(rp, XC_E_PERM, "trusted login is for root, "
                        "storaged's own user and trusted_users");
        return;
    }
    if (sd_arg_str(req, XW_TAG_USER, user, sizeof(user)) < 0) {
        sd_reply_status(rp, XC_E_BADREQ, "user required");
        return;
    }
    st = sd_auth_trusted(db, user, req->peer_uid, &u, token);
    if (st != XC_OK) {
        sd_reply_status(rp, st, st == XC_E_NOTFOUND ? "no such user" : NULL);
        return;
    }
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_str(sd_reply_final(rp), XW_TAG_SESSION, token);
    put_user(sd_reply_final(rp), &u);
}

/*
 * Resolve an SMTP address (or a legacy DN, which Outlook may send instead)
 * to its user and mailbox, if the session may open that mailbox. Addresses
 * it may not open answer NOTFOUND, like unknown ones: a lookup must not
 * reveal who exists.
 */
static int op_resolve(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql_addr[] =
        "SELECT " SD_USER_COLS " "
        "FROM addresses a JOIN users u ON u.id = a.user_id "
        "JOIN mailboxes m ON m.user_id = u.id "
        "JOIN addresses p ON p.user_id = u.id AND p.is_primary "
        "WHERE a.address = $1 AND u.enabled";
    static const char sql_dn[] =
        "SELECT " SD_USER_COLS " "
        "FROM users u JOIN mailboxes m ON m.user_id = u.id "
        "JOIN addresses p ON p.user_id = u.id AND p.is_primary "
        "WHERE lower(u.legacy_dn) = $1 AND u.enabled";
    char addr[1024];
    const char *params[1] = { addr };
    sd_user me, u;
    PGresult *res;
    xc_status st;
    unsigned long gen;

    if (sd_need_session(req, rp, &me) < 0)
        return 1;
    if (sd_arg_str(req, XW_TAG_ADDRESS, addr, sizeof(addr)) < 0 ||
        addr[0] == '\0') {
        sd_reply_status(rp, XC_E_BADREQ, "address required");
        return 1;
    }
    for (char *s = addr; *s; s++)
        *s = (char)tolower((unsigned char)*s);
    if (!sd_dir_get(addr, &u)) {
        if (db == NULL)
            return 0;
        gen = sd_dir_generation();
        res = sd_db_exec(db, addr[0] == '/' ? sql_dn : sql_addr, 1, params,
                         &st);
        if (res == NULL) {
            sd_reply_status(rp, st, NULL);
            return 1;
        }
        if (PQntuples(res) != 1) {
            PQclear(res);
            sd_reply_status(rp, XC_E_NOTFOUND, "no such mailbox");
            return 1;
        }
        sd_user_from_row(res, 0, &u);
        PQclear(res);
        sd_dir_put(addr, &u, gen);
    }
    if (u.user_id != me.user_id) {
        /* another's mailbox: only if they gave us (or everyone) a right
           in it ([MS-OXCPERM]) */
        static const char sql_shared[] =
            "SELECT 1 FROM folder_permissions WHERE mailbox_id = $1 "
            "AND member_id IN ($2, 0) AND rights <> 0 LIMIT 1";
        char a[24], b[24];
        const char *p2[2] = { a, b };
        int shared;

        if (db == NULL)
            return 0;
        snprintf(a, sizeof(a), "%" PRId64, u.mailbox_id);
        snprintf(b, sizeof(b), "%" PRId64, me.user_id);
        if ((res = sd_db_exec(db, sql_shared, 2, p2, &st)) == NULL) {
            sd_reply_status(rp, st, NULL);
            return 1;
        }
        shared = PQntuples(res) == 1;
        PQclear(res);
        if (!shared) {
            sd_reply_status(rp, XC_E_NOTFOUND, "no such mailbox");
            return 1;
        }
    }
    sd_reply_status(rp, XC_OK, NULL);
    put_user(sd_reply_final(rp), &u);
    return 1;
}

/* The public folder store (sql/014): its id, replica GUID and whether the
   session administers it. Every user may open it; what they may do in it
   is the folders' permissions. */
static void op_public_store(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "SELECT m.id, m.replica_guid, EXISTS (SELECT 1 FROM public_admins "
        "WHERE user_id = $1) FROM mailboxes m WHERE m.kind = 'public'";
    char a[24];
    const char *params[1] = { a };
    sd_user me;
    xc_status st;
    xc_wbuf *w;
    PGresult *res;

    if (sd_need_session(req, rp, &me) < 0)
        return;
    snprintf(a, sizeof(a), "%" PRId64, me.user_id);
    if ((res = sd_db_exec(db, sql, 1, params, &st)) == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        sd_reply_status(rp, XC_E_NOTFOUND, "no public folder store");
        return;
    }
    sd_reply_status(rp, XC_OK, NULL);
    w = sd_reply_final(rp);
    xc_put_i8(w, XW_TAG_MAILBOX_ID, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    xc_put_str(w, XW_TAG_MAILBOX_GUID, PQgetvalue(res, 0, 1));
    xc_put_bool(w, XW_TAG_OWNER, PQgetvalue(res, 0, 2)[0] == 't');
    PQclear(res);
}

/* One row per folder, parents before children ([MS-OXCFOLD] hierarchy). */
static void op_list_folders(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql[] =
        "WITH RECURSIVE tree AS ("
        "  SELECT f.*, 0 AS depth FROM folders f "
        "  WHERE f.mailbox_id = $1 AND f.parent_fid IS NULL "
        "  UNION ALL "
        "  SELECT f.*, t.depth + 1 FROM folders f JOIN tree t "
        "  ON f.mailbox_id = t.mailbox_id AND f.parent_fid = t.fid) "
        "SELECT t.fid, t.parent_fid, t.display_name, t.container_class, "
        "       t.folder_type, coalesce(t.special, 0), m.replica_id, "
        "       t.content_count, " UNREAD_OF("t", "$2", "$5") ", t.assoc_count, "
        "       EXISTS (SELECT 1 FROM folders c WHERE c.mailbox_id = t.mailbox_id "
        "               AND c.parent_fid = t.fid), "
        "       CASE WHEN $3::boolean THEN $4::integer ELSE coalesce(("
        "         SELECT fp.rights FROM folder_permissions fp "
        "         WHERE fp.mailbox_id = t.mailbox_id AND fp.fid = t.fid "
        "         AND fp.member_id IN ($2, 0) "
        "         ORDER BY fp.member_id DESC LIMIT 1), 0) END "
        "FROM tree t JOIN mailboxes m ON m.id = t.mailbox_id "
        "ORDER BY t.depth, t.fid";
    char mbx_[24], who[24], all[16];
    sd_user me;
    mbx m;
    const char *params[5] = { mbx_, who, NULL, all, NULL };
    PGresult *res;
    xc_status st;

    if (sd_open_store(db, req, rp, &me, &m) < 0)
        return;
    snprintf(mbx_, sizeof(mbx_), "%" PRId64, m.id);
    snprintf(who, sizeof(who), "%" PRId64, m.me);
    snprintf(all, sizeof(all), "%u", XW_RIGHTS_ALL);
    params[2] = m.owner ? "t" : "f";
    params[4] = m.is_public ? "t" : "f";
    res = sd_db_exec(db, sql, 5, params, &st);
    if (res == NULL) {
        sd_reply_status(rp, st, NULL);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        xc_wbuf *w;
        uint16_t replid = (uint16_t)atoi(PQgetvalue(res, i, 6));
        uint32_t rights = (uint32_t)strtoul(PQgetvalue(res, i, 11), NULL, 10);

        /* someone else's mailbox: the folders they may see */
        if (!(rights & (XW_RIGHT_FOLDER_VISIBLE | XW_RIGHT_FOLDER_OWNER)))
            continue;
        w = sd_reply_begin_row(rp);

        xc_put_i8(w, PR_FID, (int64_t)xc_make_id(replid,
                  (uint64_t)strtoll(PQgetvalue(res, i, 0), NULL, 10)));
        if (!PQgetisnull(res, i, 1))
            xc_put_i8(w, PR_PARENT_FID, (int64_t)xc_make_id(replid,
                      (uint64_t)strtoll(PQgetvalue(res, i, 1), NULL, 10)));
        xc_put_str(w, PR_DISPLAY_NAME, PQgetvalue(res, i, 2));
        if (!PQgetisnull(res, i, 3))
            xc_put_str(w, PR_CONTAINER_CLASS, PQgetvalue(res, i, 3));
        xc_put_long(w, PR_FOLDER_TYPE, atoi(PQgetvalue(res, i, 4)));
        xc_put_long(w, PR_XC_SPECIAL_FOLDER, atoi(PQgetvalue(res, i, 5)));
        {
            int count = atoi(PQgetvalue(res, i, 7));
            int unread = atoi(PQgetvalue(res, i, 8));
            sd_shown_counts(db, &m, strtoll(PQgetvalue(res, i, 0), NULL, 10),
                            atoi(PQgetvalue(res, i, 4)), &count, &unread);
            xc_put_long(w, PR_CONTENT_COUNT, count);
            xc_put_long(w, PR_CONTENT_UNREAD, unread);
        }
        xc_put_long(w, PR_ASSOC_CONTENT_COUNT, atoi(PQgetvalue(res, i, 9)));
        xc_put_bool(w, PR_SUBFOLDERS, PQgetvalue(res, i, 10)[0] == 't');
        xc_put_long(w, PR_RIGHTS, (int32_t)rights);
        if (sd_reply_row(rp, w) < 0)
            break;          /* client gone; the final frame fails too */
    }
    PQclear(res);
    sd_reply_status(rp, XC_OK, NULL);
}

static void op_logoff(sd_db *db, sd_req *req, sd_reply *rp)
{
    char token[65];

    (void)db;
    if (sd_arg_str(req, XW_TAG_SESSION, token, sizeof(token)) == 0)
        sd_session_drop(token);
    sd_reply_status(rp, XC_OK, NULL);
}

int sd_ops_fast(sd_req *req, sd_reply *rp)
{
    switch (req->hdr.op) {
    case XW_OP_HELLO:
    case XW_OP_LOGOFF:
        sd_ops_run(NULL, req, rp);
        return 1;
    case XW_OP_AUTH:
        return op_auth(NULL, req, rp);
    case XW_OP_RESOLVE:
        return op_resolve(NULL, req, rp);
    default:
        return 0;
    }
}

void sd_ops_run(sd_db *db, sd_req *req, sd_reply *rp)
{
    if (db != NULL)
        db->dequeue_id = 0;     /* set only by the IMPORT_MIME it is for */
    if (req->stream != NULL && req->hdr.op != XW_OP_IMPORT_MIME &&
        req->hdr.op != XW_OP_QUEUE_PUT &&
        req->hdr.op != XW_OP_SAVE_MESSAGE && req->hdr.op != XW_OP_SET_PROPS) {
        sd_reply_status(rp, XC_E_BADREQ, "this operation takes no streamed "
                        "argument");
        return;
    }
    switch (req->hdr.op) {
    case XW_OP_HELLO: op_hello(db, req, rp); break;
    case XW_OP_AUTH: (void)op_auth(db, req, rp); break;
    case XW_OP_RESOLVE: (void)op_resolve(db, req, rp); break;
    case XW_OP_LIST_FOLDERS: op_list_folders(db, req, rp); break;
    case XW_OP_LOGOFF: op_logoff(db, req, rp); break;
    case XW_OP_CREATE_FOLDER: sd_store_create_folder(db, req, rp); break;
    case XW_OP_SAVE_MESSAGE: sd_store_save_message(db, req, rp); break;
    case XW_OP_GET_MESSAGE: sd_store_get_message(db, req, rp); break;
    case XW_OP_DELETE_MESSAGES: sd_store_delete_messages(db, req, rp); break;
    case XW_OP_CONTENTS: sd_store_contents(db, req, rp); break;
    case XW_OP_SET_READ: sd_store_set_read(db, req, rp); break;
    case XW_OP_CHANGES: sd_store_changes(db, req, rp); break;
    case XW_OP_NAMES_TO_IDS: sd_store_names_to_ids(db, req, rp); break;
    case XW_OP_SUBSCRIBE: sd_store_subscribe(db, req, rp); break;
    case XW_OP_UNSUBSCRIBE: sd_store_unsubscribe(db, req, rp); break;
    case XW_OP_DELETE_FOLDER: sd_folder_delete(db, req, rp); break;
    case XW_OP_MOVE_FOLDER: sd_folder_move(db, req, rp); break;
    case XW_OP_COPY_FOLDER: sd_folder_copy(db, req, rp); break;
    case XW_OP_EMPTY_FOLDER: sd_folder_empty(db, req, rp); break;
    case XW_OP_MOVE_MESSAGES: sd_store_move_messages(db, req, rp); break;
    case XW_OP_COPY_MESSAGES: sd_store_copy_messages(db, req, rp); break;
    case XW_OP_SET_PROPS: sd_store_set_props(db, req, rp); break;
    case XW_OP_DELETE_PROPS: sd_store_delete_props(db, req, rp); break;
    case XW_OP_GET_FOLDER: sd_folder_get(db, req, rp); break;
    case XW_OP_QUOTA: sd_store_quota(db, req, rp); break;
    case XW_OP_IMPORT_MIME: sd_mime_import(db, req, rp); break;
    case XW_OP_GET_MIME: sd_mime_get(db, req, rp); break;
    case XW_OP_TRUSTED_LOGIN: op_trusted_login(db, req, rp); break;
    case XW_OP_READ_PROP: sd_store_read_prop(db, req, rp); break;
    case XW_OP_GET_PERMISSIONS: sd_perm_get(db, req, rp); break;
    case XW_OP_SET_PERMISSIONS: sd_perm_set(db, req, rp); break;
    case XW_OP_PUBLIC_STORE: op_public_store(db, req, rp); break;
    case XW_OP_SET_SEARCH_CRITERIA: sd_folder_set_search(db, req, rp); break;
    case XW_OP_GET_SEARCH_CRITERIA: sd_folder_get_search(db, req, rp); break;
    case XW_OP_RCPT_CHECK: sd_queue_rcpt_check(db, req, rp); break;
    case XW_OP_QUEUE_PUT: sd_queue_put(db, req, rp); break;
    case XW_OP_QUEUE_TAKE: sd_queue_take(db, req, rp); break;
    case XW_OP_QUEUE_READ: sd_queue_read(db, req, rp); break;
    case XW_OP_QUEUE_DEFER: sd_queue_defer(db, req, rp); break;
    case XW_OP_QUEUE_DONE: sd_queue_done(db, req, rp); break;
    case XW_OP_QUEUE_STATS: sd_queue_stats(db, req, rp); break;
    case XW_OP_IMAP_LIST: sd_imap_list(db, req, rp); break;
    default:
        sd_log_warn(16, "unknown opcode %u", req->hdr.op);
        sd_reply_status(rp, XC_E_UNSUPPORTED, "unknown opcode");
        break;
    }
}
