/*
 * NAME
 *   sd_store.h - what the store's operation files share
 *
 * DESCRIPTION
 *   Internal to storaged: the mailbox of a request, change numbers and
 *   the change log, folder counts, and property values <-> the typed
 *   columns of sql/002_store.sql. sd_store.c defines them; sd_query.c
 *   (contents tables) and the other operation files use them.
 */
#ifndef SD_STORE_H
#define SD_STORE_H

#include "sd.h"

#define MAX_ROWS 1000           /* table rows per request */
#define FILETIME_UNIX_DIFF 11644473600LL   /* seconds 1601 -> 1970 */

/* In the public store a message is read per user (sql/015): messages
   as that user (a parameter, e.g. "$4") sees them there, is_read being
   theirs. Everything else reads m.is_read as in a mailbox. */
#define PUBLIC_MESSAGES(user)                                                \
    "(SELECT x.mailbox_id, x.mid, x.fid, x.is_fai, x.cn, x.change_key, "     \
    "x.pcl, x.message_class, x.subject, x.delivery_time, x.message_size, "   \
    "EXISTS (SELECT 1 FROM public_read r WHERE r.mailbox_id = x.mailbox_id " \
    "AND r.user_id = " user "::bigint AND r.mid = x.mid) AS is_read, "       \
    "x.created_at, x.modified_at, x.creator_id FROM messages x)"

/* A folder's unread count (folder alias f) as user (a parameter) sees it:
   in the public store (pub, a boolean parameter: the caller knows,
   mbx.is_public) the messages they haven't read (sql/015). */
#define UNREAD_OF(f, user, pub)                                              \
    "CASE WHEN " pub "::boolean THEN " f ".content_count - (SELECT count(*) " \
    "FROM public_read r JOIN messages x ON x.mailbox_id = r.mailbox_id "     \
    "AND x.mid = r.mid WHERE r.mailbox_id = " f ".mailbox_id "               \
    "AND r.user_id = " user "::bigint AND x.fid = " f ".fid "                \
    "AND NOT x.is_fai) ELSE " f ".unread_count END"

/* The value columns of a binary-format result, in the order
   sd_emit_value reads them: tag, ival, fval, tval, bval, blob data. */
#define VALUE_COLS "p.tag, p.ival, p.fval, p.tval, p.bval, b.data"

/* The mailbox a request works on. */
typedef struct mbx {
    int64_t id;
    uint16_t replid;
    int owner;                  /* the session's own mailbox: every right */
    int is_public;              /* the public store: read state per user
                                   (sql/015 public_read) */
    int64_t rights_fid;         /* the folder sd_rights last answered for
                                   in this request (0: none), and */
    uint32_t rights;            /* its answer */
    int64_t me;                 /* the session's user id */
    uint8_t guid[16];           /* [MS-OXCDATA] GUID byte order */
    int64_t used;               /* used_bytes and quota_bytes (-1: none), */
    int64_t quota;              /* as sd_take_mailbox read them */
} mbx;

/* An attachment's embedded message ([MS-OXCMSG] 2.2.2.9, attach method
   5), stored as one value: its content in the wire encoding, from after
   START_EMBED to before END_EMBED (its own recipients, attachments and
   embedded messages included). Saves and reads translate; clients never
   see or set this tag. */
#define PR_XC_EMBEDDED PROP_TAG(PT_BINARY, 0x67F0)

/* Which table a value goes to. */
enum { T_MSG, T_RECIP, T_ATTACH, T_FOLDER };

/* Big-endian integers of binary-format results. */
uint64_t sd_be64(const char *p);
uint32_t sd_be32(const char *p);
/* RFC 4122 byte order (PostgreSQL uuid) -> [MS-OXCDATA] 2.5.1 GUID. */
void sd_guid_from_uuid(uint8_t out[16], const uint8_t in[16]);
int64_t sd_filetime_of_epoch(double secs);

/* A store the session owns (its mailbox; the public store for its
   administrators), or answer NOTFOUND and return -1. */
int sd_open_mailbox(sd_db *db, sd_req *req, sd_reply *rp, sd_user *me,
                    mbx *m);
/* Take the mailbox row for a change: next CN (and nids new ids from
   *gc_r on). Fills m->guid. */
xc_status sd_take_mailbox(sd_db *db, int64_t mailbox, int nids, mbx *m,
                          uint64_t *cn_r, uint64_t *gc_r);
/* Every writer takes the mailbox row first (one lock order). */
xc_status sd_lock_mailbox(sd_db *db, int64_t mailbox);
/* Append to the change log (kind: create, modify, delete, move, read). */
xc_status sd_log_change(sd_db *db, int64_t mailbox, uint64_t cn,
                        const char *kind, uint64_t fid, const uint64_t *mid,
                        int fai);
/* Adjust a folder's counts (content, unread; FAI counted apart). */
xc_status sd_count_folder(sd_db *db, int64_t mailbox, uint64_t fid, int fai,
                          int content, int unread);
/* Wire id of this mailbox -> global counter, or -1. */
int64_t sd_gc_of(const mbx *m, int64_t wire);
/* The id argument tag (PR_MID or PR_FID) as a global counter of m; answers
   the request (BADREQ / NOTFOUND naming what) and returns -1 if missing
   or not of this mailbox. */
int sd_id_arg(sd_req *req, sd_reply *rp, uint32_t tag, const char *what,
              const mbx *m, int64_t *gc_r);

/* Arguments or computed properties, never stored as content. */
int sd_is_computed(uint32_t tag);
int sd_is_marker(uint32_t tag);
/* What a value adds to PR_MESSAGE_SIZE. */
int64_t sd_value_size(const xc_propval *pv);
/* Large values a new message's save holds (sql/013 xc_blob_hold) before
   it takes the mailbox row, and references after: their hashes. */
typedef struct sd_held {
    uint8_t (*hash)[32];
    size_t n, cap;
} sd_held;

/* A value as the columns it is stored in (a large one put in blobs first,
   in the pipeline if one is open). */
typedef struct sd_cols {
    int has_i, has_f, is_text, has_blob;
    int64_t i;                  /* ival */
    double f;                   /* fval */
    const uint8_t *data;        /* tval (is_text) or bval; or the blob's */
    size_t dlen;
    uint8_t hash[32];           /* blob, when has_blob */
    uint8_t *mvbuf;             /* owned */
    xc_wbuf u8;                 /* owned */
} sd_cols;
xc_status sd_value_cols(sd_db *db, const xc_propval *pv, sd_cols *c);
void sd_cols_free(sd_cols *c);

/* Store one value in table (T_*) for mid; sub is the recipient row or
   attachment number. */
xc_status sd_put_value(sd_db *db, int table, int64_t mailbox, uint64_t mid,
                       int32_t sub, const xc_propval *pv);
/* Append a stored value (binary result columns VALUE_COLS from col) to w. */
void sd_emit_value(xc_wbuf *w, PGresult *res, int row, int col);
/* The same with strings cut to max characters and binary values to max
   bytes (0: whole), as tables may ([MS-OXCDATA] 2.8.2). */
void sd_emit_value_max(xc_wbuf *w, PGresult *res, int row, int col,
                       size_t max);
/* The columns of VALUE_COLS for a table: no more of a large value than a
   table shows (a multi-valued value whole). */
#define TABLE_VALUE_COLS                                                   \
    "p.tag, p.ival, p.fval, left(p.tval, 255), "                           \
    "CASE WHEN (p.tag & 4096) = 0 THEN substring(p.bval FROM 1 FOR 255) "    \
    "ELSE p.bval END, "                                                    \
    "CASE WHEN (p.tag & 4096) = 0 THEN substring(b.data FROM 1 FOR 1024) "   \
    "ELSE b.data END"
#define TABLE_MAX_VALUE 255
/* VALUE_COLS for an answer within the frame: a blob that can't be
   answered inline (XW_INLINE_MAX; PT_UNICODE doubles on the wire) is not
   read, its size follows as a seventh column; embedded messages (0x67F0,
   26608) always whole. sd_value_fits reads the size. */
#define ANSWER_VALUE_COLS                                                  \
    "p.tag, p.ival, p.fval, p.tval, p.bval, "                              \
    "CASE WHEN ((p.tag >> 16) & 65535) <> 26608 AND b.size * "             \
    "(CASE WHEN (p.tag & 65535) = 31 THEN 2 ELSE 1 END) + 8 > 262144 "     \
    "THEN NULL ELSE b.data END, b.size"

/* ---- whole messages (sd_store.c) ------------------------------------- */

/* A message as read from the database: its row and its parts. */
typedef struct sd_content_rows {
    PGresult *res;              /* the message row joined to its values */
    int from[3], to[3];         /* rows of its, recipients', attachments'
                                   values */
    int64_t fid, size;
    uint64_t cn;
    int fai, read;
    int32_t flags;              /* client bits of PR_MESSAGE_FLAGS (sql/021) */
    double created, modified;   /* epoch seconds */
    const uint8_t *ck, *pcl;    /* into res */
    size_t cklen, pcllen;
} sd_content_rows;
/* Read message mid of mailbox (XC_E_NOTFOUND if there is none): whole,
   or (whole 0, for an answer) without the bytes of values too large to
   be answered inline (XW_INLINE_MAX), whose sizes come instead. reader:
   in the public store, the user whose read state r->read is (sql/015);
   -1 for the message's own. */
xc_status sd_fetch_content(sd_db *db, int64_t mailbox, int64_t mid,
                           int64_t reader, int whole, sd_content_rows *r);
/* Append it as content: START_MESSAGE, computed and stored properties,
   recipients, attachments, END_MESSAGE (what GET_MESSAGE answers). With a
   budget (bytes w may reach; 0: none), values that don't fit, or are over
   XW_INLINE_MAX, are PT_ERROR XW_E_NOT_ENOUGH_MEMORY instead. */
void sd_emit_content(xc_wbuf *w, const sd_content_rows *r, uint16_t replid,
                     int64_t mid, size_t budget);
void sd_content_rows_clear(sd_content_rows *r);
/* Save content pv[0..n) (between, not including, the message markers) as
   SAVE_MESSAGE does, with req's arguments (PR_FID or PR_MID, FAI) and
   answering rp; mime, when not NULL, is kept as the message's received
   MIME. */
void sd_save_content(sd_db *db, sd_req *req, sd_reply *rp,
                     const xc_propval *pv, size_t n, const uint8_t *mime,
                     size_t mime_len);
/* New messages parts[0..k) into req's PR_FID in one transaction (all or
   none), as sd_save_content creates one; the reply has NEW_MIDS (k > 1)
   and the last one's PR_MID, PR_CHANGE_KEY and CN. */
typedef struct sd_part {
    const xc_propval *pv;       /* content, without the message markers */
    size_t n;
    const uint8_t *mime;        /* received bytes */
    size_t mime_len;
} sd_part;
void sd_save_new_many(sd_db *db, sd_req *req, sd_reply *rp,
                      const sd_part *parts, int k);

/* A named property's id in mailbox, created if new (its own transaction;
   XC_E_LIMIT when the mailbox's 0x8000..0xFFFE are all taken). guid in
   [MS-OXCDATA] order; name NULL for a LID. */
xc_status sd_name_to_id(sd_db *db, int64_t mailbox, const uint8_t guid[16],
                        uint32_t lid, const char *name, uint16_t *id_r);
/* The reverse (XC_E_NOTFOUND: no such id); name_r "" for a LID. */
xc_status sd_id_to_name(sd_db *db, int64_t mailbox, uint16_t id,
                        uint8_t guid_r[16], uint32_t *lid_r, char *name_r,
                        size_t name_len);

/* A folder's content and unread counts as folder lists show them: the
   stored ones (*count, *unread on entry), a search folder's found now
   (sd_query.c, sql/016). */
void sd_shown_counts(sd_db *db, const mbx *m, int64_t fid, int folder_type,
                     int *count, int *unread);

/* ---- permissions (sd_perm.c) ------------------------------------------ */

/* The mailbox the request names (MAILBOX_ID): the session's own, or one
   where the session's user has some right in some folder, or the public
   store (sql/014; m->owner for its administrators); else answers
   NOTFOUND, as for a mailbox that doesn't exist; -1 once answered. */
int sd_open_store(sd_db *db, sd_req *req, sd_reply *rp, sd_user *me, mbx *m);
/* The session's rights in folder fid (global counter) of m. */
xc_status sd_rights(sd_db *db, mbx *m, int64_t fid, uint32_t *rights);
/* 0 if the session has one of the rights `any` in fid (*have_r, if not
   NULL, gets all it has); else answers (XC_E_PERM naming what) and -1. */
int sd_need_rights(sd_db *db, sd_reply *rp, mbx *m, int64_t fid,
                   uint32_t any, const char *what, uint32_t *have_r);
/* May the session change (edit: 1, delete: 0) a message of fid that
   creator_id (-1: unknown, the owner's) created? */
int sd_may_change(uint32_t rights, const mbx *m, int64_t creator_id,
                  int edit);

/* ---- large values (sd_stream.c) -------------------------------------- */

/* Replace the XW_MARK_STREAMED pairs of content pv[0..*n) by values in
   req's streamed argument (in place; *n shrinks); checks the stream is
   announced and used whole. Answers rp and returns -1 on a bad request. */
int sd_resolve_streamed(sd_req *req, sd_reply *rp, xc_propval *pv,
                        size_t *n);
/* Does the stored value (VALUE_COLS from col) fit: under XW_INLINE_MAX
   and within budget with have bytes written (budget 0: always)? */
int sd_value_fits(PGresult *res, int row, int col, size_t have,
                  size_t budget);
/* Its NotEnoughMemory error in its place. */
void sd_emit_too_big(xc_wbuf *w, PGresult *res, int row, int col);

/* ---- Internet format (sd_mime.c) ------------------------------------ */

/* A message's MIME (received: the bytes it came in as; else generated for
   CN cn), as a blob shared by content. */
xc_status sd_put_mime(sd_db *db, int64_t mailbox, uint64_t mid, uint64_t cn,
                      int received, const uint8_t *mime, size_t len);

/* Does a change of this property make a received MIME wrong? */
int sd_mime_relevant(uint32_t tag);

/* ---- moves, copies, deletes, property changes (sd_store.c) ---------- */

/* Take the mailbox row for a change of several objects: ncn change numbers
   from *cn_r on, nids new ids from *gc_r on (gc_r may be NULL if nids is
   0); fills m->guid, m->used, m->quota. */
xc_status sd_take_ids(sd_db *db, int64_t mailbox, int ncn, int nids, mbx *m,
                      uint64_t *cn_r, uint64_t *gc_r);
/* Would delta more bytes take m past its quota? (Never when delta <= 0.) */
int sd_over_quota(const mbx *m, int64_t delta);
/* Add delta to the mailbox's used_bytes (and m->used). */
xc_status sd_use_bytes(sd_db *db, mbx *m, int64_t delta);
/* A statement whose result the caller doesn't read: sent if a pipeline is
   open (prepare it first: sd_prepare_store), else run now. */
xc_status sd_run(sd_db *db, const char *sql, int nparams,
                 const char *const *params, const int *lengths,
                 const int *formats);
/* "{1,2,3}": a list of ids as one array parameter, NUL-terminated in w;
   kind: 'u' uint64_t, 'i' int64_t, 'l' int32_t. -1 if w overflowed. */
int sd_id_array(xc_wbuf *w, const void *ids, size_t n, char kind);
/* End the pipeline; the first failure: st's, or the pipeline's. */
xc_status sd_pipe_end(sd_db *db, xc_status st);
/* Prepare every statement the helpers below may send in a pipeline, and
   extra (NULL-terminated, may be NULL). */
xc_status sd_prepare_store(sd_db *db, const char *const *extra);

/* Messages to move, copy or delete: their rows, with the PCL pointing into
   res (binary format). */
typedef struct sd_msg {
    uint64_t mid, fid;
    int fai, read;
    int64_t size;
    const uint8_t *pcl;
    size_t pcllen;
    int64_t creator;            /* user id, -1: unknown (the owner's) */
} sd_msg;
typedef struct sd_msgset {
    PGresult *res;
    sd_msg *v;
    size_t n;
} sd_msgset;
/* The messages with these ids, in this order, each once; ids that are
   negative or not found are left out. */
xc_status sd_msgs_by_id(sd_db *db, int64_t mailbox, const int64_t *mids,
                        size_t n, sd_msgset *s);
/* Every message in these folders (associated ones too if fai). */
xc_status sd_msgs_in_folders(sd_db *db, int64_t mailbox,
                             const uint64_t *fids, size_t nf, int fai,
                             sd_msgset *s);
void sd_msgset_free(sd_msgset *s);

/* Folder count changes gathered, then applied once per folder. */
typedef struct sd_counts {
    struct sd_count { uint64_t fid; int fai, content, unread; } *v;
    size_t n, cap;
} sd_counts;
int sd_counts_add(sd_counts *c, uint64_t fid, int fai, int content,
                  int unread);
xc_status sd_counts_apply(sd_db *db, int64_t mailbox, sd_counts *c);
void sd_counts_free(sd_counts *c);

/* Delete these messages: each a change number from *cn on (advanced), a
   tombstone and a "delete" change; their folders' counts into c (if not
   NULL) and their bytes off used_bytes. The caller holds the mailbox
   lock; statements go to the open pipeline if any. */
xc_status sd_delete_msgs(sd_db *db, mbx *m, const sd_msg *v, size_t n,
                         uint64_t *cn, sd_counts *c);
/* Copy message src as new_mid into fid with change number cn (a new change
   key; its PCL holds just that): the row, properties, recipients,
   attachments (blobs: one more reference each), the read state, and its
   "create" change. Counts and bytes are the caller's. */
xc_status sd_copy_msg(sd_db *db, const mbx *m, const sd_msg *src,
                      uint64_t new_mid, uint64_t fid, uint64_t cn);

/* [MS-OXCDATA] 2.4 error codes of PropertyProblems ([MS-OXCDATA] 2.7) */
#define EC_ACCESS_DENIED 0x80070005u
#define EC_INVALID_PARAM 0x80070057u
#define EC_DUPLICATE_NAME 0x80040604u
/* The content between START_MESSAGE and END_MESSAGE of req (arguments are
   then only what precedes it); -1 after answering BADREQ. */
int sd_content_of(sd_req *req, sd_reply *rp, const xc_propval **pv_r,
                  size_t *n_r);
/* Is a folder with this id in the mailbox? */
xc_status sd_folder_exists(sd_db *db, int64_t mailbox, uint64_t fid);
/* A string property (PT_STRING8 or PT_UNICODE) as NUL-terminated UTF-8 in
   w; -1 if it isn't one or doesn't convert. */
int sd_text_of(const xc_propval *pv, xc_wbuf *w);
/* Property changes of a folder (sd_folder.c): pv are the values to set
   (del == 0) or the tags to delete (del == 1, values unused); answers the
   request. */
void sd_folder_set_props(sd_db *db, sd_req *req, sd_reply *rp, mbx *m,
                         int64_t fid, const xc_propval *pv, size_t n,
                         int del);
/* Answer a property change: PROBLEMS, and CN and PR_CHANGE_KEY if made. */
void sd_reply_props(sd_reply *rp, const uint32_t *problems, size_t nprob,
                    const mbx *m, uint64_t cn);

#endif
