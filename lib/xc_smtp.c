/*
 * NAME
 *   xc_smtp - SMTP command lines, envelope addresses, xtext and the DATA
 *   reader; see xc_smtp.h (RFC 5321 4.1.1, 4.1.2, 4.5.2, 4.5.3.1; RFC
 *   6531; RFC 3030; RFC 3461 4; RFC 1870).
 */
#include "xc_smtp.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "xc_text.h"
#include "xc_wire.h"

/* ---- command lines (RFC 5321 4.1.1) ---- */

static const struct {
    const char *name;
    xc_smtp_verb verb;
} verbs[] = {
    { "HELO", XC_SMTP_HELO }, { "EHLO", XC_SMTP_EHLO },
    { "MAIL", XC_SMTP_MAIL }, { "RCPT", XC_SMTP_RCPT },
    { "DATA", XC_SMTP_DATA }, { "BDAT", XC_SMTP_BDAT },
    { "RSET", XC_SMTP_RSET }, { "NOOP", XC_SMTP_NOOP },
    { "QUIT", XC_SMTP_QUIT }, { "VRFY", XC_SMTP_VRFY },
    { "EXPN", XC_SMTP_EXPN }, { "HELP", XC_SMTP_HELP },
    { "STARTTLS", XC_SMTP_STARTTLS }, { "AUTH", XC_SMTP_AUTH },
};

static size_t skip_spaces(const char *p, size_t i, size_t len)
{
    while (i < len && p[i] == ' ')
        i++;
    return i;
}

int xc_smtp_command(const char *line, size_t len, xc_smtp_cmd *cmd,
                    const char **error_r)
{
    size_t i = 0, end;

    cmd->verb = XC_SMTP_UNKNOWN;
    cmd->arg = line;
    cmd->arg_len = 0;
    if (len > XC_SMTP_CMD_MAX) {
        *error_r = "command line too long";
        return -1;
    }
    if (len > 0 && memchr(line, '\0', len) != NULL) {
        *error_r = "NUL in command line";
        return -1;
    }
    if (len > 0 && (memchr(line, '\r', len) != NULL ||
                    memchr(line, '\n', len) != NULL)) {
        *error_r = "bare CR or LF in command line";
        return -1;
    }
    while (i < len && line[i] != ' ') {
        if ((uint8_t)line[i] >= 0x80) {
            *error_r = "8-bit bytes in command verb";
            return -1;
        }
        i++;
    }
    for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
        if (strlen(verbs[k].name) == i &&
            strncasecmp(line, verbs[k].name, i) == 0) {
            cmd->verb = verbs[k].verb;
            break;
        }
    }
    i = skip_spaces(line, i, len);
    if (cmd->verb == XC_SMTP_MAIL) {
        if (len - i < 5 || strncasecmp(line + i, "FROM:", 5) != 0) {
            *error_r = "MAIL without FROM:";
            return -1;
        }
        i = skip_spaces(line, i + 5, len);
    } else if (cmd->verb == XC_SMTP_RCPT) {
        if (len - i < 3 || strncasecmp(line + i, "TO:", 3) != 0) {
            *error_r = "RCPT without TO:";
            return -1;
        }
        i = skip_spaces(line, i + 3, len);
    }
    end = len;
    while (end > i && line[end - 1] == ' ')
        end--;
    if (len > 0)
        cmd->arg = line + i;
    cmd->arg_len = end - i;
    return 0;
}

/* ---- addresses (RFC 5321 4.1.2, RFC 6531 3.3) ---- */

static int is_alnum(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* RFC 5322 3.2.3 atext, ASCII part */
static int is_atext(uint8_t c)
{
    return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int has_8bit(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x80)
            return 1;
    return 0;
}

/* Well-formed UTF-8 (xc_utf8_valid: no overlongs, surrogates or NULs)
   without C1 controls, which RFC 6531 has no use for in addresses. */
static int utf8_ok(const uint8_t *p, size_t n)
{
    if (!xc_utf8_valid(p, n))
        return 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == 0xC2 && p[i + 1] < 0xA0)
            return 0;
    return 1;
}

/* Dot-string: Atom *("." Atom), atext plus UTF-8 when utf8. */
static int dot_string_ok(const uint8_t *p, size_t n, int utf8)
{
    size_t atom = 0;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.') {
            if (atom == 0)
                return 0;
            atom = 0;
        } else if (is_atext(p[i]) || (utf8 && p[i] >= 0x80)) {
            atom++;
        } else {
            return 0;
        }
    }
    return atom > 0 && (!has_8bit(p, n) || utf8_ok(p, n));
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]
   or, with XC_SMTP_UTF8, a U-label. */
static int check_domain(const uint8_t *p, size_t n, int flags,
                        const char **error_r)
{
    size_t start = 0;

    if (n == 0) {
        *error_r = "missing domain";
        return XC_SMTP_EPATH;
    }
    for (size_t i = 0; i <= n; i++) {
        size_t k;

        if (i < n && p[i] != '.') {
            if (!is_alnum(p[i]) && p[i] != '-' && p[i] < 0x80) {
                *error_r = "bad character in domain";
                return XC_SMTP_EPATH;
            }
            continue;
        }
        k = i - start;
        if (k == 0) {
            *error_r = "empty label in domain";
            return XC_SMTP_EPATH;
        }
        if (p[start] == '-' || p[i - 1] == '-') {
            *error_r = "domain label starts or ends with a hyphen";
            return XC_SMTP_EPATH;
        }
        if (k > 63) {
            *error_r = "domain label longer than 63 octets";
            return XC_SMTP_ELONG;
        }
        start = i + 1;
    }
    if (has_8bit(p, n)) {
        if (!(flags & XC_SMTP_UTF8)) {
            *error_r = "8-bit domain without SMTPUTF8";
            return XC_SMTP_EPATH;
        }
        if (!utf8_ok(p, n)) {
            *error_r = "bad UTF-8 in domain";
            return XC_SMTP_EPATH;
        }
    }
    if (n > XC_SMTP_DOMAIN_MAX) {
        *error_r = "domain longer than 255 octets";
        return XC_SMTP_ELONG;
    }
    return XC_SMTP_OK;
}

/* The length of the domain name run at p (its bytes, checked later). */
static size_t domain_run(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n && (is_alnum(p[i]) || p[i] == '-' || p[i] == '.' ||
                     p[i] >= 0x80))
        i++;
    return i;
}

static void copy_lower(char *dst, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    dst[n] = '\0';
}

/* Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig */
static int ldh_str_ok(const uint8_t *p, size_t n)
{
    if (n == 0 || !is_alnum(p[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(p[i]) && p[i] != '-')
            return 0;
    return 1;
}

/* address-literal: p[0] is '['; *used_r gets its length with the
   brackets; the canonical form goes into dom. */
static int address_literal(const uint8_t *p, size_t n, char *dom,
                           size_t *used_r, const char **error_r)
{
    char tmp[64];
    unsigned char bin[16];
    const uint8_t *c = p + 1, *colon;
    size_t j = 1, k;

    /* dcontent (%d33-90 / %d94-126) covers IPv4 and IPv6 text too */
    while (j < n && p[j] >= 33 && p[j] <= 126 && p[j] != '[' &&
           p[j] != '\\' && p[j] != ']')
        j++;
    if (j >= n || p[j] != ']') {
        *error_r = "bad address literal";
        return XC_SMTP_EPATH;
    }
    k = j - 1;
    *used_r = j + 1;
    if (k == 0) {
        *error_r = "empty address literal";
        return XC_SMTP_EPATH;
    }
    if (j + 1 > XC_SMTP_DOMAIN_MAX) {
        *error_r = "address literal longer than 255 octets";
        return XC_SMTP_ELONG;
    }
    colon = memchr(c, ':', k);
    if (colon == NULL) {
        if (k >= sizeof(tmp))
            goto bad4;
        memcpy(tmp, c, k);
        tmp[k] = '\0';
        for (size_t i = 0; i < k; i++)
            if (!(tmp[i] >= '0' && tmp[i] <= '9') && tmp[i] != '.')
                goto bad4;
        if (inet_pton(AF_INET, tmp, bin) != 1)
            goto bad4;
        memcpy(dom, p, j + 1);
        dom[j + 1] = '\0';
        return XC_SMTP_OK;
    }
    if (colon - c == 4 && strncasecmp((const char *)c, "IPv6", 4) == 0) {
        size_t m = k - 5;
        if (m >= sizeof(tmp)) {
            *error_r = "bad IPv6 address literal";
            return XC_SMTP_EPATH;
        }
        copy_lower(tmp, colon + 1, m);
        if (inet_pton(AF_INET6, tmp, bin) != 1) {
            *error_r = "bad IPv6 address literal";
            return XC_SMTP_EPATH;
        }
        memcpy(dom, "[IPv6:", 6);
        memcpy(dom + 6, tmp, m);
        memcpy(dom + 6 + m, "]", 2);
        return XC_SMTP_OK;
    }
    /* General-address-literal = Standardized-tag ":" 1*dcontent */
    if (!ldh_str_ok(c, (size_t)(colon - c)) || colon + 1 == c + k) {
        *error_r = "bad address literal";
        return XC_SMTP_EPATH;
    }
    memcpy(dom, p, j + 1);
    dom[j + 1] = '\0';
    return XC_SMTP_OK;
bad4:
    *error_r = "bad IPv4 address literal";
    return XC_SMTP_EPATH;
}

/* Quoted-string at p[0] == '"': its content unescaped into buf (at most
   XC_SMTP_LOCAL_MAX octets), *used_r its length with the quotes. */
static int quoted_local(const uint8_t *p, size_t n, int flags, uint8_t *buf,
                        size_t *buf_len_r, size_t *used_r,
                        const char **error_r)
{
    size_t i = 1, o = 0;

    for (;;) {
        uint8_t c;

        if (i >= n) {
            *error_r = "unterminated quoted local part";
            return XC_SMTP_EPATH;
        }
        c = p[i++];
        if (c == '"')
            break;
        if (c == '\\') {
            if (i >= n || p[i] < 32 || p[i] > 126) {
                *error_r = "bad quoted pair in local part";
                return XC_SMTP_EPATH;
            }
            c = p[i++];
        } else if (c >= 0x80) {
            if (!(flags & XC_SMTP_UTF8)) {
                *error_r = "8-bit local part without SMTPUTF8";
                return XC_SMTP_EPATH;
            }
        } else if (c < 32 || c > 126) {
            *error_r = "control character in local part";
            return XC_SMTP_EPATH;
        }
        if (o >= XC_SMTP_LOCAL_MAX) {
            *error_r = "local part longer than 64 octets";
            return XC_SMTP_ELONG;
        }
        buf[o++] = c;
    }
    if (has_8bit(buf, o) && !utf8_ok(buf, o)) {
        *error_r = "bad UTF-8 in local part";
        return XC_SMTP_EPATH;
    }
    *buf_len_r = o;
    *used_r = i;
    return XC_SMTP_OK;
}

/* The local part at p into addr->local in canonical form. */
static int local_part(const uint8_t *p, size_t n, int flags,
                      xc_smtp_addr *addr, size_t *used_r, int *quoted_r,
                      const char **error_r)
{
    uint8_t buf[XC_SMTP_LOCAL_MAX];
    size_t k = 0, o = 0;
    int r;

    *quoted_r = n > 0 && p[0] == '"';
    if (*quoted_r) {
        r = quoted_local(p, n, flags, buf, &k, used_r, error_r);
        if (r != XC_SMTP_OK)
            return r;
        if (dot_string_ok(buf, k, flags & XC_SMTP_UTF8)) {
            memcpy(addr->local, buf, k);
            addr->local[k] = '\0';
            return XC_SMTP_OK;
        }
        addr->local[o++] = '"';
        for (size_t i = 0; i < k; i++) {
            if (buf[i] == '"' || buf[i] == '\\')
                addr->local[o++] = '\\';
            addr->local[o++] = (char)buf[i];
        }
        addr->local[o++] = '"';
        addr->local[o] = '\0';
        if (o > XC_SMTP_LOCAL_MAX) {
            *error_r = "local part longer than 64 octets";
            return XC_SMTP_ELONG;
        }
        return XC_SMTP_OK;
    }
    while (k < n && (is_atext(p[k]) || p[k] == '.' || p[k] >= 0x80))
        k++;
    if (k == 0) {
        *error_r = "missing local part";
        return XC_SMTP_EPATH;
    }
    if (has_8bit(p, k)) {
        if (!(flags & XC_SMTP_UTF8)) {
            *error_r = "8-bit local part without SMTPUTF8";
            return XC_SMTP_EPATH;
        }
        if (!utf8_ok(p, k)) {
            *error_r = "bad UTF-8 in local part";
            return XC_SMTP_EPATH;
        }
    }
    if (!dot_string_ok(p, k, flags & XC_SMTP_UTF8)) {
        *error_r = "bad dots in local part";
        return XC_SMTP_EPATH;
    }
    if (k > XC_SMTP_LOCAL_MAX) {
        *error_r = "local part longer than 64 octets";
        return XC_SMTP_ELONG;
    }
    memcpy(addr->local, p, k);
    addr->local[k] = '\0';
    *used_r = k;
    return XC_SMTP_OK;
}

/* A-d-l = At-domain *( "," At-domain ) ":" at p[0] == '@' */
static int source_route(const uint8_t *p, size_t n, int flags,
                        size_t *used_r, const char **error_r)
{
    size_t i = 0;

    for (;;) {
        size_t k;
        int r;

        if (i >= n || p[i] != '@') {
            *error_r = "bad source route";
            return XC_SMTP_EPATH;
        }
        i++;
        k = domain_run(p + i, n - i);
        r = check_domain(p + i, k, flags, error_r);
        if (r != XC_SMTP_OK)
            return r;
        i += k;
        if (i < n && p[i] == ',') {
            i++;
            continue;
        }
        if (i < n && p[i] == ':') {
            *used_r = i + 1;
            return XC_SMTP_OK;
        }
        *error_r = "bad source route";
        return XC_SMTP_EPATH;
    }
}

/* esmtp-param *(SP esmtp-param) from p[i..n) */
static int mail_params(const uint8_t *p, size_t i, size_t n, int flags,
                       xc_smtp_param *params, size_t max_params,
                       size_t *nparams_r, const char **error_r)
{
    size_t count = 0;

    for (;;) {
        size_t start, eq = SIZE_MAX, end;

        while (i < n && p[i] == ' ')
            i++;
        if (i >= n)
            break;
        start = i;
        while (i < n && p[i] != ' ') {
            if (p[i] == '=' && eq == SIZE_MAX)
                eq = i;
            i++;
        }
        end = eq != SIZE_MAX ? eq : i;
        if (end == start) {
            *error_r = "bad parameter keyword";
            return XC_SMTP_EPARAM;
        }
        for (size_t k = start; k < end; k++) {
            if (!is_alnum(p[k]) && (k == start || p[k] != '-')) {
                *error_r = "bad parameter keyword";
                return XC_SMTP_EPARAM;
            }
        }
        if (eq != SIZE_MAX) {
            if (eq + 1 == i) {
                *error_r = "empty parameter value";
                return XC_SMTP_EPARAM;
            }
            for (size_t k = eq + 1; k < i; k++) {
                if (p[k] >= 0x80 && (flags & XC_SMTP_UTF8))
                    continue;
                if (p[k] < 33 || p[k] > 126 || p[k] == '=') {
                    *error_r = "bad parameter value";
                    return XC_SMTP_EPARAM;
                }
            }
            if (has_8bit(p + eq + 1, i - eq - 1) &&
                !utf8_ok(p + eq + 1, i - eq - 1)) {
                *error_r = "bad UTF-8 in parameter value";
                return XC_SMTP_EPARAM;
            }
        }
        if (count >= max_params) {
            *error_r = "too many parameters";
            return XC_SMTP_EPARAM;
        }
        params[count].key = (const char *)p + start;
        params[count].key_len = end - start;
        params[count].value = eq != SIZE_MAX ? (const char *)p + eq + 1 : NULL;
        params[count].value_len = eq != SIZE_MAX ? i - eq - 1 : 0;
        count++;
        if (nparams_r != NULL)
            *nparams_r = count;
    }
    return XC_SMTP_OK;
}

int xc_smtp_path(const char *arg, size_t len, int flags, xc_smtp_addr *addr,
                 xc_smtp_param *params, size_t max_params, size_t *nparams_r,
                 const char **error_r)
{
    const uint8_t *p = (const uint8_t *)arg;
    size_t i = 0, used, k, lk, dk;
    int r, quoted, routed = 0;

    addr->null = addr->utf8 = 0;
    addr->local[0] = addr->domain[0] = addr->text[0] = '\0';
    if (nparams_r != NULL)
        *nparams_r = 0;
    while (i < len && p[i] == ' ')
        i++;
    if (i >= len || p[i] != '<') {
        *error_r = "the address must be in angle brackets";
        return XC_SMTP_EPATH;
    }
    i++;
    if (i < len && p[i] == '>') {
        if (!(flags & XC_SMTP_ALLOW_NULL)) {
            *error_r = "null address not allowed here";
            return XC_SMTP_EPATH;
        }
        addr->null = 1;
        i++;
        goto params;
    }
    if (i < len && p[i] == '@') {
        r = source_route(p + i, len - i, flags, &used, error_r);
        if (r != XC_SMTP_OK)
            return r;
        i += used;
        routed = 1;
    }
    r = local_part(p + i, len - i, flags, addr, &used, &quoted, error_r);
    if (r != XC_SMTP_OK)
        return r;
    i += used;
    if (i < len && p[i] == '>' && !quoted && !routed &&
        strcasecmp(addr->local, "postmaster") == 0) {
        if (!(flags & XC_SMTP_ALLOW_POSTMASTER)) {
            *error_r = "missing domain";
            return XC_SMTP_EPATH;
        }
        memcpy(addr->local, "Postmaster", 11);
        memcpy(addr->text, "Postmaster", 11);
        i++;
        goto params;
    }
    if (i >= len || p[i] != '@') {
        *error_r = i >= len || p[i] == '>' ? "missing domain"
                                           : "bad character in local part";
        return XC_SMTP_EPATH;
    }
    i++;
    if (i < len && p[i] == '[') {
        r = address_literal(p + i, len - i, addr->domain, &used, error_r);
        if (r != XC_SMTP_OK)
            return r;
        i += used;
    } else {
        k = domain_run(p + i, len - i);
        r = check_domain(p + i, k, flags, error_r);
        if (r != XC_SMTP_OK)
            return r;
        copy_lower(addr->domain, p + i, k);
        i += k;
    }
    if (i >= len || p[i] != '>') {
        *error_r = "bad character in domain";
        return XC_SMTP_EPATH;
    }
    i++;
    lk = strlen(addr->local);
    dk = strlen(addr->domain);
    if (lk + 1 + dk > XC_SMTP_PATH_MAX - 2) {
        *error_r = "path longer than 256 octets";
        return XC_SMTP_ELONG;
    }
    memcpy(addr->text, addr->local, lk);
    addr->text[lk] = '@';
    memcpy(addr->text + lk + 1, addr->domain, dk + 1);
    addr->utf8 = has_8bit((const uint8_t *)addr->text, lk + 1 + dk);
params:
    if (i < len && p[i] != ' ') {
        *error_r = "no space after the path";
        return XC_SMTP_EPATH;
    }
    return mail_params(p, i, len, flags, params, max_params, nparams_r,
                       error_r);
}

int xc_smtp_param_is(const xc_smtp_param *p, const char *key)
{
    size_t n = strlen(key);

    return p->key_len == n && strncasecmp(p->key, key, n) == 0;
}

/* ---- xtext (RFC 3461 4) ---- */

static int upper_hex(uint8_t c)
{
    return (c >= 'a' && c <= 'f') ? -1 : xc_hexval(c);
}

int xc_smtp_xtext_decode(const char *p, size_t n, char *dst, size_t dstlen)
{
    const uint8_t *s = (const uint8_t *)p;
    size_t i = 0, o = 0;

    while (i < n) {
        uint8_t c = s[i];

        if (c == '+') {
            int hi, lo;
            if (n - i < 3 || (hi = upper_hex(s[i + 1])) < 0 ||
                (lo = upper_hex(s[i + 2])) < 0 || (hi | lo) == 0)
                return -1;
            c = (uint8_t)(hi << 4 | lo);
            i += 3;
        } else if (c < 33 || c > 126 || c == '=') {
            return -1;
        } else {
            i++;
        }
        if (o + 1 >= dstlen)
            return -1;
        dst[o++] = (char)c;
    }
    if (o >= dstlen)
        return -1;
    dst[o] = '\0';
    return 0;
}

int xc_smtp_xtext_encode(const char *p, size_t n, char *dst, size_t dstlen)
{
    static const char hex[] = "0123456789ABCDEF";
    const uint8_t *s = (const uint8_t *)p;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];

        if (c == 0)
            return -1;
        if (c >= 33 && c <= 126 && c != '+' && c != '=') {
            if (o + 1 >= dstlen)
                return -1;
            dst[o++] = (char)c;
        } else {
            if (o + 3 >= dstlen)
                return -1;
            dst[o++] = '+';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    if (o >= dstlen)
        return -1;
    dst[o] = '\0';
    return 0;
}

/* ---- the DATA phase (RFC 5321 4.1.1.4, 4.5.2) and BDAT chunks ---- */

enum {
    D_BOL = 0,      /* at a line start after CRLF (or the first line) */
    D_BOL_LF,       /* at a line start after a bare LF */
    D_TEXT,
    D_CR,           /* a CR held: CRLF or data? */
    D_DOT,          /* "." held at a line start after CRLF */
    D_DOT_LF,       /* the same after a bare LF */
    D_DOT_CR,       /* "." CR held after CRLF: the end if LF follows */
    D_DOT_CR_LF,    /* "." CR held after a bare LF: never the end */
    D_END
};

void xc_smtp_data_init(xc_smtp_data *d, size_t max_size, size_t max_header,
                       size_t max_line)
{
    memset(d, 0, sizeof(*d));
    d->max_size = max_size;
    d->max_header = max_header;
    d->max_line = max_line;
    d->in_header = 1;
    d->state = D_BOL;
}

/* Lower *room to the bytes of k that fit under max when used are counted,
   naming the limit in *hit; an earlier check wins a tie. */
static void limit_room(size_t max, size_t used, size_t k, int which,
                       size_t *room, int *hit)
{
    size_t r;

    if (max == 0 || used + k <= max)
        return;
    r = used < max ? max - used : 0;
    if (r < *room) {
        *room = r;
        *hit = which;
    }
}

/* k bytes of a line (no line end): counted, and written up to a limit. */
static void put_text(xc_smtp_data *d, const uint8_t *p, size_t k,
                     xc_wbuf *out)
{
    size_t room = k;
    int hit = 0;

    limit_room(d->max_size, d->size, k, XC_SMTP_OVER_SIZE, &room, &hit);
    if (d->in_header)
        limit_room(d->max_header, d->header_size, k, XC_SMTP_OVER_HEADER,
                   &room, &hit);
    limit_room(d->max_line, d->line_len, k, XC_SMTP_OVER_LINE, &room, &hit);
    if (!d->over) {
        xc_put_bytes(out, p, room);
        d->over = hit;
    }
    d->size += k;
    if (d->in_header)
        d->header_size += k;
    d->line_len += k;
    if (d->line_len > d->longest_line)
        d->longest_line = d->line_len;
}

/* A line end, written as CRLF (all or nothing). */
static void put_eol(xc_smtp_data *d, int bare, xc_wbuf *out)
{
    size_t room = 2;
    int hit = 0;

    if (bare)
        d->bare_lf++;
    if (d->in_header && d->line_len == 0)
        d->in_header = 0;       /* the empty line ending the header */
    limit_room(d->max_size, d->size, 2, XC_SMTP_OVER_SIZE, &room, &hit);
    if (d->in_header)
        limit_room(d->max_header, d->header_size, 2, XC_SMTP_OVER_HEADER,
                   &room, &hit);
    if (!d->over) {
        if (hit)
            d->over = hit;
        else
            xc_put_bytes(out, "\r\n", 2);
    }
    d->size += 2;
    if (d->in_header)
        d->header_size += 2;
    d->line_len = 0;
}

static int feed(xc_smtp_data *d, const uint8_t *p, size_t n, xc_wbuf *out,
                size_t *used_r, int raw)
{
    size_t i = 0;

    while (i < n && d->state != D_END) {
        uint8_t c = p[i];
        size_t j;

        switch (d->state) {
        case D_BOL:
        case D_BOL_LF:
            if (!raw && c == '.') {
                d->state = d->state == D_BOL ? D_DOT : D_DOT_LF;
                i++;
            } else {
                d->state = D_TEXT;
            }
            break;
        case D_TEXT:
            for (j = i; j < n && p[j] != '\r' && p[j] != '\n'; j++)
                ;
            if (j > i)
                put_text(d, p + i, j - i, out);
            i = j;
            if (i < n) {
                if (p[i] == '\r') {
                    d->state = D_CR;
                } else {
                    put_eol(d, 1, out);
                    d->state = D_BOL_LF;
                }
                i++;
            }
            break;
        case D_CR:
            if (c == '\n') {
                put_eol(d, 0, out);
                d->state = D_BOL;
                i++;
            } else {
                put_text(d, (const uint8_t *)"\r", 1, out);
                d->state = D_TEXT;
            }
            break;
        case D_DOT:
        case D_DOT_LF:
            if (c == '\r') {
                d->state = d->state == D_DOT ? D_DOT_CR : D_DOT_CR_LF;
                i++;
            } else if (c == '\n') {
                /* "." and a bare LF: not the end, and no stuffing */
                put_text(d, (const uint8_t *)".", 1, out);
                put_eol(d, 1, out);
                d->state = D_BOL_LF;
                i++;
            } else {
                d->state = D_TEXT;      /* the stuffed dot goes */
            }
            break;
        case D_DOT_CR:
        case D_DOT_CR_LF:
            if (c == '\n') {
                i++;
                if (d->state == D_DOT_CR) {
                    d->state = D_END;
                    break;
                }
                put_text(d, (const uint8_t *)".", 1, out);
                put_eol(d, 0, out);
                d->state = D_BOL;
            } else {
                /* "." then a bare CR: a line with more than the dot */
                put_text(d, (const uint8_t *)"\r", 1, out);
                d->state = D_TEXT;
            }
            break;
        }
    }
    if (used_r != NULL)
        *used_r = i;
    if (out->err)
        return -1;
    return d->state == D_END ? 1 : 0;
}

int xc_smtp_data_feed(xc_smtp_data *d, const uint8_t *p, size_t n,
                      xc_wbuf *out, size_t *used_r)
{
    return feed(d, p, n, out, used_r, 0);
}

int xc_smtp_data_raw(xc_smtp_data *d, const uint8_t *p, size_t n,
                     xc_wbuf *out)
{
    if (n == 0 && d->state == D_CR) {
        put_text(d, (const uint8_t *)"\r", 1, out);
        d->state = D_TEXT;
    }
    return feed(d, p, n, out, NULL, 1) < 0 ? -1 : 0;
}

/* ---- AUTH responses ----------------------------------------------------- */

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int xc_smtp_b64_decode(const char *p, size_t n, char *dst, size_t dstlen,
                       size_t *len_r)
{
    size_t o = 0;

    if (n == 0 || n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (p[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0 || (v[k] = b64_value(p[i + k])) < 0) {
                return -1;      /* a character, or data after "=" */
            }
        }
        if (o + (size_t)(3 - pad) + 1 > dstlen)
            return -1;
        dst[o++] = (char)(v[0] << 2 | v[1] >> 4);
        if (pad < 2)
            dst[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        if (pad < 1)
            dst[o++] = (char)((v[2] & 3) << 6 | v[3]);
    }
    dst[o] = '\0';
    *len_r = o;
    return 0;
}

int xc_smtp_sasl_plain(const char *b64, size_t n, char *buf, size_t buflen,
                       const char **authz, const char **user,
                       const char **pass)
{
    size_t len;
    const char *u, *pw;

    if (xc_smtp_b64_decode(b64, n, buf, buflen, &len) < 0)
        return -1;
    if ((u = memchr(buf, '\0', len)) == NULL)
        return -1;
    u++;
    if ((pw = memchr(u, '\0', len - (size_t)(u - buf))) == NULL)
        return -1;
    pw++;
    /* the password runs to the end: no third NUL */
    if (memchr(pw, '\0', len - (size_t)(pw - buf)) != NULL || *u == '\0' ||
        *pw == '\0')
        return -1;
    *authz = buf;
    *user = u;
    *pass = pw;
    return 0;
}

/* ---- header fields ------------------------------------------------------ */

int xc_smtp_header_field(const uint8_t *p, size_t n, const char *name,
                         char *dst, size_t dstlen)
{
    size_t nl = strlen(name), i = 0;

    if (dstlen == 0)
        return -1;
    while (i < n) {
        size_t e = i, k = 0;

        while (e < n && p[e] != '\n')
            e++;
        if (e == i || (e == i + 1 && p[i] == '\r'))
            return -1;          /* the empty line: the header ends */
        if (e - i <= nl || p[i + nl] != ':' ||
            strncasecmp((const char *)p + i, name, nl) != 0) {
            i = e + 1;
            continue;
        }
        for (size_t j = i + nl + 1;; j = e + 1) {
            if (j > i + nl + 1)         /* a continuation line */
                for (e = j; e < n && p[e] != '\n'; e++)
                    ;
            for (; j < e; j++)
                if (p[j] != '\r' && k + 1 < dstlen)
                    dst[k++] = (char)p[j];
            if (!(e + 1 < n && (p[e + 1] == ' ' || p[e + 1] == '\t')))
                break;
        }
        dst[k] = '\0';
        return 0;
    }
    return -1;
}

/* ---- replies of servers we send to ------------------------------------ */

int xc_smtp_reply_line(const char *line, size_t len, xc_smtp_reply *r)
{
    memset(r, 0, sizeof(*r));
    if (len < 3 || len > XC_SMTP_REPLY_MAX ||
        memchr(line, '\0', len) != NULL ||
        line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
        line[2] < '0' || line[2] > '9')
        return -1;
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return -1;
    r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    r->more = len > 3 && line[3] == '-';
    r->text = line + (len > 3 ? 4 : 3);
    r->text_len = len > 3 ? len - 4 : 0;
    return 0;
}

static int keyword_is(const char *t, size_t n, const char *kw)
{
    size_t k = strlen(kw);

    return n >= k && strncasecmp(t, kw, k) == 0 && (n == k || t[k] == ' ');
}

void xc_smtp_ehlo_line(const char *text, size_t len, unsigned *ext,
                       uint64_t *size)
{
    if (keyword_is(text, len, "STARTTLS"))
        *ext |= XC_SMTP_EXT_STARTTLS;
    else if (keyword_is(text, len, "DSN"))
        *ext |= XC_SMTP_EXT_DSN;
    else if (keyword_is(text, len, "SMTPUTF8"))
        *ext |= XC_SMTP_EXT_SMTPUTF8;
    else if (keyword_is(text, len, "8BITMIME"))
        *ext |= XC_SMTP_EXT_8BITMIME;
    else if (keyword_is(text, len, "PIPELINING"))
        *ext |= XC_SMTP_EXT_PIPELINING;
    else if (keyword_is(text, len, "CHUNKING"))
        *ext |= XC_SMTP_EXT_CHUNKING;
    else if (keyword_is(text, len, "SIZE")) {
        uint64_t v = 0;
        size_t i = 4, digits = 0;
        *ext |= XC_SMTP_EXT_SIZE;
        while (i < len && text[i] == ' ')
            i++;
        for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
            if (++digits > 19) {
                v = 0;
                break;
            }
            v = v * 10 + (uint64_t)(text[i] - '0');
        }
        while (i < len && text[i] == ' ')
            i++;
        *size = i == len ? v : 0;
    }
}
