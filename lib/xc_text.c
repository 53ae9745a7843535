/*
 * NAME
 *   xc_text - escaping text into XML and JSON output
 */
#include "xc_text.h"
#include "xc_wire.h"

#include <stdio.h>
#include <string.h>

void xc_out(xc_wbuf *w, const char *s)
{
    xc_put_bytes(w, s, strlen(s));
}

void xc_out_xml(xc_wbuf *w, const char *s)
{
    const char *run = s;

    for (; *s; s++) {
        const char *rep;
        unsigned char c = (unsigned char)*s;

        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                rep = "";
            else if (c == 0xEF && (unsigned char)s[1] == 0xBF &&
                     ((unsigned char)s[2] == 0xBE ||
                      (unsigned char)s[2] == 0xBF)) {
                /* U+FFFE, U+FFFF: not XML characters either */
                xc_put_bytes(w, run, (size_t)(s - run));
                s += 2;
                run = s + 1;
                continue;
            } else
                continue;
        }
        xc_put_bytes(w, run, (size_t)(s - run));
        xc_out(w, rep);
        run = s + 1;
    }
    xc_put_bytes(w, run, (size_t)(s - run));
}

void xc_out_elem(xc_wbuf *w, const char *name, const char *text)
{
    xc_put_u8(w, '<');
    xc_out(w, name);
    xc_put_u8(w, '>');
    xc_out_xml(w, text);
    xc_out(w, "</");
    xc_out(w, name);
    xc_put_u8(w, '>');
}

void xc_out_json(xc_wbuf *w, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];

        if (c == '"' || c == '\\') {
            xc_put_u8(w, '\\');
            xc_put_u8(w, c);
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            xc_out(w, esc);
        } else {
            xc_put_u8(w, c);
        }
    }
}

/* Room for at most n more bytes written at the returned place (then
   w->len is set to where writing ended); NULL when w's limit might not
   hold them (the caller then appends piece by piece). */
static uint8_t *room(xc_wbuf *w, size_t n)
{
    uint8_t *o;

    if (n == 0 || w->err || (w->max && (n > w->max || w->len > w->max - n)))
        return NULL;
    if ((o = xc_wbuf_extend(w, n)) == NULL)
        return NULL;
    w->len -= n;
    return o;
}

static size_t utf8_of(uint8_t *o, uint32_t u)
{
    if (u < 0x80) {
        o[0] = (uint8_t)u;
        return 1;
    }
    if (u < 0x800) {
        o[0] = (uint8_t)(0xC0 | u >> 6);
        o[1] = (uint8_t)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        o[0] = (uint8_t)(0xE0 | u >> 12);
        o[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (u & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | u >> 18);
    o[1] = (uint8_t)(0x80 | ((u >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (u & 0x3F));
    return 4;
}

int xc_utf16le_to_utf8(xc_wbuf *w, const uint8_t *p, size_t n)
{
    /* a unit makes at most 3 bytes, a surrogate pair (2 units) 4 */
    uint8_t buf[4], *o = room(w, n / 2 * 3), *at = o;

    if (n & 1)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        uint32_t u = (uint32_t)(p[i] | p[i + 1] << 8);

        if (u >= 0xD800 && u <= 0xDBFF) {
            uint32_t lo;
            if (i + 3 >= n)
                return -1;
            lo = (uint32_t)(p[i + 2] | p[i + 3] << 8);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        } else if ((u >= 0xDC00 && u <= 0xDFFF) || u == 0) {
            return -1;
        }
        if (o != NULL)
            at += utf8_of(at, u);
        else
            xc_put_bytes(w, buf, utf8_of(buf, u));
    }
    if (o != NULL)
        w->len += (size_t)(at - o);
    return w->err ? -1 : 0;
}

int xc_utf8_to_utf16le(xc_wbuf *w, const uint8_t *p, size_t n)
{
    uint8_t *o, *at;

    if (!xc_utf8_valid(p, n))
        return -1;
    /* every byte makes at most 2 (4 bytes make a surrogate pair) */
    at = o = room(w, n > SIZE_MAX / 2 ? SIZE_MAX : 2 * n);
    for (size_t i = 0; i < n;) {
        uint32_t u;
        int k;

        if (p[i] < 0x80) { u = p[i]; k = 0; }
        else if (p[i] < 0xE0) { u = p[i] & 0x1F; k = 1; }
        else if (p[i] < 0xF0) { u = p[i] & 0x0F; k = 2; }
        else { u = p[i] & 0x07; k = 3; }
        for (int j = 1; j <= k; j++)
            u = u << 6 | (p[i + j] & 0x3F);
        i += (size_t)k + 1;
        if (o == NULL) {
            if (u >= 0x10000) {
                u -= 0x10000;
                xc_put_u16(w, (uint16_t)(0xD800 | u >> 10));
                xc_put_u16(w, (uint16_t)(0xDC00 | (u & 0x3FF)));
            } else {
                xc_put_u16(w, (uint16_t)u);
            }
        } else if (u >= 0x10000) {
            u -= 0x10000;
            at[0] = (uint8_t)((0xD800 | u >> 10) & 0xFF);
            at[1] = (uint8_t)((0xD800 | u >> 10) >> 8);
            at[2] = (uint8_t)((0xDC00 | (u & 0x3FF)) & 0xFF);
            at[3] = (uint8_t)((0xDC00 | (u & 0x3FF)) >> 8);
            at += 4;
        } else {
            at[0] = (uint8_t)(u & 0xFF);
            at[1] = (uint8_t)(u >> 8);
            at += 2;
        }
    }
    if (o != NULL)
        w->len += (size_t)(at - o);
    return w->err ? -1 : 0;
}

void xc_put_utf8_char(xc_wbuf *w, uint32_t u)
{
    uint8_t b[4];

    xc_put_bytes(w, b, utf8_of(b, u));
}

int xc_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void xc_log_escape(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t o = 0;

    if (dstlen == 0)
        return;
    for (size_t i = 0; i < n && o + 5 < dstlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\' || c == ' ')
            o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
    }
    dst[o] = '\0';
}
