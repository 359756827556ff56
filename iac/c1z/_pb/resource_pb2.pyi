from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from iac.c1z._pb import asset_pb2 as _asset_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceType(_message.Message):
    __slots__ = ("id", "display_name", "traits", "annotations", "description", "sourced_externally")
    class Trait(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TRAIT_UNSPECIFIED: _ClassVar[ResourceType.Trait]
        TRAIT_USER: _ClassVar[ResourceType.Trait]
        TRAIT_GROUP: _ClassVar[ResourceType.Trait]
        TRAIT_ROLE: _ClassVar[ResourceType.Trait]
        TRAIT_APP: _ClassVar[ResourceType.Trait]
        TRAIT_SECRET: _ClassVar[ResourceType.Trait]
        TRAIT_SECURITY_INSIGHT: _ClassVar[ResourceType.Trait]
        TRAIT_SCOPE_BINDING: _ClassVar[ResourceType.Trait]
        TRAIT_VENDOR: _ClassVar[ResourceType.Trait]
        TRAIT_VENDOR_AGREEMENT: _ClassVar[ResourceType.Trait]
        TRAIT_LICENSE_PROFILE: _ClassVar[ResourceType.Trait]
        TRAIT_AGENT: _ClassVar[ResourceType.Trait]
        TRAIT_MANAGED_DEVICE: _ClassVar[ResourceType.Trait]
    TRAIT_UNSPECIFIED: ResourceType.Trait
    TRAIT_USER: ResourceType.Trait
    TRAIT_GROUP: ResourceType.Trait
    TRAIT_ROLE: ResourceType.Trait
    TRAIT_APP: ResourceType.Trait
    TRAIT_SECRET: ResourceType.Trait
    TRAIT_SECURITY_INSIGHT: ResourceType.Trait
    TRAIT_SCOPE_BINDING: ResourceType.Trait
    TRAIT_VENDOR: ResourceType.Trait
    TRAIT_VENDOR_AGREEMENT: ResourceType.Trait
    TRAIT_LICENSE_PROFILE: ResourceType.Trait
    TRAIT_AGENT: ResourceType.Trait
    TRAIT_MANAGED_DEVICE: ResourceType.Trait
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCED_EXTERNALLY_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    traits: _containers.RepeatedScalarFieldContainer[ResourceType.Trait]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    description: str
    sourced_externally: bool
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., traits: _Optional[_Iterable[_Union[ResourceType.Trait, str]]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., description: _Optional[str] = ..., sourced_externally: bool = ...) -> None: ...

class ResourceId(_message.Message):
    __slots__ = ("resource_type", "resource", "baton_resource")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    BATON_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource_type: str
    resource: str
    baton_resource: bool
    def __init__(self, resource_type: _Optional[str] = ..., resource: _Optional[str] = ..., baton_resource: bool = ...) -> None: ...

class ExternalId(_message.Message):
    __slots__ = ("id", "link", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    link: str
    description: str
    def __init__(self, id: _Optional[str] = ..., link: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("status", "details")
    class ResourceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        RESOURCE_STATUS_UNSPECIFIED: _ClassVar[Status.ResourceStatus]
        RESOURCE_STATUS_ENABLED: _ClassVar[Status.ResourceStatus]
        RESOURCE_STATUS_DISABLED: _ClassVar[Status.ResourceStatus]
        RESOURCE_STATUS_DELETED: _ClassVar[Status.ResourceStatus]
    RESOURCE_STATUS_UNSPECIFIED: Status.ResourceStatus
    RESOURCE_STATUS_ENABLED: Status.ResourceStatus
    RESOURCE_STATUS_DISABLED: Status.ResourceStatus
    RESOURCE_STATUS_DELETED: Status.ResourceStatus
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    status: Status.ResourceStatus
    details: str
    def __init__(self, status: _Optional[_Union[Status.ResourceStatus, str]] = ..., details: _Optional[str] = ...) -> None: ...

class Resource(_message.Message):
    __slots__ = ("id", "parent_resource_id", "display_name", "annotations", "description", "baton_resource", "external_id", "creation_source", "profile", "icon", "status", "created_at")
    class CreationSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CREATION_SOURCE_UNSPECIFIED: _ClassVar[Resource.CreationSource]
        CREATION_SOURCE_CONNECTOR_LIST_RESOURCES: _ClassVar[Resource.CreationSource]
        CREATION_SOURCE_CONNECTOR_LIST_GRANTS_PRINCIPAL_JIT: _ClassVar[Resource.CreationSource]
    CREATION_SOURCE_UNSPECIFIED: Resource.CreationSource
    CREATION_SOURCE_CONNECTOR_LIST_RESOURCES: Resource.CreationSource
    CREATION_SOURCE_CONNECTOR_LIST_GRANTS_PRINCIPAL_JIT: Resource.CreationSource
    ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BATON_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    CREATION_SOURCE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: ResourceId
    parent_resource_id: ResourceId
    display_name: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    description: str
    baton_resource: bool
    external_id: ExternalId
    creation_source: Resource.CreationSource
    profile: _struct_pb2.Struct
    icon: _asset_pb2.AssetRef
    status: Status
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[_Union[ResourceId, _Mapping]] = ..., parent_resource_id: _Optional[_Union[ResourceId, _Mapping]] = ..., display_name: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., description: _Optional[str] = ..., baton_resource: bool = ..., external_id: _Optional[_Union[ExternalId, _Mapping]] = ..., creation_source: _Optional[_Union[Resource.CreationSource, str]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., icon: _Optional[_Union[_asset_pb2.AssetRef, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
