/*
 * NAME
 *   sd_map - bounded hash map with keyed hashing and oldest-first eviction
 *
 * DESCRIPTION
 *   Used for sessions, the credential cache and failed-login counters. Keys
 *   are byte strings chosen by clients, so buckets are picked with SipHash-2-4
 *   under a random key (no chain flooding). The map never holds more than
 *   max entries: when full, expired entries are purged, then the least
 *   recently touched one is evicted. Not thread-safe: callers lock.
 */
#ifndef SD_MAP_H
#define SD_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct sd_map sd_map;
typedef int sd_map_expired_fn(void *value, time_t now);

sd_map *sd_map_new(size_t nbuckets, size_t max, size_t value_size,
                   sd_map_expired_fn *expired);
void sd_map_free(sd_map *m);
/* The value of key, touched, or NULL. */
void *sd_map_get(sd_map *m, const void *key, size_t keylen, time_t now);
/* The value of key, created zeroed if absent; NULL if out of memory. */
void *sd_map_put(sd_map *m, const void *key, size_t keylen, time_t now);
void sd_map_del(sd_map *m, const void *key, size_t keylen);
void sd_map_clear(sd_map *m);
size_t sd_map_count(const sd_map *m);

uint64_t sd_siphash(const uint8_t key[16], const void *p, size_t n);

#endif
