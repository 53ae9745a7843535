/*
 * NAME
 *   xc_mbox - mbox files: split, canonical message bytes, mboxrd entries
 *
 * DESCRIPTION
 *   The mbox family (mboxo, mboxrd; RFC 4155 describes the format): each
 *   message follows a "From " line; writers put a blank line after each
 *   message and quote body lines that could be taken for a "From " line.
 *
 *   xc_mbox_split calls cb for each message: the bytes after its From_
 *   line up to the next line that starts with "From ", less the one blank
 *   line the writer added. Anything before the first From_ line is not a
 *   message.
 *
 *   xc_mbox_canonical gives a message's bytes as Internet mail: every
 *   line ends with CRLF (LF, CRLF and CRs before the LF all become one
 *   CRLF), and with from_mbox one ">" is taken off lines that are ">"s
 *   then "From " (mboxrd quoting; mboxo files read the same, as they
 *   quote only "From " lines).
 *
 *   xc_mbox_entry writes one mboxrd entry: "From SENDER DATE" (asctime
 *   format, UTC), the message with LF line ends and one more ">" on every
 *   line that is ">"s then "From ", and a blank line. For any message m,
 *   splitting entry(canonical(m)) gives back one message whose canonical
 *   form is canonical(m) (t/fuzz/fuzz_mbox.c checks this).
 *
 *   Pure functions over buffers; no limits are needed beyond the caller's
 *   (output is at most twice the input).
 */
#ifndef XC_MBOX_H
#define XC_MBOX_H

#include <stddef.h>
#include <stdint.h>

#include "xc_buf.h"

typedef int (*xc_mbox_cb)(void *ctx, const uint8_t *msg, size_t n);

/* Number of messages passed to cb; a cb returning -1 stops the split. */
size_t xc_mbox_split(const uint8_t *p, size_t len, xc_mbox_cb cb, void *ctx);
/* Appends to out (reset first). */
void xc_mbox_canonical(const uint8_t *p, size_t n, int from_mbox,
                       xc_wbuf *out);
/* The state mbox writers keep in a message's header block: "Status:"
   with R (read), "X-Status:" with F (flagged; mutt, Thunderbird's
   X-Mozilla-Status is not read). Each is 0 or 1. */
void xc_mbox_status(const uint8_t *p, size_t n, int *read, int *flagged);
/* The same from a Maildir file name: its ":2," info, S and F. */
void xc_maildir_status(const char *name, int *read, int *flagged);

/* Appends one entry to out. sender NULL: MAILER-DAEMON. */
void xc_mbox_entry(const uint8_t *p, size_t n, const char *sender,
                   int64_t unix_time, xc_wbuf *out);

#endif
