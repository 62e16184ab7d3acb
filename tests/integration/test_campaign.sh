#!/bin/bash
# The randomized campaign (tests/campaign/campaign.py) at the size make
# check affords: 500 random AD operations in batches of 1 to 40, in an OU of
# its own that it removes at the end, under an [ldap] classes drawn from the
# seed every 200 operations (contacts, groups or both left out part of the
# time). After every batch the plan equals
# plan --full, and the copy of AD that `run` keeps (ad.snapshot), the delta
# applied, equals a full read (DUALSYNC_TEST_KEPT_VERIFY). A new seed every
# run; a failure prints the seed, the batch, its operations and the command
# that replays them. CAMPAIGN_SEED=S replays seed S, CAMPAIGN_OPS=N sizes it;
# tests/campaign/long-run.sh runs it at length.
. "$(dirname "$0")/lib.sh"
python3 "$(dirname "$0")/../campaign/campaign.py" --lab "$LAB" --dualsync "$DUALSYNC" \
    --out "$OUT/campaign" --ops "${CAMPAIGN_OPS:-500}" --batch 40 --quiet \
    ${CAMPAIGN_SEED:+--seed "$CAMPAIGN_SEED"} > "$OUT/campaign.out" 2>&1
rc=$?
# the seed and the figures, and its PASS/FAIL lines, which count
cat "$OUT/campaign.out"
pass_n=$((pass_n + $(grep -c '^PASS' "$OUT/campaign.out")))
fail_n=$((fail_n + $(grep -c '^FAIL' "$OUT/campaign.out")))
if [ "$rc" != 0 ] && ! grep -q '^FAIL' "$OUT/campaign.out"; then
    fail "campaign.py exit $rc: $(tail -c 600 "$OUT/campaign.out")"
fi
grep -q '^PASS campaign seed' "$OUT/campaign.out" || fail "the campaign gave no verdict"
finish
