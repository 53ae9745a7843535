/*
 * NAME
 *   exchange_pool - storaged connections of one httpd process
 *
 * DESCRIPTION
 *   An apr_reslist of xc_client per process. A request takes one connection
 *   on first use and keeps it in its request_config; a cleanup on the
 *   request pool gives it back (or drops it if it broke). A pooled
 *   connection that storaged closed (restart) is noticed on acquire and
 *   replaced; a call that still fails on a connection that had been idle
 *   is retried once on a fresh one.
 */
#include "exchange.h"

#include "http_log.h"
#include "http_main.h"

APLOG_USE_MODULE(exchange);


typedef struct req_state {
    xc_client *c;
    apr_reslist_t *pool;
    const xc_identity *id;
} req_state;

static apr_status_t construct(void **res, void *params, apr_pool_t *p)
{
    xc_srv_conf *sc = params;
    xc_client *c;
    const char *err;

    (void)p;
    if (xc_client_connect(sc->socket ? sc->socket : XC_DEFAULT_SOCKET,
                          (sc->timeout > 0 ? sc->timeout : 30) * 1000,
                          sc->max_frame, &c, &err) < 0) {
        ap_log_perror(APLOG_MARK, APLOG_ERR, 0, p,
                      "XC00002: cannot connect to storaged at %s: %s",
                      sc->socket ? sc->socket : XC_DEFAULT_SOCKET, err);
        return APR_ECONNREFUSED;
    }
    *res = c;
    return APR_SUCCESS;
}

static apr_status_t destruct(void *res, void *params, apr_pool_t *p)
{
    xc_client *c = res;

    (void)params;
    (void)p;
    xc_client_destroy(&c);
    return APR_SUCCESS;
}

apr_status_t xc_pool_init(apr_pool_t *p, server_rec *s)
{
    xc_srv_conf *sc = ap_get_module_config(s->module_config, &exchange_module);
    int max = sc->max_conns > 0 ? sc->max_conns : 64;
    apr_status_t rv;

    /* one pool per process, the main server's; virtual hosts share it */
    xc_cache_init(p, s, sc->socket ? sc->socket : XC_DEFAULT_SOCKET,
                  sc->cache_ttl != XC_UNSET ? sc->cache_ttl : 60);
    rv = apr_reslist_create(&sc->pool, 0, max, max, apr_time_from_sec(300),
                            construct, destruct, sc, p);
    if (rv == APR_SUCCESS)
        apr_reslist_timeout_set(sc->pool, apr_time_from_sec(5));
    return rv;
}

static req_state *state(request_rec *r)
{
    req_state *st = ap_get_module_config(r->request_config, &exchange_module);

    if (st == NULL) {
        st = apr_pcalloc(r->pool, sizeof(*st));
        ap_set_module_config(r->request_config, &exchange_module, st);
    }
    return st;
}

static apr_status_t release(void *data)
{
    req_state *st = data;

    if (st->c != NULL) {
        if (xc_client_broken(st->c))
            apr_reslist_invalidate(st->pool, st->c);
        else
            apr_reslist_release(st->pool, st->c);
        st->c = NULL;
    }
    return APR_SUCCESS;
}

static apr_reslist_t *server_pool(request_rec *r)
{
    xc_srv_conf *mc = ap_get_module_config(ap_server_conf->module_config,
                                           &exchange_module);
    (void)r;
    return mc->pool;
}

xc_client *xc_pool_acquire(request_rec *r)
{
    req_state *st = state(r);
    apr_reslist_t *pool;

    if (st->c != NULL && !xc_client_broken(st->c))
        return st->c;
    if (st->c != NULL)
        release(st);
    pool = server_pool(r);
    if (pool == NULL)
        return NULL;
    /* drop pooled connections that storaged closed meanwhile */
    for (int tries = 0; tries < 4; tries++) {
        void *res;
        if (apr_reslist_acquire(pool, &res) != APR_SUCCESS)
            return NULL;
        if (xc_client_alive(res)) {
            st->c = res;
            st->pool = pool;
            apr_pool_cleanup_register(r->pool, st, release,
                                      apr_pool_cleanup_null);
            return st->c;
        }
        apr_reslist_invalidate(pool, res);
    }
    return NULL;
}

void xc_pool_broken(request_rec *r)
{
    req_state *st = state(r);

    if (st->c != NULL) {
        apr_pool_cleanup_kill(r->pool, st, release);
        apr_reslist_invalidate(st->pool, st->c);
        st->c = NULL;
    }
}

typedef struct counting {
    const xc_callbacks *inner;
    int delivered;
} counting;

static int count_row(void *ctx, const xc_propval *pv, size_t n)
{
    counting *k = ctx;
    k->delivered = 1;
    return k->inner && k->inner->row ? k->inner->row(k->inner->ctx, pv, n)
                                     : -1;
}

static int count_chunk(void *ctx, const uint8_t *p, size_t n)
{
    counting *k = ctx;
    k->delivered = 1;
    return k->inner && k->inner->chunk
               ? k->inner->chunk(k->inner->ctx, p, n) : -1;
}

int xc_store_call(request_rec *r, apr_uint16_t op, xc_build_fn *build,
                  void *ctx, const xc_callbacks *cb, xc_reply *reply)
{
    counting k = { cb, 0 };
    xc_callbacks wrap = { count_row, count_chunk, &k };

    for (int attempt = 0; attempt < 2; attempt++) {
        xc_client *c = xc_pool_acquire(r);
        const char *err;

        if (c == NULL)
            return -1;
        build(xc_client_begin(c, op), ctx);
        if (xc_client_call(c, &wrap, reply, &err) == 0)
            return 0;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "XC00003: storaged call failed: %s", err);
        xc_pool_broken(r);
        if (k.delivered)
            break;      /* a retry would repeat rows already handed out */
    }
    return -1;
}

const xc_identity *xc_store_identity(request_rec *r)
{
    for (request_rec *m = r; m != NULL; m = m->main ? m->main : m->prev) {
        req_state *st = ap_get_module_config(m->request_config,
                                             &exchange_module);
        if (st != NULL && st->id != NULL)
            return st->id;
    }
    return NULL;
}

void xc_set_identity(request_rec *r, const xc_identity *id)
{
    state(r)->id = id;
}
