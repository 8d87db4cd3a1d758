"""The People page's library calls on real photos (five_celebs), the real models and the embedded Qdrant store: the
face gate's places, hiding a person, "not a face", names first and search, and one undo for corrections and answers."""

import shutil

import pytest

from facegraph.errors import InvalidRequestError
from facegraph.persons import FaceGraph
from facegraph.queries import PLACES
from facegraph.store.base import FACES, PERSONS, PHOTOS


@pytest.fixture
def graph(five_celebs_indexed, tmp_path, default_pipeline):
    """five_celebs, clustered at the default."""
    shutil.copytree(five_celebs_indexed[0], tmp_path / "store")
    with FaceGraph(tmp_path / "store", pipeline=default_pipeline) as graph:
        graph.cluster_all()
        yield graph


def person_of(graph) -> dict:
    return {p.payload["face_id"]: p.payload.get("person_id") for p in graph.store.scroll(FACES)}


def person_records(graph) -> dict:
    """What a person sees of each person record (not its times or the centroid recomputed from its faces)."""
    return {r.payload["person_id"]: {k: v for k, v in r.payload.items() if k not in ("updated_at", "centroid")}
            for r in graph.store.scroll(PERSONS) if not r.payload["person_id"].startswith("correction:")}


def all_people(graph, place: str, **options) -> list[dict]:
    return graph.people(place, limit=10_000, **options).persons


def test_the_face_gate_keeps_every_labeled_face_and_puts_background_persons_apart(graph, five_celebs_indexed):
    unsure = set(graph.collection.unsure_face_ids())
    assert unsure and not unsure & set(five_celebs_indexed[1])  # some faces are unsure, none of those a label names
    listing = {place: all_people(graph, place, min_faces=1) for place in PLACES}
    assert sum(map(len, listing.values())) == len(graph.collection.person_sizes())
    assert listing["unsure"] and not listing["small"] and not listing["hidden"]
    for person in listing["unsure"]:
        assert all(f in unsure for f in graph.get_person(person["person_id"])["face_ids"])
    for person in listing["persons"]:
        assert any(f not in unsure for f in graph.get_person(person["person_id"])["face_ids"])
    shown_at_two = {p["person_id"] for p in all_people(graph, "persons", min_faces=2)}
    assert shown_at_two == {p["person_id"] for p in listing["persons"] if p["face_count"] >= 2}
    assert graph.people("persons", min_faces=2).counts["small"] == len(listing["persons"]) - len(shown_at_two)


def test_named_persons_come_first_and_search_finds_them_in_any_place(graph):
    persons = all_people(graph, "persons")
    smallest = persons[-1]["person_id"]
    graph.name_person(smallest, "Zoë Example")
    graph.hide_person(persons[0]["person_id"])
    listed = all_people(graph, "persons")
    assert listed[0]["person_id"] == smallest and listed[0]["name"] == "Zoë Example"
    assert [p["face_count"] for p in listed[1:]] == sorted((p["face_count"] for p in listed[1:]), reverse=True)
    assert [p["person_id"] for p in all_people(graph, "persons", search="zoË")] == [smallest]
    graph.name_person(persons[0]["person_id"], "Hidden One")
    [found] = all_people(graph, "persons", search="hidden")
    assert found["place"] == "hidden" and found["hidden"]
    assert graph.queries.persons_named(" zoë example ") == [smallest]
    with pytest.raises(InvalidRequestError):
        graph.people("nowhere")


def test_a_hidden_person_stays_hidden_and_whole_through_reclusters(graph):
    person = all_people(graph, "persons")[0]
    faces = graph.get_person(person["person_id"])["face_ids"]
    graph.hide_person(person["person_id"])
    for threshold in (0.6, 0.25):  # a recluster that splits everyone, then the default
        graph.cluster_all(threshold=threshold)
        [hidden] = all_people(graph, "hidden")
        assert hidden["person_id"] == person["person_id"] and graph.get_person(hidden["person_id"])["face_ids"] == faces
    assert person["person_id"] not in {p["person_id"] for p in all_people(graph, "persons")}
    graph.hide_person(person["person_id"], hidden=False)
    assert not all_people(graph, "hidden")


def test_not_a_face_keeps_the_face_out_of_every_person_until_taken_back(graph):
    person = all_people(graph, "persons")[0]
    face = graph.get_person(person["person_id"])["face_ids"][-1]
    graph.mark_not_a_face(face)
    assert person_of(graph)[face] is None
    for threshold in (0.6, 0.25):
        graph.cluster_all(threshold=threshold)
        assert person_of(graph)[face] is None
    graph.assign_persons([face])
    assert person_of(graph)[face] is None
    assert face not in {f for q in graph.questions(limit=100) for side in q.shown for f in side}
    assert [f["face_id"] for f in graph.queries.not_faces()] == [face]
    placed = graph.mark_a_face(face)
    assert person_of(graph)[face] == placed and not graph.queries.not_faces()
    graph.cluster_all()
    assert person_of(graph)[face] is not None


def test_undo_puts_back_a_merge_a_split_a_name_and_not_a_face(graph):
    before = person_of(graph)
    records_before = person_records(graph)
    first, second = (p["person_id"] for p in all_people(graph, "persons")[:2])
    graph.name_person(second, "Second")
    graph.merge_persons([first, second])
    faces = graph.get_person(first)["face_ids"]
    graph.split_person(first, [faces[:2]])
    graph.mark_not_a_face(faces[-1])
    summaries = [graph.undo()["summary"] for _ in range(4)]
    assert summaries == ["marked not a face", "split 2 faces off", "merged 2 persons", "named Second"]
    assert person_of(graph) == before
    assert person_records(graph) == records_before
    assert graph.undo() is None


def test_one_undo_takes_the_latest_of_corrections_and_answers(graph):
    question = graph.questions(limit=1)[0]
    graph.answer(question, "skip")
    persons = all_people(graph, "persons")
    graph.hide_person(persons[0]["person_id"])
    assert graph.undo()["summary"] == "hid a person"
    assert not all_people(graph, "hidden")
    assert graph.undo()["kind"] == "answer" and not graph.records.answers()


def test_the_gate_is_kept_with_each_photo(graph):
    faces = [p.payload for p in graph.store.scroll(FACES)]
    unsure = set(graph.collection.unsure_face_ids())
    for photo in graph.store.scroll(PHOTOS):
        own = [f for f in faces if f["image_id"] == photo.payload["image_id"]]
        assert set(photo.payload["unsure_faces"]) == {f["face_id"] for f in own} & unsure
        assert (photo.payload["gate"] == "unsure") == bool(photo.payload["unsure_faces"])
        largest = max(own, key=lambda f: min(f["bbox"][2] - f["bbox"][0], f["bbox"][3] - f["bbox"][1]), default=None)
        assert largest is None or largest["face_id"] not in unsure or largest["quality_score"] < 14
