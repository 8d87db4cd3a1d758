import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from facegraph.cli import cli, main


def test_faces_prints_each_photo_and_a_summary(datasets, broken_files):
    photo = datasets / "five_celebs" / "Madonna"
    result = CliRunner().invoke(cli, ["faces", str(photo), str(broken_files["empty.jpg"])])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith(str(photo)) and " face" in line for line in lines) == len(list(photo.iterdir()))
    assert any(line.endswith(")") and ": 1 face (" in line for line in lines)  # "1 face", not "1 faces"
    assert f"skipped {broken_files['empty.jpg']}: file is empty" in result.output
    assert "1 unreadable; models: retinaface retinaface_mnet025.onnx sha256:b7a7acab55e1" in lines[-1]


def test_faces_json_is_one_document(datasets, broken_files):
    photo = datasets / "deepface_celebs" / "Scarlett_Johansson" / "img47.jpg"
    result = CliRunner().invoke(cli, ["faces", "--json", "--detector", "scrfd", str(photo), str(broken_files["empty.jpg"])])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    [record] = document["photos"]
    assert record["path"] == str(photo) and record["faces"][0]["face_id"] == record["image_id"] + "_face0"
    assert document["faces"] == 1 and document["unreadable"] == [{"path": str(broken_files["empty.jpg"]),
                                                                   "reason": "file is empty"}]
    assert [m["family"] for m in document["models"]] == ["scrfd", "arcface"]


def test_version_and_python_m():
    import subprocess
    import sys
    from importlib.metadata import version

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"facegraph, version {version('facegraph')}"
    done = subprocess.run([sys.executable, "-m", "facegraph", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "sync" in done.stdout and "cluster-all" in done.stdout


def test_errors_print_type_and_message_and_exit_1(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("sys.argv", ["facegraph", "faces", "--detector", str(tmp_path / "nope.onnx")])
    try:
        main()
    except SystemExit as exit:
        assert exit.code == 1
    else:
        raise AssertionError("main() should exit with status 1")
    assert capsys.readouterr().err.startswith("ModelLoadError: model ")


@pytest.fixture(scope="module")
def indexed(datasets, tmp_path_factory):
    """A store of two five_celebs people indexed through the CLI (made once), and the photo folders."""
    store = tmp_path_factory.mktemp("cli") / "store"
    folders = [str(datasets / "five_celebs" / "Madonna"), str(datasets / "five_celebs" / "Elton_John")]
    photos = sum(len(list(Path(folder).iterdir())) for folder in folders)
    assert facegraph(store, "index", *folders).startswith(f"{photos} photos indexed")
    return store, folders, photos


@pytest.fixture
def store(indexed, tmp_path):
    """This test's own copy of the indexed store, clustered at the default."""
    shutil.copytree(indexed[0], tmp_path / "store")
    facegraph(tmp_path / "store", "cluster-all")
    return tmp_path / "store"


def facegraph(store, *args) -> str:
    """`facegraph --store STORE ARGS` through click; its output, after checking it exited 0."""
    result = CliRunner().invoke(cli, ["--store", str(store), *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_index_skips_photos_indexed_before_also_with_models_from_a_folder(indexed):
    from facegraph.places import default_cache_dir

    store, folders, photos = indexed
    assert facegraph(store, "index", *folders).startswith(f"0 photos indexed, 0 new faces, {photos} already indexed")
    model_dir = default_cache_dir() / "models"  # the fetched weights, read as an offline folder
    assert facegraph(store, "index", "--detector", "retinaface", "--model-dir", model_dir, folders[0]).startswith(
        f"0 photos indexed, 0 new faces, {len(list(Path(folders[0]).iterdir()))} already indexed")


def test_cluster_all_takes_its_settings_as_options_and_reports_the_run_as_json(store, indexed):
    assert facegraph(store, "cluster-all", "--threshold", "0.6").strip().endswith("persons")  # strict: persons fall apart
    last_run = json.loads(facegraph(store, "cluster-all", "--threshold", "0.6", "--neighbours", "8", "--json"))
    assert last_run["neighbours"] == 8 and last_run["faces_rewritten"] == 0 and last_run["faces"] >= indexed[2]
    assert facegraph(store, "cluster-all", "--threshold", "0.4", "--method", "components").strip().endswith("persons")


def test_suggest_merges_prints_the_evidence_as_json(store):
    facegraph(store, "cluster-all", "--threshold", "0.6")
    suggested = json.loads(facegraph(store, "suggest-merges", "--json", "--limit", "3"))
    assert len(suggested) == 3 and {"person_ids", "similarity", "average_similarity", "closest_similarity",
                                    "face_counts"} <= set(suggested[0])


def test_persons_are_listed_largest_first_named_and_merged(store, tmp_path):
    persons = json.loads(facegraph(store, "list-persons", "--json"))
    assert [p["face_count"] for p in persons] == sorted((p["face_count"] for p in persons), reverse=True)
    first, second = persons[0]["person_id"], persons[1]["person_id"]
    facegraph(store, "name-person", first, "Madonna")
    assert "Madonna" in facegraph(store, "list-persons").splitlines()[0]
    assert facegraph(store, "merge-persons", first, second, "--into", first).strip() == first
    merged = json.loads(facegraph(store, "get-person", first, "--json"))
    assert merged["name"] == "Madonna" and merged["face_count"] == persons[0]["face_count"] + persons[1]["face_count"]
    facegraph(store, "gallery", "--output", tmp_path / "persons.html")
    assert "Madonna" in (tmp_path / "persons.html").read_text()


def test_a_photo_finds_its_person_and_its_most_alike_faces(store, indexed):
    photo = indexed[1][0] + "/train_1.jpg"
    assert facegraph(store, "find-person", photo).strip().startswith("person_")
    [best, *_] = json.loads(facegraph(store, "search", "--json", "--limit", "3", photo))
    stored = str(Path(photo).resolve())  # photos are stored by their resolved path
    assert best["score"] > 0.99 and best["path"] == stored
    assert facegraph(store, "search", "--limit", "1", photo).strip().endswith(stored)


def test_a_name_is_stored_without_its_control_characters(store):
    first = json.loads(facegraph(store, "list-persons", "--json"))[0]["person_id"]
    stored = facegraph(store, "name-person", first, "Ma\x1b[31mdonna\n")  # a terminal escape and a newline
    assert stored.startswith(f"{first} is Ma[31mdonna (stored without its control characters")


@pytest.mark.parametrize("args, error", [
    (["get-person", "person_000000000000"], "PersonNotFoundError: no person 'person_000000000000'"),
    (["cluster-all", "--threshold", "1.5"], "InvalidRequestError: threshold must be in [0, 1], got 1.5"),
    (["cluster-all", "--min-neighbours", "-3"], "InvalidRequestError: min_neighbours must be a whole number of at least 1"),
    (["cluster-all", "--neighbours", "1000000000000"], "InvalidRequestError: neighbours must be at most 200"),
    (["list-persons", "--limit", "-1"], "InvalidRequestError: limit must be a whole number of at least 1, got -1"),
    (["list-persons", "--offset", "-5"], "InvalidRequestError: offset must be a whole number of at least 0, got -5"),
    (["search", "--limit", "-1", "{photo}"], "InvalidRequestError: limit must be a whole number of at least 1, got -1"),
    (["assign-person", "{face}", "--threshold", "1.5"], "InvalidRequestError: threshold must be in [0, 1], got 1.5"),
    (["assign-person", "{face}", "--threshold", "-1"], "InvalidRequestError: threshold must be in [0, 1], got -1.0"),
    (["assign-person", "{face}", "--threshold", "nan"], "InvalidRequestError: threshold must be in [0, 1], got nan"),
    (["find-person", "{photo}", "--threshold", "nan"], "InvalidRequestError: threshold must be in [0, 1], got nan"),
    (["name-person", "{person}", "caf\udce9"], "InvalidRequestError: a name must be valid UTF-8 text"),  # bytes from a shell
    (["name-person", "{person}", "x" * 201], "InvalidRequestError: a name may be at most 200 characters long, got 201"),
    (["index", "{tmp}/no_such_folder"], "skipped "),
    (["--url", "http://127.0.0.1:9", "list-persons"], "StoreUnavailableError: cannot reach Qdrant at http://127.0.0.1:9"),
], ids=lambda value: value[0] if isinstance(value, list) else None)
def test_a_refused_command_exits_1_with_type_and_message_and_changes_nothing(store, indexed, tmp_path, monkeypatch,
                                                                              capsys, args, error):
    person = json.loads(facegraph(store, "list-persons", "--json"))[0]
    before = json.loads(facegraph(store, "get-person", person["person_id"], "--json"))
    fill = {"photo": indexed[1][0] + "/train_1.jpg", "face": before["face_ids"][0], "person": person["person_id"],
            "tmp": str(tmp_path)}
    args = [arg.format(**fill) if "{" in arg else arg for arg in args]
    monkeypatch.setattr("sys.argv", ["facegraph", *(["--store", str(store)] if args[0] != "--url" else []), *args])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 1 and capsys.readouterr().err.startswith(error)
    assert json.loads(facegraph(store, "get-person", person["person_id"], "--json")) == before


def test_every_cluster_setting_is_an_option_a_variable_and_dagster_config_from_one_definition(tmp_path):
    from dataclasses import fields

    from assets.collection import ClusteringConfig
    from facegraph.cluster_settings import ClusterSettings

    help_text = CliRunner().invoke(cli, ["cluster-all", "--help"], terminal_width=200).output
    for spec in fields(ClusterSettings):
        assert f"--{spec.name.replace('_', '-')}" in help_text and f"FACEGRAPH_{spec.name.upper()}" in help_text
        default = getattr(ClusterSettings(), spec.name)
        assert ClusteringConfig.model_fields[spec.name].default == (list(default) if isinstance(default, tuple) else default)
    assert ClusteringConfig().settings() == ClusterSettings()
    runner = CliRunner(env={"FACEGRAPH_THRESHOLD": "0.31", "FACEGRAPH_QUALITY_RANGE": "17 25"})
    run = json.loads(runner.invoke(cli, ["--store", str(tmp_path / "store"), "cluster-all", "--json",
                                         "--connect-threshold", "none"]).stdout)
    assert run["threshold"] == 0.31 and run["quality_range"] == [17.0, 25.0] and "connect_threshold" not in run


def test_questions_are_answered_undone_and_retuned_from_the_command_line(store):
    facegraph(store, "cluster-all", "--threshold", "0.6")  # Madonna and Elton John fall apart into several persons
    asked = json.loads(facegraph(store, "questions", "--json", "--limit", "3"))
    assert len(asked) == 3 and asked[0]["gain"] >= asked[1]["gain"] >= asked[2]["gain"]
    assert {"kind", "person_ids", "shown", "probability", "gain", "key"} <= set(asked[0])
    before = facegraph(store, "list-persons")
    assert facegraph(store, "answer", asked[0]["key"], "yes").startswith(f"yes: {asked[0]['key']} (kept as answer:")
    assert asked[0]["key"] not in {q["key"] for q in json.loads(facegraph(store, "questions", "--json", "--limit", "50"))}
    assert facegraph(store, "undo-answer").startswith(f"undone: yes to {asked[0]['key']}")
    assert facegraph(store, "list-persons") == before
    assert facegraph(store, "undo-answer").strip() == "no answer to undo"
    assert "kept (0 answers)" in facegraph(store, "retune")
