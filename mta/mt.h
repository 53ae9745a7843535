/*
 * NAME
 *   mt.h - mtad, the companion MTA: shared declarations
 *
 * DESCRIPTION
 *   mtad is one process: an event loop (mt_loop.c, epoll) owns every
 *   client connection and never blocks; work that needs storaged runs on
 *   a small pool of threads, each with its own storaged connection
 *   (mt_store.c), and comes back to the loop as a finished job. The SMTP
 *   server (smtp_server.c) is a state machine over the loop.
 */
#ifndef MT_H
#define MT_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "xc_buf.h"
#include "xc_smtp.h"
#include "xc_wire.h"

/* ---- configuration (mt_conf.c; conf/mtad.conf documents every key) ---- */
typedef struct mt_conf {
    char storaged_socket[256];
    char hostname[256];         /* greeting, Received, HELO; "" = uname */
    char smtp_listen[128];      /* "127.0.0.1:25"; "" = off */
    char submission_listen[128];/* RFC 6409, "0.0.0.0:587"; "" = off */
    int auth_without_tls;       /* offer AUTH before STARTTLS (tests) */
    int auth_delay_max;         /* seconds: failed AUTH waits 2, 4, 8.. */
    int save_sent;              /* submitted mail to the Sent Items too */
    int junk_scl;               /* SCL that sends mail to Junk E-mail
                                   ([MS-OXCSPAM]); 0: never */
    int max_queue;              /* messages queued before MAIL gets 452 */
    char space_path[256];       /* a directory on the database's disk */
    size_t min_free_space;      /* bytes free there, else 452 */
    char pid_file[256];
    char tls_cert[256];         /* PEM; "" = no STARTTLS */
    char tls_key[256];
    int workers;                /* threads with a storaged connection */
    int max_connections;
    int max_per_ip;
    int max_rcpts;
    size_t max_message_size;    /* SIZE, 552 5.3.4 above it */
    size_t max_header_size;     /* 552 5.3.4 */
    size_t max_line;            /* longest message line accepted */
    int command_timeout;        /* seconds, RFC 5321 4.5.3.2.7: 5 min */
    int data_timeout;           /* seconds between data reads: 3 min */
    int max_errors;             /* bad commands before we hang up */
    int queue_interval;         /* seconds between queue runs */
    int queue_lease;            /* seconds a delivery agent holds a
                                   recipient; after a crash it comes back */
    int retry_first;            /* back-off of a failed delivery, seconds */
    int retry_max;
    int queue_lifetime;         /* seconds before undeliverable mail
                                   bounces (RFC 5321 4.5.4.1: 4-5 days) */
    int delay_warning;          /* seconds before a delay DSN; 0: none */
    /* outbound */
    char smarthost[300];        /* "host:port": all remote mail there */
    char dns_server[64];        /* "ip:port": the only DNS server asked */
    int remote_port;            /* of mail exchangers (25) */
    int outbound_workers;
    int connect_timeout;        /* seconds */
    int smtp_timeout;           /* seconds per reply (RFC 5321 4.5.3.2) */
    int log_debug;
} mt_conf;

void mt_conf_defaults(mt_conf *c);
int mt_conf_load(mt_conf *c, const char *path, char *err, size_t errlen);
extern const mt_conf *mt_config;

/* ---- logging (mt_log.c): "MTnnnnn:" numbers, never a password ---- */
void mt_log_info(int no, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mt_log_warn(int no, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mt_log_error(int no, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mt_log_debug(int no, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
extern int mt_log_debug_on;
/* Client text in log lines: xc_log_escape (lib/xc_text.h). */

/* ---- the event loop (mt_loop.c) ---- */
typedef struct mt_watch mt_watch;
/* events: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits */
typedef void (*mt_io_cb)(void *ctx, uint32_t events);
mt_watch *mt_loop_add(int fd, uint32_t events, mt_io_cb cb, void *ctx);
int mt_loop_mod(mt_watch *w, uint32_t events);
void mt_loop_del(mt_watch *w);      /* before closing the fd */
/* Called once a second from the loop (timeouts). */
void mt_loop_tick(void (*cb)(time_t now));
int mt_loop_init(void);
int mt_loop_run(void);              /* until mt_loop_stop */
void mt_loop_stop(void);
void mt_loop_done(void);            /* after run: free every watch */
time_t mt_now(void);

/* ---- storaged work (mt_store.c) ---- */
enum mt_job_kind { MT_JOB_RCPT, MT_JOB_ACCEPT, MT_JOB_AUTH, MT_JOB_SENDER };

typedef struct mt_rcpt {
    int local;                  /* a mailbox of ours (RCPT_CHECK) */
    char addr[XC_SMTP_PATH_MAX + 1];
    char notify[64];            /* RFC 3461 NOTIFY, "" if not given */
    char orcpt[512];
} mt_rcpt;

typedef struct mt_job {
    enum mt_job_kind kind;
    /* in */
    char addr[XC_SMTP_PATH_MAX + 1];    /* RCPT, SENDER; AUTH: the user */
    char password[1025];                /* AUTH; wiped when done */
    int64_t size;                       /* RCPT: SIZE of MAIL, or 0 */
    char sender[XC_SMTP_PATH_MAX + 1];  /* ACCEPT */
    mt_rcpt *rcpts;
    int nrcpts;
    char client[320];
    char envid[128], ret[8];
    char id[24];                        /* our id, in Received and logs */
    xc_wbuf mime;                       /* ACCEPT: the message, owned */
    /* out */
    xc_status st;
    char msg[256];
    int local;                          /* RCPT: a mailbox of ours */
    int64_t user_id;                    /* AUTH, SENDER: whose; ACCEPT:
                                           the submitting user, or 0 */
    char user[XC_SMTP_PATH_MAX + 1];    /* AUTH: primary address */
    int64_t queue_id;                   /* ACCEPT: committed as */
    int *local_idx;                     /* ACCEPT: recipients of ours */
    int nlocal;
    int refs;                           /* loop and worker (ACCEPT) */
    /* back in the loop */
    void (*done)(struct mt_job *j);
    void *ctx;
    struct mt_job *next;
} mt_job;

int mt_store_start(void);
void mt_store_stop(void);
/* Queue a job (loop thread); j->done runs in the loop when it finished. */
void mt_store_submit(mt_job *j);
void mt_job_free(mt_job *j);
/* Run the queue now (new mail for other domains). */
void mt_store_poke(void);
/* Why no more mail is taken now (the queue or the disk is full), or NULL;
   the queue runner looks every queue_interval seconds. */
const char *mt_store_full(void);

/* ---- DNS (mt_dns.c): blocking, for delivery threads ---- */
typedef struct mt_mx {
    char host[256];
    int pref;
} mt_mx;
/* MX hosts of domain, best first (the domain itself when it has none):
   count, -1 temporary failure, -2 permanent (no such domain, null MX). */
int mt_dns_mx(const char *domain, mt_mx *out, int max, char *err,
              size_t errlen);
/* A and AAAA addresses of host (port not set): count (0: none). */
struct sockaddr_storage;
int mt_dns_addrs(const char *host, struct sockaddr_storage *out, int max);

/* ---- outbound delivery (mt_out.c) ---- */
typedef struct mt_out_rcpt {
    int idx;
    char addr[XC_SMTP_PATH_MAX + 1];
    char notify[64], orcpt[512];
    int warned;
} mt_out_rcpt;

typedef struct mt_out_job {
    int64_t queue;
    char sender[XC_SMTP_PATH_MAX + 1];
    char domain[256];
    char envid[128], ret[8];
    int64_t size, age;
    mt_out_rcpt *r;
    int n;
    struct mt_out_job *next;
} mt_out_job;

int mt_out_start(void);
void mt_out_stop(void);
void mt_out_submit(mt_out_job *j);      /* takes j */
int mt_out_busy(void);                  /* jobs waiting or running */
/* A notification about recipients of queued message j: failed ones leave
   the queue with it (one commit); action "failed" or "delayed".
   Returns XC_OK when it was queued (or is not wanted). */
struct mt_sd;
xc_status mt_out_dsn(struct mt_sd *w, const mt_out_job *j,
                     const uint8_t *msg, size_t len, const int *which,
                     int nwhich, const char *action,
                     const char *const *status, const char *const *diag,
                     const char *remote_mta);
/* May the sender hear of this recipient's fate (RFC 3461 4.1)? notify:
   its NOTIFY ("" when not given: failures and delays); what: SUCCESS,
   FAILURE or DELAY. */
int mt_out_wants(const char *notify, const char *what);
/* Is this queued recipient being delivered by an outbound thread now? */
int mt_out_in_flight(int64_t queue, int idx);

/* ---- delivery-time decisions (mt_hooks.c) ---- */
enum { MT_FOLDER_INBOX, MT_FOLDER_JUNK };
/* Which folder of the recipient a message (its bytes) goes to. */
int mt_hooks_folder(const uint8_t *p, size_t n);

/* ---- TLS (mt_main.c) ---- */
extern SSL_CTX *mt_tls;         /* NULL: no certificate configured */
extern SSL_CTX *mt_tls_client;  /* opportunistic STARTTLS outbound */

/* ---- SMTP server (smtp_server.c) ---- */
int smtp_server_listen(const char *addr, int submission);
void smtp_server_tick(time_t now);
void smtp_server_close_all(void);

#endif
