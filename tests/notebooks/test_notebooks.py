"""Notebooks run top to bottom (on the small five_celebs set)."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_threshold_sweep_notebook_runs_top_to_bottom(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("FACEGRAPH_NOTEBOOK_SETS", "five_celebs,deepface_celebs")
    monkeypatch.setenv("FACEGRAPH_DATA", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    notebook = nbformat.read(NOTEBOOKS / "threshold_sweep.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type == "display_data" and "image/png" in o.get("data", {}) for o in outputs)
    assert any("best: " in o.get("text", "") for o in outputs)
