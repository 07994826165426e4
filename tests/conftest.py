"""Shared fixtures. Test photos are made here from the bundled public-domain astronaut portrait: its face is
pasted at known positions and scales, so detections and landmarks can be checked against known values."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "samples" / "astronaut.jpg"
# The astronaut's head in the sample (x0, y0, x1, y1): pasted into synthetic photos.
HEAD_BOX = (120, 30, 320, 240)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return np.asarray(Image.open(SAMPLE).convert("RGB"))


@pytest.fixture(scope="session")
def astronaut_landmarks(astronaut) -> np.ndarray:
    """dlib's 68 landmarks on the untouched sample: the reference that pasted copies must reproduce."""
    from frstudio.core.detect import detect_faces

    faces = detect_faces(astronaut.copy())
    assert len(faces) == 1
    return faces[0].landmarks.astype(np.float64)


@dataclass
class GroupPhoto:
    pixels: np.ndarray
    landmarks: list[np.ndarray]  # expected 68 x 2 landmarks of each pasted face, in paste order


def paste_faces(astronaut, reference_landmarks, size, placements, background=200) -> GroupPhoto:
    """A photo `size` = (w, h) with the astronaut's head pasted at each (x, y, scale) placement."""
    import cv2

    w, h = size
    rng = np.random.default_rng(0)
    canvas = np.full((h, w, 3), background, np.float32) + rng.normal(0, 3, (h, w, 3))
    canvas = np.clip(canvas, 0, 255).astype(np.uint8)
    x0, y0, x1, y1 = HEAD_BOX
    head = astronaut[y0:y1, x0:x1]
    expected = []
    for x, y, scale in placements:
        patch = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        ph, pw = patch.shape[:2]
        # clip the paste to the canvas: faces may be cut by the border
        cx0, cy0, cx1, cy1 = max(x, 0), max(y, 0), min(x + pw, w), min(y + ph, h)
        canvas[cy0:cy1, cx0:cx1] = patch[cy0 - y : cy1 - y, cx0 - x : cx1 - x]
        # cv2.resize maps pixel centres: out + .5 = scale_actual * (in + .5)
        sx, sy = pw / head.shape[1], ph / head.shape[0]
        lm = reference_landmarks - (x0, y0)
        expected.append(np.stack([(lm[:, 0] + 0.5) * sx - 0.5 + x, (lm[:, 1] + 0.5) * sy - 0.5 + y], axis=1))
    return GroupPhoto(canvas, expected)


@pytest.fixture(scope="session")
def group_photo(astronaut, astronaut_landmarks) -> GroupPhoto:
    """Three faces: two in a row (different sizes), one below."""
    return paste_faces(astronaut, astronaut_landmarks, (900, 650), [(500, 20, 1.0), (60, 40, 0.8), (300, 380, 1.1)])


@pytest.fixture
def group_png(tmp_path, group_photo) -> Path:
    """The three-face group photo saved as a PNG file in its own folder."""
    from PIL import Image

    path = tmp_path / "photos" / "family.png"
    path.parent.mkdir()
    Image.fromarray(group_photo.pixels).save(path)
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def tiny_weights(tmp_path, monkeypatch):
    """A weights folder holding a randomly initialised tiny network registered as model 'tiny'."""
    import torch
    from safetensors.torch import save_file

    from frstudio import models
    from frstudio.models import ModelSpec
    from tests.support import tinynet

    spec = ModelSpec("tiny", "Tiny test net", "Test only.", 128, 128, False, "tests.support.tinynet", "tiny.safetensors")
    monkeypatch.setattr(models, "MODELS", {"tiny": spec, **models.MODELS})
    import frstudio.core.restore as restore_mod

    monkeypatch.setattr(restore_mod, "MODELS", models.MODELS)
    folder = tmp_path / "weights"
    folder.mkdir()
    torch.manual_seed(0)
    net = tinynet.build(tinynet.default_config())
    path = folder / "tiny.safetensors"
    save_file({k: v.half().contiguous() for k, v in net.state_dict().items()}, str(path))
    manifest = {"models": {"tiny": {"file": "tiny.safetensors", "sha256": file_digest(path), "config": tinynet.default_config(), "steps": 0, "metrics": {}}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(folder))
    return folder


@pytest.fixture
def guided_weights(tiny_weights):
    """tiny_weights plus a tiny randomly initialised GFRNet registered as 'gfrnet'."""
    import torch
    from safetensors.torch import save_file

    from frstudio.models import gfrnet

    config = {"width": 4, "max_width": 8, "depth": 3, "warp_width": 4, "warp_max_width": 8}
    torch.manual_seed(0)
    net = gfrnet.build(config)
    with torch.no_grad():
        net.recnet.head.weight.normal_(0, 0.05)
    path = tiny_weights / "gfrnet.safetensors"
    save_file({k: v.half().contiguous() if v.is_floating_point() else v for k, v in net.state_dict().items()}, str(path))
    manifest = json.loads((tiny_weights / "manifest.json").read_text())
    # measurements that show the reference helping, so Auto gives it faces with a reference (routing.reference_helps)
    helps = {"gfrnet-8x": {"n": 8, "input": {"id_match": 0.5}, "output": {"id_match": 0.75}}}
    manifest["models"]["gfrnet"] = {"file": path.name, "sha256": file_digest(path), "config": config, "metrics": helps}
    (tiny_weights / "manifest.json").write_text(json.dumps(manifest))
    return tiny_weights


@pytest.fixture
def portraits(tmp_path, astronaut) -> Path:
    """A folder of three "photos" of one person (the sample at three exposures): what a person's good photos are
    to the reference library and to "Learn this person"."""
    folder = tmp_path / "portraits"
    folder.mkdir()
    for k, gain in enumerate((1.0, 0.85, 1.1)):
        Image.fromarray(np.clip(astronaut * gain, 0, 255).astype(np.uint8)).save(folder / f"mum{k}.png")
    return folder
