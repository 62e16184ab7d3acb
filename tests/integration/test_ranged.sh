#!/bin/bash
# Ranged retrieval (MS-ADTS 3.1.1.3.1.3.3) against the lab's domain
# controller itself, every step answered by Samba.
#
# Samba 4.17 never splits a large attribute on its own: its ranged_results
# module only answers the ranges a client asks for, and no code reads
# MaxValRange from lDAPAdminLimits (tests/lab/README.md, "Ranged retrieval").
# So a plain pull reads the big group's member whole, and the test hook
# DUALSYNC_TEST_RANGE_SIZE=N makes the reader ask for member;range=0-(N-1)
# in its paged search and for N-(2N-1), ... in base searches until Samba
# answers a range ending in '*'. The output must equal the plain pull's,
# with exactly the reads the member counts call for.
# A server that splits unasked (AD) is tests/lab/adproxy.py, in test_pull.sh.
. "$(dirname "$0")/lib.sh"
B=$AD_BASE_DN
big=$(manifest "m['big_group']['dn']")
mkconf "$OUT/r.conf" "base_dn = OU=Contoso,$B" "base_dn = OU=Contoso Defense,$B"

# pull_debug N: pull --format ndjson --debug with ranges of N values (0: none);
# the objects to $OUT/N.ndjson, the ranged reads asked to $OUT/N.reads
pull_debug() {
    DUALSYNC_TEST_RANGE_SIZE=$([ "$1" = 0 ] || echo "$1") \
        "$DUALSYNC" -c "$OUT/r.conf" pull --format ndjson --debug >"$OUT/$1.ndjson" 2>"$OUT/$1.err" \
        || { echo "exit $?: $(grep -v debug: "$OUT/$1.err" | head -c 600)"; return 1; }
    sed -n 's/^dualsync: debug: ranged read //p' "$OUT/$1.err" > "$OUT/$1.reads"
}
sorted() { sort "$1" | md5sum | cut -c1-32; }
# expected N: the ranged reads for ranges of N values, from the plain pull's
# member counts: ceil(count / N) - 1 for every object
expected() {
    python3 -c '
import json, sys
n = int(sys.argv[1])
print(sum(max(0, -(-len(json.loads(l).get("attributes", {}).get("member", [])) // n) - 1)
          for l in open(sys.argv[2])))' "$1" "$OUT/0.ndjson"
}

if pull_debug 0; then pass "a plain pull"; else fail "a plain pull: $(pull_debug 0)"; fi
equal "Samba splits no attribute unasked: no ranged read" 0 "$(wc -l < "$OUT/0.reads")"
equal "the big group arrives whole in one answer" "$(manifest "m['big_group']['member_count']")" \
    "$(grep -F "\"dn\":\"$big\"" "$OUT/0.ndjson" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["attributes"]["member"]))')"

for n in 1500 100; do
    if out=$(pull_debug $n); then pass "pull asking ranges of $n values"; else fail "pull asking ranges of $n: $out"; continue; fi
    equal "ranges of $n: the same objects and values as the plain pull" "$(sorted "$OUT/0.ndjson")" "$(sorted "$OUT/$n.ndjson")"
    equal "ranges of $n: ranged reads as the member counts call for" "$(expected $n)" "$(wc -l < "$OUT/$n.reads")"
done

# the walk over the big group (1600 members) in steps of 100, as asked of
# Samba: 100-199 ... 1500-1599, the last answered with "1500-*"
want=$(for lo in $(seq 100 100 1500); do echo "member;range=$lo-$((lo + 99)) of $big"; done)
equal "ranges of 100: the walk over $big" "$(echo "$want" | md5sum)" "$(grep -F " of $big" "$OUT/100.reads" | md5sum)"
vs_manifest() {
    python3 "$(dirname "$0")/pull_vs_manifest.py" "$LAB/manifest.json" "$1" --big-group \
        | sed "s/^\(PASS\|FAIL\) /\1 ranges of 100: /"
    return "${PIPESTATUS[0]}"
}
counted "ranges of 100 against the manifest" vs_manifest "$OUT/100.ndjson"

# the count reaches the summary, as with AD's own ranges
DUALSYNC_TEST_RANGE_SIZE=100 check "pull summary with ranges of 100" "$DUALSYNC" -c "$OUT/r.conf" pull
equal "summary: ranged reads" "$(expected 100)" "$(sed -n 's/.*(\([0-9]*\) ranged reads).*/\1/p' "$OUT/last.out")"

DUALSYNC_TEST_RANGE_SIZE=0 refuses "a range size of 0 is refused" 3 "DUALSYNC_TEST_RANGE_SIZE=0: not a number" \
    "$DUALSYNC" -c "$OUT/r.conf" pull

finish
