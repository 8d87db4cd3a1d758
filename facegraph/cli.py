"""The `facegraph` command line: parse, call the library, print. Every error is printed as `Type: message`.

Commands carry the names of the `FaceGraph` methods (`cluster-all`, `merge-persons`, ...); those that return data
print JSON with `--json`.
"""

from __future__ import annotations

import sys
from dataclasses import asdict

import click
from pydantic import ValidationError
from tqdm import tqdm

from facegraph.cli_answers import COMMANDS as ANSWER_COMMANDS
from facegraph.cli_options import (
    cluster_options, counted, echo_items, echo_json, given, json_option, model_options, with_models,
)
from facegraph.collection import display_path, photo_path
from facegraph.errors import FacegraphError
from facegraph.images import expand_paths
from facegraph.models.weights import sample_photos_dir
from facegraph.settings import Settings

@click.group()
@click.version_option(package_name="facegraph", prog_name="facegraph")
@click.option("--store", type=click.Path(file_okay=False), help="Embedded store folder. Env: FACEGRAPH_STORE.")
@click.option("--url", help="Qdrant server URL, instead of the embedded store. Env: FACEGRAPH_QDRANT_URL.")
@click.pass_context
def cli(ctx, store, url):
    """facegraph: find the people in a photo collection."""
    overrides = {k: v for k, v in {"store": store, "qdrant_url": url}.items() if v}
    ctx.obj = Settings(**overrides)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@model_options
@json_option
@click.pass_obj
def faces(settings, paths, detector, embedder, model_dir, as_json):
    """Detect and embed the faces in PATHS without storing them (default: the sample group photos)."""
    from facegraph.pipeline import PhotoError

    settings = with_models(settings, detector, embedder, model_dir)
    pipeline = settings.pipeline()
    paths = paths or (str(sample_photos_dir(settings.cache_dir)),)
    photos = expand_paths(paths)
    read, unreadable = [], []
    for result in tqdm(pipeline.run(photos), total=len(photos), unit="photo", disable=None, file=sys.stderr,
                       desc="reading and embedding photos"):
        if isinstance(result, PhotoError):
            unreadable.append({"path": display_path(result.path), "reason": result.reason})
            click.echo(f"skipped {display_path(result.path)}: {result.reason}", err=True)
            continue
        read.append({
            "path": display_path(result.path), "image_id": result.image_id, "width": result.width, "height": result.height,
            "faces": [{"face_id": f.face_id, "bbox": list(f.bbox), "det_score": round(f.det_score, 4),
                       "quality_score": round(f.quality_score, 3)} for f in result.faces],
        })
        if not as_json:
            click.echo(f"{read[-1]['path']}: {counted(len(result.faces), 'face')} ({result.width}x{result.height}, "
                       f"id {result.image_id})")
    faces_found = sum(len(photo["faces"]) for photo in read)
    if as_json:
        echo_json({"photos": read, "unreadable": unreadable, "faces": faces_found,
                   "models": [asdict(model) for model in pipeline.models]})
    else:
        models = ", ".join(f"{m.family} {m.file} sha256:{m.sha256[:12]} on {m.provider}" for m in pipeline.models)
        click.echo(f"{counted(len(read), 'photo')}, {counted(faces_found, 'face')}, {len(unreadable)} unreadable; "
                   f"models: {models}")
    if not read:  # some bad photos among good ones still exit 0, as `index` does
        nothing_read(paths, len(photos))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@model_options
@json_option
@click.pass_obj
def index(settings, paths, detector, embedder, model_dir, as_json):
    """Add the faces of PATHS (photos or folders) to the store; photos indexed before are skipped."""
    settings = with_models(settings, detector, embedder, model_dir)
    with tqdm(unit="photo", disable=None, file=sys.stderr, desc="finding photos") as bar:
        with settings.graph() as graph:
            report = graph.index(paths, found=lambda total: bar.reset(total=total), progress=bar.update,
                                 phase=bar.set_description)
    for error in report.errors:
        click.echo(f"skipped {display_path(error.path)}: {error.reason}", err=True)
    if as_json:
        echo_json(asdict(report))
    else:
        click.echo(f"{counted(report.indexed, 'photo')} indexed, {counted(len(report.new_face_ids), 'new face')}, "
                   f"{report.already_indexed} already indexed, {len(report.errors)} unreadable")
    if not report.indexed + report.already_indexed:  # some bad photos among good ones still exit 0
        nothing_read(paths, report.photos, "indexed")


def nothing_read(paths, photos: int, done: str = "read") -> None:
    """Say that no photo of `paths` (which held `photos` entries named like photos) could be read, and exit 1."""
    click.secho(f"nothing was {done}: {'no photo could be read in' if photos else 'no photos found in'} "
                f"{', '.join(map(display_path, paths))}", fg="red", err=True)
    sys.exit(1)


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--allow-mass-removal", is_flag=True,
              help="Remove the photos seen to be gone even if they are all or many of the folder's "
                   "(refused without it: an empty or unmounted folder must not wipe the store).")
@json_option
@click.pass_obj
def sync(settings, folder, allow_mass_removal, as_json):
    """Bring the store in step with FOLDER: photos gone from it are removed with their faces (their corrections
    kept for the day they come back), moved ones (same content, new place) keep their faces and corrections
    under their new path; then new photos are indexed. A photo is removed only when its file is seen to be gone."""
    with settings.graph() as graph:
        report = graph.sync_folder(folder, allow_mass_removal=allow_mass_removal)
        with tqdm(unit="photo", disable=None if report.unindexed_files else True, file=sys.stderr) as bar:
            indexed = graph.index([folder], found=lambda total: bar.reset(total=total), progress=bar.update,
                                  phase=bar.set_description) if report.unindexed_files else None
    if as_json:
        echo_json(asdict(report) | {"indexed": asdict(indexed) if indexed else None})
    else:
        click.echo(f"{report.photos_checked} photos of {display_path(folder)} checked: {report.moved} moved, "
                   f"{report.removed_photos} removed with {report.removed_faces} faces"
                   f"{f', {report.unseen} not seen (kept)' if report.unseen else ''}; "
                   f"{indexed.indexed if indexed else 0} new photos indexed")


@cli.command("cluster-all")
@cluster_options
@json_option
@click.pass_obj
def cluster_all(settings, as_json, **options):
    """Group every face in the store into persons, keeping corrections."""
    from facegraph.recluster import CLUSTER_PHASES

    with settings.graph() as graph, tqdm(total=len(CLUSTER_PHASES), disable=None, file=sys.stderr,
                                         bar_format="{desc} ({n_fmt}/{total_fmt})") as bar:
        report = graph.cluster_all(phase=lambda step: (bar.set_description(step), bar.update()), **given(options))
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(counted(report.persons, "person"))


@cli.command("assign-person")
@click.argument("face_id")
@cluster_options
@click.pass_obj
def assign_person(settings, face_id, **options):
    """Give FACE_ID a person (its nearest faces' person, or a new one) and print the person id."""
    with settings.graph() as graph:
        click.echo(graph.assign_person(face_id, **given(options)))


@cli.command("suggest-merges")
@click.option("--limit", type=int, default=10, show_default=True, help="How many pairs to suggest.")
@json_option
@click.pass_obj
def suggest_merges(settings, limit, as_json):
    """Pairs of persons that are probably one person, most likely first: check them, then merge-persons."""
    with settings.graph() as graph:
        suggestions = graph.suggest_merges(limit)
    echo_items(suggestions, as_json, as_dict=asdict, line=lambda s: (
        f"{s.similarity:.3f}  {s.person_ids[0]} ({s.face_counts[0]})  {s.person_ids[1]} ({s.face_counts[1]})"
        f"  faces alike {s.average_similarity:.3f} on average, {s.closest_similarity:.3f} at best"))


@cli.command("list-persons")
@click.option("--limit", type=int, default=100, show_default=True, help="How many persons to list.")
@click.option("--offset", type=int, default=0, show_default=True, help="How many of the largest to skip.")
@json_option
@click.pass_obj
def list_persons(settings, limit, offset, as_json):
    """List persons, largest first."""
    with settings.graph() as graph:
        persons = graph.list_persons(limit, offset)
    echo_items(persons, as_json, lambda p: f"{p['person_id']}  {counted(p['face_count'], 'face'):>11}  {p['name'] or ''}")


@cli.command("get-person")
@click.argument("person_id")
@json_option
@click.pass_obj
def get_person(settings, person_id, as_json):
    """Show one person and its faces."""
    with settings.graph() as graph:
        person = graph.get_person(person_id)
    if as_json:
        echo_json(person)
    else:
        click.echo(f"{person['person_id']} {person['name'] or '(unnamed)'}: {counted(person['face_count'], 'face')}")
        click.echo("\n".join(person["face_ids"]))


@cli.command("merge-persons")
@click.argument("person_ids", nargs=-1, required=True)
@click.option("--into", "target", help="The person id to keep (default: the largest person).")
@click.pass_obj
def merge_persons(settings, person_ids, target):
    """Merge PERSON_IDS into one person, for good; prints the id kept."""
    with settings.graph() as graph:
        click.echo(graph.merge_persons(list(person_ids), target))


@cli.command("split-person")
@click.argument("person_id")
@click.option("--group", "groups", multiple=True, required=True,
              help="Comma-separated face ids that become one person; repeat for each group.")
@click.pass_obj
def split_person(settings, person_id, groups):
    """Split groups of faces off PERSON_ID, for good; prints one person id per group."""
    with settings.graph() as graph:
        ids = graph.split_person(person_id, [[f.strip() for f in g.split(",") if f.strip()] for g in groups])
    click.echo("\n".join(ids))


@cli.command("reassign-face")
@click.argument("face_id")
@click.argument("person_id")
@click.pass_obj
def reassign_face(settings, face_id, person_id):
    """Move FACE_ID to PERSON_ID, for good."""
    with settings.graph() as graph:
        graph.reassign_face(face_id, person_id)
    click.echo(f"{face_id} -> {person_id}")


@cli.command("name-person")
@click.argument("person_id")
@click.argument("name")
@click.pass_obj
def name_person(settings, person_id, name):
    """Name PERSON_ID (this also confirms its faces as that person)."""
    with settings.graph() as graph:
        stored = graph.name_person(person_id, name)
    click.echo(f"{person_id} is {stored}" + (" (stored without its control characters and outer spaces)"
                                             if stored != name else ""))


@cli.command()
@click.argument("image", type=click.Path())
@click.option("--limit", type=int, default=10, show_default=True, help="How many faces to return.")
@json_option
@click.pass_obj
def search(settings, image, limit, as_json):
    """Faces most like the largest face in IMAGE."""
    with settings.graph() as graph:
        results = graph.search(image, limit)
        photos = graph.collection.photos(r.image_id for r in results)
    path_of = {image_id: display_path(photo_path(photo)) for image_id, photo in photos.items()}
    echo_items(results, as_json, lambda r: f"{r.score:.3f}  {r.face_id}  {r.person_id or '-'}  {path_of.get(r.image_id, '')}",
               as_dict=lambda r: asdict(r) | {"path": path_of.get(r.image_id)})


@cli.command("find-person")
@click.argument("image", type=click.Path())
@click.option("--threshold", type=float, help="The cosine a face of the person must reach (default: τ).")
@click.pass_obj
def find_person(settings, image, threshold):
    """The person of the largest face in IMAGE, or nothing (exit 0) when none is close enough."""
    with settings.graph() as graph:
        person_id = graph.find_person(image, threshold)
    click.echo(person_id or "no matching person")


@cli.command()
@click.option("--output", type=click.Path(dir_okay=False), default="persons.html", show_default=True, help="HTML file to write.")
@click.option("--max-persons", type=int, default=200, show_default=True, help="Largest persons shown.")
@click.pass_obj
def gallery(settings, output, max_persons):
    """Write an HTML page of the persons and their face crops."""
    from facegraph.gallery import write_gallery

    with settings.graph() as graph:
        path = write_gallery(graph, output, max_persons=max_persons)
    click.echo(f"wrote {path}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any but a loopback one needs an access token.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on (0: any free one).")
@click.option("--token", envvar="FACEGRAPH_REVIEW_TOKEN", show_envvar=True,
              help="Access token every request must carry (default: none on loopback, else a random one, shown "
                   "in the URL printed).")
@click.option("--min-faces", type=click.IntRange(min=1), help="Persons of fewer faces are listed apart, as small, "
              "unless named (default: the setting FACEGRAPH_MIN_FACES_SHOWN, else 2).")
@click.pass_obj
def serve(settings, host, port, token, min_faces):
    """Serve the People page to review persons and correct them in a browser, until Ctrl+C."""
    from facegraph.review.server import serve as run  # the web framework loads only for this command

    with settings.graph() as graph:
        run(graph, host=host, port=port, token=token, thumbnails=settings.thumbnails_folder,
            min_faces=min_faces or settings.min_faces_shown,
            ready=lambda url: click.echo(f"reviewing persons at {url} (Ctrl+C to stop)"))


for command in ANSWER_COMMANDS:
    cli.add_command(command)


def main():
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (FacegraphError, FileNotFoundError, ValueError) as exc:
        message = "; ".join(error["msg"] for error in exc.errors()) if isinstance(exc, ValidationError) else exc
        click.secho(f"{type(exc).__name__}: {message}", fg="red", err=True)  # settings: their own words only
        sys.exit(1)
