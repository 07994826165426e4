"""The main window: menus, the compare area, the side panel and the batch queue, wired to a PhotoSession.

Everything slow runs in a `Job` (one for the open photo, one for the batch); the window only turns their events
into labels and pixmaps. Choices go through undoable commands; the session tells the window what changed
(`PhotoSession.observers`), and after a change of choices the photo is recomposed in the background (a
strength change never re-runs a network: the session caches restored faces). The batch queue
(`batch_controller`), reference photos (`reference_controller`) and scratch removal (`scratch_controller`) have
controllers of their own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from frstudio.core.align import TEMPLATE_SIZE, align_face
from frstudio.core.detect import SMALL_FACES_MIN_EYE_DISTANCE, DetectionSettings, small_faces_settings
from frstudio.core.dlib_work import DlibProcess
from frstudio.core.errors import FRStudioError
from frstudio.core.imageio import float_to_uint8
from frstudio.core.jobs import Progress
from frstudio.core.pipeline import IMAGE_SUFFIXES, RestorerCache
from frstudio.core.restore import model_statuses
from frstudio.core.session import Change, ExportSettings, OutputExistsError, PhotoSession
from frstudio.gui.batch_controller import BatchController
from frstudio.gui.commands import AddFace, SetChoice
from frstudio.gui.compare import CompareArea
from frstudio.gui.export_dialog import ExportDialog, export_settings
from frstudio.gui.images import display_copy
from frstudio.gui.reference_controller import ReferenceController
from frstudio.gui.scratch_controller import DetectorMissing, MarksFound, ScratchController, repair_photo
from frstudio.gui.settings import Settings, save_settings
from frstudio.gui.side_panel import SidePanel
from frstudio.gui.status import measurable, progress_words, restored_summary
from frstudio.gui.worker import Job

PHOTO_FILTER = "Photos (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)"
SMALL_FACES_TIP = (
    f"Also look for small faces, down to {SMALL_FACES_MIN_EYE_DISTANCE:g} px between the eyes (group photos): "
    "finding faces is slower and may mark things that are not faces. Applies to the open photo and to batches."
)
DRAW_PROMPT = "Drag a box around the face"


@dataclass
class Loaded:
    """A job event: the photo is decoded (shown before its faces are found)."""

    session: PhotoSession
    display: np.ndarray


@dataclass
class Render:
    """What the views need after a change: the composed photo, its display copy, each face's crops."""

    pixels: np.ndarray | None  # None: nothing restored or repaired, show the original
    display: np.ndarray | None
    crops: dict
    failed: list[int]
    note: str = ""  # what changed beyond the faces (the whole photo relit to match them)


def render(session: PhotoSession, failed: list[int] | None = None) -> Render:
    """Runs on the worker thread: compose, scale for display, cut the crops."""
    pixels = session.preview()
    # The "before" is the photo as opened; the preview differs from it once a face is blended in (a new array) or
    # the photo's scratches are repaired (then `photo` itself is a repaired copy, faces restored or not).
    changed = pixels is not session.original.pixels
    faces = pixels is not session.photo.pixels
    crops = {f.index: session.crops(f.index) for f in session.faces}
    if session.photo is not session.original:  # the strip's before is the scan too, not the repaired photo
        crops = {i: (scanned_crop(session, i), after) for i, (_before, after) in crops.items()}
    note = session.relight_note() if faces else ""
    return Render(pixels if changed else None, display_copy(pixels) if changed else None, crops, failed or [], note)


def scanned_crop(session: PhotoSession, index: int) -> np.ndarray:
    """Face `index` aligned as PhotoSession.crops aligns it, from the photo as opened."""
    return float_to_uint8(align_face(session.original.pixels, session.face(index).landmarks, TEMPLATE_SIZE).image)


class MessageBar(QWidget):
    """An inline message above the photo: plain words, dismissable, never blocking."""

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("✕")
        close.setFlat(True)
        close.setFixedWidth(28)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self.hide()

    def show_message(self, text: str, warning: bool = True) -> None:
        colour = "#5c3d00" if warning else "#1d3d5c"
        self.setStyleSheet(f"MessageBar {{ background: {colour}; }} QLabel {{ color: white; }}")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    idle = Signal()  # no job running and nothing waiting: scripts and tests wait for it
    # (session, Change) from the session's observer; queued to this thread when a worker made the change
    sessionChanged = Signal(object, object)

    def __init__(self, settings: Settings, dlib=None, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("FR Studio")
        self.statuses = [s for s in model_statuses() if s.available]
        # dlib holds the GIL in slow calls (model loading, ~75 ms per descriptor): in a helper process they cannot
        # freeze the window (benchmarks/bench_gui.py measures it).
        self.dlib = dlib or DlibProcess()
        self.restorers = RestorerCache()
        self.session: PhotoSession | None = None
        self.undo_stack = QUndoStack(self)
        self.job: Job | None = None
        self._threads: set[Job] = set()  # every job still running, replaced ones too: quitting waits for them all
        self._recompose_wanted = False
        self._relight_note = ""  # the whole-photo relight the status line last spoke of
        self._summary_shown = False  # the status line holds the restoration summary: said again after each change
        self._status_before_drawing = ""
        self._redetect_wanted = False  # the small-faces option changed while a job ran: find the faces again after it
        self.closing = False
        self.last_export: list[Path] = []
        self._recompose_timer = QTimer(self, singleShot=True, interval=120)
        self._recompose_timer.timeout.connect(self._recompose)

        self.compare = CompareArea()
        self.panel = SidePanel(self.statuses)
        self.message = MessageBar()
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.message)
        column.addWidget(self.compare, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(centre)
        side = QScrollArea()  # the panel scrolls rather than squeezes when the batch queue takes the height
        side.setWidget(self.panel)
        side.setWidgetResizable(True)
        side.setFrameShape(QScrollArea.Shape.NoFrame)
        side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side.setMinimumWidth(self.panel.minimumWidth() + 16)
        side.setMaximumWidth(self.panel.maximumWidth() + 16)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)

        self.batches = BatchController(self, PHOTO_FILTER)
        self.batch, self.batch_dock = self.batches.panel, self.batches.dock
        self.references = ReferenceController(self, PHOTO_FILTER)
        self.scratches = ScratchController(self)

        self.status_text = QLabel("Ready")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

        self._make_actions()
        self._connect()
        self.panel.show_globals(settings.model, settings.strength, settings.variants)
        self.batches.show_settings()
        self.resize(settings.window_width, settings.window_height)
        if settings.maximized:
            self.setWindowState(Qt.WindowState.WindowMaximized)
        self.setAcceptDrops(True)
        if not self.statuses:
            self.message.show_message("No model with trained weights is bundled in this installation: faces can be found but not restored.")
        if settings.pending_batch:
            self.batches.offer_pending()

    # ---- actions and menus -------------------------------------------------------------------------------

    def _action(self, text: str, slot, shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even when the menu bar is hidden (e.g. full screen)
        return action

    def _make_actions(self) -> None:
        a = self._action
        self.open_action = a("&Open Photo…", lambda: self.choose_photo(), QKeySequence.StandardKey.Open)
        self.batch_action = a("Open Photos or Folder as &Batch…", lambda: self.batches.choose(), "Ctrl+Shift+O")
        self.export_action = a("&Export…", lambda: self.export_photo(), QKeySequence.StandardKey.Save)
        self.quit_action = a("&Quit", self.close, QKeySequence.StandardKey.Quit)
        # Not QUndoStack.createUndoAction: that one re-enables itself whenever the stack changes, busy or not.
        self.undo_action = a("&Undo", self.undo_stack.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = a("&Redo", self.undo_stack.redo, QKeySequence.StandardKey.Redo)
        self.draw_action = a("&Draw a Missed Face", self._toggle_drawing, "D", checkable=True, tip="Drag a box around a face the detector missed")
        stack = self.undo_stack
        for signal in (stack.canUndoChanged, stack.canRedoChanged, stack.undoTextChanged, stack.redoTextChanged):
            signal.connect(self._update_edit_actions)
        self._update_edit_actions()
        self.small_faces_action = a("Find &Small Faces (Slower)", self.set_find_small_faces, checkable=True, tip=SMALL_FACES_TIP)
        self.small_faces_action.setToolTip(SMALL_FACES_TIP)
        self.small_faces_action.setChecked(self.settings.find_small_faces)
        self.restore_action = a("&Restore Faces", lambda: self.restore(), "Ctrl+R")
        self.cancel_action = a("&Cancel", self.cancel, "Esc")
        self.mode_actions = {
            "result": a("&Result", lambda: self.set_compare_mode("result"), "Ctrl+1", checkable=True),
            "side": a("&Side by Side", lambda: self.set_compare_mode("side"), "Ctrl+2", checkable=True),
            "swipe": a("S&wipe", lambda: self.set_compare_mode("swipe"), "Ctrl+3", checkable=True),
        }
        self.mode_actions["result"].setChecked(True)
        self.original_action = a("Show &Original", self._toggle_original, "B", checkable=True, tip="Toggle before / after")
        self.fit_action = a("&Fit to Window", self.compare.fit, "Ctrl+0")
        self.faces_action = a("Zoom to &Faces", self.compare.zoom_to_faces, "Ctrl+F")
        self.zoom_in_action = a("Zoom &In", lambda: self.compare.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self.zoom_out_action = a("Zoom &Out", lambda: self.compare.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self.actual_action = a("&Actual Pixels", self.compare.actual_size, "Ctrl+Shift+0")
        self.batch_panel_action = self.batch_dock.toggleViewAction()
        self.batch_panel_action.setShortcut(QKeySequence("Ctrl+B"))

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.batch_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        edit.addAction(self.draw_action)
        edit.addAction(self.small_faces_action)
        view = bar.addMenu("&View")
        for action in self.mode_actions.values():
            view.addAction(action)
        view.addAction(self.original_action)
        view.addSeparator()
        for action in (self.fit_action, self.faces_action, self.zoom_in_action, self.zoom_out_action, self.actual_action):
            view.addAction(action)
        view.addSeparator()
        view.addAction(self.batch_panel_action)
        photo = bar.addMenu("&Photo")
        photo.addAction(self.restore_action)
        photo.addAction(self.cancel_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(a("&About FR Studio", self._about))
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files:
            self.recent_menu.addAction(Path(path).name, lambda p=path: self.open_photo(Path(p))).setStatusTip(path)
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def _connect(self) -> None:
        c, p, r = self.compare, self.panel, self.references
        self.sessionChanged.connect(self._session_changed)
        for view in (c.main, c.left):
            view.faceClicked.connect(self.toggle_face)
            view.boxDrawn.connect(self.add_face)
            view.drawingEnded.connect(self._drawing_ended)
            view.referenceDropped.connect(lambda i, path: r.set(i, Path(path)))
            view.filesDropped.connect(lambda paths: self.open_paths([Path(x) for x in paths]))
        c.faceSelected.connect(self.select_face)
        p.modelChosen.connect(self.set_model_for_all)
        p.strengthChosen.connect(self.set_strength_for_all)
        p.restoreClicked.connect(self.restore)
        p.exportClicked.connect(self.export_photo)
        p.faceSelected.connect(self.select_face)
        p.includeChosen.connect(lambda i, on: self.push([i], "included", on, f"{'Include' if on else 'Exclude'} face {i + 1}"))
        p.faceModelChosen.connect(lambda i, m: self.push([i], "model", m, f"Model of face {i + 1}"))
        p.faceStrengthChosen.connect(lambda i, s, _moving: self.push([i], "strength", s, f"Strength of face {i + 1}"))
        p.referenceRequested.connect(r.choose)
        p.referenceCleared.connect(r.clear)
        p.referenceFolderRequested.connect(r.choose_folder)
        p.learnRequested.connect(r.learn)
        p.variantsChosen.connect(self.set_variants)
        p.faceVariantChosen.connect(lambda i, seed: self.push([i], "variant", seed, f"Variant of face {i + 1}"))
        self.batches.connect()
        self.scratches.connect()

    # ---- jobs ---------------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        waiting = self._recompose_wanted or self._redetect_wanted or self.scratches.wanted or self._recompose_timer.isActive()
        return self.job is not None or waiting or self.batches.running

    def start(self, make, on_done, name: str, on_event=None, on_cancel=None) -> Job:
        """Run `make(cancel)` on a worker thread; `on_done(value)` on this thread when it returns (`on_cancel(None)`
        when it was cancelled, if given)."""
        if self.job is not None:
            self.job.cancel()
        job = Job(make, name, self)
        self.job = job
        self.track(job)

        def current() -> bool:  # a job replaced by a newer one (another photo opened) is ignored
            return self.job is job

        job.progressed.connect(lambda ev: current() and (on_event or self._show_progress)(ev))
        job.finished_with.connect(lambda value: current() and self._job_done(on_done, value))
        job.failed.connect(lambda text: current() and self._job_done(self._job_failed, text))
        cancelled = on_cancel or (lambda _: self.set_status("Cancelled: the photo keeps its earlier result"))
        job.cancelled.connect(lambda: current() and self._job_done(cancelled, None))
        job.finished.connect(job.deleteLater)
        self._set_busy(True)
        job.start()
        return job

    def track(self, job: Job) -> None:
        """Quitting waits for `job` (the photo's or the batch's) to stop."""
        self._threads.add(job)
        job.finished.connect(lambda: self._threads.discard(job))

    def _job_done(self, handler, value) -> None:
        self.job = None
        self._set_busy(False)
        handler(value)
        if self._redetect_wanted:
            self._redetect()
        if self.scratches.wanted:
            self.scratches.run()
        if self._recompose_wanted:
            self._recompose()
        self.emit_idle()

    def _job_failed(self, text: str) -> None:
        self.message.show_message(text)
        self.set_status("Stopped")

    def emit_idle(self) -> None:
        if not self.is_busy():
            self.idle.emit()

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # "busy" until a step reports how far it is
        self.panel.show_session(self.session, busy)
        self.restore_action.setEnabled(not busy)
        self.export_action.setEnabled(not busy and self.session is not None)
        self._update_edit_actions()

    def _update_edit_actions(self, *_) -> None:
        """Undo, redo and drawing a face add or remove faces: a running job (restore, detect, even a recompose)
        reads the session's faces, so they are off until it ends. Choices (include, model, strength) stay
        editable: a job works on a snapshot of them."""
        editable = self.job is None
        stack = self.undo_stack
        self.undo_action.setEnabled(editable and stack.canUndo())
        self.redo_action.setEnabled(editable and stack.canRedo())
        self.undo_action.setText(f"&Undo {stack.undoText()}".rstrip())
        self.redo_action.setText(f"&Redo {stack.redoText()}".rstrip())
        self.draw_action.setEnabled(editable)
        if not editable and self.draw_action.isChecked():
            self.draw_action.setChecked(False)
            self._toggle_drawing(False)

    def set_status(self, text: str, summary: bool = False) -> None:
        self.status_text.setText(text)
        self._summary_shown = summary

    def _show_summary(self) -> None:
        self.set_status(restored_summary(self.session, self._relight_note), summary=True)

    def _show_progress(self, event) -> None:
        if isinstance(event, Loaded):
            self._show_loaded(event)
            return
        if isinstance(event, (MarksFound, DetectorMissing)):
            self.scratches.show_event(event)
            return
        if isinstance(event, Progress):
            self.set_status(progress_words(event))
            if measurable(event):
                self.progress.setRange(0, 1000)
                self.progress.setValue(round(event.fraction * 1000))
            else:
                self.progress.setRange(0, 0)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.set_status("Cancelling…")

    # ---- opening -----------------------------------------------------------------------------------

    def choose_photo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", self.settings.last_folder, PHOTO_FILTER)
        if path:
            self.open_photo(Path(path))

    def open_paths(self, paths: list[Path]) -> None:
        """Dropped or given paths: one photo opens; several, or a folder, go to the batch queue."""
        if len(paths) == 1 and paths[0].is_file():
            self.open_photo(paths[0])
        elif paths:
            self.add_to_batch(paths)

    def open_photo(self, path: Path) -> None:
        path = Path(path)
        self.settings.add_recent(path)
        save_settings(self.settings)
        self._fill_recent()
        self.message.hide()
        defaults, detection = (self.settings.model, self.settings.strength), self.detection_settings()
        variants, scratches, detector = self.settings.variants, self.scratches.settings(), self.scratches.missing is None

        def work(cancel):
            yield Progress("load", 0.05, path=path)
            session = PhotoSession.open(path, restorers=self.restorers, dlib=self.dlib, detection=detection)
            session.defaults.model, session.defaults.strength = defaults
            session.variants = variants
            session.set_scratches(scratches.mode, scratches.strength)
            yield Loaded(session, display_copy(session.original.pixels))
            yield from session.detect()
            if scratches.mode != "off":  # after the faces are found, as a batch does: their eyes and mouths are guarded
                yield from repair_photo(session, cancel, detector)
            return render(session)

        self.start(work, self._show_detected, "open")

    def _show_loaded(self, loaded: Loaded) -> None:
        if self.session is not None:
            self.session.observers.remove(self._observer)
        self.session = loaded.session
        # the session's changes, from any thread, reach _session_changed on this one (queued from a worker)
        self._observer = functools.partial(self.sessionChanged.emit, loaded.session)
        self.session.observers.append(self._observer)
        self.undo_stack.clear()
        self._relight_note = ""
        self.scratches.photo_loaded()
        self.compare.set_photo(loaded.session.original.pixels, loaded.display)  # the "before": the scan as opened
        w, h = loaded.session.photo.size
        self.setWindowTitle(f"{loaded.session.photo.path.name} ({w} × {h}) — FR Studio")

    def _show_detected(self, result: Render) -> None:
        s = self.session
        self.scratches.photo_opened()
        self.compare.set_faces([(f.index, f.box) for f in s.faces])
        self._show_render(result)
        n = len(s.faces)
        repaired = s.scratch_result.describe() + "; " if s.scratch_result is not None else ""
        status = f"{repaired}{n} face{'s' * (n != 1)} found" + (" — press Restore faces (Ctrl+R)" if n else "")
        self.set_status(status[:1].upper() + status[1:])
        if not n:
            self.message.show_message("No face found in this photo. If there is one, draw a box around it: Edit ▸ Draw a Missed Face (D).", warning=False)

    # ---- finding small faces ---------------------------------------------------------------------------

    def detection_settings(self) -> DetectionSettings:
        """How faces are found, for the open photo and for batches."""
        return small_faces_settings() if self.settings.find_small_faces else DetectionSettings()

    def set_find_small_faces(self, on: bool) -> None:
        """Edit ▸ Find Small Faces: remembered, and the open photo's faces are found again with it."""
        self.settings.find_small_faces = bool(on)
        save_settings(self.settings)
        if self.small_faces_action.isChecked() != bool(on):
            self.small_faces_action.setChecked(bool(on))
        if self.session is None and self.job is None:
            self.set_status(("Small faces will be looked for" if on else "Small faces will not be looked for") + " in the photos you open and in batches")
            return
        self._redetect_wanted = True
        self._redetect()  # now, or when the running job ends

    def _redetect(self) -> None:
        if self.job is not None:
            return  # runs when the current job ends (_job_done)
        self._redetect_wanted = False
        if self.session is None or self.closing:
            return  # the photo did not open: the next one is opened with the option as it is now
        session = self.session
        session.detection = self.detection_settings()

        def work(cancel):
            yield from session.detect()
            return render(session)

        self.start(work, self._show_redetected, "detect")

    def _show_redetected(self, result: Render) -> None:
        # Faces are numbered anew (reading order), so the undo history, which names faces by number, ends here.
        self.undo_stack.clear()
        s = self.session
        self.compare.set_faces([(f.index, f.box) for f in s.faces])
        self._show_render(result)
        n, drawn = len(s.faces), sum(f.detector == "manual" for f in s.faces)
        how = "with small faces" if s.detection.min_eye_distance <= SMALL_FACES_MIN_EYE_DISTANCE else "without small faces"
        kept = f" ({drawn} drawn by hand kept)" if drawn else ""
        self.set_status(f"Faces found again {how}: {n} face{'s' * (n != 1)}{kept}")

    # ---- choices -----------------------------------------------------------------------------------

    def _session_changed(self, session: PhotoSession, change: Change) -> None:
        """What the session told its observer: refresh the views, and recompose after a change of choices."""
        if session is self.session:  # not a photo replaced since
            self.choices_changed(recompose=change.choices)

    def push(self, indices: list[int], field: str, value, text: str) -> None:
        if self.session is None or not indices:
            return
        if all(getattr(self.session.choices[i], field) == value for i in indices):
            return
        self.undo_stack.push(SetChoice(self.session, indices, field, value, text))

    def toggle_face(self, index: int) -> None:
        included = self.session.choices[index].included
        self.select_face(index)
        self.push([index], "included", not included, f"{'Exclude' if included else 'Include'} face {index + 1}")

    def select_face(self, index: int) -> None:
        self.panel.current = index
        self.choices_changed(recompose=False)

    def set_model_for_all(self, model: str) -> None:
        self.settings.model = model
        if self.session:
            self.session.defaults.model = model
            label = self.panel.model.currentText()
            self.push([f.index for f in self.session.faces], "model", model, f"Model {label} for all faces")
        self.panel.show_globals(model, self.settings.strength)

    def set_variants(self, count: int) -> None:
        """Restorations per face by a stochastic model: faces it restored become stale (Restore redoes them)."""
        self.settings.variants = count
        if self.session:
            self.session.variants = count  # the session says so: the panel shows the faces to restore again

    def set_strength_for_all(self, strength: float, moving: bool = False) -> None:
        self.settings.strength = strength
        if self.session:
            self.session.defaults.strength = strength
            self.push([f.index for f in self.session.faces], "strength", strength, "Strength of all faces")

    def choices_changed(self, recompose: bool = True) -> None:
        """Refresh the faces and the panel from the session (after each change it reports, and when the selected
        face changes), then, with `recompose`, compose the photo again in the background."""
        s = self.session
        if s is None:
            return
        indices = {f.index for f in s.faces}
        self.compare.set_faces([(f.index, f.box) for f in s.faces]) if set(self.compare.main._faces) != indices else None
        for face in s.faces:
            info = s.info(face.index)
            warning = info.drifted or bool(info.message) or bool(info.reference and info.reference.different_person)
            self.compare.set_face_state(face.index, s.choices[face.index].included, face.index == self.panel.current, warning)
        self.panel.show_session(s, self.job is not None)
        if self._summary_shown:
            self._show_summary()
        if recompose:
            self._recompose_wanted = True
            self._recompose_timer.start()

    def _recompose(self) -> None:
        if self.job is not None or self.session is None or self.closing:
            return  # runs when the current job ends (_job_done)
        self._recompose_wanted = False
        self._recompose_timer.stop()
        session = self.session
        self.start(lambda cancel: render(session), self._show_render, "recompose")

    def _show_render(self, result: Render) -> None:
        self.compare.set_result(result.pixels, result.display)
        self.compare.set_crops(result.crops)
        self.choices_changed(recompose=False)
        if result.note != self._relight_note:  # said once when it starts, and once when it stops
            self.set_status(f"{result.note[0].upper()}{result.note[1:]}" if result.note else "The photo keeps its own light")
            self._relight_note = result.note

    def add_face(self, box: tuple) -> None:
        if self.session is None or self.job is not None:
            return
        try:
            face = self.session.add_face(box)
        except FRStudioError as exc:
            self.message.show_message(str(exc), warning=False)
            return
        self.undo_stack.push(AddFace(self.session, face))
        self.select_face(face.index)
        self.set_status(f"Face {face.index + 1} added — press Restore (Ctrl+R) to restore it")

    def _toggle_drawing(self, on: bool) -> None:
        if on:
            self.scratches.put_brush_away()
        self.compare.set_mode("result") if on and self.compare.mode == "side" else None
        self.compare.main.set_drawing(on)
        if on:
            if self.status_text.text() != DRAW_PROMPT:
                self._status_before_drawing = self.status_text.text()
            self.set_status(DRAW_PROMPT)
        elif self.status_text.text() == DRAW_PROMPT:  # left without drawing: what it said before
            self.set_status(self._status_before_drawing)

    def _drawing_ended(self) -> None:
        self.draw_action.setChecked(False)
        self._toggle_drawing(False)

    # ---- references (ReferenceController) --------------------------------------------------------------

    def set_reference(self, index: int, path: Path) -> None:
        self.references.set(index, path)

    def match_reference_folder(self, folder: Path) -> None:
        self.references.match_folder(folder)

    # ---- restoring and exporting ---------------------------------------------------------------------

    def restore(self) -> None:
        if self.session is None or self.job is not None:
            return
        if not self.session.faces:
            self.message.show_message("There is no face to restore. Draw a box around a face: Edit ▸ Draw a Missed Face (D).", warning=False)
            return
        session = self.session

        def work(cancel):
            failed = yield from session.restore(cancel)
            yield Progress("blend", 0.98)
            return render(session, failed)

        self.start(work, self._show_restored, "restore")

    def _show_restored(self, result: Render) -> None:
        self._show_render(result)
        if self.compare.show_original:
            self.original_action.setChecked(False)
            self._toggle_original(False)
        s = self.session
        if result.failed:
            reasons = sorted({s.info(i).message for i in result.failed})
            faces = ", ".join(str(i + 1) for i in result.failed)
            self.message.show_message(f"Face {faces} kept as it was: " + "; ".join(reasons))
        self._show_summary()

    def export_photo(self, settings: ExportSettings | None = None) -> None:
        if self.session is None or self.job is not None:
            return
        if settings is None:
            dialog = ExportDialog(self.settings.export, self.session.photo.path, self)
            if dialog.exec() != ExportDialog.DialogCode.Accepted:
                return
            self.settings.export = dialog.prefs()
            save_settings(self.settings)
            settings = export_settings(self.settings.export)
        s = self.session
        repaired = s.scratch_result is not None and s.scratch_result.repaired
        if not repaired and not any(s.choices[f.index].included and s.info(f.index).restored for f in s.faces):
            # nothing restored: the "restored" photo would be a plain copy, saved only when asked for
            why = "no face was found in it" if not s.faces else "no face of it is restored yet"
            if not self.ask(f"Nothing was restored in this photo ({why}). Save an unchanged copy anyway?"):
                self.set_status("No faces restored: not copied")
                return
            settings = replace(settings, comparison=False)  # before and after would be the same picture
        self._export(settings, overwrite=False)

    def _export(self, settings: ExportSettings, overwrite: bool) -> None:
        session = self.session

        def work(cancel):
            try:
                return session.export(settings, overwrite=overwrite)
            except OutputExistsError as exc:
                return exc

        def done(result) -> None:
            if isinstance(result, OutputExistsError):
                if self.ask(f"{result.path.name} already exists in {result.path.parent}. Replace it?"):
                    self._export(settings, overwrite=True)
                return
            self.set_status("Saved " + ", ".join(p.name for p in result))
            self.last_export = result

        self.start(work, done, "export")

    def ask(self, question: str) -> bool:
        """A yes/no question (tests replace this)."""
        answer = QMessageBox.question(self, "FR Studio", question)
        return answer == QMessageBox.StandardButton.Yes

    # ---- compare -------------------------------------------------------------------------------------

    def set_compare_mode(self, mode: str) -> None:
        for name, action in self.mode_actions.items():
            action.setChecked(name == mode)
        if self.compare.show_original:
            self.original_action.setChecked(False)
            self.compare.show_original = False
        self.compare.set_mode(mode)

    def _toggle_original(self, on: bool) -> None:
        if on:
            for name, action in self.mode_actions.items():
                action.setChecked(name == "result")
        self.compare.set_show_original(on)

    # ---- batch (BatchController) -----------------------------------------------------------------------

    @property
    def batch_job(self) -> Job | None:
        return self.batches.job

    def add_to_batch(self, paths: list[Path], note: str = "") -> None:
        self.batches.add(paths, note)

    def set_batch_output(self, folder: Path | None) -> None:
        self.batches.set_output(folder)

    def start_batch(self, paused: bool = False) -> None:
        self.batches.start(paused)

    # ---- window ---------------------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def closeEvent(self, event) -> None:
        self.closing = True
        self.settings.maximized = self.isMaximized()
        if not self.isMaximized():
            self.settings.window_width, self.settings.window_height = self.width(), self.height()
        save_settings(self.settings)  # an unfinished batch stays in pending_batch: the next start offers to resume it
        self._recompose_timer.stop()
        for job in list(self._threads):
            job.cancel()
        for job in list(self._threads):
            job.wait(30_000)
        if isinstance(self.dlib, DlibProcess):
            self.dlib.close()
        super().closeEvent(event)

    def _about(self) -> None:
        from frstudio import __version__
        from frstudio.gui.about import about_html

        QMessageBox.about(self, "About FR Studio", about_html(__version__))

