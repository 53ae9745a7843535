/*
 * NAME
 *   exchange.h - mod_exchange internals
 */
#ifndef EXCHANGE_H
#define EXCHANGE_H

#include "httpd.h"
#include "http_config.h"
#include "apr_reslist.h"
#include "mod_exchange.h"

#define XC_UNSET (-1)
#define XC_DEFAULT_SOCKET "/run/storaged/storaged.sock"

typedef struct xc_srv_conf {
    const char *socket;         /* storaged socket path */
    int timeout;                /* seconds per storaged call */
    int max_conns;              /* pooled connections per process */
    apr_size_t max_frame;
    int cache_ttl;              /* ExchangeAuthCacheTTL, seconds */
    apr_reslist_t *pool;        /* per process, made in child_init */
} xc_srv_conf;

typedef struct xc_dir_conf {
    int store;                  /* ExchangeStore: 503 if storaged is down */
} xc_dir_conf;

extern module AP_MODULE_DECLARE_DATA exchange_module;

/* exchange_pool.c */
apr_status_t xc_pool_init(apr_pool_t *p, server_rec *s);
xc_client *xc_pool_acquire(request_rec *r);
void xc_pool_broken(request_rec *r);
int xc_store_call(request_rec *r, apr_uint16_t op, xc_build_fn *build,
                  void *ctx, const xc_callbacks *cb, xc_reply *reply);
const xc_identity *xc_store_identity(request_rec *r);
void xc_set_identity(request_rec *r, const xc_identity *id);

/* exchange_cache.c */
void xc_cache_init(apr_pool_t *p, server_rec *s, const char *socket,
                   int ttl_seconds);
/* 1 and the generation if storaged says caches may be trusted now. */
int xc_cache_state(apr_uint64_t *gen_r);
const xc_identity *xc_cache_get(request_rec *r, const char *user,
                                const char *pw, apr_uint64_t gen);
void xc_cache_put(request_rec *r, const char *user, const char *pw,
                  const xc_identity *id, apr_uint64_t gen);

/* exchange_authn.c */
void xc_authn_register(apr_pool_t *p);

#endif
