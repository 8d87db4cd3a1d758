import json

from click.testing import CliRunner

from facegraph.cli import cli, main


def test_faces_prints_each_photo_and_a_summary(datasets, broken_files):
    photo = datasets / "five_celebs" / "Madonna"
    result = CliRunner().invoke(cli, ["faces", str(photo), str(broken_files["empty.jpg"])])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith(str(photo)) and "faces" in line for line in lines) == len(list(photo.iterdir()))
    assert f"skipped {broken_files['empty.jpg']}: file is empty" in result.output
    assert "1 unreadable; models: retinaface retinaface_mnet025.onnx sha256:b7a7acab55e1" in lines[-1]


def test_faces_json_is_one_object_per_photo(datasets):
    photo = datasets / "deepface_celebs" / "Scarlett_Johansson" / "img47.jpg"
    result = CliRunner().invoke(cli, ["faces", "--json", "--detector", "scrfd", str(photo)])
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert record["path"] == str(photo) and record["faces"][0]["face_id"] == record["image_id"] + "_face0"


def test_errors_print_type_and_message_and_exit_1(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("sys.argv", ["facegraph", "faces", "--detector", str(tmp_path / "nope.onnx")])
    try:
        main()
    except SystemExit as exit:
        assert exit.code == 1
    else:
        raise AssertionError("main() should exit with status 1")
    assert capsys.readouterr().err.startswith("ModelLoadError: model ")
