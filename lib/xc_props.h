/*
 * NAME
 *   xc_props - property tags and named-property resolution shared by the
 *   content conversions
 *
 * DESCRIPTION
 *   [MS-OXPROPS] tags that the conversion libraries (MIME [MS-OXCMAIL],
 *   TNEF [MS-OXTNEF], RTF [MS-OXRTFCP]) and the protocol modules need
 *   beyond the few lib/xc_wire.h defines. One definition per tag: add new
 *   ones here, grouped by area, with the spec name in a comment when the
 *   macro name differs.
 *
 *   Named properties ([MS-OXCPRPT] 2.2.1.5) have no fixed id: a converter
 *   asks its caller to map PropertySet GUID + LID (or + name) to the
 *   target mailbox's id, and back when it writes a message out.
 */
#ifndef XC_PROPS_H
#define XC_PROPS_H

#include <stddef.h>
#include <stdint.h>

#include "xc_wire.h"

/*
 * Map a named property to its property id (>= 0x8000) in the mailbox the
 * converted message goes to. name is NULL for a LID name (MNID_ID), else
 * the UTF-8 string name (MNID_STRING) and lid is ignored. Returns 0 and
 * *id_r, or -1 if the name can't be mapped (the converter then drops that
 * property and goes on).
 */
typedef int (*xc_name_to_id_fn)(void *ctx, const uint8_t guid[16],
                                uint32_t lid, const char *name,
                                uint16_t *id_r);

/*
 * The reverse, for writing a message out: the name of property id (>=
 * 0x8000). Returns 0 and fills guid_r and either *lid_r (name_r[0] ==
 * '\0') or name_r (NUL-terminated, truncation is an error); -1 if the id
 * has no name.
 */
typedef int (*xc_id_to_name_fn)(void *ctx, uint16_t id, uint8_t guid_r[16],
                                uint32_t *lid_r, char *name_r,
                                size_t name_len);

/* ---- message envelope and body ---- */
#define PR_BODY PROP_TAG(PT_UNICODE, 0x1000)
#define PR_HTML PROP_TAG(PT_BINARY, 0x1013)             /* PidTagHtml */
#define PR_RTF_COMPRESSED PROP_TAG(PT_BINARY, 0x1009)
#define PR_INTERNET_CPID PROP_TAG(PT_LONG, 0x3FDE)

/* ---- recipients ---- */
#define PR_RECIPIENT_TYPE PROP_TAG(PT_LONG, 0x0C15)
#define PR_ADDRTYPE PROP_TAG(PT_UNICODE, 0x3002)

/* ---- attachments ---- */
#define PR_ATTACH_DATA_BIN PROP_TAG(PT_BINARY, 0x3701)
#define PR_ATTACH_DATA_OBJ PROP_TAG(PT_OBJECT, 0x3701)
#define PR_ATTACH_METHOD PROP_TAG(PT_LONG, 0x3705)
#define PR_ATTACH_LONG_FILENAME PROP_TAG(PT_UNICODE, 0x3707)

/* full-text search over every indexed property (content restrictions) */
#define PR_SEARCH_ALL_INDEXED_PROPS PROP_TAG(PT_UNICODE, 0x0EAF)

#endif
