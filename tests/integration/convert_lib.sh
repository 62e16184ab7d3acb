# Helpers for the tests of convert and run (sourced after lib.sh): a graphsim
# with the defense example's two tenants (Commercial, GCC High), its Connect
# cycles reading the lab AD, and a dualsync config for the two.
# Scope: a few hundred users (sAMAccountName prefixes picked from the seed's
# manifest), so that a run converts >= 200 users at any seed size.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
GS=$ROOT/tests/graphsim

# the LDAP filter: first letters of sAMAccountName until about $1 users
scope_filter() {
    python3 - "$LAB/manifest.json" "${1:-350}" <<'PY'
import json, sys, collections
m = json.load(open(sys.argv[1])); want = int(sys.argv[2])
c = collections.Counter(u["sAMAccountName"][:2] for u in m["users"])
picked, n = [], 0
for p, k in sorted(c.items(), key=lambda x: -x[1]):
    if n >= want: break
    if n + k > want * 1.3: continue
    picked.append(p); n += k
print("(|" + "".join("(sAMAccountName=%s*)" % p for p in picked) + ")")
PY
}

# sim_start DIR [write_onpremises_upn of commercial: true|false]; SIM_OPTS: more
# options for the simulator (e.g. --token-lifetime 12)
sim_start() {
    local dir=$1 upn=${2:-false}
    FILTER=${FILTER:-$(scope_filter)}
    mkdir -p "$dir"
    python3 - "$GS/example-defense.json" "$dir/sim.json" "$upn" "$FILTER" "$LAB/env.sh" <<'PY'
import json, sys
src, dst, upn, flt, env = sys.argv[1:6]
base = src.rsplit("/", 1)[0] + "/"
c = json.load(open(src))
for t in c["tenants"]:
    t["connect"]["write_onpremises_upn"] = (upn == "true") if t["name"] == "commercial" else False
    t["connect"]["filter"] = "(&(objectCategory=person)(objectClass=user)%s)" % flt
    t["connect"]["lab_env"] = env
    t["connect"]["deletion_threshold"] = 0
    for a in t["apps"]:
        a["secret_file"] = base + a["secret_file"]; a["certificate"] = base + a["certificate"]
json.dump(c, open(dst, "w"), indent=1)
PY
    SIM=$dir/gs
    # shellcheck disable=SC2086 # SIM_OPTS: extra options, split on purpose
    if ! "$GS/start.sh" "$dir/gs" "$dir/sim.json" 0 --time-scale 0.01 ${SIM_OPTS:-} >/dev/null 2>"$dir/start.err"; then
        echo "sim_start: the Graph simulator did not start:" >&2
        cat "$dir/start.err" >&2
        return 1
    fi
    local p; p=$(cat "$dir/gs/port")
    export DUALSYNC_GRAPH_CA_FILE=$dir/gs/ca.pem
    export DUALSYNC_GRAPH_CONNECT_TO="login.microsoftonline.com:443:127.0.0.1:$p,graph.microsoft.com:443:127.0.0.1:$p,login.microsoftonline.us:443:127.0.0.1:$p,graph.microsoft.us:443:127.0.0.1:$p"
    export DUALSYNC_GRAPH_TIME_SCALE=0.01
}
# a no-op when no simulator was started (an EXIT trap may run before sim_start)
sim_stop() { [ -z "${SIM:-}" ] || "$GS/stop.sh" "$SIM" >/dev/null 2>&1 || true; }
sim() { python3 "$GS/graphsim.py" call --state-dir "$SIM" "$@"; }
# connect TENANT...: a Connect cycle into each
connect() { local t; for t in "$@"; do sim POST "/_sim/$t/connect-cycle" '{}' > "$OUT/cycle-$t.json" || return 1; done; }
log_seq() { wc -l < "$SIM/requests.jsonl"; }
# writes_since SEQ: Graph writes (POST/PATCH, token requests aside) logged after line SEQ
writes_since() {
    tail -n +$(($1 + 1)) "$SIM/requests.jsonl" | python3 -c '
import json, sys
print(sum(1 for e in map(json.loads, sys.stdin)
          if e.get("kind") == "graph" and e["method"] in ("POST", "PATCH", "DELETE") and not e["path"].endswith("/$batch")))'
}
# lookups_since SEQ: "F L": GETs of users by onPremisesImmutableId in (...) and
# GETs of the full listing of synced users (first pages) logged after line SEQ
lookups_since() {
    tail -n +$(($1 + 1)) "$SIM/requests.jsonl" | python3 -c '
import json, sys
E = [e for e in map(json.loads, sys.stdin) if e.get("kind") == "graph" and e["method"] == "GET"
     and e["path"].endswith("/users")]
q = lambda e: e.get("query") or ""
print(sum(1 for e in E if "onPremisesImmutableId%20in" in q(e)),
      sum(1 for e in E if "onPremisesSyncEnabled%20eq%20true" in q(e) and "skiptoken" not in q(e).lower()))'
}
# invited_twice: users with more than one successful invitation (must be 0)
invited_twice() {
    python3 -c '
import json, sys, collections
log = [json.loads(l) for l in open(sys.argv[1])]
ok = collections.Counter(e["body"]["invitedUser.id"] for e in log
                         if e["path"].endswith("/invitations") and e.get("processed_status", e["status"]) == 201)
print(sum(1 for k, v in ok.items() if v > 1))' "$SIM/requests.jsonl"
}

# mkconvconf FILE MAPPINGS_DIR [LDAP URI]: the defense example for the sim's tenants
mkconvconf() {
    local f=$1 maps=$2 uri=${3:-$AD_LDAPS_URI}
    mkdir -p "$OUT/creds"
    cp "$GS/example-creds/commercial-app.secret" "$GS/example-creds/gcch-app.secret" "$OUT/creds/"
    chmod 600 "$OUT/creds/"*
    {
        echo "[dualsync]"; echo "mappings_dir = $maps"
        echo "[ldap]"; echo "uri = $uri"; echo "ca_file = $AD_CA_FILE"
        echo "bind = simple"; echo "bind_dn = $AD_BIND_UPN"; echo "password_file = $AD_PW_FILE"
        echo "base_dn = OU=Contoso,$AD_BASE_DN"; echo "base_dn = OU=Contoso Defense,$AD_BASE_DN"
        echo "filter = $FILTER"
        sed -n '/^\[tenant commercial\]/,$p' "$ROOT/doc/examples/defense-contractor.conf" | sed \
            -e 's/^tenant_id = 6f1a.*/tenant_id = 3f1c6e2a-8d4b-4a7e-9c15-2b6d8e0f4a11/' \
            -e 's/^client_id = 0e9d.*/client_id = 0f3c2a8e-5b7d-4c11-9a2e-7d6b5c4a3f21/' \
            -e 's/^tenant_id = 2b7c.*/tenant_id = 7b2d9f40-1e6c-4c83-a5d2-9e0b3c7f6d22/' \
            -e 's/^client_id = 9a8b.*/client_id = 6a1e9d42-3c8b-4f57-b0a9-2e4d7f1c8b63/' \
            -e "s|^client_cert_file = /etc/dualsync/\(.*\)\.crt|client_secret_file = $OUT/creds/\1-app.secret|" \
            -e '/^client_key_file/d'
    } > "$f"
    # the conversion tests check what is done, not how fast: invitation
    # pacing (30 a minute, a slow first run) is tested on its own in
    # test_graph_net.sh; KEEP_INVITE_PACE=1 keeps it
    [ "${KEEP_INVITE_PACE:-}" = 1 ] || sed -i '/^\[tenant /a invitations_per_minute = 0' "$f"
}

# records FILE: the mapping file's records without what differs from run to
# run (first and last change, invitation id, and the cloud object id: a
# simulator reset makes new ids)
records() { awk -F'\t' 'f { $5 = $9 = $10 = $11 = ""; print } /^$/ { f = 1 }' OFS='\t' "$1" | sort; }
# count STATE FILE
count_state() { awk -F'\t' -v s="$1" 'f && $2 == s { n++ } /^$/ { f = 1 } END { print n + 0 }' "$2"; }
# invited_twice_since_reset: the same from the simulator's in-memory log
# (POST /_sim/reset clears it)
invited_twice_since_reset() {
    sim GET '/_sim/log?path=invitations' | python3 -c '
import json, sys, collections
d = json.load(sys.stdin); log = d["entries"] if isinstance(d, dict) and "entries" in d else d
ok = collections.Counter(e["body"]["invitedUser.id"] for e in log
                         if e["path"].endswith("/invitations") and e.get("processed_status", e["status"]) == 201)
print(sum(1 for k, v in ok.items() if v > 1), sum(ok.values()))'
}
