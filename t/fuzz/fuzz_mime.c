/*
 * fuzz_mime - the [MS-OXCMAIL] MIME converter on arbitrary bytes: MIME ->
 * content must refuse cleanly or give content that xc_props_decode
 * accepts (bracketed by START/END_MESSAGE), that converts back to MIME,
 * the same bytes twice, which converts to content again. Leaks count
 * (every GMime object must be released).
 */
#include "xc_mime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* named properties: a per-input table, ids 0x8000 + index */
#define MAX_NAMES 2048
static struct {
    uint8_t guid[16];
    char name[256];
} names[MAX_NAMES];
static size_t nnames;

static int name_to_id(void *ctx, const uint8_t guid[16], uint32_t lid,
                      const char *name, uint16_t *id_r)
{
    (void)ctx;
    (void)lid;
    if (name == NULL || strlen(name) >= sizeof(names[0].name))
        return -1;
    for (size_t i = 0; i < nnames; i++)
        if (!memcmp(names[i].guid, guid, 16) && !strcmp(names[i].name, name)) {
            *id_r = (uint16_t)(0x8000 + i);
            return 0;
        }
    if (nnames >= MAX_NAMES)
        return -1;
    memcpy(names[nnames].guid, guid, 16);
    strcpy(names[nnames].name, name);
    *id_r = (uint16_t)(0x8000 + nnames++);
    return 0;
}

static int id_to_name(void *ctx, uint16_t id, uint8_t guid_r[16],
                      uint32_t *lid_r, char *name_r, size_t name_len)
{
    size_t i = (size_t)id - 0x8000;

    (void)ctx;
    if (id < 0x8000 || i >= nnames || strlen(names[i].name) >= name_len)
        return -1;
    memcpy(guid_r, names[i].guid, 16);
    *lid_r = 0;
    strcpy(name_r, names[i].name);
    return 0;
}

static xc_propval pv[XW_MAX_PROPS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xc_wbuf content, m1, m2, again;
    const char *err;
    size_t n;

    nnames = 0;
    xc_wbuf_init(&content, 0);
    xc_wbuf_init(&m1, 0);
    xc_wbuf_init(&m2, 0);
    xc_wbuf_init(&again, 0);
    if (xc_mime_to_content(data, size, NULL, name_to_id, NULL, &content,
                           &err) < 0)
        goto out;
    if (xc_props_decode(content.p, content.len, pv, XW_MAX_PROPS, &n,
                        &err) < 0) {
        /* the frame limit on properties is the decoder's, not ours */
        if (strstr(err, "too many") != NULL)
            goto out;
        fprintf(stderr, "content does not decode: %s\n", err);
        abort();
    }
    if (n < 2 || pv[0].tag != XW_MARK_START_MESSAGE ||
        pv[n - 1].tag != XW_MARK_END_MESSAGE)
        abort();
    if (xc_content_to_mime(pv, n, id_to_name, NULL, &m1, &err) < 0) {
        fprintf(stderr, "content does not convert back: %s\n", err);
        abort();
    }
    if (xc_content_to_mime(pv, n, id_to_name, NULL, &m2, &err) < 0 ||
        m1.len != m2.len || memcmp(m1.p, m2.p, m1.len) != 0) {
        fprintf(stderr, "MIME output is not deterministic\n");
        abort();
    }
    /* our own output may nest deeper than its source (limits), but must
       not crash or leak */
    (void)xc_mime_to_content(m1.p, m1.len, NULL, name_to_id, NULL, &again,
                             &err);
out:
    xc_wbuf_free(&content);
    xc_wbuf_free(&m1);
    xc_wbuf_free(&m2);
    xc_wbuf_free(&again);
    return 0;
}
