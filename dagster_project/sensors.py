"""The photo folder sensor: a partition for every new folder of photos, a run for every new or changed one."""

import json

from dagster import RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from assets.partitions import fingerprint, photo_batches
from assets.resources import PhotoFolder
from dagster_project.jobs import photo_batch_job, recluster_job


@sensor(jobs=[photo_batch_job, recluster_job], minimum_interval_seconds=60)
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
        cursor=json.dumps(current, sort_keys=True),
    )
