"""Notifications ([MS-OXCNOTIF]): a client subscribes to its mailbox or a
folder and is told of every change at once, whichever storaged process (on
the same database) made it: new mail, deletions, read flags."""
import os
import select
import subprocess
import time

import xctest
from xctest import (check, run_tests, Storaged, OK, E_NOTFOUND, F_PUSH, tag,
                    PT_I8, PT_LONG, PT_STRING8, T_SESSION, T_MAILBOX_ID,
                    OP_LIST_FOLDERS, PR_FID, PR_XC_SPECIAL_FOLDER, ALICE, BOB)

SUBSCRIBE, UNSUBSCRIBE, SAVE, DELETE, SET_READ = 18, 19, 11, 13, 15
OP_CHANGES = 16
PR_MID = tag(PT_I8, 0x674A)
T_CN, T_KIND, T_SUB = tag(PT_I8, 0x18), tag(PT_STRING8, 0x19), tag(PT_LONG, 0x1F)
T_MIDS, T_READ = tag(xctest.PT_MV | PT_I8, 0x11), tag(xctest.PT_BOOLEAN, 0x12)
START, END = 0x400C0003, 0x400D0003
SUBJECT = tag(xctest.PT_UNICODE, 0x0037)
state = {}


def session(path=None, who=ALICE):
    s = Storaged(path)
    st, p, _ = s.login(*who)
    assert st == OK, st
    return s, [(T_SESSION, p[T_SESSION]), (T_MAILBOX_ID, p[T_MAILBOX_ID])]


def pushes(s, seconds):
    """Push frames that arrive within seconds: list of (reqid, props);
    state["arrived"] is when the first one arrived."""
    got = []
    end = time.time() + seconds
    while True:
        left = end - time.time()
        if left <= 0:
            break
        if not s.buf and not select.select([s.s], [], [], left)[0]:
            break
        fr = s.read_frame()
        if fr is None:
            break
        flags, op, reqid, pl = fr
        if flags & F_PUSH:
            if not got:
                state["arrived"] = time.time()
            got.append((reqid, xctest.dec_props(pl)))
    return got


def save(s, base, fid, subject):
    st, p, _ = s.call(SAVE, base + [(PR_FID, fid), (START, 0), (SUBJECT, subject), (END, 0)])
    assert st == OK, (st, p)
    return p[PR_MID]


def test_setup():
    s, base = session()
    st, _, rows = s.call(OP_LIST_FOLDERS, base)
    state["inbox"] = [r[PR_FID] for r in rows if r[PR_XC_SPECIAL_FOLDER] == 5][0]
    state["drafts"] = [r[PR_FID] for r in rows if r[PR_XC_SPECIAL_FOLDER] == 19][0]
    check("folders found", "inbox" in state and "drafts" in state)
    s.close()


def test_new_mail_reaches_a_subscriber_at_once():
    sub, sbase = session()
    st, p, _ = sub.call(SUBSCRIBE, sbase)
    check("subscribing to the mailbox", st == OK and T_SUB in p, (st, p))
    sid = p.get(T_SUB)
    w, wbase = session()
    t0 = time.time()
    mid = save(w, wbase, state["inbox"], "hello")
    got = pushes(sub, 2.0)
    check("the subscriber is told of the new message", len(got) >= 1, got)
    if got:
        reqid, p = got[0]
        dt = state["arrived"] - t0
        check("within 1 s of the save being sent", dt < 1.0, dt)
        check("the push names the subscription, kind, folder and message",
              reqid == sid and p.get(T_KIND) == "create" and p.get(PR_FID) == state["inbox"]
              and p.get(PR_MID) == mid, p)
    st, _, _ = w.call(SET_READ, wbase + [(T_MIDS, [mid]), (T_READ, 1)])
    got = pushes(sub, 2.0)
    check("a read flag change is pushed as 'read'",
          [p.get(T_KIND) for _, p in got] == ["read"], got)
    w.call(DELETE, wbase + [(T_MIDS, [mid])])
    got = pushes(sub, 2.0)
    check("a deletion is pushed as 'delete'", [p.get(T_KIND) for _, p in got] == ["delete"], got)
    sub.send(UNSUBSCRIBE, [(T_SUB, sid)])
    # read the unsubscribe answer (a non-push frame)
    while True:
        flags, op, reqid, pl = sub.read_frame()
        if not flags & F_PUSH:
            break
    check("unsubscribing", xctest.dec_props(pl).get(xctest.T_STATUS) == OK)
    save(w, wbase, state["inbox"], "after unsubscribing")
    check("after unsubscribing nothing is pushed", pushes(sub, 1.0) == [])
    st, _, _ = sub.call(UNSUBSCRIBE, [(T_SUB, sid)])
    check("unsubscribing twice: not found", st == E_NOTFOUND, st)
    sub.close()
    w.close()


def test_folder_subscription_filters():
    sub, sbase = session()
    st, p, _ = sub.call(SUBSCRIBE, sbase + [(PR_FID, state["drafts"])])
    check("subscribing to Drafts", st == OK, st)
    w, wbase = session()
    save(w, wbase, state["inbox"], "not for drafts")
    check("a change in the Inbox is not pushed to a Drafts subscriber",
          pushes(sub, 1.0) == [])
    save(w, wbase, state["drafts"], "a draft")
    got = pushes(sub, 2.0)
    check("a change in Drafts is", len(got) == 1 and got[0][1].get(PR_FID) == state["drafts"], got)
    st, _, _ = sub.call(SUBSCRIBE, sbase + [(PR_FID, state["drafts"] + (999 << 16))])
    check("subscribing to an unknown folder: not found", st == E_NOTFOUND, st)
    sub.close()
    w.close()


def test_other_mailboxes_are_not_observable():
    s, base = session()
    b, bbase = session(who=BOB)
    st, _, _ = s.call(SUBSCRIBE, [base[0], bbase[1]])
    check("alice can't subscribe to bob's mailbox", st == E_NOTFOUND, st)
    sub, sbase = session()
    sub.call(SUBSCRIBE, sbase)
    st, _, rows = b.call(OP_LIST_FOLDERS, bbase)
    binbox = [r[PR_FID] for r in rows if r[PR_XC_SPECIAL_FOLDER] == 5][0]
    save(b, bbase, binbox, "bob's own")
    check("bob's changes are not pushed to alice", pushes(sub, 1.0) == [])
    for c in (s, b, sub):
        c.close()


def test_changes_made_by_another_storaged_are_pushed():
    """Two storaged processes on one database: a subscriber on the second
    hears of a change made through the first (LISTEN/NOTIFY)."""
    d = xctest.DIR
    conf = open(os.path.join(d, "etc", "storaged.conf")).read()
    sock2 = os.path.join(d, "run", "storaged2.sock")
    conf = conf.replace(os.path.join(d, "run", "storaged.sock"), sock2)
    conf = conf.replace(os.path.join(d, "run", "storaged.pid"), os.path.join(d, "run", "storaged2.pid"))
    path = os.path.join(d, "etc", "storaged2.conf")
    with open(path, "w") as f:
        f.write(conf)
    os.chmod(path, 0o644)
    log = open(os.path.join(d, "log", "storaged2.log"), "ab")
    proc = subprocess.Popen(xctest.AS + [os.path.join(d, "lib", "storaged"), "-f", path],
                            stdout=log, stderr=log, cwd="/")
    try:
        check("a second storaged starts on the same database",
              xctest.wait_until(lambda: os.path.exists(sock2), timeout=10))
        time.sleep(0.5)     # its listener connects
        sub, sbase = session(sock2)
        st, _, _ = sub.call(SUBSCRIBE, sbase)
        check("subscribing on the second storaged", st == OK, st)
        w, wbase = session()
        t0 = time.time()
        mid = save(w, wbase, state["inbox"], "across processes")
        got = pushes(sub, 2.0)
        check("the change made through the first storaged is pushed by the second",
              len(got) == 1 and got[0][1].get(PR_MID) == mid, got)
        check("within 1 s of the save being sent",
              len(got) == 1 and state["arrived"] - t0 < 1.0,
              state.get("arrived", 0) - t0)
        # ids come from ranges each process takes ahead (sql/012): saves
        # through both processes in turn get distinct ids and CNs in the
        # order they committed
        w2, w2base = session(sock2)
        mids, cns = [], []
        for i in range(12):
            c, b = (w, wbase) if i % 2 == 0 else (w2, w2base)
            st, p, _ = c.call(SAVE, b + [(PR_FID, state["inbox"]), (START, 0),
                                         (SUBJECT, "ranges %d" % i), (END, 0)])
            check("save %d through storaged %d" % (i, i % 2 + 1), st == OK, (st, p))
            mids.append(p.get(PR_MID))
            cns.append(p.get(T_CN))
        check("messages saved through two processes have distinct ids",
              len(set(mids)) == len(mids), mids)
        check("their change numbers rise in commit order",
              all(a < b for a, b in zip(cns, cns[1:])), cns)
        st, _, rows = w.call(OP_CHANGES, wbase + [(T_CN, cns[0] - 1)])
        logged = [r.get(PR_MID) for r in rows if r.get(T_KIND) == "create"]
        check("the change log lists each once, in that order",
              st == OK and logged == mids, (st, logged, mids))
        w2.close()
        sub.close()
        w.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    run_tests(test_setup, test_new_mail_reaches_a_subscriber_at_once,
              test_folder_subscription_filters, test_other_mailboxes_are_not_observable,
              test_changes_made_by_another_storaged_are_pushed)
