"""The whole-photo relight that follows a face the model relit (frstudio/core/relight.py)."""

from types import SimpleNamespace

import numpy as np
import pytest

from frstudio.core import relight
from frstudio.core.relight import MIN_LIFT, ToneCurve, apply_tone_curve, fit_tone_curve, photo_relight

LUMA = np.array([0.299, 0.587, 0.114])


def test_the_curve_maps_the_faces_brightness_quantiles_and_never_reverses_tones():
    rng = np.random.default_rng(0)
    before = rng.uniform(0.05, 0.4, 5000)
    after = np.sqrt(before)  # what a relighting model might do
    curve = fit_tone_curve(before, after)
    x = np.linspace(0, 1, 1001)
    assert np.all(np.diff(curve(x)) >= 0)
    assert curve(np.array([0.0]))[0] == 0 and curve(np.array([1.0]))[0] == pytest.approx(1.0)
    inside = np.linspace(0.06, 0.39, 50)
    np.testing.assert_allclose(curve(inside), np.sqrt(inside), atol=0.01)
    assert curve.lift == pytest.approx(np.median(after) - np.median(before))
    assert "brightened" in curve.describe()


def test_a_face_left_as_it_was_gives_the_identity_curve_and_flat_stretches_are_merged():
    flat = np.full(1000, 0.3)  # every quantile the same: one knot, not a division by zero
    curve = fit_tone_curve(flat, flat)
    assert np.all(np.diff(curve.x) > 0)
    x = np.linspace(0, 1, 11)
    np.testing.assert_allclose(curve(x), x, atol=1e-6)
    assert curve.lift == 0


@pytest.mark.parametrize("dtype, scale", [(np.uint8, 255), (np.uint16, 65535)])
def test_applying_keeps_each_pixels_hue_and_caps_instead_of_clipping(dtype, scale, monkeypatch):
    rng = np.random.default_rng(1)
    pixels = (rng.uniform(0.02, 0.35, (37, 23, 3)) * scale).astype(dtype)
    pixels[0, 0] = np.array([0.45, 0.1, 0.05]) * scale  # a saturated red that a x3 gain would clip
    x = np.linspace(0, 1, 11)
    curve = ToneCurve(x, np.minimum(1, 3 * x), 0.2, 0.6)
    monkeypatch.setattr(relight, "ROWS_PER_STRIPE_PIXELS", 5 * 23)  # several stripes
    out = pixels.copy()
    apply_tone_curve(out, curve)
    before, after = pixels.astype(float) / scale, out.astype(float) / scale
    y_before, y_after = before @ LUMA, after @ LUMA
    unclipped = before.max(axis=2) < 0.3
    np.testing.assert_allclose(y_after[unclipped], np.minimum(1, 3 * y_before[unclipped]), atol=2 / 255)
    ratios = after / np.maximum(before, 1e-6)
    assert np.ptp(ratios[unclipped], axis=-1).max() < 0.08  # one gain for the three channels: hue kept
    red = after[0, 0]
    assert red.max() <= 1.0 and red[0] == pytest.approx(1.0, abs=1 / 255)
    np.testing.assert_allclose(red / red[0], np.array([1, 1 / 4.5, 1 / 9]), atol=0.02)  # still the same red


def _restored(image, relight_p, mask=None):
    extras = {"labels": np.array([0.1, 0.1, relight_p], np.float32)}
    if mask is not None:
        extras["mask"] = mask
    from frstudio.core.restore import RestoredFace

    return RestoredFace(image.astype(np.float32), extras, ("noise", "blur", "relight"))


def _faces(n):
    return [SimpleNamespace(index=i) for i in range(n)]


def test_only_faces_the_model_found_badly_lit_and_changed_enough_relight_the_photo():
    rng = np.random.default_rng(2)
    dark = rng.uniform(0.05, 0.3, (128, 128, 3)).astype(np.float32)
    aligned = SimpleNamespace(image=dark)
    lifted = np.clip(dark * 2.5, 0, 1)
    assert photo_relight(_faces(1), {0: (aligned, _restored(lifted, 0.1))}) is None  # found well lit
    assert photo_relight(_faces(1), {0: (aligned, _restored(dark + MIN_LIFT / 2, 0.9))}) is None  # hardly changed
    assert photo_relight(_faces(1), {0: (aligned, _restored(lifted, 0.9))}, strength=0.0) is None  # face kept as it was
    assert photo_relight(_faces(1), {}) is None  # not restored
    full = photo_relight(_faces(1), {0: (aligned, _restored(lifted, 0.9))})
    half = photo_relight(_faces(1), {0: (aligned, _restored(lifted, 0.9))}, strength={0: 0.5})
    assert full.lift > 0.1 and half.lift == pytest.approx(full.lift / 2, rel=0.05)


def test_the_curve_is_fitted_where_the_models_mask_says_face():
    dark = np.full((128, 128, 3), 0.1, np.float32)
    lifted = dark.copy()
    lifted[:, 64:] = 0.5  # the model changed only the right half, which its mask calls face
    mask = np.zeros((128, 128), np.float32)
    mask[:, 64:] = 1
    curve = photo_relight(_faces(1), {0: (SimpleNamespace(image=dark), _restored(lifted, 0.9, mask[None]))})
    at = np.array([0.1], np.float32)
    assert curve(at)[0] == pytest.approx(0.5, abs=0.01)
    without_mask = photo_relight(_faces(1), {0: (SimpleNamespace(image=dark), _restored(lifted, 0.9))})
    assert without_mask(at)[0] < 0.45  # the central ellipse straddles both halves
