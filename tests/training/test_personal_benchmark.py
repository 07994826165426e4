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
