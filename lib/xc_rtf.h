/*
 * NAME
 *   xc_rtf - compressed RTF ([MS-OXRTFCP]), HTML de-encapsulation
 *   ([MS-OXRTFEX]) and plain text of an RTF body
 *
 * DESCRIPTION
 *   PidTagRtfCompressed holds an RTF body behind a 16-byte header
 *   ([MS-OXRTFCP] 2.1.3.1.1): COMPSIZE, RAWSIZE, COMPTYPE ("LZFu"
 *   compressed, "MELA" stored as is) and a CRC of the compressed bytes.
 *   xc_rtf_decompress and xc_rtf_compress convert between that and raw
 *   RTF.
 *
 *   An RTF body written from HTML carries \fromhtml1 and the original
 *   HTML in {\*\htmltag} groups and in text outside \htmlrtf regions;
 *   xc_rtf_html gets that HTML back ([MS-OXRTFEX] 2.2.3). xc_rtf_text
 *   makes plain text of any RTF body, good enough for PR_BODY when a
 *   message has only RTF.
 *
 *   All output is appended to the caller's xc_wbuf (whose own max also
 *   applies). Pure functions: no I/O, no global state.
 */
#ifndef XC_RTF_H
#define XC_RTF_H

#include <stddef.h>
#include <stdint.h>

#include "xc_buf.h"

#define XC_RTF_LZFU 0x75465A4Cu     /* "LZFu": compressed */
#define XC_RTF_MELA 0x414C454Du     /* "MELA": uncompressed */
#define XC_RTF_HDR_LEN 16
#define XC_RTF_MAX_DEPTH 256        /* RTF group nesting */

/*
 * Decompress a PidTagRtfCompressed value. Output longer than RAWSIZE is
 * cut to RAWSIZE; output longer than max_out is an error (so is a CRC
 * mismatch, a truncated header or body, an unknown COMPTYPE). Returns 0,
 * or -1 with a message.
 */
int xc_rtf_decompress(const uint8_t *in, size_t n, size_t max_out,
                      xc_wbuf *out, const char **error_r);

/* Compress raw RTF into a PidTagRtfCompressed value ("LZFu"). 0 or -1
   (output buffer failure). */
int xc_rtf_compress(const uint8_t *in, size_t n, xc_wbuf *out);

/* The CRC of [MS-OXRTFCP] 2.1.3.2 (CRC-32 table, start 0, no final xor). */
uint32_t xc_rtf_crc(uint32_t crc, const uint8_t *p, size_t n);

/*
 * The HTML encapsulated in an RTF body, as UTF-8. Returns 1 and the HTML,
 * 0 if the RTF is not HTML-encapsulated (no \fromhtml1; nothing is
 * appended), -1 with a message if it is not RTF, nests deeper than
 * XC_RTF_MAX_DEPTH or the output overflows.
 */
int xc_rtf_html(const uint8_t *rtf, size_t n, xc_wbuf *html_out,
                const char **error_r);

/*
 * Plain text of an RTF body, as UTF-8, paragraphs ended by CRLF. Returns
 * 0, or -1 with a message as xc_rtf_html.
 */
int xc_rtf_text(const uint8_t *rtf, size_t n, xc_wbuf *text_out,
                const char **error_r);

/*
 * 8-bit text in Windows code page cp to UTF-8, appended to w. 1252, 1250,
 * 1251 and 28591 (ISO-8859-1) are converted by table; for any other code
 * page (65001 UTF-8, 20127 ASCII, ones we have no table for) text that is
 * valid UTF-8 is kept and any other byte is read as 1252. NUL bytes are
 * dropped. Used by the RTF readers and for TNEF's 8-bit strings. Returns
 * 0, or -1 if w overflowed.
 */
int xc_cp_to_utf8(xc_wbuf *w, uint32_t cp, const uint8_t *p, size_t n);

#endif
