"""The embedded backend: Qdrant Edge, the Qdrant engine in this process, one shard per collection on disk.

An embedded store is opened by one process at a time. A lock file makes a second opening fail at once with
`StoreLockedError` instead of two engines writing the same files.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import portalocker
from qdrant_edge import (
    CountRequest, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, FacetRequest, FieldCondition, Filter,
    IsNullCondition, MatchAny, MatchValue, PayloadSchemaType, PayloadSelector, Point, Query, QueryBatchRequest, QueryRequest,
    ScrollRequest, UpdateOperation,
)

from facegraph.errors import StoreError, StoreFullError, StoreLockedError
from facegraph.store.base import (
    COLLECTIONS, FACE_BYTES, FACES, KEYWORD_INDEXES, PAGE, PLACEHOLDER_VECTOR, FaceStore, Hit, StoredPoint, point_id,
)

_LOCK_FILE = ".facegraph.lock"
# Free disk the engine needs beyond what it is told to write: opening a store maps 32 MB files in full and
# replays its write-ahead log, and each new segment preallocates more (seen on a 25-face store: opening took
# 32 MB, indexing 21 more photos 36 MB, a recluster 33 MB). Below these a store is not opened, or not written,
# instead of the engine dying of SIGBUS on a full disk.
OPEN_RESERVE = 128 * 2**20
WRITE_RESERVE = 64 * 2**20


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


def _remove_unfinished_segments(folder: Path) -> None:
    """Delete what a killed optimizer left: segments it was still building (`temp_segments/`), which the engine
    never reads or cleans. Only a process holding the store's lock may call this."""
    for leftover in sorted((folder / "temp_segments").glob("segment_builder_*")):
        shutil.rmtree(leftover, ignore_errors=True)


def to_filter(where: dict | None) -> Filter | None:
    if not where:
        return None
    conditions = []
    for key, value in where.items():
        if value is None:
            conditions.append(IsNullCondition(key))
        elif isinstance(value, (list, tuple, set)):
            conditions.append(FieldCondition(key, match=MatchAny(list(value))))
        else:
            conditions.append(FieldCondition(key, match=MatchValue(value)))
    return Filter(must=conditions)


class EmbeddedStore(FaceStore):
    """Qdrant Edge shards under `path` (`faces/`, `persons/`, `photos/`)."""

    # the engine raises plain exceptions with its own message (a payload it cannot encode is a TypeError)
    engine_errors = (RuntimeError, ValueError, TypeError, OSError)

    def __init__(self, path: str | os.PathLike, *, dimension: int = 512):
        self.path = Path(path)
        self.dimension = dimension
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path / _LOCK_FILE, "w")
        try:
            portalocker.lock(self._lock, portalocker.LOCK_EX | portalocker.LOCK_NB)
        except portalocker.LockException:
            self._lock.close()
            raise StoreLockedError(
                f"store at {self.path} is open in another process; close it there first, or use a Qdrant server "
                "(FACEGRAPH_QDRANT_URL) for concurrent access"
            ) from None
        self._shards = {}
        try:
            self.check_space(OPEN_RESERVE - WRITE_RESERVE, doing="open")
            for name in COLLECTIONS:
                _remove_unfinished_segments(self.path / name)
                self._shards[name] = self._open(name)
        except StoreError:
            self.close()  # release what was opened, and the lock
            raise

    def check_space(self, extra_bytes=0, doing="write"):
        free, needed = shutil.disk_usage(self.path).free, WRITE_RESERVE + extra_bytes
        if free < needed:
            raise StoreFullError(f"no space left on {self.path}: {_mib(free)} free, {_mib(needed)} needed to {doing} the "
                             "store; free some space and try again (the store is unchanged)")

    def engine_error(self, exc, operation):
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "No space left" in str(exc):
            return StoreFullError(f"no space left on {self.path} (the engine failed to {operation}); free some space "
                              "and try again")
        if "surrogates not allowed" in str(exc):  # Python's escape for bytes of a name that are not UTF-8
            return StoreError(f"the store failed to {operation}: a text value is not valid UTF-8")
        return super().engine_error(exc, operation)

    def _open(self, name: str) -> EdgeShard:
        size = self.dimension if name == FACES else len(PLACEHOLDER_VECTOR)
        config = EdgeConfig(vectors=EdgeVectorParams(size=size, distance=Distance.Cosine))
        folder = self.path / name
        try:
            if (folder / "edge_config.json").is_file():
                shard = EdgeShard.load(str(folder), config)
            else:
                shard = EdgeShard.create(str(folder), config)
        except Exception as exc:  # the engine raises plain RuntimeError/ValueError with its own message
            raise StoreError(f"cannot open the {name} collection at {folder}: {exc}") from exc
        for field in set(KEYWORD_INDEXES[name]) - set(shard.info().payload_schema):  # a store made before an index
            shard.update(UpdateOperation.create_field_index(field, PayloadSchemaType.Keyword))
        return shard

    def upsert(self, collection, keys, payloads, vectors=None):
        if not keys:
            return
        rows = vectors.tolist() if vectors is not None else [PLACEHOLDER_VECTOR] * len(keys)
        points = [Point(point_id(key), row, payload) for key, row, payload in zip(keys, rows, payloads)]
        for start in range(0, len(points), PAGE):
            self._shards[collection].update(UpdateOperation.upsert_points(points[start : start + PAGE]))

    def retrieve(self, collection, keys, *, with_vectors=False):
        if not keys:
            return []
        records = self._shards[collection].retrieve([point_id(key) for key in keys], True, with_vectors)
        return [self._stored(record, with_vectors) for record in records]

    def delete(self, collection, keys):
        if keys:
            self._shards[collection].update(UpdateOperation.delete_points([point_id(key) for key in keys]))

    def set_payload(self, collection, keys, payload):
        if keys:
            self._shards[collection].update(UpdateOperation.set_payload([point_id(key) for key in keys], payload))

    def set_payloads(self, collection, keys, payloads):
        # One operation per point: Edge takes no batch of them, and this is still 2.6x faster than upserting the
        # points whole (measured at 20k faces), and leaves vectors and the HNSW graph alone.
        shard = self._shards[collection]
        for key, payload in zip(keys, payloads):
            shard.update(UpdateOperation.set_payload([point_id(key)], payload))

    def scroll_pages(self, collection, *, where=None, with_vectors=False, fields=None, page=PAGE):
        shard, offset = self._shards[collection], None
        while True:
            request = ScrollRequest(offset=offset, limit=page, filter=to_filter(where),
                                    with_payload=PayloadSelector.Include(fields) if fields else True,
                                    with_vector=with_vectors)
            records, offset = shard.scroll(request)
            yield [self._stored(record, with_vectors) for record in records]
            if offset is None:
                return

    def search(self, queries, *, limit, threshold=None, where=None):
        requests = [
            QueryRequest(limit=limit, query=Query.Nearest(row), filter=to_filter(where), score_threshold=threshold,
                         with_payload=True)
            for row in np.asarray(queries, dtype=np.float32).tolist()
        ]
        results = self._shards[FACES].query_batch(QueryBatchRequest(requests)) if requests else []
        return [[Hit(point.payload, float(point.score)) for point in points] for points in results]

    def count(self, collection, *, where=None):
        return self._shards[collection].count(CountRequest(filter=to_filter(where)))

    def value_counts(self, collection, key, *, where=None):
        limit = max(1, self.count(collection))
        response = self._shards[collection].facet(FacetRequest(key=key, limit=limit, exact=True, filter=to_filter(where)))
        # Edge keeps a value at count 0 once its last point moved away (until reopened): those are gone
        return {hit.value: hit.count for hit in response if hit.count > 0}

    def optimize(self):
        # Bulk writes land in unindexed segments; the optimizers build the HNSW and payload indexes, in new copies.
        self.check_space(self.count(FACES) * FACE_BYTES, "index")
        for shard in self._shards.values():
            shard.optimize()

    def close(self):
        if self._lock.closed:
            return
        for shard in self._shards.values():
            shard.flush()
            shard.close()
        self._lock.close()  # releases the lock

    @staticmethod
    def _stored(record, with_vectors: bool) -> StoredPoint:
        vector = record.vector if with_vectors else None
        if isinstance(vector, dict):
            vector = next(iter(vector.values()))
        return StoredPoint(record.payload or {}, np.asarray(vector, dtype=np.float32) if vector is not None else None)
