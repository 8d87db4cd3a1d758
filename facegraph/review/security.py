"""What keeps the review app safe where others can reach it, checked in this order:

1. the Host header (`reachable_hosts`, for starlette's `TrustedHostMiddleware`): only the names the app is
   reachable by, so a page of another site that points its own name at this address (DNS rebinding) gets 400;
2. the access token (`AccessToken`), whenever the app has one: `?token=` on the first visit (it becomes a cookie),
   then the cookie, or `Authorization: Bearer`; without it, 401 and a page saying how to get in;
3. the request's Origin or Referer (app.py's `same_origin_posts`): a POST from another site's page gets 403;
4. the CSRF token (`check_csrf`): a POST whose form field `csrf_token` or header `X-CSRF-Token` is not the
   app's token gets 403.

Every secret is compared with `secrets.compare_digest`. Ids from a request never name a file: the store hashes them
into point ids, and photo files come only from stored payloads.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
from typing import Callable

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from facegraph.errors import InvalidRequestError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # they only read, so they need no CSRF token
CSRF_FIELD = "csrf_token"  # the hidden field every POST form of the templates carries
CSRF_HEADER = "x-csrf-token"
STALE_FORM = "this form is out of date or came from another site: reload the page and try again"
TOKEN_PARAM = "token"  # ?token=... on the first visit
TOKEN_COOKIE = "facegraph_review_token"
MIN_TOKEN_LENGTH = 16
TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9._~-]+")  # what a URL and a cookie carry as they are
NEEDS_TOKEN = ("this review page needs its access token: open the link `facegraph serve` printed (it ends in "
               "?token=...), or send the header Authorization: Bearer <token>")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def same_secret(sent: object, expected: str) -> bool:
    """Whether `sent` is the text `expected`, compared in constant time."""
    return isinstance(sent, str) and secrets.compare_digest(sent.encode(), expected.encode())


async def check_csrf(request: Request) -> None:
    """A dependency of every route: refuse (403) a request that may change something (any method but GET, HEAD
    and OPTIONS) unless its form field `csrf_token` or its header `X-CSRF-Token` is the app's
    `state.csrf_token`. Starlette keeps the parsed form on the request, so the route's `Form()` parameters
    still read it."""
    if request.method in SAFE_METHODS:
        return
    expected = request.app.state.csrf_token
    if same_secret(request.headers.get(CSRF_HEADER), expected):
        return
    if not same_secret((await request.form()).get(CSRF_FIELD), expected):
        raise HTTPException(403, STALE_FORM)


Refuse = Callable[[str, int, dict], Response]  # (message, status, headers) -> the app's error page


class AccessToken:
    """ASGI middleware: every request must carry `token`. `?token=` on a GET sets an HttpOnly, SameSite=Strict
    cookie and redirects to the same URL without it; afterwards the cookie or `Authorization: Bearer <token>`
    let a request in. Any other request gets `refuse(NEEDS_TOKEN, 401, ...)`, which shows nothing of the store.
    It never reads the body."""

    def __init__(self, app: ASGIApp, *, token: str, refuse: Refuse):
        self.app = app
        self.token = token
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        request = HTTPConnection(scope)
        sent = request.query_params.get(TOKEN_PARAM)
        if sent is not None and scope.get("method") in ("GET", "HEAD"):
            response = self.enter(request) if same_secret(sent, self.token) else self.refused()
        elif self.carries_token(request):
            await self.app(scope, receive, send)
            return
        else:
            response = self.refused()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # no page to show; the review app has none
            return
        await response(scope, receive, send)

    def carries_token(self, request: HTTPConnection) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and same_secret(credentials.strip(), self.token):
            return True
        return same_secret(request.cookies.get(TOKEN_COOKIE), self.token)

    def enter(self, request: HTTPConnection) -> Response:
        """The redirect of a first visit: the token goes into a cookie and out of the URL (and so out of the
        browser's history and of the Referer of later requests)."""
        url = request.url.remove_query_params(TOKEN_PARAM)
        response = RedirectResponse(url.path + (f"?{url.query}" if url.query else ""), status_code=303)
        response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict", path="/")
        response.headers["Cache-Control"] = "no-store"
        return response

    def refused(self) -> Response:
        return self.refuse(NEEDS_TOKEN, 401, {"WWW-Authenticate": 'Bearer realm="facegraph review"'})


def guard(app, *, hosts: list[str] | None, token: str | None, refuse: Refuse) -> None:
    """Add the Host check (`hosts`; None: any) and the access token (None: none) to `app`, outside every other
    middleware: the Host is checked first, then the token."""
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    if token is not None:
        app.add_middleware(AccessToken, token=token, refuse=refuse)
    if hosts is not None:  # added last, so it runs first
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (or `localhost`): reachable from this machine only."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def access_token(host: str, token: str | None) -> str | None:
    """The access token of an app bound to `host`: `token` if one is given (checked: it travels in URLs and
    cookies, and must not be guessable); else a random one when `host` is not loopback; else None."""
    if token is not None:
        if not TOKEN_CHARACTERS.fullmatch(token):
            raise InvalidRequestError("the access token may hold letters, digits and - . _ ~ only; leave --token "
                                      "out for a random one")
        if len(token) < MIN_TOKEN_LENGTH:
            raise InvalidRequestError(f"the access token must be at least {MIN_TOKEN_LENGTH} characters, got "
                                      f"{len(token)}; leave --token out for a random one")
        return token
    return None if is_loopback(host) else secrets.token_urlsafe(32)


def host_name(host: str) -> str:
    """`host` as a Host header names it: lower case, an IPv6 address in brackets."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.lower()
    return f"[{address}]" if address.version == 6 else str(address)


def reachable_hosts(host: str) -> list[str]:
    """The Host names an app bound to `host` answers to: the loopback names and `host`; for a wildcard address
    (0.0.0.0, ::) also this machine's names and addresses."""
    names = {*LOOPBACK_NAMES, host_name(host)}
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = False
    if wildcard:
        names |= {host_name(name) for name in machine_names()}
    return sorted(names)


def machine_names() -> set[str]:
    """This machine's host name, its fully qualified name, their addresses, and the address it reaches other
    machines from (best effort: a name found by none of these gets 400 on a wildcard bind)."""
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names |= {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):  # documentation
        try:  # addresses: a UDP connect only picks the route; nothing is sent
            with socket.socket(family, socket.SOCK_DGRAM) as probing:
                probing.connect((probe, 9))
                names.add(probing.getsockname()[0])
        except OSError:
            pass
    return {name for name in names if name and "%" not in name}  # no IPv6 zone ids: no Host header has one
