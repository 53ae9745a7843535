/*
 * NAME
 *   mt_conf - mtad.conf: the settings and their ranges
 *
 * DESCRIPTION
 *   Read by lib/xc_conf ("key = value"; unknown keys are errors).
 *   conf/mtad.conf documents every key and its default.
 */
#include "mt.h"
#include "xc_conf.h"

#include <stdio.h>
#include <string.h>

const mt_conf *mt_config;

void mt_conf_defaults(mt_conf *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->storaged_socket, sizeof(c->storaged_socket),
             "/run/storaged/storaged.sock");
    snprintf(c->smtp_listen, sizeof(c->smtp_listen), "0.0.0.0:25");
    snprintf(c->submission_listen, sizeof(c->submission_listen),
             "0.0.0.0:587");
    c->auth_delay_max = 8;
    c->junk_scl = 5;            /* Exchange's SCLJunkThreshold is 4: > 4 */
    c->max_queue = 100000;
    snprintf(c->space_path, sizeof(c->space_path), "/var/lib/postgresql");
    c->min_free_space = 1u << 30;
    c->workers = 4;
    c->max_connections = 1000;
    c->max_per_ip = 20;
    c->max_rcpts = 100;         /* RFC 5321 4.5.3.1.8: at least 100 */
    c->max_message_size = 50u << 20;
    c->max_header_size = 1u << 20;
    c->max_line = 64u << 10;
    c->command_timeout = 300;
    c->data_timeout = 180;
    c->max_errors = 10;
    c->queue_interval = 60;
    c->queue_lease = 900;
    c->retry_first = 300;
    c->retry_max = 4 * 3600;
    c->queue_lifetime = 5 * 86400;
    c->delay_warning = 4 * 3600;
    c->remote_port = 25;
    c->outbound_workers = 4;
    c->connect_timeout = 30;
    c->smtp_timeout = 300;
}

static const xc_conf_key keys[] = {
#define S(n) XC_CONF_S(mt_conf, n)
#define I(n, lo, hi) XC_CONF_I(mt_conf, n, lo, hi)
    S(storaged_socket), S(hostname), S(smtp_listen), S(submission_listen),
    S(pid_file), XC_CONF_B(mt_conf, auth_without_tls),
    XC_CONF_B(mt_conf, save_sent), I(auth_delay_max, 0, 300),
    I(junk_scl, 0, 10), I(max_queue, 1, 100000000), S(space_path),
    XC_CONF_Z(mt_conf, min_free_space, 0, 1L << 50),
    S(tls_cert), S(tls_key),
    I(workers, 1, 256), I(max_connections, 1, 100000),
    I(max_per_ip, 1, 100000), I(max_rcpts, 1, 1000),
    XC_CONF_Z(mt_conf, max_message_size, 1024, 1L << 34),
    XC_CONF_Z(mt_conf, max_header_size, 1024, 1L << 30),
    XC_CONF_Z(mt_conf, max_line, 998, 1L << 24),
    I(command_timeout, 1, 3600), I(data_timeout, 1, 3600),
    I(max_errors, 1, 1000), I(queue_interval, 1, 86400),
    I(queue_lease, 1, 86400), I(retry_first, 1, 86400),
    I(retry_max, 1, 7 * 86400), I(queue_lifetime, 1, 60 * 86400),
    I(delay_warning, 0, 60 * 86400), S(smarthost), S(dns_server),
    I(remote_port, 1, 65535), I(outbound_workers, 1, 256),
    I(connect_timeout, 1, 600), I(smtp_timeout, 1, 3600),
    XC_CONF_B(mt_conf, log_debug),
#undef S
#undef I
};

int mt_conf_load(mt_conf *c, const char *path, char *err, size_t errlen)
{
    if (xc_conf_load(c, keys, sizeof(keys) / sizeof(keys[0]), path, err,
                     errlen) < 0)
        return -1;
    if (c->retry_max < c->retry_first) {
        snprintf(err, errlen, "%s: retry_max is less than retry_first", path);
        return -1;
    }
    if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
        snprintf(err, errlen, "%s: tls_cert and tls_key go together", path);
        return -1;
    }
    return 0;
}
