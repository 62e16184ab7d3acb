#!/bin/bash
# dualsync check --connect-config: Entra Connect's exported configuration
# (tests/fixtures/connect, in the format Get-ADSyncServerConfiguration
# writes) judged for the GCC High tenant of doc/examples/defense-contractor.conf
# against the real lab AD. Every count is what the seed's manifest implies:
# the out-of-box rules write onPremisesUserPrincipalName for every user
# dualsync converts; the rule of scripts/New-DualsyncConnectRule.ps1 clears it
# for all of them; userType flowed, an OU filter that leaves out OU=GB, an
# objectGUID anchor each block whom they should; a damaged file and an
# unknown version are refused with file and line.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FX=$ROOT/tests/fixtures/connect
B=$AD_BASE_DN

mkconf "$OUT/defense.conf" "base_dn = OU=Contoso,$B" "base_dn = OU=Contoso Defense,$B"
for f in commercial.crt commercial.key gcch.crt gcch.key; do
    printf 'not a real key\n' > "$OUT/$f"; chmod 600 "$OUT/$f"
done
sed -n '/^\[tenant commercial\]/,$p' "$ROOT/doc/examples/defense-contractor.conf" | sed "s|/etc/dualsync/|$OUT/|" \
    >> "$OUT/defense.conf"

# the committed fixtures are what their generator writes
rm -rf "$OUT/fx"
python3 "$FX/make-fixtures.py" "$OUT/fx"
if diff -r -x make-fixtures.py "$OUT/fx" "$FX" > "$OUT/fx.diff"; then pass "fixtures are what make-fixtures.py writes"
else fail "fixtures differ from make-fixtures.py's output: $(head -c 400 "$OUT/fx.diff")"; fi

# who GCC High converts, by the example's rules (as test_plan.sh computes them)
read -r CONVERTED GB STRAY NOMAIL < <(python3 - "$LAB/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
def home(u, t):
    e1, upn = u["extensionAttribute1"], u["userPrincipalName"]
    suffix = {"commercial": "@contoso.example", "gcch": "@fabrikam-defense.example"}[t]
    return e1 == t or (e1 is None and upn.lower().endswith(suffix))
conv = [u for u in m["users"] if not home(u, "gcch") and home(u, "commercial") and not u["disabled"]]
gb = [u for u in conv if u["dn"].lower().endswith(",ou=gb,ou=contoso," + m["base_dn"].lower())]
# the seed's mS-DS-ConsistencyGuid values are random: set means it differs from objectGUID
stray = [u for u in conv if u["has_consistency_guid"]]
print(len(conv), len(gb), len(stray), sum(1 for u in conv if not u["mail"]))
PY
)
[ "${CONVERTED:-0}" -gt 0 ] && [ "${GB:-0}" -gt 0 ] || fail "the lab has no users for this test: $CONVERTED converted, $GB in OU=GB"

judge() {   # judge FIXTURE: exit code in $rc, output in $OUT/last.out
    "$DUALSYNC" -c "$OUT/defense.conf" check --tenant gcch --connect-config "$FX/$1" --no-progress \
        >"$OUT/last.out" 2>"$OUT/last.err"
    rc=$?
    cp "$OUT/last.out" "$OUT/$1.out"
}
has() {     # has NAME TEXT: the last output says TEXT
    if grep -qF -- "$2" "$OUT/last.out"; then pass "$1"
    else fail "$1: no '$2' in: $(head -c 1500 "$OUT/last.out") $(head -c 300 "$OUT/last.err")"; fi
}

judge out-of-box
equal "out-of-box: exit 1 (blocked)" 1 "$rc"
has "out-of-box: onPremisesUserPrincipalName written for every converted user" \
    "Connect writes it for $CONVERTED and leaves it empty for 0"
has "out-of-box: the eight out-of-box rules, each with its count" \
    "'Out to AAD - User OfficeProPlus' (precedence 147, scope: sourceObjectType EQUAL User AND cloudMastered NOTEQUAL True): covers $CONVERTED"
has "out-of-box: the remedy names the script and the attribute that marks the converted" \
    "New-DualsyncConnectRule.ps1 -ScopeGroup 'extensionAttribute1 EQUAL commercial'"
has "out-of-box: the verdict" "connect gcch: blocked: 1 finding stops conversion"

judge with-rule
equal "with-rule: exit 0" 0 "$rc"
has "with-rule: empty for every converted user" "Connect writes it for 0 and leaves it empty for $CONVERTED"
has "with-rule: the script's rule decides the metaverse value for all of them" \
    "'In from AD - User dualsync no onPremisesUserPrincipalName' (precedence 90, scope: (extensionAttribute1 EQUAL commercial) OR (extensionAttribute1 ISNULL AND userPrincipalName ENDSWITH @contoso.example)): covers $CONVERTED, decides it for $CONVERTED"
has "with-rule: ready" "connect gcch: ready for dualsync"
has "with-rule: users without mail in AD are named, not blamed on Connect" \
    "note    mail (in AD): $NOMAIL of the users"

has "with-rule: which tenant it exports to, and that the config alone cannot tell whether it is gcch's" \
    "note    tenant: the Entra connector 'fabrikamdefense.onmicrosoft.us - AAD' ($FX/with-rule/Connectors/Connector_{b891884f-051e-4a83-95af-2544101c9083}.xml:16, UserName Sync_CONNECT-GCCH_5c2d9e1a7b30@fabrikamdefense.onmicrosoft.us) exports to fabrikamdefense.onmicrosoft.us (its UserName); gcch's cloud (usgov-high) gives such initial domains (*.onmicrosoft.us), but whether it is gcch's own only its verified domains can tell, and they were not read (Graph is not asked with --connect-config)"

# one Connect server per tenant: the GCC High server's export named for the
# commercial tenant is a warning (its domain is of another cloud), with
# the section, the file, the domain and the remedy; the exit code is the
# rules' (1: they block for commercial's users), not raised by the warning
"$DUALSYNC" -c "$OUT/defense.conf" check --tenant commercial --connect-config "$FX/with-rule" --no-progress \
    >"$OUT/last.out" 2>"$OUT/last.err"
rc=$?
cp "$OUT/last.out" "$OUT/commercial-with-rule.out"
equal "another tenant's export: exit 1 (its rules), not more" 1 "$rc"
has "another tenant's export: a warning naming section, file and domain" \
    "WARNING tenant: the Entra connector 'fabrikamdefense.onmicrosoft.us - AAD' ($FX/with-rule/Connectors/Connector_{b891884f-051e-4a83-95af-2544101c9083}.xml:16, UserName Sync_CONNECT-GCCH_5c2d9e1a7b30@fabrikamdefense.onmicrosoft.us) exports to fabrikamdefense.onmicrosoft.us (its UserName), an initial domain of the US Government cloud (*.onmicrosoft.us), but [tenant commercial] is in global"
has "another tenant's export: the remedy" \
    "remedy: point connect_config of [tenant commercial] at the export of commercial's own Connect server"
has "another tenant's export: counted" "connect commercial: 1 warning above"

judge two-entra
has "two Entra connectors: each named, with its domain and file" \
    "WARNING tenant: the export has 2 Entra connectors: 'contosocorp.onmicrosoft.com - AAD' (contosocorp.onmicrosoft.com, $FX/two-entra/Connectors/Connector_{3a6e0c1f-92d4-4b7a-8f15-c0d9e2b4a6f7}.xml), 'fabrikamdefense.onmicrosoft.us - AAD' (fabrikamdefense.onmicrosoft.us, $FX/two-entra/Connectors/Connector_{b891884f-051e-4a83-95af-2544101c9083}.xml)"

judge outbound-null
equal "outbound-null: exit 0 (an outbound AuthoritativeNull clears it too)" 0 "$rc"
has "outbound-null: with a note on its record" "note    Out to AAD - User no onPremisesUserPrincipalName: an outbound rule (precedence 91)"

judge usertype
equal "usertype: exit 1" 1 "$rc"
has "usertype: Connect overwrites userType for every converted user" \
    "Connect writes userType over the one dualsync sets for $CONVERTED of the $CONVERTED"
has "usertype: the inbound rule that feeds it" "fed by inbound rule 'In from AD - User UserType'"

judge ou-filter
equal "ou-filter: exit 1" 1 "$rc"
has "ou-filter: the users in OU=GB are never exported" "it never exports $GB (e.g. "
has "ou-filter: the exclusion inside dualsync's scope" \
    "OU=GB,OU=Contoso,$B (excluded inside dualsync's base OU=Contoso,$B)"

judge objectguid
equal "objectguid: exit 1" 1 "$rc"
has "objectguid: users whose mS-DS-ConsistencyGuid differs from objectGUID" \
    "$STRAY of the $CONVERTED users dualsync converts in gcch have one that differs from objectGUID"

judge staging
equal "staging: exit 1" 1 "$rc"
has "staging: said, with file and line" "BLOCKED staging mode: this server is in staging mode ($FX/staging/GlobalSettings/MV.xml:"

refuses "damaged: refused with file and line" 2 \
    "damaged/SynchronizationRules/SynchronizationRule_{5e0d1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b}.xml:21: damaged export file" \
    "$DUALSYNC" -c "$OUT/defense.conf" check --tenant gcch --connect-config "$FX/damaged" --no-progress
refuses "unknown version: refused with file and line" 2 \
    "unknown-version/GlobalSettings/MV.xml:21: Connect server configuration version 3.0.1.0 is not one dualsync knows" \
    "$DUALSYNC" -c "$OUT/defense.conf" check --tenant gcch --connect-config "$FX/unknown-version" --no-progress
refuses "not an export: named" 2 "no Connectors folder" \
    "$DUALSYNC" -c "$OUT/defense.conf" check --tenant gcch --connect-config "$OUT" --no-progress
refuses "--ad-snapshot: a copy that is not there is said, and nothing counted" 3 \
    "--ad-snapshot $OUT/none.snapshot: no copy of AD kept" \
    "$DUALSYNC" -c "$OUT/defense.conf" check --tenant gcch --connect-config "$FX/with-rule" \
    --ad-snapshot "$OUT/none.snapshot" --no-progress
refuses "--connect-config needs one tenant" 2 "say which tenant with --tenant" \
    "$DUALSYNC" -c "$OUT/defense.conf" check --connect-config "$FX/with-rule" --no-progress
finish
