/*
 * NAME
 *   xc_pop3 - POP3 command lines (RFC 1939, CAPA RFC 2449, AUTH RFC 5034,
 *   STLS RFC 2595)
 *
 * DESCRIPTION
 *   A pure parser for the POP3 server (mtad); no I/O, no allocation.
 *   xc_pop3_command splits one command line (without its CRLF) into its
 *   keyword and arguments and checks their count for the keyword. Keywords
 *   are case-insensitive; arguments are separated by single spaces (more
 *   are tolerated), except PASS, whose argument is the rest of the line
 *   (passwords may hold spaces, RFC 1939 7). Message numbers are read by
 *   xc_pop3_number.
 *
 *   Limits: a line of XC_POP3_LINE_MAX octets (RFC 2449 4 allows 255 with
 *   CRLF; AUTH initial responses make lines longer), arguments of
 *   XC_POP3_ARG_MAX octets except PASS's and AUTH's response.
 */
#ifndef XC_POP3_H
#define XC_POP3_H

#include <stddef.h>
#include <stdint.h>

#define XC_POP3_LINE_MAX 1024
#define XC_POP3_ARG_MAX 255

typedef enum xc_pop3_verb {
    XC_POP3_UNKNOWN = 0, XC_POP3_USER, XC_POP3_PASS, XC_POP3_APOP,
    XC_POP3_AUTH, XC_POP3_STLS, XC_POP3_CAPA, XC_POP3_STAT, XC_POP3_LIST,
    XC_POP3_RETR, XC_POP3_DELE, XC_POP3_NOOP, XC_POP3_RSET, XC_POP3_QUIT,
    XC_POP3_TOP, XC_POP3_UIDL, XC_POP3_UTF8
} xc_pop3_verb;

typedef struct xc_pop3_cmd {
    xc_pop3_verb verb;
    int nargs;
    const char *arg[2];     /* into the line */
    size_t arg_len[2];
} xc_pop3_cmd;

/* 0, or -1 with *error_r (too long, a NUL, CR or LF or 8-bit byte in the
   keyword, the wrong number of arguments, an argument too long). An
   unknown keyword is not an error: XC_POP3_UNKNOWN. */
int xc_pop3_command(const char *line, size_t len, xc_pop3_cmd *cmd,
                    const char **error_r);

/* A message number or line count (RFC 1939: digits; nz: not 0) of at most
   2^31 - 1: 0 and *v, or -1. */
int xc_pop3_number(const char *s, size_t len, int nz, uint32_t *v);

#endif
