/*
 * NAME
 *   mod_exchange.h - what mod_exchange offers the other modules
 *
 * DESCRIPTION
 *   mod_exchange owns the connections to storaged (a pool per httpd
 *   process, one connection cached per request, as mod_dbd does for SQL)
 *   and the `exchange` authn provider. Other modules reach them through
 *   these optional functions, so they load in any order.
 */
#ifndef MOD_EXCHANGE_H
#define MOD_EXCHANGE_H

#include "apr_optional.h"
#include "httpd.h"
#include "xc_client.h"

/* Who the request authenticated as (NULL if it didn't through us). */
typedef struct xc_identity {
    const char *session;        /* storaged session token */
    const char *address;        /* primary SMTP address */
    const char *display_name;
    const char *legacy_dn;
    const char *mailbox_guid;
    const char *deployment_id;
    apr_int64_t user_id;
    apr_int64_t mailbox_id;
} xc_identity;

typedef void xc_build_fn(xc_wbuf *args, void *ctx);

/*
 * Call storaged for this request: build() appends the arguments (it may be
 * called twice: a request that failed on a connection storaged had closed
 * is retried once on a new one). Returns 0 with the reply, or -1 when
 * storaged can't be reached (the caller answers 503).
 */
APR_DECLARE_OPTIONAL_FN(int, xc_store_call,
                        (request_rec *r, apr_uint16_t op, xc_build_fn *build,
                         void *ctx, const xc_callbacks *cb, xc_reply *reply));
APR_DECLARE_OPTIONAL_FN(const xc_identity *, xc_store_identity,
                        (request_rec *r));

/* Map a store status to the HTTP status for a request that failed. */
static inline int xc_status_to_http(apr_uint32_t st)
{
    switch (st) {
    case XC_OK: return HTTP_OK;
    case XC_E_NOTFOUND: return HTTP_NOT_FOUND;
    case XC_E_PERM: return HTTP_FORBIDDEN;
    case XC_E_EXISTS: return HTTP_CONFLICT;
    case XC_E_NOQUOTA: return HTTP_INSUFFICIENT_STORAGE;
    case XC_E_LIMIT: return HTTP_REQUEST_ENTITY_TOO_LARGE;
    case XC_E_AUTH: case XC_E_SESSION: return HTTP_UNAUTHORIZED;
    case XC_E_RATELIMIT: return HTTP_TOO_MANY_REQUESTS;
    case XC_E_BADREQ: return HTTP_BAD_REQUEST;
    case XC_E_UNSUPPORTED: return HTTP_NOT_IMPLEMENTED;
    case XC_E_TEMP: return HTTP_SERVICE_UNAVAILABLE;
    default: return HTTP_INTERNAL_SERVER_ERROR;
    }
}

#endif
