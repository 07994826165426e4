"""Start-up from the command line, scripted screenshots, and the settings file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from frstudio.cli import build_parser
from frstudio.gui.options import GuiOptions
from frstudio.gui.settings import SETTINGS_VERSION, ExportPrefs, Settings, load_settings, save_settings, settings_path
from tests.conftest import REPO, SAMPLE


def test_gui_options_on_both_entry_paths(tmp_path):
    parser = build_parser()
    for argv in (["--open", "p.jpg", "--restore", "--screenshot", "s.png"], ["gui", "--open", "p.jpg", "--restore", "--screenshot", "s.png"]):
        options = GuiOptions.from_args(parser.parse_args(argv))
        assert str(options.open) == "p.jpg" and options.restore and str(options.screenshot) == "s.png" and not options.swipe


def test_open_restore_swipe_screenshot_from_the_command_line(tmp_path, settings_dir):
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FRSTUDIO_CONFIG_DIR": str(settings_dir)}
    env.pop("FRSTUDIO_WEIGHTS_DIR", None)  # the shipped default model
    cmd = [sys.executable, "-m", "frstudio", "--open", str(SAMPLE), "--restore", "--swipe", "--screenshot", str(shot)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    image = Image.open(shot)
    assert image.size[0] >= 800 and image.size[1] >= 500
    assert len(np.unique(np.asarray(image.convert("L")))) > 50  # a real picture, not a blank window
    saved = load_settings(settings_dir / "settings.json")
    assert saved.recent_files == [str(SAMPLE.resolve())]


def test_settings_round_trip_and_stay_in_the_test_folder(settings_dir):
    assert settings_path() == settings_dir / "settings.json"
    s = Settings(model="frrnet", strength=0.4, recent_files=["/x/a.jpg"], export=ExportPrefs(format="PNG", comparison=True))
    save_settings(s)
    assert load_settings() == s


def test_bad_settings_files_give_defaults(settings_dir):
    path = settings_dir / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    assert load_settings() == Settings()
    path.write_text(json.dumps({"version": SETTINGS_VERSION + 1, "model": "frrnet"}))
    assert load_settings() == Settings()  # a newer app's file is not guessed at
    path.write_text(json.dumps({"version": 1, "model": 3, "strength": 7, "window_width": "wide", "recent_files": ["a", 5], "export": {"quality": "high", "suffix": "_r"}}))
    s = load_settings()
    assert s.model == "auto" and s.strength == 1.0 and s.window_width == Settings().window_width
    assert s.recent_files == ["a"] and s.export.quality == 95 and s.export.suffix == "_r"
