#!/bin/sh
# Install everything dualsync needs to build, test and run its lab on Debian 12
# (bookworm) or a later Debian/Ubuntu. Idempotent: installs only what is missing.
# Needs root (or sudo) for apt-get. The one list of what the project needs from
# the OS: the lab scripts and the tests call it with --check before they start,
# so a missing tool is named at once, with its package.
#   scripts/install-deps.sh            build + lab (make demo)
#   scripts/install-deps.sh --lab      the lab only (tests/lab/ad-start.sh)
#   scripts/install-deps.sh --bench    build + lab + what the benchmarks call (make bench)
#   scripts/install-deps.sh --test     build + lab + what only the tests need (make check)
#   scripts/install-deps.sh --check    install nothing; name what is missing, exit 1 if anything is
set -eu
check=0
test=0
bench=0
lab_only=0
for a in "$@"; do
    case $a in
    --check) check=1 ;;
    --test) test=1 ;;
    --bench) bench=1 ;;
    --lab) lab_only=1 ;;
    *) echo "usage: $0 [--lab|--bench|--test] [--check]" >&2; exit 2 ;;
    esac
done

# Build: compiler, pkg-config and the -dev packages of every library we link
# (libxml2: check --connect-config reads Connect's exported XML).
BUILD="build-essential pkg-config libldap2-dev libsasl2-dev libkrb5-dev libcurl4-openssl-dev
libcjson-dev libinih-dev libssl-dev libcmocka-dev libxml2-dev"
# Lab: a real Samba AD DC, Kerberos and LDAP clients, SASL GSSAPI plugin, openssl
# for the test CA; python3 runs the seed and the Graph simulator (standard
# library only), curl asks the simulator from the shell scripts.
LAB="samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind krb5-user ldap-utils
ldb-tools libsasl2-modules-gssapi-mit samba-common-bin openssl python3 iproute2 procps curl"
# What the benchmarks call besides (callgrind counts for tests/bench/bench_pull.sh).
BENCH="valgrind"
# Tests only (large: not for demo or bench): headless Chromium opens the HTML
# report (tests/integration/test_report.sh), with fonts for Latin and CJK
# names (Chromium brings none; DejaVu and WenQuanYi Micro Hei are small);
# man-db and systemd for the install test (man pages, systemd-analyze verify);
# Wine runs dualsync.exe beside the Linux build (test_windows.sh; the cross
# build itself installs it too, with MinGW-w64); tinyproxy is the real HTTP
# proxy the Graph client goes through (test_graph_net.sh); Node.js and npm
# build and run the PowerShell grammar (test_powershell.sh), asked for by
# command below so that a host with a Node.js of its own keeps it.
TEST="chromium fonts-dejavu-core fonts-wqy-microhei man-db systemd wine wine64 tinyproxy"

# The commands the scripts call, each with the package that brings it: a
# package can be half there (removed files, a broken install), and a command
# is what a script meets. Commands of Debian's essential set (coreutils, sed,
# grep, ...) are not listed.
CMDS_BUILD="cc:build-essential make:make pkg-config:pkg-config"
CMDS_LAB="samba:samba samba-tool:samba-common-bin ldbsearch:ldb-tools kinit:krb5-user
klist:krb5-user ldapsearch:ldap-utils ldapmodify:ldap-utils openssl:openssl python3:python3
ip:iproute2 pgrep:procps curl:curl"
CMDS_BENCH="valgrind:valgrind"
CMDS_TEST="chromium:chromium man:man-db systemd-analyze:systemd wine:wine wineboot:wine wineserver:wine
tinyproxy:tinyproxy node:nodejs npm:npm"

if [ "$lab_only" = 1 ]; then
    PKGS=$LAB CMDS=$CMDS_LAB
else
    PKGS="$BUILD $LAB" CMDS="$CMDS_BUILD $CMDS_LAB"
    [ "$bench" = 1 ] && PKGS="$PKGS $BENCH" CMDS="$CMDS $CMDS_BENCH"
    [ "$test" = 1 ] && PKGS="$PKGS $TEST" CMDS="$CMDS $CMDS_TEST"
fi

# missing_now: the packages not installed, and those whose command is gone
missing_now() {
    m=""
    for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || m="$m $p"
    done
    for c in $CMDS; do
        command -v "${c%%:*}" >/dev/null 2>&1 || case " $m " in *" ${c#*:} "*) ;; *) m="$m ${c#*:}" ;; esac
    done
    echo "$m"
}

# The npm packages of tests/powershell (--test), exactly as its
# package-lock.json pins them, from the tarballs kept beside it in
# tests/powershell/vendor/ (npm checks each against the lock's sha512), built
# for this Node.js. Offline: the registry is never asked, so a machine whose
# network rewrites TLS for the registry (or has none) installs them the same.
# A stamp names the lock and the Node.js version they were built for; another
# means again.
top=$(cd "$(dirname "$0")/.." && pwd)
NPM_DIR=$top/tests/powershell
npm_stamp() { { sha256sum < "$NPM_DIR/package-lock.json"; node --version; } 2>/dev/null | tr -d ' \n-'; }
npm_ok() {
    [ "$test" = 0 ] && return 0
    local want
    want=$(npm_stamp)
    [ -n "$want" ] && [ "$(cat "$NPM_DIR/node_modules/.dualsync-stamp" 2>/dev/null)" = "$want" ]
}
npm_install() {
    npm_ok && return 0
    echo "install-deps: npm ci in tests/powershell from tests/powershell/vendor (tree-sitter, tree-sitter-powershell)" >&2
    local cache t log=$NPM_DIR/npm-ci.log
    cache=$(mktemp -d) || return 1
    : > "$log"
    for t in "$NPM_DIR"/vendor/*.tgz; do
        npm cache add "$t" --cache "$cache" >>"$log" 2>&1 || { echo "install-deps: npm cache add $t failed" >&2; rm -rf "$cache"; return 1; }
    done
    if ! (cd "$NPM_DIR" && npm ci --offline --cache "$cache" --no-audit --no-fund >>"$log" 2>&1); then
        tail -n 20 "$log" >&2
        echo "install-deps: npm ci failed in $NPM_DIR (log: $log)" >&2
        rm -rf "$cache"
        return 1
    fi
    rm -rf "$cache"
    npm_stamp > "$NPM_DIR/node_modules/.dualsync-stamp"
}

missing=$(missing_now)
if [ -z "$missing" ]; then
    if [ "$check" = 1 ]; then
        npm_ok && exit 0
        echo "missing npm packages in tests/powershell (or built for another Node.js); install them with: $0 --test" >&2
        exit 1
    fi
    npm_install || exit 1
    exit 0
fi
if [ "$check" = 1 ]; then
    for c in $CMDS; do
        command -v "${c%%:*}" >/dev/null 2>&1 || echo "missing command: ${c%%:*} (Debian package ${c#*:})" >&2
    done
    echo "missing packages:$missing; install them with: $0$([ "$lab_only" = 1 ] && echo ' --lab')$([ "$bench" = 1 ] && echo ' --bench')$([ "$test" = 1 ] && echo ' --test')" >&2
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
rc=0
$SUDO apt-get update -q >/dev/null || rc=$?
if [ "$rc" = 0 ]; then
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null || rc=$?
fi
[ "$made_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
if [ "$rc" != 0 ]; then
    echo "install-deps: apt-get failed (exit $rc) installing:$missing" >&2
    exit 1
fi
# what apt said it installed must now be there: name anything that is not
still=$(missing_now)
if [ -n "$still" ]; then
    echo "install-deps: still missing after apt-get:$still" >&2
    exit 1
fi
npm_install || exit 1
echo "install-deps: done" >&2
