"""Fixtures for the desktop app's tests: the real window, settings in a temporary folder (never the user's),
the tiny test network as the model, identity descriptors computed in-process (no helper process to spawn)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


@pytest.fixture(autouse=True)
def settings_dir(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("FRSTUDIO_CONFIG_DIR", str(folder))
    monkeypatch.setenv("FRSTUDIO_CACHE_DIR", str(tmp_path / "cache"))  # reference-library indexes
    return folder


@pytest.fixture
def make_window(qtbot, tiny_weights):
    from frstudio.core.dlib_work import DlibInProcess
    from frstudio.gui.main_window import MainWindow
    from frstudio.gui.settings import Settings, load_settings

    def make(settings: Settings | None = None):
        settings = settings or load_settings()
        if settings.model == "auto":
            settings.model = "tiny"
        window = MainWindow(settings, dlib=DlibInProcess())
        qtbot.addWidget(window)
        window.resize(1100, 760)
        window.show()
        return window

    return make


@pytest.fixture
def window(make_window):
    return make_window()


def wait_idle(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=timeout)
