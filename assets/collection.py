"""Stage 2: a batch's faces in the Qdrant collection, each new face given a person."""

import pyarrow as pa
from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from assets.partitions import photo_batches
from assets.resources import STORE_POOL, FaceCollection
from assets.tables import photos_from_table
from facegraph import clustering
from facegraph.persons import DEFAULT_METHOD, DEFAULT_THRESHOLD
from facegraph.store.base import FACES, PHOTOS


class ClusteringConfig(Config):
    """τ and method, shared by placing new faces and by the full recluster (defaults: the library's)."""

    threshold: float = Field(DEFAULT_THRESHOLD, description="τ: the cosine similarity at which faces are linked.")
    method: str = Field(DEFAULT_METHOD, description=f"Clustering method, one of {sorted(clustering.METHODS)}.")


@asset(partitions_def=photo_batches, group_name="collection", kinds={"qdrant"}, pool=STORE_POOL)
def collection_batch(context: AssetExecutionContext, config: ClusteringConfig, batch_faces: pa.Table,
                     store: FaceCollection) -> MaterializeResult:
    """The batch's faces in the Qdrant collection (photos already there are skipped); new faces get a person."""
    photos, errors = photos_from_table(batch_faces)
    graph = store.graph
    photos_before = graph.store.count(PHOTOS)
    new_faces = graph.add_photos(photos)
    graph.store.optimize()
    persons = {graph.assign_person(face_id, config.threshold, method=config.method) for face_id in new_faces}
    context.log.info(f"{len(new_faces)} new faces of {context.partition_key} in {store.where}, "
                     f"given to {len(persons)} persons")
    return MaterializeResult(metadata={
        "photos": len(photos),
        "photos_added": graph.store.count(PHOTOS) - photos_before,
        "faces_added": len(new_faces),
        "persons_given_faces": len(persons),
        "unreadable_photos": len(errors),
        "collection_faces": graph.store.count(FACES),
        "collection_photos": graph.store.count(PHOTOS),
        "store": store.where,
        "threshold": config.threshold,
        "method": config.method,
    })
