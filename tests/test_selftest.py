"""`frstudio --self-test` (unfrozen: the smoke test runs it in the installed, frozen app), and `frstudio PHOTO`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from frstudio.cli import build_parser, main, photo_as_open
from frstudio.core.paths import weights_dir
from frstudio.gui.options import GuiOptions


def test_self_test_restores_the_sample_with_the_shipped_models(monkeypatch, capsys):
    monkeypatch.delenv("FRSTUDIO_WEIGHTS_DIR", raising=False)
    assert main(["--self-test"]) == 0
    printed = capsys.readouterr().out
    for step in ("models loaded: frrnet", "dlib helper process: 1 face(s)", "models run", "photo restored", "the rest untouched"):
        assert step in printed, printed
    assert "self-test passed" in printed and "FAIL" not in printed


def test_self_test_fails_on_a_corrupt_weights_file(tmp_path, monkeypatch, capsys):
    for path in weights_dir().iterdir():
        shutil.copy(path, tmp_path / path.name)
    frrnet = tmp_path / "frrnet.safetensors"
    frrnet.write_bytes(frrnet.read_bytes()[:-1] + b"\0")
    monkeypatch.setenv("FRSTUDIO_WEIGHTS_DIR", str(tmp_path))
    assert main(["--self-test"]) == 1
    printed = capsys.readouterr().out
    assert "corrupt" in printed and "self-test FAILED" in printed


def test_a_photo_path_alone_opens_the_app_on_it(tmp_path):
    scan = tmp_path / "scan 1961"  # an existing file is taken for a photo whatever its name
    scan.write_bytes(b"")
    assert photo_as_open(["old photo.JPG"]) == ["--open", "old photo.JPG"]
    assert photo_as_open([str(scan), "--restore"]) == ["--open", str(scan), "--restore"]
    for argv in ([], ["restore", "a.jpg"], ["gui", "--open", "a.jpg"], ["--open", "a.jpg"], ["detect", "a.jpg"], ["restor"]):
        assert photo_as_open(argv) == argv  # commands, options and typos are left to the parser
    options = GuiOptions.from_args(build_parser().parse_args(photo_as_open(["old photo.jpg"])))
    assert options.open == Path("old photo.jpg") and not options.restore


def test_a_frozen_app_reads_resources_and_dlib_models_from_its_bundle(tmp_path, monkeypatch):
    from frstudio.core.detect import dlib_models_dir
    from frstudio.core.paths import resources_dir

    monkeypatch.delenv("FRSTUDIO_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)  # what PyInstaller's bootloader sets
    assert resources_dir() == tmp_path / "resources" and weights_dir() == tmp_path / "resources" / "weights"
    assert dlib_models_dir() == tmp_path / "face_recognition_models" / "models"  # installers/frstudio.spec's layout
