/*
 * NAME
 *   xc_mime - Internet mail (RFC 5322 / MIME) <-> message content, as
 *   [MS-OXCMAIL] maps them
 *
 * SYNOPSIS
 *   xc_mime_limits lim;
 *   xc_mime_limits_default(&lim);
 *   if (xc_mime_to_content(bytes, len, &lim, name_to_id, ctx, &w, &err) < 0)
 *       ... err is a static string ...
 *   ...
 *   if (xc_content_to_mime(pv, n, id_to_name, ctx, &w, &err) < 0)
 *       ...
 *
 * DESCRIPTION
 *   xc_mime_to_content parses a message (GMime 3, from memory only) and
 *   appends its content to out as the wire's flat stream of tagged values
 *   (lib/xc_wire.h): XW_MARK_START_MESSAGE, the message properties, each
 *   recipient between XW_MARK_START_RECIP(row id) and XW_MARK_END_RECIP,
 *   each attachment between XW_MARK_NEW_ATTACH(attach num) and
 *   XW_MARK_END_ATTACH (an attached message/rfc822 as its own content
 *   between XW_MARK_START_EMBED and XW_MARK_END_EMBED), then
 *   XW_MARK_END_MESSAGE. Text properties are PT_UNICODE; every string is
 *   valid (undecodable charsets fall back to Windows-1252), so the stream
 *   always passes xc_props_decode. Named properties (Keywords, X- headers)
 *   get their ids from the names callback; a name it can't map is dropped.
 *   On error nothing is appended to out.
 *
 *   xc_content_to_mime is the reverse for decoded content (xc_props_decode
 *   output, markers included, from START_MESSAGE to END_MESSAGE): it
 *   appends RFC 5322 bytes with CRLF line ends. The output is a function
 *   of the input only: multipart boundaries are derived from the content,
 *   there is no Date unless PR_CLIENT_SUBMIT_TIME is set, and no
 *   Message-ID unless PR_INTERNET_MESSAGE_ID is set: a caller that sends
 *   the message supplies one (set the property first). Bcc is written
 *   when the content has Bcc recipients (a stored copy shows them); the
 *   transport removes it before relaying.
 *
 *   What maps, and what does not yet, is listed at the top of xc_mime.c.
 *
 * LIMITS
 *   xc_mime_to_content refuses, with an error and no output, a message
 *   whose MIME tree (embedded messages included) has
 *     - entities nested deeper than max_depth: the top-level body entity
 *       is at depth 1, a multipart's children and an embedded message's
 *       body entity one deeper than their parent;
 *     - more than max_parts entities in all (multiparts, leaves and
 *       embedded messages, each counts once);
 *     - a header block (the message's, an embedded message's or one
 *       part's) of more than max_headers fields or max_header_bytes bytes
 *       (names and raw folded values).
 *   GMime itself stops descending at 1024 levels. xc_content_to_mime
 *   refuses embedded messages nested deeper than XC_MIME_DEFAULT_DEPTH.
 *
 * THREADS
 *   Both functions may run in several threads at once. They call
 *   xc_mime_init, which initialises GMime once per process.
 */
#ifndef XC_MIME_H
#define XC_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "xc_buf.h"
#include "xc_props.h"
#include "xc_wire.h"

#define XC_MIME_DEFAULT_DEPTH 20
#define XC_MIME_DEFAULT_PARTS 1000
#define XC_MIME_DEFAULT_HEADERS 1000
#define XC_MIME_DEFAULT_HEADER_BYTES (256u * 1024)

typedef struct xc_mime_limits {
    size_t max_depth;           /* XC_MIME_DEFAULT_DEPTH */
    size_t max_parts;           /* XC_MIME_DEFAULT_PARTS */
    size_t max_headers;         /* per header block */
    size_t max_header_bytes;    /* per header block */
} xc_mime_limits;

void xc_mime_limits_default(xc_mime_limits *lim);

/* Initialise GMime (g_mime_init) once; idempotent and thread-safe. */
void xc_mime_init(void);

/*
 * MIME bytes -> content appended to out (START_MESSAGE .. END_MESSAGE).
 * lim NULL means the defaults. Returns 0, or -1 with *error_r (a static
 * string) and out as it was.
 */
int xc_mime_to_content(const uint8_t *mime, size_t len,
                       const xc_mime_limits *lim, xc_name_to_id_fn names,
                       void *ctx, xc_wbuf *out, const char **error_r);

/*
 * Decoded content (as xc_props_decode gives it, markers included) ->
 * RFC 5322 bytes appended to out. names may be NULL (named properties are
 * then left out). Returns 0, or -1 with *error_r and out as it was.
 */
int xc_content_to_mime(const xc_propval *pv, size_t n,
                       xc_id_to_name_fn names, void *ctx, xc_wbuf *out,
                       const char **error_r);

#endif
