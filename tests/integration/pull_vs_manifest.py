#!/usr/bin/env python3
"""Compare `dualsync pull --format ndjson` output with the seed's manifest.

    pull_vs_manifest.py MANIFEST NDJSON [--big-group]

Prints one PASS/FAIL line per check (run by test_pull.sh)."""
import json
import sys

manifest = json.load(open(sys.argv[1]))
objs = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    fails += 0 if ok else 1


by_class = {}
for o in objs:
    by_class.setdefault(o["class"], []).append(o)
for cls in ("user", "contact", "group"):
    want = manifest["counts"][cls]
    got = len(by_class.get(cls, []))
    check(f"ndjson has every seeded {cls} ({got})", got == want, f"want {want}, got {got}")

users = {o["attributes"].get("sAMAccountName"): o for o in by_class.get("user", [])}
bad = []
for u in manifest["users"]:
    o = users.get(u["sAMAccountName"])
    if o is None:
        bad.append(f"{u['sAMAccountName']}: missing")
        continue
    if o["dn"].lower() != u["dn"].lower():
        bad.append(f"{u['sAMAccountName']}: dn {o['dn']!r} != {u['dn']!r}")
    if o["disabled"] != u["disabled"]:
        bad.append(f"{u['sAMAccountName']}: disabled {o['disabled']}")
    if o["attributes"].get("mail") != u["mail"]:
        bad.append(f"{u['sAMAccountName']}: mail {o['attributes'].get('mail')!r} != {u['mail']!r}")
    if u["has_consistency_guid"]:
        if o["anchorSource"] != "mS-DS-ConsistencyGuid" or o["immutableId"] != u["immutable_id"]:
            bad.append(f"{u['sAMAccountName']}: immutableId {o['immutableId']} != {u['immutable_id']}")
    elif o["anchorSource"] != "objectGUID":
        bad.append(f"{u['sAMAccountName']}: anchor source {o['anchorSource']}")
    if not o.get("objectSid", "").startswith("S-1-5-21-"):
        bad.append(f"{u['sAMAccountName']}: objectSid {o.get('objectSid')}")
check("every user: DN (escaped), disabled, mail, immutableId, anchor source, SID",
      not bad, "; ".join(bad[:5]) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""))

disabled = sum(1 for o in by_class.get("user", []) if o["disabled"])
check(f"disabled users ({disabled})", disabled == manifest["disabled_users"],
      f"want {manifest['disabled_users']}")

special = [s["dn"] for s in manifest["special_dns"]]
dns = {o["dn"].lower() for o in objs}
missing = [d for d in special if d.lower() not in dns]
check(f"DNs with escaped characters come back as written ({len(special)})", not missing,
      f"missing {missing[:3]}")

if "--big-group" in sys.argv:
    big = manifest["big_group"]
    g = next((o for o in by_class.get("group", []) if o["dn"].lower() == big["dn"].lower()), None)
    members = g["attributes"].get("member", []) if g else []
    if isinstance(members, str):
        members = [members]
    check(f"big group has all {big['member_count']} members through ranged retrieval",
          len(members) == big["member_count"] and len(set(members)) == len(members),
          f"got {len(members)} ({len(set(members))} distinct)")

sys.exit(1 if fails else 0)
