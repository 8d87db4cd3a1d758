"""Stage 2: a batch's faces in the Qdrant collection, each new face given a person."""

from dataclasses import fields
from pathlib import Path
from typing import Optional

import pyarrow as pa
from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field, create_model

from assets.metadata import OWNERS, layer, location, settings_metadata
from assets.partitions import photo_batches
from assets.resources import STORE_POOL, FaceCollection, PhotoFolder
from assets.tables import photos_from_table
from assets.versions import CLUSTERING_VERSION
from facegraph.cluster_settings import ClusterSettings

DEFAULT = ClusterSettings()


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


class _ClusterSettingsConfig(Config):
    def settings(self) -> ClusterSettings:
        return ClusterSettings(**self.model_dump())


_CONFIG_TYPES = {"str": str, "float": float, "int": int, "float | None": Optional[float], "bool | None": Optional[bool],
                 "tuple[float, float]": list[float]}  # Dagster's config has lists, not tuples
# `ClusterSettings` as run config, made from its fields (their defaults, the library's chosen by the sweeps, and
# their help), shared by placing new faces and by the full recluster.
ClusteringConfig = create_model(
    "ClusteringConfig", __base__=_ClusterSettingsConfig,
    **{spec.name: (_CONFIG_TYPES[spec.type], Field(_plain(getattr(DEFAULT, spec.name)), description=spec.metadata["help"]))
       for spec in fields(ClusterSettings)})


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
