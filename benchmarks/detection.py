"""Face detection: the default detector (dlib's HOG + BlazeFace ensemble) against dlib's HOG alone as it was
the default before it (down to 20 px between the eyes), side by side on the same photos.

    python benchmarks/detection.py [--data ../shared/data/faces] [--n 0] [--groups 20] [--sizes 1,6,12,50]
                                   [--timing-runs 3] [--parts single,groups,timing] [--hog-misses] [--json out.json]
                                   [--progress runs/detection_single.jsonl]

1. single: every test-split photo (or a random --n of them), one known face each: the face found counts when a
   detected face's centre lies in the middle of the photo (the photos are face-centred crops); every other
   detection is a false face. Broken down by head turn (|yaw| from the 68 landmarks the ensemble fitted, as
   training/evaluate.py estimates it; "not found" where neither detector found the face), by age group (AAF
   photos carry ages) and by source.
2. groups: --groups photos of 2400 x 1600 with 30 test faces each, pasted with feathered edges on a smooth,
   noisy background: eye distances 8-60 px (log-uniform), turned in the picture by up to +-30 degrees, 30 % of
   them heads turned 30-60 degrees (test faces whose landmarks say so). A face counts as found when a detected
   box holds its eyes-nose-mouth centre and is 1.2-8 x its eye-mouth distance wide. Recall by eye distance, by
   turn in the picture and by head turn; false faces per photo.
3. timing: seconds to detect the faces of one group photo resized to each of --sizes megapixels, median of
   --timing-runs, both detectors alternating so both see the same machine load.

The test faces are read from --data and never written anywhere. Numbers go to stdout (and --json).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frstudio.core.detect import DetectionSettings, detect_faces  # noqa: E402
from frstudio.core.references import yaw_proxy  # noqa: E402

DETECTORS = {
    "hog": DetectionSettings(detector="hog", min_eye_distance=20.0),  # the default before the ensemble
    "ensemble": DetectionSettings(),
}
YAW_DEPTH_RATIO = 0.583  # training/evaluate.py: |yaw| = arctan(|yaw proxy| / 0.583)
YAW_BINS = ((0, "0-15"), (15, "15-30"), (30, "30-45"), (45, ">45"))
AGE_BINS = ((0, "child <13"), (13, "teen 13-19"), (20, "adult 20-59"), (60, "senior 60+"))
EYE_BINS = ((8, "8-10"), (10, "10-12"), (12, "12-16"), (16, "16-24"), (24, "24-40"), (40, "40-60"))
ROLL_BINS = ((0, "0-10"), (10, "10-20"), (20, "20-30"))


def _bin(value: float, bins) -> str:
    name = bins[0][1]
    for lo, label in bins:
        if value >= lo:
            name = label
    return name


def yaw_degrees(landmarks: np.ndarray) -> float:
    return math.degrees(math.atan(abs(yaw_proxy(landmarks)) / YAW_DEPTH_RATIO))


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def test_rows(data: Path) -> list[dict]:
    with open(data / "manifest.csv", newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["split"] == "test"]


def central_face(faces, width: int, height: int):
    """The photo's known face: a face whose box centre lies in the middle of the photo (the largest such)."""
    inside = [f for f in faces if abs(f.centre[0] - width / 2) < 0.25 * width and abs(f.centre[1] - height / 2) < 0.3 * height]
    return max(inside, key=lambda f: f.box[2] - f.box[0]) if inside else None


# ---- 1. single photos


def detect_single(data: Path, row: dict) -> dict:
    """One test photo through both detectors: whether each found the known face, its false faces, and the known
    face's head turn and landmarks (for the group photos)."""
    rgb = load_rgb(data / row["file"])
    h, w = rgb.shape[:2]
    results = {}
    for name, settings in DETECTORS.items():
        faces = detect_faces(rgb, settings)
        known = central_face(faces, w, h)
        results[name] = (known, len(faces) - (known is not None))
    known = results["ensemble"][0] or results["hog"][0]
    record = {"file": row["file"], "found": {name: [face is not None, false] for name, (face, false) in results.items()},
              "yaw": None, "landmarks": None}
    if known is None:
        record["pose"] = "not found"
    elif known.profile:
        record["pose"] = ">45 (profile: landmarks failed)"
    else:
        record["yaw"] = yaw_degrees(known.landmarks)
        record["pose"] = _bin(record["yaw"], YAW_BINS)
        record["landmarks"] = known.landmarks.astype(np.float64).tolist()
    return record


def load_progress(path: Path | None) -> dict[str, dict]:
    """Photos already measured by an earlier run with the same --progress file (one JSON line each); a line cut
    short by a killed run is measured again."""
    done: dict[str, dict] = {}
    if path is not None and path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[record["file"]] = record
    return done


def bench_single(data: Path, rows: list[dict], progress: Path | None = None) -> dict:
    table: dict[str, dict[str, list[int]]] = {}  # category -> detector -> [found, photos, false faces]
    sources = []  # (file, landmarks, yaw) of faces usable for the group photos

    def add(category: str, detector: str, hit: bool, false: int) -> None:
        cell = table.setdefault(category, {}).setdefault(detector, [0, 0, 0])
        cell[0] += hit
        cell[1] += 1
        cell[2] += false

    done = load_progress(progress)
    out = progress.open("a", encoding="utf-8") if progress is not None else None
    if out is not None and out.tell() and not progress.read_bytes().endswith(b"\n"):
        out.write("\n")  # a line cut short by a killed run: the next record starts on its own line
    try:
        for k, row in enumerate(rows):
            record = done.get(row["file"])
            if record is None:
                record = detect_single(data, row)
                if out is not None:
                    out.write(json.dumps(record) + "\n")
                    out.flush()
            if record["landmarks"] is not None:
                sources.append((row["file"], np.asarray(record["landmarks"]), record["yaw"]))
            age = _bin(float(row["age"]), AGE_BINS) if row["age"] else "unknown (celeba)"
            for name, (hit, false) in record["found"].items():
                for category in ("all", f"yaw {record['pose']}", f"age {age}", f"source {row['source']}"):
                    add(category, name, bool(hit), int(false))
            if (k + 1) % 200 == 0:
                print(f"  {k + 1}/{len(rows)} photos", file=sys.stderr)
    finally:
        if out is not None:
            out.close()
    return {"table": table, "sources": sources}


# ---- 2. group photos


def paste_face(canvas: np.ndarray, src: np.ndarray, landmarks: np.ndarray, centre, eye_distance: float, roll: float):
    """Paste `src` (a face-centred crop) so its eyes' midpoint lands on `centre` with `eye_distance` px between
    the eyes, turned by `roll` degrees; feathered edges. Returns the face's 68 landmarks in the canvas."""
    le, re = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    mid = (le + re) / 2
    scale = eye_distance / float(np.linalg.norm(re - le))
    matrix = cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), roll, scale)
    matrix[:, 2] += np.asarray(centre) - mid
    h0, w0 = src.shape[:2]
    corners = cv2.transform(np.array([[[0, 0], [w0, 0], [0, h0], [w0, h0]]], np.float32), matrix)[0]
    H, W = canvas.shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int), (W, H))
    if x1 <= x0 or y1 <= y0:
        return None
    local = matrix.copy()
    local[:, 2] -= (x0, y0)
    size = (int(x1 - x0), int(y1 - y0))
    patch = cv2.warpAffine(src, local, size, flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR).astype(np.float32)
    feather = max(2, int(0.12 * min(h0, w0)))
    mask = np.zeros((h0, w0), np.float32)
    mask[feather:-feather, feather:-feather] = 1
    mask = cv2.warpAffine(cv2.GaussianBlur(mask, (0, 0), feather / 2), local, size)[..., None]
    region = canvas[y0:y1, x0:x1]
    canvas[y0:y1, x0:x1] = region * (1 - mask) + patch * mask
    return cv2.transform(landmarks[None].astype(np.float64), matrix)[0]


def make_group(data: Path, frontal: list, turned: list, seed: int, size=(2400, 1600), n: int = 30):
    rng = np.random.default_rng(seed)
    W, H = size
    small = rng.integers(50, 210, (H // 80 + 2, W // 80 + 2, 3)).astype(np.uint8)
    canvas = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    canvas += rng.normal(0, 6, (H, W, 1))
    cols = math.ceil(math.sqrt(n * W / H))
    rows = math.ceil(n / cols)
    cw, ch = W / cols, H / rows
    truth = []
    for i in range(n):
        r, c = divmod(i, cols)
        is_turned = bool(turned) and rng.random() < 0.3
        file, landmarks, yaw = (turned if is_turned else frontal)[int(rng.integers(len(turned if is_turned else frontal)))]
        eye = min(float(np.exp(rng.uniform(math.log(8), math.log(60)))), cw / 4.5, ch / 5.5)
        roll = float(rng.uniform(-30, 30))
        centre = ((c + 0.5 + rng.uniform(-0.1, 0.1)) * cw, (r + 0.45 + rng.uniform(-0.1, 0.1)) * ch)
        placed = paste_face(canvas, load_rgb(data / file), landmarks, centre, eye, roll)
        if placed is not None:
            truth.append({"landmarks": placed, "eye": eye, "roll": abs(roll), "yaw": yaw, "turned": is_turned})
    return np.clip(canvas, 0, 255).astype(np.uint8), truth


def match(faces, truth) -> tuple[list[bool], int]:
    used = set()
    found = []
    for t in truth:
        lm = t["landmarks"]
        centre = lm[[36, 39, 42, 45, 30, 48, 54]].mean(0)
        eye_mouth = float(np.linalg.norm((lm[48] + lm[54]) / 2 - (lm[36:42].mean(0) + lm[42:48].mean(0)) / 2))
        hit = False
        for j, f in enumerate(faces):
            x0, y0, x1, y1 = f.box
            if x0 <= centre[0] <= x1 and y0 <= centre[1] <= y1 and 1.2 * eye_mouth <= x1 - x0 <= 8 * eye_mouth:
                hit = True
                used.add(j)
        found.append(hit)
    return found, len(faces) - len(used)


def group_sources(data: Path, single_sources: list, rows: list[dict]) -> tuple[list, list]:
    """Frontal (< 15 degrees) and turned (30-60 degrees) test faces with 68 landmarks. The single-photo part's
    faces, topped up with the most turned test faces of cache/faces128 (python -m training prepare) when it exists."""
    frontal = [s for s in single_sources if s[2] < 15]
    turned = [s for s in single_sources if 30 <= s[2] <= 60]
    cache = REPO / "cache" / "faces128" / "faces.csv"
    if cache.exists() and len(turned) < 20:
        test = {r["file"] for r in rows}
        with open(cache, newline="", encoding="utf-8") as fh:
            cached = [r for r in csv.DictReader(fh) if r["split"] == "test" and r["file"] not in test]
        cached.sort(key=lambda r: -abs(float(r["yaw"])))
        for r in cached[:60]:
            rgb = load_rgb(data / r["file"])
            face = central_face(detect_faces(rgb), rgb.shape[1], rgb.shape[0])
            if face is not None and not face.profile and 30 <= yaw_degrees(face.landmarks) <= 60:
                turned.append((r["file"], face.landmarks.astype(np.float64), yaw_degrees(face.landmarks)))
    return frontal, turned


def bench_groups(data: Path, frontal: list, turned: list, groups: int) -> dict:
    table: dict[str, dict[str, list[int]]] = {}
    false = {name: 0 for name in DETECTORS}
    profiles = [0, 0]  # ensemble faces marked profile, all ensemble faces
    for seed in range(groups):
        image, truth = make_group(data, frontal, turned, seed)
        for name, settings in DETECTORS.items():
            faces = detect_faces(image, settings)
            if name == "ensemble":
                profiles[0] += sum(f.profile for f in faces)
                profiles[1] += len(faces)
            found, extra = match(faces, truth)
            false[name] += extra
            for hit, t in zip(found, truth):
                pose = "turned 30-60" if t["turned"] else "frontal <15"
                categories = [f"{pose}, eyes {_bin(t['eye'], EYE_BINS)} px", f"{pose}, all",
                              f"{pose}, in-picture turn {_bin(t['roll'], ROLL_BINS)} deg"]
                for category in categories + ([f"{pose}, eyes >=12 px"] if t["eye"] >= 12 else []):
                    cell = table.setdefault(category, {}).setdefault(name, [0, 0])
                    cell[0] += hit
                    cell[1] += 1
        print(f"  group photo {seed + 1}/{groups}", file=sys.stderr)
    return {"table": table, "false_per_photo": {k: v / max(1, groups) for k, v in false.items()}, "photos": groups,
            "profiles": profiles}


# ---- 3. timing


def bench_timing(image: np.ndarray, sizes: list[float], runs: int) -> dict:
    out = {}
    h, w = image.shape[:2]
    detect_faces(image[:400, :400].copy())  # load the models once
    for mp in sizes:
        scale = math.sqrt(mp * 1e6 / (w * h))
        photo = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
        times = {name: [] for name in DETECTORS}
        counts = {}
        for _ in range(runs):
            for name, settings in DETECTORS.items():
                start = time.perf_counter()
                counts[name] = len(detect_faces(photo, settings))
                times[name].append(time.perf_counter() - start)
        out[f"{mp:g} MP"] = {name: {"seconds": statistics.median(t), "faces": counts[name]} for name, t in times.items()}
        print(f"  {mp:g} MP: " + ", ".join(f"{n} {statistics.median(t):.2f} s" for n, t in times.items()), file=sys.stderr)
    return out


def _pct(cell) -> str:
    return f"{100 * cell[0] / cell[1]:5.1f} % ({cell[0]}/{cell[1]})" if cell[1] else "-"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    parser.add_argument("--n", type=int, default=0, help="test photos (a random sample); 0: all")
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--sizes", default="1,6,12,50", help="megapixels for the timing")
    parser.add_argument("--timing-runs", type=int, default=3)
    parser.add_argument("--parts", default="single,groups,timing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hog-misses", action="store_true",
                        help="only the test photos in which HOG found no face when cache/faces128 was made "
                             "(python -m training prepare): sunglasses, hat brims, faces cut by the frame")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--progress", type=Path,
                        help="a JSON-lines file of the single photos measured so far: a run stopped part-way goes on "
                             "from where it was when started again with the same file")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="change the ensemble's DetectionSettings, e.g. hog_min_eye_distance=32 (to compare)")
    args = parser.parse_args(argv)
    for item in args.set:
        key, value = item.split("=", 1)
        setattr(DETECTORS["ensemble"], key, type(getattr(DETECTORS["ensemble"], key))(value))
    parts = set(args.parts.split(","))
    rows = test_rows(args.data)
    if args.hog_misses:
        with open(REPO / "cache" / "faces128" / "faces.csv", newline="", encoding="utf-8") as fh:
            found = {r["file"] for r in csv.DictReader(fh)}
        rows = [r for r in rows if r["file"] not in found]
    if args.n:
        rows = random.Random(args.seed).sample(rows, min(args.n, len(rows)))
    report: dict = {"n_photos": len(rows), "detectors": {k: vars(v) for k, v in DETECTORS.items()}}

    single = bench_single(args.data, rows, args.progress)
    if "single" in parts:
        report["single"] = single["table"]
        print(f"\n1. Test-split photos ({len(rows)}, one known face each): found / false faces")
        print(f"{'':40s} {'HOG (before)':>24s} {'ensemble (default)':>24s}")
        for category, cells in sorted(single["table"].items(), key=lambda kv: (kv[0] != "all", kv[0])):
            hog, ens = cells["hog"], cells["ensemble"]
            print(f"{category:40s} {_pct(hog):>20s} {hog[2]:3d} {_pct(ens):>20s} {ens[2]:3d}")
    if "groups" in parts or "timing" in parts:
        frontal, turned = group_sources(args.data, single["sources"], rows)
        print(f"\ngroup photo faces: {len(frontal)} frontal, {len(turned)} turned 30-60 degrees", file=sys.stderr)
    if "groups" in parts:
        groups = bench_groups(args.data, frontal, turned, args.groups)
        report["groups"] = groups
        print(f"\n2. Group photos ({args.groups} x 30 faces, 2400 x 1600): found")
        print(f"{'':48s} {'HOG (before)':>22s} {'ensemble (default)':>22s}")
        for category, cells in sorted(groups["table"].items()):
            print(f"{category:48s} {_pct(cells['hog']):>22s} {_pct(cells['ensemble']):>22s}")
        print("false faces per photo: " + ", ".join(f"{k} {v:.2f}" for k, v in groups["false_per_photo"].items()))
        print(f"ensemble faces marked profile (landmarks placed on BlazeFace's points): {groups['profiles'][0]} of {groups['profiles'][1]}")
    if "timing" in parts:
        image, _ = make_group(args.data, frontal, turned, 1000, size=(3000, 2000), n=12)
        timing = bench_timing(image, [float(s) for s in args.sizes.split(",")], args.timing_runs)
        report["timing"] = timing
        print(f"\n3. Seconds per photo (median of {args.timing_runs}; faces found)")
        for size, cells in timing.items():
            hog, ens = cells["hog"], cells["ensemble"]
            print(f"{size:>7s}: HOG {hog['seconds']:.2f} s ({hog['faces']}), ensemble {ens['seconds']:.2f} s "
                  f"({ens['faces']}), ratio {ens['seconds'] / hog['seconds']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
