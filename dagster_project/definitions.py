"""The code location: assets, checks, jobs, sensor, schedule and resources (`workspace.yaml` points here)."""

from __future__ import annotations

from dagster import Definitions

from assets import ASSETS, CHECKS
from dagster_project.jobs import photo_batch_job, recluster_job, sweep_job
from dagster_project.resources import DagsterSettings, build_resources
from dagster_project.schedules import nightly_recluster
from dagster_project.sensors import photo_folder_sensor


def build_definitions(settings: DagsterSettings | None = None) -> Definitions:
    """The Definitions with resources configured from `settings` (default: the environment)."""
    return Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=[photo_batch_job, recluster_job, sweep_job],
        sensors=[photo_folder_sensor],
        schedules=[nightly_recluster],
        resources=build_resources(settings),
    )


defs = build_definitions()
