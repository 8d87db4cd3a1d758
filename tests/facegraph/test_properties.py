"""A property of the persons API (Hypothesis): whatever sequence of index, recluster, assign, corrections and
answers a person runs, every face has one person or none, every person listed has its record, every correction
holds, and every answer "no" keeps its faces apart (unless a later correction pinned both to one person)."""

import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facegraph.centroids import vector_sum
from facegraph.persons import FaceGraph
from facegraph.store.base import FACES, PERSONS
from facegraph.store.embedded import EmbeddedStore

CHUNKS = 4  # the photos arrive in this many imports


@pytest.fixture(scope="module")
def imports(datasets, default_pipeline):
    """Pipeline results of photos of three people (two photos of one person side by side would do too), in
    `CHUNKS` imports that mix the people."""
    paths = [photo for who in ("Madonna", "Elton_John", "Ben_Affleck")
             for photo in sorted((datasets / "five_celebs" / who).iterdir())[:6]]
    results = list(default_pipeline.run(paths))
    return Imports(results[k::CHUNKS] for k in range(CHUNKS))


class Imports(list):
    """The imports, shown short in Hypothesis's report of a failing example."""

    def __repr__(self) -> str:
        return f"<{len(self)} imports of {sum(map(len, self))} photos>"


number = st.integers(0, 10_000)
steps = st.lists(st.one_of(
    st.tuples(st.just("index"), st.integers(0, CHUNKS - 1), st.booleans()),
    st.tuples(st.just("cluster_all"), st.sampled_from([0.2, 0.28, 0.45, 0.7])),
    st.tuples(st.just("assign_person"), number),
    st.tuples(st.just("merge"), number, number),
    st.tuples(st.just("split"), number),
    st.tuples(st.just("reassign"), number, number),
    st.tuples(st.just("name"), number),
    st.tuples(st.just("remove_photos"), st.integers(0, CHUNKS - 1)),
    st.tuples(st.just("answer"), number, st.sampled_from(["yes", "no", "skip"])),
), min_size=1, max_size=9)


def persons_of(graph) -> dict[str, str | None]:
    return {p.payload["face_id"]: p.payload["person_id"] for p in graph.store.scroll(FACES)}


def run_step(graph, step, imports, pinned: dict, apart: list):
    """Do one step; `pinned` (face id -> person id) is what the corrections and answers "yes" so far say, `apart`
    the pairs of faces answers "no" keep apart. Returns a recluster's report."""
    person_ids = sorted(p["person_id"] for p in graph.list_persons(limit=1000))
    faces = sorted(persons_of(graph))
    kind = step[0]
    if kind == "index":
        graph.add_photos(imports[step[1]], assign=step[2])
    elif kind == "cluster_all":
        return graph.cluster_all(threshold=step[1])
    elif kind == "assign_person" and faces:
        graph.assign_person(faces[step[1] % len(faces)])
    elif kind == "merge" and len(person_ids) >= 2:
        first = person_ids[step[1] % len(person_ids)]
        second = [p for p in person_ids if p != first][step[2] % (len(person_ids) - 1)]
        merged = graph.get_person(first)["face_ids"] + graph.get_person(second)["face_ids"]
        kept = graph.merge_persons([first, second])
        pinned.update(dict.fromkeys(merged, kept))
    elif kind == "split" and person_ids:
        person_id = person_ids[step[1] % len(person_ids)]
        members = graph.get_person(person_id)["face_ids"]
        if len(members) >= 2:
            [new_id] = graph.split_person(person_id, [members[: len(members) // 2]])
            pinned.update(dict.fromkeys(members[: len(members) // 2], new_id) | dict.fromkeys(members[len(members) // 2 :], person_id))
    elif kind == "reassign" and faces and person_ids:
        face, person_id = faces[step[1] % len(faces)], person_ids[step[2] % len(person_ids)]
        graph.reassign_face(face, person_id)
        pinned[face] = person_id
    elif kind == "name" and person_ids:
        person_id = person_ids[step[1] % len(person_ids)]
        graph.name_person(person_id, f"person {step[1]}")
        pinned.update(dict.fromkeys(graph.get_person(person_id)["face_ids"], person_id))
    elif kind == "answer" and (asked := graph.questions(limit=20)):
        question, reply = asked[step[1] % len(asked)], step[2]
        members = [graph.get_person(p)["face_ids"] for p in question.person_ids]
        graph.answer(question, reply)
        if reply == "yes" and question.kind == "same_person":
            kept = persons_of(graph)[question.shown[0][0]]
            pinned.update(dict.fromkeys(members[0] + members[1], kept))
        elif reply == "yes":
            pinned[question.face_id] = question.person_ids[0]
        elif reply == "no":
            apart.extend((a, b) for a in question.shown[0] for b in question.shown[1])
    elif kind == "remove_photos":
        photos = {photo.image_id for photo in imports[step[1]]}
        graph.remove_photos(photos)
        for face in [f for f in pinned if f.rsplit("_face", 1)[0] in photos]:
            del pinned[face]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=steps)
def test_every_face_has_one_person_or_none_and_every_correction_holds(imports, steps, monkeypatch):
    monkeypatch.setattr("facegraph.centroids.CENTROID_FROM", 3)  # only persons of 3 faces or more keep a centroid
    pinned: dict[str, str] = {}
    apart: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as folder, FaceGraph(store=EmbeddedStore(folder), pipeline=lambda: None) as graph:
        for n, step in enumerate(steps):
            report = run_step(graph, step, imports, pinned, apart)
            where = f"after step {n} {step} of {steps}"
            if step[0] == "cluster_all":  # every cluster has its own person id
                assert report.persons == report.clusters, where
            person_of = persons_of(graph)
            records = {p.payload["person_id"]: p.payload for p in graph.store.scroll(PERSONS)}
            assert {p for p in person_of.values() if p} <= set(records), where  # every face's person has a record
            listed = graph.list_persons(limit=1000)
            assert {p["person_id"] for p in listed} == {p for p in person_of.values() if p}, where
            assert sum(p["face_count"] for p in listed) == sum(p is not None for p in person_of.values()), where
            assert all(person_of[face] == person for face, person in pinned.items()), where  # corrections hold
            assert set(pinned) <= set(person_of), where  # no pin outlives its face
            for a, b in apart:  # answers "no" hold, unless a later correction pinned both faces to one person
                if person_of.get(a) and person_of.get(b) and not (pinned.get(a) and pinned.get(a) == pinned.get(b)):
                    assert person_of[a] != person_of[b], (where, a, b)
            for person_id, record in records.items():  # a stored centroid is that of the person's faces
                if record.get("centroid"):
                    faces = graph.collection.read_faces(where={"person_id": person_id})
                    assert record["centroid"]["count"] == len(faces) == sum(record["centroid"]["levels"]), where
                    np.testing.assert_allclose(vector_sum(record["centroid"]), faces.vectors.sum(axis=0), atol=1e-4, err_msg=where)
