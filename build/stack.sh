#!/bin/bash
# stack.sh - start or stop a complete server (PostgreSQL, storaged, httpd)
# in one directory, unprivileged, on loopback.
#
# usage: build/stack.sh start DIR HTTP_PORT HTTPS_PORT PG_PORT [OUT [SMTP_PORT [SUBMISSION_PORT]]]
#        build/stack.sh stop DIR
#        build/stack.sh restart-storaged|stop-storaged|kill-storaged|
#                       start-storaged|restart-postgres DIR
#        build/stack.sh start-mtad|stop-mtad|kill-mtad DIR
#
# mtad runs when SMTP_PORT is given, with submission (AUTH after STARTTLS)
# on SUBMISSION_PORT if that is given too; its certificate is the same
# self-signed one httpd uses. Extra mtad.conf lines in XC_MTAD_EXTRA.
#
# Used by `make run` (DIR = ./var) and by the tests (a temporary DIR). OUT
# is the build directory whose binaries are used (default: out). Binaries,
# modules and SQL are copied into DIR/lib, so the services need no access to
# the checkout. initdb and postgres refuse to run as root, so as root every
# service runs as the system user "xcdev" (created if missing); otherwise as
# the invoking user.
#
# Extra storaged.conf lines can be passed in XC_STORAGED_EXTRA.
set -euo pipefail

cmd=${1:?usage: stack.sh start|stop DIR ...}
DIR=${2:?DIR required}
SRC=$(cd "$(dirname "$0")/.." && pwd)
RUNUSER=xcdev

if [ "$(id -u)" -eq 0 ]; then
    if ! id "$RUNUSER" >/dev/null 2>&1; then
        useradd --system --home-dir /nonexistent --no-create-home \
                --shell /usr/sbin/nologin "$RUNUSER"
    fi
    AS=(runuser -u "$RUNUSER" --)
else
    AS=()
fi
as() { "${AS[@]}" "$@"; }

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
HTTPD=/usr/sbin/apache2
AMODS=/usr/lib/apache2/modules

log() { echo "stack: $*"; }

wait_for() {    # wait_for SECONDS CMD...
    local t=$(( $1 * 10 )); shift
    while ! "$@" >/dev/null 2>&1; do
        t=$((t - 1))
        [ $t -le 0 ] && return 1
        sleep 0.1
    done
}

pid_alive() { [ -f "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

start_storaged() {
    rm -f "$DIR/run/storaged.sock"
    as env ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
        setsid "$DIR/lib/storaged" -f "$DIR/etc/storaged.conf" \
        >>"$DIR/log/storaged.log" 2>&1 </dev/null &
    if ! wait_for 20 test -S "$DIR/run/storaged.sock"; then
        log "storaged did not start; see $DIR/log/storaged.log"
        tail -20 "$DIR/log/storaged.log" >&2
        return 1
    fi
}

start_mtad() {
    as env ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
        setsid "$DIR/lib/mtad" -c "$DIR/etc/mtad.conf" \
        >>"$DIR/log/mtad.log" 2>&1 </dev/null &
    if ! wait_for 20 test -s "$DIR/run/mtad.pid"; then
        log "mtad did not start; see $DIR/log/mtad.log"
        tail -20 "$DIR/log/mtad.log" >&2
        return 1
    fi
}

stop_pid() {    # stop_pid PIDFILE NAME
    local f=$1 pid
    if pid_alive "$f"; then
        pid=$(head -n1 "$f")
        kill -TERM "$pid" 2>/dev/null || true
        wait_for 30 sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
}

case "$cmd" in
start)
    HTTP=${3:?HTTP port}; HTTPS=${4:?HTTPS port}; PGPORT=${5:?PG port}
    OUT=${6:-out}
    SMTP=${7:-}
    SUBMIT=${8:-}
    case "$OUT" in /*) ;; *) OUT="$SRC/$OUT" ;; esac
    mkdir -p "$DIR"/{lib,etc,run,log,www}
    chmod 0750 "$DIR/run"
    # copy then rename: running binaries can't be overwritten in place
    for f in "$OUT/storaged/storaged" "$OUT/mta/mtad" "$OUT/bin/xc-passwd" "$OUT/bin/xc-mail" \
             "$OUT/modules/mod_exchange.so" "$OUT/modules/mod_autodiscover.so"; do
        cp "$f" "$DIR/lib/.$(basename "$f").new"
        mv -f "$DIR/lib/.$(basename "$f").new" "$DIR/lib/$(basename "$f")"
    done
    rm -rf "$DIR/lib/sql" && cp -r "$SRC/sql" "$DIR/lib/sql"
    cp "$SRC/conf/exchange.conf" "$DIR/etc/exchange.conf"
    cp "$SRC/build/migrate.sh" "$DIR/lib/migrate.sh"
    # the admin tool too: the service user may not reach the checkout (a
    # clone in a private directory); it finds xc-passwd and xc-mail beside it
    cp "$SRC/tools/xcadmin" "$DIR/lib/xcadmin"
    if [ ! -f "$DIR/etc/tls.crt" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
            -keyout "$DIR/etc/tls.key" -out "$DIR/etc/tls.crt" 2>/dev/null
        chmod 0600 "$DIR/etc/tls.key"
    fi
    if [ ${#AS[@]} -gt 0 ]; then
        chown "$RUNUSER:" "$DIR"
        chown -R "$RUNUSER:" "$DIR"/{lib,etc,run,log,www}
    fi
    if ! as test -x "$DIR/lib/storaged"; then
        log "$RUNUSER cannot reach $DIR: make its parent directories searchable"
        exit 1
    fi

    # PostgreSQL: a private cluster, UNIX socket in DIR/run plus loopback TCP
    if [ ! -f "$DIR/pgdata/PG_VERSION" ]; then
        log "creating PostgreSQL cluster in $DIR/pgdata"
        as "$PGBIN/initdb" -D "$DIR/pgdata" -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 >"$DIR/log/initdb.log"
    fi
    if ! pid_alive "$DIR/pgdata/postmaster.pid"; then
        as "$PGBIN/pg_ctl" -D "$DIR/pgdata" -l "$DIR/log/postgresql.log" -w \
            -o "-p $PGPORT -k $DIR/run -c listen_addresses=127.0.0.1" start >/dev/null
    fi
    export PGHOST="$DIR/run" PGPORT
    as env PGHOST="$PGHOST" PGPORT="$PGPORT" psql -X -q -d postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname = 'exchange'" | grep -q 1 ||
        as env PGHOST="$PGHOST" PGPORT="$PGPORT" createdb exchange
    as env PGHOST="$PGHOST" PGPORT="$PGPORT" PGDATABASE=exchange \
        "$DIR/lib/migrate.sh" "$DIR/lib/sql"

    # storaged
    cat >"$DIR/etc/storaged.conf" <<CONF
socket_path = $DIR/run/storaged.sock
pid_file = $DIR/run/storaged.pid
database = host=$DIR/run port=$PGPORT dbname=exchange
workers = 8
${XC_STORAGED_EXTRA:-}
CONF
    if ! pid_alive "$DIR/run/storaged.pid"; then
        start_storaged
    fi

    # mtad, on loopback
    if [ -n "$SMTP" ]; then
        cat >"$DIR/etc/mtad.conf" <<CONF
storaged_socket = $DIR/run/storaged.sock
pid_file = $DIR/run/mtad.pid
hostname = localhost
smtp_listen = 127.0.0.1:$SMTP
submission_listen = ${SUBMIT:+127.0.0.1:$SUBMIT}
tls_cert = $DIR/etc/tls.crt
tls_key = $DIR/etc/tls.key
space_path = $DIR
min_free_space = 67108864
${XC_MTAD_EXTRA:-}
CONF
        [ ${#AS[@]} -gt 0 ] && chown "$RUNUSER:" "$DIR/etc/mtad.conf"
        if ! pid_alive "$DIR/run/mtad.pid"; then
            start_mtad || exit 1
        fi
    fi

    # httpd, with the same exchange.conf an admin would Include
    cat >"$DIR/etc/httpd.conf" <<CONF
ServerRoot "$DIR"
ServerName localhost
Listen 127.0.0.1:$HTTP
Listen 127.0.0.1:$HTTPS https
PidFile $DIR/run/httpd.pid
DefaultRuntimeDir $DIR/run
Mutex file:$DIR/run default
ErrorLog $DIR/log/httpd-error.log
LogLevel warn
LoadModule mpm_event_module $AMODS/mod_mpm_event.so
LoadModule authn_core_module $AMODS/mod_authn_core.so
LoadModule authz_core_module $AMODS/mod_authz_core.so
LoadModule authz_user_module $AMODS/mod_authz_user.so
LoadModule auth_basic_module $AMODS/mod_auth_basic.so
LoadModule mime_module $AMODS/mod_mime.so
LoadModule socache_shmcb_module $AMODS/mod_socache_shmcb.so
LoadModule ssl_module $AMODS/mod_ssl.so
<IfModule !unixd_module>
LoadModule unixd_module $AMODS/mod_unixd.so
</IfModule>
TypesConfig /etc/mime.types
LogFormat "%h %u \"%r\" %>s %b %D" xc
CustomLog $DIR/log/httpd-access.log xc
StartServers 2
ServerLimit 4
ThreadsPerChild 32
MaxRequestWorkers 128
KeepAlive On
MaxKeepAliveRequests 0
<Directory />
    AllowOverride None
    Require all denied
</Directory>
DocumentRoot $DIR/www
<Directory $DIR/www>
    Require all granted
</Directory>
SSLSessionCache shmcb:$DIR/run/ssl_scache(512000)
<VirtualHost 127.0.0.1:$HTTPS>
    SSLEngine on
    SSLCertificateFile $DIR/etc/tls.crt
    SSLCertificateKeyFile $DIR/etc/tls.key
</VirtualHost>
Define XC_MODULE_DIR $DIR/lib
Define XC_STORAGED_SOCKET $DIR/run/storaged.sock
Define XC_BASE_URL https://localhost:$HTTPS
Include $DIR/etc/exchange.conf
${XC_HTTPD_EXTRA:-}
CONF
    [ ${#AS[@]} -gt 0 ] && chown -R "$RUNUSER:" "$DIR/etc" "$DIR/www"
    true
    # A sanitizer build of the modules needs the runtime preloaded into
    # httpd; reports go to log/asan-httpd.* (t/run.sh looks at them).
    HTTPD_ENV=()
    if [ -f "$OUT/.sanitized" ]; then
        HTTPD_ENV=(env "LD_PRELOAD=$(gcc -print-file-name=libasan.so)"
                   "ASAN_OPTIONS=detect_leaks=0:log_path=$DIR/log/asan-httpd"
                   "UBSAN_OPTIONS=print_stacktrace=1:log_path=$DIR/log/ubsan-httpd")
    fi
    if pid_alive "$DIR/run/httpd.pid"; then
        as "${HTTPD_ENV[@]}" "$HTTPD" -f "$DIR/etc/httpd.conf" -k graceful
    else
        as "${HTTPD_ENV[@]}" "$HTTPD" -f "$DIR/etc/httpd.conf" -k start
    fi
    if ! wait_for 20 curl -s -o /dev/null "http://127.0.0.1:$HTTP/"; then
        log "httpd did not start; see $DIR/log/httpd-error.log"
        tail -20 "$DIR/log/httpd-error.log" >&2
        exit 1
    fi
    ;;
stop)
    [ -d "$DIR" ] || exit 0
    # SIGTERM to the parent is what `apache2 -k stop` sends; doing it
    # directly needn't load the configuration (whose sanitizer-built
    # modules would need the runtime preloaded)
    stop_pid "$DIR/run/httpd.pid"
    stop_pid "$DIR/run/mtad.pid"
    stop_pid "$DIR/run/storaged.pid"
    if [ -f "$DIR/pgdata/postmaster.pid" ]; then
        as "$PGBIN/pg_ctl" -D "$DIR/pgdata" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
stop-storaged)
    stop_pid "$DIR/run/storaged.pid"
    ;;
restart-storaged)
    stop_pid "$DIR/run/storaged.pid"
    start_storaged
    ;;
kill-storaged)      # a crash: SIGKILL, no clean shutdown
    if pid_alive "$DIR/run/storaged.pid"; then
        kill -KILL "$(head -n1 "$DIR/run/storaged.pid")"
        rm -f "$DIR/run/storaged.pid"
    fi
    ;;
start-storaged)
    start_storaged
    ;;
start-mtad)
    start_mtad
    ;;
stop-mtad)
    stop_pid "$DIR/run/mtad.pid"
    ;;
kill-mtad)          # a crash: SIGKILL, no clean shutdown
    if pid_alive "$DIR/run/mtad.pid"; then
        kill -KILL "$(head -n1 "$DIR/run/mtad.pid")"
        rm -f "$DIR/run/mtad.pid"
    fi
    ;;
restart-postgres)
    as "$PGBIN/pg_ctl" -D "$DIR/pgdata" -m fast -w restart >/dev/null
    ;;
*)
    echo "usage: stack.sh start|stop|stop-storaged|restart-storaged|kill-storaged|start-storaged|restart-postgres|start-mtad|stop-mtad|kill-mtad DIR ..." >&2
    exit 2
    ;;
esac
