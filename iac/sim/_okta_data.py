"""The Okta simulator's state: generated from a seed, kept in compact columns, rendered to JSON on demand.

Users, groups and apps are dense indexes; their ids are computed from the index (`IdCodec`), so no
per-object strings or dicts are stored. Memberships and app assignments are sorted ``array('I')``
of user indexes per group/app, which is also the paging order (a cursor is the last index served).
Everything that the HTTP handlers can change goes through methods here, under one lock, so tests
can read exact ground truth from another thread.
"""

from __future__ import annotations

import bisect
import random
import threading
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from iac.sim._seeded import IdCodec, iso_timestamp, short_code, sub_random
from iac.spec.integrations.okta import STANDARD_ROLES

__all__ = [
    "APP_SIGN_ON_MODES",
    "DEVICE_PLATFORMS",
    "GROUP_TYPES",
    "USER_STATUSES",
    "AppRecord",
    "BindingMember",
    "DeviceRecord",
    "GroupRecord",
    "OktaDataset",
    "RoleAssignment",
    "UserRecord",
]

USER_STATUSES = ("ACTIVE", "STAGED", "PROVISIONED", "SUSPENDED", "DEPROVISIONED",
                 "LOCKED_OUT", "PASSWORD_EXPIRED", "RECOVERY")
_USER_STATUS_WEIGHTS = (80, 4, 4, 3, 5, 2, 1.5, 0.5)
_ACTIVE, _STAGED, _PROVISIONED = 0, 1, 2

GROUP_TYPES = ("OKTA_GROUP", "APP_GROUP", "BUILT_IN")
APP_SIGN_ON_MODES = ("SAML_2_0", "OPENID_CONNECT", "BOOKMARK", "AUTO_LOGIN")

_COMMON_ROLES = ("READ_ONLY_ADMIN", "HELP_DESK_ADMIN", "USER_ADMIN", "APP_ADMIN", "GROUP_MEMBERSHIP_ADMIN",
                 "REPORT_ADMIN", "ORG_ADMIN", "SUPER_ADMIN", "API_ACCESS_MANAGEMENT_ADMIN")

_FIRST_NAMES = (
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger",
    "Radia", "John", "Hedy", "Tim", "Katherine", "Guido", "Annie", "Bjarne", "Sophie", "Donald", "Jean",
    "Niklaus", "Adele", "Brian", "Karen", "Larry", "Lynn", "Vint", "Mary", "Whitfield", "Ida", "Rasmus",
    "Carol", "Leslie", "Evelyn", "Butler", "Joan", "Martin", "Shafi", "Silvio", "Elena", "Omar",
    "Priya", "Ravi", "Mei", "Hiro", "Aiko", "Lars", "Ingrid", "Mateo", "Lucia", "Diego", "Sofia",
    "Kwame", "Amara", "Chidi", "Zara", "Yusuf", "Leila", "Nadia", "Tomas", "Anya", "Ivan", "Olga",
    "Pavel", "Irena",
)
_LAST_NAMES = (
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
    "Dijkstra", "Perlman", "McCarthy", "Lamarr", "Berners-Lee", "Johnson", "Rossum", "Easley",
    "Stroustrup", "Wilson", "Knuth", "Sammet", "Wirth", "Goldberg", "Kernighan", "Jones", "Page",
    "Conway", "Cerf", "Keller", "Diffie", "Rhodes", "Lerdorf", "Shaw", "Lamport", "Clarke", "Lampson",
    "Hellman", "Goldwasser", "Micali", "Garcia", "Haddad", "Sharma", "Kumar", "Chen", "Tanaka", "Sato",
    "Nilsen", "Berg", "Rossi", "Fernandez", "Lopez", "Mensah", "Okafor", "Nwosu", "Khan", "Aziz",
    "Novak", "Petrov", "Ivanova", "Kowalski", "Horvat", "Dubois", "Muller", "Schmidt",
)
_DOMAINS = ("example.com", "example.com", "example.com", "corp.example.com", "contractors.example.net")
_DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Finance", "Legal", "Support", "Operations", "People",
                "Security", "Product", "Design", "Research")
_TITLES = ("Engineer", "Senior Engineer", "Manager", "Director", "Analyst", "Specialist", "Associate",
           "Lead", "Consultant", "Coordinator")
_GROUP_NOUNS = ("Team", "Admins", "Readers", "Approvers", "On-Call", "Contractors", "Leads", "Project",
                "Committee", "Guild")
_APP_LABELS = ("Salesforce", "Slack", "GitHub", "Zoom", "Workday", "ServiceNow", "Jira", "Confluence",
               "Box", "Dropbox", "Google Workspace", "Microsoft 365", "AWS", "Datadog", "PagerDuty",
               "Coupa", "SAP Concur", "Celigo", "Tableau", "Zendesk", "HubSpot", "Notion", "Figma", "Miro")
DEVICE_PLATFORMS = ("WINDOWS", "MACOS", "IOS", "ANDROID")  # the spec's DevicePlatform enum
_DEVICE_STATUSES = ("ACTIVE", "SUSPENDED", "DEACTIVATED")
_DEVICE_STATUS_WEIGHTS = (90, 4, 6)
_DEVICE_MODELS = {"WINDOWS": ("Dell Inc.", "Latitude 7440", "10.0.22631"),
                  "MACOS": ("Apple Inc.", "MacBookPro18,3", "14.6.1"),
                  "IOS": ("Apple Inc.", "iPhone15,2", "17.6"),
                  "ANDROID": ("Google", "Pixel 8", "14")}
_CUSTOM_ROLES = (("Help Desk Lite", "Resets passwords and unlocks accounts"),
                 ("App Auditor", "Reads app assignments"),
                 ("Group Steward", "Manages membership of delegated groups"),
                 ("Provisioning Operator", "Creates and deactivates users"))
_RESOURCE_SETS = (("Contractor groups", "Groups holding contractors"),
                  ("Engineering apps", "Apps owned by engineering"),
                  ("All users", "Every user in the org"))

# All generated timestamps fall between these two instants (2019-01-01 and 2026-01-01, UTC).
_EPOCH_START = 1_546_300_800
_EPOCH_SPAN = 1_767_225_600 - _EPOCH_START


@dataclass(frozen=True)
class UserRecord:
    id: str
    login: str
    email: str
    status: str
    first_name: str
    last_name: str
    second_email: str | None


@dataclass(frozen=True)
class GroupRecord:
    id: str
    name: str
    type: str
    member_count: int


@dataclass(frozen=True)
class AppRecord:
    id: str
    label: str
    name: str
    status: str
    sign_on_mode: str


@dataclass(frozen=True)
class DeviceRecord:
    id: str
    display_name: str
    platform: str
    status: str
    user_ids: tuple[str, ...]  # the users linked to the device (Okta Verify enrolments)


@dataclass(frozen=True)
class RoleAssignment:
    """One role held by a user or group: a standard role, or a custom role on a resource set."""

    id: str
    principal_type: str  # "USER" or "GROUP" (the spec's RoleAssignmentType)
    principal_id: str
    type: str            # a RoleType; "CUSTOM" for custom roles
    created: int
    role_id: str | None = None          # custom roles only
    resource_set_id: str | None = None  # custom roles only


@dataclass(frozen=True)
class BindingMember:
    id: str
    principal_type: str  # "USER" or "GROUP"
    principal_id: str
    created: int


@dataclass(frozen=True)
class _IamObject:
    id: str
    label: str
    description: str
    created: int


def _weighted_column(rng: random.Random, weights: Sequence[float], count: int, typecode: str) -> array[int]:
    return array(typecode, rng.choices(range(len(weights)), weights=weights, k=count))


def _uniform_column(rng: random.Random, size: int, count: int, typecode: str) -> array[int]:
    return array(typecode, [int(x * size) for x in (rng.random() for _ in range(count))])


def _skewed_sizes(rng: random.Random, slots: int, total: int, cap: int, empty_share: float) -> list[int]:
    """``slots`` sizes summing to about ``total``: a few large, many small, some empty (Zipf-like).

    No size exceeds ``cap``; what a capped slot cannot hold is shared out among the others
    (water-filling), so small orgs still get the requested total where it fits.
    """
    if slots == 0:
        return []
    ranks = list(range(slots))
    rng.shuffle(ranks)
    weights = [0.0 if rng.random() < empty_share else 1.0 / (rank + 1) ** 0.9 for rank in ranks]
    sizes = [0.0] * slots
    open_slots = [i for i, w in enumerate(weights) if w > 0]
    remaining = float(min(total, cap * len(open_slots)))
    while open_slots and remaining > 0.5:
        norm = sum(weights[i] for i in open_slots)
        share = {i: remaining * weights[i] / norm for i in open_slots}
        full = [i for i in open_slots if sizes[i] + share[i] >= cap]
        if not full:
            for i in open_slots:
                sizes[i] += share[i]
            break
        for i in full:
            remaining -= cap - sizes[i]
            sizes[i] = float(cap)
        open_slots = [i for i in open_slots if i not in set(full)]
    return [round(x) for x in sizes]


class OktaDataset:
    """The ground truth an Okta simulator serves. Generate with `OktaDataset.generate`."""

    def __init__(self, seed: int, user_count: int, group_count: int, app_count: int) -> None:
        self.seed = seed
        self.lock = threading.RLock()
        # Real ids end in a few org-specific characters (e.g. "...4x6"); derive ours from the seed.
        org = short_code(seed, "org", 3)
        self.org_suffix = org
        self.user_ids = IdCodec(seed, "00u", suffix=org)
        self.group_ids = IdCodec(seed, "00g", suffix=org)
        self.app_ids = IdCodec(seed, "0oa", suffix=org)
        self.role_assignment_ids = IdCodec(seed, "ra1", suffix=org)
        self.binding_member_ids = IdCodec(seed, "irb", suffix=org)
        self.user_type_id = IdCodec(seed, "oty", suffix=org).encode(0)
        self.user_count = user_count
        self.group_count = group_count
        self.app_count = app_count
        # user columns
        self.first_name: array[int] = array("H")
        self.last_name: array[int] = array("H")
        self.domain: array[int] = array("B")
        self.department: array[int] = array("B")
        self.title: array[int] = array("B")
        self.status: array[int] = array("B")
        self.created: array[int] = array("I")
        self.last_login_after: array[int] = array("I")  # seconds after `created`; 0 = never
        self.has_second_email: array[int] = array("B")
        # groups: index 0 is the BUILT_IN "Everyone"; its members are implicit (every user)
        self.group_type: array[int] = array("B")
        self.group_created: array[int] = array("I")
        self.group_members: list[array[int]] = []
        self.group_membership_updated: dict[int, int] = {}
        # apps
        self.app_status: array[int] = array("B")   # 0 ACTIVE, 1 INACTIVE
        self.app_created: array[int] = array("I")
        self.app_users: list[array[int]] = []
        self.app_user_scope_group: set[tuple[int, int]] = set()  # (app, user) assigned through a group
        self.app_groups: list[array[int]] = []
        self.apps_per_group: Counter[int] = Counter()  # for `expand=stats` without scanning every app
        self.app_assignment_updated: dict[tuple[str, int, int], int] = {}
        # roles
        self.user_roles: dict[int, dict[str, RoleAssignment]] = {}
        self.group_roles: dict[int, dict[str, RoleAssignment]] = {}
        self.custom_roles: list[_IamObject] = []
        self.resource_sets: list[_IamObject] = []
        self.bindings: dict[tuple[int, int], dict[str, BindingMember]] = {}  # (resource set, role)
        self._next_role_assignment = 0
        self._next_binding_member = 0
        # devices: each has an owner; a few are shared with a second user
        self.device_ids = IdCodec(seed, "guo", suffix=org)
        self.device_owner: array[int] = array("I")
        self.device_platform: array[int] = array("B")
        self.device_status: array[int] = array("B")
        self.device_created: array[int] = array("I")
        self.device_second_user: dict[int, int] = {}

    # ---- generation ------------------------------------------------------------------------

    @classmethod
    def generate(cls, *, seed: int, users: int, groups: int, apps: int,
                 memberships: int | None = None, app_assignments: int | None = None,
                 devices: int | None = None) -> OktaDataset:
        """Build the org. Same arguments, same org — byte for byte. ``devices`` defaults to one per 4 users."""
        if users < 1 or groups < 1 or apps < 0:
            raise ValueError("need at least one user and one group (the Everyone group), and apps >= 0")
        ds = cls(seed, users, groups, apps)
        ds._generate_users()
        if memberships is None:  # ~8 groups per user, or fewer in small orgs; at most 1M in all
            memberships = min(1_000_000, users * min(8, max(1, (groups - 1) // 2)))
        if app_assignments is None:
            app_assignments = min(500_000, users * 2)
        ds._generate_groups(memberships)
        ds._generate_apps(app_assignments)
        ds._generate_roles()
        ds._generate_devices(users // 4 if devices is None else devices)
        return ds

    def _generate_devices(self, count: int) -> None:
        # Its own random stream: adding devices leaves every other part of an org unchanged.
        rng = sub_random(self.seed, "devices")
        n = self.user_count
        self.device_owner = _uniform_column(rng, n, count, "I")
        self.device_platform = _uniform_column(rng, len(DEVICE_PLATFORMS), count, "B")
        self.device_status = _weighted_column(rng, _DEVICE_STATUS_WEIGHTS, count, "B")
        self.device_created = _uniform_column(rng, _EPOCH_SPAN, count, "I")
        for d in range(count):
            self.device_created[d] += _EPOCH_START
            if n > 1 and rng.random() < 0.05:
                self.device_second_user[d] = (self.device_owner[d] + 1 + rng.randrange(n - 1)) % n

    def _generate_users(self) -> None:
        n = self.user_count
        rng = sub_random(self.seed, "users")
        self.first_name = _uniform_column(rng, len(_FIRST_NAMES), n, "H")
        self.last_name = _uniform_column(rng, len(_LAST_NAMES), n, "H")
        self.domain = _uniform_column(rng, len(_DOMAINS), n, "B")
        self.department = _uniform_column(rng, len(_DEPARTMENTS), n, "B")
        self.title = _uniform_column(rng, len(_TITLES), n, "B")
        self.status = _weighted_column(rng, _USER_STATUS_WEIGHTS, n, "B")
        self.created = _uniform_column(rng, _EPOCH_SPAN, n, "I")
        for i in range(n):
            self.created[i] += _EPOCH_START
        self.last_login_after = array("I", [
            0 if status in (_STAGED, _PROVISIONED) or r < 0.1 else 3600 + int(r * 30_000_000)
            for status, r in zip(self.status, (rng.random() for _ in range(n)), strict=True)])
        self.has_second_email = array("B", [1 if rng.random() < 0.1 else 0 for _ in range(n)])

    def _generate_groups(self, memberships: int) -> None:
        g, n = self.group_count, self.user_count
        rng = sub_random(self.seed, "groups")
        self.group_type = array("B", [2] + [1 if rng.random() < 0.08 else 0 for _ in range(g - 1)])
        if g >= 3 and 1 not in self.group_type:
            self.group_type[g - 1] = 1  # every org large enough shows all three group types
        self.group_created = array("I", [_EPOCH_START] + [_EPOCH_START + rng.randrange(_EPOCH_SPAN)
                                                          for _ in range(g - 1)])
        # No generated group holds every user: that is what Everyone is for.
        sizes = _skewed_sizes(rng, g - 1, memberships, max(1, n * 9 // 10), empty_share=0.05)
        population = range(n)
        self.group_members = [array("I")]  # Everyone: implicit, see members_of_group
        for size in sizes:
            self.group_members.append(array("I", sorted(rng.sample(population, size))))

    def _generate_apps(self, assignments: int) -> None:
        a, n = self.app_count, self.user_count
        rng = sub_random(self.seed, "apps")
        self.app_status = array("B", [1 if rng.random() < 0.15 else 0 for _ in range(a)])
        self.app_created = array("I", [_EPOCH_START + rng.randrange(_EPOCH_SPAN) for _ in range(a)])
        sizes = _skewed_sizes(rng, a, assignments, n, empty_share=0.1)
        population = range(n)
        for app, size in enumerate(sizes):
            members = array("I", sorted(rng.sample(population, size)))
            self.app_users.append(members)
            for user in members:
                if rng.random() < 0.05:
                    self.app_user_scope_group.add((app, user))
        assignable = list(range(1, self.group_count)) or [0]
        for _ in range(a):
            count = min(len(assignable), rng.choice((0, 0, 1, 1, 2, 3, 5)))
            self.app_groups.append(array("I", sorted(rng.sample(assignable, count))))
            self.apps_per_group.update(self.app_groups[-1])

    def _generate_roles(self) -> None:
        rng = sub_random(self.seed, "roles")
        n, g = self.user_count, self.group_count
        admins = rng.sample(range(n), min(n, max(3, n // 200)))
        for user in sorted(admins):
            for role_type in rng.sample(_COMMON_ROLES, rng.choice((1, 1, 1, 2))):
                self._add_standard_role("USER", user, role_type, _EPOCH_START + rng.randrange(_EPOCH_SPAN))
        role_groups = rng.sample(range(1, g), min(g - 1, max(1, g // 50))) if g > 1 else []
        for group in sorted(role_groups):
            self._add_standard_role("GROUP", group, rng.choice(_COMMON_ROLES),
                                    _EPOCH_START + rng.randrange(_EPOCH_SPAN))
        self.custom_roles = [_IamObject(IdCodec(self.seed, "cr0", suffix=self.org_suffix).encode(i),
                                        label, description, _EPOCH_START + rng.randrange(_EPOCH_SPAN))
                             for i, (label, description) in enumerate(_CUSTOM_ROLES)]
        self.resource_sets = [_IamObject(IdCodec(self.seed, "iam", suffix=self.org_suffix).encode(i),
                                         label, description, _EPOCH_START + rng.randrange(_EPOCH_SPAN))
                              for i, (label, description) in enumerate(_RESOURCE_SETS)]
        for rs in range(len(self.resource_sets)):
            for role in sorted(rng.sample(range(len(self.custom_roles)), rng.choice((1, 2)))):
                members = self.bindings.setdefault((rs, role), {})
                for user in sorted(rng.sample(range(n), min(n, rng.choice((1, 2, 3))))):
                    self._add_binding_member(members, "USER", user, _EPOCH_START + rng.randrange(_EPOCH_SPAN))
                if g > 1 and rng.random() < 0.5:
                    self._add_binding_member(members, "GROUP", rng.randrange(1, g),
                                             _EPOCH_START + rng.randrange(_EPOCH_SPAN))

    # ---- lookups -----------------------------------------------------------------------------

    def user_index(self, ident: str) -> int | None:
        """The index of a user id, or of a login (Okta accepts either in `/users/{id}`)."""
        index = self.user_ids.decode(ident)
        if index is not None and index < self.user_count:
            return index
        if "@" in ident:  # logins embed the index: first.last<index>@domain
            local = ident.split("@", 1)[0]
            digits = len(local) - len(local.rstrip("0123456789"))
            if digits and (index := int(local[-digits:])) < self.user_count and self.login(index) == ident:
                return index
        return None

    def group_index(self, ident: str) -> int | None:
        index = self.group_ids.decode(ident)
        return index if index is not None and index < self.group_count else None

    def app_index(self, ident: str) -> int | None:
        index = self.app_ids.decode(ident)
        return index if index is not None and index < self.app_count else None

    def custom_role_index(self, id_or_label: str) -> int | None:
        return next((i for i, r in enumerate(self.custom_roles) if id_or_label in (r.id, r.label)), None)

    def resource_set_index(self, id_or_label: str) -> int | None:
        return next((i for i, r in enumerate(self.resource_sets) if id_or_label in (r.id, r.label)), None)

    # ---- derived user fields -----------------------------------------------------------------

    def login(self, i: int) -> str:
        first = _FIRST_NAMES[self.first_name[i]].lower()
        last = _LAST_NAMES[self.last_name[i]].lower()
        return f"{first}.{last}{i}@{_DOMAINS[self.domain[i]]}"

    def names(self, i: int) -> tuple[str, str]:
        return _FIRST_NAMES[self.first_name[i]], _LAST_NAMES[self.last_name[i]]

    def second_email(self, i: int) -> str | None:
        if not self.has_second_email[i]:
            return None
        return f"{_FIRST_NAMES[self.first_name[i]].lower()}{i}@personal.example.org"

    def user_status(self, i: int) -> str:
        return USER_STATUSES[self.status[i]]

    def members_of_group(self, g: int) -> Sequence[int]:
        """Member user indexes in paging order (ascending)."""
        return range(self.user_count) if g == 0 else self.group_members[g]

    def group_type_name(self, g: int) -> str:
        return GROUP_TYPES[self.group_type[g]]

    def group_name(self, g: int) -> str:
        if g == 0:
            return "Everyone"
        dept = _DEPARTMENTS[g % len(_DEPARTMENTS)]
        noun = _GROUP_NOUNS[(g // len(_DEPARTMENTS)) % len(_GROUP_NOUNS)]
        return f"{dept} {noun} {g}"

    def app_label(self, a: int) -> str:
        base = _APP_LABELS[a % len(_APP_LABELS)]
        return base if a < len(_APP_LABELS) else f"{base} {a // len(_APP_LABELS) + 1}"

    def app_sign_on_mode(self, a: int) -> str:
        return APP_SIGN_ON_MODES[a % len(APP_SIGN_ON_MODES)]

    def app_name(self, a: int) -> str:
        return {"OPENID_CONNECT": "oidc_client", "BOOKMARK": "bookmark"}.get(
            self.app_sign_on_mode(a), f"sim{self.seed % 1000}_app{a}")

    def app_status_name(self, a: int) -> str:
        return "INACTIVE" if self.app_status[a] else "ACTIVE"

    # ---- writes (called by the HTTP handlers; all return whether anything changed) -----------

    def add_group_member(self, g: int, u: int, now: int) -> bool:
        with self.lock:
            members = self.group_members[g]
            pos = bisect.bisect_left(members, u)
            if pos < len(members) and members[pos] == u:
                return False
            members.insert(pos, u)
            self.group_membership_updated[g] = now
            return True

    def remove_group_member(self, g: int, u: int, now: int) -> bool:
        with self.lock:
            members = self.group_members[g]
            pos = bisect.bisect_left(members, u)
            if pos == len(members) or members[pos] != u:
                return False
            del members[pos]
            self.group_membership_updated[g] = now
            return True

    def is_app_user(self, a: int, u: int) -> bool:
        users = self.app_users[a]
        pos = bisect.bisect_left(users, u)
        return pos < len(users) and users[pos] == u

    def assign_app_user(self, a: int, u: int, now: int) -> bool:
        with self.lock:
            users = self.app_users[a]
            pos = bisect.bisect_left(users, u)
            if pos < len(users) and users[pos] == u:
                return False
            users.insert(pos, u)
            self.app_assignment_updated[("user", a, u)] = now
            return True

    def unassign_app_user(self, a: int, u: int) -> bool:
        with self.lock:
            users = self.app_users[a]
            pos = bisect.bisect_left(users, u)
            if pos == len(users) or users[pos] != u:
                return False
            del users[pos]
            self.app_user_scope_group.discard((a, u))
            self.app_assignment_updated.pop(("user", a, u), None)
            return True

    def is_app_group(self, a: int, g: int) -> bool:
        groups = self.app_groups[a]
        pos = bisect.bisect_left(groups, g)
        return pos < len(groups) and groups[pos] == g

    def assign_app_group(self, a: int, g: int, now: int) -> bool:
        with self.lock:
            groups = self.app_groups[a]
            pos = bisect.bisect_left(groups, g)
            changed = not (pos < len(groups) and groups[pos] == g)
            if changed:
                groups.insert(pos, g)
                self.apps_per_group[g] += 1
            self.app_assignment_updated[("group", a, g)] = now
            return changed

    def unassign_app_group(self, a: int, g: int) -> bool:
        with self.lock:
            groups = self.app_groups[a]
            pos = bisect.bisect_left(groups, g)
            if pos == len(groups) or groups[pos] != g:
                return False
            del groups[pos]
            self.apps_per_group[g] -= 1
            self.app_assignment_updated.pop(("group", a, g), None)
            return True

    def _new_role_assignment_id(self) -> str:
        self._next_role_assignment += 1
        return self.role_assignment_ids.encode(self._next_role_assignment)

    def _add_standard_role(self, principal_type: str, index: int, role_type: str, now: int) -> RoleAssignment:
        ids = self.user_ids if principal_type == "USER" else self.group_ids
        assignment = RoleAssignment(self._new_role_assignment_id(), principal_type, ids.encode(index),
                                    role_type, now)
        table = self.user_roles if principal_type == "USER" else self.group_roles
        table.setdefault(index, {})[assignment.id] = assignment
        return assignment

    def _add_binding_member(self, members: dict[str, BindingMember], principal_type: str, index: int,
                            now: int) -> BindingMember:
        ids = self.user_ids if principal_type == "USER" else self.group_ids
        principal_id = ids.encode(index)
        existing = next((m for m in members.values() if m.principal_id == principal_id), None)
        if existing is not None:
            return existing
        self._next_binding_member += 1
        member = BindingMember(self.binding_member_ids.encode(self._next_binding_member), principal_type,
                               principal_id, now)
        members[member.id] = member
        return member

    def roles_of(self, principal_type: str, index: int) -> list[RoleAssignment]:
        """Standard roles first (in assignment order), then custom roles from resource-set bindings."""
        with self.lock:
            table = self.user_roles if principal_type == "USER" else self.group_roles
            out = list(table.get(index, {}).values())
            ids = self.user_ids if principal_type == "USER" else self.group_ids
            principal_id = ids.encode(index)
            for (rs, role), members in self.bindings.items():
                for member in members.values():
                    if member.principal_id == principal_id:
                        out.append(RoleAssignment(member.id, principal_type, principal_id, "CUSTOM",
                                                  member.created, self.custom_roles[role].id,
                                                  self.resource_sets[rs].id))
            return out

    def assign_role(self, principal_type: str, index: int, role_type: str, now: int, *,
                    role: int | None = None, resource_set: int | None = None) -> RoleAssignment | None:
        """Add a role; None when the principal already holds exactly that role (Okta's E0000090)."""
        with self.lock:
            held = self.roles_of(principal_type, index)
            if role_type == "CUSTOM":
                assert role is not None and resource_set is not None
                role_id, rs_id = self.custom_roles[role].id, self.resource_sets[resource_set].id
                if any(a.role_id == role_id and a.resource_set_id == rs_id for a in held):
                    return None
                members = self.bindings.setdefault((resource_set, role), {})
                member = self._add_binding_member(members, principal_type, index, now)
                return RoleAssignment(member.id, principal_type, member.principal_id, "CUSTOM", now,
                                      role_id, rs_id)
            if any(a.type == role_type for a in held):
                return None
            return self._add_standard_role(principal_type, index, role_type, now)

    def unassign_role(self, principal_type: str, index: int, assignment_id: str) -> bool:
        with self.lock:
            table = self.user_roles if principal_type == "USER" else self.group_roles
            if table.get(index, {}).pop(assignment_id, None) is not None:
                if not table[index]:
                    del table[index]
                return True
            ids = self.user_ids if principal_type == "USER" else self.group_ids
            for members in self.bindings.values():
                member = members.get(assignment_id)
                if member is not None and member.principal_id == ids.encode(index):
                    del members[assignment_id]
                    return True
            return False

    def users_with_roles(self) -> list[int]:
        """Users holding any role, standard or custom, ascending (the `/iam/assignees/users` order)."""
        with self.lock:
            holders = set(self.user_roles)
            for members in self.bindings.values():
                for member in members.values():
                    if member.principal_type == "USER":
                        index = self.user_ids.decode(member.principal_id)
                        if index is not None:
                            holders.add(index)
            return sorted(holders)

    # ---- rendering (JSON-ready dicts; `base` is the scheme://host the client used) ------------

    def render_user(self, i: int, base: str, *, with_credentials: bool = True) -> dict[str, Any]:
        status = self.status[i]
        created = self.created[i]
        activated = None if status == _STAGED else created + 600
        last_login = created + self.last_login_after[i] if self.last_login_after[i] else None
        first, last = _FIRST_NAMES[self.first_name[i]], _LAST_NAMES[self.last_name[i]]
        login = self.login(i)
        uid = self.user_ids.encode(i)
        user: dict[str, Any] = {
            "id": uid,
            "status": USER_STATUSES[status],
            "created": iso_timestamp(created),
            "activated": iso_timestamp(activated) if activated else None,
            "statusChanged": iso_timestamp(activated or created) if status != _ACTIVE else None,
            "lastLogin": iso_timestamp(last_login) if last_login else None,
            "lastUpdated": iso_timestamp((last_login or created) + 60),
            "passwordChanged": iso_timestamp(created + 900) if last_login else None,
            "type": {"id": self.user_type_id},
            "profile": {
                "firstName": first,
                "lastName": last,
                "displayName": f"{first} {last}",
                "mobilePhone": None,
                "secondEmail": self.second_email(i),
                "login": login,
                "email": login,
                "department": _DEPARTMENTS[self.department[i]],
                "title": _TITLES[self.title[i]],
                "employeeNumber": str(100_000 + i),
            },
        }
        if with_credentials:
            user["credentials"] = ({"provider": {"type": "OKTA", "name": "OKTA"}} if status == _STAGED else
                                   {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}})
        user["_links"] = {"self": {"href": f"{base}/api/v1/users/{uid}"}}
        return user

    def render_group(self, g: int, base: str, *, with_stats: bool = False) -> dict[str, Any]:
        gid = self.group_ids.encode(g)
        created = self.group_created[g]
        type_name = GROUP_TYPES[self.group_type[g]]
        name = self.group_name(g)
        profile: dict[str, Any] = {"name": name, "description": "All users in your organization" if g == 0
                                   else f"{name} (simulated)"}
        object_class = ["okta:user_group"]
        links: dict[str, Any] = {
            "logo": [{"name": "medium", "href": f"{base}/assets/img/logos/groups/okta-medium.png",
                      "type": "image/png"}],
            "users": {"href": f"{base}/api/v1/groups/{gid}/users"},
            "apps": {"href": f"{base}/api/v1/groups/{gid}/apps"},
        }
        if type_name == "APP_GROUP":
            object_class = ["okta:windows_security_principal"]
            profile.update({"samAccountName": f"grp{g}", "windowsDomainQualifiedName": f"CORP\\grp{g}",
                            "dn": f"CN={name},OU=Groups,DC=corp,DC=example,DC=com", "groupType": "Security",
                            "groupScope": "Global"})
            if self.app_count:
                links["source"] = {"href": f"{base}/api/v1/apps/{self.app_ids.encode(g % self.app_count)}"}
        group: dict[str, Any] = {
            "id": gid,
            "created": iso_timestamp(created),
            "lastUpdated": iso_timestamp(created + 120),
            "lastMembershipUpdated": iso_timestamp(self.group_membership_updated.get(g, created + 240)),
            "objectClass": object_class,
            "type": type_name,
            "profile": profile,
        }
        if with_stats:
            group["_embedded"] = {"stats": {
                "usersCount": len(self.members_of_group(g)),
                "appsCount": self.apps_per_group[g],
                "groupPushMappingsCount": 0,
                "hasAdminPrivlege": g in self.group_roles,  # sic: the spec's spelling
            }}
        group["_links"] = links
        return group

    def render_app(self, a: int, base: str) -> dict[str, Any]:
        aid = self.app_ids.encode(a)
        mode = self.app_sign_on_mode(a)
        created = self.app_created[a]
        status = self.app_status_name(a)
        app: dict[str, Any] = {
            "id": aid,
            "name": self.app_name(a),
            "label": self.app_label(a),
            "status": status,
            "lastUpdated": iso_timestamp(created + 3600),
            "created": iso_timestamp(created),
            "accessibility": {"selfService": False},
            "visibility": {"autoSubmitToolbar": False, "hide": {"iOS": False, "web": False},
                           "appLinks": {"login": True}},
            "features": [],
            "signOnMode": mode,
        }
        slug = self.app_label(a).lower().replace(" ", "-")
        if mode == "OPENID_CONNECT":
            app["credentials"] = {"userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
                                  "signing": {"kid": f"kid{a}"},
                                  "oauthClient": {"autoKeyRotation": True, "client_id": aid,
                                                  "token_endpoint_auth_method": "client_secret_basic"}}
            app["settings"] = {"app": {}, "notifications": {"vpn": {"network": {"connection": "DISABLED"}}},
                               "oauthClient": {"grant_types": ["authorization_code"],
                                               "redirect_uris": [f"https://{slug}.example.com/callback"],
                                               "response_types": ["code"], "application_type": "web"}}
        elif mode == "BOOKMARK":
            app["settings"] = {"app": {"requestIntegration": False, "url": f"https://{slug}.example.com/"}}
        elif mode == "AUTO_LOGIN":
            app["settings"] = {"signOn": {"loginUrl": f"https://{slug}.example.com/login"}}
        else:
            app["settings"] = {"app": {}}
        app["_links"] = {
            "appLinks": [{"name": "login", "href": f"{base}/home/{self.app_name(a)}/{aid}/1",
                          "type": "text/html"}],
            "users": {"href": f"{base}/api/v1/apps/{aid}/users"},
            "groups": {"href": f"{base}/api/v1/apps/{aid}/groups"},
            "self": {"href": f"{base}/api/v1/apps/{aid}"},
        }
        lifecycle = "deactivate" if status == "ACTIVE" else "activate"
        app["_links"][lifecycle] = {"href": f"{base}/api/v1/apps/{aid}/lifecycle/{lifecycle}"}
        return app

    def render_app_user(self, a: int, u: int, base: str) -> dict[str, Any]:
        aid, uid = self.app_ids.encode(a), self.user_ids.encode(u)
        created = max(self.app_created[a], self.created[u]) + 300
        created = self.app_assignment_updated.get(("user", a, u), created)
        return {
            "id": uid,
            "scope": "GROUP" if (a, u) in self.app_user_scope_group else "USER",
            "status": "PROVISIONED" if self.status[u] == _ACTIVE else "STAGED",
            "created": iso_timestamp(created),
            "lastUpdated": iso_timestamp(created),
            "statusChanged": iso_timestamp(created),
            "passwordChanged": None,
            "syncState": "DISABLED",
            "credentials": {"userName": self.login(u)},
            "profile": {},
            "_links": {"app": {"href": f"{base}/api/v1/apps/{aid}"},
                       "user": {"href": f"{base}/api/v1/users/{uid}"}},
        }

    def render_app_group(self, a: int, g: int, base: str) -> dict[str, Any]:
        aid, gid = self.app_ids.encode(a), self.group_ids.encode(g)
        updated = self.app_assignment_updated.get(("group", a, g),
                                                  max(self.app_created[a], self.group_created[g]) + 300)
        return {
            "id": gid,
            "lastUpdated": iso_timestamp(updated),
            "priority": bisect.bisect_left(self.app_groups[a], g),
            "profile": {},
            "_links": {"app": {"href": f"{base}/api/v1/apps/{aid}"},
                       "group": {"href": f"{base}/api/v1/groups/{gid}"}},
        }

    def render_role(self, assignment: RoleAssignment, base: str) -> dict[str, Any]:
        kind = "users" if assignment.principal_type == "USER" else "groups"
        assignee = {"href": f"{base}/api/v1/{kind}/{assignment.principal_id}"}
        body: dict[str, Any] = {
            "id": assignment.id,
            "type": assignment.type,
            "status": "ACTIVE",
            "created": iso_timestamp(assignment.created),
            "lastUpdated": iso_timestamp(assignment.created),
            "assignmentType": assignment.principal_type,
        }
        if assignment.type == "CUSTOM":
            role = self.custom_roles[self.custom_role_index(assignment.role_id or "") or 0]
            body["label"] = role.label
            body["role"] = assignment.role_id
            body["resource-set"] = assignment.resource_set_id
            body["_links"] = {
                "assignee": assignee,
                "role": {"href": f"{base}/api/v1/iam/roles/{assignment.role_id}"},
                "resource-set": {"href": f"{base}/api/v1/iam/resource-sets/{assignment.resource_set_id}"},
            }
        else:
            body["label"] = STANDARD_ROLES[assignment.type]
            body["_links"] = {"assignee": assignee}
        return body

    def render_custom_role(self, r: int, base: str) -> dict[str, Any]:
        role = self.custom_roles[r]
        return {"id": role.id, "label": role.label, "description": role.description,
                "created": iso_timestamp(role.created), "lastUpdated": iso_timestamp(role.created),
                "_links": {"self": {"href": f"{base}/api/v1/iam/roles/{role.id}"},
                           "permissions": {"href": f"{base}/api/v1/iam/roles/{role.id}/permissions"}}}

    def render_resource_set(self, rs: int, base: str) -> dict[str, Any]:
        item = self.resource_sets[rs]
        href = f"{base}/api/v1/iam/resource-sets/{item.id}"
        return {"id": item.id, "label": item.label, "description": item.description,
                "created": iso_timestamp(item.created), "lastUpdated": iso_timestamp(item.created),
                "_links": {"self": {"href": href}, "resources": {"href": f"{href}/resources"},
                           "bindings": {"href": f"{href}/bindings"}}}

    def render_binding_member(self, member: BindingMember, base: str) -> dict[str, Any]:
        kind = "users" if member.principal_type == "USER" else "groups"
        return {"id": member.id, "created": iso_timestamp(member.created),
                "lastUpdated": iso_timestamp(member.created),
                "_links": {"self": {"href": f"{base}/api/v1/{kind}/{member.principal_id}"}}}

    def device_count(self) -> int:
        return len(self.device_owner)

    def device_users(self, d: int) -> list[int]:
        second = self.device_second_user.get(d)
        return [self.device_owner[d]] + ([second] if second is not None else [])

    def device_platform_name(self, d: int) -> str:
        return DEVICE_PLATFORMS[self.device_platform[d]]

    def device_status_name(self, d: int) -> str:
        return _DEVICE_STATUSES[self.device_status[d]]

    def device_display_name(self, d: int) -> str:
        first = _FIRST_NAMES[self.first_name[self.device_owner[d]]]
        kind = {"WINDOWS": "Latitude", "MACOS": "MacBook Pro", "IOS": "iPhone", "ANDROID": "Pixel"}
        return f"{first}'s {kind[self.device_platform_name(d)]}"

    def render_device(self, d: int, base: str, *, expand: str | None = None) -> dict[str, Any]:
        """A ``DeviceList`` item; ``expand`` = ``user`` or ``userSummary`` embeds the device's users."""
        did = self.device_ids.encode(d)
        platform = self.device_platform_name(d)
        manufacturer, model, os_version = _DEVICE_MODELS[platform]
        created = self.device_created[d]
        href = f"{base}/api/v1/devices/{did}"
        profile: dict[str, Any] = {
            "displayName": self.device_display_name(d), "platform": platform, "manufacturer": manufacturer,
            "model": model, "osVersion": os_version, "serialNumber": f"SN{did[3:15].upper()}",
            "registered": True, "secureHardwarePresent": platform != "WINDOWS",
            "diskEncryptionType": "ALL_INTERNAL_VOLUMES" if platform in ("MACOS", "IOS") else "FULL"}
        if platform == "MACOS":
            profile["udid"] = f"{did[3:11]}-{did[11:15]}-4{did[15:18]}-8000-{d:012d}".upper()
        status = self.device_status_name(d)
        links: dict[str, Any] = {"self": {"href": href}, "users": {"href": f"{href}/users"}}
        if status == "ACTIVE":
            links |= {"deactivate": {"href": f"{href}/lifecycle/deactivate", "hints": {"allow": ["POST"]}},
                      "suspend": {"href": f"{href}/lifecycle/suspend", "hints": {"allow": ["POST"]}}}
        elif status == "SUSPENDED":
            links |= {"unsuspend": {"href": f"{href}/lifecycle/unsuspend", "hints": {"allow": ["POST"]}}}
        device: dict[str, Any] = {
            "id": did, "status": status, "created": iso_timestamp(created),
            "lastUpdated": iso_timestamp(created + 86_400), "profile": profile, "resourceId": did,
            "resourceDisplayName": {"sensitive": False, "value": profile["displayName"]},
            "resourceType": "UDDevice", "_links": links}
        if expand in ("user", "userSummary"):
            users = []
            for u in self.device_users(d):
                user = self.render_user(u, base, with_credentials=False)
                if expand == "userSummary":
                    user = {"id": user["id"], "status": user["status"],
                            "profile": {k: user["profile"][k] for k in ("firstName", "lastName", "login", "email")}}
                users.append({"created": iso_timestamp(created), "managementStatus": "NOT_MANAGED",
                              "screenLockType": "BIOMETRIC" if platform in ("IOS", "ANDROID") else "PASSCODE",
                              "user": user})
            device["_embedded"] = {"users": users}
        return device

    # ---- ground truth for tests (plain ids, no HTTP) ----------------------------------------

    def devices(self) -> list[DeviceRecord]:
        with self.lock:
            return [DeviceRecord(self.device_ids.encode(d), self.device_display_name(d),
                                 self.device_platform_name(d), self.device_status_name(d),
                                 tuple(self.user_ids.encode(u) for u in self.device_users(d)))
                    for d in range(self.device_count())]

    def users(self) -> list[UserRecord]:
        with self.lock:
            return [UserRecord(self.user_ids.encode(i), self.login(i), self.login(i), self.user_status(i),
                               _FIRST_NAMES[self.first_name[i]], _LAST_NAMES[self.last_name[i]],
                               self.second_email(i))
                    for i in range(self.user_count)]

    def groups(self) -> list[GroupRecord]:
        with self.lock:
            return [GroupRecord(self.group_ids.encode(g), self.group_name(g), self.group_type_name(g),
                                len(self.members_of_group(g))) for g in range(self.group_count)]

    def apps(self) -> list[AppRecord]:
        with self.lock:
            return [AppRecord(self.app_ids.encode(a), self.app_label(a), self.app_name(a),
                              self.app_status_name(a), self.app_sign_on_mode(a))
                    for a in range(self.app_count)]

    def group_member_ids(self, group_id: str) -> list[str]:
        g = self.group_index(group_id)
        if g is None:
            raise KeyError(group_id)
        with self.lock:
            return [self.user_ids.encode(u) for u in self.members_of_group(g)]

    def memberships(self, *, include_everyone: bool = False) -> set[tuple[str, str]]:
        """Every (group id, user id) pair; the implicit Everyone group only when asked."""
        with self.lock:
            return {(self.group_ids.encode(g), self.user_ids.encode(u))
                    for g in range(0 if include_everyone else 1, self.group_count)
                    for u in self.members_of_group(g)}

    def membership_count(self, *, include_everyone: bool = False) -> int:
        with self.lock:
            return sum(len(self.members_of_group(g))
                       for g in range(0 if include_everyone else 1, self.group_count))

    def app_user_ids(self, app_id: str) -> list[str]:
        a = self.app_index(app_id)
        if a is None:
            raise KeyError(app_id)
        with self.lock:
            return [self.user_ids.encode(u) for u in self.app_users[a]]

    def app_group_ids(self, app_id: str) -> list[str]:
        a = self.app_index(app_id)
        if a is None:
            raise KeyError(app_id)
        with self.lock:
            return [self.group_ids.encode(g) for g in self.app_groups[a]]

    def role_assignments(self) -> list[RoleAssignment]:
        """Every role held by any user or group, standard and custom."""
        with self.lock:
            out = [a for table in (self.user_roles, self.group_roles)
                   for held in table.values() for a in held.values()]
            for (rs, role), members in self.bindings.items():
                out.extend(RoleAssignment(m.id, m.principal_type, m.principal_id, "CUSTOM", m.created,
                                          self.custom_roles[role].id, self.resource_sets[rs].id)
                           for m in members.values())
            return out

    def binding_members(self) -> dict[tuple[str, str], list[BindingMember]]:
        """``{(resource set id, custom role id): [members]}``."""
        with self.lock:
            return {(self.resource_sets[rs].id, self.custom_roles[role].id): list(members.values())
                    for (rs, role), members in self.bindings.items()}

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {
                "users": self.user_count,
                "groups": self.group_count,
                "apps": self.app_count,
                "memberships": self.membership_count(),
                "app_user_assignments": sum(len(u) for u in self.app_users),
                "app_group_assignments": sum(len(g) for g in self.app_groups),
                "role_assignments": len(self.role_assignments()),
                "custom_roles": len(self.custom_roles),
                "resource_sets": len(self.resource_sets),
                "devices": self.device_count(),
            }
