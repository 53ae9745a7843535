/*
 * xc_imap - IMAP command framing and tokens (see xc_imap.h). Grammar
 * references are to RFC 3501 section 9 and RFC 9051 section 9.
 */
#include "xc_imap.h"
#include "xc_text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- framing ------------------------------------------------------------ */

void xc_imap_scan_init(xc_imap_scanner *s)
{
    memset(s, 0, sizeof(*s));
}

/* A literal announcement ending the line p[b..e) ({n}, {n+}, ~{n}):
   1 with its length and kind, 0 if the line doesn't end in one, -1 if it
   ends in a broken one. */
static int announcement(const uint8_t *p, size_t b, size_t e, uint64_t *len,
                        int *plus)
{
    size_t q, d;
    uint64_t v = 0;

    if (e == b || p[e - 1] != '}')
        return 0;
    q = e - 1;
    *plus = q > b && p[q - 1] == '+';
    if (*plus)
        q--;
    d = q;
    while (d > b && p[d - 1] >= '0' && p[d - 1] <= '9')
        d--;
    if (d == b || p[d - 1] != '{' || d == q)
        return 0;           /* not a literal: the parser judges the line */
    if (q - d > 19)
        return -1;
    for (size_t i = d; i < q; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    *len = v;
    return 1;
}

int xc_imap_scan(xc_imap_scanner *s, const uint8_t *p, size_t n,
                 size_t line_max, uint64_t literal_max, const char **error_r)
{
    while (s->pos < n) {
        const uint8_t *lf;
        size_t stop, e;
        uint64_t len;
        int plus, a;

        if (s->literal > 0) {
            size_t take = n - s->pos;
            if ((uint64_t)take > s->literal)
                take = (size_t)s->literal;
            s->pos += take;
            s->literal -= take;
            if (s->literal == 0)
                s->line_start = s->pos;
            continue;
        }
        lf = memchr(p + s->pos, '\n', n - s->pos);
        stop = lf ? (size_t)(lf - p) : n;
        if (memchr(p + s->pos, 0, stop - s->pos) != NULL) {
            *error_r = "NUL in a command line";
            return -1;
        }
        if (stop - s->line_start > line_max) {
            *error_r = "command line too long";
            return -1;
        }
        if (lf == NULL) {
            s->pos = n;
            return XC_IMAP_MORE;
        }
        e = stop;
        if (e > s->line_start && p[e - 1] == '\r')
            e--;
        s->pos = stop + 1;
        a = announcement(p, s->line_start, e, &len, &plus);
        if (a < 0) {
            *error_r = "bad literal announcement";
            return -1;
        }
        if (a == 0) {
            s->end = s->pos;
            return XC_IMAP_COMPLETE;
        }
        if (plus && len > literal_max) {
            *error_r = "literal too large";
            return -1;
        }
        s->literal = len;
        s->line_start = s->pos;
        if (!plus) {
            s->announced = len;
            return XC_IMAP_LITERAL;
        }
    }
    return XC_IMAP_MORE;
}

/* ---- the token tree ----------------------------------------------------- */

typedef struct pctx {
    const uint8_t *p;
    size_t n, i;
    xc_imap_node *nodes;
    size_t max, count;
    const char *err;
} pctx;

static int at_eol(const pctx *c)
{
    return c->i >= c->n || c->p[c->i] == '\r' || c->p[c->i] == '\n';
}

static int fail(pctx *c, const char *why)
{
    if (c->err == NULL)
        c->err = why;
    return -1;
}

/* ATOM-CHAR, with \ (flags), % and * (list wildcards, sequence sets) and
   ] (resp-specials, as ASTRING-CHAR allows) */
static int atom_char(uint8_t ch)
{
    return ch > 0x20 && ch < 0x7F && ch != '(' && ch != ')' && ch != '{' &&
           ch != '"';
}

static xc_imap_node *new_node(pctx *c, xc_imap_type t)
{
    xc_imap_node *nd;

    if (c->count >= c->max) {
        fail(c, "too many tokens");
        return NULL;
    }
    nd = &c->nodes[c->count++];
    memset(nd, 0, sizeof(*nd));
    nd->type = t;
    nd->end = (uint32_t)c->count;
    return nd;
}

static int quoted(pctx *c)
{
    size_t b = ++c->i;
    xc_imap_node *nd;

    while (c->i < c->n && c->p[c->i] != '"') {
        uint8_t ch = c->p[c->i];
        if (ch == '\r' || ch == '\n' || ch == 0)
            return fail(c, "unterminated quoted string");
        if (ch == '\\') {
            if (c->i + 1 >= c->n ||
                (c->p[c->i + 1] != '"' && c->p[c->i + 1] != '\\'))
                return fail(c, "bad escape in a quoted string");
            c->i++;
        }
        c->i++;
    }
    if (c->i >= c->n)
        return fail(c, "unterminated quoted string");
    if ((nd = new_node(c, XC_IMAP_QUOTED)) == NULL)
        return -1;
    nd->p = c->p + b;
    nd->len = c->i - b;
    c->i++;
    return 0;
}

static int literal(pctx *c)
{
    int binary = c->p[c->i] == '~';
    uint64_t len = 0;
    size_t digits = 0;
    xc_imap_node *nd;

    c->i += binary ? 2 : 1;
    while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
        if (++digits > 19)
            return fail(c, "bad literal");
        len = len * 10 + (uint64_t)(c->p[c->i++] - '0');
    }
    if (digits == 0)
        return fail(c, "bad literal");
    if (c->i < c->n && c->p[c->i] == '+')
        c->i++;
    if (c->i >= c->n || c->p[c->i] != '}')
        return fail(c, "bad literal");
    c->i++;
    if (c->i < c->n && c->p[c->i] == '\r')
        c->i++;
    if (c->i >= c->n || c->p[c->i] != '\n')
        return fail(c, "a literal's announcement must end its line");
    c->i++;
    if (len > c->n - c->i)
        return fail(c, "literal longer than the command");
    if ((nd = new_node(c, XC_IMAP_LITERAL_STR)) == NULL)
        return -1;
    nd->p = c->p + c->i;
    nd->len = (size_t)len;
    nd->binary = (uint8_t)binary;
    c->i += (size_t)len;
    return 0;
}

/* An atom, with [ ... ] parts that may hold spaces, parentheses and
   quoted strings (fetch sections). */
static int atom(pctx *c)
{
    size_t b = c->i;
    xc_imap_node *nd;

    while (c->i < c->n) {
        uint8_t ch = c->p[c->i];
        if (ch == '[') {
            int depth = 0;
            c->i++;
            while (c->i < c->n && (c->p[c->i] != ']' || depth > 0)) {
                ch = c->p[c->i];
                if (ch == '(') {
                    if (++depth > XC_IMAP_DEPTH_MAX)
                        return fail(c, "nested too deeply");
                } else if (ch == ')') {
                    if (--depth < 0)
                        return fail(c, "unbalanced parenthesis in [ ]");
                } else if (ch == '"') {
                    c->i++;
                    while (c->i < c->n && c->p[c->i] != '"') {
                        if (c->p[c->i] == '\\' || c->p[c->i] < 0x20 ||
                            c->p[c->i] >= 0x7F)
                            return fail(c, "bad quoted string in [ ]");
                        c->i++;
                    }
                    if (c->i >= c->n)
                        return fail(c, "unterminated [");
                } else if (ch < 0x20 || ch >= 0x7F) {
                    return fail(c, "bad character in [ ]");
                }
                c->i++;
            }
            if (c->i >= c->n)
                return fail(c, "unterminated [");
            c->i++;         /* ] */
            continue;
        }
        if (!atom_char(ch))
            break;
        c->i++;
    }
    if (c->i == b)
        return fail(c, "bad character");
    if ((nd = new_node(c, XC_IMAP_ATOM)) == NULL)
        return -1;
    nd->p = c->p + b;
    nd->len = c->i - b;
    return 0;
}

/* Tokens up to the end of the line, or (in_list) the closing ')'. */
static int tokens(pctx *c, int depth, int in_list)
{
    int first = 1;

    for (;;) {
        if (!first) {
            if (at_eol(c) || c->p[c->i] == ')')
                ;
            else if (c->p[c->i] == ' ')
                while (c->i < c->n && c->p[c->i] == ' ')
                    c->i++;
            else
                return fail(c, "tokens must be separated by a space");
        }
        first = 0;
        if (at_eol(c)) {
            if (in_list)
                return fail(c, "unclosed parenthesis");
            return 0;
        }
        if (c->p[c->i] == ')') {
            if (!in_list)
                return fail(c, "unbalanced parenthesis");
            c->i++;
            return 0;
        }
        if (c->p[c->i] == '(') {
            size_t at = c->count;
            xc_imap_node *nd;
            uint32_t kids = 0;
            if (depth >= XC_IMAP_DEPTH_MAX)
                return fail(c, "nested too deeply");
            if (new_node(c, XC_IMAP_LIST) == NULL)
                return -1;
            c->i++;
            while (c->i < c->n && c->p[c->i] == ' ')
                c->i++;
            {
                size_t before = c->count;
                if (tokens(c, depth + 1, 1) < 0)
                    return -1;
                for (size_t k = before; k < c->count; k = c->nodes[k].end)
                    kids++;
            }
            nd = &c->nodes[at];
            nd->n = kids;
            nd->end = (uint32_t)c->count;
            nd->p = NULL;
            continue;
        }
        if (c->p[c->i] == '"') {
            if (quoted(c) < 0)
                return -1;
        } else if (c->p[c->i] == '{' ||
                   (c->p[c->i] == '~' && c->i + 1 < c->n &&
                    c->p[c->i + 1] == '{')) {
            if (literal(c) < 0)
                return -1;
        } else if (atom(c) < 0) {
            return -1;
        }
    }
}

static int tag_char(uint8_t ch)
{
    return atom_char(ch) && ch != '%' && ch != '*' && ch != '\\' &&
           ch != '+';
}

int xc_imap_parse(const uint8_t *p, size_t n, xc_imap_node *nodes,
                  size_t max, xc_imap_cmd *cmd, const char **error_r)
{
    pctx c = { p, n, 0, nodes, max, 0, NULL };
    size_t b, k = 0;

    memset(cmd, 0, sizeof(*cmd));
    while (c.i < n && tag_char(p[c.i]))
        c.i++;
    if (c.i == 0 || c.i > XC_IMAP_TAG_MAX || c.i >= n || p[c.i] != ' ') {
        *error_r = c.i == 0 || c.i >= n || p[c.i] == '\r' ||
                           p[c.i] == '\n' || c.i > XC_IMAP_TAG_MAX
                       ? "bad tag or no command" : "bad tag";
        return -1;
    }
    cmd->tag = p;
    cmd->tag_len = c.i;
    for (int word = 0; word < 2; word++) {
        c.i++;      /* the space */
        b = c.i;
        while (c.i < n && ((p[c.i] >= 'A' && p[c.i] <= 'Z') ||
                           (p[c.i] >= 'a' && p[c.i] <= 'z') ||
                           (p[c.i] >= '0' && p[c.i] <= '9') || p[c.i] == '-'))
            c.i++;
        if (c.i == b || c.i - b + k + 2 > sizeof(cmd->name)) {
            *error_r = "bad command name";
            return -1;
        }
        if (k)
            cmd->name[k++] = ' ';
        for (size_t j = b; j < c.i; j++)
            cmd->name[k++] = (char)(p[j] >= 'a' && p[j] <= 'z' ? p[j] - 32
                                                                : p[j]);
        cmd->name[k] = '\0';
        if (word == 0 && strcmp(cmd->name, "UID") == 0) {
            if (c.i >= n || p[c.i] != ' ') {
                *error_r = "UID needs a command";
                return -1;
            }
            continue;
        }
        break;
    }
    if (!at_eol(&c)) {
        if (p[c.i] != ' ') {
            *error_r = "bad command name";
            return -1;
        }
        c.i++;
        if (tokens(&c, 0, 0) < 0) {
            *error_r = c.err;
            return -1;
        }
    }
    /* the command ends here: CRLF (or LF) and nothing after */
    if (c.i < n && p[c.i] == '\r')
        c.i++;
    if (c.i >= n || p[c.i] != '\n' || c.i + 1 != n) {
        *error_r = "junk after the command";
        return -1;
    }
    cmd->args = nodes;
    cmd->nargs_nodes = c.count;
    return 0;
}

int xc_imap_is(const xc_imap_node *node, const char *word)
{
    size_t l = strlen(word);

    return node->type == XC_IMAP_ATOM && node->len == l &&
           strncasecmp((const char *)node->p, word, l) == 0;
}

int xc_imap_string(const xc_imap_node *node, char *out, size_t outlen)
{
    size_t k = 0;

    if (outlen == 0)
        return -1;
    switch (node->type) {
    case XC_IMAP_ATOM:
        for (size_t i = 0; i < node->len; i++)
            if (node->p[i] == ' ' || node->p[i] == '(' || node->p[i] == ')' ||
                node->p[i] == '"')
                return -1;      /* an atom with a [ ... ] part */
        /* FALLTHROUGH */
    case XC_IMAP_LITERAL_STR:
        if (node->len >= outlen || memchr(node->p, 0, node->len) != NULL)
            return -1;
        memcpy(out, node->p, node->len);
        out[node->len] = '\0';
        return node->type == XC_IMAP_ATOM && xc_imap_is(node, "NIL");
    case XC_IMAP_QUOTED:
        for (size_t i = 0; i < node->len; i++) {
            if (node->p[i] == '\\')
                i++;
            if (k + 1 >= outlen)
                return -1;
            out[k++] = (char)node->p[i];
        }
        out[k] = '\0';
        return 0;
    default:
        return -1;
    }
}

static int digits(const xc_imap_node *node, uint64_t limit, uint64_t *v)
{
    uint64_t x = 0;

    if (node->type != XC_IMAP_ATOM || node->len == 0 || node->len > 19)
        return -1;
    for (size_t i = 0; i < node->len; i++) {
        if (node->p[i] < '0' || node->p[i] > '9')
            return -1;
        x = x * 10 + (uint64_t)(node->p[i] - '0');
    }
    if (x > limit)
        return -1;
    *v = x;
    return 0;
}

int xc_imap_number(const xc_imap_node *node, int nz, uint32_t *v)
{
    uint64_t x;

    if (digits(node, UINT32_MAX, &x) < 0 || (nz && x == 0))
        return -1;
    *v = (uint32_t)x;
    return 0;
}

int xc_imap_number64(const xc_imap_node *node, int zero, uint64_t *v)
{
    uint64_t x;

    if (digits(node, INT64_MAX, &x) < 0 || (!zero && x == 0))
        return -1;
    *v = x;
    return 0;
}

/* ---- sequence sets ------------------------------------------------------ */

/* seq-number at p[*i]: nz-number or "*" (UINT32_MAX). */
static int seq_number(const uint8_t *p, size_t len, size_t *i, uint32_t *v)
{
    uint64_t x = 0;
    size_t b = *i;

    if (*i < len && p[*i] == '*') {
        (*i)++;
        *v = UINT32_MAX;
        return 0;
    }
    while (*i < len && p[*i] >= '0' && p[*i] <= '9') {
        x = x * 10 + (uint64_t)(p[(*i)++] - '0');
        if (x > UINT32_MAX)
            return -1;
    }
    if (*i == b || x == 0)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

int xc_imap_seqset(const uint8_t *p, size_t len, xc_imap_range *ranges,
                   size_t max)
{
    size_t i = 0, k = 0;

    if (len == 0)
        return -1;
    for (;;) {
        uint32_t a, b;
        if (seq_number(p, len, &i, &a) < 0)
            return -1;
        b = a;
        if (i < len && p[i] == ':') {
            i++;
            if (seq_number(p, len, &i, &b) < 0)
                return -1;
        }
        if (k == max)
            return -1;
        ranges[k].lo = a < b ? a : b;
        ranges[k].hi = a < b ? b : a;
        k++;
        if (i == len)
            return (int)k;
        if (p[i] != ',')
            return -1;
        i++;
    }
}

/* ---- fetch attributes --------------------------------------------------- */

static int word_at(const uint8_t *p, size_t len, size_t *i, const char *w)
{
    size_t l = strlen(w);

    if (len - *i < l || strncasecmp((const char *)p + *i, w, l) != 0)
        return 0;
    *i += l;
    return 1;
}

/* header-list of HEADER.FIELDS: "(" astring *(SP astring) ")" */
static int header_list(const uint8_t *p, size_t len, size_t *i,
                       xc_imap_att *a)
{
    if (*i >= len || p[*i] != '(')
        return -1;
    (*i)++;
    for (;;) {
        size_t b;
        if (a->nfields == XC_IMAP_FIELDS_MAX)
            return -1;
        if (*i < len && p[*i] == '"') {
            b = ++(*i);
            while (*i < len && p[*i] != '"')
                (*i)++;
            if (*i >= len || *i == b)
                return -1;
            a->field[a->nfields] = p + b;
            a->field_len[a->nfields++] = *i - b;
            (*i)++;
        } else {
            b = *i;
            /* field-name: printable US-ASCII except ":" (RFC 5322) */
            while (*i < len && p[*i] > 0x20 && p[*i] < 0x7F &&
                   p[*i] != ':' && p[*i] != '(' && p[*i] != ')' &&
                   p[*i] != '"' && p[*i] != '[' && p[*i] != ']')
                (*i)++;
            if (*i == b)
                return -1;
            a->field[a->nfields] = p + b;
            a->field_len[a->nfields++] = *i - b;
        }
        if (*i < len && p[*i] == ')') {
            (*i)++;
            return 0;
        }
        if (*i >= len || p[*i] != ' ')
            return -1;
        (*i)++;
    }
}

int xc_imap_fetch_att(const xc_imap_node *node, xc_imap_att *a)
{
    const uint8_t *p = node->p;
    size_t len = node->len, i = 0, k = 0;
    int body, binary;

    memset(a, 0, sizeof(*a));
    if (node->type != XC_IMAP_ATOM)
        return -1;
    while (i < len && p[i] != '[' && p[i] != '<') {
        if (k + 1 >= sizeof(a->name))
            return -1;
        a->name[k++] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
        i++;
    }
    a->name[k] = '\0';
    if (k == 0)
        return -1;
    if (i == len)
        return 0;           /* FLAGS, UID, BODY, ... */
    if (p[i] != '[')
        return -1;          /* a partial needs a section */
    body = !strcmp(a->name, "BODY") || !strcmp(a->name, "BODY.PEEK");
    binary = !strcmp(a->name, "BINARY") || !strcmp(a->name, "BINARY.PEEK") ||
             !strcmp(a->name, "BINARY.SIZE");
    if (!body && !binary)
        return -1;
    a->has_section = 1;
    i++;
    /* section-part */
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        uint64_t x = 0;
        size_t b = i;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            x = x * 10 + (uint64_t)(p[i++] - '0');
            if (x > UINT32_MAX)
                return -1;
        }
        if (x == 0 || i == b || a->nparts == XC_IMAP_SECTION_PARTS)
            return -1;
        a->part[a->nparts++] = (uint32_t)x;
        if (i < len && p[i] == '.' && i + 1 < len && p[i + 1] >= '0' &&
            p[i + 1] <= '9') {
            i++;
            continue;
        }
        break;
    }
    if (i < len && p[i] != ']') {
        if (binary)
            return -1;      /* section-binary is part numbers only */
        if (a->nparts > 0) {
            if (p[i] != '.')
                return -1;
            i++;
        }
        if (word_at(p, len, &i, "HEADER.FIELDS.NOT"))
            a->spec = XC_IMAP_SPEC_FIELDS_NOT;
        else if (word_at(p, len, &i, "HEADER.FIELDS"))
            a->spec = XC_IMAP_SPEC_FIELDS;
        else if (word_at(p, len, &i, "HEADER"))
            a->spec = XC_IMAP_SPEC_HEADER;
        else if (word_at(p, len, &i, "TEXT"))
            a->spec = XC_IMAP_SPEC_TEXT;
        else if (a->nparts > 0 && word_at(p, len, &i, "MIME"))
            a->spec = XC_IMAP_SPEC_MIME;
        else
            return -1;
        if (a->spec == XC_IMAP_SPEC_FIELDS ||
            a->spec == XC_IMAP_SPEC_FIELDS_NOT) {
            if (i >= len || p[i] != ' ')
                return -1;
            i++;
            if (header_list(p, len, &i, a) < 0)
                return -1;
        }
    }
    if (i >= len || p[i] != ']')
        return -1;
    i++;
    if (i == len)
        return 0;
    /* partial: "<" number "." nz-number ">" */
    if (p[i] != '<' || !strcmp(a->name, "BINARY.SIZE"))
        return -1;
    i++;
    {
        uint64_t o = 0, l = 0;
        size_t b = i;
        while (i < len && p[i] >= '0' && p[i] <= '9' && o <= UINT32_MAX)
            o = o * 10 + (uint64_t)(p[i++] - '0');
        if (i == b || o > UINT32_MAX || i >= len || p[i] != '.')
            return -1;
        b = ++i;
        while (i < len && p[i] >= '0' && p[i] <= '9' && l <= UINT32_MAX)
            l = l * 10 + (uint64_t)(p[i++] - '0');
        if (i == b || l == 0 || l > UINT32_MAX || i + 1 != len ||
            p[i] != '>')
            return -1;
        a->has_partial = 1;
        a->offset = (uint32_t)o;
        a->length = (uint32_t)l;
    }
    return 0;
}

/* ---- dates ---------------------------------------------------------------- */

static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(long y, int m)
{
    static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 1 && leap(y) ? 29 : d[m];
}

/* Days from 1970-01-01 to y-m-d (m 0..11), the proleptic Gregorian way. */
static long days_from_civil(long y, int m, int d)
{
    long era, yoe, doy, doe;
    int mp = (m + 10) % 12;     /* March = 0 */

    if (m < 2)
        y--;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153L * mp + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* d-Mon-yyyy at s[*i] (day of 1 or 2 digits, or " d" when padded) */
static int ymd(const char *s, size_t *i, int padded, long *y, int *m, int *d)
{
    int day = 0, nd = 0;
    long year = 0;

    if (padded && s[*i] == ' ')
        (*i)++, nd = 1;
    while (s[*i] >= '0' && s[*i] <= '9' && nd < 2)
        day = day * 10 + (s[(*i)++] - '0'), nd++;
    if (nd == 0 || (padded && nd != 2) || s[*i] != '-')
        return -1;
    (*i)++;
    for (*m = 0; *m < 12; (*m)++)
        if (strncasecmp(s + *i, months[*m], 3) == 0)
            break;
    if (*m == 12 || s[*i + 3] != '-')
        return -1;
    *i += 4;
    for (int k = 0; k < 4; k++) {
        if (s[*i] < '0' || s[*i] > '9')
            return -1;
        year = year * 10 + (s[(*i)++] - '0');
    }
    if (day < 1 || day > mdays(year, *m))
        return -1;
    *y = year;
    *d = day;
    return 0;
}

int xc_imap_date(const char *s, time_t *t)
{
    size_t i = 0;
    long y;
    int m, d;

    if (ymd(s, &i, 0, &y, &m, &d) < 0 || s[i] != '\0')
        return -1;
    *t = (time_t)days_from_civil(y, m, d) * 86400;
    return 0;
}

static int two(const char *s, size_t *i, int max, int *v)
{
    if (s[*i] < '0' || s[*i] > '9' || s[*i + 1] < '0' || s[*i + 1] > '9')
        return -1;
    *v = (s[*i] - '0') * 10 + (s[*i + 1] - '0');
    *i += 2;
    return *v > max ? -1 : 0;
}

int xc_imap_datetime(const char *s, time_t *t)
{
    size_t i = 0;
    long y;
    int m, d, hh, mm, ss, zh, zm, sign;

    if (ymd(s, &i, 1, &y, &m, &d) < 0 || s[i++] != ' ' ||
        two(s, &i, 23, &hh) < 0 || s[i++] != ':' ||
        two(s, &i, 59, &mm) < 0 || s[i++] != ':' ||
        two(s, &i, 60, &ss) < 0 || s[i++] != ' ' ||
        (s[i] != '+' && s[i] != '-'))
        return -1;
    sign = s[i++] == '-' ? -1 : 1;
    if (two(s, &i, 99, &zh) < 0 || two(s, &i, 59, &zm) < 0 || s[i] != '\0')
        return -1;
    *t = (time_t)days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss -
         sign * (zh * 3600 + zm * 60);
    return 0;
}

void xc_imap_format_datetime(time_t t, char out[27])
{
    long days = (long)(t >= 0 ? t / 86400 : (t - 86399) / 86400);
    long secs = (long)(t - (time_t)days * 86400);
    /* civil from days (the inverse of days_from_civil) */
    long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 2 : mp - 10;    /* 0..11 */

    if (m < 2)
        y++;
    if (y < 0 || y > 9999) {
        memcpy(out, "01-Jan-1970 00:00:00 +0000", 27);
        return;
    }
    out[0] = (char)('0' + d / 10);
    out[1] = (char)('0' + d % 10);
    out[2] = '-';
    memcpy(out + 3, months[m], 3);
    out[6] = '-';
    out[7] = (char)('0' + y / 1000);
    out[8] = (char)('0' + y / 100 % 10);
    out[9] = (char)('0' + y / 10 % 10);
    out[10] = (char)('0' + y % 10);
    out[11] = ' ';
    out[12] = (char)('0' + secs / 36000);
    out[13] = (char)('0' + secs / 3600 % 10);
    out[14] = ':';
    out[15] = (char)('0' + secs % 3600 / 600);
    out[16] = (char)('0' + secs % 3600 / 60 % 10);
    out[17] = ':';
    out[18] = (char)('0' + secs % 60 / 10);
    out[19] = (char)('0' + secs % 10);
    memcpy(out + 20, " +0000", 7);
}

/* ---- modified UTF-7 ------------------------------------------------------ */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_val(char ch)
{
    const char *q = ch ? strchr(b64, ch) : NULL;
    return q ? (int)(q - b64) : -1;
}

int xc_imap_mutf7_decode(xc_wbuf *w, const char *s, size_t len)
{
    xc_wbuf u16;
    size_t i = 0;
    int rc = 0;

    xc_wbuf_init(&u16, 0);
    while (i < len && rc == 0) {
        uint32_t bits = 0;
        int nbits = 0;
        uint8_t ch = (uint8_t)s[i];

        if (ch != '&') {
            if (ch < 0x20 || ch > 0x7E)
                rc = -1;
            else
                xc_put_u8(w, ch);
            i++;
            continue;
        }
        if (++i < len && s[i] == '-') {
            xc_put_u8(w, '&');
            i++;
            continue;
        }
        /* modified base64 of UTF-16BE, gathered as UTF-16LE for the
           library's conversion (which refuses bad surrogates and NUL) */
        xc_wbuf_reset(&u16);
        while (i < len && s[i] != '-' && rc == 0) {
            int v = b64_val(s[i++]);
            if (v < 0) {
                rc = -1;
                break;
            }
            bits = bits << 6 | (uint32_t)v;
            nbits += 6;
            if (nbits >= 16) {
                uint32_t u = (bits >> (nbits - 16)) & 0xFFFF;
                nbits -= 16;
                bits &= (1u << nbits) - 1;
                if (u >= 0x20 && u <= 0x7E)
                    rc = -1;    /* printable ASCII represents itself */
                xc_put_u16(&u16, (uint16_t)u);
            }
        }
        /* the shift ends with "-", leftover bits are zero padding (< 6) */
        if (rc == 0 && (i >= len || u16.len == 0 || nbits >= 6 || bits != 0 ||
                        xc_utf16le_to_utf8(w, u16.p, u16.len) < 0))
            rc = -1;
        i++;
    }
    xc_wbuf_free(&u16);
    return rc < 0 || w->err ? -1 : 0;
}

int xc_imap_mutf7_encode(xc_wbuf *w, const char *s, size_t len)
{
    xc_wbuf u16;
    size_t i = 0;
    int rc = 0;

    xc_wbuf_init(&u16, 0);
    while (i < len && rc == 0) {
        uint8_t ch = (uint8_t)s[i];
        uint32_t bits = 0;
        int nbits = 0;
        size_t b = i;

        if (ch >= 0x20 && ch <= 0x7E) {
            if (ch == '&')
                xc_put_bytes(w, "&-", 2);
            else
                xc_put_u8(w, ch);
            i++;
            continue;
        }
        /* a run of what isn't printable ASCII, as UTF-16 (the library
           refuses bad UTF-8 and NUL), in modified base64 of UTF-16BE */
        while (i < len && ((uint8_t)s[i] < 0x20 || (uint8_t)s[i] > 0x7E))
            i++;
        xc_wbuf_reset(&u16);
        if (xc_utf8_to_utf16le(&u16, (const uint8_t *)s + b, i - b) < 0) {
            rc = -1;
            break;
        }
        xc_put_u8(w, '&');
        for (size_t k = 0; k + 1 < u16.len; k += 2) {
            bits = bits << 16 | (uint32_t)(u16.p[k + 1] << 8 | u16.p[k]);
            nbits += 16;
            while (nbits >= 6) {
                xc_put_u8(w, (uint8_t)b64[(bits >> (nbits - 6)) & 0x3F]);
                nbits -= 6;
            }
            bits &= (1u << nbits) - 1;
        }
        if (nbits > 0)
            xc_put_u8(w, (uint8_t)b64[(bits << (6 - nbits)) & 0x3F]);
        xc_put_u8(w, '-');
    }
    xc_wbuf_free(&u16);
    return rc < 0 || w->err ? -1 : 0;
}

/* ---- writing responses -------------------------------------------------- */

void xc_imap_put_string(xc_wbuf *w, const char *s, size_t len, int utf8)
{
    int quote = len <= 1024;
    char head[32];

    for (size_t i = 0; i < len && quote; i++) {
        uint8_t ch = (uint8_t)s[i];
        if (ch == 0 || ch == '\r' || ch == '\n' || (ch >= 0x80 && !utf8))
            quote = 0;
    }
    if (!quote) {
        int l = snprintf(head, sizeof(head), "{%zu}\r\n", len);
        xc_put_bytes(w, head, (size_t)l);
        xc_put_bytes(w, s, len);
        return;
    }
    xc_put_u8(w, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            xc_put_u8(w, '\\');
        xc_put_u8(w, (uint8_t)s[i]);
    }
    xc_put_u8(w, '"');
}

void xc_imap_put_nstring(xc_wbuf *w, const char *s, size_t len, int utf8)
{
    if (s == NULL)
        xc_put_bytes(w, "NIL", 3);
    else
        xc_imap_put_string(w, s, len, utf8);
}
