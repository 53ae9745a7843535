/*
 * NAME
 *   mt_out - outbound delivery: queued mail for other domains to their
 *   mail exchangers (RFC 5321 5, [MS-OXPROTO] 2.1.2)
 *
 * DESCRIPTION
 *   The queue runner (mt_store.c) hands over the due recipients of one
 *   message in one domain as a job; `outbound_workers` threads each take
 *   one at a time (per-destination work: one connection carries all
 *   recipients of a message in a domain). A job reads the message from
 *   the queue (QUEUE_READ), finds the mail exchangers (the smarthost, or
 *   MX records, then A/AAAA: mt_dns.c), and speaks SMTP to them in order
 *   of preference until one gives an answer: EHLO, STARTTLS when offered
 *   (opportunistic: the certificate is not checked, as with MX delivery
 *   it can't be without DANE), MAIL with SIZE, SMTPUTF8 and the DSN
 *   parameters when the server takes them, RCPT per recipient, DATA with
 *   dot-stuffing.
 *
 *   Each recipient then settles: accepted ones leave the queue
 *   (QUEUE_DONE); a temporary failure (4xx, or no exchanger answered)
 *   waits with a doubling back-off (QUEUE_DEFER), and once the message
 *   was queued longer than delay_warning its sender is told once
 *   (a "delayed" DSN); a permanent failure (5xx), or a temporary one
 *   past queue_lifetime, bounces: an RFC 3464 report to the sender,
 *   queued in the same commit that takes the recipient out (QUEUE_PUT
 *   with DONE_IDX), so a crash never loses the bounce or sends it twice.
 *   NOTIFY=NEVER (or a NOTIFY list without FAILURE / DELAY) and the null
 *   sender get no report.
 */
#include "mt.h"
#include "mt_sd.h"
#include "xc_dsn.h"
#include "xc_text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MX 16
#define MAX_ADDRS 8

static pthread_mutex_t olock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ocond = PTHREAD_COND_INITIALIZER;
static mt_out_job *ohead, *otail;
static mt_out_job **active;             /* per thread: the job it runs */
static int running, ostopping, nthreads;
static pthread_t *threads;

/* ---- a blocking SMTP client connection --------------------------------- */

typedef struct cli {
    int fd;
    SSL *ssl;
    char buf[8192];
    size_t len;
    /* EHLO answer */
    int starttls, dsn, smtputf8, eightbit;
    uint64_t size;
} cli;

typedef struct outcome {
    int code;                   /* 0: not tried */
    char text[512];             /* the server's reply (one line) */
} outcome;

static int wait_fd(int fd, short ev, int secs)
{
    struct pollfd p = { .fd = fd, .events = ev };
    int r;

    do
        r = poll(&p, 1, secs * 1000);
    while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : -1;
}

static int cli_connect(cli *c, const struct sockaddr_storage *ss)
{
    socklen_t sl = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    int err = 0;
    socklen_t el = sizeof(err);

    memset(c, 0, sizeof(*c));
    c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                   0);
    if (c->fd < 0)
        return -1;
    if (connect(c->fd, (const struct sockaddr *)ss, sl) < 0 &&
        errno != EINPROGRESS)
        goto fail;
    if (wait_fd(c->fd, POLLOUT, mt_config->connect_timeout) < 0 ||
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0)
        goto fail;
    return 0;
fail:
    close(c->fd);
    c->fd = -1;
    return -1;
}

static void cli_close(cli *c)
{
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int cli_write(cli *c, const void *p, size_t n)
{
    const char *s = p;

    while (n > 0) {
        ssize_t r;
        if (c->ssl != NULL) {
            int k = SSL_write(c->ssl, s, (int)(n > 65536 ? 65536 : n));
            if (k <= 0) {
                int e = SSL_get_error(c->ssl, k);
                if ((e == SSL_ERROR_WANT_WRITE &&
                     wait_fd(c->fd, POLLOUT, mt_config->smtp_timeout) == 0) ||
                    (e == SSL_ERROR_WANT_READ &&
                     wait_fd(c->fd, POLLIN, mt_config->smtp_timeout) == 0))
                    continue;
                return -1;
            }
            r = k;
        } else {
            r = write(c->fd, s, n);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(c->fd, POLLOUT, mt_config->smtp_timeout) < 0)
                    return -1;
                continue;
            }
            if (r <= 0)
                return -1;
        }
        s += r;
        n -= (size_t)r;
    }
    return 0;
}

static int cli_fill(cli *c)
{
    for (;;) {
        ssize_t r;
        if (c->len == sizeof(c->buf))
            return -1;          /* a reply line longer than we take */
        if (c->ssl != NULL) {
            int k = SSL_read(c->ssl, c->buf + c->len,
                             (int)(sizeof(c->buf) - c->len));
            if (k <= 0) {
                int e = SSL_get_error(c->ssl, k);
                if ((e == SSL_ERROR_WANT_READ &&
                     wait_fd(c->fd, POLLIN, mt_config->smtp_timeout) == 0) ||
                    (e == SSL_ERROR_WANT_WRITE &&
                     wait_fd(c->fd, POLLOUT, mt_config->smtp_timeout) == 0))
                    continue;
                return -1;
            }
            r = k;
        } else {
            r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(c->fd, POLLIN, mt_config->smtp_timeout) < 0)
                    return -1;
                continue;
            }
            if (r <= 0)
                return -1;
        }
        c->len += (size_t)r;
        return 0;
    }
}

/*
 * One reply: its code, and its lines (without the code) in o->text, the
 * last one last. EHLO keywords are noted in c. -1: the connection failed.
 */
static int cli_reply(cli *c, outcome *o, int ehlo)
{
    unsigned ext = 0;
    uint64_t size = 0;

    o->code = 0;
    o->text[0] = '\0';
    for (int n = 0; n < XC_SMTP_REPLY_LINES; n++) {
        char *nl, line[512];
        size_t len, k;
        xc_smtp_reply r;

        while ((nl = memchr(c->buf, '\n', c->len)) == NULL)
            if (cli_fill(c) < 0)
                return -1;
        len = (size_t)(nl - c->buf);
        if (len > 0 && c->buf[len - 1] == '\r')
            len--;
        /* lib/xc_smtp: the code, the separator; one code for all lines */
        if (xc_smtp_reply_line(c->buf, len, &r) < 0 ||
            (o->code != 0 && r.code != o->code))
            return -1;
        o->code = r.code;
        if (ehlo && n > 0)          /* the first line greets */
            xc_smtp_ehlo_line(r.text, r.text_len, &ext, &size);
        k = r.text_len < sizeof(line) - 1 ? r.text_len : sizeof(line) - 1;
        memcpy(line, r.text, k);
        line[k] = '\0';
        for (size_t i = 0; i < k; i++)
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F)
                line[i] = ' ';
        snprintf(o->text, sizeof(o->text), k ? "%d %.500s" : "%d%.0s",
                 o->code, line);
        c->len -= (size_t)(nl + 1 - c->buf);
        memmove(c->buf, nl + 1, c->len);
        if (!r.more) {
            if (ehlo) {
                c->starttls = (ext & XC_SMTP_EXT_STARTTLS) != 0;
                c->dsn = (ext & XC_SMTP_EXT_DSN) != 0;
                c->smtputf8 = (ext & XC_SMTP_EXT_SMTPUTF8) != 0;
                c->eightbit = (ext & XC_SMTP_EXT_8BITMIME) != 0;
                c->size = size;
            }
            return 0;
        }
    }
    return -1;                  /* a reply without end */
}

static int cli_cmd(cli *c, outcome *o, int ehlo, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cli_cmd(cli *c, outcome *o, int ehlo, const char *fmt, ...)
{
    char line[2100];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) - 2)
        return -1;
    memcpy(line + n, "\r\n", 2);
    if (cli_write(c, line, (size_t)n + 2) < 0)
        return -1;
    return cli_reply(c, o, ehlo);
}

/* Our Return-Path field in front of queued bytes (smtp_server.c): for
   the final delivery only, never relayed (RFC 5321 4.4). */
static size_t return_path_len(const uint8_t *p, size_t n)
{
    size_t i;

    if (n < 13 || strncasecmp((const char *)p, "Return-Path:", 12) != 0)
        return 0;
    for (i = 0; i < n; i++)
        if (p[i] == '\n' && (i + 1 == n || (p[i + 1] != ' ' &&
                                             p[i + 1] != '\t')))
            return i + 1;
    return 0;
}

/* The message as DATA: dot-stuffed, then the end line (RFC 5321 4.5.2). */
static int cli_data(cli *c, const uint8_t *p, size_t n)
{
    xc_wbuf w;
    int bol = 1, r;
    size_t skip = return_path_len(p, n);

    p += skip;
    n -= skip;

    xc_wbuf_init(&w, 0);
    for (size_t i = 0; i < n; i++) {
        if (bol && p[i] == '.')
            xc_put_u8(&w, '.');
        xc_put_u8(&w, p[i]);
        bol = p[i] == '\n';
        if (w.len >= 65536) {
            if (w.err || cli_write(c, w.p, w.len) < 0) {
                xc_wbuf_free(&w);
                return -1;
            }
            w.len = 0;
        }
    }
    if (!bol)
        xc_put_bytes(&w, "\r\n", 2);
    xc_put_bytes(&w, ".\r\n", 3);
    r = w.err ? -1 : cli_write(c, w.p, w.len);
    xc_wbuf_free(&w);
    return r;
}

static int cli_starttls(cli *c)
{
    if (mt_tls_client == NULL || (c->ssl = SSL_new(mt_tls_client)) == NULL ||
        SSL_set_fd(c->ssl, c->fd) != 1)
        return -1;
    for (;;) {
        int k = SSL_connect(c->ssl);
        if (k == 1)
            return 0;
        k = SSL_get_error(c->ssl, k);
        if ((k == SSL_ERROR_WANT_READ &&
             wait_fd(c->fd, POLLIN, mt_config->smtp_timeout) == 0) ||
            (k == SSL_ERROR_WANT_WRITE &&
             wait_fd(c->fd, POLLOUT, mt_config->smtp_timeout) == 0))
            continue;
        return -1;
    }
}

/* ---- one delivery ------------------------------------------------------ */

static int needs_utf8(const mt_out_job *j)
{
    for (const char *p = j->sender; *p; p++)
        if ((unsigned char)*p >= 0x80)
            return 1;
    for (int i = 0; i < j->n; i++)
        for (const char *p = j->r[i].addr; *p; p++)
            if ((unsigned char)*p >= 0x80)
                return 1;
    return 0;
}

static int has_8bit(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x80)
            return 1;
    return 0;
}

/*
 * One SMTP session with one server. Returns 1 when the server gave its
 * answers (per recipient in o[]), 0 when it could not be used (try the
 * next one; why in o[0].text).
 */
static int session(cli *c, const mt_out_job *j, const uint8_t *msg,
                   size_t len, outcome *o, char *why, size_t whylen,
                   int tls, int *dsn_r)
{
    outcome r;
    int accepted = 0;
    size_t size = len - return_path_len(msg, len);     /* as relayed */

    if (cli_reply(c, &r, 0) < 0 || r.code != 220) {
        snprintf(why, whylen, "greeting: %.400s", r.code ? r.text : "none");
        return 0;
    }
    if (cli_cmd(c, &r, 1, "EHLO %s", mt_config->hostname) < 0)
        return 0;
    if (r.code != 250 && (cli_cmd(c, &r, 0, "HELO %s",
                                  mt_config->hostname) < 0 || r.code != 250)) {
        snprintf(why, whylen, "HELO: %.400s", r.text);
        return 0;
    }
    if (tls && c->starttls && mt_tls_client != NULL) {
        if (cli_cmd(c, &r, 0, "STARTTLS") < 0 || r.code != 220 ||
            cli_starttls(c) < 0) {
            snprintf(why, whylen, "STARTTLS failed");
            return -1;          /* the caller tries again without TLS */
        }
        c->starttls = c->dsn = c->smtputf8 = c->eightbit = 0;
        c->size = 0;
        if (cli_cmd(c, &r, 1, "EHLO %s", mt_config->hostname) < 0 ||
            r.code != 250) {
            snprintf(why, whylen, "EHLO after STARTTLS: %.400s", r.text);
            return 0;
        }
    }
    if (c->size > 0 && c->size < size) {
        for (int i = 0; i < j->n; i++) {
            o[i].code = 552;
            snprintf(o[i].text, sizeof(o[i].text), "552 5.3.4 message is "
                     "larger than the server takes (%" PRIu64 ")", c->size);
        }
        (void)cli_cmd(c, &r, 0, "QUIT");
        return 1;
    }
    if (needs_utf8(j) && !c->smtputf8) {
        for (int i = 0; i < j->n; i++) {
            o[i].code = 553;
            snprintf(o[i].text, sizeof(o[i].text), "553 5.6.7 the server "
                     "does not take internationalized addresses (SMTPUTF8)");
        }
        (void)cli_cmd(c, &r, 0, "QUIT");
        return 1;
    }
    {
        char params[400] = "";
        size_t k = 0;
        k += (size_t)snprintf(params + k, sizeof(params) - k, " SIZE=%zu",
                              size);
        if (c->eightbit && has_8bit(msg, len))
            k += (size_t)snprintf(params + k, sizeof(params) - k,
                                  " BODY=8BITMIME");
        if (needs_utf8(j))
            k += (size_t)snprintf(params + k, sizeof(params) - k,
                                  " SMTPUTF8");
        if (c->dsn && j->ret[0])
            k += (size_t)snprintf(params + k, sizeof(params) - k, " RET=%s",
                                  j->ret);
        if (c->dsn && j->envid[0]) {
            char x[300];
            if (xc_smtp_xtext_encode(j->envid, strlen(j->envid), x,
                                     sizeof(x)) == 0)
                snprintf(params + k, sizeof(params) - k, " ENVID=%s", x);
        }
        if (cli_cmd(c, &r, 0, "MAIL FROM:<%s>%s", j->sender, params) < 0)
            return 0;
    }
    if (r.code / 100 != 2) {
        for (int i = 0; i < j->n; i++)
            o[i] = r;
        (void)cli_cmd(c, &r, 0, "QUIT");
        return 1;
    }
    for (int i = 0; i < j->n; i++) {
        char params[700] = "";
        if (c->dsn && j->r[i].notify[0])
            snprintf(params, sizeof(params), " NOTIFY=%s", j->r[i].notify);
        if (c->dsn && j->r[i].orcpt[0])
            snprintf(params + strlen(params), sizeof(params) - strlen(params),
                     " ORCPT=%s", j->r[i].orcpt);
        if (cli_cmd(c, &o[i], 0, "RCPT TO:<%s>%s", j->r[i].addr, params) < 0)
            return 0;
        accepted += o[i].code / 100 == 2;
    }
    if (accepted == 0) {
        (void)cli_cmd(c, &r, 0, "QUIT");
        return 1;
    }
    *dsn_r = c->dsn;
    if (cli_cmd(c, &r, 0, "DATA") < 0)
        return 0;
    if (r.code != 354) {
        for (int i = 0; i < j->n; i++)
            if (o[i].code / 100 == 2)
                o[i] = r;
        (void)cli_cmd(c, &r, 0, "QUIT");
        return 1;
    }
    if (cli_data(c, msg, len) < 0 || cli_reply(c, &r, 0) < 0) {
        /* the message may or may not have been taken: RFC 5321 6.1 lets
           us send it again rather than lose it */
        snprintf(why, whylen, "connection lost after DATA");
        for (int i = 0; i < j->n; i++)
            o[i].code = 0;
        return 0;
    }
    for (int i = 0; i < j->n; i++)
        if (o[i].code / 100 == 2)
            o[i] = r;
    (void)cli_cmd(c, &r, 0, "QUIT");
    return 1;
}

/* Where to connect: the smarthost, or the domain's exchangers. */
typedef struct route {
    char host[256];
    struct sockaddr_storage addr[MAX_ADDRS];
    int naddr;
} route;

static int routes(const mt_out_job *j, route *rt, int max, char *why,
                  size_t whylen, int *permanent)
{
    mt_mx mx[MAX_MX];
    int n, out = 0, port = mt_config->remote_port;

    *permanent = 0;
    if (mt_config->smarthost[0]) {
        const char *colon = strrchr(mt_config->smarthost, ':');
        size_t hl = colon ? (size_t)(colon - mt_config->smarthost)
                          : strlen(mt_config->smarthost);
        if (hl >= sizeof(mx[0].host))
            hl = sizeof(mx[0].host) - 1;
        memcpy(mx[0].host, mt_config->smarthost, hl);
        mx[0].host[hl] = '\0';
        port = colon ? atoi(colon + 1) : 25;
        n = 1;
    } else if (j->domain[0] == '[') {
        /* an address literal is its own destination */
        size_t hl = strlen(j->domain) - 2;
        const char *a = j->domain + 1;
        if (!strncasecmp(a, "IPv6:", 5)) {
            a += 5;
            hl -= 5;
        }
        snprintf(mx[0].host, sizeof(mx[0].host), "%.*s", (int)hl, a);
        n = 1;
    } else {
        n = mt_dns_mx(j->domain, mx, MAX_MX, why, whylen);
        if (n < 0) {
            *permanent = n == -2;
            return 0;
        }
    }
    for (int i = 0; i < n && out < max; i++) {
        route *r = &rt[out];
        struct sockaddr_in *sin = (struct sockaddr_in *)&r->addr[0];
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->addr[0];

        memset(r, 0, sizeof(*r));
        snprintf(r->host, sizeof(r->host), "%.255s", mx[i].host);
        if (inet_pton(AF_INET, mx[i].host, &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            r->naddr = 1;
        } else if (inet_pton(AF_INET6, mx[i].host, &sin6->sin6_addr) == 1) {
            sin6->sin6_family = AF_INET6;
            r->naddr = 1;
        } else {
            r->naddr = mt_dns_addrs(mx[i].host, r->addr, MAX_ADDRS);
        }
        for (int k = 0; k < r->naddr; k++) {
            if (r->addr[k].ss_family == AF_INET)
                ((struct sockaddr_in *)&r->addr[k])->sin_port =
                    htons((uint16_t)port);
            else
                ((struct sockaddr_in6 *)&r->addr[k])->sin6_port =
                    htons((uint16_t)port);
        }
        if (r->naddr > 0)
            out++;
    }
    if (out == 0 && why[0] == '\0')
        snprintf(why, whylen, "no address for the mail exchangers of %s",
                 j->domain);
    return out;
}

int mt_out_wants(const char *notify, const char *what)
{
    const char *p = notify;
    size_t n = strlen(what);

    if (!p[0])                  /* no NOTIFY: failures and delays */
        return strcmp(what, "SUCCESS") != 0;
    while (*p) {
        if (!strncasecmp(p, what, n) && (p[n] == ',' || p[n] == '\0'))
            return 1;
        p = strchr(p, ',');
        if (p == NULL)
            break;
        p++;
    }
    return 0;
}

static void random_hex(char *out, size_t bytes)
{
    unsigned char r[16];

    if (bytes > sizeof(r) || RAND_bytes(r, (int)bytes) != 1)
        memset(r, 0x5A, sizeof(r));
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

xc_status mt_out_dsn(mt_sd *w, const mt_out_job *j, const uint8_t *msg,
                     size_t len, const int *which, int nwhich,
                     const char *action, const char *const *status,
                     const char *const *diag, const char *remote_mta)
{
    int failed = strcmp(action, "failed") == 0;
    xc_dsn d;
    xc_dsn_rcpt *dr;
    int *done = NULL, ndone = 0, nd = 0;
    char boundary[64], mid[128], hex[33];
    xc_wbuf out, *b;
    xc_reply r;
    xc_status st;

    if ((dr = calloc((size_t)nwhich, sizeof(*dr))) == NULL ||
        (done = calloc((size_t)nwhich, sizeof(int))) == NULL) {
        free(dr);
        return XC_E_TEMP;
    }
    for (int i = 0; i < nwhich; i++) {
        const mt_out_rcpt *rc = &j->r[which[i]];
        if (failed)
            done[ndone++] = rc->idx;
        if (!j->sender[0] ||
            !mt_out_wants(rc->notify, failed ? "FAILURE"
                       : !strcmp(action, "delayed") ? "DELAY" : "SUCCESS"))
            continue;
        dr[nd].addr = rc->addr;
        dr[nd].orcpt = rc->orcpt[0] ? rc->orcpt : NULL;
        dr[nd].action = action;
        dr[nd].status = status[i];
        dr[nd].remote_mta = remote_mta;
        dr[nd].diagnostic = diag ? diag[i] : NULL;
        nd++;
    }
    if (nd == 0) {
        /* nobody to tell: failed recipients just leave the queue */
        st = XC_OK;
        for (int i = 0; i < ndone; i++) {
            b = xc_client_begin(w->c, XW_OP_QUEUE_DONE);
            xc_put_i8(b, XW_TAG_QUEUE_ID, j->queue);
            xc_put_long(b, XW_TAG_RCPT_IDX, done[i]);
            if (mt_sd_call(w, NULL, &r) != XC_OK && r.status != XC_E_NOTFOUND)
                st = (xc_status)r.status;
        }
        free(dr);
        free(done);
        return st;
    }
    random_hex(hex, 16);
    snprintf(boundary, sizeof(boundary), "dsn.%s", hex);
    snprintf(mid, sizeof(mid), "<%s.dsn@%.80s>", hex, mt_config->hostname);
    memset(&d, 0, sizeof(d));
    d.reporting_mta = mt_config->hostname;
    d.to = j->sender;
    d.envid = j->envid;
    d.now = time(NULL);
    d.arrival = d.now - (time_t)j->age;
    d.headers_only = strcmp(j->ret, "HDRS") == 0;
    d.original = msg;
    d.original_len = len;
    d.boundary = boundary;
    d.message_id = mid;
    xc_wbuf_init(&out, 0);
    xc_put_bytes(&out, "Return-Path: <>\r\n", 17);    /* as smtp_server.c */
    d.original_len -= return_path_len(msg, len);
    d.original = msg + (len - d.original_len);
    if (xc_dsn_write(&d, dr, (size_t)nd, &out) < 0) {
        xc_wbuf_free(&out);
        free(dr);
        free(done);
        return XC_E_TEMP;
    }
    b = xc_client_begin(w->c, XW_OP_QUEUE_PUT);
    xc_put_str(b, XW_TAG_SENDER, "");
    xc_put_str(b, XW_TAG_ADDRESS, j->sender);
    xc_put_str(b, XW_TAG_CLIENT, "mtad (delivery status)");
    if (ndone > 0) {
        xc_put_i8(b, XW_TAG_QUEUE_ID, j->queue);
        xc_put_u32(b, XW_TAG_DONE_IDX);
        xc_put_u32(b, (uint32_t)ndone);
        for (int i = 0; i < ndone; i++)
            xc_put_u32(b, (uint32_t)done[i]);
    }
    xc_put_object(b, XW_TAG_MIME, out.len);
    xc_client_stream(w->c, out.p, out.len);
    st = mt_sd_call(w, NULL, &r);
    if (st == XC_E_EXISTS)
        st = XC_OK;             /* settled by another agent meanwhile */
    else if (st == XC_OK)
        mt_log_info(64, "%s notification to <%s> for queue=%" PRId64
                    " (%d recipients)", action, j->sender, j->queue, nd);
    xc_wbuf_free(&out);
    free(dr);
    free(done);
    return st;
}

/* The RFC 3463 status a failed recipient is reported with: its reply's
   (made final: 5.x.y), or what stopped us. */
static void status_of(char out[16], const char *diag, int code,
                      int permanent, int null_mx, int expired)
{
    snprintf(out, 16, "5.0.0");
    if (code / 100 == 5 && diag && strlen(diag) > 9 && diag[3] == ' ' &&
        diag[4] == '5' && diag[5] == '.') {
        size_t k = strcspn(diag + 4, " ");
        if (k < 16) {
            memcpy(out, diag + 4, k);
            out[k] = '\0';
        }
    } else if (permanent) {
        /* no such domain, or it takes no mail (RFC 7505 3) */
        snprintf(out, 16, "%s", null_mx ? "5.1.10" : "5.1.2");
    } else if (expired) {
        snprintf(out, 16, "5.4.7");    /* delivery time expired */
    }
}

/* Settle every recipient of j after the attempt. */
static void settle(mt_sd *w, const mt_out_job *j, const uint8_t *msg,
                   size_t len, const outcome *o, const char *why,
                   const char *mta, int permanent, int remote_dsn)
{
    int *fail = calloc((size_t)j->n, sizeof(int)), nfail = 0;
    int *sent = calloc((size_t)j->n, sizeof(int)), nsent = 0;
    int *late = calloc((size_t)j->n, sizeof(int)), nlate = 0;
    const char **fdiag = calloc((size_t)j->n, sizeof(char *));
    xc_reply r;

    if (fail == NULL || late == NULL || fdiag == NULL || sent == NULL)
        goto out;
    for (int i = 0; i < j->n; i++) {
        const char *diag = o[i].code ? o[i].text : why;
        char safe[700];
        xc_log_escape(safe, sizeof(safe), j->r[i].addr, strlen(j->r[i].addr));
        if (o[i].code / 100 == 2) {
            xc_wbuf *b = xc_client_begin(w->c, XW_OP_QUEUE_DONE);
            xc_put_i8(b, XW_TAG_QUEUE_ID, j->queue);
            xc_put_long(b, XW_TAG_RCPT_IDX, j->r[i].idx);
            (void)mt_sd_call(w, NULL, &r);
            mt_log_info(65, "sent queue=%" PRId64 " rcpt=%d to=%s via %s: %s",
                        j->queue, j->r[i].idx, safe, mta, o[i].text);
            /* RFC 3461 5.2.2: a server without DSN can't tell the sender
               of the delivery it asked for; we tell of the relay */
            if (!remote_dsn && sent != NULL &&
                mt_out_wants(j->r[i].notify, "SUCCESS"))
                sent[nsent++] = i;
        } else if (o[i].code / 100 == 5 || permanent ||
                   j->age >= mt_config->queue_lifetime) {
            mt_log_warn(66, "bounced queue=%" PRId64 " rcpt=%d to=%s: %s",
                        j->queue, j->r[i].idx, safe, diag);
            fdiag[nfail] = diag;
            fail[nfail++] = i;
        } else {
            mt_log_info(67, "deferred queue=%" PRId64 " rcpt=%d to=%s: %s",
                        j->queue, j->r[i].idx, safe, diag);
            if (j->r[i].warned || mt_config->delay_warning == 0 ||
                j->age < mt_config->delay_warning) {
                mt_sd_defer(w, j->queue, j->r[i].idx, diag, 0);
            } else {
                late[nlate++] = i;
            }
        }
    }
    if (nfail > 0) {
        char (*codes)[16] = calloc((size_t)nfail, sizeof(*codes));
        const char **st = calloc((size_t)nfail, sizeof(char *));
        for (int i = 0; codes && st && i < nfail; i++) {
            status_of(codes[i], fdiag[i], o[fail[i]].code, permanent,
                      strstr(why, "null MX") != NULL,
                      j->age >= mt_config->queue_lifetime);
            st[i] = codes[i];
        }
        if (codes == NULL || st == NULL ||
            mt_out_dsn(w, j, msg, len, fail, nfail, "failed", st, fdiag,
                       mta[0] ? mta : NULL) != XC_OK)
            for (int i = 0; i < nfail; i++)    /* again next time */
                mt_sd_defer(w, j->queue, j->r[fail[i]].idx, fdiag[i], 0);
        free(codes);
        free(st);
    }
    if (nlate > 0) {
        const char **ld = calloc((size_t)nlate, sizeof(char *));
        for (int i = 0; ld && i < nlate; i++)
            ld[i] = o[late[i]].code ? o[late[i]].text : why;
        const char **ls = calloc((size_t)nlate, sizeof(char *));
        for (int i = 0; ls && i < nlate; i++)
            ls[i] = "4.4.7";
        if (ld != NULL && ls != NULL &&
            mt_out_dsn(w, j, msg, len, late, nlate, "delayed", ls, ld,
                       mta[0] ? mta : NULL) == XC_OK) {
            for (int i = 0; i < nlate; i++)
                mt_sd_defer(w, j->queue, j->r[late[i]].idx, ld[i], 1);
        } else {
            for (int i = 0; i < nlate; i++)
                mt_sd_defer(w, j->queue, j->r[late[i]].idx, why, 0);
        }
        free(ld);
        free(ls);
    }
    if (nsent > 0) {
        const char **ss = calloc((size_t)nsent, sizeof(char *));
        const char **sd = calloc((size_t)nsent, sizeof(char *));
        for (int i = 0; ss && sd && i < nsent; i++) {
            ss[i] = "2.0.0";
            sd[i] = o[sent[i]].text;
        }
        if (ss && sd)
            (void)mt_out_dsn(w, j, msg, len, sent, nsent, "relayed", ss, sd,
                             mta[0] ? mta : NULL);
        free(ss);
        free(sd);
    }
out:
    free(sent);
    free(fail);
    free(late);
    free(fdiag);
}

static void deliver(mt_sd *w, mt_out_job *j)
{
    route rt[MAX_MX];
    outcome *o = calloc((size_t)j->n, sizeof(outcome));
    xc_wbuf msg;
    xc_reply r;
    xc_callbacks cb = { NULL, mt_sd_keep_chunk, NULL };
    char why[512] = "", mta[256] = "";
    int nrt, permanent = 0, done = 0, dsn = 0;
    xc_wbuf *b;

    xc_wbuf_init(&msg, 0);
    cb.ctx = &msg;
    if (o == NULL || mt_sd_connected(w) < 0)
        goto out;
    b = xc_client_begin(w->c, XW_OP_QUEUE_READ);
    xc_put_i8(b, XW_TAG_QUEUE_ID, j->queue);
    if (mt_sd_call(w, &cb, &r) != XC_OK || msg.err)
        goto out;               /* gone meanwhile, or storaged is away */
    nrt = routes(j, rt, MAX_MX, why, sizeof(why), &permanent);
    for (int i = 0; i < nrt && !done; i++) {
        for (int k = 0; k < rt[i].naddr && !done; k++) {
            for (int tls = 1; tls >= 0 && !done; tls--) {
                cli c;
                int res;
                if (cli_connect(&c, &rt[i].addr[k]) < 0) {
                    snprintf(why, sizeof(why), "cannot connect to %.255s",
                             rt[i].host);
                    break;
                }
                res = session(&c, j, msg.p, msg.len, o, why, sizeof(why),
                              tls, &dsn);
                cli_close(&c);
                if (res == 1) {
                    done = 1;
                    snprintf(mta, sizeof(mta), "%.255s", rt[i].host);
                } else if (res == 0) {
                    break;      /* next address */
                }
                /* -1: STARTTLS failed, again in the clear */
            }
        }
    }
    if (!done)
        for (int i = 0; i < j->n; i++)
            o[i].code = 0;
    settle(w, j, msg.p, msg.len, o, why[0] ? why : "no mail exchanger "
           "answered", mta, permanent && !done, dsn);
out:
    xc_wbuf_free(&msg);
    free(o);
}

static void *out_main(void *arg)
{
    mt_sd w;
    int me = (int)(intptr_t)arg;

    memset(&w, 0, sizeof(w));
    pthread_mutex_lock(&olock);
    for (;;) {
        mt_out_job *j;

        while (ohead == NULL && !ostopping)
            pthread_cond_wait(&ocond, &olock);
        if (ohead == NULL)
            break;
        j = ohead;
        if ((ohead = j->next) == NULL)
            otail = NULL;
        running++;
        active[me] = j;
        pthread_mutex_unlock(&olock);
        deliver(&w, j);
        pthread_mutex_lock(&olock);
        active[me] = NULL;
        running--;
        free(j->r);
        free(j);
    }
    pthread_mutex_unlock(&olock);
    xc_client_destroy(&w.c);
    return NULL;
}

void mt_out_submit(mt_out_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&olock);
    if (otail != NULL)
        otail->next = j;
    else
        ohead = j;
    otail = j;
    pthread_cond_signal(&ocond);
    pthread_mutex_unlock(&olock);
}

static int holds(const mt_out_job *j, int64_t queue, int idx)
{
    if (j == NULL || j->queue != queue)
        return 0;
    for (int i = 0; i < j->n; i++)
        if (j->r[i].idx == idx)
            return 1;
    return 0;
}

int mt_out_in_flight(int64_t queue, int idx)
{
    int found = 0;

    pthread_mutex_lock(&olock);
    for (mt_out_job *j = ohead; j != NULL && !found; j = j->next)
        found = holds(j, queue, idx);
    for (int i = 0; i < nthreads && !found; i++)
        found = holds(active[i], queue, idx);
    pthread_mutex_unlock(&olock);
    return found;
}

int mt_out_busy(void)
{
    int n;

    pthread_mutex_lock(&olock);
    n = running + (ohead != NULL);
    pthread_mutex_unlock(&olock);
    return n;
}

int mt_out_start(void)
{
    nthreads = mt_config->outbound_workers;
    if ((threads = calloc((size_t)nthreads, sizeof(*threads))) == NULL ||
        (active = calloc((size_t)nthreads, sizeof(*active))) == NULL)
        return -1;
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&threads[i], NULL, out_main,
                           (void *)(intptr_t)i) != 0)
            return -1;
    return 0;
}

void mt_out_stop(void)
{
    pthread_mutex_lock(&olock);
    ostopping = 1;
    pthread_cond_broadcast(&ocond);
    pthread_mutex_unlock(&olock);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(active);
    while (ohead != NULL) {
        mt_out_job *j = ohead;
        ohead = j->next;
        free(j->r);
        free(j);
    }
}
