"""Dark photos, whole: does the restored face sit in its photo's light, or glow as a lit oval?

    python benchmarks/lowlight_photo.py [--n 300] [--model frrnet] [--faces ../shared/data/faces]

The `frrnet-lowlight` degradation (one exposure gain in [0.3, 0.6], then noise) is applied to whole test-split
photos (not aligned crops), which then go through the app's own path: detect, restore, compose. Each way of
composing is scored against the original photo:

- input: the dark photo as it is;
- match (`--tone match`): each face's tone pulled to the dark photo's;
- face light (the auto tone before the photo relight: the face keeps the model's brightness, the rest stays dark;
  `--tone model` is the same with the model's colour too);
- auto (`--tone auto`, the default): the whole photo takes the light the model gave its faces (`core/relight.py`).

Scores: PSNR and mean luminance error of the whole photo (grey levels); the same outside the faces; the face/ring
contrast error, how far the face's brightness over a ring around it is from the original's, in stops (darkening
the whole photo leaves it unchanged, a lit oval raises it); and the colour cast, the angle between the photo's mean colour and the original's. Photos in
which the detector finds no face in the dark version are counted and left out. Also times the photo relight on a
12 MP photo.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frstudio.core import pipeline  # noqa: E402
from frstudio.core.align import eye_distance  # noqa: E402
from frstudio.core.blend import face_outline  # noqa: E402
from frstudio.core.detect import detect_faces  # noqa: E402
from frstudio.core.imageio import float_to_uint8  # noqa: E402
from frstudio.core.jobs import drive  # noqa: E402
from frstudio.core.relight import ToneCurve, apply_tone_curve  # noqa: E402
from frstudio.core.degradations import frrnet_lowlight  # noqa: E402
from training.metrics import psnr  # noqa: E402

LUMA = np.array([0.299, 0.587, 0.114])
WAYS = ("input", "match", "face light", "auto")


def test_photos(faces_dir: Path, n: int) -> list[Path]:
    """`n` test-split photos spread evenly over the split (CelebA and All-Age-Faces), in manifest order."""
    with open(faces_dir / "manifest.csv", newline="") as f:
        rows = [r["file"] for r in csv.DictReader(f) if r["split"] == "test"]
    picks = np.unique(np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int))
    return [faces_dir / rows[i] for i in picks]


@contextmanager
def without_photo_relight():
    """The compose of before the photo relight: auto tone kept a relit face's light on the face alone."""
    saved = pipeline.photo_relight
    pipeline.photo_relight = lambda *args, **kwargs: None
    try:
        yield
    finally:
        pipeline.photo_relight = saved


def regions(shape: tuple[int, int], faces) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Per face: (inside its outline, a ring around it from 0.15 to 0.6 eye distances out); and all the faces'
    surroundings out to 0.6 eye distances, which 'outside the faces' leaves out."""
    pairs, near = [], np.zeros(shape, np.uint8)
    for face in faces:
        inside = np.zeros(shape, np.uint8)
        cv2.fillPoly(inside, [np.round(face_outline(face.landmarks)).astype(np.int32)], 1)
        apart = eye_distance(np.asarray(face.landmarks, np.float64))
        grow = lambda r: cv2.dilate(inside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))  # noqa: E731
        far, close = grow(max(2, int(0.6 * apart))), grow(max(1, int(0.15 * apart)))
        pairs.append((inside.astype(bool), far.astype(bool) & ~close.astype(bool)))
        near |= far
    return pairs, ~near.astype(bool)


def scores(out: np.ndarray, truth: np.ndarray, pairs, outside: np.ndarray) -> dict[str, float]:
    y_out, y_true = out.astype(np.float64) @ LUMA, truth.astype(np.float64) @ LUMA
    # in stops: the face's brightness over its ring's, against the original's; one exposure change for the whole
    # photo leaves it at 0, a face lit alone raises it
    contrast = lambda y, i, r: np.log2((y[i].mean() + 1) / (y[r].mean() + 1))  # noqa: E731
    steps = [abs(contrast(y_out, i, r) - contrast(y_true, i, r)) for i, r in pairs if r.any()]
    mean_out, mean_true = out.reshape(-1, 3).mean(0), truth.reshape(-1, 3).mean(0)
    cos = mean_out @ mean_true / (np.linalg.norm(mean_out) * np.linalg.norm(mean_true) + 1e-9)
    return {
        "psnr": psnr(out, truth),
        "lum": float(np.abs(y_out - y_true).mean()),
        "psnr_out": psnr(out[outside], truth[outside]) if outside.any() else float("nan"),
        "lum_out": float(np.abs(y_out - y_true)[outside].mean()) if outside.any() else float("nan"),
        "contrast": float(np.mean(steps)) if steps else float("nan"),
        "cast": float(np.degrees(np.arccos(np.clip(cos, -1, 1)))),
    }


def run(paths: list[Path], model: str) -> tuple[dict[str, list[dict]], int]:
    restorer = pipeline.RestorerCache().get(model)
    results: dict[str, list[dict]] = {w: [] for w in WAYS}
    missed = 0
    for k, path in enumerate(paths):
        truth = np.asarray(Image.open(path).convert("RGB"))
        dark = frrnet_lowlight(truth.astype(np.float32) / 255, np.random.default_rng(k)).image
        dark = float_to_uint8(dark)
        faces = detect_faces(dark)
        if not faces:
            missed += 1
            continue
        photo = SimpleNamespace(pixels=dark, is_grey=False, path=path)  # what restore_faces and compose read
        done, _ = drive(pipeline.restore_faces(photo, faces, restorer))
        pairs, outside = regions(dark.shape[:2], faces)
        results["input"].append(scores(dark, truth, pairs, outside))
        results["match"].append(scores(pipeline.compose(photo, faces, done, match_tone=True), truth, pairs, outside))
        with without_photo_relight():
            results["face light"].append(scores(pipeline.compose(photo, faces, done), truth, pairs, outside))
        results["auto"].append(scores(pipeline.compose(photo, faces, done), truth, pairs, outside))
    return results, missed


def relight_seconds(width: int = 4000, height: int = 3000) -> float:
    """Median of three: the tone curve applied to a 12 MP photo."""
    pixels = np.random.default_rng(0).integers(0, 120, (height, width, 3), dtype=np.uint8)
    x = np.linspace(0, 1, 27)
    curve = ToneCurve(x, np.sqrt(x), 0.2, 0.45)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        apply_tone_curve(pixels.copy(), curve)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="test photos, spread over the split (default 300)")
    parser.add_argument("--model", default="frrnet")
    parser.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    args = parser.parse_args()
    paths = test_photos(args.faces, args.n)
    results, missed = run(paths, args.model)
    used = len(results["input"])
    print(f"{used} of {len(paths)} test photos darkened by frrnet-lowlight ({missed} with no face found in the dark "
          f"version, left out); model {args.model}")
    print("| compose | PSNR | lum err | PSNR outside faces | lum err outside faces | face/ring contrast err (stops) | cast ° |")
    print("|---|---|---|---|---|---|---|")
    for way in WAYS:
        m = {k: float(np.nanmean([r[k] for r in results[way]])) for k in results[way][0]}
        print(f"| {way} | {m['psnr']:.2f} | {m['lum']:.1f} | {m['psnr_out']:.2f} | {m['lum_out']:.1f} | {m['contrast']:.2f} "
              f"| {m['cast']:.1f} |")
    print(f"photo relight on a 12 MP photo: {relight_seconds():.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
