"""Variants of a stochastic model: restored once per seed, ranked by identity distance to the input face (and
to the reference photo when there is one), the most faithful used in the photo, all saved beside it."""

import numpy as np
from PIL import Image

from frstudio.core.align import align_face
from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo
from frstudio.core.restore import PassThroughRestorer, RestoredFace
from frstudio.core.variants import rank_variants, restore_variants
from tests.test_pipeline import run

COUNT = 4


class NoisyByRestorer(PassThroughRestorer):
    """A stand-in stochastic model: seed s covers the face with noise of strength (COUNT - 1 - s) / 4, so the
    last seed changes the face least and an identity ranking must put it first."""

    stochastic = True

    def __init__(self):
        self.seeds = []

    def restore(self, crops, reference=None, seed=0):
        self.seeds.append(seed)
        rng = np.random.default_rng(100 + seed)
        amount = (COUNT - 1 - seed) / 4
        return [RestoredFace(np.clip(c + amount * rng.standard_normal(c.shape), 0, 1).astype(np.float32)) for c in np.asarray(crops)]


def _centre_colour(items):
    """A stand-in descriptor: the mean colour of the middle of the crop (where the face is)."""
    return [np.asarray(image, np.float32)[44:84, 44:84].mean(axis=(0, 1)) / 255 for image, _ in items]


def test_ranking_uses_the_input_and_the_reference(astronaut, astronaut_landmarks):
    grey = np.full(astronaut.shape, 128, np.uint8)
    crop = align_face(grey, astronaut_landmarks, 128)
    results = {s: [RestoredFace(np.full((128, 128, 3), v, np.float32))] for s, v in ((0, 0.9), (1, 0.55), (2, 0.2))}
    ranked = rank_variants([crop], [astronaut_landmarks], results, _centre_colour)[0]
    assert [v.seed for v in ranked] == [1, 2, 0]  # 0.55 is nearest the input's 0.5, then 0.2, then 0.9
    assert ranked[0].distance < ranked[1].distance < ranked[2].distance and ranked[0].reference_distance is None
    # a bright reference pulls the ranking towards it: scores are the mean of both distances
    bright = [np.full((128, 128, 3), 0.8, np.float32)]
    ranked = rank_variants([crop], [astronaut_landmarks], results, _centre_colour, bright)[0]
    assert [v.seed for v in ranked] == [1, 0, 2] and ranked[1].reference_distance < ranked[2].reference_distance
    assert "seed 1" in ranked[0].describe() and "to the reference" in ranked[0].describe()


def test_restore_variants_asks_for_each_seed():
    restorer = NoisyByRestorer()
    out = restore_variants(restorer, np.zeros((2, 8, 8, 3), np.float32), None, 3)
    assert list(out) == [0, 1, 2] == restorer.seeds and all(len(v) == 2 for v in out.values())


def test_the_photo_gets_the_most_faithful_variant_and_all_are_saved(tiny_weights, group_png):
    """With real dlib descriptors: the least-changed variant wins for every face."""
    restorer = NoisyByRestorer()
    options = RestoreOptions(model="tiny", variants=COUNT)
    result, _ = run(restore_photo(group_png, options, RestorerCache(lambda name: restorer)))
    assert result.status == "restored", result.message
    for face in result.faces:
        seeds = [v.seed for v in face.variants]
        assert sorted(seeds) == list(range(COUNT)) and seeds[0] == COUNT - 1
        assert face.variants[0].distance < face.variants[-1].distance
    strips = sorted(p.name for p in result.extra_outputs)
    assert strips == [f"family_restored_face{n}_variants.png" for n in (1, 2, 3)]  # numbered as people see them
    assert Image.open(result.output.with_name(strips[0])).size == (128 * (COUNT + 1), 128)


def test_one_variant_or_a_deterministic_model_restores_once(tiny_weights, group_png):
    restorer = NoisyByRestorer()
    result, _ = run(restore_photo(group_png, RestoreOptions(model="tiny"), RestorerCache(lambda name: restorer)))
    assert restorer.seeds == [0] and not result.extra_outputs and all(not f.variants for f in result.faces)
    plain = PassThroughRestorer()
    result, _ = run(restore_photo(group_png, RestoreOptions(model="tiny", variants=3, overwrite=True), RestorerCache(lambda name: plain)))
    assert not result.extra_outputs and all(not f.variants for f in result.faces)

