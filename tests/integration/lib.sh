# Shared helpers for the integration tests (sourced). Each test prints one
# "PASS name" or "FAIL name" line per check; run.sh adds them up.
# Needs: LAB (the lab prefix, with env.sh and manifest.json), DUALSYNC (the binary),
# OUT (a scratch directory for this test).
set -u
. "$LAB/env.sh"
# the reader must not lean on the ldap client's environment: it has ca_file
unset LDAPTLS_REQCERT
pass_n=0
fail_n=0
pass() { echo "PASS $*"; pass_n=$((pass_n + 1)); }
fail() { echo "FAIL $*"; fail_n=$((fail_n + 1)); }

# check NAME CMD...: the command succeeds
check() {
    local name=$1; shift
    if "$@" >"$OUT/last.out" 2>"$OUT/last.err"; then pass "$name"
    else fail "$name (exit $?): $(head -c 600 "$OUT/last.err")"; fi
}

# refuses NAME EXIT 'TEXT' CMD...: the command exits with EXIT and says TEXT on stderr
refuses() {
    local name=$1 want=$2 text=$3; shift 3
    "$@" >"$OUT/last.out" 2>"$OUT/last.err"
    local rc=$?
    if [ "$rc" = "$want" ] && grep -qF -- "$text" "$OUT/last.err"; then pass "$name"
    else fail "$name: want exit $want and '$text', got exit $rc: $(head -c 600 "$OUT/last.err")"; fi
}

# dir_state DIR: DIR and each entry below it, with type, mode, size, mtime
# (ns) and content hash, one a line: equal before and after only if nothing
# in DIR was created, removed or written. Not `ls -la`: its ".." line shows
# the parent's mtime to the minute, which a test writing beside DIR changes.
dir_state() {
    find "$1" -printf '%P %y %m %s %T@\n' | sort
    find "$1" -type f -exec md5sum {} + | sort
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; after
# SECONDS in vain, a FAIL naming CMD, and status 1. A bound on a condition,
# never a timing assertion: `wait_for 60 cond && pass "it happened"`.
wait_for() {
    local bound=$1 end; shift
    end=$(( ${EPOCHREALTIME/./} + bound * 1000000 ))   # in microseconds
    until "$@" >/dev/null 2>&1; do
        if [ "${EPOCHREALTIME/./}" -ge "$end" ]; then
            fail "gave up after ${bound} s waiting for: $*"
            return 1
        fi
        sleep 0.1
    done
}

# counted NAME CMD...: CMD prints PASS/FAIL lines (a python check, say): show
# and count them; CMD failing or printing no verdict at all is a FAIL
counted() {
    local name=$1; shift
    "$@" >"$OUT/counted.out" 2>"$OUT/counted.err"
    local rc=$? p f
    p=$(grep -c '^PASS' "$OUT/counted.out"); f=$(grep -c '^FAIL' "$OUT/counted.out")
    grep '^PASS\|^FAIL' "$OUT/counted.out"
    pass_n=$((pass_n + p)); fail_n=$((fail_n + f))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then fail "$name: exit $rc: $(tail -c 600 "$OUT/counted.err")"
    elif [ $((p + f)) = 0 ]; then fail "$name: no verdict: $(tail -c 600 "$OUT/counted.err")"; fi
}

# equal NAME WANT GOT
equal() {
    if [ "$2" = "$3" ]; then pass "$1 ($3)"; else fail "$1: want '$2', got '$3'"; fi
}

# mkconf FILE [KEY = VALUE lines for [ldap]...]: a config for the lab, simple bind over LDAPS
mkconf() {
    local f=$1; shift
    {
        echo "[dualsync]"
        echo "mappings_dir = $OUT/mappings"
        echo "[ldap]"
        if [ $# -eq 0 ] || ! printf '%s\n' "$@" | grep -q '^uri'; then echo "uri = $AD_LDAPS_URI"; fi
        if [ $# -eq 0 ] || ! printf '%s\n' "$@" | grep -q '^ca_file'; then echo "ca_file = $AD_CA_FILE"; fi
        if [ $# -eq 0 ] || ! printf '%s\n' "$@" | grep -q '^bind'; then
            echo "bind = simple"; echo "bind_dn = $AD_BIND_UPN"; echo "password_file = $AD_PW_FILE"
        fi
        if [ $# -eq 0 ] || ! printf '%s\n' "$@" | grep -q '^base_dn'; then echo "base_dn = $AD_BASE_DN"; fi
        for l in "$@"; do echo "$l"; done
    } > "$f"
}

# manifest EXPR: a value from the seed's manifest (python expression over m)
manifest() {
    python3 -c "import json,sys; m=json.load(open('$LAB/manifest.json')); print($1)"
}

ldap_admin() {  # ldapsearch/ldapmodify/... as the lab admin over LDAPS, CA-verified
    local tool=$1; shift
    LDAPTLS_CACERT=$AD_CA_FILE "$tool" -H "$AD_LDAPS_URI" -x -D "$AD_BIND_UPN" -y "$AD_PW_FILE" "$@"
}

finish() {
    echo "$pass_n passed, $fail_n failed"
    [ "$fail_n" = 0 ]
}
