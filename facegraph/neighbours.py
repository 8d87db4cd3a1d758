"""The neighbour graph: each face's k nearest faces above a cosine threshold, exact or approximate.

Exact for small collections, by a blocked product of the vectors. Approximate for large ones: faiss's k-means cuts
the faces into cells, and each face is compared with the faces of its nearest cells only, by the same blocked
products. faiss's own inverted-file search does that comparison one query at a time; as blocked products (BLAS)
the same work ran 2.2x faster at 100k faces and 2x in all at 1M here (16 probed cells: 363 s against 715 s, the
same recall).
The neighbour graph of a Qdrant server comes from the server itself (`FaceStore.nearest_faces`, then `knn_graph`).
"""

from __future__ import annotations

# faiss before infomap, always: both are SWIG modules, and the last one loaded takes over SWIG's shared iterator
# type, so faiss loaded after infomap makes infomap's next result crash the process (clustering imports this
# module first, and infomap only when it clusters)
import faiss
import numpy as np
from scipy.sparse import coo_matrix, csr_matrix

from facegraph.cluster_settings import DEFAULT_NEIGHBOURS, check_neighbours, check_threshold

# From this many faces the graph is approximate. The exact one costs n^2: 11 s at 50k faces on 2 cores, about two
# hours at 1M; the approximate one grows about as n^1.5.
APPROXIMATE_FROM = 50_000
BLOCK_ELEMENTS = 1 << 20  # similarities the exact graph computes at once (4 MB), within the rows' bounds below
MIN_BLOCK_ROWS, MAX_BLOCK_ROWS = 256, 1024  # rows of a block: fewer make slow products; more, a large mask
EDGES_PER_FACE = 4  # x k: candidate edges the exact graph holds per face before it cuts them to the k best
PROBES = 32  # cells each face is compared with (see README, "The neighbour graph at scale")
CELLS_PER_ROOT = 4  # about 4 sqrt(n) cells, of about sqrt(n) / 4 faces each
KMEANS_SEED = 0  # the same faces give the same cells, so the same graph


def is_approximate(faces: int, approximate: bool | None = None) -> bool:
    """Whether the neighbour graph of this many faces is approximate (`approximate`: forced either way)."""
    return faces >= APPROXIMATE_FROM if approximate is None else approximate


def neighbour_graph(vectors: np.ndarray, *, threshold: float, k: int = DEFAULT_NEIGHBOURS,
                    approximate: bool | None = None, block_size: int | None = None) -> csr_matrix:
    """The k-nearest-neighbour graph of unit `vectors`, keeping edges of cosine similarity >= `threshold`.
    Returns a directed sparse matrix: row i holds the similarities of face i's (at most) `k` nearest faces,
    without self-loops.

    Exact below `APPROXIMATE_FROM` faces, unless `approximate` says otherwise: similarities are computed a block
    of rows at a time (`block_size` rows; by default about `BLOCK_ELEMENTS` similarities) and only for pairs i < j (half the work); the
    pairs above the threshold are gathered, and cut to each face's k best whenever more than `EDGES_PER_FACE` x k
    a face are held. Memory stays bounded whatever τ, k and the faces: one dense 6,000-face person, where every
    pair passes τ, held 18 million edges (2.4 GB) before this cut. Approximate: `approximate_graph`.
    """
    check_threshold(threshold)
    check_neighbours(k)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n and is_approximate(n, approximate):
        return approximate_graph(vectors, threshold=threshold, k=k)
    rows, cols, sims = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    held, budget = 0, max(EDGES_PER_FACE * k * n, BLOCK_ELEMENTS)
    block_size = block_size or min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, BLOCK_ELEMENTS // max(n, 1)))
    for start in range(0, n, block_size):
        end = min(start + block_size, n)
        block = vectors[start:end] @ vectors[start:].T
        block[np.tril_indices(end - start)] = -np.inf  # pairs i >= j are counted from the other end, or are self
        r, c = np.nonzero(block >= threshold)
        rows += [r + start, c + start]  # each pair as an edge both ways
        cols += [c + start, r + start]
        sims += [block[r, c]] * 2
        held += 2 * len(r)
        if held > budget:  # keep each face's k best so far; the rest can never be among its k best
            kept = graph_from_edges(np.concatenate(rows), np.concatenate(cols), np.concatenate(sims), n, k=k).tocoo()
            rows, cols, sims, held = [kept.row.astype(np.int64)], [kept.col.astype(np.int64)], [kept.data], kept.nnz
    return graph_from_edges(np.concatenate(rows), np.concatenate(cols), np.concatenate(sims), n, k=k)


def approximate_graph(vectors: np.ndarray, *, threshold: float, k: int = DEFAULT_NEIGHBOURS,
                      probes: int = PROBES) -> csr_matrix:
    """The neighbour graph of `neighbour_graph`, approximately: seeded spherical k-means (faiss) cuts the faces
    into cells, each face lives in its nearest cell, and each face is compared with the faces of its `probes`
    nearest cells, a cell at a time (one product of the faces that probe it by the faces in it). Each face's k
    best so far are kept as they come, so memory stays n x k whatever the number of candidates."""
    n, d = vectors.shape
    cells = max(1, min(int(CELLS_PER_ROOT * np.sqrt(n)), n // 39))  # faiss wants 39 training faces per cell
    training = np.random.default_rng(KMEANS_SEED).choice(n, size=min(n, 40 * cells), replace=False)
    kmeans = faiss.Kmeans(d, cells, niter=10, seed=KMEANS_SEED, spherical=True)
    kmeans.train(vectors[np.sort(training)])
    probed = nearest_cells(vectors, kmeans.centroids, min(probes, cells))
    best = np.full((n, k), -1, dtype=np.int64)
    best_similarity = np.full((n, k), -np.inf, dtype=np.float32)
    # the faces living in each cell (sorted), and the faces probing it
    for cell, (members, queries) in enumerate(zip(_grouped(probed[:, 0], cells), _grouped(probed.ravel(), cells))):
        queries = queries // probed.shape[1]
        if not len(members) or not len(queries):
            continue
        block = vectors[queries] @ vectors[members].T
        at_home = np.flatnonzero(probed[queries, 0] == cell)
        block[at_home, np.searchsorted(members, queries[at_home])] = -np.inf  # a face is not its own neighbour
        top = np.argpartition(-block, k - 1, axis=1)[:, :k] if len(members) > k else np.arange(len(members))[None]
        top = np.broadcast_to(top, (len(queries), top.shape[1]))
        candidates = np.hstack([best[queries], members[top]])
        similarity = np.hstack([best_similarity[queries], np.take_along_axis(block, top, 1)])
        keep = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        best[queries] = np.take_along_axis(candidates, keep, 1)
        best_similarity[queries] = np.take_along_axis(similarity, keep, 1)
    return knn_graph(best, best_similarity, threshold=threshold)


def nearest_cells(vectors: np.ndarray, centroids: np.ndarray, probes: int, block_size: int = 8192) -> np.ndarray:
    """Each vector's `probes` nearest centroids, nearest first (a block of vectors at a time: with 4,000 cells a
    block's similarities and their int64 ranks take 400 MB, where 65,536 rows took 3 GB)."""
    found = np.empty((len(vectors), probes), dtype=np.int64)
    for start in range(0, len(vectors), block_size):
        similarity = vectors[start : start + block_size] @ centroids.T
        top = np.argpartition(-similarity, probes - 1, axis=1)[:, :probes]
        order = np.argsort(-np.take_along_axis(similarity, top, 1), axis=1)
        found[start : start + block_size] = np.take_along_axis(top, order, 1)
    return found


def _grouped(labels: np.ndarray, count: int) -> list[np.ndarray]:
    """The indices of `labels` holding each value 0..count-1."""
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.searchsorted(labels[order], np.arange(1, count)))


def knn_graph(neighbours: np.ndarray, similarities: np.ndarray, *, threshold: float) -> csr_matrix:
    """The directed neighbour graph (as `neighbour_graph` returns it) from each row's nearest rows: (n, k) row
    numbers, -1 where there are fewer, and their similarities. Edges below `threshold` are dropped."""
    n = len(neighbours)
    rows = np.repeat(np.arange(n), neighbours.shape[1])
    cols, sims = neighbours.ravel(), similarities.ravel()
    keep = (cols >= 0) & (cols != rows) & (sims >= threshold)
    return coo_matrix((sims[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()


def graph_from_edges(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, n: int, *, k: int) -> csr_matrix:
    """The directed graph of each face's `k` most similar edges among the candidate edges given."""
    order = np.lexsort((-sims, rows))
    rows, cols, sims = rows[order], cols[order], sims[order]
    keep = np.arange(len(rows)) - np.searchsorted(rows, rows) < k  # rank within the row
    return coo_matrix((sims[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()
