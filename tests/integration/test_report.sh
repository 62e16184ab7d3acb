#!/bin/bash
# dualsync report on a known run (tests/tools/report_fixture.c: two tenants,
# hostile display names, every state): CSV, JSON and HTML through the real
# binary; refusals that write nothing; and the HTML opened in headless
# Chromium, which must run its script, show the table and the chart, fetch
# nothing, and leave a screenshot in $OUT (report.png, report-full.png).
# Needs no lab: the fixture is made by build/report-fixture.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
FIXTURE=$ROOT/$BUILD_DIR/report-fixture
[ -x "$FIXTURE" ] || make -s -C "$ROOT" "$BUILD_DIR/report-fixture" >/dev/null
FX=$OUT/fx
rm -rf "$FX"
check "fixture: two tenants, mapping files and audit trails" "$FIXTURE" "$FX"
CONF=$FX/dualsync.conf
export SOURCE_DATE_EPOCH=1794992400     # 2026-11-18T09:00:00Z: the same bytes every run
ds() { "$DUALSYNC" -c "$CONF" "$@"; }

# ---------------------------------------------------------------- formats
check "report (csv by default) to stdout" ds report
cp "$OUT/last.out" "$OUT/report-stdout.csv"
check "report --format csv -o FILE" ds report --format csv -o "$OUT/report.csv"
if cmp -s "$OUT/report.csv" "$OUT/report-stdout.csv"; then pass "-o writes what stdout shows"
else fail "-o FILE and stdout differ"; fi
equal "csv: header + one row per account" 9 "$(grep -c $'\r$' "$OUT/report.csv")"
equal "csv: file mode (it names accounts)" 600 "$(stat -c %a "$OUT/report.csv")"
if grep -qF $'"<script>alert(""x"")</script>"' "$OUT/report.csv" \
   && grep -qF '"Smith, John ""JJ"""' "$OUT/report.csv" \
   && grep -qF "Zoë Ångström" "$OUT/report.csv" && grep -qF "李雷" "$OUT/report.csv"; then
    pass "csv: quoting and UTF-8"
else fail "csv: quoting or UTF-8: $(head -c 400 "$OUT/report.csv")"; fi
if grep -qF "\"'=HYPERLINK(" "$OUT/report.csv" && ! grep -q ',=HYPERLINK\|,"=HYPERLINK' "$OUT/report.csv"; then
    pass "csv: a cell starting with = is neutralised"
else fail "csv: formula cell not neutralised"; fi
check "report --bom" ds report --bom -o "$OUT/report-bom.csv"
equal "csv --bom starts with EF BB BF" "efbbbf" "$(head -c 3 "$OUT/report-bom.csv" | od -An -tx1 | tr -d ' \n')"

check "report --format json" ds report --format json -o "$OUT/report.json"
python3 - "$OUT/report.json" > "$OUT/json.got" 2>&1 <<'PY' || fail "json: $(cat "$OUT/json.got")"
import json, sys
d = json.load(open(sys.argv[1]))
for t in d["tenants"]:
    s = t["summary"]
    print(t["tenant"], len(t["accounts"]), s["converted"], s["accepted"], s["pendingAcceptance"],
          s["blocked"], s["reverted"], s["gone"])
names = {a["displayName"] for t in d["tenants"] for a in t["accounts"]}
print("names-ok" if {"<script>alert(\"x\")</script>", "Smith, John \"JJ\"", "Zoë Ångström", "李雷",
                     "=HYPERLINK(\"http://evil.example\",\"pay\")"} <= names else "names-missing")
PY
equal "json: gcch accounts and figures" "gcch 6 2 1 1 1 1 1" "$(grep '^gcch ' "$OUT/json.got")"
equal "json: commercial accounts and figures" "commercial 2 1 1 0 1 0 0" "$(grep '^commercial ' "$OUT/json.got")"
equal "json: hostile names come back as they were" names-ok "$(tail -1 "$OUT/json.got")"

check "report --format html" ds report --format html -o "$OUT/report.html"
check "report --tenant gcch --state blocked --format json" \
    ds report --tenant gcch --state blocked --format json
equal "--tenant and --state select" 1 \
    "$(python3 -c 'import json,sys; print(sum(len(t["accounts"]) for t in json.load(sys.stdin)["tenants"]))' < "$OUT/last.out")"
check "report --since 2026-11-17 --until 2026-11-17" ds report --since 2026-11-17 --until 2026-11-17
equal "--since/--until: accounts with activity on the 17th" 8 "$(grep -c $'\r$' "$OUT/last.out")"
check "report --run r1" ds report --run r1
equal "--run: the accounts run r1 touched" 6 "$(grep -c $'\r$' "$OUT/last.out")"
check "report --help lists its options" ds report --help
if grep -q -- '--since' "$OUT/last.out" && grep -q -- 'bom' "$OUT/last.out"; then pass "report --help: --since, --bom"
else fail "report --help: $(cat "$OUT/last.out")"; fi

# ---------------------------------------------------------------- refusals: exit 2 or 3, nothing written
NO=$OUT/not-written.csv
refuses "bad --since" 2 "--since '2026-02-30': not a date" ds report --since 2026-02-30 -o "$NO"
refuses "bad --until" 2 "--until 'last week': not a date" ds report --until "last week" -o "$NO"
refuses "--since after --until" 2 "is after --until" ds report --since 2026-11-18 --until 2026-11-17 -o "$NO"
refuses "bad --state" 2 "unknown state 'done'" ds report --state blocked,done -o "$NO"
refuses "unknown tenant" 2 "--tenant nope: no [tenant nope]" ds report --tenant nope -o "$NO"
refuses "bad --format" 2 "not a report format" ds report --format ndjson -o "$NO"
refuses "--bom with json" 2 "--bom is for --format csv only" ds report --format json --bom -o "$NO"
refuses "an argument" 2 "report takes no argument" ds report extra -o "$NO"
cp "$FX/mappings/gcch.audit" "$OUT/gcch.audit.good"
echo "this is not json" >> "$FX/mappings/gcch.audit"
refuses "a damaged audit trail is named, with its line" 3 "gcch.audit:11: not an audit entry" ds report -o "$NO"
cp "$OUT/gcch.audit.good" "$FX/mappings/gcch.audit"
if [ -e "$NO" ] || ls "$NO".tmp-* >/dev/null 2>&1; then fail "a refused report wrote $NO"; else pass "refused reports wrote nothing"; fi
# a report over an existing file replaces it whole
echo old > "$OUT/replace.csv"
check "-o over an existing file" ds report -o "$OUT/replace.csv"
equal "the old file was replaced" 9 "$(grep -c $'\r$' "$OUT/replace.csv")"
check "-o /dev/null (a device: written into, never replaced)" ds report -o /dev/null
if [ -c /dev/null ] && ! ls /dev/null.tmp-* >/dev/null 2>&1; then pass "/dev/null is still the device"; else fail "/dev/null was replaced"; fi

# ---------------------------------------------------------------- the HTML in a real browser
HTML=$OUT/report.html
if [ ! -s "$HTML" ]; then
    fail "html: no $HTML to look in"
else
    held=
    for bad in ' src=' ' href=' 'url(' '@import' '<link' '<img'; do
        grep -qF -- "$bad" "$HTML" && held="$held '$bad'"
    done
    [ -z "$held" ] && pass "html: no src, href, url(), @import, link or img" \
        || fail "html: holds$held (an external resource?)"
fi

CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    fail "chromium is not installed (scripts/install-deps.sh installs it; make check runs it)"
    finish; exit
fi
# Headless, as root (hence --no-sandbox), in a fresh profile. The page must
# fetch nothing, and Chromium itself must not reach out either (it asks
# Google for updates, the time and accounts even with background networking
# off): every host name resolves to nothing and every request goes to a
# closed local proxy, so that no packet leaves the machine. The net log
# records what was asked for all the same.
chrome() {
    local profile
    profile=$(mktemp -d "$OUT/chrome-profile.XXXXXX")
    HOME=$profile timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update --disable-sync \
        --disable-extensions --disable-default-apps --no-pings --disable-domain-reliability \
        --disable-breakpad --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="http://127.0.0.1:9" \
        --user-data-dir="$profile" "$@" 2>>"$OUT/chrome.err"
    local rc=$?
    rm -rf "$profile"
    return $rc
}
URL="file://$HTML"

chrome --log-net-log="$OUT/netlog.json" --dump-dom "$URL" > "$OUT/dom.html"
equal "chromium: the table has one row per account" 8 "$(grep -o '<tr data-tenant=' "$OUT/dom.html" | wc -l)"
if grep -q '<svg id="chart"' "$OUT/dom.html"; then pass "chromium: the chart's SVG is there"
else fail "chromium: no chart SVG in the rendered page"; fi
equal "chromium: the chart has its three bars" 3 "$(grep -o '<rect class="bar"' "$OUT/dom.html" | wc -l)"
# the script ran (the CSP let it): it makes the headings focusable and counts the rows
equal "chromium: the script ran (headings made sortable)" 9 "$(grep -o '<th [^>]*tabindex="0"' "$OUT/dom.html" | wc -l)"
if grep -q '<span id="shown" aria-live="polite">8 accounts</span>' "$OUT/dom.html"; then pass "chromium: '8 accounts' shown"
else fail "chromium: count not shown: $(grep -o '<span id="shown"[^<]*' "$OUT/dom.html")"; fi
if grep -qF '<td class="name">&lt;script&gt;alert("x")&lt;/script&gt;</td>' "$OUT/dom.html" \
   && grep -qF '<td class="name">Zoë Ångström</td>' "$OUT/dom.html" \
   && grep -qF '<td class="name">李雷</td>' "$OUT/dom.html"; then
    pass "chromium: hostile and non-ASCII names rendered as text"
else fail "chromium: names not rendered as text"; fi
python3 - "$OUT/netlog.json" > "$OUT/netlog.got" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
types = {v: k for k, v in d["constants"]["logEventTypes"].items()}
# Requests the page made carry its (opaque, file:) origin as initiator;
# Chromium's own (update checks) say "not an origin".
page = [e["params"]["url"] for e in d["events"]
        if types.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"]
print(len(page), *page)
PY
equal "chromium: the page requested nothing over the network" 0 "$(cat "$OUT/netlog.got")"

# the filter and the sort, driven through the URL as a person's link would
chrome --dump-dom "$URL#state=blocked" > "$OUT/dom-blocked.html"
equal "chromium: #state=blocked leaves the blocked rows" 2 \
    "$(grep -o '<tr data-tenant="[^"]*" data-state="[^"]*">' "$OUT/dom-blocked.html" | wc -l)"
if grep -q '>2 of 8 accounts<' "$OUT/dom-blocked.html"; then pass "chromium: '2 of 8 accounts'"
else fail "chromium: filtered count: $(grep -o '<span id="shown"[^<]*' "$OUT/dom-blocked.html")"; fi
chrome --dump-dom "$URL#q=%E6%9D%8E" > "$OUT/dom-q.html"
equal "chromium: the text filter finds 李雷" "gcch invited" \
    "$(grep -o '<tr data-tenant="[^"]*" data-state="[^"]*">' "$OUT/dom-q.html" | sed 's/.*tenant="\([^"]*\)" data-state="\([^"]*\)">/\1 \2/')"
chrome --dump-dom "$URL#sort=3&dir=desc" > "$OUT/dom-sorted.html"
equal "chromium: sorted by UPN, descending" "zoe.angstrom@corp.example" \
    "$(grep -o '<td class="upn">[^<]*' "$OUT/dom-sorted.html" | head -1 | sed 's/.*>//')"

chrome --screenshot="$OUT/report.png" --window-size=1280,900 "$URL" >/dev/null
chrome --screenshot="$OUT/report-full.png" --window-size=1280,1500 "$URL" >/dev/null
for png in report.png report-full.png; do
    if [ "$(head -c 8 "$OUT/$png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] \
       && [ "$(stat -c %s "$OUT/$png")" -gt 20000 ]; then
        pass "chromium: screenshot $OUT/$png"
    else fail "chromium: no screenshot $png: $(tail -3 "$OUT/chrome.err")"; fi
done
finish
