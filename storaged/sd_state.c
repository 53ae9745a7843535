/*
 * NAME
 *   sd_state - publish storaged's cache state to its clients
 *
 * DESCRIPTION
 *   Maintains "<socket_path>.state" (lib/xc_state.h): the generation, even
 *   while our caches are trustworthy (the NOTIFY listener is connected) and
 *   bumped on every directory change, and a heartbeat rewritten every
 *   second by the listener thread. The file is reused across restarts (the
 *   same inode stays mapped by httpd processes) and the generation only
 *   grows. Callers serialise sd_state_set (sd_auth's lock).
 */
#include "sd.h"
#include "xc_state.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static xc_state *st;
static int closed;      /* after sd_state_close: nothing may revive it */

int sd_state_open(const sd_conf *c)
{
    char path[sizeof(c->socket_path) + 8];
    struct stat sb;
    int fd;

    snprintf(path, sizeof(path), "%s.state", c->socket_path);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        sd_log_error(3, "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (c->socket_group[0]) {
        struct group *gr = getgrnam(c->socket_group);
        if (gr != NULL && fchown(fd, (uid_t)-1, gr->gr_gid) < 0)
            sd_log_warn(3, "cannot give %s to group %s", path,
                        c->socket_group);
    }
    if (fchmod(fd, 0640) < 0 ||
        (sb.st_size < XC_STATE_SIZE && ftruncate(fd, XC_STATE_SIZE) < 0)) {
        sd_log_error(3, "cannot set up %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    st = mmap(NULL, XC_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (st == MAP_FAILED) {
        st = NULL;
        sd_log_error(3, "cannot map %s: %s", path, strerror(errno));
        return -1;
    }
    if (st->magic != XC_STATE_MAGIC) {
        st->version = XC_STATE_VERSION;
        __atomic_store_n(&st->generation, 1, __ATOMIC_RELEASE);
        __atomic_store_n(&st->magic, XC_STATE_MAGIC, __ATOMIC_RELEASE);
    } else {
        sd_state_set(0);    /* not trustworthy until the listener is up */
    }
    sd_state_heartbeat();
    return 0;
}

void sd_state_set(int valid)
{
    uint64_t g;

    if (st == NULL || __atomic_load_n(&closed, __ATOMIC_ACQUIRE))
        return;
    g = __atomic_load_n(&st->generation, __ATOMIC_ACQUIRE);
    if (valid)
        g += (g & 1) ? 1 : 2;       /* the next even number */
    else
        g += (g & 1) ? 2 : 1;       /* the next odd number */
    __atomic_store_n(&st->generation, g, __ATOMIC_RELEASE);
}

void sd_state_heartbeat(void)
{
    if (st != NULL && !__atomic_load_n(&closed, __ATOMIC_ACQUIRE))
        __atomic_store_n(&st->heartbeat, (int64_t)time(NULL),
                         __ATOMIC_RELEASE);
}

/* Tell clients at once that we are going; other threads may still call
   in, so the page stays mapped until the process exits. */
void sd_state_close(void)
{
    if (st == NULL)
        return;
    sd_state_set(0);
    __atomic_store_n(&closed, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&st->heartbeat, 0, __ATOMIC_RELEASE);
}
