"""`python -m training evaluate MODEL --protocol P`: test-split metrics of a shipped model and of its input.

Every face of the split is degraded deterministically by the protocol (docs/evaluation.md), restored by the shipped
weights through `frstudio`'s own Restorer (so what is measured is what the app runs), and scored with the
metrics of `training.metrics`; the degraded input is scored the same way and printed beside the model.
Identity and landmark metrics use dlib on the 128 x 128 crops, with the ground-truth landmarks placing dlib's
face chip, so input, output and ground truth are described identically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

METRIC_ORDER = ["psnr", "psnr_face", "ssim", "ms_ssim", "id_dist", "id_match", "lmd", "niqe", "detail", "fd_dlib", "iprecision", "irecall", "lum_err", "cast_deg"]
IPR_K = 4  # iPrecision / iRecall neighbourhood (seed 001 uses k = 4)
HIGHER_IS_BETTER = {"psnr", "ssim", "ms_ssim", "id_match", "iprecision", "irecall"}

# The seed (003) reports "mean ± std" with the std taken over batches of 32 faces: Scores.summary adds
# f"{metric}_batch_std" for these metrics.
SPREAD_BATCH = 32
SPREAD_METRICS = ("psnr", "psnr_face", "ssim", "ms_ssim")


def batch_spread(values, batch: int = SPREAD_BATCH) -> float | None:
    """Standard deviation (numpy's, ddof 0) of the means of consecutive batches of ``batch`` faces, in the
    order the faces were evaluated: the "± 0.3" of the seed's "20.6 ± 0.3".

    Inside a batch, non-finite values (the infinite PSNR of a face equal to its ground truth) are left out of
    that batch's mean, as Scores.summary leaves them out of the overall mean; a batch with no finite value is
    skipped. A trailing incomplete batch is left out (its mean would spread more, being of fewer faces).
    None when fewer than two batches remain: one batch has no spread to report.
    """
    v = np.asarray(values, np.float64)
    full = len(v) // batch
    means = []
    for b in v[: full * batch].reshape(full, batch) if full else ():
        finite = b[np.isfinite(b)]
        if finite.size:
            means.append(finite.mean())
    return float(np.std(means)) if len(means) >= 2 else None


# ---- categories of faces (seed 003's "critical issues": poses, occlusions, age groups, ethnic groups)
#
# The cache's ``yaw`` is frstudio.core.references.yaw_proxy: the nose tip's offset from the midpoint of the
# jaw's two ends (landmarks 0 and 16), in units of the jaw's width. For a head turned by an angle t and seen
# orthographically that is c * tan(t), with c = (depth of the nose tip in front of the jaw ends) / (jaw
# width); on OpenFace's mean 3-D face (the 68-point model that solvePnP head-pose estimators fit) c =
# (36.95 + 47.40) / 144.77 = 0.583. Checked on the test split of cache/faces128 (3,140 faces): solvePnP of
# that model on all 68 landmarks correlates 0.96 with arctan(|yaw| / 0.583), whose per-bin medians read
# 0-2 degrees higher (3.7 / 13.6 / 22.4 / 29.6 / 35.9 degrees against 3.6 / 12.6 / 21.1 / 27.6 / 33.7).
YAW_DEPTH_RATIO = 0.583
# Pose bins in degrees. 15 degrees is the usual bound of "near-frontal" (Multi-PIE's frontal poses are the
# cameras within +-15 degrees). dlib's HOG detector, which chose the cache's faces, rarely finds a face turned
# past 35-40 degrees, so the cache holds almost no true profiles: on the test split 93 faces (3 %) are
# estimated at 30 degrees or more, only 29 (0.9 %) at 35 or more, too few for a mean. "profile" is therefore
# the most turned tail the cache has, >= 30 degrees (semi-profile, really); "moderate" is 15-30.
POSE_BINS = (("frontal", 0.0), ("moderate", 15.0), ("profile", 30.0))
# Age groups (AAF carries ages; CelebA none): child < 13, teen 13-19, adult 20-59, senior 60+.
AGE_BINS = (("child", 0.0), ("teen", 13.0), ("adult", 20.0), ("senior", 60.0))
# dlib's detector score (the HOG SVM's margin) is low for occluded, blurred, badly lit or turned faces: the
# lowest quartile of the split stands in for "occlusions / difficult faces", which the data does not label.
LOW_SCORE_QUANTILE = 0.25
LOW_SCORE = "detector score: lowest 25% (proxy for occlusion)"


def yaw_degrees(yaw_proxy) -> np.ndarray:
    """|head turn| in degrees estimated from the cache's yaw proxy (see YAW_DEPTH_RATIO)."""
    return np.degrees(np.arctan(np.abs(np.asarray(yaw_proxy, np.float64)) / YAW_DEPTH_RATIO))


def _bin(values: np.ndarray, bins) -> np.ndarray:
    """Name of the bin (lower bounds ascending) of each value; "" for NaN."""
    names = np.array([name for name, _ in bins], dtype=object)
    index = np.searchsorted(np.array([lo for _, lo in bins]), values, side="right") - 1
    out = names[np.clip(index, 0, len(bins) - 1)]
    out[~np.isfinite(values)] = ""
    return out


def pose_bin(yaw_proxy) -> np.ndarray:
    """'frontal' / 'moderate' / 'profile' of each face from the cache's signed yaw proxy."""
    return _bin(yaw_degrees(yaw_proxy), POSE_BINS)


def age_group(age) -> np.ndarray:
    """'child' / 'teen' / 'adult' / 'senior' of each age in years; "" where the age is unknown (NaN)."""
    return _bin(np.asarray(age, np.float64), AGE_BINS)


def face_categories(yaw, age, gender, source, score, low_score: float) -> dict[str, np.ndarray]:
    """Boolean masks (one per category, over the faces given) by pose, age group, gender, source and a low
    detector score (``score <= low_score``). Every category is listed, empty or not, in a fixed order."""
    yaw, age, score = (np.asarray(a, np.float64) for a in (yaw, age, score))
    gender, source = np.asarray(gender, dtype=object), np.asarray(source, dtype=object)
    masks = {"all": np.ones(len(yaw), bool)}
    pose = pose_bin(yaw)
    masks.update({f"pose: {name}": pose == name for name, _ in POSE_BINS})
    ages = age_group(age)
    masks.update({f"age: {name}": ages == name for name, _ in AGE_BINS})
    masks.update({f"gender: {g}": gender == g for g in ("female", "male")})
    masks.update({f"source: {s}": source == s for s in ("celeba", "aaf")})
    masks[LOW_SCORE] = score <= low_score
    return masks


def category_rules(low_score: float) -> dict[str, str]:
    """How each kind of category is decided, for the report."""
    return {
        "pose": f"|yaw| from the landmarks, arctan(|yaw proxy| / {YAW_DEPTH_RATIO}): frontal < 15°, moderate 15–30°, profile ≥ 30°",
        "age": "years (AAF faces only): child < 13, teen 13–19, adult 20–59, senior 60+",
        "gender": "from the manifest (AAF faces only)",
        "source": "celeba, or aaf (mostly East-Asian faces: the seed's under-represented ethnic groups)",
        "detector score": f"dlib detector score ≤ {low_score:.3f}, the split's lowest quartile: a proxy for "
                          "occluded or difficult faces, not a label",
    }


def subset_scores(scores: "Scores", mask: np.ndarray, hq_descriptors: np.ndarray) -> dict:
    """Mean PSNR (finite values), SSIM, MS-SSIM, identity distance and match rate of the faces in ``mask``."""
    from training.metrics import identity_scores

    mask = np.asarray(mask, bool)
    psnr = np.asarray(scores.psnr, np.float64)[mask]
    psnr = psnr[np.isfinite(psnr)]
    ids = identity_scores(np.asarray(scores.descriptors)[mask], np.asarray(hq_descriptors)[mask])
    return {
        "psnr": float(psnr.mean()) if psnr.size else float("nan"),
        "ssim": float(np.mean(np.asarray(scores.ssim)[mask])),
        "ms_ssim": float(np.mean(np.asarray(scores.ms_ssim)[mask])),
        "id_dist": ids.mean_distance,
        "id_match": ids.match_rate,
    }


def category_breakdown(masks: dict[str, np.ndarray], rows: dict[str, "Scores"], hq_descriptors: np.ndarray) -> dict:
    """{category: {"n": faces, row name: subset_scores, ...}} (only "n" for an empty category)."""
    out = {}
    for name, mask in masks.items():
        entry = {"n": int(np.sum(mask))}
        if entry["n"]:
            entry.update({row: subset_scores(scores, mask, hq_descriptors) for row, scores in rows.items()})
        out[name] = entry
    return out


def category_table(report: dict) -> str:
    """The breakdown of evaluate_restorer(by_category=True) as a markdown table."""
    lines = ["| category | n | input PSNR | output PSNR | input id match | output id match | input id dist | output id dist |",
             "|---" * 8 + "|"]
    for name, entry in report["categories"].items():
        inp, out = entry.get("input", {}), entry.get("output", {})
        cells = [f"{row[k]:{fmt}}" if k in row else "–" for k, fmt in (("psnr", ".2f"), ("id_match", ".3f"), ("id_dist", ".3f"))
                 for row in (inp, out)]
        lines.append(f"| {name} | {entry['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def float_to_uint8(img: np.ndarray) -> np.ndarray:
    """float [0, 1] H x W x 3 (or 3 x H x W tensor data) -> uint8 H x W x 3, as a saved image would be
    (`frstudio.core.imageio.float_to_uint8`)."""
    from frstudio.core import imageio

    a = np.asarray(img, np.float32)
    if a.ndim == 3 and a.shape[0] == 3 and a.shape[-1] != 3:
        a = a.transpose(1, 2, 0)
    return imageio.float_to_uint8(a)


def upscale_to(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if img.shape[0] == size:
        return img
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)


def crop_landmarks(img: np.ndarray, reference_landmarks: np.ndarray) -> np.ndarray:
    """dlib's 68 landmarks on a 128 crop, searched in the box of the ground truth's landmarks."""
    from frstudio.core.detect import landmarks_in_box

    lm = np.asarray(reference_landmarks)
    box = (lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max() + 1, lm[:, 1].max() + 1)
    return landmarks_in_box(np.ascontiguousarray(img), box)


def crop_descriptor(img: np.ndarray, reference_landmarks: np.ndarray) -> np.ndarray:
    from frstudio.core.identity import face_descriptor

    return face_descriptor(img, reference_landmarks)


@dataclass
class Scores:
    """Per-face values for one row (input or output), summarised at the end."""

    psnr: list = field(default_factory=list)
    psnr_face: list = field(default_factory=list)  # over the ground-truth face mask, where the protocol has one
    ssim: list = field(default_factory=list)
    ms_ssim: list = field(default_factory=list)
    lmd: list = field(default_factory=list)
    niqe: list = field(default_factory=list)
    detail: list = field(default_factory=list)  # Laplacian variance in the face over the ground truth's
    lum_err: list = field(default_factory=list)
    cast_deg: list = field(default_factory=list)
    descriptors: list = field(default_factory=list)

    def add(self, img: np.ndarray, hq: np.ndarray, gt_landmarks: np.ndarray, niqe_model, mask: np.ndarray | None = None) -> None:
        from training.metrics import cast_angle, detail_ratio, face_psnr, lmd, luminance_error, ms_ssim, niqe, psnr, ssim

        self.psnr.append(psnr(img, hq))
        if mask is not None and (np.asarray(mask) > 0.5).any():
            self.psnr_face.append(face_psnr(img, hq, mask))
        self.ssim.append(ssim(img, hq))
        self.ms_ssim.append(ms_ssim(img, hq))
        self.detail.append(detail_ratio(img, hq, mask if mask is not None and (np.asarray(mask) > 0.5).any() else None))
        self.lmd.append(lmd(crop_landmarks(img, gt_landmarks), gt_landmarks))
        self.lum_err.append(luminance_error(img, hq, mask))
        self.cast_deg.append(cast_angle(img, hq, mask))
        self.descriptors.append(crop_descriptor(img, gt_landmarks))
        if niqe_model is not None:
            self.niqe.append(niqe(img, niqe_model))

    def save(self, path: Path) -> None:
        tmp = Path(str(path) + ".part.npz")
        np.savez(tmp, **{f.name: np.asarray(getattr(self, f.name), np.float64) for f in dataclasses.fields(self)})
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "Scores":
        with np.load(path) as data:
            # rows saved before a metric existed lack it: an empty list, which evaluate() takes as unknown
            return cls(**{f.name: list(data[f.name]) if f.name in data else [] for f in dataclasses.fields(cls)})

    def summary(self, hq_descriptors: np.ndarray, identities: np.ndarray | None) -> dict:
        from training.metrics import frechet_distance, identity_scores, iprecision_irecall

        desc = np.array(self.descriptors)
        ids = identity_scores(desc, hq_descriptors)
        psnr = np.asarray(self.psnr, np.float64)
        finite = np.isfinite(psnr)  # an untouched face (a clean input) has an infinite PSNR
        out = {
            "psnr": float(np.mean(psnr[finite])) if finite.any() else float("nan"),
            "ssim": float(np.mean(self.ssim)),
            "ms_ssim": float(np.mean(self.ms_ssim)),
            "id_dist": float(ids.mean_distance),
            "id_match": float(ids.match_rate),
            "lmd": float(np.mean(self.lmd)),
        }
        face = np.asarray(self.psnr_face, np.float64)
        if face.size and np.isfinite(face).any():
            out["psnr_face"] = float(np.mean(face[np.isfinite(face)]))
        if not finite.all():
            out["identical"] = int((~finite).sum())  # faces equal to the ground truth, left out of the PSNR mean
        if self.niqe:
            out["niqe"] = float(np.mean(self.niqe))
        detail = np.asarray(self.detail, np.float64)
        if np.isfinite(detail).any():  # the median: a few faces with almost no ground-truth detail give huge ratios
            out["detail"] = float(np.median(detail[np.isfinite(detail)]))
        if len(desc) >= 200:  # a covariance of 128-d vectors needs well over 128 samples
            out["fd_dlib"] = float(frechet_distance(desc, hq_descriptors))
        if identities is not None:
            # over the faces with a known identity (CelebA's; All-Age-Faces carry none), real and restored alike
            known = identities != ""
            if known.sum() > IPR_K and len(set(identities[known].tolist())) > 1:  # the k-th neighbour needs N > k
                p, r = iprecision_irecall(hq_descriptors[known], desc[known], identities[known], k=IPR_K)
                out["iprecision"], out["irecall"] = float(p), float(r)
                out["iprecision_n"] = int(known.sum())
        if self.lum_err:
            out["lum_err"] = float(np.mean(self.lum_err))
            out["cast_deg"] = float(np.mean(self.cast_deg))
        for key in SPREAD_METRICS:
            spread = batch_spread(getattr(self, key))
            if spread is not None:  # under two full batches of 32: no spread to report
                out[f"{key}_batch_std"] = spread
        return out


class Extras:
    """What a model reports beside its image, scored against the protocol's truth: the distortion
    classifier's per-label accuracy (threshold 0.5) and the predicted mask's Dice."""

    def __init__(self):
        self.correct: dict[str, list[bool]] = {}
        self.dice: list[float] = []

    def add(self, result, item: dict, label_keys: tuple[str, ...]) -> None:
        labels = np.asarray(item.get("labels", ()), np.float32).reshape(-1)
        verdict = getattr(result, "verdict", {})
        if verdict and len(labels) == len(label_keys):
            for key, truth in zip(label_keys, labels):
                if key in verdict:
                    self.correct.setdefault(key, []).append((verdict[key] >= 0.5) == (truth >= 0.5))
        mask = getattr(result, "mask", None)
        if mask is not None and "mask" in item:
            truth = np.asarray(item["mask"], np.float32).reshape(mask.shape)
            inter = float((mask * truth).sum())
            self.dice.append(2 * inter / max(float(mask.sum() + truth.sum()), 1e-6))

    def summary(self) -> dict:
        out = {}
        if self.correct:
            out["classifier_accuracy"] = {k: float(np.mean(v)) for k, v in self.correct.items()}
        if self.dice:
            out["mask_dice"] = float(np.mean(self.dice))
        return out


def niqe_model_for(cache: Path):
    """The project's NIQE, fitted once on the sharpest training HQ crops and kept beside the cache."""
    from training.data.dataset import FaceCache
    from training.metrics.niqe import NiqeModel, fit_niqe

    path = Path(cache) / "niqe_faces128.npz"
    if path.exists():
        return NiqeModel.load(path)
    data = FaceCache(cache)
    train = data.indices("train")
    if len(train) < 200:  # 36 features need far more patches than a toy cache has: no NIQE then
        return None
    sharp = train[np.argsort(-data.sharpness[train])[:2000]]
    model = fit_niqe(data.crops[i] for i in sharp)
    model.save(path)
    return model


def _cell(row: dict, key: str) -> str:
    """"20.61 ± 0.31" where the row has the metric's spread over batches of 32, "20.61" otherwise."""
    if key not in row:
        return "–"
    spread = row.get(f"{key}_batch_std")
    return f"{row[key]:.4g}" + (f" ± {spread:.2g}" if spread is not None else "")


def markdown_table(report: dict) -> str:
    inp, out = report["input"], report["output"]
    keys = [k for k in METRIC_ORDER if k in out]
    lines = [f"{report['model']} on {report['protocol']} ({report['split']}, n = {report['n']})", "", "| | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for label, row in (("degraded input", inp), (report["model"], out)):
        lines.append(f"| {label} | " + " | ".join(_cell(row, k) for k in keys) + " |")
    if any(f"{k}_batch_std" in out for k in keys):
        lines.append(f"\n± : standard deviation of the means of consecutive batches of {SPREAD_BATCH} faces")
    if "classifier_accuracy" in report:
        lines.append("\nclassifier accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in report["classifier_accuracy"].items()))
    if "mask_dice" in report:
        lines.append(f"mask Dice: {report['mask_dice']:.4f}")
    return "\n".join(lines)


def write_json(path: Path, data: dict) -> None:
    tmp = Path(str(path) + ".part")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _input_row_file(cache: Path, protocol: str, split: str, faces_kind: str, n: int) -> Path:
    """Where the degraded input's per-face scores of one protocol are kept: they do not depend on the model,
    and dlib's descriptors make them the slow half of an evaluation. The key includes the code that makes
    and scores the input, so a change to a degradation or a metric never reuses stale numbers."""
    from frstudio.core import degradations

    here = Path(__file__).resolve().parent
    code = hashlib.sha256()
    for source in sorted([Path(degradations.__file__), here / "data" / "dataset.py", here / "data" / "marked.py",
                         here / "damage_marks.py", *sorted((here / "metrics").glob("*.py"))]):
        code.update(source.read_bytes())
    key = hashlib.sha256(f"{protocol}|{split}|{faces_kind}|{n}|{code.hexdigest()}".encode()).hexdigest()[:16]
    return Path(cache) / "eval_inputs" / f"{protocol}_{split}_{faces_kind}_{n}_{key}.npz"


def evaluate_restorer(model: str, protocol: str, cache: Path, limit: int | None = None, split: str = "test",
                      grid: Path | None = None, reference: str = "same", restorer=None, batch: int = 16,
                      weights: Path | None = None, spread: int | None = None, by_category: bool = False) -> dict:
    """Metrics of `model` (its shipped weights, or those in `weights`, unless `restorer` is given) and of its
    input on `protocol`: on the first `limit` faces of the split, or on `spread` faces spaced evenly over
    it (a smaller sample with the split's mix of sources, people and ages), or on all of it.

    by_category: also report["categories"], the input and output metrics per pose, age group, gender,
    source and low detector score (face_categories), with report["category_rules"] saying how each is
    decided."""
    from frstudio.core.restore import Restorer
    from training.data.dataset import LABEL_KEYS, FaceCache, ProtocolFaces, ReferencePairs

    restorer = restorer or Restorer(model, directory=weights)
    data = FaceCache(cache)
    takes_reference = restorer.spec.takes_reference and reference != "none"
    if restorer.spec.takes_reference:
        # "same": the person's best other photo; "random": another person's (the R ablation); "none": the same
        # target faces with the reference withheld, so the three rows compare on identical inputs
        faces = ReferencePairs(data, split=split, mode="different" if reference == "random" else "best", pipeline=protocol, protocol=True)
        faces_kind = f"pairs-{reference}"
    else:
        faces = ProtocolFaces(data, protocol, split=split)
        faces_kind = "faces"
    if spread and spread < len(faces):
        positions = np.unique(np.linspace(0, len(faces) - 1, spread).round().astype(int)).tolist()
        faces_kind += f"-spread{spread}"
    else:
        positions = list(range(min(len(faces), limit) if limit else len(faces)))
    n = len(positions)
    niqe_model = niqe_model_for(cache)
    input_file = _input_row_file(cache, protocol, split, faces_kind, n)
    input_known = input_file.is_file()
    rows = {"input": Scores.load(input_file) if input_known else Scores(), "output": Scores()}
    hq_file = input_file.with_suffix(".hq.npy")
    hq_desc = list(np.load(hq_file)) if input_known and hq_file.is_file() else []
    # every face has its ground-truth mask: an input row saved before the face PSNR existed is measured again
    input_known = input_known and len(hq_desc) == n and len(rows["input"].psnr_face) == n
    if not input_known:
        rows["input"], hq_desc = Scores(), []
    extras = Extras()
    label_keys = LABEL_KEYS.get(protocol, ())
    identities, cache_rows, shown = [], [], []
    for start in range(0, n, batch):
        items = [faces[i] for i in positions[start : start + batch]]
        lq = np.stack([np.asarray(it["lq"]).transpose(1, 2, 0) for it in items])
        ref = np.stack([np.asarray(it["ref"]).transpose(1, 2, 0) for it in items]) if takes_reference else None
        restored = restorer.restore(lq, ref)
        for it, r, x in zip(items, restored, lq):
            hq = float_to_uint8(it["hq"])
            gt_lm = np.asarray(it["landmarks"])
            mask = np.asarray(it["mask"])[0] if "mask" in it else None
            inp = upscale_to(float_to_uint8(x), hq.shape[0])
            out = upscale_to(float_to_uint8(r.image), hq.shape[0])
            if not input_known:
                rows["input"].add(inp, hq, gt_lm, niqe_model, mask)
                hq_desc.append(crop_descriptor(hq, gt_lm))
            rows["output"].add(out, hq, gt_lm, niqe_model, mask)
            extras.add(r, it, label_keys)
            identities.append(data.identity[int(it["index"])])
            cache_rows.append(int(it["index"]))
            if len(shown) < 8:
                if takes_reference:  # GFRNet's Fig. 7: input, reference, warped reference, output, ground truth
                    warped = r.extras.get("warped", it["ref"])
                    shown.append((inp, float_to_uint8(it["ref"]), float_to_uint8(warped), out, hq))
                else:
                    shown.append((inp, out, hq))
    if not input_known:
        input_file.parent.mkdir(parents=True, exist_ok=True)
        rows["input"].save(input_file)
        np.save(hq_file, np.array(hq_desc, np.float32))
    hq_desc = np.array(hq_desc)
    ids = np.array(identities)
    report = {
        "model": model,
        "protocol": protocol,
        "split": split,
        "n": n,
        "input": rows["input"].summary(hq_desc, ids),
        "output": rows["output"].summary(hq_desc, ids),
        **extras.summary(),
    }
    if by_category:
        # the per-face lists of both rows (the input's too, when read back) are in the order of `positions`,
        # as are cache_rows and hq_desc
        r = np.array(cache_rows, np.int64)
        low_score = float(np.quantile(data.score[data.indices(split)], LOW_SCORE_QUANTILE))
        masks = face_categories(data.yaw[r], data.age[r], data.gender[r], data.source[r], data.score[r], low_score)
        report["categories"] = category_breakdown(masks, rows, hq_desc)
        report["category_rules"] = category_rules(low_score)
    if restorer.spec.takes_reference:  # "none" too: it is that model's no-reference row, not its main one
        report["reference"] = reference
    if grid is not None and shown:
        from PIL import Image

        Image.fromarray(np.concatenate([np.concatenate(t, axis=1) for t in shown], axis=0)).save(grid)
    return report


def evaluate_faceid(cache: Path, split: str = "test", pairs_per_class: int = 3000, net=None, threshold_split: str = "val",
                    grid: Path | None = None) -> dict:
    """Verification on same/different-person pairs of the split, student against its teacher (dlib).

    Thresholds: dlib at its standard 0.6, and both at the threshold that is best on the *val* split's pairs
    (chosen there, applied here), so neither is tuned on the test faces.
    """
    from frstudio.core.restore import load_identity_network
    from training.data.dataset import FaceCache
    from training.recipes.faceid import best_threshold, embed, verification_accuracy, verification_pairs

    data = FaceCache(cache)
    net = net or load_identity_network()
    result = {}
    for part in (threshold_split, split):
        index = data.indices(part, with_identity=True)
        ident = data.identity[index]
        pairs, same = verification_pairs(ident, pairs_per_class, seed=7)
        student = embed(net, data.crops[index])
        teacher = np.asarray(data.descriptors[index])
        d_s = np.linalg.norm(student[pairs[:, 0]] - student[pairs[:, 1]], axis=1)
        d_t = np.linalg.norm(teacher[pairs[:, 0]] - teacher[pairs[:, 1]], axis=1)
        cos = np.sum(student * teacher, 1) / (np.linalg.norm(student, axis=1) * np.linalg.norm(teacher, axis=1))
        result[part] = {"d_s": d_s, "d_t": d_t, "same": same, "cos": float(cos.mean()), "faces": len(index)}
        if grid is not None and part == split:
            from PIL import Image

            from training.recipes.faceid import neighbour_grid

            Image.fromarray(neighbour_grid(student, np.asarray(data.crops[index]), ident, queries=8)).save(grid)
    t_s = best_threshold(result[threshold_split]["d_s"], result[threshold_split]["same"])
    t_t = best_threshold(result[threshold_split]["d_t"], result[threshold_split]["same"])
    test = result[split]
    acc = verification_accuracy(test["d_s"], test["same"], t_s)
    dlib_acc = verification_accuracy(test["d_t"], test["same"], t_t)
    return {
        "pairs": int(len(test["same"])),
        "faces": test["faces"],
        "accuracy": acc,
        "dlib_accuracy": dlib_acc,
        "ratio": acc / dlib_acc,
        "cosine_agreement": test["cos"],
        "threshold": t_s,
        "dlib_threshold": t_t,
        "dlib_accuracy_at_0.6": verification_accuracy(test["d_t"], test["same"], 0.6),
        "accuracy_at_0.6": verification_accuracy(test["d_s"], test["same"], 0.6),
    }
