"""The Celigo simulator's state: an account's owner, its integrations and its user shares ("ashares").

An ashare is one person's access to the account: an account-wide ``accessLevel``
(administrator | manage | monitor), per-integration levels (manage | monitor), or both. The owner
has implicit access and is not an ashare. Records keep their creation order, which is the listing
order; removing one shifts later records up, as skip/limit paging does on the real API.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

# One pool of names for every simulated vendor.
from iac.sim._okta_data import _FIRST_NAMES, _LAST_NAMES
from iac.sim._seeded import sub_random

__all__ = [
    "ACCESS_LEVELS",
    "CREATED_VIA",
    "INTEGRATION_ACCESS_LEVELS",
    "Ashare",
    "CeligoDataset",
    "CeligoIntegration",
    "celigo_timestamp",
]

ACCESS_LEVELS = ("administrator", "manage", "monitor")
INTEGRATION_ACCESS_LEVELS = ("manage", "monitor")
CREATED_VIA = ("existing_account_invite", "existing_account_share_request", "invited_during_signup",
               "new_account_auto_join")
# Flags a PUT sets and, when left out, clears (full replace). accountSSORequired is the exception [U].
BOOLEAN_SETTINGS = ("accountMFARequired", "allowAccessToAPIM", "allowToEditRetryData",
                    "allowIntegrationWorkspaceCreation", "allMcpServerAccess", "disabled")

_EPOCH_START = 1_546_300_800  # 2019-01-01
_EPOCH_SPAN = 1_767_225_600 - _EPOCH_START
_INTEGRATION_NAMES = ("Salesforce - NetSuite", "Shopify - NetSuite", "HubSpot - Salesforce", "Zendesk - Jira",
                      "Workday - ADP", "Amazon - NetSuite", "Coupa - NetSuite", "Concur - NetSuite",
                      "Stripe - QuickBooks", "ServiceNow - Slack")


def celigo_timestamp(epoch_seconds: float) -> str:
    """``2022-01-18T22:50:37.665Z`` (milliseconds always .000 here)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(epoch_seconds)))


def object_id(seed: int, kind: str, number: int, created: float) -> str:
    """A MongoDB-style id: 4 bytes of creation time, then 8 bytes fixed by the seed."""
    tail = hashlib.blake2b(f"{seed}:{kind}:{number}".encode(), digest_size=8).hexdigest()
    return f"{int(created) & 0xFFFFFFFF:08x}{tail}"


@dataclass
class CeligoIntegration:
    id: str
    name: str
    description: str
    created: int


class Ashare:
    """One user's access record. ``integration_access`` maps integration id -> manage | monitor."""

    __slots__ = ("accepted", "access_level", "account_mfa_required", "account_sso_required", "all_mcp_access",
                 "allow_access_to_apim", "allow_edit_retry_data", "allow_workspace_creation", "created",
                 "created_via", "disabled", "dismissed", "email", "id", "integration_access", "last_sign_in",
                 "modified", "name", "production_admin", "sso_linked", "user_id")

    def __init__(self, ident: str, user_id: str, email: str, name: str, created: int) -> None:
        self.id = ident
        self.user_id = user_id
        self.email = email
        self.name = name
        self.created = created
        self.modified = created
        self.access_level: str | None = None
        self.integration_access: dict[str, str] = {}
        self.accepted = True
        self.dismissed = False
        self.disabled = False
        self.last_sign_in: int | None = None
        self.created_via = CREATED_VIA[0]
        self.account_sso_required = False
        self.account_mfa_required = False
        self.allow_access_to_apim = False
        self.allow_edit_retry_data = False
        self.allow_workspace_creation = False
        self.all_mcp_access = False
        self.production_admin = False
        self.sso_linked = "not_linked"

    def effective_level(self, integration_id: str) -> str | None:
        """The access this user has to one integration: the account-wide level, raised by a per-integration
        grant (manage beats monitor); None when the user cannot see it."""
        specific = self.integration_access.get(integration_id)
        if self.access_level in ("administrator", "manage"):
            return self.access_level
        if specific == "manage" or self.access_level is None:
            return specific
        return self.access_level  # monitor, possibly with a monitor grant on top


_SETTING_ATTRS = {"accountMFARequired": "account_mfa_required", "allowAccessToAPIM": "allow_access_to_apim",
                  "allowToEditRetryData": "allow_edit_retry_data",
                  "allowIntegrationWorkspaceCreation": "allow_workspace_creation",
                  "allMcpServerAccess": "all_mcp_access", "disabled": "disabled",
                  "accountSSORequired": "account_sso_required"}


class CeligoDataset:
    """The ground truth a Celigo simulator serves. Generate with `CeligoDataset.generate`."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.lock = threading.RLock()
        self.owner_email = "owner@example.com"
        self.owner_name = "Account Owner"
        self.integrations: list[CeligoIntegration] = []
        self.ashares: list[Ashare] = []
        self._by_id: dict[str, Ashare] = {}
        self._integration_by_id: dict[str, CeligoIntegration] = {}
        self._next_number = 0
        self.version = 0  # bumped by every write, so derived views know they are stale
        self._shares_of: dict[str, tuple[int, list[Ashare]]] = {}

    # ---- generation ------------------------------------------------------------------------

    @classmethod
    def generate(cls, *, seed: int, users: int, integrations: int = 8) -> CeligoDataset:
        if users < 0 or integrations < 0:
            raise ValueError("users and integrations must not be negative")
        ds = cls(seed)
        rng = sub_random(seed, "celigo-account")
        for n in range(integrations):
            base = _INTEGRATION_NAMES[n % len(_INTEGRATION_NAMES)]
            name = base if n < len(_INTEGRATION_NAMES) else f"{base} ({n // len(_INTEGRATION_NAMES) + 1})"
            created = _EPOCH_START + rng.randrange(_EPOCH_SPAN)
            integration = CeligoIntegration(object_id(seed, "integration", n, created), name,
                                      f"Syncs {name.replace(' - ', ' to ')}", created)
            ds.integrations.append(integration)
            ds._integration_by_id[integration.id] = integration
        integration_ids = [i.id for i in ds.integrations]
        for n in range(users):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            share = ds._new_ashare(f"{first.lower()}.{last.lower()}{n}@example.com", f"{first} {last}",
                                   _EPOCH_START + rng.randrange(_EPOCH_SPAN))
            kind = rng.choices(("administrator", "manage", "monitor", "monitor+", "integrations"),
                               weights=(8, 25, 35, 12, 20))[0]
            if kind in ACCESS_LEVELS:
                share.access_level = kind
            elif kind == "monitor+":  # monitor everywhere, manage a few
                share.access_level = "monitor"
            if kind in ("monitor+", "integrations") and integration_ids:
                for integration_id in rng.sample(integration_ids, min(len(integration_ids), rng.choice((1, 1, 2, 3)))):
                    share.integration_access[integration_id] = "manage" if kind == "monitor+" or \
                        rng.random() < 0.5 else "monitor"
            if kind == "integrations" and not share.integration_access:
                share.access_level = "monitor"  # an account with no integrations: nothing else to grant
            share.accepted = rng.random() >= 0.12
            share.dismissed = not share.accepted and rng.random() < 0.25
            share.disabled = share.accepted and rng.random() < 0.05
            share.created_via = rng.choices(CREATED_VIA, weights=(85, 5, 5, 5))[0]
            share.modified = share.created + rng.randrange(20_000_000)
            if share.accepted:
                share.last_sign_in = share.modified + rng.randrange(5_000_000)
            share.account_sso_required = rng.random() < 0.2
            share.account_mfa_required = rng.random() < 0.3
            share.allow_access_to_apim = rng.random() < 0.1
            share.sso_linked = "this_account" if share.account_sso_required and share.accepted else \
                rng.choice(("not_linked", "not_linked", "not_linked", "other_account"))
            share.production_admin = share.access_level == "administrator" and rng.random() < 0.3
        return ds

    def _new_ashare(self, email: str, name: str, created: int) -> Ashare:
        number = self._next_number
        self._next_number += 1
        share = Ashare(object_id(self.seed, "ashare", number, created),
                       object_id(self.seed, "user", number, created - 86_400), email, name, created)
        self.ashares.append(share)
        self._by_id[share.id] = share
        return share

    # ---- lookups -----------------------------------------------------------------------------

    def ashare(self, ident: str) -> Ashare | None:
        return self._by_id.get(ident)

    def integration(self, ident: str) -> CeligoIntegration | None:
        return self._integration_by_id.get(ident)

    def has_email(self, email: str) -> bool:
        wanted = email.lower()
        with self.lock:
            return wanted == self.owner_email or any(s.email.lower() == wanted for s in self.ashares)

    def shares_of_integration(self, integration_id: str) -> list[Ashare]:
        """Users who can see the integration, in listing order; cached until the next write, so paging
        through 100k users does not rescan them for every page."""
        with self.lock:
            cached = self._shares_of.get(integration_id)
            if cached is None or cached[0] != self.version:
                cached = (self.version, [s for s in self.ashares if s.effective_level(integration_id) is not None])
                self._shares_of[integration_id] = cached
            return cached[1]

    # ---- writes ------------------------------------------------------------------------------

    def replace_access(self, share: Ashare, body: dict[str, Any], now: int) -> None:
        """A validated PUT: every writable field is set from ``body``; what it leaves out is cleared."""
        with self.lock:
            share.access_level = body.get("accessLevel")
            share.integration_access = {e["_integrationId"]: e["accessLevel"]
                                        for e in body.get("integrationAccessLevel") or []}
            for key, attr in _SETTING_ATTRS.items():
                if key == "accountSSORequired" and key not in body:
                    continue  # kept when omitted [U: per the baton subset spec]
                setattr(share, attr, bool(body.get(key, False)))
            share.modified = now
            self.version += 1

    def toggle_disabled(self, share: Ashare, now: int) -> None:
        with self.lock:
            share.disabled = not share.disabled
            share.modified = now
            self.version += 1

    def remove(self, share: Ashare) -> None:
        with self.lock:
            self.ashares.remove(share)
            del self._by_id[share.id]
            self.version += 1

    def invite(self, email: str, body: dict[str, Any], now: int) -> Ashare:
        with self.lock:
            local = email.split("@", 1)[0]
            share = self._new_ashare(email, local.replace(".", " ").title(), now)
            share.accepted = False
            self.replace_access(share, body, now)
            return share

    # ---- rendering ---------------------------------------------------------------------------

    def render_ashare(self, share: Ashare, *, level_for: str | None = None) -> dict[str, Any]:
        """``level_for``: render ``accessLevel`` as the effective level on that integration [U]."""
        with self.lock:
            level = share.effective_level(level_for) if level_for else share.access_level
            body: dict[str, Any] = {"_id": share.id, "accepted": share.accepted}
            if share.dismissed:
                body["dismissed"] = True
            body["disabled"] = share.disabled
            if level is not None:
                body["accessLevel"] = level
            body["integrationAccessLevel"] = [{"_integrationId": i, "accessLevel": a}
                                              for i, a in share.integration_access.items()]
            body.update({
                "accountSSORequired": share.account_sso_required,
                "accountMFARequired": share.account_mfa_required,
                "allowAccessToAPIM": share.allow_access_to_apim,
                "allowToEditRetryData": share.allow_edit_retry_data,
                "allowIntegrationWorkspaceCreation": share.allow_workspace_creation,
                "mcpServerAccessLevel": [],
                "allMcpServerAccess": share.all_mcp_access,
                "isProductionAdmin": share.production_admin,
                "createdVia": share.created_via,
                "createdAt": celigo_timestamp(share.created),
                "lastModified": celigo_timestamp(share.modified),
            })
            user: dict[str, Any] = {"_id": share.user_id, "email": share.email, "name": share.name,
                                    "allowedToResetMFA": share.accepted, "accountSSOLinked": share.sso_linked}
            if share.last_sign_in is not None:
                body["lastSignIn"] = user["lastSignIn"] = celigo_timestamp(share.last_sign_in)
            body["sharedWithUser"] = user
            return body

    def render_integration(self, integration: CeligoIntegration) -> dict[str, Any]:
        return {"_id": integration.id, "name": integration.name, "description": integration.description,
                "sandbox": False, "createdAt": celigo_timestamp(integration.created),
                "lastModified": celigo_timestamp(integration.created)}

    # ---- ground truth for tests ----------------------------------------------------------------

    def access_levels(self) -> dict[str, str | None]:
        """Account-wide level per ashare id (None: integration-only)."""
        with self.lock:
            return {s.id: s.access_level for s in self.ashares}

    def integration_grants(self) -> set[tuple[str, str, str]]:
        """Every (ashare id, integration id, manage | monitor) per-integration grant."""
        with self.lock:
            return {(s.id, i, a) for s in self.ashares for i, a in s.integration_access.items()}

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {"ashares": len(self.ashares), "integrations": len(self.integrations),
                    "pending_invites": sum(1 for s in self.ashares if not s.accepted),
                    "disabled": sum(1 for s in self.ashares if s.disabled),
                    **{level: sum(1 for s in self.ashares if s.access_level == level) for level in ACCESS_LEVELS},
                    "integration_only": sum(1 for s in self.ashares if s.access_level is None)}
