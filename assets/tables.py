"""The faces of a batch as an Arrow table, and the IO manager that keeps such tables as parquet files.

One row per face; a photo without faces has one row with a null `face_id`; a photo that could not be read has one
row with a null `image_id` and its `error`. Rows keep the order of the pipeline's results, so a table turns back
into the very `PhotoFaces` it was made of, and reclustering or a new method never runs the models again.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dagster import (
    ConfigurableIOManager, InputContext, MetadataValue, OutputContext, TableColumn, TableColumnConstraints, TableSchema,
)
from pydantic import Field

from facegraph.pipeline import Face, PhotoError, PhotoFaces

# name, Arrow type, description: the table's columns, as the parquet files hold them and the UI shows them
COLUMNS = [
    ("path", pa.binary(), "The photo's path as the file system's bytes (os.fsencode): a name need not be UTF-8."),
    ("image_id", pa.string(), "First 16 hex digits of the SHA-256 of the file; null: the photo could not be read."),
    ("width", pa.int32(), "Width of the oriented photo, in pixels."),
    ("height", pa.int32(), "Height of the oriented photo, in pixels."),
    ("face_id", pa.string(), "{image_id}_face{n}; null: no face in the photo, or it could not be read."),
    ("bbox", pa.list_(pa.int32(), 4), "x1, y1, x2, y2 in full-size pixels."),
    ("landmarks", pa.list_(pa.float32(), 10), "Five (x, y) points: eyes, nose, mouth corners."),
    ("det_score", pa.float64(), "The detector's score."),
    ("quality_score", pa.float64(), "The embedding's norm before normalising (higher is a clearer face)."),
    ("embedding", pa.list_(pa.float32()), "The face embedding, unit length (512 float32 for the pinned ArcFace)."),
    ("error", pa.string(), "Why the photo could not be read; null for a photo that was read."),
]
SCHEMA = pa.schema([(name, type_) for name, type_, _ in COLUMNS])
NEVER_NULL = {"path"}  # every row is a photo; the other columns are null in some kind of row


def column_schema(schema: pa.Schema = SCHEMA) -> TableSchema:
    """The Arrow schema as Dagster's column schema (`dagster/column_schema`), with each known column described."""
    described = {name: description for name, _, description in COLUMNS}
    return TableSchema(columns=[
        TableColumn(field.name, str(field.type), description=described.get(field.name),
                    constraints=TableColumnConstraints(nullable=field.name not in NEVER_NULL))
        for field in schema
    ])


def faces_table(results: list[PhotoFaces | PhotoError]) -> pa.Table:
    """The table of a batch's pipeline results, in their order."""
    rows = []
    for result in results:
        if isinstance(result, PhotoError):
            rows.append({"path": os.fsencode(result.path), "error": result.reason})
            continue
        photo = {"path": os.fsencode(result.path), "image_id": result.image_id, "width": result.width, "height": result.height}
        rows.extend(photo | {
            "face_id": face.face_id,
            "bbox": [int(v) for v in face.bbox],
            "landmarks": np.asarray(face.landmarks, np.float32).ravel().tolist(),
            "det_score": face.det_score,
            "quality_score": face.quality_score,
            "embedding": np.asarray(face.embedding, np.float32).tolist(),
        } for face in result.faces)
        if not result.faces:
            rows.append(photo)
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def photos_from_table(table: pa.Table) -> tuple[list[PhotoFaces], list[PhotoError]]:
    """The photos read (with their faces) and the photos that could not be read, in the table's order."""
    photos: dict[str, PhotoFaces] = {}
    errors = []
    for row in table.to_pylist():
        path = os.fsdecode(row["path"])
        if row["image_id"] is None:
            errors.append(PhotoError(path, row["error"]))
            continue
        photo = photos.setdefault(path, PhotoFaces(path, row["image_id"], row["width"], row["height"]))
        if row["face_id"] is not None:
            photo.faces.append(Face(
                face_id=row["face_id"],
                image_id=row["image_id"],
                bbox=tuple(row["bbox"]),
                landmarks=np.asarray(row["landmarks"], np.float32).reshape(5, 2),
                det_score=row["det_score"],
                embedding=np.asarray(row["embedding"], np.float32),
                quality_score=row["quality_score"],
            ))
    return list(photos.values()), errors


def face_rows(table: pa.Table) -> pa.Table:
    """Only the rows that are faces."""
    return table.filter(pc.is_valid(table["face_id"]))


def embedding_matrix(table: pa.Table) -> np.ndarray:
    """The embeddings of a table's faces as an (n, d) float32 array."""
    column = face_rows(table)["embedding"].combine_chunks()
    if len(column) == 0:
        return np.zeros((0, 0), np.float32)
    return column.values.to_numpy(zero_copy_only=False).reshape(len(column), -1)


class BatchTableIOManager(ConfigurableIOManager):
    """Arrow tables as parquet files, `<base_dir>/<asset key>/<partition key>.parquet`."""

    base_dir: str = Field(description="Folder that holds the parquet files, one per asset partition.")

    def path(self, asset_key: list[str], partition_key: str | None = None) -> Path:
        folder = Path(self.base_dir).joinpath(*asset_key)
        return folder / f"{partition_key}.parquet" if partition_key is not None else folder.with_suffix(".parquet")

    def read(self, asset_key: list[str], partition_key: str | None = None,
             columns: list[str] | None = None) -> pa.Table:
        """One stored table (only `columns`, if given)."""
        path = self.path(asset_key, partition_key)
        if not path.is_file():
            raise FileNotFoundError(f"no table at {path}: materialise {'/'.join(asset_key)} "
                                    f"{partition_key or ''} first".rstrip())
        return pq.read_table(path, columns=columns)

    def handle_output(self, context: OutputContext, obj: pa.Table) -> None:
        key = context.asset_partition_key if context.has_asset_partitions else None
        path = self.path(context.asset_key.path, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")  # readers never see half a file
        pq.write_table(obj, partial)
        os.replace(partial, path)
        context.add_output_metadata({
            "table": MetadataValue.path(str(path)),
            "dagster/row_count": obj.num_rows,
            "dagster/column_schema": column_schema(obj.schema),
        })

    def load_input(self, context: InputContext) -> pa.Table:
        keys = context.asset_partition_keys if context.has_asset_partitions else [None]
        return pa.concat_tables([self.read(context.asset_key.path, key) for key in keys])
