"""benchmarks/personal.py: a wrong person's learned copy, forced and as Auto would use it; the guided row's
reference; face PSNR."""

from types import SimpleNamespace

import numpy as np

from tests.support.benchmarks import load_benchmark


def test_a_wrong_persons_copy_pulls_towards_them_when_forced(monkeypatch):
    m = load_benchmark("personal")
    # a descriptor is the image's mean, so "closer to them" is measurable without dlib
    monkeypatch.setattr(m, "crop_descriptor", lambda img, landmarks: np.full(128, img.mean() / 255.0))
    theirs = np.full((2, 128), 0.8)  # the wrong person's held-out photos
    copy = SimpleNamespace(restore=lambda x: [SimpleNamespace(image=np.full((8, 8, 3), 0.7, np.float32))])
    outs = {"shipped": np.full((8, 8, 3), 0.5, np.float32)}
    lq = np.full((8, 8, 3), 0.5, np.float32)
    forced = m.wrong_pull((copy, SimpleNamespace(), theirs), outs, lq, None)
    assert abs(forced - (178 - 128) / 255 * np.sqrt(128)) < 1e-6  # 0.5 -> 0.7 (8-bit: 128 -> 178) towards their 0.8


def test_auto_uses_a_strangers_copy_only_where_it_recognises_the_face_and_the_copy_passed_its_check():
    m = load_benchmark("personal")
    # (distance to the copy's photos, pull when forced, check passed)
    seen = {"own": [0.40, 0.52, 0.70], "stranger": [(0.58, 0.2, True), (0.58, 0.3, False), (0.40, 0.1, True), (0.90, 0.4, True)]}
    at_05, at_06, at_055, _ = m.recognition_rows(seen)
    assert at_05["distance"] == m.RECOGNITION_DISTANCE == 0.5 and at_06["distance"] == m.SAME_PERSON_DISTANCE
    assert abs(at_06["own_found"] - 2 / 3) < 1e-9 and abs(at_055["own_found"] - 2 / 3) < 1e-9 and abs(at_05["own_found"] - 1 / 3) < 1e-9
    assert at_06["strangers_taken"] == 0.5 and abs(at_06["pull_auto"] - (0.2 + 0.1) / 4) < 1e-9  # not the failed check's
    assert at_055["strangers_taken"] == 0.25 and abs(at_055["pull_auto"] - 0.1 / 4) < 1e-9
    table = m.summary({"tuning": [1.0], "helps": [True], "recognition": {"p": seen},
                       "p": {row: [{"id": 0, "match": 0, "psnr": 0, "psnr_face": 0, "ssim": 0}] for row in m.ROWS}}, ["p"])
    wrong = table["p"]["wrong person's model"]
    assert at_05["strangers_taken"] == 0.25 and abs(at_05["pull_auto"] - 0.1 / 4) < 1e-9
    assert abs(wrong["pull_forced"] - 0.25) < 1e-9 and wrong["pull_auto"] == at_05["pull_auto"] and wrong["auto_used"] == 0.25


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


def test_recognition_counts_a_face_as_found_only_where_its_own_person_is_nearest_and_close_enough():
    m = load_benchmark("recognition")
    # rows: damaged faces of persons 0..2; columns: distance to each person's learned photos
    d = np.array([[0.40, 0.45, 0.90],
                  [0.80, 0.58, 0.52],
                  [0.70, 0.90, 0.30]])
    at_05, at_06 = m.rates(d, 0.5), m.rates(d, 0.6)
    assert abs(at_05["own_found"] - 2 / 3) < 1e-9 and abs(at_06["own_found"] - 2 / 3) < 1e-9  # face 1: its own 0.58 is
    # within 0.6, but person 2's photos (0.52) are nearer, and Auto takes the nearest
    assert abs(at_05["stranger_pairs"] - 1 / 6) < 1e-9 and abs(at_06["stranger_pairs"] - 2 / 6) < 1e-9  # 0.45; and 0.52
    assert at_05["anyone_else"] == 0 and abs(at_06["anyone_else"] - 1 / 3) < 1e-9  # face 1 goes to person 2
