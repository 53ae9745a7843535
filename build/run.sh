#!/bin/bash
# run.sh - `make run` / `make stop`: the whole server from the checkout, with
# a demo domain, in ./var, unprivileged, on loopback.
#
#   HTTP  127.0.0.1:8080   HTTPS 127.0.0.1:8443 (self-signed certificate)
#   SMTP  127.0.0.1:2525, submission 127.0.0.1:2587 (mtad; STARTTLS with the
#         same certificate, AUTH after it)
#   PostgreSQL 127.0.0.1:55432 and a socket in var/run
#
# First run: creates the cluster, applies sql/, creates example.test with
# alice@ and bob@ (random passwords, printed and kept in var/demo-credentials,
# mode 0600). Later runs keep the data and start what is not running.
# Ports can be changed with XC_HTTP_PORT, XC_HTTPS_PORT, XC_PG_PORT,
# XC_SMTP_PORT, XC_SUBMIT_PORT.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
VAR="$SRC/var"
HTTP=${XC_HTTP_PORT:-8080}
HTTPS=${XC_HTTPS_PORT:-8443}
PGP=${XC_PG_PORT:-55432}
SMTP=${XC_SMTP_PORT:-2525}
SUBMIT=${XC_SUBMIT_PORT:-2587}
CREDS="$VAR/demo-credentials"

case "${1:-start}" in
stop)
    "$SRC/build/stack.sh" stop "$VAR"
    echo "stopped (data kept in $VAR)"
    exit 0
    ;;
start) ;;
*) echo "usage: run.sh start|stop" >&2; exit 2 ;;
esac

mkdir -p "$VAR"
chmod 0755 "$VAR"
# keep the ports we were started with, so `make run` again is idempotent
[ -f "$VAR/ports" ] && . "$VAR/ports"
printf 'HTTP=%s\nHTTPS=%s\nPGP=%s\nSMTP=%s\nSUBMIT=%s\n' "$HTTP" "$HTTPS" "$PGP" "$SMTP" "$SUBMIT" >"$VAR/ports"
"$SRC/build/stack.sh" start "$VAR" "$HTTP" "$HTTPS" "$PGP" out "$SMTP" "$SUBMIT"

AS=()
[ "$(id -u)" -eq 0 ] && AS=(runuser -u xcdev --)
admin() {
    (cd / && "${AS[@]}" env PGHOST="$VAR/run" PGPORT="$PGP" \
        XC_PASSWD="$VAR/lib/xc-passwd" "$SRC/tools/xcadmin" "$@")
}
# query QUERY NAME=VALUE: one row of output? (psql variables, quoted by
# psql as :'NAME', are interpolated only in queries read from stdin)
query() {
    printf '%s\n' "$1" | (cd / && "${AS[@]}" psql -X -At -h "$VAR/run" \
        -p "$PGP" -d exchange -v "$2") | grep -q 1
}
exists() { query "SELECT 1 FROM addresses WHERE address = :'a'" "a=$1"; }

if ! query "SELECT 1 FROM domains WHERE name = :'d'" "d=example.test"; then
    admin domain-add example.test
fi
umask 077
touch "$CREDS"
chmod 0600 "$CREDS"
for u in alice bob; do
    addr="$u@example.test"
    name="$(tr '[:lower:]' '[:upper:]' <<<"${u:0:1}")${u:1} Demo"
    if ! exists "$addr"; then
        pw=$(openssl rand -base64 18 | tr -d '/+=' | cut -c1-16)
        echo "$pw" | admin user-add "$addr" "$name"
        grep -v "^$addr " "$CREDS" >"$CREDS.new" || true
        echo "$addr $pw" >>"$CREDS.new"
        mv "$CREDS.new" "$CREDS"
    fi
done
# the demo's public folders are alice's to run
admin public-admin alice@example.test on

cat <<MSG

The server is running (data and logs in $VAR; stop it with: make stop).

  Autodiscover (POX)   https://127.0.0.1:$HTTPS/autodiscover/autodiscover.xml
                       http://127.0.0.1:$HTTP/autodiscover/autodiscover.xml
  Autodiscover (SOAP)  https://127.0.0.1:$HTTPS/autodiscover/autodiscover.svc
  Autodiscover (JSON)  https://127.0.0.1:$HTTPS/autodiscover/autodiscover.json/v1.0/alice@example.test?Protocol=EWS
  SMTP (mtad)          127.0.0.1:$SMTP   (mail for alice@ and bob@example.test)
  submission (mtad)    127.0.0.1:$SUBMIT   (STARTTLS, then AUTH PLAIN/LOGIN)
  storaged socket      $VAR/run/storaged.sock
  PostgreSQL           psql -h $VAR/run -p $PGP exchange
  logs                 $VAR/log/

Demo users (also in $CREDS):
$(sed 's/^/  /' "$CREDS")

Try:
  curl -k -u alice@example.test:PASSWORD -H 'Content-Type: text/xml' \\
    --data-binary @t/data/pox-alice.xml https://127.0.0.1:$HTTPS/autodiscover/autodiscover.xml
  swaks --server 127.0.0.1 --port $SMTP --to alice@example.test -tls
  swaks --server 127.0.0.1 --port $SUBMIT -tls -a --auth-user alice@example.test \\
    --from alice@example.test --to bob@example.test
MSG
