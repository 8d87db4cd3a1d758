"""Materialise the whole asset graph in this process and print a summary: the README's first command.

    python -m dagster_project.run_all [--photos DIR] [--data-dir DIR]

Every photo batch of the folder becomes a partition and runs the `photo_batch` job (faces, then the collection),
then `recluster` makes the persons and the gallery. The runs go to the Dagster instance in `$DAGSTER_HOME`, else
`<data dir>/dagster` (made on first use from `dagster_project/dagster.yaml`), so `dagster dev` shows them after.

The command it prints to open the UI sets every `FACEGRAPH_*` setting this run used (the photo folder, the data
folder, and whichever others were given), so the UI's resources and the photo folder sensor see the same folder and
store. The sensor's cursor in the instance is set to the batches just run (their fingerprints as `batch_faces`
recorded them): turned on, the sensor requests only what changes from then on.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import click
from dagster import DagsterInstance

from assets.partitions import photo_batches
from dagster_project.definitions import build_definitions
from dagster_project.resources import API_KEY_ENV, DagsterSettings
from dagster_project.sensors import WORKSPACE_FILE, cursor_of, store_cursor

INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.yaml")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # this command prints its own progress


def open_instance(settings: DagsterSettings) -> tuple[DagsterInstance, Path]:
    """The instance of `$DAGSTER_HOME`, else of `<data dir>/dagster`, made from the template if new."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(INSTANCE_TEMPLATE, home / "dagster.yaml")
    return DagsterInstance.from_config(str(home)), home


def failure_of(result) -> str:
    """The innermost error of the first failed step, as `step: message`, and the checks that failed."""
    event = result.get_step_failure_events()[0]
    error = event.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    return "\n".join([f"{event.step_key}: {error.message.strip()}", *map(describe, failed_checks(result))])


def failed_checks(result) -> list:
    return [check for check in result.get_asset_check_evaluations() if not check.passed]


def describe(check) -> str:
    where = " ".join(filter(None, [check.asset_key.to_user_string(), check.partition]))
    reason = f": {check.description}" if check.description else ""
    return f"check {check.check_name} of {where} failed ({check.severity.value}){reason}"


def metadata_of(result, node: str) -> dict:
    [materialization] = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in materialization.metadata.items()}


def run_batches(defs, instance, batches: dict) -> tuple[dict, list, dict]:
    """Each batch through `photo_batch`, with progress and an estimate; totals, the checks that failed and each
    batch's fingerprint as its run read it."""
    totals, failed, start = {"photos": 0, "faces": 0, "errors": 0}, [], time.perf_counter()
    fingerprints = {}
    known = set(instance.get_dynamic_partitions(photo_batches.name))
    instance.add_dynamic_partitions(photo_batches.name, [key for key in batches if key not in known])
    for n, key in enumerate(batches, 1):
        result = defs.resolve_job_def("photo_batch").execute_in_process(
            partition_key=key, instance=instance, run_config=QUIET, raise_on_error=False)
        if not result.success:
            raise click.ClickException(f"batch {key} failed: {failure_of(result)}")
        failed += failed_checks(result)
        faces = metadata_of(result, "batch_faces")
        fingerprints[key] = faces["photo_fingerprint"]
        for name in totals:
            totals[name] += faces[name]
        elapsed = time.perf_counter() - start
        left = elapsed / totals["photos"] * sum(len(batches[k]) for k in list(batches)[n:])
        click.echo(f"[{n}/{len(batches)}] {key}: {faces['photos']} photos, {faces['faces']} faces, "
                   f"{faces['errors']} unreadable ({elapsed:.0f} s, about {left:.0f} s left)")
    return totals, failed, fingerprints


def run_recluster(defs, instance) -> tuple[dict, dict, list]:
    """The `recluster` job; the persons' and the gallery's metadata and the checks that failed."""
    result = defs.resolve_job_def("recluster").execute_in_process(instance=instance, run_config=QUIET,
                                                                  raise_on_error=False)
    if not result.success:
        raise click.ClickException(f"recluster failed: {failure_of(result)}")
    return metadata_of(result, "persons"), metadata_of(result, "person_gallery"), failed_checks(result)


def ui_environment(settings: DagsterSettings, photos: Path, home: Path) -> dict[str, str]:
    """The variables that make `dagster dev` use what this run used: the photo folder and data folder, every other
    setting that was given (never the Qdrant API key: it stays in the environment), and the instance."""
    names = {"mlflow_tracking_uri": "MLFLOW_TRACKING_URI"}
    given = sorted(settings.model_fields_set - {"photos", "data", "qdrant_api_key"})
    env = {"FACEGRAPH_PHOTOS": str(photos.resolve()), "FACEGRAPH_DATA": str(settings.data.resolve())}
    for name in given:
        value = getattr(settings, name)
        if value is not None:
            env[names.get(name, f"FACEGRAPH_{name.upper()}")] = str(value.resolve() if isinstance(value, Path) else value)
    return env | {"DAGSTER_HOME": str(home)}


def ui_command(env: dict[str, str]) -> str:
    """The shell command that opens the UI with `env`."""
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    return (f"{assignments} {shlex.quote(str(Path(sys.executable).parent / 'dagster'))} dev "
            f"-w {shlex.quote(str(WORKSPACE_FILE))}")


@click.command()
@click.option("--photos", type=click.Path(exists=True, file_okay=False), help="Photo folder (default: the sample "
              "photos). Env: FACEGRAPH_PHOTOS.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where tables, store, gallery and the Dagster "
              "instance go (default: data/ in the project). Env: FACEGRAPH_DATA.")
def main(photos, data_dir):
    """Materialise every photo batch, the persons and the gallery; print photos, faces and persons."""
    settings = DagsterSettings(**{k: v for k, v in {"photos": photos, "data": data_dir}.items() if v})
    defs = build_definitions(settings)
    folder = defs.resources["photos"]
    batches = folder.batches()
    if not batches:
        raise click.ClickException(f"no photos in {folder.root()}; put photos there or pass --photos DIR")
    click.echo(f"{sum(map(len, batches.values()))} photos in {len(batches)} batch{'es' if len(batches) > 1 else ''} "
               f"under {folder.root()}")
    instance, home = open_instance(settings)
    with instance:
        totals, failed, fingerprints = run_batches(defs, instance, batches)
        store_cursor(instance, cursor_of(fingerprints))  # the sensor, turned on, starts from these batches
        persons, gallery, failed_now = run_recluster(defs, instance)

    click.echo(f"\n{totals['photos']} photos, {totals['faces']} faces, {totals['errors']} unreadable, "
               f"{persons['persons']} persons (largest holds {persons['largest_person_share']:.0%} of the faces, "
               f"{persons['singleton_share']:.0%} of the persons have one face)")
    for check in failed + failed_now:
        click.echo(describe(check))
    click.echo(f"gallery: {gallery['path']}")
    click.echo(f"store: {persons['store']}")
    click.echo(f"\nopen the UI on these runs, photo folder and store with:\n  "
               f"{ui_command(ui_environment(settings, folder.root(), home))}")
    if settings.qdrant_api_key:
        click.echo(f"  (with {API_KEY_ENV} set in that shell too)")
    click.echo("then http://127.0.0.1:3000 (the photo folder sensor is off until turned on there; it starts from "
               "the batches above)")


if __name__ == "__main__":
    main()
