#!/bin/bash
# Every PowerShell script in the repository parses with a real PowerShell
# grammar (tree-sitter-powershell, through tree-sitter's Node.js bindings; no
# PowerShell runs here), and calls only ADSync cmdlets of the module's
# documented set (tests/powershell/check.mjs, adsync-cmdlets.txt). The npm
# packages come from scripts/install-deps.sh --test (package-lock.json).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
mapfile -t scripts < <(git ls-files --cached --others --exclude-standard '*.ps1' 2>/dev/null || find . -name '*.ps1' -not -path './tests/out/*')
[ ${#scripts[@]} -gt 0 ] || fail "no .ps1 in the repository: nothing checked"
if [ -d tests/powershell/node_modules/tree-sitter-powershell ]; then
    counted "tests/powershell/check.mjs" node tests/powershell/check.mjs "${scripts[@]}"
    # and it can fail: an ADSync cmdlet nobody documents
    printf 'Import-Module ADSync\nGet-ADSyncNothingSuch -Name x\n' > "$OUT/undocumented.ps1"
    node tests/powershell/check.mjs "$OUT/undocumented.ps1" > "$OUT/undocumented.out" 2>&1
    grep -q '^FAIL .*Get-ADSyncNothingSuch (line 2)' "$OUT/undocumented.out" \
        && pass "an undocumented ADSync cmdlet is named, with its line" \
        || fail "an undocumented ADSync cmdlet went unnoticed: $(head -c 400 "$OUT/undocumented.out")"
else
    fail "tests/powershell/node_modules is missing: run scripts/install-deps.sh --test"
fi
finish
