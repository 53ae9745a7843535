#!/usr/bin/python3
"""test_folder_ops - deleting, moving, copying and emptying folders, and
folder properties ([MS-OXCFOLD] RopDeleteFolder, RopMoveFolder,
RopCopyFolder, RopEmptyFolder; [MS-OXCPRPT] on Folder objects).

Alice keeps a small tree of project folders with mail in it. She deletes
folders (refused while not empty unless she says so; special folders never),
moves and renames them (not under themselves, not onto a sibling's name),
copies whole trees (every folder and message a new id, large values shared,
not duplicated), empties them, and sets and deletes folder properties.
After each step the folder counts, used_bytes and blob references equal a
recount by SQL, the change log has one row per changed object with strictly
increasing CNs, and every deleted object has a tombstone. Random sequences,
concurrent copiers and a storaged killed mid-delete leave the store exact.
Bob's folders stay out of her reach.

The contract is lib/xc_wire.h (ops 20..23, 26..28) and sql/005.
"""
import random
import secrets
import threading
import time

import xctest
from xctest import (ALICE, BOB, OK, E_NOTFOUND, E_PERM, E_EXISTS, E_BADREQ,
                    OP_LIST_FOLDERS, T_SESSION, T_MAILBOX_ID, T_ERRMSG,
                    PR_DISPLAY_NAME, PR_CONTAINER_CLASS, PR_FID, PR_PARENT_FID,
                    PR_XC_SPECIAL_FOLDER, PT_LONG, PT_BINARY, PT_UNICODE,
                    PT_STRING8, PT_BOOLEAN, OP_DELETE_FOLDER, OP_MOVE_FOLDER,
                    OP_COPY_FOLDER, OP_EMPTY_FOLDER, OP_SET_PROPS,
                    OP_DELETE_PROPS, OP_GET_FOLDER, T_FOLDER_FLAGS,
                    T_RECURSIVE, T_PROPTAGS, T_PROBLEMS, DEL_MESSAGES,
                    DEL_FOLDERS, EC_ACCESS_DENIED, EC_DUPLICATE_NAME, check,
                    problems, store_mismatches, tag)
from test_store import (Mailbox, Message, a_note, same_content, counter, T_CN,
                        T_TOTAL, T_FAI, PR_MID, PR_CHANGE_KEY, PR_SUBJECT,
                        PR_ATTACH_DATA_BIN, PR_ATTACH_LONG_FILENAME,
                        START_MESSAGE, END_MESSAGE, INBOX, IPM_SUBTREE)

PR_CONTENT_COUNT = tag(PT_LONG, 0x3602)
PR_CONTENT_UNREAD = tag(PT_LONG, 0x3603)
PR_ASSOC_CONTENT_COUNT = tag(PT_LONG, 0x3617)
PR_SUBFOLDERS = tag(PT_BOOLEAN, 0x360A)
PR_COMMENT = tag(PT_UNICODE, 0x3004)
PR_FOLDER_BLOB = tag(PT_BINARY, 0x6860)      # a large custom folder property
ROOT = 1


def folders(mb):
    """{fid: row} of LIST_FOLDERS."""
    st, _, rows = mb.sd.call(OP_LIST_FOLDERS, [(T_SESSION, mb.session), (T_MAILBOX_ID, mb.id)])
    assert st == OK, st
    return {r[PR_FID]: r for r in rows}


def sql(q):
    out, err = xctest.psql(q)
    return (out + err).strip()


def exact(mb, what):
    bad = store_mismatches(mb.id)
    check("%s: counts, used_bytes and blob references equal a recount" % what, not bad, bad)


def log_is_sane(log, what):
    cns = [c for c, _, _, _ in log]
    check("%s: change numbers strictly increasing" % what,
          all(a < b for a, b in zip(cns, cns[1:])), cns[:20])


def make_tree(mb, name=None, messages=2, fai=1, big=None):
    """Top/{Sub1/{Deep}, Sub2}, each with `messages` notes (one read) and `fai`
    associated ones; returns {name: fid}, [mids], top's creation CN."""
    top, start = mb.new_folder(name or "Tree")
    ids = {"top": top}
    r = mb.create_folder("Sub1", parent=top)
    ids["sub1"] = r[PR_FID]
    ids["deep"] = mb.create_folder("Deep", parent=ids["sub1"])[PR_FID]
    ids["sub2"] = mb.create_folder("Sub2", parent=top)[PR_FID]
    mids = []
    for key, fid in ids.items():
        for i in range(messages):
            atts = [(0, [(PR_ATTACH_LONG_FILENAME, "logo.bin"), (PR_ATTACH_DATA_BIN, big)])] if big else []
            r = mb.save(a_note("%s note %d" % (key, i), attachments=atts), fid=fid)
            assert r.status == OK, r
            mids.append(r[PR_MID])
            if i == 0:
                mb.set_read([r[PR_MID]], read=True)
        for i in range(fai):
            r = mb.save(a_note("%s view %d" % (key, i)), fid=fid, fai=True)
            assert r.status == OK, r
            mids.append(r[PR_MID])
    return ids, mids, start


def unchanging(msg):
    """A message read back, without what a copy or move changes."""
    return Message(xctest.without_computed(msg.props), msg.recipients, msg.attachments)


def get_folder(mb, fid):
    r = mb.ask(OP_GET_FOLDER, [(PR_FID, fid)])
    if r.status != OK:
        return r, None
    msg, problem = Message.decode(r.items)
    assert problem is None, problem
    return r, dict(msg.props)


# -------------------------------------------------------------- tests ----
def deleting_a_folder_needs_the_flags_for_what_it_holds():
    mb = Mailbox()
    ids, mids, start = make_tree(mb)
    r = mb.ask(OP_DELETE_FOLDER, [(PR_FID, ids["top"])])
    check("deleting a folder with messages and subfolders without flags is E_EXISTS",
          r.status == E_EXISTS and "not empty" in r.get(T_ERRMSG, ""), r)
    r = mb.ask(OP_DELETE_FOLDER, [(PR_FID, ids["top"]), (T_FOLDER_FLAGS, DEL_MESSAGES)])
    check("with DEL_MESSAGES only, its subfolders still stop it (E_EXISTS)",
          r.status == E_EXISTS and "subfolders" in r.get(T_ERRMSG, ""), r)
    r = mb.ask(OP_DELETE_FOLDER, [(PR_FID, ids["top"]), (T_FOLDER_FLAGS, DEL_FOLDERS)])
    check("with DEL_FOLDERS only, its messages still stop it (E_EXISTS)",
          r.status == E_EXISTS and "messages" in r.get(T_ERRMSG, ""), r)
    check("nothing was deleted by the refused attempts",
          set(ids.values()) <= set(folders(mb)) and mb.all_changes(start)[-1][1] != "delete")
    empty, _ = mb.new_folder("Empty")
    r = mb.ask(OP_DELETE_FOLDER, [(PR_FID, empty)])
    check("an empty folder is deleted without flags", r.status == OK and r.get(T_TOTAL) == 1, r)
    before = r.get(T_CN, 0)
    r = mb.ask(OP_DELETE_FOLDER, [(PR_FID, ids["top"]),
                                  (T_FOLDER_FLAGS, DEL_MESSAGES | DEL_FOLDERS)])
    check("with DEL_MESSAGES | DEL_FOLDERS the tree goes: 4 folders and %d messages" % len(mids),
          r.status == OK and r.get(T_TOTAL) == 4 + len(mids), r)
    left = set(ids.values()) & set(folders(mb))
    check("none of its folders is in the folder list any more", not left, left)
    gone = [m for m in mids if mb.get(m)[0].status != E_NOTFOUND]
    check("none of its messages can be read any more", not gone, gone)
    log = mb.all_changes(before)
    log_is_sane(log, "folder delete")
    check("the change log has one delete per message and per folder, nothing else",
          sorted(repr((k, f if m is None else None, m)) for _, k, f, m in log) ==
          sorted([repr(("delete", None, m)) for m in mids] +
                 [repr(("delete", f, None)) for f in ids.values()]), log)
    check("children's deletes come before their parents'",
          [f for _, _, f, m in log if m is None][-1] == ids["top"], log)
    check("the last CN of the log is the one returned", log[-1][0] == r.get(T_CN), (log[-1], r))
    tm = sql("SELECT count(*) FROM tombstones WHERE mailbox_id = %d AND mid IN (%s)"
             % (mb.id, ",".join(str(counter(m)) for m in mids)))
    tf = sql("SELECT count(*) FROM folder_tombstones WHERE mailbox_id = %d AND fid IN (%s)"
             % (mb.id, ",".join(str(counter(f)) for f in ids.values())))
    check("every deleted message has a tombstone", tm == str(len(mids)), tm)
    check("every deleted folder has a tombstone", tf == "4", tf)
    exact(mb, "after deleting a tree")
    mb.close()


def special_and_unknown_folders_are_refused():
    mb = Mailbox()
    for which, name in ((INBOX, "Inbox"), (IPM_SUBTREE, "Top of Information Store"),
                        (ROOT, "the root")):
        r = mb.ask(OP_DELETE_FOLDER, [(PR_FID, mb.special(which)),
                                      (T_FOLDER_FLAGS, DEL_MESSAGES | DEL_FOLDERS)])
        check("deleting %s is E_PERM" % name, r.status == E_PERM, r)
    check("they are all still there",
          {mb.special(x) for x in (INBOX, IPM_SUBTREE, ROOT)} <= set(folders(mb)))
    fid, _ = mb.new_folder("Holds Inbox")
    r = mb.ask(OP_MOVE_FOLDER, [(PR_FID, mb.special(INBOX)), (PR_PARENT_FID, fid)])
    check("moving Inbox is E_PERM", r.status == E_PERM, r)
    r = mb.ask(OP_EMPTY_FOLDER, [(PR_FID, mb.special(IPM_SUBTREE))])
    check("emptying a folder with special folders below is E_PERM", r.status == E_PERM, r)
    r = mb.ask(OP_EMPTY_FOLDER, [(PR_FID, mb.special(ROOT))])
    check("emptying the root is E_PERM", r.status == E_PERM, r)
    nowhere = fid + (1 << 40)
    for what, op, args in (
            ("DELETE_FOLDER", OP_DELETE_FOLDER, [(PR_FID, nowhere)]),
            ("MOVE_FOLDER", OP_MOVE_FOLDER, [(PR_FID, nowhere), (PR_PARENT_FID, fid)]),
            ("COPY_FOLDER", OP_COPY_FOLDER, [(PR_FID, nowhere), (PR_PARENT_FID, fid)]),
            ("EMPTY_FOLDER", OP_EMPTY_FOLDER, [(PR_FID, nowhere)]),
            ("GET_FOLDER", OP_GET_FOLDER, [(PR_FID, nowhere)]),
            ("MOVE_FOLDER to an unknown parent", OP_MOVE_FOLDER, [(PR_FID, fid), (PR_PARENT_FID, nowhere)]),
            ("COPY_FOLDER to an unknown parent", OP_COPY_FOLDER, [(PR_FID, fid), (PR_PARENT_FID, nowhere)])):
        r = mb.ask(op, args)
        check("%s of an unknown folder is E_NOTFOUND" % what, r.status == E_NOTFOUND, r)
    for what, op, args in (
            ("DELETE_FOLDER without a folder", OP_DELETE_FOLDER, []),
            ("DELETE_FOLDER with an unknown flag", OP_DELETE_FOLDER, [(PR_FID, fid), (T_FOLDER_FLAGS, 0x02)]),
            ("MOVE_FOLDER without a parent", OP_MOVE_FOLDER, [(PR_FID, fid)]),
            ("MOVE_FOLDER with an empty name", OP_MOVE_FOLDER, [(PR_FID, fid), (PR_PARENT_FID, fid),
                                                               (PR_DISPLAY_NAME, "")]),
            ("COPY_FOLDER without a parent", OP_COPY_FOLDER, [(PR_FID, fid)])):
        r = mb.ask(op, args)
        check("%s is E_BADREQ" % what, r.status == E_BADREQ, r)
    mb.close()


def moving_and_renaming_a_folder():
    mb = Mailbox()
    ids, mids, _ = make_tree(mb, messages=1, fai=0)
    other, _ = mb.new_folder("Archive")
    r = mb.ask(OP_MOVE_FOLDER, [(PR_FID, ids["sub1"]), (PR_PARENT_FID, other),
                                (PR_DISPLAY_NAME, "Year 2025")])
    check("alice moves Sub1 into Archive, renamed Year 2025", r.status == OK and r.get(T_CN), r)
    f = folders(mb)
    check("it keeps its folder id and has the new parent and name",
          f.get(ids["sub1"], {}).get(PR_PARENT_FID) == other
          and f.get(ids["sub1"], {}).get(PR_DISPLAY_NAME) == "Year 2025", f.get(ids["sub1"]))
    check("its subfolder and messages came along untouched",
          f.get(ids["deep"], {}).get(PR_PARENT_FID) == ids["sub1"]
          and all(mb.get(m)[0].status == OK for m in mids))
    log = mb.all_changes(r[T_CN] - 1)
    check("the change log has one 'move' of that folder", log == [(r[T_CN], "move", ids["sub1"], None)], log)
    g, props = get_folder(mb, ids["sub1"])
    check("GET_FOLDER shows the change key of the move",
          g.status == OK and props.get(PR_CHANGE_KEY) == r.get(PR_CHANGE_KEY), (g, r))
    r2 = mb.ask(OP_MOVE_FOLDER, [(PR_FID, ids["sub2"]), (PR_PARENT_FID, other),
                                 (PR_DISPLAY_NAME, "Year 2025")])
    check("moving another folder next to it under the same name is E_EXISTS", r2.status == E_EXISTS, r2)
    r2 = mb.ask(OP_MOVE_FOLDER, [(PR_FID, ids["sub2"]), (PR_PARENT_FID, other),
                                 (PR_DISPLAY_NAME, "YEAR 2025")])
    check("names compare without case", r2.status == E_EXISTS, r2)
    r3 = mb.ask(OP_MOVE_FOLDER, [(PR_FID, other), (PR_PARENT_FID, ids["deep"])])
    check("moving a folder under its own descendant is E_BADREQ", r3.status == E_BADREQ, r3)
    r3 = mb.ask(OP_MOVE_FOLDER, [(PR_FID, other), (PR_PARENT_FID, other)])
    check("moving a folder under itself is E_BADREQ", r3.status == E_BADREQ, r3)
    r4 = mb.ask(OP_MOVE_FOLDER, [(PR_FID, ids["sub2"]), (PR_PARENT_FID, ids["top"]),
                                 (PR_DISPLAY_NAME, "Renamed in place")])
    check("a move to the same parent with a new name renames it",
          r4.status == OK and folders(mb)[ids["sub2"]].get(PR_DISPLAY_NAME) == "Renamed in place", r4)
    exact(mb, "after moves")
    mb.close()


def copying_a_tree_gives_new_ids_and_shares_large_values():
    mb = Mailbox()
    big = secrets.token_bytes(6000)
    ids, mids, _ = make_tree(mb, messages=2, fai=1, big=big)
    dest, _ = mb.new_folder("Copies")
    blob = ("FROM blobs WHERE size = 6000 AND position(decode('%s', 'hex') IN data) = 1"
            % big[:64].hex())
    before = sql("SELECT count(*) || ' ' || sum(refcount) " + blob)
    r = mb.ask(OP_COPY_FOLDER, [(PR_FID, ids["top"]), (PR_PARENT_FID, dest), (T_RECURSIVE, 1)])
    check("alice copies the whole tree into Copies", r.status == OK and r.get(T_TOTAL) == 4 + len(mids), r)
    f = folders(mb)
    copy = r.get(PR_FID)
    kids = {row[PR_DISPLAY_NAME]: fid for fid, row in f.items() if row.get(PR_PARENT_FID) == copy}
    deep = [fid for fid, row in f.items() if row.get(PR_PARENT_FID) == kids.get("Sub1")]
    check("the copy has the same shape under new folder ids",
          copy not in ids.values() and set(kids) == {"Sub1", "Sub2"} and len(deep) == 1
          and f[copy][PR_PARENT_FID] == dest, (kids, deep))
    src_top, dst_top = f[ids["top"]], f[copy]
    check("the copy's counts are the original's (2 messages, 1 unread, 1 associated)",
          [dst_top.get(t) for t in (PR_CONTENT_COUNT, PR_CONTENT_UNREAD, PR_ASSOC_CONTENT_COUNT)]
          == [src_top.get(t) for t in (PR_CONTENT_COUNT, PR_CONTENT_UNREAD, PR_ASSOC_CONTENT_COUNT)]
          == [2, 1, 1], (src_top, dst_top))
    total, rows = mb.every_row(copy, [PR_MID, PR_SUBJECT])
    originals = {mb.get(m)[1].prop(PR_SUBJECT): m for m in mids[:2]}
    same = []
    for row in rows:
        _, got, _ = mb.get(row[PR_MID])
        src = originals.get(got.prop(PR_SUBJECT))
        ok = src is not None and same_content(unchanging(mb.get(src)[1]), got)[0]
        same.append(ok and row[PR_MID] not in mids)
    check("each copied message has a new id and the original's content, attachment included",
          total == 2 and all(same), (total, same))
    after = sql("SELECT count(*) || ' ' || sum(refcount) " + blob)
    refs = int(before.split()[1]) if len(before.split()) == 2 else -1
    check("the 6000-byte attachment is still stored once, with twice the references",
          before == "1 8" and after == "1 %d" % (2 * refs), (before, after))
    log = mb.all_changes(r[T_CN] - r[T_TOTAL])
    log_is_sane(log, "recursive copy")
    creates = [(k, f_, m) for _, k, f_, m in log]
    check("the change log has one create per copied folder and message, folders first",
          len(creates) == r[T_TOTAL] and all(k == "create" for k, _, _ in creates)
          and [m is None for _, _, m in creates[:4]] == [True] * 4, creates)
    again = mb.ask(OP_COPY_FOLDER, [(PR_FID, ids["top"]), (PR_PARENT_FID, dest)])
    check("copying it again next to its copy under the same name is E_EXISTS", again.status == E_EXISTS, again)
    flat = mb.ask(OP_COPY_FOLDER, [(PR_FID, ids["top"]), (PR_PARENT_FID, dest),
                                   (PR_DISPLAY_NAME, "Top only")])
    f = folders(mb)
    check("without RECURSIVE only the folder and its own messages are copied",
          flat.status == OK and flat.get(T_TOTAL) == 1 + 3
          and not any(row.get(PR_PARENT_FID) == flat.get(PR_FID) for row in f.values())
          and f[flat[PR_FID]][PR_DISPLAY_NAME] == "Top only", flat)
    into = mb.ask(OP_COPY_FOLDER, [(PR_FID, ids["top"]), (PR_PARENT_FID, ids["deep"]),
                                   (T_RECURSIVE, 1)])
    check("a recursive copy into its own subtree is E_BADREQ", into.status == E_BADREQ, into)
    exact(mb, "after copies")
    mb.close()


def emptying_a_folder():
    mb = Mailbox()
    ids, mids, _ = make_tree(mb, messages=3, fai=2)
    r = mb.ask(OP_EMPTY_FOLDER, [(PR_FID, ids["top"])])
    f = folders(mb)
    check("alice empties Top: its 3 notes, and Sub1, Deep, Sub2 with all in them",
          r.status == OK and r.get(T_TOTAL) == 3 + 3 * 5 + 3, r)
    check("Top stays, with its 2 associated messages and no subfolders",
          ids["top"] in f and f[ids["top"]].get(PR_CONTENT_COUNT) == 0
          and f[ids["top"]].get(PR_ASSOC_CONTENT_COUNT) == 2 and not f[ids["top"]].get(PR_SUBFOLDERS)
          and not ({ids["sub1"], ids["sub2"], ids["deep"]} & set(f)), f.get(ids["top"]))
    r2 = mb.ask(OP_EMPTY_FOLDER, [(PR_FID, ids["top"]), (T_FAI, 1)])
    check("emptying it with FAI takes the associated messages too",
          r2.status == OK and r2.get(T_TOTAL) == 2
          and folders(mb)[ids["top"]].get(PR_ASSOC_CONTENT_COUNT) == 0, r2)
    r3 = mb.ask(OP_EMPTY_FOLDER, [(PR_FID, ids["top"]), (T_FAI, 1)])
    check("emptying an empty folder deletes nothing", r3.status == OK and r3.get(T_TOTAL) == 0, r3)
    log = mb.all_changes(r[T_CN] - r[T_TOTAL])
    log_is_sane(log, "empty folder")
    check("every deleted object has its delete row",
          len([x for x in log if x[1] == "delete"]) == r[T_TOTAL] + r2[T_TOTAL], len(log))
    exact(mb, "after emptying")
    mb.close()


def folder_properties():
    mb = Mailbox()
    fid, _ = mb.new_folder("Props")
    big = secrets.token_bytes(5000)
    content = [(START_MESSAGE, 0), (PR_DISPLAY_NAME, "Props renamed"),
               (PR_CONTAINER_CLASS, "IPF.Contact"), (PR_COMMENT, "a comment \u00e9"),
               (PR_CONTENT_COUNT, 99), (PR_FOLDER_BLOB, big), (END_MESSAGE, 0)]
    r = mb.ask(OP_SET_PROPS, [(PR_FID, fid)] + content)
    check("alice sets a folder's name, class, comment, a 5000-byte value and its count",
          r.status == OK and r.get(T_CN), r)
    check("the count is a problem (index 3, access denied), the rest is set",
          problems(r.get(T_PROBLEMS)) == [(3, PR_CONTENT_COUNT, EC_ACCESS_DENIED)], r)
    g, p = get_folder(mb, fid)
    check("GET_FOLDER shows the new name, class and stored properties",
          p is not None and p.get(PR_DISPLAY_NAME) == "Props renamed"
          and p.get(PR_CONTAINER_CLASS) == "IPF.Contact" and p.get(PR_COMMENT) == "a comment \u00e9"
          and p.get(PR_FOLDER_BLOB) == big and p.get(PR_CHANGE_KEY) == r.get(PR_CHANGE_KEY), p)
    check("and the folder list the new name", folders(mb)[fid][PR_DISPLAY_NAME] == "Props renamed")
    log = mb.all_changes(r[T_CN] - 1)
    check("the change log has one 'modify' of the folder", log == [(r[T_CN], "modify", fid, None)], log)
    sib, _ = mb.new_folder("Sibling")
    clash = mb.ask(OP_SET_PROPS, [(PR_FID, sib), (START_MESSAGE, 0),
                                  (PR_DISPLAY_NAME, "PROPS RENAMED"), (PR_COMMENT, "x"),
                                  (END_MESSAGE, 0)])
    check("renaming a sibling to that name is a problem (duplicate name); its comment is set",
          clash.status == OK and problems(clash.get(T_PROBLEMS)) == [(0, PR_DISPLAY_NAME, EC_DUPLICATE_NAME)]
          and get_folder(mb, sib)[1].get(PR_COMMENT) == "x", clash)
    inbox = mb.ask(OP_SET_PROPS, [(PR_FID, mb.special(INBOX)), (START_MESSAGE, 0),
                                  (PR_DISPLAY_NAME, "Posteingang"), (END_MESSAGE, 0)])
    check("renaming Inbox is a problem and changes nothing (no CN)",
          inbox.status == OK and problems(inbox.get(T_PROBLEMS)) == [(0, PR_DISPLAY_NAME, EC_ACCESS_DENIED)]
          and inbox.get(T_CN) is None, inbox)
    d = mb.ask(OP_DELETE_PROPS, [(PR_FID, fid), (T_PROPTAGS, [PR_COMMENT, PR_FOLDER_BLOB,
                                                              PR_CONTAINER_CLASS, PR_DISPLAY_NAME])])
    g, p = get_folder(mb, fid)
    check("deleting its comment, value and class works; its name can't be deleted",
          d.status == OK and problems(d.get(T_PROBLEMS)) == [(3, PR_DISPLAY_NAME, EC_ACCESS_DENIED)]
          and PR_COMMENT not in p and PR_FOLDER_BLOB not in p and PR_CONTAINER_CLASS not in p
          and p.get(PR_DISPLAY_NAME) == "Props renamed", (d, p))
    exact(mb, "after folder property changes (the value's blob reference is gone)")
    mb.close()


def subtree(mb, top):
    """top and every folder below it."""
    f, out = folders(mb), [top]
    for fid in out:
        out += [x for x, row in f.items() if row.get(PR_PARENT_FID) == fid]
    return out if top in f else []


def random_sequences_keep_everything_exact():
    mb = Mailbox()
    rnd = random.Random(20261125)
    base, start = mb.new_folder("Random")
    errors = []
    for step in range(60):
        live = subtree(mb, base)
        op = rnd.choice(["save", "save", "save", "folder", "delete", "move", "copy", "empty", "read"])
        fid, to = rnd.choice(live), rnd.choice(live)
        r = None
        if op == "save":
            r = mb.save(a_note("r%d" % step, props=[(tag(PT_BINARY, 0x6861),
                                                     rnd.randbytes(rnd.choice([10, 5000])))]),
                        fid=fid, fai=rnd.random() < 0.2)
        elif op == "folder":
            r = mb.create_folder("F%d" % step, parent=fid)
        elif op == "read":
            _, rows = mb.every_row(fid, [PR_MID])
            if rows:
                r = mb.set_read([x[PR_MID] for x in rows][:3], read=rnd.random() < 0.5)
        elif fid == base:
            continue
        elif op == "delete":
            r = mb.ask(OP_DELETE_FOLDER, [(PR_FID, fid), (T_FOLDER_FLAGS, DEL_MESSAGES | DEL_FOLDERS)])
        elif op == "move":
            r = mb.ask(OP_MOVE_FOLDER, [(PR_FID, fid), (PR_PARENT_FID, to),
                                        (PR_DISPLAY_NAME, "M%d" % step)])
            if r.status == E_BADREQ and to in subtree(mb, fid):
                continue            # under itself: refused, as it should be
        elif op == "copy":
            r = mb.ask(OP_COPY_FOLDER, [(PR_FID, fid), (PR_PARENT_FID, to),
                                        (PR_DISPLAY_NAME, "C%d" % step), (T_RECURSIVE, 1)])
            if r.status == E_BADREQ and to in subtree(mb, fid):
                continue
        else:
            r = mb.ask(OP_EMPTY_FOLDER, [(PR_FID, fid), (T_FAI, 1)])
        if r is not None and r.status != OK:
            errors.append((step, op, r))
    check("60 random saves, read flags, folder creates, deletes, moves, copies and empties succeed",
          not errors, errors[:5])
    exact(mb, "after the random sequence")
    log_is_sane(mb.all_changes(start), "random sequence")
    mb.close()


def concurrent_copiers_and_deleters_leave_counts_exact():
    mb = Mailbox()
    ids, _, start = make_tree(mb, "Shared", messages=3, fai=1)
    dest, _ = mb.new_folder("Concurrent copies")
    errors = []

    def worker(n):
        try:
            w = Mailbox(timeout=60)
            for i in range(4):
                r = w.ask(OP_COPY_FOLDER, [(PR_FID, ids["top"]), (PR_PARENT_FID, dest),
                                           (PR_DISPLAY_NAME, "w%d-%d" % (n, i)), (T_RECURSIVE, 1)])
                if r.status != OK:
                    errors.append((n, i, r))
                    continue
                if i % 2:
                    d = w.ask(OP_DELETE_FOLDER, [(PR_FID, r[PR_FID]),
                                                 (T_FOLDER_FLAGS, DEL_MESSAGES | DEL_FOLDERS)])
                    if d.status != OK:
                        errors.append((n, i, d))
            w.close()
        except Exception as e:          # noqa: BLE001 - reported below
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    check("6 clients copying and deleting trees at once all succeed (no deadlocks)", not errors, errors[:5])
    kids = [f for f, row in folders(mb).items() if row.get(PR_PARENT_FID) == dest]
    check("12 copies are left", len(kids) == 12, len(kids))
    exact(mb, "after concurrent copies and deletes")
    log = mb.all_changes(start)
    log_is_sane(log, "concurrent copies")
    mb.close()


def a_crash_mid_delete_leaves_all_or_nothing():
    mb = Mailbox()
    ids, mids, _ = make_tree(mb, "Doomed", messages=40, fai=2)
    stop, results, errors = threading.Event(), [], []

    def deleter():
        try:
            w = Mailbox(timeout=20)
            results.append(w.ask(OP_DELETE_FOLDER, [(PR_FID, ids["top"]),
                                                    (T_FOLDER_FLAGS, DEL_MESSAGES | DEL_FOLDERS)]))
        except (OSError, EOFError) as e:
            errors.append(repr(e))
    t = threading.Thread(target=deleter)
    t.start()
    time.sleep(random.Random().uniform(0.0, 0.03))
    xctest.stack("kill-storaged")
    t.join(30)
    stop.set()
    xctest.stack("start-storaged")
    check("storaged starts again after a kill -9 during a delete of %d messages" % len(mids),
          xctest.wait_until(xctest.storaged_answers, timeout=20))
    mb = Mailbox()
    f = folders(mb)
    there = [x in f for x in ids.values()]
    readable = [mb.get(m)[0].status == OK for m in mids]
    done = results and results[0].status == OK
    check("the tree is either all there (folders and messages) or all gone (%s)"
          % ("answered OK" if done else "no answer" if not results else results[0]),
          (all(there) and all(readable) and not done) or (not any(there) and not any(readable)),
          (there, readable.count(True)))
    exact(mb, "after the crash")
    if all(there):
        r = mb.ask(OP_DELETE_FOLDER, [(PR_FID, ids["top"]), (T_FOLDER_FLAGS, DEL_MESSAGES | DEL_FOLDERS)])
        check("the delete can be done again after the crash", r.status == OK, r)
    mb.close()


def bobs_folders_are_out_of_reach():
    bob = Mailbox(BOB)
    fid, _ = bob.new_folder("Bob private")
    bob.save(a_note("bob's"), fid=fid)
    alice = Mailbox()
    mine, _ = alice.new_folder("Alice target")
    for what, op, args in (
            ("DELETE_FOLDER", OP_DELETE_FOLDER, [(PR_FID, fid), (T_FOLDER_FLAGS, DEL_MESSAGES)]),
            ("MOVE_FOLDER", OP_MOVE_FOLDER, [(PR_FID, fid), (PR_PARENT_FID, fid)]),
            ("COPY_FOLDER", OP_COPY_FOLDER, [(PR_FID, fid), (PR_PARENT_FID, fid)]),
            ("EMPTY_FOLDER", OP_EMPTY_FOLDER, [(PR_FID, fid)]),
            ("GET_FOLDER", OP_GET_FOLDER, [(PR_FID, fid)]),
            ("SET_PROPS", OP_SET_PROPS, [(PR_FID, fid), (START_MESSAGE, 0), (PR_COMMENT, "x"),
                                         (END_MESSAGE, 0)])):
        r = alice.ask(op, args, mailbox_id=bob.id)
        check("%s in bob's mailbox with alice's session is E_NOTFOUND" % what, r.status == E_NOTFOUND, r)
    r = alice.ask(OP_COPY_FOLDER, [(PR_FID, fid), (PR_PARENT_FID, mine)])
    check("bob's folder id in alice's own mailbox is just an unknown folder",
          r.status == E_NOTFOUND or (r.status == OK and counter(fid) != counter(r[PR_FID])), r)
    check("bob's folder and message are untouched",
          fid in folders(bob) and folders(bob)[fid].get(PR_CONTENT_COUNT) == 1)
    alice.close()
    bob.close()


def the_stack_is_left_healthy():
    if not xctest.storaged_answers(timeout=2):
        xctest.stack("start-storaged")
        xctest.wait_until(xctest.storaged_answers, timeout=20)
    check("storaged answers at the end", xctest.storaged_answers(timeout=2))


if __name__ == "__main__":
    xctest.run_tests(
        deleting_a_folder_needs_the_flags_for_what_it_holds,
        special_and_unknown_folders_are_refused,
        moving_and_renaming_a_folder,
        copying_a_tree_gives_new_ids_and_shares_large_values,
        emptying_a_folder,
        folder_properties,
        random_sequences_keep_everything_exact,
        concurrent_copiers_and_deleters_leave_counts_exact,
        bobs_folders_are_out_of_reach,
        a_crash_mid_delete_leaves_all_or_nothing,
        the_stack_is_left_healthy,
    )
