/*
 * NAME
 *   xc-mail - import mail into a mailbox folder; export a folder as mbox
 *
 * SUMMARY
 *   xc-mail import [-s socket] [-j jobs] [-q] ADDRESS FOLDER SOURCE...
 *   xc-mail export [-s socket] [-q] ADDRESS FOLDER [FILE]
 *
 * DESCRIPTION
 *   Everything goes through storaged (lib/xc_wire.h): a trusted login for
 *   ADDRESS (so run it as root or as storaged's user), IMPORT_MIME for each
 *   message, which converts it per [MS-OXCMAIL] and keeps its bytes, and
 *   GET_MIME to export. Nothing touches the database directly.
 *
 *   FOLDER is a path below the top of the mailbox's folder tree, names
 *   separated by "/": "Inbox", "Inbox/Archive 2019". Import creates the
 *   folders that are missing (mail folders, IPF.Note).
 *
 *   A SOURCE is
 *     - a Maildir (a directory with cur/ or new/): every message file in
 *       cur/ and new/;
 *     - an mbox file (its first line starts with "From "): messages are
 *       split at "From " lines, and ">From " lines are unescaped as mboxrd
 *       writes them (mboxo files read the same);
 *     - any other file: one message (an .eml).
 *   Lines are stored with CRLF ends, as Internet mail has them on the
 *   wire; the bytes are otherwise kept as they are. A message keeps its
 *   read and flagged state: Maildir's S and F flags, an mbox's Status: R
 *   and X-Status: F.
 *
 *   Import sends messages over -j connections at once (default 4). On a
 *   terminal it draws a progress bar on stderr; it always ends with a
 *   summary: messages imported, refused (each with storaged's reason, the
 *   first ten shown), bytes, time and rate. A full mailbox (quota) stops
 *   the import. Export writes an mboxrd file (or standard output), oldest
 *   message first.
 *
 * EXIT STATUS
 *   0 everything imported or exported, 1 some messages refused or failed,
 *   2 bad usage, storaged unreachable, unknown user or folder.
 */
#include "xc_client.h"
#include "xc_mbox.h"
#include "xc_wire.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/exchange/storaged.sock"
#define TIMEOUT_MS 120000
#define MAX_JOBS 32
#define SHOW_ERRORS 10
#define PAGE 1000
#define IPM_SUBTREE 4               /* special folder id (sql/001) */
#define FILETIME_UNIX_DIFF 11644473600LL

/* One message to import: a span of a mapped mbox, or a file. */
typedef struct item {
    const uint8_t *p;               /* mbox span (NULL: read path) */
    size_t n;
    char *path;
    unsigned from_mbox : 1;
    unsigned read : 1, flagged : 1;     /* the state it had there */
} item;

typedef struct source {
    uint8_t *map;
    size_t len;
} source;

static struct {
    const char *socket, *address;
    int jobs, quiet, tty;
    char session[65];
    int64_t mailbox;
    int64_t fid;
    item *items;
    size_t nitems, cap;
    source *maps;
    size_t nmaps;
    /* progress, under lock */
    pthread_mutex_t lock;
    size_t next, done, ok, failed;
    uint64_t bytes;
    int stop;                       /* quota or lost connection */
    char stop_why[320];
    char errors[SHOW_ERRORS][320];
    int nerrors;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("xc-mail: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static xc_client *connect_or_die(void)
{
    xc_client *c;
    const char *err;

    if (xc_client_connect(g.socket, TIMEOUT_MS, 0, &c, &err) < 0)
        die("cannot reach storaged at %s: %s", g.socket, err);
    return c;
}

/* A session for g.address (trusted: root or storaged's own user). */
static void login(xc_client *c)
{
    xc_wbuf *w = xc_client_begin(c, XW_OP_TRUSTED_LOGIN);
    xc_reply rep;
    const char *err;

    xc_put_str(w, XW_TAG_USER, g.address);
    if (xc_client_call(c, NULL, &rep, &err) < 0)
        die("storaged: %s", err);
    if (rep.status != XC_OK)
        die("cannot open the mailbox of %s: %s%s%s", g.address,
            xc_status_name(rep.status), rep.errmsg[0] ? ": " : "",
            rep.errmsg);
    if (xc_reply_str(&rep, XW_TAG_SESSION, g.session, sizeof(g.session)) < 0)
        die("storaged gave no session");
    g.mailbox = xc_reply_i8(&rep, XW_TAG_MAILBOX_ID, 0);
}

static void begin_args(xc_wbuf *w)
{
    xc_put_str(w, XW_TAG_SESSION, g.session);
    xc_put_i8(w, XW_TAG_MAILBOX_ID, g.mailbox);
}

/* ---- folders ------------------------------------------------------------ */

typedef struct folder {
    int64_t fid, parent;
    int has_parent, special;
    char name[256];
} folder;

typedef struct folder_list {
    folder *v;
    size_t n, cap;
} folder_list;

static int folder_row(void *ctx, const xc_propval *pv, size_t n)
{
    folder_list *l = ctx;
    const xc_propval *v;
    folder *f;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        folder *nv = realloc(l->v, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    f = &l->v[l->n++];
    memset(f, 0, sizeof(*f));
    if ((v = xc_props_find(pv, n, PR_FID)) != NULL)
        f->fid = v->v.i64;
    if ((v = xc_props_find(pv, n, PR_PARENT_FID)) != NULL) {
        f->parent = v->v.i64;
        f->has_parent = 1;
    }
    if ((v = xc_props_find(pv, n, PR_XC_SPECIAL_FOLDER)) != NULL)
        f->special = v->v.i32;
    if ((v = xc_props_find(pv, n, PR_DISPLAY_NAME)) != NULL)
        snprintf(f->name, sizeof(f->name), "%.*s", (int)v->v.bin.n,
                 (const char *)v->v.bin.p);
    return 0;
}

static void list_folders(xc_client *c, folder_list *l)
{
    xc_callbacks cb = { folder_row, NULL, l };
    xc_wbuf *w = xc_client_begin(c, XW_OP_LIST_FOLDERS);
    xc_reply rep;
    const char *err;

    l->n = 0;
    begin_args(w);
    if (xc_client_call(c, &cb, &rep, &err) < 0 || rep.status != XC_OK)
        die("cannot list folders: %s", rep.errmsg[0] ? rep.errmsg : err);
}

static int64_t create_folder(xc_client *c, int64_t parent, const char *name)
{
    xc_wbuf *w = xc_client_begin(c, XW_OP_CREATE_FOLDER);
    xc_reply rep;
    const char *err = "";

    begin_args(w);
    xc_put_i8(w, PR_PARENT_FID, parent);
    xc_put_str(w, PR_DISPLAY_NAME, name);
    xc_put_str(w, PR_CONTAINER_CLASS, "IPF.Note");
    if (xc_client_call(c, NULL, &rep, &err) < 0 || rep.status != XC_OK)
        die("cannot create folder %s: %s", name,
            rep.errmsg[0] ? rep.errmsg : err);
    return xc_reply_i8(&rep, PR_FID, 0);
}

/* The folder at path below the top of the tree; created if asked. (Ids
   are wire ids: any 64-bit value, negative ones too.) */
static int64_t find_folder(xc_client *c, const char *path, int create)
{
    folder_list l = { 0 };
    int64_t cur = 0;
    int have = 0;
    char buf[1024], *save = NULL, *name;

    list_folders(c, &l);
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].special == IPM_SUBTREE) {
            cur = l.v[i].fid;
            have = 1;
        }
    if (!have)
        die("the mailbox has no top of information store");
    snprintf(buf, sizeof(buf), "%s", path);
    for (name = strtok_r(buf, "/", &save); name != NULL;
         name = strtok_r(NULL, "/", &save)) {
        int64_t next = 0;
        int found = 0;
        for (size_t i = 0; i < l.n && !found; i++)
            if (l.v[i].has_parent && l.v[i].parent == cur &&
                strcasecmp(l.v[i].name, name) == 0) {
                next = l.v[i].fid;
                found = 1;
            }
        if (!found && !create)
            die("no folder %s in the mailbox of %s", path, g.address);
        if (!found)
            next = create_folder(c, cur, name);
        cur = next;
    }
    free(l.v);
    return cur;
}

/* ---- sources ------------------------------------------------------------ */

static void add_item(const uint8_t *p, size_t n, const char *path,
                     int from_mbox, int read, int flagged)
{
    if (g.nitems == g.cap) {
        size_t cap = g.cap ? g.cap * 2 : 1024;
        item *nv = realloc(g.items, cap * sizeof(*nv));
        if (nv == NULL)
            die("out of memory");
        g.items = nv;
        g.cap = cap;
    }
    g.items[g.nitems].p = p;
    g.items[g.nitems].n = n;
    g.items[g.nitems].path = path ? strdup(path) : NULL;
    g.items[g.nitems].from_mbox = from_mbox != 0;
    g.items[g.nitems].read = read != 0;
    g.items[g.nitems].flagged = flagged != 0;
    if (path && g.items[g.nitems].path == NULL)
        die("out of memory");
    g.nitems++;
}

static int add_mbox_message(void *ctx, const uint8_t *p, size_t n)
{
    int read, flagged;

    (void)ctx;
    xc_mbox_status(p, n, &read, &flagged);
    add_item(p, n, NULL, 1, read, flagged);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_maildir_sub(const char *dir, const char *sub)
{
    char path[4096];
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    if ((d = opendir(path)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nv;
            cap = cap ? cap * 2 : 256;
            if ((nv = realloc(names, cap * sizeof(*nv))) == NULL)
                die("out of memory");
            names = nv;
        }
        if ((names[n++] = strdup(e->d_name)) == NULL)
            die("out of memory");
    }
    closedir(d);
    /* Maildir names start with the delivery time: roughly oldest first */
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        int read, flagged;
        snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, names[i]);
        xc_maildir_status(names[i], &read, &flagged);
        add_item(NULL, 0, path, 0, read, flagged);
        free(names[i]);
    }
    free(names);
}

static void add_source(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        die("%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        char sub[4096];
        struct stat s2;
        int found = 0;
        for (int i = 0; i < 2; i++) {
            snprintf(sub, sizeof(sub), "%s/%s", path, i ? "cur" : "new");
            found |= stat(sub, &s2) == 0 && S_ISDIR(s2.st_mode);
        }
        if (!found)
            die("%s: a directory but not a Maildir (no cur/ or new/)", path);
        add_maildir_sub(path, "cur");
        add_maildir_sub(path, "new");
        return;
    }
    if (!S_ISREG(st.st_mode))
        die("%s: not a file or a Maildir", path);
    {
        int fd = open(path, O_RDONLY);
        uint8_t head[5] = { 0 };
        ssize_t k;

        if (fd < 0)
            die("%s: %s", path, strerror(errno));
        k = read(fd, head, sizeof(head));
        if (k == 5 && memcmp(head, "From ", 5) == 0 && st.st_size > 0) {
            void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
                           fd, 0);
            source *nm;
            if (m == MAP_FAILED)
                die("%s: %s", path, strerror(errno));
            (void)madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            if ((nm = realloc(g.maps, (g.nmaps + 1) * sizeof(*nm))) == NULL)
                die("out of memory");
            g.maps = nm;
            g.maps[g.nmaps].map = m;
            g.maps[g.nmaps++].len = (size_t)st.st_size;
            (void)xc_mbox_split(m, (size_t)st.st_size, add_mbox_message,
                                NULL);
        } else {
            add_item(NULL, 0, path, 0, 0, 0);
        }
        close(fd);
    }
}

static int read_file(const char *path, xc_wbuf *raw)
{
    int fd = open(path, O_RDONLY);
    uint8_t buf[65536];
    ssize_t k;

    xc_wbuf_reset(raw);
    if (fd < 0)
        return -1;
    while ((k = read(fd, buf, sizeof(buf))) > 0)
        xc_put_bytes(raw, buf, (size_t)k);
    close(fd);
    return k < 0 || raw->err ? -1 : 0;
}

/* ---- import ------------------------------------------------------------- */

static void note_error(size_t idx, const char *why)
{
    const item *it = &g.items[idx];

    pthread_mutex_lock(&g.lock);
    if (g.nerrors < SHOW_ERRORS) {
        if (it->path)
            snprintf(g.errors[g.nerrors++], sizeof(g.errors[0]), "%s: %s",
                     it->path, why);
        else
            snprintf(g.errors[g.nerrors++], sizeof(g.errors[0]),
                     "mbox message %zu: %s", idx + 1, why);
    }
    pthread_mutex_unlock(&g.lock);
}

static void *import_worker(void *arg)
{
    xc_client *c = connect_or_die();
    xc_wbuf raw, msg;

    (void)arg;
    xc_wbuf_init(&raw, 0);
    xc_wbuf_init(&msg, 0);
    for (;;) {
        size_t idx;
        const item *it;
        xc_reply rep;
        const char *err = NULL;
        xc_wbuf *w;
        int ok = 0;

        pthread_mutex_lock(&g.lock);
        idx = g.next < g.nitems && !g.stop ? g.next++ : (size_t)-1;
        pthread_mutex_unlock(&g.lock);
        if (idx == (size_t)-1)
            break;
        it = &g.items[idx];
        if (it->path != NULL) {
            if (read_file(it->path, &raw) < 0) {
                note_error(idx, strerror(errno ? errno : EIO));
                goto counted;
            }
            xc_mbox_canonical(raw.p, raw.len, 0, &msg);
        } else {
            xc_mbox_canonical(it->p, it->n, 1, &msg);
        }
        if (msg.err) {
            note_error(idx, "out of memory");
            goto counted;
        }
        if (msg.len == 0) {
            note_error(idx, "an empty message");
            goto counted;
        }
        w = xc_client_begin(c, XW_OP_IMPORT_MIME);
        begin_args(w);
        xc_put_i8(w, PR_FID, g.fid);
        xc_put_object(w, XW_TAG_MIME, msg.len);
        if (it->read)
            xc_put_bool(w, XW_TAG_READ, 1);
        if (it->flagged)
            xc_put_bool(w, XW_TAG_FLAGGED, 1);
        xc_client_stream(c, msg.p, msg.len);
        if (xc_client_call(c, NULL, &rep, &err) < 0) {
            pthread_mutex_lock(&g.lock);
            g.stop = 1;
            snprintf(g.stop_why, sizeof(g.stop_why), "storaged: %s", err);
            pthread_mutex_unlock(&g.lock);
            note_error(idx, err);
            goto counted;
        }
        if (rep.status == XC_OK) {
            ok = 1;
        } else {
            char why[300];
            snprintf(why, sizeof(why), "%s%s%s", xc_status_name(rep.status),
                     rep.errmsg[0] ? ": " : "", rep.errmsg);
            note_error(idx, why);
            if (rep.status == XC_E_NOQUOTA || rep.status == XC_E_SESSION ||
                rep.status == XC_E_TEMP) {
                pthread_mutex_lock(&g.lock);
                g.stop = 1;
                snprintf(g.stop_why, sizeof(g.stop_why), "%s", why);
                pthread_mutex_unlock(&g.lock);
            }
        }
counted:
        pthread_mutex_lock(&g.lock);
        g.done++;
        if (ok) {
            g.ok++;
            g.bytes += msg.len;
        } else {
            g.failed++;
        }
        pthread_mutex_unlock(&g.lock);
    }
    xc_wbuf_free(&raw);
    xc_wbuf_free(&msg);
    xc_client_destroy(&c);
    return NULL;
}

static void progress(const char *verb, size_t done, size_t total, double t0,
                     int final)
{
    double el = now_s() - t0, rate = el > 0 ? (double)done / el : 0;
    int width = 30, fill = total ? (int)((double)done * width / total) : 0;
    char bar[64];

    if (!g.tty || g.quiet)
        return;
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%% %zu/%zu  %.0f msg/s  ETA %.0fs ", verb,
            bar, total ? (int)(100.0 * done / total) : 100, done, total,
            rate, rate > 0 ? (double)(total - done) / rate : 0.0);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

static int do_import(int argc, char **argv)
{
    pthread_t th[MAX_JOBS];
    xc_client *c;
    double t0, el;
    const char *path;

    if (argc < 3)
        die("usage: xc-mail import [-s socket] [-j jobs] [-q] ADDRESS "
            "FOLDER SOURCE...");
    g.address = argv[0];
    path = argv[1];
    for (int i = 2; i < argc; i++)
        add_source(argv[i]);
    c = connect_or_die();
    login(c);
    g.fid = find_folder(c, path, 1);
    xc_client_destroy(&c);
    if (!g.quiet)
        fprintf(stderr, "importing %zu messages into %s of %s\n", g.nitems,
                path, g.address);
    t0 = now_s();
    for (int i = 0; i < g.jobs; i++)
        if (pthread_create(&th[i], NULL, import_worker, NULL) != 0)
            die("cannot start a thread");
    for (;;) {
        size_t done;
        pthread_mutex_lock(&g.lock);
        done = g.done;
        pthread_mutex_unlock(&g.lock);
        if (done >= g.nitems || g.stop)
            break;
        progress("import", done, g.nitems, t0, 0);
        usleep(200000);
    }
    for (int i = 0; i < g.jobs; i++)
        pthread_join(th[i], NULL);
    el = now_s() - t0;
    progress("import", g.done, g.nitems, t0, 1);
    for (int i = 0; i < g.nerrors; i++)
        fprintf(stderr, "refused: %s\n", g.errors[i]);
    if (g.failed > (size_t)g.nerrors)
        fprintf(stderr, "(and %zu more refused)\n", g.failed - g.nerrors);
    if (g.stop)
        fprintf(stderr, "stopped: %s; %zu messages not tried\n", g.stop_why,
                g.nitems - g.done);
    printf("imported %zu of %zu messages (%zu refused), %.1f MB in %.1f s: "
           "%.0f messages/s\n", g.ok, g.nitems, g.failed,
           (double)g.bytes / 1e6, el, el > 0 ? (double)g.ok / el : 0.0);
    for (size_t i = 0; i < g.nmaps; i++)
        munmap(g.maps[i].map, g.maps[i].len);
    for (size_t i = 0; i < g.nitems; i++)
        free(g.items[i].path);
    free(g.items);
    free(g.maps);
    return g.ok == g.nitems ? 0 : 1;
}

/* ---- export ------------------------------------------------------------- */

typedef struct page {
    int64_t *mids;
    int64_t *when;              /* FILETIME, 0 if none */
    size_t n, cap;
} page;

static int page_row(void *ctx, const xc_propval *pv, size_t n)
{
    page *p = ctx;
    const xc_propval *v;

    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        int64_t *a = realloc(p->mids, cap * sizeof(*a));
        int64_t *b = a ? realloc(p->when, cap * sizeof(*b)) : NULL;
        if (a)
            p->mids = a;
        if (b)
            p->when = b;
        if (a == NULL || b == NULL)
            return -1;
        p->cap = cap;
    }
    v = xc_props_find(pv, n, PR_MID);
    p->mids[p->n] = v ? v->v.i64 : 0;
    v = xc_props_find(pv, n, PR_MESSAGE_DELIVERY_TIME);
    p->when[p->n] = v ? v->v.i64 : 0;
    p->n++;
    return 0;
}

/* Every message of the folder, oldest first, a page at a time from the
   last row seen (a bookmark, not an offset). */
static void list_messages(xc_client *c, page *all)
{
    for (;;) {
        size_t before = all->n;
        xc_callbacks cb = { page_row, NULL, all };
        xc_wbuf *w = xc_client_begin(c, XW_OP_CONTENTS);
        xc_reply rep;
        const char *err = "";

        begin_args(w);
        xc_put_i8(w, PR_FID, g.fid);
        xc_put_u32(w, XW_TAG_COLUMNS);
        xc_put_u32(w, 2);
        xc_put_u32(w, PR_MID);
        xc_put_u32(w, PR_MESSAGE_DELIVERY_TIME);
        xc_put_u32(w, XW_TAG_SORT);
        xc_put_u32(w, 2);
        xc_put_u32(w, PR_MESSAGE_DELIVERY_TIME);
        xc_put_u32(w, 0);
        if (before > 0) {
            xc_put_i8(w, XW_TAG_SEEK_MID, all->mids[before - 1]);
            xc_put_long(w, XW_TAG_OFFSET, 1);
        }
        xc_put_long(w, XW_TAG_LIMIT, PAGE);
        if (xc_client_call(c, &cb, &rep, &err) < 0 || rep.status != XC_OK)
            die("cannot list the folder: %s", rep.errmsg[0] ? rep.errmsg : err);
        if (all->n - before < PAGE)
            return;
    }
}

static int collect(void *ctx, const uint8_t *p, size_t n)
{
    xc_put_bytes(ctx, p, n);
    return ((xc_wbuf *)ctx)->err ? -1 : 0;
}

static int do_export(int argc, char **argv)
{
    xc_client *c;
    page all = { 0 };
    FILE *out = stdout;
    xc_wbuf mime, entry;
    size_t ok = 0, failed = 0;
    uint64_t bytes = 0;
    double t0;

    if (argc < 2 || argc > 3)
        die("usage: xc-mail export [-s socket] [-q] ADDRESS FOLDER [FILE]");
    g.address = argv[0];
    c = connect_or_die();
    login(c);
    g.fid = find_folder(c, argv[1], 0);
    if (argc == 3 && (out = fopen(argv[2], "w")) == NULL)
        die("%s: %s", argv[2], strerror(errno));
    list_messages(c, &all);
    xc_wbuf_init(&mime, 0);
    xc_wbuf_init(&entry, 0);
    t0 = now_s();
    for (size_t i = 0; i < all.n; i++) {
        xc_callbacks cb = { NULL, collect, &mime };
        xc_wbuf *w = xc_client_begin(c, XW_OP_GET_MIME);
        xc_reply rep;
        const char *err = "";

        xc_wbuf_reset(&mime);
        begin_args(w);
        xc_put_i8(w, PR_MID, all.mids[i]);
        if (xc_client_call(c, &cb, &rep, &err) < 0)
            die("storaged: %s", err);
        if (rep.status != XC_OK) {
            fprintf(stderr, "\nmessage %zu: %s %s\n", i + 1,
                    xc_status_name(rep.status), rep.errmsg);
            failed++;
            continue;
        }
        xc_wbuf_reset(&entry);
        xc_mbox_entry(mime.p, mime.len, NULL,
                      all.when[i] > 0 ? all.when[i] / 10000000 -
                                            FILETIME_UNIX_DIFF
                                      : (int64_t)time(NULL), &entry);
        if (entry.err || fwrite(entry.p, 1, entry.len, out) != entry.len)
            die("writing: %s", strerror(errno));
        ok++;
        bytes += mime.len;
        if (i % 64 == 0)
            progress("export", i, all.n, t0, 0);
    }
    progress("export", all.n, all.n, t0, 1);
    if (out != stdout && fclose(out) != 0)
        die("%s: %s", argv[2], strerror(errno));
    fprintf(stderr, "exported %zu of %zu messages (%zu failed), %.1f MB in "
            "%.1f s\n", ok, all.n, failed, (double)bytes / 1e6,
            now_s() - t0);
    xc_wbuf_free(&mime);
    xc_wbuf_free(&entry);
    free(all.mids);
    free(all.when);
    xc_client_destroy(&c);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    int opt;
    const char *cmd;

    g.socket = getenv("XC_SOCKET") ? getenv("XC_SOCKET") : DEFAULT_SOCKET;
    g.jobs = 4;
    if (argc < 2)
        die("usage: xc-mail import|export ...");
    cmd = argv[1];
    argv++;
    argc--;
    while ((opt = getopt(argc, argv, "s:j:q")) != -1) {
        switch (opt) {
        case 's': g.socket = optarg; break;
        case 'j':
            g.jobs = atoi(optarg);
            if (g.jobs < 1 || g.jobs > MAX_JOBS)
                die("-j takes 1 to %d", MAX_JOBS);
            break;
        case 'q': g.quiet = 1; break;
        default: die("unknown option");
        }
    }
    g.tty = isatty(2);
    if (strcmp(cmd, "import") == 0)
        return do_import(argc - optind, argv + optind);
    if (strcmp(cmd, "export") == 0)
        return do_export(argc - optind, argv + optind);
    die("unknown command %s (import or export)", cmd);
    return 2;
}
