"""Starting the desktop app: `frstudio`, `frstudio gui`, or `python -m frstudio`.

The window is shown before anything heavy is imported: torch is loaded by the first restoration (or by a
background warm-up once the window is up), so the window appears in well under the 3 s target.
`--open PHOTO [--restore] [--swipe] [--batch PATH...] --screenshot OUT.png` scripts the app: it does those
steps in order, waits for each to finish, saves a picture of the window and quits (README pictures,
start-up checks).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from frstudio.core.errors import FRStudioError, PhotoError
from frstudio.core.files import atomic_write
from frstudio.core.paths import resources_dir
from frstudio.gui.options import GuiOptions, parse_gui_args

SCRIPT_TIMEOUT_S = 300


def _warm_up(dlib) -> None:
    """Load torch and start dlib's helper process while the user looks at the photo (a background thread:
    Python's import lock is per module, so the GUI thread keeps running)."""
    try:
        import torch  # noqa: F401

        if hasattr(dlib, "warm_up"):
            dlib.warm_up()
    except Exception:  # noqa: BLE001 - only a head start; the real call reports its own errors
        pass


class Script:
    """Runs the scripted steps of GuiOptions one after another, each once the window is idle."""

    def __init__(self, window, options: GuiOptions, app):
        self.window, self.options, self.app = window, options, app
        self.steps = []
        if options.open:
            self.steps.append(lambda: window.open_photo(options.open))
        if options.restore:
            self.steps.append(window.restore)
        if options.swipe:
            self.steps.append(self._swipe)
        if options.batch:
            self.steps.append(self._batch)
        self.steps.append(self._finish)
        self.exit_code = 0
        self.started = time.monotonic()
        self.timer = QTimer(interval=50)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _swipe(self) -> None:
        self.window.set_compare_mode("swipe")
        self.window.compare.zoom_to_faces()

    def _batch(self) -> None:
        if self.options.output:
            self.window.set_batch_output(self.options.output)
        self.window.add_to_batch(self.options.batch)
        self.window.start_batch()

    def _tick(self) -> None:
        if time.monotonic() - self.started > SCRIPT_TIMEOUT_S:
            print("frstudio: the scripted steps did not finish in time", file=sys.stderr)
            self.exit_code = 1
            self.steps = [self._finish]
        if self.window.is_busy() or not self.steps:
            return
        self.steps.pop(0)()

    def _finish(self) -> None:
        self.timer.stop()
        if self.options.screenshot:
            self.app.processEvents()
            out = Path(self.options.screenshot)
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                save_picture(self.window.grab(), out)
            except FRStudioError as exc:
                print(f"frstudio: cannot write {out}: {exc}", file=sys.stderr)
                self.exit_code = 1
            self.window.close()
            self.app.exit(self.exit_code)


def save_picture(pixmap, out: Path) -> None:
    """Save a picture of the window atomically (`frstudio.core.files.atomic_write`), in the format its
    extension names (PNG without one)."""

    def write(temp: Path) -> None:
        if not pixmap.save(str(temp), (out.suffix[1:] or "png").upper()):
            raise PhotoError(f"Qt cannot save a {out.suffix or 'PNG'} picture")

    atomic_write(out, write)


def app_icon() -> QIcon:
    """The project's icon (drawn by installers/make_icon.py) at every size, for windows and the task bar."""
    icon = QIcon()
    for path in sorted((resources_dir() / "icons").glob("frstudio-*.png")):
        icon.addFile(str(path))
    return icon


def run(argv: list[str] | None = None, options: GuiOptions | None = None) -> int:
    options = options or parse_gui_args(argv)
    from frstudio.gui.main_window import MainWindow
    from frstudio.gui.settings import load_settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("FR Studio")
    app.setOrganizationName("FR Studio")
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("frstudio")  # ties the windows to frstudio.desktop (its icon) on Wayland and X11
    window = MainWindow(load_settings())
    window.show()
    if os.environ.get("FRSTUDIO_REPORT_SHOWN"):  # benchmarks/bench_gui.py: wall-clock time the window is up
        QTimer.singleShot(0, lambda: print(f"window-shown {time.time():.3f}", flush=True))
    QTimer.singleShot(200, lambda: threading.Thread(target=_warm_up, args=(window.dlib,), daemon=True).start())
    script = Script(window, options, app) if (options.open or options.batch or options.screenshot) else None
    code = app.exec()
    return script.exit_code if script else code
