"""Stage 1: the faces of a photo batch, detected and embedded once, kept as a parquet table."""

import time
from dataclasses import asdict

import pyarrow as pa
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from assets.metadata import OWNERS, layer
from assets.partitions import fingerprint, photo_batches
from assets.resources import FaceModels, PhotoFolder
from assets.tables import column_schema, faces_table
from assets.versions import FACES_VERSION
from facegraph.collection import display_path
from facegraph.pipeline import PhotoError, PhotoFaces


@asset(partitions_def=photo_batches, io_manager_key="batch_tables", group_name="faces", kinds={"onnx", "parquet"},
       code_version=FACES_VERSION, owners=OWNERS, tags=layer("faces"),
       metadata={"dagster/column_schema": column_schema()})
def batch_faces(context: AssetExecutionContext, models: FaceModels, photos: PhotoFolder) -> Output[pa.Table]:
    """The faces of one photo batch: boxes, landmarks, scores and ArcFace embeddings, one row per face."""
    paths = photos.batch(context.partition_key)
    start = time.perf_counter()
    results: list[PhotoFaces | PhotoError] = []
    for result in models.pipeline.run(paths):
        results.append(result)
        if isinstance(result, PhotoError):
            context.log.warning(f"cannot read {result.path}: {result.reason}; skipped, the batch goes on")
        if len(results) % models.batch_size == 0 or len(results) == len(paths):
            context.log.info(f"{len(results)}/{len(paths)} photos of {context.partition_key}")
    seconds = time.perf_counter() - start
    read = [result for result in results if isinstance(result, PhotoFaces)]
    errors = [result for result in results if isinstance(result, PhotoError)]
    return Output(faces_table(results), metadata={
        "photos": len(paths),
        "faces": sum(len(photo.faces) for photo in read),
        "photos_without_faces": sum(not photo.faces for photo in read),
        "errors": len(errors),
        "unreadable": MetadataValue.json([{"path": display_path(e.path), "reason": e.reason} for e in errors]),
        "seconds": round(seconds, 3),  # reading, detecting and embedding are interleaved: one phase
        "photos_per_second": round(len(paths) / seconds, 2) if seconds else 0.0,
        "models": MetadataValue.json([asdict(model) for model in models.pipeline.models]),
        **{model.role: f"{model.family} ({model.file}, sha256 {model.sha256[:12]}…, {model.provider})"
           for model in models.pipeline.models},
        "photo_fingerprint": fingerprint(paths),
    })
