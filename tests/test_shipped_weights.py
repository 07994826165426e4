"""Regression tests on the weights the app ships (resources/weights): they load through the verified path and
still behave as their cards say."""

import numpy as np
import pytest
import torch

from frstudio.core.align import align_face, transform_points
from frstudio.core.detect import detect_faces
from frstudio.core.identity import face_descriptor
from frstudio.core.restore import read_manifest

FILL_GAIN_DB = 2.0  # the shipped fill's gain over OpenCV's fill on the three seeds below: +3.4 to +5.9 dB


@pytest.fixture(scope="module")
def astronaut_crop(astronaut):
    face = detect_faces(astronaut.copy())[0]
    aligned = align_face(astronaut, face.landmarks, 128)
    crop = np.clip(np.round(aligned.image * 255), 0, 255).astype(np.uint8)
    return crop, transform_points(face.landmarks, aligned.matrix)


def _embed(net, crops):
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        return net(x).numpy()


def _under_bfr_severe(model: str, astronaut_crop):
    """The sample face under `bfr-severe` (seeds 0-5) restored by a shipped model: (restorer, degraded, restored,
    PSNR gain per face, mean dlib distance to the true face before and after)."""
    from frstudio.core.identity import descriptor_distance
    from frstudio.core.restore import Restorer
    from frstudio.core.degradations import PIPELINES
    from training.metrics import psnr

    crop, landmarks = astronaut_crop
    clean = crop.astype(np.float32) / 255
    degraded = np.stack([PIPELINES["bfr-severe"](clean, np.random.default_rng(seed)).image for seed in range(6)]).astype(np.float32)
    restorer = Restorer(model, device="cpu")
    restored = np.stack([r.image for r in restorer.restore(degraded)])
    gains = [psnr(r * 255, clean * 255) - psnr(d * 255, clean * 255) for r, d in zip(restored, degraded)]
    u8 = lambda a: np.clip(np.round(a * 255), 0, 255).astype(np.uint8)  # noqa: E731
    truth = face_descriptor(crop, landmarks)
    distances = [np.mean([descriptor_distance(truth, face_descriptor(u8(x), landmarks)) for x in images]) for images in (degraded, restored)]
    return restorer, degraded, restored, gains, distances


def test_faceid_agrees_with_its_teacher_and_ignores_a_mirror(astronaut_crop):
    from frstudio.core.restore import load_identity_network

    crop, landmarks = astronaut_crop
    net = load_identity_network()
    mirrored = np.ascontiguousarray(crop[:, ::-1])
    darker = (crop * 0.8).astype(np.uint8)
    e_crop, e_mirror, e_dark, e_noise = _embed(net, [crop, mirrored, darker, np.random.default_rng(0).integers(0, 255, crop.shape, dtype=np.uint8)])
    teacher = face_descriptor(crop, landmarks)
    # on dlib's scale (0.6 separates people); the card's cosine agreement 0.935 means ~0.5 typical error
    assert np.linalg.norm(e_crop - teacher) < 0.7
    assert np.linalg.norm(e_crop - teacher) < np.linalg.norm(e_noise - teacher)
    assert np.linalg.norm(e_crop - e_mirror) < 0.4 and np.linalg.norm(e_crop - e_dark) < 0.4
    assert np.linalg.norm(e_crop - e_noise) > np.linalg.norm(e_crop - e_mirror)


def test_shipped_frrnet_restores_degraded_faces(astronaut_crop):
    """A regression guard on the shipped FRR-Net: on a face the test degrades (fixed seeds, the FRR-Net
    protocol's distortions), the restored face is clearly closer to the original than the input."""
    from frstudio.core.restore import Restorer
    from frstudio.core.degradations import PIPELINES
    from training.metrics import psnr

    crop, _ = astronaut_crop
    clean = crop.astype(np.float32) / 255
    degraded = np.stack([PIPELINES["frrnet"](clean, np.random.default_rng(seed)).image for seed in range(6)])
    restored = np.stack([r.image for r in Restorer("frrnet", device="cpu").restore(degraded)])
    gains = [psnr(r * 255, clean * 255) - psnr(d * 255, clean * 255) for r, d in zip(restored, degraded)]
    assert np.mean(gains) > 0.5, gains


def test_shipped_gfrnet_restores_better_with_the_same_persons_reference(astronaut, astronaut_crop):
    """A regression guard on the shipped GFRNet: the sample face degraded by the gfrnet-4x protocol (fixed seeds),
    restored with a reference of the same person (the sample mirrored, detected and aligned again: another
    'photo' whose asymmetries the warp must follow), ends clearly closer to the original than the input, and
    closer than the network's own no-reference path."""
    from frstudio.core.restore import Restorer
    from frstudio.core.degradations import PIPELINES
    from frstudio.core.imageio import float_to_uint8
    from training.evaluate import crop_descriptor
    from training.metrics import psnr

    crop, _ = astronaut_crop
    clean = crop.astype(np.float32) / 255
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    reference = align_face(mirrored, detect_faces(mirrored.copy())[0].landmarks, 128).image
    degraded = np.stack([PIPELINES["gfrnet-4x"](clean, np.random.default_rng(seed)).image for seed in range(6)])
    restorer = Restorer("gfrnet", device="cpu")
    guided = np.stack([r.image for r in restorer.restore(degraded, reference)])
    blind = np.stack([r.image for r in restorer.restore(degraded, None)])

    def mean_psnr(images):
        return float(np.mean([psnr(img * 255, clean * 255) for img in images]))

    # the guided retrain (issue 25): +0.85 dB over the input, +0.10 dB over the no-reference path
    gain = mean_psnr(guided) - mean_psnr(degraded)
    assert gain > 0.6, gain
    assert mean_psnr(guided) > mean_psnr(blind), (mean_psnr(guided), mean_psnr(blind))

    # what the reference is for: the likeness. dlib distance to the clean face: input 0.64, without the reference
    # 0.58, with it 0.48 (the first network ignored its guide: the two paths were within 0.02 of each other)
    def mean_distance(images):
        return float(np.mean([np.linalg.norm(crop_descriptor(float_to_uint8(img), landmarks) - target) for img in images]))

    landmarks = astronaut_crop[1]
    target = crop_descriptor(crop, landmarks)
    assert mean_distance(guided) < mean_distance(blind) - 0.05, (mean_distance(guided), mean_distance(blind))


def test_shipped_progressive_16_upscales_tiny_faces_better_than_bicubic(astronaut_crop):
    """A regression guard on the shipped 16 -> 128 model: the sample face shrunk to 16 x 16 by its protocol
    (`seed003-16`, fixed seeds) comes back at 128 x 128 clearly closer to the original than a bicubic
    up-scale of the same 16 x 16 input."""
    import cv2

    from frstudio.core.restore import Restorer
    from frstudio.core.degradations import PIPELINES
    from training.metrics import psnr

    crop, _ = astronaut_crop
    clean = crop.astype(np.float32) / 255
    tiny = np.stack([PIPELINES["seed003-16"](clean, np.random.default_rng(seed)).image for seed in range(6)])
    assert tiny.shape[1:3] == (16, 16)
    restored = np.stack([r.image for r in Restorer("progressive_16", device="cpu").restore(tiny)])
    bicubic = np.stack([cv2.resize(t, (128, 128), interpolation=cv2.INTER_CUBIC) for t in tiny])
    gains = [psnr(r * 255, clean * 255) - psnr(np.clip(b, 0, 1) * 255, clean * 255) for r, b in zip(restored, bicubic)]
    # shipped run: +1.95 dB on average, +1.88 to +2.02 on each of the six
    assert np.mean(gains) > 1.5 and min(gains) > 1.0, gains


def test_shipped_progressive_128_restores_degraded_faces(astronaut_crop):
    """A regression guard on the shipped 128 -> 128 model, on the sample face degraded by `seed003-128`."""
    from frstudio.core.restore import Restorer
    from frstudio.core.degradations import PIPELINES
    from training.metrics import psnr

    crop, _ = astronaut_crop
    clean = crop.astype(np.float32) / 255
    degraded = np.stack([PIPELINES["seed003-128"](clean, np.random.default_rng(seed)).image for seed in range(6)])
    restored = np.stack([r.image for r in Restorer("progressive_128", device="cpu").restore(degraded)])
    gains = [psnr(r * 255, clean * 255) - psnr(d * 255, clean * 255) for r, d in zip(restored, degraded)]
    # shipped run: +0.46 dB on average, +0.23 to +0.78 on each (on the test split it only holds its input's PSNR:
    # see the card), so the guard is that it never makes this face worse and helps on average
    assert np.mean(gains) > 0.25 and min(gains) > 0, gains


def test_shipped_vq_unet_restores_severely_degraded_faces(astronaut_crop):
    """A regression guard on the shipped stochastic VQ U-Net, on the sample face under `bfr-severe` (seed 001's
    degradation); the default seed (0) makes it deterministic, another seed gives another (close) face."""
    restorer, degraded, restored, gains, (before, after) = _under_bfr_severe("vq_unet", astronaut_crop)
    # shipped weights: +1.72 dB on average, +0.66 to +2.28 on each of the six
    assert np.mean(gains) > 1.0 and min(gains) > 0.3, gains
    assert after < before - 0.02, (before, after)  # shipped weights: 0.663 -> 0.631
    np.testing.assert_array_equal(restored, np.stack([r.image for r in restorer.restore(degraded, seed=0)]))
    assert not np.array_equal(restored, np.stack([r.image for r in restorer.restore(degraded, seed=1)]))


def test_shipped_mmrb_stylegan_restores_severely_degraded_faces(astronaut_crop):
    """A regression guard on the shipped MMRB codec + StyleGAN2 prior, on the sample face under `bfr-severe`:
    deterministic (the codec's features replace the prior's noise), better than its input in PSNR on average, and
    no further from the true face (the weights before the identity fine-tuning drew a generic one: 0.663 -> 0.701)."""
    restorer, degraded, restored, gains, (before, after) = _under_bfr_severe("mmrb_stylegan", astronaut_crop)
    # shipped weights: +0.95 dB on average, +0.01 to +1.37 on each of the six
    assert np.mean(gains) > 0.6 and min(gains) > -0.3, gains
    assert after < before + 0.015, (before, after)  # shipped weights: 0.663 -> 0.657
    np.testing.assert_array_equal(restored, np.stack([r.image for r in restorer.restore(degraded)]))


def test_shipped_default_keeps_a_big_sharp_face_as_sharp(astronaut, astronaut_landmarks):
    """Never hand back a face with less detail than it had: the sample's face enlarged to eyes 250 px apart with a
    photo's fine grain, restored by the default model picked by name (not Auto, which may keep a clean face)."""
    import cv2

    from frstudio.core.align import eye_distance
    from frstudio.core.detect import Face
    from frstudio.core.jobs import drive
    from frstudio.core.pipeline import compose, restore_faces
    from frstudio.core.quality import sharpness_ratio
    from frstudio.core.restore import Restorer, default_model

    f = 250 / eye_distance(astronaut_landmarks)
    big = cv2.resize(astronaut, None, fx=f, fy=f, interpolation=cv2.INTER_LANCZOS4).astype(np.float32)
    big += np.random.default_rng(0).normal(0, 3, big.shape[:2])[..., None]
    photo = type("Photo", (), {"pixels": np.clip(big, 0, 255).astype(np.uint8), "is_grey": False, "path": None})()
    face = Face(0, (0, 0, 1, 1), ((astronaut_landmarks + 0.5) * f - 0.5).astype(np.float32), 1.0)
    job = restore_faces(photo, [face], Restorer(default_model(), device="cpu"))
    done = drive(job)[0]
    out = compose(photo, [face], done)
    assert sharpness_ratio(photo.pixels, out, face.landmarks) >= 0.95


@pytest.mark.parametrize("protocol", ["bfr-severe", "seed003-128", "oldphoto", "frrnet", "frrnet-lowlight"])
def test_shipped_default_gains_on_every_protocol(astronaut_crop, protocol):
    """The restore-mix default gains on every protocol, including the two where the W12D2 default before it lost face
    PSNR (26.53 -> 26.29 on seed003-128, 22.79 -> 22.63 on bfr-severe): here on the whole crop of the sample's face,
    six draws each (the weights shipped 2026-12-07 (16), 99,488 steps, gain about 0.5-1.8 dB on average, every draw at
    least 0.3)."""
    from frstudio.core.restore import Restorer, default_model
    from frstudio.core.degradations import PIPELINES
    from training.metrics import psnr

    crop, _ = astronaut_crop
    clean = crop.astype(np.float32) / 255
    degraded = np.stack([PIPELINES[protocol](clean, np.random.default_rng(seed)).image for seed in range(6)])
    restored = np.stack([r.image for r in Restorer(default_model(), device="cpu").restore(degraded)])
    gains = [psnr(r * 255, clean * 255) - psnr(d * 255, clean * 255) for r, d in zip(restored, degraded)]
    assert np.mean(gains) > 0.3 and min(gains) > 0, gains


def test_shipped_default_takes_print_marks_off_a_face(astronaut_crop):
    """Issue 22, item 2: the default trained with print marks in its mix (2026-12-07, 99,488 steps) takes the test
    family's marks (never trained on) off the sample's face by itself: six draws, face PSNR inside the predicted mask
    1.5 dB above the marked input on average (the weights before it: -0.05 dB). One draw (seed 3) has its marks almost
    all outside the face, which is then nearly clean (45.5 dB) and comes back at 40.3 dB with both weights: the small
    change the model makes to any face it is given, which Auto avoids by keeping faces its classifier calls clean."""
    from frstudio.core.restore import Restorer, default_model
    from training.data.marked import PIPELINES

    crop, _ = astronaut_crop
    clean = crop.astype(np.float32) / 255
    marked = np.stack([PIPELINES["marks"](clean, np.random.default_rng(seed)).image for seed in range(6)])
    results = Restorer(default_model(), device="cpu").restore(marked)

    def face_psnr(image, face):  # inside the face the model predicts: marks outside it are the repair's to take
        err = ((image - clean) * 255) ** 2
        return 10 * np.log10(255**2 / (err[face].mean()))

    gains = []
    for r, m in zip(results, marked):
        face = np.squeeze(np.asarray(r.extras["mask"])) > 0.5
        gains.append(face_psnr(r.image, face) - face_psnr(m, face))
    assert np.mean(gains) > 1.0, gains


def test_shipped_damage_detector_finds_test_family_marks_and_the_repair_removes_them():
    """The bundled scratch detector on the sample photo marked by the benchmark's *test* stroke family (seeds 0-2):
    measured recall 0.89-0.95, precision 0.21-0.54 (the sample's own stars, rim lights and cable edges are taken for
    marks: 0.77 % of its clean pixels, 0.95 % before the detector was retrained with scene structure), PSNR inside
    the marks +1.9 to +8.9 dB (resources/weights/README.md)."""
    from PIL import Image

    from frstudio.core import scratches
    from frstudio.core.paths import sample_photo
    from training.damage_marks import draw_marks
    from training.metrics import psnr

    clean = np.asarray(Image.open(sample_photo()).convert("RGB"))
    net = scratches.load_damage_network()
    assert (scratches.damage_probability(clean, net) > scratches.THRESHOLD).mean() < 0.009
    for seed in range(3):
        damaged, truth = draw_marks(clean.astype(np.float32) / 255, np.random.default_rng(seed), "test", texture=False)
        damaged = np.round(damaged * 255).astype(np.uint8)
        found = scratches.damage_probability(damaged, net) > scratches.THRESHOLD
        assert (found & truth).sum() / truth.sum() > 0.85
        repaired = scratches.repair(damaged, found)
        marks = scratches.grow_mask(truth, 1)
        assert psnr(repaired[marks][None], clean[marks][None]) > psnr(damaged[marks][None], clean[marks][None]) + 1.5


@pytest.mark.skipif("fill" not in read_manifest(), reason="no learned fill is bundled: the app fills with OpenCV alone")
def test_shipped_fill_fills_test_family_marks_closer_to_the_photo_than_opencv_alone():
    """The bundled learned fill on the sample photo marked by the benchmark's *test* stroke family (seeds 0-2), given
    the true marks: inside them it must beat OpenCV's fill, which it starts from, on every seed (measured
    24.3 / 22.4 / 25.8 dB -> 30.2 / 28.3 / 29.2), and change no pixel outside them."""
    from PIL import Image

    from frstudio.core import scratches
    from frstudio.core.paths import sample_photo
    from training.damage_marks import draw_marks
    from training.metrics import psnr

    clean = np.asarray(Image.open(sample_photo()).convert("RGB"))
    fill = scratches.load_fill_network()
    for seed in range(3):
        damaged, truth = draw_marks(clean.astype(np.float32) / 255, np.random.default_rng(seed), "test", texture=False)
        damaged = np.round(damaged * 255).astype(np.uint8)
        marks = scratches.grow_mask(truth, 1)
        opencv = scratches.repair(damaged, truth)
        learned = scratches.repair(damaged, truth, fill=fill)
        np.testing.assert_array_equal(learned[~marks], damaged[~marks])
        assert psnr(learned[marks][None], clean[marks][None]) > psnr(opencv[marks][None], clean[marks][None]) + FILL_GAIN_DB
