"""Microsoft identity platform token endpoint (client credentials) and Graph
bearer-token validation. Reference graph-api.md section 5.

* POST https://<login-host>/<tenant>/oauth2/v2.0/token, form-encoded;
  client_secret (body or HTTP Basic) or a JWT client assertion (PS256/RS256,
  header x5t#S256 or x5t, aud = that cloud's token URL, iss = sub = client id,
  nbf/exp). Signatures are verified with the registered certificate's public
  key through the openssl CLI.
* A tenant is only valid in its own cloud: a tenant of another cloud gets
  AADSTS900382 "Confidential Client is not supported in Cross Cloud request."
* Access tokens are JWT-shaped (header.claims.signature) with aud, iss, tid,
  appid, roles, iat/nbf/exp; the signature is an HMAC of the simulator (clients
  must treat Graph tokens as opaque anyway).
"""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.parse

from gs_common import (CLOUDS, GRAPH_APP_ID, Response, b64url, b64url_decode, graph_resource, iso,
                       is_guid, clouds_of_login_host)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW = 300  # seconds of nbf/exp tolerance


# ---------------------------------------------------------------------------
# Registered certificates
# ---------------------------------------------------------------------------
class Certificate:
    def __init__(self, path, pubkey_dir):
        self.path = path
        with open(path, "rb") as f:
            pem = f.read()
        m = re.search(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)
        if not m:
            raise ValueError("%s: no PEM certificate" % path)
        self.der = base64.b64decode(b"".join(m.group(1).split()))
        self.x5t = b64url(hashlib.sha1(self.der).digest())
        self.x5t_s256 = b64url(hashlib.sha256(self.der).digest())
        self.sha1_hex = hashlib.sha1(self.der).hexdigest().upper()
        os.makedirs(pubkey_dir, exist_ok=True)
        self.pubkey_path = os.path.join(pubkey_dir, hashlib.sha256(self.der).hexdigest() + ".pub.pem")
        if not os.path.exists(self.pubkey_path):
            tmp_cert = self.pubkey_path + ".crt"
            with open(tmp_cert, "wb") as f:
                f.write(b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(self.der) + b"-----END CERTIFICATE-----\n")
            out = subprocess.run(["openssl", "x509", "-in", tmp_cert, "-pubkey", "-noout"],
                                 capture_output=True, check=True)
            os.unlink(tmp_cert)
            with open(self.pubkey_path, "wb") as f:
                f.write(out.stdout)
        end = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-enddate"], capture_output=True, text=True)
        self.not_after = end.stdout.strip().split("=", 1)[-1] if end.returncode == 0 else None


class App:
    def __init__(self, cfg, base_dir, pubkey_dir):
        self.client_id = cfg["client_id"].lower()
        self.display_name = cfg.get("display_name", "app")
        self.roles = list(cfg.get("roles", []))
        # reference 5.2: PS256 + x5t#S256 is current; RS256 + x5t was documented until 2024
        self.assertion_algs = list(cfg.get("assertion_algs", ["PS256", "RS256"]))
        self.secrets = []
        for s in cfg.get("secrets", []) + ([cfg["secret"]] if "secret" in cfg else []):
            self.secrets.append(s)
        files = cfg.get("secret_files", []) + ([cfg["secret_file"]] if "secret_file" in cfg else [])
        for fpath in files:
            p = fpath if os.path.isabs(fpath) else os.path.join(base_dir, fpath)
            with open(p, encoding="utf-8") as f:
                self.secrets.append(f.read().strip("\r\n"))
        self.certs = []
        certs = cfg.get("certificates", []) + ([cfg["certificate"]] if "certificate" in cfg else [])
        for cpath in certs:
            p = cpath if os.path.isabs(cpath) else os.path.join(base_dir, cpath)
            self.certs.append(Certificate(p, pubkey_dir))
        self.service_principal_id = None


# ---------------------------------------------------------------------------
# AADSTS errors
# ---------------------------------------------------------------------------
class AadError(Exception):
    def __init__(self, status, error, code, description):
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description


def aad_error_response(e, login_host, trace_id, correlation_id):
    ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    desc = "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s" % (
        e.code, e.description, trace_id, correlation_id, ts)
    body = {
        "error": e.error,
        "error_description": desc,
        "error_codes": [e.code],
        "timestamp": ts,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": "https://%s/error?code=%d" % (login_host, e.code),
    }
    r = Response(e.status, body, content_type="application/json; charset=utf-8")
    r.error_code = "AADSTS%d" % e.code
    return r


# ---------------------------------------------------------------------------
# The token endpoint
# ---------------------------------------------------------------------------
class TokenService:
    def __init__(self, sim):
        self.sim = sim
        self.key = os.urandom(32)   # HMAC key of issued access tokens
        self.revoked_before = 0.0

    def rotate(self):
        """Invalidate every token issued so far (test hook)."""
        self.key = os.urandom(32)
        self.revoked_before = time.time()

    # ---- tenant resolution --------------------------------------------
    def find_tenant(self, login_host, tenant_seg):
        clouds = clouds_of_login_host(login_host)
        seg = tenant_seg.lower()
        if seg in ("common", "organizations", "consumers"):
            raise AadError(400, "invalid_request", 90009 if seg == "consumers" else 50059,
                           "No tenant-identifying information found in either the request or implied by any provided credentials."
                           if seg != "consumers" else
                           "Application is requesting a token for itself. This scenario is supported only if resource is specified using the GUID based App Identifier.")
        t = self.sim.tenant_by_ref(seg)
        if t is None:
            raise AadError(400, "invalid_request", 90002,
                           "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant." % tenant_seg)
        if t.cloud not in clouds:
            raise AadError(400, "invalid_request", 900382,
                           "Confidential Client is not supported in Cross Cloud request.")
        return t

    def handle(self, login_host, path, headers, body, ctx):
        """Return a Response for POST /{tenant}/oauth2/v2.0/token."""
        m = re.match(r"^/([^/]+)/oauth2/v2\.0/token/?$", path)
        if not m:
            m1 = re.match(r"^/([^/]+)/oauth2/token/?$", path)
            if m1:
                raise AadError(400, "invalid_request", 90014,
                               "graphsim: only the v2.0 endpoint is simulated; use /{tenant}/oauth2/v2.0/token.")
            return None
        tenant_seg = urllib.parse.unquote(m.group(1))
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        form = {}
        if ctype == "application/x-www-form-urlencoded":
            try:
                for k, v in urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True):
                    form.setdefault(k, v)
            except UnicodeDecodeError:
                form = {}
        tenant = self.find_tenant(login_host, tenant_seg)
        ctx["tenant"] = tenant
        grant = form.get("grant_type")
        if not grant:
            raise AadError(400, "invalid_request", 900144,
                           "The request body must contain the following parameter: 'grant_type'.")
        if grant != "client_credentials":
            raise AadError(400, "unsupported_grant_type", 70003,
                           "The app requested an unsupported grant type '%s'." % grant)
        # client id: body, or HTTP Basic
        basic_id = basic_secret = None
        auth = headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                dec = base64.b64decode(auth[6:].strip()).decode("utf-8")
                u, _, p = dec.partition(":")
                basic_id, basic_secret = urllib.parse.unquote(u), urllib.parse.unquote(p)
            except Exception:
                pass
        client_id = (form.get("client_id") or basic_id or "").strip()
        secret = form.get("client_secret")
        if secret is None:
            secret = basic_secret
        assertion = form.get("client_assertion")
        assertion_type = form.get("client_assertion_type")
        ctx["client_id"] = client_id
        ctx["credential"] = "assertion" if assertion else "secret" if secret is not None else None
        ctx["scope"] = form.get("scope")
        if not client_id and assertion:
            client_id = self._assertion_iss(assertion) or ""
            ctx["client_id"] = client_id
        if not client_id:
            raise AadError(400, "invalid_request", 900144,
                           "The request body must contain the following parameter: 'client_id'.")
        scope = form.get("scope")
        if not scope:
            raise AadError(400, "invalid_request", 900144,
                           "The request body must contain the following parameter: 'scope'.")
        resource = self.check_scope(tenant, scope)
        app = tenant.apps.get(client_id.lower())
        if app is None:
            raise AadError(400, "unauthorized_client", 700016,
                           "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant." % (
                               client_id, tenant.display_name))
        if assertion is not None and secret is not None:
            raise AadError(400, "invalid_request", 700025,
                           "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
        if assertion is not None:
            if assertion_type != CLIENT_ASSERTION_TYPE:
                raise AadError(400, "invalid_request", 700027 if assertion_type else 900144,
                               "The request body must contain the following parameter: 'client_assertion_type'." if not assertion_type
                               else "Client assertion type '%s' is not supported." % assertion_type)
            self.verify_assertion(tenant, app, assertion, login_host)
            appidacr = "2"
        elif secret is not None:
            if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in app.secrets):
                raise AadError(401, "invalid_client", 7000215,
                               "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'." % app.client_id)
            appidacr = "1"
        else:
            raise AadError(401, "invalid_client", 7000218,
                           "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        return self.issue(tenant, app, resource, appidacr)

    def check_scope(self, tenant, scope):
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise AadError(400, "invalid_scope", 1002012,
                           "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)." % scope)
        res = scopes[0][: -len("/.default")].rstrip("/")
        own = graph_resource(tenant.cloud)
        if res.lower() == own.lower() or res.lower() == GRAPH_APP_ID:
            return own
        raise AadError(400, "invalid_resource", 500011,
                       "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant." % (
                           res, tenant.display_name))

    # ---- client assertion -------------------------------------------
    @staticmethod
    def _assertion_iss(assertion):
        try:
            parts = assertion.split(".")
            return json.loads(b64url_decode(parts[1])).get("iss")
        except Exception:
            return None

    def verify_assertion(self, tenant, app, assertion, login_host):
        parts = assertion.split(".")
        if len(parts) != 3:
            raise AadError(400, "invalid_request", 50027,
                           "JWT token is invalid or malformed.")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except Exception:
            raise AadError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise AadError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        alg = header.get("alg")
        if alg not in ("PS256", "RS256"):
            raise AadError(400, "invalid_request", 5002738,
                           "Invalid JWT token. '%s' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, RS384, RS512, PS256, PS384, PS512'" % alg
                           if alg not in ("RS384", "RS512", "PS384", "PS512") else
                           "graphsim: only PS256 and RS256 assertions are simulated.")
        if alg not in app.assertion_algs:
            raise AadError(401, "invalid_client", 5002738,
                           "Invalid JWT token. '%s' is not a supported signature algorithm for this application." % alg)
        tp256 = header.get("x5t#S256")
        tp1 = header.get("x5t")
        if not tp256 and not tp1:
            raise AadError(400, "invalid_request", 5002723,
                           "Invalid JWT token. No certificate thumbprint specified in token header.")
        cert = None
        for c in app.certs:
            if (tp256 and tp256 == c.x5t_s256) or (not tp256 and tp1 and tp1 == c.x5t):
                cert = c
                break
        if cert is None:
            shown = tp256 or tp1
            raise AadError(401, "invalid_client", 700027,
                           "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/%s']" % (
                               shown, app.client_id, app.client_id))
        signing_input = (parts[0] + "." + parts[1]).encode("ascii")
        if not openssl_verify(cert.pubkey_path, alg, signing_input, sig):
            raise AadError(401, "invalid_client", 700027,
                           "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s', Found key 'Start=..., End=%s']" % (
                               cert.sha1_hex, cert.not_after))
        iss, sub = claims.get("iss"), claims.get("sub")
        if not isinstance(iss, str) or not isinstance(sub, str) or iss.lower() != app.client_id or sub.lower() != app.client_id:
            raise AadError(401, "invalid_client", 700021,
                           "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .")
        aud = claims.get("aud")
        if not self.audience_ok(tenant, aud):
            raise AadError(401, "invalid_client", 700023,
                           "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .")
        now = self.sim.now()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, (int, float)) or (nbf is not None and not isinstance(nbf, (int, float))) \
                or exp + CLOCK_SKEW < now or (nbf is not None and nbf - CLOCK_SKEW > now):
            raise AadError(401, "invalid_client", 700024,
                           "Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials ." % (
                               iso(now), iso(nbf) if isinstance(nbf, (int, float)) else "null",
                               iso(exp) if isinstance(exp, (int, float)) else "null"))

    @staticmethod
    def audience_ok(tenant, aud):
        if not isinstance(aud, str):
            return False
        refs = {tenant.id.lower()} | {d.lower() for d in tenant.all_domains()}
        for host in CLOUDS[tenant.cloud]["login_hosts"]:
            for ref in refs:
                for p in ("/oauth2/v2.0/token", "/oauth2/token", "/v2.0"):
                    if aud.lower() == ("https://%s/%s%s" % (host, ref, p)).lower():
                        return True
        return False

    # ---- issuing --------------------------------------------------------
    def issue(self, tenant, app, resource, appidacr):
        cfg = self.sim.cfg
        if cfg.get("token_lifetime_seconds"):
            lifetime = int(cfg["token_lifetime_seconds"])
        else:
            lo, hi = cfg.get("token_lifetime_range", [3600, 5400])
            lifetime = self.sim.rng.randint(int(lo), int(hi))
        now = int(self.sim.now())
        claims = {
            "aud": resource,
            "iss": CLOUDS[tenant.cloud]["sts"].format(tid=tenant.id),
            "iat": now, "nbf": now, "exp": now + lifetime,
            "aio": self.sim.rng.token(24),
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": appidacr,
            "idp": CLOUDS[tenant.cloud]["sts"].format(tid=tenant.id),
            "idtyp": "app",
            "oid": app.service_principal_id,
            "rh": "0." + self.sim.rng.token(16) + ".",
            "roles": list(app.roles),
            "sub": app.service_principal_id,
            "tenant_region_scope": {"global": "NA", "usgov-high": "USGov", "usgov-dod": "USGov",
                                    "china": "AS"}[tenant.cloud],
            "tid": tenant.id,
            "uti": self.sim.rng.token(16),
            "ver": "1.0",
            "xms_tcdt": now - 86400 * 365,
        }
        if not claims["roles"]:
            del claims["roles"]
        header = {"typ": "JWT", "alg": "RS256", "kid": "graphsim"}
        h = b64url(json.dumps(header, separators=(",", ":")).encode())
        c = b64url(json.dumps(claims, separators=(",", ":")).encode())
        s = b64url(hmac.new(self.key, (h + "." + c).encode(), hashlib.sha256).digest())
        body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                "access_token": h + "." + c + "." + s}
        r = Response(200, body, content_type="application/json; charset=utf-8")
        r.log = {"client_id": app.client_id, "expires_in": lifetime}
        return r

    # ---- validating Graph bearer tokens -----------------------------------
    def validate_bearer(self, auth_header, graph_host):
        """Return the token claims, or raise (status, code, message)."""
        from gs_common import GraphError
        www = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="%s"' % GRAPH_APP_ID}
        if not auth_header or not auth_header.lower().startswith("bearer "):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", www)
        tok = auth_header[7:].strip()
        parts = tok.split(".")
        if len(parts) != 3:
            raise GraphError(401, "InvalidAuthenticationToken",
                             "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format." if len(parts) == 1 else
                             "Invalid JWT token. The token is malformed.", www)
        try:
            claims = json.loads(b64url_decode(parts[1]))
        except Exception:
            raise GraphError(401, "InvalidAuthenticationToken", "Invalid JWT token. The token is malformed.", www)
        expect = hmac.new(self.key, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
        try:
            sig = b64url_decode(parts[2])
        except Exception:
            sig = b""
        if not hmac.compare_digest(expect, sig):
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid signature.", www)
        aud = claims.get("aud", "")
        if aud.rstrip("/").lower() != ("https://" + graph_host).lower():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.", www)
        if claims.get("exp", 0) < self.sim.now():
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.", www)
        return claims


def openssl_verify(pubkey_path, alg, data, sig):
    with tempfile.TemporaryDirectory(prefix="graphsim-jwt-") as d:
        dp = os.path.join(d, "data")
        sp = os.path.join(d, "sig")
        with open(dp, "wb") as f:
            f.write(data)
        with open(sp, "wb") as f:
            f.write(sig)
        cmd = ["openssl", "dgst", "-sha256", "-verify", pubkey_path]
        if alg == "PS256":
            cmd += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
        cmd += ["-signature", sp, dp]
        r = subprocess.run(cmd, capture_output=True)
        return r.returncode == 0
