"""Load Microsoft's CSDL (tests/graphsim/metadata/*.xml) and answer questions
about valid property names and types per cloud.

The files hold fragments (several top-level elements, no namespace), so they are
wrapped in a root element before parsing.
"""
import os
import re
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
METADATA_DIR = os.path.join(HERE, "metadata")


class Prop:
    __slots__ = ("name", "type", "nullable", "collection", "base", "nav")

    def __init__(self, name, typ, nullable, nav=False):
        self.name = name
        self.type = typ
        self.nullable = nullable
        self.nav = nav
        m = re.match(r"Collection\((.*)\)$", typ)
        self.collection = bool(m)
        self.base = m.group(1) if m else typ

    def __repr__(self):
        return "Prop(%s:%s)" % (self.name, self.type)


class EntityType:
    def __init__(self, name, base, props, navs, complex_=False):
        self.name = name
        self.base = base
        self.own_props = props
        self.own_navs = navs
        self.complex = complex_
        self.props = {}   # canonical name -> Prop (incl. base types)
        self.navs = {}
        self.lower = {}   # lower-case name -> canonical name (props and navs)


class Metadata:
    def __init__(self, path):
        self.path = path
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"<\?xml[^>]*\?>", "", text)
        root = ET.fromstring("<Schema>" + text + "</Schema>")
        self.types = {}
        for el in root:
            tag = el.tag
            if tag not in ("EntityType", "ComplexType"):
                continue
            name = el.get("Name")
            base = el.get("BaseType")
            props, navs = [], []
            for p in el:
                if p.tag == "Property":
                    props.append(Prop(p.get("Name"), p.get("Type"), p.get("Nullable", "true") != "false"))
                elif p.tag == "NavigationProperty":
                    navs.append(Prop(p.get("Name"), p.get("Type"), True, nav=True))
            self.types[name] = EntityType(name, base.split(".")[-1] if base else None, props, navs,
                                          complex_=(tag == "ComplexType"))
        for t in self.types.values():
            chain = []
            cur = t
            while cur is not None:
                chain.append(cur)
                cur = self.types.get(cur.base) if cur.base else None
            for c in reversed(chain):
                for p in c.own_props:
                    t.props[p.name] = p
                for p in c.own_navs:
                    t.navs[p.name] = p
            for n in list(t.props) + list(t.navs):
                t.lower[n.lower()] = n

    def type(self, name):
        return self.types[name]

    def has_type(self, name):
        return name in self.types

    def canonical(self, type_name, prop_name):
        """Canonical (case-corrected) property or navigation name, or None."""
        t = self.types[type_name]
        return t.lower.get(prop_name.lower())

    def prop(self, type_name, prop_name):
        t = self.types[type_name]
        return t.props.get(prop_name)

    def is_structural(self, type_name, prop_name):
        return prop_name in self.types[type_name].props

    def structural_names(self, type_name):
        return list(self.types[type_name].props.keys())

    # -- values ---------------------------------------------------------
    def default_value(self, p):
        """The value the service shows for a property that holds nothing."""
        if p.collection:
            return []
        if p.nullable:
            return None
        if p.base == "Edm.Boolean":
            return False
        if p.base in ("Edm.Int32", "Edm.Int64"):
            return 0
        if p.base == "Edm.DateTimeOffset":
            return "0001-01-01T00:00:00Z"
        return None

    def check_value(self, p, value, path=None):
        """Type-check a JSON value against a property. Returns an error message
        (the OData deserializer's wording) or None."""
        path = path or p.name
        if value is None:
            if p.collection:
                return None
            if not p.nullable:
                return "A null value was found for the property named '%s', which has the expected type '%s'. The expected type '%s' does not allow null values." % (
                    path, p.type, p.type)
            return None
        if p.collection:
            if not isinstance(value, list):
                return "A node of type '%s' was read from the JSON reader when trying to read the contents of the property '%s'; however, a 'StartArray' node was expected." % (
                    _json_node(value), path)
            for v in value:
                e = self._check_scalar(p.base, v, path)
                if e:
                    return e
            return None
        return self._check_scalar(p.base, value, path)

    def _check_scalar(self, base, v, path):
        if v is None:
            return None
        if base == "Edm.String":
            if not isinstance(v, str):
                return "Cannot convert the literal '%s' to the expected type 'Edm.String'." % (_lit(v),)
            return None
        if base == "Edm.Boolean":
            if not isinstance(v, bool):
                return "Cannot convert the literal '%s' to the expected type 'Edm.Boolean'." % (_lit(v),)
            return None
        if base in ("Edm.Int32", "Edm.Int64"):
            if isinstance(v, bool) or not isinstance(v, int):
                return "Cannot convert the literal '%s' to the expected type '%s'." % (_lit(v), base)
            return None
        if base == "Edm.DateTimeOffset":
            from gs_common import parse_iso
            if not isinstance(v, str) or parse_iso(v) is None:
                return "Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'." % (_lit(v),)
            return None
        if base.startswith("graph."):
            tname = base.split(".", 1)[1]
            t = self.types.get(tname)
            if t is None or not t.complex:
                return None  # type not described in our extract: accept as is
            if not isinstance(v, dict):
                return "A node of type '%s' was read from the JSON reader when trying to read a resource; however, a 'StartObject' node was expected." % (
                    _json_node(v),)
            for k, sub in v.items():
                if k.startswith("@"):
                    continue
                cp = t.props.get(k)
                if cp is None:
                    return "The property '%s' does not exist on type 'microsoft.graph.%s'. Make sure to only use property names that are defined by the type or mark the type as open type." % (
                        k, tname)
                e = self.check_value(cp, sub, path + "/" + k)
                if e:
                    return e
            return None
        return None


def _lit(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return "[object]"
    return str(v)


def _json_node(v):
    if isinstance(v, dict):
        return "StartObject"
    if isinstance(v, list):
        return "StartArray"
    return "PrimitiveValue"


_CACHE = {}


def load(filename):
    path = os.path.join(METADATA_DIR, filename)
    if path not in _CACHE:
        _CACHE[path] = Metadata(path)
    return _CACHE[path]
