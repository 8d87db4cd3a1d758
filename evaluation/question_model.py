"""Fit the probability of "yes" that ranks facegraph's questions (`facegraph.questions`) on the labeled dev sets.

Each set is clustered at the shipped default and at higher τ (where persons are split, as on harder collections),
the questions are made as `FaceGraph.questions` makes them, and each is labeled by the set's identities: two
persons are one when most labeled faces of both are one identity; a face is its person's when its label is the
majority of the person's other labeled faces; a face is a photo's subject when it is the face the set labels. A
logistic regression of the measured features is fitted for each (pair, face, subject), scored per set (log loss,
Brier score, AUC) and written to `facegraph/question_model.json` with the MLflow run (experiment
`facegraph-questions`) that records the fit.

    python -m evaluation.question_model [SET...]   # default: every dev set
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from evaluation.embeddings import LabeledEmbeddings
from evaluation.sweep import DEV_SETS, faces_of, labels_for, load_sets
from facegraph import questions
from facegraph.cluster_settings import ClusterSettings

EXPERIMENT = "facegraph-questions"
TAUS = (None, 0.35, 0.45)  # the default's τ, then two that split persons
MODEL_FILE = Path(questions.__file__).with_name("question_model.json")


def majorities(labels: np.ndarray, embeddings: LabeledEmbeddings) -> dict[int, str]:
    faces, identities = embeddings.scored()
    votes: dict[int, Counter] = {}
    for face, who in zip(faces, identities):
        votes.setdefault(int(labels[face]), Counter())[str(who)] += 1
    return {label: min(c, key=lambda who: (-c[who], who)) for label, c in votes.items()}


def pair_examples(embeddings: LabeledEmbeddings, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features and truth of every candidate pair whose two persons hold labeled faces."""
    faces = faces_of(embeddings)
    pairs = questions.candidate_pairs(labels, faces)
    identity = majorities(labels, embeddings)
    judged = np.array([a in identity and b in identity for a, b in pairs.tolist()], dtype=bool)
    pairs = pairs[judged] if len(pairs) else pairs
    truth = np.array([identity[a] == identity[b] for a, b in pairs.tolist()], dtype=np.int64)
    features = questions.pair_features(labels, faces, pairs) if len(pairs) else np.zeros((0, len(questions.PAIR_FEATURES)))
    return features, truth


def face_examples(embeddings: LabeledEmbeddings, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features and truth of every labeled face of a person of three faces or more with other labeled faces."""
    faces = faces_of(embeddings)
    features = questions.face_features(labels, faces)
    scored, identities = embeddings.scored()
    counts = np.bincount(labels)
    rows, truth = [], []
    by_person: dict[int, list[int]] = {}
    for n, face in enumerate(scored):
        by_person.setdefault(int(labels[face]), []).append(n)
    for person, members in by_person.items():
        if counts[person] < 3 or len(members) < 2:
            continue
        for n in members:
            others = Counter(str(identities[m]) for m in members if m != n)
            rows.append(int(scored[n]))
            truth.append(int(str(identities[n]) == min(others, key=lambda who: (-others[who], who))))
    return features[rows], np.array(truth, dtype=np.int64)


def subject_examples(embeddings: LabeledEmbeddings) -> tuple[np.ndarray, np.ndarray]:
    """Features and truth of every face: whether it is the face its photo's label names."""
    truth = np.zeros(len(embeddings.face_ids), dtype=np.int64)
    truth[embeddings.main_faces[embeddings.main_faces >= 0]] = 1
    return questions.subject_features(embeddings.face_sizes, embeddings.image_ids, embeddings.quality), truth


def fit(features: np.ndarray, truth: np.ndarray) -> dict:
    model = LogisticRegression(C=1.0, max_iter=1000).fit(features, truth)
    return {"weights": [round(float(w), 4) for w in model.coef_[0]], "bias": round(float(model.intercept_[0]), 4)}


def quality(model: dict, features: np.ndarray, truth: np.ndarray) -> dict:
    p = questions.probability(features, model)
    both = len(set(truth.tolist())) == 2
    return {"examples": int(len(truth)), "yes_share": float(truth.mean()) if len(truth) else 0.0,
            "log_loss": float(log_loss(truth, p, labels=[0, 1])) if len(truth) else float("nan"),
            "brier": float(brier_score_loss(truth, p)) if len(truth) else float("nan"),
            "auc": float(roc_auc_score(truth, p)) if both else float("nan")}


@click.command()
@click.argument("labeled_sets", nargs=-1)
@click.option("--tracking-uri", help="MLflow tracking URI (default: the local store in the data folder).")
def main(labeled_sets, tracking_uri) -> None:
    """Fit and record the question model on the labeled sets."""
    import mlflow

    from evaluation.tracking import dataset_input, use_experiment
    from facegraph.pipeline import FacePipeline

    sets = load_sets(list(labeled_sets) or list(DEV_SETS), FacePipeline.from_names())
    default = ClusterSettings()
    examples = {"pair": {}, "face": {}, "subject": {}}
    for embeddings in sets:
        examples["subject"][(embeddings.set_name, None)] = subject_examples(embeddings)
        for tau in TAUS:
            labels = labels_for(embeddings, default if tau is None else default.with_(threshold=tau))
            examples["pair"][(embeddings.set_name, tau)] = pair_examples(embeddings, labels)
            examples["face"][(embeddings.set_name, tau)] = face_examples(embeddings, labels)
    use_experiment(EXPERIMENT, tracking_uri)
    with mlflow.start_run(run_name="question model") as run:
        for embeddings in sets:
            mlflow.log_input(dataset_input(embeddings), context="training")
        record = {"run_id": run.info.run_id, "sets": [e.set_name for e in sets], "taus": [t or default.threshold for t in TAUS],
                  "settings": default.parameters()}
        for kind, names in (("pair", questions.PAIR_FEATURES), ("face", questions.FACE_FEATURES),
                            ("subject", questions.SUBJECT_FEATURES)):
            features = np.concatenate([f for f, _ in examples[kind].values()])
            truth = np.concatenate([t for _, t in examples[kind].values()])
            model = fit(features, truth)
            record[kind] = model | {"features": list(names)}
            mlflow.log_params({f"{kind}.{name}": w for name, w in zip(names, model["weights"])} | {f"{kind}.bias": model["bias"]})
            for (name, tau), (f, t) in examples[kind].items():
                scores = quality(model, f, t)
                mlflow.log_metrics({f"{kind}.{name}.tau{tau or default.threshold}.{key}": value
                                    for key, value in scores.items() if np.isfinite(value)})
                click.echo(f"{kind} {name} τ {tau or default.threshold}: " + ", ".join(
                    f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}" for key, value in scores.items()))
        MODEL_FILE.write_text(json.dumps(record, indent=1) + "\n")
        mlflow.log_dict(record, "question_model.json")
    click.echo(f"written {MODEL_FILE} (MLflow run {run.info.run_id}):\n{json.dumps(record, indent=1)}")


if __name__ == "__main__":
    main()
