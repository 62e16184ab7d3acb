# shellcheck shell=bash disable=SC2034
# Shared helpers for the lab scripts (sourced, not run).
# Callers set LAB_TAG (log prefix) before sourcing; PREFIX is set by lab_prefix.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_T0=$(date +%s%N)

log() {
    local ms=$(( ($(date +%s%N) - LAB_T0) / 1000000 ))
    printf '[%s %4d.%02ds] %s\n' "${LAB_TAG:-lab}" $((ms / 1000)) $((ms % 1000 / 10)) "$*" >&2
}
die() { log "error: $*"; exit 1; }

# lab_prefix [ARG]: PREFIX from the argument, $AD_LAB_PREFIX, or /tmp/dualsync-lab.
# Refuses paths whose removal (--purge, reprovision) would hurt.
lab_prefix() {
    PREFIX=${1:-${AD_LAB_PREFIX:-/tmp/dualsync-lab}}
    case "$PREFIX" in
        /*) ;;
        *) PREFIX=$(pwd)/$PREFIX ;;
    esac
    PREFIX=${PREFIX%/}
    case "$PREFIX" in
        ""|/|/tmp|/root|/home|/usr|/var|/etc|/work|/work/main) die "refusing PREFIX=$PREFIX" ;;
    esac
}

# samba_running: true when PREFIX/run/samba.pid names a live samba root process.
# Samba rewrites its argv ("samba: root process"), so the binary is checked instead.
samba_running() {
    local pf="$PREFIX/run/samba.pid" pid
    [ -s "$pf" ] || return 1
    pid=$(tr -dc 0-9 < "$pf")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(readlink "/proc/$pid/exe")" = /usr/sbin/samba ]
}

samba_pid() { tr -dc 0-9 < "$PREFIX/run/samba.pid"; }

# descendants PID: every live descendant pid, depth first.
descendants() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done
}

# stop_pids TIMEOUT_TENTHS PID...: SIGTERM the first pid, wait for all, SIGKILL leftovers by pid.
stop_pids() {
    local tenths=$1 lead=$2 alive p
    shift
    kill -TERM "$lead" 2>/dev/null
    for _ in $(seq 1 "$tenths"); do
        alive=""
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
        [ -z "$alive" ] && return 0
        sleep 0.1
    done
    log "SIGKILL to leftover pids:$alive"
    # shellcheck disable=SC2086
    kill -KILL $alive 2>/dev/null
    return 0
}
