#!/usr/bin/python3
"""test_smtp_crash - mail that mtad accepted survives crashes of mtad and
storaged, and is delivered exactly once.

A few senders (smtplib) send many small messages to alice, and some to
alice and bob, each with a subject and Message-ID of its own, while the
test kills mtad or storaged (or both) with SIGKILL at random moments and
starts them again shortly after. mtad says "250 Ok: queued as ID" only
once the message is committed to the queue (sql/018_mail_queue.sql), and
delivers each local recipient in the commit that takes it off the queue,
so afterwards, once the queue runner has worked off what the crashes left:

- every message that got 250 is in each accepted recipient's Inbox exactly
  once, and its stored MIME is the copy that 250 was for (the Received
  header carries the queue id the reply named);
- a message whose transaction broke after DATA started may or may not be
  there (mtad may have committed it before it died) but never twice; one
  that never reached DATA is not there; no subject is in a mailbox twice;
- the queue is empty, and the counts and blob reference counts the store
  keeps are exact.

Every attempt uses a new subject: an SMTP client retrying the same message
after a 451 may legitimately deliver it twice, and that is not what is
tested here. The stack is left with both daemons answering.
XC_SMTP_CRASH_SECONDS sets how long the crash loop runs (default 25).
"""
import os
import random
import secrets
import smtplib
import socket
import threading
import time

import xctest
from xctest import ALICE, BOB, check

RUN = secrets.token_hex(4)
SENDER = "crash-%s@sender.test" % RUN
SECONDS = float(os.environ.get("XC_SMTP_CRASH_SECONDS", "25"))
SENDERS = 3
INBOX = 5                                   # folders.special of the Inbox

# subject -> {"rcpts": [...], "accepted": [...], "phase": never|maybe|ok,
#             "reply": text of the DATA reply, "sender": thread no}
attempts = {}
lock = threading.Lock()
kills = {"mtad": 0, "storaged": 0}


def sql(q):
    out, err = xctest.psql(q)
    if err.strip():
        raise RuntimeError("SQL failed: %s\n%s" % (q, err))
    return out


def mtad_answers(timeout=5):
    """Does mtad greet and answer NOOP with 250?"""
    try:
        s = smtplib.SMTP("127.0.0.1", xctest.SMTP, timeout=timeout)
        code, _ = s.noop()
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass
        return code == 250
    except (smtplib.SMTPException, OSError):
        return False


def pid_of(name):
    try:
        with open(os.path.join(xctest.DIR, "run", name + ".pid")) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


def gone(pid):
    """The process has exited (or is a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def kill(name):
    """SIGKILL storaged or mtad and wait until it is gone, so that its
    successor can take its socket."""
    pid = pid_of(name)
    xctest.stack("kill-" + name)
    if pid is not None:
        xctest.wait_until(lambda: gone(pid), timeout=10, step=0.02)
    kills[name] += 1


def start(name):
    xctest.stack("start-" + name)


def message(subject, rcpts, n):
    pad = "x" * random.choice((0, 0, 0, 100, 3000, 9000))
    return ("From: Crash Sender <%s>\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "Message-ID: <%s@sender.test>\r\n"
            "Date: %s\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n"
            "Message %d of a crash test.\r\n%s\r\n"
            % (SENDER, ", ".join(rcpts), subject, subject,
               time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
               n, "\r\n".join(pad[i:i + 70] for i in range(0, len(pad), 70))))


def sender(no, stop):
    """Send until told to stop, one new subject per attempt; keep a
    connection for a few messages, open a new one when it breaks."""
    rnd = random.Random()
    s = None
    n = 0
    while not stop.is_set():
        if s is None:
            try:
                s = smtplib.SMTP("127.0.0.1", xctest.SMTP, timeout=15)
                code, _ = s.ehlo("sender%d.test" % no)
                if code != 250:
                    raise smtplib.SMTPException("EHLO %d" % code)
                left = rnd.randint(1, 8)
            except (smtplib.SMTPException, OSError):
                s = None
                time.sleep(rnd.uniform(0.05, 0.2))
                continue
        n += 1
        subject = "crash-%s-%d-%d" % (RUN, no, n)
        rcpts = [ALICE[0], BOB[0]] if rnd.random() < 0.3 else [ALICE[0]]
        a = {"rcpts": rcpts, "accepted": [], "phase": "never", "reply": "",
             "sender": no}
        with lock:
            attempts[subject] = a
        try:
            code, resp = s.mail(SENDER)
            if code != 250:
                raise smtplib.SMTPException("MAIL %d %r" % (code, resp))
            for r in rcpts:
                code, resp = s.rcpt(r)
                if code == 250:
                    a["accepted"].append(r)
            if not a["accepted"]:
                s.rset()
                time.sleep(rnd.uniform(0.05, 0.2))      # storaged is down
                continue
            a["phase"] = "maybe"                        # DATA is under way
            code, resp = s.data(message(subject, rcpts, n).encode())
            a["reply"] = "%d %s" % (code, resp.decode(errors="replace"))
            if code == 250:
                a["phase"] = "ok"
            else:
                time.sleep(rnd.uniform(0.05, 0.2))
            left -= 1
            if left <= 0:
                s.quit()
                s = None
        except (smtplib.SMTPException, OSError, socket.timeout) as e:
            if not a["reply"]:
                a["reply"] = "%s: %s" % (type(e).__name__, e)
            try:
                s.close()
            except Exception:
                pass
            s = None
    if s is not None:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


def queue_left(mine_only):
    where = "WHERE q.sender = '%s'" % SENDER if mine_only else ""
    return int(sql("SELECT count(*) FROM mail_queue_rcpt r JOIN mail_queue q "
                   "ON q.id = r.queue_id %s" % where) or 0)


def delivered(mailbox_id):
    """subject -> (copies in the mailbox, copies in its Inbox)."""
    out = sql("SELECT m.subject, count(*), count(*) FILTER (WHERE f.special = %d) "
              "FROM messages m JOIN folders f ON f.mailbox_id = m.mailbox_id AND f.fid = m.fid "
              "WHERE m.mailbox_id = %d AND m.subject LIKE 'crash-%s-%%' GROUP BY 1"
              % (INBOX, mailbox_id, RUN))
    got = {}
    for line in out.splitlines():
        subj, n, inbox = line.split("|")
        got[subj] = (int(n), int(inbox))
    return got


def stored_mime(mailbox_id):
    """subject -> [(received?, Message-ID, queue id in Received)] from the
    stored Internet-format copies."""
    out = sql("SELECT m.subject, mm.received, "
              "coalesce(substring(t from 'Message-ID: <([^>]*)>'), ''), "
              "coalesce(substring(t from '\\(mtad\\) with [A-Z]+ id ([A-Za-z0-9._-]+)'), '') "
              "FROM messages m JOIN message_mime mm ON mm.mailbox_id = m.mailbox_id AND mm.mid = m.mid "
              "JOIN blobs b ON b.hash = mm.blob "
              "CROSS JOIN LATERAL (SELECT convert_from(b.data, 'UTF8') AS t) x "
              "WHERE m.mailbox_id = %d AND m.subject LIKE 'crash-%s-%%'" % (mailbox_id, RUN))
    got = {}
    for line in out.splitlines():
        subj, received, mid, qid = line.split("|")
        got.setdefault(subj, []).append((received == "t", mid, qid))
    return got


def log_lines(name, since, *words):
    try:
        text = xctest.log_text(name)[since:]
    except OSError:
        return []
    return [l for l in text.splitlines() if any(w in l for w in words)]


def log_size(name):
    try:
        return os.path.getsize(os.path.join(xctest.DIR, "log", name))
    except OSError:
        return 0


def make_sure_both_run():
    if not xctest.storaged_answers():
        start("storaged")
    xctest.wait_until(xctest.storaged_answers, timeout=20)
    if not mtad_answers():
        if pid_of("mtad") is not None and not gone(pid_of("mtad")):
            xctest.stack("kill-mtad")
            time.sleep(0.3)
        start("mtad")
    xctest.wait_until(mtad_answers, timeout=20)


def accepted_mail_survives_crashes_exactly_once():
    ok = check("the stack answers before the crash loop (storaged and mtad)",
               xctest.storaged_answers() and mtad_answers())
    if not ok:
        make_sure_both_run()
    mlog0, slog0 = log_size("mtad.log"), log_size("storaged.log")
    alice_mb, bob_mb = xctest.mailbox_id_of(ALICE[0]), xctest.mailbox_id_of(BOB[0])
    stop = threading.Event()
    threads = [threading.Thread(target=sender, args=(i, stop), daemon=True)
               for i in range(SENDERS)]
    rnd = random.Random()
    t0 = time.time()
    for t in threads:
        t.start()
    try:
        rounds, first = 0, rnd.sample(["mtad", "storaged"], 2)
        while time.time() - t0 < SECONDS:
            time.sleep(rnd.uniform(0.5, 3.0))
            r = rnd.random()
            victims = ["mtad"] if r < 0.45 else ["storaged"] if r < 0.9 else ["storaged", "mtad"]
            if rounds < 2:              # each of them at least once
                victims = [first[rounds]]
            rounds += 1
            for v in victims:
                kill(v)
            time.sleep(rnd.uniform(0.05, 1.5))
            # storaged first: mtad needs it to accept (it answers 451 meanwhile)
            for v in ("storaged", "mtad"):
                if v in victims:
                    start(v)
    finally:
        loop_took = time.time() - t0
        stop.set()
        for t in threads:
            t.join(60)
    check("the senders stop (none hangs on a dead connection)",
          not any(t.is_alive() for t in threads))
    make_sure_both_run()
    check("storaged and mtad answer again after the crash loop",
          xctest.storaged_answers() and mtad_answers())

    t1 = time.time()
    drained = xctest.wait_until(lambda: queue_left(False) == 0, timeout=60, step=0.25)
    drain_took = time.time() - t1

    with lock:
        tried = dict(attempts)
    by = {p: [s for s, a in tried.items() if a["phase"] == p] for p in ("ok", "maybe", "never")}
    print("# run %s: %.1f s of crashes, %d kills of mtad, %d of storaged"
          % (RUN, loop_took, kills["mtad"], kills["storaged"]))
    print("# %d messages tried: %d got 250, %d broke after DATA started, %d never reached DATA"
          % (len(tried), len(by["ok"]), len(by["maybe"]), len(by["never"])))
    print("# %d of the 250'd went to bob as well; the queue drained %.1f s after the loop"
          % (sum(1 for s in by["ok"] if BOB[0] in tried[s]["accepted"]), drain_took))
    check("the senders got mail through between the crashes (at least 20 accepted)",
          len(by["ok"]) >= 20, "%d accepted" % len(by["ok"]))
    check("the crashes hit both daemons", kills["mtad"] > 0 and kills["storaged"] > 0, kills)

    left = sql("SELECT r.queue_id, r.idx, r.address, r.attempts, r.leased_until, r.last_error, q.sender "
               "FROM mail_queue_rcpt r JOIN mail_queue q ON q.id = r.queue_id ORDER BY 1, 2")
    check("every queued recipient of this run leaves the queue within 60 s", queue_left(True) == 0, left)
    check("the queue is empty (mail_queue_rcpt and mail_queue)",
          drained and sql("SELECT (SELECT count(*) FROM mail_queue_rcpt) + "
                          "(SELECT count(*) FROM mail_queue)") == "0", left)

    for user, mb in ((ALICE[0], alice_mb), (BOB[0], bob_mb)):
        got = delivered(mb)
        mime = stored_mime(mb)
        lost, twice, unwanted, wrong_mime = [], [], [], []
        for subj, (n, inbox) in got.items():
            if n > 1:
                twice.append("%s: %d copies (%d in the Inbox), %s" % (subj, n, inbox,
                                                                      tried.get(subj, {}).get("phase")))
        for subj, a in tried.items():
            n, inbox = got.get(subj, (0, 0))
            if user not in a["accepted"]:
                if n:
                    unwanted.append("%s: %d copies, but %s was not an accepted recipient (%s)"
                                    % (subj, n, user, a["phase"]))
            elif a["phase"] == "ok" and inbox != 1:
                lost.append("%s: %d in the Inbox, %d in the mailbox; reply %s"
                            % (subj, inbox, n, a["reply"]))
            elif a["phase"] == "never" and n:
                unwanted.append("%s: never reached DATA, %d copies" % (subj, n))
            elif a["phase"] == "maybe" and n and inbox != n:
                lost.append("%s: broke after DATA (%s), %d copies but %d in the Inbox"
                            % (subj, a["reply"], n, inbox))
            if a["phase"] == "ok" and user in a["accepted"]:
                qid = a["reply"].rsplit(" ", 1)[-1]
                if inbox and not mime.get(subj):
                    wrong_mime.append("%s: no stored MIME" % subj)
                for received, mid, mqid in mime.get(subj, []):
                    if not received or mid != subj + "@sender.test" or mqid != qid:
                        wrong_mime.append("%s: received %s, Message-ID <%s>, Received id %s, "
                                          "250 said %s" % (subj, received, mid, mqid, qid))
        unknown = [s for s in got if s not in tried]
        maybe_in = sum(1 for s in by["maybe"] if got.get(s, (0, 0))[0] and user in tried[s]["accepted"])
        print("# %s: %d of this run's messages delivered (%d of the %d that broke after DATA)"
              % (user, len(got), maybe_in, len(by["maybe"])))
        check("every message mtad accepted for %s is in the Inbox exactly once" % user, not lost,
              "\n".join(lost[:30]))
        check("no message is in %s's mailbox twice (accepted or not)" % user, not twice,
              "\n".join(twice[:30]))
        check("%s gets nothing that was not accepted for him/her" % user,
              not unwanted and not unknown, "\n".join(unwanted[:30] + unknown[:10]))
        check("the stored MIME of each of %s's accepted messages is the queued copy "
              "(its Message-ID, the queue id of the 250)" % user,
              not wrong_mime and all(len(v) == 1 for v in mime.values()), "\n".join(wrong_mime[:30]))
        check("%s's folder counts, used bytes and blob references are exact after the crashes" % user,
              xctest.store_mismatches(mb) == [], "\n".join(xctest.store_mismatches(mb)))

    # diagnostics from the logs of this run
    san = ("Sanitizer", "runtime error:")
    mlines = log_lines("mtad.log", mlog0, "accepted id=", "delivered queue=", "deferred queue=",
                       "not accepted", *san)
    slines = log_lines("storaged.log", slog0, *san)
    print("# mtad.log: %d accepted, %d delivered, %d deferred, %d not accepted"
          % tuple(sum(1 for l in mlines if w in l)
                  for w in ("accepted id=", "delivered queue=", "deferred queue=", "not accepted")))
    check("no sanitizer report in mtad.log or storaged.log during the crash loop",
          not any(w in l for l in mlines + slines for w in san),
          "\n".join(l for l in mlines + slines if any(w in l for w in san)))


def the_stack_is_left_healthy():
    make_sure_both_run()
    check("storaged answers HELLO after the crash test", xctest.storaged_answers())
    check("mtad answers NOOP with 250 after the crash test", mtad_answers())


if __name__ == "__main__":
    xctest.run_tests(
        accepted_mail_survives_crashes_exactly_once,
        the_stack_is_left_healthy,
    )
