/*
 * NAME
 *   smtp_server - mtad's SMTP server: mail from the Internet and from SMTP
 *   clients into the queue ([MS-OXPROTO] 2.1.2, use cases 2.4.7/2.4.8)
 *
 * DESCRIPTION
 *   RFC 5321 with PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC
 *   6152), ENHANCEDSTATUSCODES (RFC 2034, codes of RFC 3463), STARTTLS
 *   (RFC 3207), SMTPUTF8 (RFC 6531), CHUNKING/BDAT (RFC 3030) and DSN
 *   (RFC 3461: the parameters are kept with each recipient in the queue).
 *
 *   Each connection is a state machine driven by the event loop: bytes
 *   are read into a buffer and taken a command (lib/xc_smtp parses it) or
 *   a piece of message at a time. A command that needs storaged (RCPT:
 *   is the mailbox ours, does it have room; the end of DATA: commit to
 *   the queue) becomes a job for mt_store, and the connection reads no
 *   further commands until its answer came back, so pipelined commands
 *   are answered in order. The 250 after DATA is sent only when the
 *   message's queue transaction committed.
 *
 *   Limits: connections in all and per client address, recipients per
 *   message, message size (SIZE and the bytes themselves: 552 5.3.4),
 *   header size, line length (commands: 500 5.5.2; message lines:
 *   max_line), bad commands per connection, and a timeout for commands
 *   and for message data (421 4.4.2).
 *
 * SECURITY
 *   Only mail for mailboxes of ours is accepted from clients that have not
 *   authenticated (550 5.7.1 otherwise: no open relay). Bytes a client
 *   pipelined behind STARTTLS are dropped (RFC 3207 4.2). Client text
 *   reaches the log escaped only.
 */
#include "mt.h"
#include "xc_text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <idn2.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define CMD_BUFFER (64 * 1024)  /* pipelined commands buffered at most */

enum { S_CMD, S_DATA, S_BDAT };
enum { A_NONE, A_PLAIN, A_LOGIN_USER, A_LOGIN_PASS };

typedef struct smtp_conn {
    int fd;
    mt_watch *w;
    SSL *ssl;
    int tls_next;               /* STARTTLS answered: TLS once it's sent */
    int ssl_wants_write;
    char ip[INET6_ADDRSTRLEN];
    char helo[256];             /* as given, for Received (sanitized) */
    int greeted, esmtp;
    int state;
    int busy;                   /* a job for storaged is out */
    int closing;                /* close once the output is sent */
    int gone;                   /* the peer is gone; free when not busy */
    int skip_line;              /* discarding an over-long command */
    int submission;             /* came in on the submission port */
    int64_t auth_user;          /* authenticated as (user id), or 0 */
    char auth_name[XC_SMTP_PATH_MAX + 1];   /* its primary address */
    int auth_state;             /* AUTH exchange under way (A_*) */
    char auth_login[XC_SMTP_PATH_MAX + 1];  /* LOGIN: the user given */
    int auth_fails;
    time_t wake_at;             /* a reply held back (failed AUTH) */
    char held[128];
    int errors;
    time_t last;
    xc_wbuf in, out;
    /* the transaction */
    int have_from;
    char from[XC_SMTP_PATH_MAX + 1];
    int64_t size_decl;
    int utf8;
    char ret[8], envid[128];
    mt_rcpt *rcpts;
    int nrcpts;
    xc_smtp_data data;
    xc_wbuf msg;
    uint64_t bdat_left;
    int bdat_last, bdat_bad, bdat_on;
    char id[24];
    struct smtp_conn *prev, *next;
} smtp_conn;

static smtp_conn *conns;
static int nconns;

typedef struct listener {
    int fd;
    int submission;
    mt_watch *w;
} listener;
static listener listeners[2];
static int nlisteners;

static void process(smtp_conn *c);
static void flush(smtp_conn *c);
static void resume(smtp_conn *c);

/* ---- replies ----------------------------------------------------------- */

static void reply(smtp_conn *c, const char *text)
{
    xc_put_bytes(&c->out, text, strlen(text));
    xc_put_bytes(&c->out, "\r\n", 2);
}

static void replyf(smtp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void replyf(smtp_conn *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    reply(c, line);
}

/* ---- the transaction --------------------------------------------------- */

static void reset_tx(smtp_conn *c)
{
    c->have_from = 0;
    c->from[0] = '\0';
    c->size_decl = 0;
    c->utf8 = 0;
    c->ret[0] = c->envid[0] = '\0';
    free(c->rcpts);
    c->rcpts = NULL;
    c->nrcpts = 0;
    xc_wbuf_free(&c->msg);
    xc_wbuf_init(&c->msg, 0);
    c->bdat_on = c->bdat_bad = c->bdat_last = 0;
    c->bdat_left = 0;
    c->id[0] = '\0';
    if (c->state != S_BDAT)
        c->state = S_CMD;
}

static void new_id(char id[24])
{
    unsigned char r[8];

    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r));
    for (int i = 0; i < 8; i++)
        snprintf(id + 2 * i, 3, "%02X", r[i]);
}

/* The trace field of RFC 5321 4.4, first in the message we queue. */
static void received(smtp_conn *c)
{
    char date[64], proto[16];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    /* RFC 3848 and RFC 6531 4.3 */
    snprintf(proto, sizeof(proto), "%s%s%s", c->utf8 ? "UTF8SMTP"
             : c->esmtp ? "ESMTP" : "SMTP", c->ssl ? "S" : "",
             c->auth_user ? "A" : "");
    new_id(c->id);
    xc_wbuf_reset(&c->msg);
    /* Return-Path (RFC 5321 4.4) belongs to the final delivery; it is
       queued with the message so that the queued bytes and every local
       copy are one stored value, and mt_out takes it off for relaying */
    xc_put_bytes(&c->msg, "Return-Path: <", 14);
    xc_put_bytes(&c->msg, c->from, strlen(c->from));
    xc_put_bytes(&c->msg, ">\r\n", 3);
    {
        char head[1200];
        int n = snprintf(head, sizeof(head),
                         "Received: from %s ([%s])\r\n\tby %s (mtad) with %s "
                         "id %s%s%s%s;\r\n\t%s\r\n",
                         c->helo[0] ? c->helo : "unknown", c->ip,
                         mt_config->hostname, proto, c->id,
                         c->nrcpts == 1 ? "\r\n\tfor <" : "",
                         c->nrcpts == 1 ? c->rcpts[0].addr : "",
                         c->nrcpts == 1 ? ">" : "", date);
        if (n > 0)
            xc_put_bytes(&c->msg, head, (size_t)n < sizeof(head)
                                        ? (size_t)n : sizeof(head) - 1);
    }
}

/* ---- finishing a message ----------------------------------------------- */

static void accept_done(mt_job *j)
{
    smtp_conn *c = j->ctx;
    char safe[600];

    c->busy = 0;
    xc_log_escape(safe, sizeof(safe), j->sender, strlen(j->sender));
    if (j->st == XC_OK) {
        mt_log_info(44, "accepted id=%s queue=%lld from=<%s> rcpts=%d "
                    "size=%zu client=%s", j->id, (long long)j->queue_id, safe,
                    j->nrcpts, j->mime.len, c->ip);
        replyf(c, "250 2.0.0 Ok: queued as %s", j->id);
    } else {
        mt_log_warn(45, "not accepted id=%s from=<%s> client=%s: %s %s",
                    j->id, safe, c->ip, xc_status_name(j->st), j->msg);
        if (j->st == XC_E_LIMIT)
            reply(c, "552 5.3.4 Message size exceeds fixed maximum message "
                  "size");
        else
            reply(c, "451 4.3.0 Temporary failure, please try again later");
    }
    mt_job_free(j);
    resume(c);
}

/* The message is complete (end of DATA, or BDAT LAST). */
static void message_end(smtp_conn *c)
{
    mt_job *j;
    int over = c->data.over;

    c->state = S_CMD;
    if (over) {
        reply(c, over == XC_SMTP_OVER_SIZE
                     ? "552 5.3.4 Message size exceeds fixed maximum "
                       "message size"
                 : over == XC_SMTP_OVER_HEADER
                     ? "552 5.3.4 Message header exceeds the limit"
                     : "552 5.3.4 A line of the message is too long");
        reset_tx(c);
        return;
    }
    if ((j = calloc(1, sizeof(*j))) == NULL) {
        reply(c, "451 4.3.0 Out of memory");
        reset_tx(c);
        return;
    }
    j->kind = MT_JOB_ACCEPT;
    snprintf(j->sender, sizeof(j->sender), "%s", c->from);
    j->rcpts = c->rcpts;
    j->nrcpts = c->nrcpts;
    c->rcpts = NULL;
    c->nrcpts = 0;
    snprintf(j->client, sizeof(j->client), "%.255s [%.45s]", c->helo, c->ip);
    snprintf(j->envid, sizeof(j->envid), "%s", c->envid);
    snprintf(j->ret, sizeof(j->ret), "%s", c->ret);
    snprintf(j->id, sizeof(j->id), "%s", c->id);
    j->user_id = c->auth_user;
    snprintf(j->user, sizeof(j->user), "%s", c->auth_name);
    j->mime = c->msg;
    xc_wbuf_init(&c->msg, 0);
    j->done = accept_done;
    j->ctx = c;
    reset_tx(c);
    c->busy = 1;
    mt_store_submit(j);
}

/* ---- commands ---------------------------------------------------------- */

static int need_helo(smtp_conn *c)
{
    if (c->greeted)
        return 0;
    reply(c, "503 5.5.1 Error: send HELO/EHLO first");
    return -1;
}

/* AUTH only over TLS, unless configured otherwise ([MS-XLOGIN], RFC 4954
   4: no plaintext passwords on an unprotected connection). */
static int auth_offered(const smtp_conn *c)
{
    return c->ssl != NULL || mt_config->auth_without_tls;
}

static void cmd_ehlo(smtp_conn *c, const xc_smtp_cmd *cmd)
{
    size_t n = cmd->arg_len;

    if (n == 0) {
        reply(c, "501 5.5.4 Syntax: EHLO hostname");
        return;
    }
    /* keep what can be shown in a Received field */
    if (n >= sizeof(c->helo))
        n = sizeof(c->helo) - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = cmd->arg[i];
        c->helo[i] = (ch > 0x20 && ch < 0x7F && ch != '(' && ch != ')' &&
                      ch != '\\' && ch != ';') ? ch : '_';
    }
    c->helo[n] = '\0';
    reset_tx(c);
    c->greeted = 1;
    c->esmtp = cmd->verb == XC_SMTP_EHLO;
    if (!c->esmtp) {
        replyf(c, "250 %s", mt_config->hostname);
        return;
    }
    replyf(c, "250-%s Hello [%s]", mt_config->hostname, c->ip);
    reply(c, "250-PIPELINING");
    replyf(c, "250-SIZE %zu", mt_config->max_message_size);
    reply(c, "250-8BITMIME");
    reply(c, "250-ENHANCEDSTATUSCODES");
    if (mt_tls != NULL && c->ssl == NULL)
        reply(c, "250-STARTTLS");
    if (auth_offered(c))
        reply(c, "250-AUTH PLAIN LOGIN");
    reply(c, "250-SMTPUTF8");
    reply(c, "250-CHUNKING");
    reply(c, "250 DSN");
}

static void resume(smtp_conn *c)
{
    if (c->gone) {
        flush(c);
        return;
    }
    process(c);
    flush(c);
}

static void sender_done(mt_job *j)
{
    smtp_conn *c = j->ctx;
    char safe[600];

    c->busy = 0;
    xc_log_escape(safe, sizeof(safe), j->addr, strlen(j->addr));
    if (j->st == XC_OK && j->user_id == c->auth_user) {
        c->have_from = 1;
        reply(c, "250 2.1.0 Ok");
    } else if (j->st == XC_E_NOQUOTA) {
        reply(c, "554 5.2.2 Send quota exceeded");
    } else if (j->st == XC_OK || j->st == XC_E_NOTFOUND) {
        mt_log_warn(61, "sender not owned: from=<%s> user=%s client=%s", safe,
                    c->auth_name, c->ip);
        reply(c, "553 5.7.1 Sender address rejected: not owned by user");
    } else {
        reply(c, "451 4.3.0 Temporary failure, please try again later");
    }
    mt_job_free(j);
    resume(c);
}

static void cmd_mail(smtp_conn *c, const xc_smtp_cmd *cmd)
{
    xc_smtp_addr a;
    xc_smtp_param p[XC_SMTP_PARAMS_MAX];
    size_t np = 0;
    const char *err = NULL;
    int rc, utf8 = 0;

    if (need_helo(c) < 0)
        return;
    if (c->have_from) {
        reply(c, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    if (c->submission && !c->auth_user) {
        reply(c, "530 5.7.0 Authentication required");
        return;
    }
    if (mt_store_full() != NULL) {
        /* RFC 3463 4.3.1: try again later, the mail stays with the client */
        replyf(c, "452 4.3.1 Insufficient system storage (%s)",
               mt_store_full());
        return;
    }
    rc = xc_smtp_path(cmd->arg, cmd->arg_len,
                      XC_SMTP_ALLOW_NULL | (c->esmtp ? XC_SMTP_UTF8 : 0), &a,
                      p, XC_SMTP_PARAMS_MAX, &np, &err);
    if (rc != XC_SMTP_OK) {
        replyf(c, "%s %s", rc == XC_SMTP_EPATH ? "501 5.1.7" : "501 5.5.4",
               err ? err : "Syntax error");
        return;
    }
    if (np > 0 && !c->esmtp) {
        reply(c, "555 5.5.4 MAIL parameters need EHLO");
        return;
    }
    c->size_decl = 0;
    c->ret[0] = c->envid[0] = '\0';
    for (size_t i = 0; i < np; i++) {
        if (xc_smtp_param_is(&p[i], "SIZE") && p[i].value != NULL) {
            char num[24];
            char *end;
            unsigned long long v;
            if (p[i].value_len == 0 || p[i].value_len >= sizeof(num)) {
                reply(c, "501 5.5.4 Bad SIZE");
                return;
            }
            memcpy(num, p[i].value, p[i].value_len);
            num[p[i].value_len] = '\0';
            errno = 0;
            v = strtoull(num, &end, 10);
            if (errno || *end || num[0] < '0' || num[0] > '9') {
                reply(c, "501 5.5.4 Bad SIZE");
                return;
            }
            if (v > mt_config->max_message_size) {
                reply(c, "552 5.3.4 Message size exceeds fixed maximum "
                      "message size");
                return;
            }
            c->size_decl = (int64_t)v;
        } else if (xc_smtp_param_is(&p[i], "BODY") && p[i].value != NULL &&
                   ((p[i].value_len == 4 &&
                     !strncasecmp(p[i].value, "7BIT", 4)) ||
                    (p[i].value_len == 8 &&
                     !strncasecmp(p[i].value, "8BITMIME", 8)))) {
            /* 8-bit bytes are stored as they come */
        } else if (xc_smtp_param_is(&p[i], "SMTPUTF8") && p[i].value == NULL) {
            utf8 = 1;
        } else if (xc_smtp_param_is(&p[i], "RET") && p[i].value != NULL &&
                   p[i].value_len == 4 &&
                   (!strncasecmp(p[i].value, "FULL", 4) ||
                    !strncasecmp(p[i].value, "HDRS", 4))) {
            for (int k = 0; k < 4; k++)
                c->ret[k] = (char)(p[i].value[k] & ~0x20);
            c->ret[4] = '\0';
        } else if (xc_smtp_param_is(&p[i], "ENVID") && p[i].value != NULL &&
                   xc_smtp_xtext_decode(p[i].value, p[i].value_len, c->envid,
                                        sizeof(c->envid)) == 0) {
            /* RFC 3461 4.4: kept for the DSNs of this message */
        } else if (xc_smtp_param_is(&p[i], "AUTH")) {
            /* RFC 4954 5: meaningful only from a trusted client */
        } else {
            reply(c, "555 5.5.4 Unsupported MAIL parameter");
            return;
        }
    }
    if (a.utf8 && !utf8) {
        reply(c, "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter");
        return;
    }
    c->utf8 = utf8;
    snprintf(c->from, sizeof(c->from), "%s", a.null ? "" : a.text);
    if (c->auth_user && !a.null) {
        /* RFC 6409 4.1: a submitting user sends as itself only */
        mt_job *j = calloc(1, sizeof(*j));
        if (j == NULL) {
            reply(c, "451 4.3.0 Out of memory");
            return;
        }
        j->kind = MT_JOB_SENDER;
        snprintf(j->addr, sizeof(j->addr), "%s", a.text);
        j->done = sender_done;
        j->ctx = c;
        c->busy = 1;
        mt_store_submit(j);
        return;
    }
    c->have_from = 1;
    reply(c, "250 2.1.0 Ok");
}

static void rcpt_done(mt_job *j)
{
    smtp_conn *c = j->ctx;
    char safe[600];

    c->busy = 0;
    xc_log_escape(safe, sizeof(safe), j->addr, strlen(j->addr));
    if (j->st == XC_OK && (j->local || c->auth_user)) {
        mt_rcpt *r = realloc(c->rcpts, sizeof(*r) * (size_t)(c->nrcpts + 1));
        if (r == NULL) {
            reply(c, "452 4.3.0 Out of memory");
        } else {
            c->rcpts = r;
            r += c->nrcpts++;
            *r = *j->rcpts;
            r->local = j->local;
            reply(c, "250 2.1.5 Ok");
        }
    } else if (j->st == XC_OK) {
        mt_log_info(46, "relay denied to=<%s> client=%s", safe, c->ip);
        reply(c, "550 5.7.1 Relay access denied");
    } else if (j->st == XC_E_NOTFOUND) {
        reply(c, "550 5.1.1 Recipient address rejected: no such mailbox "
              "here");
    } else if (j->st == XC_E_NOQUOTA) {
        reply(c, "452 4.2.2 Mailbox full, try again later");
    } else if (j->st == XC_E_LIMIT) {
        reply(c, "552 5.3.4 Message size exceeds fixed maximum message "
              "size");
    } else {
        mt_log_warn(47, "recipient check failed to=<%s>: %s %s", safe,
                    xc_status_name(j->st), j->msg);
        reply(c, "451 4.3.0 Temporary failure, please try again later");
    }
    mt_job_free(j);
    resume(c);
}

static int valid_notify(const char *v, size_t n)
{
    /* NEVER, or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1) */
    if (n == 5 && !strncasecmp(v, "NEVER", 5))
        return 1;
    while (n > 0) {
        size_t k = 0;
        while (k < n && v[k] != ',')
            k++;
        if (!((k == 7 && (!strncasecmp(v, "SUCCESS", 7) ||
                          !strncasecmp(v, "FAILURE", 7))) ||
              (k == 5 && !strncasecmp(v, "DELAY", 5))))
            return 0;
        if (k == n)
            return 1;
        v += k + 1;
        n -= k + 1;
        if (n == 0)
            return 0;
    }
    return 0;
}

static void cmd_rcpt(smtp_conn *c, const xc_smtp_cmd *cmd)
{
    xc_smtp_addr a;
    xc_smtp_param p[XC_SMTP_PARAMS_MAX];
    size_t np = 0;
    const char *err = NULL;
    mt_rcpt r;
    mt_job *j;
    int rc;

    if (need_helo(c) < 0)
        return;
    if (!c->have_from) {
        reply(c, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (c->nrcpts >= mt_config->max_rcpts) {
        reply(c, "452 4.5.3 Error: too many recipients");
        return;
    }
    rc = xc_smtp_path(cmd->arg, cmd->arg_len,
                      XC_SMTP_ALLOW_POSTMASTER |
                      (c->utf8 ? XC_SMTP_UTF8 : 0), &a, p,
                      XC_SMTP_PARAMS_MAX, &np, &err);
    if (rc != XC_SMTP_OK) {
        replyf(c, "%s %s", rc == XC_SMTP_EPATH ? "501 5.1.3" : "501 5.5.4",
               err ? err : "Syntax error");
        return;
    }
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < np; i++) {
        if (xc_smtp_param_is(&p[i], "NOTIFY") && p[i].value != NULL &&
            p[i].value_len < sizeof(r.notify) &&
            valid_notify(p[i].value, p[i].value_len)) {
            memcpy(r.notify, p[i].value, p[i].value_len);
        } else if (xc_smtp_param_is(&p[i], "ORCPT") && p[i].value != NULL &&
                   p[i].value_len < sizeof(r.orcpt) &&
                   memchr(p[i].value, ';', p[i].value_len) != NULL) {
            memcpy(r.orcpt, p[i].value, p[i].value_len);
        } else {
            reply(c, "555 5.5.4 Unsupported RCPT parameter");
            return;
        }
    }
    if (a.utf8 && a.domain[0] != '[') {
        /* an internationalized domain (RFC 6531) is looked up, routed and
           queued as its A-labels (IDNA2008, libidn2) */
        char *ace = NULL;
        int rc2 = idn2_to_ascii_8z(a.domain, &ace, IDN2_NONTRANSITIONAL);
        if (rc2 != IDN2_OK || strlen(ace) >= sizeof(a.domain)) {
            free(ace);
            reply(c, "553 5.1.3 The domain is not a valid IDN");
            return;
        }
        memcpy(a.domain, ace, strlen(ace) + 1);
        free(ace);
        {
            const char *at = strrchr(a.text, '@');
            size_t ll = at ? (size_t)(at - a.text) : 0;
            char t[sizeof(a.text)];
            if (at == NULL || ll + 1 + strlen(a.domain) >= sizeof(t)) {
                reply(c, "553 5.1.3 Address too long");
                return;
            }
            memcpy(t, a.text, ll);
            t[ll] = '@';
            memcpy(t + ll + 1, a.domain, strlen(a.domain) + 1);
            memcpy(a.text, t, sizeof(t));
        }
    }
    if (a.domain[0] == '\0') {
        /* RCPT TO:<Postmaster> (RFC 5321 4.1.1.3): ours */
        const char *dot = strchr(mt_config->hostname, '.');
        snprintf(r.addr, sizeof(r.addr), "postmaster@%.240s",
                 dot ? dot + 1 : mt_config->hostname);
    } else {
        snprintf(r.addr, sizeof(r.addr), "%s", a.text);
    }
    for (int i = 0; i < c->nrcpts; i++)
        if (strcasecmp(c->rcpts[i].addr, r.addr) == 0) {
            reply(c, "250 2.1.5 Ok");   /* once is enough */
            return;
        }
    if (a.domain[0] == '[' && !c->auth_user) {
        reply(c, "550 5.7.1 Relay access denied");
        return;
    }
    if ((j = calloc(1, sizeof(*j))) == NULL ||
        (j->rcpts = malloc(sizeof(r))) == NULL) {
        free(j);
        reply(c, "451 4.3.0 Out of memory");
        return;
    }
    j->kind = MT_JOB_RCPT;
    *j->rcpts = r;
    j->nrcpts = 1;
    snprintf(j->addr, sizeof(j->addr), "%s", r.addr);
    j->size = c->size_decl;
    j->done = rcpt_done;
    j->ctx = c;
    c->busy = 1;
    mt_store_submit(j);
}

static void start_message(smtp_conn *c)
{
    received(c);
    xc_smtp_data_init(&c->data, mt_config->max_message_size,
                      mt_config->max_header_size, mt_config->max_line);
}

static void cmd_data(smtp_conn *c, const xc_smtp_cmd *cmd)
{
    if (need_helo(c) < 0)
        return;
    if (cmd->arg_len > 0) {
        reply(c, "501 5.5.4 Syntax: DATA");
        return;
    }
    if (c->bdat_on) {
        reply(c, "503 5.5.1 Error: DATA after BDAT");
        return;
    }
    if (!c->have_from) {
        reply(c, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (c->nrcpts == 0) {
        reply(c, "554 5.5.1 Error: no valid recipients");
        return;
    }
    start_message(c);
    c->state = S_DATA;
    reply(c, "354 End data with <CR><LF>.<CR><LF>");
}

static void cmd_bdat(smtp_conn *c, const xc_smtp_cmd *cmd)
{
    char arg[64], *end, *last;
    unsigned long long n;

    if (cmd->arg_len == 0 || cmd->arg_len >= sizeof(arg)) {
        reply(c, "501 5.5.4 Syntax: BDAT size [LAST]");
        c->closing = 1;         /* the chunk's length is unknown */
        return;
    }
    memcpy(arg, cmd->arg, cmd->arg_len);
    arg[cmd->arg_len] = '\0';
    errno = 0;
    n = strtoull(arg, &end, 10);
    last = end;
    while (*last == ' ')
        last++;
    if (errno || end == arg || arg[0] < '0' || arg[0] > '9' ||
        (*last && strcasecmp(last, "LAST") != 0)) {
        reply(c, "501 5.5.4 Syntax: BDAT size [LAST]");
        c->closing = 1;
        return;
    }
    /* the chunk is read whatever we answer (RFC 3030 2) */
    c->state = S_BDAT;
    c->bdat_left = n;
    c->bdat_last = *last != '\0';
    if (!c->greeted || !c->have_from || c->nrcpts == 0) {
        c->bdat_bad = 1;
        return;
    }
    if (!c->bdat_on) {
        c->bdat_on = 1;
        c->bdat_bad = 0;
        start_message(c);
    }
}

/* A BDAT chunk was read. */
static void bdat_end(smtp_conn *c)
{
    c->state = S_CMD;
    if (c->bdat_bad || !c->bdat_on) {
        reply(c, !c->greeted ? "503 5.5.1 Error: send HELO/EHLO first"
                 : !c->have_from ? "503 5.5.1 Error: need MAIL command"
                 : "554 5.5.1 Error: no valid recipients");
        c->bdat_bad = 0;
        return;
    }
    if (c->bdat_last) {
        c->bdat_on = 0;
        /* a CR held back at the end of the last chunk is data */
        if (xc_smtp_data_raw(&c->data, NULL, 0, &c->msg) < 0) {
            reply(c, "451 4.3.0 Out of memory");
            reset_tx(c);
            return;
        }
        message_end(c);
        return;
    }
    replyf(c, "250 2.0.0 %zu octets received", c->data.size);
}

static void cmd_starttls(smtp_conn *c, const xc_smtp_cmd *cmd)
{
    if (cmd->arg_len > 0) {
        reply(c, "501 5.5.4 Syntax: STARTTLS");
        return;
    }
    if (mt_tls == NULL || c->ssl != NULL) {
        reply(c, "502 5.5.1 Error: command not implemented");
        return;
    }
    reply(c, "220 2.0.0 Ready to start TLS");
    c->tls_next = 1;
}


/* ---- AUTH ([MS-XLOGIN]; RFC 4954, PLAIN RFC 4616) ----------------------- */

static void auth_done(mt_job *j)
{
    smtp_conn *c = j->ctx;
    char safe[700];

    xc_log_escape(safe, sizeof(safe), j->addr, strlen(j->addr));
    if (j->st == XC_OK && j->user_id > 0) {
        c->busy = 0;
        c->auth_user = j->user_id;
        snprintf(c->auth_name, sizeof(c->auth_name), "%s", j->user);
        mt_log_info(62, "authenticated user=%s client=%s", safe, c->ip);
        reply(c, "235 2.7.0 Authentication successful");
    } else if (j->st == XC_E_AUTH) {
        /* one line per failure, for fail2ban; the answer waits 2, 4, 8 s
           (capped at auth_delay_max) */
        int delay = 1 << (c->auth_fails < 5 ? c->auth_fails + 1 : 6);
        if (delay > mt_config->auth_delay_max)
            delay = mt_config->auth_delay_max;
        c->auth_fails++;
        c->errors++;
        mt_log_warn(63, "authentication failed: client=%s user=%s", c->ip,
                    safe);
        snprintf(c->held, sizeof(c->held), "%s",
                 "535 5.7.8 Authentication credentials invalid");
        c->wake_at = mt_now() + delay;    /* still busy until then */
        if (delay == 0) {
            c->wake_at = 0;
            c->busy = 0;
            reply(c, c->held);
        }
    } else {
        c->busy = 0;
        reply(c, j->st == XC_E_RATELIMIT
                     ? "454 4.7.0 Too many failed logins, try again later"
                     : "454 4.7.0 Temporary authentication failure");
    }
    mt_job_free(j);
    if (c->wake_at == 0)
        resume(c);
    else if (c->gone)
        flush(c);
}

static void auth_submit(smtp_conn *c, const char *user, const char *pw)
{
    mt_job *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        reply(c, "454 4.3.0 Out of memory");
        return;
    }
    j->kind = MT_JOB_AUTH;
    snprintf(j->addr, sizeof(j->addr), "%s", user);
    snprintf(j->password, sizeof(j->password), "%s", pw);
    snprintf(j->client, sizeof(j->client), "%s", c->ip);
    j->done = auth_done;
    j->ctx = c;
    c->busy = 1;
    mt_store_submit(j);
}

/* RFC 4616 PLAIN; an authorization identity other than the user is not
   allowed (no acting for others) */
static void auth_plain(smtp_conn *c, const char *b64, size_t n)
{
    char buf[2048];
    const char *authz, *user, *pw;

    if (xc_smtp_sasl_plain(b64, n, buf, sizeof(buf), &authz, &user,
                           &pw) < 0) {
        OPENSSL_cleanse(buf, sizeof(buf));
        reply(c, "501 5.5.2 Malformed PLAIN response");
        return;
    }
    if (authz[0] && strcmp(authz, user) != 0)
        reply(c, "535 5.7.8 Authorization identity not allowed");
    else
        auth_submit(c, user, pw);
    OPENSSL_cleanse(buf, sizeof(buf));
}

/* A line of an AUTH exchange: "*" cancels (RFC 4954 4). */
static void auth_line(smtp_conn *c, const char *line, size_t len)
{
    int state = c->auth_state;
    char buf[1100];
    size_t n;

    c->auth_state = A_NONE;
    if (len == 1 && line[0] == '*') {
        reply(c, "501 5.0.0 Authentication cancelled");
        return;
    }
    if (state == A_PLAIN) {
        auth_plain(c, line, len);
        return;
    }
    if (xc_smtp_b64_decode(line, len, buf, sizeof(buf), &n) < 0 ||
        memchr(buf, '\0', n) != NULL) {
        OPENSSL_cleanse(buf, sizeof(buf));
        reply(c, "501 5.5.2 Cannot decode the response");
        return;
    }
    if (state == A_LOGIN_USER) {
        if (n >= sizeof(c->auth_login)) {
            reply(c, "501 5.5.2 User name too long");
            return;
        }
        memcpy(c->auth_login, buf, n + 1);
        c->auth_state = A_LOGIN_PASS;
        reply(c, "334 UGFzc3dvcmQ6");      /* "Password:" */
        return;
    }
    auth_submit(c, c->auth_login, buf);
    OPENSSL_cleanse(buf, sizeof(buf));
}

static void cmd_auth(smtp_conn *c, const xc_smtp_cmd *cmd)
{
    const char *sp = memchr(cmd->arg, ' ', cmd->arg_len);
    size_t mlen = sp ? (size_t)(sp - cmd->arg) : cmd->arg_len;
    const char *init = sp ? sp + 1 : NULL;
    size_t ilen = sp ? cmd->arg_len - mlen - 1 : 0;

    if (need_helo(c) < 0)
        return;
    if (!auth_offered(c)) {
        reply(c, "530 5.7.0 Must issue a STARTTLS command first");
        return;
    }
    if (c->auth_user) {
        reply(c, "503 5.5.1 Error: already authenticated");
        return;
    }
    if (c->have_from) {
        reply(c, "503 5.5.1 Error: AUTH not allowed in a transaction");
        return;
    }
    if (mlen == 5 && !strncasecmp(cmd->arg, "PLAIN", 5)) {
        if (init == NULL) {
            c->auth_state = A_PLAIN;
            reply(c, "334 ");
        } else if (ilen == 1 && init[0] == '=') {
            reply(c, "501 5.5.2 Empty PLAIN response");
        } else {
            auth_plain(c, init, ilen);
        }
    } else if (mlen == 5 && !strncasecmp(cmd->arg, "LOGIN", 5)) {
        if (init == NULL) {
            c->auth_state = A_LOGIN_USER;
            reply(c, "334 VXNlcm5hbWU6");  /* "Username:" */
        } else {
            c->auth_state = A_LOGIN_USER;
            auth_line(c, init, ilen);
        }
    } else {
        reply(c, "504 5.5.4 Unrecognized authentication type");
    }
}

static void command(smtp_conn *c, const char *line, size_t len)
{
    xc_smtp_cmd cmd;
    const char *err = NULL;

    if (xc_smtp_command(line, len, &cmd, &err) < 0) {
        replyf(c, "500 5.5.2 %s", err ? err : "Syntax error");
        c->errors++;
        return;
    }
    switch (cmd.verb) {
    case XC_SMTP_HELO:
    case XC_SMTP_EHLO: cmd_ehlo(c, &cmd); break;
    case XC_SMTP_MAIL: cmd_mail(c, &cmd); break;
    case XC_SMTP_RCPT: cmd_rcpt(c, &cmd); break;
    case XC_SMTP_DATA: cmd_data(c, &cmd); break;
    case XC_SMTP_BDAT: cmd_bdat(c, &cmd); break;
    case XC_SMTP_RSET:
        reset_tx(c);
        reply(c, "250 2.0.0 Ok");
        break;
    case XC_SMTP_NOOP: reply(c, "250 2.0.0 Ok"); break;
    case XC_SMTP_QUIT:
        reply(c, "221 2.0.0 Bye");
        c->closing = 1;
        break;
    case XC_SMTP_VRFY:
        reply(c, "252 2.0.0 Cannot VRFY user, but will accept the message");
        break;
    case XC_SMTP_EXPN: reply(c, "502 5.5.1 Error: EXPN not available"); break;
    case XC_SMTP_HELP: reply(c, "214 2.0.0 See RFC 5321"); break;
    case XC_SMTP_STARTTLS: cmd_starttls(c, &cmd); break;
    case XC_SMTP_AUTH: cmd_auth(c, &cmd); break;
    default:
        reply(c, "500 5.5.2 Error: command not recognized");
        c->errors++;
        break;
    }
    if (c->errors >= mt_config->max_errors && !c->closing) {
        reply(c, "421 4.7.0 Too many errors, closing connection");
        c->closing = 1;
    }
}

/* ---- input ------------------------------------------------------------- */

static void process(smtp_conn *c)
{
    size_t pos = 0;

    while (!c->busy && !c->closing && !c->tls_next && pos < c->in.len) {
        const uint8_t *p = c->in.p + pos;
        size_t avail = c->in.len - pos;

        if (c->state == S_DATA) {
            size_t used = 0;
            int r = xc_smtp_data_feed(&c->data, p, avail, &c->msg, &used);
            pos += used;
            if (r < 0) {
                reply(c, "451 4.3.0 Out of memory");
                c->closing = 1;
            } else if (r == 1) {
                message_end(c);
            }
            continue;
        }
        if (c->state == S_BDAT) {
            size_t k = avail < c->bdat_left ? avail : (size_t)c->bdat_left;
            if (!c->bdat_bad && c->bdat_on &&
                xc_smtp_data_raw(&c->data, p, k, &c->msg) < 0) {
                reply(c, "451 4.3.0 Out of memory");
                c->closing = 1;
            }
            pos += k;
            c->bdat_left -= k;
            if (c->bdat_left == 0)
                bdat_end(c);
            continue;
        }
        {
            const uint8_t *nl = memchr(p, '\n', avail);
            size_t len;

            if (nl == NULL) {
                if (avail > XC_SMTP_CMD_MAX + 2 && !c->skip_line) {
                    reply(c, "500 5.5.2 Error: line too long");
                    c->errors++;
                    c->skip_line = 1;
                }
                if (c->skip_line)
                    pos = c->in.len;
                break;
            }
            len = (size_t)(nl - p);
            pos += len + 1;
            if (c->skip_line) {
                c->skip_line = 0;
                continue;
            }
            if (len > 0 && p[len - 1] == '\r')
                len--;
            if (c->auth_state != A_NONE)
                auth_line(c, (const char *)p, len);
            else
                command(c, (const char *)p, len);
        }
    }
    if (pos > 0) {
        memmove(c->in.p, c->in.p + pos, c->in.len - pos);
        c->in.len -= pos;
    }
    if (c->tls_next)
        c->in.len = 0;  /* RFC 3207 4.2: nothing pipelined behind STARTTLS */
}

static void conn_free(smtp_conn *c)
{
    mt_loop_del(c->w);
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    nconns--;
    reset_tx(c);
    xc_wbuf_free(&c->in);
    xc_wbuf_free(&c->out);
    xc_wbuf_free(&c->msg);
    free(c);
}

/* Drop the connection now, or when its job came back. */
static void conn_gone(smtp_conn *c)
{
    c->gone = 1;
    if (!c->busy)
        conn_free(c);
}

static ssize_t conn_read(smtp_conn *c, void *buf, size_t n)
{
    if (c->ssl == NULL) {
        ssize_t r = read(c->fd, buf, n);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return -2;
        return r;
    }
    {
        int r = SSL_read(c->ssl, buf, (int)n);
        if (r > 0)
            return r;
        switch (SSL_get_error(c->ssl, r)) {
        case SSL_ERROR_WANT_READ: return -2;
        case SSL_ERROR_WANT_WRITE: c->ssl_wants_write = 1; return -2;
        case SSL_ERROR_ZERO_RETURN: return 0;
        default: return -1;
        }
    }
}

static void flush(smtp_conn *c)
{
    uint32_t ev = EPOLLIN;

    if (c->gone) {
        if (!c->busy)
            conn_free(c);
        return;
    }
    c->ssl_wants_write = 0;
    while (c->out.len > 0) {
        ssize_t r;
        if (c->ssl == NULL) {
            r = write(c->fd, c->out.p, c->out.len);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                break;
        } else {
            int k = SSL_write(c->ssl, c->out.p, (int)c->out.len);
            r = k;
            if (k <= 0) {
                int e = SSL_get_error(c->ssl, k);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                    c->ssl_wants_write = e == SSL_ERROR_WANT_WRITE;
                    break;
                }
                r = -1;
            }
        }
        if (r <= 0) {
            conn_gone(c);
            return;
        }
        memmove(c->out.p, c->out.p + r, c->out.len - (size_t)r);
        c->out.len -= (size_t)r;
    }
    if (c->out.len == 0 && c->tls_next) {
        c->tls_next = 0;
        if ((c->ssl = SSL_new(mt_tls)) == NULL ||
            SSL_set_fd(c->ssl, c->fd) != 1) {
            conn_gone(c);
            return;
        }
        SSL_set_accept_state(c->ssl);
        /* a new session: HELO again, nothing from before (RFC 3207 4.2) */
        c->greeted = 0;
        c->helo[0] = '\0';
        c->auth_state = A_NONE;
        reset_tx(c);
    }
    if (c->out.len == 0 && c->closing && !c->busy) {
        conn_gone(c);
        return;
    }
    if (c->out.len > 0 || c->ssl_wants_write)
        ev |= EPOLLOUT;
    (void)mt_loop_mod(c->w, ev);
}

static void conn_ready(void *ctx, uint32_t events)
{
    smtp_conn *c = ctx;
    uint8_t buf[READ_CHUNK];
    int rounds = 0;

    if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
        conn_gone(c);
        return;
    }
    /* read while the input is useful: a full command buffer waits until
       its commands were taken (back-pressure on pipelining clients) */
    while (!c->closing && rounds++ < 16 &&
           (c->state != S_CMD || c->in.len < CMD_BUFFER)) {
        ssize_t r = conn_read(c, buf, sizeof(buf));
        if (r == -2)
            break;
        if (r <= 0) {
            conn_gone(c);
            return;
        }
        c->last = mt_now();
        xc_put_bytes(&c->in, buf, (size_t)r);
        if (c->in.err) {
            conn_gone(c);
            return;
        }
        process(c);
    }
    process(c);
    flush(c);
}

/* ---- listening --------------------------------------------------------- */

static void accept_ready(void *ctx, uint32_t events)
{
    listener *l = ctx;

    (void)events;
    for (int k = 0; k < 64; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        smtp_conn *c;
        int same = 0;

        if (fd < 0)
            return;
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->submission = l->submission;
        if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
                      c->ip, sizeof(c->ip));
        else
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->ip,
                      sizeof(c->ip));
        xc_wbuf_init(&c->in, 0);
        xc_wbuf_init(&c->out, 0);
        xc_wbuf_init(&c->msg, 0);
        c->last = mt_now();
        for (smtp_conn *o = conns; o != NULL; o = o->next)
            same += strcmp(o->ip, c->ip) == 0;
        if ((c->w = mt_loop_add(fd, EPOLLIN, conn_ready, c)) == NULL) {
            close(fd);
            free(c);
            continue;
        }
        c->next = conns;
        if (conns)
            conns->prev = c;
        conns = c;
        nconns++;
        if (nconns > mt_config->max_connections) {
            mt_log_warn(48, "too many connections, refusing %s", c->ip);
            reply(c, "421 4.3.2 Too many connections, try again later");
            c->closing = 1;
        } else if (same >= mt_config->max_per_ip) {
            mt_log_warn(49, "too many connections from %s", c->ip);
            reply(c, "421 4.7.0 Too many connections from your address");
            c->closing = 1;
        } else {
            replyf(c, "220 %s ESMTP mtad", mt_config->hostname);
        }
        flush(c);
    }
}

int smtp_server_listen(const char *addr, int submission)
{
    listener *l;
    int lfd;
    char host[128];
    const char *colon = strrchr(addr, ':');
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1, port;

    memset(&ss, 0, sizeof(ss));
    if (colon == NULL || (size_t)(colon - addr) >= sizeof(host) ||
        (port = atoi(colon + 1)) <= 0 || port > 65535) {
        mt_log_error(50, "smtp_listen: expected host:port, got %s", addr);
        return -1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr)
        == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else if (inet_pton(AF_INET, host,
                         &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else {
        mt_log_error(51, "smtp_listen: %s is not an IP address", host);
        return -1;
    }
    if ((lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                      SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 511) < 0) {
        mt_log_error(52, "cannot listen on %s: %s", addr, strerror(errno));
        return -1;
    }
    if (nlisteners == 2)
        return -1;
    l = &listeners[nlisteners++];
    l->fd = lfd;
    l->submission = submission;
    if ((l->w = mt_loop_add(lfd, EPOLLIN, accept_ready, l)) == NULL)
        return -1;
    mt_log_info(53, "%s on %s", submission ? "submission" : "SMTP", addr);
    return 0;
}

void smtp_server_tick(time_t now)
{
    smtp_conn *c = conns;

    while (c != NULL) {
        smtp_conn *next = c->next;
        int limit = c->state == S_CMD ? mt_config->command_timeout
                                      : mt_config->data_timeout;
        if (c->wake_at != 0 && now >= c->wake_at) {
            c->wake_at = 0;
            c->busy = 0;
            c->last = now;
            reply(c, c->held);
            resume(c);
            c = next;
            continue;
        }
        if (!c->busy && !c->gone && now - c->last > limit) {
            mt_log_info(54, "timeout, closing connection from %s", c->ip);
            replyf(c, "421 4.4.2 %s Error: timeout exceeded",
                   mt_config->hostname);
            c->closing = 1;
            flush(c);
        }
        c = next;
    }
}

void smtp_server_close_all(void)
{
    for (int i = 0; i < nlisteners; i++) {
        mt_loop_del(listeners[i].w);
        close(listeners[i].fd);
    }
    nlisteners = 0;
    while (conns != NULL) {
        smtp_conn *c = conns;
        if (c->busy) {          /* its job still points here: leave it */
            conns = c->next;
            continue;
        }
        reply(c, "421 4.3.2 Service shutting down");
        c->closing = 1;
        flush(c);
        if (conns == c)
            conn_free(c);
    }
}
