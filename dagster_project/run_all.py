"""Materialise the whole asset graph in this process and print a summary: the README's first command.

    python -m dagster_project.run_all [--photos DIR] [--data-dir DIR]

Every photo batch of the folder becomes a partition and runs the `photo_batch` job (faces, then the collection),
then `recluster` makes the persons and the gallery. The runs go to the Dagster instance in `$DAGSTER_HOME`, else
`<data dir>/dagster` (made on first use from `dagster_project/dagster.yaml`), so `dagster dev` shows them after.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import click
from dagster import DagsterInstance

from assets.partitions import photo_batches
from dagster_project.definitions import build_definitions
from dagster_project.resources import DagsterSettings

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


def run_batches(defs, instance, batches: dict) -> tuple[dict, list]:
    """Each batch through `photo_batch`, with progress and an estimate; totals and the checks that failed."""
    totals, failed, start = {"photos": 0, "faces": 0, "errors": 0}, [], time.perf_counter()
    known = set(instance.get_dynamic_partitions(photo_batches.name))
    instance.add_dynamic_partitions(photo_batches.name, [key for key in batches if key not in known])
    for n, key in enumerate(batches, 1):
        result = defs.resolve_job_def("photo_batch").execute_in_process(
            partition_key=key, instance=instance, run_config=QUIET, raise_on_error=False)
        if not result.success:
            raise click.ClickException(f"batch {key} failed: {failure_of(result)}")
        failed += failed_checks(result)
        faces = metadata_of(result, "batch_faces")
        for name in totals:
            totals[name] += faces[name]
        elapsed = time.perf_counter() - start
        left = elapsed / totals["photos"] * sum(len(batches[k]) for k in list(batches)[n:])
        click.echo(f"[{n}/{len(batches)}] {key}: {faces['photos']} photos, {faces['faces']} faces, "
                   f"{faces['errors']} unreadable ({elapsed:.0f} s, about {left:.0f} s left)")
    return totals, failed


def run_recluster(defs, instance) -> tuple[dict, dict, list]:
    """The `recluster` job; the persons' and the gallery's metadata and the checks that failed."""
    result = defs.resolve_job_def("recluster").execute_in_process(instance=instance, run_config=QUIET,
                                                                  raise_on_error=False)
    if not result.success:
        raise click.ClickException(f"recluster failed: {failure_of(result)}")
    return metadata_of(result, "persons"), metadata_of(result, "person_gallery"), failed_checks(result)


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
        totals, failed = run_batches(defs, instance, batches)
        persons, gallery, failed_now = run_recluster(defs, instance)

    click.echo(f"\n{totals['photos']} photos, {totals['faces']} faces, {totals['errors']} unreadable, "
               f"{persons['persons']} persons (largest holds {persons['largest_person_share']:.0%} of the faces, "
               f"{persons['singleton_share']:.0%} of the persons have one face)")
    for check in failed + failed_now:
        click.echo(describe(check))
    click.echo(f"gallery: {gallery['path']}")
    click.echo(f"store: {persons['store']}")
    click.echo(f"\nopen the UI with:\n  DAGSTER_HOME={home} {Path(sys.executable).parent / 'dagster'} dev "
               f"-w {Path(__file__).resolve().parents[1] / 'workspace.yaml'}\nthen http://127.0.0.1:3000")


if __name__ == "__main__":
    main()
