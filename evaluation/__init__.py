"""Measuring facegraph on labeled photo sets: loading them, metrics, sweeps and benchmarks."""

EXPERIMENT = "facegraph-sweeps"  # the one MLflow experiment of the CLI's, the notebook's and Dagster's sweeps
