"""The review app: a local web page to look at the persons of a `FaceGraph` and correct them (the People page,
`people`; photos and thumbnails, `photos`; the Review view of the answers, merge suggestions and a recluster, here).

Every GET only reads. Every correction is a POST form that calls the same `FaceGraph` method as the CLI and then
redirects to a page (POST/redirect/GET) with a note of what it did (`notes`), so reloading never repeats a
correction. A correction facegraph refuses changes nothing and comes back to the page it was made on, with the
reason in words; a page that does not exist is a 404 page.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from facegraph.errors import FacegraphError, NotFoundError
from facegraph.face_gate import MIN_FACES_SHOWN
from facegraph.places import default_cache_dir
from facegraph.review.notes import Note, Notes, with_note
from facegraph.review.pages import face_url, is_local, person_url, redirect, render
from facegraph.review.people import card, people_routes
from facegraph.review.photos import photo_routes
from facegraph.review.reclustering import ReclusterJob
from facegraph.review.security import check_csrf, guard
from facegraph.review.thumbnails import Thumbnails

SUGGESTIONS = 10
OPEN_QUESTIONS = 500  # questions the Review view ranks and counts
MATTERS = 0.05  # a question still matters while its answer is expected to move this much of a face or more


def create_app(graph, *, hosts: list[str] | None = None, token: str | None = None,
               thumbnails: Path | None = None, min_faces: int = MIN_FACES_SHOWN) -> FastAPI:
    """The review app over `graph`. `hosts`: the only Host names it answers to (None: any), which keeps a web
    page on another site from reaching it by DNS rebinding; `server.serve` passes the names it is reachable by.
    `token`: the access token every request must carry (None: none); see `facegraph.review.security`.
    `thumbnails`: the folder face thumbnails are kept in (None: `thumbnails/` in the user's cache folder).
    `min_faces`: persons of fewer faces are listed apart, as small (`Queries.people`)."""
    app = FastAPI(title="facegraph review", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(check_csrf)])  # every POST carries the CSRF token
    lock = threading.Lock()  # requests run in a thread pool; the store serves one of them at a time
    app.state.csrf_token = secrets.token_urlsafe(32)  # every page's forms carry it; a POST without it is refused
    notes, job = Notes(), ReclusterJob(graph, lock)

    def html(template: str, status: int = 200, headers: dict | None = None, **context) -> HTMLResponse:
        return page(template, status, headers, csrf_token=app.state.csrf_token, **context)

    def view(request: Request, template: str, **context) -> HTMLResponse:
        """A page for `request`, with the note its URL names and its own address (where a form comes back to)."""
        return html(template, note=notes.get(request.query_params.get("note")), back_here=here(request), **context)

    def error_page(message: str, status: int, headers: dict | None = None) -> HTMLResponse:
        return html("error.html", status, headers, message=message, code=status)

    @app.middleware("http")
    async def while_reclustering(request: Request, call_next):
        # the recluster holds the store: pages wait on its progress instead of on the store
        if job.running and not request.url.path.startswith("/recluster"):
            if request.method == "GET" and not request.url.path.startswith(("/faces/", "/photos/")):
                return redirect("/recluster")
            return error_page("a recluster is running: wait for it to finish (see /recluster)", 409)
        return await call_next(request)

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
        if request.method == "POST":  # refused, nothing changed: back to the page it came from, saying why
            return redirect(with_note(came_from(request), notes.add(Note(str(exc), error=True))))
        return error_page(f"{type(exc).__name__}: {exc}", 404 if isinstance(exc, NotFoundError) else 400)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        message = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
        if request.method == "POST":
            return redirect(with_note(came_from(request), notes.add(Note(message, error=True))))
        return error_page(message, 400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error_page(str(exc.detail), exc.status_code, exc.headers)

    app.include_router(people_routes(graph, lock, view, notes, min_faces=min_faces))
    app.include_router(photo_routes(graph, lock, Thumbnails(thumbnails or default_cache_dir() / "thumbnails"), html))

    @app.get("/suggestions", response_class=HTMLResponse)
    def suggestions(request: Request):
        with lock:
            found = graph.suggest_merges(SUGGESTIONS)
            persons = {p: graph.get_person(p) for s in found for p in s.person_ids}
        return view(request, "suggestions.html", suggestions=[
            {"evidence": s, "cards": [card(persons[p]) for p in s.person_ids]} for s in found])

    @app.get("/review", response_class=HTMLResponse)
    def review(request: Request):
        with lock:
            asked = graph.questions(limit=OPEN_QUESTIONS)
            answered = len(graph.records.answers())
            question = asked[0] if asked else None
            faces = question_faces(graph, question) if question else []
        return view(request, "review.html", question=question, sides=faces, answered=answered,
                    open=sum(q.gain >= MATTERS for q in asked))

    @app.post("/review/answer")
    def answer(key: Annotated[str, Form()] = "", reply: Annotated[str, Form()] = ""):
        with lock:
            graph.answer(graph.answers.open_question(key), reply)
        return redirect("/review")

    @app.post("/review/undo")
    def undo_answer():
        with lock:
            graph.undo()  # the last correction or answer: one undo for both
        return redirect("/review")

    @app.get("/recluster", response_class=HTMLResponse)
    def recluster_status(request: Request):
        return view(request, "recluster.html", job=job.status())

    @app.post("/recluster")
    def recluster():
        job.start()  # one at a time: a second press follows the one running
        return redirect("/recluster")

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
                      "faces": [{"face_id": f.payload["face_id"], "src": face_url(f.payload["face_id"], 320),
                                 "photo": f"/photos/{quote(f.payload['image_id'])}?face={quote(f.payload['face_id'])}"} for f in faces]})
    return sides


def here(request: Request) -> str:
    """The path and query of `request`, less its note: where a form of its page comes back to."""
    query = "&".join(f"{k}={quote(v)}" for k, v in request.query_params.multi_items() if k != "note")
    return request.url.path + (f"?{query}" if query else "")


def came_from(request: Request) -> str:
    """The page of this app a form was sent from (its Referer), else the persons."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not is_local(referer.path or ""):
        return "/"
    return referer.path + (f"?{referer.query}" if referer.query else "")


def page(template: str, status: int = 200, headers: dict | None = None, **context) -> HTMLResponse:
    return HTMLResponse(render(template, **context), status_code=status, headers=headers)
