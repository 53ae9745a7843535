/*
 * NAME
 *   mt_sd.h - a storaged connection of one mtad thread (mt_store.c)
 *
 * DESCRIPTION
 *   Each thread that talks to storaged holds one: the blocking client of
 *   lib/ (made anew after a failure) and the sessions it opened for
 *   recipients.
 */
#ifndef MT_SD_H
#define MT_SD_H

#include "mt.h"
#include "xc_client.h"

#define SESSIONS 32
#define INBOX 5                 /* PR_XC_SPECIAL_FOLDER of the Inbox */
#define SENT_ITEMS 7
#define JUNK_EMAIL 20

typedef struct sess {
    char user[XC_SMTP_PATH_MAX + 1];
    char token[65];
    int64_t mailbox, inbox, sent, junk;
    time_t used;
} sess;

typedef struct mt_sd {
    xc_client *c;
    sess s[SESSIONS];
} mt_sd;

/* Connected (or connected anew) to storaged? 0, or -1 (logged). */
int mt_sd_connected(mt_sd *w);
/* Send the request begun on w->c; transport failures are XC_E_TEMP. */
xc_status mt_sd_call(mt_sd *w, const xc_callbacks *cb, xc_reply *r);
/* Put a queued recipient off (QUEUE_DEFER with the configured back-off);
   warned: a delay notification went to its sender. */
void mt_sd_defer(mt_sd *w, int64_t queue, int idx, const char *why,
                 int warned);
/* xc_callbacks.chunk appending to an xc_wbuf (ctx). */
int mt_sd_keep_chunk(void *ctx, const uint8_t *p, size_t n);

#endif
