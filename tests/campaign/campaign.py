#!/usr/bin/env python3
"""A randomized campaign against the lab AD: the kept copy of AD equals AD.

From a seed, random batches of AD operations (create; modify what the rules
read; rename; move in and out of the scope; disable and enable; delete;
group membership, nested and cyclic; manager and secretary set, changed,
cleared and their targets deleted; an OU renamed or moved; objects that
leave and rejoin the filter; deleted objects reanimated) are made in an OU
of the campaign's own, under an [ldap] classes drawn from the seed again
every 200 operations (all three classes, or contacts, groups or both left
out: then a contact as manager and the groups in memberOf lie outside the
copy's classes). After every batch:

  1. `dualsync plan` (from the kept copy and a delta) equals `plan --full`;
  2. `dualsync run` with DUALSYNC_TEST_KEPT_VERIFY: the copy it keeps in
     <mappings_dir>/ad.snapshot, applied the delta, equals a full read
     (or the run read AD in full itself, and says why).

On a mismatch it prints the seed, the batch and its operations, and the
command that replays the same operations (`--seed S --ops N`).

    campaign.py --lab PREFIX --dualsync BIN --out DIR [--seed S] [--ops N]

Standard library only; the lab's ldapmodify/ldapsearch make the changes and
the Graph simulator (tests/graphsim) stands in for the tenants. Prints
PASS/FAIL lines (tests/integration/lib.sh `counted`) and exits 1 on a FAIL.
"""
import argparse
import base64
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GS = os.path.join(ROOT, "tests", "graphsim")
SHOW_DELETED = "1.2.840.113556.1.4.417"   # MS-ADTS 3.1.1.3.4.1.14
TREE_DELETE = "1.2.840.113556.1.4.805"

# ------------------------------------------------------------------ the lab


def lab_env(prefix):
    out = subprocess.run(["bash", "-c", '. "$1/env.sh" && env -0', "-", prefix],
                         capture_output=True, check=True).stdout
    env = dict(os.environ)
    for kv in out.split(b"\0"):
        if b"=" in kv:
            k, v = kv.split(b"=", 1)
            env[k.decode()] = v.decode()
    return env


class LdapError(Exception):
    pass


class Lab:
    def __init__(self, prefix):
        self.env = lab_env(prefix)
        self.env["LDAPTLS_CACERT"] = self.env["AD_CA_FILE"]
        self.base = self.env["AD_BASE_DN"]
        self.calls = 0

    def _tool(self, tool, args, stdin=None):
        self.calls += 1
        cmd = [tool, "-H", self.env["AD_LDAPS_URI"], "-x", "-D", self.env["AD_BIND_UPN"],
               "-y", self.env["AD_PW_FILE"]] + args
        return subprocess.run(cmd, input=stdin, capture_output=True, env=self.env)

    def modify(self, ldif):
        r = self._tool("ldapmodify", [], ldif.encode())
        if r.returncode:
            raise LdapError("ldapmodify exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace").strip()))

    def delete_tree(self, dn):
        # the tree-delete control (MS-ADTS 3.1.1.3.4.1.15; Samba has it):
        # one request, where ldapdelete -r makes one per object
        r = self._tool("ldapmodify", [], ("dn:: %s\ncontrol: %s true\nchangetype: delete\n\n"
                                          % (b64(dn), TREE_DELETE)).encode())
        if r.returncode:
            self._tool("ldapdelete", ["-r", dn])

    def exists(self, dn):
        r = self._tool("ldapsearch", ["-LLL", "-s", "base", "-b", dn, "(objectClass=*)", "1.1"])
        return r.returncode == 0

    def tombstone(self, name_prefix):
        """The DN of the one tombstone whose name starts with name_prefix."""
        r = self._tool("ldapsearch", ["-LLL", "-o", "ldif_wrap=no", "-E", "!" + SHOW_DELETED,
                                      "-b", "CN=Deleted Objects," + self.base, "-s", "one",
                                      "(&(isDeleted=TRUE)(name=%s*))" % name_prefix, "1.1"])
        if r.returncode:
            raise LdapError("ldapsearch for the tombstone of %s: %s" % (name_prefix, r.stderr.decode()))
        dns = []
        for line in r.stdout.decode().splitlines():
            if line.startswith("dn:: "):
                dns.append(base64.b64decode(line[5:]).decode())
            elif line.startswith("dn: "):
                dns.append(line[4:])
        if len(dns) != 1:
            raise LdapError("%d tombstones named %s*: %s" % (len(dns), name_prefix, dns))
        return dns[0]


def b64(s):
    return base64.b64encode(s.encode()).decode()


def rdn_value(v):
    """RFC 4514 escaping of an attribute value in a DN."""
    out = []
    for i, ch in enumerate(v):
        if ch in ',+"\\<>;' or (i == 0 and ch in " #") or (i == len(v) - 1 and ch == " "):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


# ------------------------------------------------------------------ the model of what AD holds

# where objects live: key -> (name, parent key); "in" is the base DN, "excl"
# an excluded OU inside it, "out" and what is under it lie outside the base
OUS = {"root": (None, None), "in": ("In", "root"), "a": ("A", "in"), "b": ("B, East", "in"),
       "excl": ("Excl", "in"), "out": ("Out", "root"), "c": ("C", "out")}
MOVABLE_OUS = ["a", "b", "c"]
PLACES = ["in", "a", "b", "excl", "out", "c"]
# a quarter of the objects outside the scope: enough to move in and out,
# few enough that most batches stay deltas (a rename outside the scope of
# an object the copy names makes a full read, ldap_pull.c)
PLACE_WEIGHTS = [3, 3, 3, 1, 1, 1]
NAMES = ["Ann Lee", "Smith, John", "Zoë Ångström", "李雷", "Anna Müller+Lee", "Robert \"Bob\" Tables",
         "José; Ortiz", "Ole <Olsen>"]
ATTRS = {  # what the rules read, and the values the campaign gives them
    "extensionAttribute1": ["commercial", "gcch"],
    "extensionAttribute2": ["us-person", "non-us-person"],
    "extensionAttribute3": ["managed"],
    "department": ["Sales", "Eng"],
}


def attrs_for(kind):
    """The rules' attributes an object of the kind may have (groups: no department)."""
    return sorted(a for a in ATTRS if kind != "g" or a.startswith("extensionAttribute"))


class Obj:
    def __init__(self, oid, kind, cn, ou, sam):
        self.id, self.kind, self.cn, self.ou, self.sam = oid, kind, cn, ou, sam
        self.alive = True
        self.fixed = False          # named by the rules: never renamed, moved or deleted
        self.attrs = {}
        self.disabled = False
        self.manager = None         # an object id
        self.secretary = []         # object ids (a DN value without a link)
        self.members = []           # group: object ids, in order added


class Model:
    def __init__(self, tag, base):
        self.tag, self.base = tag, base
        self.ou_name = dict((k, v[0]) for k, v in OUS.items())
        self.ou_name["root"] = "dualsync-campaign-" + tag
        self.ou_parent = dict((k, v[1]) for k, v in OUS.items())
        self.objs = {}
        self.order = []             # ids in creation order: no set or hash order anywhere
        self.count = {"u": 0, "c": 0, "g": 0}
        self.renames = 0

    def ou_dn(self, key):
        if key == "root":
            return "OU=%s,%s" % (rdn_value(self.ou_name["root"]), self.base)
        return "OU=%s,%s" % (rdn_value(self.ou_name[key]), self.ou_dn(self.ou_parent[key]))

    def under(self, key, anc):
        while key:
            if key == anc:
                return True
            key = self.ou_parent[key]
        return False

    def dn(self, o):
        return "CN=%s,%s" % (rdn_value(o.cn), self.ou_dn(o.ou))

    def alive(self, kinds="ucg", pred=None):
        return [self.objs[i] for i in self.order
                if self.objs[i].alive and self.objs[i].kind in kinds and (pred is None or pred(self.objs[i]))]

    def dead(self):
        return [self.objs[i] for i in self.order if not self.objs[i].alive]

    def name(self, oid, rng, renamed=False):
        base = rng.choice(NAMES)
        if renamed:
            self.renames += 1
            base = "%s r%d" % (base, self.renames)
        return "%s.%s %s" % (oid, self.tag, base)

    def new_id(self, kind):
        self.count[kind] += 1
        return "%s%d" % (kind, self.count[kind])


# ------------------------------------------------------------------ operations


class Op:
    """One AD operation: its text (for the replay), its LDIF, or a
    reanimation (the tombstone is looked up when it runs)."""

    def __init__(self, kind, text, ldif=None, reanimate=None):
        self.kind, self.text, self.ldif, self.reanimate = kind, text, ldif, reanimate


def ldif_add(dn, lines):
    return "dn:: %s\nchangetype: add\n%s\n" % (b64(dn), "".join(l + "\n" for l in lines))


def ldif_mod(dn, changes):
    """changes: [(op, attr, [values])]"""
    body = []
    for op, attr, vals in changes:
        body.append("%s: %s" % (op, attr))
        body += ["%s:: %s" % (attr, b64(v)) for v in vals]
        body.append("-")
    return "dn:: %s\nchangetype: modify\n%s\n" % (b64(dn), "\n".join(body) + "\n")


def ldif_modrdn(dn, newrdn, newsuperior=None):
    t = "dn:: %s\nchangetype: modrdn\nnewrdn:: %s\ndeleteoldrdn: 1\n" % (b64(dn), b64(newrdn))
    if newsuperior:
        t += "newsuperior:: %s\n" % b64(newsuperior)
    return t + "\n"


class Generator:
    """Picks valid operations against the model and applies them to it."""

    def __init__(self, model, rng):
        self.m, self.r = model, rng

    def weights(self):
        n = len(self.m.alive())
        grow = 3.0 if n < 40 else 1.0 if n < 120 else 0.2
        shrink = 0.3 if n < 40 else 1.0 if n < 120 else 3.0
        return [
            ("create_user", 10 * grow), ("create_contact", 3 * grow), ("create_group", 3 * grow),
            ("modify", 14), ("rename", 5), ("move", 8), ("disable", 5), ("delete", 6 * shrink),
            ("member_add", 10), ("member_remove", 6), ("manager_set", 7), ("manager_clear", 3),
            ("secretary", 3), ("filter", 3), ("reanimate", 1.5), ("ou_rename", 0.3), ("ou_move", 0.2),
        ]

    def next(self):
        w = self.weights()
        while True:
            kind = self.r.choices([k for k, _ in w], [x for _, x in w])[0]
            op = getattr(self, "op_" + kind)()
            if op:
                return op

    def place(self, other_than=None):
        ps = [(p, w) for p, w in zip(PLACES, PLACE_WEIGHTS) if p != other_than]
        return self.r.choices([p for p, _ in ps], [w for _, w in ps])[0]

    def pick(self, seq):
        return self.r.choice(seq) if seq else None

    # -- create
    def _create(self, kind):
        m, r = self.m, self.r
        oid = m.new_id(kind)
        sam = "%s%s" % (m.tag, oid) if kind in "ug" else None
        o = Obj(oid, kind, m.name(oid, r), self.place(), sam)
        cls = {"u": "user", "c": "contact", "g": "group"}[kind]
        lines = ["objectClass: " + cls]
        if sam:
            lines.append("sAMAccountName: " + sam)
        if kind == "u":
            suffix = r.choice(["contoso.example", "fabrikam-defense.example"])
            lines += ["userPrincipalName: %s@%s" % (sam, suffix), "mail: %s@%s" % (sam, suffix)]
            o.disabled = r.random() < 0.15
            lines.append("userAccountControl: %d" % (514 if o.disabled else 512))
        if kind == "c":
            lines.append("mail: %s.%s@partner.example" % (oid, m.tag))
        for a in attrs_for(kind):
            if r.random() < 0.6:
                o.attrs[a] = r.choice(ATTRS[a])
                lines.append("%s: %s" % (a, o.attrs[a]))
        if r.random() < 0.05:
            o.attrs["extensionAttribute5"] = "leave"
            lines.append("extensionAttribute5: leave")
        if kind == "u" and r.random() < 0.5:
            mg = self.pick(m.alive("uc"))
            if mg:
                o.manager = mg.id
                lines.append("manager:: " + b64(m.dn(mg)))
        if kind == "g":
            for x in r.sample(m.alive(), min(len(m.alive()), r.randint(0, 4))):
                o.members.append(x.id)
                lines.append("member:: " + b64(m.dn(x)))
        ldif = ldif_add(m.dn(o), lines)
        m.objs[oid] = o
        m.order.append(oid)
        return Op("create", "create %s %s" % (cls, m.dn(o)), ldif)

    def op_create_user(self):
        return self._create("u")

    def op_create_contact(self):
        return self._create("c")

    def op_create_group(self):
        return self._create("g")

    # -- change
    def op_modify(self):
        o = self.pick(self.m.alive())
        if not o:
            return None
        a = self.r.choice(attrs_for(o.kind))
        if o.kind == "u" and self.r.random() < 0.15:
            a = "mail"
        if a in o.attrs and self.r.random() < 0.35:
            del o.attrs[a]
            return Op("modify", "clear %s of %s" % (a, self.m.dn(o)), ldif_mod(self.m.dn(o), [("replace", a, [])]))
        v = ("%s.%s@%s" % (o.id, self.r.randint(0, 99), "contoso.example") if a == "mail"
             else self.r.choice(ATTRS[a]))
        o.attrs[a] = v
        return Op("modify", "set %s=%s on %s" % (a, v, self.m.dn(o)), ldif_mod(self.m.dn(o), [("replace", a, [v])]))

    def op_filter(self):
        o = self.pick(self.m.alive(pred=lambda x: not x.fixed))
        if not o:
            return None
        dn = self.m.dn(o)
        if o.attrs.get("extensionAttribute5"):
            del o.attrs["extensionAttribute5"]
            return Op("filter", "back into the filter: %s" % dn,
                      ldif_mod(dn, [("replace", "extensionAttribute5", [])]))
        o.attrs["extensionAttribute5"] = "leave"
        return Op("filter", "out of the filter: %s" % dn,
                  ldif_mod(dn, [("replace", "extensionAttribute5", ["leave"])]))

    def op_disable(self):
        o = self.pick(self.m.alive("u"))
        if not o:
            return None
        o.disabled = not o.disabled
        return Op("disable", "%s %s" % ("disable" if o.disabled else "enable", self.m.dn(o)),
                  ldif_mod(self.m.dn(o), [("replace", "userAccountControl", ["514" if o.disabled else "512"])]))

    def op_rename(self):
        o = self.pick(self.m.alive(pred=lambda x: not x.fixed))
        if not o:
            return None
        old = self.m.dn(o)
        o.cn = self.m.name(o.id, self.r, renamed=True)
        return Op("rename", "rename %s to %s" % (old, o.cn), ldif_modrdn(old, "CN=" + rdn_value(o.cn)))

    def op_move(self):
        o = self.pick(self.m.alive(pred=lambda x: not x.fixed))
        if not o:
            return None
        old = self.m.dn(o)
        o.ou = self.place(other_than=o.ou)
        rdn = "CN=" + rdn_value(o.cn)
        if self.r.random() < 0.2:
            o.cn = self.m.name(o.id, self.r, renamed=True)
            rdn = "CN=" + rdn_value(o.cn)
        return Op("move", "move %s to %s" % (old, self.m.dn(o)), ldif_modrdn(old, rdn, self.m.ou_dn(o.ou)))

    def op_delete(self):
        o = self.pick(self.m.alive(pred=lambda x: not x.fixed))
        if not o:
            return None
        dn = self.m.dn(o)
        o.alive = False
        # AD drops the links to it (member, manager); a secretary value stays
        for x in self.m.alive():
            if o.id in x.members:
                x.members.remove(o.id)
            if x.manager == o.id:
                x.manager = None
        o.members, o.manager = [], None
        return Op("delete", "delete %s" % dn, "dn:: %s\nchangetype: delete\n\n" % b64(dn))

    def op_reanimate(self):
        o = self.pick(self.m.dead())
        if not o:
            return None
        o.alive = True
        o.ou = self.place()
        if self.r.random() < 0.5:
            o.cn = self.m.name(o.id, self.r, renamed=True)
        # a tombstone keeps little (MS-ADTS 3.1.1.5.5.1.1): not the
        # attributes the rules read, no links, no secretary
        o.attrs, o.manager, o.secretary, o.members = {}, None, [], []
        return Op("reanimate", "reanimate %s.%s as %s" % (o.id, self.m.tag, self.m.dn(o)),
                  reanimate=("%s.%s " % (o.id, self.m.tag), self.m.dn(o)))

    def group(self, pred=None):
        """A group, G-Far (outside the scope, named by the rules: a change
        to it makes a full read) less often than the others."""
        gs = self.m.alive("g", pred=pred)
        return self.r.choices(gs, [0.2 if g.id == "gfar" else 1.0 for g in gs])[0] if gs else None

    def op_member_add(self):
        g = self.group()
        if not g:
            return None
        far = g.id == "gfar"
        cands = self.m.alive(pred=lambda x: x.id not in g.members and x.id != g.id
                             and not (far and x.kind == "g" and self.r.random() < 0.9))
        x = self.pick(cands)
        if not x:
            return None
        g.members.append(x.id)
        return Op("member", "add %s to %s" % (self.m.dn(x), self.m.dn(g)),
                  ldif_mod(self.m.dn(g), [("add", "member", [self.m.dn(x)])]))

    def op_member_remove(self):
        g = self.group(pred=lambda x: x.members)
        if not g:
            return None
        x = self.m.objs[self.r.choice(g.members)]
        g.members.remove(x.id)
        return Op("member", "remove %s from %s" % (self.m.dn(x), self.m.dn(g)),
                  ldif_mod(self.m.dn(g), [("delete", "member", [self.m.dn(x)])]))

    def op_manager_set(self):
        u = self.pick(self.m.alive("u"))
        mg = self.pick(self.m.alive("uc", pred=lambda x: u is not None and x.id != u.id))
        if not u or not mg:
            return None
        u.manager = mg.id
        return Op("manager", "manager of %s: %s" % (self.m.dn(u), self.m.dn(mg)),
                  ldif_mod(self.m.dn(u), [("replace", "manager", [self.m.dn(mg)])]))

    def op_manager_clear(self):
        u = self.pick(self.m.alive("u", pred=lambda x: x.manager))
        if not u:
            return None
        u.manager = None
        return Op("manager", "clear the manager of %s" % self.m.dn(u),
                  ldif_mod(self.m.dn(u), [("replace", "manager", [])]))

    def op_secretary(self):
        u = self.pick(self.m.alive("u"))
        if not u:
            return None
        cands = self.m.alive("uc", pred=lambda x: x.id != u.id)
        k = min(len(cands), self.r.randint(0, 2))
        targets = self.r.sample(cands, k)
        u.secretary = [t.id for t in targets]
        dns = [self.m.dn(t) for t in targets]
        return Op("secretary", "secretary of %s: %s" % (self.m.dn(u), dns or "none"),
                  ldif_mod(self.m.dn(u), [("replace", "secretary", dns)]))

    def op_ou_rename(self):
        k = self.r.choice(MOVABLE_OUS)
        old = self.m.ou_dn(k)
        self.m.renames += 1
        self.m.ou_name[k] = "%s r%d" % (OUS[k][0], self.m.renames)
        return Op("ou", "rename %s to %s" % (old, self.m.ou_name[k]),
                  ldif_modrdn(old, "OU=" + rdn_value(self.m.ou_name[k])))

    def op_ou_move(self):
        k = self.r.choice(MOVABLE_OUS)
        old = self.m.ou_dn(k)
        self.m.ou_parent[k] = "out" if self.m.under(k, "in") else "in"
        return Op("ou", "move %s under %s" % (old, self.m.ou_dn(self.m.ou_parent[k])),
                  ldif_modrdn(old, "OU=" + rdn_value(self.m.ou_name[k]), self.m.ou_dn(self.m.ou_parent[k])))


def run_ops(lab, ops):
    """Make the operations in AD, in order: one ldapmodify for each run of
    LDIF, a tombstone lookup before each reanimation."""
    pending = []
    for op in ops:
        if op.ldif is not None:
            pending.append(op.ldif)
            continue
        if pending:
            lab.modify("".join(pending))
            pending = []
        prefix, newdn = op.reanimate
        tomb = lab.tombstone(prefix)
        # MS-ADTS 3.1.1.5.3.7.3 (undelete): remove isDeleted and give the
        # new DN in the same modify, with the show-deleted control
        lab.modify("dn:: %s\ncontrol: %s true\nchangetype: modify\ndelete: isDeleted\n-\n"
                   "replace: distinguishedName\ndistinguishedName:: %s\n-\n\n"
                   % (b64(tomb), SHOW_DELETED, b64(newdn)))
    if pending:
        lab.modify("".join(pending))


# ------------------------------------------------------------------ dualsync


# [ldap] classes of the campaign's configuration: the scope's classes
# decide what a delta reads and what the copy names outside itself (a
# contact as manager when contacts are left out, groups in memberOf when
# groups are); the campaign changes them every --classes-every operations
# (a full read follows each change: the copy was made for another scope)
CLASSES = ["user, contact, group", "user, contact", "user, group", "user"]


def write_config(path, out, lab, model, classes=CLASSES[0]):
    sim = json.load(open(os.path.join(GS, "example-defense.json")))
    creds = os.path.join(out, "creds")
    os.makedirs(creds, exist_ok=True)
    for t in sim["tenants"]:
        shutil.copy(os.path.join(GS, "example-creds", t["name"] + "-app.secret"), creds)
        os.chmod(os.path.join(creds, t["name"] + "-app.secret"), 0o600)
    ten = dict((t["name"], t) for t in sim["tenants"])
    e = lab.env
    gkey, gfar = model.dn(model.objs["gkey"]), model.dn(model.objs["gfar"])
    text = """[dualsync]
mappings_dir = {maps}
[ldap]
uri = {uri}
ca_file = {ca}
bind = simple
bind_dn = {upn}
password_file = {pw}
base_dn = {base}
exclude_ou = {excl}
filter = (!(extensionAttribute5=leave))
classes = {classes}
attributes = secretary

[tenant commercial]
cloud = global
tenant_id = {c_id}
client_id = {c_app}
client_secret_file = {creds}/commercial-app.secret
invite_address_attribute = userPrincipalName
home_when = extensionAttribute1 = commercial
    or (not has extensionAttribute1 and userPrincipalName ends-with "@contoso.example")
rule = class group -> exclude
rule = class contact -> contact
rule = home -> member
rule = homeless -> exclude
rule = disabled -> exclude
rule = memberof "{gkey}" -> external-member
rule = under "{ou_a}" and department = Sales -> external-guest
rule = home gcch -> external-member
default = exclude

[tenant gcch]
cloud = usgov-high
tenant_id = {g_id}
client_id = {g_app}
client_secret_file = {creds}/gcch-app.secret
invite_address_attribute = userPrincipalName
home_when = extensionAttribute1 = gcch
    or (not has extensionAttribute1 and userPrincipalName ends-with "@fabrikam-defense.example")
rule = class group -> exclude
rule = class contact -> contact
rule = home -> member
rule = homeless -> exclude
rule = disabled -> exclude
rule = extensionAttribute3 = managed and not has manager -> exclude
rule = memberof "{gfar}" -> exclude
rule = extensionAttribute2 = us-person -> external-member
rule = class user -> external-guest
default = exclude
""".format(maps=os.path.join(out, "mappings"), uri=e["AD_LDAPS_URI"], ca=e["AD_CA_FILE"],
           upn=e["AD_BIND_UPN"], pw=e["AD_PW_FILE"], base=model.ou_dn("in"),
           excl=model.ou_dn("excl"), c_id=ten["commercial"]["id"],
           c_app=ten["commercial"]["apps"][0]["client_id"], g_id=ten["gcch"]["id"],
           g_app=ten["gcch"]["apps"][0]["client_id"], creds=creds, gkey=gkey, gfar=gfar,
           ou_a=model.ou_dn("a"), classes=classes)
    with open(path, "w") as f:
        f.write(text)


class Sim:
    def __init__(self, out, lab):
        self.dir = os.path.join(out, "gs")
        cfg = json.load(open(os.path.join(GS, "example-defense.json")))
        for t in cfg["tenants"]:
            t["connect"]["lab_env"] = os.path.join(lab.env["AD_LAB_PREFIX"], "env.sh")
            for a in t["apps"]:
                a["secret_file"] = os.path.join(GS, a["secret_file"])
                a["certificate"] = os.path.join(GS, a["certificate"])
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(out, "sim.json")
        json.dump(cfg, open(conf, "w"), indent=1)
        r = subprocess.run([os.path.join(GS, "start.sh"), self.dir, conf, "0", "--time-scale", "0.01"],
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("the Graph simulator did not start: " + r.stderr)
        port = open(os.path.join(self.dir, "port")).read().strip()
        hosts = ["login.microsoftonline.com", "graph.microsoft.com", "login.microsoftonline.us",
                 "graph.microsoft.us"]
        self.env = {"DUALSYNC_GRAPH_CA_FILE": os.path.join(self.dir, "ca.pem"),
                    "DUALSYNC_GRAPH_CONNECT_TO": ",".join("%s:443:127.0.0.1:%s" % (h, port) for h in hosts),
                    "DUALSYNC_GRAPH_TIME_SCALE": "0.01"}

    def stop(self):
        subprocess.run([os.path.join(GS, "stop.sh"), self.dir], capture_output=True)


def plan_json(text):
    """A plan's JSON without the order of its actions (the kept copy holds
    objects in the order they came, a full read in AD's order)."""
    d = json.loads(text)
    for t in d["tenants"]:
        t["actions"] = sorted(t["actions"], key=lambda a: json.dumps(a, sort_keys=True))
    return d


# why a run read AD in full (the log's words), for the summary
FULL_READ_KINDS = [
    ("is not there any more", "a DN the copy names outside itself is gone"),
    ("changed since the last pull", "an OU changed"),
    ("a group the rules name changed", "a group of the rules changed outside the scope"),
    ("was deleted and reanimated", "a reanimated object the copy links to"),
    ("a scoping group changed", "a scoping group changed"),
    ("made for another scope", "classes changed (the copy was made for another scope)"),
]


def full_reason(log):
    for line in log.splitlines():
        if "reading AD in full" in line or "doing a full pull" in line:
            return line.split(": ", 1)[-1]
    return "no copy yet" if "no copy" in log else "?"


class Checker:
    def __init__(self, args, lab, conf, sim):
        self.args, self.lab, self.conf = args, lab, conf
        self.env = dict(lab.env)
        self.env.update(sim.env)
        self.deltas = self.fulls = 0
        self.reasons = {}
        self.last = ""
        self.secs = {}

    def dualsync(self, *argv, verify=False):
        env = dict(self.env)
        if verify:
            env["DUALSYNC_TEST_KEPT_VERIFY"] = "1"
        t = time.time()
        r = subprocess.run([self.args.dualsync, "-c", self.conf] + list(argv), capture_output=True,
                           text=True, env=env)
        key = argv[0] + (" --full" if "--full" in argv else "")
        self.secs[key] = self.secs.get(key, 0) + time.time() - t
        # a sanitizer build (make SANITIZE=1) exits 1 on a leak, which run
        # may also mean: its report is what tells
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if mark in r.stderr:
                r.returncode = 99
        return r

    def check(self):
        """None, or what differs."""
        p = self.dualsync("plan", "--format", "json", "--no-progress")
        f = self.dualsync("plan", "--full", "--format", "json", "--no-progress")
        if p.returncode or f.returncode:
            return "plan exit %d, plan --full exit %d: %s%s" % (p.returncode, f.returncode,
                                                               p.stderr[-800:], f.stderr[-800:])
        a, b = plan_json(p.stdout), plan_json(f.stdout)
        if a != b:
            return "the plan differs from plan --full:\n" + diff(a, b)
        r = self.dualsync("run", "--no-progress", "--max-changes", "100000", "-v", verify=True)
        log = r.stdout + r.stderr
        if r.returncode not in (0, 1):
            return "run exit %d:\n%s" % (r.returncode, log[-2000:])
        if "AD: the kept copy and a delta" in log:
            if "DUALSYNC_TEST_KEPT_VERIFY" not in log:
                return ("the run compared nothing (no DUALSYNC_TEST_KEPT_VERIFY line): %s is no test "
                        "build; make test-bin" % self.args.dualsync)
            if "DUALSYNC_TEST_KEPT_VERIFY: the kept copy of AD equals a full read" not in log:
                return "the kept copy differs from a full read:\n" + "\n".join(
                    l for l in log.splitlines() if "VERIFY" in l or "AD" in l)
            self.deltas += 1
            self.last = "delta"
        elif "AD: read in full" in log:
            self.fulls += 1
            why = full_reason(log)
            key = next((k for pat, k in FULL_READ_KINDS if pat in why), why[:60])
            self.reasons[key] = self.reasons.get(key, 0) + 1
            self.last = "full read: " + why[:160]
        else:
            return "run said neither delta nor full read:\n" + log[-2000:]
        return None


def diff(a, b):
    out = []
    for ta, tb in zip(a["tenants"], b["tenants"]):
        sa = set(json.dumps(x, sort_keys=True) for x in ta["actions"])
        sb = set(json.dumps(x, sort_keys=True) for x in tb["actions"])
        for x in sorted(sa - sb):
            out.append("  %s delta only: %s" % (ta["tenant"], x))
        for x in sorted(sb - sa):
            out.append("  %s full only:  %s" % (tb["tenant"], x))
        ca = dict((k, v) for k, v in ta.items() if k != "actions")
        cb = dict((k, v) for k, v in tb.items() if k != "actions")
        if ca != cb:
            out.append("  %s counts: delta %s, full %s" % (ta["tenant"], ca, cb))
    return "\n".join(out[:40])


# ------------------------------------------------------------------ the campaign


class Stopped(Exception):
    pass


def on_term(signum, frame):
    raise Stopped("stopped by signal %d" % signum)


def main():
    # a TERM (a make check run stopped, a timeout) still removes the
    # campaign's OU and stops the simulator
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lab", default=os.environ.get("LAB") or os.environ.get("DUALSYNC_LAB"),
                    help="the lab prefix (env.sh); default $LAB")
    ap.add_argument("--dualsync", default=os.environ.get("DUALSYNC", os.path.join(ROOT, "dualsync-test")))
    ap.add_argument("--out", required=True, help="a scratch directory (emptied)")
    ap.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    ap.add_argument("--ops", type=int, default=500, help="operations in all (a replay: the N of the failure)")
    ap.add_argument("--batch", type=int, default=20,
                    help="a batch (the operations between two checks) has 1 to this many")
    ap.add_argument("--keep", action="store_true", help="leave the campaign's OU in AD")
    ap.add_argument("--quiet", action="store_true", help="no line per batch")
    ap.add_argument("--show-ops", action="store_true", help="print every batch's operations")
    ap.add_argument("--classes", choices=CLASSES, default=None,
                    help="[ldap] classes, for the whole campaign; default: drawn from the seed, "
                         "again every --classes-every operations")
    ap.add_argument("--classes-every", type=int, default=200,
                    help="operations between two draws of [ldap] classes (default 200)")
    args = ap.parse_args()
    if not args.lab:
        ap.error("--lab PREFIX (or $LAB) is required")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10 ** 9)
    print("campaign: seed %d, %d operations (replay: %s --seed %d --ops %d)"
          % (seed, args.ops, os.path.relpath(__file__, ROOT), seed, args.ops), flush=True)
    rng = random.Random(seed)
    # its own sequence, so that the operations of a seed stay what they were
    crng = random.Random(seed * 7919 + 1)

    def draw_classes():
        return args.classes or crng.choice(CLASSES)
    # names differ from run to run (tombstones of an earlier run stay in AD),
    # the operations do not: the tag is no part of the seed's sequence
    tag = "".join(random.SystemRandom().choice("abcdefghjkmnpqrstuvwxyz") for _ in range(4))
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    lab = Lab(args.lab)
    model = Model(tag, lab.base)
    gen = Generator(model, rng)
    root = model.ou_dn("root")
    sim = None
    started = time.time()
    failed = None
    ops_done = batches = 0
    kinds = {}
    ldap_secs = 0.0
    try:
        # the OUs and the two groups the rules name (one in the scope, one
        # outside it): made before the first read, never moved or deleted
        setup = []
        for k in ["root", "in", "a", "b", "excl", "out", "c"]:
            setup.append("dn:: %s\nchangetype: add\nobjectClass: organizationalUnit\n\n" % b64(model.ou_dn(k)))
        for gid, place, cn in [("gkey", "in", "G-Key"), ("gfar", "out", "G-Far")]:
            g = Obj(gid, "g", "%s.%s" % (cn, tag), place, "%s%s" % (tag, gid))
            g.fixed = True
            model.objs[gid] = g
            model.order.append(gid)
            setup.append(ldif_add(model.dn(g), ["objectClass: group", "sAMAccountName: " + g.sam]))
        lab.modify("".join(setup))
        conf = os.path.join(args.out, "campaign.conf")
        classes = draw_classes()
        classes_used = {classes: 0}
        next_draw = args.classes_every
        print("campaign: classes = %s" % classes, flush=True)
        write_config(conf, args.out, lab, model, classes)
        sim = Sim(args.out, lab)
        chk = Checker(args, lab, conf, sim)
        r = chk.dualsync("run", "--no-progress", "-v")
        if r.returncode not in (0, 1) or "AD: read in full" not in r.stdout + r.stderr:
            raise RuntimeError("the first run (a full read) failed: " + (r.stdout + r.stderr)[-1500:])
        while ops_done < args.ops:
            if ops_done >= next_draw:
                while next_draw <= ops_done:
                    next_draw += args.classes_every
                classes = draw_classes()
                classes_used.setdefault(classes, 0)
                write_config(conf, args.out, lab, model, classes)
                if not args.quiet:
                    print("classes = %s from operation %d" % (classes, ops_done + 1), flush=True)
            batches += 1
            size = min(args.ops - ops_done, rng.randint(1, args.batch))
            ops = [gen.next() for _ in range(size)]
            for op in ops:
                kinds[op.kind] = kinds.get(op.kind, 0) + 1
            try:
                t = time.time()
                run_ops(lab, ops)
                ldap_secs += time.time() - t
            except LdapError as e:
                ops_done += size
                failed = ("AD refused an operation (a campaign bug, or Samba's): %s" % e, batches, ops)
                break
            ops_done += size
            why = chk.check()
            if why:
                failed = ("(classes = %s) %s" % (classes, why), batches, ops)
                break
            classes_used[classes] += 1
            if not args.quiet:
                print("batch %d: %d ops (%d in all), %s" % (batches, size, ops_done, chk.last), flush=True)
            if args.show_ops:
                for op in ops:
                    print("    " + op.text, flush=True)
    except (RuntimeError, LdapError, Stopped) as e:
        failed = (str(e), batches, [])
    finally:
        if sim:
            sim.stop()
        if not args.keep and not (failed and os.environ.get("CAMPAIGN_KEEP_ON_FAIL")):
            lab.delete_tree(root)
    secs = time.time() - started
    if failed and not failed[2]:
        print("FAIL campaign seed %d: after %d operations in %d batches: %s"
              % (seed, ops_done, batches, failed[0].strip()))
        return 1
    if failed:
        why, b, ops = failed
        print("FAIL campaign seed %d: batch %d (operations %d to %d): %s" % (
            seed, b, ops_done - len(ops) + 1, ops_done, why.strip()))
        print("  the batch's operations:")
        for op in ops:
            print("    " + op.text)
        print("  replay: %s --seed %d --ops %d" % (os.path.relpath(__file__, ROOT), seed, ops_done))
        return 1
    deleted = args.keep or not lab.exists(root)
    print("campaign: %d operations in %d batches, %.1f s, %d ldap calls; %d deltas, %d full reads %s"
          % (ops_done, batches, secs, lab.calls, chk.deltas, chk.fulls, json.dumps(chk.reasons)))
    print("campaign: seconds in dualsync %s, in AD's changes %.1f" % (
        json.dumps(dict((k, round(v, 1)) for k, v in chk.secs.items())), ldap_secs))
    print("campaign: operations by kind %s" % json.dumps(dict(sorted(kinds.items()))))
    print("campaign: batches by [ldap] classes %s" % json.dumps(classes_used))
    print("PASS campaign seed %d: %d operations in %d batches; after each, the plan equals plan --full "
          "and the kept copy equals a full read (%d deltas, %d full reads)"
          % (seed, ops_done, batches, chk.deltas, chk.fulls))
    if args.keep:
        print("campaign: %s left in AD (--keep)" % root)
    elif deleted:
        print("PASS campaign: its OU is gone from AD")
    else:
        print("FAIL campaign: %s is still in AD" % root)
    return 0 if deleted else 1


if __name__ == "__main__":
    sys.exit(main())
