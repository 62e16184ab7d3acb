#!/bin/sh
# Stop the graphsim started by start.sh STATEDIR (by its PID only).
#   tests/graphsim/stop.sh STATEDIR
set -eu
[ $# -eq 1 ] || { echo "usage: $0 STATEDIR" >&2; exit 2; }
PIDFILE="$1/graphsim.pid"
if [ ! -f "$PIDFILE" ]; then
    echo "graphsim: not running (no $PIDFILE)" >&2
    exit 0
fi
PID=$(cat "$PIDFILE")
case "$PID" in ''|*[!0-9]*) echo "graphsim: bad pid file $PIDFILE" >&2; exit 1;; esac
if kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"
    i=0
    while kill -0 "$PID" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -ge 100 ]; then
            echo "graphsim: pid $PID still alive after 10 s, sending KILL" >&2
            kill -KILL "$PID" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
fi
rm -f "$PIDFILE"
echo "graphsim: stopped (pid $PID)"
