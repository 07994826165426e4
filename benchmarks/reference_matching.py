"""Can the app tell, from a damaged face, which photos in a folder are of that person?

    python benchmarks/reference_matching.py [--people 40] [--photos 5] [--protocols gfrnet-8x bfr-severe oldphoto seed003-128]
                                            [--json OUT]

People: test-split CelebA identities (never seen in training) with at least `--photos` + 1 photos, picked as
`benchmarks/personal.py` picks them. For each, the first photo is damaged by each protocol (seeded per file, as
`python -m training evaluate`); the next `--photos` are the person's folder; the next person's are a stranger's.
The damaged face's dlib descriptor (computed on the aligned crop, as the app does) is compared with every photo of
each folder; a folder "matches" when one of its photos lies within dlib's same-person distance 0.6 — the rule by
which the app's reference library, "Learn this person" and a learned person found again decide who a face is.

Reported per protocol: how often the person's own folder matches, how often a stranger's does, and the mean of the
closest distances. Descriptors only: no model runs, a minute or two on this CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from personal import people  # noqa: E402

from frstudio.core.degradations import PIPELINES, protocol_rng  # noqa: E402
from frstudio.core.identity import SAME_PERSON_DISTANCE  # noqa: E402
from frstudio.core.imageio import float_to_uint8  # noqa: E402
from training.data.dataset import FaceCache  # noqa: E402
from training.evaluate import crop_descriptor  # noqa: E402


def run(data: FaceCache, args) -> dict:
    groups = people(data, args.people, args.photos + 1)
    closest: dict = {p: {"own": [], "stranger": []} for p in args.protocols}
    for k, rows in enumerate(groups):
        target = rows[0]
        folders = {"own": rows[1 : 1 + args.photos], "stranger": groups[(k + 1) % len(groups)][1 : 1 + args.photos]}
        hq = np.asarray(data.crops[target], np.float32) / 255
        landmarks = np.asarray(data.landmarks[target])
        for protocol in args.protocols:
            lq = PIPELINES[protocol](hq, protocol_rng(protocol, data.file[target])).image
            probe = crop_descriptor(float_to_uint8(lq), landmarks)
            for kind, folder in folders.items():
                closest[protocol][kind].append(float(np.linalg.norm(np.asarray(data.descriptors[folder]) - probe, axis=1).min()))
    return {p: {kind: {"matches": float(np.mean(np.asarray(d) < SAME_PERSON_DISTANCE)), "closest_mean": float(np.mean(d))}
                for kind, d in by_kind.items()} | {"people": len(groups)} for p, by_kind in closest.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--photos", type=int, default=5, help="photos in each folder (default 5)")
    parser.add_argument("--protocols", nargs="+", default=["gfrnet-8x", "bfr-severe", "oldphoto", "seed003-128"])
    parser.add_argument("--cache", type=Path, default=REPO / "cache" / "faces128")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    table = run(FaceCache(args.cache), args)
    print(f"| damage | their own folder matches | a stranger's folder matches | closest distance, own / stranger's |\n|---|---|---|---|")
    for p, t in table.items():
        own, other = t["own"], t["stranger"]
        print(f"| {p} | {100 * own['matches']:.0f} % | {100 * other['matches']:.0f} % | "
              f"{own['closest_mean']:.3f} / {other['closest_mean']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
