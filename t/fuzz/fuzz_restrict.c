/*
 * fuzz_restrict - the [MS-OXCDATA] 2.12 restriction decoder on arbitrary
 * bytes: it must refuse or decode without reading outside the buffer, and
 * a decoded tree must respect its limits.
 */
#include "xc_restrict.h"

#include <stdint.h>
#include <stdlib.h>

static xc_rnode nodes[XC_RES_MAX_NODES];
static xc_rnode *kids[XC_RES_MAX_NODES];

static size_t depth_of(const xc_rnode *n, size_t d)
{
    size_t max = d;
    if (d > XC_RES_MAX_DEPTH + 1)
        abort();
    for (uint16_t i = 0; i < n->nkids; i++) {
        size_t k = depth_of(n->kids[i], d + 1);
        if (k > max)
            max = k;
    }
    return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xc_rnode *root;
    const char *err;

    if (xc_restrict_parse(data, size, nodes, kids, XC_RES_MAX_NODES, &root,
                          &err) == 0 &&
        depth_of(root, 0) > XC_RES_MAX_DEPTH)
        abort();
    return 0;
}
