#!/bin/bash
# bench/smtp.sh DIR SMTP_PORT - issue #4's SMTP figures (bench/run.sh part 6):
# messages accepted and delivered per second, 10 KB each, 16 concurrent
# smtp-source connections, mtad (durable queue commit, delivery into the
# store) next to Postfix from Debian delivering to a Maildir with its
# default durability, in the same run; latency from the end of DATA to the
# 250 (p50, p99); mtad's RSS under that load.
#
# The Postfix instance is private: its own config, queue and Maildir under
# DIR/postfix, listening on a free loopback port; it needs root (Postfix's
# master runs as root and drops to the postfix user).
#
# env: BENCH_SMTP_MESSAGES (default 5000), BENCH_ROUNDS (default 5):
#      alternating runs, medians reported.
set -euo pipefail
DIR=$1; SMTP=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_SMTP_MESSAGES:-5000}
ROUNDS=${BENCH_ROUNDS:-5}
PY=/usr/bin/python3
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
command -v smtp-source >/dev/null || { echo "bench: smtp-source missing (build/deps.sh test installs postfix)"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "bench: the Postfix baseline needs root"; exit 1; }
AS=(runuser -u xcdev --)
Q() { (cd / && "${AS[@]}" psql -X -At -h "$DIR/run" -p "$PGPORT" -d exchange -c "$1"); }

# ---- Postfix: a private instance delivering to one Maildir ----
P=$DIR/postfix
PFPORT=$(free_port)
mkdir -p "$P/etc" "$P/queue" "$P/data" "$P/mail"
cp /etc/postfix/master.cf "$P/etc/master.cf"
sed -i "s/^smtp      inet  n       -       y       -       -       smtpd/$PFPORT inet n - n - - smtpd/" "$P/etc/master.cf"
cat >"$P/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $P/queue
data_directory = $P/data
mail_owner = postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.localhost
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $P/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:$(id -u xcdev)
virtual_gid_maps = static:$(id -g xcdev)
virtual_minimum_uid = 100
smtpd_recipient_restrictions = permit_mynetworks, reject
maillog_file_prefixes = $P
maillog_file = $P/maillog
default_process_limit = 100
# no DNS here: no reverse lookups of the loopback client, no biff
smtpd_peername_lookup = no
biff = no
CONF
chown postfix "$P/data"
chown xcdev "$P/mail"
trap 'postfix -c "$P/etc" stop >/dev/null 2>&1 || true' EXIT
postfix -c "$P/etc" start >/dev/null 2>&1
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$PFPORT") 2>/dev/null && break; sleep 0.1; done

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
reach() {       # reach FUNCTION N: poll until FUNCTION prints N or more
    for _ in $(seq 6000); do [ "$($1)" -ge "$2" ] && return 0; sleep 0.1; done
    return 1
}
pf_count() { find "$P/mail/inbox/new" -type f 2>/dev/null | wc -l; }
mt_inbox() { Q "SELECT count(*) FROM messages m JOIN folders f ON f.mailbox_id = m.mailbox_id AND f.fid = m.fid AND f.special = 5 JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.user_id = xc_user_id('dave@example.test')"; }
mt_queue() { Q "SELECT count(*) FROM mail_queue_rcpt"; }
mt_unindexed() { Q "SELECT count(*) FROM search_queue"; }

run_pf() {
    local before t0 t1
    before=$(pf_count)
    t0=$(now)
    smtp-source -s 16 -l 10240 -m "$N" -c -f bench@remote.test -t inbox@bench.test "127.0.0.1:$PFPORT" >/dev/null
    reach pf_count $((before + N))
    t1=$(now)
    awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN {printf "%.0f", n / (b - a)}'
}
echo 0 >"$DIR/mtad.rss"
: >"$DIR/index.lag"
run_mt() {
    local before t0 t1 pid
    before=$(mt_inbox)
    pid=$(cat "$DIR/run/mtad.pid")
    t0=$(now)
    smtp-source -s 16 -l 10240 -m "$N" -c -f bench@remote.test -t dave@example.test "127.0.0.1:$SMTP" >/dev/null &
    local src=$!
    while kill -0 "$src" 2>/dev/null; do
        r=$(ps -o rss= -p "$pid" | tr -d ' ')
        [ "${r:-0}" -gt "$(cat "$DIR/mtad.rss")" ] && echo "$r" >"$DIR/mtad.rss"
        sleep 0.2
    done
    wait "$src"
    reach mt_inbox $((before + N))
    for _ in $(seq 6000); do [ "$(mt_queue)" -eq 0 ] && break; sleep 0.1; done
    t1=$(now)
    # the full-text index follows deliveries in the background (storaged
    # sd_index.c); it catches up before anything else runs, so that it
    # slows neither Postfix's round nor the next, and how long it took is
    # reported apart
    for _ in $(seq 6000); do [ "$(mt_unindexed)" -eq 0 ] && break; sleep 0.1; done
    awk -v a="$t1" -v b="$(now)" 'BEGIN {printf "%.1f\n", b - a}' >>"$DIR/index.lag"
    awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN {printf "%.0f", n / (b - a)}'
}

pfs=(); mts=()
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round: Postfix, $N messages of 10 KB, 16 connections" >&2
    pfs+=("$(run_pf)")
    echo "   ${pfs[-1]} msg/s" >&2
    echo "== round $round: mtad" >&2
    mts+=("$(run_mt)")
    echo "   ${mts[-1]} msg/s" >&2
done
pf=$(printf '%s\n' "${pfs[@]}" | median)
mt=$(printf '%s\n' "${mts[@]}" | median)
LN=$((N / 5 / 16 * 16))
lat_pf=$($PY "$SRC/bench/smtp_latency.py" 127.0.0.1 "$PFPORT" inbox@bench.test "$LN" 16 10240)
lat_mt=$($PY "$SRC/bench/smtp_latency.py" 127.0.0.1 "$SMTP" dave@example.test "$LN" 16 10240)
echo "SMTP in and delivered (10 KB messages, 16 connections, smtp-source; medians of $ROUNDS; target >= 1.0):"
echo "  mtad $mt msg/s vs Postfix to Maildir $pf msg/s: ratio $(awk "BEGIN{printf \"%.2f\", $mt/$pf}")"
echo "  runs: Postfix ${pfs[*]}; mtad ${mts[*]}"
echo "  end of DATA to 250, ms (p50 p99; $LN messages, 16 connections): mtad $lat_mt; Postfix $lat_pf"
echo "  mtad RSS under load: max $(cat "$DIR/mtad.rss") KiB"
echo "  full-text index caught up after the last delivery (s, per mtad round): $(tr '\n' ' ' <"$DIR/index.lag")"
