#!/bin/bash
# Check the running, seeded lab AD and the AD-limits proxy with ldapsearch.
#
#   tests/lab/lab-selftest.sh [PREFIX]       default /tmp/dualsync-lab
#
# Every TLS connection verifies the server against the lab CA (LDAPTLS_REQCERT=demand).
# Starts adproxy on ports $AD_SELFTEST_PORT (default 6390) and +1, stops them at the end.
# Prints one PASS/FAIL line per check, then 'N passed, N failed'; exits 1 on any failure.
set -u   # no -e/pipefail: a failing command is a FAIL line, not an abort
LAB_TAG=selftest
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
lab_prefix "${1:-}"
[ -f "$PREFIX/env.sh" ] || die "no $PREFIX/env.sh; run tests/lab/ad-start.sh $PREFIX"
[ -f "$PREFIX/manifest.json" ] || die "no $PREFIX/manifest.json; run tests/lab/ad-seed.sh $PREFIX"
. "$PREFIX/env.sh"
export LDAPTLS_REQCERT=demand LDAPTLS_CACERT=$AD_CA_FILE
M=$PREFIX/manifest.json
B=$AD_BASE_DN
PORT=${AD_SELFTEST_PORT:-6390}
FPORT=$((PORT + 1))
PX=ldaps://127.0.0.1:$PORT
FX=ldaps://127.0.0.1:$FPORT
T=$(mktemp -d)
export KRB5CCNAME=FILE:$T/krb5cc
cleanup() {
    "$LAB_DIR/adproxy-stop.sh" "$PREFIX" "$PORT" >/dev/null 2>&1
    "$LAB_DIR/adproxy-stop.sh" "$PREFIX" "$FPORT" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT

pass=0 fail=0
ok()  { echo "PASS $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@" > "$T/check.out" 2>&1; then ok "$name"; else bad "$name: $(tail -2 "$T/check.out" | tr '\n' ' ')"; fi; }
mj() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"m": m}))' "$M" "$1"; }
S=(-o ldif-wrap=no -x -D "$AD_BIND_UPN" -y "$AD_PW_FILE")
sd() { ldapsearch -LLL "${S[@]}" -H "$AD_LDAPS_URI" "$@"; }          # direct to Samba
sp() { ldapsearch -LLL "${S[@]}" -H "$PX" "$@"; }                    # through the proxy
ndn() { grep -c '^dn::\? ' "$@"; }
SCOPES=$(mj '"\n".join([c["ou"] for c in m["companies"]] + [m["elsewhere_ou"]])')
each_scope() {   # each_scope FILE ldapsearch-args...: paged subtree search of every seeded OU into FILE
    local f=$1 s; shift
    : > "$f"
    while IFS= read -r s; do sd -E pr=1000/noprompt -b "$s" "$@" >> "$f"; done <<< "$SCOPES"
}

# ----------------------------------------------------------- transport, auth
check "LDAPS simple bind to Samba, lab CA verified" sd -s base -b "$B" "(objectClass=*)" 1.1
r=$(LDAPTLS_CACERT=$AD_WRONG_CA_FILE ldapsearch -LLL "${S[@]}" -H "$AD_LDAPS_URI" -s base -b "$B" "(objectClass=*)" 1.1 2>&1)
[ $? -ne 0 ] && ok "a client trusting the wrong CA is refused ($(echo "$r" | head -1))" || bad "wrong CA accepted"
r=$(ldapsearch -LLL "${S[@]}" -H "$AD_LDAP_URI" -s base -b "$B" "(objectClass=*)" 1.1 2>&1)
case "$r" in *"Strong(er) authentication required"*) ok "cleartext simple bind on 389 refused (strong auth)";;
    *) bad "cleartext simple bind: $r";; esac
m=$(stat -c %a "$AD_KEYTAB")/$(stat -c %a "$AD_PW_FILE")
[ "$m" = 600/600 ] && ok "keytab and password file are 0600" || bad "modes keytab/pwfile $m"
check "kinit -kt \$AD_KEYTAB \$AD_KEYTAB_PRINCIPAL" kinit -kt "$AD_KEYTAB" "$AD_KEYTAB_PRINCIPAL"
r=$(ldapsearch -LLL -o ldif-wrap=no -Y GSSAPI -H "$AD_LDAP_URI" -s base -b "$B" "(objectClass=*)" 1.1 2>&1)
case "$r" in *"SASL username: $AD_KEYTAB_PRINCIPAL"*"SASL data security layer installed"*"dn: $B"*) ok "SASL GSSAPI (sign+seal) on 389 as the keytab principal";;
    *) bad "GSSAPI on 389: $(echo "$r" | tail -2 | tr '\n' ' ')";; esac
check "SASL GSSAPI over LDAPS with -O maxssf=0" ldapsearch -LLL -Y GSSAPI -O maxssf=0 -H "$AD_LDAPS_URI" -s base -b "$B" "(objectClass=*)" 1.1

# -------------------------------------------------------- seed vs manifest
each_scope "$T/all.ldif" '(|(objectClass=user)(objectClass=contact)(objectClass=group)(objectClass=organizationalUnit))' objectClass
for cls in user contact group; do
    want=$(mj "m['counts']['$cls']")
    have=$(python3 - "$T/all.ldif" "$cls" <<'EOF'
import sys
n = 0; cur = set()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    if line.startswith("dn:"):
        cur = set()
    elif line.startswith("objectClass: "):
        cur.add(line[13:].lower())
    elif line == "" and cur:
        n += {"user": "user" in cur and "group" not in cur, "contact": "contact" in cur,
              "group": "group" in cur}[sys.argv[2]]
        cur = set()
print(n)
EOF
)
    [ "$have" = "$want" ] && ok "$cls count $have = manifest" || bad "$cls count $have, manifest $want"
done
r=$(python3 "$LAB_DIR/lab-ldif.py" per-ou "$M" "$T/all.ldif") && ok "$r" || bad "per-OU counts: $r"

each_scope "$T/users.ldif" '(&(objectCategory=person)(objectClass=user))' sAMAccountName userPrincipalName mail c company \
    userAccountControl mS-DS-ConsistencyGuid extensionAttribute1 extensionAttribute2 manager
r=$(python3 "$LAB_DIR/lab-ldif.py" users "$M" "$T/users.ldif") && ok "$r" || bad "users: $r"

count_q() { each_scope "$T/q.ldif" "$1" dn; ndn "$T/q.ldif"; }
for q in "disabled_users|(&(objectCategory=person)(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=2))" \
         "users_without_mail|(&(objectCategory=person)(objectClass=user)(!(mail=*)))" \
         "users_without_consistency_guid|(&(objectCategory=person)(objectClass=user)(!(mS-DS-ConsistencyGuid=*)))"; do
    k=${q%%|*}; f=${q#*|}
    want=$(mj "m['$k']"); have=$(count_q "$f")
    [ "$have" = "$want" ] && ok "$k: $have = manifest" || bad "$k: LDAP $have, manifest $want"
done

nspecial=0 missing=""
while IFS= read -r dn; do
    nspecial=$((nspecial + 1))
    got=$(sd -s base -b "$dn" "(objectClass=*)" 1.1 2>/dev/null | python3 -c 'import sys,base64
for l in sys.stdin:
    l=l.rstrip("\n")
    if l.startswith("dn:: "): print(base64.b64decode(l[5:]).decode()); break
    if l.startswith("dn: "): print(l[4:]); break')
    [ "$got" = "$dn" ] || missing="$missing [$dn -> $got]"
done < <(mj '"\n".join(s["dn"] for s in m["special_dns"])')
[ -z "$missing" ] && ok "$nspecial special-character DNs found and returned byte-for-byte as in the manifest" \
    || bad "special DNs:$missing"

BIG=$(mj "m['big_group']['dn']"); BIGN=$(mj "m['big_group']['member_count']")
sd -s base -b "$BIG" '(objectClass=*)' member > "$T/big.ldif"
have=$(grep -c '^member::\? ' "$T/big.ldif")
[ "$have" = "$BIGN" ] && [ "$BIGN" -gt 1500 ] && ok "big group: Samba returns all $have members unranged (it is lenient)" \
    || bad "big group direct: $have members, manifest $BIGN"

L1=$(mj "m['nested_chain']['dns'][0]"); TN=$(mj "m['nested_chain']['transitive_member_count']")
have=$(sd -b "$B" "(memberOf:1.2.840.113556.1.4.1941:=$L1)" dn | ndn)
[ "$have" = "$TN" ] && ok "nested chain ($(mj "len(m['nested_chain']['dns'])") levels): in-chain rule finds $have transitive members = manifest" \
    || bad "nested chain: in-chain finds $have, manifest $TN"
CA=$(mj "m['cycle']['dns'][0]"); CB=$(mj "m['cycle']['dns'][1]")
if sd -s base -b "$CA" '(objectClass=*)' member | grep -qxF "member: $CB" && \
   sd -s base -b "$CB" '(objectClass=*)' member | grep -qxF "member: $CA"; then
    ok "group cycle: A has member B and B has member A"
else bad "group cycle missing"; fi

# ------------------------------------------------------------ through adproxy
"$LAB_DIR/adproxy-start.sh" "$PREFIX" "$PORT" > /dev/null 2> "$T/px.err" || bad "adproxy-start: $(cat "$T/px.err")"
check "LDAPS to the proxy, lab CA verified" sp -s base -b "$B" "(objectClass=*)" 1.1
LDAPTLS_CACERT=$AD_WRONG_CA_FILE ldapsearch -LLL "${S[@]}" -H "$PX" -s base -b "$B" "(objectClass=*)" 1.1 > /dev/null 2>&1 \
    && bad "proxy accepted by a client trusting the wrong CA" || ok "proxy refused by a client trusting the wrong CA"

FU='(&(objectCategory=person)(objectClass=user))'
want=$(sd -b "$B" -E pr=1000/noprompt "$FU" dn | ndn)
ldapsearch "${S[@]}" -H "$PX" -b "$B" -E pr=2000/noprompt "$FU" dn > "$T/pr.out" 2>&1
rc=$?; have=$(ndn "$T/pr.out")
r=$(python3 "$LAB_DIR/lab-ldif.py" pages "$T/pr.out" 1000)
[ $? = 0 ] && [ $rc = 0 ] && [ "$have" = "$want" ] && ok "proxy, pr=2000: $r, $have entries = direct" \
    || bad "proxy pr=2000: rc $rc, $have of $want entries; $r"

ldapsearch "${S[@]}" -H "$PX" -b "$B" "$FU" dn > "$T/unpaged.out" 2>&1
rc=$?; have=$(ndn "$T/unpaged.out")
[ $rc = 4 ] && [ "$have" = 1000 ] && grep -q '^result: 4 Size limit exceeded' "$T/unpaged.out" \
    && ok "proxy, unpaged: 1000 entries then sizeLimitExceeded (4)" || bad "proxy unpaged: rc $rc, $have entries"
# the OU with the most users that still fit in one AD answer
SMALL=$(mj "max((c['user'], o) for o, c in m['counts_by_ou'].items() if 0 < c['user'] <= 1000)[1]")
want=$(sd -b "$SMALL" -s one "$FU" dn | ndn); have=$(sp -b "$SMALL" -s one "$FU" dn 2>/dev/null | ndn)
[ "$have" = "$want" ] && [ "$want" -le 1000 ] && ok "proxy, unpaged one-level search of $want (<= 1000) users under ${SMALL%%,*} is complete" \
    || bad "proxy small unpaged under $SMALL: $have of $want"

sp -s base -b "$BIG" '(objectClass=*)' member > "$T/r0.ldif"
n0=$(grep -c '^member;range=0-1499::\? ' "$T/r0.ldif"); nplain=$(grep -c '^member::\? ' "$T/r0.ldif")
[ "$n0" = 1500 ] && [ "$nplain" = 0 ] && ok "proxy, big group: 'member' comes back as member;range=0-1499 with 1500 values" \
    || bad "proxy big group: $n0 ranged, $nplain plain values"
sp -s base -b "$BIG" '(objectClass=*)' 'member;range=1500-*' > "$T/r1.ldif"
n1=$(grep -c '^member;range=1500-\*::\? ' "$T/r1.ldif")
{ python3 "$LAB_DIR/lab-ldif.py" values "$T/r0.ldif" 'member;range=0-1499'
  python3 "$LAB_DIR/lab-ldif.py" values "$T/r1.ldif" 'member;range=1500-*'; } | sort > "$T/ranged.txt"
python3 "$LAB_DIR/lab-ldif.py" values "$T/big.ldif" member | sort > "$T/full.txt"
[ "$n1" = $((BIGN - 1500)) ] && cmp -s "$T/ranged.txt" "$T/full.txt" \
    && ok "proxy, big group: member;range=1500-* returns the other $n1; both ranges = all $BIGN members, no duplicate" \
    || bad "proxy big group follow-up: $n1 values (want $((BIGN - 1500))); union equal: $(cmp -s "$T/ranged.txt" "$T/full.txt" && echo yes || echo no)"

have=$(ldapsearch -LLL -o ldif-wrap=no -Y GSSAPI -O maxssf=0 -H "$PX" -b "$B" -E pr=5000/noprompt "$FU" dn 2>/dev/null | ndn)
want=$(sd -b "$B" -E pr=1000/noprompt "$FU" dn | ndn)
[ "$have" = "$want" ] && ok "proxy, SASL GSSAPI (keytab) over LDAPS, maxssf=0, paged: $have entries" \
    || bad "proxy GSSAPI: $have of $want"

# follow-up ranges longer than MaxValRange are cut too (a small max-range shows it on this group)
"$LAB_DIR/adproxy-start.sh" "$PREFIX" "$FPORT" --max-range 600 > /dev/null 2> "$T/px.err" || bad "adproxy-start: $(cat "$T/px.err")"
: > "$T/walk.txt"; lo=0; walk=""
for _ in 1 2 3 4 5 6 7 8; do
    ldapsearch -LLL "${S[@]}" -H "$FX" -s base -b "$BIG" '(objectClass=*)' "member;range=$lo-*" > "$T/w.ldif"
    desc=$(grep -o '^member;range=[0-9]*-[0-9*]*' "$T/w.ldif" | head -1)
    python3 "$LAB_DIR/lab-ldif.py" values "$T/w.ldif" "$desc" >> "$T/walk.txt"
    walk="$walk ${desc#member;}"
    case "$desc" in *-\*|"") break;; esac
    lo=$(( ${desc##*-} + 1 ))
done
sort -o "$T/walk.txt" "$T/walk.txt"
cmp -s "$T/walk.txt" "$T/full.txt" && [ "$(echo $walk)" = "range=0-599 range=600-1199 range=1200-*" ] \
    && ok "proxy --max-range 600: range walk$walk returns every member once" \
    || bad "range walk:$walk (union equal: $(cmp -s "$T/walk.txt" "$T/full.txt" && echo yes || echo no))"

"$LAB_DIR/adproxy-start.sh" "$PREFIX" "$FPORT" --drop-after-entries 1500 --referral > /dev/null 2> "$T/px.err" \
    || bad "adproxy-start: $(cat "$T/px.err")"
ldapsearch "${S[@]}" -H "$FX" -b "$B" -E pr=1000/noprompt "$FU" dn > "$T/drop.out" 2>&1
rc=$?; have=$(ndn "$T/drop.out")
[ $rc != 0 ] && [ "$have" = 1500 ] && ok "proxy --drop-after-entries 1500: connection dropped after 1500 entries (ldapsearch rc $rc: $(grep -m1 -o "Can't contact LDAP server" "$T/drop.out"))" \
    || bad "drop: rc $rc, $have entries"
EW=$(mj "m['elsewhere_ou']")
ldapsearch "${S[@]}" -H "$FX" -b "$EW" '(objectClass=*)' dn > "$T/ref.out" 2>&1
rc=$?
[ $rc = 10 ] && grep -q '^ref: ldap://' "$T/ref.out" && ok "proxy --referral: search under $EW -> resultCode 10 with $(grep -m1 '^ref:' "$T/ref.out")" \
    || bad "referral: rc $rc"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
