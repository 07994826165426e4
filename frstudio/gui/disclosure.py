"""Small widgets the panels share: a word-wrapping label, and a "Details" disclosure that keeps numbers out of
sight until asked for (words for people first, figures behind it)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QToolButton


def wrapping(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def add_details(form: QFormLayout) -> tuple[QToolButton, QLabel]:
    """A "Details" toggle and the grey text it shows, added to `form` as two rows, closed."""
    button = QToolButton()
    button.setText("Details")
    button.setCheckable(True)
    button.setAutoRaise(True)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    button.setArrowType(Qt.ArrowType.RightArrow)
    text = wrapping()
    text.setStyleSheet("color: #5f6368;")
    text.hide()

    def toggled(on: bool) -> None:
        button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        text.setVisible(on)

    button.toggled.connect(toggled)
    form.addRow(button)
    form.addRow(text)
    return button, text
