/*
 * NAME
 *   xc_imap - IMAP4rev1/rev2 commands: framing with literals, the token
 *   tree, sequence sets, fetch sections, dates, modified UTF-7
 *
 * DESCRIPTION
 *   Pure functions over buffers for the IMAP server (mtad); no I/O, no
 *   logging, no allocation except into the caller's arrays and xc_wbuf.
 *
 *   A command (RFC 3501 / RFC 9051 section 9, "command") is one or more
 *   lines: a line ending in a literal announcement {n} (synchronizing),
 *   {n+} (LITERAL+, RFC 7888) or ~{n} (literal8, RFC 3516) is followed by
 *   n octets and the command goes on after them. xc_imap_scan finds where
 *   a command ends in the bytes read so far, resumably (fed more bytes it
 *   goes on where it stopped), and tells the caller when the client waits
 *   for a "+" continuation before sending a synchronizing literal.
 *
 *   xc_imap_parse splits a whole command into a flat tree of tokens in
 *   the caller's array: the tag, the command name, then its arguments;
 *   atoms, quoted strings, literals and parenthesized lists. An atom may
 *   carry a bracketed part with spaces and parentheses inside
 *   (BODY[HEADER.FIELDS (From To)]<0.100>, BODY.PEEK[], BINARY[1]), as
 *   the fetch grammar needs; xc_imap_fetch_att reads such an atom.
 *   Meaning (which arguments a command takes) is the caller's.
 *
 *   Limits: a line (without literals) of at most line_max octets, lists
 *   nested XC_IMAP_DEPTH_MAX deep, at most the caller's node count of
 *   tokens, literals of at most literal_max octets, a tag of XC_IMAP_TAG_MAX.
 */
#ifndef XC_IMAP_H
#define XC_IMAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "xc_buf.h"

#define XC_IMAP_TAG_MAX 64
#define XC_IMAP_DEPTH_MAX 16
#define XC_IMAP_SECTION_PARTS 32    /* section-part numbers 1.2.3... */
#define XC_IMAP_FIELDS_MAX 64       /* HEADER.FIELDS names */

/* ---- framing ------------------------------------------------------------ */

typedef struct xc_imap_scanner {
    size_t pos;             /* bytes of the command looked at */
    size_t line_start;      /* where the line being read began */
    uint64_t literal;       /* octets of a literal still to come */
    size_t end;             /* XC_IMAP_COMPLETE: the command's length */
    uint64_t announced;     /* XC_IMAP_LITERAL: the literal's length */
} xc_imap_scanner;

enum {
    XC_IMAP_MORE = 0,       /* need more bytes */
    XC_IMAP_COMPLETE = 1,   /* p[0 .. s->end) is one command, CRLF included */
    XC_IMAP_LITERAL = 2     /* a synchronizing literal of s->announced
                               octets was announced: answer "+" (or refuse
                               the command) and go on scanning */
};

/* Start scanning a new command (after the previous one's end). */
void xc_imap_scan_init(xc_imap_scanner *s);

/*
 * p[0..n) are the bytes received since the command began (n only grows
 * between calls; the same scanner goes on). XC_IMAP_MORE, _COMPLETE,
 * _LITERAL, or -1 with *error_r: a line longer than line_max, a NUL in a
 * line, a bad or too large literal announcement (over literal_max). After
 * -1 the connection can't find the next command: the caller says BYE.
 * A bare LF ends a line as CRLF does.
 */
int xc_imap_scan(xc_imap_scanner *s, const uint8_t *p, size_t n,
                 size_t line_max, uint64_t literal_max, const char **error_r);

/* ---- the token tree ----------------------------------------------------- */

typedef enum xc_imap_type {
    XC_IMAP_ATOM = 1,       /* also NIL, numbers, flags (\Seen), sequence
                               sets, and atoms with a [section]<partial> */
    XC_IMAP_QUOTED,         /* p, len: the text between the quotes, with
                               its escapes (xc_imap_string removes them) */
    XC_IMAP_LITERAL_STR,    /* p, len: the literal's octets */
    XC_IMAP_LIST            /* ( ... ): n children follow; end is the index
                               after its last descendant */
} xc_imap_type;

typedef struct xc_imap_node {
    xc_imap_type type;
    const uint8_t *p;
    size_t len;
    uint32_t n;             /* LIST: direct children */
    uint32_t end;           /* LIST: index after it; others: index + 1 */
    uint8_t binary;         /* LITERAL_STR: literal8 (~{n}) */
} xc_imap_node;

typedef struct xc_imap_cmd {
    const uint8_t *tag;
    size_t tag_len;
    char name[32];          /* upper case; "UID FETCH" etc. for UID */
    const xc_imap_node *args;   /* into the caller's array */
    size_t nargs_nodes;     /* nodes of the arguments (a flat list) */
} xc_imap_cmd;

/*
 * A whole command p[0..n) (as xc_imap_scan found it, CRLF included) into
 * nodes[0..max): *cmd has the tag, the command name (with "UID " before
 * the next word for UID commands) and the argument nodes. 0, or -1 with
 * *error_r; then *cmd->tag is set if a tag could be read (so the caller
 * answers "tag BAD", else "* BAD").
 */
int xc_imap_parse(const uint8_t *p, size_t n, xc_imap_node *nodes,
                  size_t max, xc_imap_cmd *cmd, const char **error_r);

/* Node i's next sibling's index (lists skip their children). */
static inline size_t xc_imap_next(const xc_imap_node *nodes, size_t i)
{
    return nodes[i].end;
}

/* An atom equal (case-insensitively) to word? */
int xc_imap_is(const xc_imap_node *node, const char *word);

/* A string argument (astring / nstring): an atom, quoted string or
   literal, unescaped and NUL-terminated into out. NIL (an atom) gives 1;
   0 done; -1 not a string, has a NUL, or longer than outlen - 1. */
int xc_imap_string(const xc_imap_node *node, char *out, size_t outlen);

/* A number (RFC 3501 "number", at most 2^32 - 1; nz: not 0). 0 or -1. */
int xc_imap_number(const xc_imap_node *node, int nz, uint32_t *v);
/* mod-sequence-value (RFC 7162): 1 .. 2^63 - 1 (zero: 0 allowed). */
int xc_imap_number64(const xc_imap_node *node, int zero, uint64_t *v);

/* ---- sequence sets ------------------------------------------------------ */

typedef struct xc_imap_range {
    uint32_t lo, hi;        /* lo <= hi; "*" is UINT32_MAX until resolved */
} xc_imap_range;

/*
 * A sequence-set (RFC 3501 "sequence-set"; "$" of RFC 5182 is the
 * caller's) into ranges[0..max), each with lo <= hi, "*" as UINT32_MAX:
 * the count, or -1 (bad syntax, 0 used, more than max ranges).
 */
int xc_imap_seqset(const uint8_t *p, size_t len, xc_imap_range *ranges,
                   size_t max);

/* ---- fetch attributes --------------------------------------------------- */

typedef enum xc_imap_spec {
    XC_IMAP_SPEC_ALL = 0,       /* BODY[] or BODY[1.2]: the part */
    XC_IMAP_SPEC_HEADER,
    XC_IMAP_SPEC_FIELDS,        /* HEADER.FIELDS (...) */
    XC_IMAP_SPEC_FIELDS_NOT,    /* HEADER.FIELDS.NOT (...) */
    XC_IMAP_SPEC_TEXT,
    XC_IMAP_SPEC_MIME           /* only after a part number */
} xc_imap_spec;

typedef struct xc_imap_att {
    char name[24];          /* upper case: BODY, BODY.PEEK, BINARY,
                               BINARY.PEEK, BINARY.SIZE, or the whole atom
                               (FLAGS, UID, ENVELOPE ...) */
    int has_section;        /* a [...] followed */
    uint32_t part[XC_IMAP_SECTION_PARTS];
    int nparts;
    xc_imap_spec spec;
    const uint8_t *field[XC_IMAP_FIELDS_MAX];   /* into the atom */
    size_t field_len[XC_IMAP_FIELDS_MAX];
    int nfields;
    int has_partial;        /* <offset.length> */
    uint32_t offset, length;
} xc_imap_att;

/* A fetch-att atom (RFC 3501 "fetch-att", RFC 3516 BINARY) into *a: 0 or
   -1 (bad section, part numbers of 0 or too many, a spec the name can't
   take, a bad partial). */
int xc_imap_fetch_att(const xc_imap_node *node, xc_imap_att *a);

/* ---- dates ---------------------------------------------------------------- */

/* "date" of SEARCH (d-Mon-yyyy, the day 1 or 2 digits): midnight UTC of
   that day in *t. 0 or -1. */
int xc_imap_date(const char *s, time_t *t);
/* "date-time" of APPEND ("dd-Mon-yyyy hh:mm:ss +zzzz", the day padded
   with a space or a 0): the instant in *t. 0 or -1. */
int xc_imap_datetime(const char *s, time_t *t);
/* t as a date-time in UTC ("01-Jan-2026 10:00:00 +0000"), 27 bytes
   with its NUL. */
void xc_imap_format_datetime(time_t t, char out[27]);

/* ---- mailbox names ---------------------------------------------------- */

/* Modified UTF-7 (RFC 3501 5.1.3) to UTF-8, appended to w: 0, or -1 (bad
   base64 or padding, an unterminated or empty shift, printable ASCII in a
   shift, bad UTF-16, NUL, 8-bit or control bytes outside a shift). */
int xc_imap_mutf7_decode(xc_wbuf *w, const char *s, size_t len);
/* UTF-8 (valid, no NUL) to modified UTF-7 appended to w: 0 or -1. */
int xc_imap_mutf7_encode(xc_wbuf *w, const char *s, size_t len);

/* ---- writing responses -------------------------------------------------- */

/* s[0..len) as an IMAP string: quoted when it can be (no CR, LF, NUL, and
   ASCII unless utf8), else a literal {n}CRLF and the bytes. */
void xc_imap_put_string(xc_wbuf *w, const char *s, size_t len, int utf8);
/* The same, NIL for NULL. */
void xc_imap_put_nstring(xc_wbuf *w, const char *s, size_t len, int utf8);

#endif
