#!/usr/bin/python3
"""test_message_ops - moving and copying messages, and changing their
properties one by one ([MS-OXCFOLD] RopMoveCopyMessages, [MS-OXCPRPT]
RopSetProperties / RopDeleteProperties on a saved message).

Alice copies mail with recipients, a large attachment and associated
messages into another folder: each copy gets a new id and everything of the
original, read state included, and the attachment's bytes stay stored once.
She moves mail: the new ids come back in her order (what IMAP needs for
COPYUID), the old ids are gone with tombstones, the change log shows a
delete in the source and a create in the destination. She sets and deletes
single properties: computed ones come back as problems while the rest is
applied, and the message's subject, class, delivery time, size and read
state end exactly as a SAVE of the same content would leave them. Counts,
used_bytes and blob references always equal a recount by SQL, with
concurrent movers and copiers too and after a storaged killed mid-copy.

The contract is lib/xc_wire.h (ops 24..27).
"""
import random
import secrets
import threading
import time

import xctest
from xctest import (ALICE, BOB, OK, E_NOTFOUND, E_BADREQ, T_ERRMSG,
                    PR_DISPLAY_NAME, PR_SMTP_ADDRESS, PR_FID, PT_LONG, PT_I8,
                    PT_UNICODE, PT_STRING8, PT_BINARY, OP_MOVE_MESSAGES,
                    OP_COPY_MESSAGES, OP_SET_PROPS, OP_DELETE_PROPS, OP_QUOTA,
                    T_NEW_MIDS, T_PROPTAGS, T_PROBLEMS, EC_ACCESS_DENIED,
                    check, problems, store_mismatches, tag, without_computed)
from test_store import (T_FAI, Mailbox, Message, a_note, same_content, counter,
                        pcl_entries, T_CN, T_TOTAL, T_MIDS, PR_MID,
                        PR_CHANGE_KEY, PR_PREDECESSOR_CHANGE_LIST, PR_SUBJECT,
                        PR_MESSAGE_CLASS, PR_MESSAGE_DELIVERY_TIME,
                        PR_MESSAGE_FLAGS, PR_MESSAGE_SIZE, PR_BODY,
                        PR_RECIPIENT_TYPE, PR_ATTACH_DATA_BIN,
                        PR_ATTACH_LONG_FILENAME, START_MESSAGE, END_MESSAGE,
                        START_RECIP, END_RECIP, MSGFLAG_READ, MAPI_TO,
                        filetime)

PR_CONTENT_COUNT = tag(PT_LONG, 0x3602)
PR_CONTENT_UNREAD = tag(PT_LONG, 0x3603)
PR_ASSOC_CONTENT_COUNT = tag(PT_LONG, 0x3617)
PR_KEYWORD = tag(PT_UNICODE, 0x6870)
PR_BLOBBY = tag(PT_BINARY, 0x6871)


def sql(q):
    out, err = xctest.psql(q)
    return (out + err).strip()


def exact(mb, what):
    bad = store_mismatches(mb.id)
    check("%s: counts, used_bytes and blob references equal a recount" % what, not bad, bad)


def counts(mb, fid):
    r = mb.ask(xctest.OP_GET_FOLDER, [(PR_FID, fid)])
    p = dict(r.items)
    return p.get(PR_CONTENT_COUNT), p.get(PR_CONTENT_UNREAD), p.get(PR_ASSOC_CONTENT_COUNT)


def unchanging(msg):
    return Message(without_computed(msg.props), msg.recipients, msg.attachments)


def hot(mid):
    """The hot columns of a message row, as text."""
    return sql("SELECT message_class || '|' || subject || '|' || coalesce(delivery_time::text, '-') "
               "|| '|' || message_size || '|' || is_read FROM messages WHERE mid = %d AND mailbox_id = "
               "(SELECT id FROM mailboxes WHERE user_id = xc_user_id('%s'))" % (counter(mid), ALICE[0]))


def mail(mb, fid, big):
    """A note to two people with a large attachment, a read one, and an
    associated message; [mids]."""
    a = mb.save(a_note("Report", recipients=[
        (0, [(PR_DISPLAY_NAME, "Bob"), (PR_SMTP_ADDRESS, "bob@example.test"), (PR_RECIPIENT_TYPE, MAPI_TO)]),
        (1, [(PR_DISPLAY_NAME, "Carol"), (PR_SMTP_ADDRESS, "carol@other.test"), (PR_RECIPIENT_TYPE, MAPI_TO)])],
        attachments=[(0, [(PR_ATTACH_LONG_FILENAME, "data.bin"), (PR_ATTACH_DATA_BIN, big)])]), fid=fid)
    b = mb.save(a_note("Already read", props=[(PR_MESSAGE_FLAGS, MSGFLAG_READ)]), fid=fid)
    c = mb.save(a_note("View settings"), fid=fid, fai=True)
    assert a.status == b.status == c.status == OK, (a, b, c)
    return [a[PR_MID], b[PR_MID], c[PR_MID]]


def blob_refs(big):
    return sql("SELECT count(*) || ' ' || coalesce(sum(refcount), 0) FROM blobs WHERE size = %d AND "
               "position(decode('%s', 'hex') IN data) = 1" % (len(big), big[:64].hex()))


# -------------------------------------------------------------- tests ----
def copies_keep_everything_and_share_large_values():
    mb = Mailbox()
    src, _ = mb.new_folder("Copy from")
    dest, _ = mb.new_folder("Copy to")
    big = secrets.token_bytes(100 * 1024)
    mids = mail(mb, src, big)
    nowhere = mids[0] + (1 << 40)
    r = mb.ask(OP_COPY_MESSAGES, [(T_MIDS, [mids[0], mids[1], nowhere, mids[2]]), (PR_FID, dest)])
    new = r.get(T_NEW_MIDS, [])
    check("alice copies three messages and an unknown id", r.status == OK and r.get(T_TOTAL) == 3, r)
    check("the new ids come back in her order, 0 for the unknown one",
          len(new) == 4 and new[2] == 0 and all(new[i] not in (0, mids[j]) for i, j in ((0, 0), (1, 1), (3, 2)))
          and len(set(new)) == 4, new)
    same = []
    for old, cp in zip(mids, [new[0], new[1], new[3]]):
        _, a, _ = mb.get(old)
        _, b, _ = mb.get(cp)
        ok, detail = same_content(unchanging(a), b) if a and b else (False, "missing")
        same.append((ok and a.prop(PR_MESSAGE_FLAGS) == b.prop(PR_MESSAGE_FLAGS)
                     and a.prop(PR_MESSAGE_SIZE) == b.prop(PR_MESSAGE_SIZE), detail))
    check("each copy has the original's properties, recipients, attachment, size and read state",
          all(ok for ok, _ in same), same)
    check("the originals are still there", all(mb.get(m)[0].status == OK for m in mids))
    check("the 100 KiB attachment is stored once, with two references", blob_refs(big) == "1 2",
          blob_refs(big))
    check("the destination counts 2 messages, 1 unread, 1 associated", counts(mb, dest) == (2, 1, 1),
          counts(mb, dest))
    log = mb.all_changes(r.get(T_CN, 3) - 3)
    check("the change log has a create in the destination for each copy, in order",
          [(k, f, m) for _, k, f, m in log] == [("create", dest, x) for x in (new[0], new[1], new[3])], log)
    check("and the final CN is the last one", log and log[-1][0] == r.get(T_CN), (log, r))
    again = mb.ask(OP_COPY_MESSAGES, [(T_MIDS, [mids[1]]), (PR_FID, src)])
    check("a copy into the message's own folder is another message there",
          again.status == OK and counts(mb, src) == (3, 1, 1), (again, counts(mb, src)))
    for what, args, want in (
            ("without MIDS", [(PR_FID, dest)], E_BADREQ),
            ("without a destination", [(T_MIDS, mids)], E_BADREQ),
            ("into an unknown folder", [(T_MIDS, mids), (PR_FID, dest + (1 << 40))], E_NOTFOUND)):
        for op, name in ((OP_COPY_MESSAGES, "COPY_MESSAGES"), (OP_MOVE_MESSAGES, "MOVE_MESSAGES")):
            x = mb.ask(op, args)
            check("%s %s is %s" % (name, what, "E_BADREQ" if want == E_BADREQ else "E_NOTFOUND"),
                  x.status == want, x)
    exact(mb, "after copies")
    mb.close()


def moves_give_new_ids_and_leave_tombstones():
    mb = Mailbox()
    src, _ = mb.new_folder("Move from")
    dest, _ = mb.new_folder("Move to")
    big = secrets.token_bytes(50 * 1024)
    mids = mail(mb, src, big)
    before = {m: mb.get(m)[1] for m in mids}
    used = sql("SELECT used_bytes FROM mailboxes WHERE id = %d" % mb.id)
    r = mb.ask(OP_MOVE_MESSAGES, [(T_MIDS, [mids[2], mids[0], mids[1]]), (PR_FID, dest)])
    new = r.get(T_NEW_MIDS, [])
    check("alice moves three messages, in her order", r.status == OK and r.get(T_TOTAL) == 3
          and len(new) == 3 and not set(new) & set(mids) and 0 not in new, r)
    check("the old ids are gone", all(mb.get(m)[0].status == E_NOTFOUND for m in mids))
    same = []
    for old, nw in zip([mids[2], mids[0], mids[1]], new):
        r2, got, _ = mb.get(nw)
        ok = got is not None and same_content(unchanging(before[old]), got)[0] \
            and got.prop(PR_MESSAGE_FLAGS) == before[old].prop(PR_MESSAGE_FLAGS)
        pcl = pcl_entries(got.prop(PR_PREDECESSOR_CHANGE_LIST) or b"") if got else None
        same.append(ok and pcl is not None and got.prop(PR_CHANGE_KEY) in pcl)
    check("under the new ids: the same content and read state, a new change key in the PCL", all(same), same)
    check("counts: the source is empty, the destination holds 2 + 1 associated, 1 unread",
          counts(mb, src) == (0, 0, 0) and counts(mb, dest) == (2, 1, 1), (counts(mb, src), counts(mb, dest)))
    check("used_bytes did not change", sql("SELECT used_bytes FROM mailboxes WHERE id = %d" % mb.id) == used)
    check("the attachment was not copied: one blob, one reference", blob_refs(big) == "1 1", blob_refs(big))
    log = mb.all_changes(r[T_CN] - 6)
    check("the change log: for each message a delete in the source, then a create in the destination",
          [(k, f, m) for _, k, f, m in log] ==
          [x for old, nw in zip([mids[2], mids[0], mids[1]], new)
           for x in (("delete", src, old), ("create", dest, nw))], log)
    tombs = sql("SELECT count(*) FROM tombstones WHERE mailbox_id = %d AND fid = %d AND mid IN (%s)"
                % (mb.id, counter(src), ",".join(str(counter(m)) for m in mids)))
    check("each old id has a tombstone in the source folder", tombs == "3", tombs)
    same_folder = mb.ask(OP_MOVE_MESSAGES, [(T_MIDS, [new[1]]), (PR_FID, dest)])
    check("a move within the same folder gives a new id, counts unchanged",
          same_folder.status == OK and same_folder[T_NEW_MIDS][0] not in (0, new[1])
          and counts(mb, dest) == (2, 1, 1), same_folder)
    again = mb.ask(OP_MOVE_MESSAGES, [(T_MIDS, mids), (PR_FID, dest)])
    check("moving the old ids again moves nothing", again.status == OK and again.get(T_TOTAL) == 0
          and again.get(T_NEW_MIDS) == [0, 0, 0], again)
    exact(mb, "after moves")
    mb.close()


def merged(msg, set_props=(), delete=()):
    """msg's stored content with set_props applied and ids in delete removed."""
    ids = {t >> 16 for t, _ in set_props} | {t >> 16 for t in delete}
    props = [(t, v) for t, v in without_computed(msg.props)
             if t >> 16 not in ids and t != PR_MESSAGE_FLAGS and t >> 16 not in (0x0E08, 0x67AA, 0x0E07)]
    props += [(t, v) for t, v in set_props if t >> 16 not in (0x0E08, 0x674A, 0x0E07)]
    return Message(props, msg.recipients, msg.attachments)


def setting_properties_of_a_message():
    mb = Mailbox()
    fid, _ = mb.new_folder("Set props")
    msg = a_note("Old subject", props=[(PR_BODY, "body text"), (PR_KEYWORD, "keep me"),
                                       (PR_BLOBBY, secrets.token_bytes(6000))],
                 recipients=[(0, [(PR_DISPLAY_NAME, "Bob"), (PR_SMTP_ADDRESS, "bob@example.test")])])
    saved = mb.save(msg, fid=fid)
    mid = saved[PR_MID]
    _, before, _ = mb.get(mid)
    changes = [(PR_SUBJECT, "New subject \u2713"), (PR_MESSAGE_SIZE, 1), (PR_MESSAGE_CLASS, "IPM.Note.Custom"),
               (PR_MESSAGE_DELIVERY_TIME, filetime(2026, 5, 1, 12)), (PR_MID, 42),
               (PR_BLOBBY, b"small now"), (PR_MESSAGE_FLAGS, MSGFLAG_READ), (tag(PT_I8, 0x6872), 7)]
    r = mb.ask(OP_SET_PROPS, [(PR_MID, mid), (START_MESSAGE, 0)] + changes + [(END_MESSAGE, 0)])
    check("alice sets eight properties of a saved message", r.status == OK, r)
    check("PR_MESSAGE_SIZE and PR_MID are problems (index, tag, access denied)",
          problems(r.get(T_PROBLEMS)) == [(1, PR_MESSAGE_SIZE, EC_ACCESS_DENIED), (4, PR_MID, EC_ACCESS_DENIED)], r)
    check("a new change number and change key",
          r.get(T_CN, 0) > saved[T_CN] and r.get(PR_CHANGE_KEY) not in (None, saved[PR_CHANGE_KEY]), r)
    _, got, _ = mb.get(mid)
    want = merged(before, changes)
    same, detail = same_content(want, got)
    check("the others are set, what she didn't name is kept", same, detail)
    check("it is read now", got.prop(PR_MESSAGE_FLAGS, 0) & MSGFLAG_READ, got.prop(PR_MESSAGE_FLAGS))
    check("its PCL holds the new change key",
          r.get(PR_CHANGE_KEY) in (pcl_entries(got.prop(PR_PREDECESSOR_CHANGE_LIST) or b"") or []))
    twin = mb.save(Message(want.props + [(PR_MESSAGE_FLAGS, MSGFLAG_READ)], want.recipients, want.attachments),
                   fid=fid)
    check("subject, class, delivery time, size and read state are those a SAVE of the same content gives",
          hot(mid) == hot(twin[PR_MID]) and hot(mid).startswith("IPM.Note.Custom|New subject"),
          (hot(mid), hot(twin[PR_MID])))
    log = mb.all_changes(r[T_CN] - 1)
    check("the change log has one 'modify' of the message", log[:1] == [(r[T_CN], "modify", fid, mid)], log)
    exact(mb, "after SET_PROPS (unread count, used_bytes, the replaced 6000-byte value's blob)")
    none = mb.ask(OP_SET_PROPS, [(PR_MID, mid), (START_MESSAGE, 0), (PR_MESSAGE_SIZE, 5), (END_MESSAGE, 0)])
    check("setting only computed properties changes nothing: problems, no change number",
          none.status == OK and len(problems(none.get(T_PROBLEMS))) == 1 and none.get(T_CN) is None, none)
    for what, args in (
            ("a recipient in SET_PROPS", [(PR_MID, mid), (START_MESSAGE, 0), (START_RECIP, 0),
                                         (PR_DISPLAY_NAME, "x"), (END_RECIP, 0), (END_MESSAGE, 0)]),
            ("the same property twice", [(PR_MID, mid), (START_MESSAGE, 0), (PR_SUBJECT, "a"),
                                         (tag(PT_STRING8, 0x0037), "b"), (END_MESSAGE, 0)]),
            ("SET_PROPS without content", [(PR_MID, mid)]),
            ("SET_PROPS without an object", [(START_MESSAGE, 0), (PR_SUBJECT, "a"), (END_MESSAGE, 0)])):
        x = mb.ask(OP_SET_PROPS, args)
        check("%s is E_BADREQ" % what, x.status == E_BADREQ, x)
    x = mb.ask(OP_SET_PROPS, [(PR_MID, mid + (1 << 40)), (START_MESSAGE, 0), (PR_SUBJECT, "a"), (END_MESSAGE, 0)])
    check("SET_PROPS of an unknown message is E_NOTFOUND", x.status == E_NOTFOUND, x)
    mb.close()


def deleting_properties_of_a_message():
    mb = Mailbox()
    fid, _ = mb.new_folder("Delete props")
    saved = mb.save(a_note("Goes away", props=[(PR_KEYWORD, "goes too"), (PR_BODY, "stays"),
                                               (PR_BLOBBY, secrets.token_bytes(7000)),
                                               (PR_MESSAGE_DELIVERY_TIME, filetime(2026, 1, 2))]), fid=fid)
    mid = saved[PR_MID]
    _, before, _ = mb.get(mid)
    gone = [PR_SUBJECT, PR_MESSAGE_FLAGS, tag(PT_STRING8, 0x6870), PR_BLOBBY, PR_MESSAGE_DELIVERY_TIME,
            tag(PT_LONG, 0x6899)]
    r = mb.ask(OP_DELETE_PROPS, [(PR_MID, mid), (T_PROPTAGS, gone)])
    check("alice deletes subject, keyword (named by another type), a large value, delivery time, "
          "and a property it never had", r.status == OK and r.get(T_CN), r)
    check("PR_MESSAGE_FLAGS is the one problem", problems(r.get(T_PROBLEMS)) == [(1, PR_MESSAGE_FLAGS,
                                                                                  EC_ACCESS_DENIED)], r)
    _, got, _ = mb.get(mid)
    want = merged(before, delete=gone)
    same, detail = same_content(want, got)
    check("they are gone, the body stays", same and got.prop(PR_SUBJECT) is None
          and got.prop(PR_KEYWORD) is None and got.prop(PR_BODY) == "stays", detail)
    twin = mb.save(want, fid=fid)
    check("subject, delivery time and size are those a SAVE of what is left gives",
          hot(mid) == hot(twin[PR_MID]) and "|-|" in hot(mid), (hot(mid), hot(twin[PR_MID])))
    x = mb.ask(OP_DELETE_PROPS, [(PR_MID, mid)])
    check("DELETE_PROPS without PROPTAGS is E_BADREQ", x.status == E_BADREQ, x)
    exact(mb, "after DELETE_PROPS")
    mb.close()


def concurrent_movers_and_copiers_keep_counts_exact():
    mb = Mailbox()
    a, start = mb.new_folder("Ping")
    b, _ = mb.new_folder("Pong")
    for i in range(40):
        mb.save(a_note("ball %d" % i, props=[(PR_MESSAGE_FLAGS, MSGFLAG_READ if i % 3 else 0)]),
                fid=a if i % 2 else b, fai=i % 7 == 0)
    errors = []

    def worker(n):
        try:
            w = Mailbox(timeout=60)
            rnd = random.Random(n)
            for i in range(15):
                frm, to = (a, b) if rnd.random() < 0.5 else (b, a)
                _, rows = w.every_row(frm, [PR_MID])
                pick = [x[PR_MID] for x in rows if rnd.random() < 0.3][:10]
                if not pick:
                    continue
                op = OP_COPY_MESSAGES if i % 5 == 0 else OP_MOVE_MESSAGES
                r = w.ask(op, [(T_MIDS, pick), (PR_FID, to)])
                if r.status != OK:
                    errors.append((n, i, r))
            w.close()
        except Exception as e:          # noqa: BLE001 - reported below
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    check("6 clients moving and copying between two folders at once all succeed", not errors, errors[:5])
    exact(mb, "after concurrent moves and copies")
    log = mb.all_changes(start)
    cns = [c for c, _, _, _ in log]
    check("the change log's CNs are strictly increasing and gap-free",
          cns == list(range(start + 1, start + 1 + len(cns))), (cns[:5], len(cns)))
    creates = {m for _, k, _, m in log if k == "create" and m}
    deletes = {m for _, k, _, m in log if k == "delete" and m}
    live = {m for f in (a, b) for m in sql("SELECT mid FROM messages WHERE mailbox_id = %d AND fid = %d"
                                           % (mb.id, counter(f))).split()}
    check("the messages there are exactly those created and not deleted",
          {str(counter(m)) for m in creates - deletes} == live, (len(creates), len(deletes), len(live)))
    mb.close()


def a_crash_mid_copy_leaves_all_or_nothing():
    mb = Mailbox()
    src, _ = mb.new_folder("Crash source")
    dest, _ = mb.new_folder("Crash copies")
    mids = [mb.save(a_note("seed %d" % i, props=[(PR_BLOBBY, secrets.token_bytes(5000))]),
                    fid=src)[PR_MID] for i in range(10)]
    # double up to 640 messages, so a copy of them all takes a while
    for _ in range(6):
        r = mb.ask(OP_COPY_MESSAGES, [(T_MIDS, mids[:1000]), (PR_FID, src)])
        mids += [m for m in r.get(T_NEW_MIDS, []) if m]
    batch = mids[:640]
    done, took, stop = [], [], threading.Event()

    def copier():
        try:
            w = Mailbox(timeout=20)
            while not stop.is_set():
                t0 = time.time()
                r = w.ask(OP_COPY_MESSAGES, [(T_MIDS, batch), (PR_FID, dest)])
                took.append(time.time() - t0)
                done.append(r.status)
        except (OSError, EOFError):
            pass
    t = threading.Thread(target=copier)
    t.start()
    xctest.wait_until(lambda: len(done) >= 1, timeout=60, step=0.01)
    time.sleep(random.Random().uniform(0.01, 0.2))
    xctest.stack("kill-storaged")
    stop.set()
    t.join(30)
    xctest.stack("start-storaged")
    check("storaged starts again after a kill -9 during copies of %d messages (%d confirmed)"
          % (len(batch), done.count(OK)), xctest.wait_until(xctest.storaged_answers, timeout=20))
    mb = Mailbox()
    n = counts(mb, dest)[0]
    print("# %d copies confirmed (%.2f s each), %d messages in the destination"
          % (done.count(OK), sum(took) / max(len(took), 1), n))
    check("the destination holds whole copies only: a multiple of %d, at least the confirmed ones"
          % len(batch), n % len(batch) == 0 and n >= done.count(OK) * len(batch), n)
    exact(mb, "after the crash")
    mb.close()


def bobs_messages_are_out_of_reach():
    bob = Mailbox(BOB)
    fid, _ = bob.new_folder("Bob's")
    mid = bob.save(a_note("Bob's own"), fid=fid)[PR_MID]
    alice = Mailbox()
    for what, op, args in (
            ("MOVE_MESSAGES", OP_MOVE_MESSAGES, [(T_MIDS, [mid]), (PR_FID, fid)]),
            ("COPY_MESSAGES", OP_COPY_MESSAGES, [(T_MIDS, [mid]), (PR_FID, fid)]),
            ("SET_PROPS", OP_SET_PROPS, [(PR_MID, mid), (START_MESSAGE, 0), (PR_SUBJECT, "x"),
                                         (END_MESSAGE, 0)]),
            ("DELETE_PROPS", OP_DELETE_PROPS, [(PR_MID, mid), (T_PROPTAGS, [PR_SUBJECT])]),
            ("QUOTA", OP_QUOTA, [])):
        r = alice.ask(op, args, mailbox_id=bob.id)
        check("%s in bob's mailbox with alice's session is E_NOTFOUND" % what, r.status == E_NOTFOUND, r)
    _, got, _ = bob.get(mid)
    check("bob's message is untouched", got is not None and got.prop(PR_SUBJECT) == "Bob's own")
    alice.close()
    bob.close()


def deleted_messages_leave_no_content_rows():
    mb = Mailbox()
    fid, _ = mb.new_folder("Delete from")
    big = secrets.token_bytes(20 * 1024)
    mids = mail(mb, fid, big)
    more = mail(mb, fid, big)

    def rows(ids):
        return sql("SELECT (SELECT count(*) FROM message_props WHERE mailbox_id = %(m)d AND mid = ANY(%(i)s)) "
                   "|| ' ' || (SELECT count(*) FROM recipients WHERE mailbox_id = %(m)d AND mid = ANY(%(i)s)) "
                   "|| ' ' || (SELECT count(*) FROM attachments WHERE mailbox_id = %(m)d AND mid = ANY(%(i)s))"
                   % {"m": mb.id, "i": "ARRAY[%s]::bigint[]" % ",".join(str(counter(x)) for x in ids)})
    check("a saved note has property, recipient and attachment rows",
          all(int(n) > 0 for n in rows(mids[:1]).split()), rows(mids[:1]))
    r = mb.delete(mids)
    check("alice deletes three messages", r.status == OK, r)
    check("their properties, recipients and attachments are gone with them", rows(mids) == "0 0 0",
          rows(mids))
    r = mb.ask(xctest.OP_EMPTY_FOLDER, [(PR_FID, fid), (T_FAI, 1)])
    check("alice empties the folder", r.status == OK, r)
    check("so are those of the messages the folder held", rows(more) == "0 0 0", rows(more))
    check("the attachment's value has no references left", blob_refs(big).split()[-1] == "0",
          blob_refs(big))
    exact(mb, "after deletes")
    mb.close()


def the_stack_is_left_healthy():
    if not xctest.storaged_answers(timeout=2):
        xctest.stack("start-storaged")
        xctest.wait_until(xctest.storaged_answers, timeout=20)
    check("storaged answers at the end", xctest.storaged_answers(timeout=2))


if __name__ == "__main__":
    xctest.run_tests(
        copies_keep_everything_and_share_large_values,
        moves_give_new_ids_and_leave_tombstones,
        setting_properties_of_a_message,
        deleting_properties_of_a_message,
        concurrent_movers_and_copiers_keep_counts_exact,
        bobs_messages_are_out_of_reach,
        deleted_messages_leave_no_content_rows,
        a_crash_mid_copy_leaves_all_or_nothing,
        the_stack_is_left_healthy,
    )
