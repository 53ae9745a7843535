/*
 * NAME
 *   fuzz_json - libFuzzer target for adisc_json_parse (Autodiscover v2)
 *
 * DESCRIPTION
 *   The input is split at its first NUL or '?' into the path after
 *   /autodiscover/autodiscover.json and the query string (none if there
 *   is no separator). An accepted request names one valid address and
 *   never a path: no '/', '?', '#', '\' or control characters survive.
 */
#include "adisc_fuzz.h"

#include <strings.h>

static int no_path(const char *s)
{
    for (; *s; s++)
        if (strchr("/?#\\", *s) || (unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = NULL;
    char *rest, *query = NULL;
    const char *email = "x", *proto = "x", *err = NULL;
    apr_pool_t *p;
    size_t k;
    int rc;

    for (k = 0; k < size; k++)
        if (data[k] == '\0' || data[k] == '?') {
            sep = data + k;
            break;
        }
    rest = strndup((const char *)data, k);
    if (sep != NULL)
        query = strndup((const char *)sep + 1, size - k - 1);
    CHECK(rest != NULL && (sep == NULL || query != NULL));

    apr_pool_create(&p, fuzz_root);
    rc = adisc_json_parse(p, rest, query, &email, &proto, &err);
    CHECK(rc == 0 || rc == 400 || rc == 404);
    if (rc == 0) {
        CHECK(email != NULL && adisc_valid_address(email) && no_path(email));
        /* the protocol is only compared, but is echoed in the reply */
        if (proto != NULL)
            for (const char *c = proto; *c; c++)
                CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        /* only "" or "/v1.0/<one segment>" */
        CHECK(rest[0] == '\0' || (strncasecmp(rest, "/v1.0/", 6) == 0 &&
                                  strchr(rest + 6, '/') == NULL));
    } else {
        CHECK(email == NULL && proto == NULL && err != NULL);
        if (rest[0] != '\0' && strncasecmp(rest, "/v1.0/", 6) != 0)
            CHECK(rc == 404);
    }
    apr_pool_destroy(p);
    free(rest);
    free(query);
    return 0;
}
