/*
 * NAME
 *   adisc_fuzz.h - setup shared by the Autodiscover fuzz targets
 *
 * DESCRIPTION
 *   APR and libxml2 are initialised once; each input gets a fresh pool,
 *   destroyed after it (which frees the libxml2 document). libxml2 is
 *   told to abort if it is ever asked to open a resource: no input may
 *   make the parsers load a file, a DTD or a URL.
 */
#ifndef ADISC_FUZZ_H
#define ADISC_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlIO.h>

#include "apr_general.h"
#include "apr_pools.h"

#include "adisc_parse.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *fuzz_root;

static int no_load(const char *uri)
{
    (void)uri;
    abort();
}

static void *no_open(const char *uri)
{
    (void)uri;
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    adisc_xml_init();
    xmlRegisterInputCallbacks(no_load, no_open, NULL, NULL);
    apr_pool_create(&fuzz_root, NULL);
    return 0;
}

/* A string the parsers handed out: bounded, no control characters. */
static inline int fuzz_clean(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > ADISC_MAX_TEXT)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' &&
            *s != '\r')
            return 0;
    return 1;
}

#endif
