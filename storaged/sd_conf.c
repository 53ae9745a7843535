/*
 * NAME
 *   sd_conf - storaged.conf parser
 *
 * DESCRIPTION
 *   The settings and their ranges, read by lib/xc_conf ("key = value",
 *   unknown keys are errors). conf/storaged.conf documents every key.
 */
#include "sd.h"
#include "xc_conf.h"

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

static const xc_conf_key keys[] = {
#define S(n) XC_CONF_S(sd_conf, n)
#define I(n, lo, hi) XC_CONF_I(sd_conf, n, lo, hi)
    S(socket_path), S(socket_group), S(allow_users), S(trusted_users),
    S(pid_file), S(database), S(spool_dir),
    { "socket_mode", XC_CONF_OCTAL, offsetof(sd_conf, socket_mode), 0, 0777 },
    XC_CONF_Z(sd_conf, max_frame, 4096, 64L << 20),
    XC_CONF_Z(sd_conf, max_message_size, 1024, 1L << 40),
    XC_CONF_Z(sd_conf, max_stream_memory, 1L << 20, 1L << 40),
    I(workers, 1, 256), I(max_connections, 1, 100000),
    I(max_inflight, 1, 4096), I(auth_cache_ttl, 0, 86400),
    I(auth_fail_window, 1, 86400), I(auth_fail_max_user, 1, 100000),
    I(auth_fail_max_source, 1, 1000000), I(session_idle, 10, 604800),
    I(max_sessions, 16, 10000000), I(io_timeout, 1, 3600),
    I(expire_interval, 1, 604800),
    XC_CONF_B(sd_conf, log_debug),
#undef S
#undef I
};

int sd_conf_load(sd_conf *c, const char *path, char *err, size_t errlen)
{
    return xc_conf_load(c, keys, sizeof(keys) / sizeof(keys[0]), path, err,
                        errlen);
}
