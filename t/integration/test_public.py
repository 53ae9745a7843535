#!/usr/bin/python3
"""test_public - the public folder store (sql/014, PUBLIC_STORE op 36).

Every user finds the one public store: nobody's mailbox, with its own
special folders (the root, IPM_SUBTREE, NON_IPM_SUBTREE, EFORMS REGISTRY,
SCHEDULE+ FREE BUSY, OFFLINE ADDRESS BOOK), its own ids and named
properties. What a user may do in it is the folders' permissions: by
default they see the tree, read IPM_SUBTREE and publish free/busy. An
administrator (xcadmin public-admin) has every right: creates top-level
folders, which start with IPM_SUBTREE's permissions, and grants more.
Special folders stay; the store's change log is the administrators'.
Read state is each user's own (sql/015): what Alice reads stays unread
for Bob, in messages, contents tables and unread counts.
"""
import xctest
from xctest import (ALICE, BOB, OK, E_NOTFOUND, E_PERM, T_ERRMSG, T_ADDRESS,
                    T_FOLDER_FLAGS, PR_FID, PR_DISPLAY_NAME, PR_PARENT_FID,
                    PR_XC_SPECIAL_FOLDER, OP_LIST_FOLDERS, OP_DELETE_FOLDER,
                    T_SESSION, T_MAILBOX_ID, PT_BOOLEAN, PT_STRING8, PT_LONG,
                    PT_CLSID, PT_MV, check, tag)
from test_store import (Mailbox, Message, a_note, PR_MID, PR_SUBJECT,
                        OP_CREATE_FOLDER, OP_SAVE_MESSAGE, OP_GET_MESSAGE,
                        OP_DELETE_MESSAGES, OP_SET_READ, OP_CONTENTS, T_MIDS,
                        T_CN, T_READ, T_TOTAL, T_COLUMNS, PR_MESSAGE_FLAGS)
from test_permissions import (set_perms, REVIEWER, AUTHOR, FOLDER_VISIBLE,
                              PR_RIGHTS)

OP_PUBLIC_STORE, OP_NAMES_TO_IDS, OP_CHANGES, OP_GET_FOLDER = 36, 17, 16, 28
PR_CONTENT_UNREAD = tag(PT_LONG, 0x3603)
MSGFLAG_READ = 0x1
T_OWNER = tag(PT_BOOLEAN, 0x0044)
T_CREATE = tag(PT_BOOLEAN, 0x001A)
T_NAME_GUID = tag(PT_CLSID, 0x001B)
T_NAME_STRING = tag(PT_STRING8, 0x001D)
T_PROPIDS = tag(PT_MV | PT_LONG, 0x001E)
PS_PUBLIC_STRINGS = bytes.fromhex("2903020000000000C000000000000046")
SPECIAL = {101: "", 102: "IPM_SUBTREE", 103: "NON_IPM_SUBTREE", 104: "EFORMS REGISTRY",
           105: "SCHEDULE+ FREE BUSY", 106: "OFFLINE ADDRESS BOOK"}
S = {}


def public(mb):
    """PUBLIC_STORE for mb's session: (status, mailbox id, owner)."""
    st, p, _ = mb.sd.call(OP_PUBLIC_STORE, [(T_SESSION, mb.session)])
    return st, p.get(T_MAILBOX_ID), p.get(T_OWNER)


def folders(mb):
    r = mb.ask(OP_LIST_FOLDERS, [], mailbox_id=S["pub"])
    assert r.status == OK, r
    return r.rows


def everyone_finds_the_public_store():
    alice = Mailbox(ALICE)
    st, pub, owner = public(alice)
    check("Alice asks for the public store: its id, not her mailbox's",
          st == OK and pub and pub != alice.id, (st, pub))
    check("she doesn't administer it", owner == 0, owner)
    S["pub"] = pub
    rows = folders(alice)
    got = {r.get(PR_XC_SPECIAL_FOLDER): r.get(PR_DISPLAY_NAME) for r in rows}
    check("she sees its special folders, with the names a public logon gives",
          got == SPECIAL, got)
    by = {r.get(PR_XC_SPECIAL_FOLDER): r for r in rows}
    S["ipm"], S["fb"] = by[102][PR_FID], by[105][PR_FID]
    S["root"] = by[101][PR_FID]
    check("IPM_SUBTREE and NON_IPM_SUBTREE hang under the root",
          by[102].get(PR_PARENT_FID) == S["root"] and by[103].get(PR_PARENT_FID) == S["root"],
          by)
    check("everyone reads IPM_SUBTREE (Reviewer) and publishes free/busy (Author)",
          by[102].get(PR_RIGHTS) == REVIEWER and by[105].get(PR_RIGHTS) == AUTHOR,
          (by[102].get(PR_RIGHTS), by[105].get(PR_RIGHTS)))
    bob = Mailbox(BOB)
    st, pub2, _ = public(bob)
    check("Bob finds the same store", st == OK and pub2 == pub, (st, pub2))
    r = alice.ask(OP_CREATE_FOLDER, [(PR_PARENT_FID, S["ipm"]), (PR_DISPLAY_NAME, "Mine")],
                  mailbox_id=pub)
    check("a user can't create a top-level public folder (E_PERM)", r.status == E_PERM, r)
    r = alice.ask(OP_CHANGES, [(T_CN, 0)], mailbox_id=pub)
    check("nor read the store's change log (E_NOTFOUND)", r.status == E_NOTFOUND, r)
    alice.close()
    bob.close()


def an_administrator_builds_it():
    rc, out = xctest.xcadmin("public-admin", BOB[0], "on")
    check("xcadmin public-admin bob on", rc == 0, out)
    bob = Mailbox(BOB)
    st, _, owner = public(bob)
    check("xcadmin public-admin makes Bob an administrator", st == OK and owner == 1, (st, owner))
    pub = S["pub"]
    r = bob.ask(OP_CREATE_FOLDER, [(PR_PARENT_FID, S["ipm"]), (PR_DISPLAY_NAME, "Company")],
                mailbox_id=pub)
    check("he creates a top-level folder", r.status == OK, r)
    S["company"] = r.get(PR_FID)
    alice = Mailbox(ALICE)
    seen = {row.get(PR_DISPLAY_NAME): row.get(PR_RIGHTS) for row in folders(alice)}
    check("which everyone sees and reads: it starts with IPM_SUBTREE's permissions",
          seen.get("Company") == REVIEWER, seen)
    r = alice.ask(OP_SAVE_MESSAGE, [(PR_FID, S["company"])] + a_note("hello all").encode(),
                  mailbox_id=pub)
    check("as a Reviewer Alice can't post in it", r.status == E_PERM, r)
    r = set_perms(bob, S["company"], ("default", AUTHOR), mailbox_id=pub)
    check("Bob makes everyone an Author there", r.status == OK, r)
    r = alice.ask(OP_SAVE_MESSAGE, [(PR_FID, S["company"])] + a_note("hello all").encode(),
                  mailbox_id=pub)
    check("now Alice posts", r.status == OK, r)
    post = r.get(PR_MID)
    r = bob.ask(OP_GET_MESSAGE, [(PR_MID, post)], mailbox_id=pub)
    check("and Bob reads her post", r.status == OK and r.get(PR_SUBJECT) == "hello all", r)
    r = bob.ask(OP_SAVE_MESSAGE, [(PR_FID, S["company"])] + a_note("from the admin").encode(),
                mailbox_id=pub)
    theirs = r.get(PR_MID)
    r = alice.ask(OP_DELETE_MESSAGES, [(T_MIDS, [theirs])], mailbox_id=pub)
    check("an Author can't delete the administrator's post", r.status == E_PERM, r)
    r = alice.ask(OP_DELETE_MESSAGES, [(T_MIDS, [post])], mailbox_id=pub)
    check("but deletes her own", r.status == OK, r)
    r = alice.ask(OP_SAVE_MESSAGE, [(PR_FID, S["fb"])] + a_note("Alice free/busy").encode(),
                  mailbox_id=pub)
    check("Alice publishes free/busy in SCHEDULE+ FREE BUSY", r.status == OK, r)
    r = bob.ask(OP_CHANGES, [(T_CN, 0)], mailbox_id=pub)
    kinds = [row.get(xctest.tag(PT_STRING8, 0x19)) for row in r.rows]
    check("the administrator reads the store's change log",
          r.status == OK and kinds.count("create") >= 3, (r.status, kinds))
    r = bob.ask(OP_DELETE_FOLDER, [(PR_FID, S["ipm"]), (T_FOLDER_FLAGS, 0)], mailbox_id=pub)
    check("special folders stay, even for an administrator", r.status == E_PERM, r)
    r = alice.ask(OP_DELETE_FOLDER, [(PR_FID, S["company"]), (T_FOLDER_FLAGS, 1)],
                  mailbox_id=pub)
    check("a user can't delete a public folder (FolderOwner)",
          r.status == E_PERM and "FolderOwner" in (r.get(T_ERRMSG) or ""), r)
    alice.close()
    bob.close()


def named_properties_are_the_stores_own():
    alice, bob = Mailbox(ALICE), Mailbox(BOB)
    name = [(T_NAME_GUID, PS_PUBLIC_STRINGS), (T_NAME_STRING, "x-public-test")]
    a = alice.ask(OP_NAMES_TO_IDS, [(T_CREATE, 1)] + name, mailbox_id=S["pub"])
    ids = a.get(T_PROPIDS) or [0]
    check("any user maps a name in the public store (a named property id)",
          a.status == OK and ids[0] >= 0x8000, a)
    b = bob.ask(OP_NAMES_TO_IDS, name, mailbox_id=S["pub"])
    check("and another user gets the same id there", b.status == OK and b.get(T_PROPIDS) == ids, b)
    alice.close()
    bob.close()


def read_state_is_per_user():
    """Public folders keep each user's read state (sql/015): what Alice
    reads stays unread for Bob; a user's own new post is read for them."""
    alice, bob = Mailbox(ALICE), Mailbox(BOB)
    pub, company = S["pub"], S["company"]

    def post(mb, subject, read=False):
        props = [(PR_MESSAGE_FLAGS, MSGFLAG_READ)] if read else []
        r = mb.ask(OP_SAVE_MESSAGE, [(PR_FID, company)] + a_note(subject, props).encode(),
                   mailbox_id=pub)
        assert r.status == OK, r
        return r[PR_MID]

    def unread(mb):
        listed = {row.get(PR_DISPLAY_NAME): row.get(PR_CONTENT_UNREAD) for row in folders(mb)}
        r = mb.ask(OP_GET_FOLDER, [(PR_FID, company)], mailbox_id=pub)
        return listed.get("Company"), r.get(PR_CONTENT_UNREAD)

    def flags(mb, mid):
        r = mb.ask(OP_GET_MESSAGE, [(PR_MID, mid)], mailbox_id=pub)
        msg, _ = Message.decode(r.items) if r.status == OK else (None, None)
        return (msg.prop(PR_MESSAGE_FLAGS) or 0) & MSGFLAG_READ if msg else None

    def table(mb):
        r = mb.ask(OP_CONTENTS, [(PR_FID, company), (T_COLUMNS, [PR_MID, PR_MESSAGE_FLAGS])],
                   mailbox_id=pub)
        return {row.get(PR_MID): row.get(PR_MESSAGE_FLAGS, 0) & MSGFLAG_READ for row in r.rows}

    news1, news2 = post(alice, "news 1"), post(alice, "news 2")
    a0, b0 = unread(alice), unread(bob)
    check("folder list and folder properties agree on each user's unread count",
          a0[0] == a0[1] and b0[0] == b0[1], (a0, b0))
    r = alice.ask(OP_SET_READ, [(T_MIDS, [news1]), (T_READ, 1)], mailbox_id=pub)
    check("Alice marks a post read", r.status == OK and r.get(T_TOTAL) == 1, r)
    r = alice.ask(OP_SET_READ, [(T_MIDS, [news1]), (T_READ, 1)], mailbox_id=pub)
    check("marking it read again changes nothing", r.status == OK and r.get(T_TOTAL) == 0, r)
    check("it is read for her", flags(alice, news1) == MSGFLAG_READ, flags(alice, news1))
    check("and still unread for Bob", flags(bob, news1) == 0, flags(bob, news1))
    a1, b1 = unread(alice), unread(bob)
    check("her unread count went down by one, his did not",
          a1[0] == a0[0] - 1 and a1[1] == a0[1] - 1 and b1 == b0, (a0, a1, b0, b1))
    ta, tb = table(alice), table(bob)
    check("contents tables show each user's own read state",
          ta.get(news1) == MSGFLAG_READ and ta.get(news2) == 0 and tb.get(news1) == 0, (ta, tb))
    own = post(bob, "my own news", read=True)
    check("a post saved as read is read for its author", flags(bob, own) == MSGFLAG_READ)
    check("and unread for everyone else", flags(alice, own) == 0)
    r = alice.ask(OP_SET_READ, [(T_MIDS, [news1]), (T_READ, 0)], mailbox_id=pub)
    check("Alice marks it unread again", r.status == OK and r.get(T_TOTAL) == 1, r)
    check("and her count is back", unread(alice)[0] == a0[0] + 1, (unread(alice), a0))
    alice.close()
    bob.close()


def an_administrator_can_step_down():
    rc, out = xctest.xcadmin("public-admin", BOB[0], "off")
    check("xcadmin public-admin bob off", rc == 0, out)
    bob = Mailbox(BOB)
    st, _, owner = public(bob)
    check("public-admin off: Bob is a user again", st == OK and owner == 0, (st, owner))
    r = bob.ask(OP_CREATE_FOLDER, [(PR_PARENT_FID, S["ipm"]), (PR_DISPLAY_NAME, "More")],
                mailbox_id=S["pub"])
    check("and can't create top-level folders", r.status == E_PERM, r)
    bob.close()
    rc, out = xctest.xcadmin("public-admin", "nobody@example.test", "on")
    check("xcadmin refuses an unknown user", rc != 0 and "nobody@example.test" in out, out)


if __name__ == "__main__":
    xctest.run_tests(
        everyone_finds_the_public_store,
        an_administrator_builds_it,
        named_properties_are_the_stores_own,
        read_state_is_per_user,
        an_administrator_can_step_down,
    )
