#!/usr/bin/python3
"""test_storaged - storaged over its raw socket, as the Apache modules use it.

Speaks the wire protocol of lib/xc_wire.h with the independent codec in
xctest: greeting, logins and their limits, address resolution, the folder
tree of a new mailbox, sessions, pipelined and concurrent clients, and what
storaged does with broken input. Users: alice and bob from t/run.sh, plus
throwaway users made here with tools/xcadmin for the tests that use up a
user's failed-login budget or change a user's password or state.
"""
import os
import re
import secrets
import socket
import struct
import subprocess
import threading
import time

import xctest
from xctest import (ALICE, BOB, OK, E_AUTH, E_RATELIMIT, E_NOTFOUND,
                    E_SESSION, E_BADREQ, E_UNSUPPORTED, F_RESPONSE, F_MORE,
                    OP_HELLO, OP_AUTH, OP_RESOLVE, OP_LIST_FOLDERS, OP_LOGOFF,
                    T_STATUS, T_SESSION, T_ADDRESS, T_USER_ID, T_MAILBOX_ID,
                    T_SERVER_NAME, T_PROTO_VERSION, PR_DISPLAY_NAME,
                    PR_EMAIL_ADDRESS, PR_SMTP_ADDRESS, PR_FID, PR_PARENT_FID,
                    PR_CONTAINER_CLASS, PR_FOLDER_TYPE, PR_SUBFOLDERS,
                    PT_BINARY, check, tag)

MAX_FRAME = 262144          # max_frame in t/run.sh's storaged.conf
FAIL_MAX_USER = 5           # auth_fail_max_user in t/run.sh


# ------------------------------------------------------------ helpers ----
def connect():
    return xctest.Storaged()


def login(sd, who, remote="192.0.2.10"):
    """Log in; (status, session or None, reply props)."""
    st, props, _ = sd.login(who[0], who[1], remote)
    return st, props.get(T_SESSION), props


def resolve(sd, session, address):
    st, props, _ = sd.call(OP_RESOLVE, [(T_SESSION, session),
                                        (T_ADDRESS, address)])
    return st, props


def list_folders(sd, session, mailbox_id):
    st, _, rows = sd.call(OP_LIST_FOLDERS, [(T_SESSION, session),
                                            (T_MAILBOX_ID, mailbox_id)])
    return st, rows


def hello_works(sd):
    try:
        st, props, _ = sd.call(OP_HELLO)
        return st == OK
    except (OSError, EOFError):
        return False


def closed_by_peer(sd):
    """True when storaged has closed this connection (EOF or reset)."""
    try:
        return sd.read_frame() is None
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def xcadmin(*args, password=None):
    """tools/xcadmin as t/run.sh calls it (as xcdev when root); a password
    goes to its stdin."""
    rc, out = xctest.xcadmin(*args, password=password)
    if rc != 0:
        raise RuntimeError("xcadmin %s failed: %s" % (args[0], out))


def new_user(name):
    """A fresh user name-<random>@example.test, so that tests which use up
    a user's failed-login budget leave alice and bob alone; (address,
    password)."""
    address = "%s-%s@example.test" % (name, secrets.token_hex(3))
    password = secrets.token_hex(12)
    xcadmin("user-add", address, name.capitalize() + " Test", password=password)
    return address, password


def storaged_log():
    return xctest.log_text("storaged.log")


# -------------------------------------------------------------- tests ----
def a_client_says_hello():
    sd = connect()
    st, props, _ = sd.call(OP_HELLO)
    check("HELLO is answered OK", st == OK, props)
    check("HELLO names the server", str(props.get(T_SERVER_NAME, "")).startswith("storaged"),
          props)
    check("HELLO gives protocol version 1", props.get(T_PROTO_VERSION) == 1, props)
    sd.close()


def alice_logs_in():
    sd = connect()
    st, session, props = login(sd, ALICE)
    check("alice logs in with her password", st == OK, props)
    check("the session is 64 hex digits",
          re.fullmatch(r"[0-9a-f]{64}", session or "") is not None, session)
    check("the login reports her primary address",
          props.get(PR_SMTP_ADDRESS) == "alice@example.test", props)
    check("the login reports her display name",
          props.get(PR_DISPLAY_NAME) == "Alice Example", props)
    check("the login reports her legacy DN",
          str(props.get(PR_EMAIL_ADDRESS, "")).startswith("/o="), props)
    check("the login reports her user and mailbox ids",
          props.get(T_USER_ID, 0) > 0 and props.get(T_MAILBOX_ID, 0) > 0, props)
    sd.close()


def a_wrong_password_is_refused_and_logged():
    wrong = "wrong-" + secrets.token_hex(8)
    sd = connect()
    st, session, _ = login(sd, (ALICE[0], wrong), remote="198.51.100.23")
    check("a wrong password gets E_AUTH", st == E_AUTH, st)
    check("a refused login carries no session", session is None, session)
    log = storaged_log()
    check("the failure is logged with user and rhost",
          re.search(r"SD00010: authentication failed: user=alice@example\.test "
                    r"rhost=198\.51\.100\.23", log) is not None,
          "\n".join(l for l in log.splitlines() if "SD00010" in l)[-2000:])
    check("the wrong password is not in the log", wrong not in log)
    check("the right password is not in the log", ALICE[1] not in log)
    check("alice still logs in afterwards", login(sd, ALICE)[0] == OK)
    st, _, _ = login(sd, ("mallory\nSD00002: stopped", "x"))
    check("a user name with a newline is refused", st == E_AUTH, st)
    check("and logged escaped, on one line",
          "user=mallory\\x0asd00002:\\x20stopped rhost=" in storaged_log())
    sd.close()


def an_unknown_user_is_refused_in_comparable_time():
    """Timing must not tell unknown users from known ones (loosely: within
    a factor of four, medians of three tries)."""
    erin = new_user("erin")
    sd = connect()
    known, unknown, statuses = [], [], []
    for i in range(3):
        t = time.monotonic()
        statuses.append(login(sd, (erin[0], "not-her-password"))[0])
        known.append(time.monotonic() - t)
        t = time.monotonic()
        statuses.append(login(sd, ("nobody-%d@example.test" % i, "whatever"))[0])
        unknown.append(time.monotonic() - t)
    sd.close()
    check("unknown users and wrong passwords both get E_AUTH",
          statuses == [E_AUTH] * 6, statuses)
    k, u = sorted(known)[1], sorted(unknown)[1]
    check("an unknown user takes about as long as a wrong password",
          u > k / 4 and u < k * 4 + 0.05,
          "median known %.4fs, unknown %.4fs" % (k, u))


def too_many_failures_lock_the_user_out():
    carol = new_user("carol")
    sd = connect()
    check("carol logs in, so storaged remembers her login",
          login(sd, carol)[0] == OK)
    fails = [login(sd, (carol[0], "guess-%d" % i), remote="203.0.113.5")[0]
             for i in range(FAIL_MAX_USER)]
    check("%d wrong passwords each get E_AUTH" % FAIL_MAX_USER,
          fails == [E_AUTH] * FAIL_MAX_USER, fails)
    st, session, _ = login(sd, carol, remote="203.0.113.5")
    check("then even the right password gets E_RATELIMIT", st == E_RATELIMIT, st)
    check("and no session", session is None)
    st, _, _ = login(sd, carol, remote="192.0.2.77")
    check("the lock holds from another address too", st == E_RATELIMIT, st)
    check("the lockout is logged as SD00011 with the user",
          re.search(r"SD00011: too many failed logins: user=%s rhost=" %
                    re.escape(carol[0]), storaged_log()) is not None)
    check("other users still log in", login(sd, ALICE)[0] == OK)
    sd.close()


def a_successful_login_resets_the_failure_count():
    """Failures count towards the limit until the user gets in: a user who
    mistypes now and then is never locked out by old mistakes. (The same
    sequence must end the same way whether or not storaged remembers the
    earlier login.)"""
    gina = new_user("gina")
    sd = connect()
    check("gina logs in", login(sd, gina)[0] == OK)
    fails = [login(sd, (gina[0], "typo-%d" % i))[0] for i in range(FAIL_MAX_USER - 1)]
    check("she mistypes %d times" % (FAIL_MAX_USER - 1),
          fails == [E_AUTH] * (FAIL_MAX_USER - 1), fails)
    check("then gets it right", login(sd, gina)[0] == OK)
    check("mistypes once more", login(sd, (gina[0], "typo-again"))[0] == E_AUTH)
    st, _, _ = login(sd, gina)
    check("and is not locked out: her password still works", st == OK,
          "status %s (8 = E_RATELIMIT)" % st)
    sd.close()


def directory_changes_take_effect_at_once():
    """storaged remembers verified logins; a password change or a disabled
    account must still count from the next login on."""
    hank = new_user("hank")
    sd = connect()
    login(sd, hank)
    login(sd, hank)                     # now remembered
    new_password = secrets.token_hex(12)
    xcadmin("passwd", hank[0], password=new_password)
    check("after a password change the old password is refused",
          login(sd, hank)[0] == E_AUTH)
    check("and the new one works", login(sd, (hank[0], new_password))[0] == OK)
    xcadmin("disable", hank[0])
    check("a disabled account can't log in", login(sd, (hank[0], new_password))[0] == E_AUTH)
    xcadmin("enable", hank[0])
    check("and can again once enabled", login(sd, (hank[0], new_password))[0] == OK)
    sd.close()


def alice_resolves_her_own_addresses():
    sd = connect()
    _, session, me = login(sd, ALICE)
    st, props = resolve(sd, session, "alice@example.test")
    check("alice resolves her own address", st == OK, props)
    check("to her own mailbox", props.get(T_MAILBOX_ID) == me.get(T_MAILBOX_ID),
          props)
    st, props = resolve(sd, session, "alice.alias@other.test")
    check("alice resolves her alias", st == OK, props)
    check("the alias resolves to her primary address",
          props.get(PR_SMTP_ADDRESS) == "alice@example.test", props)
    st, props = resolve(sd, session, "Alice@Example.TEST")
    check("addresses resolve in any case", st == OK, props)
    st, props = resolve(sd, session, me[PR_EMAIL_ADDRESS])
    check("alice resolves her legacy DN", st == OK, props)
    check("the legacy DN resolves to her primary address",
          props.get(PR_SMTP_ADDRESS) == "alice@example.test", props)
    st, props = resolve(sd, session, me[PR_EMAIL_ADDRESS].upper())
    check("legacy DNs resolve in any case", st == OK, props)
    sd.close()


def alice_learns_nothing_about_other_mailboxes():
    sd = connect()
    _, session, _ = login(sd, ALICE)
    st, props = resolve(sd, session, "bob@example.test")
    check("bob's address with alice's session is NOTFOUND", st == E_NOTFOUND, props)
    check("and reveals nothing about bob",
          PR_DISPLAY_NAME not in props and T_MAILBOX_ID not in props, props)
    st, _ = resolve(sd, session, "nobody@example.test")
    check("an unknown address is NOTFOUND", st == E_NOTFOUND, st)
    st, _ = resolve(sd, session, "/o=First Organization/cn=nobody")
    check("an unknown legacy DN is NOTFOUND", st == E_NOTFOUND, st)
    sd.close()


def requests_without_a_valid_session_are_refused():
    sd = connect()
    st, _ = resolve(sd, "0" * 64, "alice@example.test")
    check("an unknown session gets E_SESSION", st == E_SESSION, st)
    st, _ = resolve(sd, "not-a-session", "alice@example.test")
    check("a malformed session gets E_SESSION", st == E_SESSION, st)
    st, _, _ = sd.call(OP_RESOLVE, [(T_ADDRESS, "alice@example.test")])
    check("a request without a session gets E_SESSION", st == E_SESSION, st)
    st, _ = list_folders(sd, "f" * 64, 1)
    check("listing folders with an unknown session gets E_SESSION",
          st == E_SESSION, st)
    sd.close()


SPECIAL = {                     # display name -> container class
    "Top of Information Store": None, "Inbox": "IPF.Note",
    "Outbox": "IPF.Note", "Sent Items": "IPF.Note",
    "Deleted Items": "IPF.Note", "Drafts": "IPF.Note",
    "Calendar": "IPF.Appointment", "Contacts": "IPF.Contact",
    "Tasks": "IPF.Task", "Notes": "IPF.StickyNote",
    "Journal": "IPF.Journal", "Junk E-mail": "IPF.Note",
}
IPM_CHILDREN = set(SPECIAL) - {"Top of Information Store"}


def a_new_mailbox_has_the_special_folders():
    sd = connect()
    _, session, me = login(sd, ALICE)
    st, rows = list_folders(sd, session, me[T_MAILBOX_ID])
    check("alice lists her folders", st == OK, st)
    by_name = {r.get(PR_DISPLAY_NAME): r for r in rows}
    roots = [r for r in rows if PR_PARENT_FID not in r]
    check("there is exactly one root, without a parent", len(roots) == 1, roots)
    root = roots[0] if roots else {}
    check("the root is of folder type 0 and has subfolders",
          root.get(PR_FOLDER_TYPE) == 0 and root.get(PR_SUBFOLDERS) == 1, root)
    missing = [n for n in SPECIAL if n not in by_name]
    check("every special folder is listed", not missing, missing)
    wrong = [(n, by_name[n].get(PR_CONTAINER_CLASS)) for n in SPECIAL
             if n in by_name and by_name[n].get(PR_CONTAINER_CLASS) != SPECIAL[n]]
    check("each has its container class", not wrong, wrong)
    ipm = by_name.get("Top of Information Store", {})
    check("Top of Information Store hangs off the root",
          ipm.get(PR_PARENT_FID) == root.get(PR_FID), ipm)
    strays = [n for n in IPM_CHILDREN
              if n in by_name and by_name[n].get(PR_PARENT_FID) != ipm.get(PR_FID)]
    check("the mail folders hang off Top of Information Store", not strays, strays)

    seen, late = set(), []
    for r in rows:
        if PR_PARENT_FID in r and r[PR_PARENT_FID] not in seen:
            late.append(r.get(PR_DISPLAY_NAME))
        seen.add(r.get(PR_FID))
    check("every parent comes before its children", not late, late)
    fids = [r.get(PR_FID) for r in rows]
    check("folder ids are unique", len(set(fids)) == len(fids), fids)
    check("folder ids carry replica id 1 in the low 16 bits",
          all(f is not None and f & 0xFFFF == 1 for f in fids),
          ["%016x" % (f or 0) for f in fids])
    sd.close()


def alice_cannot_list_bobs_folders():
    sd = connect()
    _, _, bob = login(sd, BOB)
    _, session, _ = login(sd, ALICE)
    st, rows = list_folders(sd, session, bob[T_MAILBOX_ID])
    check("listing bob's mailbox with alice's session is NOTFOUND",
          st == E_NOTFOUND, st)
    check("and gives no rows", rows == [], rows)
    sd.close()


def a_logged_off_session_is_gone():
    dave = new_user("dave")
    sd = connect()
    _, session, _ = login(sd, dave)
    st, _, _ = sd.call(OP_LOGOFF, [(T_SESSION, session)])
    check("LOGOFF is answered OK", st == OK, st)
    st, _ = resolve(sd, session, dave[0])
    check("the session is invalid after LOGOFF", st == E_SESSION, st)
    st, again, _ = login(sd, dave)
    check("a new login gets a new session", st == OK and again != session)
    sd.close()


def pipelined_requests_are_all_answered():
    """20 mixed requests sent before reading; answers may come in any
    order, matched by request id."""
    sd = connect()
    _, session, me = login(sd, ALICE)
    kinds = [(OP_HELLO, []),
             (OP_RESOLVE, [(T_SESSION, session), (T_ADDRESS, "alice@example.test")]),
             (OP_LIST_FOLDERS, [(T_SESSION, session), (T_MAILBOX_ID, me[T_MAILBOX_ID])]),
             (OP_AUTH, [(xctest.T_USER, ALICE[0]), (xctest.T_PASSWORD, ALICE[1]),
                        (xctest.T_REMOTE, "192.0.2.10")]),
             (OP_RESOLVE, [(T_SESSION, session), (T_ADDRESS, "bob@example.test")])]
    expect = {OP_HELLO: OK, OP_RESOLVE: None, OP_LIST_FOLDERS: OK, OP_AUTH: OK}
    sent = {}
    data = b""
    for i in range(20):
        op, props = kinds[i % len(kinds)]
        reqid = 7000 + 13 * i
        sent[reqid] = (op, props)
        data += xctest.frame(op, reqid, xctest.enc_props(props))
    sd.send_raw(data)
    finals, rows, strays = {}, {}, []
    while len(finals) < len(sent):
        fr = sd.read_frame()
        if fr is None:
            break
        flags, op, reqid, payload = fr
        if reqid not in sent or reqid in finals or op != sent[reqid][0] or \
                not flags & F_RESPONSE:
            strays.append((flags, op, reqid))
            continue
        props = xctest.dec_props(payload)
        if flags & F_MORE:
            rows[reqid] = rows.get(reqid, 0) + 1
        else:
            finals[reqid] = props.get(T_STATUS)
    check("all 20 pipelined requests are answered", len(finals) == 20,
          sorted(set(sent) - set(finals)))
    check("every answer carries a request id and opcode that was sent",
          not strays, strays)
    bad = []
    for reqid, (op, props) in sent.items():
        want = expect[op]
        if op == OP_RESOLVE:
            want = OK if props[1][1] == "alice@example.test" else E_NOTFOUND
        if finals.get(reqid) != want:
            bad.append((reqid, op, finals.get(reqid), want))
    check("each answer has the status of its own request", not bad, bad)
    lists = [rows.get(r, 0) for r, (op, _) in sent.items() if op == OP_LIST_FOLDERS]
    check("each folder listing got its own rows",
          lists and all(n == lists[0] and n >= 13 for n in lists), lists)
    sd.close()


def concurrent_clients_all_succeed():
    """16 connections at once, each doing 50 login + resolve round trips."""
    errors = []

    def client(n):
        try:
            sd = connect()
            for i in range(50):
                st, session, _ = login(sd, ALICE, remote="192.0.2.%d" % (n + 1))
                if st != OK:
                    errors.append((n, i, "login", st))
                    continue
                st, props = resolve(sd, session, "alice@example.test")
                if st != OK or props.get(PR_SMTP_ADDRESS) != "alice@example.test":
                    errors.append((n, i, "resolve", st))
            sd.close()
        except Exception as e:          # noqa: BLE001 - reported below
            errors.append((n, "exception", repr(e)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    check("16 concurrent clients x 50 login+resolve all succeed",
          not errors and not any(th.is_alive() for th in threads),
          errors[:20])
    print("# 800 round trip pairs in %.2fs" % (time.monotonic() - t))


def a_frame_of_another_version_closes_the_connection():
    sd = connect()
    sd.send_raw(xctest.frame(OP_HELLO, 1, version=2))
    check("a frame with version 2 closes the connection", closed_by_peer(sd))
    sd.close()
    sd = connect()
    check("a new connection still works", hello_works(sd))
    sd.close()


def an_oversized_frame_closes_the_connection():
    sd = connect()
    # only the header: storaged must refuse by the length field alone
    sd.send_raw(struct.pack("<IBBHI", MAX_FRAME + 1, 1, 0, OP_HELLO, 1))
    check("a frame announcing more than max_frame closes the connection",
          closed_by_peer(sd))
    sd.close()
    sd = connect()
    check("storaged survives it", hello_works(sd))
    sd.close()


def a_frame_of_exactly_max_frame_is_accepted():
    sd = connect()
    pad_tag = tag(PT_BINARY, 0x00FF)        # an argument HELLO ignores
    pad = MAX_FRAME - 12 - 8                # header, tag + count
    data = xctest.frame(OP_HELLO, 5, xctest.enc_props([(pad_tag, b"x" * pad)]))
    check("the test frame is max_frame bytes long", len(data) == MAX_FRAME, len(data))
    sd.send_raw(data)
    try:
        _, st, _, _ = sd.reply()
    except (OSError, EOFError) as e:
        st = repr(e)
    check("a frame of exactly max_frame bytes is served", st == OK, st)
    sd.close()


def a_truncated_property_is_a_bad_request():
    sd = connect()
    payload = struct.pack("<II", T_ADDRESS, 100) + b"abc"  # says 100, has 3
    sd.send_raw(xctest.frame(OP_RESOLVE, 42, payload))
    reqid, st, _, _ = sd.reply()
    check("a truncated property gets E_BADREQ", st == E_BADREQ and reqid == 42,
          (reqid, st))
    check("the same connection still answers HELLO", hello_works(sd))
    sd.close()


def an_unknown_opcode_is_unsupported():
    sd = connect()
    st, _, _ = sd.call(999)
    check("opcode 999 gets E_UNSUPPORTED", st == E_UNSUPPORTED, st)
    check("the connection lives on", hello_works(sd))
    sd.close()


def invalid_utf8_is_a_bad_request():
    sd = connect()
    _, session, _ = login(sd, ALICE)
    bad = struct.pack("<I", T_ADDRESS) + struct.pack("<I", 5) + b"\xff\xfe@x."
    sd.send_raw(xctest.frame(OP_RESOLVE, 43, xctest.enc_props(
        [(T_SESSION, session)]) + bad))
    reqid, st, _, _ = sd.reply()
    check("PT_STRING8 with invalid UTF-8 gets E_BADREQ", st == E_BADREQ, st)
    st, _, _ = sd.login(ALICE[0], b"\xc0\xaf" + ALICE[1].encode())
    check("an overlong UTF-8 password gets E_BADREQ", st == E_BADREQ, st)
    check("the connection lives on", hello_works(sd))
    sd.close()


def too_many_properties_are_a_bad_request():
    sd = connect()
    # XW_MAX_PROPS: 4096 properties in one frame
    pad = [(tag(xctest.PT_LONG, 0x0020), i) for i in range(4096)]
    sd.send_raw(xctest.frame(OP_HELLO, 45, xctest.enc_props(pad)))
    check("4096 properties in a request are fine", sd.reply()[1] == OK)
    sd.send_raw(xctest.frame(OP_HELLO, 46, xctest.enc_props(pad + pad[:1])))
    check("4097 properties get E_BADREQ", sd.reply()[1] == E_BADREQ)
    sd.send_raw(xctest.frame(OP_HELLO, 47, struct.pack(
        "<IB", tag(xctest.PT_BOOLEAN, 0x0020), 2)))
    check("a boolean other than 0 or 1 gets E_BADREQ", sd.reply()[1] == E_BADREQ)
    check("the connection lives on", hello_works(sd))
    sd.close()


def a_request_flagged_as_response_is_a_bad_request():
    sd = connect()
    sd.send_raw(xctest.frame(OP_HELLO, 44, flags=F_RESPONSE))
    reqid, st, _, _ = sd.reply()
    check("a request with the RESPONSE flag gets E_BADREQ",
          st == E_BADREQ and reqid == 44, (reqid, st))
    check("the connection lives on", hello_works(sd))
    sd.close()


def other_local_users_cannot_connect():
    mode = os.stat(xctest.SOCKET).st_mode & 0o777
    check("the socket is not open to other users (mode %o)" % mode,
          mode & 0o007 == 0)
    if os.geteuid() != 0:
        print("# skipped: needs root to run a client as nobody")
        return
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n"
             "    s.connect(sys.argv[1]); print('connected')\n"
             "except PermissionError: print('denied')\n"
             "except OSError as e: print('error', e)\n")
    r = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3",
                        "-c", probe, xctest.SOCKET], capture_output=True,
                       text=True, timeout=30, cwd="/")
    check("user nobody gets permission denied on the socket",
          r.stdout.strip() == "denied", r.stdout + r.stderr)


xctest.run_tests(
    a_client_says_hello,
    alice_logs_in,
    a_wrong_password_is_refused_and_logged,
    an_unknown_user_is_refused_in_comparable_time,
    too_many_failures_lock_the_user_out,
    a_successful_login_resets_the_failure_count,
    directory_changes_take_effect_at_once,
    alice_resolves_her_own_addresses,
    alice_learns_nothing_about_other_mailboxes,
    requests_without_a_valid_session_are_refused,
    a_new_mailbox_has_the_special_folders,
    alice_cannot_list_bobs_folders,
    a_logged_off_session_is_gone,
    pipelined_requests_are_all_answered,
    concurrent_clients_all_succeed,
    a_frame_of_another_version_closes_the_connection,
    an_oversized_frame_closes_the_connection,
    a_frame_of_exactly_max_frame_is_accepted,
    a_truncated_property_is_a_bad_request,
    an_unknown_opcode_is_unsupported,
    invalid_utf8_is_a_bad_request,
    too_many_properties_are_a_bad_request,
    a_request_flagged_as_response_is_a_bad_request,
    other_local_users_cannot_connect,
)
