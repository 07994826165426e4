"""benchmarks/personal.py: a wrong person's learned copy, forced and as Auto would use it."""

from types import SimpleNamespace

import numpy as np

from tests.support.benchmarks import load_benchmark


def test_a_wrong_persons_copy_pulls_only_where_auto_would_use_it(monkeypatch):
    m = load_benchmark("personal")
    # a descriptor is the image's mean, so "closer to them" is measurable without dlib
    monkeypatch.setattr(m, "crop_descriptor", lambda img, landmarks: np.full(128, img.mean() / 255.0))
    theirs = np.full((2, 128), 0.8)  # the wrong person's held-out photos
    copy = SimpleNamespace(restore=lambda x: [SimpleNamespace(image=np.full((8, 8, 3), 0.7, np.float32))])
    outs = {"shipped": np.full((8, 8, 3), 0.5, np.float32)}
    lq = np.full((8, 8, 3), 0.5, np.float32)

    def learned(helps, photos):
        return (copy, SimpleNamespace(helps=helps, descriptors=photos), theirs)

    far = np.full((1, 128), 0.1)  # the photos it learned from: nothing like this face
    forced = m.wrong_pull(learned(True, far), outs, lq, None, auto=False)
    assert abs(forced - (178 - 128) / 255 * np.sqrt(128)) < 1e-6  # 0.5 -> 0.7 (8-bit: 128 -> 178) towards their 0.8
    assert m.wrong_pull(learned(True, far), outs, lq, None, auto=True) == 0.0  # not recognised: not used
    near = np.full((1, 128), 0.5 + 0.01)
    assert m.wrong_pull(learned(False, near), outs, lq, None, auto=True) == 0.0  # its check failed: not used
    assert abs(m.wrong_pull(learned(True, near), outs, lq, None, auto=True) - forced) < 1e-9


def test_the_guided_row_takes_the_good_photo_most_like_the_damaged_face(monkeypatch):
    m = load_benchmark("personal")
    monkeypatch.setattr(m, "crop_descriptor", lambda img, landmarks: np.full(128, 0.3))
    lm = np.tile(np.linspace(0, 100, 68)[:, None], (1, 2)).astype(np.float32)
    crops = np.stack([np.full((8, 8, 3), v, np.uint8) for v in (10, 20, 30, 40)])
    descriptors = np.stack([np.full(128, v) for v in (0.9, 0.35, 0.0, 2.0)])  # row 1 is nearest to 0.3
    data = SimpleNamespace(crops=crops, descriptors=descriptors, landmarks=np.stack([lm] * 4),
                           file=np.array(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]))
    good = np.array([0, 1, 2, 3])
    reference = m.guided_reference(data, good, crops[0], lm)
    assert reference.dtype == np.float32 and np.allclose(reference, 20 / 255)
    # only the photos given count, and the nearest of them wins even past the same-person distance
    assert np.allclose(m.guided_reference(data, np.array([3, 0]), crops[0], lm), 10 / 255)


def test_face_psnr_is_read_over_the_face_mask_only(monkeypatch):
    m = load_benchmark("personal")
    monkeypatch.setattr(m, "crop_descriptor", lambda img, landmarks: np.zeros(128))
    hq = np.full((16, 16, 3), 100, np.uint8)
    img = hq.copy()
    img[:, 8:] = 200  # wrong only outside the face
    mask = np.zeros((16, 16), np.uint8)
    mask[:, :8] = 1
    s = m.scores(img, hq, None, np.zeros((1, 128)), mask)
    assert s["psnr_face"] == float("inf") and s["psnr"] < 20 and s["match"] == 1.0
