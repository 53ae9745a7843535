#!/usr/bin/python3
"""test_resilience - the server when storaged or PostgreSQL goes away.

An admin restarts storaged or PostgreSQL (build/stack.sh stop-storaged,
restart-storaged, restart-postgres): clients must see 503 + Retry-After
while the store is away, never a 500 or a misleading 401, and everything
must work again afterwards without restarting httpd. storaged must shut
down cleanly on SIGTERM. t/run.sh runs the test files in glob order, so
other tests may follow this one: it always leaves the stack running.
"""
import os

import xctest
from xctest import ALICE, OK, E_TEMP, OP_RESOLVE, T_SESSION, \
    T_ADDRESS, check

POX = "/autodiscover/autodiscover.xml"
SVC = "/autodiscover/autodiscover.svc"
JSON_EWS = "/autodiscover/autodiscover.json/v1.0/alice@example.test?Protocol=EWS"
PID_FILE = os.path.join(xctest.DIR, "run", "storaged.pid")


def pox(auth=ALICE):
    """(status, headers) of alice's POX request."""
    st, h, _ = xctest.request("POST", POX, xctest.pox_request(ALICE[0]), auth=auth)
    return st, h


def pox_ok_within(seconds):
    """Retry POX until 200; (ok, statuses seen)."""
    seen = []

    def attempt():
        seen.append(pox()[0])
        return seen[-1] == 200
    return xctest.wait_until(attempt, timeout=seconds, step=0.2), seen


def new_log_lines(since):
    return xctest.log_text("storaged.log")[since:]


def log_size():
    return len(xctest.log_text("storaged.log"))


# -------------------------------------------------------------- tests ----
def the_stack_is_healthy_to_begin_with():
    check("storaged answers HELLO", xctest.storaged_answers())
    check("alice's POX gets 200", pox()[0] == 200)


def storaged_down_gives_503_with_retry_after():
    xctest.stack("stop-storaged")
    results = [pox() for _ in range(6)]        # several pooled connections
    statuses = [st for st, _ in results]
    check("with storaged down, POX with valid credentials gets 503",
          statuses == [503] * len(results), statuses)
    check("with a Retry-After header",
          all(h.get("retry-after", "").isdigit() for _, h in results),
          [h.get("retry-after") for _, h in results])
    check("and never 500", 500 not in statuses, statuses)
    st, _ = pox(auth=None)
    check("without credentials it is 503 too, not a misleading 401", st == 503, st)
    st, _, _ = xctest.request("POST", SVC, b"<x/>", auth=ALICE)
    check("SOAP Autodiscover gets 503 too", st == 503, st)
    st, _, _ = xctest.request("GET", JSON_EWS)
    check("JSON v2, which needs no store, still answers 200", st == 200, st)


def storaged_back_means_pox_works_again():
    xctest.stack("restart-storaged")
    ok, seen = pox_ok_within(5)
    check("after restarting storaged, POX gets 200 again within 5 s", ok, seen)
    check("no 500 on the way back", 500 not in seen, seen)


def saves(mb, fid, n):
    """Statuses of n saves of a small message into fid."""
    from test_store import a_note
    return [mb.save(a_note("restart %d" % i), fid=fid).status for i in range(n)]


def postgres_restart_is_survived():
    from test_store import Mailbox, INBOX
    since = log_size()
    mb = Mailbox()
    inbox = mb.special(INBOX)
    before = saves(mb, inbox, 40)       # every worker has ids in hand
    check("saves before the restart succeed", before == [OK] * 40, before)
    xctest.stack("restart-postgres")
    after = saves(mb, inbox, 40)
    check("after a PostgreSQL restart every save succeeds (each worker sees "
          "its connection was closed and makes a new one first)",
          after == [OK] * 40, after)
    mb.close()
    sd = xctest.Storaged()
    statuses = []
    st, props, _ = sd.login(*ALICE)
    statuses.append(st)
    if st == E_TEMP:                      # one retry allowed
        st, props, _ = sd.login(*ALICE)
        statuses.append(st)
    check("the next storaged login after a PostgreSQL restart succeeds",
          st == OK, statuses)
    st, _, _ = sd.call(OP_RESOLVE, [(T_SESSION, props.get(T_SESSION, "")),
                                    (T_ADDRESS, ALICE[0])])
    statuses.append(st)
    if st == E_TEMP and statuses.count(E_TEMP) == 1:
        st, _, _ = sd.call(OP_RESOLVE, [(T_SESSION, props.get(T_SESSION, "")),
                                        (T_ADDRESS, ALICE[0])])
        statuses.append(st)
    check("and so does the next resolve", st == OK, statuses)
    check("with at most one E_TEMP on the way", statuses.count(E_TEMP) <= 1, statuses)
    sd.close()
    st, _ = pox()
    check("the next POX after a PostgreSQL restart gets 200", st == 200, st)
    results = [pox()[0] for _ in range(10)]    # every worker reconnects
    check("and so do the ten after it", results == [200] * 10, results)
    check("storaged logs that it reconnected (SD00005)",
          "SD00005: reconnected to PostgreSQL" in new_log_lines(since),
          new_log_lines(since)[-1500:])


def a_crashed_storaged_ends_cached_logins():
    """httpd answers logins it already saw from its own cache while
    storaged's heartbeat is fresh; after a crash (SIGKILL: no goodbye) the
    heartbeat stops and httpd must fall back to asking, i.e. 503."""
    for _ in range(10):
        pox()
    check("before the crash POX gets 200", pox()[0] == 200)
    xctest.stack("kill-storaged")
    seen = []

    def all_503():
        seen[:] = [pox()[0] for _ in range(6)]
        return seen == [503] * 6
    check("within 5 s of a storaged crash every POX gets 503, none served "
          "from a stale cache", xctest.wait_until(all_503, timeout=5, step=0.25), seen)
    xctest.stack("start-storaged")
    ok, seen = pox_ok_within(5)
    check("after storaged starts again POX gets 200 within 5 s", ok, seen)


def sigterm_shuts_storaged_down_cleanly():
    since = log_size()
    xctest.stack("stop-storaged")
    lines = new_log_lines(since)
    check("storaged logs SD00002 when told to stop", "SD00002" in lines, lines[-1500:])
    check("and logs \"stopped\"",
          any("SD00002" in l and l.rstrip().endswith("stopped")
              for l in lines.splitlines()), lines[-1500:])
    check("it removes its socket", not os.path.exists(xctest.SOCKET))
    check("it removes its pid file", not os.path.exists(PID_FILE))


def the_stack_is_left_healthy():
    """Also the cleanup: runs even when an earlier step failed."""
    if not xctest.storaged_answers():
        xctest.stack("restart-storaged")
    check("storaged answers again at the end", xctest.storaged_answers())
    ok, seen = pox_ok_within(5)
    check("POX works at the end", ok, seen)


xctest.run_tests(
    the_stack_is_healthy_to_begin_with,
    storaged_down_gives_503_with_retry_after,
    storaged_back_means_pox_works_again,
    postgres_restart_is_survived,
    a_crashed_storaged_ends_cached_logins,
    sigterm_shuts_storaged_down_cleanly,
    the_stack_is_left_healthy,
)
