#!/bin/bash
# Stop the lab AD started by ad-start.sh, by PID only (never by process name).
#
#   tests/lab/ad-stop.sh [PREFIX] [--purge]     --purge also removes PREFIX
#
# SIGTERM goes to the samba root pid in PREFIX/run/samba.pid; it leads its own
# process group and takes its ~50 workers with it within about 2 s. Any
# descendant still alive after 15 s gets SIGKILL, by pid. Proxies started with
# adproxy-start.sh for this PREFIX are stopped too.
set -uo pipefail
LAB_TAG=ad-stop
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
arg="" PURGE=0
for a in "$@"; do
    case "$a" in
        --purge) PURGE=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) arg=$a ;;
    esac
done
lab_prefix "$arg"

for pf in "$PREFIX"/run/adproxy-*.pid; do
    [ -e "$pf" ] || continue
    port=${pf##*/adproxy-}; port=${port%.pid}
    "$LAB_DIR/adproxy-stop.sh" "$PREFIX" "$port"
done

if samba_running; then
    pid=$(samba_pid)
    # collect the workers first: once the root exits they are reparented
    # shellcheck disable=SC2046
    stop_pids 150 "$pid" $(descendants "$pid")
    log "samba (pid $pid) stopped"
    rm -f "$PREFIX/run/"*.pid
elif [ -e "$PREFIX/run/samba.pid" ]; then
    log "pid file $PREFIX/run/samba.pid is stale; nothing to stop"
    rm -f "$PREFIX/run/"*.pid
else
    log "no samba pid file in $PREFIX/run; nothing to stop"
fi

if [ "$PURGE" = 1 ]; then
    if [ -e "$PREFIX/.dualsync-lab" ]; then
        rm -rf "$PREFIX"
        log "removed $PREFIX"
    elif [ -e "$PREFIX" ]; then
        die "$PREFIX is not a dualsync lab prefix; not removing it"
    fi
fi
exit 0
