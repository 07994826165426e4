"""`python -m training degradations --montage out.png`: what every degradation pipeline does to real faces;
`python -m training samples MODEL --out grid.png`: what a shipped model makes of them.

One row per face, one column per pipeline: the HQ crop first, then each name of ``PIPELINES``. Each tile is
degraded with ``protocol_rng(pipeline, file)``, so for cache faces the montage shows the very inputs the
evaluation protocols use. 16 x 16 outputs are enlarged with nearest neighbour, so their pixels show.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from frstudio.core.imageio import float_to_uint8
from frstudio.core.degradations import protocol_rng
from training.data.dataset import PIPELINES

TILE = 128
GAP = 4
HEADER = 22
BACKGROUND = 255


def montage_columns() -> list[str]:
    return ["HQ", *PIPELINES]


def montage_size(rows: int, columns: int | None = None) -> tuple[int, int]:
    """(height, width) in pixels of a montage of ``rows`` faces (and ``columns`` tiles per row)."""
    columns = len(montage_columns()) if columns is None else columns
    return HEADER + rows * (TILE + GAP) - GAP, columns * (TILE + GAP) - GAP


def cache_faces(cache, n: int, split: str = "test") -> list[tuple[str, np.ndarray]]:
    """``n`` faces (file name, 128 x 128 x 3 float32 [0, 1]) spread evenly over ``split`` of a FaceCache,
    so a cache sorted by source shows both celeba and aaf."""
    rows = cache.indices(split)
    if len(rows) == 0:
        raise ValueError(f"the cache has no {split!r} faces")
    picks = rows[np.unique(np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int))]
    return [(str(cache.file[r]), cache.crops[r].astype(np.float32) / 255.0) for r in picks]


def sample_faces(path: Path, n: int) -> list[tuple[str, np.ndarray]]:
    """``n`` faces cut from a photo with the app's own detection and alignment. With fewer faces than
    ``n``, they repeat under new names (``photo.jpg#1`` ...), so each row gets its own degradations."""
    from PIL import Image

    from frstudio.core.align import align_face
    from frstudio.core.detect import detect_faces

    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    faces = detect_faces(rgb)
    if not faces:
        raise ValueError(f"no face found in {path}")
    crops = [align_face(rgb, f.landmarks, TILE).image for f in faces]
    return [(f"{Path(path).name}#{k}", crops[k % len(crops)]) for k in range(n)]


def _tile(img: np.ndarray) -> np.ndarray:
    """float32 [0, 1] image -> TILE x TILE uint8; small ones enlarged by nearest neighbour."""
    if img.shape[:2] != (TILE, TILE):
        img = cv2.resize(img, (TILE, TILE), interpolation=cv2.INTER_NEAREST)
    return float_to_uint8(img)


def _canvas(rows: int, columns: list[str]) -> np.ndarray:
    height, width = montage_size(rows, len(columns))
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    for c, title in enumerate(columns):
        x = c * (TILE + GAP)
        # centred title; Hershey simplex at 0.42 fits the longest name ("gfrnet-train") in a tile
        (tw, th), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 0.42, 1)
        cv2.putText(canvas, title, (x + (TILE - tw) // 2, (HEADER + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def _fill_row(canvas: np.ndarray, row: int, tiles: list[np.ndarray]) -> None:
    y = HEADER + row * (TILE + GAP)
    for c, img in enumerate(tiles):
        x = c * (TILE + GAP)
        canvas[y : y + TILE, x : x + TILE] = _tile(img)


def degradation_montage(faces: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """The montage (H x W x 3 uint8 RGB) of ``faces`` = [(file name, HQ crop)] under every pipeline."""
    canvas = _canvas(len(faces), montage_columns())
    for r, (name, hq) in enumerate(faces):
        _fill_row(canvas, r, [hq] + [PIPELINES[p](hq, protocol_rng(p, name)).image for p in PIPELINES])
    return canvas


def mix_montage(faces: list[tuple[str, np.ndarray]], pipeline: str, draws: int = 8) -> np.ndarray:
    """What a training mix (e.g. ``restore-mix``) hands a model: per face, the HQ crop then ``draws`` draws of
    ``pipeline``, each tile captioned with the source it drew (``labels["source"]``, else its protocol)."""
    canvas = _canvas(len(faces), ["HQ"] + [f"draw {k + 1}" for k in range(draws)])
    for r, (name, hq) in enumerate(faces):
        drawn = [PIPELINES[pipeline](hq, protocol_rng(f"{pipeline}#{k}", name)) for k in range(draws)]
        _fill_row(canvas, r, [hq] + [d.image for d in drawn])
        y = HEADER + r * (TILE + GAP) + TILE - 5
        for c, d in enumerate(drawn, start=1):
            caption = str(d.labels.get("source", d.labels.get("protocol", "")))
            x = c * (TILE + GAP) + 3
            cv2.putText(canvas, caption, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (255, 255, 255), 3, cv2.LINE_AA)
            cv2.putText(canvas, caption, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def restoration_grid(faces: list[tuple[str, np.ndarray]], restorer, protocols: list[str]) -> np.ndarray:
    """Per face: for each protocol its degraded input and the model's output, then the ground truth.
    Inputs are drawn with ``protocol_rng`` as in the evaluation, so cache faces show the measured inputs."""
    columns = [t for p in protocols for t in (p, "-> " + restorer.name)] + ["ground truth"]
    canvas = _canvas(len(faces), columns)
    for r, (name, hq) in enumerate(faces):
        tiles = []
        for p in protocols:
            lq = PIPELINES[p](hq, protocol_rng(p, name)).image
            tiles += [lq, restorer.restore(lq[None])[0].image]
        _fill_row(canvas, r, tiles + [hq])
    return canvas


def write_montage(path: Path, rgb: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
