"""The photo folder sensor: new folders become partitions and runs, changed folders run again, the rest waits."""

import json

import pytest
from dagster import build_sensor_context, instance_for_test

from assets.partitions import photo_batches
from dagster_project.definitions import build_definitions
from dagster_project.resources import DagsterSettings
from dagster_project.sensors import cursor_of, photo_folder_sensor, store_cursor, stored_cursor, stored_state


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def photos(datasets, tmp_path):
    """A photo folder of two identity folders, two photos each, linked from the dataset (never copied)."""
    root = tmp_path / "photos"
    for identity in ("Ben_Affleck", "Madonna"):
        link(datasets, root, identity, 2)
    return root


def link(datasets, root, identity, count, start=0):
    (root / identity).mkdir(parents=True, exist_ok=True)
    for photo in sorted((datasets / "five_celebs" / identity).iterdir())[start : start + count]:
        (root / identity / photo.name).symlink_to(photo)


def tick(instance, root, cursor=None):
    """One evaluation, with its partition requests applied as the daemon would."""
    defs = build_definitions(DagsterSettings(data=root.parent / "data", photos=root, qdrant_url=None))
    context = build_sensor_context(instance=instance, instance_ref=instance.get_ref(), cursor=cursor,
                                   definitions=defs, resources={"photos": defs.resources["photos"]})
    result = photo_folder_sensor.evaluate_tick(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def test_new_folders_become_partitions_and_runs(instance, photos):
    result = tick(instance, photos)
    [added] = result.dynamic_partitions_requests
    assert added.partitions_def_name == photo_batches.name
    assert list(added.partition_keys) == ["photos/Ben_Affleck", "photos/Madonna"]
    assert [r.partition_key for r in result.run_requests] == ["photos/Ben_Affleck", "photos/Madonna"]
    assert sorted(json.loads(result.cursor)) == ["photos/Ben_Affleck", "photos/Madonna"]


def test_nothing_new_skips(instance, photos):
    first = tick(instance, photos)
    second = tick(instance, photos, first.cursor)
    assert not second.run_requests and not second.dynamic_partitions_requests
    assert "no new, changed or vanished photo batches" in second.skip_message


def test_a_new_folder_is_picked_up(instance, photos, datasets):
    first = tick(instance, photos)
    link(datasets, photos, "Elton_John", 3)
    second = tick(instance, photos, first.cursor)
    [added] = second.dynamic_partitions_requests
    assert list(added.partition_keys) == ["photos/Elton_John"]
    assert [r.partition_key for r in second.run_requests] == ["photos/Elton_John"]
    assert "photos/Elton_John" in instance.get_dynamic_partitions(photo_batches.name)


def test_a_changed_folder_runs_again_without_a_new_partition(instance, photos, datasets):
    first = tick(instance, photos)
    link(datasets, photos, "Madonna", 1, start=2)
    second = tick(instance, photos, first.cursor)
    assert not second.dynamic_partitions_requests
    assert [r.partition_key for r in second.run_requests] == ["photos/Madonna"]
    assert second.run_requests[0].run_key != first.run_requests[1].run_key


def test_a_vanished_folder_requests_a_recluster_that_removes_its_photos(instance, photos):
    import shutil

    first = tick(instance, photos)
    shutil.rmtree(photos / "Ben_Affleck")
    second = tick(instance, photos, first.cursor)
    [request] = second.run_requests
    assert request.job_name == "recluster" and request.run_key == "gone:photos/Ben_Affleck"
    assert sorted(json.loads(second.cursor)) == ["photos/Madonna"]
    assert tick(instance, photos, second.cursor).skip_message  # asked once


def test_a_stored_cursor_is_where_the_next_tick_starts(instance, photos):
    first = tick(instance, photos)
    assert stored_cursor(instance) is None and stored_state(instance) is None
    store_cursor(instance, first.cursor)
    state = stored_state(instance)
    assert not state.is_running and state.instigator_data.min_interval == photo_folder_sensor.minimum_interval_seconds
    assert tick(instance, photos, stored_cursor(instance)).skip_message  # nothing new since


def test_storing_a_cursor_keeps_a_running_sensor_running(instance, photos):
    from dagster._core.scheduler.instigation import InstigatorStatus

    store_cursor(instance, cursor_of({}))
    instance.update_instigator_state(stored_state(instance).with_status(InstigatorStatus.RUNNING))
    store_cursor(instance, cursor_of({"photos/Madonna": "0123456789abcdef"}))
    assert stored_state(instance).is_running
    assert json.loads(stored_cursor(instance)) == {"photos/Madonna": "0123456789abcdef"}
    assert len(instance.all_instigator_state()) == 1
