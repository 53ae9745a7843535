#!/usr/bin/python3
"""test_categories - categorized contents tables ([MS-OXCTABL] 2.2.2.13
RopSortTable with CategorizedCount and ExpandedCount; XW_TAG_CATEGORIES).

Alice's messages from three senders, grouped by sender, newest first in
each group: a header row per sender (expanded or collapsed, its depth,
its category id, how many messages and how many unread) before its
messages; collapsed by default when asked, with one category toggled
open; pages counted in visible rows; two levels of categories; a table
restriction counted in; bad requests refused.
"""
import xctest
from xctest import (OK, E_BADREQ, PR_FID, PT_LONG, PT_BINARY, PT_MV, PT_SYSTIME,
                    PT_UNICODE, check, tag)
from test_store import (Mailbox, a_note, PR_MID, PR_SUBJECT, OP_CONTENTS,
                        T_COLUMNS, T_TOTAL)
from test_query import enc, CONTENT

T_SORT = tag(PT_MV | PT_LONG, 0x0014)
T_OFFSET, T_LIMIT = tag(PT_LONG, 0x0015), tag(PT_LONG, 0x0016)
T_RESTRICTION = tag(PT_BINARY, 0x0020)
T_CATEGORIES, T_EXPANDED = tag(PT_LONG, 0x0047), tag(PT_LONG, 0x0048)
T_TOGGLED = tag(PT_MV | PT_BINARY, 0x0049)
PR_ROW_TYPE, PR_DEPTH = tag(PT_LONG, 0x0FF5), tag(PT_LONG, 0x3005)
PR_INSTANCE_KEY = tag(PT_BINARY, 0x0FF6)
PR_CONTENT_COUNT, PR_CONTENT_UNREAD = tag(PT_LONG, 0x3602), tag(PT_LONG, 0x3603)
PR_SENDER_NAME = tag(PT_UNICODE, 0x0C1A)
PR_IMPORTANCE = tag(PT_LONG, 0x0017)
PR_DELIVERY = tag(PT_SYSTIME, 0x0E06)
LEAF, EXPANDED, COLLAPSED = 1, 3, 4
COLS = [PR_ROW_TYPE, PR_DEPTH, PR_INSTANCE_KEY, PR_SENDER_NAME, PR_SUBJECT,
        PR_CONTENT_COUNT, PR_CONTENT_UNREAD, PR_MID]
S = {}


def table(mb, cats=1, expanded=None, toggled=None, offset=None, limit=None,
          sort=None, restriction=None):
    args = [(PR_FID, S["fid"]), (T_COLUMNS, COLS + [PR_IMPORTANCE]),
            (T_SORT, sort or [PR_SENDER_NAME, 0, PR_DELIVERY, 1]), (T_CATEGORIES, cats)]
    if expanded is not None:
        args.append((T_EXPANDED, expanded))
    if toggled is not None:
        args.append((T_TOGGLED, toggled))
    if offset is not None:
        args.append((T_OFFSET, offset))
    if limit is not None:
        args.append((T_LIMIT, limit))
    if restriction is not None:
        args.append((T_RESTRICTION, restriction))
    return mb.ask(OP_CONTENTS, args)


def shape(r):
    """[(row type, depth, sender or subject, count)] of a table's rows."""
    out = []
    for row in r.rows:
        if row.get(PR_ROW_TYPE) == LEAF:
            out.append((LEAF, row.get(PR_DEPTH), row.get(PR_SUBJECT), None))
        else:
            out.append((row.get(PR_ROW_TYPE), row.get(PR_DEPTH),
                        row.get(PR_SENDER_NAME), row.get(PR_CONTENT_COUNT)))
    return out


def messages_group_by_sender():
    mb = Mailbox()
    S["fid"], _ = mb.new_folder("Grouped")
    t0 = 133000000000000000
    for i, (sender, imp) in enumerate([("Ann", 1), ("Bob", 2), ("Ann", 1), ("Cy", 1),
                                       ("Bob", 1), ("Bob", 2)]):
        r = mb.save(a_note("%s %d" % (sender, i), [
            (PR_SENDER_NAME, sender), (PR_IMPORTANCE, imp),
            (PR_DELIVERY, t0 + i * 10000000)]), fid=S["fid"])
        assert r.status == OK, r
        S.setdefault(sender, []).append(r[PR_MID])
    r = table(mb)
    want = [(EXPANDED, 0, "Ann", 2), (LEAF, 1, "Ann 2", None), (LEAF, 1, "Ann 0", None),
            (EXPANDED, 0, "Bob", 3), (LEAF, 1, "Bob 5", None), (LEAF, 1, "Bob 4", None),
            (LEAF, 1, "Bob 1", None), (EXPANDED, 0, "Cy", 1), (LEAF, 1, "Cy 3", None)]
    check("grouped by sender: each header before its messages, newest first",
          r.status == OK and shape(r) == want, (r.status, r.get(xctest.T_ERRMSG), shape(r)))
    check("TOTAL counts the visible rows", r.get(T_TOTAL) == 9, r.get(T_TOTAL))
    heads = [row for row in r.rows if row.get(PR_ROW_TYPE) != LEAF]
    check("headers count their unread messages",
          [h.get(PR_CONTENT_UNREAD) for h in heads] == [2, 3, 1], heads)
    keys = [h.get(PR_INSTANCE_KEY) for h in heads]
    check("each category has its own 16-byte id",
          all(k and len(k) == 16 for k in keys) and len(set(keys)) == 3, keys)
    S["keys"] = dict(zip(["Ann", "Bob", "Cy"], keys))
    again = table(mb)
    check("and keeps it from one request to the next",
          [h.get(PR_INSTANCE_KEY) for h in again.rows if h.get(PR_ROW_TYPE) != LEAF] == keys)
    mb.close()


def categories_collapse_and_expand():
    mb = Mailbox()
    r = table(mb, expanded=0)
    check("collapsed by default: only the headers",
          shape(r) == [(COLLAPSED, 0, "Ann", 2), (COLLAPSED, 0, "Bob", 3),
                       (COLLAPSED, 0, "Cy", 1)] and r.get(T_TOTAL) == 3, shape(r))
    r = table(mb, expanded=0, toggled=[S["keys"]["Bob"]])
    check("Bob's category toggled open shows his messages only",
          shape(r) == [(COLLAPSED, 0, "Ann", 2), (EXPANDED, 0, "Bob", 3),
                       (LEAF, 1, "Bob 5", None), (LEAF, 1, "Bob 4", None),
                       (LEAF, 1, "Bob 1", None), (COLLAPSED, 0, "Cy", 1)]
          and r.get(T_TOTAL) == 6, shape(r))
    r = table(mb, toggled=[S["keys"]["Ann"]])
    check("expanded by default, Ann's toggled closed",
          [x[0] for x in shape(r)] == [COLLAPSED, EXPANDED, LEAF, LEAF, LEAF, EXPANDED, LEAF],
          shape(r))
    r = table(mb, offset=2, limit=3)
    check("a page counts visible rows: the 3rd to 5th",
          shape(r) == [(LEAF, 1, "Ann 0", None), (EXPANDED, 0, "Bob", 3),
                       (LEAF, 1, "Bob 5", None)] and r.get(T_TOTAL) == 9, shape(r))
    r = table(mb, offset=20, limit=3)
    check("a page past the end is empty and still counts the visible rows",
          r.status == OK and r.rows == [] and r.get(T_TOTAL) == 9, (r.status, r.rows))
    mb.set_read([S["Bob"][0]])
    r = table(mb, expanded=0)
    check("reading one of Bob's leaves his header 2 unread",
          [row.get(PR_CONTENT_UNREAD) for row in r.rows] == [2, 2, 1], r.rows)
    mb.close()


def two_levels_and_restrictions():
    mb = Mailbox()
    r = table(mb, cats=2, sort=[PR_SENDER_NAME, 0, PR_IMPORTANCE, 1, PR_DELIVERY, 1])
    bob = [(t, d) for t, d, _, _ in shape(r)][4:11]
    check("two levels: sender, then importance within it (depths 0, 1, leaves 2)",
          r.status == OK and bob == [(EXPANDED, 0), (EXPANDED, 1), (LEAF, 2), (LEAF, 2),
                                     (EXPANDED, 1), (LEAF, 2)] + [(EXPANDED, 0)],
          (r.status, r.get(xctest.T_ERRMSG), shape(r)))
    r = table(mb, cats=2, expanded=1,
              sort=[PR_SENDER_NAME, 0, PR_IMPORTANCE, 1, PR_DELIVERY, 1])
    check("expanded one level deep: senders open, importance groups closed",
          [(t, d) for t, d, _, _ in shape(r)][:3] == [(EXPANDED, 0), (COLLAPSED, 1),
                                                     (EXPANDED, 0)], shape(r))
    only = enc((CONTENT, 0x00010001, PR_SUBJECT, PR_SUBJECT, "bob"))
    r = table(mb, expanded=0, restriction=only)
    check("a restriction groups only what it matches",
          shape(r) == [(COLLAPSED, 0, "Bob", 3)] and r.get(T_TOTAL) == 1, shape(r))
    bad = {"5 categories": dict(cats=5), "more categories than sort keys": dict(cats=3),
           "no categories": dict(cats=0)}
    for what, kw in bad.items():
        r = table(mb, **kw)
        check("refused: %s (E_BADREQ)" % what, r.status == E_BADREQ, r)
    mb.close()


if __name__ == "__main__":
    xctest.run_tests(
        messages_group_by_sender,
        categories_collapse_and_expand,
        two_levels_and_restrictions,
    )
