"""Typed calls to the Celigo integrator.io API (``/v1``, bearer token). No retries and no sleeping here:
:class:`HttpClient` does that, including 429s, whose ``Retry-After`` it honours.

* Lists page by the RFC 8288 ``Link`` header: the ``rel="next"`` URL is parsed out of it and followed as
  given, until a page has none (the anchor reused the raw header value as the next URL, and its
  integrations listing tested the condition the wrong way round, so later pages were lost). ``limit``
  asks for the largest page; an empty list may be ``204``.
* ``PUT /v1/ashares/{id}`` replaces the whole record (what it leaves out is cleared), so callers read the
  record and send back every writable field (:func:`writable`).
* :data:`CELIGO_LIMITS`: a per-account leaky bucket of 1,000 requests refilling at 300/s, announced by no
  header, so the runtime paces from this table (:class:`~iac.runtime.LimitedPacer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iac.runtime import BucketLimit, HttpClient, next_link
from iac.runtime.errors import ApiError

__all__ = ["CELIGO_LIMITS", "PAGE_SIZE", "WRITABLE_FIELDS", "CeligoClient", "LinkPage", "celigo_bucket", "writable"]

JSONObject = dict[str, Any]

PAGE_SIZE = 1000  # "1000 results per call"
CELIGO_LIMITS: Mapping[str, BucketLimit] = {"api": BucketLimit(1000, 300.0)}

WRITABLE_FIELDS = ("accessLevel", "integrationAccessLevel", "accountSSORequired", "accountMFARequired",
                   "allowAccessToAPIM", "allowToEditRetryData", "allowIntegrationWorkspaceCreation",
                   "allMcpServerAccess", "mcpServerAccessLevel", "disabled")
"""What an ashare PUT carries; read-only fields (``_id``, ``sharedWithUser``, ``userType``, …) stay out."""


def celigo_bucket(method: str, path: str) -> str:
    """One bucket per account."""
    return "api"


def writable(record: Mapping[str, Any]) -> JSONObject:
    """The fields of an ashare a full-replace PUT must carry to keep them."""
    return {key: record[key] for key in WRITABLE_FIELDS if key in record and record[key] is not None}


@dataclass(frozen=True, slots=True)
class LinkPage:
    items: list[JSONObject]
    next_url: str | None


def _objects(data: Any) -> list[JSONObject]:
    if data is None:  # 204 No Content: an empty list
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ApiError("unexpected response shape (expected a JSON list of records)")
    return data


class CeligoClient:
    """One method per endpoint the connector uses."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def _list(self, path: str, next_url: str | None) -> LinkPage:
        if next_url:
            data, response = self.http.get_json(next_url)
        else:
            data, response = self.http.get_json(path, params={"limit": PAGE_SIZE})
        return LinkPage(_objects(data), next_link(response))

    # -- reads ------------------------------------------------------------------------------------------

    def check(self) -> None:
        """One cheap call that needs the user-management permission the sync needs (403 without it)."""
        self.http.get_json("/v1/ashares", params={"limit": 1})

    def list_ashares(self, next_url: str | None) -> LinkPage:
        """The account's users (the owner is not among them) with their account-wide and per-integration
        access."""
        return self._list("/v1/ashares", next_url)

    def list_integrations(self, next_url: str | None) -> LinkPage:
        return self._list("/v1/integrations", next_url)

    def get_ashare(self, ashare_id: str) -> JSONObject:
        data, _ = self.http.get_json(f"/v1/ashares/{ashare_id}")
        if not isinstance(data, dict):
            raise ApiError("unexpected response shape (expected a user record)", method="GET",
                           path=f"/v1/ashares/{ashare_id}")
        return data

    # -- writes -----------------------------------------------------------------------------------------

    def replace_ashare(self, ashare_id: str, body: Mapping[str, Any]) -> None:
        """``PUT /v1/ashares/{id}``: a full replace (204)."""
        self.http.request("PUT", f"/v1/ashares/{ashare_id}", json=dict(body))

    def delete_ashare(self, ashare_id: str) -> None:
        """``DELETE /v1/ashares/{id}``: the user loses all access to the account (204)."""
        self.http.request("DELETE", f"/v1/ashares/{ashare_id}")
