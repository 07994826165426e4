"""What "Auto" picks for each face: the one rule shared by the app (session.py) and the pipeline (CLI, batch).

No Qt, no torch: a face's eye distance, whether the user gave a reference photo, which models have bundled
weights, and what their test measurements (the manifest) say are all it looks at.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from frstudio.core.restore import VERDICT_THRESHOLD
from frstudio.models import ModelSpec

TINY_FACE_MODEL = "progressive_16"
# px between the eye centres in the photo. Faces below it go to TINY_FACE_MODEL (when its weights are bundled).
# Measured by `python -m training tiny-threshold --spread 150 --distances 4 6 8 10 12 14 16 20` (150 test faces
# shrunk to each eye distance, mild camera noise/blur/JPEG; dlib same-person match to the original):
#   d (px)          4     6     8     10    12    14    16    20
#   FRR-Net       0.24  0.64  0.87  0.99  1.00  1.00  1.00  1.00
#   progressive_16 0.28  0.43  0.54  0.55  0.58  0.61  0.57  0.59
# The 16 -> 128 model wins only at 4 px (its 16 px input holds eyes 3.9 px apart: any larger face is shrunk and
# loses detail FRR-Net keeps), so the threshold is 5, midway to the next measured size. In practice Auto sends it
# only faces drawn by hand: detection does not find faces that small.
TINY_FACE_EYE_DISTANCE = 5.0
# Which faces reach this rule: the default detector (the HOG + BlazeFace ensemble, DetectionSettings.min_eye_distance
# 10) finds faces down to ~10 px between the eyes, so below 5 px the tiny model gets faces drawn by hand (Edit >
# Draw a Missed Face).


def reference_helps(metrics: dict) -> bool:
    """Whether a guided model's test measurements (its manifest entry's "metrics") show the reference photo
    helping: on every protocol it was measured on with the person's own reference, identity match above the
    input's, and where recorded, identity distance below it and PSNR above it. A model that makes faces less
    like the person, or further from the photo, on any damage is never Auto's choice (issue 21, item 5; the
    guided model is not trained on old-photo damage); with no such measurement, nothing shows that it helps."""
    rows = [m for key, m in metrics.items() if "/reference=" not in key and isinstance(m, dict)
            and "id_match" in m.get("input", {}) and "id_match" in m.get("output", {})]

    def better(m: dict) -> bool:
        i, o = m["input"], m["output"]
        return (o["id_match"] > i["id_match"] and ("id_dist" not in i or "id_dist" not in o or o["id_dist"] < i["id_dist"])
                and ("psnr" not in i or "psnr" not in o or o["psnr"] > i["psnr"]))

    return bool(rows) and all(better(m) for m in rows)


def trusted_guided(statuses) -> set[str]:
    """The reference-guided models with weights whose measurements show the reference helping
    (`reference_helps`): the ones Auto may give a face with a reference. `statuses`: restore.ModelStatus."""
    return {s.spec.name for s in statuses
            if s.available and s.spec.takes_reference and reference_helps(s.entry.get("metrics", {}))}


def auto_model(eye_distance: float, has_reference: bool, available: Sequence[ModelSpec],
               guided: Collection[str] | None = None) -> str | None:
    """The model "Auto" picks for one face among `available` (the specs with bundled weights, in the table's
    order), or None when none of them can restore it:

    1. a face with a reference photo: the first reference-guided model in `guided` (the app passes
       `trusted_guided`; None: any guided model in `available`);
    2. a face whose eyes are under TINY_FACE_EYE_DISTANCE px apart: TINY_FACE_MODEL;
    3. otherwise (or when the model of 1 or 2 has no weights): the first model that needs no reference, the
       default (FRR-Net); TINY_FACE_MODEL only when it is the one such model (it sees any face at 16 px).
    """
    names = [s.name for s in available]
    if has_reference:
        usable = [s.name for s in available if s.takes_reference and (guided is None or s.name in guided)]
        if usable:
            return usable[0]
    if eye_distance < TINY_FACE_EYE_DISTANCE and TINY_FACE_MODEL in names:
        return TINY_FACE_MODEL
    blind = sorted((s.name for s in available if not s.takes_reference), key=lambda name: name == TINY_FACE_MODEL)
    return blind[0] if blind else None


# What "Auto" does with a face its model's own classifier calls clean (no noise, blur or bad light found): keeps it
# as it was. A model cannot improve a clean face, only move it (the no-harm benchmark: a clean face restored
# comes back softer); a user who wants it restored anyway picks the model by name. Measured in the README's
# no-harm table (benchmarks/no_harm.py), with how often damaged faces are called clean.
CLEAN_FACE_STRENGTH = 0.0
CLEAN_FACE_MESSAGE = "looked clean: kept as it was"


def looks_clean(verdict: dict[str, float], threshold: float = VERDICT_THRESHOLD) -> bool:
    """Whether a classifier's verdict ({"noise": p, "blur": p, "relight": p}) found nothing; False for a model
    without a classifier (an empty verdict), which cannot say."""
    return bool(verdict) and all(p < threshold for p in verdict.values())


def auto_strength(verdict: dict[str, float], strength: float) -> float:
    """The strength Auto blends a face at: the user's, or CLEAN_FACE_STRENGTH for a face that looked clean."""
    return min(strength, CLEAN_FACE_STRENGTH) if looks_clean(verdict) else strength
