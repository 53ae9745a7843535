/*
 * xc_mbox - see xc_mbox.h.
 */
#include "xc_mbox.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int is_from(const uint8_t *p, size_t left)
{
    return left >= 5 && memcmp(p, "From ", 5) == 0;
}

/* Is the line p[0..n) ">"s then "From "? */
static int quoted_from(const uint8_t *p, size_t n)
{
    size_t j = 0;

    while (j < n && p[j] == '>')
        j++;
    return j > 0 && is_from(p + j, n - j);
}

size_t xc_mbox_split(const uint8_t *p, size_t len, xc_mbox_cb cb, void *ctx)
{
    size_t start = 0, i = 0, count = 0;
    int in = 0;

    for (;;) {
        const uint8_t *nl = i < len ? memchr(p + i, '\n', len - i) : NULL;
        size_t end = nl ? (size_t)(nl - p) + 1 : len;
        int sep = i < len && is_from(p + i, len - i);

        if (in && (sep || i >= len)) {
            size_t n = i - start;
            /* the blank line the writer put after the message */
            if (n >= 2 && p[start + n - 1] == '\n' && p[start + n - 2] == '\n')
                n--;
            else if (n >= 3 && p[start + n - 1] == '\n' &&
                     p[start + n - 2] == '\r' && p[start + n - 3] == '\n')
                n -= 2;
            else if ((n == 1 && p[start] == '\n') ||
                     (n == 2 && p[start] == '\r' && p[start + 1] == '\n'))
                n = 0;          /* an empty message */
            count++;
            if (cb(ctx, p + start, n) < 0)
                return count;
            in = 0;
        }
        if (i >= len)
            return count;
        if (sep) {
            start = end;
            in = 1;
        }
        i = end;
    }
}

void xc_mbox_canonical(const uint8_t *p, size_t n, int from_mbox,
                       xc_wbuf *out)
{
    size_t i = 0;

    xc_wbuf_reset(out);
    while (i < n) {
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) : n, k = end, from = i;

        while (k > i && p[k - 1] == '\r')
            k--;
        if (from_mbox && quoted_from(p + i, k - i))
            from++;
        xc_put_bytes(out, p + from, k - from);
        if (nl != NULL || k > i)
            xc_put_bytes(out, "\r\n", 2);
        i = nl ? end + 1 : n;
    }
}

void xc_mbox_entry(const uint8_t *p, size_t n, const char *sender,
                   int64_t unix_time, xc_wbuf *out)
{
    time_t t = (time_t)unix_time;
    struct tm tm;
    char line[400];
    size_t i = 0;

    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    snprintf(line, sizeof(line), "From %s ",
             sender && sender[0] && !strpbrk(sender, " \t\r\n") ? sender
                                                               : "MAILER-DAEMON");
    xc_put_bytes(out, line, strlen(line));
    if (strftime(line, sizeof(line), "%a %b %e %H:%M:%S %Y\n", &tm) == 0)
        snprintf(line, sizeof(line), "Thu Jan  1 00:00:00 1970\n");
    xc_put_bytes(out, line, strlen(line));
    while (i < n) {
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) : n, k = end;

        while (k > i && p[k - 1] == '\r')
            k--;
        if (is_from(p + i, k - i) || quoted_from(p + i, k - i))
            xc_put_bytes(out, ">", 1);
        xc_put_bytes(out, p + i, k - i);
        xc_put_bytes(out, "\n", 1);
        i = nl ? end + 1 : n;
    }
    xc_put_bytes(out, "\n", 1);
}

/* Does the line p[0..n) start with field name (and its colon)? */
static int field_is(const uint8_t *p, size_t n, const char *name)
{
    size_t k = strlen(name);

    return n > k && p[k] == ':' && strncasecmp((const char *)p, name, k) == 0;
}

static int has_letter(const uint8_t *p, size_t n, char c)
{
    return memchr(p, c, n) != NULL;
}

void xc_mbox_status(const uint8_t *p, size_t n, int *read, int *flagged)
{
    size_t i = 0;

    *read = *flagged = 0;
    while (i < n) {
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) : n, k = end;

        if (k > i && p[k - 1] == '\r')
            k--;
        if (k == i)
            break;                      /* the end of the header block */
        if (field_is(p + i, k - i, "Status"))
            *read |= has_letter(p + i + 7, k - i - 7, 'R');
        else if (field_is(p + i, k - i, "X-Status"))
            *flagged |= has_letter(p + i + 9, k - i - 9, 'F');
        i = nl ? end + 1 : n;
    }
}

void xc_maildir_status(const char *name, int *read, int *flagged)
{
    const char *info = strstr(name, ":2,");

    *read = *flagged = 0;
    if (info == NULL)
        return;
    info += 3;
    *read = strchr(info, 'S') != NULL;
    *flagged = strchr(info, 'F') != NULL;
}
