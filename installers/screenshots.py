"""Screenshots of the desktop app's main states, taken from the real app under Xvfb.

    python installers/screenshots.py [--photo PHOTO] [--out resources/screenshots] [--offscreen]

States: `loaded.png` (photo open, faces outlined), `restored_swipe.png` (restored, swipe line through the
faces), `batch.png` (a batch of four files, one of them damaged, in the queue panel). Each is one run of
`frstudio --open ... --screenshot ...` with its settings in a temporary folder (never the user's).

Without --photo it uses `resources/samples/astronaut_faded.jpg`, an aged copy of the public-domain sample that
`faded_sample()` makes (the README's pictures). Give --photo a real photo (e.g. a test-split face from
../shared/data/faces) to check the app on one, with --out outside the repository: those photos must never be
committed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "samples" / "astronaut.jpg"
FADED = REPO / "resources" / "samples" / "astronaut_faded.jpg"
WINDOW = (1280, 800)


def faded_sample(source: Path = SAMPLE, seed: int = 7) -> np.ndarray:
    """The sample made to look like an old print: soft (1/3 resolution), faded warm colours with lifted blacks,
    grain, then saved as a low-quality JPEG by the caller. Deterministic."""
    rng = np.random.default_rng(seed)
    img = np.asarray(Image.open(source).convert("RGB")).astype(np.float32)
    h, w = img.shape[:2]
    img = cv2.resize(cv2.resize(img, (w // 3, h // 3), interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    img = 0.55 * img + 0.45 * img.mean(axis=2, keepdims=True)
    img = img * np.array([1.0, 0.93, 0.78], np.float32) * 0.8 + 30
    img += rng.normal(0, 7, (h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_faded_sample() -> Path:
    Image.fromarray(faded_sample()).save(FADED, quality=45)
    return FADED


def shoot(args: list[str], out: Path, offscreen: bool) -> None:
    with tempfile.TemporaryDirectory() as cfg:
        settings = {"version": 1, "window_width": WINDOW[0], "window_height": WINDOW[1]}
        Path(cfg, "settings.json").write_text(json.dumps(settings))
        env = {**os.environ, "FRSTUDIO_CONFIG_DIR": cfg}
        command = [sys.executable, "-m", "frstudio", *args, "--screenshot", str(out)]
        if offscreen or not shutil.which("xvfb-run"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        else:
            env.pop("QT_QPA_PLATFORM", None)
            command = ["xvfb-run", "-a", "-s", f"-screen 0 {WINDOW[0] + 100}x{WINDOW[1] + 100}x24", *command]
        subprocess.run(command, cwd=REPO, env=env, check=True, timeout=300)
    # 256 colours keep the PNGs small for the README; the photo areas dither a little, the text stays sharp.
    Image.open(out).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
    print(f"{out} ({out.stat().st_size // 1024} KiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, help="photo to show (default: the faded sample)")
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "screenshots")
    parser.add_argument("--offscreen", action="store_true", help="Qt's offscreen platform instead of Xvfb")
    args = parser.parse_args()
    photo = args.photo or (FADED if FADED.exists() else make_faded_sample())
    args.out.mkdir(parents=True, exist_ok=True)
    shoot(["--open", str(photo)], args.out / "loaded.png", args.offscreen)
    shoot(["--open", str(photo), "--restore", "--swipe"], args.out / "restored_swipe.png", args.offscreen)
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "scans"
        batch.mkdir()
        for i, name in enumerate(["1961 wedding.jpg", "1968 beach.jpg", "1974 garden.jpg"]):
            Image.open(photo).convert("RGB").rotate(0 if i == 0 else 3 * i, fillcolor=(40, 35, 30)).save(batch / name, quality=85)
        (batch / "1970 damaged.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))  # a scan that cannot be read
        shoot(["--open", str(photo), "--batch", str(batch), "--batch-output", str(Path(tmp) / "restored")], args.out / "batch.png", args.offscreen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
