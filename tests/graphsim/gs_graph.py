"""Microsoft Graph routes of the simulator (v1.0, plus the one beta action).

Every route: bearer token for this host's cloud -> tenant from the token's tid ->
application permission (roles) -> throttling charge -> the operation.
"""
import json
import re
import time
import urllib.parse

import gs_odata
from gs_common import (GRAPH_HOST_CLOUD, GraphError, Response, graph_error_response, iso, is_guid)
from gs_tenant import DEFAULT_USER_SELECT
from gs_throttle import request_cost

USER_LABEL = "Microsoft.DirectoryServices.User"

R_READ_USERS = {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
# Update user: User.ReadUpdate.All is the least privileged (Learn, user-update)
R_WRITE_USERS = {"User.ReadUpdate.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
R_INVITE = {"User.Invite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
R_CONVERT = {"User-ConvertToInternal.ReadWrite.All", "User.ReadWrite.All"}
R_ORG = {"Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All", "Directory.ReadWrite.All"}
R_DOMAINS = {"Domain.Read.All", "Directory.Read.All", "Domain.ReadWrite.All", "Directory.ReadWrite.All"}
R_POLICY = {"Policy.Read.All", "Policy.ReadWrite.Authorization"}

DEFAULT_PAGE = 100
MAX_TOP = 999
DELTA_PAGE = 100
MAX_BATCH = 20


class Req:
    def __init__(self, method, host, path, query, headers, body, request_id, client_request_id):
        self.method = method
        self.host = host
        self.path = path
        self.query = query
        self.headers = headers      # case-insensitive mapping (email.message.Message or dict-like)
        self.body = body or b""
        self.request_id = request_id
        self.client_request_id = client_request_id

    def header(self, name):
        v = self.headers.get(name)
        if v is None and isinstance(self.headers, dict):
            for k, val in self.headers.items():
                if k.lower() == name.lower():
                    return val
        return v


class Auth:
    def __init__(self, claims, tenant, app_id):
        self.claims = claims
        self.tenant = tenant
        self.app_id = app_id
        self.roles = set(claims.get("roles") or [])


def fmt_seconds(s):
    t = ("%.3f" % s).rstrip("0").rstrip(".")
    return t if t else "0"


def insufficient():
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def json_body(req):
    if not req.body:
        return None
    ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise GraphError(415, "UnsupportedMediaType" if ctype else "BadRequest",
                         "Content type '%s' is not supported; use 'application/json'." % ctype if ctype else
                         "Write requests (excluding DELETE) must contain the Content-Type header declaration.")
    try:
        return json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")


class Graph:
    def __init__(self, sim):
        self.sim = sim

    # ---------------------------------------------------------------------
    def handle(self, req, auth=None, batch_ctx=None):
        """Dispatch one Graph request (top level or a $batch item).
        Returns a Response; fills resp.log for the request log."""
        log = {}
        try:
            resp = self._handle(req, auth, log, batch_ctx)
        except GraphError as e:
            resp = graph_error_response(e.status, e.code, e.message, req.request_id, req.client_request_id,
                                        headers=e.headers)
        resp.log.update(log)
        return resp

    def _handle(self, req, auth, log, batch_ctx):
        sim = self.sim
        cloud = GRAPH_HOST_CLOUD.get(req.host)
        segs_raw = req.path.split("/")
        if len(segs_raw) < 2 or segs_raw[1] not in ("v1.0", "beta"):
            ver = segs_raw[1] if len(segs_raw) > 1 else ""
            raise GraphError(400, "BadRequest", "Invalid version: %s" % ver)
        version = segs_raw[1]
        segs = [urllib.parse.unquote(s) for s in segs_raw[2:] if s != ""]
        log["version"] = version
        if auth is None:
            claims = sim.tokens.validate_bearer(req.header("Authorization"), req.host)
            tenant = sim.tenant_by_id(claims.get("tid"))
            if tenant is None or tenant.cloud != cloud:
                raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
            auth = Auth(claims, tenant, claims.get("appid"))
        tenant = auth.tenant
        log["tenant"] = tenant.name
        log["tenant_id"] = tenant.id
        log["app"] = auth.app_id
        opts, _ = gs_odata.parse_query(req.query)
        route = self.route(req.method, version, segs)
        handler, kind, roles = route
        if roles is not None and not (auth.roles & roles):
            raise insufficient()
        if handler == self.h_batch:
            return handler(req, auth, segs, opts, log, version)
        # throttling (reference section 4)
        cost, is_write = request_cost(req.method, kind, opts)
        ch = sim.throttle.charge(auth.app_id, tenant, cost, is_write)
        th = {"x-ms-resource-unit": str(cost)}
        if ch.get("percentage") is not None and ch["percentage"] > 0.8:
            th["x-ms-throttle-limit-percentage"] = "%.1f" % min(1.8, ch["percentage"])
        if not ch["ok"]:
            th["Retry-After"] = fmt_seconds(ch["retry_after"])
            th["x-ms-throttle-scope"] = ch["scope"]
            th["x-ms-throttle-information"] = ch["information"]
            log["throttled"] = ch["information"]
            raise GraphError(429, "TooManyRequests", "Too many requests. Retry after %s seconds." % th["Retry-After"], th)
        try:
            with tenant.lock:
                resp = handler(req, auth, segs, opts, log, version)
        except GraphError as e:
            e.headers.update(th)
            raise
        resp.headers.update(th)
        return resp

    # ---------------------------------------------------------------------
    def route(self, method, version, segs):
        def not_allowed():
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")

        if not segs:
            raise GraphError(400, "BadRequest", "Invalid request.")
        head = segs[0]
        n = len(segs)
        if head == "$batch" and n == 1:
            if method != "POST":
                not_allowed()
            return self.h_batch, None, None
        if version == "beta":
            if head == "users" and n == 3 and segs[2].lower() in ("convertexternaltointernalmemberuser",
                                                                 "microsoft.graph.convertexternaltointernalmemberuser"):
                if method != "POST":
                    not_allowed()
                return self.h_convert, "write", R_CONVERT
            raise GraphError(501, "NotImplemented",
                             "graphsim: only POST /beta/users/{id}/convertExternalToInternalMemberUser and /beta/$batch are simulated on beta.")
        if head == "users":
            if n == 1:
                if method != "GET":
                    if method == "POST":
                        raise GraphError(501, "NotImplemented", "graphsim: creating users through Graph is not simulated.")
                    not_allowed()
                return self.h_users_list, "users", R_READ_USERS
            if n == 2 and segs[1] in ("delta", "delta()", "microsoft.graph.delta()", "microsoft.graph.delta"):
                if method != "GET":
                    not_allowed()
                return self.h_delta, "users", R_READ_USERS
            if n == 2 and segs[1] == "$count":
                if method != "GET":
                    not_allowed()
                return self.h_users_count, "users", R_READ_USERS
            if n == 2:
                if method == "GET":
                    return self.h_user_get, "users", R_READ_USERS
                if method == "PATCH":
                    return self.h_user_patch, "write", R_WRITE_USERS
                if method == "DELETE":
                    raise GraphError(501, "NotImplemented", "graphsim: deleting users through Graph is not simulated.")
                not_allowed()
            if n == 3 and segs[2].lower().endswith("convertexternaltointernalmemberuser"):
                raise GraphError(400, "BadRequest", "Resource not found for the segment '%s'." % segs[2])
            if n >= 3:
                raise GraphError(501, "NotImplemented", "graphsim: /users/{id}/%s is not simulated." % segs[2])
        if head == "invitations" and n == 1:
            if method != "POST":
                not_allowed()
            return self.h_invite, "write", R_INVITE
        if head == "organization" and n in (1, 2):
            if method != "GET":
                not_allowed()
            return self.h_org, "other", R_ORG
        if head == "domains" and n in (1, 2):
            if method != "GET":
                not_allowed()
            return self.h_domains, "other", R_DOMAINS
        if head == "policies" and n == 2 and segs[1] == "authorizationPolicy":
            if method != "GET":
                not_allowed()
            return self.h_authz_policy, "other", R_POLICY
        if head == "policies" and 2 <= n <= 4 and segs[1] == "crossTenantAccessPolicy" \
                and (n == 2 or segs[2] in ("default", "partners")) and (n < 4 or segs[2] == "partners"):
            if method != "GET":
                raise GraphError(501, "NotImplemented", "graphsim: only reading the cross-tenant access policy is simulated.")
            return self.h_cta_policy, "other", R_POLICY
        raise GraphError(400, "BadRequest", "Resource not found for the segment '%s'." % head)

    # ---------------------------------------------------------------------
    def _context(self, tenant, version, entity_set, select, entity=False):
        base = "https://%s/%s/$metadata#%s" % (tenant.graph_host, version, entity_set)
        if select is not None:
            base += "(" + ",".join(select) + ")"
        return base + ("/$entity" if entity else "")

    def _select(self, tenant, opts, type_name="user", label=USER_LABEL):
        if "$select" in opts:
            return gs_odata.parse_select(tenant.md, type_name, opts["$select"], label), True
        return None, False

    def _advanced(self, req, opts):
        cl = (req.header("ConsistencyLevel") or "").strip().lower() == "eventual"
        cnt = opts.get("$count")
        if cnt is not None and cnt.lower() not in ("true", "false"):
            raise GraphError(400, "BadRequest", "Invalid value '%s' for $count query option found. Valid values are 'true', 'false'." % cnt)
        count = cnt is not None and cnt.lower() == "true"
        if count and not cl:
            raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
        return cl and count, count

    def _unsupported_opts(self, opts, allowed):
        for k in opts:
            if k not in allowed:
                if k == "$expand" or k == "$search":
                    raise GraphError(501, "NotImplemented", "graphsim: %s is not simulated." % k)
                if k == "$skip":
                    raise GraphError(400, "Request_BadRequest", "'$skip' is not supported by the service.")
                raise GraphError(400, "Request_BadRequest", "The query parameter '%s' is not supported for this request." % k)

    # ---- GET /users ------------------------------------------------------
    def h_users_list(self, req, auth, segs, opts, log, version):
        sim, tenant = self.sim, auth.tenant
        if "$skiptoken" in opts:
            cur = sim.cursors.get(opts["$skiptoken"], tenant)
            if cur is None:
                raise GraphError(400, "Directory_ExpiredPageToken",
                                 "The specified page token value has expired and can no longer be included in your request.")
            return self._page(tenant, version, cur, log)
        self._unsupported_opts(opts, {"$select", "$filter", "$top", "$count", "$orderby", "$skiptoken", "$expand",
                                      "$search"})
        advanced, count = self._advanced(req, opts)
        select, explicit = self._select(tenant, opts)
        top = DEFAULT_PAGE
        if "$top" in opts:
            try:
                top = int(opts["$top"])
            except ValueError:
                raise GraphError(400, "Request_BadRequest", "Invalid page size specified: '%s'. Must be between 1 and %d inclusive." % (opts["$top"], MAX_TOP))
            if top < 1 or top > MAX_TOP:
                raise GraphError(400, "Request_BadRequest",
                                 "Invalid page size specified: '%d'. Must be between 1 and %d inclusive." % (top, MAX_TOP))
        flt = None
        if "$filter" in opts and self.sim.faults.cfg.get("refuse_in_filter") \
                and re.search(r"\sin\s*\(", opts["$filter"]):
            # a directory that does not take 'in' here (README: the fault)
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
        if "$filter" in opts:
            flt = gs_odata.compile_filter(tenant.md, "user", USER_LABEL, opts["$filter"], advanced,
                                          sim.cfg.get("max_filter_clauses", 15))
            log["filter"] = opts["$filter"]
        keys = gs_odata.indexed_values(flt.ast, "onPremisesImmutableId") if flt is not None else None
        # an indexed lookup narrows the candidates; the filter still decides
        users = tenant.users_by_immutable_ids(keys) if keys is not None else tenant.sorted_users()
        if flt is not None:
            users = [u for u in users if flt(u.p)]
        order = opts.get("$orderby")
        if order:
            parts = order.strip().split()
            prop = tenant.md.canonical("user", parts[0]) if parts else None
            desc = len(parts) > 1 and parts[1].lower() == "desc"
            if prop not in ("displayName", "userPrincipalName"):
                raise GraphError(400, "Request_UnsupportedQuery", "Sorting not supported for current query.")
            if flt is not None and not advanced:
                raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
            users.sort(key=lambda u: ((u.p.get(prop) or "").lower(), u.id), reverse=desc)
        sel = select if explicit else list(DEFAULT_USER_SELECT)
        query_keep = {k: opts[k] for k in ("$select", "$filter", "$top", "$count", "$orderby") if k in opts}
        cur = sim.cursors.new(tenant, [u.id for u in users], sel, top,
                              self._context(tenant, version, "users", select if explicit else None),
                              query_keep, version, count_total=len(users) if count else None)
        return self._page(tenant, version, cur, log)

    def _page(self, tenant, version, cur, log):
        out = []
        ids = cur["ids"]
        pos = cur["pos"]
        while pos < len(ids) and len(out) < cur["top"]:
            u = tenant.users.get(ids[pos])
            pos += 1
            if u is not None:
                out.append(tenant.render(u, cur["select"]))
        cur["pos"] = pos
        body = {"@odata.context": cur["context"]}
        if cur.get("count_total") is not None:
            body["@odata.count"] = cur["count_total"]
        if pos < len(ids):
            tok = self.sim.cursors.save(cur)
            q = dict(cur["query"])
            q["$skiptoken"] = tok
            body["@odata.nextLink"] = "https://%s/%s/users?%s" % (
                tenant.graph_host, version, urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe=",$()'="))
        else:
            self.sim.cursors.drop(cur)
        body["value"] = out
        log["returned"] = len(out)
        return Response(200, body)

    def h_users_count(self, req, auth, segs, opts, log, version):
        if (req.header("ConsistencyLevel") or "").lower() != "eventual":
            raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
        tenant = auth.tenant
        users = list(tenant.users.values())
        if "$filter" in opts:
            flt = gs_odata.compile_filter(tenant.md, "user", USER_LABEL, opts["$filter"], True,
                                          self.sim.cfg.get("max_filter_clauses", 15))
            users = [u for u in users if flt(u.p)]
        return Response(200, raw=str(len(users)).encode(), content_type="text/plain;charset=utf-8")

    # ---- GET /users/{id} -------------------------------------------------
    def h_user_get(self, req, auth, segs, opts, log, version):
        tenant = auth.tenant
        self._unsupported_opts(opts, {"$select", "$expand"})
        select, explicit = self._select(tenant, opts)
        u = tenant.get_user(segs[1])
        log["user"] = segs[1]
        if u is None:
            raise GraphError(404, "Request_ResourceNotFound",
                             "Resource '%s' does not exist or one of its queried reference-property objects are not present." % segs[1])
        sel = select if explicit else list(DEFAULT_USER_SELECT)
        body = {"@odata.context": self._context(tenant, version, "users", select if explicit else None, entity=True)}
        body.update(tenant.render(u, sel))
        return Response(200, body)

    # ---- PATCH /users/{id} -----------------------------------------------
    def h_user_patch(self, req, auth, segs, opts, log, version):
        tenant = auth.tenant
        body = json_body(req)
        log["user"] = segs[1]
        if isinstance(body, dict):
            log["body"] = {k: body[k] for k in body if k in ("userType", "accountEnabled", "usageLocation")}
            log["keys"] = sorted(body.keys())
        u = tenant.get_user(segs[1])
        if u is None:
            raise GraphError(404, "Request_ResourceNotFound",
                             "Resource '%s' does not exist or one of its queried reference-property objects are not present." % segs[1])
        if body is None:
            body = {}
        tenant.patch_user(u, body)
        return Response(204)

    # ---- POST /invitations -------------------------------------------------
    def h_invite(self, req, auth, segs, opts, log, version):
        sim, tenant = self.sim, auth.tenant
        body = json_body(req)
        if isinstance(body, dict):
            iu = body.get("invitedUser") if isinstance(body.get("invitedUser"), dict) else {}
            log["body"] = {"invitedUser.id": iu.get("id") if iu else None,
                           "invitedUserEmailAddress": body.get("invitedUserEmailAddress"),
                           "sendInvitationMessage": body.get("sendInvitationMessage"),
                           "invitedUserType": body.get("invitedUserType"),
                           "resetRedemption": body.get("resetRedemption")}
        blocked = sim.faults.invitations_blocked(tenant)
        if blocked:
            reason = "Invitations are blocked for this directory due to suspicious activity"
        elif tenant.allow_invites_from not in ("everyone", "adminsGuestInvitersAndAllMembers"):
            reason = "Guest invitations not allowed for your company. Contact your company administrator for more details."
        else:
            reason = None
        result, user = tenant.invite(body, reason)
        sim.faults.count_invitation(tenant)
        log["invited_user"] = user.id
        return Response(201, result, headers={"Location": "https://%s/v1.0/invitations/%s" % (tenant.graph_host, result["id"])})

    # ---- beta convertExternalToInternalMemberUser --------------------------
    def h_convert(self, req, auth, segs, opts, log, version):
        tenant = auth.tenant
        body = json_body(req)
        log["user"] = segs[1]
        u = tenant.get_user(segs[1])
        if u is None:
            raise GraphError(404, "Request_ResourceNotFound",
                             "Resource '%s' does not exist or one of its queried reference-property objects are not present." % segs[1])
        return Response(200, tenant.convert_to_internal(u, body))

    # ---- GET /organization, /domains, authorizationPolicy -------------------
    def h_org(self, req, auth, segs, opts, log, version):
        tenant = auth.tenant
        self._unsupported_opts(opts, {"$select"})
        select, explicit = self._select(tenant, opts, "organization", "Microsoft.DirectoryServices.Organization")
        org = tenant.org_object()
        if explicit:
            org = {k: org[k] for k in select}
        if len(segs) == 2:
            if segs[1].lower() != tenant.id:
                raise GraphError(404, "Request_ResourceNotFound",
                                 "Resource '%s' does not exist or one of its queried reference-property objects are not present." % segs[1])
            body = {"@odata.context": self._context(tenant, version, "organization", select if explicit else None, True)}
            body.update(org)
            return Response(200, body)
        return Response(200, {"@odata.context": self._context(tenant, version, "organization", select if explicit else None),
                              "value": [org]})

    def h_domains(self, req, auth, segs, opts, log, version):
        tenant = auth.tenant
        self._unsupported_opts(opts, {"$select"})
        select, explicit = self._select(tenant, opts, "domain", "Microsoft.DirectoryServices.Domain")
        doms = tenant.domain_objects()
        if explicit:
            doms = [{k: d[k] for k in select} for d in doms]
        if len(segs) == 2:
            for d in tenant.domain_objects():
                if d["id"] == segs[1].lower():
                    body = {"@odata.context": self._context(tenant, version, "domains", select if explicit else None, True)}
                    body.update({k: d[k] for k in select} if explicit else d)
                    return Response(200, body)
            raise GraphError(404, "Request_ResourceNotFound",
                             "Resource '%s' does not exist or one of its queried reference-property objects are not present." % segs[1])
        return Response(200, {"@odata.context": self._context(tenant, version, "domains", select if explicit else None),
                              "value": doms})

    def h_authz_policy(self, req, auth, segs, opts, log, version):
        tenant = auth.tenant
        # authorizationPolicy is not in the vendored CSDL extract; these are its
        # documented v1.0 property names.
        return Response(200, {
            "@odata.context": "https://%s/%s/$metadata#policies/authorizationPolicy/$entity" % (tenant.graph_host, version),
            "id": "authorizationPolicy",
            "displayName": "Authorization Policy",
            "description": "Used to manage authorization related settings across the company.",
            "allowInvitesFrom": tenant.allow_invites_from,
            "allowedToSignUpEmailBasedSubscriptions": True,
            "allowedToUseSSPR": True,
            "allowEmailVerifiedUsersToJoinOrganization": False,
            "blockMsolPowerShell": False,
            "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
        })

    def h_cta_policy(self, req, auth, segs, opts, log, version):
        """GET /policies/crossTenantAccessPolicy[/default|/partners[/{tenantId}]]
        (Learn: crossTenantAccessPolicy, ...ConfigurationDefault, ...ConfigurationPartner)."""
        tenant = auth.tenant
        pol = tenant.cta_policy()
        base = "https://%s/%s/$metadata#policies/crossTenantAccessPolicy" % (tenant.graph_host, version)
        if len(segs) == 2:
            return Response(200, {"@odata.context": base + "/$entity", "id": "crossTenantAccessPolicy",
                                  "displayName": "CrossTenantAccessPolicy",
                                  "allowedCloudEndpoints": pol["allowedCloudEndpoints"]})
        if segs[2] == "default":
            body = {"@odata.context": base + "/default/$entity"}
            body.update(pol["default"])
            return Response(200, body)
        if len(segs) == 4:
            for p in pol["partners"]:
                if p["tenantId"] == segs[3].lower():
                    body = {"@odata.context": base + "/partners/$entity"}
                    body.update(p)
                    return Response(200, body)
            raise GraphError(404, "Request_ResourceNotFound",
                             "Resource '%s' does not exist or one of its queried reference-property objects are not present." % segs[3])
        return Response(200, {"@odata.context": base + "/partners", "value": pol["partners"]})

    # ---- GET /users/delta (reference 2.5) -----------------------------------
    def h_delta(self, req, auth, segs, opts, log, version):
        sim, tenant = self.sim, auth.tenant
        for k in opts:
            if k not in ("$select", "$filter", "$deltatoken", "$skiptoken"):
                raise GraphError(400, "Request_BadRequest", "The query parameter '%s' is not supported with delta query." % k)
        prefer = (req.header("Prefer") or "").lower()
        minimal = "return=minimal" in prefer
        page = DELTA_PAGE
        for part in prefer.split(","):
            part = part.strip()
            if part.startswith("odata.maxpagesize="):
                try:
                    page = max(1, min(999, int(part.split("=", 1)[1])))
                except ValueError:
                    pass
        restart = "https://%s/%s/users/delta" % (tenant.graph_host, version)
        if "$skiptoken" in opts:
            cur = sim.deltas.get_cursor(opts["$skiptoken"], tenant)
            if cur is None:
                raise self._gone(restart)
            return self._delta_page(tenant, version, cur, log, page)
        if "$deltatoken" in opts:
            dt = opts["$deltatoken"]
            if dt.lower() == "latest":
                select, explicit = self._select(tenant, opts)
                state = {"seq": tenant.seq, "select": select if explicit else None, "ids": None}
                tok = sim.deltas.new_token(tenant, state)
                return Response(200, {"@odata.context": self._context(tenant, version, "users", select if explicit else None),
                                      "@odata.deltaLink": "https://%s/%s/users/delta?$deltatoken=%s" % (tenant.graph_host, version, tok),
                                      "value": []})
            state = sim.deltas.get_token(dt, tenant)
            if state is None:
                raise self._gone(restart)
            return self._delta_start(tenant, version, state["select"], state["ids"], state["seq"], minimal, log, page)
        select, explicit = self._select(tenant, opts)
        ids = None
        if "$filter" in opts:
            ids = self._delta_filter_ids(opts["$filter"])
        return self._delta_start(tenant, version, select if explicit else None, ids, None, minimal, log, page)

    def _gone(self, restart):
        return GraphError(410, "syncStateNotFound",
                          "The sync state generation is not found or has expired. Please restart the sync by following the Location header.",
                          {"Location": restart})

    def _delta_filter_ids(self, text):
        ast = gs_odata.parse_filter(text)
        ids = []

        def walk(n):
            if n[0] == "or":
                walk(n[1])
                walk(n[2])
            elif n[0] == "cmp" and n[1] == "eq" and n[2].lower() == "id" and n[3][0] == "lit" and isinstance(n[3][1], str):
                ids.append(n[3][1].lower())
            else:
                raise GraphError(400, "Request_UnsupportedQuery",
                                 "Unsupported query: only $filter=id eq '...' (joined with or) is supported with delta query.")
        walk(ast)
        if len(ids) > 50:
            raise GraphError(400, "Request_UnsupportedQuery",
                             "Too many ids in the delta filter: %d. Max allowed: 50." % len(ids))
        return ids

    def _delta_start(self, tenant, version, select, ids, since, minimal, log, page):
        sel = select if select is not None else list(DEFAULT_USER_SELECT)
        tracked = set(sel)
        items = []
        end_seq = tenant.seq
        idset = set(ids) if ids is not None else None
        if since is None:
            for u in tenant.sorted_users():
                if idset is None or u.id in idset:
                    items.append(("u", u.id, None))
        else:
            for u in tenant.sorted_users():
                if idset is not None and u.id not in idset:
                    continue
                if u.created_seq > since:
                    items.append(("u", u.id, None))
                    continue
                changed = [k for k in sel if u.chg.get(k, 0) > since]
                if changed:
                    items.append(("u", u.id, changed if minimal else None))
            for u in sorted(tenant.deleted.values(), key=lambda x: x.id):
                if idset is not None and u.id not in idset:
                    continue
                if u.deleted_seq is not None and u.deleted_seq > since:
                    items.append(("d", u.id, u.deleted_reason or "changed"))
        self.sim.rng.shuffle(items)   # order is not guaranteed (reference 2.5)
        cur = {"items": items, "pos": 0, "select": sel, "explicit": select, "ids": ids, "end_seq": end_seq,
               "context": self._context(tenant, version, "users", select), "version": version}
        log["delta"] = "initial" if since is None else "incremental"
        return self._delta_page(tenant, version, cur, log, page)

    def _delta_page(self, tenant, version, cur, log, page):
        out = []
        items = cur["items"]
        pos = cur["pos"]
        while pos < len(items) and len(out) < page:
            kind, uid, extra = items[pos]
            pos += 1
            if kind == "u":
                u = tenant.users.get(uid)
                if u is None:
                    continue
                if extra:   # return=minimal: changed properties only
                    d = {"id": u.id}
                    d.update(tenant.render(u, [k for k in cur["select"] if k in extra and k != "id"]))
                else:
                    d = tenant.render(u, cur["select"])
                    if "id" not in d:
                        d = dict(d, id=u.id)
                out.append(d)
            else:
                out.append({"id": uid, "@removed": {"reason": extra}})
        cur["pos"] = pos
        body = {"@odata.context": cur["context"]}
        if pos < len(items):
            tok = self.sim.deltas.save_cursor(tenant, cur)
            body["@odata.nextLink"] = "https://%s/%s/users/delta?$skiptoken=%s" % (tenant.graph_host, version, tok)
        else:
            tok = self.sim.deltas.new_token(tenant, {"seq": cur["end_seq"], "select": cur["explicit"], "ids": cur["ids"]})
            body["@odata.deltaLink"] = "https://%s/%s/users/delta?$deltatoken=%s" % (tenant.graph_host, version, tok)
        body["value"] = out
        log["returned"] = len(out)
        resp = Response(200, body)
        return resp

    # ---- POST /$batch (reference section 3) ---------------------------------
    def h_batch(self, req, auth, segs, opts, log, version):
        sim = self.sim
        body = json_body(req)
        if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
            raise GraphError(400, "BadRequest", "Invalid batch payload format.")
        reqs = body["requests"]
        if len(reqs) > MAX_BATCH:
            raise GraphError(400, "BadRequest", "The number of batch requests (%d) exceeds the maximum of %d." % (len(reqs), MAX_BATCH))
        if not reqs:
            raise GraphError(400, "BadRequest", "Invalid batch payload format: the requests array is empty.")
        seen = set()
        for r in reqs:
            if not isinstance(r, dict) or not isinstance(r.get("id"), str) or not r.get("id") \
                    or not isinstance(r.get("method"), str) or not isinstance(r.get("url"), str):
                raise GraphError(400, "BadRequest", "Invalid batch payload format: every request needs string id, method and url.")
            if r["id"] in seen:
                raise GraphError(400, "BadRequest", "Batch request contains duplicate request id '%s'." % r["id"])
            seen.add(r["id"])
        for r in reqs:
            for dep in r.get("dependsOn") or []:
                if dep not in seen:
                    raise GraphError(400, "BadRequest", "Request id '%s' depends on an unknown request id '%s'." % (r["id"], dep))
        log["batch_size"] = len(reqs)
        statuses = {}
        responses = []
        for r in reqs:
            rid = r["id"]
            deps = r.get("dependsOn") or []
            if any(statuses.get(d, 424) >= 400 for d in deps):
                item = {"id": rid, "status": 424, "headers": {"Content-Type": "application/json"},
                        "body": {"error": {"code": "FailedDependency",
                                           "message": "Request with id %s depends on a request that failed." % rid}}}
                statuses[rid] = 424
                responses.append(item)
                sim.log_item(req, r, item, None, auth)
                continue
            item, resp = self._batch_item(req, auth, r, version)
            statuses[rid] = item["status"]
            responses.append(item)
            sim.log_item(req, r, item, resp, auth)
        sim.rng.shuffle(responses)
        if sim.faults.batch_garbled(auth.tenant):
            # carried out, but the answer arrives cut short (README, faults)
            text = json.dumps({"responses": responses})
            log["fault"] = "batch_garbled"
            return Response(200, raw=text[:len(text) // 2].encode(), content_type="application/json")
        return Response(200, {"responses": responses})

    def _batch_item(self, req, auth, r, version):
        sim = self.sim
        url = r["url"]
        headers = {k: str(v) for k, v in (r.get("headers") or {}).items()} if isinstance(r.get("headers"), dict) else {}
        body_obj = r.get("body")
        method = r["method"].upper()

        def item_error(status, code, message, extra=None):
            h = {"Content-Type": "application/json"}
            h.update(extra or {})
            return {"id": r["id"], "status": status, "headers": h,
                    "body": {"error": {"code": code, "message": message,
                                       "innerError": {"date": iso(), "request-id": rid,
                                                      "client-request-id": crid}}}}, None

        rid = sim.rng.guid()
        crid = headers.get("client-request-id") or req.client_request_id
        if url.lower().startswith("http://") or url.lower().startswith("https://"):
            return item_error(400, "BadRequest", "Batch request urls must be relative.")
        if "body" in r and body_obj is not None and not any(k.lower() == "content-type" for k in headers):
            return item_error(400, "BadRequest", "Write request id : %s does not contain Content-Type header or body." % r["id"])
        # per-item fault injection (429 / 503)
        f = sim.faults.item_fault(auth.tenant, url)
        if f == 429:
            return item_error(429, "TooManyRequests", "Too many requests (graphsim fault injection).",
                              {"Retry-After": fmt_seconds(sim.faults.retry_after())})
        if f == 503:
            return item_error(503, "serviceNotAvailable", "The service is temporarily unavailable (graphsim fault injection).",
                              {"Retry-After": fmt_seconds(sim.faults.retry_after())})
        path, _, query = url.lstrip("/").partition("?")
        if path.split("/")[0].lower() == "$batch":
            return item_error(400, "BadRequest", "A batch request cannot contain a nested $batch request.")
        body_bytes = b""
        if body_obj is not None:
            if isinstance(body_obj, str):
                body_bytes = body_obj.encode("utf-8")
            else:
                body_bytes = json.dumps(body_obj).encode("utf-8")
        sub_headers = dict(headers)
        sub = Req(method, req.host, "/%s/%s" % (version, path), query, sub_headers, body_bytes, rid, crid)
        resp = self.handle(sub, auth=auth)
        resp.log["request_id"] = rid
        h = {}
        if resp.body is not None or resp.raw is not None:
            h["Content-Type"] = "application/json" if resp.raw is None else (resp.content_type or "text/plain")
        for k, v in resp.headers.items():
            h[k] = v
        item = {"id": r["id"], "status": resp.status, "headers": h}
        if resp.raw is not None:
            item["body"] = resp.raw.decode("utf-8", "replace")
        elif resp.body is not None:
            item["body"] = resp.body
        return item, resp
