#!/bin/sh
# Start graphsim in the background and wait until it answers over TLS, verified
# with its own CA (graphsim.py call: Python's ssl, no other tool needed).
#   tests/graphsim/start.sh STATEDIR CONFIG [PORT] [extra graphsim serve options...]
# PORT 0 (or "auto") picks a free port; the port in use is written to STATEDIR/port.
# Extra options, e.g.: --seed 7 --time-scale 0.01 --token-lifetime 60
# Writes STATEDIR/graphsim.pid; output goes to STATEDIR/graphsim.out.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 STATEDIR CONFIG [PORT] [graphsim options...]" >&2; exit 2; }
STATE=$1; CONFIG=$2; shift 2
PORT=8443
if [ $# -ge 1 ]; then PORT=$1; shift; fi
[ "$PORT" = auto ] && PORT=0
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
PIDFILE="$STATE/graphsim.pid"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "graphsim: already running (pid $(cat "$PIDFILE")); stop it with $HERE/stop.sh $STATE" >&2
    exit 1
fi
rm -f "$STATE/port" "$PIDFILE"
"$PY" "$HERE/graphsim.py" serve --config "$CONFIG" --state-dir "$STATE" --port "$PORT" "$@" \
    >>"$STATE/graphsim.out" 2>&1 &
PID=$!
echo "$PID" >"$PIDFILE"
i=0
while :; do
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "graphsim: exited during start; see $STATE/graphsim.out:" >&2
        tail -n 20 "$STATE/graphsim.out" >&2
        rm -f "$PIDFILE"
        exit 1
    fi
    if [ -s "$STATE/port" ] && [ -s "$STATE/ca.pem" ]; then
        P=$(cat "$STATE/port")
        if "$PY" "$HERE/graphsim.py" call --state-dir "$STATE" --port "$P" --timeout 2 \
            GET /_sim/health >/dev/null 2>&1; then
            break
        fi
    fi
    i=$((i + 1))
    if [ $i -ge 300 ]; then
        echo "graphsim: not answering after 30 s; see $STATE/graphsim.out" >&2
        kill "$PID" 2>/dev/null || true
        rm -f "$PIDFILE"
        exit 1
    fi
    sleep 0.1
done
# graphsim rewrote the pid file itself with the same pid; keep ours authoritative
echo "$PID" >"$PIDFILE"
echo "graphsim: pid $PID, https://127.0.0.1:$(cat "$STATE/port"), CA $STATE/ca.pem"
