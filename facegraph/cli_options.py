"""The command line's options, made from the settings models rather than restated, and its output helpers."""

from __future__ import annotations

import json
from dataclasses import fields

import click

from facegraph.cluster_settings import METHOD_NAMES, ClusterSettings
from facegraph.settings import Settings

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
DEFAULT = ClusterSettings()


def counted(number: int, noun: str) -> str:
    """"1 face", "2 faces"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


class OrNone(click.ParamType):
    """A value of `of`, or "none"."""

    def __init__(self, of: click.ParamType):
        self.of, self.name = of, f"{of.name}|none"

    def convert(self, value, param, ctx):
        none = value is None or (isinstance(value, str) and value.lower() == "none")
        return None if none else self.of.convert(value, param, ctx)


def cluster_options(command):
    """An option for every `ClusterSettings` field, with its help and default, also read from FACEGRAPH_<FIELD>."""
    kinds = {"str": {"type": click.Choice(sorted(METHOD_NAMES))}, "float": {"type": float}, "int": {"type": int},
             "float | None": {"type": OrNone(click.FLOAT)}, "bool | None": {"type": OrNone(click.BOOL)},
             "tuple[float, float]": {"type": float, "nargs": 2}}
    for spec in reversed(fields(ClusterSettings)):
        command = click.option(f"--{spec.name.replace('_', '-')}", spec.name, default=getattr(DEFAULT, spec.name),
                               envvar=f"FACEGRAPH_{spec.name.upper()}", show_default=True, show_envvar=True,
                               help=spec.metadata["help"], **kinds[spec.type])(command)
    return command


def given(options: dict) -> dict:
    """The cluster options the user gave (on the command line or as FACEGRAPH_* variables), without those left at
    their defaults: the rest are the collection's own (a collection re-tuned by its answers keeps its bars)."""
    context = click.get_current_context()
    return {name: value for name, value in options.items()
            if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}


def model_options(command):
    """--detector, --embedder and --model-dir, for the commands that run the models."""
    for option in reversed([
        click.option("--detector", help='"retinaface" (default), "scrfd", or a detector ONNX file. Env: FACEGRAPH_DETECTOR.'),
        click.option("--embedder", help='"arcface" (default) or an ArcFace-style ONNX file. Env: FACEGRAPH_EMBEDDER.'),
        click.option("--model-dir", type=click.Path(file_okay=False), help="Read model files from this folder (offline)."),
    ]):
        command = option(command)
    return command


def with_models(settings: Settings, detector, embedder, model_dir) -> Settings:
    overrides = {k: v for k, v in {"detector": detector, "embedder": embedder, "model_dir": model_dir}.items() if v}
    return settings.model_copy(update=overrides)


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def echo_items(items: list, as_json: bool, line, as_dict=lambda item: item) -> None:
    """A JSON list of the items with --json, else one `line(item)` each."""
    if as_json:
        echo_json([as_dict(item) for item in items])
    else:
        for item in items:
            click.echo(line(item))
