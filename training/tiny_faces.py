"""`python -m training tiny-threshold`: the eye distance below which the 16 -> 128 model beats FRR-Net.

"Auto" sends faces whose eyes are under `frstudio.core.routing.TINY_FACE_EYE_DISTANCE` px apart in the photo
to `progressive_16`; this measures where that should be. For N test faces spread over the split and each eye
distance d:

1. A small photo of the face as a camera would take it at that size: the HQ 128 crop (its eye distance e
   measured from its 68 landmarks, centres of points 36-41 and 42-47) resized by f = d / e (INTER_AREA
   down, INTER_CUBIC for the rare f > 1), padded with reflected pixels (context for the blur and the JPEG
   blocks, and the margin align may sample), then a mild camera degradation at that small size (`Camera`).
   The landmarks follow the resize exactly (pixel centres: x' + .5 = (x + .5) * size' / 128).
2. Each model aligns the face from that photo exactly as the pipeline does (`align_face(photo, landmarks,
   spec.input_size)`: FRR-Net at 128, progressive_16 at 128 then area-shrunk to 16), restores it, and its 128
   output is scored against the HQ face. The "input" row is the small face aligned at 128 by the same
   `align_face` without a model (what FRR-Net is given and the app shows as "before"; bilinear, not bicubic).
3. Scores: dlib's descriptor of the output (on the HQ crop's landmarks, as `training.evaluate` scores)
   against the HQ face's descriptor from the cache (`FaceCache.descriptors`: the face in its original photo),
   its distance (id dist) and the share under 0.6 (id match); PSNR (Y) against the HQ crop. The "hq" line
   is the HQ 128 crop itself scored the same way: the ceiling any row can reach.

The crossover (`crossover`) compares progressive_16 with the default model (the first other model given)
at each d: progressive_16 wins at d when its id match rate is higher, or equal with a lower mean id distance.
The crossover d* is the largest d where it wins; the suggested threshold is midway between d* and the next
measured d (faces strictly below it go to progressive_16), or d* itself when it also wins at the largest d
measured (then measure larger d). Wins that are not contiguous (a loss at some d < d*) are listed.

progressive_16 sees every face at its 16 px template, eyes 3.9 px apart: a face with d = 10 reaches it shrunk
2.5 times, so it can only gain where the photo holds little more than that.

d above the crops' own eye distance (~31 px at 128) cannot be simulated from the cache: the face would be
up-sampled, not taken at that size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from frstudio.core.align import eye_distance
from frstudio.core.routing import TINY_FACE_MODEL

DISTANCES = (4, 6, 8, 10, 12, 14, 16, 20, 24, 32)  # 4: the eye distance of a 16 px aligned crop (3.9 px)
MODELS = ("frrnet", TINY_FACE_MODEL)
SAME_PERSON = 0.6
CROP = 128


@dataclass(frozen=True)
class Camera:
    """What a camera adds to a face that is this small in the photo: mild, the same for every d, seeded.

    - blur_sigma 0.5 px: lens and demosaicing softness at the photo's own pixels (a sharp camera; a
      heavier blur would measure the models' deblurring, which the other protocols do, not their size range);
    - noise_sigma 3 / 255: sensor noise of a well exposed shot (or fine film grain), Gaussian, per channel;
    - JPEG quality 85: typical of camera and phone defaults (80-95), with 4:2:0 chroma as they store it;
      at d = 6 the face spans about 3 x 3 of JPEG's 8 x 8 blocks, as a face in a group photo does.
    The noise is drawn from (seed, cache row, d): every run and model sees the same photo.
    """

    blur_sigma: float = 0.5
    noise_sigma: float = 3.0  # on the 0-255 scale
    jpeg_quality: int = 85
    seed: int = 0


def small_photo(hq: np.ndarray, landmarks: np.ndarray, d: float, camera: Camera, row: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(photo uint8 RGB, its 68 landmarks): the HQ crop as it would appear with its eyes `d` px apart."""
    f = d / eye_distance(landmarks)
    size = max(4, int(round(hq.shape[0] * f)))
    interp = cv2.INTER_AREA if size < hq.shape[0] else cv2.INTER_CUBIC
    small = cv2.resize(hq, (size, size), interpolation=interp)
    scale = size / hq.shape[0]
    lm = (np.asarray(landmarks, np.float64) + 0.5) * scale - 0.5
    margin = size // 4 + 8
    photo = cv2.copyMakeBorder(small, margin, margin, margin, margin, cv2.BORDER_REFLECT_101).astype(np.float32)
    lm = lm + margin
    if camera.blur_sigma > 0:
        photo = cv2.GaussianBlur(photo, (0, 0), camera.blur_sigma)
    rng = np.random.default_rng([camera.seed, int(row), int(round(d * 1000))])
    photo = np.clip(np.round(photo + rng.normal(0, camera.noise_sigma, photo.shape)), 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    photo = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(photo), lm.astype(np.float32)


def load_restorers(models, weights: Path | None = None, device: str | None = None) -> dict[str, tuple[object, str]]:
    """{name: (Restorer, weights folder)}: from `weights` for the models its manifest holds, else the shipped
    ones (resources/weights, or FRSTUDIO_WEIGHTS_DIR)."""
    from frstudio.core.paths import weights_dir
    from frstudio.core.restore import Restorer, read_manifest

    held = read_manifest(Path(weights)) if weights is not None else {}
    out = {}
    for name in models:
        directory = Path(weights) if name in held else weights_dir()
        out[name] = (Restorer(name, device=device, directory=directory), str(directory))
    return out


def _summary(distances: list[float], psnrs: list[float]) -> dict:
    dist = np.asarray(distances, np.float64)
    psnr = np.asarray(psnrs, np.float64)
    finite = np.isfinite(psnr)
    return {
        "id_match": float((dist < SAME_PERSON).mean()),
        "id_dist": float(dist.mean()),
        "psnr": float(psnr[finite].mean()) if finite.any() else float("nan"),
        "n": int(len(dist)),
    }


def _key(d: float) -> str:
    return f"{d:g}"


def measure(cache: Path, distances=DISTANCES, models=MODELS, spread: int | None = 200, weights: Path | None = None,
            device: str | None = None, camera: Camera = Camera(), split: str = "test", batch: int = 16,
            progress=None) -> dict:
    """Every row (input, each model) at every d, on `spread` faces spaced evenly over `split` (all: None)."""
    from frstudio.core.align import align_face
    from training.data.dataset import FaceCache
    from training.evaluate import crop_descriptor, float_to_uint8
    from training.metrics import psnr

    data = FaceCache(cache)
    rows = data.indices(split)
    if len(rows) == 0:
        raise ValueError(f"{cache} has no {split!r} faces")
    if spread and spread < len(rows):
        rows = rows[np.unique(np.linspace(0, len(rows) - 1, spread).round().astype(int))]
    restorers = load_restorers(models, weights, device)
    hq_desc = np.asarray(data.descriptors[rows], np.float64)
    per_face: dict[str, dict[str, dict[str, list]]] = {}

    # the ceiling: the HQ 128 crop itself against the face in its original photo
    hq_dist = [float(np.linalg.norm(crop_descriptor(data.crops[r], data.landmarks[r]) - hq_desc[k])) for k, r in enumerate(rows)]
    sizes = {}
    for d in distances:
        scores = {name: {"id_dist": [], "psnr": []} for name in ("input", *models)}
        eyes = []
        for start in range(0, len(rows), batch):
            chunk = list(enumerate(rows))[start : start + batch]
            photos = []
            for k, r in chunk:
                photo, lm = small_photo(np.asarray(data.crops[r]), data.landmarks[r], d, camera, int(r))
                photos.append((k, r, photo, lm))
                eyes.append(eye_distance(lm))
            outputs = {"input": [align_face(p, lm, CROP).image for _, _, p, lm in photos]}
            for name, (restorer, _) in restorers.items():
                crops = np.stack([align_face(p, lm, restorer.spec.input_size).image for _, _, p, lm in photos])
                outputs[name] = [r.image for r in restorer.restore(crops)]
            for name, images in outputs.items():
                for (k, r, _, _), img in zip(photos, images):
                    out = float_to_uint8(img)
                    if out.shape[0] != CROP:
                        out = cv2.resize(out, (CROP, CROP), interpolation=cv2.INTER_CUBIC)
                    hq = np.asarray(data.crops[r])
                    desc = crop_descriptor(out, data.landmarks[r])
                    scores[name]["id_dist"].append(float(np.linalg.norm(desc - hq_desc[k])))
                    scores[name]["psnr"].append(float(psnr(out, hq)))
            if progress:
                progress(d, min(start + batch, len(rows)), len(rows))
        per_face[_key(d)] = scores
        sizes[_key(d)] = float(np.mean(eyes))
    by_d = {key: {name: _summary(s["id_dist"], s["psnr"]) for name, s in rows_.items()} for key, rows_ in per_face.items()}
    report = {
        "split": split,
        "n": int(len(rows)),
        "cache_rows": [int(r) for r in rows],
        "distances": [float(d) for d in distances],
        "models": list(models),
        "weights": {name: where for name, (_, where) in restorers.items()},
        "camera": asdict(camera),
        "eye_distance_measured": sizes,
        "hq": {"id_match": float((np.asarray(hq_dist) < SAME_PERSON).mean()), "id_dist": float(np.mean(hq_dist)), "n": len(hq_dist)},
        "by_d": by_d,
        "per_face": {key: {name: {k: [round(v, 4) for v in vals] for k, vals in s.items()} for name, s in rows_.items()}
                     for key, rows_ in per_face.items()},
    }
    others = [m for m in models if m != TINY_FACE_MODEL]
    if TINY_FACE_MODEL in models and others:
        report["crossover"] = crossover(by_d, TINY_FACE_MODEL, others[0], per_face)
    return report


def beats(a: dict, b: dict) -> bool:
    """Whether row `a` beats row `b` on identity: a higher match rate, or the same rate and a lower distance."""
    if abs(a["id_match"] - b["id_match"]) > 1e-9:
        return a["id_match"] > b["id_match"]
    return a["id_dist"] < b["id_dist"]


RULE = ("{tiny} wins at d when its id match rate (dlib distance < 0.6 to the HQ face) is higher than {default}'s, "
        "or equal with a lower mean id distance; the crossover d* is the largest d where it wins; the suggested "
        "TINY_FACE_EYE_DISTANCE is midway between d* and the next measured d (faces strictly below it go to {tiny}), "
        "d* itself when {tiny} also wins at the largest d measured, and 0 (never route) when it wins nowhere")


def crossover(by_d: dict, tiny: str = TINY_FACE_MODEL, default: str = "frrnet", per_face: dict | None = None) -> dict:
    """The crossover of `tiny` against `default` from per-d summaries {d: {model: {"id_match", "id_dist"}}}
    (d as numbers or as the strings `measure` writes), by the rule in RULE."""
    ds = sorted(by_d, key=float)
    wins = [float(d) for d in ds if beats(by_d[d][tiny], by_d[d][default])]
    measured = [float(d) for d in ds]
    out = {"tiny": tiny, "default": default, "rule": RULE.format(tiny=tiny, default=default), "wins": wins}
    if not wins:
        out.update(d_star=None, threshold=0.0, losses_below=[])
    else:
        d_star = max(wins)
        above = [d for d in measured if d > d_star]
        out.update(
            d_star=d_star,
            threshold=(d_star + above[0]) / 2 if above else d_star,
            losses_below=[d for d in measured if d < d_star and d not in wins],
        )
        if not above:
            out["note"] = f"{tiny} wins at the largest d measured: measure larger d"
    if per_face is not None:
        # paired: faces that only one of the two keeps recognisable (under 0.6), per d
        out["only_matched_by"] = {}
        for d in ds:
            t = np.asarray(per_face[d][tiny]["id_dist"]) < SAME_PERSON
            f = np.asarray(per_face[d][default]["id_dist"]) < SAME_PERSON
            out["only_matched_by"][_key(float(d))] = {tiny: int((t & ~f).sum()), default: int((f & ~t).sum())}
    return out


def markdown(report: dict) -> str:
    """One table per d (rows: input, each model), the HQ ceiling, and the crossover with its rule."""
    lines = [f"{report['n']} {report['split']} faces; camera: blur {report['camera']['blur_sigma']} px, noise "
             f"{report['camera']['noise_sigma']}/255, JPEG q{report['camera']['jpeg_quality']}",
             f"hq (the 128 crop itself): id match {report['hq']['id_match']:.3f}, id dist {report['hq']['id_dist']:.3f}", ""]
    for key, rows in report["by_d"].items():
        lines += [f"d = {key} px (measured {report['eye_distance_measured'][key]:.2f})", "",
                  "| | id match | id dist | PSNR |", "|---|---|---|---|"]
        for name, row in rows.items():
            lines.append(f"| {name} | {row['id_match']:.3f} | {row['id_dist']:.3f} | {row['psnr']:.2f} |")
        lines.append("")
    c = report.get("crossover")
    if c:
        lines.append("Crossover rule: " + c["rule"] + ".")
        wins = ", ".join(f"{d:g}" for d in c["wins"]) or "none"
        lines.append(f"{c['tiny']} wins at d = {wins}")
        if "only_matched_by" in c:
            lines.append("faces matched by one model only: " + "; ".join(
                f"d {k}: {v[c['tiny']]} vs {v[c['default']]}" for k, v in c["only_matched_by"].items()))
        if c["d_star"] is None:
            lines.append(f"crossover: none ({c['tiny']} never beats {c['default']}): threshold 0, route nothing")
        else:
            lines.append(f"crossover d* = {c['d_star']:g} px; suggested TINY_FACE_EYE_DISTANCE = {c['threshold']:g}")
            if c["losses_below"]:
                lines.append("note: it loses below d* too, at d = " + ", ".join(f"{d:g}" for d in c["losses_below"]))
            if c.get("note"):
                lines.append("note: " + c["note"])
    return "\n".join(lines)
