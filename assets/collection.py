"""Stage 2: a batch's faces in the Qdrant collection, each new face given a person."""

from pathlib import Path

import pyarrow as pa
from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from assets.metadata import OWNERS, layer, location, settings_metadata
from assets.partitions import photo_batches
from assets.resources import STORE_POOL, FaceCollection, PhotoFolder
from assets.tables import photos_from_table
from assets.versions import CLUSTERING_VERSION
from facegraph.cluster_settings import METHOD_NAMES, ClusterSettings

DEFAULT = ClusterSettings()


class ClusteringConfig(Config):
    """`facegraph.cluster_settings.ClusterSettings` as run config, shared by placing new faces and by the full recluster
    (defaults: the library's, chosen by the sweeps)."""

    method: str = Field(DEFAULT.method, description=f"Clustering method, one of {sorted(METHOD_NAMES)}.")
    threshold: float = Field(DEFAULT.threshold, description="τ: the cosine similarity at which faces are linked.")
    neighbours: int = Field(DEFAULT.neighbours, description="Nearest faces each face links to, at most.")
    min_neighbours: int = Field(DEFAULT.min_neighbours, description='Neighbours that make a core face (method '
                                                                    '"density" only).')
    resolution: float = Field(DEFAULT.resolution, description='CPM resolution (method "leiden" only).')
    merge_threshold: float | None = Field(DEFAULT.merge_threshold, description="Second pass: merge persons that are "
                                          "each other's nearest with mean directions this alike (none: no pass).")
    connect_threshold: float | None = Field(DEFAULT.connect_threshold, description='The similarity an edge needs '
                                            'to connect two faces before the average decides (method "average" '
                                            'only; none: τ).')
    poor_threshold: float | None = Field(DEFAULT.poor_threshold, description="Quality-aware linking: the bar for "
                                         "a pair of poor faces (none: every pair is held to τ).")
    quality_range: list[float] = Field(list(DEFAULT.quality_range), description="quality_score of a poor face and "
                                       "of a clear one, between which the bar rises from poor_threshold to τ.")

    def settings(self) -> ClusterSettings:
        return ClusterSettings(**self.model_dump())


@asset(partitions_def=photo_batches, group_name="collection", kinds={"qdrant"}, pool=STORE_POOL,
       code_version=CLUSTERING_VERSION, owners=OWNERS, tags=layer("collection"))
def collection_batch(context: AssetExecutionContext, config: ClusteringConfig, batch_faces: pa.Table,
                     store: FaceCollection, photos: PhotoFolder) -> MaterializeResult:
    """The batch's faces in the Qdrant collection (photos already there are skipped); new faces get a person."""
    read, errors = photos_from_table(batch_faces)
    graph = store.graph
    settings = config.settings()
    # the batch is the photos directly in its folder: those that vanished from it leave (moved ones keep faces)
    synced = [graph.sync_folder(folder, recursive=False, allow_mass_removal=photos.allow_mass_removal)
              for folder in sorted({str(Path(p.path).resolve().parent) for p in [*read, *errors]})]
    report = graph.add_photos(read, assign=True, settings=settings)
    persons = graph.collection.persons_of_faces(report.new_face_ids)
    context.log.info(f"{len(report.new_face_ids)} new faces of {context.partition_key} in {store.where}, "
                     f"given to {len(persons)} persons")
    return MaterializeResult(metadata={
        "photos": len(read),
        "photos_added": report.indexed,
        "faces_added": len(report.new_face_ids),
        "persons_given_faces": len(persons),
        "unreadable_photos": len(errors),
        "photos_moved": sum(r.moved for r in synced),
        "photos_removed": sum(r.removed_photos for r in synced),
        "collection_faces": graph.collection.face_count(),
        "collection_photos": graph.collection.photo_count(),
        "store": location(store.where),
        **settings_metadata(settings),
    })
