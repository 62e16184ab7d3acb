#!/bin/sh
# A delta cycle's Graph side: CHANGES conversions among a population of POP
# synced users (issue 5: requests <= changes/20 + 10, and wall time that
# follows the changes, not the population).
#
#   tests/bench/bench_delta.sh [--record]     (after: make tools)
#
# Method: the simulator is seeded with POP synced users straight from its
# config (no Connect cycle, no lab AD: 100,000 users in the lab AD take over
# 10 minutes to load). The CHANGES objects of the delta are given as their
# immutable ids, as convert has them from AD and the mapping file; graphctl's
# `cycle` sends for them exactly what convert sends (find the users, read the
# verified domains, invite), with the same library calls:
#   filter  graph_find_users_by_immutable_ids: GETs of 15 ids in $batch (new)
#   list    graph_list_synced_users: the full listing, 999 a page (before)
# Each run gets a fresh simulator; requests are counted from its request log:
# HTTP requests to Graph (a $batch envelope counts once) and Graph requests
# (the items inside $batch counted one by one); the token request apart.
#
# Environment (defaults in brackets):
#   POPS ["10000 100000"]   populations
#   CHANGES [100]           conversions in the delta
#   LAT [100]               ms added by the simulator to every Graph answer
#   MODES ["filter list"]   what to run per population
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CTL=${CTL:-$ROOT/build/graphctl}
GS=${GRAPHSIM_DIR:-$ROOT/tests/graphsim}
POPS=${POPS:-10000 100000}
CHANGES=${CHANGES:-100}
LAT=${LAT:-100}
MODES=${MODES:-filter list}
RECORD=0
[ "${1:-}" = --record ] && RECORD=1
[ -x "$CTL" ] || { echo "bench_delta: $CTL not built (make tools)" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/bench_delta.XXXXXX")
STATE=$T/state
trap '"$GS/stop.sh" "$STATE" >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT INT TERM
umask 077
head -c 30 /dev/urandom | base64 | tr -d '=\n' >"$T/app.secret"
umask 022
TID=0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b
CID=1f2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8

sim() { # METHOD PATH [JSON]
    if [ $# -ge 3 ]; then
        curl -sS --cacert "$STATE/ca.pem" --connect-to "::127.0.0.1:$PORT" -X "$1" \
            -H 'Content-Type: application/json' -d "$3" "https://graph.microsoft.com/_sim$2"
    else
        curl -sS --cacert "$STATE/ca.pem" --connect-to "::127.0.0.1:$PORT" -X "$1" \
            "https://graph.microsoft.com/_sim$2"
    fi
}
ctl() {
    "$CTL" --tenant-id $TID --client-id $CID --secret-file "$T/app.secret" --ca-file "$STATE/ca.pem" \
        --connect-to "::127.0.0.1:$PORT" "$@"
}

echo "| population | changes | lookup | HTTP requests to Graph (\$batch = 1) | Graph requests (\$batch items each) | token | invited | seconds (client) | target HTTP <= changes/20 + 10 |" >"$T/summary"
echo "|---|---|---|---|---|---|---|---|---|" >>"$T/summary"
fail=0
for POP in $POPS; do
    # POP synced Members with base64 immutable ids (+ / = included), mail
    # outside the verified domain; the changes: CHANGES of them at random
    python3 - "$T" "$POP" "$CHANGES" "$TID" "$CID" <<'EOF'
import base64, json, random, sys, uuid
t, n, k, tid, cid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rnd = random.Random(n)
users = []
for i in range(n):
    users.append({"id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                  "userPrincipalName": "d%06d@resource.example" % i, "displayName": "d%06d" % i,
                  "mail": "d%06d@partner.example" % i, "accountEnabled": True, "onPremisesSyncEnabled": True,
                  "userType": "Member",
                  "onPremisesImmutableId": base64.b64encode(rnd.getrandbits(128).to_bytes(16, "little")).decode()})
cfg = {"seed": 5, "port": 0, "tenants": [{
    "name": "bench", "id": tid, "cloud": "global", "size": "L",
    "verified_domains": ["resource.example"], "connect": {"write_onpremises_upn": False},
    "apps": [{"client_id": cid, "secret_file": t + "/app.secret",
              "roles": ["User.Invite.All", "User.ReadWrite.All", "Directory.Read.All", "Domain.Read.All"]}],
    "users": users}]}
json.dump(cfg, open(t + "/sim.json", "w"))
with open(t + "/changes", "w") as f:
    for u in rnd.sample(users, k):
        f.write(u["onPremisesImmutableId"] + "\n")
EOF
    for MODE in $MODES; do
        "$GS/stop.sh" "$STATE" >/dev/null 2>&1
        "$GS/start.sh" "$STATE" "$T/sim.json" auto >"$T/start.out" 2>&1 ||
            { cat "$T/start.out" >&2; exit 1; }
        PORT=$(cat "$STATE/port")
        sim POST /faults "{\"reset\": true, \"latency_ms\": $LAT}" >/dev/null
        sim POST /log/clear >/dev/null
        ctl cycle "$MODE" "$T/changes" >"$T/out.$MODE.$POP" 2>"$T/err.$MODE.$POP"
        rc=$?
        sim GET /log >"$T/log.$MODE.$POP.json"
        secs=$(sed -n 's/^seconds //p' "$T/out.$MODE.$POP")
        invited=$(sed -n 's/^invited //p' "$T/out.$MODE.$POP")
        # shellcheck disable=SC2046 # three numbers, split on purpose
        set -- $(python3 - "$T/log.$MODE.$POP.json" <<'EOF'
import json, sys
E = [e for e in json.load(open(sys.argv[1]))["entries"] if e.get("kind") in ("graph", "token")]
graph = [e for e in E if e["kind"] == "graph"]
http = [e for e in graph if e.get("via") != "batch"]
items = [e for e in graph if not e.get("path", "").endswith("/$batch")]
print(len(http), len(items), len([e for e in E if e["kind"] == "token"]))
EOF
)
        target=$((CHANGES / 20 + 10))
        verdict=yes
        [ "$1" -le "$target" ] || verdict=no
        [ "$MODE" = filter ] && [ "$verdict" = no ] && fail=1
        [ "$rc" = 0 ] && [ "${invited:-0}" = "$CHANGES" ] || { fail=1; cat "$T/err.$MODE.$POP" >&2; }
        echo "$MODE pop=$POP rc=$rc http=$1 graph_requests=$2 token=$3 invited=$invited secs=$secs"
        echo "| $POP | $CHANGES | $MODE | $1 | $2 | $3 | ${invited:-0} | $secs | $target: $verdict |" >>"$T/summary"
    done
done
cat "$T/summary"
if [ "$RECORD" = 1 ]; then
    {
        echo
        echo "### $(date -u +%Y-%m-%d) $(uname -m), $(nproc) CPUs: CHANGES=$CHANGES LAT=$LAT POPS=\"$POPS\""
        echo
        echo "Command: \`make tools && POPS=\"$POPS\" CHANGES=$CHANGES LAT=$LAT tests/bench/bench_delta.sh --record\`"
        echo
        cat "$T/summary"
    } >>"$ROOT/tests/bench/RESULTS.md"
    echo "(appended to tests/bench/RESULTS.md)"
fi
exit $fail
