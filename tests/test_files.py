"""frstudio.core.files: the one atomic-write helper, and the clean-up of temp files a killed writer left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from frstudio.core import files
from frstudio.core.errors import PhotoError
from frstudio.core.files import atomic_write, atomic_write_bytes, remove_stale_temp_files


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def aged(path: Path, seconds: float) -> Path:
    path.write_bytes(b"half a photo")
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_every_writer_uses_the_one_helper():
    """Photos, extras, settings and the reference index all go through files.atomic_write."""
    import frstudio.core.imageio as imageio
    import frstudio.core.references as references
    import frstudio.gui.settings as settings

    assert imageio.atomic_write is atomic_write
    for module in (imageio, references, settings):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert "os.replace" not in source and "NamedTemporaryFile" not in source, module.__name__


def test_bytes_written_short_are_an_error(tmp_path, monkeypatch):
    dest = tmp_path / "settings.json"
    dest.write_text("{}")
    monkeypatch.setattr(Path, "write_bytes", lambda self, data: Path.write_text(self, data[:5].decode()))
    with pytest.raises(PhotoError, match="written short"):
        atomic_write_bytes(dest, b'{"version": 3}')
    assert dest.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_settings_are_written_by_the_helper(tmp_path, monkeypatch):
    from frstudio.gui.settings import Settings, load_settings, save_settings

    seen = []
    real = files.atomic_write
    monkeypatch.setattr(files, "atomic_write", lambda dest, write, check=None: seen.append(dest) or real(dest, write, check))
    save_settings(Settings(strength=0.5), tmp_path / "settings.json")
    assert seen == [tmp_path / "settings.json"] and load_settings(tmp_path / "settings.json").strength == 0.5


def test_temp_names_carry_the_pid_and_stay_short(tmp_path):
    seen = []
    long_name = "é" * 120 + ".png"  # 244 bytes: the temp name must not outgrow the 255-byte limit
    atomic_write(tmp_path / long_name, lambda p: seen.append(p.name) or p.write_bytes(b"x"))
    assert f".{os.getpid()}-" in seen[0] and len(seen[0].encode()) < 255
    assert files._TEMP_NAME.match(seen[0])


def test_only_our_stale_temp_files_are_removed(tmp_path):
    pid = dead_pid()
    dead = aged(tmp_path / f".a_restored.jpg.{pid}-0123abcd.part", 60)  # its writer was killed
    old = aged(tmp_path / ".b_restored.jpg.89abcdef.part", files.STALE_AFTER_S + 60)  # an older version's, long idle
    live = aged(tmp_path / f".c_restored.jpg.{os.getpid()}-0123abcd.part", 60)  # its writer is still running
    young = aged(tmp_path / ".d_restored.jpg.0123abcd.part", 60)  # no pid, recent: may still be written
    just_killed = aged(tmp_path / f".e_restored.jpg.{pid}-0123abcd.part", 1)
    not_ours = [aged(tmp_path / name, 3600 * 24) for name in (".notes.part", "photo.jpg.part", ".hidden.jpg", "x.12345678.part")]
    removed = remove_stale_temp_files(tmp_path)
    assert sorted(removed) == sorted([dead, old])
    assert all(p.exists() for p in [live, young, just_killed, *not_ours])
    assert remove_stale_temp_files(tmp_path / "missing") == []
