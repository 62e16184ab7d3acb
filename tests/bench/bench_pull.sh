#!/bin/bash
# Benchmark: dualsync pull vs ldapsearch -E pr=1000/noprompt, side by side, over
# LDAPS against the lab AD, same base, filter and attributes.
#
#   tests/bench/bench_pull.sh [USERS] [ROUNDS]      defaults: 20000 5
#   SUBSET='(|(c=GB)(c=SE)(c=CN))' tests/bench/bench_pull.sh 20000   only a quarter
#       of the same server's users (growth from N/4 to N on one database)
#
# Uses its own lab in /tmp/dualsync-bench-lab-USERS (provisioned and seeded on
# first use: seeding 20,000 users takes several minutes; the lab is left running
# for the next round — stop it with tests/lab/ad-stop.sh PREFIX). Only one lab can
# run at a time on a machine (fixed ports). Prints per-round figures and the
# medians: wall time of each, the ratio (target <= 1.15) and dualsync's peak RSS
# per object (target <= 3 KB).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
USERS=${1:-20000}
ROUNDS=${2:-5}
LAB=${BENCH_LAB:-/tmp/dualsync-bench-lab-$USERS}
command -v /usr/bin/time >/dev/null || { apt-get update -q >/dev/null; apt-get install -y -q time >/dev/null; }
[ -x ./dualsync ] || make -s dualsync
tests/lab/ad-start.sh "$LAB" >/dev/null
tests/lab/ad-seed.sh "$LAB" "$USERS" "${BENCH_SEED:-1}" >&2
. "$LAB/env.sh"
OUT=$ROOT/tests/out/bench
mkdir -p "$OUT"
BASE=$AD_BASE_DN
FILTER="(&(sAMAccountType=805306368)${SUBSET:-})"   # what dualsync sends for classes = user [+ filter]
ATTRS=$(sed -n '/^static const char \*const base_attrs/,/^};/p' src/ldap_source.c \
        | grep -o '"[A-Za-z0-9-]*"' | tr -d '"' | tr '\n' ' ')
cat > "$OUT/bench.conf" <<CONF
[ldap]
uri = $AD_LDAPS_URI
ca_file = $AD_CA_FILE
bind = simple
bind_dn = $AD_BIND_UPN
password_file = $AD_PW_FILE
base_dn = $BASE
classes = user
page_size = 1000
${SUBSET:+filter = $SUBSET}
CONF
run_ldapsearch() {
    # shellcheck disable=SC2086
    LDAPTLS_CACERT=$AD_CA_FILE /usr/bin/time -f '%e %M' -o "$OUT/t" ldapsearch -LLL -o ldif-wrap=no \
        -H "$AD_LDAPS_URI" -x -D "$AD_BIND_UPN" -y "$AD_PW_FILE" -b "$BASE" \
        -E pr=1000/noprompt "$FILTER" $ATTRS > "$OUT/ldapsearch.out"
    cat "$OUT/t"
}
run_dualsync() {
    /usr/bin/time -f '%e %M' -o "$OUT/t" ./dualsync -c "$OUT/bench.conf" pull --format ndjson \
        --no-progress > "$OUT/dualsync.out"
    cat "$OUT/t"
}
run_ldapsearch >/dev/null; run_dualsync >/dev/null     # warm the server's caches
n=$(wc -l < "$OUT/dualsync.out")
n_ls=$(grep -c '^dn:' "$OUT/ldapsearch.out" || true)
echo "objects: dualsync $n, ldapsearch $n_ls (users=$USERS)"
: > "$OUT/rounds"
for r in $(seq 1 "$ROUNDS"); do
    # alternate the order so neither always runs on a warmer server
    if [ $((r % 2)) = 1 ]; then l=$(run_ldapsearch); d=$(run_dualsync)
    else d=$(run_dualsync); l=$(run_ldapsearch); fi
    echo "$l $d" >> "$OUT/rounds"
    echo "round $r: ldapsearch ${l% *} s; dualsync ${d% *} s, maxrss ${d#* } KB"
done
python3 - "$OUT/rounds" "$n" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
n = int(sys.argv[2])
ls = statistics.median(r[0] for r in rows)
ds = statistics.median(r[2] for r in rows)
rss = max(r[3] for r in rows)
print(f"median wall: ldapsearch {ls:.2f} s, dualsync {ds:.2f} s, ratio {ds / ls:.3f} (target <= 1.15)")
print(f"dualsync peak RSS {rss:.0f} KB = {rss * 1024 / n:.0f} bytes/object over {n} objects (target <= 3072)")
PY
if [ "${CALLGRIND:-0}" = 1 ]; then
    # client-side instructions: stable on a noisy machine (the wall time above
    # is mostly the server's)
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | sed -n 's/.*refs: *//p'; }
    # shellcheck disable=SC2086
    l=$(LDAPTLS_CACERT=$AD_CA_FILE ir ldapsearch -LLL -o ldif-wrap=no -H "$AD_LDAPS_URI" -x -D "$AD_BIND_UPN" \
        -y "$AD_PW_FILE" -b "$BASE" -E pr=1000/noprompt "$FILTER" $ATTRS)
    d=$(ir ./dualsync -c "$OUT/bench.conf" pull --format ndjson --no-progress)
    s=$(ir ./dualsync -c "$OUT/bench.conf" pull --no-progress)
    echo "client instructions (callgrind): ldapsearch $l; dualsync ndjson $d; dualsync summary $s"
fi
