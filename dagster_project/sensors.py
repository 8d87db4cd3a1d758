"""The photo folder sensor: a partition for every new folder of photos, a run for every new or changed one.

Its cursor is a JSON map of batch key -> `assets.partitions.fingerprint` of the batch's photos. `store_cursor`
writes one into a Dagster instance as `dagster sensor cursor --set` would, so a sensor turned on after `run_all`
starts from the batches that command ran instead of running every folder again.
"""

from __future__ import annotations

import json
from pathlib import Path

from dagster import DagsterInstance, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from assets.partitions import fingerprint, photo_batches
from assets.resources import PhotoFolder
from dagster_project.jobs import photo_batch_job, recluster_job
from dagster_project.resources import PROJECT_DIR

WORKSPACE_FILE = PROJECT_DIR / "workspace.yaml"


@sensor(jobs=[photo_batch_job, recluster_job], minimum_interval_seconds=60,
        description="Watches the photo folder (at most once a minute): a partition and a photo_batch run for each "
                    "new or changed folder of photos, a recluster run when a whole batch folder is gone.")
def photo_folder_sensor(context: SensorEvaluationContext, photos: PhotoFolder) -> SensorResult | SkipReason:
    """Watch the photo folder: add a partition per new batch, request a run per new or changed batch (a changed
    batch's run also removes its photos that are gone), and a recluster when a whole batch folder is gone (the
    recluster removes the photos gone from the photo folder).

    The cursor is a JSON map of batch key -> fingerprint of its photos (names, sizes, modification times) as of
    the last tick; a batch whose fingerprint differs from it is run again.
    """
    seen = json.loads(context.cursor) if context.cursor else {}
    current = {key: fingerprint(paths) for key, paths in photos.batches().items()}
    new_partitions = sorted(set(current) - set(context.instance.get_dynamic_partitions(photo_batches.name)))
    due = sorted(key for key, print_ in current.items() if seen.get(key) != print_)
    vanished = sorted(set(seen) - set(current))
    if not due and not new_partitions and not vanished:
        return SkipReason(f"no new, changed or vanished photo batches in {photos.root()}")
    context.log.info(f"{len(new_partitions)} new partitions, runs for {len(due)} new or changed batches, "
                     f"{len(vanished)} batch folders gone, in {photos.root()}")
    recluster = [RunRequest(job_name=recluster_job.name, run_key="gone:" + ",".join(vanished))] if vanished else []
    return SensorResult(
        run_requests=[RunRequest(partition_key=key, run_key=f"{key}@{current[key]}", job_name=photo_batch_job.name)
                      for key in due] + recluster,
        dynamic_partitions_requests=[photo_batches.build_add_request(new_partitions)] if new_partitions else [],
        cursor=cursor_of(current),
    )


def cursor_of(fingerprints: dict[str, str]) -> str:
    """The sensor's cursor for these batch key -> fingerprint pairs."""
    return json.dumps(fingerprints, sort_keys=True)


def _sensor_origin(workspace: Path):
    """Where the sensor comes from, as `dagster dev -w <workspace>` names it: its code location (from the
    workspace file) and the single repository of a `Definitions`."""
    from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    [location] = WorkspaceFileTarget(paths=[str(workspace)]).create_origins()
    return RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME).get_instigator_origin(photo_folder_sensor.name)


def stored_state(instance: DagsterInstance, workspace: Path = WORKSPACE_FILE):
    """The sensor's state in `instance` (status and cursor), or None if it was never started nor given a cursor."""
    origin = _sensor_origin(workspace)
    return instance.get_instigator_state(origin.get_id(), origin.get_selector().get_id())


def stored_cursor(instance: DagsterInstance, workspace: Path = WORKSPACE_FILE) -> str | None:
    """The cursor the sensor's next tick in `instance` starts from."""
    state = stored_state(instance, workspace)
    return state.instigator_data.cursor if state is not None and state.instigator_data else None


def store_cursor(instance: DagsterInstance, cursor: str, workspace: Path = WORKSPACE_FILE) -> None:
    """Set the sensor's cursor in `instance`, as `dagster sensor cursor photo_folder_sensor --set` does, without
    loading the code location: a new state is stopped (the sensor stays off until turned on); an existing one
    keeps its status and history.

    Dagster has no public call for this; the state is found by its selector (code location, repository, sensor
    name), which is what the UI and the daemon look it up by."""
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus, SensorInstigatorData

    state = stored_state(instance, workspace)
    if state is None:
        instance.add_instigator_state(InstigatorState(
            _sensor_origin(workspace), InstigatorType.SENSOR, InstigatorStatus.STOPPED,
            SensorInstigatorData(min_interval=photo_folder_sensor.minimum_interval_seconds, cursor=cursor,
                                 sensor_type=photo_folder_sensor.sensor_type),
        ))
    else:
        data = state.instigator_data or SensorInstigatorData(sensor_type=photo_folder_sensor.sensor_type)
        instance.update_instigator_state(state.with_data(data._replace(
            cursor=cursor, min_interval=photo_folder_sensor.minimum_interval_seconds)))
