#!/bin/sh
# Fuzz what the Graph client parses from the network (error answers, $batch
# answers, pages, token answers, tokens, Retry-After) with libFuzzer, ASan and
# UBSan for SECONDS (default 60). Not part of `make check`.
#
#   tests/fuzz/run-graph.sh [SECONDS]          (make fuzz-graph FUZZ_SECONDS=N)
#
# Builds tests/out/fuzz-graph/fuzz_graph with clang (installed from Debian if
# missing), seeds a corpus with real answers, and runs. A crash or leak leaves
# crash-*/leak-* files in tests/out/fuzz-graph/ and exits non-zero; replay one
# with: tests/out/fuzz-graph/fuzz_graph FILE
set -eu
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/tests/out/fuzz-graph
cd "$ROOT"

. tests/fuzz/lib.sh
need_clang

mkdir -p "$OUT/corpus" "$OUT/seeds"
# shellcheck disable=SC2046
fuzz_build "$OUT/fuzz_graph" tests/fuzz/fuzz_graph.c src/graph.c src/graph_auth.c src/graph_check.c src/graph_json.c \
    src/graph_pace.c src/graph_users.c src/platform_posix.c src/cloud.c src/util.c src/log.c \
    $(pkg-config --cflags --libs libcurl libcjson openssl) -lm

# Seeds: the first byte picks the parser (see fuzz_graph.c).
seed() { printf "\\$(printf %03o "$1")%s" "$3" >"$OUT/seeds/$2"; }
seed 0 graph-error '{"error":{"code":"Request_BadRequest","message":"Invalid filter clause","innerError":{"date":"2025-01-01T00:00:00","request-id":"r","client-request-id":"c"}}}'
seed 0 aadsts '{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: t Correlation ID: c Timestamp: 2025-01-01 00:00:00Z","error_codes":[7000215],"timestamp":"2025-01-01 00:00:00Z"}'
seed 0 html '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>'
seed 1 batch '{"responses":[{"id":"3","status":201,"headers":{"Content-Type":"application/json"},"body":{"id":"i","status":"PendingAcceptance","invitedUser":{"id":"u"}}},{"id":"0","status":429,"headers":{"Retry-After":"2.128","x-ms-throttle-limit-percentage":"1.2"},"body":{"error":{"code":"TooManyRequests","message":"Too many requests"}}},{"id":"6","status":403,"body":{"error":{"code":"Forbidden","message":"Invitations are blocked for this directory due to suspicious activity"}}},{"id":"9","status":424,"body":{"error":{"code":"FailedDependency"}}}]}'
seed 2 page '{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users","@odata.nextLink":"https://graph.microsoft.com/v1.0/users?$skiptoken=RFNwdAIAAQ","value":[{"id":"a","userPrincipalName":"zo\u00eb@corp.example","onPremisesImmutableId":"MyIRAFVEd2aImaq7zN3u/w==","onPremisesSyncEnabled":true,"identities":[{"signInType":"federated","issuer":"ExternalAzureAD"}]}]}'
seed 2 delta '{"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x","value":[{"id":"b","@removed":{"reason":"deleted"}},{"id":"c","userType":"Guest"}]}'
seed 3 token '{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QifQ.eyJyb2xlcyI6WyJVc2VyLkludml0ZS5BbGwiXX0.c2ln"}'
seed 4 jwt 'eyJ0eXAiOiJKV1QifQ.eyJyb2xlcyI6WyJVc2VyLkludml0ZS5BbGwiXX0.c2ln'
seed 5 retry 'Wed, 21 Oct 2015 07:28:00 GMT'
seed 5 retry2 '2.128'

cd "$OUT"
# -close_fd_mask=2: the client's error messages would drown libFuzzer's own
# output (which it keeps on a copy of stderr)
exec ./fuzz_graph -max_total_time="$SECS" -close_fd_mask=2 -max_len=65536 \
    -print_final_stats=1 corpus seeds
