/*
 * NAME
 *   xc_credkey - the cache key of a verified login
 *
 * DESCRIPTION
 *   storaged and every httpd process remember logins they verified. They
 *   keep HMAC-SHA256(secret, user NUL password), never the password, with a
 *   random secret of their own process, so a key is useless elsewhere.
 */
#ifndef XC_CREDKEY_H
#define XC_CREDKEY_H

#include <stdint.h>

#define XC_CREDKEY_LEN 32

/* 0, or -1 if OpenSSL failed. */
int xc_credkey(uint8_t out[XC_CREDKEY_LEN], const uint8_t secret[32],
               const char *user, const char *password);

#endif
