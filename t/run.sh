#!/bin/bash
# t/run.sh - run every test: unit, fuzz (short), integration with real
# clients against a real stack, and print "N passed, N failed".
#
# Brings up PostgreSQL + storaged + httpd + mtad in a temporary directory on free
# loopback ports (build/stack.sh), with the sanitizer build of storaged when
# out-san/ exists, creates test users, runs the tests, and tears the stack
# down even on failure. Tests speak TAP ("ok N - name" / "not ok N - name");
# a test program that exits non-zero without reporting a failure counts as
# one failure.
#
# env: XC_FUZZ_SECONDS (default 20 per target), XC_TEST_FILTER (substrings
#      of test names, space-separated: a test runs if its name holds one).
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
OUT=out
STACK_OUT=out
[ -x out-san/storaged/storaged ] && STACK_OUT=out-san
PY=/usr/bin/python3
FILTER=${XC_TEST_FILTER:-}
pass=0
fail=0
RESULTS=$(mktemp)

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run NAME CMD...: run one test program, count its TAP lines
run() {
    local name=$1; shift
    local log rc p f
    if [ -n "$FILTER" ]; then
        local want=0 f1
        for f1 in $FILTER; do
            [[ "$name" == *"$f1"* ]] && want=1
        done
        [ "$want" -eq 1 ] || return
    fi
    log=$(mktemp)
    echo "# --- $name"
    "$@" >"$log" 2>&1
    rc=$?
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    grep -E '^(not ok|#)' "$log" | head -50
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $rc"
        tail -20 "$log" | sed 's/^/#   /'
        f=1
    fi
    echo "# $name: $p passed, $f failed"
    echo "$name $p $f" >>"$RESULTS"
    pass=$((pass + p))
    fail=$((fail + f))
    rm -f "$log"
}

# ---- unit tests (plain and sanitized builds) ----
for b in out/t/test_* out-san/t/test_*; do
    [ -x "$b" ] || continue
    case "$b" in *.o|*.d) continue ;; esac
    run "unit:$b" "$b"
done

# ---- fuzz targets, a short run each (clang + libFuzzer) ----
if command -v clang >/dev/null && { [ -z "$FILTER" ] || [[ "$FILTER" == fuzz* ]]; }; then
    if make -s fuzz >/dev/null 2>&1; then
        for f in out-fuzz/fuzz_*; do
            [ -x "$f" ] || continue
            corpus=$(mktemp -d)
            dict=t/fuzz/$(basename "$f").dict
            seeds=t/fuzz/corpus/$(basename "$f" | sed 's/^fuzz_//')
            run "fuzz:$(basename "$f")" sh -c "
                '$f' -max_total_time=${XC_FUZZ_SECONDS:-20} -timeout=10 -rss_limit_mb=2048 \
                    $( [ -f "$dict" ] && echo "-dict=$dict" ) '$corpus' $( [ -d "$seeds" ] && echo "'$seeds'" ) \
                    >/dev/null 2>'$corpus.log' && echo 'ok 1 - $(basename "$f") ran without findings' ||
                { tail -40 '$corpus.log'; echo 'not ok 1 - $(basename "$f") found a crash'; }"
            rm -rf "$corpus" "$corpus.log"
        done
    else
        echo "not ok - fuzz targets failed to build"
        fail=$((fail + 1))
    fi
fi

# ---- integration: a real stack ----
export XC_DIR
XC_DIR=$(mktemp -d /tmp/xc-test.XXXXXX)
chmod 0755 "$XC_DIR"
export XC_SRC="$SRC" XC_OUT="$STACK_OUT"
export XC_HTTP XC_HTTPS XC_PGPORT XC_SMTP XC_SUBMIT XC_DNS XC_SINK
XC_HTTP=$(free_port); XC_HTTPS=$(free_port); XC_PGPORT=$(free_port)
XC_SMTP=$(free_port); XC_SUBMIT=$(free_port)
# outbound mail: the tests run a DNS server (UDP) and a sink SMTP server
# on these loopback ports; mtad asks no other resolver and no other port
XC_DNS=$(free_port); XC_SINK=$(free_port)
export XC_SOCKET="$XC_DIR/run/storaged.sock"
cleanup() {
    "$SRC/build/stack.sh" stop "$XC_DIR" >/dev/null 2>&1
    if [ -n "${XC_KEEP:-}" ]; then
        echo "# kept $XC_DIR"
    else
        rm -rf "$XC_DIR"
    fi
    rm -f "$RESULTS"
}
trap cleanup EXIT
# limits low enough for the tests to reach
export XC_STORAGED_EXTRA="auth_fail_max_user = 5
auth_fail_max_source = 1000
max_frame = 262144
max_stream_memory = 8388608
expire_interval = 1
log_debug = yes"
export XC_MTAD_EXTRA="dns_server = 127.0.0.1:$XC_DNS
remote_port = $XC_SINK
connect_timeout = 3
smtp_timeout = 10
delay_warning = 3
queue_lifetime = 12
save_sent = yes
queue_interval = 1
queue_lease = 5
retry_first = 1
retry_max = 2
max_message_size = 1048576
max_header_size = 65536
max_rcpts = 20
max_per_ip = 40
max_errors = 5
command_timeout = 20
log_debug = yes"
export XC_HTTPD_EXTRA="AutodiscoverRedirect redirect.test example.test
AutodiscoverMaxRequestSize 16384"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
if ! build/stack.sh start "$XC_DIR" "$XC_HTTP" "$XC_HTTPS" "$XC_PGPORT" "$STACK_OUT" "$XC_SMTP" "$XC_SUBMIT"; then
    echo "not ok - the test stack did not start"
    fail=$((fail + 1))
else
    export PGHOST="$XC_DIR/run" PGPORT="$XC_PGPORT" PGDATABASE=exchange
    export XC_PW_ALICE XC_PW_BOB
    XC_PW_ALICE=$(openssl rand -hex 12); XC_PW_BOB=$(openssl rand -hex 12)
    AS=(); [ "$(id -u)" -eq 0 ] && AS=(runuser -u xcdev --)
    export XC_PASSWD="$XC_DIR/lib/xc-passwd"
    admin() { "${AS[@]}" env PGHOST="$PGHOST" PGPORT="$PGPORT" XC_PASSWD="$XC_PASSWD" "$XC_DIR/lib/xcadmin" "$@"; }
    (cd /tmp &&
     admin domain-add example.test &&
     admin domain-add other.test &&
     echo "$XC_PW_ALICE" | admin user-add alice@example.test "Alice Example" &&
     echo "$XC_PW_BOB" | admin user-add bob@example.test "Bob Example" &&
     admin alias-add alice@example.test alice.alias@other.test) ||
        { echo "not ok - creating test users failed"; fail=$((fail + 1)); }

    for t in t/integration/test_*.py; do
        [ -f "$t" ] && run "integration:$(basename "$t")" $PY "$t"
    done
    for t in t/integration/test_*.sh; do
        [ -f "$t" ] && run "integration:$(basename "$t")" bash "$t"
    done
    # sanitizer builds report at exit (leaks) or at the error: stop the
    # stack and look at storaged's log and httpd's sanitizer logs
    build/stack.sh stop "$XC_DIR" >/dev/null 2>&1
    san_logs=("$XC_DIR"/log/storaged*.log "$XC_DIR"/log/mtad*.log)
    for f in "$XC_DIR"/log/asan-httpd.* "$XC_DIR"/log/ubsan-httpd.*; do
        [ -f "$f" ] && san_logs+=("$f")
    done
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "${san_logs[@]}"; then
        echo "not ok - sanitizer findings:"
        grep -A30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "${san_logs[@]}" | head -80
        fail=$((fail + 1))
    else
        echo "ok - storaged, mtad and httpd ran clean under ASan/UBSan ($STACK_OUT)"
        pass=$((pass + 1))
    fi
fi

echo "# per program:"
sed 's/^/#   /' "$RESULTS"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
