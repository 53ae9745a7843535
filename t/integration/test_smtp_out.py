#!/usr/bin/python3
"""test_smtp_out - mail for other domains, from mtad's queue to their mail
exchangers (mta/mt_out.c, mta/mt_dns.c), and the delivery status
notifications (RFC 3464) its sender gets back.

The test plays the rest of the Internet on loopback: a DNS server
(dnspython, UDP on xctest.DNS, the only resolver mtad asks) and an ESMTP
sink on 127.0.0.1:xctest.SINK (the port mtad connects to on every mail
exchanger) that offers PIPELINING, SIZE, 8BITMIME, DSN and STARTTLS with
the stack's certificate and records every transaction. The sink answers
RCPT by the local part: reject* and never* 550 5.1.1, full* 552 5.2.2,
later* 451 4.3.0, anything else 250. A mail exchanger at 127.0.0.2 is
unreachable (the sink listens on 127.0.0.1 only).

Alice submits (STARTTLS, AUTH) mail for remote domains. One connection
carries all recipients of a message in a domain, over TLS, with SIZE and
the DSN parameters; the bytes equal what mtad queued (the copy a local
recipient got, less its Return-Path), dot-stuffing undone. Accepted
recipients leave the queue, a 5xx bounces at once (a multipart/report to
Alice's Inbox with the original attached), a 4xx is retried, warned about
once after delay_warning and bounced after queue_lifetime. A second MX is
used when the first is unreachable; a domain that does not exist bounces
with 5.1.2, a null MX with 5.1.10; a domain without MX gets the mail at its
A record. NOTIFY=NEVER gets no bounce; RET=HDRS bounces carry the header
only. With the sink down mail waits in the queue, and goes once the sink
is back. At the end the queue is empty and Alice's store counts are exact.
"""
import email
import os
import re
import smtplib
import socket
import socketserver
import ssl
import threading
import time
import uuid

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

import xctest
from xctest import ALICE, BOB, check, psql, run_tests, wait_until
from test_smtp import delivered, queue_empty, stored_mime, tls_context

HOST = "127.0.0.1"
LOG_START = len(xctest.log_text("mtad.log")) if xctest.DIR else 0
CERT = os.path.join(xctest.DIR, "etc", "tls.crt")
KEY = os.path.join(xctest.DIR, "etc", "tls.key")


# ------------------------------------------------------------------ DNS ----
SOA = "ns.test. hostmaster.test. 1 3600 600 86400 60"
ZONE = {
    "remote.test.": {"MX": ["10 mx.remote.test."]},
    "mx.remote.test.": {"A": ["127.0.0.1"]},
    # listed worst first: mtad must sort by preference
    "fallback.test.": {"MX": ["30 mx2.fallback.test.", "20 mx1.fallback.test."]},
    "mx1.fallback.test.": {"A": ["127.0.0.2"]},         # nothing listens
    "mx2.fallback.test.": {"A": ["127.0.0.1"]},
    "nomx.test.": {"A": ["127.0.0.1"]},                 # no MX: implicit MX
    "nullmx.test.": {"MX": ["0 ."], "A": ["127.0.0.1"]},  # RFC 7505
}


class DNSServer:
    """Answers from ZONE: the records of a name, NOERROR without data for
    a type it lacks (AAAA everywhere), NXDOMAIN for names not in it."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, port))
        self.sock.settimeout(0.5)
        self.queries = []           # (name without the dot, type) in order
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def answer(self, wire):
        q = dns.message.from_wire(wire)
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        if not q.question:
            r.set_rcode(dns.rcode.FORMERR)
            return r
        question = q.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self.lock:
            self.queries.append((name.rstrip("."), rdtype))
        node = ZONE.get(name)
        if node is None:
            r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(dns.rrset.from_text("test.", 60, "IN", "SOA", SOA))
        elif rdtype in node:
            r.answer.append(dns.rrset.from_text(name, 60, "IN", rdtype, *node[rdtype]))
        else:
            r.authority.append(dns.rrset.from_text("test.", 60, "IN", "SOA", SOA))
        return r

    def serve(self):
        while not self.stopping:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            try:
                self.sock.sendto(self.answer(wire).to_wire(), peer)
            except Exception:
                pass

    def asked(self, name, rdtype=None):
        with self.lock:
            return [q for q in self.queries if q[0] == name and (rdtype is None or q[1] == rdtype)]

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


# ----------------------------------------------------------------- sink ----
class Txn:
    """One transaction the sink saw."""

    def __init__(self, tls, mail, conn):
        self.t = time.time()
        self.tls = tls
        self.mail = mail            # the MAIL line, parameters and all
        self.rcpts = []             # RCPT lines
        self.replies = []           # our reply code to each
        self.data = None            # the message, dot-stuffing undone
        self.done = False           # the answer to the data was sent
        self.conn = conn            # connection number

    def addrs(self):
        return [re.search(r"<([^>]*)>", r).group(1) for r in self.rcpts]

    def __repr__(self):
        return "Txn(tls=%s, %r, %r, %r, data=%s)" % (self.tls, self.mail, self.rcpts, self.replies,
                                                     None if self.data is None else len(self.data))


def rcpt_reply(addr):
    local = addr.split("@")[0].lower()
    if local.startswith("reject") or local.startswith("never"):
        return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % addr
    if local.startswith("full"):
        return "552 5.2.2 <%s>: Mailbox full" % addr
    if local.startswith("later"):
        return "451 4.3.0 <%s>: Temporary lookup failure" % addr
    return "250 2.1.5 Ok"


class Sink:
    """An ESMTP server on 127.0.0.1:port that records what it is sent."""

    def __init__(self, port):
        self.port = port
        self.txns = []
        self.conns = 0
        self.lock = threading.Lock()
        self.server = None
        self.offer_dsn = True
        self.starttls_reply = None      # e.g. "454 4.7.0 ...": STARTTLS fails
        self.data_delay = 0             # seconds before answering the data
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(CERT, KEY)

    def start(self):
        sink = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    sink.session(self.request)
                except (OSError, ssl.SSLError, EOFError):
                    pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((HOST, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def count(self):
        with self.lock:
            return len(self.txns)

    def since(self, n):
        with self.lock:
            return list(self.txns[n:])

    def session(self, sock):
        with self.lock:
            self.conns += 1
            conn = self.conns
        sock.settimeout(30)
        buf = [b""]
        state = {"sock": sock, "tls": False, "txn": None}

        def send(text):
            state["sock"].sendall(text.encode() + b"\r\n")

        def line():
            while b"\r\n" not in buf[0]:
                d = state["sock"].recv(65536)
                if not d:
                    raise EOFError()
                buf[0] += d
            i = buf[0].index(b"\r\n")
            ln, buf[0] = buf[0][:i], buf[0][i + 2:]
            return ln

        send("220 sink.remote.test ESMTP")
        while True:
            ln = line()
            verb = ln[:4].upper()
            text = ln.decode("utf-8", "replace")
            if verb == b"EHLO":
                ext = ["sink.remote.test", "PIPELINING", "SIZE 10000000", "8BITMIME"]
                if self.offer_dsn:
                    ext.append("DSN")
                if not state["tls"]:
                    ext.append("STARTTLS")
                for e in ext[:-1]:
                    send("250-" + e)
                send("250 " + ext[-1])
            elif verb == b"HELO":
                send("250 sink.remote.test")
            elif verb == b"STAR" and ln.upper() == b"STARTTLS":
                if self.starttls_reply:
                    send(self.starttls_reply)
                    continue
                send("220 2.0.0 Ready to start TLS")
                buf[0] = b""
                state["sock"] = self.ctx.wrap_socket(state["sock"], server_side=True)
                state["tls"] = True
                state["txn"] = None
            elif verb == b"MAIL":
                t = Txn(state["tls"], text, conn)
                state["txn"] = t
                with self.lock:
                    self.txns.append(t)
                send("250 2.1.0 Ok")
            elif verb == b"RCPT":
                t = state["txn"]
                if t is None:
                    send("503 5.5.1 Error: need MAIL command")
                    continue
                m = re.search(r"<([^>]*)>", text)
                reply = rcpt_reply(m.group(1) if m else "")
                t.rcpts.append(text)
                t.replies.append(int(reply[:3]))
                send(reply)
            elif verb == b"DATA":
                t = state["txn"]
                if t is None or 250 not in t.replies:
                    send("503 5.5.1 Error: need RCPT command")
                    continue
                send("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    d = line()
                    if d == b".":
                        break
                    lines.append(d[1:] if d.startswith(b".") else d)
                t.data = b"".join(x + b"\r\n" for x in lines)
                state["txn"] = None
                if self.data_delay:
                    time.sleep(self.data_delay)
                send("250 2.0.0 Ok: queued as SINK%d" % conn)
                t.done = True
            elif verb == b"RSET":
                state["txn"] = None
                send("250 2.0.0 Ok")
            elif verb == b"NOOP":
                send("250 2.0.0 Ok")
            elif verb == b"QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 Error: command not recognized")


DNS = None
SINK = None


# -------------------------------------------------------------- helpers ----
def message(subject, to, body="Hello.\r\n"):
    return ("From: Alice <alice@example.test>\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@example.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n%s"
            % (to, subject, uuid.uuid4().hex, body)).encode()


def submit(rcpts, msg, mail_opts=(), rcpt_opts=None):
    """Alice submits msg (STARTTLS, AUTH): (MAIL code, RCPT codes, DATA
    code, the time of the DATA answer)."""
    s = smtplib.SMTP(HOST, xctest.SUBMIT, timeout=30)
    s.starttls(context=tls_context())
    s.ehlo("laptop.example.test")
    s.login(*ALICE)
    mcode, _ = s.mail(ALICE[0], list(mail_opts))
    codes = [s.rcpt(r, (rcpt_opts or {}).get(r, []))[0] for r in rcpts]
    dcode, _ = s.data(msg)
    at = time.time()
    s.quit()
    return mcode, codes, dcode, at


def alice_dsns(token):
    """Messages in Alice's Inbox whose bytes hold token (the original's
    Subject in an attached original or header): [(bytes, parsed)], oldest
    first, Return-Path taken off."""
    out, _ = psql(
        "SELECT translate(encode(b.data, 'base64'), E'\\n', '') FROM messages m "
        "JOIN folders f ON f.mailbox_id = m.mailbox_id AND f.fid = m.fid AND f.special = 5 "
        "JOIN mailboxes x ON x.id = m.mailbox_id "
        "JOIN message_mime mm ON mm.mailbox_id = m.mailbox_id AND mm.mid = m.mid "
        "JOIN blobs b ON b.hash = mm.blob "
        "WHERE x.user_id = xc_user_id('%s') AND position(convert_to('%s', 'UTF8') IN b.data) > 0 "
        "ORDER BY m.mid" % (ALICE[0], token))
    import base64
    res = []
    for ln in out.splitlines():
        raw = base64.b64decode(ln)
        if raw.startswith(b"Return-Path:"):
            raw = raw[raw.index(b"\r\n") + 2:]
        res.append(parse_dsn(raw))
    return res


def parse_dsn(raw):
    """A report split the way a MIME reader splits it: dict with the
    top-level header (email.message), the parts [(header text, body
    bytes)], the delivery-status blocks [{field: value}] (lower-case
    names) and the raw bytes."""
    d = {"raw": raw, "parts": [], "blocks": [], "closed": False}
    head, _, body = raw.partition(b"\r\n\r\n")
    m = email.message_from_bytes(head + b"\r\n\r\n")
    d["msg"] = m
    b = m.get_param("boundary")
    if not b:
        return d
    delim, close = b"--" + b.encode(), b"--" + b.encode() + b"--"
    cur = None
    for ln in body.split(b"\r\n"):
        if ln == delim or ln == close:
            if cur is not None:
                part = b"\r\n".join(cur)
                ph, _, pb = part.partition(b"\r\n\r\n")
                d["parts"].append((ph.decode("utf-8", "replace"), pb))
            cur = []
            if ln == close:
                d["closed"] = True
                break
        elif cur is not None:
            cur.append(ln)
    for ph, pb in d["parts"]:
        if "message/delivery-status" in ph.lower():
            for block in pb.decode("utf-8", "replace").strip("\r\n").split("\r\n\r\n"):
                f = {}
                for fl in block.split("\r\n"):
                    k, _, v = fl.partition(":")
                    f[k.strip().lower()] = v.strip()
                d["blocks"].append(f)
    return d


def recipients_of(d):
    """{final recipient address: its block} of a parsed report."""
    out = {}
    for f in d["blocks"][1:]:
        fr = f.get("final-recipient", "")
        out[fr.split(";", 1)[-1].strip()] = f
    return out


def action_of(d):
    acts = {f.get("action") for f in d["blocks"][1:]}
    return acts.pop() if len(acts) == 1 else acts


def queued(token):
    """Alice's queued recipients of the message holding token:
    {address: last_error}."""
    out, _ = psql(
        "SELECT r.address || E'\\t' || coalesce(r.last_error, '') FROM mail_queue q "
        "JOIN mail_queue_rcpt r ON r.queue_id = q.id JOIN blobs b ON b.hash = q.blob "
        "WHERE q.sender = '%s' AND position(convert_to('%s', 'UTF8') IN b.data) > 0"
        % (ALICE[0], token))
    res = {}
    for ln in out.splitlines():
        a, _, e = ln.partition("\t")
        res[a] = e
    return res


def txns_for(start, domain):
    """Transactions since start from Alice (not bounces of other tests'
    mail) with a recipient in domain."""
    return [t for t in SINK.since(start) if t.mail.startswith("MAIL FROM:<%s>" % ALICE[0])
            and any(a.endswith("@" + domain) for a in t.addrs())]


def mtad_log():
    return xctest.log_text("mtad.log")[LOG_START:]


# ------------------------------------------------------------------ tests --
FIRST = {}      # what the first test leaves for the last


def start_the_remote_internet():
    global DNS, SINK
    DNS = DNSServer(xctest.DNS)
    SINK = Sink(xctest.SINK)
    SINK.start()
    q = dns.message.make_query("remote.test", "MX")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(q.to_wire(), (HOST, xctest.DNS))
    r = dns.message.from_wire(s.recv(4096))
    s.close()
    check("the test's DNS server answers MX for remote.test",
          [x.to_text() for x in r.answer] == ["remote.test. 60 IN MX 10 mx.remote.test."], r.answer)
    c = smtplib.SMTP(HOST, xctest.SINK, timeout=5)
    code, _ = c.ehlo("probe")
    check("the sink offers DSN and STARTTLS", code == 250 and "dsn" in c.esmtp_features
          and "starttls" in c.esmtp_features, c.esmtp_features)
    c.quit()
    SINK.txns.clear()


def alice_sends_to_four_remote_recipients_and_bob():
    token = "out-%s" % uuid.uuid4().hex[:10]
    subject = "Remote %s" % token
    body = ("Line one\r\n.A line that starts with a dot\r\n..two dots\r\n.\r\n"
            "Gr\u00fc\u00dfe, 8-bit\r\n\r\nEnd\r\n")
    remote = ["carol@remote.test", "dave@remote.test", "reject@remote.test", "later@remote.test"]
    start = SINK.count()
    mcode, codes, dcode, sent = submit(remote + [BOB[0]],
                                       message(subject, ", ".join(remote + [BOB[0]]), body))
    check("Alice submits to four recipients at remote.test and Bob: all accepted",
          mcode == 250 and codes == [250] * 5 and dcode == 250, (mcode, codes, dcode))
    FIRST.update(token=token, sent=sent, start=start)
    check("Bob gets his copy", delivered(BOB[0], subject))
    queued_bytes = stored_mime(BOB[0], subject)
    queued_bytes = queued_bytes[queued_bytes.index(b"\r\n") + 2:]   # less Return-Path
    check("the sink gets a transaction carrying the message",
          wait_until(lambda: any(t.data is not None for t in txns_for(start, "remote.test")), 10))
    with_data = [t for t in txns_for(start, "remote.test") if t.data is not None]
    check("exactly one transaction carries it", len(with_data) == 1, with_data)
    if not with_data:
        return
    t = with_data[0]
    first = txns_for(start, "remote.test")[0]
    check("it is the first, and it names all four remote recipients (one connection per "
          "domain), in order", first is t and t.addrs() == remote, txns_for(start, "remote.test"))
    check("with their DSN-less RCPT lines (no parameters were given)",
          all(r == "RCPT TO:<%s>" % a for r, a in zip(t.rcpts, remote)), t.rcpts)
    check("MAIL FROM:<alice@example.test> SIZE=<the queued size> BODY=8BITMIME",
          t.mail == "MAIL FROM:<alice@example.test> SIZE=%d BODY=8BITMIME" % len(queued_bytes), t.mail)
    check("over TLS (STARTTLS was offered)", t.tls is True)
    check("the bytes equal what mtad queued: Bob's copy less its Return-Path",
          t.data == queued_bytes, (t.data[:300], queued_bytes[:300]))
    check("lines starting with a dot, and a lone dot, survive the dot-stuffing round trip",
          b"\r\n.A line that starts with a dot\r\n..two dots\r\n.\r\nGr" in t.data, t.data[-200:])
    check("the Received field has no 'for' (several recipients)",
          t.data.startswith(b"Received: from laptop.example.test") and b"\tfor <" not in
          t.data.split(b"\r\n\r\n")[0], t.data[:300])
    check("carol and dave leave the queue; later waits, reject is gone",
          wait_until(lambda: set(queued(token)) == {"later@remote.test"}, 10), queued(token))
    check("later's last_error is the sink's 451",
          queued(token).get("later@remote.test", "").startswith("451 4.3.0"), queued(token))

    # the bounce for reject@, at once
    check("Alice gets a bounce for reject@remote.test",
          wait_until(lambda: any("reject@remote.test" in recipients_of(d) for d in alice_dsns(token)), 10))
    got = [d for d in alice_dsns(token) if "reject@remote.test" in recipients_of(d)]
    check("exactly one bounce for it", len(got) == 1, len(got))
    if not got:
        return
    d = got[0]
    m = d["msg"]
    check("Subject: Undelivered Mail Returned to Sender",
          m["Subject"] == "Undelivered Mail Returned to Sender", m["Subject"])
    check("From the MAILER-DAEMON, To Alice, Auto-Submitted",
          "MAILER-DAEMON@" in m["From"] and m["To"] == "<alice@example.test>"
          and m["Auto-Submitted"] == "auto-replied", (m["From"], m["To"], m["Auto-Submitted"]))
    check("Content-Type multipart/report; report-type=delivery-status",
          m.get_content_type() == "multipart/report" and m.get_param("report-type") == "delivery-status",
          m["Content-Type"])
    check("three parts, the closing boundary last: text, delivery-status, the original",
          d["closed"] and [p[0].split(";")[0] for p in d["parts"]] ==
          ["Content-Type: text/plain", "Content-Type: message/delivery-status",
           "Content-Type: message/rfc822"], [p[0] for p in d["parts"]])
    r = recipients_of(d)
    check("it reports reject@ only (later@ is still being tried)", list(r) == ["reject@remote.test"], r)
    f = r.get("reject@remote.test", {})
    check("Final-Recipient: rfc822; reject@remote.test",
          f.get("final-recipient") == "rfc822; reject@remote.test", f)
    check("Action: failed, Status: 5.1.1", f.get("action") == "failed" and f.get("status") == "5.1.1", f)
    check("Diagnostic-Code: smtp; 550 5.1.1 ...",
          f.get("diagnostic-code", "").startswith("smtp; 550 5.1.1"), f)
    check("Remote-MTA: dns; mx.remote.test", f.get("remote-mta") == "dns; mx.remote.test", f)
    check("Reporting-MTA and Arrival-Date in the per-message block",
          d["blocks"] and "reporting-mta" in d["blocks"][0] and "arrival-date" in d["blocks"][0],
          d["blocks"][:1])
    check("the original is attached byte for byte",
          len(d["parts"]) == 3 and d["parts"][2][1] == queued_bytes,
          d["parts"][2][1][:200] if len(d["parts"]) == 3 else None)

    # later@: retried, warned once, bounced after queue_lifetime
    def of_action(action):
        return [x for x in alice_dsns(token)
                if "later@remote.test" in recipients_of(x) and action_of(x) == action]
    check("after delay_warning (3 s) Alice is told later@ is delayed",
          wait_until(lambda: of_action("delayed"), 12, 0.2))
    delayed_at = time.time() - sent
    check("about 3 s after she sent it (2..9 s)", 2.0 <= delayed_at <= 9.0, delayed_at)
    dl = of_action("delayed")
    if dl:
        d = dl[0]
        f = recipients_of(d)["later@remote.test"]
        check("the delay notice: its Subject, Action: delayed, Status 4.4.7, the 451 as diagnostic",
              d["msg"]["Subject"] == "Delayed Mail (still being retried)" and f.get("action") == "delayed"
              and f.get("status") == "4.4.7"
              and f.get("diagnostic-code", "").startswith("smtp; 451 4.3.0"), (d["msg"]["Subject"], f))
    check("after queue_lifetime (12 s) later@ bounces",
          wait_until(lambda: of_action("failed"), 25, 0.2))
    failed_at = time.time() - sent
    FIRST["bounced"] = time.time()
    check("about 12 s after she sent it (11..20 s)", 11.0 <= failed_at <= 20.0, failed_at)
    fl = of_action("failed")
    if fl:
        f = recipients_of(fl[0])["later@remote.test"]
        check("the failure: Action: failed, a permanent Status, the last 451 as diagnostic",
              f.get("action") == "failed" and f.get("status", "").startswith("5.")
              and f.get("diagnostic-code", "").startswith("smtp; 451 4.3.0"), f)
    check("exactly one delay notice, and one failure, for later@",
          len(of_action("delayed")) == 1 and len(of_action("failed")) == 1,
          (len(of_action("delayed")), len(of_action("failed"))))
    retries = [x for x in txns_for(start, "remote.test")[1:] if x.addrs() == ["later@remote.test"]]
    check("meanwhile the sink saw later@ retried, alone, without DATA (3 or more times)",
          len(retries) >= 3 and all(x.data is None for x in retries), txns_for(start, "remote.test"))
    check("nothing else of this message went to the sink again",
          len(txns_for(start, "remote.test")) == 1 + len(retries), txns_for(start, "remote.test"))
    check("the message has left the queue", wait_until(lambda: queued(token) == {}, 5), queued(token))
    FIRST["retries"] = len(retries)


def each_bounced_recipient_gets_its_own_status():
    token = "own-%s" % uuid.uuid4().hex[:10]
    rcpts = ["reject-%s@remote.test" % token[-4:], "full-%s@remote.test" % token[-4:]]
    submit(rcpts, message("Two failures %s" % token, ", ".join(rcpts)))
    check("Alice gets one bounce listing both",
          wait_until(lambda: any(len(recipients_of(d)) == 2 for d in alice_dsns(token)), 10),
          [recipients_of(d) for d in alice_dsns(token)])
    got = alice_dsns(token)
    if not got:
        return
    r = recipients_of(got[0])
    st = {a: f.get("status") for a, f in r.items()}
    check("the rejected one has Status 5.1.1, the full mailbox 5.2.2 (each its own reply's)",
          st == {rcpts[0]: "5.1.1", rcpts[1]: "5.2.2"}, st)
    check("each with its own Diagnostic-Code",
          r.get(rcpts[0], {}).get("diagnostic-code", "").startswith("smtp; 550 5.1.1")
          and r.get(rcpts[1], {}).get("diagnostic-code", "").startswith("smtp; 552 5.2.2"), r)


def the_second_mx_takes_the_mail_when_the_first_is_unreachable():
    token = "mx-%s" % uuid.uuid4().hex[:10]
    rcpt = "erin@fallback.test"
    start = SINK.count()
    submit([rcpt], message("Fallback %s" % token, rcpt))
    check("the message arrives at the sink via the second MX",
          wait_until(lambda: any(t.data and token.encode() in t.data
                                 for t in txns_for(start, "fallback.test")), 15),
          txns_for(start, "fallback.test"))
    check("mtad asked the MX records of fallback.test", DNS.asked("fallback.test", "MX"))
    a = [q[0] for q in DNS.asked("mx1.fallback.test", "A") + DNS.asked("mx2.fallback.test", "A")]
    check("and the addresses of both exchangers", "mx1.fallback.test" in a and "mx2.fallback.test" in a, a)
    check("its log names mx2 (preference 30) as the one that took it, after mx1 (20) failed",
          wait_until(lambda: re.search(r"sent queue=\d+ rcpt=0 to=%s via mx2\.fallback\.test: 250"
                                       % re.escape(rcpt), mtad_log()), 5),
          [ln for ln in mtad_log().splitlines() if rcpt in ln])
    check("it left the queue", wait_until(lambda: queued(token) == {}, 5), queued(token))
    check("and no bounce", alice_dsns(token) == [])


def domains_without_a_mail_exchanger():
    token = "dns-%s" % uuid.uuid4().hex[:10]
    rcpts = ["frank@nowhere.test", "gina@nullmx.test", "hank@nomx.test"]
    start = SINK.count()
    _, codes, _, sent = submit(rcpts, message("No MX %s" % token, ", ".join(rcpts)))
    check("mail to nowhere.test, nullmx.test and nomx.test is accepted", codes == [250] * 3, codes)

    def report(addr):
        return [d for d in alice_dsns(token) if addr in recipients_of(d)]
    check("nowhere.test (NXDOMAIN) bounces at once",
          wait_until(lambda: report(rcpts[0]), 8), alice_dsns(token))
    if report(rcpts[0]):
        f = recipients_of(report(rcpts[0])[0])[rcpts[0]]
        check("with Action: failed, Status: 5.1.2 and no Remote-MTA",
              f.get("action") == "failed" and f.get("status") == "5.1.2" and "remote-mta" not in f, f)
    check("nullmx.test (MX 0 .) bounces at once", wait_until(lambda: report(rcpts[1]), 8),
          alice_dsns(token))
    if report(rcpts[1]):
        f = recipients_of(report(rcpts[1])[0])[rcpts[1]]
        check("with Status: 5.1.10", f.get("action") == "failed" and f.get("status") == "5.1.10", f)
    check("both within 8 s", time.time() - sent < 8.5, time.time() - sent)
    check("nomx.test (no MX, an A record) gets the mail at its A record (implicit MX)",
          wait_until(lambda: any(t.data and token.encode() in t.data for t in txns_for(start, "nomx.test")), 10),
          txns_for(start, "nomx.test"))
    check("after asking its MX, then its A record",
          DNS.asked("nomx.test", "MX") and DNS.asked("nomx.test", "A"), DNS.asked("nomx.test"))
    check("nothing went to the sink for nowhere.test or nullmx.test",
          txns_for(start, "nowhere.test") == [] and txns_for(start, "nullmx.test") == [])
    check("nullmx.test's A record was not used", DNS.asked("nullmx.test", "A") == [], DNS.asked("nullmx.test"))
    check("no bounce for hank@nomx.test", report(rcpts[2]) == [])
    check("all three left the queue", wait_until(lambda: queued(token) == {}, 5), queued(token))


def notify_never_and_the_dsn_parameters():
    token = "dsn-%s" % uuid.uuid4().hex[:10]
    tail = token[-4:]
    never, reject, ok = ("never-%s@remote.test" % tail, "reject2-%s@remote.test" % tail,
                         "ivy-%s@remote.test" % tail)
    envid = "env+2B%s" % token
    opts = {never: ["NOTIFY=NEVER"],
            reject: ["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;orig+2Breject@remote.test"],
            ok: ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;ivy+2Bx@remote.test"]}
    start = SINK.count()
    body = "BODY-MARKER-%s\r\n" % token
    _, codes, dcode, _ = submit([never, reject, ok], message("DSN %s" % token, ok, body),
                                mail_opts=["RET=HDRS", "ENVID=" + envid], rcpt_opts=opts)
    check("Alice submits with RET=HDRS, ENVID, NOTIFY and ORCPT: accepted",
          codes == [250] * 3 and dcode == 250, (codes, dcode))
    check("the sink gets it", wait_until(lambda: any(t.data for t in txns_for(start, "remote.test")), 10))
    ts = [t for t in txns_for(start, "remote.test") if t.data]
    if ts:
        t = ts[0]
        check("MAIL carries RET=HDRS and ENVID (xtext as given) to the DSN-capable sink",
              re.fullmatch(r"MAIL FROM:<alice@example\.test> SIZE=\d+ RET=HDRS ENVID=%s" % re.escape(envid),
                           t.mail) is not None, t.mail)
        check("RCPT carries NOTIFY and ORCPT for each recipient",
              t.rcpts == ["RCPT TO:<%s> NOTIFY=NEVER" % never,
                          "RCPT TO:<%s> NOTIFY=FAILURE,DELAY ORCPT=rfc822;orig+2Breject@remote.test" % reject,
                          "RCPT TO:<%s> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;ivy+2Bx@remote.test" % ok],
              t.rcpts)
    check("Alice gets a bounce for reject2@", wait_until(lambda: alice_dsns(token), 10))
    got = alice_dsns(token)
    check("only one, and it does not mention never@ (NOTIFY=NEVER)",
          len(got) == 1 and list(recipients_of(got[0])) == [reject] and never.encode() not in got[0]["raw"],
          [recipients_of(x) for x in got])
    if got:
        d = got[0]
        f = recipients_of(d).get(reject, {})
        check("Original-Recipient decoded from ORCPT: rfc822; orig+reject@remote.test",
              f.get("original-recipient") == "rfc822; orig+reject@remote.test", f)
        check("Original-Envelope-Id: the decoded ENVID",
              d["blocks"][0].get("original-envelope-id") == "env+" + token, d["blocks"][:1])
        check("RET=HDRS: the third part is text/rfc822-headers, without the body",
              len(d["parts"]) == 3 and d["parts"][2][0].startswith("Content-Type: text/rfc822-headers")
              and ("Subject: DSN " + token).encode() in d["parts"][2][1]
              and b"BODY-MARKER" not in d["raw"], [p[0] for p in d["parts"]])
    check("never@ and reject2@ left the queue, like the delivered one",
          wait_until(lambda: queued(token) == {}, 5), queued(token))


def starttls_that_fails_falls_back_to_the_clear():
    token = "tls-%s" % uuid.uuid4().hex[:10]
    rcpt = "jack-%s@remote.test" % token[-4:]
    start, conns = SINK.count(), SINK.conns
    SINK.starttls_reply = "454 4.7.0 TLS not available due to local problem"
    try:
        submit([rcpt], message("No TLS %s" % token, rcpt))
        check("a sink whose STARTTLS fails with 454 still gets the message",
              wait_until(lambda: any(t.data for t in txns_for(start, "remote.test")), 10))
    finally:
        SINK.starttls_reply = None
    ts = [t for t in txns_for(start, "remote.test") if t.data]
    check("in the clear, on a second connection, once",
          len(ts) == 1 and ts[0].tls is False and SINK.conns - conns >= 2, (ts, SINK.conns - conns))
    check("and it left the queue", wait_until(lambda: queued(token) == {}, 5), queued(token))


def no_dsn_parameters_to_a_server_without_dsn():
    token = "nodsn-%s" % uuid.uuid4().hex[:10]
    rcpt = "kim-%s@remote.test" % token[-4:]
    start = SINK.count()
    SINK.offer_dsn = False
    try:
        submit([rcpt], message("No DSN %s" % token, rcpt), mail_opts=["RET=FULL", "ENVID=e1"],
               rcpt_opts={rcpt: ["NOTIFY=FAILURE", "ORCPT=rfc822;" + rcpt]})
        check("the message arrives at a sink that does not offer DSN",
              wait_until(lambda: any(t.data for t in txns_for(start, "remote.test")), 10))
    finally:
        SINK.offer_dsn = True
    ts = [t for t in txns_for(start, "remote.test") if t.data]
    if ts:
        check("without RET/ENVID on MAIL and NOTIFY/ORCPT on RCPT",
              re.fullmatch(r"MAIL FROM:<alice@example\.test> SIZE=\d+", ts[0].mail)
              and ts[0].rcpts == ["RCPT TO:<%s>" % rcpt], (ts[0].mail, ts[0].rcpts))


def a_flush_during_a_delivery_does_not_send_the_message_twice():
    token = "flush-%s" % uuid.uuid4().hex[:10]
    rcpt = "mona-%s@remote.test" % token[-4:]
    start = SINK.count()

    def carrying():
        return [t for t in SINK.since(start) if t.data and token.encode() in t.data]
    SINK.data_delay = 3
    try:
        submit([rcpt], message("Slow sink %s" % token, rcpt))
        check("a slow sink has the data and takes 3 s to answer it",
              wait_until(lambda: carrying(), 10), SINK.since(start))
        rc, out = xctest.xcadmin("queue", "flush")
        check("meanwhile an admin runs xcadmin queue flush", rc == 0, out)
        check("the delivery finishes and the message leaves the queue",
              wait_until(lambda: queued(token) == {}, 10), queued(token))
        time.sleep(1.5)     # a second delivery would have started by now
        wait_until(lambda: all(t.done for t in carrying()), 10)
    finally:
        SINK.data_delay = 0
    check("the sink got the message once, not a second time from the flushed lease",
          len(carrying()) == 1, [(t.conn, time.strftime("%H:%M:%S", time.localtime(t.t)) +
                                  ".%03d" % (t.t * 1000 % 1000)) for t in carrying()])


def a_delivery_longer_than_queue_lease_is_not_started_twice():
    # queue_lease 5 s in the test stack, smtp_timeout 10 s: a server may
    # take 7 s to answer the data without mtad giving up on it
    token = "lease-%s" % uuid.uuid4().hex[:10]
    rcpt = "nina-%s@remote.test" % token[-4:]
    start = SINK.count()

    def carrying():
        return [t for t in SINK.since(start) if t.data and token.encode() in t.data]
    SINK.data_delay = 7
    try:
        submit([rcpt], message("Slower sink %s" % token, rcpt))
        check("a slow sink has the data and takes 7 s (over queue_lease) to answer it",
              wait_until(lambda: carrying(), 10), SINK.since(start))
        check("the delivery finishes and the message leaves the queue",
              wait_until(lambda: queued(token) == {}, 12), queued(token))
        wait_until(lambda: all(t.done for t in carrying()), 10)
    finally:
        SINK.data_delay = 0
    check("the sink got the message once: mtad does not take a recipient it is still "
          "delivering when its lease runs out",
          len(carrying()) == 1, [(t.conn, time.strftime("%H:%M:%S", time.localtime(t.t)) +
                                  ".%03d" % (t.t * 1000 % 1000)) for t in carrying()])


def mail_waits_while_the_sink_is_down():
    token = "down-%s" % uuid.uuid4().hex[:10]
    rcpt = "lena-%s@remote.test" % token[-4:]
    SINK.stop()
    start = SINK.count()
    try:
        submit([rcpt], message("Sink down %s" % token, rcpt))
        check("with nothing listening the message stays queued, last_error naming the connection",
              wait_until(lambda: "connect" in queued(token).get(rcpt, ""), 10), queued(token))
        check("no bounce meanwhile", alice_dsns(token) == [])
    finally:
        SINK.start()
    rc, out = xctest.xcadmin("queue", "flush")
    check("xcadmin queue flush", rc == 0, out)
    check("once the sink is back the message is delivered",
          wait_until(lambda: any(t.data and token.encode() in t.data for t in SINK.since(start)), 10),
          SINK.since(start))
    check("and leaves the queue", wait_until(lambda: queued(token) == {}, 5), queued(token))
    check("without any notice to Alice (it was down for less than delay_warning)",
          alice_dsns(token) == [], [recipients_of(d) for d in alice_dsns(token)])


def at_the_end_the_queue_is_empty_and_counts_are_exact():
    check("the queue is empty (mail_queue_rcpt, within 30 s)", wait_until(queue_empty, timeout=30),
          psql("SELECT queue_id, address, last_error FROM mail_queue_rcpt")[0])
    out, _ = psql("SELECT count(*) FROM mail_queue")
    check("and so is mail_queue", out == "0", out)
    if FIRST.get("bounced"):
        late = [t for t in SINK.since(FIRST["start"]) if "later@remote.test" in t.addrs()
                and t.t > FIRST["bounced"] + 1]
        check("later@ was not tried again after it bounced", late == [], late)
    for who in (ALICE[0], BOB[0]):
        bad = xctest.store_mismatches(xctest.mailbox_id_of(who))
        check("the store counts of %s are exact" % who, bad == [], bad)
    log = mtad_log()
    check("mtad logged no errors meanwhile", " error: " not in log,
          [ln for ln in log.splitlines() if " error: " in ln][:5])
    SINK.stop()
    DNS.stop()


if __name__ == "__main__":
    run_tests(
        start_the_remote_internet,
        alice_sends_to_four_remote_recipients_and_bob,
        each_bounced_recipient_gets_its_own_status,
        the_second_mx_takes_the_mail_when_the_first_is_unreachable,
        domains_without_a_mail_exchanger,
        notify_never_and_the_dsn_parameters,
        starttls_that_fails_falls_back_to_the_clear,
        no_dsn_parameters_to_a_server_without_dsn,
        a_flush_during_a_delivery_does_not_send_the_message_twice,
        a_delivery_longer_than_queue_lease_is_not_started_twice,
        mail_waits_while_the_sink_is_down,
        at_the_end_the_queue_is_empty_and_counts_are_exact,
    )
