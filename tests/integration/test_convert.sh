#!/bin/bash
# dualsync run/convert end to end: the lab AD, the Graph simulator with the
# defense example's tenants (Commercial, GCC High) and their Connect cycles.
# Dry run, circuit breaker, the onPremisesUserPrincipalName rule not changed
# (every user blocked with the remedy) and changed, idempotence (no Graph
# write, mapping files byte-identical), revert refused without
# --allow-revert, faults (10 % 429/503, 2 % dropped connections before and
# after processing: every conversion done, none twice), and the LDAP server
# dropping the connection in the middle of the pull (mapping files intact).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/convert_lib.sh"
sim_start "$OUT/sim" true || { fail "graphsim: $(cat "$OUT/sim/start.err")"; finish; exit 1; }
trap 'sim_stop' EXIT
M=$OUT/mappings
rm -rf "$M"
mkconvconf "$OUT/d.conf" "$M"
# a small guard in the config: the big first run must be confirmed
sed -i 's/^max_changes = 500/max_changes = 20/' "$OUT/d.conf"
D() { "$DUALSYNC" -c "$OUT/d.conf" "$@" --no-progress; }
connect commercial gcch && pass "Connect cycles into both tenants" || fail "connect cycle: $(cat "$OUT"/cycle-*.json)"

# --- check: LDAP, then per tenant token, permissions, invitations allowed, clock skew
D check > "$OUT/check.out" 2>&1
rc=$?
# ready TENANT: its block of the check says token ok, User.Invite.All granted
# (the simulator's apps have it), nothing missing, invitations allowed, ok
ready() {
    sed -n "/^tenant $1:\$/,/^  result /p" "$OUT/check.out" > "$OUT/check-$1.out"
    grep -qx '  token          ok' "$OUT/check-$1.out" \
        && grep -qE '^  permissions    (.*, )?User\.Invite\.All(,|$)' "$OUT/check-$1.out" \
        && ! grep -q '^  MISSING' "$OUT/check-$1.out" \
        && grep -q '^  invitations    allowed: ' "$OUT/check-$1.out" \
        && grep -qx '  result         ok' "$OUT/check-$1.out"
}
[ "$rc" = 0 ] && grep -q "^ldap $AD_LDAPS_URI: connected, certificate verified where TLS is used, bound\$" "$OUT/check.out" \
    && ready commercial && ready gcch \
    && pass "check: LDAP and both tenants ready" || fail "check (exit $rc): $(cat "$OUT/check.out")"
# --- check with each tenant's connect_config: which tenant each export's
# Entra connector exports to, against the tenant's verified domains (Graph).
# The commercial export is commercial's own; the GCC High fixtures are of
# another GCC High tenant (fabrikamdefense.onmicrosoft.us), which only Graph
# can tell: a warning, the exit code unchanged. Then both sections name the
# commercial server's export: a warning in each.
FX=$ROOT/tests/fixtures/connect
# with-cc FILE COMMERCIAL_EXPORT GCCH_EXPORT: d.conf with the two connect_config
with_cc() {
    awk -v c="$FX/$2" -v g="$FX/$3" '{ print } /^\[tenant commercial\]/ { print "connect_config = " c }
        /^\[tenant gcch\]/ { print "connect_config = " g }' "$OUT/d.conf" > "$1"
}
with_cc "$OUT/cc1.conf" commercial with-rule
"$DUALSYNC" -c "$OUT/cc1.conf" check --no-progress > "$OUT/cc1.out" 2>&1
rc=$?
grep -qF "ok      tenant: the Entra connector 'contosocorp.onmicrosoft.com - AAD' ($FX/commercial/Connectors/Connector_{b891884f-051e-4a83-95af-2544101c9083}.xml:16, UserName Sync_CONNECT-COM_8e41b07c2d95@contosocorp.onmicrosoft.com) exports to contosocorp.onmicrosoft.com (its UserName), a verified domain of commercial (Graph)" "$OUT/cc1.out" \
    && pass "check connect_config: commercial's export is commercial's, by its verified domains" \
    || fail "check connect_config, commercial (exit $rc): $(grep -A2 'tenant:' "$OUT/cc1.out" | head -c 2000)"
[ "$rc" = 0 ] && grep -qF "WARNING tenant: the Entra connector 'fabrikamdefense.onmicrosoft.us - AAD' ($FX/with-rule/Connectors/Connector_{b891884f-051e-4a83-95af-2544101c9083}.xml:16, UserName Sync_CONNECT-GCCH_5c2d9e1a7b30@fabrikamdefense.onmicrosoft.us) exports to fabrikamdefense.onmicrosoft.us (its UserName), which is not a verified domain of gcch (Graph lists contoso-defense.example, contosodefense.onmicrosoft.us)" "$OUT/cc1.out" \
    && grep -qF "remedy: point connect_config of [tenant gcch] at the export of gcch's own Connect server" "$OUT/cc1.out" \
    && grep -qx "connect gcch: 1 warning above" "$OUT/cc1.out" && ! grep -q "connect commercial: .*warning" "$OUT/cc1.out" \
    && pass "check connect_config: another GCC High tenant's export is a warning (Graph's domains), exit 0" \
    || fail "check connect_config, gcch (exit $rc): $(grep -A2 'tenant:' "$OUT/cc1.out" | head -c 2000)"
with_cc "$OUT/cc2.conf" commercial commercial
"$DUALSYNC" -c "$OUT/cc2.conf" check --no-progress > "$OUT/cc2.out" 2>&1
rc=$?
grep -qF "exports to contosocorp.onmicrosoft.com (its UserName), which is not a verified domain of gcch (Graph lists contoso-defense.example, contosodefense.onmicrosoft.us); it is a verified domain of [tenant commercial]" "$OUT/cc2.out" \
    && grep -qF "WARNING tenant: the export of [tenant commercial] ($FX/commercial) has the same Entra connector account, Sync_CONNECT-COM_8e41b07c2d95@contosocorp.onmicrosoft.com" "$OUT/cc2.out" \
    && grep -qF "WARNING tenant: the export of [tenant gcch] ($FX/commercial) has the same Entra connector account" "$OUT/cc2.out" \
    && grep -qF "why: one connector exports to one tenant: gcch and commercial cannot both be exported by it" "$OUT/cc2.out" \
    && pass "check connect_config: two sections with one Connect server's export, a warning in each (exit $rc)" \
    || fail "check connect_config, one export for two (exit $rc): $(grep -A2 'tenant:' "$OUT/cc2.out" | head -c 3000)"

sed 's|^client_secret_file = .*commercial-app.secret|client_secret_file = '"$OUT"'/creds/wrong.secret|' "$OUT/d.conf" > "$OUT/wrong.conf"
printf 'not-the-secret-123' > "$OUT/creds/wrong.secret"; chmod 600 "$OUT/creds/wrong.secret"
"$DUALSYNC" -c "$OUT/wrong.conf" check --tenant commercial > "$OUT/check2.out" 2>&1
rc=$?
# the token endpoint's own code for a wrong secret, the remedy, and not ready
[ "$rc" = 3 ] && ! grep -q 'not-the-secret-123' "$OUT/check2.out" \
    && grep -q '^  token          FAILED: token request refused: 401 invalid_client: AADSTS7000215: ' "$OUT/check2.out" \
    && grep -qF "the client secret is wrong: put the secret's Value (not its ID) in the secret file" "$OUT/check2.out" \
    && grep -qx '  result         NOT READY' "$OUT/check2.out" \
    && pass "check: a wrong client secret is reported (exit 3), the secret is not shown" \
    || fail "check with a wrong secret (exit $rc): $(cat "$OUT/check2.out")"
# the refused token request names the ids the identity platform logged it by
tok_ids=$(python3 -c '
import json, sys
E = [e for e in map(json.loads, open(sys.argv[1])) if e.get("kind") == "token"]
print(E[-1]["client_request_id"], E[-1]["request_id"])' "$SIM/requests.jsonl")
grep -qF "(client-request-id ${tok_ids% *}, request-id ${tok_ids#* })" "$OUT/check2.out" \
    && pass "check: the refused token request names its client-request-id and request-id" \
    || fail "token refusal without the ids $tok_ids: $(grep token "$OUT/check2.out")"

D plan --format json > "$OUT/plan.json" 2>/dev/null
planned() { python3 -c "import json,sys; p=json.load(open(sys.argv[1]))
print([t for t in p['tenants'] if t['tenant']==sys.argv[2]][0]['counts']['actions']['convert'])" "$OUT/plan.json" "$1"; }
pc=$(planned commercial); pg=$(planned gcch)
[ "$pc" -gt 20 ] && [ "$pg" -ge 100 ] && pass "plan: $pc conversions in commercial, $pg in gcch" \
    || fail "plan: too few conversions to test: $pc, $pg"

# --- the report's displayName (issue 15): one user that gcch will convert gets
# a hostile displayName in AD, and no Connect cycle follows: the tenant keeps
# the old name, so the report must take AD's own value, not the cloud user's
HOSTILE='<script>alert(1)</script>'
# and another one a displayName with a NUL byte inside (LDAP values are
# counted; Samba keeps it, as it refuses a byte that is not UTF-8): the
# reader reads U+FFFD for it and warns, nothing is cut (doc/report.md), and
# the audit trail and the report show the same value, in strict UTF-8 JSON.
{ read -r hdn; read -r ndn; } < <(python3 - "$OUT/plan.json" "$LAB/manifest.json" <<'PY'
import json, sys
p, m = (json.load(open(f)) for f in sys.argv[1:3])
mail = {u["dn"].lower() for u in m["users"] if u.get("mail")}
acts = [t for t in p["tenants"] if t["tenant"] == "gcch"][0]["actions"]
dns = [a["dn"] for a in acts if a["action"] == "convert" and a.get("dn", "").lower() in mail
       and "\\" not in a["dn"]]
print(dns[0], dns[1], sep="\n")
PY
)
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName: %s\n' "$hdn" "$HOSTILE" \
    | ldap_admin ldapmodify >/dev/null \
    && pass "a user to be converted in gcch is given the displayName $HOSTILE" \
    || fail "could not set the displayName of $hdn"
nul_old=$(ldap_admin ldapsearch -LLL -o ldif-wrap=no -b "$ndn" -s base displayName | grep '^displayName:')
NUL_WANT=$'Caf\xc3\xa9\xef\xbf\xbdNul Fifteen'
printf 'dn: %s\nchangetype: modify\nreplace: displayName\ndisplayName:: %s\n' "$ndn" \
    "$(printf 'Caf\xc3\xa9\0Nul Fifteen' | base64 -w0)" | ldap_admin ldapmodify >/dev/null \
    && pass "another one gets a displayName with a NUL byte inside" \
    || fail "could not set the displayName of $ndn"

# --- dry run: reads Graph, writes nothing anywhere
s=$(log_seq)
D run --dry-run --max-changes 100000 > "$OUT/dry.out" 2>&1
rc=$?
grep -qF "warning: $ndn: displayName: a value holds a NUL byte (U+0000)" "$OUT/dry.out" \
    && pass "the NUL byte in a displayName is warned of, naming the user's DN" \
    || fail "no warning of the NUL byte in $ndn's displayName: $(grep -m3 warning "$OUT/dry.out")"
[ ! -e "$M" ] && [ "$(writes_since "$s")" = 0 ] && [ "$rc" != 3 ] \
    && pass "--dry-run: no mapping directory, no audit, no Graph write" \
    || fail "--dry-run wrote something (exit $rc): $(ls -la "$M" 2>&1) writes $(writes_since "$s")"

# --- circuit breaker: max_changes 20 in the config, nothing done in either tenant
s=$(log_seq)
refuses "circuit breaker: more changes than max_changes, nothing done" 3 "confirm with --max-changes" \
    "$DUALSYNC" -c "$OUT/d.conf" run --no-progress
equal "circuit breaker: no Graph write" 0 "$(writes_since "$s")"
[ "$(count_state invited "$M/gcch.map" 2>/dev/null)" = 0 ] && pass "circuit breaker: no conversion recorded" \
    || fail "circuit breaker: records: $(head -20 "$M/gcch.map")"

# --- the run: commercial's Connect still writes onPremisesUserPrincipalName
D run --max-changes 100000 > "$OUT/run1.out" 2>"$OUT/run1.err"
equal "first run: exit 1 (some users blocked)" 1 $?
cb=$(count_state blocked "$M/commercial.map"); ci=$(count_state invited "$M/commercial.map")
equal "commercial (rule not changed): every planned user blocked" "$pc" "$cb"
equal "commercial: nobody invited" 0 "$ci"
upn_blocked=$(grep -c "onPremisesUserPrincipalName is set.*change the Connect rule of tenant commercial" "$M/commercial.map")
equal "commercial: each with the remedy about the Connect rule" "$pc" "$upn_blocked"
gi=$(count_state invited "$M/gcch.map"); gb=$(count_state blocked "$M/gcch.map")
equal "gcch: every planned user invited or blocked" "$pg" "$((gi + gb))"
[ "$gi" -ge 100 ] && pass "gcch: $gi users converted" || fail "gcch: only $gi converted"
nomail=$(grep -c "the cloud user has no mail" "$M/gcch.map")
equal "gcch: the blocked ones are those without mail" "$gb" "$nomail"
counted "gcch: the mapping file's conversions" python3 - "$SIM" "$M/gcch.map" <<'PY'
import json, subprocess, sys
sim, mapf = sys.argv[1:3]
users = json.loads(subprocess.run([sys.executable, sim + "/../../../../tests/graphsim/graphsim.py"], capture_output=True).stdout or b"{}") if False else None
recs = [l.rstrip("\n").split("\t") for l in open(mapf).read().split("\n\n", 1)[1].splitlines()]
inv = [r for r in recs if r[1] == "invited"]
print(("PASS" if all(r[4] and r[10] for r in inv) else "FAIL") + " gcch: each conversion records the cloud id and the invitation id")
guests = [r for r in inv if r[2] == "external-guest"]
print(("PASS" if guests and all(r[3] == "Guest" for r in guests) else "FAIL") + " gcch: external-guest users got userType Guest (%d)" % len(guests))
PY
sim GET /_sim/gcch/users > "$OUT/gcch-users.json"
counted "gcch: Graph against the mapping file" python3 - "$OUT/gcch-users.json" "$M/gcch.map" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); users = {u["id"]: u for u in d["users"]}
recs = [l.split("\t") for l in open(sys.argv[2]).read().split("\n\n", 1)[1].splitlines()]
bad = [r[0] for r in recs if r[1] == "invited" and (users.get(r[4], {}).get("externalUserState") != "PendingAcceptance"
       or users[r[4]].get("userType") != {"external-guest": "Guest", "external-member": "Member"}[r[2]])]
print(("PASS" if not bad else "FAIL") + " gcch: Graph agrees with the mapping file (externalUserState, userType)" + ("" if not bad else ": %s" % bad[:5]))
PY
[ "$(wc -l < "$M/gcch.audit")" -ge "$pg" ] && pass "gcch: one audit entry per action" \
    || fail "gcch audit: $(wc -l < "$M/gcch.audit") lines for $pg actions"
python3 - "$M/gcch.audit" "$ndn" "$NUL_WANT" <<'PY' && pass "gcch audit: strict UTF-8 JSON lines, a displayName's NUL as U+FFFD" \
    || fail "gcch audit: not strict UTF-8 JSON, or the displayName with a NUL is not as it should be"
import json, sys
lines = open(sys.argv[1], "rb").read().decode("utf-8").splitlines()   # strict
got = {e.get("displayName") for e in map(json.loads, lines) if (e.get("dn") or "").lower() == sys.argv[2].lower()}
sys.exit(0 if got == {sys.argv[3]} else "got %r" % got)
PY
equal "nobody invited twice" 0 "$(invited_twice)"
[ "$(stat -c %a "$M/gcch.map")" = 600 ] && pass "mapping file is 0600" || fail "mode $(stat -c %a "$M/gcch.map")"
# the report shows each converted user's displayName as AD has it, the
# hostile one as text in the HTML, whose script must not run it
check "report --format json after the run" D report --tenant gcch --format json -o "$OUT/report.json"
ldap_admin ldapsearch -LLL -o ldif-wrap=no -E pr=500/noprompt -b "$AD_BASE_DN" "(objectClass=user)" \
    userPrincipalName displayName > "$OUT/ad-names.ldif"
counted "report: displayNames against AD" python3 - "$OUT/report.json" "$OUT/ad-names.ldif" "$hdn" "$HOSTILE" "$ndn" "$NUL_WANT" <<'PY'
import base64, json, sys
rep, ldif, hdn, hostile, ndn, nul_want = sys.argv[1:7]
ad, cur = {}, {}
for line in open(ldif).read().splitlines() + [""]:
    if not line:
        if cur.get("userPrincipalName"): ad[cur["userPrincipalName"].lower()] = cur.get("displayName")
        cur = {}
    elif ":: " in line:
        # AD's bytes as the report shows them: U+FFFD for a NUL, and for a
        # byte that is not UTF-8 should one ever be there (doc/report.md)
        k, v = line.split(":: ", 1); cur[k] = base64.b64decode(v).decode("utf-8", "replace").replace("\0", "\ufffd")
    elif ": " in line:
        k, v = line.split(": ", 1); cur[k] = v
accts = [a for t in json.load(open(rep))["tenants"] for a in t["accounts"]]
conv = [a for a in accts if a.get("state") in ("invited", "pending-acceptance", "accepted", "pendingAcceptance")
        or a.get("invitationId")]
named = [a for a in conv if a.get("upn") and a["upn"].lower() in ad]
ok = named and all(a.get("displayName") == ad[a["upn"].lower()] for a in named)
print(("PASS" if ok else "FAIL") + " report: every converted user's displayName is AD's (%d of %d checked)%s"
      % (len(named), len(conv), "" if ok else ": " + json.dumps([(a.get("upn"), a.get("displayName")) for a in named[:3]])))
h = [a for a in accts if (a.get("dn") or "").lower() == hdn.lower()]
print(("PASS" if h and h[0].get("displayName") == hostile else "FAIL")
      + " report: the hostile displayName comes back as it was" + ("" if h and h[0].get("displayName") == hostile
      else ": %s" % json.dumps(h[:1])))
n = [a for a in accts if (a.get("dn") or "").lower() == ndn.lower()]
print(("PASS" if n and n[0].get("displayName") == nul_want else "FAIL")
      + " report: the displayName with a NUL has U+FFFD for it, nothing cut"
      + ("" if n and n[0].get("displayName") == nul_want else ": %s" % json.dumps(n[:1])))
PY
check "report --format html after the run" D report --tenant gcch --format html -o "$OUT/report.html"
if [ ! -s "$OUT/report.html" ]; then fail "html: no report.html to look in"
elif grep -qF "$HOSTILE" "$OUT/report.html"; then fail "html: the hostile displayName is in the page unescaped"
else pass "html: the hostile displayName is not in the page as markup"; fi
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROME" ]; then
    # as test_report.sh runs it: headless, fresh profile, no network at all
    profile=$(mktemp -d "$OUT/chrome-profile.XXXXXX")
    HOME=$profile timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update --disable-sync \
        --disable-extensions --disable-default-apps --no-pings --disable-domain-reliability \
        --disable-breakpad --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="http://127.0.0.1:9" \
        --user-data-dir="$profile" --dump-dom "file://$OUT/report.html" > "$OUT/dom.html" 2>>"$OUT/chrome.err"
    rm -rf "$profile"
    grep -qF '<td class="name">&lt;script&gt;alert(1)&lt;/script&gt;</td>' "$OUT/dom.html" \
        && [ "$(grep -c '<script' "$OUT/dom.html")" = "$(grep -c '<script' "$OUT/report.html")" ] \
        && pass "chromium: the hostile displayName is shown as text, no script added" \
        || fail "chromium: hostile displayName not rendered as text: $(grep -o '<td class="name">[^<]*script[^<]*' "$OUT/dom.html" | head -2)"
else
    fail "chromium is not installed (scripts/install-deps.sh installs it)"
fi

# --- idempotent: a second run right after writes nothing (Graph's delta
# link included: it watches only what can unblock, which the conversions of
# the first run do not change)
sum1=$(md5sum "$M"/*.map "$M"/*.audit)
s2=$(log_seq)
D run > "$OUT/run2.out" 2>&1
equal "second run: no Graph write" 0 "$(writes_since "$s2")"
[ "$sum1" = "$(md5sum "$M"/*.map "$M"/*.audit)" ] && pass "second run: mapping files and audit byte-identical" \
    || fail "second run changed files"

# --- blocked users are looked up again only when their cloud user changed
# (Graph /users/delta): the second run sent gcch nothing but the delta query
equal "second run: blocked users unchanged in Graph are not looked up" "0 0" "$(lookups_since "$s2")"
grep -q '^gcch .* 1 partial$' "$OUT/run2.out" && pass "second run: one Graph request in gcch (the delta query)" \
    || fail "second run: $(grep '^gcch' "$OUT/run2.out")"
# one of them gets mail in AD, Connect exports it: looked up, and converted
bdn=$(awk -F'\t' 'f && $2 == "blocked" && index($12, "\\") == 0 { print $12; exit } /^$/ { f = 1 }' "$M/gcch.map")
bupn=$(awk -F'\t' -v d="$bdn" 'f && $12 == d { print $7 } /^$/ { f = 1 }' "$M/gcch.map")
printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: %s\n' "$bdn" "$bupn" | ldap_admin ldapmodify >/dev/null
connect gcch
s=$(log_seq)
D run --tenant gcch -v > "$OUT/run2c.out" 2>&1
printf 'dn: %s\nchangetype: modify\ndelete: mail\n' "$bdn" | ldap_admin ldapmodify >/dev/null
grep -q "^$(awk -F'\t' -v d="$bdn" 'f && $12 == d { print $1 } /^$/ { f = 1 }' "$M/gcch.map")	invited" "$M/gcch.map" \
    && grep -q "1 of 12 blocked users checked again" "$OUT/run2c.out" \
    && pass "a blocked user given mail: its change in Graph gets it checked, and converted (the 11 others not)" \
    || fail "blocked user given mail ($bupn): $(grep -i 'blocked users\|gcch' "$OUT/run2c.out" | head -5)"
connect gcch

# --- the Connect rule fixed in commercial (and the written values cleared)
sim POST /_sim/commercial/settings '{"write_onpremises_upn": false, "clear_existing_onpremises_upn": true}' >/dev/null
connect commercial
D run --max-changes 100000 > "$OUT/run3.out" 2>&1
ci=$(count_state invited "$M/commercial.map"); cb=$(count_state blocked "$M/commercial.map")
equal "commercial after the rule change: every planned user invited or blocked" "$pc" "$((ci + cb))"
[ "$ci" -gt 0 ] && ! grep -q "onPremisesUserPrincipalName is set" "$M/commercial.map" \
    && pass "commercial: $ci converted once the rule was changed" || fail "commercial: $ci converted"
equal "still nobody invited twice" 0 "$(invited_twice)"

# --- revert: a converted user whose home becomes gcch
# (a DN without backslashes: the mapping file escapes them, ldapmodify wants them raw)
uid=$(awk -F'\t' 'f && $2 == "invited" && $3 == "external-member" && index($12, "\\") == 0 { print $7; exit } /^$/ { f = 1 }' "$M/gcch.map")
anchor=$(awk -F'\t' -v u="$uid" 'f && $7 == u { print $1 } /^$/ { f = 1 }' "$M/gcch.map")
cid=$(awk -F'\t' -v u="$uid" 'f && $7 == u { print $5 } /^$/ { f = 1 }' "$M/gcch.map")
dn=$(awk -F'\t' -v u="$uid" 'f && $7 == u { print $12 } /^$/ { f = 1 }' "$M/gcch.map")
old_e1=$(ldap_admin ldapsearch -LLL -o ldif-wrap=no -b "$dn" -s base extensionAttribute1 | sed -n 's/^extensionAttribute1: //p')
restore() { printf 'dn: %s\nchangetype: modify\nreplace: extensionAttribute1\nextensionAttribute1: %s\n' "$dn" "$old_e1" | ldap_admin ldapmodify >/dev/null; }
trap 'restore; sim_stop' EXIT
printf 'dn: %s\nchangetype: modify\nreplace: extensionAttribute1\nextensionAttribute1: gcch\n' "$dn" | ldap_admin ldapmodify >/dev/null
sim POST "/_sim/gcch/redeem/$cid" '{}' >/dev/null
s=$(log_seq)
D run --tenant gcch > "$OUT/rev1.out" 2>"$OUT/rev1.err"
rc=$?
[ "$rc" = 1 ] && grep -q -- "--allow-revert" "$OUT/rev1.err" && [ "$(writes_since "$s")" = 0 ] \
    && grep -q "^$anchor	invited" "$M/gcch.map" \
    && pass "revert refused without --allow-revert (exit 1, says how, nothing written)" \
    || fail "revert without --allow-revert: exit $rc: $(cat "$OUT/rev1.err")"
s=$(log_seq)
D run --tenant gcch --allow-revert > "$OUT/rev2.out" 2>&1
grep -q "^$anchor	reverted" "$M/gcch.map" && pass "--allow-revert: the user is reverted ($uid)" \
    || fail "--allow-revert: $(grep "^$anchor" "$M/gcch.map") $(cat "$OUT/rev2.out")"
# one object among thousands: looked up by onPremisesImmutableId, no listing of the tenant
equal "a delta of one: one lookup by immutableId, no full listing" "1 0" "$(lookups_since "$s")"
restore; trap 'sim_stop' EXIT

# --- faults: 10 % 429/503 and 2 % dropped connections (half of them after the
# service did the work): every conversion done, none twice
sim POST /_sim/reset '{}' >/dev/null
sim POST /_sim/commercial/settings '{"write_onpremises_upn": false}' >/dev/null
connect commercial gcch
sim POST /_sim/faults '{"rate_429": 0.05, "rate_503": 0.05, "rate_drop": 0.01, "rate_drop_after": 0.01, "retry_after": 0.05}' >/dev/null
M2=$OUT/mappings-faults; rm -rf "$M2"
mkconvconf "$OUT/f.conf" "$M2"
# no replica lag here: an invitation dropped before the service is known
# not to have happened after a short read-back, not the default 30 s
sed -i 's/^max_changes = 500/max_changes = 500\nreplication_wait = 2/' "$OUT/f.conf"
# users looked up by immutableId (15 to a GET, in $batch: the delta's way)
# under faults, against the listing of the run without faults
s=$(log_seq)
DUALSYNC_TEST_USER_LOOKUP=filter "$DUALSYNC" -c "$OUT/f.conf" run --no-progress --max-changes 100000 \
    > "$OUT/faults.out" 2>"$OUT/faults.err"
rc=$?
set -- $(lookups_since "$s")
[ "$1" -ge $(( (pg + pc) / 15 )) ] && [ "$2" = 0 ] && pass "faults: users looked up by immutableId ($1 GETs), no listing" \
    || fail "faults: lookups by immutableId / listings: $1 / $2"
"$DUALSYNC" -c "$OUT/f.conf" run --no-progress --max-changes 100000 > "$OUT/faults2.out" 2>>"$OUT/faults.err"
sim POST /_sim/faults '{"reset": true}' >/dev/null
# HTTP-level faults carry "fault"; a fault inside a $batch is an item answered 429/503
faults=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) for e in [json.loads(l)] if e.get("fault") or (e.get("via") == "batch" and e.get("status") in (429, 503))))' "$SIM/requests.jsonl")
[ "$faults" -gt 10 ] && pass "faults injected: $faults" || fail "only $faults faults injected"
fi_=$(count_state invited "$M2/gcch.map"); fb=$(count_state blocked "$M2/gcch.map")
equal "faults: gcch: every planned user converted or blocked (no mail)" "$pg" "$((fi_ + fb))"
equal "faults: gcch: the same users converted as without faults" "$gi" "$fi_"
equal "faults: commercial: every planned user converted or blocked" "$pc" "$(( $(count_state invited "$M2/commercial.map") + $(count_state blocked "$M2/commercial.map") ))"
equal "faults: nobody invited twice" 0 "$(invited_twice)"

# --- the LDAP server drops the connection in the middle of the pull
PORT=6391
"$ROOT/tests/lab/adproxy-start.sh" "$LAB" $PORT --drop-after-entries 100 >/dev/null 2>"$OUT/proxy.err" \
    || fail "adproxy: $(cat "$OUT/proxy.err")"
sed "s|^uri = .*|uri = ldaps://127.0.0.1:$PORT|" "$OUT/f.conf" > "$OUT/p.conf"
# an AD change, so that the run would have something to do
sum1=$(stat -c '%n %s %y' "$M2"/*; md5sum "$M2"/*)
s=$(log_seq)
"$DUALSYNC" -c "$OUT/p.conf" run --no-progress --full > "$OUT/drop.out" 2>"$OUT/drop.err"
rc=$?
"$ROOT/tests/lab/adproxy-stop.sh" "$LAB" $PORT >/dev/null 2>&1
[ "$rc" = 3 ] && grep -q "was lost after" "$OUT/drop.err" && pass "LDAP dropped mid-pull: exit 3, the loss named" \
    || fail "LDAP dropped mid-pull: exit $rc: $(head -c 300 "$OUT/drop.err")"
[ "$sum1" = "$(stat -c '%n %s %y' "$M2"/*; md5sum "$M2"/*)" ] && pass "LDAP dropped mid-pull: mapping files byte-identical" \
    || fail "LDAP dropped mid-pull: files changed"
equal "LDAP dropped mid-pull: no Graph request" 0 "$(writes_since "$s")"
printf 'dn: %s\nchangetype: modify\nreplace: displayName\n%s\n' "$ndn" "$nul_old" \
    | ldap_admin ldapmodify >/dev/null || fail "could not restore the displayName of $ndn"
finish
