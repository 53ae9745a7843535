/*
 * NAME
 *   xc_restrict - restriction trees of [MS-OXCDATA] 2.12 (pure decoder)
 *
 * DESCRIPTION
 *   Decodes a restriction in its standard ROP encoding (2-byte counts,
 *   [MS-OXCDATA] 2.12.1-2.12.12) into a tree of nodes taken from a caller's
 *   array: no allocation, no I/O. Values stay in the buffer: strings are
 *   NUL-terminated (UTF-16LE for PT_UNICODE) as in ROP buffers, binaries
 *   carry a 2-byte count ([MS-OXCDATA] 2.11.1). Depth and node count are
 *   bounded; trailing bytes are an error. MAPI restrictions pass through
 *   unchanged; EWS, ActiveSync and IMAP searches are encoded into this
 *   form, and storaged compiles it to SQL.
 */
#ifndef XC_RESTRICT_H
#define XC_RESTRICT_H

#include <stddef.h>
#include <stdint.h>

enum xc_rtype {
    XC_RES_AND = 0x00, XC_RES_OR = 0x01, XC_RES_NOT = 0x02,
    XC_RES_CONTENT = 0x03, XC_RES_PROPERTY = 0x04,
    XC_RES_COMPAREPROPS = 0x05, XC_RES_BITMASK = 0x06, XC_RES_SIZE = 0x07,
    XC_RES_EXIST = 0x08, XC_RES_SUBRESTRICTION = 0x09,
    XC_RES_COMMENT = 0x0A, XC_RES_COUNT = 0x0B
};

/* relational operators (2.12.5) */
enum { XC_RELOP_LT, XC_RELOP_LE, XC_RELOP_GT, XC_RELOP_GE, XC_RELOP_EQ,
       XC_RELOP_NE, XC_RELOP_RE };
/* content restriction fuzzy levels (2.12.4) */
#define XC_FL_FULLSTRING 0x0000
#define XC_FL_SUBSTRING 0x0001
#define XC_FL_PREFIX 0x0002
#define XC_FL_IGNORECASE 0x0001     /* high word */
#define XC_FL_IGNORENONSPACE 0x0002
#define XC_FL_LOOSE 0x0004
/* sub-objects (2.12.10) */
#define XC_PR_MESSAGE_RECIPIENTS 0x0E12000Du
#define XC_PR_MESSAGE_ATTACHMENTS 0x0E13000Du

#define XC_RES_MAX_DEPTH 32
#define XC_RES_MAX_NODES 4096

/* A value as in a ROP buffer. */
typedef struct xc_rvalue {
    uint32_t tag;
    const uint8_t *p;       /* the value's bytes (strings without NUL) */
    uint32_t n;
    uint64_t u;             /* fixed-size values up to 8 bytes, as integer */
} xc_rvalue;

typedef struct xc_rnode xc_rnode;
struct xc_rnode {
    uint8_t type;           /* enum xc_rtype */
    uint8_t relop;          /* PROPERTY, COMPAREPROPS, SIZE; BITMASK: 0 EQZ,
                               1 NEZ */
    uint16_t fuzzy_low, fuzzy_high;     /* CONTENT */
    uint32_t tag, tag2;     /* property (COMPAREPROPS: both); SUB: object */
    uint32_t mask;          /* BITMASK; SIZE: the size; COUNT: the count */
    xc_rvalue value;        /* CONTENT, PROPERTY */
    xc_rnode **kids;        /* AND, OR: count; NOT, SUB, COMMENT, COUNT: 1
                               (COMMENT: 0 when absent) */
    uint16_t nkids;
};

/*
 * Decode buf into nodes[0..max). Returns 0 and *root, or -1 with an error
 * message. kids arrays are taken from the same nodes array's spare room:
 * pass kidbuf with room for max pointers.
 */
int xc_restrict_parse(const uint8_t *buf, size_t len, xc_rnode *nodes,
                      xc_rnode **kidbuf, size_t max, xc_rnode **root,
                      const char **error_r);

#endif
