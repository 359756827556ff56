"""The Coupa simulator's state: users with their roles, groups and licences, generated from a seed.

Coupa ids are integers that grow with creation order but are not dense (deleted and foreign
records leave gaps), so generated ids step by 1 to 3: a client that confuses an offset with an id
is caught. Users are slotted records; group membership is also indexed per group so that
``/api/user_groups`` renders its ``users`` without scanning every user. Everything the HTTP
handlers can change goes through methods here, under one lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# One pool of names for every simulated vendor.
from iac.sim._okta_data import _DEPARTMENTS, _FIRST_NAMES, _LAST_NAMES
from iac.sim._seeded import sub_random

__all__ = [
    "AUTHENTICATION_METHODS",
    "LICENSE_FLAGS",
    "CoupaDataset",
    "CoupaUser",
    "NamedRecord",
    "coupa_timestamp",
]

# The boolean licence flags of a user record (dashed JSON keys), as baton-coupa grants them.
# baton writes "treasury_user" with an underscore; the JSON key is assumed dashed like the rest [U].
LICENSE_FLAGS = ("aic-user", "analytics-user", "ccw-user", "contracts-user", "expense-user", "inventory-user",
                 "purchasing-user", "risk-assess-user", "sourcing-user", "spend-guard-user", "supply-chain-user",
                 "travel-user", "treasury-user")
# How common each licence is among active users (same order as LICENSE_FLAGS) [U: invented].
_LICENSE_SHARE = (0.05, 0.2, 0.05, 0.15, 0.7, 0.05, 0.6, 0.05, 0.1, 0.05, 0.1, 0.3, 0.03)

AUTHENTICATION_METHODS = ("coupa_credentials", "ldap", "saml")

# Coupa's built-in roles [U: names from Coupa's admin UI; ids are per instance]. (name, description, omnipotent)
_ROLES = (
    ("Admin", "Full access to everything", True),
    ("User", "Can create requisitions and expense reports", False),
    ("Buyer", "Manages requisitions, purchase orders and suppliers", False),
    ("Expense User", "Creates expense reports", False),
    ("AP Clerk", "Processes invoices", False),
    ("Approver", "Approves documents assigned to them", False),
    ("Receiver", "Receives goods against purchase orders", False),
    ("Sourcing Manager", "Runs sourcing events", False),
    ("Contract Manager", "Manages contracts", False),
    ("Inventory Manager", "Manages inventory", False),
    ("Analytics User", "Reads Coupa Analytics", False),
    ("Integration Admin", "Manages integrations and API keys", False),
    ("Supplier Manager", "Manages supplier records", False),
    ("Treasury Analyst", "Uses Coupa Treasury", False),
)
_ROLE_WEIGHTS = (0.5, 60, 10, 25, 4, 15, 8, 2, 2, 1, 3, 0.5, 2, 0.5)
_GROUP_NOUNS = ("Approvers", "Buyers", "Requesters", "Reviewers", "Receivers", "Auditors", "Project")
_REGIONS = ("North America", "EMEA", "APAC", "LATAM", "US West", "US East", "DACH", "Nordics", "UK&I",
            "ANZ", "Japan", "India")
_ACCOUNT_NOUNS = ("Cost Centers", "GL Accounts", "Projects", "Capex", "Opex", "Grants")
_LOCALES = ("en", "en", "en", "en-GB", "de", "fr", "es", "ja")

# Generated timestamps fall between 2019-01-01 and 2026-01-01 (UTC).
_EPOCH_START = 1_546_300_800
_EPOCH_SPAN = 1_767_225_600 - _EPOCH_START


def coupa_timestamp(epoch_seconds: float) -> str:
    """Coupa's JSON timestamp style: ISO 8601 with an offset, ``2024-05-01T10:11:12+00:00`` [U: offset]."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(int(epoch_seconds)))


@dataclass(frozen=True)
class NamedRecord:
    """A role, user group, content (business) group or account group."""

    id: int
    name: str
    description: str
    created: int
    active: bool = True


class CoupaUser:
    """One user. Lists hold indexes into the dataset's roles/groups; ``licenses`` is a bit mask over
    `LICENSE_FLAGS`; ``manager`` is a user index or -1."""

    __slots__ = ("account_groups", "active", "api_user", "auth_method", "content_groups", "created", "email",
                 "employee_number", "firstname", "id", "lastname", "licenses", "locale", "login", "manager",
                 "roles", "updated", "user_groups")

    def __init__(self, ident: int, login: str, email: str, firstname: str, lastname: str,
                 employee_number: str, created: int) -> None:
        self.id = ident
        self.login = login
        self.email = email
        self.firstname = firstname
        self.lastname = lastname
        self.employee_number = employee_number
        self.created = created
        self.updated = created
        self.active = True
        self.api_user = False
        self.auth_method = 0
        self.locale = 0
        self.manager = -1
        self.licenses = 0
        self.roles: tuple[int, ...] = ()
        self.user_groups: tuple[int, ...] = ()
        self.content_groups: tuple[int, ...] = ()
        self.account_groups: tuple[int, ...] = ()

    def has_license(self, flag: str) -> bool:
        return bool(self.licenses >> LICENSE_FLAGS.index(flag) & 1)

    def license_names(self) -> list[str]:
        return [flag for bit, flag in enumerate(LICENSE_FLAGS) if self.licenses >> bit & 1]


def _stepped_ids(rng: random.Random, count: int, start: int) -> list[int]:
    ids, current = [], start
    for _ in range(count):
        ids.append(current)
        current += rng.choice((1, 1, 1, 2, 3))
    return ids


def _sample(rng: random.Random, population: int, k: int) -> tuple[int, ...]:
    return tuple(sorted(rng.sample(range(population), min(k, population))))


class CoupaDataset:
    """The ground truth a Coupa simulator serves. Generate with `CoupaDataset.generate`."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.lock = threading.RLock()
        self.users: list[CoupaUser] = []
        self.roles: list[NamedRecord] = []
        self.user_groups: list[NamedRecord] = []
        self.content_groups: list[NamedRecord] = []
        self.account_groups: list[NamedRecord] = []
        self.group_members: list[set[int]] = []  # user indexes per user group
        self.version = 0  # bumped by every write, so derived views (filter results) know they are stale
        self._user_by_id: dict[int, int] = {}

    # ---- generation ------------------------------------------------------------------------

    @classmethod
    def generate(cls, *, seed: int, users: int, user_groups: int = 20, content_groups: int = 8,
                 account_groups: int = 6) -> CoupaDataset:
        """Build the instance. Same arguments, same instance."""
        if users < 1 or min(user_groups, content_groups, account_groups) < 0:
            raise ValueError("need at least one user, and no negative group counts")
        ds = cls(seed)
        ds._generate_catalogues(user_groups, content_groups, account_groups)
        ds._generate_users(users)
        return ds

    def _named(self, rng: random.Random, names: Sequence[tuple[str, str]], first_id: int) -> list[NamedRecord]:
        ids = _stepped_ids(rng, len(names), first_id)
        return [NamedRecord(ident, name, description, _EPOCH_START + rng.randrange(_EPOCH_SPAN))
                for ident, (name, description) in zip(ids, names, strict=True)]

    def _generate_catalogues(self, user_groups: int, content_groups: int, account_groups: int) -> None:
        rng = sub_random(self.seed, "coupa-catalogues")
        self.roles = [NamedRecord(ident, name, description, _EPOCH_START)
                      for ident, (name, description, _) in zip(_stepped_ids(rng, len(_ROLES), 1), _ROLES,
                                                               strict=True)]
        group_names = []
        for g in range(user_groups):
            noun = _GROUP_NOUNS[g % len(_GROUP_NOUNS)]
            group_names.append((f"{_DEPARTMENTS[g % len(_DEPARTMENTS)]} {noun} {g + 1}",
                                f"{noun} for {_DEPARTMENTS[g % len(_DEPARTMENTS)]}"))
        self.user_groups = self._named(rng, group_names, 11)
        self.group_members = [set() for _ in self.user_groups]
        regions = [(_REGIONS[c % len(_REGIONS)] + ("" if c < len(_REGIONS) else f" {c // len(_REGIONS) + 1}"),
                    "Content group") for c in range(content_groups)]
        self.content_groups = self._named(rng, regions, 3)
        accounts = [(f"{_ACCOUNT_NOUNS[a % len(_ACCOUNT_NOUNS)]} {a + 1}", "Account group")
                    for a in range(account_groups)]
        self.account_groups = self._named(rng, accounts, 5)

    def _generate_users(self, count: int) -> None:
        rng = sub_random(self.seed, "coupa-users")
        ids = _stepped_ids(rng, count, 1000 + rng.randrange(1000))
        n_groups, n_content, n_accounts = len(self.user_groups), len(self.content_groups), len(self.account_groups)
        role_choices = range(len(self.roles))
        for i, ident in enumerate(ids):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            login = f"{first.lower()}.{last.lower()}{i}"
            user = CoupaUser(ident, login, f"{login}@example.com", first, last, f"E{100_000 + i}",
                             _EPOCH_START + rng.randrange(_EPOCH_SPAN))
            user.updated = user.created + rng.randrange(30_000_000)
            user.active = rng.random() >= 0.08
            user.api_user = rng.random() < 0.01
            user.auth_method = rng.choices((0, 1, 2), weights=(30, 10, 60))[0]
            user.locale = rng.randrange(len(_LOCALES))
            user.manager = rng.randrange(i) if i and rng.random() < 0.85 else -1
            user.roles = tuple(sorted(set(rng.choices(role_choices, weights=_ROLE_WEIGHTS,
                                                      k=rng.choice((1, 1, 2, 2, 3))))))
            user.user_groups = _sample(rng, n_groups, rng.choice((0, 1, 1, 2, 3, 4)))
            user.content_groups = _sample(rng, n_content, rng.choice((0, 1, 1, 2)))
            user.account_groups = _sample(rng, n_accounts, rng.choice((0, 0, 1, 2)))
            if user.active:
                user.licenses = sum(1 << bit for bit, share in enumerate(_LICENSE_SHARE) if rng.random() < share)
            self.users.append(user)
            self._user_by_id[ident] = i
            for g in user.user_groups:
                self.group_members[g].add(i)

    # ---- lookups -----------------------------------------------------------------------------

    @property
    def user_count(self) -> int:
        return len(self.users)

    def user_index(self, ident: int | str) -> int | None:
        try:
            return self._user_by_id.get(int(ident))
        except ValueError:
            return None

    @staticmethod
    def find(records: Sequence[NamedRecord], ref: dict[str, Any]) -> int | None:
        """The index of the record a ``{"id": …}`` or ``{"name": …}`` reference points at."""
        if "id" in ref:
            try:
                wanted = int(ref["id"])
            except (TypeError, ValueError):
                return None
            return next((i for i, r in enumerate(records) if r.id == wanted), None)
        if "name" in ref:
            return next((i for i, r in enumerate(records) if r.name == ref["name"]), None)
        return None

    # ---- writes ------------------------------------------------------------------------------

    def update_user(self, index: int, now: int, *, active: bool | None = None,
                    roles: Iterable[int] | None = None, user_groups: Iterable[int] | None = None,
                    content_groups: Iterable[int] | None = None, account_groups: Iterable[int] | None = None,
                    licenses: dict[str, bool] | None = None, fields: dict[str, str] | None = None) -> None:
        """Apply a validated PUT: each list given *replaces* the current one (Coupa's semantics)."""
        with self.lock:
            user = self.users[index]
            if active is not None:
                user.active = active
            if roles is not None:
                user.roles = tuple(sorted(set(roles)))
            if user_groups is not None:
                new = tuple(sorted(set(user_groups)))
                for g in set(user.user_groups) - set(new):
                    self.group_members[g].discard(index)
                for g in new:
                    self.group_members[g].add(index)
                user.user_groups = new
            if content_groups is not None:
                user.content_groups = tuple(sorted(set(content_groups)))
            if account_groups is not None:
                user.account_groups = tuple(sorted(set(account_groups)))
            for flag, on in (licenses or {}).items():
                bit = 1 << LICENSE_FLAGS.index(flag)
                user.licenses = user.licenses | bit if on else user.licenses & ~bit
            for name, value in (fields or {}).items():
                setattr(user, name, value)
            user.updated = now
            self.version += 1

    def set_group_members(self, group: int, members: Iterable[int], now: int) -> None:
        """Replace a user group's members (``PUT /api/user_groups/{id}`` with ``users``)."""
        with self.lock:
            new = set(members)
            for u in self.group_members[group] ^ new:
                user = self.users[u]
                user.user_groups = tuple(sorted(set(user.user_groups) ^ {group}))
                user.updated = now
            self.group_members[group] = new
            self.version += 1

    # ---- rendering ---------------------------------------------------------------------------

    def render_role(self, r: int) -> dict[str, Any]:
        role = self.roles[r]
        return {"id": role.id, "name": role.name, "description": role.description,
                "omnipotent": _ROLES[r][2], "system-role": True,
                "created-at": coupa_timestamp(role.created), "updated-at": coupa_timestamp(role.created)}

    def render_named(self, record: NamedRecord, *, kind: str) -> dict[str, Any]:
        body: dict[str, Any] = {"id": record.id, "name": record.name, "description": record.description,
                                "created-at": coupa_timestamp(record.created),
                                "updated-at": coupa_timestamp(record.created)}
        if kind == "account-group":
            body["active"] = record.active
        return body

    def render_user_group(self, g: int) -> dict[str, Any]:
        group = self.user_groups[g]
        with self.lock:
            members = sorted(self.group_members[g])
            users = [{"id": self.users[u].id, "login": self.users[u].login} for u in members]
        return {"id": group.id, "name": group.name, "description": group.description, "active": True,
                "can-approve": "Approvers" in group.name, "open": False, "type": None,
                "mention-name": group.name.lower().replace(" ", "_"), "users": users,
                "created-at": coupa_timestamp(group.created), "updated-at": coupa_timestamp(group.created)}

    def render_user(self, i: int) -> dict[str, Any]:
        with self.lock:
            user = self.users[i]
            body: dict[str, Any] = {
                "id": user.id,
                "created-at": coupa_timestamp(user.created),
                "updated-at": coupa_timestamp(user.updated),
                "login": user.login,
                "email": user.email,
                "firstname": user.firstname,
                "lastname": user.lastname,
                "fullname": f"{user.firstname} {user.lastname}",
                "employee-number": user.employee_number,
                "active": user.active,
                "api-user": user.api_user,
                "authentication-method": AUTHENTICATION_METHODS[user.auth_method],
                "sso-identifier": user.email if user.auth_method == 2 else None,
                "default-locale": _LOCALES[user.locale],
                "mention-name": user.login,
                "business-group-security-type": 1 if user.content_groups else 0,
                "account-security-type": 1 if user.account_groups else 0,
                "manager": None,
                "roles": [self.render_role(r) for r in user.roles],
                "user-groups": [{"id": self.user_groups[g].id, "name": self.user_groups[g].name}
                                for g in user.user_groups],
                "content-groups": [self.render_named(self.content_groups[c], kind="content-group")
                                   for c in user.content_groups],
                "account-groups": [self.render_named(self.account_groups[a], kind="account-group")
                                   for a in user.account_groups],
                "approval-groups": [],
            }
            if user.manager >= 0:
                boss = self.users[user.manager]
                body["manager"] = {"id": boss.id, "login": boss.login, "email": boss.email,
                                   "firstname": boss.firstname, "lastname": boss.lastname}
            for bit, flag in enumerate(LICENSE_FLAGS):
                body[flag] = bool(user.licenses >> bit & 1)
            return body

    # ---- ground truth for tests ----------------------------------------------------------------

    def role_assignments(self) -> set[tuple[int, int]]:
        """Every (user id, role id) pair."""
        with self.lock:
            return {(u.id, self.roles[r].id) for u in self.users for r in u.roles}

    def group_memberships(self) -> set[tuple[int, int]]:
        """Every (user group id, user id) pair."""
        with self.lock:
            return {(self.user_groups[g].id, self.users[u].id)
                    for g, members in enumerate(self.group_members) for u in members}

    def licenses(self) -> set[tuple[int, str]]:
        """Every (user id, licence flag) pair that is on."""
        with self.lock:
            return {(u.id, flag) for u in self.users for flag in u.license_names()}

    def user(self, ident: int) -> CoupaUser:
        index = self.user_index(ident)
        if index is None:
            raise KeyError(ident)
        return self.users[index]

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {
                "users": len(self.users),
                "active_users": sum(1 for u in self.users if u.active),
                "roles": len(self.roles),
                "user_groups": len(self.user_groups),
                "content_groups": len(self.content_groups),
                "account_groups": len(self.account_groups),
                "role_assignments": sum(len(u.roles) for u in self.users),
                "group_memberships": sum(len(m) for m in self.group_members),
                "licenses": sum(bin(u.licenses).count("1") for u in self.users),
            }
