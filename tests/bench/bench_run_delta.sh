#!/bin/bash
# A delta cycle of `dualsync run`, end to end: CHANGES changes in the lab AD
# among a population of POP users, a Connect cycle, then one timed
# `dualsync run` (issue 5: Graph requests <= changes/20 + 10, and wall time
# that follows the number of changes, not the population).
#
#   tests/bench/bench_run_delta.sh [--record] [--stop-lab] [--help]
#   DUALSYNC=/tmp/dualsync-before LABEL=before tests/bench/bench_run_delta.sh --record
#
# Per population POP (as root; the lab needs it):
#   1. the lab AD (a real Samba AD DC, tests/lab/ad-start.sh) at LAB_BASE-POP,
#      seeded with POP users (tests/lab/ad-seed.sh PREFIX POP SEED). A lab
#      that is seeded already is reused as it is: seeding 100,000 users takes
#      7+ minutes. The lab runs inside the network namespace NETNS, so it does
#      not collide with another lab on this machine (every lab binds the fixed
#      ports 88/389/636/... on 127.0.0.1): the script re-executes itself in the
#      namespace, so the lab, the simulator, ldapadd and dualsync all talk over
#      the namespace's own loopback. Only one lab runs per namespace: the
#      script stops its own labs of other sizes (LAB_BASE-*, running in NETNS)
#      before it starts this one. The last lab is left running (--stop-lab
#      stops it); stop it by hand with
#        ip netns exec NETNS tests/lab/ad-stop.sh LAB_BASE-POP
#   2. graphsim with the defense example's two tenants, commercial (global)
#      and gcch (GCC High) (tests/integration/convert_lib.sh: sim_start,
#      mkconvconf), scoped to every user (sAMAccountName=*); a Connect cycle
#      into both; the initial `dualsync run --max-changes 1000000`, which
#      converts everybody who is at home in the other tenant (timed apart: it
#      is not the figure).
#   3. a full `dualsync pull` that sets a watermark (the full LDAP read, alone);
#      then the changes: CHANGES new hires added over LDAPS (ldapadd), half at
#      Contoso (home commercial: each one converted in gcch, external member
#      or guest by extensionAttribute2), half at Contoso Defense (home gcch:
#      each one an external member of commercial), so the delta is exactly
#      CHANGES conversions; a second Connect cycle; then the delta run:
#      `dualsync --debug run`, timed, its stderr lines stamped with the time
#      they arrived, the simulator adding LAT ms to every Graph answer. After
#      it, `dualsync pull` from the watermark (the delta LDAP read, alone).
#      The hires are deleted again at the end (and at the start, after a run
#      that was killed), so the lab keeps its seeded population.
#
# Figures of the delta run: wall seconds; the seconds before its first Graph
# request (from the simulator's request log: reading AD and planning, whatever
# the binary does there); the LDAP read inside the run, from the stamped debug
# lines (first `search` to "read N objects", when the binary prints them);
# HTTP requests to Graph (a $batch envelope counts once: the count held
# against the target) and Graph requests (each $batch item counted), token
# requests apart, as tests/bench/bench_delta.sh counts them; invitations the
# simulator took (201) and PATCHes; the records the run checks again in Graph
# (BLOCKED in its summary: the seed's users without mail) and how it found
# the users (lookups by immutableId, or pages of the full listing).
# Prints two markdown tables (the delta runs; the set-up steps) and keeps every
# output in BENCH_OUT/POP. Exits 1 when a delta run fails, converts other than
# CHANGES users, or misses the request target; 2 on a usage error.
#
# Environment (defaults in brackets):
#   DUALSYNC [./dualsync-test]   the binary under test, a test build (make test-bin: it
#                                reaches the simulator through src/testhooks.c)
#   LABEL [binary's sha256]      what the binary is, for the record
#   POPS ["10000 100000"]        populations (AD users)
#   CHANGES [100]                new hires = conversions in the delta (even: half per tenant)
#   LAT [100]                    ms added to every Graph answer during the delta run
#   NETNS [dsbench]              network namespace (created if missing, with lo up)
#   LAB_BASE [/tmp/dsbench-lab]  lab prefixes are LAB_BASE-POP
#   SEED [1]                     seed of tests/lab/seed.py
#   AD_BACKEND [mdb]             backend of a lab provisioned here: tdb files stop at
#                                4 GB and 20,000 users already took 690 MB
#   BENCH_OUT [/tmp/bench_run_delta]   configs, mapping files, logs per POP (not in
#                                tests/out: other sessions' test runs clear it)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NETNS=${NETNS:-dsbench}
RECORD=0 STOP_LAB=0
for a in "$@"; do
    case "$a" in
        --record) RECORD=1 ;;
        --stop-lab) STOP_LAB=1 ;;
        -h|--help) sed -n '2,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "bench_run_delta: unknown option $a (see --help)" >&2; exit 2 ;;
    esac
done

# -------------------------------------------------------- the network namespace
# Re-executed inside NETNS: everything below, and every process it starts,
# sees only the namespace's loopback. The namespace has no other interface, so
# nothing leaves it.
if [ "${DSBENCH_IN_NETNS:-}" != "$NETNS" ]; then
    [ "$(id -u)" = 0 ] || { echo "bench_run_delta: must run as root (samba binds privileged ports; ip netns)" >&2; exit 2; }
    if [ ! -e "/run/netns/$NETNS" ]; then
        ip netns add "$NETNS" || exit 2
        echo "bench_run_delta: created network namespace $NETNS" >&2
    fi
    ip netns exec "$NETNS" ip link set lo up || exit 2
    DSBENCH_IN_NETNS=$NETNS exec ip netns exec "$NETNS" "$0" "$@"
fi
[ "$(ip netns identify $$)" = "$NETNS" ] || { echo "bench_run_delta: not inside network namespace $NETNS" >&2; exit 2; }

DS=${DUALSYNC:-$ROOT/dualsync-test}
case "$DS" in /*) ;; *) DS=$PWD/$DS ;; esac   # relative to where it was started
cd "$ROOT" || exit 2
POPS=${POPS:-10000 100000}
CHANGES=${CHANGES:-100}
LAT=${LAT:-100}
LAB_BASE=${LAB_BASE:-/tmp/dsbench-lab}
SEED=${SEED:-1}
export AD_BACKEND=${AD_BACKEND:-mdb}
BENCH_OUT=${BENCH_OUT:-/tmp/bench_run_delta}
[ -x "$DS" ] || { echo "bench_run_delta: $DS is not built (make test-bin, or DUALSYNC=PATH)" >&2; exit 2; }
case "$CHANGES" in ''|*[!0-9]*) echo "bench_run_delta: CHANGES must be a number" >&2; exit 2 ;; esac
DS_SHA=$(sha256sum "$DS" | cut -c1-12)
LABEL=${LABEL:-$DS_SHA}

T0=$(date +%s.%N)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
say() { printf '[bench_run_delta %7ss] %s\n' "$(secs "$T0" "$(now)")" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# stop_other_labs KEEP: our labs (LAB_BASE-*) running in this namespace, but KEEP
stop_other_labs() {
    local pf pid p
    for pf in "$LAB_BASE"-*/run/samba.pid; do
        [ -s "$pf" ] || continue
        p=${pf%/run/samba.pid}
        [ "$p" = "$1" ] && continue
        pid=$(tr -dc 0-9 <"$pf")
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || continue
        [ "$(ip netns identify "$pid" 2>/dev/null)" = "$NETNS" ] || continue
        say "stopping our lab $p (pid $pid): one lab per namespace"
        "$ROOT/tests/lab/ad-stop.sh" "$p" >/dev/null 2>&1
    done
}

ldap_admin() {  # ldapsearch/ldapadd/ldapdelete as the lab admin over LDAPS, CA-verified
    local tool=$1; shift
    LDAPTLS_CACERT=$AD_CA_FILE "$tool" -H "$AD_LDAPS_URI" -x -D "$AD_BIND_UPN" -y "$AD_PW_FILE" "$@"
}

# remove_hires WHY: delete the new hires of this benchmark (bench.hire*), if any
remove_hires() {
    ldap_admin ldapsearch -LLL -o ldif-wrap=no -b "$AD_BASE_DN" '(sAMAccountName=bench.hire*)' dn 2>/dev/null |
        sed -n 's/^dn: //p' >"$W/hires.old"
    [ -s "$W/hires.old" ] || return 0
    ldap_admin ldapdelete -c -f "$W/hires.old" >/dev/null 2>&1
    say "removed $(wc -l <"$W/hires.old") new hires $1 from AD"
}

# hires_ldif N: N new hires, alternately at Contoso (home commercial, US or
# non-US person) and Contoso Defense (home gcch, US persons)
hires_ldif() {
    local i n=$1 co ou dom ext1 ext2
    for i in $(seq 1 "$n"); do
        if [ $((i % 2)) = 1 ]; then
            co=Contoso ou="OU=US,OU=Contoso" dom=contoso.example ext1=commercial
            if [ $((i % 4)) = 1 ]; then ext2=us-person; else ext2=non-us-person; fi
        else
            co="Contoso Defense" ou="OU=US,OU=Contoso Defense" dom=fabrikam-defense.example ext1=gcch ext2=us-person
        fi
        printf '%s\n' "dn: CN=Bench Hire $i,$ou,$AD_BASE_DN" "objectClass: user" \
            "sAMAccountName: bench.hire$i" "userPrincipalName: bench.hire$i@$dom" \
            "mail: bench.hire$i@$dom" "displayName: Bench Hire $i" "givenName: Bench" "sn: Hire $i" \
            "c: US" "co: United States" "company: $co" "department: Engineering" \
            "extensionAttribute1: $ext1" "extensionAttribute2: $ext2" "userAccountControl: 512" ""
    done
}

# timed NAME CMD...: run CMD, its stdout/stderr to $W/NAME.out/.err, its wall
# seconds in $W/NAME.secs; returns CMD's exit code
timed() {
    local name=$1 t rc; shift
    t=$(now)
    "$@" >"$W/$name.out" 2>"$W/$name.err"
    rc=$?
    secs "$t" "$(now)" >"$W/$name.secs"
    return $rc
}

# stamped_stderr OUTFILE CMD...: run CMD, each line of its stderr written to
# OUTFILE preceded by the epoch time it arrived; returns CMD's exit code.
# The stamper must be reading before CMD writes: started in a pipe beside
# CMD, Python took longer to start than the run took to read AD, and every
# line up to the first network wait arrived at once with one time (the
# "AD read" column read 0.00 s). So it starts first, says when it is ready,
# and opens the FIFO CMD then writes to.
stamped_stderr() {
    local out=$1 fifo=$W/stderr.fifo ready=$W/stderr.ready spid rc i=0; shift
    rm -f "$fifo" "$ready"
    mkfifo "$fifo" || return 2
    python3 -u -c 'import sys, time
open(sys.argv[2], "w").close()
with open(sys.argv[1]) as f, open(sys.argv[3], "w") as out:
    for l in f:
        out.write("%.3f %s" % (time.time(), l))
        out.flush()' "$fifo" "$ready" "$out" &
    spid=$!
    while [ ! -e "$ready" ] && [ $i -lt 300 ]; do sleep 0.01; i=$((i + 1)); done
    "$@" 2>"$fifo"
    rc=$?
    wait "$spid"
    rm -f "$fifo" "$ready"
    return $rc
}

# log_settle: the simulator's request log is written when a request ends; wait
# until its length stops changing
log_settle() {
    local a b
    b=$(wc -l <"$SIM/requests.jsonl")
    while :; do sleep 0.3; a=$b; b=$(wc -l <"$SIM/requests.jsonl"); [ "$a" = "$b" ] && break; done
}

# graph_counts SEQ T_START: "HTTP GRAPH_REQUESTS TOKENS INVITED_201 PATCH FIRST_S
# LOOKUPS PAGES" from the request log after line SEQ; FIRST_S = seconds from
# T_START to the first Graph or token request (- when none); LOOKUPS: GETs of
# users by onPremisesImmutableId (each $batch item), PAGES: GETs of the full
# listing of synced users (every page), per tenant as "commercial:N,gcch:N"
graph_counts() {
    tail -n +$(($1 + 1)) "$SIM/requests.jsonl" | python3 -c '
import collections, datetime, json, sys
E = [e for e in map(json.loads, sys.stdin) if e.get("kind") in ("graph", "token")]
graph = [e for e in E if e["kind"] == "graph"]
http = [e for e in graph if e.get("via") != "batch"]
items = [e for e in graph if not e.get("path", "").endswith("/$batch")]
inv = [e for e in items if e["method"] == "POST" and e["path"].endswith("/invitations") and e["status"] == 201]
patch = [e for e in items if e["method"] == "PATCH"]
users = [e for e in items if e["method"] == "GET" and e["path"].endswith("/users")]
q = lambda e: e.get("query") or ""
per = lambda L: ",".join("%s:%d" % kv for kv in sorted(collections.Counter(e.get("tenant") for e in L).items())) or "0"
lookups = per([e for e in users if "onPremisesImmutableId%20in" in q(e) or "onPremisesImmutableId%20eq" in q(e)])
pages = per([e for e in users if "onPremisesSyncEnabled%20eq%20true" in q(e)])
t = lambda e: datetime.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
    tzinfo=datetime.timezone.utc).timestamp()
first = "%.2f" % (min(map(t, E)) - float(sys.argv[1])) if E else "-"
print(len(http), len(items), len(E) - len(graph), len(inv), len(patch), first, lookups, pages)' "$2"
}

# summary_col N FILE: column N of a run summary's tenant rows, added up
# (3 INVITED, 5 TYPE, 8 BLOCKED, 11 REQUESTS)
summary_col() { awk -v c="$1" '$NF ~ /^(done|partial|stopped)$/ && NF >= 12 { n += $c } END { print n + 0 }' "$2"; }

# ad_read_in_run FILE: seconds from the first `search` of the run's AD read to
# its "read N objects" line (stamped debug lines), or - when there is none
ad_read_in_run() {
    awk '/dualsync: debug: search base=/ { if (!s || done) { s = $1; done = 0 } }
         /dualsync: read [0-9]+ objects/ { e = $1; done = 1 }
         END { if (s && e) printf "%.2f", e - s; else print "-" }' "$1"
}

# ------------------------------------------------------------------ per POP
SUM=$BENCH_OUT/summary.md
mkdir -p "$BENCH_OUT"
echo "| population | changes | AD objects in scope | delta run: wall s | before the 1st Graph request s | of it the AD read s | from the 1st Graph request to the end s | HTTP requests to Graph (\$batch = 1) | Graph requests (\$batch items each) | token | invited (201) | userType PATCH | blocked (the summary's BLOCKED) | user lookups / listing pages | target HTTP <= changes/20 + 10 | pull --full s | pull from the watermark s |" >"$SUM"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" >>"$SUM"
SETUP=$BENCH_OUT/setup.md
echo "| population | AD backend | lab start s | seed s | Connect cycle 1 s (2 tenants) | initial run s | initial conversions | ldapadd of the hires s | Connect cycle 2 s |" >"$SETUP"
echo "|---|---|---|---|---|---|---|---|---|" >>"$SETUP"
fail=0
SIM='' SIM_PID=''
# the simulator is stopped by its pid file, or by the pid read at its start
# when the pid file is gone
trap '[ -n "$SIM" ] && { "$ROOT/tests/graphsim/stop.sh" "$SIM" >/dev/null 2>&1; [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; }' EXIT
for POP in $POPS; do
    LAB=$LAB_BASE-$POP
    W=$BENCH_OUT/$POP
    rm -rf "$W"
    mkdir -p "$W"
    say "== population $POP: lab $LAB in network namespace $NETNS, output in $W"
    stop_other_labs "$LAB"
    timed lab-start "$ROOT/tests/lab/ad-start.sh" "$LAB" || { tail -n 20 "$W/lab-start.err" >&2; die "ad-start.sh $LAB failed"; }
    say "lab up in $(cat "$W/lab-start.secs") s"
    if grep -qx "want=users=$POP seed=$SEED big_group=1600" "$LAB/seed.state" 2>/dev/null &&
        grep -qx 'status=done' "$LAB/seed.state"; then
        # reused: what the seeding took when it was done
        awk -F= '/^load_ms=/ { printf "reused (seeded in %.0f)\n", $2 / 1000 }' "$LAB/seed.state" >"$W/seed.secs"
        say "lab seeded already with $POP users (seed $SEED): reused"
    else
        say "seeding $POP users (seed $SEED): 100,000 take 7+ minutes"
        timed seed "$ROOT/tests/lab/ad-seed.sh" "$LAB" "$POP" "$SEED" || { tail -n 20 "$W/seed.err" >&2; die "ad-seed.sh failed"; }
        say "seeded in $(cat "$W/seed.secs") s"
    fi
    # shellcheck disable=SC1091
    . "$LAB/env.sh"
    # the lab's database backend (a lab reused as it is may have another than AD_BACKEND)
    backend=$(ldbsearch -H "$LAB/private/sam.ldb" -b @PARTITION -s base backendStore 2>/dev/null |
        sed -n 's/^backendStore: //p')
    remove_hires "of an earlier run that did not finish"

    # the simulator and the config: convert_lib.sh's, for every user in scope
    # shellcheck disable=SC2034 # OUT and FILTER are read by convert_lib.sh
    OUT=$W FILTER='(sAMAccountName=*)'
    # shellcheck disable=SC1091
    . "$ROOT/tests/integration/convert_lib.sh"
    sim_start "$W/sim" false || { cat "$W/sim/start.err" >&2; die "graphsim did not start"; }
    SIM_PID=$(cat "$SIM/graphsim.pid")
    mkconvconf "$W/bench.conf" "$W/mappings"
    timed connect1 connect commercial gcch || die "Connect cycle 1 failed: $(cat "$W/connect1.err")"
    say "Connect cycle 1 (both tenants): $(cat "$W/connect1.secs") s; added $(python3 -c 'import json,sys
print(" + ".join(str(json.load(open(f))["added"]) for f in sys.argv[1:]))' "$W"/cycle-*.json)"

    # the initial run: everybody at home in the other tenant is converted
    timed run1 "$DS" -c "$W/bench.conf" run --no-progress --max-changes 1000000
    rc=$?
    [ "$rc" -le 1 ] || { tail -n 20 "$W/run1.err" >&2; die "initial run: exit $rc"; }
    say "initial run (exit $rc): $(cat "$W/run1.secs") s, $(summary_col 3 "$W/run1.out") invited"

    # the full LDAP read alone; it also sets the watermark of the delta pull
    timed pull-full "$DS" -c "$W/bench.conf" pull --no-progress --watermark-file "$W/pull.watermark" ||
        die "pull: $(cat "$W/pull-full.err")"
    objects=$(awk '/^total|objects/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { print $i; exit } }' "$W/pull-full.out")

    # the changes
    hires_ldif "$CHANGES" >"$W/hires.ldif"
    timed ldapadd ldap_admin ldapadd -f "$W/hires.ldif" || die "ldapadd of the hires: $(cat "$W/ldapadd.err")"
    timed connect2 connect commercial gcch || die "Connect cycle 2 failed: $(cat "$W/connect2.err")"
    say "$CHANGES hires added in $(cat "$W/ldapadd.secs") s; Connect cycle 2: $(cat "$W/connect2.secs") s; added $(python3 -c 'import json,sys
print(" + ".join(str(json.load(open(f))["added"]) for f in sys.argv[1:]))' "$W"/cycle-*.json)"

    # the delta run, timed; Graph answers slowed by LAT ms
    sim POST /_sim/faults "{\"reset\": true, \"latency_ms\": $LAT}" >/dev/null
    log_settle
    seq=$(wc -l <"$SIM/requests.jsonl")
    t=$(now)
    stamped_stderr "$W/run2.err" "$DS" --debug -c "$W/bench.conf" run --no-progress >"$W/run2.out"
    rc=$?
    wall=$(secs "$t" "$(now)")
    sim POST /_sim/faults '{"reset": true}' >/dev/null
    log_settle
    # shellcheck disable=SC2046 # eight figures, split on purpose
    set -- $(graph_counts "$seq" "$t")
    http=$1 greq=$2 tok=$3 inv=$4 patch=$5 first=$6 lookups=$7 pages=$8
    graph_s=-
    [ "$first" = - ] || graph_s=$(awk -v w="$wall" -v f="$first" 'BEGIN { printf "%.2f", w - f }')
    blocked=$(summary_col 8 "$W/run2.out")
    adread=$(ad_read_in_run "$W/run2.err")

    # the delta LDAP read alone, from the watermark taken before the changes
    timed pull-delta "$DS" -c "$W/bench.conf" pull --no-progress --watermark-file "$W/pull.watermark" ||
        die "delta pull: $(cat "$W/pull-delta.err")"
    remove_hires "of this run (the lab keeps its seeded population)"
    sim_stop
    SIM='' SIM_PID=''

    target=$((CHANGES / 20 + 10))
    verdict=yes
    [ "$http" -le "$target" ] || verdict=no
    [ "$rc" -le 1 ] && [ "$inv" = "$CHANGES" ] || { fail=1; tail -n 20 "$W/run2.err" >&2; }
    [ "$verdict" = yes ] || fail=1
    say "delta run (exit $rc): $wall s wall, first Graph request after $first s, AD read in it ${adread} s;" \
        "HTTP $http, Graph requests $greq, token $tok, invited $inv, PATCH $patch, blocked $blocked," \
        "lookups $lookups, listing pages $pages; pull --full $(cat "$W/pull-full.secs") s, delta pull $(cat "$W/pull-delta.secs") s"
    echo "| $POP | $CHANGES | ${objects:-?} | $wall | $first | $adread | $graph_s | $http | $greq | $tok | $inv | $patch | $blocked | $lookups / $pages | $target: $verdict | $(cat "$W/pull-full.secs") | $(cat "$W/pull-delta.secs") |" >>"$SUM"
    echo "| $POP | ${backend:-?} | $(cat "$W/lab-start.secs") | $(cat "$W/seed.secs") | $(cat "$W/connect1.secs") | $(cat "$W/run1.secs") | $(summary_col 3 "$W/run1.out") | $(cat "$W/ldapadd.secs") | $(cat "$W/connect2.secs") |" >>"$SETUP"
done

if [ -z "${LAB:-}" ]; then
    :   # POPS was empty: no lab
elif [ "$STOP_LAB" = 1 ]; then
    "$ROOT/tests/lab/ad-stop.sh" "$LAB" >/dev/null 2>&1
    say "lab $LAB stopped"
else
    say "lab $LAB left running in namespace $NETNS; stop it with: ip netns exec $NETNS tests/lab/ad-stop.sh $LAB"
fi
cat "$SUM"
echo
cat "$SETUP"
if [ "$RECORD" = 1 ]; then
    mem=$(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)
    samba_v=$(samba --version 2>/dev/null | sed 's/^Version //')
    {
        if ! grep -q '^## Delta cycle, end to end' "$ROOT/tests/bench/RESULTS.md"; then
            echo
            echo "## Delta cycle, end to end: \`dualsync run\` after 100 changes among 10,000 and 100,000 users (\`tests/bench/bench_run_delta.sh\`)"
            echo
            cat <<'TEXT'
Target (issue 5): Graph requests <= changes/20 + 10, and wall time that follows
the number of changes, not the population. Unlike bench_delta.sh (the Graph
side alone, on a simulator seeded directly), this is the whole `dualsync run`
against the lab AD (a Samba AD DC in its own network namespace, seeded with
POP users by ad-seed.sh) and graphsim with the defense example's two tenants,
filled by its Connect cycles (every user in scope). After the initial run
(which converts everybody at home in the other tenant), the delta: CHANGES new
hires added over LDAPS, half at Contoso (each converted in gcch), half at
Contoso Defense (each converted in commercial), a second Connect cycle, then
one timed `dualsync --debug run`, with LAT ms added to every Graph answer.
Columns: "before the 1st Graph request" is from the start of the run to the
first request in the simulator's log (reading AD and planning, whatever the
binary does there); "of it the AD read" is from the first `search` debug
line of the run's AD read to its "read N objects" line (stderr lines stamped
as they arrive; "-" when the binary prints no such line); requests
are counted from the simulator's log as in bench_delta.sh; "blocked" is the
BLOCKED column of the run's summary (before 90a48f3 every one of them was
looked up in Graph again each run; since, only those whose cloud user
changed); "user lookups / listing pages" are GETs of users by
onPremisesImmutableId (each $batch item) and pages of the full listing of
synced users, per tenant. `pull --full` is `dualsync pull` alone before the
changes (it sets a watermark), "pull from the watermark" the same after the
changes: the LDAP read a delta needs.
TEXT
        fi
        echo
        echo "### $(date -u +%Y-%m-%d) $(uname -m), $(nproc) CPUs, $mem: $LABEL, CHANGES=$CHANGES LAT=$LAT POPS=\"$POPS\""
        echo
        echo "Command: \`DUALSYNC=$DS LABEL=\"$LABEL\" POPS=\"$POPS\" CHANGES=$CHANGES LAT=$LAT tests/bench/bench_run_delta.sh --record\`"
        echo "(binary sha256 $DS_SHA; Samba $samba_v; load average at the start: $LOAD0)"
        echo
        cat "$SUM"
        echo
        echo "Set-up (not the figure):"
        echo
        cat "$SETUP"
    } >>"$ROOT/tests/bench/RESULTS.md"
    echo "(appended to tests/bench/RESULTS.md)"
fi
exit $fail
