"""The `facegraph` commands of questions and answers: `questions`, `answer`, `undo-answer`, `retune`."""

from __future__ import annotations

from dataclasses import asdict

import click

from facegraph.cli_options import echo_items, echo_json, json_option


def describe(question) -> str:
    sides = " and ".join(f"{p} ({n})" for p, n in zip(question.person_ids, question.face_counts))
    what = f"is {question.face_id} {sides}?" if question.face_id else f"are {sides} one person?"
    return f"{question.gain:8.3f}  p(yes) {question.probability:.3f}  {what}  [{question.key}]"


@click.command("questions")
@click.option("--limit", type=int, default=10, show_default=True, help="How many questions to ask.")
@json_option
@click.pass_obj
def questions(settings, limit, as_json):
    """The questions whose answers are expected to fix the most, first (answer them with `facegraph answer`)."""
    with settings.graph() as graph:
        asked = graph.questions(limit)
    echo_items(asked, as_json, as_dict=lambda q: asdict(q) | {"key": q.key}, line=describe)


@click.command("answer")
@click.argument("key")
@click.argument("reply", type=click.Choice(["yes", "no", "skip"]))
@click.pass_obj
def answer(settings, key, reply):
    """Answer the open question KEY (as `facegraph questions` shows it) with REPLY; kept for good."""
    with settings.graph() as graph:
        record = graph.answer(graph.answers.open_question(key), reply)
    click.echo(f"{reply}: {key} (kept as {record['person_id']}; `facegraph undo-answer` takes it back)")


@click.command("undo-answer")
@click.pass_obj
def undo_answer(settings):
    """Undo the last answer: the persons it changed are put back as they were."""
    with settings.graph() as graph:
        undone = graph.undo_answer()
    click.echo(f"undone: {undone['reply']} to {undone['key']}" if undone else "no answer to undo")


@click.command("retune")
@json_option
@click.pass_obj
def retune(settings, as_json):
    """Fit the collection's τ and connect bar to its answers, and recluster if they agree with more of them."""
    with settings.graph() as graph:
        done = graph.retune()
    if as_json:
        echo_json({"before": done.before.to_dict(), "after": done.after.to_dict(), "answers": done.answers,
                   "agreed_before": done.agreed_before, "agreed_after": done.agreed_after,
                   "persons_joined": done.persons_joined, "message": done.message})
    else:
        click.echo(done.message)


COMMANDS = (questions, answer, undo_answer, retune)
