/*
 * test_pop3 - POP3 command lines (lib/xc_pop3): every keyword with the
 * arguments it takes, PASS keeping spaces, AUTH's long initial response,
 * the refusals (too many or too few arguments, long lines and arguments,
 * NUL, CR, LF, 8-bit keywords) and message numbers.
 */
#include "tap.h"
#include "xc_pop3.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *line;
    size_t len;         /* 0: strlen */
    int ret;
    xc_pop3_verb verb;
    int nargs;
    const char *a0, *a1;
} cases[] = {
    { "USER alice", 0, 0, XC_POP3_USER, 1, "alice", NULL },
    { "user  alice ", 0, 0, XC_POP3_USER, 1, "alice", NULL },
    { "PASS secret", 0, 0, XC_POP3_PASS, 1, "secret", NULL },
    { "PASS two words ", 0, 0, XC_POP3_PASS, 1, "two words ", NULL },
    { "APOP alice c4c9334bac560ecc979e58001b3e22fb", 0, 0, XC_POP3_APOP, 2,
      "alice", "c4c9334bac560ecc979e58001b3e22fb" },
    { "AUTH", 0, 0, XC_POP3_AUTH, 0, NULL, NULL },
    { "AUTH PLAIN", 0, 0, XC_POP3_AUTH, 1, "PLAIN", NULL },
    { "AUTH PLAIN AGFsaWNlAHNlY3JldA==", 0, 0, XC_POP3_AUTH, 2, "PLAIN",
      "AGFsaWNlAHNlY3JldA==" },
    { "STLS", 0, 0, XC_POP3_STLS, 0, NULL, NULL },
    { "capa", 0, 0, XC_POP3_CAPA, 0, NULL, NULL },
    { "STAT", 0, 0, XC_POP3_STAT, 0, NULL, NULL },
    { "LIST", 0, 0, XC_POP3_LIST, 0, NULL, NULL },
    { "LIST 2", 0, 0, XC_POP3_LIST, 1, "2", NULL },
    { "RETR 1", 0, 0, XC_POP3_RETR, 1, "1", NULL },
    { "DELE 3", 0, 0, XC_POP3_DELE, 1, "3", NULL },
    { "NOOP", 0, 0, XC_POP3_NOOP, 0, NULL, NULL },
    { "RSET", 0, 0, XC_POP3_RSET, 0, NULL, NULL },
    { "QUIT", 0, 0, XC_POP3_QUIT, 0, NULL, NULL },
    { "TOP 1 10", 0, 0, XC_POP3_TOP, 2, "1", "10" },
    { "UIDL", 0, 0, XC_POP3_UIDL, 0, NULL, NULL },
    { "UIDL 4", 0, 0, XC_POP3_UIDL, 1, "4", NULL },
    { "UTF8", 0, 0, XC_POP3_UTF8, 0, NULL, NULL },
    { "XTND anything at all here", 0, 0, XC_POP3_UNKNOWN, 0, NULL, NULL },
    { "", 0, 0, XC_POP3_UNKNOWN, 0, NULL, NULL },
    { "QUITX", 0, 0, XC_POP3_UNKNOWN, 0, NULL, NULL },
    /* refused */
    { "USER", 0, -1, 0, 0, NULL, NULL },
    { "USER a b", 0, -1, 0, 0, NULL, NULL },
    { "PASS", 0, -1, 0, 0, NULL, NULL },
    { "RETR", 0, -1, 0, 0, NULL, NULL },
    { "TOP 1", 0, -1, 0, 0, NULL, NULL },
    { "STAT 1", 0, -1, 0, 0, NULL, NULL },
    { "QUIT now", 0, -1, 0, 0, NULL, NULL },
    { "LIST 1 2", 0, -1, 0, 0, NULL, NULL },
    { "AUTH PLAIN a b", 0, -1, 0, 0, NULL, NULL },
    { "USER a\rb", 0, -1, 0, 0, NULL, NULL },
    { "USER a\nb", 0, -1, 0, 0, NULL, NULL },
    { "USER a\0b", 8, -1, 0, 0, NULL, NULL },
    { "US\xc3\x89R a", 0, -1, 0, 0, NULL, NULL },
};

int main(void)
{
    xc_pop3_cmd cmd;
    const char *err;
    char big[XC_POP3_LINE_MAX + 2];
    uint32_t v;

    test_begin("command lines: keywords, arguments, refusals");
    for (size_t i = 0; i < N(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);
        int r;
        err = NULL;
        r = xc_pop3_command(cases[i].line, len, &cmd, &err);
        test_assert_idx(r == cases[i].ret, i);
        if (r < 0) {
            test_assert_idx(err != NULL, i);
            continue;
        }
        test_assert_idx(cmd.verb == cases[i].verb &&
                        cmd.nargs == cases[i].nargs, i);
        if (cases[i].a0)
            test_assert_idx(cmd.arg_len[0] == strlen(cases[i].a0) &&
                            memcmp(cmd.arg[0], cases[i].a0,
                                   cmd.arg_len[0]) == 0, i);
        if (cases[i].a1)
            test_assert_idx(cmd.arg_len[1] == strlen(cases[i].a1) &&
                            memcmp(cmd.arg[1], cases[i].a1,
                                   cmd.arg_len[1]) == 0, i);
    }
    test_end();

    test_begin("limits: line length, argument length, AUTH's response");
    memset(big, 'a', sizeof(big));
    memcpy(big, "USER ", 5);
    test_assert(xc_pop3_command(big, 5 + XC_POP3_ARG_MAX, &cmd, &err) == 0);
    test_assert(xc_pop3_command(big, 6 + XC_POP3_ARG_MAX, &cmd, &err) == -1);
    memcpy(big, "AUTH PLAIN ", 11);
    test_assert(xc_pop3_command(big, XC_POP3_LINE_MAX, &cmd, &err) == 0 &&
                cmd.nargs == 2 && cmd.arg_len[1] == XC_POP3_LINE_MAX - 11);
    test_assert(xc_pop3_command(big, XC_POP3_LINE_MAX + 1, &cmd, &err) == -1);
    memcpy(big, "PASS ", 5);
    test_assert(xc_pop3_command(big, 900, &cmd, &err) == 0 &&
                cmd.arg_len[0] == 895);
    test_end();

    test_begin("message numbers");
    test_assert(xc_pop3_number("1", 1, 1, &v) == 0 && v == 1);
    test_assert(xc_pop3_number("0", 1, 1, &v) == -1);
    test_assert(xc_pop3_number("0", 1, 0, &v) == 0 && v == 0);
    test_assert(xc_pop3_number("2147483647", 10, 1, &v) == 0 &&
                v == 2147483647u);
    test_assert(xc_pop3_number("2147483648", 10, 1, &v) == -1);
    test_assert(xc_pop3_number("12345678901", 11, 1, &v) == -1);
    test_assert(xc_pop3_number("1a", 2, 1, &v) == -1);
    test_assert(xc_pop3_number("", 0, 0, &v) == -1);
    test_assert(xc_pop3_number("-1", 2, 0, &v) == -1);
    test_end();
    return test_exit();
}
