"""The seed's "mean ± std over batches of 32" and the breakdown of the metrics by kind of face (pose, age
group, gender, source, low detector score): the pure functions on hand-made arrays, then the command line."""

import json

import numpy as np
import pytest

from training.evaluate import (
    LOW_SCORE,
    Scores,
    YAW_DEPTH_RATIO,
    age_group,
    batch_spread,
    category_breakdown,
    category_table,
    face_categories,
    markdown_table,
    pose_bin,
    yaw_degrees,
)


def _alternating(centre: float, n: int = 32) -> list[float]:
    return [centre - 1, centre + 1] * (n // 2)


def test_batch_spread_is_the_std_of_per_batch_means():
    # batch means 20 and 22: their std is 1 (numpy's, ddof 0); the per-face std would be sqrt(2), and the
    # sample std (ddof 1) of the two means sqrt(2) too
    values = _alternating(20) + _alternating(22)
    assert batch_spread(values) == pytest.approx(1.0)
    assert np.std(values) == pytest.approx(np.sqrt(2))
    # a trailing incomplete batch is left out, however far off
    assert batch_spread(values + [100.0] * 31) == pytest.approx(1.0)
    # three batches with means 20, 22, 27
    three = values + _alternating(27)
    assert batch_spread(three) == pytest.approx(np.std([20, 22, 27]))
    # batches are consecutive faces, in evaluation order (not sorted, not strided)
    assert batch_spread([20.0, 22.0] * 32) == pytest.approx(0.0)


def test_batch_spread_skips_infinite_values_inside_a_batch_and_needs_two_batches():
    first = [20.0] * 32
    first[5] = float("inf")  # a face equal to its ground truth: out of its batch's mean, as out of the mean
    assert batch_spread(first + [22.0] * 32) == pytest.approx(1.0)
    assert batch_spread(first + [22.0] * 32 + [float("inf")] * 32) == pytest.approx(1.0)  # an all-inf batch is skipped
    assert batch_spread([20.0] * 63) is None  # one full batch: no spread
    assert batch_spread([]) is None
    assert batch_spread(_alternating(20, 16) * 4, batch=16) == pytest.approx(0.0)


def test_summary_reports_the_batch_spread_only_with_two_batches():
    rng = np.random.default_rng(0)
    hq = rng.normal(size=(64, 128))
    psnr = _alternating(20) + _alternating(22)
    ssim = [0.5] * 32 + [0.7] * 32
    scores = Scores(psnr=psnr, ssim=ssim, ms_ssim=[0.9] * 64, lmd=[1.0] * 64, descriptors=list(hq))
    summary = scores.summary(hq, None)
    assert summary["psnr"] == pytest.approx(21.0) and summary["psnr_batch_std"] == pytest.approx(1.0)
    assert summary["ssim_batch_std"] == pytest.approx(0.1) and summary["ms_ssim_batch_std"] == pytest.approx(0.0)
    few = Scores(psnr=psnr[:40], ssim=ssim[:40], ms_ssim=[0.9] * 40, lmd=[1.0] * 40, descriptors=list(hq[:40]))
    assert not any(k.endswith("_batch_std") for k in few.summary(hq[:40], None))


def test_markdown_table_shows_plus_minus_where_the_spread_is_known():
    row = {"psnr": 20.61, "psnr_batch_std": 0.31, "ssim": 0.7, "id_dist": 0.5, "id_match": 0.6, "lmd": 2.0}
    report = {"model": "m", "protocol": "p", "split": "test", "n": 64, "input": dict(row, psnr=18.0, psnr_batch_std=0.2), "output": row}
    text = markdown_table(report)
    assert "| m | 20.61 ± 0.31 | 0.7 | 0.5 | 0.6 | 2 |" in text
    assert "| degraded input | 18 ± 0.2 |" in text and "batches of 32" in text
    bare = {k: v for k, v in row.items() if not k.endswith("_batch_std")}
    plain = markdown_table(dict(report, input=bare, output=bare))
    assert "±" not in plain and "| m | 20.61 | 0.7 |" in plain


def _proxy(degrees: float) -> float:
    return YAW_DEPTH_RATIO * np.tan(np.radians(degrees))


def test_yaw_proxy_to_degrees_and_pose_bins():
    assert yaw_degrees(_proxy(25)) == pytest.approx(25)
    assert yaw_degrees(-_proxy(25)) == pytest.approx(25)  # left or right turn alike
    assert yaw_degrees(YAW_DEPTH_RATIO) == pytest.approx(45)  # offset = the depth ratio at 45 degrees
    degrees = [0, 14.9, 15.1, 29.9, 30.1, 60]
    expected = ["frontal", "frontal", "moderate", "moderate", "profile", "profile"]
    assert list(pose_bin([_proxy(d) for d in degrees])) == expected
    assert list(pose_bin([-_proxy(d) for d in degrees])) == expected
    # the cache's raw values: 0.15 face widths is ~14 degrees, 0.35 ~31: the yaw is no angle itself
    assert list(pose_bin([0.0, 0.15, -0.16, 0.33, -0.35, 0.5])) == ["frontal", "frontal", "moderate", "moderate", "profile", "profile"]


def test_age_groups():
    ages = [2, 12.9, 13, 19, 20, 59, 59.5, 60, 85, np.nan]
    assert list(age_group(ages)) == ["child", "child", "teen", "teen", "adult", "adult", "adult", "senior", "senior", ""]


def test_face_categories_by_hand():
    yaw = [0.0, _proxy(20), _proxy(40), -_proxy(5)]
    age = [np.nan, 8, 35, 70]
    gender = ["", "female", "male", "female"]
    source = ["celeba", "aaf", "aaf", "aaf"]
    score = [2.0, 0.4, 0.5, 1.5]
    masks = face_categories(yaw, age, gender, source, score, low_score=0.5)
    assert list(masks) == ["all", "pose: frontal", "pose: moderate", "pose: profile", "age: child", "age: teen",
                           "age: adult", "age: senior", "gender: female", "gender: male", "source: celeba",
                           "source: aaf", LOW_SCORE]
    picked = {k: np.flatnonzero(m).tolist() for k, m in masks.items()}
    assert picked["all"] == [0, 1, 2, 3]
    assert picked["pose: frontal"] == [0, 3] and picked["pose: moderate"] == [1] and picked["pose: profile"] == [2]
    assert picked["age: child"] == [1] and picked["age: teen"] == [] and picked["age: adult"] == [2] and picked["age: senior"] == [3]
    assert picked["gender: female"] == [1, 3] and picked["gender: male"] == [2]
    assert picked["source: celeba"] == [0] and picked["source: aaf"] == [1, 2, 3]
    assert picked[LOW_SCORE] == [1, 2]  # at or under the threshold


def test_category_breakdown_keeps_faces_aligned():
    hq = np.zeros((4, 128))
    unit = np.eye(128)[0]
    desc = [unit * d for d in (0.2, 0.4, 0.7, 0.9)]  # identity distances to the (zero) ground truth
    inp = Scores(psnr=[10.0, 12.0, 14.0, 16.0], ssim=[0.1, 0.2, 0.3, 0.4], ms_ssim=[0.5] * 4, descriptors=list(hq + 1.0))
    out = Scores(psnr=[20.0, float("inf"), 24.0, 26.0], ssim=[0.5, 0.6, 0.7, 0.8], ms_ssim=[0.9] * 4, descriptors=desc)
    masks = {"first two": np.array([True, True, False, False]), "last two": np.array([False, False, True, True]),
             "none": np.zeros(4, bool)}
    got = category_breakdown(masks, {"input": inp, "output": out}, hq)
    assert got["none"] == {"n": 0}
    first, last = got["first two"], got["last two"]
    assert first["n"] == 2 and first["input"]["psnr"] == 11.0 and first["output"]["psnr"] == 20.0  # inf left out
    assert first["output"]["ssim"] == pytest.approx(0.55) and last["output"]["ssim"] == pytest.approx(0.75)
    assert first["output"]["id_dist"] == pytest.approx(0.3) and first["output"]["id_match"] == 1.0
    assert last["output"]["id_dist"] == pytest.approx(0.8) and last["output"]["id_match"] == 0.0
    assert first["input"]["id_dist"] == pytest.approx(np.sqrt(128)) and first["input"]["id_match"] == 0.0
    table = category_table({"categories": got})
    assert "| first two | 2 | 11.00 | 20.00 | 0.000 | 1.000 | 11.314 | 0.300 |" in table
    assert "| none | 0 | – | – | – | – | – | – |" in table


def test_evaluate_by_category_from_the_command_line(tiny_prepared, tiny_weights, tmp_path, capsys):
    from training.__main__ import main

    cache = tiny_prepared[0]
    args = ["evaluate", "tiny", "--protocol", "seed003-128", "--cache", str(cache), "--by-category"]
    assert main(args + ["--json", str(tmp_path / "first.json")]) == 0
    printed = capsys.readouterr().out
    assert "| category | n | input PSNR | output PSNR |" in printed and "| all | 5 |" in printed
    first = json.loads((tmp_path / "first.json").read_text())
    cats = first["categories"]
    # the tiny test split: four celeba photos, one aaf photo (female, 40 years old)
    assert cats["all"]["n"] == first["n"] == 5
    assert cats["source: celeba"]["n"] == 4 and cats["source: aaf"]["n"] == 1
    assert cats["age: adult"]["n"] == 1 and cats["gender: female"]["n"] == 1 and cats["gender: male"]["n"] == 0
    assert sum(cats[f"pose: {p}"]["n"] for p in ("frontal", "moderate", "profile")) == 5
    assert cats["all"]["output"]["psnr"] == pytest.approx(first["output"]["psnr"])
    assert cats["all"]["input"]["id_match"] == pytest.approx(first["input"]["id_match"])
    assert "pose" in first["category_rules"]
    # again, with the input row read back from the cache: the same breakdown
    assert list((cache / "eval_inputs").glob("seed003-128_test_faces_5_*.npz"))
    assert main(args + ["--json", str(tmp_path / "again.json")]) == 0
    assert json.loads((tmp_path / "again.json").read_text())["categories"] == cats
    capsys.readouterr()
    # without the flag: no breakdown
    assert main(["evaluate", "tiny", "--protocol", "seed003-128", "--cache", str(cache)]) == 0
    assert "by category" not in capsys.readouterr().out
