#!/usr/bin/env python3
"""Generate the lab organization: LDIF for ldbadd plus a manifest of exactly what it holds.

    seed.py --seed 1 --users 2000 --out DIR [--chunk 500] [--big-group 1600]

writes
    DIR/adds.ldif        every add, parents before children, members before groups
    DIR/adds-NNNN.ldif   the same records split into chunks of --chunk (if given)
    DIR/post.ldif        modifications that must follow the adds (a group cycle)
    DIR/manifest.json    what was generated: counts, per-OU counts, special DNs,
                         named users, the big group, the nested chain, every user

Same --seed, --users, --big-group and --base-dn give byte-identical files: every
choice comes from a hash of (seed, purpose, index), never from global state, so
adding a field later does not reshuffle the others.

DNs are written in the form Samba returns them (RFC 4514 escapes, with ';' and
'=' as \\3B and \\3D). One exception: in the LDIF input a backslash inside an RDN
is written \\5C, because ldb's LDIF reader unescapes '\\\\' twice; Samba returns it
as '\\\\', which is what the manifest holds.
Standard library only.
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import unicodedata

BASE_DN_DEFAULT = "DC=corp,DC=example,DC=test"
MAX_RANGE = 1500  # AD's MaxValRange: the big group must exceed it

# ------------------------------------------------------------------ helpers

SEED = 0


def h(*parts):
    """64-bit deterministic hash of (seed, parts)."""
    d = hashlib.blake2b(repr((SEED,) + parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(d, "big")


def frac(*parts):
    return h(*parts) / 18446744073709551616.0


def pick(seq, *parts):
    return seq[h(*parts) % len(seq)]


def weighted(pairs, *parts):
    total = sum(w for _, w in pairs)
    x = h(*parts) % total
    for v, w in pairs:
        if x < w:
            return v
        x -= w
    raise AssertionError


TRANSLIT = {"ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Ł": "L", "ł": "l",
            "Đ": "D", "đ": "d", "Þ": "Th", "þ": "th", "'": "", "’": "", " ": ""}


def ascii_fold(s):
    out = []
    for ch in s:
        if ch in TRANSLIT:
            out.append(TRANSLIT[ch])
            continue
        for c in unicodedata.normalize("NFKD", ch):
            if ord(c) < 128 and (c.isalnum() or c in "-"):
                out.append(c)
    return "".join(out).lower()


def rdn_escape(value, for_ldif=False):
    """RFC 4514 escaping of an RDN value, in the form Samba returns it."""
    out = []
    for i, ch in enumerate(value):
        if ch == "\\":
            out.append("\\5C" if for_ldif else "\\\\")
        elif ch in ',+"<>':
            out.append("\\" + ch)
        elif ch == ";":
            out.append("\\3B")
        elif ch == "=":
            out.append("\\3D")
        elif ch == "#" and i == 0:
            out.append("\\#")
        elif ch == " " and (i == 0 or i == len(value) - 1):
            out.append("\\ ")
        else:
            out.append(ch)
    return "".join(out)


def ldif_safe(v):
    """RFC 2849 SAFE-STRING (else the value must be base64)."""
    if v == "":
        return True
    return v.isascii() and v.isprintable() and v[0] not in " :<" and v[-1] != " "


def ldif_line(attr, value):
    if isinstance(value, bytes):
        return "%s:: %s\n" % (attr, base64.b64encode(value).decode("ascii"))
    if ldif_safe(value):
        return "%s: %s\n" % (attr, value)
    return "%s:: %s\n" % (attr, base64.b64encode(value.encode("utf-8")).decode("ascii"))


# --------------------------------------------------------------- the world

COUNTRIES = {
    # c: (co, countryCode, phone prefix, cities)
    "US": ("United States", 840, "+1 425 555", ["Redmond", "Seattle", "New York", "Austin"]),
    "DE": ("Germany", 276, "+49 89 555", ["München", "Berlin", "Köln"]),
    "GB": ("United Kingdom", 826, "+44 20 7946", ["London", "Manchester", "Edinburgh"]),
    "IN": ("India", 356, "+91 80 5550", ["Bengaluru", "Hyderabad", "Pune"]),
    "FR": ("France", 250, "+33 1 5550", ["Paris", "Lyon"]),
    "SE": ("Sweden", 752, "+46 8 555", ["Stockholm", "Göteborg", "Malmö"]),
    "CN": ("China", 156, "+86 21 5550", ["Shanghai", "Beijing"]),
}

# Names as (written, ascii) pairs are only needed where folding cannot guess (CJK).
GIVEN = {
    "US": ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
           "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
           "Sarah", "Carlos", "María", "José", "Thảo", "DeShawn", "Aaliyah", "Kevin", "Emily"],
    "DE": ["Lukas", "Anna", "Jürgen", "Jörg", "Sören", "Leonie", "Maximilian", "Sophie", "Paul",
           "Marie", "Felix", "Lena", "Tobias", "Katharina", "Jonas", "Hannah", "Özlem", "Matthias"],
    "GB": ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Siobhán",
           "Niamh", "Seán", "Rhys", "Dafydd", "Charlotte", "Thomas", "Grace", "Alfie", "Poppy"],
    "IN": ["Aarav", "Vivaan", "Aditya", "Ananya", "Diya", "Priya", "Rahul", "Sneha", "Arjun",
           "Kavya", "Rohan", "Ishaan", "Saanvi", "Lakshmi", "Venkatesh", "Meenakshisundaram"],
    "FR": ["Hélène", "François", "Amélie", "Loïc", "Zoé", "Étienne", "Chloé", "Noël", "Camille",
           "Léa", "Hugo", "Inès"],
    "SE": ["Åsa", "Björn", "Linnéa", "Märta", "Sören", "Zoë", "Elsa", "Nils", "Ingrid", "Erik",
           "Karl", "Maja"],
}
SURNAME = {
    "US": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
           "Rodriguez", "Martinez", "Hernández", "Lopez", "Gonzalez", "Wilson", "Anderson",
           "Taylor", "Moore", "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris",
           "Sánchez", "Clark", "Ramírez", "Lewis", "Robinson", "O'Connor", "Nguyễn", "Kowalski"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
           "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Groß", "Özdemir",
           "Çelik"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
           "Hall", "Wood", "Clarke", "O'Brien", "MacDonald", "Ní Bhriain"],
    "IN": ["Sharma", "Verma", "Gupta", "Patel", "Reddy", "Iyer", "Nair", "Singh", "Kumar", "Das",
           "Rao", "Mehta", "Joshi", "Chatterjee", "Banerjee", "Krishnamurthy", "Venkataraman"],
    "FR": ["Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Bonnet", "Dupont", "Lambert",
           "Fontaine", "Rousseau", "Mercier", "Blanc", "Faure", "Chevalier"],
    "SE": ["Ångström", "Öberg", "Lindqvist", "Johansson", "Andersson", "Karlsson", "Nilsson",
           "Eriksson", "Larsson", "Åkesson", "Söderberg", "Bäckström"],
}
# Chinese: surname first, no space; ascii from pinyin.
CN_GIVEN = [("雷", "lei"), ("梅梅", "meimei"), ("芳", "fang"), ("伟", "wei"), ("娜", "na"),
            ("静", "jing"), ("强", "qiang"), ("磊", "lei"), ("洋", "yang"), ("艳", "yan"),
            ("杰", "jie"), ("敏", "min")]
CN_SURNAME = [("李", "li"), ("王", "wang"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
              ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
              ("韩", "han")]

COMPANIES = [
    {"key": "contoso", "name": "Contoso", "tenant": "commercial", "domain": "contoso.example",
     "short": "Contoso", "share": 75,
     "countries": [("US", 30), ("DE", 15), ("GB", 15), ("IN", 20), ("FR", 8), ("SE", 6), ("CN", 6)],
     "departments": ["Engineering", "Sales", "Marketing", "Finance", "Human Resources", "Legal",
                     "Operations", "IT", "Research & Development", "Customer Support"]},
    {"key": "defense", "name": "Contoso Defense", "tenant": "gcch",
     "domain": "fabrikam-defense.example", "short": "Defense", "share": 25,
     "countries": [("US", 80), ("GB", 20)],
     "departments": ["Programs", "Engineering", "Security", "Contracts", "Finance", "Operations",
                     "IT", "Human Resources"]},
]
DEFENSE_CITIES = {"US": ["Arlington", "San Diego", "Huntsville"], "GB": ["Farnborough", "Bristol"]}

TITLES = ["Engineer", "Senior Engineer", "Principal Engineer", "Analyst", "Senior Analyst",
          "Specialist", "Consultant", "Administrator", "Coordinator", "Manager", "Senior Manager",
          "Associate", "Program Manager", "Architect"]
PARTNERS = [("Fabrikam", "fabrikam.example"), ("Northwind Traders", "northwind.example"),
            ("Tailspin Toys", "tailspintoys.example"), ("Woodgrove Bank", "woodgrovebank.example"),
            ("Litware", "litware.example"), ("Adventure Works", "adventure-works.example")]
LICENSES = ["E5", "E3", "F3", "E5", "E3"]

UAC_ENABLED, UAC_DISABLED = 512, 514
UAC_ENABLED_NOEXPIRE, UAC_DISABLED_NOEXPIRE = 66048, 66050   # + DONT_EXPIRE_PASSWORD

GT_GLOBAL_SEC = -2147483646
GT_DOMAIN_LOCAL_SEC = -2147483644
GT_UNIVERSAL_SEC = -2147483640
GT_GLOBAL_DIST = 2
GT_UNIVERSAL_DIST = 8

# Users whose CN needs escaping, or is otherwise awkward. (key, company, c, given, sn, cn, features)
SPECIAL_USERS = [
    ("comma_user", "contoso", "US", "John", "Smith", "Smith, John", ["comma"]),
    ("plus_user", "contoso", "DE", "Anna", "Müller+Lee", "Anna Müller+Lee", ["plus", "non-ascii"]),
    ("quote_user", "contoso", "US", "Robert", "Tables", 'Robert "Bob" Tables', ["double-quote"]),
    ("hash_user", "contoso", "GB", "Hashtag", "Admin", "#Hashtag Admin", ["leading-hash"]),
    ("trailing_space_user", "defense", "US", "Ana", "Silva", "Ana Silva ", ["trailing-space"]),
    ("leading_space_user", "contoso", "IN", "Lee", "Park", " Lee Park", ["leading-space"]),
    ("misc_escape_user", "contoso", "US", "Jane", "Doe", "Jane Doe <Legacy\\Import>; id=7",
     ["angle-brackets", "backslash", "semicolon", "equals"]),
    ("comma_nonascii_user", "contoso", "DE", "José", "Müller", "Müller, José", ["comma", "non-ascii"]),
]

# Named users tests look up by role: (key, company, c, given, sn, overrides)
NAMED_USERS = [
    ("us_user", "contoso", "US", "Alice", "Anderson", {}),
    ("non_us_user", "contoso", "DE", "Lukas", "Becker", {}),
    ("defense_us_user", "defense", "US", "Brian", "Carter", {}),
    ("defense_non_us_user", "defense", "GB", "Fiona", "Walsh", {}),
    ("us_person_abroad", "contoso", "GB", "Megan", "Brooks", {"us_person": True}),
    ("non_us_person_in_us", "defense", "US", "Rajesh", "Iyer", {"us_person": False}),
    ("disabled_user", "contoso", "US", "Derek", "Stone", {"disabled": True}),
    ("disabled_noexpire_user", "defense", "US", "Paula", "Grant", {"uac": UAC_DISABLED_NOEXPIRE}),
    ("enabled_noexpire_user", "contoso", "US", "Victor", "Hale", {"uac": UAC_ENABLED_NOEXPIRE}),
    ("no_mail_user", "contoso", "IN", "Kiran", "Rao", {"mail": False}),
    ("no_guid_user", "contoso", "US", "Nora", "Blake", {"guid": False}),
    ("no_ext1_user", "contoso", "FR", "Hugo", "Bonnet", {"ext1": False}),
    ("nonascii_user", "contoso", "SE", "Zoë", "Ångström", {}),
    ("cjk_user", "contoso", "CN", "雷", "李", {}),
    ("long_name_user", "contoso", "IN", "Meenakshisundaram", "Venkataraman", {}),
]

SPECIAL_OU_NAME = "Research, Development & Labs"   # an OU whose own name needs escaping


class World:
    def __init__(self, seed, n_users, big_group, base_dn):
        self.seed, self.n_users, self.big_n, self.base = seed, n_users, big_group, base_dn
        self.records = []          # (class, dn_out, [ldif lines]) in load order
        self.post = []             # ldif text of modifications
        self.ous = []              # dn_out
        self.counts_by_ou = {}
        self.users = []            # dicts
        self.contacts = []
        self.groups = []
        self.sams = set()
        self.cns = {}              # parent -> set of lowercase cn
        self.mails = set()
        self.special = []
        self.named = {}
        self.dn_in_of = {}         # dn as Samba returns it -> dn as written in the LDIF

    # --- bookkeeping
    def add(self, cls, rdn_value, parent_out, parent_in, attrs, rdn_attr="CN"):
        dn_out = "%s=%s,%s" % (rdn_attr, rdn_escape(rdn_value), parent_out)
        dn_in = "%s=%s,%s" % (rdn_attr, rdn_escape(rdn_value, True), parent_in)
        lines = [ldif_line("dn", dn_in)]
        for a, v in attrs:
            if v is None:
                continue
            for x in (v if isinstance(v, list) else [v]):
                lines.append(ldif_line(a, x))
        self.records.append((cls, dn_out, "".join(lines) + "\n"))
        c = self.counts_by_ou.setdefault(parent_out, {"user": 0, "contact": 0, "group": 0,
                                                      "organizationalUnit": 0})
        c[cls] += 1
        return dn_out, dn_in

    def ou(self, name, parent_out, parent_in):
        dn_out, dn_in = self.add("organizationalUnit", name, parent_out, parent_in,
                                 [("objectClass", "organizationalUnit"),
                                  ("description", "lab OU %s" % name)], rdn_attr="OU")
        self.ous.append(dn_out)
        self.counts_by_ou.setdefault(dn_out, {"user": 0, "contact": 0, "group": 0,
                                              "organizationalUnit": 0})
        return dn_out, dn_in

    def unique_cn(self, parent, cn):
        taken = self.cns.setdefault(parent, set())
        cand, n = cn, 2
        while cand.lower() in taken:
            cand = "%s (%d)" % (cn, n)
            n += 1
        taken.add(cand.lower())
        return cand

    def unique_sam(self, base):
        base = base[:20].strip(".-") or "user"
        cand, n = base, 2
        while cand in self.sams:
            suffix = str(n)
            cand = base[:20 - len(suffix)].rstrip(".-") + suffix
            n += 1
        self.sams.add(cand)
        return cand

    # --- build
    def build(self):
        base = self.base
        self.company_ou = {}
        self.country_ou = {}
        self.groups_ou = {}
        self.contacts_ou = {}
        for co in COMPANIES:
            top = self.ou(co["name"], base, base)
            self.company_ou[co["key"]] = top
            for c, _ in co["countries"]:
                self.country_ou[(co["key"], c)] = self.ou(c, *top)
            self.groups_ou[co["key"]] = self.ou("Groups", *top)
            self.contacts_ou[co["key"]] = self.ou("Contacts", *top)
        self.disabled_ou = self.ou("Disabled Users", *self.company_ou["contoso"])
        self.special_ou = self.ou(SPECIAL_OU_NAME, *self.country_ou[("contoso", "US")])
        self.elsewhere_ou = self.ou("Elsewhere", base, base)
        self.build_users()
        self.build_contacts()
        self.build_groups()

    def company(self, key):
        return next(c for c in COMPANIES if c["key"] == key)

    def build_users(self):
        plan = []   # (role, company key, c, given, sn, cn or None, features, overrides)
        for key, comp, c, given, sn, cn, feats in SPECIAL_USERS:
            plan.append((key, comp, c, given, sn, cn, feats, {}))
        for key, comp, c, given, sn, ov in NAMED_USERS:
            plan.append((key, comp, c, given, sn, None, [], ov))
        if self.n_users < len(plan) + 10:
            raise SystemExit("seed.py: --users must be at least %d" % (len(plan) + 10))
        for i in range(len(plan), self.n_users):
            comp = weighted([(co["key"], co["share"]) for co in COMPANIES], "company", i)
            c = weighted(self.company(comp)["countries"], "country", i)
            if c == "CN":
                g, s = pick(CN_GIVEN, "given", i), pick(CN_SURNAME, "sn", i)
            else:
                g, s = pick(GIVEN[c], "given", i), pick(SURNAME[c], "sn", i)
            plan.append((None, comp, c, g, s, None, [], {}))
        self.by_ou = {}
        for i, p in enumerate(plan):
            self.make_user(i, *p)

    def make_user(self, i, role, comp_key, c, given, sn, cn, feats, ov):
        co = self.company(comp_key)
        if isinstance(given, tuple):
            given_u, given_a = given
            sn_u, sn_a = sn
        elif c == "CN" and role:
            given_u, sn_u = given, sn
            given_a = dict(CN_GIVEN).get(given, "x")
            sn_a = dict(CN_SURNAME).get(sn, "x")
        else:
            given_u, sn_u = given, sn
            given_a, sn_a = ascii_fold(given), ascii_fold(sn)
        if cn is None:
            cn = (sn_u + given_u) if c == "CN" else "%s %s" % (given_u, sn_u)
        display = cn.strip()
        # users with a role (named or special) are plain unless their overrides say
        # otherwise: enabled, mail, consistency GUID, extensionAttribute1 set
        plain = role is not None
        disabled = ov.get("disabled", False if plain else frac("uac", i) < 0.08)
        uac = ov.get("uac", (UAC_DISABLED if disabled else UAC_ENABLED))
        if not plain and frac("noexpire", i) < 0.05:
            uac |= 65536   # DONT_EXPIRE_PASSWORD: 66048 / 66050, so 'disabled' is bit 0x2, not == 514
        disabled = bool(uac & 2)
        # a share of the disabled Contoso users sit in the 'Disabled Users' OU, as admins do
        if role is None and disabled and comp_key == "contoso" and frac("disabled-ou", i) < 0.5:
            parent = self.disabled_ou
        elif role is None and comp_key == "contoso" and c == "US" and frac("special-ou", i) < 0.03:
            parent = self.special_ou
        else:
            parent = self.country_ou[(comp_key, c)]
        cn = self.unique_cn(parent[0], cn)
        sam = self.unique_sam("%s.%s" % (given_a, sn_a))
        upn = "%s@%s" % (sam, co["domain"])
        has_mail = ov.get("mail", plain or frac("mail", i) >= 0.05)
        mail = ("%s@%s" % (sam, co["domain"])) if has_mail else None
        has_guid = ov.get("guid", plain or frac("guid", i) >= 0.10)
        guid = hashlib.blake2b(repr((SEED, "consistency-guid", i)).encode(), digest_size=16).digest() \
            if has_guid else None
        co_name, ccode, phone, cities = COUNTRIES[c]
        if comp_key == "defense":
            cities = DEFENSE_CITIES[c]
        if "us_person" in ov:
            us_person = ov["us_person"]
        elif plain:
            us_person = c == "US"
        else:
            us_person = (c == "US") != (frac("citizenship", i) < 0.04)
        citizenship = "US" if us_person else (c if c != "US" else pick(["IN", "MX", "CA", "DE"], "cit", i))
        dept = pick(co["departments"], "dept", i)
        ou_members = self.by_ou.setdefault((comp_key, c), [])
        # manager: a tree of fan-out 8 inside the company/country, its root reports to the
        # company's first user; managers always precede their reports in the LDIF
        if ou_members:
            manager = ou_members[(len(ou_members) - 1) // 8]["dn"]
            title = pick(TITLES, "title", i)
        else:
            first = next((u for u in self.users if u["company_key"] == comp_key), None)
            manager = first["dn"] if first else None
            title = "Country Manager" if first else "Chief Executive Officer"
        ext = {
            1: co["tenant"] if ov.get("ext1", plain or frac("ext1", i) >= 0.03) else None,
            2: "us-person" if us_person else "non-us-person",
            3: citizenship,
            4: weighted([("Employee", 85), ("Contractor", 12), ("Intern", 3)], "etype", i),
            5: "CC-%04d" % (h("cc", i) % 10000),
            6: "E%07d" % (i + 1),
            7: pick(cities, "city", i),
            8: (pick(["None", "Secret", "Top Secret"], "clear", i) if comp_key == "defense"
                else None),
            9: "20%02d-%02d-01" % (h("hire", i) % 24 + 1, h("hirem", i) % 12 + 1),
            10: ("legacy-%d" % (h("legacy", i) % 100000)) if frac("e10", i) < 0.3 else None,
            11: {"US": "AMER"}.get(c, "APAC" if c in ("IN", "CN") else "EMEA"),
            12: pick(LICENSES, "lic", i),
            13: "InScope" if frac("e13", i) < 0.97 else "Excluded",
            14: None if frac("e14", i) < 0.5 else "pronouns:%s" % pick(["she/her", "he/him", "they/them"], "pr", i),
            15: "Büro %s" % pick(cities, "city", i) if c == "DE" else "Office %s" % pick(cities, "city", i),
        }
        proxies = None
        if mail:
            proxies = ["SMTP:" + mail, "smtp:%s@%s.onmicrosoft.example" % (sam, co["key"])]
            if frac("x500", i) < 0.2:
                proxies.append("X500:/o=ExchangeLabs/ou=Exchange Administrative Group "
                               "(FYDIBOHF23SPDLT)/cn=Recipients/cn=%016x-%s" % (h("x500v", i), sam))
        attrs = [
            ("objectClass", "user"),
            ("sAMAccountName", sam),
            ("userPrincipalName", upn),
            ("givenName", given_u),
            ("sn", sn_u),
            ("displayName", display),
            ("userAccountControl", str(uac)),
            ("c", c), ("co", co_name), ("countryCode", str(ccode)),
            ("l", pick(cities, "city", i)),
            ("company", co["name"]),
            ("department", dept),
            ("title", title),
            ("employeeID", "E%07d" % (i + 1)),
            ("telephoneNumber", ("%s %04d" % (phone, h("phone", i) % 10000))
             if frac("hasphone", i) < 0.9 else None),
            ("mail", mail),
            ("proxyAddresses", proxies),
            ("manager", self.dn_in_of.get(manager) if manager else None),
        ]
        for n in range(1, 16):
            attrs.append(("extensionAttribute%d" % n, ext[n]))
        attrs.append(("mS-DS-ConsistencyGuid", guid))
        dn, dn_in = self.add("user", cn, parent[0], parent[1], attrs)
        self.dn_in_of[dn] = dn_in
        u = {
            "dn": dn,
            "sAMAccountName": sam,
            "userPrincipalName": upn,
            "mail": mail,
            "c": c,
            "company": co["name"],
            "disabled": disabled,
            "userAccountControl": uac,
            "has_consistency_guid": guid is not None,
            "consistency_guid_hex": guid.hex() if guid else None,
            "immutable_id": base64.b64encode(guid).decode() if guid else None,
            "extensionAttribute1": ext[1],
            "extensionAttribute2": ext[2],
            "manager": manager,
            "company_key": comp_key,
            "department": dept,
        }
        self.users.append(u)
        ou_members.append(u)
        if role:
            self.named[role] = u
        if feats:
            self.special.append({"dn": dn, "class": "user", "features": feats})
        elif parent is self.special_ou:
            self.special.append({"dn": dn, "class": "user", "features": ["comma-in-parent-ou"]})

    def build_contacts(self):
        n = max(20, self.n_users // 20, self.big_n - self.n_users)
        specials = [("Partner, Inc. Liaison", "Fabrikam"), ("Øyvind Ødegård", "Litware"),
                    ("王芳 (Woodgrove)", "Woodgrove Bank")]
        for i in range(n):
            comp_key = "contoso" if frac("contact-co", i) < 0.7 else "defense"
            parent = self.contacts_ou[comp_key]
            partner, domain = pick(PARTNERS, "partner", i)
            feats = []
            if i < len(specials):
                cn, partner = specials[i]
                domain = dict(PARTNERS)[partner]
                given, sn = "Partner", "Liaison%d" % i
                local = "liaison%d" % i
                feats = ["comma"] if "," in cn else ["non-ascii"]
            else:
                c = pick(["US", "DE", "GB", "FR", "SE"], "contact-c", i)
                given, sn = pick(GIVEN[c], "cgiven", i), pick(SURNAME[c], "csn", i)
                cn = "%s %s" % (given, sn)
                local = "%s.%s" % (ascii_fold(given), ascii_fold(sn))
            cn = self.unique_cn(parent[0], cn)
            mail = "%s@%s" % (local, domain)
            k = 2
            while mail in self.mails:
                mail = "%s%d@%s" % (local, k, domain)
                k += 1
            self.mails.add(mail)
            attrs = [("objectClass", "contact"), ("givenName", given), ("sn", sn),
                     ("displayName", cn), ("mail", mail), ("proxyAddresses", "SMTP:" + mail),
                     ("company", partner), ("extensionAttribute1", "partner")]
            dn, dn_in = self.add("contact", cn, parent[0], parent[1], attrs)
            self.dn_in_of[dn] = dn_in
            self.contacts.append({"dn": dn, "mail": mail, "company": partner})
            if feats:
                self.special.append({"dn": dn, "class": "contact", "features": feats})

    def group(self, comp_key, name, gtype, members, mail=None, desc=None, kind=None):
        parent = self.groups_ou[comp_key]
        sam = self.unique_sam_group(name)
        attrs = [("objectClass", "group"), ("sAMAccountName", sam), ("groupType", str(gtype)),
                 ("description", desc), ("mail", mail),
                 ("proxyAddresses", ("SMTP:" + mail) if mail else None),
                 ("member", [self.dn_in_of[m] for m in members])]
        dn, dn_in = self.add("group", name, parent[0], parent[1], attrs)
        self.dn_in_of[dn] = dn_in
        g = {"dn": dn, "sAMAccountName": sam, "groupType": gtype,
             "security": gtype < 0, "mail": mail, "member_count": len(members),
             "nested_groups": [m for m in members if m in self.group_dns]}
        if kind:
            g["kind"] = kind
        self.groups.append(g)
        self.group_dns.add(dn)
        self.members_of[dn] = list(members)
        return dn

    def unique_sam_group(self, name):
        base = ascii_fold(name.replace(" ", "-")) or "group"
        cand, n = base[:64], 2
        while cand in self.sams:
            cand = "%s-%d" % (base[:60], n)
            n += 1
        self.sams.add(cand)
        return cand

    def build_groups(self):
        self.group_dns = set()
        self.members_of = {}
        users = self.users
        # the big group: more than MaxValRange direct members (users, then contacts if short)
        pool = [u["dn"] for u in users] + [c["dn"] for c in self.contacts]
        big = self.group("contoso", "SG-All-Staff-Badge-Access", GT_UNIVERSAL_SEC, pool[:self.big_n],
                         desc="badge access for every employee (large group)", kind="big")
        self.big_group = big
        # department security groups per company and country, country DLs over them,
        # and a company DL over the country DLs
        for co in COMPANIES:
            country_dls = []
            for c, _ in co["countries"]:
                dept_groups = []
                for d in co["departments"]:
                    mem = [u["dn"] for u in users if u["company_key"] == co["key"]
                           and u["c"] == c and u["department"] == d]
                    name = "SG-%s-%s-%s" % (co["short"], c, d.replace(" & ", "-").replace(" ", "-"))
                    dept_groups.append(self.group(co["key"], name, GT_GLOBAL_SEC, mem,
                                                  kind="department"))
                mail = "all-%s-%s@%s" % (co["short"].lower(), c.lower(), co["domain"])
                country_dls.append(self.group(co["key"], "DL-%s-%s-All" % (co["short"], c),
                                              GT_UNIVERSAL_DIST, dept_groups, mail=mail,
                                              kind="distribution"))
            self.group(co["key"], "DL-%s-Everyone" % co["short"], GT_UNIVERSAL_DIST, country_dls,
                       mail="everyone@%s" % co["domain"], kind="distribution")
        # the nested chain: Level1 ⊃ Level2 ⊃ Level3 ⊃ Level4
        nu = self.named
        special_users = [s["dn"] for s in self.special if s["class"] == "user"]
        l4 = self.group("contoso", "SG-Chain-Level4", GT_GLOBAL_SEC,
                        [nu["nonascii_user"]["dn"], nu["cjk_user"]["dn"], special_users[0],
                         special_users[6], nu["us_user"]["dn"]], kind="chain")
        l3 = self.group("contoso", "SG-Chain-Level3", GT_GLOBAL_SEC,
                        [l4, nu["non_us_user"]["dn"], nu["disabled_user"]["dn"],
                         self.contacts[0]["dn"]], kind="chain")
        l2 = self.group("contoso", "SG-Chain-Level2", GT_UNIVERSAL_SEC,
                        [l3, nu["defense_us_user"]["dn"], nu["no_mail_user"]["dn"]], kind="chain")
        l1 = self.group("contoso", "SG-Chain-Level1", GT_UNIVERSAL_SEC,
                        [l2, nu["us_user"]["dn"], nu["no_guid_user"]["dn"]], kind="chain")
        self.chain = [l1, l2, l3, l4]
        # a cycle A -> B -> A (B's membership in A is added by post.ldif)
        ca = self.group("contoso", "SG-Cycle-A", GT_GLOBAL_SEC,
                        [nu["us_person_abroad"]["dn"], nu["long_name_user"]["dn"]], kind="cycle")
        cb = self.group("contoso", "SG-Cycle-B", GT_GLOBAL_SEC,
                        [ca, nu["enabled_noexpire_user"]["dn"]], kind="cycle")
        self.cycle = [ca, cb]
        self.post.append("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n-\n\n"
                         % (self.dn_in_of[ca], self.dn_in_of[cb]))
        self.members_of[ca].append(cb)
        for g in self.groups:
            if g["dn"] == ca:
                g["member_count"] += 1
                g["nested_groups"].append(cb)
        # and a few more shapes
        itar = [u["dn"] for u in users if u["company_key"] == "defense"
                and u["extensionAttribute2"] == "us-person" and not u["disabled"]][:200]
        self.group("defense", "SG-Defense-ITAR-Controlled", GT_UNIVERSAL_SEC, itar,
                   mail="itar-controlled@fabrikam-defense.example", kind="mail-enabled-security")
        self.group("contoso", "DLG-Contoso-FileShare-RW", GT_DOMAIN_LOCAL_SEC,
                   [nu["us_user"]["dn"], nu["non_us_user"]["dn"], l4], kind="domain-local")
        self.group("contoso", "SG-Empty", GT_GLOBAL_SEC, [], kind="empty")
        self.group("defense", "SG-Cross-Company-Liaisons", GT_UNIVERSAL_SEC,
                   [nu["us_user"]["dn"], nu["defense_us_user"]["dn"], self.contacts[1]["dn"]],
                   kind="cross-company")
        sg = self.group("contoso", "SG-R&D, Labs (Admins)", GT_GLOBAL_SEC,
                        special_users[:4] + [nu["us_user"]["dn"]], kind="special-dn")
        self.special.append({"dn": sg, "class": "group", "features": ["comma", "ampersand"]})

    def transitive(self, dn):
        seen, stack = set(), [dn]
        while stack:
            for m in self.members_of.get(stack.pop(), []):
                if m not in seen:
                    seen.add(m)
                    if m in self.group_dns:
                        stack.append(m)
        return seen

    # --- output
    def manifest(self):
        user_dns = {u["dn"] for u in self.users}
        contact_dns = {c["dn"] for c in self.contacts}

        def classify(s):
            return {"user": sum(1 for x in s if x in user_dns),
                    "contact": sum(1 for x in s if x in contact_dns),
                    "group": sum(1 for x in s if x in self.group_dns)}

        chain_t = self.transitive(self.chain[0])
        cyc_t = self.transitive(self.cycle[0])
        counts = {"user": len(self.users), "contact": len(self.contacts), "group": len(self.groups),
                  "organizationalUnit": len(self.ous)}
        counts["total"] = sum(counts.values())
        big = next(g for g in self.groups if g["dn"] == self.big_group)
        named = {}
        for k, u in self.named.items():
            named[k] = {f: u[f] for f in ("dn", "sAMAccountName", "userPrincipalName", "mail", "c",
                                          "company", "disabled", "extensionAttribute1",
                                          "extensionAttribute2", "consistency_guid_hex",
                                          "immutable_id")}
        for s in self.special:
            if s["class"] == "user":
                for k, u in self.named.items():
                    if u["dn"] == s["dn"]:
                        s["role"] = k
        m = {
            "format": 1,
            "generator": "tests/lab/seed.py",
            "seed": self.seed,
            "users_requested": self.n_users,
            "base_dn": self.base,
            "max_range": MAX_RANGE,
            "companies": [{"name": co["name"], "tenant": co["tenant"], "upn_suffix": co["domain"],
                           "ou": self.company_ou[co["key"]][0],
                           "countries": [c for c, _ in co["countries"]]} for co in COMPANIES],
            "counts": counts,
            "counts_by_ou": self.counts_by_ou,
            "ous": self.ous,
            "elsewhere_ou": self.elsewhere_ou[0],
            "disabled_users": sum(1 for u in self.users if u["disabled"]),
            "users_without_mail": sum(1 for u in self.users if u["mail"] is None),
            "users_without_consistency_guid": sum(1 for u in self.users if not u["has_consistency_guid"]),
            "big_group": {"dn": big["dn"], "member_count": big["member_count"],
                          "member_classes": classify(self.members_of[big["dn"]])},
            "groups_over_max_range": [g["dn"] for g in self.groups if g["member_count"] > MAX_RANGE],
            "nested_chain": {"dns": self.chain,
                             "transitive_member_count": len(chain_t),
                             "transitive_member_classes": classify(chain_t),
                             "note": "dns[0] is the outermost group; each contains the next. "
                                     "transitive_member_count counts distinct members at any depth, "
                                     "nested groups included (what memberOf:1.2.840.113556.1.4.1941: "
                                     "returns)"},
            "cycle": {"dns": self.cycle,
                      "transitive_member_classes": classify(cyc_t - set(self.cycle)),
                      "note": "each group is a member of the other (added by post.ldif)"},
            "special_dns": self.special,
            "named_users": named,
            "groups": self.groups,
            "contacts": self.contacts,
            "users": [{k: v for k, v in u.items() if k not in ("company_key", "department")}
                      for u in self.users],
        }
        return m


def dump_manifest(m):
    """JSON with one line per user/contact/group/special DN: compact but greppable."""
    lines = ["{"]
    keys = list(m)
    for n, k in enumerate(keys):
        v = m[k]
        comma = "," if n < len(keys) - 1 else ""
        if isinstance(v, list) and k in ("users", "contacts", "groups", "special_dns", "ous"):
            lines.append(" %s: [" % json.dumps(k))
            for j, item in enumerate(v):
                lines.append("  %s%s" % (json.dumps(item, ensure_ascii=False, separators=(",", ":")),
                                         "," if j < len(v) - 1 else ""))
            lines.append(" ]" + comma)
        elif isinstance(v, dict) and k in ("counts_by_ou", "named_users"):
            lines.append(" %s: {" % json.dumps(k))
            items = list(v.items())
            for j, (kk, vv) in enumerate(items):
                lines.append("  %s: %s%s" % (json.dumps(kk, ensure_ascii=False),
                                             json.dumps(vv, ensure_ascii=False, separators=(",", ":")),
                                             "," if j < len(items) - 1 else ""))
            lines.append(" }" + comma)
        else:
            lines.append(" %s: %s%s" % (json.dumps(k), json.dumps(v, ensure_ascii=False), comma))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    global SEED
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--big-group", type=int, default=1600,
                    help="direct members of the big group (>= %d)" % (MAX_RANGE + 1))
    ap.add_argument("--base-dn", default=BASE_DN_DEFAULT)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--chunk", type=int, default=0, help="also split adds into files of N records")
    a = ap.parse_args()
    if a.big_group <= MAX_RANGE:
        ap.error("--big-group must exceed %d" % MAX_RANGE)
    SEED = a.seed
    w = World(a.seed, a.users, a.big_group, a.base_dn)
    w.build()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "adds.ldif"), "w", encoding="utf-8", newline="\n") as f:
        for _, _, text in w.records:
            f.write(text)
    if a.chunk > 0:
        for old in os.listdir(a.out):
            if old.startswith("adds-") and old.endswith(".ldif"):
                os.unlink(os.path.join(a.out, old))
        for k in range(0, len(w.records), a.chunk):
            name = os.path.join(a.out, "adds-%04d.ldif" % (k // a.chunk + 1))
            with open(name, "w", encoding="utf-8", newline="\n") as f:
                for _, _, text in w.records[k:k + a.chunk]:
                    f.write(text)
    with open(os.path.join(a.out, "post.ldif"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(w.post))
    m = w.manifest()
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(dump_manifest(m))
    c = m["counts"]
    print("seed.py: seed %d: %d users, %d contacts, %d groups, %d OUs (%d records) -> %s"
          % (a.seed, c["user"], c["contact"], c["group"], c["organizationalUnit"], c["total"], a.out),
          file=sys.stderr)


if __name__ == "__main__":
    main()
