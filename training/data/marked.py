"""Face crops with print damage (scratches, cracks, dust, creases, spots) over their other damage.

Scratch removal is off by default in the app (issue 22), and even when it is on the detector misses some marks, so
the face model should take away the cracks that cross a face by itself. These pipelines put the detector's mark
generators (``training.damage_marks``) onto 128 px face crops:

* ``restore-mix-marks`` (training): ``restore-mix``, then on :data:`MARKS_SHARE` of the faces the *train* family's
  marks on top, labelled as noise for the classifier (so Auto does not keep a cracked face "as it was");
* ``restore-mix-marks-unlabelled`` (training): the same faces, but the marked ones teach the classifier nothing (their
  labels are NaN, which the loss skips): taught that marks are noise, the classifier also called clean faces' fine
  detail noise, and Auto stopped keeping clean faces as they were (the frrnet card);
* ``marks`` and ``oldphoto-marks`` (evaluation): the *test* family's marks, which the model never trained on, over
  the clean face and over the ``oldphoto`` protocol's damage.

The marks go on after the photo's own damage: a print is scratched after it was taken.
"""

from __future__ import annotations

import numpy as np

from frstudio.core import degradations as D
from training.damage_marks import draw_marks

MARKS_SHARE = 0.25
FRRNET_LABELS = ("noise", "blur", "relight")


def _with_marks(out: D.Degraded, rng: np.random.Generator, family: str, as_noise: bool = True) -> D.Degraded:
    """`out` with `family`'s marks drawn on; for the classifier either noise (`as_noise`) or unknown (NaN labels)."""
    marked, mask = draw_marks(out.image, rng, family, texture=False)
    out.image = marked
    out.labels["marks"] = float(mask.mean())
    if as_noise and "noise" in out.labels:
        out.labels.update(noise=1, distorted=True)
    elif not as_noise:
        out.labels.update({key: float("nan") for key in FRRNET_LABELS})
    return out


def _restore_mix_with_marks(hq: np.ndarray, rng: np.random.Generator, protocol: str, as_noise: bool) -> D.Degraded:
    out = D.restore_mix(hq, rng)
    if rng.random() < MARKS_SHARE:
        out = _with_marks(out, rng, "train", as_noise)
        out.labels["source"] += " + marks"
    out.labels["protocol"] = protocol
    return out


def restore_mix_marks(hq: np.ndarray, rng: np.random.Generator) -> D.Degraded:
    """``restore-mix`` with the train family's marks on :data:`MARKS_SHARE` of the faces, labelled as noise."""
    return _restore_mix_with_marks(hq, rng, "restore-mix-marks", as_noise=True)


def restore_mix_marks_unlabelled(hq: np.ndarray, rng: np.random.Generator) -> D.Degraded:
    """:func:`restore_mix_marks` with the marked faces' classifier labels unknown (NaN)."""
    return _restore_mix_with_marks(hq, rng, "restore-mix-marks-unlabelled", as_noise=False)


def marks(hq: np.ndarray, rng: np.random.Generator) -> D.Degraded:
    """A clean face with the test family's marks: what a crack alone costs and what the model takes back."""
    out = D.Degraded(np.asarray(hq, np.float32).copy(), {"protocol": "marks", "params": {}})
    out.labels.update(noise=0, blur=0, relight=0)
    out = _with_marks(out, rng, "test")
    out.labels["protocol"] = "marks"
    return out


def oldphoto_marks(hq: np.ndarray, rng: np.random.Generator) -> D.Degraded:
    """The ``oldphoto`` protocol's damage with the test family's marks on top."""
    out = _with_marks(D.PIPELINES["oldphoto"](hq, rng), rng, "test")
    out.labels["protocol"] = "oldphoto-marks"
    return out


PIPELINES = {"restore-mix-marks": restore_mix_marks, "restore-mix-marks-unlabelled": restore_mix_marks_unlabelled,
             "marks": marks, "oldphoto-marks": oldphoto_marks}
LABEL_KEYS = {"restore-mix-marks": FRRNET_LABELS, "restore-mix-marks-unlabelled": FRRNET_LABELS}
