#!/usr/bin/python3
"""test_store - the information store over storaged's raw socket.

A client saves messages with every property type, recipients and
attachments and reads them back; replaces them; lists folder contents
sorted and page by page; marks messages read; deletes them; and follows
every change through the change log. Eight writers at once get distinct,
gap-free change numbers; a malformed save or a storaged crash mid-save
leaves nothing half-written; large values are stored once per content; and
nobody reaches another user's mailbox.

The contract is lib/xc_wire.h (ops 10..16, content between
XW_MARK_START_MESSAGE and XW_MARK_END_MESSAGE) and sql/002_store.sql.
Message content is read with an order-keeping decoder (below): xctest's
dec_props keeps one value per tag, and the sub-object markers repeat.
"""
import datetime
import hashlib
import os
import random
import re
import secrets
import struct
import threading
import time

import xctest
from xctest import (ALICE, BOB, OK, E_NOTFOUND, E_EXISTS, E_BADREQ,
                    E_UNSUPPORTED, F_MORE, F_CHUNK, OP_HELLO, OP_LIST_FOLDERS,
                    T_STATUS, T_ERRMSG, T_SESSION, T_MAILBOX_ID,
                    PR_DISPLAY_NAME, PR_SMTP_ADDRESS, PR_CONTAINER_CLASS,
                    PR_FID, PR_PARENT_FID, PR_XC_SPECIAL_FOLDER,
                    PT_SHORT, PT_LONG, PT_FLOAT, PT_DOUBLE, PT_CURRENCY,
                    PT_APPTIME, PT_ERROR, PT_BOOLEAN, PT_I8, PT_STRING8,
                    PT_UNICODE, PT_SYSTIME, PT_CLSID, PT_SVREID, PT_BINARY,
                    PT_MV, check, tag)

# ---------------------------------------------------------- contract ----
OP_CREATE_FOLDER, OP_SAVE_MESSAGE, OP_GET_MESSAGE, OP_DELETE_MESSAGES = 10, 11, 12, 13
OP_CONTENTS, OP_SET_READ, OP_CHANGES = 14, 15, 16

T_FAI = tag(PT_BOOLEAN, 0x10)
T_MIDS = tag(PT_MV | PT_I8, 0x11)
T_READ = tag(PT_BOOLEAN, 0x12)
T_COLUMNS = tag(PT_MV | PT_LONG, 0x13)
T_SORT = tag(PT_MV | PT_LONG, 0x14)
T_OFFSET = tag(PT_LONG, 0x15)
T_LIMIT = tag(PT_LONG, 0x16)
T_TOTAL = tag(PT_LONG, 0x17)
T_CN = tag(PT_I8, 0x18)
T_KIND = tag(PT_STRING8, 0x19)

# sub-object markers: PT_LONG tags carrying the row id / attach num (0 on ends)
START_MESSAGE, END_MESSAGE = 0x400C0003, 0x400D0003
START_RECIP, END_RECIP = 0x40030003, 0x40040003
NEW_ATTACH, END_ATTACH = 0x40000003, 0x400E0003
START_EMBED, END_EMBED = 0x40010003, 0x40020003
MARKERS = {START_MESSAGE, END_MESSAGE, START_RECIP, END_RECIP, NEW_ATTACH,
           END_ATTACH, START_EMBED, END_EMBED}

PR_MID = tag(PT_I8, 0x674A)
PR_CHANGE_NUMBER = tag(PT_I8, 0x67A4)
PR_CHANGE_KEY = tag(PT_BINARY, 0x65E2)
PR_PREDECESSOR_CHANGE_LIST = tag(PT_BINARY, 0x65E3)
PR_ASSOCIATED = tag(PT_BOOLEAN, 0x67AA)
PR_MESSAGE_CLASS = tag(PT_UNICODE, 0x001A)
PR_SUBJECT = tag(PT_UNICODE, 0x0037)
PR_MESSAGE_DELIVERY_TIME = tag(PT_SYSTIME, 0x0E06)
PR_MESSAGE_FLAGS = tag(PT_LONG, 0x0E07)
PR_MESSAGE_SIZE = tag(PT_LONG, 0x0E08)
PR_BODY = tag(PT_UNICODE, 0x1000)
PR_RECIPIENT_TYPE = 0x0C150003
PR_ATTACH_METHOD = 0x37050003
PR_ATTACH_LONG_FILENAME = 0x3707001F
PR_ATTACH_DATA_BIN = 0x37010102
MSGFLAG_READ = 0x0001
MAPI_TO, MAPI_CC = 1, 2
INBOX, DRAFTS, IPM_SUBTREE = 5, 19, 4      # PR_XC_SPECIAL_FOLDER values
ASC, DESC = 0, 1

AS = ["runuser", "-u", "xcdev", "--"] if os.geteuid() == 0 else []


def filetime(year, month, day, hour=0):
    """A PT_SYSTIME value (100 ns ticks since 1601)."""
    d = datetime.datetime(year, month, day, hour) - datetime.datetime(1601, 1, 1)
    return (d.days * 86400 + d.seconds) * 10_000_000


def counter(xid):
    """The global counter of an [MS-OXCDATA] 2.2.1 id (replica id in the low
    16 bits, the counter big-endian in the upper 6 bytes)."""
    return int.from_bytes(struct.pack("<q", xid)[2:], "big")


# ------------------------------------------------------------- codec ----
class Message:
    """Message content: properties, recipients [(row id, props)],
    attachments [(attach num, props)]; props are [(tag, value)]."""

    def __init__(self, props=(), recipients=(), attachments=()):
        self.props = list(props)
        self.recipients = [(n, list(p)) for n, p in recipients]
        self.attachments = [(n, list(p)) for n, p in attachments]

    def prop(self, t, default=None):
        return dict(self.props).get(t, default)

    def __eq__(self, other):
        return (isinstance(other, Message) and self.props == other.props and
                self.recipients == other.recipients and
                self.attachments == other.attachments)

    def __repr__(self):
        return "Message(%d props, %d recipients, %d attachments)" % (
            len(self.props), len(self.recipients), len(self.attachments))

    def encode_body(self):
        """The content between the message markers; an attachment's
        (START_EMBED, Message) item becomes that message's content between
        START_EMBED and END_EMBED."""
        out = list(self.props)
        for n, props in self.recipients:
            out += [(START_RECIP, n)] + props + [(END_RECIP, 0)]
        for n, props in self.attachments:
            out.append((NEW_ATTACH, n))
            for t, v in props:
                if t == START_EMBED:
                    out += [(START_EMBED, 0)] + v.encode_body() + [(END_EMBED, 0)]
                else:
                    out.append((t, v))
            out.append((END_ATTACH, 0))
        return out

    def encode(self):
        return [(START_MESSAGE, 0)] + self.encode_body() + [(END_MESSAGE, 0)]

    @staticmethod
    def decode(items):
        """Parse GET_MESSAGE's answer; (Message, None) or (None, problem)."""
        marks = [t for t, _ in items]
        if marks.count(START_MESSAGE) != 1 or marks.count(END_MESSAGE) != 1:
            return None, "not one START_MESSAGE..END_MESSAGE: %s" % marks
        body = items[marks.index(START_MESSAGE) + 1:marks.index(END_MESSAGE)]
        msg, end, problem = Message.decode_body(body, 0, False)
        if msg is not None and end != len(body):
            return None, "END_EMBED outside an embedded message"
        return msg, problem

    @staticmethod
    def decode_body(body, i, embedded):
        """Content from body[i] up to the END_EMBED that ends it (embedded)
        or the end; (Message, index after it, None) or (None, _, problem)."""
        msg, cur, seen_attach = Message(), None, False
        while i < len(body):
            t, v = body[i]
            i += 1
            if t == END_EMBED and cur is None and embedded:
                return msg, i, None
            if t in (START_RECIP, NEW_ATTACH):
                if cur is not None:
                    return None, i, "sub-object opened inside another"
                if t == START_RECIP and seen_attach:
                    return None, i, "a recipient after an attachment"
                seen_attach |= t == NEW_ATTACH
                cur = (v, [])
                (msg.recipients if t == START_RECIP else msg.attachments).append(cur)
            elif t in (END_RECIP, END_ATTACH):
                if cur is None:
                    return None, i, "end marker without a start"
                cur = None
            elif t == START_EMBED and cur is not None and cur in msg.attachments:
                inner, i, problem = Message.decode_body(body, i, True)
                if inner is None:
                    return None, i, problem
                cur[1].append((START_EMBED, inner))
            elif t in MARKERS:
                return None, i, "unexpected marker %08x" % t
            elif cur is not None:
                cur[1].append((t, v))
            elif msg.recipients or msg.attachments:
                return None, i, "message property %08x after sub-objects" % t
            else:
                msg.props.append((t, v))
        if embedded:
            return None, i, "embedded message not ended"
        if cur is not None:
            return None, i, "sub-object not closed"
        return msg, i, None


def differences(sent, got):
    """Properties of `sent` that `got` lacks or has with another value."""
    have = dict(got)
    return [("%08x" % t, v if len(repr(v)) < 80 else repr(v)[:80] + "...",
             have.get(t, "<absent>") if len(repr(have.get(t))) < 80
             else repr(have.get(t))[:80] + "...")
            for t, v in sent if have.get(t, object()) != v]


def same_content(sent, got):
    """(equal?, detail) for two Messages, sub-objects in order."""
    problems = differences(sent.props, got.props)
    for what, a, b in (("recipient", sent.recipients, got.recipients),
                       ("attachment", sent.attachments, got.attachments)):
        if [n for n, _ in a] != [n for n, _ in b]:
            problems.append("%s ids %s, got %s" % (what, [n for n, _ in a], [n for n, _ in b]))
            continue
        for (n, pa), (_, pb) in zip(a, b):
            problems += ["%s %d: %s" % (what, n, d) for d in differences(pa, pb)]
    return not problems, problems


# ------------------------------------------------------------ client ----
class Reply:
    def __init__(self, items, rows):
        self.items = items                      # final frame, in order
        self.props = dict(items)
        self.status = self.props.get(T_STATUS)
        self.rows = rows                        # [dict] of F_MORE frames

    def __getitem__(self, t):
        return self.props[t]

    def get(self, t, default=None):
        return self.props.get(t, default)

    def __repr__(self):
        return "status %s %s" % (self.status, {"%08x" % t: v for t, v in self.props.items()
                                               if not isinstance(v, bytes) or len(v) < 64})


class Mailbox:
    """A user's own connection and session to storaged."""

    def __init__(self, who=ALICE, timeout=30):
        self.sd = xctest.Storaged(timeout=timeout)
        st, p, _ = self.sd.login(*who)
        assert st == OK, "login of %s: %s" % (who[0], st)
        self.session, self.id = p[T_SESSION], p[T_MAILBOX_ID]
        self._folders = None

    def close(self):
        self.sd.close()

    def ask(self, op, args, mailbox_id=None):
        rid = self.sd.send(op, [(T_SESSION, self.session),
                                (T_MAILBOX_ID, mailbox_id or self.id)] + list(args))
        rows = []
        while True:
            fr = self.sd.read_frame()
            if fr is None:
                raise EOFError("storaged closed the connection")
            flags, _, reqid, payload = fr
            assert reqid == rid, "answer to %d, expected %d" % (reqid, rid)
            assert not flags & F_CHUNK, "a streamed value (not expected here)"
            if flags & F_MORE:
                rows.append(dict(xctest.dec_props_list(payload)))
            else:
                return Reply(xctest.dec_props_list(payload), rows)

    def special(self, which):
        if self._folders is None:
            st, _, rows = self.sd.call(OP_LIST_FOLDERS, [(T_SESSION, self.session),
                                                         (T_MAILBOX_ID, self.id)])
            assert st == OK, st
            self._folders = {r.get(PR_XC_SPECIAL_FOLDER): r[PR_FID] for r in rows}
        return self._folders[which]

    def create_folder(self, name, parent=None, container_class=None):
        args = [(PR_PARENT_FID, parent or self.special(IPM_SUBTREE)),
                (PR_DISPLAY_NAME, name)]
        if container_class:
            args.append((PR_CONTAINER_CLASS, container_class))
        return self.ask(OP_CREATE_FOLDER, args)

    def new_folder(self, purpose):
        """A folder of our own, so counts and orders are ours alone;
        (fid, CN of its creation)."""
        r = self.create_folder("%s %s" % (purpose, secrets.token_hex(4)))
        assert r.status == OK, r
        return r[PR_FID], r[T_CN]

    def save(self, msg, fid=None, mid=None, fai=False):
        args = [(PR_FID, fid)] if mid is None else [(PR_MID, mid)]
        if fai:
            args.append((T_FAI, 1))
        return self.ask(OP_SAVE_MESSAGE, args + msg.encode())

    def get(self, mid):
        """(reply, Message or None, problem with the answer's shape)."""
        r = self.ask(OP_GET_MESSAGE, [(PR_MID, mid)])
        if r.status != OK:
            return r, None, None
        msg, problem = Message.decode(r.items)
        return r, msg, problem

    def delete(self, mids):
        return self.ask(OP_DELETE_MESSAGES, [(T_MIDS, list(mids))])

    def contents(self, fid, columns, sort=None, offset=None, limit=None, fai=False):
        args = [(PR_FID, fid), (T_COLUMNS, list(columns))]
        if sort:
            args.append((T_SORT, [x for pair in sort for x in pair]))
        if offset is not None:
            args.append((T_OFFSET, offset))
        if limit is not None:
            args.append((T_LIMIT, limit))
        if fai:
            args.append((T_FAI, 1))
        return self.ask(OP_CONTENTS, args)

    def every_row(self, fid, columns, page=20):
        """The whole contents table, page by page; (TOTAL, rows)."""
        rows, total = [], None
        for offset in range(0, 100000, page):
            r = self.contents(fid, columns, offset=offset, limit=page)
            assert r.status == OK, r
            total = r.get(T_TOTAL)
            rows += r.rows
            if len(r.rows) < page:
                return total, rows
        raise AssertionError("the contents table never ended")

    def set_read(self, mids, read=True):
        return self.ask(OP_SET_READ, [(T_MIDS, list(mids)), (T_READ, 1 if read else 0)])

    def changes(self, after, limit=None):
        return self.ask(OP_CHANGES, [(T_CN, after)] +
                        ([(T_LIMIT, limit)] if limit is not None else []))

    def all_changes(self, after):
        """Every change after CN `after`, following the final CN page by page;
        [(cn, kind, fid, mid or None)]."""
        out = []
        for _ in range(1000):
            r = self.changes(after)
            assert r.status == OK, r
            out += [(c.get(T_CN), c.get(T_KIND), c.get(PR_FID), c.get(PR_MID)) for c in r.rows]
            if not r.rows or r[T_CN] == after:
                return out
            after = r[T_CN]
        raise AssertionError("CHANGES never ran out")

    def hello(self):
        try:
            st, _, _ = self.sd.call(OP_HELLO)
            return st == OK
        except (OSError, EOFError):
            return False


def sql(query):
    out, err = xctest.psql(query)
    return (out + err).strip()


def a_note(subject, props=(), recipients=(), attachments=()):
    """A plain message: class, subject and whatever else is asked for."""
    return Message([(PR_MESSAGE_CLASS, "IPM.Note"), (PR_SUBJECT, subject)] + list(props),
                   recipients, attachments)


# ------------------------------------------------- every property type ----
# message-class-defined ids ([MS-OXPROPS] 0x6800..0x7BFF), one per type
EVERY_TYPE = [
    (tag(PT_SHORT, 0x6801), -12345),
    (tag(PT_LONG, 0x6802), -123456789),
    (tag(PT_FLOAT, 0x6803), 1.5),
    (tag(PT_DOUBLE, 0x6804), 3.141592653589793),
    (tag(PT_CURRENCY, 0x6805), 123456789012345),      # 12345678901.2345
    (tag(PT_APPTIME, 0x6806), 45678.25),
    (tag(PT_ERROR, 0x6807), 0x8004010F),               # MAPI_E_NOT_FOUND
    (tag(PT_BOOLEAN, 0x6808), 1),
    (tag(PT_BOOLEAN, 0x6809), 0),
    (tag(PT_I8, 0x680A), -(2 ** 62) - 12345),
    (tag(PT_I8, 0x680B), 2 ** 63 - 1),
    (tag(PT_STRING8, 0x680C), "plain text, and UTF-8: caf\u00e9 \u00fcber"),
    (tag(PT_UNICODE, 0x680D), "unicode \u0444\u0430\u0439\u043b \u65e5\u672c"),
    (tag(PT_SYSTIME, 0x680E), filetime(2026, 3, 14, 15)),
    (tag(PT_CLSID, 0x680F), bytes(range(16))),
    (tag(PT_SVREID, 0x6810), b"\x00\x01svreid\xff\xfe"),
    (tag(PT_BINARY, 0x6811), bytes(range(256))),
]
MULTI_VALUED = [
    (tag(PT_MV | PT_SHORT, 0x6820), [1, -2, 32767]),
    (tag(PT_MV | PT_LONG, 0x6821), [0, -1, 2 ** 31 - 1, -(2 ** 31)]),
    (tag(PT_MV | PT_DOUBLE, 0x6822), [0.5, -1e300, 2.25]),
    (tag(PT_MV | PT_I8, 0x6823), [2 ** 40, -7]),
    (tag(PT_MV | PT_SYSTIME, 0x6824), [filetime(2020, 1, 1), filetime(2030, 12, 31)]),
    (tag(PT_MV | PT_STRING8, 0x6825), ["one", "", "dr\u00e9i"]),
    (tag(PT_MV | PT_UNICODE, 0x6826), ["Stra\u00dfe", "\u041c\u043e\u0441\u043a\u0432\u0430"]),
    (tag(PT_MV | PT_BINARY, 0x6827), [b"\x00", b"", b"\xde\xad\xbe\xef"]),
    (tag(PT_MV | PT_CLSID, 0x6828), [bytes(16), bytes(range(16, 32))]),
    (tag(PT_MV | PT_LONG, 0x6829), []),
]
SUBJECT = "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u65e5\u672c\u8a9e \u2713 \U0001F389"


# -------------------------------------------------------------- tests ----
def alice_creates_a_folder():
    mb = Mailbox()
    name = "Projects " + secrets.token_hex(4)
    r = mb.create_folder(name, container_class="IPF.Note")
    check("alice creates a folder under Top of Information Store", r.status == OK, r)
    check("and gets its folder id (replica id 1) and a change number",
          r.get(PR_FID, 0) & 0xFFFF == 1 and counter(r.get(PR_FID, 0)) > 0
          and r.get(T_CN, 0) > 0, r)
    st, _, rows = mb.sd.call(OP_LIST_FOLDERS, [(T_SESSION, mb.session), (T_MAILBOX_ID, mb.id)])
    mine = [x for x in rows if x.get(PR_FID) == r.get(PR_FID)]
    check("the folder list shows it with its name, parent and class",
          len(mine) == 1 and mine[0].get(PR_DISPLAY_NAME) == name
          and mine[0].get(PR_PARENT_FID) == mb.special(IPM_SUBTREE)
          and mine[0].get(PR_CONTAINER_CLASS) == "IPF.Note", mine)
    again = mb.create_folder(name)
    check("the same name under the same parent is E_EXISTS", again.status == E_EXISTS, again)
    other = mb.create_folder(name, parent=mb.special(INBOX))
    check("the same name under another parent is fine", other.status == OK, other)
    nowhere = mb.create_folder("Orphan", parent=r.get(PR_FID, 0) + (1 << 40))
    check("a folder under an unknown parent is E_NOTFOUND", nowhere.status == E_NOTFOUND, nowhere)
    mb.close()


def every_property_type_comes_back_as_saved():
    mb = Mailbox()
    drafts = mb.special(DRAFTS)
    msg = a_note(SUBJECT, props=EVERY_TYPE + MULTI_VALUED)
    saved = mb.save(msg, fid=drafts)
    check("alice saves a draft with a property of every type", saved.status == OK, saved)
    mid, ck, cn = saved.get(PR_MID, 0), saved.get(PR_CHANGE_KEY, b""), saved.get(T_CN, 0)
    check("the save gives a message id with replica id 1",
          mid & 0xFFFF == 1 and counter(mid) > 0, hex(mid))
    check("and a 22-byte change key: replica GUID + the change number big-endian",
          len(ck) == 22 and ck[16:] == cn.to_bytes(6, "big"), (ck.hex(), cn))
    r, got, problem = mb.get(mid)
    check("she reads it back", r.status == OK and got is not None and problem is None,
          (r, problem))
    got = got or Message()
    bad = differences(EVERY_TYPE, got.props)
    check("every single-valued type comes back with the same value", not bad, bad)
    bad = differences(MULTI_VALUED, got.props)
    check("multi-valued properties come back with the same values in order", not bad, bad)
    check("the PT_UNICODE subject with non-ASCII and a non-BMP character comes back "
          "as PT_UNICODE, unchanged", got.prop(PR_SUBJECT) == SUBJECT,
          repr(got.prop(PR_SUBJECT)))
    check("PR_MID, PR_PARENT_FID and PR_CHANGE_KEY are those of the save",
          got.prop(PR_MID) == mid and got.prop(PR_PARENT_FID) == drafts
          and got.prop(PR_CHANGE_KEY) == ck,
          (got.prop(PR_MID), got.prop(PR_PARENT_FID), got.prop(PR_CHANGE_KEY)))
    computed = [PR_PREDECESSOR_CHANGE_LIST, PR_MESSAGE_FLAGS, PR_MESSAGE_SIZE,
                PR_CHANGE_NUMBER, PR_ASSOCIATED]
    missing = ["%08x" % t for t in computed if got.prop(t) is None]
    check("the computed properties are there (PCL, flags, size, CN, associated)",
          not missing, missing)
    check("a normal message is not associated", got.prop(PR_ASSOCIATED) == 0,
          got.prop(PR_ASSOCIATED))
    empty = mb.save(a_note("empty values", props=[(tag(PT_STRING8, 0x6830), ""),
                                                  (tag(PT_BINARY, 0x6831), b""),
                                                  (tag(PT_UNICODE, 0x6832), "")]),
                    fid=drafts)
    _, e, _ = mb.get(empty.get(PR_MID, 0))
    e = e or Message()
    check("empty strings and binaries come back empty, not absent",
          e.prop(tag(PT_STRING8, 0x6830)) == "" and e.prop(tag(PT_BINARY, 0x6831)) == b""
          and e.prop(tag(PT_UNICODE, 0x6832)) == "", e.props)
    r, _, _ = mb.get(mid + (1 << 40))
    check("an unknown message id is E_NOTFOUND", r.status == E_NOTFOUND, r)
    mb.close()


def recipients_and_attachments_come_back_in_order():
    mb = Mailbox()
    payload = random.Random(7).randbytes(100 * 1024)
    msg = a_note("Quarterly report", recipients=[
        (0, [(PR_DISPLAY_NAME, "Bob Example"), (PR_SMTP_ADDRESS, "bob@example.test"),
             (PR_RECIPIENT_TYPE, MAPI_TO)]),
        (1, [(PR_DISPLAY_NAME, "Carol C\u00e9dille"), (PR_SMTP_ADDRESS, "carol@other.test"),
             (PR_RECIPIENT_TYPE, MAPI_CC)]),
    ], attachments=[
        (0, [(PR_ATTACH_METHOD, 1), (PR_ATTACH_LONG_FILENAME, "report-Q3 \u00e9t\u00e9.pdf"),
             (PR_ATTACH_DATA_BIN, payload)]),
        (1, [(PR_ATTACH_METHOD, 1), (PR_ATTACH_LONG_FILENAME, "notes.txt"),
             (PR_ATTACH_DATA_BIN, b"small attachment")]),
    ])
    saved = mb.save(msg, fid=mb.special(DRAFTS))
    check("alice saves a draft to two recipients with a 100 KiB attachment",
          saved.status == OK, saved)
    r, got, problem = mb.get(saved.get(PR_MID, 0))
    check("the answer has the message, then recipients, then attachments, each "
          "between its markers", r.status == OK and problem is None, (r, problem))
    got = got or Message()
    same, detail = same_content(msg, got)
    check("recipients and attachments come back in order with their properties", same, detail)
    data = dict(got.attachments[0][1]).get(PR_ATTACH_DATA_BIN, b"") if got.attachments else b""
    check("the 100 KiB attachment is intact",
          hashlib.sha256(data).digest() == hashlib.sha256(payload).digest(), len(data))
    check("the message size counts the attachment",
          (got.prop(PR_MESSAGE_SIZE) or 0) >= len(payload), got.prop(PR_MESSAGE_SIZE))
    mb.close()


def embedded_messages_come_back_whole():
    """[MS-OXCMSG] 2.2.2.9 attach method 5: an attachment holding a message
    with its own recipients and attachments, one of them a message again."""
    mb = Mailbox()
    fid, _ = mb.new_folder("Embedded")
    photo = random.Random(11).randbytes(30 * 1024)
    innermost = Message([(PR_MESSAGE_CLASS, "IPM.Note"), (PR_SUBJECT, "the original"),
                         (tag(PT_BINARY, 0x6852), photo)])
    inner = Message(
        [(PR_MESSAGE_CLASS, "IPM.Note"), (PR_SUBJECT, "Fwd: the original"),
         (PR_BODY, "See below.\r\n"), (PR_MESSAGE_FLAGS, 1)],
        recipients=[(0, [(PR_DISPLAY_NAME, "Dave"), (PR_SMTP_ADDRESS, "dave@example.test"),
                         (PR_RECIPIENT_TYPE, MAPI_TO)])],
        attachments=[(0, [(PR_ATTACH_METHOD, 1), (PR_ATTACH_LONG_FILENAME, "a.txt"),
                          (PR_ATTACH_DATA_BIN, b"inner file")]),
                     (1, [(PR_ATTACH_METHOD, 5), (PR_DISPLAY_NAME, "the original"),
                          (START_EMBED, innermost)])])
    msg = a_note("Two forwards deep", attachments=[
        (0, [(PR_ATTACH_METHOD, 5), (PR_DISPLAY_NAME, "Fwd: the original"),
             (START_EMBED, inner)]),
        (1, [(PR_ATTACH_METHOD, 1), (PR_ATTACH_LONG_FILENAME, "after.txt"),
             (PR_ATTACH_DATA_BIN, b"the attachment after")])])
    saved = mb.save(msg, fid=fid)
    check("alice saves a message carrying a message carrying a message",
          saved.status == OK, saved)
    r, got, problem = mb.get(saved.get(PR_MID, 0))
    check("the answer nests each embedded message between its markers",
          r.status == OK and problem is None, (r, problem))
    got = got or Message()
    same, detail = same_content(msg, got)
    check("every level comes back exactly as saved", same, detail)
    check("the message size counts what is embedded",
          (got.prop(PR_MESSAGE_SIZE) or 0) >= len(photo), got.prop(PR_MESSAGE_SIZE))
    check("the contents table lists the outer message only",
          mb.contents(fid, [PR_MID]).get(T_TOTAL) == 1)
    replaced = mb.save(a_note("Two forwards deep", attachments=[
        (0, [(PR_ATTACH_METHOD, 5), (START_EMBED, innermost)])]), mid=saved.get(PR_MID, 0))
    _, got, _ = mb.get(saved.get(PR_MID, 0))
    check("saving again replaces the embedded message too",
          replaced.status == OK and got is not None and
          got.attachments == [(0, [(PR_ATTACH_METHOD, 5), (START_EMBED, innermost)])],
          got and got.attachments)
    mb.close()


def pcl_entries(pcl):
    """[MS-OXCFXICS] 2.2.2.3: a PCL is a list of SizedXid (size byte, XID)."""
    out, o = [], 0
    while o < len(pcl):
        n = pcl[o]
        out.append(pcl[o + 1:o + 1 + n])
        o += 1 + n
    return out if o == len(pcl) else None


def saving_a_message_again_replaces_it():
    mb = Mailbox()
    fid, start = mb.new_folder("Replace")
    first = a_note("First draft", props=[(tag(PT_LONG, 0x6840), 1),
                                         (tag(PT_STRING8, 0x6841), "only in the first")],
                   recipients=[(0, [(PR_DISPLAY_NAME, "Bob"), (PR_SMTP_ADDRESS, "bob@example.test"),
                                    (PR_RECIPIENT_TYPE, MAPI_TO)])],
                   attachments=[(0, [(PR_ATTACH_LONG_FILENAME, "old.txt"),
                                     (PR_ATTACH_DATA_BIN, b"old")])])
    a = mb.save(first, fid=fid)
    _, before, _ = mb.get(a.get(PR_MID, 0))
    second = a_note("Second draft", props=[(tag(PT_LONG, 0x6840), 2)],
                    recipients=[(0, [(PR_DISPLAY_NAME, "Dave"), (PR_SMTP_ADDRESS, "dave@other.test"),
                                     (PR_RECIPIENT_TYPE, MAPI_CC)])])
    b = mb.save(second, mid=a.get(PR_MID, 0))
    check("alice saves her draft again by its message id", a.status == OK and b.status == OK, (a, b))
    check("it keeps its message id", b.get(PR_MID) == a.get(PR_MID), (a, b))
    check("the change key changes", b.get(PR_CHANGE_KEY) not in (None, a.get(PR_CHANGE_KEY)),
          (a, b))
    check("the change number goes up", b.get(T_CN, 0) > a.get(T_CN, 0), (a, b))
    _, after, _ = mb.get(a.get(PR_MID, 0))
    after = after or Message()
    same, detail = same_content(second, after)
    check("the message now has the second content", same, detail)
    check("nothing of the first is left: property, recipient and attachment",
          after.prop(tag(PT_STRING8, 0x6841)) is None and len(after.recipients) == 1
          and not after.attachments, (after.props, after.recipients, after.attachments))
    pcl = pcl_entries(after.prop(PR_PREDECESSOR_CHANGE_LIST) or b"")
    check("its predecessor change list holds the new change key",
          pcl is not None and b.get(PR_CHANGE_KEY) in pcl,
          ([x.hex() for x in pcl or []], (b.get(PR_CHANGE_KEY) or b"").hex()))
    check("PR_CHANGE_NUMBER went up with it",
          (after.prop(PR_CHANGE_NUMBER) or 0) > ((before or Message()).prop(PR_CHANGE_NUMBER) or 0),
          ((before or Message()).prop(PR_CHANGE_NUMBER), after.prop(PR_CHANGE_NUMBER)))
    log = mb.all_changes(start)
    check("the change log has create, then modify, for the message",
          [(k, m) for _, k, _, m in log] == [("create", a.get(PR_MID)), ("modify", a.get(PR_MID))],
          log)
    lost = mb.save(second, mid=a.get(PR_MID, 0) + (1 << 40))
    check("saving over an unknown message id is E_NOTFOUND", lost.status == E_NOTFOUND, lost)
    nowhere = mb.save(second, fid=fid + (1 << 40))
    check("saving into an unknown folder is E_NOTFOUND", nowhere.status == E_NOTFOUND, nowhere)
    mb.close()


def blob_rows(data):
    """(rows, summed refcount) of blobs holding `data`."""
    out = sql("SELECT count(*) || ' ' || coalesce(sum(refcount), 0) FROM blobs "
              "WHERE size BETWEEN %d AND %d AND position(decode('%s', 'hex') IN data) > 0"
              % (len(data), len(data) + 8, data.hex()))
    return out


def a_large_value_is_stored_once():
    mb = Mailbox()
    fid, _ = mb.new_folder("Single instance")
    big = secrets.token_bytes(5 * 1024)
    text = "Lorem ipsum \u00e6\u00f8\u00e5 " * 400              # ~6 KiB of UTF-16
    msg = a_note("Same logo", props=[(tag(PT_BINARY, 0x6850), big),
                                     (tag(PT_UNICODE, 0x6851), text)])
    one, two = mb.save(msg, fid=fid), mb.save(msg, fid=fid)
    check("alice saves the same 5 KiB logo in two messages",
          one.status == OK and two.status == OK, (one, two))
    for which, saved in (("first", one), ("second", two)):
        _, got, _ = mb.get(saved.get(PR_MID, 0))
        got = got or Message()
        check("the %s message gives the 5 KiB value and 6 KiB text back intact" % which,
              got.prop(tag(PT_BINARY, 0x6850)) == big and got.prop(tag(PT_UNICODE, 0x6851)) == text,
              (len(got.prop(tag(PT_BINARY, 0x6850)) or b""), len(got.prop(tag(PT_UNICODE, 0x6851)) or "")))
    check("the blob table holds it once, with two references", blob_rows(big) == "1 2",
          blob_rows(big))
    mb.delete([one.get(PR_MID, 0)])
    check("after one message is deleted it has one reference", blob_rows(big) == "1 1",
          blob_rows(big))
    _, got, _ = mb.get(two.get(PR_MID, 0))
    check("and the other message still reads it",
          (got or Message()).prop(tag(PT_BINARY, 0x6850)) == big)
    mb.delete([two.get(PR_MID, 0)])
    check("after both are deleted nothing references it", blob_rows(big) in ("1 0", "0 0"),
          blob_rows(big))
    check("and storaged's expiry round removes it (sql/013)",
          xctest.wait_until(lambda: blob_rows(big) == "0 0", timeout=10), blob_rows(big))
    mb.close()


SUBJECTS = ["Estimate", "Agenda", "Guidelines", "Contract", "Forecast", "Budget", "Delivery"]


def the_contents_table_sorts_and_pages():
    mb = Mailbox()
    fid, _ = mb.new_folder("Contents")
    rnd = random.Random(11)
    hours = rnd.sample(range(24), len(SUBJECTS))
    mids, when, size_pad = [], {}, rnd.sample(range(1, 60), len(SUBJECTS))
    for subject, hour, pad in zip(SUBJECTS, hours, size_pad):
        r = mb.save(a_note(subject, props=[(PR_MESSAGE_DELIVERY_TIME, filetime(2026, 5, 1, hour)),
                                           (tag(PT_BINARY, 0x6860), b"x" * pad * 37)]), fid=fid)
        assert r.status == OK, r
        mids.append(r[PR_MID])
        when[r[PR_MID]] = hour
    subject_of = dict(zip(mids, SUBJECTS))
    cols = [PR_MID, PR_SUBJECT, PR_MESSAGE_DELIVERY_TIME, PR_MESSAGE_SIZE, PR_BODY]

    def order(**kw):
        r = mb.contents(fid, cols, **kw)
        return r, [row.get(PR_MID) for row in r.rows]

    r, got = order()
    check("the folder lists its 7 messages, total 7", r.status == OK and len(got) == 7
          and r.get(T_TOTAL) == 7, r)
    check("by default newest delivery first", got == sorted(mids, key=lambda m: -when[m]),
          [when.get(m) for m in got])
    check("each row has the requested columns it has, PR_BODY (absent) left out",
          all(set(row) == {PR_MID, PR_SUBJECT, PR_MESSAGE_DELIVERY_TIME, PR_MESSAGE_SIZE}
              for row in r.rows), [sorted("%08x" % t for t in row) for row in r.rows[:2]])

    def wrong_rows(rows):
        return [subject_of.get(row.get(PR_MID)) for row in rows
                if row.get(PR_SUBJECT) != subject_of.get(row.get(PR_MID))
                or row.get(PR_MESSAGE_DELIVERY_TIME) !=
                filetime(2026, 5, 1, when.get(row.get(PR_MID), 0))]
    orders = {"default": None, "subject asc": [(PR_SUBJECT, ASC)],
              "subject desc": [(PR_SUBJECT, DESC)], "delivery asc": [(PR_MESSAGE_DELIVERY_TIME, ASC)],
              "size asc": [(PR_MESSAGE_SIZE, ASC)], "mid asc": [(PR_MID, ASC)],
              "mid desc": [(PR_MID, DESC)]}
    wrong = {name: wrong_rows(order(sort=sort)[0].rows) for name, sort in orders.items()}
    check("in every order each row carries its own subject and delivery time",
          not any(wrong.values()), "rows lacking them (or with another's), by order: %s" % wrong)
    _, got = order(sort=[(PR_SUBJECT, ASC)])
    check("sorted by subject ascending", [subject_of.get(m) for m in got] == sorted(SUBJECTS),
          [subject_of.get(m) for m in got])
    _, got = order(sort=[(PR_SUBJECT, DESC)])
    check("sorted by subject descending",
          [subject_of.get(m) for m in got] == sorted(SUBJECTS, reverse=True),
          [subject_of.get(m) for m in got])
    _, got = order(sort=[(PR_MESSAGE_DELIVERY_TIME, ASC)])
    check("sorted by delivery time ascending", got == sorted(mids, key=lambda m: when[m]),
          [when.get(m) for m in got])
    r, _ = order(sort=[(PR_MESSAGE_SIZE, ASC)])
    sizes = [row.get(PR_MESSAGE_SIZE) for row in r.rows]
    check("sorted by size ascending", len(sizes) == 7 and sizes == sorted(sizes), sizes)
    _, got = order(sort=[(PR_MID, ASC)])
    check("sorted by message id ascending: the order they were created in", got == mids,
          [subject_of.get(m) for m in got])
    for sort in (None, [(PR_SUBJECT, ASC)]):
        _, whole = order(sort=sort)
        pages, totals = [], []
        for offset in range(0, 9, 3):
            r, page = order(sort=sort, offset=offset, limit=3)
            pages += page
            totals.append(r.get(T_TOTAL))
        check("pages of 3 (%s) list every message exactly once, in the same order" %
              ("by subject" if sort else "default order"), pages == whole and sorted(pages) == sorted(mids),
              ([subject_of.get(m) for m in pages], [subject_of.get(m) for m in whole]))
        check("and every page reports the total of 7", totals == [7, 7, 7], totals)
    r, got = order(offset=7, limit=3)
    check("a page past the end is empty, total still 7", r.status == OK and got == []
          and r.get(T_TOTAL) == 7, r)
    nowhere = mb.contents(fid + (1 << 40), cols)
    check("the contents of an unknown folder are E_NOTFOUND", nowhere.status == E_NOTFOUND, nowhere)
    mb.close()


def folder_associated_messages_are_listed_apart():
    mb = Mailbox()
    fid, _ = mb.new_folder("FAI")
    normal = [mb.save(a_note("Mail %d" % i), fid=fid).get(PR_MID) for i in range(3)]
    fai = [mb.save(Message([(PR_MESSAGE_CLASS, "IPM.Configuration.View%d" % i)]), fid=fid,
                   fai=True).get(PR_MID) for i in range(2)]
    check("alice saves 3 messages and 2 hidden view settings (FAI)",
          None not in normal + fai, (normal, fai))
    r = mb.contents(fid, [PR_MID])
    check("the normal contents table lists only the 3 messages, total 3",
          sorted(row.get(PR_MID) for row in r.rows) == sorted(normal) and r.get(T_TOTAL) == 3, r.rows)
    r = mb.contents(fid, [PR_MID, PR_MESSAGE_CLASS], fai=True)
    check("the FAI contents table lists only the 2 settings, total 2",
          sorted(row.get(PR_MID) for row in r.rows) == sorted(fai) and r.get(T_TOTAL) == 2, r.rows)
    _, got, _ = mb.get(fai[0])
    check("an FAI message reads back as associated",
          (got or Message()).prop(PR_ASSOCIATED) == 1, (got or Message()).props)
    mb.close()


def deleting_messages_leaves_tombstones():
    mb = Mailbox()
    fid, start = mb.new_folder("Delete")
    mids = [mb.save(a_note("Junk %d" % i), fid=fid).get(PR_MID) for i in range(3)]
    r = mb.delete(mids[:2])
    check("alice deletes 2 of her 3 messages", r.status == OK and r.get(T_TOTAL) == 2, r)
    check("and the delete has a change number",
          r.get(T_CN, 0) > start, r)
    gone = [mb.get(m)[0].status for m in mids[:2]]
    check("reading a deleted message is E_NOTFOUND", gone == [E_NOTFOUND] * 2, gone)
    c = mb.contents(fid, [PR_MID])
    check("the contents table lists only the one left",
          [row.get(PR_MID) for row in c.rows] == [mids[2]] and c.get(T_TOTAL) == 1, c.rows)
    log = [(k, f, m) for _, k, f, m in mb.all_changes(start)]
    check("the change log shows both deletions, with their folder",
          sorted(x for x in log if x[0] == "delete") == sorted(("delete", fid, m) for m in mids[:2]),
          log)
    again = mb.delete(mids[:2] + [mids[2] + (1 << 40)])
    check("deleting them again (and an unknown id) deletes nothing",
          again.status == OK and again.get(T_TOTAL) == 0, again)
    mb.close()


def marking_messages_read():
    mb = Mailbox()
    fid, _ = mb.new_folder("Read")
    mids = [mb.save(a_note("News %d" % i), fid=fid).get(PR_MID) for i in range(2)]
    mb.set_read(mids, read=False)

    def flags(m):
        _, got, _ = mb.get(m)
        return (got or Message()).prop(PR_MESSAGE_FLAGS)
    r = mb.set_read(mids[:1], read=True)
    check("alice marks one message read: one changed", r.status == OK and r.get(T_TOTAL) == 1, r)
    check("it shows MSGFLAG_READ, the other does not",
          (flags(mids[0]) or 0) & MSGFLAG_READ and not (flags(mids[1]) or 0) & MSGFLAG_READ,
          (flags(mids[0]), flags(mids[1])))
    r2 = mb.set_read(mids, read=True)
    check("marking both read changes only the unread one", r2.get(T_TOTAL) == 1, r2)
    r3 = mb.set_read(mids[:1], read=False)
    check("marking it unread again clears MSGFLAG_READ",
          r3.get(T_TOTAL) == 1 and not (flags(mids[0]) or 0) & MSGFLAG_READ, (r3, flags(mids[0])))
    log = [(c, k, m) for c, k, _, m in mb.all_changes(r.get(T_CN, 0) - 1)]
    check("the change log has a read change for each flip",
          [(k, m) for _, k, m in log] == [("read", mids[0]), ("read", mids[1]), ("read", mids[0])],
          log)
    mb.close()


def the_change_log_gives_exactly_what_came_later():
    mb = Mailbox()
    fid, start = mb.new_folder("Sync")
    expect = []
    a = mb.save(a_note("one"), fid=fid)
    expect.append((a.get(T_CN), "create", fid, a.get(PR_MID)))
    b = mb.save(a_note("two"), fid=fid)
    expect.append((b.get(T_CN), "create", fid, b.get(PR_MID)))
    c = mb.save(a_note("one, edited"), mid=a.get(PR_MID, 0))
    expect.append((c.get(T_CN), "modify", fid, a.get(PR_MID)))
    d = mb.set_read([b.get(PR_MID, 0)])
    expect.append((d.get(T_CN), "read", fid, b.get(PR_MID)))
    e = mb.delete([b.get(PR_MID, 0)])
    expect.append((e.get(T_CN), "delete", fid, b.get(PR_MID)))
    f = mb.create_folder("Sub " + secrets.token_hex(3), parent=fid)
    expect.append((f.get(T_CN), "create", f.get(PR_FID), None))
    check("alice makes six changes, each OK",
          [x.status for x in (a, b, c, d, e, f)] == [OK] * 6, [a, b, c, d, e, f])
    r = mb.changes(start)
    got = [(x.get(T_CN), x.get(T_KIND), x.get(PR_FID), x.get(PR_MID)) for x in r.rows]
    check("the changes after the folder's creation are exactly those six, in CN order",
          got == expect, "got    %s\nexpect %s" % (got, expect))
    check("CN strictly increasing", all(x[0] < y[0] for x, y in zip(got, got[1:])), got)
    check("the final CN is the newest one returned", r.get(T_CN) == expect[-1][0], r)
    r = mb.changes(expect[1][0])
    got = [(x.get(T_CN), x.get(T_KIND), x.get(PR_FID), x.get(PR_MID)) for x in r.rows]
    check("asked from the second change on, the last four", got == expect[2:], got)
    r = mb.changes(start, limit=2)
    got = [(x.get(T_CN), x.get(T_KIND), x.get(PR_FID), x.get(PR_MID)) for x in r.rows]
    check("with a limit of 2, the first two and their CN to go on from",
          got == expect[:2] and r.get(T_CN) == expect[1][0], (got, r))
    check("following the final CN page by page gives all six",
          [x for x in mb.all_changes(start) if x[0] <= expect[-1][0]] == expect)
    last = expect[-1][0]
    r = mb.changes(last)
    check("nothing after the newest change: no rows, the argument back",
          r.status == OK and r.rows == [] and r.get(T_CN) == last, r)
    mb.close()


def eight_writers_get_distinct_ordered_change_numbers():
    mb = Mailbox()
    fid, start = mb.new_folder("Concurrent")
    results, errors = [], []

    def writer(n):
        try:
            w = Mailbox(timeout=60)
            for i in range(25):
                r = w.save(a_note("writer %d message %d" % (n, i)), fid=fid)
                if r.status != OK:
                    errors.append((n, i, r.status, r.get(T_ERRMSG)))
                else:
                    results.append((r[T_CN], r[PR_MID]))
            w.close()
        except Exception as e:          # noqa: BLE001 - reported below
            errors.append((n, "exception", repr(e)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    check("8 writers x 25 saves into one folder all succeed",
          not errors and len(results) == 200, errors[:10])
    cns = [c for c, _ in results]
    check("all 200 change numbers are distinct", len(set(cns)) == 200, len(set(cns)))
    check("all 200 message ids are distinct", len({m for _, m in results}) == 200)
    log = mb.all_changes(start)
    logged = [c for c, _, _, _ in log]
    check("the change log lists them in strictly increasing CN order",
          all(x < y for x, y in zip(logged, logged[1:])), logged[:20])
    check("with no gaps: exactly the next 200 change numbers",
          logged == list(range(start + 1, start + 201)),
          "first %s last %s count %d" % (logged[:3], logged[-3:], len(logged)))
    check("each a create of one of the saved messages",
          sorted((c, m) for c, k, f, m in log if k == "create" and f == fid) == sorted(results),
          len(log))
    mb.close()


def saves_and_deletes_of_one_large_value_at_once():
    """A new message takes its blobs before the mailbox row, every other
    change takes the mailbox row first (sql/012): savers and deleters of
    one large value in one mailbox may deadlock, and storaged must settle
    it (the save runs again) so that every request succeeds and every
    count and reference stays exact."""
    mb = Mailbox()
    fid, _ = mb.new_folder("Same blob")
    body = "the same large body " * 400         # > 4 KiB: a blob
    saved, errors, stop = [], [], threading.Event()
    lock = threading.Lock()

    def saver(n):
        try:
            w = Mailbox(timeout=60)
            for i in range(15):
                r = w.save(a_note("saver %d %d" % (n, i), [(PR_BODY, body)]), fid=fid)
                if r.status != OK:
                    errors.append(("save", n, i, r.status, r.get(T_ERRMSG)))
                else:
                    with lock:
                        saved.append(r[PR_MID])
            w.close()
        except Exception as e:          # noqa: BLE001 - reported below
            errors.append(("saver", n, repr(e)))

    def deleter():
        try:
            w = Mailbox(timeout=60)
            while not stop.is_set() or saved:
                with lock:
                    take = saved[:3]
                    del saved[:3]
                if not take:
                    time.sleep(0.005)
                    continue
                r = w.delete(take)
                if r.status != OK:
                    errors.append(("delete", r.status, r.get(T_ERRMSG)))
            w.close()
        except Exception as e:          # noqa: BLE001 - reported below
            errors.append(("deleter", repr(e)))

    savers = [threading.Thread(target=saver, args=(n,)) for n in range(4)]
    deleters = [threading.Thread(target=deleter) for _ in range(2)]
    for t in savers + deleters:
        t.start()
    for t in savers:
        t.join(180)
    stop.set()
    for t in deleters:
        t.join(180)
    check("4 savers and 2 deleters of one large value: every request succeeds",
          not errors, errors[:10])
    total, _ = mb.every_row(fid, [PR_MID])
    check("all 60 messages were saved and deleted", total == 0, total)
    check("counts, bytes and blob references are exact",
          xctest.store_mismatches(xctest.mailbox_id_of(ALICE[0])) == [])
    mb.close()


def a_malformed_save_leaves_nothing_behind():
    mb = Mailbox()
    fid, start = mb.new_folder("Atomic")
    recip = [(PR_DISPLAY_NAME, "Bob"), (PR_SMTP_ADDRESS, "bob@example.test")]
    head = [(PR_FID, fid), (START_MESSAGE, 0), (PR_SUBJECT, "broken")]
    broken = {
        "an END_ATTACH in the middle of a recipient":
            head + [(START_RECIP, 0)] + recip + [(END_ATTACH, 0), (tag(PT_LONG, 0x6870), 1),
                                                  (END_RECIP, 0), (END_MESSAGE, 0)],
        "an END_RECIP without its start":
            head + recip + [(END_RECIP, 0), (END_MESSAGE, 0)],
        "an attachment never closed":
            head + [(NEW_ATTACH, 0), (PR_ATTACH_DATA_BIN, b"x" * 5000), (END_MESSAGE, 0)],
        "no END_MESSAGE":
            head + [(START_RECIP, 0)] + recip + [(END_RECIP, 0)],
        "a recipient inside an attachment":
            head + [(NEW_ATTACH, 0), (START_RECIP, 0)] + recip + [(END_RECIP, 0), (END_ATTACH, 0),
                                                                  (END_MESSAGE, 0)],
    }
    for what, content in broken.items():
        r = mb.ask(OP_SAVE_MESSAGE, content)
        check("a save with %s is E_BADREQ" % what, r.status == E_BADREQ, r)
    inner = [(START_EMBED, 0), (PR_SUBJECT, "inner"), (END_EMBED, 0)]
    broken = {
        "an embedded message outside an attachment": head + inner + [(END_MESSAGE, 0)],
        "two embedded messages in one attachment":
            head + [(NEW_ATTACH, 0)] + inner + inner + [(END_ATTACH, 0), (END_MESSAGE, 0)],
        "an embedded message never ended":
            head + [(NEW_ATTACH, 0), (START_EMBED, 0), (PR_SUBJECT, "inner"), (END_ATTACH, 0),
                    (END_MESSAGE, 0)],
        "an END_EMBED without its start":
            head + [(NEW_ATTACH, 0), (END_EMBED, 0), (END_ATTACH, 0), (END_MESSAGE, 0)],
        "a broken recipient inside an embedded message":
            head + [(NEW_ATTACH, 0), (START_EMBED, 0), (START_RECIP, 0)] + recip +
            [(END_EMBED, 0), (END_ATTACH, 0), (END_MESSAGE, 0)],
        "the store's own embedded-message property":
            head + [(NEW_ATTACH, 0), (tag(PT_BINARY, 0x67F0), b"forged"), (END_ATTACH, 0),
                    (END_MESSAGE, 0)],
        "embedded messages 21 deep":
            head + [(NEW_ATTACH, 0), (START_EMBED, 0)] +
            [(NEW_ATTACH, 0), (START_EMBED, 0)] * 20 +
            [(END_EMBED, 0), (END_ATTACH, 0)] * 20 + [(END_EMBED, 0), (END_ATTACH, 0),
                                                       (END_MESSAGE, 0)],
    }
    for what, content in broken.items():
        r = mb.ask(OP_SAVE_MESSAGE, content)
        check("a save with %s is E_BADREQ naming the problem" % what,
              r.status == E_BADREQ and r.get(T_ERRMSG), r)
    c = mb.contents(fid, [PR_MID])
    check("none of them left a message in the folder", c.rows == [] and c.get(T_TOTAL) == 0, c)
    check("nor a change in the change log", mb.all_changes(start) == [], mb.all_changes(start))
    ok = mb.save(a_note("fine"), fid=fid)
    check("the next good save takes the very next change number",
          ok.status == OK and ok.get(T_CN) == start + 1, (start, ok))
    mb.close()


def a_crash_mid_save_leaves_only_whole_messages():
    mb = Mailbox()
    fid, start = mb.new_folder("Crash")
    mb.close()
    confirmed, stop, errors = {}, threading.Event(), []

    def content(i):
        rnd = random.Random(i)
        return a_note("crash %d" % i, props=[(tag(PT_LONG, 0x6880), i),
                                             (tag(PT_BINARY, 0x6881), rnd.randbytes(6000 + i))],
                      recipients=[(0, [(PR_DISPLAY_NAME, "R%d" % i),
                                       (PR_SMTP_ADDRESS, "r%d@example.test" % i)])],
                      attachments=[(0, [(PR_ATTACH_LONG_FILENAME, "a%d.bin" % i),
                                        (PR_ATTACH_DATA_BIN, rnd.randbytes(20000))])])

    def saver():
        try:
            w = Mailbox(timeout=20)
        except Exception as e:          # noqa: BLE001
            errors.append(repr(e))
            return
        i = 0
        while not stop.is_set():
            try:
                r = w.save(content(i), fid=fid)
            except (OSError, EOFError):
                break                     # storaged went away mid-save
            if r.status == OK:
                confirmed[r[PR_MID]] = i
            i += 1
        w.close()

    t = threading.Thread(target=saver)
    t.start()
    xctest.wait_until(lambda: len(confirmed) >= 10, timeout=30, step=0.02)
    time.sleep(random.Random().uniform(0.01, 0.1))
    xctest.stack("kill-storaged")
    t.join(30)
    stop.set()
    check("storaged is killed while a client saves in a loop (%d saves confirmed)"
          % len(confirmed), len(confirmed) >= 10 and not t.is_alive(), errors)
    xctest.stack("start-storaged")
    check("storaged starts again", xctest.wait_until(xctest.storaged_answers, timeout=20))
    mb = Mailbox()
    broken = []
    for mid, i in sorted(confirmed.items()):
        r, got, problem = mb.get(mid)
        same, detail = same_content(content(i), got) if got else (False, (r, problem))
        if not same:
            broken.append((i, detail))
    check("every message whose save was confirmed is there, complete", not broken, broken[:5])
    total, listed = mb.every_row(fid, [PR_MID])
    partial = []
    for row in listed:
        _, got, _ = mb.get(row.get(PR_MID))
        m = re.fullmatch(r"crash (\d+)", (got or Message()).prop(PR_SUBJECT) or "")
        if not m or not same_content(content(int(m.group(1))), got)[0]:
            partial.append((row, got and got.props[:4]))
    check("every message in the folder is complete, confirmed or not", not partial, partial[:5])
    creates = [x for x in mb.all_changes(start) if x[1] == "create" and x[2] == fid]
    print("# %d saves confirmed before the kill, %d messages in the folder after"
          % (len(confirmed), len(listed)))
    check("the folder holds as many messages as the change log has creates",
          total == len(creates) == len(listed) and len(creates) >= len(confirmed),
          "total %s, rows %d, creates %d, confirmed %d"
          % (total, len(listed), len(creates), len(confirmed)))
    mb.close()


def bad_requests_are_refused_and_the_connection_lives_on():
    mb = Mailbox()
    fid, _ = mb.new_folder("Bad")
    bad = {
        "SAVE_MESSAGE without a folder or message id": (OP_SAVE_MESSAGE, a_note("x").encode()),
        "GET_MESSAGE without a message id": (OP_GET_MESSAGE, []),
        "DELETE_MESSAGES without ids": (OP_DELETE_MESSAGES, []),
        "CONTENTS without columns": (OP_CONTENTS, [(PR_FID, fid)]),
        "CONTENTS with a sort of three values": (OP_CONTENTS, [(PR_FID, fid), (T_COLUMNS, [PR_MID]),
                                                               (T_SORT, [PR_SUBJECT, ASC, PR_MID])]),
        "SET_READ without ids": (OP_SET_READ, [(T_READ, 1)]),
        "CREATE_FOLDER without a name": (OP_CREATE_FOLDER, [(PR_PARENT_FID, fid)]),
        "a message id of the wrong type": (OP_GET_MESSAGE, [(tag(PT_LONG, 0x674A), 5)]),
    }
    for what, (op, args) in bad.items():
        r = mb.ask(op, args)
        check("%s is E_BADREQ" % what, r.status == E_BADREQ, r)
    check("the connection still answers HELLO afterwards", mb.hello())
    r = mb.ask(OP_SAVE_MESSAGE, [(PR_FID, fid), (START_MESSAGE, 0), (PR_SUBJECT, "x"),
                                 (START_RECIP, 0), (END_ATTACH, 0), (END_MESSAGE, 0)])
    check("an unbalanced marker's error message names the marker problem",
          r.status == E_BADREQ and re.search(r"marker|attach|recip|balance|nest",
                                             r.get(T_ERRMSG, ""), re.I), r)
    r = mb.ask(OP_CONTENTS, [(PR_FID, fid), (T_COLUMNS, [PR_MID]), (T_SORT, [PR_SUBJECT])])
    check("a sort without its direction is refused, the error message naming the sort",
          r.status != OK and re.search(r"sort", r.get(T_ERRMSG, ""), re.I), r)
    mb.close()


def alice_cannot_touch_bobs_mailbox():
    bob = Mailbox(BOB)
    inbox = bob.special(INBOX)
    mine = bob.save(a_note("Bob's private note", props=[(tag(PT_STRING8, 0x6890), "secret")]),
                    fid=inbox)
    assert mine.status == OK, mine
    mid = mine[PR_MID]
    bob.set_read([mid], read=False)
    before, _ = bob.every_row(inbox, [PR_MID])
    alice = Mailbox()
    ops = {
        "CREATE_FOLDER": (OP_CREATE_FOLDER, [(PR_PARENT_FID, inbox), (PR_DISPLAY_NAME, "Hijack")]),
        "SAVE_MESSAGE (create)": (OP_SAVE_MESSAGE, [(PR_FID, inbox)] + a_note("spam").encode()),
        "SAVE_MESSAGE (replace)": (OP_SAVE_MESSAGE, [(PR_MID, mid)] + a_note("defaced").encode()),
        "GET_MESSAGE": (OP_GET_MESSAGE, [(PR_MID, mid)]),
        "CONTENTS": (OP_CONTENTS, [(PR_FID, inbox), (T_COLUMNS, [PR_MID, PR_SUBJECT])]),
        "SET_READ": (OP_SET_READ, [(T_MIDS, [mid]), (T_READ, 1)]),
        "CHANGES": (OP_CHANGES, [(T_CN, 0)]),
        "DELETE_MESSAGES": (OP_DELETE_MESSAGES, [(T_MIDS, [mid])]),
    }
    for what, (op, args) in ops.items():
        r = alice.ask(op, args, mailbox_id=bob.id)
        check("%s in bob's mailbox with alice's session is E_NOTFOUND, no rows" % what,
              r.status == E_NOTFOUND and r.rows == [] and PR_SUBJECT not in r.props, r)
    r, got, _ = bob.get(mid)
    got = got or Message()
    check("bob's message is untouched: there, unread, his subject",
          r.status == OK and got.prop(PR_SUBJECT) == "Bob's private note"
          and not (got.prop(PR_MESSAGE_FLAGS) or 0) & MSGFLAG_READ, got.props)
    after, _ = bob.every_row(inbox, [PR_MID])
    check("and nothing of alice's landed in his inbox", after == before, (before, after))
    alice.close()
    bob.close()


def the_stack_is_left_healthy():
    """Also the cleanup: runs even when an earlier step failed."""
    if not xctest.storaged_answers(timeout=2):
        xctest.stack("start-storaged")
        xctest.wait_until(xctest.storaged_answers, timeout=20)
    check("storaged answers at the end", xctest.storaged_answers(timeout=2))


if __name__ == "__main__":
    xctest.run_tests(
        alice_creates_a_folder,
        every_property_type_comes_back_as_saved,
        recipients_and_attachments_come_back_in_order,
        embedded_messages_come_back_whole,
        saving_a_message_again_replaces_it,
        a_large_value_is_stored_once,
        the_contents_table_sorts_and_pages,
        folder_associated_messages_are_listed_apart,
        deleting_messages_leaves_tombstones,
        marking_messages_read,
        the_change_log_gives_exactly_what_came_later,
        eight_writers_get_distinct_ordered_change_numbers,
        saves_and_deletes_of_one_large_value_at_once,
        a_malformed_save_leaves_nothing_behind,
        bad_requests_are_refused_and_the_connection_lives_on,
        alice_cannot_touch_bobs_mailbox,
        a_crash_mid_save_leaves_only_whole_messages,
        the_stack_is_left_healthy,
    )
