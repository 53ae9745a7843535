/*
 * NAME
 *   xc_smtp - SMTP command lines, envelope addresses and parameters, DSN
 *   xtext, and the DATA / BDAT message reader
 *
 * DESCRIPTION
 *   Pure functions over buffers for the SMTP server (mtad); no I/O, no
 *   logging, no allocation except into the caller's xc_wbuf.
 *
 *   xc_smtp_command splits a command line (RFC 5321 4.1.1) into its verb
 *   and argument. Lines are limited to XC_SMTP_CMD_MAX octets: RFC 5321
 *   4.5.3.1.4 says 512, but extension parameters (RFC 1870 SIZE, RFC 3461
 *   DSN, AUTH) make lines longer.
 *
 *   xc_smtp_path reads the argument of MAIL FROM: and RCPT TO: by the
 *   grammar of RFC 5321 4.1.2 with the SMTPUTF8 extensions of RFC 6531 3.3
 *   (UTF-8 in local parts, U-labels in domains, UTF-8 in parameter
 *   values), and gives the address in the one form it must be written in
 *   (the "canonical" text: parsing "<" text ">" again gives the same
 *   text). Length limits are those of RFC 5321 4.5.3.1.1-3, counted in
 *   octets of the canonical form. Parameters (esmtp-param, 4.1.2) are
 *   checked for syntax only: their meaning (RFC 1870 SIZE, RFC 6152 BODY,
 *   RFC 6531 SMTPUTF8, RFC 3461 RET/ENVID/NOTIFY/ORCPT) is the caller's.
 *
 *   xc_smtp_xtext_decode / _encode implement xtext (RFC 3461 4), which
 *   ENVID and ORCPT values are written in.
 *
 *   xc_smtp_data is a resumable reader of the DATA phase (RFC 5321
 *   4.1.1.4, transparency in 4.5.2): fed the connection's bytes in pieces
 *   of any size, it gives the same result as for the whole. The end is
 *   the exact sequence CRLF "." CRLF (or "." CRLF as the first line): a
 *   "." line after a bare LF, or "." followed by a bare LF, is not the end
 *   (that difference between servers is what "SMTP smuggling" uses). Bare
 *   LFs are otherwise line ends, written as CRLF and counted so the caller
 *   may refuse such mail. xc_smtp_data_raw reads BDAT chunks (RFC 3030)
 *   with the same counters and limits.
 */
#ifndef XC_SMTP_H
#define XC_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include "xc_buf.h"

#define XC_SMTP_CMD_MAX 2048       /* a command line without CRLF; RFC 5321 says 512, extensions add */
#define XC_SMTP_LOCAL_MAX 64       /* RFC 5321 4.5.3.1.1 (octets) */
#define XC_SMTP_DOMAIN_MAX 255     /* 4.5.3.1.2 */
#define XC_SMTP_PATH_MAX 256       /* 4.5.3.1.3, incl. the angle brackets */
#define XC_SMTP_PARAMS_MAX 16

typedef enum xc_smtp_verb {
    XC_SMTP_UNKNOWN = 0, XC_SMTP_HELO, XC_SMTP_EHLO, XC_SMTP_MAIL, XC_SMTP_RCPT,
    XC_SMTP_DATA, XC_SMTP_BDAT, XC_SMTP_RSET, XC_SMTP_NOOP, XC_SMTP_QUIT,
    XC_SMTP_VRFY, XC_SMTP_EXPN, XC_SMTP_HELP, XC_SMTP_STARTTLS, XC_SMTP_AUTH
} xc_smtp_verb;

typedef struct xc_smtp_cmd {
    xc_smtp_verb verb;
    /* Into the line: after the verb and the spaces that follow it; for
       MAIL after "FROM:", for RCPT after "TO:" (case-insensitive; spaces
       before the path tolerated, as many clients send "MAIL FROM: <a@b>") */
    const char *arg;
    size_t arg_len;         /* trailing spaces removed */
} xc_smtp_cmd;

/*
 * A command line without its CRLF. 0, or -1 with *error_r set (line too
 * long, NUL or CR or LF inside, 8-bit bytes in the verb, MAIL without
 * FROM:, RCPT without TO:). An unknown verb (or an empty line) is not an
 * error: verb XC_SMTP_UNKNOWN. Verbs are case-insensitive; a verb ends at
 * the first space or the end of the line. Whether a verb may have an
 * argument (DATA, QUIT ...) is the caller's to check.
 */
int xc_smtp_command(const char *line, size_t len, xc_smtp_cmd *cmd,
                    const char **error_r);

typedef struct xc_smtp_addr {
    int null;               /* "<>" (only when allowed) */
    int utf8;               /* has bytes >= 0x80 (needs SMTPUTF8) */
    /* As it must be written: a dot-string, or a quoted-string when it
       can't be one (only '"' and '\' escaped) */
    char local[XC_SMTP_LOCAL_MAX * 2 + 3];
    /* Lowercased ASCII letters; "" for the special RCPT TO:<Postmaster>.
       An address literal keeps its brackets and is kept as written
       ("[192.0.2.1]"), except that an IPv6 one is written "[IPv6:"
       and its hex digits in lower case. */
    char domain[XC_SMTP_DOMAIN_MAX + 1];
    char text[XC_SMTP_PATH_MAX + 1];    /* "local@domain", "" for null, or "Postmaster" */
} xc_smtp_addr;

typedef struct xc_smtp_param {
    const char *key; size_t key_len;       /* into arg */
    const char *value; size_t value_len;   /* NULL/0 when the keyword has no "=value" */
} xc_smtp_param;

enum { XC_SMTP_OK = 0, XC_SMTP_EPATH = -1 /* bad address syntax: 501 5.1.3 / 5.1.7 */,
       XC_SMTP_EPARAM = -2 /* bad parameter syntax or too many: 501 5.5.4 */,
       XC_SMTP_ELONG = -3 /* path/local/domain over the limits: 501 5.5.4 / 553 */ };

/* flags */
#define XC_SMTP_ALLOW_NULL 1        /* MAIL FROM:<> */
#define XC_SMTP_ALLOW_POSTMASTER 2  /* RCPT TO:<Postmaster> (case-insensitive) */
#define XC_SMTP_UTF8 4              /* RFC 6531: UTF-8 in local part and domain allowed */

/*
 * The argument of MAIL or RCPT: Reverse-path / Forward-path
 * [SP Mail-parameters] (spaces before the path and after the parameters
 * are tolerated). The path must be in angle brackets; an obsolete source
 * route "<@a,@b:user@d>" is checked and ignored (RFC 5321 4.1.2,
 * Appendix C).
 *
 * Local part: Dot-string (atext per RFC 5322, plus UTF-8 with
 * XC_SMTP_UTF8) or Quoted-string (qtextSMTP / quoted-pairSMTP, plus
 * UTF-8 with XC_SMTP_UTF8); a quoted local part whose content is a valid
 * dot-string is returned unquoted ("\"john\"@x" -> john@x), any other is
 * re-quoted escaping only '"' and '\'. At most XC_SMTP_LOCAL_MAX octets
 * in that form.
 *
 * Domain: sub-domains of Let-dig [Ldh-str], each 1..63 octets, all at
 * most 255 (U-labels as UTF-8 with XC_SMTP_UTF8, counted in octets:
 * IDNA conversion is the caller's; "xn--" A-labels are plain LDH labels
 * and always allowed), or an address literal: "[" IPv4 "]" and
 * "[IPv6:" ... "]" as inet_pton(3) accepts them, or a
 * General-address-literal "[tag:dcontent]".
 *
 * UTF-8 must be well-formed: no overlong forms, no surrogates, no C1
 * controls. Without XC_SMTP_UTF8 any byte >= 0x80 in the path is
 * XC_SMTP_EPATH. "local@domain" is at most XC_SMTP_PATH_MAX - 2 octets.
 *
 * Parameters: esmtp-keyword (ALPHA/DIGIT then ALPHA/DIGIT/"-") ["="
 * esmtp-value (1 or more of %d33-60 / %d62-126, and UTF-8 with
 * XC_SMTP_UTF8)], separated by one or more spaces, at most max_params
 * (params may be NULL when max_params is 0); duplicates are left for the
 * caller. nparams_r may be NULL.
 *
 * Returns XC_SMTP_OK, or an error class with *error_r a short English
 * message. On XC_SMTP_EPARAM addr is filled (the path was good); on other
 * errors its contents are unspecified.
 */
int xc_smtp_path(const char *arg, size_t len, int flags, xc_smtp_addr *addr,
                 xc_smtp_param *params, size_t max_params, size_t *nparams_r,
                 const char **error_r);

/* Is p's keyword key (case-insensitive)? 1 or 0. */
int xc_smtp_param_is(const xc_smtp_param *p, const char *key);

/*
 * RFC 3461 4 xtext: "+" and two upper-case hex digits for octets outside
 * 33..126 and for "+" and "=". Decode p[0..n) into dst, NUL-terminated
 * (its length is strlen(dst)); 0, or -1 on bad syntax (lower-case hex,
 * "+" not followed by two hex digits, an octet outside 33..126, a literal
 * "=", or "+00", which a NUL-terminated string can't hold) or if it does
 * not fit into dstlen (including the NUL). Encode is the reverse: 0, or
 * -1 if the input holds a NUL or the output does not fit.
 */
int xc_smtp_xtext_decode(const char *p, size_t n, char *dst, size_t dstlen);
int xc_smtp_xtext_encode(const char *p, size_t n, char *dst, size_t dstlen);

/*
 * AUTH responses (RFC 4954 4): base64 (RFC 4648 4, padding required, no
 * whitespace) decoded into dst, NUL-terminated, its length in *len_r; 0,
 * or -1 on bad base64 or if it does not fit (with the NUL) into dstlen.
 * xc_smtp_sasl_plain decodes a PLAIN response (RFC 4616: authzid NUL
 * authcid NUL passwd) into buf and points authz, user and pass into it;
 * 0, or -1 if it is not exactly three fields, the user or password is
 * empty, or it does not fit. The caller wipes buf.
 */
int xc_smtp_b64_decode(const char *p, size_t n, char *dst, size_t dstlen,
                       size_t *len_r);
int xc_smtp_sasl_plain(const char *b64, size_t n, char *buf, size_t buflen,
                       const char **authz, const char **user,
                       const char **pass);

/*
 * The value of header field name (case-insensitive) in the header section
 * of message p (RFC 5322 2.2: up to the first empty line), unfolded and
 * without CR or LF, into dst (NUL-terminated, cut to fit); 0, or -1 if the
 * field is absent. The first one wins.
 */
int xc_smtp_header_field(const uint8_t *p, size_t n, const char *name,
                         char *dst, size_t dstlen);

/*
 * Replies of a server we send to (mtad's outbound client). One reply line
 * without its CRLF (RFC 5321 4.2: Reply-code [ SP / "-" textstring ]): a
 * code 200..559 of three digits (first 2-5, second 0-5), "-" when more
 * lines follow, the text after the separator. 0, or -1 (no code, a bad
 * separator, longer than XC_SMTP_REPLY_MAX, NUL). The caller checks that
 * the lines of one reply share their code and limits how many there are
 * (XC_SMTP_REPLY_LINES).
 */
#define XC_SMTP_REPLY_MAX 4096
#define XC_SMTP_REPLY_LINES 100
typedef struct xc_smtp_reply {
    int code;
    int more;
    const char *text;       /* into the line */
    size_t text_len;
} xc_smtp_reply;
int xc_smtp_reply_line(const char *line, size_t len, xc_smtp_reply *r);

/* What a line of an EHLO reply's text (RFC 5321 4.1.1.1: ehlo-keyword
   and its parameters) announces, added to *ext: XC_SMTP_EXT_* bits, the
   SIZE limit (RFC 1870; 0: none given) into *size. Unknown keywords add
   nothing; a SIZE whose number is not one is taken as no limit. */
#define XC_SMTP_EXT_STARTTLS 0x01
#define XC_SMTP_EXT_DSN 0x02
#define XC_SMTP_EXT_SMTPUTF8 0x04
#define XC_SMTP_EXT_8BITMIME 0x08
#define XC_SMTP_EXT_SIZE 0x10
#define XC_SMTP_EXT_PIPELINING 0x20
#define XC_SMTP_EXT_CHUNKING 0x40
void xc_smtp_ehlo_line(const char *text, size_t len, unsigned *ext,
                       uint64_t *size);

/*
 * The DATA phase (RFC 5321 4.1.1.4, 4.5.2): a resumable reader fed by the
 * connection's bytes in pieces of any size. It removes dot-stuffing,
 * finds the CRLF "." CRLF end (the terminating line is not part of the
 * message; "." CRLF right after DATA is an empty message), writes the
 * message bytes with CRLF line ends to out, counts header bytes (the
 * lines before the first empty line, with their CRLFs) and the longest
 * line (octets as written, without CRLF).
 *
 * Limits: max_size (0 = none) total message bytes, max_header (0 = none),
 * max_line (0 = none) bytes per line without CRLF. Past a limit it keeps
 * reading (so the server can answer after the end) and counting, but
 * stops writing and remembers which limit was hit first. A bare LF is a
 * line end (written as CRLF, and counted in bare_lf), a bare CR is data.
 */
typedef struct xc_smtp_data {
    /* limits, set by the caller */
    size_t max_size, max_header, max_line;
    /* results */
    size_t size;            /* message bytes written (or that would have been) */
    size_t header_size;
    size_t longest_line;
    int in_header;
    int bare_lf;            /* count */
    int over;               /* 0, or XC_SMTP_OVER_SIZE / _HEADER / _LINE (first hit) */
    /* private state */
    int state; size_t line_len;
} xc_smtp_data;
#define XC_SMTP_OVER_SIZE 1
#define XC_SMTP_OVER_HEADER 2
#define XC_SMTP_OVER_LINE 3

void xc_smtp_data_init(xc_smtp_data *d, size_t max_size, size_t max_header,
                       size_t max_line);
/*
 * Feed n bytes; returns 1 when the end line was seen (*used_r = bytes
 * consumed, the rest belongs to the next command: PIPELINING; later
 * calls return 1 and use nothing), 0 when it needs more (all n used), -1
 * if out's err is set (allocation failed, or out's own max was passed:
 * use max_size for the message limit). used_r may be NULL.
 */
int xc_smtp_data_feed(xc_smtp_data *d, const uint8_t *p, size_t n,
                      xc_wbuf *out, size_t *used_r);
/*
 * The same counters, limits and line ends for BDAT chunk bytes (RFC 3030),
 * without dot-stuffing or an end line: all n bytes are message bytes. A
 * CR at the end of a chunk is held until the next byte shows whether it
 * starts a CRLF, so after the LAST chunk call it once more with n == 0
 * (as for "BDAT 0 LAST"): that writes a held CR as data. Don't pass empty
 * chunks before that. 0, or -1 as for xc_smtp_data_feed.
 */
int xc_smtp_data_raw(xc_smtp_data *d, const uint8_t *p, size_t n,
                     xc_wbuf *out);

#endif
