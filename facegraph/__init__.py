"""facegraph: find the faces in a photo collection, embed them, and group them into persons."""

from facegraph.errors import FacegraphError
from facegraph.persons import FaceGraph, SearchResult
from facegraph.pipeline import Face, FacePipeline, PhotoError, PhotoFaces

__all__ = ["Face", "FaceGraph", "FacePipeline", "FacegraphError", "PhotoError", "PhotoFaces", "SearchResult"]
