"""The `facegraph` command line: parse, call the library, print. Every error is printed as `Type: message`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tqdm import tqdm

from facegraph.errors import FacegraphError
from facegraph.images import find_photos
from facegraph.models.weights import sample_photos_dir
from facegraph.pipeline import FacePipeline, PhotoError
from facegraph.settings import Settings


def expand(paths: tuple[str, ...]) -> list[Path]:
    """Files as given, folders as the photos under them."""
    found: list[Path] = []
    for path in map(Path, paths):
        found.extend(find_photos(path) if path.is_dir() else [path])
    return found


def pipeline_from(settings: Settings) -> FacePipeline:
    return FacePipeline.from_names(
        settings.detector,
        settings.embedder,
        model_dir=settings.model_dir,
        cache_dir=settings.cache_dir,
        detector_settings={"score_threshold": settings.score_threshold, "min_face_size": settings.min_face_size},
        max_side=settings.max_side,
        batch_size=settings.batch_size,
    )


@click.group()
def cli():
    """facegraph: find the people in a photo collection."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--detector", help='"retinaface" (default), "scrfd", or a detector ONNX file. Env: FACEGRAPH_DETECTOR.')
@click.option("--embedder", help='"arcface" (default) or an ArcFace-style ONNX file. Env: FACEGRAPH_EMBEDDER.')
@click.option("--model-dir", type=click.Path(file_okay=False), help="Read model files from this folder (offline).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per photo instead of text.")
def faces(paths, detector, embedder, model_dir, as_json):
    """Detect and embed the faces in PATHS (photos or folders; default: the sample group photos)."""
    overrides = {k: v for k, v in {"detector": detector, "embedder": embedder, "model_dir": model_dir}.items() if v}
    settings = Settings(**overrides)
    pipeline = pipeline_from(settings)
    photos = expand(paths or (str(sample_photos_dir(settings.cache_dir)),))
    counts = {"photos": 0, "faces": 0, "errors": 0}
    for result in tqdm(pipeline.run(photos), total=len(photos), unit="photo", disable=None, file=sys.stderr):
        if isinstance(result, PhotoError):
            counts["errors"] += 1
            click.echo(f"skipped {result.path}: {result.reason}", err=True)
            continue
        counts["photos"] += 1
        counts["faces"] += len(result.faces)
        if as_json:
            click.echo(json.dumps({
                "path": result.path, "image_id": result.image_id, "width": result.width, "height": result.height,
                "faces": [{"face_id": f.face_id, "bbox": list(f.bbox), "det_score": round(f.det_score, 4),
                           "quality_score": round(f.quality_score, 3)} for f in result.faces],
            }))
        else:
            click.echo(f"{result.path}: {len(result.faces)} faces ({result.width}x{result.height}, id {result.image_id})")
    models = ", ".join(f"{m.family} {m.file} sha256:{m.sha256[:12]} on {m.provider}" for m in pipeline.models)
    click.echo(f"{counts['photos']} photos, {counts['faces']} faces, {counts['errors']} unreadable; models: {models}",
               err=as_json)


def main():
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (FacegraphError, FileNotFoundError) as exc:
        click.secho(f"{type(exc).__name__}: {exc}", fg="red", err=True)
        sys.exit(1)
