"""The scratch detector's training and test pairs (training/damage_marks.py): the mask is what changed."""

import numpy as np
import pytest

from training.damage_marks import FAMILIES, MASK_LEVEL, draw_marks


@pytest.mark.parametrize("family", FAMILIES)
def test_the_mask_holds_what_the_marks_changed(family):
    img = np.random.default_rng(0).uniform(0.3, 0.7, (96, 128, 3)).astype(np.float32)
    shares = []
    for seed in range(12):
        out, mask = draw_marks(img, np.random.default_rng(seed), family, texture=False)
        assert out.shape == img.shape and out.dtype == np.float32 and mask.shape == img.shape[:2] and mask.dtype == bool
        assert 0.0 <= out.min() and out.max() <= 1.0
        change = np.abs(out - img).max(axis=2)
        assert change[~mask].max() <= MASK_LEVEL + 1e-3  # outside the mask, marks cover less than MASK_LEVEL
        shares.append(mask.mean())
    assert 0.001 < np.mean(shares) < 0.2  # marks on every photo, not over all of it


def test_the_two_families_draw_differently_and_a_seed_draws_the_same():
    img = np.full((64, 64, 3), 0.5, np.float32)
    a, mask_a = draw_marks(img, np.random.default_rng(3), "train")
    again, _ = draw_marks(img, np.random.default_rng(3), "train")
    b, mask_b = draw_marks(img, np.random.default_rng(3), "test")
    assert np.array_equal(a, again) and not np.array_equal(mask_a, mask_b)
    with pytest.raises(ValueError):
        draw_marks(img, np.random.default_rng(0), "other")
