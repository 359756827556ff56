"""Run a simulator's ASGI app with uvicorn: in a background thread (tests) or the foreground (CLI)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from iac.sim._http import ConnectionAbortedBySimulator
from iac.sim._tls import TlsFiles

__all__ = ["ServerHandle", "run", "serve"]


class _HideInjectedResets(logging.Filter):
    """uvicorn logs every exception an app raises; the reset fault raises on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionAbortedBySimulator)


_RESET_FILTER = _HideInjectedResets()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn writes a response's head and body separately; without NODELAY (inherited by accepted
    # sockets) Nagle holds the body until the client's delayed ACK, ~40 ms per small response.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _base_url(sock: socket.socket, tls: TlsFiles | None = None) -> str:
    host, port = sock.getsockname()[:2]
    if tls is not None:  # clients must use the certificate's name (resolved to this address by them)
        return f"https://{tls.hostname}" if port == 443 else f"https://{tls.hostname}:{port}"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: ASGIApp, log_level: str, tls: TlsFiles | None = None) -> uvicorn.Server:
    logging.getLogger("uvicorn.error").addFilter(_RESET_FILTER)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", http="h11",
                            ws="none", timeout_graceful_shutdown=1,
                            ssl_certfile=str(tls.certificate) if tls else None,
                            ssl_keyfile=str(tls.key) if tls else None)
    return uvicorn.Server(config)


class ServerHandle:
    """A running background server: its ``base_url`` and a way to stop it."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, base_url: str) -> None:
        self._server = server
        self._thread = thread
        self.base_url = base_url

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


@contextlib.contextmanager
def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0,
          log_level: str = "warning", tls: TlsFiles | None = None) -> Iterator[str]:
    """Serve ``app`` on ``host`` (loopback by default) in a daemon thread; yields the base URL.

    ``port=0`` picks a free port. The server is stopped when the block exits. With ``tls`` it serves
    HTTPS and the URL names ``tls.hostname`` (the client maps that name to ``host`` itself).
    """
    sock = _bind(host, port)
    server = _server(app, log_level, tls)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"sim-server-{sock.getsockname()[1]}")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the simulator server did not start")
        time.sleep(0.005)
    handle = ServerHandle(server, thread, _base_url(sock, tls))
    try:
        yield handle.base_url
    finally:
        handle.stop()
        sock.close()


def run(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
        on_ready: Callable[[str], None] | None = None, tls: TlsFiles | None = None) -> None:
    """Serve ``app`` in the foreground until Ctrl-C; ``on_ready(base_url)`` is called once bound."""
    sock = _bind(host, port)
    server = _server(app, log_level, tls)
    if on_ready is not None:
        on_ready(_base_url(sock, tls))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
