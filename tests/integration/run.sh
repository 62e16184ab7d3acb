#!/bin/bash
# Integration tests: bring up the lab AD (Samba AD DC on loopback, seeded),
# run every tests/integration/test_*.sh against it, tear the lab down.
#
#   tests/integration/run.sh [TEST...]        e.g. run.sh test_pull
#
# Environment:
#   DUALSYNC_LAB=PREFIX   use (and leave running) a lab that is already up there
#   LAB_USERS=2000 LAB_SEED=1   size and seed of the organization to load
#   DUALSYNC=path         the binary under test, a test build with the hooks of
#                         src/testhooks.c (default ./dualsync-test: make test-bin)
#   DUALSYNC_SHIPPED=path the shipped build, which must ignore them (default ./dualsync)
#   DUALSYNC_TEST_OUT=DIR where the tests write (default tests/out; emptied first)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export DUALSYNC=${DUALSYNC:-$ROOT/dualsync-test}
export DUALSYNC_SHIPPED=${DUALSYNC_SHIPPED:-$ROOT/dualsync}
LAB_USERS=${LAB_USERS:-2000}
LAB_SEED=${LAB_SEED:-1}
OUTROOT=${DUALSYNC_TEST_OUT:-$ROOT/tests/out}
rm -rf "$OUTROOT"
mkdir -p "$OUTROOT"
# every tool the tests call, named with its package before anything starts
scripts/install-deps.sh --test --check || exit 2

# whatever ends this run (a failure, a signal), nothing it started stays running
. tests/reap.sh
reap_init
stop_lab() { :; }
trap 'stop_lab; reap_left run.sh' EXIT
trap 'exit 143' TERM INT HUP
started=0
if [ -n "${DUALSYNC_LAB:-}" ]; then
    export LAB=$DUALSYNC_LAB
    [ -f "$LAB/env.sh" ] || { echo "run.sh: DUALSYNC_LAB=$LAB has no env.sh" >&2; exit 2; }
else
    export LAB=/tmp/dualsync-check-lab
    stop_lab() { tests/lab/ad-stop.sh "$LAB" >/dev/null 2>&1 || true; }
    tests/lab/ad-start.sh "$LAB" > "$OUTROOT/lab-start.log" 2>&1 \
        || { cat "$OUTROOT/lab-start.log" >&2; echo "run.sh: the lab AD did not start" >&2; exit 1; }
    started=1
fi
tests/lab/ad-seed.sh "$LAB" "$LAB_USERS" "$LAB_SEED" > "$OUTROOT/lab-seed.log" 2>&1 \
    || { cat "$OUTROOT/lab-seed.log" >&2; echo "run.sh: seeding the lab failed" >&2; exit 1; }

tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=($(cd tests/integration && ls test_*.sh | sed 's/\.sh$//'))
total_pass=0
total_fail=0
failed=()   # "test: check" of every failure, repeated at the end where a log's tail shows it
for t in "${tests[@]}"; do
    export OUT=$OUTROOT/$t
    mkdir -p "$OUT"
    echo "== $t"
    bash "tests/integration/$t.sh" 2>&1 | tee "$OUT/log" | sed 's/^/  /'
    p=$(grep -c '^PASS' "$OUT/log"); f=$(grep -c '^FAIL' "$OUT/log")
    # a script that died early counts as a failure even if it printed no FAIL
    while IFS= read -r line; do failed+=("$t: ${line#FAIL }"); done < <(grep '^FAIL' "$OUT/log")
    if ! tail -1 "$OUT/log" | grep -q '^[0-9]* passed, [0-9]* failed$'; then
        f=$((f + 1)); echo "  FAIL $t did not finish"
        failed+=("$t: did not finish; its last lines:")
        while IFS= read -r line; do failed+=("    $line"); done < <(tail -5 "$OUT/log")
    fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
done
[ "$started" = 1 ] && echo "(stopping the lab AD)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed checks:"
    printf '  %s\n' "${failed[@]}"
fi
echo "integration: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
