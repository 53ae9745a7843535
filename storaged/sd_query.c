/*
 * NAME
 *   sd_query - contents tables: columns, sort orders, restrictions
 *
 * DESCRIPTION
 *   XW_OP_CONTENTS over sql/002_store.sql ([MS-OXCTABL]): one page of a
 *   folder's messages with the requested columns, in the requested order,
 *   limited to the rows a restriction ([MS-OXCDATA] 2.12, decoded by
 *   lib/xc_restrict) accepts. The restriction tree and the sort keys are
 *   compiled to one SQL statement: the text comes only from the fixed
 *   fragments below, every value from the request is a parameter.
 *
 *   What a restriction means here (t/integration/test_query.py checks it
 *   against an independent evaluator):
 *   - A property restriction on a property the message lacks is FALSE,
 *     whatever the operator (NOT of it is TRUE). Values of another type
 *     than the restriction's tag never match; PT_STRING8 and PT_UNICODE
 *     are one type (stored as UTF-8).
 *   - Strings compare case-insensitively, by code point after lower-
 *     casing (RELOP_* and sorts); binaries byte by byte, shorter first on
 *     a common prefix; numbers and times numerically; booleans 0 < 1.
 *   - Content restrictions (2.12.4): FL_FULLSTRING / FL_SUBSTRING /
 *     FL_PREFIX, case-sensitive unless FL_IGNORECASE; on binaries bytes
 *     match exactly. FL_IGNORENONSPACE and FL_LOOSE are accepted and
 *     change nothing yet.
 *   - A content restriction on PR_SEARCH_ALL_INDEXED_PROPS is a full-text
 *     search: every word of the value must begin a word of the subject,
 *     the body, or a sender or recipient name or address
 *     (sql/004_search.sql keeps that index, PostgreSQL tsvector + GIN).
 *   - Size (2.12.8) is the value's size on the wire: UTF-16 bytes for
 *     PT_UNICODE, UTF-8 bytes for PT_STRING8, the bytes of a binary, the
 *     [MS-OXCDATA] 2.11.1 size of a fixed-size type.
 *   - Bitmask (2.12.7) applies to integer types. Compare-props (2.12.6)
 *     needs both properties, of one type. Sub-restrictions (2.12.10) on
 *     PR_MESSAGE_RECIPIENTS / PR_MESSAGE_ATTACHMENTS are TRUE if some
 *     recipient / attachment satisfies the inner restriction, which then
 *     speaks of that object's properties (no nesting). A comment
 *     restriction is its inner restriction, TRUE without one. A count
 *     restriction (2.12.12) only at the top: the first N matching rows in
 *     the table's order. AND of nothing is TRUE, OR of nothing FALSE.
 *   - Not supported (XC_E_UNSUPPORTED): RELOP_RE, multi-valued properties
 *     in restrictions and sorts, PR_MID in restrictions.
 *   Sorts: up to MAX_SORT keys, ascending (0) or descending (1); a missing
 *   value is the smallest (first ascending, last descending); PR_SUBJECT
 *   absent sorts as the empty string and PR_MESSAGE_CLASS absent as
 *   "IPM.Note" (their table columns); ties go by MID in the first key's
 *   direction. PR_MESSAGE_DELIVERY_TIME is compared and sorted to the
 *   microsecond (its indexed column).
 */
#include "sd.h"
#include "sd_store.h"
#include "xc_ids.h"
#include "xc_props.h"
#include "xc_restrict.h"
#include "xc_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SORT 8
#define MAX_RES_NODES 1024

/* ---- the statement being built ----------------------------------------- */

typedef struct qb {
    xc_wbuf sql;
    char **val;                 /* parameter values (owned) */
    int *len, *fmt;
    int np, cap;
    xc_status st;               /* first failure */
    const char *err;
    int64_t mailbox;
    int sub;                    /* T_MSG, or T_RECIP / T_ATTACH inside a
                                   sub-restriction */
} qb;

static int qb_fail(qb *q, xc_status st, const char *err)
{
    if (q->st == XC_OK) {
        q->st = st;
        q->err = err;
    }
    return -1;
}

static void s(qb *q, const char *text)
{
    xc_out(&q->sql, text);
}

/* A parameter: its number, or -1. Binary ones are passed as bytea. */
static int param(qb *q, const void *p, size_t n, int binary)
{
    if (q->np == q->cap) {
        int cap = q->cap ? q->cap * 2 : 16;
        char **v = realloc(q->val, (size_t)cap * sizeof(*v));
        int *l, *f;
        if (v == NULL)
            return qb_fail(q, XC_E_TEMP, NULL);
        q->val = v;
        if ((l = realloc(q->len, (size_t)cap * sizeof(*l))) == NULL)
            return qb_fail(q, XC_E_TEMP, NULL);
        q->len = l;
        if ((f = realloc(q->fmt, (size_t)cap * sizeof(*f))) == NULL)
            return qb_fail(q, XC_E_TEMP, NULL);
        q->fmt = f;
        q->cap = cap;
    }
    if ((q->val[q->np] = malloc(n + 1)) == NULL)
        return qb_fail(q, XC_E_TEMP, NULL);
    if (n)
        memcpy(q->val[q->np], p, n);
    q->val[q->np][n] = '\0';
    q->len[q->np] = (int)n;
    q->fmt[q->np] = binary;
    return ++q->np;
}

static int param_str(qb *q, const char *text)
{
    return param(q, text, strlen(text), 0);
}

static int param_i64(qb *q, int64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%" PRId64, v);
    return param_str(q, b);
}

/* "$n" followed by a cast (our own constant text). */
static void ref(qb *q, int n, const char *cast)
{
    char b[16];
    if (n < 0)
        return;
    snprintf(b, sizeof(b), "$%d", n);
    s(q, b);
    s(q, cast);
}

static void qb_free(qb *q)
{
    for (int i = 0; i < q->np; i++)
        free(q->val[i]);
    free(q->val);
    free(q->len);
    free(q->fmt);
    xc_wbuf_free(&q->sql);
}

/* ---- values ------------------------------------------------------------- */

enum vclass { V_NONE, V_INT, V_FLOAT, V_TEXT, V_BIN };

static int vclass(uint16_t type)
{
    switch (type) {
    case PT_SHORT: case PT_LONG: case PT_ERROR: case PT_BOOLEAN: case PT_I8:
    case PT_CURRENCY: case PT_SYSTIME:
        return V_INT;
    case PT_FLOAT: case PT_DOUBLE: case PT_APPTIME:
        return V_FLOAT;
    case PT_STRING8: case PT_UNICODE:
        return V_TEXT;
    case PT_BINARY: case PT_CLSID: case PT_SVREID:
        return V_BIN;
    default:
        return V_NONE;
    }
}

/*
 * Properties kept in columns of messages. present: how to tell that the
 * message has the property (NULL: always, or the column is NULL when not).
 */
#define FLAGS_EXPR "(CASE WHEN m.is_read THEN 1 ELSE 0 END + " \
                   "CASE WHEN m.is_fai THEN 64 ELSE 0 END + m.msg_flags)"
static const struct hot {
    uint16_t id, type;
    const char *expr;           /* the value */
    const char *sortexpr;
    int stored;                 /* presence is a message_props row */
    int nullable;               /* NULL when the message lacks it */
} hots[] = {
    { 0x0037, PT_UNICODE, "m.subject", "lower(m.subject) COLLATE \"C\"", 1, 0 },
    { 0x001A, PT_UNICODE, "m.message_class",
      "lower(m.message_class) COLLATE \"C\"", 1, 0 },
    { 0x0E06, PT_SYSTIME, "m.delivery_time", "m.delivery_time", 0, 1 },
    { 0x0E08, PT_LONG, "m.message_size", "m.message_size", 0, 0 },
    { 0x0E07, PT_LONG, FLAGS_EXPR, FLAGS_EXPR, 0, 0 },
};

static const struct hot *hot_of(const qb *q, uint32_t tag)
{
    if (q->sub != T_MSG)
        return NULL;
    for (size_t i = 0; i < sizeof(hots) / sizeof(hots[0]); i++)
        if (hots[i].id == PROP_ID(tag) &&
            (hots[i].type == PROP_TYPE(tag) ||
             (vclass(hots[i].type) == V_TEXT &&
              vclass(PROP_TYPE(tag)) == V_TEXT)))
            return &hots[i];
    return NULL;
}

/* "p.tag IN (...)": the tags that hold values of tag's type. */
static void tag_in(qb *q, uint32_t tag)
{
    char b[24];
    uint16_t id = PROP_ID(tag);

    s(q, "p.tag IN (");
    if (vclass(PROP_TYPE(tag)) == V_TEXT) {
        snprintf(b, sizeof(b), "%d, ", (int32_t)PROP_TAG(PT_UNICODE, id));
        s(q, b);
        snprintf(b, sizeof(b), "%d", (int32_t)PROP_TAG(PT_STRING8, id));
    } else {
        snprintf(b, sizeof(b), "%d", (int32_t)tag);
    }
    s(q, b);
    s(q, ")");
}

/* FROM ... WHERE: the rows of this object's properties (alias p). */
static void props_of(qb *q, int join_blobs)
{
    s(q, q->sub == T_RECIP ? "FROM recipients p "
         : q->sub == T_ATTACH ? "FROM attachments p " : "FROM message_props p ");
    if (join_blobs)
        s(q, "LEFT JOIN blobs b ON b.hash = p.blob ");
    s(q, "WHERE p.mailbox_id = m.mailbox_id AND p.mid = m.mid ");
    if (q->sub == T_RECIP)
        s(q, "AND p.row_id = o.sub ");
    else if (q->sub == T_ATTACH)
        s(q, "AND p.attach_num = o.sub ");
}

/* The stored value column of a class (inside props_of). */
static const char *column(int vc)
{
    switch (vc) {
    case V_INT: return "p.ival";
    case V_FLOAT: return "p.fval";
    /* convert_from's result takes collation "C" from its name argument:
       back to the database's, as tval has, so lower() works on it */
    case V_TEXT:
        return "coalesce(p.tval, convert_from(b.data, 'UTF8') "
               "COLLATE \"default\")";
    default: return "coalesce(p.bval, b.data)";
    }
}

/* The value of tag (NULL when the object lacks it), as an expression. */
static void value(qb *q, uint32_t tag)
{
    int vc = vclass(PROP_TYPE(tag));

    s(q, "(SELECT ");
    s(q, column(vc));
    s(q, " ");
    props_of(q, vc == V_TEXT || vc == V_BIN);
    s(q, "AND ");
    tag_in(q, tag);
    s(q, " LIMIT 1)");
}

/* Does the object have tag (for hot columns that hold a default)? */
static void present(qb *q, uint32_t tag)
{
    s(q, "EXISTS (SELECT 1 ");
    props_of(q, 0);
    s(q, "AND ");
    tag_in(q, tag);
    s(q, ")");
}

/* A restriction's value as a parameter of the stored column's class;
   the cast to append after it in *cast. -1 on a bad value. */
static int value_param(qb *q, const xc_rvalue *v, const char **cast)
{
    uint16_t type = PROP_TYPE(v->tag);
    xc_wbuf u8;
    int n;

    switch (type) {
    case PT_SHORT:
        *cast = "::bigint";
        return param_i64(q, (int16_t)v->u);
    case PT_LONG:
        *cast = "::bigint";
        return param_i64(q, (int32_t)v->u);
    case PT_ERROR:
        *cast = "::bigint";
        return param_i64(q, (uint32_t)v->u);
    case PT_BOOLEAN:
        *cast = "::bigint";
        return param_i64(q, v->u != 0);
    case PT_I8: case PT_CURRENCY: case PT_SYSTIME:
        *cast = "::bigint";
        return param_i64(q, (int64_t)v->u);
    case PT_FLOAT: case PT_DOUBLE: case PT_APPTIME: {
        char b[40];
        double d;
        if (type == PT_FLOAT) {
            float f;
            uint32_t u = (uint32_t)v->u;
            memcpy(&f, &u, 4);
            d = f;
        } else {
            memcpy(&d, &v->u, 8);
        }
        snprintf(b, sizeof(b), "%.17g", d);
        *cast = "::float8";
        return param_str(q, b);
    }
    case PT_STRING8:
        if (!xc_utf8_valid(v->p, v->n))
            return qb_fail(q, XC_E_BADREQ, "a string in the restriction is "
                           "not UTF-8");
        *cast = "::text";
        return param(q, v->p, v->n, 0);
    case PT_UNICODE:
        xc_wbuf_init(&u8, 0);
        if (xc_utf16le_to_utf8(&u8, v->p, v->n) < 0 || u8.err) {
            xc_wbuf_free(&u8);
            return qb_fail(q, XC_E_BADREQ, "a string in the restriction is "
                           "not UTF-16");
        }
        *cast = "::text";
        n = param(q, u8.p ? (const char *)u8.p : "", u8.len, 0);
        xc_wbuf_free(&u8);
        return n;
    default:
        *cast = "::bytea";
        return param(q, v->p ? (const void *)v->p : "", v->n, 1);
    }
}

static const char *relop_sql(uint8_t relop)
{
    static const char *const ops[] = { " < ", " <= ", " > ", " >= ", " = ",
                                       " <> " };
    return relop < 6 ? ops[relop] : NULL;
}

/* Delivery time's column is a timestamptz: the FILETIME parameter is
   turned into one the way a save does (seconds, 7 decimals). */
static int time_param(qb *q, int64_t filetime)
{
    char b[40];
    snprintf(b, sizeof(b), "%.7f",
             (double)filetime / 1e7 - (double)FILETIME_UNIX_DIFF);
    return param_str(q, b);
}

/* ---- the compiler ------------------------------------------------------- */

static int compile(qb *q, const xc_rnode *n, int depth);

/*
 * A leaf's condition is never NULL, so that NOT sees FALSE for a missing
 * value: open_leaf, the condition, close_leaf. A stored value goes through
 * coalesce(..., false); a column guards itself with IS NOT NULL or needs
 * nothing, so that its index serves the condition. close_leaf also adds
 * the presence test of a column that holds a default.
 */
static void open_leaf(qb *q, const struct hot *h)
{
    if (h == NULL) {
        s(q, "(coalesce(");
    } else if (h->nullable) {
        s(q, "(");
        s(q, h->expr);
        s(q, " IS NOT NULL AND (");
    } else {
        s(q, "((");
    }
}

static void close_leaf(qb *q, const struct hot *h, uint32_t tag)
{
    s(q, h == NULL ? ", false)" : ")");
    if (h != NULL && h->stored) {
        s(q, " AND ");
        if (h->id == 0x0037)
            s(q, "(m.subject <> '' OR ");
        present(q, tag);
        if (h->id == 0x0037)
            s(q, ")");
    }
    s(q, ")");
}

static void open_value(qb *q, const struct hot *h, uint32_t tag, int lower)
{
    if (lower)
        s(q, "lower(");
    if (h != NULL)
        s(q, h->expr);
    else
        value(q, tag);
    if (lower)
        s(q, ") COLLATE \"C\"");
}

static int check_prop(qb *q, uint32_t tag)
{
    if (PROP_TYPE(tag) & PT_MV)
        return qb_fail(q, XC_E_UNSUPPORTED, "restrictions on multi-valued "
                       "properties are not supported yet");
    if (PROP_ID(tag) == PROP_ID(PR_MID))
        return qb_fail(q, XC_E_UNSUPPORTED, "can't restrict on PR_MID");
    if (vclass(PROP_TYPE(tag)) == V_NONE)
        return qb_fail(q, XC_E_BADREQ, "a restriction names a property "
                       "type that has no values");
    return 0;
}

static int res_property(qb *q, const xc_rnode *n)
{
    const struct hot *h;
    const char *cast, *op = relop_sql(n->relop);
    int vc = vclass(PROP_TYPE(n->tag)), p;

    if (check_prop(q, n->tag) < 0)
        return -1;
    if (op == NULL)
        return qb_fail(q, XC_E_UNSUPPORTED, n->relop == XC_RELOP_RE
                       ? "RELOP_RE is not supported" : "unknown relop");
    if (vclass(PROP_TYPE(n->value.tag)) != vc) {
        s(q, "false");      /* a value of another type never matches */
        return 0;
    }
    h = hot_of(q, n->tag);
    if (h != NULL && h->type == PT_SYSTIME) {
        p = time_param(q, (int64_t)n->value.u);
        open_leaf(q, h);
        s(q, "m.delivery_time");
        s(q, op);
        s(q, "to_timestamp(");
        ref(q, p, "::float8)");
        close_leaf(q, h, n->tag);
        return 0;
    }
    if ((p = value_param(q, &n->value, &cast)) < 0)
        return -1;
    open_leaf(q, h);
    open_value(q, h, n->tag, vc == V_TEXT);
    s(q, op);
    if (vc == V_TEXT) {
        s(q, "lower(");
        ref(q, p, cast);
        s(q, ") COLLATE \"C\"");
    } else {
        ref(q, p, cast);
    }
    close_leaf(q, h, n->tag);
    return 0;
}

/* value with LIKE's wildcards escaped, for a substring or prefix match */
static int like_param(qb *q, const xc_rvalue *v, int prefix, int substr)
{
    const char *cast;
    int p = value_param(q, v, &cast);
    xc_wbuf w;
    const char *t;

    if (p < 0)
        return -1;
    xc_wbuf_init(&w, 0);
    if (substr)
        xc_put_u8(&w, '%');
    for (t = q->val[p - 1]; *t; t++) {
        if (*t == '%' || *t == '_' || *t == '\\')
            xc_put_u8(&w, '\\');
        xc_put_u8(&w, (uint8_t)*t);
    }
    if (prefix || substr)
        xc_put_u8(&w, '%');
    xc_put_u8(&w, 0);
    if (w.err) {
        xc_wbuf_free(&w);
        return qb_fail(q, XC_E_TEMP, NULL);
    }
    free(q->val[p - 1]);
    q->val[p - 1] = (char *)w.p;
    q->len[p - 1] = (int)strlen((char *)w.p);
    return p;
}

static int res_content(qb *q, const xc_rnode *n)
{
    int vc = vclass(PROP_TYPE(n->tag)), icase, p;
    const struct hot *h;
    const char *cast;

    if (n->tag == PR_SEARCH_ALL_INDEXED_PROPS ||
        n->tag == PROP_TAG(PT_STRING8, PROP_ID(PR_SEARCH_ALL_INDEXED_PROPS))) {
        if (q->sub != T_MSG)
            return qb_fail(q, XC_E_BADREQ, "full-text search inside a "
                           "sub-restriction");
        if (vclass(PROP_TYPE(n->value.tag)) != V_TEXT)
            return qb_fail(q, XC_E_BADREQ, "full-text search needs a string");
        if ((p = value_param(q, &n->value, &cast)) < 0)
            return -1;
        /* the matching messages once (an uncorrelated sub-select: the
           planner can't estimate prefix searches, and a per-row probe
           walks the whole folder when few match) */
        s(q, "m.mid = ANY (ARRAY(SELECT x.mid FROM message_search x WHERE "
             "x.mailbox_id = $1 AND x.fts @@ xc_fts_query(");
        ref(q, p, "::text)))");
        return 0;
    }
    if (check_prop(q, n->tag) < 0)
        return -1;
    if (vc != V_TEXT && vc != V_BIN)
        return qb_fail(q, XC_E_BADREQ, "a content restriction needs a "
                       "string or binary property");
    if (vclass(PROP_TYPE(n->value.tag)) != vc) {
        s(q, "false");
        return 0;
    }
    h = hot_of(q, n->tag);
    icase = vc == V_TEXT && (n->fuzzy_high & XC_FL_IGNORECASE);
    if (vc == V_BIN) {
        if ((p = value_param(q, &n->value, &cast)) < 0)
            return -1;
        open_leaf(q, NULL);
        if (n->fuzzy_low == XC_FL_SUBSTRING) {
            s(q, "position(");
            ref(q, p, cast);
            s(q, " IN ");
            value(q, n->tag);
            s(q, ") > 0");
        } else if (n->fuzzy_low == XC_FL_PREFIX) {
            s(q, "substring(");
            value(q, n->tag);
            s(q, " FROM 1 FOR length(");
            ref(q, p, cast);
            s(q, ")) = ");
            ref(q, p, cast);
        } else {
            value(q, n->tag);
            s(q, " = ");
            ref(q, p, cast);
        }
        close_leaf(q, NULL, n->tag);
        return 0;
    }
    if (n->fuzzy_low == XC_FL_FULLSTRING) {
        if ((p = value_param(q, &n->value, &cast)) < 0)
            return -1;
        open_leaf(q, h);
        open_value(q, h, n->tag, icase);
        s(q, " = ");
        if (icase)
            s(q, "lower(");
        ref(q, p, cast);
        if (icase)
            s(q, ") COLLATE \"C\"");
    } else {
        p = like_param(q, &n->value, n->fuzzy_low == XC_FL_PREFIX,
                       n->fuzzy_low == XC_FL_SUBSTRING);
        if (p < 0)
            return -1;
        open_leaf(q, h);
        open_value(q, h, n->tag, 0);
        s(q, icase ? " ILIKE " : " LIKE ");
        ref(q, p, "::text");
    }
    close_leaf(q, h, n->tag);
    return 0;
}

/* The value's size on the wire, for a size restriction. */
static void size_of(qb *q, uint32_t tag)
{
    const struct hot *h = hot_of(q, tag);
    uint16_t type = PROP_TYPE(tag);
    char b[40];

    switch (type) {
    case PT_UNICODE:
        /* UTF-16 code units: one per character, two above U+FFFF */
        s(q, "(2 * (length(");
        open_value(q, h, tag, 0);
        s(q, ") + length(regexp_replace(");
        open_value(q, h, tag, 0);
        s(q, ", '[^\\U00010000-\\U0010FFFF]', '', 'g'))))");
        return;
    case PT_STRING8: case PT_BINARY: case PT_SVREID:
        s(q, "octet_length(");
        open_value(q, h, tag, 0);
        s(q, ")");
        return;
    default:
        s(q, "(CASE WHEN (");
        open_value(q, h, tag, 0);
        snprintf(b, sizeof(b), ") IS NULL THEN NULL ELSE %d END)",
                 type == PT_BOOLEAN ? 1 : type == PT_SHORT ? 2
                 : type == PT_LONG || type == PT_FLOAT || type == PT_ERROR ? 4
                 : type == PT_CLSID ? 16 : 8);
        s(q, b);
        return;
    }
}

static int res_size(qb *q, const xc_rnode *n)
{
    const char *op = relop_sql(n->relop);
    int p;

    if (check_prop(q, n->tag) < 0)
        return -1;
    if (op == NULL)
        return qb_fail(q, XC_E_UNSUPPORTED, "unknown relop in a size "
                       "restriction");
    p = param_i64(q, n->mask);
    open_leaf(q, hot_of(q, n->tag));
    size_of(q, n->tag);
    s(q, op);
    ref(q, p, "::bigint");
    close_leaf(q, hot_of(q, n->tag), n->tag);
    return 0;
}

static int res_bitmask(qb *q, const xc_rnode *n)
{
    const struct hot *h;
    int p;

    if (check_prop(q, n->tag) < 0)
        return -1;
    if (vclass(PROP_TYPE(n->tag)) != V_INT || PROP_TYPE(n->tag) == PT_SYSTIME) {
        s(q, "false");
        return 0;
    }
    h = hot_of(q, n->tag);
    p = param_i64(q, n->mask);
    open_leaf(q, h);
    s(q, "(");
    open_value(q, h, n->tag, 0);
    s(q, " & ");
    ref(q, p, "::bigint)");
    s(q, n->relop ? " <> 0" : " = 0");
    close_leaf(q, h, n->tag);
    return 0;
}

static int res_exist(qb *q, const xc_rnode *n)
{
    const struct hot *h;

    if (check_prop(q, n->tag) < 0)
        return -1;
    h = hot_of(q, n->tag);
    if (h != NULL && !h->stored) {
        s(q, "(");
        s(q, h->expr);
        s(q, " IS NOT NULL)");
        return 0;
    }
    present(q, n->tag);
    return 0;
}

static int res_compare(qb *q, const xc_rnode *n)
{
    const char *op = relop_sql(n->relop);
    int vc = vclass(PROP_TYPE(n->tag));
    const struct hot *h1, *h2;

    if (check_prop(q, n->tag) < 0 || check_prop(q, n->tag2) < 0)
        return -1;
    if (op == NULL)
        return qb_fail(q, XC_E_UNSUPPORTED, "unknown relop in a compare-"
                       "properties restriction");
    if (vc != vclass(PROP_TYPE(n->tag2))) {
        s(q, "false");
        return 0;
    }
    h1 = hot_of(q, n->tag);
    h2 = hot_of(q, n->tag2);
    /* a delivery time as FILETIME is only in message_props: compare the
       stored values (to the 100 ns) */
    if (h1 != NULL && h1->type == PT_SYSTIME)
        h1 = NULL;
    if (h2 != NULL && h2->type == PT_SYSTIME)
        h2 = NULL;
    s(q, "(coalesce(");
    open_value(q, h1, n->tag, vc == V_TEXT);
    s(q, op);
    open_value(q, h2, n->tag2, vc == V_TEXT);
    s(q, ", false)");
    for (int i = 0; i < 2; i++) {
        const struct hot *h = i ? h2 : h1;
        if (h != NULL && h->stored) {
            s(q, " AND ");
            present(q, i ? n->tag2 : n->tag);
        }
    }
    s(q, ")");
    return 0;
}

static int res_sub(qb *q, const xc_rnode *n, int depth)
{
    int r;

    if (q->sub != T_MSG)
        return qb_fail(q, XC_E_BADREQ, "sub-restrictions don't nest");
    if (n->tag == XC_PR_MESSAGE_RECIPIENTS) {
        s(q, "EXISTS (SELECT 1 FROM (SELECT DISTINCT row_id AS sub FROM "
             "recipients WHERE mailbox_id = m.mailbox_id AND mid = m.mid) o "
             "WHERE ");
        q->sub = T_RECIP;
    } else if (n->tag == XC_PR_MESSAGE_ATTACHMENTS) {
        s(q, "EXISTS (SELECT 1 FROM (SELECT DISTINCT attach_num AS sub FROM "
             "attachments WHERE mailbox_id = m.mailbox_id AND mid = m.mid) o "
             "WHERE ");
        q->sub = T_ATTACH;
    } else {
        return qb_fail(q, XC_E_BADREQ, "a sub-restriction must name "
                       "PR_MESSAGE_RECIPIENTS or PR_MESSAGE_ATTACHMENTS");
    }
    r = compile(q, n->kids[0], depth + 1);
    q->sub = T_MSG;
    s(q, ")");
    return r;
}

static int compile(qb *q, const xc_rnode *n, int depth)
{
    switch (n->type) {
    case XC_RES_AND: case XC_RES_OR:
        if (n->nkids == 0) {
            s(q, n->type == XC_RES_AND ? "true" : "false");
            return 0;
        }
        s(q, "(");
        for (uint16_t i = 0; i < n->nkids; i++) {
            if (i)
                s(q, n->type == XC_RES_AND ? " AND " : " OR ");
            if (compile(q, n->kids[i], depth + 1) < 0)
                return -1;
        }
        s(q, ")");
        return 0;
    case XC_RES_NOT:
        s(q, "NOT ");
        return compile(q, n->kids[0], depth + 1);
    case XC_RES_CONTENT:
        return res_content(q, n);
    case XC_RES_PROPERTY:
        return res_property(q, n);
    case XC_RES_COMPAREPROPS:
        return res_compare(q, n);
    case XC_RES_BITMASK:
        return res_bitmask(q, n);
    case XC_RES_SIZE:
        return res_size(q, n);
    case XC_RES_EXIST:
        return res_exist(q, n);
    case XC_RES_SUBRESTRICTION:
        return res_sub(q, n, depth);
    case XC_RES_COMMENT:
        if (n->nkids == 0) {
            s(q, "true");
            return 0;
        }
        return compile(q, n->kids[0], depth + 1);
    case XC_RES_COUNT:
        return qb_fail(q, XC_E_UNSUPPORTED, "a count restriction only at "
                       "the top");
    default:
        return qb_fail(q, XC_E_BADREQ, "unknown restriction type");
    }
}

/* ---- sort keys ---------------------------------------------------------- */

/* ORDER BY the keys (checked by the caller), then the MID. */
/* What a sort key sorts by, as an expression over messages m. */
static void key_expr(qb *q, uint32_t key)
{
    const struct hot *h = hot_of(q, key);

    if (PROP_ID(key) == PROP_ID(PR_MID))
        s(q, "m.mid");
    else if (h != NULL)
        s(q, h->sortexpr);
    else
        open_value(q, NULL, key, vclass(PROP_TYPE(key)) == V_TEXT);
}

static void order_by(qb *q, const uint32_t *keys, const int *desc,
                     size_t nkeys)
{
    s(q, " ORDER BY ");
    for (size_t i = 0; i < nkeys; i++) {
        key_expr(q, keys[i]);
        s(q, desc[i] ? " DESC NULLS LAST, " : " ASC NULLS FIRST, ");
    }
    s(q, nkeys && desc[0] ? "m.mid DESC" : "m.mid ASC");
}

/* ---- positions: bookmarks and FindRow ([MS-OXCTABL] 2.2.2.x) ----------- */

/* Drop the parameters after the first n (those of a finished query). */
static void drop_params(qb *q, int n)
{
    while (q->np > n)
        free(q->val[--q->np]);
}

/*
 * Where the page starts: *start is OFFSET on entry; with seek_gc >= 0 it
 * counts from that row's position; with find, the page starts at the
 * first row from there (backward: the last up to there) that matches.
 * XC_E_NOTFOUND if the row is not in the table or nothing matches.
 */
static xc_status position(sd_db *db, qb *q, const char *src,
                          const uint32_t *keys, const int *desc,
                          size_t nkeys, int64_t seek_gc,
                          const xc_rnode *find, int backward, int64_t *start)
{
    int base = q->np;
    xc_wbuf text = q->sql;
    xc_status st = XC_OK;
    PGresult *res;

    for (int step = 0; step < 2 && st == XC_OK; step++) {
        if ((step == 0 && seek_gc < 0) || (step == 1 && find == NULL))
            continue;
        xc_wbuf_init(&q->sql, 0);
        s(q, "SELECT t.pos FROM (SELECT m.mid, row_number() OVER (");
        order_by(q, keys, desc, nkeys);
        s(q, ") - 1 AS pos");
        if (step == 1) {
            s(q, ", (");
            if (compile(q, find, 0) < 0)
                break;
            s(q, ") AS hit");
        }
        s(q, src);
        if (step == 0) {
            s(q, ") t WHERE t.mid = ");
            ref(q, param_i64(q, seek_gc), "::bigint");
        } else {
            s(q, backward ? ") t WHERE t.hit AND t.pos <= "
                          : ") t WHERE t.hit AND t.pos >= ");
            ref(q, param_i64(q, *start), "::bigint");
            s(q, backward ? " ORDER BY t.pos DESC LIMIT 1"
                          : " ORDER BY t.pos LIMIT 1");
        }
        xc_put_u8(&q->sql, 0);
        if (q->sql.err)
            qb_fail(q, XC_E_TEMP, NULL);
        if (q->st != XC_OK)
            break;
        res = sd_db_exec_dynamic(db, (const char *)q->sql.p, q->np,
                                 (const char *const *)q->val, q->len, q->fmt,
                                 0, &st);
        xc_wbuf_free(&q->sql);
        drop_params(q, base);
        if (res == NULL)
            break;
        if (PQntuples(res) != 1) {
            PQclear(res);
            st = XC_E_NOTFOUND;
            break;
        }
        if (step == 0) {
            *start += strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            if (*start < 0)
                *start = 0;
        } else {
            *start = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        }
        PQclear(res);
    }
    xc_wbuf_free(&q->sql);
    q->sql = text;
    drop_params(q, base);
    if (q->st != XC_OK)
        return q->st;
    return st;
}

/* ---- the operation ------------------------------------------------------ */

/* The columns computed from messages' own columns. */
#define ROW_COLS "m.mid, m.fid, m.cn, m.change_key, m.message_size, " \
                 "m.is_read, m.is_fai"

/*
 * The stored values of the requested columns (col) of a page's messages
 * (column 0 of res), in MID order; NULL with *st_r on failure.
 */
static PGresult *page_props(sd_db *db, PGresult *res, const char *mailbox,
                            const uint32_t *col, size_t ncol,
                            xc_status *st_r)
{
    /* with the client bits of PR_MESSAGE_FLAGS (sql/021) as a value of
       that tag, for emit_leaf to add to the computed ones */
    static const char sql_props[] =
        "SELECT p.mid, " TABLE_VALUE_COLS " FROM message_props p "
        "LEFT JOIN blobs b ON b.hash = p.blob "
        "WHERE p.mailbox_id = $1 AND p.mid = ANY ($2::bigint[]) "
        "AND ((p.tag >> 16) & 65535) = ANY ($3::int[]) "
        "UNION ALL SELECT m.mid, 235339779, m.msg_flags::bigint, NULL, NULL, "
        "NULL, NULL FROM messages m WHERE m.mailbox_id = $1 "
        "AND m.mid = ANY ($2::bigint[]) AND m.msg_flags <> 0 "
        "AND 3591 = ANY ($3::int[]) ORDER BY 1, 2";
    xc_wbuf ids, pids;
    PGresult *props = NULL;
    char num[16];

    /* array literals of numbers, formatted here (so they are numbers) */
    xc_wbuf_init(&ids, 0);
    xc_wbuf_init(&pids, 0);
    xc_out(&ids, "{");
    for (int i = 0; i < PQntuples(res); i++) {
        xc_out(&ids, i ? "," : "");
        xc_out(&ids, PQgetvalue(res, i, 0));
    }
    xc_out(&ids, "}");
    xc_put_u8(&ids, 0);
    xc_out(&pids, "{");
    for (size_t i = 0; i < ncol; i++) {
        snprintf(num, sizeof(num), "%s%u", i ? "," : "", PROP_ID(col[i]));
        xc_out(&pids, num);
    }
    xc_out(&pids, "}");
    xc_put_u8(&pids, 0);
    if (ids.err || pids.err) {
        *st_r = XC_E_TEMP;
    } else {
        const char *p3[3] = { mailbox, (const char *)ids.p,
                              (const char *)pids.p };
        const int fmt[3] = { 0, 0, 0 };
        props = sd_db_execv(db, sql_props, 3, p3, NULL, fmt, 1, st_r);
    }
    xc_wbuf_free(&ids);
    xc_wbuf_free(&pids);
    return props;
}

/* props are in MID order, rows in the table's: the run of mid's
   properties, props[*first_r..*end_r), by binary search. */
static void row_props(PGresult *props, int64_t mid, int *first_r, int *end_r)
{
    int first = 0, hi = PQntuples(props), pi;

    while (first < hi) {
        int mid_i = first + (hi - first) / 2;
        if ((int64_t)sd_be64(PQgetvalue(props, mid_i, 0)) < mid)
            first = mid_i + 1;
        else
            hi = mid_i;
    }
    for (pi = first; pi < PQntuples(props) &&
                     (int64_t)sd_be64(PQgetvalue(props, pi, 0)) == mid;
         pi++)
        ;
    *first_r = first;
    *end_r = pi;
}

/*
 * A leaf row's columns: row i of res (ROW_COLS), its stored values
 * props[first..pi). depth >= 0: a categorized table's leaf (PR_ROW_TYPE,
 * PR_DEPTH, PR_INSTANCE_KEY too).
 */
static void emit_leaf(xc_wbuf *w, PGresult *res, int i, PGresult *props,
                      int first, int pi, const uint32_t *col, size_t ncol,
                      uint16_t replid, int fai, int depth)
{
    int64_t mid = strtoll(PQgetvalue(res, i, 0), NULL, 10);

    for (size_t c = 0; c < ncol; c++) {
        if (depth >= 0 && (col[c] == PR_ROW_TYPE || col[c] == PR_DEPTH ||
                           col[c] == PR_INSTANCE_KEY)) {
            uint8_t key[8];
            for (int k = 0; k < 8; k++)
                key[k] = (uint8_t)((uint64_t)mid >> (8 * k));
            if (col[c] == PR_ROW_TYPE)
                xc_put_long(w, PR_ROW_TYPE, TBL_LEAF_ROW);
            else if (col[c] == PR_DEPTH)
                xc_put_long(w, PR_DEPTH, depth);
            else
                xc_put_bin(w, PR_INSTANCE_KEY, key, sizeof(key));
            continue;
        }
        switch (PROP_ID(col[c])) {
        case PROP_ID(PR_MID):
            xc_put_i8(w, PR_MID, (int64_t)xc_make_id(replid,
                      (uint64_t)mid));
            continue;
        case PROP_ID(PR_PARENT_FID):    /* in a search folder: where
                                           the message is */
            xc_put_i8(w, PR_PARENT_FID, (int64_t)xc_make_id(replid,
                      (uint64_t)strtoll(PQgetvalue(res, i, 1), NULL,
                                        10)));
            continue;
        case PROP_ID(PR_MESSAGE_SIZE):
            xc_put_long(w, PR_MESSAGE_SIZE,
                        (int32_t)strtoll(PQgetvalue(res, i, 4), NULL, 10));
            continue;
        case PROP_ID(PR_MESSAGE_FLAGS): {
            int32_t extra = 0;      /* the client's bits (page_props) */
            for (int k = first; k < pi; k++)
                if (sd_be32(PQgetvalue(props, k, 1)) == PR_MESSAGE_FLAGS &&
                    !PQgetisnull(props, k, 2))
                    extra = (int32_t)sd_be64(PQgetvalue(props, k, 2));
            xc_put_long(w, PR_MESSAGE_FLAGS,
                        (PQgetvalue(res, i, 5)[0] == 't' ? MSGFLAG_READ
                                                         : 0) |
                        (fai ? MSGFLAG_ASSOCIATED : 0) | extra);
            continue;
        }
        case PROP_ID(PR_CHANGE_NUMBER):
            xc_put_i8(w, PR_CHANGE_NUMBER, (int64_t)xc_make_id(replid,
                      (uint64_t)strtoll(PQgetvalue(res, i, 2), NULL, 10)));
            continue;
        case PROP_ID(PR_CHANGE_KEY): {
            size_t kl = 0;
            unsigned char *k = PQunescapeBytea(
                (const unsigned char *)PQgetvalue(res, i, 3), &kl);
            if (k != NULL)
                xc_put_bin(w, PR_CHANGE_KEY, k, kl);
            PQfreemem(k);
            continue;
        }
        default:
            break;
        }
        /* stored: matched by property id, sent in its stored type */
        for (int k = first; k < pi; k++)
            if (PROP_ID(sd_be32(PQgetvalue(props, k, 1))) ==
                PROP_ID(col[c])) {
                /* long values cut as [MS-OXCDATA] 2.8.2 lets
                   tables: GET_MESSAGE has them whole */
                sd_emit_value_max(w, props, k, 1, TABLE_MAX_VALUE);
                break;
            }
    }
}

/* "c1, ..., cN" of a categorized table's query (", c1, ..." after
   something) */
static void cat_cols(qb *q, int n, int after)
{
    char one[16];

    for (int k = 1; k <= n; k++) {
        snprintf(one, sizeof(one), "%sc%d", after || k > 1 ? ", " : "", k);
        s(q, one);
    }
}

/* The id of a level-l category: the MD5 of its level and values. */
static void cat_key(qb *q, int l)
{
    char one[32];

    snprintf(one, sizeof(one), "md5(ROW(%d", l);
    s(q, one);
    cat_cols(q, l, 1);
    s(q, ")::text)");
}

/* Whether the level-l category is expanded: by default down to depth
   $pe, the other way when toggled ($pt, ids as hex). */
static void cat_expanded(qb *q, int l, int pe, int pt)
{
    char one[64];

    snprintf(one, sizeof(one), "((%d <= $%d::integer) <> (", l, pe);
    s(q, one);
    cat_key(q, l);
    snprintf(one, sizeof(one), " = ANY ($%d::text[])))", pt);
    s(q, one);
}

/*
 * A categorized contents table (XW_TAG_CATEGORIES, [MS-OXCTABL] 2.2.2.13):
 * one statement groups the table's rows (src, with q's parameters) by
 * GROUPING SETS of the first ncat sort keys, keeps the rows whose
 * categories are expanded, orders each header before what it holds and
 * pages the result; the page carries the count of visible rows (a count
 * of its own only for a page past the end). Header rows take their
 * category values from one of their messages.
 */
static xc_status categorized(sd_db *db, sd_reply *rp, qb *q, const char *src,
                             const uint32_t *keys, const int *desc,
                             size_t nkeys, int ncat, int nexp,
                             const char *toggled, const uint32_t *col,
                             size_t ncol, uint16_t replid, int fai,
                             const char *mailbox, int64_t offset, int limit,
                             int *total_r)
{
    xc_wbuf text;
    char num[64];
    int pe, pt, base;
    size_t nsort = nkeys - (size_t)ncat, head, core, core_end;
    xc_status st = XC_OK;
    PGresult *res = NULL, *props = NULL;

    snprintf(num, sizeof(num), "%d", nexp);
    pe = param_str(q, num);
    pt = param_str(q, toggled);
    xc_wbuf_free(&q->sql);
    xc_wbuf_init(&q->sql, 0);

    /* WITH leaf AS (the table's rows with their category and sort values) */
    s(q, "WITH leaf AS (SELECT " ROW_COLS);
    for (size_t k = 0; k < nkeys; k++) {
        s(q, ", ");
        key_expr(q, keys[k]);
        snprintf(num, sizeof(num), " AS %c%zu", k < (size_t)ncat ? 'c' : 's',
                 k < (size_t)ncat ? k + 1 : k - (size_t)ncat + 1);
        s(q, num);
    }
    s(q, src);
    s(q, ") SELECT ");
    head = q->sql.len;
    /* the page's columns: ROW_COLS (a header's mid: one of its messages),
       level (0 a message), counts, category id, expanded, visible rows */
    s(q, "rmid, fid, cn, change_key, message_size, is_read, is_fai, lvl, n, "
         "u, CASE lvl");
    for (int l = 1; l <= ncat; l++) {
        snprintf(num, sizeof(num), " WHEN %d THEN ", l);
        s(q, num);
        cat_key(q, l);
    }
    s(q, " END, CASE lvl");
    for (int l = 1; l <= ncat; l++) {
        snprintf(num, sizeof(num), " WHEN %d THEN ", l);
        s(q, num);
        cat_expanded(q, l, pe, pt);
    }
    s(q, " END, count(*) OVER ()");
    core = q->sql.len;
    /* the grouped rows */
    s(q, " FROM (SELECT CASE WHEN GROUPING(mid) = 0 THEN 0");
    for (int l = ncat; l >= 2; l--) {
        snprintf(num, sizeof(num), " WHEN GROUPING(c%d) = 0 THEN %d", l, l);
        s(q, num);
    }
    s(q, " ELSE 1 END AS lvl, CASE WHEN GROUPING(mid) = 0 THEN mid "
         "ELSE min(mid) END AS rmid, fid, cn, change_key, message_size, "
         "is_read, is_fai, count(*) AS n, "
         "count(*) FILTER (WHERE NOT is_read) AS u");
    cat_cols(q, ncat, 1);
    for (size_t k = 1; k <= nsort; k++) {
        snprintf(num, sizeof(num), ", s%zu", k);
        s(q, num);
    }
    s(q, " FROM leaf GROUP BY GROUPING SETS (");
    for (int l = 1; l <= ncat; l++) {
        s(q, l > 1 ? ", (" : "(");
        cat_cols(q, l, 0);
        s(q, ")");
    }
    s(q, ", (");
    cat_cols(q, ncat, 0);
    s(q, ", mid, fid, cn, change_key, message_size, is_read, is_fai");
    for (size_t k = 1; k <= nsort; k++) {
        snprintf(num, sizeof(num), ", s%zu", k);
        s(q, num);
    }
    /* a row shows when every category above it is expanded */
    s(q, "))) v WHERE true");
    for (int l = 1; l <= ncat; l++) {
        snprintf(num, sizeof(num), " AND (NOT (lvl = 0 OR lvl > %d) OR ", l);
        s(q, num);
        cat_expanded(q, l, pe, pt);
        s(q, ")");
    }
    core_end = q->sql.len;
    s(q, " ORDER BY ");
    for (int l = 1; l <= ncat; l++) {
        snprintf(num, sizeof(num), "c%d%s, (lvl = %d) DESC, ", l,
                 desc[l - 1] ? " DESC NULLS LAST" : " ASC NULLS FIRST", l);
        s(q, num);
    }
    for (size_t k = 1; k <= nsort; k++) {
        snprintf(num, sizeof(num), "s%zu%s, ", k,
                 desc[(size_t)ncat + k - 1] ? " DESC NULLS LAST"
                                            : " ASC NULLS FIRST");
        s(q, num);
    }
    base = q->np;
    s(q, desc[0] ? "rmid DESC OFFSET " : "rmid ASC OFFSET ");
    ref(q, param_i64(q, offset), "::bigint");
    s(q, " LIMIT ");
    ref(q, param_i64(q, limit), "::bigint");
    xc_put_u8(&q->sql, 0);
    if (q->sql.err)
        qb_fail(q, XC_E_TEMP, NULL);
    if ((st = q->st) != XC_OK)
        goto out;
    res = sd_db_exec_dynamic(db, (const char *)q->sql.p, q->np,
                             (const char *const *)q->val, q->len, q->fmt, 0,
                             &st);
    if (res == NULL)
        goto out;
    if (PQntuples(res) > 0) {
        *total_r = atoi(PQgetvalue(res, 0, 12));
    } else if (offset > 0) {
        /* a page past the end: count what there is */
        PGresult *c;
        xc_wbuf_init(&text, 0);
        xc_put_bytes(&text, q->sql.p, head);
        xc_out(&text, "count(*)");
        xc_put_bytes(&text, q->sql.p + core, core_end - core);
        xc_put_u8(&text, 0);
        drop_params(q, base);
        c = text.err ? NULL
            : sd_db_exec_dynamic(db, (const char *)text.p, q->np,
                                 (const char *const *)q->val, q->len, q->fmt,
                                 0, &st);
        if (text.err)
            st = XC_E_TEMP;
        xc_wbuf_free(&text);
        if (c == NULL)
            goto out;
        *total_r = atoi(PQgetvalue(c, 0, 0));
        PQclear(c);
    } else {
        *total_r = 0;
    }

    /* stored values of the rows' messages (a header's: one of its own) */
    if ((props = page_props(db, res, mailbox, col, ncol, &st)) == NULL)
        goto out;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t mid = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        int lvl = atoi(PQgetvalue(res, i, 7));
        int first, pi;
        xc_wbuf *w = sd_reply_begin_row(rp);

        row_props(props, mid, &first, &pi);
        if (lvl == 0) {
            emit_leaf(w, res, i, props, first, pi, col, ncol, replid, fai,
                      ncat);
        } else {
            for (size_t c = 0; c < ncol; c++) {
                if (col[c] == PR_ROW_TYPE) {
                    xc_put_long(w, PR_ROW_TYPE,
                                PQgetvalue(res, i, 11)[0] == 't'
                                    ? TBL_EXPANDED_CATEGORY
                                    : TBL_COLLAPSED_CATEGORY);
                } else if (col[c] == PR_DEPTH) {
                    xc_put_long(w, PR_DEPTH, lvl - 1);
                } else if (col[c] == PR_INSTANCE_KEY) {
                    uint8_t key[16];
                    const char *hx = PQgetvalue(res, i, 10);
                    for (int k = 0; k < 16 && hx[2 * k] && hx[2 * k + 1]; k++)
                        key[k] = (uint8_t)(
                            (hx[2 * k] <= '9' ? hx[2 * k] - '0'
                                              : hx[2 * k] - 'a' + 10) << 4 |
                            (hx[2 * k + 1] <= '9' ? hx[2 * k + 1] - '0'
                                                  : hx[2 * k + 1] - 'a' + 10));
                    xc_put_bin(w, PR_INSTANCE_KEY, key, sizeof(key));
                } else if (col[c] == PR_CONTENT_COUNT ||
                           col[c] == PR_CONTENT_UNREAD) {
                    xc_put_long(w, col[c], atoi(PQgetvalue(res, i,
                                col[c] == PR_CONTENT_COUNT ? 8 : 9)));
                } else {
                    /* the category's own values, down to this level */
                    for (int l = 0; l < lvl; l++)
                        if (PROP_ID(keys[l]) == PROP_ID(col[c])) {
                            emit_leaf(w, res, i, props, first, pi, &col[c],
                                      1, replid, fai, -1);
                            break;
                        }
                }
            }
        }
        if (sd_reply_row(rp, w) < 0)
            break;
    }
out:
    PQclear(res);
    PQclear(props);
    return st != XC_OK ? st : q->st;
}

void sd_store_contents(sd_db *db, sd_req *req, sd_reply *rp)
{
    static const char sql_total[] =
        "SELECT CASE WHEN $3::boolean THEN assoc_count ELSE content_count END "
        "FROM folders WHERE mailbox_id = $1 AND fid = $2";
    const xc_propval *cols = xc_props_find(req->args, req->nargs,
                                           XW_TAG_COLUMNS);
    const xc_propval *sort = xc_props_find(req->args, req->nargs, XW_TAG_SORT);
    const xc_propval *resv = xc_props_find(req->args, req->nargs,
                                           XW_TAG_RESTRICTION);
    const xc_propval *seekv = xc_props_find(req->args, req->nargs,
                                            XW_TAG_SEEK_MID);
    const xc_propval *findv = xc_props_find(req->args, req->nargs,
                                            XW_TAG_FIND);
    const xc_propval *v;
    uint32_t col[256], keys[MAX_SORT];
    int desc[MAX_SORT];
    size_t ncol = 0, nkeys = 0;
    int limit = 50, fai = 0, total = -1, backward = 0, nsrc;
    int64_t fid_w, fid, count_max = -1, offset = 0, seek_gc = -1;
    uint16_t replid;
    char a[24], b[24];
    sd_user me;
    mbx m;
    xc_status st;
    PGresult *res = NULL, *props = NULL;
    xc_mv_iter it;
    xc_propval one;
    xc_rnode *nodes = NULL, **kids = NULL, *root = NULL, *find = NULL;
    /* a search folder's own restriction (sql/016), ANDed with the
       table's */
    xc_rnode *snodes = NULL, **skids = NULL, *sroot = NULL, both;
    xc_rnode *both_kids[2];
    PGresult *crit = NULL;
    int search = 0;
    /* categories (XW_TAG_CATEGORIES): how many sort keys, expanded depth,
       toggled category ids as a text[] literal of hex */
    int ncat = 0, nexp = 0;
    xc_wbuf toggled = { 0 };
    qb q = { .st = XC_OK };
    xc_wbuf src = { 0 };

    xc_wbuf_init(&q.sql, 0);
    if (sd_open_store(db, req, rp, &me, &m) < 0)
        goto out;
    if (cols == NULL || cols->v.mv.count > 256) {
        sd_reply_status(rp, XC_E_BADREQ, "COLUMNS (at most 256) required");
        goto out;
    }
    xc_mv_iter_init(&it, cols);
    while (xc_mv_next(&it, &one) == 1)
        col[ncol++] = (uint32_t)one.v.i32;
    if (sort != NULL) {
        xc_propval key, dir;
        if (sort->v.mv.count == 0 || sort->v.mv.count % 2 ||
            sort->v.mv.count / 2 > MAX_SORT) {
            sd_reply_status(rp, XC_E_BADREQ, "SORT is 1 to 8 pairs of "
                            "(property tag, 0 ascending or 1 descending)");
            goto out;
        }
        xc_mv_iter_init(&it, sort);
        while (xc_mv_next(&it, &key) == 1 && xc_mv_next(&it, &dir) == 1) {
            if (dir.v.i32 != 0 && dir.v.i32 != 1) {
                sd_reply_status(rp, XC_E_UNSUPPORTED, "sort directions are "
                                "0 (ascending) or 1 (descending); "
                                "categories are CATEGORIES keys");
                goto out;
            }
            keys[nkeys] = (uint32_t)key.v.i32;
            desc[nkeys++] = dir.v.i32;
            if (PROP_TYPE(keys[nkeys - 1]) & PT_MV) {
                sd_reply_status(rp, XC_E_UNSUPPORTED, "sorting on multi-"
                                "valued properties (categories) is not "
                                "supported yet");
                goto out;
            }
            if (vclass(PROP_TYPE(keys[nkeys - 1])) == V_NONE) {
                sd_reply_status(rp, XC_E_BADREQ, "a sort key names a "
                                "property type that has no values");
                goto out;
            }
        }
    } else {
        keys[0] = PR_MESSAGE_DELIVERY_TIME;
        desc[0] = 1;
        nkeys = 1;
    }
    if (resv != NULL) {
        const char *err = NULL;
        if (PROP_TYPE(resv->tag) != PT_BINARY ||
            (nodes = calloc(MAX_RES_NODES, sizeof(*nodes))) == NULL ||
            (kids = calloc(MAX_RES_NODES, sizeof(*kids))) == NULL ||
            xc_restrict_parse(resv->v.bin.p, resv->v.bin.n, nodes, kids,
                              findv ? MAX_RES_NODES / 2 : MAX_RES_NODES,
                              &root, &err) < 0) {
            sd_reply_status(rp, nodes && kids ? XC_E_BADREQ : XC_E_TEMP,
                            err ? err : "RESTRICTION must be binary");
            goto out;
        }
        if (root->type == XC_RES_COUNT) {
            count_max = root->mask;
            root = root->kids[0];
        }
    }
    if (findv != NULL) {
        const char *err = NULL;
        size_t used = (size_t)(root != NULL ? MAX_RES_NODES / 2 : 0);
        if (nodes == NULL &&
            ((nodes = calloc(MAX_RES_NODES, sizeof(*nodes))) == NULL ||
             (kids = calloc(MAX_RES_NODES, sizeof(*kids))) == NULL)) {
            sd_reply_status(rp, XC_E_TEMP, NULL);
            goto out;
        }
        /* the table's restriction had the first half of the nodes */
        if (PROP_TYPE(findv->tag) != PT_BINARY ||
            xc_restrict_parse(findv->v.bin.p, findv->v.bin.n, nodes + used,
                              kids + used, MAX_RES_NODES - used, &find,
                              &err) < 0) {
            sd_reply_status(rp, XC_E_BADREQ, err ? err : "FIND must be "
                            "binary");
            goto out;
        }
        if ((v = xc_props_find(req->args, req->nargs, XW_TAG_BACKWARD)) != NULL)
            backward = v->v.b;
    }
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_CATEGORIES)) !=
            NULL) {
        const xc_propval *ex = xc_props_find(req->args, req->nargs,
                                             XW_TAG_EXPANDED);
        const xc_propval *tg = xc_props_find(req->args, req->nargs,
                                             XW_TAG_TOGGLED);
        ncat = v->v.i32;
        nexp = ex != NULL ? ex->v.i32 : ncat;
        if (ncat < 1 || ncat > XW_MAX_CATEGORIES || (size_t)ncat > nkeys ||
            nexp < 0 || seekv != NULL || findv != NULL ||
            (tg != NULL && PROP_TYPE(tg->tag) != (PT_MV | PT_BINARY))) {
            sd_reply_status(rp, XC_E_BADREQ, "CATEGORIES: 1 to 4 of the "
                            "SORT keys; EXPANDED not negative; no SEEK_MID "
                            "or FIND with categories");
            goto out;
        }
        xc_wbuf_init(&toggled, 0);
        xc_out(&toggled, "{");
        if (tg != NULL) {
            xc_mv_iter ti;
            xc_propval one_id;
            int k = 0;
            xc_mv_iter_init(&ti, tg);
            while (xc_mv_next(&ti, &one_id) == 1) {
                static const char hexd[] = "0123456789abcdef";
                if (one_id.v.bin.n != 16)
                    continue;       /* not one of our category ids */
                xc_out(&toggled, k++ ? "," : "");
                for (int b2 = 0; b2 < 16; b2++) {
                    char hx[3] = { hexd[one_id.v.bin.p[b2] >> 4],
                                   hexd[one_id.v.bin.p[b2] & 15], 0 };
                    xc_out(&toggled, hx);
                }
            }
        }
        xc_out(&toggled, "}");
        xc_put_u8(&toggled, 0);
        if (toggled.err) {
            sd_reply_status(rp, XC_E_TEMP, NULL);
            goto out;
        }
    }
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_OFFSET)) != NULL)
        offset = v->v.i32;
    if (seekv == NULL && offset < 0)
        offset = 0;
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_LIMIT)) != NULL)
        limit = v->v.i32 < 1 ? 1 : v->v.i32 > MAX_ROWS ? MAX_ROWS : v->v.i32;
    if ((v = xc_props_find(req->args, req->nargs, XW_TAG_FAI)) != NULL)
        fai = v->v.b;
    if (sd_id_arg(req, rp, PR_FID, "folder", &m, &fid) < 0 ||
        sd_need_rights(db, rp, &m, fid, XW_RIGHT_READ_ANY,
                       "reading the folder needs ReadAny", NULL) < 0)
        goto out;
    replid = m.replid;
    (void)sd_arg_i8(req, PR_FID, &fid_w);
    {
        static const char sql_kind[] =
            "SELECT f.folder_type = 2, s.restriction FROM folders f "
            "LEFT JOIN search_criteria s ON s.mailbox_id = f.mailbox_id "
            "AND s.fid = f.fid WHERE f.mailbox_id = $1 AND f.fid = $2";
        char k1[24], k2[24];
        const char *kp[2] = { k1, k2 };
        const int kf[2] = { 0, 0 };

        snprintf(k1, sizeof(k1), "%" PRId64, m.id);
        snprintf(k2, sizeof(k2), "%" PRId64, fid);
        if ((crit = sd_db_execv(db, sql_kind, 2, kp, NULL, kf, 1, &st)) ==
                NULL) {
            sd_reply_status(rp, st, NULL);
            goto out;
        }
        search = PQntuples(crit) == 1 && PQgetvalue(crit, 0, 0)[0] != 0;
    }
    if (search && !m.owner) {
        sd_reply_status(rp, XC_E_PERM, "access denied: a search folder is "
                        "its owner's");
        goto out;
    }
    if (search && !PQgetisnull(crit, 0, 1)) {
        const char *err = NULL;
        if ((snodes = calloc(MAX_RES_NODES, sizeof(*snodes))) == NULL ||
            (skids = calloc(MAX_RES_NODES, sizeof(*skids))) == NULL) {
            sd_reply_status(rp, XC_E_TEMP, NULL);
            goto out;
        }
        /* checked when it was set; its values point into crit */
        if (xc_restrict_parse((const uint8_t *)PQgetvalue(crit, 0, 1),
                              (size_t)PQgetlength(crit, 0, 1), snodes, skids,
                              MAX_RES_NODES, &sroot, &err) < 0) {
            sd_reply_status(rp, XC_E_INTERNAL, err);
            goto out;
        }
        if (root != NULL) {
            memset(&both, 0, sizeof(both));
            both.type = XC_RES_AND;
            both_kids[0] = sroot;
            both_kids[1] = root;
            both.kids = both_kids;
            both.nkids = 2;
            root = &both;
        } else {
            root = sroot;
        }
    }
    if (seekv != NULL && (seek_gc = sd_gc_of(&m, seekv->v.i64)) < 0) {
        sd_reply_status(rp, XC_E_NOTFOUND, "no such row");
        goto out;
    }
    snprintf(a, sizeof(a), "%" PRId64, m.id);
    snprintf(b, sizeof(b), "%" PRId64, fid);

    /* FROM messages WHERE <folder> [AND <restriction>]: $1 mailbox, $2
       folder, $3 FAI, then the restriction's values; with a count
       restriction, FROM the first N of those in the table's order */
    q.mailbox = m.id;
    param_str(&q, a);
    param_str(&q, b);
    param_str(&q, fai ? "t" : "f");
    s(&q, count_max >= 0 ? " FROM (SELECT m.*" : "");
    if (m.is_public) {
        /* $4: the user, whose read state the public store shows */
        char who[24];
        snprintf(who, sizeof(who), "%" PRId64, m.me);
        param_str(&q, who);
        s(&q, " FROM " PUBLIC_MESSAGES("$4") " m");
    } else {
        s(&q, " FROM messages m");
    }
    /* a search folder: the messages of its scope */
    s(&q, search ? " WHERE m.mailbox_id = $1 AND m.fid = ANY "
                   "(xc_search_scope($1, $2)) AND m.is_fai = $3::boolean"
                 : " WHERE m.mailbox_id = $1 AND m.fid = $2 "
                   "AND m.is_fai = $3::boolean");
    if (root != NULL) {
        s(&q, " AND ");
        if (compile(&q, root, 0) < 0)
            goto bad;
    }
    if (count_max >= 0) {
        order_by(&q, keys, desc, nkeys);
        s(&q, " LIMIT ");
        ref(&q, param_i64(&q, count_max), "::bigint) m");
    }
    xc_put_u8(&q.sql, 0);
    src = q.sql;                /* the FROM clause, shared by the queries */
    nsrc = q.np;                /* and its parameters */
    xc_wbuf_init(&q.sql, 0);
    if (src.err)
        qb_fail(&q, XC_E_TEMP, NULL);
    if (q.st != XC_OK)
        goto bad;

    if ((st = sd_db_begin(db)) != XC_OK)
        goto fail;
    {
        static const char sql_folder[] =
            "SELECT 1 FROM folders WHERE mailbox_id = $1 AND fid = $2";
        const char *p2[2] = { a, b };
        res = sd_db_exec(db, sql_folder, 2, p2, &st);
        if (res == NULL)
            goto fail;
        if (PQntuples(res) != 1) {
            st = XC_E_NOTFOUND;
            goto fail;
        }
        PQclear(res);
    }
    if (ncat > 0) {
        st = categorized(db, rp, &q, (const char *)src.p, keys, desc, nkeys,
                         ncat, nexp, (const char *)toggled.p, col, ncol,
                         replid, fai, a, offset, limit, &total);
        if (st != XC_OK) {
            if (q.st != XC_OK)
                goto bad_tx;
            goto fail;
        }
        sd_db_rollback(db);     /* read-only */
        sd_reply_status(rp, XC_OK, NULL);
        xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL, total);
        xc_put_long(sd_reply_final(rp), XW_TAG_POSITION, (int32_t)offset);
        goto out;
    }
    if (root == NULL && count_max < 0 && !search) {
        const char *p3[3] = { a, b, fai ? "t" : "f" };
        res = sd_db_exec(db, sql_total, 3, p3, &st);
        if (res == NULL)
            goto fail;
        total = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
    } else {
        /* the count of matching rows */
        xc_wbuf cs;
        xc_wbuf_init(&cs, 0);
        xc_out(&cs, "SELECT count(*)");
        xc_out(&cs, (const char *)src.p);
        xc_put_u8(&cs, 0);
        res = cs.err ? NULL
            : sd_db_exec_dynamic(db, (const char *)cs.p, nsrc,
                                 (const char *const *)q.val, q.len, q.fmt,
                                 0, &st);
        if (cs.err)
            st = XC_E_TEMP;
        xc_wbuf_free(&cs);
        if (res == NULL)
            goto fail;
        total = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    res = NULL;                 /* cleared above; fail: clears it again */
    if ((seek_gc >= 0 || find != NULL) &&
        (st = position(db, &q, (const char *)src.p, keys, desc, nkeys,
                       seek_gc, find, backward, &offset)) != XC_OK) {
        if (q.st != XC_OK)
            goto bad_tx;
        goto fail;
    }
    s(&q, "SELECT " ROW_COLS);
    s(&q, (const char *)src.p);
    order_by(&q, keys, desc, nkeys);
    s(&q, " OFFSET ");
    ref(&q, param_i64(&q, offset), "::bigint");
    s(&q, " LIMIT ");
    ref(&q, param_i64(&q, limit), "::bigint");
    xc_put_u8(&q.sql, 0);
    if (q.sql.err)
        qb_fail(&q, XC_E_TEMP, NULL);
    if (q.st != XC_OK)
        goto bad_tx;
    res = sd_db_exec_dynamic(db, (const char *)q.sql.p, q.np,
                             (const char *const *)q.val, q.len, q.fmt, 0,
                             &st);
    if (res == NULL)
        goto fail;
    if ((props = page_props(db, res, a, col, ncol, &st)) == NULL)
        goto fail;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t mid = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        int first, pi;
        xc_wbuf *w = sd_reply_begin_row(rp);

        row_props(props, mid, &first, &pi);
        emit_leaf(w, res, i, props, first, pi, col, ncol, replid, fai, -1);
        if (sd_reply_row(rp, w) < 0)
            break;
    }
    PQclear(res);
    PQclear(props);
    res = props = NULL;
    sd_db_rollback(db);     /* read-only */
    sd_reply_status(rp, XC_OK, NULL);
    xc_put_long(sd_reply_final(rp), XW_TAG_TOTAL, total);
    xc_put_long(sd_reply_final(rp), XW_TAG_POSITION, (int32_t)offset);
    goto out;
bad_tx:
    sd_db_rollback(db);
bad:
    sd_reply_status(rp, q.st, q.err);
    goto out;
fail:
    PQclear(res);
    PQclear(props);
    sd_db_rollback(db);
    sd_reply_status(rp, st, st != XC_E_NOTFOUND ? NULL
                            : seek_gc >= 0 || find ? "no such row, or no row "
                              "matches" : "no such folder");
out:
    free(nodes);
    free(kids);
    free(snodes);
    free(skids);
    PQclear(crit);
    xc_wbuf_free(&toggled);
    qb_free(&q);
    xc_wbuf_free(&src);
}

/* ---- search folder counts (sql/016) ------------------------------------- */

static xc_status search_counts(sd_db *db, const mbx *m, int64_t fid,
                               int *count, int *unread)
{
    static const char sql_crit[] =
        "SELECT restriction FROM search_criteria "
        "WHERE mailbox_id = $1 AND fid = $2";
    char a[24], b[24];
    const char *params[2] = { a, b };
    const int fmt[2] = { 0, 0 };
    xc_rnode *nodes = NULL, **kids = NULL, *root = NULL;
    qb q = { .st = XC_OK };
    PGresult *crit, *res = NULL;
    xc_status st;

    *count = *unread = 0;
    snprintf(a, sizeof(a), "%" PRId64, m->id);
    snprintf(b, sizeof(b), "%" PRId64, fid);
    if ((crit = sd_db_execv(db, sql_crit, 2, params, NULL, fmt, 1, &st)) ==
            NULL)
        return st;
    if (PQntuples(crit) != 1) {         /* no criteria yet: empty */
        PQclear(crit);
        return XC_OK;
    }
    if (!PQgetisnull(crit, 0, 0)) {
        const char *err = NULL;
        if ((nodes = calloc(MAX_RES_NODES, sizeof(*nodes))) == NULL ||
            (kids = calloc(MAX_RES_NODES, sizeof(*kids))) == NULL) {
            st = XC_E_TEMP;
            goto out;
        }
        if (xc_restrict_parse((const uint8_t *)PQgetvalue(crit, 0, 0),
                              (size_t)PQgetlength(crit, 0, 0), nodes, kids,
                              MAX_RES_NODES, &root, &err) < 0) {
            st = XC_E_INTERNAL;
            goto out;
        }
        if (root->type == XC_RES_COUNT)
            root = root->kids[0];
    }
    xc_wbuf_init(&q.sql, 0);
    q.mailbox = m->id;
    param_str(&q, a);
    param_str(&q, b);
    s(&q, "SELECT count(*), count(*) FILTER (WHERE NOT m.is_read) ");
    if (m->is_public) {
        char who[24];
        snprintf(who, sizeof(who), "%" PRId64, m->me);
        param_str(&q, who);
        s(&q, "FROM " PUBLIC_MESSAGES("$3") " m");
    } else {
        s(&q, "FROM messages m");
    }
    s(&q, " WHERE m.mailbox_id = $1 AND m.fid = ANY "
          "(xc_search_scope($1, $2)) AND NOT m.is_fai");
    if (root != NULL) {
        s(&q, " AND ");
        (void)compile(&q, root, 0);
    }
    xc_put_u8(&q.sql, 0);
    if (q.sql.err)
        qb_fail(&q, XC_E_TEMP, NULL);
    if ((st = q.st) != XC_OK)
        goto out;
    res = sd_db_exec_dynamic(db, (const char *)q.sql.p, q.np,
                             (const char *const *)q.val, q.len, q.fmt, 0,
                             &st);
    if (res != NULL && PQntuples(res) == 1) {
        *count = atoi(PQgetvalue(res, 0, 0));
        *unread = atoi(PQgetvalue(res, 0, 1));
    }
out:
    PQclear(res);
    PQclear(crit);
    free(nodes);
    free(kids);
    qb_free(&q);
    return st;
}

void sd_shown_counts(sd_db *db, const mbx *m, int64_t fid, int folder_type,
                     int *count, int *unread)
{
    if (folder_type == 2 &&
        search_counts(db, m, fid, count, unread) != XC_OK)
        *count = *unread = 0;
}
