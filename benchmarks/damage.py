"""Scratches, cracks and dust (issue 22): the detector and the repair, on test-split photos marked by the *test*
stroke family, which the detector never saw in training.

    python benchmarks/damage.py [--n 500] [--scales 1 2] [--weights DIR] [--fill DIR | --no-fill] [--json OUT] [--grid PNG] [--runs 3]

Photos: `--n` test-split photos (`../shared/data/faces`, CelebA and All-Age-Faces, ~200 x 230 px, whole photos
as the data set has them) spread over the split; with scale 2 each is first enlarged 2x (Lanczos), a bigger scan of
the same print. Each is made an old print, seeded by its file name: grey (35 %) or sepia (25 %), faded (30 %),
film grain (20 %) or a halftone screen (10 %) — the clean photo. The damaged photo is the clean one with marks of
`training.damage_marks` family "test" (Bezier scratches, midpoint-displacement cracks, polygon specks, ringed
stains; a different stroke model from the training one), and their mask is the truth. Both are 8-bit.

Reported, per scale:
- the detector's pixel precision, recall and IoU against the truth (pixels pooled over photos) at several
  probability thresholds, the app's (`scratches.THRESHOLD`) marked, and false positives on the clean photos: the
  share of their pixels taken for marks (goal < 0.5 %);
- the same for the app's marks (`scratches.marks`): the detector's at its threshold but for marks wholly inside the
  eyes and mouths of the faces found, which are left to the face models (`scratches.feature_guard`; faces detected
  by the app's detector on each photo, damaged or clean);
- PSNR (luma) inside the marked pixels and on the whole photo, and whole-photo SSIM, against the clean photo:
  the damaged input, the app's repair (its marks, `scratches.repair`: OpenCV's inpainting, refined by the learned
  fill where one is bundled or given with `--fill`), and the repair given the true mask (what the fill can do at
  best: the ceiling of a better detector);
- hard negatives: the same photos with fine scene structure that is not damage drawn in before they are made old
  prints (`training.damage_decoys` family "test": highlights and stars, cables and rims, edges, lace, hair), unmarked;
  the share of their pixels taken for marks, by the detector and by the app (goal < 0.5 % like the clean photos),
  and how often Auto would repair them;
- the bundled sample photos (`resources/samples`: a sharp modern colour photo and its faded copy), unmarked: the
  share of their pixels the detector takes for marks at the app's threshold, and whether Auto would repair them;
- what the app's repair changes on the clean photos (whole-photo PSNR against themselves);
- Auto's decision (`scratches.looks_marked`): the share of damaged and of clean photos it repairs.

Speed: a 12 MP (4000 x 3000) mosaic of the damaged photos (so the marks are as dense as in the test), detection
(bf16 where the CPU has it, as the app) and repair, median of `--runs`. Goal: <= 3 s on the 2-core machine. The
detector's scores on that photo are printed beside: it is the one photo detected in many tiles.

`--grid`: a before/after grid of repaired test photos for the README: damaged | marks found | repaired | clean.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frstudio.core import degradations as D  # noqa: E402
from frstudio.core import scratches  # noqa: E402
from frstudio.core.detect import detect_faces  # noqa: E402
from frstudio.core.restore import cpu_has_native_bf16  # noqa: E402
from training.damage_decoys import draw_decoys  # noqa: E402
from training.damage_marks import draw_marks  # noqa: E402
from training.metrics.fidelity import psnr, ssim  # noqa: E402

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MOSAIC = (3000, 4000)  # 12 MP


def test_photos(faces_dir: Path, n: int) -> list[Path]:
    """`n` test-split photos spread evenly over the split, in manifest order."""
    with open(faces_dir / "manifest.csv", newline="") as f:
        rows = [r["file"] for r in csv.DictReader(f) if r["split"] == "test"]
    picks = np.unique(np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int))
    return [faces_dir / rows[i] for i in picks]


def old_print(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A float RGB photo in [0, 1] toned, faded and textured as an old print: the clean photo of the test."""
    tone = rng.random()
    if tone < 0.35:
        img = D.greyscale(img)
    elif tone < 0.6:
        img = D.random_sepia(img, rng)
    if rng.random() < 0.3:
        img = D.random_fade(img, rng)
    texture = rng.random()
    if texture < 0.2:
        img = D.film_grain(img, rng, rng.uniform(0.02, 0.08), rng.uniform(0.6, 1.5))
    elif texture < 0.3:
        img = D.halftone(img, rng.uniform(2.0, 4.0), rng.uniform(0, 90))
    return np.clip(img, 0, 1).astype(np.float32)


def to8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def scaled_photo(path: Path, scale: int) -> np.ndarray:
    """A test photo as float RGB in [0, 1], enlarged `scale` times (Lanczos): a bigger scan of the same print."""
    rgb = np.asarray(Image.open(path).convert("RGB"))
    if scale != 1:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_LANCZOS4)
    return rgb.astype(np.float32) / 255.0


def make_pair(path: Path, scale: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean, damaged) 8-bit RGB and the marks' mask (H x W bool) of one test photo, seeded by its name."""
    rng = np.random.default_rng(zlib.crc32(f"damage-test/{path.name}/{scale}".encode()))
    clean = old_print(scaled_photo(path, scale), rng)
    damaged, mask = draw_marks(clean, rng, "test", texture=False)
    return to8(clean), to8(damaged), mask


def make_decoy(path: Path, scale: int) -> np.ndarray:
    """One test photo with scene structure that is not damage drawn in, then made an old print (8-bit RGB), seeded
    by its name apart from make_pair, so the pairs are the same with or without this photo."""
    rng = np.random.default_rng(zlib.crc32(f"damage-decoys/{path.name}/{scale}".encode()))
    return to8(old_print(draw_decoys(scaled_photo(path, scale), rng, "test"), rng))


class Pooled:
    """Pixel counts pooled over photos, at each threshold."""

    def __init__(self):
        self.tp = {t: 0 for t in THRESHOLDS}
        self.fp = {t: 0 for t in THRESHOLDS}
        self.fn = {t: 0 for t in THRESHOLDS}
        self.clean_fp = {t: 0 for t in THRESHOLDS}
        self.decoy_fp = {t: 0 for t in THRESHOLDS}
        self.pixels = 0

    def add(self, prob: np.ndarray, truth: np.ndarray, clean_prob: np.ndarray, decoy_prob: np.ndarray) -> None:
        self.pixels += truth.size
        for t in THRESHOLDS:
            pred = prob > t
            self.tp[t] += int((pred & truth).sum())
            self.fp[t] += int((pred & ~truth).sum())
            self.fn[t] += int((~pred & truth).sum())
            self.clean_fp[t] += int((clean_prob > t).sum())
            self.decoy_fp[t] += int((decoy_prob > t).sum())

    def scores(self) -> dict[str, dict[str, float]]:
        out = {}
        for t in THRESHOLDS:
            tp, fp, fn = self.tp[t], self.fp[t], self.fn[t]
            out[f"{t:.1f}"] = {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
                               "iou": tp / max(tp + fp + fn, 1), "clean_fpr": self.clean_fp[t] / max(self.pixels, 1),
                               "decoy_fpr": self.decoy_fp[t] / max(self.pixels, 1)}
        return out


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    if not mask.any():
        return float("nan")
    return psnr(a[mask][None], b[mask][None])  # the marked pixels as a 1 x N x 3 image


def guard(img: np.ndarray, find_faces) -> np.ndarray | None:
    return scratches.feature_guard(img.shape, [f.landmarks for f in find_faces(img)])


def app_scores(tp: int, fp: int, fn: int, clean_fp: int, decoy_fp: int, pixels: int) -> dict[str, float]:
    return {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "iou": tp / max(tp + fp + fn, 1),
            "clean_fpr": clean_fp / max(pixels, 1), "decoy_fpr": decoy_fp / max(pixels, 1)}


def evaluate(paths: list[Path], scale: int, network, bf16: bool, threshold: float, grid_rows: list | None = None,
             find_faces=detect_faces, fill=None) -> dict:
    pooled = Pooled()
    app = np.zeros(5, np.int64)  # the app's marks: tp, fp, fn, false marks on the clean and on the decoy photos
    rows = {k: [] for k in ("psnr_marks_in", "psnr_marks_out", "psnr_marks_oracle", "psnr_in", "psnr_out", "psnr_oracle",
                            "ssim_in", "ssim_out", "ssim_oracle", "psnr_clean_after", "auto_damaged", "auto_clean", "auto_decoys")}
    for i, path in enumerate(paths):
        clean, damaged, truth = make_pair(path, scale)
        prob = scratches.damage_probability(damaged, network, bf16=bf16)
        clean_prob = scratches.damage_probability(clean, network, bf16=bf16)
        decoy = make_decoy(path, scale)
        decoy_prob = scratches.damage_probability(decoy, network, bf16=bf16)
        pooled.add(prob, truth, clean_prob, decoy_prob)
        strength = (0.8 - threshold) / 0.6  # scratches.threshold_for inverted
        found = scratches.marks(prob, strength, guard=guard(damaged, find_faces))
        false_alarm = scratches.marks(clean_prob, strength, guard=guard(clean, find_faces))
        decoy_alarm = scratches.marks(decoy_prob, strength, guard=guard(decoy, find_faces))
        app += [(found & truth).sum(), (found & ~truth).sum(), (~found & truth).sum(), false_alarm.sum(), decoy_alarm.sum()]
        repaired = scratches.repair(damaged, found, fill=fill, bf16=bf16)
        oracle = scratches.repair(damaged, truth, fill=fill, bf16=bf16)
        clean_after = scratches.repair(clean, false_alarm, fill=fill, bf16=bf16)
        marks = scratches.grow_mask(truth, 1)  # the marks with their anti-aliased edge, as the repair fills them
        for tag, img in (("in", damaged), ("out", repaired), ("oracle", oracle)):
            rows[f"psnr_marks_{tag}"].append(masked_psnr(img, clean, marks))
            rows[f"psnr_{tag}"].append(psnr(img, clean))
            rows[f"ssim_{tag}"].append(ssim(img, clean))
        rows["psnr_clean_after"].append(min(psnr(clean_after, clean), 99.0))
        rows["auto_damaged"].append(scratches.looks_marked(prob))
        rows["auto_clean"].append(scratches.looks_marked(clean_prob))
        rows["auto_decoys"].append(scratches.looks_marked(decoy_prob))
        if grid_rows is not None and len(grid_rows) < 6 and truth.mean() > 0.01:
            grid_rows.append((damaged, found, repaired, clean))
        if (i + 1) % 100 == 0:
            print(f"  scale {scale}: {i + 1}/{len(paths)}", file=sys.stderr, flush=True)
    mean = lambda k: float(np.nanmean(rows[k]))  # noqa: E731
    return {
        "scale": scale, "photos": len(paths), "mask_share": float(pooled.tp[THRESHOLDS[0]] + pooled.fn[THRESHOLDS[0]]) / max(pooled.pixels, 1),
        "detector": pooled.scores(), "app": app_scores(*(int(v) for v in app), pooled.pixels),
        "repair": {tag: {"psnr_marks": mean(f"psnr_marks_{tag}"), "psnr": mean(f"psnr_{tag}"), "ssim": mean(f"ssim_{tag}")}
                   for tag in ("in", "out", "oracle")},
        "clean_psnr_after_repair": mean("psnr_clean_after"),
        "auto": {"repairs_damaged": mean("auto_damaged"), "repairs_clean": mean("auto_clean"), "repairs_decoys": mean("auto_decoys")},
    }


def mosaic(paths: list[Path], shape: tuple[int, int] = MOSAIC) -> tuple[np.ndarray, np.ndarray]:
    """A 12 MP photo tiled from the damaged test photos (marks as dense as in the test), and its marks' mask."""
    out = np.zeros((*shape, 3), np.uint8)
    truth = np.zeros(shape, bool)
    y = x = row_h = 0
    k = 0
    while y < shape[0]:
        _, damaged, mask = make_pair(paths[k % len(paths)], 1)
        k += 1
        h, w = damaged.shape[:2]
        piece = (slice(y, min(y + h, shape[0])), slice(x, min(x + w, shape[1])))
        size = (piece[0].stop - y, piece[1].stop - x)
        out[piece] = damaged[: size[0], : size[1]]
        truth[piece] = mask[: size[0], : size[1]]
        x, row_h = x + w, max(row_h, h)
        if x >= shape[1]:
            x, y, row_h = 0, y + row_h, 0
    return out, truth


def speed(paths: list[Path], network, bf16: bool, threshold: float, runs: int, fill=None) -> dict:
    """Seconds per 12 MP photo, and the detector's pixel scores on it: the photo is detected in tiles
    (`scratches.TILE`, `scratches.OVERLAP`), so a tile border that cost marks would show here."""
    photo, truth = mosaic(paths)
    corner = photo[:1024, :1024]  # warm-up: oneDNN picks its kernels once per network
    scratches.repair(corner, scratches.damage_probability(corner, network, bf16=bf16) > threshold, fill=fill, bf16=bf16)
    detect, filling = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        prob = scratches.damage_probability(photo, network, bf16=bf16)
        t1 = time.perf_counter()
        scratches.repair(photo, prob > threshold, fill=fill, bf16=bf16)
        filling.append(time.perf_counter() - t1)
        detect.append(t1 - t0)
    d, f = statistics.median(detect), statistics.median(filling)
    found = prob > threshold
    tp, fp, fn = int((found & truth).sum()), int((found & ~truth).sum()), int((~found & truth).sum())
    return {"megapixels": photo.shape[0] * photo.shape[1] / 1e6, "bf16": bf16, "detect_s": d, "repair_s": f, "total_s": d + f,
            "marked_share": float(found.mean()), "tile": scratches.TILE, "overlap": scratches.OVERLAP, "learned_fill": fill is not None,
            "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "iou": tp / max(tp + fp + fn, 1)}


def save_grid(rows: list, dest: Path, side: int = 256) -> None:
    """damaged | marks found (red over the damaged photo) | repaired | clean, one test photo per row."""
    lines = []
    for damaged, found, repaired, clean in rows:
        shown = damaged.copy()
        shown[found] = (0.4 * shown[found] + 0.6 * np.array([255, 0, 0])).astype(np.uint8)
        cells = [cv2.resize(c, (side, round(side * c.shape[0] / c.shape[1])), interpolation=cv2.INTER_LANCZOS4)
                 for c in (damaged, shown, repaired, clean)]
        h = max(c.shape[0] for c in cells)
        cells = [np.pad(c, ((0, h - c.shape[0]), (0, 4), (0, 0)), constant_values=255) for c in cells]
        lines.append(np.pad(np.concatenate(cells, axis=1), ((0, 4), (0, 0), (0, 0)), constant_values=255))
    dest.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(lines, axis=0)).save(dest, optimize=True)


def sample_false_marks(network, bf16: bool, threshold: float) -> dict[str, dict]:
    """The bundled sample photos, which hold no marks: the share of their pixels taken for marks, and Auto's call."""
    out = {}
    for path in sorted((REPO / "resources" / "samples").glob("*.jpg")):
        prob = scratches.damage_probability(np.asarray(Image.open(path).convert("RGB")), network, bf16=bf16)
        out[path.name] = {"false_marks": float((prob > threshold).mean()), "auto_repairs": bool(scratches.looks_marked(prob))}
    return out


def print_report(results: list[dict], timing: dict | None, threshold: float) -> None:
    for r in results:
        print(f"\nScale {r['scale']}x: {r['photos']} test photos, marks on {r['mask_share'] * 100:.2f} % of their pixels")
        print("| threshold | precision | recall | IoU | clean photos' pixels taken for marks | photos with scene structure (hard negatives) |")
        print("|---|---|---|---|---|---|")
        for t, s in r["detector"].items():
            mark = " (the app's)" if abs(float(t) - threshold) < 1e-6 else ""
            print(f"| {t}{mark} | {s['precision']:.3f} | {s['recall']:.3f} | {s['iou']:.3f} | {s['clean_fpr'] * 100:.3f} % | {s['decoy_fpr'] * 100:.3f} % |")
        s = r["app"]
        print(f"| {threshold:.1f}, specks inside eyes and mouths left to the face models (the app's marks) | {s['precision']:.3f} | "
              f"{s['recall']:.3f} | {s['iou']:.3f} | {s['clean_fpr'] * 100:.3f} % | {s['decoy_fpr'] * 100:.3f} % |")
        rep = r["repair"]
        print("| against the clean photo | PSNR in the marks | PSNR, whole photo | SSIM, whole photo |")
        print("|---|---|---|---|")
        for tag, words in (("in", "damaged input"), ("out", "repaired (the app)"), ("oracle", "repaired with the true marks")):
            print(f"| {words} | {rep[tag]['psnr_marks']:.2f} | {rep[tag]['psnr']:.2f} | {rep[tag]['ssim']:.4f} |")
        a = r["auto"]
        print(f"Clean photos after the app's repair: {r['clean_psnr_after_repair']:.2f} dB against themselves (99 = unchanged).")
        print(f"Auto (sure marks, above {scratches.AUTO_SURE}, on at least {scratches.AUTO_MIN_SHARE * 100:.2f} % of the photo) "
              f"repairs {a['repairs_damaged'] * 100:.1f} % of the damaged, {a['repairs_clean'] * 100:.1f} % of the clean photos and "
              f"{a['repairs_decoys'] * 100:.1f} % of the photos with scene structure")
    if timing:
        print(f"\n12 MP ({timing['megapixels']:.1f} MP mosaic, bf16 {timing['bf16']}): detection {timing['detect_s']:.2f} s + "
              f"repair {timing['repair_s']:.2f} s = {timing['total_s']:.2f} s (goal <= 3 s); detected in {timing['tile']} px tiles with "
              f"{timing['overlap']} px of context: precision {timing['precision']:.3f}, recall {timing['recall']:.3f}, IoU {timing['iou']:.3f}")


def record(results: list[dict], timing: dict | None, threshold: float) -> None:
    """Into resources/weights/manifest.json, as the detector's test metrics (one entry per scale) and, where a
    learned fill is bundled (and so was measured), as the fill's too: the repair's numbers are the two together."""
    from frstudio.core.paths import weights_dir
    from training.export import read_manifest, write_manifest

    manifest = read_manifest(weights_dir())
    names = [scratches.DAMAGE_WEIGHTS] + ([scratches.FILL_WEIGHTS] if scratches.FILL_WEIGHTS in manifest["models"] else [])
    for name in names:
        metrics = manifest["models"][name].setdefault("metrics", {})
        for r in results:
            metrics[f"damage-test-x{r['scale']}"] = {
                "n": r["photos"], "split": "test", "threshold": threshold, "detector": r["detector"][f"{threshold:.1f}"],
                "app_marks": r["app"], "input": r["repair"]["in"], "output": r["repair"]["out"], "oracle": r["repair"]["oracle"],
                "clean_psnr_after_repair": r["clean_psnr_after_repair"], "auto": r["auto"]}
        if timing:
            metrics["speed-12mp"] = timing
    write_manifest(weights_dir(), manifest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--scales", type=int, nargs="*", default=[1, 2], help="none: the 12 MP timing alone")
    parser.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    parser.add_argument("--weights", type=Path, default=None, help="a weights folder with damage.safetensors and its manifest (default: the bundled one)")
    parser.add_argument("--fill", type=Path, default=None, help="a weights folder with fill.safetensors and its manifest: "
                        "the learned fill to measure (default: the bundled one, where there is one)")
    parser.add_argument("--no-fill", action="store_true", help="OpenCV's fill alone, even where a learned fill is bundled")
    parser.add_argument("--threshold", type=float, default=scratches.THRESHOLD)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of the 12 MP photo (0: no timing)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--grid", type=Path, help="save a before/after grid of repaired test photos")
    parser.add_argument("--record", action="store_true", help="store the numbers in the bundled detector's manifest entry")
    args = parser.parse_args()
    if args.record and (args.weights is not None or args.fill is not None or args.no_fill):
        parser.error("--record stores the bundled detector's numbers: leave out --weights, --fill and --no-fill")

    network = scratches.load_damage_network(directory=args.weights)
    bf16 = cpu_has_native_bf16()
    paths = test_photos(args.faces, args.n)
    grid: list | None = [] if args.grid else None
    fill = None if args.no_fill else scratches.load_fill_network(directory=args.fill) if args.fill else scratches.load_fill_network()
    if args.fill is not None and fill is None:
        parser.error(f"{args.fill} has no learned fill in its manifest")
    print(f"fill: {'learned (' + str(args.fill or 'bundled') + ')' if fill is not None else 'OpenCV alone'}")
    results = [evaluate(paths, s, network, bf16, args.threshold, grid if s == 1 else None, fill=fill) for s in args.scales]
    samples = sample_false_marks(network, bf16, args.threshold)
    for name, s in samples.items():
        print(f"{name} (no marks): {s['false_marks'] * 100:.2f} % of its pixels taken for marks; Auto would "
              f"{'repair' if s['auto_repairs'] else 'leave'} it")
    timing = speed(paths, network, bf16, args.threshold, args.runs, fill) if args.runs > 0 else None
    print_report(results, timing, args.threshold)
    if args.grid and grid:
        save_grid(grid, args.grid)
        print(f"grid: {args.grid}")
    if args.record:
        record(results, timing, args.threshold)
    if args.json:
        args.json.write_text(json.dumps({"threshold": args.threshold, "auto_sure": scratches.AUTO_SURE, "auto_min_share": scratches.AUTO_MIN_SHARE,
                                         "scales": results, "samples": samples, "speed": timing}, indent=1))


if __name__ == "__main__":
    main()
