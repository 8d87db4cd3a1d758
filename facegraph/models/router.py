"""Turn a model name or file into the right wrapper, judging the family by the session's inputs and outputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from facegraph.errors import ModelLoadError
from facegraph.models.arcface import ArcFace
from facegraph.models.detection import FaceDetector
from facegraph.models.retinaface import RetinaFace
from facegraph.models.scrfd import SCRFD
from facegraph.models.session import DEFAULT_THREADS, open_session
from facegraph.models.weights import PINNED, model_path, sha256_of

DETECTORS = ("retinaface", "scrfd")


@dataclass(frozen=True)
class ModelInfo:
    """What a run records about a model it used."""

    role: str
    family: str
    file: str
    sha256: str
    provider: str


def resolve(model: str | os.PathLike, *, model_dir=None, cache_dir=None) -> Path:
    """A pinned model's name ("retinaface", "scrfd", "arcface") or a path to an ONNX file, as a verified path."""
    if str(model) in PINNED:
        return model_path(PINNED[str(model)], model_dir=model_dir, cache_dir=cache_dir)
    path = Path(model)
    if not path.is_file():
        raise ModelLoadError(f"model {model} is neither a known name ({', '.join(PINNED)}) nor an existing file")
    return path


def _describe(session) -> str:
    inputs = [(i.name, i.shape) for i in session.get_inputs()]
    outputs = [(o.name, o.shape) for o in session.get_outputs()]
    return f"inputs {inputs}, outputs {outputs}"


def load_detector(model: str | os.PathLike = "retinaface", *, model_dir=None, cache_dir=None,
                  threads: int = DEFAULT_THREADS, **settings) -> FaceDetector:
    """A RetinaFace- or SCRFD-style detector with five landmarks; `settings` go to `FaceDetector`."""
    path = resolve(model, model_dir=model_dir, cache_dir=cache_dir)
    session = open_session(str(path), threads)
    outputs = session.get_outputs()
    widths = sorted(output.shape[-1] for output in outputs)
    if len(outputs) == 3 and widths == [2, 4, 10]:
        return _with_info(RetinaFace(session, **settings), "detector", path)
    if len(outputs) == 9 and widths == [1, 1, 1, 4, 4, 4, 10, 10, 10]:
        return _with_info(SCRFD(session, **settings), "detector", path)
    raise ModelLoadError(
        f"{path} is not a RetinaFace- or SCRFD-style detector with five landmarks ({_describe(session)})"
    )


def load_embedder(model: str | os.PathLike = "arcface", *, model_dir=None, cache_dir=None,
                  threads: int = DEFAULT_THREADS, batch_size: int = 64, mirrored: bool = False) -> ArcFace:
    """An ArcFace-style recogniser: (n, 3, 112, 112) in, (n, d) out (`mirrored`: see `ArcFace`)."""
    path = resolve(model, model_dir=model_dir, cache_dir=cache_dir)
    session = open_session(str(path), threads)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, 112, 112] or len(outputs[0].shape) != 2:
        raise ModelLoadError(f"{path} is not an ArcFace-style 112x112 recogniser ({_describe(session)})")
    return _with_info(ArcFace(session, batch_size=batch_size, mirrored=mirrored), "embedder", path)


def _with_info(wrapper, role: str, path: Path):
    """Attach what a run records about the model: family, file, hash, and the provider the session really got."""
    wrapper.info = ModelInfo(role, wrapper.name, path.name, sha256_of(path), wrapper.session.get_providers()[0])
    return wrapper
