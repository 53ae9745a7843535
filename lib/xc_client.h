/*
 * NAME
 *   xc_client - blocking storaged client over a UNIX socket
 *
 * DESCRIPTION
 *   One xc_client is one connection to storaged. A call sends one request
 *   frame and reads frames until the final one for its request id; row
 *   frames (XW_F_MORE) and streamed chunks (XW_F_CHUNK) go to callbacks.
 *   Callers that want concurrency hold several clients (mod_exchange keeps
 *   a pool per httpd process).
 *
 *   Any I/O error, timeout or protocol violation marks the client broken;
 *   the owner must then destroy it and connect anew.
 */
#ifndef XC_CLIENT_H
#define XC_CLIENT_H

#include "xc_wire.h"

#define XC_REPLY_MAX_PROPS 64

typedef struct xc_client xc_client;

typedef struct xc_callbacks {
    /* one table row; return 0 to go on, -1 to abort (client breaks) */
    int (*row)(void *ctx, const xc_propval *props, size_t n);
    /* a piece of a streamed value */
    int (*chunk)(void *ctx, const uint8_t *p, size_t n);
    void *ctx;
} xc_callbacks;

typedef struct xc_reply {
    uint32_t status;            /* xc_status */
    char errmsg[256];           /* storaged's message, or "" */
    xc_propval props[XC_REPLY_MAX_PROPS];
    size_t nprops;              /* includes the status property */
} xc_reply;

/* 0, or -1 with a message (storaged not running, permission, timeout). */
int xc_client_connect(const char *path, int timeout_ms, size_t max_frame,
                      xc_client **c_r, const char **error_r);
void xc_client_destroy(xc_client **c);
int xc_client_broken(const xc_client *c);
/* 1 if the peer has not closed the connection (a pooled connection can
   outlive a storaged restart); marks the client broken otherwise. */
int xc_client_alive(xc_client *c);

/* Start a request: returns the buffer to append arguments to. */
xc_wbuf *xc_client_begin(xc_client *c, uint16_t op);

/* Give the request begun a streamed argument (a PT_OBJECT value of
   length n, e.g. XW_TAG_MIME, must be among its arguments): its bytes go
   in XW_F_CHUNK frames after the request. p must live until the call. */
void xc_client_stream(xc_client *c, const uint8_t *p, size_t n);

/*
 * Send the request begun with xc_client_begin and wait for its answer.
 * Returns 0 when a final frame arrived (reply->status may still be an
 * error), -1 on transport failure (the client is then broken). The reply's
 * values point into the client's buffer: valid until the next call.
 */
int xc_client_call(xc_client *c, const xc_callbacks *cb, xc_reply *reply,
                   const char **error_r);

/* Reply helpers */
const xc_propval *xc_reply_get(const xc_reply *r, uint32_t tag);
int xc_reply_str(const xc_reply *r, uint32_t tag, char *dst, size_t dstlen);
int64_t xc_reply_i8(const xc_reply *r, uint32_t tag, int64_t dflt);

#endif
