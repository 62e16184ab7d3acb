#!/bin/bash
# make install into a staging root: the binary, both man pages (rendered
# without a warning), the examples, the systemd units (systemd-analyze verify
# against the staging root), the bash completion (a command and a tenant
# name from the config file), the PowerShell script. Needs no lab service.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$OUT/root
rm -rf "$D"

if make -C "$ROOT" -s install DESTDIR="$D" PREFIX=/usr >"$OUT/install.log" 2>&1; then
    pass "make install DESTDIR=... PREFIX=/usr"
else
    fail "make install: $(tail -5 "$OUT/install.log")"
fi
for f in usr/bin/dualsync usr/share/man/man1/dualsync.1 usr/share/man/man5/dualsync.conf.5 \
         usr/share/doc/dualsync/examples/defense-contractor.conf \
         usr/share/doc/dualsync/examples/mesh-four-subsidiaries.conf \
         usr/share/doc/dualsync/examples/single-resource-tenant.conf \
         usr/share/doc/dualsync/deployment.md \
         usr/lib/systemd/system/dualsync-watch.service usr/lib/systemd/system/dualsync-run.service \
         usr/lib/systemd/system/dualsync-run.timer usr/lib/sysusers.d/dualsync.conf \
         usr/lib/tmpfiles.d/dualsync.conf usr/share/bash-completion/completions/dualsync \
         usr/share/dualsync/Register-DualsyncTask.ps1 usr/share/dualsync/New-DualsyncConnectRule.ps1; do
    if [ -s "$D/$f" ]; then pass "installed /$f"; else fail "/$f is missing"; fi
done
[ -x "$D/usr/bin/dualsync" ] && "$D/usr/bin/dualsync" version >/dev/null \
    && pass "the installed binary runs" || fail "the installed binary does not run"
equal "both services start the installed binary" 2 \
    "$(grep -l '^ExecStart=/usr/bin/dualsync ' "$D"/usr/lib/systemd/system/dualsync-*.service | wc -l)"

# a PREFIX elsewhere lands elsewhere, and the units follow it
make -C "$ROOT" -s install DESTDIR="$OUT/root2" PREFIX=/opt/ds >/dev/null 2>&1
grep -q '^ExecStart=/opt/ds/bin/dualsync ' "$OUT/root2/opt/ds/lib/systemd/system/dualsync-run.service" 2>/dev/null \
    && [ -x "$OUT/root2/opt/ds/bin/dualsync" ] \
    && pass "PREFIX=/opt/ds: binary and ExecStart under it" || fail "PREFIX=/opt/ds not honoured"

# --- the manual pages render without a warning
command -v man >/dev/null || apt-get install -y -q man-db >/dev/null 2>&1
for m in doc/dualsync.1 doc/dualsync.conf.5; do
    MANWIDTH=80 man --warnings -l "$ROOT/$m" >"$OUT/man.out" 2>"$OUT/man.err"
    rc=$?
    if [ $rc = 0 ] && [ ! -s "$OUT/man.err" ] && [ "$(wc -l <"$OUT/man.out")" -gt 50 ]; then
        pass "man -l $m renders without warnings"
    else
        fail "man -l $m: exit $rc: $(head -5 "$OUT/man.err")"
    fi
done
# every command of the binary is in the page
MANWIDTH=80 man -l "$ROOT/doc/dualsync.1" 2>/dev/null >"$OUT/man1.txt"
missing=
for c in $("$DUALSYNC" --help | awk '/^commands:/ {on = 1; next} on && NF == 0 {exit} on {print $1}'); do
    grep -q "^       $c\b\|^       dualsync $c\b" "$OUT/man1.txt" || missing="$missing $c"
done
equal "every command of dualsync --help is in dualsync(1)" "" "$missing"

# --- systemd units
command -v systemd-analyze >/dev/null || apt-get install -y -q systemd >/dev/null 2>&1
# verify checks that ExecStart= exists on this host: verify the units of an
# install whose PREFIX is a real directory here (the same files but for that
# path); --man=no: Documentation= names pages this host has not installed
# (they were rendered above)
V=$OUT/vroot
make -C "$ROOT" -s install PREFIX="$V/usr" SYSCONFDIR="$V/etc" >/dev/null 2>&1
if systemd-analyze verify --man=no "$V"/usr/lib/systemd/system/dualsync-{watch.service,run.service,run.timer} \
        >"$OUT/verify.out" 2>&1 && [ ! -s "$OUT/verify.out" ]; then
    pass "systemd-analyze verify: the three units are clean"
else
    fail "systemd-analyze verify: $(head -c 800 "$OUT/verify.out")"
fi
for k in 'User=dualsync' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
         'CapabilityBoundingSet=$' 'LoadCredential=dualsync:/etc/dualsync/credentials' \
         'ReadWritePaths=/var/lib/dualsync' 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
    n=$(grep -l "^$k" "$D"/usr/lib/systemd/system/dualsync-*.service | wc -l)
    equal "both services have $k" 2 "$n"
done
# what systemd itself makes of the hardening (lower is better; 10 is "unsafe")
if systemd-analyze security --offline=yes --root="$D" "$D/usr/lib/systemd/system/dualsync-run.service" \
        >"$OUT/security.out" 2>&1; then
    score=$(grep -o 'Overall exposure level for [^:]*: [0-9.]*' "$OUT/security.out" | awk '{print $NF}')
    awk -v s="$score" 'BEGIN { exit !(s != "" && s < 3.0) }' \
        && pass "systemd-analyze security: exposure $score (< 3.0)" \
        || fail "systemd-analyze security: exposure '$score'"
fi

# --- bash completion: a command, an option of it, a tenant name from -c FILE
cat >"$OUT/c.conf" <<'CONF'
[tenant contoso]
cloud = global
[tenant gcch-defense]
cloud = usgov-high
CONF
complete_words() {  # the completions of the command line "$@" (the last word is completed)
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
             _dualsync; printf "%s\n" "${COMPREPLY[@]}"' _ \
        "$D/usr/share/bash-completion/completions/dualsync" "$@" | sort | tr '\n' ' '
}
equal "completes a command" "plan " "$(complete_words dualsync pla)"
equal "completes the commands starting with r" "report run " "$(complete_words dualsync r)"
equal "completes an option of the command" "--max-changes " "$(complete_words dualsync run --max)"
equal "completes a tenant from -c FILE" "gcch-defense " "$(complete_words dualsync -c "$OUT/c.conf" plan --tenant gc)"
equal "completes every tenant" "contoso gcch-defense " "$(complete_words dualsync -c "$OUT/c.conf" run -t '')"
equal "completes a format of the command" "csv html json " "$(complete_words dualsync report --format '')"

finish
