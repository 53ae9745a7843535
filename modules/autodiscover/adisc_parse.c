/*
 * NAME
 *   adisc_parse - Autodiscover request parsers (pure)
 *
 * DESCRIPTION
 *   See adisc_parse.h. XML goes through one function, parse_xml(), which
 *   sets libxml2's safe options and checks the limits on the whole tree
 *   before anyone looks at it.
 */
#include "adisc_parse.h"

#include <ctype.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "apr_strings.h"
#include "xc_wire.h"

static void quiet(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

void adisc_xml_init(void)
{
    xmlInitParser();
    /* never print parse errors from a server process */
    xmlSetGenericErrorFunc(NULL, quiet);
}

static void free_doc(void *d)
{
    xmlFreeDoc(d);
}

static apr_status_t cleanup_doc(void *d)
{
    free_doc(d);
    return APR_SUCCESS;
}

/* Count elements and depth; 0 if within limits. */
static int check_tree(xmlNode *n, int depth, int *count)
{
    for (; n != NULL; n = n->next) {
        if (n->type == XML_ENTITY_REF_NODE || n->type == XML_DTD_NODE)
            return -1;
        if (++*count > ADISC_MAX_NODES || depth > ADISC_MAX_DEPTH)
            return -1;
        if (n->children && check_tree(n->children, depth + 1, count) < 0)
            return -1;
    }
    return 0;
}

static xmlDoc *parse_xml(apr_pool_t *p, const char *buf, size_t len,
                         const char **error_r)
{
    xmlDoc *doc;
    int count = 0;

    if (len == 0 || len > 1024 * 1024) {
        *error_r = "request body empty or too large";
        return NULL;
    }
    /* libxml2 checks each attribute against all earlier ones of its
       element: bound attributes (and namespace declarations), which all
       carry a '=', before parsing */
    for (const char *q = buf; (q = memchr(q, '=', len - (size_t)(q - buf)));
         q++)
        if (++count > ADISC_MAX_NODES) {
            *error_r = "XML too large or too deeply nested";
            return NULL;
        }
    count = 0;
    /* no NOENT (entities stay unexpanded), no DTDLOAD, no network */
    doc = xmlReadMemory(buf, (int)len, "request.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                        XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    if (doc == NULL) {
        *error_r = "malformed XML";
        return NULL;
    }
    apr_pool_cleanup_register(p, doc, cleanup_doc, apr_pool_cleanup_null);
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        *error_r = "DOCTYPE declarations are not allowed";
        return NULL;
    }
    if (check_tree(xmlDocGetRootElement(doc), 0, &count) < 0) {
        *error_r = "XML too large or too deeply nested";
        return NULL;
    }
    return doc;
}

static int is(const xmlNode *n, const char *ns, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE &&
           strcmp((const char *)n->name, name) == 0 &&
           (ns == NULL ||
            (n->ns != NULL && strcmp((const char *)n->ns->href, ns) == 0));
}

static xmlNode *child(const xmlNode *n, const char *ns, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c != NULL; c = c->next)
        if (is(c, ns, name))
            return c;
    return NULL;
}

/* Element text, trimmed, copied to the pool; NULL if it has child
   elements, is empty or too long. */
static const char *text(apr_pool_t *p, const xmlNode *n)
{
    size_t len = 0;
    char *s, *b, *e;

    for (xmlNode *c = n->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return NULL;
        if (c->type == XML_TEXT_NODE && c->content)
            len += strlen((const char *)c->content);
    }
    if (len == 0 || len > ADISC_MAX_TEXT)
        return NULL;
    s = apr_palloc(p, len + 1);
    s[0] = '\0';
    for (xmlNode *c = n->children; c != NULL; c = c->next)
        if (c->type == XML_TEXT_NODE && c->content)
            strcat(s, (const char *)c->content);
    for (b = s; isspace((unsigned char)*b); b++)
        ;
    e = b + strlen(b);
    while (e > b && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return *b ? b : NULL;
}

adisc_err adisc_pox_parse(apr_pool_t *p, const char *buf, size_t len,
                          adisc_pox_req *out, const char **error_r)
{
    xmlDoc *doc = parse_xml(p, buf, len, error_r);
    xmlNode *root, *req, *n;
    const char *schema;
    int nreq = 0;

    memset(out, 0, sizeof(*out));
    if (doc == NULL)
        return ADISC_E_INVALID;
    root = xmlDocGetRootElement(doc);
    if (is(root, NS_POX_REQ, "Autodiscover"))
        out->mobile_ns = 0;
    else if (is(root, NS_MOBILE_REQ, "Autodiscover"))
        out->mobile_ns = 1;
    else {
        *error_r = "not an Autodiscover request";
        return ADISC_E_INVALID;
    }
    req = NULL;
    for (n = root->children; n != NULL; n = n->next)
        if (is(n, (const char *)root->ns->href, "Request")) {
            req = n;
            nreq++;
        }
    if (nreq != 1) {        /* [MS-ASCMD] 2.2.3.150.1: exactly one */
        *error_r = "exactly one Request element is required";
        return ADISC_E_INVALID;
    }
    /* children are in the request namespace; match by name like Exchange */
    n = child(req, NULL, "AcceptableResponseSchema");
    schema = n ? text(p, n) : NULL;
    if (schema == NULL) {
        *error_r = "AcceptableResponseSchema is required";
        return ADISC_E_INVALID;
    }
    /* pick the provider by the schema asked for ([MS-OXDSCLI] 2.2.3) */
    if (strcmp(schema, NS_POX_RESP_A) == 0)
        out->schema = ADISC_OUTLOOK;
    else if (strcmp(schema, NS_MOBILE_RESP) == 0)
        out->schema = ADISC_MOBILESYNC;
    else {
        *error_r = "no provider for the requested response schema";
        return ADISC_E_SCHEMA;
    }
    if ((n = child(req, NULL, "EMailAddress")) != NULL)
        out->email = text(p, n);
    if ((n = child(req, NULL, "LegacyDN")) != NULL)
        out->legacy_dn = text(p, n);
    if (out->email != NULL && !adisc_valid_address(out->email)) {
        *error_r = "EMailAddress is not an e-mail address";
        return ADISC_E_INVALID;
    }
    if (out->legacy_dn != NULL && out->legacy_dn[0] != '/') {
        *error_r = "LegacyDN is not a distinguished name";
        return ADISC_E_INVALID;
    }
    if (out->email == NULL && out->legacy_dn == NULL) {
        *error_r = "EMailAddress or LegacyDN is required";
        return ADISC_E_INVALID;
    }
    return ADISC_OK;
}

/* Collect the texts of the <item> children of list into an array. */
static int collect(apr_pool_t *p, xmlNode *list, const char *item,
                   xmlNode *(*inner)(xmlNode *), int max, const char ***out,
                   int *n_r, const char **error_r)
{
    const char **v = apr_pcalloc(p, sizeof(*v) * (size_t)max);
    int n = 0;

    for (xmlNode *c = list ? list->children : NULL; c != NULL; c = c->next) {
        xmlNode *t;
        const char *s;

        if (!is(c, NS_ADISC, item))
            continue;
        if (n == max) {
            *error_r = "too many entries in one request";
            return -1;
        }
        t = inner ? inner(c) : c;
        if (t == NULL || (s = text(p, t)) == NULL) {
            *error_r = "empty or malformed entry";
            return -1;
        }
        v[n++] = s;
    }
    *out = v;
    *n_r = n;
    return 0;
}

static xmlNode *user_mailbox(xmlNode *user)
{
    return child(user, NS_ADISC, "Mailbox");
}

int adisc_soap_parse(apr_pool_t *p, const char *buf, size_t len,
                     adisc_soap_req *out, const char **error_r)
{
    xmlDoc *doc = parse_xml(p, buf, len, error_r);
    xmlNode *env, *hdr, *body, *msg = NULL, *req, *n;

    memset(out, 0, sizeof(*out));
    if (doc == NULL)
        return -1;
    env = xmlDocGetRootElement(doc);
    if (!is(env, NS_SOAP, "Envelope") ||
        (body = child(env, NS_SOAP, "Body")) == NULL) {
        *error_r = "not a SOAP 1.1 envelope";
        return -1;
    }
    if ((hdr = child(env, NS_SOAP, "Header")) != NULL &&
        (n = child(hdr, NS_ADISC, "RequestedServerVersion")) != NULL)
        out->server_version = text(p, n);
    /* dispatch on the body's element: clients need not send SOAPAction */
    for (n = body->children; n != NULL; n = n->next)
        if (n->type == XML_ELEMENT_NODE) {
            msg = n;
            break;
        }
    if (is(msg, NS_ADISC, "GetUserSettingsRequestMessage"))
        out->op = ADISC_SOAP_GET_USER_SETTINGS;
    else if (is(msg, NS_ADISC, "GetDomainSettingsRequestMessage"))
        out->op = ADISC_SOAP_GET_DOMAIN_SETTINGS;
    else {
        *error_r = "unsupported operation";
        return -1;
    }
    if ((req = child(msg, NS_ADISC, "Request")) == NULL) {
        *error_r = "Request element missing";
        return -1;
    }
    if (out->op == ADISC_SOAP_GET_USER_SETTINGS) {
        if (collect(p, child(req, NS_ADISC, "Users"), "User", user_mailbox,
                    ADISC_MAX_USERS, &out->names, &out->nnames, error_r) < 0)
            return -1;
    } else if (collect(p, child(req, NS_ADISC, "Domains"), "Domain", NULL,
                       ADISC_MAX_USERS, &out->names, &out->nnames,
                       error_r) < 0) {
        return -1;
    }
    if (collect(p, child(req, NS_ADISC, "RequestedSettings"), "Setting",
                NULL, ADISC_MAX_SETTINGS, &out->settings, &out->nsettings,
                error_r) < 0)
        return -1;
    if (out->nnames == 0 || out->nsettings == 0) {
        *error_r = out->nnames == 0 ? "no users or domains requested"
                                    : "no settings requested";
        return -1;
    }
    return 0;
}

int adisc_valid_address(const char *s)
{
    const char *at = strchr(s, '@');
    size_t len = strlen(s);

    if (len < 3 || len > 320 || at == NULL || at == s || at[1] == '\0' ||
        strchr(at + 1, '@') != NULL)
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c <= 0x20 || *c == 0x7F || strchr("/\\?#<>\"'(),;:[]", *c))
            return 0;
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* %-decode into the pool; NULL on a bad or control-character escape or
   invalid UTF-8. form: the query-string rule '+' = space (RFC 3986 paths
   keep '+'). */
static char *unescape(apr_pool_t *p, const char *s, size_t n, int form)
{
    char *out = apr_palloc(p, n + 1), *o = out;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int h, l;
            if (n - i < 3)
                return NULL;
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return NULL;
            c = h << 4 | l;
            i += 2;
        } else if (c == '+' && form) {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7F)
            return NULL;
        *o++ = (char)c;
    }
    *o = '\0';
    return xc_utf8_valid((const uint8_t *)out, (size_t)(o - out)) ? out : NULL;
}

int adisc_json_parse(apr_pool_t *p, const char *rest, const char *query,
                     const char **email_r, const char **protocol_r,
                     const char **error_r)
{
    const char *email = NULL, *protocol = NULL;

    *email_r = *protocol_r = NULL;
    if (strncasecmp(rest, "/v1.0/", 6) == 0) {
        const char *e = rest + 6;
        /* exactly one segment: never a path into another endpoint */
        if (*e == '\0' || strchr(e, '/') != NULL) {
            *error_r = "no such resource";
            return 404;
        }
        email = unescape(p, e, strlen(e), 0);
    } else if (*rest != '\0') {
        *error_r = "no such resource";
        return 404;
    }
    while (query != NULL && *query) {
        const char *amp = strchr(query, '&'), *eq;
        size_t n = amp ? (size_t)(amp - query) : strlen(query);
        char *key, *val;

        eq = memchr(query, '=', n);
        if (eq == NULL) {
            *error_r = "malformed query string";
            return 400;
        }
        key = unescape(p, query, (size_t)(eq - query), 1);
        val = unescape(p, eq + 1, n - (size_t)(eq - query) - 1, 1);
        if (key == NULL || val == NULL) {
            *error_r = "malformed query string";
            return 400;
        }
        if (strcasecmp(key, "Protocol") == 0 && protocol == NULL)
            protocol = val;
        else if (strcasecmp(key, "Email") == 0 && email == NULL &&
                 *rest == '\0')
            email = val;
        else if (strcasecmp(key, "RedirectCount") != 0) {
            *error_r = "unknown query parameter";
            return 400;
        }
        query = amp ? amp + 1 : query + n;
    }
    if (email == NULL || !adisc_valid_address(email)) {
        *error_r = "a valid e-mail address is required";
        return 400;
    }
    *email_r = email;
    *protocol_r = protocol;
    return 0;
}
