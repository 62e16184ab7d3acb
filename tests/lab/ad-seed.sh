#!/bin/bash
# Load the generated lab organization (seed.py) into the lab AD.
#
#   tests/lab/ad-seed.sh [PREFIX] [USERS] [SEED]      defaults: /tmp/dualsync-lab 2000 1
#
# Writes the LDIF into PREFIX/seed/, loads it with ldbadd straight into
# PREFIX/private/sam.ldb (samba may be running: that is the verified fast path,
# ~3x faster than ldapadd), in chunks (one huge ldbadd transaction is far slower),
# then copies the manifest to PREFIX/manifest.json.
#
# Idempotent-ish: PREFIX/seed.state records users, seed and progress. The same
# users+seed again is a no-op; a different one is refused (a lab holds one seed;
# use ad-stop.sh PREFIX --purge and ad-start.sh for another). A load that was
# killed or failed resumes at the first chunk not committed (chunks are atomic).
#
# Knobs: AD_SEED_CHUNK=500 (records per ldbadd run), AD_BIG_GROUP=1600 (members
# of the big group, > 1500).
set -euo pipefail
LAB_TAG=ad-seed
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
lab_prefix "${1:-}"
USERS=${2:-2000}
SEED=${3:-1}
CHUNK=${AD_SEED_CHUNK:-500}
BIG=${AD_BIG_GROUP:-1600}
SAM=$PREFIX/private/sam.ldb
# no fsync in ldbadd's writes either (see ad-start.sh; AD_FSYNC=1 keeps it)
[ "${AD_FSYNC:-0}" = 1 ] || export TDB_NO_FSYNC=1
STATE=$PREFIX/seed.state
OUT=$PREFIX/seed
WANT="users=$USERS seed=$SEED big_group=$BIG"

case "$USERS$SEED$CHUNK$BIG" in *[!0-9]*) die "USERS, SEED, AD_SEED_CHUNK and AD_BIG_GROUP must be numbers";; esac
[ -e "$PREFIX/.stamps/provision" ] && [ -f "$SAM" ] || die "no lab in $PREFIX; run tests/lab/ad-start.sh $PREFIX first"

done_chunks=0
if [ -f "$STATE" ]; then
    have=$(sed -n 's/^want=//p' "$STATE")
    status=$(sed -n 's/^status=//p' "$STATE")
    if [ "$have" != "$WANT" ]; then
        die "$PREFIX is seeded with ($have, $status); refusing to load ($WANT) on top. For a new seed: tests/lab/ad-stop.sh $PREFIX --purge && tests/lab/ad-start.sh $PREFIX"
    fi
    case "$status" in
        "done") log "already seeded ($WANT); manifest $PREFIX/manifest.json"; exit 0 ;;
        loading)
            done_chunks=$(sed -n 's/^chunks_done=//p' "$STATE")
            CHUNK=$(sed -n 's/^chunk=//p' "$STATE")    # same chunk boundaries as before
            log "resuming after chunk $done_chunks" ;;
    esac
fi
samba_running && log "samba is running (pid $(samba_pid)); loading into it" \
              || log "samba is not running; loading offline"

POST=no
[ -f "$STATE" ] && grep -q '^post=done' "$STATE" && POST="done"
write_state() {  # status chunks_done
    printf 'want=%s\nstatus=%s\nchunks_done=%s\nchunk=%s\npost=%s\n' "$WANT" "$1" "$2" "$CHUNK" "$POST" > "$STATE.new"
    mv "$STATE.new" "$STATE"
}

# chunk_committed FILE: its first entry exists (chunks are atomic, so then all do)
chunk_committed() {
    local dn
    dn=$(python3 -c 'import base64,sys
for l in open(sys.argv[1], encoding="utf-8"):
    if l.startswith("dn:: "): print(base64.b64decode(l[5:]).decode()); break
    if l.startswith("dn: "): print(l[4:].rstrip("\n")); break' "$1")
    ldbsearch -H "$SAM" -s base -b "$dn" dn 2>/dev/null | grep -q '^# returned 1 records'
}

t0=$(date +%s%N)
# (regenerated on a resume too: same seed, same bytes)
rm -rf "$OUT"
python3 "$LAB_DIR/seed.py" --seed "$SEED" --users "$USERS" --big-group "$BIG" --out "$OUT" --chunk "$CHUNK"
gen_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
total=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["total"])' "$OUT/manifest.json")
log "generated $total records in ${gen_ms} ms"
write_state loading "$done_chunks"

mkdir -p "$PREFIX/log"
t1=$(date +%s%N)
loaded=0
for f in "$OUT"/adds-*.ldif; do
    n=${f##*/adds-}; n=$((10#${n%.ldif}))
    want_n=$(grep -c '^dn' "$f")
    if [ "$n" -le "$done_chunks" ]; then loaded=$((loaded + want_n)); continue; fi
    if [ "$n" = $((done_chunks + 1)) ] && [ "$done_chunks" != 0 ] && chunk_committed "$f"; then
        # killed between ldbadd's commit and the state update (or ldbadd outlived us)
        log "chunk $n was committed by the interrupted run; skipping it"
        done_chunks=$n; loaded=$((loaded + want_n)); write_state loading "$n"; continue
    fi
    tc=$(date +%s%N)
    # batch_mode: one plain transaction per chunk, without ldb's per-record
    # sub-transactions, whose cost grows with the database (3.5x faster at 20k
    # users). It is also all-or-nothing: a failing record rolls the chunk back and
    # ldbadd exits 1. (Without it ldbadd stops at the first error, commits what it
    # added before and exits 0.) So a failed or killed chunk is simply loaded again
    # by the next run; the count and stderr are checked as well.
    rc=0
    out=$(ldbadd -o batch_mode:true -H "$SAM" "$f" 2>&1) || rc=$?
    printf '%s: rc %s: %s\n' "${f##*/}" "$rc" "$out" >> "$PREFIX/log/seed.log"
    got=$(printf '%s\n' "$out" | sed -n 's/^Added \([0-9]*\) records successfully$/\1/p')
    if [ "$rc" != 0 ] || [ "$got" != "$want_n" ] || printf '%s\n' "$out" | grep -q '^ERR'; then
        printf '%s\n' "$out" | grep -m3 -e '^ERR' -e 'rolled back' >&2 || true
        die "chunk ${f##*/}: rolled back (log: $PREFIX/log/seed.log); running ad-seed.sh again retries from this chunk"
    fi
    loaded=$((loaded + want_n))
    write_state loading "$n"
    ms=$(( ($(date +%s%N) - tc) / 1000000 ))
    log "$(printf 'chunk %3d: %4d records in %5d ms (%4d/s); %6d/%d loaded' "$n" "$want_n" "$ms" \
        $(( want_n * 1000 / (ms > 0 ? ms : 1) )) "$loaded" "$total")"
done
if [ -s "$OUT/post.ldif" ]; then
    # post.ldif must not run twice (its adds would fail as duplicates): state says
    # whether it ran
    if [ "$POST" != "done" ]; then
        ldbmodify -o batch_mode:true -H "$SAM" "$OUT/post.ldif" >> "$PREFIX/log/seed.log" 2>&1 \
            || die "post.ldif failed (log: $PREFIX/log/seed.log)"
        POST="done"
        write_state loading "$n"
    fi
fi
load_ms=$(( ($(date +%s%N) - t1) / 1000000 ))
cp "$OUT/manifest.json" "$PREFIX/manifest.json"
write_state "done" "$n"
printf 'load_ms=%s\ngenerate_ms=%s\nrecords=%s\n' "$load_ms" "$gen_ms" "$total" >> "$STATE"
log "seeded $total records ($USERS users, seed $SEED) in $((load_ms / 1000)).$((load_ms % 1000 / 100)) s" \
    "($(( total * 1000 / (load_ms > 0 ? load_ms : 1) ))/s); manifest $PREFIX/manifest.json"
