/*
 * NAME
 *   mod_exchange - shared core of the Exchange modules
 *
 * DESCRIPTION
 *   Directives, configuration and hooks only; the pool of storaged
 *   connections is in exchange_pool.c and the authn provider in
 *   exchange_authn.c.
 *
 *   ExchangeStoragedSocket path      storaged's UNIX socket (server)
 *   ExchangeStoragedTimeout seconds  per call (server, default 30)
 *   ExchangeStoragedConnections n    pooled connections per process
 *                                    (server, default 64)
 *   ExchangeAuthCacheTTL seconds     how long a process remembers a login
 *                                    storaged accepted (server, default 60;
 *                                    0 = ask storaged every time); any
 *                                    directory change ends them at once
 *   ExchangeStore On|Off             requests here need the store: answer
 *                                    503 while storaged is unreachable
 *                                    (directory, default Off)
 *   AuthBasicProvider exchange       check Basic credentials with storaged
 */
#include "exchange.h"

#include "apr_strings.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

/* mod_h2 style: every field starts unset, merge picks child over parent */
#define MERGE(f, unset) (add->f != (unset) ? add->f : base->f)

static void *create_srv(apr_pool_t *p, server_rec *s)
{
    xc_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->socket = NULL;
    c->timeout = XC_UNSET;
    c->max_conns = XC_UNSET;
    c->max_frame = 0;
    c->cache_ttl = XC_UNSET;
    return c;
}

static void *merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    xc_srv_conf *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    c->socket = MERGE(socket, NULL);
    c->timeout = MERGE(timeout, XC_UNSET);
    c->max_conns = MERGE(max_conns, XC_UNSET);
    c->max_frame = MERGE(max_frame, 0);
    c->cache_ttl = MERGE(cache_ttl, XC_UNSET);
    return c;
}

static void *create_dir(apr_pool_t *p, char *dir)
{
    xc_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->store = XC_UNSET;
    return c;
}

static void *merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    xc_dir_conf *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    c->store = MERGE(store, XC_UNSET);
    return c;
}

static const char *set_socket(cmd_parms *cmd, void *d, const char *arg)
{
    xc_srv_conf *c = ap_get_module_config(cmd->server->module_config,
                                          &exchange_module);
    (void)d;
    if (arg[0] != '/')
        return "ExchangeStoragedSocket needs an absolute path";
    c->socket = arg;
    return NULL;
}

static const char *set_int(cmd_parms *cmd, void *d, const char *arg)
{
    xc_srv_conf *c = ap_get_module_config(cmd->server->module_config,
                                          &exchange_module);
    char *end;
    long v = strtol(arg, &end, 10);

    (void)d;
    if (*end || v < (cmd->info == (void *)3 ? 0 : 1) || v > 100000)
        return apr_psprintf(cmd->pool, "%s needs a number up to 100000",
                            cmd->cmd->name);
    if (cmd->info == (void *)1)
        c->timeout = (int)v;
    else if (cmd->info == (void *)2)
        c->max_conns = (int)v;
    else
        c->cache_ttl = (int)v;
    return NULL;
}

static const command_rec cmds[] = {
    AP_INIT_TAKE1("ExchangeStoragedSocket", set_socket, NULL, RSRC_CONF,
                  "storaged's UNIX socket path"),
    AP_INIT_TAKE1("ExchangeStoragedTimeout", set_int, (void *)1, RSRC_CONF,
                  "seconds a storaged call may take"),
    AP_INIT_TAKE1("ExchangeStoragedConnections", set_int, (void *)2,
                  RSRC_CONF, "pooled storaged connections per process"),
    AP_INIT_TAKE1("ExchangeAuthCacheTTL", set_int, (void *)3, RSRC_CONF,
                  "seconds a process remembers an accepted login (0 = off)"),
    AP_INIT_FLAG("ExchangeStore", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(xc_dir_conf, store), OR_AUTHCFG,
                 "requests here need storaged: 503 while it is down"),
    { NULL }
};

/*
 * Before authentication: a location that needs the store answers 503 at
 * once while storaged is unreachable, instead of a misleading 401/500.
 * The connection taken here stays with the request for its handler.
 */
static int check_store(request_rec *r)
{
    xc_dir_conf *d = ap_get_module_config(r->per_dir_config,
                                          &exchange_module);

    apr_uint64_t gen;

    if (d->store != 1)
        return DECLINED;
    /* storaged's heartbeat says it is up: no need to ask it */
    if (xc_cache_state(&gen))
        return DECLINED;
    if (xc_pool_acquire(r) == NULL) {
        apr_table_setn(r->err_headers_out, "Retry-After", "10");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    return DECLINED;
}

static void child_init(apr_pool_t *p, server_rec *s)
{
    if (xc_pool_init(p, s) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "XC00001: cannot create "
                     "the storaged connection pool");
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_access_checker(check_store, NULL, NULL, APR_HOOK_FIRST);
    xc_authn_register(p);
    APR_REGISTER_OPTIONAL_FN(xc_store_call);
    APR_REGISTER_OPTIONAL_FN(xc_store_identity);
}

AP_DECLARE_MODULE(exchange) = {
    STANDARD20_MODULE_STUFF,
    create_dir,
    merge_dir,
    create_srv,
    merge_srv,
    cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
