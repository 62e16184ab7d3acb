#!/bin/sh
# Install everything dualsync needs to build, test and run its lab on Debian/Ubuntu.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
#   scripts/install-deps.sh            build + lab dependencies (make demo, make bench)
#   scripts/install-deps.sh --test     and what only the tests need (make check)
#   scripts/install-deps.sh --check    exit 1 if anything is missing, install nothing
set -eu
check=0
test=0
for a in "$@"; do
    case $a in
    --check) check=1 ;;
    --test) test=1 ;;
    *) echo "usage: $0 [--test] [--check]" >&2; exit 2 ;;
    esac
done

# Build: compiler, pkg-config and the -dev packages of every library we link.
BUILD="build-essential pkg-config libldap2-dev libsasl2-dev libkrb5-dev libcurl4-openssl-dev
libcjson-dev libinih-dev libssl-dev libcmocka-dev"
# Lab: a real Samba AD DC, Kerberos and LDAP clients, SASL GSSAPI plugin, openssl for the test CA.
LAB="samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind krb5-user ldap-utils
ldb-tools libsasl2-modules-gssapi-mit openssl python3 iproute2 valgrind"

# Tests only (large: not for demo or bench): headless Chromium opens the HTML
# report (tests/integration/test_report.sh), with fonts for Latin and CJK
# names (Chromium brings none; DejaVu and WenQuanYi Micro Hei are small).
TEST="chromium fonts-dejavu-core fonts-wqy-microhei man-db systemd"
[ "$test" = 1 ] || TEST=""

missing=""
for p in $BUILD $LAB $TEST; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$check" = 1 ]; then
    echo "missing packages:$missing" >&2
    exit 1
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing:$missing" >&2
made_policy=0
# Keep apt from starting smbd/nmbd/winbind/samba-ad-dc services on this host:
# the lab runs its own samba on loopback, by PID.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
[ "$made_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
echo "install-deps: done" >&2
