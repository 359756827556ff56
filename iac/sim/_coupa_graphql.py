"""Coupa's GraphQL read API (``POST /api/graphql``) over the same dataset as the REST simulator.

What baton-coupa reads through (its ``pkg/connector/client``): ``users``, ``userGroups`` and ``roles``, each
taking ``query:`` — a Coupa REST query string (``id[gt]=41&type[blank]=true``, ``roles[id]=3``,
``purchasing-user=true``) with the REST filters, ``offset``/``limit`` and page cap (50) — and nested
``users { roles { … } userGroups { … } }`` / ``userGroups { users { … } }`` (nested lists are not paged).
Keyset paging (``id[gt]=<last id>``) ends on an empty page. Coupa offers no mutations: writes are REST.

Answers follow the GraphQL spec: HTTP 200 with ``{"data": …}``, or ``{"errors": [{"message", "locations",
"path"}], "data": …}`` for a bad query, an unsupported filter or a missing scope (the field resolves to
null). A body that is not a JSON object with a ``query`` string is a 400. [U: Coupa's exact messages.]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
    graphql_sync,
)

from iac.sim._coupa_data import LICENSE_FLAGS, CoupaDataset, NamedRecord, coupa_timestamp
from iac.sim._http import SimError

if TYPE_CHECKING:
    from iac.sim.coupa import CoupaSim

__all__ = ["CoupaGraphQL"]


@dataclass(frozen=True)
class _Context:
    scopes: frozenset[str]


Info = GraphQLResolveInfo[_Context]


def _camel(flag: str) -> str:
    head, *rest = flag.split("-")
    return head + "".join(part.capitalize() for part in rest)


class CoupaGraphQL:
    """The schema and its resolvers; ``execute`` answers one ``POST /api/graphql`` body."""

    def __init__(self, sim: CoupaSim) -> None:
        self.sim = sim
        self.schema = self._build_schema()

    @property
    def dataset(self) -> CoupaDataset:
        return self.sim.dataset

    # ---- the schema -------------------------------------------------------------------------------

    def _build_schema(self) -> GraphQLSchema:
        def ds() -> CoupaDataset:  # read at resolve time
            return self.dataset

        def named_type(name: str) -> GraphQLObjectType:
            return GraphQLObjectType(name, lambda: {
                "id": GraphQLField(GraphQLNonNull(GraphQLInt), resolve=lambda r, _: r.id),
                "name": GraphQLField(GraphQLString, resolve=lambda r, _: r.name),
                "description": GraphQLField(GraphQLString, resolve=lambda r, _: r.description),
                "active": GraphQLField(GraphQLBoolean, resolve=lambda r, _: r.active),
                "createdAt": GraphQLField(GraphQLString, resolve=lambda r, _: coupa_timestamp(r.created)),
            })

        role = named_type("Role")
        content_group = named_type("ContentGroup")
        account_group = named_type("AccountGroup")

        def user_attr(attr: str) -> Callable[[int, Info], Any]:
            return lambda u, _: getattr(ds().users[u], attr)

        def user_fields() -> dict[str, GraphQLField]:
            fields = {
                "id": GraphQLField(GraphQLNonNull(GraphQLInt), resolve=user_attr("id")),
                "login": GraphQLField(GraphQLString, resolve=user_attr("login")),
                "email": GraphQLField(GraphQLString, resolve=user_attr("email")),
                "firstname": GraphQLField(GraphQLString, resolve=user_attr("firstname")),
                "lastname": GraphQLField(GraphQLString, resolve=user_attr("lastname")),
                "fullname": GraphQLField(GraphQLString, resolve=lambda u, _: (
                    f"{ds().users[u].firstname} {ds().users[u].lastname}")),
                "employeeNumber": GraphQLField(GraphQLString, resolve=user_attr("employee_number")),
                "active": GraphQLField(GraphQLBoolean, resolve=user_attr("active")),
                "apiUser": GraphQLField(GraphQLBoolean, resolve=user_attr("api_user")),
                "type": GraphQLField(GraphQLString, resolve=lambda u, _: None),
                "createdAt": GraphQLField(GraphQLString, resolve=lambda u, _: coupa_timestamp(ds().users[u].created)),
                "updatedAt": GraphQLField(GraphQLString, resolve=lambda u, _: coupa_timestamp(ds().users[u].updated)),
                "roles": GraphQLField(GraphQLList(GraphQLNonNull(role)), resolve=lambda u, _: [
                    ds().roles[r] for r in ds().users[u].roles]),
                "userGroups": GraphQLField(GraphQLList(GraphQLNonNull(user_group)), resolve=lambda u, _: list(
                    ds().users[u].user_groups)),
                "contentGroups": GraphQLField(GraphQLList(GraphQLNonNull(content_group)), resolve=lambda u, _: [
                    ds().content_groups[c] for c in ds().users[u].content_groups]),
                "accountGroups": GraphQLField(GraphQLList(GraphQLNonNull(account_group)), resolve=lambda u, _: [
                    ds().account_groups[a] for a in ds().users[u].account_groups]),
            }
            for flag in LICENSE_FLAGS:
                fields[_camel(flag)] = GraphQLField(
                    GraphQLBoolean, resolve=lambda u, _, flag=flag: ds().users[u].has_license(flag))
            return fields

        user = GraphQLObjectType("User", user_fields)
        user_group = GraphQLObjectType("UserGroup", lambda: {
            "id": GraphQLField(GraphQLNonNull(GraphQLInt), resolve=lambda g, _: ds().user_groups[g].id),
            "name": GraphQLField(GraphQLString, resolve=lambda g, _: ds().user_groups[g].name),
            "description": GraphQLField(GraphQLString, resolve=lambda g, _: ds().user_groups[g].description),
            "active": GraphQLField(GraphQLBoolean, resolve=lambda g, _: ds().user_groups[g].active),
            "users": GraphQLField(GraphQLList(GraphQLNonNull(user)), resolve=lambda g, _: sorted(
                ds().group_members[g], key=lambda u: ds().users[u].id)),
        })
        query_arg = {"query": GraphQLArgument(GraphQLString, description="A Coupa REST query string")}
        root = GraphQLObjectType("Query", {
            "users": GraphQLField(GraphQLList(GraphQLNonNull(user)), args=query_arg, resolve=self._users),
            "userGroups": GraphQLField(GraphQLList(GraphQLNonNull(user_group)), args=query_arg,
                                       resolve=self._user_groups),
            "roles": GraphQLField(GraphQLList(GraphQLNonNull(role)), args=query_arg, resolve=self._roles),
        })
        return GraphQLSchema(query=root)

    # ---- root resolvers: the REST list semantics, reached through the query string ----------------

    def _select(self, info: Info, scope: str, path: str, count: int,
                fields: Mapping[str, Any], query: str | None) -> list[int]:
        if scope not in info.context.scopes:
            raise GraphQLError(f"The access token lacks the scope {scope}")
        params = dict(parse_qsl(query or "", keep_blank_values=True))
        try:
            return self.sim.select(path, count, fields, params)
        except SimError as error:
            raise GraphQLError(error.summary) from None

    def _users(self, _root: Any, info: Info, query: str | None = None) -> list[int]:
        return self._select(info, "core.user.read", "graphql:users", self.dataset.user_count,
                            self.sim.user_fields(), query)

    def _user_groups(self, _root: Any, info: Info, query: str | None = None) -> list[int]:
        return self._select(info, "core.user_group.read", "graphql:userGroups", len(self.dataset.user_groups),
                            self.sim.user_group_fields(), query)

    def _roles(self, _root: Any, info: Info, query: str | None = None) -> list[NamedRecord]:
        roles = self.dataset.roles
        chosen = self._select(info, "core.user.read", "graphql:roles", len(roles),
                              self.sim.catalogue_fields(roles), query)
        return [roles[r] for r in chosen]

    # ---- one request ------------------------------------------------------------------------------

    def execute(self, body: Any, scopes: frozenset[str]) -> dict[str, Any]:
        """The response document for a decoded request body; SimError 400 for a body that is no request."""
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise SimError(400, "request", "The body must be a JSON object with a 'query' string")
        variables = body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise SimError(400, "request", "'variables' must be a JSON object")
        operation = body.get("operationName")
        with self.dataset.lock:
            result = graphql_sync(self.schema, body["query"], variable_values=variables,
                                  operation_name=operation if isinstance(operation, str) else None,
                                  context_value=_Context(scopes))
        return _formatted(result.data, result.errors)


def _formatted(data: Any, errors: Sequence[GraphQLError] | None) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if errors:
        document["errors"] = [error.formatted for error in errors]
    if data is not None or not errors:
        document["data"] = data
    return document
