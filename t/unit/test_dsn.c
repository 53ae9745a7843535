/*
 * test_dsn - delivery status notifications (lib/xc_dsn, RFC 3464 and
 * RFC 6522): the header of a failed, a delayed and a delivered report
 * (From MAILER-DAEMON, To the envelope sender, Subject, Date from the
 * caller's clock, Message-ID, Auto-Submitted, multipart/report with
 * report-type=delivery-status and the caller's boundary), the boundary
 * lines (three parts, one closing line, last), the per-message fields
 * (Reporting-MTA, Original-Envelope-Id only when there is one,
 * Arrival-Date), one block per recipient (Final-Recipient,
 * Original-Recipient decoded from ORCPT's xtext and left out when that is
 * not valid xtext, Action, Status, Remote-MTA and Diagnostic-Code only
 * when known, Last-Attempt-Date), the original as message/rfc822 or, for
 * RET=HDRS, only its header as text/rfc822-headers; control characters
 * and very long text in a diagnostic or address never break or overlong
 * a line, and every line ends in CRLF; a buffer that can't grow gives -1.
 */
#include "tap.h"
#include "xc_dsn.h"

#include <stdlib.h>
#include <string.h>

static const char ORIGINAL[] =
    "Received: from laptop ([127.0.0.1])\r\n\tby localhost (mtad)\r\n"
    "From: Alice <alice@example.test>\r\n"
    "To: carol@remote.test\r\n"
    "Subject: Quarterly numbers\r\n"
    "\r\n"
    "BODY-LINE-ONE\r\n"
    ".a dotted line\r\n"
    "\r\n"
    "BODY-LINE-TWO\r\n";

#define BOUNDARY "dsn.0123456789abcdef"

/* The report as a NUL-terminated string (the test inputs hold no NUL). */
static char *text;
static size_t text_len;

static int write_report(const xc_dsn *d, const xc_dsn_rcpt *r, size_t n)
{
    xc_wbuf w;
    int rc;

    free(text);
    text = NULL;
    xc_wbuf_init(&w, 0);
    rc = xc_dsn_write(d, r, n, &w);
    text = malloc(w.len + 1);
    if (text == NULL)
        abort();
    if (w.len > 0)
        memcpy(text, w.p, w.len);
    text[w.len] = '\0';
    text_len = w.len;
    xc_wbuf_free(&w);
    return rc;
}

static void base(xc_dsn *d)
{
    memset(d, 0, sizeof(*d));
    d->reporting_mta = "mail.example.test";
    d->to = "alice@example.test";
    d->envid = NULL;
    d->arrival = 1700000000 - 3600;     /* Tue, 14 Nov 2023 21:13:20 */
    d->now = 1700000000;                /* Tue, 14 Nov 2023 22:13:20 */
    d->headers_only = 0;
    d->original = (const uint8_t *)ORIGINAL;
    d->original_len = sizeof(ORIGINAL) - 1;
    d->boundary = BOUNDARY;
    d->message_id = "<0123456789abcdef.dsn@mail.example.test>";
}

/* How often the exact line occurs in the report. */
static int lines_eq(const char *line)
{
    int n = 0;
    size_t k = strlen(line);

    for (const char *p = text; p != NULL && *p;) {
        const char *e = strstr(p, "\r\n");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == k && memcmp(p, line, k) == 0)
            n++;
        p = e ? e + 2 : NULL;
    }
    return n;
}

static int has_line(const char *line)
{
    return lines_eq(line) > 0;
}

static int contains(const char *s)
{
    return strstr(text, s) != NULL;
}

/* Every line ends in CRLF (no bare CR or LF), none is longer than 998
   octets (RFC 5322 2.1.1), no control characters but TAB. */
static int lines_clean(void)
{
    size_t col = 0;

    if (text_len < 2 || text[text_len - 2] != '\r' ||
        text[text_len - 1] != '\n')
        return 0;
    for (size_t i = 0; i < text_len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\r') {
            if (i + 1 >= text_len || text[i + 1] != '\n')
                return 0;
            i++;
            col = 0;
            continue;
        }
        if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7F)
            return 0;
        if (++col > 998)
            return 0;
    }
    return 1;
}

typedef struct part {
    const char *hdr;            /* the part's header, up to its blank line */
    size_t hlen;
    const char *body;
    size_t blen;
} part;

/*
 * The report split at its boundary lines as a MIME parser would (RFC
 * 2046 5.1.1: the CRLF before a boundary line belongs to it): the parts
 * in order; -1 if there is no closing line, or anything but CRLF after
 * it, or a part without a header/body separator.
 */
static int split_parts(part *parts, int max)
{
    char open[128], close[128];
    const char *p, *start = NULL;
    int n = 0;

    snprintf(open, sizeof(open), "--%s", BOUNDARY);
    snprintf(close, sizeof(close), "--%s--", BOUNDARY);
    p = strstr(text, "\r\n\r\n");       /* the top-level header's end */
    if (p == NULL)
        return -1;
    p += 2;
    while (p != NULL && *p) {
        const char *e = strstr(p, "\r\n");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int is_close = len == strlen(close) && !memcmp(p, close, len);
        int is_open = len == strlen(open) && !memcmp(p, open, len);

        if (is_open || is_close) {
            if (start != NULL) {
                const char *end = p >= start + 2 ? p - 2 : start;
                const char *sep;
                if (n == max)
                    return -1;
                parts[n].hdr = start;
                /* a part whose header is empty starts with its blank line */
                if (end - start >= 2 && start[0] == '\r' && start[1] == '\n')
                    sep = start;
                else
                    sep = strstr(start, "\r\n\r\n");
                if (sep == NULL || sep > end)
                    return -1;
                parts[n].hlen = (size_t)(sep - start);
                parts[n].body = sep == start ? start + 2 : sep + 4;
                parts[n].blen = parts[n].body < end
                                    ? (size_t)(end - parts[n].body) : 0;
                n++;
            }
            if (is_close)
                return e != NULL && e[2] == '\0' ? n : -1;
            start = e ? e + 2 : NULL;
        }
        p = e ? e + 2 : NULL;
    }
    return -1;
}

static int starts(const char *p, size_t n, const char *s)
{
    return n >= strlen(s) && memcmp(p, s, strlen(s)) == 0;
}

static int mem_has(const char *p, size_t n, const char *s)
{
    size_t k = strlen(s);

    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0)
            return 1;
    return 0;
}

int main(void)
{
    xc_dsn d;
    part parts[8];
    int np;

    test_begin("a failed report: its header fields");
    {
        xc_dsn_rcpt r[] = {{ "reject@remote.test", NULL, "failed", "5.1.1",
                             "mx.remote.test",
                             "550 5.1.1 <reject@remote.test>: no such user" }};
        base(&d);
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(starts(text, text_len,
                           "From: Mail Delivery System "
                           "<MAILER-DAEMON@mail.example.test>\r\n"));
        test_assert(has_line("To: <alice@example.test>"));
        test_assert(has_line("Subject: Undelivered Mail Returned to Sender"));
        test_assert(has_line("Date: Tue, 14 Nov 2023 22:13:20 +0000"));
        test_assert(has_line("Message-ID: "
                             "<0123456789abcdef.dsn@mail.example.test>"));
        test_assert(has_line("Auto-Submitted: auto-replied"));
        test_assert(has_line("MIME-Version: 1.0"));
        test_assert(contains("\r\nContent-Type: multipart/report; "
                             "report-type=delivery-status;\r\n\tboundary=\""
                             BOUNDARY "\"\r\n\r\n"));
        test_assert(lines_clean());
    }
    test_end();

    test_begin("a failed report: three parts between balanced boundaries");
    {
        xc_dsn_rcpt r[] = {{ "reject@remote.test", NULL, "failed", "5.1.1",
                             "mx.remote.test", "550 5.1.1 no such user" }};
        base(&d);
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(lines_eq("--" BOUNDARY) == 3);
        test_assert(lines_eq("--" BOUNDARY "--") == 1);
        np = split_parts(parts, 8);
        test_assert(np == 3);
        if (np == 3) {
            test_assert(starts(parts[0].hdr, parts[0].hlen,
                               "Content-Type: text/plain"));
            test_assert(mem_has(parts[0].body, parts[0].blen,
                                "<reject@remote.test>: 550 5.1.1 no such "
                                "user"));
            test_assert(starts(parts[1].hdr, parts[1].hlen,
                               "Content-Type: message/delivery-status"));
            test_assert(starts(parts[2].hdr, parts[2].hlen,
                               "Content-Type: message/rfc822"));
            /* the original, byte for byte */
            test_assert(parts[2].blen == sizeof(ORIGINAL) - 1);
            test_assert(parts[2].blen == sizeof(ORIGINAL) - 1 &&
                        memcmp(parts[2].body, ORIGINAL, parts[2].blen) == 0);
        }
    }
    test_end();

    test_begin("a failed report: per-message and per-recipient fields");
    {
        xc_dsn_rcpt r[] = {{ "reject@remote.test", NULL, "failed", "5.1.1",
                             "mx.remote.test", "550 5.1.1 no such user" }};
        base(&d);
        test_assert(write_report(&d, r, 1) == 0);
        np = split_parts(parts, 8);
        test_assert(np == 3);
        if (np == 3) {
            /* the delivery-status body: per-message block, blank line,
               one block per recipient */
            test_assert(starts(parts[1].body, parts[1].blen,
                               "Reporting-MTA: dns; mail.example.test\r\n"
                               "Arrival-Date: Tue, 14 Nov 2023 21:13:20 "
                               "+0000\r\n\r\n"
                               "Final-Recipient: rfc822; reject@remote.test"
                               "\r\n"));
            test_assert(mem_has(parts[1].body, parts[1].blen,
                                "\r\nAction: failed\r\n"
                                "Status: 5.1.1\r\n"
                                "Remote-MTA: dns; mx.remote.test\r\n"
                                "Diagnostic-Code: smtp; 550 5.1.1 no such "
                                "user\r\n"
                                "Last-Attempt-Date: Tue, 14 Nov 2023 "
                                "22:13:20 +0000"));
        }
        test_assert(!contains("Original-Envelope-Id"));
        test_assert(!contains("Original-Recipient"));
        test_assert(contains("This is a permanent error"));
    }
    test_end();

    test_begin("a delayed report: Subject, Action, Status, no Remote-MTA "
               "or Diagnostic-Code when not known");
    {
        xc_dsn_rcpt r[] = {{ "later@remote.test", NULL, "delayed", "4.4.7",
                             NULL, NULL }};
        base(&d);
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(has_line("Subject: Delayed Mail (still being retried)"));
        test_assert(has_line("Final-Recipient: rfc822; later@remote.test"));
        test_assert(has_line("Action: delayed"));
        test_assert(has_line("Status: 4.4.7"));
        test_assert(!contains("Remote-MTA"));
        test_assert(!contains("Diagnostic-Code"));
        test_assert(contains("will keep trying"));
        test_assert(split_parts(parts, 8) == 3);
        test_assert(lines_clean());
    }
    test_end();

    test_begin("a delivered report: Subject and Action");
    {
        xc_dsn_rcpt r[] = {{ "carol@remote.test", NULL, "delivered", "2.0.0",
                             "mx.remote.test", "250 2.0.0 queued" }};
        base(&d);
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(has_line("Subject: Successful Mail Delivery Report"));
        test_assert(has_line("Action: delivered"));
        test_assert(has_line("Status: 2.0.0"));
        test_assert(split_parts(parts, 8) == 3);
    }
    test_end();

    test_begin("failed wins the Subject over delayed; a block per recipient");
    {
        xc_dsn_rcpt r[] = {
            { "a@remote.test", NULL, "delayed", "4.4.7", NULL, "451 later" },
            { "b@remote.test", NULL, "failed", "5.2.2", NULL, "552 full" },
            { "c@remote.test", NULL, "failed", "5.1.1", NULL, "550 who" },
        };
        base(&d);
        test_assert(write_report(&d, r, 3) == 0);
        test_assert(has_line("Subject: Undelivered Mail Returned to Sender"));
        test_assert(lines_eq("Last-Attempt-Date: Tue, 14 Nov 2023 22:13:20 "
                             "+0000") == 3);
        test_assert(contains("Final-Recipient: rfc822; b@remote.test\r\n"
                             "Action: failed\r\nStatus: 5.2.2\r\n"));
        test_assert(contains("Final-Recipient: rfc822; c@remote.test\r\n"
                             "Action: failed\r\nStatus: 5.1.1\r\n"));
        test_assert(contains("Final-Recipient: rfc822; a@remote.test\r\n"
                             "Action: delayed\r\nStatus: 4.4.7\r\n"));
        test_assert(split_parts(parts, 8) == 3);
    }
    test_end();

    test_begin("ORCPT's xtext is decoded into Original-Recipient");
    {
        static const char *cases[][2] = {
            { "rfc822;a+2Bb@x", "Original-Recipient: rfc822; a+b@x" },
            { "rfc822;plain@remote.test",
              "Original-Recipient: rfc822; plain@remote.test" },
            { "RFC822;x+3Dy@z", "Original-Recipient: RFC822; x=y@z" },
            { "utf-8;caf+C3+A9@z", "Original-Recipient: utf-8; caf\xc3\xa9@z" },
        };
        for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
            xc_dsn_rcpt r[] = {{ "a@remote.test", cases[i][0], "failed",
                                 "5.1.1", NULL, NULL }};
            base(&d);
            test_assert_idx(write_report(&d, r, 1) == 0, i);
            test_assert_idx(has_line(cases[i][1]), i);
            /* after Final-Recipient, before Action (RFC 3464 2.3) */
            test_assert_idx(contains("Final-Recipient: rfc822; a@remote.test"
                                     "\r\nOriginal-Recipient: "), i);
        }
    }
    test_end();

    test_begin("an ORCPT that is not valid xtext, or has no type, is left out");
    {
        static const char *bad[] = { "rfc822;a+2bb@x", "rfc822;a+G0@x",
                                     "rfc822;a=b@x", "no-semicolon",
                                     "rfc822;a+00@x" };
        for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
            xc_dsn_rcpt r[] = {{ "a@remote.test", bad[i], "failed", "5.1.1",
                                 NULL, NULL }};
            base(&d);
            test_assert_idx(write_report(&d, r, 1) == 0, i);
            test_assert_idx(!contains("Original-Recipient"), i);
            test_assert_idx(split_parts(parts, 8) == 3, i);
        }
    }
    test_end();

    test_begin("ENVID becomes Original-Envelope-Id (none when empty)");
    {
        xc_dsn_rcpt r[] = {{ "a@remote.test", NULL, "failed", "5.1.1", NULL,
                             NULL }};
        base(&d);
        d.envid = "env+id-42";
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(contains("Reporting-MTA: dns; mail.example.test\r\n"
                             "Original-Envelope-Id: env+id-42\r\n"
                             "Arrival-Date: "));
        base(&d);
        d.envid = "";
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(!contains("Original-Envelope-Id"));
    }
    test_end();

    test_begin("RET=HDRS: only the original's header, as text/rfc822-headers");
    {
        xc_dsn_rcpt r[] = {{ "a@remote.test", NULL, "failed", "5.1.1", NULL,
                             NULL }};
        const char *hdr_end = strstr(ORIGINAL, "\r\n\r\n") + 2;
        base(&d);
        d.headers_only = 1;
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(!contains("message/rfc822"));
        test_assert(!contains("BODY-LINE"));
        test_assert(contains("Subject: Quarterly numbers"));
        np = split_parts(parts, 8);
        test_assert(np == 3);
        if (np == 3) {
            test_assert(starts(parts[2].hdr, parts[2].hlen,
                               "Content-Type: text/rfc822-headers"));
            /* the header with its last CRLF, then the blank line that
               ends it: a parser reads the same header back */
            test_assert(parts[2].blen == (size_t)(hdr_end - ORIGINAL));
            test_assert(memcmp(parts[2].body, ORIGINAL,
                               (size_t)(hdr_end - ORIGINAL)) == 0);
        }
        test_assert(lines_clean());
    }
    test_end();

    test_begin("RET=HDRS on a message without a body: all of it");
    {
        static const char only[] = "Subject: no body\r\nX-A: 1\r\n";
        xc_dsn_rcpt r[] = {{ "a@remote.test", NULL, "failed", "5.1.1", NULL,
                             NULL }};
        base(&d);
        d.headers_only = 1;
        d.original = (const uint8_t *)only;
        d.original_len = sizeof(only) - 1;
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(contains("\r\n\r\nSubject: no body\r\nX-A: 1\r\n\r\n--"
                             BOUNDARY "--\r\n"));
        test_assert(split_parts(parts, 8) == 3);
    }
    test_end();

    test_begin("an original without a final CRLF still ends before the "
               "boundary line");
    {
        static const char noeol[] = "Subject: x\r\n\r\nno end of line";
        xc_dsn_rcpt r[] = {{ "a@remote.test", NULL, "failed", "5.1.1", NULL,
                             NULL }};
        base(&d);
        d.original = (const uint8_t *)noeol;
        d.original_len = sizeof(noeol) - 1;
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(contains("no end of line\r\n\r\n--" BOUNDARY "--\r\n"));
        test_assert(split_parts(parts, 8) == 3);
        test_assert(lines_clean());
    }
    test_end();

    test_begin("control characters in a diagnostic don't break lines "
               "(delivery-status part)");
    {
        xc_dsn_rcpt r[] = {{ "a@remote.test", NULL, "failed", "5.1.1",
                             "mx.remote.test",
                             "550 5.1.1 bad\r\nX-Injected: yes\r\n\r\n--"
                             BOUNDARY "--\r\n\x01\x7f\ttab" }};
        base(&d);
        test_assert(write_report(&d, r, 1) == 0);
        {
            /* from the machine-readable part on (the human-readable part
               is the next test's) */
            const char *ds = strstr(text, "Content-Type: message/"
                                          "delivery-status\r\n");
            test_assert(ds != NULL);
            if (ds != NULL) {
                test_assert(strstr(ds, "\r\nX-Injected: yes") == NULL);
                test_assert(strstr(ds, "\r\nDiagnostic-Code: smtp; 550 5.1.1 "
                                       "bad  X-Injected: yes    --" BOUNDARY
                                       "--     tab\r\nLast-Attempt-Date: ")
                            != NULL);
            }
        }
    }
    test_end();

    test_begin("control characters in a diagnostic don't break lines "
               "(human-readable part)");
    {
        xc_dsn_rcpt r[] = {{ "a@remote.test", NULL, "failed", "5.1.1",
                             "mx.remote.test",
                             "550 5.1.1 bad\r\nX-Injected: yes\r\n\r\n--"
                             BOUNDARY "--\r\n\x01\x7f\ttab" }};
        base(&d);
        test_assert(write_report(&d, r, 1) == 0);
        /* the injected boundary line would end the report early */
        test_assert(lines_eq("--" BOUNDARY "--") == 1);
        test_assert(lines_eq("--" BOUNDARY) == 3);
        test_assert(split_parts(parts, 8) == 3);
        test_assert(!contains("\r\nX-Injected: yes"));
        test_assert(lines_clean());
    }
    test_end();

    test_begin("a control character in an address or ENVID stays on its line");
    {
        xc_dsn_rcpt r[] = {{ "a\r\nBcc: x@y@remote.test", NULL, "failed",
                             "5.1.1", NULL, NULL }};
        base(&d);
        d.envid = "env\r\nX-Env: 1";
        d.to = "alice@example.test\r\nBcc: mallory@evil.test";
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(!has_line("Bcc: mallory@evil.test>"));
        test_assert(!contains("\r\nBcc:"));
        test_assert(!contains("\r\nX-Env"));
        test_assert(has_line("To: <alice@example.test  Bcc: mallory@evil.test>"));
    }
    test_end();

    test_begin("very long text keeps every line within 998 octets");
    {
        static char diag[5001], addr[700], envid[1200], mta[1000];
        memset(diag, 'd', sizeof(diag) - 1);
        memcpy(diag, "550 ", 4);
        memset(addr, 'a', sizeof(addr) - 1);
        addr[300] = '@';
        memset(envid, 'e', sizeof(envid) - 1);
        memset(mta, 'm', sizeof(mta) - 1);
        xc_dsn_rcpt r[] = {{ addr, NULL, "failed", "5.1.1", mta, diag }};
        base(&d);
        d.envid = envid;
        d.to = addr;
        d.reporting_mta = mta;
        test_assert(write_report(&d, r, 1) == 0);
        test_assert(lines_clean());
        test_assert(split_parts(parts, 8) == 3);
    }
    test_end();

    test_begin("a buffer that can't grow gives -1");
    {
        xc_dsn_rcpt r[] = {{ "a@remote.test", NULL, "failed", "5.1.1", NULL,
                             NULL }};
        xc_wbuf w;
        base(&d);
        xc_wbuf_init(&w, 100);
        test_assert(xc_dsn_write(&d, r, 1, &w) == -1);
        xc_wbuf_free(&w);
        xc_wbuf_init(&w, 0);
        test_assert(xc_dsn_write(&d, r, 1, &w) == 0);
        test_assert(w.len > 100);
        xc_wbuf_free(&w);
    }
    test_end();

    free(text);
    return test_exit();
}
