/*
 * NAME
 *   xc_rtf - compressed RTF ([MS-OXRTFCP]), HTML de-encapsulation
 *   ([MS-OXRTFEX] 2.2.3) and plain text of an RTF body
 *
 * DESCRIPTION
 *   The compression is LZ77 over a 4096-byte circular dictionary preloaded
 *   with a fixed RTF prefix ([MS-OXRTFCP] 2.1.2.1 / 2.1.3.1.1): a control
 *   byte announces eight tokens, LSB first, each a literal byte or a
 *   big-endian 16-bit reference (12-bit dictionary offset, 4-bit length - 2).
 *   A reference whose offset equals the dictionary's write position ends
 *   the data. The CRC of [MS-OXRTFCP] 2.1.3.2 covers the compressed bytes.
 *
 *   The RTF readers are one tokenizer over (ptr, len) with a group stack of
 *   bounded depth; the HTML mode follows [MS-OXRTFEX] 2.2.3.2, the text
 *   mode renders what an RTF reader would show.
 *
 * SECURITY
 *   Every read is bounds-checked; output never exceeds the caller's limits
 *   (max_out, the wbuf's max); nesting is bounded by XC_RTF_MAX_DEPTH.
 */
#include "xc_rtf.h"
#include "xc_text.h"
#include "xc_wire.h"

#include <stdlib.h>
#include <string.h>

/* ---- [MS-OXRTFCP] ------------------------------------------------------ */

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define DICT_SIZE 4096
#define DICT_MASK (DICT_SIZE - 1)
#define MAX_MATCH 17                /* 4-bit length + 2 */

/* [MS-OXRTFCP] 2.1.2.1 (Dictionary): the initial dictionary contents */
static const char init_dict[] =
    "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman "
    "\\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes "
    "New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par "
    "\\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";
#define INIT_LEN (sizeof(init_dict) - 1)    /* 207 */

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1;
}

/* [MS-OXRTFCP] 2.1.3.2: the usual CRC-32 table, but the register starts
   at 0 and is not inverted at the end. */
uint32_t xc_rtf_crc(uint32_t crc, const uint8_t *p, size_t n)
{
    if (!crc_ready)
        crc_init();
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc;
}

static int fail(const char **error_r, const char *msg)
{
    if (error_r)
        *error_r = msg;
    return -1;
}

/*
 * [MS-OXRTFCP] 2.2.2 / 2.3.1 (decompression). RAWSIZE: the output is cut
 * to RAWSIZE bytes (readers of this format stop there; writers may pad the
 * last run), and output shorter than RAWSIZE is returned as decoded: the
 * CRC already vouched for the compressed bytes.
 */
int xc_rtf_decompress(const uint8_t *in, size_t n, size_t max_out,
                      xc_wbuf *out, const char **error_r)
{
    uint32_t compsize, rawsize, type, crc;
    const uint8_t *c;
    size_t clen, pos = 0, produced = 0, limit;
    uint8_t dict[DICT_SIZE];
    unsigned wpos;

    if (n < XC_RTF_HDR_LEN)
        return fail(error_r, "compressed RTF: truncated header");
    compsize = xc_le32(in);
    rawsize = xc_le32(in + 4);
    type = xc_le32(in + 8);
    crc = xc_le32(in + 12);
    if (compsize < 12)
        return fail(error_r, "compressed RTF: COMPSIZE smaller than the header");
    if ((size_t)compsize - 12 > n - XC_RTF_HDR_LEN)
        return fail(error_r, "compressed RTF: truncated data (COMPSIZE "
                             "beyond the value)");
    c = in + XC_RTF_HDR_LEN;
    clen = (size_t)compsize - 12;
    limit = rawsize;

    if (type == XC_RTF_MELA) {
        /* [MS-OXRTFCP] 2.1.3.1.1: RAWDATA, CRC zero (not checked) */
        if (rawsize > clen)
            return fail(error_r, "uncompressed RTF: RAWSIZE beyond the data");
        if (rawsize > max_out)
            return fail(error_r, "RTF larger than the limit");
        if (rawsize > 0)
            xc_put_bytes(out, c, rawsize);
        return out->err ? fail(error_r, "RTF output overflow") : 0;
    }
    if (type != XC_RTF_LZFU)
        return fail(error_r, "compressed RTF: unknown COMPTYPE");
    if (xc_rtf_crc(0, c, clen) != crc)
        return fail(error_r, "compressed RTF: CRC mismatch");

    memcpy(dict, init_dict, INIT_LEN);
    memset(dict + INIT_LEN, 0, DICT_SIZE - INIT_LEN);
    wpos = INIT_LEN;
    while (pos < clen && produced < limit) {
        uint8_t ctrl = c[pos++];

        for (int bit = 0; bit < 8 && produced < limit; bit++) {
            if (pos >= clen)
                break;      /* no end marker: the data just stops */
            if (ctrl & (1u << bit)) {
                unsigned v, off, len;

                if (clen - pos < 2)
                    return fail(error_r, "compressed RTF: truncated reference");
                v = (unsigned)c[pos] << 8 | c[pos + 1];
                pos += 2;
                off = v >> 4;
                len = (v & 0xF) + 2;
                if (off == wpos)
                    goto done;
                for (unsigned k = 0; k < len && produced < limit; k++) {
                    uint8_t b = dict[(off + k) & DICT_MASK];
                    if (produced >= max_out)
                        return fail(error_r, "RTF larger than the limit");
                    xc_put_u8(out, b);
                    produced++;
                    dict[wpos] = b;
                    wpos = (wpos + 1) & DICT_MASK;
                }
            } else {
                uint8_t b = c[pos++];
                if (produced >= max_out)
                    return fail(error_r, "RTF larger than the limit");
                xc_put_u8(out, b);
                produced++;
                dict[wpos] = b;
                wpos = (wpos + 1) & DICT_MASK;
            }
        }
    }
done:
    return out->err ? fail(error_r, "RTF output overflow") : 0;
}

/*
 * The compressor of [MS-OXRTFCP] 2.3.3: at each input position, the
 * longest match (2..17 bytes) anywhere in the dictionary, earliest offset
 * on a tie, matches may run past the write position (the bytes they copy
 * are written as they go, as the reader does). Candidates are found
 * through lists of dictionary positions per 2-byte prefix, kept exact as
 * the dictionary is overwritten, so the result is the same as scanning
 * every offset.
 */
typedef struct lz {
    uint8_t dict[DICT_SIZE];
    unsigned wpos;
    unsigned fill;                  /* valid bytes (DICT_SIZE when full) */
    int16_t head[65536];
    int16_t next[DICT_SIZE], prev[DICT_SIZE];
    int32_t key[DICT_SIZE];         /* list a position is in, or -1 */
} lz;

static void lz_unlink(lz *z, unsigned p)
{
    int32_t k = z->key[p];

    if (k < 0)
        return;
    if (z->prev[p] >= 0)
        z->next[z->prev[p]] = z->next[p];
    else
        z->head[k] = z->next[p];
    if (z->next[p] >= 0)
        z->prev[z->next[p]] = z->prev[p];
    z->key[p] = -1;
}

static void lz_link(lz *z, unsigned p)
{
    int32_t k = (int32_t)(z->dict[p] << 8 | z->dict[(p + 1) & DICT_MASK]);

    lz_unlink(z, p);
    z->key[p] = k;
    z->prev[p] = -1;
    z->next[p] = z->head[k];
    if (z->head[k] >= 0)
        z->prev[z->head[k]] = (int16_t)p;
    z->head[k] = (int16_t)p;
}

/* Write one byte at the write position. A position is listed only while
   both bytes of its prefix are settled: not the one before wpos. */
static void lz_put(lz *z, uint8_t b)
{
    unsigned w = z->wpos;

    lz_unlink(z, w);
    z->dict[w] = b;
    lz_link(z, (w - 1) & DICT_MASK);
    z->wpos = (w + 1) & DICT_MASK;
    if (z->fill < DICT_SIZE)
        z->fill++;
}

/* How many bytes of in[0..max) the reader would copy from offset p. */
static unsigned lz_len(const lz *z, unsigned p, const uint8_t *in,
                       unsigned max)
{
    unsigned j;

    for (j = 0; j < max; j++) {
        unsigned q = (p + j) & DICT_MASK;
        unsigned d = (q - z->wpos) & DICT_MASK;
        uint8_t v;

        if (d < j)
            v = in[d];              /* written earlier by this reference */
        else if (z->fill < DICT_SIZE && q >= z->fill)
            break;                  /* never written */
        else
            v = z->dict[q];
        if (v != in[j])
            break;
    }
    return j;
}

int xc_rtf_compress(const uint8_t *in, size_t n, xc_wbuf *out)
{
    lz *z;
    size_t start = out->len, ctrl_at, i = 0;
    unsigned bit = 0;
    uint8_t ctrl = 0;

    if (n > UINT32_MAX - 64)
        return -1;
    z = malloc(sizeof(*z));
    if (z == NULL)
        return -1;
    memset(z->head, 0xFF, sizeof(z->head));
    memset(z->key, 0xFF, sizeof(z->key));
    memcpy(z->dict, init_dict, INIT_LEN);
    memset(z->dict + INIT_LEN, 0, DICT_SIZE - INIT_LEN);
    z->wpos = INIT_LEN;
    z->fill = INIT_LEN;
    for (unsigned p = 0; p + 1 < INIT_LEN; p++)
        lz_link(z, p);

    xc_wbuf_extend(out, XC_RTF_HDR_LEN);    /* header, filled in below */
    ctrl_at = out->len;
    xc_put_u8(out, 0);
    for (;;) {
        unsigned best = 0, best_off = 0;
        int end = i >= n;

        if (bit == 8) {
            if (!out->err)
                out->p[ctrl_at] = ctrl;
            ctrl = 0;
            bit = 0;
            ctrl_at = out->len;
            xc_put_u8(out, 0);
        }
        if (end) {
            /* the end marker: a reference to the write position */
            unsigned v = z->wpos << 4;
            ctrl |= (uint8_t)(1u << bit);
            xc_put_u8(out, (uint8_t)(v >> 8));
            xc_put_u8(out, (uint8_t)v);
            break;
        }
        if (n - i >= 2) {
            unsigned max = n - i < MAX_MATCH ? (unsigned)(n - i) : MAX_MATCH;
            unsigned before = (z->wpos - 1) & DICT_MASK;
            int32_t k = (int32_t)(in[i] << 8 | in[i + 1]);

            for (int16_t p = z->head[k]; p >= 0; p = z->next[p]) {
                unsigned l;
                if ((unsigned)p == z->wpos)
                    continue;       /* that offset means "end" */
                l = lz_len(z, (unsigned)p, in + i, max);
                if (l > best || (l == best && (unsigned)p < best_off)) {
                    best = l;
                    best_off = (unsigned)p;
                }
            }
            /* the position before wpos is not listed: its second byte
               is the first one this token writes */
            if (before < z->fill || z->fill == DICT_SIZE) {
                unsigned l = lz_len(z, before, in + i, max);
                if (l > best || (l == best && l > 0 && before < best_off)) {
                    best = l;
                    best_off = before;
                }
            }
        }
        if (best >= 2) {
            unsigned v = best_off << 4 | (best - 2);
            ctrl |= (uint8_t)(1u << bit);
            xc_put_u8(out, (uint8_t)(v >> 8));
            xc_put_u8(out, (uint8_t)v);
            for (unsigned k = 0; k < best; k++)
                lz_put(z, in[i + k]);
            i += best;
        } else {
            xc_put_u8(out, in[i]);
            lz_put(z, in[i]);
            i++;
        }
        bit++;
    }
    free(z);
    if (out->err)
        return -1;
    out->p[ctrl_at] = ctrl;
    {
        /* [MS-OXRTFCP] 2.3.3.2.2 (Filling in the Header) */
        size_t clen = out->len - start - XC_RTF_HDR_LEN;
        uint32_t crc = xc_rtf_crc(0, out->p + start + XC_RTF_HDR_LEN, clen);
        if (clen > UINT32_MAX - 12)
            return -1;
        xc_patch_u32(out, start, (uint32_t)clen + 12);
        xc_patch_u32(out, start + 4, (uint32_t)n);
        xc_patch_u32(out, start + 8, XC_RTF_LZFU);
        xc_patch_u32(out, start + 12, crc);
    }
    return 0;
}

/* ---- code pages -------------------------------------------------------- */

static const uint16_t cp1252_80[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static const uint16_t cp1251_80[64] = {
    0x0402, 0x0403, 0x201A, 0x0453, 0x201E, 0x2026, 0x2020, 0x2021,
    0x20AC, 0x2030, 0x0409, 0x2039, 0x040A, 0x040C, 0x040B, 0x040F,
    0x0452, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x0098, 0x2122, 0x0459, 0x203A, 0x045A, 0x045C, 0x045B, 0x045F,
    0x00A0, 0x040E, 0x045E, 0x0408, 0x00A4, 0x0490, 0x00A6, 0x00A7,
    0x0401, 0x00A9, 0x0404, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x0407,
    0x00B0, 0x00B1, 0x0406, 0x0456, 0x0491, 0x00B5, 0x00B6, 0x00B7,
    0x0451, 0x2116, 0x0454, 0x00BB, 0x0458, 0x0405, 0x0455, 0x0457,
};

static const uint16_t cp1250_80[128] = {
    0x20AC, 0x0081, 0x201A, 0x0083, 0x201E, 0x2026, 0x2020, 0x2021,
    0x0088, 0x2030, 0x0160, 0x2039, 0x015A, 0x0164, 0x017D, 0x0179,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x0098, 0x2122, 0x0161, 0x203A, 0x015B, 0x0165, 0x017E, 0x017A,
    0x00A0, 0x02C7, 0x02D8, 0x0141, 0x00A4, 0x0104, 0x00A6, 0x00A7,
    0x00A8, 0x00A9, 0x015E, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x017B,
    0x00B0, 0x00B1, 0x02DB, 0x0142, 0x00B4, 0x00B5, 0x00B6, 0x00B7,
    0x00B8, 0x0105, 0x015F, 0x00BB, 0x013D, 0x02DD, 0x013E, 0x017C,
    0x0154, 0x00C1, 0x00C2, 0x0102, 0x00C4, 0x0139, 0x0106, 0x00C7,
    0x010C, 0x00C9, 0x0118, 0x00CB, 0x011A, 0x00CD, 0x00CE, 0x010E,
    0x0110, 0x0143, 0x0147, 0x00D3, 0x00D4, 0x0150, 0x00D6, 0x00D7,
    0x0158, 0x016E, 0x00DA, 0x0170, 0x00DC, 0x00DD, 0x0162, 0x00DF,
    0x0155, 0x00E1, 0x00E2, 0x0103, 0x00E4, 0x013A, 0x0107, 0x00E7,
    0x010D, 0x00E9, 0x0119, 0x00EB, 0x011B, 0x00ED, 0x00EE, 0x010F,
    0x0111, 0x0144, 0x0148, 0x00F3, 0x00F4, 0x0151, 0x00F6, 0x00F7,
    0x0159, 0x016F, 0x00FA, 0x0171, 0x00FC, 0x00FD, 0x0163, 0x02D9,
};

static uint32_t cp_char(uint32_t cp, uint8_t b)
{
    if (b < 0x80)
        return b;
    switch (cp) {
    case 1250: return cp1250_80[b - 0x80];
    case 1251: return b >= 0xC0 ? 0x0410u + (b - 0xC0u) : cp1251_80[b - 0x80];
    case 28591: return b;
    default: return b >= 0xA0 ? b : cp1252_80[b - 0x80];
    }
}

/* Length of the longest valid UTF-8 prefix of p[0..n) (no NUL). */
static size_t utf8_prefix(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = p[i];
        size_t k;

        if (c == 0)
            break;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c >= 0xE0 && c <= 0xEF) k = 2;
        else if (c >= 0xF0 && c <= 0xF4) k = 3;
        else break;
        if (n - i <= k || !xc_utf8_valid(p + i, k + 1))
            break;
        i += k + 1;
    }
    return i;
}

int xc_cp_to_utf8(xc_wbuf *w, uint32_t cp, const uint8_t *p, size_t n)
{
    size_t i = 0;
    int table = cp == 1250 || cp == 1251 || cp == 1252 || cp == 28591;

    while (i < n) {
        if (p[i] == 0) {
            i++;
            continue;
        }
        if (!table) {
            /* UTF-8, ASCII, or a code page we have no table for: keep
               what is valid UTF-8, read the rest as 1252 */
            size_t run = utf8_prefix(p + i, n - i);
            if (run > 0) {
                xc_put_bytes(w, p + i, run);
                i += run;
                continue;
            }
        }
        xc_put_utf8_char(w, cp_char(cp, p[i]));
        i++;
    }
    return w->err ? -1 : 0;
}

/* ---- RTF reading ------------------------------------------------------- */

enum { MODE_HTML, MODE_TEXT };

#define MAX_FONTS 128

typedef struct grp {
    uint8_t skip;           /* text here is not output */
    uint8_t htmlrtf;        /* [MS-OXRTFEX] 2.1.3.1.3, group-scoped */
    uint8_t htmltag;        /* inside an HTMLTAG destination */
    uint8_t fonttbl;
    uint8_t uc;             /* bytes to skip after \uN */
    uint8_t first;          /* no control word or text yet in this group */
    uint8_t star;           /* group started with \* */
    int32_t font;           /* current font, -1 for the default */
} grp;

typedef struct rtfp {
    const uint8_t *p;
    size_t n, pos;
    int mode;
    int depth;
    grp st[XC_RTF_MAX_DEPTH + 1];
    uint32_t ansicpg;
    int32_t deff;
    int32_t fnum[MAX_FONTS];
    uint32_t fcp[MAX_FONTS];
    size_t nfonts;
    int fromhtml;           /* 1 \fromhtml1 seen, -1 \fromtext */
    size_t start;           /* out->len when we began */
    unsigned skip_chars;    /* still to skip after a \uN */
    uint32_t hi;            /* pending high surrogate from \uN */
    uint8_t pend[256];      /* 8-bit text waiting for conversion */
    size_t npend;
    uint32_t pend_cp;
    xc_wbuf *out;
} rtfp;

static uint32_t charset_cp(long cs)
{
    switch (cs) {
    case 0: case 1: case 2: return 1252;
    case 77: return 10000;
    case 128: return 932;
    case 129: return 949;
    case 134: return 936;
    case 136: return 950;
    case 161: return 1253;
    case 162: return 1254;
    case 163: return 1258;
    case 177: return 1255;
    case 178: return 1256;
    case 186: return 1257;
    case 204: return 1251;
    case 222: return 874;
    case 238: return 1250;
    default: return 1252;
    }
}

static grp *cur(rtfp *r)
{
    return &r->st[r->depth];
}

static int visible(rtfp *r)
{
    grp *g = cur(r);

    if (g->skip)
        return 0;
    return r->mode == MODE_TEXT || !g->htmlrtf;
}

static uint32_t text_cp(rtfp *r)
{
    int32_t f = cur(r)->font >= 0 ? cur(r)->font : r->deff;

    for (size_t i = 0; i < r->nfonts; i++)
        if (r->fnum[i] == f && r->fcp[i] != 0)
            return r->fcp[i];
    return r->ansicpg;
}

static void flush(rtfp *r)
{
    if (r->npend) {
        (void)xc_cp_to_utf8(r->out, r->pend_cp, r->pend, r->npend);
        r->npend = 0;
    }
}

/* One character of text in the current code page (a raw byte or \'hh). */
static void text_byte(rtfp *r, uint8_t b)
{
    uint32_t cp;

    if (r->skip_chars) {
        r->skip_chars--;
        return;
    }
    cur(r)->first = 0;
    if (!visible(r) || b == 0)
        return;
    cp = text_cp(r);
    if (r->npend && (cp != r->pend_cp || r->npend == sizeof(r->pend)))
        flush(r);
    r->pend_cp = cp;
    r->pend[r->npend++] = b;
}

static void text_uni(rtfp *r, uint32_t u)
{
    if (!visible(r))
        return;
    flush(r);
    xc_put_utf8_char(r->out, u);
}

static void text_str(rtfp *r, const char *s)
{
    if (!visible(r))
        return;
    flush(r);
    xc_put_bytes(r->out, s, strlen(s));
}

static int32_t *font_slot(rtfp *r, long num)
{
    for (size_t i = 0; i < r->nfonts; i++)
        if (r->fnum[i] == num)
            return &r->fnum[i];
    if (r->nfonts == MAX_FONTS)
        return NULL;
    r->fnum[r->nfonts] = (int32_t)num;
    r->fcp[r->nfonts] = 0;
    return &r->fnum[r->nfonts++];
}

/* Destinations whose text is never shown ([MSFT-RTF]). */
static int skipped_dest(const char *w)
{
    static const char *const d[] = {
        "colortbl", "stylesheet", "info", "pict", "object", "header",
        "footer", "headerl", "headerr", "headerf", "footerl", "footerr",
        "footerf", "fldinst", "listtable", "listoverridetable", "revtbl",
        "rsidtbl", "xmlnstbl", "themedata", "colorschememapping",
        "latentstyles", "datastore", "generator", "filetbl", "pgdsctbl",
        "objdata", "bkmkstart", "bkmkend", "field_inst", "nonshppict",
        "private", "xe", "tc", "txe", "pn", "pntext", "listtext",
    };
    for (size_t i = 0; i < N_ELEMS(d); i++)
        if (strcmp(w, d[i]) == 0)
            return 1;
    return 0;
}

static void control_word(rtfp *r, const char *w, int has_param, long param)
{
    grp *g = cur(r);
    int first = g->first;

    g->first = 0;
    if (r->skip_chars && strcmp(w, "u") != 0) {
        /* a control word stands for one skipped character ([MSFT-RTF]
           \ucN) */
        r->skip_chars--;
        return;
    }
    if (first && g->star) {
        /* {\*\dest ...}: an ignorable destination ([MSFT-RTF]); the only
           one we read is HTMLTAG ([MS-OXRTFEX] 2.1.3.1.2) */
        if (r->mode == MODE_HTML && strcmp(w, "htmltag") == 0)
            g->htmltag = 1;
        else
            g->skip = 1;
        return;
    }
    if (strcmp(w, "fonttbl") == 0) {
        g->fonttbl = 1;
        g->skip = 1;
        return;
    }
    if (skipped_dest(w)) {
        g->skip = 1;
        return;
    }
    if (g->fonttbl) {
        if (strcmp(w, "f") == 0 && has_param) {
            (void)font_slot(r, param);
            g->font = (int32_t)param;
        } else if ((strcmp(w, "fcharset") == 0 || strcmp(w, "cpg") == 0) &&
                   has_param && g->font >= 0) {
            for (size_t i = 0; i < r->nfonts; i++)
                if (r->fnum[i] == g->font)
                    r->fcp[i] = w[1] == 'c' ? charset_cp(param)
                                            : (uint32_t)param;
        }
        return;
    }
    if (strcmp(w, "par") == 0 || strcmp(w, "line") == 0) {
        text_str(r, "\r\n");
    } else if (strcmp(w, "tab") == 0) {
        text_str(r, "\t");
    } else if (r->mode == MODE_TEXT &&
               (strcmp(w, "sect") == 0 || strcmp(w, "page") == 0 ||
                strcmp(w, "row") == 0)) {
        text_str(r, "\r\n");
    } else if (r->mode == MODE_TEXT && strcmp(w, "cell") == 0) {
        text_str(r, "\t");
    } else if (strcmp(w, "u") == 0 && has_param) {
        uint32_t u = (uint32_t)(param < 0 ? param + 65536 : param) & 0xFFFF;

        if (r->skip_chars)
            r->skip_chars = 0;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (r->hi)
                text_uni(r, 0xFFFD);
            r->hi = u;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            text_uni(r, r->hi ? 0x10000 + ((r->hi - 0xD800) << 10) +
                                    (u - 0xDC00)
                              : 0xFFFD);
            r->hi = 0;
        } else if (u != 0) {
            if (r->hi)
                text_uni(r, 0xFFFD);
            r->hi = 0;
            text_uni(r, u);
        }
        r->skip_chars = g->uc;
    } else if (strcmp(w, "uc") == 0 && has_param) {
        g->uc = param < 0 ? 0 : param > 8 ? 8 : (uint8_t)param;
    } else if (strcmp(w, "ansicpg") == 0 && has_param && param > 0) {
        r->ansicpg = (uint32_t)param;
    } else if (strcmp(w, "deff") == 0 && has_param) {
        r->deff = (int32_t)param;
    } else if (strcmp(w, "f") == 0 && has_param) {
        g->font = (int32_t)param;
    } else if (strcmp(w, "htmlrtf") == 0) {
        g->htmlrtf = !has_param || param != 0;
    } else if (strcmp(w, "fromhtml") == 0) {
        /* [MS-OXRTFEX] 2.2.3.1: in the header, before any content */
        if (r->depth == 1 && r->out->len == r->start && r->npend == 0 &&
            r->fromhtml == 0 &&
            (!has_param || param == 1))
            r->fromhtml = 1;
    } else if (strcmp(w, "fromtext") == 0) {
        if (r->depth == 1 && r->fromhtml == 0)
            r->fromhtml = -1;
    } else if (strcmp(w, "emdash") == 0) {
        text_uni(r, 0x2014);
    } else if (strcmp(w, "endash") == 0) {
        text_uni(r, 0x2013);
    } else if (strcmp(w, "lquote") == 0) {
        text_uni(r, 0x2018);
    } else if (strcmp(w, "rquote") == 0) {
        text_uni(r, 0x2019);
    } else if (strcmp(w, "ldblquote") == 0) {
        text_uni(r, 0x201C);
    } else if (strcmp(w, "rdblquote") == 0) {
        text_uni(r, 0x201D);
    } else if (strcmp(w, "bullet") == 0) {
        text_uni(r, 0x2022);
    } else if (strcmp(w, "emspace") == 0 || strcmp(w, "enspace") == 0 ||
               strcmp(w, "qmspace") == 0) {
        text_uni(r, w[1] == 'm' ? 0x2003 : w[1] == 'n' ? 0x2002 : 0x2005);
    }
    /* every other control word is formatting: ignored */
}

static int rtf_parse(rtfp *r, const char **error_r)
{
    size_t i = 0;

    while (i < r->n && (r->p[i] == ' ' || r->p[i] == '\t' || r->p[i] == '\r' ||
                        r->p[i] == '\n'))
        i++;
    if (r->n - i < 5 || memcmp(r->p + i, "{\\rtf", 5) != 0)
        return fail(error_r, "not an RTF document");
    r->pos = i;
    r->depth = 0;
    memset(&r->st[0], 0, sizeof(r->st[0]));
    r->st[0].uc = 1;
    r->st[0].font = -1;
    r->ansicpg = 1252;
    r->deff = -1;

    while (r->pos < r->n) {
        uint8_t c = r->p[r->pos++];

        if (c == '{') {
            flush(r);
            r->skip_chars = 0;
            if (r->depth >= XC_RTF_MAX_DEPTH)
                return fail(error_r, "RTF groups nested too deeply");
            r->st[r->depth + 1] = r->st[r->depth];
            r->depth++;
            cur(r)->first = 1;
            cur(r)->star = 0;
            if (r->n - r->pos >= 2 && r->p[r->pos] == '\\' &&
                r->p[r->pos + 1] == '*') {
                cur(r)->star = 1;
                r->pos += 2;
            }
        } else if (c == '}') {
            flush(r);
            r->skip_chars = 0;
            if (r->depth <= 1)
                break;      /* the document's group ends: ignore the rest */
            r->depth--;
        } else if (c == '\\') {
            char word[33];
            size_t wl = 0;
            long param = 0;
            int has_param = 0, neg = 0;

            if (r->pos >= r->n)
                break;
            c = r->p[r->pos];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
                /* control symbol */
                r->pos++;
                if (c == '\'') {
                    int h, l;
                    if (r->n - r->pos < 2)
                        break;
                    h = xc_hexval(r->p[r->pos]);
                    l = xc_hexval(r->p[r->pos + 1]);
                    r->pos += 2;
                    if (h >= 0 && l >= 0)
                        text_byte(r, (uint8_t)(h << 4 | l));
                } else if (c == '\\' || c == '{' || c == '}') {
                    text_byte(r, c);
                } else if (c == '\r' || c == '\n') {
                    control_word(r, "par", 0, 0);
                } else if (c == '~') {
                    if (r->skip_chars)
                        r->skip_chars--;
                    else
                        text_uni(r, 0xA0);
                } else if (c == '_') {
                    if (r->skip_chars)
                        r->skip_chars--;
                    else
                        text_uni(r, 0x2011);
                } else if (r->skip_chars) {
                    r->skip_chars--;
                }
                continue;
            }
            while (r->pos < r->n && wl < sizeof(word) - 1 &&
                   ((r->p[r->pos] >= 'a' && r->p[r->pos] <= 'z') ||
                    (r->p[r->pos] >= 'A' && r->p[r->pos] <= 'Z')))
                word[wl++] = (char)r->p[r->pos++];
            word[wl] = '\0';
            /* a control word longer than [MSFT-RTF]'s 32 letters: skip
               the rest of it */
            while (r->pos < r->n && ((r->p[r->pos] >= 'a' && r->p[r->pos] <= 'z') ||
                                     (r->p[r->pos] >= 'A' && r->p[r->pos] <= 'Z')))
                r->pos++;
            if (r->pos < r->n && r->p[r->pos] == '-') {
                neg = 1;
                r->pos++;
            }
            while (r->pos < r->n && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') {
                if (param < 100000000L)
                    param = param * 10 + (r->p[r->pos] - '0');
                has_param = 1;
                r->pos++;
            }
            if (neg)
                param = -param;
            if (r->pos < r->n && r->p[r->pos] == ' ')
                r->pos++;
            if (strcmp(word, "bin") == 0) {
                /* binary data: skip it whole */
                size_t skip = has_param && param > 0 ? (size_t)param : 0;
                cur(r)->first = 0;
                r->pos += skip < r->n - r->pos ? skip : r->n - r->pos;
                continue;
            }
            control_word(r, word, has_param, param);
        } else if (c == '\r' || c == '\n') {
            /* line breaks in the RTF source are not text */
        } else {
            text_byte(r, c);
        }
        if (r->out->err)
            return fail(error_r, "RTF output overflow");
    }
    flush(r);
    if (r->hi)
        text_uni(r, 0xFFFD);
    return r->out->err ? fail(error_r, "RTF output overflow") : 0;
}

/* Parse rtf in mode into out; *fromhtml_r is its \fromhtml value. */
static int parse_into(const uint8_t *rtf, size_t n, int mode, xc_wbuf *out,
                      int *fromhtml_r, const char **error_r)
{
    rtfp *r = calloc(1, sizeof(*r));
    int ret;

    if (r == NULL)
        return fail(error_r, "out of memory");
    r->p = rtf;
    r->n = n;
    r->mode = mode;
    r->out = out;
    r->start = out->len;
    ret = rtf_parse(r, error_r);
    *fromhtml_r = r->fromhtml;
    free(r);
    return ret;
}

int xc_rtf_html(const uint8_t *rtf, size_t n, xc_wbuf *html_out,
                const char **error_r)
{
    size_t start = html_out->len;
    int fromhtml = 0;
    int ret = parse_into(rtf, n, MODE_HTML, html_out, &fromhtml, error_r);

    if (ret == 0 && fromhtml == 1)
        return 1;
    if (html_out->len > start && !html_out->err)
        html_out->len = start;      /* not HTML: append nothing */
    return ret;
}

int xc_rtf_text(const uint8_t *rtf, size_t n, xc_wbuf *text_out,
                const char **error_r)
{
    int fromhtml;

    return parse_into(rtf, n, MODE_TEXT, text_out, &fromhtml, error_r);
}
