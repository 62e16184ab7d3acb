# shellcheck shell=bash
# Leave no process behind (sourced by tests/demo.sh and tests/integration/run.sh).
#
# reap_init marks this shell's environment with a token that every process it
# starts inherits (Samba, the Graph simulator, a proxy, a `watch`), also those
# that daemonize or run in another session. reap_left, on the way out, ends by
# PID every process still carrying the token, whatever killed the run or
# whatever a test forgot, and names them on stderr.
reap_init() {
    # a caller's token stays: a nested run (make check's run.sh under CI's) is
    # reaped by its own caller too, and never reaps its parent
    DUALSYNC_REAP_TOKEN=${DUALSYNC_REAP_TOKEN:-reap-$$-$RANDOM$RANDOM}
    export DUALSYNC_REAP_TOKEN
    REAP_SELF=$$
}

# reap_pids: the pids carrying the token, except this shell and its ancestors
# (one grep over every /proc/PID/environ; safe under set -e)
reap_pids() {
    local f pid skip=" " a=$REAP_SELF
    while [ -n "$a" ] && [ "$a" != 0 ]; do
        skip="$skip$a "
        a=$(awk '{print $4}' "/proc/$a/stat" 2>/dev/null) || a=
    done
    skip="$skip$BASHPID "
    for f in $(grep -lzxF "DUALSYNC_REAP_TOKEN=$DUALSYNC_REAP_TOKEN" /proc/[0-9]*/environ 2>/dev/null || true); do
        pid=${f#/proc/}; pid=${pid%/environ}
        case $skip in *" $pid "*) ;; *) echo "$pid" ;; esac
    done
    return 0
}

# reap_left WHO: end what is left (TERM, then KILL after 3 s); says what it ended
reap_left() {
    local who=$1 pids p names="" i
    pids=$(reap_pids)
    [ -n "$pids" ] || return 0
    for p in $pids; do names="$names $p($(cat "/proc/$p/comm" 2>/dev/null))"; done
    echo "$who: ending processes left running:$names" >&2
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for i in $(seq 30); do
        pids=$(reap_pids)
        [ -n "$pids" ] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    return 0
}
