"""Evaluation beyond PSNR: tone metrics, a classifier's accuracy and a mask's Dice, the low-light protocol,
the cached input row and the evenly spread sample."""

from types import SimpleNamespace

import numpy as np
import pytest

from frstudio.core.degradations import PIPELINES
from training.evaluate import Extras
from training.metrics import cast_angle, luminance_error


def test_luminance_error_and_cast_angle():
    rng = np.random.default_rng(0)
    face = rng.uniform(60, 200, (32, 32, 3))
    assert luminance_error(face, face) == 0
    dark = face * 0.5
    expected = (face @ np.array([65.481, 128.553, 24.966]) / 255).mean() * 0.5
    assert luminance_error(dark, face) == pytest.approx(expected)
    assert cast_angle(dark, face) == pytest.approx(0, abs=1e-6)  # darker is not a colour cast
    red = face * np.array([1.3, 1.0, 1.0])
    assert cast_angle(red, face) > 3
    mask = np.zeros((32, 32))
    mask[:16] = 1
    half_red = face.copy()
    half_red[16:] *= np.array([1.3, 1.0, 1.0])
    assert cast_angle(half_red, face, mask) == pytest.approx(0, abs=1e-6)  # outside the face does not count


def test_extras_score_the_classifier_and_the_mask():
    extras = Extras()
    truth_mask = np.zeros((1, 8, 8), np.float32)
    truth_mask[0, :4] = 1
    keys = ("noise", "blur", "relight")
    good = SimpleNamespace(verdict={"noise": 0.9, "blur": 0.1, "relight": 0.8}, mask=truth_mask[0].copy())
    half = np.zeros((8, 8), np.float32)
    half[:2] = 1
    bad = SimpleNamespace(verdict={"noise": 0.2, "blur": 0.1, "relight": 0.8}, mask=half)
    item = {"labels": np.array([1, 0, 1], np.float32), "mask": truth_mask}
    extras.add(good, item, keys)
    extras.add(bad, item, keys)
    summary = extras.summary()
    assert summary["classifier_accuracy"] == {"noise": 0.5, "blur": 1.0, "relight": 1.0}
    assert summary["mask_dice"] == pytest.approx((1.0 + 2 * 16 / (16 + 32)) / 2)


def test_low_light_protocol_darkens_without_a_cast():
    face = np.full((64, 64, 3), 0.6, np.float32)
    face[..., 0] = 0.7
    gains = []
    for seed in range(20):
        out = PIPELINES["frrnet-lowlight"](face, np.random.default_rng(seed))
        gains.append(out.image.mean() / face.mean())
        assert out.labels["relight"] == 1 and 0.3 <= out.labels["params"]["e"] <= 0.6
        assert cast_angle(out.image * 255, face * 255) < 1.5
    assert 0.3 <= min(gains) and max(gains) <= 0.62


def test_evaluation_reuses_the_input_row_and_spreads_its_sample(tiny_prepared, tiny_weights):
    from frstudio.core.restore import Restorer
    from training.evaluate import evaluate_restorer, markdown_table

    cache = tiny_prepared[0]
    first = evaluate_restorer("tiny", "frrnet-lowlight", cache, restorer=Restorer("tiny"))
    stored = list((cache / "eval_inputs").glob("frrnet-lowlight_test_faces_*.npz"))
    assert len(stored) == 1
    stamp = stored[0].stat().st_mtime_ns
    again = evaluate_restorer("tiny", "frrnet-lowlight", cache, restorer=Restorer("tiny"))
    assert stored[0].stat().st_mtime_ns == stamp  # read, not recomputed
    assert again["input"] == first["input"] and again["output"] == first["output"]
    assert set(first["classifier_accuracy"]) == {"noise", "blur", "relight"}  # tiny declares LABELS
    assert first["input"]["lum_err"] > 10  # the protocol darkens
    assert "classifier accuracy" in markdown_table(first)
    spread = evaluate_restorer("tiny", "frrnet-lowlight", cache, restorer=Restorer("tiny"), spread=3)
    assert spread["n"] == 3
    # the face-only PSNR: darkening hurts the face more than the whole crop's average (a dark background is
    # closer to black already); an input row stored before that metric existed is measured again
    assert first["input"]["psnr_face"] < first["input"]["psnr"] and "psnr_face" in markdown_table(first)
    with np.load(stored[0]) as data:
        old = {k: data[k] for k in data.files if k != "psnr_face"}
    np.savez(stored[0], **old)
    third = evaluate_restorer("tiny", "frrnet-lowlight", cache, restorer=Restorer("tiny"))
    assert third["input"] == first["input"] and stored[0].stat().st_mtime_ns != stamp


def test_identical_faces_are_counted_not_averaged_into_psnr():
    from training.evaluate import Scores

    hq = np.random.default_rng(0).normal(size=(2, 128))
    scores = Scores(psnr=[float("inf"), 30.0], ssim=[1.0, 0.9], ms_ssim=[1.0, 0.95], lmd=[0.0, 1.0], descriptors=list(hq))
    summary = scores.summary(hq, None)
    assert summary["psnr"] == 30.0 and summary["identical"] == 1


def test_table_markdown_puts_the_input_row_above_each_variant():
    from training.table import markdown

    row = {"psnr": 20.0, "ssim": 0.7, "ms_ssim": 0.8, "id_dist": 0.5, "id_match": 0.6, "lmd": 2.0, "lum_err": 9.0, "cast_deg": 1.0}
    report = {"n": 10, "input": dict(row, psnr=18.0), "output": row, "classifier_accuracy": {"noise": 0.9, "blur": 0.8, "relight": 0.7}, "mask_dice": 0.95}
    speed = {"params_m": 4.0, "gmacs": 0.9, "ms_b1_fp32": 30.0, "ms_b1_bf16": 20.0, "ms_b8_fp32": 25.0, "ms_b8_bf16": 15.0}
    table = {"protocols": ["frrnet"], "rows": [{"variant": "W12D2", "steps": 5400, "bytes": 2**20 * 8, "speed": speed, "protocols": {"frrnet": report}}]}
    text = markdown(table).splitlines()
    assert "| W12D2 | 5400 | 4.00 | 0.90 | 30.0 | 20.0 | 25.0 | 15.0 | 8.0 |" in text
    inp = next(i for i, line in enumerate(text) if line.startswith("| degraded input | 18"))
    assert text[inp + 1].startswith("| W12D2 | 20 |") and "0.900/0.800/0.700 | 0.9500 |" in text[inp + 1]
