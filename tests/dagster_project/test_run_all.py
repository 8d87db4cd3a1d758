"""The README's first command: every batch, the persons and the gallery, materialised in this process; the UI
command it prints and the sensor state it leaves make `dagster dev` carry on from there."""

import json
import shlex
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner
from dagster import DagsterInstance, build_sensor_context

from assets.partitions import batches_in, fingerprint, photo_batches
from dagster_project.definitions import build_definitions
from dagster_project.run_all import main
from dagster_project.sensors import cursor_of, photo_folder_sensor, stored_cursor, stored_state


@pytest.fixture(scope="module")
def ran(datasets, tmp_path_factory):
    """`run_all --photos <two identity folders, three photos each> --data-dir <data>`, once for the module."""
    tmp_path = tmp_path_factory.mktemp("run_all")
    photos = tmp_path / "photos"
    for identity in ("Jerry_Seinfeld", "Mindy_Kaling"):
        (photos / identity).mkdir(parents=True)
        for photo in sorted((datasets / "five_celebs" / identity).iterdir())[:3]:
            (photos / identity / photo.name).symlink_to(photo)
    data = tmp_path / "data"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        result = CliRunner().invoke(main, ["--photos", str(photos), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    return SimpleNamespace(photos=photos, data=data, home=data / "dagster", lines=result.output.splitlines())


def ui_environment(ran) -> dict[str, str]:
    """The variables the printed UI command sets, parsed as a shell would."""
    [command] = [line for line in ran.lines if " dev -w " in line]
    words = shlex.split(command)
    assignments = words[:next(n for n, word in enumerate(words) if "=" not in word)]
    return dict(word.split("=", 1) for word in assignments)


def test_run_all_materialises_the_graph_and_says_how_to_open_the_ui(ran):
    lines, data = ran.lines, ran.data
    assert lines[0] == f"6 photos in 2 batches under {ran.photos}"
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


def test_the_ui_command_carries_the_photo_folder_and_the_data_folder(ran, monkeypatch):
    env = ui_environment(ran)
    assert env["FACEGRAPH_PHOTOS"] == str(ran.photos) and env["FACEGRAPH_DATA"] == str(ran.data)
    assert any(f"FACEGRAPH_PHOTOS={ran.photos} " in line for line in ran.lines)
    assert "FACEGRAPH_QDRANT_API_KEY" not in env
    for name, value in env.items():  # the code location `dagster dev` loads, in that environment
        monkeypatch.setenv(name, value)
    resources = build_definitions().resources
    assert resources["photos"].root() == ran.photos
    assert resources["store"].path == str(ran.data / "store")
    assert resources["batch_tables"].base_dir == str(ran.data / "batches")


def test_run_all_leaves_the_sensor_off_with_the_batches_it_ran_as_its_cursor(ran):
    with DagsterInstance.from_config(str(ran.home)) as instance:
        state, cursor = stored_state(instance), stored_cursor(instance)
    assert not state.is_running  # off until turned on in the UI
    assert json.loads(cursor) == {key: fingerprint(paths) for key, paths in batches_in(ran.photos).items()}
    assert cursor == cursor_of(json.loads(cursor))


def test_a_sensor_tick_after_run_all_requests_nothing(ran, monkeypatch):
    for name, value in ui_environment(ran).items():
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    with DagsterInstance.from_config(str(ran.home)) as instance:
        context = build_sensor_context(instance=instance, cursor=stored_cursor(instance), definitions=defs,
                                       resources={"photos": defs.resources["photos"]})
        result = photo_folder_sensor.evaluate_tick(context)
    assert not result.run_requests and not result.dynamic_partitions_requests
    assert "no new, changed or vanished photo batches" in result.skip_message


def test_run_all_on_an_empty_folder_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (tmp_path / "photos").mkdir()
    result = CliRunner().invoke(main, ["--photos", str(tmp_path / "photos"), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert f"no photos in {tmp_path / 'photos'}; put photos there or pass --photos DIR" in result.output
