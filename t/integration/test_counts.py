"""Folder counts ([MS-OXCFOLD] PidTagContentCount, PidTagContentUnreadCount,
PidTagAssociatedContentCount): kept in the transaction of every save,
delete and read-flag change, so folder lists and table totals are exact
without counting rows, even with many writers."""
import threading

import xctest
from xctest import (check, run_tests, Storaged, OK, tag, PT_I8, PT_LONG,
                    PT_BOOLEAN, PT_STRING8, T_SESSION, T_MAILBOX_ID, ALICE,
                    OP_LIST_FOLDERS, PR_FID, PR_DISPLAY_NAME)

CREATE_FOLDER, SAVE, DELETE, CONTENTS, SET_READ = 10, 11, 13, 14, 15
PR_MID = tag(PT_I8, 0x674A)
PR_PARENT_FID = tag(PT_I8, 0x6749)
PR_MESSAGE_FLAGS = tag(PT_LONG, 0x0E07)
COUNT, UNREAD, ASSOC = tag(PT_LONG, 0x3602), tag(PT_LONG, 0x3603), tag(PT_LONG, 0x3617)
T_FAI, T_MIDS, T_READ = tag(PT_BOOLEAN, 0x10), tag(xctest.PT_MV | PT_I8, 0x11), tag(PT_BOOLEAN, 0x12)
T_COLUMNS, T_TOTAL = tag(xctest.PT_MV | PT_LONG, 0x13), tag(PT_LONG, 0x17)
START, END = 0x400C0003, 0x400D0003
SUBJECT = tag(PT_STRING8, 0x0037)
state = {}


def session():
    s = Storaged()
    st, p, _ = s.login(*ALICE)
    assert st == OK
    return s, [(T_SESSION, p[T_SESSION]), (T_MAILBOX_ID, p[T_MAILBOX_ID])]


def counts(s, base, fid):
    st, _, rows = s.call(OP_LIST_FOLDERS, base)
    for r in rows:
        if r[PR_FID] == fid:
            return r.get(COUNT), r.get(UNREAD), r.get(ASSOC)


def save(s, base, fid, read=False, fai=False, mid=None):
    args = [(PR_MID, mid)] if mid else [(PR_FID, fid)]
    if fai:
        args.append((T_FAI, 1))
    content = [(SUBJECT, "count me")] + ([(PR_MESSAGE_FLAGS, 1)] if read else [])
    st, p, _ = s.call(SAVE, base + args + [(START, 0)] + content + [(END, 0)])
    assert st == OK, (st, p)
    return p[PR_MID]


def test_counts_follow_every_change():
    s, base = session()
    st, _, rows = s.call(OP_LIST_FOLDERS, base)
    ipm = [r[PR_FID] for r in rows if r[xctest.PR_XC_SPECIAL_FOLDER] == 4][0]
    st, p, _ = s.call(CREATE_FOLDER, base + [(PR_PARENT_FID, ipm), (PR_DISPLAY_NAME, "Counted")])
    fid = state["fid"] = p[PR_FID]
    check("a new folder counts nothing", counts(s, base, fid) == (0, 0, 0), counts(s, base, fid))
    m1 = save(s, base, fid)
    m2 = save(s, base, fid)
    m3 = save(s, base, fid, read=True)
    save(s, base, fid, fai=True)
    check("3 messages, 2 unread, 1 associated", counts(s, base, fid) == (3, 2, 1),
          counts(s, base, fid))
    s.call(SET_READ, base + [(T_MIDS, [m1]), (T_READ, 1)])
    check("marking one read: 1 unread", counts(s, base, fid) == (3, 1, 1), counts(s, base, fid))
    s.call(SET_READ, base + [(T_MIDS, [m1]), (T_READ, 1)])
    check("marking it read again changes nothing", counts(s, base, fid) == (3, 1, 1))
    s.call(DELETE, base + [(T_MIDS, [m3])])
    check("deleting a read message: 2 left, 1 unread", counts(s, base, fid) == (2, 1, 1),
          counts(s, base, fid))
    save(s, base, None, read=True, mid=m2)
    check("replacing the unread one with a read one: 0 unread",
          counts(s, base, fid) == (2, 0, 1), counts(s, base, fid))
    st, p, rows = s.call(CONTENTS, base + [(PR_FID, fid), (T_COLUMNS, [PR_MID])])
    check("the contents table total is the count", p.get(T_TOTAL) == 2 and len(rows) == 2, p)
    st, p, rows = s.call(CONTENTS, base + [(PR_FID, fid), (T_COLUMNS, [PR_MID]), (T_FAI, 1)])
    check("and of the associated contents", p.get(T_TOTAL) == 1 and len(rows) == 1, p)
    s.close()


def test_counts_stay_exact_with_many_writers():
    fid = state["fid"]
    errors = []

    def worker():
        try:
            s, base = session()
            for i in range(10):
                mid = save(s, base, fid, read=(i % 3 == 0))
                if i % 4 == 0:
                    s.call(DELETE, base + [(T_MIDS, [mid])])
                elif i % 4 == 1:
                    s.call(SET_READ, base + [(T_MIDS, [mid]), (T_READ, 1)])
            s.close()
        except Exception as e:
            errors.append(e)
    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check("eight concurrent writers finish without errors (no deadlocks)", not errors, errors)
    out, err = xctest.psql("SELECT f.content_count = (SELECT count(*) FROM messages m "
                               " WHERE m.mailbox_id = f.mailbox_id AND m.fid = f.fid AND NOT m.is_fai)"
                               " AND f.unread_count = (SELECT count(*) FROM messages m "
                               " WHERE m.mailbox_id = f.mailbox_id AND m.fid = f.fid"
                               "   AND NOT m.is_fai AND NOT m.is_read)"
                           " FROM folders f WHERE f.display_name = 'Counted'")
    check("the counts equal the rows afterwards", out == "t", out + err)


if __name__ == "__main__":
    run_tests(test_counts_follow_every_change, test_counts_stay_exact_with_many_writers)
