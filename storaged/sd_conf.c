/*
 * NAME
 *   sd_conf - storaged.conf parser
 *
 * DESCRIPTION
 *   "key = value" lines; '#' starts a comment; unknown keys are errors so
 *   that a typo doesn't silently keep a default. conf/storaged.conf
 *   documents every key.
 */
#include "sd.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sd_conf_defaults(sd_conf *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->socket_path, sizeof(c->socket_path), "/run/storaged/storaged.sock");
    c->socket_mode = 0660;
    snprintf(c->database, sizeof(c->database), "dbname=exchange");
    c->workers = 8;
    c->max_connections = 512;
    c->max_frame = XW_DEFAULT_MAX_FRAME;
    c->max_inflight = 64;
    c->auth_cache_ttl = 300;
    c->auth_fail_window = 300;
    c->auth_fail_max_user = 10;
    c->auth_fail_max_source = 50;
    c->session_idle = 1800;
    c->max_sessions = 100000;
    c->io_timeout = 30;
    c->max_message_size = 50u << 20;
    c->expire_interval = 3600;
    c->max_stream_memory = 512u << 20;
}

enum kind { K_STR, K_INT, K_OCTAL, K_SIZE, K_BOOL };

static const struct key {
    const char *name;
    enum kind kind;
    size_t off;
    size_t size;        /* strings: buffer size; ints: minimum value */
    long max;
} keys[] = {
#define S(n) { #n, K_STR, offsetof(sd_conf, n), sizeof(((sd_conf *)0)->n), 0 }
#define I(n, lo, hi) { #n, K_INT, offsetof(sd_conf, n), lo, hi }
    S(socket_path), S(socket_group), S(allow_users), S(pid_file), S(database),
    S(spool_dir),
    { "socket_mode", K_OCTAL, offsetof(sd_conf, socket_mode), 0, 0777 },
    { "max_frame", K_SIZE, offsetof(sd_conf, max_frame), 4096, 64L << 20 },
    { "max_message_size", K_SIZE, offsetof(sd_conf, max_message_size), 1024,
      1L << 40 },
    { "max_stream_memory", K_SIZE, offsetof(sd_conf, max_stream_memory),
      1L << 20, 1L << 40 },
    I(workers, 1, 256), I(max_connections, 1, 100000),
    I(max_inflight, 1, 4096), I(auth_cache_ttl, 0, 86400),
    I(auth_fail_window, 1, 86400), I(auth_fail_max_user, 1, 100000),
    I(auth_fail_max_source, 1, 1000000), I(session_idle, 10, 604800),
    I(max_sessions, 16, 10000000), I(io_timeout, 1, 3600),
    I(expire_interval, 1, 604800),
    { "log_debug", K_BOOL, offsetof(sd_conf, log_debug), 0, 1 },
#undef S
#undef I
};

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

static int set(sd_conf *c, const char *k, const char *v, char *err,
               size_t errlen)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct key *key = &keys[i];
        char *end;
        long n;

        if (strcmp(key->name, k) != 0)
            continue;
        switch (key->kind) {
        case K_STR:
            if (strlen(v) >= key->size) {
                snprintf(err, errlen, "value of %s is too long", k);
                return -1;
            }
            memcpy((char *)c + key->off, v, strlen(v) + 1);
            return 0;
        case K_BOOL:
            if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
                *(int *)((char *)c + key->off) = 1;
            else if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
                *(int *)((char *)c + key->off) = 0;
            else {
                snprintf(err, errlen, "%s must be yes or no", k);
                return -1;
            }
            return 0;
        default:
            errno = 0;
            n = strtol(v, &end, key->kind == K_OCTAL ? 8 : 10);
            if (errno || end == v || *end || n < (long)key->size ||
                n > key->max) {
                snprintf(err, errlen, "%s must be a number from %ld to %ld",
                         k, (long)key->size, key->max);
                return -1;
            }
            if (key->kind == K_SIZE)
                *(size_t *)((char *)c + key->off) = (size_t)n;
            else if (key->kind == K_OCTAL)
                *(unsigned *)((char *)c + key->off) = (unsigned)n;
            else
                *(int *)((char *)c + key->off) = (int)n;
            return 0;
        }
    }
    snprintf(err, errlen, "unknown setting \"%s\"", k);
    return -1;
}

int sd_conf_load(sd_conf *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int lineno = 0;

    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s, *eq, e2[256];

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            fclose(f);
            return -1;
        }
        if ((s = strchr(line, '#')) != NULL && (s == line || isspace((unsigned char)s[-1])))
            *s = '\0';
        s = trim(line);
        if (*s == '\0')
            continue;
        eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
            fclose(f);
            return -1;
        }
        *eq = '\0';
        if (set(c, trim(s), trim(eq + 1), e2, sizeof(e2)) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, e2);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}
