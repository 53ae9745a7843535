/*
 * NAME
 *   xc_credkey - the cache key of a verified login
 */
#include "xc_credkey.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac;       /* fetched once: a fetch per login is costly */

static void fetch(void)
{
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

int xc_credkey(uint8_t out[XC_CREDKEY_LEN], const uint8_t secret[32],
               const char *user, const char *password)
{
    EVP_MAC_CTX *ctx;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()
    };
    size_t outl = 0;
    int ok;

    pthread_once(&once, fetch);
    if (hmac == NULL || (ctx = EVP_MAC_CTX_new(hmac)) == NULL)
        return -1;
    ok = EVP_MAC_init(ctx, secret, 32, params) &&
         EVP_MAC_update(ctx, (const uint8_t *)user, strlen(user) + 1) &&
         EVP_MAC_update(ctx, (const uint8_t *)password, strlen(password)) &&
         EVP_MAC_final(ctx, out, &outl, XC_CREDKEY_LEN) &&
         outl == XC_CREDKEY_LEN;
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : -1;
}
