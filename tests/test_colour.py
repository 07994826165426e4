"""Restore faded colours (frstudio/core/colour.py): a faded print's levels come back; grey stays grey, sepia keeps
its tone; 16-bit and grey arrays keep their dtype; a flat photo is left alone. Its gains on test photos are measured
by benchmarks/faded.py."""

import numpy as np
import pytest

from frstudio.core import degradations as D
from frstudio.core.colour import chroma_spread, restore_faded


def _photo(seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((120, 160, 3), np.float32)
    img[..., 0] = np.linspace(0, 1, 160)[None]
    img[..., 1] = np.linspace(0, 1, 120)[:, None]
    img[..., 2] = rng.random((120, 160))
    return img


def _u8(img):
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def test_a_faded_colour_print_comes_back_closer_to_the_clean_one():
    clean = _u8(_photo())
    faded = _u8(D.fade(clean / 255.0, 0.4))
    fixed = restore_faded(faded)
    err = lambda a: np.abs(a.astype(int) - clean.astype(int)).mean()  # noqa: E731
    assert err(fixed) < err(faded) / 3
    assert fixed.shape == faded.shape and fixed.dtype == np.uint8


def test_grey_stays_grey_sepia_keeps_its_tone_and_dtypes_are_kept():
    grey = _u8(D.greyscale(D.fade(_photo(), 0.3)))  # a grey print, faded
    fixed = restore_faded(grey)
    assert (fixed[..., 0] == fixed[..., 1]).all() and (fixed[..., 1] == fixed[..., 2]).all()
    assert fixed.std() > grey.std() * 1.2
    sepia = _u8(D.sepia(D.fade(D.greyscale(_photo()), 0.3)))
    assert chroma_spread(sepia / 255.0) < 0.01 < chroma_spread(_photo())
    out = restore_faded(sepia)
    bright = out.sum(axis=2) > 150
    ratio = lambda a: (a[bright].astype(float) / a[bright].sum(axis=1, keepdims=True)).mean(axis=0)  # noqa: E731
    np.testing.assert_allclose(ratio(out), ratio(sepia), atol=0.02)  # the same brown
    sixteen = (sepia.astype(np.uint16) * 257)
    assert restore_faded(sixteen).dtype == np.uint16
    plane = restore_faded(grey[..., 0])
    assert plane.shape == grey.shape[:2] and np.abs(plane.astype(int) - fixed[..., 0]).max() <= 1
    flat = np.full((50, 50, 3), 120, np.uint8)
    assert np.array_equal(restore_faded(flat), flat)
    with pytest.raises(ValueError):
        restore_faded(np.zeros((4, 4, 3), np.float32))


def test_the_pipeline_restores_colours_when_asked_and_keeps_the_original(tmp_path, group_photo):
    from PIL import Image

    from frstudio.core.imageio import load_photo
    from frstudio.core.jobs import drive
    from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo

    faded = _u8(D.fade(group_photo.pixels / 255.0, 0.4))
    path = tmp_path / "faded.png"
    Image.fromarray(faded).save(path)
    result = drive(restore_photo(path, RestoreOptions(model="passthrough", faded_colours=True), RestorerCache()))
    assert result.status == "restored" and "faded colours restored" in result.whole_photo
    out = load_photo(result.output).pixels
    assert out.std() > faded.std() * 1.3 and np.array_equal(load_photo(path).pixels, faded)
