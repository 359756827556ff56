"""What the ``tf`` framework's generated tfplugin6 messages lack: write-only attributes and client capabilities.

``tf`` 1.2.0 ships protobuf modules generated before Terraform 1.11 (plugin protocol 6.9), so its
``Schema.Attribute`` has no ``write_only`` field and its requests have no ``client_capabilities``. Rather than
regenerating (and forking) those modules, this module declares *overlay* messages that hold only the missing
fields, with the field numbers of ``docs/plugin-protocol/tfplugin6.9.proto`` in hashicorp/terraform:

    Schema.Attribute            bool write_only = 11;
    ClientCapabilities          bool deferral_allowed = 1; bool write_only_attributes_allowed = 2;
    ValidateResourceConfig.Request   ClientCapabilities client_capabilities = 3;
    ConfigureProvider.Request        ClientCapabilities client_capabilities = 3;
    PlanResourceChange.Request       ClientCapabilities client_capabilities = 7;

Protobuf keeps fields a message does not declare as *unknown fields* and writes them back out when it is
serialized, so an overlay merged into a ``tf`` message travels to Terraform intact, and a request re-parsed as
an overlay yields the fields ``tf`` could not see. The overlays live in a private descriptor pool: they never
clash with the ``tfplugin6`` package ``tf`` registers in the default pool.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["REQUEST_CAPABILITY_FIELDS", "mark_write_only", "write_only_allowed"]

_PACKAGE = "iac.tfplugin6.overlay"

REQUEST_CAPABILITY_FIELDS: dict[str, int] = {
    "ValidateResourceConfig": 3,
    "ConfigureProvider": 3,
    "PlanResourceChange": 7,
}
"""Field number of ``client_capabilities`` in each request message that carries it (protocol 6.9)."""

_ATTRIBUTE_WRITE_ONLY = 11
_CAPABILITY_DEFERRAL_ALLOWED = 1
_CAPABILITY_WRITE_ONLY_ALLOWED = 2


@cache
def _classes() -> dict[str, Any]:
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="iac_tfplugin6_overlay.proto", package=_PACKAGE, syntax="proto3")
    capabilities = file.message_type.add(name="ClientCapabilities")
    capabilities.field.add(name="deferral_allowed", number=_CAPABILITY_DEFERRAL_ALLOWED, type=F.TYPE_BOOL,
                           label=F.LABEL_OPTIONAL)
    capabilities.field.add(name="write_only_attributes_allowed", number=_CAPABILITY_WRITE_ONLY_ALLOWED,
                           type=F.TYPE_BOOL, label=F.LABEL_OPTIONAL)
    attribute = file.message_type.add(name="AttributeWriteOnly")
    attribute.field.add(name="write_only", number=_ATTRIBUTE_WRITE_ONLY, type=F.TYPE_BOOL, label=F.LABEL_OPTIONAL)
    for request, number in REQUEST_CAPABILITY_FIELDS.items():
        message = file.message_type.add(name=f"{request}Request")
        message.field.add(name="client_capabilities", number=number, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                          type_name=f".{_PACKAGE}.ClientCapabilities")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)  # type: ignore[no-untyped-call]  # untyped in types-protobuf
    names = ["ClientCapabilities", "AttributeWriteOnly", *(f"{r}Request" for r in REQUEST_CAPABILITY_FIELDS)]
    return {name: message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))  # type: ignore[no-untyped-call]
            for name in names}


def mark_write_only(attribute: Any) -> Any:
    """Set ``write_only = true`` (field 11) on a ``tfplugin6.Schema.Attribute`` message, in place."""
    overlay = _classes()["AttributeWriteOnly"](write_only=True)
    attribute.MergeFromString(overlay.SerializeToString())
    return attribute


def write_only_allowed(request_name: str, request: Any) -> bool:
    """Whether the Terraform that sent ``request`` (a ``<request_name>.Request``) announced support for
    write-only attributes. Terraform < 1.11 sends no client capabilities at all: False."""
    overlay = _classes()[f"{request_name}Request"]()
    overlay.ParseFromString(request.SerializeToString())
    return bool(overlay.HasField("client_capabilities")
                and overlay.client_capabilities.write_only_attributes_allowed)


def request_with_capabilities(request_name: str, request: Any, *, write_only: bool) -> Any:
    """A copy of ``request`` carrying client capabilities, as Terraform >= 1.11 sends it (for tests)."""
    overlay = _classes()[f"{request_name}Request"]()
    overlay.client_capabilities.write_only_attributes_allowed = write_only
    copy = type(request)()
    copy.CopyFrom(request)
    copy.MergeFromString(overlay.SerializeToString())
    return copy
