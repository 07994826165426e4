"""Remove scratches in the main window: the open photo's Off / Auto / On and strength, "Show marks", and the brush
that marks damage by hand, wired to the session (`PhotoSession`: "scratches, cracks and dust across the photo").

Finding the marks runs the detector over the whole photo (seconds to a minute) and repairing them fills every
marked tile again, so both run in the window's photo `Job`, with its progress bar and Cancel; a change made while
another job runs waits for it rather than cancelling it. The session then tells the window that the photo under the
faces changed (Change("scratches")): the window composes the preview again, and the faces, restored from the
unrepaired pixels, are to be restored again, as after any change of choices. A brush stroke is one undoable
command (`commands.PaintDamage`) whose do and undo both repair again, on the worker too: a repair rewrites the
photo and composes it again, too long for the GUI thread on a large scan.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import cv2
import numpy as np

from frstudio.core.errors import FRStudioError
from frstudio.core.jobs import CancelToken
from frstudio.core.scratches import ScratchSettings
from frstudio.core.session import DamageStroke, PhotoSession
from frstudio.gui.commands import PaintDamage
from frstudio.gui.images import layer_pixmap, marks_layer
from frstudio.gui.settings import save_settings

DETECTOR_MISSING = ("Remove scratches cannot look for scratches and dust in this installation: its detector is not "
                    "included or cannot be read. You can still mark damage by hand with the brush; everything else "
                    "works as usual.")


@dataclass
class MarksFound:
    """A job event: the photo's marks as a layer for the view (images.marks_layer), None when nothing is marked."""

    layer: np.ndarray | None


@dataclass
class DetectorMissing:
    """A job event: the detector cannot be loaded (its weights are not bundled); `reason` in the engine's words."""

    reason: str


def repair_photo(session: PhotoSession, cancel: CancelToken, detector: bool = True) -> Generator[object, None, None]:
    """On the worker: find the marks when the mode asks for them and they are not known yet (once per photo; not
    when `detector` is False, known to be missing), then repair the photo as the session's settings and strokes
    say. Yields the steps' Progress, a DetectorMissing when the detector cannot be loaded, and the marks found."""
    if detector and session.scratches.mode != "off" and not session.damage_found:
        try:
            session.restorers.damage_network()  # loaded once; a missing detector is said here, not as a failure
        except FRStudioError as exc:
            detector = False
            if not session.strokes:  # nothing to repair: the photo is as with Off, and the choice says so
                session.set_scratches("off")
            yield DetectorMissing(str(exc))
    if detector and session.scratches.mode != "off":
        yield from session.find_damage(cancel)
    else:
        yield from session.apply_scratches()
    yield MarksFound(marks_layer(session.damage_mask()))


def damage_stroke(points: list[tuple[float, float]], width: float, add: bool, size: tuple[int, int]) -> DamageStroke | None:
    """A brush stroke as the session takes it: the pixels that a round brush `width` photo pixels wide covers along
    `points` (photo coordinates, as the view gives them), cut to the photo (`size`: width, height); None when it
    misses the photo."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    r = max(0.5, width / 2)
    x0, y0 = np.maximum(np.floor(pts.min(axis=0) - r).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(axis=0) + r).astype(int) + 1, size)
    if x1 <= x0 or y1 <= y0:
        return None
    patch = np.zeros((y1 - y0, x1 - x0), np.uint8)
    # The view's pixel i spans [i, i + 1), OpenCV's is centred on i; OpenCV takes 4 bits of sub-pixel position.
    local = np.round((pts - (x0, y0) - 0.5) * 16).astype(np.int32)
    cv2.circle(patch, (int(local[0, 0]), int(local[0, 1])), round(r * 16), 1, -1, cv2.LINE_8, 4)  # a click: a dot
    if len(local) > 1:  # OpenCV's thick lines have round ends: a stroke is the brush dragged along the points
        cv2.polylines(patch, [local.reshape(-1, 1, 2)], False, 1, max(1, round(width)), cv2.LINE_8, 4)
    if not patch.any():
        return None
    return DamageStroke(int(x0), int(y0), patch.astype(bool), add)


class ScratchController:
    def __init__(self, window):
        self.window = window
        self.box = window.panel.scratch_box
        self.missing: str | None = None  # why the detector cannot run, once it was found missing
        self._found_missing = False  # by the job now running: its end says so rather than "off"
        self.wanted = False  # a repair asked for while another job ran: done when it ends (window._job_done)
        self.applied = ScratchSettings()  # what the open photo shows: put back when a repair is cancelled
        self._layer: np.ndarray | None = None  # the open photo's marks, for "Show marks"

    def connect(self) -> None:
        """Wire the panel's controls and the brush, then show the remembered choice."""
        b, view = self.box, self.window.compare.main
        b.modeChosen.connect(self.set_mode)
        b.strengthChosen.connect(self.set_strength)
        b.marksToggled.connect(lambda _on: self._show_layer())
        b.brushChosen.connect(self.set_brush)
        b.brushSizeChosen.connect(lambda size: view.set_brush(view.brush, size))
        view.damagePainted.connect(self.paint)
        b.fadedToggled.connect(self.set_faded)
        s = self.window.settings
        b.show_settings(s.scratches, s.scratch_strength)

    def settings(self) -> ScratchSettings:
        """The remembered choice: what a newly opened photo gets."""
        s = self.window.settings
        return ScratchSettings(s.scratches, s.scratch_strength)

    # ---- choices ----------------------------------------------------------------------------------------

    def _choose(self, mode: str | None = None, strength: float | None = None) -> None:
        """Remember a choice, show it, and give it to the open photo (repaired by `request`)."""
        s = self.window.settings
        s.scratches = mode or s.scratches
        s.scratch_strength = s.scratch_strength if strength is None else strength
        save_settings(s)
        self.box.show_settings(s.scratches, s.scratch_strength)
        if self.window.session is not None:
            self.window.session.set_scratches(s.scratches, s.scratch_strength)

    def set_mode(self, mode: str) -> None:
        """Off / Auto / On: the open photo is searched (the first time) and repaired, or shown as scanned."""
        self._choose(mode=mode)
        self.request()

    def set_strength(self, strength: float) -> None:
        """Repairs again from the marks already found: the detector does not run again."""
        self._choose(strength=strength)
        self.request()

    def set_faded(self, on: bool) -> None:
        """Restore faded colours on the open photo, or take them back (frstudio.core.colour): a choice per photo."""
        if self.window.session is not None:
            self.window.session.faded_colours = on
            self.request()

    # ---- repairing ----------------------------------------------------------------------------------------

    def request(self) -> None:
        """Repair the open photo as now chosen: now, or when the running job ends."""
        if self.window.job is not None:
            self.wanted = True
            return
        self.run()

    def run(self) -> None:
        self.wanted = False
        w, session = self.window, self.window.session
        if session is None or w.closing:
            return
        # the remembered choice is the latest one (one made while this photo was opening went to the photo before)
        session.set_scratches(w.settings.scratches, w.settings.scratch_strength)
        untouched = session.photo is session.original and not session.faded_colours
        if session.scratches.mode == "off" and untouched and not (session.damage_found or session.strokes):
            return  # nothing found, painted or repaired: nothing to show
        detector = self.missing is None
        w.start(lambda cancel: repair_photo(session, cancel, detector), self._repaired, "scratches", on_cancel=self._cancelled)

    def _repaired(self, _value) -> None:
        w, session = self.window, self.window.session
        self.applied = session.scratches
        result = session.scratch_result
        found_missing, self._found_missing = self._found_missing, False
        off = session.scratches.mode == "off"
        if result is None:
            if found_missing or (self.missing and not off):
                w.set_status("Scratches and dust cannot be found in this installation: mark them by hand with the brush")
            else:
                w.set_status("Remove scratches is off: the photo is as scanned" if off else "Nothing is marked")
            return
        text = result.describe()
        stale = len(session.stale_faces()) if result.repaired else 0
        if stale:
            text += f"; {stale} face{'s' * (stale != 1)} to restore from the repaired photo — press Restore (Ctrl+R)"
        w.set_status(f"{text[:1].upper()}{text[1:]}")

    def _cancelled(self, _value) -> None:
        """The photo keeps what it showed: the choice goes back to it (repaired again if a repair had begun)."""
        self._choose(self.applied.mode, self.applied.strength)
        self.window.set_status("Cancelled: the photo keeps its earlier result")
        self.request()

    def photo_opened(self) -> None:
        """The open photo's repair is done (or there was none): what it shows is the choice to go back to."""
        self.applied = self.window.session.scratches
        self._found_missing = False  # (said by the message bar as the photo opened)

    # ---- job events ----------------------------------------------------------------------------------------

    def show_event(self, event) -> None:
        """A MarksFound or DetectorMissing from a job that repaired the photo (this one's, or opening a photo)."""
        if isinstance(event, MarksFound):
            self._layer = event.layer
            self._show_layer()
            return
        first = self.missing is None
        self.missing = event.reason
        self._found_missing = True
        self.box.set_missing(event.reason)
        session = self.window.session
        if session is not None:  # the choice follows the photo: back to Off unless marks were painted
            self._choose(session.scratches.mode)
        if first:
            self.window.message.show_message(DETECTOR_MISSING, warning=False)

    def photo_loaded(self) -> None:
        """A newly opened photo: no marks known yet."""
        self._layer = None

    def _show_layer(self) -> None:
        shown = self.box.show_marks.isChecked() and self._layer is not None
        self.window.compare.set_marks(layer_pixmap(self._layer) if shown else None)

    # ---- the brush -----------------------------------------------------------------------------------------

    def set_brush(self, brush: str | None) -> None:
        """"Mark damage" or "Unmark" picked up (drawing a missed face is put away), or put down (None)."""
        w = self.window
        if brush is not None and w.draw_action.isChecked():
            w.draw_action.trigger()  # unchecked: drawing ends
        w.compare.main.set_brush(brush, self.box.brush_size.value())

    def put_brush_away(self) -> None:
        self.box.set_brush(None)
        self.window.compare.main.set_brush(None)

    def paint(self, points: list, width: float, add: bool) -> None:
        """A stroke painted on the photo: one undoable step. Painting asks for a repair, so Off becomes On."""
        w, session = self.window, self.window.session
        stroke = damage_stroke(points, width, add, session.original.size) if session is not None else None
        if stroke is None:  # off the photo: nothing to repair, nothing to undo
            w.compare.main.clear_stroke()
            return
        if session.scratches.mode == "off":
            self._choose(mode="on")  # repaired with the stroke's own repair, just below
        w.undo_stack.push(PaintDamage(session, stroke, lambda: self._repair_after_stroke(session)))

    def _repair_after_stroke(self, session: PhotoSession) -> None:
        if session is self.window.session:  # (the undo history ends with its photo, but be sure)
            self.request()
