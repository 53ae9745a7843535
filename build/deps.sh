#!/bin/sh
# deps.sh — install the Debian packages the build, `make run` and `make test`
# need. Idempotent: only missing packages are installed; apt-get update runs
# only when something is missing. Works as root or through sudo.
#
# usage: build/deps.sh [run|test]   (test adds the test clients and fuzzers)
set -eu

BUILD="build-essential pkg-config apache2 apache2-dev libapr1-dev
  libaprutil1-dev libpq-dev postgresql libxml2-dev libssl-dev libargon2-dev
  libgmime-3.0-dev libidn2-dev
  openssl curl ca-certificates procps"
TEST="clang python3 python3-exchangelib wrk postgresql-contrib libxml2-utils
  tnef swaks libnet-ssleay-perl python3-dnspython postfix"

want="$BUILD"
[ "${1:-run}" = test ] && want="$want $TEST"

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# postfix is there for its smtp-source and as the benchmark's baseline: it
# must not configure or start itself as the machine's MTA
case " $missing " in
*" postfix "*) echo "postfix postfix/main_mailer_type select No configuration" |
               $SUDO debconf-set-selections ;;
esac
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
