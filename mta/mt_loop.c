/*
 * NAME
 *   mt_loop - mtad's event loop (epoll)
 *
 * DESCRIPTION
 *   One thread waits for every socket mtad serves and calls each watch's
 *   callback when its descriptor is ready; nothing in a callback blocks.
 *   Once a second the tick callback runs (idle and command timeouts).
 *   A watch deleted while the current batch of events is being handled is
 *   freed only after the batch, so an event already fetched for it is
 *   dropped rather than delivered to freed memory.
 */
#include "mt.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct mt_watch {
    int fd;
    int dead;
    mt_io_cb cb;
    void *ctx;
    mt_watch *next_dead;
    mt_watch *prev, *next;      /* every live watch, for mt_loop_done */
};

static int epfd = -1;
static volatile int stopping;
static void (*tick_cb)(time_t now);
static mt_watch *dead, *live;
static time_t now_s;

time_t mt_now(void)
{
    return now_s ? now_s : time(NULL);
}

int mt_loop_init(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    now_s = time(NULL);
    return epfd < 0 ? -1 : 0;
}

mt_watch *mt_loop_add(int fd, uint32_t events, mt_io_cb cb, void *ctx)
{
    mt_watch *w = calloc(1, sizeof(*w));
    struct epoll_event ev = { .events = events };

    if (w == NULL)
        return NULL;
    w->fd = fd;
    w->cb = cb;
    w->ctx = ctx;
    ev.data.ptr = w;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(w);
        return NULL;
    }
    w->next = live;
    if (live != NULL)
        live->prev = w;
    live = w;
    return w;
}

int mt_loop_mod(mt_watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events };

    ev.data.ptr = w;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void mt_loop_del(mt_watch *w)
{
    if (w == NULL || w->dead)
        return;
    (void)epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->dead = 1;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        live = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->next_dead = dead;
    dead = w;
}

void mt_loop_tick(void (*cb)(time_t now))
{
    tick_cb = cb;
}

void mt_loop_stop(void)
{
    stopping = 1;
}

int mt_loop_run(void)
{
    struct epoll_event ev[64];
    time_t last = time(NULL);

    while (!stopping) {
        int n = epoll_wait(epfd, ev, 64, 1000);

        if (n < 0 && errno != EINTR)
            return -1;
        now_s = time(NULL);
        for (int i = 0; i < n; i++) {
            mt_watch *w = ev[i].data.ptr;
            if (!w->dead)
                w->cb(w->ctx, ev[i].events);
        }
        while (dead != NULL) {
            mt_watch *w = dead;
            dead = w->next_dead;
            free(w);
        }
        if (now_s != last && tick_cb != NULL) {
            last = now_s;
            tick_cb(now_s);
        }
    }
    return 0;
}

void mt_loop_done(void)
{
    while (live != NULL)
        mt_loop_del(live);
    while (dead != NULL) {
        mt_watch *w = dead;
        dead = w->next_dead;
        free(w);
    }
    if (epfd >= 0)
        close(epfd);
    epfd = -1;
}
