#!/usr/bin/python3
"""test_query - contents tables with restrictions and sort orders.

The restriction compiler (storaged/sd_query.c) is checked against a slow,
independent evaluator written here from the semantics that file's header
states: random messages (with and without each property, recipients and
attachments) are saved through storaged, random restriction trees of
[MS-OXCDATA] 2.12 and random multi-key sorts are sent in their ROP
encoding, and storaged must answer the same rows, in the same order, with
the same TOTAL, page by page. Directed cases cover full-text search, the
subject's substring index, count restrictions and bad restrictions (an
error, and the connection lives on).
"""
import functools
import os
import random
import struct
import time

import xctest
from xctest import (OK, E_BADREQ, E_UNSUPPORTED, PT_SHORT, PT_LONG,
                    PT_DOUBLE, PT_BOOLEAN, PT_I8, PT_STRING8, PT_UNICODE,
                    PT_SYSTIME, PT_BINARY, PT_MV, OP_SET_PROPS, check, tag)
from test_store import (Mailbox, Message, PR_MID, PR_SUBJECT, PR_BODY,
                        PR_MESSAGE_DELIVERY_TIME, PR_MESSAGE_FLAGS,
                        PR_MESSAGE_SIZE, PR_MESSAGE_CLASS, PR_RECIPIENT_TYPE,
                        PR_ATTACH_METHOD, PR_ATTACH_LONG_FILENAME,
                        PR_ATTACH_DATA_BIN, MSGFLAG_READ, T_TOTAL, filetime,
                        counter, START_MESSAGE, END_MESSAGE)

T_RESTRICTION = tag(PT_BINARY, 0x20)
T_SEEK_MID = tag(PT_I8, 0x21)
T_FIND = tag(PT_BINARY, 0x22)
T_BACKWARD = tag(PT_BOOLEAN, 0x23)
T_POSITION = tag(PT_LONG, 0x24)
PR_IMPORTANCE = tag(PT_LONG, 0x0017)
PR_SENSITIVITY = tag(PT_LONG, 0x0036)
PR_CLIENT_SUBMIT_TIME = tag(PT_SYSTIME, 0x0039)
PR_READ_RECEIPT_REQUESTED = tag(PT_BOOLEAN, 0x0029)
PR_CONVERSATION_INDEX = tag(PT_BINARY, 0x0071)
PR_SENDER_NAME = tag(PT_UNICODE, 0x0C1A)
PR_SCORE = tag(PT_DOUBLE, 0x7C05)           # a message-class-defined double
PR_DISPLAY_NAME_W = tag(PT_UNICODE, 0x3001)
PR_SMTP_ADDRESS_W = tag(PT_UNICODE, 0x39FE)
PR_SEARCH_ALL = tag(PT_UNICODE, 0x0EAF)
PR_MESSAGE_RECIPIENTS, PR_MESSAGE_ATTACHMENTS = 0x0E12000D, 0x0E13000D

AND, OR, NOT, CONTENT, PROPERTY, COMPARE, BITMASK, SIZE, EXIST, SUB, COMMENT, COUNT = range(12)
LT, LE, GT, GE, EQ, NE, RE = range(7)
FULL, SUBSTR, PREFIX = 0, 1, 2
IGNORECASE = 0x0001

SEED = int(os.environ.get("XC_QUERY_SEED", random.randrange(1 << 30)))
rnd = random.Random(SEED)

WORDS = ["alpha", "Beta", "gamma", "DELTA", "report", "Report", "été", "Été",
         "budget", "q3", "x_y", "100%", "naïve", ""]
NAMES = ["Alice", "bob", "Carol", "dave", "Émile"]
BLOBS = [b"", b"\x00", b"\x01\x02", b"\x01\x02\x03", b"\xff", b"\x01"]
TIMES = [filetime(2024, 1, d, h) for d in (1, 2, 3) for h in (0, 12)]

# the message-level properties the random messages may have, by tag
MSG_PROPS = {
    PR_SUBJECT: lambda: " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 3))),
    PR_BODY: lambda: " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 8))),
    PR_IMPORTANCE: lambda: rnd.choice([0, 1, 2, -1]),
    PR_SENSITIVITY: lambda: rnd.choice([0, 3, 0x7FFFFFFF]),
    PR_MESSAGE_DELIVERY_TIME: lambda: rnd.choice(TIMES),
    PR_CLIENT_SUBMIT_TIME: lambda: rnd.choice(TIMES),
    PR_READ_RECEIPT_REQUESTED: lambda: rnd.choice([0, 1]),
    PR_CONVERSATION_INDEX: lambda: rnd.choice(BLOBS),
    PR_SENDER_NAME: lambda: rnd.choice(NAMES),
    PR_SCORE: lambda: rnd.choice([-1.5, 0.0, 2.25, 1e10]),
}
COMPUTED = [PR_MESSAGE_SIZE, PR_MESSAGE_FLAGS]
RECIP_PROPS = {
    PR_DISPLAY_NAME_W: lambda: rnd.choice(NAMES),
    PR_SMTP_ADDRESS_W: lambda: rnd.choice(NAMES).lower() + "@example.test",
    PR_RECIPIENT_TYPE: lambda: rnd.choice([1, 2, 3]),
}
ATTACH_PROPS = {
    PR_ATTACH_LONG_FILENAME: lambda: rnd.choice(["a.txt", "Report.PDF", "b"]),
    PR_ATTACH_METHOD: lambda: 1,
    PR_ATTACH_DATA_BIN: lambda: rnd.choice(BLOBS),
}


# ------------------------------------------------------ ROP encoding ----
def enc_tagged(t, v):
    """A TaggedPropertyValue as in a ROP buffer ([MS-OXCDATA] 2.11)."""
    ptype = t & 0xFFFF
    out = struct.pack("<I", t)
    if ptype == PT_UNICODE:
        return out + v.encode("utf-16-le") + b"\0\0"
    if ptype == PT_STRING8:
        return out + v.encode("utf-8") + b"\0"
    if ptype == PT_BINARY:
        return out + struct.pack("<H", len(v)) + v
    return out + struct.pack(FIXED[ptype], v)


FIXED = {PT_SHORT: "<h", PT_LONG: "<i", PT_DOUBLE: "<d", PT_BOOLEAN: "<B",
         PT_I8: "<q", PT_SYSTIME: "<q"}


def enc(r):
    """Encode a restriction given as a tuple (type, ...)."""
    k = r[0]
    if k in (AND, OR):
        return struct.pack("<BH", k, len(r[1])) + b"".join(enc(x) for x in r[1])
    if k == NOT:
        return struct.pack("<B", k) + enc(r[1])
    if k == CONTENT:
        _, fuzzy, t, vt, v = r
        return struct.pack("<BHHI", k, fuzzy & 0xFFFF, fuzzy >> 16, t) + enc_tagged(vt, v)
    if k == PROPERTY:
        _, op, t, vt, v = r
        return struct.pack("<BBI", k, op, t) + enc_tagged(vt, v)
    if k == COMPARE:
        return struct.pack("<BBII", k, r[1], r[2], r[3])
    if k == BITMASK:
        return struct.pack("<BBII", k, r[1], r[2], r[3])
    if k == SIZE:
        return struct.pack("<BBII", k, r[1], r[2], r[3])
    if k == EXIST:
        return struct.pack("<BI", k, r[1])
    if k == SUB:
        return struct.pack("<BI", k, r[1]) + enc(r[2])
    if k == COMMENT:
        inner = r[1]
        return (struct.pack("<BB", k, 1) + enc_tagged(PR_SUBJECT, "note") +
                (b"\x01" + enc(inner) if inner is not None else b"\x00"))
    if k == COUNT:
        return struct.pack("<BI", k, r[1]) + enc(r[2])
    raise ValueError(k)


# --------------------------------------------------------- the oracle ----
def vclass(ptype):
    if ptype in (PT_SHORT, PT_LONG, PT_BOOLEAN, PT_I8, PT_SYSTIME):
        return "int"
    if ptype == PT_DOUBLE:
        return "float"
    if ptype in (PT_STRING8, PT_UNICODE):
        return "text"
    return "bin"


class Obj:
    """A message, recipient or attachment: {tag: value}."""

    def __init__(self, props):
        self.props = dict(props)

    def lookup(self, t):
        if vclass(t & 0xFFFF) == "text":
            for ty in (PT_UNICODE, PT_STRING8):
                tt = (t & 0xFFFF0000) | ty
                if tt in self.props:
                    return True, self.props[tt]
            return False, None
        if t in self.props:
            return True, self.props[t]
        return False, None


OPS = {LT: lambda a, b: a < b, LE: lambda a, b: a <= b, GT: lambda a, b: a > b,
       GE: lambda a, b: a >= b, EQ: lambda a, b: a == b, NE: lambda a, b: a != b}


def norm(t, v):
    return v.lower() if vclass(t & 0xFFFF) == "text" else v


def wire_size(t, v):
    ptype = t & 0xFFFF
    if ptype == PT_UNICODE:
        return len(v.encode("utf-16-le"))
    if ptype == PT_STRING8:
        return len(v.encode("utf-8"))
    if ptype == PT_BINARY:
        return len(v)
    return {PT_BOOLEAN: 1, PT_SHORT: 2, PT_LONG: 4}.get(ptype, 8)


def evaluate(r, obj, msg):
    """Does obj (msg, or one of its recipients/attachments) match r?"""
    k = r[0]
    if k == AND:
        return all(evaluate(x, obj, msg) for x in r[1])
    if k == OR:
        return any(evaluate(x, obj, msg) for x in r[1])
    if k == NOT:
        return not evaluate(r[1], obj, msg)
    if k == COMMENT:
        return True if r[1] is None else evaluate(r[1], obj, msg)
    if k == SUB:
        subs = msg.recipients if r[1] == PR_MESSAGE_RECIPIENTS else msg.attachments
        return any(evaluate(r[2], s, msg) for s in subs)
    if k == EXIST:
        return obj.lookup(r[1])[0]
    if k == PROPERTY:
        _, op, t, vt, v = r
        if vclass(vt & 0xFFFF) != vclass(t & 0xFFFF):
            return False
        found, have = obj.lookup(t)
        return found and OPS[op](norm(t, have), norm(t, v))
    if k == CONTENT:
        _, fuzzy, t, vt, v = r
        if vclass(vt & 0xFFFF) != vclass(t & 0xFFFF):
            return False
        found, have = obj.lookup(t)
        if not found:
            return False
        if vclass(t & 0xFFFF) == "text" and fuzzy >> 16 & IGNORECASE:
            have, v = have.lower(), v.lower()
        low = fuzzy & 0xFFFF
        return (have == v if low == FULL else v in have if low == SUBSTR
                else have.startswith(v))
    if k == COMPARE:
        _, op, t1, t2 = r
        if vclass(t1 & 0xFFFF) != vclass(t2 & 0xFFFF):
            return False
        f1, v1 = obj.lookup(t1)
        f2, v2 = obj.lookup(t2)
        return f1 and f2 and OPS[op](norm(t1, v1), norm(t2, v2))
    if k == BITMASK:
        _, op, t, mask = r
        if vclass(t & 0xFFFF) != "int" or t & 0xFFFF == PT_SYSTIME:
            return False
        found, have = obj.lookup(t)
        return found and ((have & mask) != 0) == (op == 1)
    if k == SIZE:
        _, op, t, size = r
        found, have = obj.lookup(t)
        return found and OPS[op](wire_size(t, have), size)
    raise ValueError(k)


def sort_rows(msgs, keys):
    """keys: [(tag, desc)]; missing values first ascending; MID breaks ties
    in the first key's direction."""
    def key_of(m, t):
        if t == PR_MID:
            return True, m.gc
        found, v = m.lookup(t)
        if t == PR_SUBJECT and not found:
            return True, ""
        return found, norm(t, v) if found else None

    def cmp(a, b):
        for t, desc in keys:
            (fa, va), (fb, vb) = key_of(a, t), key_of(b, t)
            c = (fa > fb) - (fa < fb) if fa != fb else \
                (0 if not fa else (va > vb) - (va < vb))
            if c:
                return -c if desc else c
        c = (a.gc > b.gc) - (a.gc < b.gc)
        return -c if keys and keys[0][1] else c
    return sorted(msgs, key=functools.cmp_to_key(cmp))


# ------------------------------------------------- random generation ----
class Msg(Obj):
    def __init__(self, props, recipients, attachments):
        super().__init__(props)
        self.recipients = [Obj(p) for p in recipients]
        self.attachments = [Obj(p) for p in attachments]
        self.mid = self.gc = None


def random_message():
    props = [(t, f()) for t, f in MSG_PROPS.items() if rnd.random() < 0.75]
    read = rnd.random() < 0.4
    # (a recipient or attachment always has its type / method: the store
    # keeps sub-objects as their property rows)
    recips = [[(t, f()) for t, f in RECIP_PROPS.items()
               if t == PR_RECIPIENT_TYPE or rnd.random() < 0.8]
              for _ in range(rnd.choice([0, 0, 1, 2, 3]))]
    attachs = [[(t, f()) for t, f in ATTACH_PROPS.items()
                if t == PR_ATTACH_METHOD or rnd.random() < 0.8]
               for _ in range(rnd.choice([0, 0, 1, 2]))]
    m = Msg(props, recips, attachs)
    m.read = read
    return m


def random_value(t):
    """A value for property t: usually one the messages may have."""
    if t in (PR_MESSAGE_SIZE,):
        return rnd.choice([0, 50, 100, 200, 400, 10 ** 6])
    if t == PR_MESSAGE_FLAGS:
        return rnd.choice([0, 1, 64])
    if t == PR_MESSAGE_CLASS:
        return rnd.choice(["IPM.Note", "ipm", "Note", "IPM.Note.X"])
    gen = MSG_PROPS.get(t) or RECIP_PROPS.get(t) or ATTACH_PROPS.get(t)
    v = gen()
    if vclass(t & 0xFFFF) == "text" and v and rnd.random() < 0.5:
        i = rnd.randrange(len(v))
        v = v[i:i + rnd.randint(1, 4)]
        if rnd.random() < 0.3:
            v = v.upper()
    return v


def random_leaf(scope_props):
    t = rnd.choice(list(scope_props))
    kind = rnd.choice([PROPERTY, PROPERTY, CONTENT, COMPARE, BITMASK, SIZE, EXIST])
    ptype = t & 0xFFFF
    if kind == CONTENT and vclass(ptype) not in ("text", "bin"):
        kind = PROPERTY
    if kind == PROPERTY:
        vt = t
        if rnd.random() < 0.05:     # a value of another type never matches
            vt, v = (PR_IMPORTANCE, 1) if vclass(ptype) != "int" else (PR_SUBJECT, "x")
            return (PROPERTY, rnd.choice(range(6)), t, vt, v)
        return (PROPERTY, rnd.choice(range(6)), t, vt, random_value(t))
    if kind == CONTENT:
        fuzzy = rnd.choice([FULL, SUBSTR, PREFIX]) | (rnd.choice([0, IGNORECASE]) << 16)
        return (CONTENT, fuzzy, t, t, random_value(t))
    if kind == COMPARE:
        same = [u for u in scope_props if vclass(u & 0xFFFF) == vclass(ptype)]
        return (COMPARE, rnd.choice(range(6)), t, rnd.choice(same))
    if kind == BITMASK:
        return (BITMASK, rnd.choice([0, 1]), t, rnd.choice([1, 2, 64, 0x80000000, 0xFFFFFFFF]))
    if kind == SIZE:
        return (SIZE, rnd.choice(range(6)), t, rnd.choice([0, 1, 2, 4, 8, 10, 20]))
    return (EXIST, t)


MSG_SCOPE = list(MSG_PROPS) + COMPUTED + [PR_MESSAGE_CLASS]


def random_restriction(depth=0, scope=None, in_sub=False):
    scope = scope or MSG_SCOPE
    roll = rnd.random()
    if depth >= 3 or roll < 0.45:
        return random_leaf(scope)
    if roll < 0.6:
        return (AND, [random_restriction(depth + 1, scope, in_sub)
                      for _ in range(rnd.randint(0, 3))])
    if roll < 0.75:
        return (OR, [random_restriction(depth + 1, scope, in_sub)
                     for _ in range(rnd.randint(0, 3))])
    if roll < 0.85:
        return (NOT, random_restriction(depth + 1, scope, in_sub))
    if roll < 0.95 and not in_sub:
        which = rnd.choice([PR_MESSAGE_RECIPIENTS, PR_MESSAGE_ATTACHMENTS])
        props = RECIP_PROPS if which == PR_MESSAGE_RECIPIENTS else ATTACH_PROPS
        return (SUB, which, random_restriction(depth + 1, list(props), True))
    return (COMMENT, None if rnd.random() < 0.3 else
            random_restriction(depth + 1, scope, in_sub))


SORTABLE = [PR_SUBJECT, PR_IMPORTANCE, PR_MESSAGE_DELIVERY_TIME, PR_SCORE,
            PR_CONVERSATION_INDEX, PR_SENDER_NAME, PR_MESSAGE_SIZE,
            PR_READ_RECEIPT_REQUESTED, PR_CLIENT_SUBMIT_TIME, PR_MID]


def random_sort():
    keys = rnd.sample(SORTABLE, rnd.randint(1, 3))
    return [(t, rnd.choice([0, 1])) for t in keys]


# ------------------------------------------------------------- setup ----
STATE = {}


def save_all(box, fid, msgs):
    for m in msgs:
        props = list(m.props.items())
        if m.read:
            props.append((PR_MESSAGE_FLAGS, MSGFLAG_READ))
        msg = Message(props,
                      [(i, list(r.props.items())) for i, r in enumerate(m.recipients)],
                      [(i, list(a.props.items())) for i, a in enumerate(m.attachments)])
        r = box.save(msg, fid=fid)
        assert r.status == OK, r
        m.mid = r[PR_MID]
        m.gc = counter(m.mid)
    # the computed properties, as the store sees them
    r = box.contents(fid, [PR_MID, PR_MESSAGE_SIZE, PR_MESSAGE_FLAGS], limit=1000)
    assert r.status == OK, r
    by_mid = {row[PR_MID]: row for row in r.rows}
    for m in msgs:
        m.props[PR_MESSAGE_SIZE] = by_mid[m.mid][PR_MESSAGE_SIZE]
        m.props[PR_MESSAGE_FLAGS] = by_mid[m.mid][PR_MESSAGE_FLAGS]


def query(box, fid, restriction=None, sort=None, offset=None, limit=1000, raw=None,
          seek=None, find=None, backward=False):
    args = [(xctest.tag(PT_I8, 0x6748), fid),
            (xctest.tag(PT_MV | PT_LONG, 0x13), [PR_MID])]
    if sort:
        args.append((xctest.tag(PT_MV | PT_LONG, 0x14), [x for p in sort for x in p]))
    if restriction is not None or raw is not None:
        args.append((T_RESTRICTION, raw if raw is not None else enc(restriction)))
    if seek is not None:
        args.append((T_SEEK_MID, seek))
    if find is not None:
        args.append((T_FIND, enc(find)))
        if backward:
            args.append((T_BACKWARD, 1))
    if offset is not None:
        args.append((xctest.tag(PT_LONG, 0x15), offset))
    if limit is not None:
        args.append((xctest.tag(PT_LONG, 0x16), limit))
    return box.ask(14, args)


def the_random_folder_is_saved():
    box = Mailbox()
    fid, _ = box.new_folder("query")
    msgs = [random_message() for _ in range(90)]
    save_all(box, fid, msgs)
    STATE.update(box=box, fid=fid, msgs=msgs)
    check("90 random messages saved (seed %d)" % SEED, len(msgs) == 90)


def random_restrictions_give_the_evaluators_rows_in_order():
    box, fid, msgs = STATE["box"], STATE["fid"], STATE["msgs"]
    bad = []
    matched = 0
    for i in range(400):
        r = random_restriction()
        keys = random_sort()
        want = [m.mid for m in sort_rows([m for m in msgs if evaluate(r, m, m)], keys)]
        got = query(box, fid, r, keys)
        if got.status != OK:
            bad.append(("status", got, r))
            continue
        rows = [row[PR_MID] for row in got.rows]
        if rows != want or got.get(T_TOTAL) != len(want):
            bad.append((r, keys, len(want), got.get(T_TOTAL),
                        [counter(x) for x in want][:8], [counter(x) for x in rows][:8]))
        matched += bool(want) and len(want) < len(msgs)
    for b in bad[:3]:
        print("# mismatch: %r" % (b,))
    check("400 random restrictions and sorts: storaged and the evaluator agree "
          "(seed %d, %d mismatches)" % (SEED, len(bad)), not bad)
    check("the random restrictions were selective (%d of 400 kept some but "
          "not all rows)" % matched, matched > 100)


def pages_are_slices_of_the_whole():
    box, fid, msgs = STATE["box"], STATE["fid"], STATE["msgs"]
    ok = True
    for _ in range(20):
        r = random_restriction()
        keys = random_sort()
        want = [m.mid for m in sort_rows([m for m in msgs if evaluate(r, m, m)], keys)]
        got = []
        for off in range(0, len(want) + 7, 7):
            rep = query(box, fid, r, keys, offset=off, limit=7)
            ok &= rep.status == OK and rep.get(T_TOTAL) == len(want)
            got += [row[PR_MID] for row in rep.rows]
        ok &= got == want
    check("pages of 7 rows put together are the whole restricted table", ok)


def bookmarks_and_find_row_position_the_page():
    """A bookmark (a row's MID) with a relative offset, and FindRow
    forward and backward from a position ([MS-OXCTABL] RopSeekRowBookmark,
    RopFindRow, RopQueryPosition)."""
    box, fid, msgs = STATE["box"], STATE["fid"], STATE["msgs"]
    bad = []
    tried = found = 0
    for _ in range(60):
        r = random_restriction()
        keys = random_sort()
        rows = sort_rows([m for m in msgs if evaluate(r, m, m)], keys)
        want = [m.mid for m in rows]
        if not want:
            continue
        i = rnd.randrange(len(want))
        got = query(box, fid, r, keys, seek=want[i], offset=-2, limit=5)
        start = max(0, i - 2)
        if got.status != OK or [x[PR_MID] for x in got.rows] != want[start:start + 5] \
                or got.get(T_POSITION) != start:
            bad.append(("seek", r, keys, i, got))
        f = random_restriction()
        k = rnd.randrange(len(want) + 2)
        back = rnd.random() < 0.4
        hits = [j for j, m in enumerate(rows) if evaluate(f, m, m) and (j <= k if back else j >= k)]
        got = query(box, fid, r, keys, find=f, backward=back, offset=k, limit=3)
        tried += 1
        if hits:
            found += 1
            j = hits[-1] if back else hits[0]
            if got.status != OK or got.get(T_POSITION) != j or \
                    [x[PR_MID] for x in got.rows] != want[j:j + 3]:
                bad.append(("find", r, keys, f, k, back, j, got))
        elif got.status != xctest.E_NOTFOUND:
            bad.append(("find none", r, keys, f, k, back, got))
    for b in bad[:3]:
        print("# mismatch: %r" % (b,))
    check("bookmarks and FindRow agree with the evaluator (%d finds, %d found)"
          % (tried, found), not bad and found > 5)
    outside = [m.mid for m in msgs if not evaluate((EXIST, PR_BODY), m, m)]
    got = query(box, fid, (EXIST, PR_BODY), seek=outside[0]) if outside else None
    check("a bookmark on a row the restriction excludes is not found",
          got is None or got.status == xctest.E_NOTFOUND, got)


def count_restrictions_keep_the_first_rows():
    box, fid, msgs = STATE["box"], STATE["fid"], STATE["msgs"]
    inner = (PROPERTY, GE, PR_IMPORTANCE, PR_IMPORTANCE, 1)
    keys = [(PR_SUBJECT, 0), (PR_MESSAGE_DELIVERY_TIME, 1)]
    want = [m.mid for m in sort_rows([m for m in msgs if evaluate(inner, m, m)], keys)][:5]
    got = query(box, fid, (COUNT, 5, inner), keys)
    check("a count restriction gives the first 5 matches in the table's order",
          got.status == OK and [r[PR_MID] for r in got.rows] == want and
          got.get(T_TOTAL) == len(want), got)
    got = query(box, fid, (AND, [(COUNT, 5, inner)]), keys)
    check("a count restriction inside another is not supported",
          got.status == E_UNSUPPORTED, got)


def full_text_search_finds_words_in_subject_body_and_addresses():
    box = Mailbox()
    fid, _ = box.new_folder("fts")
    docs = [
        ([(PR_SUBJECT, "Quarterly budget review"), (PR_BODY, "see the attached spreadsheet")], []),
        ([(PR_SUBJECT, "Lunch"), (PR_BODY, "the budget for lunch is fine")], []),
        ([(PR_SUBJECT, "hello")], [[(PR_DISPLAY_NAME_W, "Zebedee Quux"),
                                    (PR_SMTP_ADDRESS_W, "zq@example.test")]]),
        ([(PR_SUBJECT, "big"), (PR_BODY, "filler " * 2000 + "needleword")], []),
    ]
    mids = []
    for props, recips in docs:
        r = box.save(Message(props, [(i, p) for i, p in enumerate(recips)]), fid=fid)
        assert r.status == OK, r
        mids.append(r[PR_MID])

    def fts(text):
        xctest.wait_indexed()
        got = query(box, fid, (CONTENT, SUBSTR | IGNORECASE << 16, PR_SEARCH_ALL, PR_SEARCH_ALL, text))
        assert got.status == OK, got
        return sorted(r[PR_MID] for r in got.rows)
    check("a word of two bodies/subjects finds both", fts("budget") == sorted(mids[:2]))
    check("every word must match", fts("budget lunch") == [mids[1]])
    check("words match as prefixes, case-insensitively", fts("QUART") == [mids[0]])
    check("recipient names and addresses are indexed",
          fts("zebedee") == [mids[2]] and fts("zq@example.test") == [mids[2]])
    check("a large body (kept as a blob) is indexed", fts("needleword") == [mids[3]])
    check("a search without words matches nothing", fts("  ,; ") == [])
    check("quotes and backslashes in a search are just text", fts("bud'get\\") == [])
    # a changed message is indexed again
    r = box.save(Message([(PR_SUBJECT, "renamed"), (PR_BODY, "nothing here")]), mid=mids[0])
    check("a saved-over message is re-indexed", r.status == OK and
          fts("quarterly") == [] and fts("renamed") == [mids[0]])
    r = box.ask(OP_SET_PROPS, [(PR_MID, mids[1]), (START_MESSAGE, 0),
                               (PR_SUBJECT, "Dinner"), (END_MESSAGE, 0)])
    check("a message changed by SET_PROPS is re-indexed",
          r.status == OK and fts("dinner") == [mids[1]] and fts("lunch") == [mids[1]])
    row = "SELECT xmin FROM message_search WHERE mid = %d" % counter(mids[1])
    xctest.wait_indexed()
    before, _ = xctest.psql(row)
    r = box.set_read([mids[1]])
    queued, _ = xctest.psql("SELECT count(*) FROM search_queue WHERE mid = %d"
                            % counter(mids[1]))
    xctest.wait_indexed()
    after, _ = xctest.psql(row)
    check("marking it read does not index it again (sql/007)",
          r.status == OK and before and before == after and queued == "0",
          (before, after, queued))
    t0 = time.time()
    r = box.save(Message([(PR_SUBJECT, "Zanzibar trip")]), fid=fid)
    while fts("zanzibar") != [r.get(PR_MID)] and time.time() - t0 < 5:
        time.sleep(0.02)
    took = time.time() - t0
    check("a new message is searchable within a second of its save (background "
          "indexer, sql/010)", took < 1.0, "%.3f s" % took)
    box.close()


def the_subject_substring_uses_the_trigram_index():
    plan, _ = xctest.psql(
        "SET enable_seqscan = off; EXPLAIN SELECT mid FROM messages m "
        "WHERE m.subject ILIKE '%budget%'")
    check("subject substring searches can use messages_subject_trgm",
          "messages_subject_trgm" in plan, plan)


def bad_restrictions_are_refused_and_the_connection_lives_on():
    box, fid = STATE["box"], STATE["fid"]
    cases = [
        ("garbage", b"\xff\x00", E_BADREQ),
        ("truncated", enc((PROPERTY, EQ, PR_IMPORTANCE, PR_IMPORTANCE, 1))[:-2], E_BADREQ),
        ("trailing bytes", enc((EXIST, PR_SUBJECT)) + b"\0", E_BADREQ),
        ("RELOP_RE", enc((PROPERTY, RE, PR_SUBJECT, PR_SUBJECT, "a.*")), E_UNSUPPORTED),
        ("multi-valued", enc((EXIST, tag(PT_MV | PT_UNICODE, 0x8001))), E_UNSUPPORTED),
        ("nested sub-restrictions", enc((SUB, PR_MESSAGE_RECIPIENTS,
                                         (SUB, PR_MESSAGE_ATTACHMENTS, (EXIST, PR_SUBJECT)))), E_BADREQ),
        ("too deep", enc(functools.reduce(lambda r, _: (NOT, r), range(40), (EXIST, PR_SUBJECT))), E_BADREQ),
    ]
    for name, raw, want in cases:
        got = query(box, fid, raw=raw)
        check("a %s restriction: status %d" % (name, want), got.status == want, got)
    got = query(box, fid, (EXIST, PR_SUBJECT))
    check("the connection still answers", got.status == OK)
    box.close()


if __name__ == "__main__":
    xctest.run_tests(
        the_random_folder_is_saved,
        random_restrictions_give_the_evaluators_rows_in_order,
        pages_are_slices_of_the_whole,
        bookmarks_and_find_row_position_the_page,
        count_restrictions_keep_the_first_rows,
        full_text_search_finds_words_in_subject_body_and_addresses,
        the_subject_substring_uses_the_trigram_index,
        bad_restrictions_are_refused_and_the_connection_lives_on,
    )
