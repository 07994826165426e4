"""Whole-photo damage (frstudio/core/scratches.py): tiled detection equals detection on the whole photo, any size
and bit depth; repair fills only what is marked, from its surroundings, and keeps a grey photo grey."""

import cv2
import numpy as np
import pytest
import torch

from frstudio.core.scratches import damage_probability, grow_mask, repair
from frstudio.models import damage_net
from tests.support.marks import WhiteLineDetector


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    net = damage_net.build({"widths": [8, 16, 32], "blocks": 1}).eval()
    with torch.no_grad():  # a livelier random network than the shipped start (its head's bias says "no marks")
        net.head.bias.zero_()
        net.head.weight.mul_(20)
    return net


def _photo(h, w, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    top = 255 if dtype == np.uint8 else 65535
    smooth = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 3)
    return np.clip((smooth - smooth.min()) / (np.ptp(smooth) + 1e-6) * top, 0, top).astype(dtype)


def _whole(network, pixels):
    with torch.no_grad():
        x = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        return torch.sigmoid(network(x))[0, 0].numpy()


def test_tiled_detection_equals_detection_on_the_whole_photo(network):
    pixels = _photo(150, 203)
    whole = _whole(network, pixels)
    assert whole.std() > 0.01  # the network's output varies over the photo, so the comparison means something
    tiled = damage_probability(pixels, network, tile=64, overlap=48)
    assert tiled.shape == (150, 203) and tiled.dtype == np.float32
    assert 0.0 <= tiled.min() and tiled.max() <= 1.0
    np.testing.assert_allclose(tiled, whole, atol=2e-3)
    one_tile = damage_probability(pixels, network, tile=1024)
    np.testing.assert_allclose(one_tile, whole, atol=1e-5)


def test_odd_sizes_sixteen_bit_and_grey_photos(network):
    calls = []
    for h, w in [(1, 1), (5, 97), (67, 3)]:
        prob = damage_probability(_photo(h, w), network, tile=32, overlap=8, progress=lambda d, t: calls.append((d, t)))
        assert prob.shape == (h, w) and np.isfinite(prob).all()
    assert calls[-1][0] == calls[-1][1] == 3  # (67, 3) in 32 px tiles: three tiles
    eight = _photo(70, 90)
    sixteen = eight.astype(np.uint16) * 257
    np.testing.assert_allclose(damage_probability(sixteen, network, tile=32), damage_probability(eight, network, tile=32), atol=1e-5)
    grey = eight[..., 0]
    np.testing.assert_allclose(damage_probability(grey, network, tile=32),
                               damage_probability(np.repeat(grey[..., None], 3, axis=2), network, tile=32), atol=1e-6)
    with pytest.raises(ValueError):
        damage_probability(eight.astype(np.float32), network)


def _gradient(h=120, w=160, dtype=np.uint8):
    top = 255 if dtype == np.uint8 else 65535
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / w, y / h, 0.5 * (x / w + y / h)], axis=2) * 0.8 + 0.1
    return np.round(rgb * top).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_repair_fills_a_line_from_the_gradient_and_touches_nothing_else(dtype):
    clean = _gradient(dtype=dtype)
    top = np.iinfo(dtype).max
    scratched = clean.copy()
    mask = np.zeros(clean.shape[:2], np.uint8)
    cv2.line(mask, (10, 20), (150, 100), 1, thickness=2)
    mask = mask.astype(bool)
    scratched[mask] = top  # a white scratch
    out = repair(scratched, mask)
    assert out.dtype == dtype and out.shape == clean.shape and out is not scratched
    grown = grow_mask(mask, 1)
    assert np.array_equal(out[~grown], scratched[~grown])  # nothing outside the (grown) mask changes
    error = np.abs(out[mask].astype(np.float64) - clean[mask]) / top
    assert error.mean() < 0.01 and error.max() < 0.05
    assert np.array_equal(scratched, np.where(mask[..., None], top, clean))  # the input is left alone


def test_repair_keeps_grey_grey_and_sepia_sepia():
    rgb = _gradient()
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grey = np.repeat(luma[..., None], 3, axis=2)
    mask = np.zeros(luma.shape, bool)
    mask[60:62, 5:155] = True
    mask[20:90, 80] = True
    damaged = grey.copy()
    damaged[mask] = 250
    out = repair(damaged, mask)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    np.testing.assert_array_equal(repair(damaged[..., 0], mask), out[..., 0])  # an H x W grey photo: the same
    tone = np.array([1.0, 0.84, 0.62])
    sepia = np.round(luma[..., None] * tone).astype(np.uint8)
    damaged = sepia.copy()
    damaged[mask] = 250
    out = repair(damaged, mask).astype(np.float64)
    filled = out[grow_mask(mask)]
    expected = filled[:, :1] * tone  # red sets the tone's brightness; green and blue follow it
    assert np.abs(filled - expected).max() <= 3


def test_repair_across_tiles_matches_one_piece(monkeypatch):
    from frstudio.core import scratches

    photo = _gradient(300, 260)
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.line(mask, (0, 5), (259, 290), 1, thickness=3)
    cv2.circle(mask, (128, 128), 4, 1, -1)
    mask = mask.astype(bool)
    whole = repair(photo, mask)
    monkeypatch.setattr(scratches, "REPAIR_TILE", 64)
    calls = []
    tiled = repair(photo, mask, progress=lambda done, total: calls.append((done, total)))
    assert np.abs(tiled.astype(int) - whole).max() <= 1
    # tiles are filled side by side, a few at a time: each lands where it would one at a time, progress in order
    total = calls[-1][1]
    assert total > 4 and calls == [(done, total) for done in range(1, total + 1)]
    monkeypatch.setattr(scratches.os, "cpu_count", lambda: 1)
    assert np.array_equal(repair(photo, mask), tiled)


def _scratched(group_photo, rows=(300,)):
    pixels = np.clip(group_photo.pixels.astype(np.int32), 0, 240).astype(np.uint8)  # no white of its own
    clean = pixels.copy()
    for y in rows:
        pixels[y : y + 2, 50:850] = 255  # a scratch across faces and background
    return clean, pixels


def _restore(path, **options):
    from frstudio.core.jobs import drive
    from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo

    return drive(restore_photo(path, RestoreOptions(**options), RestorerCache(damage_factory=WhiteLineDetector)))


@pytest.mark.parametrize("mode", ["on", "auto"])
def test_the_pipeline_repairs_a_scratch_across_the_photo_and_keeps_the_original(tmp_path, group_photo, mode):
    from PIL import Image

    from frstudio.core.imageio import load_photo
    from frstudio.core.scratches import ScratchSettings
    from tests.conftest import file_digest

    clean, scratched = _scratched(group_photo)
    path = tmp_path / "scan.png"
    Image.fromarray(scratched).save(path)
    before = file_digest(path)
    result = _restore(path, model="passthrough", scratches=ScratchSettings(mode), damage_mask=True, compare=True)
    assert result.status == "restored", result.message
    assert file_digest(path) == before
    assert result.whole_photo.startswith("scratches and dust removed")
    out = load_photo(result.output).pixels
    line = np.zeros(out.shape[:2], bool)
    line[300:302, 50:850] = True
    assert (out[line] < 250).all()  # the white line is gone...
    near = grow_mask(line, 2)
    np.testing.assert_array_equal(out[~near], scratched[~near])  # ...and nothing else changed
    assert np.abs(out[line].astype(int) - clean[line].astype(int)).mean() < 20  # filled from its surroundings
    mask = np.asarray(Image.open(tmp_path / "scan_restored_damage.png"))
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    np.testing.assert_array_equal(mask > 0, line)
    compare = np.asarray(Image.open(tmp_path / "scan_restored_compare.jpg"))
    assert compare[300 * compare.shape[0] // 650, 400 * compare.shape[1] // 1808].min() > 200  # "before" is the scan


def test_with_faded_colours_restored_the_detector_looks_at_the_scan_as_opened(tmp_path, group_photo):
    """As in the app, where the detector runs once on the opened scan whatever the colour choice: a line white in the
    scan is found and repaired; a grey one that only the colour stretch makes white is not taken for a scratch."""
    from PIL import Image

    from frstudio.core.colour import restore_faded
    from frstudio.core.scratches import ScratchSettings

    _, pixels = _scratched(group_photo, rows=())
    pixels = (pixels.astype(np.float32) * 0.8).astype(np.uint8)  # a faded print: nothing above 192
    pixels[300:302, 50:850] = 255
    pixels[400:402, 50:850] = 240
    assert restore_faded(pixels)[400:402, 50:850].min() > 0.97 * 255  # white once stretched
    path = tmp_path / "faded.png"
    Image.fromarray(pixels).save(path)
    result = _restore(path, model="passthrough", scratches=ScratchSettings("on"), faded_colours=True, damage_mask=True)
    mask = np.asarray(Image.open(tmp_path / "faded_restored_damage.png")) > 0
    assert mask[300:302, 50:850].all() and not mask[400:402].any()
    assert result.status == "restored"


def test_auto_leaves_a_photo_with_only_a_speck_alone_and_off_runs_no_detector(tmp_path, group_photo):
    from PIL import Image

    from frstudio.core.imageio import load_photo
    from frstudio.core.scratches import AUTO_MIN_SHARE, ScratchSettings

    _, pixels = _scratched(group_photo, rows=())
    pixels[10:13, 10:13] = 255  # 9 px, far below AUTO_MIN_SHARE of the photo
    assert 9 / pixels[..., 0].size < AUTO_MIN_SHARE
    path = tmp_path / "speck.png"
    Image.fromarray(pixels).save(path)
    result = _restore(path, model="passthrough", scratches=ScratchSettings("auto"), no_faces="skip")
    assert "no scratches to remove" in result.whole_photo
    np.testing.assert_array_equal(load_photo(result.output).pixels, pixels)
    result.output.unlink()
    on = _restore(path, model="passthrough", scratches=ScratchSettings("on"))
    assert on.whole_photo.startswith("scratches and dust removed") and (load_photo(on.output).pixels[10:13, 10:13] < 250).all()
    on.output.unlink()
    from frstudio.core.jobs import drive
    from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo

    def no_detector():
        raise AssertionError("scratch removal is off: the detector must not be loaded")

    off = drive(restore_photo(path, RestoreOptions(model="passthrough"), RestorerCache(damage_factory=no_detector)))
    assert off.whole_photo == "" and not (tmp_path / "speck_restored_damage.png").exists()


def test_a_faceless_scan_with_scratches_is_written_repaired_even_when_faceless_photos_are_skipped(tmp_path):
    from PIL import Image

    from frstudio.core.scratches import ScratchSettings

    pixels = np.full((120, 160, 3), 128, np.uint8)
    pixels[60:62, :] = 255
    path = tmp_path / "wall.png"
    Image.fromarray(pixels).save(path)
    result = _restore(path, model="passthrough", scratches=ScratchSettings("on"), no_faces="skip")
    assert result.status == "no_faces" and result.output is not None and "scratches repaired" in result.message
    # filled with the wall's grey: exactly by OpenCV, within a few levels by the learned fill where it is bundled
    assert np.abs(np.asarray(Image.open(result.output))[60:62].astype(int) - 128).max() <= 4


def test_strength_moves_the_threshold_and_hand_painted_marks_win():
    from frstudio.core.scratches import ScratchSettings, marks, repair_as_chosen, threshold_for

    assert threshold_for(0.5) == pytest.approx(0.5)
    assert threshold_for(1.0) < threshold_for(0.5) < threshold_for(0.0)
    prob = np.array([[0.1, 0.4, 0.6, 0.9]], np.float32)
    assert marks(prob, 0.5).tolist() == [[False, False, True, True]]
    assert marks(prob, 1.0).tolist() == [[False, True, True, True]]
    assert marks(prob, 0.0).tolist() == [[False, False, False, True]]
    extra, erase = np.array([[True, False, False, False]]), np.array([[False, False, False, True]])
    assert marks(prob, 0.5, extra, erase).tolist() == [[True, False, True, False]]
    pixels = np.full((100, 100, 3), 100, np.uint8)
    one = np.zeros((100, 100), bool)
    one[50, 50] = True  # 0.01 % of the photo: below Auto's floor
    assert not repair_as_chosen(pixels, one, "auto").repaired
    assert repair_as_chosen(pixels, one, "auto", painted=True).repaired  # painted by hand: the user chose it
    assert repair_as_chosen(pixels, one, "on").repaired
    assert not repair_as_chosen(pixels, one, "off", painted=True).repaired
    with pytest.raises(ValueError):
        ScratchSettings("sometimes")
    with pytest.raises(ValueError):
        ScratchSettings("on", 1.5)


def test_specks_inside_eyes_and_mouths_are_left_to_the_face_models_and_a_scratch_across_is_repaired_whole(tmp_path, group_photo):
    from PIL import Image

    from frstudio.core.imageio import load_photo
    from frstudio.core.scratches import LEFT_EYE, MOUTH, ScratchSettings, feature_guard

    pixels = np.clip(group_photo.pixels, 0, 240).astype(np.uint8)
    eye = group_photo.landmarks[0][LEFT_EYE].mean(0).round().astype(int)
    mouth = group_photo.landmarks[1][MOUTH].mean(0).round().astype(int)
    pixels[eye[1] : eye[1] + 2, 20:880] = 255  # a scratch through the first face's eye
    pixels[mouth[1] - 1 : mouth[1] + 2, mouth[0] - 1 : mouth[0] + 2] = 255  # a speck (or a tooth's highlight) in a mouth
    path = tmp_path / "eye.png"
    Image.fromarray(pixels).save(path)
    guard = feature_guard(pixels.shape, group_photo.landmarks)
    assert guard[eye[1], eye[0]] and guard[mouth[1], mouth[0]] and guard.mean() < 0.05
    assert feature_guard(pixels.shape, []) is None
    out = load_photo(_restore(path, model="passthrough", scratches=ScratchSettings("on")).output).pixels
    assert (out[eye[1] : eye[1] + 2, 20:880].min(axis=2) < 250).all()  # no white left of the scratch, in the eye too
    assert (out[mouth[1] - 1 : mouth[1] + 2, mouth[0] - 1 : mouth[0] + 2] == 255).all()  # the speck in the mouth, kept


@pytest.fixture(scope="module")
def lively_fill():
    """An untrained learned fill whose correction is not zero (a trained one's start is OpenCV's fill exactly)."""
    from frstudio.models import fill_net

    torch.manual_seed(1)
    net = fill_net.build({"widths": [8, 16, 32], "blocks": 1}).eval()
    with torch.no_grad():
        net.head.weight.normal_(0, 0.05)
    return net


def test_the_learned_fill_changes_only_the_marks_and_starts_as_opencvs_fill(lively_fill):
    from frstudio.models import fill_net

    photo = _gradient(150, 203)
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.line(mask, (5, 10), (190, 140), 1, thickness=3)
    mask = mask.astype(bool)
    scratched = photo.copy()
    scratched[mask] = 255
    opencv = repair(scratched, mask)
    np.testing.assert_array_equal(repair(scratched, mask, fill=fill_net.build({"widths": [8, 16]}).eval()), opencv)
    learned = repair(scratched, mask, fill=lively_fill)
    holes = grow_mask(mask, 1)
    np.testing.assert_array_equal(learned[~holes], scratched[~holes])
    assert np.abs(learned[holes].astype(int) - opencv[holes]).mean() > 1  # the network did fill the marks


def test_the_learned_fill_is_tile_independent_keeps_grey_grey_and_takes_sixteen_bits(lively_fill):
    from frstudio.core.scratches import refine_fill

    photo = _gradient(150, 203)
    mask = np.zeros(photo.shape[:2], bool)
    mask[70:73, 10:190] = True
    mask[20:130, 100] = True
    holes = grow_mask(mask, 1)
    scratched = photo.copy()
    scratched[mask] = 255
    opencv = repair(scratched, mask)
    whole = refine_fill(scratched, opencv, holes, lively_fill, tile=1024)
    tiled = refine_fill(scratched, opencv, holes, lively_fill, tile=32, overlap=64)
    assert np.abs(tiled.astype(int) - whole).max() <= 1
    grey = np.repeat(cv2.cvtColor(scratched, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    out = repair(grey, mask, fill=lively_fill)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    np.testing.assert_array_equal(repair(grey[..., 0], mask, fill=lively_fill), out[..., 0])
    deep = scratched.astype(np.uint16) * 257
    out16 = repair(deep, mask, fill=lively_fill)
    assert out16.dtype == np.uint16
    np.testing.assert_array_equal(out16[~holes], deep[~holes])
    assert np.abs(out16[holes].astype(int) - repair(deep, mask)[holes]).mean() > 257  # filled by the network too


def test_the_pipeline_uses_the_learned_fill_it_is_given(tmp_path, group_photo, lively_fill):
    from PIL import Image

    from frstudio.core.imageio import load_photo
    from frstudio.core.jobs import drive
    from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo
    from frstudio.core.scratches import ScratchSettings

    _, scratched = _scratched(group_photo)
    path = tmp_path / "scan.png"
    Image.fromarray(scratched).save(path)
    outputs = []
    for fill in (None, lively_fill):
        cache = RestorerCache(damage_factory=WhiteLineDetector, fill_factory=lambda fill=fill: fill)
        options = RestoreOptions(model="passthrough", scratches=ScratchSettings("on"), overwrite=True)
        result = drive(restore_photo(path, options, cache))
        assert result.status == "restored", result.message
        outputs.append(load_photo(result.output).pixels)
    line = grow_mask(np.pad(np.ones((2, 800), bool), ((300, scratched.shape[0] - 302), (50, scratched.shape[1] - 850))), 1)
    np.testing.assert_array_equal(outputs[0][~line], outputs[1][~line])
    assert not np.array_equal(outputs[0][line], outputs[1][line])


def test_a_tile_unet_on_pixel_blocks_keeps_every_size_and_its_stride_counts_the_blocks():
    from frstudio.models.tile_unet import TileUNet

    net = TileUNet(7, 3, (8, 16), 1, unshuffle=2).eval()
    assert net.stride == 4 and TileUNet(7, 3, (8, 16), 1).stride == 2
    with torch.no_grad():
        assert net.body(torch.rand(1, 7, 13, 17)).shape == (1, 3, 13, 17)
    with pytest.raises(ValueError, match="unshuffle"):
        TileUNet(7, 3, (8, 16), 1, unshuffle=0)
