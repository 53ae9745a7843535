/*
 * NAME
 *   test_adisc - unit tests for the Autodiscover request parsers
 *
 * DESCRIPTION
 *   POX ([MS-OXDSCLI] 2.2.3 and the mobilesync request of [MS-ASCMD]),
 *   SOAP GetUserSettings / GetDomainSettings ([MS-OXWSADISC]) as clients
 *   send them, the JSON v2 endpoint's path and query, and the attacks each
 *   must refuse: external and internal entities, entity expansion, deep or
 *   wide trees, and the ProxyShell path confusion.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/xmlIO.h>

#include "apr_general.h"
#include "apr_pools.h"
#include "apr_strings.h"

#include "adisc_parse.h"

#include "tap.h"

static apr_pool_t *root;

static int streq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int has(const char *s, const char *sub)
{
    return s != NULL && strstr(s, sub) != NULL;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Every resource libxml2 is asked to open goes through here first; the
   parsers under test must never ask for one. */
static int nloads;
static char last_load[256];

static int load_match(const char *uri)
{
    nloads++;
    snprintf(last_load, sizeof(last_load), "%s", uri ? uri : "(null)");
    return 0;               /* let libxml2's own loaders decide */
}

static void *load_open(const char *uri)
{
    (void)uri;
    return NULL;
}

/* ---- POX --------------------------------------------------------------- */

#define XML_DECL "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
#define ROOT_OPEN "<Autodiscover xmlns=\"" NS_POX_REQ "\">"
#define POX_OPEN XML_DECL ROOT_OPEN
#define MOB_OPEN XML_DECL "<Autodiscover xmlns=\"" NS_MOBILE_REQ "\">"
#define POX_CLOSE "</Autodiscover>"
#define SCHEMA_A "<AcceptableResponseSchema>" NS_POX_RESP_A \
                 "</AcceptableResponseSchema>"
#define SCHEMA_M "<AcceptableResponseSchema>" NS_MOBILE_RESP \
                 "</AcceptableResponseSchema>"
#define MAIL "<EMailAddress>alice@example.test</EMailAddress>"
#define DN "/o=Example/ou=Exchange Administrative Group " \
           "(FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"
#define REQ(x) "<Request>" x "</Request>"

static const struct pox_case {
    const char *name;
    const char *xml;
    adisc_err want;
    const char *email, *legacy_dn;
    adisc_schema schema;
    int mobile_ns;
} pox_cases[] = {
    { "Outlook request",
      XML_DECL
      "<Autodiscover xmlns=\"" NS_POX_REQ "\">\n"
      "  <Request>\n"
      "    <EMailAddress>alice@example.test</EMailAddress>\n"
      "    " SCHEMA_A "\n"
      "  </Request>\n"
      "</Autodiscover>\n",
      ADISC_OK, "alice@example.test", NULL, ADISC_OUTLOOK, 0 },
    { "mobilesync request (ActiveSync clients)",
      XML_DECL
      "<Autodiscover xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
      " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
      " xmlns=\"" NS_MOBILE_REQ "\">\n"
      "  <Request>\n"
      "    <EMailAddress>alice@example.test</EMailAddress>\n"
      "    " SCHEMA_M "\n"
      "  </Request>\n"
      "</Autodiscover>\n",
      ADISC_OK, "alice@example.test", NULL, ADISC_MOBILESYNC, 1 },
    { "prefixed namespace, text trimmed",
      "<a:Autodiscover xmlns:a=\"" NS_POX_REQ "\"><a:Request>"
      "<a:EMailAddress>\n  alice@example.test\t</a:EMailAddress>"
      "<a:AcceptableResponseSchema> " NS_POX_RESP_A
      " </a:AcceptableResponseSchema></a:Request></a:Autodiscover>",
      ADISC_OK, "alice@example.test", NULL, ADISC_OUTLOOK, 0 },
    { "schema picks the provider, not the namespace",
      POX_OPEN REQ(MAIL SCHEMA_M) POX_CLOSE,
      ADISC_OK, "alice@example.test", NULL, ADISC_MOBILESYNC, 0 },
    { "LegacyDN instead of EMailAddress",
      POX_OPEN REQ("<LegacyDN>" DN "</LegacyDN>" SCHEMA_A) POX_CLOSE,
      ADISC_OK, NULL, DN, ADISC_OUTLOOK, 0 },
    { "both EMailAddress and LegacyDN",
      POX_OPEN REQ(MAIL "<LegacyDN>" DN "</LegacyDN>" SCHEMA_A) POX_CLOSE,
      ADISC_OK, "alice@example.test", DN, ADISC_OUTLOOK, 0 },
    { "CDATA, comment and character reference in the address",
      POX_OPEN REQ("<EMailAddress><![CDATA[al]]><!-- x -->&#105;ce"
                   "@example.test</EMailAddress>" SCHEMA_A) POX_CLOSE,
      ADISC_OK, "alice@example.test", NULL, ADISC_OUTLOOK, 0 },
    { "unknown elements are ignored",
      POX_OPEN REQ("<Foo>bar</Foo>" MAIL SCHEMA_A) "<Extra/>" POX_CLOSE,
      ADISC_OK, "alice@example.test", NULL, ADISC_OUTLOOK, 0 },
    { "missing schema",
      POX_OPEN REQ(MAIL) POX_CLOSE, ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "empty schema",
      POX_OPEN REQ(MAIL "<AcceptableResponseSchema> </AcceptableResponseSchema>")
      POX_CLOSE, ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "unknown schema",
      POX_OPEN REQ(MAIL "<AcceptableResponseSchema>http://example.test/x"
                   "</AcceptableResponseSchema>") POX_CLOSE,
      ADISC_E_SCHEMA, NULL, NULL, 0, 0 },
    { "outlook schema without the 'a'",
      POX_OPEN REQ(MAIL "<AcceptableResponseSchema>http://schemas.microsoft"
                   ".com/exchange/autodiscover/outlook/responseschema/2006"
                   "</AcceptableResponseSchema>") POX_CLOSE,
      ADISC_E_SCHEMA, NULL, NULL, 0, 0 },
    { "two Request elements",
      POX_OPEN REQ(MAIL SCHEMA_A) REQ(MAIL SCHEMA_A) POX_CLOSE,
      ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "no Request element",
      POX_OPEN MAIL SCHEMA_A POX_CLOSE, ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "Request in another namespace",
      POX_OPEN "<Request xmlns=\"urn:x\">" MAIL SCHEMA_A "</Request>"
      POX_CLOSE, ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "root without namespace",
      "<Autodiscover>" REQ(MAIL SCHEMA_A) "</Autodiscover>",
      ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "root of another name",
      "<Discover xmlns=\"" NS_POX_REQ "\">" REQ(MAIL SCHEMA_A) "</Discover>",
      ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "no address at all",
      POX_OPEN REQ(SCHEMA_A) POX_CLOSE, ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "address with markup inside",
      POX_OPEN REQ("<EMailAddress><b>alice@example.test</b></EMailAddress>"
                   SCHEMA_A) POX_CLOSE, ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "LegacyDN not a DN",
      POX_OPEN REQ("<LegacyDN>alice</LegacyDN>" SCHEMA_A) POX_CLOSE,
      ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "not XML", "hello", ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "empty body", "", ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "cut XML", POX_OPEN REQ(MAIL SCHEMA_A), ADISC_E_INVALID, NULL, NULL,
      0, 0 },
    { "two roots", POX_OPEN REQ(MAIL SCHEMA_A) POX_CLOSE "<x/>",
      ADISC_E_INVALID, NULL, NULL, 0, 0 },
    { "undeclared entity", POX_OPEN REQ("<EMailAddress>&e;</EMailAddress>"
                                        SCHEMA_A) POX_CLOSE,
      ADISC_E_INVALID, NULL, NULL, 0, 0 },
};

static void test_pox(void)
{
    test_begin("adisc_pox_parse: requests");
    for (size_t i = 0; i < N_ELEMENTS(pox_cases); i++) {
        const struct pox_case *c = &pox_cases[i];
        apr_pool_t *p;
        adisc_pox_req req;
        const char *err = NULL;
        adisc_err rc;

        apr_pool_create(&p, root);
        rc = adisc_pox_parse(p, c->xml, strlen(c->xml), &req, &err);
        test_assert_idx(rc == c->want, i);
        if (rc == ADISC_OK && c->want == ADISC_OK) {
            test_assert_idx(streq(req.email, c->email), i);
            test_assert_idx(streq(req.legacy_dn, c->legacy_dn), i);
            test_assert_idx(req.schema == c->schema, i);
            test_assert_idx(req.mobile_ns == c->mobile_ns, i);
        } else {
            test_assert_idx(err != NULL, i);
        }
        if (rc != c->want)
            printf("#   case %zu (%s): got %d (%s)\n", i, c->name, rc,
                   err ? err : "");
        apr_pool_destroy(p);
    }
    test_end();
}

static const char *const bad_emails[] = {
    "alice", "@example.test", "alice@", "@", "a@b@example.test",
    "alice smith@example.test", "alice@exa mple.test", "alice\t@example.test",
    "alice@example.test/../x", "alice@example.test?x", "alice@example.test#x",
    "alice@example.test/mapi/emsmdb", "alice\\@example.test",
    "&lt;alice@example.test&gt;", "&quot;alice&quot;@example.test",
    "al'ice@example.test", "al(ice)@example.test", "alice,bob@example.test",
    "alice;bob@example.test", "alice:x@example.test", "alice@[127.0.0.1]",
    "alice&#x7f;@example.test", "alice\x01@example.test",
};

static void test_pox_bad_email(void)
{
    test_begin("adisc_pox_parse: bad e-mail addresses");
    for (size_t i = 0; i < N_ELEMENTS(bad_emails); i++) {
        apr_pool_t *p;
        adisc_pox_req req;
        const char *err = NULL;
        const char *xml;

        apr_pool_create(&p, root);
        xml = apr_pstrcat(p, POX_OPEN "<Request><EMailAddress>",
                          bad_emails[i], "</EMailAddress>" SCHEMA_A
                          "</Request>" POX_CLOSE, NULL);
        test_assert_idx(adisc_pox_parse(p, xml, strlen(xml), &req, &err) ==
                        ADISC_E_INVALID, i);
        test_assert_idx(err != NULL, i);
        apr_pool_destroy(p);
    }
    test_end();
}

static const struct addr_case {
    const char *s;
    int ok;
} addr_cases[] = {
    { "alice@example.test", 1 }, { "a@b", 1 }, { "alice+tag@example.test", 1 },
    { "first.last@sub.example.test", 1 }, { "", 0 }, { "ab", 0 }, { "a@", 0 },
    { "@b", 0 }, { "a@b@c", 0 }, { "a b@c", 0 }, { "a@b c", 0 },
    { "a\x01@b", 0 }, { "a\x7f@b", 0 }, { "a/b@c", 0 }, { "a@b/c", 0 },
    { "a\\b@c", 0 }, { "a?@b", 0 }, { "a#@b", 0 }, { "<a@b>", 0 },
    { "\"a\"@b", 0 }, { "a'@b", 0 }, { "(a)@b", 0 }, { "a,b@c", 0 },
    { "a;b@c", 0 }, { "a:b@c", 0 }, { "a@[b]", 0 },
};

static void test_valid_address(void)
{
    char longest[322];

    test_begin("adisc_valid_address");
    for (size_t i = 0; i < N_ELEMENTS(addr_cases); i++)
        test_assert_idx(adisc_valid_address(addr_cases[i].s) ==
                        addr_cases[i].ok, i);
    /* 320 characters is the limit */
    memset(longest, 'a', 320);
    longest[64] = '@';
    longest[320] = '\0';
    test_assert(adisc_valid_address(longest) == 1);
    longest[320] = 'a';
    longest[321] = '\0';
    test_assert(adisc_valid_address(longest) == 0);
    test_end();
}

/* ---- XML attacks ------------------------------------------------------- */

#define BODY_ENT REQ("<EMailAddress>&xxe;</EMailAddress>" SCHEMA_A) POX_CLOSE

static const char *const xxe_cases[] = {
    /* external general entity */
    XML_DECL "<!DOCTYPE Autodiscover [<!ENTITY xxe SYSTEM "
    "\"file:///etc/passwd\">]>\n" ROOT_OPEN BODY_ENT,
    /* the same, as a relative path */
    "<!DOCTYPE Autodiscover [<!ENTITY xxe SYSTEM \"/etc/passwd\">]>"
    "<Autodiscover xmlns=\"" NS_POX_REQ "\">" BODY_ENT,
    /* external DTD */
    "<!DOCTYPE Autodiscover SYSTEM \"file:///etc/passwd\">"
    "<Autodiscover xmlns=\"" NS_POX_REQ "\">" REQ(MAIL SCHEMA_A) POX_CLOSE,
    /* external parameter entity pulled into the internal subset */
    "<!DOCTYPE Autodiscover [<!ENTITY % xxe SYSTEM \"file:///etc/passwd\">"
    " %xxe;]><Autodiscover xmlns=\"" NS_POX_REQ "\">" REQ(MAIL SCHEMA_A)
    POX_CLOSE,
    /* out-of-band: a network URL */
    "<!DOCTYPE Autodiscover [<!ENTITY xxe SYSTEM \"http://127.0.0.1:9/x\">]>"
    "<Autodiscover xmlns=\"" NS_POX_REQ "\">" BODY_ENT,
    /* entity in an attribute value */
    "<!DOCTYPE Autodiscover [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
    "<Autodiscover xmlns=\"" NS_POX_REQ "\" x=\"&xxe;\">"
    REQ(MAIL SCHEMA_A) POX_CLOSE,
    /* a harmless internal entity is refused too: no DOCTYPE at all */
    "<!DOCTYPE Autodiscover [<!ENTITY xxe \"alice@example.test\">]>"
    "<Autodiscover xmlns=\"" NS_POX_REQ "\">" BODY_ENT,
    /* XInclude is not processed */
    "<Autodiscover xmlns=\"" NS_POX_REQ "\" "
    "xmlns:xi=\"http://www.w3.org/2001/XInclude\"><Request><EMailAddress>"
    "<xi:include href=\"file:///etc/passwd\" parse=\"text\"/>"
    "</EMailAddress>" SCHEMA_A "</Request>" POX_CLOSE,
};

static void test_xxe(void)
{
    test_begin("adisc_pox_parse: external entities are never loaded");
    for (size_t i = 0; i < N_ELEMENTS(xxe_cases); i++) {
        apr_pool_t *p;
        adisc_pox_req req;
        const char *err = NULL;
        adisc_err rc;

        apr_pool_create(&p, root);
        nloads = 0;
        rc = adisc_pox_parse(p, xxe_cases[i], strlen(xxe_cases[i]), &req,
                             &err);
        test_assert_idx(rc == ADISC_E_INVALID, i);
        test_assert_idx(nloads == 0, i);
        if (nloads)
            printf("#   case %zu: libxml2 was asked to load %s\n", i,
                   last_load);
        test_assert_idx(req.email == NULL && req.legacy_dn == NULL, i);
        test_assert_idx(err != NULL && !has(err, "root:"), i);
        apr_pool_destroy(p);
    }
    test_end();

    /* The load detector works: a parse that loads a DTD is seen. */
    test_begin("the load detector sees a DTD load");
    {
        static const char doc[] = "<!DOCTYPE x SYSTEM \"/nonexistent/x.dtd\">"
                                  "<x/>";
        xmlDoc *d;

        nloads = 0;
        d = xmlReadMemory(doc, (int)sizeof(doc) - 1, "t.xml", NULL,
                          XML_PARSE_DTDLOAD | XML_PARSE_NOERROR |
                          XML_PARSE_NOWARNING | XML_PARSE_NONET);
        xmlFreeDoc(d);
        test_assert(nloads > 0 && has(last_load, "x.dtd"));
    }
    test_end();
}

static void test_laughs(void)
{
    static const char *const heads[] = {
        /* billion laughs: 10^9 "lol" */
        "<!DOCTYPE Autodiscover [<!ENTITY lol \"lol\">"
        "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"
        "&lol1;&lol1;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"
        "&lol2;&lol2;\">"
        "<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"
        "&lol3;&lol3;\">"
        "<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"
        "&lol4;&lol4;\">"
        "<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"
        "&lol5;&lol5;\">"
        "<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"
        "&lol6;&lol6;\">"
        "<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"
        "&lol7;&lol7;\">"
        "<!ENTITY xxe \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;"
        "&lol8;&lol8;\">]>",
    };
    apr_pool_t *p;
    adisc_pox_req req;
    const char *err = NULL, *xml;
    double t0, t1;

    test_begin("adisc_pox_parse: entity expansion refused quickly");
    for (size_t i = 0; i < N_ELEMENTS(heads); i++) {
        apr_pool_create(&p, root);
        xml = apr_pstrcat(p, heads[i], "<Autodiscover xmlns=\"" NS_POX_REQ
                          "\">" BODY_ENT, NULL);
        t0 = now_s();
        test_assert_idx(adisc_pox_parse(p, xml, strlen(xml), &req, &err) ==
                        ADISC_E_INVALID, i);
        t1 = now_s();
        test_assert_idx(t1 - t0 < 2.0, i);
        test_assert_idx(req.email == NULL, i);
        apr_pool_destroy(p);
    }

    /* quadratic blowup: one 64 KiB entity referenced 12000 times */
    apr_pool_create(&p, root);
    {
        char *big = apr_palloc(p, 65537), *refs = apr_palloc(p, 12000 * 4 + 1);

        memset(big, 'a', 65536);
        big[65536] = '\0';
        for (int k = 0; k < 12000; k++)
            memcpy(refs + 4 * k, "&a;", 4);
        refs[12000 * 4] = '\0';
        xml = apr_pstrcat(p, "<!DOCTYPE Autodiscover [<!ENTITY a \"", big,
                          "\">]><Autodiscover xmlns=\"" NS_POX_REQ "\">"
                          "<Request><EMailAddress>", refs, "</EMailAddress>"
                          SCHEMA_A "</Request>" POX_CLOSE, NULL);
        t0 = now_s();
        test_assert(adisc_pox_parse(p, xml, strlen(xml), &req, &err) ==
                    ADISC_E_INVALID);
        t1 = now_s();
        test_assert(t1 - t0 < 2.0);
    }
    apr_pool_destroy(p);
    test_end();
}

/* A valid request with filler inside Request. */
static const char *pox_with(apr_pool_t *p, const char *filler)
{
    return apr_pstrcat(p, "<Autodiscover xmlns=\"" NS_POX_REQ "\"><Request>",
                       filler, MAIL SCHEMA_A "</Request>" POX_CLOSE, NULL);
}

static const char *repeat(apr_pool_t *p, const char *s, int n)
{
    size_t len = strlen(s);
    char *out = apr_palloc(p, len * (size_t)n + 1);

    for (int k = 0; k < n; k++)
        memcpy(out + len * (size_t)k, s, len);
    out[len * (size_t)n] = '\0';
    return out;
}

static void test_tree_limits(void)
{
    /* Autodiscover is depth 0, Request 1: k nested <x> reach depth 1 + k */
    static const struct {
        int nest;
        adisc_err want;
    } depth_cases[] = {
        { 0, ADISC_OK },
        { ADISC_MAX_DEPTH - 1, ADISC_OK },
        { ADISC_MAX_DEPTH, ADISC_E_INVALID },
        { 40, ADISC_E_INVALID },
        { 300, ADISC_E_INVALID },           /* beyond libxml2's own limit */
        { 100000, ADISC_E_INVALID },
    };
    /* the request itself is 6 nodes: 4 elements and 2 texts */
    static const struct {
        int fill;
        adisc_err want;
    } node_cases[] = {
        { 0, ADISC_OK },
        { ADISC_MAX_NODES - 6, ADISC_OK },
        { ADISC_MAX_NODES - 5, ADISC_E_INVALID },
        { 100000, ADISC_E_INVALID },
    };

    test_begin("adisc_pox_parse: depth limit");
    for (size_t i = 0; i < N_ELEMENTS(depth_cases); i++) {
        apr_pool_t *p;
        adisc_pox_req req;
        const char *err = NULL, *xml;
        int k = depth_cases[i].nest;

        apr_pool_create(&p, root);
        xml = pox_with(p, apr_pstrcat(p, repeat(p, "<x>", k),
                                      repeat(p, "</x>", k), NULL));
        test_assert_idx(adisc_pox_parse(p, xml, strlen(xml), &req, &err) ==
                        depth_cases[i].want, i);
        apr_pool_destroy(p);
    }
    test_end();

    test_begin("adisc_pox_parse: element count limit");
    for (size_t i = 0; i < N_ELEMENTS(node_cases); i++) {
        apr_pool_t *p;
        adisc_pox_req req;
        const char *err = NULL, *xml;
        double t0 = now_s();

        apr_pool_create(&p, root);
        xml = pox_with(p, repeat(p, "<x/>", node_cases[i].fill));
        test_assert_idx(adisc_pox_parse(p, xml, strlen(xml), &req, &err) ==
                        node_cases[i].want, i);
        if (node_cases[i].want != ADISC_OK)
            test_assert_idx(has(err, "too large"), i);
        test_assert_idx(now_s() - t0 < 2.0, i);
        apr_pool_destroy(p);
    }
    test_end();

    test_begin("adisc_pox_parse: body size limit");
    {
        apr_pool_t *p;
        adisc_pox_req req;
        const char *err = NULL, *xml;

        apr_pool_create(&p, root);
        /* 1 MiB + a bit of comment: refused before parsing */
        xml = pox_with(p, apr_pstrcat(p, "<!--", repeat(p, "x", 1024 * 1024),
                                      "-->", NULL));
        test_assert(adisc_pox_parse(p, xml, strlen(xml), &req, &err) ==
                    ADISC_E_INVALID);
        test_assert(has(err, "too large"));
        /* a NUL inside the body is not the end of it */
        {
            static const char nul[] = POX_OPEN REQ("<EMailAddress>alice\0"
                                                   "@example.test"
                                                   "</EMailAddress>" SCHEMA_A)
                                      POX_CLOSE;
            test_assert(adisc_pox_parse(p, nul, sizeof(nul) - 1, &req,
                                        &err) == ADISC_E_INVALID);
            test_assert(req.email == NULL);
        }
        apr_pool_destroy(p);
    }
    test_end();
}

/* Element text longer than ADISC_MAX_TEXT is no value. */
static void test_text_limit(void)
{
    static const struct {
        size_t len;
        adisc_err want;
    } cases[] = {
        { ADISC_MAX_TEXT, ADISC_OK },
        { ADISC_MAX_TEXT + 1, ADISC_E_INVALID },
    };

    test_begin("adisc_pox_parse: text length limit");
    for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
        apr_pool_t *p;
        adisc_pox_req req;
        const char *err = NULL, *xml;
        char *dn;

        apr_pool_create(&p, root);
        dn = apr_palloc(p, cases[i].len + 1);
        memset(dn, 'x', cases[i].len);
        dn[0] = '/';
        dn[cases[i].len] = '\0';
        xml = apr_pstrcat(p, ROOT_OPEN "<Request><LegacyDN>", dn,
                          "</LegacyDN>" SCHEMA_A "</Request>" POX_CLOSE,
                          NULL);
        test_assert_idx(adisc_pox_parse(p, xml, strlen(xml), &req, &err) ==
                        cases[i].want, i);
        if (cases[i].want == ADISC_OK)
            test_assert_idx(streq(req.legacy_dn, dn), i);
        apr_pool_destroy(p);
    }
    test_end();
}

/*
 * Attributes are not elements: check_tree() does not count them, and
 * libxml2 2.9 looks for duplicate attributes with a linear scan per
 * attribute, so parse time grows with the square of their number. A body
 * at parse_xml()'s own 1 MiB limit must still be cheap to refuse.
 */
static void test_attribute_flood(void)
{
    static const int counts[] = { 1000, 90000 };

    test_begin("adisc_pox_parse: an attribute flood is refused quickly");
    for (size_t i = 0; i < N_ELEMENTS(counts); i++) {
        apr_pool_t *p;
        adisc_pox_req req;
        const char *err = NULL;
        char *xml, *o;
        double t0, t;

        apr_pool_create(&p, root);
        xml = o = apr_palloc(p, (size_t)counts[i] * 12 + 512);
        o += sprintf(o, "<Autodiscover xmlns=\"%s\"", NS_POX_REQ);
        for (int k = 0; k < counts[i]; k++)
            o += sprintf(o, " a%d=\"\"", k);
        o += sprintf(o, ">" REQ(MAIL SCHEMA_A) POX_CLOSE);
        test_assert_idx((size_t)(o - xml) < 1024 * 1024, i);
        t0 = now_s();
        (void)adisc_pox_parse(p, xml, (size_t)(o - xml), &req, &err);
        t = now_s() - t0;
        test_assert_idx(t < 2.0, i);
        printf("#   %d attributes, %zu bytes: %.2f s\n", counts[i],
               (size_t)(o - xml), t);
        apr_pool_destroy(p);
    }
    test_end();
}

/* ---- SOAP -------------------------------------------------------------- */

#define SOAP_OPEN "<?xml version='1.0' encoding='utf-8'?>\n" SOAP_ENV
#define SOAP_ENV                                                            \
    "<s:Envelope xmlns:s=\"" NS_SOAP "\""                                   \
    " xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"" \
    " xmlns:a=\"" NS_ADISC "\" xmlns:wsa=\"" NS_WSA "\""                    \
    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
#define SOAP_HDR(op)                                                        \
    "<s:Header><a:RequestedServerVersion>Exchange2016"                      \
    "</a:RequestedServerVersion><wsa:Action>" NS_ADISC "/Autodiscover/" op  \
    "</wsa:Action><wsa:To>https://mail.example.test/autodiscover/"          \
    "autodiscover.svc</wsa:To></s:Header>"
#define SOAP_BODY(x) "<s:Body>" x "</s:Body></s:Envelope>"
#define GUS(x) "<a:GetUserSettingsRequestMessage><a:Request>" x             \
               "</a:Request></a:GetUserSettingsRequestMessage>"
#define USER(m) "<a:User><a:Mailbox>" m "</a:Mailbox></a:User>"
#define SETTINGS                                                            \
    "<a:RequestedSettings><a:Setting>UserDisplayName</a:Setting>"           \
    "<a:Setting>UserDN</a:Setting>"                                         \
    "<a:Setting>AutoDiscoverSMTPAddress</a:Setting>"                        \
    "<a:Setting>ExternalEwsUrl</a:Setting>"                                 \
    "<a:Setting>EwsSupportedSchemas</a:Setting></a:RequestedSettings>"

static const struct soap_case {
    const char *name;
    const char *xml;
    int want;
    adisc_soap_op op;
    const char *version;
    int nnames, nsettings;
    const char *name0, *setting0;
    const char *error;
} soap_cases[] = {
    { "GetUserSettings as exchangelib sends it",
      SOAP_OPEN SOAP_HDR("GetUserSettings")
      SOAP_BODY(GUS("<a:Users>" USER("alice@example.test") "</a:Users>"
                    SETTINGS)),
      0, ADISC_SOAP_GET_USER_SETTINGS, "Exchange2016", 1, 5,
      "alice@example.test", "UserDisplayName", NULL },
    { "two users, no header",
      SOAP_OPEN
      SOAP_BODY(GUS("<a:Users>" USER("alice@example.test")
                    USER(" bob@example.test ") "</a:Users>" SETTINGS)),
      0, ADISC_SOAP_GET_USER_SETTINGS, NULL, 2, 5, "alice@example.test",
      "UserDisplayName", NULL },
    { "GetDomainSettings",
      SOAP_OPEN SOAP_HDR("GetDomainSettings")
      SOAP_BODY("<a:GetDomainSettingsRequestMessage><a:Request><a:Domains>"
                "<a:Domain>example.test</a:Domain></a:Domains>"
                "<a:RequestedSettings><a:Setting>ExternalEwsUrl</a:Setting>"
                "<a:Setting>ExternalEwsVersion</a:Setting>"
                "</a:RequestedSettings><a:RequestedVersion>Exchange2013"
                "</a:RequestedVersion></a:Request>"
                "</a:GetDomainSettingsRequestMessage>"),
      0, ADISC_SOAP_GET_DOMAIN_SETTINGS, "Exchange2016", 1, 2,
      "example.test", "ExternalEwsUrl", NULL },
    { "unknown body operation",
      SOAP_OPEN SOAP_HDR("GetFederationInformation")
      SOAP_BODY("<a:GetFederationInformationRequestMessage><a:Request>"
                "<a:Domain>example.test</a:Domain></a:Request>"
                "</a:GetFederationInformationRequestMessage>"),
      -1, 0, NULL, 0, 0, NULL, NULL, "unsupported operation" },
    { "operation in another namespace",
      SOAP_OPEN SOAP_BODY("<GetUserSettingsRequestMessage><Request><Users>"
                          "<User><Mailbox>alice@example.test</Mailbox></User>"
                          "</Users></Request>"
                          "</GetUserSettingsRequestMessage>"),
      -1, 0, NULL, 0, 0, NULL, NULL, "unsupported operation" },
    { "empty body", SOAP_OPEN SOAP_BODY(""), -1, 0, NULL, 0, 0, NULL, NULL,
      "unsupported operation" },
    { "no body", SOAP_OPEN SOAP_HDR("GetUserSettings") "</s:Envelope>", -1,
      0, NULL, 0, 0, NULL, NULL, "SOAP" },
    { "SOAP 1.2 envelope",
      "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">"
      "<s:Body/></s:Envelope>", -1, 0, NULL, 0, 0, NULL, NULL, "SOAP" },
    { "no Request",
      SOAP_OPEN SOAP_BODY("<a:GetUserSettingsRequestMessage/>"), -1, 0, NULL,
      0, 0, NULL, NULL, "Request" },
    { "no settings",
      SOAP_OPEN SOAP_BODY(GUS("<a:Users>" USER("alice@example.test")
                              "</a:Users>")),
      -1, 0, NULL, 0, 0, NULL, NULL, "no settings" },
    { "empty RequestedSettings",
      SOAP_OPEN SOAP_BODY(GUS("<a:Users>" USER("alice@example.test")
                              "</a:Users><a:RequestedSettings/>")),
      -1, 0, NULL, 0, 0, NULL, NULL, "no settings" },
    { "no users",
      SOAP_OPEN SOAP_BODY(GUS("<a:Users/>" SETTINGS)), -1, 0, NULL, 0, 0,
      NULL, NULL, "no users" },
    { "user without mailbox",
      SOAP_OPEN SOAP_BODY(GUS("<a:Users><a:User/></a:Users>" SETTINGS)), -1,
      0, NULL, 0, 0, NULL, NULL, "malformed entry" },
    { "empty setting",
      SOAP_OPEN SOAP_BODY(GUS("<a:Users>" USER("alice@example.test")
                              "</a:Users><a:RequestedSettings><a:Setting/>"
                              "</a:RequestedSettings>")),
      -1, 0, NULL, 0, 0, NULL, NULL, "malformed entry" },
    { "DOCTYPE",
      "<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
      SOAP_ENV
      SOAP_BODY(GUS("<a:Users>" USER("&x;") "</a:Users>" SETTINGS)),
      -1, 0, NULL, 0, 0, NULL, NULL, "DOCTYPE" },
    { "not XML", "GetUserSettings", -1, 0, NULL, 0, 0, NULL, NULL,
      "malformed" },
};

static void test_soap(void)
{
    test_begin("adisc_soap_parse: requests");
    for (size_t i = 0; i < N_ELEMENTS(soap_cases); i++) {
        const struct soap_case *c = &soap_cases[i];
        apr_pool_t *p;
        adisc_soap_req req;
        const char *err = NULL;
        int rc;

        apr_pool_create(&p, root);
        nloads = 0;
        rc = adisc_soap_parse(p, c->xml, strlen(c->xml), &req, &err);
        test_assert_idx(rc == c->want, i);
        test_assert_idx(nloads == 0, i);
        if (rc == 0 && c->want == 0) {
            test_assert_idx(req.op == c->op, i);
            test_assert_idx(streq(req.server_version, c->version), i);
            test_assert_idx(req.nnames == c->nnames, i);
            test_assert_idx(req.nsettings == c->nsettings, i);
            test_assert_idx(streq(req.names[0], c->name0), i);
            test_assert_idx(streq(req.settings[0], c->setting0), i);
        } else {
            test_assert_idx(has(err, c->error), i);
        }
        if (rc != c->want)
            printf("#   case %zu (%s): got %d (%s)\n", i, c->name, rc,
                   err ? err : "");
        apr_pool_destroy(p);
    }
    test_end();
}

static void test_soap_limits(void)
{
    static const struct {
        int users, settings, want;
    } cases[] = {
        { ADISC_MAX_USERS, 1, 0 },
        { ADISC_MAX_USERS + 1, 1, -1 },
        { 1, ADISC_MAX_SETTINGS, 0 },
        { 1, ADISC_MAX_SETTINGS + 1, -1 },
        { 1000, 1, -1 },
    };

    test_begin("adisc_soap_parse: list limits");
    for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
        apr_pool_t *p;
        adisc_soap_req req;
        const char *err = NULL, *xml;
        int rc;

        apr_pool_create(&p, root);
        xml = apr_pstrcat(p, SOAP_OPEN "<s:Body>"
                          "<a:GetUserSettingsRequestMessage><a:Request>"
                          "<a:Users>",
                          repeat(p, USER("alice@example.test"),
                                 cases[i].users),
                          "</a:Users><a:RequestedSettings>",
                          repeat(p, "<a:Setting>UserDN</a:Setting>",
                                 cases[i].settings),
                          "</a:RequestedSettings></a:Request>"
                          "</a:GetUserSettingsRequestMessage>"
                          "</s:Body></s:Envelope>", NULL);
        rc = adisc_soap_parse(p, xml, strlen(xml), &req, &err);
        test_assert_idx(rc == cases[i].want, i);
        if (rc == 0)
            test_assert_idx(req.nnames == cases[i].users &&
                            req.nsettings == cases[i].settings, i);
        else
            test_assert_idx(has(err, "too many") || has(err, "too large"),
                            i);
        apr_pool_destroy(p);
    }
    test_end();
}

/* ---- JSON -------------------------------------------------------------- */

static const struct json_case {
    const char *rest, *query;
    int want;
    const char *email, *protocol;
} json_cases[] = {
    { "/v1.0/alice@example.test", "Protocol=EWS", 0, "alice@example.test",
      "EWS" },
    { "/V1.0/alice@example.test", "protocol=ActiveSync", 0,
      "alice@example.test", "ActiveSync" },
    { "/v1.0/alice%40example.test", "Protocol=EWS", 0, "alice@example.test",
      "EWS" },
    { "", "Email=alice%40example.test&Protocol=ActiveSync", 0,
      "alice@example.test", "ActiveSync" },
    { "", "Protocol=AutodiscoverV1&Email=alice@example.test", 0,
      "alice@example.test", "AutodiscoverV1" },
    { "", "Email=alice%2Btag%40example.test&Protocol=EWS", 0,
      "alice+tag@example.test", "EWS" },
    { "/v1.0/alice@example.test", "Protocol=EWS&RedirectCount=1", 0,
      "alice@example.test", "EWS" },
    /* Protocol missing: the caller answers MissingProtocol */
    { "/v1.0/alice@example.test", NULL, 0, "alice@example.test", NULL },
    { "/v1.0/alice@example.test", "", 0, "alice@example.test", NULL },
    { "", "Email=alice%40example.test", 0, "alice@example.test", NULL },
    /* escapes must decode to valid UTF-8 (answers echo the protocol) */
    { "/v1.0/alice@example.test", "Protocol=EWS%FF", 400, NULL, NULL },
    { "/v1.0/al%C3%A9@example.test", "Protocol=EWS", 0,
      "al\xc3\xa9@example.test", "EWS" },
    { "/v1.0/al%C3@example.test", "Protocol=EWS", 400, NULL, NULL },
    /* ProxyShell (CVE-2021-34473) and friends */
    { "", "@x/mapi/", 400, NULL, NULL },
    { "", "@evil.test/mapi/nspi/?&Email=autodiscover/autodiscover.json"
      "%3f@evil.test", 400, NULL, NULL },
    { "/v1.0/x@y/mapi/emsmdb", "Protocol=EWS", 404, NULL, NULL },
    { "/v1.0/x@y%2Fmapi%2Femsmdb", "Protocol=EWS", 400, NULL, NULL },
    { "", "Email=autodiscover/autodiscover.json%3F@x&Protocol=EWS", 400,
      NULL, NULL },
    { "/mapi/emsmdb", "Protocol=EWS", 404, NULL, NULL },
    { "/v1.0/", "Protocol=EWS", 404, NULL, NULL },
    { "/v1.0", "Protocol=EWS", 404, NULL, NULL },
    { "/v2.0/alice@example.test", "Protocol=EWS", 404, NULL, NULL },
    { "/v1.0/alice@example.test/", "Protocol=EWS", 404, NULL, NULL },
    /* the query */
    { "", "Email=alice%40example.test&Protocol=EWS&X-Rps-CAT=x", 400, NULL,
      NULL },
    { "/v1.0/alice@example.test", "Email=bob@example.test&Protocol=EWS",
      400, NULL, NULL },
    { "", "Email=alice@example.test&Email=bob@example.test", 400, NULL,
      NULL },
    { "", "Protocol=EWS&Protocol=ActiveSync&Email=alice@example.test", 400,
      NULL, NULL },
    { "", "Protocol", 400, NULL, NULL },
    { "", "Protocol=EWS", 400, NULL, NULL },
    { "", NULL, 400, NULL, NULL },
    { "", "Email=alice%4", 400, NULL, NULL },
    { "", "Email=alice%40example.test&Protocol=EWS%4", 400, NULL, NULL },
    { "", "Email=alice%zz@example.test", 400, NULL, NULL },
    { "", "Email=alice%", 400, NULL, NULL },
    { "", "Email=alice%00@example.test&Protocol=EWS", 400, NULL, NULL },
    { "", "Email=alice%40example.test&Protocol=EWS%00", 400, NULL, NULL },
    { "", "Email=alice%40example.test&Protocol=EWS%0d%0aX:%20y", 400, NULL,
      NULL },
    { "/v1.0/alice%00@example.test", "Protocol=EWS", 400, NULL, NULL },
    { "/v1.0/alice%4", "Protocol=EWS", 400, NULL, NULL },
    { "/v1.0/alice%7f@example.test", "Protocol=EWS", 400, NULL, NULL },
};

static void test_json(void)
{
    test_begin("adisc_json_parse");
    for (size_t i = 0; i < N_ELEMENTS(json_cases); i++) {
        const struct json_case *c = &json_cases[i];
        apr_pool_t *p;
        const char *email = "x", *proto = "x", *err = NULL;
        int rc;

        apr_pool_create(&p, root);
        rc = adisc_json_parse(p, c->rest, c->query, &email, &proto, &err);
        test_assert_idx(rc == c->want, i);
        if (rc != c->want)
            printf("#   case %zu (%s ? %s): got %d (%s)\n", i, c->rest,
                   c->query ? c->query : "(null)", rc, err ? err : "");
        if (c->want == 0) {
            test_assert_idx(streq(email, c->email), i);
            test_assert_idx(streq(proto, c->protocol), i);
        } else {
            test_assert_idx(email == NULL && proto == NULL, i);
            test_assert_idx(err != NULL, i);
        }
        apr_pool_destroy(p);
    }
    test_end();
}

/* In a URL path "+" is a plain character (RFC 3986 3.3); only form-encoded
   query strings use it for a space. */
static void test_json_plus(void)
{
    apr_pool_t *p;
    const char *email = NULL, *proto = NULL, *err = NULL;
    int rc;

    test_begin("adisc_json_parse: '+' in the path is literal");
    apr_pool_create(&p, root);
    rc = adisc_json_parse(p, "/v1.0/alice+tag@example.test", "Protocol=EWS",
                          &email, &proto, &err);
    test_assert(rc == 0);
    test_assert(streq(email, "alice+tag@example.test"));
    if (rc != 0)
        printf("#   got %d (%s)\n", rc, err ? err : "");
    apr_pool_destroy(p);
    test_end();
}

int main(void)
{
    apr_initialize();
    adisc_xml_init();
    /* after xmlInitParser: the last registered handler is asked first */
    xmlRegisterInputCallbacks(load_match, load_open, NULL, NULL);
    apr_pool_create(&root, NULL);

    test_pox();
    test_pox_bad_email();
    test_valid_address();
    test_xxe();
    test_laughs();
    test_tree_limits();
    test_text_limit();
    test_attribute_flood();
    test_soap();
    test_soap_limits();
    test_json();
    test_json_plus();

    apr_pool_destroy(root);
    xmlCleanupParser();
    apr_terminate();
    return test_exit();
}
