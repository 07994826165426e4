"""A tiny face set made by the tests (never the shared photos), and its prepared cache.

14 WebP photos from the bundled astronaut portrait, each a little different (mirror, brightness, scale,
shift): four celeba-like "people" (101 and 102 in train, 103 in test, 104 a test person with one photo),
two aaf rows, and one photo of noise where prepare must find no face.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "samples" / "astronaut.jpg"
FACE_BOX = (30, 240, 120, 320)  # y0, y1, x0, x1: the astronaut's head

# file, source, identity, age, gender, split, variation (mirror, brightness, scale, shift x, shift y)
TINY_ROWS = [
    ("celeba/000001.webp", "celeba", "101", "", "", "train", (False, 1.00, 1.00, 0, 0)),
    ("celeba/000002.webp", "celeba", "101", "", "", "train", (True, 0.90, 1.05, 6, -4)),
    ("celeba/000003.webp", "celeba", "101", "", "", "train", (False, 1.10, 0.95, -5, 3)),
    ("celeba/000004.webp", "celeba", "101", "", "", "train", (True, 1.00, 1.10, 2, 6)),
    ("celeba/000005.webp", "celeba", "102", "", "", "train", (False, 0.85, 1.00, 8, 0)),
    ("celeba/000006.webp", "celeba", "102", "", "", "train", (True, 1.15, 0.92, -6, -6)),
    ("celeba/000007.webp", "celeba", "102", "", "", "train", (False, 1.05, 1.08, 0, 5)),
    ("celeba/000008.webp", "celeba", "103", "", "", "test", (True, 0.95, 0.98, 4, 4)),
    ("celeba/000009.webp", "celeba", "103", "", "", "test", (False, 1.08, 1.04, -3, -2)),
    ("celeba/000010.webp", "celeba", "103", "", "", "test", (True, 0.92, 1.12, -8, 2)),
    ("celeba/000011.webp", "celeba", "104", "", "", "test", (False, 1.00, 0.90, 5, -5)),
    ("aaf/00001A25.webp", "aaf", "", "25", "female", "train", (False, 0.95, 1.20, 0, 0)),
    ("aaf/00002A40.webp", "aaf", "", "40", "female", "test", (True, 1.05, 1.15, 3, 3)),
    ("aaf/00003A33.webp", "aaf", "", "33", "male", "train", None),  # noise: no face
]


def make_photo(astronaut: np.ndarray, variation, seed: int) -> np.ndarray:
    """The astronaut's head, varied; ``None`` gives a photo of pure noise."""
    h, w = FACE_BOX[1] - FACE_BOX[0], FACE_BOX[3] - FACE_BOX[2]
    if variation is None:
        return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    mirror, brightness, scale, dx, dy = variation
    y0, y1, x0, x1 = FACE_BOX
    head = astronaut[y0:y1, x0:x1].astype(np.float32)
    if mirror:
        head = head[:, ::-1]
    head = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    head = cv2.warpAffine(head, shift, (head.shape[1], head.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    return np.clip(head * brightness, 0, 255).astype(np.uint8)


def write_tiny_faces(folder: Path) -> Path:
    astronaut = np.asarray(Image.open(SAMPLE).convert("RGB"))
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "source", "identity", "age", "gender", "split", "width", "height"])
        for k, (file, source, identity, age, gender, split, variation) in enumerate(TINY_ROWS):
            photo = make_photo(astronaut, variation, seed=k)
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(photo).save(folder / file, quality=90)
            writer.writerow([file, source, identity, age, gender, split, photo.shape[1], photo.shape[0]])
    return folder


@pytest.fixture(scope="session")
def tiny_faces(tmp_path_factory) -> Path:
    """A face-set folder (manifest.csv + WebP photos) in the shared data's layout."""
    return write_tiny_faces(tmp_path_factory.mktemp("faces"))


@pytest.fixture(scope="session")
def tiny_prepared(tiny_faces, tmp_path_factory) -> tuple[Path, dict]:
    """The tiny set run through `prepare` (one worker): (cache folder, summary)."""
    from training.data.prepare import prepare

    out = tmp_path_factory.mktemp("cache")
    summary = prepare(tiny_faces, out, workers=1)
    return out, summary


@pytest.fixture(scope="session")
def tiny_cache(tiny_prepared):
    from training.data.dataset import FaceCache

    return FaceCache(tiny_prepared[0])
