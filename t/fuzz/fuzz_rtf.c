/*
 * fuzz_rtf - compressed RTF ([MS-OXRTFCP]) and the RTF readers
 * ([MS-OXRTFEX] HTML de-encapsulation, plain text) on arbitrary bytes:
 * nothing is read outside the input, output stays within its limits, and
 * whatever decompresses compresses and decompresses back to itself.
 */
#include "xc_rtf.h"
#include "xc_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xc_wbuf raw, again, back, html, text;
    const char *err;

    xc_wbuf_init(&raw, 0);
    xc_wbuf_init(&again, 0);
    xc_wbuf_init(&back, 0);
    xc_wbuf_init(&html, 4 * size + 64);
    xc_wbuf_init(&text, 4 * size + 64);

    if (xc_rtf_decompress(data, size, MAX_OUT, &raw, &err) == 0) {
        if (raw.len > MAX_OUT)
            abort();
        if (xc_rtf_compress(raw.p, raw.len, &again) != 0 ||
            xc_rtf_decompress(again.p, again.len, MAX_OUT, &back, &err) != 0 ||
            back.len != raw.len ||
            (raw.len && memcmp(back.p, raw.p, raw.len) != 0))
            abort();
        (void)xc_rtf_html(raw.p, raw.len, &html, &err);
        (void)xc_rtf_text(raw.p, raw.len, &text, &err);
    }
    xc_wbuf_reset(&html);
    xc_wbuf_reset(&text);
    {
        int r = xc_rtf_html(data, size, &html, &err);
        if (r == 0 && html.len != 0)
            abort();
        if (r > 0 && html.len && !xc_utf8_valid(html.p, html.len))
            abort();
    }
    if (xc_rtf_text(data, size, &text, &err) == 0 && text.len &&
        !xc_utf8_valid(text.p, text.len))
        abort();

    xc_wbuf_free(&raw);
    xc_wbuf_free(&again);
    xc_wbuf_free(&back);
    xc_wbuf_free(&html);
    xc_wbuf_free(&text);
    return 0;
}
