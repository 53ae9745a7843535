"""Named properties ([MS-OXCPRPT] 2.2.12): a client maps PropertySet GUID +
LID or name to a property id of the mailbox, 0x8000 and up, creating ids on
request; the same name always gets the same id, concurrent creators never
collide, PS_MAPI names are their LID, and a full table is a clean error."""
import threading
import uuid

import xctest
from xctest import check, run_tests, Storaged, OK, E_BADREQ, E_LIMIT, tag, \
    PT_CLSID, PT_LONG, PT_STRING8, PT_BOOLEAN, T_SESSION, T_MAILBOX_ID

OP = 17
GUID, LID, STR, CREATE = (tag(PT_CLSID, 0x1B), tag(PT_LONG, 0x1C),
                          tag(PT_STRING8, 0x1D), tag(PT_BOOLEAN, 0x1A))
PROPIDS = tag(xctest.PT_MV | PT_LONG, 0x1E)
COMMON = uuid.UUID("00062008-0000-0000-c000-000000000046").bytes_le
PUBLIC_STRINGS = uuid.UUID("00020329-0000-0000-c000-000000000046").bytes_le
PS_MAPI = uuid.UUID("00020328-0000-0000-c000-000000000046").bytes_le


def session(user="hugo@example.test", pw="named-Pass-1"):
    s = Storaged()
    st, p, _ = s.login(user, pw)
    assert st == OK, st
    return s, [(T_SESSION, p[T_SESSION]), (T_MAILBOX_ID, p[T_MAILBOX_ID])]


def ids(s, base, names, create=False):
    st, p, _ = s.call(OP, base + ([(CREATE, 1)] if create else []) + names)
    return st, p.get(PROPIDS)


def test_setup():
    rc, out = xctest.xcadmin("user-add", "hugo@example.test", "Hugo Named",
                             password="named-Pass-1")
    check("a user for the named property tests", rc == 0, out)


def test_map_and_create():
    s, base = session()
    names = [(GUID, COMMON), (LID, 0x8510), (GUID, PUBLIC_STRINGS), (STR, "Keywords"),
             (GUID, PS_MAPI), (LID, 0x0037)]
    st, got = ids(s, base, names)
    check("unknown names map to 0 without create; PS_MAPI names are their LID",
          st == OK and got == [0, 0, 0x37], (st, got))
    st, got = ids(s, base, names, create=True)
    check("create gives ids from 0x8000 up", st == OK and got[:2] == [0x8000, 0x8001]
          and got[2] == 0x37, (st, got))
    st, again = ids(s, base, names)
    check("the same names map to the same ids afterwards", again == got, again)
    st, other = ids(s, base, [(GUID, PUBLIC_STRINGS), (STR, "keywords")], create=True)
    check("names are case-sensitive: another id", st == OK and other[0] not in got, other)
    st, _ = ids(s, base, [(GUID, COMMON)])
    check("a GUID without LID or name is a bad request", st == E_BADREQ, st)
    st, _ = ids(s, base, [(GUID, COMMON), (STR, "x" * 300)])
    check("a name over 255 bytes is a bad request", st == E_BADREQ, st)
    s.close()


def test_concurrent_creators_agree():
    results = []

    def worker(n):
        s, base = session()
        names = sum([[(GUID, COMMON), (STR, "race-%d" % i)] for i in range(20)], [])
        st, got = ids(s, base, names, create=True)
        results.append((st, got))
        s.close()
    ts = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check("six concurrent creators all succeed", all(st == OK for st, _ in results),
          [st for st, _ in results])
    check("and agree on every id", len({tuple(g) for _, g in results}) == 1,
          results[:2])
    check("twenty distinct ids", len(set(results[0][1])) == 20, results[0][1])


def test_full_table_is_a_clean_error():
    s, base = session()
    # fill the id space (0x8000..0xFFFE); a batch that doesn't fit is
    # refused whole (one transaction), so halve it down to single names
    n, size, st = 0, 1024, OK
    while size >= 1 and n < 40000:
        batch = sum([[(GUID, COMMON), (STR, "fill-%d" % (n + i))] for i in range(size)], [])
        st, got = ids(s, base, batch, create=True)
        if st == OK:
            n += size
        elif st == E_LIMIT:
            size //= 2
        else:
            break
    check("a full table gives E_LIMIT", st == E_LIMIT, st)
    check("after 32767 ids (0x8000 to 0xFFFE) in all", n + 24 >= 32700 and n < 32767, n)
    st, p, _ = s.call(OP, base + [(CREATE, 1), (GUID, COMMON), (STR, "one-more")])
    check("with a message naming the problem",
          st == E_LIMIT and "full" in p.get(xctest.T_ERRMSG, ""), p)
    st, got = ids(s, base, [(GUID, COMMON), (LID, 0x8510)])
    check("existing names still map", st == OK and got == [0x8000], got)
    s.close()


if __name__ == "__main__":
    run_tests(test_setup, test_map_and_create, test_concurrent_creators_agree,
              test_full_table_is_a_clean_error)
