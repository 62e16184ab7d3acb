// check.mjs FILE.ps1...: parse each PowerShell script with tree-sitter's
// PowerShell grammar (no PowerShell runs here) and print one PASS or FAIL
// line per check, as tests/integration/lib.sh's `counted` reads them:
//   - the script parses without error or missing nodes; a spot the grammar
//     gets wrong may be listed in grammar-exceptions.txt (FILE:LINE, and
//     the PowerShell language reference that shows the construct is valid);
//     a listed spot that parses, or that is no longer there, fails too;
//   - every ADSync cmdlet the script calls (Verb-ADSync..., Verb-AdSync...)
//     is in adsync-cmdlets.txt, the module's documented set, with its source.
// Loaded as an ES module (import, not require): the grammar's binding and
// tree-sitter's are native addons built by npm from package-lock.json.
import Parser from 'tree-sitter';
import PowerShell from 'tree-sitter-powershell';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const lines = (f) => readFileSync(join(here, f), 'utf8').split('\n')
    .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);

// "scripts/X.ps1:112 https://learn.microsoft.com/..." (reason after the URL)
const exceptions = new Map();
for (const l of lines('grammar-exceptions.txt')) {
    const [spot, ref] = l.split(/\s+/);
    if (!ref || !/^https:\/\/learn\.microsoft\.com\/powershell\//.test(ref))
        throw new Error(`grammar-exceptions.txt: '${l}' names no PowerShell language reference page`);
    exceptions.set(spot, ref);
}
const documented = new Map(lines('adsync-cmdlets.txt').map((l) => {
    const [name, source] = l.split(/\s+/);
    return [name.toLowerCase(), source];
}));

const parser = new Parser();
parser.setLanguage(PowerShell);

// the spots where the grammar failed: ERROR and MISSING nodes, by line
function errors(tree) {
    const out = [];
    const walk = (n) => {
        if (n.type === 'ERROR' || n.isMissing)
            out.push({ line: n.startPosition.row + 1, col: n.startPosition.column + 1,
                       what: n.isMissing ? `missing ${n.type}` : 'syntax error' });
        else if (n.hasError)
            for (const c of n.children) walk(c);
    };
    walk(tree.rootNode);
    return out;
}

function commands(tree) {
    const out = [];
    const walk = (n) => {
        if (n.type === 'command_name')
            out.push({ name: n.text, line: n.startPosition.row + 1 });
        for (const c of n.namedChildren) walk(c);
    };
    walk(tree.rootNode);
    return out;
}

let failed = 0;
const pass = (m) => console.log(`PASS ${m}`);
const fail = (m) => { console.log(`FAIL ${m}`); failed++; };

// the grammar can fail: a script that is not PowerShell must not parse
const broken = errors(parser.parse('if ($x -eq { {\n'));
broken.length ? pass('the grammar finds the error in a broken script')
              : fail('the grammar accepts a broken script: the check proves nothing');

for (const arg of process.argv.slice(2)) {
    const file = relative(root, arg);
    const tree = parser.parse(readFileSync(arg, 'utf8'));
    const errs = errors(tree);
    const unlisted = errs.filter((e) => !exceptions.has(`${file}:${e.line}`));
    if (unlisted.length)
        fail(`${file} parses: ` + unlisted.map((e) => `${file}:${e.line}:${e.col}: ${e.what}`).join('; '));
    else
        pass(`${file} parses${errs.length ? ` (${errs.length} listed spot(s) of the grammar)` : ''}`);
    for (const [spot] of exceptions)
        if (spot.startsWith(`${file}:`) && !errs.some((e) => `${file}:${e.line}` === spot))
            fail(`grammar-exceptions.txt: ${spot} parses now (or moved): remove or fix the entry`);
    const adsync = commands(tree).filter((c) => /^[a-z]+-adsync/i.test(c.name));
    const unknown = adsync.filter((c) => !documented.has(c.name.toLowerCase()));
    if (unknown.length)
        fail(`${file}: ADSync cmdlets not in the module's documented set (adsync-cmdlets.txt): ` +
             unknown.map((c) => `${c.name} (line ${c.line})`).join(', '));
    else
        pass(`${file}: its ${new Set(adsync.map((c) => c.name.toLowerCase())).size} ADSync cmdlets are documented`);
}
process.exit(failed ? 1 : 0);
