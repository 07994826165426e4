"""Data safety of batches (command line and engine): an output written short is an error, one odd path fails one
photo and the batch goes on, colliding outputs get distinct names, impossible face numbers write nothing,
stale temp files of killed runs are cleaned up, and the exit codes say what went wrong.

Most photos here have no face: "copied unchanged" writes an output through the same path as a restored photo,
without running a network, and `--model passthrough` needs no weights."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from frstudio.cli import EXIT_NO_MODEL, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from frstudio.core import imageio
from frstudio.core.pipeline import RestoreOptions, RestorerCache, restore_batch
from tests.test_pipeline import run

NO_NETWORK = ["--model", "passthrough"]


def blank(path: Path, fmt: str | None = None, seed: int = 0) -> Path:
    """A small photo without a face."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def batch(inputs, **options):
    results, _ = run(restore_batch(inputs, RestoreOptions(model="passthrough", **options), RestorerCache()))
    return results


def written(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ----- 1. an output written short ---------------------------------------------------------------


def truncate_jpeg_named(monkeypatch, ending: str):
    encoder = imageio._ENCODERS["JPEG"]

    def short_write(path, out, quality):  # what Pillow does on a nearly full disk: no error, a short file
        encoder(path, out, quality)
        if ending in path.name:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])

    monkeypatch.setitem(imageio._ENCODERS, "JPEG", short_write)


@pytest.mark.parametrize("ending", ["_restored.jpg", "_compare.jpg"])
def test_a_jpeg_written_short_fails_the_photo_and_the_next_run_redoes_it(tmp_path, monkeypatch, capsys, ending):
    photo = blank(tmp_path / "in" / "x.jpg")
    out = tmp_path / "out"
    truncate_jpeg_named(monkeypatch, ending)
    assert main(["restore", str(photo), "-o", str(out), "--compare", *NO_NETWORK]) == EXIT_SOME_FAILED
    assert "written incompletely" in capsys.readouterr().err
    assert written(out) == []  # neither the photo nor its comparison: nothing says "done"
    monkeypatch.undo()
    assert main(["restore", str(photo), "-o", str(out), "--compare", *NO_NETWORK]) == EXIT_OK
    assert "1 without faces" in capsys.readouterr().out  # redone, not "already done"
    assert written(out) == ["x_restored.jpg", "x_restored_compare.jpg"]
    assert Image.open(out / "x_restored.jpg").getpixel((0, 0)) is not None


# ----- 2. one odd path fails one photo ------------------------------------------------------------


def test_a_file_name_too_long_for_its_output_fails_that_photo_only(tmp_path, capsys):
    folder = tmp_path / "in"
    long = blank(folder / ("n" * 245 + ".jpg"))
    blank(folder / "a.jpg")
    blank(folder / "z.jpg")
    code = main(["restore", str(folder), *NO_NETWORK])
    captured = capsys.readouterr()
    assert code == EXIT_SOME_FAILED and "Traceback" not in captured.err
    assert "the file name is too long (258 characters)" in captured.err
    assert "2 without faces" in captured.out and "1 failed" in captured.out
    assert sorted(p.name for p in folder.iterdir() if p != long) == ["a.jpg", "a_restored.jpg", "z.jpg", "z_restored.jpg"]


def test_an_output_folder_that_cannot_be_searched_fails_each_photo_with_one_line(tmp_path, monkeypatch):
    blocked = tmp_path / "out"
    blocked.mkdir()
    real_stat = Path.stat

    def stat(self, *args, **kwargs):  # a folder without search permission (root passes any chmod)
        if blocked in self.parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    photos = [blank(tmp_path / "in" / name) for name in ("a.jpg", "b.jpg")]
    results = batch(photos, output_dir=blocked)
    assert [r.status for r in results] == ["failed", "failed"]
    assert results[0].message == f"a.jpg: cannot write to {blocked}: permission denied"


def test_any_exception_for_one_photo_is_its_error(tmp_path, monkeypatch):
    import cv2

    from frstudio.core import pipeline

    real = pipeline.detect_faces

    def detect(pixels, settings):
        if pixels[0, 0, 0] == first:
            raise cv2.error("OpenCV(4.10) resize.cpp:4152: error: (-215:Assertion failed) !ssize.empty()\nmore")
        return real(pixels, settings)

    monkeypatch.setattr(pipeline, "detect_faces", detect)
    photos = [blank(tmp_path / "a.png", seed=1), blank(tmp_path / "b.png", seed=2)]
    first = np.asarray(Image.open(photos[0]))[0, 0, 0]
    results = batch(photos)
    assert [r.status for r in results] == ["failed", "no_faces"]
    assert results[0].message == "a.png: error: OpenCV(4.10) resize.cpp:4152: error: (-215:Assertion failed) !ssize.empty()"


# ----- 3. colliding outputs -----------------------------------------------------------------------


def test_same_names_from_two_folders_get_distinct_outputs_in_input_order(tmp_path, capsys):
    a, b = blank(tmp_path / "a" / "x.jpg", seed=1), blank(tmp_path / "b" / "x.jpg", seed=2)
    out = tmp_path / "out"
    assert main(["restore", str(a), str(b), "-o", str(out), *NO_NETWORK]) == EXIT_OK
    assert written(out) == ["x_restored-2.jpg", "x_restored.jpg"]
    first = np.asarray(Image.open(out / "x_restored.jpg"), float)
    assert np.abs(first - np.asarray(Image.open(a), float)).mean() < np.abs(first - np.asarray(Image.open(b), float)).mean()
    capsys.readouterr()
    assert main(["restore", str(a), str(b), "-o", str(out), *NO_NETWORK]) == EXIT_OK
    assert "2 already done" in capsys.readouterr().out and written(out) == ["x_restored-2.jpg", "x_restored.jpg"]


def test_same_stem_two_formats_into_one_format(tmp_path):
    folder = tmp_path / "in"
    blank(folder / "y.jpg"), blank(folder / "y.png")
    results = batch([folder], format="png")
    assert [(r.source.name, r.output.name) for r in results] == [("y.jpg", "y_restored.png"), ("y.png", "y_restored-2.png")]
    again = batch([folder], format="png")  # the outputs, now in the input folder, are not taken for photos
    assert [(r.source.name, r.status) for r in again] == [("y.jpg", "skipped"), ("y.png", "skipped")]


def test_no_suffix_never_writes_over_another_photo(tmp_path):
    folder = tmp_path / "in"
    jpg, png = blank(folder / "y.jpg", seed=1), blank(folder / "y.png", seed=2)
    before = png.read_bytes()
    results = batch([folder], format="png", suffix="")
    assert [(r.source.name, r.status) for r in results] == [("y.jpg", "no_faces"), ("y.png", "failed")]
    assert results[0].output.name == "y-2.png" and "would replace the original" in results[1].message
    assert png.read_bytes() == before and jpg.exists()


# ----- 5. temp files left by a killed run ----------------------------------------------------------


def test_a_run_removes_the_temp_files_a_killed_run_left_and_only_those(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout)
    killed = out / f".x_restored.jpg.{pid}-0123abcd.part"
    foreign = out / ".x_restored.jpg.part"
    for path in (killed, foreign):
        path.write_bytes(b"half")
        os.utime(path, (time.time() - 120, time.time() - 120))
    batch([blank(tmp_path / "in" / "x.jpg")], output_dir=out)
    assert written(out) == [".x_restored.jpg.part", "x_restored.jpg"]


# ----- 6. the original is never the output; formats follow names; unreadable folders ---------------


def test_no_suffix_says_the_output_would_replace_the_original(tmp_path, capsys):
    photo = blank(tmp_path / "x.jpg")
    before = photo.read_bytes()
    for extra in (["--suffix", ""], ["--suffix", "", "-o", str(tmp_path)]):
        assert main(["restore", str(photo), *extra, *NO_NETWORK]) == EXIT_SOME_FAILED
        captured = capsys.readouterr()
        assert "the output would replace the original" in captured.err and "1 failed" in captured.out
    assert photo.read_bytes() == before


def test_a_jpeg_named_png_is_written_as_a_real_png(tmp_path):
    misnamed = blank(tmp_path / "scan.png", fmt="JPEG")
    (result,) = batch([misnamed])
    assert result.output.name == "scan_restored.png"
    with Image.open(result.output) as saved:
        assert saved.format == "PNG"


def test_unreadable_sub_folders_are_reported(tmp_path, monkeypatch, capsys):
    blank(tmp_path / "album" / "1950s" / "a.jpg")
    blank(tmp_path / "album" / "locked" / "b.jpg")
    locked = str(tmp_path / "album" / "locked")
    real_scandir = os.scandir

    def scandir(path="."):  # a folder we may not list (root passes any chmod)
        if os.fspath(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert main(["restore", str(tmp_path / "album"), "--recursive", "-o", str(tmp_path / "out"), *NO_NETWORK]) == EXIT_SOME_FAILED
    captured = capsys.readouterr()
    assert f"{locked}: cannot be read (Permission denied); its photos were left out" in captured.err
    assert "1 without faces" in captured.out and "1 failed" in captured.out


@pytest.mark.parametrize("option", [["--quality", "0"], ["--quality", "101"], ["--quality", "high"], ["--faces", "0"],
                                    ["--faces", "one"], ["--min-face", "-5"]])
def test_bad_option_values_exit_2(tmp_path, option):
    with pytest.raises(SystemExit) as exc:
        main(["restore", str(blank(tmp_path / "x.jpg")), *option])
    assert exc.value.code == EXIT_USAGE


# ----- 4. and 7. faces and models -------------------------------------------------------------------


def test_faces_are_numbered_from_1_and_an_impossible_one_writes_nothing(tiny_weights, tmp_path, group_photo, capsys):
    photo = tmp_path / "family.jpg"
    Image.fromarray(group_photo.pixels).save(photo, quality=92)
    assert main(["restore", str(photo), "--faces", "99", "--model", "tiny"]) == EXIT_SOME_FAILED
    assert "family.jpg has no face 99 (its faces are 1-3); nothing written" in capsys.readouterr().err
    assert not photo.with_name("family_restored.jpg").exists()
    assert main(["restore", str(photo), "--faces", "3", "--model", "tiny", "-v"]) == EXIT_OK  # the corrected run
    out = capsys.readouterr().out
    assert "1 restored (1 face)" in out and "face 3: tiny" in out


def test_an_unknown_model_is_a_bad_command_line(tmp_path, capsys):
    assert main(["restore", str(blank(tmp_path / "x.jpg")), "--model", "nonesuch"]) == EXIT_USAGE
    assert "unknown model 'nonesuch'" in capsys.readouterr().err
    assert written(tmp_path) == ["x.jpg"]


def test_a_model_needing_a_reference_without_one_is_a_bad_command_line(tmp_path, capsys):
    assert main(["restore", str(blank(tmp_path / "x.jpg")), "--model", "gfrnet"]) == EXIT_USAGE
    assert "gfrnet needs a reference photo" in capsys.readouterr().err


def test_a_reference_photo_without_a_face_is_its_own_error_not_a_missing_model(guided_weights, tmp_path, capsys):
    photo = blank(tmp_path / "x.jpg")
    # a smooth picture with no face (BlazeFace finds a weak "face" in some noise images: see detect.py)
    reference = tmp_path / "ref.jpg"
    Image.fromarray(np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (48, 1, 3))).save(reference)
    assert main(["restore", str(photo), "--model", "gfrnet", "--reference", str(reference)]) == EXIT_USAGE
    assert "ref.jpg: no face found in the reference photo" in capsys.readouterr().err
    assert main(["restore", str(photo), "--reference", str(tmp_path / "missing.jpg")]) == EXIT_USAGE


def test_missing_default_weights_are_said_and_no_other_model_stands_in(guided_weights, tmp_path, monkeypatch, capsys):
    """The default's weights gone, GFRNet's present: the message names the default, and neither GFRNet's
    "needs a reference photo" nor a silent restore by the next model in the table."""
    (guided_weights / "tiny.safetensors").unlink()
    photo = blank(tmp_path / "in" / "x.jpg")
    assert main(["restore", str(photo)]) == EXIT_NO_MODEL
    err = capsys.readouterr().err
    assert "the default model, Tiny test net (tiny), cannot be used: tiny.safetensors is missing" in err
    assert "reference" not in err and written(photo.parent) == ["x.jpg"]
