#!/usr/bin/python3
"""test_search - search folders (sql/016, ops 37 and 38; [MS-OXCFOLD]
2.2.1.4 RopSetSearchCriteria, 2.2.1.5 RopGetSearchCriteria).

Alice makes a search folder under Finder, searches a folder (and then its
subfolders too) for a subject word, and its contents table is the
messages that match, wherever they live, current whenever it is read:
new mail that matches appears, deleted mail goes. A table restriction
narrows it further. Its criteria read back as set. Nothing can be saved
into it, Bob can't read it, and bad criteria are refused.
"""
import xctest
from xctest import (ALICE, BOB, OK, E_BADREQ, E_NOTFOUND, E_PERM, T_ERRMSG,
                    PR_FID, PR_DISPLAY_NAME, PR_PARENT_FID, PT_LONG, PT_I8,
                    PT_MV, PT_BINARY, check, tag)
from test_store import (Mailbox, a_note, PR_MID, PR_SUBJECT, OP_CREATE_FOLDER,
                        OP_SAVE_MESSAGE, OP_CONTENTS, T_COLUMNS, T_TOTAL,
                        T_MIDS)
from test_query import enc, CONTENT

OP_SET_SEARCH, OP_GET_SEARCH, OP_GET_FOLDER = 37, 38, 28
PR_CONTENT_COUNT = tag(PT_LONG, 0x3602)
PR_CONTENT_UNREAD = tag(PT_LONG, 0x3603)
PR_FOLDER_TYPE = tag(PT_LONG, 0x3601)
T_RESTRICTION = tag(PT_BINARY, 0x0020)
T_FIDS = tag(PT_MV | PT_I8, 0x0045)
T_SEARCH_FLAGS = tag(PT_LONG, 0x0046)
RECURSIVE, COMPLETE = 0x04, 0x1000
FINDER = 11
FL_SUBSTRING_IGNORECASE = 0x00010001


def subject_has(word):
    """[MS-OXCDATA] 2.12.4: the subject contains word, any case."""
    return enc((CONTENT, FL_SUBSTRING_IGNORECASE, PR_SUBJECT, PR_SUBJECT, word))


S = {}


def found(mb, fid, restriction=None):
    """{subject: parent folder} of a contents table, and its TOTAL."""
    args = [(PR_FID, fid), (T_COLUMNS, [PR_MID, PR_SUBJECT, PR_PARENT_FID])]
    if restriction is not None:
        args.append((T_RESTRICTION, restriction))
    r = mb.ask(OP_CONTENTS, args)
    assert r.status == OK, r
    return {row.get(PR_SUBJECT): row.get(PR_PARENT_FID) for row in r.rows}, r.get(T_TOTAL)


def a_search_folder_finds_across_folders():
    mb = Mailbox()
    top, _ = mb.new_folder("Projects")
    r = mb.ask(OP_CREATE_FOLDER, [(PR_PARENT_FID, top), (PR_DISPLAY_NAME, "Old")])
    sub = r[PR_FID]
    other, _ = mb.new_folder("Elsewhere")
    for fid, subject in ((top, "Invoice 1 for March"), (top, "Lunch on Friday"),
                         (sub, "old invoice 7"), (other, "Invoice from elsewhere")):
        assert mb.save(a_note(subject), fid=fid).status == OK
    r = mb.ask(OP_CREATE_FOLDER, [(PR_PARENT_FID, mb.special(FINDER)),
                                  (PR_DISPLAY_NAME, "Invoices"), (PR_FOLDER_TYPE, 2)])
    check("Alice makes a search folder under Finder", r.status == OK, r)
    S.update(top=top, sub=sub, other=other, search=r[PR_FID])
    r = mb.ask(OP_GET_SEARCH, [(PR_FID, S["search"])])
    check("before its criteria are set it has none (E_NOTFOUND)", r.status == E_NOTFOUND, r)
    r = mb.ask(OP_SET_SEARCH, [(PR_FID, S["search"]), (T_RESTRICTION, subject_has("invoice")),
                               (T_FIDS, [top])])
    check("she asks it for subjects with \"invoice\" in Projects", r.status == OK, r)
    got, total = found(mb, S["search"])
    check("it shows the one that matches there, and where it lives",
          got == {"Invoice 1 for March": top} and total == 1, (got, total))
    r = mb.ask(OP_SET_SEARCH, [(PR_FID, S["search"]), (T_SEARCH_FLAGS, RECURSIVE)])
    check("she makes the search recursive (keeping the rest)", r.status == OK, r)
    got, total = found(mb, S["search"])
    check("now the subfolder's invoice is found too",
          got == {"Invoice 1 for March": top, "old invoice 7": sub} and total == 2,
          (got, total))
    r = mb.ask(OP_GET_SEARCH, [(PR_FID, S["search"])])
    check("its criteria read back as set",
          r.status == OK and r.get(T_RESTRICTION) == subject_has("invoice") and
          r.get(T_FIDS) == [top] and r.get(T_SEARCH_FLAGS) == RECURSIVE | COMPLETE, r)
    listed = {row.get(PR_DISPLAY_NAME): row for row in
              mb.ask(xctest.OP_LIST_FOLDERS, []).rows}.get("Invoices", {})
    props = mb.ask(OP_GET_FOLDER, [(PR_FID, S["search"])])
    check("the folder list counts what it finds: 2 messages, 2 unread",
          listed.get(PR_CONTENT_COUNT) == 2 and listed.get(PR_CONTENT_UNREAD) == 2,
          listed)
    check("and so do its properties",
          props.get(PR_CONTENT_COUNT) == 2 and props.get(PR_CONTENT_UNREAD) == 2, props)
    mids = [row.get(PR_MID) for row in mb.ask(OP_CONTENTS, [
        (PR_FID, S["search"]), (T_COLUMNS, [PR_MID])]).rows]
    mb.set_read(mids[:1])
    props = mb.ask(OP_GET_FOLDER, [(PR_FID, S["search"])])
    check("reading one of them leaves 1 unread",
          props.get(PR_CONTENT_COUNT) == 2 and props.get(PR_CONTENT_UNREAD) == 1, props)
    new = mb.save(a_note("Invoice 2 for April"), fid=sub)
    got, _ = found(mb, S["search"])
    check("new mail that matches appears at once", "Invoice 2 for April" in got, got)
    mb.delete([new[PR_MID]])
    got, total = found(mb, S["search"])
    check("and goes when it is deleted", "Invoice 2 for April" not in got and total == 2,
          (got, total))
    got, total = found(mb, S["search"], subject_has("march"))
    check("a table restriction narrows it further",
          got == {"Invoice 1 for March": top} and total == 1, (got, total))
    mb.close()


def a_search_folder_holds_nothing_itself():
    mb = Mailbox()
    r = mb.save(a_note("into the search folder"), fid=S["search"])
    check("nothing can be saved into a search folder (E_PERM)",
          r.status == E_PERM and "search folder" in (r.get(T_ERRMSG) or ""), r)
    bob = Mailbox(BOB)
    r = bob.ask(OP_CONTENTS, [(PR_FID, S["search"]), (T_COLUMNS, [PR_MID])],
                mailbox_id=mb.id)
    check("Bob can't read Alice's search folder", r.status in (E_NOTFOUND, E_PERM), r)
    bob.close()
    bad = {
        "criteria on a normal folder (E_BADREQ)":
            ([(PR_FID, S["top"]), (T_FIDS, [S["top"]])], E_BADREQ),
        "a malformed restriction (E_BADREQ)":
            ([(PR_FID, S["search"]), (T_RESTRICTION, b"\x03\x01")], E_BADREQ),
        "searching a search folder (E_NOTFOUND)":
            ([(PR_FID, S["search"]), (T_FIDS, [S["search"]])], E_NOTFOUND),
        "a folder of another mailbox (E_NOTFOUND)":
            ([(PR_FID, S["search"]), (T_FIDS, [S["top"] ^ 0x1])], E_NOTFOUND),
    }
    for what, (args, want) in bad.items():
        r = mb.ask(OP_SET_SEARCH, args)
        check("refused: " + what, r.status == want, r)
    got, total = found(mb, S["search"])
    check("and the criteria are still the good ones", total == 2, (got, total))
    r = mb.ask(OP_SET_SEARCH, [(PR_FID, S["search"]), (T_FIDS, [S["top"], S["top"]])])
    got, total = found(mb, S["search"])
    check("a folder named twice in the scope is searched once",
          r.status == OK and total == 2, (r.status, got, total))
    r = mb.ask(OP_SET_SEARCH, [(PR_FID, S["search"]), (T_RESTRICTION, b"")])
    got, total = found(mb, S["search"])
    check("an empty restriction finds every message of the scope",
          r.status == OK and total == 3, (r.status, got, total))
    r = mb.ask(xctest.OP_DELETE_FOLDER, [(PR_FID, S["search"]), (xctest.T_FOLDER_FLAGS, 0)])
    check("a search folder is deleted like any folder", r.status == OK, r)
    got, total = found(mb, S["top"])
    check("and the messages it showed stay where they are", total == 2, (got, total))
    mb.close()


if __name__ == "__main__":
    xctest.run_tests(
        a_search_folder_finds_across_folders,
        a_search_folder_holds_nothing_itself,
    )
