#!/usr/bin/python3
"""graphsim's own tests: it must refuse what the real service refuses.

Standard library only. Starts simulators as subprocesses on free ports and
drives them over TLS verified with the simulator's CA, connecting to
127.0.0.1 with the real host name for SNI/verification and in the Host header
(like curl --connect-to).

  /usr/bin/python3 tests/graphsim/test_graphsim.py [-v] [TestClass.test_name]
  LAB_ENV=/path/to/lab/env.sh ... also runs the Connect cycle against the lab AD.
"""
import base64
import email.utils
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable or "/usr/bin/python3"

COM_TID = "11111111-1111-4111-8111-111111111111"
GCCH_TID = "22222222-2222-4222-8222-222222222222"
CN_TID = "33333333-3333-4333-8333-333333333333"
BLK_TID = "44444444-4444-4444-8444-444444444444"
DOD_TID = "55555555-5555-4555-8555-555555555555"
APP = "aaaaaaaa-0000-4000-8000-000000000001"
APP_RO = "aaaaaaaa-0000-4000-8000-000000000002"
APP_GCCH = "aaaaaaaa-0000-4000-8000-000000000003"
APP_CN = "aaaaaaaa-0000-4000-8000-000000000004"
APP_BLK = "aaaaaaaa-0000-4000-8000-000000000005"
APP_DOD = "aaaaaaaa-0000-4000-8000-000000000006"
SECRET = "s3cr3t~value.with+special/chars=="
ALL_ROLES = ["User.Invite.All", "User.ReadWrite.All", "Directory.Read.All", "Organization.Read.All",
             "Domain.Read.All", "Policy.Read.All"]

G = "graph.microsoft.com"
GUS = "graph.microsoft.us"
L = "login.microsoftonline.com"
LUS = "login.microsoftonline.us"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def readf(path):
    with open(path) as f:
        return f.read()


def run(*cmd):
    r = subprocess.run(list(cmd), capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.decode()))
    return r.stdout


def make_cert(d, name):
    key = os.path.join(d, name + ".key")
    pem = os.path.join(d, name + ".pem")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
        "-keyout", key, "-out", pem, "-subj", "/CN=" + name)
    der = run("openssl", "x509", "-in", pem, "-outform", "DER")
    return key, pem, der


def sign_jwt(key, header, claims, alg):
    si = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    with tempfile.NamedTemporaryFile() as f:
        f.write(si.encode())
        f.flush()
        cmd = ["openssl", "dgst", "-sha256", "-sign", key]
        if alg == "PS256":
            cmd += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
        sig = run(*(cmd + [f.name]))
    return si + "." + b64url(sig)


def assertion(key, der, client_id, aud, alg="PS256", thumb="x5t#S256", exp=600, nbf=0, iss=None):
    header = {"alg": alg, "typ": "JWT"}
    if thumb == "x5t#S256":
        header["x5t#S256"] = b64url(hashlib.sha256(der).digest())
    else:
        header["x5t"] = b64url(hashlib.sha1(der).digest())
    now = int(time.time())
    claims = {"aud": aud, "iss": iss or client_id, "sub": iss or client_id, "jti": str(uuid.uuid4()),
              "nbf": now + nbf, "iat": now + nbf, "exp": now + exp}
    return sign_jwt(key, header, claims, alg)


class _Conn(http.client.HTTPSConnection):
    """Connect to 127.0.0.1:port but verify TLS for the real host name (like curl --connect-to)."""

    def __init__(self, host, port, ctx, timeout=30):
        super().__init__(host, 443, context=ctx, timeout=timeout)
        self._real_port = port

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self._real_port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Resp:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


class Sim:
    """A graphsim subprocess."""

    def __init__(self, config, extra=(), name="sim"):
        self.dir = tempfile.mkdtemp(prefix="graphsim-test-%s-" % name)
        self.cfg_path = os.path.join(self.dir, "config.json")
        with open(self.cfg_path, "w") as f:
            json.dump(config, f)
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.state)
        self.out = open(os.path.join(self.dir, "graphsim.out"), "w")
        self.proc = subprocess.Popen([PY, os.path.join(HERE, "graphsim.py"), "serve", "--config", self.cfg_path,
                                      "--state-dir", self.state, "--port", "0"] + list(extra),
                                     stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        pf = os.path.join(self.state, "port")
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("graphsim exited: " + readf(os.path.join(self.dir, "graphsim.out")))
            if os.path.exists(pf) and os.path.getsize(pf) > 0:
                break
            time.sleep(0.05)
        self.port = int(readf(pf))
        self.ca = os.path.join(self.state, "ca.pem")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        while time.time() < deadline:
            try:
                if self.req("GET", "localhost", "/_sim/health").status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        self.tokens = {}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def req(self, method, host, path, body=None, headers=None, form=None, timeout=30):
        c = _Conn(host, self.port, self.ctx, timeout)
        h = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        out = Resp(r.status, r.getheaders(), raw)
        c.close()
        return out

    def hook(self, method, path, body=None):
        r = self.req(method, "localhost", path, body)
        return r

    def token(self, tid=COM_TID, client=APP, secret=SECRET, login=L, scope="https://graph.microsoft.com/.default"):
        key = (tid, client, login, scope)
        if key not in self.tokens:
            r = self.req("POST", login, "/%s/oauth2/v2.0/token" % tid,
                         form={"grant_type": "client_credentials", "client_id": client, "client_secret": secret,
                               "scope": scope})
            assert r.status == 200, r
            self.tokens[key] = r.json["access_token"]
        return self.tokens[key]

    def graph(self, method, path, body=None, token=None, host=G, headers=None, **kw):
        h = {"Authorization": "Bearer " + (token or self.token())}
        h.update(headers or {})
        return self.req(method, host, path, body, h, **kw)

    def mkuser(self, tenant="commercial", **props):
        r = self.hook("POST", "/_sim/%s/users" % tenant, props)
        assert r.status == 201, r
        return r.json

    def log(self, **q):
        r = self.hook("GET", "/_sim/log?" + urllib.parse.urlencode(q))
        return r.json["entries"]


def base_config(d):
    k1, p1, der1 = make_cert(d, "app1")
    k2, p2, der2 = make_cert(d, "app2")
    users = []
    for i in range(250):
        users.append({"userPrincipalName": "page%03d@contoso.example" % i, "displayName": "Page User %03d" % i,
                      "mail": "page%03d@partner.example" % i, "onPremisesSyncEnabled": True,
                      "onPremisesImmutableId": base64.b64encode(uuid.UUID(int=i + 1).bytes_le).decode(),
                      "userType": "Member", "accountEnabled": True})
    cfg = {
        "seed": 1234,
        "max_filter_clauses": 15,
        "tenants": [
            {"name": "commercial", "id": COM_TID, "cloud": "global", "verified_domains": ["contoso.example"],
             "initial_domain": "contosotest.onmicrosoft.com", "guest_invitations_allowed": True,
             "apps": [{"client_id": APP, "secret": SECRET, "certificate": p1, "roles": ALL_ROLES},
                      {"client_id": APP_RO, "secret": SECRET, "roles": ["Directory.Read.All"]}],
             "users": users},
            {"name": "gcch", "id": GCCH_TID, "cloud": "usgov-high", "verified_domains": ["contoso-defense.example"],
             "initial_domain": "contosodef.onmicrosoft.us", "guest_invitations_allowed": True,
             "connect": {"write_onpremises_upn": False},
             "apps": [{"client_id": APP_GCCH, "secret": SECRET, "certificate": p2, "roles": ALL_ROLES,
                       "assertion_algs": ["PS256"]}]},
            {"name": "dod", "id": DOD_TID, "cloud": "usgov-dod", "verified_domains": ["contoso-dod.example"],
             "apps": [{"client_id": APP_DOD, "secret": SECRET, "roles": ALL_ROLES}]},
            {"name": "china", "id": CN_TID, "cloud": "china", "verified_domains": ["contoso.example.cn"],
             "apps": [{"client_id": APP_CN, "secret": SECRET, "roles": ALL_ROLES}]},
            {"name": "blocked", "id": BLK_TID, "cloud": "global", "verified_domains": ["blocked.example"],
             "guest_invitations_allowed": False,
             "apps": [{"client_id": APP_BLK, "secret": SECRET, "roles": ALL_ROLES}]},
        ],
    }
    return cfg, (k1, p1, der1), (k2, p2, der2)


S = None
CERT1 = CERT2 = None
WORK = None


def setUpModule():
    global S, CERT1, CERT2, WORK
    WORK = tempfile.mkdtemp(prefix="graphsim-test-certs-")
    cfg, CERT1, CERT2 = base_config(WORK)
    S = Sim(cfg, name="main")


def tearDownModule():
    if S:
        S.stop()
    shutil.rmtree(WORK, ignore_errors=True)


def synced(**kw):
    """Properties of a user as Connect (with the onPremisesUserPrincipalName rule changed) leaves it."""
    n = uuid.uuid4().hex[:10]
    p = {"userPrincipalName": "u%s@contoso.example" % n, "displayName": "User " + n,
         "mail": "u%s@fabrikam.example" % n, "onPremisesSyncEnabled": True,
         "onPremisesImmutableId": base64.b64encode(uuid.uuid4().bytes_le).decode(),
         "onPremisesSamAccountName": "u" + n, "userType": "Member", "accountEnabled": True,
         "_memberOf": ["group-1", "group-2"]}
    p.update(kw)
    return p


def invite_body(user, **kw):
    b = {"invitedUserEmailAddress": user["mail"], "inviteRedirectUrl": "https://myapps.microsoft.com/?tenantId=" + COM_TID,
         "sendInvitationMessage": False, "invitedUser": {"id": user["id"]}}
    b.update(kw)
    return b


# ===========================================================================
class TokenTests(unittest.TestCase):
    def tok(self, tid=COM_TID, login=L, **form):
        f = {"grant_type": "client_credentials", "client_id": APP, "scope": "https://graph.microsoft.com/.default"}
        f.update(form)
        return S.req("POST", login, "/%s/oauth2/v2.0/token" % tid, form={k: v for k, v in f.items() if v is not None})

    def claims(self, tok):
        return json.loads(base64.urlsafe_b64decode(tok.split(".")[1] + "=="))

    def assertAadError(self, r, status, code, error):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"], error)
        self.assertEqual(r.json["error_codes"], [code])
        self.assertTrue(r.json["error_description"].startswith("AADSTS%d: " % code), r.json)
        for k in ("timestamp", "trace_id", "correlation_id"):
            self.assertIn(k, r.json)

    def test_secret(self):
        r = self.tok(client_secret=SECRET)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["token_type"], "Bearer")
        self.assertTrue(3600 <= r.json["expires_in"] <= 5400)
        c = self.claims(r.json["access_token"])
        self.assertEqual(c["tid"], COM_TID)
        self.assertEqual(c["aud"], "https://graph.microsoft.com")
        self.assertEqual(sorted(c["roles"]), sorted(ALL_ROLES))
        self.assertEqual(c["appid"], APP)
        self.assertGreater(c["exp"], time.time() + 3000)
        self.assertIn("request-id", r.headers)

    def test_secret_by_tenant_domain_and_basic_auth(self):
        basic = base64.b64encode(("%s:%s" % (APP, urllib.parse.quote(SECRET, safe=""))).encode()).decode()
        r = S.req("POST", L, "/contoso.example/oauth2/v2.0/token",
                  form={"grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"},
                  headers={"Authorization": "Basic " + basic})
        self.assertEqual(r.status, 200, r)

    def test_wrong_secret(self):
        self.assertAadError(self.tok(client_secret="nope"), 401, 7000215, "invalid_client")

    def test_secret_plus_not_encoded_is_wrong(self):
        # '+' in a form body reads as a space: the client must URL-encode the secret
        body = ("grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s" % (
            APP, urllib.parse.quote("https://graph.microsoft.com/.default", safe=""), SECRET)).encode()
        r = S.req("POST", L, "/%s/oauth2/v2.0/token" % COM_TID, body=body,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertAadError(r, 401, 7000215, "invalid_client")

    def test_unknown_tenant_client_scope(self):
        self.assertAadError(self.tok(tid=str(uuid.uuid4()), client_secret=SECRET), 400, 90002, "invalid_request")
        self.assertAadError(self.tok(client_id=str(uuid.uuid4()), client_secret=SECRET), 400, 700016,
                            "unauthorized_client")
        self.assertAadError(self.tok(client_secret=SECRET, scope="User.Read"), 400, 1002012, "invalid_scope")
        self.assertAadError(self.tok(client_secret=SECRET, grant_type=None), 400, 900144, "invalid_request")
        self.assertAadError(self.tok(client_secret=None), 401, 7000218, "invalid_client")

    def test_cross_cloud(self):
        # a GCC High tenant at the commercial login host fails as the real service does
        self.assertAadError(self.tok(tid=GCCH_TID, client_id=APP_GCCH, client_secret=SECRET,
                                     scope="https://graph.microsoft.us/.default"), 400, 900382, "invalid_request")
        # and a commercial tenant at the US Gov login host
        self.assertAadError(self.tok(tid=COM_TID, login=LUS, client_secret=SECRET), 400, 900382, "invalid_request")
        # a commercial tenant asking for the US Gov Graph resource
        self.assertAadError(self.tok(client_secret=SECRET, scope="https://graph.microsoft.us/.default"), 400,
                            500011, "invalid_resource")
        # the right way
        r = self.tok(tid=GCCH_TID, login=LUS, client_id=APP_GCCH, client_secret=SECRET,
                     scope="https://graph.microsoft.us/.default")
        self.assertEqual(r.status, 200, r)
        gtok = r.json["access_token"]
        self.assertEqual(self.claims(gtok)["aud"], "https://graph.microsoft.us")
        self.assertEqual(S.graph("GET", "/v1.0/organization", token=gtok, host=GUS).status, 200)
        # a GCC High token is not valid at graph.microsoft.com, nor at dod-graph
        r = S.graph("GET", "/v1.0/organization", token=gtok, host=G)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json["error"]["code"], "InvalidAuthenticationToken")
        self.assertEqual(S.graph("GET", "/v1.0/organization", token=gtok, host="dod-graph.microsoft.us").status, 401)
        # a commercial token is not valid at graph.microsoft.us
        self.assertEqual(S.graph("GET", "/v1.0/organization", host=GUS).status, 401)
        # DoD and China
        dtok = S.token(DOD_TID, APP_DOD, login=LUS, scope="https://dod-graph.microsoft.us/.default")
        self.assertEqual(S.graph("GET", "/v1.0/organization", token=dtok, host="dod-graph.microsoft.us").status, 200)
        for login in ("login.chinacloudapi.cn", "login.partner.microsoftonline.cn"):
            r = self.tok(tid=CN_TID, login=login, client_id=APP_CN, client_secret=SECRET,
                         scope="https://microsoftgraph.chinacloudapi.cn/.default")
            self.assertEqual(r.status, 200, r)
        self.assertAadError(self.tok(tid=CN_TID, client_id=APP_CN, client_secret=SECRET), 400, 900382,
                            "invalid_request")

    def _assert_ok(self, a, **kw):
        r = self.tok(client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                     client_assertion=a, **kw)
        return r

    def test_certificate_ps256_and_rs256(self):
        key, _, der = CERT1
        aud = "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % COM_TID
        r = self._assert_ok(assertion(key, der, APP, aud, "PS256", "x5t#S256"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.claims(r.json["access_token"])["appidacr"], "2")
        r = self._assert_ok(assertion(key, der, APP, aud, "RS256", "x5t"))
        self.assertEqual(r.status, 200, r)
        # GCC High: aud is that cloud's token URL
        k2, _, der2 = CERT2
        aud_us = "https://login.microsoftonline.us/%s/oauth2/v2.0/token" % GCCH_TID
        r = self.tok(tid=GCCH_TID, login=LUS, client_id=APP_GCCH, scope="https://graph.microsoft.us/.default",
                     client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                     client_assertion=assertion(k2, der2, APP_GCCH, aud_us))
        self.assertEqual(r.status, 200, r)
        # a tenant configured to accept PS256 only refuses RS256 + x5t
        r = self.tok(tid=GCCH_TID, login=LUS, client_id=APP_GCCH, scope="https://graph.microsoft.us/.default",
                     client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                     client_assertion=assertion(k2, der2, APP_GCCH, aud_us, "RS256", "x5t"))
        self.assertAadError(r, 401, 5002738, "invalid_client")

    def test_certificate_refusals(self):
        key, _, der = CERT1
        k2, _, der2 = CERT2
        aud = "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % COM_TID
        # wrong audience (the US Gov host's token URL)
        r = self._assert_ok(assertion(key, der, APP, aud.replace(".com/", ".us/")))
        self.assertAadError(r, 401, 700023, "invalid_client")
        # expired
        r = self._assert_ok(assertion(key, der, APP, aud, exp=-3600, nbf=-4000))
        self.assertAadError(r, 401, 700024, "invalid_client")
        # not yet valid
        r = self._assert_ok(assertion(key, der, APP, aud, exp=7200, nbf=3600))
        self.assertAadError(r, 401, 700024, "invalid_client")
        # the service's clock 15 minutes ahead: an assertion made on the
        # host's clock is outside its window, one on the service's is fine,
        # and the Date header shows the service's clock
        S.hook("POST", "/_sim/faults", {"clock_offset_seconds": 900})
        try:
            r = self._assert_ok(assertion(key, der, APP, aud))
            self.assertAadError(r, 401, 700024, "invalid_client")
            date = email.utils.parsedate_to_datetime(r.headers["date"]).timestamp()
            self.assertAlmostEqual(date - time.time(), 900, delta=5)
            r = self._assert_ok(assertion(key, der, APP, aud, exp=1500, nbf=900))
            self.assertEqual(r.status, 200, r)
        finally:
            S.hook("POST", "/_sim/faults", {"reset": True})
        # thumbprint of a certificate that is not registered for the app
        r = self._assert_ok(assertion(k2, der2, APP, aud))
        self.assertAadError(r, 401, 700027, "invalid_client")
        self.assertIn("The key was not found", r.json["error_description"])
        # registered thumbprint, signed by another key
        a = assertion(k2, der, APP, aud)
        r = self._assert_ok(a)
        self.assertAadError(r, 401, 700027, "invalid_client")
        self.assertIn("did not match", r.json["error_description"])
        # tampered claims
        h, c, s = assertion(key, der, APP, aud).split(".")
        claims = json.loads(base64.urlsafe_b64decode(c + "=="))
        claims["exp"] += 1
        r = self._assert_ok(h + "." + b64url(json.dumps(claims).encode()) + "." + s)
        self.assertAadError(r, 401, 700027, "invalid_client")
        # PS256 signature claimed as RS256
        sig_ps = assertion(key, der, APP, aud, alg="PS256")
        hh = json.loads(base64.urlsafe_b64decode(sig_ps.split(".")[0] + "=="))
        hh["alg"] = "RS256"
        r = self._assert_ok(b64url(json.dumps(hh).encode()) + "." + ".".join(sig_ps.split(".")[1:]))
        self.assertAadError(r, 401, 700027, "invalid_client")
        # iss/sub of another client
        r = self._assert_ok(assertion(key, der, APP, aud, iss=APP_RO))
        self.assertAadError(r, 401, 700021, "invalid_client")
        # no thumbprint
        r = self._assert_ok(sign_jwt(key, {"alg": "PS256", "typ": "JWT"},
                                     {"aud": aud, "iss": APP, "sub": APP, "exp": int(time.time()) + 600}, "PS256"))
        self.assertAadError(r, 400, 5002723, "invalid_request")
        # garbage
        self.assertAadError(self._assert_ok("not.a.jwt"), 400, 50027, "invalid_request")


# ===========================================================================
class GraphBasicsTests(unittest.TestCase):
    def assertGraphError(self, r, status, code, message=None):
        self.assertEqual(r.status, status, r)
        e = r.json["error"]
        self.assertEqual(e["code"], code, r)
        if message is not None:
            self.assertIn(message, e["message"])
        inner = e["innerError"]
        self.assertEqual(inner["request-id"], r.headers["request-id"])
        self.assertEqual(inner["client-request-id"], r.headers["client-request-id"])
        self.assertIn("date", inner)

    def test_no_token_and_request_ids(self):
        r = S.req("GET", G, "/v1.0/users", headers={"client-request-id": "abc-123"})
        self.assertGraphError(r, 401, "InvalidAuthenticationToken", "Access token is empty.")
        self.assertEqual(r.headers["client-request-id"], "abc-123")
        r = S.graph("GET", "/v1.0/users?$top=1", headers={"client-request-id": "def-456"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["client-request-id"], "def-456")
        uuid.UUID(r.headers["request-id"])

    def test_expired_and_revoked_token(self):
        h, c, s = S.token().split(".")
        claims = json.loads(base64.urlsafe_b64decode(c + "=="))
        claims["exp"] = int(time.time()) - 10
        forged = h + "." + b64url(json.dumps(claims).encode()) + "." + s
        self.assertGraphError(S.graph("GET", "/v1.0/users", token=forged), 401, "InvalidAuthenticationToken")

    def test_insufficient_privileges(self):
        ro = S.token(client=APP_RO)
        self.assertEqual(S.graph("GET", "/v1.0/users?$top=1", token=ro).status, 200)
        u = S.mkuser(**synced())
        self.assertGraphError(S.graph("PATCH", "/v1.0/users/" + u["id"], {"userType": "Guest"}, token=ro),
                              403, "Authorization_RequestDenied")
        self.assertGraphError(S.graph("POST", "/v1.0/invitations", invite_body(u), token=ro),
                              403, "Authorization_RequestDenied")
        # Directory.Read.All covers organization and domains, not the authorization policy
        self.assertEqual(S.graph("GET", "/v1.0/organization", token=ro).status, 200)
        self.assertGraphError(S.graph("GET", "/v1.0/policies/authorizationPolicy", token=ro),
                              403, "Authorization_RequestDenied")

    def test_select_unknown_property(self):
        r = S.graph("GET", "/v1.0/users?$select=id,notAProperty")
        self.assertGraphError(r, 400, "Request_BadRequest",
                              "Could not find a property named 'notAProperty' on type 'Microsoft.DirectoryServices.User'.")
        r = S.graph("GET", "/v1.0/users?$select=id,onPremisesImmutableId,externalUserState&$top=5")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["@odata.context"].endswith("#users(id,onPremisesImmutableId,externalUserState)"))
        for u in r.json["value"]:
            self.assertEqual(set(u), {"id", "onPremisesImmutableId", "externalUserState"})
        # case-insensitive names come back canonical
        r = S.graph("GET", "/v1.0/users?$select=ID,DisplayName&$top=1")
        self.assertEqual(set(r.json["value"][0]), {"id", "displayName"})

    def test_default_properties(self):
        r = S.graph("GET", "/v1.0/users?$top=1")
        self.assertEqual(set(r.json["value"][0]), {"businessPhones", "displayName", "givenName", "id", "jobTitle",
                                                   "mail", "mobilePhone", "officeLocation", "preferredLanguage",
                                                   "surname", "userPrincipalName"})

    def test_only_metadata_properties_per_cloud(self):
        # user.print exists in the global and US Gov metadata but not in China's
        self.assertEqual(S.graph("GET", "/v1.0/users?$select=id,print&$top=1").status, 200)
        ctok = S.token(CN_TID, APP_CN, login="login.chinacloudapi.cn",
                       scope="https://microsoftgraph.chinacloudapi.cn/.default")
        r = S.graph("GET", "/v1.0/users?$select=id,print", token=ctok, host="microsoftgraph.chinacloudapi.cn")
        self.assertGraphError(r, 400, "Request_BadRequest")
        # organization.defaultUsageLocation only in the global metadata
        self.assertEqual(S.graph("GET", "/v1.0/organization?$select=defaultUsageLocation").status, 200)
        gtok = S.token(GCCH_TID, APP_GCCH, login=LUS, scope="https://graph.microsoft.us/.default")
        self.assertEqual(S.graph("GET", "/v1.0/organization?$select=defaultUsageLocation", token=gtok, host=GUS).status, 400)
        # every property returned is a property of the metadata
        sys.path.insert(0, HERE)
        import gs_metadata
        md = gs_metadata.load("v1.0-global.xml")
        u = S.mkuser(**synced())
        full = S.graph("GET", "/v1.0/users/%s?$select=%s" % (u["id"], ",".join(md.structural_names("user"))))
        self.assertEqual(full.status, 200, full)
        for k in full.json:
            if not k.startswith("@"):
                self.assertTrue(md.is_structural("user", k), k)
        org = S.graph("GET", "/v1.0/organization").json["value"][0]
        for k in org:
            self.assertTrue(md.is_structural("organization", k), k)
        for d in S.graph("GET", "/v1.0/domains").json["value"]:
            for k in d:
                self.assertTrue(md.is_structural("domain", k), k)

    def test_filter(self):
        u = S.mkuser(**synced(onPremisesImmutableId="ab+c/dE0fGhIjKlMnOpQrSw=="))
        imm = u["onPremisesImmutableId"]
        q = urllib.parse.quote("onPremisesImmutableId eq '%s'" % imm, safe="")
        r = S.graph("GET", "/v1.0/users?$filter=%s&$select=id" % q)
        self.assertEqual([x["id"] for x in r.json["value"]], [u["id"]])
        # an unencoded '+' reads as a space: no match (reference 2.2)
        r = S.graph("GET", "/v1.0/users?$filter=onPremisesImmutableId%%20eq%%20'%s'&$select=id" % imm.replace("/", "%2F").replace("=", "%3D"))
        self.assertEqual(r.json["value"], [])
        # in (...)
        f = "onPremisesImmutableId in ('%s','nothing')" % imm
        r = S.graph("GET", "/v1.0/users?$filter=" + urllib.parse.quote(f, safe=""))
        self.assertEqual(len(r.json["value"]), 1)
        # startswith on UPN, eq on userType and externalUserState, identities lambda
        for f in ("startswith(userPrincipalName,'%s')" % u["userPrincipalName"][:8],
                  "userType eq 'Member' and onPremisesSyncEnabled eq true and mail eq '%s'" % u["mail"],
                  "identities/any(i:i/issuer eq 'contosotest.onmicrosoft.com') and id eq '%s'" % u["id"]):
            r = S.graph("GET", "/v1.0/users?$select=id&$filter=" + urllib.parse.quote(f, safe=""))
            self.assertEqual(r.status, 200, (f, r))
            self.assertIn(u["id"], [x["id"] for x in r.json["value"]], f)
        # unsupported at all
        for f in ("onPremisesDistinguishedName eq 'CN=x'", "externalUserState eq null",
                  "onPremisesImmutableId eq null", "onPremisesDomainName eq 'corp.example.test'"):
            r = S.graph("GET", "/v1.0/users?$filter=" + urllib.parse.quote(f, safe=""))
            self.assertGraphError(r, 400, "Request_UnsupportedQuery")
        # advanced only: refused without ConsistencyLevel + $count, accepted with them
        for f in ("onPremisesSamAccountName eq '%s'" % u["onPremisesSamAccountName"],
                  "userType ne 'Guest' and id eq '%s'" % u["id"], "endswith(mail,'@fabrikam.example')",
                  "onPremisesExtensionAttributes/extensionAttribute1 eq null and id eq '%s'" % u["id"]):
            q = urllib.parse.quote(f, safe="")
            r = S.graph("GET", "/v1.0/users?$filter=" + q)
            self.assertGraphError(r, 400, "Request_UnsupportedQuery", "Unsupported Query.")
            r = S.graph("GET", "/v1.0/users?$count=true&$select=id&$filter=" + q, headers={"ConsistencyLevel": "eventual"})
            self.assertEqual(r.status, 200, (f, r))
            self.assertIn(u["id"], [x["id"] for x in r.json["value"]])
            self.assertIn("@odata.count", r.json)
        # $count without ConsistencyLevel
        self.assertGraphError(S.graph("GET", "/v1.0/users?$count=true"), 400, "Request_BadRequest")
        # unknown property, syntax error, type mismatch, too many values
        self.assertGraphError(S.graph("GET", "/v1.0/users?$filter=" + urllib.parse.quote("bogus eq 'x'")),
                              400, "Request_BadRequest", "Could not find a property named 'bogus'")
        self.assertGraphError(S.graph("GET", "/v1.0/users?$filter=" + urllib.parse.quote("mail eq 'x")), 400, "BadRequest")
        self.assertGraphError(S.graph("GET", "/v1.0/users?$filter=" + urllib.parse.quote("accountEnabled eq 'true'")),
                              400, "BadRequest", "incompatible types")
        many = "id in (%s)" % ",".join("'%s'" % uuid.uuid4() for _ in range(16))
        self.assertGraphError(S.graph("GET", "/v1.0/users?$filter=" + urllib.parse.quote(many)), 400,
                              "Request_UnsupportedQuery", "Max allowed: 15")
        # duplicate and unknown query options
        self.assertEqual(S.graph("GET", "/v1.0/users?$top=1&$top=2").status, 400)
        self.assertEqual(S.graph("GET", "/v1.0/users?$bogus=1").status, 400)
        self.assertGraphError(S.graph("GET", "/v1.0/users?$skip=10"), 400, "Request_BadRequest")

    def test_top_limits(self):
        self.assertGraphError(S.graph("GET", "/v1.0/users?$top=1000"), 400, "Request_BadRequest",
                              "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.")
        self.assertEqual(S.graph("GET", "/v1.0/users?$top=0").status, 400)
        r = S.graph("GET", "/v1.0/users?$top=999&$select=id")
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(len(r.json["value"]), 250)

    def test_paging(self):
        seen = []
        url = "/v1.0/users?$select=id,userPrincipalName&$top=100&$filter=" + urllib.parse.quote(
            "startswith(userPrincipalName,'page')", safe="")
        pages = 0
        while url:
            r = S.graph("GET", url)
            self.assertEqual(r.status, 200, r)
            pages += 1
            seen += [u["id"] for u in r.json["value"]]
            nxt = r.json.get("@odata.nextLink")
            if nxt:
                p = urllib.parse.urlsplit(nxt)
                self.assertEqual(p.netloc, G)
                self.assertIn("$skiptoken=", nxt)
                self.assertIn("$select=id,userPrincipalName", urllib.parse.unquote(nxt))
                url = p.path + "?" + p.query
            else:
                url = None
        self.assertEqual(pages, 3)
        self.assertEqual(len(seen), 250)
        # a nextLink can be replayed (a client retrying after a dropped connection)
        r1 = S.graph("GET", "/v1.0/users?$select=id&$top=10")
        p = urllib.parse.urlsplit(r1.json["@odata.nextLink"])
        a = S.graph("GET", p.path + "?" + p.query).json["value"]
        b = S.graph("GET", p.path + "?" + p.query).json["value"]
        self.assertEqual(a, b)
        self.assertEqual(len(a), 10)
        self.assertEqual(len(set(seen)), 250)
        r = S.graph("GET", "/v1.0/users?$skiptoken=bogus")
        self.assertGraphError(r, 400, "Directory_ExpiredPageToken")
        # default page size 100
        r = S.graph("GET", "/v1.0/users")
        self.assertEqual(len(r.json["value"]), 100)
        self.assertIn("@odata.nextLink", r.json)

    def test_get_user_by_id_and_upn(self):
        u = S.mkuser(**synced())
        for ref in (u["id"], u["userPrincipalName"], urllib.parse.quote(u["userPrincipalName"])):
            r = S.graph("GET", "/v1.0/users/%s?$select=id,userType,externalUserState,onPremisesSyncEnabled,mail" % ref)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["id"], u["id"])
            self.assertIsNone(r.json["externalUserState"])
            self.assertTrue(r.json["@odata.context"].endswith("/$entity"))
        r = S.graph("GET", "/v1.0/users/" + str(uuid.uuid4()))
        self.assertGraphError(r, 404, "Request_ResourceNotFound")

    def test_patch(self):
        u = S.mkuser(**synced())
        r = S.graph("PATCH", "/v1.0/users/" + u["id"], {"userType": "Guest"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        self.assertEqual(S.graph("GET", "/v1.0/users/%s?$select=userType" % u["id"]).json["userType"], "Guest")
        self.assertEqual(S.graph("PATCH", "/v1.0/users/" + u["id"], {"userType": "Member"}).status, 204)
        self.assertGraphError(S.graph("PATCH", "/v1.0/users/" + u["id"], {"userType": "External"}), 400,
                              "Request_BadRequest", "Invalid value specified for property 'userType'")
        self.assertGraphError(S.graph("PATCH", "/v1.0/users/" + u["id"], {"userType": True}), 400, "BadRequest")
        # synced-authority attributes are refused for a synced user
        for body in ({"mail": "x@fabrikam.example"}, {"displayName": "X"}, {"userType": "Guest", "department": "D"},
                     {"onPremisesExtensionAttributes": {"extensionAttribute1": "x"}}):
            self.assertGraphError(S.graph("PATCH", "/v1.0/users/" + u["id"], body), 400, "Request_BadRequest",
                                  "Unable to update the specified properties for on-premises mastered Directory Sync objects")
        self.assertGraphError(S.graph("PATCH", "/v1.0/users/" + u["id"], {"notAProperty": 1}), 400,
                              "Request_BadRequest", "Property 'notAProperty' does not exist")
        self.assertGraphError(S.graph("PATCH", "/v1.0/users/" + u["id"], {"externalUserState": "Accepted"}), 400,
                              "Request_BadRequest", "read-only")
        self.assertGraphError(S.graph("PATCH", "/v1.0/users/" + u["id"], b"{not json"), 400, "BadRequest")
        r = S.graph("PATCH", "/v1.0/users/" + u["id"], b'{"userType":"Guest"}', headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415)
        # a cloud user's displayName can change
        c = S.mkuser(userPrincipalName="cloud%s@contoso.example" % uuid.uuid4().hex[:6], displayName="C")
        self.assertEqual(S.graph("PATCH", "/v1.0/users/" + c["id"], {"displayName": "Cloud"}).status, 204)

    def test_organization_domains_policy(self):
        r = S.graph("GET", "/v1.0/organization?$select=id,onPremisesSyncEnabled,onPremisesLastSyncDateTime,verifiedDomains")
        self.assertEqual(r.status, 200, r)
        org = r.json["value"][0]
        self.assertEqual(org["id"], COM_TID)
        names = {d["name"]: d for d in org["verifiedDomains"]}
        self.assertTrue(names["contosotest.onmicrosoft.com"]["isInitial"])
        self.assertIn("contoso.example", names)
        self.assertEqual(S.graph("GET", "/v1.0/organization/" + COM_TID).json["id"], COM_TID)
        d = S.graph("GET", "/v1.0/domains").json["value"]
        self.assertEqual({x["id"] for x in d}, {"contoso.example", "contosotest.onmicrosoft.com"})
        self.assertTrue(all(x["isVerified"] for x in d))
        self.assertEqual(S.graph("GET", "/v1.0/domains/contoso.example?$select=id,isDefault").json,
                         {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#domains(id,isDefault)/$entity",
                          "id": "contoso.example", "isDefault": True})
        p = S.graph("GET", "/v1.0/policies/authorizationPolicy").json
        self.assertEqual(p["allowInvitesFrom"], "everyone")

    def test_unknown_routes(self):
        self.assertEqual(S.graph("GET", "/v2.0/users").status, 400)
        self.assertGraphError(S.graph("GET", "/v1.0/nothing"), 400, "BadRequest", "Resource not found for the segment 'nothing'.")
        self.assertEqual(S.graph("DELETE", "/v1.0/invitations").status, 405)


# ===========================================================================
class InvitationTests(unittest.TestCase):
    def err(self, r, status, code=None, msg=None):
        self.assertEqual(r.status, status, r)
        if code:
            self.assertEqual(r.json["error"]["code"], code, r)
        if msg:
            self.assertIn(msg, r.json["error"]["message"])

    def test_success_path_and_redeem(self):
        u = S.mkuser(**synced())
        t0 = time.time()
        r = S.graph("POST", "/v1.0/invitations", invite_body(u, invitedUserMessageInfo={"customizedMessageBody": "hi"}))
        self.assertEqual(r.status, 201, r)
        inv = r.json
        self.assertEqual(inv["invitedUser"], {"id": u["id"]})
        self.assertEqual(inv["status"], "PendingAcceptance")
        self.assertEqual(inv["invitedUserEmailAddress"], u["mail"])
        self.assertEqual(inv["invitedUserType"], "Guest")
        self.assertFalse(inv["resetRedemption"])
        self.assertTrue(inv["inviteRedeemUrl"].startswith("https://login.microsoftonline.com/redeem"))
        self.assertTrue(inv["@odata.context"].endswith("$metadata#invitations/$entity"))
        sys.path.insert(0, HERE)
        import gs_metadata
        md = gs_metadata.load("v1.0-global.xml")
        for k in inv:
            if not k.startswith("@"):
                self.assertIsNotNone(md.canonical("invitation", k), k)
        g = S.graph("GET", "/v1.0/users/%s?$select=id,userType,userPrincipalName,externalUserState,externalUserStateChangeDateTime,identities" % u["id"]).json
        self.assertEqual(g["externalUserState"], "PendingAcceptance")
        self.assertIsNotNone(g["externalUserStateChangeDateTime"])
        self.assertEqual(g["userType"], "Member")                 # the invitation keeps userType
        self.assertEqual(g["userPrincipalName"], u["userPrincipalName"])   # and UPN, id
        self.assertFalse(any(i["signInType"] == "federated" for i in g["identities"]))
        dump = S.hook("GET", "/_sim/commercial/users/" + u["id"]).json
        self.assertEqual(dump["_sim"]["memberOf"], ["group-1", "group-2"])   # memberships kept
        # redeem
        r = S.hook("POST", "/_sim/commercial/redeem/" + u["id"], {})
        self.assertEqual(r.status, 200, r)
        g = S.graph("GET", "/v1.0/users/%s?$select=externalUserState,identities,userType" % u["id"]).json
        self.assertEqual(g["externalUserState"], "Accepted")
        self.assertIn({"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": None}, g["identities"])
        self.assertEqual(g["userType"], "Member")
        # inviting again without resetRedemption is refused; with it, back to pending
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(u)), 400, "BadRequest")
        r = S.graph("POST", "/v1.0/invitations", invite_body(u, resetRedemption=True))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(S.graph("GET", "/v1.0/users/%s?$select=externalUserState" % u["id"]).json["externalUserState"],
                         "PendingAcceptance")
        # the request log shows each invitation with invitedUser.id
        inv_log = [e for e in S.log(path="invitations") if (e.get("body") or {}).get("invitedUser.id") == u["id"]]
        self.assertEqual([e["status"] for e in inv_log], [201, 400, 201])

    def test_refusals(self):
        # onPremisesUserPrincipalName set (Connect's default rule)
        u = S.mkuser(**synced(onPremisesUserPrincipalName="someone@corp.example.test"))
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(u)), 400, "BadRequest", "onPremisesUserPrincipalName")
        # mail missing
        u = S.mkuser(**synced(mail=None))
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(dict(u, mail="x@fabrikam.example"))), 400,
                 "BadRequest", "mail")
        # mail in a verified domain (also a subdomain, also the initial domain)
        for m in ("a@contoso.example", "a@eu.contoso.example", "a@contosotest.onmicrosoft.com"):
            u = S.mkuser(**synced(mail=m))
            self.err(S.graph("POST", "/v1.0/invitations", invite_body(u)), 400, "BadRequest",
                     "User's email address cannot be in a verified domain")
        # invitedUserEmailAddress not equal to mail
        u = S.mkuser(**synced())
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(u, invitedUserEmailAddress="other@fabrikam.example")),
                 400, "BadRequest", "must match")
        # no invitedUser.id: the service tries to create a guest and finds the user
        b = invite_body(u)
        del b["invitedUser"]
        self.err(S.graph("POST", "/v1.0/invitations", b), 400, "BadRequest",
                 "The invited user already exists in the directory as objectID: %s" % u["id"])
        b["invitedUser"] = {}
        self.err(S.graph("POST", "/v1.0/invitations", b), 400, "BadRequest", "already exists")
        # nothing changed by the refusals
        self.assertIsNone(S.graph("GET", "/v1.0/users/%s?$select=externalUserState" % u["id"]).json["externalUserState"])
        # a user converted back to internal before: 412
        c = S.mkuser(**synced())
        S.hook("PATCH", "/_sim/commercial/users/" + c["id"], {"_convertedToInternal": "2025-01-01T00:00:00Z"})
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(c)), 412)
        # unknown user, unknown property, bad email, missing redirect
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(dict(u, id=str(uuid.uuid4())))), 404)
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(u, bogus=1)), 400, "BadRequest", "does not exist")
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(u, invitedUserEmailAddress="a,b@fabrikam.example")),
                 400, "BadRequest")
        b = invite_body(u)
        del b["inviteRedirectUrl"]
        self.err(S.graph("POST", "/v1.0/invitations", b), 400, "BadRequest", "inviteRedirectUrl")
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(u, sendInvitationMessage="yes")), 400, "BadRequest")
        self.assertIsNone(S.graph("GET", "/v1.0/users/%s?$select=externalUserState" % u["id"]).json["externalUserState"])

    def test_new_guest_without_id(self):
        addr = "new%s@elsewhere.example" % uuid.uuid4().hex[:6]
        r = S.graph("POST", "/v1.0/invitations", {"invitedUserEmailAddress": addr,
                                                   "inviteRedirectUrl": "https://myapps.microsoft.com"})
        self.assertEqual(r.status, 201, r)
        g = S.graph("GET", "/v1.0/users/%s?$select=userPrincipalName,userType,creationType,externalUserState" % r.json["invitedUser"]["id"]).json
        self.assertEqual(g["userType"], "Guest")
        self.assertEqual(g["creationType"], "Invitation")
        self.assertIn("#EXT#@contosotest.onmicrosoft.com", g["userPrincipalName"])

    def test_invitations_blocked(self):
        # tenant policy: guest invitations not allowed
        btok = S.token(BLK_TID, APP_BLK)
        S.mkuser("blocked", **synced())
        u = S.mkuser("blocked", **synced())
        r = S.graph("POST", "/v1.0/invitations", invite_body(u), token=btok)
        self.err(r, 403, None, "Guest invitations not allowed")
        # the "suspicious activity" switch
        u = S.mkuser(**synced())
        try:
            self.assertEqual(S.hook("POST", "/_sim/faults", {"invitations_blocked": True}).status, 200)
            self.err(S.graph("POST", "/v1.0/invitations", invite_body(u)), 403, None,
                     "Invitations are blocked for this directory due to suspicious activity")
        finally:
            S.hook("POST", "/_sim/faults", {"reset": True})
        self.assertEqual(S.graph("POST", "/v1.0/invitations", invite_body(u)).status, 201)

    def test_block_after_n(self):
        try:
            S.hook("POST", "/_sim/faults", {"reset": True})
            S.hook("POST", "/_sim/faults", {"invitations_block_after": 2, "tenants": ["commercial"]})
            users = [S.mkuser(**synced()) for _ in range(3)]
            st = [S.graph("POST", "/v1.0/invitations", invite_body(u)).status for u in users]
            self.assertEqual(st, [201, 201, 403])
        finally:
            S.hook("POST", "/_sim/faults", {"reset": True})

    def test_convert_external_to_internal(self):
        u = S.mkuser(**synced())
        conv = "/beta/users/%s/convertExternalToInternalMemberUser" % u["id"]
        # not external yet
        self.err(S.graph("POST", conv, {}), 400, "BadRequest", "already internal")
        self.assertEqual(S.graph("POST", "/v1.0/invitations", invite_body(u)).status, 201)
        self.err(S.graph("POST", conv, {}), 400, "BadRequest", "already internal")    # pending: still internal auth
        S.hook("POST", "/_sim/commercial/redeem/" + u["id"], {})
        # synced users: no UPN / password in the body
        self.err(S.graph("POST", conv, {"userPrincipalName": "x@contoso.example"}), 400, "BadRequest",
                 "must be empty")
        self.err(S.graph("POST", conv, {"bogus": 1}), 400, "BadRequest")
        self.assertEqual(S.graph("POST", "/v1.0/users/%s/convertExternalToInternalMemberUser" % u["id"], {}).status, 400)
        r = S.graph("POST", conv, {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(k for k in r.json if not k.startswith("@")),
                         {"displayName", "userPrincipalName", "convertedToInternalUserDateTime", "mail"})
        g = S.graph("GET", "/v1.0/users/%s?$select=externalUserState,identities" % u["id"]).json
        self.assertIsNone(g["externalUserState"])
        self.assertFalse(any(i["signInType"] == "federated" for i in g["identities"]))
        # a user converted back cannot be invited again
        self.err(S.graph("POST", "/v1.0/invitations", invite_body(u)), 412)
        # a cloud user needs UPN and password profile
        c = S.mkuser(userPrincipalName="c%s@contoso.example" % uuid.uuid4().hex[:6], mail="c@elsewhere.example",
                     externalUserState="Accepted",
                     identities=[{"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": None}])
        cc = "/beta/users/%s/convertExternalToInternalMemberUser" % c["id"]
        self.err(S.graph("POST", cc, {}), 400)
        r = S.graph("POST", cc, {"userPrincipalName": "c2%s@contoso.example" % uuid.uuid4().hex[:6],
                                 "passwordProfile": {"password": "Xx1!" + uuid.uuid4().hex,
                                                     "forceChangePasswordNextSignIn": True}})
        self.assertEqual(r.status, 200, r)


# ===========================================================================
class BatchTests(unittest.TestCase):
    def test_batch(self):
        users = [S.mkuser(**synced()) for _ in range(3)]
        reqs = [{"id": str(i), "method": "GET", "url": "/users/%s?$select=id,externalUserState" % users[i % 3]["id"]}
                for i in range(18)]
        reqs.append({"id": "inv", "method": "POST", "url": "/invitations", "headers": {"Content-Type": "application/json"},
                     "body": invite_body(users[0])})
        reqs.append({"id": "pt", "method": "PATCH", "url": "users/" + users[1]["id"],
                     "headers": {"Content-Type": "application/json"}, "body": {"userType": "Guest"}})
        r = S.graph("POST", "/v1.0/$batch", {"requests": reqs})
        self.assertEqual(r.status, 200, r)
        resp = r.json["responses"]
        self.assertEqual(sorted(x["id"] for x in resp), sorted(x["id"] for x in reqs))
        self.assertNotEqual([x["id"] for x in resp], [x["id"] for x in reqs], "order should be shuffled")
        by = {x["id"]: x for x in resp}
        self.assertEqual(by["inv"]["status"], 201)
        self.assertEqual(by["inv"]["body"]["invitedUser"]["id"], users[0]["id"])
        self.assertEqual(by["pt"]["status"], 204)
        self.assertEqual(by["0"]["status"], 200)
        self.assertEqual(by["0"]["body"]["id"], users[0]["id"])
        self.assertIn("x-ms-resource-unit", by["0"]["headers"])
        # the items are in the request log, each with its own entry
        items = [e for e in S.log() if e.get("batch_request_id") == r.headers["request-id"]]
        self.assertEqual(len(items), 20)
        self.assertEqual(len({e["request_id"] for e in items}), 20)
        inv = [e for e in items if e["batch_item_id"] == "inv"][0]
        self.assertEqual((inv["path"], inv["status"], inv["body"]["invitedUser.id"]), ("/invitations", 201, users[0]["id"]))

    def test_batch_limits_and_errors(self):
        reqs = [{"id": str(i), "method": "GET", "url": "/organization"} for i in range(21)]
        r = S.graph("POST", "/v1.0/$batch", {"requests": reqs})
        self.assertEqual(r.status, 400, r)
        r = S.graph("POST", "/v1.0/$batch", {"requests": [{"id": "1", "method": "GET", "url": "/organization"},
                                                         {"id": "1", "method": "GET", "url": "/organization"}]})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(S.graph("POST", "/v1.0/$batch", b"{bad").status, 400)
        u = S.mkuser(**synced())
        r = S.graph("POST", "/v1.0/$batch", {"requests": [
            {"id": "a", "method": "PATCH", "url": "/users/" + u["id"], "body": {"userType": "Guest"}},
            {"id": "b", "method": "GET", "url": "/users/" + str(uuid.uuid4())},
            {"id": "c", "method": "GET", "url": "/organization", "dependsOn": ["b"]},
            {"id": "d", "method": "GET", "url": "https://graph.microsoft.com/v1.0/organization"},
            {"id": "e", "method": "GET", "url": "/users?$select=bogus"},
        ]})
        self.assertEqual(r.status, 200, r)
        by = {x["id"]: x for x in r.json["responses"]}
        self.assertEqual(by["a"]["status"], 400)
        self.assertIn("Content-Type", by["a"]["body"]["error"]["message"])
        self.assertEqual(by["b"]["status"], 404)
        self.assertEqual(by["c"]["status"], 424)
        self.assertEqual(by["d"]["status"], 400)
        self.assertEqual(by["e"]["status"], 400)
        self.assertEqual(by["e"]["body"]["error"]["code"], "Request_BadRequest")
        self.assertEqual(S.graph("GET", "/v1.0/users/%s?$select=userType" % u["id"]).json["userType"], "Member")


# ===========================================================================
class DeltaTests(unittest.TestCase):
    def round(self, url, headers=None):
        items = []
        pages = 0
        while True:
            r = S.graph("GET", url, headers=headers)
            self.assertEqual(r.status, 200, r)
            pages += 1
            items += r.json["value"]
            if "@odata.nextLink" in r.json:
                p = urllib.parse.urlsplit(r.json["@odata.nextLink"])
                url = p.path + "?" + p.query
                self.assertNotIn("@odata.deltaLink", r.json)
                continue
            p = urllib.parse.urlsplit(r.json["@odata.deltaLink"])
            return items, p.path + "?" + p.query, pages

    def test_delta(self):
        items, link, pages = self.round("/v1.0/users/delta?$select=id,userType,externalUserState,mail",
                                        headers={"Prefer": "odata.maxpagesize=100"})
        self.assertGreater(pages, 1)
        # a delta nextLink can be replayed too
        r1 = S.graph("GET", "/v1.0/users/delta?$select=id", headers={"Prefer": "odata.maxpagesize=5"})
        p = urllib.parse.urlsplit(r1.json["@odata.nextLink"])
        self.assertEqual(S.graph("GET", p.path + "?" + p.query).json["value"],
                         S.graph("GET", p.path + "?" + p.query).json["value"])
        ids = [i["id"] for i in items]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertGreaterEqual(len(ids), 250)
        # nothing changed: empty round
        items, link, _ = self.round(link)
        self.assertEqual(items, [])
        # one change in a selected property, one in an unselected property, one new, one deleted
        a, b, d = S.mkuser(**synced()), S.mkuser(**synced()), S.mkuser(**synced())
        items, link, _ = self.round(link)
        self.assertEqual({i["id"] for i in items}, {a["id"], b["id"], d["id"]})
        self.assertEqual(S.graph("PATCH", "/v1.0/users/" + a["id"], {"userType": "Guest"}).status, 204)
        self.assertEqual(S.graph("PATCH", "/v1.0/users/" + b["id"], {"usageLocation": "US"}).status, 204)
        S.hook("DELETE", "/_sim/commercial/users/" + d["id"])
        items, link2, _ = self.round(link)
        by = {i["id"]: i for i in items}
        self.assertEqual(set(by), {a["id"], d["id"]})
        self.assertEqual(by[a["id"]]["userType"], "Guest")
        self.assertEqual(by[d["id"]]["@removed"], {"reason": "changed"})
        # return=minimal gives only changed properties
        S.graph("PATCH", "/v1.0/users/" + a["id"], {"userType": "Member"})
        items, _, _ = self.round(link2, headers={"Prefer": "return=minimal"})
        self.assertEqual(items, [{"id": a["id"], "userType": "Member"}])
        # the old link can be replayed (duplicates are expected by clients)
        items, _, _ = self.round(link)
        self.assertIn(a["id"], {i["id"] for i in items})

    def test_delta_gone_and_options(self):
        r = S.graph("GET", "/v1.0/users/delta?$deltatoken=bogus")
        self.assertEqual(r.status, 410, r)
        self.assertIn("location", r.headers)
        self.assertIn("/v1.0/users/delta", r.headers["location"])
        self.assertEqual(S.graph("GET", "/v1.0/users/delta?$skiptoken=bogus").status, 410)
        _, link, _ = self.round("/v1.0/users/delta?$select=id")
        self.assertEqual(S.hook("POST", "/_sim/commercial/expire-delta-tokens").status, 200)
        self.assertEqual(S.graph("GET", link).status, 410)
        self.assertEqual(S.graph("GET", "/v1.0/users/delta?$top=5").status, 400)
        r = S.graph("GET", "/v1.0/users/delta?$deltatoken=latest&$select=id")
        self.assertEqual(r.json["value"], [])
        self.assertIn("@odata.deltaLink", r.json)
        u = S.mkuser(**synced())
        items, _, _ = self.round("/v1.0/users/delta?$select=id,mail&$filter=" + urllib.parse.quote("id eq '%s'" % u["id"]))
        self.assertEqual([i["id"] for i in items], [u["id"]])
        self.assertEqual(S.graph("GET", "/v1.0/users/delta?$filter=" + urllib.parse.quote("mail eq 'x'")).status, 400)


# ===========================================================================
class FaultTests(unittest.TestCase):
    def tearDown(self):
        S.hook("POST", "/_sim/faults", {"reset": True})

    def test_503_429(self):
        S.hook("POST", "/_sim/faults", {"rate_503": 1.0, "paths": "^/v1.0/organization", "retry_after": 0.25})
        r = S.graph("GET", "/v1.0/organization")
        self.assertEqual(r.status, 503)
        self.assertEqual(r.headers["retry-after"], "0.25")
        self.assertEqual(r.json["error"]["code"], "serviceNotAvailable")
        self.assertEqual(S.graph("GET", "/v1.0/domains").status, 200)    # other paths untouched
        S.hook("POST", "/_sim/faults", {"rate_503": 0.0, "rate_429": 1.0})
        r = S.graph("GET", "/v1.0/organization")
        self.assertEqual(r.status, 429)
        self.assertEqual(r.headers["retry-after"], "0.25")
        log = S.log(path="organization")
        self.assertEqual(log[-1]["fault"], "429")

    def test_first_faults_in_order(self):
        # a floor for a test that mixes faults at random rates: the first
        # matching exchanges get these, in order, whatever the rates draw
        S.hook("POST", "/_sim/faults", {"first": ["503", "429", "drop"], "paths": "^/v1.0/organization",
                                         "retry_after": 0.25})
        self.assertEqual(S.graph("GET", "/v1.0/domains").status, 200)    # not matching: not consumed
        self.assertEqual(S.graph("GET", "/v1.0/organization").status, 503)
        self.assertEqual(S.graph("GET", "/v1.0/organization").status, 429)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError, http.client.BadStatusLine)):
            S.graph("GET", "/v1.0/organization")                           # dropped unanswered
        self.assertEqual(S.graph("GET", "/v1.0/organization").status, 200)
        self.assertEqual([e.get("fault") for e in S.log(path="organization")[-4:]], ["503", "429", "drop", None])
        self.assertEqual(S.hook("POST", "/_sim/faults", {"first": ["nonsense"]}).status, 400)

    def test_batch_item_faults(self):
        S.hook("POST", "/_sim/faults", {"rate_429": 1.0, "paths": "^/users"})
        r = S.graph("POST", "/v1.0/$batch", {"requests": [{"id": "1", "method": "GET", "url": "/users?$top=1"},
                                                         {"id": "2", "method": "GET", "url": "/organization"}]})
        self.assertEqual(r.status, 200)
        by = {x["id"]: x for x in r.json["responses"]}
        self.assertEqual(by["1"]["status"], 429)
        self.assertIn("Retry-After", by["1"]["headers"])
        self.assertEqual(by["2"]["status"], 200)

    def test_drop_and_drop_after(self):
        u = S.mkuser(**synced())
        S.hook("POST", "/_sim/faults", {"rate_drop": 1.0, "paths": "^/v1.0/users/"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError, http.client.BadStatusLine)):
            S.graph("PATCH", "/v1.0/users/" + u["id"], {"userType": "Guest"})
        self.assertEqual(S.graph("GET", "/v1.0/organization").status, 200)
        S.hook("POST", "/_sim/faults", {"reset": True})
        self.assertEqual(S.graph("GET", "/v1.0/users/%s?$select=userType" % u["id"]).json["userType"], "Member")
        # dropped after processing: the change happened, the client never heard
        S.hook("POST", "/_sim/faults", {"rate_drop_after": 1.0, "paths": "^/v1.0/invitations"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError, http.client.BadStatusLine)):
            S.graph("POST", "/v1.0/invitations", invite_body(u))
        S.hook("POST", "/_sim/faults", {"reset": True})
        self.assertEqual(S.graph("GET", "/v1.0/users/%s?$select=externalUserState" % u["id"]).json["externalUserState"],
                         "PendingAcceptance")
        e = [x for x in S.log(path="invitations") if (x.get("body") or {}).get("invitedUser.id") == u["id"]]
        self.assertEqual(e[-1]["fault"], "drop_after")
        self.assertEqual(e[-1]["status"], 201)

    def test_invitations_block_per_minute(self):
        # more than 2 invitations within a minute: the tenant's invitations are blocked
        us = [S.mkuser(**synced()) for _ in range(4)]
        S.hook("POST", "/_sim/faults", {"invitations_block_per_minute": 2})
        try:
            st = [S.graph("POST", "/v1.0/invitations", invite_body(u)).status for u in us]
        finally:
            S.hook("POST", "/_sim/faults", {"reset": True})
        self.assertEqual(st, [201, 201, 201, 403])

    def test_503_after(self):
        # a gateway's 503 after the work: the invitation happened, the client got 503
        u = S.mkuser(**synced())
        S.hook("POST", "/_sim/faults", {"rate_503_after": 1.0, "paths": "^/v1.0/invitations", "retry_after": 0.5})
        r = S.graph("POST", "/v1.0/invitations", invite_body(u))
        S.hook("POST", "/_sim/faults", {"reset": True})
        self.assertEqual(r.status, 503)
        self.assertEqual(r.headers["retry-after"], "0.5")
        self.assertEqual(S.graph("GET", "/v1.0/users/%s?$select=externalUserState" % u["id"]).json["externalUserState"],
                         "PendingAcceptance")
        e = [x for x in S.log(path="invitations") if (x.get("body") or {}).get("invitedUser.id") == u["id"]]
        self.assertEqual((e[-1]["fault"], e[-1]["status"], e[-1]["processed_status"]), ("503_after", 503, 201))

    def test_slow_and_latency(self):
        S.hook("POST", "/_sim/faults", {"rate_slow": 1.0, "slow_ms": 300, "paths": "^/v1.0/domains"})
        t = time.time()
        self.assertEqual(S.graph("GET", "/v1.0/domains").status, 200)
        self.assertGreaterEqual(time.time() - t, 0.3)
        S.hook("POST", "/_sim/faults", {"reset": True, "latency_ms": 150})
        t = time.time()
        self.assertEqual(S.graph("GET", "/v1.0/organization").status, 200)
        self.assertGreaterEqual(time.time() - t, 0.15)

    def test_unknown_fault_option(self):
        self.assertEqual(S.hook("POST", "/_sim/faults", {"rate_4299": 1}).status, 400)

    def test_seeded_repeatable(self):
        cfg = {"seed": 77, "faults": {"rate_429": 0.5, "rate_503": 0.2},
               "tenants": [{"name": "t", "id": COM_TID, "cloud": "global", "verified_domains": ["x.example"],
                            "apps": [{"client_id": APP, "secret": SECRET, "roles": ALL_ROLES}]}]}
        runs = []
        for _ in range(2):
            s = Sim(cfg, name="seed")
            try:
                tok = s.token()
                runs.append([s.graph("GET", "/v1.0/organization", token=tok).status for _ in range(30)])
            finally:
                s.stop()
        self.assertEqual(runs[0], runs[1])
        self.assertIn(429, runs[0])
        self.assertIn(200, runs[0])


# ===========================================================================
class EntraAnswerTests(unittest.TestCase):
    """Issue 11: answers lost after the work, replicas behind, refusals about
    one user, cross-tenant access, a refused `in` filter."""
    def tearDown(self):
        S.hook("POST", "/_sim/faults", {"reset": True})
        for t in ("commercial", "gcch"):
            S.hook("POST", "/_sim/%s/settings" % t, {"b2b_domains": None, "invalid_request_input": [],
                                                     "cross_tenant_access": {}, "enforce_cross_tenant_access": False,
                                                     "undergoing_migration": []})
        S.hook("POST", "/_sim/commercial/settings", {"app_roles": {APP_RO: ["Directory.Read.All"]}})

    def test_batch_garbled(self):
        u = S.mkuser(**synced())
        S.hook("POST", "/_sim/faults", {"batch_garbled": 1.0})
        r = S.graph("POST", "/v1.0/$batch", {"requests": [{"id": "1", "method": "PATCH", "url": "/users/" + u["id"],
                                                           "headers": {"Content-Type": "application/json"},
                                                           "body": {"userType": "Guest"}}]})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.json)                           # not JSON: cut short
        self.assertTrue(r.raw.startswith(b'{"responses"'))
        S.hook("POST", "/_sim/faults", {"reset": True})
        # carried out all the same
        self.assertEqual(S.graph("GET", "/v1.0/users/%s?$select=userType" % u["id"]).json["userType"], "Guest")

    def test_replication_lag(self):
        u = S.mkuser(**synced())
        S.hook("POST", "/_sim/faults", {"replication_lag": 1.0})
        self.assertEqual(S.graph("POST", "/v1.0/invitations", invite_body(u)).status, 201)
        t0 = time.time()
        r = S.graph("GET", "/v1.0/users/%s?$select=externalUserState" % u["id"])
        self.assertIsNone(r.json["externalUserState"])     # a replica behind the write
        seen = None
        while time.time() - t0 < 5 and seen is None:
            seen = S.graph("GET", "/v1.0/users/%s?$select=externalUserState" % u["id"]).json["externalUserState"]
            time.sleep(0.1)
        self.assertEqual(seen, "PendingAcceptance")
        self.assertGreaterEqual(time.time() - t0, 0.9)

    def test_refuse_in_filter(self):
        q = "/v1.0/users?$filter=" + urllib.parse.quote("onPremisesImmutableId in ('a','b')")
        self.assertEqual(S.graph("GET", q).status, 200)
        S.hook("POST", "/_sim/faults", {"refuse_in_filter": True})
        r = S.graph("GET", q)
        self.assertEqual((r.status, r.json["error"]["code"]), (400, "Request_UnsupportedQuery"))
        q = "/v1.0/users?$filter=" + urllib.parse.quote("onPremisesImmutableId eq 'a'")
        self.assertEqual(S.graph("GET", q).status, 200)

    def test_refusals_about_one_user(self):
        role = S.mkuser(**synced())
        self.assertEqual(S.hook("PATCH", "/_sim/commercial/users/" + role["id"],
                                {"_directoryRoles": ["User Administrator"]}).status, 200)
        r = S.graph("POST", "/v1.0/invitations", invite_body(role))
        self.assertEqual((r.status, r.json["error"]["code"]), (403, "Authorization_RequestDenied"))
        u = S.mkuser(**synced())
        S.hook("POST", "/_sim/commercial/settings", {"b2b_domains": {"deny": ["fabrikam.example"]}})
        self.assertEqual(S.graph("POST", "/v1.0/invitations", invite_body(u)).status, 403)
        S.hook("POST", "/_sim/commercial/settings", {"b2b_domains": {"allow": ["other.example"]}})
        self.assertEqual(S.graph("POST", "/v1.0/invitations", invite_body(u)).status, 403)
        S.hook("POST", "/_sim/commercial/settings", {"b2b_domains": {"allow": ["fabrikam.example"]}})
        S.hook("POST", "/_sim/commercial/settings", {"invalid_request_input": [u["id"]]})
        r = S.graph("POST", "/v1.0/invitations", invite_body(u))
        self.assertEqual(r.status, 400)
        self.assertIn("Invalid request input", r.json["error"]["message"])
        S.hook("POST", "/_sim/commercial/settings", {"invalid_request_input": []})
        self.assertEqual(S.graph("POST", "/v1.0/invitations", invite_body(u)).status, 201)
        self.assertEqual(S.hook("POST", "/_sim/commercial/settings", {"b2b_domains": {"both": []}}).status, 400)

    assertGraphError = GraphBasicsTests.assertGraphError

    def test_update_refusals_about_one_user(self):
        role = S.mkuser(**synced())
        S.hook("PATCH", "/_sim/commercial/users/" + role["id"], {"_directoryRoles": ["Helpdesk Administrator"]})
        self.assertGraphError(S.graph("PATCH", "/v1.0/users/" + role["id"], {"userType": "Guest"}), 403,
                              "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        # inside a $batch the item says the same, the other items go on
        other = S.mkuser(**synced())
        r = S.graph("POST", "/v1.0/$batch", {"requests": [
            {"id": str(i), "method": "PATCH", "url": "/users/" + u["id"],
             "headers": {"Content-Type": "application/json"}, "body": {"userType": "Guest"}}
            for i, u in enumerate((role, other))]})
        got = {x["id"]: x for x in r.json["responses"]}
        self.assertEqual((got["0"]["status"], got["0"]["body"]["error"]["code"]), (403, "Authorization_RequestDenied"))
        self.assertEqual(got["1"]["status"], 204)
        self.assertEqual(S.graph("GET", "/v1.0/users/%s?$select=userType" % role["id"]).json["userType"], "Member")
        # the role removed: the update goes through
        S.hook("PATCH", "/_sim/commercial/users/" + role["id"], {"_directoryRoles": []})
        self.assertEqual(S.graph("PATCH", "/v1.0/users/" + role["id"], {"userType": "Guest"}).status, 204)
        # an object the directory will not update: 400, by id or UPN
        for ref in ("id", "userPrincipalName"):
            u = S.mkuser(**synced())
            S.hook("POST", "/_sim/commercial/settings", {"undergoing_migration": [u[ref].upper()]})
            self.assertGraphError(S.graph("PATCH", "/v1.0/users/" + u["id"], {"userType": "Guest"}), 400,
                                  "Request_BadRequest", "objects currently undergoing migration")
            S.hook("POST", "/_sim/commercial/settings", {"undergoing_migration": []})
            self.assertEqual(S.graph("PATCH", "/v1.0/users/" + u["id"], {"userType": "Guest"}).status, 204)
        # the permission granted to an app: tokens issued from then on carry it
        u = S.mkuser(**synced())
        self.assertEqual(S.hook("POST", "/_sim/commercial/settings",
                                {"app_roles": {APP_RO: ["Directory.Read.All", "User.ReadWrite.All"]}}).status, 200)
        tok = S.req("POST", L, "/%s/oauth2/v2.0/token" % COM_TID,
                    form={"grant_type": "client_credentials", "client_id": APP_RO, "client_secret": SECRET,
                          "scope": "https://graph.microsoft.com/.default"}).json["access_token"]
        self.assertEqual(S.graph("PATCH", "/v1.0/users/" + u["id"], {"userType": "Guest"}, token=tok).status, 204)
        self.assertEqual(S.hook("POST", "/_sim/commercial/settings", {"app_roles": {"not-an-app": []}}).status, 400)

    def test_cross_tenant_access(self):
        # a user at home in gcch (usgov-high) invited into commercial (global)
        u = S.mkuser(**synced(mail="x%s@contoso-defense.example" % uuid.uuid4().hex[:8]))
        pol = S.graph("GET", "/v1.0/policies/crossTenantAccessPolicy").json
        self.assertEqual(pol["allowedCloudEndpoints"], [])
        d = S.graph("GET", "/v1.0/policies/crossTenantAccessPolicy/default").json
        self.assertTrue(d["isServiceDefault"])
        self.assertEqual(d["b2bCollaborationInbound"]["usersAndGroups"]["accessType"], "allowed")
        self.assertEqual(S.graph("GET", "/v1.0/policies/crossTenantAccessPolicy/partners").json["value"], [])
        S.hook("POST", "/_sim/commercial/settings", {"enforce_cross_tenant_access": True})
        # another cloud: blocked until both enable it and add each other
        r = S.graph("POST", "/v1.0/invitations", invite_body(u))
        self.assertEqual(r.status, 403)
        self.assertIn("cross-tenant access", r.json["error"]["message"])
        S.hook("POST", "/_sim/commercial/settings", {"cross_tenant_access": {
            "allowedCloudEndpoints": ["microsoftonline.us"], "partners": [{"tenantId": GCCH_TID}]}})
        # this side lets gcch in: the invitation goes through, whatever gcch's
        # outbound side says; that side refuses the guest's sign-in
        # (AADSTS500212), and the user stays PendingAcceptance
        self.assertEqual(S.graph("POST", "/v1.0/invitations", invite_body(u)).status, 201)
        r = S.hook("POST", "/_sim/commercial/redeem/" + u["id"], {})
        self.assertEqual((r.status, r.json["error"]["code"]), (403, "NotAllowedByOutboundPolicyTenant"))
        self.assertIn("AADSTS500212", r.json["error"]["message"])
        self.assertEqual(S.graph("GET", "/v1.0/users/%s?$select=externalUserState" % u["id"]).json["externalUserState"],
                         "PendingAcceptance")
        S.hook("POST", "/_sim/gcch/settings", {"cross_tenant_access": {
            "allowedCloudEndpoints": ["microsoftonline.com"], "partners": [{"tenantId": COM_TID}]}})
        self.assertEqual(S.hook("POST", "/_sim/commercial/redeem/" + u["id"], {}).status, 200)
        p = S.graph("GET", "/v1.0/policies/crossTenantAccessPolicy/partners/" + GCCH_TID).json
        self.assertIsNone(p["b2bCollaborationInbound"])                  # inherited from the default
        # gcch's outbound block, by its default: a same-cloud rule, met at sign-in too
        v = S.mkuser(**synced(mail="y%s@contoso-defense.example" % uuid.uuid4().hex[:8]))
        blocked = {"usersAndGroups": {"accessType": "blocked", "targets": [{"target": "AllUsers", "targetType": "user"}]}}
        S.hook("POST", "/_sim/gcch/settings", {"cross_tenant_access": {
            "allowedCloudEndpoints": ["microsoftonline.com"], "default": {"b2bCollaborationOutbound": blocked},
            "partners": [{"tenantId": COM_TID}]}})
        self.assertEqual(S.graph("POST", "/v1.0/invitations", invite_body(v)).status, 201)
        self.assertEqual(S.hook("POST", "/_sim/commercial/redeem/" + v["id"], {}).status, 403)
        # the partner entry may block inbound on its own: refused at the invitation
        w = S.mkuser(**synced(mail="z%s@contoso-defense.example" % uuid.uuid4().hex[:8]))
        S.hook("POST", "/_sim/commercial/settings", {"cross_tenant_access": {
            "allowedCloudEndpoints": ["microsoftonline.us"],
            "partners": [{"tenantId": GCCH_TID, "b2bCollaborationInbound": blocked}]}})
        self.assertEqual(S.graph("POST", "/v1.0/invitations", invite_body(w)).status, 403)
        # and a pending guest's sign-in after the block: AADSTS500213
        r = S.hook("POST", "/_sim/commercial/redeem/" + v["id"], {})
        self.assertEqual((r.status, r.json["error"]["code"]), (403, "NotAllowedByOutboundPolicyTenant"))
        S.hook("POST", "/_sim/gcch/settings", {"cross_tenant_access": {
            "allowedCloudEndpoints": ["microsoftonline.com"], "partners": [{"tenantId": COM_TID}]}})
        r = S.hook("POST", "/_sim/commercial/redeem/" + v["id"], {})
        self.assertEqual((r.status, r.json["error"]["code"]), (403, "NotAllowedByInboundPolicyTenant"))


# ===========================================================================
class ThrottleTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        apps = [{"client_id": "bbbbbbbb-0000-4000-8000-00000000000%d" % i, "secret": SECRET, "roles": ALL_ROLES}
                for i in range(1, 5)]
        cfg = {"seed": 5, "throttle": {"ru_budget": {"S": 40, "M": 40, "L": 40}, "ru_window": 10,
                                       "write_limit": 5, "write_window": 150},
               "tenants": [{"name": "t", "id": COM_TID, "cloud": "global", "verified_domains": ["x.example"],
                            "size": "S", "apps": apps,
                            "users": [{"userPrincipalName": "u%d@x.example" % i, "displayName": "U%d" % i}
                                      for i in range(30)]}]}
        cls.s = Sim(cfg, ["--time-scale", "0.5"], name="throttle")
        cls.apps = [a["client_id"] for a in apps]

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_costs(self):
        s = self.s
        tok = s.token(client=self.apps[3])
        self.assertEqual(s.graph("GET", "/v1.0/users", token=tok).headers["x-ms-resource-unit"], "2")
        self.assertEqual(s.graph("GET", "/v1.0/users?$select=id", token=tok).headers["x-ms-resource-unit"], "1")
        self.assertEqual(s.graph("GET", "/v1.0/users?$top=5", token=tok).headers["x-ms-resource-unit"], "1")
        self.assertEqual(s.graph("GET", "/v1.0/organization", token=tok).headers["x-ms-resource-unit"], "1")
        uid = s.graph("GET", "/v1.0/users?$top=1&$select=id", token=tok).json["value"][0]["id"]
        self.assertEqual(s.graph("GET", "/v1.0/users/" + uid, token=tok).headers["x-ms-resource-unit"], "2")
        r = s.graph("PATCH", "/v1.0/users/" + uid, {"userType": "Guest"}, token=tok)
        self.assertEqual(r.headers["x-ms-resource-unit"], "1")

    def test_resource_units(self):
        s = self.s
        tok = s.token(client=self.apps[0])
        saw_pct = False
        r = None
        for i in range(200):
            r = s.graph("GET", "/v1.0/users", token=tok)
            if r.status == 429:
                break
            if "x-ms-throttle-limit-percentage" in r.headers:
                saw_pct = True
                self.assertGreaterEqual(float(r.headers["x-ms-throttle-limit-percentage"]), 0.8)
        self.assertEqual(r.status, 429, "never throttled")
        self.assertTrue(saw_pct, "x-ms-throttle-limit-percentage never sent above 80%")
        ra = float(r.headers["retry-after"])
        self.assertGreater(ra, 0)
        self.assertLess(ra, 5.0)
        self.assertEqual(r.headers["x-ms-throttle-information"], "ResourceUnitLimitExceeded")
        self.assertEqual(r.headers["x-ms-throttle-scope"], "Tenant_Application/Read/%s/%s" % (self.apps[0], COM_TID))
        self.assertEqual(r.json["error"]["code"], "TooManyRequests")
        # another app is not affected (per app + tenant buckets)
        self.assertEqual(s.graph("GET", "/v1.0/organization", token=s.token(client=self.apps[2])).status, 200)
        time.sleep(ra + 0.05)
        self.assertEqual(s.graph("GET", "/v1.0/users", token=tok).status, 200)

    def test_write_limit_and_batch_items(self):
        s = self.s
        tok = s.token(client=self.apps[1])
        uid = s.graph("GET", "/v1.0/users?$top=1&$select=id", token=tok).json["value"][0]["id"]
        st = [s.graph("PATCH", "/v1.0/users/" + uid, {"userType": "Member"}, token=tok) for _ in range(6)]
        self.assertEqual([r.status for r in st[:5]], [204] * 5)
        self.assertEqual(st[5].status, 429)
        self.assertEqual(st[5].headers["x-ms-throttle-information"], "WriteLimitExceeded")
        self.assertTrue(st[5].headers["x-ms-throttle-scope"].startswith("Tenant_Application/Write/"))
        # in a batch, throttled items come back as 429 items in a 200 envelope
        r = s.graph("POST", "/v1.0/$batch", {"requests": [
            {"id": str(i), "method": "PATCH", "url": "/users/" + uid, "headers": {"Content-Type": "application/json"},
             "body": {"userType": "Member"}} for i in range(3)] + [
            {"id": "g", "method": "GET", "url": "/organization"}]}, token=tok)
        self.assertEqual(r.status, 200)
        by = {x["id"]: x for x in r.json["responses"]}
        for i in range(3):
            self.assertEqual(by[str(i)]["status"], 429)
            self.assertIn("Retry-After", by[str(i)]["headers"])
            self.assertEqual(by[str(i)]["headers"]["x-ms-throttle-information"], "WriteLimitExceeded")
        self.assertEqual(by["g"]["status"], 200)


# ===========================================================================
def ldif_entry(dn, **attrs):
    lines = ["dn: " + dn]
    for k, v in attrs.items():
        k = k.replace("_", "-") if k.startswith("mS_") else k
        for val in (v if isinstance(v, list) else [v]):
            if isinstance(val, bytes):
                lines.append("%s:: %s" % (k, base64.b64encode(val).decode()))
            elif any(ord(c) > 127 for c in val):
                lines.append("%s:: %s" % (k, base64.b64encode(val.encode()).decode()))
            else:
                lines.append("%s: %s" % (k, val))
    return "\n".join(lines) + "\n"


def sid_bytes(*subs):
    return bytes([1, len(subs)]) + (5).to_bytes(6, "big") + b"".join(s.to_bytes(4, "little") for s in subs)


USER_OC = ["top", "person", "organizationalPerson", "user"]
BASE = "DC=corp,DC=example,DC=test"


def lab_users():
    worked = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff").bytes_le
    g2, g3, cg3, g4, g5 = (uuid.uuid4().bytes_le for _ in range(5))
    es = [
        ldif_entry("CN=Alice Example,OU=Staff,OU=Contoso,%s" % BASE, objectClass=USER_OC, objectGUID=worked,
                   **{"mS-DS-ConsistencyGuid": worked}, userPrincipalName="alice@contoso-defense.example",
                   sAMAccountName="alice", mail="alice@fabrikam.example", givenName="Alice", sn="Example",
                   displayName="Alice Example", userAccountControl="512", co="United States", c="US",
                   company="Contoso", department="Eng", title="Engineer", objectSid=sid_bytes(21, 1, 2, 3, 1105),
                   extensionAttribute1="US", extensionAttribute15="x15"),
        ldif_entry("CN=Bob,OU=Staff,OU=Contoso,%s" % BASE, objectClass=USER_OC, objectGUID=g2,
                   userPrincipalName="bob@corp.example.test", sAMAccountName="bob", mail="bob@fabrikam.example",
                   displayName="Zoë Ångström", userAccountControl="514", objectSid=sid_bytes(21, 1, 2, 3, 1106)),
        ldif_entry("CN=Carol,OU=Staff,OU=Contoso,%s" % BASE, objectClass=USER_OC, objectGUID=g3,
                   **{"mS-DS-ConsistencyGuid": cg3}, userPrincipalName="carol@eu.contoso-defense.example",
                   sAMAccountName="carol", mail="carol@fabrikam.example", displayName="Carol",
                   userAccountControl="66048"),
        ldif_entry("CN=Dave,OU=Staff,OU=Contoso,%s" % BASE, objectClass=USER_OC, objectGUID=g4,
                   sAMAccountName="dave", displayName="Dave", userAccountControl="512"),
        ldif_entry("CN=Administrator,CN=Users,%s" % BASE, objectClass=USER_OC, objectGUID=g5,
                   sAMAccountName="Administrator", isCriticalSystemObject="TRUE", userAccountControl="512"),
        ldif_entry("CN=WS1,CN=Computers,%s" % BASE, objectClass=USER_OC + ["computer"], objectGUID=uuid.uuid4().bytes_le,
                   sAMAccountName="WS1$"),
    ]
    return es, {"worked": worked, "g2": g2, "g3": g3, "cg3": cg3, "g4": g4}


class ConnectCycleTests(unittest.TestCase):
    """The LDIF -> cloud user mapping on canned ldapsearch output (no AD needed)."""

    def cycle(self, tenant, entries, **extra):
        body = {"ldif": "\n".join(entries)}
        body.update(extra)
        r = S.hook("POST", "/_sim/%s/connect-cycle" % tenant, body)
        self.assertEqual(r.status, 200, r)
        return r.json

    def users(self, tenant):
        return {u["onPremisesSamAccountName"]: u for u in S.hook("GET", "/_sim/%s/users" % tenant).json["users"]
                if u.get("onPremisesSamAccountName")}

    def test_mapping_and_no_undo(self):
        es, g = lab_users()
        gtok = S.token(GCCH_TID, APP_GCCH, login=LUS, scope="https://graph.microsoft.us/.default")
        org0 = S.graph("GET", "/v1.0/organization?$select=onPremisesLastSyncDateTime", token=gtok, host=GUS).json["value"][0]
        self.assertIsNone(org0["onPremisesLastSyncDateTime"])
        res = self.cycle("gcch", es)
        self.assertEqual(res["status"], "success", res)
        self.assertEqual((res["inScope"], res["added"]), (4, 4))
        us = self.users("gcch")
        self.assertEqual(set(us), {"alice", "bob", "carol", "dave"})
        a = us["alice"]
        self.assertEqual(a["onPremisesImmutableId"], "MyIRAFVEd2aImaq7zN3u/w==")   # reference 2.2 worked example
        self.assertTrue(a["onPremisesSyncEnabled"])
        self.assertIsNone(a.get("onPremisesUserPrincipalName"))   # gcch: rule changed
        self.assertEqual(a["userPrincipalName"], "alice@contoso-defense.example")
        self.assertEqual(a["userType"], "Member")
        self.assertTrue(a["accountEnabled"])
        self.assertEqual(a["onPremisesSecurityIdentifier"], "S-1-5-21-1-2-3-1105")
        self.assertEqual(a["onPremisesDomainName"], "corp.example.test")
        self.assertEqual(a["onPremisesDistinguishedName"], "CN=Alice Example,OU=Staff,OU=Contoso," + BASE)
        self.assertEqual(a["onPremisesExtensionAttributes"]["extensionAttribute1"], "US")
        self.assertEqual(a["onPremisesExtensionAttributes"]["extensionAttribute15"], "x15")
        self.assertIsNone(a["onPremisesExtensionAttributes"]["extensionAttribute2"])
        self.assertEqual(len(a["onPremisesExtensionAttributes"]), 15)
        self.assertEqual((a["country"], a["companyName"], a["department"], a["jobTitle"], a["givenName"], a["surname"]),
                         ("United States", "Contoso", "Eng", "Engineer", "Alice", "Example"))
        b = us["bob"]
        self.assertEqual(b["onPremisesImmutableId"], base64.b64encode(g["g2"]).decode())   # objectGUID fallback
        self.assertEqual(b["userPrincipalName"], "bob@contosodef.onmicrosoft.us")          # unverified suffix
        self.assertFalse(b["accountEnabled"])                                              # UAC 514
        self.assertEqual(b["displayName"], "Zoë Ångström")
        c = us["carol"]
        self.assertEqual(c["onPremisesImmutableId"], base64.b64encode(g["cg3"]).decode())  # consistencyGuid wins
        self.assertEqual(c["userPrincipalName"], "carol@eu.contoso-defense.example")        # verified subdomain
        self.assertEqual(us["dave"]["userPrincipalName"], "dave@contosodef.onmicrosoft.us")  # sAMAccountName@domain
        org1 = S.graph("GET", "/v1.0/organization?$select=onPremisesLastSyncDateTime,onPremisesSyncEnabled", token=gtok,
                       host=GUS).json["value"][0]
        self.assertIsNotNone(org1["onPremisesLastSyncDateTime"])
        self.assertTrue(org1["onPremisesSyncEnabled"])
        # convert alice through Graph, redeem, set Guest
        inv = {"invitedUserEmailAddress": "alice@fabrikam.example", "inviteRedirectUrl": "https://myapps.microsoft.com",
               "invitedUser": {"id": a["id"]}}
        self.assertEqual(S.graph("POST", "/v1.0/invitations", inv, token=gtok, host=GUS).status, 201)
        S.hook("POST", "/_sim/gcch/redeem/" + a["id"], {})
        self.assertEqual(S.graph("PATCH", "/v1.0/users/" + a["id"], {"userType": "Guest"}, token=gtok, host=GUS).status, 204)
        # next cycle: alice's department changed in AD, dave left AD
        time.sleep(1.1)
        es2 = [e.replace("department: Eng", "department: Research") for e in es if "CN=Dave" not in e]
        res = self.cycle("gcch", es2)
        self.assertEqual((res["updated"], res["deleted"], res["added"]), (1, 1, 0), res)
        us2 = self.users("gcch")
        a2 = us2["alice"]
        self.assertEqual(a2["department"], "Research")
        self.assertEqual(a2["id"], a["id"])
        self.assertEqual(a2["externalUserState"], "Accepted")         # never undone by Connect
        self.assertEqual(a2["userType"], "Guest")
        self.assertTrue(any(i["signInType"] == "federated" for i in a2["identities"]))
        self.assertNotIn("dave", us2)
        org2 = S.graph("GET", "/v1.0/organization?$select=onPremisesLastSyncDateTime", token=gtok, host=GUS).json["value"][0]
        self.assertGreater(org2["onPremisesLastSyncDateTime"], org1["onPremisesLastSyncDateTime"])
        # dave comes back: the soft-deleted object is restored with the same id
        res = self.cycle("gcch", es)
        self.assertEqual(res["restored"], 1, res)
        self.assertEqual(self.users("gcch")["dave"]["id"], us["dave"]["id"])
        # deletion threshold: nothing is exported
        S.hook("POST", "/_sim/gcch/settings", {"deletion_threshold": 1})
        res = self.cycle("gcch", es[:2])
        self.assertEqual(res["status"], "stopped-deletion-threshold-exceeded")
        self.assertEqual(set(self.users("gcch")), {"alice", "bob", "carol", "dave"})
        S.hook("POST", "/_sim/gcch/settings", {"deletion_threshold": 500})

    def test_onpremises_upn_rule(self):
        es, g = lab_users()
        # a fresh tenant-like check on commercial: default rule writes onPremisesUserPrincipalName
        alice = [e.replace("contoso-defense.example", "contoso.example") for e in es[:1]]
        res = self.cycle("commercial", alice)
        self.assertEqual(res["added"], 1, res)
        a = self.users("commercial")["alice"]
        self.assertEqual(a["onPremisesUserPrincipalName"], "alice@contoso.example")
        inv = {"invitedUserEmailAddress": "alice@fabrikam.example", "inviteRedirectUrl": "https://myapps.microsoft.com",
               "invitedUser": {"id": a["id"]}}
        self.assertEqual(S.graph("POST", "/v1.0/invitations", inv).status, 400)
        # the rule is changed: the value already written stays (Q&A 1094072)
        S.hook("POST", "/_sim/commercial/settings", {"write_onpremises_upn": False})
        try:
            self.cycle("commercial", alice)
            self.assertEqual(self.users("commercial")["alice"]["onPremisesUserPrincipalName"], "alice@contoso.example")
            self.assertEqual(S.graph("POST", "/v1.0/invitations", inv).status, 400)
            # ... until it is actually cleared
            S.hook("POST", "/_sim/commercial/settings", {"clear_existing_onpremises_upn": True})
            res = self.cycle("commercial", alice)
            self.assertEqual(res["updated"], 1, res)
            self.assertIsNone(self.users("commercial")["alice"]["onPremisesUserPrincipalName"])
            self.assertEqual(S.graph("POST", "/v1.0/invitations", inv).status, 201)
        finally:
            S.hook("POST", "/_sim/commercial/settings", {"write_onpremises_upn": True,
                                                         "clear_existing_onpremises_upn": False})
        # connector-owned user removed by an empty cycle? only with the threshold allowing it
        res = self.cycle("commercial", [])
        self.assertEqual(res["deleted"], 1)

    def test_ldif_parser(self):
        sys.path.insert(0, HERE)
        import gs_connect
        text = ("# extended LDIF\n#\nversion: 1\n\ndn: CN=X,DC=a\nobjectGUID:: MyIRAFVEd2aImaq7zN3u/w==\n"
                "displayName: long\n  folded\nmail: x@y\n\n# search reference\nref: ldap://a/b\n\n"
                "# numResponses: 2\n")
        e = gs_connect.parse_ldif(text)
        self.assertEqual(len(e), 1)
        self.assertEqual(e[0]["attrs"]["objectguid"][0], uuid.UUID("00112233-4455-6677-8899-aabbccddeeff").bytes_le)
        self.assertEqual(e[0]["attrs"]["displayname"][0], b"long folded")
        self.assertEqual(gs_connect.sid_to_str(sid_bytes(21, 10, 20, 30, 500)), "S-1-5-21-10-20-30-500")


class LabConnectCycleTests(unittest.TestCase):
    """The Connect cycle against the real lab AD (Samba, LDAPS). Needs LAB_ENV=path/to/env.sh."""

    def setUp(self):
        self.env = os.environ.get("LAB_ENV")
        if not self.env or not os.path.exists(self.env):
            self.skipTest("no lab AD: set LAB_ENV to the lab's env.sh (tests/lab/ad-start.sh PREFIX; "
                          "tests/lab/ad-seed.sh PREFIX N) to run the Connect cycle against it")

    def test_cycle_against_lab(self):
        sys.path.insert(0, HERE)
        import gs_connect
        facts = gs_connect.read_env_file(self.env)
        base = facts["AD_BASE_DN"]
        realm = base.replace("DC=", "").replace(",", ".").lower()
        manifest = None
        mpath = os.path.join(os.path.dirname(os.path.abspath(self.env)), "manifest.json")
        if os.path.exists(mpath):
            with open(mpath, encoding="utf-8") as f:
                manifest = json.load(f)
        verified = [realm]
        if manifest and manifest.get("companies"):
            verified = [manifest["companies"][0]["upn_suffix"]]     # this tenant owns the first company
        cfg = {"seed": 9, "tenants": [
            {"name": "lab", "id": COM_TID, "cloud": "global", "verified_domains": verified,
             "initial_domain": "labtenant.onmicrosoft.com",
             "connect": {"write_onpremises_upn": False, "deletion_threshold": 0},
             "apps": [{"client_id": APP, "secret": SECRET, "roles": ALL_ROLES}]}]}
        s = Sim(cfg, name="lab")
        try:
            t0 = time.time()
            r = subprocess.run([PY, os.path.join(HERE, "graphsim.py"), "connect-cycle", "--state-dir", s.state,
                                "--tenant", "lab", "--lab-env", self.env], capture_output=True, text=True, timeout=900)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            res = json.loads(r.stdout)
            sys.stderr.write("\n  lab cycle: read %d, in scope %d, added %d in %.1f s (ldapsearch %.1f s)\n" % (
                res["read"], res["inScope"], res["added"], time.time() - t0, res.get("readSeconds", 0)))
            self.assertGreater(res["added"], 0)
            dump = s.hook("GET", "/_sim/lab/users").json["users"]
            self.assertEqual(len(dump), res["added"])
            for u in dump:
                self.assertEqual(len(base64.b64decode(u["onPremisesImmutableId"])), 16)
                self.assertTrue(u["onPremisesSyncEnabled"])
                self.assertEqual(len(u["onPremisesExtensionAttributes"]), 15)
                self.assertTrue(u["onPremisesSecurityIdentifier"].startswith("S-1-5-21-"))
                dom = u["userPrincipalName"].rpartition("@")[2]
                self.assertTrue(any(dom == v or dom.endswith("." + v) for v in verified)
                                or dom == "labtenant.onmicrosoft.com", dom)
                self.assertEqual(u["userType"], "Member")
                self.assertNotEqual(u["onPremisesSamAccountName"].lower(), "krbtgt")
            # cross-check against ldapsearch's own view of the anchor: a user without
            # mS-DS-ConsistencyGuid (objectGUID fallback) when the manifest names one
            u = dump[0]
            if manifest:
                no_cg_sams = [m["sAMAccountName"] for m in manifest["users"] if not m.get("has_consistency_guid")]
                if no_cg_sams:
                    u = {x["onPremisesSamAccountName"]: x for x in dump}[no_cg_sams[0]]
            out = subprocess.run(["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-H", facts["AD_LDAPS_URI"], "-x",
                                  "-D", facts["AD_BIND_UPN"], "-w", facts["AD_BIND_PW"], "-b", base,
                                  "(sAMAccountName=%s)" % u["onPremisesSamAccountName"], "objectGUID",
                                  "mS-DS-ConsistencyGuid"],
                                 capture_output=True, env=dict(os.environ, LDAPTLS_CACERT=facts["LDAPTLS_CACERT"]))
            e = gs_connect.parse_ldif(out.stdout)[0]["attrs"]
            raw = (e.get("ms-ds-consistencyguid") or e["objectguid"])[0]
            self.assertEqual(u["onPremisesImmutableId"], base64.b64encode(raw).decode())
            if manifest and "ms-ds-consistencyguid" not in e:
                sys.stderr.write("  objectGUID fallback verified with ldapsearch for %s\n" % u["onPremisesSamAccountName"])
            # every user of the lab's manifest (an independent record of what was loaded)
            if manifest:
                by_sam = {u["onPremisesSamAccountName"]: u for u in dump}
                checked = no_cg = 0
                for mu in manifest["users"]:
                    u = by_sam.get(mu["sAMAccountName"])
                    self.assertIsNotNone(u, mu["sAMAccountName"])
                    if mu.get("immutable_id"):
                        self.assertEqual(u["onPremisesImmutableId"], mu["immutable_id"], mu["dn"])
                    else:   # no mS-DS-ConsistencyGuid: objectGUID, which AD assigned (not in the manifest)
                        self.assertFalse(mu.get("has_consistency_guid"), mu["dn"])
                        no_cg += 1
                    self.assertEqual(u["accountEnabled"], not mu["disabled"], mu["dn"])
                    self.assertEqual(u["mail"], mu["mail"], mu["dn"])
                    self.assertEqual(u["onPremisesDistinguishedName"], mu["dn"])
                    self.assertEqual(u["companyName"], mu.get("company"))
                    for n in ("extensionAttribute1", "extensionAttribute2"):
                        self.assertEqual(u["onPremisesExtensionAttributes"][n], mu.get(n), mu["dn"])
                    prefix, _, suffix = mu["userPrincipalName"].rpartition("@")
                    want = mu["userPrincipalName"] if suffix.lower() in verified else prefix + "@labtenant.onmicrosoft.com"
                    self.assertEqual(u["userPrincipalName"].lower(), want.lower(), mu["dn"])
                    checked += 1
                sys.stderr.write("  manifest: %d users checked (anchor, enabled, mail, DN, UPN, extensionAttributes); "
                                 "%d without mS-DS-ConsistencyGuid anchored on objectGUID\n" % (checked, no_cg))
            # a second cycle changes nothing
            r2 = s.hook("POST", "/_sim/lab/connect-cycle", {"lab_env": os.path.abspath(self.env)})
            self.assertEqual(r2.status, 200, r2)
            self.assertEqual((r2.json["added"], r2.json["updated"], r2.json["deleted"]), (0, 0, 0), r2.json)
            # and Graph lists them all, paged
            ids = []
            url = "/v1.0/users?$select=id,onPremisesImmutableId&$top=999&$filter=onPremisesSyncEnabled%20eq%20true"
            while url:
                g = s.graph("GET", url)
                self.assertEqual(g.status, 200, g)
                ids += [x["id"] for x in g.json["value"]]
                nl = g.json.get("@odata.nextLink")
                url = (urllib.parse.urlsplit(nl).path + "?" + urllib.parse.urlsplit(nl).query) if nl else None
            self.assertEqual(len(ids), res["added"])
        finally:
            s.stop()


# ===========================================================================
class LogTests(unittest.TestCase):
    def test_log_and_file(self):
        u = S.mkuser(**synced())
        r = S.graph("POST", "/v1.0/invitations", invite_body(u), headers={"client-request-id": "log-test-1"})
        self.assertEqual(r.status, 201)
        entries = [e for e in S.log(tenant="commercial") if e.get("client_request_id") == "log-test-1"]
        self.assertEqual(len(entries), 1)
        e = entries[0]
        for k in ("time", "tenant", "method", "path", "query", "status", "request_id", "client_request_id"):
            self.assertIn(k, e)
        self.assertEqual((e["method"], e["path"], e["status"], e["request_id"]),
                         ("POST", "/v1.0/invitations", 201, r.headers["request-id"]))
        self.assertEqual(e["body"]["invitedUser.id"], u["id"])
        # nobody invited twice (successfully) in this whole run
        ok = [x["body"]["invitedUser.id"] for x in S.log(path="^/v1.0/invitations$")
              if x.get("status") == 201 and (x.get("body") or {}).get("invitedUser.id")
              and not (x.get("body") or {}).get("resetRedemption")]
        self.assertEqual(len(ok), len(set(ok)), ok)
        with open(os.path.join(S.state, "requests.jsonl")) as f:
            lines = [json.loads(x) for x in f]
        self.assertTrue(any(x.get("client_request_id") == "log-test-1" for x in lines))
        # token requests are logged with the tenant and client id
        tok = [x for x in S.log() if x.get("kind") == "token"]
        self.assertTrue(tok)
        self.assertIn("credential", tok[0])


# ===========================================================================
class ScriptTests(unittest.TestCase):
    def test_start_stop_with_curl_connect_to(self):
        if not shutil.which("curl"):
            self.skipTest("curl not installed")
        d = tempfile.mkdtemp(prefix="graphsim-test-script-")
        try:
            r = subprocess.run([os.path.join(HERE, "start.sh"), d, os.path.join(HERE, "example-defense.json"), "0",
                                "--seed", "11"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            pid = int(readf(os.path.join(d, "graphsim.pid")))
            port = readf(os.path.join(d, "port")).strip()
            secret = readf(os.path.join(HERE, "example-creds", "gcch-app.secret")).strip()
            out = subprocess.run(["curl", "-sS", "--cacert", os.path.join(d, "ca.pem"), "--connect-to",
                                  "login.microsoftonline.us:443:127.0.0.1:" + port,
                                  "https://login.microsoftonline.us/7b2d9f40-1e6c-4c83-a5d2-9e0b3c7f6d22/oauth2/v2.0/token",
                                  "-d", "grant_type=client_credentials", "-d", "client_id=6a1e9d42-3c8b-4f57-b0a9-2e4d7f1c8b63",
                                  "--data-urlencode", "client_secret=" + secret,
                                  "--data-urlencode", "scope=https://graph.microsoft.us/.default"],
                                 capture_output=True, text=True)
            tok = json.loads(out.stdout)["access_token"]
            out = subprocess.run(["curl", "-sS", "--cacert", os.path.join(d, "ca.pem"), "--connect-to",
                                  "graph.microsoft.us:443:127.0.0.1:" + port, "-H", "Authorization: Bearer " + tok,
                                  "https://graph.microsoft.us/v1.0/domains?$select=id"], capture_output=True, text=True)
            self.assertIn("contoso-defense.example", out.stdout)
            # TLS verification of a wrong name fails
            out = subprocess.run(["curl", "-sS", "--cacert", os.path.join(d, "ca.pem"), "--connect-to",
                                  "example.org:443:127.0.0.1:" + port, "https://example.org/"],
                                 capture_output=True, text=True)
            self.assertNotEqual(out.returncode, 0)
            r = subprocess.run([os.path.join(HERE, "stop.sh"), d], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            time.sleep(0.2)
            with self.assertRaises(OSError):
                os.kill(pid, 0)
        finally:
            if os.path.exists(os.path.join(d, "graphsim.pid")):
                subprocess.run([os.path.join(HERE, "stop.sh"), d])
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
