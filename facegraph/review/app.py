"""The review app: a local web page to look at the persons of a `FaceGraph` and correct them.

Every GET only reads. Every correction is a POST form that calls the same `FaceGraph` method as the CLI and then
redirects to a page (POST/redirect/GET), so reloading never repeats a correction. facegraph's errors become a page
with their message: 404 for a person or face that does not exist, 400 for any other.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from facegraph.errors import FacegraphError, InvalidRequestError, NotFoundError, PersonNotFoundError
from facegraph.person_records import MAX_NAME_LENGTH
from facegraph.places import default_cache_dir
from facegraph.review.faces import shown_faces
from facegraph.review.pages import Pager, face_view, render
from facegraph.review.photos import photo_routes
from facegraph.review.security import check_csrf, guard
from facegraph.review.thumbnails import Thumbnails

PERSONS_PAGE = 50  # person cards a page
FACES_PAGE = 60  # faces of a person a page
TARGETS = 200  # largest persons offered as move targets; any other id can be typed
SUGGESTIONS = 10
OPEN_QUESTIONS = 500  # questions the Review view ranks and counts
MATTERS = 0.05  # a question still matters while its answer is expected to move this much of a face or more
FormList = Annotated[list[str], Form()]  # every checked box of a name, none if none is


def create_app(graph, *, hosts: list[str] | None = None, token: str | None = None,
               thumbnails: Path | None = None) -> FastAPI:
    """The review app over `graph`. `hosts`: the only Host names it answers to (None: any), which keeps a web
    page on another site from reaching it by DNS rebinding; `server.serve` passes the names it is reachable by.
    `token`: the access token every request must carry (None: none); see `facegraph.review.security`.
    `thumbnails`: the folder face thumbnails are kept in (None: `thumbnails/` in the user's cache folder)."""
    app = FastAPI(title="facegraph review", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(check_csrf)])  # every POST carries the CSRF token
    lock = threading.Lock()  # requests run in a thread pool; the store serves one of them at a time
    app.state.csrf_token = secrets.token_urlsafe(32)  # every page's forms carry it; a POST without it is refused

    def html(template: str, status: int = 200, headers: dict | None = None, **context) -> HTMLResponse:
        return page(template, status, headers, csrf_token=app.state.csrf_token, **context)

    def error_page(message: str, status: int, headers: dict | None = None) -> HTMLResponse:
        return html("error.html", status, headers, message=message, code=status)

    @app.middleware("http")
    async def same_origin_posts(request: Request, call_next):
        # a form on another site may post here (the browser says so in Origin, or, where it sends none, in
        # Referer): refuse it
        origin = request.headers.get("origin") or request.headers.get("referer")
        if request.method == "POST" and origin is not None and urlsplit(origin).netloc != request.url.netloc:
            return error_page("a correction may only come from this app's own pages", 403)
        return await call_next(request)

    guard(app, hosts=hosts, token=token, refuse=error_page)  # outside the check above: Host, then the token

    @app.exception_handler(FacegraphError)
    async def facegraph_error(request: Request, exc: FacegraphError):
        return error_page(f"{type(exc).__name__}: {exc}", 404 if isinstance(exc, NotFoundError) else 400)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return error_page("; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()), 400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error_page(str(exc.detail), exc.status_code, exc.headers)

    @app.get("/", response_class=HTMLResponse)
    def persons(page: int = Query(1, ge=1)):
        with lock:  # one more than a page: whether there is a next one
            found = graph.list_persons(limit=PERSONS_PAGE + 1, offset=(page - 1) * PERSONS_PAGE)
        return html("persons.html", cards=[card(p) for p in found[:PERSONS_PAGE]], back=f"/?page={page}",
                    page=Pager(page, has_next=len(found) > PERSONS_PAGE))

    @app.get("/persons/{person_id}", response_class=HTMLResponse)
    def person(person_id: str, page: int = Query(1, ge=1)):
        with lock:
            found = graph.get_person(person_id)
            faces = shown_faces(graph, found)
            targets = [p for p in graph.list_persons(limit=TARGETS + 1) if p["person_id"] != person_id][:TARGETS]
        shown = [face_view(f, face_url(f["face_id"])) for f in faces[(page - 1) * FACES_PAGE : page * FACES_PAGE]]
        return html("person.html", person=found, faces=shown, targets=targets, max_name=MAX_NAME_LENGTH,
                    page=Pager(page, has_next=len(faces) > page * FACES_PAGE))

    @app.get("/suggestions", response_class=HTMLResponse)
    def suggestions():
        with lock:
            found = graph.suggest_merges(SUGGESTIONS)
            persons = {p: graph.get_person(p) for s in found for p in s.person_ids}
        return html("suggestions.html", suggestions=[
            {"evidence": s, "cards": [card(persons[p]) for p in s.person_ids]} for s in found])

    @app.get("/review", response_class=HTMLResponse)
    def review():
        with lock:
            asked = graph.questions(limit=OPEN_QUESTIONS)
            answered = len(graph.records.answers())
            question = asked[0] if asked else None
            faces = question_faces(graph, question) if question else []
        return html("review.html", question=question, sides=faces, answered=answered,
                    open=sum(q.gain >= MATTERS for q in asked))

    @app.post("/review/answer")
    def answer(key: Annotated[str, Form()] = "", reply: Annotated[str, Form()] = ""):
        with lock:
            graph.answer(graph.answers.open_question(key), reply)
        return redirect("/review")

    @app.post("/review/undo")
    def undo():
        with lock:
            graph.undo_answer()
        return redirect("/review")

    app.include_router(photo_routes(graph, lock, Thumbnails(thumbnails or default_cache_dir() / "thumbnails"), html))

    @app.post("/merge")
    def merge(person_ids: FormList = [], back: Annotated[str, Form()] = "/"):
        with lock:
            graph.merge_persons(person_ids)
        return redirect(back if is_local(back) else "/")

    @app.post("/persons/{person_id}/name")
    def name(person_id: str, name: Annotated[str, Form()] = ""):
        with lock:
            graph.name_person(person_id, name)
        return redirect(person_url(person_id))

    @app.post("/persons/{person_id}/split")
    def split(person_id: str, face_ids: FormList = []):
        with lock:
            graph.split_person(person_id, [face_ids])
        return redirect(person_url(person_id))

    @app.post("/persons/{person_id}/faces/{face_id}/not-this-person")
    def not_this_person(person_id: str, face_id: str):
        with lock:
            graph.split_person(person_id, [[face_id]])  # the face becomes a person of its own, kept apart
        return redirect(person_url(person_id))

    @app.post("/persons/{person_id}/move")
    def move(person_id: str, face_ids: FormList = [], target: Annotated[str, Form()] = ""):
        target = target.strip()
        if not face_ids or not target:
            raise InvalidRequestError("select the faces to move and the person to move them to")
        with lock:
            graph.get_person(target)  # an unknown target fails before any face moves
            if outside := sorted(set(face_ids) - set(graph.get_person(person_id)["face_ids"])):
                raise InvalidRequestError(f"faces {outside} are not faces of {person_id}")
            for face_id in face_ids:
                graph.reassign_face(face_id, target)
            emptied = not exists(graph, person_id)  # moving its last face deletes the person
        return redirect(person_url(target if emptied else person_id))

    return app


def question_faces(graph, question) -> list[dict]:
    """The two sides of a question as the Review view shows them: a title, a link, and each shown face with the
    photo it comes from."""
    sides = []
    for n, side in enumerate(question.shown):
        person = question.person_ids[min(n, len(question.person_ids) - 1)]
        lone_face = question.kind == "face_person" and n == 0
        record = {} if lone_face else graph.get_person(person)
        faces = [graph.collection.face(face_id) for face_id in side]
        sides.append({"title": "this face" if lone_face else record.get("name") or person,
                      "href": None if lone_face else person_url(person),
                      "faces": [{"face_id": f.payload["face_id"], "src": face_url(f.payload["face_id"]),
                                 "photo": f"/photos/{quote(f.payload['image_id'])}.jpg"} for f in faces]})
    return sides


def exists(graph, person_id: str) -> bool:
    try:
        graph.get_person(person_id)
    except PersonNotFoundError:
        return False
    return True


def is_local(url: str) -> bool:
    """Whether `url` is a path of this app (never another site: a redirect there would be an open redirect)."""
    return url.startswith("/") and not url.startswith("//") and "\\" not in url


def card(person: dict) -> dict:
    """A person card of the grid: its representative face only; the card says how many more it has."""
    face_id = person.get("representative_face_id")
    return {"person": person, "faces": [{"face_id": face_id, "src": face_url(face_id)}] if face_id else []}


def face_url(face_id: str) -> str:
    return f"/faces/{quote(face_id)}.jpg"


def person_url(person_id: str) -> str:
    return f"/persons/{quote(person_id)}"


def page(template: str, status: int = 200, headers: dict | None = None, **context) -> HTMLResponse:
    return HTMLResponse(render(template, **context), status_code=status, headers=headers)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)  # 303: the browser follows with a GET
