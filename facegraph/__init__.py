"""facegraph: find the faces in a photo collection, embed them, and group them into persons.

The names below load on first use (PEP 562), so that `import facegraph`, or any light module of it such as
`facegraph.cluster_settings`, loads no model runtime, OpenCV or faiss.
"""

from importlib import import_module

from facegraph.errors import FacegraphError

_HOMES = {"FaceGraph": "facegraph.persons", "SearchResult": "facegraph.persons", "Face": "facegraph.pipeline",
          "FacePipeline": "facegraph.pipeline", "PhotoError": "facegraph.pipeline", "PhotoFaces": "facegraph.pipeline"}

__all__ = ["Face", "FaceGraph", "FacePipeline", "FacegraphError", "PhotoError", "PhotoFaces", "SearchResult"]


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'facegraph' has no attribute {name!r}")
