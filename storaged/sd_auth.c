/*
 * NAME
 *   sd_auth - password verification, failed-login limits, sessions and the
 *   directory caches
 *
 * DESCRIPTION
 *   Passwords are verified against argon2id hashes (libargon2). Clients that
 *   send Basic credentials with every request (Autodiscover, EWS,
 *   ActiveSync) would cost an argon2 run and a query each, so storaged keeps
 *   two caches, answered from memory in steady state:
 *     - verified credentials: HMAC-SHA256(per-process secret, user NUL
 *       password) -> the user, for auth_cache_ttl seconds (the password
 *       itself is never stored);
 *     - address lookups: SMTP address or legacy DN -> the mailbox owner.
 *   Both are dropped whenever the directory changes: the SQL triggers of
 *   sql/ NOTIFY xc_directory on every change to users, addresses or
 *   domains, wherever it was made, and sd_db's listener flushes. While the
 *   listener is not connected the caches are not used at all, so a
 *   disabled account or changed password can never outlive its NOTIFY. A
 *   generation counter keeps a lookup that raced with a flush from being
 *   cached afterwards.
 *
 *   Failed logins are counted per user and per source address in a fixed
 *   window; past the limit, logins are refused without checking the
 *   password. Each failure is one log line:
 *     SD00010: authentication failed: user=<u> rhost=<addr>
 *
 *   Sessions are random 256-bit tokens (hex) mapping to a user; they expire
 *   after session_idle seconds unused.
 *
 * SECURITY
 *   No password, hash or token is ever logged. Unknown users cost an argon2
 *   run like known ones, so timing doesn't tell them apart.
 */
#include "sd.h"
#include "sd_map.h"
#include "xc_credkey.h"

#include <argon2.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MAX_USER 320
#define MAX_PASSWORD 1024

typedef struct session {
    sd_user u;
    time_t last_used;
} session;

typedef struct cred {
    time_t expires;
    sd_user u;
    char token[65];
} cred;

typedef struct dirent_ {
    time_t expires;
    sd_user u;
} dir_entry;

typedef struct fails {
    time_t start;
    int count;
} fails;

static const sd_conf *conf;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sd_map *sessions, *creds, *failmap, *dircache;
static uint8_t secret[32];
static char dummy_hash[128];
static int listening;           /* the NOTIFY listener is connected */
static unsigned long generation; /* bumped by every flush */

static int session_expired(void *v, time_t now)
{
    return now - ((session *)v)->last_used > conf->session_idle;
}

static int cred_expired(void *v, time_t now)
{
    return now >= ((cred *)v)->expires;
}

static int dir_expired(void *v, time_t now)
{
    return now >= ((dir_entry *)v)->expires;
}

static int fails_expired(void *v, time_t now)
{
    return now - ((fails *)v)->start >= conf->auth_fail_window;
}

int sd_auth_init(const sd_conf *c)
{
    uint8_t salt[16], pw[16];

    conf = c;
    sessions = sd_map_new(65536, (size_t)c->max_sessions, sizeof(session),
                          session_expired);
    creds = sd_map_new(16384, (size_t)c->max_sessions, sizeof(cred),
                       cred_expired);
    failmap = sd_map_new(16384, 100000, sizeof(fails), fails_expired);
    dircache = sd_map_new(16384, (size_t)c->max_sessions, sizeof(dir_entry),
                          dir_expired);
    if (sessions == NULL || creds == NULL || failmap == NULL ||
        dircache == NULL)
        return -1;
    if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret) ||
        getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt) ||
        getrandom(pw, sizeof(pw), 0) != (ssize_t)sizeof(pw))
        return -1;
    /* same cost as a default hash from xc-passwd */
    if (argon2id_hash_encoded(2, 19456, 1, pw, sizeof(pw), salt, sizeof(salt),
                              32, dummy_hash, sizeof(dummy_hash)) != ARGON2_OK)
        return -1;
    return 0;
}

void sd_auth_fini(void)
{
    sd_map_free(sessions);
    sd_map_free(creds);
    sd_map_free(failmap);
    sd_map_free(dircache);
    OPENSSL_cleanse(secret, sizeof(secret));
}

void sd_auth_flush(void)
{
    pthread_mutex_lock(&lock);
    sd_map_clear(creds);
    sd_map_clear(dircache);
    generation++;
    sd_state_set(listening);    /* clients drop their caches too */
    pthread_mutex_unlock(&lock);
}

void sd_auth_listening(int on)
{
    pthread_mutex_lock(&lock);
    listening = on;
    sd_map_clear(creds);
    sd_map_clear(dircache);
    generation++;
    sd_state_set(on);
    pthread_mutex_unlock(&lock);
}

static int cache_usable(void)
{
    return listening && conf->auth_cache_ttl > 0;
}

int sd_dir_get(const char *key, sd_user *u)
{
    dir_entry *e;
    int hit = 0;

    pthread_mutex_lock(&lock);
    if (cache_usable() &&
        (e = sd_map_get(dircache, key, strlen(key), time(NULL))) != NULL) {
        *u = e->u;
        hit = 1;
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

unsigned long sd_dir_generation(void)
{
    unsigned long g;

    pthread_mutex_lock(&lock);
    g = generation;
    pthread_mutex_unlock(&lock);
    return g;
}

void sd_dir_put(const char *key, const sd_user *u, unsigned long gen)
{
    dir_entry *e;

    pthread_mutex_lock(&lock);
    if (cache_usable() && gen == generation &&
        (e = sd_map_put(dircache, key, strlen(key), time(NULL))) != NULL) {
        e->u = *u;
        e->expires = time(NULL) + conf->auth_cache_ttl;
    }
    pthread_mutex_unlock(&lock);
}

/* Failure counter key: "u:" user or "s:" source. */
static int over_limit(const char *kind, const char *s, int max, time_t now)
{
    char key[MAX_USER + 8];
    fails *f;
    int n = snprintf(key, sizeof(key), "%s:%s", kind, s);

    f = sd_map_get(failmap, key, (size_t)n, now);
    return f != NULL && f->count >= max;
}

static void count_failure(const char *kind, const char *s, time_t now)
{
    char key[MAX_USER + 8];
    int n = snprintf(key, sizeof(key), "%s:%s", kind, s);
    fails *f = sd_map_put(failmap, key, (size_t)n, now);

    if (f == NULL)
        return;
    if (f->count == 0 || now - f->start >= conf->auth_fail_window) {
        f->start = now;
        f->count = 0;
    }
    f->count++;
}

static void clear_failures(const char *kind, const char *s)
{
    char key[MAX_USER + 8];
    int n = snprintf(key, sizeof(key), "%s:%s", kind, s);
    sd_map_del(failmap, key, (size_t)n);
}

static int new_token(char token[65])
{
    uint8_t r[32];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(token + 2 * i, 3, "%02x", r[i]);
    OPENSSL_cleanse(r, sizeof(r));
    return 0;
}

static int cred_key(uint8_t out[32], const char *user, const char *password)
{
    return xc_credkey(out, secret, user, password);
}

static void copy_field(char *dst, size_t dstlen, PGresult *res, int row,
                       int col)
{
    snprintf(dst, dstlen, "%s", PQgetvalue(res, row, col));
}

void sd_user_from_row(PGresult *res, int row, sd_user *u)
{
    memset(u, 0, sizeof(*u));
    u->user_id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    u->mailbox_id = strtoll(PQgetvalue(res, row, 1), NULL, 10);
    copy_field(u->address, sizeof(u->address), res, row, 2);
    copy_field(u->display_name, sizeof(u->display_name), res, row, 3);
    copy_field(u->legacy_dn, sizeof(u->legacy_dn), res, row, 4);
    copy_field(u->mailbox_guid, sizeof(u->mailbox_guid), res, row, 5);
    copy_field(u->deployment_id, sizeof(u->deployment_id), res, row, 6);
    u->replica_id = (uint16_t)atoi(PQgetvalue(res, row, 7));
}

/* Bind a session to a successful login: the session of a cached login is
   reused, so Basic auth per request doesn't mint a session per request. */
static xc_status open_session(const sd_user *u, cred *c, char token[65],
                              time_t now)
{
    session *s = NULL;

    if (c != NULL && c->token[0])
        s = sd_map_get(sessions, c->token, 64, now);
    if (s == NULL) {
        if (new_token(token) < 0 ||
            (s = sd_map_put(sessions, token, 64, now)) == NULL)
            return XC_E_TEMP;
    } else {
        memcpy(token, c->token, 65);
    }
    s->u = *u;
    s->last_used = now;
    if (c != NULL)
        memcpy(c->token, token, 65);
    return XC_OK;
}

/* Lower-cased user name into user; -1 if name or password is too long. */
static int normalise(const char *user_in, const char *password,
                     char user[MAX_USER + 1])
{
    size_t ulen = strlen(user_in);

    if (ulen == 0 || ulen > MAX_USER || strlen(password) > MAX_PASSWORD)
        return -1;
    for (size_t i = 0; i <= ulen; i++)
        user[i] = (char)tolower((unsigned char)user_in[i]);
    return 0;
}

/* A login verified before (under lock, caches usable): 1 and a session. */
static int cache_hit_locked(const char *user, const uint8_t key[32],
                            sd_user *u, char token[65], time_t now)
{
    cred *c = sd_map_get(creds, key, 32, now);

    if (c == NULL)
        return 0;
    *u = c->u;
    if (open_session(u, c, token, now) != XC_OK)
        return 0;
    clear_failures("u", user);  /* a success resets the count */
    return 1;
}

int sd_auth_login_cached(const char *user_in, const char *password,
                         const char *remote, sd_user *u, char token[65])
{
    char user[MAX_USER + 1];
    uint8_t key[32];
    time_t now = time(NULL);
    int hit = 0;

    if (normalise(user_in, password, user) < 0 ||
        cred_key(key, user, password) < 0)
        return 0;
    pthread_mutex_lock(&lock);
    /* a rate-limited user or source takes the slow path, which refuses */
    if (cache_usable() &&
        !over_limit("u", user, conf->auth_fail_max_user, now) &&
        !over_limit("s", remote, conf->auth_fail_max_source, now))
        hit = cache_hit_locked(user, key, u, token, now);
    pthread_mutex_unlock(&lock);
    OPENSSL_cleanse(key, sizeof(key));
    return hit;
}

xc_status sd_auth_trusted(sd_db *db, const char *user_in, uid_t peer,
                          sd_user *u, char token[65])
{
    static const char sql[] =
        "SELECT " SD_USER_COLS " "
        "FROM addresses a JOIN users u ON u.id = a.user_id "
        "JOIN mailboxes m ON m.user_id = u.id "
        "JOIN addresses p ON p.user_id = u.id AND p.is_primary "
        /* a disabled account can't log in, but its mailbox still takes
           mail and imports, as in Exchange: trusted peers only do that */
        "WHERE a.address = $1";
    char user[MAX_USER + 1], logu[4 * 64 + 1];
    const char *params[1] = { user };
    PGresult *res;
    xc_status st;

    if (normalise(user_in, "", user) < 0)
        return XC_E_NOTFOUND;
    sd_log_sanitize(logu, sizeof(logu), user,
                    strlen(user) > 64 ? 64 : strlen(user));
    if ((res = sd_db_exec(db, sql, 1, params, &st)) == NULL)
        return st;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return XC_E_NOTFOUND;
    }
    sd_user_from_row(res, 0, u);
    PQclear(res);
    pthread_mutex_lock(&lock);
    st = open_session(u, NULL, token, time(NULL));
    pthread_mutex_unlock(&lock);
    sd_log_info(31, "trusted login: user=%s by local uid %d", logu, (int)peer);
    return st;
}

xc_status sd_auth_login(sd_db *db, const char *user_in, const char *password,
                        const char *remote, sd_user *u, char token[65])
{
    static const char sql[] =
        "SELECT " SD_USER_COLS ", u.password_hash, u.enabled "
        "FROM addresses a JOIN users u ON u.id = a.user_id "
        "JOIN mailboxes m ON m.user_id = u.id "
        "JOIN addresses p ON p.user_id = u.id AND p.is_primary "
        "WHERE a.address = $1";
    char user[MAX_USER + 1], logu[4 * 64 + 1], logr[4 * 46 + 1];
    uint8_t key[32];
    const char *params[1] = { user };
    PGresult *res;
    xc_status st;
    time_t now = time(NULL);
    unsigned long gen;
    int found, ok = 0, have_key;
    size_t ulen;

    if (normalise(user_in, password, user) < 0)
        return XC_E_AUTH;
    ulen = strlen(user);
    sd_log_sanitize(logu, sizeof(logu), user, ulen > 64 ? 64 : ulen);
    sd_log_sanitize(logr, sizeof(logr), remote,
                    strlen(remote) > 46 ? 46 : strlen(remote));
    have_key = cred_key(key, user, password) == 0;

    pthread_mutex_lock(&lock);
    if (over_limit("u", user, conf->auth_fail_max_user, now) ||
        over_limit("s", remote, conf->auth_fail_max_source, now)) {
        pthread_mutex_unlock(&lock);
        sd_log_warn(11, "too many failed logins: user=%s rhost=%s", logu,
                    logr);
        return XC_E_RATELIMIT;
    }
    /* steady state: a login verified before, no directory change since */
    if (have_key && cache_usable() &&
        cache_hit_locked(user, key, u, token, now)) {
        pthread_mutex_unlock(&lock);
        OPENSSL_cleanse(key, sizeof(key));
        return XC_OK;
    }
    gen = generation;
    pthread_mutex_unlock(&lock);

    res = sd_db_exec(db, sql, 1, params, &st);
    if (res == NULL)
        return st;
    found = PQntuples(res) == 1 && !PQgetisnull(res, 0, SD_USER_NCOLS) &&
            strcmp(PQgetvalue(res, 0, SD_USER_NCOLS + 1), "t") == 0;
    if (found) {
        ok = argon2id_verify(PQgetvalue(res, 0, SD_USER_NCOLS), password,
                             strlen(password)) == ARGON2_OK;
    } else {
        /* spend the same time as for a real user */
        (void)argon2id_verify(dummy_hash, password, strlen(password));
    }
    if (!ok) {
        PQclear(res);
        pthread_mutex_lock(&lock);
        count_failure("u", user, now);
        count_failure("s", remote, now);
        pthread_mutex_unlock(&lock);
        sd_log_warn(10, "authentication failed: user=%s rhost=%s", logu,
                    logr);
        return XC_E_AUTH;
    }

    sd_user_from_row(res, 0, u);
    PQclear(res);

    pthread_mutex_lock(&lock);
    clear_failures("u", user);
    {
        cred *c = NULL;
        if (have_key && cache_usable() && gen == generation &&
            (c = sd_map_put(creds, key, sizeof(key), now)) != NULL) {
            c->u = *u;
            c->expires = now + conf->auth_cache_ttl;
        }
        st = open_session(u, c, token, now);
    }
    pthread_mutex_unlock(&lock);
    OPENSSL_cleanse(key, sizeof(key));
    sd_log_debug(12, "login: user=%s rhost=%s", logu, logr);
    return st;
}

xc_status sd_session_get(const char *token, sd_user *u)
{
    session *s;

    if (strlen(token) != 64)
        return XC_E_SESSION;
    pthread_mutex_lock(&lock);
    s = sd_map_get(sessions, token, 64, time(NULL));
    if (s != NULL) {
        s->last_used = time(NULL);
        *u = s->u;
    }
    pthread_mutex_unlock(&lock);
    return s != NULL ? XC_OK : XC_E_SESSION;
}

void sd_session_drop(const char *token)
{
    if (strlen(token) != 64)
        return;
    pthread_mutex_lock(&lock);
    sd_map_del(sessions, token, 64);
    pthread_mutex_unlock(&lock);
}
