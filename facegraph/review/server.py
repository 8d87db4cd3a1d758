"""Serving the review app: on a loopback address by default; on any other only with an access token."""

from __future__ import annotations

import errno
import socket
from typing import Callable

from facegraph.errors import InvalidRequestError
from facegraph.review.app import create_app
from facegraph.review.security import TOKEN_PARAM, access_token, host_name, reachable_hosts


def serve(graph, host: str = "127.0.0.1", port: int = 8000, *, token: str | None = None,
          ready: Callable[[str], None] | None = None, **options) -> None:
    """Serve the review app of `graph` on `host`:`port` until interrupted (Ctrl+C); `ready` is called with its URL
    once it listens. On a loopback address (the default) it needs no token unless `token` is given; on any other
    every request must carry `token`, or a random one made here, which the URL then ends in (`?token=...`). It
    answers only to the Host names it is reachable by (`security.reachable_hosts`). `options` go to `create_app`
    (`thumbnails`, `min_faces`)."""
    import uvicorn

    token = access_token(host, token)
    sock = listen(host, port)
    app = create_app(graph, hosts=reachable_hosts(host), token=token, **options)
    if ready:
        ready(f"http://{host_name(host)}:{sock.getsockname()[1]}/" + (f"?{TOKEN_PARAM}={token}" if token else ""))
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on `host`:`port` (port 0: any free one). It checks nothing: `serve` decides whether the
    address needs an access token."""
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:  # a port in use, or an address (or name) that is not this machine's
        what_next = "choose another --port" if exc.errno == errno.EADDRINUSE else "check --host"
        raise InvalidRequestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; {what_next}") from None
