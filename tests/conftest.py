"""Shared fixtures: the labeled photo sets and the real models. A test whose requirement is absent (the labeled
sets, Chromium, a file system to fill) skips with the reason on a developer's machine, and fails under CI
(`CI=true`), where everything must be there: a CI run cannot pass with half the suite unrun."""

from __future__ import annotations

import os

import numpy as np
import pytest

from evaluation.labeled import DATASETS_ENV, datasets_root
from facegraph.pipeline import FacePipeline


def unavailable(reason: str) -> None:
    """Skip the test for `reason`, or under CI fail it."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (under CI a test that cannot run fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def require():
    """`unavailable`, for a test to call when what it needs is absent."""
    return unavailable


@pytest.fixture(scope="session")
def datasets():
    root = datasets_root()
    if not (root / "five_celebs").is_dir():
        unavailable(f"labeled photo sets not found at {root}; set {DATASETS_ENV} to their folder")
    return root


@pytest.fixture(scope="session", params=["retinaface", "scrfd"])
def pipeline(request) -> FacePipeline:
    """The real pipeline, once per detector family."""
    return FacePipeline.from_names(request.param)


@pytest.fixture(scope="session")
def default_pipeline() -> FacePipeline:
    return FacePipeline.from_names()


@pytest.fixture
def broken_files(datasets, tmp_path) -> dict:
    """Files that are not readable photos, each broken in its own way, by name."""
    good_jpeg = (datasets / "five_celebs" / "Ben_Affleck" / "train_10.jpg").read_bytes()
    files = {
        "empty.jpg": b"",
        "notes.jpg": b"this is a text file, not a photo\n",
        "noise.png": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        "truncated.jpg": good_jpeg[: len(good_jpeg) // 2],
        "bad_header.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in files} | {"missing.jpg": tmp_path / "missing.jpg"}
