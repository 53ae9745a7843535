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
#
# env: BENCH_SECONDS (default 10) per run, BENCH_ROUNDS (default 3) of
#      alternating baseline/POX runs, medians reported; BENCH_TABLE_ROWS
#      (default 1000000) messages in the folder of part 4.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
PY=/usr/bin/python3
command -v wrk >/dev/null || { echo "bench: wrk is missing (build/deps.sh test)"; exit 1; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

DIR=$(mktemp -d /tmp/xc-bench.XXXXXX)
chmod 0755 "$DIR"
trap 'build/stack.sh stop "$DIR" >/dev/null 2>&1; rm -rf "$DIR"' EXIT
HTTP=$(free_port); HTTPS=$(free_port); PGP=$(free_port)
build/stack.sh start "$DIR" "$HTTP" "$HTTPS" "$PGP" out >/dev/null
AS=(); [ "$(id -u)" -eq 0 ] && AS=(runuser -u xcdev --)
PW=$(openssl rand -hex 12)
admin() { (cd / && "${AS[@]}" env PGHOST="$DIR/run" PGPORT="$PGP" XC_PASSWD="$DIR/lib/xc-passwd" "$SRC/tools/xcadmin" "$@"); }
admin domain-add example.test
echo "$PW" | admin user-add alice@example.test "Alice Bench"

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

echo "== storaged authenticate+resolve, 16 clients" >&2
sd=$("$SRC/out/bench/sd_bench" "$DIR/run/storaged.sock" alice@example.test "$PW" 16 "$SECS")
echo "$sd" >&2
sdrate=$(echo "$sd" | sed -n 's/.* \([0-9]*\) pairs\/s.*/\1/p')
echo "== baseline: pgbench -S, 16 clients" >&2
(cd / && "${AS[@]}" env PGHOST="$DIR/run" PGPORT="$PGP" pgbench -q -i -s 1 exchange >/dev/null 2>&1)
pg=$(cd / && "${AS[@]}" env PGHOST="$DIR/run" PGPORT="$PGP" \
     pgbench -S -n -c 16 -j 2 -T "$SECS" exchange 2>/dev/null |
     sed -n 's/^tps = \([0-9.]*\).*/\1/p')

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
rss=$(ps -o rss= -p "$(cat "$DIR/run/storaged.pid")")

# 4. a contents table over a folder of BENCH_TABLE_ROWS (1,000,000)
# messages: bob's Inbox, filled by SQL in bulk (as an import would, but
# without the wire protocol's cost; one in 10,000 subjects says "needle")
ROWS=${BENCH_TABLE_ROWS:-1000000}
echo "$PW" | admin user-add bob@example.test "Bob Bench"
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

echo
echo "Autodiscover POX:   $pox req/s; static file: $static req/s; ratio $(awk "BEGIN{printf \"%.2f\", $pox/$static}") (target >= 0.5; medians of $ROUNDS)"
echo "  runs: static ${statics[*]}; POX ${poxes[*]}"
echo "storaged:           $sd"
echo "pgbench -S:         $pg tps; auth+resolve pairs per pgbench transaction: $(awk "BEGIN{printf \"%.2f\", $sdrate/$pg}")"
echo "store (one mailbox; 20 properties, 4 KB body; target ratio >= 0.5):"
printf '  %s\n' "${store[@]}"
echo "storaged RSS after the run: $rss KiB"
echo "contents table of $ROWS messages (one client; targets: first page < 20 ms, substring < 100 ms median):"
printf '  %s\n' "${table[@]}"
echo "  $scan; storaged RSS while paging: $rss_scan"
