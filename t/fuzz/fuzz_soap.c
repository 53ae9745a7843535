/*
 * NAME
 *   fuzz_soap - libFuzzer target for adisc_soap_parse (SOAP Autodiscover)
 *
 * DESCRIPTION
 *   The input is a request body. On success there are 1..ADISC_MAX_USERS
 *   names and 1..ADISC_MAX_SETTINGS settings, all non-empty bounded
 *   strings. See adisc_fuzz.h for the setup.
 */
#include "adisc_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    adisc_soap_req req;
    const char *err = NULL;

    apr_pool_create(&p, fuzz_root);
    if (adisc_soap_parse(p, (const char *)data, size, &req, &err) == 0) {
        CHECK(req.op == ADISC_SOAP_GET_USER_SETTINGS ||
              req.op == ADISC_SOAP_GET_DOMAIN_SETTINGS);
        CHECK(req.nnames >= 1 && req.nnames <= ADISC_MAX_USERS);
        CHECK(req.nsettings >= 1 && req.nsettings <= ADISC_MAX_SETTINGS);
        for (int i = 0; i < req.nnames; i++)
            CHECK(fuzz_clean(req.names[i]));
        for (int i = 0; i < req.nsettings; i++)
            CHECK(fuzz_clean(req.settings[i]));
        CHECK(req.server_version == NULL || fuzz_clean(req.server_version));
    } else {
        CHECK(err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
