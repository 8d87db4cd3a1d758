"""The whole asset graph, materialised in-process on five_celebs with the real models and the embedded store."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from dagster import (
    AssetCheckSeverity, AssetKey, FloatMetadataValue, IntMetadataValue, PathMetadataValue, TableSchemaMetadataValue,
    instance_for_test,
)

from assets.checks import PersonAlarms
from assets.collection import ClusteringConfig
from assets.partitions import photo_batches
from assets.tables import SCHEMA
from assets.versions import CLUSTERING_VERSION, FACES_VERSION
from dagster_project.definitions import build_definitions
from dagster_project.resources import DagsterSettings
from facegraph.images import read_photo
from facegraph.cluster_settings import ClusterSettings
from facegraph.persons import FaceGraph
from facegraph.store.base import FACES

IDENTITIES = ["Ben_Affleck", "Elton_John", "Jerry_Seinfeld", "Madonna", "Mindy_Kaling"]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def definitions(data_dir, photos, store, **settings):
    return build_definitions(DagsterSettings(data=data_dir, photos=photos, store=store, qdrant_url=None, **settings))


def run(defs, job, instance, run_config=None, **kwargs):
    return defs.resolve_job_def(job).execute_in_process(instance=instance, run_config={**QUIET, **(run_config or {})},
                                                        **kwargs)


def materialise_all(defs, instance) -> dict:
    """Every batch through `photo_batch`, then `recluster`: what `run_all` does."""
    keys = list(defs.resources["photos"].batches())
    instance.add_dynamic_partitions(photo_batches.name, keys)
    return {"batches": {key: run(defs, "photo_batch", instance, partition_key=key) for key in keys},
            "recluster": run(defs, "recluster", instance)}


def persons_of(store) -> dict[str, str]:
    """face_id -> person_id, read from the store after the runs closed it."""
    with FaceGraph(store) as graph:
        return {p.payload["face_id"]: p.payload["person_id"] for p in graph.store.scroll(FACES)}


def metadata(result, node: str) -> dict:
    [materialization] = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in materialization.metadata.items()}


@pytest.fixture(scope="module")
def graph(datasets, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("graph")
    defs = definitions(data_dir, datasets / "five_celebs", data_dir / "store")
    with instance_for_test() as instance:
        runs = materialise_all(defs, instance)
        yield SimpleNamespace(data_dir=data_dir, photos=datasets / "five_celebs", defs=defs, instance=instance,
                              persons=persons_of(data_dir / "store"), **runs)


def test_each_identity_folder_is_one_partition(graph):
    expected = [f"five_celebs/{name}" for name in IDENTITIES]
    assert sorted(graph.instance.get_dynamic_partitions(photo_batches.name)) == expected
    assert sorted(graph.batches) == expected
    assert all(result.success for result in graph.batches.values())


def test_batch_faces_are_a_parquet_table_per_batch_with_its_counts(graph):
    tables = graph.defs.resources["batch_tables"]
    for key, result in graph.batches.items():
        faces = metadata(result, "batch_faces")
        table = tables.read(["batch_faces"], key)
        assert faces["photos"] == len(list((graph.photos / key.split("/")[1]).iterdir()))
        assert faces["faces"] == sum(face_id is not None for face_id in table["face_id"].to_pylist()) > 0
        assert faces["errors"] == 0
        assert {model["role"] for model in faces["models"]} == {"detector", "embedder"}
        assert all(len(model["sha256"]) == 64 and model["provider"] for model in faces["models"])


def test_batch_faces_record_their_column_schema_table_path_and_seconds(graph):
    for key, result in graph.batches.items():
        [materialization] = result.asset_materializations_for_node("batch_faces")
        recorded = materialization.metadata
        schema = recorded["dagster/column_schema"]
        assert isinstance(schema, TableSchemaMetadataValue)
        assert [column.name for column in schema.schema.columns] == SCHEMA.names
        assert schema.schema.columns[0].name == "path" and schema.schema.columns[0].type == "binary"
        assert isinstance(recorded["table"], PathMetadataValue)
        assert Path(recorded["table"].path) == graph.defs.resources["batch_tables"].path(["batch_faces"], key)
        assert isinstance(recorded["dagster/row_count"], IntMetadataValue)
        assert isinstance(recorded["seconds"], FloatMetadataValue) and recorded["seconds"].value > 0
        assert isinstance(recorded["photos"], IntMetadataValue)


def test_materialisations_record_the_code_versions(graph):
    for key, version in {"batch_faces": FACES_VERSION, "collection_batch": CLUSTERING_VERSION,
                         "persons": CLUSTERING_VERSION}.items():
        [record] = graph.instance.fetch_materializations(AssetKey(key), limit=1).records
        assert record.asset_materialization.tags["dagster/code_version"] == version, key


def test_a_changed_detection_setting_makes_the_batches_stale(graph):
    from dagster._core.definitions.data_version import StaleStatus  # no public API: Dagster's own test helper
    from dagster._utils.test.data_versions import get_stale_status_resolver

    key = sorted(graph.batches)[0]
    faces = AssetKey("batch_faces")
    assert get_stale_status_resolver(graph.instance, graph.defs.assets).get_status(faces, key) == StaleStatus.FRESH
    changed = build_definitions(DagsterSettings(data=graph.data_dir, photos=graph.photos, store=graph.data_dir / "store",
                                                qdrant_url=None, score_threshold=0.6))
    stale = get_stale_status_resolver(graph.instance, changed.assets)
    assert stale.get_status(faces, key) == StaleStatus.STALE
    assert [cause.category.name for cause in stale.get_stale_causes(faces, key)] == ["CODE"]


def test_a_batch_rematerialised_with_other_settings_makes_its_collection_batch_stale(datasets, tmp_path):
    from dagster._core.definitions.data_version import StaleStatus  # no public API: Dagster's own test helper
    from dagster._utils.test.data_versions import get_stale_status_resolver

    photos = tmp_path / "photos"
    (photos / "Madonna").mkdir(parents=True)
    for photo in sorted((datasets / "five_celebs" / "Madonna").iterdir())[:2]:
        (photos / "Madonna" / photo.name).symlink_to(photo)
    collection = AssetKey("collection_batch")
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(photo_batches.name, ["photos/Madonna"])
        run(definitions(tmp_path, photos, tmp_path / "store"), "photo_batch", instance, partition_key="photos/Madonna")
        changed = build_definitions(DagsterSettings(data=tmp_path, photos=photos, store=tmp_path / "store",
                                                    qdrant_url=None, score_threshold=0.6))
        run(changed, "photo_batch", instance, partition_key="photos/Madonna", asset_selection=[AssetKey("batch_faces")])
        resolver = get_stale_status_resolver(instance, changed.assets)
        assert resolver.get_status(AssetKey("batch_faces"), "photos/Madonna") == StaleStatus.FRESH
        assert resolver.get_status(collection, "photos/Madonna") == StaleStatus.STALE
        [cause] = resolver.get_stale_causes(collection, "photos/Madonna")
        assert cause.category.name == "DATA" and cause.dependency.asset_key == AssetKey("batch_faces")


def test_every_check_passes_on_the_dataset(graph):
    evaluations = [e for result in [*graph.batches.values(), graph.recluster]
                   for e in result.get_asset_check_evaluations()]
    assert {e.check_name for e in evaluations} == {
        "embeddings_are_unit_vectors", "collection_holds_the_batches", "person_shares_under_alarms"}
    assert len(evaluations) == 2 * len(IDENTITIES) + 1
    assert all(e.passed for e in evaluations), [e for e in evaluations if not e.passed]


def test_persons_record_their_settings_and_shares(graph):
    persons = metadata(graph.recluster, "persons")
    default = ClusterSettings().parameters()
    assert {key: persons[key] for key in ("method", "threshold", "neighbours")} == {
        key: default[key] for key in ("method", "threshold", "neighbours")}
    assert persons["faces"] == len(graph.persons)
    assert persons["persons"] == len(set(graph.persons.values()))
    assert len(IDENTITIES) <= persons["persons"] < persons["faces"]
    assert 0 < persons["largest_person_share"] < 0.5
    gallery = metadata(graph.recluster, "person_gallery")["path"]
    assert f"<h1>{persons['persons']} persons</h1>" in open(gallery, encoding="utf-8").read()


def test_persons_record_each_phase_in_seconds_as_a_float_and_shares_to_four_places(graph):
    [materialization] = graph.recluster.asset_materializations_for_node("persons")
    recorded = materialization.metadata
    seconds = {key: value for key, value in recorded.items() if key.startswith("seconds")}
    assert {"seconds", "seconds_read", "seconds_neighbour_graph", "seconds_clustering"} <= set(seconds)
    assert all(isinstance(value, FloatMetadataValue) for value in seconds.values()), seconds
    for name in ("largest_person_share", "singleton_share"):
        assert isinstance(recorded[name], FloatMetadataValue) and recorded[name].value == round(recorded[name].value, 4)
    assert isinstance(recorded["store"], PathMetadataValue)
    assert recorded["store"].path == str((graph.data_dir / "store").resolve())


def test_settings_are_recorded_under_their_run_config_names(graph):
    config_names = set(ClusteringConfig.model_fields)
    setting_names = set(ClusterSettings().to_dict())
    recorded_by = [("persons", graph.recluster)] + [("collection_batch", result) for result in graph.batches.values()]
    for node, result in recorded_by:
        recorded = metadata(result, node)
        settings = {key: value for key, value in recorded.items() if key in setting_names}
        assert settings == ClusterSettings().parameters(), node  # every setting that shaped the result, by its name
        assert set(settings) <= config_names
        assert {key for key in recorded if "threshold" in key or "tau" in key} <= config_names, node
    [check] = graph.recluster.get_asset_check_evaluations()
    assert set(check.metadata["alarms"].value) <= set(PersonAlarms.model_fields)
    assert {"largest_person_share", "singleton_share"} <= set(check.metadata)


def test_rematerialising_gives_the_same_persons_and_ids(graph):
    again = materialise_all(graph.defs, graph.instance)
    assert all(result.success for result in [*again["batches"].values(), again["recluster"]])
    assert metadata(again["recluster"], "persons")["faces_rewritten"] == 0
    assert persons_of(graph.data_dir / "store") == graph.persons


def test_a_new_store_built_from_the_tables_gives_the_same_persons_and_ids_without_the_models(graph):
    store = graph.data_dir / "store_from_tables"
    defs = definitions(graph.data_dir, graph.photos, store)
    with instance_for_test() as instance:
        keys = sorted(graph.batches)
        instance.add_dynamic_partitions(photo_batches.name, keys)
        for key in keys:
            result = run(defs, "photo_batch", instance, partition_key=key,
                         asset_selection=[AssetKey("collection_batch")])
            assert [m.asset_key for m in result.get_asset_materialization_events()] == [AssetKey("collection_batch")]
        run(defs, "recluster", instance)
    assert persons_of(store) == graph.persons


def test_singleton_alarm_at_zero_warns_and_the_gallery_is_still_made(graph):
    alarm = {"ops": {"persons_person_shares_under_alarms": {"config": {"singleton_share": 0.0}}}}
    result = run(graph.defs, "recluster", graph.instance, run_config=alarm)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["over_alarm"].value == ["singleton_share"]
    assert result.asset_materializations_for_node("person_gallery")


def test_a_face_from_no_batch_fails_the_collection_check_and_blocks_persons(graph, default_pipeline):
    store = graph.data_dir / "store_with_stray"
    shutil.copytree(graph.data_dir / "store", store)
    photo = read_photo(sorted((graph.photos / "Madonna").iterdir())[0])
    [stray] = default_pipeline.run_arrays([np.ascontiguousarray(photo.pixels[:, ::-1])])  # mirrored: new content
    with FaceGraph(store) as other:
        stray_faces = other.add_photos([stray]).new_face_ids  # indexed outside Dagster
    assert stray_faces
    defs = definitions(graph.data_dir, graph.photos, store)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=graph.instance, partition_key="five_celebs/Madonna", run_config=QUIET, raise_on_error=False,
        asset_selection=[AssetKey("collection_batch"), AssetKey("persons")])
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "collection_holds_the_batches"]
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert evaluation.metadata["not_from_any_batch"].value == sorted(stray_faces)
    assert not result.asset_materializations_for_node("persons")
    assert not result.success  # a blocking check that fails with ERROR fails its run


def three_folders_materialised(datasets, tmp_path, instance):
    """A photo folder of three batch folders of 5 photos each, that a test may change, materialised in `instance`:
    the folder, the definitions and each face's person."""
    photos = tmp_path / "photos"
    for who in ("Madonna", "Elton_John", "Ben_Affleck"):
        (photos / who).mkdir(parents=True)
        for photo in sorted((datasets / "five_celebs" / who).iterdir())[:5]:
            shutil.copy(photo, photos / who / photo.name)
    defs = definitions(tmp_path, photos, tmp_path / "store")
    materialise_all(defs, instance)
    return photos, defs, persons_of(tmp_path / "store")


def test_photos_gone_from_the_folder_leave_the_collection_and_moved_ones_keep_their_faces(datasets, tmp_path):
    from facegraph.collection import photo_path

    with instance_for_test() as instance:
        photos, defs, before = three_folders_materialised(datasets, tmp_path, instance)
        shutil.rmtree(photos / "Ben_Affleck")  # a whole folder gone: its batch never runs again
        deleted = sorted((photos / "Madonna").iterdir())[0]
        deleted.unlink()
        moved = sorted((photos / "Elton_John").iterdir())[0]
        moved.rename(photos / "Elton_John" / "renamed.jpg")
        keys = list(defs.resources["photos"].batches())
        assert len(keys) == 2
        batch = run(defs, "photo_batch", instance, partition_key="photos/Madonna")
        assert metadata(batch, "collection_batch")["photos_removed"] == 1  # the batch's own folder, synced
        recluster = run(defs, "recluster", instance)
        assert metadata(recluster, "persons")["photos_removed"] == 5  # the vanished folder, synced by the recluster
        assert metadata(recluster, "persons")["photos_moved"] == 1
    after = persons_of(tmp_path / "store")
    with FaceGraph(tmp_path / "store") as graph:
        paths = {photo_path(p.payload) for p in graph.store.scroll("photos")}
    assert str(photos / "Elton_John" / "renamed.jpg") in paths and str(moved) not in paths
    assert len(paths) == 15 - 6 and set(after) < set(before)


def test_a_recluster_removes_nothing_when_most_of_the_photo_folder_is_gone_unless_allowed(datasets, tmp_path):
    with instance_for_test() as instance:
        photos, defs, before = three_folders_materialised(datasets, tmp_path, instance)
        shutil.move(photos / "Madonna", tmp_path / "away_1")  # two of three batch folders gone (a share half mounted?)
        shutil.move(photos / "Elton_John", tmp_path / "away_2")
        refused = run(defs, "recluster", instance, raise_on_error=False)
        assert not refused.success and not refused.asset_materializations_for_node("persons")
        [failure] = [e for e in refused.all_events if e.event_type_value == "STEP_FAILURE"]
        assert "SyncRefusedError" in str(failure.event_specific_data.error) and "10 of the 15 photos" in str(failure.event_specific_data.error)
        assert persons_of(tmp_path / "store") == before
        allowed = definitions(tmp_path, photos, tmp_path / "store", allow_mass_removal=True)
        assert metadata(run(allowed, "recluster", instance), "persons")["photos_removed"] == 10
