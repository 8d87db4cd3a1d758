"""Questions and answers on real photos (five_celebs), the real models and the embedded Qdrant store."""

import shutil
from collections import Counter

import pytest

from facegraph.errors import InvalidRequestError, StaleQuestionError
from facegraph.persons import FaceGraph
from facegraph.store.base import FACES

SPLIT_TAU = 0.6  # well above the default: five_celebs' identities fall apart into several persons each


@pytest.fixture
def indexed(five_celebs_indexed):
    return five_celebs_indexed


@pytest.fixture
def graph(indexed, tmp_path, default_pipeline):
    shutil.copytree(indexed[0], tmp_path / "store")
    with FaceGraph(tmp_path / "store", pipeline=default_pipeline) as graph:
        yield graph


def person_of(graph) -> dict:
    return {p.payload["face_id"]: p.payload.get("person_id") for p in graph.store.scroll(FACES)}


def majority(graph, person_id, identity) -> str | None:
    votes = Counter(identity[f] for f in graph.collection.face_ids_of(person_id) if f in identity)
    return votes.most_common(1)[0][0] if votes else None


def first_true_split(graph, identity):
    """The first question that asks to join two persons of one identity (after the split at SPLIT_TAU)."""
    for question in graph.questions(limit=50):
        if question.kind == "same_person":
            a, b = (majority(graph, p, identity) for p in question.person_ids)
            if a is not None and a == b:
                return question
    raise AssertionError("no question joins two persons of one identity")


def test_the_first_question_joins_a_person_split_in_two(graph, indexed):
    identity = indexed[1]
    graph.cluster_all(threshold=SPLIT_TAU)
    persons = Counter(majority(graph, p["person_id"], identity) for p in graph.list_persons(limit=1000))
    assert any(count > 1 for who, count in persons.items() if who), persons  # a known split to find
    [first] = graph.questions(limit=1)
    assert first.kind == "same_person" and first.probability > 0.5
    a, b = (majority(graph, p, identity) for p in first.person_ids)
    assert a is not None and a == b, (first, a, b)
    assert 0 < first.gain <= first.probability * first.face_counts[0] * first.face_counts[1]  # pairs put right
    asked = graph.questions(limit=50)
    assert [q.gain for q in asked] == sorted((q.gain for q in asked), reverse=True)
    assert {q.kind for q in asked} == {"same_person", "face_person"}
    assignments = person_of(graph)
    for question in asked:  # what is shown of each person is that person's
        sides = question.shown[1:] if question.kind == "face_person" else question.shown
        assert all(assignments[f] == p for p, side in zip(question.person_ids, sides) for f in side), question
        assert question.face_id is None or assignments[question.face_id] == question.person_ids[0]


def test_yes_merges_the_two_persons_and_a_stale_question_is_refused(graph, indexed):
    graph.cluster_all(threshold=SPLIT_TAU)
    question = first_true_split(graph, indexed[1])
    persons_before = len(graph.list_persons(limit=1000))
    record = graph.answer(question, "yes")
    assert record["reply"] == "yes" and record["answered_at"]
    assignments = person_of(graph)
    assert len({assignments[f] for side in question.shown for f in side}) == 1
    assert len(graph.list_persons(limit=1000)) == persons_before - 1
    with pytest.raises(StaleQuestionError):
        graph.answer(question, "no")
    assert person_of(graph) == assignments and len(graph.records.answers()) == 1
    with pytest.raises(InvalidRequestError, match="yes, no, skip"):
        graph.answer(graph.questions(limit=1)[0], "maybe")


def test_no_keeps_two_persons_apart_through_three_reclusters(graph, indexed):
    graph.cluster_all(threshold=SPLIT_TAU)
    question = first_true_split(graph, indexed[1])  # the default would join these two: a "no" must hold anyway
    graph.answer(question, "no")
    for changes in ({}, {"threshold": 0.2}, {"method": "components", "threshold": 0.3}):
        graph.cluster_all(**changes)
        assignments = person_of(graph)
        side_a = {assignments[f] for f in question.shown[0]}
        side_b = {assignments[f] for f in question.shown[1]}
        assert side_a.isdisjoint(side_b), changes
        assert question.key not in {q.key for q in graph.questions(limit=100)}
        assert all(not set(s.person_ids) & side_a or not set(s.person_ids) & side_b
                   for s in graph.suggest_merges(limit=100))


def test_not_this_person_keeps_the_face_out_through_reclusters_and_assign_person(graph):
    graph.cluster_all()
    question = next(q for q in graph.questions(limit=100) if q.kind == "face_person")
    person = question.person_ids[0]
    graph.answer(question, "no")
    shown = question.shown[1]
    for step in ("answered", "cluster_all", "assign_person", "cluster_all at 0.2"):
        if step == "cluster_all":
            graph.cluster_all()
        elif step == "assign_person":
            graph.assign_person(question.face_id)
        elif step == "cluster_all at 0.2":
            graph.cluster_all(threshold=0.2)
        assignments = person_of(graph)
        assert assignments[question.face_id] not in {assignments[f] for f in shown}, step
    assert person_of(graph)[question.face_id] != person or person not in person_of(graph).values()


def test_undo_puts_the_persons_back_as_they_were_before_the_answer(graph, indexed):
    graph.cluster_all(threshold=SPLIT_TAU)
    before = person_of(graph)
    records = {p["person_id"]: (p["name"], p["representative_face_id"]) for p in graph.list_persons(limit=1000)}
    question = first_true_split(graph, indexed[1])
    graph.answer(question, "yes")
    assert person_of(graph) != before
    undone = graph.undo_answer()
    assert undone["key"] == question.key
    assert person_of(graph) == before
    assert {p["person_id"]: (p["name"], p["representative_face_id"]) for p in graph.list_persons(limit=1000)} == records
    assert graph.records.answers() == [] and graph.records.pins() == {}
    face_question = next(q for q in graph.questions(limit=100) if q.kind == "face_person")
    graph.answer(face_question, "no")
    graph.undo_answer()
    assert person_of(graph) == before
    assert graph.undo_answer() is None


def test_a_retune_fits_the_bars_to_the_answers_and_keeps_every_no(graph, indexed, tmp_path, default_pipeline,
                                                                  monkeypatch):
    from facegraph.cluster_settings import ClusterSettings

    monkeypatch.setattr("facegraph.tuning.MIN_ANSWERS", 3)  # five_celebs gives only a few pair answers

    identity, strict = indexed[1], ClusterSettings(threshold=0.31, connect_threshold=0.45)  # bars that split people
    graph.reclustering.settings = strict
    graph.cluster_all()
    nos = []
    for _ in range(12):
        question = next((q for q in graph.questions(limit=50) if q.kind == "same_person"), None)
        if question is None:
            break
        a, b = (majority(graph, p, identity) for p in question.person_ids)
        reply = "skip" if a is None or b is None else "yes" if a == b else "no"
        graph.answer(question, reply)
        nos += [question] if reply == "no" else []
    persons = len(graph.list_persons(limit=1000))
    retune = graph.retune()
    assert retune.after != strict and retune.agreed_after > retune.agreed_before, retune
    assert retune.after.threshold < strict.threshold and graph.settings == retune.after
    assert retune.persons_joined == persons - len(graph.list_persons(limit=1000)) >= 0
    assert "from" in retune.message and "persons joined" in retune.message
    graph.close()
    with FaceGraph(tmp_path / "store", pipeline=default_pipeline) as reopened:  # the collection keeps its bars
        assert reopened.settings == retune.after
        assignments = person_of(reopened)
        for question in nos:
            assert {assignments[f] for f in question.shown[0]}.isdisjoint({assignments[f] for f in question.shown[1]})


def test_a_split_off_subject_is_asked_before_a_stranger_in_the_background():
    import numpy as np

    from facegraph.constraints import Faces
    from facegraph.questions import pair_questions, ranked, subject_probability

    rng = np.random.default_rng(0)
    directions = rng.normal(size=(3, 64))
    vectors = np.vstack([np.repeat(directions[:2], 4, axis=0), directions[2:]]) + 0.3 * rng.normal(size=(9, 64))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.array([0, 0, 0, 1, 2, 2, 2, 3, 4])  # two persons of three faces, each with a face split off
    photos = [f"p{n}" for n in range(8)] + ["p7"]  # face 7 is small beside a large face of someone else
    sides = np.array([120.0] * 7 + [20.0, 150.0])
    subject = subject_probability(sides, photos, np.full(9, 25.0))
    assert subject[7] < 0.2 < 0.8 < subject[3]
    faces = Faces(vectors.astype(np.float32), np.unique(photos, return_inverse=True)[1], quality=np.full(9, 25.0))
    asked = ranked(pair_questions(labels, faces, list("abcde"), [f"f{n}" for n in range(9)], subject=subject), 20)
    keys = [q.key for q in asked]
    assert "same_person|a|b|" in keys and keys.index("same_person|a|b|") < keys.index("same_person|c|d|")


def test_bars_move_only_when_clearly_more_answers_agree():
    import numpy as np

    from facegraph.cluster_settings import ClusterSettings
    from facegraph.tuning import Evidence, fit_bars

    strict = ClusterSettings(threshold=0.29, connect_threshold=0.43)
    yes = Evidence(np.full(12, 0.27), np.full(12, 0.42), np.full(12, 25.0), np.ones(12, bool))  # split, said one
    fitted = fit_bars(yes, strict)
    assert fitted.threshold <= 0.27 and fitted.connect_bar <= 0.42 and yes.agreeing(fitted) == 12
    default = ClusterSettings()  # quality-aware linking keeps the default's gap between τ and the poor faces' bar
    assert fitted.threshold - fitted.poor_threshold == pytest.approx(default.threshold - default.poor_threshold)
    mixed = Evidence(np.r_[np.full(6, 0.27), 0.26, np.full(5, 0.2)], np.full(12, 0.42), np.full(12, 25.0),
                     np.r_[np.ones(6, bool), np.zeros(6, bool)])  # τ 0.27 agrees with one more answer: not enough
    assert fit_bars(mixed, ClusterSettings()) == ClusterSettings()
    assert fit_bars(Evidence(*(a[:5] for a in (yes.average, yes.closest, yes.quality, yes.joined))), strict) == strict


def test_the_faces_a_no_keeps_apart_are_looked_up_by_the_face(tmp_path):
    from facegraph.person_records import ANSWER, PersonRecords
    from facegraph.store.embedded import EmbeddedStore

    with EmbeddedStore(tmp_path / "store") as store:
        records = PersonRecords(store)
        records.put([{"person_id": f"{ANSWER}:1", "kind": ANSWER, "reply": "no", "shown": [["a", "b"], ["c"]],
                      "shown_faces": ["a", "b", "c"], "order": 1},
                     {"person_id": f"{ANSWER}:2", "kind": ANSWER, "reply": "skip", "shown": [["a"], ["d"]],
                      "shown_faces": ["a", "d"], "order": 2}])
        assert records.kept_apart_from("a") == {"c"} and records.kept_apart_from("c") == {"a", "b"}
        assert records.kept_apart_from("d") == set()  # a skip keeps nothing apart
