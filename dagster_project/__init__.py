"""The Dagster code location of facegraph: Definitions, resources, jobs, sensor, schedule, and `run_all`."""
