"""A simulated Microsoft Entra Connect Sync cycle for one tenant.

Reads the lab AD over LDAPS with the ldapsearch CLI (paged, CA-verified) or
takes canned LDIF, then creates, updates and deletes synced member users the
way Connect's default rules do (reference graph-api.md sections 2.2, 6):

* onPremisesImmutableId = base64 of the raw 16 bytes of mS-DS-ConsistencyGuid,
  falling back to objectGUID (or objectGUID only, if configured); once
  exported the anchor cannot change (the object is then left alone, with an
  error in the run result);
* userPrincipalName = the AD UPN when its suffix is a verified domain (or a
  subdomain of one) of the tenant, else prefix@<initial domain>
  (Microsoft 365 doc "Prepare a non-routable domain for directory
  synchronization"); a UPN taken by another object gets 4 random digits
  (duplicate attribute resiliency) and a provisioning error;
* onPremisesUserPrincipalName written unless the tenant is configured as if
  the default rule had been changed; values already written are NOT removed
  when the rule is changed later (reference 1.4, Q&A 1094072) unless
  clear_existing_onpremises_upn is set;
* userType Member at creation, never changed afterwards (UserType sync is off
  by default, reference 1.8) unless usertype_sync is configured;
* objects that leave AD or the scope are (soft-)deleted, guarded by the
  500-delete threshold (reference 6.3);
* externalUserState, identities and memberships are never touched, so a
  cycle never undoes a conversion (reference 6.6);
* organization.onPremisesLastSyncDateTime moves at the end of every cycle.
"""
import base64
import os
import re
import shlex
import struct
import subprocess
import tempfile
import time

from gs_common import GraphError, iso

AD_ATTRS = [
    "objectGUID", "mS-DS-ConsistencyGuid", "objectSid", "userPrincipalName", "sAMAccountName", "mail",
    "displayName", "cn", "givenName", "sn", "userAccountControl", "c", "co", "company", "department", "title",
    "proxyAddresses", "mailNickname", "employeeID", "telephoneNumber", "mobile", "l", "st", "streetAddress",
    "postalCode", "physicalDeliveryOfficeName", "isCriticalSystemObject", "objectClass", "distinguishedName",
] + ["extensionAttribute%d" % i for i in range(1, 16)]

DEFAULT_FILTER = "(&(objectCategory=person)(objectClass=user))"

# sAMAccountName prefixes the out-of-box "In from AD - User Join" rule scopes out
EXCLUDED_SAM_PREFIXES = ("SUPPORT_388945a0", "MSOL_", "AAD_", "Exchange_Online-ApplicationAccount",
                         "CAS_{", "SystemMailbox{", "FederatedEmail", "DiscoverySearchMailbox", "Migration.",
                         "krbtgt")

# Graph properties a cycle owns for a synced user (all others are left alone)
OWNED = ["accountEnabled", "businessPhones", "city", "companyName", "country", "department", "displayName",
         "employeeId", "givenName", "jobTitle", "mail", "mailNickname", "mobilePhone", "officeLocation",
         "onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesExtensionAttributes",
         "onPremisesImmutableId", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
         "onPremisesSyncEnabled", "postalCode", "proxyAddresses", "state", "streetAddress", "surname",
         "usageLocation", "userPrincipalName", "onPremisesUserPrincipalName"]


# ---------------------------------------------------------------------------
# LDIF
# ---------------------------------------------------------------------------
def parse_ldif(text):
    """Parse ldapsearch LDIF output. Returns [{'dn': str, 'attrs': {lower: [bytes]}}].
    Handles 'attr:: base64', folded lines, comments, referral lines."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = []
    for line in text.splitlines():
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    entries = []
    cur = None
    for line in lines:
        if not line.strip():
            if cur is not None:
                entries.append(cur)
            cur = None
            continue
        if line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9;.\-]*)(::|:<|:)\s?(.*)$", line)
        if not m:
            continue
        name, sep, val = m.group(1), m.group(2), m.group(3)
        if sep == "::":
            try:
                bval = base64.b64decode(val)
            except Exception:
                bval = b""
        elif sep == ":<":
            continue
        else:
            bval = val.encode("utf-8")
        lname = name.lower()
        if lname == "dn":
            if cur is not None:
                entries.append(cur)
            cur = {"dn": bval.decode("utf-8", "replace"), "attrs": {}}
        elif cur is None:
            continue      # version:, ref:, search result lines
        else:
            cur["attrs"].setdefault(lname.split(";")[0], []).append(bval)
    if cur is not None:
        entries.append(cur)
    return entries


def sid_to_str(b):
    if not b or len(b) < 8:
        return None
    rev, count = b[0], b[1]
    auth = int.from_bytes(b[2:8], "big")
    subs = struct.unpack("<" + "I" * count, b[8:8 + 4 * count])
    return "S-%d-%d" % (rev, auth) + "".join("-%d" % s for s in subs)


def dn_domain(dn):
    parts = []
    for rdn in re.split(r"(?<!\\),", dn):
        k, _, v = rdn.strip().partition("=")
        if k.strip().lower() == "dc":
            parts.append(v.strip())
    return ".".join(parts).lower() or None


# ---------------------------------------------------------------------------
# Reading the lab AD
# ---------------------------------------------------------------------------
def read_env_file(path):
    """Read `export K='V'` lines of the lab's env.sh without running it."""
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):
                line = line[7:]
            if "=" not in line or line.startswith("#"):
                continue
            k, _, v = line.partition("=")
            try:
                vals = shlex.split(v)
            except ValueError:
                continue
            env[k.strip()] = vals[0] if vals else ""
    return env


def ldap_facts(tenant_connect, body, environ):
    """Connection facts: request body > tenant config > lab env file > process env."""
    env = dict(environ)
    lab_env = body.get("lab_env") or tenant_connect.get("lab_env") or environ.get("LAB_ENV")
    if lab_env:
        env.update(read_env_file(lab_env))

    def pick(key, *env_keys):
        if body.get(key):
            return body[key]
        if tenant_connect.get(key):
            return tenant_connect[key]
        for k in env_keys:
            if env.get(k):
                return env[k]
        return None

    facts = {
        "uri": pick("ldap_uri", "AD_LDAPS_URI"),
        "base_dn": pick("base_dn", "AD_BASE_DN"),
        "bind_upn": pick("bind_upn", "AD_BIND_UPN"),
        "password": body.get("password") or None,
        "password_file": pick("password_file", "AD_BIND_PW_FILE", "AD_PW_FILE"),
        "ca_file": pick("ca_file", "AD_CA_FILE", "LDAPTLS_CACERT"),
        "filter": body.get("filter") or tenant_connect.get("filter") or DEFAULT_FILTER,
        "page_size": int(body.get("page_size") or tenant_connect.get("page_size") or 500),
    }
    if not facts["password"] and not facts["password_file"] and env.get("AD_BIND_PW"):
        facts["password"] = env["AD_BIND_PW"]
    return facts


def run_ldapsearch(facts):
    missing = [k for k in ("uri", "base_dn", "bind_upn", "ca_file") if not facts.get(k)]
    if not facts.get("password") and not facts.get("password_file"):
        missing.append("password")
    if missing:
        raise GraphError(400, "BadRequest", "connect-cycle: missing LDAP connection facts: %s (give them in the request, "
                         "the tenant's connect config, LAB_ENV or AD_* environment variables)" % ", ".join(missing))
    if not facts["uri"].lower().startswith("ldaps://"):
        raise GraphError(400, "BadRequest", "connect-cycle: only LDAPS URIs are used (got %s)" % facts["uri"])
    with tempfile.TemporaryDirectory(prefix="graphsim-ldap-") as d:
        pw = facts.get("password")
        if pw is None:
            with open(facts["password_file"], encoding="utf-8") as f:
                pw = f.read().rstrip("\r\n")
        pwf = os.path.join(d, "pw")
        fd = os.open(pwf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(pw)      # ldapsearch -y uses the whole file: no newline
        cmd = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-H", facts["uri"], "-x", "-D", facts["bind_upn"],
               "-y", pwf, "-b", facts["base_dn"], "-s", "sub", "-E", "pr=%d/noprompt" % facts["page_size"],
               facts["filter"]] + AD_ATTRS
        env = dict(os.environ)
        env["LDAPTLS_CACERT"] = facts["ca_file"]
        env["LDAPTLS_REQCERT"] = "demand"
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, env=env, timeout=600)
        elapsed = time.time() - t0
    if r.returncode not in (0,):
        raise GraphError(502, "BadGateway", "connect-cycle: ldapsearch failed (exit %d): %s" % (
            r.returncode, r.stderr.decode("utf-8", "replace").strip()[:500]))
    return r.stdout, elapsed


# ---------------------------------------------------------------------------
# Mapping an AD user to the cloud user Connect would export
# ---------------------------------------------------------------------------
def _text(attrs, name):
    v = attrs.get(name.lower())
    if not v:
        return None
    s = v[0].decode("utf-8", "replace")
    return s if s != "" else None


def in_scope(entry):
    a = entry["attrs"]
    oc = {x.decode("utf-8", "replace").lower() for x in a.get("objectclass", [])}
    if oc and ("user" not in oc or "computer" in oc):
        return False, "not a user object"
    if (_text(a, "isCriticalSystemObject") or "").upper() == "TRUE":
        return False, "isCriticalSystemObject"
    sam = _text(a, "sAMAccountName") or ""
    for p in EXCLUDED_SAM_PREFIXES:
        if sam.lower().startswith(p.lower()):
            return False, "excluded sAMAccountName"
    if not a.get("objectguid"):
        return False, "no objectGUID"
    return True, None


def anchor_of(entry, anchor_attr):
    a = entry["attrs"]
    guid = a.get("objectguid", [None])[0]
    cg = a.get("ms-ds-consistencyguid", [None])[0]
    if anchor_attr.lower() == "ms-ds-consistencyguid" and cg:
        raw = cg
    else:
        raw = guid
    return base64.b64encode(raw).decode("ascii"), base64.b64encode(guid).decode("ascii")


def map_user(tenant, entry):
    """The Graph properties Connect's default rules produce for one AD user
    (before UPN conflict resolution)."""
    a = entry["attrs"]
    dn = entry["dn"]
    t = lambda n: _text(a, n)
    domain = dn_domain(dn)
    sam = t("sAMAccountName")
    ad_upn = t("userPrincipalName")
    source_upn = ad_upn or ("%s@%s" % (sam, domain) if sam and domain else None)
    upn = source_upn
    if upn:
        prefix, _, suffix = upn.rpartition("@")
        if not tenant.is_verified_domain(suffix):
            upn = "%s@%s" % (prefix, tenant.initial_domain)
    try:
        uac = int(t("userAccountControl") or "512")
    except ValueError:
        uac = 512
    ext = {"extensionAttribute%d" % i: t("extensionAttribute%d" % i) for i in range(1, 16)}
    proxies = []
    for v in a.get("proxyaddresses", []):
        s = v.decode("utf-8", "replace")
        kind, _, addr = s.partition(":")
        if kind.lower() == "smtp" and not tenant.is_verified_domain(addr.rpartition("@")[2]):
            continue   # Entra drops proxy addresses of unverified domains
        proxies.append(s)
    phone = t("telephoneNumber")
    props = {
        "accountEnabled": not (uac & 0x2),
        "businessPhones": [phone] if phone else [],
        "city": t("l"),
        "companyName": t("company"),
        "country": t("co") or t("c"),
        "department": t("department"),
        "displayName": t("displayName") or t("cn"),
        "employeeId": t("employeeID"),
        "givenName": t("givenName"),
        "jobTitle": t("title"),
        "mail": t("mail"),
        "mailNickname": t("mailNickname") or sam,
        "mobilePhone": t("mobile"),
        "officeLocation": t("physicalDeliveryOfficeName"),
        "onPremisesDistinguishedName": dn,
        "onPremisesDomainName": domain,
        "onPremisesExtensionAttributes": ext,
        "onPremisesSamAccountName": sam,
        "onPremisesSecurityIdentifier": sid_to_str(a.get("objectsid", [b""])[0]),
        "onPremisesSyncEnabled": True,
        "postalCode": t("postalCode"),
        "proxyAddresses": proxies,
        "state": t("st"),
        "streetAddress": t("streetAddress"),
        "surname": t("sn"),
        "usageLocation": t("c"),
        "userPrincipalName": upn,
    }
    return props, source_upn


# ---------------------------------------------------------------------------
# The cycle
# ---------------------------------------------------------------------------
def run_cycle(sim, tenant, entries, source="ldap", read_seconds=None):
    cfg = tenant.connect
    start = time.time()
    result = {"tenant": tenant.name, "source": source, "startDateTime": iso(start), "read": len(entries),
              "inScope": 0, "added": 0, "updated": 0, "deleted": 0, "restored": 0, "unchanged": 0,
              "errors": [], "status": "success"}
    if read_seconds is not None:
        result["readSeconds"] = round(read_seconds, 3)
    anchor_attr = cfg.get("anchor", "mS-DS-ConsistencyGuid")
    write_opupn = bool(cfg.get("write_onpremises_upn", True))
    clear_opupn = bool(cfg.get("clear_existing_onpremises_upn", False))
    ut_sync = cfg.get("usertype_sync") or None
    threshold = int(cfg.get("deletion_threshold", 500) or 0)
    desired = {}
    for e in entries:
        ok, why = in_scope(e)
        if not ok:
            continue
        anchor, guid_b64 = anchor_of(e, anchor_attr)
        props, source_upn = map_user(tenant, e)
        if not props.get("userPrincipalName"):
            result["errors"].append({"dn": e["dn"], "error": "no userPrincipalName or sAMAccountName"})
            continue
        props["onPremisesImmutableId"] = anchor
        if write_opupn:
            props["onPremisesUserPrincipalName"] = source_upn
        ut = None
        if ut_sync:
            src = ut_sync.get("source_attribute", "extensionAttribute1")
            v = _text(e["attrs"], src)
            if v in ("Member", "Guest"):
                ut = v
        desired[guid_b64] = (props, ut, e["dn"])
    result["inScope"] = len(desired)
    with tenant.lock:
        joined = {u.ad_guid: u for u in tenant.users.values() if u.ad_guid}
        to_delete = [u for g, u in joined.items() if g not in desired and u.connector]
        if threshold and len(to_delete) > threshold:
            result["status"] = "stopped-deletion-threshold-exceeded"
            result["pendingDeletes"] = len(to_delete)
            result["endDateTime"] = iso()
            tenant.connect_runs.append(result)
            return result
        seq = tenant.bump()
        now_iso = iso()
        by_anchor = {}
        for u in tenant.users.values():
            ia = u.p.get("onPremisesImmutableId")
            if ia:
                by_anchor.setdefault(ia, u)
        deleted_by_anchor = {u.p.get("onPremisesImmutableId"): u for u in tenant.deleted.values()
                             if u.p.get("onPremisesImmutableId")}
        mails = {}
        for u in tenant.users.values():
            if u.p.get("mail"):
                mails.setdefault(u.p["mail"].lower(), u)
        for guid_b64, (props, ut, dn) in sorted(desired.items(), key=lambda x: x[1][2]):
            anchor = props["onPremisesImmutableId"]
            u = joined.get(guid_b64)
            if u is None:
                cand = by_anchor.get(anchor)
                if cand is not None and not cand.ad_guid:
                    u = cand                    # hard match on the sourceAnchor
                    u.ad_guid = guid_b64
                    u.connector = True
                elif cand is not None:
                    result["errors"].append({"dn": dn, "error": "AttributeValueMustBeUnique: onPremisesImmutableId %s is used by %s" % (anchor, cand.id)})
                    continue
                else:
                    dele = deleted_by_anchor.get(anchor)
                    if dele is not None:
                        u = tenant.restore_user(dele)     # soft-deleted object restored by hard match
                        u.ad_guid = guid_b64
                        u.connector = True
                        result["restored"] += 1
            if u is None:
                p = dict(props)
                p["userPrincipalName"] = _unique_upn(sim, tenant, p["userPrincipalName"], None, p)
                p["mail"] = _unique_mail(mails, p.get("mail"), None, p)
                p["onPremisesLastSyncDateTime"] = now_iso
                p["userType"] = ut or "Member"
                u = tenant.new_user(p, connector=True)
                u.ad_guid = guid_b64
                if p.get("mail"):
                    mails[p["mail"].lower()] = u
                result["added"] += 1
                continue
            if u.p.get("onPremisesImmutableId") != anchor:
                result["errors"].append({"dn": dn, "id": u.id,
                                         "error": "The sourceAnchor of this object changed after export (%s -> %s); changes are blocked." % (
                                             u.p.get("onPremisesImmutableId"), anchor)})
                continue
            changed = False
            for k in OWNED:
                if k == "onPremisesUserPrincipalName":
                    if k in props:
                        new = props[k]
                    elif clear_opupn:
                        new = None
                    else:
                        continue
                elif k == "userPrincipalName":
                    new = props[k]
                    if (u.p.get(k) or "").lower() != (new or "").lower():
                        new = _unique_upn(sim, tenant, new, u, u.p)
                elif k == "mail":
                    new = _unique_mail(mails, props.get(k), u, u.p)
                    if new != u.p.get(k):
                        if u.p.get(k) and mails.get(u.p[k].lower()) is u:
                            del mails[u.p[k].lower()]
                        if new:
                            mails[new.lower()] = u
                else:
                    new = props.get(k)
                if u.p.get(k) != new:
                    tenant.set_prop(u, k, new, seq)
                    if k == "userPrincipalName":
                        tenant._sync_upn_identity(u, seq)
                    changed = True
            if ut and ut_sync.get("update_existing", True) and u.p.get("userType") != ut:
                tenant.set_prop(u, "userType", ut, seq)
                changed = True
            if changed:
                tenant.set_prop(u, "onPremisesLastSyncDateTime", now_iso, seq)
                result["updated"] += 1
            else:
                result["unchanged"] += 1
        for u in to_delete:
            tenant.delete_user(u, "changed")
            result["deleted"] += 1
        tenant.org_last_sync = time.time()
        tenant.org_sync_enabled = True
        result["endDateTime"] = iso(tenant.org_last_sync)
        tenant.connect_runs.append(result)
    return result


def _unique_upn(sim, tenant, upn, me, props):
    other = tenant.get_user(upn)
    if other is None or other is me:
        return upn
    prefix = upn.rpartition("@")[0]
    for _ in range(100):
        cand = "%s%04d@%s" % (prefix, sim.rng.randint(0, 9999), tenant.initial_domain)
        if tenant.get_user(cand) is None:
            errs = list(props.get("onPremisesProvisioningErrors") or [])
            errs.append({"category": "PropertyConflict", "occurredDateTime": iso(),
                         "propertyCausingError": "UserPrincipalName", "value": upn})
            props["onPremisesProvisioningErrors"] = errs
            return cand
    return upn


def _unique_mail(mails, mail, me, props):
    """mails: lower-case mail -> user, kept up to date by the cycle."""
    if not mail:
        return mail
    low = mail.lower()
    other = mails.get(low)
    if other is not None and other is not me:
        errs = list(props.get("onPremisesProvisioningErrors") or [])
        if not any(e.get("value") == "SMTP:" + mail for e in errs):
            errs.append({"category": "PropertyConflict", "occurredDateTime": iso(),
                         "propertyCausingError": "ProxyAddresses", "value": "SMTP:" + mail})
        props["onPremisesProvisioningErrors"] = errs
        return None
    return mail
