"""benchmarks/damage.py: its test pairs are seeded by file name, its scores count what they say, and a detector
that finds every mark scores perfectly while the repair brings the marked pixels back towards the clean photo."""

import csv

import numpy as np
import torch
from PIL import Image

from tests.support.benchmarks import load_benchmark

bench = load_benchmark("damage")


class TruthDetector(torch.nn.Module):
    """Knows the marks: a logit of +20 where the damaged photo differs from its clean twin, -20 elsewhere."""

    stride = 1

    def __init__(self, pairs):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.pairs = pairs  # {damaged bytes: mask}

    def forward(self, x):
        img = np.round(x[0].permute(1, 2, 0).float().numpy() * 255).astype(np.uint8)
        mask = self.pairs.get(img.tobytes(), np.zeros(img.shape[:2], bool))
        return torch.from_numpy(mask.astype(np.float32) * 40 - 20)[None, None] + self.anchor


def _faces(tmp_path, group_photo, n=3):
    rows = []
    for i in range(n):
        name = f"celeba/{i:03d}.png"
        (tmp_path / "celeba").mkdir(exist_ok=True)
        Image.fromarray(group_photo.pixels[100 * i : 100 * i + 180, 100:260]).save(tmp_path / name)
        rows.append({"file": name, "split": "test"})
    rows.append({"file": "celeba/train.png", "split": "train"})
    with open(tmp_path / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["file", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return bench.test_photos(tmp_path, 10)


def test_pairs_are_seeded_by_name_and_a_detector_that_knows_the_marks_scores_perfectly(tmp_path, group_photo):
    paths = _faces(tmp_path, group_photo)
    assert len(paths) == 3 and all("train" not in p.name for p in paths)
    clean, damaged, mask = bench.make_pair(paths[0], 1)
    again = bench.make_pair(paths[0], 1)
    assert np.array_equal(damaged, again[1]) and np.array_equal(mask, again[2])
    assert mask.any() and clean.dtype == damaged.dtype == np.uint8
    pairs = {bench.make_pair(p, 1)[1].tobytes(): bench.make_pair(p, 1)[2] for p in paths}
    result = bench.evaluate(paths, 1, TruthDetector(pairs), False, 0.5, find_faces=lambda img: [])
    for at in (result["detector"]["0.5"], result["app"]):
        assert at["precision"] == 1.0 and at["recall"] == 1.0 and at["iou"] == 1.0 and at["clean_fpr"] == at["decoy_fpr"] == 0.0
    rep = result["repair"]
    assert rep["out"]["psnr_marks"] == rep["oracle"]["psnr_marks"] > rep["in"]["psnr_marks"]
    assert result["clean_psnr_after_repair"] == 99.0
    assert result["auto"]["repairs_clean"] == result["auto"]["repairs_decoys"] == 0.0 and result["auto"]["repairs_damaged"] == 1.0
    decoy = bench.make_decoy(paths[0], 1)
    assert np.array_equal(decoy, bench.make_decoy(paths[0], 1)) and decoy.shape == clean.shape and not np.array_equal(decoy, clean)
    photo, truth = bench.mosaic(paths, (300, 400))
    assert photo.shape == (300, 400, 3) and truth.shape == (300, 400) and truth.any()
    tiled = [bench.make_pair(p, 1) for p in paths]
    h, w = tiled[0][1].shape[:2]
    np.testing.assert_array_equal(photo[:h, :w], tiled[0][1][:300, :400])  # the first photo in the corner, its marks too
    np.testing.assert_array_equal(truth[:h, :w], tiled[0][2][:300, :400])
