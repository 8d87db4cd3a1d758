"""The simulated reviewer, the measure of facegraph's questions and answers.

A labeled set's faces go into a real embedded store and are clustered at a setting (default: the shipped one);
then, answer after answer, the reviewer asks for the next question through the call the review page makes
(`FaceGraph.questions`), answers it from the labels as a careful person would, and applies the answer through the
persons API (`FaceGraph.answer`); BCubed and pairwise F1 are scored after every answer. The labels only answer:
the questions and their order see nothing but the collection and the answers given so far.

A careful person says "yes" to two persons when most labeled faces of both are one identity, "no" when they are two,
and "skip" when either has no labeled face (people in the background); to "is this face this person?" likewise by
the face's own label. A skip counts as an answer.

    python -m evaluation.reviewer lfw five_celebs [--answers 0,5,10,20,50,100]

prints, last, a Markdown table `| set | 0 | 5 | ... |` of BCubed F1 (one row per set); each set is an MLflow run
(experiment `facegraph-reviewer`) with F1 as a step metric and a plot of F1 against answers.
"""

from __future__ import annotations

import tempfile
from collections import Counter

import click
from tqdm import tqdm

from evaluation.embeddings import LabeledEmbeddings
from evaluation.incremental import synthetic_payload
from evaluation.metrics import bcubed_scores, pairwise_scores
from facegraph.cluster_settings import ClusterSettings
from facegraph.persons import FaceGraph
from facegraph.questions import Question
from facegraph.store.embedded import EmbeddedStore

EXPERIMENT = "facegraph-reviewer"
DEFAULT_ANSWERS = (0, 5, 10, 20, 50, 100)


class LabeledReviewer:
    """Answers questions about one labeled set's faces from its labels."""

    def __init__(self, embeddings: LabeledEmbeddings):
        faces, identities = embeddings.scored()
        self.identity = {str(embeddings.face_ids[f]): str(who) for f, who in zip(faces, identities)}
        self.labeled = [str(embeddings.face_ids[f]) for f in faces]
        self.truth = [str(who) for who in identities]

    def majority(self, face_ids) -> str | None:
        """The identity most labeled faces among `face_ids` have (None: none is labeled)."""
        votes = Counter(self.identity[f] for f in face_ids if f in self.identity)
        return min(votes, key=lambda who: (-votes[who], who)) if votes else None

    def reply(self, graph: FaceGraph, question: Question) -> str:
        members = [graph.collection.face_ids_of(person) for person in question.person_ids]
        if question.kind == "same_person":
            first, second = self.majority(members[0]), self.majority(members[1])
        else:
            first = self.identity.get(question.face_id)
            second = self.majority([f for f in members[0] if f != question.face_id])
        if first is None or second is None:
            return "skip"
        return "yes" if first == second else "no"

    def scores(self, graph: FaceGraph) -> dict:
        person_of = graph.collection.person_of_each(self.labeled)
        predicted = [person_of.get(face) or face for face in self.labeled]
        return {"bcubed_f1": bcubed_scores(self.truth, predicted)[2],
                "pairwise_f1": pairwise_scores(self.truth, predicted)[2]}


def fill(graph: FaceGraph, embeddings: LabeledEmbeddings) -> None:
    """Every face of the set into the store, as indexing would put it (ids, vectors, quality, box sizes, photos)."""
    keys = [str(face_id) for face_id in embeddings.face_ids]
    graph.collection.add_faces(keys, embeddings.vectors, [
        synthetic_payload(key, float(q), float(side)) for key, q, side in zip(keys, embeddings.quality, embeddings.face_sizes)])


def review(embeddings: LabeledEmbeddings, answers: int, settings: ClusterSettings | None = None, *,
           retune_every: int = 0, progress: bool = True) -> list[dict]:
    """The scores before any answer and after each of `answers` answers (fewer if the questions run out), each
    with the answer given; with `retune_every`, the collection re-tunes its bars to the answers after every so
    many answers (`FaceGraph.retune`)."""
    reviewer = LabeledReviewer(embeddings)
    with tempfile.TemporaryDirectory() as folder, FaceGraph(store=EmbeddedStore(folder), pipeline=lambda: None,
                                                            settings=settings) as graph:
        fill(graph, embeddings)
        graph.cluster_all()
        trail = [reviewer.scores(graph) | {"answers": 0, "reply": None}]
        for n in tqdm(range(1, answers + 1), desc=f"answering {embeddings.set_name}", disable=not progress):
            asked = graph.questions(limit=1)
            if not asked:
                break
            reply = reviewer.reply(graph, asked[0])
            graph.answer(asked[0], reply)
            retuned = graph.retune().message if retune_every and n % retune_every == 0 else None
            trail.append(reviewer.scores(graph) | {"answers": n, "reply": reply, "kind": asked[0].kind,
                                                   "probability": asked[0].probability, "retune": retuned})
    return trail


def at(trail: list[dict], answers: int) -> float:
    """BCubed F1 after `answers` answers (the last score if the questions ran out before)."""
    return next((row["bcubed_f1"] for row in trail if row["answers"] == answers), trail[-1]["bcubed_f1"])


def largest_drop(trail: list[dict]) -> float:
    """The most BCubed F1 one answer took away (0 if none did)."""
    return max([0.0] + [before["bcubed_f1"] - after["bcubed_f1"] for before, after in zip(trail, trail[1:])])


def table(trails: dict[str, list[dict]], points: list[int]) -> str:
    lines = ["| set | " + " | ".join(map(str, points)) + " |", "|---|" + "---:|" * len(points)]
    lines += [f"| {name} | " + " | ".join(f"{at(trail, p):.4f}" for p in points) + " |" for name, trail in trails.items()]
    return "\n".join(lines)


def log_review(embeddings: LabeledEmbeddings, trail: list[dict], settings: ClusterSettings,
               tracking_uri: str | None = None, retune_every: int = 0) -> str:
    """One MLflow run: the settings, F1 after each answer as a step metric, the replies, and the plot."""
    import mlflow
    from matplotlib.figure import Figure

    from evaluation.tracking import dataset_input, use_experiment

    use_experiment(EXPERIMENT, tracking_uri)
    with mlflow.start_run(run_name=f"reviewer {embeddings.set_name}") as run:
        mlflow.log_input(dataset_input(embeddings), context="evaluation")
        mlflow.log_params(settings.parameters() | {"set": embeddings.set_name, "answers": trail[-1]["answers"],
                                                   "retune_every": retune_every})
        for row in trail:
            mlflow.log_metrics({"bcubed_f1": row["bcubed_f1"], "pairwise_f1": row["pairwise_f1"]}, step=row["answers"])
        mlflow.log_metric("largest_drop", largest_drop(trail))
        mlflow.log_dict({"trail": trail}, "answers.json")
        figure = Figure(figsize=(5, 3.4))
        axis = figure.subplots()
        axis.plot([r["answers"] for r in trail], [r["bcubed_f1"] for r in trail], "C0-", label="BCubed F1")
        axis.plot([r["answers"] for r in trail], [r["pairwise_f1"] for r in trail], "C1--", label="pairwise F1")
        axis.set_xlabel("answers")
        axis.set_ylabel("F1")
        axis.set_title(f"{embeddings.set_name} at {settings.name}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
        figure.tight_layout()
        mlflow.log_figure(figure, "f1_vs_answers.png")
        return run.info.run_id


@click.command()
@click.argument("labeled_sets", nargs=-1, required=True)
@click.option("--answers", "points", default=",".join(map(str, DEFAULT_ANSWERS)), show_default=True,
              help="Numbers of answers to report F1 after (the reviewer answers up to the largest).")
@click.option("--retune-every", type=int, default=0, show_default=True,
              help="Re-tune the collection's bars to the answers after every so many answers (0: never).")
@click.option("--tracking-uri", help="MLflow tracking URI (default: the local store in the data folder).")
def main(labeled_sets, points, retune_every, tracking_uri) -> None:
    """Answer facegraph's questions on labeled sets from their labels; print F1 against answers."""
    from evaluation.sweep import load_sets
    from facegraph.pipeline import FacePipeline

    points = sorted({int(p) for p in points.split(",")})
    settings = ClusterSettings()
    trails = {}
    for embeddings in load_sets(list(labeled_sets), FacePipeline.from_names()):
        trail = review(embeddings, max(points), settings, retune_every=retune_every)
        run_id = log_review(embeddings, trail, settings, tracking_uri, retune_every)
        replies = Counter(row["reply"] for row in trail[1:])
        click.echo(f"{embeddings.set_name}: {len(trail) - 1} answers ({dict(replies)}), largest drop of F1 from one "
                   f"answer {largest_drop(trail):.4f}, MLflow run {run_id}")
        trails[embeddings.set_name] = trail
        for row in trail:
            if row.get("retune"):
                click.echo(f"  after {row['answers']} answers: {row['retune']}")
    click.echo(f"\nBCubed F1 after n answers, at {settings.name}"
               f"{f', re-tuned every {retune_every} answers' if retune_every else ''}:\n")
    click.echo(table(trails, points))


if __name__ == "__main__":
    main()
