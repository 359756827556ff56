"""Shared validators and the translation of pydantic errors into one-line SpecErrors."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from iac.errors import SpecError
from iac.spec.secret import SecretRef

__all__ = [
    "check_dns_label",
    "check_dns_subdomain",
    "check_host",
    "check_https_url",
    "spec_error_from",
]

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_dns_label(value: str, what: str, max_length: int = 63) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if not DNS_LABEL.match(value) or len(value) > max_length:
        raise ValueError(
            f"{what} {value!r} must be a lowercase RFC 1123 label: a-z, 0-9 and '-', starting and ending "
            f"with a letter or digit, at most {max_length} characters"
        )
    return value


def check_dns_subdomain(value: str, what: str) -> str:
    """A Kubernetes object name such as a StorageClass's: dot-separated RFC 1123 labels, at most 253 characters."""
    if not isinstance(value, str) or len(value) > 253 or not all(DNS_LABEL.match(p) for p in value.split(".")):
        raise ValueError(f"{what} {value!r} must be a lowercase DNS subdomain name (a-z, 0-9, '-' and '.')")
    return value


def check_host(value: str, what: str, *, strip_scheme: bool = True) -> str:
    """A bare DNS host name. An ``https://`` prefix (and one trailing slash) is accepted and stripped;
    a path, query, fragment, port or user info is rejected, and so is plain http.

    ``what`` names the value in messages about its type; others quote the value itself."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string host name")
    raw = value.strip()
    if not raw:
        raise ValueError("must not be empty")
    lowered = raw.lower()
    if lowered.startswith("http://"):
        raise ValueError(f"{raw!r} uses http://; only https is supported (write the bare host name)")
    if "://" in lowered:
        if not (strip_scheme and lowered.startswith("https://")):
            raise ValueError(f"{raw!r} must be a bare host name such as 'acme.example.com'")
        parts = urlsplit(raw)
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain user info (the part before '@')")
        if parts.path not in ("", "/"):
            raise ValueError(f"{raw!r} must be a bare host name without a path ({parts.path!r})")
        if parts.query or parts.fragment:
            raise ValueError(f"{raw!r} must be a bare host name without a query string or fragment")
        if parts.port is not None:
            raise ValueError(f"{raw!r} must be a bare host name without a port")
        host = parts.hostname or ""
    else:
        if "@" in raw:
            raise ValueError("must not contain user info (the part before '@')")
        if "/" in raw.rstrip("/") or "?" in raw or "#" in raw:
            raise ValueError(f"{raw!r} must be a bare host name without a path or query")
        if ":" in raw:
            raise ValueError(f"{raw!r} must be a bare host name without a port")
        host = raw.rstrip("/").lower()
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels) or len(host) > 253:
        raise ValueError(f"{host!r} is not a valid DNS host name")
    return host


def check_https_url(value: str, what: str) -> str:
    """An absolute http(s) URL without user info, query or fragment; trailing slash removed."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} must be an absolute http(s) URL, e.g. 'https://api.example.com'")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain user info (the part before '@')")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} must not contain a query string or fragment")
    return value.strip().rstrip("/")


def spec_error_from(exc: ValidationError, *, connector: str | None, fields: Iterable[str],
                    secret_fields: Iterable[str] = ()) -> SpecError:
    """The first pydantic error as a SpecError with a message written for people.

    Input values of secret fields are never quoted."""
    known = sorted(fields)
    secrets = set(secret_fields)
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = [str(part) for part in first["loc"]]
    field = loc[0] if loc else None
    if field and field.startswith("function-") and len(loc) > 1:  # before-validator on a union
        field = loc[1]
    message = _message(first, field, known, hide_input=field in secrets)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    dotted = ".".join(loc) if len(loc) > 1 and not loc[1].startswith(("function-", "Env", "File")) else field
    return SpecError(message, field=dotted, connector=connector)


def _message(error: Any, field: str | None, known: list[str], *, hide_input: bool) -> str:
    kind = error["type"]
    value = error.get("input")
    shown = "" if hide_input else f", got {_short(value)}"
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field or "", known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known fields: {', '.join(known)}"
        return f"is not a known setting{hint}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("bool_type", "bool_parsing"):
        return f"must be True or False{shown}"
    if kind in ("string_type",):
        return f"must be a string{shown}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number{shown}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number{shown}"
    if kind in ("list_type", "tuple_type"):
        return f"must be a list{shown}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"has the wrong type{shown}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}{shown}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{error['msg'].lower()}{shown}"
    if kind.startswith("union_tag") or kind == "is_instance_of":
        return f"has the wrong type{shown}"
    return f"{error['msg']}{shown}"


def _short(value: Any) -> str:
    if isinstance(value, SecretRef):
        return value.describe()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
