/*
 * NAME
 *   xc_tnef - decode a TNEF stream ([MS-OXTNEF]) into our content stream
 *
 * DESCRIPTION
 *   One pass over the attribute records ([MS-OXTNEF] 2.1.3.1). Each object
 *   (the message, each recipient row, each attachment) collects its
 *   properties in its own buffer with an index of entries, so that
 *   duplicates can be resolved and the objects written in the order the
 *   content stream wants (properties, recipients, attachments) whatever
 *   order the records came in. Embedded messages are decoded recursively,
 *   bounded by XC_TNEF_MAX_DEPTH.
 *
 * SECURITY
 *   Every length is checked against the bytes left before anything is
 *   read or allocated; counts are bounded (XC_TNEF_MAX_*, XW_MAX_MV); the
 *   output grows by at most a small factor of the input per nesting level
 *   and never past the caller's wbuf max.
 */
#include "xc_tnef.h"
#include "xc_rtf.h"
#include "xc_text.h"
#include "xc_wire.h"

#include <stdlib.h>
#include <string.h>

/* [MS-OXTNEF] 2.1.3.4: PT_OBJECT values start with the interface id */
static const uint8_t iid_imessage[16] = {
    0x07, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
};

typedef struct ent {
    uint16_t id;            /* property id: duplicates are by id */
    uint8_t prio;           /* 1 from an encoded list, 0 from a legacy
                               attribute */
    uint32_t seq;
    size_t off, len;        /* the encoded tagged value in obj.vals */
} ent;

typedef struct obj {
    xc_wbuf vals;
    ent *ents;
    size_t n, cap;
    xc_wbuf embed;          /* attachments: START_EMBED .. END_EMBED */
    int has_embed;
    int attach;             /* an attachment (data objects mean data) */
} obj;

typedef struct shared {
    xc_name_to_id_fn names;
    void *ctx;
    const char *err;
    size_t attrs;           /* records read, all levels */
    uint32_t seq;
} shared;

typedef struct msg {
    shared *sh;
    int depth;
    uint32_t cp;            /* attOemCodepage */
    obj props;
    obj *recips;
    size_t nrecips;
    obj *atts;
    size_t natts;
    xc_wbuf tmp;            /* scratch for string conversions */
} msg;

static int fail(shared *sh, const char *m)
{
    if (sh->err == NULL)
        sh->err = m;
    return -1;
}

static void obj_init(obj *o)
{
    memset(o, 0, sizeof(*o));
    xc_wbuf_init(&o->vals, 0);
    xc_wbuf_init(&o->embed, 0);
}

static void obj_free(obj *o)
{
    xc_wbuf_free(&o->vals);
    xc_wbuf_free(&o->embed);
    free(o->ents);
    o->ents = NULL;
}

/* Record the value written to o->vals since off as one entry. */
static int obj_add(msg *m, obj *o, uint16_t id, int prio, size_t off)
{
    if (o->vals.err)
        return fail(m->sh, "out of memory");
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        ent *e = realloc(o->ents, cap * sizeof(*e));
        if (e == NULL)
            return fail(m->sh, "out of memory");
        o->ents = e;
        o->cap = cap;
    }
    o->ents[o->n].id = id;
    o->ents[o->n].prio = (uint8_t)prio;
    o->ents[o->n].seq = m->sh->seq++;
    o->ents[o->n].off = off;
    o->ents[o->n].len = o->vals.len - off;
    o->n++;
    return 0;
}

static int cmp_ent(const void *a, const void *b)
{
    const ent *x = *(const ent *const *)a, *y = *(const ent *const *)b;

    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    if (x->prio != y->prio)
        return x->prio > y->prio ? -1 : 1;
    return x->seq > y->seq ? -1 : x->seq < y->seq;
}

/* Write o's properties, one per id (see xc_tnef.h), in arrival order. */
static int obj_emit(msg *m, obj *o, xc_wbuf *out)
{
    ent **idx;
    uint8_t *win;

    if (o->n == 0)
        return 0;
    idx = malloc(o->n * sizeof(*idx));
    win = calloc(o->n, 1);
    if (idx == NULL || win == NULL) {
        free(idx);
        free(win);
        return fail(m->sh, "out of memory");
    }
    for (size_t i = 0; i < o->n; i++)
        idx[i] = &o->ents[i];
    qsort(idx, o->n, sizeof(*idx), cmp_ent);
    for (size_t i = 0; i < o->n; i++)
        if (i == 0 || idx[i]->id != idx[i - 1]->id)
            win[idx[i] - o->ents] = 1;
    for (size_t i = 0; i < o->n; i++)
        if (win[i])
            xc_put_bytes(out, o->vals.p + o->ents[i].off, o->ents[i].len);
    free(idx);
    free(win);
    return 0;
}

/* ---- value conversions ------------------------------------------------ */

/* UTF-16LE up to its first NUL, unpaired surrogates as U+FFFD. */
static void utf16_clean(xc_wbuf *w, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint16_t u = (uint16_t)(p[i] | p[i + 1] << 8);

        if (u == 0)
            break;
        if (u >= 0xD800 && u <= 0xDBFF && i + 3 < n) {
            uint16_t lo = (uint16_t)(p[i + 2] | p[i + 3] << 8);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                xc_put_u16(w, u);
                xc_put_u16(w, lo);
                i += 2;
                continue;
            }
        }
        xc_put_u16(w, (u >= 0xD800 && u <= 0xDFFF) ? 0xFFFD : u);
    }
}

/* 8-bit text in the stream's code page, up to its first NUL, as UTF-16LE. */
static void str8_to_utf16(msg *m, xc_wbuf *w, const uint8_t *p, size_t n)
{
    const uint8_t *z = memchr(p, 0, n);

    if (z)
        n = (size_t)(z - p);
    xc_wbuf_reset(&m->tmp);
    if (xc_cp_to_utf8(&m->tmp, m->cp, p, n) < 0 ||
        xc_utf8_to_utf16le(w, m->tmp.p, m->tmp.len) < 0)
        w->err = 1;
}

/* A PT_UNICODE value from 8-bit text (a legacy string attribute). */
static int put_str8(msg *m, obj *o, uint16_t id, const uint8_t *p, size_t n)
{
    size_t off = o->vals.len, lenpos;

    xc_put_u32(&o->vals, PROP_TAG(PT_UNICODE, id));
    lenpos = o->vals.len;
    xc_put_u32(&o->vals, 0);
    str8_to_utf16(m, &o->vals, p, n);
    xc_patch_u32(&o->vals, lenpos, (uint32_t)(o->vals.len - lenpos - 4));
    return obj_add(m, o, id, 0, off);
}

static int put_utf8z(msg *m, obj *o, uint16_t id, const char *s)
{
    size_t off = o->vals.len, lenpos;

    xc_put_u32(&o->vals, PROP_TAG(PT_UNICODE, id));
    lenpos = o->vals.len;
    xc_put_u32(&o->vals, 0);
    if (xc_utf8_to_utf16le(&o->vals, (const uint8_t *)s, strlen(s)) < 0)
        o->vals.err = 1;
    xc_patch_u32(&o->vals, lenpos, (uint32_t)(o->vals.len - lenpos - 4));
    return obj_add(m, o, id, 0, off);
}

static int put_bin(msg *m, obj *o, uint16_t id, const uint8_t *p, size_t n)
{
    size_t off = o->vals.len;

    if (n > UINT32_MAX)
        return fail(m->sh, "value too large");
    xc_put_bin(&o->vals, PROP_TAG(PT_BINARY, id), p, n);
    return obj_add(m, o, id, 0, off);
}

static int put_long(msg *m, obj *o, uint32_t tag, int32_t v)
{
    size_t off = o->vals.len;

    xc_put_long(&o->vals, tag, v);
    return obj_add(m, o, PROP_ID(tag), 0, off);
}

/*
 * A legacy date (DTR: year, month, day, hour, minute, second, day of week,
 * each 16 bits; [MS-OXTNEF] 2.1.3.3.x) as a FILETIME. Returns 0, or -1 if
 * it is not a date.
 */
static int dtr_filetime(const uint8_t *p, size_t n, int64_t *ft_r)
{
    unsigned v[6];
    int64_t y, mo, d, era, yoe, doy, doe, days;

    if (n < 12)
        return -1;
    for (int i = 0; i < 6; i++)
        v[i] = (unsigned)(p[2 * i] | p[2 * i + 1] << 8);
    if (v[0] < 1601 || v[0] > 30827 || v[1] < 1 || v[1] > 12 || v[2] < 1 ||
        v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 59)
        return -1;
    /* days since 1970-01-01 of a proleptic Gregorian date */
    y = (int64_t)v[0] - (v[1] <= 2);
    mo = v[1];
    d = v[2];
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;
    /* 1601-01-01 is 134774 days before 1970-01-01 */
    *ft_r = ((days + 134774) * 86400 + v[3] * 3600 + v[4] * 60 + v[5]) *
            10000000LL;
    return 0;
}

static int put_date(msg *m, obj *o, uint32_t tag, const uint8_t *p, size_t n)
{
    int64_t ft;
    size_t off = o->vals.len;

    if (dtr_filetime(p, n, &ft) < 0)
        return 0;   /* not a date: the attribute is dropped */
    xc_put_i8(&o->vals, tag, ft);
    return obj_add(m, o, PROP_ID(tag), 0, off);
}

/* ---- encoded property lists ([MS-OXTNEF] 2.1.3.4) ------------------- */

static int fixed_size(uint16_t type)
{
    switch (type) {
    case PT_SHORT: case PT_BOOLEAN: return 2;
    case PT_LONG: case PT_FLOAT: case PT_ERROR: return 4;
    case PT_DOUBLE: case PT_CURRENCY: case PT_APPTIME: case PT_I8:
    case PT_SYSTIME: return 8;
    case PT_CLSID: return 16;
    default: return -1;
    }
}

static int is_var(uint16_t type)
{
    return type == PT_STRING8 || type == PT_UNICODE || type == PT_BINARY ||
           type == PT_OBJECT || type == PT_SVREID;
}

/* Skip the padding after n bytes of value, to a 4-byte boundary. */
static void pad4(xc_rbuf *r, size_t n)
{
    size_t pad = (4 - (n & 3)) & 3;

    if (pad > xc_rbuf_left(r))
        pad = xc_rbuf_left(r);  /* a last value may omit its padding */
    r->pos += pad;
}

static int decode_msg(shared *sh, int depth, const uint8_t *p, size_t n,
                      uint32_t first_attach, unsigned what, xc_wbuf *out,
                      size_t *nattach_r);

/* A PT_OBJECT value of an attachment ([MS-OXTNEF] 2.1.3.4). */
static int put_object(msg *m, obj *o, uint16_t id, const uint8_t *p,
                      size_t n)
{
    if (!o->attach || id != PROP_ID(PR_ATTACH_DATA_OBJ) || n < 16)
        return 0;   /* only attachment data objects mean anything to us */
    if (memcmp(p, iid_imessage, 16) == 0) {
        xc_wbuf_reset(&o->embed);
        xc_put_long(&o->embed, XW_MARK_START_EMBED, 0);
        if (decode_msg(m->sh, m->depth + 1, p + 16, n - 16, 0, XC_TNEF_ALL,
                       &o->embed, NULL) < 0)
            return -1;
        xc_put_long(&o->embed, XW_MARK_END_EMBED, 0);
        if (o->embed.err)
            return fail(m->sh, "out of memory");
        o->has_embed = 1;
        return 0;
    }
    /* IID_IStorage (OLE) and the like: the bytes after the interface id */
    {
        size_t off = o->vals.len;
        xc_put_bin(&o->vals, PR_ATTACH_DATA_BIN, p + 16, n - 16);
        return obj_add(m, o, PROP_ID(PR_ATTACH_DATA_BIN), 1, off);
    }
}

/* One value of single type base from r, written (without a tag) to w. */
static int one_value(msg *m, xc_rbuf *r, uint16_t base, xc_wbuf *w,
                     const uint8_t **obj_p, size_t *obj_n)
{
    int fs = fixed_size(base);

    if (fs > 0) {
        const uint8_t *v = xc_get_bytes(r, (size_t)fs);
        if (v == NULL)
            return fail(m->sh, "truncated property value");
        if (base == PT_BOOLEAN)
            xc_put_u8(w, (v[0] | v[1]) != 0);
        else
            xc_put_bytes(w, v, (size_t)fs);
        pad4(r, (size_t)fs);
        return 0;
    }
    {
        uint32_t len = xc_get_u32(r);
        const uint8_t *v;
        size_t lenpos;

        if (r->err)
            return fail(m->sh, "truncated property value");
        if (len > xc_rbuf_left(r))
            return fail(m->sh, "property value length beyond the data");
        v = xc_get_bytes(r, len);
        pad4(r, len);
        if (base == PT_OBJECT) {
            if (len < 16)
                return fail(m->sh, "object value shorter than its interface id");
            *obj_p = v;
            *obj_n = len;
            return 0;
        }
        lenpos = w->len;
        xc_put_u32(w, 0);
        if (base == PT_STRING8)
            str8_to_utf16(m, w, v, len);
        else if (base == PT_UNICODE)
            utf16_clean(w, v, len);
        else
            xc_put_bytes(w, v, len);
        xc_patch_u32(w, lenpos, (uint32_t)(w->len - lenpos - 4));
        return 0;
    }
}

static int prop_list(msg *m, const uint8_t *p, size_t n, obj *o,
                     size_t *used_r)
{
    xc_rbuf r;
    uint32_t count;

    xc_rbuf_init(&r, p, n);
    count = xc_get_u32(&r);
    if (r.err)
        return fail(m->sh, "truncated property count");
    if (count > XC_TNEF_MAX_PROPS)
        return fail(m->sh, "too many properties in one list");
    for (uint32_t i = 0; i < count; i++) {
        uint16_t type = xc_get_u16(&r), id = xc_get_u16(&r);
        uint16_t base = type & (uint16_t)~PT_MV, otype;
        int mv = (type & PT_MV) != 0, keep = 1;
        uint32_t nvals = 1;
        size_t off;
        const uint8_t *objp = NULL;
        size_t objn = 0;

        if (r.err)
            return fail(m->sh, "truncated property tag");
        if (fixed_size(base) < 0 && !is_var(base))
            return fail(m->sh, "unsupported property type");
        if (id >= 0x8000) {
            /* NamedPropSpec: GUID, kind, LID or counted UTF-16 name */
            const uint8_t *guid = xc_get_bytes(&r, 16);
            uint32_t kind = xc_get_u32(&r), lid = 0;
            char *name = NULL;
            uint16_t nid = 0;

            if (r.err)
                return fail(m->sh, "truncated property name");
            if (kind == 0) {
                lid = xc_get_u32(&r);
            } else if (kind == 1) {
                uint32_t nlen = xc_get_u32(&r);
                const uint8_t *np;
                xc_wbuf u16, u8;

                if (r.err || nlen > xc_rbuf_left(&r))
                    return fail(m->sh, "property name length beyond the data");
                np = xc_get_bytes(&r, nlen);
                pad4(&r, nlen);
                xc_wbuf_init(&u16, 0);
                xc_wbuf_init(&u8, 0);
                utf16_clean(&u16, np, nlen);
                if (u16.err || xc_utf16le_to_utf8(&u8, u16.p, u16.len) < 0) {
                    xc_wbuf_free(&u16);
                    xc_wbuf_free(&u8);
                    return fail(m->sh, "out of memory");
                }
                xc_put_u8(&u8, 0);
                xc_wbuf_free(&u16);
                if (u8.err) {
                    xc_wbuf_free(&u8);
                    return fail(m->sh, "out of memory");
                }
                name = (char *)u8.p;
            } else {
                return fail(m->sh, "unknown kind of property name");
            }
            if (r.err) {
                free(name);
                return fail(m->sh, "truncated property name");
            }
            if (m->sh->names == NULL ||
                m->sh->names(m->sh->ctx, guid, lid, name, &nid) < 0)
                keep = 0;
            else
                id = nid;
            free(name);
        }
        if (mv || is_var(base)) {
            nvals = xc_get_u32(&r);
            if (r.err)
                return fail(m->sh, "truncated value count");
            if (nvals > XW_MAX_MV || nvals > xc_rbuf_left(&r) / 4 + 1)
                return fail(m->sh, "too many values in a property");
            if (!mv && nvals != 1)
                return fail(m->sh, "a single-valued property with other "
                                   "than one value");
        }
        /* what we write: 8-bit strings become UTF-16 */
        otype = base == PT_STRING8 ? PT_UNICODE : base;
        if (mv && (base == PT_BOOLEAN || base == PT_OBJECT || base == PT_SVREID ||
                   base == PT_ERROR))
            keep = 0;   /* no multi-valued form on the wire */
        off = o->vals.len;
        xc_put_u32(&o->vals, PROP_TAG((uint16_t)(otype | (mv ? PT_MV : 0)), id));
        if (mv)
            xc_put_u32(&o->vals, nvals);
        for (uint32_t k = 0; k < nvals; k++)
            if (one_value(m, &r, base, &o->vals, &objp, &objn) < 0)
                return -1;
        if (o->vals.err)
            return fail(m->sh, "out of memory");
        if (!keep || base == PT_OBJECT) {
            o->vals.len = off;
            if (keep && put_object(m, o, id, objp, objn) < 0)
                return -1;
            continue;
        }
        if (obj_add(m, o, id, 1, off) < 0)
            return -1;
    }
    if (used_r)
        *used_r = r.pos;
    return 0;
}

/* ---- attributes ---------------------------------------------------- */

static obj *new_obj(msg *m, obj **arr, size_t *n, size_t max,
                    const char *too_many)
{
    obj *a;

    if (*n >= max) {
        fail(m->sh, too_many);
        return NULL;
    }
    a = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (a == NULL) {
        fail(m->sh, "out of memory");
        return NULL;
    }
    *arr = a;
    obj_init(&a[*n]);
    return &a[(*n)++];
}

/* [MS-OXTNEF] 2.1.3.3.x attMessageClass: the old Microsoft Mail names */
static const char *message_class(const char *c)
{
    static const char *const map[][2] = {
        { "IPM.Microsoft Mail.Note", "IPM.Note" },
        { "IPM.Microsoft Mail.Read Receipt", "Report.IPM.Note.IPNRN" },
        { "IPM.Microsoft Mail.Non-Delivery", "Report.IPM.Note.NDR" },
        { "IPM.Microsoft Schedule.MtgRespP", "IPM.Schedule.Meeting.Resp.Pos" },
        { "IPM.Microsoft Schedule.MtgRespN", "IPM.Schedule.Meeting.Resp.Neg" },
        { "IPM.Microsoft Schedule.MtgRespA", "IPM.Schedule.Meeting.Resp.Tent" },
        { "IPM.Microsoft Schedule.MtgReq", "IPM.Schedule.Meeting.Request" },
        { "IPM.Microsoft Schedule.MtgCncl", "IPM.Schedule.Meeting.Canceled" },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(c, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

/* attFrom: a TRP header, the display name, the address ("TYPE:addr") */
static int att_from(msg *m, const uint8_t *d, size_t n)
{
    size_t cch, cb;
    const uint8_t *name, *addr, *colon;

    if (n < 8)
        return 0;
    cch = (size_t)(d[4] | d[5] << 8);
    cb = (size_t)(d[6] | d[7] << 8);
    if (cch > n - 8 || cb > n - 8 - cch)
        return 0;
    name = d + 8;
    addr = name + cch;
    if (cch && put_str8(m, &m->props, PROP_ID(PR_SENDER_NAME), name, cch) < 0)
        return -1;
    {
        const uint8_t *z = memchr(addr, 0, cb);
        if (z)
            cb = (size_t)(z - addr);
    }
    colon = memchr(addr, ':', cb);
    if (colon) {
        if (put_str8(m, &m->props, PROP_ID(PR_SENDER_ADDRTYPE), addr,
                     (size_t)(colon - addr)) < 0)
            return -1;
        cb -= (size_t)(colon + 1 - addr);
        addr = colon + 1;
    }
    if (cb && put_str8(m, &m->props, PROP_ID(PR_SENDER_EMAIL_ADDRESS), addr,
                       cb) < 0)
        return -1;
    return 0;
}

static int message_attr(msg *m, uint16_t att, const uint8_t *d, size_t n)
{
    obj *o = &m->props;

    switch (att) {
    case XC_ATT_SUBJECT:
        return put_str8(m, o, PROP_ID(PR_SUBJECT), d, n);
    case XC_ATT_BODY:
        return put_str8(m, o, PROP_ID(PR_BODY), d, n);
    case XC_ATT_MESSAGE_CLASS: {
        const uint8_t *z = memchr(d, 0, n);
        char cls[64];
        const char *mapped;
        size_t len = z ? (size_t)(z - d) : n;

        if (len < sizeof(cls)) {
            memcpy(cls, d, len);
            cls[len] = '\0';
            if ((mapped = message_class(cls)) != NULL)
                return put_utf8z(m, o, PROP_ID(PR_MESSAGE_CLASS), mapped);
        }
        return put_str8(m, o, PROP_ID(PR_MESSAGE_CLASS), d, len);
    }
    case XC_ATT_DATE_SENT:
        return put_date(m, o, PR_CLIENT_SUBMIT_TIME, d, n);
    case XC_ATT_DATE_RECD:
        return put_date(m, o, PR_MESSAGE_DELIVERY_TIME, d, n);
    case XC_ATT_DATE_MODIFIED:
        return put_date(m, o, PR_LAST_MODIFICATION_TIME, d, n);
    case XC_ATT_MESSAGE_ID: {
        /* hex digits of PidTagSearchKey */
        uint8_t key[256];
        size_t len = n;
        const uint8_t *z = memchr(d, 0, n);

        if (z)
            len = (size_t)(z - d);
        if (len == 0 || (len & 1) || len / 2 > sizeof(key))
            return 0;
        for (size_t i = 0; i < len; i += 2) {
            int h = xc_hexval(d[i]), l = xc_hexval(d[i + 1]);
            if (h < 0 || l < 0)
                return 0;
            key[i / 2] = (uint8_t)(h << 4 | l);
        }
        return put_bin(m, o, PROP_ID(PR_SEARCH_KEY), key, len / 2);
    }
    case XC_ATT_PRIORITY: {
        /* prioHigh 1, prioNorm 2, prioLow 3 -> PidTagImportance 2, 1, 0 */
        unsigned v = n >= 2 ? (unsigned)(d[0] | d[1] << 8) : 0;
        if (v < 1 || v > 3)
            return 0;
        return put_long(m, o, PR_IMPORTANCE, (int32_t)(3 - v));
    }
    case XC_ATT_FROM:
        return att_from(m, d, n);
    case XC_ATT_OEM_CODEPAGE:
        if (n >= 4 && xc_le32(d) != 0)
            m->cp = xc_le32(d);
        return 0;
    case XC_ATT_MSG_PROPS:
        return prop_list(m, d, n, o, NULL);
    case XC_ATT_RECIP_TABLE: {
        xc_rbuf r;
        uint32_t rows;

        xc_rbuf_init(&r, d, n);
        rows = xc_get_u32(&r);
        if (r.err)
            return fail(m->sh, "truncated recipient table");
        if (rows > XC_TNEF_MAX_ROWS || rows > n / 4)
            return fail(m->sh, "too many recipient rows");
        for (uint32_t i = 0; i < rows; i++) {
            /* a row is a property list, its length known once decoded */
            obj *row = new_obj(m, &m->recips, &m->nrecips, XC_TNEF_MAX_ROWS,
                               "too many recipient rows");
            size_t used;

            if (row == NULL ||
                prop_list(m, d + r.pos, n - r.pos, row, &used) < 0)
                return -1;
            r.pos += used;
        }
        return 0;
    }
    default:
        return 0;   /* attTnefVersion, attMessageStatus, ...: not mapped */
    }
}

/* attAttachRendData: attach type (1 file, 2 OLE), position, size, flags */
static int rend_data(msg *m, obj *o, const uint8_t *d, size_t n)
{
    unsigned atyp;

    if (n < 6)
        return 0;
    atyp = (unsigned)(d[0] | d[1] << 8);
    if (put_long(m, o, PR_ATTACH_METHOD,
                 atyp == 2 ? ATTACH_OLE : ATTACH_BY_VALUE) < 0)
        return -1;
    return put_long(m, o, PR_RENDERING_POSITION, (int32_t)xc_le32(d + 2));
}

static int attach_attr(msg *m, uint16_t att, const uint8_t *d, size_t n)
{
    obj *o;

    /* each attachment starts with attAttachRendData ([MS-OXTNEF]
       2.1.3.2); a record before any starts one too */
    if (att == XC_ATT_ATTACH_REND_DATA || m->natts == 0) {
        o = new_obj(m, &m->atts, &m->natts, XC_TNEF_MAX_ATTACH,
                    "too many attachments");
        if (o == NULL)
            return -1;
        o->attach = 1;
    }
    o = &m->atts[m->natts - 1];
    switch (att) {
    case XC_ATT_ATTACH_REND_DATA:
        return rend_data(m, o, d, n);
    case XC_ATT_ATTACH_DATA:
        return put_bin(m, o, PROP_ID(PR_ATTACH_DATA_BIN), d, n);
    case XC_ATT_ATTACH_TITLE:
        return put_str8(m, o, PROP_ID(PR_ATTACH_FILENAME), d, n);
    case XC_ATT_ATTACH_META_FILE:
        return put_bin(m, o, PROP_ID(PR_ATTACH_RENDERING), d, n);
    case XC_ATT_ATTACH_CREATE_DATE:
        return put_date(m, o, PR_CREATION_TIME, d, n);
    case XC_ATT_ATTACH_MODIFY_DATE:
        return put_date(m, o, PR_LAST_MODIFICATION_TIME, d, n);
    case XC_ATT_ATTACH_TRANSPORT_FILENAME:
        return put_str8(m, o, PROP_ID(PR_ATTACH_TRANSPORT_NAME), d, n);
    case XC_ATT_ATTACHMENT:
        return prop_list(m, d, n, o, NULL);
    default:
        return 0;
    }
}

static void msg_free(msg *m)
{
    obj_free(&m->props);
    for (size_t i = 0; i < m->nrecips; i++)
        obj_free(&m->recips[i]);
    for (size_t i = 0; i < m->natts; i++)
        obj_free(&m->atts[i]);
    free(m->recips);
    free(m->atts);
    xc_wbuf_free(&m->tmp);
}

static ent *obj_find(obj *o, uint16_t id)
{
    for (size_t i = o->n; i-- > 0;)
        if (o->ents[i].id == id && o->ents[i].len > 0)
            return &o->ents[i];
    return NULL;
}

/*
 * What a reader of attachments looks for first, where the stream left it
 * out (legacy attributes give only the 8.3 name): PR_ATTACH_LONG_FILENAME
 * and PR_DISPLAY_NAME as copies of PR_ATTACH_FILENAME, and PR_ATTACH_SIZE
 * as the data's length.
 */
static int attach_defaults(msg *m, obj *o)
{
    static const uint16_t alias[] = { PROP_ID(PR_ATTACH_LONG_FILENAME),
                                      PROP_ID(PR_DISPLAY_NAME) };
    ent *e;

    for (size_t k = 0; k < sizeof(alias) / sizeof(alias[0]); k++) {
        uint8_t *copy;
        size_t off = o->vals.len, len;

        if (obj_find(o, alias[k]) != NULL ||
            (e = obj_find(o, PROP_ID(PR_ATTACH_FILENAME))) == NULL)
            continue;
        len = e->len;
        if ((copy = malloc(len)) == NULL)
            return fail(m->sh, "out of memory");
        memcpy(copy, o->vals.p + e->off, len);
        /* the tag: the same type, the other id */
        xc_put_u32(&o->vals, PROP_TAG(PROP_TYPE(xc_le32(copy)), alias[k]));
        xc_put_bytes(&o->vals, copy + 4, len - 4);
        free(copy);
        if (obj_add(m, o, alias[k], 0, off) < 0)
            return -1;
    }
    if (obj_find(o, PROP_ID(PR_ATTACH_SIZE)) == NULL &&
        (e = obj_find(o, PROP_ID(PR_ATTACH_DATA_BIN))) != NULL &&
        e->len >= 8) {
        size_t off = o->vals.len;
        xc_put_long(&o->vals, PR_ATTACH_SIZE,
                    (int32_t)xc_le32(o->vals.p + e->off + 4));
        if (obj_add(m, o, PROP_ID(PR_ATTACH_SIZE), 0, off) < 0)
            return -1;
    }
    return 0;
}

/* Write the decoded message: properties, recipients, attachments (those
   of them that what asks for). */
static int msg_emit(msg *m, uint32_t first_attach, unsigned what,
                    xc_wbuf *out)
{
    if ((what & XC_TNEF_PROPS) && obj_emit(m, &m->props, out) < 0)
        return -1;
    for (size_t i = 0; (what & XC_TNEF_RECIPS) && i < m->nrecips; i++) {
        xc_put_long(out, XW_MARK_START_RECIP, (int32_t)i);
        if (obj_emit(m, &m->recips[i], out) < 0)
            return -1;
        xc_put_long(out, XW_MARK_END_RECIP, 0);
    }
    for (size_t i = 0; (what & XC_TNEF_ATTACH) && i < m->natts; i++) {
        obj *a = &m->atts[i];

        if (a->has_embed) {
            /* the message is the data: drop a legacy copy of its bytes */
            for (size_t k = 0; k < a->n; k++)
                if (a->ents[k].id == PROP_ID(PR_ATTACH_DATA_BIN))
                    a->ents[k].len = 0;
        }
        xc_put_long(out, XW_MARK_NEW_ATTACH, (int32_t)(first_attach + i));
        if (attach_defaults(m, a) < 0 || obj_emit(m, a, out) < 0)
            return -1;
        if (a->has_embed)
            xc_put_bytes(out, a->embed.p, a->embed.len);
        xc_put_long(out, XW_MARK_END_ATTACH, 0);
    }
    return out->err ? fail(m->sh, "output too large") : 0;
}

static int decode_msg(shared *sh, int depth, const uint8_t *p, size_t n,
                      uint32_t first_attach, unsigned what, xc_wbuf *out,
                      size_t *nattach_r)
{
    msg m;
    xc_rbuf r;
    int ret = -1;

    if (depth > XC_TNEF_MAX_DEPTH)
        return fail(sh, "embedded messages nested too deeply");
    memset(&m, 0, sizeof(m));
    m.sh = sh;
    m.depth = depth;
    m.cp = 1252;
    obj_init(&m.props);
    xc_wbuf_init(&m.tmp, 0);

    xc_rbuf_init(&r, p, n);
    if (xc_get_u32(&r) != XC_TNEF_SIGNATURE) {
        ret = fail(sh, r.err ? "truncated TNEF signature" : "not a TNEF stream");
        goto out;
    }
    (void)xc_get_u16(&r);       /* the legacy key: nothing to check */
    if (r.err) {
        ret = fail(sh, "truncated TNEF key");
        goto out;
    }
    while (xc_rbuf_left(&r) > 0) {
        uint8_t level = xc_get_u8(&r);
        uint32_t id = xc_get_u32(&r), len = xc_get_u32(&r), sum = 0;
        const uint8_t *d;

        if (r.err) {
            ret = fail(sh, "truncated attribute header");
            goto out;
        }
        if (++sh->attrs > XC_TNEF_MAX_ATTRS) {
            ret = fail(sh, "too many attributes");
            goto out;
        }
        if (len > xc_rbuf_left(&r)) {
            ret = fail(sh, "attribute length beyond the data");
            goto out;
        }
        d = xc_get_bytes(&r, len);
        /* [MS-OXTNEF] 2.1.3.1: the checksum is the sum of the data bytes
           modulo 65536 */
        for (uint32_t i = 0; i < len; i++)
            sum += d[i];
        if ((uint16_t)sum != xc_get_u16(&r)) {
            ret = fail(sh, r.err ? "truncated attribute checksum"
                                 : "attribute checksum mismatch");
            goto out;
        }
        if (level == XC_TNEF_LVL_MESSAGE)
            ret = message_attr(&m, (uint16_t)id, d, len);
        else if (level == XC_TNEF_LVL_ATTACHMENT)
            ret = attach_attr(&m, (uint16_t)id, d, len);
        else
            ret = fail(sh, "unknown attribute level");
        if (ret < 0)
            goto out;
    }
    ret = msg_emit(&m, first_attach, what, out);
    if (nattach_r != NULL)
        *nattach_r = (what & XC_TNEF_ATTACH) ? m.natts : 0;
out:
    msg_free(&m);
    return ret < 0 ? -1 : 0;
}

int xc_tnef_decode(const uint8_t *p, size_t n, uint32_t first_attach_num,
                   xc_name_to_id_fn names, void *ctx, xc_wbuf *out,
                   const char **error_r)
{
    return xc_tnef_decode_parts(p, n, first_attach_num, XC_TNEF_ALL, names,
                                ctx, out, NULL, error_r);
}

int xc_tnef_decode_parts(const uint8_t *p, size_t n,
                         uint32_t first_attach_num, unsigned what,
                         xc_name_to_id_fn names, void *ctx, xc_wbuf *out,
                         size_t *nattach_r, const char **error_r)
{
    shared sh;
    size_t start = out->len;

    memset(&sh, 0, sizeof(sh));
    sh.names = names;
    sh.ctx = ctx;
    sh.seq = 1;
    if (nattach_r != NULL)
        *nattach_r = 0;
    if (decode_msg(&sh, 0, p, n, first_attach_num, what, out,
                   nattach_r) < 0) {
        if (!out->err)
            out->len = start;
        if (error_r)
            *error_r = sh.err ? sh.err : "malformed TNEF";
        return -1;
    }
    return 0;
}
