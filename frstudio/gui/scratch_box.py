"""The side panel's "Whole photo" group: Remove scratches (Off / Auto / On) and its strength, "Show marks", and a
brush that marks damage by hand or takes a mark away.

Like the side panel, it shows what it is given and reports what the user asks for through signals; the window's
`ScratchController` changes the session and repairs the photo.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from frstudio.core.scratches import AUTO_MIN_SHARE, AUTO_SURE, DEFAULT_MODE, DEFAULT_STRENGTH, threshold_for
from frstudio.gui.disclosure import add_details, wrapping
from frstudio.core.session import PhotoSession

DESCRIPTION = "Finds scratches, cracks and dust across the whole photo and fills them in."
MISSING = "Finding them is not available in this installation; you can still mark damage by hand with the brush."
MODE_WORDS = (
    ("off", "Off", "Leave the photo as it is"),
    ("auto", "Auto", "Repair the photo only when it shows scratches or dust"),
    ("on", "On", "Repair whatever looks like a scratch or dust"),
)
BRUSH_SIZES = (2, 200)  # photo pixels
DEFAULT_BRUSH = 12


def mode_combo() -> QComboBox:
    """Off / Auto / On, the mode's name as item data (also used by the batch panel)."""
    combo = QComboBox()
    for mode, label, tip in MODE_WORDS:
        combo.addItem(label, mode)
        combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
    return combo


def set_mode(combo: QComboBox, mode: str) -> None:
    combo.blockSignals(True)
    combo.setCurrentIndex(max(0, combo.findData(mode)))
    combo.blockSignals(False)


def strength_details(strength: float) -> str:
    """What the strength means, in numbers, for the "Details" disclosure."""
    sure = round(threshold_for(strength) * 100)
    return (f"At {round(strength * 100)} % strength a spot is taken for a mark when the detector is more than {sure} % "
            f"sure of it; stronger also takes fainter lines. Auto repairs a photo only when marks it is more than "
            f"{round(AUTO_SURE * 100)} % sure of cover at least {AUTO_MIN_SHARE * 100:.1f} % of it. Specks inside "
            "eyes and mouths are left to the face restoration. Marks you paint are always repaired.")


class ScratchBox(QGroupBox):
    modeChosen = Signal(str)
    strengthChosen = Signal(float)  # when the slider is let go (or moved by the keyboard)
    marksToggled = Signal(bool)
    brushChosen = Signal(object)  # "mark", "unmark" or None (pan and click as usual)
    brushSizeChosen = Signal(int)
    fadedToggled = Signal(bool)

    def __init__(self, parent=None):
        super().__init__("Whole photo", parent)
        form = QFormLayout(self)
        self.mode = mode_combo()
        self.mode.currentIndexChanged.connect(lambda _: self.modeChosen.emit(self.mode.currentData()))
        form.addRow("Remove scratches", self.mode)
        self.description = wrapping(DESCRIPTION)
        form.addRow(self.description)

        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 100)
        self.strength.setToolTip("Stronger also finds fainter lines; weaker only the clearest marks")
        self.strength_label = QLabel()
        self.strength_label.setMinimumWidth(42)
        # Each change repairs the photo again (on the worker): on release, not at every step of a drag.
        self.strength.valueChanged.connect(self._strength_moved)
        self.strength.sliderReleased.connect(lambda: self.strengthChosen.emit(self.strength.value() / 100))
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.strength, 1)
        line.addWidget(self.strength_label)
        form.addRow("Strength", row)

        self.show_marks = QCheckBox("Show marks")
        self.show_marks.setToolTip("Colour in red what is taken for scratches and dust")
        self.show_marks.toggled.connect(self.marksToggled)
        form.addRow(self.show_marks)

        self.mark_button = self._brush_button("Mark damage", "Paint over a scratch or spot that was missed: it is filled in")
        self.unmark_button = self._brush_button("Unmark", "Paint over something that is not damage: it is kept as it is")
        self.brush_size = QSpinBox()
        self.brush_size.setRange(*BRUSH_SIZES)
        self.brush_size.setValue(DEFAULT_BRUSH)
        self.brush_size.setSuffix(" px")
        self.brush_size.setToolTip("Brush width, in pixels of the photo")
        self.brush_size.valueChanged.connect(self.brushSizeChosen)
        brushes = QHBoxLayout()  # the whole width: beside the form's labels the buttons' words did not fit
        brushes.addWidget(self.mark_button)
        brushes.addWidget(self.unmark_button)
        brushes.addStretch(1)
        brushes.addWidget(QLabel("Brush"))
        brushes.addWidget(self.brush_size)
        form.addRow(brushes)

        self.faded = QCheckBox("Restore faded colours")
        self.faded.setToolTip("Brings back the contrast and colours of a faded print. Only for faded photos: it also "
                              "changes the colours of photos that did not fade")
        self.faded.toggled.connect(self.fadedToggled)
        form.addRow(self.faded)

        self.result = wrapping()  # what was done to the open photo (ScratchResult.describe)
        self.result.setObjectName("scratchResult")
        form.addRow(self.result)
        self._form = form
        self.details_button, self.details = add_details(form)
        self.show_settings(DEFAULT_MODE, DEFAULT_STRENGTH)
        self.show_session(None)

    def _brush_button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(True)
        button.toggled.connect(lambda on, b=button: self._brush_toggled(b, on))
        return button

    def _brush_toggled(self, button: QToolButton, on: bool) -> None:
        # one brush at a time, or none; unlike a QButtonGroup, the checked one can be clicked off
        other = self.unmark_button if button is self.mark_button else self.mark_button
        if on and other.isChecked():
            other.blockSignals(True)
            other.setChecked(False)
            other.blockSignals(False)
        self.brushChosen.emit(self.brush())

    def brush(self) -> str | None:
        return "mark" if self.mark_button.isChecked() else "unmark" if self.unmark_button.isChecked() else None

    def set_brush(self, brush: str | None) -> None:
        """Show `brush` as the one in use, without reporting it (e.g. put away while a face is drawn)."""
        for button, name in ((self.mark_button, "mark"), (self.unmark_button, "unmark")):
            button.blockSignals(True)
            button.setChecked(brush == name)
            button.blockSignals(False)

    def _strength_moved(self, value: int) -> None:
        self.strength_label.setText(f"{value} %")
        self.details.setText(strength_details(value / 100))
        if not self.signalsBlocked() and not self.strength.isSliderDown():  # the keyboard, or a click on the groove
            self.strengthChosen.emit(value / 100)

    # ---- showing what is chosen and done ----------------------------------------------------------------

    def show_settings(self, mode: str, strength: float) -> None:
        self.blockSignals(True)
        set_mode(self.mode, mode)
        self.strength.setValue(round(strength * 100))
        self._strength_moved(self.strength.value())
        self.blockSignals(False)
        self.strength.setEnabled(mode != "off")

    def set_missing(self, reason: str) -> None:
        """The detector cannot run in this installation (`reason`, the engine's words, for whoever looks closer)."""
        self.description.setText(MISSING)
        self.description.setToolTip(reason)

    def show_session(self, session: PhotoSession | None) -> None:
        result = session.scratch_result if session else None
        text = result.describe() if result is not None else ""
        self.result.setText(text[:1].upper() + text[1:])
        self._form.setRowVisible(self.result, bool(text))
        for w in (self.show_marks, self.mark_button, self.unmark_button, self.brush_size, self.faded):
            w.setEnabled(session is not None)
        self.faded.blockSignals(True)
        self.faded.setChecked(bool(session and session.faded_colours))  # a choice for each photo, not remembered
        self.faded.blockSignals(False)
