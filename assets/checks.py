"""Asset checks: contract breaks are ERROR and block what depends on them; quality drift is a WARN."""

import warnings

import numpy as np
import pyarrow as pa
from dagster import (
    AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, Config, PreviewWarning, ResourceParam,
    asset_check,
)
from pydantic import Field

from assets.collection import collection_batch
from assets.faces import batch_faces
from assets.metadata import share
from assets.partitions import photo_batches
from assets.persons import person_shares, persons
from assets.resources import STORE_POOL, FaceCollection
from assets.tables import BatchTableIOManager, embedding_matrix, face_rows

UNIT_TOLERANCE = 1e-3  # |norm - 1| allowed: float32 rounding, far below any real defect
SHOWN = 10  # ids listed in a check's metadata, at most


def batch_check(**kwargs):
    """`asset_check` per photo batch. Partitioned checks are a preview feature of Dagster 1.13, used knowingly:
    its warning is not repeated on every load."""
    def decorate(fn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PreviewWarning)
            return asset_check(partitions_def=photo_batches, **kwargs)(fn)
    return decorate


@batch_check(asset=batch_faces, blocking=True)
def embeddings_are_unit_vectors(batch_faces: pa.Table) -> AssetCheckResult:
    """Every embedding of the batch is finite and unit length."""
    vectors = embedding_matrix(batch_faces).astype(np.float64)
    face_ids = face_rows(batch_faces)["face_id"].to_pylist()
    finite = np.isfinite(vectors).all(axis=1)
    deviation = np.abs(np.linalg.norm(np.where(np.isfinite(vectors), vectors, 0.0), axis=1) - 1.0)
    bad = [face_id for face_id, ok in zip(face_ids, finite & (deviation <= UNIT_TOLERANCE)) if not ok]
    return AssetCheckResult(passed=not bad, severity=AssetCheckSeverity.ERROR, metadata={
        "faces": len(face_ids),
        "not_finite": int((~finite).sum()),
        "max_norm_deviation": float(deviation[finite].max()) if finite.any() else 0.0,
        "bad_faces": bad[:SHOWN],
    })


def faces_of_batches(tables: BatchTableIOManager, keys: list[str]) -> tuple[set[str], list[str]]:
    """The face ids in the `batch_faces` tables of `keys`, and the keys that have no table."""
    faces, without_table = set(), []
    for key in keys:
        try:
            faces.update(tables.read(batch_faces.key.path, key, columns=["face_id"])["face_id"].to_pylist())
        except FileNotFoundError:
            without_table.append(key)
    faces.discard(None)  # the rows of photos without faces
    return faces, without_table


@batch_check(asset=collection_batch, blocking=True, pool=STORE_POOL)
def collection_holds_the_batches(context: AssetCheckExecutionContext, store: FaceCollection,
                                 batch_tables: ResourceParam[BatchTableIOManager]) -> AssetCheckResult:
    """The collection holds exactly the faces of the batches whose collection_batch is materialised."""
    batches = sorted(set(context.instance.get_materialized_partitions(collection_batch.key))
                     & set(context.instance.get_dynamic_partitions(photo_batches.name)))
    expected, without_table = faces_of_batches(batch_tables, batches)
    stored = set(store.graph.collection.face_ids())
    missing, extra = sorted(expected - stored), sorted(stored - expected)
    problems = [text for count, text in [
        (len(missing), f"{len(missing)} faces of the batches are not in the collection"),
        (len(extra), f"{len(extra)} faces in the collection come from no batch (indexed outside Dagster?)"),
        (len(without_table), f"{len(without_table)} batches have no batch_faces table"),
    ] if count]
    return AssetCheckResult(
        passed=not problems, severity=AssetCheckSeverity.ERROR,
        description="; ".join(problems) + ": rematerialise those batches, or rebuild the store from the tables "
                    "(collection_batch of every partition into an empty store)" if problems else None,
        metadata={
            "batches": len(batches),
            "faces_expected": len(expected),
            "faces_stored": len(stored),
            "missing_from_collection": missing[:SHOWN],
            "not_from_any_batch": extra[:SHOWN],
            "batches_without_table": without_table[:SHOWN],
        },
    )


class PersonAlarms(Config):
    largest_person_share: float = Field(0.5, description="Warn when one person holds more than this share of the "
                                                         "faces (people chained together).")
    singleton_share: float = Field(0.9, description="Warn when more than this share of the persons hold one face "
                                                    "(τ too strict: nothing groups).")
    min_faces: int = Field(50, description="Below this many faces the shares say nothing and are not judged.")


@asset_check(asset=persons, pool=STORE_POOL)
def person_shares_under_alarms(config: PersonAlarms, store: FaceCollection) -> AssetCheckResult:
    """The largest person's share of the faces and the share of single-face persons stay under their alarms."""
    shares = person_shares(store.graph)
    judged = shares["faces"] >= config.min_faces
    over = [name for name in ("largest_person_share", "singleton_share")
            if judged and shares[name] > getattr(config, name)]
    return AssetCheckResult(passed=not over, severity=AssetCheckSeverity.WARN, metadata={
        "faces": shares["faces"],
        "persons": shares["persons"],
        "largest_person_share": share(shares["largest_person_share"]),
        "singleton_share": share(shares["singleton_share"]),
        "alarms": {"largest_person_share": config.largest_person_share, "singleton_share": config.singleton_share},
        "over_alarm": over,
        "judged": judged,
    })
