"""`python -m training tiny-threshold`: the simulated small photo, the crossover rule, and the command on the
tiny prepared cache with a random progressive_16."""

import json

import numpy as np
import pytest

from frstudio.core.align import eye_distance
from training.tiny_faces import Camera, beats, crossover, small_photo


def rows(tiny_match, tiny_dist, default_match, default_dist):
    return {"progressive_16": {"id_match": tiny_match, "id_dist": tiny_dist},
            "frrnet": {"id_match": default_match, "id_dist": default_dist}}


def test_tie_on_match_rate_is_broken_by_the_distance():
    assert beats({"id_match": 0.6, "id_dist": 0.9}, {"id_match": 0.5, "id_dist": 0.1})  # the match rate first
    assert not beats({"id_match": 0.5, "id_dist": 0.1}, {"id_match": 0.6, "id_dist": 0.9})
    assert beats({"id_match": 0.5, "id_dist": 0.40}, {"id_match": 0.5, "id_dist": 0.41})
    assert not beats({"id_match": 0.5, "id_dist": 0.41}, {"id_match": 0.5, "id_dist": 0.40})
    assert not beats({"id_match": 0.5, "id_dist": 0.4}, {"id_match": 0.5, "id_dist": 0.4})  # a full tie is no win


def test_crossover_is_the_largest_winning_d_and_the_threshold_lies_midway_to_the_next():
    by_d = {6: rows(0.40, 0.62, 0.20, 0.70), 8: rows(0.55, 0.56, 0.45, 0.58), 10: rows(0.70, 0.50, 0.70, 0.52),
            12: rows(0.80, 0.45, 0.85, 0.44), 16: rows(0.85, 0.42, 0.95, 0.35)}
    c = crossover(by_d)
    assert c["wins"] == [6, 8, 10] and c["d_star"] == 10 and c["threshold"] == 11 and c["losses_below"] == []
    assert "match rate" in c["rule"] and "largest d" in c["rule"]
    # with the tie at 10 going the other way, the crossover moves down and the threshold with it
    by_d[10] = rows(0.70, 0.53, 0.70, 0.52)
    c = crossover(by_d)
    assert c["d_star"] == 8 and c["threshold"] == 9


def test_crossover_without_wins_everywhere_wins_and_gaps():
    lose = {d: rows(0.1, 0.8, 0.9, 0.3) for d in (6, 8, 12)}
    c = crossover(lose)
    assert c["d_star"] is None and c["threshold"] == 0 and c["wins"] == []
    win = {d: rows(0.9, 0.3, 0.1, 0.8) for d in (6, 8, 12)}
    c = crossover(win)
    assert c["d_star"] == 12 and c["threshold"] == 12 and "larger d" in c["note"]
    # a loss at 8 below a win at 12: the largest win counts, and the gap is reported
    gap = {6: win[6], 8: lose[8], 12: win[12], 16: lose[12]}
    c = crossover(gap)
    assert c["d_star"] == 12 and c["threshold"] == 14 and c["losses_below"] == [8]


def test_crossover_reads_the_json_keys_and_names_its_models():
    by_d = {"6": {"tiny": {"id_match": 0.5, "id_dist": 0.5}, "big": {"id_match": 0.4, "id_dist": 0.5}},
            "10": {"tiny": {"id_match": 0.4, "id_dist": 0.5}, "big": {"id_match": 0.5, "id_dist": 0.5}},
            "8": {"tiny": {"id_match": 0.5, "id_dist": 0.5}, "big": {"id_match": 0.4, "id_dist": 0.5}}}
    per_face = {k: {"tiny": {"id_dist": [0.5, 0.7]}, "big": {"id_dist": [0.7, 0.7]}} for k in by_d}
    c = crossover(by_d, "tiny", "big", per_face)
    assert c["wins"] == [6.0, 8.0] and c["d_star"] == 8 and c["threshold"] == 9  # numeric order, not "10" < "6"
    assert c["only_matched_by"]["6"] == {"tiny": 1, "big": 0}


def test_small_photo_has_the_asked_eye_distance_and_its_landmarks_follow(astronaut, astronaut_landmarks):
    from frstudio.core.align import align_face, transform_points

    aligned = align_face(astronaut, astronaut_landmarks, 128)
    hq = np.clip(np.round(aligned.image * 255), 0, 255).astype(np.uint8)
    lm = transform_points(astronaut_landmarks, aligned.matrix)
    for d in (6, 10, 24):
        photo, small_lm = small_photo(hq, lm, d, Camera(), row=3)
        assert abs(eye_distance(small_lm) - d) < 0.3
        assert photo.dtype == np.uint8 and photo.shape[0] > 128 * d / eye_distance(lm)  # with a margin
        again, _ = small_photo(hq, lm, d, Camera(), row=3)
        np.testing.assert_array_equal(photo, again)  # seeded: every model sees the same photo
        assert np.any(small_photo(hq, lm, d, Camera(seed=1), row=3)[0] != photo)
    # aligned back at 128 from the 24 px photo, the face lands where the HQ crop has it
    photo, small_lm = small_photo(hq, lm, 24, Camera(), row=3)
    back = align_face(photo, small_lm, 128).image * 255
    assert np.abs(back - hq).mean() < 8
    assert np.abs(back - np.roll(hq, 3, axis=1)).mean() > np.abs(back - hq).mean()


@pytest.fixture
def random_progressive(tmp_path):
    from tests.support.progressive_weights import write_progressive_16

    return write_progressive_16(tmp_path / "progressive")


def test_command_on_the_tiny_cache(tiny_prepared, tiny_weights, random_progressive, tmp_path, capsys):
    """--weights holds only progressive_16; the stand-in default 'tiny' comes from the shipped folder."""
    from training.__main__ import main

    out = tmp_path / "tiny.json"
    argv = ["tiny-threshold", "--cache", str(tiny_prepared[0]), "--spread", "3", "--distances", "8", "16",
            "--models", "tiny", "progressive_16", "--weights", str(random_progressive), "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 3 and report["distances"] == [8, 16]
    assert report["weights"] == {"tiny": str(tiny_weights), "progressive_16": str(random_progressive)}
    assert list(report["by_d"]) == ["8", "16"]
    for key, d in (("8", 8), ("16", 16)):
        assert set(report["by_d"][key]) == {"input", "tiny", "progressive_16"}
        assert abs(report["eye_distance_measured"][key] - d) < 0.3
        for row in report["by_d"][key].values():
            assert row["n"] == 3 and 0 <= row["id_match"] <= 1 and row["id_dist"] > 0 and np.isfinite(row["psnr"])
    assert report["by_d"]["16"]["input"]["psnr"] > report["by_d"]["8"]["input"]["psnr"]  # bigger faces keep more
    c = report["crossover"]
    assert c["tiny"] == "progressive_16" and c["default"] == "tiny"
    assert c == crossover(report["by_d"], "progressive_16", "tiny", report["per_face"])
    printed = capsys.readouterr().out
    assert "d = 8 px" in printed and "| progressive_16 |" in printed and "Crossover rule:" in printed
