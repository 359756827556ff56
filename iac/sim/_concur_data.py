"""The SAP Concur simulator's state: identities, product entitlements and Spend roles, generated from a seed.

Users are dense indexes with slotted records; their UUIDs are derived from the seed and the index
(a dict maps them back). Listing order is the index, which is also what a cursor remembers, so users
created through User Provisioning are appended and never shift a page a client is reading.

Writes arrive as SCIM operations from the User Provisioning API (`apply_operation`); each reports,
per schema extension, what it did — the shape of the provisioning status Concur returns.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# One pool of names for every simulated vendor.
from iac.sim._okta_data import _DEPARTMENTS, _FIRST_NAMES, _LAST_NAMES, _TITLES
from iac.sim._seeded import sub_random

__all__ = [
    "CORE_SCHEMA",
    "ENTERPRISE_SCHEMA",
    "ENTITLEMENTS",
    "SPEND_ROLES",
    "SPEND_ROLE_SCHEMA",
    "SPEND_USER_SCHEMA",
    "ConcurDataset",
    "ConcurUser",
    "ExtensionResult",
    "OperationOutcome",
    "concur_timestamp",
]

CORE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SPEND_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:spend:2.0:User"
SPEND_ROLE_SCHEMA = "urn:ietf:params:scim:schemas:extension:spend:2.0:Role"

# The product features of the Identity v4.1 `entitlements` enum: access to the base Concur products.
ENTITLEMENTS = ("Expense", "Invoice", "Locate", "Request", "Travel", "Analytics", "Unified Analytics")

# Spend role codes (Concur's "Spend Role Codes" page) -> group-aware (needs roleGroups). A subset.
SPEND_ROLES: dict[str, bool] = {
    "EXP_USER": False, "EXP_APPROVER": False, "EXP_PROCESSOR": True, "EXP_PROCESSOR_AUDIT": True,
    "EXP_PROXY_USER": True, "EXP_AUTH_REQUEST_APPROVER": False, "EXP_REIMBURSEMENT_APPROVER": True,
    "EXP_CASHADVANCE_ADMIN": True, "REQ_USER": False, "REQ_APPROVER": False, "TRAVEL_USER": False,
    "INV_APPROVER": False, "SHD_EMPLOYEE_ADMIN": True, "SHD_EMPLOYEE_ADMIN_RO": False, "SHD_ROLE_ADMIN": True,
    "SHD_BUDGET_ADMIN": False, "SHD_BUDGET_APPROVER": False, "SHD_BUDGET_VIEWER": False,
    "SHD_AUTHORIZED_APPROVER": False, "STATEMENT_USER": False,
}
_ROLE_GROUPS = ("", "US", "US-WA", "EMEA", "EMEA-DE", "APAC")  # "" is the global group
_TIMEZONES = ("America/Los_Angeles", "America/New_York", "America/Chicago", "Europe/London", "Europe/Berlin",
              "Asia/Tokyo", "Australia/Sydney")
_LANGUAGES = ("en-US", "en-US", "en-US", "en-GB", "de-DE", "fr-FR", "ja-JP")
_COST_CENTERS = ("CC-1000", "CC-1100", "CC-2000", "CC-2100", "CC-3000", "CC-4000")

_EPOCH_START = 1_546_300_800  # 2019-01-01
_EPOCH_SPAN = 1_767_225_600 - _EPOCH_START
_ROLE_FILTER = re.compile(r'roles\[roleName eq "([^"]+)"\]')
_ENTITLEMENT_FILTER = re.compile(r'entitlements\[value eq "([^"]+)"\]')


def concur_timestamp(epoch_seconds: float) -> str:
    """``2020-09-22T14:26:29.000Z``, as Concur's meta timestamps."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(epoch_seconds)))


def _date_time(epoch_seconds: float) -> str:
    """The enterprise extension's ``YYYY-MM-DD'T'hh:mm:ss'Z'`` (start and termination dates)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch_seconds)))


def seeded_uuid(seed: int, purpose: str, number: int) -> str:
    digest = hashlib.blake2b(f"{seed}:{purpose}:{number}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


Role = tuple[str, tuple[str, ...]]  # (roleName, roleGroups); no groups for roles that are not group-aware


class ConcurUser:
    __slots__ = ("active", "cost_center", "created", "department", "email", "employee_number", "entitlements",
                 "family_name", "given_name", "id", "language", "manager", "modified", "roles", "start",
                 "termination", "timezone", "title", "user_name", "version")

    def __init__(self, ident: str, user_name: str, given: str, family: str, employee_number: str,
                 created: int) -> None:
        self.id = ident
        self.user_name = user_name
        self.email = user_name
        self.given_name = given
        self.family_name = family
        self.employee_number = employee_number
        self.created = created
        self.modified = created
        self.version = 1
        self.active = True
        self.start = created
        self.termination: int | None = None
        self.cost_center = _COST_CENTERS[0]
        self.department = _DEPARTMENTS[0]
        self.title = _TITLES[0]
        self.timezone = _TIMEZONES[0]
        self.language = _LANGUAGES[0]
        self.manager = -1
        self.entitlements: tuple[str, ...] = ()
        self.roles: tuple[Role, ...] = ()


@dataclass(frozen=True)
class ExtensionResult:
    """What one operation did to one schema (a provisioning status `extensions` entry)."""

    name: str
    result: str            # success | error | no-op | not-processed
    code: str = "200"
    message: str | None = None


@dataclass
class OperationOutcome:
    success: bool
    resource_id: str | None
    extensions: list[ExtensionResult] = field(default_factory=list)


class _OperationFailed(Exception):
    def __init__(self, schema: str, code: str, message: str) -> None:
        super().__init__(message)
        self.result = ExtensionResult(schema, "error", code, message)


def _schema_of(path: str) -> str:
    for schema in (ENTERPRISE_SCHEMA, SPEND_ROLE_SCHEMA, SPEND_USER_SCHEMA):
        if path.startswith(schema):
            return schema
    return CORE_SCHEMA


class ConcurDataset:
    """The ground truth a Concur simulator serves. Generate with `ConcurDataset.generate`."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.lock = threading.RLock()
        self.company_id = seeded_uuid(seed, "concur-company", 0)
        self.users: list[ConcurUser] = []
        self._by_id: dict[str, int] = {}
        self._by_user_name: dict[str, int] = {}

    # ---- generation ------------------------------------------------------------------------

    @classmethod
    def generate(cls, *, seed: int, users: int) -> ConcurDataset:
        if users < 1:
            raise ValueError("need at least one user")
        ds = cls(seed)
        rng = sub_random(seed, "concur-users")
        for i in range(users):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            user = ConcurUser(seeded_uuid(seed, "concur-user", i), f"{first.lower()}.{last.lower()}{i}@example.com",
                              first, last, str(200_000 + i), _EPOCH_START + rng.randrange(_EPOCH_SPAN))
            user.modified = user.created + rng.randrange(20_000_000)
            user.version = 1 + rng.randrange(12)
            user.start = user.created - rng.randrange(30) * 86_400
            user.active = rng.random() >= 0.07
            if not user.active:
                user.termination = user.modified
            user.cost_center = rng.choice(_COST_CENTERS)
            user.department = rng.choice(_DEPARTMENTS)
            user.title = rng.choice(_TITLES)
            user.timezone = rng.choice(_TIMEZONES)
            user.language = rng.choice(_LANGUAGES)
            user.manager = rng.randrange(i) if i and rng.random() < 0.8 else -1
            products = ["Expense"] if rng.random() < 0.9 else []
            products += [p for p, share in (("Travel", 0.6), ("Request", 0.3), ("Invoice", 0.1),
                                            ("Analytics", 0.05)) if rng.random() < share]
            user.entitlements = tuple(e for e in ENTITLEMENTS if e in products)
            roles: list[Role] = [(code, ()) for product, code in (("Expense", "EXP_USER"), ("Travel", "TRAVEL_USER"),
                                                                  ("Request", "REQ_USER"))
                                 if product in products]
            for code, share in (("EXP_APPROVER", 0.12), ("REQ_APPROVER", 0.04), ("INV_APPROVER", 0.03),
                                ("SHD_BUDGET_APPROVER", 0.02), ("EXP_PROCESSOR", 0.02),
                                ("SHD_EMPLOYEE_ADMIN", 0.01), ("EXP_REIMBURSEMENT_APPROVER", 0.01)):
                if rng.random() < share:
                    groups = (rng.choice(_ROLE_GROUPS),) if SPEND_ROLES[code] else ()
                    roles.append((code, groups))
            user.roles = tuple(roles)
            ds._add(user)
        return ds

    def _add(self, user: ConcurUser) -> int:
        index = len(self.users)
        self.users.append(user)
        self._by_id[user.id] = index
        self._by_user_name[user.user_name.lower()] = index
        return index

    # ---- lookups -----------------------------------------------------------------------------

    @property
    def user_count(self) -> int:
        return len(self.users)

    def user_index(self, ident: str) -> int | None:
        return self._by_id.get(ident.lower())

    # ---- writes: SCIM operations from User Provisioning ------------------------------------------

    def apply_operation(self, method: str, path: str, data: Any, now: int, scopes: frozenset[str]) -> OperationOutcome:
        """Apply one Bulk operation (``POST /Users``, ``PUT|PATCH /Users/{id}``); never raises for bad input."""
        with self.lock:
            target = None
            if method in ("PUT", "PATCH"):
                ident = path.removeprefix("/Users/")
                target = self.user_index(ident) if path.startswith("/Users/") else None
                if target is None:
                    return OperationOutcome(False, None, [ExtensionResult(CORE_SCHEMA, "error", "404",
                                                                          f"User {ident} not found")])
            elif method != "POST" or path.rstrip("/") != "/Users":
                return OperationOutcome(False, None, [ExtensionResult(CORE_SCHEMA, "error", "400",
                                                                      f"{method} {path} is not supported")])
            if not isinstance(data, dict):
                return OperationOutcome(False, None, [ExtensionResult(CORE_SCHEMA, "error", "400",
                                                                      "data must be a JSON object")])
            try:
                if method == "PATCH":
                    assert target is not None
                    touched = self._patch(target, data, scopes, now)
                elif method == "PUT":
                    assert target is not None
                    touched = self._replace(target, data, scopes, now)
                else:
                    target, touched = self._create(data, now, scopes)
            except _OperationFailed as failure:
                return OperationOutcome(False, self.users[target].id if target is not None else None,
                                        [failure.result])
            user = self.users[target]
            if touched and method != "POST":
                user.modified, user.version = now, user.version + 1
            return OperationOutcome(True, user.id, [
                ExtensionResult(schema, "success" if schema in touched else "no-op")
                for schema in (CORE_SCHEMA, ENTERPRISE_SCHEMA, SPEND_ROLE_SCHEMA)])

    @staticmethod
    def _require(scopes: frozenset[str], schema: str) -> None:
        needed = "spend.user.general.writeonly" if schema == SPEND_ROLE_SCHEMA else \
            "identity.user.coreenterprise.writeonly"
        if needed not in scopes:
            raise _OperationFailed(schema, "403", f"The token lacks the scope {needed}")

    @staticmethod
    def _roles(value: Any) -> tuple[Role, ...]:
        if not isinstance(value, list):
            raise _OperationFailed(SPEND_ROLE_SCHEMA, "400", "roles must be a list of {roleName, roleGroups}")
        roles: dict[str, tuple[str, ...]] = {}
        for entry in value:
            name = entry.get("roleName") if isinstance(entry, dict) else None
            if name not in SPEND_ROLES:
                raise _OperationFailed(SPEND_ROLE_SCHEMA, "400", f"Unknown roleName {name!r}")
            groups = entry.get("roleGroups")
            if SPEND_ROLES[name]:
                # Documented as required for group-aware roles; "" is the global group [U: enforcement].
                if not isinstance(groups, list) or not groups or not all(isinstance(g, str) for g in groups):
                    raise _OperationFailed(SPEND_ROLE_SCHEMA, "400", f"roleGroups is required for {name}")
                roles[name] = tuple(groups)
            else:
                roles[name] = ()
        return tuple(roles.items())

    @classmethod
    def _role_extension(cls, extension: Any) -> tuple[Role, ...]:
        if extension is None:
            return ()
        if not isinstance(extension, dict):
            raise _OperationFailed(SPEND_ROLE_SCHEMA, "400", "the Spend role extension must be an object")
        return cls._roles(extension.get("roles", []))

    @staticmethod
    def _entitlements(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(v in ENTITLEMENTS for v in value):
            raise _OperationFailed(CORE_SCHEMA, "400", f"entitlements must be a list of {', '.join(ENTITLEMENTS)}")
        return tuple(e for e in ENTITLEMENTS if e in value)

    def _patch(self, index: int, data: dict[str, Any], scopes: frozenset[str], now: int) -> set[str]:
        """All operations or none: a failing one leaves the user untouched. Returns the schemas changed."""
        operations = data.get("Operations")
        if not isinstance(operations, list) or not operations:
            raise _OperationFailed(CORE_SCHEMA, "400", "PATCH data needs a non-empty Operations list")
        user = self.users[index]
        staged = _Staged.of(user)
        addressed: set[str] = set()
        for op in operations:
            if not isinstance(op, dict) or str(op.get("op", "")).lower() not in ("add", "replace", "remove"):
                raise _OperationFailed(CORE_SCHEMA, "400", f"Invalid patch operation {op!r}")
            kind, path, value = str(op["op"]).lower(), str(op.get("path", "")), op.get("value")
            schema = _schema_of(path)
            self._require(scopes, schema)
            staged.apply(kind, path, value)
            addressed.add(schema)
        before = _snapshot(user)
        staged.commit(user, now)
        return addressed if _snapshot(user) != before else set()

    def _replace(self, index: int, data: dict[str, Any], scopes: frozenset[str], now: int) -> set[str]:
        # PUT replaces what it carries; attributes it leaves out get defaults (entitlements: none).
        # The Spend role extension is left alone when absent [U: Concur says "system default values"].
        user, touched = self.users[index], {CORE_SCHEMA}
        self._require(scopes, CORE_SCHEMA)
        staged = _Staged.of(user)
        staged.set_core(data)
        staged.entitlements = self._entitlements(data.get("entitlements", []))
        if SPEND_ROLE_SCHEMA in data:
            self._require(scopes, SPEND_ROLE_SCHEMA)
            staged.roles = self._role_extension(data[SPEND_ROLE_SCHEMA])
            touched.add(SPEND_ROLE_SCHEMA)
        if ENTERPRISE_SCHEMA in data:
            staged.set_enterprise(data[ENTERPRISE_SCHEMA])
            touched.add(ENTERPRISE_SCHEMA)
        staged.commit(user, now)
        return touched

    def _create(self, data: dict[str, Any], now: int, scopes: frozenset[str]) -> tuple[int, set[str]]:
        self._require(scopes, CORE_SCHEMA)
        user_name = data.get("userName")
        name = data.get("name") if isinstance(data.get("name"), dict) else {}
        enterprise = data.get(ENTERPRISE_SCHEMA) if isinstance(data.get(ENTERPRISE_SCHEMA), dict) else {}
        assert isinstance(name, dict) and isinstance(enterprise, dict)
        if not isinstance(user_name, str) or not user_name:
            raise _OperationFailed(CORE_SCHEMA, "400", "userName is required")
        if user_name.lower() in self._by_user_name:
            raise _OperationFailed(CORE_SCHEMA, "409", f"userName {user_name} is already in use")
        if not name.get("givenName") or not name.get("familyName"):
            raise _OperationFailed(CORE_SCHEMA, "400", "name.givenName and name.familyName are required")
        if not enterprise.get("employeeNumber"):
            raise _OperationFailed(ENTERPRISE_SCHEMA, "400", "employeeNumber is required")
        user = ConcurUser(seeded_uuid(self.seed, "concur-user", len(self.users)), user_name,
                          str(name["givenName"]), str(name["familyName"]), str(enterprise["employeeNumber"]), now)
        user.start = now
        staged = _Staged.of(user)
        staged.set_core(data)
        staged.set_enterprise(enterprise)
        staged.entitlements = self._entitlements(data.get("entitlements", []))
        touched = {CORE_SCHEMA, ENTERPRISE_SCHEMA}
        if SPEND_ROLE_SCHEMA in data:
            self._require(scopes, SPEND_ROLE_SCHEMA)
            staged.roles = self._role_extension(data[SPEND_ROLE_SCHEMA])
            touched.add(SPEND_ROLE_SCHEMA)
        staged.commit(user, now)
        return self._add(user), touched

    # ---- rendering -------------------------------------------------------------------------------

    def render_identity(self, i: int, base: str, *, enterprise: bool = True) -> dict[str, Any]:
        with self.lock:
            user = self.users[i]
            body: dict[str, Any] = {
                "schemas": [CORE_SCHEMA, ENTERPRISE_SCHEMA] if enterprise else [CORE_SCHEMA],
                "id": user.id,
                "userName": user.user_name,
                "active": user.active,
                "displayName": f"{user.given_name} {user.family_name}",
                "name": {"givenName": user.given_name, "familyName": user.family_name,
                         "formatted": f"{user.family_name}, {user.given_name}"},
                "emails": [{"value": user.email, "type": "work", "verified": True, "notifications": True}],
                "timezone": user.timezone,
                "preferredLanguage": user.language,
                "title": user.title,
                "entitlements": list(user.entitlements),
                "meta": {"resourceType": "User", "created": concur_timestamp(user.created),
                         "lastModified": concur_timestamp(user.modified),
                         "location": f"{base}/profile/identity/v4.1/Users/{user.id}", "version": user.version},
            }
            if enterprise:
                extension: dict[str, Any] = {"companyId": self.company_id, "employeeNumber": user.employee_number,
                                             "costCenter": user.cost_center, "department": user.department,
                                             "startDate": _date_time(user.start)}
                # The spec types terminationDate as a plain string, so "not terminated" is an absent key.
                if user.termination is not None:
                    extension["terminationDate"] = _date_time(user.termination)
                if user.manager >= 0:
                    boss = self.users[user.manager]
                    extension["manager"] = {"value": boss.id, "employeeNumber": boss.employee_number,
                                            "displayName": f"{boss.given_name} {boss.family_name}",
                                            "$ref": f"{base}/profile/identity/v4.1/Users/{boss.id}"}
                body[ENTERPRISE_SCHEMA] = extension
            return body

    def render_spend(self, i: int, base: str) -> dict[str, Any]:
        with self.lock:
            user = self.users[i]
            roles = [{"roleName": name, "roleGroups": list(groups)} if SPEND_ROLES[name] else {"roleName": name}
                     for name, groups in user.roles]
            return {
                "schemas": ["urn:ietf:params:scim:schemas:ScimResource", SPEND_USER_SCHEMA, SPEND_ROLE_SCHEMA,
                            "urn:ietf:params:scim:schemas:extension:spend:2.0:Approver",
                            "urn:ietf:params:scim:schemas:extension:spend:2.0:Delegate"],
                "id": user.id,
                "meta": {"resourceType": "User", "created": None, "lastModified": concur_timestamp(user.modified),
                         "location": f"{base}/profile/spend/v4.1/Users/{user.id}", "version": None},
                SPEND_USER_SCHEMA: {"reimbursementCurrency": "USD", "ledgerCode": "DEFAULT",
                                    "country": "US", "locale": "en-US", "testEmployee": False,
                                    "nonEmployee": False, "customData": []},
                SPEND_ROLE_SCHEMA: {"roles": roles},
                "urn:ietf:params:scim:schemas:extension:spend:2.0:Approver": {},
                "urn:ietf:params:scim:schemas:extension:spend:2.0:Delegate": {},
            }

    # ---- ground truth for tests ----------------------------------------------------------------

    def role_assignments(self) -> set[tuple[str, str]]:
        """Every (user id, Spend roleName) pair."""
        with self.lock:
            return {(u.id, name) for u in self.users for name, _ in u.roles}

    def entitlement_assignments(self) -> set[tuple[str, str]]:
        """Every (user id, product entitlement) pair."""
        with self.lock:
            return {(u.id, e) for u in self.users for e in u.entitlements}

    def user(self, ident: str) -> ConcurUser:
        index = self.user_index(ident)
        if index is None:
            raise KeyError(ident)
        return self.users[index]

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {"users": len(self.users), "active_users": sum(1 for u in self.users if u.active),
                    "role_assignments": sum(len(u.roles) for u in self.users),
                    "entitlements": sum(len(u.entitlements) for u in self.users)}


class _Staged:
    """A user's writable attributes, changed by operations and committed only if all of them succeed."""

    def __init__(self, roles: tuple[Role, ...], entitlements: tuple[str, ...], active: bool,
                 attributes: dict[str, Any]) -> None:
        self.roles = roles
        self.entitlements = entitlements
        self.active = active
        self.attributes = attributes

    @classmethod
    def of(cls, user: ConcurUser) -> _Staged:
        return cls(user.roles, user.entitlements, user.active, {})

    def _bool(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _OperationFailed(CORE_SCHEMA, "400", "active must be true or false")
        return value

    def set_core(self, data: dict[str, Any]) -> None:
        if "active" in data:
            self.active = self._bool(data["active"])
        for key, attr in (("userName", "user_name"), ("title", "title"), ("timezone", "timezone"),
                          ("preferredLanguage", "language")):
            if isinstance(data.get(key), str):
                self.attributes[attr] = data[key]
        name = data.get("name")
        if isinstance(name, dict):
            for key, attr in (("givenName", "given_name"), ("familyName", "family_name")):
                if isinstance(name.get(key), str):
                    self.attributes[attr] = name[key]
        emails = data.get("emails")
        if isinstance(emails, list) and emails and isinstance(emails[0], dict) and "value" in emails[0]:
            self.attributes["email"] = str(emails[0]["value"])

    def set_enterprise(self, extension: Any) -> None:
        if not isinstance(extension, dict):
            raise _OperationFailed(ENTERPRISE_SCHEMA, "400", "the enterprise extension must be an object")
        for key, attr in (("employeeNumber", "employee_number"), ("costCenter", "cost_center"),
                          ("department", "department")):
            if isinstance(extension.get(key), str):
                self.attributes[attr] = extension[key]
        if "terminationDate" in extension:
            self.attributes["termination"] = _parse_date(extension["terminationDate"])

    def apply(self, kind: str, path: str, value: Any) -> None:
        """One PatchOp operation (RFC 7644 §3.5.2) on the attributes this simulator models."""
        role_path = f"{SPEND_ROLE_SCHEMA}:roles"
        if path == role_path:
            if kind == "remove":
                self.roles = () if value is None else tuple(
                    r for r in self.roles if r[0] not in {n for n, _ in ConcurDataset._roles(value)})
            elif kind == "replace":
                self.roles = ConcurDataset._roles(value)
            else:  # add merges by roleName; a role already held gets the new groups
                merged = dict(self.roles)
                merged.update(ConcurDataset._roles(value))
                self.roles = tuple(merged.items())
        elif path.startswith(role_path + "[") and (
                match := _ROLE_FILTER.fullmatch(path.removeprefix(SPEND_ROLE_SCHEMA + ":"))):
            if kind != "remove":
                raise _OperationFailed(SPEND_ROLE_SCHEMA, "400", f"Only remove is supported on {path}")
            self.roles = tuple(r for r in self.roles if r[0] != match.group(1))
        elif path == "entitlements":
            if kind == "remove":
                drop = set(ConcurDataset._entitlements(value)) if value is not None else set(ENTITLEMENTS)
                self.entitlements = tuple(e for e in self.entitlements if e not in drop)
            elif kind == "replace":
                self.entitlements = ConcurDataset._entitlements(value)
            else:
                keep = set(self.entitlements) | set(ConcurDataset._entitlements(value))
                self.entitlements = tuple(e for e in ENTITLEMENTS if e in keep)
        elif match := _ENTITLEMENT_FILTER.fullmatch(path):
            if kind != "remove":
                raise _OperationFailed(CORE_SCHEMA, "400", f"Only remove is supported on {path}")
            self.entitlements = tuple(e for e in self.entitlements if e != match.group(1))
        elif path == "active":
            if kind == "remove":
                raise _OperationFailed(CORE_SCHEMA, "400", "active cannot be removed")
            self.active = self._bool(value)
        elif path.startswith(ENTERPRISE_SCHEMA + ":"):
            attr = path[len(ENTERPRISE_SCHEMA) + 1:]
            if attr not in ("employeeNumber", "costCenter", "department", "terminationDate"):
                raise _OperationFailed(ENTERPRISE_SCHEMA, "400", f"Unsupported path {path}")
            self.set_enterprise({attr: None if kind == "remove" else value})
        elif path in ("userName", "title", "timezone", "preferredLanguage"):
            if kind == "remove" or not isinstance(value, str):
                raise _OperationFailed(CORE_SCHEMA, "400", f"{path} needs a string value")
            self.set_core({path: value})
        else:
            raise _OperationFailed(_schema_of(path), "400", f"Unsupported path {path!r}")

    def commit(self, user: ConcurUser, now: int) -> None:
        was_active = user.active
        user.roles, user.entitlements, user.active = self.roles, self.entitlements, self.active
        for attr, value in self.attributes.items():
            setattr(user, attr, value)
        if "termination" not in self.attributes and was_active != user.active:
            # Deactivating stamps a termination date and reactivating clears it [U: Concur may keep both apart].
            user.termination = None if user.active else now


def _snapshot(user: ConcurUser) -> tuple[Any, ...]:
    return tuple(getattr(user, attr) for attr in ConcurUser.__slots__ if attr not in ("modified", "version"))


def _parse_date(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _OperationFailed(ENTERPRISE_SCHEMA, "400", "terminationDate must be a date-time string")
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(value, fmt))
        except ValueError:
            continue
    raise _OperationFailed(ENTERPRISE_SCHEMA, "400", f"terminationDate {value!r} is not a date-time")

