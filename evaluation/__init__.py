"""Measuring facegraph on labeled photo sets: loading them, metrics, sweeps and benchmarks."""
