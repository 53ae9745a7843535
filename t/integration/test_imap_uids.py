#!/usr/bin/python3
"""test_imap_uids - IMAP unique identifiers in the store (sql/020, for
issue 5; RFC 3501 2.3.1.1, RFC 9051 2.3.1.1).

Every message that arrives in a folder, however it arrives (saved through
MAPI's SAVE_MESSAGE, imported as MIME, delivered several at once, copied,
moved, its folder copied), gets the folder's next UID: they ascend in the
order messages arrive, never repeat in a folder, and stay as long as the
message stays, through changes of its content and read state. UIDNEXT only
moves when messages arrive (deletes leave it), UIDVALIDITY is fixed and
non-zero, and a folder made anew under an old name gets its own numbers
from 1.
"""
import xctest
from xctest import OK, check, psql, store_mismatches, T_NEW_MIDS
from test_store import Mailbox, a_note, PR_MID, T_MIDS
from test_mime import (send_stream, counter_of, OP_IMPORT_MIME, T_PARTS,
                       import_mime)
from xctest import (PR_FID, OP_COPY_MESSAGES, OP_MOVE_MESSAGES, OP_COPY_FOLDER,
                    OP_DELETE_FOLDER, DEL_MESSAGES)

PR_PARENT_FID = xctest.tag(xctest.PT_I8, 0x6749)
T_RECURSIVE = xctest.tag(xctest.PT_BOOLEAN, 0x31)
T_FOLDER_FLAGS = xctest.tag(xctest.PT_LONG, 0x30)


def folder_uids(mb, fid):
    """(uidvalidity, uidnext) of the folder."""
    out, _ = psql("SELECT imap_uidvalidity || '|' || imap_uidnext FROM folders "
                  "WHERE mailbox_id = %d AND fid = %d" % (mb.id, counter_of(fid)))
    v, n = out.strip().split("|")
    return int(v), int(n)


def uid_of(mb, mid):
    out, _ = psql("SELECT imap_uid FROM messages WHERE mailbox_id = %d AND mid = %d"
                  % (mb.id, counter_of(mid)))
    return int(out.strip()) if out.strip() else None


def uids_in(mb, fid):
    out, _ = psql("SELECT imap_uid FROM messages WHERE mailbox_id = %d AND fid = %d "
                  "ORDER BY imap_uid" % (mb.id, counter_of(fid)))
    return [int(x) for x in out.split()]


def every_way_in_takes_the_next_uid():
    mb = Mailbox()
    fid, _ = mb.new_folder("Uids")
    other, _ = mb.new_folder("Elsewhere")
    validity, nxt = folder_uids(mb, fid)
    check("a new folder has a UIDVALIDITY and UIDNEXT 1",
          0 < validity < 2 ** 32 and nxt == 1, (validity, nxt))

    saved = [mb.save(a_note("uid %d" % i), fid=fid) for i in range(3)]
    check("three saves", all(r.status == OK for r in saved), saved)
    mids = [r.get(PR_MID) for r in saved]
    check("saved messages get 1, 2, 3", [uid_of(mb, m) for m in mids] == [1, 2, 3],
          [uid_of(mb, m) for m in mids])
    st, p, _ = import_mime(mb, fid, b"Subject: imported\r\n\r\nx\r\n")
    check("an imported one gets 4", st == OK and uid_of(mb, p.get(PR_MID)) == 4, p)
    parts = [b"Subject: p%d\r\n\r\nx\r\n" % i for i in range(3)]
    st, p, _ = send_stream(mb, OP_IMPORT_MIME, [(PR_FID, fid), (T_PARTS, [len(x) for x in parts])],
                           b"".join(parts))
    news = p.get(T_NEW_MIDS) or []
    check("several delivered together get 5, 6, 7 in their order",
          st == OK and [uid_of(mb, m) for m in news] == [5, 6, 7], (st, p))
    check("UIDNEXT is 8", folder_uids(mb, fid) == (validity, 8), folder_uids(mb, fid))

    # changes keep the UID
    r = mb.save(a_note("uid 0, changed"), mid=mids[0])
    check("a changed message keeps its UID", r.status == OK and uid_of(mb, mids[0]) == 1, r)
    mb.set_read([mids[1]])
    check("so does one marked read", uid_of(mb, mids[1]) == 2)

    # copies and moves are new arrivals
    o = mb.save(a_note("from elsewhere"), fid=other).get(PR_MID)
    r = mb.ask(OP_COPY_MESSAGES, [(T_MIDS, [o]), (PR_FID, fid)])
    copy = (r.get(T_NEW_MIDS) or [None])[0]
    check("a copy in gets 8", r.status == OK and uid_of(mb, copy) == 8, r)
    r = mb.ask(OP_MOVE_MESSAGES, [(T_MIDS, [mids[2]]), (PR_FID, other)])
    check("a message moved out leaves", r.status == OK and 3 not in uids_in(mb, fid), r)
    back = (r.get(T_NEW_MIDS) or [None])[0]
    check("and takes the next UID of where it went, 2",
          uids_in(mb, other) == [1, 2], uids_in(mb, other))
    r = mb.ask(OP_MOVE_MESSAGES, [(T_MIDS, [back]), (PR_FID, fid)])
    moved = (r.get(T_NEW_MIDS) or [None])[0]
    check("and moved back gets a new UID, 9", r.status == OK and uid_of(mb, moved) == 9, r)
    check("and is gone from there", uids_in(mb, other) == [1], uids_in(mb, other))

    mb.delete([mids[1]])
    check("a delete leaves UIDNEXT as it was", folder_uids(mb, fid) == (validity, 10),
          folder_uids(mb, fid))
    check("UIDs in the folder: ascending, none twice",
          uids_in(mb, fid) == [1, 4, 5, 6, 7, 8, 9], uids_in(mb, fid))
    check("counts and bytes add up", store_mismatches(mb.id) == [], store_mismatches(mb.id))
    mb.close()


def a_copied_folder_and_a_folder_made_anew_count_from_1():
    mb = Mailbox()
    top, _ = mb.new_folder("UidTree")
    for i in range(3):
        mb.save(a_note("tree %d" % i), fid=top)
    dest, _ = mb.new_folder("UidCopies")
    r = mb.ask(OP_COPY_FOLDER, [(PR_FID, top), (PR_PARENT_FID, dest), (T_RECURSIVE, 1)])
    check("the folder is copied", r.status == OK, r)
    out, _ = psql("SELECT fid FROM folders WHERE mailbox_id = %d AND parent_fid = %d"
                  % (mb.id, counter_of(dest)))
    copied = int(out.split()[0])
    out, _ = psql("SELECT string_agg(imap_uid::text, ',' ORDER BY imap_uid) || '|' || "
                  "(SELECT imap_uidnext FROM folders WHERE mailbox_id = %d AND fid = %d) "
                  "FROM messages WHERE mailbox_id = %d AND fid = %d"
                  % (mb.id, copied, mb.id, copied))
    check("its messages get 1, 2, 3 there and UIDNEXT 4", out.strip() == "1,2,3|4", out)
    out, _ = psql("SELECT count(DISTINCT imap_uidvalidity) > 0 AND bool_and(imap_uidvalidity > 0) "
                  "FROM folders WHERE mailbox_id = %d" % mb.id)
    check("every folder has a UIDVALIDITY", out.strip() == "t", out)
    name = "UidAgain %d" % counter_of(top)
    r = mb.create_folder(name)
    first = r.get(PR_FID)
    mb.save(a_note("again"), fid=first)
    v1, _ = folder_uids(mb, first)
    r = mb.ask(OP_DELETE_FOLDER, [(PR_FID, first), (T_FOLDER_FLAGS, DEL_MESSAGES)])
    check("a folder is deleted", r.status == OK, r)
    r = mb.create_folder(name)
    again = r.get(PR_FID)
    check("and made again under its name", r.status == OK, r)
    v2, n2 = folder_uids(mb, again)
    check("with another UIDVALIDITY and UIDNEXT 1", v2 != v1 and n2 == 1, (v1, v2, n2))
    mb.save(a_note("again 2"), fid=again)
    check("its first message is UID 1", uids_in(mb, again) == [1], uids_in(mb, again))
    mb.close()


if __name__ == "__main__":
    xctest.run_tests(
        every_way_in_takes_the_next_uid,
        a_copied_folder_and_a_folder_made_anew_count_from_1,
    )
