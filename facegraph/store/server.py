"""The server backend: a Qdrant server or cluster through `qdrant-client` (URL and API key).

`QdrantClient(path=...)`, qdrant-client's local mode, also works here; the tests use it as the stand-in for a
server, which cannot be installed on the test machines.
"""

from __future__ import annotations

import warnings

import numpy as np
from qdrant_client import QdrantClient, models
import httpx
from qdrant_client.http.exceptions import ApiException, ResponseHandlingException

from facegraph.errors import StoreLockedError, StoreUnavailableError
from facegraph.store.base import (
    COLLECTIONS, FACES, KEYWORD_INDEXES, PAGE, PLACEHOLDER_VECTOR, FaceStore, Hit, StoredPoint, point_id,
)

SEARCH_PAGE = 256  # queries per batched search request


def to_filter(where: dict | None) -> models.Filter | None:
    if not where:
        return None
    conditions = []
    for key, value in where.items():
        if value is None:
            conditions.append(models.IsNullCondition(is_null=models.PayloadField(key=key)))
        elif isinstance(value, (list, tuple, set)):
            conditions.append(models.FieldCondition(key=key, match=models.MatchAny(any=list(value))))
        else:
            conditions.append(models.FieldCondition(key=key, match=models.MatchValue(value=value)))
    return models.Filter(must=conditions)


class ServerStore(FaceStore):
    """Collections `<prefix>faces`, `<prefix>persons`, `<prefix>photos` on a Qdrant server."""

    engine_errors = (ApiException, httpx.HTTPError, OSError, RuntimeError, ValueError, TypeError)

    def __init__(self, url: str | None = None, *, api_key: str | None = None, path: str | None = None,
                 prefix: str = "facegraph_", dimension: int = 512):
        if bool(url) == bool(path):
            raise ValueError("give a Qdrant url or a local path, not both and not neither")
        self.dimension = dimension
        self.location = url or path
        self.is_server = bool(url)
        self.exclusive = not self.is_server  # a server has other clients, whose runs may be under way
        self.names = {name: prefix + name for name in COLLECTIONS}
        try:
            with warnings.catch_warnings():  # an unreachable server is reported below, as StoreUnavailableError
                warnings.filterwarnings("ignore", message="Failed to obtain server version")
                self.client = QdrantClient(url=url, api_key=api_key) if url else QdrantClient(path=path)
            for name in COLLECTIONS:
                self._ensure(name)
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise StoreLockedError(f"store at {path} is open in another process; {exc}") from exc
            raise self.engine_error(exc, f"open Qdrant at {path}") from exc
        except self.engine_errors as exc:
            raise self.engine_error(exc, f"open Qdrant at {self.location}") from exc

    def engine_error(self, exc, operation):
        if isinstance(exc, (ResponseHandlingException, httpx.TransportError, ConnectionError)):
            return StoreUnavailableError(f"cannot reach Qdrant at {self.location} (to {operation}): {exc}; "
                                         "is the server running, and is the URL right?")
        return super().engine_error(exc, operation)

    def _ensure(self, name: str) -> None:
        collection = self.names[name]
        if not self.client.collection_exists(collection):
            size = self.dimension if name == FACES else len(PLACEHOLDER_VECTOR)
            self.client.create_collection(collection, vectors_config=models.VectorParams(size=size, distance=models.Distance.COSINE))
        if self.is_server:  # local mode has no payload indexes; a collection made before an index gets it
            for field in set(KEYWORD_INDEXES[name]) - set(self.client.get_collection(collection).payload_schema):
                self.client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)

    def upsert(self, collection, keys, payloads, vectors=None):
        rows = vectors.tolist() if vectors is not None else [PLACEHOLDER_VECTOR] * len(keys)
        points = [models.PointStruct(id=point_id(k), vector=row, payload=p) for k, row, p in zip(keys, rows, payloads)]
        for start in range(0, len(points), PAGE):
            self.client.upsert(self.names[collection], points[start : start + PAGE], wait=True)

    def retrieve(self, collection, keys, *, with_vectors=False):
        if not keys:
            return []
        records = self.client.retrieve(self.names[collection], [point_id(k) for k in keys], with_vectors=with_vectors)
        return [_stored(record) for record in records]

    def delete(self, collection, keys):
        if keys:
            self.client.delete(self.names[collection], models.PointIdsList(points=[point_id(k) for k in keys]), wait=True)

    def set_payload(self, collection, keys, payload):
        if keys:
            self.client.set_payload(self.names[collection], payload, points=[point_id(k) for k in keys], wait=True)

    def set_payloads(self, collection, keys, payloads):
        operations = [models.SetPayloadOperation(set_payload=models.SetPayload(payload=payload, points=[point_id(key)]))
                      for key, payload in zip(keys, payloads)]
        for start in range(0, len(operations), PAGE):  # one request per page
            self.client.batch_update_points(self.names[collection], operations[start : start + PAGE], wait=True)

    def scroll_pages(self, collection, *, where=None, with_vectors=False, fields=None, page=PAGE):
        offset = None
        while True:
            records, offset = self.client.scroll(self.names[collection], scroll_filter=to_filter(where), limit=page,
                                                 offset=offset, with_payload=fields or True, with_vectors=with_vectors)
            yield [_stored(record) for record in records]
            if offset is None:
                return

    def search(self, queries, *, limit, threshold=None, where=None):
        requests = [
            models.QueryRequest(query=row, limit=limit, filter=to_filter(where), score_threshold=threshold,
                                with_payload=True)
            for row in np.asarray(queries, dtype=np.float32).tolist()
        ]
        results = self.client.query_batch_points(self.names[FACES], requests) if requests else []
        return [[Hit(point.payload, float(point.score)) for point in result.points] for result in results]

    def nearest_faces(self, keys, *, limit, threshold):
        # Searches by point id, a page of them per request: the server (each shard of a cluster) searches its own
        # HNSW index and only ids and scores come back. (The distance-matrix API would answer for the whole
        # collection in one response, and it samples.)
        row_of = {point_id(key): row for row, key in enumerate(keys)}
        neighbours = np.full((len(keys), limit), -1, dtype=np.int64)
        similarities = np.zeros((len(keys), limit), dtype=np.float32)
        for start in range(0, len(keys), SEARCH_PAGE):
            requests = [models.QueryRequest(query=point_id(key), limit=limit, score_threshold=threshold,
                                            with_payload=False) for key in keys[start : start + SEARCH_PAGE]]
            for row, result in enumerate(self.client.query_batch_points(self.names[FACES], requests), start):
                found = [(row_of[str(p.id)], p.score) for p in result.points if row_of.get(str(p.id), row) != row]
                neighbours[row, : len(found)] = [column for column, _ in found]
                similarities[row, : len(found)] = [score for _, score in found]
        return neighbours, similarities

    def count(self, collection, *, where=None):
        return self.client.count(self.names[collection], count_filter=to_filter(where), exact=True).count

    def value_counts(self, collection, key, *, where=None):
        limit = max(1, self.count(collection))
        response = self.client.facet(self.names[collection], key, limit=limit, exact=True, facet_filter=to_filter(where))
        return {hit.value: hit.count for hit in response.hits}

    def close(self):
        self.client.close()


def _stored(record) -> StoredPoint:
    vector = record.vector
    if isinstance(vector, dict):
        vector = next(iter(vector.values()))
    return StoredPoint(record.payload or {}, np.asarray(vector, dtype=np.float32) if vector is not None else None)
