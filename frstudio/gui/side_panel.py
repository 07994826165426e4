"""The side panel: the model and strength for all faces, scratch removal for the whole photo (`scratch_box`), and
the chosen face's own choices and facts.

It shows what it is given and reports what the user asks for through signals; the main window turns those
into undoable commands on the session, then calls `show_session()` again.
"""

from __future__ import annotations

from pathlib import Path

import cv2
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from frstudio.core.identity import SAME_PERSON_DISTANCE
from frstudio.core.imageio import float_to_uint8
from frstudio.core.quality import SOFTER_THAN_INPUT
from frstudio.core.routing import CLEAN_FACE_MESSAGE, TINY_FACE_EYE_DISTANCE, TINY_FACE_MODEL, trusted_guided
from frstudio.core.session import AUTO, DRIFT_WARNING, FaceInfo, PhotoSession
from frstudio.core.restore import ModelStatus
from frstudio.core.variants import MAX_VARIANTS
from frstudio.gui.disclosure import add_details, wrapping
from frstudio.gui.elided import ElidedLabel
from frstudio.gui.images import to_pixmap
from frstudio.gui.scratch_box import ScratchBox

VARIANTS_TIP = ("{models} can restore each face several ways. FR Studio ranks the versions by how much each "
                "still looks like the person (and the reference photo, if there is one) and uses the most faithful; "
                "the face panel shows them all so you can pick another.")
VARIANTS_OFF_TIP = "Only for {models}: choose it as the model to make several versions of each face."

AUTO_DESCRIPTION = "Picks a model for each face."


def auto_details(statuses: list[ModelStatus]) -> str:
    """What Auto picks, in the installed models' plain names (frstudio.core.routing.auto_model)."""
    blind = [s.spec for s in statuses if not s.spec.takes_reference and s.spec.name != TINY_FACE_MODEL]
    lines = [f"Most faces: {blind[0].title}." if blind else ""]
    tiny = [s.spec for s in statuses if s.spec.name == TINY_FACE_MODEL]
    if tiny:
        lines.append(f"Faces under {TINY_FACE_EYE_DISTANCE:g} px between the eyes: {tiny[0].title}.")
    guided = [s.spec for s in statuses if s.spec.takes_reference]
    helps = trusted_guided(statuses)
    trusted = [spec for spec in guided if spec.name in helps]
    if trusted:
        lines.append(f"A face with a reference photo: {trusted[0].title}.")
    elif guided and blind:
        lines.append(f"A face with a reference photo: {blind[0].title} too, with the photo used to check the likeness "
                     f"({guided[0].title} does not yet measure better; pick it by name to try it).")
    lines.append("A face its model finds clean (no noise, blur or bad light) is kept as it was.")
    return "\n".join(line for line in lines if line)


def metrics_lines(status: ModelStatus | None) -> list[str]:
    """The manifest's test figures, one line per test, e.g. 'Tested on 1000 damaged faces (frrnet): PSNR ...'."""
    lines = []
    for protocol, m in (status.entry.get("metrics", {}) if status else {}).items():
        before, after = m.get("input", {}), m.get("output", {})
        if "psnr" in before and "psnr" in after:
            parts = [f"PSNR {before['psnr']:.1f} → {after['psnr']:.1f} dB"]
            if "iprecision" in before and "iprecision" in after:  # the headline faithfulness metric (paper 001)
                parts.append(f"faithful to the person (iPrecision) {before['iprecision']:.0%} → {after['iprecision']:.0%}")
            if "id_match" in before and "id_match" in after:
                parts.append(f"recognised as the same person {before['id_match']:.0%} → {after['id_match']:.0%}")
            lines.append(f"Tested on {m.get('n', '?')} damaged faces ({protocol}): " + "; ".join(parts))
    return lines


def metrics_line(status: ModelStatus | None) -> str:
    """The first of `metrics_lines`."""
    return next(iter(metrics_lines(status)), "")


def model_details(status: ModelStatus | None, statuses: list[ModelStatus]) -> str:
    """What the "Details" disclosure shows: the research name and the test figures (for Auto: what it picks)."""
    if status is None:
        return auto_details(statuses)
    name = f"{status.spec.technical} — {status.spec.name}" if status.spec.technical else status.spec.name
    return "\n".join([f"Technical name: {name}", *metrics_lines(status)])


def _slider() -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, 100)
    s.setValue(100)
    return s


class ModelCombo(QComboBox):
    """'Auto' plus each model with shipped weights, the model name as item data."""

    def __init__(self, statuses: list[ModelStatus], parent=None):
        super().__init__(parent)
        self.addItem("Auto", AUTO)
        for status in statuses:
            self.addItem(status.spec.title, status.spec.name)
            self.setItemData(self.count() - 1, status.spec.description, Qt.ItemDataRole.ToolTipRole)

    def set_model(self, name: str) -> None:
        self.blockSignals(True)
        self.setCurrentIndex(max(0, self.findData(name)))
        self.blockSignals(False)

    def model(self) -> str:
        return self.currentData()


class SidePanel(QWidget):
    modelChosen = Signal(str)  # for all faces
    strengthChosen = Signal(float, bool)  # for all faces; bool: the slider is still moving
    restoreClicked = Signal()
    exportClicked = Signal()
    faceSelected = Signal(int)
    includeChosen = Signal(int, bool)
    faceModelChosen = Signal(int, str)
    faceStrengthChosen = Signal(int, float, bool)
    referenceRequested = Signal(int)  # "Choose…" pressed
    referenceCleared = Signal(int)
    referenceFolderRequested = Signal()
    learnRequested = Signal(int)  # "Learn this person from their photos…" pressed
    variantsChosen = Signal(int)  # restorations per face by a stochastic model
    faceVariantChosen = Signal(int, int)  # face, seed of the variant to use

    def __init__(self, statuses: list[ModelStatus], parent=None):
        super().__init__(parent)
        self.statuses = {s.spec.name: s for s in statuses}
        stochastic = " or ".join(f"'{s.spec.title}'" for s in statuses if s.spec.stochastic)
        self._variants_tips = (VARIANTS_TIP.format(models=stochastic), VARIANTS_OFF_TIP.format(models=stochastic))
        self.setMinimumWidth(300)
        self.setMaximumWidth(380)
        layout = QVBoxLayout(self)

        box = QGroupBox("All faces")
        form = QFormLayout(box)
        self.model = ModelCombo(statuses)
        self.model.currentIndexChanged.connect(lambda _: self.modelChosen.emit(self.model.model()))
        form.addRow("Model", self.model)
        self.description = wrapping()
        self.description.setObjectName("description")
        form.addRow(self.description)
        # The research name and the test figures, for those who want them: closed by default
        self.details_button, self.details = add_details(form)
        self.strength = _slider()
        self.strength_label = QLabel("100 %")
        self.strength.valueChanged.connect(self._strength_moved)
        self.strength.sliderReleased.connect(lambda: self.strengthChosen.emit(self.strength.value() / 100, False))
        form.addRow("Strength", self._with_label(self.strength, self.strength_label))
        self.variants = QSpinBox()
        self.variants.setRange(1, MAX_VARIANTS)
        self.variants.valueChanged.connect(lambda n: self.signalsBlocked() or self.variantsChosen.emit(n))
        form.addRow("Variants", self.variants)
        if not any(s.spec.stochastic for s in statuses):  # nothing would use it
            form.setRowVisible(self.variants, False)
        buttons = QHBoxLayout()
        self.restore_button = QPushButton("Restore faces")
        self.restore_button.setDefault(True)
        self.restore_button.clicked.connect(self.restoreClicked)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.exportClicked)
        buttons.addWidget(self.restore_button, 1)
        buttons.addWidget(self.export_button)
        form.addRow(buttons)
        layout.addWidget(box)

        self.scratch_box = ScratchBox()  # wired by the window's ScratchController
        layout.addWidget(self.scratch_box)

        faces_box = QGroupBox("Faces")
        faces_layout = QVBoxLayout(faces_box)
        hint = wrapping("Click a face in the photo to leave it out or put it back. Missed one? Edit ▸ Draw a Missed Face.")
        hint.setStyleSheet("color: #5f6368;")
        faces_layout.addWidget(hint)
        self.faces = QListWidget()
        self.faces.setMaximumHeight(120)
        self.faces.currentItemChanged.connect(lambda item, _: item and self.faceSelected.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.faces.itemChanged.connect(self._face_checked)
        faces_layout.addWidget(self.faces)
        layout.addWidget(faces_box)

        self.face_box = QGroupBox("Face")
        face_form = QFormLayout(self.face_box)
        self.include = QCheckBox("Restore this face")
        self.include.toggled.connect(lambda on: self._emit_face(self.includeChosen, on))
        face_form.addRow(self.include)
        self.face_model = ModelCombo(statuses)
        self.face_model.currentIndexChanged.connect(lambda _: self._emit_face(self.faceModelChosen, self.face_model.model()))
        face_form.addRow("Model", self.face_model)
        self.face_strength = _slider()
        self.face_strength_label = QLabel("100 %")
        self.face_strength.valueChanged.connect(self._face_strength_moved)
        self.face_strength.sliderReleased.connect(lambda: self._emit_face(self.faceStrengthChosen, self.face_strength.value() / 100, False))
        face_form.addRow("Strength", self._with_label(self.face_strength, self.face_strength_label))
        ref_row = QHBoxLayout()
        self.reference = ElidedLabel("none")
        self.reference.setWhatsThis("A good photo of the same person guides models that take one. You can also drop a photo on the face.")
        choose = QPushButton("Choose…")
        choose.clicked.connect(lambda: self._emit_face(self.referenceRequested))
        self.clear_reference = QPushButton("Clear")
        self.clear_reference.clicked.connect(lambda: self._emit_face(self.referenceCleared))
        ref_row.addStretch(1)
        ref_row.addWidget(choose)
        ref_row.addWidget(self.clear_reference)
        # the name on a row of its own: beside the buttons it left no room for the name or the row's label
        face_form.addRow("Reference", self.reference)
        face_form.addRow(ref_row)
        self.learn = QPushButton("Learn this person from their photos…")
        self.learn.setToolTip("Give a folder of good photos of this person: the app learns their face from them (about "
                              "a minute, once) and restores this face more like them, where that measures better.")
        self.learn.clicked.connect(lambda: self._emit_face(self.learnRequested))
        face_form.addRow(self.learn)
        self.variant_strip = VariantStrip()
        self.variant_strip.chosen.connect(lambda seed: self._emit_face(self.faceVariantChosen, seed))
        face_form.addRow(self.variant_strip)
        self.info = wrapping()
        self.info.setTextFormat(Qt.TextFormat.RichText)
        face_form.addRow(self.info)
        layout.addWidget(self.face_box)

        self.folder_button = QPushButton("Find references in a folder…")
        self.folder_button.clicked.connect(self.referenceFolderRequested)
        layout.addWidget(self.folder_button)
        layout.addStretch(1)
        self.current: int | None = None
        self._show_model_text(AUTO)
        self.show_session(None)

    @staticmethod
    def _with_label(slider: QSlider, label: QLabel) -> QWidget:
        w = QWidget()
        row = QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(slider, 1)
        label.setMinimumWidth(42)
        row.addWidget(label)
        return w

    def _emit_face(self, signal, *args) -> None:
        if self.current is not None and not self.signalsBlocked():
            signal.emit(self.current, *args)

    def _strength_moved(self, value: int) -> None:
        self.strength_label.setText(f"{value} %")
        if not self.signalsBlocked():
            self.strengthChosen.emit(value / 100, self.strength.isSliderDown())

    def _face_strength_moved(self, value: int) -> None:
        self.face_strength_label.setText(f"{value} %")
        self._emit_face(self.faceStrengthChosen, value / 100, self.face_strength.isSliderDown())

    def _face_checked(self, item: QListWidgetItem) -> None:
        if not self.signalsBlocked():
            self.includeChosen.emit(item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked)

    def _show_model_text(self, name: str) -> None:
        status = self.statuses.get(name)
        self.description.setText(status.spec.description if status else AUTO_DESCRIPTION)
        self.details.setText(model_details(status, list(self.statuses.values())))

    def _enable_variants(self, session: PhotoSession | None) -> None:
        """Variants do something only for a stochastic model: the global one, or one a face was given."""
        chosen = {self.model.model()} | ({c.model for c in session.choices.values()} if session else set())
        on = any(name in self.statuses and self.statuses[name].spec.stochastic for name in chosen)
        self.variants.setEnabled(on)
        self.variants.setToolTip(self._variants_tips[0 if on else 1])

    # ---- showing the session ---------------------------------------------------------------------------

    def show_globals(self, model: str, strength: float, variants: int | None = None) -> None:
        self.blockSignals(True)
        self.model.set_model(model)
        self.strength.setValue(round(strength * 100))
        if variants is not None:
            self.variants.setValue(variants)
        self.blockSignals(False)
        self._show_model_text(model)
        self._enable_variants(None)

    def show_session(self, session: PhotoSession | None, busy: bool = False) -> None:
        self.blockSignals(True)
        try:
            self._fill_faces(session)
            has_faces = bool(session and session.faces)
            self.face_box.setEnabled(has_faces and self.current is not None)
            stale = session.stale_faces() if session else []
            self.restore_button.setEnabled(bool(session) and not busy and bool(stale))
            self.restore_button.setText(f"Restore {len(stale)} face{'s' * (len(stale) != 1)}" if stale else "✓ Restored")
            if not session or not session.faces:
                self.restore_button.setText("Restore faces")
            self.export_button.setEnabled(bool(session) and not busy)
            self.scratch_box.show_session(session)
            self.folder_button.setEnabled(has_faces and not busy)
            self._enable_variants(session)
            if has_faces and self.current is not None:
                self._show_face(session, self.current)
            else:
                self.face_box.setTitle("Face")
                self.info.setText("")
                self.variant_strip.show_variants([], None)
        finally:
            self.blockSignals(False)

    def _fill_faces(self, session: PhotoSession | None) -> None:
        self.faces.clear()
        indices = [f.index for f in session.faces] if session else []
        if self.current not in indices:
            self.current = indices[0] if indices else None
        for face in session.faces if session else []:
            info = session.info(face.index)
            item = QListWidgetItem(self._face_line(info, session.choices[face.index].included))
            item.setData(Qt.ItemDataRole.UserRole, face.index)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if session.choices[face.index].included else Qt.CheckState.Unchecked)
            self.faces.addItem(item)
            if face.index == self.current:
                self.faces.setCurrentItem(item)

    @staticmethod
    def _face_line(info: FaceInfo, included: bool = True) -> str:
        # a face left out keeps its earlier result in the cache, but not in the photo
        state = "left out" if not included else "restored" if info.restored else "kept as it was" if info.message else "not restored yet"
        warn = "  ⚠" if info.drifted or (info.reference and info.reference.different_person) or info.message else ""
        manual = ", drawn" if info.manual else ""
        return f"Face {info.index + 1}: {info.eye_distance:.0f} px{manual}, {state}{warn}"

    def _show_face(self, session: PhotoSession, index: int) -> None:
        choice = session.choices[index]
        info = session.info(index)
        self.face_box.setTitle(f"Face {index + 1}")
        self.include.setChecked(choice.included)
        self.face_model.set_model(choice.model)
        self.face_strength.setValue(round(choice.strength * 100))
        self.face_strength_label.setText(f"{round(choice.strength * 100)} %")
        self.reference.setText(Path(choice.reference).name if choice.reference else "none")
        self.clear_reference.setEnabled(choice.reference is not None)
        self.info.setText(face_facts(info, session.model_for(index), self.statuses))
        self.variant_strip.show_variants(info.variants, info.variant)


class VariantStrip(QWidget):
    """A face's variants as small buttons, most faithful first, each with its identity distance; the one in
    use is checked. Hidden when the face has no variants."""

    chosen = Signal(int)  # seed
    ICON = 56

    def __init__(self, parent=None):
        super().__init__(parent)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(2)
        self.buttons: list[QToolButton] = []
        self.setToolTip("Each version of this face, the one most like the person first, with its identity distance "
                        "(lower: more like the person). Click one to use it.")
        self.hide()

    def show_variants(self, variants: list, current: int | None) -> None:
        for button in self.buttons:
            button.deleteLater()
        self.buttons = []
        for rank, variant in enumerate(variants):
            button = QToolButton()
            button.setCheckable(True)
            button.setChecked(variant.seed == current)
            crop8 = float_to_uint8(variant.restored.image)
            thumbnail = cv2.resize(crop8, (self.ICON, self.ICON), interpolation=cv2.INTER_AREA)
            button.setIcon(QIcon(to_pixmap(thumbnail)))
            button.setIconSize(QSize(self.ICON, self.ICON))
            button.setText(f"{variant.distance:.2f}")
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            words = version_words(rank, variant)
            button.setToolTip(f"{'Most faithful: ' if rank == 0 else ''}{words}")
            button.setAccessibleName(words)
            button.clicked.connect(lambda _checked, seed=variant.seed: self.chosen.emit(seed))
            self.row.addWidget(button)
            self.buttons.append(button)
        self.setVisible(bool(variants))


def version_words(rank: int, variant) -> str:
    """'Version 2 (identity distance 0.31, 0.40 to the reference)': numbered from 1 by rank, not by seed."""
    ref = f", {variant.reference_distance:.2f} to the reference" if variant.reference_distance is not None else ""
    return f"Version {rank + 1} (identity distance {variant.distance:.2f}{ref})"


def face_facts(info: FaceInfo, model: str | None, statuses: dict) -> str:
    """The face's facts as short lines of rich text, warnings in orange."""
    warn = '<span style="color:#e67e00">⚠ {}</span>'
    lines = [f"Size: {info.eye_distance:.0f} px between the eyes" + (" (small: little detail to work from)" if info.eye_distance < 30 else "")]
    if info.profile:
        lines.append("Turned away: placed by its eyes, nose and mouth only, so a restored side view may look less natural")
    title = statuses[model].spec.title if model in statuses else model or "none available"
    lines.append(f"Model: {title}" + (", learned for this person" if info.personal_used else ""))
    if info.personal is not None:
        learned = f"Learned from {info.personal.photos} of their photos"
        if not info.personal_recognised:
            learned += " (the one person in the folder you chose: the face is too damaged to recognise)"
        if info.personal.helps:
            lines.append(learned + ("" if info.personal_used else ": used when you restore"))
        else:
            lines.append(f"{learned}, but that did not restore a photo of theirs better than {title}: not used")
    if info.labels:
        lines.append("Looks: " + (", ".join(info.verdict) if info.verdict else "no noise, blur or low light found"))
    if info.kept_clean:
        lines.append(f"{CLEAN_FACE_MESSAGE.capitalize()} (pick the model by name to restore it anyway)")
    elif info.sharpness is not None:
        if info.sharpness < SOFTER_THAN_INPUT:
            lines.append(warn.format(f"Softer than the original: {info.sharpness:.2f}× its sharpness; lower the strength or try another model"))
        else:
            lines.append(f"Sharpness: {info.sharpness:.2f}× the original's")
    if info.likeness is not None:
        lines.append(f"Likeness to their photos: {info.likeness[0]:.2f} before, {info.likeness[1]:.2f} after (lower: more like them)")
    if info.drift is not None:
        text = f"Identity change: {info.drift:.2f}"
        if info.likeness is not None and info.likeness[1] < info.likeness[0]:
            lines.append(f"{text}, towards their photos")
        elif info.drifted:
            lines.append(warn.format(f"{text}: may no longer look like the same person (above {DRIFT_WARNING:.2f}); lower the strength or try another model"))
        else:
            lines.append(f"{text} (fine: below {DRIFT_WARNING:.2f})")
    if info.variants:
        scores = [v.score for v in info.variants]
        used = next((rank for rank, v in enumerate(info.variants) if v.seed == info.variant), 0)
        lines.append(f"Versions: {len(scores)}, most like the person first (identity distance {min(scores):.2f}–{max(scores):.2f}); "
                     f"using version {used + 1}")
    if info.reference is not None:
        r = info.reference
        if r.different_person:
            lines.append(warn.format(f"Reference {r.path.name} does not look like this face ({r.distance:.2f} ≥ {SAME_PERSON_DISTANCE}): "
                                     "a different person, or a face too damaged to recognise"))
        else:
            lines.append(f"Reference {r.path.name}: same person ({r.distance:.2f})")
    if info.message:
        lines.append(warn.format(f"Kept as it was: {info.message}"))
    return "<br>".join(lines)
