/*
 * NAME
 *   mt_log - mtad log lines
 *
 * DESCRIPTION
 *   One line per event on stderr (the journal under systemd, a file under
 *   `make run`): time, level, "MTnnnnn:", message, as storaged writes its
 *   own. Numbers are unique across the project (build/next-logno) so that
 *   admins, fail2ban and tests can match on them. Never a password.
 */
#include "mt.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int mt_log_debug_on;

static void vlog(const char *level, int no, const char *fmt, va_list ap)
{
    char msg[2048], ts[32];
    struct timespec now;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    dprintf(STDERR_FILENO, "%s.%03ldZ mtad[%d]: %s: MT%05d: %s\n", ts,
            now.tv_nsec / 1000000, (int)getpid(), level, no, msg);
}

#define LOGFN(name, level)                                                  \
    void name(int no, const char *fmt, ...)                                 \
    {                                                                       \
        va_list ap;                                                         \
        va_start(ap, fmt);                                                  \
        vlog(level, no, fmt, ap);                                           \
        va_end(ap);                                                         \
    }
LOGFN(mt_log_info, "info")
LOGFN(mt_log_warn, "warning")
LOGFN(mt_log_error, "error")

void mt_log_debug(int no, const char *fmt, ...)
{
    va_list ap;

    if (!mt_log_debug_on)
        return;
    va_start(ap, fmt);
    vlog("debug", no, fmt, ap);
    va_end(ap);
}
