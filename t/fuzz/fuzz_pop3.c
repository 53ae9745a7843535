/*
 * fuzz_pop3 - lib/xc_pop3 on arbitrary bytes: a command line is parsed or
 * refused with a reason; parsed, its arguments lie inside the line, hold
 * no space (but PASS's), respect the length limits and the keyword's
 * count, and a message number that parses is within 0 .. 2^31 - 1.
 * Any broken invariant is an abort().
 */
#include "xc_pop3.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)            \
    do {                    \
        if (!(c))           \
            abort();        \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    const char *err = NULL;
    xc_pop3_cmd cmd;

    CHECK(line != NULL);
    memcpy(line, data, size);
    if (xc_pop3_command(line, size, &cmd, &err) < 0) {
        CHECK(err != NULL);
    } else {
        CHECK(size <= XC_POP3_LINE_MAX);
        CHECK(cmd.nargs >= 0 && cmd.nargs <= 2);
        CHECK(cmd.verb != XC_POP3_UNKNOWN || cmd.nargs == 0);
        for (int i = 0; i < cmd.nargs; i++) {
            uint32_t v;
            CHECK(cmd.arg[i] >= line && cmd.arg_len[i] > 0 &&
                  cmd.arg[i] + cmd.arg_len[i] <= line + size);
            if (cmd.verb != XC_POP3_PASS) {
                CHECK(memchr(cmd.arg[i], ' ', cmd.arg_len[i]) == NULL);
                CHECK(cmd.arg_len[i] <= XC_POP3_ARG_MAX ||
                      (cmd.verb == XC_POP3_AUTH && i == 1));
            }
            if (xc_pop3_number(cmd.arg[i], cmd.arg_len[i], 0, &v) == 0)
                CHECK(v <= INT32_MAX);
        }
    }
    free(line);
    return 0;
}
