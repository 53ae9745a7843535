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

/* ---- Internet mail envelope ([MS-OXCMAIL] 2.2.3; lib/xc_mime) ---- */
#define PR_IMPORTANCE PROP_TAG(PT_LONG, 0x0017)
#define PR_PRIORITY PROP_TAG(PT_LONG, 0x0026)
#define PR_SENSITIVITY PROP_TAG(PT_LONG, 0x0036)
#define PR_CLIENT_SUBMIT_TIME PROP_TAG(PT_SYSTIME, 0x0039)
#define PR_SUBJECT_PREFIX PROP_TAG(PT_UNICODE, 0x003D)
#define PR_NORMALIZED_SUBJECT PROP_TAG(PT_UNICODE, 0x0E1D)
#define PR_SENT_REPRESENTING_NAME PROP_TAG(PT_UNICODE, 0x0042)
#define PR_SENT_REPRESENTING_ADDRTYPE PROP_TAG(PT_UNICODE, 0x0064)
#define PR_SENT_REPRESENTING_EMAIL_ADDRESS PROP_TAG(PT_UNICODE, 0x0065)
#define PR_SENT_REPRESENTING_SMTP_ADDRESS PROP_TAG(PT_UNICODE, 0x5D02)
#define PR_SENDER_NAME PROP_TAG(PT_UNICODE, 0x0C1A)
#define PR_SENDER_ADDRTYPE PROP_TAG(PT_UNICODE, 0x0C1E)
#define PR_SENDER_EMAIL_ADDRESS PROP_TAG(PT_UNICODE, 0x0C1F)
#define PR_SENDER_SMTP_ADDRESS PROP_TAG(PT_UNICODE, 0x5D01)
/* FlatEntryList of one-off EntryIDs ([MS-OXCDATA] 2.3.3, 2.2.5.1) */
#define PR_REPLY_RECIPIENT_ENTRIES PROP_TAG(PT_BINARY, 0x004F)
#define PR_REPLY_RECIPIENT_NAMES PROP_TAG(PT_UNICODE, 0x0050)
#define PR_CONVERSATION_TOPIC PROP_TAG(PT_UNICODE, 0x0070)
#define PR_CONVERSATION_INDEX PROP_TAG(PT_BINARY, 0x0071)
#define PR_TRANSPORT_MESSAGE_HEADERS PROP_TAG(PT_UNICODE, 0x007D)
#define PR_INTERNET_MESSAGE_ID PROP_TAG(PT_UNICODE, 0x1035)
#define PR_INTERNET_REFERENCES PROP_TAG(PT_UNICODE, 0x1039)
#define PR_IN_REPLY_TO_ID PROP_TAG(PT_UNICODE, 0x1042)
/* PT_UNICODE forms of tags lib/xc_wire.h defines as PT_STRING8 */
#define PR_DISPLAY_NAME_W PROP_TAG(PT_UNICODE, 0x3001)
#define PR_EMAIL_ADDRESS_W PROP_TAG(PT_UNICODE, 0x3003)
#define PR_SMTP_ADDRESS_W PROP_TAG(PT_UNICODE, 0x39FE)
/* PR_RECIPIENT_TYPE values */
#define MAPI_TO 1
#define MAPI_CC 2
#define MAPI_BCC 3

/* ---- attachments, MIME side ([MS-OXCMSG] 2.2.2) ---- */
#define PR_ATTACH_SIZE PROP_TAG(PT_LONG, 0x0E20)
#define PR_ATTACH_EXTENSION PROP_TAG(PT_UNICODE, 0x3703)
#define PR_ATTACH_FILENAME PROP_TAG(PT_UNICODE, 0x3704)      /* 8.3 name */
#define PR_RENDERING_POSITION PROP_TAG(PT_LONG, 0x370B)
#define PR_ATTACH_MIME_TAG PROP_TAG(PT_UNICODE, 0x370E)
#define PR_ATTACH_CONTENT_ID PROP_TAG(PT_UNICODE, 0x3712)
#define PR_ATTACH_CONTENT_LOCATION PROP_TAG(PT_UNICODE, 0x3713)
#define PR_ATTACH_FLAGS PROP_TAG(PT_LONG, 0x3714)
#define PR_ATTACHMENT_HIDDEN PROP_TAG(PT_BOOLEAN, 0x7FFE)
/* PR_ATTACH_METHOD values */
#define ATTACH_BY_VALUE 1
#define ATTACH_EMBEDDED_MSG 5
/* PR_ATTACH_FLAGS: referenced by the HTML body (multipart/related) */
#define ATT_MHTML_REF 0x4

/* ---- property sets of named properties ([MS-OXPROPS] 1.3.2), as the
   16 bytes of their GUIDs in wire order ([MS-OXCDATA] 2.5.1) ---- */
#define PS_PUBLIC_STRINGS_BYTES { 0x29, 0x03, 0x02, 0x00, 0x00, 0x00, \
    0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46 }
#define PS_INTERNET_HEADERS_BYTES { 0x86, 0x03, 0x02, 0x00, 0x00, 0x00, \
    0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46 }

/* ---- TNEF legacy attributes ([MS-OXTNEF] 2.1.3.3; lib/xc_tnef) ---- */
#define PR_SEARCH_KEY PROP_TAG(PT_BINARY, 0x300B)       /* attMessageID */
#define PR_ATTACH_RENDERING PROP_TAG(PT_BINARY, 0x3709) /* attAttachMetaFile */
#define PR_ATTACH_TRANSPORT_NAME PROP_TAG(PT_UNICODE, 0x370C)
/* PR_ATTACH_METHOD value: an OLE object (attAttachRendData type 2) */
#define ATTACH_OLE 6

/* full-text search over every indexed property (content restrictions) */
#define PR_SEARCH_ALL_INDEXED_PROPS PROP_TAG(PT_UNICODE, 0x0EAF)

#endif
