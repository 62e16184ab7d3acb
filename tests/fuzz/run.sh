#!/bin/sh
# Fuzz the config loader and the rule parser for SECONDS (default 60):
#   tests/fuzz/run.sh [SECONDS]              (make fuzz FUZZ_SECONDS=N [FUZZ_RUNS=N])
# FUZZ_RUNS=N stops after N inputs instead, if that comes first (-runs).
# Every input has a 10 s timeout and the process an RSS limit of 2048 MB:
# a config that takes longer or more memory (a hostile regex) is a finding.
# Builds tests/out/fuzz-config/fuzz_config with clang (installed with apt-get if
# missing), runs it on a working corpus seeded from tests/fuzz/corpus-config,
# and leaves any crash input in tests/out/fuzz-config/ (crash-*, leak-*); replay
# one with: tests/out/fuzz-config/fuzz_config FILE. Not part of `make check`.
set -eu
SECONDS_TO_RUN=${1:-60}
case "$SECONDS_TO_RUN" in *[!0-9]*|'') echo "usage: tests/fuzz/run.sh [SECONDS]" >&2; exit 2;; esac
cd "$(dirname "$0")/../.."
. tests/fuzz/lib.sh
need_clang
case "${FUZZ_RUNS:--1}" in -1) ;; *[!0-9]*) echo "FUZZ_RUNS: a number of inputs" >&2; exit 2;; esac
make tests/out/fuzz-config/fuzz_config
mkdir -p tests/out/fuzz-config/corpus
# -close_fd_mask=2: the loader reports every config error on stderr; keep the
# fuzzer's own output readable
cd tests/out/fuzz-config
./fuzz_config -max_total_time="$SECONDS_TO_RUN" -runs="${FUZZ_RUNS:--1}" -print_final_stats=1 \
    -close_fd_mask=2 -timeout=10 -rss_limit_mb=2048 \
    -dict=../../fuzz/rules.dict corpus ../../fuzz/corpus-config
