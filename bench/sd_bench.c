/*
 * NAME
 *   sd_bench - storaged authenticate+resolve round trips per second
 *
 * SUMMARY
 *   sd_bench SOCKET USER PASSWORD [THREADS [SECONDS [MODE]]]
 *
 *   MODE auth (default): authenticate + resolve pairs.
 *   MODE save: save a message (20 properties, 4 KB body) into the Inbox.
 *   A USER with "%d" in it names one user per thread (thread i is user
 *   i, from 0), each saving into (or reading from) its own mailbox.
 *   MODE get: open a message saved before and read all its properties.
 *   MODE page: the first 50 rows of the Inbox's contents table, newest
 *   first (MID, subject, delivery time, size, flags).
 *   MODE substr: the same with a restriction: subjects containing
 *   "needle", any case (the subject's trigram index).
 *   MODE fts: the same with a full-text restriction on "needle".
 *   MODE scan: read the whole Inbox once, 1000 rows per request; prints
 *   rows and seconds (THREADS and SECONDS are ignored).
 *
 * DESCRIPTION
 *   THREADS clients (default 16), each on its own connection through
 *   lib/xc_client, loop AUTH then RESOLVE of the user's own address for
 *   SECONDS (default 10), as an Autodiscover request does. Prints pairs per
 *   second and the p50/p99 latency of one pair. Warm-up: one login first,
 *   so the credential cache is populated as in steady state.
 */
#include "xc_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *sock, *user_arg, *password;
/* per thread: USER may name one user per thread ("u%d@example.test":
   thread i is user i), each saving into its own mailbox */
static __thread const char *user;
static __thread char user_buf[256];
static int seconds = 10;
static volatile int stop;
static enum { M_AUTH, M_SAVE, M_GET, M_PAGE, M_SUBSTR, M_FTS, M_SCAN } mode =
    M_AUTH;
static __thread int64_t inbox_fid, mailbox_id;
static int64_t main_inbox;      /* the first user's */
static int per_thread_users;
static int64_t *saved;          /* MIDs from a warm-up, for M_GET */
static int nsaved;

typedef struct {
    long n, errors;
    double *lat;
    long cap;
} result;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int login(xc_client *c, char *token, size_t toklen);

static int pair(xc_client *c, char *token, size_t toklen)
{
    xc_reply rep;
    const char *err;
    xc_wbuf *w;

    if (login(c, token, toklen) < 0)
        return -1;
    w = xc_client_begin(c, XW_OP_RESOLVE);
    xc_put_str(w, XW_TAG_SESSION, token);
    xc_put_str(w, XW_TAG_ADDRESS, user);
    if (xc_client_call(c, NULL, &rep, &err) < 0 || rep.status != XC_OK)
        return -1;
    return 0;
}

static int login(xc_client *c, char *token, size_t toklen)
{
    xc_reply rep;
    const char *err;
    xc_wbuf *w = xc_client_begin(c, XW_OP_AUTH);

    xc_put_str(w, XW_TAG_USER, user);
    xc_put_str(w, XW_TAG_PASSWORD, password);
    xc_put_str(w, XW_TAG_REMOTE_ADDR, "127.0.0.1");
    if (xc_client_call(c, NULL, &rep, &err) < 0 || rep.status != XC_OK ||
        xc_reply_str(&rep, XW_TAG_SESSION, token, toklen) < 0)
        return -1;
    mailbox_id = xc_reply_i8(&rep, XW_TAG_MAILBOX_ID, 0);
    return 0;
}

static int find_inbox(void *ctx, const xc_propval *pv, size_t n)
{
    const xc_propval *sp = xc_props_find(pv, n, PR_XC_SPECIAL_FOLDER);
    (void)ctx;
    if (sp != NULL && sp->v.i32 == 5)
        inbox_fid = xc_props_find(pv, n, PR_FID)->v.i64;
    return 0;
}

/* One message like a typical mail: 20 properties, a 4 KB body. */
static int save_one(xc_client *c, const char *token, int64_t *mid_r)
{
    static char body[4096];
    xc_reply rep;
    const char *err;
    xc_wbuf *w = xc_client_begin(c, XW_OP_SAVE_MESSAGE);
    char text[64];

    if (body[0] == '\0')
        memset(body, 'x', sizeof(body) - 1);
    xc_put_str(w, XW_TAG_SESSION, token);
    xc_put_i8(w, XW_TAG_MAILBOX_ID, mailbox_id);
    xc_put_i8(w, PR_FID, inbox_fid);
    xc_put_long(w, XW_MARK_START_MESSAGE, 0);
    xc_put_str(w, PROP_TAG(PT_STRING8, 0x0037), "A benchmark message");
    xc_put_str(w, PROP_TAG(PT_STRING8, 0x001A), "IPM.Note");
    xc_put_i8(w, PR_MESSAGE_DELIVERY_TIME, 133000000000000000LL);
    xc_put_str(w, PROP_TAG(PT_STRING8, 0x1000), body);
    for (int i = 0; i < 16; i++) {
        snprintf(text, sizeof(text), "value %d", i);
        if (i % 2)
            xc_put_long(w, PROP_TAG(PT_LONG, 0x6000 + i), i);
        else
            xc_put_str(w, PROP_TAG(PT_STRING8, 0x6000 + i), text);
    }
    xc_put_long(w, XW_MARK_END_MESSAGE, 0);
    if (xc_client_call(c, NULL, &rep, &err) < 0 || rep.status != XC_OK)
        return -1;
    *mid_r = xc_reply_i8(&rep, PR_MID, 0);
    return 0;
}

static int get_one(xc_client *c, const char *token, int64_t mid)
{
    xc_reply rep;
    const char *err;
    xc_wbuf *w = xc_client_begin(c, XW_OP_GET_MESSAGE);

    xc_put_str(w, XW_TAG_SESSION, token);
    xc_put_i8(w, XW_TAG_MAILBOX_ID, mailbox_id);
    xc_put_i8(w, PR_MID, mid);
    return xc_client_call(c, NULL, &rep, &err) == 0 && rep.status == XC_OK
               ? 0 : -1;
}

static int count_row(void *ctx, const xc_propval *pv, size_t n)
{
    (void)pv;
    (void)n;
    ++*(long *)ctx;
    return 0;
}

/* One page of the Inbox's contents table; *rows_r gets its row count. */
static int page_one(xc_client *c, const char *token, int offset, int limit,
                    long *rows_r)
{
    static const uint32_t cols[] = { PR_MID, PR_SUBJECT,
                                     PR_MESSAGE_DELIVERY_TIME,
                                     PR_MESSAGE_SIZE, PR_MESSAGE_FLAGS };
    static const uint32_t sort[] = { PR_MESSAGE_DELIVERY_TIME, 1 };
    xc_callbacks cb = { count_row, NULL, rows_r };
    xc_reply rep;
    const char *err;
    xc_wbuf *w = xc_client_begin(c, XW_OP_CONTENTS);

    *rows_r = 0;
    xc_put_str(w, XW_TAG_SESSION, token);
    xc_put_i8(w, XW_TAG_MAILBOX_ID, mailbox_id);
    xc_put_i8(w, PR_FID, inbox_fid);
    xc_put_u32(w, XW_TAG_COLUMNS);
    xc_put_u32(w, 5);
    for (int i = 0; i < 5; i++)
        xc_put_u32(w, cols[i]);
    xc_put_u32(w, XW_TAG_SORT);
    xc_put_u32(w, 2);
    xc_put_u32(w, sort[0]);
    xc_put_u32(w, sort[1]);
    if (mode == M_SUBSTR || mode == M_FTS) {
        /* [MS-OXCDATA] 2.12.4: content, FL_SUBSTRING | FL_IGNORECASE */
        static const char word[] = "needle";
        uint8_t r[64];
        size_t k = 0;
        uint32_t tag = mode == M_FTS ? PROP_TAG(PT_UNICODE, 0x0EAF)
                                     : PR_SUBJECT;
        r[k++] = 0x03;
        r[k++] = 1; r[k++] = 0;
        r[k++] = 1; r[k++] = 0;
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 4; i++)
                r[k++] = (uint8_t)(tag >> (8 * i));
        for (size_t i = 0; i < sizeof(word); i++) {
            r[k++] = (uint8_t)word[i];      /* UTF-16LE, with the NUL */
            r[k++] = 0;
        }
        xc_put_bin(w, XW_TAG_RESTRICTION, r, k);
    }
    xc_put_long(w, XW_TAG_OFFSET, offset);
    xc_put_long(w, XW_TAG_LIMIT, limit);
    return xc_client_call(c, &cb, &rep, &err) == 0 && rep.status == XC_OK
               ? 0 : -1;
}

static result results[256];

/* user = USER with "%d" replaced by i */
static void user_of(int i)
{
    const char *p = strstr(user_arg, "%d");

    snprintf(user_buf, sizeof(user_buf), "%.*s%d%s", (int)(p - user_arg),
             user_arg, i, p + 2);
    user = user_buf;
}

/* This thread's user's Inbox (inbox_fid). */
static int find_inbox_of(xc_client *c, const char *token)
{
    xc_callbacks cb = { find_inbox, NULL, NULL };
    xc_reply rep;
    const char *err;
    xc_wbuf *w = xc_client_begin(c, XW_OP_LIST_FOLDERS);

    inbox_fid = 0;
    xc_put_str(w, XW_TAG_SESSION, token);
    xc_put_i8(w, XW_TAG_MAILBOX_ID, mailbox_id);
    if (xc_client_call(c, &cb, &rep, &err) < 0 || inbox_fid == 0)
        return -1;
    return 0;
}

static void *worker(void *arg)
{
    result *r = arg;
    xc_client *c;
    const char *err;
    char token[65];

    user = user_arg;
    inbox_fid = main_inbox;
    if (per_thread_users) {
        user_of((int)(r - results));
        user = user_buf;
    }
    if (xc_client_connect(sock, 10000, 0, &c, &err) < 0) {
        fprintf(stderr, "sd_bench: %s\n", err);
        r->errors++;
        return NULL;
    }
    if (mode != M_AUTH && (login(c, token, sizeof(token)) < 0 ||
                           (per_thread_users && find_inbox_of(c, token) < 0))) {
        r->errors++;
        xc_client_destroy(&c);
        return NULL;
    }
    while (!stop) {
        double t0 = now();
        int64_t mid;
        long rows;
        int rc = mode == M_AUTH ? pair(c, token, sizeof(token))
                 : mode == M_SAVE ? save_one(c, token, &mid)
                 : mode == M_GET
                     ? get_one(c, token, saved[(r->n * 7919 + (long)r) % nsaved])
                     : page_one(c, token, 0, 50, &rows);
        if (rc < 0) {
            r->errors++;
            if (xc_client_broken(c))
                break;
            continue;
        }
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 65536;
            r->lat = realloc(r->lat, sizeof(double) * (size_t)r->cap);
        }
        r->lat[r->n++] = now() - t0;
    }
    xc_client_destroy(&c);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int threads = 16;
    pthread_t t[256];
    result *res = results;
    long total = 0, errors = 0, k = 0;
    double *all, t0, el;
    xc_client *c;
    const char *err;
    char token[65];

    if (argc < 4) {
        fprintf(stderr, "usage: sd_bench SOCKET USER PASSWORD [THREADS [SECONDS]]\n");
        return 2;
    }
    sock = argv[1];
    user_arg = argv[2];
    per_thread_users = strstr(user_arg, "%d") != NULL;
    if (per_thread_users) {
        user_of(0);
    } else {
        user = user_arg;
    }
    password = argv[3];
    if (argc > 4)
        threads = atoi(argv[4]);
    if (argc > 5)
        seconds = atoi(argv[5]);
    if (argc > 6)
        mode = !strcmp(argv[6], "save") ? M_SAVE
               : !strcmp(argv[6], "get") ? M_GET
               : !strcmp(argv[6], "page") ? M_PAGE
               : !strcmp(argv[6], "substr") ? M_SUBSTR
               : !strcmp(argv[6], "fts") ? M_FTS
               : !strcmp(argv[6], "scan") ? M_SCAN : M_AUTH;
    if (threads < 1 || threads > 256 || seconds < 1)
        return 2;
    if (per_thread_users && mode != M_SAVE) {
        fprintf(stderr, "sd_bench: one user per thread is for MODE save\n");
        return 2;
    }
    if (xc_client_connect(sock, 10000, 0, &c, &err) < 0 ||
        pair(c, token, sizeof(token)) < 0) {
        fprintf(stderr, "sd_bench: warm-up login failed\n");
        return 1;
    }
    if (mode != M_AUTH) {
        xc_callbacks cb = { find_inbox, NULL, NULL };
        xc_reply rep;
        xc_wbuf *w;

        if (login(c, token, sizeof(token)) < 0)
            return 1;
        w = xc_client_begin(c, XW_OP_LIST_FOLDERS);
        xc_put_str(w, XW_TAG_SESSION, token);
        xc_put_i8(w, XW_TAG_MAILBOX_ID, mailbox_id);
        if (xc_client_call(c, &cb, &rep, &err) < 0 || inbox_fid == 0) {
            fprintf(stderr, "sd_bench: no Inbox\n");
            return 1;
        }
        if (mode == M_GET) {
            nsaved = 200;
            saved = malloc(sizeof(*saved) * (size_t)nsaved);
            for (int i = 0; i < nsaved; i++)
                if (save_one(c, token, &saved[i]) < 0) {
                    fprintf(stderr, "sd_bench: warm-up save failed\n");
                    return 1;
                }
        }
    }
    if (mode == M_SCAN) {
        long rows, all_rows = 0;
        double s0 = now(), worst = 0;
        for (int off = 0;; off += 1000) {
            double p0 = now();
            if (page_one(c, token, off, 1000, &rows) < 0) {
                fprintf(stderr, "sd_bench: page at %d failed\n", off);
                return 1;
            }
            if (now() - p0 > worst)
                worst = now() - p0;
            all_rows += rows;
            if (rows < 1000)
                break;
        }
        printf("storaged contents scan: %ld rows in %.1f s, 1000 per "
               "request, slowest request %.0f ms\n", all_rows, now() - s0,
               worst * 1e3);
        xc_client_destroy(&c);
        return 0;
    }
    main_inbox = inbox_fid;
    xc_client_destroy(&c);
    memset(results, 0, sizeof(results));
    t0 = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, &res[i]);
    while (now() - t0 < seconds) {
        struct timespec ts = { 0, 50000000 };
        nanosleep(&ts, NULL);
    }
    stop = 1;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += res[i].n;
        errors += res[i].errors;
    }
    el = now() - t0;
    all = malloc(sizeof(double) * (size_t)(total ? total : 1));
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, res[i].lat, sizeof(double) * (size_t)res[i].n);
        k += res[i].n;
        free(res[i].lat);
    }
    qsort(all, (size_t)total, sizeof(double), cmp);
    printf("storaged %s: %d clients, %.1f s: %.0f %s/s, "
           "p50 %.3f ms, p99 %.3f ms, %ld errors\n",
           mode == M_AUTH ? "auth+resolve" : mode == M_SAVE ? "message save"
           : mode == M_GET ? "message open+get"
           : mode == M_PAGE ? "first page of 50, newest first"
           : mode == M_SUBSTR ? "first page, subject substring"
                              : "first page, full-text word",
           threads, el,
           total / el, mode == M_AUTH ? "pairs"
                       : mode <= M_GET ? "messages" : "pages",
           total ? all[total / 2] * 1e3 : 0,
           total ? all[(long)(total * 0.99)] * 1e3 : 0, errors);
    free(all);
    return errors ? 1 : 0;
}
