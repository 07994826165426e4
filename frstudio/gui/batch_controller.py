"""The batch queue's side of the main window: its panel and dock, the batch's own `Job`, and resuming a batch
that quitting interrupted.

A batch runs beside whatever the open photo is doing; the window asks `running` (for `is_busy`) and lends its
message bar, its settings and the bookkeeping of its threads (so quitting waits for the batch too).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog

from frstudio.core.errors import FRStudioError
from frstudio.core.pipeline import RestoreOptions, RestorerCache, expand_inputs, plan_outputs, restore_batch
from frstudio.core.restore import get_spec
from frstudio.core.scratches import ScratchSettings
from frstudio.core.session import AUTO
from frstudio.gui.batch_panel import BatchPanel
from frstudio.gui.export_dialog import export_settings
from frstudio.gui.settings import save_settings
from frstudio.gui.worker import Job

# what each PhotoResult status is called in the batch's summary line
STATUS_WORDS = {"restored": "restored", "skipped": "already done", "no_faces": "without faces", "failed": "failed", "cancelled": "cancelled"}
SCRATCHES_MISSING = ("Remove scratches is not available in this installation (its detector is not included or cannot "
                     "be read): set it to Off in the batch queue to restore the batch without it.")


class BatchController:
    def __init__(self, window, photo_filter: str):
        self.window = window
        self.settings = window.settings
        self.photo_filter = photo_filter
        self.job: Job | None = None
        self.panel = BatchPanel()
        self.dock = QDockWidget("Batch queue", window)
        self.dock.setObjectName("batch")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()

    def connect(self) -> None:
        """Wire the panel's buttons, then show the remembered output folder and options."""
        p = self.panel
        p.startRequested.connect(self.start)
        p.pauseToggled.connect(self.pause)
        p.cancelRequested.connect(self.cancel)
        p.addRequested.connect(self.choose)
        p.outputRequested.connect(self.choose_output)
        p.copy_no_faces.toggled.connect(self._set_copy_no_faces)
        p.scratchesChosen.connect(self._set_scratches)

    def show_settings(self) -> None:
        self.panel.set_output(Path(self.settings.batch_output) if self.settings.batch_output else None)
        self.panel.copy_no_faces.setChecked(self.settings.batch_copy_no_faces)
        self.panel.show_scratches(ScratchSettings(self.settings.batch_scratches, self.settings.batch_scratch_strength))

    @property
    def running(self) -> bool:
        return self.job is not None

    # ---- the queue -----------------------------------------------------------------------------------

    def choose(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Photos to restore", self.settings.last_folder, self.photo_filter)
        if files:
            self.add([Path(f) for f in files])

    def choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Save the restored photos in", self.settings.batch_output or self.settings.last_folder)
        if folder:
            self.set_output(Path(folder))

    def set_output(self, folder: Path | None) -> None:
        self.settings.batch_output = str(folder) if folder else ""
        self.panel.set_output(folder)

    def add(self, paths: list[Path], note: str = "") -> None:
        if self.job is not None:
            self.window.message.show_message("A batch is running: wait for it to finish or cancel it before starting another.", warning=False)
            return
        # as the batch will see them: restored copies from an earlier run are not listed as photos to do
        files = [f for f, _root, _dest in plan_outputs(expand_inputs(paths), self.options())]
        self.panel.set_inputs(paths, files, note)
        if not self.dock.isVisible():  # a quarter of the height: the photo keeps the rest
            self.dock.show()
            height = max(self.panel.minimumSizeHint().height(), self.window.height() // 4)
            self.window.resizeDocks([self.dock], [height], Qt.Orientation.Vertical)
        if not files:
            self.panel.summary.setText("No photos found there.")

    def options(self) -> RestoreOptions:
        """The batch's options: the model, strength and variants of the app, the export settings, the output
        folder and the panel's options (scratch removal among them)."""
        export = export_settings(self.settings.export)
        return RestoreOptions(
            model=self.settings.model,
            strength=self.settings.strength,
            variants=self.settings.variants,
            output_dir=self.panel.output,
            suffix=export.suffix,
            format=export.format,
            quality=export.quality,
            keep_metadata=export.keep_metadata,
            compare=export.comparison,
            detection=self.window.detection_settings(),
            no_faces="copy" if self.panel.copy_no_faces.isChecked() else "skip",
            overwrite=self.panel.redo.isChecked(),
            scratches=self.panel.scratch_settings(),
        )

    def _set_copy_no_faces(self, on: bool) -> None:
        self.settings.batch_copy_no_faces = on
        save_settings(self.settings)

    def _set_scratches(self, scratches: ScratchSettings) -> None:
        self.settings.batch_scratches, self.settings.batch_scratch_strength = scratches.mode, scratches.strength
        save_settings(self.settings)

    # ---- running -------------------------------------------------------------------------------------

    def start(self, paused: bool = False) -> None:
        if self.job is not None or not self.panel.inputs:
            return
        inputs, options = list(self.panel.inputs), self.options()
        model = options.model if options.model != AUTO else None
        if model and get_spec(model).takes_reference:
            self.window.message.show_message(f"The model '{get_spec(model).title}' needs a reference photo per person; choose another model for a batch.")
            return
        if options.scratches.mode != "off" and self.window.scratches.missing:
            self.window.message.show_message(SCRATCHES_MISSING)
            return
        self.settings.pending_batch = [str(p) for p in inputs]
        save_settings(self.settings)

        def work(cancel):
            restorers = RestorerCache()
            if options.scratches.mode != "off":
                try:
                    restorers.damage_network()  # loaded before the first photo: one clear message, not one per photo
                except FRStudioError as exc:
                    raise FRStudioError(f"Remove scratches cannot run: {exc}. Set it to Off in the batch queue to "
                                        "restore the batch without it.") from exc
            return (yield from restore_batch(inputs, options, restorers, cancel))

        job = Job(work, "batch", self.window)
        self.job = job
        self.window.track(job)
        job.progressed.connect(self.panel.show_event)
        job.finished_with.connect(self._done)
        job.failed.connect(lambda text: self._done(None, text))
        job.cancelled.connect(lambda: self._done(None, "Cancelled: finished photos are kept."))
        job.finished.connect(job.deleteLater)
        self.panel.set_running(True)
        if paused:  # queued but waiting for "Continue"
            job.pause()
            self.panel.pause_button.setChecked(True)
        job.start()

    def pause(self, paused: bool) -> None:
        if self.job is not None:
            self.job.pause() if paused else self.job.resume()
            self.panel.set_paused(paused)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _done(self, results, problem: str = "") -> None:
        self.job = None
        panel = self.panel
        panel.set_running(False)
        if self.window.closing:
            return  # stopped by quitting: keep pending_batch so the next start can resume it
        self.settings.pending_batch = []
        save_settings(self.settings)
        if results is not None:
            for r in results:
                panel.show_result(r)
            counts = {}
            for r in results:
                counts[r.status] = counts.get(r.status, 0) + 1
            panel.summary.setText("Done: " + ", ".join(f"{n} {STATUS_WORDS.get(k, k)}" for k, n in counts.items()) + ".")
            for row, status in enumerate(panel.statuses()):  # listed before the output folder changed
                if status == "Waiting":
                    panel.table.item(row, 1).setText("Left out")
                    panel.table.item(row, 2).setText("a restored copy of another photo of this batch")
        else:
            panel.summary.setText(problem)
            # photos the batch did not get to must not look as if they were still coming
            left = "Cancelled" if "Cancelled" in problem else "Not done"
            for row, status in enumerate(panel.statuses()):
                if status in ("Waiting", "Paused") or status.endswith("…"):
                    panel.table.item(row, 1).setText(left)
            if left == "Not done":
                self.window.message.show_message(problem)
        self.window.emit_idle()

    def offer_pending(self) -> None:
        """A batch that quitting interrupted: back in the queue, with a Resume button."""
        inputs = [Path(p) for p in self.settings.pending_batch if Path(p).exists()]
        if inputs:
            self.add(inputs)
            self.panel.offer_resume()
