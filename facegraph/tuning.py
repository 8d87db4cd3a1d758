"""A collection's own linkage bars, fitted to the answers it was given.

Each answer to "are these two persons one?" is evidence about two bars: average linkage joins two groups when their
faces are on average at least τ alike and an edge of at least the connect bar links them (both shifted for poor
faces, `ClusterSettings.similarity_shift`). A "yes" says the pair should have joined, a "no" that it should not. The
fit takes the τ and connect bar, within `SPAN` of the shipped default, that agree with the most answers (ties: the
nearest to the current bars), with the poor faces' bar moved as far as τ (quality-aware linking keeps its gap), and
the caller reclusters only when they agree with clearly more answers than the current bars do (`MARGIN`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facegraph.cluster_settings import ClusterSettings

SPAN = 0.04  # how far from the shipped default a collection's bars may move
STEP = 0.01
MIN_ANSWERS = 10  # pair answers (yes or no) needed before bars are fitted at all
# The fitted bars must agree with this many more answers, and this share more, than the current ones: answers are
# asked where the bars are least sure, a biased sample, and one more agreeing answer moved lfw_degraded's bars to
# where they split 261 more persons (F1 0.9197 -> 0.9175, 0.8941 after two more re-tunes).
MARGIN, MARGIN_SHARE = 3, 0.1


@dataclass(frozen=True)
class Evidence:
    """What the pair answers say: each pair's average and closest similarity, its poorer side's quality, and
    whether the person said "yes"."""

    average: np.ndarray
    closest: np.ndarray
    quality: np.ndarray
    joined: np.ndarray  # bool

    @staticmethod
    def of(answers: list[dict]) -> "Evidence":
        pairs = [a for a in answers if a["question"] == "same_person" and a["reply"] in ("yes", "no")]

        def column(key: str) -> np.ndarray:
            return np.array([a["features"][key] for a in pairs], dtype=np.float64)

        return Evidence(column("average"), column("closest"), column("quality") * 30.0,  # the feature is quality / 30
                        np.array([a["reply"] == "yes" for a in pairs], dtype=bool))

    def __len__(self) -> int:
        return len(self.joined)

    def agreeing(self, settings: ClusterSettings) -> int:
        """How many answers these settings' bars agree with."""
        shift = settings.similarity_shift(self.quality, self.quality)
        joins = (self.average + shift >= settings.threshold) & (self.closest + shift >= settings.connect_bar)
        return int((joins == self.joined).sum())


def fit_bars(evidence: Evidence, current: ClusterSettings, default: ClusterSettings | None = None) -> ClusterSettings:
    """The τ and connect bar within `SPAN` of `default` that agree with the most answers; `current` if there are
    fewer than `MIN_ANSWERS` or no bars agree with more answers than it does."""
    default = default or ClusterSettings()
    if len(evidence) < MIN_ANSWERS or current.method != "average":
        return current
    steps = [round(float(step), 2) for step in np.arange(-SPAN, SPAN + STEP / 2, STEP)]
    gap = None if default.poor_threshold is None else default.threshold - default.poor_threshold
    candidates = [current.with_(threshold=round(default.threshold + dt, 2),
                                connect_threshold=round(default.connect_bar + dc, 2),
                                poor_threshold=None if gap is None else round(default.threshold + dt - gap, 2))
                  for dt in steps for dc in steps if default.connect_bar + dc >= default.threshold + dt]

    def moved(settings: ClusterSettings) -> float:
        return abs(settings.threshold - current.threshold) + abs(settings.connect_bar - current.connect_bar)

    best = max(candidates, key=lambda s: (evidence.agreeing(s), -moved(s)))
    gained = evidence.agreeing(best) - evidence.agreeing(current)
    return best if gained >= max(MARGIN, MARGIN_SHARE * len(evidence)) else current
