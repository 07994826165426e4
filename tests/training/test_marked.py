"""training/data/marked.py: print marks over face damage, for the default's training mix and its evaluation."""

import numpy as np

from training.data import marked
from training.data.dataset import LABEL_KEYS, PIPELINES


def _face() -> np.ndarray:
    yy, xx = np.mgrid[0:128, 0:128] / 127.0
    return np.stack([0.3 + 0.4 * xx, 0.5 + 0.2 * yy, 0.45 + 0.1 * xx * yy], axis=2).astype(np.float32)


def test_the_marked_pipelines_are_named_like_the_others_and_the_training_one_carries_the_classifiers_labels():
    assert {"restore-mix-marks", "marks", "oldphoto-marks"} <= set(PIPELINES)
    assert LABEL_KEYS["restore-mix-marks"] == LABEL_KEYS["restore-mix"]


def test_a_quarter_of_the_training_faces_get_marks_and_those_are_labelled_as_noise():
    hq = _face()
    drawn = [marked.restore_mix_marks(hq, np.random.default_rng(seed)) for seed in range(200)]
    with_marks = [d for d in drawn if "marks" in d.labels]
    assert 0.15 < len(with_marks) / len(drawn) < 0.35
    assert all(d.labels["noise"] == 1 and d.labels["source"].endswith("+ marks") for d in with_marks)
    assert all(d.image.shape == hq.shape and d.image.dtype == np.float32 for d in drawn)


def test_the_evaluation_marks_are_the_test_family_drawn_the_same_way_every_time():
    hq = _face()
    a, b = (marked.marks(hq, np.random.default_rng(3)) for _ in range(2))
    assert np.array_equal(a.image, b.image) and a.labels["marks"] > 0
    changed = np.abs(a.image - hq).max(axis=2) > 0.02
    assert 0 < changed.mean() < 0.3  # marks, not a different face
    assert not np.array_equal(marked.oldphoto_marks(hq, np.random.default_rng(3)).image, PIPELINES["oldphoto"](hq, np.random.default_rng(3)).image)


def test_the_unlabelled_mix_draws_the_same_faces_but_its_marked_ones_carry_no_classifier_labels():
    hq = _face()
    for seed in range(60):
        noise = marked.restore_mix_marks(hq, np.random.default_rng(seed))
        unknown = marked.restore_mix_marks_unlabelled(hq, np.random.default_rng(seed))
        assert np.array_equal(noise.image, unknown.image)
        keys = LABEL_KEYS["restore-mix-marks-unlabelled"]
        if "marks" in unknown.labels:
            assert all(np.isnan(unknown.labels[k]) for k in keys)
        else:
            assert all(unknown.labels[k] == noise.labels[k] for k in keys)
