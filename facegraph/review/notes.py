"""Messages a correction leaves for the page it redirects to (POST/redirect/GET): what it did, with links to what it
made and an undo, or why it could not be done. Kept in memory under a random key that the redirect carries
(`?note=`), so a message is never text from a URL someone else wrote."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

KEPT = 200  # messages kept, the latest


@dataclass(frozen=True)
class Note:
    text: str
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url) of what the action made or touched
    error: bool = False
    undo: bool = False  # offer "Undo"


class Notes:
    def __init__(self):
        self._notes: OrderedDict[str, Note] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, note: Note) -> str:
        key = secrets.token_urlsafe(9)
        with self._lock:
            self._notes[key] = note
            while len(self._notes) > KEPT:
                self._notes.popitem(last=False)
        return key

    def get(self, key: str | None) -> Note | None:
        with self._lock:
            return self._notes.get(key) if key else None


def with_note(url: str, key: str) -> str:
    """`url` with `note=key` in its query (any earlier note replaced)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "note"] + [("note", key)]
    return urlunsplit(parts._replace(query=urlencode(query)))
