/*
 * NAME
 *   xc_restrict - restriction trees of [MS-OXCDATA] 2.12 (pure decoder)
 */
#include "xc_restrict.h"
#include "xc_buf.h"
#include "xc_wire.h"

typedef struct parser {
    xc_rbuf r;
    xc_rnode *nodes;
    xc_rnode **kids;
    size_t max, nnodes, nkids;
    const char *err;
} parser;

static int fail(parser *ps, const char *msg)
{
    if (ps->err == NULL)
        ps->err = msg;
    return -1;
}

/* A TaggedPropertyValue in its ROP encoding ([MS-OXCDATA] 2.11.1). */
static int value(parser *ps, xc_rvalue *v)
{
    xc_rbuf *r = &ps->r;
    const uint8_t *p;
    size_t n;

    v->tag = xc_get_u32(r);
    v->p = NULL;
    v->n = 0;
    v->u = 0;
    switch (PROP_TYPE(v->tag)) {
    case PT_BOOLEAN: v->u = xc_get_u8(r); break;
    case PT_SHORT: v->u = xc_get_u16(r); break;
    case PT_LONG: case PT_FLOAT: case PT_ERROR: v->u = xc_get_u32(r); break;
    case PT_DOUBLE: case PT_CURRENCY: case PT_APPTIME: case PT_I8:
    case PT_SYSTIME:
        v->u = xc_get_u64(r);
        break;
    case PT_CLSID:
        v->p = xc_get_bytes(r, 16);
        v->n = 16;
        break;
    case PT_BINARY: case PT_SVREID:
        v->n = xc_get_u16(r);
        v->p = xc_get_bytes(r, v->n);
        break;
    case PT_STRING8:
        /* NUL-terminated 8-bit string */
        p = r->p + r->pos;
        for (n = 0; r->pos + n < r->len && p[n] != 0; n++)
            ;
        if (r->pos + n >= r->len)
            return fail(ps, "unterminated string value");
        v->p = p;
        v->n = (uint32_t)n;
        r->pos += n + 1;
        break;
    case PT_UNICODE:
        /* NUL-terminated UTF-16LE */
        p = r->p + r->pos;
        for (n = 0; r->pos + n + 1 < r->len && (p[n] | p[n + 1]) != 0; n += 2)
            ;
        if (r->pos + n + 1 >= r->len)
            return fail(ps, "unterminated string value");
        v->p = p;
        v->n = (uint32_t)n;
        r->pos += n + 2;
        break;
    default:
        return fail(ps, "unsupported value type in a restriction");
    }
    return r->err ? fail(ps, "truncated restriction") : 0;
}

static xc_rnode *node(parser *ps)
{
    xc_rnode *n;

    if (ps->nnodes == ps->max) {
        fail(ps, "restriction has too many nodes");
        return NULL;
    }
    n = &ps->nodes[ps->nnodes++];
    *n = (xc_rnode){ 0 };
    return n;
}

static xc_rnode **kidslots(parser *ps, size_t count)
{
    xc_rnode **k;

    if (count > ps->max - ps->nkids) {
        fail(ps, "restriction has too many nodes");
        return NULL;
    }
    k = &ps->kids[ps->nkids];
    ps->nkids += count;
    return k;
}

static int restriction(parser *ps, int depth, xc_rnode **out);

static int one_kid(parser *ps, xc_rnode *n, int depth)
{
    if ((n->kids = kidslots(ps, 1)) == NULL)
        return -1;
    n->nkids = 1;
    return restriction(ps, depth + 1, &n->kids[0]);
}

static int restriction(parser *ps, int depth, xc_rnode **out)
{
    xc_rbuf *r = &ps->r;
    xc_rnode *n;

    if (depth > XC_RES_MAX_DEPTH)
        return fail(ps, "restriction nested too deeply");
    if ((n = node(ps)) == NULL)
        return -1;
    *out = n;
    n->type = xc_get_u8(r);
    if (r->err)
        return fail(ps, "truncated restriction");
    switch (n->type) {
    case XC_RES_AND: case XC_RES_OR:
        n->nkids = xc_get_u16(r);
        if (r->err)
            return fail(ps, "truncated restriction");
        if ((n->kids = kidslots(ps, n->nkids)) == NULL)
            return -1;
        for (uint16_t i = 0; i < n->nkids; i++)
            if (restriction(ps, depth + 1, &n->kids[i]) < 0)
                return -1;
        return 0;
    case XC_RES_NOT:
        return one_kid(ps, n, depth);
    case XC_RES_CONTENT:
        n->fuzzy_low = xc_get_u16(r);
        n->fuzzy_high = xc_get_u16(r);
        n->tag = xc_get_u32(r);
        if (value(ps, &n->value) < 0)
            return -1;
        if (n->fuzzy_low > XC_FL_PREFIX)
            return fail(ps, "unknown fuzzy level");
        if (PROP_TYPE(n->tag) != PT_UNICODE && PROP_TYPE(n->tag) != PT_STRING8 &&
            PROP_TYPE(n->tag) != PT_BINARY &&
            PROP_TYPE(n->tag) != (PT_MV | PT_UNICODE) &&
            PROP_TYPE(n->tag) != (PT_MV | PT_STRING8))
            return fail(ps, "content restriction on a non-string property");
        return 0;
    case XC_RES_PROPERTY:
        n->relop = xc_get_u8(r);
        n->tag = xc_get_u32(r);
        if (value(ps, &n->value) < 0)
            return -1;
        return n->relop > XC_RELOP_RE ? fail(ps, "unknown relational operator")
                                      : 0;
    case XC_RES_COMPAREPROPS:
        n->relop = xc_get_u8(r);
        n->tag = xc_get_u32(r);
        n->tag2 = xc_get_u32(r);
        if (r->err)
            return fail(ps, "truncated restriction");
        return n->relop > XC_RELOP_RE ? fail(ps, "unknown relational operator")
                                      : 0;
    case XC_RES_BITMASK:
        n->relop = xc_get_u8(r);
        n->tag = xc_get_u32(r);
        n->mask = xc_get_u32(r);
        if (r->err)
            return fail(ps, "truncated restriction");
        return n->relop > 1 ? fail(ps, "unknown bitmask operator") : 0;
    case XC_RES_SIZE:
        n->relop = xc_get_u8(r);
        n->tag = xc_get_u32(r);
        n->mask = xc_get_u32(r);
        if (r->err)
            return fail(ps, "truncated restriction");
        return n->relop > XC_RELOP_RE ? fail(ps, "unknown relational operator")
                                      : 0;
    case XC_RES_EXIST:
        n->tag = xc_get_u32(r);
        return r->err ? fail(ps, "truncated restriction") : 0;
    case XC_RES_SUBRESTRICTION:
        n->tag = xc_get_u32(r);
        if (r->err)
            return fail(ps, "truncated restriction");
        if (n->tag != XC_PR_MESSAGE_RECIPIENTS &&
            n->tag != XC_PR_MESSAGE_ATTACHMENTS)
            return fail(ps, "sub-restriction on an unknown sub-object");
        return one_kid(ps, n, depth);
    case XC_RES_COMMENT: {
        uint8_t count = xc_get_u8(r), present;
        xc_rvalue ignored;
        for (uint8_t i = 0; i < count; i++)
            if (value(ps, &ignored) < 0)
                return -1;
        present = xc_get_u8(r);
        if (r->err)
            return fail(ps, "truncated restriction");
        if (present > 1)
            return fail(ps, "bad RestrictionPresent");
        return present ? one_kid(ps, n, depth) : 0;
    }
    case XC_RES_COUNT:
        n->mask = xc_get_u32(r);
        if (r->err)
            return fail(ps, "truncated restriction");
        return one_kid(ps, n, depth);
    default:
        return fail(ps, "unknown restriction type");
    }
}

int xc_restrict_parse(const uint8_t *buf, size_t len, xc_rnode *nodes,
                      xc_rnode **kidbuf, size_t max, xc_rnode **root,
                      const char **error_r)
{
    parser ps = { .nodes = nodes, .kids = kidbuf,
                  .max = max > XC_RES_MAX_NODES ? XC_RES_MAX_NODES : max };

    xc_rbuf_init(&ps.r, buf, len);
    if (restriction(&ps, 0, root) < 0) {
        *error_r = ps.err ? ps.err : "bad restriction";
        return -1;
    }
    if (xc_rbuf_left(&ps.r) != 0) {
        *error_r = "trailing bytes after the restriction";
        return -1;
    }
    return 0;
}
