#!/bin/bash
# The network between dualsync and Graph, through the dualsync binary and its
# config file: the per-exchange timeout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/convert_lib.sh"
FILTER="$(scope_filter 40)"
sim_start "$OUT/sim" false || { fail "graphsim: $(cat "$OUT/sim/start.err")"; finish; exit 1; }
trap 'sim_stop' EXIT
mkconvconf "$OUT/n.conf" "$OUT/maps"
# conf FILE KEY=VALUE...: the config with these keys in [tenant commercial]
conf() {
    local f=$1; shift
    cp "$OUT/n.conf" "$f"
    for kv in "$@"; do sed -i "/^\[tenant commercial\]/a $kv" "$f"; done
}
check_commercial() { "$DUALSYNC" -c "$1" check --tenant commercial >"$OUT/check.out" 2>&1; }

# --- timeout: one exchange may take at most `timeout` seconds. The
# invitation-setting read answers after 3 s: fine by default (60 s), abandoned
# with timeout = 1 (retried, then the tenant is not ready)
sim POST /_sim/faults '{"reset": true, "rate_slow": 1.0, "slow_ms": 3000, "paths": "^/v1.0/policies"}' >/dev/null
conf "$OUT/t.conf" "timeout = 1"
check_commercial "$OUT/n.conf"
grep -q 'invitations *allowed' "$OUT/check.out" && pass "a 3 s answer within the default timeout" \
    || fail "default timeout: $(cat "$OUT/check.out")"
check_commercial "$OUT/t.conf"
grep -q 'Timeout was reached' "$OUT/check.out" && ! grep -q 'invitations *allowed' "$OUT/check.out" \
    && pass "timeout = 1: the 3 s answer is abandoned (Timeout was reached)" \
    || fail "timeout = 1: $(cat "$OUT/check.out")"
sim POST /_sim/faults '{"reset": true}' >/dev/null

finish
