#!/bin/sh
# Fuzz the mapping store's parsers (mapping file and journal) with libFuzzer,
# ASan and UBSan for SECONDS (default 60). Not part of `make check`.
#
#   tests/fuzz/run-mapstore.sh [SECONDS]
#
# Builds tests/out/fuzz-mapstore/fuzz_mapstore with clang (installed from
# Debian if missing), seeds a corpus with valid files, and runs. A crash or
# leak leaves crash-*/leak-* files in tests/out/fuzz-mapstore/ and exits
# non-zero; replay one with: tests/out/fuzz-mapstore/fuzz_mapstore FILE
set -eu
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/out/fuzz-mapstore
cd "$ROOT"

. tests/fuzz/lib.sh
need_clang

mkdir -p "$OUT/corpus" "$OUT/seeds"
# shellcheck disable=SC2046
fuzz_build "$OUT/fuzz_mapstore" tests/fuzz/fuzz_mapstore.c src/mapstore.c src/mapstore_format.c src/decision.c \
    src/platform_posix.c src/platform.c src/cloud.c src/util.c src/log.c src/testhooks.c \
    $(pkg-config --cflags --libs libcrypto libcjson)

# Seeds: the first byte picks the mode (0 map, 1 journal, 2 both).
ID=0f2c5a4e-1111-2222-3333-444455556666
HEAD="dualsync-map 1
Tenant contoso
TenantId $ID
Cloud global
Generation 3
Records 2
Watermark usn:9f1c:123
DeltaLink https://graph.microsoft.com/v1.0/users/delta?\$deltatoken=abc
"
REC1=$(printf 'AAAAAAAAAAAAAAAAAAAAAA==\tinvited\texternal-guest\tGuest\tcid-1\tguid-1\tzo\303\253@corp.example\tnon-us\t2024-05-01T12:00:00Z\t2024-05-01T13:00:00Z\tinv-1\tCN=Doe\\\\, John\\tX,OU=Z\303\274rich,DC=corp\t403\\nretry\\\\')
REC2=$(printf 'custom:42\tpending\tmember\t\t\t\t\t\t\t\t\t\t')
printf '\000%s\n%s\n%s\n' "$HEAD" "$REC1" "$REC2" > "$OUT/seeds/map"
printf '\001dualsync-journal 1 %s 0\n= %s\n! custom:9\tinvite\tcid\n= %s\n! AAAAAAAAAAAAAAAAAAAAAA==\tinvite\tcid-1\n- custom:42\nH Watermark\tusn:x:2\nH DeltaLink\t\n= %s\n' \
    "$ID" "$(echo "$REC2" | sed 's/custom:42/custom:9/')" "$REC1" "$REC2" > "$OUT/seeds/journal"
MAP=$(printf '%s\n%s\n%s\n' "$HEAD" "$REC1" "$REC2")
LEN=$(printf '%s\n' "$MAP" | wc -c)
# mode 2, then the length of the mapping file in two bytes
printf "\\002\\$(printf %03o $((LEN / 256)))\\$(printf %03o $((LEN % 256)))" > "$OUT/seeds/both"
printf '%s\ndualsync-journal 1 %s 3\n! custom:42\tinvite\tx\n= %s\n' "$MAP" "$ID" "$REC1" \
    >> "$OUT/seeds/both"
printf '\001dualsync-journal 1 %s 0\n= %s\n! custom:42\tinv' "$ID" "$REC2" > "$OUT/seeds/torn"
# Version 2 (the one written): the reason after the last error. Version 1
# above is still read (its reasons derived from the last error), so both
# are seeds.
HEAD2=$(printf '%s' "$HEAD" | sed '1s/ 1$/ 2/')
V2REC1=$(printf 'AAAAAAAAAAAAAAAAAAAAAA==\taccepted\texternal-guest\tMember\tcid-1\tguid-1\tzo\303\253@corp.example\tnon-us\t2024-05-01T12:00:00Z\t2024-05-01T13:00:00Z\tinv-1\tCN=Doe\\\\, John,DC=corp\tGraph refused the userType\\tfor this user\tusertype-blocked')
V2REC2=$(printf 'custom:42\tblocked\texternal-member\t\t\t\t\t\t\t\t\t\thome tenant gcch: cross-tenant access BLOCKED\\n\tcross-tenant-blocked')
V2REC3=$(printf 'custom:7\tpending\tmember\t\t\t\t\t\t\t\t\t\t\tnone')
printf '\000%s\n\n%s\n%s\n%s\n' "$(printf '%s' "$HEAD2" | sed 's/^Records 2$/Records 3/')" "$V2REC1" "$V2REC2" "$V2REC3" \
    > "$OUT/seeds/map-v2"
printf '\001dualsync-journal 2 %s 0\n= %s\n! custom:7\tinvite\tcid\n= %s\n= %s\n- custom:42\nH Watermark\tusn:x:3\n' \
    "$ID" "$V2REC3" "$V2REC1" "$V2REC2" > "$OUT/seeds/journal-v2"
# a version 1 snapshot continued by a version 2 journal (an upgrade that
# stopped before its first commit)
printf "\\002\\$(printf %03o $((LEN / 256)))\\$(printf %03o $((LEN % 256)))" > "$OUT/seeds/both-v1-v2"
printf '%s\ndualsync-journal 2 %s 3\n! custom:42\tset-user-type\tGuest\n= %s\n' "$MAP" "$ID" "$V2REC2" \
    >> "$OUT/seeds/both-v1-v2"

cd "$OUT"
# -close_fd_mask=2: the parsers' error messages would drown libFuzzer's own
# output (which it keeps on a copy of stderr)
exec ./fuzz_mapstore -max_total_time="$SECS" -close_fd_mask=2 -max_len=65536 \
    -print_final_stats=1 corpus seeds
