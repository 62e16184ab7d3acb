#!/bin/sh
# Run graphsim's own tests; exit non-zero on failure.
#   tests/graphsim/run-tests.sh [-v] [TestClass[.test_name] ...]
# Set LAB_ENV=/path/to/lab/env.sh to also run the Connect cycle against the lab AD
# (tests/lab/ad-start.sh PREFIX; tests/lab/ad-seed.sh PREFIX N).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
for tool in openssl curl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "run-tests: $tool is required" >&2; exit 2; }
done
cd "$HERE"
exec "$PY" -W default test_graphsim.py "$@"
