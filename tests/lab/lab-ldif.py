#!/usr/bin/env python3
"""Checks for lab-selftest.sh over ldapsearch output (LDIF, -o ldif-wrap=no) and the manifest.

    lab-ldif.py users    MANIFEST LDIF      every manifest user is in LDIF, same attributes
    lab-ldif.py per-ou   MANIFEST LDIF      objects per class per parent OU match the manifest
    lab-ldif.py pages    OUT MAX            ldapsearch -E pr=... output: print page sizes, fail if any > MAX
    lab-ldif.py values   LDIF ATTR          print the values of ATTR (exact description) one per line

Prints one line of explanation; exits 1 on mismatch. Standard library only.
"""

import base64
import json
import sys


BINARY = {"ms-ds-consistencyguid", "objectguid", "objectsid"}


def entries(path):
    """Parse LDIF into [(dn, {attr: [values]})]; values are str, or bytes when not UTF-8."""
    out, cur = [], None
    with open(path, "rb") as f:
        lines = []
        for raw in f:                       # unfold RFC 2849 continuation lines
            raw = raw.rstrip(b"\n")
            if raw.startswith(b" ") and lines:
                lines[-1] += raw[1:]
            else:
                lines.append(raw)
        for line in lines:
            if not line:
                cur = None
                continue
            if line.startswith(b"#") or b":" not in line:
                continue
            attr, _, val = line.partition(b":")
            attr = attr.decode()
            if val.startswith(b":"):
                v = base64.b64decode(val[1:].strip())
            else:
                v = val[1:] if val.startswith(b" ") else val
            if attr.lower() not in BINARY:
                try:
                    v = v.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            if attr == "dn":
                cur = {}
                out.append((v, cur))
            elif cur is not None:
                cur.setdefault(attr, []).append(v)
    return out


def parent(dn):
    i = 0
    while i < len(dn):
        if dn[i] == "\\":
            i += 2
            continue
        if dn[i] == ",":
            return dn[i + 1:]
        i += 1
    return ""


def one(e, a):
    v = e.get(a)
    return v[0] if v else None


def check_users(manifest, ldif):
    m = json.load(open(manifest, encoding="utf-8"))
    got = {dn: e for dn, e in entries(ldif)}
    bad = []
    for u in m["users"]:
        e = got.get(u["dn"])
        if e is None:
            bad.append("missing %s" % u["dn"])
            continue
        g = e.get("mS-DS-ConsistencyGuid")
        ghex = None
        if g:
            ghex = g[0].hex()
        want = {"sAMAccountName": u["sAMAccountName"], "userPrincipalName": u["userPrincipalName"],
                "mail": u["mail"], "c": u["c"], "company": u["company"],
                "userAccountControl": str(u["userAccountControl"]), "guid": u["consistency_guid_hex"],
                "extensionAttribute1": u["extensionAttribute1"],
                "extensionAttribute2": u["extensionAttribute2"], "manager": u["manager"]}
        have = {k: one(e, k) for k in want if k != "guid"}
        have["guid"] = ghex
        for k in want:
            if want[k] != have[k]:
                bad.append("%s: %s is %r, manifest says %r" % (u["dn"], k, have[k], want[k]))
    if bad:
        print("%d mismatches, e.g. %s" % (len(bad), "; ".join(bad[:3])))
        return 1
    print("%d users: DN, sAMAccountName, UPN, mail, c, company, UAC, mS-DS-ConsistencyGuid, "
          "extensionAttribute1/2, manager all as in the manifest" % len(m["users"]))
    return 0


def check_per_ou(manifest, ldif):
    m = json.load(open(manifest, encoding="utf-8"))
    counts = {}
    for dn, e in entries(ldif):
        oc = [x.lower() for x in e.get("objectClass", [])]
        cls = ("group" if "group" in oc else "contact" if "contact" in oc
               else "user" if "user" in oc else "organizationalUnit" if "organizationalunit" in oc else None)
        if cls is None:
            continue
        c = counts.setdefault(parent(dn), {"user": 0, "contact": 0, "group": 0, "organizationalUnit": 0})
        c[cls] += 1
    bad = []
    for ou, want in m["counts_by_ou"].items():
        if ou == m["base_dn"]:
            continue      # the domain root also holds Samba's own containers
        have = counts.get(ou, {"user": 0, "contact": 0, "group": 0, "organizationalUnit": 0})
        if have != want:
            bad.append("%s: %s, manifest %s" % (ou, have, want))
    extra = [ou for ou in counts if ou not in m["counts_by_ou"]]
    if extra:
        bad.append("objects under OUs the manifest does not know: %s" % extra[:3])
    if bad:
        print("; ".join(bad[:3]))
        return 1
    print("%d OUs: per-class counts as in the manifest" % (len(m["counts_by_ou"]) - 1))
    return 0


def check_pages(out, maximum):
    sizes, n = [], 0
    with open(out, "rb") as f:
        for line in f:
            if line.startswith(b"dn:"):
                n += 1
            elif line.startswith(b"result:"):
                sizes.append(n)
                n = 0
    big = [s for s in sizes if s > maximum]
    print("%d pages of %s entries" % (len(sizes), sizes if len(sizes) <= 12 else
                                      "%s ... %s" % (sizes[:5], sizes[-3:])))
    return 1 if big or len(sizes) < 2 else 0


def values(ldif, attr):
    for _, e in entries(ldif):
        for v in e.get(attr, []):
            print(v if isinstance(v, str) else v.hex())
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "users":
        return check_users(sys.argv[2], sys.argv[3])
    if cmd == "per-ou":
        return check_per_ou(sys.argv[2], sys.argv[3])
    if cmd == "pages":
        return check_pages(sys.argv[2], int(sys.argv[3]))
    if cmd == "values":
        return values(sys.argv[2], sys.argv[3])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
