/*
 * NAME
 *   xc_wire - the storaged wire protocol: frames and typed property values
 *
 * DESCRIPTION
 *   Every message between storaged and its clients (the Apache modules,
 *   mtad, tools) is one or more frames:
 *
 *     u32 length      bytes that follow this field (header rest + payload)
 *     u8  version     XW_VERSION
 *     u8  flags       XW_F_*
 *     u16 opcode      XW_OP_*
 *     u32 request id  chosen by the client, echoed in every response frame
 *     ...  payload
 *
 *   All integers are little-endian. A request is one frame. A response is
 *   zero or more frames flagged XW_F_MORE (table rows, or XW_F_CHUNK pieces
 *   of a streamed value) and one final frame without XW_F_MORE whose first
 *   property is XW_TAG_STATUS. Requests on one connection may be answered in
 *   any order; the request id ties them together.
 *
 *   A payload is a sequence of tagged property values as in [MS-OXCDATA]
 *   2.11 (PropertyTag = id << 16 | type, then the value). Fixed-size values
 *   use their [MS-OXCDATA] 2.11.1 sizes; variable-size values carry a 32-bit
 *   byte count as in the FastTransfer stream of [MS-OXCFXICS] 2.2.4.3;
 *   multi-valued properties a 32-bit count then the values. PT_STRING8 is
 *   UTF-8 on this wire. A PT_OBJECT value is a u64 length: that many bytes
 *   follow in XW_F_CHUNK frames of the same request id (a streamed value).
 *
 *   Protocol arguments (user name, session token, ...) use tags with ids
 *   below 0x0100; data uses the real [MS-OXPROPS] tags. [MS-OXPROPS] uses
 *   low ids too (PR_SUBJECT is 0x0037), so wherever a frame carries
 *   content a client chose (a message to save, a message read), that
 *   content stands between XW_MARK_START_MESSAGE and XW_MARK_END_MESSAGE,
 *   as messageContent does in a FastTransfer stream, and arguments only
 *   outside it.
 *
 *   Everything here is a pure function over buffers: no I/O, no logging.
 */
#ifndef XC_WIRE_H
#define XC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "xc_buf.h"

#define XW_VERSION 1
#define XW_HDR_LEN 12           /* length field + header rest */
#define XW_DEFAULT_MAX_FRAME (1u << 20)
#define XW_MAX_PROPS 4096       /* properties in one frame */
#define XW_MAX_MV 65536         /* values in one multi-valued property */
#define XW_CHUNK 65536          /* streamed value piece size we send */
#define XC_MAX_EMBED_DEPTH 20   /* embedded messages inside messages (as
                                   deep as XC_MIME_DEFAULT_DEPTH lets a
                                   MIME message nest message/rfc822) */

/* frame flags */
#define XW_F_RESPONSE 0x01
#define XW_F_MORE 0x02          /* more frames follow for this request id
                                   (on a request: its streamed value) */
#define XW_F_CHUNK 0x04         /* payload is raw bytes of a streamed value */
#define XW_F_PUSH 0x08          /* server-initiated (notifications) */

/* opcodes */
enum xw_op {
    XW_OP_HELLO = 1,            /* -> server name, protocol version */
    XW_OP_AUTH = 2,             /* user, password, remote addr -> session */
    XW_OP_RESOLVE = 3,          /* session, SMTP address -> user, mailbox
                                   (the session's own, or one that gives
                                   it some right) */
    XW_OP_LIST_FOLDERS = 4,     /* session, mailbox -> rows of folders
                                   (another's mailbox: those visible to
                                   the session), each with PR_RIGHTS */
    XW_OP_LOGOFF = 5,           /* session -> status */
    /*
     * The store (all take SESSION and MAILBOX_ID; the session may use its
     * own mailbox; ids on the wire are [MS-OXCDATA] 2.2.1 ids with the
     * replica id in the low 16 bits):
     */
    XW_OP_CREATE_FOLDER = 10,   /* PR_PARENT_FID, PR_DISPLAY_NAME,
                                   [PR_CONTAINER_CLASS] -> PR_FID, CN */
    XW_OP_SAVE_MESSAGE = 11,    /* PR_FID (create) or PR_MID (replace the
                                   whole message), [FAI], then
                                   START_MESSAGE, the content (properties,
                                   then recipients and attachments between
                                   their markers; an attachment may hold
                                   an embedded message, its own content
                                   between START_EMBED and END_EMBED after
                                   the attachment's properties),
                                   END_MESSAGE -> PR_MID,
                                   PR_CHANGE_KEY, CN. One transaction:
                                   nothing is visible before it commits. */
    XW_OP_GET_MESSAGE = 12,     /* PR_MID -> START_MESSAGE, computed and
                                   stored properties, recipients,
                                   attachments (embedded messages as
                                   saved), END_MESSAGE */
    XW_OP_DELETE_MESSAGES = 13, /* MIDS -> TOTAL deleted, CN (tombstones) */
    XW_OP_CONTENTS = 14,        /* PR_FID, COLUMNS, [SORT], [RESTRICTION],
                                   [SEEK_MID], [FIND [BACKWARD]], [OFFSET]
                                   (from SEEK_MID's row, may be < 0),
                                   [LIMIT], [FAI] -> rows, TOTAL (rows
                                   that match), POSITION (of the first
                                   row); storaged/sd_query.c says what
                                   sorts and restrictions mean */
    XW_OP_SET_READ = 15,        /* MIDS, READ -> TOTAL changed, CN */
    XW_OP_CHANGES = 16,         /* CN (after), [LIMIT] -> rows of CN, KIND,
                                   PR_FID, [PR_MID]; final CN = newest.
                                   E_LIMIT (and CN: what was forgotten)
                                   when changes after that CN have
                                   expired (sql/009): start over */
    XW_OP_NAMES_TO_IDS = 17,    /* [CREATE], then per name NAME_GUID and
                                   NAME_LID or NAME_STRING -> PROPIDS (0
                                   for an unknown name when not creating;
                                   [MS-OXCPRPT] 2.2.12) */
    XW_OP_SUBSCRIBE = 18,       /* [PR_FID] (else the whole mailbox) ->
                                   OK; then, for every change committed by
                                   any storaged on the database, a frame
                                   flagged XW_F_PUSH with this op and the
                                   SUBSCRIBE request's id, carrying CN,
                                   KIND, PR_FID, [PR_MID] ([MS-OXCNOTIF]).
                                   Pushes are hints: CHANGES is the record. */
    XW_OP_UNSUBSCRIBE = 19,     /* SUBSCRIPTION (the SUBSCRIBE request id) */
    /*
     * Moves, copies, deletes and property-level changes ([MS-OXCFOLD],
     * [MS-OXCMSG], [MS-OXCPRPT]). Each is one transaction; every object it
     * changes gets its own CN, change key and change-log row (deleted ones
     * a tombstone); the final CN is the newest. Writes that would take the
     * mailbox past its quota are XC_E_NOQUOTA (deletes never are).
     */
    XW_OP_DELETE_FOLDER = 20,   /* PR_FID, [FOLDER_FLAGS: DEL_MESSAGES 0x01,
                                   DEL_FOLDERS 0x04, DELETE_HARD_DELETE 0x10
                                   as RopDeleteFolder, [MS-OXCFOLD]
                                   2.2.1.3.1; we always hard delete] ->
                                   TOTAL objects deleted, CN. A folder
                                   holding messages (subfolders) without
                                   DEL_MESSAGES (DEL_FOLDERS) is XC_E_EXISTS
                                   "folder not empty", nothing deleted (the
                                   ROP edge answers PartialCompletion,
                                   3.2.5.3); special folders XC_E_PERM */
    XW_OP_MOVE_FOLDER = 21,     /* PR_FID, PR_PARENT_FID (new parent),
                                   [PR_DISPLAY_NAME (new name)] -> CN,
                                   PR_CHANGE_KEY. The FID stays; change kind
                                   "move". A sibling of that name:
                                   XC_E_EXISTS; under itself or a
                                   descendant: XC_E_BADREQ; special
                                   folders: XC_E_PERM */
    XW_OP_COPY_FOLDER = 22,     /* PR_FID, PR_PARENT_FID, [PR_DISPLAY_NAME],
                                   [RECURSIVE] -> PR_FID of the copy, TOTAL
                                   objects created, CN. Every copied folder
                                   and message gets a new id; the copy is
                                   never special */
    XW_OP_EMPTY_FOLDER = 23,    /* PR_FID, [FAI: associated messages too]
                                   -> TOTAL objects deleted, CN. Deletes the
                                   messages and every subfolder, as
                                   RopEmptyFolder ([MS-OXCFOLD] 3.2.5.9);
                                   XC_E_PERM if a special folder is below */
    XW_OP_MOVE_MESSAGES = 24,   /* MIDS, PR_FID (destination) -> NEW_MIDS
                                   (in order; 0 for an id not found), TOTAL,
                                   CN. A moved message gets a new MID: a
                                   "delete" (and tombstone) in its folder,
                                   a "create" in the destination */
    XW_OP_COPY_MESSAGES = 25,   /* MIDS, PR_FID -> NEW_MIDS, TOTAL, CN.
                                   Copies keep every property, recipient,
                                   attachment and the read state */
    XW_OP_SET_PROPS = 26,       /* PR_MID or PR_FID, then START_MESSAGE, the
                                   properties, END_MESSAGE -> PROBLEMS, CN,
                                   PR_CHANGE_KEY ([MS-OXCPRPT] 2.2.5). A
                                   property that can't be set is a problem,
                                   the others are set; with nothing to set,
                                   no CN. The read bit of PR_MESSAGE_FLAGS
                                   sets the read state, as in SAVE_MESSAGE */
    XW_OP_DELETE_PROPS = 27,    /* PR_MID or PR_FID, PROPTAGS -> PROBLEMS,
                                   CN, PR_CHANGE_KEY ([MS-OXCPRPT] 2.2.7);
                                   tags match by property id */
    XW_OP_GET_FOLDER = 28,      /* PR_FID -> START_MESSAGE, computed and
                                   stored folder properties, END_MESSAGE */
    XW_OP_QUOTA = 29,           /* -> USED_BYTES, [QUOTA_BYTES],
                                   [SEND_QUOTA_BYTES], MAX_MESSAGE_SIZE
                                   (absent: no quota) */
    XW_OP_IMPORT_MIME = 30,     /* PR_FID, MIME (streamed), [READ],
                                   [FLAGGED], [PARTS] -> PR_MID,
                                   PR_CHANGE_KEY, CN, [NEW_MIDS]. The
                                   message is converted per [MS-OXCMAIL]
                                   and saved as SAVE_MESSAGE saves; its
                                   bytes are kept exactly and GET_MIME
                                   gives them back. With PARTS, several
                                   messages, saved in one transaction */
    XW_OP_GET_MIME = 31,        /* PR_MID -> MIME (streamed), CN: received
                                   bytes as they came, else MIME generated
                                   from the content once per change */
    XW_OP_TRUSTED_LOGIN = 32,   /* USER -> SESSION and the user, as AUTH
                                   answers; no password, only for a peer
                                   running as root or as storaged's user
                                   or one of trusted_users (admin tools,
                                   mtad); else E_PERM. Disabled accounts
                                   too: their mailboxes still take mail */
    XW_OP_READ_PROP = 33,       /* PR_MID, [ATTACH_NUM | ROW_ID], PROPTAG
                                   (its id counts), [OFFSET], [LIMIT]
                                   (bytes) -> the value's bytes as on the
                                   wire after its tag and length
                                   (streamed), PROPTAG (as stored), VALUE
                                   (bytes sent), TOTAL (the whole value) */
    XW_OP_GET_PERMISSIONS = 34, /* PR_FID -> rows of PR_MEMBER_ID (0
                                   Default, -1 Anonymous), PR_MEMBER_NAME,
                                   PR_SMTP_ADDRESS (users), PR_MEMBER_RIGHTS
                                   ([MS-OXCPERM] 2.2.4; the Default row
                                   always) */
    XW_OP_SET_PERMISSIONS = 35, /* PR_FID, then per member ADDRESS (an
                                   address, "default" or "anonymous") and
                                   PR_MEMBER_RIGHTS (-1 removes the row)
                                   -> status; needs FolderOwner; one
                                   transaction ([MS-OXCPERM] 2.2.5) */
    XW_OP_PUBLIC_STORE = 36,    /* session -> MAILBOX_ID, MAILBOX_GUID (its
                                   replica GUID) and OWNER (the session's
                                   user administers it: every right) of
                                   the public folder store (a public
                                   folders logon, [MS-OXCSTOR] 2.2.1.1);
                                   its folders' PR_XC_SPECIAL_FOLDER are
                                   101 root, 102 IPM_SUBTREE, 103
                                   NON_IPM_SUBTREE, 104 EFORMS REGISTRY,
                                   105 SCHEDULE+ FREE BUSY, 106 OFFLINE
                                   ADDRESS BOOK */
    /*
     * Search folders (sql/016; CREATE_FOLDER with PR_FOLDER_TYPE 2): their
     * contents table is the messages of their scope that match their
     * restriction, current whenever it is read ([MS-OXCFOLD] 2.2.1.4,
     * 2.2.1.5 RopSetSearchCriteria / RopGetSearchCriteria). Owner only.
     */
    XW_OP_SET_SEARCH_CRITERIA = 37, /* PR_FID (a search folder),
                                   [RESTRICTION] (absent: keep; empty:
                                   every message), [FIDS] (the scope;
                                   required the first time),
                                   [SEARCH_FLAGS] (XW_SEARCH_RECURSIVE)
                                   -> status */
    XW_OP_GET_SEARCH_CRITERIA = 38, /* PR_FID -> RESTRICTION (when set),
                                   FIDS, SEARCH_FLAGS (RECURSIVE and
                                   XW_SEARCH_COMPLETE: always, the search
                                   runs when read) */
    /* The mail queue (sql/018), for trusted peers only (root, storaged's
       user, trusted_users: mtad); others get E_PERM. */
    XW_OP_RCPT_CHECK = 39,      /* ADDRESS, [SIZE] -> LOCAL (a mailbox of
                                   ours: MAILBOX_ID, USER_ID, USER), or not
                                   (a domain that isn't ours: remote).
                                   NOTFOUND: a domain of ours without that
                                   address; NOQUOTA: the mailbox is full (or
                                   SIZE would overfill it); LIMIT: SIZE is
                                   over max_message_size. With
                                   SEND_QUOTA_BYTES (any value) it checks a
                                   sender instead: NOQUOTA past its send
                                   quota, else LOCAL and USER_ID */
    XW_OP_QUEUE_PUT = 40,       /* SENDER ("" for <>), per recipient one
                                   ADDRESS (then optional NOTIFY, ORCPT for
                                   it), [CLIENT], [AUTH_USER], [ENVID],
                                   [RET], [LEASE] (seconds the caller keeps
                                   the recipients to deliver them itself),
                                   [QUEUE_ID and DONE_IDX: recipients of
                                   another queued message that this one
                                   (a bounce) settles, in the same
                                   commit], MIME (streamed) -> QUEUE_ID once
                                   committed; LOCALS: the indexes of the
                                   recipients with a mailbox here */
    XW_OP_QUEUE_TAKE = 41,      /* [LIMIT], [LEASE] seconds -> rows of
                                   QUEUE_ID, RCPT_IDX, ADDRESS, [MAILBOX_ID
                                   when local], SENDER, SIZE, ATTEMPTS,
                                   DOMAIN, [NOTIFY], [ORCPT], WARNED,
                                   [ENVID], [RET], AGE (seconds queued):
                                   recipients due, leased to the caller */
    XW_OP_QUEUE_READ = 42,      /* QUEUE_ID -> MIME (streamed), SENDER */
    XW_OP_QUEUE_DEFER = 43,     /* QUEUE_ID, RCPT_IDX, ERRMSG, [DELAY]
                                   (first back-off, seconds), [LIMIT] (the
                                   longest), [WARNED] (a delay DSN went
                                   out) -> status */
    XW_OP_QUEUE_DONE = 44,      /* QUEUE_ID, RCPT_IDX -> status; NOTFOUND
                                   when it was done already */
    XW_OP_QUEUE_STATS = 45,     /* [LIMIT] -> TOTAL: messages queued
                                   (counted up to LIMIT + 1) */
    /* IMAP's view of a folder (sql/020; [MS-OXIMAP4]) */
    XW_OP_IMAP_LIST = 46,       /* PR_FID, [UID_FIRST], [UID_LAST], [CN:
                                   only messages changed after it] -> rows
                                   of UID, PR_MID, CN (the MODSEQ),
                                   IMAP_FLAGS, PR_MESSAGE_DELIVERY_TIME
                                   (INTERNALDATE), [SIZE: of its MIME when
                                   known], [KEYWORDS], in UID order; then
                                   UIDVALIDITY, UIDNEXT, TOTAL (messages in
                                   the folder) and CN (the folder's highest
                                   change). Needs ReadAny on the folder */
};

/*
 * Store status, returned by storaged and mapped by each protocol to its own
 * codes at the edge (HTTP status, EWS ResponseCode, IMAP NO/BAD, ...).
 */
typedef enum xc_status {
    XC_OK = 0,
    XC_E_TEMP = 1,          /* temporary failure: retry later */
    XC_E_NOTFOUND = 2,
    XC_E_PERM = 3,          /* not allowed */
    XC_E_EXISTS = 4,
    XC_E_NOQUOTA = 5,
    XC_E_LIMIT = 6,         /* a configured limit was hit */
    XC_E_AUTH = 7,          /* bad credentials (or disabled account) */
    XC_E_RATELIMIT = 8,     /* too many failures: try later */
    XC_E_BADREQ = 9,        /* malformed request */
    XC_E_UNSUPPORTED = 10,  /* unknown opcode or property type */
    XC_E_SESSION = 11,      /* unknown or expired session */
    XC_E_INTERNAL = 12,
    XC_STATUS_MAX_ = 13
} xc_status;

const char *xc_status_name(uint32_t st);

/* [MS-OXCDATA] 2.11.1 property types */
#define PT_UNSPECIFIED 0x0000
#define PT_NULL 0x0001
#define PT_SHORT 0x0002
#define PT_LONG 0x0003
#define PT_FLOAT 0x0004
#define PT_DOUBLE 0x0005
#define PT_CURRENCY 0x0006
#define PT_APPTIME 0x0007
#define PT_ERROR 0x000A
#define PT_BOOLEAN 0x000B
#define PT_OBJECT 0x000D
#define PT_I8 0x0014
#define PT_STRING8 0x001E
#define PT_UNICODE 0x001F
#define PT_SYSTIME 0x0040
#define PT_CLSID 0x0048
#define PT_SVREID 0x00FB
#define PT_BINARY 0x0102
#define PT_MV 0x1000

#define PROP_TAG(type, id) ((uint32_t)(id) << 16 | (uint32_t)(type))
#define PROP_TYPE(tag) ((uint16_t)((tag) & 0xFFFF))
#define PROP_ID(tag) ((uint16_t)((tag) >> 16))

/* protocol argument tags (ids < 0x0100) */
#define XW_TAG_STATUS PROP_TAG(PT_LONG, 0x0001)
#define XW_TAG_ERRMSG PROP_TAG(PT_STRING8, 0x0002)
#define XW_TAG_USER PROP_TAG(PT_STRING8, 0x0003)
#define XW_TAG_PASSWORD PROP_TAG(PT_STRING8, 0x0004)
#define XW_TAG_REMOTE_ADDR PROP_TAG(PT_STRING8, 0x0005)
#define XW_TAG_SESSION PROP_TAG(PT_STRING8, 0x0006)
#define XW_TAG_ADDRESS PROP_TAG(PT_STRING8, 0x0007)
#define XW_TAG_USER_ID PROP_TAG(PT_I8, 0x0008)
#define XW_TAG_MAILBOX_ID PROP_TAG(PT_I8, 0x0009)
#define XW_TAG_SERVER_NAME PROP_TAG(PT_STRING8, 0x000A)
#define XW_TAG_PROTO_VERSION PROP_TAG(PT_LONG, 0x000B)
#define XW_TAG_CLIENT_NAME PROP_TAG(PT_STRING8, 0x000C)
#define XW_TAG_DOMAIN PROP_TAG(PT_STRING8, 0x000D)
#define XW_TAG_MAILBOX_GUID PROP_TAG(PT_STRING8, 0x000E)
#define XW_TAG_DEPLOYMENT_ID PROP_TAG(PT_STRING8, 0x000F)
#define XW_TAG_FAI PROP_TAG(PT_BOOLEAN, 0x0010)
#define XW_TAG_MIDS PROP_TAG(PT_MV | PT_I8, 0x0011)
#define XW_TAG_READ PROP_TAG(PT_BOOLEAN, 0x0012)
#define XW_TAG_COLUMNS PROP_TAG(PT_MV | PT_LONG, 0x0013)
/* sort: pairs of (property tag, 0 ascending / 1 descending) */
#define XW_TAG_SORT PROP_TAG(PT_MV | PT_LONG, 0x0014)
#define XW_TAG_OFFSET PROP_TAG(PT_LONG, 0x0015)
#define XW_TAG_LIMIT PROP_TAG(PT_LONG, 0x0016)
#define XW_TAG_TOTAL PROP_TAG(PT_LONG, 0x0017)
#define XW_TAG_CN PROP_TAG(PT_I8, 0x0018)
#define XW_TAG_KIND PROP_TAG(PT_STRING8, 0x0019)
#define XW_TAG_CREATE PROP_TAG(PT_BOOLEAN, 0x001A)
#define XW_TAG_NAME_GUID PROP_TAG(PT_CLSID, 0x001B)
#define XW_TAG_NAME_LID PROP_TAG(PT_LONG, 0x001C)
#define XW_TAG_NAME_STRING PROP_TAG(PT_STRING8, 0x001D)
#define XW_TAG_PROPIDS PROP_TAG(PT_MV | PT_LONG, 0x001E)
#define XW_TAG_SUBSCRIPTION PROP_TAG(PT_LONG, 0x001F)
/* 0x0030..0x003F: moves, copies, property-level changes, quotas */
#define XW_TAG_FOLDER_FLAGS PROP_TAG(PT_LONG, 0x0030)
#define XW_TAG_RECURSIVE PROP_TAG(PT_BOOLEAN, 0x0031)
#define XW_TAG_NEW_MIDS PROP_TAG(PT_MV | PT_I8, 0x0032)
#define XW_TAG_PROPTAGS PROP_TAG(PT_MV | PT_LONG, 0x0033)
/* [MS-OXCDATA] 2.7 PropertyProblem: triples of (index into the request's
   properties, property tag, error code) */
#define XW_TAG_PROBLEMS PROP_TAG(PT_MV | PT_LONG, 0x0034)
#define XW_TAG_USED_BYTES PROP_TAG(PT_I8, 0x0035)
#define XW_TAG_QUOTA_BYTES PROP_TAG(PT_I8, 0x0036)
#define XW_TAG_SEND_QUOTA_BYTES PROP_TAG(PT_I8, 0x0037)
#define XW_TAG_MAX_MESSAGE_SIZE PROP_TAG(PT_I8, 0x0038)
/* RFC 5322 bytes, streamed: the u64 is the length, the bytes come in
   XW_F_CHUNK frames (a request: after its frame, which has XW_F_MORE,
   the last chunk without it; an answer: before its final frame). */
#define XW_TAG_MIME PROP_TAG(PT_OBJECT, 0x0039)
/* IMPORT_MIME: the message was read / flagged where it came from */
#define XW_TAG_FLAGGED PROP_TAG(PT_BOOLEAN, 0x003A)
/* 0x0040..0x004F: large values ([MS-OXCPRPT] streams) */
#define XW_TAG_ATTACH_NUM PROP_TAG(PT_LONG, 0x0040)
#define XW_TAG_ROW_ID PROP_TAG(PT_LONG, 0x0041)
#define XW_TAG_PROPTAG PROP_TAG(PT_LONG, 0x0042)
/* a streamed value (READ_PROP's answer; the streamed argument of a
   request whose content holds XW_MARK_STREAMED values) */
#define XW_TAG_VALUE PROP_TAG(PT_OBJECT, 0x0043)
/* PUBLIC_STORE: the session has every right in the store */
#define XW_TAG_OWNER PROP_TAG(PT_BOOLEAN, 0x0044)
/* SET/GET_SEARCH_CRITERIA: the folders searched; the search's flags
   ([MS-OXCFOLD] 2.2.1.4.1 SearchFlags / 2.2.1.5.2 SearchFlags) */
#define XW_TAG_FIDS PROP_TAG(PT_MV | PT_I8, 0x0045)
#define XW_TAG_SEARCH_FLAGS PROP_TAG(PT_LONG, 0x0046)
#define XW_SEARCH_RECURSIVE 0x00000004u     /* RECURSIVE_SEARCH */
#define XW_SEARCH_COMPLETE 0x00001000u      /* SEARCH_COMPLETE */
/*
 * CONTENTS, categorized ([MS-OXCTABL] 2.2.2.13 RopSortTable with
 * CategorizedCount and ExpandedCount): the first CATEGORIES keys of SORT
 * group the rows; a header row per category (PR_ROW_TYPE expanded 3 or
 * collapsed 4, PR_DEPTH from 0, PR_INSTANCE_KEY its category id,
 * PR_CONTENT_COUNT and PR_CONTENT_UNREAD of its messages, the category's
 * values) precedes what it holds when expanded; leaves are
 * PR_ROW_TYPE 1 at depth CATEGORIES. Categories down to depth EXPANDED
 * (default: all) start expanded; TOGGLED lists the category ids whose
 * state the client changed (RopExpandRow / RopCollapseRow). OFFSET,
 * LIMIT and TOTAL count visible rows.
 */
#define XW_TAG_CATEGORIES PROP_TAG(PT_LONG, 0x0047)
#define XW_TAG_EXPANDED PROP_TAG(PT_LONG, 0x0048)
#define XW_TAG_TOGGLED PROP_TAG(PT_MV | PT_BINARY, 0x0049)
/* The mail queue (XW_OP_RCPT_CHECK .. QUEUE_DONE); IMPORT_MIME takes
   QUEUE_ID and RCPT_IDX from trusted peers: the recipient leaves the queue
   in the transaction that saves its copy (exactly once). */
#define XW_TAG_SENDER PROP_TAG(PT_STRING8, 0x004A)
#define XW_TAG_QUEUE_ID PROP_TAG(PT_I8, 0x004B)
#define XW_TAG_RCPT_IDX PROP_TAG(PT_LONG, 0x004C)
#define XW_TAG_SIZE PROP_TAG(PT_I8, 0x004D)
#define XW_TAG_LOCAL PROP_TAG(PT_BOOLEAN, 0x004E)
#define XW_TAG_LOCALS PROP_TAG(PT_MV | PT_LONG, 0x004F)
#define XW_TAG_CLIENT PROP_TAG(PT_STRING8, 0x0050)
#define XW_TAG_AUTH_USER PROP_TAG(PT_I8, 0x0051)
#define XW_TAG_ENVID PROP_TAG(PT_STRING8, 0x0052)
#define XW_TAG_RET PROP_TAG(PT_STRING8, 0x0053)
#define XW_TAG_NOTIFY PROP_TAG(PT_STRING8, 0x0054)
#define XW_TAG_ORCPT PROP_TAG(PT_STRING8, 0x0055)
#define XW_TAG_ATTEMPTS PROP_TAG(PT_LONG, 0x0056)
#define XW_TAG_LEASE PROP_TAG(PT_LONG, 0x0057)
#define XW_TAG_DELAY PROP_TAG(PT_LONG, 0x0058)
#define XW_TAG_WARNED PROP_TAG(PT_BOOLEAN, 0x0059)
#define XW_TAG_AGE PROP_TAG(PT_I8, 0x005A)
#define XW_TAG_DONE_IDX PROP_TAG(PT_MV | PT_LONG, 0x005B)
/* IMPORT_MIME: the sizes of the messages whose bytes follow one another in
   its MIME stream, saved into PR_FID in one transaction (all or none; the
   reply has NEW_MIDS); at most XW_IMPORT_PARTS_MAX, never with QUEUE_ID */
#define XW_TAG_PARTS PROP_TAG(PT_MV | PT_I8, 0x005C)
#define XW_IMPORT_PARTS_MAX 64
/* XW_OP_IMAP_LIST */
#define XW_TAG_UID PROP_TAG(PT_I8, 0x005D)
#define XW_TAG_UIDVALIDITY PROP_TAG(PT_I8, 0x005E)
#define XW_TAG_UIDNEXT PROP_TAG(PT_I8, 0x005F)
#define XW_TAG_IMAP_FLAGS PROP_TAG(PT_LONG, 0x0060)
#define XW_TAG_KEYWORDS PROP_TAG(PT_MV | PT_UNICODE, 0x0061)
#define XW_TAG_UID_FIRST PROP_TAG(PT_I8, 0x0062)
#define XW_TAG_UID_LAST PROP_TAG(PT_I8, 0x0063)
/* IMAP system flags as the store keeps them: \Seen the read state,
   \Flagged PidTagFlagStatus followupFlagged, \Answered and $Forwarded
   PidTagLastVerbExecuted (reply, reply all / forward), \Deleted
   PidTagMessageStatus MSGSTATUS_DELMARKED, \Draft PidTagMessageFlags
   mfUnsent (sql/021); keywords are the Keywords (categories) named
   property */
#define XW_IMAP_SEEN 0x01
#define XW_IMAP_ANSWERED 0x02
#define XW_IMAP_FLAGGED 0x04
#define XW_IMAP_DELETED 0x08
#define XW_IMAP_DRAFT 0x10
#define XW_IMAP_FORWARDED 0x20
#define XW_MAX_CATEGORIES 4
#define PR_ROW_TYPE PROP_TAG(PT_LONG, 0x0FF5)
#define PR_INSTANCE_KEY PROP_TAG(PT_BINARY, 0x0FF6)
#define PR_DEPTH PROP_TAG(PT_LONG, 0x3005)
#define TBL_LEAF_ROW 1
#define TBL_EXPANDED_CATEGORY 3
#define TBL_COLLAPSED_CATEGORY 4
/*
 * Large values. GET_MESSAGE answers a value of more than XW_INLINE_MAX
 * bytes on the wire, or one that would take its answer past the frame
 * size, as PROP_TAG(PT_ERROR, id) = XW_E_NOT_ENOUGH_MEMORY, as
 * RopGetPropertiesSpecific does ([MS-OXCPRPT] 3.2.5.1); READ_PROP reads
 * it, whole or a range, as RopOpenStream + RopReadStream would.
 * A request carries one in its streamed argument (XW_TAG_VALUE, the sum
 * of their lengths): in the content, XW_MARK_STREAMED(type) then
 * PROP_TAG(PT_OBJECT, id) = length stand for PROP_TAG(type, id) with the
 * next length bytes of the stream (type PT_BINARY, PT_STRING8 or
 * PT_UNICODE; in content order; every byte used).
 */
#define XW_INLINE_MAX (256u * 1024)
#define XW_E_NOT_ENOUGH_MEMORY 0x8007000Eu
#define XW_MARK_STREAMED 0x40F00003u

/*
 * Folder permissions ([MS-OXCPERM] 2.2.7, PidTagMemberRights). A
 * mailbox's owner has every right. Anyone else works in another mailbox
 * (MAILBOX_ID of that mailbox, their own session) as the folder's rights
 * for them allow: ReadAny for CONTENTS, GET_MESSAGE, GET_MIME, READ_PROP,
 * SET_READ and SUBSCRIBE to the folder; Create for a new message
 * (SAVE_MESSAGE, IMPORT_MIME); EditAny, or EditOwned on messages they
 * created, to save over one or SET_PROPS / DELETE_PROPS on it; DeleteAny,
 * or DeleteOwned, for DELETE_MESSAGES; for COPY_MESSAGES ReadAny at the
 * source and Create at the destination, for MOVE_MESSAGES the delete
 * right at the source too; CreateSubFolder for CREATE_FOLDER;
 * FolderVisible to see the folder in LIST_FOLDERS, GET_FOLDER and its
 * permissions; FolderOwner to change them and the folder's properties.
 * Other operations (folder deletes, moves and copies, CHANGES,
 * NAMES_TO_IDS, a whole mailbox's notifications) are the owner's alone
 * for now. A missing right answers XC_E_PERM.
 */
#define XW_RIGHT_READ_ANY 0x0001u
#define XW_RIGHT_CREATE 0x0002u
#define XW_RIGHT_EDIT_OWNED 0x0008u
#define XW_RIGHT_DELETE_OWNED 0x0010u
#define XW_RIGHT_EDIT_ANY 0x0020u
#define XW_RIGHT_DELETE_ANY 0x0040u
#define XW_RIGHT_CREATE_SUBFOLDER 0x0080u
#define XW_RIGHT_FOLDER_OWNER 0x0100u
#define XW_RIGHT_FOLDER_CONTACT 0x0200u
#define XW_RIGHT_FOLDER_VISIBLE 0x0400u
#define XW_RIGHT_FREEBUSY_SIMPLE 0x0800u
#define XW_RIGHT_FREEBUSY_DETAILED 0x1000u
#define XW_RIGHTS_ALL 0x1FFBu
#define PR_FLAG_STATUS PROP_TAG(PT_LONG, 0x1090)     /* [MS-OXOFLAG] */
#define PR_MEMBER_ID PROP_TAG(PT_I8, 0x6671)
#define PR_MEMBER_NAME PROP_TAG(PT_STRING8, 0x6672)
#define PR_MEMBER_RIGHTS PROP_TAG(PT_LONG, 0x6673)
/* the session's own rights in a folder (LIST_FOLDERS rows) */
#define PR_RIGHTS PROP_TAG(PT_LONG, 0x6639)
#define XW_DEL_MESSAGES 0x01
#define XW_DEL_FOLDERS 0x04
#define XW_DELETE_HARD_DELETE 0x10
/* a restriction in its [MS-OXCDATA] 2.12 ROP encoding (lib/xc_restrict.h) */
#define XW_TAG_RESTRICTION PROP_TAG(PT_BINARY, 0x0020)
/* contents tables: start at a row (a bookmark is its MID), or at the
   first row from there that matches a restriction (RopFindRow); the
   answer says where the page starts (RopQueryPosition) */
#define XW_TAG_SEEK_MID PROP_TAG(PT_I8, 0x0021)
#define XW_TAG_FIND PROP_TAG(PT_BINARY, 0x0022)
#define XW_TAG_BACKWARD PROP_TAG(PT_BOOLEAN, 0x0023)
#define XW_TAG_POSITION PROP_TAG(PT_LONG, 0x0024)

/*
 * Sub-object markers in message content, as in the FastTransfer stream
 * ([MS-OXCFXICS] 2.2.4.1.4), but carrying a 4-byte value: the recipient
 * row id or attachment number (0 on end markers).
 */
#define XW_MARK_START_MESSAGE 0x400C0003u
#define XW_MARK_END_MESSAGE 0x400D0003u
#define XW_MARK_START_RECIP 0x40030003u
#define XW_MARK_END_RECIP 0x40040003u
#define XW_MARK_NEW_ATTACH 0x40000003u
#define XW_MARK_END_ATTACH 0x400E0003u
#define XW_MARK_START_EMBED 0x40010003u
#define XW_MARK_END_EMBED 0x40020003u

/* [MS-OXPROPS] tags used so far */
#define PR_DISPLAY_NAME PROP_TAG(PT_STRING8, 0x3001)
#define PR_EMAIL_ADDRESS PROP_TAG(PT_STRING8, 0x3003)     /* legacy DN */
#define PR_FOLDER_TYPE PROP_TAG(PT_LONG, 0x3601)
#define PR_CONTENT_COUNT PROP_TAG(PT_LONG, 0x3602)
#define PR_CONTENT_UNREAD PROP_TAG(PT_LONG, 0x3603)
#define PR_ASSOC_CONTENT_COUNT PROP_TAG(PT_LONG, 0x3617)
#define PR_SUBFOLDERS PROP_TAG(PT_BOOLEAN, 0x360A)
#define PR_CONTAINER_CLASS PROP_TAG(PT_STRING8, 0x3613)
#define PR_SMTP_ADDRESS PROP_TAG(PT_STRING8, 0x39FE)
#define PR_FID PROP_TAG(PT_I8, 0x6748)
#define PR_PARENT_FID PROP_TAG(PT_I8, 0x6749)
#define PR_MID PROP_TAG(PT_I8, 0x674A)
#define PR_CHANGE_NUMBER PROP_TAG(PT_I8, 0x67A4)
#define PR_CHANGE_KEY PROP_TAG(PT_BINARY, 0x65E2)
#define PR_PREDECESSOR_CHANGE_LIST PROP_TAG(PT_BINARY, 0x65E3)
#define PR_MESSAGE_CLASS PROP_TAG(PT_UNICODE, 0x001A)
#define PR_SUBJECT PROP_TAG(PT_UNICODE, 0x0037)
#define PR_MESSAGE_DELIVERY_TIME PROP_TAG(PT_SYSTIME, 0x0E06)
#define PR_MESSAGE_FLAGS PROP_TAG(PT_LONG, 0x0E07)
#define PR_MESSAGE_SIZE PROP_TAG(PT_LONG, 0x0E08)
#define PR_ATTACH_NUM PROP_TAG(PT_LONG, 0x0E21)
#define PR_ROWID PROP_TAG(PT_LONG, 0x3000)
#define PR_CREATION_TIME PROP_TAG(PT_SYSTIME, 0x3007)
#define PR_LAST_MODIFICATION_TIME PROP_TAG(PT_SYSTIME, 0x3008)
#define PR_ASSOCIATED PROP_TAG(PT_BOOLEAN, 0x67AA)
#define MSGFLAG_READ 0x0001
#define MSGFLAG_ASSOCIATED 0x0040
/* [MS-OXCMSG] 2.2.1.6: bits a client sets on a new message (mfUnsent,
   mfFromMe, mfResend, mfNotifyRead, mfNotifyUnread); kept (sql/021) */
#define MSGFLAG_UNSENT 0x0008
#define MSGFLAG_CLIENT 0x03A8
/* our own: which [MS-OXOSFLD] special folder this is (0 = none) */
#define PR_XC_SPECIAL_FOLDER PROP_TAG(PT_LONG, 0x0050)

/* A decoded property value. Variable-size values point into the frame. */
typedef struct xc_propval {
    uint32_t tag;
    union {
        int16_t i16;
        int32_t i32;        /* PT_LONG, PT_ERROR */
        int64_t i64;        /* PT_I8, PT_CURRENCY, PT_SYSTIME */
        uint64_t u64;       /* PT_OBJECT: streamed length */
        float f32;
        double f64;         /* PT_DOUBLE, PT_APPTIME */
        uint8_t b;          /* PT_BOOLEAN */
        struct {            /* PT_STRING8, PT_UNICODE, PT_BINARY, PT_SVREID,
                               PT_CLSID (16 bytes) */
            const uint8_t *p;
            uint32_t n;
        } bin;
        struct {            /* PT_MV_*: raw encoded values, see xc_mv_next */
            const uint8_t *p;
            uint32_t n;     /* bytes */
            uint32_t count;
        } mv;
    } v;
} xc_propval;

typedef struct xw_hdr {
    uint32_t len;           /* whole frame, including the length field */
    uint8_t version;
    uint8_t flags;
    uint16_t op;
    uint32_t reqid;
} xw_hdr;

typedef enum xw_parse {
    XW_PARSE_DONE = 0,
    XW_PARSE_MORE = 1,      /* need more bytes */
    XW_PARSE_ERROR = -1
} xw_parse;

/*
 * Look for one whole frame at the start of buf. On XW_PARSE_DONE, *hdr is
 * filled and the payload is buf[XW_HDR_LEN .. hdr->len). Frames longer than
 * max_frame, shorter than a header, or of another version are errors.
 */
xw_parse xw_frame_parse(const uint8_t *buf, size_t len, size_t max_frame,
                        xw_hdr *hdr, const char **error_r);

/* Start a frame in w (reset first); finish it with xw_frame_end. */
void xw_frame_begin(xc_wbuf *w, uint8_t flags, uint16_t op, uint32_t reqid);
/* Patch the length field; returns 0, or -1 if w overflowed its limit. */
int xw_frame_end(xc_wbuf *w);

/* Is this a property type we carry on the wire? */
int xc_type_ok(uint16_t type);

/*
 * Decode the property list in payload into out[0..max). Returns 0 and the
 * count, or -1 with an error message (truncated value, unknown type, bad
 * UTF-8 in PT_STRING8, bad boolean, too many properties or values).
 */
int xc_props_decode(const uint8_t *payload, size_t len, xc_propval *out,
                    size_t max, size_t *count_r, const char **error_r);

/* Iterate a multi-valued property: fills one single-valued xc_propval. */
typedef struct xc_mv_iter {
    xc_rbuf r;
    uint16_t type;          /* single-valued type */
    uint32_t left;
} xc_mv_iter;
void xc_mv_iter_init(xc_mv_iter *it, const xc_propval *mv);
int xc_mv_next(xc_mv_iter *it, xc_propval *out); /* 1 got one, 0 end, -1 err */

/* Encoders: append one tagged value. */
void xc_put_long(xc_wbuf *w, uint32_t tag, int32_t v);
void xc_put_i8(xc_wbuf *w, uint32_t tag, int64_t v);
void xc_put_bool(xc_wbuf *w, uint32_t tag, int v);
void xc_put_str(xc_wbuf *w, uint32_t tag, const char *s);      /* STRING8 */
void xc_put_strn(xc_wbuf *w, uint32_t tag, const char *s, size_t n);
void xc_put_bin(xc_wbuf *w, uint32_t tag, const void *p, size_t n);
void xc_put_object(xc_wbuf *w, uint32_t tag, uint64_t len);
/* Generic: encode a decoded value back (used by tests and relays). */
void xc_put_propval(xc_wbuf *w, const xc_propval *pv);

/* Lookups over a decoded list; NULL if absent. */
const xc_propval *xc_props_find(const xc_propval *pv, size_t n, uint32_t tag);
/* PT_STRING8 value as a NUL-terminated copy in dst (truncation = -1). */
int xc_props_str(const xc_propval *pv, size_t n, uint32_t tag, char *dst,
                 size_t dstlen);

/* Strict UTF-8 check (no overlongs, no surrogates, no NUL). */
int xc_utf8_valid(const uint8_t *p, size_t n);

#endif
