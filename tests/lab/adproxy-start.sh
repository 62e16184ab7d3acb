#!/bin/bash
# Start adproxy.py (AD's MaxPageSize/MaxValRange in front of the lab's Samba) in the background.
#
#   tests/lab/adproxy-start.sh [PREFIX] [PORT] [adproxy flags...]     defaults: /tmp/dualsync-lab 6360
#   e.g. adproxy-start.sh /tmp/dualsync-lab 6361 --drop-after-entries 1500 --referral
#
# Listens on ldaps://127.0.0.1:PORT with PREFIX/tls/proxy-cert.pem (lab CA) and
# relays to Samba's ldaps://127.0.0.1:636, verifying it against PREFIX/tls/ca.pem.
# PID in PREFIX/run/adproxy-PORT.pid, log in PREFIX/log/adproxy-PORT.log.
# A proxy already running on PORT for this PREFIX is stopped first, so tests can
# restart it with other flags. Prints the URI on stdout.
set -euo pipefail
LAB_TAG=adproxy-start
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
lab_prefix "${1:-}"
PORT=${2:-6360}
shift $(( $# > 2 ? 2 : $# ))
case "$PORT" in ''|*[!0-9]*) die "PORT must be a number";; esac
PF=$PREFIX/run/adproxy-$PORT.pid
LOG=$PREFIX/log/adproxy-$PORT.log
[ -f "$PREFIX/tls/proxy-cert.pem" ] || die "no lab in $PREFIX (run tests/lab/ad-start.sh first)"
samba_running || log "warning: samba is not running in $PREFIX; connections will fail"

[ -e "$PF" ] && "$LAB_DIR/adproxy-stop.sh" "$PREFIX" "$PORT"
if [ -n "$(ss -Hltn "( sport = :$PORT )")" ]; then
    die "TCP port $PORT is already in use"
fi
mkdir -p "$PREFIX/run" "$PREFIX/log"
# setsid: its own session, so a terminal's Ctrl-C or the caller's exit leaves it
# alone; it is stopped by PID with adproxy-stop.sh.
setsid python3 "$LAB_DIR/adproxy.py" --listen "127.0.0.1:$PORT" \
    --cert "$PREFIX/tls/proxy-cert.pem" --key "$PREFIX/tls/proxy-key.pem" --ca "$PREFIX/tls/ca.pem" \
    --upstream-host 127.0.0.1 --upstream-port 636 --pidfile "$PF" "$@" \
    >> "$LOG" 2>&1 < /dev/null &
bg=$!
# ready = pid file written (after bind+listen) and the port answers
for _ in $(seq 1 100); do
    [ -s "$PF" ] && [ -n "$(ss -Hltn "( sport = :$PORT )")" ] && break
    kill -0 "$bg" 2>/dev/null || { tail -5 "$LOG" >&2; die "adproxy exited"; }
    sleep 0.05
done
[ -s "$PF" ] || { tail -5 "$LOG" >&2; die "adproxy did not come up"; }
log "adproxy pid $(cat "$PF") on ldaps://127.0.0.1:$PORT ${*:+($*)}; log $LOG"
echo "ldaps://127.0.0.1:$PORT"
