/*
 * NAME
 *   adisc_handler - Autodiscover requests and responses
 *
 * DESCRIPTION
 *   POX: [MS-OXDSCLI] 2.2.3 (request), 2.2.4 (response schema 2006a), 4.4
 *   (MAPI/HTTP example); mobilesync: [MS-ASCMD] 2.2.1.1 and 6.2; SOAP:
 *   [MS-OXWSADISC] GetUserSettings and GetDomainSettings; JSON v2 as
 *   Exchange and Exchange Online answer it (no open specification).
 *
 *   The mailbox is resolved by storaged with the caller's session, so a
 *   user learns only about addresses it may open; others get the
 *   protocol's "not found" (POX 500, SOAP InvalidUser). Redirects go only
 *   to domains named by AutodiscoverRedirect. Nothing here fetches or
 *   proxies a URL, and no request path is ever rewritten into another.
 *
 *   All protocol errors of POX and SOAP are answered with HTTP 200 and the
 *   protocol's error document, as Exchange does; transport-level problems
 *   (storaged down: 503, body too large: 413) with HTTP statuses.
 */
#include "adisc.h"
#include "mod_exchange.h"
#include "xc_text.h"

#include "apr_strings.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

APLOG_USE_MODULE(autodiscover);

/* We present ourselves as Exchange 2016 CU23 (15.1.2507.6): new enough for
   every client, and the newest version exchangelib 5 knows. */
#define SERVER_VERSION_HEX "73C189CB"  /* [MS-OXDSCLI] ServerVersion bits */
#define CAS_VERSION "15.01.2507.006"
#define EWS_SCHEMAS "Exchange2007, Exchange2007_SP1, Exchange2010, " \
                    "Exchange2010_SP1, Exchange2010_SP2, Exchange2013, " \
                    "Exchange2013_SP1, Exchange2016"
#define NOT_FOUND_MSG "The email address can't be found."
#define DEFAULT_MAX_BODY 65536

/* Everything the responses say about one mailbox. */
typedef struct mbx_info {
    const char *address, *display_name, *legacy_dn, *guid, *deployment_id;
    const char *domain;
    const char *server;         /* <mailbox guid>@<domain> */
    const char *server_dn, *mdb_dn;
} mbx_info;

const char *adisc_url(request_rec *r, const adisc_conf *c, const char *kind)
{
    static const struct { const char *kind, *path; } paths[] = {
        { "EWS", "/EWS/Exchange.asmx" },
        { "ActiveSync", "/Microsoft-Server-ActiveSync" },
        { "OAB", "/OAB/" },
        { "MapiHttp", "/mapi/" },
        { "Autodiscover", "/autodiscover/autodiscover.xml" },
        { NULL, NULL }
    };
    const char *u = apr_table_get(c->urls, kind);

    if (u != NULL)
        return u;
    if (c->base_url == NULL)
        return NULL;
    for (int i = 0; paths[i].kind; i++)
        if (strcmp(paths[i].kind, kind) == 0)
            return apr_pstrcat(r->pool, c->base_url, paths[i].path, NULL);
    return NULL;        /* OWA only when configured */
}

static const char *url_host(request_rec *r, const char *url)
{
    const char *h = strstr(url, "://");
    size_t n;

    if (h == NULL)
        return NULL;
    h += 3;
    n = strcspn(h, "/:");
    return apr_pstrndup(r->pool, h, n);
}

/* ---- output ---------------------------------------------------------- */

static int send_buf(request_rec *r, xc_wbuf *w, const char *type)
{
    if (w->err) {
        xc_wbuf_free(w);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, type);
    apr_table_setn(r->headers_out, "Cache-Control", "private");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_length(r, (apr_off_t)w->len);
    if (!r->header_only)
        ap_rwrite(w->p, (int)w->len, r);
    xc_wbuf_free(w);
    return OK;
}

static void out_init(xc_wbuf *w)
{
    xc_wbuf_init(w, 4 << 20);
    xc_out(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n");
}

/* [MS-ASCMD] 2.2.3.63: Time is the time of day, Id identifies the server */
static void out_error_attrs(request_rec *r, xc_wbuf *w)
{
    apr_time_exp_t t;
    unsigned id = 5381;

    apr_time_exp_gmt(&t, apr_time_now());
    for (const char *s = r->server->server_hostname; s && *s; s++)
        id = id * 33 + (unsigned char)*s;
    xc_out(w, apr_psprintf(r->pool, " Time=\"%02d:%02d:%02d.%07d\" Id=\"%u\"",
                           t.tm_hour, t.tm_min, t.tm_sec, t.tm_usec * 10, id));
}

/* POX framework error ([MS-OXDSCLI] 2.2.4.1.1.3): the Response stays in
   the 2006 namespace (outlook) or the mobilesync one. */
static int pox_error(request_rec *r, int mobile, int code, const char *msg)
{
    xc_wbuf w;

    out_init(&w);
    xc_out(&w, "<Autodiscover xmlns=\"" NS_RESP "\">");
    xc_out(&w, mobile ? "<Response xmlns=\"" NS_MOBILE_RESP "\">"
                      : "<Response>");
    xc_out(&w, "<Error");
    out_error_attrs(r, &w);
    xc_out(&w, ">");
    xc_out_elem(&w, "ErrorCode", apr_itoa(r->pool, code));
    xc_out_elem(&w, "Message", msg);
    xc_out(&w, "<DebugData /></Error></Response></Autodiscover>");
    return send_buf(r, &w, "text/xml; charset=utf-8");
}

static void out_protocol_urls(xc_wbuf *w, request_rec *r, const adisc_conf *c)
{
    const char *ews = adisc_url(r, c, "EWS"), *oab = adisc_url(r, c, "OAB");

    if (ews != NULL) {
        xc_out_elem(w, "ASUrl", ews);
        xc_out_elem(w, "EwsUrl", ews);
        xc_out_elem(w, "OOFUrl", ews);
    }
    if (oab != NULL)
        xc_out_elem(w, "OABUrl", oab);
}

static int pox_settings(request_rec *r, const adisc_conf *c,
                        const mbx_info *m)
{
    const char *cap = apr_table_get(r->headers_in, "X-MapiHttpCapability");
    const char *mapi = adisc_url(r, c, "MapiHttp");
    const char *owa = adisc_url(r, c, "OWA");
    const char *ews = adisc_url(r, c, "EWS");
    const char *proxy = c->rpc_proxy;
    xc_wbuf w;

    if (proxy == NULL && c->base_url != NULL)
        proxy = url_host(r, c->base_url);
    out_init(&w);
    xc_out(&w, "<Autodiscover xmlns=\"" NS_RESP "\">"
               "<Response xmlns=\"" NS_POX_RESP_A "\"><User>");
    xc_out_elem(&w, "DisplayName", m->display_name);
    xc_out_elem(&w, "LegacyDN", m->legacy_dn);
    xc_out_elem(&w, "AutoDiscoverSMTPAddress", m->address);
    xc_out_elem(&w, "DeploymentId", m->deployment_id);
    xc_out(&w, "</User><Account><AccountType>email</AccountType>"
               "<Action>settings</Action>"
               "<MicrosoftOnline>False</MicrosoftOnline>");

    /* [MS-OXDSCLI] 2.2.4.1.1.2.6, 4.4: offered when the client can use it */
    if (cap != NULL && atoi(cap) >= 1 && mapi != NULL) {
        const char *q = apr_pstrcat(r->pool, "?MailboxId=", m->server, NULL);
        const char *store = apr_pstrcat(r->pool, mapi, "emsmdb/", q, NULL);
        const char *ab = apr_pstrcat(r->pool, mapi, "nspi/", q, NULL);

        xc_out(&w, "<Protocol Type=\"mapiHttp\" Version=\"1\"><MailStore>");
        xc_out_elem(&w, "InternalUrl", store);
        xc_out_elem(&w, "ExternalUrl", store);
        xc_out(&w, "</MailStore><AddressBook>");
        xc_out_elem(&w, "InternalUrl", ab);
        xc_out_elem(&w, "ExternalUrl", ab);
        xc_out(&w, "</AddressBook></Protocol>");
    }

    xc_out(&w, "<Protocol><Type>EXCH</Type>");
    xc_out_elem(&w, "Server", m->server);
    xc_out_elem(&w, "ServerDN", m->server_dn);
    xc_out_elem(&w, "ServerVersion", SERVER_VERSION_HEX);
    xc_out_elem(&w, "MdbDN", m->mdb_dn);
    out_protocol_urls(&w, r, c);
    xc_out(&w, "<AuthPackage>basic</AuthPackage>"
               "<ServerExclusiveConnect>off</ServerExclusiveConnect>"
               "</Protocol>");

    if (proxy != NULL) {
        xc_out(&w, "<Protocol><Type>EXPR</Type>");
        xc_out_elem(&w, "Server", proxy);
        xc_out_elem(&w, "ServerVersion", SERVER_VERSION_HEX);
        out_protocol_urls(&w, r, c);
        xc_out(&w, "<AuthPackage>basic</AuthPackage>"
                   "<CertPrincipalName>None</CertPrincipalName>");
        xc_out_elem(&w, "SSL", c->base_url &&
                    strncmp(c->base_url, "https:", 6) == 0 ? "On" : "Off");
        xc_out(&w, "<ServerExclusiveConnect>on</ServerExclusiveConnect>"
                   "</Protocol>");
    }

    if (owa != NULL) {
        xc_out(&w, "<Protocol><Type>WEB</Type>");
        for (int i = 0; i < 2; i++) {
            xc_out(&w, i ? "<Internal>" : "<External>");
            xc_out(&w, "<OWAUrl AuthenticationMethod=\"Basic\">");
            xc_out_xml(&w, owa);
            xc_out(&w, "</OWAUrl>");
            if (ews != NULL) {
                xc_out(&w, i ? "<Protocol><Type>EXCH</Type>"
                             : "<Protocol><Type>EXPR</Type>");
                xc_out_elem(&w, "ASUrl", ews);
                xc_out(&w, "</Protocol>");
            }
            xc_out(&w, i ? "</Internal>" : "</External>");
        }
        xc_out(&w, "</Protocol>");
    }
    xc_out(&w, "</Account></Response></Autodiscover>");
    return send_buf(r, &w, "text/xml; charset=utf-8");
}

static int pox_redirect(request_rec *r, int mobile, const char *target)
{
    xc_wbuf w;

    out_init(&w);
    xc_out(&w, "<Autodiscover xmlns=\"" NS_RESP "\">");
    if (mobile) {
        /* [MS-ASCMD] 2.2.3.147 */
        xc_out(&w, "<Response xmlns=\"" NS_MOBILE_RESP "\"><Action>");
        xc_out_elem(&w, "Redirect", target);
        xc_out(&w, "</Action></Response>");
    } else {
        /* [MS-OXDSCLI] 2.2.4.1.1.2.8, 4.2 */
        xc_out(&w, "<Response xmlns=\"" NS_POX_RESP_A "\"><Account>"
                   "<AccountType>email</AccountType>"
                   "<Action>redirectAddr</Action>");
        xc_out_elem(&w, "RedirectAddr", target);
        xc_out(&w, "</Account></Response>");
    }
    xc_out(&w, "</Autodiscover>");
    return send_buf(r, &w, "text/xml; charset=utf-8");
}

static int mobile_settings(request_rec *r, const adisc_conf *c,
                           const mbx_info *m)
{
    const char *eas = adisc_url(r, c, "ActiveSync");
    xc_wbuf w;

    out_init(&w);
    xc_out(&w, "<Autodiscover xmlns=\"" NS_RESP "\">"
               "<Response xmlns=\"" NS_MOBILE_RESP "\">"
               "<Culture>en:us</Culture><User>");
    xc_out_elem(&w, "DisplayName", m->display_name);
    xc_out_elem(&w, "EMailAddress", m->address);
    xc_out(&w, "</User><Action>");
    if (eas != NULL) {
        xc_out(&w, "<Settings><Server><Type>MobileSync</Type>");
        xc_out_elem(&w, "Url", eas);
        xc_out_elem(&w, "Name", eas);
        xc_out(&w, "</Server></Settings>");
    } else {
        /* [MS-ASCMD] 2.2.3.177.1: 2 = protocol error */
        xc_out(&w, "<Error><Status>2</Status><Message>ActiveSync is not "
                   "configured on this server.</Message><DebugData />"
                   "</Error>");
    }
    xc_out(&w, "</Action></Response></Autodiscover>");
    return send_buf(r, &w, "text/xml; charset=utf-8");
}

/* ---- lookups --------------------------------------------------------- */

static void build_resolve(xc_wbuf *w, void *ctx)
{
    const char **a = ctx;

    xc_put_str(w, XW_TAG_SESSION, a[0]);
    xc_put_str(w, XW_TAG_ADDRESS, a[1]);
}

static const char *rstr(request_rec *r, const xc_reply *rep, uint32_t tag)
{
    const xc_propval *v = xc_reply_get(rep, tag);

    if (v == NULL)
        return "";
    return apr_pstrmemdup(r->pool, (const char *)v->v.bin.p, v->v.bin.n);
}

static void fill_mbx(request_rec *r, mbx_info *m, const char *address,
                     const char *display_name, const char *legacy_dn,
                     const char *guid, const char *deployment_id)
{
    const char *at, *org;

    m->address = address;
    m->display_name = display_name;
    m->legacy_dn = legacy_dn;
    m->guid = guid;
    m->deployment_id = deployment_id;
    at = strchr(m->address, '@');
    m->domain = at ? at + 1 : "";
    m->server = apr_pstrcat(r->pool, m->guid, "@", m->domain, NULL);
    /* the organization part of the user's DN: "/o=.../ou=..." */
    org = apr_pstrdup(r->pool, m->legacy_dn);
    if ((at = strstr(org, "/cn=")) != NULL)
        org = apr_pstrndup(r->pool, org, (apr_size_t)(at - org));
    m->server_dn = apr_pstrcat(r->pool, org, "/cn=Configuration/cn=Servers/cn=",
                               m->server, NULL);
    m->mdb_dn = apr_pstrcat(r->pool, m->server_dn,
                            "/cn=Microsoft Private MDB", NULL);
}

/*
 * Resolve address (SMTP or legacy DN) for the caller. Returns OK with *m,
 * HTTP_NOT_FOUND, or an HTTP status for a failure of the store. The
 * caller's own primary address needs no round trip: authentication
 * already told us all about it.
 */
static int resolve(request_rec *r, const xc_identity *id, const char *address,
                   mbx_info *m)
{
    APR_OPTIONAL_FN_TYPE(xc_store_call) *call =
        APR_RETRIEVE_OPTIONAL_FN(xc_store_call);
    const char *args[2] = { id->session, address };
    xc_reply rep;

    if (strcasecmp(address, id->address) == 0 && id->mailbox_guid[0]) {
        fill_mbx(r, m, id->address, id->display_name, id->legacy_dn,
                 id->mailbox_guid, id->deployment_id);
        return OK;
    }

    if (call == NULL || call(r, XW_OP_RESOLVE, build_resolve, args, NULL,
                             &rep) < 0) {
        apr_table_setn(r->err_headers_out, "Retry-After", "10");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (rep.status == XC_E_NOTFOUND)
        return HTTP_NOT_FOUND;
    if (rep.status != XC_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "AD00001: resolving a "
                      "mailbox failed: %s", xc_status_name(rep.status));
        return xc_status_to_http(rep.status);
    }
    fill_mbx(r, m, rstr(r, &rep, PR_SMTP_ADDRESS),
             rstr(r, &rep, PR_DISPLAY_NAME), rstr(r, &rep, PR_EMAIL_ADDRESS),
             rstr(r, &rep, XW_TAG_MAILBOX_GUID),
             rstr(r, &rep, XW_TAG_DEPLOYMENT_ID));
    return OK;
}

/* The target address if the address's domain is redirected, else NULL. */
static const char *redirect_for(request_rec *r, const adisc_conf *c,
                                const char *address)
{
    const char *at = strrchr(address, '@');
    const char *to;

    if (at == NULL || (to = apr_table_get(c->redirects, at + 1)) == NULL)
        return NULL;
    return apr_pstrcat(r->pool, apr_pstrndup(r->pool, address,
                       (apr_size_t)(at - address)), "@", to, NULL);
}

/* ---- request body ---------------------------------------------------- */

/* Read the whole body, at most max bytes: OK, 413 or 400. */
static int read_body(request_rec *r, apr_off_t max, const char **buf_r,
                     apr_size_t *len_r)
{
    apr_size_t len = 0;
    char *buf;
    int rc;

    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK)
        return rc;
    if (r->remaining > max)
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    buf = apr_palloc(r->pool, (apr_size_t)max + 1);
    if (ap_should_client_block(r)) {
        long n;
        while ((n = ap_get_client_block(r, buf + len,
                                        (apr_size_t)max + 1 - len)) > 0) {
            len += (apr_size_t)n;
            if (len > (apr_size_t)max)
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
        if (n < 0)
            return HTTP_BAD_REQUEST;
    }
    buf[len] = '\0';
    *buf_r = buf;
    *len_r = len;
    return OK;
}

static const xc_identity *identity(request_rec *r)
{
    APR_OPTIONAL_FN_TYPE(xc_store_identity) *get =
        APR_RETRIEVE_OPTIONAL_FN(xc_store_identity);
    const xc_identity *id = get ? get(r) : NULL;

    if (id == NULL)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "AD00002: %s needs "
                      "authentication by mod_exchange (AuthBasicProvider "
                      "exchange); refusing", r->uri);
    return id;
}

/* ---- POX ------------------------------------------------------------- */

static int handle_pox(request_rec *r, const adisc_conf *c)
{
    const xc_identity *id = identity(r);
    const char *body, *err = NULL, *target, *addr;
    apr_size_t len;
    adisc_pox_req req;
    adisc_err e;
    mbx_info m;
    int rc;

    if (id == NULL)
        return HTTP_FORBIDDEN;
    if (r->method_number == M_GET)
        return pox_error(r, 0, ADISC_E_INVALID, "Invalid Request");
    if (r->method_number != M_POST) {
        r->allowed = AP_METHOD_BIT << M_POST | AP_METHOD_BIT << M_GET;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    rc = read_body(r, c->max_body > 0 ? c->max_body : DEFAULT_MAX_BODY,
                   &body, &len);
    if (rc != OK)
        return rc;
    e = adisc_pox_parse(r->pool, body, len, &req, &err);
    if (e != ADISC_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "AD00003: bad POX request: %s", err);
        return pox_error(r, req.mobile_ns, e, e == ADISC_E_SCHEMA
                         ? "Provider is not available" : "Invalid Request");
    }
    addr = req.email ? req.email : req.legacy_dn;
    if (req.email && (target = redirect_for(r, c, req.email)) != NULL)
        return pox_redirect(r, req.schema == ADISC_MOBILESYNC, target);
    rc = resolve(r, id, addr, &m);
    if (rc == HTTP_NOT_FOUND) {
        if (req.schema == ADISC_MOBILESYNC) {
            xc_wbuf w;
            out_init(&w);
            xc_out(&w, "<Autodiscover xmlns=\"" NS_RESP "\">"
                       "<Response xmlns=\"" NS_MOBILE_RESP "\">"
                       "<Culture>en:us</Culture><Action><Error>"
                       "<Status>2</Status><Message>" NOT_FOUND_MSG
                       "</Message><DebugData /></Error></Action>"
                       "</Response></Autodiscover>");
            return send_buf(r, &w, "text/xml; charset=utf-8");
        }
        return pox_error(r, 0, 500, NOT_FOUND_MSG);
    }
    if (rc != OK)
        return rc;
    return req.schema == ADISC_MOBILESYNC ? mobile_settings(r, c, &m)
                                          : pox_settings(r, c, &m);
}

/* ---- SOAP ------------------------------------------------------------ */

#define SOAP_NOT_AVAILABLE ((const char *)1)

/* A user setting's value; NULL = unknown name, SOAP_NOT_AVAILABLE = known
   but not configured here. */
static const char *user_setting(request_rec *r, const adisc_conf *c,
                                const mbx_info *m, const char *name)
{
    const char *ews = adisc_url(r, c, "EWS");
    const char *oab = adisc_url(r, c, "OAB");
    const char *mapi = adisc_url(r, c, "MapiHttp");
    const char *proxy = c->rpc_proxy ? c->rpc_proxy
                        : c->base_url ? url_host(r, c->base_url) : NULL;
    const struct { const char *name, *value; } v[] = {
        { "UserDisplayName", m->display_name },
        { "UserDN", m->legacy_dn },
        { "UserDeploymentId", m->deployment_id },
        { "AutoDiscoverSMTPAddress", m->address },
        { "MailboxDN", m->mdb_dn },
        { "InternalMailboxServer", m->server },
        { "InternalRpcClientServer", m->server },
        { "InternalMailboxServerDN", m->server_dn },
        { "ExternalMailboxServer", proxy },
        { "ExternalMailboxServerRequiresSSL",
          c->base_url && !strncmp(c->base_url, "https:", 6) ? "True" : "False" },
        { "ExternalMailboxServerAuthenticationMethods", "Basic" },
        { "InternalEwsUrl", ews },
        { "ExternalEwsUrl", ews },
        { "EwsSupportedSchemas", EWS_SCHEMAS },
        { "CasVersion", CAS_VERSION },
        { "InternalOABUrl", oab },
        { "ExternalOABUrl", oab },
        { "MapiHttpEnabled", mapi ? "True" : "False" },
        { "CrossOrganizationSharingEnabled", "False" },
        { "ShowGalAsDefaultView", "True" },
        { NULL, NULL }
    };

    for (int i = 0; v[i].name; i++)
        if (strcmp(v[i].name, name) == 0)
            return v[i].value ? v[i].value : SOAP_NOT_AVAILABLE;
    return NULL;
}

/* Envelope, header and the opening of <op>ResponseMessage/Response with
   ErrorCode NoError, up to the opening tag of the list of answers. */
static void soap_begin(xc_wbuf *w, const char *op, const char *list)
{
    out_init(w);
    xc_out(w, "<s:Envelope xmlns:s=\"" NS_SOAP "\" xmlns:a=\"" NS_WSA "\">"
              "<s:Header><a:Action s:mustUnderstand=\"1\">"
              "http://schemas.microsoft.com/exchange/2010/Autodiscover/"
              "Autodiscover/");
    xc_out(w, op);
    xc_out(w, "Response</a:Action><h:ServerVersionInfo xmlns:h=\"" NS_ADISC "\" "
              "xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">"
              "<h:MajorVersion>15</h:MajorVersion>"
              "<h:MinorVersion>1</h:MinorVersion>"
              "<h:MajorBuildNumber>2507</h:MajorBuildNumber>"
              "<h:MinorBuildNumber>6</h:MinorBuildNumber>"
              "<h:Version>Exchange2016</h:Version>"
              "</h:ServerVersionInfo></s:Header><s:Body><");
    xc_out(w, op);
    xc_out(w, "ResponseMessage xmlns=\"" NS_ADISC "\">"
              "<Response xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">"
              "<ErrorCode>NoError</ErrorCode><ErrorMessage /><");
    xc_out(w, list);
    xc_out(w, ">");
}

static int soap_fault(request_rec *r, const char *msg)
{
    xc_wbuf w;

    out_init(&w);
    xc_out(&w, "<s:Envelope xmlns:s=\"" NS_SOAP "\"><s:Body><s:Fault>"
               "<faultcode>s:Client</faultcode>");
    xc_out_elem(&w, "faultstring", msg);
    xc_out(&w, "</s:Fault></s:Body></s:Envelope>");
    r->status = HTTP_INTERNAL_SERVER_ERROR;     /* SOAP 1.1 faults */
    return send_buf(r, &w, "text/xml; charset=utf-8");
}

static int soap_user_settings(request_rec *r, const adisc_conf *c,
                              const xc_identity *id, const adisc_soap_req *q)
{
    xc_wbuf w;

    soap_begin(&w, "GetUserSettings", "UserResponses");
    for (int u = 0; u < q->nnames; u++) {
        const char *target;
        mbx_info m;
        int rc;

        xc_out(&w, "<UserResponse>");
        if (!adisc_valid_address(q->names[u])) {
            xc_out(&w, "<ErrorCode>InvalidUser</ErrorCode><ErrorMessage>"
                       "Invalid user.</ErrorMessage>"
                       "<RedirectTarget i:nil=\"true\" /><UserSettingErrors />"
                       "<UserSettings /></UserResponse>");
            continue;
        }
        if ((target = redirect_for(r, c, q->names[u])) != NULL) {
            xc_out(&w, "<ErrorCode>RedirectAddress</ErrorCode><ErrorMessage>"
                       "Redirection address.</ErrorMessage>");
            xc_out_elem(&w, "RedirectTarget", target);
            xc_out(&w, "<UserSettingErrors /><UserSettings /></UserResponse>");
            continue;
        }
        rc = resolve(r, id, q->names[u], &m);
        if (rc == HTTP_NOT_FOUND) {
            xc_out(&w, "<ErrorCode>InvalidUser</ErrorCode><ErrorMessage>"
                       "Invalid user.</ErrorMessage>"
                       "<RedirectTarget i:nil=\"true\" /><UserSettingErrors />"
                       "<UserSettings /></UserResponse>");
            continue;
        }
        if (rc != OK) {
            xc_wbuf_free(&w);
            return rc;
        }
        xc_out(&w, "<ErrorCode>NoError</ErrorCode><ErrorMessage>No error."
                   "</ErrorMessage><RedirectTarget i:nil=\"true\" />"
                   "<UserSettingErrors>");
        for (int s = 0; s < q->nsettings; s++) {
            const char *v = user_setting(r, c, &m, q->settings[s]);
            if (v != NULL && v != SOAP_NOT_AVAILABLE)
                continue;
            xc_out(&w, v == NULL
                   ? "<UserSettingError><ErrorCode>InvalidSetting</ErrorCode>"
                     "<ErrorMessage>The requested setting is invalid."
                     "</ErrorMessage>"
                   : "<UserSettingError><ErrorCode>SettingIsNotAvailable"
                     "</ErrorCode><ErrorMessage>The requested setting is not "
                     "available.</ErrorMessage>");
            xc_out_elem(&w, "SettingName", q->settings[s]);
            xc_out(&w, "</UserSettingError>");
        }
        xc_out(&w, "</UserSettingErrors><UserSettings>");
        for (int s = 0; s < q->nsettings; s++) {
            const char *v = user_setting(r, c, &m, q->settings[s]);
            if (v == NULL || v == SOAP_NOT_AVAILABLE)
                continue;
            xc_out(&w, "<UserSetting i:type=\"StringSetting\">");
            xc_out_elem(&w, "Name", q->settings[s]);
            xc_out_elem(&w, "Value", v);
            xc_out(&w, "</UserSetting>");
        }
        xc_out(&w, "</UserSettings></UserResponse>");
    }
    xc_out(&w, "</UserResponses></Response></GetUserSettingsResponseMessage>"
               "</s:Body></s:Envelope>");
    return send_buf(r, &w, "text/xml; charset=utf-8");
}

static int soap_domain_settings(request_rec *r, const adisc_conf *c,
                                const xc_identity *id, const adisc_soap_req *q)
{
    const char *own = strchr(id->address, '@');
    const char *ews = adisc_url(r, c, "EWS");
    xc_wbuf w;

    soap_begin(&w, "GetDomainSettings", "DomainResponses");
    for (int d = 0; d < q->nnames; d++) {
        const char *to = apr_table_get(c->redirects, q->names[d]);

        xc_out(&w, "<DomainResponse>");
        if (to != NULL) {
            xc_out(&w, "<ErrorCode>RedirectAddress</ErrorCode><ErrorMessage>"
                       "Redirection address.</ErrorMessage>"
                       "<DomainSettingErrors /><DomainSettings />");
            xc_out_elem(&w, "RedirectTarget", to);
            xc_out(&w, "</DomainResponse>");
            continue;
        }
        /* we answer for the caller's own domain: others are not ours to
           describe (and must not be probed through us) */
        if (own == NULL || strcasecmp(own + 1, q->names[d]) != 0) {
            xc_out(&w, "<ErrorCode>InvalidDomain</ErrorCode><ErrorMessage>"
                       "Invalid domain.</ErrorMessage><DomainSettingErrors />"
                       "<DomainSettings /><RedirectTarget i:nil=\"true\" />"
                       "</DomainResponse>");
            continue;
        }
        xc_out(&w, "<ErrorCode>NoError</ErrorCode><ErrorMessage>No error."
                   "</ErrorMessage><DomainSettingErrors>");
        for (int s = 0; s < q->nsettings; s++) {
            const char *n = q->settings[s];
            if ((!strcmp(n, "ExternalEwsUrl") && ews) ||
                !strcmp(n, "ExternalEwsVersion"))
                continue;
            xc_out(&w, "<DomainSettingError><ErrorCode>");
            xc_out(&w, strcmp(n, "ExternalEwsUrl") ? "InvalidSetting"
                                                   : "SettingIsNotAvailable");
            xc_out(&w, "</ErrorCode><ErrorMessage>The requested setting is "
                       "not available.</ErrorMessage>");
            xc_out_elem(&w, "SettingName", n);
            xc_out(&w, "</DomainSettingError>");
        }
        xc_out(&w, "</DomainSettingErrors><DomainSettings>");
        for (int s = 0; s < q->nsettings; s++) {
            const char *n = q->settings[s], *v = NULL;
            if (!strcmp(n, "ExternalEwsUrl"))
                v = ews;
            else if (!strcmp(n, "ExternalEwsVersion"))
                v = CAS_VERSION;
            if (v == NULL)
                continue;
            xc_out(&w, "<DomainSetting i:type=\"DomainStringSetting\">");
            xc_out_elem(&w, "Name", n);
            xc_out_elem(&w, "Value", v);
            xc_out(&w, "</DomainSetting>");
        }
        xc_out(&w, "</DomainSettings><RedirectTarget i:nil=\"true\" />"
                   "</DomainResponse>");
    }
    xc_out(&w, "</DomainResponses></Response>"
               "</GetDomainSettingsResponseMessage></s:Body></s:Envelope>");
    return send_buf(r, &w, "text/xml; charset=utf-8");
}

static int handle_soap(request_rec *r, const adisc_conf *c)
{
    const xc_identity *id = identity(r);
    const char *body, *err = NULL;
    apr_size_t len;
    adisc_soap_req q;
    int rc;

    if (id == NULL)
        return HTTP_FORBIDDEN;
    if (r->method_number != M_POST) {
        r->allowed = AP_METHOD_BIT << M_POST;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    rc = read_body(r, c->max_body > 0 ? c->max_body : DEFAULT_MAX_BODY,
                   &body, &len);
    if (rc != OK)
        return rc;
    if (adisc_soap_parse(r->pool, body, len, &q, &err) < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "AD00004: bad SOAP request: %s", err);
        return soap_fault(r, err);
    }
    return q.op == ADISC_SOAP_GET_USER_SETTINGS
               ? soap_user_settings(r, c, id, &q)
               : soap_domain_settings(r, c, id, &q);
}

/* ---- JSON (Autodiscover v2) ------------------------------------------ */

static int json_reply(request_rec *r, int status, const char *a,
                      const char *av, const char *b, const char *bv)
{
    xc_wbuf w;

    xc_wbuf_init(&w, 65536);
    xc_out(&w, "{\"");
    xc_out(&w, a);
    xc_out(&w, "\":\"");
    xc_out_json(&w, av);
    xc_out(&w, "\",\"");
    xc_out(&w, b);
    xc_out(&w, "\":\"");
    xc_out_json(&w, bv);
    xc_out(&w, "\"}");
    r->status = status;
    return send_buf(r, &w, "application/json; charset=utf-8");
}

/*
 * Answers without credentials, as Exchange does, and says nothing about
 * the address: the URLs are the same for every address.
 */
static int handle_json(request_rec *r, const adisc_conf *c, const char *rest)
{
    static const char *const protos[][2] = {
        { "EWS", "EWS" }, { "ActiveSync", "ActiveSync" },
        { "AutodiscoverV1", "Autodiscover" }, { NULL, NULL }
    };
    const char *email, *proto, *err = NULL;
    int rc;

    if (r->method_number != M_GET) {
        r->allowed = AP_METHOD_BIT << M_GET;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    rc = adisc_json_parse(r->pool, rest, r->args, &email, &proto, &err);
    if (rc != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "AD00005: bad Autodiscover v2 request: %s", err);
        if (rc == 404)
            return HTTP_NOT_FOUND;
        return json_reply(r, HTTP_BAD_REQUEST, "ErrorCode",
                          "MandatoryParameterMissing", "ErrorMessage", err);
    }
    if (proto == NULL)
        return json_reply(r, HTTP_BAD_REQUEST, "ErrorCode", "MissingProtocol",
                          "ErrorMessage", "A valid value must be provided "
                          "for the query parameter 'Protocol'.");
    for (int i = 0; protos[i][0]; i++) {
        const char *url;
        if (strcasecmp(proto, protos[i][0]) != 0)
            continue;
        url = adisc_url(r, c, protos[i][1]);
        if (url == NULL)
            break;
        return json_reply(r, HTTP_OK, "Protocol", protos[i][0], "Url", url);
    }
    return json_reply(r, HTTP_BAD_REQUEST, "ErrorCode", "ProtocolNotSupported",
                      "ErrorMessage", apr_psprintf(r->pool, "The protocol "
                      "'%.64s' is not supported. Supported protocols are: "
                      "'ActiveSync,AutodiscoverV1,EWS'.", proto));
}

/* ---- dispatch -------------------------------------------------------- */

int adisc_handler(request_rec *r)
{
    const adisc_conf *c;
    static const char json[] = "/autodiscover/autodiscover.json";

    if (r->handler == NULL || strcmp(r->handler, "autodiscover") != 0)
        return DECLINED;
    c = ap_get_module_config(r->per_dir_config, &autodiscover_module);
    /* exact paths only (case as clients send it varies) */
    if (strcasecmp(r->uri, "/autodiscover/autodiscover.xml") == 0)
        return handle_pox(r, c);
    if (strcasecmp(r->uri, "/autodiscover/autodiscover.svc") == 0)
        return handle_soap(r, c);
    if (r->parsed_uri.path != NULL &&
        strncasecmp(r->parsed_uri.path, json, sizeof(json) - 1) == 0 &&
        strncasecmp(r->uri, json, sizeof(json) - 1) == 0)
        return handle_json(r, c, r->parsed_uri.path + sizeof(json) - 1);
    return HTTP_NOT_FOUND;
}
