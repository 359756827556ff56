"""The gRPC side: ``tf``'s servicer, extended where the provider needs more than ``tf`` 1.2 offers, and the
go-plugin server loop.

What the extension adds:

- the ``write_only`` schema flag (through :class:`._provider.WriteOnlyAttribute`) and, at validate and plan,
  a refusal to take a write-only value from a Terraform that did not announce write-only support (< 1.11):
  such a Terraform would store the value in its state;
- PlanResourceChange and ApplyResourceChange that hand the resource the *configuration* as well: write-only
  values exist nowhere else (``tf`` passes only prior/proposed/planned state), and an explicit plan for
  destroy (``plan_destroy``);
- ``server_capabilities`` in the schema response, where Terraform reads them.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import IO, Any, TypeVar

from tf.iface import CreateContext, DeleteContext, UpdateContext  # type: ignore[import-untyped]
from tf.provider import ProviderServicer  # type: ignore[import-untyped]
from tf.utils import (  # type: ignore[import-untyped]
    Diagnostic,
    Diagnostics,
    _to_attribute_path,
    read_dynamic_value,
    to_dynamic_value,
)

from iac._redact import RedactingFormatter
from iac.backends.terraform._protocol import write_only_allowed
from iac.backends.terraform._provider import BatonProvider, ConnectorResource

__all__ = ["BatonServicer", "serve"]

log = logging.getLogger(__name__)

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
"""go-plugin's handshake: Terraform sets this variable when it starts a provider."""
_WRITE_ONLY_SINCE = "1.11"
R = TypeVar("R")


def log_handler(stream: IO[str]) -> logging.Handler:
    """The provider's log handler (Terraform shows the plugin's stderr): every line and traceback redacted,
    since this process holds the write-only values."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    return handler


def _guarded(method: Callable[..., R]) -> Callable[..., R]:
    """Log the traceback of anything unexpected (gRPC would only say "Exception calling application"),
    redacted: this process holds the write-only values, and a traceback's messages may quote them."""
    def wrapper(self: Any, request: Any, context: Any) -> R:
        try:
            return method(self, request, context)
        except Exception:
            log.exception("%s failed", method.__name__)  # through the RedactingFormatter set up in serve()
            raise
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class BatonServicer(ProviderServicer):  # type: ignore[misc]
    app: BatonProvider

    def _pb(self) -> Any:
        from tf.gen import tfplugin_pb2  # type: ignore[import-untyped]

        return tfplugin_pb2

    @_guarded
    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        response = super().GetProviderSchema(request, context)
        response.server_capabilities.plan_destroy = True
        response.server_capabilities.get_provider_schema_optional = True
        return response

    @_guarded
    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        self.app.write_only_allowed = write_only_allowed("ConfigureProvider", request)
        self.app.terraform_version = request.terraform_version
        return super().ConfigureProvider(request, context)

    @_guarded
    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        response = super().ValidateResourceConfig(request, context)
        if not write_only_allowed("ValidateResourceConfig", request):
            klass = self._get_res_cls(request.type_name)
            config = read_dynamic_value(request.config) or {}
            for diagnostic in _write_only_refusals(klass, config):
                response.diagnostics.append(diagnostic.to_pb())
        return response

    @_guarded
    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        pb = self._pb()
        diags = Diagnostics()
        klass: type[ConnectorResource] = self._get_res_cls(request.type_name)
        config = read_dynamic_value(request.config)
        if config is not None and not write_only_allowed("PlanResourceChange", request):
            refusals = _write_only_refusals(klass, config)
            if refusals:
                diags.diagnostics += refusals
                return pb.PlanResourceChange.Response(diagnostics=diags.to_pb())
        resource: ConnectorResource = self.app.new_resource(klass)
        planned, replace = resource.plan_change(diags, read_dynamic_value(request.prior_state),
                                                read_dynamic_value(request.proposed_new_state), config)
        if diags.has_errors():
            return pb.PlanResourceChange.Response(diagnostics=diags.to_pb())
        return pb.PlanResourceChange.Response(
            planned_state=to_dynamic_value(planned),
            requires_replace=[_to_attribute_path([name]) for name in replace],
            diagnostics=diags.to_pb(),
        )

    @_guarded
    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        pb = self._pb()
        diags = Diagnostics()
        type_name = request.type_name
        resource: ConnectorResource = self.app.new_resource(self._get_res_cls(type_name))
        prior = read_dynamic_value(request.prior_state)
        planned = read_dynamic_value(request.planned_state)
        config = read_dynamic_value(request.config)
        if prior is None and planned is not None:
            ctx = CreateContext(diags, type_name)
            ctx.config = config
            new_state = resource.create(ctx, planned)
        elif planned is None:
            resource.delete(DeleteContext(diags, type_name), prior)
            new_state = None
        else:
            ctx = UpdateContext(diags, type_name)
            ctx.config = config
            new_state = resource.update(ctx, prior, planned)
        return pb.ApplyResourceChange.Response(new_state=to_dynamic_value(new_state), diagnostics=diags.to_pb())


def _write_only_refusals(klass: type[ConnectorResource], config: dict[str, Any]) -> list[Any]:
    """An error per write-only argument set in ``config``: this Terraform would keep its value in state."""
    found = []
    for attribute in klass.spec.secret_inputs:
        if config.get(attribute.name) is not None:
            found.append(Diagnostic.error(
                f"{attribute.name} is write-only and needs Terraform >= {_WRITE_ONLY_SINCE}",
                f"This Terraform does not support write-only arguments: it would store the value of "
                f"{klass.spec.type_name}.{attribute.name} in its plan and state files. Nothing was planned. "
                f"Upgrade to Terraform {_WRITE_ONLY_SINCE} or newer (or use `iac up`, which keeps no state).",
                path=[attribute.name]))
    return found


def serve(provider: BatonProvider | None = None, argv: Sequence[str] | None = None) -> int:
    """Serve the provider over go-plugin (unix socket, TLS) until Terraform stops it. Returns an exit code."""
    import grpc  # type: ignore[import-untyped]
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_controller_pb2_grpc as controller_rpc
    from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
    from tf.gen import tfplugin_pb2_grpc as rpc
    from tf.runner import _self_signed_cert, _ShutdownInterceptor  # type: ignore[import-untyped]

    args = list(sys.argv[1:] if argv is None else argv)
    if MAGIC_COOKIE_KEY not in os.environ and "--dev" not in args:
        print("This is the Terraform provider iac/baton: Terraform starts it. Make it available with "
              "`iac terraform install` (see `iac terraform install --help`).", file=sys.stderr)
        return 1
    logging.basicConfig(level=os.environ.get("IAC_PROVIDER_LOG_LEVEL", "WARNING"), handlers=[log_handler(sys.stderr)])
    app = provider or BatonProvider()
    stopper = _ShutdownInterceptor()
    server = grpc.server(thread_pool=futures.ThreadPoolExecutor(max_workers=10), interceptors=[stopper])
    stopper.server = server
    rpc.add_ProviderServicer_to_server(BatonServicer(app), server)

    class Controller(controller_rpc.GRPCControllerServicer):  # type: ignore[misc]
        def Shutdown(self, request: Any, context: Any) -> Any:
            stopper.stopped = True
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):  # type: ignore[misc]
        def StreamStdio(self, request: Any, context: Any) -> Any:
            return iter([])

    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)
    with tempfile.TemporaryDirectory(prefix="iac-provider-") as tmp:
        socket_path = f"{tmp}/plugin.sock"
        if "--dev" in args:  # debugging: TF_REATTACH_PROVIDERS instead of Terraform starting the process
            server.add_insecure_port(f"unix://{socket_path}")
            server.start()
            reattach = {app.full_name(): {"Protocol": "grpc", "ProtocolVersion": 6, "Pid": os.getpid(),
                                          "Test": True, "Addr": {"Network": "unix", "String": socket_path}}}
            print(f"export TF_REATTACH_PROVIDERS='{json.dumps(reattach)}'", flush=True)
        else:
            chain, credentials = _self_signed_cert()
            server.add_secure_port(f"unix://{socket_path}", credentials)
            server.start()
            # go-plugin handshake: core protocol 1, app protocol 6, network, address, protocol, server cert.
            cert = base64.b64encode(chain).decode().rstrip("=")
            print(f"1|6|unix|{socket_path}|grpc|{cert}", flush=True)
        try:
            while not stopper.stopped and server.wait_for_termination(0.05):  # True: timed out, still serving
                pass
        except KeyboardInterrupt:
            pass
        finally:
            server.stop(grace=0.5)
            app.close()
    return 0
