#!/usr/bin/python3
"""test_permissions - folder permissions and shared folders ([MS-OXCPERM]).

Bob can't see into Alice's mailbox until she shares a folder. As a
Reviewer he finds her mailbox, sees only that folder (with his rights),
reads its messages in every way (contents, GET_MESSAGE, GET_MIME,
READ_PROP) and marks them read, but can't write, delete, create folders or
change permissions, nor read her other folders. As an Author he creates
messages and changes or deletes his own but not hers; as an Editor hers
too. A Default row gives everyone rights; an explicit row wins over it;
removing his row takes his rights away. With FolderOwner he manages the
folder's permissions himself and owns the subfolders he creates. Bad
changes are refused whole. Operations not yet open to delegates stay the
owner's.

The contract is lib/xc_wire.h (XW_RIGHT_*, ops 34, 35) and
sql/008_permissions.sql.
"""
import select
import time

import xctest
from xctest import (ALICE, BOB, OK, E_BADREQ, E_NOTFOUND, E_PERM, T_ERRMSG,
                    OP_COPY_MESSAGES, OP_DELETE_FOLDER, T_FOLDER_FLAGS, T_NEW_MIDS,
                    T_SESSION, T_MAILBOX_ID, T_ADDRESS, PR_FID, PR_DISPLAY_NAME,
                    PR_SMTP_ADDRESS, PT_LONG, PT_I8, PT_STRING8, OP_RESOLVE,
                    OP_LIST_FOLDERS, OP_MOVE_MESSAGES, check, tag,
                    store_mismatches)
from test_store import (Mailbox, a_note, T_TOTAL, T_MIDS, PR_MID, PR_SUBJECT,
                        OP_CREATE_FOLDER, OP_SAVE_MESSAGE, OP_GET_MESSAGE,
                        OP_DELETE_MESSAGES, OP_CONTENTS, OP_SET_READ, T_COLUMNS,
                        T_READ, INBOX, START_MESSAGE, END_MESSAGE)
from test_mime import OP_IMPORT_MIME, OP_GET_MIME, answer, send_stream

OP_READ_PROP, OP_GET_PERMISSIONS, OP_SET_PERMISSIONS = 33, 34, 35
OP_SUBSCRIBE, OP_SET_PROPS, OP_GET_FOLDER = 18, 26, 28
OP_CHANGES, OP_MOVE_FOLDER, OP_COPY_FOLDER, OP_EMPTY_FOLDER = 16, 21, 22, 23
T_CN = tag(PT_I8, 0x18)
T_RECURSIVE = tag(xctest.PT_BOOLEAN, 0x31)
PR_FLAG_STATUS = tag(PT_LONG, 0x1090)
T_PROPTAG = tag(PT_LONG, 0x42)
PR_MEMBER_ID = tag(PT_I8, 0x6671)
PR_MEMBER_NAME = tag(PT_STRING8, 0x6672)
PR_MEMBER_RIGHTS = tag(PT_LONG, 0x6673)
PR_RIGHTS = tag(PT_LONG, 0x6639)
READ_ANY, CREATE, EDIT_OWNED, DELETE_OWNED = 0x1, 0x2, 0x8, 0x10
EDIT_ANY, DELETE_ANY, CREATE_SUBFOLDER, FOLDER_OWNER = 0x20, 0x40, 0x80, 0x100
FOLDER_VISIBLE = 0x400
REVIEWER = READ_ANY | FOLDER_VISIBLE
AUTHOR = REVIEWER | CREATE | EDIT_OWNED | DELETE_OWNED
EDITOR = AUTHOR | EDIT_ANY | DELETE_ANY
S = {}


def set_perms(mb, fid, *changes, mailbox_id=None):
    args = [(PR_FID, fid)]
    for who, rights in changes:
        args += [(T_ADDRESS, who), (PR_MEMBER_RIGHTS, rights)]
    return mb.ask(OP_SET_PERMISSIONS, args, mailbox_id=mailbox_id)


def perms(mb, fid, mailbox_id=None):
    r = mb.ask(OP_GET_PERMISSIONS, [(PR_FID, fid)], mailbox_id=mailbox_id)
    return r, {row.get(PR_MEMBER_NAME): row.get(PR_MEMBER_RIGHTS) for row in r.rows}


def pushes_for(mb, seconds):
    """Notification frames that reach mb's connection within seconds."""
    got, end = [], time.time() + seconds
    while time.time() < end:
        if not mb.sd.buf and not select.select([mb.sd.s], [], [], end - time.time())[0]:
            break
        fr = mb.sd.read_frame()
        if fr is None:
            break
        if fr[0] & xctest.F_PUSH:
            got.append(xctest.dec_props(fr[3]))
    return got


def in_alice(bob, op, args):
    return bob.ask(op, args, mailbox_id=S["alice_mbx"])


def setup_alice_shares_nothing_yet():
    alice = Mailbox(ALICE)
    S["alice_mbx"] = alice.id
    S["shared"], _ = alice.new_folder("Shared")
    S["inbox"] = alice.special(INBOX)
    S["hers"] = [alice.save(a_note("Team plan %d" % i), fid=S["shared"]).get(PR_MID)
                 for i in range(2)]
    S["private"] = alice.save(a_note("Private"), fid=S["inbox"]).get(PR_MID)
    r, rows = perms(alice, S["shared"])
    check("a new folder's permissions are a Default row with no rights",
          r.status == OK and rows == {"Default": 0}, (r, rows))
    alice.close()
    bob = Mailbox(BOB)
    r = bob.ask(OP_LIST_FOLDERS, [], mailbox_id=S["alice_mbx"])
    check("Bob can't list Alice's folders: no such mailbox", r.status == E_NOTFOUND, r)
    st, _, _ = bob.sd.call(OP_RESOLVE, [(T_SESSION, bob.session), (T_ADDRESS, ALICE[0])])
    check("nor resolve her address to her mailbox", st == E_NOTFOUND, st)
    bob.close()


def a_reviewer_reads_the_shared_folder_only():
    alice = Mailbox(ALICE)
    r = set_perms(alice, S["shared"], (BOB[0], REVIEWER))
    check("Alice makes Bob a Reviewer of Shared", r.status == OK, r)
    r, rows = perms(alice, S["shared"])
    check("the folder's permissions show him by name",
          rows == {"Default": 0, "Bob Example": REVIEWER}, rows)
    alice.close()
    bob = Mailbox(BOB)
    st, p, _ = bob.sd.call(OP_RESOLVE, [(T_SESSION, bob.session), (T_ADDRESS, ALICE[0])])
    check("Bob now resolves Alice's address to her mailbox",
          st == OK and p.get(T_MAILBOX_ID) == S["alice_mbx"], (st, p))
    r = in_alice(bob, OP_LIST_FOLDERS, [])
    seen = [(row.get(PR_FID), row.get(PR_RIGHTS)) for row in r.rows]
    check("he sees only Shared, with his rights", r.status == OK and
          seen == [(S["shared"], REVIEWER)], [row.get(PR_DISPLAY_NAME) for row in r.rows])
    r = in_alice(bob, OP_CONTENTS, [(PR_FID, S["shared"]), (T_COLUMNS, [PR_MID, PR_SUBJECT])])
    check("he lists its messages", r.status == OK and r.get(T_TOTAL) == 2, r)
    r = in_alice(bob, OP_GET_MESSAGE, [(PR_MID, S["hers"][0])])
    check("opens one", r.status == OK and r.props.get(PR_SUBJECT) == "Team plan 0", r.status)
    rid = bob.sd.send(OP_GET_MIME, [(T_SESSION, bob.session), (T_MAILBOX_ID, S["alice_mbx"]),
                                    (PR_MID, S["hers"][0])])
    st, _, mime = answer(bob, rid)
    check("reads its MIME", st == OK and b"Subject: Team plan 0" in mime, st)
    rid = bob.sd.send(OP_READ_PROP, [(T_SESSION, bob.session), (T_MAILBOX_ID, S["alice_mbx"]),
                                     (PR_MID, S["hers"][0]), (T_PROPTAG, PR_SUBJECT)])
    st, _, data = answer(bob, rid)
    check("and its properties one by one", st == OK and
          data == "Team plan 0".encode("utf-16-le"), st)
    r = in_alice(bob, OP_SET_READ, [(T_MIDS, [S["hers"][0]]), (T_READ, 1)])
    check("and marks it read", r.status == OK and r.get(T_TOTAL) == 1, r)
    r = in_alice(bob, OP_GET_FOLDER, [(PR_FID, S["shared"])])
    check("he reads the folder's properties", r.status == OK, r)
    r = in_alice(bob, OP_SUBSCRIBE, [(PR_FID, S["shared"])])
    check("and subscribes to its notifications", r.status == OK, r)
    alice = Mailbox(ALICE)
    new = alice.save(a_note("Team plan 2"), fid=S["shared"]).get(PR_MID)
    alice.close()
    pushed = pushes_for(bob, 3.0)
    check("a message Alice adds reaches him at once",
          any(p.get(PR_MID) == new for p in pushed), pushed)
    denied = {
        "reading her Inbox": (OP_CONTENTS, [(PR_FID, S["inbox"]), (T_COLUMNS, [PR_MID])]),
        "opening a message of her Inbox": (OP_GET_MESSAGE, [(PR_MID, S["private"])]),
        "marking it read": (OP_SET_READ, [(T_MIDS, [S["private"]]), (T_READ, 1)]),
        "creating a message in Shared": (OP_SAVE_MESSAGE, [(PR_FID, S["shared"])] +
                                         a_note("from Bob").encode()),
        "saving over hers": (OP_SAVE_MESSAGE, [(PR_MID, S["hers"][1])] +
                             a_note("changed by Bob").encode()),
        "deleting hers": (OP_DELETE_MESSAGES, [(T_MIDS, [S["hers"][1]])]),
        "creating a subfolder": (OP_CREATE_FOLDER, [(xctest.PR_PARENT_FID, S["shared"]),
                                                    (PR_DISPLAY_NAME, "Bob's")]),
        "changing the permissions": (OP_SET_PERMISSIONS, [(PR_FID, S["shared"]),
                                                          (T_ADDRESS, "default"),
                                                          (PR_MEMBER_RIGHTS, EDITOR)]),
        "flagging hers (SET_PROPS)": (OP_SET_PROPS, [(PR_MID, S["hers"][1]), (START_MESSAGE, 0),
                                                     (PR_FLAG_STATUS, 2), (END_MESSAGE, 0)]),
        "renaming the folder": (OP_SET_PROPS, [(PR_FID, S["shared"]), (START_MESSAGE, 0),
                                               (PR_DISPLAY_NAME, "Mine now"), (END_MESSAGE, 0)]),
        "her Inbox's properties": (OP_GET_FOLDER, [(PR_FID, S["inbox"])]),
        "her whole mailbox's notifications": (OP_SUBSCRIBE, []),
    }
    for what, (op, args) in denied.items():
        r = in_alice(bob, op, args)
        check("a Reviewer is refused %s (E_PERM)" % what,
              r.status == E_PERM and "access denied" in (r.get(T_ERRMSG) or ""), r)
    st, p, _ = send_stream(bob, OP_IMPORT_MIME, [(PR_FID, S["shared"])],
                           b"Subject: imported by Bob\r\n\r\nhi\r\n",
                           mailbox_id=S["alice_mbx"])
    check("a Reviewer is refused an import (E_PERM)", st == E_PERM, p)
    r = in_alice(bob, OP_MOVE_MESSAGES, [(T_MIDS, [S["hers"][0]]), (PR_FID, S["shared"])])
    check("a Reviewer can't move her messages (E_PERM)", r.status == E_PERM, r)
    r = in_alice(bob, OP_DELETE_FOLDER, [(PR_FID, S["shared"]), (T_FOLDER_FLAGS, 0)])
    check("a Reviewer can't delete the folder (E_PERM: FolderOwner)",
          r.status == E_PERM and "FolderOwner" in (r.get(T_ERRMSG) or ""), r)
    r = in_alice(bob, OP_EMPTY_FOLDER, [(PR_FID, S["shared"])])
    check("nor empty it (E_PERM: DeleteAny)",
          r.status == E_PERM and "DeleteAny" in (r.get(T_ERRMSG) or ""), r)
    r = in_alice(bob, OP_CHANGES, [(T_CN, 0)])
    check("the mailbox's change log stays the owner's", r.status == E_NOTFOUND, r)
    bob.close()
    alice = Mailbox(ALICE)
    _, got, _ = alice.get(S["hers"][1])
    check("Alice's message is untouched", got is not None and
          got.prop(PR_SUBJECT) == "Team plan 1")
    alice.close()


def an_author_changes_only_his_own():
    alice = Mailbox(ALICE)
    check("Alice makes Bob an Author", set_perms(alice, S["shared"], (BOB[0], AUTHOR)).status == OK)
    alice.close()
    bob = Mailbox(BOB)
    r = in_alice(bob, OP_SAVE_MESSAGE, [(PR_FID, S["shared"])] + a_note("Bob's note").encode())
    check("he creates a message in Shared", r.status == OK, r)
    mine = r.get(PR_MID)
    r = in_alice(bob, OP_SAVE_MESSAGE, [(PR_MID, mine)] + a_note("Bob's note, v2").encode())
    check("saves over his own", r.status == OK, r)
    r = in_alice(bob, OP_SAVE_MESSAGE, [(PR_MID, S["hers"][1])] + a_note("by Bob").encode())
    check("but not over hers", r.status == E_PERM, r)
    r = in_alice(bob, OP_DELETE_MESSAGES, [(T_MIDS, [S["hers"][1]])])
    check("nor delete hers", r.status == E_PERM, r)
    r = in_alice(bob, OP_DELETE_MESSAGES, [(T_MIDS, [S["hers"][1], mine])])
    check("a delete of his and hers together is refused whole", r.status == E_PERM, r)
    r = in_alice(bob, OP_DELETE_MESSAGES, [(T_MIDS, [mine])])
    check("he deletes his own", r.status == OK and r.get(T_TOTAL) == 1, r)
    data = b"Subject: imported by Bob\r\nFrom: bob@example.test\r\n\r\nhi\r\n"
    st, p, _ = send_stream(bob, OP_IMPORT_MIME, [(PR_FID, S["shared"])], data,
                           mailbox_id=S["alice_mbx"])
    check("he imports a message into Shared", st == OK, p)
    r = in_alice(bob, OP_SAVE_MESSAGE, [(PR_FID, S["inbox"])] + a_note("sneaky").encode())
    check("but can't create in her Inbox", r.status == E_PERM, r)
    r = in_alice(bob, OP_COPY_MESSAGES, [(T_MIDS, [S["hers"][0]]), (PR_FID, S["shared"])])
    check("an Author copies her message within Shared", r.status == OK and
          r.get(T_TOTAL) == 1, r)
    copied = (r.get(T_NEW_MIDS) or [0])[0]
    r = in_alice(bob, OP_MOVE_MESSAGES, [(T_MIDS, [S["hers"][0]]), (PR_FID, S["shared"])])
    check("but can't move hers (no DeleteAny)", r.status == E_PERM, r)
    r = in_alice(bob, OP_COPY_MESSAGES, [(T_MIDS, [S["private"]]), (PR_FID, S["shared"])])
    check("nor copy out of her Inbox", r.status == E_PERM, r)
    r = in_alice(bob, OP_COPY_MESSAGES, [(T_MIDS, [S["hers"][0]]), (PR_FID, S["inbox"])])
    check("nor copy into it", r.status == E_PERM, r)
    r = in_alice(bob, OP_DELETE_MESSAGES, [(T_MIDS, [copied])])
    check("the copy keeps her as its creator: he can't delete it", r.status == E_PERM, r)
    bob.close()
    alice = Mailbox(ALICE)
    check("Alice makes Bob an Editor", set_perms(alice, S["shared"], (BOB[0], EDITOR)).status == OK)
    alice.close()
    bob = Mailbox(BOB)
    r = in_alice(bob, OP_SAVE_MESSAGE, [(PR_MID, S["hers"][1])] + a_note("Team plan 1 (edited)").encode())
    check("an Editor saves over hers", r.status == OK, r)
    r = in_alice(bob, OP_SET_PROPS, [(PR_MID, S["hers"][0]), (START_MESSAGE, 0),
                                     (PR_FLAG_STATUS, 2), (END_MESSAGE, 0)])
    check("and flags one of hers", r.status == OK, r)
    bob.close()


def default_rows_and_removals():
    alice = Mailbox(ALICE)
    everyone, _ = alice.new_folder("Everyone")
    alice.save(a_note("For all"), fid=everyone)
    r = set_perms(alice, everyone, ("default", REVIEWER))
    check("Alice gives everyone Reviewer rights on a folder", r.status == OK, r)
    bob = Mailbox(BOB)
    r = in_alice(bob, OP_CONTENTS, [(PR_FID, everyone), (T_COLUMNS, [PR_SUBJECT])])
    check("Bob reads it through the Default row", r.status == OK and r.get(T_TOTAL) == 1, r)
    r = set_perms(alice, everyone, (BOB[0], FOLDER_VISIBLE))
    r2 = in_alice(bob, OP_CONTENTS, [(PR_FID, everyone), (T_COLUMNS, [PR_SUBJECT])])
    check("his own row wins over Default", r.status == OK and r2.status == E_PERM, r2)
    r = set_perms(alice, S["shared"], (BOB[0], -1))
    r2 = in_alice(bob, OP_CONTENTS, [(PR_FID, S["shared"]), (T_COLUMNS, [PR_SUBJECT])])
    check("removing his row on Shared takes his rights there away",
          r.status == OK and r2.status == E_PERM, r2)
    _, rows = perms(alice, S["shared"])
    check("and the row is gone", "Bob Example" not in rows, rows)
    bob.close()
    alice.close()


def a_folder_owner_manages_it():
    alice = Mailbox(ALICE)
    delegated, _ = alice.new_folder("Delegated")
    check("Alice makes Bob owner of a folder",
          set_perms(alice, delegated, (BOB[0], FOLDER_OWNER | FOLDER_VISIBLE)).status == OK)
    bob = Mailbox(BOB)
    r = in_alice(bob, OP_SET_PERMISSIONS, [(PR_FID, delegated), (T_ADDRESS, "default"),
                                           (PR_MEMBER_RIGHTS, FOLDER_VISIBLE)])
    check("Bob changes its permissions himself", r.status == OK, r)
    r = in_alice(bob, OP_CREATE_FOLDER, [(xctest.PR_PARENT_FID, delegated),
                                         (PR_DISPLAY_NAME, "Bob's corner")])
    check("and creates a subfolder", r.status == OK, r)
    sub = r.get(PR_FID)
    _, rows = perms(alice, sub)
    check("which he owns", rows.get("Bob Example", 0) & FOLDER_OWNER, rows)
    r = in_alice(bob, OP_SAVE_MESSAGE, [(PR_FID, delegated)] + a_note("as owner").encode())
    check("FolderOwner brings the rights over the folder's messages", r.status == OK, r)
    bob.close()
    r = set_perms(alice, delegated, (BOB[0], EDITOR), ("nobody@example.test", REVIEWER))
    check("a change naming an unknown user is E_NOTFOUND naming them",
          r.status == E_NOTFOUND and "nobody@example.test" in (r.get(T_ERRMSG) or ""), r)
    _, rows = perms(alice, delegated)
    check("and nothing of it was applied",
          rows.get("Bob Example") == FOLDER_OWNER | FOLDER_VISIBLE, rows)
    r = set_perms(alice, delegated, (BOB[0], 0x40000000))
    check("unknown rights bits are E_BADREQ", r.status == E_BADREQ, r)
    r = set_perms(alice, delegated, (ALICE[0], REVIEWER))
    check("the owner's own rights can't be set", r.status == E_BADREQ, r)
    r = alice.ask(OP_SET_PERMISSIONS, [(PR_FID, delegated), (T_ADDRESS, BOB[0])])
    check("a member without rights is E_BADREQ", r.status == E_BADREQ, r)
    bob = Mailbox(BOB)
    # folders: created below a shared folder they start with its rows
    _, rows = perms(alice, sub)
    check("a new subfolder starts with its parent's permissions",
          rows.get("Default") == FOLDER_VISIBLE, rows)
    r = in_alice(bob, OP_COPY_FOLDER, [(PR_FID, sub), (xctest.PR_PARENT_FID, delegated),
                                       (PR_DISPLAY_NAME, "Bob's copy")])
    check("an owner copies his subfolder beside it", r.status == OK, r)
    copy = r.get(PR_FID)
    _, rows = perms(alice, copy) if copy else (None, {})
    check("and owns the copy", rows.get("Bob Example", 0) & FOLDER_OWNER, rows)
    r = in_alice(bob, OP_MOVE_FOLDER, [(PR_FID, copy), (xctest.PR_PARENT_FID, sub)])
    check("he moves the copy under his subfolder", r.status == OK, r)
    r = in_alice(bob, OP_MOVE_FOLDER, [(PR_FID, sub), (xctest.PR_PARENT_FID, S["inbox"])])
    check("but not into her Inbox (E_PERM: CreateSubFolder there)",
          r.status == E_PERM and "CreateSubFolder" in (r.get(T_ERRMSG) or ""), r)
    r = in_alice(bob, OP_EMPTY_FOLDER, [(PR_FID, delegated)])
    check("he empties the folder he owns: its message and subfolders go",
          r.status == OK and r.get(T_TOTAL, 0) >= 3, r)
    r = in_alice(bob, OP_DELETE_FOLDER, [(PR_FID, delegated), (T_FOLDER_FLAGS, 0)])
    check("and deletes it", r.status == OK, r)
    delegated2, _ = alice.new_folder("Delegated again")
    check("Alice makes him owner of another",
          set_perms(alice, delegated2, (BOB[0], FOLDER_OWNER | FOLDER_VISIBLE)).status == OK)
    r = alice.ask(OP_CREATE_FOLDER, [(xctest.PR_PARENT_FID, delegated2),
                                     (PR_DISPLAY_NAME, "Hers inside")])
    check("she makes a subfolder in it", r.status == OK, r)
    hers = r.get(PR_FID)
    r = set_perms(alice, hers, (BOB[0], FOLDER_VISIBLE | READ_ANY))
    check("where Bob is only a Reviewer", r.status == OK, r)
    r = in_alice(bob, OP_DELETE_FOLDER, [(PR_FID, delegated2), (T_FOLDER_FLAGS, 0x04)])
    check("he can't delete the folder with her subfolder in it (FolderOwner on each)",
          r.status == E_PERM, r)
    r = in_alice(bob, OP_COPY_FOLDER, [(PR_FID, delegated2), (xctest.PR_PARENT_FID, S["inbox"]),
                                       (T_RECURSIVE, 1)])
    check("nor copy it into her Inbox (E_PERM)", r.status == E_PERM, r)
    bob.close()
    check("counts, bytes and blob references add up", store_mismatches(alice.id) == [],
          store_mismatches(alice.id))
    alice.close()


if __name__ == "__main__":
    xctest.run_tests(
        setup_alice_shares_nothing_yet,
        a_reviewer_reads_the_shared_folder_only,
        an_author_changes_only_his_own,
        default_rows_and_removals,
        a_folder_owner_manages_it,
    )
