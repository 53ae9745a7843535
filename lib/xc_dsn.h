/*
 * NAME
 *   xc_dsn - delivery status notifications (RFC 3464, RFC 3462/6522)
 *
 * DESCRIPTION
 *   xc_dsn_write writes the message an MTA sends to an envelope sender
 *   about some of its recipients: a multipart/report (report-type
 *   delivery-status) with a human-readable part, the machine-readable
 *   message/delivery-status part (per-message fields, then one block per
 *   recipient: Final-Recipient, Original-Recipient, Action, Status,
 *   Remote-MTA, Diagnostic-Code, Last-Attempt-Date), and the original
 *   message (message/rfc822), or only its header (text/rfc822-headers)
 *   when the sender asked for RET=HDRS. It is marked Auto-Submitted
 *   (RFC 3834) and goes out with the null reverse-path, so nobody answers
 *   it and it can't loop.
 *
 *   Pure: the caller gives the clock, the unique boundary and Message-ID.
 */
#ifndef XC_DSN_H
#define XC_DSN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "xc_buf.h"

typedef struct xc_dsn_rcpt {
    const char *addr;           /* Final-Recipient (rfc822) */
    const char *orcpt;          /* the ORCPT parameter ("rfc822;" xtext),
                                   or NULL */
    const char *action;         /* failed, delayed, delivered, relayed */
    const char *status;         /* "5.1.1" */
    const char *remote_mta;     /* host name, or NULL */
    const char *diagnostic;     /* the remote server's reply, or NULL */
} xc_dsn_rcpt;

typedef struct xc_dsn {
    const char *reporting_mta;  /* our host name */
    const char *to;             /* the original envelope sender */
    const char *envid;          /* ENVID (decoded), or NULL */
    time_t arrival, now;
    int headers_only;           /* RET=HDRS */
    const uint8_t *original;
    size_t original_len;
    const char *boundary;       /* unique, [0-9A-Za-z./=-] only */
    const char *message_id;     /* "<...>" */
} xc_dsn;

/* 0, or -1 if out failed to grow. */
int xc_dsn_write(const xc_dsn *d, const xc_dsn_rcpt *r, size_t n,
                 xc_wbuf *out);

#endif
