/*
 * NAME
 *   test_map - unit tests for sd_map, storaged's bounded hash map
 *
 * DESCRIPTION
 *   put / get / del, eviction of the least recently touched entry when
 *   full, purging through the expired callback, clear, 100k keys, and the
 *   SipHash-2-4 reference vectors of Aumasson and Bernstein.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sd_map.h"

#include "tap.h"

typedef struct val {
    time_t expires;         /* 0 = never */
    long n;
} val;

static int val_expired(void *v, time_t now)
{
    const val *x = v;
    return x->expires != 0 && now >= x->expires;
}

static val *put(sd_map *m, const char *key, time_t now)
{
    return sd_map_put(m, key, strlen(key), now);
}

static val *get(sd_map *m, const char *key, time_t now)
{
    return sd_map_get(m, key, strlen(key), now);
}

static void test_basic(void)
{
    sd_map *m = sd_map_new(16, 100, sizeof(val), val_expired);
    val *a, *b;

    test_begin("put / get / del");
    test_assert(m != NULL && sd_map_count(m) == 0);
    test_assert(get(m, "alice", 1) == NULL);
    a = put(m, "alice", 1);
    test_assert(a != NULL && a->n == 0 && a->expires == 0);   /* zeroed */
    a->n = 42;
    test_assert(get(m, "alice", 2) == a && a->n == 42);
    test_assert(put(m, "alice", 3) == a && a->n == 42);  /* not reset */
    b = put(m, "bob", 4);
    test_assert(b != NULL && b != a && b->n == 0);
    test_assert(sd_map_count(m) == 2);
    sd_map_del(m, "alice", 5);
    test_assert(get(m, "alice", 6) == NULL && sd_map_count(m) == 1);
    sd_map_del(m, "alice", 5);                          /* absent: no-op */
    test_assert(sd_map_count(m) == 1 && get(m, "bob", 7) == b);
    sd_map_free(m);
    sd_map_free(NULL);
    test_end();
}

/* Keys are byte strings: length counts, NULs and prefixes are distinct. */
static void test_keys(void)
{
    static const struct {
        const char *key;
        size_t len;
    } keys[] = {
        { "", 0 }, { "a", 1 }, { "a\0", 2 }, { "a\0b", 3 }, { "ab", 2 },
        { "abc", 3 }, { "\0", 1 }, { "\0\0", 2 }, { "b", 1 },
        { "0123456789abcdef", 16 }, { "0123456789abcdeg", 16 },
        { "0123456789abcdef0", 17 },
    };
    sd_map *m = sd_map_new(4, 100, sizeof(val), NULL);

    test_begin("binary keys");
    for (size_t i = 0; i < N_ELEMENTS(keys); i++) {
        val *v = sd_map_put(m, keys[i].key, keys[i].len, 1);

        test_assert_idx(v != NULL && v->n == 0, i);
        if (v != NULL)
            v->n = (long)i + 1;
    }
    test_assert(sd_map_count(m) == N_ELEMENTS(keys));
    for (size_t i = 0; i < N_ELEMENTS(keys); i++) {
        val *v = sd_map_get(m, keys[i].key, keys[i].len, 2);
        test_assert_idx(v != NULL && v->n == (long)i + 1, i);
    }
    sd_map_free(m);
    test_end();
}

static void test_eviction(void)
{
    sd_map *m = sd_map_new(8, 3, sizeof(val), val_expired);

    test_begin("full map evicts the least recently touched entry");
    put(m, "a", 1);
    put(m, "b", 2);
    put(m, "c", 3);
    test_assert(get(m, "a", 4) != NULL);    /* a is now newer than b */
    test_assert(put(m, "d", 5) != NULL);
    test_assert(sd_map_count(m) == 3);
    test_assert(get(m, "b", 6) == NULL);
    test_assert(get(m, "a", 7) && get(m, "c", 8) && get(m, "d", 9));
    /* put of an existing key touches it too: now d is oldest */
    put(m, "d", 10);
    get(m, "a", 11);
    get(m, "c", 12);
    put(m, "d", 13);                        /* d newest, a oldest */
    test_assert(put(m, "e", 14) != NULL && sd_map_count(m) == 3);
    test_assert(get(m, "a", 15) == NULL);
    test_assert(get(m, "c", 16) && get(m, "d", 17) && get(m, "e", 18));
    /* a full map takes an existing key without evicting */
    test_assert(put(m, "e", 19) != NULL && sd_map_count(m) == 3);
    test_assert(get(m, "c", 20) && get(m, "d", 21));
    sd_map_free(m);
    test_end();

    test_begin("eviction at scale keeps the newest max entries");
    m = sd_map_new(64, 1000, sizeof(val), NULL);
    for (long i = 0; i < 5000; i++) {
        char key[32];
        val *v;

        snprintf(key, sizeof(key), "k%ld", i);
        v = put(m, key, (time_t)i + 1);
        test_assert_idx(v != NULL && v->n == 0, i);
        if (v != NULL)
            v->n = i;
        test_assert_idx(sd_map_count(m) == (size_t)(i < 1000 ? i + 1 : 1000),
                        i);
    }
    for (long i = 0; i < 5000; i++) {
        char key[32];
        val *v;

        snprintf(key, sizeof(key), "k%ld", i);
        v = get(m, key, 10000);
        test_assert_idx(i < 4000 ? v == NULL : (v != NULL && v->n == i), i);
    }
    sd_map_free(m);
    test_end();
}

static void test_expired(void)
{
    sd_map *m = sd_map_new(8, 4, sizeof(val), val_expired);
    val *v;

    test_begin("expired entries: get purges them");
    v = put(m, "short", 1);
    v->expires = 10;
    v = put(m, "long", 1);
    v->expires = 100;
    test_assert(get(m, "short", 9) != NULL);
    test_assert(get(m, "short", 10) == NULL);
    test_assert(sd_map_count(m) == 1);
    test_assert(get(m, "long", 99) != NULL && get(m, "long", 100) == NULL);
    test_assert(sd_map_count(m) == 0);
    /* an expired key can be put again, fresh */
    v = put(m, "short", 200);
    test_assert(v != NULL && v->expires == 0 && sd_map_count(m) == 1);
    /* put on an expired entry not yet purged also starts zeroed */
    v->expires = 300;
    v = put(m, "short", 400);
    test_assert(v != NULL && v->expires == 0 && sd_map_count(m) == 1);
    sd_map_free(m);
    test_end();

    test_begin("expired entries: a full map purges before it evicts");
    m = sd_map_new(8, 4, sizeof(val), val_expired);
    put(m, "live1", 1);                     /* oldest, but live */
    put(m, "dead1", 2)->expires = 50;
    put(m, "dead2", 3)->expires = 60;
    put(m, "live2", 4);
    test_assert(sd_map_count(m) == 4);
    test_assert(put(m, "new", 70) != NULL);
    test_assert(sd_map_count(m) == 3);      /* both dead ones went */
    test_assert(get(m, "live1", 71) && get(m, "live2", 72) &&
                get(m, "new", 73));
    /* nothing expired: the oldest live one goes */
    test_assert(put(m, "new2", 80) != NULL && sd_map_count(m) == 4);
    test_assert(put(m, "new3", 81) != NULL && sd_map_count(m) == 4);
    test_assert(get(m, "live1", 82) == NULL);
    sd_map_free(m);
    test_end();
}

static void test_clear(void)
{
    sd_map *m = sd_map_new(8, 100, sizeof(val), NULL);

    test_begin("clear");
    for (int i = 0; i < 50; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%d", i);
        put(m, key, 1);
    }
    test_assert(sd_map_count(m) == 50);
    sd_map_clear(m);
    test_assert(sd_map_count(m) == 0);
    test_assert(get(m, "0", 2) == NULL && get(m, "49", 2) == NULL);
    test_assert(put(m, "0", 3) != NULL && sd_map_count(m) == 1);
    sd_map_clear(m);
    sd_map_clear(m);
    test_assert(sd_map_count(m) == 0);
    sd_map_free(m);
    test_end();
}

#define MANY 100000
#define NBUCKETS 1024

static void test_many(void)
{
    static unsigned load[NBUCKETS];
    static const uint8_t seed[16] = { 0x5a, 1, 2, 3, 4, 5, 6, 7,
                                      8, 9, 10, 11, 12, 13, 14, 15 };
    sd_map *m = sd_map_new(NBUCKETS, 2 * MANY, sizeof(val), NULL);
    unsigned max = 0, min = MANY, ok = 1;
    double chi2 = 0, mean = (double)MANY / NBUCKETS;

    test_begin("100k keys: all stored and found");
    for (long i = 0; i < MANY && ok; i++) {
        char key[32];
        val *v;

        snprintf(key, sizeof(key), "user%ld@example.test", i);
        v = put(m, key, 1);
        ok = v != NULL && v->n == 0;
        if (ok)
            v->n = i;
    }
    test_assert(ok);
    test_assert(sd_map_count(m) == MANY);
    for (long i = 0; i < MANY && ok; i++) {
        char key[32];
        val *v;

        snprintf(key, sizeof(key), "user%ld@example.test", i);
        v = get(m, key, 2);
        ok = v != NULL && v->n == i;
        test_assert_idx(ok, i);
    }
    test_assert(get(m, "user100000@example.test", 2) == NULL);
    sd_map_free(m);
    test_end();

    /* The map's seed is random and its buckets private: check the same
       keys under a fixed key through sd_siphash. */
    test_begin("100k keys: bucket distribution");
    for (long i = 0; i < MANY; i++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "user%ld@example.test", i);

        load[sd_siphash(seed, key, (size_t)n) % NBUCKETS]++;
    }
    for (int b = 0; b < NBUCKETS; b++) {
        double d = load[b] - mean;

        chi2 += d * d / mean;
        if (load[b] > max)
            max = load[b];
        if (load[b] < min)
            min = load[b];
    }
    /* mean 97.7, sd 9.9: a fair hash stays far inside these bounds;
       chi-square for 1023 degrees of freedom is 1023 +- 45 */
    test_assert(max < 2 * mean && min > mean / 2);
    test_assert(chi2 > 800 && chi2 < 1300);
    printf("# buckets: min %u max %u chi2 %.0f\n", min, max, chi2);
    test_end();
}

/* https://github.com/veorq/SipHash vectors.h: key 00..0f, message
   00 01 02 ... of each length */
static void test_siphash(void)
{
    static const struct {
        size_t len;
        uint64_t h;
    } cases[] = {
        { 0, UINT64_C(0x726fdb47dd0e0e31) },
        { 1, UINT64_C(0x74f839c593dc67fd) },
        { 7, UINT64_C(0xab0200f58b01d137) },
        { 8, UINT64_C(0x93f5f5799a932462) },
        { 9, UINT64_C(0x9e0082df0ba9e4b0) },
        { 15, UINT64_C(0xa129ca6149be45e5) },
        { 16, UINT64_C(0x3f2acc7f57c29bdb) },
        { 17, UINT64_C(0x699ae9f52cbe4794) },
        { 63, UINT64_C(0x958a324ceb064572) },
    };
    uint8_t key[16], msg[64];

    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    test_begin("SipHash-2-4 reference vectors");
    for (size_t i = 0; i < N_ELEMENTS(cases); i++)
        test_assert_idx(sd_siphash(key, msg, cases[i].len) == cases[i].h, i);
    test_end();
}

int main(void)
{
    test_basic();
    test_keys();
    test_eviction();
    test_expired();
    test_clear();
    test_many();
    test_siphash();
    return test_exit();
}
