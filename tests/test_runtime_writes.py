"""A write is never sent twice blindly: once the vendor may have carried it out, the runtime re-reads state.

The HTTP client re-sends a write only when nothing left the machine (a refused connection) or the vendor
said it did nothing (429, 401); after a lost answer, a 5xx or a body cut short it raises
WriteOutcomeUnknownError, and ``provision_once`` runs the grant again, which reads the state first."""

from __future__ import annotations

import random

import httpx
import pytest

from iac.runtime import (
    Entitlement,
    Grant,
    HttpClient,
    ProvisionOutcome,
    ProvisionResult,
    ResourceRef,
    VirtualClock,
    provision_once,
)
from iac.runtime.errors import WriteOutcomeUnknownError
from iac.runtime.testing import json_response


def client(transport: httpx.BaseTransport) -> HttpClient:
    return HttpClient("https://vendor.example", transport=transport, clock=VirtualClock(), rng=random.Random(1))


def counting(answers: list[type[Exception] | int]) -> tuple[httpx.MockTransport, list[str]]:
    """A transport that answers each request with the next item: an exception class or a status."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        answer = answers[min(len(sent), len(answers)) - 1]
        if isinstance(answer, int):
            return json_response({"id": "1"}, answer)
        raise answer("cut", request=request)

    return httpx.MockTransport(handler), sent


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError, 503])
def test_a_write_whose_outcome_is_unknown_is_not_sent_again(failure: type[Exception] | int) -> None:
    transport, sent = counting([failure, 204])
    with pytest.raises(WriteOutcomeUnknownError, match="PUT /api/v1/groups/g1/users/u1"):
        client(transport).request("PUT", "/api/v1/groups/g1/users/u1")
    assert sent == ["PUT"]


def test_a_write_cut_short_in_its_answer_is_not_sent_again() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        return httpx.Response(200, content=b'{"id": "1", "ro', headers={"content-type": "application/json"})

    with pytest.raises(WriteOutcomeUnknownError):
        client(httpx.MockTransport(handler)).request_json("PUT", "/api/users/7", json={"roles": []})
    assert sent == ["PUT"]


@pytest.mark.parametrize("failure", [httpx.ConnectError, 429])
def test_a_write_the_vendor_never_saw_or_refused_is_retried(failure: type[Exception] | int) -> None:
    transport, sent = counting([failure, 204])
    assert client(transport).request("PUT", "/api/v1/groups/g1/users/u1").status_code == 204
    assert sent == ["PUT", "PUT"]


def test_reads_and_replayable_writes_are_retried_after_a_lost_answer() -> None:
    transport, sent = counting([httpx.ReadTimeout, 200])
    client(transport).request("GET", "/api/v1/users")
    transport_post, posted = counting([httpx.ReadTimeout, 200])
    client(transport_post).request("POST", "/oauth2/token", content=b"grant_type=x", replayable=True)
    assert sent == ["GET", "GET"] and posted == ["POST", "POST"]


class _Vendor:
    """A grant that reads first; its first write is carried out but its answer lost."""

    def __init__(self) -> None:
        self.held = False
        self.writes = 0

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        if self.held:
            return ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, "g")
        self.writes += 1
        self.held = True
        if self.writes == 1:
            raise WriteOutcomeUnknownError("ReadTimeout after the request was sent", method="PUT", path="/x")
        return ProvisionResult(ProvisionOutcome.GRANTED, "g")

    def revoke(self, grant: Grant) -> ProvisionResult:
        raise WriteOutcomeUnknownError("HTTP 503", method="DELETE", path="/x", status=503)


def test_provision_once_rereads_after_a_lost_answer_and_reports_the_grant_as_ours() -> None:
    vendor = _Vendor()
    user, entitlement = ResourceRef("user", "u1"), Entitlement(ResourceRef("group", "g1"), "member", "member")
    result = provision_once(lambda: vendor.grant(user, entitlement))
    assert (result.outcome, vendor.writes) == (ProvisionOutcome.GRANTED, 1)


def test_provision_once_gives_up_with_the_unknown_outcome_after_its_attempts() -> None:
    vendor = _Vendor()
    with pytest.raises(WriteOutcomeUnknownError, match="HTTP 503"):
        provision_once(lambda: vendor.revoke(Grant(ResourceRef("group", "g1"), "member", ResourceRef("user", "u"))),
                       attempts=2)
