#!/bin/sh
# Conversion throughput of the Graph client against the simulator, and the
# same against a one-request-at-a-time client (DESIGN.md targets: >= 95 % of
# the throttle ceiling, >= 5 x sequential at 100 ms latency, < 1 % 429s).
#
#   tests/bench/bench_graph.sh [--record]     (after: make tools)
#
# Environment (defaults in brackets):
#   N [2000]       users converted by the batched client (POST /invitations)
#   SEQ_N [300]    users converted by the sequential client (--batch 1
#                  --in-flight 1); its rate is steady far below the limit, so
#                  a sample measures it
#   LAT [100]      ms added by the simulator to every Graph answer
#   WL [300]       the write limit per window (documented 3,000 per 150 s; a
#                  smaller bucket so that 2,000 conversions outgrow it and the
#                  limit, not the burst, sets the pace)
#   SCALE [0.02]   the simulator's --time-scale: the 150 s window lasts 3 s
#   ADAPT [1]      also run the client with the documented defaults (3,000 per
#                  window) against the smaller bucket: it must adapt (429s,
#                  Retry-After, x-ms-throttle-limit-percentage)
# The ceiling: a bucket of WL that refills WL per window lets N writes through
# in no less than (N - WL) / rate seconds (plus one answer's latency).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CTL=${CTL:-$ROOT/build/graphctl}
GS=${GRAPHSIM_DIR:-$ROOT/tests/graphsim}
N=${N:-2000}
SEQ_N=${SEQ_N:-300}
LAT=${LAT:-100}
WL=${WL:-300}
SCALE=${SCALE:-0.02}
ADAPT=${ADAPT:-1}
RECORD=0
[ "${1:-}" = --record ] && RECORD=1
[ -x "$CTL" ] || { echo "bench_graph: $CTL not built (make tools)" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/bench_graph.XXXXXX")
STATE=$T/state
trap '"$GS/stop.sh" "$STATE" >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT INT TERM
umask 077
head -c 30 /dev/urandom | base64 | tr -d '=\n' >"$T/app.secret"
umask 022
TOTAL=$((N * 2 + SEQ_N))
python3 - "$T" "$TOTAL" <<'EOF'
import base64, json, random, sys, uuid
t, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
users = []
for i in range(n):
    users.append({"id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                  "userPrincipalName": "b%05d@resource.example" % i, "displayName": "b%05d" % i,
                  "mail": "b%05d@partner.example" % i, "accountEnabled": True, "onPremisesSyncEnabled": True,
                  "onPremisesImmutableId": base64.b64encode(rnd.getrandbits(128).to_bytes(16, "little")).decode()})
cfg = {"seed": 3, "port": 0, "tenants": [{
    "name": "bench", "id": "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "cloud": "global",
    "verified_domains": ["resource.example"], "connect": {"write_onpremises_upn": False},
    "apps": [{"client_id": "1f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8", "secret_file": t + "/app.secret",
              "roles": ["User.Invite.All", "User.ReadWrite.All", "Directory.Read.All"]}],
    "users": users}]}
json.dump(cfg, open(t + "/sim.json", "w"))
with open(t + "/users", "w") as f:
    for u in users:
        f.write("%s %s\n" % (u["id"], u["mail"]))
EOF
"$GS/start.sh" "$STATE" "$T/sim.json" auto --time-scale "$SCALE" >"$T/start.out" 2>&1 ||
    { cat "$T/start.out" >&2; exit 1; }
PORT=$(cat "$STATE/port")
sim() { # METHOD PATH [JSON]
    if [ $# -ge 3 ]; then
        curl -sS --cacert "$STATE/ca.pem" --connect-to "::127.0.0.1:$PORT" -X "$1" \
            -H 'Content-Type: application/json' -d "$3" "https://graph.microsoft.com/_sim$2"
    else
        curl -sS --cacert "$STATE/ca.pem" --connect-to "::127.0.0.1:$PORT" -X "$1" \
            "https://graph.microsoft.com/_sim$2"
    fi
}
WINDOW=$(python3 -c "print(150 * $SCALE)")
fresh() { # a full bucket of WL writes, the latency, an empty log
    sim POST /throttle "{\"write_limit\": $WL}" >/dev/null
    sim POST /faults "{\"reset\": true, \"latency_ms\": $LAT}" >/dev/null
    sim POST /log/clear >/dev/null
}
ctl() {
    "$CTL" --tenant-id 0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b --client-id 1f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8 \
        --secret-file "$T/app.secret" --ca-file "$STATE/ca.pem" --connect-to "::127.0.0.1:$PORT" "$@"
}
# seconds from the first to the last invitation the service took, requests,
# and 429s, from the simulator's log
logstats() {
    sim GET /log >"$T/log.json"
    python3 - "$T/log.json" <<'EOF'
import json, sys, datetime
E = json.load(open(sys.argv[1]))["entries"]
inv = [e for e in E if e.get("path", "").endswith("/invitations")]
ok = [e for e in inv if e["status"] == 201]
t = sorted(datetime.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() for e in ok)
print("%d %d %d %.3f" % (len(ok), len(inv), len([e for e in inv if e["status"] == 429]), t[-1] - t[0] if t else 0))
EOF
}
run() { # NAME FIRST COUNT graphctl-options...
    name=$1 first=$2 count=$3
    shift 3
    sed -n "${first},$((first + count - 1))p" "$T/users" >"$T/in.$name"
    fresh
    ctl "$@" invite "$T/in.$name" >"$T/out.$name" 2>"$T/err.$name"
    rc=$?
    secs=$(sed -n 's/^done .* in \([0-9.]*\) s.*/\1/p' "$T/out.$name")
    # shellcheck disable=SC2046 # four numbers, split on purpose
    set -- $(logstats)
    cp "$T/log.json" "$T/log.$name.json"
    echo "$name rc=$rc users=$count secs=$secs ok=$1 sent=$2 throttled=$3 span=$4"
    eval "${name}_secs=$secs ${name}_ok=$1 ${name}_sent=$2 ${name}_429=$3 ${name}_span=$4"
}

run batched 1 "$N" --write-limit "$WL" --write-window "$WINDOW"
run sequential $((N + 1)) "$SEQ_N" --batch 1 --in-flight 1 --write-limit "$WL" --write-window "$WINDOW"
[ "$ADAPT" = 1 ] && run adaptive $((N + SEQ_N + 1)) "$N" --write-window "$WINDOW"

# shellcheck disable=SC2154 # the *_secs, *_ok ... variables are set by run's eval
python3 - "$N" "$SEQ_N" "$WL" "$WINDOW" "$LAT" "$batched_secs" "$batched_ok" "$batched_sent" "$batched_429" \
    "$sequential_secs" "$sequential_ok" "${adaptive_secs:-0}" "${adaptive_ok:-0}" "${adaptive_sent:-0}" \
    "${adaptive_429:-0}" "$batched_span" >"$T/summary" <<'EOF'
import sys
(n, seq_n, wl, window, lat, b_s, b_ok, b_sent, b_429, s_s, s_ok, a_s, a_ok, a_sent, a_429, b_span) = sys.argv[1:]
n, seq_n, wl, window, lat = int(n), int(seq_n), int(wl), float(window), int(lat)
rate = wl / window
floor_s = max(0.0, (n - wl) / rate) + lat / 1000.0
b_s, s_s, a_s = float(b_s), float(s_s), float(a_s)
b_rate, s_rate = int(b_ok) / b_s, int(s_ok) / s_s
print("| run | users | done | seconds | conversions/s | 429s / requests |")
print("|---|---|---|---|---|---|")
print("| batched (20 per $batch, 8 in flight, knows the limit) | %d | %s | %.2f | %.1f | %s / %s (%.2f %%) |" % (
    n, b_ok, b_s, b_rate, b_429, b_sent, 100.0 * int(b_429) / max(1, int(b_sent))))
print("| sequential (1 at a time) | %d | %s | %.2f | %.1f | - |" % (seq_n, s_ok, s_s, s_rate))
if a_s > 0:
    print("| batched, documented defaults (adapts to 429s) | %d | %s | %.2f | %.1f | %s / %s (%.2f %%) |" % (
        n, a_ok, a_s, int(a_ok) / a_s, a_429, a_sent, 100.0 * int(a_429) / max(1, int(a_sent))))
print()
span_floor = max(0.0, (n - wl) / rate)
print("ceiling: %d writes through a bucket of %d refilled at %.1f/s take >= %.2f s (+ one answer, %d ms): "
      "batched reaches %.1f %% of it on the client's clock (target >= 95 %%), %.1f %% between the "
      "first and last invitation the service took (%.2f s); %.1f x the sequential client (target >= 5 x)" % (
          n, wl, rate, span_floor, lat, 100.0 * floor_s / b_s, 100.0 * span_floor / float(b_span),
          float(b_span), b_rate / s_rate))
EOF
cat "$T/summary"
if [ "$RECORD" = 1 ]; then
    {
        echo
        echo "### $(date -u +%Y-%m-%d) $(uname -m), $(nproc) CPUs: N=$N SEQ_N=$SEQ_N LAT=$LAT WL=$WL SCALE=$SCALE"
        echo
        echo "Command: \`N=$N SEQ_N=$SEQ_N LAT=$LAT WL=$WL SCALE=$SCALE ADAPT=$ADAPT tests/bench/bench_graph.sh --record\`"
        echo
        cat "$T/summary"
    } >>"$ROOT/tests/bench/RESULTS.md"
    echo "(appended to tests/bench/RESULTS.md)"
fi
