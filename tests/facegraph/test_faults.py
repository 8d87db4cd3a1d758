"""Bad names, odd files, killed processes, deleted and moved photos: on real photos, real models and the real engine."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from facegraph.collection import photo_path
from facegraph.errors import InvalidRequestError, PersonNotFoundError, StoreError, SyncRefusedError, WeightsError
from facegraph.gallery import write_gallery
from facegraph.persons import FaceGraph
from facegraph.store.base import FACES, PERSONS, PHOTOS
from facegraph.store.embedded import EmbeddedStore

PEOPLE = ("Madonna", "Elton_John", "Jerry_Seinfeld")


@pytest.fixture(scope="module")
def photo_folder(datasets, tmp_path_factory):
    """Photos of three people copied into a folder the tests may rename, move and delete in (each test its own
    copy), and a store of them, clustered at the default with one correction."""
    folder = tmp_path_factory.mktemp("faults") / "photos"
    for who in PEOPLE:
        (folder / who).mkdir(parents=True)
        for photo in sorted((datasets / "five_celebs" / who).iterdir())[:12]:
            shutil.copy(photo, folder / who / photo.name)
    return folder


@pytest.fixture(scope="module")
def template(photo_folder, default_pipeline, tmp_path_factory):
    store = tmp_path_factory.mktemp("faults") / "store"
    with FaceGraph(store, pipeline=default_pipeline) as graph:
        graph.index([photo_folder])
        graph.cluster_all()
        largest, second = [p["person_id"] for p in graph.list_persons(limit=2)]
        graph.merge_persons([largest, second], largest)
        graph.name_person(largest, "Somebody")
    return store


@pytest.fixture
def copies(template, photo_folder, tmp_path):
    """This test's own store and photo folder, the store's paths pointing into the test's folder."""
    shutil.copytree(photo_folder, tmp_path / "photos")
    shutil.copytree(template, tmp_path / "store")
    with open_graph(tmp_path / "store") as graph:
        for image_id, path in graph.collection.photos_under(photo_folder).items():
            graph.collection.move_photo(image_id, tmp_path / "photos" / os.path.relpath(path, photo_folder))
    return tmp_path / "store", tmp_path / "photos"


def open_graph(store, pipeline=None) -> FaceGraph:
    return FaceGraph(store, pipeline=pipeline or (lambda: None))


def consistent(graph) -> dict:
    """The store's invariants (every face's person has a record, every face its photo, every record's pins are
    faces of its person); returns face id -> person id."""
    faces = {p.payload["face_id"]: p.payload for p in graph.store.scroll(FACES)}
    records = {p.payload["person_id"]: p.payload for p in graph.store.scroll(PERSONS)}
    photos = {p.payload["image_id"] for p in graph.store.scroll(PHOTOS)}
    person_of = {face_id: payload["person_id"] for face_id, payload in faces.items()}
    assert {p for p in person_of.values() if p} <= set(records), "a face names a person without a record"
    assert {payload["image_id"] for payload in faces.values()} <= photos, "a face without its photo"
    for person_id, record in records.items():
        assert all(person_of.get(face) == person_id for face in record.get("pinned_faces", [])), person_id
    for person in graph.list_persons(limit=1000):
        assert graph.get_person(person["person_id"])["face_count"] == person["face_count"]
    return person_of


# ---- names and files ----------------------------------------------------------------------------------------

def test_a_name_that_is_not_utf8_is_stored_losslessly_and_stops_nothing(datasets, default_pipeline, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    photos = sorted((datasets / "five_celebs" / "Madonna").iterdir())[:3]
    odd = os.fsdecode(bytes(folder) + b"/caf\xe9 \xff.jpg")  # Latin-1 bytes, as an old camera card names files
    shutil.copy(photos[0], odd)
    for photo in photos[1:]:
        shutil.copy(photo, folder / photo.name)
    with open_graph(tmp_path / "store", default_pipeline) as graph:
        report = graph.index([folder])
        assert report.indexed == 3 and not report.errors
        stored = {p.payload["path"]: p.payload for p in graph.store.scroll(PHOTOS)}
        [readable] = [path for path in stored if "caf" in path]
        assert readable.endswith("/caf\\xe9 \\xff.jpg")  # shown readably
        assert photo_path(stored[readable]) == odd and os.path.exists(photo_path(stored[readable]))  # losslessly
        graph.cluster_all()
        page = write_gallery(graph, tmp_path / "persons.html")
        assert page.read_text().count("data:image/jpeg;base64") >= 3  # the crop of the odd photo is found too


def test_every_file_that_looks_like_a_photo_is_read_or_reported(datasets, default_pipeline, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(datasets / "five_celebs" / "Madonna" / "train_1.jpg", folder / "a.jpg")
    with Image.open(datasets / "five_celebs" / "Elton_John" / "train_1.jpg") as image:
        image.save(folder / "phone.heic", quality=90)  # an iPhone's format
    (folder / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (folder / "folder.jpg").mkdir()
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    (folder / "notes.txt").write_text("not a photo, and not named like one")
    with open_graph(tmp_path / "store", default_pipeline) as graph:
        report = graph.index([folder])
    reasons = {os.path.basename(error.path): error.reason for error in report.errors}
    assert report.photos == 5 and report.indexed == 2 and len(report.new_face_ids) >= 2
    assert reasons == {"dangling.jpg": "broken symbolic link (its target does not exist)",
                       "folder.jpg": "is a folder, not a photo", "loop.jpg": "symbolic link loop"}


def test_store_errors_are_facegraph_errors_on_every_call(tmp_path):
    with EmbeddedStore(tmp_path / "store") as store:
        with pytest.raises(StoreError, match="failed to upsert persons: a text value is not valid UTF-8"):
            store.upsert(PERSONS, ["p"], [{"person_id": "p", "name": "caf\udce9"}])
        with pytest.raises(StoreError, match="failed to scroll pages faces"):
            list(store.scroll_pages(FACES, where={"person_id": "\udce9"}))  # raised while iterating
        assert store.count(PERSONS) == 0


def test_a_model_dir_with_a_wrong_file_says_to_replace_it(tmp_path):
    from facegraph.models.weights import ARCFACE, model_path

    (tmp_path / ARCFACE.name).write_bytes(b"not the model")
    with pytest.raises(WeightsError, match=f"replace it with {ARCFACE.name} from {ARCFACE.distribution}"):
        model_path(ARCFACE, model_dir=tmp_path)


def test_index_exits_non_zero_when_nothing_was_read(datasets, tmp_path):
    store = ["--store", str(tmp_path / "store")]
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.jpg").write_bytes(b"not a photo")

    def facegraph(*args):
        return subprocess.run([sys.executable, "-m", "facegraph", *store, *args], capture_output=True, text=True)

    missing = facegraph("index", str(tmp_path / "no_such_folder"))
    assert missing.returncode == 1 and "nothing was indexed: no photo could be read in" in missing.stderr
    empty = facegraph("index", str(tmp_path / "empty"))
    assert empty.returncode == 1 and "nothing was indexed: no photos found in" in empty.stderr
    some = facegraph("index", str(tmp_path / "bad.jpg"), str(datasets / "five_celebs" / "Madonna" / "train_1.jpg"))
    assert some.returncode == 0 and some.stdout.startswith("1 photo indexed") and "skipped" in some.stderr


def test_a_folder_is_listed_once_so_each_entry_counts_once(datasets, tmp_path):
    photos = tmp_path / "photos"
    (photos / "x.jpg").mkdir(parents=True)  # a folder named like a photo, holding one
    (photos / "empty.jpg").mkdir()
    shutil.copy(datasets / "five_celebs" / "Madonna" / "train_1.jpg", photos / "a.jpg")
    shutil.copy(datasets / "five_celebs" / "Elton_John" / "train_1.jpg", photos / "x.jpg" / "b.jpg")
    code, output = run_cli("--store", tmp_path / "store", "index", "--json", photos)
    report = json.loads(output[output.index("{"):output.rindex("}") + 1])
    assert code == 0 and (report["photos"], report["indexed"]) == (4, 2), output
    assert sorted(os.path.basename(e["path"]) for e in report["errors"]) == ["empty.jpg", "x.jpg"]


def test_bad_command_lines_are_refused_with_nothing_done(tmp_path):
    store = tmp_path / "store"
    code, output = run_cli("--store", store, "index", "")  # the current folder must not be indexed
    assert code == 1 and "InvalidRequestError: an empty path names no photo or folder" in output
    code, output = run_cli("faces", tmp_path / "nonexistent.jpg")
    assert code == 1 and "nothing was read: no photo could be read in" in output
    code, output = run_cli("--store", store, "--url", "http://localhost:6333", "list-persons")
    assert code == 1 and "not both" in output
    with open_graph(store) as graph:
        assert graph.collection.photo_count() == 0


def test_a_name_needs_a_visible_character_and_keeps_no_direction_override(copies):
    store, _ = copies
    with open_graph(store) as graph:
        person = graph.list_persons(limit=1)[0]["person_id"]
        for invisible in ("\u200b\u202e", "\u200b", " \u2066 "):
            with pytest.raises(InvalidRequestError, match="a name must have a visible character"):
                graph.name_person(person, invisible)
        assert graph.get_person(person)["name"] == "Somebody"
        assert graph.name_person(person, "Ada \u202eecalevoL") == "Ada ecalevoL"
        assert graph.name_person(person, "👩\u200d👩\u200d👧 family") == "👩\u200d👩\u200d👧 family"  # joiners stay


# ---- killed processes ---------------------------------------------------------------------------------------

CHILD = """
import os, signal, sys
import facegraph.collection
facegraph.collection.PAGE = 2  # many small pages of face writes: many points to die between
from facegraph.persons import FaceGraph
from facegraph.store.embedded import EmbeddedStore

store, method, collection, survive = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
original, calls = getattr(EmbeddedStore, method), []

def dying(self, name, *args, **kwargs):
    if name == collection:
        calls.append(name)
        if len(calls) > survive:
            os.kill(os.getpid(), signal.SIGKILL)
    return original(self, name, *args, **kwargs)

setattr(EmbeddedStore, method, dying)
with FaceGraph(store, pipeline=lambda: None) as graph:
    graph.cluster_all()
print("finished")
"""


@pytest.mark.parametrize("method, collection, survive", [
    ("upsert", PERSONS, 1),  # after the run's mark, before the new persons' records
    ("set_payloads", FACES, 0),  # the records made, no face written yet
    ("set_payloads", FACES, 2),  # some pages of faces written
    ("set_payloads", FACES, 4),
    ("delete", PERSONS, 0),  # every face written, the stale records not yet deleted
])
def test_a_recluster_killed_at_any_point_is_finished_on_the_next_open(copies, tmp_path, method, collection, survive):
    store, _ = copies
    with open_graph(store) as graph:
        graph.cluster_all(threshold=0.9)  # persons fall apart: the default then rewrites most faces
    shutil.copytree(store, tmp_path / "clean")
    with open_graph(tmp_path / "clean") as clean:
        assert clean.cluster_all().faces_rewritten > 5 * 2
        expected = consistent(clean)
        vectors = {p.payload["face_id"]: p.vector for p in clean.store.scroll(FACES, with_vectors=True)}
        names = {p["person_id"]: p["name"] for p in clean.list_persons(limit=1000)}
    child = subprocess.run([sys.executable, "-c", CHILD, str(store), method, collection, str(survive)],
                           capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    with EmbeddedStore(store) as raw:  # as the killed process left it: no face names a person without a record
        records = {p.payload["person_id"] for p in raw.scroll(PERSONS)}
        assert {p.payload["person_id"] for p in raw.scroll(FACES)} - {None} <= records
    with open_graph(store) as graph:  # opening finishes the run
        assert consistent(graph) == expected
        assert {p.payload["face_id"]: p.vector for p in graph.store.scroll(FACES, with_vectors=True)}.keys() == vectors.keys()
        assert all(np.array_equal(p.vector, vectors[p.payload["face_id"]])
                   for p in graph.store.scroll(FACES, with_vectors=True))
        assert {p["person_id"]: p["name"] for p in graph.list_persons(limit=1000)} == names
        assert graph.journal.interrupted_run() is None


CORRECTION_CHILD = """
import json, os, signal, sys
from facegraph.persons import FaceGraph
from facegraph.store.embedded import EmbeddedStore

store, call, kill_at = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
writes, counting = [], [False]
for method in ("upsert", "delete", "set_payload", "set_payloads"):
    def dying(self, *args, _original=getattr(EmbeddedStore, method), **kwargs):
        if counting[0]:
            writes.append(args[0])
            if 0 <= kill_at < len(writes):
                os.kill(os.getpid(), signal.SIGKILL)
        return _original(self, *args, **kwargs)
    setattr(EmbeddedStore, method, dying)
with FaceGraph(store) as graph:  # the models load only for a call that reads photos
    counting[0] = True  # the correction's own writes, not the opening's
    getattr(graph, call[0])(*call[1:])
    counting[0] = False
print(len(writes))
"""


def corrections_of(graph) -> tuple:
    """What corrections decide: each face's person, every pin and every name."""
    return consistent(graph), graph.records.pins(), {p["person_id"]: p["name"] for p in graph.list_persons(limit=1000)}


def correction_calls(graph) -> dict:
    """One call of each correction on the faults store."""
    first, second, third = [p["person_id"] for p in graph.list_persons(limit=3)]
    faces = graph.get_person(second)["face_ids"]
    return {"merge": ["merge_persons", [second, third]],
            "split": ["split_person", first, [graph.get_person(first)["face_ids"][:2]]],
            "reassign": ["reassign_face", faces[0], third],
            "name": ["name_person", second, "Someone else"]}


@pytest.mark.parametrize("verb", ["merge", "split", "reassign", "name"])
def test_a_correction_killed_before_any_of_its_writes_is_finished_on_the_next_open(copies, tmp_path, verb):
    store, _ = copies
    with open_graph(store) as graph:
        call = correction_calls(graph)[verb]
        before = corrections_of(graph)
    shutil.copytree(store, tmp_path / "clean")
    done = subprocess.run([sys.executable, "-c", CORRECTION_CHILD, str(tmp_path / "clean"), json.dumps(call), "-1"],
                          capture_output=True, text=True, check=True)
    writes = int(done.stdout.split()[-1])
    with open_graph(tmp_path / "clean") as clean:
        expected = corrections_of(clean)
    assert writes >= 3
    for kill_at in range(writes):
        killed = tmp_path / f"killed_{kill_at}"
        shutil.copytree(store, killed)
        child = subprocess.run([sys.executable, "-c", CORRECTION_CHILD, str(killed), json.dumps(call), str(kill_at)],
                               capture_output=True, text=True)
        assert child.returncode == -signal.SIGKILL, child.stderr
        with EmbeddedStore(killed) as raw:  # as the killed process left it: no face names a person without a record
            records = {p.payload["person_id"] for p in raw.scroll(PERSONS)}
            assert {p.payload["person_id"] for p in raw.scroll(FACES)} - {None} <= records, kill_at
        with open_graph(killed) as graph:  # opening finishes the correction, once its plan is kept (write 0)
            assert corrections_of(graph) == (expected if kill_at else before), f"killed before write {kill_at} of {writes}"
            assert graph.journal.interrupted_correction() is None
        shutil.rmtree(killed)


def test_a_photo_killed_while_it_is_stored_leaves_no_face_without_it_and_is_completed_by_indexing_again(
        copies, datasets, tmp_path):
    store, folder = copies
    photo = folder / "new.jpg"
    shutil.copy(datasets / "five_celebs" / "Ben_Affleck" / "train_10.jpg", photo)
    call = json.dumps(["index", [str(photo)]])
    writes = int(subprocess.run([sys.executable, "-c", CORRECTION_CHILD, str(store), call, "-1"], capture_output=True,
                                text=True, check=True).stdout.split()[-1])
    with open_graph(store) as clean:
        [faces] = [sorted(f for f in consistent(clean) if f.startswith(image_id))
                   for image_id, path in clean.collection.photos_under(folder).items() if path == str(photo)]
    assert writes >= 3 and faces  # the photo, its faces, then the mark that it is whole
    for kill_at in range(writes):
        killed = tmp_path / f"killed_{kill_at}"
        shutil.copytree(store, killed)
        with open_graph(killed) as graph:
            graph.remove_photos([faces[0].rsplit("_face", 1)[0]])
        child = subprocess.run([sys.executable, "-c", CORRECTION_CHILD, str(killed), call, str(kill_at)],
                               capture_output=True, text=True)
        assert child.returncode == -signal.SIGKILL, child.stderr
        with FaceGraph(killed) as graph:  # with the models
            consistent(graph)  # every face has its photo
            report = graph.index([photo])
            assert report.indexed == 1 and set(faces) <= set(consistent(graph)), kill_at
        photo.rename(tmp_path / "away.jpg")  # gone again: sync takes the photo and its faces
        with open_graph(killed) as graph:
            graph.sync_folder(folder)
            assert not any(face.startswith(faces[0].rsplit("_face", 1)[0]) for face in consistent(graph))
        (tmp_path / "away.jpg").rename(photo)
        shutil.rmtree(killed)


def test_a_killed_index_build_leaves_no_temp_segments(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30_000, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with EmbeddedStore(tmp_path / "store") as store:
        store.upsert(FACES, [f"f{i}" for i in range(len(vectors))], [{"face_id": f"f{i}"} for i in range(len(vectors))],
                     vectors)
    builder = subprocess.Popen([sys.executable, "-c", "import sys; from facegraph.store.embedded import EmbeddedStore; "
                                "EmbeddedStore(sys.argv[1]).optimize()", str(tmp_path / "store")])
    temp = tmp_path / "store" / FACES / "temp_segments"
    deadline = time.monotonic() + 120
    while not list(temp.glob("segment_builder_*")) and builder.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(temp.glob("segment_builder_*")), "the index build never started a segment"
    builder.send_signal(signal.SIGKILL)
    builder.wait()
    with EmbeddedStore(tmp_path / "store") as store:
        assert not list(temp.glob("segment_builder_*"))
        assert store.count(FACES) == len(vectors)


# ---- deleted and moved photos -------------------------------------------------------------------------------

def test_sync_removes_deleted_photos_and_follows_moved_ones_keeping_corrections(copies, tmp_path):
    store, folder = copies
    with open_graph(store) as graph:
        before = consistent(graph)
        named = graph.list_persons(limit=1)[0]
        assert named["name"] == "Somebody"
        paths = {photo_path(p.payload): p.payload["image_id"] for p in graph.store.scroll(PHOTOS)}
        members = set(graph.get_person(named["person_id"])["face_ids"])
    photos = sorted(paths)
    deleted, moved = photos[0], photos[1]
    os.remove(deleted)
    (folder / "elsewhere").mkdir()
    new_place = shutil.move(moved, folder / "elsewhere" / "renamed.jpg")
    with open_graph(store) as graph:
        report = graph.sync_folder(folder)
        assert (report.photos_checked, report.moved, report.removed_photos, report.unindexed_files) == (len(photos), 1, 1, 0)
        after = consistent(graph)
        gone = {face for face in before if face.startswith(paths[deleted])}
        assert gone and report.removed_faces == len(gone) and set(after) == set(before) - gone
        assert all(after[face] == before[face] for face in after)  # persons and corrections of the rest hold
        person = graph.get_person(named["person_id"])
        assert person["name"] == "Somebody" and set(person["face_ids"]) == members - gone
        moved_record = graph.collection.photos([paths[moved]])[paths[moved]]
        assert photo_path(moved_record) == str(new_place)
        again = graph.sync_folder(folder)
        assert (again.moved, again.removed_photos) == (0, 0)
        graph.cluster_all()
        assert graph.get_person(named["person_id"])["name"] == "Somebody"
        assert write_gallery(graph, tmp_path / "persons.html").read_text().count("data:image/jpeg;base64") > 0


def snapshot(graph) -> tuple:
    """Everything a sync could lose: every face's person, every record and every photo's path."""
    return (consistent(graph), sorted(map(repr, (p.payload for p in graph.store.scroll(PERSONS)))),
            sorted(photo_path(p.payload) for p in graph.store.scroll(PHOTOS)))


def run_cli(*args) -> tuple[int, str]:
    """Run `facegraph ARGS` as a user would (`main`, which prints errors as `Type: message`)."""
    done = subprocess.run([sys.executable, "-m", "facegraph", *map(str, args)], capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def test_sync_of_an_emptied_folder_removes_nothing_unless_told(copies, tmp_path):
    store, folder = copies
    with open_graph(store) as graph:
        before = snapshot(graph)
    away = tmp_path / "unmounted"
    shutil.move(folder, away)
    folder.mkdir()  # a share that is not mounted: its mount point is an empty folder
    code, output = run_cli("--store", store, "sync", folder)
    assert code == 1 and output.startswith("SyncRefusedError: this sync would remove 36 of the 36 photos")
    assert "nothing was removed" in output and "--allow-mass-removal" in output
    folder.rmdir()  # not even a folder: refused as well
    code, output = run_cli("--store", store, "sync", folder)
    assert code == 1 and "SyncRefusedError" in output and "is not a folder" in output
    with open_graph(store) as graph:
        assert snapshot(graph) == before
    folder.mkdir()
    code, output = run_cli("--store", store, "sync", "--allow-mass-removal", folder)
    assert code == 0 and "36 removed" in output, output
    with open_graph(store) as graph:
        assert graph.collection.photo_count() == graph.collection.face_count() == 0


def test_sync_removes_a_few_deleted_photos_but_not_a_fifth_of_them(copies):
    store, folder = copies
    photos = sorted(folder.rglob("*.jpg"))
    for photo in photos[:8]:  # 8 of 36: more than 20%
        photo.unlink()
    with open_graph(store) as graph:
        before = snapshot(graph)
        with pytest.raises(SyncRefusedError, match=r"remove 8 of the 36 photos .*\(more than 20%\)"):
            graph.sync_folder(folder)
        assert snapshot(graph) == before
        assert graph.sync_folder(folder, allow_mass_removal=True).removed_photos == 8
        photos[8].unlink()  # one more: a few photos need no flag
        assert graph.sync_folder(folder).removed_photos == 1
        consistent(graph)


def test_sync_keeps_the_photos_of_a_folder_it_cannot_read(copies):
    store, folder = copies
    shutil.rmtree(folder / "Madonna")
    os.symlink("Madonna", folder / "Madonna")  # a link to itself: the folder cannot be listed, even by root
    (folder / "Elton_John" / sorted(os.listdir(folder / "Elton_John"))[0]).unlink()  # one photo really gone
    with open_graph(store) as graph:
        before = snapshot(graph)
        with pytest.raises(SyncRefusedError, match=r"12 photos of .* cannot be seen .*Madonna"):
            graph.sync_folder(folder)
        assert snapshot(graph) == before
        report = graph.sync_folder(folder, allow_mass_removal=True)  # removes only what is seen to be gone
        assert (report.removed_photos, report.unseen) == (1, 12)
        assert sum(path.startswith(str(folder / "Madonna")) for path in snapshot(graph)[2]) == 12


def test_a_removed_photo_indexed_again_comes_back_with_its_corrections(copies, default_pipeline, tmp_path):
    store, folder = copies
    with open_graph(store) as graph:
        named = graph.list_persons(limit=1)[0]["person_id"]
        members = graph.get_person(named)["face_ids"]
        photos = {photo_path(graph.collection.photos([face.rsplit("_face", 1)[0]])[face.rsplit("_face", 1)[0]])
                  for face in members}
    kept = tmp_path / "kept"
    kept.mkdir()
    for n, path in enumerate(sorted(photos)):  # every photo of the named person leaves the folder ...
        shutil.move(path, kept / f"{n}.jpg")
    with open_graph(store, default_pipeline) as graph:
        graph.sync_folder(folder, allow_mass_removal=True)
        with pytest.raises(PersonNotFoundError):
            graph.get_person(named)
        graph.index([kept])  # ... and comes back, from another folder
        person = graph.get_person(named)
        assert person["name"] == "Somebody" and set(person["face_ids"]) == set(members)
        assert set(graph.records.pins()) >= set(members)
        graph.cluster_all()
        assert graph.get_person(named)["face_ids"] == person["face_ids"]
        consistent(graph)


@pytest.fixture
def small_disk(tmp_path, require):
    """A 300 MB file system of its own (tmpfs), to fill up; root mounts it (the engine's files are sparse and
    mapped into memory, so a full disk kills it with SIGBUS, which only a real full disk shows)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300M", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode:
        require(f"cannot mount a small file system to fill (needs root): {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_full_disk_refuses_every_command_and_leaves_the_store_intact(small_disk, datasets, default_pipeline):
    store = small_disk / "store"
    madonna = sorted((datasets / "five_celebs" / "Madonna").iterdir())
    with FaceGraph(store, pipeline=default_pipeline) as graph:
        graph.index(madonna[:6])
        graph.cluster_all()
        before = consistent(graph)
    filler = small_disk / "filler"
    with open(filler, "wb") as out:  # leave 20 MB free
        out.truncate(shutil.disk_usage(small_disk).free - 20 * 2**20)
    subprocess.run(["fallocate", "-l", str(filler.stat().st_size), str(filler)], check=True)
    person = next(iter(set(before.values())))
    for command in (["list-persons"], ["cluster-all"], ["index", madonna[6]], ["name-person", person, "Madonna"],
                    ["sync", madonna[0].parent], ["get-person", person]):
        code, output = run_cli("--store", store, *command)
        assert code == 1 and output.startswith(f"StoreFullError: no space left on {store}: "), (command, output)
        assert "MiB free" in output and "needed" in output
    filler.unlink()
    code, output = run_cli("--store", store, "list-persons", "--json")
    assert code == 0, output
    with open_graph(store) as graph:
        assert consistent(graph) == before


def test_a_photo_edited_in_place_replaces_its_old_faces_and_keeps_their_corrections(copies, default_pipeline):
    store, folder = copies
    with open_graph(store) as graph:
        named = graph.list_persons(limit=1)[0]
        face = graph.get_person(named["person_id"])["face_ids"][0]
        image_id = face.rsplit("_face", 1)[0]
        path = photo_path(graph.collection.photos([image_id])[image_id])
        photos, faces = graph.collection.photo_count(), graph.collection.face_count()
    with Image.open(path) as image:  # edited in place: brighter, saved again (new content, new image id)
        image.convert("RGB").point(lambda v: min(255, int(v * 1.15))).save(path, quality=90)
    with open_graph(store, default_pipeline) as graph:
        report = graph.index([folder])
        assert (report.indexed, report.already_indexed) == (1, 35)
        assert not graph.collection.is_known(image_id) and graph.collection.photo_count() == photos
        assert graph.collection.face_count() == faces  # the old version's faces are gone, not kept beside
        [new_face] = [f for f in report.new_face_ids if graph.collection.face(f).payload["person_id"] == named["person_id"]]
        person = graph.get_person(named["person_id"])
        assert person["name"] == "Somebody" and face not in person["face_ids"] and new_face in person["face_ids"]
        assert person["face_count"] == named["face_count"] and new_face in graph.records.pins()
        graph.cluster_all()
        assert new_face in graph.get_person(named["person_id"])["face_ids"]
        consistent(graph)


def test_remove_photos_drops_emptied_persons_and_the_pins_of_removed_faces(copies):
    store, _ = copies
    with open_graph(store) as graph:
        named = graph.list_persons(limit=1)[0]["person_id"]
        faces = graph.get_person(named)["face_ids"]
        photos = sorted({face.rsplit("_face", 1)[0] for face in faces})
        removed = graph.remove_photos(photos)
        assert removed >= len(faces)
        consistent(graph)
        with pytest.raises(PersonNotFoundError):
            graph.get_person(named)
        assert not any(graph.collection.is_known(photo) for photo in photos)
        assert graph.records.pins().keys().isdisjoint(faces)
