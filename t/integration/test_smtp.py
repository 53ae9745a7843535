#!/usr/bin/python3
"""test_smtp - mail from SMTP clients into mailboxes, through mtad's queue.

[MS-OXPROTO] use cases 2.4.7/2.4.8 and issue #4: real clients (Python's
smtplib and swaks) send mail to mtad; it reaches the recipient's Inbox
with a Return-Path and a Received field in front of the bytes that came
in, exactly once, and the queue (visible in SQL) is empty afterwards. A
subscribed storaged client learns of the new mail at once. Unknown local
users get 550 5.1.1 at RCPT, other domains 550 5.7.1 (no relay without
authentication), a full mailbox 452 4.2.2, a message over the size limit
552 5.3.4 (SIZE or the bytes themselves), too many recipients 452 4.5.3.
EHLO offers PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS,
SMTPUTF8, CHUNKING and DSN, and each works: STARTTLS with swaks,
pipelined commands answered in order, BDAT chunks. Bad input gets SMTP's
own errors and the connection goes on, until too many errors end it.
"""
import os
import select
import smtplib
import socket
import ssl
import subprocess
import time
import uuid

import xctest
from xctest import ALICE, BOB, check, psql, run_tests, wait_until

HOST = "127.0.0.1"
# what mtad logged before these tests (other tests restart storaged)
LOG_START = len(xctest.log_text("mtad.log")) if xctest.DIR else 0


def inbox_count(user, subject):
    out, err = psql(
        "SELECT count(*) FROM messages m JOIN folders f ON f.mailbox_id = m.mailbox_id "
        "AND f.fid = m.fid AND f.special = 5 JOIN mailboxes x ON x.id = m.mailbox_id "
        "WHERE x.user_id = xc_user_id('%s') AND m.subject = '%s'" % (user, subject.replace("'", "''")))
    return int(out or 0)


def stored_mime(user, subject):
    out, _ = psql(
        "SELECT encode(b.data, 'base64') FROM messages m JOIN message_mime mm ON "
        "mm.mailbox_id = m.mailbox_id AND mm.mid = m.mid JOIN blobs b ON b.hash = mm.blob "
        "JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.user_id = xc_user_id('%s') "
        "AND m.subject = '%s'" % (user, subject.replace("'", "''")))
    import base64
    return base64.b64decode(out.replace("\n", "")) if out else b""


def queue_empty():
    out, _ = psql("SELECT count(*) FROM mail_queue_rcpt")
    return out == "0"


def delivered(user, subject, n=1, timeout=10):
    return wait_until(lambda: inbox_count(user, subject) >= n, timeout=timeout)


def note(subject, to="alice@example.test", body="Hello.\r\n"):
    return ("From: Carol <carol@remote.test>\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@remote.test>\r\n\r\n%s" % (to, subject, uuid.uuid4().hex, body)).encode()


class Raw:
    """A plain socket session, for what smtplib won't send."""

    def __init__(self):
        self.s = socket.create_connection((HOST, xctest.SMTP), timeout=10)
        self.buf = b""
        self.greeting = self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed")
            self.buf += d
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln.decode("utf-8", "replace")

    def reply(self):
        """(code, [text lines]) of one reply."""
        lines = []
        while True:
            ln = self.line()
            lines.append(ln[4:])
            if ln[3:4] != "-":
                return int(ln[:3]), lines

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.reply()

    def closed(self):
        try:
            self.s.settimeout(5)
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.s.close()


# ------------------------------------------------------------------ tests --
def ehlo_offers_the_extensions():
    s = smtplib.SMTP(HOST, xctest.SMTP, timeout=10)
    code, _ = s.ehlo("client.remote.test")
    feats = s.esmtp_features
    check("EHLO is answered with 250", code == 250)
    for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "starttls",
                "smtputf8", "chunking", "dsn"):
        check("EHLO offers %s" % ext.upper(), ext in feats, feats)
    check("SIZE names the limit (1 MiB in the test stack)", feats.get("size") == "1048576", feats)
    s.quit()


def mail_reaches_the_inbox_once_with_trace_fields():
    subject = "smtplib %s" % uuid.uuid4().hex[:8]
    body = "Line one\r\n.A line that starts with a dot\r\n..two dots\r\n\r\nEnd\r\n"
    msg = note(subject, body=body)
    s = smtplib.SMTP(HOST, xctest.SMTP, timeout=10)
    s.ehlo("client.remote.test")
    s.mail("carol@remote.test")
    s.rcpt("alice@example.test")
    code, text = s.data(msg)
    s.quit()
    check("DATA is answered 250 2.0.0 queued", code == 250 and text.startswith(b"2.0.0 Ok: queued as"),
          (code, text))
    check("the message is in Alice's Inbox", delivered(ALICE[0], subject))
    check("exactly once", inbox_count(ALICE[0], subject) == 1)
    mime = stored_mime(ALICE[0], subject)
    lines = mime.split(b"\r\n")
    check("the stored bytes start with Return-Path: <carol@remote.test>",
          lines[0] == b"Return-Path: <carol@remote.test>", lines[:2])
    check("then our Received field, naming the client, mtad and the recipient",
          lines[1].startswith(b"Received: from client.remote.test ([127.0.0.1])")
          and b"by localhost (mtad) with ESMTP id" in mime and b"for <alice@example.test>" in mime,
          mime[:300])
    check("then the message exactly as sent (dots unstuffed)", mime.endswith(msg), mime[-200:])
    check("the queue is empty afterwards", wait_until(queue_empty, timeout=10))


def an_alias_and_two_recipients():
    subject = "two %s" % uuid.uuid4().hex[:8]
    s = smtplib.SMTP(HOST, xctest.SMTP, timeout=10)
    refused = s.sendmail("carol@remote.test", ["alice.alias@other.test", "BOB@Example.Test"],
                         note(subject, to="alice.alias@other.test, bob@example.test"))
    s.quit()
    check("mail to Alice's alias and to Bob (upper case) is accepted", refused == {}, refused)
    check("it reaches Alice once", delivered(ALICE[0], subject) and inbox_count(ALICE[0], subject) == 1)
    check("and Bob once", delivered(BOB[0], subject) and inbox_count(BOB[0], subject) == 1)
    check("one blob holds the bytes for both", psql(
        "SELECT count(DISTINCT mm.blob) FROM messages m JOIN message_mime mm ON mm.mailbox_id = "
        "m.mailbox_id AND mm.mid = m.mid WHERE m.subject = '%s'" % subject)[0] == "1")


def recipients_are_checked_at_rcpt():
    r = Raw()
    r.cmd("EHLO client.remote.test")
    check("MAIL from anyone is accepted", r.cmd("MAIL FROM:<carol@remote.test>")[0] == 250)
    code, text = r.cmd("RCPT TO:<nobody@example.test>")
    check("an unknown user of ours gets 550 5.1.1", code == 550 and text[0].startswith("5.1.1"), text)
    code, text = r.cmd("RCPT TO:<someone@elsewhere.test>")
    check("another domain gets 550 5.7.1: no relaying for strangers",
          code == 550 and text[0].startswith("5.7.1"), text)
    code, text = r.cmd("RCPT TO:<someone@[192.0.2.1]>")
    check("so does an address literal", code == 550 and text[0].startswith("5.7.1"), text)
    code, text = r.cmd("DATA")
    check("DATA without a valid recipient is refused", code in (503, 554), (code, text))
    check("RSET works after that", r.cmd("RSET")[0] == 250)
    r.cmd("MAIL FROM:<carol@remote.test>")
    for i in range(20):
        r.cmd("RCPT TO:<alice@example.test>")       # the same one is counted once
    code, _ = r.cmd("RCPT TO:<bob@example.test>")
    check("a repeated recipient is not counted twice", code == 250)
    r.cmd("RSET")
    r.cmd("MAIL FROM:<carol@remote.test>")
    users = []
    for i in range(21):
        users.append(r.cmd("RCPT TO:<nobody%d@example.test>" % i)[0])
    check("recipients up to the limit are looked at, 550 each", set(users[:20]) == {550}, users)
    r.cmd("RSET")
    check("the connection goes on (NOOP)", r.cmd("NOOP")[0] == 250)
    r.cmd("QUIT")
    r.close()


def too_many_recipients_get_452():
    names = []
    for i in range(21):
        addr = "many%d@example.test" % i
        names.append(addr)
        out, _ = psql("SELECT count(*) FROM addresses WHERE address = '%s'" % addr)
        if out == "0":
            xctest.xcadmin("alias-add", ALICE[0], addr)
    r = Raw()
    r.cmd("EHLO client.remote.test")
    r.cmd("MAIL FROM:<carol@remote.test>")
    codes = [r.cmd("RCPT TO:<%s>" % a)[0] for a in names]
    check("20 recipients are taken (max_rcpts)", codes[:20] == [250] * 20, codes)
    code, text = r.cmd("RCPT TO:<bob@example.test>")
    check("the 21st gets 452 4.5.3", code == 452 and text[0].startswith("4.5.3"), (code, text))
    r.cmd("QUIT")
    r.close()


def size_limits_give_552():
    r = Raw()
    r.cmd("EHLO client.remote.test")
    code, text = r.cmd("MAIL FROM:<carol@remote.test> SIZE=2000000")
    check("SIZE over the limit gets 552 5.3.4 at MAIL", code == 552 and text[0].startswith("5.3.4"),
          (code, text))
    check("MAIL with a SIZE under it is fine", r.cmd("MAIL FROM:<carol@remote.test> SIZE=1000")[0] == 250)
    r.cmd("RCPT TO:<alice@example.test>")
    check("DATA gets 354", r.cmd("DATA")[0] == 354)
    subject = "too big %s" % uuid.uuid4().hex[:8]
    big = note(subject, body=("x" * 998 + "\r\n") * 1100)
    r.s.sendall(big + b"\r\n.\r\n")
    code, text = r.reply()
    check("1.1 MB of message over a 1 MiB limit gets 552 5.3.4 after the data",
          code == 552 and text[0].startswith("5.3.4"), (code, text))
    check("and nothing is delivered", inbox_count(ALICE[0], subject) == 0)
    check("the connection goes on", r.cmd("NOOP")[0] == 250)
    r.cmd("MAIL FROM:<carol@remote.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.s.sendall(b"Subject: wide\r\n\r\n" + b"y" * 70000 + b"\r\n.\r\n")
    code, text = r.reply()
    check("a 70,000-byte line gets 552 5.3.4", code == 552 and text[0].startswith("5.3.4"), (code, text))
    r.cmd("QUIT")
    r.close()


def a_full_mailbox_gets_452():
    rc, out = xctest.xcadmin("quota", BOB[0], "1")
    check("an admin gives Bob a quota of 1 byte", rc == 0, out)
    r = Raw()
    r.cmd("EHLO client.remote.test")
    r.cmd("MAIL FROM:<carol@remote.test>")
    code, text = r.cmd("RCPT TO:<bob@example.test>")
    check("mail for Bob gets 452 4.2.2 (mailbox full) at RCPT", code == 452 and text[0].startswith("4.2.2"),
          (code, text))
    check("mail for Alice in the same transaction is fine", r.cmd("RCPT TO:<alice@example.test>")[0] == 250)
    r.cmd("QUIT")
    r.close()
    rc, out = xctest.xcadmin("quota", BOB[0], "none")
    check("the quota is lifted again", rc == 0, out)


def pipelined_commands_are_answered_in_order():
    subject = "pipelined %s" % uuid.uuid4().hex[:8]
    r = Raw()
    r.cmd("EHLO client.remote.test")
    r.s.sendall(b"MAIL FROM:<carol@remote.test>\r\nRCPT TO:<nobody@example.test>\r\n"
                b"RCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    codes = [r.reply()[0] for _ in range(5)]
    check("five pipelined commands get 250 550 250 250 354, in order",
          codes == [250, 550, 250, 250, 354], codes)
    r.s.sendall(note(subject) + b".\r\nNOOP\r\nQUIT\r\n")
    codes = [r.reply()[0] for _ in range(3)]
    check("the message, NOOP and QUIT pipelined after it: 250 250 221", codes == [250, 250, 221], codes)
    r.close()
    check("Alice and Bob have it", delivered(ALICE[0], subject) and delivered(BOB[0], subject))


def bdat_chunks_make_a_message():
    subject = "chunked %s" % uuid.uuid4().hex[:8]
    msg = note(subject, body="In two chunks.\r\n.no dot-stuffing with BDAT\r\n")
    r = Raw()
    r.cmd("EHLO client.remote.test")
    r.s.sendall(b"BDAT 10\r\n" + b"x" * 10)
    code, text = r.reply()
    check("BDAT before MAIL is refused with 503 once its bytes are read", code == 503, (code, text))
    check("and the session goes on", r.cmd("NOOP")[0] == 250)
    r.cmd("MAIL FROM:<carol@remote.test> BODY=8BITMIME")
    r.cmd("RCPT TO:<alice@example.test>")
    half = len(msg) // 2
    r.s.sendall(b"BDAT %d\r\n" % half + msg[:half])
    code, text = r.reply()
    check("the first chunk: 250 with its octets", code == 250 and ("%d octets" % half) in text[0], (code, text))
    r.s.sendall(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
    code, text = r.reply()
    check("BDAT LAST: 250 2.0.0 queued", code == 250 and text[0].startswith("2.0.0 Ok: queued"), (code, text))
    r.cmd("QUIT")
    r.close()
    check("the message arrives", delivered(ALICE[0], subject))
    check("with its bytes exactly (no dot handling in BDAT)", stored_mime(ALICE[0], subject).endswith(msg))


def swaks_sends_plain_pipelined_and_over_starttls():
    for what, extra in (("plain", []), ("pipelined", ["--pipeline"]), ("over STARTTLS", ["-tls"])):
        subject = "swaks %s %s" % (what, uuid.uuid4().hex[:6])
        p = subprocess.run(["swaks", "--server", HOST, "--port", str(xctest.SMTP), "--helo", "swaks.remote.test",
                            "--from", "carol@remote.test", "--to", "alice@example.test",
                            "--header", "Subject: " + subject, "--body", "Sent by swaks.",
                            "--timeout", "20"] + extra, capture_output=True, text=True, timeout=60)
        check("swaks %s: exit 0 and 250 after the data" % what,
              p.returncode == 0 and "<~  250 2.0.0 Ok: queued" in p.stdout.replace("<** ", "<~  ")
              or (p.returncode == 0 and "250 2.0.0 Ok: queued" in p.stdout), p.stdout[-800:] + p.stderr[-300:])
        if what == "over STARTTLS":
            check("swaks saw 220 to STARTTLS and spoke TLS", "220 2.0.0 Ready to start TLS" in p.stdout
                  and "TLS started" in p.stdout, p.stdout[:1500])
        check("swaks %s: the message arrives" % what, delivered(ALICE[0], subject))
        if what == "over STARTTLS":
            check("its Received field says ESMTPS", b"with ESMTPS id" in stored_mime(ALICE[0], subject))


def smtplib_starttls_and_utf8():
    subject = "utf8 %s" % uuid.uuid4().hex[:8]
    ctx = tls_context()
    s = smtplib.SMTP(HOST, xctest.SMTP, timeout=10)
    s.ehlo("client.remote.test")
    s.starttls(context=ctx)
    s.ehlo("client.remote.test")
    check("after STARTTLS EHLO no longer offers STARTTLS", "starttls" not in s.esmtp_features)
    s.command_encoding = "utf-8"       # smtplib sends UTF-8 only with SMTPUTF8
    code, text = s.docmd("MAIL", "FROM:<jösé@remote.test>")
    check("a non-ASCII sender without SMTPUTF8 gets 553 5.6.7", code == 553 and text.startswith(b"5.6.7"),
          (code, text))
    s.rset()
    code, _ = s.mail("jösé@remote.test", ["SMTPUTF8", "BODY=8BITMIME"])
    check("with SMTPUTF8 it is accepted", code == 250)
    s.rcpt("alice@example.test")
    code, text = s.data(("From: jösé@remote.test\r\nSubject: %s\r\n\r\nGrüße\r\n" % subject).encode())
    s.quit()
    check("the message is queued", code == 250, (code, text))
    check("and arrives", delivered(ALICE[0], subject))
    mime = stored_mime(ALICE[0], subject)
    check("Return-Path keeps the UTF-8 sender, Received says UTF8SMTPS",
          mime.startswith("Return-Path: <jösé@remote.test>".encode()) and b"with UTF8SMTPS id" in mime,
          mime[:300])


def bad_input_gets_smtp_errors():
    r = Raw()
    check("the greeting is 220", r.greeting[0] == 220, r.greeting)
    code, _ = r.cmd("MAIL FROM:<carol@remote.test>")
    check("MAIL before EHLO: 503", code == 503)
    r.cmd("EHLO client.remote.test")
    code, _ = r.cmd("RCPT TO:<alice@example.test>")
    check("RCPT before MAIL: 503", code == 503)
    code, text = r.cmd("MAIL FROM:carol@remote.test")
    check("a path without angle brackets: 501", code == 501, (code, text))
    code, text = r.cmd("MAIL FROM:<carol@remote.test> FOO=bar")
    check("an unknown MAIL parameter: 555 5.5.4", code == 555 and text[0].startswith("5.5.4"), (code, text))
    r.cmd("MAIL FROM:<carol@remote.test>")
    code, _ = r.cmd("MAIL FROM:<carol@remote.test>")
    check("a nested MAIL: 503", code == 503)
    code, text = r.cmd("RCPT TO:<alice@example.test> NOTIFY=SOMETIMES")
    check("a bad NOTIFY: 555", code == 555, (code, text))
    code, text = r.cmd("RCPT TO:<alice@example.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;alice@example.test")
    check("NOTIFY and ORCPT are taken", code == 250, (code, text))
    check("the DSN parameters are not lost: DATA still 354", r.cmd("DATA")[0] == 354)
    r.s.sendall(note("dsn %s" % uuid.uuid4().hex[:6]) + b".\r\n")
    check("the message is queued", r.reply()[0] == 250)
    code, text = r.cmd("VRFY alice")
    check("VRFY tells nothing: 252", code == 252)
    r.s.sendall(b"NOOP " + b"a" * 5000 + b"\r\n")
    code, text = r.reply()
    check("a 5000-byte command line: 500 5.5.2", code == 500 and text[0].startswith("5.5.2"), (code, text))
    check("the connection goes on", r.cmd("NOOP")[0] == 250)
    r.s.sendall(b"NO\x00OP\r\n")
    check("a NUL in a command: 500", r.reply()[0] == 500)
    codes = [r.cmd("WHAT%d" % i)[0] for i in range(3)]
    check("unknown commands: 500 each until max_errors", codes[:2] == [500, 500], codes)
    try:
        code, text = r.reply() if codes[-1] == 500 else (codes[-1], [])
    except EOFError:
        code = 0
    check("then 421 and the connection is closed", code == 421 or codes[-1] == 421, (codes, code))
    check("closed", r.closed())
    r.close()


def new_mail_is_pushed_to_a_subscriber():
    sd = xctest.Storaged()
    st, p, _ = sd.login(*ALICE)
    base = [(xctest.T_SESSION, p[xctest.T_SESSION]), (xctest.T_MAILBOX_ID, p[xctest.T_MAILBOX_ID])]
    st, _, _ = sd.call(18, base)            # SUBSCRIBE to the whole mailbox
    check("Alice subscribes to her mailbox", st == xctest.OK, st)
    subject = "push %s" % uuid.uuid4().hex[:8]
    s = smtplib.SMTP(HOST, xctest.SMTP, timeout=10)
    s.sendmail("carol@remote.test", ["alice@example.test"], note(subject))
    sent = time.time()
    s.quit()
    got = None
    while time.time() - sent < 5 and got is None:
        if not sd.buf and not select.select([sd.s], [], [], 5 - (time.time() - sent))[0]:
            break
        fr = sd.read_frame()
        if fr and fr[0] & xctest.F_PUSH:
            got = time.time()
    check("a push frame reaches her within 1 s of the 250", got is not None and got - sent < 1.0,
          None if got is None else got - sent)
    sd.close()


OP_QUEUE_PUT = 40
T_SENDER = xctest.tag(xctest.PT_STRING8, 0x4A)
T_QUEUE_ID = xctest.tag(xctest.PT_I8, 0x4B)
T_LEASE = xctest.tag(xctest.PT_LONG, 0x57)
T_ADDRESS = xctest.tag(xctest.PT_STRING8, 0x07)


def queue_put(mb, rcpts, data, lease=3600, sender="carol@remote.test"):
    """QUEUE_PUT as mtad sends it (the tests run as a trusted peer)."""
    from test_mime import send_stream
    return send_stream(mb, OP_QUEUE_PUT, [(T_SENDER, sender), (T_LEASE, lease)] +
                       [(T_ADDRESS, a) for a in rcpts], data)


def the_queue_tool_lists_shows_flushes_and_deletes():
    from test_store import Mailbox
    mb = Mailbox()
    keep, drop = ("queued %s" % uuid.uuid4().hex[:8] for _ in range(2))
    st, p, _ = queue_put(mb, ["alice@example.test", "bob@example.test"], note(keep))
    check("a message is queued for Alice and Bob (held by a lease)", st == xctest.OK and p.get(T_QUEUE_ID), p)
    qid = p.get(T_QUEUE_ID)
    st, p2, _ = queue_put(mb, ["alice@example.test"], note(drop))
    qid2 = p2.get(T_QUEUE_ID)
    rc, out = xctest.xcadmin("queue", "list")
    check("queue list shows both recipients of the first and the second",
          rc == 0 and out.count("alice@example.test") >= 2 and "bob@example.test" in out, out)
    rc, out = xctest.xcadmin("queue", "show", str(qid))
    check("queue show gives the envelope and the header",
          rc == 0 and "from <carol@remote.test>" in out and "to <bob@example.test>" in out
          and ("Subject: " + keep) in out, out)
    rc, out = xctest.xcadmin("queue", "delete", str(qid2))
    check("queue delete drops the second", rc == 0, out)
    rc, out = xctest.xcadmin("queue", "show", str(qid2))
    check("it is gone", rc != 0, out)
    time.sleep(1.5)
    check("the held one is not delivered before its lease ends", inbox_count(ALICE[0], keep) == 0)
    rc, out = xctest.xcadmin("queue", "flush", str(qid))
    check("queue flush makes it due now", rc == 0 and out.strip().startswith("2 "), out)
    check("and the queue runner delivers it to both", delivered(ALICE[0], keep) and delivered(BOB[0], keep))
    check("the dropped one never arrives", inbox_count(ALICE[0], drop) == 0)
    check("the queue is empty", wait_until(queue_empty, timeout=10))
    for who in (ALICE[0], BOB[0]):
        bad = xctest.store_mismatches(xctest.mailbox_id_of(who))
        check("counts and blob references of %s are exact" % who, not bad, bad)
    out, _ = psql("SELECT count(*) FROM blobs b WHERE refcount <> (SELECT count(*) FROM mail_queue "
                  "WHERE blob = b.hash) + (SELECT count(*) FROM message_mime WHERE blob = b.hash) + "
                  "(SELECT count(*) FROM message_props WHERE blob = b.hash) + (SELECT count(*) FROM "
                  "recipients WHERE blob = b.hash) + (SELECT count(*) FROM attachments WHERE blob = "
                  "b.hash) + (SELECT count(*) FROM folder_props WHERE blob = b.hash)")
    check("every blob's reference count, the queue's included, is exact", out == "0", out)
    mb.close()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def submission_needs_tls_then_auth():
    s = smtplib.SMTP(HOST, xctest.SUBMIT, timeout=30)
    s.ehlo("laptop.example.test")
    check("submission offers no AUTH before STARTTLS", "auth" not in s.esmtp_features, s.esmtp_features)
    code, text = s.docmd("AUTH", "PLAIN AGFsaWNlAHg=")
    check("AUTH before STARTTLS: 530 5.7.0", code == 530 and text.startswith(b"5.7.0"), (code, text))
    code, text = s.mail("alice@example.test")
    check("MAIL without AUTH on submission: 530 5.7.0", code == 530 and text.startswith(b"5.7.0"),
          (code, text))
    s.starttls(context=tls_context())
    s.ehlo("laptop.example.test")
    check("after STARTTLS it offers AUTH PLAIN LOGIN", s.esmtp_features.get("auth", "").upper().split()
          == ["PLAIN", "LOGIN"], s.esmtp_features)
    import base64
    waits = []
    for _ in range(2):
        start = time.time()
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0" + ALICE[0].encode() + b"\0wrong password").decode())
        waits.append(time.time() - start)
        check("a wrong password gets 535 5.7.8", code == 535 and text.startswith(b"5.7.8"), (code, text))
    check("the first answer waits about 2 s, the second about 4 s",
          1.0 <= waits[0] < 3.5 and 3.0 <= waits[1] < 5.5, waits)
    check("and one log line naming the client",
          wait_until(lambda: "authentication failed: client=127.0.0.1 user=alice@example.test"
                     in xctest.log_text("mtad.log"), timeout=5))
    s.close()
    s = smtplib.SMTP(HOST, xctest.SUBMIT, timeout=30)
    s.starttls(context=tls_context())
    s.ehlo("laptop.example.test")
    code, text = s.login(ALICE[0], ALICE[1])
    check("Alice logs in (235 2.7.0)", code == 235 and text.startswith(b"2.7.0"), (code, text))
    code, text = s.mail(BOB[0])
    check("she may not send as Bob: 553 5.7.1", code == 553 and text.startswith(b"5.7.1"), (code, text))
    s.rset()
    code, _ = s.mail("alice.alias@other.test")
    check("she may send as her alias", code == 250)
    subject = "submitted %s" % uuid.uuid4().hex[:8]
    c1, _ = s.rcpt(BOB[0])
    c2, _ = s.rcpt("someone@elsewhere.test")
    check("to Bob and, relayed for her, to another domain", (c1, c2) == (250, 250), (c1, c2))
    code, text = s.data(note(subject, to="bob@example.test, someone@elsewhere.test"))
    s.quit()
    check("the message is queued", code == 250, (code, text))
    # at once: with queue_lifetime 12 s here, a slow machine could see it
    # bounce (there is no DNS for elsewhere.test) before the checks below
    out, _ = psql("SELECT q.id || ' ' || r.idx || ' ' || coalesce(q.auth_user::text, '-') FROM "
                  "mail_queue q JOIN mail_queue_rcpt r ON r.queue_id = q.id JOIN blobs b ON "
                  "b.hash = q.blob WHERE r.address = 'someone@elsewhere.test' AND "
                  "position('%s' IN convert_from(b.data, 'UTF8')) > 0" % subject)
    rows = [line.split() for line in out.splitlines() if line.strip()]
    check("the remote recipient waits in the queue, with the submitting user",
          len(rows) == 1 and len(rows[0]) == 3 and rows[0][2] != "-", out)
    for r in rows:      # out of the queue: there is nowhere to send it here
        psql("SELECT xc_queue_done(%d, %d)" % (int(r[0]), int(r[1])))
    check("Bob gets it", delivered(BOB[0], subject))
    mime = stored_mime(BOB[0], subject)
    check("its Received field says ESMTPSA", b"with ESMTPSA id" in mime, mime[:300])
    check("a read copy is in Alice's Sent Items (save_sent)",
          wait_until(lambda: psql("SELECT count(*) FROM messages m JOIN folders f ON f.mailbox_id = "
                                  "m.mailbox_id AND f.fid = m.fid AND f.special = 7 WHERE m.subject = "
                                  "'%s' AND m.is_read" % subject)[0] == "1", timeout=10))


def swaks_submits_with_auth_login():
    subject = "swaks auth %s" % uuid.uuid4().hex[:6]
    p = subprocess.run(["swaks", "--server", HOST, "--port", str(xctest.SUBMIT), "-tls",
                        "--auth", "LOGIN", "--auth-user", BOB[0], "--auth-password", BOB[1],
                        "--from", BOB[0], "--to", ALICE[0], "--header", "Subject: " + subject,
                        "--body", "Submitted by swaks.", "--timeout", "20"],
                       capture_output=True, text=True, timeout=60)
    check("swaks: STARTTLS, AUTH LOGIN, 235, then 250 queued",
          p.returncode == 0 and "235 2.7.0" in p.stdout and "250 2.0.0 Ok: queued" in p.stdout,
          p.stdout[-1500:] + p.stderr[-300:])
    check("the message reaches Alice", delivered(ALICE[0], subject))


def the_send_quota_stops_submission():
    rc, out = xctest.xcadmin("quota", BOB[0], "none", "1")
    check("an admin sets Bob's send quota to 1 byte", rc == 0, out)
    s = smtplib.SMTP(HOST, xctest.SUBMIT, timeout=30)
    s.starttls(context=tls_context())
    s.ehlo("laptop.example.test")
    s.login(BOB[0], BOB[1])
    code, text = s.mail(BOB[0])
    check("MAIL from Bob: 554 5.2.2 send quota exceeded", code == 554 and text.startswith(b"5.2.2"),
          (code, text))
    s.quit()
    rc, out = xctest.xcadmin("quota", BOB[0], "none", "none")
    check("the send quota is lifted", rc == 0, out)


def smtp_source_load_arrives_exactly_once():
    """Postfix's smtp-source as a load generator: 200 messages over 8
    connections, each in Bob's Inbox once."""
    before = int(psql("SELECT count(*) FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id "
                      "WHERE x.user_id = xc_user_id('%s') AND m.subject = 'smtp-source'" % BOB[0])[0] or 0)
    p = subprocess.run(["smtp-source", "-s", "8", "-m", "200", "-l", "4096", "-c", "-S", "smtp-source",
                        "-f", "load@remote.test", "-t", BOB[0], "%s:%d" % (HOST, xctest.SMTP)],
                       capture_output=True, text=True, timeout=300)
    check("smtp-source sends 200 messages without an error", p.returncode == 0, p.stderr[-500:])

    def count():
        out, _ = psql("SELECT count(*) FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id "
                      "WHERE x.user_id = xc_user_id('%s') AND m.subject = 'smtp-source'" % BOB[0])
        return int(out or 0) - before
    check("all 200 reach Bob's Inbox", wait_until(lambda: count() >= 200, timeout=60), count())
    check("exactly once each", count() == 200, count())
    check("and the queue empties", wait_until(queue_empty, timeout=30))


def a_burst_for_one_mailbox_goes_in_together():
    """Mail for one mailbox arriving at one moment is saved in one
    transaction per batch (mt_store.c deliver_batch, storaged IMPORT_MIME
    with PARTS): 32 senders at once, each message once, byte for byte, in
    its folder (junk apart from the Inbox), and the log shows batches."""
    import threading
    import re

    def burst(tag):
        sent = {}

        def one(i):
            junk = i % 5 == 0
            subject = "burst %s %d" % (tag, i)
            body = ("%s\r\nSubject: %s\r\nFrom: burst@remote.test\r\n\r\n%s\r\n"
                    % ("X-Spam-Flag: YES" if junk else "X-Burst: %d" % i, subject,
                       ("line %d of %s\r\n" % (i, tag)) * 40))
            for _ in range(3):
                try:
                    s = smtplib.SMTP(HOST, xctest.SMTP, timeout=30)
                    s.sendmail("burst@remote.test", [BOB[0]], body.encode())
                    s.quit()
                    sent[subject] = "20" if junk else "5"
                    return
                except (smtplib.SMTPException, OSError):
                    time.sleep(0.5)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sent

    before = len(xctest.log_text("mtad.log"))
    sent, tries = {}, 0
    while tries < 3:
        tries += 1
        sent.update(burst(uuid.uuid4().hex[:8]))
        together = [int(k) for k in re.findall(r"\(direct, (\d+) together\)",
                                               xctest.log_text("mtad.log")[before:])]
        if any(k > 1 for k in together):
            break
    check("the senders' messages are all accepted", len(sent) == 32 * tries, len(sent))
    check("some went in together (batches of %s)" % sorted(set(together)),
          any(k > 1 for k in together), together)

    def landed():
        out, _ = psql("SELECT m.subject, f.special, count(*) FROM messages m JOIN folders f "
                      "ON f.mailbox_id = m.mailbox_id AND f.fid = m.fid JOIN mailboxes x "
                      "ON x.id = m.mailbox_id WHERE x.user_id = xc_user_id('%s') AND "
                      "m.subject LIKE 'burst %%' GROUP BY 1, 2" % BOB[0])
        return [line.split("|") for line in out.splitlines() if line]
    wait_until(lambda: len(landed()) >= len(sent), timeout=60)
    rows = landed()
    check("each is in its mailbox exactly once",
          len(rows) == len(sent) and all(r[2] == "1" for r in rows), rows[:5])
    check("junk in Junk E-mail, the rest in the Inbox",
          all(sent.get(r[0]) == r[1] for r in rows),
          [r for r in rows if sent.get(r[0]) != r[1]][:5])
    out, _ = psql("SELECT count(*) FROM messages m JOIN message_mime mm ON mm.mailbox_id = "
                  "m.mailbox_id AND mm.mid = m.mid JOIN blobs b ON b.hash = mm.blob JOIN "
                  "mailboxes x ON x.id = m.mailbox_id WHERE x.user_id = xc_user_id('%s') AND "
                  "m.subject LIKE 'burst %%' AND mm.received AND position(convert_to("
                  "'Subject: ' || m.subject || E'\r\n', 'UTF8') IN b.data) > 0"
                  % BOB[0])
    check("each keeps its own bytes", out.strip() == str(len(sent)), out)
    check("and the queue empties", wait_until(queue_empty, timeout=30))


def folder_of(user, subject):
    out, _ = psql("SELECT f.special FROM messages m JOIN folders f ON f.mailbox_id = m.mailbox_id "
                  "AND f.fid = m.fid JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.user_id = "
                  "xc_user_id('%s') AND m.subject = '%s'" % (user, subject))
    return out


def junk_goes_to_junk_email():
    """[MS-OXCSPAM]: an SCL of 5 or more (or X-Spam-Flag: YES) from an
    upstream filter sends the message to Junk E-mail (special folder 20)."""
    cases = (("X-MS-Exchange-Organization-SCL: 7", "20"), ("X-MS-Exchange-Organization-SCL: 1", "5"),
             ("X-MS-Exchange-Organization-SCL: -1", "5"), ("X-Spam-Flag: YES", "20"),
             ("X-Spam-Flag: NO", "5"), ("X-Other: 9", "5"))
    s = smtplib.SMTP(HOST, xctest.SMTP, timeout=10)
    subjects = []
    for header, _ in cases:
        subject = "scl %s" % uuid.uuid4().hex[:8]
        subjects.append(subject)
        s.sendmail("carol@remote.test", [ALICE[0]],
                   ("%s\r\nSubject: %s\r\nFrom: carol@remote.test\r\n\r\nbuy\r\n" % (header, subject)).encode())
    s.quit()
    for (header, want), subject in zip(cases, subjects):
        delivered(ALICE[0], subject)
        got = folder_of(ALICE[0], subject)
        check("%s: %s" % (header, "Junk E-mail" if want == "20" else "Inbox"), got == want, got)


def a_full_queue_gets_452_at_mail():
    from test_store import Mailbox
    conf = os.path.join(xctest.DIR, "etc", "mtad.conf")
    with open(conf) as f:
        original = f.read()
    mb = Mailbox()
    try:
        st, p, _ = queue_put(mb, [BOB[0]], note("held %s" % uuid.uuid4().hex[:8]))
        qid = p.get(T_QUEUE_ID)
        check("a message waits in the queue (held)", st == xctest.OK and qid, p)
        with open(conf, "a") as f:
            f.write("\nmax_queue = 1\n")
        xctest.stack("stop-mtad")
        xctest.stack("start-mtad")
        time.sleep(1.5)
        r = Raw()
        r.cmd("EHLO client.remote.test")
        code, text = r.cmd("MAIL FROM:<carol@remote.test>")
        check("with max_queue messages queued, MAIL gets 452 4.3.1", code == 452 and text[0].startswith("4.3.1"),
              (code, text))
        check("and mtad logs it", "refusing new mail: queue full" in xctest.log_text("mtad.log"))
        rc, out = xctest.xcadmin("queue", "delete", str(qid))
        check("the held message is deleted", rc == 0, out)

        def takes():
            rr = Raw()
            rr.cmd("EHLO client.remote.test")
            c = rr.cmd("MAIL FROM:<carol@remote.test>")[0]
            rr.close()
            return c == 250
        check("once the queue is below it, MAIL is taken again", wait_until(takes, timeout=10))
        r.close()
    finally:
        with open(conf, "w") as f:
            f.write(original)
        xctest.stack("stop-mtad")
        xctest.stack("start-mtad")
        mb.close()


def report_to(user, subject_word, about):
    """The stored bytes of the delivery report in user's Inbox that
    mentions `about`, or b""."""
    out, _ = psql(
        "SELECT encode(b.data, 'base64') FROM messages m JOIN message_mime mm ON "
        "mm.mailbox_id = m.mailbox_id AND mm.mid = m.mid JOIN blobs b ON b.hash = mm.blob "
        "JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.user_id = xc_user_id('%s') "
        "AND m.subject LIKE '%%%s%%' AND position('%s' IN convert_from(b.data, 'UTF8')) > 0"
        % (user, subject_word, about))
    import base64
    return base64.b64decode(out.split("\n\n")[0].replace("\n", "")) if out else b""


def notify_success_gets_a_delivered_report():
    subject = "notify %s" % uuid.uuid4().hex[:8]
    r = Raw()
    r.cmd("EHLO client.remote.test")
    r.cmd("MAIL FROM:<bob@example.test> ENVID=env-%s" % subject.split()[1])
    code, _ = r.cmd("RCPT TO:<alice@example.test> NOTIFY=SUCCESS ORCPT=rfc822;alice@example.test")
    check("RCPT with NOTIFY=SUCCESS is taken", code == 250)
    r.cmd("DATA")
    r.s.sendall(note(subject) + b".\r\n")
    check("the message is queued", r.reply()[0] == 250)
    r.cmd("QUIT")
    r.close()
    check("it reaches Alice", delivered(ALICE[0], subject))
    got = {}
    wait_until(lambda: got.setdefault("r", report_to(BOB[0], "Successful", "env-" + subject.split()[1])) or
               got.pop("r"), timeout=10)
    dsn = got.get("r", b"")
    check("Bob (the sender) gets a delivery report: Action delivered, Status 2.0.0",
          b"Action: delivered" in dsn and b"Status: 2.0.0" in dsn and
          b"Final-Recipient: rfc822; alice@example.test" in dsn and
          b"Original-Envelope-Id: env-" in dsn, dsn[:1500])
    check("the recipient gets no report", report_to(ALICE[0], "Successful", "env-" + subject.split()[1]) == b"")


def a_full_mailbox_bounces_after_the_lifetime():
    from test_store import Mailbox
    subject = "too full %s" % uuid.uuid4().hex[:8]
    rc, out = xctest.xcadmin("quota", BOB[0], "1")
    check("Bob's mailbox is made full (quota 1 byte)", rc == 0, out)
    mb = Mailbox()
    try:
        st, p, _ = queue_put(mb, [BOB[0]], note(subject, to=BOB[0]), lease=0, sender=ALICE[0])
        check("a message for him from Alice is queued anyway (as if accepted before)", st == xctest.OK, p)
        dsn = {}
        got = wait_until(lambda: dsn.setdefault("r", report_to(ALICE[0], "Undelivered", subject)) or
                         dsn.pop("r"), timeout=30)
        text = dsn.get("r", b"")
        check("after queue_lifetime (12 s here) Alice gets it back: failed, 5.2.2",
              got and b"Action: failed" in text and b"Status: 5.2.2" in text, text[:1500])
        check("and it left the queue", wait_until(queue_empty, timeout=10))
        check("Bob has no copy", inbox_count(BOB[0], subject) == 0)
    finally:
        xctest.xcadmin("quota", BOB[0], "none")
        mb.close()


def an_internationalized_domain_is_ours_by_its_a_labels():
    """SMTPUTF8 mail to a U-label domain reaches the user of its A-label
    domain (IDNA2008): bücher.test is xn--bcher-kva.test."""
    rc, out = xctest.xcadmin("domain-add", "xn--bcher-kva.test")
    rc2, out2 = xctest.xcadmin("alias-add", ALICE[0], "jo@xn--bcher-kva.test")
    check("an admin adds xn--bcher-kva.test and jo@ there for Alice", rc == 0 and rc2 == 0, out + out2)
    subject = "idn %s" % uuid.uuid4().hex[:8]
    s = smtplib.SMTP(HOST, xctest.SMTP, timeout=10)
    s.ehlo("client.remote.test")
    code, _ = s.mail("carol@remote.test", ["SMTPUTF8"])
    s.command_encoding = "utf-8"
    code, text = s.docmd("RCPT", "TO:<jo@bücher.test>")
    check("RCPT TO:<jo@bücher.test> with SMTPUTF8 is taken", code == 250, (code, text))
    code, text = s.docmd("RCPT", "TO:<jo@xn--bcher-kva.test>")
    check("and the same address as A-labels counts once", code == 250, (code, text))
    code, text = s.data(note(subject))
    s.quit()
    check("the message is queued", code == 250, (code, text))
    check("it reaches Alice once", delivered(ALICE[0], subject) and inbox_count(ALICE[0], subject) == 1)
    r = Raw()
    r.cmd("EHLO client.remote.test")
    r.cmd("MAIL FROM:<carol@remote.test> SMTPUTF8")
    code, text = r.cmd("RCPT TO:<jo@bü\u200dcher.test>")
    check("an invalid IDN gets 553 (or 501) 5.1.3", code in (553, 501) and text[0].startswith("5.1.3"), (code, text))
    r.close()


def a_disabled_account_still_gets_mail():
    rc, out = xctest.xcadmin("disable", BOB[0])
    check("an admin disables Bob's account", rc == 0, out)
    try:
        subject = "while disabled %s" % uuid.uuid4().hex[:8]
        s = smtplib.SMTP(HOST, xctest.SMTP, timeout=10)
        refused = s.sendmail("carol@remote.test", [BOB[0]], note(subject, to=BOB[0]))
        s.quit()
        check("mail for him is accepted", refused == {}, refused)
        check("and reaches his Inbox, as in Exchange", delivered(BOB[0], subject))
        s = smtplib.SMTP(HOST, xctest.SUBMIT, timeout=30)
        s.starttls(context=tls_context())
        s.ehlo("laptop.example.test")
        import base64
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(
            b"\0" + BOB[0].encode() + b"\0" + BOB[1].encode()).decode())
        s.close()
        check("but he can't log in to send (535)", code == 535, (code, text))
    finally:
        rc, out = xctest.xcadmin("enable", BOB[0])
        check("his account is enabled again", rc == 0, out)


def the_sample_configuration_is_valid():
    mtad = os.path.join(xctest.DIR, "lib", "mtad")
    p = subprocess.run([mtad, "-t", "-c", os.path.join(xctest.SRC, "conf", "mtad.conf")],
                       capture_output=True, text=True)
    check("conf/mtad.conf, which documents every setting, is read without an error",
          p.returncode == 0 and p.stdout.strip().endswith(": ok"), p.stdout + p.stderr)
    bad = os.path.join(xctest.DIR, "etc", "bad-mtad.conf")
    with open(bad, "w") as f:
        f.write("smtp_listen = 127.0.0.1:25\nsmpt_timeout = 3\n")
    p = subprocess.run([mtad, "-t", "-c", bad], capture_output=True, text=True)
    check("a misspelt setting is an error naming its line", p.returncode != 0 and ":2:" in p.stderr
          and "smpt_timeout" in p.stderr, p.stderr)


def mtad_stays_up():
    s = smtplib.SMTP(HOST, xctest.SMTP, timeout=10)
    check("mtad answers NOOP at the end", s.noop()[0] == 250)
    s.quit()
    log = xctest.log_text("mtad.log")[LOG_START:]
    check("its log has no errors while these tests ran", " error: " not in log, [l for l in log.splitlines() if " error: " in l][:5])


if __name__ == "__main__":
    run_tests(
        ehlo_offers_the_extensions,
        mail_reaches_the_inbox_once_with_trace_fields,
        an_alias_and_two_recipients,
        recipients_are_checked_at_rcpt,
        too_many_recipients_get_452,
        size_limits_give_552,
        a_full_mailbox_gets_452,
        pipelined_commands_are_answered_in_order,
        bdat_chunks_make_a_message,
        swaks_sends_plain_pipelined_and_over_starttls,
        smtplib_starttls_and_utf8,
        bad_input_gets_smtp_errors,
        new_mail_is_pushed_to_a_subscriber,
        the_queue_tool_lists_shows_flushes_and_deletes,
        submission_needs_tls_then_auth,
        swaks_submits_with_auth_login,
        the_send_quota_stops_submission,
        smtp_source_load_arrives_exactly_once,
        a_burst_for_one_mailbox_goes_in_together,
        junk_goes_to_junk_email,
        a_full_queue_gets_452_at_mail,
        notify_success_gets_a_delivered_report,
        a_full_mailbox_bounces_after_the_lifetime,
        an_internationalized_domain_is_ours_by_its_a_labels,
        a_disabled_account_still_gets_mail,
        the_sample_configuration_is_valid,
        mtad_stays_up,
    )
