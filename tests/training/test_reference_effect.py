"""benchmarks/reference_effect.py: what a reference photo does to the guided model's output."""

import numpy as np

from tests.support.benchmarks import load_benchmark


def test_closest_pose_picks_the_reference_turned_like_the_face():
    m = load_benchmark("reference_effect")
    rng = np.random.default_rng(0)
    face = rng.uniform(30, 100, size=(68, 2))
    turned = face + np.array([[6.0, 0.0]] * 34 + [[-6.0, 0.0]] * 34)  # features moved apart: another pose
    near = face + rng.normal(0, 1.0, size=face.shape)
    assert m.closest_pose(face, [turned, near, face + 10]) == 1


def test_summary_averages_each_row_and_the_reference_effects():
    m = load_benchmark("reference_effect")
    score = {"id": 0.5, "match": 1.0, "psnr": 20.0, "ssim": 0.5}
    other = {"id": 0.7, "match": 0.0, "psnr": 22.0, "ssim": 0.7}
    results = {"gfrnet-8x": {"rows": {row: [score, other] for row in m.ROWS}, "moved": {"same": [1.0, 3.0], "other": [0.0, 1.0]},
                             "towards": {"same": [0.1, 0.0], "other": [0.0, 0.02]}, "seconds": [0.1, 0.3]}}
    table = m.summary(results)["gfrnet-8x"]
    assert table["people"] == 2 and abs(table["seconds_per_face"] - 0.2) < 1e-9
    assert table["rows"]["input"] == {"id": 0.6, "match": 0.5, "psnr": 21.0, "ssim": 0.6}
    assert table["moved_grey_levels"] == {"same": 2.0, "other": 0.5}
    assert abs(table["towards_reference_person"]["other"] - 0.01) < 1e-12


def test_the_gate_uses_a_reference_only_where_the_face_looks_like_it():
    m = load_benchmark("reference_effect")
    none = {"id": 0.7, "match": 0.0, "psnr": 22.0, "ssim": 0.5}
    guided = {"id": 0.5, "match": 1.0, "psnr": 22.0, "ssim": 0.5}
    results = {"rows": {"guided, none": [none, none], "guided, same person": [guided, guided],
                        "guided, another person": [guided, guided]},
               "towards": {"same": [0.1, 0.1], "other": [0.08, 0.04]},
               "pairs": [{"distance": {"input": {"same": 0.55, "other": 0.9}}},
                         {"distance": {"input": {"same": 0.75, "other": 0.58}}}]}
    gate = m.gated(results, "input", 0.6)
    assert gate["same"]["passed"] == 0.5 and abs(gate["same"]["id"] - 0.6) < 1e-9  # one guided, one restored without
    assert gate["other"]["passed"] == 0.5 and abs(gate["other"]["towards_reference_person"] - 0.02) < 1e-9  # only the pair let through pulls
    wide = m.gated(results, "input", 1.0)
    assert wide["other"]["passed"] == 1.0 and abs(wide["other"]["towards_reference_person"] - 0.06) < 1e-9
