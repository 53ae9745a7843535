/*
 * NAME
 *   exchange_authn - the "exchange" authn provider
 *
 * DESCRIPTION
 *   AuthBasicProvider exchange: the user name (an SMTP address) and
 *   password go to storaged, which verifies them, rate-limits failures and
 *   logs them. On success the request carries the identity (session, user,
 *   mailbox) for the handlers. The password is never logged here.
 */
#include "exchange.h"

#include "ap_provider.h"
#include "apr_strings.h"
#include "http_request.h"
#include "http_log.h"
#include "mod_auth.h"

APLOG_USE_MODULE(exchange);

typedef struct auth_args {
    const char *user, *password, *remote;
} auth_args;

static void build_auth(xc_wbuf *w, void *ctx)
{
    auth_args *a = ctx;

    xc_put_str(w, XW_TAG_USER, a->user);
    xc_put_str(w, XW_TAG_PASSWORD, a->password);
    xc_put_str(w, XW_TAG_REMOTE_ADDR, a->remote);
}

static const char *reply_str(request_rec *r, const xc_reply *rep,
                             uint32_t tag)
{
    const xc_propval *v = xc_reply_get(rep, tag);
    if (v == NULL)
        return "";
    return apr_pstrmemdup(r->pool, (const char *)v->v.bin.p, v->v.bin.n);
}

static authn_status check_password(request_rec *r, const char *user,
                                   const char *password)
{
    auth_args a = { user, password, r->useragent_ip ? r->useragent_ip : "" };
    xc_reply rep;
    xc_identity *id;
    const xc_identity *cached;
    apr_uint64_t gen = 0;
    int trusted;

    if (!xc_utf8_valid((const uint8_t *)user, strlen(user)) ||
        !xc_utf8_valid((const uint8_t *)password, strlen(password)))
        return AUTH_DENIED;
    /* the generation is read before asking storaged: a directory change
       during the call leaves the new entry stale, never wrongly fresh */
    trusted = xc_cache_state(&gen);
    if (trusted && (cached = xc_cache_get(r, user, password, gen)) != NULL) {
        xc_set_identity(r, cached);
        return AUTH_GRANTED;
    }
    if (xc_store_call(r, XW_OP_AUTH, build_auth, &a, NULL, &rep) < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "XC00004: storaged unreachable: cannot authenticate");
        return AUTH_GENERAL_ERROR;
    }
    switch (rep.status) {
    case XC_OK:
        break;
    case XC_E_AUTH:
    case XC_E_RATELIMIT:
        /* storaged logged it with the user and address */
        return AUTH_DENIED;
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "XC00005: storaged: %s", xc_status_name(rep.status));
        return AUTH_GENERAL_ERROR;
    }
    id = apr_pcalloc(r->pool, sizeof(*id));
    id->session = reply_str(r, &rep, XW_TAG_SESSION);
    id->address = reply_str(r, &rep, PR_SMTP_ADDRESS);
    id->display_name = reply_str(r, &rep, PR_DISPLAY_NAME);
    id->legacy_dn = reply_str(r, &rep, PR_EMAIL_ADDRESS);
    id->mailbox_guid = reply_str(r, &rep, XW_TAG_MAILBOX_GUID);
    id->deployment_id = reply_str(r, &rep, XW_TAG_DEPLOYMENT_ID);
    id->user_id = xc_reply_i8(&rep, XW_TAG_USER_ID, 0);
    id->mailbox_id = xc_reply_i8(&rep, XW_TAG_MAILBOX_ID, 0);
    xc_set_identity(r, id);
    if (trusted)
        xc_cache_put(r, user, password, id, gen);
    return AUTH_GRANTED;
}

static const authn_provider provider = { check_password, NULL };

void xc_authn_register(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "exchange",
                              AUTHN_PROVIDER_VERSION, &provider,
                              AP_AUTH_INTERNAL_PER_CONF);
}
