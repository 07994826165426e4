"""Hard negatives for the scratch detector (training/damage_decoys.py): scene structure drawn into the photo,
never into the target."""

import dataclasses

import numpy as np
import pytest

from training.damage_decoys import FAMILIES, draw_decoys
from training.recipes.damage import PrintSettings, marked_pair, old_print


@pytest.mark.parametrize("family", FAMILIES)
def test_decoys_change_the_photo_and_a_seed_draws_the_same(family):
    img = np.random.default_rng(0).uniform(0.3, 0.7, (96, 128, 3)).astype(np.float32)
    changed = []
    for seed in range(8):
        out = draw_decoys(img, np.random.default_rng(seed), family)
        assert out.shape == img.shape and out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
        assert np.array_equal(out, draw_decoys(img, np.random.default_rng(seed), family))
        changed.append((np.abs(out - img).max(axis=2) > 0.05).mean())
    assert min(changed) > 0.0005 and np.mean(changed) < 0.6  # something on every photo, not a new photo
    assert np.array_equal(img, np.random.default_rng(0).uniform(0.3, 0.7, (96, 128, 3)).astype(np.float32))  # input kept


def test_the_families_differ_and_an_unknown_one_is_refused():
    img = np.full((64, 64, 3), 0.5, np.float32)
    assert not np.array_equal(draw_decoys(img, np.random.default_rng(1), "train"), draw_decoys(img, np.random.default_rng(1), "test"))
    with pytest.raises(ValueError):
        draw_decoys(img, np.random.default_rng(0), "other")


def test_decoys_go_into_the_print_and_not_into_the_target():
    img = np.random.default_rng(2).uniform(0.2, 0.8, (128, 128, 3)).astype(np.float32)
    plain, with_decoys = PrintSettings(jpeg=0.0), dataclasses.replace(PrintSettings(jpeg=0.0), decoys=1.0)
    # off, the random stream is the one of the runs before decoys existed: the same print as settings without the field
    assert np.array_equal(old_print(img, np.random.default_rng(5), plain), old_print(img, np.random.default_rng(5), PrintSettings(jpeg=0.0)))
    assert not np.array_equal(old_print(img, np.random.default_rng(5), plain), old_print(img, np.random.default_rng(5), with_decoys))
    unmarked_print, mask = marked_pair(img, np.random.default_rng(7), with_decoys, marks=False)
    assert not mask.any() and unmarked_print.shape == img.shape
