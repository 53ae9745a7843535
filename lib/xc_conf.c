/*
 * NAME
 *   xc_conf - "key = value" configuration files (see xc_conf.h)
 */
#include "xc_conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int xc_conf_set(void *conf, const xc_conf_key *keys, size_t nkeys,
                const char *k, const char *v, char *err, size_t errlen)
{
    for (size_t i = 0; i < nkeys; i++) {
        const xc_conf_key *key = &keys[i];
        char *at = (char *)conf + key->off, *end;
        long n;

        if (strcmp(key->name, k) != 0)
            continue;
        switch (key->kind) {
        case XC_CONF_STR:
            if (strlen(v) >= key->size) {
                snprintf(err, errlen, "value of %s is too long", k);
                return -1;
            }
            memcpy(at, v, strlen(v) + 1);
            return 0;
        case XC_CONF_BOOL:
            if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
                *(int *)(void *)at = 1;
            else if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
                *(int *)(void *)at = 0;
            else {
                snprintf(err, errlen, "%s must be yes or no", k);
                return -1;
            }
            return 0;
        default:
            errno = 0;
            n = strtol(v, &end, key->kind == XC_CONF_OCTAL ? 8 : 10);
            if (errno || end == v || *end || n < (long)key->size ||
                n > key->max) {
                snprintf(err, errlen, "%s must be a number from %ld to %ld",
                         k, (long)key->size, key->max);
                return -1;
            }
            if (key->kind == XC_CONF_SIZE)
                *(size_t *)(void *)at = (size_t)n;
            else if (key->kind == XC_CONF_OCTAL)
                *(unsigned *)(void *)at = (unsigned)n;
            else
                *(int *)(void *)at = (int)n;
            return 0;
        }
    }
    snprintf(err, errlen, "unknown setting \"%s\"", k);
    return -1;
}

int xc_conf_load(void *conf, const xc_conf_key *keys, size_t nkeys,
                 const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int lineno = 0, rc = 0;

    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *s, *eq, e2[256];

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        if ((s = strchr(line, '#')) != NULL &&
            (s == line || isspace((unsigned char)s[-1])))
            *s = '\0';
        s = trim(line);
        if (*s == '\0')
            continue;
        if ((eq = strchr(s, '=')) == NULL) {
            snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (xc_conf_set(conf, keys, nkeys, trim(s), trim(eq + 1), e2,
                        sizeof(e2)) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, e2);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}
