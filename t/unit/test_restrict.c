/*
 * test_restrict - the [MS-OXCDATA] 2.12 restriction decoder: every
 * restriction type, values in their ROP encodings, every prefix of valid
 * input refused, limits on depth and nodes, trailing bytes.
 */
#include "tap.h"
#include "xc_restrict.h"
#include "xc_wire.h"

#include <string.h>

static xc_rnode nodes[XC_RES_MAX_NODES];
static xc_rnode *kids[XC_RES_MAX_NODES];

static int parse(const uint8_t *b, size_t n, xc_rnode **root, const char **err)
{
    return xc_restrict_parse(b, n, nodes, kids, XC_RES_MAX_NODES, root, err);
}

/* tiny builder */
static uint8_t buf[65536];
static size_t len;
static void u8(unsigned v) { buf[len++] = (uint8_t)v; }
static void u16(unsigned v) { u8(v & 0xFF); u8(v >> 8); }
static void u32(uint32_t v) { u16(v & 0xFFFF); u16(v >> 16); }

/* (subject contains "hello", ignoring case) AND (size > 1000) AND NOT
   (flags & READ) AND EXISTS(delivery time) AND recipients(display name
   = "Bob") */
static void build_sample(void)
{
    len = 0;
    u8(XC_RES_AND); u16(5);
    u8(XC_RES_CONTENT); u16(XC_FL_SUBSTRING); u16(XC_FL_IGNORECASE);
    u32(0x0037001F); u32(0x0037001F);
    for (const char *s = "hello"; *s; s++) u16((unsigned char)*s);
    u16(0);
    u8(XC_RES_PROPERTY); u8(XC_RELOP_GT); u32(0x0E080003); u32(0x0E080003);
    u32(1000);
    u8(XC_RES_NOT); u8(XC_RES_BITMASK); u8(1); u32(0x0E070003); u32(1);
    u8(XC_RES_EXIST); u32(0x0E060040);
    u8(XC_RES_SUBRESTRICTION); u32(XC_PR_MESSAGE_RECIPIENTS);
    u8(XC_RES_PROPERTY); u8(XC_RELOP_EQ); u32(0x3001001E); u32(0x3001001E);
    for (const char *s = "Bob"; *s; s++) u8((unsigned char)*s);
    u8(0);
}

static void test_sample(void)
{
    xc_rnode *root;
    const char *err = NULL;

    test_begin("a tree of every common type decodes as written");
    build_sample();
    test_assert(parse(buf, len, &root, &err) == 0);
    test_assert(root->type == XC_RES_AND && root->nkids == 5);
    test_assert(root->kids[0]->type == XC_RES_CONTENT &&
                root->kids[0]->fuzzy_low == XC_FL_SUBSTRING &&
                root->kids[0]->fuzzy_high == XC_FL_IGNORECASE &&
                root->kids[0]->value.n == 10 &&
                memcmp(root->kids[0]->value.p, "h\0e\0l\0l\0o\0", 10) == 0);
    test_assert(root->kids[1]->type == XC_RES_PROPERTY &&
                root->kids[1]->relop == XC_RELOP_GT &&
                root->kids[1]->value.u == 1000);
    test_assert(root->kids[2]->type == XC_RES_NOT &&
                root->kids[2]->kids[0]->type == XC_RES_BITMASK &&
                root->kids[2]->kids[0]->mask == 1);
    test_assert(root->kids[3]->type == XC_RES_EXIST &&
                root->kids[3]->tag == 0x0E060040);
    test_assert(root->kids[4]->type == XC_RES_SUBRESTRICTION &&
                root->kids[4]->kids[0]->value.n == 3 &&
                memcmp(root->kids[4]->kids[0]->value.p, "Bob", 3) == 0);
    test_end();

    test_begin("every proper prefix of it is refused, never read past");
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t copy[512];
        memcpy(copy, buf, cut);     /* a fresh copy: ASan sees overreads */
        test_assert_idx(parse(copy, cut, &root, &err) < 0, (long)cut);
    }
    test_end();

    test_begin("trailing bytes are refused");
    buf[len++] = 0;
    test_assert(parse(buf, len, &root, &err) < 0 &&
                strstr(err, "trailing") != NULL);
    test_end();
}

static void test_others(void)
{
    xc_rnode *root;
    const char *err;

    test_begin("compare-props, size, comment, count, binary values");
    len = 0;
    u8(XC_RES_OR); u16(4);
    u8(XC_RES_COMPAREPROPS); u8(XC_RELOP_LE); u32(0x30070040); u32(0x30080040);
    u8(XC_RES_SIZE); u8(XC_RELOP_LT); u32(0x1000001F); u32(4096);
    u8(XC_RES_COMMENT); u8(1); u32(0x3001001E); u8('x'); u8(0); u8(1);
    u8(XC_RES_PROPERTY); u8(XC_RELOP_EQ); u32(0x00710102); u32(0x00710102);
    u16(3); u8(1); u8(2); u8(3);
    u8(XC_RES_COUNT); u32(10); u8(XC_RES_EXIST); u32(0x0037001F);
    test_assert(parse(buf, len, &root, &err) == 0);
    test_assert(root->nkids == 4 && root->kids[0]->tag2 == 0x30080040);
    test_assert(root->kids[1]->mask == 4096);
    test_assert(root->kids[2]->nkids == 1 &&
                root->kids[2]->kids[0]->value.n == 3);
    test_assert(root->kids[3]->mask == 10 && root->kids[3]->nkids == 1);
    test_end();

    test_begin("a comment without a restriction");
    len = 0;
    u8(XC_RES_COMMENT); u8(0); u8(0);
    test_assert(parse(buf, len, &root, &err) == 0 && root->nkids == 0);
    test_end();

    test_begin("bad input: each gets a message");
    {
        static const struct { uint8_t b[24]; size_t n; const char *want; } bad[] = {
            { { 0x0C }, 1, "unknown restriction type" },
            { { XC_RES_PROPERTY, 7, 0x03, 0, 0x37, 0, 0x03, 0, 0x37, 0, 1, 0, 0, 0 },
              14, "relational" },
            { { XC_RES_BITMASK, 2, 3, 0, 7, 0x0E, 1, 0, 0, 0 }, 10, "bitmask" },
            { { XC_RES_SUBRESTRICTION, 0x0D, 0, 0x14, 0x0E, XC_RES_EXIST, 0, 0, 0, 0 },
              10, "sub-object" },
            { { XC_RES_CONTENT, 1, 0, 0, 0, 0x03, 0, 0x37, 0, 0x03, 0, 0x37, 0, 1, 0, 0, 0 },
              17, "non-string" },
            { { XC_RES_CONTENT, 9, 0, 0, 0, 0x1F, 0, 0x37, 0, 0x1F, 0, 0x37, 0, 0, 0 },
              15, "fuzzy" },
            { { XC_RES_PROPERTY, 4, 0x0D, 0, 0x37, 0, 0x0D, 0, 0x37, 0 }, 10,
              "unsupported value type" },
            { { XC_RES_COMMENT, 0, 2 }, 3, "RestrictionPresent" },
            { { XC_RES_PROPERTY, 4, 0x1E, 0, 0x37, 0, 0x1E, 0, 0x37, 0, 'a', 'b' }, 12,
              "unterminated" },
        };
        for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
            err = NULL;
            test_assert_idx(parse(bad[i].b, bad[i].n, &root, &err) < 0 &&
                            err != NULL && strstr(err, bad[i].want) != NULL, i);
        }
    }
    test_end();
}

static void test_limits(void)
{
    xc_rnode *root;
    const char *err;

    test_begin("nesting deeper than XC_RES_MAX_DEPTH is refused");
    len = 0;
    for (int i = 0; i < XC_RES_MAX_DEPTH; i++)
        u8(XC_RES_NOT);
    u8(XC_RES_EXIST); u32(0x0037001F);
    test_assert(parse(buf, len, &root, &err) == 0);
    len = 0;
    for (int i = 0; i <= XC_RES_MAX_DEPTH; i++)
        u8(XC_RES_NOT);
    u8(XC_RES_EXIST); u32(0x0037001F);
    test_assert(parse(buf, len, &root, &err) < 0 && strstr(err, "deeply"));
    test_end();

    test_begin("more nodes than the caller's room are refused");
    len = 0;
    u8(XC_RES_AND); u16(5000);
    for (int i = 0; i < 5000; i++) {
        u8(XC_RES_EXIST); u32(0x0037001F);
    }
    test_assert(parse(buf, len, &root, &err) < 0 && strstr(err, "too many"));
    {
        xc_rnode small[4];
        xc_rnode *sk[4];
        len = 0;
        u8(XC_RES_AND); u16(3);
        for (int i = 0; i < 3; i++) {
            u8(XC_RES_EXIST); u32(0x0037001F);
        }
        test_assert(xc_restrict_parse(buf, len, small, sk, 4, &root, &err) == 0);
        test_assert(xc_restrict_parse(buf, len, small, sk, 3, &root, &err) < 0);
    }
    test_end();

    test_begin("an AND claiming more children than it has");
    len = 0;
    u8(XC_RES_AND); u16(65535); u8(XC_RES_EXIST); u32(0x0037001F);
    test_assert(parse(buf, len, &root, &err) < 0);
    test_end();
}

int main(void)
{
    test_sample();
    test_others();
    test_limits();
    return test_exit();
}
