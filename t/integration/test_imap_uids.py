#!/usr/bin/python3
"""test_imap_uids - IMAP unique identifiers in the store (sql/020, for
issue 5; RFC 3501 2.3.1.1, RFC 9051 2.3.1.1) and IMAP's view of a folder
(IMAP_LIST, op 46).

Every message that arrives in a folder, however it arrives (saved through
MAPI's SAVE_MESSAGE, imported as MIME, delivered several at once, copied,
moved, its folder copied), gets the folder's next UID: they ascend in the
order messages arrive, never repeat in a folder, and stay as long as the
message stays, through changes of its content and read state. UIDNEXT only
moves when messages arrive (deletes leave it), UIDVALIDITY is fixed and
non-zero, and a folder made anew under an old name gets its own numbers
from 1. IMAP_LIST gives each message's UID, MODSEQ (its CN), the system
flags as the store keeps them (read state, follow-up flag, last verb,
PidTagMessageStatus delete mark, mfUnsent), its Keywords, INTERNALDATE and,
once the store has its MIME, RFC822.SIZE; by UID range or changed since a
CN; with UIDVALIDITY, UIDNEXT, the count and the highest change; and
nothing for a user without access.
"""
import xctest
from xctest import OK, check, psql, store_mismatches, T_NEW_MIDS
from test_store import Mailbox, a_note, PR_MID, T_MIDS, T_TOTAL, T_CN
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


OP_IMAP_LIST = 46
T_UID = xctest.tag(xctest.PT_I8, 0x5D)
T_UIDVALIDITY = xctest.tag(xctest.PT_I8, 0x5E)
T_UIDNEXT = xctest.tag(xctest.PT_I8, 0x5F)
T_IMAP_FLAGS = xctest.tag(xctest.PT_LONG, 0x60)
T_KEYWORDS = xctest.tag(xctest.PT_MV | xctest.PT_UNICODE, 0x61)
T_UID_FIRST = xctest.tag(xctest.PT_I8, 0x62)
T_UID_LAST = xctest.tag(xctest.PT_I8, 0x63)
T_SIZE = xctest.tag(xctest.PT_I8, 0x4D)
SEEN, ANSWERED, FLAGGED, DELETED, DRAFT, FORWARDED = 1, 2, 4, 8, 16, 32
PR_FLAG_STATUS = xctest.tag(xctest.PT_LONG, 0x1090)
PR_LAST_VERB = xctest.tag(xctest.PT_LONG, 0x1081)
PR_MSG_STATUS = xctest.tag(xctest.PT_LONG, 0x0E17)
PR_MESSAGE_FLAGS = xctest.tag(xctest.PT_LONG, 0x0E07)
PR_DELIVERY_TIME = xctest.tag(xctest.PT_SYSTIME, 0x0E06)


def imap_list(mb, fid, *args, mailbox_id=None):
    return mb.ask(OP_IMAP_LIST, [(PR_FID, fid)] + list(args), mailbox_id=mailbox_id)


def set_props(mb, mid, *props):
    from test_store import START_MESSAGE, END_MESSAGE
    return mb.ask(xctest.OP_SET_PROPS, [(PR_MID, mid), (START_MESSAGE, 0)] + list(props) +
                  [(END_MESSAGE, 0)])


def imap_list_shows_uids_flags_and_keywords():
    mb = Mailbox()
    fid, _ = mb.new_folder("ImapList")
    raw = (b"Subject: tagged\r\nKeywords: Urlaub, Familie\r\n"
           b"Date: Tue, 1 Feb 1994 00:00:00 +0000\r\n\r\nhello\r\n")
    st, p, _ = import_mime(mb, fid, raw)
    tagged = p.get(PR_MID)
    mids = [mb.save(a_note("plain %d" % i), fid=fid).get(PR_MID) for i in range(5)]
    draft = mb.save(a_note("draft", props=[(PR_MESSAGE_FLAGS, 0x8)]), fid=fid).get(PR_MID)
    check("seven messages", st == OK and None not in mids and draft is not None, p)

    mb.set_read([mids[0]])
    set_props(mb, mids[1], (PR_FLAG_STATUS, 2))
    set_props(mb, mids[2], (PR_LAST_VERB, 103))
    set_props(mb, mids[3], (PR_LAST_VERB, 104))
    set_props(mb, mids[4], (PR_MSG_STATUS, 0x8))
    r = imap_list(mb, fid)
    rows = {row.get(PR_MID): row for row in r.rows}
    check("IMAP_LIST answers a row per message, in UID order",
          r.status == OK and [row.get(T_UID) for row in r.rows] == list(range(1, 8)), r)
    flags = [rows.get(m, {}).get(T_IMAP_FLAGS) for m in mids + [draft]]
    check("flags: read \\Seen, follow-up \\Flagged, reply all \\Answered, forward "
          "$Forwarded, delete mark \\Deleted, unsent \\Draft",
          flags == [SEEN, FLAGGED, ANSWERED, FORWARDED, DELETED, DRAFT], flags)
    t = rows.get(tagged, {})
    check("the imported message's Keywords are its keywords",
          t.get(T_KEYWORDS) == ["Urlaub", "Familie"], t)
    check("its RFC822.SIZE is its bytes", t.get(T_SIZE) == len(raw), t)
    check("its INTERNALDATE is its delivery time (its Date here)",
          t.get(PR_DELIVERY_TIME) == (760060800 + 11644473600) * 10 ** 7, t.get(PR_DELIVERY_TIME))
    check("a MAPI message has no size until its MIME exists",
          T_SIZE not in rows.get(mids[0], {}), rows.get(mids[0]))
    from test_mime import get_mime
    st, _, body = get_mime(mb, mids[0])
    r = imap_list(mb, fid, (T_UID_FIRST, 2), (T_UID_LAST, 2))
    check("a UID range gives just those; the generated MIME's size is known",
          r.status == OK and len(r.rows) == 1 and r.rows[0].get(T_SIZE) == len(body), r)
    check("the answer has UIDVALIDITY, UIDNEXT, the count",
          r.get(T_UIDVALIDITY) == folder_uids(mb, fid)[0] and r.get(T_UIDNEXT) == 8 and
          r.get(T_TOTAL) == 7, r)
    highest = r.get(T_CN)
    check("and the folder's highest change, the largest MODSEQ",
          highest == max(row.get(T_CN) for row in imap_list(mb, fid).rows), highest)
    set_props(mb, mids[1], (PR_FLAG_STATUS, 1))
    r = imap_list(mb, fid, (T_CN, highest))
    check("CHANGEDSINCE: only the message changed since",
          r.status == OK and [row.get(PR_MID) for row in r.rows] == [mids[1]] and
          r.rows[0].get(T_IMAP_FLAGS) == 0 and r.rows[0].get(T_CN) > highest, r)
    mb.delete([mids[0]])
    r = imap_list(mb, fid, (T_CN, r.get(T_CN)))
    check("an expunge raises the highest change, with no row",
          r.status == OK and r.rows == [] and r.get(T_CN) > highest, r)
    r = imap_list(mb, fid, (T_UID_FIRST, 5), (T_UID_LAST, 2))
    check("a range upside down is E_BADREQ", r.status == xctest.E_BADREQ, r)
    bob = Mailbox(xctest.BOB)
    r = imap_list(bob, fid, mailbox_id=mb.id)
    check("another user without access gets nothing", r.status != OK and not r.rows, r)
    bob.close()
    mb.close()


def a_draft_stays_unsent():
    """[MS-OXCMSG] 2.2.1.6: the bits of PidTagMessageFlags a client sets on
    a new message (mfUnsent for a draft, mfFromMe ...) are kept (sql/021)
    beside the store's own (read, FAI); later saves can't change them."""
    from test_store import PR_MESSAGE_FLAGS as FLAGS
    mb = Mailbox()
    fid, _ = mb.new_folder("Drafts of mine")
    other, _ = mb.new_folder("Draft copies")
    r = mb.save(a_note("a draft", props=[(FLAGS, 0x8 | 0x20)]), fid=fid)
    mid = r.get(PR_MID)
    _, got, _ = mb.get(mid)
    check("GET_MESSAGE shows mfUnsent and mfFromMe", got is not None and
          got.prop(FLAGS) == 0x28, got and got.prop(FLAGS))
    mb.set_read([mid])
    c = mb.contents(fid, [PR_MID, FLAGS])
    check("the contents table too, with the read state",
          [row.get(FLAGS) for row in c.rows] == [0x29], c.rows)
    r = mb.save(a_note("a draft, edited", props=[(FLAGS, 0)]), mid=mid)
    _, got, _ = mb.get(mid)
    check("a later save leaves them", r.status == OK and got.prop(FLAGS) & 0x28 == 0x28,
          got and got.prop(FLAGS))
    r = mb.ask(OP_COPY_MESSAGES, [(T_MIDS, [mid]), (PR_FID, other)])
    copy = (r.get(T_NEW_MIDS) or [None])[0]
    _, got, _ = mb.get(copy)
    check("a copy keeps them", got is not None and got.prop(FLAGS) & 0x28 == 0x28,
          got and got.prop(FLAGS))
    plain = mb.save(a_note("not a draft"), fid=fid).get(PR_MID)
    _, got, _ = mb.get(plain)
    check("a message without them has none", got is not None and got.prop(FLAGS) & 0x3A8 == 0,
          got and got.prop(FLAGS))
    mb.close()


if __name__ == "__main__":
    xctest.run_tests(
        every_way_in_takes_the_next_uid,
        a_copied_folder_and_a_folder_made_anew_count_from_1,
        imap_list_shows_uids_flags_and_keywords,
        a_draft_stays_unsent,
    )
