/*
 * xc_pop3 - POP3 command lines (see xc_pop3.h).
 */
#include "xc_pop3.h"

#include <string.h>
#include <strings.h>

static const struct {
    const char *word;
    xc_pop3_verb verb;
    int min, max;           /* arguments */
} verbs[] = {
    { "USER", XC_POP3_USER, 1, 1 }, { "PASS", XC_POP3_PASS, 1, 1 },
    { "APOP", XC_POP3_APOP, 2, 2 }, { "AUTH", XC_POP3_AUTH, 0, 2 },
    { "STLS", XC_POP3_STLS, 0, 0 }, { "CAPA", XC_POP3_CAPA, 0, 0 },
    { "STAT", XC_POP3_STAT, 0, 0 }, { "LIST", XC_POP3_LIST, 0, 1 },
    { "RETR", XC_POP3_RETR, 1, 1 }, { "DELE", XC_POP3_DELE, 1, 1 },
    { "NOOP", XC_POP3_NOOP, 0, 0 }, { "RSET", XC_POP3_RSET, 0, 0 },
    { "QUIT", XC_POP3_QUIT, 0, 0 }, { "TOP", XC_POP3_TOP, 2, 2 },
    { "UIDL", XC_POP3_UIDL, 0, 1 }, { "UTF8", XC_POP3_UTF8, 0, 0 },
};

int xc_pop3_command(const char *line, size_t len, xc_pop3_cmd *cmd,
                    const char **error_r)
{
    size_t i = 0, k;
    int min = 0, max = 0;

    memset(cmd, 0, sizeof(*cmd));
    if (len > XC_POP3_LINE_MAX) {
        *error_r = "line too long";
        return -1;
    }
    if (memchr(line, '\0', len) || memchr(line, '\r', len) ||
        memchr(line, '\n', len)) {
        *error_r = "NUL, CR or LF in a command";
        return -1;
    }
    while (i < len && line[i] != ' ')
        if ((unsigned char)line[i++] >= 0x80) {
            *error_r = "8-bit keyword";
            return -1;
        }
    for (k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++)
        if (strlen(verbs[k].word) == i &&
            strncasecmp(line, verbs[k].word, i) == 0) {
            cmd->verb = verbs[k].verb;
            min = verbs[k].min;
            max = verbs[k].max;
            break;
        }
    if (cmd->verb == XC_POP3_UNKNOWN)
        return 0;           /* the caller answers -ERR */
    while (i < len) {
        size_t b;
        while (i < len && line[i] == ' ')
            i++;
        if (i == len)
            break;
        if (cmd->nargs == max) {
            *error_r = "too many arguments";
            return -1;
        }
        b = i;
        if (cmd->verb == XC_POP3_PASS) {
            /* the rest of the line, trailing spaces and all */
            i = len;
        } else {
            while (i < len && line[i] != ' ')
                i++;
        }
        if (i - b > XC_POP3_ARG_MAX && cmd->verb != XC_POP3_PASS &&
            !(cmd->verb == XC_POP3_AUTH && cmd->nargs == 1)) {
            *error_r = "argument too long";
            return -1;
        }
        cmd->arg[cmd->nargs] = line + b;
        cmd->arg_len[cmd->nargs++] = i - b;
    }
    if (cmd->nargs < min) {
        *error_r = "missing argument";
        return -1;
    }
    return 0;
}

int xc_pop3_number(const char *s, size_t len, int nz, uint32_t *v)
{
    uint64_t x = 0;

    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (x > INT32_MAX || (nz && x == 0))
        return -1;
    *v = (uint32_t)x;
    return 0;
}
