/*
 * test_imap - IMAP command framing and tokens (lib/xc_imap): commands
 * scanned whole and byte by byte with the same ends, synchronizing
 * literals stopping for "+", LITERAL+ and literal8 going on, the limits;
 * the token tree of good commands and the error of bad ones; strings,
 * numbers, sequence sets, fetch attributes with sections and partials,
 * dates, modified UTF-7 both ways, and how strings are written back.
 */
#include "tap.h"
#include "xc_imap.h"

#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- scanning ------------------------------------------------------------ */

static const struct scan_case {
    const char *in;
    size_t len;         /* 0: strlen */
    int want;           /* first result fed whole */
    size_t end;         /* XC_IMAP_COMPLETE: the command's length */
    uint64_t announced; /* XC_IMAP_LITERAL */
} scan_cases[] = {
    { "a1 NOOP\r\n", 0, XC_IMAP_COMPLETE, 9, 0 },
    { "a1 NOOP\n", 0, XC_IMAP_COMPLETE, 8, 0 },
    { "a1 NOOP\r\na2 NOOP\r\n", 0, XC_IMAP_COMPLETE, 9, 0 },
    { "a1 NOOP", 0, XC_IMAP_MORE, 0, 0 },
    { "a1 LOGIN {5}\r\n", 0, XC_IMAP_LITERAL, 0, 5 },
    { "a1 LOGIN {0}\r\n", 0, XC_IMAP_LITERAL, 0, 0 },
    { "a1 LOGIN {5+}\r\nalice {3+}\r\npwd\r\n", 0, XC_IMAP_COMPLETE, 32, 0 },
    { "a1 APPEND x ~{4+}\r\n\r\n\r\n\r\n", 0, XC_IMAP_COMPLETE, 25, 0 },
    { "a1 X {5+}\r\na\nb\rc\r\n", 0, XC_IMAP_COMPLETE, 18, 0 },
    { "a1 X {5+}\r\nab", 0, XC_IMAP_MORE, 0, 0 },
    { "a1 SELECT \"{5}\"\r\n", 0, XC_IMAP_COMPLETE, 17, 0 },
    { "a1 X {}\r\n", 0, XC_IMAP_COMPLETE, 9, 0 },         /* not a literal */
    { "a1 X {+}\r\n", 0, XC_IMAP_COMPLETE, 10, 0 },
    { "a1 X {99999999999999999999}\r\n", 0, -1, 0, 0 },
    { "a1 X {2000+}\r\n", 0, -1, 0, 0 },                   /* over 1000 */
    { "a1 X {2000}\r\n", 0, XC_IMAP_LITERAL, 0, 2000 },    /* caller decides */
    { "a1 NO\0OP\r\n", 10, -1, 0, 0 },
};

static int scan_all(const char *in, size_t n, size_t piece, int *lits,
                    xc_imap_scanner *s)
{
    const char *err = NULL;
    size_t have = 0;
    int r = XC_IMAP_MORE;

    xc_imap_scan_init(s);
    *lits = 0;
    while (have < n || r == XC_IMAP_LITERAL) {
        have = have + piece < n ? have + piece : n;
        r = xc_imap_scan(s, (const uint8_t *)in, have, 40, 1000, &err);
        if (r == XC_IMAP_LITERAL) {
            (*lits)++;
            continue;
        }
        if (r != XC_IMAP_MORE)
            return r;
        if (have == n)
            break;
    }
    return r;
}

static void test_scan(void)
{
    xc_imap_scanner s;
    const char *err;

    test_begin("commands are framed: ends, literals, limits");
    for (size_t i = 0; i < N(scan_cases); i++) {
        const struct scan_case *c = &scan_cases[i];
        size_t n = c->len ? c->len : strlen(c->in);
        int r;
        err = NULL;
        xc_imap_scan_init(&s);
        r = xc_imap_scan(&s, (const uint8_t *)c->in, n, 40, 1000, &err);
        test_assert_idx(r == c->want, i);
        if (r == XC_IMAP_COMPLETE)
            test_assert_idx(s.end == c->end, i);
        if (r == XC_IMAP_LITERAL)
            test_assert_idx(s.announced == c->announced, i);
        if (r < 0)
            test_assert_idx(err != NULL, i);
    }
    test_end();

    test_begin("byte by byte and in pieces: the same end, one stop per "
               "synchronizing literal");
    {
        static const char cmd[] = "t APPEND INBOX (\\Seen) {11}\r\nHello\r\nBye"
                                  " {3+}\r\nabc ~{2}\r\nxy\r\n";
        for (size_t piece = 1; piece <= sizeof(cmd); piece++) {
            int lits, r = scan_all(cmd, sizeof(cmd) - 1, piece, &lits, &s);
            test_assert_idx(r == XC_IMAP_COMPLETE, piece);
            test_assert_idx(s.end == sizeof(cmd) - 1, piece);
            test_assert_idx(lits == 2, piece);
        }
    }
    test_end();

    test_begin("a line over the limit is refused; literals don't count");
    {
        char big[200];
        memset(big, 'a', sizeof(big));
        memcpy(big, "a1 X ", 5);
        xc_imap_scan_init(&s);
        test_assert(xc_imap_scan(&s, (const uint8_t *)big, 41, 40, 1000,
                                 &err) == -1);
        xc_imap_scan_init(&s);
        test_assert(xc_imap_scan(&s, (const uint8_t *)big, 40, 40, 1000,
                                 &err) == XC_IMAP_MORE);
        /* a 100-octet literal inside a short line */
        memcpy(big, "a1 X {100+}\r\n", 13);
        memcpy(big + 113, "\r\n", 2);
        xc_imap_scan_init(&s);
        test_assert(xc_imap_scan(&s, (const uint8_t *)big, 115, 40, 1000,
                                 &err) == XC_IMAP_COMPLETE && s.end == 115);
    }
    test_end();
}

/* ---- parsing ------------------------------------------------------------- */

/* The tree as text: A(atom) Q(quoted) L(literal) ( ) for lists. */
static void show(const xc_imap_node *nd, size_t from, size_t to, char *out,
                 size_t cap)
{
    size_t k = strlen(out);

    for (size_t i = from; i < to && k + 8 < cap; i = nd[i].end) {
        if (k > 0 && out[k - 1] != '(')
            out[k++] = ' ';
        if (nd[i].type == XC_IMAP_LIST) {
            out[k++] = '(';
            out[k] = '\0';
            show(nd, i + 1, nd[i].end, out, cap);
            k = strlen(out);
            out[k++] = ')';
            out[k] = '\0';
            continue;
        }
        out[k++] = nd[i].type == XC_IMAP_ATOM ? 'A'
                   : nd[i].type == XC_IMAP_QUOTED ? 'Q' : 'L';
        out[k++] = ':';
        for (size_t j = 0; j < nd[i].len && k + 4 < cap; j++)
            out[k++] = (char)nd[i].p[j];
        out[k] = '\0';
    }
}

static const struct parse_case {
    const char *in;
    int ret;
    const char *name;
    const char *tree;
} parse_cases[] = {
    { "a1 NOOP\r\n", 0, "NOOP", "" },
    { "a1 noop\n", 0, "NOOP", "" },
    { "A003 LOGIN alice \"p w\\\"d\"\r\n", 0, "LOGIN", "A:alice Q:p w\\\"d" },
    { "x uid fetch 1:* (FLAGS UID)\r\n", 0, "UID FETCH",
      "A:1:* (A:FLAGS A:UID)" },
    { "x FETCH 1 (BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> "
      "BODY[1.2.MIME])\r\n", 0, "FETCH",
      "A:1 (A:BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> A:BODY[1.2.MIME])" },
    { "x LOGIN {5+}\r\nalice {3+}\r\npwd\r\n", 0, "LOGIN", "L:alice L:pwd" },
    { "x APPEND INBOX (\\Seen $Junk) \"1-Jan-2020 00:00:00 +0000\" "
      "~{3}\r\na\0b\r\n", 0, "APPEND",
      "A:INBOX (A:\\Seen A:$Junk) Q:1-Jan-2020 00:00:00 +0000 L:a" },
    { "x LIST \"\" %\r\n", 0, "LIST", "Q: A:%" },
    { "x SEARCH (OR (SEEN) (FLAGGED)) ()\r\n", 0, "SEARCH",
      "(A:OR (A:SEEN) (A:FLAGGED)) ()" },
    { "x STORE 1 +FLAGS.SILENT (\\Deleted)\r\n", 0, "STORE",
      "A:1 A:+FLAGS.SILENT (A:\\Deleted)" },
    { "x ID NIL\r\n", 0, "ID", "A:NIL" },
    { "x SELECT b]c\r\n", 0, "SELECT", "A:b]c" },
    { "x SELECT \"caf\xc3\xa9\"\r\n", 0, "SELECT", "Q:caf\xc3\xa9" },
    /* refused */
    { "NOOP\r\n", -1, NULL, NULL },
    { "\r\n", -1, NULL, NULL },
    { "a+b NOOP\r\n", -1, NULL, NULL },
    { "a1 \r\n", -1, NULL, NULL },
    { "a1 UID\r\n", -1, NULL, NULL },
    { "a1 X (a\r\n", -1, NULL, NULL },
    { "a1 X a)\r\n", -1, NULL, NULL },
    { "a1 X \"abc\r\n", -1, NULL, NULL },
    { "a1 X \"a\\bc\"\r\n", -1, NULL, NULL },
    { "a1 X \"a\"b\r\n", -1, NULL, NULL },
    { "a1 X BODY[HEADER\r\n", -1, NULL, NULL },
    { "a1 X {5+}\r\nab\r\n", -1, NULL, NULL },
    { "a1 X {2+} \r\nab\r\n", -1, NULL, NULL },
    { "a1 X caf\xc3\xa9\r\n", -1, NULL, NULL },
    { "a1 X a\r\nb\r\n", -1, NULL, NULL },
    { "a1 X ((((((((((((((((((a))))))))))))))))))\r\n", -1, NULL, NULL },
    { "a1 X a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n", -1,
      NULL, NULL },    /* more than 20 tokens */
};

static void test_parse(void)
{
    xc_imap_node nodes[20];
    xc_imap_cmd cmd;
    const char *err;

    test_begin("commands become token trees; bad ones are refused");
    for (size_t i = 0; i < N(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        size_t n = strlen(c->in);
        char tree[512] = "";
        int r;
        if (strstr(c->in, "~{3}"))
            n += 4;     /* the literal holds a NUL */
        err = NULL;
        r = xc_imap_parse((const uint8_t *)c->in, n, nodes, N(nodes), &cmd,
                          &err);
        test_assert_idx(r == c->ret, i);
        if (r < 0) {
            test_assert_idx(err != NULL, i);
            continue;
        }
        test_assert_idx(strcmp(cmd.name, c->name) == 0, i);
        show(cmd.args, 0, cmd.nargs_nodes, tree, sizeof(tree));
        if (strstr(c->in, "~{3}"))
            test_assert_idx(strncmp(tree, c->tree, strlen(c->tree)) == 0 &&
                            cmd.args[cmd.nargs_nodes - 1].len == 3 &&
                            cmd.args[cmd.nargs_nodes - 1].binary, i);
        else
            test_assert_idx(strcmp(tree, c->tree) == 0, i);
    }
    test_end();

    test_begin("a tag is kept for the BAD answer of a bad command");
    {
        const char in[] = "abc X (\r\n";
        test_assert(xc_imap_parse((const uint8_t *)in, sizeof(in) - 1, nodes,
                                  N(nodes), &cmd, &err) == -1);
        test_assert(cmd.tag_len == 3 && memcmp(cmd.tag, "abc", 3) == 0);
    }
    test_end();
}

/* ---- strings, numbers, sequence sets ------------------------------------- */

static void test_values(void)
{
    xc_imap_node nodes[16];
    xc_imap_cmd cmd;
    const char *err;
    char out[16];
    uint32_t v;
    uint64_t v64;
    static const char in[] = "t X abc NIL \"a\\\"b\\\\c\" {3+}\r\nxyz "
                             "BODY[1] 4294967295 4294967296 0 "
                             "9223372036854775807\r\n";

    test_begin("strings, NIL and numbers");
    test_assert(xc_imap_parse((const uint8_t *)in, sizeof(in) - 1, nodes,
                              N(nodes), &cmd, &err) == 0);
    test_assert(cmd.nargs_nodes == 9);
    test_assert(xc_imap_string(&nodes[0], out, sizeof(out)) == 0 &&
                strcmp(out, "abc") == 0);
    test_assert(xc_imap_string(&nodes[1], out, sizeof(out)) == 1 &&
                strcmp(out, "NIL") == 0);
    test_assert(xc_imap_string(&nodes[2], out, sizeof(out)) == 0 &&
                strcmp(out, "a\"b\\c") == 0);
    test_assert(xc_imap_string(&nodes[3], out, sizeof(out)) == 0 &&
                strcmp(out, "xyz") == 0);
    test_assert(xc_imap_string(&nodes[3], out, 3) == -1);
    test_assert(xc_imap_string(&nodes[4], out, sizeof(out)) == 0);
    test_assert(xc_imap_number(&nodes[5], 1, &v) == 0 && v == UINT32_MAX);
    test_assert(xc_imap_number(&nodes[6], 1, &v) == -1);
    test_assert(xc_imap_number(&nodes[7], 0, &v) == 0 && v == 0);
    test_assert(xc_imap_number(&nodes[7], 1, &v) == -1);
    test_assert(xc_imap_number(&nodes[0], 0, &v) == -1);
    test_assert(xc_imap_number64(&nodes[8], 0, &v64) == 0 &&
                v64 == 9223372036854775807ULL);
    test_assert(xc_imap_number64(&nodes[7], 0, &v64) == -1);
    test_assert(xc_imap_number64(&nodes[7], 1, &v64) == 0 && v64 == 0);
    test_assert(xc_imap_is(&nodes[1], "nil") && !xc_imap_is(&nodes[2], "nil"));
    test_end();

    test_begin("sequence sets");
    {
        static const struct { const char *s; int n; uint32_t lo0, hi0; } c[] = {
            { "1", 1, 1, 1 }, { "1:5", 1, 1, 5 }, { "5:1", 1, 1, 5 },
            { "*", 1, UINT32_MAX, UINT32_MAX }, { "3:*", 1, 3, UINT32_MAX },
            { "1,3:4,7:*", 3, 1, 1 }, { "4294967295", 1, UINT32_MAX, UINT32_MAX },
            { "", -1, 0, 0 }, { "0", -1, 0, 0 }, { "1:0", -1, 0, 0 },
            { "1:", -1, 0, 0 }, { ",1", -1, 0, 0 }, { "1,", -1, 0, 0 },
            { "1,,2", -1, 0, 0 }, { "a", -1, 0, 0 }, { "4294967296", -1, 0, 0 },
            { "1,2,3,4,5", -1, 0, 0 },      /* more than 4 ranges */
            { "1 2", -1, 0, 0 },
        };
        for (size_t i = 0; i < N(c); i++) {
            xc_imap_range r[4];
            int n = xc_imap_seqset((const uint8_t *)c[i].s, strlen(c[i].s), r,
                                   4);
            test_assert_idx(n == c[i].n, i);
            if (n > 0)
                test_assert_idx(r[0].lo == c[i].lo0 && r[0].hi == c[i].hi0, i);
        }
    }
    test_end();
}

/* ---- fetch attributes --------------------------------------------------- */

static void test_fetch_att(void)
{
    static const struct {
        const char *s;
        int ret;
        const char *name;
        int nparts, spec, nfields, partial;
        uint32_t offset, length;
    } c[] = {
        { "FLAGS", 0, "FLAGS", 0, 0, 0, 0, 0, 0 },
        { "body", 0, "BODY", 0, 0, 0, 0, 0, 0 },
        { "BODY[]", 0, "BODY", 0, XC_IMAP_SPEC_ALL, 0, 0, 0, 0 },
        { "body.peek[header]", 0, "BODY.PEEK", 0, XC_IMAP_SPEC_HEADER, 0, 0,
          0, 0 },
        { "BODY[HEADER.FIELDS (From \"To\" X-A)]", 0, "BODY", 0,
          XC_IMAP_SPEC_FIELDS, 3, 0, 0, 0 },
        { "BODY[HEADER.FIELDS.NOT (Received)]", 0, "BODY", 0,
          XC_IMAP_SPEC_FIELDS_NOT, 1, 0, 0, 0 },
        { "BODY[1.2.3]", 0, "BODY", 3, XC_IMAP_SPEC_ALL, 0, 0, 0, 0 },
        { "BODY[2.MIME]", 0, "BODY", 1, XC_IMAP_SPEC_MIME, 0, 0, 0, 0 },
        { "BODY[2.1.TEXT]<10.20>", 0, "BODY", 2, XC_IMAP_SPEC_TEXT, 0, 1, 10,
          20 },
        { "BODY[]<0.4294967295>", 0, "BODY", 0, 0, 0, 1, 0, UINT32_MAX },
        { "BINARY[1]", 0, "BINARY", 1, 0, 0, 0, 0, 0 },
        { "BINARY.PEEK[]<5.5>", 0, "BINARY.PEEK", 0, 0, 0, 1, 5, 5 },
        { "BINARY.SIZE[1.2]", 0, "BINARY.SIZE", 2, 0, 0, 0, 0, 0 },
        { "BODY[MIME]", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[0]", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[1.]", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[1.FOO]", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[HEADER.FIELDS]", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[HEADER.FIELDS ()]", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[HEADER.FIELDS (a:b)]", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[]<0.0>", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[]<1>", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[]<1.2>x", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[]<4294967296.1>", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BINARY[HEADER]", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BINARY.SIZE[1]<0.10>", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "FLAGS[]", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "RFC822<0.1>", -1, NULL, 0, 0, 0, 0, 0, 0 },
        { "BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23."
          "24.25.26.27.28.29.30.31.32.33]", -1, NULL, 0, 0, 0, 0, 0, 0 },
    };

    test_begin("fetch attributes: sections and partials");
    for (size_t i = 0; i < N(c); i++) {
        xc_imap_node nd = { XC_IMAP_ATOM, (const uint8_t *)c[i].s,
                            strlen(c[i].s), 0, 1, 0 };
        xc_imap_att a;
        int r = xc_imap_fetch_att(&nd, &a);
        test_assert_idx(r == c[i].ret, i);
        if (r < 0)
            continue;
        test_assert_idx(strcmp(a.name, c[i].name) == 0, i);
        test_assert_idx(a.nparts == c[i].nparts && (int)a.spec == c[i].spec &&
                        a.nfields == c[i].nfields &&
                        a.has_partial == c[i].partial, i);
        if (a.has_partial)
            test_assert_idx(a.offset == c[i].offset &&
                            a.length == c[i].length, i);
    }
    {
        static const char f[] = "BODY[1.HEADER.FIELDS (From \"To\")]";
        xc_imap_node nd = { XC_IMAP_ATOM, (const uint8_t *)f, sizeof(f) - 1,
                            0, 1, 0 };
        xc_imap_att a;
        test_assert(xc_imap_fetch_att(&nd, &a) == 0 && a.nfields == 2 &&
                    a.field_len[0] == 4 && memcmp(a.field[0], "From", 4) == 0 &&
                    a.field_len[1] == 2 && memcmp(a.field[1], "To", 2) == 0 &&
                    a.part[0] == 1);
    }
    test_end();
}

/* ---- dates and mailbox names ------------------------------------------- */

static void test_dates(void)
{
    static const struct { const char *s; int ret; long long t; } d[] = {
        { "1-Feb-1994", 0, 760060800 }, { "01-feb-1994", 0, 760060800 },
        { "29-Feb-2000", 0, 951782400 }, { "31-Dec-1969", 0, -86400 },
        { "29-Feb-1900", -1, 0 }, { "31-Apr-2020", -1, 0 },
        { "0-Jan-2020", -1, 0 }, { "1-Jam-2020", -1, 0 },
        { "1-Jan-20", -1, 0 }, { "1-Jan-2020 ", -1, 0 }, { "", -1, 0 },
        { "123-Jan-2020", -1, 0 },
    };
    static const struct { const char *s; int ret; long long t; } dt[] = {
        { "17-Jul-1996 02:44:25 -0700", 0, 837596665 },
        { " 1-Feb-1994 00:00:00 +0000", 0, 760060800 },
        { "01-Feb-1994 01:00:00 +0100", 0, 760060800 },
        { "1-Feb-1994 00:00:00 +0000", -1, 0 },
        { "01-Feb-1994 24:00:00 +0000", -1, 0 },
        { "01-Feb-1994 00:00:00 0000", -1, 0 },
        { "01-Feb-1994 00:00:00 +0060", -1, 0 },
        { "01-Feb-1994 00:00 +0000", -1, 0 },
    };
    char out[27];
    time_t t;

    test_begin("SEARCH dates and APPEND date-times");
    for (size_t i = 0; i < N(d); i++) {
        int r = xc_imap_date(d[i].s, &t);
        test_assert_idx(r == d[i].ret, i);
        if (r == 0)
            test_assert_idx((long long)t == d[i].t, i);
    }
    for (size_t i = 0; i < N(dt); i++) {
        int r = xc_imap_datetime(dt[i].s, &t);
        test_assert_idx(r == dt[i].ret, i);
        if (r == 0)
            test_assert_idx((long long)t == dt[i].t, i);
    }
    xc_imap_format_datetime(837596665, out);
    test_assert(strcmp(out, "17-Jul-1996 09:44:25 +0000") == 0);
    xc_imap_format_datetime(951782400 + 86399, out);
    test_assert(strcmp(out, "29-Feb-2000 23:59:59 +0000") == 0);
    for (long long x = -86400LL * 400; x < 4102444800LL;
         x += 86400LL * 97 + 3607) {
        xc_imap_format_datetime((time_t)x, out);
        test_assert_idx(xc_imap_datetime(out, &t) == 0 && (long long)t == x,
                        x);
    }
    test_end();
}

static void test_mutf7(void)
{
    static const struct { const char *utf7, *utf8; } ok[] = {
        { "INBOX", "INBOX" },
        { "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
          "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
        { "&Jjo-!", "\xe2\x98\xba!" },
        { "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
        { "&-", "&" },
        { "A&-B", "A&B" },
        { "&2DTdHg- clef", "\xf0\x9d\x84\x9e clef" },
    };
    static const char *const bad[] = {
        "&Jjo", "&AGE-", "&Jjo!-", "&-&", "caf\xc3\xa9", "&2DQ-", "&3R4-",
        "&AAA-", "a\tb", "&Jjp-", "&AGEA6Q-",
    };
    xc_wbuf w;

    test_begin("modified UTF-7 mailbox names both ways");
    for (size_t i = 0; i < N(ok); i++) {
        xc_wbuf_init(&w, 0);
        test_assert_idx(xc_imap_mutf7_decode(&w, ok[i].utf7,
                                             strlen(ok[i].utf7)) == 0 &&
                        w.len == strlen(ok[i].utf8) &&
                        memcmp(w.p, ok[i].utf8, w.len) == 0, i);
        xc_wbuf_free(&w);
        xc_wbuf_init(&w, 0);
        test_assert_idx(xc_imap_mutf7_encode(&w, ok[i].utf8,
                                             strlen(ok[i].utf8)) == 0 &&
                        w.len == strlen(ok[i].utf7) &&
                        memcmp(w.p, ok[i].utf7, w.len) == 0, i);
        xc_wbuf_free(&w);
    }
    for (size_t i = 0; i < N(bad); i++) {
        xc_wbuf_init(&w, 0);
        test_assert_idx(xc_imap_mutf7_decode(&w, bad[i], strlen(bad[i])) == -1,
                        i);
        xc_wbuf_free(&w);
    }
    xc_wbuf_init(&w, 0);
    test_assert(xc_imap_mutf7_encode(&w, "\xc3", 1) == -1);
    test_assert(xc_imap_mutf7_encode(&w, "\xed\xa0\x80", 3) == -1);
    xc_wbuf_free(&w);
    test_end();
}

static void test_put(void)
{
    xc_wbuf w;

    test_begin("strings are written quoted, or as literals when they must");
    xc_wbuf_init(&w, 0);
    xc_imap_put_string(&w, "a\"b\\c", 5, 0);
    xc_put_u8(&w, ' ');
    xc_imap_put_string(&w, "x\r\ny", 4, 0);
    xc_put_u8(&w, ' ');
    xc_imap_put_nstring(&w, NULL, 0, 0);
    xc_put_u8(&w, ' ');
    xc_imap_put_string(&w, "caf\xc3\xa9", 5, 1);
    xc_put_u8(&w, ' ');
    xc_imap_put_string(&w, "caf\xc3\xa9", 5, 0);
    xc_put_u8(&w, '\0');
    test_assert(strcmp((const char *)w.p, "\"a\\\"b\\\\c\" {4}\r\nx\r\ny NIL "
                       "\"caf\xc3\xa9\" {5}\r\ncaf\xc3\xa9") == 0);
    xc_wbuf_free(&w);
    test_end();
}

int main(void)
{
    test_scan();
    test_parse();
    test_values();
    test_fetch_att();
    test_dates();
    test_mutf7();
    test_put();
    return test_exit();
}
