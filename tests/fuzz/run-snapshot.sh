#!/bin/sh
# Fuzz the loader of the copy of AD kept between runs (snapshot_load) with
# libFuzzer, ASan and UBSan for SECONDS (default 60). Not part of `make check`.
#
#   tests/fuzz/run-snapshot.sh [SECONDS]        (make fuzz-snapshot FUZZ_SECONDS=N)
#
# Builds tests/out/fuzz-snapshot/fuzz_snapshot with clang (installed from
# Debian if missing), has it write valid files made through the API as seeds,
# and runs. Most inputs get a valid SHA-256 trailer from the target itself
# (see fuzz_snapshot.c), so the parser behind the checksum is what is fuzzed.
# A crash or leak leaves crash-*/leak-* files in tests/out/fuzz-snapshot/ and
# exits non-zero; replay one with: tests/out/fuzz-snapshot/fuzz_snapshot FILE
set -eu
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/out/fuzz-snapshot
cd "$ROOT"

. tests/fuzz/lib.sh
need_clang

mkdir -p "$OUT/corpus" "$OUT/seeds"
# shellcheck disable=SC2046
fuzz_build "$OUT/fuzz_snapshot" tests/fuzz/fuzz_snapshot.c src/snapshot.c src/adobject.c src/platform_posix.c src/platform.c \
    src/util.c src/log.c $(pkg-config --cflags --libs libcrypto libcjson)

# the seeds: valid files written through snapshot_save (-runs=0: nothing else)
FUZZ_SNAPSHOT_SEEDS=$OUT/seeds "$OUT/fuzz_snapshot" -runs=0 "$OUT/seeds" >/dev/null 2>&1

cd "$OUT"
# -close_fd_mask=2: the loader's warnings would drown libFuzzer's own output
# (which it keeps on a copy of stderr)
exec ./fuzz_snapshot -max_total_time="$SECS" -close_fd_mask=2 -max_len=65536 \
    -print_final_stats=1 corpus seeds
