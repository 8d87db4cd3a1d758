"""The nightly recluster: every face into persons again (with the day's new faces), and a fresh gallery."""

from dagster import ScheduleDefinition

from dagster_project.jobs import recluster_job

nightly_recluster = ScheduleDefinition(
    name="nightly_recluster",
    job=recluster_job,
    cron_schedule="0 3 * * *",
    description="Recluster every face into persons and redraw the gallery, every night at 03:00.",
)
