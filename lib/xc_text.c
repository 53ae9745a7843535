/*
 * NAME
 *   xc_text - escaping text into XML and JSON output
 */
#include "xc_text.h"

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
