#!/bin/bash
# Start the lab Active Directory: a Samba AD DC for CORP.EXAMPLE.TEST on loopback only.
#
#   tests/lab/ad-start.sh [PREFIX]          PREFIX defaults to /tmp/dualsync-lab
#
# Idempotent. Installs missing Debian packages, provisions PREFIX if it holds no
# domain yet, sets up TLS (own test CA), krb5.conf, SPNs, the Exchange
# extensionAttribute1..15 schema, a GSSAPI service account with a keytab, then
# starts `samba -D`, waits until LDAP, LDAPS (CA-verified) and the KDC answer,
# and writes PREFIX/env.sh. Stop with tests/lab/ad-stop.sh PREFIX.
#
# Environment knobs: AD_ADMIN_PW (default Lab-Passw0rd.2024), AD_SVC_PW,
# AD_BACKEND=tdb|mdb, AD_REPROVISION=1 (wipe PREFIX and provision again),
# AD_READY_TIMEOUT=60 (seconds), AD_NO_START=1 (provision and set up only: no
# samba, no ports, no env.sh; ad-seed.sh can then load offline).
# Needs root: samba binds 88/135/139/389/445/464/636/3268/3269 on 127.0.0.1 and ::1.
set -euo pipefail
LAB_TAG=ad-start
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"
lab_prefix "${1:-}"

REALM=CORP.EXAMPLE.TEST
DOMAIN=CORP
REALM_LC=corp.example.test
BASE_DN=DC=corp,DC=example,DC=test
DC_FQDN=dc1.$REALM_LC
ADMIN_PW=${AD_ADMIN_PW:-Lab-Passw0rd.2024}
SVC_USER=svc-dualsync
SVC_PW=${AD_SVC_PW:-Svc-Dualsync.Passw0rd-2024}
BACKEND=${AD_BACKEND:-tdb}
READY_TIMEOUT=${AD_READY_TIMEOUT:-60}
CONF=$PREFIX/etc/smb.conf
SAM=$PREFIX/private/sam.ldb
STAMPS=$PREFIX/.stamps
HOST=$(hostname)
HOST_F=$(hostname -f 2>/dev/null || hostname)

[ "$(id -u)" = 0 ] || die "must run as root (samba binds privileged ports)"

# ------------------------------------------------------------------ packages
# the one list of what the lab needs is scripts/install-deps.sh
"$LAB_DIR/../../scripts/install-deps.sh" --lab || die "the lab's packages could not be installed"

stamp() { mkdir -p "$STAMPS"; touch "$STAMPS/$1"; }
stamped() { [ -e "$STAMPS/$1" ]; }

# ----------------------------------------------------------------- provision
provision() {
    if [ -e "$PREFIX" ]; then
        [ -e "$PREFIX/.dualsync-lab" ] || [ -z "$(ls -A "$PREFIX")" ] \
            || die "$PREFIX exists and is not a dualsync lab prefix; choose another"
        rm -rf "$PREFIX"
    fi
    mkdir -p "$PREFIX"/{run,log,tls}
    touch "$PREFIX/.dualsync-lab"
    log "provisioning $REALM into $PREFIX (backend $BACKEND)"
    # dns-backend NONE and the /bin/true update commands: no DNS anywhere, no
    # traffic off loopback. 'allow_sasl_over_tls' is what AD does: simple bind only
    # over TLS, GSSAPI without sign/seal allowed inside TLS.
    samba-tool domain provision --targetdir="$PREFIX" --realm="$REALM" --domain="$DOMAIN" \
        --server-role=dc --dns-backend=NONE --use-rfc2307 --host-name=dc1 \
        --adminpass="$ADMIN_PW" --backend-store="$BACKEND" \
        --option="netbios name = DC1" \
        --option="interfaces = lo" --option="bind interfaces only = yes" \
        --option="pid directory = $PREFIX/run" --option="ncalrpc dir = $PREFIX/run/ncalrpc" \
        --option="winbindd socket directory = $PREFIX/run/winbindd" \
        --option="ntp signd socket directory = $PREFIX/run/ntp_signd" \
        --option="log file = $PREFIX/log/samba.log" --option="log level = 1" \
        --option="dns update command = /bin/true" --option="spn update command = /bin/true" \
        --option="disable netbios = yes" \
        --option="server services = s3fs, rpc, ldap, cldap, kdc, drepl, winbindd, ntp_signd, kcc" \
        --option="ldap server require strong auth = allow_sasl_over_tls" \
        --option="tls enabled = yes" --option="tls keyfile = $PREFIX/tls/key.pem" \
        --option="tls certfile = $PREFIX/tls/cert.pem" --option="tls cafile = $PREFIX/tls/ca.pem" \
        > "$PREFIX/log/provision.log" 2>&1 \
        || { tail -20 "$PREFIX/log/provision.log" >&2; die "provision failed (log: $PREFIX/log/provision.log)"; }
    stamp provision
    log "provisioned"
}

# issue_cert NAME CN SAN: key+cert signed by the lab CA into PREFIX/tls/NAME-{key,cert}.pem
issue_cert() {
    local name=$1 cn=$2 san=$3
    ( cd "$PREFIX/tls"
      openssl req -newkey rsa:2048 -nodes -keyout "$name-key.pem" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
      printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
          "$san" > "$name.ext"
      openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name-cert.pem" \
          -days 3650 -sha256 -extfile "$name.ext" 2>/dev/null
      rm -f "$name.csr"
      chmod 600 "$name-key.pem" )
}

setup_tls() {
    # Samba's own generated cert has CN=DC1.<realm> and no SAN, so a verifying
    # client fails on every name. Our CA issues one with every name a client may use
    # (libldap checks 'localhost' as the machine's hostname).
    local san="DNS:$DC_FQDN,DNS:dc1,DNS:localhost,DNS:$HOST,DNS:$HOST_F,IP:127.0.0.1,IP:::1"
    ( cd "$PREFIX/tls"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -sha256 \
          -subj "/O=dualsync lab/CN=dualsync Lab Test CA" \
          -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
      chmod 600 ca.key )
    issue_cert server "$DC_FQDN" "$san"
    ln -sf server-key.pem "$PREFIX/tls/key.pem"
    ln -sf server-cert.pem "$PREFIX/tls/cert.pem"
    # the LDAP proxy (adproxy.py) listens on 127.0.0.1 with its own cert from the same CA
    issue_cert proxy localhost "DNS:localhost,DNS:$HOST,DNS:$HOST_F,IP:127.0.0.1,IP:::1"
    # an unrelated CA: tests prove a client trusting it refuses the lab servers
    ( cd "$PREFIX/tls"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout wrongca.key -out wrongca.pem -days 3650 -sha256 \
          -subj "/O=elsewhere/CN=Unrelated Wrong Test CA" \
          -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
      chmod 600 wrongca.key )
    stamp tls
    log "TLS: lab CA, server cert (SAN $san), proxy cert, wrong CA"
}

setup_krb5() {
    cat > "$PREFIX/krb5.conf" <<EOF
[libdefaults]
    default_realm = $REALM
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false

[realms]
    $REALM = {
        kdc = 127.0.0.1
        admin_server = 127.0.0.1
        default_domain = $REALM_LC
    }

[domain_realm]
    .$REALM_LC = $REALM
    $REALM_LC = $REALM
    localhost = $REALM
    $HOST = $REALM
    $HOST_F = $REALM
EOF
    stamp krb5
}

setup_directory() {
    # password expiry off, no complexity: test accounts must never age out
    samba-tool domain passwordsettings set -s "$CONF" --complexity=off --history-length=0 \
        --min-pwd-age=0 --max-pwd-age=0 >/dev/null
    # spnupdate is disabled, so not even ldap/<fqdn> exists; libldap derives the
    # SPN from the host in the URI, and maps 127.0.0.1/localhost to the hostname.
    { echo "dn: CN=DC1,OU=Domain Controllers,$BASE_DN"
      echo "changetype: modify"
      echo "add: servicePrincipalName"
      printf 'servicePrincipalName: ldap/%s\n' "$DC_FQDN" dc1 localhost "$HOST" "$HOST_F" 127.0.0.1 | sort -u
    } > "$PREFIX/spn.ldif"
    ldbmodify -H "$SAM" "$PREFIX/spn.ldif" >/dev/null
    stamp directory
    log "password policy relaxed, SPNs added"
}

# Exchange's extensionAttribute1..15 (ms-Exch-Extension-Attribute-N, the Exchange
# attributeIDs 1.2.840.113556.1.2.423-432 and .599-603). Samba's schema lacks them
# and refuses schema changes over LDAP, so they go in offline, in two passes
# (the mayContain pass needs the reloaded schema).
setup_extattrs() {
    local S="CN=Schema,CN=Configuration,$BASE_DN" i oid up cls
    for i in $(seq 1 15); do
        if [ "$i" -le 10 ]; then oid=1.2.840.113556.1.2.$((422 + i)); up=1024
        else oid=1.2.840.113556.1.2.$((588 + i)); up=2048; fi
        printf '%s\n' "dn: CN=ms-Exch-Extension-Attribute-$i,$S" "changetype: add" \
            "objectClass: top" "objectClass: attributeSchema" "cn: ms-Exch-Extension-Attribute-$i" \
            "attributeID: $oid" "lDAPDisplayName: extensionAttribute$i" "attributeSyntax: 2.5.5.12" \
            "oMSyntax: 64" "isSingleValued: TRUE" "rangeLower: 1" "rangeUpper: $up" "searchFlags: 16" \
            "isMemberOfPartialAttributeSet: TRUE" ""
    done > "$PREFIX/extattrs-1.ldif"
    for cls in User Contact Group; do
        printf '%s\n' "dn: CN=$cls,$S" "changetype: modify" "add: mayContain"
        for i in $(seq 1 15); do echo "mayContain: extensionAttribute$i"; done
        printf '%s\n' "-" ""
    done > "$PREFIX/extattrs-2.ldif"
    ldbmodify -H "$SAM" --option="dsdb:schema update allowed=true" "$PREFIX/extattrs-1.ldif" >/dev/null
    ldbmodify -H "$SAM" --option="dsdb:schema update allowed=true" "$PREFIX/extattrs-2.ldif" >/dev/null
    stamp extattrs
    log "schema: extensionAttribute1..15 on user, contact, group"
}

# A dedicated service account for GSSAPI binds from a keytab, as dualsync would
# run on a domain-joined host.
setup_svc() {
    samba-tool user create "$SVC_USER" "$SVC_PW" -s "$CONF" \
        --description="dualsync AD reader (lab)" --given-name=dualsync --surname=service >/dev/null
    samba-tool user setexpiry "$SVC_USER" --noexpiry -s "$CONF" >/dev/null
    rm -f "$PREFIX/$SVC_USER.keytab"
    samba-tool domain exportkeytab "$PREFIX/$SVC_USER.keytab" --principal="$SVC_USER@$REALM" -s "$CONF" \
        > "$PREFIX/log/exportkeytab.log" 2>&1 || { cat "$PREFIX/log/exportkeytab.log" >&2; die "exportkeytab failed"; }
    chmod 600 "$PREFIX/$SVC_USER.keytab"
    stamp svc
    log "service account $SVC_USER with keytab $PREFIX/$SVC_USER.keytab"
}

setup_done() {
    local s
    for s in provision tls krb5 directory extattrs svc; do stamped "$s" || return 1; done
}

if [ "${AD_REPROVISION:-0}" = 1 ]; then
    samba_running && die "samba is running in $PREFIX; stop it first (tests/lab/ad-stop.sh $PREFIX)"
    provision
elif ! stamped provision || [ ! -f "$SAM" ]; then
    samba_running && die "samba runs in $PREFIX but the prefix is incomplete; run ad-stop.sh --purge"
    provision
fi
if ! setup_done; then
    # these steps write sam.ldb and the schema offline: samba must not be running
    samba_running && die "setup of $PREFIX is incomplete while samba runs; run tests/lab/ad-stop.sh $PREFIX, then again"
    stamped tls || setup_tls
    stamped krb5 || setup_krb5
    stamped directory || setup_directory
    stamped extattrs || setup_extattrs
    stamped svc || setup_svc
fi

if [ "${AD_NO_START:-0}" = 1 ]; then
    log "set up $PREFIX; not starting samba (AD_NO_START=1)"
    exit 0
fi

# --------------------------------------------------------------------- start
if samba_running; then
    log "samba already running (pid $(samba_pid))"
else
    for port in 88 135 139 389 445 464 636 3268 3269; do
        if [ -n "$(ss -Hltn "( sport = :$port )")" ]; then
            ss -Hltnp "( sport = :$port )" >&2
            die "TCP port $port is already in use (another lab running? tests/lab/ad-stop.sh PREFIX)"
        fi
    done
    rm -f "$PREFIX/run/"*.pid
    # No fsync in the lab's databases (tdb obeys TDB_NO_FSYNC, which Samba's
    # own selftest sets): a write over LDAP then costs ~4 ms instead of
    # ~45 ms (50 modifies: 0.18 s against 2.1 s on a busy 2-core machine).
    # The lab is thrown away, never recovered after a power loss.
    # AD_FSYNC=1 keeps fsync.
    [ "${AD_FSYNC:-0}" = 1 ] || export TDB_NO_FSYNC=1
    # -D forks, calls setsid and writes run/samba.pid; the root process leads its
    # process group, so SIGTERM to that pid stops every worker.
    samba -s "$CONF" -D > "$PREFIX/log/samba.stdout" 2>&1 \
        || die "samba -D failed: $(cat "$PREFIX/log/samba.stdout")"
    for _ in $(seq 1 100); do samba_running && break; sleep 0.1; done
    samba_running || { tail -30 "$PREFIX/log/samba.log" >&2; die "samba did not come up (no live pid in $PREFIX/run/samba.pid)"; }
    log "samba started (pid $(samba_pid))"
fi

# ----------------------------------------------------------------- readiness
export LDAPTLS_CACERT=$PREFIX/tls/ca.pem LDAPTLS_REQCERT=demand
export KRB5_CONFIG=$PREFIX/krb5.conf KRB5CCNAME=FILE:$PREFIX/krb5cc
deadline=$(( $(date +%s) + READY_TIMEOUT ))
wait_for() {
    local what=$1
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || { tail -30 "$PREFIX/log/samba.log" >&2; die "timeout waiting for $what"; }
        samba_running || { tail -30 "$PREFIX/log/samba.log" >&2; die "samba exited"; }
        sleep 0.1
    done
    log "ready: $what"
}
wait_for "LDAP rootDSE on 389" ldapsearch -x -LLL -H ldap://127.0.0.1 -s base -b '' dsServiceName
wait_for "LDAPS simple bind on 636, CA-verified" ldapsearch -x -LLL -H ldaps://127.0.0.1:636 \
    -D "Administrator@$REALM" -w "$ADMIN_PW" -s base -b "$BASE_DN" dn
wait_for "KDC (kinit Administrator)" sh -c "printf '%s\n' '$ADMIN_PW' | kinit 'Administrator@$REALM'"

# ------------------------------------------------------------------- env.sh
umask 077
printf '%s' "$ADMIN_PW" > "$PREFIX/admin.pw"
printf '%s' "$SVC_PW" > "$PREFIX/$SVC_USER.pw"
chmod 600 "$PREFIX/admin.pw" "$PREFIX/$SVC_USER.pw"
umask 022
cat > "$PREFIX/env.sh" <<EOF
# source me: connection facts of the dualsync lab AD in $PREFIX (written by ad-start.sh)
export AD_LAB_PREFIX='$PREFIX'
export SAMBA_AD_PID='$(samba_pid)'
export AD_REALM='$REALM'
export AD_DOMAIN='$DOMAIN'
export AD_DC_FQDN='$DC_FQDN'
export AD_BASE_DN='$BASE_DN'
export AD_LDAPS_URI='ldaps://127.0.0.1:636'
export AD_LDAP_URI='ldap://127.0.0.1:389'
export AD_GC_LDAPS_URI='ldaps://127.0.0.1:3269'
export AD_BIND_UPN='Administrator@$REALM'
export AD_BIND_DN='CN=Administrator,CN=Users,$BASE_DN'
export AD_BIND_PW='$ADMIN_PW'
export AD_PW_FILE='$PREFIX/admin.pw'
export AD_CA_FILE='$PREFIX/tls/ca.pem'
export AD_WRONG_CA_FILE='$PREFIX/tls/wrongca.pem'
export AD_PROXY_CERT='$PREFIX/tls/proxy-cert.pem'
export AD_PROXY_KEY='$PREFIX/tls/proxy-key.pem'
export AD_SVC_UPN='$SVC_USER@$REALM'
export AD_SVC_DN='CN=$SVC_USER,CN=Users,$BASE_DN'
export AD_SVC_PW_FILE='$PREFIX/$SVC_USER.pw'
export AD_KEYTAB='$PREFIX/$SVC_USER.keytab'
export AD_KEYTAB_PRINCIPAL='$SVC_USER@$REALM'
export LDAPTLS_CACERT='$PREFIX/tls/ca.pem'
export LDAPTLS_REQCERT='demand'
export KRB5_CONFIG='$PREFIX/krb5.conf'
export KRB5CCNAME='FILE:$PREFIX/krb5cc'
EOF
log "up; facts in $PREFIX/env.sh"
cat "$PREFIX/env.sh"
