"""Synthetic faces with identity structure, as ArcFace embeds real ones, for the benchmarks and tests.

- `synthetic_faces`: persons of Zipf-like sizes (1 to 400 faces, half of them of one face), each face its person's
  direction plus noise, two faces of a person about 0.55 alike and of different persons about 0.
- `synthetic_library` (`library_sizes`): a real library's persons (a family's children of 100,000 faces, a
  newsroom's head of state of 150,000), faces spread with their quality as the labeled sets' are, gathered into
  photos; `print_spread` measures the spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facegraph.vectors import label_sums

DIMENSION = 512


def synthetic_faces(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` unit vectors and their person labels."""
    rng = np.random.default_rng(seed)
    sizes = long_tail(count, rng)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return faces_of_persons(labels, rng), labels


def long_tail(count: int, rng: np.random.Generator) -> np.ndarray:
    """Person sizes adding up to `count`, Zipf-like (exponent 1.8) from 1 face to 400: about half the persons have
    one face."""
    sizes = np.minimum(rng.zipf(1.8, size=count), 400)
    persons = int(np.searchsorted(np.cumsum(sizes), count)) + 1
    sizes = sizes[:persons]
    sizes[-1] -= sizes.sum() - count
    return sizes


def faces_of_persons(labels: np.ndarray, rng: np.random.Generator, noise_norms: np.ndarray | None = None) -> np.ndarray:
    """A unit vector per face: its person's random direction plus noise of norm s, from `noise_norms` or else
    uniform in 0.75 to 1.05. Two faces of a person meet at about 1 / sqrt((1 + s1^2)(1 + s2^2)), since noise is
    nearly orthogonal to everything in 512 dimensions."""
    centres = rng.standard_normal((labels.max() + 1, DIMENSION), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((len(labels), DIMENSION), dtype=np.float32)
    norms = rng.uniform(0.75, 1.05, size=len(labels)) if noise_norms is None else noise_norms
    noise *= (norms.astype(np.float32) / np.linalg.norm(noise, axis=1))[:, None]
    noise += centres[labels]
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return noise


# ---- a realistic library: persons of a family's or a newsroom's sizes, faces of real spread and quality ---------

LIBRARY_FACES = 1_000_000
# The persons a library has beyond the long tail, at a million faces (`--scale` shrinks them with the library):
# a family's three children and twenty relatives and friends; a newsroom's head of state and a hundred recurring
# public figures (ministers, athletes) of 8,000 down to 500 faces, its heavier tail. The rest is `long_tail`.
LIBRARIES = {"family": np.r_[100_000, 60_000, 40_000, np.linspace(20_000, 5_000, 20)],
             "newsroom": np.r_[150_000, np.geomspace(8_000, 500, 100)]}
POOR_SHARE = 0.12  # faces with quality_score under 20 (LFW has 2.5%, its degraded copy about 10%)
# A face's cosine with its person's direction by quality_score, so that two clear faces (about 24, as LFW's median
# face) meet at about 0.64 and a poor one meets clear ones at 0.25 to 0.5: as the labeled sets measure (same-person
# median 0.64 to 0.72 where the poorer face scores 25+, 0.26 to 0.46 where it scores 15 to 20).
ALIKENESS_BY_QUALITY = ((5.0, 20.0, 24.0, 28.0), (0.30, 0.62, 0.80, 0.86))
PHOTO_FACES = ((1, 2, 3, 4), (0.88, 0.07, 0.03, 0.02))  # faces a photo holds, and the share of photos of each


@dataclass(frozen=True)
class Library:
    """Synthetic faces in store order (photo by photo): vectors, true persons, quality scores, photo numbers and
    face ids."""

    vectors: np.ndarray
    labels: np.ndarray
    quality: np.ndarray
    photos: np.ndarray
    face_ids: list[str]

    def rows(self, keep: np.ndarray) -> Library:
        """The faces `keep` (a mask) picks."""
        return Library(self.vectors[keep], self.labels[keep], self.quality[keep], self.photos[keep],
                       [face_id for face_id, kept in zip(self.face_ids, keep) if kept])


def library_sizes(name: str, scale: float, rng: np.random.Generator) -> np.ndarray:
    """The person sizes of library `name` at `scale` times a million faces: its own persons, then the long tail."""
    own = np.maximum(np.rint(LIBRARIES[name] * scale), 1).astype(np.int64)
    tail = round(LIBRARY_FACES * scale) - int(own.sum())
    if tail < 1:
        raise ValueError(f"scale {scale} leaves no room for the long tail beside the {name} library's own persons")
    return np.r_[own, long_tail(tail, rng)]


def synthetic_library(sizes: np.ndarray, rng: np.random.Generator) -> Library:
    """Persons of these sizes, their faces spread with quality as real ones (`face_qualities`, `noise_of_quality`)
    and gathered into photos (`photo_of_faces`)."""
    labels = np.repeat(np.arange(len(sizes)), sizes)
    photos = photo_of_faces(labels, rng)
    order = np.argsort(photos, kind="stable")  # the store takes the faces photo by photo
    labels, photos = labels[order], photos[order]
    quality = face_qualities(len(labels), rng)
    return Library(faces_of_persons(labels, rng, noise_of_quality(quality, rng)), labels, quality, photos,
                   photo_face_keys(photos))


def face_qualities(count: int, rng: np.random.Generator) -> np.ndarray:
    """A quality_score per face: POOR_SHARE of them poor, 5 to 20 with more near 20 (a triangular law: the poorer,
    the rarer), the rest clear, about 24 (sd 2, LFW's spread) from 20 to 32."""
    quality = np.clip(rng.normal(24.0, 2.0, size=count), 20.0, 32.0)
    poor = rng.random(count) < POOR_SHARE
    quality[poor] = rng.triangular(5.0, 20.0, 20.0, size=int(poor.sum()))
    return quality.astype(np.float32)


def noise_of_quality(quality: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each face's noise norm for `faces_of_persons`: the norm s at which its cosine with its person's direction,
    1 / sqrt(1 + s^2), is ALIKENESS_BY_QUALITY at its quality, give or take 0.05."""
    alikeness = np.interp(quality, *ALIKENESS_BY_QUALITY) + rng.uniform(-0.05, 0.05, size=len(quality))
    return np.sqrt(1.0 / alikeness**2 - 1.0)


def photo_of_faces(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photo number per face (0, 1, ...), the faces dealt at random into photos of PHOTO_FACES faces, so that
    the same-photo rule is exercised; a face whose person is in its photo already gets a photo of its own."""
    n = len(labels)
    photos = np.repeat(np.arange(n), rng.choice(PHOTO_FACES[0], p=PHOTO_FACES[1], size=n))[:n][rng.permutation(n)]
    _, first = np.unique(photos * (labels.max() + 1) + labels, return_index=True)
    again = np.ones(n, dtype=bool)
    again[first] = False
    photos[again] = n + np.arange(again.sum())
    return np.unique(photos, return_inverse=True)[1].reshape(-1)


# ---- what the library's faces look like, measured --------------------------------------------------------------

PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
QUALITY_BANDS = {"both clear (20+)": (20.0, np.inf), "poorer 25+": (25.0, np.inf), "poorer 15-20": (15.0, 20.0),
                 "poorer under 15": (0.0, 15.0), "poorer under 20": (0.0, 20.0)}


def same_person_pairs(labels: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` random faces, each with another face of its person drawn at random (faces alone in their person
    dropped): a sample of same-person pairs weighted as the library's faces are."""
    by_person = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels)
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    faces = rng.integers(0, len(labels), size=count)
    person = labels[faces]
    others = by_person[first[person] + rng.integers(0, sizes[person])]
    kept = others != faces
    return faces[kept], others[kept]


def pair_cosines(vectors: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", vectors[a], vectors[b])


def nearest_stranger(library: Library, faces: np.ndarray) -> np.ndarray:
    """Each of `faces`' highest cosine with a face of another person, over the whole library."""
    best = np.empty(len(faces), dtype=np.float32)
    for start in range(0, len(faces), 16):
        rows = faces[start : start + 16]
        similarity = library.vectors[rows] @ library.vectors.T
        similarity[library.labels[rows][:, None] == library.labels[None, :]] = -1.0
        best[start : start + 16] = similarity.max(axis=1)
    return best


def print_spread(library: Library, *, pairs: int = 200_000, strangers: int = 500, seed: int = 3) -> None:
    """The within-person cosines by the poorer face's quality, and how near faces of different persons come, on
    samples of `pairs` pairs and of `strangers` faces."""
    rng = np.random.default_rng(seed)
    a, b = same_person_pairs(library.labels, pairs, rng)
    cosines, poorer = pair_cosines(library.vectors, a, b), np.minimum(library.quality[a], library.quality[b])
    print(f"same-person cosines, percentiles {'/'.join(map(str, PERCENTILES))} of {len(a)} pairs (a random face and "
          f"another of its person): all {percentiles(cosines)}")
    for band, (low, high) in QUALITY_BANDS.items():
        inside = (poorer >= low) & (poorer < high)
        print(f"  {band}: {percentiles(cosines[inside])} ({inside.mean():.1%} of the pairs)")
    print_different_persons(library, pairs, strangers, rng)


def print_different_persons(library: Library, pairs: int, strangers: int, rng: np.random.Generator) -> None:
    n = len(library.labels)
    a, b = rng.integers(0, n, size=(2, pairs))
    different = library.labels[a] != library.labels[b]
    cosines = pair_cosines(library.vectors, a[different], b[different])
    print(f"different persons: {different.sum()} random pairs, median {np.median(cosines):.3f}, "
          f"sd {cosines.std():.3f}, 99.9th percentile {np.percentile(cosines, 99.9):.3f}, largest {cosines.max():.3f}")
    best = nearest_stranger(library, rng.choice(n, size=min(strangers, n), replace=False))
    print(f"  the nearest face of another person, for {len(best)} faces among all {n}: median {np.median(best):.3f}, "
          f"90th percentile {np.percentile(best, 90):.3f}, largest {best.max():.3f}; "
          f"{np.mean(best >= 0.25):.1%} at 0.25 or more")


def percentiles(values: np.ndarray) -> str:
    return "/".join(f"{v:.2f}" for v in np.percentile(values, PERCENTILES)) if len(values) else "none"


def newcomers(vectors: np.ndarray, labels: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    """`count` new faces of persons among `labels`, each person picked as often as it has faces (as new photos
    are mostly of people already in a library): its faces' mean direction plus noise as `synthetic_faces` adds."""
    rng = np.random.default_rng(seed)
    persons = labels[rng.integers(0, len(labels), size=count)]
    chosen = np.isin(labels, persons)
    picked, index = np.unique(persons, return_inverse=True)
    centres = label_sums(np.searchsorted(picked, labels[chosen]), vectors[chosen])[index]
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((count, vectors.shape[1]))
    noise *= (rng.uniform(0.75, 1.05, size=count) / np.linalg.norm(noise, axis=1))[:, None]
    faces = centres + noise
    return (faces / np.linalg.norm(faces, axis=1, keepdims=True)).astype(np.float32)


def face_keys(count: int, prefix: str = "") -> list[str]:
    """Face ids of `count` one-face photos."""
    return photo_face_keys(np.arange(count), prefix)


def photo_face_keys(photos: np.ndarray, prefix: str = "") -> list[str]:
    """A face id (`{image_id}_face{n}`) per face, given each face's photo number, the faces sorted by photo."""
    place = np.arange(len(photos)) - np.searchsorted(photos, photos)  # the face's place in its photo
    return [f"{prefix}{photo:016x}_face{n}" for photo, n in zip(photos.tolist(), place.tolist())]


def with_a_day(sizes: np.ndarray, photos: int, rng: np.random.Generator, *, faces_per_photo: int = 3,
               new_share: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The person sizes of a library and of a day's new photos together, and the day's faces as person labels:
    `photos` photos of `faces_per_photo` faces, each face of a person of the library picked as often as it has
    faces (a family photographs its children most), or, for `new_share` of them, of a new person of 1 to 10
    faces. Make the faces of the sizes returned, then take `day_faces` out (`day_faces`)."""
    count = photos * faces_per_photo
    known = rng.choice(len(sizes), size=count - round(count * new_share), p=sizes / sizes.sum())
    new_sizes = rng.integers(1, 11, size=count)
    new_sizes = new_sizes[: int(np.searchsorted(np.cumsum(new_sizes), count - len(known))) + 1]
    new_sizes[-1] -= new_sizes.sum() - (count - len(known))
    labels = np.r_[known, np.repeat(len(sizes) + np.arange(len(new_sizes)), new_sizes)]
    return np.r_[sizes + np.bincount(known, minlength=len(sizes)), new_sizes], rng.permutation(labels)


def day_faces(labels: np.ndarray, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which faces of a library made with `with_a_day`'s sizes are the day's: for each face of `day`, one face of
    its person, at random."""
    taken = np.zeros(len(labels), dtype=bool)
    by_person, sizes = np.argsort(labels, kind="stable"), np.bincount(labels)
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    wanted = np.bincount(day, minlength=len(sizes))
    for person in np.flatnonzero(wanted):
        members = by_person[first[person] : first[person] + sizes[person]]
        taken[rng.choice(members, size=wanted[person], replace=False)] = True
    return taken
