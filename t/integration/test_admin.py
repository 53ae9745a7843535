"""Admin use cases: an admin manages users with tools/xcadmin (the SQL
functions of sql/), and storaged honours every change at once, although it
caches logins and address lookups (the caches are dropped on the database's
NOTIFY)."""
import os
import subprocess
import time

import xctest
from xctest import (check, run_tests, Storaged, OK, E_AUTH, E_NOTFOUND,
                    OP_RESOLVE, T_SESSION, T_ADDRESS, PR_SMTP_ADDRESS)

def admin(*args, password=None):
    return xctest.xcadmin(*args, password=password)


def psql(sql):
    return xctest.psql(sql)[0]


def login_status(user, pw):
    s = Storaged()
    try:
        st, props, _ = s.login(user, pw, remote="198.51.100.7")
        return st, props
    finally:
        s.close()


def eventually(pred):
    """The NOTIFY reaches storaged asynchronously: allow it a moment."""
    return xctest.wait_until(pred, timeout=3.0, step=0.05)


def test_create_user_and_login():
    rc, out = admin("user-add", "dora@example.test", "Dora Admin", password="first-Pass-1")
    check("xcadmin user-add creates a user", rc == 0, out)
    st, props = login_status("dora@example.test", "first-Pass-1")
    check("the new user can log in", st == OK, st)
    check("and owns a mailbox with special folders",
          psql("SELECT count(*) FROM folders f JOIN mailboxes m ON m.id = f.mailbox_id "
               "JOIN addresses a ON a.user_id = m.user_id "
               "WHERE a.address = 'dora@example.test' AND f.special IS NOT NULL") == "20")
    h = psql("SELECT password_hash FROM users u JOIN addresses a ON a.user_id = u.id "
             "WHERE a.address = 'dora@example.test'")
    check("the password is stored as an argon2id hash", h.startswith("$argon2id$v=19$"), h[:20])
    check("and not in clear text", "first-Pass-1" not in h)


def test_password_change_takes_effect_at_once():
    # log in twice so the login is cached by storaged
    login_status("dora@example.test", "first-Pass-1")
    st, _ = login_status("dora@example.test", "first-Pass-1")
    check("cached login works", st == OK, st)
    rc, out = admin("passwd", "dora@example.test", password="second-Pass-2")
    check("xcadmin passwd", rc == 0, out)
    check("the old password stops working",
          eventually(lambda: login_status("dora@example.test", "first-Pass-1")[0] == E_AUTH))
    check("the new one works", login_status("dora@example.test", "second-Pass-2")[0] == OK)


def test_disable_and_enable():
    login_status("dora@example.test", "second-Pass-2")
    rc, out = admin("disable", "dora@example.test")
    check("xcadmin disable", rc == 0, out)
    check("a disabled user can't log in, even with a cached login",
          eventually(lambda: login_status("dora@example.test", "second-Pass-2")[0] == E_AUTH))
    rc, out = admin("enable", "dora@example.test")
    check("xcadmin enable", rc == 0, out)
    check("an enabled user can log in again",
          eventually(lambda: login_status("dora@example.test", "second-Pass-2")[0] == OK))


def pox_status(user, pw):
    st, _, _ = xctest.request("POST", "/autodiscover/autodiscover.xml",
                              body=xctest.pox_request(user), auth=(user, pw))
    return st


def test_httpd_honours_changes_at_once():
    """httpd processes remember accepted logins too; a directory change
    must end them as fast as storaged's own."""
    rc, out = admin("user-add", "fred@example.test", "Fred Web", password="web-Pass-1")
    check("a user for the web checks", rc == 0, out)
    for _ in range(20):       # reach every httpd process, so each caches it
        pox_status("fred@example.test", "web-Pass-1")
    check("Autodiscover works with a cached login", pox_status("fred@example.test", "web-Pass-1") == 200)
    # The NOTIFY takes milliseconds; wait a second, then try fewer times
    # than the failure limit (5 in the tests), spread over httpd's
    # processes by fresh connections.
    rc, out = admin("passwd", "fred@example.test", password="web-Pass-2")
    time.sleep(1)
    seen = [pox_status("fred@example.test", "web-Pass-1") for _ in range(4)]
    check("after a password change httpd refuses the old password at once",
          seen == [401] * 4, seen)
    check("and accepts the new one", pox_status("fred@example.test", "web-Pass-2") == 200)
    for _ in range(20):
        pox_status("fred@example.test", "web-Pass-2")
    rc, out = admin("disable", "fred@example.test")
    time.sleep(1)
    seen = [pox_status("fred@example.test", "web-Pass-2") for _ in range(4)]
    check("after disabling, httpd refuses the user at once", seen == [401] * 4, seen)
    st = os.stat(os.path.join(xctest.DIR, "run", "storaged.sock.state"))
    check("storaged's state file is not world-readable", (st.st_mode & 0o007) == 0, oct(st.st_mode))


def test_aliases():
    rc, out = admin("alias-add", "dora@example.test", "d.admin@example.test")
    check("xcadmin alias-add", rc == 0, out)
    s = Storaged()
    st, props, _ = s.login("dora@example.test", "second-Pass-2")
    sess = props[T_SESSION]
    st, props, _ = s.call(OP_RESOLVE, [(T_SESSION, sess), (T_ADDRESS, "D.Admin@example.test")])
    check("the alias resolves (case-insensitively) to the user",
          st == OK and props.get(PR_SMTP_ADDRESS) == "dora@example.test", (st, props))
    st, _ = login_status("d.admin@example.test", "second-Pass-2")
    check("the user can log in with the alias", st == OK, st)
    rc, out = admin("alias-del", "d.admin@example.test")
    check("xcadmin alias-del", rc == 0, out)
    check("a removed alias no longer resolves (cached lookups dropped)",
          eventually(lambda: s.call(OP_RESOLVE, [(T_SESSION, sess),
                                                 (T_ADDRESS, "d.admin@example.test")])[0] == E_NOTFOUND))
    rc, out = admin("alias-del", "dora@example.test")
    check("a primary address can't be removed as an alias", rc != 0 and "not an alias" in out, out)
    s.close()


def test_bad_admin_input():
    rc, out = admin("user-add", "eve@not-accepted.test", "Eve", password="x-Pass-3")
    check("a user in a domain that isn't accepted is refused with a hint",
          rc != 0 and "not an accepted domain" in out, out)
    rc, out = admin("user-add", "dora@example.test", "Dora Again", password="x-Pass-3")
    check("a duplicate address is refused", rc != 0, out)
    rc, out = admin("passwd", "nobody@example.test", password="x-Pass-3")
    check("changing the password of an unknown address fails",
          rc != 0 and "no user has the address" in out, out)
    r = psql("SELECT xc_create_domain('Bad Domain!')")
    check("an invalid domain name is refused", r == "")
    # SQL injection through the tool's arguments stays data
    rc, out = admin("alias-add", "dora@example.test", "x'); DROP TABLE users; --@example.test")
    check("quotes in arguments are data, not SQL",
          psql("SELECT count(*) FROM users") not in ("", "0"), out)


def test_migrations_recorded_and_idempotent():
    check("migrations are recorded",
          psql("SELECT version FROM schema_migrations ORDER BY 1").startswith("001_directory"))
    env = dict(os.environ, PGDATABASE="exchange")
    p = subprocess.run(xctest.AS + ["env", "PGHOST=" + env["PGHOST"], "PGPORT=" + env["PGPORT"],
                             "PGDATABASE=exchange",
                             os.path.join(xctest.DIR, "lib", "migrate.sh"),
                             os.path.join(xctest.DIR, "lib", "sql")],
                       capture_output=True, text=True, cwd="/")
    check("running the migrations again applies nothing",
          p.returncode == 0 and "applying" not in p.stdout, p.stdout + p.stderr)


if __name__ == "__main__":
    run_tests(test_create_user_and_login, test_password_change_takes_effect_at_once,
              test_disable_and_enable, test_httpd_honours_changes_at_once, test_aliases, test_bad_admin_input,
              test_migrations_recorded_and_idempotent)
