"""benchmarks/reference_ceiling.py: the bound on what a reference adds, quoted by the GFRNet card."""

import numpy as np

from tests.support.benchmarks import load_benchmark


def _module():
    return load_benchmark("reference_ceiling")


def _landmarks(rng):
    # 68 points scattered over the middle of a 64 x 64 crop, as a face's are
    return rng.uniform(16, 48, size=(68, 2))


def test_landmark_warp_carries_the_reference_onto_the_target_landmarks():
    m = _module()
    rng = np.random.default_rng(0)
    target = _landmarks(rng)
    ref_lm = target + [3.0, -2.0]  # the same face, 3 px right and 2 px up in the reference
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    reference = np.stack([xs, ys, xs + ys], axis=2)  # each pixel holds its own coordinates
    warped = m.landmark_warp(reference, ref_lm, target)
    # inside the landmarks' hull each target pixel now shows the reference pixel 3 px right, 2 px up
    for x, y in target[:10].round().astype(int):
        assert np.allclose(warped[y, x, :2], [x + 3, y - 2], atol=0.05)
    # the crop's corners are anchored: not moved
    assert np.allclose(warped[0, 0, :2], [0, 0], atol=0.05)


def test_best_gain_fits_correlated_detail_and_refuses_anticorrelated():
    m = _module()
    rng = np.random.default_rng(1)
    detail = rng.normal(size=(32, 32))
    assert abs(m.best_gain(detail, 0.5 * detail) - 0.5) < 1e-9
    assert m.best_gain(detail, -detail) == 0.0  # a detail pointing the wrong way is worth nothing
    assert m.best_gain(np.zeros_like(detail), detail) == 0.0  # no detail (all masked out): no gain, no division


def test_block_gains_never_do_worse_than_one_gain_per_face():
    m = _module()
    rng = np.random.default_rng(2)
    detail = rng.normal(size=(32, 32))
    # the truth holds the detail at two different strengths in two halves, plus noise
    error = np.where(np.arange(32)[None, :] < 16, 1.0, 0.2) * detail + 0.1 * rng.normal(size=(32, 32))
    one = m.best_gain(detail, error)
    blocks = m.tile_gains(detail, error, 16)
    assert np.allclose(blocks[:, :16], 1.0, atol=0.1) and np.allclose(blocks[:, 16:], 0.2, atol=0.1)
    residual = lambda g: float(((error - g * detail) ** 2).sum())  # noqa: E731
    assert residual(blocks) < residual(one)


def test_the_oracles_bound_the_fitted_fusion_and_the_perfect_face_bounds_them_all(tiny_cache):
    """On same-person pairs of the tiny set with the shipped GFRNet: a gain fitted per block can only beat one
    per face, which can only beat no detail at all, and none beats pasting in the true face."""
    from training.data.dataset import ReferencePairs

    pairs = ReferencePairs(tiny_cache, "test", "gfrnet-4x", mode="best", protocol=True)
    assert len(pairs) >= 2
    r = _module().measure(pairs, 4)
    assert r["n"] == min(4, len(pairs)) and r["plain"] > r["input"] - 1
    for warp in ("landmarks", "warpnet"):
        for sigma in _module().SIGMAS:
            key = f"{warp} s{sigma:g}"
            assert r["plain"] - 1e-9 <= r[f"{key} oracle"] <= r[f"{key} local"] + 1e-9, key
            assert r[f"{key} fitted"] <= r[f"{key} oracle"] + 1e-9, key
            assert r[f"{key} local"] < r["perfect face"], key
