#!/bin/bash
# The network between dualsync and Graph, through the dualsync binary and its
# config file: the per-exchange timeout, and a real HTTP proxy (tinyproxy,
# on loopback) chosen by the proxy key or by the standard environment
# variables, as check shows it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/convert_lib.sh"
FILTER="$(scope_filter 40)"
sim_start "$OUT/sim" false || { fail "graphsim: $(cat "$OUT/sim/start.err")"; finish; exit 1; }
TP=
trap '[ -n "$TP" ] && kill "$TP" 2>/dev/null; sim_stop' EXIT
KEEP_INVITE_PACE=1 mkconvconf "$OUT/n.conf" "$OUT/maps"
# conf FILE KEY=VALUE...: the config with these keys in every tenant's
# section: check --tenant commercial also reads its B2B partner gcch's
# cross-tenant access, through gcch's own settings
conf() {
    local f=$1; shift
    cp "$OUT/n.conf" "$f"
    for kv in "$@"; do sed -i "/^\[tenant /a $kv" "$f"; done
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

# --- a real proxy on loopback (tinyproxy), on a free port
PP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$OUT/tinyproxy.conf" <<EOF
Port $PP
Listen 127.0.0.1
Timeout 60
Allow 127.0.0.1
LogLevel Connect
LogFile "$OUT/tinyproxy.log"
EOF
: >"$OUT/tinyproxy.log"
tinyproxy -d -c "$OUT/tinyproxy.conf" >"$OUT/tinyproxy.out" 2>&1 &
TP=$!
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PP") 2>/dev/null; }
wait_for 10 listening || { finish; exit 1; }
# tunnels opened since the log had $1 lines
tunnels() { tail -n +"$(($1 + 1))" "$OUT/tinyproxy.log" | grep -c 'Request (file descriptor [0-9]*): CONNECT '; }
lines() { wc -l <"$OUT/tinyproxy.log"; }
# (the CONNECT goes to the simulator's address: the tests' connect-to entries
# apply to the tunnel's far end, as curl --connect-to does)

conf "$OUT/p.conf" "proxy = http://127.0.0.1:$PP"
l=$(lines)
check_commercial "$OUT/p.conf" && grep -q "proxy  *http://127.0.0.1:$PP (proxy key)" "$OUT/check.out" \
    && [ "$(tunnels "$l")" -ge 1 ] \
    && pass "proxy key: check goes through tinyproxy ($(tunnels "$l") tunnels) and shows it" \
    || fail "proxy key: $(cat "$OUT/check.out") tunnels $(tunnels "$l")"

l=$(lines)
https_proxy=http://127.0.0.1:$PP check_commercial "$OUT/n.conf" \
    && grep -q "proxy  *http://127.0.0.1:$PP (https_proxy)" "$OUT/check.out" && [ "$(tunnels "$l")" -ge 1 ] \
    && pass "https_proxy: libcurl takes it, check shows where the proxy came from" \
    || fail "https_proxy: $(cat "$OUT/check.out") tunnels $(tunnels "$l")"

l=$(lines)
https_proxy=http://127.0.0.1:$PP no_proxy=.microsoft.com,.microsoftonline.com,.microsoft.us,.microsoftonline.us \
    check_commercial "$OUT/n.conf" \
    && grep -q "proxy  *none (no_proxy names graph.microsoft.com)" "$OUT/check.out" && [ "$(tunnels "$l")" = 0 ] \
    && pass "no_proxy naming the Graph and login hosts: straight there" \
    || fail "no_proxy: $(cat "$OUT/check.out") tunnels $(tunnels "$l")"

conf "$OUT/none.conf" "proxy = none"
l=$(lines)
https_proxy=http://127.0.0.1:$PP check_commercial "$OUT/none.conf" \
    && grep -q "proxy  *none (proxy = none)" "$OUT/check.out" && [ "$(tunnels "$l")" = 0 ] \
    && pass "proxy = none: the environment's proxy is not used" \
    || fail "proxy = none: $(cat "$OUT/check.out") tunnels $(tunnels "$l")"

conf "$OUT/cred.conf" "proxy = http://alice:S3cr3t-pw@127.0.0.1:$PP"
refuses "proxy credentials in the config file are refused, and not echoed" 2 "credentials are never written" \
    "$DUALSYNC" -c "$OUT/cred.conf" check --tenant commercial
grep -q 'S3cr3t' "$OUT/last.err" "$OUT/last.out" && fail "the proxy password was shown" \
    || pass "the proxy password is shown nowhere"
https_proxy=http://alice:S3cr3t-pw@127.0.0.1:$PP check_commercial "$OUT/n.conf"
grep -q "proxy  *http://\*\*\*@127.0.0.1:$PP (https_proxy)" "$OUT/check.out" && ! grep -q S3cr3t "$OUT/check.out" \
    && pass "credentials in https_proxy: masked in check's output" \
    || fail "https_proxy with credentials: $(cat "$OUT/check.out")"

# --- invitations paced (30 a minute, a tenth of that at the start of a
# tenant's first run): the simulator blocks a tenant whose invitations
# exceed 20 within its minute (0.6 s at this time scale), as Entra's
# anti-abuse block follows bursts. A first run paced by default converts
# everyone unblocked; the same run unpaced (invitations_per_minute = 0) is
# blocked, so the simulator's switch can bite.
pace_run() {   # CONF: a first run into gcch, fresh tenant and mapping file
    sim POST /_sim/reset '{}' >/dev/null
    sim POST /_sim/faults '{"invitations_block_per_minute": 20}' >/dev/null
    connect gcch || return 1
    rm -rf "$OUT/maps"
    "$DUALSYNC" -c "$1" run --tenant gcch --no-progress --max-changes 100000 >"$OUT/pace.out" 2>&1
}
refused_invites() { sim GET '/_sim/log?path=invitations' | python3 -c '
import json, sys; E = json.load(sys.stdin)["entries"]
print(sum(1 for e in E if e["status"] == 403), sum(1 for e in E if e["status"] == 201))'; }
pace_run "$OUT/n.conf"
read -r r403 r201 <<<"$(refused_invites)"
[ "$r403" = 0 ] && [ "$r201" -gt 20 ] && [ "$(count_state invited "$OUT/maps/gcch.map")" = "$r201" ] \
    && pass "first run paced by default: $r201 invitations, none refused as a burst" \
    || fail "paced first run: $r403 refused, $r201 invited: $(tail -5 "$OUT/pace.out")"
conf "$OUT/unpaced.conf"
sed -i '/^\[tenant gcch\]/a invitations_per_minute = 0' "$OUT/unpaced.conf"
pace_run "$OUT/unpaced.conf"
read -r r403 r201 <<<"$(refused_invites)"
[ "$r403" -gt 0 ] && grep -qi 'blocked' "$OUT/pace.out" \
    && pass "the same run unpaced is blocked after $r201 invitations (the switch bites)" \
    || fail "unpaced run not blocked: $r403 refused, $r201 invited: $(tail -5 "$OUT/pace.out")"
sim POST /_sim/faults '{"reset": true}' >/dev/null
finish
