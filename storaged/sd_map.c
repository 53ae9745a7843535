/*
 * NAME
 *   sd_map - bounded hash map with keyed hashing and oldest-first eviction
 */
#include "sd_map.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef struct entry {
    struct entry *next;
    time_t touched;
    size_t keylen;
    uint8_t *key;           /* points after the value */
    max_align_t value[];
} entry;

struct sd_map {
    entry **b;
    size_t nb, count, max, vsize;
    sd_map_expired_fn *expired;
    uint8_t seed[16];
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                            \
    do {                                                                    \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);           \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                              \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                              \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);           \
    } while (0)

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t sd_siphash(const uint8_t key[16], const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    uint64_t b = (uint64_t)n << 56, m;
    size_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        m = le64(p + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t j = 0; i + j < n; j++)
        b |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

sd_map *sd_map_new(size_t nbuckets, size_t max, size_t value_size,
                   sd_map_expired_fn *expired)
{
    sd_map *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->b = calloc(nbuckets, sizeof(*m->b));
    if (m->b == NULL || getrandom(m->seed, sizeof(m->seed), 0) !=
                            (ssize_t)sizeof(m->seed)) {
        free(m->b);
        free(m);
        return NULL;
    }
    m->nb = nbuckets;
    m->max = max;
    m->vsize = (value_size + sizeof(max_align_t) - 1) /
               sizeof(max_align_t) * sizeof(max_align_t);
    m->expired = expired;
    return m;
}

void sd_map_clear(sd_map *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        entry *e = m->b[i];
        while (e != NULL) {
            entry *n = e->next;
            free(e);
            e = n;
        }
        m->b[i] = NULL;
    }
    m->count = 0;
}

void sd_map_free(sd_map *m)
{
    if (m == NULL)
        return;
    sd_map_clear(m);
    free(m->b);
    free(m);
}

size_t sd_map_count(const sd_map *m)
{
    return m->count;
}

static entry **find(sd_map *m, const void *key, size_t keylen)
{
    entry **pp = &m->b[sd_siphash(m->seed, key, keylen) % m->nb];

    for (; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->keylen == keylen && memcmp((*pp)->key, key, keylen) == 0)
            break;
    return pp;
}

void *sd_map_get(sd_map *m, const void *key, size_t keylen, time_t now)
{
    entry *e = *find(m, key, keylen);

    if (e == NULL)
        return NULL;
    if (m->expired != NULL && m->expired(e->value, now)) {
        sd_map_del(m, key, keylen);
        return NULL;
    }
    e->touched = now;
    return e->value;
}

/* Make room: drop expired entries, then the least recently touched. */
static void make_room(sd_map *m, time_t now)
{
    entry **oldest = NULL;

    for (size_t i = 0; i < m->nb; i++) {
        entry **pp = &m->b[i];
        while (*pp != NULL) {
            entry *e = *pp;
            if (m->expired != NULL && m->expired(e->value, now)) {
                *pp = e->next;
                free(e);
                m->count--;
                continue;
            }
            if (oldest == NULL || e->touched < (*oldest)->touched)
                oldest = pp;
            pp = &e->next;
        }
    }
    if (m->count >= m->max && oldest != NULL) {
        entry *e = *oldest;
        *oldest = e->next;
        free(e);
        m->count--;
    }
}

void *sd_map_put(sd_map *m, const void *key, size_t keylen, time_t now)
{
    entry **pp = find(m, key, keylen);
    entry *e = *pp;

    if (e != NULL) {
        /* an expired entry not yet purged counts as absent: start afresh */
        if (m->expired != NULL && m->expired(e->value, now))
            memset(e->value, 0, m->vsize);
        e->touched = now;
        return e->value;
    }
    if (m->count >= m->max) {
        make_room(m, now);
        pp = find(m, key, keylen);
    }
    e = calloc(1, sizeof(*e) + m->vsize + keylen);
    if (e == NULL)
        return NULL;
    e->key = (uint8_t *)e->value + m->vsize;
    memcpy(e->key, key, keylen);
    e->keylen = keylen;
    e->touched = now;
    *pp = e;
    m->count++;
    return e->value;
}

void sd_map_del(sd_map *m, const void *key, size_t keylen)
{
    entry **pp = find(m, key, keylen);
    entry *e = *pp;

    if (e == NULL)
        return;
    *pp = e->next;
    free(e);
    m->count--;
}
