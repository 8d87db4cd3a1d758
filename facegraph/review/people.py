"""The People page's routes: the grid of persons (named first, by place, searched, paged), a person's page, and
the corrections made from them, each answering with a note that links what it made and offers the undo.

Every correction form carries what the page showed: a person's `version` (its faces when the page was made), so a
correction from a tab that is out of date changes nothing and says so (`StalePageError`).
"""

from __future__ import annotations

import hashlib
import math
from typing import Annotated, Callable

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse

from facegraph.errors import InvalidRequestError, PersonNotFoundError
from facegraph.person_records import MAX_NAME_LENGTH
from facegraph.queries import PLACES
from facegraph.review.faces import shown_faces
from facegraph.review.notes import Note, Notes, with_note
from facegraph.review.pages import Pager, face_url, person_url, redirect

PERSONS_PAGE = 48  # cards a page: fills rows of 2, 3, 4, 6 and 8
FACES_PAGE = 60  # faces of a person a page
NEAREST = 5  # persons offered by face as move targets
FormList = Annotated[list[str], Form()]  # every checked box of a name, none if none is
FormText = Annotated[str, Form()]


class StalePageError(InvalidRequestError):
    """A correction came from a page made before its person changed."""


def version(person: dict) -> str:
    """What a page knew of a person: a digest of its faces."""
    return hashlib.sha256("\n".join(person["face_ids"]).encode()).hexdigest()[:16]


def label(person: dict) -> str:
    """How a person is called on the page: its name, else what it is."""
    count = person["face_count"]
    return person.get("name") or f"unnamed person of {count} face{'s' if count != 1 else ''}"


def people_routes(graph, lock, view: Callable, notes: Notes, *, min_faces: int) -> APIRouter:
    """The routes of the People page over `graph` (`lock`: one request at a time at the store; `view` renders a
    template for a request)."""
    router = APIRouter()

    def done(url: str, text: str, links: list[tuple[str, str]] = (), undo: bool = True) -> RedirectResponse:
        return redirect(with_note(url, notes.add(Note(text, list(links), undo=undo))))

    def current(person_id: str, seen: str) -> dict:
        """The person as it is now, if the page that asked still shows it as it is."""
        try:
            person = graph.get_person(person_id)
        except PersonNotFoundError:
            raise StalePageError(f"this person changed since the page was loaded (merged, split or reclustered): "
                                 f"{person_id} no longer exists") from None
        if seen and seen != version(person):
            raise StalePageError("this person changed since the page was loaded: nothing was done; look again")
        return person

    @router.get("/")
    def persons(request: Request, place: str = Query("persons"), q: str = Query("", max_length=MAX_NAME_LENGTH),
                page: int = Query(1, ge=1)):
        with lock:
            found = graph.people(place, search=q, min_faces=min_faces, limit=PERSONS_PAGE,
                                 offset=(page - 1) * PERSONS_PAGE)
        pages = max(1, math.ceil(found.total / PERSONS_PAGE))
        return view(request, "persons.html", cards=[card(p) for p in found.persons], found=found, place=place, q=q,
                    places=PLACES, min_faces=min_faces, max_name=MAX_NAME_LENGTH,
                    page=Pager(page, has_next=page < pages, last=pages))

    @router.get("/persons/{person_id}")
    def person(request: Request, person_id: str, page: int = Query(1, ge=1)):
        with lock:
            found = graph.get_person(person_id)
            faces = shown_faces(graph, found)
            nearest = [graph.get_person(p) for p in graph.queries.nearest_persons(person_id, NEAREST)]
            names = graph.queries.names()  # the move's autocomplete
        start = (page - 1) * FACES_PAGE
        shown = [{"face_id": f["face_id"], "image_id": f["image_id"], "src": face_url(f["face_id"]), "n": start + n + 1,
                  "unsure": False} for n, f in enumerate(faces[start : start + FACES_PAGE])]
        pages = max(1, math.ceil(len(faces) / FACES_PAGE))
        return view(request, "person.html", person=found, label=label(found), version=version(found), faces=shown,
                    nearest=[card(p) for p in nearest], names=names,
                    max_name=MAX_NAME_LENGTH, page=Pager(page, has_next=page < pages, last=pages))

    @router.get("/not-faces")
    def not_faces(request: Request):
        with lock:
            faces = graph.queries.not_faces()
        return view(request, "not_faces.html", faces=[{"face_id": f["face_id"], "image_id": f["image_id"],
                                                        "src": face_url(f["face_id"])} for f in faces])

    @router.post("/merge")
    def merge(person_ids: FormList = [], back: FormText = "/", name: FormText = ""):
        with lock:
            missing = [p for p in person_ids if not exists(graph, p)]
            if missing:
                raise StalePageError(f"{len(missing)} of these persons changed since the page was loaded (merged, "
                                     "split or reclustered): nothing was done; look again")
            kept = graph.merge_persons(person_ids)
            if name.strip():
                graph.name_person(kept, name)
            merged = graph.get_person(kept)
        return done(back, f"Merged {len(set(person_ids))} persons into {label(merged)}.", [(label(merged), person_url(kept))])

    @router.post("/hide")
    def hide_selected(person_ids: FormList = [], back: FormText = "/"):
        if not person_ids:
            raise InvalidRequestError("select the persons to hide")
        with lock:
            for person_id in person_ids:
                graph.hide_person(person_id)
        return done(back, f"Hid {len(person_ids)} person{'s' if len(person_ids) != 1 else ''}: they are under "
                          "Hidden. Undo shows the last one again.", [("Hidden", "/?place=hidden")])

    @router.post("/persons/{person_id}/name")
    def name(request: Request, person_id: str, name: FormText = "", seen: FormText = "", confirm: FormText = "",
             back: FormText = ""):
        back = back or person_url(person_id)
        with lock:
            person = current(person_id, seen)
            if not name.strip() and person.get("name"):
                graph.unname_person(person_id)
                return done(back, "Cleared the name.", [("the person", person_url(person_id))])
            holders = [p for p in graph.queries.persons_named(name) if p != person_id] if name.strip() else []
            if holders and not confirm:  # the same name twice is most often one person: offer the merge first
                others = [graph.get_person(p) for p in holders]
                return view(request, "name_taken.html", person=card(person), others=[card(p) for p in others],
                            name=name, seen=seen, back=back)
            stored = graph.name_person(person_id, name)
        return done(back, f"Named {stored}.", [(stored, person_url(person_id))])

    @router.post("/persons/{person_id}/hide")
    def hide(person_id: str, hidden: FormText = "1"):
        with lock:
            graph.hide_person(person_id, hidden == "1")
            person = graph.get_person(person_id)
        if hidden == "1":
            return done("/", f"Hid {label(person)}: it is under Hidden.", [("Hidden", "/?place=hidden")])
        return done(person_url(person_id), f"{label(person)} is shown again.", [("the person", person_url(person_id))])

    @router.post("/persons/{person_id}/split")
    def split(person_id: str, face_ids: FormList = [], seen: FormText = ""):
        with lock:
            current(person_id, seen)
            made = [p for p in graph.split_person(person_id, [face_ids]) if p != person_id]
        return done(person_url(person_id), f"Split {len(face_ids)} face{'s' if len(face_ids) != 1 else ''} into a new "
                                           "person.", [("the new person", person_url(p)) for p in made])

    @router.post("/persons/{person_id}/faces/{face_id}/not-this-person")
    def not_this_person(person_id: str, face_id: str, seen: FormText = ""):
        with lock:
            person = current(person_id, seen)
            if face_id not in person["face_ids"]:
                raise StalePageError(f"face {face_id} is no longer a face of this person: nothing was done")
            if person["face_count"] == 1:
                raise InvalidRequestError("this is the person's only face: hide the person, or mark the face as not "
                                          "a face")
            [made] = graph.split_person(person_id, [[face_id]])
        return done(person_url(person_id), "Moved the face out into a person of its own.",
                    [("that person", person_url(made))])

    @router.post("/persons/{person_id}/move")
    def move(person_id: str, face_ids: FormList = [], target: FormText = "", seen: FormText = ""):
        if not face_ids or not target.strip():
            raise InvalidRequestError("select the faces to move and the person to move them to")
        with lock:
            person = current(person_id, seen)
            target_id = resolve(graph, target)
            if outside := sorted(set(face_ids) - set(person["face_ids"])):
                raise StalePageError(f"faces {outside} are no longer faces of this person: nothing was done")
            if target_id == person_id:
                raise InvalidRequestError("those faces are this person's already")
            for face_id in face_ids:
                graph.reassign_face(face_id, target_id)
            moved_to = graph.get_person(target_id)
            emptied = not exists(graph, person_id)  # moving its last face deletes the person
        return done(person_url(target_id if emptied else person_id),
                    f"Moved {len(face_ids)} face{'s' if len(face_ids) != 1 else ''} to {label(moved_to)}.",
                    [(label(moved_to), person_url(target_id))])

    @router.post("/faces/{face_id}/not-a-face")
    def not_a_face(face_id: str, back: FormText = "/"):
        with lock:
            graph.mark_not_a_face(face_id)
        return done(back if exists_url(graph, back) else "/", "Marked as not a face: it is under Not faces.",
                    [("Not faces", "/not-faces")])

    @router.post("/faces/{face_id}/a-face")
    def a_face(face_id: str):
        with lock:
            person_id = graph.mark_a_face(face_id)
        return done("/not-faces", "It is a face again, placed with its person.", [("its person", person_url(person_id))])

    @router.post("/undo")
    def undo(back: FormText = "/"):
        with lock:
            undone = graph.undo()
        if undone is None:
            return done(back, "Nothing to undo.", undo=False)
        what = undone.get("summary") or f"answer “{undone['reply']}”"
        return done(back if exists_url(graph, back) else "/", f"Undone: {what}.",
                    [(p, person_url(p)) for p in undone.get("persons", undone.get("person_ids", [])) if exists(graph, p)],
                    undo=False)

    return router


def resolve(graph, target: str) -> str:
    """The person a move names: an id, or a name that one person holds."""
    target = target.strip()
    if exists(graph, target):
        return target
    holders = graph.queries.persons_named(target)
    if len(holders) == 1:
        return holders[0]
    if not holders:
        raise InvalidRequestError(f"no person is named or has the id “{target}”: pick one from the list")
    raise InvalidRequestError(f"{len(holders)} persons are named “{target}” ({', '.join(holders)}): merge them, or "
                              "pick one by its id")


def exists(graph, person_id: str) -> bool:
    try:
        graph.get_person(person_id)
    except PersonNotFoundError:
        return False
    return True


def exists_url(graph, url: str) -> bool:
    """Whether a page to go back to still exists (a person's page does not once the person is gone)."""
    path = url.split("?", 1)[0]
    return not path.startswith("/persons/") or exists(graph, path.removeprefix("/persons/").split("/", 1)[0])


def card(person: dict) -> dict:
    """A person card: its representative face and how it is called."""
    face_id = person.get("representative_face_id")
    return {"person": person, "label": label(person), "href": person_url(person["person_id"]),
            "face": {"face_id": face_id, "src": face_url(face_id)} if face_id else None}
