/*
 * NAME
 *   xc_wire - the storaged wire protocol: frames and typed property values
 *
 * DESCRIPTION
 *   See xc_wire.h for the frame layout. Value encodings follow [MS-OXCDATA]
 *   2.11.1 for fixed-size types and the 32-bit counted form of [MS-OXCFXICS]
 *   2.2.4.3 for variable-size ones.
 */
#include "xc_wire.h"

#include <string.h>

static const char *const status_names[XC_STATUS_MAX_] = {
    "ok", "temporary failure", "not found", "permission denied",
    "already exists", "quota exceeded", "limit exceeded",
    "authentication failed", "rate limited", "bad request", "unsupported",
    "no such session", "internal error",
};

const char *xc_status_name(uint32_t st)
{
    return st < XC_STATUS_MAX_ ? status_names[st] : "unknown status";
}

xw_parse xw_frame_parse(const uint8_t *buf, size_t len, size_t max_frame,
                        xw_hdr *hdr, const char **error_r)
{
    uint32_t flen;

    if (len < 4)
        return XW_PARSE_MORE;
    flen = xc_le32(buf);
    if (flen < XW_HDR_LEN - 4) {
        *error_r = "frame shorter than its header";
        return XW_PARSE_ERROR;
    }
    if ((size_t)flen + 4 > max_frame) {
        *error_r = "frame exceeds the size limit";
        return XW_PARSE_ERROR;
    }
    if (len >= 5 && buf[4] != XW_VERSION) {
        *error_r = "unsupported protocol version";
        return XW_PARSE_ERROR;
    }
    if (len < (size_t)flen + 4)
        return XW_PARSE_MORE;
    hdr->len = flen + 4;
    hdr->version = buf[4];
    hdr->flags = buf[5];
    hdr->op = (uint16_t)(buf[6] | buf[7] << 8);
    hdr->reqid = xc_le32(buf + 8);
    if (hdr->flags & ~(XW_F_RESPONSE | XW_F_MORE | XW_F_CHUNK | XW_F_PUSH)) {
        *error_r = "unknown frame flags";
        return XW_PARSE_ERROR;
    }
    return XW_PARSE_DONE;
}

void xw_frame_begin(xc_wbuf *w, uint8_t flags, uint16_t op, uint32_t reqid)
{
    xc_wbuf_reset(w);
    xc_put_u32(w, 0);
    xc_put_u8(w, XW_VERSION);
    xc_put_u8(w, flags);
    xc_put_u16(w, op);
    xc_put_u32(w, reqid);
}

int xw_frame_end(xc_wbuf *w)
{
    if (w->err || w->len < XW_HDR_LEN || w->len - 4 > UINT32_MAX)
        return -1;
    xc_patch_u32(w, 0, (uint32_t)(w->len - 4));
    return 0;
}

/* Size of a fixed-size type, 0 for variable-size, -1 for unsupported. */
static int fixed_size(uint16_t type)
{
    switch (type) {
    case PT_NULL: return 0;
    case PT_BOOLEAN: return 1;
    case PT_SHORT: return 2;
    case PT_LONG: case PT_FLOAT: case PT_ERROR: return 4;
    case PT_DOUBLE: case PT_CURRENCY: case PT_APPTIME: case PT_I8:
    case PT_SYSTIME: case PT_OBJECT: return 8;
    case PT_CLSID: return 16;
    case PT_STRING8: case PT_UNICODE: case PT_BINARY: case PT_SVREID:
        return 0;
    default: return -1;
    }
}

static int is_var(uint16_t type)
{
    return type == PT_STRING8 || type == PT_UNICODE || type == PT_BINARY ||
           type == PT_SVREID;
}

int xc_type_ok(uint16_t type)
{
    if (type & PT_MV) {
        type &= (uint16_t)~PT_MV;
        /* [MS-OXCDATA] 2.11.1: these have multi-valued forms */
        switch (type) {
        case PT_SHORT: case PT_LONG: case PT_FLOAT: case PT_DOUBLE:
        case PT_CURRENCY: case PT_APPTIME: case PT_I8: case PT_STRING8:
        case PT_UNICODE: case PT_SYSTIME: case PT_CLSID: case PT_BINARY:
            return 1;
        default:
            return 0;
        }
    }
    return fixed_size(type) >= 0;
}

int xc_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = p[i];
        uint32_t cp;
        int k;

        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) { k = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { k = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { k = 3; cp = c & 0x07; }
        else return 0;
        if (n - i <= (size_t)k)
            return 0;
        for (int j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += (size_t)k + 1;
    }
    return 1;
}

/* Read one single-valued value of type into pv; 0 or -1 with error. */
static int get_value(xc_rbuf *r, uint16_t type, xc_propval *pv,
                     const char **error_r)
{
    const uint8_t *p;
    uint32_t n;

    switch (type) {
    case PT_NULL:
        break;
    case PT_BOOLEAN:
        pv->v.b = xc_get_u8(r);
        if (!r->err && pv->v.b > 1) {
            *error_r = "boolean value other than 0 or 1";
            return -1;
        }
        break;
    case PT_SHORT:
        pv->v.i16 = (int16_t)xc_get_u16(r);
        break;
    case PT_LONG: case PT_ERROR:
        pv->v.i32 = (int32_t)xc_get_u32(r);
        break;
    case PT_FLOAT: {
        uint32_t u = xc_get_u32(r);
        memcpy(&pv->v.f32, &u, 4);
        break;
    }
    case PT_DOUBLE: case PT_APPTIME: {
        uint64_t u = xc_get_u64(r);
        memcpy(&pv->v.f64, &u, 8);
        break;
    }
    case PT_CURRENCY: case PT_I8: case PT_SYSTIME: case PT_OBJECT:
        pv->v.u64 = xc_get_u64(r);
        break;
    case PT_CLSID:
        pv->v.bin.p = xc_get_bytes(r, 16);
        pv->v.bin.n = 16;
        break;
    case PT_STRING8: case PT_UNICODE: case PT_BINARY: case PT_SVREID:
        n = xc_get_u32(r);
        p = xc_get_bytes(r, n);
        if (r->err)
            break;
        if (type == PT_STRING8 && !xc_utf8_valid(p, n)) {
            *error_r = "string value is not valid UTF-8";
            return -1;
        }
        if (type == PT_UNICODE && (n & 1)) {
            *error_r = "UTF-16 string of odd length";
            return -1;
        }
        pv->v.bin.p = p;
        pv->v.bin.n = n;
        break;
    default:
        *error_r = "unsupported property type";
        return -1;
    }
    if (r->err) {
        *error_r = "truncated property value";
        return -1;
    }
    return 0;
}

int xc_props_decode(const uint8_t *payload, size_t len, xc_propval *out,
                    size_t max, size_t *count_r, const char **error_r)
{
    xc_rbuf r;
    size_t n = 0;

    xc_rbuf_init(&r, payload, len);
    while (xc_rbuf_left(&r) > 0) {
        xc_propval *pv;
        uint32_t tag;
        uint16_t type;

        if (n >= max || n >= XW_MAX_PROPS) {
            *error_r = "too many properties in one frame";
            return -1;
        }
        pv = &out[n];
        memset(pv, 0, sizeof(*pv));
        tag = xc_get_u32(&r);
        if (r.err) {
            *error_r = "truncated property tag";
            return -1;
        }
        type = PROP_TYPE(tag);
        if (!xc_type_ok(type)) {
            *error_r = "unsupported property type";
            return -1;
        }
        pv->tag = tag;
        if (type & PT_MV) {
            uint16_t base = type & (uint16_t)~PT_MV;
            uint32_t count = xc_get_u32(&r);
            size_t start = r.pos;
            xc_propval tmp;

            if (r.err) {
                *error_r = "truncated value count";
                return -1;
            }
            if (count > XW_MAX_MV) {
                *error_r = "too many values in a multi-valued property";
                return -1;
            }
            for (uint32_t i = 0; i < count; i++)
                if (get_value(&r, base, &tmp, error_r) < 0)
                    return -1;
            pv->v.mv.p = payload + start;
            pv->v.mv.n = (uint32_t)(r.pos - start);
            pv->v.mv.count = count;
        } else if (get_value(&r, type, pv, error_r) < 0) {
            return -1;
        }
        n++;
    }
    *count_r = n;
    return 0;
}

void xc_mv_iter_init(xc_mv_iter *it, const xc_propval *mv)
{
    xc_rbuf_init(&it->r, mv->v.mv.p, mv->v.mv.n);
    it->type = PROP_TYPE(mv->tag) & (uint16_t)~PT_MV;
    it->left = mv->v.mv.count;
}

int xc_mv_next(xc_mv_iter *it, xc_propval *out)
{
    const char *err;

    if (it->left == 0)
        return 0;
    memset(out, 0, sizeof(*out));
    out->tag = it->type;
    if (get_value(&it->r, it->type, out, &err) < 0)
        return -1;
    it->left--;
    return 1;
}

void xc_put_long(xc_wbuf *w, uint32_t tag, int32_t v)
{
    xc_put_u32(w, tag);
    xc_put_u32(w, (uint32_t)v);
}

void xc_put_i8(xc_wbuf *w, uint32_t tag, int64_t v)
{
    xc_put_u32(w, tag);
    xc_put_u64(w, (uint64_t)v);
}

void xc_put_bool(xc_wbuf *w, uint32_t tag, int v)
{
    xc_put_u32(w, tag);
    xc_put_u8(w, v ? 1 : 0);
}

void xc_put_strn(xc_wbuf *w, uint32_t tag, const char *s, size_t n)
{
    if (n > UINT32_MAX) {
        w->err = 1;
        return;
    }
    xc_put_u32(w, tag);
    xc_put_u32(w, (uint32_t)n);
    xc_put_bytes(w, s, n);
}

void xc_put_str(xc_wbuf *w, uint32_t tag, const char *s)
{
    xc_put_strn(w, tag, s, strlen(s));
}

void xc_put_bin(xc_wbuf *w, uint32_t tag, const void *p, size_t n)
{
    xc_put_strn(w, tag, p, n);
}

void xc_put_object(xc_wbuf *w, uint32_t tag, uint64_t len)
{
    xc_put_u32(w, tag);
    xc_put_u64(w, len);
}

void xc_put_propval(xc_wbuf *w, const xc_propval *pv)
{
    uint16_t type = PROP_TYPE(pv->tag);

    xc_put_u32(w, pv->tag);
    if (type & PT_MV) {
        xc_put_u32(w, pv->v.mv.count);
        xc_put_bytes(w, pv->v.mv.p, pv->v.mv.n);
        return;
    }
    if (is_var(type)) {
        xc_put_u32(w, pv->v.bin.n);
        xc_put_bytes(w, pv->v.bin.p, pv->v.bin.n);
        return;
    }
    switch (fixed_size(type)) {
    case 1: xc_put_u8(w, pv->v.b); break;
    case 2: xc_put_u16(w, (uint16_t)pv->v.i16); break;
    case 4:
        if (type == PT_FLOAT) {
            uint32_t u;
            memcpy(&u, &pv->v.f32, 4);
            xc_put_u32(w, u);
        } else {
            xc_put_u32(w, (uint32_t)pv->v.i32);
        }
        break;
    case 8:
        if (type == PT_DOUBLE || type == PT_APPTIME) {
            uint64_t u;
            memcpy(&u, &pv->v.f64, 8);
            xc_put_u64(w, u);
        } else {
            xc_put_u64(w, pv->v.u64);
        }
        break;
    case 16: xc_put_bytes(w, pv->v.bin.p, 16); break;
    case 0: break;
    default: w->err = 1; break;
    }
}

const xc_propval *xc_props_find(const xc_propval *pv, size_t n, uint32_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (pv[i].tag == tag)
            return &pv[i];
    return NULL;
}

int xc_props_str(const xc_propval *pv, size_t n, uint32_t tag, char *dst,
                 size_t dstlen)
{
    const xc_propval *v = xc_props_find(pv, n, tag);

    if (v == NULL || PROP_TYPE(tag) != PT_STRING8 || v->v.bin.n >= dstlen)
        return -1;
    memcpy(dst, v->v.bin.p, v->v.bin.n);
    dst[v->v.bin.n] = '\0';
    return 0;
}
