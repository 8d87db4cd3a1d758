"""The batch table: pipeline results to Arrow and back, without loss."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from assets.tables import (
    SCHEMA, BatchTableIOManager, column_schema, embedding_matrix, face_rows, faces_table, photos_from_table,
)
from facegraph.pipeline import PhotoError, PhotoFaces


@pytest.fixture
def results(default_pipeline, datasets, broken_files, tmp_path):
    """Real results: three photos with faces (one with a name that is not UTF-8), one without, one unreadable."""
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 150), (120, 140, 160)).save(blank)
    photos = sorted((datasets / "five_celebs" / "Madonna").iterdir())[:3]
    odd = os.fsdecode(bytes(tmp_path) + b"/caf\xe9.jpg")
    shutil.copy(photos.pop(), odd)
    return list(default_pipeline.run([*photos, odd, blank, broken_files["notes.jpg"]]))


def test_table_turns_back_into_the_same_photos(results):
    photos, errors = photos_from_table(faces_table(results))
    assert errors == [r for r in results if isinstance(r, PhotoError)]
    expected = [r for r in results if isinstance(r, PhotoFaces)]
    assert [(p.path, p.image_id, p.width, p.height) for p in photos] == \
           [(p.path, p.image_id, p.width, p.height) for p in expected]
    for got, want in zip(photos, expected):
        assert len(got.faces) == len(want.faces)
        for a, b in zip(got.faces, want.faces):
            assert (a.face_id, a.bbox, a.det_score) == (b.face_id, b.bbox, b.det_score)
            assert a.quality_score == b.quality_score
            np.testing.assert_array_equal(a.embedding, b.embedding)
            np.testing.assert_allclose(a.landmarks, b.landmarks, rtol=1e-6)


def test_photos_without_faces_and_unreadable_photos_keep_a_row(results):
    table = faces_table(results)
    rows = table.to_pylist()
    blank = [row for row in rows if row["path"].endswith(b"blank.png")]
    broken = [row for row in rows if row["path"].endswith(b"notes.jpg")]
    assert len(blank) == 1 and blank[0]["image_id"] and blank[0]["face_id"] is None
    assert len(broken) == 1 and broken[0]["image_id"] is None and broken[0]["error"]
    faces = sum(len(r.faces) for r in results if isinstance(r, PhotoFaces))
    assert face_rows(table).num_rows == faces == len(embedding_matrix(table))
    assert embedding_matrix(table).shape[1] == 512


def test_a_missing_table_says_what_to_materialise(tmp_path):
    tables = BatchTableIOManager(base_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="materialise batch_faces photos/a first"):
        tables.read(["batch_faces"], "photos/a")


def test_column_schema_describes_every_column_of_the_table():
    schema = column_schema()
    assert [column.name for column in schema.columns] == SCHEMA.names
    columns = {column.name: column for column in schema.columns}
    assert columns["path"].type == "binary" and not columns["path"].constraints.nullable  # file-system bytes
    assert columns["embedding"].type == "list<item: float>" and columns["face_id"].constraints.nullable
    assert all(column.description for column in schema.columns)
