import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from frstudio.cli import EXIT_NO_MODEL, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def photo(tmp_path, group_photo):
    path = tmp_path / "Grand-mère photos" / "portrait 1952.jpg"
    path.parent.mkdir()
    Image.fromarray(group_photo.pixels).save(path, quality=93)
    return path


def test_restore_end_to_end(tiny_weights, photo, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["restore", str(photo), "-o", str(out), "--model", "tiny", "--strength", "0.8", "--compare", "--format", "png"])
    assert code == EXIT_OK
    assert (out / "portrait 1952_restored.png").exists()
    assert (out / "portrait 1952_restored_compare.jpg").exists()
    printed = capsys.readouterr().out
    assert "1 restored (3 faces)" in printed


def test_default_model_is_used_when_none_is_named(tiny_weights, photo, capsys):
    assert main(["restore", str(photo), "--faces", "1,3"]) == EXIT_OK
    assert "1 restored (2 faces)" in capsys.readouterr().out


def test_no_bundled_weights_is_a_clear_error(tmp_path, photo, monkeypatch, capsys):
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(tmp_path / "empty"))
    assert main(["restore", str(photo)]) == EXIT_NO_MODEL
    assert "no trained weights are bundled yet" in capsys.readouterr().err
    assert not list(photo.parent.glob("*_restored*"))


def test_bad_files_are_reported_and_the_rest_done(tiny_weights, photo, capsys):
    (photo.parent / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    code = main(["restore", str(photo.parent), str(photo.parent / "missing.jpg"), "--model", "tiny"])
    captured = capsys.readouterr()
    assert code == EXIT_SOME_FAILED
    assert "broken.jpg" in captured.err and "missing.jpg" in captured.err
    assert "1 restored" in captured.out and "1 failed" in captured.out and "1 not found" in captured.out


def test_detect_json(photo, capsys):
    assert main(["detect", str(photo), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert [f["face"] for f in data["faces"]] == [1, 2, 3]  # numbered from 1, as --faces takes them
    assert len(data["faces"][0]["landmarks"]) == 68 and len(data["faces"][0]["box"]) == 4


def test_detect_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"")
    assert main(["detect", str(bad)]) == EXIT_USAGE
    assert "x.png" in capsys.readouterr().err


def test_models_lists_the_table_and_weights(tiny_weights, capsys):
    assert main(["models", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    names = [m["name"] for m in data["models"]]
    assert data["default"] == "tiny"
    assert {"frrnet", "gfrnet", "progressive_16", "progressive_128", "mmrb_stylegan", "vq_unet"} <= set(names)
    gfr = next(m for m in data["models"] if m["name"] == "gfrnet")
    assert gfr["takes_reference"] and not gfr["weights_present"]


def test_models_speaks_plainly_and_keeps_the_figures_for_details(tiny_weights, capsys):
    assert main(["models"]) == EXIT_OK
    plain = capsys.readouterr().out
    assert "Everyday restore" in plain and "Tiny faces" in plain
    assert "psnr" not in plain and "iprecision" not in plain and "GFRNet" not in plain
    assert max(len(line) for line in plain.splitlines()) < 200
    assert main(["models", "--details"]) == EXIT_OK
    details = capsys.readouterr().out
    assert "GFRNet" in details and "Stochastic VQ U-Net" in details
    assert main(["models", "--json"]) == EXIT_OK
    vq = next(m for m in json.loads(capsys.readouterr().out)["models"] if m["name"] == "vq_unet")
    assert vq["title"] == "Severe damage — several versions" and vq["technical"].startswith("Stochastic VQ U-Net")


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["restore", "x.jpg", "--strength", "3"])
    assert exc.value.code == EXIT_USAGE


def test_entry_point_runs_as_a_module(tmp_path):
    env = {**os.environ, "FRSTUDIO_WEIGHTS_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "frstudio", "models"], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0
    assert "frrnet" in done.stdout and "No trained weights are bundled yet" in done.stdout


def test_verbose_names_what_the_classifier_found(tiny_weights, photo, tmp_path, capsys):
    assert main(["restore", str(photo), "-o", str(tmp_path / "v"), "--model", "tiny", "-v"]) == EXIT_OK
    lines = [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("face ")]
    assert len(lines) == 3  # one per face, each with the tiny net's verdict in words
    assert all(line.startswith(f"face {n}: tiny, ") and ("found " in line or "looked clean" in line) for n, line in enumerate(lines, 1))


def test_verdict_words():
    from frstudio.core.restore import verdict_words

    assert verdict_words({"noise": 0.7, "blur": 0.9, "relight": 0.1}) == ["blur", "noise"]
    assert verdict_words({"noise": 0.2, "blur": 0.1, "relight": 0.6}) == ["low light"]
    assert verdict_words({"noise": 0.2, "blur": 0.1, "relight": 0.3}) == []


def test_variants_are_checked_and_explained(tiny_weights, photo, tmp_path, capsys):
    for bad in ("0", "9", "two"):
        with pytest.raises(SystemExit) as exit_info:
            main(["restore", str(photo), "--variants", bad])
        assert exit_info.value.code == 2
    # a deterministic model: one restoration per face, and the user is told why
    assert main(["restore", str(photo), "-o", str(tmp_path / "o"), "--model", "tiny", "--variants", "3"]) == EXIT_OK
    err = capsys.readouterr().err
    assert "--variants is for a stochastic model (vq_unet)" in err
    assert not list((tmp_path / "o").glob("*_variants.png"))


def test_the_summary_says_when_the_whole_photo_was_relit(tmp_path, capsys):
    from frstudio.cli import _summary
    from frstudio.core.pipeline import PhotoResult

    note = "the whole photo brightened to match its relit face (faces' median brightness 0.20 -> 0.45)"
    _summary([PhotoResult(tmp_path / "a.jpg", "restored", tmp_path / "a_restored.jpg", note=note)], 0)
    out = capsys.readouterr().out
    assert note in out and "--tone match keeps the photo's own light" in out


def test_summary_says_when_a_face_came_back_softer_than_it_went_in(capsys):
    from pathlib import Path

    from frstudio import cli
    from frstudio.core.pipeline import FaceReport, PhotoResult

    soft = FaceReport(0, (0, 0, 1, 1), 250.0, True, "frrnet", sharpness=0.5)
    sharp = FaceReport(1, (0, 0, 1, 1), 250.0, True, "frrnet", sharpness=0.99)
    result = PhotoResult(Path("a.jpg"), "restored", Path("a_restored.jpg"), faces=[soft, sharp])
    cli._summary([result], 0, verbose=False)
    out = capsys.readouterr().out
    assert "face 1: frrnet" in out and "softer than the input (0.50x" in out
    assert "face 2" not in out  # only -v lists every face
    cli._summary([result], 0, verbose=True)
    assert "face 2: frrnet (eyes 250 px apart), sharpness 0.99x the input's" in capsys.readouterr().out


def test_scratch_flags_are_checked_and_the_summary_says_what_scratch_removal_did(photo, tmp_path, capsys):
    from frstudio.cli import _summary
    from frstudio.core.pipeline import PhotoResult

    for flags in (["--damage-mask"], ["--scratch-strength", "0.7"], ["--scratches", "off", "--damage-mask"]):
        assert main(["restore", str(photo), *flags]) == EXIT_USAGE
        assert "add --scratches auto or --scratches on" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["restore", str(photo), "--scratches", "always"])
    capsys.readouterr()
    said = "scratches and dust removed (0.8 % of the photo)"
    _summary([PhotoResult(tmp_path / "a.jpg", "restored", tmp_path / "a_restored.jpg", whole_photo=said),
              PhotoResult(tmp_path / "b.jpg", "no_faces", tmp_path / "b_restored.jpg", "b.jpg: scratches repaired, no face found", whole_photo=said)], 0)
    assert capsys.readouterr().out.count(said) == 2


def test_scratches_on_repairs_a_scratch_with_the_bundled_detector_and_saves_the_mask(tmp_path, group_photo, capsys):
    pixels = group_photo.pixels.copy()
    pixels[150:152, 40:860] = 250  # a light hairline across the photo
    path = tmp_path / "scan.png"
    Image.fromarray(pixels).save(path)
    out = tmp_path / "out"
    assert main(["restore", str(path), "-o", str(out), "--model", "passthrough", "--scratches", "on", "--damage-mask"]) == EXIT_OK
    assert "scratches and dust removed" in capsys.readouterr().out
    mask = np.asarray(Image.open(out / "scan_restored_damage.png")) > 0
    assert mask[150:152, 40:860].mean() > 0.8  # the hairline is found...
    restored = np.asarray(Image.open(out / "scan_restored.png")).astype(int)
    line = restored[150:152, 40:860]
    assert np.abs(line - group_photo.pixels[150:152, 40:860]).mean() < np.abs(pixels[150:152, 40:860].astype(int) - group_photo.pixels[150:152, 40:860]).mean() / 3  # ...and filled
