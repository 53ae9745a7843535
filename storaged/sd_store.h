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

/* The value columns of a binary-format result, in the order
   sd_emit_value reads them: tag, ival, fval, tval, bval, blob data. */
#define VALUE_COLS "p.tag, p.ival, p.fval, p.tval, p.bval, b.data"

/* The mailbox a request works on. */
typedef struct mbx {
    int64_t id;
    uint16_t replid;
    uint8_t guid[16];           /* [MS-OXCDATA] GUID byte order */
} mbx;

/* Which table a value goes to. */
enum { T_MSG, T_RECIP, T_ATTACH };

/* Big-endian integers of binary-format results. */
uint64_t sd_be64(const char *p);
uint32_t sd_be32(const char *p);
/* RFC 4122 byte order (PostgreSQL uuid) -> [MS-OXCDATA] 2.5.1 GUID. */
void sd_guid_from_uuid(uint8_t out[16], const uint8_t in[16]);
int64_t sd_filetime_of_epoch(double secs);

/* The caller's own mailbox, or answer NOTFOUND and return -1. */
int sd_open_mailbox(sd_req *req, sd_reply *rp, sd_user *me, mbx *m);
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
/* Store one value in table (T_*) for mid; sub is the recipient row or
   attachment number. */
xc_status sd_put_value(sd_db *db, int table, int64_t mailbox, uint64_t mid,
                       int32_t sub, const xc_propval *pv);
/* Append a stored value (binary result columns VALUE_COLS from col) to w. */
void sd_emit_value(xc_wbuf *w, PGresult *res, int row, int col);

#endif
