/*
 * test_smtp - SMTP command lines, MAIL/RCPT paths and parameters, xtext
 * and the DATA / BDAT reader (lib/xc_smtp): every verb, a table of valid
 * and invalid addresses with their canonical text and error class (quoted
 * local parts, dots, labels, length limits, address literals, source
 * routes, <>, <Postmaster>, SMTPUTF8 and malformed UTF-8), parameters,
 * xtext round trips, and the DATA reader fed whole, byte by byte and in
 * random pieces with the same results.
 */
#include "tap.h"
#include "xc_smtp.h"

#include <stdlib.h>
#include <string.h>

/* ---- command lines ------------------------------------------------------ */

static const struct cmd_case {
    const char *line;
    size_t len;             /* 0: strlen */
    int ret;
    xc_smtp_verb verb;
    const char *arg;
} cmd_cases[] = {
    { "HELO example.com", 0, 0, XC_SMTP_HELO, "example.com" },
    { "helo example.com", 0, 0, XC_SMTP_HELO, "example.com" },
    { "EHLO  client.example  ", 0, 0, XC_SMTP_EHLO, "client.example" },
    { "EHLO [192.0.2.1]", 0, 0, XC_SMTP_EHLO, "[192.0.2.1]" },
    { "MAIL FROM:<a@b>", 0, 0, XC_SMTP_MAIL, "<a@b>" },
    { "MAIL FROM: <a@b>", 0, 0, XC_SMTP_MAIL, "<a@b>" },
    { "mail from:<a@b> SIZE=10 BODY=8BITMIME", 0, 0, XC_SMTP_MAIL,
      "<a@b> SIZE=10 BODY=8BITMIME" },
    { "Mail From:   <>   ", 0, 0, XC_SMTP_MAIL, "<>" },
    { "MAIL  FROM:<a@b>", 0, 0, XC_SMTP_MAIL, "<a@b>" },
    { "MAIL FROM:", 0, 0, XC_SMTP_MAIL, "" },
    { "MAIL TO:<a@b>", 0, -1, XC_SMTP_MAIL, NULL },
    { "MAIL", 0, -1, XC_SMTP_MAIL, NULL },
    { "MAIL FROM", 0, -1, XC_SMTP_MAIL, NULL },
    { "MAIL FROM <a@b>", 0, -1, XC_SMTP_MAIL, NULL },
    { "RCPT TO:<a@b>", 0, 0, XC_SMTP_RCPT, "<a@b>" },
    { "rcpt to: <a@b> NOTIFY=NEVER", 0, 0, XC_SMTP_RCPT,
      "<a@b> NOTIFY=NEVER" },
    { "RCPT FROM:<a@b>", 0, -1, XC_SMTP_RCPT, NULL },
    { "RCPT", 0, -1, XC_SMTP_RCPT, NULL },
    { "DATA", 0, 0, XC_SMTP_DATA, "" },
    { "data ", 0, 0, XC_SMTP_DATA, "" },
    { "BDAT 1000 LAST", 0, 0, XC_SMTP_BDAT, "1000 LAST" },
    { "RSET", 0, 0, XC_SMTP_RSET, "" },
    { "NOOP anything", 0, 0, XC_SMTP_NOOP, "anything" },
    { "QUIT", 0, 0, XC_SMTP_QUIT, "" },
    { "VRFY user", 0, 0, XC_SMTP_VRFY, "user" },
    { "EXPN list", 0, 0, XC_SMTP_EXPN, "list" },
    { "HELP", 0, 0, XC_SMTP_HELP, "" },
    { "HELP MAIL", 0, 0, XC_SMTP_HELP, "MAIL" },
    { "STARTTLS", 0, 0, XC_SMTP_STARTTLS, "" },
    { "StartTLS", 0, 0, XC_SMTP_STARTTLS, "" },
    { "AUTH PLAIN dGVzdA==", 0, 0, XC_SMTP_AUTH, "PLAIN dGVzdA==" },
    { "FOO bar", 0, 0, XC_SMTP_UNKNOWN, "bar" },
    { "", 0, 0, XC_SMTP_UNKNOWN, "" },
    { "DATAX", 0, 0, XC_SMTP_UNKNOWN, "" },
    { "MAILFROM:<a@b>", 0, 0, XC_SMTP_UNKNOWN, "" },
    { " HELO x", 0, 0, XC_SMTP_UNKNOWN, "HELO x" },
    { "GET / HTTP/1.1", 0, 0, XC_SMTP_UNKNOWN, "/ HTTP/1.1" },
    { "HELO caf\xc3\xa9.example", 0, 0, XC_SMTP_HELO, "caf\xc3\xa9.example" },
    { "HEL\xc3\x89 x", 0, -1, XC_SMTP_UNKNOWN, NULL },
    { "\xff", 0, -1, XC_SMTP_UNKNOWN, NULL },
    { "HELO a\rb", 0, -1, XC_SMTP_HELO, NULL },
    { "HELO a\nb", 0, -1, XC_SMTP_HELO, NULL },
    { "HELO a\r", 0, -1, XC_SMTP_HELO, NULL },
    { "HELO a\0b", 8, -1, XC_SMTP_HELO, NULL },
    { "\0", 1, -1, XC_SMTP_UNKNOWN, NULL },
};

static void test_commands(void)
{
    static char long_line[XC_SMTP_CMD_MAX + 2];
    xc_smtp_cmd cmd;
    const char *error;

    test_begin("commands: every verb, case, MAIL FROM: spacing, garbage");
    for (size_t i = 0; i < N_ELEMENTS(cmd_cases); i++) {
        const struct cmd_case *c = &cmd_cases[i];
        size_t len = c->len ? c->len : strlen(c->line);
        int r;

        error = NULL;
        r = xc_smtp_command(c->line, len, &cmd, &error);
        test_assert_idx(r == c->ret, i);
        if (r != 0) {
            test_assert_idx(error != NULL && error[0] != '\0', i);
            continue;
        }
        test_assert_idx(cmd.verb == c->verb, i);
        test_assert_idx(cmd.arg_len == strlen(c->arg) &&
                        memcmp(cmd.arg, c->arg, cmd.arg_len) == 0, i);
        test_assert_idx(cmd.arg >= c->line && cmd.arg + cmd.arg_len <=
                        c->line + len, i);
    }
    test_end();

    test_begin("commands: the line length limit");
    memcpy(long_line, "NOOP ", 5);
    memset(long_line + 5, 'x', sizeof(long_line) - 5);
    test_assert(xc_smtp_command(long_line, XC_SMTP_CMD_MAX, &cmd, &error) == 0);
    test_assert(cmd.verb == XC_SMTP_NOOP &&
                cmd.arg_len == XC_SMTP_CMD_MAX - 5);
    error = NULL;
    test_assert(xc_smtp_command(long_line, XC_SMTP_CMD_MAX + 1, &cmd,
                                &error) == -1);
    test_assert(error != NULL);
    test_end();
}

/* ---- paths ---------------------------------------------------------------- */

#define NUL_ XC_SMTP_ALLOW_NULL
#define PM_ XC_SMTP_ALLOW_POSTMASTER
#define U8_ XC_SMTP_UTF8

static const struct path_case {
    const char *in;
    int flags;
    int ret;
    const char *text;       /* canonical text when ret is XC_SMTP_OK */
    int utf8;
} path_cases[] = {
    /* plain */
    { "<user@example.com>", 0, XC_SMTP_OK, "user@example.com", 0 },
    { "<User.Name@Example.COM>", 0, XC_SMTP_OK, "User.Name@example.com", 0 },
    { "  <a@b>", 0, XC_SMTP_OK, "a@b", 0 },
    { "<a@b>   ", 0, XC_SMTP_OK, "a@b", 0 },
    { "<a@localhost>", 0, XC_SMTP_OK, "a@localhost", 0 },
    { "<a@1.2.3.4>", 0, XC_SMTP_OK, "a@1.2.3.4", 0 },
    { "<a@x-y.example>", 0, XC_SMTP_OK, "a@x-y.example", 0 },
    { "<a@x--y.example>", 0, XC_SMTP_OK, "a@x--y.example", 0 },
    { "<!#$%&'*+-/=?^_`{|}~@x>", 0, XC_SMTP_OK, "!#$%&'*+-/=?^_`{|}~@x", 0 },
    { "<first.last+tag@sub.example.org>", 0, XC_SMTP_OK,
      "first.last+tag@sub.example.org", 0 },
    /* quoted local parts */
    { "<\"john\"@x>", 0, XC_SMTP_OK, "john@x", 0 },
    { "<\"john.doe\"@x>", 0, XC_SMTP_OK, "john.doe@x", 0 },
    { "<\"a b\"@x>", 0, XC_SMTP_OK, "\"a b\"@x", 0 },
    { "<\"\\\"q\\\"\"@x>", 0, XC_SMTP_OK, "\"\\\"q\\\"\"@x", 0 },
    { "<\"a\\b\"@x>", 0, XC_SMTP_OK, "ab@x", 0 },
    { "<\"a\\ b\"@x>", 0, XC_SMTP_OK, "\"a b\"@x", 0 },
    { "<\"a\\\\b\"@x>", 0, XC_SMTP_OK, "\"a\\\\b\"@x", 0 },
    { "<\"a..b\"@x>", 0, XC_SMTP_OK, "\"a..b\"@x", 0 },
    { "<\".a\"@x>", 0, XC_SMTP_OK, "\".a\"@x", 0 },
    { "<\"a.\"@x>", 0, XC_SMTP_OK, "\"a.\"@x", 0 },
    { "<\"a@b\"@x>", 0, XC_SMTP_OK, "\"a@b\"@x", 0 },
    { "<\"\"@x>", 0, XC_SMTP_OK, "\"\"@x", 0 },
    { "<\"(comment)\"@x>", 0, XC_SMTP_OK, "\"(comment)\"@x", 0 },
    { "<\"a@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<\"a\tb\"@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<\"a\\\x01\"@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<\"a\"b@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a\"b\"@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    /* dots */
    { "<.a@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a.@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a..b@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<.@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@.x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@x.>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@x..y>", 0, XC_SMTP_EPATH, NULL, 0 },
    /* labels and other domain syntax */
    { "<a@-x.example>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@x-.example>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@x.-example>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@x_y.example>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@x y>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@b@c>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a b@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a(b)@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<user@xn--bcher-kva.example>", 0, XC_SMTP_OK,
      "user@xn--bcher-kva.example", 0 },
    /* brackets */
    { "", 0, XC_SMTP_EPATH, NULL, 0 },
    { "a@b", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@b", 0, XC_SMTP_EPATH, NULL, 0 },
    { "a@b>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@b>x", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@b>>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<<a@b>>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "\"Name\" <a@b>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<", 0, XC_SMTP_EPATH, NULL, 0 },
    /* address literals */
    { "<a@[192.0.2.1]>", 0, XC_SMTP_OK, "a@[192.0.2.1]", 0 },
    { "<a@[0.0.0.0]>", 0, XC_SMTP_OK, "a@[0.0.0.0]", 0 },
    { "<a@[255.255.255.255]>", 0, XC_SMTP_OK, "a@[255.255.255.255]", 0 },
    { "<a@[1.2.3.256]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[1.2.3]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[1.2.3.4.5]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[01.2.3.4]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[1..3.4]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[example.com]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[192.0.2.1>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[IPv6:::1]>", 0, XC_SMTP_OK, "a@[IPv6:::1]", 0 },
    { "<a@[IPv6:2001:db8::1]>", 0, XC_SMTP_OK, "a@[IPv6:2001:db8::1]", 0 },
    { "<a@[ipv6:2001:DB8::A]>", 0, XC_SMTP_OK, "a@[IPv6:2001:db8::a]", 0 },
    { "<a@[IPv6:2001:db8:0:0:0:0:0:1]>", 0, XC_SMTP_OK,
      "a@[IPv6:2001:db8:0:0:0:0:0:1]", 0 },
    { "<a@[IPv6:::ffff:192.0.2.1]>", 0, XC_SMTP_OK,
      "a@[IPv6:::ffff:192.0.2.1]", 0 },
    { "<a@[IPv6:1::2::3]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[IPv6:12345::1]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[IPv6:192.0.2.1]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[IPv6:]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[IPv6:g::1]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[::1]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[x-tag:Some=Thing]>", 0, XC_SMTP_OK, "a@[x-tag:Some=Thing]", 0 },
    { "<a@[tag:]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[tag-:x]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[a_b:x]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[tag:a\\b]>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[tag:a b]>", 0, XC_SMTP_EPATH, NULL, 0 },
    /* source routes */
    { "<@a,@b:user@d>", 0, XC_SMTP_OK, "user@d", 0 },
    { "<@relay.example:User@D.example>", 0, XC_SMTP_OK, "User@d.example", 0 },
    { "<@a,@b,@c.d:\"x y\"@e>", 0, XC_SMTP_OK, "\"x y\"@e", 0 },
    { "<@:a@b>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<@a,b:c@d>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<@a c@d>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<@a,:c@d>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<@-a:c@d>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<@a:>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<@a:Postmaster>", PM_, XC_SMTP_EPATH, NULL, 0 },
    /* <> and <Postmaster> */
    { "<>", NUL_, XC_SMTP_OK, "", 0 },
    { "<>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<>", PM_ | U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<> SIZE=100", NUL_, XC_SMTP_OK, "", 0 },
    { "<>x", NUL_, XC_SMTP_EPATH, NULL, 0 },
    { "<Postmaster>", PM_, XC_SMTP_OK, "Postmaster", 0 },
    { "<postmaster>", PM_, XC_SMTP_OK, "Postmaster", 0 },
    { "<POSTMASTER>", PM_ | NUL_, XC_SMTP_OK, "Postmaster", 0 },
    { "<Postmaster>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<Postmaster>", NUL_, XC_SMTP_EPATH, NULL, 0 },
    { "<\"Postmaster\">", PM_, XC_SMTP_EPATH, NULL, 0 },
    { "<Postmaster2>", PM_, XC_SMTP_EPATH, NULL, 0 },
    { "<Postmaster@Example.com>", 0, XC_SMTP_OK, "Postmaster@example.com", 0 },
    /* SMTPUTF8 */
    { "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>",
      U8_, XC_SMTP_OK,
      "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", 1 },
    { "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>",
      0, XC_SMTP_EPATH, NULL, 0 },
    { "<j\xc3\xb6" "e@B\xc3\xbc" "cher.Example>", U8_, XC_SMTP_OK,
      "j\xc3\xb6" "e@b\xc3\xbc" "cher.example", 1 },
    { "<j\xc3\xb6" "e@b\xc3\xbc" "cher.example>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<joe@b\xc3\xbc" "cher.example>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<j\xc3\xb6" "e@example.com>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<\"j\xc3\xb6 e\"@x>", U8_, XC_SMTP_OK, "\"j\xc3\xb6 e\"@x", 1 },
    { "<\"j\xc3\xb6" "e\"@x>", U8_, XC_SMTP_OK, "j\xc3\xb6" "e@x", 1 },
    { "<\"j\xc3\xb6 e\"@x>", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@x>", U8_, XC_SMTP_OK, "a@x", 0 },
    { "<a\xc0\x80@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a\xc1\xbf@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a\xe0\x80\xaf@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a\x80@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<\xbf" "a@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a\xed\xa0\x80@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a\xc2\x85@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a\xc2\x9f@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a\xc2\xa0@x>", U8_, XC_SMTP_OK, "a\xc2\xa0@x", 1 },
    { "<a\xe4\xbd@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a\xf4\x90\x80\x80@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a\xff@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a@x\xc0\x80.y>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a@x\xed\xa0\x80>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<\"a\xc0\x80\"@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<\"a\\\xc3\xa9\"@x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a@[IPv6:\xc3\xa9]>", U8_, XC_SMTP_EPATH, NULL, 0 },
    { "<a@\xe4\xbe\x8b-.x>", U8_, XC_SMTP_EPATH, NULL, 0 },
    /* parameters */
    { "<a@b> SIZE=1000 BODY=8BITMIME SMTPUTF8", 0, XC_SMTP_OK, "a@b", 0 },
    { "<a@b>   SIZE=1000   ", 0, XC_SMTP_OK, "a@b", 0 },
    { "<a@b> X-Y-1=v", 0, XC_SMTP_OK, "a@b", 0 },
    { "<a@b> 8=a", 0, XC_SMTP_OK, "a@b", 0 },
    { "<a@b> ENVID=QQ+2B+3D~!", 0, XC_SMTP_OK, "a@b", 0 },
    { "<a@b> SIZE=", 0, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> =1", 0, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> -X=1", 0, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> A_B=1", 0, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> X=a=b", 0, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> X=a\x01", 0, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> X=\x7f", 0, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> X=a\tb", 0, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b>\tX=1", 0, XC_SMTP_EPATH, NULL, 0 },
    { "<a@b> X=\xc3\xa9", 0, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> X=\xc3\xa9", U8_, XC_SMTP_OK, "a@b", 0 },
    { "<a@b> X=\xc3", U8_, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> X\xc3\xa9=1", U8_, XC_SMTP_EPARAM, "a@b", 0 },
    { "<a@b> 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", 0, XC_SMTP_OK,
      "a@b", 0 },
    { "<a@b> 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", 0,
      XC_SMTP_EPARAM, "a@b", 0 },
};

static int path_again(const xc_smtp_addr *a, int flags)
{
    char buf[XC_SMTP_PATH_MAX + 3];
    xc_smtp_addr b;
    const char *error;
    size_t n = strlen(a->text);

    buf[0] = '<';
    memcpy(buf + 1, a->text, n);
    buf[n + 1] = '>';
    return xc_smtp_path(buf, n + 2, flags, &b, NULL, 0, NULL, &error) ==
               XC_SMTP_OK &&
           strcmp(a->text, b.text) == 0 && strcmp(a->local, b.local) == 0 &&
           strcmp(a->domain, b.domain) == 0 && a->utf8 == b.utf8 &&
           a->null == b.null;
}

static void test_paths(void)
{
    xc_smtp_param params[XC_SMTP_PARAMS_MAX];
    xc_smtp_addr a;

    test_begin("paths: canonical text and error class, stable on reparse");
    for (size_t i = 0; i < N_ELEMENTS(path_cases); i++) {
        const struct path_case *c = &path_cases[i];
        const char *error = NULL;
        size_t np = 99;
        int r = xc_smtp_path(c->in, strlen(c->in), c->flags, &a, params,
                             XC_SMTP_PARAMS_MAX, &np, &error);

        test_assert_idx(r == c->ret, i);
        if (r != XC_SMTP_OK)
            test_assert_idx(error != NULL && error[0] != '\0', i);
        if (r == XC_SMTP_OK || r == XC_SMTP_EPARAM) {
            test_assert_idx(c->text != NULL && strcmp(a.text, c->text) == 0,
                            i);
        }
        if (r != XC_SMTP_OK)
            continue;
        test_assert_idx(np <= XC_SMTP_PARAMS_MAX, i);
        test_assert_idx(a.utf8 == c->utf8, i);
        test_assert_idx(a.null == (c->in[0] == '<' && c->in[1] == '>'), i);
        test_assert_idx(path_again(&a, c->flags), i);
    }
    test_end();

    test_begin("paths: local, domain and special fields");
    {
        const char *error;
        test_assert(xc_smtp_path("<\"a b\"@Example.COM>", 19, 0, &a, NULL, 0,
                                 NULL, &error) == XC_SMTP_OK);
        test_assert(strcmp(a.local, "\"a b\"") == 0);
        test_assert(strcmp(a.domain, "example.com") == 0);
        test_assert(xc_smtp_path("<a@[192.0.2.1]>", 15, 0, &a, NULL, 0, NULL,
                                 &error) == XC_SMTP_OK);
        test_assert(strcmp(a.domain, "[192.0.2.1]") == 0);
        test_assert(xc_smtp_path("<postmaster>", 12, PM_, &a, NULL, 0, NULL,
                                 &error) == XC_SMTP_OK);
        test_assert(strcmp(a.domain, "") == 0 && !a.null &&
                    strcmp(a.local, "Postmaster") == 0);
        test_assert(xc_smtp_path("<>", 2, NUL_, &a, NULL, 0, NULL,
                                 &error) == XC_SMTP_OK);
        test_assert(a.null && a.text[0] == '\0' && a.local[0] == '\0' &&
                    a.domain[0] == '\0');
        /* no room for parameters */
        test_assert(xc_smtp_path("<a@b> SIZE=1", 12, 0, &a, NULL, 0, NULL,
                                 &error) == XC_SMTP_EPARAM);
    }
    test_end();

    test_begin("paths: parameters");
    {
        static const char arg[] = "<a@b>  SIZE=1000 BODY=8BITMIME  SMTPUTF8 ";
        const char *error;
        size_t np = 0;

        test_assert(xc_smtp_path(arg, strlen(arg), 0, &a, params,
                                 XC_SMTP_PARAMS_MAX, &np, &error) ==
                    XC_SMTP_OK);
        test_assert(np == 3);
        test_assert(xc_smtp_param_is(&params[0], "size") &&
                    params[0].value_len == 4 &&
                    memcmp(params[0].value, "1000", 4) == 0);
        test_assert(xc_smtp_param_is(&params[1], "BODY") &&
                    params[1].value_len == 8 &&
                    memcmp(params[1].value, "8BITMIME", 8) == 0);
        test_assert(xc_smtp_param_is(&params[2], "SmtpUtf8") &&
                    params[2].value == NULL && params[2].value_len == 0);
        test_assert(!xc_smtp_param_is(&params[2], "SMTPUTF"));
        test_assert(!xc_smtp_param_is(&params[0], "SIZES"));
        test_assert(params[0].key == arg + 7 && params[0].key_len == 4);
        /* a lower max_params */
        test_assert(xc_smtp_path(arg, strlen(arg), 0, &a, params, 2, &np,
                                 &error) == XC_SMTP_EPARAM);
        test_assert(xc_smtp_path(arg, strlen(arg), 0, &a, params, 3, &np,
                                 &error) == XC_SMTP_OK && np == 3);
        /* duplicates are the caller's */
        test_assert(xc_smtp_path("<a@b> SIZE=1 SIZE=2", 19, 0, &a, params,
                                 XC_SMTP_PARAMS_MAX, &np, &error) ==
                    XC_SMTP_OK && np == 2);
    }
    test_end();
}

/* "<" local "@" domain ">" with the given part lengths */
static int path_of(size_t local_len, int quoted, const size_t *labels,
                   size_t nlabels, xc_smtp_addr *a)
{
    char buf[1024];
    size_t o = 0;
    const char *error;

    buf[o++] = '<';
    if (quoted)
        buf[o++] = '"';
    for (size_t i = 0; i < local_len; i++)
        buf[o++] = quoted && i == 0 ? ' ' : 'l';
    if (quoted)
        buf[o++] = '"';
    buf[o++] = '@';
    for (size_t k = 0; k < nlabels; k++) {
        if (k > 0)
            buf[o++] = '.';
        for (size_t i = 0; i < labels[k]; i++)
            buf[o++] = (char)('a' + i % 26);
    }
    buf[o++] = '>';
    return xc_smtp_path(buf, o, 0, a, NULL, 0, NULL, &error);
}

static void test_limits(void)
{
    static const size_t l63[] = { 63, 7 }, l64[] = { 64, 7 },
        d251[] = { 63, 63, 63, 59 },       /* 251 octets */
        d252[] = { 63, 63, 63, 60 },
        d255[] = { 63, 63, 63, 63 },
        d256[] = { 63, 63, 63, 63, 0 };
    static const size_t d257[] = { 63, 63, 63, 63, 1 };
    xc_smtp_addr a;

    test_begin("limits: labels, domain, local part, path");
    test_assert(path_of(1, 0, l63, 2, &a) == XC_SMTP_OK);
    test_assert(path_of(1, 0, l64, 2, &a) == XC_SMTP_ELONG);
    test_assert(path_of(64, 0, l63, 2, &a) == XC_SMTP_OK);
    test_assert(strlen(a.local) == 64);
    test_assert(path_of(65, 0, l63, 2, &a) == XC_SMTP_ELONG);
    /* quoted: the canonical form with its quotes counts */
    test_assert(path_of(62, 1, l63, 2, &a) == XC_SMTP_OK);
    test_assert(strlen(a.local) == 64 && path_again(&a, 0));
    test_assert(path_of(63, 1, l63, 2, &a) == XC_SMTP_ELONG);
    test_assert(path_of(65, 1, l63, 2, &a) == XC_SMTP_ELONG);
    test_assert(path_of(900, 1, l63, 2, &a) == XC_SMTP_ELONG);
    /* "l@" + 251 = 253 octets, "<...>" 255 */
    test_assert(path_of(1, 0, d251, 4, &a) == XC_SMTP_OK);
    test_assert(strlen(a.text) == 253);
    /* 254 octets: the whole path is 256 */
    test_assert(path_of(1, 0, d252, 4, &a) == XC_SMTP_OK);
    test_assert(strlen(a.text) == 254 && path_again(&a, 0));
    test_assert(path_of(2, 0, d252, 4, &a) == XC_SMTP_ELONG);
    test_assert(path_of(1, 0, d255, 4, &a) == XC_SMTP_ELONG);
    test_assert(path_of(1, 0, d256, 5, &a) == XC_SMTP_EPATH);  /* empty label */
    test_assert(path_of(1, 0, d257, 5, &a) == XC_SMTP_ELONG);
    test_end();
}

/* ---- xtext ---------------------------------------------------------------- */

static const struct xtext_case {
    const char *in;
    int ret;
    const char *out;
} xtext_cases[] = {
    { "abc", 0, "abc" },
    { "", 0, "" },
    { "a+2Bb", 0, "a+b" },
    { "+3D", 0, "=" },
    { "rfc822;a+2Bb@x", 0, "rfc822;a+b@x" },
    { "+20+7F+FF", 0, " \x7f\xff" },
    { "+41", 0, "A" },
    { "+4", -1, NULL },
    { "+", -1, NULL },
    { "+zz", -1, NULL },
    { "+2b", -1, NULL },
    { "+aB", -1, NULL },
    { "+00", -1, NULL },
    { "a=b", -1, NULL },
    { "a b", -1, NULL },
    { "a\x7f", -1, NULL },
    { "\xc3\xa9", -1, NULL },
};

static void test_xtext(void)
{
    char dst[64], enc[256];

    test_begin("xtext: decode");
    for (size_t i = 0; i < N_ELEMENTS(xtext_cases); i++) {
        const struct xtext_case *c = &xtext_cases[i];
        int r = xc_smtp_xtext_decode(c->in, strlen(c->in), dst, sizeof(dst));

        test_assert_idx(r == c->ret, i);
        if (r == 0)
            test_assert_idx(strcmp(dst, c->out) == 0, i);
    }
    /* exactly fitting, one short */
    test_assert(xc_smtp_xtext_decode("abc", 3, dst, 4) == 0);
    test_assert(xc_smtp_xtext_decode("a+2B", 4, dst, 3) == 0 &&
                strcmp(dst, "a+") == 0);
    test_assert(xc_smtp_xtext_decode("abc", 3, dst, 3) == -1);
    test_assert(xc_smtp_xtext_decode("", 0, dst, 0) == -1);
    test_end();

    test_begin("xtext: encode and round trips of every byte");
    test_assert(xc_smtp_xtext_encode("a+b=c d", 7, enc, sizeof(enc)) == 0);
    test_assert(strcmp(enc, "a+2Bb+3Dc+20d") == 0);
    test_assert(xc_smtp_xtext_encode("a\0b", 3, enc, sizeof(enc)) == -1);
    test_assert(xc_smtp_xtext_encode("+", 1, enc, 4) == 0);
    test_assert(xc_smtp_xtext_encode("+", 1, enc, 3) == -1);
    {
        char all[255], back[256];
        for (int c = 1; c < 256; c++)
            all[c - 1] = (char)c;
        /* 255 + 2 * 163 octets: no room */
        test_assert(xc_smtp_xtext_encode(all, sizeof(all), enc,
                                         sizeof(enc)) == -1);
        for (size_t off = 0; off < sizeof(all); off += 50) {
            size_t k = sizeof(all) - off < 50 ? sizeof(all) - off : 50;
            test_assert_idx(xc_smtp_xtext_encode(all + off, k, enc,
                                                 sizeof(enc)) == 0, off);
            test_assert_idx(xc_smtp_xtext_decode(enc, strlen(enc), back,
                                                 sizeof(back)) == 0, off);
            test_assert_idx(strlen(back) == k &&
                            memcmp(back, all + off, k) == 0, off);
        }
    }
    test_end();
}

/* ---- the DATA reader -------------------------------------------------------- */

#define ALL ((size_t)-1)

static const struct data_case {
    const char *in;
    size_t max_size, max_header, max_line;
    int ret;
    size_t used;            /* ALL: the whole input */
    const char *out;
    size_t size, header, longest;
    int in_header, bare_lf, over;
} data_cases[] = {
    { "Subject: x\r\n\r\nbody\r\n.\r\n", 0, 0, 0, 1, ALL,
      "Subject: x\r\n\r\nbody\r\n", 20, 12, 10, 0, 0, 0 },
    /* an empty message */
    { ".\r\n", 0, 0, 0, 1, ALL, "", 0, 0, 0, 1, 0, 0 },
    { "\r\n.\r\n", 0, 0, 0, 1, ALL, "\r\n", 2, 0, 0, 0, 0, 0 },
    /* dot-stuffing */
    { "..x\r\n.\r\n", 0, 0, 0, 1, ALL, ".x\r\n", 4, 4, 2, 1, 0, 0 },
    { "a\r\n..\r\n.\r\n", 0, 0, 0, 1, ALL, "a\r\n.\r\n", 6, 6, 1, 1, 0, 0 },
    { "..\r\n.\r\n", 0, 0, 0, 1, ALL, ".\r\n", 3, 3, 1, 1, 0, 0 },
    { "...\r\n.\r\n", 0, 0, 0, 1, ALL, "..\r\n", 4, 4, 2, 1, 0, 0 },
    { "x.\r\n.y\r\n.\r\n", 0, 0, 0, 1, ALL, "x.\r\ny\r\n", 7, 7, 2, 1, 0, 0 },
    /* a "." that is not a line of its own */
    { "a.\r\n.\r\n", 0, 0, 0, 1, ALL, "a.\r\n", 4, 4, 2, 1, 0, 0 },
    { "a\r\n .\r\nb\r\n.\r\n", 0, 0, 0, 1, ALL, "a\r\n .\r\nb\r\n", 10, 10,
      2, 1, 0, 0 },
    { "a\r\nx.\r\n.\r", 0, 0, 0, 0, ALL, "a\r\nx.\r\n", 7, 7, 2, 1, 0, 0 },
    { "a\r\n.\r", 0, 0, 0, 0, ALL, "a\r\n", 3, 3, 1, 1, 0, 0 },
    { "a\r\n.", 0, 0, 0, 0, ALL, "a\r\n", 3, 3, 1, 1, 0, 0 },
    /* the next command follows the end (PIPELINING) */
    { "a\r\n.\r\nMAIL FROM:<x@y>\r\n", 0, 0, 0, 1, 6, "a\r\n", 3, 3, 1, 1,
      0, 0 },
    { ".\r\n.\r\n", 0, 0, 0, 1, 3, "", 0, 0, 0, 1, 0, 0 },
    { "a\r\n.\r\nQUIT", 0, 0, 0, 1, 6, "a\r\n", 3, 3, 1, 1, 0, 0 },
    /* bare LF: a line end, but never part of the end line */
    { "a\nb\r\n.\r\n", 0, 0, 0, 1, ALL, "a\r\nb\r\n", 6, 6, 1, 1, 1, 0 },
    { "a\n.\r\n.\r\n", 0, 0, 0, 1, ALL, "a\r\n.\r\n", 6, 6, 1, 1, 1, 0 },
    { "a\r\n.\nb\r\n.\r\n", 0, 0, 0, 1, ALL, "a\r\n.\r\nb\r\n", 9, 9, 1, 1,
      1, 0 },
    { "a\nb\n.\r\n", 0, 0, 0, 0, ALL, "a\r\nb\r\n.\r\n", 9, 9, 1, 1, 2, 0 },
    { "a\r\n.\n", 0, 0, 0, 0, ALL, "a\r\n.\r\n", 6, 6, 1, 1, 1, 0 },
    { "a\r\n\n.\r\nb\r\n.\r\n", 0, 0, 0, 1, ALL, "a\r\n\r\n.\r\nb\r\n", 11,
      3, 1, 0, 1, 0 },
    { "a\n..b\r\n.\r\n", 0, 0, 0, 1, ALL, "a\r\n.b\r\n", 7, 7, 2, 1, 1, 0 },
    /* bare CR: data */
    { "a\rb\r\n.\r\n", 0, 0, 0, 1, ALL, "a\rb\r\n", 5, 5, 3, 1, 0, 0 },
    { ".\rx\r\n.\r\n", 0, 0, 0, 1, ALL, "\rx\r\n", 4, 4, 2, 1, 0, 0 },
    { "\r\r\n.\r\n", 0, 0, 0, 1, ALL, "\r\r\n", 3, 3, 1, 1, 0, 0 },
    { ".\r\r\n.\r\n", 0, 0, 0, 1, ALL, "\r\r\n", 3, 3, 1, 1, 0, 0 },
    /* limits: writing stops, counting and the end go on */
    { "0123456789ABC\r\n.\r\n", 10, 0, 0, 1, ALL, "0123456789", 15, 15, 13,
      1, 0, XC_SMTP_OVER_SIZE },
    { "abc\r\n.\r\n", 5, 0, 0, 1, ALL, "abc\r\n", 5, 5, 3, 1, 0, 0 },
    { "abc\r\n.\r\n", 4, 0, 0, 1, ALL, "abc", 5, 5, 3, 1, 0,
      XC_SMTP_OVER_SIZE },
    { "Subject: x\r\n\r\nbody\r\n.\r\n", 0, 5, 0, 1, ALL, "Subje", 20, 12,
      10, 0, 0, XC_SMTP_OVER_HEADER },
    { "S: x\r\n\r\n0123456789012345678901234567890\r\n.\r\n", 0, 6, 0, 1,
      ALL, "S: x\r\n\r\n0123456789012345678901234567890\r\n", 41, 6, 31, 0,
      0, 0 },
    { "abc\r\nabcdef\r\nxy\r\n.\r\n", 0, 0, 4, 1, ALL, "abc\r\nabcd", 17,
      17, 6, 1, 0, XC_SMTP_OVER_LINE },
    { "abcd\r\n.\r\n", 0, 0, 4, 1, ALL, "abcd\r\n", 6, 6, 4, 1, 0, 0 },
    { "abcd\r\n.\r\n", 2, 0, 3, 1, ALL, "ab", 6, 6, 4, 1, 0,
      XC_SMTP_OVER_SIZE },
    { "abcd\r\n.\r\n", 3, 3, 3, 1, ALL, "abc", 6, 6, 4, 1, 0,
      XC_SMTP_OVER_SIZE },
    { "abcd\r\n.\r\n", 0, 3, 3, 1, ALL, "abc", 6, 6, 4, 1, 0,
      XC_SMTP_OVER_HEADER },
    { "abcdef\r\n.\r\n", 0, 0, 5, 1, ALL, "abcde", 8, 8, 6, 1, 0,
      XC_SMTP_OVER_LINE },
    { "a\r\n..........\r\n.\r\n", 0, 0, 5, 1, ALL, "a\r\n.....", 14, 14, 9,
      1, 0, XC_SMTP_OVER_LINE },
};

typedef struct data_result {
    int ret;
    size_t used;
    xc_smtp_data d;
    xc_wbuf out;
} data_result;

/* Feed in pieces: step 0 whole, 1 byte by byte, else random sizes from seed. */
static void data_run(const uint8_t *in, size_t n, size_t max_size,
                     size_t max_header, size_t max_line, int step,
                     uint32_t seed, data_result *res)
{
    size_t pos = 0;

    xc_smtp_data_init(&res->d, max_size, max_header, max_line);
    xc_wbuf_init(&res->out, 0);
    res->ret = 0;
    while (pos < n) {
        size_t k = n - pos, used = 0;

        if (step == 1) {
            k = 1;
        } else if (step > 1) {
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % 9;
            if (k > n - pos)
                k = n - pos;
        }
        res->ret = xc_smtp_data_feed(&res->d, in + pos, k, &res->out, &used);
        pos += used;
        if (res->ret != 0)
            break;
    }
    res->used = pos;
}

static int same_data(const data_result *a, const data_result *b)
{
    return a->ret == b->ret && a->used == b->used &&
           a->out.len == b->out.len &&
           (a->out.len == 0 || memcmp(a->out.p, b->out.p, a->out.len) == 0) &&
           a->d.size == b->d.size && a->d.header_size == b->d.header_size &&
           a->d.longest_line == b->d.longest_line &&
           a->d.in_header == b->d.in_header && a->d.bare_lf == b->d.bare_lf &&
           a->d.over == b->d.over;
}

static void test_data(void)
{
    test_begin("DATA: whole, byte by byte and in random pieces");
    for (size_t i = 0; i < N_ELEMENTS(data_cases); i++) {
        const struct data_case *c = &data_cases[i];
        size_t n = strlen(c->in);
        data_result whole;

        data_run((const uint8_t *)c->in, n, c->max_size, c->max_header,
                 c->max_line, 0, 0, &whole);
        test_assert_idx(whole.ret == c->ret, i);
        test_assert_idx(whole.used == (c->used == ALL ? n : c->used), i);
        test_assert_idx(whole.out.len == strlen(c->out) &&
                        (whole.out.len == 0 ||
                         memcmp(whole.out.p, c->out, whole.out.len) == 0), i);
        test_assert_idx(whole.d.size == c->size, i);
        test_assert_idx(whole.d.header_size == c->header, i);
        test_assert_idx(whole.d.longest_line == c->longest, i);
        test_assert_idx(whole.d.in_header == c->in_header, i);
        test_assert_idx(whole.d.bare_lf == c->bare_lf, i);
        test_assert_idx(whole.d.over == c->over, i);
        for (int step = 1; step < 8; step++) {
            data_result part;

            data_run((const uint8_t *)c->in, n, c->max_size, c->max_header,
                     c->max_line, step, (uint32_t)(i * 31 + (size_t)step),
                     &part);
            test_assert_idx(same_data(&whole, &part), i);
            xc_wbuf_free(&part.out);
        }
        xc_wbuf_free(&whole.out);
    }
    test_end();

    test_begin("DATA: after the end nothing more is used");
    {
        xc_smtp_data d;
        xc_wbuf out;
        size_t used = 99;

        xc_wbuf_init(&out, 0);
        xc_smtp_data_init(&d, 0, 0, 0);
        test_assert(xc_smtp_data_feed(&d, (const uint8_t *)"x\r\n.\r\n", 6,
                                      &out, &used) == 1 && used == 6);
        test_assert(xc_smtp_data_feed(&d, (const uint8_t *)"y\r\n", 3, &out,
                                      &used) == 1 && used == 0);
        test_assert(xc_smtp_data_feed(&d, NULL, 0, &out, NULL) == 1);
        test_assert(out.len == 3);
        /* a writer that can't grow */
        xc_wbuf_free(&out);
        xc_wbuf_init(&out, 2);
        xc_smtp_data_init(&d, 0, 0, 0);
        test_assert(xc_smtp_data_feed(&d, (const uint8_t *)"xyz\r\n.\r\n", 8,
                                      &out, &used) == -1);
        xc_wbuf_free(&out);
    }
    test_end();

    test_begin("DATA: 3000 random messages, pieces agree, stuffing round trip");
    {
        static const char *const pieces[] = {
            "\r\n", "\n", "\r", ".", "..", "\r\n.\r\n", "\r\n..", "\n.\r\n",
            "x", "Subject: y", " ", "\r\n\r\n", ".\n", "abcdefgh",
        };
        uint32_t seed = 4711;

        for (int k = 0; k < 3000; k++) {
            xc_wbuf m, st;
            data_result whole, bytes, part, again;
            size_t ms, mh, ml;
            int parts;

            xc_wbuf_init(&m, 0);
            xc_wbuf_init(&st, 0);
            seed = seed * 1103515245u + 12345u;
            parts = 1 + (int)((seed >> 16) % 30);
            for (int i = 0; i < parts; i++) {
                const char *p;
                seed = seed * 1103515245u + 12345u;
                p = pieces[(seed >> 16) % N_ELEMENTS(pieces)];
                xc_put_bytes(&m, p, strlen(p));
            }
            seed = seed * 1103515245u + 12345u;
            ms = (seed >> 16) % 4 == 0 ? (seed >> 8) % 40 : 0;
            mh = (seed >> 18) % 4 == 0 ? (seed >> 10) % 20 : 0;
            ml = (seed >> 20) % 4 == 0 ? (seed >> 12) % 10 : 0;
            data_run(m.p, m.len, ms, mh, ml, 0, 0, &whole);
            data_run(m.p, m.len, ms, mh, ml, 1, 0, &bytes);
            data_run(m.p, m.len, ms, mh, ml, 2, seed, &part);
            test_assert_idx(same_data(&whole, &bytes), k);
            test_assert_idx(same_data(&whole, &part), k);
            test_assert_idx(whole.out.len <= whole.d.size, k);
            test_assert_idx(whole.d.over || whole.out.len == whole.d.size, k);
            /* the message written out, dot-stuffed and ended, reads back */
            if (whole.ret == 1 && !whole.d.over) {
                int bol = 1;
                for (size_t i = 0; i < whole.out.len; i++) {
                    if (bol && whole.out.p[i] == '.')
                        xc_put_bytes(&st, ".", 1);
                    xc_put_bytes(&st, whole.out.p + i, 1);
                    bol = whole.out.p[i] == '\n';
                    if (whole.out.p[i] == '\n')
                        test_assert_idx(i > 0 && whole.out.p[i - 1] == '\r',
                                        k);
                }
                xc_put_bytes(&st, ".\r\n", 3);
                data_run(st.p, st.len, 0, 0, 0, 0, 0, &again);
                test_assert_idx(again.ret == 1 && again.used == st.len, k);
                test_assert_idx(again.out.len == whole.out.len &&
                                (whole.out.len == 0 ||
                                 memcmp(again.out.p, whole.out.p,
                                        whole.out.len) == 0), k);
                test_assert_idx(again.d.size == whole.d.size &&
                                again.d.header_size == whole.d.header_size &&
                                again.d.longest_line ==
                                    whole.d.longest_line &&
                                again.d.bare_lf == 0, k);
                xc_wbuf_free(&again.out);
            }
            xc_wbuf_free(&whole.out);
            xc_wbuf_free(&bytes.out);
            xc_wbuf_free(&part.out);
            xc_wbuf_free(&m);
            xc_wbuf_free(&st);
        }
    }
    test_end();
}

static int raw_is(const xc_wbuf *w, const char *s)
{
    return w->len == strlen(s) && (w->len == 0 || memcmp(w->p, s, w->len) == 0);
}

static void test_raw(void)
{
    xc_smtp_data d;
    xc_wbuf out;

    test_begin("BDAT: raw chunks, CRLF across chunks, held CR, limits");
    xc_wbuf_init(&out, 0);
    xc_smtp_data_init(&d, 0, 0, 0);
    test_assert(xc_smtp_data_raw(&d, (const uint8_t *)"S: x\r", 5, &out) == 0);
    test_assert(raw_is(&out, "S: x"));
    test_assert(xc_smtp_data_raw(&d, (const uint8_t *)"\n\r\n..\r\n.\r\nb\nc\r",
                                 14, &out) == 0);
    test_assert(raw_is(&out, "S: x\r\n\r\n..\r\n.\r\nb\r\nc"));
    test_assert(xc_smtp_data_raw(&d, NULL, 0, &out) == 0);
    test_assert(raw_is(&out, "S: x\r\n\r\n..\r\n.\r\nb\r\nc\r"));
    test_assert(d.size == out.len && d.header_size == 6 && d.bare_lf == 1 &&
                d.longest_line == 4 && !d.in_header && d.over == 0);
    xc_wbuf_reset(&out);
    xc_smtp_data_init(&d, 8, 0, 0);
    test_assert(xc_smtp_data_raw(&d, (const uint8_t *)"abc\r\n", 5, &out) == 0);
    test_assert(xc_smtp_data_raw(&d, (const uint8_t *)"defgh\r\n", 7, &out) == 0);
    test_assert(xc_smtp_data_raw(&d, NULL, 0, &out) == 0);
    test_assert(raw_is(&out, "abc\r\ndef") && d.size == 12 &&
                d.over == XC_SMTP_OVER_SIZE);
    xc_wbuf_reset(&out);
    xc_smtp_data_init(&d, 0, 0, 3);
    test_assert(xc_smtp_data_raw(&d, (const uint8_t *)"ab\r\rc\r\n", 7, &out) == 0);
    test_assert(raw_is(&out, "ab\r") && d.over == XC_SMTP_OVER_LINE &&
                d.longest_line == 5);
    xc_wbuf_free(&out);
    test_end();
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_auth(void)
{
    static const struct {
        const char *in;
        int ok;
        const char *out;
        size_t len;
    } b64[] = {
        { "YWxpY2U=", 1, "alice", 5 },
        { "YWxp", 1, "ali", 3 },
        { "YWw=", 1, "al", 2 },
        { "YQ==", 1, "a", 1 },
        { "AGEAYg==", 1, "\0a\0b", 4 },
        { "", 0, NULL, 0 },             /* empty */
        { "YWxpY2U", 0, NULL, 0 },      /* not a multiple of 4 */
        { "YW=j", 0, NULL, 0 },         /* data after padding */
        { "=Q==", 0, NULL, 0 },         /* padding first */
        { "YQ==YQ==", 0, NULL, 0 },     /* padding inside */
        { "YW xp", 0, NULL, 0 },        /* whitespace */
        { "YW*p", 0, NULL, 0 },         /* not base64 */
    };
    static const struct {
        const char *in;
        int ok;
        const char *authz, *user, *pass;
    } plain[] = {
        { "AGFsaWNlAHNlY3JldA==", 1, "", "alice", "secret" },
        { "YWxpY2UAYWxpY2UAcHc=", 1, "alice", "alice", "pw" },
        { "AGFsaWNl", 0, NULL, NULL, NULL },            /* one NUL */
        { "AAB4", 0, NULL, NULL, NULL },                /* empty user */
        { "AGEA", 0, NULL, NULL, NULL },                /* empty password */
        { "AGEAYgBj", 0, NULL, NULL, NULL },            /* a third NUL */
        { "!!!!", 0, NULL, NULL, NULL },
    };
    char buf[64];
    size_t len;

    test_begin("AUTH: base64 responses");
    for (size_t i = 0; i < N(b64); i++) {
        int r = xc_smtp_b64_decode(b64[i].in, strlen(b64[i].in), buf,
                                   sizeof(buf), &len);
        test_assert_idx((r == 0) == b64[i].ok, i);
        if (r == 0)
            test_assert_idx(len == b64[i].len && buf[len] == '\0' &&
                            memcmp(buf, b64[i].out, len) == 0, i);
    }
    /* the output and its NUL must fit */
    test_assert(xc_smtp_b64_decode("YWxp", 4, buf, 3, &len) == -1);
    test_assert(xc_smtp_b64_decode("YWxp", 4, buf, 4, &len) == 0);
    test_end();

    test_begin("AUTH: PLAIN responses (RFC 4616)");
    for (size_t i = 0; i < N(plain); i++) {
        const char *a, *u, *p;
        int r = xc_smtp_sasl_plain(plain[i].in, strlen(plain[i].in), buf,
                                   sizeof(buf), &a, &u, &p);
        test_assert_idx((r == 0) == plain[i].ok, i);
        if (r == 0)
            test_assert_idx(!strcmp(a, plain[i].authz) &&
                            !strcmp(u, plain[i].user) &&
                            !strcmp(p, plain[i].pass), i);
    }
    test_end();
}

static void test_header_field(void)
{
    static const struct {
        const char *msg, *name;
        int ok;
        const char *value;
    } c[] = {
        { "Subject: hi\r\n\r\nbody", "Subject", 1, " hi" },
        { "subject: hi\r\n\r\n", "SUBJECT", 1, " hi" },
        { "X-A: 1\r\nX-Spam-Flag: YES\r\n\r\n", "X-Spam-Flag", 1, " YES" },
        { "A: one\r\n two\r\n\tthree\r\nB: x\r\n\r\n", "A", 1,
          " one two\tthree" },
        { "A: first\r\nA: second\r\n\r\n", "A", 1, " first" },
        { "A: x\r\n\r\nB: in the body\r\n", "B", 0, NULL },
        { "AB: x\r\n\r\n", "A", 0, NULL },
        { "A x\r\n\r\n", "A", 0, NULL },
        { "A: bare\nB: lf\n\n", "B", 1, " lf" },
        { "A:", "A", 1, "" },
        { "", "A", 0, NULL },
    };
    char v[64];

    test_begin("header fields: found, unfolded, only in the header");
    for (size_t i = 0; i < N(c); i++) {
        int r = xc_smtp_header_field((const uint8_t *)c[i].msg,
                                     strlen(c[i].msg), c[i].name, v,
                                     sizeof(v));
        test_assert_idx((r == 0) == c[i].ok, i);
        if (r == 0)
            test_assert_idx(strcmp(v, c[i].value) == 0, i);
    }
    /* a value longer than the buffer is cut, still terminated */
    test_assert(xc_smtp_header_field((const uint8_t *)"A: 123456\r\n\r\n", 13,
                                     "A", v, 4) == 0 && strcmp(v, " 12") == 0);
    test_end();
}

/* ---- replies of servers we send to ---------------------------------- */

static void test_replies(void)
{
    static const struct {
        const char *line;
        int ret, code, more;
        const char *text;
    } c[] = {
        { "250 OK", 0, 250, 0, "OK" },
        { "250-mx.example Hello", 0, 250, 1, "mx.example Hello" },
        { "250", 0, 250, 0, "" },
        { "220 ", 0, 220, 0, "" },
        { "554 5.7.1 no", 0, 554, 0, "5.7.1 no" },
        { "559 x", 0, 559, 0, "x" },
        { "599 x", -1, 0, 0, NULL },
        { "199 x", -1, 0, 0, NULL },
        { "600 x", -1, 0, 0, NULL },
        { "260 x", -1, 0, 0, NULL },
        { "25", -1, 0, 0, NULL },
        { "25x ok", -1, 0, 0, NULL },
        { "250x", -1, 0, 0, NULL },
        { "250_ok", -1, 0, 0, NULL },
        { "", -1, 0, 0, NULL },
    };
    static const struct {
        const char *text;
        unsigned ext;
        uint64_t size;
    } e[] = {
        { "STARTTLS", XC_SMTP_EXT_STARTTLS, 0 },
        { "starttls", XC_SMTP_EXT_STARTTLS, 0 },
        { "STARTTLSX", 0, 0 },
        { "DSN", XC_SMTP_EXT_DSN, 0 },
        { "SMTPUTF8", XC_SMTP_EXT_SMTPUTF8, 0 },
        { "8BITMIME", XC_SMTP_EXT_8BITMIME, 0 },
        { "PIPELINING", XC_SMTP_EXT_PIPELINING, 0 },
        { "CHUNKING", XC_SMTP_EXT_CHUNKING, 0 },
        { "SIZE 10240000", XC_SMTP_EXT_SIZE, 10240000 },
        { "SIZE", XC_SMTP_EXT_SIZE, 0 },
        { "SIZE 12x", XC_SMTP_EXT_SIZE, 0 },
        { "SIZE 99999999999999999999", XC_SMTP_EXT_SIZE, 0 },
        { "SIZE  5 ", XC_SMTP_EXT_SIZE, 5 },
        { "AUTH PLAIN LOGIN", 0, 0 },
        { "", 0, 0 },
    };
    char big[XC_SMTP_REPLY_MAX + 2];

    test_begin("server replies: codes, continuation, EHLO keywords");
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        xc_smtp_reply r;
        int ret = xc_smtp_reply_line(c[i].line, strlen(c[i].line), &r);
        test_assert_idx(ret == c[i].ret, i);
        if (ret == 0)
            test_assert_idx(r.code == c[i].code && r.more == c[i].more &&
                            r.text_len == strlen(c[i].text) &&
                            memcmp(r.text, c[i].text, r.text_len) == 0, i);
    }
    memset(big, 'x', sizeof(big));
    memcpy(big, "250 ", 4);
    {
        xc_smtp_reply r;
        test_assert(xc_smtp_reply_line(big, XC_SMTP_REPLY_MAX, &r) == 0);
        test_assert(xc_smtp_reply_line(big, XC_SMTP_REPLY_MAX + 1, &r) == -1);
        test_assert(xc_smtp_reply_line("250 a\0b", 7, &r) == -1);
    }
    for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
        unsigned ext = 0;
        uint64_t size = 0;
        xc_smtp_ehlo_line(e[i].text, strlen(e[i].text), &ext, &size);
        test_assert_idx(ext == e[i].ext && size == e[i].size, i);
    }
    test_end();
}

int main(void)
{
    test_commands();
    test_paths();
    test_limits();
    test_xtext();
    test_data();
    test_raw();
    test_auth();
    test_header_field();
    test_replies();
    return test_exit();
}
