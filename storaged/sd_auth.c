/*
 * NAME
 *   sd_auth - password verification, failed-login limits, sessions
 *
 * DESCRIPTION
 *   Passwords are verified against argon2id hashes (libargon2). A verified
 *   (user, password hash, password) triple is remembered for auth_cache_ttl
 *   seconds under an HMAC-SHA256 key with a per-process random secret, so
 *   that clients sending Basic credentials with every request (Autodiscover,
 *   EWS, ActiveSync) cost a table lookup instead of an argon2 run. The key
 *   includes the stored hash, so a password change invalidates it at once;
 *   the account row is still read on every login, so disabling an account
 *   takes effect at once too.
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

#include <argon2.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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
    int64_t user_id;
    char token[65];
} cred;

typedef struct fails {
    time_t start;
    int count;
} fails;

static const sd_conf *conf;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sd_map *sessions, *creds, *failmap;
static uint8_t secret[32];
static char dummy_hash[128];

static int session_expired(void *v, time_t now)
{
    return now - ((session *)v)->last_used > conf->session_idle;
}

static int cred_expired(void *v, time_t now)
{
    return now >= ((cred *)v)->expires;
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
    if (sessions == NULL || creds == NULL || failmap == NULL)
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
    OPENSSL_cleanse(secret, sizeof(secret));
}

void sd_auth_flush(void)
{
    pthread_mutex_lock(&lock);
    sd_map_clear(creds);
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

static int cred_key(uint8_t out[32], int64_t uid, const char *hash,
                    const char *password)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()
    };
    size_t outl = 0;
    int ok = ctx != NULL &&
             EVP_MAC_init(ctx, secret, sizeof(secret), params) &&
             EVP_MAC_update(ctx, (const uint8_t *)&uid, sizeof(uid)) &&
             EVP_MAC_update(ctx, (const uint8_t *)hash, strlen(hash) + 1) &&
             EVP_MAC_update(ctx, (const uint8_t *)password, strlen(password)) &&
             EVP_MAC_final(ctx, out, &outl, 32) && outl == 32;

    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : -1;
}

static void copy_field(char *dst, size_t dstlen, PGresult *res, int col)
{
    snprintf(dst, dstlen, "%s", PQgetvalue(res, 0, col));
}

xc_status sd_auth_login(sd_db *db, const char *user_in, const char *password,
                        const char *remote, sd_user *u, char token[65])
{
    static const char sql[] =
        "SELECT u.id, u.password_hash, u.enabled, u.display_name, "
        "       u.legacy_dn, m.id, p.address, m.replica_guid, "
        "       (SELECT value FROM settings WHERE key = 'deployment_id') "
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
    int found, ok = 0, have_key = 0;
    size_t ulen = strlen(user_in);

    if (ulen == 0 || ulen > MAX_USER || strlen(password) > MAX_PASSWORD)
        return XC_E_AUTH;
    for (size_t i = 0; i <= ulen; i++)
        user[i] = (char)tolower((unsigned char)user_in[i]);
    sd_log_sanitize(logu, sizeof(logu), user, ulen > 64 ? 64 : ulen);
    sd_log_sanitize(logr, sizeof(logr), remote,
                    strlen(remote) > 46 ? 46 : strlen(remote));

    pthread_mutex_lock(&lock);
    if (over_limit("u", user, conf->auth_fail_max_user, now) ||
        over_limit("s", remote, conf->auth_fail_max_source, now)) {
        pthread_mutex_unlock(&lock);
        sd_log_warn(11, "too many failed logins: user=%s rhost=%s", logu,
                    logr);
        return XC_E_RATELIMIT;
    }
    pthread_mutex_unlock(&lock);

    res = sd_db_exec(db, sql, 1, params, &st);
    if (res == NULL)
        return st;
    found = PQntuples(res) == 1 && !PQgetisnull(res, 0, 1) &&
            strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    if (found) {
        const char *hash = PQgetvalue(res, 0, 1);
        int64_t uid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

        if (conf->auth_cache_ttl > 0 &&
            cred_key(key, uid, hash, password) == 0) {
            cred *c;
            have_key = 1;
            pthread_mutex_lock(&lock);
            c = sd_map_get(creds, key, sizeof(key), now);
            ok = c != NULL && c->user_id == uid;
            pthread_mutex_unlock(&lock);
        }
        if (!ok)
            ok = argon2id_verify(hash, password, strlen(password)) ==
                 ARGON2_OK;
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

    memset(u, 0, sizeof(*u));
    u->user_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    copy_field(u->display_name, sizeof(u->display_name), res, 3);
    copy_field(u->legacy_dn, sizeof(u->legacy_dn), res, 4);
    u->mailbox_id = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    copy_field(u->address, sizeof(u->address), res, 6);
    copy_field(u->mailbox_guid, sizeof(u->mailbox_guid), res, 7);
    copy_field(u->deployment_id, sizeof(u->deployment_id), res, 8);
    PQclear(res);

    pthread_mutex_lock(&lock);
    clear_failures("u", user);
    {
        cred *c = have_key ? sd_map_put(creds, key, sizeof(key), now) : NULL;
        session *s = NULL;

        /* reuse the session of a cached login: Basic auth per request
           must not mint a session per request */
        if (c != NULL && c->token[0])
            s = sd_map_get(sessions, c->token, 64, now);
        if (s == NULL) {
            if (new_token(token) < 0 ||
                (s = sd_map_put(sessions, token, 64, now)) == NULL) {
                pthread_mutex_unlock(&lock);
                return XC_E_TEMP;
            }
        } else {
            memcpy(token, c->token, 65);
        }
        s->u = *u;
        s->last_used = now;
        if (c != NULL) {
            c->user_id = u->user_id;
            c->expires = now + conf->auth_cache_ttl;
            memcpy(c->token, token, 65);
        }
    }
    pthread_mutex_unlock(&lock);
    sd_log_debug(12, "login: user=%s rhost=%s", logu, logr);
    return XC_OK;
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
