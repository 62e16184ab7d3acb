#!/bin/bash
# dualsync watch: a batch at start, another after each new Connect cycle
# (organization.onPremisesLastSyncDateTime moves), none without one; SIGTERM
# ends it between batches with nothing left in doubt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/convert_lib.sh"
# a small scope that already holds the new hire of later on
FILTER="(|$(scope_filter 150)(sAMAccountName=watch$$))"
# tokens that live 12 s (renewed at half their life, as any token under 10
# minutes), so that a few seconds of 1 s polls span several renewals
SIM_OPTS="--token-lifetime 12" sim_start "$OUT/sim" false || { fail "graphsim: $(cat "$OUT/sim/start.err")"; finish; exit 1; }
wpid=
hire_dn="CN=Watch New Hire $$,OU=US,OU=Contoso,$AD_BASE_DN"
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; ldap_admin ldapdelete "$hire_dn" >/dev/null 2>&1; sim_stop' EXIT
M=$OUT/mappings
rm -rf "$M"
mkconvconf "$OUT/w.conf" "$M"
connect commercial gcch && pass "Connect cycles into both tenants" || fail "connect: $(cat "$OUT"/cycle-*.json)"

batches() { grep -c '^tenant gcch (usgov-high), run ' "$OUT/watch.out"; }
batches_at_least() { [ "$(batches)" -ge "$1" ]; }

s0=$(log_seq)
t0=$EPOCHREALTIME
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
# one handle and one token per tenant for every poll and batch: a token is
# asked for only when the last one nears its expiry (at 6 s of its 12), not
# per poll or per batch. Scaled back: at most 2 tokens an hour at real
# lifetimes (60-90 min, renewed 5 min before the end). How many polls fit
# in the run depends on the machine's load; three, with fewer tokens than
# polls, already show that a poll does not ask for one.
python3 - "$SIM/requests.jsonl" "$s0" "$t0" "$EPOCHREALTIME" >"$OUT/tokens.txt" <<'PY'
import json, sys
path, s0, t0, t1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
E = [json.loads(l) for l in open(path)][s0:]
for t in ("commercial", "gcch"):
    tokens = sum(1 for e in E if e.get("kind") == "token" and e.get("tenant") == t and e.get("status") == 200)
    polls = sum(1 for e in E if e.get("tenant") == t and e["path"] == "/v1.0/organization")
    bound = int((t1 - t0) / 6) + 1
    print("%s %s: %d token requests for %d polls in %.0f s (at most %d)" % (
        "PASS" if tokens <= bound and polls >= 3 and tokens < polls else "FAIL", t, tokens, polls, t1 - t0, bound))
PY
counted "token requests per tenant" cat "$OUT/tokens.txt"
{ [ "$rc" = 0 ] || [ "$rc" = 1 ]; } && grep -q 'stopped by a signal, between batches' "$OUT/watch.out" \
    && pass "SIGTERM: watch ends between batches (exit $rc)" || fail "SIGTERM: exit $rc: $(tail -3 "$OUT/watch.out")"
ls "$M"/*.journal >/dev/null 2>&1 && fail "a journal was left behind" || pass "no journal left: nothing in doubt"
equal "nobody invited twice" 0 "$(invited_twice)"
finish
