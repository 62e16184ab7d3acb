#!/bin/bash
# Conversions per second of dualsync.exe under Wine next to the Linux build,
# in the same run, against the same simulator and the same copy of AD.
#
#   LAB=/tmp/some-lab tests/bench/bench_windows.sh      (after: make test-bin windows-test-bin)
#
# Both builds convert the users of tenant gcch that its rules make external,
# from the copy of AD the Linux build kept (--ad-snapshot: dualsync.exe
# cannot read AD under Wine), in turn: Linux, .exe, Linux, .exe, ... Before
# each timed run the simulator is reset and a Connect cycle syncs the users
# again (not timed). The time is the whole `dualsync run` process, Wine's
# start included. farm-bench is not used: every run changes the simulator,
# which must be reset between runs, outside the timed part.
# Environment: LAB (the lab prefix), PAIRS [3], USERS [350] (the scope),
# DUALSYNC [./dualsync-test], DUALSYNC_EXE [./dualsync-test.exe]: the test builds, whose
# hooks reach the simulator.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${LAB:?LAB: the lab prefix (tests/lab/ad-start.sh)}"
export DUALSYNC=${DUALSYNC:-$ROOT/dualsync-test}
EXE=${DUALSYNC_EXE:-$ROOT/dualsync-test.exe}
PAIRS=${PAIRS:-3}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench_windows.XXXXXX")
export OUT
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/convert_lib.sh"
export WINEPREFIX=$OUT/wine WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml=
trap 'sim_stop; wineserver -k 2>/dev/null; rm -rf "$OUT"' EXIT
wineboot -i >/dev/null 2>&1 || { echo "bench_windows: wineboot failed" >&2; exit 1; }
FILTER=$(scope_filter "${USERS:-350}")
sim_start "$OUT/sim" >/dev/null || exit 1
cd "$OUT" || exit 1
mkconvconf lin.conf maps
sed -e "s|^\(client_secret_file\|password_file\|ca_file\) = /|\1 = Z:/|" lin.conf > exe.conf
python3 - "$SIM/ca.pem" > ca.reg <<'PY'
import base64, hashlib, re, struct, sys
der = base64.b64decode("".join(re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END",
                                         open(sys.argv[1]).read(), re.S).group(1).split()))
blob = struct.pack("<III", 32, 1, len(der)) + der
print("Windows Registry Editor Version 5.00\r\n\r")
print("[HKEY_LOCAL_MACHINE\\Software\\Microsoft\\SystemCertificates\\Root\\Certificates\\%s]\r"
      % hashlib.sha1(der).hexdigest().upper())
print('"Blob"=hex:%s\r' % ",".join("%02x" % b for b in blob))
PY
wine reg import "Z:$OUT/ca.reg" 2>/dev/null
# the copy of AD: one Linux run of commercial reads AD and keeps it
connect commercial gcch
"$DUALSYNC" -c lin.conf run --tenant commercial >/dev/null 2>&1
cp maps/ad.snapshot ad.snapshot

one() { # lin|exe: prints "SECONDS CONVERSIONS"
    sim POST /_sim/reset '{}' >/dev/null
    connect gcch
    rm -rf maps
    local t0=$EPOCHREALTIME
    if [ "$1" = lin ]; then
        "$DUALSYNC" -c lin.conf run --tenant gcch --ad-snapshot ad.snapshot >run.out 2>&1
    else
        env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe.conf run --tenant gcch --ad-snapshot "Z:$OUT/ad.snapshot" >run.out 2>&1
    fi
    local t1=$EPOCHREALTIME
    echo "$t0 $t1 $(count_state invited maps/gcch.map)" | awk '{ printf "%.3f %d\n", $2 - $1, $3 }'
}
printf '%-5s %-6s %8s %11s %14s\n' pair build seconds conversions conversions/s
for i in $(seq "$PAIRS"); do
    read -r ls ln < <(one lin)
    read -r es en < <(one exe)
    awk -v i="$i" -v ls="$ls" -v ln="$ln" -v es="$es" -v en="$en" 'BEGIN {
        printf "%-5s %-6s %8s %11s %14.1f\n", i, "linux", ls, ln, ln / ls
        printf "%-5s %-6s %8s %11s %14.1f   exe/linux time %.2f\n", i, "exe", es, en, en / es, es / ls }'
done
# what of the .exe's time is Wine starting a process: `dualsync.exe version`
for i in 1 2 3; do
    t0=$EPOCHREALTIME; wine "$EXE" version >/dev/null 2>&1; t1=$EPOCHREALTIME
    echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }'
done | sort -n | sed -n 2p | sed 's/^/wine dualsync.exe version (start-up alone), median of 3: /; s/$/ s/'
