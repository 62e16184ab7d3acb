#!/bin/bash
# The tenant simulator's own tests (tests/graphsim/test_graphsim.py), with the
# Connect cycle run against the lab AD. One PASS/FAIL line per unittest case.
. "$(dirname "$0")/lib.sh"
LAB_ENV=$LAB/env.sh "$(dirname "$0")/../graphsim/run-tests.sh" -v > "$OUT/unittest.log" 2>&1
rc=$?
# unittest -v prints "test_x (module.Class.test_x) ... ok|FAIL|ERROR|skipped ..."
while IFS= read -r line; do
    case "$line" in
    *" ... ok") pass "graphsim: ${line% ... ok}" ;;
    *" ... FAIL"|*" ... ERROR") fail "graphsim: $line" ;;
    *" ... skipped"*) fail "graphsim: $line (the lab is up, nothing may be skipped)" ;;
    esac
done < <(grep -E ' \.\.\. (ok|FAIL|ERROR|skipped)' "$OUT/unittest.log")
[ "$rc" = 0 ] || fail "graphsim tests exited $rc: $(tail -5 "$OUT/unittest.log")"
finish
