#!/usr/bin/python3
"""test_mime - messages in Internet format through storaged ([MS-OXCMAIL]).

Alice imports every message of t/data/mime (IMPORT_MIME, op 30): each
becomes a message whose subject, recipients and attachments the contents
table and GET_MESSAGE show, a forwarded message becomes an embedded
message, Keywords and X- headers become named properties of her mailbox,
and GET_MIME (op 31) gives back exactly the bytes that came in. A 3 MiB
message, three times the frame limit, goes both ways as a streamed value.
The received bytes survive what MIME doesn't say (read state, follow-up
flag, a copy, a move) and give way to MIME written anew when the subject
changes. A message made through MAPI gets MIME written once per change:
asked twice, the same cached bytes; changed, new ones. Blob references
stay exact. Bad requests (no stream, a wrong length, a chunk out of
place) are refused and storaged stays up. A trusted local peer (root, or
storaged's own user) may open any user's mailbox without a password,
as the import tool and mtad do.

The contract is lib/xc_wire.h (ops 30..32) and sql/006_mime.sql.
"""
import glob
import os
import random
import struct
import uuid

import xctest
from xctest import (ALICE, OK, E_BADREQ, E_NOTFOUND, T_ERRMSG, T_SESSION,
                    T_MAILBOX_ID, T_USER, PR_FID, PT_LONG, PT_OBJECT,
                    PT_BINARY, PT_UNICODE, OP_SET_PROPS, OP_MOVE_MESSAGES,
                    OP_COPY_MESSAGES, T_NEW_MIDS, F_CHUNK, F_MORE, check, tag,
                    psql, store_mismatches)
from test_store import (Mailbox, a_note, T_TOTAL, T_MIDS, PR_MID, PR_SUBJECT,
                        PR_MESSAGE_SIZE,
                        START_EMBED, START_MESSAGE, END_MESSAGE, T_CN)

OP_IMPORT_MIME, OP_GET_MIME, OP_TRUSTED_LOGIN = 30, 31, 32
T_MIME = tag(PT_OBJECT, 0x39)
PR_FLAG_STATUS = tag(PT_LONG, 0x1090)
CHUNK = 65536
DATA = os.path.join(xctest.SRC, "t", "data", "mime")


def send_stream(mb, op, args, data, length=None, mailbox_id=None, announce=None):
    """A request whose streamed argument (announced by `announce`, MIME by
    default, with `length` or the data's) follows in chunk frames; answers
    (status, {tag: value}, bytes streamed back)."""
    sd = mb.sd
    rid = sd.next_id
    sd.next_id += 1
    props = [(T_SESSION, mb.session), (T_MAILBOX_ID, mailbox_id or mb.id),
             (announce or T_MIME, len(data) if length is None else length)] + list(args)
    sd.send_raw(xctest.frame(op, rid, xctest.enc_props(props), flags=F_MORE))
    pieces = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    for i, p in enumerate(pieces):
        sd.send_raw(xctest.frame(op, rid, p, flags=F_CHUNK |
                                 (F_MORE if i + 1 < len(pieces) else 0)))
    return answer(mb, rid)


def answer(mb, rid):
    streamed = []
    while True:
        fr = mb.sd.read_frame()
        if fr is None:
            raise EOFError("storaged closed the connection")
        flags, _, reqid, payload = fr
        assert reqid == rid, (reqid, rid)
        if flags & F_CHUNK:
            streamed.append(payload)
            continue
        props = xctest.dec_props(payload)
        return props.get(xctest.T_STATUS), props, b"".join(streamed)


def import_mime(mb, fid, data):
    return send_stream(mb, OP_IMPORT_MIME, [(PR_FID, fid)], data)


def get_mime(mb, mid):
    rid = mb.sd.send(OP_GET_MIME, [(T_SESSION, mb.session), (T_MAILBOX_ID, mb.id),
                                   (PR_MID, mid)])
    return answer(mb, rid)


def mime_row(mid):
    """'true|cn' or 'false|cn' of the message's message_mime row, or ''."""
    out, _ = psql("SELECT received || '|' || cn FROM message_mime WHERE mid = %d"
                  % counter_of(mid))
    return out.strip()


def counter_of(xid):
    return int.from_bytes(struct.pack("<q", xid)[2:], "big")


def blob_refs(data):
    out, _ = psql("SELECT coalesce(sum(refcount), 0) FROM blobs WHERE size = %d "
                  "AND data = decode('%s', 'hex')" % (len(data), data.hex()))
    return out.strip()


def every_sample_imports_and_comes_back_exactly():
    mb = Mailbox()
    fid, _ = mb.new_folder("Imported")
    files = sorted(glob.glob(os.path.join(DATA, "*.eml")))
    check("there are sample messages", len(files) >= 10, len(files))
    mids = {}
    for path in files:
        name = os.path.basename(path)
        data = open(path, "rb").read()
        st, p, _ = import_mime(mb, fid, data)
        check("%s imports" % name, st == OK and PR_MID in p, p)
        if st != OK:
            continue
        mids[name] = p[PR_MID]
        st, p2, back = get_mime(mb, p[PR_MID])
        check("%s comes back byte for byte" % name,
              st == OK and back == data and p2.get(T_MIME) == len(data),
              (st, len(back), len(data), p2.get(T_ERRMSG)))
    c = mb.contents(fid, [PR_MID, PR_SUBJECT])
    check("the folder lists every one", c.get(T_TOTAL) == len(mids), c.get(T_TOTAL))
    subjects = {r.get(PR_MID): r.get(PR_SUBJECT) for r in c.rows}

    if "apple-mixed.eml" in mids:
        check("an encoded-word subject is decoded",
              subjects.get(mids["apple-mixed.eml"]) == "Photos et facture \u2013 r\u00e9union",
              subjects.get(mids["apple-mixed.eml"]))
    if "thunderbird-forward-rfc822.eml" in mids:
        r, got, problem = mb.get(mids["thunderbird-forward-rfc822.eml"])
        embedded = [v for _, props in (got.attachments if got else [])
                    for t, v in props if t == START_EMBED]
        check("a forwarded message/rfc822 is an embedded message",
              r.status == OK and problem is None and len(embedded) == 1 and
              embedded[0].prop(PR_SUBJECT) == "Site plan",
              (problem, got and got.attachments))
    if "latin1-rfc2231.eml" in mids:
        r, got, _ = mb.get(mids["latin1-rfc2231.eml"])
        kw = [v for t, v in (got.props if got else []) if t >> 16 >= 0x8000 and
              t & 0xFFFF == xctest.PT_MV | PT_UNICODE]
        check("Keywords become a named multi-valued property",
              ["Urlaub", "Gr\u00fc\u00dfe", "Familie"] in kw, kw)
        out, _ = psql("SELECT count(*) FROM named_props WHERE mailbox_id = %d "
                      "AND name IN ('Keywords', 'x-mailer')" % mb.id)
        check("and the mailbox has the names Keywords and x-mailer",
              out.strip() == "2", out)
    check("counts, bytes and blob references add up", store_mismatches(mb.id) == [],
          store_mismatches(mb.id))
    mb.close()


def a_large_message_streams_both_ways():
    mb = Mailbox()
    fid, _ = mb.new_folder("Large")
    rnd = random.Random(3)
    body = "".join("%s\r\n" % rnd.randbytes(57).hex() for _ in range(28000))
    data = ("From: Carol <carol@example.test>\r\nTo: alice@example.test\r\n"
            "Subject: big report\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body).encode()
    check("the message is three times the frame limit", len(data) > 3 * 1024 * 1024,
          len(data))
    st, p, _ = import_mime(mb, fid, data)
    check("a 3 MiB message imports as a streamed value", st == OK, p)
    st, p2, back = get_mime(mb, p.get(PR_MID, 0))
    check("and streams back intact", st == OK and back == data, (st, len(back)))
    c = mb.contents(fid, [PR_SUBJECT, PR_MESSAGE_SIZE])
    row = c.rows[0] if c.rows else {}
    check("its content is stored too", row.get(PR_SUBJECT) == "big report" and
          row.get(PR_MESSAGE_SIZE, 0) >= len(body), row)
    mb.close()


def received_mime_stays_until_the_content_changes():
    mb = Mailbox()
    fid, _ = mb.new_folder("Kept")
    other, _ = mb.new_folder("Elsewhere")
    data = b"X-Test-Id: %s\r\n" % os.urandom(8).hex().encode() + \
        open(os.path.join(DATA, "thunderbird-alternative.eml"), "rb").read()
    st, p, _ = import_mime(mb, fid, data)
    mid = p.get(PR_MID, 0)
    check("a message is imported", st == OK, p)
    check("its received MIME is kept", mime_row(mid).startswith("true|"), mime_row(mid))
    r = mb.set_read([mid])
    st, _, back = get_mime(mb, mid)
    check("marking it read keeps the received bytes", r.status == OK and back == data)
    r = mb.ask(OP_SET_PROPS, [(PR_MID, mid), (START_MESSAGE, 0), (PR_FLAG_STATUS, 2),
                              (END_MESSAGE, 0)])
    st, _, back = get_mime(mb, mid)
    check("flagging it for follow-up keeps them", r.status == OK and back == data, r)
    c = mb.ask(OP_COPY_MESSAGES, [(T_MIDS, [mid]), (PR_FID, other)])
    copy = (c.get(T_NEW_MIDS) or [0])[0]
    st, _, back = get_mime(mb, copy)
    check("a copy has the same bytes", c.status == OK and back == data, c)
    check("stored once, referenced twice", blob_refs(data) == "2", blob_refs(data))
    m = mb.ask(OP_MOVE_MESSAGES, [(T_MIDS, [copy]), (PR_FID, fid)])
    moved = (m.get(T_NEW_MIDS) or [0])[0]
    st, _, back = get_mime(mb, moved)
    check("a moved copy keeps them", m.status == OK and back == data, m)
    r = mb.ask(OP_SET_PROPS, [(PR_MID, mid), (START_MESSAGE, 0),
                              (PR_SUBJECT, "Renamed by Alice"), (END_MESSAGE, 0)])
    st, p, back = get_mime(mb, mid)
    check("a new subject gives MIME written anew, with it",
          r.status == OK and st == OK and back != data and
          b"Subject: Renamed by Alice" in back, back[:400])
    check("cached for the message's change number",
          mime_row(mid) == "false|%s" % p.get(T_CN), (mime_row(mid), p.get(T_CN)))
    check("the copy still has the received bytes", blob_refs(data) == "1", blob_refs(data))
    # named properties: only those MIME carries (X- headers, Keywords)
    headers = uuid.UUID("00020386-0000-0000-c000-000000000046").bytes_le
    public = uuid.UUID("00020329-0000-0000-c000-000000000046").bytes_le
    r = mb.ask(17, [(tag(xctest.PT_BOOLEAN, 0x1A), 1),
                    (tag(xctest.PT_CLSID, 0x1B), headers), (tag(xctest.PT_STRING8, 0x1D), "x-test-id"),
                    (tag(xctest.PT_CLSID, 0x1B), public), (tag(xctest.PT_STRING8, 0x1D), "x-not-mime")])
    hid, other_id = (r.get(tag(xctest.PT_MV | xctest.PT_LONG, 0x1E)) or [0, 0])[:2]
    r = mb.ask(OP_SET_PROPS, [(PR_MID, moved), (START_MESSAGE, 0),
                              (tag(xctest.PT_UNICODE, other_id), "not in MIME"),
                              (END_MESSAGE, 0)])
    st, _, back = get_mime(mb, moved)
    check("a named property MIME doesn't carry keeps the received bytes",
          r.status == OK and back == data, r)
    r = mb.ask(OP_SET_PROPS, [(PR_MID, moved), (START_MESSAGE, 0),
                              (tag(xctest.PT_UNICODE, hid), "changed-by-alice"),
                              (END_MESSAGE, 0)])
    st, _, back = get_mime(mb, moved)
    check("an X- header's named property changed gives MIME written anew, with it",
          r.status == OK and back != data and b"changed-by-alice" in back, back[:600])
    mb.delete([mid, moved])
    check("deleting both lets the blob go", blob_refs(data) == "0", blob_refs(data))
    check("counts, bytes and blob references add up", store_mismatches(mb.id) == [],
          store_mismatches(mb.id))
    mb.close()


def mapi_messages_get_mime_once_per_change():
    mb = Mailbox()
    fid, _ = mb.new_folder("Written")
    saved = mb.save(a_note("Budget 2027", props=[(tag(PT_UNICODE, 0x1000),
                                                  "Figures attached.\r\n")]), fid=fid)
    mid = saved.get(PR_MID, 0)
    st, p, first = get_mime(mb, mid)
    check("a MAPI message gets MIME", st == OK and b"Subject: Budget 2027" in first
          and b"Figures attached." in first, first[:300])
    check("cached, not received", mime_row(mid).startswith("false|"), mime_row(mid))
    st, _, second = get_mime(mb, mid)
    check("asked again, the same bytes", st == OK and second == first)
    mb.set_read([mid])
    st, _, third = get_mime(mb, mid)
    check("after a change, MIME again (the same text: read state isn't in it)",
          st == OK and third == first)
    again = mb.save(a_note("Budget 2028"), mid=mid)
    st, _, fourth = get_mime(mb, mid)
    check("after a new save, new MIME",
          again.status == OK and b"Subject: Budget 2028" in fourth, fourth[:300])
    out, _ = psql("SELECT count(*) FROM message_mime WHERE mid = %d" % counter_of(mid))
    check("one cached copy, not one per change", out.strip() == "1", out)
    st, _, _ = get_mime(mb, mid + (1 << 16) * 1000000)
    check("an unknown message is E_NOTFOUND", st == E_NOTFOUND, st)
    mb.close()


T_PARTS = tag(xctest.PT_MV | xctest.PT_I8, 0x5C)
PR_CONTENT_COUNT, PR_CONTENT_UNREAD = tag(PT_LONG, 0x3602), tag(PT_LONG, 0x3603)


def several_messages_go_in_one_transaction():
    """IMPORT_MIME with PARTS (mtad's burst of mail for one mailbox): every
    message saved in one commit, in order, with consecutive CNs, exactly
    as one at a time would save them; all or none."""
    mb = Mailbox()
    fid, _ = mb.new_folder("Parts")
    msgs = [b"Subject: first\r\nFrom: a@example.test\r\n\r\none\r\n",
            'Subject: "quoted" \\ back\\slash {brace,} \u00fcml\u00e4ut\r\n'
            '\r\ntwo\r\n'.encode(),
            b"From: nobody@example.test\r\n\r\nno subject at all\r\n",
            b"Subject: NULL\r\n\r\nfour\r\n"]
    st, p, _ = send_stream(mb, OP_IMPORT_MIME, [(PR_FID, fid),
                                                (T_PARTS, [len(m) for m in msgs])],
                           b"".join(msgs))
    mids = p.get(T_NEW_MIDS) or []
    check("four messages in one request are saved", st == OK and len(mids) == 4, p)
    check("the answer names the last one too", p.get(PR_MID) == (mids or [0])[-1], p)
    cns = []
    for m, data in zip(mids, msgs):
        st, p2, back = get_mime(mb, m)
        check("each comes back byte for byte", st == OK and back == data, (st, back))
        cns.append(p2.get(T_CN))
    check("with consecutive change numbers, in order",
          len(cns) == 4 and None not in cns and
          cns == list(range(cns[0], cns[0] + 4)), cns)
    c = mb.contents(fid, [PR_MID, PR_SUBJECT])
    subjects = {r.get(PR_MID): r.get(PR_SUBJECT) for r in c.rows}
    check("the contents table has their subjects",
          [subjects.get(m) for m in mids] ==
          ["first", '"quoted" \\ back\\slash {brace,} \u00fcml\u00e4ut', None, "NULL"],
          [subjects.get(m) for m in mids])
    out, _ = psql("SELECT content_count || '|' || unread_count FROM folders "
                  "WHERE mailbox_id = %d AND fid = %d" % (mb.id, counter_of(fid)))
    check("the folder counts four, unread", out.strip() == "4|4", out)

    # all or none: refusals leave nothing behind
    def refused(what, args, data, want=E_BADREQ):
        st, p, _ = send_stream(mb, OP_IMPORT_MIME, [(PR_FID, fid)] + args, data)
        c = mb.contents(fid, [PR_MID])
        check(what, st in (want if isinstance(want, tuple) else (want,)) and
              c.get(T_TOTAL) == 4, (st, p, c.get(T_TOTAL)))
    one = b"Subject: x\r\n\r\nx\r\n"
    refused("PARTS that don't add up to the stream are E_BADREQ",
            [(T_PARTS, [len(one), len(one)])], one * 3)
    refused("PARTS longer than the stream are E_BADREQ",
            [(T_PARTS, [len(one), len(one) * 5])], one * 2)
    refused("an empty part is E_BADREQ", [(T_PARTS, [len(one), 0])], one)
    refused("more than 64 parts are E_BADREQ", [(T_PARTS, [len(one)] * 65)], one * 65)
    bad = b"X-A: 1\r\n" * 1001 + b"\r\nover the header field limit\r\n"
    refused("one part the store refuses refuses them all",
            [(T_PARTS, [len(one), len(bad)])], one + bad)
    refused("PARTS never deliver a queued recipient (trusted or not)",
            [(T_PARTS, [len(one)] * 2), (tag(xctest.PT_I8, 0x4B), 1),
             (tag(PT_LONG, 0x4C), 0)], one * 2, want=(E_BADREQ, xctest.E_PERM))
    psql("UPDATE mailboxes SET quota_bytes = used_bytes + %d WHERE id = %d"
         % (len(one) * 40, mb.id))
    try:
        refused("over the quota together: none is saved (E_NOQUOTA)",
                [(T_PARTS, [len(one)] * 60)], one * 60, want=xctest.E_NOQUOTA)
    finally:
        psql("UPDATE mailboxes SET quota_bytes = NULL WHERE id = %d" % mb.id)
    check("counts, bytes and blob references add up", store_mismatches(mb.id) == [],
          store_mismatches(mb.id))
    mb.close()


def bad_imports_are_refused():
    mb = Mailbox()
    fid, _ = mb.new_folder("Refused")
    rid = mb.sd.send(OP_IMPORT_MIME, [(T_SESSION, mb.session), (T_MAILBOX_ID, mb.id),
                                      (PR_FID, fid), (T_MIME, 10)])
    st, p, _ = answer(mb, rid)
    check("MIME announced but not streamed is E_BADREQ", st == E_BADREQ, p)
    st, p, _ = send_stream(mb, OP_IMPORT_MIME, [(PR_FID, fid)], b"Subject: x\r\n\r\nhi\r\n",
                           length=5)
    check("a stream of another length than announced is E_BADREQ", st == E_BADREQ, p)
    st, p, _ = send_stream(mb, OP_IMPORT_MIME, [(PR_MID, 1)], b"Subject: x\r\n\r\nhi\r\n")
    check("IMPORT_MIME without PR_FID is E_BADREQ", st == E_BADREQ, p)
    st, p, _ = import_mime(mb, fid, b"")
    check("an empty message is E_BADREQ", st == E_BADREQ and
          p.get(T_ERRMSG) == "an empty message", p)
    c = mb.contents(fid, [PR_MID])
    check("none of them left a message", c.get(T_TOTAL) == 0, c)
    st, p, _ = import_mime(mb, fid, b"Subject: still fine\r\n\r\nyes\r\n")
    check("the connection goes on", st == OK, p)
    stray = xctest.Storaged()
    stray.send_raw(xctest.frame(OP_IMPORT_MIME, 7, b"abc", flags=F_CHUNK))
    check("a chunk without its request ends that connection", stray.read_frame() is None)
    stray.close()
    check("storaged still answers", xctest.storaged_answers())
    mb.close()


def a_trusted_peer_opens_any_mailbox():
    sd = xctest.Storaged()
    st, p, _ = sd.call(OP_TRUSTED_LOGIN, [(T_USER, "bob@example.test")])
    check("root opens Bob's mailbox without his password",
          st == OK and p.get(T_SESSION) and p.get(T_MAILBOX_ID), p)
    st, p2, _ = sd.call(OP_TRUSTED_LOGIN, [(T_USER, "nobody@example.test")])
    check("an unknown user is E_NOTFOUND", st == E_NOTFOUND, p2)
    sd.close()
    check("the log names the trusted login",
          "trusted login: user=bob@example.test" in xctest.log_text("storaged.log"))


PEER_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
s.settimeout(10)
out = b""
while len(out) < 4 or len(out) < 4 + int.from_bytes(out[:4], "little"):
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
"""


def a_peer_only_allowed_in_gets_no_trusted_login():
    """A local user storaged lets in (allow_users, as httpd is let in by
    socket_group) may log in with a password but never without one: the
    trusted login is for root and storaged's own user."""
    if os.geteuid() != 0 or not xctest.AS:
        print("# skipped: a second local user needs root")
        return
    import subprocess
    import time
    user = "xcpeer"
    if subprocess.run(["id", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", "-G",
                        xctest.AS[2], user], check=True, capture_output=True)
    d = xctest.DIR
    conf = open(os.path.join(d, "etc", "storaged.conf")).read()
    sock = os.path.join(d, "run", "storaged-peer.sock")
    conf = conf.replace(os.path.join(d, "run", "storaged.sock"), sock)
    conf = conf.replace(os.path.join(d, "run", "storaged.pid"),
                        os.path.join(d, "run", "storaged-peer.pid"))
    conf += "\nallow_users = %s\n" % user
    path = os.path.join(d, "etc", "storaged-peer.conf")
    with open(path, "w") as f:
        f.write(conf)
    os.chmod(path, 0o644)
    log = open(os.path.join(d, "log", "storaged-peer.log"), "ab")
    proc = subprocess.Popen(xctest.AS + [os.path.join(d, "lib", "storaged"), "-f", path],
                            stdout=log, stderr=log, cwd="/")
    try:
        check("a storaged that also lets in %s starts" % user,
              xctest.wait_until(lambda: os.path.exists(sock), timeout=10))
        time.sleep(0.3)
        req = xctest.frame(OP_TRUSTED_LOGIN, 1, xctest.enc_props(
            [(xctest.T_USER, "bob@example.test")]))
        p = subprocess.run(["runuser", "-u", user, "--", "/usr/bin/python3", "-c",
                            PEER_CLIENT, sock], input=req, capture_output=True,
                           cwd="/", timeout=30)
        props = xctest.dec_props(p.stdout[12:]) if len(p.stdout) > 12 else {}
        check("its trusted login is refused (E_PERM)",
              props.get(xctest.T_STATUS) == xctest.E_PERM, (p.stdout[:64], p.stderr[-300:]))
        check("and logged", "trusted login refused" in
              open(os.path.join(d, "log", "storaged-peer.log"), errors="replace").read())
        # the mail queue (ops 39, 41) is for trusted peers too
        for op, name, args in ((39, "RCPT_CHECK", [(xctest.tag(xctest.PT_STRING8, 0x07), "bob@example.test")]),
                               (41, "QUEUE_TAKE", [])):
            req = xctest.frame(op, 1, xctest.enc_props(args))
            p = subprocess.run(["runuser", "-u", user, "--", "/usr/bin/python3", "-c",
                                PEER_CLIENT, sock], input=req, capture_output=True,
                               cwd="/", timeout=30)
            props = xctest.dec_props(p.stdout[12:]) if len(p.stdout) > 12 else {}
            check("%s is refused to it too (E_PERM)" % name,
                  props.get(xctest.T_STATUS) == xctest.E_PERM, (p.stdout[:64], p.stderr[-300:]))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        subprocess.run(["userdel", user], capture_output=True)


if __name__ == "__main__":
    xctest.run_tests(
        every_sample_imports_and_comes_back_exactly,
        a_large_message_streams_both_ways,
        received_mime_stays_until_the_content_changes,
        mapi_messages_get_mime_once_per_change,
        bad_imports_are_refused,
        several_messages_go_in_one_transaction,
        a_trusted_peer_opens_any_mailbox,
        a_peer_only_allowed_in_gets_no_trusted_login,
    )
