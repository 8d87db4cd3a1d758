"""facegraph: find the faces in a photo collection, embed them, and group them into persons."""

from facegraph.errors import FacegraphError
from facegraph.pipeline import Face, FacePipeline, PhotoError, PhotoFaces

__all__ = ["Face", "FacePipeline", "FacegraphError", "PhotoError", "PhotoFaces"]
