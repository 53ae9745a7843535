/*
 * NAME
 *   exchange_cache - logins remembered by one httpd process
 *
 * DESCRIPTION
 *   Clients send Basic credentials with every request. A login storaged
 *   accepted is remembered here for ExchangeAuthCacheTTL seconds, under an
 *   HMAC-SHA256 of the user name and password with a random per-process
 *   key (the password itself is not kept), together with storaged's state
 *   generation at the time (lib/xc_state.h). An entry is used only while
 *   storaged's published generation is still the same and its heartbeat is
 *   fresh: any directory change (password, disable, alias), a storaged
 *   whose database listener is down, a stopping or dead storaged, all end
 *   every cached login at once. Failed logins are never cached, so they
 *   always reach storaged's failure limits and log.
 *
 *   The state file is "<ExchangeStoragedSocket>.state", mapped read-only.
 *   Without it (older storaged, permissions) nothing is cached.
 */
#include "exchange.h"

#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "http_log.h"
#include "xc_credkey.h"
#include "xc_state.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/mman.h>
#include <unistd.h>

APLOG_USE_MODULE(exchange);

#define MAX_ENTRIES 10000

typedef struct entry {
    apr_uint64_t gen;
    apr_time_t expires;
    xc_identity id;
} entry;

static const xc_state *state;
static apr_thread_mutex_t *lock;
static apr_pool_t *cpool;       /* entries; cleared wholesale when full */
static apr_hash_t *cache;
static unsigned count;
static unsigned char secret[32];
static int ttl;

void xc_cache_init(apr_pool_t *p, server_rec *s, const char *socket,
                   int ttl_seconds)
{
    const char *path = apr_pstrcat(p, socket, ".state", NULL);
    void *m;
    int fd;

    ttl = ttl_seconds;
    if (ttl <= 0)
        return;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "XC00006: no storaged "
                     "state at %s: logins are not cached", path);
        return;
    }
    m = mmap(NULL, XC_STATE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED || RAND_bytes(secret, sizeof(secret)) != 1 ||
        apr_thread_mutex_create(&lock, APR_THREAD_MUTEX_DEFAULT, p) !=
            APR_SUCCESS ||
        apr_pool_create(&cpool, p) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "XC00007: cannot set "
                     "up the login cache");
        if (m != MAP_FAILED)
            munmap(m, XC_STATE_SIZE);
        return;
    }
    cache = apr_hash_make(cpool);
    state = m;
}

int xc_cache_state(apr_uint64_t *gen_r)
{
    uint64_t g;

    if (!xc_state_valid(state, &g))
        return 0;
    *gen_r = g;
    return 1;
}

static int key_of(unsigned char out[32], const char *user, const char *pw)
{
    return xc_credkey(out, secret, user, pw);
}

const xc_identity *xc_cache_get(request_rec *r, const char *user,
                                const char *pw, apr_uint64_t gen)
{
    unsigned char key[32];
    xc_identity *id = NULL;
    entry *e;

    if (state == NULL || key_of(key, user, pw) < 0)
        return NULL;
    apr_thread_mutex_lock(lock);
    e = apr_hash_get(cache, key, sizeof(key));
    if (e != NULL && e->gen == gen && e->expires > r->request_time) {
        id = apr_pmemdup(r->pool, &e->id, sizeof(*id));
        id->session = apr_pstrdup(r->pool, e->id.session);
        id->address = apr_pstrdup(r->pool, e->id.address);
        id->display_name = apr_pstrdup(r->pool, e->id.display_name);
        id->legacy_dn = apr_pstrdup(r->pool, e->id.legacy_dn);
        id->mailbox_guid = apr_pstrdup(r->pool, e->id.mailbox_guid);
        id->deployment_id = apr_pstrdup(r->pool, e->id.deployment_id);
    }
    apr_thread_mutex_unlock(lock);
    OPENSSL_cleanse(key, sizeof(key));
    return id;
}

void xc_cache_put(request_rec *r, const char *user, const char *pw,
                  const xc_identity *id, apr_uint64_t gen)
{
    unsigned char key[32];
    entry *e;

    if (state == NULL || key_of(key, user, pw) < 0)
        return;
    apr_thread_mutex_lock(lock);
    if (count >= MAX_ENTRIES) {
        apr_pool_clear(cpool);
        cache = apr_hash_make(cpool);
        count = 0;
    }
    e = apr_hash_get(cache, key, sizeof(key));
    if (e == NULL) {
        e = apr_pcalloc(cpool, sizeof(*e));
        apr_hash_set(cache, apr_pmemdup(cpool, key, sizeof(key)), sizeof(key),
                     e);
        count++;
    }
    /* strings of a replaced entry stay in cpool until it is cleared:
       bounded, since replacements need a changed generation or expiry */
    e->gen = gen;
    e->expires = r->request_time + apr_time_from_sec(ttl);
    e->id = *id;
    e->id.session = apr_pstrdup(cpool, id->session);
    e->id.address = apr_pstrdup(cpool, id->address);
    e->id.display_name = apr_pstrdup(cpool, id->display_name);
    e->id.legacy_dn = apr_pstrdup(cpool, id->legacy_dn);
    e->id.mailbox_guid = apr_pstrdup(cpool, id->mailbox_guid);
    e->id.deployment_id = apr_pstrdup(cpool, id->deployment_id);
    apr_thread_mutex_unlock(lock);
    OPENSSL_cleanse(key, sizeof(key));
}
