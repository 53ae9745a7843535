/*
 * NAME
 *   xc_mime - Internet mail (RFC 5322 / MIME) <-> message content, as
 *   [MS-OXCMAIL] maps them, on GMime 3
 *
 * DESCRIPTION
 *   MIME -> content ([MS-OXCMAIL] 2.2, the MIME reader):
 *     Subject         PR_SUBJECT, PR_SUBJECT_PREFIX, PR_NORMALIZED_SUBJECT
 *                     (2.2.3.2.6.1: one to three characters, a colon,
 *                     blanks)
 *     From            PR_SENT_REPRESENTING_NAME / _EMAIL_ADDRESS /
 *                     _ADDRTYPE "SMTP" / _SMTP_ADDRESS
 *     Sender          PR_SENDER_* (the From mailbox when absent)
 *     To, Cc, Bcc     recipient rows: PR_ROWID, PR_RECIPIENT_TYPE 1/2/3,
 *                     PR_DISPLAY_NAME, PR_EMAIL_ADDRESS, PR_ADDRTYPE,
 *                     PR_SMTP_ADDRESS (groups are flattened)
 *     Reply-To        PR_REPLY_RECIPIENT_NAMES ("a; b") and
 *                     PR_REPLY_RECIPIENT_ENTRIES (one-off EntryIDs)
 *     Date            PR_CLIENT_SUBMIT_TIME
 *     Received        PR_MESSAGE_DELIVERY_TIME: the date of the topmost
 *                     one (when the last server took the message)
 *     Message-ID      PR_INTERNET_MESSAGE_ID ("<id>")
 *     In-Reply-To     PR_IN_REPLY_TO_ID, References PR_INTERNET_REFERENCES
 *                     (message ids, one space apart)
 *     Importance, Priority, X-Priority, X-MSMail-Priority
 *                     PR_IMPORTANCE (2.2.3.2.5: Importance wins) and
 *                     PR_PRIORITY (Priority, else from the importance)
 *     Sensitivity     PR_SENSITIVITY (Personal 1, Private 2,
 *                     Company-Confidential 3)
 *     Thread-Topic    PR_CONVERSATION_TOPIC (2.2.3.2.7: else the
 *                     normalized subject); Thread-Index (base64)
 *                     PR_CONVERSATION_INDEX
 *     Keywords        PidNameKeywords (PS_PUBLIC_STRINGS "Keywords",
 *                     PT_MV_UNICODE), comma separated
 *     X-* headers     PS_INTERNET_HEADERS named properties, by lower-case
 *                     name, first occurrence, as strings
 *     the header block PR_TRANSPORT_MESSAGE_HEADERS (CRLF, in order)
 *     PR_MESSAGE_CLASS "IPM.Note"; multipart/signed
 *                     "IPM.Note.SMIME.MultipartSigned" and
 *                     application/pkcs7-mime "IPM.Note.SMIME" as
 *                     [MS-OXOSMIME] 2.1.3.1 / 2.1.3.2 say: the body comes
 *                     from the signed content, and the whole entity is the
 *                     message's only attachment
 *   Bodies (2.2.3.3.2, [MS-OXBBODY]): the first text/plain and text/html
 *   that qualify as body (not Content-Disposition: attachment; in
 *   multipart/alternative the first plain and the last HTML; in
 *   multipart/related the root; in any other multipart the first child)
 *   become PR_BODY (PT_UNICODE) and PR_HTML (UTF-8 bytes) with
 *   PR_INTERNET_CPID 65001; charsets go through iconv, and what can't be
 *   decoded is read as Windows-1252; line ends become CRLF. The other
 *   text alternatives are dropped (text/calendar is kept as an
 *   attachment).
 *   Attachments: every other leaf is PR_ATTACH_METHOD 1 with
 *   PR_ATTACH_DATA_BIN, PR_ATTACH_SIZE, PR_ATTACH_MIME_TAG,
 *   PR_ATTACH_LONG_FILENAME / _FILENAME (8.3) / _EXTENSION and
 *   PR_DISPLAY_NAME (RFC 2231 and RFC 2047 names decoded, directories
 *   dropped), PR_ATTACH_CONTENT_ID / _LOCATION, PR_RENDERING_POSITION -1,
 *   PR_ATTACHMENT_HIDDEN (true for the non-root parts of
 *   multipart/related, which also get PR_ATTACH_FLAGS ATT_MHTML_REF).
 *   message/rfc822 (and message/global, message/news) is
 *   PR_ATTACH_METHOD 5 with the message converted recursively between
 *   START_EMBED and END_EMBED; PR_DISPLAY_NAME is its file name or
 *   subject.
 *   application/ms-tnef (winmail.dat, [MS-OXTNEF]; lib/xc_tnef): its
 *   message properties join the message's and win over the MIME ones,
 *   except addresses, ids and the transport headers (mime_owns); its
 *   attachments replace it; one that doesn't decode stays an attachment.
 *   An RTF-only body (PR_RTF_COMPRESSED, lib/xc_rtf) gets PR_HTML when
 *   the RTF encapsulates HTML, and PR_BODY as its plain text.
 *
 *   content -> MIME ([MS-OXCMAIL] 2.1, the MIME writer): the reverse of
 *   all the above, with From / Sender / To / Cc / Bcc / Reply-To from the
 *   SMTP addresses (PR_SMTP_ADDRESS, else PR_EMAIL_ADDRESS when the
 *   address type is SMTP), RFC 2047 for non-ASCII header text, RFC 2231
 *   file names, text/plain and text/html (multipart/alternative when
 *   both; 2.1.3.3.4) as UTF-8 quoted-printable, hidden attachments with a
 *   Content-ID or Content-Location in multipart/related around the body,
 *   the rest base64 in multipart/mixed, embedded messages as
 *   message/rfc822. Header values lose CR, LF and other controls (no
 *   header injection through a property).
 *
 *   An RTF-only body goes out as the HTML it encapsulates and its text.
 *
 *   Not mapped yet: no TNEF is written (PR_RTF_COMPRESSED and other
 *   MAPI-only properties are not carried to MIME), HTML without a text
 *   alternative gets no generated text part (and a text-only message no
 *   generated HTML), format=flowed is not unwrapped, recipients without
 *   an SMTP address (EX) are not written, PR_DISPLAY_TO/CC/BCC, PR_HASATTACH and message
 *   flags are left to the store, the charset of text attachments is not
 *   kept, a <meta charset> in HTML is not rewritten after conversion to
 *   UTF-8, Disposition-Notification-To / Return-Receipt-To, List-* and
 *   Received are not mapped (they stay in PR_TRANSPORT_MESSAGE_HEADERS),
 *   meeting requests (text/calendar) stay attachments, encrypted and
 *   signed PGP/MIME parts are plain attachments.
 *
 * SECURITY
 *   Input is untrusted. GMime parses from memory only; the tree is
 *   checked against the caller's limits (depth, parts, header block size)
 *   before anything is converted; every string written is valid UTF-8
 *   without NUL.
 */
#include "xc_mime.h"
#include "xc_rtf.h"
#include "xc_text.h"
#include "xc_tnef.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

static const uint8_t ps_public_strings[16] = PS_PUBLIC_STRINGS_BYTES;
static const uint8_t ps_internet_headers[16] = PS_INTERNET_HEADERS_BYTES;

/* [MS-OXCDATA] 2.2.5.1 one-off EntryID provider */
static const uint8_t oneoff_uid[16] = {
    0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19,
    0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02
};
#define ONEOFF_UNICODE 0x8000
#define ONEOFF_FLAGS 0x9001     /* Unicode, no rich info, as Outlook */

#define CPID_UTF8 65001
#define FILETIME_UNIX_DIFF 11644473600LL    /* seconds 1601 -> 1970 */
#define MAX_NAME 256            /* named property string names */

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static void mime_init_once(void)
{
    g_mime_init();
}

void xc_mime_init(void)
{
    pthread_once(&mime_once, mime_init_once);
}

void xc_mime_limits_default(xc_mime_limits *lim)
{
    lim->max_depth = XC_MIME_DEFAULT_DEPTH;
    lim->max_parts = XC_MIME_DEFAULT_PARTS;
    lim->max_headers = XC_MIME_DEFAULT_HEADERS;
    lim->max_header_bytes = XC_MIME_DEFAULT_HEADER_BYTES;
}

/* ------------------------------------------------------------------ */
/* text: UTF-8 cleaning, charsets, line ends                           */

/* Windows-1252 0x80..0x9F; 0 marks its holes (read as ISO-8859-1). */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
    0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178
};

static void put_cp1252(xc_wbuf *w, uint8_t b)
{
    if (b >= 0x80 && b < 0xA0 && cp1252_c1[b - 0x80])
        xc_put_utf8_char(w, cp1252_c1[b - 0x80]);
    else
        xc_put_utf8_char(w, b);
}

/* Length of the valid UTF-8 sequence at p (strict, as xc_utf8_valid), or
   0 if it isn't one. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint32_t cp;
    size_t k;

    if (p[0] < 0x80)
        return p[0] ? 1 : 0;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) { k = 1; cp = p[0] & 0x1F; }
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) { k = 2; cp = p[0] & 0x0F; }
    else if (p[0] >= 0xF0 && p[0] <= 0xF4) { k = 3; cp = p[0] & 0x07; }
    else return 0;
    if (n <= k)
        return 0;
    for (size_t j = 1; j <= k; j++) {
        if ((p[j] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[j] & 0x3F);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k + 1;
}

/*
 * Append p[0..n) to w as valid UTF-8 without NUL: valid sequences are
 * copied, NULs dropped, any other byte read as Windows-1252. This is the
 * fallback for mislabelled and undecodable text.
 */
static void utf8_clean(xc_wbuf *w, const uint8_t *p, size_t n)
{
    size_t i = 0, run = 0;

    while (i < n) {
        size_t k;

        if (p[i] != 0 && p[i] < 0x80) {        /* most text */
            i++;
            continue;
        }
        k = utf8_seq(p + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        xc_put_bytes(w, p + run, i - run);
        if (p[i] != 0)
            put_cp1252(w, p[i]);
        run = ++i;
    }
    xc_put_bytes(w, p + run, i - run);
}

static int charset_is_utf8(const char *cs)
{
    return cs == NULL || *cs == '\0' || !strcasecmp(cs, "utf-8") ||
           !strcasecmp(cs, "utf8") || !strcasecmp(cs, "us-ascii") ||
           !strcasecmp(cs, "ascii") || !strcasecmp(cs, "unknown-8bit") ||
           !strcasecmp(cs, "x-unknown");
}

/* Convert p[0..n) in charset cs to clean UTF-8 appended to w. */
static void charset_to_utf8(xc_wbuf *w, const char *cs, const uint8_t *p,
                            size_t n)
{
    xc_wbuf raw;
    iconv_t cd;
    char *in = (char *)p;
    size_t inleft = n;
    char buf[4096];

    if (charset_is_utf8(cs) ||
        (cd = g_mime_iconv_open("UTF-8", cs)) == (iconv_t)-1) {
        utf8_clean(w, p, n);
        return;
    }
    xc_wbuf_init(&raw, 0);
    while (inleft > 0) {
        char *o = buf;
        size_t oleft = sizeof(buf);
        size_t r = iconv(cd, &in, &inleft, &o, &oleft);

        xc_put_bytes(&raw, buf, (size_t)(o - buf));
        if (r == (size_t)-1 && errno != E2BIG) {
            /* a byte the charset can't decode: Windows-1252, go on */
            put_cp1252(&raw, (uint8_t)*in);
            in++;
            inleft--;
            iconv(cd, NULL, NULL, NULL, NULL);
        }
    }
    {
        char *o = buf;
        size_t oleft = sizeof(buf);
        iconv(cd, NULL, NULL, &o, &oleft);
        xc_put_bytes(&raw, buf, (size_t)(o - buf));
    }
    g_mime_iconv_close(cd);
    if (raw.err)
        w->err = 1;
    else
        utf8_clean(w, raw.p, raw.len);  /* drops NULs iconv passed on */
    xc_wbuf_free(&raw);
}

/* Append p[0..n) with every line end made CRLF. */
static void put_crlf(xc_wbuf *w, const uint8_t *p, size_t n)
{
    size_t run = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
            i++;
            continue;
        }
        if (p[i] == '\r' || p[i] == '\n') {
            xc_put_bytes(w, p + run, i - run);
            xc_put_bytes(w, "\r\n", 2);
            run = i + 1;
        }
    }
    xc_put_bytes(w, p + run, n - run);
}

/* ------------------------------------------------------------------ */
/* MIME -> content                                                     */

typedef struct mconv {
    const xc_mime_limits *lim;
    xc_name_to_id_fn names;
    void *ctx;
    GMimeParserOptions *popt;
    xc_wbuf *out;
    size_t parts;
    const char *err;
    GMimeObject *tnef;          /* this message's decoded winmail.dat */
} mconv;

/* A counted UTF-16LE value from clean UTF-8 (no tag: also one value of a
   PT_MV_UNICODE). */
static void put_utf16_val(xc_wbuf *w, const uint8_t *s, size_t n)
{
    size_t off = w->len;

    xc_put_u32(w, 0);
    if (xc_utf8_to_utf16le(w, s, n) < 0 || w->len - off - 4 > UINT32_MAX) {
        w->err = 1;
        return;
    }
    xc_patch_u32(w, off, (uint32_t)(w->len - off - 4));
}

/* A PT_UNICODE value from clean UTF-8. */
static void put_utf16(xc_wbuf *w, uint32_t tag, const uint8_t *s, size_t n)
{
    xc_put_u32(w, tag);
    put_utf16_val(w, s, n);
}

/* A PT_UNICODE value from any bytes (cleaned); empty strings are left
   out. */
static void put_text(mconv *c, uint32_t tag, const char *s, size_t n)
{
    xc_wbuf t;

    if (s == NULL || n == 0)
        return;
    xc_wbuf_init(&t, 0);
    utf8_clean(&t, (const uint8_t *)s, n);
    if (t.err)
        c->out->err = 1;
    else if (t.len > 0)
        put_utf16(c->out, tag, t.p, t.len);
    xc_wbuf_free(&t);
}

static void put_str(mconv *c, uint32_t tag, const char *s)
{
    if (s != NULL)
        put_text(c, tag, s, strlen(s));
}

/* A copy of s without leading and trailing white space (g_free it). */
static char *trimmed(const char *s)
{
    char *t = g_strdup(s ? s : "");
    return g_strstrip(t);
}

/* ---- limits, checked over the whole tree before converting ---- */

static int check_headers(mconv *c, GMimeObject *o, size_t *count,
                         size_t *bytes)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(o);
    int n = hl ? g_mime_header_list_get_count(hl) : 0;

    for (int i = 0; i < n; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *name = g_mime_header_get_raw_name(h);
        const char *raw = g_mime_header_get_raw_value(h);

        *count += 1;
        *bytes += (name ? strlen(name) : 0) + 1 + (raw ? strlen(raw) : 0);
        if (*count > c->lim->max_headers) {
            c->err = "too many header fields in one header block";
            return -1;
        }
        if (*bytes > c->lim->max_header_bytes) {
            c->err = "header block too large";
            return -1;
        }
    }
    return 0;
}

/* o at depth (the top-level body entity is 1); count and bytes carry a
   message's own header fields into its body entity's block. */
static int check_tree(mconv *c, GMimeObject *o, size_t depth, size_t count,
                      size_t bytes)
{
    if (depth > c->lim->max_depth) {
        c->err = "MIME entities nested too deeply";
        return -1;
    }
    if (++c->parts > c->lim->max_parts) {
        c->err = "too many MIME parts";
        return -1;
    }
    if (check_headers(c, o, &count, &bytes) < 0)
        return -1;
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int n = g_mime_multipart_get_count(mp);

        for (int i = 0; i < n; i++)
            if (check_tree(c, g_mime_multipart_get_part(mp, i), depth + 1,
                           0, 0) < 0)
                return -1;
    } else if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *m = g_mime_message_part_get_message(
            GMIME_MESSAGE_PART(o));
        GMimeObject *body;

        if (m == NULL)
            return 0;
        count = bytes = 0;
        if (check_headers(c, GMIME_OBJECT(m), &count, &bytes) < 0)
            return -1;
        body = g_mime_message_get_mime_part(m);
        if (body && check_tree(c, body, depth + 1, count, bytes) < 0)
            return -1;
    }
    return 0;
}

/* ---- structure ---- */

static int is_type(GMimeObject *o, const char *type, const char *subtype)
{
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

static int is_attachment_disposition(GMimeObject *o)
{
    const char *d = g_mime_object_get_disposition(o);
    return d != NULL && !g_ascii_strcasecmp(d, "attachment");
}

/* [MS-OXCMAIL] 2.2.3.3.2 / RFC 2387: the start parameter, else the first
   child */
static GMimeObject *related_root(GMimeMultipart *mp)
{
    int n = g_mime_multipart_get_count(mp);
    const char *start = g_mime_object_get_content_type_parameter(
        GMIME_OBJECT(mp), "start");

    if (n == 0)
        return NULL;
    if (start != NULL) {
        char *want = trimmed(start);
        size_t len = strlen(want);
        const char *id = want;

        if (len >= 2 && want[0] == '<' && want[len - 1] == '>') {
            want[len - 1] = '\0';
            id = want + 1;
        }
        for (int i = 0; i < n; i++) {
            GMimeObject *p = g_mime_multipart_get_part(mp, i);
            const char *cid = g_mime_object_get_content_id(p);

            if (cid != NULL && !strcmp(cid, id)) {
                g_free(want);
                return p;
            }
        }
        g_free(want);
    }
    return g_mime_multipart_get_part(mp, 0);
}

typedef struct bodies {
    GMimeObject *plain;
    GMimeObject *html;
} bodies;

/* [MS-OXCMAIL] 2.2.3.3.2: which entities are the message body. Depth is
   bounded by check_tree. */
static void find_body(GMimeObject *o, bodies *b)
{
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int n = g_mime_multipart_get_count(mp);

        if (n == 0 || is_type(o, "multipart", "encrypted"))
            return;
        if (is_type(o, "multipart", "alternative")) {
            for (int i = 0; i < n; i++) {
                bodies k = { NULL, NULL };

                find_body(g_mime_multipart_get_part(mp, i), &k);
                if (k.plain && !b->plain)
                    b->plain = k.plain;
                if (k.html)
                    b->html = k.html;   /* the last is the richest */
            }
        } else if (is_type(o, "multipart", "related")) {
            find_body(related_root(mp), b);
        } else {
            find_body(g_mime_multipart_get_part(mp, 0), b);
        }
        return;
    }
    if (!GMIME_IS_PART(o) || is_attachment_disposition(o))
        return;
    if (is_type(o, "text", "plain") && !b->plain)
        b->plain = o;
    else if (is_type(o, "text", "html") && !b->html)
        b->html = o;
}

/* The decoded content of a leaf (transfer encoding undone). */
static void part_data(GMimeObject *o, xc_wbuf *w)
{
    GMimeDataWrapper *dw;
    GMimeStream *s;
    GByteArray *ba;

    if (!GMIME_IS_PART(o) || (dw = g_mime_part_get_content(GMIME_PART(o))) ==
                                 NULL)
        return;
    s = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(dw, s);
    ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
    xc_put_bytes(w, ba->data, ba->len);
    g_object_unref(s);
}

/* An entity with its transfer encoding, as it would be written (CRLF). */
static void object_bytes(GMimeObject *o, int with_headers, xc_wbuf *w)
{
    GMimeFormatOptions *fo = g_mime_format_options_new();
    GMimeStream *s = g_mime_stream_mem_new();
    GByteArray *ba;

    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
    if (with_headers)
        g_mime_object_write_to_stream(o, fo, s);
    else
        g_mime_object_write_content_to_stream(o, fo, s);
    ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
    xc_put_bytes(w, ba->data, ba->len);
    g_object_unref(s);
    g_mime_format_options_free(fo);
}

/* The charset of an HTML part: its parameter, else a <meta> in its first
   4 KiB. */
static char *html_charset(GMimeObject *o, const uint8_t *p, size_t n)
{
    const char *cs = g_mime_object_get_content_type_parameter(o, "charset");
    size_t lim = n < 4096 ? n : 4096;

    if (cs != NULL)
        return g_strdup(cs);
    for (size_t i = 0; i + 8 <= lim; i++) {
        if (g_ascii_strncasecmp((const char *)p + i, "charset=", 8) == 0) {
            size_t s = i + 8, e;

            while (s < lim && (p[s] == '"' || p[s] == '\'' || p[s] == ' '))
                s++;
            for (e = s; e < lim && (g_ascii_isalnum(p[e]) || p[e] == '-' ||
                                    p[e] == '_' || p[e] == '.' ||
                                    p[e] == ':');
                 e++)
                ;
            if (e > s && e - s < 64)
                return g_strndup((const char *)p + s, e - s);
            return NULL;
        }
    }
    return NULL;
}

static void put_bodies(mconv *c, const bodies *b)
{
    xc_wbuf raw, u8, crlf;

    xc_wbuf_init(&raw, 0);
    xc_wbuf_init(&u8, 0);
    xc_wbuf_init(&crlf, 0);
    if (b->plain) {
        part_data(b->plain, &raw);
        charset_to_utf8(&u8, g_mime_object_get_content_type_parameter(
                                 b->plain, "charset"), raw.p, raw.len);
        put_crlf(&crlf, u8.p, u8.len);
        if (raw.err || u8.err || crlf.err)
            c->out->err = 1;
        else
            put_utf16(c->out, PR_BODY, crlf.p, crlf.len);
    }
    if (b->html) {
        char *cs;

        xc_wbuf_reset(&raw);
        xc_wbuf_reset(&u8);
        xc_wbuf_reset(&crlf);
        part_data(b->html, &raw);
        cs = html_charset(b->html, raw.p, raw.len);
        charset_to_utf8(&u8, cs, raw.p, raw.len);
        g_free(cs);
        put_crlf(&crlf, u8.p, u8.len);
        if (raw.err || u8.err || crlf.err)
            c->out->err = 1;
        else
            xc_put_bin(c->out, PR_HTML, crlf.p, crlf.len);
    }
    if (b->plain || b->html)
        xc_put_long(c->out, PR_INTERNET_CPID, CPID_UTF8);
    xc_wbuf_free(&raw);
    xc_wbuf_free(&u8);
    xc_wbuf_free(&crlf);
}

/* ---- envelope ---- */

static const char *mailbox_name(InternetAddress *a)
{
    const char *name = internet_address_get_name(a);
    return name && *name ? name
                         : internet_address_mailbox_get_addr(
                               INTERNET_ADDRESS_MAILBOX(a));
}

static InternetAddress *first_mailbox(InternetAddressList *l)
{
    int n = l ? internet_address_list_length(l) : 0;

    for (int i = 0; i < n; i++) {
        InternetAddress *a = internet_address_list_get_address(l, i);

        if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char *addr = internet_address_mailbox_get_addr(
                INTERNET_ADDRESS_MAILBOX(a));
            if (addr && *addr)
                return a;
        } else if (INTERNET_ADDRESS_IS_GROUP(a)) {
            InternetAddress *m = first_mailbox(
                internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)));
            if (m)
                return m;
        }
    }
    return NULL;
}

static void put_party(mconv *c, InternetAddress *a, uint32_t name_tag,
                      uint32_t addr_tag, uint32_t type_tag,
                      uint32_t smtp_tag)
{
    const char *addr = internet_address_mailbox_get_addr(
        INTERNET_ADDRESS_MAILBOX(a));

    put_str(c, name_tag, mailbox_name(a));
    put_str(c, addr_tag, addr);
    put_str(c, type_tag, "SMTP");
    put_str(c, smtp_tag, addr);
}

/* Recipient rows of one address list; groups are flattened (RFC 5322
   groups don't nest, GMime doesn't make them). */
static void put_recips(mconv *c, InternetAddressList *l, int32_t type,
                       uint32_t *row, int in_group)
{
    int n = l ? internet_address_list_length(l) : 0;

    for (int i = 0; i < n; i++) {
        InternetAddress *a = internet_address_list_get_address(l, i);
        const char *addr;

        if (INTERNET_ADDRESS_IS_GROUP(a)) {
            if (!in_group)
                put_recips(c, internet_address_group_get_members(
                                  INTERNET_ADDRESS_GROUP(a)),
                           type, row, 1);
            continue;
        }
        if (!INTERNET_ADDRESS_IS_MAILBOX(a))
            continue;
        addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
        if (addr == NULL || *addr == '\0')
            continue;
        xc_put_long(c->out, XW_MARK_START_RECIP, (int32_t)*row);
        xc_put_long(c->out, PR_ROWID, (int32_t)*row);
        xc_put_long(c->out, PR_RECIPIENT_TYPE, type);
        put_str(c, PR_DISPLAY_NAME_W, mailbox_name(a));
        put_str(c, PR_EMAIL_ADDRESS_W, addr);
        put_str(c, PR_ADDRTYPE, "SMTP");
        put_str(c, PR_SMTP_ADDRESS_W, addr);
        xc_put_long(c->out, XW_MARK_END_RECIP, 0);
        (*row)++;
    }
}

/* UTF-16LE of clean UTF-8 s, NUL-terminated. */
static void put_utf16z(xc_wbuf *w, const char *s)
{
    xc_wbuf t;

    xc_wbuf_init(&t, 0);
    utf8_clean(&t, (const uint8_t *)s, strlen(s));
    if (t.err || xc_utf8_to_utf16le(w, t.p, t.len) < 0)
        w->err = 1;
    xc_put_u16(w, 0);
    xc_wbuf_free(&t);
}

/* Collect the mailboxes of a list (groups flattened one level). */
static void collect_mailboxes(InternetAddressList *l, GPtrArray *out,
                              int in_group)
{
    int n = l ? internet_address_list_length(l) : 0;

    for (int i = 0; i < n; i++) {
        InternetAddress *a = internet_address_list_get_address(l, i);

        if (INTERNET_ADDRESS_IS_GROUP(a) && !in_group) {
            collect_mailboxes(internet_address_group_get_members(
                                  INTERNET_ADDRESS_GROUP(a)),
                              out, 1);
        } else if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char *addr = internet_address_mailbox_get_addr(
                INTERNET_ADDRESS_MAILBOX(a));
            if (addr && *addr)
                g_ptr_array_add(out, a);
        }
    }
}

/*
 * Reply-To: PR_REPLY_RECIPIENT_NAMES ("a; b") and
 * PR_REPLY_RECIPIENT_ENTRIES, a FlatEntryList ([MS-OXCDATA] 2.3.3) of
 * one-off EntryIDs (2.2.5.1) carrying the SMTP addresses.
 */
static void put_reply_to(mconv *c, InternetAddressList *l)
{
    GPtrArray *mb = g_ptr_array_new();
    xc_wbuf names, fl;

    collect_mailboxes(l, mb, 0);
    if (mb->len == 0) {
        g_ptr_array_free(mb, TRUE);
        return;
    }
    xc_wbuf_init(&names, 0);
    xc_wbuf_init(&fl, 0);
    xc_put_u32(&fl, mb->len);
    xc_put_u32(&fl, 0);                 /* size, patched below */
    for (guint i = 0; i < mb->len; i++) {
        InternetAddress *a = g_ptr_array_index(mb, i);
        const char *addr = internet_address_mailbox_get_addr(
            INTERNET_ADDRESS_MAILBOX(a));
        size_t off;

        if (i > 0)
            xc_put_bytes(&names, "; ", 2);
        xc_out(&names, mailbox_name(a));
        off = fl.len;
        xc_put_u32(&fl, 0);
        xc_put_u32(&fl, 0);             /* EntryID flags */
        xc_put_bytes(&fl, oneoff_uid, 16);
        xc_put_u16(&fl, 0);             /* version */
        xc_put_u16(&fl, ONEOFF_FLAGS);
        put_utf16z(&fl, mailbox_name(a));
        put_utf16z(&fl, "SMTP");
        put_utf16z(&fl, addr);
        xc_patch_u32(&fl, off, (uint32_t)(fl.len - off - 4));
        while (fl.len % 4)
            xc_put_u8(&fl, 0);
    }
    xc_patch_u32(&fl, 4, (uint32_t)(fl.len - 8));
    if (names.err || fl.err) {
        c->out->err = 1;
    } else {
        put_text(c, PR_REPLY_RECIPIENT_NAMES, (const char *)names.p,
                 names.len);
        xc_put_bin(c->out, PR_REPLY_RECIPIENT_ENTRIES, fl.p, fl.len);
    }
    xc_wbuf_free(&names);
    xc_wbuf_free(&fl);
    g_ptr_array_free(mb, TRUE);
}

/* [MS-OXCMAIL] 2.2.3.2.6.1: prefix length in bytes ("Re: " -> the "Re:"
   and its blanks), or 0. *plen_r: bytes of the characters before ':'. */
static size_t subject_prefix(const char *s, size_t *plen_r)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s), i = 0, chars = 0;

    while (i < n && chars < 4) {
        size_t k;

        if (p[i] == ':')
            break;
        if (p[i] == ' ' || (p[i] >= '0' && p[i] <= '9'))
            return 0;
        k = utf8_seq(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
        chars++;
    }
    if (chars < 1 || chars > 3 || i >= n || p[i] != ':')
        return 0;
    *plen_r = i;
    i++;
    while (i < n && p[i] == ' ')
        i++;
    return i;
}

static void put_subject(mconv *c, GMimeMessage *m)
{
    const char *raw = g_mime_message_get_subject(m);
    const char *topic = g_mime_object_get_header(GMIME_OBJECT(m),
                                                 "Thread-Topic");
    xc_wbuf t;

    if (raw != NULL && *raw != '\0') {
        size_t plen = 0, skip;

        xc_wbuf_init(&t, 0);
        utf8_clean(&t, (const uint8_t *)raw, strlen(raw));
        xc_put_u8(&t, 0);
        if (t.err) {
            c->out->err = 1;
            xc_wbuf_free(&t);
            return;
        }
        put_str(c, PR_SUBJECT, (const char *)t.p);
        skip = subject_prefix((const char *)t.p, &plen);
        if (skip) {
            char *prefix = g_strdup_printf("%.*s: ", (int)plen,
                                           (const char *)t.p);
            put_str(c, PR_SUBJECT_PREFIX, prefix);
            g_free(prefix);
        }
        put_str(c, PR_NORMALIZED_SUBJECT, (const char *)t.p + skip);
        /* 2.2.3.2.7: without Thread-Topic, the normalized subject */
        if (topic == NULL)
            put_str(c, PR_CONVERSATION_TOPIC, (const char *)t.p + skip);
        xc_wbuf_free(&t);
    }
    if (topic != NULL) {
        char *v = trimmed(topic);
        put_str(c, PR_CONVERSATION_TOPIC, v);
        g_free(v);
    }
}

static int word_is(const char *v, const char *w)
{
    char *t = trimmed(v);
    int r = !g_ascii_strcasecmp(t, w);
    g_free(t);
    return r;
}

/* [MS-OXCMAIL] 2.2.3.2.5 */
static void put_importance(mconv *c, GMimeObject *o)
{
    const char *v;
    int32_t imp = -1, prio = -2;

    if ((v = g_mime_object_get_header(o, "Importance")) != NULL) {
        if (word_is(v, "low")) imp = 0;
        else if (word_is(v, "normal")) imp = 1;
        else if (word_is(v, "high")) imp = 2;
    }
    if ((v = g_mime_object_get_header(o, "Priority")) != NULL) {
        if (word_is(v, "non-urgent")) prio = -1;
        else if (word_is(v, "normal")) prio = 0;
        else if (word_is(v, "urgent")) prio = 1;
        if (imp < 0 && prio > -2)
            imp = prio + 1;
    }
    if (imp < 0 && (v = g_mime_object_get_header(o, "X-Priority")) != NULL) {
        while (*v == ' ' || *v == '\t')
            v++;
        switch (*v) {
        case '1': case '2': imp = 2; break;
        case '3': imp = 1; break;
        case '4': case '5': imp = 0; break;
        }
    }
    if (imp < 0 &&
        (v = g_mime_object_get_header(o, "X-MSMail-Priority")) != NULL) {
        if (word_is(v, "low")) imp = 0;
        else if (word_is(v, "normal")) imp = 1;
        else if (word_is(v, "high")) imp = 2;
    }
    if (imp < 0)
        return;
    xc_put_long(c->out, PR_IMPORTANCE, imp);
    xc_put_long(c->out, PR_PRIORITY, prio > -2 ? prio : imp - 1);
}

static void put_sensitivity(mconv *c, GMimeObject *o)
{
    const char *v = g_mime_object_get_header(o, "Sensitivity");

    if (v == NULL)
        return;
    if (word_is(v, "personal"))
        xc_put_long(c->out, PR_SENSITIVITY, 1);
    else if (word_is(v, "private"))
        xc_put_long(c->out, PR_SENSITIVITY, 2);
    else if (word_is(v, "company-confidential"))
        xc_put_long(c->out, PR_SENSITIVITY, 3);
}

/* A message id we can write back: no blanks, brackets or controls. */
static int msgid_ok(const char *id)
{
    if (id == NULL || *id == '\0')
        return 0;
    for (; *id; id++)
        if ((unsigned char)*id <= ' ' || *id == '<' || *id == '>' ||
            *id == 0x7F)
            return 0;
    return 1;
}

/* Message ids of a header as "<a> <b>", or NULL. */
static char *msgid_list(mconv *c, const char *v)
{
    GMimeReferences *refs;
    GString *s;
    int n;

    if (v == NULL)
        return NULL;
    refs = g_mime_references_parse(c->popt, v);
    if (refs == NULL)
        return NULL;
    n = g_mime_references_length(refs);
    s = g_string_new(NULL);
    for (int i = 0; i < n; i++) {
        const char *id = g_mime_references_get_message_id(refs, i);
        if (!msgid_ok(id))
            continue;
        if (s->len)
            g_string_append_c(s, ' ');
        g_string_append_printf(s, "<%s>", id);
    }
    g_mime_references_free(refs);
    if (s->len == 0) {
        g_string_free(s, TRUE);
        return NULL;
    }
    return g_string_free(s, FALSE);
}

static void put_ids(mconv *c, GMimeMessage *m)
{
    const char *id = g_mime_message_get_message_id(m);
    char *v;

    if (msgid_ok(id)) {
        v = g_strdup_printf("<%s>", id);
        put_str(c, PR_INTERNET_MESSAGE_ID, v);
        g_free(v);
    }
    v = msgid_list(c, g_mime_object_get_header(GMIME_OBJECT(m),
                                               "In-Reply-To"));
    put_str(c, PR_IN_REPLY_TO_ID, v);
    g_free(v);
    v = msgid_list(c, g_mime_object_get_header(GMIME_OBJECT(m),
                                               "References"));
    put_str(c, PR_INTERNET_REFERENCES, v);
    g_free(v);
}

/* A date as a PT_SYSTIME property (FILETIME), if FILETIME can hold it. */
static void put_time(mconv *c, uint32_t tag, GDateTime *dt)
{
    gint64 t = g_date_time_to_unix(dt);

    if (t < -FILETIME_UNIX_DIFF || t > INT64_MAX / 10000000 - FILETIME_UNIX_DIFF)
        return;
    xc_put_i8(c->out, tag, (t + FILETIME_UNIX_DIFF) * 10000000);
}

static void put_date(mconv *c, GMimeMessage *m)
{
    GDateTime *dt = g_mime_message_get_date(m);

    if (dt != NULL)
        put_time(c, PR_CLIENT_SUBMIT_TIME, dt);
}

/* The topmost Received field's date (after its last ';'): when the
   message reached the last server, i.e. its delivery time. */
static void put_received(mconv *c, GMimeObject *o)
{
    const char *v = g_mime_object_get_header(o, "Received");
    const char *semi = v ? strrchr(v, ';') : NULL;
    GDateTime *dt;

    if (semi == NULL || (dt = g_mime_utils_header_decode_date(semi + 1))
                            == NULL)
        return;
    put_time(c, PR_MESSAGE_DELIVERY_TIME, dt);
    g_date_time_unref(dt);
}

static void put_thread_index(mconv *c, GMimeObject *o)
{
    const char *v = g_mime_object_get_header(o, "Thread-Index");
    char *t;
    gsize n = 0;

    if (v == NULL)
        return;
    t = trimmed(v);
    /* GLib asserts on (and leaves n unset for) input under two bytes */
    if (strlen(t) >= 2)
        g_base64_decode_inplace(t, &n);
    if (n > 0)
        xc_put_bin(c->out, PR_CONVERSATION_INDEX, t, n);
    g_free(t);
}

/* A named property's id from the caller, or 0. */
static uint16_t named_id(mconv *c, const uint8_t guid[16], const char *name)
{
    uint16_t id;

    if (c->names == NULL || c->names(c->ctx, guid, 0, name, &id) < 0 ||
        id < 0x8000)
        return 0;
    return id;
}

/* Keywords: PidNameKeywords, every Keywords field, comma separated. */
static void put_keywords(mconv *c, GMimeObject *o)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(o);
    int n = g_mime_header_list_get_count(hl);
    GPtrArray *words = g_ptr_array_new_with_free_func(g_free);
    uint16_t id;

    for (int i = 0; i < n; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *v = g_mime_header_get_value(h);
        gchar **split;

        if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Keywords") ||
            v == NULL)
            continue;
        split = g_strsplit(v, ",", -1);
        for (gchar **w = split; *w; w++) {
            g_strstrip(*w);
            if (**w != '\0' && words->len < XW_MAX_MV)
                g_ptr_array_add(words, g_strdup(*w));
        }
        g_strfreev(split);
    }
    if (words->len > 0 &&
        (id = named_id(c, ps_public_strings, "Keywords")) != 0) {
        xc_put_u32(c->out, PROP_TAG(PT_MV | PT_UNICODE, id));
        xc_put_u32(c->out, words->len);
        for (guint i = 0; i < words->len; i++) {
            const char *w = g_ptr_array_index(words, i);
            xc_wbuf t;

            xc_wbuf_init(&t, 0);
            utf8_clean(&t, (const uint8_t *)w, strlen(w));
            if (t.err)
                c->out->err = 1;
            else
                put_utf16_val(c->out, t.p, t.len);
            xc_wbuf_free(&t);
        }
    }
    g_ptr_array_free(words, TRUE);
}

/* Headers that have their own properties are not kept twice. */
static int x_header_mapped(const char *lname)
{
    return !strcmp(lname, "x-priority") ||
           !strcmp(lname, "x-msmail-priority");
}

/* X-* fields as PS_INTERNET_HEADERS named properties (first of each). */
static void put_x_headers(mconv *c, GMimeObject *o)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(o);
    int n = g_mime_header_list_get_count(hl);
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             NULL);

    for (int i = 0; i < n; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *name = g_mime_header_get_name(h);
        const char *v = g_mime_header_get_value(h);
        char *lname, *val;
        uint16_t id;
        int ok = 1;

        if (name == NULL || g_ascii_strncasecmp(name, "X-", 2) ||
            strlen(name) >= MAX_NAME)
            continue;
        for (const char *p = name; *p; p++)
            if (*p <= ' ' || *p >= 0x7F || *p == ':')
                ok = 0;
        if (!ok)
            continue;
        lname = g_ascii_strdown(name, -1);
        if (x_header_mapped(lname) || g_hash_table_contains(seen, lname)) {
            g_free(lname);
            continue;
        }
        g_hash_table_add(seen, lname);
        id = named_id(c, ps_internet_headers, lname);
        if (id == 0)
            continue;
        val = trimmed(v);
        if (*val)
            put_str(c, PROP_TAG(PT_UNICODE, id), val);
        g_free(val);
    }
    g_hash_table_destroy(seen);
}

static gint header_offset_cmp(gconstpointer a, gconstpointer b)
{
    gint64 x = g_mime_header_get_offset(*(GMimeHeader *const *)a);
    gint64 y = g_mime_header_get_offset(*(GMimeHeader *const *)b);
    return x < y ? -1 : x > y;
}

/* PR_TRANSPORT_MESSAGE_HEADERS: the message's fields and its body
   entity's (GMime keeps Content-* apart) in their original order. */
static void put_transport_headers(mconv *c, GMimeMessage *m)
{
    GPtrArray *all = g_ptr_array_new();
    GMimeObject *objs[2] = { GMIME_OBJECT(m), g_mime_message_get_mime_part(m) };
    xc_wbuf raw, crlf;

    for (int k = 0; k < 2; k++) {
        GMimeHeaderList *hl;
        int n;

        if (objs[k] == NULL)
            continue;
        hl = g_mime_object_get_header_list(objs[k]);
        n = g_mime_header_list_get_count(hl);
        for (int i = 0; i < n; i++)
            g_ptr_array_add(all, g_mime_header_list_get_header_at(hl, i));
    }
    g_ptr_array_sort(all, header_offset_cmp);
    xc_wbuf_init(&raw, 0);
    xc_wbuf_init(&crlf, 0);
    for (guint i = 0; i < all->len; i++) {
        GMimeHeader *h = g_ptr_array_index(all, i);
        const char *name = g_mime_header_get_raw_name(h);
        const char *v = g_mime_header_get_raw_value(h);
        size_t vn = v ? strlen(v) : 0;

        xc_out(&raw, name ? name : "");
        xc_put_u8(&raw, ':');
        xc_put_bytes(&raw, v ? v : "", vn);
        if (vn == 0 || (v[vn - 1] != '\n' && v[vn - 1] != '\r'))
            xc_put_bytes(&raw, "\r\n", 2);
    }
    put_crlf(&crlf, raw.p, raw.len);
    if (raw.err || crlf.err)
        c->out->err = 1;
    else
        put_text(c, PR_TRANSPORT_MESSAGE_HEADERS, (const char *)crlf.p,
                 crlf.len);
    xc_wbuf_free(&raw);
    xc_wbuf_free(&crlf);
    g_ptr_array_free(all, TRUE);
}

/* ---- attachments ---- */

static char *object_filename(GMimeObject *o)
{
    const char *f = g_mime_object_get_content_disposition_parameter(
        o, "filename");
    const char *base;

    if (f == NULL || *f == '\0')
        f = g_mime_object_get_content_type_parameter(o, "name");
    if (f == NULL)
        return NULL;
    /* a name, not a path */
    base = f;
    for (const char *p = f; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    {
        char *t = trimmed(base);
        if (*t == '\0') {
            g_free(t);
            return NULL;
        }
        return t;
    }
}

/* Long name, 8.3 name, extension and display name. */
static void put_filename(mconv *c, const char *fname)
{
    xc_wbuf t;
    const char *name, *dot;
    char shortname[13], ext[5];
    size_t bn = 0, en = 0;

    xc_wbuf_init(&t, 0);
    utf8_clean(&t, (const uint8_t *)fname, strlen(fname));
    xc_put_u8(&t, 0);
    if (t.err) {
        c->out->err = 1;
        xc_wbuf_free(&t);
        return;
    }
    name = (const char *)t.p;
    put_str(c, PR_ATTACH_LONG_FILENAME, name);
    dot = strrchr(name, '.');
    if (dot != NULL && dot != name && dot[1] != '\0') {
        put_str(c, PR_ATTACH_EXTENSION, dot);
        for (const char *p = dot + 1; *p && en < 3; p++)
            if (g_ascii_isalnum(*p))
                ext[en++] = g_ascii_toupper(*p);
    } else {
        dot = name + strlen(name);
    }
    ext[en] = '\0';
    /* PidTagAttachFilename: an 8.3 name made of the long one */
    for (const char *p = name; p < dot && bn < 8; p++)
        if (g_ascii_isalnum(*p) || *p == '_' || *p == '-')
            shortname[bn++] = g_ascii_toupper(*p);
    if (bn == 0) {
        memcpy(shortname, "ATTACH", 6);
        bn = 6;
    }
    if (en > 0) {
        shortname[bn++] = '.';
        memcpy(shortname + bn, ext, en);
        bn += en;
    }
    shortname[bn] = '\0';
    put_str(c, PR_ATTACH_FILENAME, shortname);
    put_str(c, PR_DISPLAY_NAME_W, name);
    xc_wbuf_free(&t);
}

static void put_mime_tag(mconv *c, GMimeObject *o)
{
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    char *t, *l;

    if (ct == NULL)
        return;
    t = g_mime_content_type_get_mime_type(ct);
    l = g_ascii_strdown(t, -1);
    put_str(c, PR_ATTACH_MIME_TAG, l);
    g_free(l);
    g_free(t);
}

/* A by-value attachment (PR_ATTACH_METHOD 1) of o with data; its file
   name is fname if given, else o's. */
static void attach_bytes(mconv *c, GMimeObject *o, const uint8_t *data,
                         size_t n, int hidden, const char *fname,
                         uint32_t *num)
{
    char *own = fname ? NULL : object_filename(o);
    const char *cid = g_mime_object_get_content_id(o);
    const char *loc = g_mime_object_get_header(o, "Content-Location");

    xc_put_long(c->out, XW_MARK_NEW_ATTACH, (int32_t)*num);
    xc_put_long(c->out, PR_ATTACH_METHOD, ATTACH_BY_VALUE);
    if (fname || own)
        put_filename(c, fname ? fname : own);
    put_mime_tag(c, o);
    if (cid != NULL) {
        char *v = trimmed(cid);
        put_str(c, PR_ATTACH_CONTENT_ID, v);
        g_free(v);
    }
    if (loc != NULL) {
        char *v = trimmed(loc);
        put_str(c, PR_ATTACH_CONTENT_LOCATION, v);
        g_free(v);
    }
    xc_put_bool(c->out, PR_ATTACHMENT_HIDDEN, hidden);
    if (hidden)
        xc_put_long(c->out, PR_ATTACH_FLAGS, ATT_MHTML_REF);
    xc_put_long(c->out, PR_RENDERING_POSITION, -1);
    xc_put_long(c->out, PR_ATTACH_SIZE, n > INT32_MAX ? INT32_MAX
                                                      : (int32_t)n);
    xc_put_bin(c->out, PR_ATTACH_DATA_BIN, data, n);
    xc_put_long(c->out, XW_MARK_END_ATTACH, 0);
    (*num)++;
    g_free(own);
}

static void attach_leaf(mconv *c, GMimeObject *o, int hidden, uint32_t *num)
{
    xc_wbuf d;

    xc_wbuf_init(&d, 0);
    part_data(o, &d);
    if (d.err)
        c->out->err = 1;
    else
        attach_bytes(c, o, d.p, d.len, hidden, NULL, num);
    xc_wbuf_free(&d);
}

/*
 * application/ms-tnef (winmail.dat, [MS-OXTNEF]): the winmail.dat whose
 * message properties convert_message took (c->tnef) is replaced by the
 * attachments it carries; any other, or one that doesn't decode, stays a
 * by-value attachment.
 */
static int tnef_part(mconv *c, GMimeObject *part, uint32_t *num)
{
    xc_wbuf d;
    size_t n = 0;
    const char *err;

    if (part != c->tnef) {
        attach_leaf(c, part, 0, num);
        return 0;
    }
    xc_wbuf_init(&d, 0);
    part_data(part, &d);
    if (d.err || xc_tnef_decode_parts(d.p, d.len, *num, XC_TNEF_ATTACH,
                                      c->names, c->ctx, c->out, &n,
                                      &err) < 0)
        attach_leaf(c, part, 0, num);
    else
        *num += (uint32_t)n;
    xc_wbuf_free(&d);
    return 0;
}

static int is_tnef(GMimeObject *o)
{
    char *f;
    int r;

    if (is_type(o, "application", "ms-tnef") ||
        is_type(o, "application", "vnd.ms-tnef"))
        return 1;
    f = object_filename(o);
    r = f != NULL && !g_ascii_strcasecmp(f, "winmail.dat");
    g_free(f);
    return r;
}

static int convert_message(mconv *c, GMimeMessage *m);

static int is_embedded_type(GMimeObject *o)
{
    return is_type(o, "message", "rfc822") ||
           is_type(o, "message", "rfc2822") ||
           is_type(o, "message", "global") || is_type(o, "message", "news");
}

static int attach_message(mconv *c, GMimeObject *o, uint32_t *num)
{
    GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
    char *fname;

    if (m == NULL || !is_embedded_type(o)) {
        /* message/delivery-status and the like: their content as is */
        xc_wbuf d;

        xc_wbuf_init(&d, 0);
        object_bytes(o, 0, &d);
        if (d.err)
            c->out->err = 1;
        else
            attach_bytes(c, o, d.p, d.len, 0, NULL, num);
        xc_wbuf_free(&d);
        return 0;
    }
    fname = object_filename(o);
    xc_put_long(c->out, XW_MARK_NEW_ATTACH, (int32_t)*num);
    xc_put_long(c->out, PR_ATTACH_METHOD, ATTACH_EMBEDDED_MSG);
    if (fname != NULL)
        put_filename(c, fname);
    else
        put_str(c, PR_DISPLAY_NAME_W, g_mime_message_get_subject(m));
    put_mime_tag(c, o);
    xc_put_bool(c->out, PR_ATTACHMENT_HIDDEN, 0);
    xc_put_long(c->out, PR_RENDERING_POSITION, -1);
    xc_put_long(c->out, XW_MARK_START_EMBED, 0);
    g_free(fname);
    if (convert_message(c, m) < 0)
        return -1;
    xc_put_long(c->out, XW_MARK_END_EMBED, 0);
    xc_put_long(c->out, XW_MARK_END_ATTACH, 0);
    (*num)++;
    return 0;
}

/* Every entity that isn't a body becomes an attachment. */
static int walk_attachments(mconv *c, GMimeObject *o, const bodies *b,
                            int hidden, uint32_t *num)
{
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int n = g_mime_multipart_get_count(mp);
        int related = is_type(o, "multipart", "related");
        int alt = is_type(o, "multipart", "alternative");
        GMimeObject *root = related ? related_root(mp) : NULL;

        for (int i = 0; i < n; i++) {
            GMimeObject *k = g_mime_multipart_get_part(mp, i);

            /* alternatives to the chosen body are dropped, except
               text/calendar (a meeting request) */
            if (alt && GMIME_IS_PART(k) && is_type(k, "text", "*") &&
                !is_type(k, "text", "calendar") &&
                !is_attachment_disposition(k))
                continue;
            if (walk_attachments(c, k, b, related ? k != root : hidden,
                                 num) < 0)
                return -1;
        }
        return 0;
    }
    if (GMIME_IS_MESSAGE_PART(o))
        return attach_message(c, o, num);
    if (o == b->plain || o == b->html)
        return 0;
    if (is_tnef(o))
        return tnef_part(c, o, num);
    attach_leaf(c, o, hidden, num);
    return 0;
}

/* [MS-OXOSMIME] 2.1.3.1: a clear-signed message's only attachment is the
   multipart/signed entity: its Content-Type field and its content. */
static void attach_signed(mconv *c, GMimeObject *body, uint32_t *num)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(body);
    GMimeHeader *h = g_mime_header_list_get_header(hl, "Content-Type");
    const char *v = h ? g_mime_header_get_raw_value(h) : NULL;
    xc_wbuf d, crlf;

    xc_wbuf_init(&d, 0);
    xc_wbuf_init(&crlf, 0);
    xc_out(&d, "Content-Type:");
    xc_out(&d, v ? v : " multipart/signed\r\n");
    put_crlf(&crlf, d.p, d.len);
    xc_put_bytes(&crlf, "\r\n", 2);
    object_bytes(body, 0, &crlf);
    if (crlf.err || d.err)
        c->out->err = 1;
    else
        attach_bytes(c, body, crlf.p, crlf.len, 0, "smime.p7m", num);
    xc_wbuf_free(&d);
    xc_wbuf_free(&crlf);
}

enum { SMIME_NONE, SMIME_SIGNED, SMIME_OPAQUE };

static int smime_kind(GMimeObject *body)
{
    if (body == NULL)
        return SMIME_NONE;
    if (is_type(body, "multipart", "signed"))
        return SMIME_SIGNED;
    if (GMIME_IS_PART(body) &&
        (is_type(body, "application", "pkcs7-mime") ||
         is_type(body, "application", "x-pkcs7-mime")))
        return SMIME_OPAQUE;
    return SMIME_NONE;
}

/* The message's winmail.dat: the first TNEF leaf of its body tree
   (embedded messages have their own). */
static GMimeObject *find_tnef(GMimeObject *o)
{
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int n = g_mime_multipart_get_count(mp);

        for (int i = 0; i < n; i++) {
            GMimeObject *t = find_tnef(g_mime_multipart_get_part(mp, i));
            if (t != NULL)
                return t;
        }
        return NULL;
    }
    return GMIME_IS_PART(o) && is_tnef(o) ? o : NULL;
}

/* Properties the transport's MIME header says with authority: a TNEF
   stream's copy of them (written by the sender's client) is ignored. */
static int mime_owns(uint32_t tag)
{
    switch (PROP_ID(tag)) {
    case 0x0042: case 0x0064: case 0x0065: case 0x5D02:  /* sent repr. */
    case 0x0C1A: case 0x0C1E: case 0x0C1F: case 0x5D01:  /* sender */
    case 0x004F: case 0x0050:                            /* reply-to */
    case 0x007D: case 0x1035: case 0x1039: case 0x1042:  /* headers, ids */
        return 1;
    }
    return 0;
}

/*
 * [MS-OXBBODY]: a message whose only body is PR_RTF_COMPRESSED (Outlook's
 * rich text, usually from a winmail.dat) gets PR_HTML when the RTF
 * encapsulates HTML ([MS-OXRTFEX]), and PR_BODY as plain text of the RTF.
 */
static void rtf_bodies(xc_wbuf *out, const xc_propval *rtf, int has_cpid)
{
    xc_wbuf raw, t;
    const char *err;
    int h;

    xc_wbuf_init(&raw, 0);
    xc_wbuf_init(&t, 0);
    if (xc_rtf_decompress(rtf->v.bin.p, rtf->v.bin.n, 64u << 20, &raw,
                          &err) < 0)
        goto out;
    h = xc_rtf_html(raw.p, raw.len, &t, &err);
    if (h == 1 && !t.err) {
        xc_put_bin(out, PR_HTML, t.p, t.len);
        if (!has_cpid)
            xc_put_long(out, PR_INTERNET_CPID, CPID_UTF8);
    }
    xc_wbuf_reset(&t);
    if (h >= 0 && xc_rtf_text(raw.p, raw.len, &t, &err) == 0 && !t.err)
        put_utf16(out, PR_BODY, t.p, t.len);
out:
    xc_wbuf_free(&raw);
    xc_wbuf_free(&t);
}

/*
 * The message properties of the winmail.dat c->tnef join those written
 * since mark: a TNEF value replaces the MIME one (the sender's client
 * knew the message better than its MIME rendering), except for what
 * mime_owns. Then an RTF-only body gets its HTML and text. If the stream
 * doesn't decode, the properties stay as they are and c->tnef is cleared
 * (the part stays an attachment).
 */
static void merge_tnef(mconv *c, size_t mark)
{
    xc_wbuf d, t, mine;
    xc_propval *pm = NULL, *pt = NULL;
    size_t nm = 0, nt = 0;
    const xc_propval *rtf = NULL;
    int has_body = 0, has_cpid = 0;
    const char *err;

    xc_wbuf_init(&d, 0);
    xc_wbuf_init(&t, 0);
    xc_wbuf_init(&mine, 0);
    part_data(c->tnef, &d);
    if (d.err || c->out->err ||
        xc_tnef_decode_parts(d.p, d.len, 0, XC_TNEF_PROPS, c->names, c->ctx,
                             &t, NULL, &err) < 0 ||
        (pm = calloc(XW_MAX_PROPS, sizeof(*pm))) == NULL ||
        (pt = calloc(XW_MAX_PROPS, sizeof(*pt))) == NULL) {
        c->tnef = NULL;
        goto out;
    }
    xc_put_bytes(&mine, c->out->p + mark, c->out->len - mark);
    if (mine.err ||
        xc_props_decode(mine.p, mine.len, pm, XW_MAX_PROPS, &nm, &err) < 0 ||
        xc_props_decode(t.p, t.len, pt, XW_MAX_PROPS, &nt, &err) < 0) {
        c->tnef = NULL;
        goto out;
    }
    c->out->len = mark;
    for (size_t i = 0; i < nm; i++) {
        const xc_propval *o = xc_props_find(pt, nt, pm[i].tag);
        if (o == NULL || mime_owns(pm[i].tag))
            xc_put_propval(c->out, &pm[i]);
    }
    for (size_t i = 0; i < nt; i++)
        if (!mime_owns(pt[i].tag) || !xc_props_find(pm, nm, pt[i].tag))
            xc_put_propval(c->out, &pt[i]);
    for (size_t i = 0; i < nm + nt; i++) {
        const xc_propval *v = i < nm ? &pm[i] : &pt[i - nm];
        if (v->tag == PR_RTF_COMPRESSED)
            rtf = v;
        else if (v->tag == PR_BODY || v->tag == PR_HTML ||
                 PROP_ID(v->tag) == PROP_ID(PR_BODY) ||
                 PROP_ID(v->tag) == PROP_ID(PR_HTML))
            has_body = 1;
        else if (v->tag == PR_INTERNET_CPID)
            has_cpid = 1;
    }
    if (rtf != NULL && !has_body)
        rtf_bodies(c->out, rtf, has_cpid);
out:
    free(pm);
    free(pt);
    xc_wbuf_free(&d);
    xc_wbuf_free(&t);
    xc_wbuf_free(&mine);
}

static int convert_message(mconv *c, GMimeMessage *m)
{
    GMimeObject *mo = GMIME_OBJECT(m);
    GMimeObject *body = g_mime_message_get_mime_part(m);
    bodies b = { NULL, NULL };
    InternetAddress *from, *sender;
    uint32_t row = 0, num = 0;
    int smime = smime_kind(body), ret;
    size_t mark = c->out->len;
    GMimeObject *outer_tnef = c->tnef;

    put_str(c, PR_MESSAGE_CLASS,
            smime == SMIME_SIGNED ? "IPM.Note.SMIME.MultipartSigned"
            : smime == SMIME_OPAQUE ? "IPM.Note.SMIME" : "IPM.Note");
    put_subject(c, m);
    from = first_mailbox(g_mime_message_get_from(m));
    sender = first_mailbox(g_mime_message_get_sender(m));
    if (sender == NULL)
        sender = from;
    if (from != NULL)
        put_party(c, from, PR_SENT_REPRESENTING_NAME,
                  PR_SENT_REPRESENTING_EMAIL_ADDRESS,
                  PR_SENT_REPRESENTING_ADDRTYPE,
                  PR_SENT_REPRESENTING_SMTP_ADDRESS);
    if (sender != NULL)
        put_party(c, sender, PR_SENDER_NAME, PR_SENDER_EMAIL_ADDRESS,
                  PR_SENDER_ADDRTYPE, PR_SENDER_SMTP_ADDRESS);
    put_reply_to(c, g_mime_message_get_reply_to(m));
    put_date(c, m);
    put_received(c, mo);
    put_ids(c, m);
    put_importance(c, mo);
    put_sensitivity(c, mo);
    put_thread_index(c, mo);
    put_keywords(c, mo);
    put_x_headers(c, mo);
    if (smime == SMIME_OPAQUE) {
        /* [MS-OXOSMIME] 2.1.3.2: the Content-Type, to write it back; as
           GMime writes it, so that it survives a round trip unchanged */
        uint16_t id = named_id(c, ps_internet_headers, "content-type");
        GMimeContentType *ct = g_mime_object_get_content_type(body);

        if (id != 0 && ct != NULL) {
            char *e = g_mime_content_type_encode(ct, NULL);
            char *v = trimmed(e);
            put_str(c, PROP_TAG(PT_UNICODE, id), v);
            g_free(v);
            g_free(e);
        }
    }
    put_transport_headers(c, m);
    if (body != NULL && smime != SMIME_OPAQUE)
        find_body(body, &b);
    put_bodies(c, &b);
    c->tnef = body != NULL && smime == SMIME_NONE ? find_tnef(body) : NULL;
    if (c->tnef != NULL)
        merge_tnef(c, mark);

    put_recips(c, g_mime_message_get_to(m), MAPI_TO, &row, 0);
    put_recips(c, g_mime_message_get_cc(m), MAPI_CC, &row, 0);
    put_recips(c, g_mime_message_get_bcc(m), MAPI_BCC, &row, 0);

    ret = 0;
    if (body == NULL)
        ;
    else if (smime == SMIME_SIGNED)
        attach_signed(c, body, &num);
    else if (smime == SMIME_OPAQUE)
        attach_leaf(c, body, 0, &num);
    else
        ret = walk_attachments(c, body, &b, 0, &num);
    c->tnef = outer_tnef;
    return ret;
}

static GMimeMessage *parse_once(mconv *c, const char *p, size_t n)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(p, n);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *m;

    g_object_unref(stream);
    m = g_mime_parser_construct_message(parser, c->popt);
    g_object_unref(parser);
    return m;
}

/* Input that doesn't start with a header block is read as a body
   without headers, as a store does with whatever it is given. */
static GMimeMessage *parse_message(mconv *c, const uint8_t *p, size_t n)
{
    GMimeMessage *m = parse_once(c, (const char *)p, n);
    char *q;

    if (m != NULL || n == 0)
        return m;
    q = g_malloc(n + 2);
    memcpy(q, "\r\n", 2);
    memcpy(q + 2, p, n);
    m = parse_once(c, q, n + 2);
    g_free(q);
    return m;
}

int xc_mime_to_content(const uint8_t *mime, size_t len,
                       const xc_mime_limits *lim, xc_name_to_id_fn names,
                       void *ctx, xc_wbuf *out, const char **error_r)
{
    static const char *fallback[] = { "UTF-8", "windows-1252", NULL };
    xc_mime_limits dlim;
    mconv c;
    GMimeMessage *m;
    GMimeObject *body;
    size_t start = out->len;
    int start_err = out->err, rc = -1;

    xc_mime_init();
    if (lim == NULL) {
        xc_mime_limits_default(&dlim);
        lim = &dlim;
    }
    memset(&c, 0, sizeof(c));
    c.lim = lim;
    c.names = names;
    c.ctx = ctx;
    c.out = out;
    c.popt = g_mime_parser_options_new();
    g_mime_parser_options_set_fallback_charsets(c.popt, fallback);
    g_mime_parser_options_set_allow_addresses_without_domain(c.popt, TRUE);

    m = parse_message(&c, mime, len);
    if (m == NULL) {
        c.err = "not an Internet message";
        goto done;
    }
    {
        size_t count = 0, bytes = 0;

        if (check_headers(&c, GMIME_OBJECT(m), &count, &bytes) < 0)
            goto done;
        body = g_mime_message_get_mime_part(m);
        if (body != NULL && check_tree(&c, body, 1, count, bytes) < 0)
            goto done;
    }
    xc_put_long(out, XW_MARK_START_MESSAGE, 0);
    if (convert_message(&c, m) < 0)
        goto done;
    xc_put_long(out, XW_MARK_END_MESSAGE, 0);
    if (out->err) {
        c.err = "out of memory or over the output limit";
        goto done;
    }
    rc = 0;
done:
    if (m != NULL)
        g_object_unref(m);
    g_mime_parser_options_free(c.popt);
    if (rc < 0) {
        out->len = start;
        out->err = start_err;
        *error_r = c.err ? c.err : "conversion failed";
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* content -> MIME                                                     */

typedef struct rrange {
    const xc_propval *p;
    size_t n;
} rrange;

struct rmsg;

typedef struct ratt {
    rrange props;
    struct rmsg *embed;
} ratt;

typedef struct rmsg {
    rrange props;
    rrange *recips;
    size_t nrecips;
    ratt *atts;
    size_t natts;
} rmsg;

typedef struct rconv {
    xc_id_to_name_fn names;
    void *ctx;
    uint32_t hash;          /* of the whole content, for boundaries */
    unsigned boundaries;
    const char *err;
} rconv;

static int is_marker(uint32_t tag)
{
    switch (tag) {
    case XW_MARK_START_MESSAGE: case XW_MARK_END_MESSAGE:
    case XW_MARK_START_RECIP: case XW_MARK_END_RECIP:
    case XW_MARK_NEW_ATTACH: case XW_MARK_END_ATTACH:
    case XW_MARK_START_EMBED: case XW_MARK_END_EMBED:
        return 1;
    default:
        return 0;
    }
}

static void rmsg_free(rmsg *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->natts; i++) {
        rmsg_free(m->atts[i].embed);
        free(m->atts[i].embed);
    }
    free(m->recips);
    free(m->atts);
}

static size_t props_run(const xc_propval *pv, size_t n, size_t pos)
{
    while (pos < n && !is_marker(pv[pos].tag))
        pos++;
    return pos;
}

/* Split content at *pos (just after START_MESSAGE or START_EMBED) into a
   tree; *pos ends on the marker that ends the message. */
static int parse_msg(rconv *c, const xc_propval *pv, size_t n, size_t *pos,
                     size_t depth, rmsg *m)
{
    size_t p = *pos, e;

    if (depth > XC_MIME_DEFAULT_DEPTH) {
        c->err = "embedded messages nested too deeply";
        return -1;
    }
    e = props_run(pv, n, p);
    m->props.p = pv + p;
    m->props.n = e - p;
    p = e;
    while (p < n) {
        if (pv[p].tag == XW_MARK_START_RECIP) {
            rrange *r = realloc(m->recips, (m->nrecips + 1) * sizeof(*r));

            if (r == NULL) {
                c->err = "out of memory";
                return -1;
            }
            m->recips = r;
            e = props_run(pv, n, ++p);
            if (e >= n || pv[e].tag != XW_MARK_END_RECIP) {
                c->err = "recipient without its end marker";
                return -1;
            }
            r[m->nrecips].p = pv + p;
            r[m->nrecips++].n = e - p;
            p = e + 1;
        } else if (pv[p].tag == XW_MARK_NEW_ATTACH) {
            ratt *a = realloc(m->atts, (m->natts + 1) * sizeof(*a));

            if (a == NULL) {
                c->err = "out of memory";
                return -1;
            }
            m->atts = a;
            a = &m->atts[m->natts++];
            memset(a, 0, sizeof(*a));
            e = props_run(pv, n, ++p);
            a->props.p = pv + p;
            a->props.n = e - p;
            p = e;
            if (p < n && pv[p].tag == XW_MARK_START_EMBED) {
                p++;
                a->embed = calloc(1, sizeof(*a->embed));
                if (a->embed == NULL) {
                    c->err = "out of memory";
                    return -1;
                }
                if (parse_msg(c, pv, n, &p, depth + 1, a->embed) < 0)
                    return -1;
                if (p >= n || pv[p].tag != XW_MARK_END_EMBED) {
                    c->err = "embedded message without its end marker";
                    return -1;
                }
                p++;
            }
            if (p >= n || pv[p].tag != XW_MARK_END_ATTACH) {
                c->err = "attachment without its end marker";
                return -1;
            }
            p++;
        } else {
            break;
        }
    }
    *pos = p;
    return 0;
}

static const xc_propval *rfind(const rrange *r, uint32_t tag)
{
    return xc_props_find(r->p, r->n, tag);
}

/* UTF-16LE to UTF-8, lenient: bad code units become U+FFFD, NULs go. */
static void utf16_lenient(xc_wbuf *w, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t u = (uint32_t)(p[i] | p[i + 1] << 8);

        if (u >= 0xD800 && u <= 0xDBFF && i + 3 < n) {
            uint32_t lo = (uint32_t)(p[i + 2] | p[i + 3] << 8);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                xc_put_utf8_char(w, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
                i += 2;
                continue;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF)
            u = 0xFFFD;
        if (u != 0)
            xc_put_utf8_char(w, u);
    }
}

/* A string value as clean UTF-8 (g_free it), or NULL. */
static char *val_str(const xc_propval *v)
{
    xc_wbuf w;
    char *s;

    if (v == NULL)
        return NULL;
    xc_wbuf_init(&w, 0);
    if (PROP_TYPE(v->tag) == PT_UNICODE)
        utf16_lenient(&w, v->v.bin.p, v->v.bin.n);
    else if (PROP_TYPE(v->tag) == PT_STRING8 ||
             PROP_TYPE(v->tag) == PT_BINARY)
        utf8_clean(&w, v->v.bin.p, v->v.bin.n);
    else {
        xc_wbuf_free(&w);
        return NULL;
    }
    s = w.err ? NULL : g_strndup((const char *)w.p, w.len);
    xc_wbuf_free(&w);
    return s;
}

/* The string property with tag's id, PT_UNICODE or PT_STRING8, or NULL;
   empty strings count as absent. */
static char *rstr(const rrange *r, uint32_t tag)
{
    const xc_propval *v = rfind(r, PROP_TAG(PT_UNICODE, PROP_ID(tag)));
    char *s;

    if (v == NULL)
        v = rfind(r, PROP_TAG(PT_STRING8, PROP_ID(tag)));
    s = val_str(v);
    if (s != NULL && *s == '\0') {
        g_free(s);
        return NULL;
    }
    return s;
}

static int rlong(const rrange *r, uint32_t tag, int32_t *v)
{
    const xc_propval *p = rfind(r, tag);

    if (p == NULL)
        return 0;
    *v = p->v.i32;
    return 1;
}

/* Header text: CR, LF and other controls become blanks. In place. */
static char *hdr_clean(char *s)
{
    if (s == NULL)
        return NULL;
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = ' ';
    return s;
}

/* The SMTP address of a party: its SMTP address property, else its
   e-mail address when the address type is SMTP (or absent). */
static char *smtp_of(const rrange *r, uint32_t smtp_tag, uint32_t email_tag,
                     uint32_t type_tag)
{
    char *a = rstr(r, smtp_tag);
    char *t;

    if (a == NULL) {
        t = rstr(r, type_tag);
        if (t == NULL || !g_ascii_strcasecmp(t, "SMTP"))
            a = rstr(r, email_tag);
        g_free(t);
    }
    if (a != NULL) {
        g_strstrip(hdr_clean(a));
        if (*a == '\0' || strchr(a, ' ')) {
            g_free(a);
            return NULL;
        }
    }
    return a;
}

static void add_mailbox(GMimeMessage *msg, GMimeAddressType type,
                        char *name, const char *addr)
{
    hdr_clean(name);
    if (name != NULL && (*name == '\0' || !strcmp(name, addr)))
        name = NULL;
    g_mime_message_add_mailbox(msg, type, name, addr);
}

/* Reply-To from PR_REPLY_RECIPIENT_ENTRIES: a FlatEntryList of one-off
   EntryIDs ([MS-OXCDATA] 2.3.3, 2.2.5.1); other entries are skipped. */
static char *oneoff_string(xc_rbuf *r, int unicode)
{
    xc_wbuf w;
    size_t start = r->pos;
    char *s;

    if (unicode) {
        while (xc_rbuf_left(r) >= 2 && (r->p[r->pos] || r->p[r->pos + 1]))
            r->pos += 2;
        if (xc_rbuf_left(r) < 2) {
            r->err = 1;
            return NULL;
        }
    } else {
        while (xc_rbuf_left(r) >= 1 && r->p[r->pos])
            r->pos++;
        if (xc_rbuf_left(r) < 1) {
            r->err = 1;
            return NULL;
        }
    }
    xc_wbuf_init(&w, 0);
    if (unicode)
        utf16_lenient(&w, r->p + start, r->pos - start);
    else
        utf8_clean(&w, r->p + start, r->pos - start);
    r->pos += unicode ? 2 : 1;
    s = w.err ? NULL : g_strndup((const char *)w.p, w.len);
    xc_wbuf_free(&w);
    return s;
}

static void reply_to(GMimeMessage *msg, const xc_propval *v)
{
    xc_rbuf r;
    uint32_t count;

    if (v == NULL || PROP_TYPE(v->tag) != PT_BINARY)
        return;
    xc_rbuf_init(&r, v->v.bin.p, v->v.bin.n);
    count = xc_get_u32(&r);
    xc_get_u32(&r);
    for (uint32_t i = 0; i < count && !r.err; i++) {
        uint32_t size = xc_get_u32(&r);
        const uint8_t *e = xc_get_bytes(&r, size);
        xc_rbuf er;
        const uint8_t *uid;
        uint16_t flags;
        char *name, *type, *addr;

        if (e == NULL)
            return;
        while (r.pos % 4 && xc_rbuf_left(&r))
            r.pos++;
        xc_rbuf_init(&er, e, size);
        xc_get_u32(&er);
        uid = xc_get_bytes(&er, 16);
        xc_get_u16(&er);
        flags = xc_get_u16(&er);
        if (er.err || memcmp(uid, oneoff_uid, 16))
            continue;
        name = oneoff_string(&er, flags & ONEOFF_UNICODE);
        type = oneoff_string(&er, flags & ONEOFF_UNICODE);
        addr = oneoff_string(&er, flags & ONEOFF_UNICODE);
        if (!er.err && type && addr && !g_ascii_strcasecmp(type, "SMTP")) {
            g_strstrip(hdr_clean(addr));
            if (*addr && !strchr(addr, ' '))
                add_mailbox(msg, GMIME_ADDRESS_TYPE_REPLY_TO, name, addr);
        }
        g_free(name);
        g_free(type);
        g_free(addr);
    }
}

static void set_header(GMimeObject *o, const char *name, char *value)
{
    if (value == NULL)
        return;
    g_strstrip(hdr_clean(value));
    if (*value)
        g_mime_object_set_header(o, name, value, "utf-8");
}

/* "x-foo-bar" -> "X-Foo-Bar" */
static char *header_case(const char *lname)
{
    char *s = g_strdup(lname);
    int up = 1;

    for (char *p = s; *p; p++) {
        *p = up ? g_ascii_toupper(*p) : g_ascii_tolower(*p);
        up = *p == '-';
    }
    return s;
}

static int header_name_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7F || *s == ':')
            return 0;
    return 1;
}

/* Named properties: Keywords and X- headers; *ctype_r gets a
   PS_INTERNET_HEADERS "content-type" value (S/MIME). */
static void named_headers(rconv *c, const rrange *r, GMimeObject *mo,
                          char **ctype_r)
{
    for (size_t i = 0; i < r->n; i++) {
        const xc_propval *v = &r->p[i];
        uint16_t id = PROP_ID(v->tag), type = PROP_TYPE(v->tag);
        uint8_t guid[16];
        uint32_t lid;
        char name[MAX_NAME];

        if (id < 0x8000 || c->names == NULL)
            continue;
        name[0] = '\0';
        if (c->names(c->ctx, id, guid, &lid, name, sizeof(name)) < 0 ||
            name[0] == '\0')
            continue;
        if (!memcmp(guid, ps_public_strings, 16) &&
            !g_ascii_strcasecmp(name, "Keywords") &&
            (type == (PT_MV | PT_UNICODE) || type == (PT_MV | PT_STRING8))) {
            GString *s = g_string_new(NULL);
            xc_mv_iter it;
            xc_propval one;

            xc_mv_iter_init(&it, v);
            while (xc_mv_next(&it, &one) == 1) {
                char *w;

                one.tag = PROP_TAG(type & ~PT_MV, 0);
                w = val_str(&one);
                if (w != NULL && *g_strstrip(hdr_clean(w))) {
                    if (s->len)
                        g_string_append(s, ", ");
                    g_string_append(s, w);
                }
                g_free(w);
            }
            if (s->len)
                set_header(mo, "Keywords", s->str);
            g_string_free(s, TRUE);
        } else if (!memcmp(guid, ps_internet_headers, 16) &&
                   (type == PT_UNICODE || type == PT_STRING8)) {
            char *lname = g_ascii_strdown(name, -1);

            if (!strcmp(lname, "content-type")) {
                g_free(*ctype_r);
                *ctype_r = hdr_clean(val_str(v));
            } else if (!strncmp(lname, "x-", 2) && header_name_ok(lname) &&
                       !x_header_mapped(lname)) {
                char *hn = header_case(lname);
                char *val = val_str(v);

                set_header(mo, hn, val);
                g_free(hn);
                g_free(val);
            }
            g_free(lname);
        }
    }
}

static void envelope(rconv *c, const rmsg *m, GMimeMessage *msg,
                     char **ctype_r)
{
    const rrange *r = &m->props;
    GMimeObject *mo = GMIME_OBJECT(msg);
    char *from, *sender, *s;
    const xc_propval *v;
    int32_t l;

    from = smtp_of(r, PR_SENT_REPRESENTING_SMTP_ADDRESS, PR_SENT_REPRESENTING_EMAIL_ADDRESS, PR_SENT_REPRESENTING_ADDRTYPE);
    sender = smtp_of(r, PR_SENDER_SMTP_ADDRESS, PR_SENDER_EMAIL_ADDRESS, PR_SENDER_ADDRTYPE);
    if (from != NULL)
        add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, (s = rstr(r, PR_SENT_REPRESENTING_NAME)),
                    from);
    else if (sender != NULL)
        add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, (s = rstr(r, PR_SENDER_NAME)),
                    sender);
    else
        s = NULL;
    g_free(s);
    if (from != NULL && sender != NULL &&
        g_ascii_strcasecmp(from, sender)) {
        add_mailbox(msg, GMIME_ADDRESS_TYPE_SENDER, (s = rstr(r, PR_SENDER_NAME)),
                    sender);
        g_free(s);
    }
    g_free(from);
    g_free(sender);
    reply_to(msg, rfind(r, PR_REPLY_RECIPIENT_ENTRIES));

    for (size_t i = 0; i < m->nrecips; i++) {
        const rrange *rr = &m->recips[i];
        char *addr;
        int32_t type = 0;

        rlong(rr, PR_RECIPIENT_TYPE, &type);
        type &= 0xFF;
        if (type < MAPI_TO || type > MAPI_BCC)
            continue;
        addr = smtp_of(rr, PR_SMTP_ADDRESS_W, PR_EMAIL_ADDRESS_W, PR_ADDRTYPE);
        if (addr == NULL)
            continue;
        add_mailbox(msg, type == MAPI_TO ? GMIME_ADDRESS_TYPE_TO
                         : type == MAPI_CC ? GMIME_ADDRESS_TYPE_CC
                         : GMIME_ADDRESS_TYPE_BCC,
                    (s = rstr(rr, PR_DISPLAY_NAME_W)), addr);
        g_free(s);
        g_free(addr);
    }

    s = rstr(r, PR_SUBJECT);
    if (s == NULL) {
        char *pre = rstr(r, PR_SUBJECT_PREFIX), *norm = rstr(r, PR_NORMALIZED_SUBJECT);
        if (pre || norm)
            s = g_strconcat(pre ? pre : "", norm ? norm : "", NULL);
        g_free(pre);
        g_free(norm);
    }
    if (s != NULL) {
        g_mime_message_set_subject(msg, hdr_clean(s), "utf-8");
        g_free(s);
    }
    v = rfind(r, PR_CLIENT_SUBMIT_TIME);
    if (v != NULL && v->v.i64 >= 0) {
        GDateTime *dt = g_date_time_new_from_unix_utc(
            v->v.i64 / 10000000 - FILETIME_UNIX_DIFF);
        if (dt != NULL) {
            g_mime_message_set_date(msg, dt);
            g_date_time_unref(dt);
        }
    }
    s = rstr(r, PR_INTERNET_MESSAGE_ID);
    if (s != NULL) {
        char *id = g_strstrip(hdr_clean(s));
        size_t n = strlen(id);

        if (n >= 2 && id[0] == '<' && id[n - 1] == '>') {
            id[n - 1] = '\0';
            id++;
        }
        if (msgid_ok(id))
            g_mime_message_set_message_id(msg, id);
        g_free(s);
    }
    set_header(mo, "In-Reply-To", (s = rstr(r, PR_IN_REPLY_TO_ID)));
    g_free(s);
    set_header(mo, "References", (s = rstr(r, PR_INTERNET_REFERENCES)));
    g_free(s);
    if (rlong(r, PR_IMPORTANCE, &l) && l >= 0 && l <= 2) {
        static const char *const imp[] = { "low", "normal", "high" };
        static const char *const xp[] = { "5 (Lowest)", "3 (Normal)",
                                          "1 (Highest)" };
        g_mime_object_set_header(mo, "Importance", imp[l], NULL);
        g_mime_object_set_header(mo, "X-Priority", xp[l], NULL);
    }
    if (rlong(r, PR_PRIORITY, &l) && l >= -1 && l <= 1) {
        static const char *const pr[] = { "non-urgent", "normal", "urgent" };
        g_mime_object_set_header(mo, "Priority", pr[l + 1], NULL);
    }
    if (rlong(r, PR_SENSITIVITY, &l) && l >= 1 && l <= 3) {
        static const char *const se[] = { "Personal", "Private",
                                          "Company-Confidential" };
        g_mime_object_set_header(mo, "Sensitivity", se[l - 1], NULL);
    }
    set_header(mo, "Thread-Topic", (s = rstr(r, PR_CONVERSATION_TOPIC)));
    g_free(s);
    v = rfind(r, PR_CONVERSATION_INDEX);
    if (v != NULL && v->v.bin.n > 0) {
        s = g_base64_encode(v->v.bin.p, v->v.bin.n);
        g_mime_object_set_header(mo, "Thread-Index", s, NULL);
        g_free(s);
    }
    named_headers(c, r, mo, ctype_r);
}

/* Content-derived, so the same content gives the same bytes; "=_" can't
   start a line of quoted-printable or base64, so no body collides. */
static void set_boundary(rconv *c, GMimeMultipart *mp)
{
    char b[64];

    snprintf(b, sizeof(b), "----=_xc_%08x_%u", c->hash, c->boundaries++);
    g_mime_multipart_set_boundary(mp, b);
}

static GMimeObject *leaf(const char *mime_type, const uint8_t *p, size_t n,
                         GMimeContentEncoding enc)
{
    GMimeContentType *ct = g_mime_content_type_parse(NULL, mime_type);
    GMimeObject *o;
    GMimeStream *s;
    GMimeDataWrapper *dw;

    o = g_mime_object_new(NULL, ct);
    g_object_unref(ct);
    if (!GMIME_IS_PART(o)) {
        /* a multipart or message type on a leaf: send it as bytes */
        g_object_unref(o);
        o = GMIME_OBJECT(g_mime_part_new_with_type("application",
                                                   "octet-stream"));
    }
    s = g_mime_stream_mem_new_with_buffer((const char *)p, n);
    dw = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(GMIME_PART(o), dw);
    g_mime_part_set_content_encoding(GMIME_PART(o), enc);
    g_object_unref(dw);
    g_object_unref(s);
    return o;
}

static GMimeObject *text_leaf(const char *subtype, const char *charset,
                              const uint8_t *p, size_t n)
{
    char *type = g_strdup_printf("text/%s; charset=%s", subtype, charset);
    GMimeObject *o = leaf(type, p, n, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);

    g_free(type);
    return o;
}

/* A MIME type we can put in Content-Type: type/subtype tokens. */
static int mime_type_ok(const char *t)
{
    const char *slash = strchr(t, '/');

    if (slash == NULL || slash == t || slash[1] == '\0')
        return 0;
    for (const char *p = t; *p; p++)
        if (p != slash && !(g_ascii_isalnum(*p) || strchr("!#$&-^_.+", *p)))
            return 0;
    return 1;
}

static const char *cpid_charset(int32_t cpid)
{
    static const struct { int32_t cpid; const char *name; } map[] = {
        { 65001, "utf-8" }, { 20127, "us-ascii" }, { 28591, "iso-8859-1" },
        { 28592, "iso-8859-2" }, { 28595, "iso-8859-5" },
        { 28597, "iso-8859-7" }, { 28605, "iso-8859-15" },
        { 1250, "windows-1250" }, { 1251, "windows-1251" },
        { 1252, "windows-1252" }, { 1253, "windows-1253" },
        { 1254, "windows-1254" }, { 1255, "windows-1255" },
        { 1256, "windows-1256" }, { 1257, "windows-1257" },
        { 1258, "windows-1258" }, { 20866, "koi8-r" }, { 21866, "koi8-u" },
        { 50220, "iso-2022-jp" }, { 932, "shift_jis" }, { 51932, "euc-jp" },
        { 936, "gb2312" }, { 54936, "gb18030" }, { 950, "big5" },
        { 949, "ks_c_5601-1987" }, { 51949, "euc-kr" },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].cpid == cpid)
            return map[i].name;
    return NULL;
}

static GMimeObject *multipart(rconv *c, const char *subtype)
{
    GMimeMultipart *mp = g_mime_multipart_new_with_subtype(subtype);

    set_boundary(c, mp);
    return GMIME_OBJECT(mp);
}

static void mp_add(GMimeObject *mp, GMimeObject *part)
{
    g_mime_multipart_add(GMIME_MULTIPART(mp), part);
    g_object_unref(part);
}

static GMimeMessage *build_message(rconv *c, const rmsg *m, size_t depth);

/* One attachment as a MIME entity, or NULL to leave it out. */
static GMimeObject *attachment(rconv *c, const ratt *a, size_t depth,
                               int *related_r)
{
    const rrange *r = &a->props;
    const xc_propval *data = rfind(r, PR_ATTACH_DATA_BIN);
    char *fname = rstr(r, PR_ATTACH_LONG_FILENAME), *cid, *loc, *tag;
    GMimeObject *o;
    int32_t hidden = 0, flags = 0;
    const xc_propval *hv = rfind(r, PR_ATTACHMENT_HIDDEN);

    if (fname == NULL)
        fname = rstr(r, PR_ATTACH_FILENAME);
    if (a->embed != NULL) {
        GMimeMessage *em = build_message(c, a->embed, depth + 1);

        if (em == NULL) {
            g_free(fname);
            return NULL;
        }
        o = GMIME_OBJECT(g_mime_message_part_new_with_message("rfc822", em));
        g_object_unref(em);
        g_mime_object_set_disposition(o, "attachment");
        if (fname != NULL)
            g_mime_object_set_content_disposition_parameter(
                o, "filename", hdr_clean(fname));
        g_free(fname);
        *related_r = 0;
        return o;
    }
    if (data == NULL) {
        g_free(fname);
        return NULL;
    }
    tag = rstr(r, PR_ATTACH_MIME_TAG);
    if (tag != NULL) {
        char *l = g_ascii_strdown(g_strstrip(tag), -1);
        g_free(tag);
        tag = l;
    }
    o = leaf(tag && mime_type_ok(tag) ? tag : "application/octet-stream",
             data->v.bin.p, data->v.bin.n, GMIME_CONTENT_ENCODING_BASE64);
    g_free(tag);
    if (fname == NULL)
        fname = rstr(r, PR_DISPLAY_NAME_W);
    if (hv != NULL)
        hidden = hv->v.b;
    rlong(r, PR_ATTACH_FLAGS, &flags);
    cid = rstr(r, PR_ATTACH_CONTENT_ID);
    loc = rstr(r, PR_ATTACH_CONTENT_LOCATION);
    *related_r = (hidden || (flags & ATT_MHTML_REF)) && (cid || loc);
    g_mime_object_set_disposition(o, *related_r ? "inline" : "attachment");
    if (fname != NULL)
        g_mime_part_set_filename(GMIME_PART(o), hdr_clean(fname));
    if (cid != NULL) {
        char *id = g_strstrip(hdr_clean(cid));
        size_t n = strlen(id);

        if (n >= 2 && id[0] == '<' && id[n - 1] == '>') {
            id[n - 1] = '\0';
            id++;
        }
        if (*id)
            g_mime_object_set_content_id(o, id);
    }
    if (loc != NULL)
        set_header(o, "Content-Location", loc);
    g_free(fname);
    g_free(cid);
    g_free(loc);
    return o;
}

/* [MS-OXOSMIME] 2.1.3.1: the signed entity, parsed back, or NULL. */
static GMimeObject *signed_entity(const rmsg *m)
{
    const xc_propval *d;
    char *tag;
    int ok;
    GMimeStream *s;
    GMimeParser *p;
    GMimeObject *o;

    if (m->natts != 1 || m->atts[0].embed != NULL)
        return NULL;
    d = rfind(&m->atts[0].props, PR_ATTACH_DATA_BIN);
    tag = rstr(&m->atts[0].props, PR_ATTACH_MIME_TAG);
    ok = d != NULL && tag != NULL &&
         !g_ascii_strcasecmp(g_strstrip(tag), "multipart/signed");
    g_free(tag);
    if (!ok)
        return NULL;
    s = g_mime_stream_mem_new_with_buffer((const char *)d->v.bin.p,
                                          d->v.bin.n);
    p = g_mime_parser_new_with_stream(s);
    o = g_mime_parser_construct_part(p, NULL);
    g_object_unref(p);
    g_object_unref(s);
    if (o != NULL && !is_type(o, "multipart", "signed")) {
        g_object_unref(o);
        o = NULL;
    }
    return o;
}

/* [MS-OXOSMIME] 2.1.3.2: the pkcs7-mime entity, or NULL. */
static GMimeObject *opaque_entity(const rmsg *m, const char *ctype)
{
    const xc_propval *d;
    char *tag, *fname;
    int ok;
    GMimeObject *o;
    GMimeContentType *ct = NULL;

    if (m->natts != 1 || m->atts[0].embed != NULL)
        return NULL;
    d = rfind(&m->atts[0].props, PR_ATTACH_DATA_BIN);
    tag = rstr(&m->atts[0].props, PR_ATTACH_MIME_TAG);
    ok = d != NULL && tag != NULL &&
         (!g_ascii_strcasecmp(g_strstrip(tag), "application/pkcs7-mime") ||
          !g_ascii_strcasecmp(tag, "application/x-pkcs7-mime"));
    g_free(tag);
    if (!ok)
        return NULL;
    o = leaf("application/pkcs7-mime", d->v.bin.p, d->v.bin.n,
             GMIME_CONTENT_ENCODING_BASE64);
    if (ctype != NULL)
        ct = g_mime_content_type_parse(NULL, ctype);
    if (ct != NULL && (g_mime_content_type_is_type(ct, "application",
                                                   "pkcs7-mime") ||
                       g_mime_content_type_is_type(ct, "application",
                                                   "x-pkcs7-mime")))
        g_mime_object_set_content_type(o, ct);
    else
        g_mime_object_set_content_type_parameter(o, "smime-type",
                                                 "enveloped-data");
    if (ct != NULL)
        g_object_unref(ct);
    fname = rstr(&m->atts[0].props, PR_ATTACH_LONG_FILENAME);
    g_mime_object_set_disposition(o, "attachment");
    g_mime_object_set_content_disposition_parameter(
        o, "filename", fname ? hdr_clean(fname) : "smime.p7m");
    g_free(fname);
    return o;
}

static GMimeObject *body_entity(rconv *c, const rmsg *m, size_t depth)
{
    const rrange *r = &m->props;
    char *plain = rstr(r, PR_BODY);
    const xc_propval *hv = rfind(r, PR_HTML);
    GMimeObject *text = NULL, *html = NULL, *body, *top;
    GPtrArray *rel = g_ptr_array_new(), *other = g_ptr_array_new();
    int32_t cpid = CPID_UTF8;

    if (hv == NULL)     /* PidTagBodyHtml, the same id as a string */
        hv = rfind(r, PROP_TAG(PT_UNICODE, PROP_ID(PR_HTML)));
    if (hv == NULL)
        hv = rfind(r, PROP_TAG(PT_STRING8, PROP_ID(PR_HTML)));
    rlong(r, PR_INTERNET_CPID, &cpid);
    if (plain != NULL || rfind(r, PR_BODY) != NULL)
        text = text_leaf("plain", "utf-8", (const uint8_t *)(plain ? plain : ""),
                         plain ? strlen(plain) : 0);
    g_free(plain);
    if (text == NULL && hv == NULL && rfind(r, PR_RTF_COMPRESSED) != NULL) {
        /* [MS-OXBBODY]: an RTF-only body goes out as its HTML (when it
           encapsulates HTML) and its text */
        xc_wbuf props;
        xc_propval got[3];
        size_t ng = 0;
        const char *err;

        xc_wbuf_init(&props, 0);
        rtf_bodies(&props, rfind(r, PR_RTF_COMPRESSED), 1);
        if (!props.err &&
            xc_props_decode(props.p, props.len, got, 3, &ng, &err) == 0) {
            for (size_t i = 0; i < ng; i++) {
                if (got[i].tag == PR_HTML) {
                    html = text_leaf("html", "utf-8", got[i].v.bin.p,
                                     got[i].v.bin.n);
                } else if (got[i].tag == PR_BODY) {
                    char *t = val_str(&got[i]);
                    if (t != NULL)
                        text = text_leaf("plain", "utf-8",
                                         (const uint8_t *)t, strlen(t));
                    g_free(t);
                }
            }
        }
        xc_wbuf_free(&props);
    }
    if (hv != NULL) {
        if (PROP_TYPE(hv->tag) == PT_BINARY && cpid_charset(cpid) != NULL) {
            html = text_leaf("html", cpid_charset(cpid), hv->v.bin.p,
                             hv->v.bin.n);
        } else {
            char *h = val_str(hv);
            if (h != NULL)
                html = text_leaf("html", "utf-8", (const uint8_t *)h,
                                 strlen(h));
            g_free(h);
        }
    }
    for (size_t i = 0; i < m->natts; i++) {
        int related = 0;
        GMimeObject *o = attachment(c, &m->atts[i], depth, &related);

        if (o == NULL) {
            if (c->err)
                break;
            continue;
        }
        g_ptr_array_add(related && (text || html) ? rel : other, o);
    }
    if (c->err) {
        for (guint i = 0; i < rel->len; i++)
            g_object_unref(g_ptr_array_index(rel, i));
        for (guint i = 0; i < other->len; i++)
            g_object_unref(g_ptr_array_index(other, i));
        g_ptr_array_free(rel, TRUE);
        g_ptr_array_free(other, TRUE);
        if (text)
            g_object_unref(text);
        if (html)
            g_object_unref(html);
        return NULL;
    }
    /* 2.1.3.3.4 / 2.1.3.3.5: related parts go around the richest body */
    if (rel->len > 0) {
        GMimeObject *mp = multipart(c, "related");

        mp_add(mp, html ? html : text);
        for (guint i = 0; i < rel->len; i++)
            mp_add(mp, g_ptr_array_index(rel, i));
        if (html)
            html = mp;
        else
            text = mp;
    }
    if (text && html) {
        body = multipart(c, "alternative");
        mp_add(body, text);
        mp_add(body, html);
    } else {
        body = text ? text : html;
    }
    if (other->len > 0) {
        top = multipart(c, "mixed");
        if (body)
            mp_add(top, body);
        for (guint i = 0; i < other->len; i++)
            mp_add(top, g_ptr_array_index(other, i));
    } else {
        top = body ? body : text_leaf("plain", "utf-8", (const uint8_t *)"",
                                      0);
    }
    g_ptr_array_free(rel, TRUE);
    g_ptr_array_free(other, TRUE);
    return top;
}

static GMimeMessage *build_message(rconv *c, const rmsg *m, size_t depth)
{
    GMimeMessage *msg = g_mime_message_new(TRUE);
    GMimeObject *body = NULL;
    char *ctype = NULL, *cls = rstr(&m->props, PR_MESSAGE_CLASS);

    envelope(c, m, msg, &ctype);
    if (cls != NULL &&
        !g_ascii_strcasecmp(cls, "IPM.Note.SMIME.MultipartSigned"))
        body = signed_entity(m);
    else if (cls != NULL && !g_ascii_strcasecmp(cls, "IPM.Note.SMIME"))
        body = opaque_entity(m, ctype);
    g_free(cls);
    g_free(ctype);
    if (body == NULL)
        body = body_entity(c, m, depth);
    if (body == NULL) {
        g_object_unref(msg);
        return NULL;
    }
    g_mime_message_set_mime_part(msg, body);
    g_object_unref(body);
    return msg;
}

static uint32_t content_hash(const xc_propval *pv, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++) {
        uint16_t t = PROP_TYPE(pv[i].tag);
        const uint8_t *p = NULL;
        size_t len = 0;

        for (int k = 0; k < 32; k += 8)
            h = (h ^ ((pv[i].tag >> k) & 0xFF)) * 16777619u;
        if (t & PT_MV) {
            p = pv[i].v.mv.p;
            len = pv[i].v.mv.n;
        } else if (t == PT_BINARY || t == PT_UNICODE || t == PT_STRING8 ||
                   t == PT_SVREID || t == PT_CLSID) {
            p = pv[i].v.bin.p;
            len = t == PT_CLSID ? 16 : pv[i].v.bin.n;
        } else {
            for (int k = 0; k < 64; k += 8)
                h = (h ^ ((pv[i].v.u64 >> k) & 0xFF)) * 16777619u;
        }
        for (size_t j = 0; p != NULL && j < len; j++)
            h = (h ^ p[j]) * 16777619u;
    }
    return h;
}

int xc_content_to_mime(const xc_propval *pv, size_t n,
                       xc_id_to_name_fn names, void *ctx, xc_wbuf *out,
                       const char **error_r)
{
    rconv c;
    rmsg m;
    size_t pos = 1;
    GMimeMessage *msg = NULL;
    GMimeFormatOptions *fo = NULL;
    GMimeStream *s = NULL;
    GByteArray *ba;
    size_t start = out->len;
    int start_err = out->err, rc = -1;

    xc_mime_init();
    memset(&c, 0, sizeof(c));
    memset(&m, 0, sizeof(m));
    c.names = names;
    c.ctx = ctx;
    if (n < 2 || pv[0].tag != XW_MARK_START_MESSAGE) {
        c.err = "content does not start with START_MESSAGE";
        goto done;
    }
    if (parse_msg(&c, pv, n, &pos, 0, &m) < 0)
        goto done;
    if (pos >= n || pv[pos].tag != XW_MARK_END_MESSAGE) {
        c.err = "content does not end with END_MESSAGE";
        goto done;
    }
    if (pos + 1 != n) {
        c.err = "values after END_MESSAGE";
        goto done;
    }
    c.hash = content_hash(pv, n);
    msg = build_message(&c, &m, 0);
    if (msg == NULL)
        goto done;
    fo = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
    s = g_mime_stream_mem_new();
    if (g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, s) < 0) {
        c.err = "writing the message failed";
        goto done;
    }
    ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
    xc_put_bytes(out, ba->data, ba->len);
    if (out->err) {
        c.err = "out of memory or over the output limit";
        goto done;
    }
    rc = 0;
done:
    if (s != NULL)
        g_object_unref(s);
    if (fo != NULL)
        g_mime_format_options_free(fo);
    if (msg != NULL)
        g_object_unref(msg);
    rmsg_free(&m);
    if (rc < 0) {
        out->len = start;
        out->err = start_err;
        *error_r = c.err ? c.err : "conversion failed";
    }
    return rc;
}
