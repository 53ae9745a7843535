#!/bin/bash
# bench/run.sh - `make bench`: Autodiscover and storaged throughput, each
# next to a baseline measured in the same run on the same machine.
#
#  1. Autodiscover POX requests/s (wrk, keep-alive, 16 connections, Basic
#     auth, the real request body) vs the same httpd serving a static file
#     of the response's size: target ratio >= 0.5.
#  2. storaged authenticate+resolve pairs/s at 16 clients (bench/sd_bench)
#     vs pgbench -S (select-only) at 16 clients on the same PostgreSQL.
#  3. The store: message save (20 properties, 4 KB body) and open+get at 1
#     and 16 clients vs pgbench inserting / selecting a comparable row.
#  4. A contents table over a folder of 1,000,000 messages: the first page
#     newest first, a subject substring and a full-text word (latency),
#     and paging through all of it with storaged's RSS sampled.
#  5. Import of 100,000 messages from an mbox (bench/make_mbox.py, ~5 KB
#     each) with xc-mail over 4 connections: messages/s, next to the
#     store's own save rate at 16 clients (part 3) and pgbench INSERT.
#  6. SMTP (bench/smtp.sh): mtad accepting and delivering 10 KB messages
#     from 16 smtp-source connections vs Postfix delivering to a Maildir,
#     latency from the end of DATA to 250, mtad's RSS. Needs root.
#
# env: BENCH_SECONDS (default 10) per run, BENCH_ROUNDS (default 3) of
#      alternating baseline/POX runs, medians reported; BENCH_TABLE_ROWS
#      (default 1000000) messages in the folder of part 4;
#      BENCH_IMPORT_MESSAGES (default 100000) for part 5;
#      BENCH_SMTP_MESSAGES (default 5000) for part 6; BENCH_PARTS
#      (default "1 2 3 4 5 6") which parts to run.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
PY=/usr/bin/python3
PARTS=" ${BENCH_PARTS:-1 2 3 4 5 6} "
want() { [[ "$PARTS" == *" $1 "* ]]; }
command -v wrk >/dev/null || { echo "bench: wrk is missing (build/deps.sh test)"; exit 1; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

DIR=$(mktemp -d /tmp/xc-bench.XXXXXX)
chmod 0755 "$DIR"
trap 'build/stack.sh stop "$DIR" >/dev/null 2>&1; rm -rf "$DIR"' EXIT
HTTP=$(free_port); HTTPS=$(free_port); PGP=$(free_port); SMTPP=$(free_port)
XC_MTAD_EXTRA="max_per_ip = 100" build/stack.sh start "$DIR" "$HTTP" "$HTTPS" "$PGP" out "$SMTPP" >/dev/null
AS=(); [ "$(id -u)" -eq 0 ] && AS=(runuser -u xcdev --)
PW=$(openssl rand -hex 12)
admin() { (cd / && "${AS[@]}" env PGHOST="$DIR/run" PGPORT="$PGP" XC_PASSWD="$DIR/lib/xc-passwd" "$DIR/lib/xcadmin" "$@"); }
admin domain-add example.test
echo "$PW" | admin user-add alice@example.test "Alice Bench"

if want 1; then
URL="http://127.0.0.1:$HTTP/autodiscover/autodiscover.xml"
AUTH="Basic $(printf 'alice@example.test:%s' "$PW" | base64 -w0)"
BODY=$(cat t/data/pox-alice.xml)
size=$(curl -s -H "Authorization: $AUTH" -H 'Content-Type: text/xml' \
       --data-binary @t/data/pox-alice.xml "$URL" | wc -c)
[ "$size" -gt 1000 ] || { echo "bench: POX request failed"; exit 1; }
head -c "$size" /dev/zero | tr '\0' 'x' >"$DIR/www/static.xml"
[ ${#AS[@]} -gt 0 ] && chown xcdev: "$DIR/www/static.xml"

cat >"$DIR/pox.lua" <<LUA
wrk.method = "POST"
wrk.body = [==[$BODY]==]
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["Authorization"] = "$AUTH"
LUA

wrk_rps() {     # wrk_rps ARGS...: prints requests/s
    wrk -t2 -c16 -d"${SECS}s" --latency "$@" | tee "$DIR/wrk.out" >&2
    if grep -q 'Non-2xx' "$DIR/wrk.out"; then
        echo "bench: non-2xx answers" >&2
        exit 1
    fi
    awk '/^Requests\/sec/ {print $2}' "$DIR/wrk.out"
}

# alternate baseline and POX runs and take medians: the machine's speed
# drifts (frequency, neighbours) by more than the difference we measure
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
statics=(); poxes=()
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round: baseline, httpd serving a static file of $size bytes" >&2
    statics+=("$(wrk_rps "http://127.0.0.1:$HTTP/static.xml")")
    echo "== round $round: Autodiscover POX ($size-byte answers)" >&2
    poxes+=("$(wrk_rps -s "$DIR/pox.lua" "$URL")")
done
static=$(printf '%s\n' "${statics[@]}" | median)
pox=$(printf '%s\n' "${poxes[@]}" | median)
fi

if want 2; then
echo "== storaged authenticate+resolve, 16 clients" >&2
sd=$("$SRC/out/bench/sd_bench" "$DIR/run/storaged.sock" alice@example.test "$PW" 16 "$SECS")
echo "$sd" >&2
sdrate=$(echo "$sd" | sed -n 's/.* \([0-9]*\) pairs\/s.*/\1/p')
echo "== baseline: pgbench -S, 16 clients" >&2
(cd / && "${AS[@]}" env PGHOST="$DIR/run" PGPORT="$PGP" pgbench -q -i -s 1 exchange >/dev/null 2>&1)
pg=$(cd / && "${AS[@]}" env PGHOST="$DIR/run" PGPORT="$PGP" \
     pgbench -S -n -c 16 -j 2 -T "$SECS" exchange 2>/dev/null |
     sed -n 's/^tps = \([0-9.]*\).*/\1/p')
fi

# the store: message save and open+get, 1 and 16 clients, next to pgbench
# inserting / selecting one comparable row per transaction (subject,
# class, time, 4 KB body, 16 small properties as jsonb)
PGB() { (cd / && "${AS[@]}" env PGHOST="$DIR/run" PGPORT="$PGP" pgbench "$@" exchange 2>/dev/null |
         sed -n 's/^tps = \([0-9.]*\).*/\1/p'); }
(cd / && "${AS[@]}" psql -X -q -h "$DIR/run" -p "$PGP" exchange -c "
    CREATE TABLE bench_msg (id bigserial PRIMARY KEY, subject text, class text,
        delivery timestamptz, body text, p jsonb)") >/dev/null
cat >"$DIR/ins.sql" <<'SQL'
INSERT INTO bench_msg (subject, class, delivery, body, p) VALUES ('A benchmark message', 'IPM.Note', now(), repeat('x', 4095), '{"p0":"value 0","p1":1,"p2":"value 2","p3":3,"p4":"value 4","p5":5,"p6":"value 6","p7":7,"p8":"value 8","p9":9,"p10":"value 10","p11":11,"p12":"value 12","p13":13,"p14":"value 14","p15":15}');
SQL
cat >"$DIR/sel.sql" <<'SQL'
\set id random(1, 200)
SELECT * FROM bench_msg WHERE id = :id;
SQL
chmod 644 "$DIR"/ins.sql "$DIR"/sel.sql
store=()
if want 3; then
for t in 1 16; do
    s=$("$SRC/out/bench/sd_bench" "$DIR/run/storaged.sock" alice@example.test "$PW" $t "$SECS" save)
    echo "$s" >&2
    sr=$(echo "$s" | sed -n 's/.* \([0-9]*\) messages\/s.*/\1/p')
    pi=$(PGB -n -f "$DIR/ins.sql" -c $t -j $((t > 1 ? 2 : 1)) -T "$SECS")
    g=$("$SRC/out/bench/sd_bench" "$DIR/run/storaged.sock" alice@example.test "$PW" $t "$SECS" get)
    echo "$g" >&2
    gr=$(echo "$g" | sed -n 's/.* \([0-9]*\) messages\/s.*/\1/p')
    ps_=$(PGB -n -f "$DIR/sel.sql" -c $t -j $((t > 1 ? 2 : 1)) -T "$SECS")
    store+=("$(printf '%2d clients: save %s/s vs pgbench INSERT %.0f tps (ratio %.2f); open+get %s/s vs pgbench SELECT %.0f tps (ratio %.2f)' \
        $t "$sr" "$pi" "$(awk "BEGIN{print $sr/$pi}")" "$gr" "$ps_" "$(awk "BEGIN{print $gr/$ps_}")")")
done
# the same 16 clients each saving into a mailbox of its own (as mail for
# many users arrives): saves into one mailbox serialize on its change
# number, saves into different ones don't
for i in $(seq 0 15); do echo "$PW" | admin user-add "u$i@example.test" "User $i" >/dev/null; done
s=$("$SRC/out/bench/sd_bench" "$DIR/run/storaged.sock" 'u%d@example.test' "$PW" 16 "$SECS" save)
echo "$s" >&2
sr=$(echo "$s" | sed -n 's/.* \([0-9]*\) messages\/s.*/\1/p')
store+=("$(printf '16 clients, 16 mailboxes: save %s/s vs pgbench INSERT %.0f tps (ratio %.2f)' \
    "$sr" "$pi" "$(awk "BEGIN{print $sr/$pi}")")")
rss=$(ps -o rss= -p "$(cat "$DIR/run/storaged.pid")")
fi

# 4. a contents table over a folder of BENCH_TABLE_ROWS (1,000,000)
# messages: bob's Inbox, filled by SQL in bulk (as an import would, but
# without the wire protocol's cost; one in 10,000 subjects says "needle")
ROWS=${BENCH_TABLE_ROWS:-1000000}
echo "$PW" | admin user-add bob@example.test "Bob Bench"
if want 4; then
echo "== filling bob's Inbox with $ROWS messages" >&2
t0=$(date +%s)
(cd / && "${AS[@]}" psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -h "$DIR/run" -p "$PGP" exchange) <"$SRC/bench/fill_folder.sql"
echo "   filled in $(( $(date +%s) - t0 )) s" >&2
table=()
for m in page substr fts; do
    tr=$("$SRC/out/bench/sd_bench" "$DIR/run/storaged.sock" bob@example.test "$PW" 1 "$SECS" $m)
    echo "$tr" >&2
    table+=("$tr")
done
# page through all of it, sampling storaged's RSS every second
SDPID=$(cat "$DIR/run/storaged.pid")
( while sleep 1; do ps -o rss= -p "$SDPID" || break; done ) >"$DIR/rss.log" 2>/dev/null &
sampler=$!
scan=$("$SRC/out/bench/sd_bench" "$DIR/run/storaged.sock" bob@example.test "$PW" 1 1 scan)
kill "$sampler" 2>/dev/null || true
echo "$scan" >&2
rss_scan=$(sort -n "$DIR/rss.log" | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s..%s KiB over %d samples", lo, hi, NR}')
fi

# 5. import of BENCH_IMPORT_MESSAGES (100,000) messages from an mbox into
# carol's Inbox/Imported with xc-mail (trusted login: we are root or
# storaged's user), with storaged's and PostgreSQL's CPU time
if want 5; then
NIMP=${BENCH_IMPORT_MESSAGES:-100000}
echo "$PW" | admin user-add carol@example.test "Carol Bench"
echo "== writing an mbox of $NIMP messages" >&2
$PY "$SRC/bench/make_mbox.py" "$NIMP" "$DIR/import.mbox"
cpu_of() { local t=0 p; for p in $(pgrep -x "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
pg0=$(cpu_of postgres); sd0=$(cpu_of storaged)
echo "== importing it" >&2
imp=$(cd / && "${AS[@]}" env XC_SOCKET="$DIR/run/storaged.sock" "$DIR/lib/xc-mail" import -q -j 4 carol@example.test "Inbox/Imported" "$DIR/import.mbox")
echo "$imp" >&2
hz=$(getconf CLK_TCK)
imp_cpu=$(awk -v p=$(( $(cpu_of postgres) - pg0 )) -v s=$(( $(cpu_of storaged) - sd0 )) -v hz="$hz" -v n="$NIMP" \
          'BEGIN {printf "CPU per message: PostgreSQL %.2f ms, storaged %.2f ms", p / hz * 1000 / n, s / hz * 1000 / n}')
imp_size=$(du -m "$DIR/import.mbox" | cut -f1)
rm -f "$DIR/import.mbox"
fi

if want 6; then
echo "$PW" | admin user-add dave@example.test "Dave Bench"
smtp=$(PGPORT="$PGP" bench/smtp.sh "$DIR" "$SMTPP")
fi

echo
want 1 && echo "Autodiscover POX:   $pox req/s; static file: $static req/s; ratio $(awk "BEGIN{printf \"%.2f\", $pox/$static}") (target >= 0.5; medians of $ROUNDS)"
want 1 && echo "  runs: static ${statics[*]}; POX ${poxes[*]}"
if want 2; then
echo "storaged:           $sd"
echo "pgbench -S:         $pg tps; auth+resolve pairs per pgbench transaction: $(awk "BEGIN{printf \"%.2f\", $sdrate/$pg}")"
fi
if want 3; then
echo "store (one mailbox; 20 properties, 4 KB body; target ratio >= 0.5):"
printf '  %s\n' "${store[@]}"
echo "storaged RSS after the run: $rss KiB"
fi
if want 4; then
echo "contents table of $ROWS messages (one client; targets: first page < 20 ms, substring < 100 ms median):"
printf '  %s\n' "${table[@]}"
echo "  $scan; storaged RSS while paging: $rss_scan"
fi
if want 5; then
echo "import of $NIMP messages ($imp_size MB mbox, xc-mail -j 4, one mailbox):"
echo "  $imp"
echo "  $imp_cpu"
fi
if want 6; then
echo "$smtp"
fi
