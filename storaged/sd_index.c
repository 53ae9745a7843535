/*
 * NAME
 *   sd_index - the full-text index, kept in the background
 *
 * DESCRIPTION
 *   Saves queue the messages whose content changed (sql/010); this thread
 *   indexes them (xc_index_queued) on a connection of its own. The
 *   listener pokes it on every change notification; it starts a round
 *   once saves have paused for QUIET_MS (one round for a burst of saves,
 *   not one each), so a message is searchable a moment after its commit,
 *   or once the oldest change it has heard of waited MAX_LAG_MS (under a
 *   stream of mail that never pauses). Without a poke it looks once a
 *   second (changes made while PostgreSQL's notifications were away).
 *
 *   Indexing is work that can wait: deliveries and clients go first and
 *   the index follows them, as Exchange's content index follows the
 *   store. Waiting for a pause does most of that; besides, when PostgreSQL
 *   runs on this machine as storaged's user (`make run`, the tests, small
 *   installations), the backend that indexes is given the lowest CPU
 *   priority (SCHED_IDLE, or nice 10 where that is refused). Elsewhere
 *   the priority can't be changed and stays.
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
#define QUIET_MS 500            /* saves paused this long: index them */
#define MAX_LAG_MS 10000        /* or the oldest waited this long */

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int poked, stopping, running;
static struct timespec first_poke, last_poke;   /* CLOCK_MONOTONIC */
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

static long ms_since(const struct timespec *then)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - then->tv_sec) * 1000 +
           (now.tv_nsec - then->tv_nsec) / 1000000;
}

/* With lock: wait (at most ms) for a poke or a stop. */
static void wait_ms(long ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(&wake, &lock, &ts);
}

static void *index_main(void *arg)
{
    sd_db db;

    (void)arg;
    (void)sd_db_open(&db, conninfo);    /* retried per query */
    pthread_mutex_lock(&lock);
    while (!stopping) {
        if (!poked) {
            wait_ms(1000);
            if (poked)
                continue;       /* a poke: wait for the pause first */
        } else {
            long quiet = QUIET_MS - ms_since(&last_poke);
            long lag = MAX_LAG_MS - ms_since(&first_poke);
            if (quiet > 0 && lag > 0) {
                wait_ms(quiet < lag ? quiet : lag);
                continue;       /* more saves came, or the time is up */
            }
        }
        poked = 0;
        pthread_mutex_unlock(&lock);
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
    clock_gettime(CLOCK_MONOTONIC, &last_poke);
    if (!poked)
        first_poke = last_poke;
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
