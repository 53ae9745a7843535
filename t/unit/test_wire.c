/*
 * NAME
 *   test_wire - unit tests for xc_buf, xc_wire, xc_ids and xc_text
 *
 * DESCRIPTION
 *   Tables of wire bytes, written out in hex so that the expected encoding
 *   of each [MS-OXCDATA] 2.11.1 type is visible here rather than derived
 *   from the encoder under test. The frame splitter is fed byte by byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xc_buf.h"
#include "xc_ids.h"
#include "xc_text.h"
#include "xc_wire.h"

#include "tap.h"

#define ID 0x6001               /* property id used by the tables */

/* "03 00 01 60 ff" -> bytes. Spaces are ignored; bad hex is a test bug. */
static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
    size_t n = 0;
    int hi = -1;

    for (; hex != NULL && *hex; hex++) {
        int v;

        if (*hex == ' ')
            continue;
        if (*hex >= '0' && *hex <= '9') v = *hex - '0';
        else if (*hex >= 'a' && *hex <= 'f') v = *hex - 'a' + 10;
        else if (*hex >= 'A' && *hex <= 'F') v = *hex - 'A' + 10;
        else abort();
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == max)
            abort();
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0)
        abort();
    return n;
}

static int wbuf_is(const xc_wbuf *w, const void *p, size_t n)
{
    return !w->err && w->len == n && (n == 0 || memcmp(w->p, p, n) == 0);
}

static int has(const char *s, const char *sub)
{
    return s != NULL && strstr(s, sub) != NULL;
}

/* ---- single-valued round trip ------------------------------------------ */

static const struct sv_case {
    const char *wire;       /* tag (LE) then the value */
    int64_t i;              /* integer types and PT_BOOLEAN */
    double d;               /* PT_FLOAT, PT_DOUBLE, PT_APPTIME */
    const char *bin;        /* variable-size values and PT_CLSID */
} sv_cases[] = {
    { "01 00 01 60", 0, 0, NULL },                              /* NULL */
    { "02 00 01 60  fe ff", -2, 0, NULL },                      /* SHORT */
    { "02 00 01 60  ff 7f", 32767, 0, NULL },
    { "03 00 01 60  78 56 34 12", 0x12345678, 0, NULL },        /* LONG */
    { "03 00 01 60  ff ff ff ff", -1, 0, NULL },
    { "04 00 01 60  00 00 c0 3f", 0, 1.5, NULL },               /* FLOAT */
    { "05 00 01 60  00 00 00 00 00 00 f8 bf", 0, -1.5, NULL },  /* DOUBLE */
    { "06 00 01 60  10 27 00 00 00 00 00 00", 10000, 0, NULL }, /* CURRENCY */
    { "07 00 01 60  00 00 00 00 00 00 00 40", 0, 2.0, NULL },   /* APPTIME */
    { "0a 00 01 60  0f 01 04 80", (int32_t)0x8004010F, 0, NULL }, /* ERROR */
    { "0b 00 01 60  00", 0, 0, NULL },                          /* BOOLEAN */
    { "0b 00 01 60  01", 1, 0, NULL },
    { "0d 00 01 60  00 00 00 00 01 00 00 00", INT64_C(1) << 32, 0, NULL },
    { "14 00 01 60  ff ff ff ff ff ff ff 7f", INT64_MAX, 0, NULL }, /* I8 */
    { "14 00 01 60  fe ff ff ff ff ff ff ff", -2, 0, NULL },
    { "1e 00 01 60  05 00 00 00  68 65 6c 6c 6f", 0, 0, "68656c6c6f" },
    { "1e 00 01 60  00 00 00 00", 0, 0, "" },
    /* e-acute, euro sign, U+1D11E: 2, 3 and 4 byte sequences */
    { "1e 00 01 60  09 00 00 00  c3 a9 e2 82 ac f0 9d 84 9e", 0, 0,
      "c3a9e282acf09d849e" },
    { "1f 00 01 60  04 00 00 00  68 00 69 00", 0, 0, "68006900" },
    { "1f 00 01 60  00 00 00 00", 0, 0, "" },
    /* UTF-16 may carry what UTF-8 may not: a NUL and a lone surrogate */
    { "1f 00 01 60  04 00 00 00  00 00 00 d8", 0, 0, "000000d8" },
    { "40 00 01 60  00 80 3e d5 de b1 9d 01", INT64_C(0x019DB1DED53E8000),
      0, NULL },                                                /* SYSTIME */
    { "48 00 01 60  00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff", 0, 0,
      "00112233445566778899aabbccddeeff" },                     /* CLSID */
    { "fb 00 01 60  03 00 00 00  01 02 03", 0, 0, "010203" },   /* SVREID */
    { "02 01 01 60  04 00 00 00  00 ff 00 80", 0, 0, "00ff0080" }, /* BINARY */
    { "02 01 01 60  00 00 00 00", 0, 0, "" },
};

static int sv_value_ok(const struct sv_case *c, const xc_propval *pv)
{
    uint8_t bin[64];
    size_t n;

    switch (PROP_TYPE(pv->tag)) {
    case PT_NULL: return 1;
    case PT_SHORT: return pv->v.i16 == c->i;
    case PT_LONG: case PT_ERROR: return pv->v.i32 == c->i;
    case PT_CURRENCY: case PT_I8: case PT_SYSTIME: return pv->v.i64 == c->i;
    case PT_OBJECT: return pv->v.u64 == (uint64_t)c->i;
    case PT_BOOLEAN: return pv->v.b == c->i;
    case PT_FLOAT: return pv->v.f32 == (float)c->d;
    case PT_DOUBLE: case PT_APPTIME: return pv->v.f64 == c->d;
    default:
        n = unhex(c->bin, bin, sizeof(bin));
        return pv->v.bin.n == n && (n == 0 || memcmp(pv->v.bin.p, bin, n) == 0);
    }
}

static void test_single_valued(void)
{
    test_begin("single-valued types: decode and re-encode");
    for (size_t i = 0; i < N_ELEMENTS(sv_cases); i++) {
        uint8_t wire[64];
        size_t n = unhex(sv_cases[i].wire, wire, sizeof(wire)), count = 0;
        xc_propval pv[2];
        const char *err = NULL;
        xc_wbuf w;

        test_assert_idx(xc_props_decode(wire, n, pv, 2, &count, &err) == 0, i);
        test_assert_idx(count == 1, i);
        if (count != 1)
            continue;
        test_assert_idx(PROP_ID(pv[0].tag) == ID, i);
        test_assert_idx(sv_value_ok(&sv_cases[i], &pv[0]), i);
        xc_wbuf_init(&w, 0);
        xc_put_propval(&w, &pv[0]);
        test_assert_idx(wbuf_is(&w, wire, n), i);
        xc_wbuf_free(&w);
    }
    test_end();
}

/* The typed encoders write what the tables above say. */
static void test_encoders(void)
{
    uint8_t want[64];
    xc_wbuf w;

    test_begin("typed encoders");
    xc_wbuf_init(&w, 0);
    xc_put_long(&w, PROP_TAG(PT_LONG, ID), 0x12345678);
    test_assert(wbuf_is(&w, want, unhex("03000160 78563412", want, 64)));
    xc_wbuf_reset(&w);
    xc_put_i8(&w, PROP_TAG(PT_I8, ID), -2);
    test_assert(wbuf_is(&w, want,
                        unhex("14000160 feffffffffffffff", want, 64)));
    xc_wbuf_reset(&w);
    xc_put_bool(&w, PROP_TAG(PT_BOOLEAN, ID), 7);   /* any true is 1 */
    test_assert(wbuf_is(&w, want, unhex("0b000160 01", want, 64)));
    xc_wbuf_reset(&w);
    xc_put_str(&w, PROP_TAG(PT_STRING8, ID), "hello");
    test_assert(wbuf_is(&w, want,
                        unhex("1e000160 05000000 68656c6c6f", want, 64)));
    xc_wbuf_reset(&w);
    xc_put_strn(&w, PROP_TAG(PT_STRING8, ID), "hello", 2);
    test_assert(wbuf_is(&w, want, unhex("1e000160 02000000 6865", want, 64)));
    xc_wbuf_reset(&w);
    xc_put_bin(&w, PROP_TAG(PT_BINARY, ID), "\0\xff", 2);
    test_assert(wbuf_is(&w, want, unhex("02010160 02000000 00ff", want, 64)));
    xc_wbuf_reset(&w);
    xc_put_object(&w, PROP_TAG(PT_OBJECT, ID), UINT64_C(1) << 32);
    test_assert(wbuf_is(&w, want,
                        unhex("0d000160 0000000001000000", want, 64)));
    /* a length that does not fit the u32 count writes nothing */
    xc_wbuf_reset(&w);
    xc_put_strn(&w, PROP_TAG(PT_BINARY, ID), "", (size_t)UINT32_MAX + 1);
    test_assert(w.err && w.len == 0);
    xc_wbuf_free(&w);
    test_end();
}

/* ---- multi-valued round trip ------------------------------------------- */

static const struct mv_case {
    uint16_t type;          /* single-valued type */
    uint32_t count;
    const char *values[3];  /* each value's encoding, without a tag */
} mv_cases[] = {
    { PT_SHORT, 0, { NULL } },
    { PT_SHORT, 2, { "0100", "ffff" } },
    { PT_LONG, 3, { "01000000", "ffffffff", "00000080" } },
    { PT_FLOAT, 1, { "0000c03f" } },
    { PT_DOUBLE, 2, { "000000000000f83f", "0000000000000000" } },
    { PT_CURRENCY, 1, { "1027000000000000" } },
    { PT_APPTIME, 1, { "0000000000000040" } },
    { PT_I8, 2, { "ffffffffffffff7f", "0000000000000080" } },
    { PT_STRING8, 3, { "05000000 616c696365", "00000000", "02000000 c3a9" } },
    { PT_STRING8, 0, { NULL } },
    { PT_UNICODE, 2, { "02000000 6100", "00000000" } },
    { PT_SYSTIME, 1, { "00803ed5deb19d01" } },
    { PT_CLSID, 2, { "00112233445566778899aabbccddeeff",
                     "ffeeddccbbaa99887766554433221100" } },
    { PT_BINARY, 3, { "00000000", "01000000 00", "03000000 010203" } },
};

static void test_multi_valued(void)
{
    test_begin("multi-valued types: decode, iterate, re-encode");
    for (size_t i = 0; i < N_ELEMENTS(mv_cases); i++) {
        const struct mv_case *c = &mv_cases[i];
        uint8_t wire[256], val[64];
        size_t n, count = 0;
        xc_propval pv[2], one;
        xc_mv_iter it;
        const char *err = NULL;
        xc_wbuf w;

        xc_wbuf_init(&w, 0);
        xc_put_u32(&w, PROP_TAG(c->type | PT_MV, ID));
        xc_put_u32(&w, c->count);
        for (uint32_t k = 0; k < c->count; k++)
            xc_put_bytes(&w, val, unhex(c->values[k], val, sizeof(val)));
        n = w.len;
        memcpy(wire, w.p, n);

        test_assert_idx(xc_props_decode(wire, n, pv, 2, &count, &err) == 0, i);
        test_assert_idx(count == 1, i);
        if (count != 1) {
            xc_wbuf_free(&w);
            continue;
        }
        test_assert_idx(pv[0].tag == PROP_TAG(c->type | PT_MV, ID), i);
        test_assert_idx(pv[0].v.mv.count == c->count, i);
        test_assert_idx(pv[0].v.mv.n == n - 8, i);

        /* each value, re-encoded alone, is the bytes we put in */
        xc_mv_iter_init(&it, &pv[0]);
        for (uint32_t k = 0; k < c->count; k++) {
            size_t vn = unhex(c->values[k], val, sizeof(val));

            test_assert_idx(xc_mv_next(&it, &one) == 1, i);
            test_assert_idx(PROP_TYPE(one.tag) == c->type, i);
            xc_wbuf_reset(&w);
            xc_put_propval(&w, &one);
            test_assert_idx(w.len == 4 + vn &&
                            memcmp(w.p + 4, val, vn) == 0, i);
        }
        test_assert_idx(xc_mv_next(&it, &one) == 0, i);

        xc_wbuf_reset(&w);
        xc_put_propval(&w, &pv[0]);
        test_assert_idx(wbuf_is(&w, wire, n), i);
        xc_wbuf_free(&w);
    }
    test_end();
}

static void test_mv_values(void)
{
    static const int32_t longs[] = { 1, -1, INT32_MIN };
    uint8_t wire[64];
    size_t n = unhex("03 10 01 60  03 00 00 00  01 00 00 00  ff ff ff ff"
                     "  00 00 00 80", wire, sizeof(wire)), count = 0;
    xc_propval pv[1], one;
    xc_mv_iter it;
    const char *err;
    int k = 0;

    test_begin("multi-valued PT_LONG: values through the iterator");
    test_assert(xc_props_decode(wire, n, pv, 1, &count, &err) == 0);
    test_assert(count == 1);
    xc_mv_iter_init(&it, &pv[0]);
    while (xc_mv_next(&it, &one) == 1) {
        test_assert_idx(k < 3 && one.v.i32 == longs[k], k);
        k++;
    }
    test_assert(k == 3);
    test_end();
}

/* ---- decode errors ----------------------------------------------------- */

static const struct bad_case {
    const char *wire;
    const char *error;      /* a substring of the message */
} bad_cases[] = {
    { "03", "truncated property tag" },
    { "03 00 01", "truncated property tag" },
    { "03 00 01 60  78 56 34", "truncated property value" },
    { "02 00 01 60  ff", "truncated property value" },
    { "14 00 01 60  00 00 00 00 00 00 00", "truncated property value" },
    { "48 00 01 60  00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee",
      "truncated property value" },
    { "1e 00 01 60  05 00", "truncated property value" },
    { "1e 00 01 60  05 00 00 00  68 65 6c 6c", "truncated property value" },
    { "02 01 01 60  ff ff ff ff  00", "truncated property value" },
    /* a good property followed by a cut one */
    { "03 00 01 60  01 00 00 00  03 00", "truncated property tag" },
    { "99 00 01 60  00 00 00 00", "unsupported property type" },
    { "00 00 01 60", "unsupported property type" },     /* PT_UNSPECIFIED */
    { "08 00 01 60", "unsupported property type" },
    { "0b 10 01 60  00 00 00 00", "unsupported property type" }, /* MV bool */
    { "0d 10 01 60  00 00 00 00", "unsupported property type" }, /* MV obj */
    { "01 10 01 60  00 00 00 00", "unsupported property type" }, /* MV null */
    { "0a 10 01 60  00 00 00 00", "unsupported property type" }, /* MV err */
    { "fb 10 01 60  00 00 00 00", "unsupported property type" },
    { "0b 00 01 60  02", "boolean value other than 0 or 1" },
    { "0b 00 01 60  ff", "boolean value other than 0 or 1" },
    { "1f 00 01 60  03 00 00 00  68 00 69", "odd length" },
    { "1f 10 01 60  01 00 00 00  01 00 00 00  68", "odd length" },
    /* UTF-8 in PT_STRING8 */
    { "1e 00 01 60  01 00 00 00  80", "UTF-8" },        /* lone continuation */
    { "1e 00 01 60  01 00 00 00  00", "UTF-8" },        /* NUL */
    { "1e 00 01 60  03 00 00 00  61 00 62", "UTF-8" },  /* NUL inside */
    { "1e 00 01 60  02 00 00 00  c0 80", "UTF-8" },     /* overlong NUL */
    { "1e 00 01 60  02 00 00 00  c1 bf", "UTF-8" },     /* overlong 7F */
    { "1e 00 01 60  03 00 00 00  e0 80 af", "UTF-8" },  /* overlong '/' */
    { "1e 00 01 60  03 00 00 00  e0 9f bf", "UTF-8" },  /* overlong 7FF */
    { "1e 00 01 60  04 00 00 00  f0 8f bf bf", "UTF-8" }, /* overlong FFFF */
    { "1e 00 01 60  03 00 00 00  ed a0 80", "UTF-8" },  /* U+D800 */
    { "1e 00 01 60  03 00 00 00  ed bf bf", "UTF-8" },  /* U+DFFF */
    { "1e 00 01 60  06 00 00 00  ed a0 bd ed b8 80", "UTF-8" }, /* CESU-8 */
    { "1e 00 01 60  04 00 00 00  f4 90 80 80", "UTF-8" }, /* U+110000 */
    { "1e 00 01 60  04 00 00 00  f5 80 80 80", "UTF-8" },
    { "1e 00 01 60  01 00 00 00  ff", "UTF-8" },
    { "1e 00 01 60  01 00 00 00  c3", "UTF-8" },        /* cut sequence */
    { "1e 00 01 60  02 00 00 00  e2 82", "UTF-8" },
    { "1e 00 01 60  02 00 00 00  c3 41", "UTF-8" },     /* bad continuation */
    { "1e 10 01 60  02 00 00 00  01 00 00 00 61  01 00 00 00 ff", "UTF-8" },
    /* multi-valued counts */
    { "03 10 01 60", "truncated value count" },
    { "03 10 01 60  02 00 00 00  01 00 00 00", "truncated property value" },
    { "03 10 01 60  01 00 01 00", "too many values" },  /* 65537 */
    { "02 10 01 60  ff ff ff ff", "too many values" },
};

static void test_decode_errors(void)
{
    test_begin("decode errors");
    for (size_t i = 0; i < N_ELEMENTS(bad_cases); i++) {
        uint8_t wire[64];
        size_t n = unhex(bad_cases[i].wire, wire, sizeof(wire)), count = 99;
        xc_propval pv[4];
        const char *err = NULL;

        test_assert_idx(xc_props_decode(wire, n, pv, 4, &count, &err) == -1, i);
        test_assert_idx(has(err, bad_cases[i].error), i);
    }
    test_end();
}

static void test_decode_limits(void)
{
    static xc_propval pv[XW_MAX_PROPS + 2];
    const char *err = NULL;
    size_t count = 0;
    xc_wbuf w;

    test_begin("decode limits: properties per frame, values per property");
    xc_wbuf_init(&w, 0);
    /* the caller's array bounds the count */
    for (int k = 0; k < 3; k++)
        xc_put_u32(&w, PROP_TAG(PT_NULL, ID));
    test_assert(xc_props_decode(w.p, w.len, pv, 3, &count, &err) == 0 &&
                count == 3);
    err = NULL;
    test_assert(xc_props_decode(w.p, w.len, pv, 2, &count, &err) == -1);
    test_assert(has(err, "too many properties"));

    /* XW_MAX_PROPS is the limit even with a bigger array */
    xc_wbuf_reset(&w);
    for (int k = 0; k < XW_MAX_PROPS; k++)
        xc_put_u32(&w, PROP_TAG(PT_NULL, ID));
    test_assert(xc_props_decode(w.p, w.len, pv, N_ELEMENTS(pv), &count,
                                &err) == 0 && count == XW_MAX_PROPS);
    xc_put_u32(&w, PROP_TAG(PT_NULL, ID));
    err = NULL;
    test_assert(xc_props_decode(w.p, w.len, pv, N_ELEMENTS(pv), &count,
                                &err) == -1);
    test_assert(has(err, "too many properties"));

    /* exactly XW_MAX_MV values is fine */
    xc_wbuf_reset(&w);
    xc_put_u32(&w, PROP_TAG(PT_SHORT | PT_MV, ID));
    xc_put_u32(&w, XW_MAX_MV);
    for (int k = 0; k < XW_MAX_MV; k++)
        xc_put_u16(&w, (uint16_t)k);
    test_assert(xc_props_decode(w.p, w.len, pv, 1, &count, &err) == 0 &&
                count == 1 && pv[0].v.mv.count == XW_MAX_MV);
    xc_wbuf_free(&w);
    test_end();
}

/* Every prefix of a valid payload: whole properties decode, cut ones fail. */
static void test_decode_prefixes(void)
{
    static const char *const props[] = {
        "03 00 01 00  00 00 00 00",                     /* XW_TAG_STATUS */
        "1e 00 02 00  04 00 00 00  62 6f 6f 6d",        /* XW_TAG_ERRMSG */
        "01 00 01 60",
        "0b 00 0a 36  01",
        "02 11 01 60  02 00 00 00  01 00 00 00 61  00 00 00 00",
        "48 00 01 60  00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff",
    };
    uint8_t wire[256];
    size_t ends[N_ELEMENTS(props)], n = 0;

    for (size_t k = 0; k < N_ELEMENTS(props); k++) {
        n += unhex(props[k], wire + n, sizeof(wire) - n);
        ends[k] = n;
    }
    test_begin("decode every prefix of a payload");
    for (size_t len = 0; len <= n; len++) {
        xc_propval pv[8];
        size_t count = 99, whole = 0;
        const char *err = NULL;
        int at_end = len == 0;

        for (size_t k = 0; k < N_ELEMENTS(props); k++) {
            if (ends[k] <= len)
                whole = k + 1;
            if (ends[k] == len)
                at_end = 1;
        }
        if (at_end) {
            test_assert_idx(xc_props_decode(wire, len, pv, 8, &count, &err)
                            == 0, len);
            test_assert_idx(count == whole, len);
        } else {
            test_assert_idx(xc_props_decode(wire, len, pv, 8, &count, &err)
                            == -1, len);
            test_assert_idx(has(err, "truncated"), len);
        }
    }
    test_end();
}

/* ---- UTF-8 ------------------------------------------------------------- */

static const struct utf8_case {
    const char *hex;
    int valid;
} utf8_cases[] = {
    { "", 1 },
    { "41 42 7f", 1 },
    { "c2 80", 1 },             /* U+0080 */
    { "df bf", 1 },             /* U+07FF */
    { "e0 a0 80", 1 },          /* U+0800 */
    { "ed 9f bf", 1 },          /* U+D7FF */
    { "ee 80 80", 1 },          /* U+E000 */
    { "ef bf bf", 1 },          /* U+FFFF */
    { "f0 90 80 80", 1 },       /* U+10000 */
    { "f4 8f bf bf", 1 },       /* U+10FFFF */
    { "00", 0 },
    { "80", 0 },
    { "bf", 0 },
    { "c0 80", 0 },
    { "c1 81", 0 },
    { "e0 80 80", 0 },
    { "e0 9f bf", 0 },
    { "f0 80 80 80", 0 },
    { "f0 8f bf bf", 0 },
    { "ed a0 80", 0 },
    { "ed af bf", 0 },
    { "ed b0 80", 0 },
    { "ed bf bf", 0 },
    { "f4 90 80 80", 0 },
    { "f5 80 80 80", 0 },
    { "f8 88 80 80 80", 0 },
    { "fe", 0 },
    { "ff", 0 },
    { "c3", 0 },
    { "e2 82", 0 },
    { "f0 9d 84", 0 },
    { "c3 c3", 0 },
    { "e2 28 a1", 0 },
    { "41 c3 a9 00", 0 },
};

static void test_utf8(void)
{
    test_begin("xc_utf8_valid");
    for (size_t i = 0; i < N_ELEMENTS(utf8_cases); i++) {
        uint8_t b[16];
        size_t n = unhex(utf8_cases[i].hex, b, sizeof(b));

        test_assert_idx(xc_utf8_valid(b, n) == utf8_cases[i].valid, i);
    }
    test_end();
}

/* ---- frames ------------------------------------------------------------ */

static const struct frame_case {
    const char *hex;
    size_t pad;             /* zero bytes appended after hex */
    size_t max;
    xw_parse want;
    size_t decided;         /* bytes needed before the verdict */
    uint8_t flags;
    uint16_t op;
    uint32_t reqid;
    const char *error;
} frame_cases[] = {
    /* smallest frame: a header, no payload */
    { "08 00 00 00  01 00 01 00  2a 00 00 00", 0, 64, XW_PARSE_DONE, 12,
      0, 1, 42, NULL },
    { "10 00 00 00  01 03 04 00  ff ff ff ff  03 00 01 00  00 00 00 00", 0,
      64, XW_PARSE_DONE, 20, XW_F_RESPONSE | XW_F_MORE, 4, 0xffffffff, NULL },
    { "08 00 00 00  01 0f 05 00  01 00 00 00", 0, 64, XW_PARSE_DONE, 12,
      0x0f, 5, 1, NULL },
    /* exactly max_frame bytes, then one more */
    { "3c 00 00 00  01 00 01 00  07 00 00 00", 52, 64, XW_PARSE_DONE, 64,
      0, 1, 7, NULL },
    { "3d 00 00 00  01 00 01 00  07 00 00 00", 53, 64, XW_PARSE_ERROR, 4,
      0, 0, 0, "size limit" },
    { "ff ff ff ff  01 00 01 00  07 00 00 00", 0, 64, XW_PARSE_ERROR, 4,
      0, 0, 0, "size limit" },
    { "07 00 00 00  01 00 01 00  07 00 00 00", 0, 64, XW_PARSE_ERROR, 4,
      0, 0, 0, "shorter than its header" },
    { "00 00 00 00", 0, 64, XW_PARSE_ERROR, 4, 0, 0, 0,
      "shorter than its header" },
    { "08 00 00 00  00 00 01 00  07 00 00 00", 0, 64, XW_PARSE_ERROR, 5,
      0, 0, 0, "version" },
    { "08 00 00 00  02 00 01 00  07 00 00 00", 0, 64, XW_PARSE_ERROR, 5,
      0, 0, 0, "version" },
    /* unknown flags are seen once the frame is whole */
    { "08 00 00 00  01 10 01 00  07 00 00 00", 0, 64, XW_PARSE_ERROR, 12,
      0, 0, 0, "flags" },
    { "0c 00 00 00  01 80 01 00  07 00 00 00  01 00 01 60", 0, 64,
      XW_PARSE_ERROR, 16, 0, 0, 0, "flags" },
};

static void test_frame_bytewise(void)
{
    test_begin("xw_frame_parse fed byte by byte");
    for (size_t i = 0; i < N_ELEMENTS(frame_cases); i++) {
        const struct frame_case *c = &frame_cases[i];
        uint8_t buf[128] = { 0 };
        size_t n = unhex(c->hex, buf, sizeof(buf)) + c->pad;

        for (size_t len = 0; len <= n; len++) {
            xw_hdr h;
            const char *err = NULL;
            xw_parse r = xw_frame_parse(buf, len, c->max, &h, &err);

            if (len < c->decided) {
                test_assert_idx(r == XW_PARSE_MORE, i);
                continue;
            }
            test_assert_idx(r == c->want, i);
            if (r == XW_PARSE_ERROR)
                test_assert_idx(has(err, c->error), i);
            if (r == XW_PARSE_DONE)
                test_assert_idx(h.len == n && h.version == XW_VERSION &&
                                h.flags == c->flags && h.op == c->op &&
                                h.reqid == c->reqid, i);
        }
    }
    test_end();
}

/* Build two frames back to back, split the stream at every point. */
static void test_frame_stream(void)
{
    uint8_t stream[256];
    size_t total, first;
    xc_wbuf w;

    xc_wbuf_init(&w, 0);
    xw_frame_begin(&w, 0, XW_OP_AUTH, 7);
    xc_put_str(&w, XW_TAG_USER, "alice@example.test");
    xc_put_str(&w, XW_TAG_PASSWORD, "secret");
    xw_frame_end(&w);
    memcpy(stream, w.p, w.len);
    first = w.len;
    xw_frame_begin(&w, XW_F_RESPONSE, XW_OP_AUTH, 7);
    xc_put_long(&w, XW_TAG_STATUS, XC_OK);
    xw_frame_end(&w);
    memcpy(stream + first, w.p, w.len);
    total = first + w.len;
    xc_wbuf_free(&w);

    test_begin("two frames back to back, split at every point");
    for (size_t split = 0; split <= total; split++) {
        /* the receiver gets the stream in two reads: [0, split), rest */
        size_t have, off = 0, nframes = 0;
        xw_hdr h[3];

        for (int read = 0; read < 2; read++) {
            have = read == 0 ? split : total;
            for (;;) {
                const char *err = NULL;
                xw_parse r = xw_frame_parse(stream + off, have - off, 1024,
                                            &h[nframes], &err);

                if (r != XW_PARSE_DONE) {
                    test_assert_idx(r == XW_PARSE_MORE, split);
                    break;
                }
                test_assert_idx(h[nframes].len <= have - off, split);
                off += h[nframes].len;
                if (++nframes == N_ELEMENTS(h))
                    break;
            }
        }
        test_assert_idx(nframes == 2 && off == total, split);
        if (nframes != 2)
            continue;
        test_assert_idx(h[0].len == first && h[0].op == XW_OP_AUTH &&
                        h[0].reqid == 7 && h[0].flags == 0, split);
        test_assert_idx(h[1].len == total - first && h[1].op == XW_OP_AUTH &&
                        h[1].reqid == 7 && h[1].flags == XW_F_RESPONSE, split);
    }
    test_end();

    test_begin("payloads of the two frames");
    {
        xw_hdr h;
        const char *err = NULL;
        xc_propval pv[4];
        size_t count = 0;
        char user[64];

        test_assert(xw_frame_parse(stream, total, 1024, &h, &err) ==
                    XW_PARSE_DONE && h.len == first);
        test_assert(xc_props_decode(stream + XW_HDR_LEN, first - XW_HDR_LEN,
                                    pv, 4, &count, &err) == 0 && count == 2);
        test_assert(xc_props_str(pv, count, XW_TAG_USER, user,
                                 sizeof(user)) == 0 &&
                    strcmp(user, "alice@example.test") == 0);
        test_assert(xw_frame_parse(stream + first, total - first, 1024, &h,
                                   &err) == XW_PARSE_DONE &&
                    h.len == total - first);
        test_assert(xc_props_decode(stream + first + XW_HDR_LEN,
                                    h.len - XW_HDR_LEN, pv, 4, &count,
                                    &err) == 0 && count == 1);
        test_assert(pv[0].tag == XW_TAG_STATUS && pv[0].v.i32 == XC_OK);
    }
    test_end();
}

static void test_frame_build(void)
{
    uint8_t want[64];
    xc_wbuf w;

    test_begin("xw_frame_begin / xw_frame_end");
    xc_wbuf_init(&w, 0);
    xc_put_str(&w, XW_TAG_USER, "left over");   /* begin resets */
    xw_frame_begin(&w, XW_F_RESPONSE, XW_OP_LOGOFF, 0x01020304);
    xc_put_long(&w, XW_TAG_STATUS, XC_E_SESSION);
    test_assert(xw_frame_end(&w) == 0);
    test_assert(wbuf_is(&w, want, unhex("10000000 01 01 0500 04030201"
                                        " 03000100 0b000000", want, 64)));
    /* a buffer holding less than a header is no frame */
    xc_wbuf_reset(&w);
    xc_put_u32(&w, 0);
    test_assert(xw_frame_end(&w) == -1);
    xc_wbuf_free(&w);
    test_end();
}

/* ---- buffers ----------------------------------------------------------- */

static void test_wbuf_limit(void)
{
    xc_wbuf w;

    test_begin("xc_wbuf: max limit sets a sticky err");
    xc_wbuf_init(&w, 16);
    xw_frame_begin(&w, 0, XW_OP_HELLO, 1);          /* 12 bytes */
    xc_put_u32(&w, 0xdeadbeef);                     /* 16: exactly max */
    test_assert(!w.err && w.len == 16);
    xc_put_u8(&w, 1);                               /* 17: over */
    test_assert(w.err && w.len == 16);
    xc_put_bytes(&w, "", 0);                        /* sticky */
    test_assert(w.err && w.len == 16);
    test_assert(xc_wbuf_extend(&w, 0) == NULL);
    test_assert(xw_frame_end(&w) == -1);
    xc_wbuf_reset(&w);                              /* clears err */
    test_assert(!w.err && w.len == 0);
    xw_frame_begin(&w, 0, XW_OP_HELLO, 1);
    xc_put_long(&w, XW_TAG_STATUS, 0);   /* the tag fits, the value not */
    test_assert(w.err && w.len == 16);
    test_assert(xw_frame_end(&w) == -1);
    xc_wbuf_free(&w);
    test_end();

    test_begin("xc_wbuf: unlimited buffer grows and keeps its bytes");
    xc_wbuf_init(&w, 0);
    for (uint32_t k = 0; k < 100000; k++)
        xc_put_u32(&w, k);
    test_assert(!w.err && w.len == 400000);
    {
        int ok = 1;
        for (uint32_t k = 0; k < 100000 && ok; k++)
            ok = xc_le32(w.p + 4 * k) == k;
        test_assert(ok);
    }
    /* patching past the end is ignored */
    xc_patch_u32(&w, w.len - 3, 0);
    test_assert(xc_le32(w.p + w.len - 4) == 99999);
    xc_wbuf_free(&w);
    test_assert(w.p == NULL && w.len == 0);
    test_end();
}

static void test_rbuf(void)
{
    static const uint8_t b[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    xc_rbuf r;

    test_begin("xc_rbuf: little-endian reads, sticky err");
    xc_rbuf_init(&r, b, sizeof(b));
    test_assert(xc_get_u8(&r) == 1);
    test_assert(xc_get_u16(&r) == 0x0302);
    test_assert(xc_get_u32(&r) == 0x07060504);
    test_assert(xc_rbuf_left(&r) == 2 && !r.err);
    test_assert(xc_get_u32(&r) == 0 && r.err);      /* 2 left, 4 asked */
    test_assert(xc_get_u8(&r) == 0);                /* sticky */
    test_assert(r.pos == 7);
    xc_rbuf_init(&r, b, 8);
    test_assert(xc_get_u64(&r) == UINT64_C(0x0807060504030201) && !r.err);
    test_assert(xc_get_bytes(&r, 0) != NULL && !r.err);
    test_assert(xc_get_bytes(&r, SIZE_MAX) == NULL && r.err);
    test_end();
}

/* ---- lookups, status names -------------------------------------------- */

static void test_props_lookup(void)
{
    uint8_t wire[64];
    size_t n = unhex("1e 00 03 00  05 00 00 00  61 6c 69 63 65"  /* USER */
                     "03 00 01 00  02 00 00 00", wire, sizeof(wire));
    xc_propval pv[4];
    size_t count = 0;
    const char *err;
    char s[8];

    test_begin("xc_props_find / xc_props_str");
    test_assert(xc_props_decode(wire, n, pv, 4, &count, &err) == 0 &&
                count == 2);
    test_assert(xc_props_find(pv, count, XW_TAG_STATUS) == &pv[1]);
    test_assert(xc_props_find(pv, count, XW_TAG_SESSION) == NULL);
    test_assert(xc_props_str(pv, count, XW_TAG_USER, s, 6) == 0 &&
                strcmp(s, "alice") == 0);
    test_assert(xc_props_str(pv, count, XW_TAG_USER, s, 5) == -1);
    test_assert(xc_props_str(pv, count, XW_TAG_SESSION, s, 8) == -1);
    test_assert(xc_props_str(pv, count, XW_TAG_STATUS, s, 8) == -1);
    test_end();

    test_begin("xc_status_name");
    test_assert(strcmp(xc_status_name(XC_OK), "ok") == 0);
    test_assert(strcmp(xc_status_name(XC_E_AUTH),
                       "authentication failed") == 0);
    test_assert(strcmp(xc_status_name(XC_E_INTERNAL), "internal error") == 0);
    test_assert(strcmp(xc_status_name(XC_STATUS_MAX_), "unknown status") == 0);
    test_assert(strcmp(xc_status_name(UINT32_MAX), "unknown status") == 0);
    test_end();
}

/* ---- ids --------------------------------------------------------------- */

static const struct id_case {
    uint16_t replid;
    uint64_t gc;
    uint64_t id;
    const char *le;         /* the id as it goes on the wire (u64 LE) */
} id_cases[] = {
    { 1, 1, UINT64_C(0x0100000000000001), "0100 000000000001" },
    { 0, 0, 0, "0000 000000000000" },
    { 1, UINT64_C(0x010203040506), UINT64_C(0x0605040302010001),
      "0100 010203040506" },
    { 0x1234, 0xab, UINT64_C(0xab00000000001234), "3412 0000000000ab" },
    { 0xffff, XC_GC_MAX, UINT64_MAX, "ffff ffffffffffff" },
    { 5, UINT64_C(0x800000000000), UINT64_C(0x0000000000800005),
      "0500 800000000000" },
};

static void test_ids(void)
{
    static const uint64_t gcs[] = { 0, 1, 0xff, 0x100, 0x123456789abc,
                                    XC_GC_MAX - 1, XC_GC_MAX };
    static const uint16_t replids[] = { 0, 1, 0x00ff, 0x0100, 0xfffe, 0xffff };

    test_begin("xc_ids: [MS-OXCDATA] 2.2.1.1 known vectors");
    for (size_t i = 0; i < N_ELEMENTS(id_cases); i++) {
        const struct id_case *c = &id_cases[i];
        uint8_t want[8];
        xc_wbuf w;

        test_assert_idx(xc_make_id(c->replid, c->gc) == c->id, i);
        test_assert_idx(xc_id_replid(c->id) == c->replid, i);
        test_assert_idx(xc_id_gc(c->id) == c->gc, i);
        xc_wbuf_init(&w, 0);
        xc_put_u64(&w, c->id);
        test_assert_idx(wbuf_is(&w, want, unhex(c->le, want, 8)), i);
        xc_wbuf_free(&w);
    }
    test_end();

    test_begin("xc_ids: round trips");
    for (size_t i = 0; i < N_ELEMENTS(gcs); i++)
        for (size_t k = 0; k < N_ELEMENTS(replids); k++) {
            uint64_t id = xc_make_id(replids[k], gcs[i]);

            test_assert_idx(xc_id_gc(id) == gcs[i], i);
            test_assert_idx(xc_id_replid(id) == replids[k], i);
        }
    /* bits above the 48-bit counter are not kept */
    test_assert(xc_make_id(1, XC_GC_MAX + 1) == xc_make_id(1, 0));
    test_end();
}

/* ---- text escaping ----------------------------------------------------- */

static const struct text_case {
    const char *in, *xml, *json;
} text_cases[] = {
    { "", "", "" },
    { "plain", "plain", "plain" },
    { "a&b", "a&amp;b", "a&b" },
    { "<x>", "&lt;x&gt;", "<x>" },
    { "\"q\"", "&quot;q&quot;", "\\\"q\\\"" },
    { "it's", "it&apos;s", "it's" },
    { "&&", "&amp;&amp;", "&&" },
    { "a\x01" "b\x1f" "c\x0b", "abc", "a\\u0001b\\u001fc\\u000b" },
    { "t\tn\nr\r", "t\tn\nr\r", "t\\u0009n\\u000ar\\u000d" },
    { "back\\slash/", "back\\slash/", "back\\\\slash/" },
    { "\x7f", "\x7f", "\x7f" },
    { "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac",
      "caf\xc3\xa9 \xe2\x82\xac" },
    /* U+FFFE and U+FFFF are no XML characters: dropped from XML only */
    { "a\xef\xbf\xbe" "b\xef\xbf\xbf" "c\xef\xbf\xbd",
      "abc\xef\xbf\xbd", "a\xef\xbf\xbe" "b\xef\xbf\xbf" "c\xef\xbf\xbd" },
    { "<a href=\"x\">&amp;</a>",
      "&lt;a href=&quot;x&quot;&gt;&amp;amp;&lt;/a&gt;",
      "<a href=\\\"x\\\">&amp;</a>" },
};

static void test_text(void)
{
    xc_wbuf w;

    test_begin("xc_out_xml / xc_out_json");
    xc_wbuf_init(&w, 0);
    for (size_t i = 0; i < N_ELEMENTS(text_cases); i++) {
        const struct text_case *c = &text_cases[i];

        xc_wbuf_reset(&w);
        xc_out_xml(&w, c->in);
        test_assert_idx(wbuf_is(&w, c->xml, strlen(c->xml)), i);
        xc_wbuf_reset(&w);
        xc_out_json(&w, c->in);
        test_assert_idx(wbuf_is(&w, c->json, strlen(c->json)), i);
    }
    xc_wbuf_reset(&w);
    xc_out_elem(&w, "DisplayName", "Tom & \"Jerry\"\x02");
    {
        static const char want[] =
            "<DisplayName>Tom &amp; &quot;Jerry&quot;</DisplayName>";
        test_assert(wbuf_is(&w, want, sizeof(want) - 1));
    }
    xc_wbuf_free(&w);
    test_end();
}

/* ---- types ------------------------------------------------------------- */

static void test_type_ok(void)
{
    static const struct {
        uint16_t type;
        int ok;
    } cases[] = {
        { PT_NULL, 1 }, { PT_SHORT, 1 }, { PT_LONG, 1 }, { PT_FLOAT, 1 },
        { PT_DOUBLE, 1 }, { PT_CURRENCY, 1 }, { PT_APPTIME, 1 },
        { PT_ERROR, 1 }, { PT_BOOLEAN, 1 }, { PT_OBJECT, 1 }, { PT_I8, 1 },
        { PT_STRING8, 1 }, { PT_UNICODE, 1 }, { PT_SYSTIME, 1 },
        { PT_CLSID, 1 }, { PT_SVREID, 1 }, { PT_BINARY, 1 },
        { PT_UNSPECIFIED, 0 }, { 0x0008, 0 }, { 0x0099, 0 }, { 0xffff, 0 },
        { PT_MV | PT_SHORT, 1 }, { PT_MV | PT_LONG, 1 },
        { PT_MV | PT_FLOAT, 1 }, { PT_MV | PT_DOUBLE, 1 },
        { PT_MV | PT_CURRENCY, 1 }, { PT_MV | PT_APPTIME, 1 },
        { PT_MV | PT_I8, 1 }, { PT_MV | PT_STRING8, 1 },
        { PT_MV | PT_UNICODE, 1 }, { PT_MV | PT_SYSTIME, 1 },
        { PT_MV | PT_CLSID, 1 }, { PT_MV | PT_BINARY, 1 },
        { PT_MV | PT_NULL, 0 }, { PT_MV | PT_BOOLEAN, 0 },
        { PT_MV | PT_OBJECT, 0 }, { PT_MV | PT_ERROR, 0 },
        { PT_MV | PT_SVREID, 0 }, { PT_MV, 0 },
    };

    test_begin("xc_type_ok");
    for (size_t i = 0; i < N_ELEMENTS(cases); i++)
        test_assert_idx(xc_type_ok(cases[i].type) == cases[i].ok, i);
    test_end();
}

int main(void)
{
    test_single_valued();
    test_encoders();
    test_multi_valued();
    test_mv_values();
    test_decode_errors();
    test_decode_limits();
    test_decode_prefixes();
    test_utf8();
    test_frame_bytewise();
    test_frame_stream();
    test_frame_build();
    test_wbuf_limit();
    test_rbuf();
    test_props_lookup();
    test_ids();
    test_text();
    test_type_ok();
    return test_exit();
}
