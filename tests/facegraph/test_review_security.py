"""The review app against hostile requests (facegraph.review.security): each is refused with the status it should
get, the store is left as it was, and no 500 or traceback ever answers. The forms of the app's own pages still
work, and `facegraph serve` needs an access token wherever it listens beyond loopback.

`python -m pytest tests/facegraph/test_review_security.py -s -k table` prints the table of hostile requests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from facegraph.cli import cli
from facegraph.errors import InvalidRequestError, PersonNotFoundError
from facegraph.review import create_app
from facegraph.review.security import TOKEN_COOKIE, AccessToken, access_token, reachable_hosts
from tests.facegraph.conftest import everything

LOOPBACK = "http://127.0.0.1:8000"  # the app as `facegraph serve` runs it by default
REMOTE = "http://192.0.2.10:8000"  # the app as served on another address (a documentation address: never bound)
TOKEN = "the-access-token-of-this-test"
LONG = "a" * 10_000


def served(graph, *, token: str | None = None) -> TestClient:
    """A client of the app as `serve` makes it: on loopback, or (with a token) on another address."""
    base = REMOTE if token else LOOPBACK
    app = create_app(graph, hosts=reachable_hosts(urlsplit(base).hostname), token=token)
    return TestClient(app, base_url=base, follow_redirects=False, raise_server_exceptions=False)


@dataclass(frozen=True)
class Hostile:
    """One hostile request. In `url`, `data` and `headers`, {person} and {other} (two stored persons), {face} (a
    face of {person}), {image} (its photo), {csrf} (the app's CSRF token) and {token} (the access token) are filled
    in. Unless `csrf` is False, the form carries the right CSRF token. `app`: "loopback" (as `facegraph serve` runs
    it) or "token" (served on another address with TOKEN; unless `bearer` is False, the request carries it in an
    `Authorization: Bearer` header)."""

    what: str
    method: str
    url: str
    status: int | tuple[int, ...]  # the status it gets (one of them)
    data: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    csrf: bool = True
    app: str = "loopback"
    bearer: bool = True
    location: str | None = None  # the path a redirect leads to
    writes: bool = False  # let through, so it may change the store; else the store must be as it was

    def __str__(self) -> str:
        return self.what


MERGE = {"person_ids": ["{person}", "{other}"]}  # a merge that would go through, were it not refused
REFUSED = (400, 404, 303)  # a correction facegraph refuses: an error page, or (the People page) a redirect back to
#                            the form's page with the reason in a note; nothing changes either way
HOSTILE = [
    # CSRF: a POST must carry the app's token, in the form or in X-CSRF-Token
    Hostile("POST /merge without a CSRF token", "POST", "/merge", 403, MERGE, csrf=False),
    Hostile("POST /merge with a wrong CSRF token", "POST", "/merge", 403, MERGE | {"csrf_token": "guessed"}, csrf=False),
    Hostile("POST /merge with an empty CSRF token", "POST", "/merge", 403, MERGE | {"csrf_token": ""}, csrf=False),
    Hostile("POST /merge with a non-ASCII CSRF token", "POST", "/merge", 403, MERGE | {"csrf_token": "ünï"}, csrf=False),
    Hostile("POST /merge with a wrong X-CSRF-Token", "POST", "/merge", 403, MERGE, {"X-CSRF-Token": "guessed"},
            csrf=False),
    Hostile("POST /merge as JSON", "POST", "/merge", 403, headers={"Content-Type": "application/json"}, csrf=False),
    Hostile("POST a name without a CSRF token", "POST", "/persons/{person}/name", 403, {"name": "pwned"}, csrf=False),
    Hostile("POST not-this-person without a CSRF token", "POST", "/persons/{person}/faces/{face}/not-this-person",
            403, csrf=False),
    Hostile("PUT /merge without a CSRF token", "PUT", "/merge", 405, MERGE, csrf=False),
    # another site's page posting here (with the CSRF token even)
    Hostile("POST /merge, Origin another site", "POST", "/merge", 403, MERGE, {"Origin": "http://evil.example"}),
    Hostile("POST /merge, Referer another site", "POST", "/merge", 403, MERGE, {"Referer": "http://evil.example/x"}),
    Hostile("POST /merge, Origin this host, other port", "POST", "/merge", 403, MERGE,
            {"Origin": "http://127.0.0.1:8001"}),
    # DNS rebinding: another site's name pointed at this address
    Hostile("GET / with Host evil.example", "GET", "/", 400, headers={"Host": "evil.example"}),
    Hostile("POST /merge with Host evil.example", "POST", "/merge", 400, MERGE, {"Host": "evil.example"}),
    Hostile("GET / with Host 127.0.0.1.evil.example", "GET", "/", 400, headers={"Host": "127.0.0.1.evil.example"}),
    Hostile("GET / with an empty Host", "GET", "/", 400, headers={"Host": ""}),
    # ids that try to name files, or to break the store
    Hostile("GET person ..", "GET", "/persons/%2E%2E", 404),
    Hostile("GET person ../../etc/passwd", "GET", "/persons/..%2F..%2Fetc%2Fpasswd", 404),
    Hostile("GET face ..", "GET", "/faces/%2E%2E.jpg", 404),
    Hostile("GET face ../../etc/passwd", "GET", "/faces/..%2F..%2Fetc%2Fpasswd.jpg", 404),
    Hostile("GET photo ../../etc/passwd", "GET", "/photos/..%2F..%2Fetc%2Fpasswd.jpg", 404),
    Hostile("GET photo /etc/passwd", "GET", "/photos/%2Fetc%2Fpasswd.jpg", 404),
    Hostile("GET photo \\..\\..\\etc\\passwd", "GET", "/photos/%5C..%5C..%5Cetc%5Cpasswd.jpg", 404),
    Hostile("GET person a<NUL>b", "GET", "/persons/a%00b", 404),
    Hostile("GET face <NUL>", "GET", "/faces/%00.jpg", 404),
    Hostile("GET photo <NUL>", "GET", "/photos/%00.jpg", 404),
    Hostile("GET person of invalid UTF-8", "GET", "/persons/%FF%FE", 404),
    Hostile("GET person of 10k characters", "GET", f"/persons/{LONG}", 404),
    Hostile("GET face of 10k characters", "GET", f"/faces/{LONG}.jpg", 404),
    Hostile("GET photo of 10k characters", "GET", f"/photos/{LONG}.jpg", 404),
    Hostile("GET / page 10^30", "GET", "/?page=1000000000000000000000000000000", 200),
    Hostile("POST a name for person ../{person}", "POST", "/persons/..%2F{person}/name", 404, {"name": "x"}),
    Hostile("POST a name for person ..", "POST", "/persons/%2E%2E/name", REFUSED, {"name": "x"}),
    Hostile("POST a name for a 10k-character person", "POST", f"/persons/{LONG}/name", REFUSED, {"name": "x"}),
    Hostile("POST not-this-person face ../{face}", "POST", "/persons/{person}/faces/..%2F{face}/not-this-person", 404),
    Hostile("POST not-this-person face ..", "POST", "/persons/{person}/faces/%2E%2E/not-this-person", REFUSED),
    Hostile("POST not-this-person face <NUL>", "POST", "/persons/{person}/faces/%00/not-this-person", REFUSED),
    Hostile("POST move face ../../etc/passwd", "POST", "/persons/{person}/move", REFUSED,
            {"face_ids": ["../../etc/passwd"], "target": "{other}"}),
    Hostile("POST move to person ../{other}", "POST", "/persons/{person}/move", REFUSED,
            {"face_ids": ["{face}"], "target": "../{other}"}),
    Hostile("POST merge with person a<NUL>b", "POST", "/merge", REFUSED, {"person_ids": ["{person}", "a\x00b"]}),
    Hostile("POST merge with a 10k-character person", "POST", "/merge", REFUSED, {"person_ids": ["{person}", LONG]}),
    Hostile("POST split a 10k-character face", "POST", "/persons/{person}/split", REFUSED, {"face_ids": [LONG]}),
    Hostile("POST a name of 10k characters", "POST", "/persons/{person}/name", REFUSED, {"name": LONG}),
    Hostile("POST an answer to a 10k-character key", "POST", "/review/answer", REFUSED, {"key": LONG, "reply": "yes"}),
    # the access token, on an app served beyond loopback
    Hostile("GET / without the access token", "GET", "/", 401, app="token", bearer=False),
    Hostile("GET a face image without the access token", "GET", "/faces/{face}.jpg", 401, app="token", bearer=False),
    Hostile("GET a photo without the access token", "GET", "/photos/{image}.jpg", 401, app="token", bearer=False),
    Hostile("GET /?token=wrong", "GET", "/?token=wrong", 401, app="token", bearer=False),
    Hostile("GET /?token= (empty)", "GET", "/?token=", 401, app="token", bearer=False),
    Hostile("GET / with a wrong Bearer token", "GET", "/", 401, headers={"Authorization": "Bearer wrong"},
            app="token", bearer=False),
    Hostile("GET / with the token as Basic credentials", "GET", "/", 401,
            headers={"Authorization": "Basic {token}"}, app="token", bearer=False),
    Hostile("GET / with a wrong cookie", "GET", "/", 401, headers={"Cookie": f"{TOKEN_COOKIE}=wrong"},
            app="token", bearer=False),
    Hostile("POST /merge with CSRF but no access token", "POST", "/merge", 401, MERGE, app="token", bearer=False),
    Hostile("POST /merge?token=right (it counts on a GET only)", "POST", "/merge?token={token}", 401, MERGE,
            app="token", bearer=False),
    Hostile("POST /merge with the access token but no CSRF", "POST", "/merge", 403, MERGE, csrf=False, app="token"),
    Hostile("GET / with the access token, Host evil.example", "GET", "/", 400, headers={"Host": "evil.example"},
            app="token"),
    Hostile("GET /?token=right: a cookie, and / without it", "GET", "/?token={token}", 303, app="token",
            bearer=False, location="/"),
    Hostile("GET /persons/{person}?page=1&token=right", "GET", "/persons/{person}?page=1&token={token}", 303,
            app="token", bearer=False, location="/persons/{person}"),
    Hostile("GET / with the right Bearer token", "GET", "/", 200, app="token"),
    # open redirects: a form's `back` may only be a path of this app
    Hostile("POST /merge back=//evil.example", "POST", "/merge", 303, MERGE | {"back": "//evil.example"},
            location="/", writes=True),
    Hostile("POST /merge back=https://evil.example", "POST", "/merge", 303, MERGE | {"back": "https://evil.example"},
            location="/", writes=True),
    Hostile("POST /merge back=/\\evil.example", "POST", "/merge", 303, MERGE | {"back": "/\\evil.example"},
            location="/", writes=True),
    Hostile("POST /merge back=javascript:alert(1)", "POST", "/merge", 303, MERGE | {"back": "javascript:alert(1)"},
            location="/", writes=True),
    Hostile("POST /merge back=/<TAB>/evil.example", "POST", "/merge", 303, MERGE | {"back": "/\t/evil.example"},
            writes=True),
]
RESULTS: list[tuple[str, str, int]] = []  # (request, expected, got), for the printed table


def fill(value, names: dict):
    """`value` (text, or a list or dict of them) with its {names} filled in."""
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: names.get(m[1], m[0]), value)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return {fill(k, names): fill(v, names) for k, v in value.items()}


def ids(graph) -> dict:
    """The ids the requests name: two persons, a face of the first and its photo."""
    person, other = (p["person_id"] for p in graph.list_persons(limit=2))
    face = graph.get_person(person)["face_ids"][0]
    return {"person": person, "other": other, "face": face, "image": graph.collection.face(face).payload["image_id"]}


@pytest.mark.parametrize("hostile", HOSTILE, ids=str)
def test_a_hostile_request_is_refused_and_changes_nothing(graph, hostile):
    names = ids(graph) | {"token": TOKEN}
    with served(graph, token=TOKEN if hostile.app == "token" else None) as client:
        names["csrf"] = client.app.state.csrf_token
        data = fill(hostile.data, names) | ({"csrf_token": names["csrf"]} if hostile.csrf else {})
        headers = fill(hostile.headers, names)
        if hostile.app == "token" and hostile.bearer:
            headers["Authorization"] = f"Bearer {TOKEN}"
        before = everything(graph)
        response = client.request(hostile.method, fill(hostile.url, names), data=data or None, headers=headers)
    expected = hostile.status if isinstance(hostile.status, tuple) else (hostile.status,)
    RESULTS.append((hostile.what, "/".join(map(str, expected)), response.status_code))
    assert response.status_code in expected, response.text[:300]
    assert "Traceback" not in response.text
    if not hostile.writes:
        assert everything(graph) == before
    if response.status_code == 401:  # how to get in, and nothing of the store
        assert "needs its access token" in response.text and response.headers["www-authenticate"].startswith("Bearer")
        assert not any(p["person_id"] in response.text for p in graph.list_persons())
    if response.status_code == 403 and not hostile.csrf:
        assert "this form is out of date or came from another site: reload the page" in response.text
    if response.status_code == 303:  # never to another site, and never with the token in the URL
        location = response.headers["location"]
        target = urlsplit(urljoin(str(client.base_url), location))
        assert target.netloc == urlsplit(str(client.base_url)).netloc and "token" not in location
        assert hostile.location is None or target.path == fill(hostile.location, names)
        if hostile.status == REFUSED:
            assert "note=" in location  # back, with the reason


def test_the_table_of_hostile_requests(capsys):
    """Prints what the hostile requests above got (run with -s, after them)."""
    if not RESULTS:
        pytest.skip("run with the hostile requests (-k 'hostile or table') to print their table")
    width = max(len(what) for what, *_ in RESULTS)
    lines = [f"{'request':<{width}}  {'expected':>11}  got",
             *(f"{what:<{width}}  {expected:>11}  {got}" for what, expected, got in RESULTS)]
    with capsys.disabled():
        print("\n" + "\n".join(lines))


@pytest.fixture
def every_post_route(graph):
    """Every route of the app that takes a POST (or any method but GET, HEAD and OPTIONS), whatever routes it has,
    its path's ids filled in with real ones."""
    names = ids(graph) | {"person_id": ids(graph)["person"], "face_id": ids(graph)["face"]}
    paths = create_app(graph).openapi()["paths"]  # the app's routes, those of its included routers too
    routes = [path for path, methods in paths.items() if set(methods) - {"get", "head", "options"}]
    assert set(methods for path in routes for methods in paths[path]) - {"get"} == {"post"}
    assert "/merge" in routes and "/persons/{person_id}/name" in routes
    return [fill(route, names) for route in routes]


def test_every_post_route_refuses_a_request_without_the_csrf_token(graph, every_post_route):
    names = ids(graph)
    form = {"person_ids": [names["person"], names["other"]], "face_ids": [names["face"]], "target": names["other"],
            "name": "pwned", "hidden": "1"}
    before = everything(graph)
    with served(graph) as client:
        for path in every_post_route:
            response = client.post(path, data=form)
            assert response.status_code == 403 and "reload the page" in response.text, path
            wrong = client.post(path, data=form | {"csrf_token": client.app.state.csrf_token[:-1]})
            assert wrong.status_code == 403, path
    assert everything(graph) == before


def csrf_of(page: str) -> str:
    [token] = set(re.findall(r'name="csrf_token" value="([^"]+)"', page))
    return token


def test_the_pages_own_forms_still_merge(graph):
    first, second = (p["person_id"] for p in graph.list_persons(limit=2))
    faces = {f for p in (first, second) for f in graph.get_person(p)["face_ids"]}
    with served(graph) as client:
        page = client.get("/").text
        merged = client.post("/merge", data={"person_ids": [first, second], "csrf_token": csrf_of(page)})
    assert merged.status_code == 303 and urlsplit(merged.headers["location"]).path == "/"
    assert set(graph.get_person(first)["face_ids"]) == faces
    with pytest.raises(PersonNotFoundError):
        graph.get_person(second)


def test_the_token_link_sets_a_strict_http_only_cookie_that_lets_the_forms_work(graph):
    first, second = (p["person_id"] for p in graph.list_persons(limit=2))
    with served(graph, token=TOKEN) as client:
        assert client.get("/").status_code == 401
        entered = client.get(f"/?token={TOKEN}")
        assert entered.status_code == 303 and entered.headers["location"] == "/"
        cookie = entered.headers["set-cookie"]
        assert cookie.startswith(f"{TOKEN_COOKIE}={TOKEN};") and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Path=/" in cookie
        page = client.get("/")  # the client keeps the cookie, as a browser does
        assert page.status_code == 200 and first in page.text
        merged = client.post("/merge", data={"person_ids": [first, second], "csrf_token": csrf_of(page.text)})
        assert merged.status_code == 303
    assert second not in {p["person_id"] for p in graph.list_persons()}


def test_a_token_is_needed_beyond_loopback_and_made_when_none_is_given():
    assert access_token("127.0.0.1", None) is None and access_token("::1", None) is None
    assert access_token("localhost", None) is None
    made = {access_token(host, None) for host in ("0.0.0.0", "::", "192.0.2.10", "myhost.example")}
    assert None not in made and len(made) == 4 and all(len(token) >= 32 for token in made)
    assert access_token("127.0.0.1", TOKEN) == TOKEN == access_token("0.0.0.0", TOKEN)
    with pytest.raises(InvalidRequestError, match="at least 16 characters, got 6"):
        access_token("0.0.0.0", "secret")
    with pytest.raises(InvalidRequestError, match="letters, digits and - . _ ~ only"):
        access_token("0.0.0.0", "a token with spaces&more")


def test_the_host_names_it_answers_to_include_ipv6_loopback_in_brackets(graph):
    assert reachable_hosts("127.0.0.1") == ["127.0.0.1", "[::1]", "localhost"]
    assert "192.0.2.10" in reachable_hosts("192.0.2.10") and "[::1]" in reachable_hosts("::1")
    app = create_app(graph, hosts=reachable_hosts("::1"))
    with TestClient(app, base_url="http://[::1]:8000") as client:  # a browser at http://[::1]:8000/
        assert client.get("/").status_code == 200
        assert client.get("/", headers={"Host": "[::2]:8000"}).status_code == 400


def test_serve_prints_the_url_with_a_token_beyond_loopback_and_the_app_refuses_requests_without_it(
        tmp_path, monkeypatch):
    import uvicorn

    served_apps = []  # per run of `facegraph serve`: the app's token, and what a request without it and with it get

    def run(server, sockets):  # instead of serving (while the command holds the store open): ask, and stop
        for sock in sockets:
            sock.close()
        app = server.config.app
        token = next((m.kwargs["token"] for m in app.user_middleware if m.cls is AccessToken), None)
        with TestClient(app, base_url=LOOPBACK, follow_redirects=False) as client:
            served_apps.append((token, client.get("/").status_code,
                                client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code))

    monkeypatch.setattr(uvicorn.Server, "run", run)
    store = ["--store", str(tmp_path / "store")]
    out = CliRunner().invoke(cli, [*store, "serve", "--host", "127.0.0.1", "--port", "0"])
    assert out.exit_code == 0, out.output
    assert re.fullmatch(r"reviewing persons at http://127\.0\.0\.1:\d+/ \(Ctrl\+C to stop\)\n", out.output)
    assert served_apps[-1] == (None, 200, 200)
    out = CliRunner().invoke(cli, [*store, "serve", "--host", "0.0.0.0", "--port", "0"])
    assert out.exit_code == 0, out.output
    token = re.search(r"http://0\.0\.0\.0:\d+/\?token=([\w-]{32,}) ", out.output)[1]
    assert served_apps[-1] == (token, 401, 200)
    out = CliRunner(env={"FACEGRAPH_REVIEW_TOKEN": TOKEN}).invoke(cli, [*store, "serve", "--port", "0"])
    assert out.exit_code == 0 and f"/?token={TOKEN} " in out.output
    assert served_apps[-1] == (TOKEN, 401, 200)  # given on loopback, it is needed there too
    out = CliRunner().invoke(cli, [*store, "serve", "--host", "0.0.0.0", "--token", "short"])
    assert out.exit_code == 1 and "at least 16 characters, got 5" in str(out.exception) and len(served_apps) == 3
