/*
 * NAME
 *   xc_text - escaping text into XML and JSON output
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

#endif
