#!/bin/bash
# Stop an adproxy.py started by adproxy-start.sh, by the PID in its pid file.
#   tests/lab/adproxy-stop.sh [PREFIX] [PORT]      defaults: /tmp/dualsync-lab 6360
set -uo pipefail
LAB_TAG=adproxy-stop
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
lab_prefix "${1:-}"
PORT=${2:-6360}
PF=$PREFIX/run/adproxy-$PORT.pid
[ -s "$PF" ] || { log "no pid file $PF; nothing to stop"; exit 0; }
pid=$(tr -dc 0-9 < "$PF")
# only our proxy: the pid must be alive and run adproxy.py
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q 'adproxy\.py'; then
    stop_pids 50 "$pid"
    log "adproxy (pid $pid, port $PORT) stopped"
else
    log "pid file $PF is stale"
fi
rm -f "$PF"
