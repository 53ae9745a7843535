/*
 * NAME
 *   sd_log - storaged log lines
 *
 * DESCRIPTION
 *   One line per event on stderr (the journal under systemd, a file under
 *   `make run`): time, level, "SDnnnnn:", message. Numbers are unique so
 *   admins, fail2ban and tests can match on them. Never log a password or a
 *   session token.
 */
#include "sd.h"
#include "xc_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int sd_log_debug_on;

static void vlog(const char *level, int no, const char *fmt, va_list ap)
{
    char msg[2048], ts[32];
    struct timespec now;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* one write per line so lines of different threads don't interleave */
    dprintf(STDERR_FILENO, "%s.%03ldZ storaged[%d]: %s: SD%05d: %s\n", ts,
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
LOGFN(sd_log_info, "info")
LOGFN(sd_log_warn, "warning")
LOGFN(sd_log_error, "error")

void sd_log_debug(int no, const char *fmt, ...)
{
    va_list ap;

    if (!sd_log_debug_on)
        return;
    va_start(ap, fmt);
    vlog("debug", no, fmt, ap);
    va_end(ap);
}

void sd_log_sanitize(char *dst, size_t dstlen, const char *s, size_t n)
{
    xc_log_escape(dst, dstlen, s, n);
}
