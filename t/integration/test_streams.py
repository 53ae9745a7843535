#!/usr/bin/python3
"""test_streams - large property values ([MS-OXCPRPT] streams).

Alice saves a message with a 600 KiB body and a 2 MiB attachment: too
large for a frame, their bytes travel in the request's streamed argument
(XW_MARK_STREAMED values). Reading it, GET_MESSAGE answers them as
NotEnoughMemory errors, as RopGetPropertiesSpecific does, and everything
else as usual; READ_PROP gives each one back, whole or a range, in
chunks. A 200 KiB value still comes inline. SET_PROPS takes a streamed
value too. A large imported message reads the same way. Malformed
streamed values are refused with the connection alive, and nobody reads
another mailbox's values.

The contract is lib/xc_wire.h (XW_MARK_STREAMED, XW_INLINE_MAX, op 33).
"""
import os
import random
import time

import xctest
from xctest import (BOB, OK, E_BADREQ, E_NOTFOUND, T_SESSION, T_MAILBOX_ID,
                    T_ERRMSG, PT_LONG, PT_OBJECT, PT_ERROR, PT_BINARY,
                    PT_UNICODE, PT_STRING8, OP_SET_PROPS,
                    check, tag)
from test_store import (Mailbox, Message, a_note, PR_MID, PR_SUBJECT, PR_BODY,
                        PR_ATTACH_DATA_BIN, PR_ATTACH_LONG_FILENAME,
                        START_MESSAGE, END_MESSAGE, NEW_ATTACH, END_ATTACH,
                        OP_SAVE_MESSAGE, T_TOTAL, T_OFFSET, T_LIMIT,
                        OP_CONTENTS, T_COLUMNS)
from test_mime import answer, import_mime, send_stream

OP_READ_PROP = 33
T_ATTACH_NUM = tag(PT_LONG, 0x40)
T_ROW_ID = tag(PT_LONG, 0x41)
T_PROPTAG = tag(PT_LONG, 0x42)
T_VALUE = tag(PT_OBJECT, 0x43)
MARK_STREAMED = 0x40F00003
NOT_ENOUGH_MEMORY = 0x8007000E


def streamed(t, data):
    """Content items standing for (t, data) with data in the stream."""
    return [(MARK_STREAMED, t & 0xFFFF), (tag(PT_OBJECT, t >> 16), len(data))]


def send(mb, op, items, stream, announce=None):
    """A request whose streamed argument is `stream`; (status, props)."""
    st, props, _ = send_stream(mb, op, items, stream, length=announce, announce=T_VALUE)
    return st, props


def read_prop(mb, mid, t, attach=None, row=None, offset=None, limit=None):
    args = [(T_SESSION, mb.session), (T_MAILBOX_ID, mb.id), (PR_MID, mid), (T_PROPTAG, t)]
    if attach is not None:
        args.append((T_ATTACH_NUM, attach))
    if row is not None:
        args.append((T_ROW_ID, row))
    if offset is not None:
        args.append((T_OFFSET, offset))
    if limit is not None:
        args.append((T_LIMIT, limit))
    rid = mb.sd.send(OP_READ_PROP, args)
    return answer(mb, rid)


def errors_of(props):
    return {t >> 16: v for t, v in props if t & 0xFFFF == PT_ERROR}


BODY = "".join("Line %d of a very long report \u00e9t\u00e9 \u2013 ok\r\n" % i
               for i in range(15000))
BLOB = random.Random(5).randbytes(2 * 1024 * 1024)
MID_SIZED = random.Random(6).randbytes(200 * 1024)
SAVED = {}


def a_message_larger_than_a_frame_is_saved_through_a_stream():
    mb = Mailbox()
    fid, _ = mb.new_folder("Large values")
    body = BODY.encode("utf-16-le")
    check("the body is over 600 KiB as UTF-16", len(body) > 600 * 1024, len(body))
    items = [
        (xctest.PR_FID, fid), (START_MESSAGE, 0),
        (xctest.tag(PT_UNICODE, 0x001A), "IPM.Note"), (PR_SUBJECT, "Annual report")] + \
        streamed(PR_BODY, body) + [(tag(PT_BINARY, 0x6852), MID_SIZED),
                                   (NEW_ATTACH, 0), (PR_ATTACH_LONG_FILENAME, "report.pdf")] + \
        streamed(PR_ATTACH_DATA_BIN, BLOB) + [(END_ATTACH, 0), (END_MESSAGE, 0)]
    st, p = send(mb, OP_SAVE_MESSAGE, items, body + BLOB)
    check("a 2.6 MiB message saves with its large values streamed", st == OK, p)
    SAVED["mid"] = p.get(PR_MID)
    SAVED["fid"] = fid
    r, got, problem = mb.get(SAVED["mid"] or 0)
    check("GET_MESSAGE answers within a frame", r.status == OK and problem is None,
          (r.status, r.get(T_ERRMSG), problem))
    got = got or Message()
    errs = errors_of(got.props)
    check("the body is a NotEnoughMemory error, as RopGetPropertiesSpecific gives",
          errs.get(0x1000) == NOT_ENOUGH_MEMORY, errs)
    check("the other properties are as saved",
          got.prop(PR_SUBJECT) == "Annual report" and
          got.prop(tag(PT_BINARY, 0x6852)) == MID_SIZED)
    att = dict(got.attachments[0][1]) if got.attachments else {}
    check("so is the attachment's data, its name is not",
          att.get(PR_ATTACH_LONG_FILENAME) == "report.pdf" and
          errors_of(got.attachments[0][1] if got.attachments else []).get(0x3701) is not None,
          att.keys())
    mb.close()


def read_prop_gives_the_values_back():
    mb = Mailbox()
    mid = SAVED.get("mid") or 0
    st, p, data = read_prop(mb, mid, PR_BODY)
    check("READ_PROP streams the body back in UTF-16",
          st == OK and data == BODY.encode("utf-16-le"), (st, len(data)))
    check("and says its type and size", p.get(T_PROPTAG) == PR_BODY and
          p.get(T_TOTAL) == len(data) and p.get(T_VALUE) == len(data), p)
    st, p, data = read_prop(mb, mid, PR_ATTACH_DATA_BIN, attach=0)
    check("the attachment's 2 MiB come back intact", st == OK and data == BLOB, (st, len(data)))
    st, p, data = read_prop(mb, mid, PR_ATTACH_DATA_BIN, attach=0, offset=1000000, limit=70000)
    check("a range reads just that range", st == OK and data == BLOB[1000000:1070000] and
          p.get(T_TOTAL) == len(BLOB), (st, len(data), p.get(T_TOTAL)))
    st, p, data = read_prop(mb, mid, PR_ATTACH_DATA_BIN, attach=0, offset=len(BLOB) + 5)
    check("a range past the end is empty", st == OK and data == b"", (st, len(data)))
    st, p, data = read_prop(mb, mid, tag(PT_UNICODE, 0x0037))
    check("a small value reads the same way", st == OK and
          data == "Annual report".encode("utf-16-le"), data)
    st, _, _ = read_prop(mb, mid, tag(PT_BINARY, 0x6899))
    check("a property the message lacks is E_NOTFOUND", st == E_NOTFOUND, st)
    st, _, _ = read_prop(mb, mid, PR_ATTACH_DATA_BIN, attach=7)
    check("an attachment it lacks is E_NOTFOUND", st == E_NOTFOUND, st)
    st, _, _ = read_prop(mb, mid, PR_ATTACH_DATA_BIN, attach=0, row=0)
    check("ATTACH_NUM and ROW_ID together are E_BADREQ", st == E_BADREQ, st)
    c = mb.ask(OP_CONTENTS, [(xctest.PR_FID, SAVED["fid"]),
                             (T_COLUMNS, [PR_BODY, tag(PT_BINARY, 0x6852), PR_SUBJECT])])
    row = c.rows[0] if c.rows else {}
    check("a contents table shows the first 255 characters and bytes of long "
          "values ([MS-OXCDATA] 2.8.2)", c.status == OK and
          row.get(PR_BODY) == BODY[:255] and
          row.get(tag(PT_BINARY, 0x6852)) == MID_SIZED[:255] and
          row.get(PR_SUBJECT) == "Annual report",
          (c.status, len(row.get(PR_BODY) or ""), len(row.get(tag(PT_BINARY, 0x6852)) or b"")))
    bob = Mailbox(BOB)
    st, _, _ = read_prop(bob, mid, PR_BODY)
    check("Bob can't read Alice's values", st == E_NOTFOUND, st)
    bob.close()
    mb.close()


def a_long_text_streams_from_storage_in_chunks():
    """READ_PROP reads a large value from the database a chunk (1 MiB) at a
    time; text is stored as UTF-8 and sent as UTF-16, so a chunk may end
    inside a character (here a 3-byte euro sign and a 4-byte emoji, which
    is a surrogate pair in UTF-16)."""
    mb = Mailbox()
    fid, _ = mb.new_folder("Long text")
    text = "ab" + "\u20ac" * 349524 + "\U0001F600" * 1000 + "\u20ac" * 100000
    check("the text is over 1 MiB as UTF-8 and a chunk boundary falls in a character",
          len(text.encode("utf-8")) > 1 << 20 and
          (text.encode("utf-8")[1 << 20] & 0xC0) == 0x80, len(text))
    body = text.encode("utf-16-le")
    items = [(xctest.PR_FID, fid), (START_MESSAGE, 0), (PR_SUBJECT, "long text")] + \
        streamed(PR_BODY, body) + [(END_MESSAGE, 0)]
    st, p = send(mb, OP_SAVE_MESSAGE, items, body)
    check("a 1.3 MiB text saves", st == OK, p)
    mid = p.get(PR_MID) or 0
    st, p, data = read_prop(mb, mid, PR_BODY)
    check("READ_PROP gives the whole text back, character for character",
          st == OK and data == body, (st, len(data), len(body)))
    check("with its UTF-16 size", p.get(T_TOTAL) == len(body) and p.get(T_VALUE) == len(body), p)
    st, p, data = read_prop(mb, mid, PR_BODY, offset=699001, limit=1000)
    check("a range across the chunk boundary, at an odd byte",
          st == OK and data == body[699001:700001] and p.get(T_TOTAL) == len(body),
          (st, len(data), p.get(T_TOTAL)))
    st, p, data = read_prop(mb, mid, PR_BODY, offset=len(body) - 10)
    check("the last bytes", st == OK and data == body[-10:], (st, data))
    mb.close()


def set_props_takes_a_streamed_value():
    mb = Mailbox()
    mid = SAVED.get("mid") or 0
    body = ("Replaced. " * 40000).encode("utf-16-le")
    st, p = send(mb, OP_SET_PROPS, [(PR_MID, mid), (START_MESSAGE, 0)] +
                 streamed(PR_BODY, body) + [(END_MESSAGE, 0)], body)
    check("SET_PROPS sets an 800 KiB body from the stream", st == OK, p)
    st, _, data = read_prop(mb, mid, PR_BODY)
    check("and READ_PROP reads the new one", st == OK and data == body, len(data))
    mb.close()


def a_large_imported_message_reads_too():
    mb = Mailbox()
    fid, _ = mb.new_folder("Large import")
    text = "".join("%06d the quick brown fox jumps over the lazy dog\r\n" % i
                   for i in range(40000))
    data = ("From: a@example.org\r\nSubject: big import\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text).encode()
    st, p, _ = import_mime(mb, fid, data)
    r, got, _ = mb.get(p.get(PR_MID, 0))
    check("a 2 MiB imported message opens", st == OK and r.status == OK,
          (st, r.status, r.get(T_ERRMSG)))
    st2, _, body = read_prop(mb, p.get(PR_MID, 0), PR_BODY)
    check("and its body reads with READ_PROP",
          st2 == OK and body.decode("utf-16-le").replace("\r\n", "\n").strip() ==
          text.replace("\r\n", "\n").strip(), (st2, len(body)))
    mb.close()


def hold(mb, fid, data):
    """Start a SAVE_MESSAGE whose streamed value is data, and send all of
    it but its last chunk; (request id, that chunk)."""
    items = [(xctest.PR_FID, fid), (START_MESSAGE, 0), (PR_SUBJECT, "held")] + \
        streamed(tag(PT_BINARY, 0x6853), data) + [(END_MESSAGE, 0)]
    rid = mb.sd.next_id
    mb.sd.next_id += 1
    mb.sd.send_raw(xctest.frame(OP_SAVE_MESSAGE, rid, xctest.enc_props(
        [(T_SESSION, mb.session), (T_MAILBOX_ID, mb.id), (T_VALUE, len(data))] + items),
        flags=xctest.F_MORE))
    last = (len(data) - 1) // 65536 * 65536
    for i in range(0, last, 65536):
        mb.sd.send_raw(xctest.frame(OP_SAVE_MESSAGE, rid, data[i:i + 65536],
                                    flags=xctest.F_CHUNK | xctest.F_MORE))
    return rid, data[last:]


def streams_share_a_memory_budget():
    """The test stack's max_stream_memory is 8 MiB and a request holds at
    most 1 MiB in memory (the rest is spooled): eight requests holding
    960 KiB each (their buffers grown to 1 MiB) leave no room for a ninth."""
    held = [Mailbox() for _ in range(8)]
    fid, _ = held[0].new_folder("Budget")
    parts = [hold(mb, fid, random.Random(20 + i).randbytes(960 * 1024 + 1))
             for i, mb in enumerate(held)]
    time.sleep(0.5)         # storaged has buffered them
    b = Mailbox()
    small = random.Random(10).randbytes(256 * 1024)
    st, p = send(b, OP_SAVE_MESSAGE, [(xctest.PR_FID, fid), (START_MESSAGE, 0)] +
                 streamed(tag(PT_BINARY, 0x6853), small) + [(END_MESSAGE, 0)], small)
    check("a ninth streamed request while eight are held is E_TEMP (try again)",
          st == xctest.E_TEMP and "max_stream_memory" in (p.get(T_ERRMSG) or ""), p)
    done = []
    for mb, (rid, tail) in zip(held, parts):
        mb.sd.send_raw(xctest.frame(OP_SAVE_MESSAGE, rid, tail, flags=xctest.F_CHUNK))
        done.append(answer(mb, rid)[0])
    check("the eight complete", done == [OK] * 8, done)
    st, p = send(b, OP_SAVE_MESSAGE, [(xctest.PR_FID, fid), (START_MESSAGE, 0)] +
                 streamed(tag(PT_BINARY, 0x6853), small) + [(END_MESSAGE, 0)], small)
    check("and then the ninth goes through", st == OK, p)
    for mb in held + [b]:
        mb.close()


def a_value_larger_than_the_memory_budget_goes_through_the_spool():
    """Past 1 MiB a streamed request waits in an unlinked file (spool_dir,
    here the socket's directory), so a 12 MiB value saves although the
    stack's max_stream_memory is 8 MiB, and reads back intact; no file is
    left behind."""
    mb = Mailbox()
    fid, _ = mb.new_folder("Spooled")
    big = random.Random(30).randbytes(12 * 1024 * 1024 + 3)
    items = [(xctest.PR_FID, fid), (START_MESSAGE, 0), (PR_SUBJECT, "twelve MiB")] + \
        streamed(PR_ATTACH_DATA_BIN, big) + [(END_MESSAGE, 0)]
    st, p = send(mb, OP_SAVE_MESSAGE, items, big)
    check("a 12 MiB value saves (more than max_stream_memory)", st == OK, p)
    st, _, data = read_prop(mb, p.get(PR_MID) or 0, PR_ATTACH_DATA_BIN)
    check("and reads back byte for byte", st == OK and data == big, (st, len(data)))
    run = os.path.dirname(xctest.SOCKET)
    left = [f for f in os.listdir(run) if f.startswith("storaged-spool")]
    check("no spool file is left behind", left == [], left)
    mb.close()


def bad_streamed_values_are_refused():
    mb = Mailbox()
    fid, _ = mb.new_folder("Bad streams")
    head = [(xctest.PR_FID, fid), (START_MESSAGE, 0), (PR_SUBJECT, "bad")]
    cases = {
        "a streamed PT_LONG": (head + [(MARK_STREAMED, PT_LONG), (tag(PT_OBJECT, 0x6800), 4),
                                       (END_MESSAGE, 0)], b"abcd", None),
        "fewer bytes than the values need": (head + streamed(PR_BODY, b"x" * 100) +
                                             [(END_MESSAGE, 0)], b"x" * 50, None),
        "bytes left over": (head + streamed(PR_BODY, b"xy" * 10) + [(END_MESSAGE, 0)],
                            b"xy" * 20, None),
        "a length other than announced": (head + streamed(PR_BODY, b"xy" * 10) +
                                          [(END_MESSAGE, 0)], b"xy" * 10, 7),
        "invalid UTF-8 in a PT_STRING8": (head + streamed(tag(PT_STRING8, 0x1000), b"\xff\xfe") +
                                          [(END_MESSAGE, 0)], b"\xff\xfe", None),
        "odd-length UTF-16": (head + streamed(PR_BODY, b"abc") + [(END_MESSAGE, 0)],
                              b"abc", None),
        "a marker without its length": (head + [(MARK_STREAMED, PT_BINARY), (END_MESSAGE, 0)],
                                        b"", None),
    }
    for what, (items, stream, announce) in cases.items():
        st, p = send(mb, OP_SAVE_MESSAGE, items, stream, announce)
        check("%s is E_BADREQ" % what, st == E_BADREQ and p.get(T_ERRMSG), p)
    st, p = send(mb, OP_SAVE_MESSAGE, head + streamed(PR_BODY, b"") + [(END_MESSAGE, 0)], b"")
    check("an empty streamed value in an empty stream is fine", st == OK, p)
    if st == OK:
        mb.delete([p.get(PR_MID)])
    r = mb.ask(OP_SAVE_MESSAGE, head + streamed(PR_BODY, b"ab") + [(END_MESSAGE, 0)])
    check("streamed values without a stream are E_BADREQ", r.status == E_BADREQ, r)
    st, p = send(mb, xctest.OP_LIST_FOLDERS, [], b"unwanted")
    check("a stream on an operation that takes none is E_BADREQ", st == E_BADREQ, p)
    c = mb.contents(fid, [PR_MID])
    check("nothing was saved", c.get(T_TOTAL) == 0, c)
    check("the connection goes on", mb.save(a_note("fine"), fid=fid).status == OK)
    mb.close()


if __name__ == "__main__":
    xctest.run_tests(
        a_message_larger_than_a_frame_is_saved_through_a_stream,
        read_prop_gives_the_values_back,
        a_long_text_streams_from_storage_in_chunks,
        set_props_takes_a_streamed_value,
        a_large_imported_message_reads_too,
        streams_share_a_memory_budget,
        a_value_larger_than_the_memory_budget_goes_through_the_spool,
        bad_streamed_values_are_refused,
    )
