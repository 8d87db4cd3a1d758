"""How the assets describe themselves: one owner, a `layer` tag per stage, and metadata values of the right kind.

Metadata conventions: counts are ints, seconds are floats (one `seconds_<phase>` entry per phase), shares are
floats rounded to 4 places, files and folders are `MetadataValue.path`, web addresses `MetadataValue.url`, and a
setting is recorded under the name of its run config field (`threshold`, as in `ClusteringConfig`).
"""

from __future__ import annotations

from dagster import MetadataValue

from facegraph.cluster_settings import ClusterSettings

OWNERS = ["team:facegraph"]
SHARE_PLACES = 4


def layer(name: str) -> dict[str, str]:
    """The tags of an asset of stage `name` (faces, collection, persons, gallery, evaluation)."""
    return {"layer": name}


def share(value: float) -> float:
    """A share (0 to 1) as metadata: a float, 4 places."""
    return round(float(value), SHARE_PLACES)


def seconds(laps: dict[str, float]) -> dict[str, float]:
    """Each phase's seconds as its own float, `seconds_<phase>`, and their sum as `seconds`."""
    return {"seconds": round(float(sum(laps.values())), 3),
            **{f"seconds_{phase}": float(value) for phase, value in laps.items()}}


def location(where: str) -> MetadataValue:
    """A store's place: a URL for a server, a path for a folder."""
    return MetadataValue.url(where) if where.startswith(("http://", "https://")) else MetadataValue.path(where)


def settings_metadata(settings: ClusterSettings) -> dict:
    """The settings that shaped a clustering, under their `ClusteringConfig` names."""
    return settings.parameters()
