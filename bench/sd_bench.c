/*
 * NAME
 *   sd_bench - storaged authenticate+resolve round trips per second
 *
 * SUMMARY
 *   sd_bench SOCKET USER PASSWORD [THREADS [SECONDS [MODE]]]
 *
 *   MODE auth (default): authenticate + resolve pairs.
 *   MODE save: save a message (20 properties, 4 KB body) into the Inbox.
 *   MODE get: open a message saved before and read all its properties.
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

static const char *sock, *user, *password;
static int seconds = 10;
static volatile int stop;
static enum { M_AUTH, M_SAVE, M_GET } mode = M_AUTH;
static int64_t inbox_fid, mailbox_id;
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

static void *worker(void *arg)
{
    result *r = arg;
    xc_client *c;
    const char *err;
    char token[65];

    if (xc_client_connect(sock, 10000, 0, &c, &err) < 0) {
        fprintf(stderr, "sd_bench: %s\n", err);
        r->errors++;
        return NULL;
    }
    if (mode != M_AUTH && login(c, token, sizeof(token)) < 0) {
        r->errors++;
        xc_client_destroy(&c);
        return NULL;
    }
    while (!stop) {
        double t0 = now();
        int64_t mid;
        int rc = mode == M_AUTH ? pair(c, token, sizeof(token))
                 : mode == M_SAVE ? save_one(c, token, &mid)
                 : get_one(c, token, saved[(r->n * 7919 + (long)r) % nsaved]);
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
    result res[256];
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
    user = argv[2];
    password = argv[3];
    if (argc > 4)
        threads = atoi(argv[4]);
    if (argc > 5)
        seconds = atoi(argv[5]);
    if (argc > 6)
        mode = !strcmp(argv[6], "save") ? M_SAVE
               : !strcmp(argv[6], "get") ? M_GET : M_AUTH;
    if (threads < 1 || threads > 256 || seconds < 1)
        return 2;
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
    xc_client_destroy(&c);
    memset(res, 0, sizeof(res));
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
                                                            : "message open+get",
           threads, el,
           total / el, mode == M_AUTH ? "pairs" : "messages",
           total ? all[total / 2] * 1e3 : 0,
           total ? all[(long)(total * 0.99)] * 1e3 : 0, errors);
    free(all);
    return errors ? 1 : 0;
}
