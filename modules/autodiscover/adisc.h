/*
 * NAME
 *   adisc.h - mod_autodiscover internals
 */
#ifndef ADISC_H
#define ADISC_H

#include "httpd.h"
#include "http_config.h"
#include "adisc_parse.h"

#define ADISC_UNSET (-1)

typedef struct adisc_conf {
    const char *base_url;       /* AutodiscoverBaseURL */
    apr_table_t *urls;          /* AutodiscoverURL kind url */
    apr_table_t *redirects;     /* AutodiscoverRedirect domain target */
    const char *rpc_proxy;      /* AutodiscoverRpcProxy host */
    apr_off_t max_body;         /* AutodiscoverMaxRequestSize */
} adisc_conf;

extern module AP_MODULE_DECLARE_DATA autodiscover_module;

/* The URL handed out for a service (EWS, ActiveSync, OAB, OWA, MapiHttp,
   Autodiscover), or NULL if not configured. */
const char *adisc_url(request_rec *r, const adisc_conf *c, const char *kind);

int adisc_handler(request_rec *r);

#endif
