"""Speed and memory of the pipeline without the network.

    python benchmarks/bench_pipeline.py [--runs 3] [--json out.json]

1. A synthetic 12 MP photo (4000 x 3000, JPEG) with 6 faces pasted from the bundled sample:
   load -> detect -> align -> (pass-through "restoration") -> blend -> save, timed per stage
   (median of --runs). Target: <= 2.5 s in all on the 2-core development machine.
2. Peak memory (max RSS, torch imported as in the app) restoring a 50 MP photo (8660 x 5773) in a fresh
   process. Target: <= 1.5 GB. `--scratches on` measures it with scratch removal on (the detector and the learned
   fill over the whole photo), the heaviest choice.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frstudio.core.paths import sample_photo  # noqa: E402
from frstudio.core.jobs import drive  # noqa: E402
from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo  # noqa: E402

HEAD_BOX = (120, 30, 320, 240)  # the astronaut's head in the sample photo


def synthetic_photo(width: int, height: int, n_faces: int, seed: int = 0) -> np.ndarray:
    """A smooth background with film-like noise and the sample's head pasted n times, ~35 to ~150 px eye distance."""
    rng = np.random.default_rng(seed)
    small = rng.integers(90, 200, (4, 5, 3), dtype=np.uint8)
    canvas = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.add(canvas, rng.integers(0, 12, (height, width, 1), dtype=np.uint8).repeat(3, axis=2))
    x0, y0, x1, y1 = HEAD_BOX
    head = np.asarray(Image.open(sample_photo()).convert("RGB"))[y0:y1, x0:x1]
    cols = 3
    rows = (n_faces + cols - 1) // cols
    for i in range(n_faces):
        scale = 0.8 + 2.6 * i / max(1, n_faces - 1)  # the sample's eye distance is 43 px
        patch = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        cx = int((i % cols + 0.5) * width / cols - patch.shape[1] / 2)
        cy = int((i // cols + 0.5) * height / rows - patch.shape[0] / 2)
        canvas[cy : cy + patch.shape[0], cx : cx + patch.shape[1]] = patch
    return canvas


def time_stages(path: Path, out_dir: Path) -> tuple[dict[str, float], int]:
    options = RestoreOptions(model="passthrough", output_dir=out_dir, overwrite=True)
    marks = []
    job = restore_photo(path, options, RestorerCache())
    start = time.perf_counter()
    result = drive(job, lambda event: marks.append((event.stage, time.perf_counter())))
    end = time.perf_counter()
    if result.status != "restored":
        raise SystemExit(f"benchmark photo not restored: {result.status} {result.message}")
    stages: dict[str, float] = {}
    bounds = marks + [("end", end)]
    for (stage, t0), (_, t1) in zip(bounds, bounds[1:]):
        name = {"restore": "align+restore"}.get(stage, stage)
        stages[name] = stages.get(name, 0.0) + (t1 - t0)
    stages.pop("done", None)
    stages["total"] = end - start
    return stages, len(result.faces)


MEMORY_CHILD = """
import resource, sys, time
import torch  # the app has it loaded: count it
from pathlib import Path
sys.path.insert(0, {repo!r})
from frstudio.core.jobs import drive
from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_photo
from frstudio.core.scratches import ScratchSettings
options = RestoreOptions(model="passthrough", output_dir=Path({out!r}), overwrite=True, scratches=ScratchSettings({scratches!r}))
job = restore_photo(Path({path!r}), options, RestorerCache())
t = time.perf_counter()
result = drive(job)
print(result.status, len(result.faces), time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory(path: Path, out_dir: Path, scratches: str = "off") -> tuple[float, float, int, str]:
    code = MEMORY_CHILD.format(repo=str(REPO), path=str(path), out=str(out_dir), scratches=scratches)
    line = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    status, faces, seconds, kib = line[0], int(line[1]), float(line[2]), int(line[3])
    return kib / 1024**2, seconds, faces, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--scratches", choices=["off", "on"], default="off", help="scratch removal for the 50 MP photo")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report = {}
        if args.runs > 0:  # 0: the 50 MP memory alone
            photo12 = tmp / "twelve_mp.jpg"
            Image.fromarray(synthetic_photo(4000, 3000, 6)).save(photo12, quality=92)
            runs = []
            for _ in range(args.runs):
                stages, faces = time_stages(photo12, tmp / "out")
                runs.append(stages)
            median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            report["12mp"] = {"faces": faces, "seconds": median, "target_s": 2.5}
            print(f"12 MP photo, {faces} faces found (6 pasted), median of {args.runs} runs:")
            print("| stage | seconds |\n|---|---|")
            for k, v in median.items():
                print(f"| {k} | {v:.3f} |")
            print(f"target <= 2.5 s: {'met' if median['total'] <= 2.5 else 'NOT met'}")

        if not args.skip_memory:
            photo50 = tmp / "fifty_mp.jpg"
            Image.fromarray(synthetic_photo(8660, 5773, 6, seed=1)).save(photo50, quality=90)
            gib, seconds, faces50, status = peak_memory(photo50, tmp / "out", args.scratches)
            report["50mp"] = {"peak_rss_gib": gib, "seconds": seconds, "faces": faces50, "status": status, "target_gib": 1.5,
                              "scratches": args.scratches}
            print(f"50 MP photo (scratch removal {args.scratches}): {status}, {faces50} faces, {seconds:.1f} s, peak memory {gib:.2f} GiB "
                  f"(target <= 1.5 GB: {'met' if gib * 1.0737 <= 1.5 else 'NOT met'})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
