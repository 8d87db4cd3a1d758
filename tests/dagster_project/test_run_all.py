"""The README's first command: every batch, the persons and the gallery, materialised in this process."""

import yaml
from click.testing import CliRunner
from dagster import DagsterInstance

from assets.partitions import photo_batches
from dagster_project.run_all import main


def test_run_all_materialises_the_graph_and_says_how_to_open_the_ui(datasets, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    photos = tmp_path / "photos"
    for identity in ("Jerry_Seinfeld", "Mindy_Kaling"):
        (photos / identity).mkdir(parents=True)
        for photo in sorted((datasets / "five_celebs" / identity).iterdir())[:3]:
            (photos / identity / photo.name).symlink_to(photo)
    data = tmp_path / "data"

    result = CliRunner().invoke(main, ["--photos", str(photos), "--data-dir", str(data)])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"6 photos in 2 batches under {photos}"
    assert lines[1].startswith("[1/2] photos/Jerry_Seinfeld: 3 photos, ")
    summary = next(line for line in lines if " persons (largest holds " in line)
    assert summary.startswith("6 photos, ") and " 0 unreadable, " in summary
    assert f"gallery: {data / 'gallery' / 'persons.html'}" in lines
    assert any(f"DAGSTER_HOME={data / 'dagster'} " in line and " dev -w " in line for line in lines)
    config = yaml.safe_load((data / "dagster" / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    with DagsterInstance.from_config(str(data / "dagster")) as instance:  # the runs are there for `dagster dev`
        assert sorted(instance.get_dynamic_partitions(photo_batches.name)) == [
            "photos/Jerry_Seinfeld", "photos/Mindy_Kaling"]
        assert len(instance.get_runs()) == 3


def test_run_all_on_an_empty_folder_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (tmp_path / "photos").mkdir()
    result = CliRunner().invoke(main, ["--photos", str(tmp_path / "photos"), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert f"no photos in {tmp_path / 'photos'}; put photos there or pass --photos DIR" in result.output
