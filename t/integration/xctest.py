"""xctest - helpers for the integration tests (run with /usr/bin/python3).

TAP output: check(name, cond, detail) prints "ok N - name" or
"not ok N - name" (and the detail as "# " lines); done() exits non-zero if
anything failed.

The stack is described by the environment t/run.sh sets up: XC_DIR,
XC_SRC, XC_HTTP, XC_HTTPS, XC_PGPORT, XC_SOCKET, XC_PW_ALICE, XC_PW_BOB,
PGHOST/PGPORT/PGDATABASE.

Storaged is reached with an independent implementation of the wire
protocol (lib/xc_wire.h), written here from the description, not from the C
code, so the two check each other.
"""
import base64
import http.client
import os
import socket
import ssl
import struct
import subprocess
import sys
import time
import traceback

ENV = os.environ
DIR = ENV.get("XC_DIR", "")
SRC = ENV.get("XC_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HTTP = int(ENV.get("XC_HTTP", "0") or 0)
HTTPS = int(ENV.get("XC_HTTPS", "0") or 0)
SMTP = int(ENV.get("XC_SMTP", "0") or 0)      # mtad
SUBMIT = int(ENV.get("XC_SUBMIT", "0") or 0)  # mtad's submission port
DNS = int(ENV.get("XC_DNS", "0") or 0)        # where mtad asks DNS (UDP)
SINK = int(ENV.get("XC_SINK", "0") or 0)      # mtad's remote SMTP port
SOCKET = ENV.get("XC_SOCKET", "")
ALICE = ("alice@example.test", ENV.get("XC_PW_ALICE", ""))
BOB = ("bob@example.test", ENV.get("XC_PW_BOB", ""))

_n = 0
_failed = 0


def check(name, cond, detail=None):
    global _n, _failed
    _n += 1
    if cond:
        print("ok %d - %s" % (_n, name))
    else:
        _failed += 1
        print("not ok %d - %s" % (_n, name))
        if detail is not None:
            for line in str(detail).splitlines()[:40]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def run_tests(*funcs):
    """Run each test function; an exception is a failed check."""
    for f in funcs:
        try:
            f()
        except Exception:
            check(f.__name__ + " raised", False, traceback.format_exc())
    done()


def done():
    print("1..%d" % _n)
    sys.exit(1 if _failed else 0)


# ---------------------------------------------------------------- wire ----
VERSION = 1
F_RESPONSE, F_MORE, F_CHUNK, F_PUSH = 1, 2, 4, 8
OP_HELLO, OP_AUTH, OP_RESOLVE, OP_LIST_FOLDERS, OP_LOGOFF = 1, 2, 3, 4, 5
(OK, E_TEMP, E_NOTFOUND, E_PERM, E_EXISTS, E_NOQUOTA, E_LIMIT, E_AUTH,
 E_RATELIMIT, E_BADREQ, E_UNSUPPORTED, E_SESSION, E_INTERNAL) = range(13)

PT_SHORT, PT_LONG, PT_FLOAT, PT_DOUBLE, PT_CURRENCY, PT_APPTIME = 2, 3, 4, 5, 6, 7
PT_ERROR, PT_BOOLEAN, PT_OBJECT, PT_I8 = 0x0A, 0x0B, 0x0D, 0x14
PT_STRING8, PT_UNICODE, PT_SYSTIME, PT_CLSID, PT_SVREID, PT_BINARY = 0x1E, 0x1F, 0x40, 0x48, 0xFB, 0x102
PT_MV = 0x1000


def tag(ptype, pid):
    return (pid << 16) | ptype


T_STATUS = tag(PT_LONG, 1)
T_ERRMSG = tag(PT_STRING8, 2)
T_USER = tag(PT_STRING8, 3)
T_PASSWORD = tag(PT_STRING8, 4)
T_REMOTE = tag(PT_STRING8, 5)
T_SESSION = tag(PT_STRING8, 6)
T_ADDRESS = tag(PT_STRING8, 7)
T_USER_ID = tag(PT_I8, 8)
T_MAILBOX_ID = tag(PT_I8, 9)
T_SERVER_NAME = tag(PT_STRING8, 0x0A)
T_PROTO_VERSION = tag(PT_LONG, 0x0B)
T_MAILBOX_GUID = tag(PT_STRING8, 0x0E)
PR_DISPLAY_NAME = tag(PT_STRING8, 0x3001)
PR_EMAIL_ADDRESS = tag(PT_STRING8, 0x3003)
PR_FOLDER_TYPE = tag(PT_LONG, 0x3601)
PR_SUBFOLDERS = tag(PT_BOOLEAN, 0x360A)
PR_CONTAINER_CLASS = tag(PT_STRING8, 0x3613)
PR_SMTP_ADDRESS = tag(PT_STRING8, 0x39FE)
PR_FID = tag(PT_I8, 0x6748)
PR_PARENT_FID = tag(PT_I8, 0x6749)
PR_XC_SPECIAL_FOLDER = tag(PT_LONG, 0x0050)

_FIXED = {PT_SHORT: "<h", PT_LONG: "<i", PT_FLOAT: "<f", PT_DOUBLE: "<d",
          PT_CURRENCY: "<q", PT_APPTIME: "<d", PT_ERROR: "<I", PT_BOOLEAN: "<B",
          PT_I8: "<q", PT_SYSTIME: "<q", PT_OBJECT: "<Q"}


def enc_value(ptype, v):
    if ptype in _FIXED:
        return struct.pack(_FIXED[ptype], v)
    if ptype == PT_CLSID:
        assert len(v) == 16
        return bytes(v)
    if ptype == PT_STRING8:
        b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
        return struct.pack("<I", len(b)) + b
    if ptype == PT_UNICODE:
        b = v.encode("utf-16-le")
        return struct.pack("<I", len(b)) + b
    if ptype in (PT_BINARY, PT_SVREID):
        return struct.pack("<I", len(v)) + bytes(v)
    raise ValueError("type %x" % ptype)


def enc_props(props):
    """props: list of (tag, value); multi-valued values are lists."""
    out = b""
    for t, v in props:
        ptype = t & 0xFFFF
        out += struct.pack("<I", t)
        if ptype & PT_MV:
            out += struct.pack("<I", len(v))
            for x in v:
                out += enc_value(ptype & ~PT_MV, x)
        else:
            out += enc_value(ptype, v)
    return out


def dec_value(ptype, b, o):
    if ptype in _FIXED:
        n = struct.calcsize(_FIXED[ptype])
        return struct.unpack_from(_FIXED[ptype], b, o)[0], o + n
    if ptype == PT_CLSID:
        return b[o:o + 16], o + 16
    (n,) = struct.unpack_from("<I", b, o)
    o += 4
    raw = b[o:o + n]
    if len(raw) != n:
        raise ValueError("truncated")
    if ptype == PT_STRING8:
        return raw.decode("utf-8"), o + n
    if ptype == PT_UNICODE:
        return raw.decode("utf-16-le"), o + n
    return raw, o + n


def dec_props_list(b):
    """Decode a payload keeping order and repeats: [(tag, value), ...]."""
    out, o = [], 0
    while o < len(b):
        (t,) = struct.unpack_from("<I", b, o)
        o += 4
        ptype = t & 0xFFFF
        if ptype & PT_MV:
            (cnt,) = struct.unpack_from("<I", b, o)
            o += 4
            vals = []
            for _ in range(cnt):
                v, o = dec_value(ptype & ~PT_MV, b, o)
                vals.append(v)
            out.append((t, vals))
        else:
            v, o = dec_value(ptype, b, o)
            out.append((t, v))
    return out


def dec_props(b):
    """Decode a payload into {tag: value} (a repeated tag: the last one)."""
    return dict(dec_props_list(b))


def frame(op, reqid, payload=b"", flags=0, version=VERSION):
    return struct.pack("<IBBHI", 8 + len(payload), version, flags, op, reqid) + payload


class Storaged:
    """A raw connection to storaged."""

    def __init__(self, path=None, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path or SOCKET)
        self.buf = b""
        self.next_id = 1

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, op, props, reqid=None):
        if reqid is None:
            reqid = self.next_id
            self.next_id += 1
        self.s.sendall(frame(op, reqid, enc_props(props)))
        return reqid

    def read_frame(self):
        """(flags, op, reqid, payload) or None on EOF."""
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack_from("<I", self.buf)
                if len(self.buf) >= n + 4:
                    f = self.buf[:n + 4]
                    self.buf = self.buf[n + 4:]
                    _, ver, flags, op, reqid = struct.unpack_from("<IBBHI", f)
                    return flags, op, reqid, f[12:]
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d

    def reply(self):
        """Read frames until a final one: (reqid, status, props, rows)."""
        rows = []
        while True:
            fr = self.read_frame()
            if fr is None:
                raise EOFError("storaged closed the connection")
            flags, op, reqid, pl = fr
            if flags & F_MORE:
                rows.append(dec_props(pl))
                continue
            props = dec_props(pl)
            return reqid, props.get(T_STATUS), props, rows

    def call(self, op, props=()):
        rid = self.send(op, list(props))
        got, st, props, rows = self.reply()
        assert got == rid, "reply to %d, expected %d" % (got, rid)
        return st, props, rows

    def login(self, user, password, remote="192.0.2.10"):
        return self.call(OP_AUTH, [(T_USER, user), (T_PASSWORD, password),
                                   (T_REMOTE, remote)])


# ---------------------------------------------------------------- HTTP ----
def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def request(method, path, body=None, headers=None, auth=None, https=False,
            timeout=30):
    """(status, headers dict (lower-case keys), body bytes)."""
    if https:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", HTTPS, timeout=timeout, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", HTTP, timeout=timeout)
    h = dict(headers or {})
    if auth:
        h["Authorization"] = basic(*auth)
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = "text/xml; charset=utf-8"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data


def pox_request(email, schema="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a",
                ns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"):
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<Autodiscover xmlns="%s"><Request>'
            '<EMailAddress>%s</EMailAddress>'
            '<AcceptableResponseSchema>%s</AcceptableResponseSchema>'
            '</Request></Autodiscover>' % (ns, email, schema)).encode()


# --------------------------------------------------------------- stack ----
# the services run as xcdev when the tests run as root (build/stack.sh)
AS = ["runuser", "-u", "xcdev", "--"] if os.geteuid() == 0 else []


def psql(query):
    """(stdout stripped, stderr) of one query on the stack's database."""
    p = subprocess.run(AS + ["psql", "-X", "-At", "-h", os.environ["PGHOST"],
                             "-p", os.environ["PGPORT"], "-d", "exchange", "-c", query],
                       capture_output=True, text=True, cwd="/")
    return p.stdout.strip(), p.stderr


def xcadmin(*args, password=None):
    """tools/xcadmin as t/run.sh calls it (the stack's copy, which the
    service user can reach); a password goes to its stdin.
    (exit code, stdout + stderr)."""
    env = {k: os.environ[k] for k in ("PATH", "PGHOST", "PGPORT", "PGDATABASE",
                                      "XC_PASSWD") if k in os.environ}
    p = subprocess.run(AS + ["env"] + ["%s=%s" % kv for kv in env.items()] +
                       [os.path.join(DIR, "lib", "xcadmin")] + list(args),
                       input=(password + "\n") if password else "", text=True,
                       capture_output=True, cwd="/")
    return p.returncode, p.stdout + p.stderr


def wait_indexed(timeout=10.0):
    """Wait until storaged's background indexer has indexed every queued
    message (sql/010); True if it did within the timeout."""
    def empty():
        out, _ = psql("SELECT count(*) FROM search_queue")
        return out.strip() == "0"
    return wait_until(empty, timeout=timeout)


def storaged_answers(timeout=5):
    """Does storaged answer HELLO on a new connection?"""
    try:
        sd = Storaged(timeout=timeout)
        st, _, _ = sd.call(OP_HELLO)
        sd.close()
        return st == OK
    except (OSError, EOFError, AssertionError):
        return False

def stack(cmd):
    """build/stack.sh CMD XC_DIR (stop-storaged, restart-storaged,
    restart-postgres, kill-storaged, start-storaged, kill-mtad,
    start-mtad, stop-mtad)."""
    subprocess.run([os.path.join(SRC, "build", "stack.sh"), cmd, DIR],
                   check=True, stdout=subprocess.DEVNULL)


def log_text(name):
    """Contents of XC_DIR/log/NAME."""
    with open(os.path.join(DIR, "log", name), errors="replace") as f:
        return f.read()


def wait_until(pred, timeout=10.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pred():
                return True
        except Exception:
            pass
        time.sleep(step)
    return False


# ------------------------------------- moves, copies, quotas (ops 20..29) ----
OP_DELETE_FOLDER, OP_MOVE_FOLDER, OP_COPY_FOLDER, OP_EMPTY_FOLDER = 20, 21, 22, 23
OP_MOVE_MESSAGES, OP_COPY_MESSAGES, OP_SET_PROPS, OP_DELETE_PROPS = 24, 25, 26, 27
OP_GET_FOLDER, OP_QUOTA = 28, 29
T_FOLDER_FLAGS = tag(PT_LONG, 0x30)
T_RECURSIVE = tag(PT_BOOLEAN, 0x31)
T_NEW_MIDS = tag(PT_MV | PT_I8, 0x32)
T_PROPTAGS = tag(PT_MV | PT_LONG, 0x33)
T_PROBLEMS = tag(PT_MV | PT_LONG, 0x34)      # (index, tag, error) triples
T_USED_BYTES = tag(PT_I8, 0x35)
T_QUOTA_BYTES = tag(PT_I8, 0x36)
T_SEND_QUOTA_BYTES = tag(PT_I8, 0x37)
T_MAX_MESSAGE_SIZE = tag(PT_I8, 0x38)
DEL_MESSAGES, DEL_FOLDERS, DELETE_HARD_DELETE = 0x01, 0x04, 0x10
EC_ACCESS_DENIED, EC_INVALID_PARAM, EC_DUPLICATE_NAME = 0x80070005, 0x80070057, 0x80040604


def problems(triples):
    """PROBLEMS as [(index, tag, error)] with unsigned tags and codes."""
    t = [x & 0xFFFFFFFF for x in triples or []]
    return [tuple(t[i:i + 3]) for i in range(0, len(t), 3)]


def mailbox_id_of(address):
    out, _ = psql("SELECT m.id FROM mailboxes m JOIN addresses a ON a.user_id = m.user_id "
                  "WHERE a.address = '%s'" % address.replace("'", "''"))
    return int(out)


def store_mismatches(mailbox_id):
    """Where the numbers the store keeps differ from a recount by SQL:
    every folder's content/unread/associated counts, the mailbox's
    used_bytes (sum of message_size), every blob's reference count, and
    content rows whose message is gone. [] when all are exact."""
    q = """
SELECT 'folder ' || f.fid || ' (' || f.display_name || '): kept ' || f.content_count || '/'
       || f.unread_count || '/' || f.assoc_count || ', counted ' || c.n || '/' || c.u || '/' || c.a
FROM folders f CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE NOT is_fai) AS n,
           count(*) FILTER (WHERE NOT is_fai AND NOT is_read) AS u,
           count(*) FILTER (WHERE is_fai) AS a
    FROM messages m WHERE m.mailbox_id = f.mailbox_id AND m.fid = f.fid) c
WHERE f.mailbox_id = %(m)d AND (f.content_count, f.unread_count, f.assoc_count) <> (c.n, c.u, c.a)
UNION ALL
SELECT 'used_bytes: kept ' || used_bytes || ', counted ' || s FROM mailboxes
CROSS JOIN LATERAL (SELECT coalesce(sum(message_size), 0) AS s FROM messages
                    WHERE mailbox_id = %(m)d) x
WHERE id = %(m)d AND used_bytes <> s
UNION ALL
SELECT 'blob ' || left(encode(hash, 'hex'), 12) || ': refcount ' || refcount || ', rows ' || r
FROM blobs b CROSS JOIN LATERAL (SELECT
    (SELECT count(*) FROM message_props WHERE blob = b.hash) +
    (SELECT count(*) FROM recipients WHERE blob = b.hash) +
    (SELECT count(*) FROM attachments WHERE blob = b.hash) +
    (SELECT count(*) FROM folder_props WHERE blob = b.hash) +
    (SELECT count(*) FROM message_mime WHERE blob = b.hash) +
    (SELECT count(*) FROM mail_queue WHERE blob = b.hash) AS r) x
WHERE refcount <> r
UNION ALL
SELECT 'content of a message that is gone: ' || t || ' mid ' || mid FROM (
    SELECT 'property' AS t, mid, mailbox_id FROM message_props UNION ALL
    SELECT 'recipient', mid, mailbox_id FROM recipients UNION ALL
    SELECT 'attachment', mid, mailbox_id FROM attachments UNION ALL
    SELECT 'search queue', mid, mailbox_id FROM search_queue) c
WHERE c.mailbox_id = %(m)d AND NOT EXISTS (
    SELECT 1 FROM messages m WHERE m.mailbox_id = c.mailbox_id AND m.mid = c.mid)""" % {"m": mailbox_id}
    out, err = psql(q)
    return [line for line in (out + "\n" + err).strip().splitlines() if line]


# what GET_MESSAGE computes (ids, change tracking, times): not content
COMPUTED_TAGS = {tag(PT_I8, 0x674A), PR_PARENT_FID, tag(PT_I8, 0x67A4), tag(PT_BINARY, 0x65E2),
                 tag(PT_BINARY, 0x65E3), tag(PT_SYSTIME, 0x3007), tag(PT_SYSTIME, 0x3008)}


def without_computed(props):
    """[(tag, value)] without COMPUTED_TAGS."""
    return [(t, v) for t, v in props if t not in COMPUTED_TAGS]
