/*
 * NAME
 *   mt_dns - where mail for a domain goes: MX, then A/AAAA (RFC 5321 5.1)
 *
 * DESCRIPTION
 *   Blocking lookups with the thread's own resolver state (res_ninit;
 *   called from mtad's delivery threads, never from the event loop). The
 *   MX records of a domain, lowest preference first; a domain without MX
 *   records is its own mail exchanger (the implicit MX); a domain that
 *   doesn't exist is a permanent failure, a resolver that doesn't answer a
 *   temporary one. dns_server in mtad.conf sends every query to one
 *   server (tests run a local one; the real Internet is never asked).
 */
#include "mt.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int init(res_state st)
{
    memset(st, 0, sizeof(*st));
    if (res_ninit(st) != 0)
        return -1;
    if (mt_config->dns_server[0]) {
        char host[64];
        const char *colon = strrchr(mt_config->dns_server, ':');
        size_t n = colon ? (size_t)(colon - mt_config->dns_server)
                         : strlen(mt_config->dns_server);
        struct sockaddr_in sin;

        memset(&sin, 0, sizeof(sin));
        if (n >= sizeof(host))
            return -1;
        memcpy(host, mt_config->dns_server, n);
        host[n] = '\0';
        sin.sin_family = AF_INET;
        sin.sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 53);
        if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
            return -1;
        st->nsaddr_list[0] = sin;
        st->nscount = 1;
        st->retrans = 2;
        st->retry = 2;
    }
    return 0;
}

static int by_pref(const void *a, const void *b)
{
    const mt_mx *x = a, *y = b;
    return x->pref - y->pref;
}

int mt_dns_mx(const char *domain, mt_mx *out, int max, char *err,
              size_t errlen)
{
    struct __res_state st;
    unsigned char ans[8192];
    ns_msg msg;
    int len, n = 0;

    if (init(&st) < 0) {
        snprintf(err, errlen, "resolver setup failed");
        return -1;
    }
    len = res_nquery(&st, domain, ns_c_in, ns_t_mx, ans, sizeof(ans));
    if (len < 0) {
        int h = st.res_h_errno;
        res_nclose(&st);
        if (h == HOST_NOT_FOUND) {
            snprintf(err, errlen, "domain %s does not exist", domain);
            return -2;
        }
        if (h == NO_DATA) {             /* no MX: the implicit MX */
            snprintf(out[0].host, sizeof(out[0].host), "%s", domain);
            out[0].pref = 0;
            return 1;
        }
        snprintf(err, errlen, "no answer from DNS for %s", domain);
        return -1;
    }
    if (ns_initparse(ans, len, &msg) < 0) {
        res_nclose(&st);
        snprintf(err, errlen, "bad DNS answer for %s", domain);
        return -1;
    }
    for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < max; i++) {
        ns_rr rr;
        char name[NS_MAXDNAME];

        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_mx ||
            ns_rr_rdlen(rr) < 3)
            continue;
        if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2,
                      name, sizeof(name)) < 0)
            continue;
        out[n].pref = ns_get16(ns_rr_rdata(rr));
        snprintf(out[n].host, sizeof(out[n].host), "%.255s", name);
        n++;
    }
    res_nclose(&st);
    if (n == 0) {
        snprintf(out[0].host, sizeof(out[0].host), "%s", domain);
        out[0].pref = 0;
        return 1;
    }
    /* RFC 7505: a single MX of "." means the domain takes no mail */
    if (n == 1 && (out[0].host[0] == '\0' || !strcmp(out[0].host, "."))) {
        snprintf(err, errlen, "domain %s accepts no mail (null MX)", domain);
        return -2;
    }
    qsort(out, (size_t)n, sizeof(*out), by_pref);
    return n;
}

int mt_dns_addrs(const char *host, struct sockaddr_storage *out, int max)
{
    struct __res_state st;
    unsigned char ans[4096];
    static const int types[2] = { ns_t_a, ns_t_aaaa };
    int n = 0;

    if (init(&st) < 0)
        return 0;
    for (int t = 0; t < 2 && n < max; t++) {
        ns_msg msg;
        int len = res_nquery(&st, host, ns_c_in, types[t], ans, sizeof(ans));

        if (len < 0 || ns_initparse(ans, len, &msg) < 0)
            continue;
        for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < max; i++) {
            ns_rr rr;

            if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 ||
                (int)ns_rr_type(rr) != types[t])
                continue;
            memset(&out[n], 0, sizeof(out[n]));
            if (types[t] == ns_t_a && ns_rr_rdlen(rr) == 4) {
                struct sockaddr_in *sin = (struct sockaddr_in *)&out[n];
                sin->sin_family = AF_INET;
                memcpy(&sin->sin_addr, ns_rr_rdata(rr), 4);
                n++;
            } else if (types[t] == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out[n];
                sin6->sin6_family = AF_INET6;
                memcpy(&sin6->sin6_addr, ns_rr_rdata(rr), 16);
                n++;
            }
        }
    }
    res_nclose(&st);
    return n;
}
