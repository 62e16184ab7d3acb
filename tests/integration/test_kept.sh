#!/bin/bash
# The copy of AD kept between runs (MAPPINGS_DIR/ad.snapshot): after a first
# full read, each run reads only what changed (a USN delta) and applies it to
# the copy. Under DUALSYNC_TEST_KEPT_VERIFY every delta run also reads AD in
# full and compares: the kept copy must equal it after each kind of change —
# modified, new, deleted, renamed within the scope (its group memberships
# follow the new DN), moved out of the base DN, removed from and added to a
# group the rules name, nested; a manager deleted (inside and outside the
# scope), renamed, moved within and out of the scope (its reports' manager
# values follow it, as AD's links do, with no change to the reports); a
# manager outside the scope renamed makes a full read; memberOf naming a
# group outside the copy follows that group's changes. With classes = user,
# a contact as manager deleted, a group's members changed, a group deleted
# are followed too, and a contact as manager or a group renamed makes a
# full read. Changes no delta can see exactly make a full read (a group the
# rules name changed outside the scope; an OU renamed; a schema the bind
# account cannot read), and so does a damaged or stale copy. A dry run
# leaves the copy alone.
# Works in its own OU under the Contoso Defense base.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/convert_lib.sh"
sim_start "$OUT/sim" || { fail "graphsim: $(cat "$OUT/sim/start.err")"; finish; exit 1; }
D_BASE="OU=Contoso Defense,$AD_BASE_DN"
T="OU=dualsync-kept-$$,$D_BASE"
O="OU=dualsync-kept-out-$$,$AD_BASE_DN"     # outside the base DNs
cleanup() { ldap_admin ldapdelete -r "$T" >/dev/null 2>&1; ldap_admin ldapdelete -r "$O" >/dev/null 2>&1; }
trap 'cleanup; sim_stop; "$(dirname "$0")/../lab/adproxy-stop.sh" "$LAB" 6370 >/dev/null 2>&1' EXIT
cleanup
user() {  # NAME OU → LDIF of an enabled user, at home in commercial, a US person
    cat <<LDIF
dn: CN=$1,$2
objectClass: user
sAMAccountName: k$$-$1
userPrincipalName: k$$-$1@fabrikam-defense.example
mail: k$$-$1@fabrikam-defense.example
extensionAttribute1: commercial
extensionAttribute2: non-us-person
userAccountControl: 512

LDIF
}
report() {  # NAME OU MANAGER-DN → a user with that manager, one the manager rule reads
    user "$1" "$2" | sed -e '/^$/d'
    printf 'manager: %s\nextensionAttribute3: managed\n\n' "$3"
}
group() {  # NAME OU MEMBER-DN...
    local n=$1 ou=$2; shift 2
    printf 'dn: CN=%s,%s\nobjectClass: group\nsAMAccountName: k%s-%s\n' "$n" "$ou" "$$" "$n"
    for m in "$@"; do printf 'member: %s\n' "$m"; done
    echo
}
{ printf 'dn: %s\nobjectClass: organizationalUnit\n\n' "$T"
  printf 'dn: %s\nobjectClass: organizationalUnit\n\n' "$O"
  printf 'dn: OU=US,%s\nobjectClass: organizationalUnit\n\n' "$T"
  printf 'dn: OU=UK,%s\nobjectClass: organizationalUnit\n\n' "$T"
  for u in u1 u2 u3 u4 u5 u6; do user $u "OU=US,$T"; done
  # managers: b1 of three, b2 and b6 (outside the base DN) of one, b3 b4 b5 of one each
  for b in b1 b3 b4 b5; do user $b "OU=US,$T"; done
  user b2 "$O"
  for r in r1 r2 r3; do report $r "OU=US,$T" "CN=b1,OU=US,$T"; done
  # secretary: a DN attribute without a link (AD shows a deleted target's
  # tombstone there), read through [ldap] attributes
  printf 'dn: CN=r2,OU=US,%s\nchangetype: modify\nadd: secretary\nsecretary: CN=b1,OU=US,%s\nsecretary: CN=b3,OU=US,%s\n\n' "$T" "$T" "$T" > "$OUT/secretary.ldif"
  report r4 "OU=US,$T" "CN=b2,$O"
  report r5 "OU=US,$T" "CN=b3,OU=US,$T"
  report r6 "OU=US,$T" "CN=b4,OU=US,$T"
  report r7 "OU=US,$T" "CN=b5,OU=US,$T"
  user b6 "$O"
  report r8 "OU=US,$T" "CN=b6,$O"
  group Team "$T" "CN=u1,OU=US,$T" "CN=u5,OU=US,$T"
  group Outside "$O" "CN=u2,OU=US,$T"
  group Cleared "$T" "CN=Team,$T" "CN=Outside,$O"
  # to be deleted and reanimated: b7, a secretary of s1 (no link); b8, the
  # manager of r9 (a link)
  user b7 "OU=US,$T"; user b8 "OU=US,$T"
  report r9 "OU=US,$T" "CN=b8,OU=US,$T"
  user s1 "OU=US,$T" | sed -e '/^$/d'; printf 'secretary: CN=b7,OU=US,%s\n\n' "$T"
  # groups no rule names: one outside the base DN, one inside it
  group Other "$O"
  group Team2 "$T" "CN=u2,OU=US,$T"
  # for a scope of users only (round 7): contacts as managers, groups of
  # users; for an unreadable schema (round 8): s2's secretary outside the
  # base DN
  for c in c1 c2; do printf 'dn: CN=%s,OU=US,%s\nobjectClass: contact\nmail: k%s-%s@partner.example\n\n' "$c" "$T" "$$" "$c"; done
  report r10 "OU=US,$T" "CN=c1,OU=US,$T"
  report r11 "OU=US,$T" "CN=c2,OU=US,$T"
  user u8 "OU=US,$T"; user u9 "OU=US,$T"
  group G3 "$T" "CN=u8,OU=US,$T"
  group G4 "$T" "CN=u8,OU=US,$T"
  user b9 "$O"
  user s2 "OU=US,$T" | sed -e '/^$/d'; printf 'secretary: CN=b9,%s\n\n' "$O"
} > "$OUT/setup.ldif"
check "set up an OU with users, managers and nested groups (one outside the base)" \
    ldap_admin ldapadd -c -f "$OUT/setup.ldif"
check "r2's secretary: b1 and b3" ldap_admin ldapmodify -f "$OUT/secretary.ldif"

M=$OUT/mappings
rm -rf "$M"
mkconvconf "$OUT/k.conf" "$M"
# the scope is the test OU; in gcch, the members of Cleared (nested) are
# external members whatever their citizenship flag says
sed -i -e '/^base_dn = /d' -e '/^filter = /d' "$OUT/k.conf"
sed -i "s|^\[ldap\]|[ldap]\nbase_dn = $T\nattributes = secretary|" "$OUT/k.conf"
sed -i "/^\[tenant gcch\]/,\$ s|^rule = extensionAttribute2 = us-person -> external-member|rule = extensionAttribute3 = managed and not has manager -> exclude\nrule = memberof \"CN=Cleared,$T\" -> external-member\n&|" "$OUT/k.conf"
K=$M/ad.snapshot
CONF=$OUT/k.conf
run() { DUALSYNC_TEST_KEPT_VERIFY=1 "$DUALSYNC" -c "$CONF" run --no-progress --max-changes 1000 -v \
    > "$OUT/last.out" 2>&1; }
verified() { grep -q "DUALSYNC_TEST_KEPT_VERIFY: the kept copy of AD equals a full read" "$OUT/last.out"; }
delta_run() { grep -q "AD: the kept copy and a delta" "$OUT/last.out"; }
full_run() { grep -q "AD: read in full" "$OUT/last.out"; }
decision() {  # USER → its decision in gcch's mapping file
    awk -F'\t' -v u="k$$-$1@fabrikam-defense.example" 'f && $7 == u { print $3 } /^$/ { f = 1 }' "$M/gcch.map"
}
ldif() { ldap_admin ldapmodify -f /dev/stdin >/dev/null; }

run
full_run && [ -f "$K" ] && pass "first run: AD read in full, the copy kept in ad.snapshot" \
    || fail "first run: $(tail -5 "$OUT/last.out")"
[ "$(stat -c %a "$K" 2>/dev/null)" = 600 ] && pass "ad.snapshot is 0600" || fail "mode $(stat -c %a "$K")"
equal "u1 (in Team, in Cleared) is an external member in gcch" external-member "$(decision u1)"
equal "u2 (in Outside, out of scope, in Cleared) is an external member" external-member "$(decision u2)"
equal "u6 (in no group) is an external guest" external-guest "$(decision u6)"

run
delta_run && verified && pass "a run with nothing changed: a delta, equal to a full read" \
    || fail "nothing changed: $(grep -i 'AD:\|VERIFY' "$OUT/last.out")"
grep -q "the schema: the kept attributes of DN syntax are .*manager (linked)" "$OUT/last.out" \
    && grep -q "the schema: the kept attributes of DN syntax are .*secretary[,]*$\|secretary," "$OUT/last.out" \
    && pass "the DN attributes come from the schema: $(sed -n 's/.*of DN syntax are //p' "$OUT/last.out")" \
    || fail "schema: $(grep -i 'schema' "$OUT/last.out")"

# round 1: modified, new, deleted, renamed (a member of Team), group changes
ldif <<LDIF
dn: CN=u3,OU=US,$T
changetype: modify
replace: extensionAttribute2
extensionAttribute2: us-person

dn: CN=u5,OU=US,$T
changetype: modrdn
newrdn: CN=u5
deleteoldrdn: 1
newsuperior: OU=UK,$T

dn: CN=Team,$T
changetype: modify
delete: member
member: CN=u1,OU=US,$T
-
add: member
member: CN=u6,OU=US,$T
LDIF
user u7 "OU=UK,$T" | ldap_admin ldapadd >/dev/null
ldap_admin ldapdelete "CN=u4,OU=US,$T"
run
delta_run && verified && pass "modified, new, deleted, moved, group members changed: the delta equals a full read" \
    || fail "round 1: $(grep -i 'AD:\|VERIFY\|error' "$OUT/last.out")"
equal "u1 left Team: an external guest now" external-guest "$(decision u1)"
equal "u6 joined Team: an external member now" external-member "$(decision u6)"
equal "u5 moved to OU=UK: still in Team through its new DN" external-member "$(decision u5)"
equal "u3 became a US person: an external member" external-member "$(decision u3)"
equal "u7, new: an external guest" external-guest "$(decision u7)"
equal "u4, deleted: gone" gone "$(awk -F'\t' -v u="k$$-u4@fabrikam-defense.example" 'f && $7 == u { print $2 } /^$/ { f = 1 }' "$M/gcch.map")"

# round 2: moved out of the base DN; a member of Team deleted
ldap_admin ldapdelete "CN=u6,OU=US,$T"
ldif <<LDIF
dn: CN=u3,OU=US,$T
changetype: modrdn
newrdn: CN=u3
deleteoldrdn: 1
newsuperior: $O
LDIF
run
delta_run && verified && pass "a user moved out of the base DN, a group member deleted: the delta equals a full read" \
    || fail "round 2: $(grep -i 'AD:\|VERIFY\|error' "$OUT/last.out")"
grep -q "u3,OU=US" "$K" && fail "u3 still kept" || pass "u3 is no longer kept"

# round 2b: managers deleted. AD (Samba 4.17 as well) removes a deleted
# object's manager links from its reports and leaves their uSNChanged alone
equal "r1 (managed by b1) is an external guest" external-guest "$(decision r1)"
ldap_admin ldapdelete "CN=b1,OU=US,$T"
ldap_admin ldapdelete "CN=b2,$O"
run
delta_run && verified && pass "a manager of three deleted (and a secretary), one outside the base DN: the delta equals a full read" \
    || fail "round 2b: $(grep -i 'AD:\|VERIFY\|error' "$OUT/last.out")"
"$DUALSYNC" -c "$OUT/k.conf" explain --tenant gcch "k$$-r1@fabrikam-defense.example" > "$OUT/explain.out" 2>&1
grep -q "CN=b1" "$OUT/explain.out" && fail "explain r1 still names the deleted manager" \
    || pass "explain r1 no longer names the deleted manager"
grep -q "=> exclude" "$OUT/explain.out" && pass "r1, its manager deleted: excluded (not has manager)" \
    || fail "r1 not excluded: $(grep '=>' "$OUT/explain.out")"

# round 2c: managers renamed, moved within the scope, moved out of the base
# DN: their reports' manager values follow (AD shows the new DN, the
# reports' uSNChanged unchanged)
ldif <<LDIF
dn: CN=b3,OU=US,$T
changetype: modrdn
newrdn: CN=b3-renamed
deleteoldrdn: 1

dn: CN=b4,OU=US,$T
changetype: modrdn
newrdn: CN=b4
deleteoldrdn: 1
newsuperior: OU=UK,$T

dn: CN=b5,OU=US,$T
changetype: modrdn
newrdn: CN=b5
deleteoldrdn: 1
newsuperior: $O
LDIF
run
delta_run && verified && pass "managers renamed, moved, moved out of the base DN: the delta equals a full read" \
    || fail "round 2c: $(grep -i 'AD:\|VERIFY\|error' "$OUT/last.out")"

# round 2d: a manager outside the scope, never in the copy, renamed: its
# old DN is in no delta, so the run finds its report's manager value gone
# from AD and reads AD in full
ldif <<LDIF
dn: CN=b6,$O
changetype: modrdn
newrdn: CN=b6-renamed
deleteoldrdn: 1
LDIF
run
full_run && grep -q "CN=b6,$O, named in the kept copy of AD, is not there any more" "$OUT/last.out" \
    && pass "a manager outside the scope renamed: named, AD read in full" \
    || fail "round 2d: $(grep -i 'AD:\|VERIFY\|error\|named' "$OUT/last.out")"
run
delta_run && verified && pass "and a delta again after it" || fail "after round 2d: $(grep -i 'AD:\|VERIFY' "$OUT/last.out")"

# round 3: a group the rules name, outside the scope, changed: a full read
ldif <<LDIF
dn: CN=Outside,$O
changetype: modify
add: member
member: CN=u7,OU=UK,$T
LDIF
run
full_run && grep -q "a group the rules name changed outside the scope" "$OUT/last.out" \
    && pass "a group of the rules changed outside the scope: AD read in full" \
    || fail "round 3: $(grep -i 'AD:\|group' "$OUT/last.out")"
equal "u7 joined Outside (nested in Cleared): an external member" external-member "$(decision u7)"

# round 3b: that group deleted: its members left Cleared, no trace in a delta
ldap_admin ldapdelete "CN=Outside,$O"
run
full_run && grep -q "a group the rules name changed outside the scope" "$OUT/last.out" \
    && pass "a group outside the scope deleted: AD read in full" \
    || fail "round 3b: $(grep -i 'AD:\|group' "$OUT/last.out")"
equal "u7 left Cleared with Outside: an external guest again" external-guest "$(decision u7)"

# round 4: an OU renamed moves its users without changing them: a full read
ldif <<LDIF
dn: OU=UK,$T
changetype: modrdn
newrdn: OU=GB
deleteoldrdn: 1
LDIF
run
full_run && grep -q "OU=GB,$T changed since the last pull" "$OUT/last.out" \
    && pass "an OU renamed: AD read in full" || fail "round 4: $(grep -i 'AD:\|changed' "$OUT/last.out")"
run
delta_run && verified && pass "and a delta again after it" || fail "after round 4: $(grep -i 'AD:\|VERIFY' "$OUT/last.out")"

# round 5: memberOf of kept objects naming groups outside the copy. A
# group outside the scope gains a kept member: the member's memberOf
# changes, its uSNChanged does not
ldif <<LDIF
dn: CN=Other,$O
changetype: modify
add: member
member: CN=u7,OU=GB,$T
LDIF
run
delta_run && verified && pass "a group outside the scope gained a kept member: the delta equals a full read" \
    || fail "round 5: $(grep -i 'AD:\|VERIFY\|error' "$OUT/last.out")"
# a group of the copy loses a member and leaves the scope in one delta:
# the member's memberOf naming it, unused while the group was kept, must
# be right once it is not (found by tests/campaign, seed 1)
ldif <<LDIF
dn: CN=Team2,$T
changetype: modify
delete: member
member: CN=u2,OU=US,$T

dn: CN=Team2,$T
changetype: modrdn
newrdn: CN=Team2
deleteoldrdn: 1
newsuperior: $O
LDIF
run
delta_run && verified && pass "a group lost a member and left the scope: the delta equals a full read" \
    || fail "round 5b: $(grep -i 'AD:\|VERIFY\|error' "$OUT/last.out")"

# round 6: deleted objects reanimated (MS-ADTS 3.1.1.5.3.7.3; Samba 4.17
# does it: the object comes back with its objectGUID and objectSid, without
# its links). A value without a link names the tombstone while the object
# is deleted, and the object again, at its new DN, once it is back; the
# referring object's uSNChanged stays
reanimate() {  # sAMAccountName NEW-DN
    local t
    t=$(ldap_admin ldapsearch -LLL -o ldif_wrap=no -E '!1.2.840.113556.1.4.417' -s one \
        -b "CN=Deleted Objects,$AD_BASE_DN" "(sAMAccountName=$1)" 1.1 | sed -n 's/^dn: //p')
    printf 'dn: %s\ncontrol: 1.2.840.113556.1.4.417 true\nchangetype: modify\ndelete: isDeleted\n-\nreplace: distinguishedName\ndistinguishedName: %s\n-\n' \
        "$t" "$2" | ldap_admin ldapmodify >/dev/null
}
ldap_admin ldapdelete "CN=b7,OU=US,$T"
run
delta_run && verified && pass "s1's secretary deleted: a delta, equal to a full read" \
    || fail "round 6: $(grep -i 'AD:\|VERIFY\|error\|in full' "$OUT/last.out")"
check "b7 reanimated as b7-back" reanimate "k$$-b7" "CN=b7-back,OU=US,$T"
run
delta_run && verified && pass "s1's secretary reanimated elsewhere: the delta equals a full read" \
    || fail "round 6 (reanimated): $(grep -i 'AD:\|VERIFY\|error' "$OUT/last.out")"
# deleted and reanimated between two runs: AD dropped r9's manager link
# at the deletion, and the reanimation brings it not back; no delta shows
# when it was deleted, so the run reads AD in full
ldap_admin ldapdelete "CN=b8,OU=US,$T"
check "b8 deleted and reanimated where it was" reanimate "k$$-b8" "CN=b8,OU=US,$T"
run
full_run && grep -q "CN=b8,OU=US,$T was deleted and reanimated" "$OUT/last.out" \
    && pass "r9's manager deleted and reanimated: named, AD read in full" \
    || fail "round 6b: $(grep -i 'AD:\|VERIFY\|error\|reanimated' "$OUT/last.out")"
"$DUALSYNC" -c "$OUT/k.conf" explain --tenant gcch "k$$-r9@fabrikam-defense.example" > "$OUT/explain.out" 2>&1
grep -q "=> exclude" "$OUT/explain.out" && pass "r9 lost its manager with the deletion: excluded (not has manager)" \
    || fail "r9 not excluded: $(grep '=>' "$OUT/explain.out")"

# round 7: [ldap] classes = user, a copy of its own. Contacts and groups
# lie outside the copy's classes, yet a kept user names them: AD drops a
# deleted contact from its reports' manager, changes a group's members'
# memberOf, and follows a rename in both, and none of it raises the kept
# users' uSNChanged
CONF=$OUT/k-users.conf
sed -e "s|^mappings_dir = .*|mappings_dir = $OUT/mappings-users|" -e "s|^\[ldap\]|[ldap]\nclasses = user|" \
    "$OUT/k.conf" > "$CONF"
run
full_run && pass "classes = user: a copy of its own, read in full" || fail "round 7: $(tail -5 "$OUT/last.out")"
ldap_admin ldapdelete "CN=c1,OU=US,$T"
run
delta_run && verified && pass "classes = user: a contact that is r10's manager deleted: the delta equals a full read" \
    || fail "round 7 (contact deleted): $(grep -i 'AD:\|VERIFY\|error\|in full' "$OUT/last.out")"
"$DUALSYNC" -c "$CONF" explain --tenant gcch "k$$-r10@fabrikam-defense.example" > "$OUT/explain.out" 2>&1
grep -q "=> exclude" "$OUT/explain.out" && pass "r10, its manager (a contact) deleted: excluded (not has manager)" \
    || fail "r10 not excluded: $(grep '=>' "$OUT/explain.out")"
ldif <<LDIF
dn: CN=G3,$T
changetype: modify
add: member
member: CN=u9,OU=US,$T
-
delete: member
member: CN=u8,OU=US,$T
LDIF
run
delta_run && verified && pass "classes = user: a group's members changed: memberOf follows, the delta equals a full read" \
    || fail "round 7 (members): $(grep -i 'AD:\|VERIFY\|error\|in full' "$OUT/last.out")"
ldap_admin ldapdelete "CN=G4,$T"
run
delta_run && verified && pass "classes = user: a group of u8 deleted: the delta equals a full read" \
    || fail "round 7 (group deleted): $(grep -i 'AD:\|VERIFY\|error\|in full' "$OUT/last.out")"
# a rename outside the copy brings no old DN
ldif <<LDIF
dn: CN=G3,$T
changetype: modrdn
newrdn: CN=G3-renamed
deleteoldrdn: 1
LDIF
run
full_run && grep -q "CN=G3,$T, named in the kept copy of AD, is not there any more" "$OUT/last.out" \
    && pass "classes = user: a group of u9 renamed: named, AD read in full" \
    || fail "round 7 (group renamed): $(grep -i 'AD:\|VERIFY\|error\|named' "$OUT/last.out")"
ldif <<LDIF
dn: CN=c2,OU=US,$T
changetype: modrdn
newrdn: CN=c2-renamed
deleteoldrdn: 1
LDIF
run
full_run && grep -q "CN=c2,OU=US,$T, named in the kept copy of AD, is not there any more" "$OUT/last.out" \
    && pass "classes = user: a contact that is r11's manager renamed: named, AD read in full" \
    || fail "round 7 (contact renamed): $(grep -i 'AD:\|VERIFY\|error\|named' "$OUT/last.out")"
run
delta_run && verified && pass "and a delta again after it" || fail "after round 7: $(grep -i 'AD:\|VERIFY' "$OUT/last.out")"
CONF=$OUT/k.conf

# round 8: a schema the bind account cannot read (tests/lab/adproxy.py
# refuses or hides CN=Schema): which kept attributes hold DNs is then
# unknown, and s2's secretary (no link), outside the base DN, renamed,
# would stay stale in a delta; the run reads AD in full and says why
proxy() { "$(dirname "$0")/../lab/adproxy-start.sh" "$LAB" 6370 "$@" >/dev/null 2>"$OUT/proxy.err" \
    || fail "start adproxy $*: $(cat "$OUT/proxy.err")"; }
sed -e "s|^uri = .*|uri = ldaps://127.0.0.1:6370|" "$OUT/k.conf" > "$OUT/k-proxy.conf"
b9=b9
for how in deny hide; do
    proxy --$how-base "CN=Schema,"
    ldif <<LDIF
dn: CN=$b9,$O
changetype: modrdn
newrdn: CN=b9-$how
deleteoldrdn: 1
LDIF
    b9=b9-$how
    CONF=$OUT/k-proxy.conf run
    full_run && grep -q "the schema.*reading AD in full" "$OUT/last.out" \
        && pass "a schema the bind account cannot read ($how), s2's secretary renamed outside: named, AD read in full" \
        || fail "round 8 ($how): $(grep -i 'AD:\|VERIFY\|error\|schema' "$OUT/last.out")"
    "$(dirname "$0")/../lab/adproxy-stop.sh" "$LAB" 6370 >/dev/null 2>&1
done
run
delta_run && verified && pass "the schema readable again: a delta" || fail "after round 8: $(grep -i 'AD:\|VERIFY' "$OUT/last.out")"

# a dry run reads the copy and leaves it alone
sum=$(md5sum < "$K")
ldif <<LDIF
dn: CN=u2,OU=US,$T
changetype: modify
replace: extensionAttribute2
extensionAttribute2: us-person
LDIF
"$DUALSYNC" -c "$OUT/k.conf" run --dry-run --no-progress -v > "$OUT/last.out" 2>&1
delta_run && [ "$sum" = "$(md5sum < "$K")" ] && pass "--dry-run: a delta, and ad.snapshot untouched" \
    || fail "dry run: $(grep -i 'AD:' "$OUT/last.out")"

# a damaged copy: a warning, a full read, and a good copy again
python3 - "$K" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0xff
open(sys.argv[1], "wb").write(bytes(b))
PY
run
full_run && grep -q "ad.snapshot is damaged (its checksum does not match" "$OUT/last.out" \
    && pass "a damaged copy: named, AD read in full" || fail "damaged: $(grep -i 'AD:\|damaged' "$OUT/last.out")"
run
delta_run && verified && pass "the copy was rewritten: a delta again" || fail "after damage: $(grep -i 'AD:' "$OUT/last.out")"
echo "not a snapshot" > "$K"
run
full_run && grep -q "not a dualsync snapshot" "$OUT/last.out" && pass "a file that is no snapshot: named, AD read in full" \
    || fail "garbage: $(grep -i 'AD:\|snapshot' "$OUT/last.out")"

# the rules read another attribute: the copy lacks it, so AD is read in full
sed -i "/^\[tenant gcch\]/,\$ s|^rule = class user -> external-guest|rule = department = Kept-Test -> exclude\n&|" "$OUT/k.conf"
run
full_run && pass "the rules read another attribute: AD read in full" || fail "fingerprint: $(grep -i 'AD:' "$OUT/last.out")"
run
delta_run && verified && pass "then deltas again" || fail "after the rule change: $(grep -i 'AD:' "$OUT/last.out")"

# --full ignores the copy
"$DUALSYNC" -c "$OUT/k.conf" run --full --no-progress -v > "$OUT/last.out" 2>&1
full_run && pass "run --full reads AD in full" || fail "--full: $(grep -i 'AD:' "$OUT/last.out")"
finish
