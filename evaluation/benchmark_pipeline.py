"""Benchmark of the face pipeline on LFW: speed against a naive baseline and the models alone, detection rate,
and 10-fold verification accuracy. Prints figures and the machine; it asserts nothing.

    python -m evaluation.benchmark_pipeline [--photos 500] [--full-lfw] [--threads]

Speed is compared within the one run (ratios), because the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from evaluation.embeddings import labeled_embeddings
from evaluation.labeled import datasets_root, load_labeled_set
from facegraph.models import ArcFace, load_detector, load_embedder
from facegraph.models.router import resolve
from facegraph.models.session import choose_providers
from facegraph.pipeline import FacePipeline, PhotoFaces


class RecordingSession:
    """Passes `run` through to a real session and keeps the inputs, so the models can be replayed alone."""

    def __init__(self, session):
        self.session, self.calls = session, []

    def run(self, names, feeds):
        self.calls.append((names, feeds))
        return self.session.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, onnxruntime {ort.__version__} "
            f"({ort.get_device()} build)")


def timed_run(pipeline: FacePipeline, paths) -> tuple[float, list]:
    start = time.perf_counter()
    results = list(pipeline.run(paths))
    return time.perf_counter() - start, results


def models_only_seconds(pipeline: FacePipeline, paths) -> float:
    """Record every session input the pipeline makes for `paths`, then time the sessions alone on them."""
    detector_session, embedder_session = pipeline.detector.session, pipeline.embedder.session
    pipeline.detector.session = recorded_detector = RecordingSession(detector_session)
    pipeline.embedder.session = recorded_embedder = RecordingSession(embedder_session)
    try:
        list(pipeline.run(paths))
    finally:
        pipeline.detector.session, pipeline.embedder.session = detector_session, embedder_session
    start = time.perf_counter()
    for session, recorded in ((detector_session, recorded_detector), (embedder_session, recorded_embedder)):
        for names, feeds in recorded.calls:
            session.run(names, feeds)
    return time.perf_counter() - start


def naive_pipeline(detector_name: str, *, default_sessions: bool) -> FacePipeline:
    """One photo and one face at a time, the detector at a 640x640 letterbox. With `default_sessions`, the sessions
    are onnxruntime's defaults (`InferenceSession(path)`), as a first implementation would open them."""
    if not default_sessions:
        return FacePipeline(load_detector(detector_name, input_size=(640, 640)), load_embedder(batch_size=1), batch_size=1)
    detector = load_detector(detector_name)
    plain = {path: ort.InferenceSession(path, providers=choose_providers())
             for path in (str(resolve(detector_name)), str(resolve("arcface")))}
    return FacePipeline(type(detector)(plain[str(resolve(detector_name))], input_size=(640, 640)),
                        ArcFace(plain[str(resolve("arcface"))], batch_size=1), batch_size=1)


def speed(detector_name: str, paths) -> None:
    pipeline = FacePipeline.from_names(detector_name)
    naive = naive_pipeline(detector_name, default_sessions=True)
    naive_tuned = naive_pipeline(detector_name, default_sessions=False)
    for warm in (pipeline, naive, naive_tuned):
        list(warm.run(paths[:20]))  # warm up sessions and caches
    seconds, results = timed_run(pipeline, paths)
    naive_seconds, naive_results = timed_run(naive, paths)
    tuned_seconds, _ = timed_run(naive_tuned, paths)
    models_seconds = models_only_seconds(pipeline, paths)
    faces = sum(len(r.faces) for r in results if isinstance(r, PhotoFaces))
    naive_faces = sum(len(r.faces) for r in naive_results if isinstance(r, PhotoFaces))
    n = len(paths)
    print(f"  {detector_name:10s} facegraph   {n / seconds:7.1f} images/s {faces / seconds:7.1f} faces/s  ({faces} faces)")
    print(f"  {'':10s} naive       {n / naive_seconds:7.1f} images/s {naive_faces / naive_seconds:7.1f} faces/s  "
          f"({naive_faces} faces; default sessions, 640x640 letterbox, one photo and one face at a time)")
    print(f"  {'':10s} naive loop on facegraph's sessions {n / tuned_seconds:7.1f} images/s")
    print(f"  {'':10s} models only {n / models_seconds:7.1f} images/s  (same session inputs as facegraph)")
    print(f"  {'':10s} facegraph / naive = {naive_seconds / seconds:.2f}x (target >= 2), "
          f"facegraph / naive loop on its sessions = {tuned_seconds / seconds:.2f}x, "
          f"facegraph / models only = {models_seconds / seconds:.2f} (target >= 0.8)")


def thread_sweep(paths) -> None:
    """Models-only time of the default pipeline's inputs at 1 and 2 intra-op threads."""
    for threads in (1, 2):
        pipeline = FacePipeline(load_detector(threads=threads), load_embedder(threads=threads))
        models_only_seconds(pipeline, paths[:50])
        print(f"  intra-op threads {threads}: models only {len(paths) / models_only_seconds(pipeline, paths):.1f} images/s")


def lfw_quality(detector_name: str, lfw: Path) -> None:
    """Main-face detection rate over all of LFW, and 10-fold verification accuracy on pairs.txt. The embeddings
    are cached (and reused by the sweeps)."""
    embeddings = labeled_embeddings(lfw, FacePipeline.from_names(detector_name))
    photos = load_labeled_set(lfw)
    vectors = {photo.path.name: embeddings.vectors[face]
               for photo, face in zip(photos, embeddings.main_faces) if face >= 0}
    accuracy, missing = verification_accuracy(vectors, datasets_root() / "meta" / "lfw_protocol" / "pairs.txt")
    print(f"  {detector_name:10s} main face found in {embeddings.detection_rate:.2%} of {len(photos)} photos "
          f"(target >= 99.5%); 10-fold verification accuracy {accuracy:.2%} ({missing} pairs with a missed face "
          f"count as wrong); embedded at {len(photos) / embeddings.seconds:.1f} images/s")


def verification_accuracy(embeddings: dict, pairs_file: Path) -> tuple[float, int]:
    """LFW's protocol: 10 folds of 300 same + 300 different pairs; the threshold is chosen on the other 9 folds."""
    lines = pairs_file.read_text().split("\n")
    folds, per_fold = map(int, lines[0].split())
    scores, same = [], []
    for line in lines[1 : 1 + folds * 2 * per_fold]:
        parts = line.split()
        if len(parts) == 3:
            a, b, label = (parts[0], int(parts[1])), (parts[0], int(parts[2])), True
        else:
            a, b, label = (parts[0], int(parts[1])), (parts[2], int(parts[3])), False
        va, vb = (embeddings.get(f"{name}_{number:04d}.jpg") for name, number in (a, b))
        scores.append(float(va @ vb) if va is not None and vb is not None else np.nan)
        same.append(label)
    scores, same = np.array(scores), np.array(same)
    missing = int(np.isnan(scores).sum())
    fold_of = np.repeat(np.arange(folds), 2 * per_fold)
    correct = 0
    for fold in range(folds):
        train, test = fold_of != fold, fold_of == fold
        candidates = np.unique(scores[train & ~np.isnan(scores)])
        best = max(candidates, key=lambda t: np.sum((scores[train] >= t) == same[train]))
        correct += np.sum((scores[test] >= best) == same[test])  # a NaN score is never >= t: wrong when same
    return correct / len(scores), missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=500, help="LFW photos timed (spread evenly over the set)")
    parser.add_argument("--full-lfw", action="store_true", help="also detection rate and verification on all of LFW")
    parser.add_argument("--threads", action="store_true", help="also compare 1 and 2 onnxruntime threads")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed figures")
    args = parser.parse_args()
    lfw = datasets_root() / "lfw"
    if not lfw.is_dir():
        raise SystemExit(f"LFW not found at {lfw}; set FACEGRAPH_DATASETS to the labeled sets' folder")
    every = load_labeled_set(lfw)
    paths = [photo.path for photo in every[:: max(1, len(every) // args.photos)][: args.photos]]
    print(f"machine: {machine()}")
    if not args.no_speed:
        print(f"speed on {len(paths)} LFW photos:")
        if args.threads:
            thread_sweep(paths)
        for detector_name in ("retinaface", "scrfd"):
            speed(detector_name, paths)
    if args.full_lfw:
        print("quality on all of LFW:")
        for detector_name in ("retinaface", "scrfd"):
            lfw_quality(detector_name, lfw)


if __name__ == "__main__":
    main()
