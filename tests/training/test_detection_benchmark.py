"""benchmarks/detection.py: a run stopped part-way goes on from its --progress file."""

import json

from tests.support.benchmarks import load_benchmark


def test_photos_already_measured_are_not_measured_again_and_a_cut_line_is(tmp_path, monkeypatch):
    m = load_benchmark("detection")
    done = {"file": "a.webp", "found": {"hog": [False, 0], "ensemble": [True, 1]}, "yaw": 10.0,
            "landmarks": [[0.0, 0.0]] * 68, "pose": "0-15"}
    progress = tmp_path / "progress.jsonl"
    progress.write_text(json.dumps(done) + "\n" + '{"file": "b.webp", "fou', encoding="utf-8")  # b: cut by a kill
    measured = []

    def detect_single(data, row):
        measured.append(row["file"])
        return {**done, "file": row["file"], "found": {"hog": [True, 0], "ensemble": [True, 0]}}

    monkeypatch.setattr(m, "detect_single", detect_single)
    rows = [{"file": f, "age": "", "source": "celeba"} for f in ("a.webp", "b.webp")]
    result = m.bench_single(tmp_path, rows, progress)
    assert measured == ["b.webp"]
    assert result["table"]["all"] == {"hog": [1, 2, 0], "ensemble": [2, 2, 1]}
    assert [r["file"] for r in m.load_progress(progress).values()] == ["a.webp", "b.webp"]  # b is on record now
