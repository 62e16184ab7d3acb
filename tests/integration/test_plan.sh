#!/bin/bash
# dualsync plan and explain against the real Samba AD lab, with the rules of
# doc/examples/defense-contractor.conf (Commercial + GCC High): the counts per
# tenant must be what the seed's manifest implies, and explain must show a US
# person and a non-US person ending up differently in GCC High, with why.
. "$(dirname "$0")/lib.sh"
B=$AD_BASE_DN
EXAMPLE=$(dirname "$0")/../../doc/examples/defense-contractor.conf

# the example's tenants, verbatim but for the credential paths (0600 files here)
mkconf "$OUT/defense.conf" "base_dn = OU=Contoso,$B" "base_dn = OU=Contoso Defense,$B"
for f in commercial.crt commercial.key gcch.crt gcch.key; do
    printf 'not a real key\n' > "$OUT/$f"; chmod 600 "$OUT/$f"
done
sed -n '/^\[tenant commercial\]/,$p' "$EXAMPLE" | sed "s|/etc/dualsync/|$OUT/|" >> "$OUT/defense.conf"

# --- what the manifest implies, by the example's rules
python3 - "$LAB/manifest.json" > "$OUT/expected" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
def home(u, t):
    e1, upn = u["extensionAttribute1"], u["userPrincipalName"]
    suffix = {"commercial": "@contoso.example", "gcch": "@fabrikam-defense.example"}[t]
    return e1 == t or (e1 is None and upn.lower().endswith(suffix))
def decide(u, t):
    if home(u, t): return "member"
    if not home(u, "commercial") and not home(u, "gcch"): return "exclude"
    if u["disabled"]: return "exclude"
    if t == "commercial": return "external-member" if home(u, "gcch") else "exclude"
    return "external-member" if u["extensionAttribute2"] == "us-person" else "external-guest"
for t in ("commercial", "gcch"):
    d = {k: 0 for k in ("member", "external-member", "external-guest", "contact", "exclude")}
    for u in m["users"]:
        d[decide(u, t)] += 1
    d["contact"] += m["counts"]["contact"]
    d["exclude"] += m["counts"]["group"]
    objects = m["counts"]["user"] + m["counts"]["contact"] + m["counts"]["group"]
    convert = d["external-member"] + d["external-guest"]   # every user has a UPN to invite
    print(t, objects, *d.values(), convert)
PY

check "plan (table) with the defense-contractor rules" "$DUALSYNC" -c "$OUT/defense.conf" plan --no-progress
cp "$OUT/last.out" "$OUT/plan.txt"
check "plan --format json" "$DUALSYNC" -c "$OUT/defense.conf" plan --format json --no-progress
cp "$OUT/last.out" "$OUT/plan.json"
python3 - "$OUT/plan.json" > "$OUT/got" <<'PY' || fail "plan --format json is not JSON: $(head -c 300 "$OUT/plan.json")"
import json, sys
p = json.load(open(sys.argv[1]))
for t in p["tenants"]:
    c = t["counts"]
    print(t["tenant"], c["objects"], *c["decisions"].values(), c["actions"]["convert"])
PY
while read -r tenant objects member em eg contact exclude convert; do
    read -r _ g_objects g_member g_em g_eg g_contact g_exclude g_convert \
        < <(grep "^$tenant " "$OUT/got")
    equal "$tenant: objects read" "$objects" "${g_objects:-}"
    equal "$tenant: member (home tenant)" "$member" "${g_member:-}"
    equal "$tenant: external-member" "$em" "${g_em:-}"
    equal "$tenant: external-guest" "$eg" "${g_eg:-}"
    equal "$tenant: contact" "$contact" "${g_contact:-}"
    equal "$tenant: exclude" "$exclude" "${g_exclude:-}"
    equal "$tenant: convert actions" "$convert" "${g_convert:-}"
    # the table says the same
    grep -q "^  decisions: member $member, external-member $em, external-guest $eg, contact $contact, exclude $exclude$" \
        <(sed -n "/^  tenant $tenant:/,+1p" "$OUT/plan.txt") \
        && pass "$tenant: table counts" || fail "$tenant: table counts: $(grep -A1 "^  tenant $tenant:" "$OUT/plan.txt")"
done < "$OUT/expected"
gcch_convert=$(awk '$1=="gcch"{print $8}' "$OUT/expected")
grep -q "changes exceed max_changes 500" "$OUT/plan.txt" && [ "$gcch_convert" -gt 500 ] \
    && pass "plan warns that the changes exceed max_changes" || fail "no max_changes warning"

check "plan --tenant gcch --format csv" "$DUALSYNC" -c "$OUT/defense.conf" plan --tenant gcch --format csv --no-progress
equal "csv: one row per gcch action, plus the header" "$((gcch_convert + 1))" "$(python3 -c '
import csv, sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))))' "$OUT/last.out")"
grep -q '^commercial,' "$OUT/last.out" && fail "csv --tenant gcch has commercial rows" || pass "csv holds gcch only"

# --- against a mapping file: plan reads the tenant's records and writes nothing
mkdir -p "$OUT/mappings"
megan=$(manifest "m['named_users']['us_person_abroad']['immutable_id']")
lukas=$(manifest "m['named_users']['non_us_user']['immutable_id']")
T=$(printf '\t')
{
    printf 'dualsync-map 1\nTenant gcch\nTenantId 2b7c4e91-0d3a-4c5f-9e8b-7a6d5c4b3a21\n'
    printf 'Cloud usgov-high\nGeneration 1\nRecords 3\n\n'
    # Megan is a US person: external-member now, recorded as a Guest
    printf '%s\n' "$megan${T}accepted${T}external-guest${T}Guest${T}11111111-1111-4111-8111-111111111111${T}${T}megan.brooks@contoso.example${T}d.conf:52${T}2026-01-01T00:00:00Z${T}2026-01-02T00:00:00Z${T}${T}${T}"
    # Lukas is what the rules say already
    printf '%s\n' "$lukas${T}accepted${T}external-guest${T}Guest${T}22222222-2222-4222-8222-222222222222${T}${T}lukas.becker@contoso.example${T}d.conf:52${T}2026-01-01T00:00:00Z${T}2026-01-02T00:00:00Z${T}${T}${T}"
    # somebody who left AD
    printf '%s\n' "AAAAAAAAAAAAAAAAAAAAAA==${T}invited${T}external-guest${T}Guest${T}33333333-3333-4333-8333-333333333333${T}${T}leaver@contoso.example${T}d.conf:52${T}2026-01-01T00:00:00Z${T}2026-01-02T00:00:00Z${T}${T}CN=Leaver,OU=GB,OU=Contoso,$B${T}"
} > "$OUT/mappings/gcch.map"
chmod 600 "$OUT/mappings/gcch.map"
before=$(dir_state "$OUT/mappings")
check "plan --tenant gcch with a mapping file" "$DUALSYNC" -c "$OUT/defense.conf" plan --tenant gcch --format json --no-progress
python3 - "$OUT/last.out" "$megan" "$gcch_convert" <<'PY' > "$OUT/cmp"
import json, sys
p = json.load(open(sys.argv[1])); t = p["tenants"][0]; a = t["actions"]; c = t["counts"]["actions"]
def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
m = [x for x in a if x["immutableId"] == sys.argv[2]]
check("mapping: a recorded Guest who should be a Member gets set-usertype",
      len(m) == 1 and m[0]["action"] == "set-usertype" and m[0]["userType"] == "Member"
      and m[0]["state"] == "accepted", json.dumps(m))
gone = [x for x in a if x["immutableId"] == "AAAAAAAAAAAAAAAAAAAAAA=="]
check("mapping: a record whose object left AD is forgotten",
      len(gone) == 1 and gone[0]["action"] == "forget" and "no longer read from AD" in gone[0]["reason"],
      json.dumps(gone))
want = int(sys.argv[3]) - 2
check("mapping: the two recorded users are not converted again (%d converts)" % want,
      c["convert"] == want and c["set-usertype"] == 1 and c["forget"] == 1, json.dumps(c))
PY
cat "$OUT/cmp"; pass_n=$((pass_n + $(grep -c '^PASS' "$OUT/cmp"))); fail_n=$((fail_n + $(grep -c '^FAIL' "$OUT/cmp")))
after=$(dir_state "$OUT/mappings")
[ "$before" = "$after" ] && pass "plan wrote nothing: no lock, no journal, no file for commercial" \
    || fail "plan changed $OUT/mappings: $(ls -la "$OUT/mappings")"
sed 's/^TenantId .*/TenantId 00000000-0000-4000-8000-000000000000/' "$OUT/mappings/gcch.map" > "$OUT/other.map"
mv "$OUT/other.map" "$OUT/mappings/gcch.map"; chmod 600 "$OUT/mappings/gcch.map"
refuses "a mapping file of another tenant id is refused, the tenant stopped" 3 "this tenant is not planned" \
    "$DUALSYNC" -c "$OUT/defense.conf" plan --tenant gcch --no-progress
rm -f "$OUT/mappings/gcch.map"

# --- explain: a US person and a non-US person in GCC High
named() { manifest "m['named_users']['$1']['$2']"; }
explain_json() {  # USER → JSON on stdout
    "$DUALSYNC" -c "$OUT/defense.conf" explain "$1" --format json --no-progress
}
tenant_field() {  # FILE TENANT FIELD
    python3 -c "import json,sys; d=json.load(open(sys.argv[1]))
print([t for t in d['tenants'] if t['tenant']==sys.argv[2]][0][sys.argv[3]])" "$@"
}
us=$(named us_user sAMAccountName); non_us=$(named non_us_user userPrincipalName)
explain_json "$us" > "$OUT/us.json" && pass "explain $us (sAMAccountName)" || fail "explain $us"
explain_json "$non_us" > "$OUT/non_us.json" && pass "explain $non_us (UPN)" || fail "explain $non_us"
equal "US person ($us) in gcch" external-member "$(tenant_field "$OUT/us.json" gcch decision)"
equal "non-US person ($non_us) in gcch" external-guest "$(tenant_field "$OUT/non_us.json" gcch decision)"
equal "US person in commercial (home)" member "$(tenant_field "$OUT/us.json" commercial decision)"
equal "non-US person: userType in gcch" Guest "$(tenant_field "$OUT/non_us.json" gcch userType)"
python3 - "$OUT/us.json" "$OUT/non_us.json" <<'PY' > "$OUT/cmp"
import json, sys
us, non = (json.load(open(f)) for f in sys.argv[1:3])
def gcch(d): return [t for t in d["tenants"] if t["tenant"] == "gcch"][0]
def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
u, n = gcch(us), gcch(non)
fired_u, fired_n = u["trace"][-1], n["trace"][-1]
check("US person: the rule that fired reads the US-person flag",
      fired_u["matched"] and "extensionAttribute2" in fired_u["text"]
      and 'extensionAttribute2 is "us-person"' in fired_u["reads"], json.dumps(fired_u))
flag = [r for r in n["trace"] if "extensionAttribute2" in r["text"]]
check("non-US person: the flag rule was tried and read non-us-person",
      len(flag) == 1 and not flag[0]["matched"] and '"non-us-person"' in flag[0]["reads"], json.dumps(n["trace"]))
check("non-US person: decided by the later guest rule",
      fired_n["matched"] and fired_n["text"].endswith("-> external-guest"), json.dumps(fired_n))
check("both: not at home in gcch, and the trace says why", not u["home"] and not n["home"]
      and "home_when of commercial" in json.dumps(u["trace"]), json.dumps(u["trace"][:3]))
check("both: a conversion is planned in gcch", u["action"] == "convert" and n["action"] == "convert")
PY
cat "$OUT/cmp"; pass_n=$((pass_n + $(grep -c '^PASS' "$OUT/cmp"))); fail_n=$((fail_n + $(grep -c '^FAIL' "$OUT/cmp")))

# the flag, not the office, decides: a US person abroad, a non-US person in the US
abroad=$(named us_person_abroad dn)
explain_json "$abroad" > "$OUT/abroad.json" && pass "explain by DN" || fail "explain by DN: $abroad"
equal "US person in an office abroad: gcch" external-member "$(tenant_field "$OUT/abroad.json" gcch decision)"
rajesh=$(named non_us_person_in_us dn)
guid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['objectGUID'])" \
    <("$DUALSYNC" -c "$OUT/defense.conf" explain "$rajesh" --format json --no-progress))
explain_json "$guid" > "$OUT/rajesh.json" && pass "explain by objectGUID" || fail "explain by objectGUID $guid"
equal "non-US person in a US office of Contoso Defense: gcch (home)" member "$(tenant_field "$OUT/rajesh.json" gcch decision)"
equal "... and commercial" external-member "$(tenant_field "$OUT/rajesh.json" commercial decision)"

check "explain in text" "$DUALSYNC" -c "$OUT/defense.conf" explain "$us" --no-progress
grep -q '^  => external-member (userType Member) by rule 6' "$OUT/last.out" \
    && grep -q 'extensionAttribute2 = us-person: yes (extensionAttribute2 is "us-person")' "$OUT/last.out" \
    && pass "text explain names the rule and what it read" || fail "text explain: $(cat "$OUT/last.out")"

# --- bad input: clear errors, nothing runs
refuses "explain of nobody" 2 "nothing in scope matches 'nobody.at.all'" \
    "$DUALSYNC" -c "$OUT/defense.conf" explain nobody.at.all --no-progress
refuses "plan --tenant that does not exist" 2 "no [tenant gcc]" \
    "$DUALSYNC" -c "$OUT/defense.conf" plan --tenant gcc
sed 's/^rule = extensionAttribute2 = us-person -> external-member$/rule = extensionAttribute2 = us-person -> external-membr/' \
    "$OUT/defense.conf" > "$OUT/bad.conf"
line=$(grep -n 'external-membr' "$OUT/bad.conf" | cut -d: -f1)
refuses "a bad rule is reported with file:line:column, before LDAP is touched" 2 \
    "$OUT/bad.conf:$line:43: 'external-membr' is not an outcome" "$DUALSYNC" -c "$OUT/bad.conf" plan

# hostile input (issue 15): refused at load, exit 2, before LDAP is touched
sed 's/^rule = extensionAttribute2 = us-person -> external-member$/rule = displayName matches '"'"'(.*){1,32000}[bc]'"'"' -> exclude/' \
    "$OUT/defense.conf" > "$OUT/regex.conf"
line=$(grep -n '32000' "$OUT/regex.conf" | cut -d: -f1)
refuses "a regex that would exhaust the machine is refused at its count" 2 \
    "$OUT/regex.conf:$line:36: the repetition count 32000 is larger than 100" \
    "$DUALSYNC" -c "$OUT/regex.conf" plan --no-progress
cp "$AD_PW_FILE" "$OUT/group.pw"; chmod 640 "$OUT/group.pw"
mkconf "$OUT/grouppw.conf" "bind = simple" "bind_dn = $AD_BIND_UPN" "password_file = $OUT/group.pw"
line=$(grep -n '^password_file' "$OUT/grouppw.conf" | cut -d: -f1)
refuses "a password_file the group can read is refused at load, exit 2" 2 \
    "$OUT/grouppw.conf:$line: password_file $OUT/group.pw is readable by group or others (mode 0640); run: chmod 600 $OUT/group.pw" \
    "$DUALSYNC" -c "$OUT/grouppw.conf" plan --no-progress

# a DN far beyond inih's 200-byte line (a deep OU tree) reads as any other
long="OU=Nowhere"; while [ ${#long} -lt 1000 ]; do long="$long,OU=Level ${#long} of a deep tree"; done
sed "s|^\[tenant commercial\]|exclude_ou = $long,OU=Contoso,$B\n\n[tenant commercial]|" \
    "$OUT/defense.conf" > "$OUT/long.conf"
check "a 1,000-character exclude_ou is read, and plan runs" "$DUALSYNC" -c "$OUT/long.conf" plan --no-progress
mkconf "$OUT/overlap.conf" "base_dn = OU=Contoso,$B" "base_dn = OU=GB, ou=contoso,$B"
refuses "a base_dn inside another is refused at load, exit 2" 2 \
    "$OUT/overlap.conf:$(grep -n '^base_dn = OU=GB' "$OUT/overlap.conf" | cut -d: -f1): base_dn OU=GB, ou=contoso,$B lies inside the base_dn of line" \
    "$DUALSYNC" -c "$OUT/overlap.conf" plan --no-progress

# terminal escape injection (issue 15): whoever can edit a user in AD chooses
# its bytes. A displayName and a UPN with ESC, an OSC that retitles the
# terminal, a CSI that clears it, the C1 CSI (U+009B) and a right-to-left
# override reach the terminal only as visible escapes; JSON keeps them exact.
# A file name is bytes, not necessarily UTF-8, and plan and explain print the
# config's path: their JSON must still parse (RFC 8259 asks for UTF-8), such
# a byte written as U+FFFD, as the report and pull write it.
badpath=$OUT/$'bad\xffname.conf'
cp "$OUT/defense.conf" "$badpath"
utf8_json_fffd() {  # NAME FILE: valid UTF-8 JSON that holds U+FFFD
    python3 - "$2" <<'PY' && pass "$1" || fail "$1: $(head -c 300 "$2" | cat -v)"
import json, sys
text = open(sys.argv[1], "rb").read().decode("utf-8")
json.loads(text)
sys.exit(0 if "bad\ufffdname.conf" in text else "no U+FFFD")
PY
}
check "plan --format json with a config path that is not UTF-8" \
    "$DUALSYNC" -c "$badpath" plan --tenant gcch --format json --no-progress
utf8_json_fffd "plan --format json: a byte that is not UTF-8 becomes U+FFFD" "$OUT/last.out"
check "explain --format json with a config path that is not UTF-8" \
    "$DUALSYNC" -c "$badpath" explain "$us" --format json --no-progress
utf8_json_fffd "explain --format json: a byte that is not UTF-8 becomes U+FFFD" "$OUT/last.out"
rm -f "$badpath"

# Samba refuses controls in a DN, not a right-to-left override: the user's OU
# has one, for the DN in explain and the containers of pull's summary.
hostile_ou=$'OU=Evil\xe2\x80\xaegpj.exe,'"OU=Contoso,$B"
hostile_dn="CN=Hostile Fifteen,$hostile_ou"
hostile_name=$'Evil\e]0;pwned\a\e[2J\xc2\x9bX\xe2\x80\xaeRLO'
hostile_upn=$'hostile15\e[2J@fabrikam-defense.example'
# and one whose UPN a spreadsheet would run as a formula (OWASP CSV injection)
formula_dn="CN=Formula Fifteen,$hostile_ou"
formula_upn="=cmd|' /C calc'!A0@fabrikam-defense.example"
b64() { printf '%s' "$1" | base64 -w0; }
printf 'dn:: %s\nchangetype: delete\n\ndn:: %s\nchangetype: delete\n\ndn:: %s\nchangetype: delete\n' \
    "$(b64 "$hostile_dn")" "$(b64 "$formula_dn")" "$(b64 "$hostile_ou")" \
    | ldap_admin ldapmodify -c >/dev/null 2>&1
printf 'dn:: %s\nchangetype: add\nobjectClass: organizationalUnit\n' "$(b64 "$hostile_ou")" \
    | ldap_admin ldapmodify >/dev/null || fail "cannot add $hostile_ou to the lab"
# extensionAttribute2 (a rule reads it) has a NUL byte inside: LDAP values
# are counted and Samba keeps it; the reader must not cut the value there
# but read U+FFFD in its place and warn (doc/report.md)
nul_tail="after NUL"
printf 'dn:: %s\nchangetype: add\nobjectClass: user\nsAMAccountName: hostile15\nuserPrincipalName:: %s\ndisplayName:: %s\nextensionAttribute2:: %s\nunicodePwd:: %s\nuserAccountControl: 512\n' \
    "$(b64 "$hostile_dn")" "$(b64 "$hostile_upn")" "$(b64 "$hostile_name")" \
    "$(printf '%s\0%s' "$hostile_name" "$nul_tail" | base64 -w0)" \
    "$(printf '"Hostile-15-Pass!"' | iconv -t UTF-16LE | base64 -w0)" | ldap_admin ldapmodify >/dev/null \
    || fail "cannot add $hostile_dn to the lab"
printf 'dn:: %s\nchangetype: add\nobjectClass: user\nsAMAccountName: formula15\nuserPrincipalName:: %s\nunicodePwd:: %s\nuserAccountControl: 512\n' \
    "$(b64 "$formula_dn")" "$(b64 "$formula_upn")" \
    "$(printf '"Formula-15-Pass!"' | iconv -t UTF-16LE | base64 -w0)" | ldap_admin ldapmodify >/dev/null \
    || fail "cannot add $formula_dn to the lab"
# a rule that reads displayName, so that explain shows it
sed 's/^rule = home gcch -> external-member$/rule = displayName = nobody-at-all -> exclude\n&/' \
    "$OUT/defense.conf" > "$OUT/hostile.conf"
terminal_safe() {  # NAME FILE: valid UTF-8 without C0 (but LF), DEL, C1 or bidi controls
    python3 - "$2" <<'PY' && pass "$1" || fail "$1: $(cat -v "$2" | grep -a -i -m3 'hostile\|evil')"
import re, sys
try:
    t = open(sys.argv[1], "rb").read().decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit("not UTF-8: %s" % e)
bad = re.findall("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", t)
sys.exit("controls: %r" % bad if bad else 0)
PY
}
check "plan (table) with a hostile user" "$DUALSYNC" -c "$OUT/hostile.conf" plan --no-progress
cp "$OUT/last.out" "$OUT/hostile-plan.txt"
nul_warning="warning: $hostile_dn: extensionAttribute2: a value holds a NUL byte (U+0000)"
nul_warned() {  # NAME FILE: the warning, its DN as term_safe shows it
    grep -qF "${nul_warning/$'\xe2\x80\xae'/\\u202e}" "$2" && pass "$1" || fail "$1: $(grep -a -m2 -i 'nul\|warning' "$2")"
}
nul_warned "plan warns of the NUL byte in extensionAttribute2, naming the user's DN" "$OUT/last.err"
grep -qF 'hostile15\e[2J@fabrikam-defense.example' "$OUT/hostile-plan.txt" \
    && pass "plan shows the hostile UPN's ESC as \\e" || fail "plan: no hostile15\\e[2J in $OUT/hostile-plan.txt"
terminal_safe "plan (table) prints no raw ESC, C1 or bidi control" "$OUT/hostile-plan.txt"
check "explain of a hostile user" "$DUALSYNC" -c "$OUT/hostile.conf" explain hostile15 --no-progress
cp "$OUT/last.out" "$OUT/hostile-explain.txt"
grep -qF '"Evil\e]0;pwned\x07\e[2J\u009bX\u202eRLO"' "$OUT/hostile-explain.txt" \
    && pass "explain shows the hostile displayName's controls as escapes" \
    || fail "explain: the escaped displayName is not in $OUT/hostile-explain.txt"
terminal_safe "explain prints no raw ESC, C1 or bidi control" "$OUT/hostile-explain.txt"
grep -qF "RLO"$'\xef\xbf\xbd'"$nul_tail\"" "$OUT/hostile-explain.txt" \
    && pass "explain shows the NUL byte as U+FFFD, and the value after it" \
    || fail "explain: extensionAttribute2 is cut at its NUL: $(grep -a -m1 extensionAttribute2 "$OUT/hostile-explain.txt")"
check "explain --full reads AD again" "$DUALSYNC" -c "$OUT/hostile.conf" explain hostile15 --full --no-progress
nul_warned "explain --full warns of the NUL byte again" "$OUT/last.err"
check "pull --format ndjson with a hostile user" "$DUALSYNC" -c "$OUT/hostile.conf" pull --full --format ndjson --no-progress
python3 - "$OUT/last.out" "$hostile_name" "$nul_tail" <<'PY' && pass "pull --format ndjson: strict UTF-8 JSON, the NUL byte as U+FFFD, nothing cut" \
    || fail "pull --format ndjson: the value with a NUL byte is not as it should be"
import json, sys
lines = open(sys.argv[1], "rb").read().decode("utf-8").splitlines()   # strict
objs = [json.loads(l) for l in lines]
got = [o["attributes"]["extensionAttribute2"] for o in objs if o["attributes"].get("sAMAccountName") == "hostile15"]
want = sys.argv[2] + "\ufffd" + sys.argv[3]
sys.exit(0 if got == [want] else "got %r, want %r" % (got, want))
PY
grep -qF 'CN=Hostile Fifteen,OU=Evil\u202egpj.exe,OU=Contoso' "$OUT/hostile-explain.txt" \
    && pass "explain shows the DN's U+202E as \\u202e" || fail "explain: the escaped DN is not in $OUT/hostile-explain.txt"
check "pull (summary) with a hostile OU" "$DUALSYNC" -c "$OUT/hostile.conf" pull --no-progress
cp "$OUT/last.out" "$OUT/hostile-pull.txt"
grep -qF ' OU=Evil\u202egpj.exe,OU=Contoso' "$OUT/hostile-pull.txt" \
    && pass "pull's summary shows the container's U+202E as \\u202e" \
    || fail "pull: the escaped container DN is not in $OUT/hostile-pull.txt"
terminal_safe "pull's summary prints no raw ESC, C1 or bidi control" "$OUT/hostile-pull.txt"
check "plan --format json with a hostile user" "$DUALSYNC" -c "$OUT/hostile.conf" plan --format json --no-progress
python3 - "$OUT/last.out" "$hostile_upn" <<'PY' && pass "plan --format json keeps the hostile UPN exact" \
    || fail "plan --format json: the hostile UPN is not kept exact"
import json, sys
want = sys.argv[2]
doc = json.load(open(sys.argv[1], encoding="utf-8"))
got = [a["userPrincipalName"] for t in doc["tenants"] for a in t["actions"]
       if a.get("sAMAccountName") == "hostile15"]
sys.exit(0 if got and all(g == want for g in got) else "got %r" % got)
PY
"$DUALSYNC" -c "$OUT/hostile.conf" explain hostile15 --format json --no-progress > "$OUT/hostile-explain.json"
python3 - "$OUT/hostile-explain.json" "$hostile_name" <<'PY' && pass "explain --format json keeps the hostile displayName exact" \
    || fail "explain --format json: the hostile displayName is not kept exact"
import json, sys
want = sys.argv[2]
doc = json.load(open(sys.argv[1], encoding="utf-8"))
reads = [r["reads"] for t in doc["tenants"] for r in t["trace"]]
sys.exit(0 if any('"%s"' % want in r for r in reads) else "reads %r" % reads)
PY
check "plan --format csv with a hostile user" "$DUALSYNC" -c "$OUT/hostile.conf" plan --format csv --no-progress
python3 - "$OUT/last.out" "$hostile_upn" <<'PY' && pass "plan --format csv keeps the hostile UPN exact, in a quoted cell" \
    || fail "plan --format csv: the hostile UPN is not kept exact and quoted"
import csv, sys
want = sys.argv[2]
text = open(sys.argv[1], encoding="utf-8", newline="").read()
rows = [r for r in csv.DictReader(text.splitlines()) if r["sAMAccountName"] == "hostile15"]
ok = rows and all(r["userPrincipalName"] == want for r in rows) and (',"%s",' % want) in text
sys.exit(0 if ok else "rows %r" % rows)
PY
# the same defence as `report --format csv` (report_csv.c): a leading
# apostrophe on a cell a spreadsheet would run, and CRLF records (RFC 4180)
python3 - "$OUT/last.out" "$formula_upn" <<'PY' && pass "plan --format csv neutralises a formula UPN with an apostrophe" \
    || fail "plan --format csv: the formula UPN is written as it is"
import csv, io, sys
want = "'" + sys.argv[2]
rows = [r for r in csv.DictReader(io.open(sys.argv[1], encoding="utf-8", newline=""))
        if r["sAMAccountName"] == "formula15"]
sys.exit(0 if rows and all(r["userPrincipalName"] == want for r in rows) else "rows %r" % rows)
PY
python3 - "$OUT/last.out" <<'PY' && pass "plan --format csv ends every record with CRLF" \
    || fail "plan --format csv: a record does not end with CRLF"
import sys
text = open(sys.argv[1], "rb").read()
sys.exit(0 if text.endswith(b"\r\n") and text.count(b"\n") == text.count(b"\r\n") else "LF without CR")
PY
printf 'dn:: %s\nchangetype: delete\n\ndn:: %s\nchangetype: delete\n\ndn:: %s\nchangetype: delete\n' \
    "$(b64 "$hostile_dn")" "$(b64 "$formula_dn")" "$(b64 "$hostile_ou")" \
    | ldap_admin ldapmodify >/dev/null || fail "cannot delete $hostile_dn, $formula_dn and their OU from the lab"

finish
