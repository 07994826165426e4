"""The batch queue: many photos or folders restored with the current settings, one row per photo.

The engine's `restore_batch` does the work (bad files are reported and skipped; finished outputs are not
redone), so pausing is waiting between events, and resuming after a restart is running the same batch again.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from frstudio.core.pipeline import BatchEvent, PhotoResult
from frstudio.core.scratches import ScratchSettings
from frstudio.gui.scratch_box import DESCRIPTION, mode_combo, set_mode

STATUS_WORDS = {
    "restored": "Restored",
    "no_faces": "No face found",
    "skipped": "Already done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
STAGE_WORDS = {"load": "Opening", "scratches": "Removing scratches", "detect": "Finding faces", "restore": "Restoring", "blend": "Blending", "save": "Saving", "done": "Saving"}
PAUSED = "Paused"
OUTPUT_BUTTON_WIDTH = 280  # px: a long folder is shortened in the middle (whole in the tooltip), never widens the window


class BatchPanel(QWidget):
    startRequested = Signal()
    pauseToggled = Signal(bool)
    cancelRequested = Signal()
    addRequested = Signal()
    outputRequested = Signal()
    scratchesChosen = Signal(object)  # ScratchSettings

    def __init__(self, parent=None):
        super().__init__(parent)
        self.inputs: list[Path] = []
        self.paused = False
        self.output: Path | None = None
        self._rows: dict[str, int] = {}
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.summary = QLabel("Drop photos or folders here, or add them.")
        self.summary.setWordWrap(True)  # a long line must not set the window's minimum width
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m photos")
        self.progress.setMaximumWidth(260)
        top.addWidget(self.summary, 1)
        top.addWidget(self.progress)
        layout.addLayout(top)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Photo", "Status", "Message"])
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(self.table.verticalHeader().defaultSectionSize() * 3)
        layout.addWidget(self.table, 1)
        options = QHBoxLayout()
        self.copy_no_faces = QCheckBox("Copy photos without faces")
        self.copy_no_faces.setToolTip("Save an unchanged copy of a photo in which no face is found. "
                                      "Off: it is listed as 'No faces: not copied' and nothing is written.")
        self.redo = QCheckBox("Redo finished photos")
        self.redo.setToolTip("Restore again the photos whose restored copy already exists, and replace it. "
                             "Off: they are skipped as already done (an interrupted batch goes on where it stopped).")
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add photos…")
        self.add_button.clicked.connect(self.addRequested)
        self.output_button = QPushButton("Save to: next to each photo")
        self.output_button.setToolTip("Where the restored photos go")
        self.output_button.clicked.connect(self.outputRequested)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.startRequested)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.open_button = QPushButton("Open output folder")
        self.open_button.clicked.connect(self.open_output)
        # The batch's own Remove scratches: the open photo's choice (side panel) is not changed by it, nor it by that.
        self.scratches_label = QLabel("Remove scratches")
        self.scratches = mode_combo()
        self.scratches.setToolTip(DESCRIPTION)
        self.scratch_strength = QSpinBox()
        self.scratch_strength.setRange(0, 100)
        self.scratch_strength.setSuffix(" %")
        self.scratch_strength.setPrefix("strength ")
        self.scratch_strength.setToolTip("Stronger also finds fainter lines; weaker only the clearest marks")
        self.scratches.currentIndexChanged.connect(lambda _: self._scratches_changed())
        self.scratch_strength.valueChanged.connect(lambda _: self._scratches_changed())
        for w in (self.add_button, self.output_button, self.copy_no_faces, self.redo):
            options.addWidget(w)
        options.addStretch(1)
        layout.addLayout(options)
        for w in (self.scratches_label, self.scratches, self.scratch_strength):
            buttons.addWidget(w)
        buttons.addStretch(1)
        for b in (self.start_button, self.pause_button, self.cancel_button, self.open_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.set_running(False)

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Continue" if paused else "Pause")
        self.pauseToggled.emit(paused)

    def set_output(self, folder: Path | None) -> None:
        self.output = folder
        text = f"Save to: {folder}" if folder else "Save to: next to each photo"
        metrics = self.output_button.fontMetrics()
        self.output_button.setText(metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, OUTPUT_BUTTON_WIDTH))
        self.output_button.setToolTip(f"{text}\nWhere the restored photos go")

    def scratch_settings(self) -> ScratchSettings:
        return ScratchSettings(self.scratches.currentData(), self.scratch_strength.value() / 100)

    def show_scratches(self, settings: ScratchSettings) -> None:
        self.blockSignals(True)
        set_mode(self.scratches, settings.mode)
        self.scratch_strength.setValue(round(settings.strength * 100))
        self.blockSignals(False)
        self.scratch_strength.setEnabled(not self.running and settings.mode != "off")

    def _scratches_changed(self) -> None:
        self.scratch_strength.setEnabled(not self.running and self.scratches.currentData() != "off")
        if not self.signalsBlocked():
            self.scratchesChosen.emit(self.scratch_settings())

    def set_running(self, running: bool) -> None:
        self.running = running
        if not running:
            self.paused = False
            self.start_button.setText("Start")  # "Resume" was for one unfinished batch only
        self.start_button.setEnabled(not running and bool(self.inputs))
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        for w in (self.add_button, self.output_button, self.copy_no_faces, self.redo, self.scratches):
            w.setEnabled(not running)
        self.scratch_strength.setEnabled(not running and self.scratches.currentData() != "off")
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)

    def set_inputs(self, inputs: list[Path], files: list[Path], note: str = "") -> None:
        """The queue's inputs (as given: files and folders) and the photo files they expand to."""
        self.inputs = list(inputs)
        self.table.setRowCount(0)
        self._rows = {}
        for path in files:
            self._add_row(path, "Waiting", "")
        self.progress.setRange(0, max(1, len(files)))
        self.progress.setValue(0)
        self.summary.setText(note or f"{len(files)} photo{'s' * (len(files) != 1)} in the queue.")
        self.set_running(False)

    def offer_resume(self) -> None:
        """The queue is a batch interrupted last time: Start goes on with it."""
        self.start_button.setText("Resume")
        self.summary.setText("An unfinished batch from last time: press Resume to go on (finished photos are not redone).")

    def set_paused(self, paused: bool) -> None:
        """The photo being worked on waits with the batch: its row says so, not the step it stopped before."""
        self.paused = paused
        for row, status in enumerate(self.statuses()):
            if paused and status.endswith("…"):
                self.table.item(row, 1).setText(PAUSED)
            elif not paused and status == PAUSED:
                self.table.item(row, 1).setText("Continuing…")
        self.summary.setText("Paused after the current face. Quit now and the batch resumes next time." if paused else "Continuing…")

    def _add_row(self, path: Path, status: str, message: str) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        name = QTableWidgetItem(Path(path).name)
        name.setToolTip(str(path))
        self.table.setItem(row, 0, name)
        self.table.setItem(row, 1, QTableWidgetItem(status))
        self.table.setItem(row, 2, QTableWidgetItem(message))
        self._rows[str(Path(path).resolve())] = row
        return row

    def _row_for(self, path: Path) -> int:
        key = str(Path(path).resolve())
        return self._rows[key] if key in self._rows else self._add_row(path, "", "")

    def show_event(self, event: BatchEvent) -> None:
        self.progress.setRange(0, max(1, event.total))
        if event.result is not None:
            self.show_result(event.result)
            self.progress.setValue(event.index + 1)
            self.summary.setText(f"{event.index + 1} of {event.total} photos done.")
        elif event.progress is not None and event.progress.path is not None:
            p = event.progress
            words = STAGE_WORDS.get(p.stage, p.stage)
            if p.stage == "restore" and p.faces:
                words += f" face {min(p.face + 1, p.faces)} of {p.faces}"  # p.face: faces done so far
            # pausing takes effect after the current face: a step reported after it is where the photo waits
            self.table.item(self._row_for(p.path), 1).setText(PAUSED if self.paused else words + "…")
            self.summary.setText(f"Photo {event.index + 1} of {event.total}: {p.path.name}")

    def show_result(self, result: PhotoResult) -> None:
        row = self._row_for(result.source)
        status = STATUS_WORDS.get(result.status, result.status)
        if result.status == "no_faces":
            status = "No faces: copied" if result.output else "No faces: not copied"
        self.table.item(row, 1).setText(status)
        message = result.message or (f"→ {result.output.name}" if result.output else "")
        self.table.item(row, 2).setText(message)
        self.table.item(row, 2).setToolTip(message)
        if result.status == "failed":
            for col in range(3):
                self.table.item(row, col).setForeground(Qt.GlobalColor.red)

    def statuses(self) -> list[str]:
        return [self.table.item(r, 1).text() for r in range(self.table.rowCount())]

    def output_folder(self) -> Path | None:
        if self.output:
            return self.output
        if self.inputs:
            first = self.inputs[0]
            return first if first.is_dir() else first.parent
        return None

    def open_output(self) -> None:
        folder = self.output_folder()
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
