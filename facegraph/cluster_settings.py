"""`ClusterSettings`: how faces are grouped into persons, in one light module (numpy only), so that the CLI, Dagster
config and the sweeps can name the settings without loading the clustering methods.

The bounds of the neighbour graph's settings (τ in [0, 1], k up to `MAX_NEIGHBOURS`) are checked here and by the
functions that take them directly (`facegraph.neighbours`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from facegraph.errors import InvalidRequestError, check_at_least

METHOD_NAMES = ("components", "average", "density", "mutual", "whispers", "infomap", "leiden")  # clustering.METHODS
DEFAULT_NEIGHBOURS = 10
DEFAULT_MIN_NEIGHBOURS = 3
MAX_NEIGHBOURS = 200  # k at most: the graph holds n x k edges (a million faces at 200: 2 billion, 24 GB)


def check_threshold(threshold: float, name: str = "threshold") -> None:
    if not 0.0 <= threshold <= 1.0:  # also refuses nan
        raise InvalidRequestError(f"{name} must be in [0, 1], got {threshold}")


def check_neighbours(k: int, name: str = "neighbours") -> int:
    """`k` if it is a whole number of nearest faces in [1, MAX_NEIGHBOURS]; else the error that says so."""
    check_at_least(k, 1, name)
    if k > MAX_NEIGHBOURS:
        raise InvalidRequestError(f"{name} must be at most {MAX_NEIGHBOURS}, got {k}: the graph keeps k edges a face")
    return k


@dataclass(frozen=True)
class ClusterSettings:
    """How faces are grouped into persons.

    `threshold` (τ) is the cosine similarity at which two faces may be linked; the graph keeps each face's
    `neighbours` nearest faces at or above it. `connect_threshold`, for `average`, is the similarity an edge needs
    to put two faces in one part of the graph, inside which groups join at an average of τ: a face must be clearly
    alike one face of a person before the average decides (None: τ does both). `min_neighbours` is `density`'s
    core-face bar, `resolution` is `leiden`'s CPM resolution. `merge_threshold`, if set, adds a second pass that merges two persons when each is
    the other's nearest and their mean directions are at least this alike.

    `approximate` says how the neighbour graph is found (`facegraph.neighbours`): exactly (False),
    approximately (True), or by size (None: approximate from `APPROXIMATE_FROM` faces).

    `poor_threshold`, if set, makes linking quality-aware: two faces of one person are less alike the poorer the
    poorer of them is (small, blurred), while faces of different persons are not more alike for it, so the bar
    for a pair falls from τ, where the poorer face's `quality_score` is `quality_range[1]` or more, to
    `poor_threshold` where it is `quality_range[0]` or less (linearly between). The range is ArcFace w600k_mbf's:
    the median labeled face scores 23 to 24 on the web sets and LFW, 21 on the degraded LFW (faces of 24 to 64
    pixels, blurred), and a tenth of those score under 19.
    """

    # The default: the best worst-set setting of the sweep on every labeled set (docs/chosen_default.json names its
    # MLflow run; README, "How the default was chosen").
    # Each field's `help` is what the CLI's option, the Dagster run config and the FACEGRAPH_* variable say of it:
    # they are made from these fields (`facegraph.cli.cluster_options`, `assets.collection.ClusteringConfig`).
    method: str = field(default="average", metadata={"help": "Clustering method of the neighbour graph."})
    threshold: float = field(default=0.25, metadata={"help": "τ: the cosine similarity at which faces are linked."})
    neighbours: int = field(default=DEFAULT_NEIGHBOURS, metadata={"help": "Nearest faces each face links to, at most."})
    min_neighbours: int = field(default=DEFAULT_MIN_NEIGHBOURS, metadata={
        "help": 'Neighbours that make a core face (method "density" only).'})
    resolution: float = field(default=0.05, metadata={"help": 'CPM resolution (method "leiden" only).'})
    merge_threshold: float | None = field(default=None, metadata={
        "help": "Second pass: merge persons that are each other's nearest with mean directions this alike "
                "(none: no pass)."})
    connect_threshold: float | None = field(default=0.39, metadata={
        "help": 'The similarity an edge needs to connect two faces before the average decides (method "average" '
                'only; none: τ).'})
    poor_threshold: float | None = field(default=0.22, metadata={
        "help": "Quality-aware linking: the bar for a pair of poor (small, blurred) faces (none: every pair is held "
                "to τ)."})
    quality_range: tuple[float, float] = field(default=(18.0, 26.0), metadata={
        "help": "quality_score of a poor face and of a clear one, between which the bar rises from poor_threshold "
                "to τ."})
    approximate: bool | None = field(default=None, metadata={
        "help": "The neighbour graph: approximate (true), exact (false), or by the number of faces (none)."})

    def __post_init__(self):
        object.__setattr__(self, "quality_range", tuple(float(v) for v in self.quality_range))  # lists from JSON
        if self.method not in METHOD_NAMES:
            raise InvalidRequestError(f"method must be one of {sorted(METHOD_NAMES)}, got {self.method!r}")
        check_threshold(self.threshold)
        for name in ("merge_threshold", "connect_threshold", "poor_threshold"):
            if getattr(self, name) is not None:
                check_threshold(getattr(self, name), name)
        if not self.quality_range[0] < self.quality_range[1]:
            raise InvalidRequestError(f"quality_range must be (poor, clear) with poor < clear, got {self.quality_range}")
        check_neighbours(self.neighbours)
        check_at_least(self.min_neighbours, 1, "min_neighbours")
        if not self.resolution > 0:
            raise InvalidRequestError(f"resolution must be above 0, got {self.resolution}")

    def with_(self, **changes) -> "ClusterSettings":
        return replace(self, **changes)

    def parameters(self) -> dict:
        """The settings that shape this method's result (a method's own parameters only where it has them)."""
        own = {"density": ["min_neighbours"], "leiden": ["resolution"]}.get(self.method, [])
        keep = ["method", "threshold", "neighbours", *own] + (["merge_threshold"] if self.merge_threshold else [])
        keep += ["connect_threshold"] if self.method == "average" and self.connect_threshold is not None else []
        keep += ["poor_threshold", "quality_range"] if self.poor_threshold is not None else []
        keep += ["approximate"] if self.approximate is not None else []
        return {key: value for key, value in self.to_dict().items() if key in keep}

    def to_dict(self) -> dict:
        """Every setting as a plain value (a list, not a tuple), as JSON, MLflow params and Dagster metadata take
        them; `ClusterSettings(**settings.to_dict())` is the same settings."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @property
    def lowest_threshold(self) -> float:
        """The lowest cosine at which any pair may link: the neighbour graph must keep edges from here up."""
        return min(self.threshold, self.poor_threshold if self.poor_threshold is not None else 1.0)

    @property
    def connect_bar(self) -> float:
        """The (quality-shifted) cosine an edge needs to connect two faces: `connect_threshold` for `average`, if
        set and above τ, else τ."""
        if self.method != "average" or self.connect_threshold is None:
            return self.threshold
        return max(self.threshold, self.connect_threshold)

    def similarity_shift(self, quality_a: np.ndarray, quality_b: np.ndarray) -> np.ndarray:
        """What quality-aware linking adds to each pair's cosine, so that comparing it to τ compares the cosine
        to the pair's own bar (0 without `poor_threshold`)."""
        if self.poor_threshold is None:
            return np.zeros(np.broadcast(quality_a, quality_b).shape)
        poor, clear = self.quality_range
        clearness = np.clip((np.minimum(quality_a, quality_b) - poor) / (clear - poor), 0.0, 1.0)
        return (1.0 - clearness) * (self.threshold - self.poor_threshold)

    @property
    def variant(self) -> str:
        """The method with its own parameters, without τ: what a curve against τ is drawn for."""
        extra = {key: value for key, value in self.parameters().items() if key not in ("method", "threshold", "neighbours")}
        short = {"min_neighbours": "m", "resolution": "r", "merge_threshold": "merge", "connect_threshold": "connect",
                 "poor_threshold": "poor", "quality_range": "q", "approximate": "ann"}
        return " ".join([self.method] + [f"{short[key]}={_short(value)}" for key, value in extra.items()])

    @property
    def name(self) -> str:
        return f"{self.variant} tau={self.threshold:.2f}"


def _short(value) -> str:
    return "-".join(f"{v:g}" for v in value) if isinstance(value, list) else f"{value:g}"
