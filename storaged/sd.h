/*
 * NAME
 *   sd.h - storaged internal interfaces
 *
 * DESCRIPTION
 *   storaged is the information store daemon. Threads: the main thread
 *   accepts connections on the UNIX socket; one reader thread per client
 *   connection splits its byte stream into request frames and queues them;
 *   a fixed pool of worker threads, each owning one libpq connection, runs
 *   the requests and writes the answers back (in any order: several
 *   requests of one connection may be in flight); one thread LISTENs for
 *   directory changes from other storaged instances and admin tools.
 */
#ifndef SD_H
#define SD_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <libpq-fe.h>

#include "xc_wire.h"

/* ---- configuration (sd_conf.c) ---- */
typedef struct sd_conf {
    char socket_path[108];
    char socket_group[64];
    unsigned socket_mode;
    char allow_users[512];      /* comma-separated user names */
    char trusted_users[512];    /* may act for any user (mtad): names */
    char pid_file[256];
    char database[1024];        /* libpq conninfo */
    int workers;
    int max_connections;
    size_t max_frame;
    size_t max_message_size;    /* bytes of PR_MESSAGE_SIZE */
    size_t max_stream_memory;   /* bytes all streamed requests may hold */
    char spool_dir[256];        /* where larger ones wait (default: the
                                   socket's directory) */
    int max_inflight;           /* per connection */
    int auth_cache_ttl;         /* seconds; 0 = off */
    int auth_fail_window;       /* seconds */
    int auth_fail_max_user;
    int auth_fail_max_source;
    int session_idle;           /* seconds */
    int max_sessions;
    int io_timeout;             /* seconds a client may stall a write */
    int expire_interval;        /* seconds between xc_expire runs */
    int log_debug;
} sd_conf;

void sd_conf_defaults(sd_conf *c);
/* 0, or -1 with a message naming the line. */
int sd_conf_load(sd_conf *c, const char *path, char *err, size_t errlen);

/* ---- logging (sd_log.c) ---- */
/* Every message carries a unique number SDnnnnn (build/next-logno). */
void sd_log_info(int no, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sd_log_warn(int no, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sd_log_error(int no, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sd_log_debug(int no, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
extern int sd_log_debug_on;
/* Copy s into dst with control characters and quotes escaped (\xNN), so
   client-supplied text can't forge log lines. */
void sd_log_sanitize(char *dst, size_t dstlen, const char *s, size_t n);

/* ---- database (sd_db.c) ---- */
#define SD_DB_MAX_PREPARED 256     /* statements prepared per connection */
#define SD_DB_MAX_KEPT 64          /* results one pipeline keeps */
typedef struct sd_db {
    PGconn *conn;
    const char *conninfo;
    const char *prepared[SD_DB_MAX_PREPARED];   /* sql texts, by index */
    int nprepared;
    int in_tx;                  /* inside sd_db_begin .. commit/rollback */
    int piped;                  /* statements sent, results not yet read */
    xc_status pipe_st;          /* first failure in the pipeline */
    long sent, done;            /* statements of this pipeline */
    long keep_at[SD_DB_MAX_KEPT];   /* whose results are kept */
    PGresult *kept[SD_DB_MAX_KEPT]; /* those results (sd_db_pipe_kept) */
    int nkeep, nkept, ntaken;       /* asked for, arrived, handed over */
    struct sd_held *held;       /* see sd_store.c save_new; else NULL */
    /* A queued recipient (sql/018) that the message being saved delivers:
       it leaves the queue in the same transaction (IMPORT_MIME from mtad,
       sd_mime.c); queue 0: none. */
    int64_t dequeue_id;
    int32_t dequeue_idx;
} sd_db;

int sd_db_open(sd_db *db, const char *conninfo);
void sd_db_close(sd_db *db);
/*
 * Run a parameterised statement (text parameters), prepared on first use
 * per connection: sql must have static storage (its address names it). If
 * the connection was lost (PostgreSQL restarted), reconnect and retry once.
 * Returns the result (caller PQclear()s) or NULL; *st_r tells XC_E_TEMP for
 * a lost database.
 */
PGresult *sd_db_exec(sd_db *db, const char *sql, int nparams,
                     const char *const *params, xc_status *st_r);
/* The same with per-parameter lengths and formats (1 = binary, for
   bytea) and a result format (1 = binary); NULL arrays mean text. */
PGresult *sd_db_execv(sd_db *db, const char *sql, int nparams,
                      const char *const *params, const int *lengths,
                      const int *formats, int result_format,
                      xc_status *st_r);
/* A statement whose text varies (compiled restrictions): never prepared,
   planned for these parameters; the same retry rules. */
PGresult *sd_db_exec_dynamic(sd_db *db, const char *sql, int nparams,
                             const char *const *params, const int *lengths,
                             const int *formats, int result_format,
                             xc_status *st_r);
/*
 * Transactions. Inside one, a lost connection is not retried (the work
 * so far is gone with it): the statement fails with XC_E_TEMP and the
 * caller rolls back, which is then a no-op.
 */
/*
 * Pipelines (libpq pipeline mode): statements are sent without waiting
 * for their results, which are read (and checked) in batches and at
 * sd_db_pipe_end. Use inside a transaction; the first failure's status is
 * returned by the send that saw it or by sd_db_pipe_end.
 */
xc_status sd_db_pipe_begin(sd_db *db);
xc_status sd_db_pipe_send(sd_db *db, const char *sql, int nparams,
                          const char *const *params, const int *lengths,
                          const int *formats);
xc_status sd_db_pipe_end(sd_db *db);
/* Keep the result (rows) of the next statement sent (up to
   SD_DB_MAX_KEPT in one pipeline; more are not kept); after
   sd_db_pipe_end, sd_db_pipe_kept hands them over in the order they were
   asked for (caller PQclear()s; NULL once a statement failed or never
   ran). */
void sd_db_pipe_keep(sd_db *db);
PGresult *sd_db_pipe_kept(sd_db *db);
/* BEGIN and COMMIT as statements of a pipeline (after sd_db_pipe_begin):
   the whole transaction in one round trip. When sd_db_pipe_end fails, the
   caller still calls sd_db_rollback. */
xc_status sd_db_pipe_tx_begin(sd_db *db);
xc_status sd_db_pipe_tx_commit(sd_db *db);
/* Outside a transaction: make sure the connection is alive, noticing
   without blocking one PostgreSQL closed while it was idle (a restart),
   and make a new one if not; before preparing a pipeline's statements. */
xc_status sd_db_ready(sd_db *db);
/* Prepare sql (static storage) now, e.g. before a pipeline. */
xc_status sd_db_prepare(sd_db *db, const char *sql, int nparams);
xc_status sd_db_begin(sd_db *db);
xc_status sd_db_commit(sd_db *db);
void sd_db_rollback(sd_db *db);
/* Listen thread: flush caches on NOTIFY xc_directory. */
/* The listener thread: NOTIFYs, the state file's heartbeat, and every
   expire_interval seconds the expiry of old tombstones (sql/009). */
int sd_db_listen_start(const char *conninfo, int expire_interval);

/* The background full-text indexer (sd_index.c): started after the
   workers, poked by the listener on every change. */
int sd_index_start(const char *conninfo);
void sd_index_poke(void);
void sd_index_stop(void);
void sd_db_listen_stop(void);

/* ---- authentication and sessions (sd_auth.c) ---- */
typedef struct sd_user {
    int64_t user_id;
    int64_t mailbox_id;
    char address[321];          /* primary SMTP address */
    char display_name[257];
    char legacy_dn[512];
    char mailbox_guid[37];
    char deployment_id[37];
    uint16_t replica_id;        /* of the mailbox: the low 16 bits of ids */
} sd_user;

/*
 * The columns that make an sd_user, in the order sd_user_from_row reads
 * them; FROM must bind u (users), m (mailboxes) and p (primary address).
 */
#define SD_USER_COLS                                                        \
    "u.id, m.id, p.address, u.display_name, u.legacy_dn, m.replica_guid, "  \
    "(SELECT value FROM settings WHERE key = 'deployment_id'), m.replica_id"
#define SD_USER_NCOLS 8
void sd_user_from_row(PGresult *res, int row, sd_user *u);

int sd_auth_init(const sd_conf *conf);
void sd_auth_fini(void);
/* Flush the caches (directory changed). */
void sd_auth_flush(void);
/* The NOTIFY listener connected (1) or lost its connection (0): caches are
   used only while it is connected. */
void sd_auth_listening(int on);
/* Address-lookup cache: key is a lower-cased address or legacy DN. Take the
   generation before reading the database and pass it to sd_dir_put. */
int sd_dir_get(const char *key, sd_user *u);
unsigned long sd_dir_generation(void);
void sd_dir_put(const char *key, const sd_user *u, unsigned long gen);
xc_status sd_auth_login(sd_db *db, const char *user, const char *password,
                        const char *remote, sd_user *u, char token[65]);
/* A session for user (an address) without a password, for a trusted
   local peer (uid root or storaged's own: admin tools, mtad): logged.
   XC_E_NOTFOUND for an unknown or disabled user. */
xc_status sd_auth_trusted(sd_db *db, const char *user, uid_t peer, sd_user *u,
                          char token[65]);
/* The cached-login path of sd_auth_login only: 1 and the session if the
   credentials were verified before (no directory change since), else 0. */
int sd_auth_login_cached(const char *user, const char *password,
                         const char *remote, sd_user *u, char token[65]);
/* Look up a session; fills *u. */
xc_status sd_session_get(const char *token, sd_user *u);
void sd_session_drop(const char *token);

/* ---- published state for clients' caches (sd_state.c) ---- */
int sd_state_open(const sd_conf *conf);
void sd_state_set(int valid);       /* under sd_auth's lock */
void sd_state_heartbeat(void);
void sd_state_close(void);

/* ---- request handling (sd_ops.c) ---- */
typedef struct sd_req {
    xw_hdr hdr;
    const uint8_t *payload;
    size_t len;
    xc_propval *args;           /* decoded payload, sized per request */
    size_t nargs;
    /* A streamed argument (the request frame had XW_F_MORE; XW_F_CHUNK
       frames of its request id brought these bytes), else NULL. The
       PT_OBJECT argument that announced it gives its length. */
    const uint8_t *stream;
    size_t stream_len;
    uid_t peer_uid;             /* the connecting process's (SO_PEERCRED) */
} sd_req;

/* A response writer: rows and the final frame go through it. */
typedef struct sd_reply sd_reply;
int sd_reply_row(sd_reply *rp, xc_wbuf *row);      /* row: payload only */
xc_wbuf *sd_reply_begin_row(sd_reply *rp);
xc_wbuf *sd_reply_final(sd_reply *rp);             /* status already put */
/* A streamed value's bytes as XW_F_CHUNK frames, before the final frame
   (which then carries the PT_OBJECT length); -1 if the client is gone. */
int sd_reply_stream(sd_reply *rp, const uint8_t *p, size_t n);
void sd_reply_status(sd_reply *rp, xc_status st, const char *msg);

void sd_ops_run(sd_db *db, sd_req *req, sd_reply *rp);
/* Argument helpers: 0, or -1 if absent (strings: or too long). */
int sd_arg_str(const sd_req *req, uint32_t tag, char *dst, size_t len);
int sd_arg_i8(const sd_req *req, uint32_t tag, int64_t *v);
/* The caller's session; answers the request itself and returns -1 if
   there is none. */
int sd_need_session(const sd_req *req, sd_reply *rp, sd_user *u);

/* ---- the store (sd_store.c) ---- */
void sd_store_create_folder(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_save_message(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_get_message(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_delete_messages(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_contents(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_set_read(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_changes(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_names_to_ids(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_subscribe(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_unsubscribe(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_move_messages(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_copy_messages(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_set_props(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_delete_props(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_quota(sd_db *db, sd_req *req, sd_reply *rp);
void sd_mime_import(sd_db *db, sd_req *req, sd_reply *rp);
void sd_mime_get(sd_db *db, sd_req *req, sd_reply *rp);
void sd_store_read_prop(sd_db *db, sd_req *req, sd_reply *rp);
void sd_perm_get(sd_db *db, sd_req *req, sd_reply *rp);
void sd_perm_set(sd_db *db, sd_req *req, sd_reply *rp);
/* folders (sd_folder.c) */
void sd_folder_delete(sd_db *db, sd_req *req, sd_reply *rp);
void sd_folder_move(sd_db *db, sd_req *req, sd_reply *rp);
void sd_folder_copy(sd_db *db, sd_req *req, sd_reply *rp);
void sd_folder_empty(sd_db *db, sd_req *req, sd_reply *rp);
void sd_folder_get(sd_db *db, sd_req *req, sd_reply *rp);
void sd_folder_set_search(sd_db *db, sd_req *req, sd_reply *rp);
void sd_folder_get_search(sd_db *db, sd_req *req, sd_reply *rp);
/* Answer req from memory if possible (no database): 1 if answered, 0 if it
   must go to a worker. Called by connection reader threads. */
int sd_ops_fast(sd_req *req, sd_reply *rp);
/* root, storaged's own user or one of trusted_users (sd_main.c) */
int sd_peer_trusted(uid_t uid);

/* ---- the mail queue (sd_queue.c, sql/018) ---- */
void sd_queue_rcpt_check(sd_db *db, sd_req *req, sd_reply *rp);
void sd_queue_put(sd_db *db, sd_req *req, sd_reply *rp);
void sd_queue_take(sd_db *db, sd_req *req, sd_reply *rp);
void sd_queue_read(sd_db *db, sd_req *req, sd_reply *rp);
void sd_queue_defer(sd_db *db, sd_req *req, sd_reply *rp);
void sd_queue_done(sd_db *db, sd_req *req, sd_reply *rp);
void sd_queue_stats(sd_db *db, sd_req *req, sd_reply *rp);

/* ---- IMAP's view of a folder (sd_imap.c, sql/020) ---- */
void sd_imap_list(sd_db *db, sd_req *req, sd_reply *rp);

/* ---- connections and workers (sd_conn.c) ---- */
extern const sd_conf *sd_config;
int sd_workers_start(const sd_conf *conf);
void sd_workers_stop(void);
/* Take over an accepted client fd (peer already checked). */
int sd_conn_start(int fd, uid_t uid, pid_t pid);
/* Subscriptions live on the connection that made them (sd_conn.c). */
xc_status sd_conn_subscribe(sd_reply *rp, uint32_t subid, int64_t mailbox,
                            int64_t fid);
xc_status sd_conn_unsubscribe(sd_reply *rp, uint32_t subid);
int sd_conns_have_subscribers(void);
/* Push one committed change to every subscriber of its mailbox/folder. */
void sd_conns_notify(int64_t mailbox, uint16_t replid, uint64_t cn,
                     const char *kind, uint64_t fid, int64_t mid);
uint32_t sd_reply_reqid(const sd_reply *rp);
void sd_conns_shutdown(void);
int sd_conns_count(void);

#endif
