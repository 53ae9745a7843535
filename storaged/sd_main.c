/*
 * NAME
 *   storaged - the information store daemon
 *
 * SUMMARY
 *   storaged [-f storaged.conf] [-t]
 *
 * DESCRIPTION
 *   Listens on a UNIX socket for the framed protocol of lib/xc_wire.h and
 *   serves the information store from PostgreSQL. Runs in the foreground
 *   (systemd or `make run` supervise it); logs to stderr. -t checks the
 *   configuration and exits.
 *
 * SECURITY
 *   The socket is created with socket_mode (0660) and socket_group; every
 *   connecting peer's credentials (SO_PEERCRED) must be root, our own user,
 *   a member of socket_group by primary group, or one of allow_users. The
 *   daemon needs no privileges and should run as its own user.
 *   SIGTERM/SIGINT: stop accepting, finish requests in flight, exit.
 */
#include "sd.h"

#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static uid_t allowed_uids[32], trusted_uids[32];
static int nallowed, ntrusted;
static gid_t sock_gid = (gid_t)-1;

/* A comma- or space-separated list of user names into uids. */
static int resolve_users(const char *what, const char *names, uid_t *uids,
                         int max, int *n_r)
{
    char list[512], *save = NULL, *tok;

    snprintf(list, sizeof(list), "%s", names);
    for (tok = strtok_r(list, ", ", &save); tok != NULL;
         tok = strtok_r(NULL, ", ", &save)) {
        struct passwd *pw = getpwnam(tok);
        if (pw == NULL) {
            sd_log_error(3, "%s: no such user %s", what, tok);
            return -1;
        }
        if (*n_r < max)
            uids[(*n_r)++] = pw->pw_uid;
    }
    return 0;
}

static int resolve_allowed(const sd_conf *c)
{
    if (resolve_users("allow_users", c->allow_users, allowed_uids, 32,
                      &nallowed) < 0 ||
        resolve_users("trusted_users", c->trusted_users, trusted_uids, 32,
                      &ntrusted) < 0)
        return -1;
    if (c->socket_group[0]) {
        struct group *gr = getgrnam(c->socket_group);
        if (gr == NULL) {
            sd_log_error(3, "socket_group: no such group %s", c->socket_group);
            return -1;
        }
        sock_gid = gr->gr_gid;
    }
    return 0;
}

int sd_peer_trusted(uid_t uid)
{
    if (uid == 0 || uid == geteuid())
        return 1;
    for (int i = 0; i < ntrusted; i++)
        if (trusted_uids[i] == uid)
            return 1;
    return 0;
}

static int peer_allowed(const struct ucred *cr)
{
    if (cr->uid == 0 || cr->uid == geteuid())
        return 1;
    if (sock_gid != (gid_t)-1 && cr->gid == sock_gid)
        return 1;
    for (int i = 0; i < nallowed; i++)
        if (allowed_uids[i] == cr->uid)
            return 1;
    return sd_peer_trusted(cr->uid);
}

/* Remove a stale socket left by a crash, but never steal a live one. */
static int clear_stale(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd, r;

    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        sd_log_error(3, "%s exists and is not a socket", path);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (r == 0) {
        sd_log_error(3, "another storaged is listening on %s", path);
        return -1;
    }
    return unlink(path);
}

static int open_socket(const sd_conf *c)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    mode_t old;
    int fd;

    if (clear_stale(c->socket_path) < 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memcpy(sa.sun_path, c->socket_path, strlen(c->socket_path) + 1);
    old = umask(0177);      /* no window with a too-open socket */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        umask(old);
        sd_log_error(3, "cannot bind %s: %s", c->socket_path, strerror(errno));
        close(fd);
        return -1;
    }
    umask(old);
    if ((sock_gid != (gid_t)-1 && chown(c->socket_path, (uid_t)-1, sock_gid) < 0) ||
        chmod(c->socket_path, c->socket_mode) < 0 || listen(fd, 256) < 0) {
        sd_log_error(3, "cannot set up %s: %s", c->socket_path,
                     strerror(errno));
        close(fd);
        unlink(c->socket_path);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    static sd_conf conf;
    const char *path = NULL;
    char err[512];
    int check_only = 0, opt, lfd, sfd;
    sigset_t mask;

    /* Memory goes back to the system when freed from 8 MiB up: every
       login's argon2 run takes 19 MiB, and with glibc's moving threshold
       those came from each worker's heap and stayed there (a burst of
       logins on 8 workers left storaged at 170 MB instead of 14). */
    (void)mallopt(M_MMAP_THRESHOLD, 8 << 20);
    while ((opt = getopt(argc, argv, "f:t")) != -1) {
        switch (opt) {
        case 'f': path = optarg; break;
        case 't': check_only = 1; break;
        default:
            fprintf(stderr, "usage: storaged [-f storaged.conf] [-t]\n");
            return 2;
        }
    }
    sd_conf_defaults(&conf);
    if (path != NULL && sd_conf_load(&conf, path, err, sizeof(err)) < 0) {
        sd_log_error(3, "configuration: %s", err);
        return 1;
    }
    sd_log_debug_on = conf.log_debug;
    if (conf.spool_dir[0] == '\0') {
        /* large streamed requests wait beside the socket by default */
        const char *slash = strrchr(conf.socket_path, '/');
        size_t n = slash == NULL ? 1 : (size_t)(slash - conf.socket_path);
        snprintf(conf.spool_dir, sizeof(conf.spool_dir), "%.*s", (int)n,
                 slash == NULL ? "." : n == 0 ? "/" : conf.socket_path);
    }
    if (resolve_allowed(&conf) < 0)
        return 1;
    if (check_only) {
        printf("storaged: configuration ok\n");
        return 0;
    }

    /* signals go to a signalfd polled by the main thread only */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);

    if (sd_auth_init(&conf) < 0) {
        sd_log_error(18, "cannot initialise authentication");
        return 1;
    }
    lfd = open_socket(&conf);
    if (lfd < 0 || sfd < 0 || sd_state_open(&conf) < 0)
        return 1;
    if (conf.pid_file[0]) {
        FILE *f = fopen(conf.pid_file, "w");
        if (f == NULL) {
            sd_log_error(3, "cannot write %s: %s", conf.pid_file,
                         strerror(errno));
            return 1;
        }
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    if (sd_workers_start(&conf) < 0 || sd_index_start(conf.database) < 0 ||
        sd_db_listen_start(conf.database, conf.expire_interval) < 0) {
        sd_log_error(18, "cannot start threads");
        return 1;
    }
    sd_log_info(1, "listening on %s with %d workers", conf.socket_path,
                conf.workers);

    for (;;) {
        struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
                               { .fd = sfd, .events = POLLIN } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
                si.ssi_signo == SIGHUP)
                continue;       /* nothing to reload yet */
            break;
        }
        if (p[0].revents) {
            struct ucred cr;
            socklen_t crlen = sizeof(cr);
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

            if (fd < 0)
                continue;
            if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
                !peer_allowed(&cr)) {
                sd_log_warn(7, "refused peer uid %d pid %d", (int)cr.uid,
                            (int)cr.pid);
                close(fd);
                continue;
            }
            sd_conn_start(fd, cr.uid, cr.pid);
        }
    }

    sd_log_info(2, "stopping: finishing requests in flight");
    sd_state_close();       /* clients stop trusting their caches now */
    close(lfd);
    unlink(conf.socket_path);
    sd_conns_shutdown();
    sd_workers_stop();
    sd_db_listen_stop();
    sd_index_stop();
    sd_auth_fini();
    if (conf.pid_file[0])
        unlink(conf.pid_file);
    sd_log_info(2, "stopped");
    return 0;
}
