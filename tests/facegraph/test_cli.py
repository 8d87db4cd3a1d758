import json

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


def test_persons_workflow_through_the_cli(datasets, tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from facegraph.models.weights import default_cache_dir

    model_dir = default_cache_dir() / "models"  # the fetched weights, read as an offline folder
    runner, store = CliRunner(), ["--store", str(tmp_path / "store")]
    folders = [str(datasets / "five_celebs" / "Madonna"), str(datasets / "five_celebs" / "Elton_John")]
    photos = sum(len(list((datasets / "five_celebs" / who).iterdir())) for who in ("Madonna", "Elton_John"))

    def run(*args):
        result = runner.invoke(cli, [*store, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    assert run("index", *folders).startswith(f"{photos} photos indexed")
    assert run("index", *folders).startswith(f"0 photos indexed, 0 new faces, {photos} already indexed")
    assert run("index", "--detector", "retinaface", "--model-dir", str(model_dir), folders[0]).startswith(
        f"0 photos indexed, 0 new faces, {len(list(Path(folders[0]).iterdir()))} already indexed")
    assert run("cluster-all", "--threshold", "0.6").strip().endswith("persons")  # strict: persons fall apart
    last_run = json.loads(run("cluster-all", "--threshold", "0.6", "--neighbours", "8", "--json"))
    assert last_run["neighbours"] == 8 and last_run["faces_rewritten"] == 0 and last_run["faces"] >= photos
    suggested = json.loads(run("suggest-merges", "--json", "--limit", "3"))
    assert len(suggested) == 3 and {"person_ids", "similarity", "average_similarity", "closest_similarity",
                                    "face_counts"} <= set(suggested[0])
    assert run("cluster-all", "--threshold", "0.4", "--method", "components").strip().endswith("persons")
    persons = json.loads(run("list-persons", "--json"))
    assert [p["face_count"] for p in persons] == sorted((p["face_count"] for p in persons), reverse=True)
    first, second = persons[0]["person_id"], persons[1]["person_id"]
    run("name-person", first, "Madonna")
    assert "Madonna" in run("list-persons").splitlines()[0]
    assert run("merge-persons", first, second, "--into", first).strip() == first
    merged = json.loads(run("get-person", first, "--json"))
    assert merged["name"] == "Madonna" and merged["face_count"] == persons[0]["face_count"] + persons[1]["face_count"]
    assert run("find-person", str(datasets / "five_celebs" / "Madonna" / "train_1.jpg")).strip().startswith("person_")
    [best, *_] = json.loads(run("search", "--json", "--limit", "3", folders[0] + "/train_1.jpg"))
    stored = str(Path(folders[0]).resolve() / "train_1.jpg")  # photos are stored by their resolved path
    assert best["score"] > 0.99 and best["path"] == stored
    assert run("search", "--limit", "1", folders[0] + "/train_1.jpg").strip().endswith(stored)
    run("gallery", "--output", str(tmp_path / "persons.html"))
    assert "Madonna" in (tmp_path / "persons.html").read_text()

    face = merged["face_ids"][0]
    photo = folders[0] + "/train_1.jpg"
    stored = run("name-person", first, "Ma\x1b[31mdonna\n")  # a terminal escape and a newline
    assert stored.startswith(f"{first} is Ma[31mdonna (stored without its control characters")
    before = json.loads(run("get-person", first, "--json"))
    for args, error in ((["get-person", "person_000000000000"], "PersonNotFoundError: no person 'person_000000000000'"),
                        (["cluster-all", "--threshold", "1.5"], "InvalidRequestError: threshold must be in [0, 1], got 1.5"),
                        (["cluster-all", "--min-neighbours", "-3"], "InvalidRequestError: min_neighbours must be a whole number of at least 1"),
                        (["list-persons", "--limit", "-1"], "InvalidRequestError: limit must be a whole number of at least 1, got -1"),
                        (["list-persons", "--offset", "-5"], "InvalidRequestError: offset must be a whole number of at least 0, got -5"),
                        (["search", "--limit", "-1", photo], "InvalidRequestError: limit must be a whole number of at least 1, got -1"),
                        (["assign-person", face, "--threshold", "1.5"], "InvalidRequestError: threshold must be in [0, 1], got 1.5"),
                        (["assign-person", face, "--threshold", "-1"], "InvalidRequestError: threshold must be in [0, 1], got -1.0"),
                        (["assign-person", face, "--threshold", "nan"], "InvalidRequestError: threshold must be in [0, 1], got nan"),
                        (["find-person", photo, "--threshold", "nan"], "InvalidRequestError: threshold must be in [0, 1], got nan"),
                        (["name-person", first, "caf\udce9"], "InvalidRequestError: a name must be valid UTF-8 text"),  # bytes from a shell
                        (["name-person", first, "x" * 201], "InvalidRequestError: a name may be at most 200 characters long, got 201"),
                        (["index", str(tmp_path / "no_such_folder")], "skipped "),
                        (["--url", "http://127.0.0.1:9", "list-persons"], "StoreUnavailableError: cannot reach Qdrant at http://127.0.0.1:9")):
        monkeypatch.setattr("sys.argv", ["facegraph", *(store if args[0] != "--url" else []), *args])
        try:
            main()
        except SystemExit as exit:
            assert exit.code == 1
        else:
            raise AssertionError(f"{args} should exit with status 1")
        assert capsys.readouterr().err.startswith(error)
    assert json.loads(run("get-person", first, "--json")) == before  # nothing a refused command asked for was done
