"""The code location: assets, checks, jobs, sensor, schedule and resources (`workspace.yaml` points here)."""

from __future__ import annotations

from dagster import AssetsDefinition, Definitions, map_asset_specs

from assets import ASSETS, CHECKS, batch_faces
from assets.resources import FaceModels
from assets.versions import models_code_version
from dagster_project.jobs import photo_batch_job, recluster_job, sweep_job
from dagster_project.resources import DagsterSettings, build_resources
from dagster_project.schedules import nightly_recluster
from dagster_project.sensors import photo_folder_sensor


def faces_code_version(models: FaceModels) -> str:
    """`batch_faces`' code version for the models and detection settings this code location is configured with."""
    return models_code_version(models.detector, models.embedder, max_side=models.max_side,
                               score_threshold=models.score_threshold, min_face_size=models.min_face_size)


def with_faces_code_version(assets: list[AssetsDefinition], models: FaceModels) -> list[AssetsDefinition]:
    """The assets with `batch_faces` versioned by the configured models (at import it is versioned by the
    defaults), so choosing another model or detection setting marks the batches and everything after stale."""
    version = faces_code_version(models)
    return map_asset_specs(
        lambda spec: spec.replace_attributes(code_version=version) if spec.key == batch_faces.key else spec, assets)


def build_definitions(settings: DagsterSettings | None = None) -> Definitions:
    """The Definitions with resources configured from `settings` (default: the environment)."""
    resources = build_resources(settings)
    return Definitions(
        assets=with_faces_code_version(ASSETS, resources["models"]),
        asset_checks=CHECKS,
        jobs=[photo_batch_job, recluster_job, sweep_job],
        sensors=[photo_folder_sensor],
        schedules=[nightly_recluster],
        resources=resources,
    )


defs = build_definitions()
