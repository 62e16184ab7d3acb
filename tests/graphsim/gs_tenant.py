"""State of one simulated tenant: users, domains, organization, apps, change
journal for /users/delta, and the conversion semantics of reference
graph-api.md section 1."""
import copy
import struct
import threading
import time
import uuid

import gs_metadata
from gs_auth import App
from gs_common import CLOUDS, GraphError, iso

DEFAULT_USER_SELECT = ["businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
                       "officeLocation", "preferredLanguage", "surname", "userPrincipalName"]

# Properties on-prem AD masters for a synced user: Graph refuses to change them
# (reference 1.1 / 7.2: "Unable to update the specified properties for
# on-premises mastered Directory Sync objects ...").
SYNC_MASTERED = {
    "accountEnabled", "businessPhones", "city", "companyName", "country", "department", "displayName",
    "employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData", "employeeType", "faxNumber",
    "givenName", "jobTitle", "mail", "mailNickname", "mobilePhone", "officeLocation",
    "onPremisesExtensionAttributes", "onPremisesImmutableId", "otherMails", "passwordProfile", "postalCode",
    "preferredLanguage", "showInAddressList", "state", "streetAddress", "surname", "userPrincipalName",
}
# Graph's answer to an update of what the directory holds as mastered
# elsewhere (reference §1.8, §7.2: graph-docs#7301).
MASTERED = ("Unable to update the specified properties for on-premises mastered Directory Sync objects "
            "or objects currently undergoing migration.")

# Never writable through PATCH /users/{id}.
READ_ONLY = {
    "id", "deletedDateTime", "createdDateTime", "creationType", "externalUserState",
    "externalUserStateChangeDateTime", "assignedPlans", "provisionedPlans", "licenseAssignmentStates",
    "assignedLicenses", "proxyAddresses", "imAddresses", "securityIdentifier", "signInActivity",
    "signInSessionsValidFromDateTime", "lastPasswordChangeDateTime", "onPremisesDistinguishedName",
    "onPremisesDomainName", "onPremisesLastSyncDateTime", "onPremisesProvisioningErrors",
    "onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName", "serviceProvisioningErrors", "isResourceAccount", "isManagementRestricted",
    "mailboxSettings", "print", "identityParentId", "legalAgeGroupClassification", "authorizationInfo",
}

INVALID_EMAIL_CHARS = set('~!#$%^&*()+=[]{}\\/|;:"<>?,')

INVITE_ALLOWED_APP_ONLY = {"everyone", "adminsGuestInvitersAndAllMembers"}


class User:
    __slots__ = ("p", "chg", "created_seq", "connector", "ad_guid", "converted_to_internal", "member_of",
                 "invitations", "deleted_seq", "deleted_reason", "directory_roles", "shadow")

    def __init__(self, props):
        self.p = props              # canonical Graph property name -> JSON value
        self.chg = {}               # property -> seq of its last change
        self.created_seq = 0
        self.connector = False      # provisioned by the tenant's Connect
        self.ad_guid = None         # AD objectGUID (base64) joined in the connector space
        self.converted_to_internal = None   # time of convertExternalToInternalMemberUser
        self.member_of = []         # group ids (kept across conversions)
        self.invitations = 0
        self.deleted_seq = None
        self.deleted_reason = None
        self.directory_roles = []   # names of directory roles the user holds
        self.shadow = None          # (until, props): what reads show during replication lag

    @property
    def id(self):
        return self.p["id"]


def cloud_sid(object_id):
    """The cloud securityIdentifier Entra derives from the object id (S-1-12-1-...)."""
    b = uuid.UUID(object_id).bytes_le
    return "S-1-12-1-%d-%d-%d-%d" % struct.unpack("<IIII", b)


class Tenant:
    def __init__(self, cfg, sim, base_dir, pubkey_dir):
        self.sim = sim
        self.cfg = cfg
        self.name = cfg["name"]
        self.id = cfg["id"].lower()
        self.cloud = cfg.get("cloud", "global")
        if self.cloud not in CLOUDS:
            raise ValueError("tenant %s: unknown cloud %r (global, usgov-high, usgov-dod, china)" % (self.name, self.cloud))
        self.display_name = cfg.get("display_name", self.name)
        self.initial_domain = (cfg.get("initial_domain") or
                               "%s.%s" % (self.name.lower().replace("_", "").replace(" ", ""),
                                          CLOUDS[self.cloud]["initial_suffix"])).lower()
        self.verified = [d.lower() for d in cfg.get("verified_domains", [])]
        self.default_domain = (cfg.get("default_domain") or (self.verified[0] if self.verified else self.initial_domain)).lower()
        self.unverified = [d.lower() for d in cfg.get("unverified_domains", [])]
        self.size = cfg.get("size", "auto")
        gi = cfg.get("guest_invitations_allowed", True)
        if isinstance(gi, bool):
            gi = "everyone" if gi else "none"
        self.allow_invites_from = gi
        self.country_letter_code = cfg.get("country_letter_code", "US")
        self.connect = dict(cfg.get("connect", {}))
        self.connect.setdefault("write_onpremises_upn", cfg.get("write_onpremises_upn", True))
        self.connect.setdefault("anchor", "mS-DS-ConsistencyGuid")
        self.connect.setdefault("deletion_threshold", 500)
        self.md = gs_metadata.load(CLOUDS[self.cloud]["metadata"])
        self.graph_host = CLOUDS[self.cloud]["graph_hosts"][0]
        self.apps = {}
        for a in cfg.get("apps", []):
            app = App(a, base_dir, pubkey_dir)
            app.service_principal_id = sim.rng.guid()
            self.apps[app.client_id] = app
        self.lock = threading.RLock()
        self.users = {}
        self.deleted = {}
        self.idx_upn = {}
        self._sorted = None      # cached id order of self.users
        self._idx_immutable = None  # lowercase onPremisesImmutableId -> ids, built on demand
        self.seq = 0
        self.created = sim.clock.now() - 86400 * 400
        self.org_last_sync = None
        self.org_sync_enabled = None
        self.connect_runs = []
        self.invitations_sent = 0
        # B2B collaboration settings (README, "POST /invitations"): the allow
        # or deny list of domains, users the service refuses with "Invalid
        # request input", and the cross-tenant access policy, enforced only
        # when enforce_cross_tenant_access is true (the default stays open)
        self.b2b_domains = None
        self.invalid_request_input = set()
        self.cross_tenant_access = {}
        self.enforce_cross_tenant_access = False
        # users whose PATCH the service refuses as an object "currently
        # undergoing migration" (README, "PATCH /users/{id}")
        self.undergoing_migration = set()
        for k in ("b2b_domains", "invalid_request_input", "cross_tenant_access", "enforce_cross_tenant_access",
                  "undergoing_migration"):
            if k in cfg:
                self.set_b2b_setting(k, cfg[k])
        for u in cfg.get("users", []):
            self.seed_user(u)
        self.users_by_immutable_ids(())   # the index, as the directory has it

    # ---- domains ----------------------------------------------------------
    def all_domains(self):
        return self.verified + [self.initial_domain]

    def is_verified_domain(self, domain):
        d = (domain or "").lower().strip(".")
        for v in self.all_domains():
            if d == v or d.endswith("." + v):
                return True
        return False

    def size_class(self):
        if self.size in ("S", "M", "L"):
            return self.size
        from gs_throttle import size_class
        return size_class(len(self.users))

    # ---- journal ----------------------------------------------------------
    def bump(self):
        self.seq += 1
        return self.seq

    def set_prop(self, u, name, value, seq=None):
        if u.p.get(name) == value and name in u.p:
            return False
        old = u.p.get(name)
        u.p[name] = copy.deepcopy(value)
        u.chg[name] = seq if seq is not None else self.bump()
        if name == "onPremisesImmutableId":
            self._idx_immutable = None
        if name == "userPrincipalName" and u.id in self.users:
            if old and self.idx_upn.get(old.lower()) == u.id:
                del self.idx_upn[old.lower()]
            if value:
                self.idx_upn[value.lower()] = u.id
        return True

    def sorted_users(self):
        """Users in object-id order (the listing order), cached."""
        if self._sorted is None or len(self._sorted) != len(self.users):
            self._sorted = sorted(self.users)
        return [self.users[i] for i in self._sorted if i in self.users]

    def users_by_immutable_ids(self, values):
        """The users whose onPremisesImmutableId is one of values (case-insensitive),
        in the listing order: the directory's index on the property, so that a
        lookup costs what it costs in Entra ID, not a scan of the tenant."""
        if self._idx_immutable is None:
            idx = {}
            for uid, u in self.users.items():
                v = u.p.get("onPremisesImmutableId")
                if isinstance(v, str):
                    idx.setdefault(v.lower(), []).append(uid)
            self._idx_immutable = idx
        ids = set()
        for v in values:
            if isinstance(v, str):
                ids.update(self._idx_immutable.get(v.lower(), ()))
        return [self.users[i] for i in sorted(ids) if i in self.users]

    def _reindex(self):
        self._sorted = None
        self._idx_immutable = None
        self.idx_upn = {u.p.get("userPrincipalName", "").lower(): uid for uid, u in self.users.items()}

    def new_user(self, props, connector=False):
        uid = props.get("id") or self.sim.rng.guid()
        p = {"id": uid}
        now = iso()
        p.setdefault("createdDateTime", now)
        p.update(props)
        p["id"] = uid
        p.setdefault("createdDateTime", now)
        p.setdefault("userType", "Member")
        p.setdefault("accountEnabled", True)
        p.setdefault("creationType", None)
        p.setdefault("externalUserState", None)
        p.setdefault("externalUserStateChangeDateTime", None)
        p.setdefault("securityIdentifier", cloud_sid(uid))
        if "identities" not in p:
            p["identities"] = [{"signInType": "userPrincipalName", "issuer": self.initial_domain,
                                "issuerAssignedId": p.get("userPrincipalName")}]
        u = User(p)
        u.connector = connector
        seq = self.bump()
        u.created_seq = seq
        for k in p:
            u.chg[k] = seq
        self.users[uid] = u
        self._sorted = None
        imm = p.get("onPremisesImmutableId")
        if self._idx_immutable is not None and isinstance(imm, str):
            self._idx_immutable.setdefault(imm.lower(), []).append(uid)
        self.idx_upn[(p.get("userPrincipalName") or "").lower()] = uid
        return u

    def delete_user(self, u, reason="changed"):
        """Soft delete (reference 2.5: @removed reason 'changed' = restorable)."""
        self.users.pop(u.id, None)
        self._reindex()
        u.deleted_seq = self.bump()
        u.deleted_reason = reason
        u.p["deletedDateTime"] = iso()
        self.deleted[u.id] = u

    def restore_user(self, u):
        self.deleted.pop(u.id, None)
        u.p["deletedDateTime"] = None
        u.deleted_seq = None
        self.users[u.id] = u
        seq = self.bump()
        u.created_seq = seq
        for k in u.p:
            u.chg[k] = seq
        self._reindex()
        return u

    def seed_user(self, props):
        """Create a user from config or the /_sim hook (no Graph rules applied)."""
        props = dict(props)
        member_of = props.pop("_memberOf", [])
        connector = bool(props.pop("_connector", False))
        bad = [k for k in props if not self.md.is_structural("user", k)]
        if bad:
            raise GraphError(400, "Request_BadRequest",
                             "Property '%s' does not exist as a declared property or extension property." % bad[0])
        for k, v in props.items():
            err = self.md.check_value(self.md.prop("user", k), v)
            if err:
                raise GraphError(400, "Request_BadRequest", err)
        u = self.new_user(props, connector=connector)
        u.member_of = list(member_of)
        return u

    # ---- lookup -----------------------------------------------------------
    def get_user(self, ref):
        """By object id or by userPrincipalName (reference: GET /users/{id|upn})."""
        if ref in self.users:
            return self.users[ref]
        low = ref.lower()
        if low in self.users:
            return self.users[low]
        uid = self.idx_upn.get(low)
        return self.users.get(uid) if uid else None

    def find_by_address(self, addr):
        a = addr.lower()
        for u in self.users.values():
            p = u.p
            if (p.get("mail") or "").lower() == a or (p.get("userPrincipalName") or "").lower() == a:
                return u
            if any((m or "").lower() == a for m in p.get("otherMails") or []):
                return u
            if any((x or "").lower() == "smtp:" + a for x in p.get("proxyAddresses") or []):
                return u
        return None

    # ---- rendering --------------------------------------------------------
    # ---- B2B collaboration settings -------------------------------------------
    def set_b2b_setting(self, k, v):
        if k == "b2b_domains":
            if v is not None and (not isinstance(v, dict) or len(v) != 1 or list(v)[0] not in ("allow", "deny")
                                  or not isinstance(list(v.values())[0], list)):
                raise GraphError(400, "BadRequest", "b2b_domains: {\"allow\": [domains]} or {\"deny\": [domains]} or null")
            self.b2b_domains = {k2: [d.lower() for d in v2] for k2, v2 in v.items()} if v else None
        elif k == "invalid_request_input":
            self.invalid_request_input = {x.lower() for x in v or []}
        elif k == "undergoing_migration":
            self.undergoing_migration = {x.lower() for x in v or []}
        elif k == "cross_tenant_access":
            if not isinstance(v, dict):
                raise GraphError(400, "BadRequest", "cross_tenant_access: an object")
            self.cross_tenant_access = copy.deepcopy(v)
        elif k == "enforce_cross_tenant_access":
            self.enforce_cross_tenant_access = bool(v)

    def cta_policy(self):
        """The crossTenantAccessPolicy as Graph shows it: allowedCloudEndpoints,
        the default configuration and the partner entries (service defaults
        where the tenant's config says nothing)."""
        c = self.cross_tenant_access or {}
        allow_all = {"usersAndGroups": {"accessType": "allowed", "targets": [{"target": "AllUsers", "targetType": "user"}]},
                     "applications": {"accessType": "allowed", "targets": [{"target": "AllApplications", "targetType": "application"}]}}
        d = {"isServiceDefault": "default" not in c,
             "b2bCollaborationInbound": copy.deepcopy(allow_all), "b2bCollaborationOutbound": copy.deepcopy(allow_all)}
        d.update(copy.deepcopy(c.get("default") or {}))
        partners = []
        for e in c.get("partners") or []:
            p = {"tenantId": e["tenantId"].lower(), "isServiceProvider": False,
                 "b2bCollaborationInbound": None, "b2bCollaborationOutbound": None}
            p.update({k: copy.deepcopy(v) for k, v in e.items() if k != "tenantId"})
            partners.append(p)
        return {"allowedCloudEndpoints": list(c.get("allowedCloudEndpoints") or []), "default": d, "partners": partners}

    @staticmethod
    def _allows(setting):
        ug = (setting or {}).get("usersAndGroups") or {}
        all_users = any(t.get("target") == "AllUsers" for t in ug.get("targets") or [])
        return ug.get("accessType") == "allowed" and all_users

    def b2b_direction_allowed(self, other, direction):
        """Whether this tenant's policy lets B2B collaboration go `direction`
        ("Inbound" or "Outbound") with tenant `other` (cross-cloud-settings:
        another cloud must be enabled and the partner added; then, as for
        a partner of the same cloud, its entry or else the default applies)."""
        pol = self.cta_policy()
        partner = next((p for p in pol["partners"] if p["tenantId"] == other.id), None)
        if other.cloud_endpoint() != self.cloud_endpoint():
            if other.cloud_endpoint() not in pol["allowedCloudEndpoints"] or partner is None:
                return False
        key = "b2bCollaboration" + direction
        setting = partner.get(key) if partner and partner.get(key) is not None else pol["default"][key]
        return self._allows(setting)

    def cloud_endpoint(self):
        """The Microsoft cloud as allowedCloudEndpoints names it."""
        return {"global": "microsoftonline.com", "china": "partner.microsoftonline.cn"}.get(
            self.cloud, "microsoftonline.us")

    def note_write(self, u):
        """A Graph write to u: during replication_lag, reads show u as before it."""
        lag = self.sim.faults.replication_lag()
        now = time.time()
        if lag > 0 and (u.shadow is None or u.shadow[0] <= now):
            u.shadow = (now + lag, copy.deepcopy(u.p))

    def visible_props(self, u):
        if u.shadow is not None and u.shadow[0] > time.time():
            return u.shadow[1]
        return u.p

    def render(self, u, select, type_name="user"):
        out = {}
        props = self.visible_props(u) if type_name == "user" else u.p
        for name in select:
            if name in props:
                out[name] = copy.deepcopy(props[name])
            else:
                out[name] = self.md.default_value(self.md.prop(type_name, name))
        return out

    def org_object(self):
        md = self.md
        vd = []
        for d in self.verified:
            vd.append({"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": d == self.default_domain,
                       "isInitial": False, "name": d, "type": "Managed"})
        vd.append({"capabilities": "Email, OfficeCommunicationsOnline",
                   "isDefault": self.initial_domain == self.default_domain,
                   "isInitial": True, "name": self.initial_domain, "type": "Managed"})
        vals = {
            "id": self.id, "deletedDateTime": None, "businessPhones": [], "city": None,
            "country": None, "countryLetterCode": self.country_letter_code,
            "createdDateTime": iso(self.created), "displayName": self.display_name,
            "marketingNotificationEmails": [], "onPremisesLastSyncDateTime": iso(self.org_last_sync) if self.org_last_sync else None,
            "onPremisesSyncEnabled": self.org_sync_enabled, "postalCode": None, "preferredLanguage": "en",
            "securityComplianceNotificationMails": [], "securityComplianceNotificationPhones": [],
            "state": None, "street": None, "technicalNotificationMails": [], "tenantType": "AAD",
            "verifiedDomains": vd, "assignedPlans": [], "provisionedPlans": [],
            "mobileDeviceManagementAuthority": "unknown", "privacyProfile": None,
            "partnerTenantType": None, "defaultUsageLocation": None,
        }
        out = {}
        for name in md.structural_names("organization"):
            out[name] = vals.get(name, md.default_value(md.prop("organization", name)))
        return out

    def domain_objects(self):
        out = []
        for d in self.verified + [self.initial_domain]:
            out.append({"authenticationType": "Managed", "availabilityStatus": None, "id": d,
                        "isAdminManaged": True, "isDefault": d == self.default_domain,
                        "isInitial": d == self.initial_domain, "isRoot": True, "isVerified": True,
                        "manufacturer": None, "model": None,
                        "passwordNotificationWindowInDays": 14, "passwordValidityPeriodInDays": 2147483647,
                        "state": None,
                        "supportedServices": ["Email", "OfficeCommunicationsOnline"]})
        for d in self.unverified:
            out.append({"authenticationType": "Managed", "availabilityStatus": None, "id": d,
                        "isAdminManaged": True, "isDefault": False, "isInitial": False, "isRoot": True,
                        "isVerified": False, "manufacturer": None, "model": None,
                        "passwordNotificationWindowInDays": None, "passwordValidityPeriodInDays": None,
                        "state": None, "supportedServices": []})
        return out

    # ---- PATCH /users/{id} -------------------------------------------------
    def patch_user(self, u, body):
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Invalid request body: a JSON object was expected.")
        md = self.md
        changes = {}
        for k, v in body.items():
            if k.startswith("@"):
                continue
            c = md.canonical("user", k)
            if c is None or not md.is_structural("user", c):
                raise GraphError(400, "Request_BadRequest",
                                 "Property '%s' does not exist as a declared property or extension property." % k)
            err = md.check_value(md.prop("user", c), v)
            if err:
                raise GraphError(400, "BadRequest", err)
            changes[c] = v
        synced = u.p.get("onPremisesSyncEnabled") is True
        for c in changes:
            if c in READ_ONLY and not (c == "onPremisesExtensionAttributes" and not synced):
                if c == "onPremisesImmutableId":
                    continue
                raise GraphError(400, "Request_BadRequest",
                                 "Property '%s' is read-only and cannot be set." % c)
        if synced and any(c in SYNC_MASTERED for c in changes):
            raise GraphError(400, "Request_BadRequest", MASTERED)
        if "userType" in changes and changes["userType"] not in ("Member", "Guest"):
            raise GraphError(400, "Request_BadRequest",
                             "Invalid value specified for property 'userType' of resource 'User'.")
        self._update_refusals(u)
        if "userPrincipalName" in changes:
            upn = changes["userPrincipalName"] or ""
            dom = upn.rpartition("@")[2]
            if "@" not in upn or not self.is_verified_domain(dom):
                raise GraphError(400, "Request_BadRequest",
                                 "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.")
            other = self.get_user(upn)
            if other is not None and other is not u:
                raise GraphError(400, "Request_BadRequest",
                                 "Another object with the same value for property userPrincipalName already exists.")
        self.note_write(u)
        seq = self.bump()
        for c, v in changes.items():
            self.set_prop(u, c, v, seq)
        if "userPrincipalName" in changes:
            self._sync_upn_identity(u, seq)
        return list(changes)

    def _update_refusals(self, u):
        """Refusals of one update, about this user only (README)."""
        if u.directory_roles:
            # an app-only caller with User.ReadWrite.All alone may not update
            # a user who holds an administrator role (Learn, Update user and
            # "Who can perform sensitive actions"; Q&A 1611025: 403 for any
            # property); the simulated apps hold no directory role
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        ids = {u.id.lower(), (u.p.get("userPrincipalName") or "").lower()}
        if ids & self.undergoing_migration:
            raise GraphError(400, "Request_BadRequest", MASTERED)

    def _sync_upn_identity(self, u, seq=None):
        ids = copy.deepcopy(u.p.get("identities") or [])
        for i in ids:
            if i.get("signInType") == "userPrincipalName":
                i["issuerAssignedId"] = u.p.get("userPrincipalName")
        self.set_prop(u, "identities", ids, seq)

    # ---- POST /invitations (reference 1.1-1.6) -----------------------------
    def invite(self, body, app_only_blocked_reason=None):
        md = self.md
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Invalid request body: a JSON object was expected.")
        for k, v in body.items():
            if k.startswith("@"):
                continue
            c = md.canonical("invitation", k)
            if c is None:
                raise GraphError(400, "BadRequest",
                                 "Property '%s' does not exist as a declared property or extension property." % k)
            if md.is_structural("invitation", c):
                err = md.check_value(md.prop("invitation", c), v)
                if err:
                    raise GraphError(400, "BadRequest", err)
            elif c == "invitedUser":
                if v is not None and not isinstance(v, dict):
                    raise GraphError(400, "BadRequest", "Invalid value for property 'invitedUser'.")
                for uk in (v or {}):
                    if uk.startswith("@"):
                        continue
                    uc = md.canonical("user", uk)
                    if uc is None or not md.is_structural("user", uc):
                        raise GraphError(400, "BadRequest",
                                         "Property '%s' does not exist as a declared property or extension property." % uk)
                    err = md.check_value(md.prop("user", uc), v[uk])
                    if err:
                        raise GraphError(400, "BadRequest", err)
            elif c == "invitedUserSponsors":
                if not isinstance(v, list):
                    raise GraphError(400, "BadRequest", "Invalid value for property 'invitedUserSponsors'.")
            else:
                raise GraphError(400, "BadRequest", "Property '%s' is read-only and cannot be set." % k)
        b = {md.canonical("invitation", k): v for k, v in body.items() if not k.startswith("@")}
        email = b.get("invitedUserEmailAddress")
        redirect = b.get("inviteRedirectUrl")
        if not email:
            raise GraphError(400, "BadRequest", "The invitedUserEmailAddress property is required.")
        if not redirect:
            raise GraphError(400, "BadRequest", "The inviteRedirectUrl property is required.")
        local, at, dom = email.rpartition("@")
        if not at or not local or not dom or any(ch in INVALID_EMAIL_CHARS for ch in email) \
                or local[0] in ".-" or local[-1] in ".-" or dom[0] in ".-" or dom[-1] in ".-" or "." not in dom:
            raise GraphError(400, "BadRequest", "The invited user email address is invalid.")
        if app_only_blocked_reason:
            raise GraphError(403, "Forbidden", app_only_blocked_reason)
        invited_type = b.get("invitedUserType") or "Guest"
        if invited_type not in ("Guest", "Member"):
            raise GraphError(400, "BadRequest", "The invitedUserType property must be either 'Guest' or 'Member'.")
        reset = bool(b.get("resetRedemption"))
        inv_user = b.get("invitedUser") or {}
        uid = None
        for k, v in inv_user.items():
            if k.lower() == "id":
                uid = v
        if reset and not uid:
            raise GraphError(400, "BadRequest", "The invitedUser/id property is required when resetRedemption is true.")
        now = iso()
        if not uid:
            # A plain guest invitation: the service looks the address up.
            existing = self.find_by_address(email)
            if existing is not None and existing.p.get("externalUserState") is None:
                raise GraphError(400, "BadRequest",
                                 "The invited user already exists in the directory as objectID: %s" % existing.id)
            if existing is None and self.is_verified_domain(dom):
                raise GraphError(400, "BadRequest",
                                 "The invited user email address cannot be in a verified domain of the inviting tenant.")
            if existing is None:
                upn = "%s#EXT#@%s" % (email.replace("@", "_"), self.initial_domain)
                existing = self.new_user({
                    "userPrincipalName": upn, "mail": email, "otherMails": [email],
                    "displayName": b.get("invitedUserDisplayName") or local,
                    "userType": invited_type, "creationType": "Invitation",
                    "externalUserState": "PendingAcceptance", "externalUserStateChangeDateTime": now,
                    "mailNickname": email.replace("@", "_") + "#EXT#", "accountEnabled": True,
                    "showInAddressList": False,
                })
            user = existing
            user.invitations += 1
        else:
            user = self.get_user(uid) if isinstance(uid, str) else None
            if user is None or user.id != uid.lower() and user.id != uid:
                raise GraphError(404, "Request_ResourceNotFound",
                                 "Resource '%s' does not exist or one of its queried reference-property objects are not present." % uid)
            p = user.p
            if user.converted_to_internal is not None:
                raise GraphError(412, "PreconditionFailed",
                                 "The user has been converted from an external user to an internal user and cannot be converted back to an external user.")
            if p.get("onPremisesUserPrincipalName"):
                raise GraphError(400, "BadRequest",
                                 "Converting this user to an external user is not supported: it is synchronized from on-premises with onPremisesUserPrincipalName set.")
            mail = p.get("mail")
            if not mail:
                raise GraphError(400, "BadRequest",
                                 "The user's mail property must be set to the external email address before the user can be invited.")
            if self.is_verified_domain(mail.rpartition("@")[2]):
                raise GraphError(400, "BadRequest",
                                 "User's email address cannot be in a verified domain. Please change the user's email to enable conversion to a B2B user.")
            if mail.lower() != email.lower():
                raise GraphError(400, "BadRequest",
                                 "The invitedUserEmailAddress must match the mail property of the invited user.")
            self._b2b_refusals(user, email)
            self.note_write(user)
            state = p.get("externalUserState")
            if state == "Accepted" and not reset:
                raise GraphError(400, "BadRequest",
                                 "The invited user has already redeemed an invitation. Use resetRedemption to reset the redemption status.")
            seq = self.bump()
            if reset and state == "Accepted":
                ids = [i for i in (p.get("identities") or []) if i.get("signInType") != "federated"]
                self.set_prop(user, "identities", ids, seq)
            if state != "PendingAcceptance" or reset:
                self.set_prop(user, "externalUserState", "PendingAcceptance", seq)
                self.set_prop(user, "externalUserStateChangeDateTime", now, seq)
            user.invitations += 1
        self.invitations_sent += 1
        login = CLOUDS[self.cloud]["login_hosts"][0]
        inv_id = self.sim.rng.guid()
        msg = b.get("invitedUserMessageInfo") or {}
        result = {
            "@odata.context": "https://%s/v1.0/$metadata#invitations/$entity" % self.graph_host,
            "id": inv_id,
            "inviteRedeemUrl": "https://%s/redeem?rd=https%%3a%%2f%%2finvitations.microsoft.com%%2fredeem%%2f%%3ftenant%%3d%s%%26user%%3d%s%%26ticket%%3d%s" % (
                login, self.id, user.id, self.sim.rng.token(18)),
            "invitedUserDisplayName": b.get("invitedUserDisplayName") or user.p.get("displayName"),
            "invitedUserType": invited_type,
            "invitedUserEmailAddress": email,
            "sendInvitationMessage": bool(b.get("sendInvitationMessage", False)),
            "resetRedemption": reset,
            "inviteRedirectUrl": redirect,
            "status": "PendingAcceptance",
            "invitedUserMessageInfo": {
                "messageLanguage": msg.get("messageLanguage"),
                "ccRecipients": msg.get("ccRecipients") or [{"emailAddress": {"name": None, "address": None}}],
                "customizedMessageBody": msg.get("customizedMessageBody"),
            },
            "invitedUser": {"id": user.id},
        }
        return result, user

    def _b2b_refusals(self, user, email):
        """Refusals of one invitation, about this user only (README)."""
        if user.directory_roles:
            # app-only callers cannot act on a directory-role holder
            # (reset-redemption-status); Graph's answer for privileged users
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        dom = email.rpartition("@")[2].lower()
        lst = self.b2b_domains
        if lst is not None:
            listed = any(dom == d or dom.endswith("." + d) for d in list(lst.values())[0])
            if ("deny" in lst) == listed:
                raise GraphError(403, "Forbidden", "The invitation cannot be sent: the domain %s is not allowed "
                                 "by this organization's B2B collaboration allow or deny list." % dom)
        ids = {user.id.lower(), (user.p.get("userPrincipalName") or "").lower()}
        if ids & self.invalid_request_input:
            raise GraphError(400, "BadRequest", "User invitation failed. Invalid request input.")
        # the inviting (resource) tenant's side only: its inbound setting and
        # its Microsoft cloud settings are checked at the time of invitation
        # (Learn, cross-tenant-access-settings-b2b-collaboration). The home
        # tenant's outbound side is not: the guest meets it at sign-in
        # (redeem below, AADSTS500212), so the invitation succeeds.
        home = self.cross_tenant_home(email)
        if home is not None and not self.b2b_direction_allowed(home, "Inbound"):
            raise GraphError(403, "Forbidden", "The invitation cannot be sent: the cross-tenant access settings "
                             "of this organization block B2B collaboration with the user's home "
                             "organization (%s)." % home.id)

    def cross_tenant_home(self, email):
        """With enforce_cross_tenant_access, the simulated tenant that is the
        home of this address (its domain verified there), if another one."""
        if not self.enforce_cross_tenant_access or not email:
            return None
        home = self.sim.home_tenant_of(email.rpartition("@")[2].lower())
        return home if home is not None and home is not self else None

    # ---- test hook: redemption ------------------------------------------------
    def redeem(self, u, issuer="ExternalAzureAD", issuer_assigned_id=None):
        if u.p.get("externalUserState") != "PendingAcceptance":
            raise GraphError(409, "Conflict", "The user has no pending invitation (externalUserState=%r)." % (
                u.p.get("externalUserState"),))
        # the guest signs in at home, then here: each side's cross-tenant
        # access is evaluated at sign-in (Entra's sign-in errors AADSTS500212
        # and AADSTS500213; README, "redeem"). The user stays PendingAcceptance.
        home = self.cross_tenant_home(u.p.get("mail"))
        if home is not None and not home.b2b_direction_allowed(self, "Outbound"):
            raise GraphError(403, "NotAllowedByOutboundPolicyTenant",
                             "AADSTS500212: The user's administrator has set an outbound access policy that "
                             "doesn't allow access to the resource tenant.")
        if home is not None and not self.b2b_direction_allowed(home, "Inbound"):
            raise GraphError(403, "NotAllowedByInboundPolicyTenant",
                             "AADSTS500213: The resource tenant's cross-tenant access policy doesn't allow this "
                             "user to access this tenant.")
        seq = self.bump()
        ids = copy.deepcopy(u.p.get("identities") or [])
        ids.append({"signInType": "federated", "issuer": issuer, "issuerAssignedId": issuer_assigned_id})
        self.set_prop(u, "identities", ids, seq)
        self.set_prop(u, "externalUserState", "Accepted", seq)
        self.set_prop(u, "externalUserStateChangeDateTime", iso(), seq)

    # ---- beta convertExternalToInternalMemberUser (reference 1.7) ------------
    def convert_to_internal(self, u, body):
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Invalid request body: a JSON object was expected.")
        allowed = {"mail": "mail", "passwordprofile": "passwordProfile", "userprincipalname": "userPrincipalName"}
        b = {}
        for k, v in body.items():
            if k.startswith("@"):
                continue
            c = allowed.get(k.lower())
            if c is None:
                raise GraphError(400, "BadRequest",
                                 "The parameter '%s' in the request payload is not a valid parameter for the operation 'convertExternalToInternalMemberUser'." % k)
            err = self.md.check_value(self.md.prop("user", c), v)
            if err:
                raise GraphError(400, "BadRequest", err)
            b[c] = v
        p = u.p
        federated = any(i.get("signInType") == "federated" for i in p.get("identities") or [])
        if p.get("externalUserState") != "Accepted" or not federated:
            raise GraphError(400, "BadRequest",
                             "The user authentication is already internal and is not eligible for conversion.")
        synced = p.get("onPremisesSyncEnabled") is True
        if synced:
            if b.get("userPrincipalName") or b.get("passwordProfile"):
                raise GraphError(400, "BadRequest",
                                 "For users synchronized from on-premises, userPrincipalName and passwordProfile must be empty.")
        else:
            if not b.get("userPrincipalName") or not b.get("passwordProfile"):
                raise GraphError(400, "BadRequest",
                                 "userPrincipalName and passwordProfile are required to convert a cloud user.")
            dom = b["userPrincipalName"].rpartition("@")[2]
            if not self.is_verified_domain(dom):
                raise GraphError(400, "BadRequest",
                                 "The domain of the userPrincipalName is not a verified domain of the tenant.")
        seq = self.bump()
        ids = [i for i in (p.get("identities") or []) if i.get("signInType") != "federated"]
        self.set_prop(u, "identities", ids, seq)
        self.set_prop(u, "externalUserState", None, seq)
        self.set_prop(u, "externalUserStateChangeDateTime", iso(), seq)
        if not synced:
            self.set_prop(u, "userPrincipalName", b["userPrincipalName"], seq)
            self._sync_upn_identity(u, seq)
        if "mail" in b:
            self.set_prop(u, "mail", b["mail"], seq)
        u.converted_to_internal = iso()
        return {
            "@odata.context": "https://%s/beta/$metadata#microsoft.graph.conversionUserDetails" % self.graph_host,
            "convertedToInternalUserDateTime": u.converted_to_internal,
            "displayName": p.get("displayName"),
            "mail": p.get("mail"),
            "userPrincipalName": p.get("userPrincipalName"),
        }

    # ---- dump for tests ------------------------------------------------------
    def dump_user(self, u):
        d = copy.deepcopy(u.p)
        d["_sim"] = {"connector": u.connector, "adObjectGuid": u.ad_guid,
                     "convertedToInternalUserDateTime": u.converted_to_internal,
                     "memberOf": u.member_of, "invitations": u.invitations,
                     "deletedReason": u.deleted_reason}
        return d

    def dump(self):
        one = self.dump_user
        return {
            "tenant": self.name, "id": self.id, "cloud": self.cloud, "seq": self.seq,
            "users": [one(u) for u in sorted(self.users.values(), key=lambda x: x.id)],
            "deleted": [one(u) for u in sorted(self.deleted.values(), key=lambda x: x.id)],
            "organization": {"onPremisesLastSyncDateTime": iso(self.org_last_sync) if self.org_last_sync else None,
                             "onPremisesSyncEnabled": self.org_sync_enabled},
            "connectRuns": self.connect_runs[-20:],
            "invitationsSent": self.invitations_sent,
        }
