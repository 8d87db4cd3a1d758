"""Notebooks run top to bottom (on the small five_celebs set)."""

import re
from pathlib import Path

import mlflow
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_threshold_sweep_notebook_runs_top_to_bottom(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("FACEGRAPH_NOTEBOOK_SETS", "five_celebs,deepface_celebs")
    monkeypatch.setenv("FACEGRAPH_DATA", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    notebook = nbformat.read(NOTEBOOKS / "threshold_sweep.ipynb", as_version=4)
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    except CellExecutionError as error:
        pytest.fail(f"a cell of the notebook failed: {error}", pytrace=False)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert sum(o.output_type == "display_data" and "image/png" in o.get("data", {}) for o in outputs) == 2  # the plots
    # what the notebook computed: the sweep's best setting scores as the default does on these sets, or better
    best = float(re.search(r"best: .*: worst-set BCubed F1 ([0-9.]+)", text).group(1))
    assert 0.975 <= best <= 1.0, text
    # and the sweep it logged is in MLflow, with one child run per setting and set
    run_id = re.search(r"(\d+) settings on 2 sets logged to .*, parent run (\w+)", text)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    children = client.search_runs([client.get_run(run_id.group(2)).info.experiment_id], max_results=5000,
                                  filter_string=f"tags.mlflow.parentRunId = '{run_id.group(2)}'")
    assert len(children) >= int(run_id.group(1)), (len(children), run_id.group(0))
