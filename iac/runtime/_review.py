"""What an access review asks of a connector's data, declared once per integration next to its resource types.

A connector says which entitlements are *privileged* (a reviewer must decide on every holder) and which
account attributes mean the account is *inactive* (it should hold nothing). ``iac review`` reads only these
declarations, so a new integration brings its own and the report code names no vendor.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["GENERIC_REVIEW", "Inactive", "Privileged", "ReviewFacts"]


@dataclass(frozen=True, slots=True)
class Privileged:
    """Entitlements on resources of ``resource_type`` that grant administrative power.

    Narrow it with ``resource_ids`` (exact ids), ``name_pattern`` (a case-insensitive regular expression
    searched in the resource's display name) and ``slugs``; whatever is left open matches everything.
    ``critical`` marks the top tier (an org-wide super administrator).
    """

    resource_type: str
    why: str
    resource_ids: frozenset[str] | None = None
    name_pattern: str | None = None
    slugs: frozenset[str] | None = None
    critical: bool = False

    def matches(self, resource_type: str, resource_id: str, resource_name: str, slug: str) -> bool:
        if resource_type != self.resource_type:
            return False
        if self.resource_ids is not None and resource_id not in self.resource_ids:
            return False
        if self.slugs is not None and slug not in self.slugs:
            return False
        return self.name_pattern is None or re.search(self.name_pattern, resource_name, re.IGNORECASE) is not None


@dataclass(frozen=True, slots=True)
class Inactive:
    """An account is inactive when ``attribute`` has one of ``values``, or (``past_date``) holds a date
    before the review. ``source`` is ``profile`` (the connector's profile keys) or ``status`` (the user
    trait's status: ``enabled``, ``disabled``, ``deleted``)."""

    attribute: str
    why: str
    values: tuple[Any, ...] = ()
    past_date: bool = False
    source: Literal["profile", "status"] = "profile"

    def reason(self, status: str | None, profile: Mapping[str, Any], now: dt.datetime) -> str | None:
        """Why the account is inactive (``"status SUSPENDED"``), or None."""
        value = status if self.source == "status" else profile.get(self.attribute)
        if value is None or value == "":
            return None
        if self.past_date:
            when = _parse_date(value)
            if when is not None and when < now:
                return f"{self.attribute} {when.date().isoformat()} is past"
            return None
        if value in self.values:  # shown as declared: a source may give JSON false back as 0
            return f"{self.attribute} {_shown(next(v for v in self.values if v == value))}"
        return None


def _shown(value: Any) -> str:
    return "false" if value is False else "true" if value is True else str(value)


def _parse_date(value: Any) -> dt.datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class ReviewFacts:
    """Per integration: what is privileged, what makes an account inactive, and which resource type
    holds the accounts under review."""

    privileged: tuple[Privileged, ...] = ()
    inactive: tuple[Inactive, ...] = ()
    account_type: str = "user"
    declared_by: str = field(default="", compare=False)
    """Who declared these (an integration name), shown in the report."""

    def privilege(self, resource_type: str, resource_id: str, resource_name: str,
                  slug: str) -> Privileged | None:
        return next((p for p in self.privileged if p.matches(resource_type, resource_id, resource_name, slug)), None)

    def profile_attributes(self) -> tuple[str, ...]:
        """The profile keys the rules read (all a review needs of a profile)."""
        return tuple(dict.fromkeys(rule.attribute for rule in self.inactive if rule.source == "profile"))

    def inactive_reason(self, status: str | None, profile: Mapping[str, Any], now: dt.datetime) -> str | None:
        reasons = [r for rule in self.inactive if (r := rule.reason(status, profile, now))]
        return "; ".join(reasons) if reasons else None


GENERIC_REVIEW = ReviewFacts(
    privileged=(Privileged("role", "role named like an administrator (no declaration for this connector)",
                           name_pattern=r"admin"),),
    inactive=(Inactive("status", "the user trait's status", values=("disabled", "deleted"), source="status"),),
    declared_by="generic",
)
"""For a connector that declares nothing (any baton connector's c1z): role resources named like an
administrator, and accounts whose user trait says disabled or deleted."""
