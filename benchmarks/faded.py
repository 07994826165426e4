"""Restore faded colours (issue 22, item 4): does the automatic levels stretch bring faded test photos back, and
what does it do to photos that are not faded?

    python benchmarks/faded.py [--n 500] [--json OUT]

Photos: `--n` test-split photos spread over the split, each made a print as `benchmarks/damage.py` makes them
(grey 35 %, sepia 25 %, colour 40 %; seeded by file name) — the clean photo. Two ways of fading it:
- "paper": the dyes thin towards yellowed paper (`degradations.random_fade`, amount 0.1-0.45), the training mix's;
- "dyes": each dye fades on its own (channel c -> a_c x + b_c, a_c in 0.55-0.9, b_c in 0.03-0.3), a cast of
  whichever dye lasted, which the fix was not written for.

Reported, against the clean photo, for the faded input and after `colour.restore_faded`: PSNR over RGB, and the mean
colour error (Euclidean distance in RGB on the 0-255 scale, of the photo's mean colour: the cast). And on the clean
photos themselves, how far the fix moves them (PSNR against themselves): the cost of using it where nothing faded.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frstudio.core import degradations as D  # noqa: E402
from frstudio.core.colour import restore_faded  # noqa: E402
from training.metrics.fidelity import psnr  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from damage import test_photos, to8  # noqa: E402


def toned(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    tone = rng.random()
    if tone < 0.35:
        return D.greyscale(img)
    if tone < 0.6:
        return D.random_sepia(img, rng)
    return img


def dye_fade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain, lift = rng.uniform(0.55, 0.9, 3).astype(np.float32), rng.uniform(0.03, 0.3, 3).astype(np.float32)
    return np.clip(img * gain + lift, 0, 1)


FADES = {"paper": D.random_fade, "dyes": dye_fade}


def cast(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.reshape(-1, 3).astype(np.float64).mean(0) - b.reshape(-1, 3).astype(np.float64).mean(0)))


def evaluate(paths: list[Path]) -> dict:
    rows: dict[str, list] = {f"{k}_{w}": [] for k in FADES for w in ("psnr_in", "psnr_out", "cast_in", "cast_out")}
    rows["clean_after"] = []
    for path in paths:
        rng = np.random.default_rng(zlib.crc32(f"faded-test/{path.name}".encode()))
        img = np.asarray(Image.open(path).convert("RGB")).astype(np.float32) / 255.0
        clean = to8(toned(img, rng))
        rows["clean_after"].append(min(psnr(restore_faded(clean), clean, channel="rgb"), 99.0))
        for name, fade in FADES.items():
            faded = to8(fade(clean.astype(np.float32) / 255.0, rng))
            fixed = restore_faded(faded)
            rows[f"{name}_psnr_in"].append(psnr(faded, clean, channel="rgb"))
            rows[f"{name}_psnr_out"].append(psnr(fixed, clean, channel="rgb"))
            rows[f"{name}_cast_in"].append(cast(faded, clean))
            rows[f"{name}_cast_out"].append(cast(fixed, clean))
    out = {k: float(np.mean(v)) for k, v in rows.items()}
    out["clean_after_median"] = float(np.median(rows["clean_after"]))
    for name in FADES:
        out[f"{name}_better_share"] = float(np.mean(np.array(rows[f"{name}_psnr_out"]) > np.array(rows[f"{name}_psnr_in"])))
    out["n"] = len(paths)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    r = evaluate(test_photos(args.faces, args.n))
    print(f"{r['n']} test photos (grey, sepia and colour prints)")
    print("| fading | PSNR: faded -> restored | colour cast (RGB distance of the mean colour): faded -> restored | photos improved |")
    print("|---|---|---|---|")
    for name in FADES:
        print(f"| {name} | {r[f'{name}_psnr_in']:.2f} -> {r[f'{name}_psnr_out']:.2f} | {r[f'{name}_cast_in']:.1f} -> "
              f"{r[f'{name}_cast_out']:.1f} | {r[f'{name}_better_share'] * 100:.0f} % |")
    print(f"Unfaded photos after the fix: {r['clean_after']:.2f} dB against themselves (median {r['clean_after_median']:.2f}; 99 = unchanged)")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
