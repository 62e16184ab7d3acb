"""OData query options for the directory: $select, $filter, $top, $orderby, $count.

$filter support follows reference graph-api.md section 2.3 (and the per-property
table of 2.1): every (property, operator) pair is classified as
  D  supported by default,
  A  supported only as an "advanced query" (ConsistencyLevel: eventual + $count=true),
  -  not supported at all.
An unsupported clause gets 400 Request_UnsupportedQuery, as the real service answers.
"""
import re
import urllib.parse

from gs_common import GraphError, parse_iso

KNOWN_OPTIONS = {"$select", "$filter", "$top", "$skiptoken", "$count", "$orderby", "$expand",
                 "$search", "$skip", "$deltatoken", "$format", "$levels", "$apply", "$compute", "$id"}


def parse_query(qs):
    """Parse a query string like the service does: '+' reads as a space (so an
    unencoded '+' in a base64 immutableId breaks the match, reference 2.2),
    duplicate system options are refused."""
    opts = {}
    other = {}
    for k, v in urllib.parse.parse_qsl(qs, keep_blank_values=True):
        lk = k.lower()
        if lk.startswith("$"):
            if lk not in KNOWN_OPTIONS:
                raise GraphError(400, "BadRequest", "The query parameter '%s' is not supported." % k)
            if lk in opts:
                raise GraphError(400, "BadRequest",
                                 "Query option '%s' was specified more than once, but it must be specified at most once." % k)
            opts[lk] = v
        else:
            other[k] = v
    return opts, other


# ---------------------------------------------------------------------------
# $select
# ---------------------------------------------------------------------------
def parse_select(md, type_name, value, resource_label):
    """Return the list of canonical structural property names, or raise 400.
    Navigation properties are accepted and ignored (the real service expands
    nothing for them in $select on these types)."""
    names = []
    for raw in value.split(","):
        n = raw.strip()
        if not n:
            continue
        if n == "*":
            for p in md.structural_names(type_name):
                if p not in names:
                    names.append(p)
            continue
        c = md.canonical(type_name, n)
        if c is None:
            raise GraphError(400, "Request_BadRequest",
                             "Could not find a property named '%s' on type '%s'." % (n, resource_label))
        if md.is_structural(type_name, c) and c not in names:
            names.append(c)
    return names


# ---------------------------------------------------------------------------
# $filter: tokenizer + recursive-descent parser
# ---------------------------------------------------------------------------
_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^']|'')*')
  | (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
  | (?P<colon>:)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
""", re.X)

_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {"startswith", "endswith", "contains"}


class FilterSyntaxError(Exception):
    pass


def _tokenize(s):
    toks = []
    pos = 0
    while pos < len(s):
        m = _TOKEN_RE.match(s, pos)
        if not m:
            raise FilterSyntaxError("Syntax error at position %d in '%s'." % (pos, s))
        kind = m.lastgroup
        if kind != "ws":
            toks.append((kind, m.group(kind), pos))
        pos = m.end()
    toks.append(("end", None, len(s)))
    return toks


class _Parser:
    def __init__(self, text):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.lambda_vars = []

    def peek(self):
        return self.toks[self.i]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def err(self, tok=None):
        tok = tok or self.peek()
        return FilterSyntaxError("Syntax error at position %d in '%s'." % (tok[2], self.text))

    def kw(self, word):
        t = self.peek()
        return t[0] == "ident" and t[1].lower() == word

    def parse(self):
        e = self.expr()
        if self.peek()[0] != "end":
            raise self.err()
        return e

    def expr(self):
        left = self.and_expr()
        while self.kw("or"):
            self.next()
            left = ("or", left, self.and_expr())
        return left

    def and_expr(self):
        left = self.unary()
        while self.kw("and"):
            self.next()
            left = ("and", left, self.unary())
        return left

    def unary(self):
        if self.kw("not"):
            self.next()
            return ("not", self.unary())
        return self.primary()

    def literal(self):
        t = self.next()
        k, v = t[0], t[1]
        if k == "str":
            return ("lit", v[1:-1].replace("''", "'"))
        if k == "dt":
            return ("dt", v)
        if k == "num":
            return ("lit", float(v) if "." in v else int(v))
        if k == "ident" and v.lower() in ("true", "false"):
            return ("lit", v.lower() == "true")
        if k == "ident" and v.lower() == "null":
            return ("lit", None)
        raise self.err(t)

    def operand(self):
        t = self.next()
        if t[0] != "ident":
            raise self.err(t)
        return t[1]

    def primary(self):
        t = self.peek()
        if t[0] == "lp":
            self.next()
            e = self.expr()
            if self.next()[0] != "rp":
                raise self.err()
            return e
        if t[0] != "ident":
            raise self.err(t)
        name = t[1]
        low = name.lower()
        if low in _FUNCS and self.toks[self.i + 1][0] == "lp":
            self.next()
            self.next()
            prop = self.operand()
            if self.next()[0] != "comma":
                raise self.err()
            lit = self.literal()
            if self.next()[0] != "rp":
                raise self.err()
            return ("func", low, prop, lit)
        m = re.match(r"(.*)/(any|all)$", name, re.I)
        if m and self.toks[self.i + 1][0] == "lp":
            self.next()
            self.next()
            var = self.next()
            if var[0] != "ident" or self.next()[0] != "colon":
                raise self.err(var)
            self.lambda_vars.append(var[1])
            inner = self.expr()
            self.lambda_vars.pop()
            if self.next()[0] != "rp":
                raise self.err()
            return ("any" if m.group(2).lower() == "any" else "all", m.group(1), var[1], inner)
        prop = self.operand()
        opt = self.next()
        if opt[0] != "ident":
            raise self.err(opt)
        op = opt[1].lower()
        if op in _OPS:
            return ("cmp", op, prop, self.literal())
        if op == "in":
            if self.next()[0] != "lp":
                raise self.err()
            vals = [self.literal()]
            while self.peek()[0] == "comma":
                self.next()
                vals.append(self.literal())
            if self.next()[0] != "rp":
                raise self.err()
            return ("in", prop, vals)
        raise self.err(opt)


def parse_filter(text):
    try:
        return _Parser(text).parse()
    except FilterSyntaxError as e:
        raise GraphError(400, "BadRequest", "Invalid filter clause: " + str(e))


# ---------------------------------------------------------------------------
# Capabilities of user properties in $filter (reference 2.1 and 2.3)
# ---------------------------------------------------------------------------
D, A = "D", "A"
_STR_DEFAULT = {"eq": D, "in": D, "startswith": D, "ne": A, "not": A, "eqnull": A, "endswith": A}

USER_FILTER_CAPS = {
    "id": {"eq": D, "in": D, "ne": A, "not": A},
    "onPremisesImmutableId": {"eq": D, "in": D, "ne": A, "not": A, "ge": A, "le": A},
    "onPremisesSyncEnabled": {"eq": D, "in": D, "ne": A, "not": A, "eqnull": A},
    "onPremisesSecurityIdentifier": {"eq": D, "in": D, "eqnull": D},
    "onPremisesLastSyncDateTime": {"eq": D, "ge": D, "le": D, "in": D, "ne": A, "not": A},
    "externalUserState": {"eq": D, "in": D, "ne": A, "not": A},
    "externalUserStateChangeDateTime": {"eq": D, "in": D, "ge": A, "le": A, "ne": A, "not": A},
    "creationType": {"eq": D, "in": D, "ne": A, "not": A},
    "userType": {"eq": D, "in": D, "ne": A, "not": A, "eqnull": A},
    "mail": dict(_STR_DEFAULT),
    "userPrincipalName": {"eq": D, "in": D, "startswith": D, "ne": A, "not": A, "endswith": A},
    "onPremisesSamAccountName": {"eq": A, "in": A, "startswith": A, "ge": A, "le": A, "ne": A, "not": A},
    "onPremisesUserPrincipalName": {"eq": A, "in": A, "startswith": A, "ge": A, "le": A, "ne": A, "not": A,
                                    "eqnull": A},
    "displayName": dict(_STR_DEFAULT),
    "givenName": dict(_STR_DEFAULT),
    "surname": dict(_STR_DEFAULT),
    "jobTitle": dict(_STR_DEFAULT),
    "mailNickname": dict(_STR_DEFAULT),
    "employeeId": dict(_STR_DEFAULT),
    "accountEnabled": {"eq": D, "in": D, "ne": A, "not": A},
    "companyName": {"eq": A, "in": A, "startswith": A, "ne": A, "not": A, "eqnull": A},
    "department": {"eq": A, "in": A, "startswith": A, "ne": A, "not": A, "eqnull": A},
    "country": {"eq": A, "in": A, "startswith": A, "ne": A, "not": A, "eqnull": A},
    "city": {"eq": A, "in": A, "startswith": A, "ne": A, "not": A, "eqnull": A},
    "state": {"eq": A, "in": A, "startswith": A, "ne": A, "not": A, "eqnull": A},
    "usageLocation": {"eq": A, "in": A, "startswith": A, "ne": A, "not": A, "eqnull": A},
    "createdDateTime": {"ge": A, "le": A, "eq": A, "in": A, "ne": A, "not": A},
}
for _i in range(1, 16):
    USER_FILTER_CAPS["onPremisesExtensionAttributes/extensionAttribute%d" % _i] = {
        "eq": A, "in": A, "ne": A, "not": A, "eqnull": A}
# lambda collections: (collection, member path) -> caps
USER_LAMBDA_CAPS = {
    ("identities", "issuer"): {"eq": D},
    ("identities", "issuerAssignedId"): {"eq": D},
    ("identities", "signInType"): {"eq": D},
    ("proxyAddresses", ""): {"eq": D, "startswith": A},
    ("otherMails", ""): {"eq": D, "startswith": A},
}


class FilterContext:
    def __init__(self, md, type_name, resource_label, advanced, max_clauses):
        self.md = md
        self.type_name = type_name
        self.label = resource_label
        self.advanced = advanced
        self.max_clauses = max_clauses
        self.needs_advanced = False
        self.clauses = 0


def _unsupported(ctx, prop):
    raise GraphError(400, "Request_UnsupportedQuery",
                     "Unsupported or invalid query filter clause specified for property '%s' of resource '%s'." % (
                         prop, ctx.label.split(".")[-1]))


def _resolve(ctx, path):
    """Resolve a property path (case-insensitive) to (canonical path, Prop)."""
    parts = path.split("/")
    md = ctx.md
    tname = ctx.type_name
    canon = []
    prop = None
    for i, part in enumerate(parts):
        c = md.canonical(tname, part)
        if c is None or not md.is_structural(tname, c):
            raise GraphError(400, "Request_BadRequest",
                             "Could not find a property named '%s' on type '%s'." % (
                                 part, ctx.label if i == 0 else "microsoft.graph." + tname))
        prop = md.prop(tname, c)
        canon.append(c)
        if i < len(parts) - 1:
            if not prop.base.startswith("graph.") or not md.has_type(prop.base[6:]):
                raise GraphError(400, "BadRequest", "Invalid filter clause")
            tname = prop.base[6:]
    return "/".join(canon), prop


def _need(ctx, caps, op, prop_path):
    level = caps.get(op) if caps else None
    if level is None:
        _unsupported(ctx, prop_path.split("/")[0])
    if level == A:
        ctx.needs_advanced = True


def _check_literal(prop, lit, op):
    kind, v = lit
    base = prop.base
    if v is None and kind == "lit":
        return
    ok = True
    if base == "Edm.String":
        ok = kind == "lit" and isinstance(v, str)
    elif base == "Edm.Boolean":
        ok = kind == "lit" and isinstance(v, bool)
    elif base == "Edm.DateTimeOffset":
        ok = kind == "dt"
    elif base in ("Edm.Int32", "Edm.Int64"):
        ok = kind == "lit" and isinstance(v, int) and not isinstance(v, bool)
    if not ok:
        found = {True: "Edm.Boolean"}.get(isinstance(v, bool), None) or (
            "Edm.DateTimeOffset" if kind == "dt" else "Edm.String" if isinstance(v, str) else "Edm.Int32")
        kinds = {"eq": "Equal", "ne": "NotEqual", "ge": "GreaterThanOrEqual", "le": "LessThanOrEqual",
                 "gt": "GreaterThan", "lt": "LessThan", "in": "In"}
        raise GraphError(400, "BadRequest",
                         "A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'." % (
                             base, found, kinds.get(op, op)))


def check_filter(ctx, node, lam=None):
    """Walk the AST: resolve names, type-check literals, classify support."""
    kind = node[0]
    if kind in ("and", "or"):
        check_filter(ctx, node[1], lam)
        check_filter(ctx, node[2], lam)
    elif kind == "not":
        ctx.needs_advanced = True
        check_filter(ctx, node[1], lam)
    elif kind in ("cmp", "in", "func"):
        if kind == "cmp":
            op, path, lits = node[1], node[2], [node[3]]
        elif kind == "in":
            op, path, lits = "in", node[1], node[2]
        else:
            op, path, lits = node[1], node[2], [node[3]]
        ctx.clauses += len(lits)
        if lam is not None:
            coll, var, coll_prop, item_type = lam
            if path == var:
                member, prop = "", _FakeProp(coll_prop.base)
            elif path.startswith(var + "/"):
                sub = path[len(var) + 1:]
                if item_type is None:
                    raise GraphError(400, "BadRequest", "Invalid filter clause")
                c = ctx.md.canonical(item_type, sub)
                if c is None:
                    raise GraphError(400, "Request_BadRequest",
                                     "Could not find a property named '%s' on type 'microsoft.graph.%s'." % (sub, item_type))
                member, prop = c, ctx.md.prop(item_type, c)
            else:
                raise GraphError(400, "BadRequest", "Invalid filter clause")
            caps = USER_LAMBDA_CAPS.get((coll, member)) if ctx.type_name == "user" else None
            for lit in lits:
                _check_literal(prop, lit, op)
            _need(ctx, caps, op, coll)
            return
        canon, prop = _resolve(ctx, path)
        if prop.collection:
            _unsupported(ctx, canon)
        for lit in lits:
            _check_literal(prop, lit, op)
        caps = USER_FILTER_CAPS.get(canon) if ctx.type_name == "user" else {"eq": D, "in": D}
        eff = op
        if op == "eq" and lits[0] == ("lit", None):
            eff = "eqnull"
        if op == "ne" and lits[0] == ("lit", None):
            eff = "ne"
        _need(ctx, caps, eff, canon)
        if op == "in" and caps and "in" not in caps:
            _unsupported(ctx, canon)
    elif kind in ("any", "all"):
        coll = node[1]
        canon, prop = _resolve(ctx, coll)
        if not prop.collection:
            raise GraphError(400, "BadRequest", "Invalid filter clause")
        item_type = prop.base[6:] if prop.base.startswith("graph.") else None
        if kind == "all":
            _unsupported(ctx, canon)
        check_filter(ctx, node[3], (canon, node[2], prop, item_type))
    else:
        raise GraphError(400, "BadRequest", "Invalid filter clause")


class _FakeProp:
    def __init__(self, base):
        self.base = base
        self.collection = False


def indexed_values(ast, prop):
    """The values a filter pins `prop` to (`prop eq v`, `prop in (...)`, or either
    as a conjunct of `and`), for an index lookup; None when it does not."""
    k = ast[0]
    def is_str(lit):
        return lit[0] == "lit" and isinstance(lit[1], str)
    if k == "cmp" and ast[1] == "eq" and isinstance(ast[2], str) and ast[2].lower() == prop.lower() \
            and is_str(ast[3]):
        return [ast[3][1]]
    if k == "in" and isinstance(ast[1], str) and ast[1].lower() == prop.lower() and all(is_str(l) for l in ast[2]):
        return [l[1] for l in ast[2]]
    if k == "and":
        left = indexed_values(ast[1], prop)
        return left if left is not None else indexed_values(ast[2], prop)
    return None


def compile_filter(md, type_name, resource_label, text, advanced, max_clauses):
    ast = parse_filter(text)
    ctx = FilterContext(md, type_name, resource_label, advanced, max_clauses)
    # first canonicalise names / types / support
    check_filter(ctx, ast)
    if ctx.needs_advanced and not advanced:
        raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
    if max_clauses and ctx.clauses > max_clauses:
        raise GraphError(400, "Request_UnsupportedQuery",
                         "Too many child clauses specified in search filter expression containing 'OR' operators: %d. Max allowed: %d." % (
                             ctx.clauses, max_clauses))
    return _Compiled(md, type_name, ast)


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------
def _norm(v):
    if isinstance(v, str):
        return v.lower()
    return v


def _lit_value(lit):
    kind, v = lit
    if kind == "dt":
        return parse_iso(v)
    return v


def _get_path(md, type_name, obj, path):
    cur = obj
    tname = type_name
    for part in path.split("/"):
        if not isinstance(cur, dict):
            return None
        c = md.canonical(tname, part) if tname else part
        cur = cur.get(c)
        p = md.prop(tname, c) if tname else None
        tname = p.base[6:] if p is not None and p.base.startswith("graph.") and md.has_type(p.base[6:]) else None
    return cur


def _cmp(op, left, right, is_dt):
    if is_dt:
        left = parse_iso(left) if isinstance(left, str) else left
    if op == "eq":
        return _norm(left) == _norm(right)
    if op == "ne":
        return _norm(left) != _norm(right)
    if left is None or right is None:
        return False
    a, b = _norm(left), _norm(right)
    try:
        return {"ge": a >= b, "le": a <= b, "gt": a > b, "lt": a < b}[op]
    except TypeError:
        return False


class _Compiled:
    def __init__(self, md, type_name, ast):
        self.md = md
        self.type_name = type_name
        self.ast = ast

    def __call__(self, obj):
        return self._ev(self.ast, obj, None)

    def _value(self, path, obj, lam):
        if lam is not None:
            var, item = lam
            if path == var:
                return item, False
            if path.startswith(var + "/"):
                sub = path[len(var) + 1:]
                if isinstance(item, dict):
                    for k, v in item.items():
                        if k.lower() == sub.lower():
                            return v, False
                return None, False
        p = None
        try:
            first = self.md.canonical(self.type_name, path.split("/")[0])
            p = self.md.prop(self.type_name, first)
        except KeyError:
            pass
        v = _get_path(self.md, self.type_name, obj, path)
        is_dt = False
        if p is not None and "/" not in path and p.base == "Edm.DateTimeOffset":
            is_dt = True
        return v, is_dt

    def _ev(self, node, obj, lam):
        k = node[0]
        if k == "and":
            return self._ev(node[1], obj, lam) and self._ev(node[2], obj, lam)
        if k == "or":
            return self._ev(node[1], obj, lam) or self._ev(node[2], obj, lam)
        if k == "not":
            return not self._ev(node[1], obj, lam)
        if k == "cmp":
            v, is_dt = self._value(node[2], obj, lam)
            return _cmp(node[1], v, _lit_value(node[3]), is_dt)
        if k == "in":
            v, is_dt = self._value(node[1], obj, lam)
            return any(_cmp("eq", v, _lit_value(l), is_dt) for l in node[2])
        if k == "func":
            v, _ = self._value(node[2], obj, lam)
            needle = _lit_value(node[3])
            if not isinstance(v, str) or not isinstance(needle, str):
                return False
            v, needle = v.lower(), needle.lower()
            return {"startswith": v.startswith, "endswith": v.endswith,
                    "contains": lambda n: n in v}[node[1]](needle)
        if k in ("any", "all"):
            coll = _get_path(self.md, self.type_name, obj, node[1]) or []
            res = [self._ev(node[3], obj, (node[2], item)) for item in coll]
            return any(res) if k == "any" else all(res)
        return False
