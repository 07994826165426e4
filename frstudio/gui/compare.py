"""Comparing before and after: one view (result or original), side by side with synchronised zoom and pan,
or a swipe line over one view; plus a strip of each face's before | after crops."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QSlider, QSplitter, QVBoxLayout, QWidget

from frstudio.gui.images import side_by_side, to_pixmap
from frstudio.gui.photo_view import PhotoView

MODES = ("result", "side", "swipe")
EMPTY_HINT = "Open a photo (Ctrl+O), or drop photos or a folder here"


class CompareArea(QWidget):
    faceSelected = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.main = PhotoView(hint=EMPTY_HINT)
        self.left = PhotoView()
        self.left.caption = "Before"
        self.left.set_mode("before")
        self.views = QSplitter(Qt.Orientation.Horizontal)
        self.views.addWidget(self.left)
        self.views.addWidget(self.main)
        self.views.setChildrenCollapsible(False)
        for pane in (0, 1):  # side by side: two equal halves, as the window grows or shrinks
            self.views.setStretchFactor(pane, 1)
        # Side by side: each view follows the other's zoom and scroll position (only then: the hidden left view
        # must not drag the main view back to its own zoom).
        self.main.viewChanged.connect(lambda: self.left.match(self.main) if self.mode == "side" else None)
        self.left.viewChanged.connect(lambda: self.main.match(self.left) if self.mode == "side" else None)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 1000)
        self.slider.setValue(500)
        self.slider.setAccessibleName("Swipe position")
        self.mode = "result"
        self.slider.valueChanged.connect(lambda v: self.main.set_swipe(v / 1000))
        self.main.swipeChanged.connect(lambda f: self._set_slider(f))
        self.swipe_row = QWidget()
        row = QHBoxLayout(self.swipe_row)
        row.setContentsMargins(8, 2, 8, 2)
        row.addWidget(QLabel("Before"))
        row.addWidget(self.slider, 1)
        row.addWidget(QLabel("After"))

        self.strip = QListWidget()
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QSize(196, 96))
        self.strip.setFixedHeight(132)
        self.strip.setSpacing(6)
        self.strip.setStyleSheet("QListWidget { background: #2b2c30; color: #dddddd; border: none; }")
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setToolTip("Each face before | after restoration; click one to select it")
        self.strip.currentItemChanged.connect(self._strip_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.views, 1)
        layout.addWidget(self.swipe_row)
        layout.addWidget(self.strip)
        self.mode = "result"
        self.show_original = False
        self.set_mode("result")

    def _set_slider(self, fraction: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(fraction * 1000))
        self.slider.blockSignals(False)

    def set_mode(self, mode: str) -> None:
        """"result": one view; "side": before | after; "swipe": after over before, split by a line."""
        self.mode = mode
        self.left.setVisible(mode == "side")
        self.swipe_row.setVisible(mode == "swipe")
        if mode == "swipe":
            self.main.set_swipe(self.slider.value() / 1000)
        self.main.caption = "After" if mode == "side" else ""
        # Outlines would hide the very faces a swipe is for; they come back in the other modes.
        self.main.set_outlines(mode != "swipe")
        self.main.set_mode("swipe" if mode == "swipe" else "before" if (mode == "result" and self.show_original) else "after")
        if mode == "side":
            # The left pane was hidden: without this the splitter hands it nearly all the width
            self.views.setSizes([1 << 20, 1 << 20])
            self.left.match(self.main)

    def set_show_original(self, on: bool) -> None:
        self.show_original = on
        self.set_mode("result" if on else self.mode)

    def set_photo(self, full, display) -> None:
        """`display`: a display_copy() of `full`; one pixmap made of it serves both views."""
        pixmap = to_pixmap(display) if display is not None else None
        for view in (self.main, self.left):
            view.set_photo(full, pixmap)
        self.strip.clear()

    def set_result(self, full, display) -> None:
        self.main.set_result(full, to_pixmap(display) if display is not None else None)

    def set_marks(self, pixmap) -> None:
        """The scratches and dust found, over both views (one pixmap of images.marks_layer); None: none shown."""
        for view in (self.main, self.left):
            view.set_marks(pixmap)

    def set_faces(self, faces) -> None:
        for view in (self.main, self.left):
            view.set_faces(faces)

    def set_face_state(self, index: int, included: bool, selected: bool, warning: bool) -> None:
        for view in (self.main, self.left):
            view.set_face_state(index, included, selected, warning)

    def set_crops(self, crops: dict[int, tuple[np.ndarray, np.ndarray | None]]) -> None:
        """Fill the strip: one item per face, its before | after crops."""
        self.strip.blockSignals(True)
        self.strip.clear()
        for index, (before, after) in sorted(crops.items()):
            label = f"Face {index + 1}: before | after" if after is not None else f"Face {index + 1}"
            item = QListWidgetItem(QIcon(to_pixmap(side_by_side(before, after))), label)
            item.setData(Qt.ItemDataRole.UserRole, index)
            self.strip.addItem(item)
        self.strip.blockSignals(False)

    def _strip_clicked(self, item, _previous) -> None:
        if item is not None:
            self.faceSelected.emit(item.data(Qt.ItemDataRole.UserRole))

    def fit(self) -> None:
        self.main.fit()  # side by side, the left pane follows (PhotoView.match)

    def zoom_to_faces(self) -> None:
        """Fill the view with the faces, and put the swipe line through the middle of them."""
        region = self.main.faces_region()
        if region is not None:
            self.main.show_region(region)
            self.slider.setValue(round(1000 * region.center().x() / max(1.0, self.main.sceneRect().width())))

    def zoom_by(self, factor: float) -> None:
        self.main.zoom_by(factor)

    def actual_size(self) -> None:
        self.main.actual_size()
