#!/bin/bash
# dualsync pull against the real Samba AD lab: counts and values against the
# seed's manifest, binds (simple over LDAPS and StartTLS, Kerberos from a ccache
# and from a keytab, GSSAPI sign+seal on 389), delta and tombstones, scope;
# a dropped connection leaves -o FILE as it was.
. "$(dirname "$0")/lib.sh"
B=$AD_BASE_DN
C1="base_dn = OU=Contoso,$B"
C2="base_dn = OU=Contoso Defense,$B"

# --- full pull, compared object by object with the manifest
mkconf "$OUT/full.conf" "$C1" "$C2"
check "pull --format ndjson over LDAPS (simple bind, CA verified)" \
    "$DUALSYNC" -c "$OUT/full.conf" pull --format ndjson
cp "$OUT/last.out" "$OUT/full.ndjson"
# vs_manifest NDJSON LABEL: pull_vs_manifest.py's checks, each named LABEL: ...
vs_manifest() {
    python3 "$(dirname "$0")/pull_vs_manifest.py" "$LAB/manifest.json" "$1" --big-group \
        | sed "s/^\(PASS\|FAIL\) /\1 $2: /"
    return "${PIPESTATUS[0]}"
}
counted "full pull against the manifest" vs_manifest "$OUT/full.ndjson" "full pull"

check "pull --format ndjson -o FILE" "$DUALSYNC" -c "$OUT/full.conf" pull --format ndjson -o "$OUT/full-o.ndjson"
[ ! -s "$OUT/last.out" ] && [ "$(sort "$OUT/full-o.ndjson" | md5sum)" = "$(sort "$OUT/full.ndjson" | md5sum)" ] \
    && [ "$(stat -c %a "$OUT/full-o.ndjson")" = 600 ] \
    && pass "-o FILE (0600) holds what stdout got, and stdout nothing" || fail "-o FILE differs from stdout"
check "pull summary -o FILE" "$DUALSYNC" -c "$OUT/full.conf" pull -o "$OUT/summary.txt"
grep -q "^pull: full" "$OUT/summary.txt" && pass "the summary went to -o FILE" || fail "summary -o: $(head -2 "$OUT/summary.txt")"
check "pull summary" "$DUALSYNC" -c "$OUT/full.conf" pull
equal "summary: users" "$(manifest "m['counts']['user']")" "$(awk '$1=="users"{print $2}' "$OUT/last.out")"
equal "summary: disabled" "$(manifest "m['disabled_users']")" "$(sed -n 's/.*(disabled \([0-9]*\)).*/\1/p' "$OUT/last.out")"
equal "summary: contacts" "$(manifest "m['counts']['contact']")" "$(awk '$1=="contacts"{print $2}' "$OUT/last.out")"
equal "summary: without mS-DS-ConsistencyGuid (users + contacts)" \
    "$(manifest "m['users_without_consistency_guid'] + m['counts']['contact']")" \
    "$(sed -n 's/.*anchor from objectGUID): //p' "$OUT/last.out")"
us=$(manifest "m['counts_by_ou']['OU=US,OU=Contoso,$B']['user']")
equal "summary: users in OU=US,OU=Contoso" "$us" "$(grep -F "  OU=US,OU=Contoso,$B" "$OUT/last.out" | grep -v Research | awk '{print $1}')"

# --- scope: include/exclude OUs, classes, nested group membership, an extra filter
mkconf "$OUT/scope.conf" "$C1" "include_ou = OU=US,OU=Contoso,$B" \
    "exclude_ou = OU=Research\\, Development & Labs,OU=US,OU=Contoso,$B" "classes = user"
check "pull with include_ou/exclude_ou (escaped comma in the OU)" "$DUALSYNC" -c "$OUT/scope.conf" pull
# the R&D OU lies under OU=US: what is left are the users directly in OU=US
equal "include OU=US minus the R&D OU below it" "$us" "$(awk '$1=="users"{print $2}' "$OUT/last.out")"

chain=$(manifest "m['nested_chain']['dns'][0]")
mkconf "$OUT/group.conf" "$C1" "$C2" "member_of = $chain"
check "pull scoped by nested group membership" "$DUALSYNC" -c "$OUT/group.conf" pull --format ndjson
equal "members at any depth of $chain" "$(manifest "m['nested_chain']['transitive_member_count']")" \
    "$(wc -l < "$OUT/last.out")"
sg=$(manifest "[s['dn'] for s in m['special_dns'] if s['class']=='group'][0]")
mkconf "$OUT/group2.conf" "$C1" "member_of = $sg"
check "member_of a group whose DN has ( ) , & (RFC 4515 escaping)" "$DUALSYNC" -c "$OUT/group2.conf" pull --format ndjson
n_sg=$(manifest "[g['member_count'] for g in m['groups'] if g['dn']=='''$sg'''][0]")
equal "members of $sg" "$n_sg" "$(wc -l < "$OUT/last.out")"

mkconf "$OUT/filter.conf" "$C1" "$C2" "classes = user" "filter = (c=SE)"
check "extra filter (c=SE)" "$DUALSYNC" -c "$OUT/filter.conf" pull --format ndjson
equal "users with c=SE" "$(manifest "sum(1 for u in m['users'] if u['c']=='SE')")" "$(wc -l < "$OUT/last.out")"

# --- transports and binds
mkconf "$OUT/starttls.conf" "uri = $AD_LDAP_URI" "starttls = yes" "$C2"
check "StartTLS on 389, simple bind" "$DUALSYNC" -c "$OUT/starttls.conf" pull
mkconf "$OUT/clear.conf" "uri = $AD_LDAP_URI" "starttls = no" "$C2"
refuses "simple bind over cleartext is refused before connecting" 3 "refusing a simple bind over cleartext" \
    "$DUALSYNC" -c "$OUT/clear.conf" pull

export KRB5CCNAME="FILE:$OUT/krb5cc"
kinit_pw() { kinit "$AD_SVC_UPN" < "$AD_SVC_PW_FILE" >/dev/null 2>&1; }
mkconf "$OUT/gss.conf" "bind = gssapi" "$C2"
refuses "kerberos: no ticket in the cache" 3 "no valid Kerberos ticket" "$DUALSYNC" -c "$OUT/gss.conf" pull
if kinit_pw; then
    check "kerberos (GSSAPI) over LDAPS with a ticket from the ccache" "$DUALSYNC" -c "$OUT/gss.conf" pull
    mkconf "$OUT/gss389.conf" "uri = $AD_LDAP_URI" "starttls = no" "bind = gssapi" "$C2"
    check "kerberos (GSSAPI) on 389 with SASL sign+seal, no TLS" "$DUALSYNC" -c "$OUT/gss389.conf" pull
    kdestroy >/dev/null 2>&1
else
    fail "kinit $AD_SVC_UPN with its password"
fi
if kinit -l 2s "$AD_SVC_UPN" < "$AD_SVC_PW_FILE" >/dev/null 2>&1; then
    # until the ticket has expired (this checks expiry handling, not timing)
    ticket_gone() { ! klist -s; }
    wait_for 30 ticket_gone
    refuses "kerberos: an expired ticket" 3 "no valid Kerberos ticket" "$DUALSYNC" -c "$OUT/gss.conf" pull
else
    fail "kinit with a short lifetime"
fi
export KRB5CCNAME="FILE:$OUT/krb5cc-none"
mkconf "$OUT/keytab.conf" "bind = gssapi" "keytab = $AD_KEYTAB" "principal = $AD_KEYTAB_PRINCIPAL" "$C2"
check "kerberos with a keytab, no kinit, no ticket file written" "$DUALSYNC" -c "$OUT/keytab.conf" pull
[ ! -e "$OUT/krb5cc-none" ] && pass "keytab bind leaves no ccache on disk" || fail "keytab bind wrote $OUT/krb5cc-none"

# --- bad input: one clear message, non-zero exit, nothing written
mkconf "$OUT/wrongca.conf" "ca_file = $AD_WRONG_CA_FILE" "watermark_file = $OUT/wm-wrongca" "$C2"
refuses "a wrong CA is refused (no fallback to unverified TLS)" 3 "is not trusted" \
    "$DUALSYNC" -c "$OUT/wrongca.conf" pull
[ ! -e "$OUT/wm-wrongca" ] && pass "wrong CA: no watermark written" || fail "wrong CA: watermark written"
mkconf "$OUT/wrongca-tls.conf" "uri = $AD_LDAP_URI" "ca_file = $AD_WRONG_CA_FILE" "$C2"
refuses "a wrong CA is refused on StartTLS too" 3 "is not trusted" "$DUALSYNC" -c "$OUT/wrongca-tls.conf" pull
mkconf "$OUT/down.conf" "uri = ldaps://127.0.0.1:1" "$C2"
refuses "unreachable server" 3 "cannot reach ldaps://127.0.0.1:1" "$DUALSYNC" -c "$OUT/down.conf" pull
printf 'not-the-password' > "$OUT/bad.pw"; chmod 600 "$OUT/bad.pw"
mkconf "$OUT/badpw.conf" "bind = simple" "bind_dn = $AD_BIND_UPN" "password_file = $OUT/bad.pw" "$C2"
refuses "wrong password" 3 "refused the credentials" "$DUALSYNC" -c "$OUT/badpw.conf" pull
grep -q not-the-password "$OUT/last.err" && fail "the password appears in the error" || pass "the password is not in the error"
chmod 644 "$OUT/bad.pw"
refuses "a password file readable by others is refused at config load" 2 "chmod 600" "$DUALSYNC" -c "$OUT/badpw.conf" pull
grep -qF "$OUT/badpw.conf:" "$OUT/last.err" && pass "the refusal names the config file and line" \
    || fail "the refusal names no config file:line: $(head -c 300 "$OUT/last.err")"
mkconf "$OUT/nobase.conf" "base_dn = OU=Nowhere,$B"
refuses "a base DN that does not exist" 3 "base DN OU=Nowhere,$B does not exist" "$DUALSYNC" -c "$OUT/nobase.conf" pull

# --- AD's limits, imposed on Samba by tests/lab/adproxy.py: pages of at most
# 1000 entries whatever we ask, and member returned in ranges of 1500
PROXY=ldaps://127.0.0.1:6360
proxy() { "$(dirname "$0")/../lab/adproxy-start.sh" "$LAB" "$@" >/dev/null 2>"$OUT/proxy.err" \
    || fail "start adproxy $*: $(cat "$OUT/proxy.err")"; }
proxy_stop() { "$(dirname "$0")/../lab/adproxy-stop.sh" "$LAB" "$1" >/dev/null 2>&1; }
proxy 6360
mkconf "$OUT/ad.conf" "uri = $PROXY" "page_size = 5000" "$C1" "$C2"
check "pull through AD's MaxPageSize/MaxValRange" "$DUALSYNC" -c "$OUT/ad.conf" pull
pages=$(sed -n 's/.* in \([0-9]*\) pages.*/\1/p' "$OUT/last.out")
ranged=$(sed -n 's/.*(\([0-9]*\) ranged reads).*/\1/p' "$OUT/last.out")
total=$(( $(manifest "m['counts']['user'] + m['counts']['contact'] + m['counts']['group']") ))
[ "${pages:-0}" -ge $(( (total + 999) / 1000 )) ] && pass "pages capped at 1000 entries: $pages pages for $total objects" \
    || fail "expected at least $(( (total + 999) / 1000 )) pages, got '$pages'"
[ "${ranged:-0}" -ge 1 ] && pass "ranged retrieval used ($ranged extra reads)" || fail "no ranged reads: $(head -1 "$OUT/last.out")"
check "ndjson through the proxy" "$DUALSYNC" -c "$OUT/ad.conf" pull --format ndjson
cp "$OUT/last.out" "$OUT/ad.ndjson"
counted "pull through the proxy against the manifest" vs_manifest "$OUT/ad.ndjson" "AD limits"
proxy_stop 6360

# past the middle of the read, whatever the lab's size
proxy 6361 --drop-after-entries $(( total / 2 + 1 ))
echo "usn:00000000-0000-0000-0000-000000000000:1" > "$OUT/wm-drop"
cp "$OUT/wm-drop" "$OUT/wm-drop.before"
mkconf "$OUT/drop.conf" "uri = ldaps://127.0.0.1:6361" "$C1" "$C2" "watermark_file = $OUT/wm-drop"
refuses "connection dropped mid-read" 3 "was lost after" "$DUALSYNC" -c "$OUT/drop.conf" pull --full
cmp -s "$OUT/wm-drop" "$OUT/wm-drop.before" && pass "dropped connection: watermark byte-identical" \
    || fail "dropped connection: watermark changed"
# on stdout the objects go out as they come: only exit status 0 says complete
refuses "dropped connection, ndjson on stdout: exit 3" 3 "was lost after" \
    "$DUALSYNC" -c "$OUT/drop.conf" pull --full --format ndjson
[ "$(wc -l < "$OUT/last.out")" -gt 0 ] && pass "on stdout a failed pull leaves partial lines, so only exit 0 means complete ($(wc -l < "$OUT/last.out") lines)" \
    || fail "dropped connection: no partial output on stdout (the proxy drops too early?)"
# -o FILE: the file only when the pull is complete
echo "the old output" > "$OUT/drop.ndjson"
cp "$OUT/drop.ndjson" "$OUT/drop.ndjson.before"
refuses "dropped connection, pull -o FILE: exit 3" 3 "was lost after" \
    "$DUALSYNC" -c "$OUT/drop.conf" pull --full --format ndjson -o "$OUT/drop.ndjson"
cmp -s "$OUT/drop.ndjson" "$OUT/drop.ndjson.before" && [ ! -s "$OUT/last.out" ] \
    && pass "dropped connection: -o FILE byte-identical, nothing on stdout" \
    || fail "dropped connection: -o FILE changed ($(wc -l < "$OUT/drop.ndjson") lines) or stdout written"
refuses "dropped connection, pull -o NEW-FILE: exit 3" 3 "was lost after" \
    "$DUALSYNC" -c "$OUT/drop.conf" pull --full -o "$OUT/drop-new.txt"
[ ! -e "$OUT/drop-new.txt" ] && ! ls "$OUT"/drop-new.txt.* >/dev/null 2>&1 \
    && pass "dropped connection: no file and no temporary left for -o NEW-FILE" \
    || fail "dropped connection: $(ls "$OUT"/drop-new.txt*) written"
proxy_stop 6361

# the drop can come while the reader is fetching the rest of a big group's
# members (its ranged read shares the connection): the same loss, said the same
proxy 6362 --drop-after-ranged 1
mkconf "$OUT/drop-ranged.conf" "uri = ldaps://127.0.0.1:6362" "$C1" "$C2" "watermark_file = $OUT/wm-drop"
refuses "connection dropped during a ranged read" 3 "was lost after" \
    "$DUALSYNC" -c "$OUT/drop-ranged.conf" pull --full
cmp -s "$OUT/wm-drop" "$OUT/wm-drop.before" && pass "dropped during a ranged read: watermark byte-identical" \
    || fail "dropped during a ranged read: watermark changed"
proxy_stop 6362

proxy 6363 --size-limit 500
mkconf "$OUT/sizelimit.conf" "uri = ldaps://127.0.0.1:6363" "$C1" "$C2" "watermark_file = $OUT/wm-size"
refuses "a server size limit" 3 "hit its size limit" "$DUALSYNC" -c "$OUT/sizelimit.conf" pull
[ ! -e "$OUT/wm-size" ] && pass "size limit: no watermark written" || fail "size limit: watermark written"
proxy_stop 6363

proxy 6362 --referral
mkconf "$OUT/ref.conf" "uri = ldaps://127.0.0.1:6362" "base_dn = $(manifest "m['elsewhere_ou']")"
refuses "a referral is reported, not followed" 3 "referred us to" "$DUALSYNC" -c "$OUT/ref.conf" pull
proxy_stop 6362

finish
