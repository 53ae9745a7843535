#!/usr/bin/python3
"""test_import - the admin's import and export of mail (xc-mail, xcadmin).

An admin moves Alice's old mail in: an mbox of 300 messages (some with
"From " lines in their bodies, escaped as mboxrd writers do), a Maildir
and a single .eml. The folders named are created, every message lands
once with its bytes (CRLF line ends, "From " lines unescaped), a message
storaged refuses (too many MIME parts) is named in the summary with the
reason and the rest go on, and on a terminal a progress bar is drawn.
Exporting the folder gives an mbox that Python's mailbox module (an
independent reader) parses into the same messages, and importing that
export again gives the same bytes. Unknown users and folders, and a full
mailbox, stop the tool with a clear message.

Everything goes through storaged with a trusted login (tests run as
root); tools/xc_mail.c says what the tool does.
"""
import datetime
import email
import email.utils
import mailbox
import os
import re
import shutil
import subprocess
import tempfile

import xctest
from xctest import ALICE, OK, check, psql
from test_store import Mailbox, T_TOTAL, PR_MID, PR_SUBJECT, PR_MESSAGE_FLAGS
from xctest import tag, PT_LONG
from test_mime import get_mime

TOOL = os.path.join(xctest.DIR, "lib", "xc-mail")
PR_FLAG_STATUS = tag(PT_LONG, 0x1090)
ENV = dict(os.environ, XC_SOCKET=xctest.SOCKET)
WORK = tempfile.mkdtemp(prefix="xc-import-")


def run(*args, tty=False):
    """(exit code, stdout, stderr) of xc-mail, on a pseudo-terminal if asked
    (then stdout and stderr come together)."""
    cmd = [TOOL] + list(args)
    if tty:
        line = " ".join("'%s'" % a.replace("'", "'\\''") for a in cmd)
        p = subprocess.run(["script", "-qec", line, "/dev/null"], env=ENV,
                           capture_output=True, text=True, errors="replace")
        return p.returncode, p.stdout, p.stdout
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, errors="replace")
    return p.returncode, p.stdout, p.stderr


def message(i, body_extra=""):
    return ("From: Sender %d <s%d@example.org>\n"
            "To: alice@example.test\n"
            "Subject: Old mail %04d\n"
            "Date: %s\n"
            "Message-ID: <old-%d@example.org>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "\n"
            "Hello %d,\n%s\nregards\n" % (i, i, i, email.utils.format_datetime(
                datetime.datetime(2018, 1, 1, 10, tzinfo=datetime.timezone.utc) +
                datetime.timedelta(minutes=i)), i, i, body_extra))


def write_mbox(path, texts):
    """mboxrd: From_ line, ">" added before every ">*From " line, blank line."""
    with open(path, "w") as f:
        for t in texts:
            f.write("From MAILER-DAEMON Mon Jan  1 10:00:00 2018\n")
            for line in t.split("\n")[:-1]:
                if re.match(r">*From ", line):
                    line = ">" + line
                f.write(line + "\n")
            f.write("\n")


def folder_fid(mb, path):
    """The fid of a folder path below the top of the tree, or None."""
    st, _, rows = mb.sd.call(xctest.OP_LIST_FOLDERS, [(xctest.T_SESSION, mb.session),
                                                     (xctest.T_MAILBOX_ID, mb.id)])
    cur = [r[xctest.PR_FID] for r in rows if r.get(xctest.PR_XC_SPECIAL_FOLDER) == 4][0]
    for name in path.split("/"):
        kids = [r[xctest.PR_FID] for r in rows if r.get(xctest.PR_PARENT_FID) == cur and
                r.get(xctest.PR_DISPLAY_NAME, "").lower() == name.lower()]
        if not kids:
            return None
        cur = kids[0]
    return cur


def subjects(mb, fid):
    total, rows = mb.every_row(fid, [PR_MID, PR_SUBJECT], page=500)
    return total, {r.get(PR_SUBJECT): r.get(PR_MID) for r in rows}


def an_mbox_is_imported_into_a_new_folder():
    texts = [message(i, "From the archive: line %d\n>From quoted\n" % i if i % 7 == 0 else "")
             for i in range(300)]
    path = os.path.join(WORK, "old.mbox")
    write_mbox(path, texts)
    code, out, err = run("import", ALICE[0], "Inbox/Old mail", path)
    check("xc-mail imports 300 messages from an mbox", code == 0, (code, out, err))
    check("and says so in its summary", "imported 300 of 300 messages (0 refused)" in out, out)
    mb = Mailbox()
    fid = folder_fid(mb, "Inbox/Old mail")
    check("the folder Inbox/Old mail was created", fid is not None)
    total, subj = subjects(mb, fid) if fid else (0, {})
    check("it holds the 300 messages, each once",
          total == 300 and all("Old mail %04d" % i in subj for i in range(300)), total)
    mid = subj.get("Old mail 0007")
    st, _, back = get_mime(mb, mid) if mid else (None, None, b"")
    want = texts[7].replace("\n", "\r\n").encode()
    check("a message comes back with CRLF line ends and its From lines unescaped",
          st == OK and back == want, back[-200:])
    mb.close()


def a_maildir_and_an_eml_are_imported():
    md = os.path.join(WORK, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    for i in range(5):
        sub = "cur" if i < 3 else "new"
        name = "1514800000.%d_%d.host%s" % (i, i, (":2,FS" if i == 0 else ":2,S")
                                            if sub == "cur" else "")
        with open(os.path.join(md, sub, name), "w") as f:
            f.write(message(1000 + i))
    eml = os.path.join(WORK, "single.eml")
    with open(eml, "w") as f:
        f.write(message(2000))
    code, out, err = run("import", "-j", "2", ALICE[0], "Maildir import", md, eml)
    check("a Maildir and an .eml import together", code == 0 and
          "imported 6 of 6 messages" in out, (code, out, err))
    mb = Mailbox()
    fid = folder_fid(mb, "Maildir import")
    total, subj = subjects(mb, fid) if fid else (0, {})
    check("all six are there", total == 6 and "Old mail 2000" in subj and
          "Old mail 1004" in subj, (total, sorted(subj)))
    state = {}
    for k in ("Old mail 1000", "Old mail 1001", "Old mail 1003", "Old mail 2000"):
        _, got, _ = mb.get(subj.get(k, 0))
        state[k] = ((got.prop(PR_MESSAGE_FLAGS) or 0) & 1 if got else None,
                    got.prop(PR_FLAG_STATUS) if got else None)
    check("Maildir's flags become read and flagged state (S, F); new/ is unread",
          state == {"Old mail 1000": (1, 2), "Old mail 1001": (1, None),
                    "Old mail 1003": (0, None), "Old mail 2000": (0, None)}, state)
    mb.close()


def an_mbox_keeps_read_and_flagged_state():
    seen = message(7000).replace("MIME-Version", "Status: RO\nX-Status: F\nMIME-Version")
    unseen = message(7001).replace("MIME-Version", "Status: O\nMIME-Version")
    path = os.path.join(WORK, "status.mbox")
    write_mbox(path, [seen, unseen])
    code, out, err = run("import", ALICE[0], "Status", path)
    mb = Mailbox()
    _, subj = subjects(mb, folder_fid(mb, "Status"))
    got = {k: mb.get(v)[1] for k, v in subj.items()}
    a, b = got.get("Old mail 7000"), got.get("Old mail 7001")
    check("an mbox's Status: R and X-Status: F come in as read and flagged",
          code == 0 and a is not None and (a.prop(PR_MESSAGE_FLAGS) or 0) & 1 and
          a.prop(PR_FLAG_STATUS) == 2 and b is not None and
          not (b.prop(PR_MESSAGE_FLAGS) or 0) & 1 and b.prop(PR_FLAG_STATUS) is None,
          (code, err, a and a.props[:3]))
    mb.close()


def a_refused_message_is_named_and_the_rest_go_on():
    parts = "".join("--b\nContent-Type: text/plain\n\npart %d\n" % i for i in range(1200))
    bad = ("From: x@example.org\nSubject: too many parts\nMIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=b\n\n%s--b--\n" % parts)
    path = os.path.join(WORK, "mixed.mbox")
    write_mbox(path, [message(3000), bad, message(3001)])
    code, out, err = run("import", ALICE[0], "Mixed", path)
    check("one refused message makes the exit code 1", code == 1, (code, out, err))
    check("the summary counts it", "imported 2 of 3 messages (1 refused)" in out, out)
    check("and names it with storaged's reason",
          re.search(r"refused: mbox message 2: bad request: MIME refused: .*part", err) is not None,
          err)
    mb = Mailbox()
    total, subj = subjects(mb, folder_fid(mb, "Mixed"))
    check("the other two are imported", total == 2, (total, sorted(subj)))
    mb.close()


def a_terminal_gets_a_progress_bar():
    path = os.path.join(WORK, "progress.mbox")
    write_mbox(path, [message(4000 + i) for i in range(400)])
    code, out, _ = run("import", "-j", "1", ALICE[0], "Progress", path, tty=True)
    check("on a terminal the import draws a progress bar",
          code == 0 and re.search(r"import \[[#.]{30}\] +100% 400/400", out) is not None,
          out[-400:])
    code, out, err = run("import", ALICE[0], "Progress", path)
    check("without a terminal there is no bar, only the summary",
          code == 0 and "[" not in err and "imported 400 of 400" in out, (err[-300:], out))


def export_gives_an_mbox_others_can_read():
    out_path = os.path.join(WORK, "export.mbox")
    code, out, err = run("export", ALICE[0], "Inbox/Old mail", out_path)
    check("xc-mail exports the folder", code == 0 and
          "exported 300 of 300 messages" in err, (code, out, err))
    box = mailbox.mbox(out_path)
    msgs = list(box)
    check("Python's mailbox module reads 300 messages", len(msgs) == 300, len(msgs))
    by_subject = {m["Subject"]: m for m in msgs}
    m7 = by_subject.get("Old mail 0007")
    body = m7.get_payload() if m7 is not None else ""
    check("with their headers and bodies, From lines as they were",
          m7 is not None and "From the archive: line 7" in body and ">From quoted" in body and
          m7["Message-ID"] == "<old-7@example.org>", body)
    check("oldest first", [m["Subject"] for m in msgs[:2]] ==
          ["Old mail 0000", "Old mail 0001"], [m["Subject"] for m in msgs[:3]])
    code, out, err = run("import", ALICE[0], "Round trip", out_path)
    check("the export imports again", code == 0 and "imported 300 of 300" in out, (out, err))
    mb = Mailbox()
    _, a = subjects(mb, folder_fid(mb, "Inbox/Old mail"))
    _, b = subjects(mb, folder_fid(mb, "Round trip"))
    same = [s for s in a if s in b and get_mime(mb, a[s])[2] == get_mime(mb, b[s])[2]]
    check("with the same bytes, message by message", len(same) == 300, len(same))
    mb.close()


def mistakes_stop_the_tool_clearly():
    code, _, err = run("import", "nobody@example.test", "Inbox", os.path.join(WORK, "old.mbox"))
    check("an unknown user stops it (exit 2)", code == 2 and "no such user" in err, err)
    code, _, err = run("export", ALICE[0], "No such folder")
    check("an unknown folder stops an export (exit 2)",
          code == 2 and "no folder No such folder" in err, err)
    code, _, err = run("import", ALICE[0], "Inbox", os.path.join(WORK, "missing.mbox"))
    check("a missing source stops it (exit 2)", code == 2 and "missing.mbox" in err, err)
    code, out = xctest.xcadmin("quota", "bob@example.test", "20000")
    path = os.path.join(WORK, "big.mbox")
    write_mbox(path, [message(5000 + i, "x" * 3000) for i in range(30)])
    code, out, err = run("import", "-j", "1", "bob@example.test", "Quota", path)
    check("a full mailbox stops the import and says why",
          code == 1 and "stopped: quota exceeded" in err and "not tried" in err, (code, out, err))
    xctest.xcadmin("quota", "bob@example.test", "none")


def xcadmin_runs_the_tool():
    path = os.path.join(WORK, "admin.mbox")
    write_mbox(path, [message(6000)])
    env = dict(os.environ, XC_MAIL=TOOL, XC_SOCKET=xctest.SOCKET)
    p = subprocess.run([os.path.join(xctest.SRC, "tools", "xcadmin"), "import", ALICE[0],
                        "Via xcadmin", path], env=env, capture_output=True, text=True)
    check("xcadmin import works like xc-mail import",
          p.returncode == 0 and "imported 1 of 1" in p.stdout, (p.stdout, p.stderr))


def the_store_adds_up():
    mb = Mailbox()
    check("counts, bytes and blob references add up", xctest.store_mismatches(mb.id) == [],
          xctest.store_mismatches(mb.id))
    mb.close()
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    xctest.run_tests(
        an_mbox_is_imported_into_a_new_folder,
        a_maildir_and_an_eml_are_imported,
        an_mbox_keeps_read_and_flagged_state,
        a_refused_message_is_named_and_the_rest_go_on,
        a_terminal_gets_a_progress_bar,
        export_gives_an_mbox_others_can_read,
        mistakes_stop_the_tool_clearly,
        xcadmin_runs_the_tool,
        the_store_adds_up,
    )
