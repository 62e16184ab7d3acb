#!/bin/bash
# Delta pulls: a watermark after a full pull, then only what changed — new,
# modified, moved out of scope, and deleted objects (tombstones through the
# show-deleted control). Works in its own OU so that it can run on any lab.
. "$(dirname "$0")/lib.sh"
T="OU=dualsync-delta-$$,$AD_BASE_DN"
user() {  # name → LDIF of an enabled user under $T
    cat <<LDIF
dn: CN=$1,$T
objectClass: user
sAMAccountName: d$$-$1
userPrincipalName: d$$-$1@contoso.example
mail: d$$-$1@contoso.example
department: Before
userAccountControl: 512

LDIF
}
O="OU=dualsync-delta-out-$$,$AD_BASE_DN"
cleanup() { ldap_admin ldapdelete -r "$T" >/dev/null 2>&1; ldap_admin ldapdelete -r "$O" >/dev/null 2>&1; }
cleanup
{ printf 'dn: %s\nobjectClass: organizationalUnit\n\n' "$T"
  printf 'dn: OU=Excluded,%s\nobjectClass: organizationalUnit\n\n' "$T"
  user alpha; user bravo; user charlie; } > "$OUT/add.ldif"
check "set up a test OU with three users" ldap_admin ldapadd -f "$OUT/add.ldif"

WM="$OUT/delta.wm"
rm -f "$WM"
mkconf "$OUT/delta.conf" "base_dn = $T" "exclude_ou = OU=Excluded,$T" "classes = user" "watermark_file = $WM"
check "first pull is full and saves a watermark" "$DUALSYNC" -c "$OUT/delta.conf" pull --format ndjson
equal "first pull: three users" 3 "$(wc -l < "$OUT/last.out")"
grep -Eq '^usn:[0-9a-f-]{36}:[0-9]+$' "$WM" && pass "watermark is usn:<invocationId>:<usn>" || fail "watermark: $(cat "$WM")"
[ "$(stat -c %a "$WM")" = 600 ] && pass "watermark file is 0600" || fail "watermark mode $(stat -c %a "$WM")"

check "second pull right after" "$DUALSYNC" -c "$OUT/delta.conf" pull
grep -q '^pull: delta, 0 objects' "$OUT/last.out" && pass "nothing changed: a delta of 0 objects" \
    || fail "second pull: $(head -1 "$OUT/last.out")"

# change: bravo modified, charlie deleted, delta added, alpha moved out of scope
printf 'dn: CN=bravo,%s\nchangetype: modify\nreplace: department\ndepartment: After\n' "$T" > "$OUT/mod.ldif"
check "modify bravo" ldap_admin ldapmodify -f "$OUT/mod.ldif"
check "delete charlie" ldap_admin ldapdelete "CN=charlie,$T"
user delta > "$OUT/add2.ldif"
check "add delta" ldap_admin ldapadd -f "$OUT/add2.ldif"
printf 'dn: CN=alpha,%s\nchangetype: modrdn\nnewrdn: CN=alpha\ndeleteoldrdn: 1\nnewsuperior: OU=Excluded,%s\n' "$T" "$T" > "$OUT/move.ldif"
check "move alpha into the excluded OU" ldap_admin ldapmodify -f "$OUT/move.ldif"
before=$(cat "$WM")
check "delta pull" "$DUALSYNC" -c "$OUT/delta.conf" pull --format ndjson
cp "$OUT/last.out" "$OUT/delta.ndjson"
python3 - "$OUT/delta.ndjson" "$$" > "$OUT/cmp" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for o in objs:
    name = o["dn"].split(",")[0][3:].split("\n")[0].split("\\0A")[0]
    by[name] = o
def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
check("delta has exactly the 4 changed objects", len(objs) == 4, f"got {[o['dn'] for o in objs]}")
b = by.get("bravo")
check("modified user comes with its new value", b is not None and b["attributes"].get("department") == "After" and b["inScope"])
d = by.get("delta")
check("new user is in the delta", d is not None and d["inScope"] and not d["deleted"])
c = [o for o in objs if o["deleted"]]
check("deleted user comes as a tombstone with lastKnownParent", len(c) == 1 and "charlie" in c[0]["dn"]
      and c[0]["lastKnownParent"].lower().startswith("ou=dualsync-delta"), f"{c}")
a = by.get("alpha")
check("user moved to an excluded OU comes with inScope false", a is not None and not a["inScope"], f"{a and a['dn']}")
PY
cat "$OUT/cmp"; pass_n=$((pass_n + $(grep -c '^PASS' "$OUT/cmp"))); fail_n=$((fail_n + $(grep -c '^FAIL' "$OUT/cmp")))
[ "$(cat "$WM")" != "$before" ] && pass "watermark moved on" || fail "watermark did not move"
check "delta summary" "$DUALSYNC" -c "$OUT/delta.conf" pull
grep -q '^pull: delta, 0 objects' "$OUT/last.out" && pass "and then nothing again" || fail "$(head -1 "$OUT/last.out")"

check "pull --full ignores the watermark" "$DUALSYNC" -c "$OUT/delta.conf" pull --full
grep -q '^pull: full' "$OUT/last.out" && grep -q '^  users  *2 ' "$OUT/last.out" \
    && pass "full pull: bravo and delta (alpha excluded, charlie gone)" || fail "$(cat "$OUT/last.out")"

# beyond the OU scope: the filter, a move out of the base DN, an OU renamed
WM2="$OUT/delta2.wm"; rm -f "$WM2"
mkconf "$OUT/delta2.conf" "base_dn = $T" "exclude_ou = OU=Excluded,$T" "classes = user" \
    "filter = (department=Before)" "watermark_file = $WM2"
"$DUALSYNC" -c "$OUT/delta2.conf" pull >/dev/null 2>&1
printf 'dn: %s\nobjectClass: organizationalUnit\n\n' "$O" | ldap_admin ldapadd >/dev/null   # a new OU: no full pull
printf 'dn: CN=delta,%s\nchangetype: modify\nreplace: department\ndepartment: After\n' "$T" | ldap_admin ldapmodify >/dev/null
check "a user no longer matching the filter" "$DUALSYNC" -c "$OUT/delta2.conf" pull --format ndjson
python3 -c 'import json,sys; o=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(not (len(o) == 1 and "CN=delta," in o[0]["dn"] and not o[0]["inScope"]))' "$OUT/last.out" \
    && pass "a user no longer matching the filter comes with inScope false" || fail "filter leaver: $(cat "$OUT/last.out")"
printf 'dn: CN=bravo,%s\nchangetype: modrdn\nnewrdn: CN=bravo\ndeleteoldrdn: 1\nnewsuperior: %s\n' "$T" "$O" | ldap_admin ldapmodify >/dev/null
check "a user moved out of the base DN" "$DUALSYNC" -c "$OUT/delta.conf" pull --format ndjson
python3 -c 'import json,sys; o=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(not any(x["dn"].startswith("CN=bravo,OU=dualsync-delta-out") and not x["inScope"] for x in o))' "$OUT/last.out" \
    && pass "a user moved out of the base DN comes with inScope false" || fail "moved out of the base: $(cat "$OUT/last.out")"
printf 'dn: OU=Excluded,%s\nchangetype: modrdn\nnewrdn: OU=Excluded2\ndeleteoldrdn: 1\n' "$T" | ldap_admin ldapmodify >/dev/null
check "an OU renamed" "$DUALSYNC" -c "$OUT/delta.conf" pull
grep -q '^pull: full' "$OUT/last.out" && pass "an OU renamed: a full pull (its objects moved without changing)" \
    || fail "OU renamed: $(head -1 "$OUT/last.out")"

echo garbage > "$WM"
cp "$WM" "$OUT/wm.before"
refuses "a corrupt watermark file is refused with file:line" 2 "$WM:1: not a dualsync watermark" \
    "$DUALSYNC" -c "$OUT/delta.conf" pull
cmp -s "$WM" "$OUT/wm.before" && pass "corrupt watermark left untouched" || fail "watermark rewritten"
cleanup
finish
