/*
 * NAME
 *   mod_autodiscover - Autodiscover for Outlook, EWS and ActiveSync clients
 *
 * DESCRIPTION
 *   Directives, configuration and hooks; the protocol is in
 *   adisc_handler.c, the request parsers in adisc_parse.c. Serves
 *   ([MS-OXPROTO] 2.4.1, Server Information Discovery):
 *     POST /autodiscover/autodiscover.xml     POX [MS-OXDSCLI], mobilesync
 *                                             [MS-ASCMD] 2.2.1.1
 *     POST /autodiscover/autodiscover.svc     SOAP [MS-OXWSADISC]
 *     GET  /autodiscover/autodiscover.json... Autodiscover v2 (JSON)
 *   under `SetHandler autodiscover`. POX and SOAP need the request
 *   authenticated by mod_exchange (AuthBasicProvider exchange).
 *
 *   AutodiscoverBaseURL url          where clients reach this server, e.g.
 *                                    https://mail.example.com; the service
 *                                    URLs are derived from it
 *   AutodiscoverURL kind url         override one service URL; kind is EWS,
 *                                    ActiveSync, OAB, OWA, MapiHttp (the
 *                                    /mapi/ base) or Autodiscover
 *   AutodiscoverRedirect dom target  addresses @dom are redirected to the
 *                                    same local part @target (redirectAddr)
 *   AutodiscoverRpcProxy host        RPC/HTTP proxy host for Outlook (EXPR)
 *   AutodiscoverMaxRequestSize n     request body limit, bytes (65536)
 */
#include "adisc.h"

#include "apr_strings.h"
#include "http_protocol.h"
#include "http_request.h"

#define MERGE(f, unset) (add->f != (unset) ? add->f : base->f)

static void *create_conf(apr_pool_t *p, char *dir)
{
    adisc_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->urls = apr_table_make(p, 8);
    c->redirects = apr_table_make(p, 4);
    c->max_body = ADISC_UNSET;
    return c;
}

static void *merge_conf(apr_pool_t *p, void *basev, void *addv)
{
    adisc_conf *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    c->base_url = MERGE(base_url, NULL);
    c->rpc_proxy = MERGE(rpc_proxy, NULL);
    c->max_body = MERGE(max_body, ADISC_UNSET);
    c->urls = apr_table_overlay(p, add->urls, base->urls);
    c->redirects = apr_table_overlay(p, add->redirects, base->redirects);
    return c;
}

static int absolute_url(const char *u)
{
    return (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0)
           && strpbrk(u, " \t\r\n\"<>") == NULL;
}

static const char *set_base(cmd_parms *cmd, void *d, const char *arg)
{
    adisc_conf *c = d;

    (void)cmd;
    if (!absolute_url(arg))
        return "AutodiscoverBaseURL needs an absolute http(s) URL";
    c->base_url = apr_pstrdup(cmd->pool, arg);
    /* no trailing slash: paths are appended */
    while (*c->base_url && c->base_url[strlen(c->base_url) - 1] == '/')
        ((char *)c->base_url)[strlen(c->base_url) - 1] = '\0';
    return NULL;
}

static const char *const kinds[] = {
    "EWS", "ActiveSync", "OAB", "OWA", "MapiHttp", "Autodiscover", NULL
};

static const char *set_url(cmd_parms *cmd, void *d, const char *kind,
                           const char *url)
{
    adisc_conf *c = d;

    for (int i = 0; kinds[i]; i++)
        if (strcasecmp(kinds[i], kind) == 0) {
            if (!absolute_url(url))
                return "AutodiscoverURL needs an absolute http(s) URL";
            apr_table_set(c->urls, kinds[i], url);
            return NULL;
        }
    return apr_psprintf(cmd->pool, "AutodiscoverURL: unknown kind %s "
                        "(EWS, ActiveSync, OAB, OWA, MapiHttp, Autodiscover)",
                        kind);
}

static const char *set_redirect(cmd_parms *cmd, void *d, const char *dom,
                                const char *target)
{
    adisc_conf *c = d;

    (void)cmd;
    if (strchr(dom, '@') || strchr(target, '@') || strchr(target, '/'))
        return "AutodiscoverRedirect takes two domain names";
    apr_table_set(c->redirects, apr_pstrdup(cmd->pool, dom), target);
    return NULL;
}

static const char *set_max(cmd_parms *cmd, void *d, const char *arg)
{
    adisc_conf *c = d;
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    (void)cmd;
    if (*end || v < 1024 || v > 16 * 1024 * 1024)
        return "AutodiscoverMaxRequestSize must be 1024 to 16777216 bytes";
    c->max_body = (apr_off_t)v;
    return NULL;
}

static const command_rec cmds[] = {
    AP_INIT_TAKE1("AutodiscoverBaseURL", set_base, NULL, RSRC_CONF | ACCESS_CONF,
                  "the URL clients reach this server at"),
    AP_INIT_TAKE2("AutodiscoverURL", set_url, NULL, RSRC_CONF | ACCESS_CONF,
                  "a service kind and its URL"),
    AP_INIT_TAKE2("AutodiscoverRedirect", set_redirect, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "a domain and the domain its users are redirected to"),
    AP_INIT_TAKE1("AutodiscoverRpcProxy", ap_set_string_slot,
                  (void *)APR_OFFSETOF(adisc_conf, rpc_proxy),
                  RSRC_CONF | ACCESS_CONF, "the RPC/HTTP proxy host name"),
    AP_INIT_TAKE1("AutodiscoverMaxRequestSize", set_max, NULL,
                  RSRC_CONF | ACCESS_CONF, "request body limit in bytes"),
    { NULL }
};

/*
 * Nothing under /autodiscover/ is a file: skip the filesystem walk (a stat
 * and an .htaccess probe per directory level, per request), as mod_proxy
 * does for its URLs. <Location> sections still apply: the location walk
 * runs after this hook.
 */
static int map_to_storage(request_rec *r)
{
    if (r->uri != NULL && strncasecmp(r->uri, "/autodiscover/", 14) == 0)
        return OK;
    return DECLINED;
}

static void child_init(apr_pool_t *p, server_rec *s)
{
    (void)p;
    (void)s;
    adisc_xml_init();
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_map_to_storage(map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(adisc_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(autodiscover) = {
    STANDARD20_MODULE_STUFF,
    create_conf,
    merge_conf,
    NULL,
    NULL,
    cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
