/*
 * NAME
 *   mtad - the companion MTA: SMTP in, the mail queue, local delivery
 *
 * SYNOPSIS
 *   mtad [-c /etc/exchange/mtad.conf] [-t]
 *
 *   -t  check the configuration, print "mtad.conf: ok" and exit
 *
 * DESCRIPTION
 *   Runs in the foreground (systemd, or build/stack.sh) and logs to
 *   stderr. Reads mtad.conf (conf/mtad.conf documents it), connects to
 *   storaged, listens for SMTP and serves until SIGTERM or SIGINT. The
 *   structure is in mt.h.
 *
 * SECURITY
 *   mtad acts for every mailbox in storaged (a trusted peer: root,
 *   storaged's own user or one of its trusted_users), so it runs as a user
 *   of its own. To listen on port 25 give it CAP_NET_BIND_SERVICE (the
 *   systemd unit does); it never runs as root otherwise.
 */
#include "mt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

SSL_CTX *mt_tls, *mt_tls_client;

static void on_signal(void *ctx, uint32_t events)
{
    struct signalfd_siginfo si;
    int fd = *(int *)ctx;

    (void)events;
    if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        mt_log_info(55, "signal %u, shutting down", si.ssi_signo);
        mt_loop_stop();
    }
}

static void tick(time_t now)
{
    smtp_server_tick(now);
}

static int tls_setup(const mt_conf *c)
{
    /* outbound: opportunistic, unauthenticated (RFC 7435) */
    if ((mt_tls_client = SSL_CTX_new(TLS_client_method())) != NULL) {
        SSL_CTX_set_min_proto_version(mt_tls_client, TLS1_2_VERSION);
        SSL_CTX_set_verify(mt_tls_client, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(mt_tls_client, SSL_MODE_AUTO_RETRY);
    }
    if (!c->tls_cert[0])
        return 0;
    if ((mt_tls = SSL_CTX_new(TLS_server_method())) == NULL ||
        SSL_CTX_set_min_proto_version(mt_tls, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(mt_tls, c->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(mt_tls, c->tls_key, SSL_FILETYPE_PEM)
            != 1 ||
        SSL_CTX_check_private_key(mt_tls) != 1) {
        mt_log_error(56, "TLS: cannot use %s and %s", c->tls_cert,
                     c->tls_key);
        return -1;
    }
    SSL_CTX_set_mode(mt_tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return 0;
}

int main(int argc, char **argv)
{
    static mt_conf conf;
    const char *path = "/etc/exchange/mtad.conf";
    char err[512];
    sigset_t set;
    int sfd, opt, check_only = 0;

    while ((opt = getopt(argc, argv, "c:t")) != -1) {
        if (opt == 't') {
            check_only = 1;
            continue;
        }
        if (opt != 'c') {
            fprintf(stderr, "usage: mtad [-c mtad.conf] [-t]\n");
            return 2;
        }
        path = optarg;
    }
    mt_conf_defaults(&conf);
    if (mt_conf_load(&conf, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "mtad: %s\n", err);
        return 1;
    }
    if (check_only) {
        printf("%s: ok\n", path);
        return 0;
    }
    if (!conf.hostname[0] &&
        gethostname(conf.hostname, sizeof(conf.hostname) - 1) < 0)
        snprintf(conf.hostname, sizeof(conf.hostname), "localhost");
    mt_config = &conf;
    mt_log_debug_on = conf.log_debug;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);     /* threads inherit the mask */
    if ((sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        mt_loop_init() < 0 ||
        mt_loop_add(sfd, EPOLLIN, on_signal, &sfd) == NULL) {
        mt_log_error(57, "startup: %s", strerror(errno));
        return 1;
    }
    if (tls_setup(&conf) < 0 || mt_out_start() < 0 || mt_store_start() < 0 ||
        (conf.smtp_listen[0] && smtp_server_listen(conf.smtp_listen, 0) < 0) ||
        (conf.submission_listen[0] &&
         smtp_server_listen(conf.submission_listen, 1) < 0))
        return 1;
    if (conf.pid_file[0]) {
        FILE *f = fopen(conf.pid_file, "w");
        if (f != NULL) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    mt_log_info(58, "mtad ready as %s", conf.hostname);
    mt_loop_tick(tick);
    if (mt_loop_run() < 0)
        mt_log_error(59, "event loop: %s", strerror(errno));
    smtp_server_close_all();
    mt_store_stop();
    mt_out_stop();
    mt_loop_done();
    if (conf.pid_file[0])
        unlink(conf.pid_file);
    SSL_CTX_free(mt_tls);
    SSL_CTX_free(mt_tls_client);
    return 0;
}
