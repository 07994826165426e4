"""Several restorations of the same faces from a stochastic model, the most faithful first.

A stochastic model (the VQ U-Net) gives a different face for each noise seed. Which one to show is a question
of identity, not of looks: each variant is ranked by the dlib descriptor distance between it and the input face
(and, when a reference photo of the person is given, the distance to that photo's face too, averaged), so the
user sees first the variant that most resembles the person. Seeds are recorded: restoring the same face with
the same seed gives the same variant again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from frstudio.core.align import AlignedFace, transform_points
from frstudio.core.identity import descriptor_distance
from frstudio.core.imageio import float_to_uint8

MAX_VARIANTS = 8  # each costs one network pass and one descriptor (~75 ms) per face

# items of (RGB uint8 image, its 68 landmarks) -> one descriptor each (frstudio.core.dlib_work)
Describe = Callable[[Sequence[tuple[np.ndarray, np.ndarray]]], list[np.ndarray]]


@dataclass
class Variant:
    seed: int
    restored: object  # RestoredFace
    distance: float  # descriptor distance to the input face
    reference_distance: float | None = None  # ... and to the reference photo's face, when there is one

    @property
    def score(self) -> float:
        """What the ranking sorts by (lower is more faithful)."""
        if self.reference_distance is None:
            return self.distance
        return (self.distance + self.reference_distance) / 2

    def describe(self) -> str:
        ref = f", {self.reference_distance:.2f} to the reference" if self.reference_distance is not None else ""
        return f"seed {self.seed} (identity distance {self.distance:.2f}{ref})"


def crop_landmarks(aligned: AlignedFace, landmarks68: np.ndarray, size: int | None = None) -> np.ndarray:
    """The face's landmarks in its aligned crop, scaled to a crop of `size` (a model's output size)."""
    points = transform_points(landmarks68, aligned.matrix)
    return points * ((size or aligned.size) / aligned.size)


def rank_variants(
    crops: Sequence[AlignedFace],
    landmarks: Sequence[np.ndarray],
    by_seed: dict[int, list],
    describe: Describe,
    references: Sequence[np.ndarray] | None = None,
) -> list[list[Variant]]:
    """For each face, its variants most faithful first.

    crops: the aligned input faces; landmarks: each face's 68 landmarks in the photo; by_seed: {seed: the
    restorer's results for all faces}; references: one aligned reference face per face, or None. A reference
    is aligned to the same template as the input, so the input's crop landmarks stand in for its own."""
    items, layout = [], []
    for k, (aligned, points) in enumerate(zip(crops, landmarks)):
        in_crop = crop_landmarks(aligned, points)
        items.append((float_to_uint8(aligned.image), in_crop))
        if references is not None:
            items.append((float_to_uint8(references[k]), in_crop * (np.asarray(references[k]).shape[0] / aligned.size)))
        for seed, results in by_seed.items():
            out = results[k].image
            items.append((float_to_uint8(out), crop_landmarks(aligned, points, out.shape[0])))
        layout.append(k)
    descriptors = iter(describe(items))  # one call: one round trip where dlib runs in a helper process
    ranked = []
    for k in layout:
        mine = next(descriptors)
        ref = next(descriptors) if references is not None else None
        variants = []
        for seed, results in by_seed.items():
            d = next(descriptors)
            variants.append(Variant(seed, results[k], descriptor_distance(mine, d), descriptor_distance(ref, d) if ref is not None else None))
        ranked.append(sorted(variants, key=lambda v: (v.score, v.seed)))
    return ranked


def restore_variants(restorer, images: np.ndarray, references, count: int, seeds: Sequence[int] | None = None) -> dict[int, list]:
    """{seed: restorer results for all images} for `count` seeds (0, 1, ...; or the given ones)."""
    seeds = list(seeds) if seeds is not None else list(range(count))
    return {seed: restorer.restore(images, references, seed=seed) for seed in seeds}
