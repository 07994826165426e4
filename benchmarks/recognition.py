"""Re-finding a learned person: how often would Auto take a damaged face for someone it learned before?

    python benchmarks/recognition.py [--people 102] [--photos 5] [--json OUT]
                                     [--protocols clean oldphoto seed003-128 bfr-severe gfrnet-8x]

(`--people` is at most: 91 test-split people have the six photos it takes.)

Auto restores a face with a person's learned copy when the face lies within `PersonalStore.find`'s distance of one of
the photos the copy learned from (frstudio/core/personal.py). This measures that rule alone, without tuning anyone,
so it can use every test-split CelebA identity with enough photos (never seen in training): for each person the
first photo (file-name order) is damaged by each protocol (seeded per file, as `python -m training evaluate`), the
next `--photos` are the photos their copy would learn from.

Per protocol and recognition distance:
- own found: the damaged face's nearest learned photo is its own person's and within the distance;
- strangers' copies, one at a time: the share of (face, other person) pairs where the other person's photos lie within
  the distance (a user who learned one other person);
- anyone else, all learned: the share of faces whose nearest learned photo, with everyone learned, is a stranger's
  within the distance.
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

from frstudio.core.degradations import PIPELINES, protocol_rng  # noqa: E402
from frstudio.core.identity import SAME_PERSON_DISTANCE  # noqa: E402
from frstudio.core.imageio import float_to_uint8  # noqa: E402
from frstudio.core.personal import RECOGNITION_DISTANCE  # noqa: E402
from personal import people  # noqa: E402
from training.data.dataset import FaceCache  # noqa: E402
from training.evaluate import crop_descriptor  # noqa: E402

DISTANCES = tuple(sorted({SAME_PERSON_DISTANCE, 0.55, 0.5, 0.45, RECOGNITION_DISTANCE}, reverse=True))


def distances(data: FaceCache, groups: list[np.ndarray], photos: int, protocol: str) -> np.ndarray:
    """P x P: the distance from person i's damaged face to the closest of person j's learned photos."""
    learned = [np.asarray(data.descriptors[rows[1 : 1 + photos]], np.float64) for rows in groups]
    out = np.zeros((len(groups), len(groups)))
    for i, rows in enumerate(groups):
        hq = np.asarray(data.crops[rows[0]]).astype(np.float32) / 255
        lq = hq if protocol == "clean" else PIPELINES[protocol](hq, protocol_rng(protocol, data.file[rows[0]])).image
        probe = crop_descriptor(float_to_uint8(lq), np.asarray(data.landmarks[rows[0]]))
        out[i] = [np.linalg.norm(d - probe, axis=1).min() for d in learned]
    return out


def rates(d: np.ndarray, threshold: float) -> dict:
    own = np.diag(d)
    strangers = d + np.diag(np.full(len(d), np.inf))
    nearest_stranger = strangers.min(axis=1)
    pairs = strangers[~np.eye(len(d), dtype=bool)]
    return {"distance": threshold,
            "own_found": float(np.mean((own < threshold) & (own <= nearest_stranger))),
            "stranger_pairs": float(np.mean(pairs < threshold)),
            "anyone_else": float(np.mean((nearest_stranger < threshold) & (nearest_stranger < own)))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=102)
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--protocols", nargs="+", default=["clean", "oldphoto", "seed003-128", "bfr-severe", "gfrnet-8x"])
    parser.add_argument("--cache", type=Path, default=REPO / "cache" / "faces128")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    data = FaceCache(args.cache)
    groups = people(data, args.people, args.photos + 1)
    table = {}
    for p in args.protocols:
        d = distances(data, groups, args.photos, p)
        table[p] = [rates(d, t) for t in DISTANCES]
    print(f"{len(groups)} people, {args.photos} learned photos each; Auto's recognition distance is {RECOGNITION_DISTANCE}")
    print("\n| damage | distance | own person found | a stranger's copy taken (one learned) | taken for anyone else (all learned) |"
          "\n|---|---|---|---|---|")
    for p, rows in table.items():
        for r in rows:
            print(f"| {p} | {r['distance']:.2f} | {100 * r['own_found']:.0f} % | {100 * r['stranger_pairs']:.1f} % | "
                  f"{100 * r['anyone_else']:.0f} % |")
    if args.json:
        args.json.write_text(json.dumps({"people": len(groups), "photos": args.photos, "rates": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
