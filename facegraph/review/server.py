"""Serving the review app: on a loopback address only, since it has no login."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Callable

from facegraph.errors import InvalidRequestError
from facegraph.review.app import create_app


def serve(graph, host: str = "127.0.0.1", port: int = 8000, *, ready: Callable[[str], None] | None = None) -> None:
    """Serve the review app of `graph` on a loopback address until interrupted (Ctrl+C); `ready` is called with
    its URL once it listens. The app has no login, so it never listens where other machines reach it."""
    import uvicorn

    sock = listen(host, port)
    app = create_app(graph, hosts=sorted({host, "localhost", "127.0.0.1", "::1"}))
    if ready:
        shown = f"[{host}]" if ":" in host else host
        ready(f"http://{shown}:{sock.getsockname()[1]}/")
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on `host`:`port` (port 0: any free one), if `host` is a loopback address."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise InvalidRequestError(f"the review app has no login, so it listens on a loopback address only "
                                  f"(127.0.0.1, ::1 or localhost), got {host!r}")
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise InvalidRequestError(f"cannot listen on {host}:{port}: {reason}; choose another --port") from None
