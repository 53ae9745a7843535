/*
 * NAME
 *   fuzz_pox - libFuzzer target for adisc_pox_parse (POX Autodiscover)
 *
 * DESCRIPTION
 *   The input is a request body. On success the request must carry a
 *   valid address or a DN and a known schema; on failure the code is 600
 *   or 601 with a message. See adisc_fuzz.h for the setup.
 */
#include "adisc_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    adisc_pox_req req;
    const char *err = NULL;
    adisc_err rc;

    apr_pool_create(&p, fuzz_root);
    rc = adisc_pox_parse(p, (const char *)data, size, &req, &err);
    if (rc == ADISC_OK) {
        CHECK(req.email != NULL || req.legacy_dn != NULL);
        CHECK(req.email == NULL || (fuzz_clean(req.email) &&
                                    adisc_valid_address(req.email)));
        CHECK(req.legacy_dn == NULL || (fuzz_clean(req.legacy_dn) &&
                                        req.legacy_dn[0] == '/'));
        CHECK(req.schema == ADISC_OUTLOOK || req.schema == ADISC_MOBILESYNC);
        CHECK(req.mobile_ns == 0 || req.mobile_ns == 1);
    } else {
        CHECK(rc == ADISC_E_INVALID || rc == ADISC_E_SCHEMA);
        CHECK(err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
