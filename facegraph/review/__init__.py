"""A local web page to review persons and correct them: `create_app(graph)` for any ASGI server, `serve(graph)`
to run it on a loopback address; `facegraph serve` (in `facegraph.cli`) runs it for the store the settings name."""

from facegraph.review.app import create_app
from facegraph.review.server import serve

__all__ = ["create_app", "serve"]
