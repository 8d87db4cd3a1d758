"""Benchmark of `cluster_all`, `assign_person` and ingest on synthetic faces in the embedded store, up to a million
faces. Prints figures and the machine; it asserts nothing.

    python -m evaluation.benchmark_clustering [--faces 1000000] [--server-path]
    python -m evaluation.benchmark_clustering --library family|newsroom [--scale 0.02]
    python -m evaluation.benchmark_clustering --large-person 2000 4000 8000

The faces are unit vectors with identity structure: persons of Zipf-like sizes (from 1 face to 400), each face its
person's direction plus noise, scaled so that two faces of one person have a cosine of about 0.55 on average (spread
0.35 to 0.75) and faces of different persons about 0, as ArcFace faces do. Every face is clear (quality_score 30)
and alone in its photo.

`--library` makes a real library's faces instead (`synthetic_library`): persons sized as a family's or a newsroom's
(`LIBRARIES`, then the Zipf-like tail), a face's cosine with its person falling with its quality_score as real faces'
does (`ALIKENESS_BY_QUALITY`: same-person pairs from about 0.2 to 0.8, a poor face meeting its person at 0.25 to
0.5), 12% of them poor (quality under 20), and a quarter of them sharing a photo.

What it measures, in one run (speeds as ratios within it, because the machines are shared and noisy):
- the neighbour graph, approximate against exact: time, recall of the exact k nearest, and BCubed F1 of the
  default clustering against the synthetic persons. Above `--exact-limit` faces the exact graph is not built (at 1M
  it would take an hour, and its candidate edges more memory than the machine has): its time is that of the exact
  graph of `--exact-limit` of the faces, times (n / exact_limit)^2, since it compares every pair. Recall is always
  measured against the exact neighbours of `--sample` faces.
- `cluster_all` in a fresh process over the store: total, each phase, and that process's peak RSS.
- `optimize` (Qdrant Edge's HNSW build), then `assign_person` latency, median and p99, for new faces of persons in
  the store (`newcomers`) and for faces of new persons.
- ingest: `add_photos` throughput into the full store against an empty one.
- with `--large-person N [N ...]` (alone): one synthetic person of each size, made as `--library` makes its
  persons, clustered at the default as `cluster_all` does: linked over the graph, as a part above
  `clustering.MAX_LINKAGE_FACES` is, and up to that bound by scipy too.
- with `--library family|newsroom` (alone): a million faces (`--scale` times that), the percentiles of its
  same-person cosines by quality and how near different persons come (on a sample), then `cluster_all` in a fresh
  process (each phase, peak RSS) and the persons it found against the synthetic ones (BCubed, the largest persons'
  pieces, the faces left alone).
- with `--server-path`: the graph through qdrant-client (`ServerStore.nearest_faces`, batched searches by point id)
  on the same faces in qdrant-client's local mode, the stand-in for a server here, or on the server at
  `--server-url`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import networkx as nx
import numpy as np
from scipy.sparse.csgraph import connected_components

from evaluation.benchmark_pipeline import machine
from evaluation.incremental import synthetic_payload
from evaluation.metrics import bcubed_scores
from evaluation.synthetic_faces import (LIBRARIES, Library, day_faces, face_keys, library_sizes, newcomers,
                                        print_spread, synthetic_faces, synthetic_library, with_a_day)
from facegraph import clustering, neighbours, sparse_linkage
from facegraph.cluster_settings import ClusterSettings
from facegraph.constraints import Faces
from facegraph.persons import FaceGraph
from facegraph.pipeline import Face, PhotoFaces
from facegraph.store.base import FACES, PAGE
from facegraph.store.embedded import EmbeddedStore

DEFAULT = ClusterSettings()


def fill_store(graph: FaceGraph, vectors: np.ndarray, keys: list[str], quality: np.ndarray | None = None) -> None:
    """The faces into the store, each with its quality_score (30, a clear face's, if not given)."""
    quality = np.full(len(keys), 30.0) if quality is None else quality
    for start in range(0, len(keys), 10 * PAGE):
        part = keys[start : start + 10 * PAGE]
        payloads = [synthetic_payload(key, float(q)) for key, q in zip(part, quality[start : start + len(part)])]
        graph.collection.add_faces(part, vectors[start : start + len(part)], payloads)


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q) * 1000)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux


def exact_rows(vectors: np.ndarray, rows: np.ndarray, k: int, threshold: float) -> list[set]:
    """The exact k nearest (at cosine >= threshold) of `rows` among every face."""
    found = []
    for chunk in np.array_split(rows, max(1, len(rows) // 100)):
        similarity = vectors[chunk] @ vectors.T
        similarity[np.arange(len(chunk)), chunk] = -np.inf
        top = np.argpartition(-similarity, k, axis=1)[:, :k]
        found += [{int(j) for j in row if similarity[r, j] >= threshold} for r, row in enumerate(top)]
    return found


def recall(graph, rows: np.ndarray, exact: list[set]) -> float:
    """The share of the exact k nearest (above τ) of `rows` that `graph` holds."""
    total = sum(len(neighbours) for neighbours in exact)
    hits = sum(len(neighbours & set(graph.indices[graph.indptr[r] : graph.indptr[r + 1]].tolist()))
               for r, neighbours in zip(rows, exact))
    return hits / max(total, 1)


def default_bcubed(graph, vectors: np.ndarray, labels: np.ndarray) -> float:
    """BCubed F1 of the default clustering of `graph` against the synthetic persons (one photo per face)."""
    n = len(vectors)
    faces = Faces(vectors, np.arange(n), np.full(n, -1), np.full(n, 30.0, np.float32))
    return bcubed_scores(labels, clustering.cluster(graph, faces, DEFAULT))[2]


def compare_graphs(vectors: np.ndarray, labels: np.ndarray, *, sample: int, exact_limit: int) -> dict:
    """The approximate neighbour graph against the exact one, on the arrays (no store)."""
    k, threshold = DEFAULT.neighbours, DEFAULT.lowest_threshold
    start = time.perf_counter()
    approximate = neighbours.neighbour_graph(vectors, threshold=threshold, k=k, approximate=True)
    approximate_seconds = time.perf_counter() - start
    rows = np.random.default_rng(2).choice(len(vectors), size=min(sample, len(vectors)), replace=False)
    exact = exact_rows(vectors, rows, k, threshold)
    figures = {"approximate_seconds": approximate_seconds, "recall": recall(approximate, rows, exact),
               "approximate_bcubed_f1": default_bcubed(approximate, vectors, labels)}
    if len(vectors) <= exact_limit:
        start = time.perf_counter()
        exact_graph = neighbours.neighbour_graph(vectors, threshold=threshold, k=k, approximate=False)
        figures |= {"exact_seconds": time.perf_counter() - start, "exact_measured": True,
                    "exact_bcubed_f1": default_bcubed(exact_graph, vectors, labels)}
        start = time.perf_counter()
        count, _ = connected_components(exact_graph, directed=False)
        scipy_seconds = time.perf_counter() - start
        start = time.perf_counter()
        nx_count = nx.number_connected_components(nx.from_scipy_sparse_array(exact_graph))
        figures["components"] = (f"scipy {scipy_seconds:.2f}s ({count}), NetworkX {time.perf_counter() - start:.2f}s "
                                 f"({nx_count}, building its graph included)")
    else:
        start = time.perf_counter()
        neighbours.neighbour_graph(vectors[:exact_limit], threshold=threshold, k=k, approximate=False)
        scale = (len(vectors) / exact_limit) ** 2
        figures |= {"exact_seconds": (time.perf_counter() - start) * scale, "exact_measured": False}
    return figures


def large_person(size: int, exact_limit: int) -> str:
    """One synthetic person of `size` faces (a child in a family library), spread and of quality as a library's
    faces are, clustered at the default as `cluster_all` clusters it: linked over the graph (what a part of more
    than MAX_LINKAGE_FACES faces gets) at the shipped ε, and, up to `exact_limit` faces, exactly (ε = 0), with
    how far the two agree (BCubed F1 of one against the other); up to MAX_LINKAGE_FACES, by scipy on the full
    matrix as well. Into how many persons it falls, and how long each takes."""
    library = synthetic_library(np.array([size]), np.random.default_rng(2))
    graph = neighbours.neighbour_graph(library.vectors, threshold=DEFAULT.lowest_threshold, k=DEFAULT.neighbours)
    faces = Faces(library.vectors, quality=library.quality)
    found, line = default_persons(graph, faces, library.labels, linkage_bound=0)
    line = f"over the graph, ε {sparse_linkage.EPSILON}: {line}"
    if size <= exact_limit:
        with linkage_epsilon(0.0):
            exact, exact_line = default_persons(graph, faces, library.labels, linkage_bound=0)
        line += f"; exactly (ε 0): {exact_line}; agreement {bcubed_scores(exact, found)[2]:.4f}"
    if size <= clustering.MAX_LINKAGE_FACES:
        line += ("; scipy on the full matrix: "
                 + default_persons(graph, faces, library.labels, linkage_bound=clustering.MAX_LINKAGE_FACES)[1])
    return line


def default_persons(graph, faces: Faces, labels: np.ndarray, *, linkage_bound: int) -> tuple[np.ndarray, str]:
    """`clustering.cluster` at the default, parts of more than `linkage_bound` faces linked over the graph: the
    persons found, and a line of its time and its persons against `labels`."""
    with max_linkage_faces(linkage_bound):
        start = time.perf_counter()
        found = clustering.cluster(graph, faces, DEFAULT)
        seconds = time.perf_counter() - start
    sizes = np.bincount(found)
    return found, (f"{seconds:.1f}s ({len(sizes)} persons, the largest {sizes.max()}, "
                   f"BCubed F1 {bcubed_scores(labels, found)[2]:.4f})")


@contextmanager
def max_linkage_faces(bound: int):
    """The largest part scipy links on its full matrix set to `bound` for a while (as the tests lower it)."""
    saved = clustering.MAX_LINKAGE_FACES
    clustering.MAX_LINKAGE_FACES = bound
    try:
        yield
    finally:
        clustering.MAX_LINKAGE_FACES = saved


@contextmanager
def linkage_epsilon(epsilon: float):
    """`sparse_linkage.EPSILON`, how far the linkage over the graph approximates, set to `epsilon` for a while."""
    saved = sparse_linkage.EPSILON
    sparse_linkage.EPSILON = epsilon
    try:
        yield
    finally:
        sparse_linkage.EPSILON = saved


def cluster_in_child(store_path: str) -> dict:
    """`cluster_all` at the default in a fresh process over the store (`in_child`): its figures too."""
    return in_child(store_path, "report = graph.cluster_all(phase=mark).to_dict()")


def in_child(store_path: str, work: str, setup: str = "") -> dict:
    """Python code run on the store in a fresh process, as a user's command runs: `work` sets `report` (a dict)
    from `graph`, passing `mark` as its phase callback. Returns `report` with the seconds it took in all and in
    each phase marked, that process's peak RSS, and its peak RSS within each phase (sampled every 0.2 s). The
    peak is the process's own (VmHWM): its getrusage maxrss would start from this process's, kept across exec."""
    code = ("import json, os, threading, time\n"
            "from facegraph.persons import FaceGraph\n"
            f"{setup}\n"
            "peaks, current, page, times = {}, ['opening the store'], os.sysconf('SC_PAGE_SIZE'), []\n"
            "def sample():\n"
            "    while True:\n"
            "        rss = int(open('/proc/self/statm').read().split()[1]) * page  # resident pages\n"
            "        peaks[current[0]] = max(peaks.get(current[0], 0), rss); time.sleep(0.2)\n"
            "def mark(step):\n"
            "    current[0] = step; times.append((step, time.perf_counter()))\n"
            "threading.Thread(target=sample, daemon=True).start()\n"
            f"graph = FaceGraph({store_path!r}, pipeline=lambda: None)\n"
            "start = time.perf_counter(); times.append(('before its first phase', start))\n"
            f"{work}\n"
            "total = time.perf_counter() - start; times.append(('end', start + total)); time.sleep(0.3)\n"
            "graph.close()\n"
            "hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
            "phases = {a[0]: round(b[1] - a[1], 2) for a, b in zip(times, times[1:])}\n"
            "print(json.dumps(report | {'total': total, 'phase_seconds': phases, 'peak_rss_kib': int(hwm.split()[1]), "
            "'peak_rss_gib_by_phase': {k: round(v / 2**30, 2) for k, v in peaks.items()}}))\n")
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def assign_latency(graph: FaceGraph, new_vectors: np.ndarray, prefix: str) -> tuple[float, float]:
    keys = face_keys(len(new_vectors), prefix=prefix)
    fill_store(graph, new_vectors, keys)
    samples = []
    for key in keys:
        start = time.perf_counter()
        graph.assign_person(key)
        samples.append(time.perf_counter() - start)
    return percentile_ms(samples, 50), percentile_ms(samples, 99)


def ingest_rate(graph: FaceGraph, vectors: np.ndarray, prefix: str) -> float:
    """Photos per second through `add_photos` (the store's side of `index`), one face per photo."""
    photos = [PhotoFaces(f"/synthetic/{prefix}{n}.jpg", f"{prefix}{n:014x}", 640, 480, [
        Face(f"{prefix}{n:014x}_face0", f"{prefix}{n:014x}", (10, 10, 90, 110), np.zeros((5, 2), np.float32), 0.9,
             vector, 25.0)]) for n, vector in enumerate(vectors)]
    start = time.perf_counter()
    graph.add_photos(photos)  # as index does: the search index waits for the next search
    return len(photos) / (time.perf_counter() - start)


def server_path(vectors: np.ndarray, rows: np.ndarray, exact: list[set], url: str | None = None) -> str:
    """The graph through qdrant-client: from a Qdrant server at `url` (in collections of its own), else from
    qdrant-client's local mode."""
    from facegraph.store.server import ServerStore

    with tempfile.TemporaryDirectory() as folder, FaceGraph(
            store=ServerStore(url, prefix="facegraph_benchmark_") if url else ServerStore(path=folder),
            pipeline=lambda: None) as graph:
        keys = face_keys(len(vectors))
        fill_store(graph, vectors, keys)
        start = time.perf_counter()
        found = graph.store.nearest_faces(keys, limit=DEFAULT.neighbours, threshold=DEFAULT.lowest_threshold)
        seconds = time.perf_counter() - start
        knn = neighbours.knn_graph(*found, threshold=DEFAULT.lowest_threshold)
    return f"{seconds:.0f}s for {len(vectors)} faces, recall {recall(knn, rows, exact):.4f}"


def library_run(name: str, scale: float, day: int = 0) -> None:
    """A synthetic library of `name`'s persons at `scale`: its shape, `cluster_all` at the default in a fresh
    process over the embedded store, and the persons it found against the synthetic ones; then, with `day`, two
    days of `day` new photos placed in it (`day_run`)."""
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    sizes = library_sizes(name, scale, rng)
    sizes, day_labels = with_a_day(sizes, 2 * day, rng) if day else (sizes, np.zeros(0, np.int64))
    everything = synthetic_library(sizes, rng)
    today = day_faces(everything.labels, day_labels, rng)
    library = everything.rows(~today)
    print_library(name, scale, library, time.perf_counter() - start)
    print_spread(library)
    with tempfile.TemporaryDirectory() as folder:
        store = f"{folder}/store"
        with FaceGraph(store=EmbeddedStore(store), pipeline=lambda: None) as graph:
            start = time.perf_counter()
            fill_store(graph, library.vectors, library.face_ids, library.quality)
            print(f"upsert into Qdrant Edge: {time.perf_counter() - start:.0f}s")
        print_cluster_run(cluster_in_child(store))
        print_persons_found(library, persons_in_store(store, library.face_ids))
        if day:
            day_run(store, library, everything.rows(today), day, folder)


# ---- a day's new photos, placed in a clustered library -----------------------------------------------------------

def day_run(store: str, library: Library, new: Library, photos: int, folder: str) -> None:
    """Two days of `photos` new photos each (the faces `new`, dealt into photos so that no photo holds a person
    twice), each added to the clustered library with `add_photos(assign=True)` in a fresh process, against the
    same into an empty store: the first day right after the library's `cluster_all` (so it also builds the search
    index over that run's writes, once), the second as every later day. Then how the faces were placed: against
    the synthetic persons, and against a full `cluster_all` after."""
    photo = np.empty(len(new.labels), np.int64)
    photo[np.argsort(new.labels, kind="stable")] = np.arange(len(new.labels)) % (2 * photos)  # a person's: apart
    setup = "import numpy as np\nfrom evaluation.benchmark_clustering import day_photos"
    for day, when in enumerate(("the first day, after the library's cluster_all", "a later day")):
        faces = photo // photos == day
        np.savez(f"{folder}/day{day}.npz", vectors=new.vectors[faces], quality=new.quality[faces], photo=photo[faces])
        work = (f"added = graph.add_photos(day_photos(np.load({folder + f'/day{day}.npz'!r})), assign=True, "
                "phase=mark); report = {'faces': len(added.new_face_ids)}")
        full, empty = in_child(store, work, setup), in_child(f"{folder}/empty{day}", work, setup)
        print(f"{when}: {photos} photos, {faces.sum()} faces ({np.isin(new.labels[faces], library.labels).mean():.0%} "
              f"of persons in the library) placed by add_photos(assign=True) in a fresh process: {full['total']:.1f}s "
              f"into the library ({phases(full)}; peak RSS {full['peak_rss_kib'] / 2**20:.2f} GiB), "
              f"{empty['total']:.1f}s into an empty store ({phases(empty)}): {full['total'] / empty['total']:.1f}x")
    face_ids = library.face_ids + day_face_ids(photo)
    labels = np.r_[library.labels, new.labels]
    placed = person_ids_in_store(store)
    print_placement("placed", labels, [placed[f] for f in face_ids], len(library.labels))
    print_cluster_run(cluster_in_child(store))
    again = person_ids_in_store(store)
    print_placement("after a full cluster_all", labels, [again[f] for f in face_ids], len(library.labels))
    day = face_ids[len(library.labels):]
    print(f"  the days' faces whose person a full cluster_all keeps: "
          f"{np.mean([placed[f] == again[f] for f in day]):.2%} of {len(day)}")


def day_photos(day) -> list[PhotoFaces]:
    """The day's photos, from the arrays `day_run` saved: each face's vector, quality and photo number."""
    face_ids, faces = day_face_ids(day["photo"]), {}
    for face_id, number, vector, quality in zip(face_ids, day["photo"], day["vectors"], day["quality"]):
        image_id = face_id.rsplit("_face", 1)[0]
        faces.setdefault(int(number), []).append(Face(face_id, image_id, (10, 10, 90, 110), np.zeros((5, 2), np.float32),
                                                      0.9, vector, float(quality)))
    return [PhotoFaces(f"/synthetic/day/{number}.jpg", found[0].image_id, 640, 480, found)
            for number, found in sorted(faces.items())]


def day_face_ids(photo: np.ndarray) -> list[str]:
    """The face ids of the day's faces, given each one's photo number (in the order of the faces)."""
    place = np.zeros(len(photo), np.int64)
    order = np.argsort(photo, kind="stable")
    place[order] = np.arange(len(photo)) - np.searchsorted(photo[order], photo[order])
    return [f"day{number:013x}_face{n}" for number, n in zip(photo.tolist(), place.tolist())]


def phases(run: dict) -> str:
    return ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in run["phase_seconds"].items())


def print_placement(when: str, labels: np.ndarray, person_ids: list, library_faces: int) -> None:
    found = np.unique([p or f"alone {n}" for n, p in enumerate(person_ids)], return_inverse=True)[1].reshape(-1)
    day = slice(library_faces, None)
    print(f"  {when}: BCubed F1 of all faces {bcubed_scores(labels, found)[2]:.4f}, of the day's faces among "
          f"themselves {bcubed_scores(labels[day], found[day])[2]:.4f}")


def print_library(name: str, scale: float, library: Library, seconds: float) -> None:
    sizes, own = np.bincount(library.labels), len(LIBRARIES[name])
    faces_in_photo = np.bincount(library.photos)[library.photos]
    print(f"{name} library at scale {scale:g}: {len(library.labels)} faces of {len(sizes)} persons, made in "
          f"{seconds:.0f}s: its own {own} persons of {sizes[:own].max()} down to {sizes[:own].min()} faces "
          f"({sizes[:own].sum() / len(library.labels):.0%} of the faces), then {len(sizes) - own} of 1 to "
          f"{sizes[own:].max()} ({np.mean(sizes[own:] == 1):.0%} of one face); {np.mean(library.quality < 20):.1%} "
          f"of the faces poor (quality_score under 20); {len(np.unique(library.photos))} photos, "
          f"{np.mean(faces_in_photo > 1):.1%} of the faces in photos of 2 to {faces_in_photo.max()}")


def persons_in_store(folder: str, face_ids: list[str]) -> np.ndarray:
    """The person of each of `face_ids` in the store, as labels (a face without a person alone in its own)."""
    person_of = person_ids_in_store(folder)
    return np.unique([person_of[face] or face for face in face_ids], return_inverse=True)[1].reshape(-1)


def person_ids_in_store(folder: str) -> dict[str, str | None]:
    """Every face's person id in the store."""
    with FaceGraph(store=EmbeddedStore(folder), pipeline=lambda: None) as graph:
        return {point.payload["face_id"]: point.payload.get("person_id")
                for page in graph.store.scroll_pages(FACES, fields=["face_id", "person_id"]) for point in page}


def print_persons_found(library: Library, found: np.ndarray) -> None:
    """BCubed against the synthetic persons, persons found against true ones, the largest persons' pieces, and
    which faces were left alone."""
    precision, recall, f1 = bcubed_scores(library.labels, found)
    true_sizes, found_sizes = np.bincount(library.labels), np.bincount(found)
    print(f"persons: {len(found_sizes)} found for {len(true_sizes)} true ({np.sum(found_sizes == 1)} of one face "
          f"against {np.sum(true_sizes == 1)}); BCubed precision {precision:.4f}, recall {recall:.4f}, F1 {f1:.4f}")
    pieces = [np.bincount(found[library.labels == person]) for person in np.argsort(-true_sizes)[:3]]
    print("  the three largest persons: " + "; ".join(
        f"{piece.sum()} faces, {piece.max() / piece.sum():.1%} in its main person (split into "
        f"{np.count_nonzero(piece)})" for piece in pieces))
    split_off = (found_sizes[found] == 1) & (true_sizes[library.labels] > 1)
    poor = library.quality < 20
    print(f"  faces left alone though their person has others: {split_off[poor].mean():.1%} of the poor faces, "
          f"{split_off[~poor].mean():.2%} of the clear ones")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100_000, help="faces in the collection")
    parser.add_argument("--assign", type=int, default=1000, help="new faces given a person one by one (of each kind)")
    parser.add_argument("--sample", type=int, default=2000, help="faces whose exact neighbours measure recall")
    parser.add_argument("--exact-limit", type=int, default=200_000, help="build the full exact graph up to here")
    parser.add_argument("--ingest", type=int, default=2000, help="photos added to measure ingest throughput")
    parser.add_argument("--no-graph-comparison", action="store_true",
                        help="skip the approximate-against-exact graph comparison (the store figures only)")
    parser.add_argument("--cluster-only", action="store_true",
                        help="only fill the store and time cluster_all (no graph comparison, HNSW build or assign)")
    parser.add_argument("--server-path", type=int, default=0, metavar="FACES",
                        help="also time the graph through qdrant-client's local mode on this many faces")
    parser.add_argument("--server-url", help="with --server-path: a Qdrant server or cluster to time, not local mode")
    parser.add_argument("--exact-linkage-limit", type=int, default=20_000, metavar="FACES",
                        help="with --large-person: link exactly (ε 0) too, up to this size, to compare")
    parser.add_argument("--large-person", type=int, nargs="*", default=[], metavar="FACES",
                        help="only cluster one synthetic person of each of these sizes (e.g. 4000 20000 100000)")
    parser.add_argument("--library", choices=sorted(LIBRARIES),
                        help="only cluster a synthetic library of a million faces with a family's or a newsroom's "
                             "persons (see --scale)")
    parser.add_argument("--day", type=int, default=0, metavar="PHOTOS",
                        help="with --library: then add two days of new photos of 3 faces each (1000: 3,000 faces a "
                             "day) and place them, timed, and against a full cluster_all")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="with --library: every person's size times this (0.02: 20,000 faces, the largest person "
                             "of a family 2,000)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"settings: {DEFAULT.name}, k={DEFAULT.neighbours}, graph edges from cosine {DEFAULT.lowest_threshold}")
    if args.large_person:
        for size in args.large_person:
            print(f"one person of {size} faces: {large_person(size, args.exact_linkage_limit)}")
        return
    if args.library:
        library_run(args.library, args.scale, args.day)
        return
    start = time.perf_counter()
    extra = args.assign + 2 * args.ingest
    vectors, labels = synthetic_faces(args.faces + extra)
    vectors, new_vectors, labels = vectors[: args.faces], vectors[args.faces :], labels[: args.faces]
    sizes = np.bincount(labels)
    print(f"{args.faces} synthetic faces of {len(sizes)} persons (largest {sizes.max()}, "
          f"{np.mean(sizes == 1):.0%} of one face), made in {time.perf_counter() - start:.0f}s")

    if not (args.cluster_only or args.no_graph_comparison):
        print_graph_comparison(vectors, labels, args)
    with tempfile.TemporaryDirectory() as folder:
        with FaceGraph(store=EmbeddedStore(folder), pipeline=lambda: None) as graph:
            start = time.perf_counter()
            fill_store(graph, vectors, face_keys(args.faces))
            print(f"upsert into Qdrant Edge: {time.perf_counter() - start:.0f}s")
        print_cluster_run(cluster_in_child(folder))
        if not args.cluster_only:
            print_store_figures(folder, new_vectors, newcomers(vectors, labels, args.assign), args)

    if args.server_path:
        part = vectors[: args.server_path]
        rows = np.arange(min(args.sample, len(part)))
        exact = exact_rows(part, rows, DEFAULT.neighbours, DEFAULT.lowest_threshold)
        where = f"Qdrant at {args.server_url}" if args.server_url else "qdrant-client local mode"
        print(f"server path ({where}, batched searches by id): {server_path(part, rows, exact, args.server_url)}")


def print_cluster_run(run: dict) -> None:
    phases = ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in run["seconds"].items())
    print(f"cluster_all (fresh process): {run['total']:.0f}s ({phases}); {run['persons']} persons, "
          f"{run['faces_rewritten']} faces written; peak RSS {run['peak_rss_kib'] / 2**20:.2f} GiB")
    print("  peak RSS within each phase (GiB): " + ", ".join(f"{phase} {gib}" for phase, gib in
                                                             run["peak_rss_gib_by_phase"].items()))


def print_graph_comparison(vectors: np.ndarray, labels: np.ndarray, args) -> None:
    figures = compare_graphs(vectors, labels, sample=args.sample, exact_limit=args.exact_limit)
    how = "measured" if figures["exact_measured"] else f"estimated from {args.exact_limit} faces"
    print(f"neighbour graph: approximate {figures['approximate_seconds']:.1f}s, exact {figures['exact_seconds']:.1f}s "
          f"({how}): {figures['exact_seconds'] / figures['approximate_seconds']:.1f}x; recall of the exact k nearest "
          f"{figures['recall']:.4f} (on {args.sample} faces)")
    print(f"BCubed F1 of the default clustering: approximate graph {figures['approximate_bcubed_f1']:.4f}"
          + (f", exact graph {figures['exact_bcubed_f1']:.4f}" if figures["exact_measured"] else ""))
    if "components" in figures:
        print(f"connected components of the exact graph: {figures['components']}")
    print(f"peak RSS of this process so far: {peak_rss_gib():.2f} GiB")


def print_store_figures(folder: str, new_vectors: np.ndarray, known: np.ndarray, args) -> None:
    """The HNSW build, then assign_person latency and ingest throughput, over the clustered store."""
    with FaceGraph(store=EmbeddedStore(folder), pipeline=lambda: None) as graph:
        start = time.perf_counter()
        graph.collection.optimize()
        print(f"optimize (Qdrant Edge's HNSW build after the writes): {time.perf_counter() - start:.0f}s")
        for what, faces, prefix in (("faces of persons in the store", known, "known"),
                                    ("faces of new persons", new_vectors[: args.assign], "new")):
            median, p99 = assign_latency(graph, faces, prefix)
            print(f"assign_person, {args.assign} {what}: median {median:.1f} ms, p99 {p99:.1f} ms")
        full = ingest_rate(graph, new_vectors[args.assign : args.assign + args.ingest], "full")
    with tempfile.TemporaryDirectory() as empty, FaceGraph(store=EmbeddedStore(empty), pipeline=lambda: None) as graph:
        fresh = ingest_rate(graph, new_vectors[args.assign + args.ingest :], "empty")
    print(f"ingest (add_photos, one face per photo): {full:.0f} photos/s into the {args.faces}-face store, "
          f"{fresh:.0f} photos/s into an empty one ({full / fresh:.2f}x)")


if __name__ == "__main__":
    main()
