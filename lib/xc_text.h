/*
 * NAME
 *   xc_text - escaping text into XML and JSON output; UTF-8 and UTF-16
 */
#ifndef XC_TEXT_H
#define XC_TEXT_H

#include "xc_buf.h"

void xc_out(xc_wbuf *w, const char *s);
/* XML character data or attribute value: & < > " ' escaped; characters
   XML 1.0 forbids (controls, U+FFFE, U+FFFF) are dropped. */
void xc_out_xml(xc_wbuf *w, const char *s);
/* <name>escaped text</name> */
void xc_out_elem(xc_wbuf *w, const char *name, const char *text);
/* JSON string contents (no quotes added). */
void xc_out_json(xc_wbuf *w, const char *s);

/* UTF-16LE (PT_UNICODE) <-> UTF-8 (how strings are stored), appended to w.
   0, or -1 on an unpaired surrogate, a NUL, or invalid UTF-8. */
int xc_utf16le_to_utf8(xc_wbuf *w, const uint8_t *p, size_t n);
int xc_utf8_to_utf16le(xc_wbuf *w, const uint8_t *p, size_t n);

/* One code point (< 0x110000, not a surrogate) as UTF-8. */
void xc_put_utf8_char(xc_wbuf *w, uint32_t u);
/* A hex digit's value, or -1. */
int xc_hexval(uint8_t c);

/* Copy n bytes of s into dst (NUL-terminated, truncated to fit) with
   control characters, quotes, backslashes and spaces written as \xNN, so
   text from a client can't forge or split log lines. */
void xc_log_escape(char *dst, size_t dstlen, const char *s, size_t n);

#endif
