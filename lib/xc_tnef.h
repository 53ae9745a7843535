/*
 * NAME
 *   xc_tnef - decode a TNEF stream ([MS-OXTNEF], winmail.dat) into our
 *   message content stream
 *
 * DESCRIPTION
 *   A TNEF stream is a signature, a key and attribute records (level,
 *   attribute id, length, data, checksum; [MS-OXTNEF] 2.1.3.1). Legacy
 *   attributes are mapped to properties as [MS-OXTNEF] 2.1.3.3 says;
 *   attMsgProps, attAttachment and attRecipTable carry encoded MAPI
 *   property lists ([MS-OXTNEF] 2.1.3.4).
 *
 *   xc_tnef_decode appends to out, in the wire encoding of lib/xc_wire.h:
 *   the message-level properties, then the recipient rows
 *   (XW_MARK_START_RECIP(row) ... XW_MARK_END_RECIP(0)), then each
 *   attachment (XW_MARK_NEW_ATTACH(num) ... XW_MARK_END_ATTACH(0)),
 *   numbered from first_attach_num. An attachment holding an embedded
 *   message (PR_ATTACH_DATA_OBJ with IID_IMessage, a nested TNEF stream)
 *   carries it between XW_MARK_START_EMBED(0) and XW_MARK_END_EMBED(0):
 *   its properties, recipients and attachments (numbered from 0).
 *
 *   Conversions: 8-bit strings (PT_STRING8 values and legacy string
 *   attributes) are read in the stream's OEM code page (attOemCodepage;
 *   1252 until one is seen) and written as PT_UNICODE (UTF-16LE), so
 *   PT_STRING8 tags come out as PT_UNICODE tags; UTF-16 values are cut
 *   at their terminating NUL and unpaired surrogates become U+FFFD.
 *   Attachment data objects other than messages (OLE storages) become
 *   PR_ATTACH_DATA_BIN. Named properties are mapped with the caller's
 *   names callback; a property whose name it can't map is dropped.
 *   A property given both by a legacy attribute and in an encoded list
 *   is written once, from the list; otherwise the last one wins.
 *   Properties of types the wire cannot carry (PT_MV_BOOLEAN, PT_NULL,
 *   other objects) are dropped.
 *
 *   Any malformed input (bad signature, checksum mismatch, truncation,
 *   a length past the data, a limit exceeded) returns -1 with a message;
 *   what was appended to out by then is removed again.
 */
#ifndef XC_TNEF_H
#define XC_TNEF_H

#include <stddef.h>
#include <stdint.h>

#include "xc_buf.h"
#include "xc_props.h"

#define XC_TNEF_SIGNATURE 0x223E9F78u
#define XC_TNEF_MAX_DEPTH 8         /* embedded messages inside messages */
#define XC_TNEF_MAX_ATTRS 16384     /* attribute records, all levels */
#define XC_TNEF_MAX_PROPS 4096      /* properties in one encoded list */
#define XC_TNEF_MAX_ROWS 4096       /* recipient rows of one message */
#define XC_TNEF_MAX_ATTACH 1024     /* attachments of one message */

/* [MS-OXTNEF] 2.1.3.3 attribute ids (the low 16 bits of the record's
   AttrId; the high 16 bits give the legacy type) */
#define XC_ATT_FROM 0x8000
#define XC_ATT_SUBJECT 0x8004
#define XC_ATT_DATE_SENT 0x8005
#define XC_ATT_DATE_RECD 0x8006
#define XC_ATT_MESSAGE_STATUS 0x8007
#define XC_ATT_MESSAGE_CLASS 0x8008
#define XC_ATT_MESSAGE_ID 0x8009
#define XC_ATT_BODY 0x800C
#define XC_ATT_PRIORITY 0x800D
#define XC_ATT_ATTACH_DATA 0x800F
#define XC_ATT_ATTACH_TITLE 0x8010
#define XC_ATT_ATTACH_META_FILE 0x8011
#define XC_ATT_ATTACH_CREATE_DATE 0x8012
#define XC_ATT_ATTACH_MODIFY_DATE 0x8013
#define XC_ATT_DATE_MODIFIED 0x8020
#define XC_ATT_ATTACH_TRANSPORT_FILENAME 0x9001
#define XC_ATT_ATTACH_REND_DATA 0x9002
#define XC_ATT_MSG_PROPS 0x9003
#define XC_ATT_RECIP_TABLE 0x9004
#define XC_ATT_ATTACHMENT 0x9005
#define XC_ATT_TNEF_VERSION 0x9006
#define XC_ATT_OEM_CODEPAGE 0x9007

/* attribute levels */
#define XC_TNEF_LVL_MESSAGE 0x01
#define XC_TNEF_LVL_ATTACHMENT 0x02

/*
 * Decode the TNEF stream p[0..n) and append its content to out (see
 * above). names maps named properties (may be NULL: named properties are
 * then dropped). Returns 0, or -1 with a message.
 */
int xc_tnef_decode(const uint8_t *p, size_t n, uint32_t first_attach_num,
                   xc_name_to_id_fn names, void *ctx, xc_wbuf *out,
                   const char **error_r);

/*
 * The same, writing only the parts of the top-level message that what
 * names (embedded messages are always whole): lib/xc_mime takes the
 * message properties and the attachments of a winmail.dat at different
 * places of its own output. *nattach_r (may be NULL) is the number of
 * attachments written.
 */
#define XC_TNEF_PROPS 0x1u
#define XC_TNEF_RECIPS 0x2u
#define XC_TNEF_ATTACH 0x4u
#define XC_TNEF_ALL (XC_TNEF_PROPS | XC_TNEF_RECIPS | XC_TNEF_ATTACH)
int xc_tnef_decode_parts(const uint8_t *p, size_t n,
                         uint32_t first_attach_num, unsigned what,
                         xc_name_to_id_fn names, void *ctx, xc_wbuf *out,
                         size_t *nattach_r, const char **error_r);

#endif
