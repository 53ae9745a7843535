/*
 * NAME
 *   xc_conf - "key = value" configuration files (storaged.conf, mtad.conf)
 *
 * DESCRIPTION
 *   One setting per line; '#' at the start of a line or after a space
 *   starts a comment; unknown keys are errors, so that a typo doesn't
 *   silently keep a default. Each program describes its settings with a
 *   table of xc_conf_key (where in its struct, what kind, which range) and
 *   documents them in conf/.
 */
#ifndef XC_CONF_H
#define XC_CONF_H

#include <stddef.h>

enum xc_conf_kind {
    XC_CONF_STR,        /* char[size] */
    XC_CONF_INT,        /* int, from size (minimum) to max */
    XC_CONF_OCTAL,      /* unsigned, octal */
    XC_CONF_SIZE,       /* size_t, from size to max */
    XC_CONF_BOOL        /* int: yes/no, on/off, 1/0 */
};

typedef struct xc_conf_key {
    const char *name;
    enum xc_conf_kind kind;
    size_t off;
    size_t size;        /* strings: buffer size; numbers: minimum value */
    long max;
} xc_conf_key;

#define XC_CONF_S(type, n)                                                  \
    { #n, XC_CONF_STR, offsetof(type, n), sizeof(((type *)0)->n), 0 }
#define XC_CONF_I(type, n, lo, hi) { #n, XC_CONF_INT, offsetof(type, n), lo, hi }
#define XC_CONF_Z(type, n, lo, hi) { #n, XC_CONF_SIZE, offsetof(type, n), lo, hi }
#define XC_CONF_B(type, n) { #n, XC_CONF_BOOL, offsetof(type, n), 0, 1 }

/* Set key k of conf to v (text); 0, or -1 with a message in err. */
int xc_conf_set(void *conf, const xc_conf_key *keys, size_t nkeys,
                const char *k, const char *v, char *err, size_t errlen);
/* Read the file at path into conf; 0, or -1 with "path:line: why" in err. */
int xc_conf_load(void *conf, const xc_conf_key *keys, size_t nkeys,
                 const char *path, char *err, size_t errlen);

#endif
