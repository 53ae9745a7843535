/*
 * NAME
 *   xc_state - storaged's published state: may clients trust their caches?
 *
 * DESCRIPTION
 *   storaged maps a small file next to its socket ("<socket>.state", mode
 *   0640, the socket's group) and keeps in it:
 *     generation  even: storaged runs and hears the database's directory
 *                 notifications; odd: it doesn't (stopping, or its
 *                 listener lost PostgreSQL). Bumped on every directory
 *                 change, so it never repeats.
 *     heartbeat   wall-clock seconds, rewritten every second.
 *   A client (mod_exchange) may answer a login from its own cache only if
 *   the generation is even, equal to the one it saw when it cached the
 *   login, and the heartbeat is fresh: a disabled account or changed
 *   password reaches every httpd process as fast as it reaches storaged,
 *   and a crashed storaged stops all cached answers within seconds.
 *
 *   The file is a fixed-layout, lock-free page: the writer stores with
 *   release semantics, readers load with acquire semantics.
 */
#ifndef XC_STATE_H
#define XC_STATE_H

#include <stdint.h>
#include <time.h>

#define XC_STATE_MAGIC 0x58435354u      /* "XCST" */
#define XC_STATE_VERSION 1
#define XC_STATE_SIZE 4096
#define XC_STATE_FRESH 3                /* heartbeat age allowed, seconds */

typedef struct xc_state {
    uint32_t magic;
    uint32_t version;
    uint64_t generation;
    int64_t heartbeat;
} xc_state;

/* 1 and the generation if caches may be trusted now, else 0. */
static inline int xc_state_valid(const xc_state *s, uint64_t *gen_r)
{
    uint64_t gen;
    int64_t hb;

    if (s == NULL ||
        __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) != XC_STATE_MAGIC)
        return 0;
    gen = __atomic_load_n(&s->generation, __ATOMIC_ACQUIRE);
    hb = __atomic_load_n(&s->heartbeat, __ATOMIC_ACQUIRE);
    if ((gen & 1) || hb < (int64_t)time(NULL) - XC_STATE_FRESH)
        return 0;
    *gen_r = gen;
    return 1;
}

#endif
