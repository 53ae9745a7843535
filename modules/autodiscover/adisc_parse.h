/*
 * NAME
 *   adisc_parse - Autodiscover request parsers (pure)
 *
 * DESCRIPTION
 *   POX requests ([MS-OXDSCLI] 2.2.3, and the mobilesync request of
 *   [MS-ASCMD] 2.2.1.1), SOAP GetUserSettings / GetDomainSettings
 *   ([MS-OXWSADISC]) and the path of the JSON endpoint. No I/O; memory from
 *   the caller's pool. XML is parsed by libxml2 with network access, DTD
 *   loading and entity substitution off; a document with a DOCTYPE is
 *   refused; size, element count, depth and list lengths are limited.
 */
#ifndef ADISC_PARSE_H
#define ADISC_PARSE_H

#include <stddef.h>
#include "apr_pools.h"

#define ADISC_MAX_NODES 2000
#define ADISC_MAX_DEPTH 32
#define ADISC_MAX_USERS 100     /* Exchange's own limit per request */
#define ADISC_MAX_SETTINGS 128
#define ADISC_MAX_TEXT 1024

#define NS_POX_REQ "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
#define NS_POX_RESP_A "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
#define NS_MOBILE_REQ "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
#define NS_MOBILE_RESP "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
#define NS_RESP "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_ADISC "http://schemas.microsoft.com/exchange/2010/Autodiscover"
#define NS_WSA "http://www.w3.org/2005/08/addressing"

typedef enum adisc_schema {
    ADISC_OUTLOOK,          /* outlook responseschema 2006a */
    ADISC_MOBILESYNC        /* mobilesync responseschema 2006 */
} adisc_schema;

typedef enum adisc_err {
    ADISC_OK = 0,
    ADISC_E_INVALID = 600,  /* malformed request */
    ADISC_E_SCHEMA = 601    /* no provider for that response schema */
} adisc_err;

typedef struct adisc_pox_req {
    adisc_schema schema;
    const char *email;      /* EMailAddress, or NULL */
    const char *legacy_dn;  /* LegacyDN, or NULL */
    int mobile_ns;          /* request came in the mobilesync namespace */
} adisc_pox_req;

adisc_err adisc_pox_parse(apr_pool_t *p, const char *buf, size_t len,
                          adisc_pox_req *out, const char **error_r);

typedef enum adisc_soap_op {
    ADISC_SOAP_GET_USER_SETTINGS,
    ADISC_SOAP_GET_DOMAIN_SETTINGS
} adisc_soap_op;

typedef struct adisc_soap_req {
    adisc_soap_op op;
    const char *server_version; /* RequestedServerVersion, or NULL */
    const char **names;         /* mailboxes or domains */
    int nnames;
    const char **settings;
    int nsettings;
} adisc_soap_req;

/* 0, or -1 with a message for a SOAP fault / InvalidRequest. */
int adisc_soap_parse(apr_pool_t *p, const char *buf, size_t len,
                     adisc_soap_req *out, const char **error_r);

/*
 * JSON endpoint: path after "/autodiscover/autodiscover.json" and the query
 * string (may be NULL). Accepts "/v1.0/{email}" with "Protocol=..." or ""
 * with "Email=...&Protocol=...". Unknown parameters, bad escapes or other
 * paths are errors: this endpoint never reinterprets a path as another URL.
 * Returns 0, or 400/404 with a message; *protocol_r NULL if missing.
 */
int adisc_json_parse(apr_pool_t *p, const char *rest, const char *query,
                     const char **email_r, const char **protocol_r,
                     const char **error_r);

/* A plausible SMTP address (local@domain, no spaces or control chars). */
int adisc_valid_address(const char *s);

/* Initialise libxml2 once per process (idempotent). */
void adisc_xml_init(void);

#endif
