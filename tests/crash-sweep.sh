#!/bin/bash
# The crash test, as isync's: dualsync run is ended (exit 100, as a crash
# would) after journal step N; the rerun must converge to the mapping file of
# an uninterrupted run (records compared without timestamps and invitation
# ids) and the simulator must show nobody invited twice.
#
#   tests/crash-sweep.sh [all|quick]      all: every N up to the run's last step
#                                         quick (make check): N = 1..100 and 12 more at random
# Needs LAB (a running lab, see tests/integration/run.sh), DUALSYNC, OUT; run
# through tests/integration/run.sh test_crash, or with those set by hand.
set -u
MODE=${1:-all}
. "$(dirname "$0")/integration/lib.sh"
. "$(dirname "$0")/integration/convert_lib.sh"
FILTER=$(scope_filter 400)   # >= 200 conversions at 2,000 and at 20,000 users
sim_start "$OUT/sim" false || { fail "graphsim: $(cat "$OUT/sim/start.err")"; finish; exit 1; }
trap 'sim_stop' EXIT
# the users as Connect exports them, read once: each round's cycle replays it
ldap_admin ldapsearch -LLL -o ldif-wrap=no -E pr=500/noprompt -b "$AD_BASE_DN" \
    "(&(objectCategory=person)(objectClass=user)$FILTER)" '*' objectGUID objectSid > "$OUT/users.ldif" 2>/dev/null
python3 -c 'import json,sys; print(json.dumps({"ldif": open(sys.argv[1]).read()}))' "$OUT/users.ldif" > "$OUT/cycle-body.json"
P=$(cat "$SIM/port")
fresh() {   # a fresh tenant after Connect's cycle, and no mapping file
    sim POST /_sim/reset '{}' >/dev/null
    curl -sf --cacert "$SIM/ca.pem" --connect-to "graph.microsoft.com:443:127.0.0.1:$P" \
        -H 'Content-Type: application/json' --data-binary @"$OUT/cycle-body.json" \
        https://graph.microsoft.com/_sim/gcch/connect-cycle > "$OUT/cycle.json" || return 1
    rm -rf "$OUT/maps"
}
mkconvconf "$OUT/c.conf" "$OUT/maps"
R() { "$DUALSYNC" -c "$OUT/c.conf" run --tenant gcch --no-progress --max-changes 100000 "$@"; }

# the hook is the test build's (src/testhooks.c): the shipped binary refuses it
if [ -n "${DUALSYNC_SHIPPED:-}" ]; then
    refuses "the shipped dualsync has no --test-step-limit" 2 "only the test build" \
        "$DUALSYNC_SHIPPED" -c "$OUT/c.conf" run --tenant gcch --test-step-limit 1
fi

fresh || { fail "connect cycle: $(head -c 300 "$OUT/cycle.json")"; finish; exit 1; }
rm -f "$OUT/ref.steps"
DUALSYNC_TEST_STEP_COUNT=$OUT/ref.steps R > "$OUT/ref.out" 2>&1
records "$OUT/maps/gcch.map" > "$OUT/ref.records"
n_inv=$(count_state invited "$OUT/maps/gcch.map")
[ "$n_inv" -ge 200 ] && pass "reference run: $n_inv conversions" || fail "reference run: only $n_inv conversions"
# what the run itself says it made (DUALSYNC_TEST_STEP_COUNT): the sweep
# below must find and try exactly as many
counted_steps=$(cat "$OUT/ref.steps" 2>/dev/null)
case "$counted_steps" in
    ''|*[!0-9]*) fail "the reference run reported no step count (DUALSYNC_TEST_STEP_COUNT): '$counted_steps'"; counted_steps=-1;;
esac
# how many journal steps an uninterrupted run makes: the first N that does not
# crash, less one (steps are counted the same in every run from scratch)
first_uncrashed=$(
    lo=1; hi=20000
    while [ $lo -lt $hi ]; do
        mid=$(( (lo + hi) / 2 )); fresh >/dev/null
        R --test-step-limit $mid >/dev/null 2>&1
        if [ $? = 100 ]; then lo=$((mid + 1)); else hi=$mid; fi
    done
    echo $lo)
steps=$((first_uncrashed - 1))
# The search alone cannot tell "the run makes 0 steps" from "the hook no
# longer crashes": both give 0. So the count is held against the count the
# run reported, and against what the run did: from scratch, each conversion
# journals at least three lines (its new record, the intent that must
# precede the invitation, the record once invited: mapstore_intents refuses
# an intent without a record), the journal's first line is a step, and the
# mapping file is there, so a commit took place (written; renamed and the
# directory synced; journal gone: 3 steps). Then both sides of the boundary
# are tried once more.
least=$((3 * n_inv + 4))
if [ "$n_inv" -gt 0 ] && [ "$steps" -ge "$least" ] && [ "$steps" = "$counted_steps" ]; then
    pass "an uninterrupted run makes $steps journal steps, as it reports (at least $least for $n_inv conversions)"
else
    fail "the step hook found $steps journal steps, the run reports $counted_steps, and $n_inv conversions make at least $least (--test-step-limit no longer ends the run with 100?)"
fi
fresh >/dev/null; R --test-step-limit "$steps" >/dev/null 2>&1; rc_last=$?
fresh >/dev/null; R --test-step-limit "$first_uncrashed" >/dev/null 2>&1; rc_after=$?
if [ "$rc_last" = 100 ] && [ "$rc_after" -le 1 ] && records "$OUT/maps/gcch.map" | cmp -s - "$OUT/ref.records"; then
    pass "--test-step-limit $steps ends the run with 100, $first_uncrashed lets it finish as the uninterrupted one"
else
    fail "step boundary: --test-step-limit $steps exit $rc_last (want 100), $first_uncrashed exit $rc_after (want 0 or 1, the reference mapping file)"
fi
if [ "$MODE" = all ]; then
    list=$(seq 1 "$steps")
else
    list="$(seq 1 $(( steps < 100 ? steps : 100 ))) $(python3 -c "
import random; r = random.Random(${CRASH_SEED:-$$}); n = $steps
print(' '.join(map(str, sorted(r.sample(range(101, n + 1), min(12, max(0, n - 100)))))))")"
fi
bad=0; tried=0
for n in $list; do
    fresh || { fail "step $n: connect cycle"; bad=$((bad + 1)); continue; }
    R --test-step-limit "$n" > "$OUT/crash.out" 2>&1
    rc=$?
    R > "$OUT/rerun.out" 2>&1
    rc2=$?
    tried=$((tried + 1))
    read -r twice total < <(invited_twice_since_reset)
    if [ "$rc" != 100 ] || [ "$rc2" -gt 1 ] || [ "$twice" != 0 ] \
       || ! records "$OUT/maps/gcch.map" | cmp -s - "$OUT/ref.records"; then
        bad=$((bad + 1))
        fail "crash after step $n: exit $rc then $rc2, invited twice $twice: $(records "$OUT/maps/gcch.map" | diff - "$OUT/ref.records" | head -5)"
    fi
done
# all: every step of the run; quick: the first 100 and 12 of the rest
if [ "$MODE" = all ]; then want=$counted_steps
else want=$(( (counted_steps < 100 ? counted_steps : 100) + (counted_steps > 112 ? 12 : (counted_steps > 100 ? counted_steps - 100 : 0)) )); fi
if [ "$tried" -gt 0 ] && [ "$tried" = "$want" ]; then
    [ "$bad" = 0 ] && pass "crashed after each of $tried journal steps ($MODE): every rerun converged to the uninterrupted run's mapping file, nobody invited twice"
else
    fail "crashed after $tried journal steps ($MODE), want $want of the $counted_steps the run reports"
fi
finish
