"""Shared helpers for graphsim: clock, ids, JSON, Graph-shaped errors, clouds."""
import base64
import datetime
import json
import random
import threading
import time
import uuid

# ---------------------------------------------------------------------------
# Clouds (reference graph-api.md section 5.3). The cloud is defined by host.
# ---------------------------------------------------------------------------
CLOUDS = {
    "global": {
        "login_hosts": ["login.microsoftonline.com"],
        "graph_hosts": ["graph.microsoft.com"],
        "metadata": "v1.0-global.xml",
        "initial_suffix": "onmicrosoft.com",
        "sts": "https://sts.windows.net/{tid}/",
    },
    "usgov-high": {
        "login_hosts": ["login.microsoftonline.us"],
        "graph_hosts": ["graph.microsoft.us"],
        "metadata": "v1.0-usgov-fairfax.xml",
        "initial_suffix": "onmicrosoft.us",
        "sts": "https://login.microsoftonline.us/{tid}/",
    },
    "usgov-dod": {
        "login_hosts": ["login.microsoftonline.us"],
        "graph_hosts": ["dod-graph.microsoft.us"],
        "metadata": "v1.0-usgov-fairfax.xml",
        "initial_suffix": "onmicrosoft.us",
        "sts": "https://login.microsoftonline.us/{tid}/",
    },
    "china": {
        "login_hosts": ["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"],
        "graph_hosts": ["microsoftgraph.chinacloudapi.cn"],
        "metadata": "v1.0-china-mooncake.xml",
        "initial_suffix": "partner.onmschina.cn",
        "sts": "https://sts.chinacloudapi.cn/{tid}/",
    },
}

ALL_HOSTS = sorted({h for c in CLOUDS.values() for h in c["login_hosts"] + c["graph_hosts"]})
LOGIN_HOSTS = {h for c in CLOUDS.values() for h in c["login_hosts"]}
GRAPH_HOST_CLOUD = {h: name for name, c in CLOUDS.items() for h in c["graph_hosts"]}
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def clouds_of_login_host(host):
    return [name for name, c in CLOUDS.items() if host in c["login_hosts"]]


def graph_resource(cloud):
    return "https://" + CLOUDS[cloud]["graph_hosts"][0]


# ---------------------------------------------------------------------------
# Clock. Real wall-clock time everywhere; time_scale only shrinks the windows
# of the throttling buckets and the lifetimes of page/delta tokens.
# ---------------------------------------------------------------------------
class Clock:
    def __init__(self, time_scale=1.0):
        self.time_scale = float(time_scale)

    def now(self):
        return time.time()

    def scaled(self, seconds):
        """A documented duration (seconds) on the simulator's time base."""
        return seconds * self.time_scale


def iso(ts=None):
    if ts is None:
        ts = time.time()
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ts=None):
    if ts is None:
        ts = time.time()
    d = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def parse_iso(s):
    """Parse an OData DateTimeOffset literal; returns epoch seconds or None."""
    if not isinstance(s, str):
        return None
    t = s.strip()
    if t.endswith("Z") or t.endswith("z"):
        t = t[:-1] + "+00:00"
    try:
        d = datetime.datetime.fromisoformat(t)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


# ---------------------------------------------------------------------------
# Seeded randomness (--seed): one RNG, guarded by a lock.
# ---------------------------------------------------------------------------
class Rand:
    def __init__(self, seed=None):
        self._r = random.Random(seed)
        self._lock = threading.Lock()

    def random(self):
        with self._lock:
            return self._r.random()

    def uniform(self, a, b):
        with self._lock:
            return self._r.uniform(a, b)

    def randint(self, a, b):
        with self._lock:
            return self._r.randint(a, b)

    def shuffle(self, seq):
        with self._lock:
            self._r.shuffle(seq)

    def guid(self):
        with self._lock:
            bits = self._r.getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    def token(self, nbytes=32):
        with self._lock:
            b = bytes(self._r.getrandbits(8) for _ in range(nbytes))
        return b64url(b)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    if isinstance(s, str):
        s = s.encode("ascii")
    s += b"=" * (-len(s) % 4)
    return base64.urlsafe_b64decode(s)


def jdump(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def is_guid(s):
    if not isinstance(s, str) or len(s) != 36:
        return False
    try:
        uuid.UUID(s)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------------
# Responses and errors
# ---------------------------------------------------------------------------
ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


class Response:
    def __init__(self, status, body=None, headers=None, content_type=None, raw=None):
        self.status = status
        self.body = body            # JSON-able object or None
        self.raw = raw              # bytes (overrides body)
        self.headers = dict(headers or {})
        self.content_type = content_type
        self.error_code = None      # for the request log
        self.log = {}               # extra fields for the request log

    def payload(self):
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return jdump(self.body)


class GraphError(Exception):
    """A Graph-shaped error: {"error":{"code","message","innerError":{...}}}."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def graph_error_response(status, code, message, request_id, client_request_id, headers=None):
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": iso(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }
    r = Response(status, body, headers=headers, content_type="application/json")
    r.error_code = code
    return r
