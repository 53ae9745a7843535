/*
 * NAME
 *   xc_dsn - delivery status notifications (see xc_dsn.h)
 */
#include "xc_dsn.h"
#include "xc_smtp.h"

#include <stdio.h>
#include <string.h>

static void put(xc_wbuf *w, const char *s)
{
    xc_put_bytes(w, s, strlen(s));
}

/* Text from the envelope or a remote server goes into header-like fields:
   keep it to one line of printable bytes. */
static void put_field(xc_wbuf *w, const char *name, const char *v)
{
    put(w, name);
    put(w, ": ");
    for (const char *p = v; *p && p - v < 900; p++)
        xc_put_u8(w, (unsigned char)*p < 0x20 || *p == 0x7F ? ' '
                                                             : (uint8_t)*p);
    put(w, "\r\n");
}

static void date(char *buf, size_t n, time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, n, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

int xc_dsn_write(const xc_dsn *d, const xc_dsn_rcpt *r, size_t n,
                 xc_wbuf *out)
{
    char now[64], arrived[64], line[1200];
    int failed = 0, delayed = 0;
    const uint8_t *orig = d->original;
    size_t olen = d->original_len;

    for (size_t i = 0; i < n; i++) {
        failed |= strcmp(r[i].action, "failed") == 0;
        delayed |= strcmp(r[i].action, "delayed") == 0;
    }
    date(now, sizeof(now), d->now);
    date(arrived, sizeof(arrived), d->arrival);
    snprintf(line, sizeof(line), "Mail Delivery System <MAILER-DAEMON@%.255s>",
             d->reporting_mta);
    put_field(out, "From", line);
    snprintf(line, sizeof(line), "<%.600s>", d->to);
    put_field(out, "To", line);
    put_field(out, "Subject", failed ? "Undelivered Mail Returned to Sender"
                              : delayed ? "Delayed Mail (still being retried)"
                              : "Successful Mail Delivery Report");
    put_field(out, "Date", now);
    put_field(out, "Message-ID", d->message_id);
    put_field(out, "Auto-Submitted", "auto-replied");
    put_field(out, "MIME-Version", "1.0");
    snprintf(line, sizeof(line), "multipart/report; "
             "report-type=delivery-status;\r\n\tboundary=\"%.200s\"",
             d->boundary);
    put(out, "Content-Type: ");
    put(out, line);
    put(out, "\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n--");
    put(out, d->boundary);
    put(out, "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    snprintf(line, sizeof(line), "This is the mail system at %.255s.\r\n\r\n",
             d->reporting_mta);
    put(out, line);
    put(out, failed ? "Your message could not be delivered to the "
                      "recipients below. This is a permanent error.\r\n"
             : delayed ? "Your message could not be delivered yet to the "
                         "recipients below. The mail system will keep "
                         "trying; you need not send it again.\r\n"
             : "Your message was delivered to the recipients below.\r\n");
    for (size_t i = 0; i < n; i++) {
        /* one line of at most 998 octets, whatever the texts hold */
        snprintf(line, sizeof(line), "<%.300s>: %.600s", r[i].addr,
                 r[i].diagnostic ? r[i].diagnostic : r[i].action);
        for (char *p = line; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7F)
                *p = ' ';
        put(out, "\r\n");
        put(out, line);
        put(out, "\r\n");
    }
    put(out, "\r\n--");
    put(out, d->boundary);
    put(out, "\r\nContent-Type: message/delivery-status\r\n\r\n");
    snprintf(line, sizeof(line), "dns; %.255s", d->reporting_mta);
    put_field(out, "Reporting-MTA", line);
    if (d->envid && d->envid[0])
        put_field(out, "Original-Envelope-Id", d->envid);
    put_field(out, "Arrival-Date", arrived);
    for (size_t i = 0; i < n; i++) {
        put(out, "\r\n");
        snprintf(line, sizeof(line), "rfc822; %.600s", r[i].addr);
        put_field(out, "Final-Recipient", line);
        if (r[i].orcpt && r[i].orcpt[0]) {
            const char *semi = strchr(r[i].orcpt, ';');
            char dec[600];
            if (semi && xc_smtp_xtext_decode(semi + 1, strlen(semi + 1), dec,
                                             sizeof(dec)) == 0) {
                snprintf(line, sizeof(line), "%.*s; %s",
                         (int)(semi - r[i].orcpt < 40 ? semi - r[i].orcpt
                                                      : 40),
                         r[i].orcpt, dec);
                put_field(out, "Original-Recipient", line);
            }
        }
        put_field(out, "Action", r[i].action);
        put_field(out, "Status", r[i].status);
        if (r[i].remote_mta && r[i].remote_mta[0]) {
            snprintf(line, sizeof(line), "dns; %.255s", r[i].remote_mta);
            put_field(out, "Remote-MTA", line);
        }
        if (r[i].diagnostic && r[i].diagnostic[0]) {
            /* an SMTP reply ("550 5.1.1 ..."), or our own words */
            const char *dg = r[i].diagnostic;
            int smtp = dg[0] >= '2' && dg[0] <= '5' && dg[1] >= '0' &&
                       dg[1] <= '9' && dg[2] >= '0' && dg[2] <= '9' &&
                       (dg[3] == ' ' || dg[3] == '\0');
            snprintf(line, sizeof(line), "%s; %.800s",
                     smtp ? "smtp" : "x-mtad", dg);
            put_field(out, "Diagnostic-Code", line);
        }
        put_field(out, "Last-Attempt-Date", now);
    }
    put(out, "\r\n--");
    put(out, d->boundary);
    if (d->headers_only) {
        const uint8_t *end = NULL;
        for (size_t i = 0; i + 3 < olen; i++)
            if (!memcmp(orig + i, "\r\n\r\n", 4)) {
                end = orig + i + 2;
                break;
            }
        if (end != NULL)
            olen = (size_t)(end - orig);
        put(out, "\r\nContent-Type: text/rfc822-headers\r\n\r\n");
    } else {
        put(out, "\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    xc_put_bytes(out, orig, olen);
    if (olen < 2 || orig[olen - 2] != '\r' || orig[olen - 1] != '\n')
        put(out, "\r\n");
    put(out, "\r\n--");
    put(out, d->boundary);
    put(out, "--\r\n");
    return out->err ? -1 : 0;
}
