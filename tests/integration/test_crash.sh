#!/bin/bash
# The crash test in make check: every journal step of the first 100 and a
# random sample of the rest (tests/crash-sweep.sh all: every step).
exec "$(dirname "$0")/../crash-sweep.sh" quick
