#!/bin/bash
# dualsync.exe end to end under Wine (doc/windows-build.md), beside the Linux
# build, against the Graph simulator:
#   - Graph over Schannel, the simulator's CA trusted through the Windows
#     certificate store of a Wine prefix of its own (the registry's
#     HKLM\Software\Microsoft\SystemCertificates\Root), never by a switch:
#     refused before the import, accepted after it;
#   - LDAP as far as Wine's wldap32 goes (it refuses the certificate callback
#     and signing/sealing: the reader must refuse, not go on unprotected);
#   - the Linux build converts one tenant, dualsync.exe the other from the
#     copy of AD the Linux build kept (--ad-snapshot), and each build's
#     report of each mapping directory is the same to the byte.
# DUALSYNC_EXE: the .exe under test, a test build (default ./dualsync-test.exe:
# make windows-test-bin; it reaches the simulator through src/testhooks.c).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/convert_lib.sh"

EXE=${DUALSYNC_EXE:-$ROOT/dualsync-test.exe}
if [ ! -f "$EXE" ]; then
    fail "no $EXE: build it with make windows (make check does)"
    finish
    exit 1
fi
export WINEPREFIX=$OUT/wine WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml=
# the prefix's wineserver holds the sockets of its processes: it runs here,
# in this network namespace, and ends with the test
trap 'sim_stop; wineserver -k 2>/dev/null || true' EXIT
wineboot -i >/dev/null 2>&1 || { fail "wineboot could not make a Wine prefix in $WINEPREFIX"; finish; exit 1; }
wexe() { wine "$EXE" "$@"; }
# Windows paths for the .exe: Wine's drive Z: is /
winpath() { echo "Z:$1"; }

FILTER=$(scope_filter 100)
sim_start "$OUT/sim" || { finish; exit 1; }
cd "$OUT" || exit 1
# relative mapping directories: a report names its files, and both builds
# must print the same
mkconvconf "$OUT/lin.conf" maps-lin
sed -e "s|^\(client_secret_file\|password_file\|ca_file\) = /|\1 = Z:/|" "$OUT/lin.conf" |
    sed 's|^mappings_dir = maps-lin|mappings_dir = maps-exe|' > "$OUT/exe.conf"

# --- 1. Graph: the simulator's CA is not trusted yet. The check is libcurl's
# own (CertGetCertificateChain over the store's roots): Wine's Schannel
# checks no chain at all.
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe.conf check --tenant commercial >check0.out 2>check0.err
if grep -q 'token *FAILED.*trusted root of this machine (Cert:\\LocalMachine\\Root)' check0.out; then
    pass "dualsync.exe refuses the simulator before its CA is in the Windows store"
else fail "dualsync.exe refuses an untrusted CA: $(head -c 600 check0.out check0.err)"; fi

# the CA into HKLM\...\SystemCertificates\Root as Windows' registry store
# keeps it (Wine dlls/crypt32/regstore.c: a key named by the SHA-1
# thumbprint, value Blob = serialized element: property 32 (the
# certificate), reserved 1, length, DER). Wine's certutil -addstore is a stub.
python3 - "$SIM/ca.pem" > ca.reg <<'PY'
import base64, hashlib, re, struct, sys
pem = open(sys.argv[1]).read()
der = base64.b64decode("".join(re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END", pem, re.S).group(1).split()))
blob = struct.pack("<III", 32, 1, len(der)) + der
print("Windows Registry Editor Version 5.00\r\n\r")
print("[HKEY_LOCAL_MACHINE\\Software\\Microsoft\\SystemCertificates\\Root\\Certificates\\%s]\r"
      % hashlib.sha1(der).hexdigest().upper())
print('"Blob"=hex:%s\r' % ",".join("%02x" % b for b in blob))
PY
check "the simulator's CA imported into the prefix's LocalMachine Root store" \
    wine reg import "$(winpath "$OUT/ca.reg")"
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe.conf check >check1.out 2>check1.err
n=$(grep -c '^  token *ok' check1.out)
equal "dualsync.exe check: a token from both tenants over Schannel" 2 "$n"
n=$(grep -c '^  result *ok' check1.out)
equal "dualsync.exe check: both tenants ready" 2 "$n"

# --- a client secret protected with DPAPI (protect-secret reads it on stdin).
# Wine's CryptProtectData is no protection (a fixed key, the scope ignored:
# dlls/crypt32/protectdata.c); this proves the file format and the path.
wine "$EXE" protect-secret "$(winpath "$OUT/creds/commercial.dpapi")" \
    < "$OUT/creds/commercial-app.secret" >dpapi.out 2>&1
if [ "$(head -c 4 creds/commercial.dpapi | od -An -tx1 | tr -d ' ')" = 01000000 ] &&
   ! grep -qF "$(head -1 creds/commercial-app.secret)" creds/commercial.dpapi; then
    pass "protect-secret writes a DPAPI blob, not the secret"
else fail "protect-secret: $(head -c 300 dpapi.out)"; fi
sed "s|^client_secret_file = .*commercial-app.secret|client_secret_file = $(winpath "$OUT/creds/commercial.dpapi")|" \
    exe.conf > exe-dpapi.conf
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe-dpapi.conf check --tenant commercial >dpapi1.out 2>&1
equal "dualsync.exe takes a token with the DPAPI-protected secret" 1 "$(grep -c '^  token *ok' dpapi1.out)"
head -c 60 creds/commercial.dpapi > creds/broken.dpapi && chmod 600 creds/broken.dpapi
sed "s|commercial.dpapi|broken.dpapi|" exe-dpapi.conf > exe-broken.conf
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe-broken.conf check --tenant commercial >dpapi2.out 2>&1
if grep -q 'cannot decrypt its DPAPI-protected secret' dpapi2.out; then
    pass "a damaged DPAPI secret file is refused with the remedy"
else fail "damaged DPAPI file: $(head -c 400 dpapi2.out)"; fi
refuses "protect-secret on Linux points to systemd credentials" 3 'systemd credential' \
    "$DUALSYNC" protect-secret "$OUT/x.secret" < "$OUT/creds/commercial-app.secret"

# --- the app's certificate in the store, by its thumbprint (cert_thumbprint,
# cert_store). Wine 8.0 gets as far as the key: PFXImportCertStore cannot
# put it in a CNG key storage provider (PKCS12_ALWAYS_CNG_KSP fails), and
# the CryptoAPI key it writes cannot sign SHA-256 in Wine's rsaenh (the
# Enhanced provider has no CALG_SHA_256, the RSA and AES one finds no key
# in the container: NTE_NO_KEY). A token means a Wine that can.
IMPORT=${WIN_IMPORT_PFX:-$ROOT/build-win/win-import-pfx.exe}
openssl pkcs12 -export -in "$GS/example-creds/commercial-app.pem" -inkey "$GS/example-creds/commercial-app.key" \
    -out commercial.pfx -passout pass:lab -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256
tp=$(wine "$IMPORT" "$(winpath "$OUT/commercial.pfx")" lab CurrentUser 2>pfx.err | tr -d '\r')
equal "the app's certificate imported into CurrentUser\\My" \
    "$(openssl x509 -in "$GS/example-creds/commercial-app.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')" "$tp"
sed -e "s|^client_secret_file = .*commercial-app.secret|cert_thumbprint = $tp\ncert_store = CurrentUser|" \
    exe.conf > exe-store.conf
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" --debug -c exe-store.conf check --tenant commercial >store1.out 2>&1
if grep -q '^  token *ok' store1.out; then
    pass "cert_thumbprint: a token signed by the store's key"
elif grep -q 'legacy CryptoAPI provider: RS256' store1.out && grep -q 'CryptoAPI cannot sign' store1.out; then
    pass "cert_thumbprint: certificate found and its key acquired; Wine's rsaenh cannot sign SHA-256 with it"
else fail "cert_thumbprint: $(grep -v ldap store1.out | head -c 600)"; fi
sed "s|^cert_thumbprint = .*|cert_thumbprint = 0000000000000000000000000000000000000000|" exe-store.conf > exe-store0.conf
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe-store0.conf check --tenant commercial >store0.out 2>&1
if grep -q 'no certificate with thumbprint 0000000000000000000000000000000000000000 in Cert:\\CurrentUser\\My' store0.out; then
    pass "cert_thumbprint: a certificate not in the store is named with the remedy"
else fail "cert_thumbprint missing: $(grep -v ldap store0.out | head -c 600)"; fi

# --- the system's proxy (WinHTTP), when neither the config nor the
# environment names one: the machine's WinHTTP proxy as `netsh winhttp set
# proxy` stores it (HKLM\...\Internet Settings\Connections, WinHttpSettings:
# 0x18, 0, flags 3 = proxy, then length and text of the proxy and of the
# bypass list), through a real proxy on loopback (tinyproxy)
PP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'Port %s\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nLogLevel Connect\nLogFile "%s"\n' \
    "$PP" "$OUT/tinyproxy.log" > tinyproxy.conf
: > tinyproxy.log
tinyproxy -d -c tinyproxy.conf >tinyproxy.out 2>&1 &
TPX=$!
trap 'kill $TPX 2>/dev/null; sim_stop; wineserver -k 2>/dev/null || true' EXIT
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PP") 2>/dev/null; }
wait_for 10 listening
tunnels() { grep -c 'CONNECT ' tinyproxy.log; }
winhttp_proxy() { # PROXY BYPASS: the registry value netsh writes
    python3 - "$1" "$2" > winhttp.reg <<'PY'
import struct, sys
proxy, bypass = sys.argv[1].encode(), sys.argv[2].encode()
blob = struct.pack("<III", 0x18, 0, 3 if proxy else 1) + struct.pack("<I", len(proxy)) + proxy \
     + struct.pack("<I", len(bypass)) + bypass
print("Windows Registry Editor Version 5.00\r\n\r")
print("[HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Connections]\r")
print('"WinHttpSettings"=hex:%s\r' % ",".join("%02x" % b for b in blob))
PY
    wine reg import "$(winpath "$OUT/winhttp.reg")" 2>/dev/null
}
winhttp_proxy "127.0.0.1:$PP" "<local>"
t0=$(tunnels)
env -u DUALSYNC_GRAPH_CA_FILE -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
    wine "$EXE" -c exe.conf check --tenant commercial >proxy1.out 2>&1
if grep -q "^  proxy *http://127.0.0.1:$PP (WinHTTP proxy, netsh winhttp)" proxy1.out \
   && grep -q '^  token *ok' proxy1.out && [ "$(tunnels)" -gt "$t0" ]; then
    pass "the WinHTTP proxy: check shows it and Graph goes through it ($(( $(tunnels) - t0 )) tunnels)"
else fail "WinHTTP proxy: $(grep -v ldap proxy1.out | head -c 600)"; fi
# check --tenant commercial also reads its B2B partner gcch's side, in the
# US Government cloud: the list names both clouds' hosts, as an admin's would
winhttp_proxy "127.0.0.1:$PP" "*.microsoft.com;*.microsoftonline.com;*.microsoft.us;*.microsoftonline.us"
t0=$(tunnels)
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe.conf check --tenant commercial >proxy2.out 2>&1
if grep -q '^  proxy *none' proxy2.out && grep -q '^  token *ok' proxy2.out && [ "$(tunnels)" = "$t0" ]; then
    pass "the WinHTTP bypass list naming Graph's hosts: straight there"
else fail "WinHTTP bypass: $(grep -v ldap proxy2.out | head -c 600)"; fi
winhttp_proxy "" ""
# the account's Internet Options with a PAC file (DefaultConnectionSettings:
# 0x46, a counter, flags 5 = direct + auto-config URL, empty proxy and
# bypass, the URL), served on loopback; WinHttpGetProxyForUrl runs it
HP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p pac && printf 'function FindProxyForURL(url, host) {\n  if (shExpMatch(host, "*.microsoft.com") || shExpMatch(host, "*.microsoftonline.com"))\n    return "PROXY 127.0.0.1:%s";\n  return "DIRECT";\n}\n' "$PP" > pac/proxy.pac
python3 -m http.server "$HP" --bind 127.0.0.1 --directory pac >pac.log 2>&1 &
PACD=$!
trap 'kill $TPX $PACD 2>/dev/null; sim_stop; wineserver -k 2>/dev/null || true' EXIT
pac_up() { (exec 3<>"/dev/tcp/127.0.0.1/$HP") 2>/dev/null; }
wait_for 10 pac_up
python3 - "http://127.0.0.1:$HP/proxy.pac" > ie.reg <<'PY'
import struct, sys
url = sys.argv[1].encode()
blob = struct.pack("<IIIII", 0x46, 1, 5, 0, 0) + struct.pack("<I", len(url)) + url + bytes(32)
print("Windows Registry Editor Version 5.00\r\n\r")
print("[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Connections]\r")
print('"DefaultConnectionSettings"=hex:%s\r' % ",".join("%02x" % b for b in blob))
PY
wine reg import "$(winpath "$OUT/ie.reg")" 2>/dev/null
t0=$(tunnels)
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe.conf check --tenant commercial >proxy3.out 2>&1
if grep -q "^  proxy *http://127.0.0.1:$PP (PAC http://127.0.0.1:$HP/proxy.pac, Internet Options)" proxy3.out \
   && grep -q '^  token *ok' proxy3.out && [ "$(tunnels)" -gt "$t0" ]; then
    pass "a PAC file of the account's Internet Options, run by WinHTTP: check shows it, Graph goes through it"
else fail "PAC: $(grep -v ldap proxy3.out | head -c 600)"; fi
# "Automatically detect settings" (flags 9), the Internet Options default,
# with no WPAD on the network: straight there, and no warning on every run
sed -i 's/^"DefaultConnectionSettings"=hex:46,00,00,00,01,00,00,00,05/"DefaultConnectionSettings"=hex:46,00,00,00,02,00,00,00,09/' ie.reg
wine reg import "$(winpath "$OUT/ie.reg")" 2>/dev/null
t0=$(tunnels)
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe.conf check --tenant commercial >proxy4.out 2>&1
if grep -q '^  proxy *none' proxy4.out && grep -q '^  token *ok' proxy4.out && [ "$(tunnels)" = "$t0" ] \
   && ! grep -q 'auto-configuration' proxy4.out; then
    pass "automatic detection without WPAD: straight there, nothing to warn about"
else fail "WPAD: $(grep -v ldap proxy4.out | head -c 600)"; fi
sed -i 's/^"DefaultConnectionSettings"=hex:46,00,00,00,02,00,00,00,09/"DefaultConnectionSettings"=hex:46,00,00,00,03,00,00,00,01/' ie.reg
wine reg import "$(winpath "$OUT/ie.reg")" 2>/dev/null

# --- 2. LDAP: Wine's wldap32 cannot check a server certificate
# (LDAP_OPT_SERVER_CERTIFICATE) nor sign and seal (LDAP_OPT_SIGN): the
# reader refuses before it binds, never reads unprotected
refuses "ldaps:// under Wine: refused, no unverified TLS" 3 \
    'cannot check the server certificate of ldaps://' \
    env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe.conf pull
sed -e "s|^uri = .*|uri = $AD_LDAP_URI\nstarttls = no|" -e 's/^bind = simple/bind = gssapi/' \
    -e '/^bind_dn\|^password_file\|^ca_file/d' exe.conf > exe-gss.conf
refuses "ldap:// with Kerberos under Wine: refused without signing and sealing" 3 \
    'cannot set LDAP signing' wine "$EXE" -c exe-gss.conf pull
# Past the transport, the wldap32 reader itself (paged search, ranged
# attributes, decoding) through Wine's wldap32: a lab-only cleartext hop to
# adproxy (insecure_lab_cleartext; adproxy talks LDAPS to Samba, verified)
# with small AD limits, groups in scope; the same objects as the Linux
# build's pull over LDAPS, byte for byte (sorted)
AP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$ROOT/tests/lab/adproxy.py" --listen "127.0.0.1:$AP" --plain --ca "$AD_CA_FILE" \
    --max-page 50 --max-range 100 > adproxy.log 2>&1 &
APX=$!
trap 'kill $TPX $PACD $APX 2>/dev/null; sim_stop; wineserver -k 2>/dev/null || true' EXIT
ap_up() { (exec 3<>"/dev/tcp/127.0.0.1/$AP") 2>/dev/null; }
wait_for 10 ap_up
sed -e "s|^uri = .*|uri = ldap://127.0.0.1:$AP\nstarttls = no\ninsecure_lab_cleartext = yes|" -e '/^ca_file/d' \
    -e 's/^filter = (|/filter = (|(objectClass=group)/' exe.conf > exe-clear.conf
sed 's/^filter = (|/filter = (|(objectClass=group)/' lin.conf > lin-groups.conf
wine "$EXE" -c exe-clear.conf pull -f ndjson -o "$(winpath "$OUT/exe-pull.ndjson")" >exe-pull.err 2>&1
"$DUALSYNC" -c lin-groups.conf pull -f ndjson -o lin-pull.ndjson 2>lin-pull.err
kill $APX 2>/dev/null; wait $APX 2>/dev/null
if [ -s lin-pull.ndjson ] && cmp -s <(sort exe-pull.ndjson) <(sort lin-pull.ndjson) \
   && grep -q 'pages_capped=[1-9].*ranged=[1-9]' adproxy.log; then
    pass "pull through Wine's wldap32 (paged, ranged): the Linux build's $(wc -l < lin-pull.ndjson) objects, byte for byte"
else fail "wldap32 pull: $(head -c 300 exe-pull.err; tail -1 adproxy.log)"; fi

# --- 3. the Linux build converts commercial and keeps its copy of AD
connect commercial gcch
"$DUALSYNC" -c lin.conf run --tenant commercial >lin-run.out 2>lin-run.err
rc=$?
lin_n=$(count_state invited maps-lin/commercial.map)
if [ "$rc" -le 1 ] && [ "$lin_n" -gt 0 ] && [ -s maps-lin/ad.snapshot ]; then
    pass "the Linux build converts $lin_n users of commercial and keeps its copy of AD"
else fail "Linux run (exit $rc, $lin_n invited): $(head -c 600 lin-run.err)"; fi

# --- 3b. Connect's exported configuration, read by dualsync.exe with the
# Linux build's reader (libxml2) and judged against the copy of AD the Linux
# build kept: the same findings, the same bytes (but the CR of the .exe's
# CR LF line ends). Relative paths, so that both name the same files; then
# the export in a folder named outside the ANSI code page, given as a
# Windows path with backslashes: the same findings under that name; then a
# damaged file, refused by both with the same file and line. One
# configuration for both, as check prints its name (its /tmp/... paths are
# Z:\tmp\... to the .exe, whose current directory is on Z:).
U="Z$(printf '\303\274')rich $(printf '\316\251')"     # "Zürich Ω"
rm -rf cx && mkdir -p "cx/$U"
cp -r "$ROOT/tests/fixtures/connect/out-of-box" "$ROOT/tests/fixtures/connect/damaged" cx/
cp -r "$ROOT/tests/fixtures/connect/with-rule" "cx/$U/"
connect_check() { # BUILD DIR OUT: check --connect-config DIR for gcch; OUT holds
                  # stdout, "stderr:", stderr and "exit N", without CRs
    local run=("$DUALSYNC")
    [ "$1" = exe ] && run=(env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE")
    "${run[@]}" -c lin.conf check --tenant gcch --connect-config "$2" --ad-snapshot maps-lin/ad.snapshot \
        --no-progress > "$3.stdout" 2> "$3.stderr"
    local rc=$?
    { cat "$3.stdout"; echo "stderr:"; cat "$3.stderr"; echo "exit $rc"; } | tr -d '\r' > "$3"
}
connect_check lin cx/out-of-box cx-lin.out
connect_check exe cx/out-of-box cx-exe.out
if grep -q '^  BLOCKED onPremisesUserPrincipalName' cx-lin.out && grep -qx 'exit 1' cx-lin.out \
   && cmp -s cx-lin.out cx-exe.out; then
    pass "check --connect-config: dualsync.exe finds in Connect's export what the Linux build finds ($(grep -c '^  [a-zA-Z]' cx-lin.out) findings, the same bytes)"
else fail "check --connect-config, Linux vs .exe: $(diff cx-lin.out cx-exe.out | head -c 800)"; fi
WU=$(winpath "$OUT/cx/$U/with-rule" | tr / '\\')          # Z:\tmp\...\Zürich Ω\with-rule
connect_check lin "cx/$U/with-rule" cx-lin-u.out
connect_check exe "$WU" cx-exe-u.out
exe_u=$(cat cx-exe-u.out)
if grep -q 'ready for dualsync' cx-lin-u.out && grep -qx 'exit 0' cx-lin-u.out \
   && [ "$(cat cx-lin-u.out)" = "${exe_u//"$WU"/cx/$U/with-rule}" ]; then
    pass "check --connect-config $WU: the same findings"
else fail "check --connect-config, a Windows path outside the ANSI code page: $(diff cx-lin-u.out cx-exe-u.out | head -c 800)"; fi
connect_check lin cx/damaged cx-lin-d.out
connect_check exe cx/damaged cx-exe-d.out
if grep -q 'SynchronizationRule_{5e0d1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b}.xml:21: damaged export file' cx-lin-d.out \
   && grep -qx 'exit 2' cx-lin-d.out && cmp -s cx-lin-d.out cx-exe-d.out; then
    pass "a damaged export: both builds refuse it with the same file, line and message"
else fail "damaged export, Linux vs .exe: $(diff cx-lin-d.out cx-exe-d.out | head -c 800)"; fi

# --- 4. dualsync.exe converts gcch from that copy
seq0=$(log_seq)
env -u DUALSYNC_GRAPH_CA_FILE wine "$EXE" -c exe.conf run --tenant gcch \
    --ad-snapshot "$(winpath "$OUT/maps-lin/ad.snapshot")" >exe-run.out 2>exe-run.err
rc=$?
exe_n=$(count_state invited maps-exe/gcch.map)
if [ "$rc" -le 1 ] && [ "$exe_n" -ge 20 ] && [ "$(writes_since "$seq0")" -ge "$exe_n" ]; then
    pass "dualsync.exe converts $exe_n users of gcch through Graph"
else fail "dualsync.exe run (exit $rc, $exe_n invited): $(head -c 600 exe-run.err)"; fi
equal "no user invited twice" 0 "$(invited_twice)"
seq1=$(log_seq)
# Wine's RegisterEventSourceW and ReportEventW are stubs that keep no log:
# their debug channels show what was reported (advapi: type and event ID;
# eventlog: the message)
env -u DUALSYNC_GRAPH_CA_FILE WINEDEBUG=-all,+eventlog,fixme+advapi wine "$EXE" -c exe.conf run --tenant gcch \
    --ad-snapshot "$(winpath "$OUT/maps-lin/ad.snapshot")" >exe-run2.out 2>eventlog.trace
equal "a second dualsync.exe run writes nothing to Graph" 0 "$(writes_since "$seq1")"
# users stay blocked: exit 1, a Warning (2), event 1101 (0x44d); how many
# objects depends on the lab's size and what earlier tests left in it
if grep -q 'RegisterEventSourceW ((null),L"dualsync")' eventlog.trace \
   && grep -q 'ReportEventW ([0-9A-F]*,0x0002,0x0000,0x0000044d,' eventlog.trace \
   && grep -q 'dualsync run --tenant gcch: exit 1\\ntenant gcch: done, with objects blocked, pending or failed; [0-9]* objects, 0 invited' eventlog.trace; then
    pass "the run's outcome goes to the event log: source dualsync, Warning, event 1101, one line per tenant"
else fail "event log: $(grep -i 'event' eventlog.trace | head -c 600)"; fi
printf 'not a snapshot\n' > bad.snapshot
refuses "a copy of AD that is not one is refused" 3 'no copy of AD kept for this configuration' \
    "$DUALSYNC" -c lin.conf plan --ad-snapshot bad.snapshot

# --- 5. one file format: each build reads the other's mapping files and
# audit trails, and prints the same report
sed 's|^mappings_dir = maps-lin|mappings_dir = maps-exe|' lin.conf > lin-x.conf
sed 's|^mappings_dir = maps-exe|mappings_dir = maps-lin|' exe.conf > exe-x.conf
# one "generated" time for all of them (report.c honours SOURCE_DATE_EPOCH)
export SOURCE_DATE_EPOCH=$(date +%s)
for f in csv json html; do
    for d in lin exe; do
        lc=lin.conf ec=exe-x.conf
        [ $d = exe ] && lc=lin-x.conf ec=exe.conf
        "$DUALSYNC" -c $lc report -f $f -o rep-$d-by-lin.$f 2>rep.err
        wine "$EXE" -c $ec report -f $f -o "$(winpath "$OUT/rep-$d-by-exe.$f")" 2>>rep.err
        if [ -s rep-$d-by-lin.$f ] && cmp -s rep-$d-by-lin.$f rep-$d-by-exe.$f; then
            pass "report -f $f of the $d build's files: the same bytes from both builds"
        else fail "report -f $f of the $d build's files differs: $(cmp rep-$d-by-lin.$f rep-$d-by-exe.$f 2>&1; head -c 300 rep.err)"; fi
    done
done
finish
