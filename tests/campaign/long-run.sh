#!/bin/bash
# The campaign at length (tests/campaign/campaign.py): OPS random AD
# operations (default 20,000) in batches of 1 to BATCH (default 20); after
# each batch the kept copy must equal a full read and the plan plan --full.
#
#   tests/campaign/long-run.sh [OPS] [SEED]        make campaign-long OPS=... SEED=...
#
# Environment:
#   DUALSYNC_LAB=PREFIX  use (and leave running) a lab that is up there; else
#                        a lab of its own in /tmp/dualsync-campaign-lab, started,
#                        seeded (LAB_USERS, default 300) and stopped
#   DUALSYNC=path        the binary, a test build (default ./dualsync-test: make
#                        test-bin; it reaches the simulator through src/testhooks.c); BATCH=20
#   CAMPAIGN_OUT=DIR     where it writes (default tests/out/campaign-long); the
#                        log of every batch is DIR/log
# Prints the seed first; a failure prints the command that replays it.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OPS=${1:-20000}
SEED=${2:-}
OUT=${CAMPAIGN_OUT:-$ROOT/tests/out/campaign-long}
export DUALSYNC=${DUALSYNC:-$ROOT/dualsync-test}
scripts/install-deps.sh --check || exit 2
[ -x "$DUALSYNC" ] || { echo "long-run.sh: no $DUALSYNC; run make test-bin first" >&2; exit 2; }
mkdir -p "$OUT"
. tests/reap.sh
reap_init
stop_lab() { :; }
trap 'stop_lab; reap_left long-run.sh' EXIT
trap 'exit 143' TERM INT HUP
if [ -n "${DUALSYNC_LAB:-}" ]; then
    LAB=$DUALSYNC_LAB
else
    LAB=/tmp/dualsync-campaign-lab
    stop_lab() { tests/lab/ad-stop.sh "$LAB" >/dev/null 2>&1 || true; }
    { tests/lab/ad-start.sh "$LAB" && tests/lab/ad-seed.sh "$LAB" "${LAB_USERS:-300}" 1; } \
        > "$OUT/lab.log" 2>&1 || { cat "$OUT/lab.log" >&2; echo "long-run.sh: the lab did not start" >&2; exit 1; }
fi
start=$(date +%s)
python3 tests/campaign/campaign.py --lab "$LAB" --dualsync "$DUALSYNC" --out "$OUT/work" \
    --ops "$OPS" --batch "${BATCH:-20}" ${SEED:+--seed "$SEED"} > "$OUT/log" 2>&1
rc=$?
grep -v '^batch ' "$OUT/log"
echo "long-run.sh: $OPS operations, exit $rc, $(( $(date +%s) - start )) s; every batch in $OUT/log"
exit $rc
