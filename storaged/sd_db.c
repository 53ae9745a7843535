/*
 * NAME
 *   sd_db - libpq connections of storaged
 *
 * DESCRIPTION
 *   Each worker thread owns one connection (so the worker pool is the
 *   connection pool). Statements are always parameterised (PQexecParams).
 *   When PostgreSQL restarts, the next statement fails with the connection
 *   gone: we reset it and retry once; if the database is still away the
 *   request gets XC_E_TEMP and the client may retry.
 *
 *   A separate thread LISTENs on "xc_directory": the SQL triggers of sql/
 *   notify it whenever users, addresses or domains change, wherever the
 *   change was made, and it flushes the credential cache.
 */
#include "sd.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int connect_db(sd_db *db)
{
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->nprepared = 0;          /* statements die with the connection */
    db->conn = PQconnectdb(db->conninfo);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        sd_log_error(4, "cannot connect to PostgreSQL: %s",
                     PQerrorMessage(db->conn));
        return -1;
    }
    /* every string on our wire is UTF-8, whatever the environment says;
       JIT compilation costs more than our short queries take; times as
       text (category ids of grouped tables) the same on every server;
       notices (to_tsvector's "word is too long to be indexed" for every
       long token of a message) are not worth a log line each */
    {
        PGresult *r = PQexec(db->conn, "SET client_encoding = 'UTF8'; "
                                       "SET jit = off; "
                                       "SET client_min_messages = warning; "
                                       "SET TimeZone = 'UTC'");
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            sd_log_error(4, "cannot set up the PostgreSQL session: %s",
                         PQerrorMessage(db->conn));
            return -1;
        }
    }
    return 0;
}

/* Whether an idle connection is still open: one PostgreSQL closed (a
   restart tells its clients so, then closes) has that, and then the end
   of the stream, waiting to be read. Never blocks. */
static int idle_alive(PGconn *conn)
{
    for (int i = 0; i < 4; i++) {
        struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };
        if (poll(&p, 1, 0) <= 0)
            return 1;           /* nothing to read */
        if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
            return 0;
    }
    return 1;
}

/* A connection to work on: outside a transaction, a lost one is made
   again (as run() does for a statement), so a request that starts with a
   prepare or a pipeline doesn't fail on a connection PostgreSQL closed
   long ago (a restart); with look, an idle one is checked first. */
static int ensure_conn(sd_db *db, int look)
{
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK &&
        (!look || db->in_tx || idle_alive(db->conn)))
        return 0;
    if (db->in_tx || connect_db(db) < 0)
        return -1;
    sd_log_info(5, "reconnected to PostgreSQL");
    return 0;
}

int sd_db_open(sd_db *db, const char *conninfo)
{
    db->conn = NULL;
    db->nprepared = 0;
    db->in_tx = 0;
    db->held = NULL;
    db->nkeep = db->nkept = db->ntaken = 0;
    db->dequeue_id = 0;
    db->dequeue_idx = 0;
    db->conninfo = conninfo;
    return connect_db(db);
}

void sd_db_close(sd_db *db)
{
    while (db->ntaken < db->nkept)
        PQclear(db->kept[db->ntaken++]);
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->conn = NULL;
}

/* The name of sql's prepared statement on this connection, preparing it
   first if needed; NULL if preparing failed. */
static const char *prepared(sd_db *db, const char *sql, int nparams,
                            char name[16])
{
    int i;

    for (i = 0; i < db->nprepared; i++)
        if (db->prepared[i] == sql)
            break;
    snprintf(name, 16, "sd%d", i);
    if (i < db->nprepared)
        return name;
    if (i == SD_DB_MAX_PREPARED)
        return NULL;
    {
        PGresult *r = PQprepare(db->conn, name, sql, nparams, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok && PQstatus(db->conn) == CONNECTION_OK)
            sd_log_error(6, "cannot prepare a statement: %s",
                         PQresultErrorMessage(r));
        PQclear(r);
        if (!ok)
            return NULL;
    }
    db->prepared[db->nprepared++] = sql;
    return name;
}

PGresult *sd_db_exec(sd_db *db, const char *sql, int nparams,
                     const char *const *params, xc_status *st_r)
{
    return sd_db_execv(db, sql, nparams, params, NULL, NULL, 0, st_r);
}

static PGresult *run(sd_db *db, const char *sql, int nparams,
                     const char *const *params, const int *lengths,
                     const int *formats, int result_format, int dynamic,
                     xc_status *st_r);
static xc_status status_of(PGresult *r);

PGresult *sd_db_execv(sd_db *db, const char *sql, int nparams,
                      const char *const *params, const int *lengths,
                      const int *formats, int result_format,
                      xc_status *st_r)
{
    return run(db, sql, nparams, params, lengths, formats, result_format, 0,
               st_r);
}

PGresult *sd_db_exec_dynamic(sd_db *db, const char *sql, int nparams,
                             const char *const *params, const int *lengths,
                             const int *formats, int result_format,
                             xc_status *st_r)
{
    return run(db, sql, nparams, params, lengths, formats, result_format, 1,
               st_r);
}

static PGresult *run(sd_db *db, const char *sql, int nparams,
                     const char *const *params, const int *lengths,
                     const int *formats, int result_format, int dynamic,
                     xc_status *st_r)
{
    if (db == NULL) {           /* a reader thread's fast path: no database */
        *st_r = XC_E_TEMP;
        return NULL;
    }
    for (int attempt = 0; attempt < (db->in_tx ? 1 : 2); attempt++) {
        PGresult *res;
        ExecStatusType es;
        char name[16];

        if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
            if (db->in_tx)
                break;          /* the transaction died with it */
            if (connect_db(db) < 0)
                break;
            sd_log_info(5, "reconnected to PostgreSQL");
        }
        if (!dynamic && prepared(db, sql, nparams, name) != NULL)
            res = PQexecPrepared(db->conn, name, nparams, params, lengths,
                                 formats, result_format);
        else if (PQstatus(db->conn) == CONNECTION_OK)
            res = PQexecParams(db->conn, sql, nparams, NULL, params, lengths,
                               formats, result_format);
        else
            res = NULL;
        es = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
            *st_r = XC_OK;
            return res;
        }
        if (PQstatus(db->conn) == CONNECTION_OK) {
            /* a real SQL error, not a lost connection: constraint
               violations are the caller's "exists" / "not found" */
            if (res != NULL) {
                *st_r = status_of(res);
            } else {
                sd_log_error(6, "query failed: no result");
                *st_r = XC_E_INTERNAL;
            }
            PQclear(res);
            return NULL;
        }
        PQclear(res);
        sd_log_warn(6, "lost the PostgreSQL connection, reconnecting");
    }
    *st_r = XC_E_TEMP;
    return NULL;
}

static const char sql_begin[] = "BEGIN";
static const char sql_commit[] = "COMMIT";

#define PIPE_BATCH 32            /* statements between syncs */

static xc_status status_of(PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    if (state != NULL && strcmp(state, "23505") == 0)
        return XC_E_EXISTS;
    if (state != NULL && strcmp(state, "23503") == 0)
        return XC_E_NOTFOUND;
    if (state != NULL && strcmp(state, "XCQ01") == 0)
        return XC_E_NOQUOTA;    /* sql/020 xc_new_messages */
    if (state != NULL && strcmp(state, "XCS01") == 0)
        return XC_E_PERM;       /* sql/016: into a search folder */
    if (state != NULL && strcmp(state, "XCD01") == 0)
        return XC_E_EXISTS;     /* sql/018: delivered already */
    sd_log_error(6, "query failed: %s", PQresultErrorMessage(r));
    /* a deadlock or serialization failure: the transaction may be tried
       again, and the client is told so; so may anything after a shutdown
       or a lost connection (classes 57, 08) */
    if (state != NULL && (strcmp(state, "40P01") == 0 ||
                          strcmp(state, "40001") == 0 ||
                          strncmp(state, "57", 2) == 0 ||
                          strncmp(state, "08", 2) == 0))
        return XC_E_TEMP;
    return XC_E_INTERNAL;
}

xc_status sd_db_pipe_begin(sd_db *db)
{
    db->piped = 0;
    db->pipe_st = XC_OK;
    db->sent = db->done = 0;
    while (db->ntaken < db->nkept)     /* left by a failed pipeline */
        PQclear(db->kept[db->ntaken++]);
    db->nkeep = db->nkept = db->ntaken = 0;
    if (ensure_conn(db, 0) < 0)
        return XC_E_TEMP;
    if (sd_db_prepare(db, sql_begin, 0) != XC_OK ||
        sd_db_prepare(db, sql_commit, 0) != XC_OK)
        return XC_E_TEMP;
    return PQenterPipelineMode(db->conn) ? XC_OK : XC_E_INTERNAL;
}

/* Sync and read every result sent so far; remember the first failure. */
static void pipe_drain(sd_db *db)
{
    PGresult *r;

    if (db->piped == 0)
        return;
    if (!PQpipelineSync(db->conn)) {
        db->pipe_st = XC_E_TEMP;
        db->piped = 0;
        return;
    }
    for (;;) {
        r = PQgetResult(db->conn);
        if (r == NULL) {
            if (PQstatus(db->conn) != CONNECTION_OK) {
                db->pipe_st = XC_E_TEMP;
                db->piped = 0;
                return;
            }
            db->done++;         /* end of one statement's results */
            continue;
        }
        if (db->nkept < db->nkeep && db->done == db->keep_at[db->nkept] &&
            PQresultStatus(r) == PGRES_TUPLES_OK) {
            db->kept[db->nkept++] = r;  /* the caller's (sd_db_pipe_keep) */
            continue;
        }
        switch (PQresultStatus(r)) {
        case PGRES_PIPELINE_SYNC:
            PQclear(r);
            db->piped = 0;
            return;
        case PGRES_COMMAND_OK: case PGRES_TUPLES_OK:
        case PGRES_PIPELINE_ABORTED:
            break;
        default:
            if (db->pipe_st == XC_OK)
                db->pipe_st = PQstatus(db->conn) == CONNECTION_OK
                                  ? status_of(r) : XC_E_TEMP;
            if (PQstatus(db->conn) != CONNECTION_OK) {
                PQclear(r);
                db->piped = 0;
                return;
            }
            break;
        }
        PQclear(r);
    }
}

xc_status sd_db_pipe_send(sd_db *db, const char *sql, int nparams,
                          const char *const *params, const int *lengths,
                          const int *formats)
{
    char name[16];
    int i;

    if (db->pipe_st != XC_OK)
        return db->pipe_st;
    /* statements are prepared before the pipeline (see sd_db_prepare) */
    for (i = 0; i < db->nprepared; i++)
        if (db->prepared[i] == sql)
            break;
    if (i == db->nprepared)
        return XC_E_INTERNAL;
    snprintf(name, sizeof(name), "sd%d", i);
    if (!PQsendQueryPrepared(db->conn, name, nparams, params, lengths,
                             formats, 0)) {
        db->pipe_st = XC_E_TEMP;
        return db->pipe_st;
    }
    db->sent++;
    if (++db->piped >= PIPE_BATCH)
        pipe_drain(db);
    return db->pipe_st;
}

void sd_db_pipe_keep(sd_db *db)
{
    if (db->nkeep < SD_DB_MAX_KEPT)
        db->keep_at[db->nkeep++] = db->sent;
}

PGresult *sd_db_pipe_kept(sd_db *db)
{
    return db->ntaken < db->nkept ? db->kept[db->ntaken++] : NULL;
}

xc_status sd_db_pipe_end(sd_db *db)
{
    pipe_drain(db);
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK &&
        !PQexitPipelineMode(db->conn) && db->pipe_st == XC_OK)
        db->pipe_st = XC_E_INTERNAL;
    return db->pipe_st;
}

xc_status sd_db_ready(sd_db *db)
{
    return ensure_conn(db, 1) < 0 ? XC_E_TEMP : XC_OK;
}

xc_status sd_db_prepare(sd_db *db, const char *sql, int nparams)
{
    char name[16];

    if (ensure_conn(db, 0) < 0)
        return XC_E_TEMP;
    if (prepared(db, sql, nparams, name) != NULL)
        return XC_OK;
    return PQstatus(db->conn) == CONNECTION_OK ? XC_E_INTERNAL : XC_E_TEMP;
}

static xc_status simple(sd_db *db, const char *sql)
{
    xc_status st;
    PGresult *r = sd_db_exec(db, sql, 0, NULL, &st);

    PQclear(r);
    return r != NULL ? XC_OK : st;
}

xc_status sd_db_begin(sd_db *db)
{
    xc_status st = simple(db, sql_begin);

    db->in_tx = st == XC_OK;
    return st;
}

xc_status sd_db_commit(sd_db *db)
{
    xc_status st = simple(db, sql_commit);

    db->in_tx = 0;
    return st;
}

xc_status sd_db_pipe_tx_begin(sd_db *db)
{
    xc_status st;

    if ((st = sd_db_pipe_send(db, sql_begin, 0, NULL, NULL, NULL)) == XC_OK)
        db->in_tx = 1;
    return st;
}

/* in_tx stays set: sd_db_pipe_end tells whether the COMMIT ran */
xc_status sd_db_pipe_tx_commit(sd_db *db)
{
    return sd_db_pipe_send(db, sql_commit, 0, NULL, NULL, NULL);
}

void sd_db_rollback(sd_db *db)
{
    static const char sql[] = "ROLLBACK";

    if (db->in_tx && db->conn != NULL &&
        PQstatus(db->conn) == CONNECTION_OK)
        (void)simple(db, sql);
    db->in_tx = 0;
}

static pthread_t listen_thread;
static int listen_stop_pipe[2] = { -1, -1 };
static char *listen_conninfo;
static int listen_expire_interval;

#define EXPIRE_BATCH 10000

/* Forget old change-log rows and tombstones (sql/009) and delete large
   values nobody references (sql/013); when in the middle of a backlog,
   again in a second. Returns when to run next. */
static time_t expire(PGconn *conn, time_t now)
{
    static const char sql[] = "SELECT xc_expire(10000)";
    PGresult *r = PQexec(conn, sql);
    long long n = 0;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        sd_log_warn(34, "expiry failed: %s", PQresultErrorMessage(r));
    PQclear(r);
    if (n > 0)
        sd_log_info(33, "expired %lld old change-log rows and tombstones", n);
    /* large values nobody references any more (sql/013) */
    r = PQexec(conn, "SELECT xc_blob_sweep(1000)");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        long long b = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (b >= 1000)
            n = EXPIRE_BATCH;       /* more to do: again in a second */
    } else {
        sd_log_warn(34, "removing unreferenced values failed: %s",
                    PQresultErrorMessage(r));
    }
    PQclear(r);
    return now + (n >= EXPIRE_BATCH ? 1 : listen_expire_interval);
}

/*
 * A change committed by any storaged on this database ("mailbox:cn" from
 * the changes trigger): tell our subscribers. Only read when someone
 * subscribed; a lost push is recovered by the client through CHANGES.
 */
static void push_change(PGconn *conn, const char *payload)
{
    static const char sql[] =
        "SELECT c.kind, c.fid, c.mid, m.replica_id FROM changes c "
        "JOIN mailboxes m ON m.id = c.mailbox_id "
        "WHERE c.mailbox_id = $1 AND c.cn = $2";
    char mbx[24], cn[24];
    const char *params[2] = { mbx, cn };
    const char *colon = strchr(payload, ':');
    PGresult *r;

    if (!sd_conns_have_subscribers() || colon == NULL ||
        (size_t)(colon - payload) >= sizeof(mbx) || strlen(colon + 1) >= sizeof(cn))
        return;
    memcpy(mbx, payload, (size_t)(colon - payload));
    mbx[colon - payload] = '\0';
    snprintf(cn, sizeof(cn), "%s", colon + 1);
    r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        sd_conns_notify(strtoll(mbx, NULL, 10),
                        (uint16_t)atoi(PQgetvalue(r, 0, 3)),
                        (uint64_t)strtoll(cn, NULL, 10), PQgetvalue(r, 0, 0),
                        (uint64_t)strtoll(PQgetvalue(r, 0, 1), NULL, 10),
                        PQgetisnull(r, 0, 2) ? -1
                            : strtoll(PQgetvalue(r, 0, 2), NULL, 10));
    PQclear(r);
}

/*
 * Act on the notifications libpq has read. Every query on the listening
 * connection (expiry, push_change) may read some too: they wait in
 * libpq, not on the socket, so this runs after each of those as well.
 */
static void drain_notifies(PGconn *conn)
{
    PGnotify *n;
    int got = 0;

    while ((n = PQnotifies(conn)) != NULL) {
        if (strcmp(n->relname, "xc_change") == 0) {
            push_change(conn, n->extra);
            sd_index_poke();
        } else {
            got = 1;
        }
        PQfreemem(n);
    }
    if (got) {
        sd_log_debug(14, "directory changed: caches flushed");
        sd_auth_flush();
    }
}

/*
 * Wakes at least once a second: to beat the heart of the state file
 * (sd_state.c), and to retry PostgreSQL with a growing back-off while it
 * is away (during which caches are off).
 */
static void *listen_main(void *arg)
{
    PGconn *conn = NULL;
    int backoff = 1;
    time_t next_try = 0, next_expire = time(NULL) + 1;

    (void)arg;
    for (;;) {
        struct pollfd p[2];
        int up = conn != NULL && PQstatus(conn) == CONNECTION_OK;

        sd_state_heartbeat();
        if (up && time(NULL) >= next_expire) {
            next_expire = expire(conn, time(NULL));
            drain_notifies(conn);   /* those that came during it */
        }
        if (!up && time(NULL) >= next_try) {
            PGresult *r;

            if (conn != NULL)
                PQfinish(conn);
            conn = PQconnectdb(listen_conninfo);
            r = PQstatus(conn) == CONNECTION_OK
                    ? PQexec(conn, "LISTEN xc_directory; LISTEN xc_change")
                    : NULL;
            if (r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK) {
                /* changes may have happened while we were away: start
                   from empty caches */
                sd_auth_listening(1);
                backoff = 1;
                up = 1;
            } else {
                if (r != NULL)
                    sd_log_error(13, "LISTEN failed: %s",
                                 PQresultErrorMessage(r));
                PQfinish(conn);
                conn = NULL;
                next_try = time(NULL) + backoff;
                if (backoff < 30)
                    backoff *= 2;
            }
            PQclear(r);
        }
        p[0].fd = listen_stop_pipe[0];
        p[0].events = POLLIN;
        p[1].fd = up ? PQsocket(conn) : -1;
        p[1].events = POLLIN;
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if (up && p[1].revents) {
            if (!PQconsumeInput(conn)) {
                sd_auth_listening(0);   /* caches off until we're back */
                sd_log_warn(13, "directory listener lost PostgreSQL: %s",
                            PQerrorMessage(conn));
                PQfinish(conn);
                conn = NULL;
                continue;
            }
            drain_notifies(conn);
        }
    }
    if (conn != NULL)
        PQfinish(conn);
    return NULL;
}

int sd_db_listen_start(const char *conninfo, int expire_interval)
{
    listen_expire_interval = expire_interval;
    listen_conninfo = strdup(conninfo);
    if (listen_conninfo == NULL || pipe(listen_stop_pipe) < 0)
        return -1;
    return pthread_create(&listen_thread, NULL, listen_main, NULL) ? -1 : 0;
}

void sd_db_listen_stop(void)
{
    if (listen_stop_pipe[1] < 0)
        return;
    if (write(listen_stop_pipe[1], "x", 1) != 1)
        return;
    pthread_join(listen_thread, NULL);
    close(listen_stop_pipe[0]);
    close(listen_stop_pipe[1]);
    free(listen_conninfo);
}
