/*
 * NAME
 *   sd_index - the full-text index, kept in the background
 *
 * DESCRIPTION
 *   Saves queue the messages whose content changed (sql/010); this thread
 *   indexes them (xc_index_queued) on a connection of its own. The
 *   listener pokes it on every change notification, and it starts a round
 *   GATHER_MS later (one round for all saves of that moment, not one
 *   each), so a message is searchable a moment after its commit; without
 *   a poke it looks once a second (changes made while PostgreSQL's
 *   notifications were away).
 *
 *   Indexing is work that can wait: when PostgreSQL runs on this machine
 *   as storaged's user (`make run`, the tests, small installations), the
 *   backend that indexes is given the lowest CPU priority (SCHED_IDLE, or
 *   nice 10 where that is refused), so that
 *   under a burst of mail saves and deliveries go first and the index
 *   catches up as soon as there is room, as Exchange's content index
 *   follows the store. Elsewhere the priority can't be changed and stays.
 */
#include "sd.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BATCH 200               /* messages a round takes at most */
#define STR_(x) #x
#define STR(x) STR_(x)
#define GATHER_MS 50            /* after a poke, let more changes come */

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int poked, stopping, running;
static const char *conninfo;

/* Lower the priority of the backend serving db (once per connection). */
static void yield_cpu(sd_db *db)
{
    static int last_pid, warned;
    int pid = db->conn ? PQbackendPID(db->conn) : 0;

    if (pid == 0 || pid == last_pid)
        return;
    last_pid = pid;
    /* SCHED_IDLE: only when nothing else wants the CPU; else nice 10 */
    {
        struct sched_param sp = { .sched_priority = 0 };
        if (sched_setscheduler((pid_t)pid, SCHED_IDLE, &sp) == 0)
            return;
    }
    if (setpriority(PRIO_PROCESS, (id_t)pid, 10) < 0 && !warned) {
        warned = 1;
        sd_log_debug(68, "indexer keeps its CPU priority: %s",
                     strerror(errno));
    }
}

/* Index one batch; how many messages were taken from the queue. */
static long batch(sd_db *db)
{
    static const char sql[] = "SELECT xc_index_queued(" STR(BATCH) ")";
    xc_status st;
    PGresult *res = sd_db_exec(db, sql, 0, NULL, &st);
    long n = 0;

    if (res == NULL) {
        sd_log_warn(35, "indexing failed (status %d); retrying", (int)st);
        return 0;
    }
    if (PQntuples(res) == 1)
        n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    yield_cpu(db);
    return n;
}

static void *index_main(void *arg)
{
    sd_db db;

    (void)arg;
    (void)sd_db_open(&db, conninfo);    /* retried per query */
    pthread_mutex_lock(&lock);
    while (!stopping) {
        if (!poked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            (void)pthread_cond_timedwait(&wake, &lock, &ts);
        }
        poked = 0;
        pthread_mutex_unlock(&lock);
        /* a round costs about a millisecond besides the messages it
           indexes: under a stream of saves, index them in batches */
        {
            struct timespec gather = { 0, GATHER_MS * 1000000L };
            nanosleep(&gather, NULL);
        }
        while (batch(&db) >= BATCH && !__atomic_load_n(&stopping,
                                                       __ATOMIC_ACQUIRE))
            ;
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    sd_db_close(&db);
    return NULL;
}

int sd_index_start(const char *info)
{
    conninfo = info;
    if (pthread_create(&thread, NULL, index_main, NULL) != 0)
        return -1;
    running = 1;
    return 0;
}

void sd_index_poke(void)
{
    pthread_mutex_lock(&lock);
    poked = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void sd_index_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    __atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = 0;
}
