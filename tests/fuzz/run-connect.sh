#!/bin/sh
# Fuzz the reader of Entra Connect's exported configuration
# (src/connect_export.c, libxml2) with libFuzzer, ASan and UBSan for SECONDS
# (default 60). Not part of `make check`.
#
#   tests/fuzz/run-connect.sh [SECONDS]        (make fuzz-connect FUZZ_SECONDS=N)
#
# Builds tests/out/fuzz-connect/fuzz_connect_export with clang (installed
# from Debian if missing), seeds a corpus with every XML file of the fixture
# exports in tests/fixtures/connect/ and runs, with a 10 s timeout per input
# and an RSS limit of 2048 MB: an input that takes longer or more memory (an
# entity expansion) is a finding. A crash, leak, timeout or RSS overrun
# leaves crash-*/leak-*/timeout-*/oom-* files in tests/out/fuzz-connect/ and
# exits non-zero; replay one with: tests/out/fuzz-connect/fuzz_connect_export FILE
set -eu
SECS=${1:-60}
case "$SECS" in *[!0-9]*|'') echo "usage: tests/fuzz/run-connect.sh [SECONDS]" >&2; exit 2;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/out/fuzz-connect
cd "$ROOT"

. tests/fuzz/lib.sh
need_clang

mkdir -p "$OUT/corpus" "$OUT/seeds"
# shellcheck disable=SC2046
fuzz_build "$OUT/fuzz_connect_export" tests/fuzz/fuzz_connect_export.c src/connect_export.c \
    src/connect_judge.c src/connect_tenant.c src/adobject.c src/cloud.c src/platform_posix.c src/util.c \
    src/log.c $(pkg-config --cflags --libs libxml-2.0 libcrypto libcjson) -lm

# Seeds: every file of every fixture export, named after its export.
for f in tests/fixtures/connect/*/*/*.xml; do
    export_name=${f#tests/fixtures/connect/}
    cp "$f" "$OUT/seeds/$(printf %s "$export_name" | tr '/{}' '___')"
done

cd "$OUT"
# -close_fd_mask=2: the reader reports every damaged file on stderr
exec ./fuzz_connect_export -max_total_time="$SECS" -close_fd_mask=2 -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -dict="$ROOT/tests/fuzz/connect.dict" -print_final_stats=1 corpus seeds
