#!/usr/bin/python3
"""graphsim - a Microsoft Entra ID / Microsoft Graph tenant simulator for dualsync's tests.

Python 3 standard library only (plus the openssl CLI for certificates and JWT
signatures, and ldapsearch for the Connect cycle). HTTPS only, on 127.0.0.1.
Clients reach it with curl's --connect-to HOST:443:127.0.0.1:PORT and --cacert
STATE/ca.pem; the cloud is chosen by the Host header.

  graphsim.py serve --config FILE --state-dir DIR [--port N] [--seed N] [--time-scale F]
                    [--token-lifetime SECONDS] [--log-level quiet|info]
  graphsim.py connect-cycle --state-dir DIR --tenant NAME [--lab-env env.sh] [--ldif FILE]
  graphsim.py call --state-dir DIR METHOD /_sim/... [JSON]

See README.md in this directory.
"""
import argparse
import http.client
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gs_connect  # noqa: E402
from gs_auth import AadError, TokenService, aad_error_response  # noqa: E402
from gs_common import (ALL_HOSTS, GRAPH_HOST_CLOUD, LOGIN_HOSTS, ODATA_JSON, Clock, GraphError, Rand,  # noqa: E402
                       Response, b64url_decode, graph_error_response, iso, iso_ms, jdump)
from gs_graph import Auth, Graph, Req, fmt_seconds  # noqa: E402
from gs_tenant import Tenant  # noqa: E402
from gs_throttle import Throttler  # noqa: E402

SAN_HOSTS = ["login.microsoftonline.com", "graph.microsoft.com", "login.microsoftonline.us", "graph.microsoft.us",
             "dod-graph.microsoft.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
             "microsoftgraph.chinacloudapi.cn", "localhost"]
SAN_IPS = ["127.0.0.1", "::1"]


# ---------------------------------------------------------------------------
# TLS material (openssl CLI)
# ---------------------------------------------------------------------------
def ensure_tls(state_dir):
    ca_key = os.path.join(state_dir, "ca.key")
    ca_pem = os.path.join(state_dir, "ca.pem")
    srv_key = os.path.join(state_dir, "server.key")
    srv_pem = os.path.join(state_dir, "server.pem")

    def run(*cmd):
        r = subprocess.run(list(cmd), capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("graphsim: %s failed: %s" % (" ".join(cmd[:3]), r.stderr.strip()))

    if not (os.path.exists(ca_key) and os.path.exists(ca_pem)):
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
            "-keyout", ca_key, "-out", ca_pem, "-subj", "/O=dualsync tests/CN=graphsim test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-addext", "subjectKeyIdentifier=hash")
        os.chmod(ca_key, 0o600)
        for p in (srv_key, srv_pem):
            if os.path.exists(p):
                os.unlink(p)
    if not (os.path.exists(srv_key) and os.path.exists(srv_pem)):
        csr = os.path.join(state_dir, "server.csr")
        ext = os.path.join(state_dir, "server.ext")
        san = ",".join(["DNS:" + h for h in SAN_HOSTS] + ["IP:" + i for i in SAN_IPS])
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=%s\nsubjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n" % san)
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", srv_key, "-out", csr,
            "-subj", "/O=dualsync tests/CN=graph.microsoft.com")
        os.chmod(srv_key, 0o600)
        run("openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial",
            "-out", srv_pem, "-days", "825", "-sha256", "-extfile", ext)
        os.unlink(csr)
    return ca_pem, srv_pem, srv_key


# ---------------------------------------------------------------------------
# Fault injection
# ---------------------------------------------------------------------------
FAULT_DEFAULTS = {
    "rate_429": 0.0,          # answer 429 (Retry-After: retry_after) without doing anything
    "rate_503": 0.0,          # answer 503 serviceNotAvailable without doing anything
    "rate_drop": 0.0,         # close the connection without answering, request NOT processed
    "rate_drop_after": 0.0,   # process the request, then close without answering
    "rate_503_after": 0.0,    # process the request, then answer 503 (a gateway's answer after the work)
    "rate_slow": 0.0,         # delay the answer by slow_ms
    "slow_ms": 0,
    "latency_ms": 0,          # added to every Graph answer
    "retry_after": 1.0,       # seconds (real time) in injected 429/503
    "paths": None,            # regex on the request path the rates apply to (None = all Graph paths)
    "tenants": None,          # tenant names the rates apply to (None = all)
    "token_endpoint": False,  # apply the rates to the token endpoint too
    "batch_items": True,      # apply rate_429/rate_503 to each $batch item as well
    "invitations_blocked": False,   # true, or a list of tenant names: 403 on every invitation
    "invitations_block_after": None,  # block a tenant's invitations after N successful ones
    "invitations_block_per_minute": None,  # block a tenant once more than N succeeded within a minute
    "clock_offset_seconds": 0,  # the service's clock runs this far ahead of the host's (negative: behind)
    "batch_garbled": 0.0,     # carry out a $batch, then answer 200 with its body cut short
    "replication_lag": 0.0,   # seconds (real time) during which reads do not show a Graph write
    "refuse_in_filter": False,  # answer 400 to a $filter with the 'in' operator
    "first": None,            # faults the first matching exchanges get, in order, before the rates
}
# the faults "first" may name, as the log's "fault" names them
FIRST_FAULTS = ("429", "503", "drop", "drop_after", "503_after")


class Faults:
    def __init__(self, sim, cfg):
        self.sim = sim
        self.lock = threading.Lock()
        self.cfg = dict(FAULT_DEFAULTS)
        self.counts = {}
        self.recent = {}            # tenant name -> times of its latest invitations
        self.burst_blocked = set()  # tenants blocked by invitations_block_per_minute
        self.forced = []            # what is left of "first"
        self.update(cfg or {})

    def update(self, cfg):
        with self.lock:
            if cfg.get("reset"):
                self.cfg = dict(FAULT_DEFAULTS)
                self.counts = {}
                self.recent = {}
                self.burst_blocked = set()
                self.forced = []
            for k, v in cfg.items():
                if k == "reset":
                    continue
                if k not in FAULT_DEFAULTS:
                    raise ValueError("unknown fault option %r (known: %s)" % (k, ", ".join(sorted(FAULT_DEFAULTS))))
                if k == "first":
                    if not isinstance(v, list) or any(f not in FIRST_FAULTS for f in v):
                        raise ValueError("first: a list of %s" % ", ".join(FIRST_FAULTS))
                    self.forced = list(v)
                self.cfg[k] = v
            return dict(self.cfg)

    def get(self):
        with self.lock:
            d = dict(self.cfg)
            d["invitation_counts"] = dict(getattr(self, "counts", {}))
            return d

    def _applies(self, tenant_name, path):
        c = self.cfg
        if c["tenants"] and tenant_name not in c["tenants"]:
            return False
        if c["paths"] and not re.search(c["paths"], path):
            return False
        return True

    def decide(self, tenant_name, path, token_endpoint=False):
        """Actions for one top-level request: dict with latency, slow, drop, drop_after, status."""
        c = self.cfg
        out = {"latency": c["latency_ms"] / 1000.0 if not token_endpoint else 0.0}
        if token_endpoint and not c["token_endpoint"]:
            return out
        if not self._applies(tenant_name, path):
            return out
        with self.lock:
            forced = self.forced.pop(0) if self.forced else None
        if forced:
            # a test's floor: this fault now, whatever the rates would draw
            key = {"429": "status", "503": "status", "drop": "drop", "drop_after": "drop_after",
                   "503_after": "status_after"}[forced]
            out[key] = int(forced.split("_")[0]) if key.startswith("status") else True
            return out
        rng = self.sim.rng
        if c["rate_slow"] and rng.random() < c["rate_slow"]:
            out["slow"] = c["slow_ms"] / 1000.0
        if c["rate_drop"] and rng.random() < c["rate_drop"]:
            out["drop"] = True
            return out
        if c["rate_503"] and rng.random() < c["rate_503"]:
            out["status"] = 503
            return out
        if c["rate_429"] and rng.random() < c["rate_429"]:
            out["status"] = 429
            return out
        if c["rate_drop_after"] and rng.random() < c["rate_drop_after"]:
            out["drop_after"] = True
        elif c["rate_503_after"] and rng.random() < c["rate_503_after"]:
            out["status_after"] = 503
        return out

    def item_fault(self, tenant, url):
        c = self.cfg
        if not c["batch_items"] or not self._applies(tenant.name, "/" + url.lstrip("/")):
            return None
        rng = self.sim.rng
        if c["rate_503"] and rng.random() < c["rate_503"]:
            return 503
        if c["rate_429"] and rng.random() < c["rate_429"]:
            return 429
        return None

    def clock_offset(self):
        return float(self.cfg["clock_offset_seconds"] or 0)

    def retry_after(self):
        return float(self.cfg["retry_after"])

    def batch_garbled(self, tenant):
        c = self.cfg
        return bool(c["batch_garbled"]) and self._applies(tenant.name, "/$batch") \
            and self.sim.rng.random() < c["batch_garbled"]

    def replication_lag(self):
        return float(self.cfg["replication_lag"] or 0)

    def invitations_blocked(self, tenant):
        c = self.cfg
        b = c["invitations_blocked"]
        if b is True or (isinstance(b, list) and tenant.name in b):
            return True
        n = c["invitations_block_after"]
        if n is not None and self.counts.get(tenant.name, 0) >= int(n):
            return True
        if tenant.name in self.burst_blocked:
            return True     # like the real block: it stays until support lifts it (a reset)
        return False

    def count_invitation(self, tenant):
        with self.lock:
            self.counts[tenant.name] = self.counts.get(tenant.name, 0) + 1
            n = self.cfg["invitations_block_per_minute"]
            if n is None:
                return
            # "a high volume of invitations in a short period": more than n
            # within a minute (of the simulator's time scale) blocks the tenant
            now = time.time()
            window = self.sim.clock.scaled(60.0)
            times = self.recent.setdefault(tenant.name, [])
            times.append(now)
            while times and times[0] < now - window:
                times.pop(0)
            if len(times) > int(n):
                self.burst_blocked.add(tenant.name)


# ---------------------------------------------------------------------------
# Request log
# ---------------------------------------------------------------------------
class RequestLog:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.entries = []
        self.seq = 0
        self.path = path
        self.f = open(path, "a", encoding="utf-8", buffering=1) if path else None

    def add(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.entries.append(entry)
            if self.f:
                self.f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def query(self, since=0, tenant=None, path=None, include_sim=False):
        with self.lock:
            out = []
            for e in self.entries:
                if e["seq"] <= since:
                    continue
                if tenant and e.get("tenant") != tenant:
                    continue
                if path and not re.search(path, e.get("path", "")):
                    continue
                if not include_sim and e.get("kind") == "sim":
                    continue
                out.append(e)
            return out

    def clear(self):
        with self.lock:
            self.entries = []


# ---------------------------------------------------------------------------
# Page cursors ($skiptoken) and delta tokens
# ---------------------------------------------------------------------------
class Cursors:
    def __init__(self, sim):
        self.sim = sim
        self.lock = threading.Lock()
        self.items = {}

    def new(self, tenant, ids, select, top, context, query, version, count_total=None):
        return {"tenant": tenant.id, "ids": ids, "pos": 0, "select": select, "top": top, "context": context,
                "query": query, "version": version, "count_total": count_total, "token": None}

    def save(self, cur):
        """Store the position for the next page under a new token. Tokens are not
        consumed when used, so a client may replay a nextLink (e.g. after a dropped
        connection), as with the real service."""
        with self.lock:
            tok = "RFNwdAIAAQAAA" + self.sim.rng.token(48)
            cur = dict(cur)
            cur["token"] = tok
            cur["created"] = time.time()
            cur["count_total"] = None   # @odata.count only on the first page
            self.items[tok] = cur
            if len(self.items) > 20000:
                for k in sorted(self.items, key=lambda k: self.items[k]["created"])[:5000]:
                    del self.items[k]
            return tok

    def get(self, tok, tenant):
        ttl = float(self.sim.cfg.get("page_token_ttl_seconds", 3600))
        with self.lock:
            cur = self.items.get(tok)
            if cur is None or cur["tenant"] != tenant.id or time.time() - cur["created"] > ttl:
                return None
            return dict(cur)

    def drop(self, cur):
        pass

    def expire(self, tenant):
        with self.lock:
            for k in [k for k, v in self.items.items() if v["tenant"] == tenant.id]:
                del self.items[k]


class Deltas:
    def __init__(self, sim):
        self.sim = sim
        self.lock = threading.Lock()
        self.tokens = {}
        self.cursors = {}

    def new_token(self, tenant, state):
        with self.lock:
            tok = self.sim.rng.token(60)
            self.tokens[tok] = dict(state, tenant=tenant.id, created=time.time())
            return tok

    def get_token(self, tok, tenant):
        ttl = float(self.sim.cfg.get("delta_token_ttl_seconds", 7 * 86400))
        with self.lock:
            st = self.tokens.get(tok)
            if st is None or st["tenant"] != tenant.id or time.time() - st["created"] > ttl:
                return None
            return st

    def save_cursor(self, tenant, cur):
        with self.lock:
            tok = self.sim.rng.token(48)
            c = dict(cur, tenant=tenant.id, created=time.time())
            self.cursors[tok] = c
            if len(self.cursors) > 20000:
                for k in sorted(self.cursors, key=lambda k: self.cursors[k]["created"])[:5000]:
                    del self.cursors[k]
            return tok

    def get_cursor(self, tok, tenant):
        ttl = float(self.sim.cfg.get("page_token_ttl_seconds", 3600))
        with self.lock:
            c = self.cursors.get(tok)
            if c is None or c["tenant"] != tenant.id or time.time() - c["created"] > ttl:
                return None
            return dict(c)

    def expire(self, tenant):
        with self.lock:
            for d in (self.tokens, self.cursors):
                for k in [k for k, v in d.items() if v["tenant"] == tenant.id]:
                    del d[k]


# ---------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------
class Sim:
    def __init__(self, cfg, config_path, state_dir, seed=None, time_scale=None):
        self.cfg = cfg
        self.config_path = config_path
        self.state_dir = state_dir
        self.base_dir = os.path.dirname(os.path.abspath(config_path)) if config_path else os.getcwd()
        seed = seed if seed is not None else cfg.get("seed", 1)
        self.seed = seed
        self.rng = Rand(seed)
        self.clock = Clock(time_scale if time_scale is not None else cfg.get("time_scale", 1.0))
        self.tokens = TokenService(self)
        self.throttle = Throttler(self.clock, cfg.get("throttle"))
        self.faults = Faults(self, cfg.get("faults"))
        self.log = RequestLog(os.path.join(state_dir, "requests.jsonl"))
        self.cursors = Cursors(self)
        self.deltas = Deltas(self)
        self.graph = Graph(self)
        self.load_tenants()

    def load_tenants(self):
        tenants = []
        names, ids = set(), set()
        for tc in self.cfg.get("tenants", []):
            t = Tenant(tc, self, self.base_dir, os.path.join(self.state_dir, "pubkeys"))
            if t.name in names or t.id in ids:
                raise SystemExit("graphsim: duplicate tenant name or id: %s" % t.name)
            names.add(t.name)
            ids.add(t.id)
            tenants.append(t)
        self.tenants = tenants
        self.by_name = {t.name: t for t in tenants}
        self.by_id = {t.id: t for t in tenants}

    def now(self):
        """The service's clock (Date headers, assertion times, token times):
        the host's, moved by the clock_offset_seconds fault."""
        return time.time() + self.faults.clock_offset()

    def tenant_by_id(self, tid):
        return self.by_id.get((tid or "").lower())

    def tenant_by_ref(self, ref):
        ref = (ref or "").lower()
        if ref in self.by_id:
            return self.by_id[ref]
        for t in self.tenants:
            if ref in t.all_domains():
                return t
        return None

    def tenant_by_name_or_id(self, ref):
        return self.by_name.get(ref) or self.tenant_by_ref(ref)

    def home_tenant_of(self, domain):
        """The simulated tenant where this mail domain is verified (the
        invited user's home organization), or None."""
        return next((t for t in self.tenants if t.is_verified_domain(domain)), None)

    def log_item(self, envelope, r, item, resp, auth):
        """Log one $batch item as its own entry."""
        e = {"time": iso_ms(), "kind": "graph", "via": "batch", "host": envelope.host,
             "batch_request_id": envelope.request_id, "batch_item_id": r.get("id"),
             "client_request_id": (r.get("headers") or {}).get("client-request-id")
             if isinstance(r.get("headers"), dict) else None,
             "method": (r.get("method") or "").upper(), "status": item["status"],
             "tenant": auth.tenant.name, "tenant_id": auth.tenant.id, "app": auth.app_id}
        url = r.get("url") or ""
        p, _, q = url.lstrip("/").partition("?")
        e["path"] = "/%s" % p
        e["query"] = q
        if resp is not None:
            e["request_id"] = resp.log.get("request_id")
            e.update({k: v for k, v in resp.log.items() if k not in e})
            if resp.error_code:
                e["error_code"] = resp.error_code
        else:
            body = item.get("body")
            if isinstance(body, dict) and "error" in body:
                e["error_code"] = body["error"].get("code")
        if isinstance(r.get("body"), dict) and e["path"].rstrip("/").endswith("invitations"):
            iu = r["body"].get("invitedUser") if isinstance(r["body"].get("invitedUser"), dict) else {}
            e.setdefault("body", {"invitedUser.id": (iu or {}).get("id"),
                                  "invitedUserEmailAddress": r["body"].get("invitedUserEmailAddress")})
        self.log.add(e)


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, handler, sim, ssl_ctx, family=socket.AF_INET):
        self.address_family = family
        super().__init__(addr, handler)
        self.sim = sim
        self.socket = ssl_ctx.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        if self.sim.cfg.get("_verbose"):
            traceback.print_exc()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 300

    def setup(self):
        super().setup()
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            self._bad = True
            return
        self._bad = False

    def handle(self):
        if getattr(self, "_bad", False):
            return
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, socket.timeout, OSError):
            pass

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.handle_any()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # ---------------------------------------------------------------
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def drop(self):
        self.close_connection = True
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_any(self):
        sim = self.server.sim
        t0 = time.time()
        host = (self.headers.get("Host") or "").strip().lower()
        if host.startswith("["):
            host = host[1:].split("]")[0]
        else:
            host = host.split(":")[0]
        path, _, query = self.path.partition("?")
        if path.startswith("https://") or path.startswith("http://"):
            m = re.match(r"https?://[^/]+(/[^?]*)", self.path)
            path = m.group(1) if m else "/"
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            try:
                self.send_error(400, "Bad Request", "Invalid Content-Length or chunked encoding")
            except OSError:
                pass
            return
        except OSError:
            self.close_connection = True
            return
        request_id = str(uuid.uuid4())
        crid = self.headers.get("client-request-id") or str(uuid.uuid4())
        entry = {"time": iso_ms(t0), "host": host, "method": self.command, "path": path, "query": query,
                 "request_id": request_id, "client_request_id": crid}
        fault = {}
        resp = None
        try:
            if path.startswith("/_sim/") or path == "/_sim":
                entry["kind"] = "sim"
                resp = sim_route(sim, self.command, path, query, body, self.headers)
            elif host in GRAPH_HOST_CLOUD:
                entry["kind"] = "graph"
                fault = sim.faults.decide(self._tenant_hint(sim), path)
                resp = self._faulted(sim, fault, request_id, crid, entry)
                if resp is None and not fault.get("drop"):
                    req = Req(self.command, host, path, query, self.headers, body, request_id, crid)
                    resp = sim.graph.handle(req)
            elif host in LOGIN_HOSTS:
                entry["kind"] = "token"
                fault = sim.faults.decide(None, path, token_endpoint=True)
                resp = self._faulted(sim, fault, request_id, crid, entry)
                if resp is None and not fault.get("drop"):
                    resp = self.token(sim, host, path, body, request_id, crid, entry)
            else:
                entry["kind"] = "unknown-host"
                resp = Response(421, {"error": {"code": "MisdirectedRequest",
                                                "message": "graphsim serves only: %s" % ", ".join(ALL_HOSTS)}})
        except Exception as e:  # a simulator bug: answer 500 and keep serving
            traceback.print_exc()
            resp = graph_error_response(500, "InternalServerError", "graphsim internal error: %s" % e, request_id, crid)
        if fault.get("latency"):
            time.sleep(fault["latency"])
        if fault.get("slow"):
            time.sleep(fault["slow"])
            entry["fault"] = "slow"
        if fault.get("drop"):
            entry["fault"] = "drop"
            entry["status"] = None
            self._finish_log(sim, entry, t0, None)
            self.drop()
            return
        if resp is None:
            resp = Response(404, {"error": {"code": "NotFound", "message": "No route"}})
        if fault.get("status_after") and entry.get("kind") == "graph":
            # the work is done (and logged as done), but the answer is a 503
            entry["fault"] = "503_after"
            entry["processed_status"] = resp.status
            for k, v in resp.log.items():   # what was done (the invitation's body, ...)
                entry.setdefault(k, v)
            resp = graph_error_response(503, "serviceNotAvailable",
                                        "The service is temporarily unavailable (graphsim fault injection).",
                                        request_id, crid, headers={"Retry-After": fmt_seconds(sim.faults.retry_after())})
        if fault.get("drop_after"):
            entry["fault"] = "drop_after"
            entry["status"] = resp.status
            self._finish_log(sim, entry, t0, resp)
            self.drop()
            return
        self.send(resp, request_id, crid, entry.get("kind"))
        entry["status"] = resp.status
        self._finish_log(sim, entry, t0, resp)

    def _tenant_hint(self, sim):
        """Tenant name from the bearer token (unverified), for tenant-scoped faults."""
        auth = self.headers.get("Authorization") or ""
        try:
            claims = json.loads(b64url_decode(auth[7:].split(".")[1]))
            t = sim.tenant_by_id(claims.get("tid"))
            return t.name if t else None
        except Exception:
            return None

    def _faulted(self, sim, fault, request_id, crid, entry):
        st = fault.get("status")
        if st is None:
            return None
        ra = fmt_seconds(sim.faults.retry_after())
        entry["fault"] = str(st)
        if entry.get("kind") == "token":
            e = AadError(503 if st == 503 else 429, "temporarily_unavailable", 90033 if st == 503 else 50196,
                         "A transient error has occurred. Please try again." if st == 503 else
                         "The server terminated an operation because it encountered a client request loop. Please contact your app vendor.")
            r = aad_error_response(e, entry["host"], request_id, crid)
            r.headers["Retry-After"] = ra
            return r
        if st == 429:
            return graph_error_response(429, "TooManyRequests", "Too many requests (graphsim fault injection).",
                                        request_id, crid, headers={"Retry-After": ra})
        return graph_error_response(503, "serviceNotAvailable",
                                    "The service is temporarily unavailable (graphsim fault injection).",
                                    request_id, crid, headers={"Retry-After": ra})

    def token(self, sim, host, path, body, request_id, crid, entry):
        if self.command != "POST":
            if re.match(r"^/[^/]+/v2\.0/\.well-known/openid-configuration$", path) and self.command == "GET":
                return self.oidc(sim, host, path)
            return Response(405, {"error": "invalid_request", "error_description": "AADSTS900561: The endpoint only accepts POST requests."})
        ctx = {}
        try:
            resp = sim.tokens.handle(host, path, self.headers, body, ctx)
        except AadError as e:
            resp = aad_error_response(e, host, request_id, crid)
        if resp is None:
            resp = Response(404, {"error": "invalid_request", "error_description": "AADSTS90010: graphsim: unknown endpoint %s" % path})
        t = ctx.get("tenant")
        if t is not None:
            entry["tenant"] = t.name
            entry["tenant_id"] = t.id
        entry["app"] = ctx.get("client_id")
        entry["credential"] = ctx.get("credential")
        entry["scope"] = ctx.get("scope")
        return resp

    def oidc(self, sim, host, path):
        seg = path.split("/")[1]
        t = sim.tenant_by_ref(seg)
        if t is None:
            return Response(400, {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant '%s' not found." % seg})
        return Response(200, {
            "token_endpoint": "https://%s/%s/oauth2/v2.0/token" % (host, t.id),
            "issuer": "https://%s/%s/v2.0" % (host, t.id),
            "tenant_region_scope": {"global": "NA", "usgov-high": "USGov", "usgov-dod": "USGov", "china": "AS"}[t.cloud],
            "cloud_instance_name": {"global": "microsoftonline.com", "usgov-high": "microsoftonline.us",
                                    "usgov-dod": "microsoftonline.us", "china": "partner.microsoftonline.cn"}[t.cloud],
            "msgraph_host": t.graph_host,
        })

    def send(self, resp, request_id, crid, kind):
        payload = resp.payload() if self.command != "HEAD" else b""
        self.send_response_only(resp.status)
        self.send_header("Date", self.date_time_string(self.server.sim.now()))
        if payload or resp.body is not None or resp.raw is not None:
            ctype = resp.content_type or (ODATA_JSON if kind == "graph" else "application/json; charset=utf-8")
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", request_id)
        self.send_header("client-request-id", crid)
        if kind == "graph":
            self.send_header("x-ms-ags-diagnostic", json.dumps(
                {"ServerInfo": {"DataCenter": "graphsim", "Slice": "E", "Ring": "5", "ScaleUnit": "000",
                                "RoleInstance": "graphsim", "ADSiteName": "LAB"}}, separators=(",", ":")))
            self.send_header("Strict-Transport-Security", "max-age=31536000")
            self.send_header("Cache-Control", "no-cache")
            if resp.body is not None and resp.content_type is None:
                self.send_header("OData-Version", "4.0")
        elif kind == "token":
            self.send_header("x-ms-request-id", request_id)
            self.send_header("Cache-Control", "no-store, no-cache")
            self.send_header("Pragma", "no-cache")
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        # headers and body in one write (no Nagle / delayed-ACK stall between them)
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(payload)
        self.flush_headers()

    def _finish_log(self, sim, entry, t0, resp):
        entry["duration_ms"] = round((time.time() - t0) * 1000, 1)
        if resp is not None:
            for k, v in resp.log.items():
                entry.setdefault(k, v)
            if resp.error_code:
                entry["error_code"] = resp.error_code
            for h in ("Retry-After", "x-ms-throttle-information", "x-ms-resource-unit",
                      "x-ms-throttle-limit-percentage"):
                if h in resp.headers:
                    entry[h.lower()] = resp.headers[h]
        if entry.get("kind") == "sim" and not entry.get("log_sim"):
            if not re.search(r"/(connect-cycle|redeem/|users)", entry["path"]) or entry["method"] == "GET":
                return
        sim.log.add(entry)


# ---------------------------------------------------------------------------
# /_sim test hooks
# ---------------------------------------------------------------------------
def _json(body):
    if not body:
        return {}
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        raise GraphError(400, "BadRequest", "invalid JSON body")


def sim_route(sim, method, path, query, body, headers):
    import urllib.parse
    q = dict(urllib.parse.parse_qsl(query))
    segs = [urllib.parse.unquote(s) for s in path.split("/")[2:] if s]
    try:
        return _sim_route(sim, method, segs, q, body)
    except GraphError as e:
        return Response(e.status, {"error": {"code": e.code, "message": e.message}})
    except ValueError as e:
        return Response(400, {"error": {"code": "BadRequest", "message": str(e)}})


def _sim_route(sim, method, segs, q, body):
    if not segs:
        return Response(200, {"endpoints": "see README.md"})
    head = segs[0]
    if head == "health":
        return Response(200, {"ok": True, "pid": os.getpid(), "seed": sim.seed, "time_scale": sim.clock.time_scale,
                              "tenants": [t.name for t in sim.tenants]})
    if head == "config":
        return Response(200, {"tenants": [{
            "name": t.name, "id": t.id, "cloud": t.cloud, "graph_host": t.graph_host,
            "login_hosts": __import__("gs_common").CLOUDS[t.cloud]["login_hosts"],
            "initial_domain": t.initial_domain, "verified_domains": t.verified,
            "allow_invites_from": t.allow_invites_from, "size_class": t.size_class(),
            "connect": {k: v for k, v in t.connect.items() if "password" not in k},
            "apps": [{"client_id": a.client_id, "roles": a.roles, "certificates": [c.x5t_s256 for c in a.certs],
                      "secrets": len(a.secrets)} for a in t.apps.values()],
        } for t in sim.tenants], "seed": sim.seed, "time_scale": sim.clock.time_scale})
    if head == "log":
        if len(segs) > 1 and segs[1] == "clear" and method == "POST":
            sim.log.clear()
            return Response(200, {"ok": True})
        entries = sim.log.query(int(q.get("since", 0)), q.get("tenant"), q.get("path"),
                                q.get("include_sim") in ("1", "true"))
        return Response(200, {"entries": entries, "last_seq": sim.log.seq})
    if head == "faults":
        if method == "POST":
            return Response(200, sim.faults.update(_json(body)))
        return Response(200, sim.faults.get())
    if head == "throttle":
        if method == "POST":
            sim.throttle.reconfigure(_json(body))
        return Response(200, {"config": sim.throttle.cfg, "buckets": sim.throttle.state(),
                              "time_scale": sim.clock.time_scale})
    if head == "tokens" and len(segs) > 1 and segs[1] == "revoke" and method == "POST":
        sim.tokens.rotate()
        return Response(200, {"ok": True})
    if head == "reset" and method == "POST":
        sim.load_tenants()
        sim.faults.update({"reset": True})
        sim.throttle.reconfigure({})
        sim.log.clear()
        return Response(200, {"ok": True})
    t = sim.tenant_by_name_or_id(head)
    if t is None:
        raise GraphError(404, "NotFound", "no tenant %r" % head)
    rest = segs[1:]
    if not rest:
        return Response(200, {"name": t.name, "id": t.id, "cloud": t.cloud})
    op = rest[0]
    with t.lock:
        if op == "users":
            if len(rest) == 1 and method == "GET":
                return Response(200, t.dump())
            if len(rest) == 1 and method == "POST":
                b = _json(body)
                if not isinstance(b, dict):
                    raise GraphError(400, "BadRequest", "a JSON object of user properties was expected")
                u = t.seed_user(b)
                return Response(201, t.dump_user(u))
            if len(rest) == 2:
                u = t.get_user(rest[1])
                if u is None:
                    raise GraphError(404, "NotFound", "no user %r" % rest[1])
                if method == "GET":
                    return Response(200, t.dump_user(u))
                if method == "DELETE":
                    t.delete_user(u, q.get("reason", "changed"))
                    return Response(204)
                if method == "PATCH":
                    b = _json(body)
                    seq = t.bump()
                    for k, v in b.items():
                        if k == "_memberOf":
                            u.member_of = list(v)
                            continue
                        if k == "_convertedToInternal":
                            u.converted_to_internal = v
                            continue
                        if k == "_directoryRoles":
                            u.directory_roles = list(v)
                            continue
                        if not t.md.is_structural("user", k):
                            raise GraphError(400, "BadRequest", "not a user property: %r" % k)
                        err = t.md.check_value(t.md.prop("user", k), v)
                        if err:
                            raise GraphError(400, "BadRequest", err)
                        t.set_prop(u, k, v, seq)
                    return Response(200, t.dump_user(u))
        if op == "redeem" and len(rest) == 2 and method == "POST":
            u = t.get_user(rest[1])
            if u is None:
                raise GraphError(404, "NotFound", "no user %r" % rest[1])
            b = _json(body)
            t.redeem(u, b.get("issuer", "ExternalAzureAD"), b.get("issuerAssignedId"))
            return Response(200, t.dump_user(u))
        if op == "settings" and method == "POST":
            b = _json(body)
            for k, v in b.items():
                if k in ("guest_invitations_allowed", "allow_invites_from"):
                    t.allow_invites_from = ("everyone" if v else "none") if isinstance(v, bool) else v
                elif k == "size":
                    t.size = v
                elif k in ("b2b_domains", "invalid_request_input", "cross_tenant_access",
                           "enforce_cross_tenant_access", "undergoing_migration"):
                    t.set_b2b_setting(k, v)
                elif k == "app_roles":
                    # an administrator granting or removing application
                    # permissions: tokens issued from now carry them
                    if not isinstance(v, dict) or any(c.lower() not in t.apps or not isinstance(r, list)
                                                      for c, r in v.items()):
                        raise GraphError(400, "BadRequest", "app_roles: {\"<client id of the tenant's app>\": [roles]}")
                    for c, r in v.items():
                        t.apps[c.lower()].roles = list(r)
                elif k == "verified_domains":
                    t.verified = [d.lower() for d in v]
                elif k in ("write_onpremises_upn", "clear_existing_onpremises_upn", "anchor", "usertype_sync",
                           "deletion_threshold", "filter", "base_dn", "ldap_uri", "bind_upn", "password_file",
                           "ca_file", "lab_env"):
                    t.connect[k] = v
                else:
                    raise GraphError(400, "BadRequest", "unknown setting %r" % k)
            return Response(200, {"allow_invites_from": t.allow_invites_from, "size": t.size,
                                  "connect": {k: v for k, v in t.connect.items() if "password" not in k}})
        if op == "expire-delta-tokens" and method == "POST":
            sim.deltas.expire(t)
            return Response(200, {"ok": True})
        if op == "expire-page-tokens" and method == "POST":
            sim.cursors.expire(t)
            return Response(200, {"ok": True})
    if op == "connect-cycle" and method == "POST":
        b = _json(body)
        if b.get("ldif") is not None:
            entries = gs_connect.parse_ldif(b["ldif"])
            return Response(200, gs_connect.run_cycle(sim, t, entries, source="ldif"))
        facts = gs_connect.ldap_facts(t.connect, b, os.environ)
        out, secs = gs_connect.run_ldapsearch(facts)
        entries = gs_connect.parse_ldif(out)
        return Response(200, gs_connect.run_cycle(sim, t, entries, source=facts["uri"], read_seconds=secs))
    raise GraphError(404, "NotFound", "no such hook: %s %s" % (method, "/".join(segs)))


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------
def load_config(path):
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except ValueError as e:
            raise SystemExit("graphsim: %s: invalid JSON: %s" % (path, e))


def cmd_serve(args):
    state = os.path.abspath(args.state_dir)
    os.makedirs(state, exist_ok=True)
    cfg = load_config(args.config)
    if args.token_lifetime:
        cfg["token_lifetime_seconds"] = args.token_lifetime
    cfg["_verbose"] = args.verbose
    ca, cert, key = ensure_tls(state)
    sim = Sim(cfg, args.config, state, seed=args.seed, time_scale=args.time_scale)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    bind = args.bind
    if bind not in ("127.0.0.1", "::1"):
        raise SystemExit("graphsim: refusing to listen on %s: only 127.0.0.1 or ::1" % bind)
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    port = args.port if args.port is not None else int(cfg.get("port", 8443))
    srv = Server((bind, port), Handler, sim, ctx, family=fam)
    real_port = srv.server_address[1]
    with open(os.path.join(state, "port"), "w") as f:
        f.write("%d\n" % real_port)
    with open(os.path.join(state, "graphsim.pid"), "w") as f:
        f.write("%d\n" % os.getpid())

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("graphsim: listening on https://%s:%d (CA %s), tenants: %s, seed %s, time-scale %s" % (
        bind, real_port, ca, ", ".join("%s[%s]" % (t.name, t.cloud) for t in sim.tenants), sim.seed,
        sim.clock.time_scale), flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        if sim.log.f:
            sim.log.f.close()
        try:
            os.unlink(os.path.join(state, "graphsim.pid"))
        except OSError:
            pass
    return 0


def sim_call(state_dir, method, path, payload=None, port=None, timeout=900):
    state = os.path.abspath(state_dir)
    if port is None:
        with open(os.path.join(state, "port")) as f:
            port = int(f.read().strip())
    ctx = ssl.create_default_context(cafile=os.path.join(state, "ca.pem"))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    data = json.dumps(payload).encode() if payload is not None else None
    hdrs = {"Host": "localhost"}
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    try:
        return r.status, json.loads(raw) if raw else None
    except ValueError:
        return r.status, raw.decode("utf-8", "replace")


def cmd_connect_cycle(args):
    payload = {}
    if args.ldif:
        with open(args.ldif, encoding="utf-8") as f:
            payload["ldif"] = f.read()
    if args.lab_env:
        payload["lab_env"] = os.path.abspath(args.lab_env)
    for k in ("filter", "base_dn"):
        if getattr(args, k):
            payload[k] = getattr(args, k)
    st, out = sim_call(args.state_dir, "POST", "/_sim/%s/connect-cycle" % args.tenant, payload, args.port)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0 if st == 200 and isinstance(out, dict) and out.get("status") == "success" else 1


def cmd_call(args):
    payload = json.loads(args.json) if args.json else None
    st, out = sim_call(args.state_dir, args.method.upper(), args.path, payload, args.port, args.timeout)
    print(json.dumps(out, indent=2, ensure_ascii=False) if not isinstance(out, str) else out)
    return 0 if 200 <= st < 300 else 1


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        argv = ["serve"] + argv
    ap = argparse.ArgumentParser(prog="graphsim.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the simulator")
    s.add_argument("--config", required=True)
    s.add_argument("--state-dir", required=True)
    s.add_argument("--port", type=int, default=None, help="TCP port (0 = any free port; default config 'port' or 8443)")
    s.add_argument("--bind", default="127.0.0.1")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--time-scale", type=float, default=None,
                   help="multiply the throttling windows (10 s, 150 s, ...) by F, e.g. 0.01")
    s.add_argument("--token-lifetime", type=int, default=None, help="fixed access-token lifetime in seconds")
    s.add_argument("--verbose", action="store_true")
    c = sub.add_parser("connect-cycle", help="run an Entra Connect cycle for a tenant (posts /_sim/{tenant}/connect-cycle)")
    c.add_argument("--state-dir", required=True)
    c.add_argument("--tenant", required=True)
    c.add_argument("--lab-env", help="the lab's env.sh (AD_LDAPS_URI, AD_BASE_DN, AD_BIND_UPN, AD_BIND_PW, LDAPTLS_CACERT)")
    c.add_argument("--ldif", help="use this LDIF file instead of reading AD")
    c.add_argument("--filter")
    c.add_argument("--base-dn", dest="base_dn")
    c.add_argument("--port", type=int)
    k = sub.add_parser("call", help="call a /_sim hook")
    k.add_argument("--state-dir", required=True)
    k.add_argument("--port", type=int)
    k.add_argument("--timeout", type=float, default=900, help="seconds to wait for the answer")
    k.add_argument("method")
    k.add_argument("path")
    k.add_argument("json", nargs="?")
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        return cmd_serve(args)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # CLI output piped into head etc.
    if args.cmd == "connect-cycle":
        return cmd_connect_cycle(args)
    return cmd_call(args)


if __name__ == "__main__":
    sys.exit(main())
