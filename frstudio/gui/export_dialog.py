"""The export dialog: format, quality, name suffix, folder, metadata, comparison image."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

from frstudio.core.pipeline import RestoreOptions, output_path_for
from frstudio.core.session import ExportSettings
from frstudio.gui.settings import ExportPrefs

FORMATS = [("Same as the original", ""), ("JPEG", "JPEG"), ("PNG", "PNG"), ("TIFF", "TIFF"), ("WebP", "WEBP")]
LOSSY = {"JPEG", "WEBP"}


def export_settings(prefs: ExportPrefs) -> ExportSettings:
    return ExportSettings(
        folder=Path(prefs.folder) if prefs.folder else None,
        suffix=prefs.suffix,
        format=prefs.format or None,
        quality=prefs.quality,
        keep_metadata=prefs.keep_metadata,
        comparison=prefs.comparison,
    )


class ExportDialog(QDialog):
    def __init__(self, prefs: ExportPrefs, photo: Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export restored photo")
        self.photo = Path(photo)
        form = QFormLayout(self)
        self.format = QComboBox()
        for label, value in FORMATS:
            self.format.addItem(label, value)
        self.format.setCurrentIndex(max(0, self.format.findData(prefs.format)))
        form.addRow("Format", self.format)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(prefs.quality)
        self.quality.setSuffix(" %")
        form.addRow("Quality", self.quality)
        self.suffix = QLineEdit(prefs.suffix)
        form.addRow("Add to the name", self.suffix)
        row = QHBoxLayout()
        self.folder = QLineEdit(prefs.folder)
        self.folder.setPlaceholderText("next to the original")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Folder", row)
        self.metadata = QCheckBox("Keep the date, camera and colour profile (metadata)")
        self.metadata.setChecked(prefs.keep_metadata)
        form.addRow(self.metadata)
        self.comparison = QCheckBox("Also save a before | after comparison image")
        self.comparison.setChecked(prefs.comparison)
        form.addRow(self.comparison)
        self.result_name = QLabel()
        form.addRow("Will save", self.result_name)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._save = buttons.button(QDialogButtonBox.StandardButton.Save)
        for signal in (self.format.currentIndexChanged, self.suffix.textChanged, self.folder.textChanged):
            signal.connect(self._update)
        self._update()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save restored photos in", self.folder.text() or str(self.photo.parent))
        if folder:
            self.folder.setText(folder)

    def _update(self, *_) -> None:
        fmt = self.format.currentData()
        self.quality.setEnabled(fmt in LOSSY or (not fmt and self.photo.suffix.lower() in {".jpg", ".jpeg", ".webp"}))
        prefs = self.prefs()
        dest = output_path_for(self.photo, RestoreOptions(output_dir=Path(prefs.folder) if prefs.folder else None, suffix=prefs.suffix, format=prefs.format or None))
        same = dest.resolve() == self.photo.resolve()
        self.result_name.setText("that would replace the original: add something to the name" if same else str(dest))
        self._save.setEnabled(not same)

    def prefs(self) -> ExportPrefs:
        return ExportPrefs(
            folder=self.folder.text().strip(),
            suffix=self.suffix.text(),
            format=self.format.currentData(),
            quality=self.quality.value(),
            keep_metadata=self.metadata.isChecked(),
            comparison=self.comparison.isChecked(),
        )
