#!/bin/bash
# dualsync watch: a batch at start, another after each new Connect cycle
# (organization.onPremisesLastSyncDateTime moves), none without one; SIGTERM
# ends it between batches with nothing left in doubt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/convert_lib.sh"
# a small scope that already holds the new hire of later on
FILTER="(|$(scope_filter 150)(sAMAccountName=watch$$))"
sim_start "$OUT/sim" false || { fail "graphsim: $(cat "$OUT/sim/start.err")"; finish; exit 1; }
wpid=
hire_dn="CN=Watch New Hire $$,OU=US,OU=Contoso,$AD_BASE_DN"
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; ldap_admin ldapdelete "$hire_dn" >/dev/null 2>&1; sim_stop' EXIT
M=$OUT/mappings
rm -rf "$M"
mkconvconf "$OUT/w.conf" "$M"
connect commercial gcch && pass "Connect cycles into both tenants" || fail "connect: $(cat "$OUT"/cycle-*.json)"

batches() { grep -c '^tenant gcch (usgov-high), run ' "$OUT/watch.out"; }
batches_at_least() { [ "$(batches)" -ge "$1" ]; }

"$DUALSYNC" -c "$OUT/w.conf" watch --interval 1 --max-changes 100000 --no-progress > "$OUT/watch.out" 2>&1 &
wpid=$!
wait_for 60 batches_at_least 1 && pass "watch: the first batch at start"
n1=$(count_state invited "$M/gcch.map")
[ "$n1" -gt 0 ] && pass "first batch converted $n1 users in gcch" || fail "first batch converted nobody"

# several polls without a new cycle: no batch (the poll reads only /organization)
s=$(log_seq)
polls() { tail -n +"$((s + 1))" "$SIM/requests.jsonl" | grep -c '"path": "/v1.0/organization"'; }
polls_at_least() { [ "$(polls)" -ge "$1" ]; }
# three more polls of both tenants
wait_for 60 polls_at_least 6 && pass "watch polls organization.onPremisesLastSyncDateTime ($(polls) reads)"
equal "no new Connect cycle: no batch" 1 "$(batches)"
equal "no new Connect cycle: no Graph write" 0 "$(writes_since "$s")"

# a new hire, then a Connect cycle: watch sees it and converts the hire in gcch
ldap_admin ldapadd >/dev/null <<LDIF
dn: $hire_dn
objectClass: user
sAMAccountName: watch$$
userPrincipalName: watch$$@contoso.example
mail: watch$$@contoso.example
c: US
company: Contoso
extensionAttribute1: commercial
extensionAttribute2: us-person
userAccountControl: 512
LDIF
# onPremisesLastSyncDateTime has one-second resolution: the next cycle must
# differ from the last, so the clock must have passed its second
last_sync() { sim GET "/_sim/$1/users" | python3 -c 'import json,sys; print(json.load(sys.stdin)["organization"]["onPremisesLastSyncDateTime"])'; }
clock_past() { [ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \> "$1" ]; }
ls_c=$(last_sync commercial); ls_g=$(last_sync gcch)
wait_for 5 clock_past "$ls_c" && wait_for 5 clock_past "$ls_g"
connect commercial gcch
wait_for 60 batches_at_least 2 && pass "watch: a batch after the new Connect cycle"
# (the commercial cycle may start a batch before gcch's cycle has synced the
# hire: then it is pending, and the batch after gcch's cycle converts it)
wait_for 60 grep -q "	invited	external-member	.*watch$$@contoso.example" "$M/gcch.map" \
    && pass "the new hire is converted in gcch (external member)"

kill -TERM "$wpid"
wait "$wpid"
rc=$?
wpid=
{ [ "$rc" = 0 ] || [ "$rc" = 1 ]; } && grep -q 'stopped by a signal, between batches' "$OUT/watch.out" \
    && pass "SIGTERM: watch ends between batches (exit $rc)" || fail "SIGTERM: exit $rc: $(tail -3 "$OUT/watch.out")"
ls "$M"/*.journal >/dev/null 2>&1 && fail "a journal was left behind" || pass "no journal left: nothing in doubt"
equal "nobody invited twice" 0 "$(invited_twice)"
finish
