#!/bin/bash
# The report benchmark (tests/bench/RESULTS.md): 100,000 audit entries.
#   tests/bench/bench_report.sh build/bench/bench_report [bench_report's options]
# 1. in process, per phase (bench_report: gather, csv, json, html);
# 2. the real command, end to end, on the same files: `dualsync report` in
#    each format to a file (best of 3 wall times, and peak memory).
set -eu
BENCH=$1; shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$ROOT/tests/out/bench-report
"$BENCH" "$@" "$DIR"
echo "dualsync report, end to end (best of 3; peak RSS):"
for fmt in csv json html; do
    best=
    for _ in 1 2 3; do
        /usr/bin/time -f '%e %M' -o "$DIR/time" "$ROOT/dualsync" -c "$DIR/dualsync.conf" report \
            --format "$fmt" -o "$DIR/report.$fmt"
        read -r secs kb < "$DIR/time"
        if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; rss=$kb; fi
    done
    printf '  %-4s %5.2f s  %4d MB  %s\n' "$fmt" "$best" $((rss / 1024)) \
        "$(du -h "$DIR/report.$fmt" | cut -f1)"
done
