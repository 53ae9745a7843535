#!/usr/bin/python3
"""test_tombstones - old changes are forgotten (sql/009_expiry.sql).

Tombstones and change-log rows are kept for tombstone_days. Here the
admin sets it to 0 and storaged's listener (expire_interval = 1 in the
test stack) forgets everything older within seconds: tombstones of
deleted messages and folders go, the mailbox records up to which change
number it forgot, and a sync client asking for changes from before that
is told to start over (E_LIMIT with that number) while one that is up to
date goes on. With 30 days again nothing more is forgotten.

Runs last of the store's tests (alphabetical order): it forgets every
mailbox's history.
"""
import time

import xctest
from xctest import ALICE, OK, E_LIMIT, T_ERRMSG, check, psql
from test_store import Mailbox, a_note, T_CN, PR_MID


def count(sql):
    out, _ = psql(sql)
    return int(out.strip() or "-1")


def old_changes_are_forgotten():
    mb = Mailbox(ALICE)
    fid, start = mb.new_folder("Expiry")
    gone = mb.save(a_note("to be deleted"), fid=fid).get(PR_MID)
    mb.delete([gone])
    sub, _ = mb.new_folder("Expiry child")
    r = mb.ask(20, [(xctest.PR_FID, sub), (xctest.tag(xctest.PT_LONG, 0x30), 0)])
    check("a message and a folder are deleted, leaving tombstones",
          r.status == OK and count("SELECT count(*) FROM tombstones WHERE mailbox_id = %d"
                                   % mb.id) >= 1 and
          count("SELECT count(*) FROM folder_tombstones WHERE mailbox_id = %d" % mb.id) >= 1,
          r)
    kept = mb.save(a_note("kept"), fid=fid)
    latest = kept.get(T_CN)
    psql("UPDATE settings SET value = '0' WHERE key = 'tombstone_days'")
    ok = xctest.wait_until(lambda: count("SELECT count(*) FROM tombstones") == 0 and
                           count("SELECT count(*) FROM folder_tombstones") == 0 and
                           count("SELECT count(*) FROM changes WHERE mailbox_id = %d"
                                 % mb.id) == 0, timeout=15)
    check("with tombstone_days 0 storaged forgets tombstones and the change log", ok,
          (count("SELECT count(*) FROM tombstones"), count("SELECT count(*) FROM changes")))
    expired = count("SELECT expired_cn FROM mailboxes WHERE id = %d" % mb.id)
    check("the mailbox remembers up to which change it forgot", expired == latest,
          (expired, latest))
    r = mb.changes(start)
    check("a client syncing from before that is told to start over",
          r.status == E_LIMIT and r.get(T_CN) == expired and "start over" in
          (r.get(T_ERRMSG) or ""), r)
    r = mb.changes(latest)
    check("a client that is up to date goes on", r.status == OK and r.rows == [], r)
    psql("UPDATE settings SET value = '30' WHERE key = 'tombstone_days'")
    newer = mb.save(a_note("after"), fid=fid)
    time.sleep(3)
    r = mb.changes(latest)
    check("with 30 days again new changes stay",
          r.status == OK and [c.get(T_CN) for c in r.rows] == [newer.get(T_CN)], r)
    check("storaged logged the expiry",
          "expired " in xctest.log_text("storaged.log"))
    mb.close()


if __name__ == "__main__":
    xctest.run_tests(old_changes_are_forgotten)
