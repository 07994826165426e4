"""The status line, the progress bar and the batch queue never say something that is no longer true."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from frstudio.core.jobs import Progress
from frstudio.core.pipeline import BatchEvent
from frstudio.gui.batch_panel import BatchPanel
from tests.gui.conftest import wait_idle
from tests.gui.test_main_window import click_face, open_and_wait


def restore(qtbot, window):
    window.restore()
    wait_idle(qtbot, window)


def test_the_restoration_summary_follows_the_choices(qtbot, window, group_png):
    open_and_wait(qtbot, window, group_png)
    restore(qtbot, window)
    assert window.status_text.text().startswith("3 faces restored")
    click_face(qtbot, window.compare.main, 0)  # left out after restoring: its result stays cached
    wait_idle(qtbot, window)
    assert window.status_text.text().startswith("2 faces restored")
    assert "left out" in window.panel.faces.item(0).text() and "restored" not in window.panel.faces.item(0).text()

    window.undo_action.trigger()
    wait_idle(qtbot, window)
    assert window.status_text.text().startswith("3 faces restored")


def test_a_change_that_needs_restoring_again_is_said(qtbot, window, group_png):
    open_and_wait(qtbot, window, group_png)
    click_face(qtbot, window.compare.main, 1)
    restore(qtbot, window)
    assert window.status_text.text().startswith("2 faces restored")
    click_face(qtbot, window.compare.main, 1)  # put back: not restored yet
    wait_idle(qtbot, window)
    assert "1 face to restore after your changes" in window.status_text.text()


def test_drawing_a_face_does_not_leave_the_prompt_behind(qtbot, window, group_png):
    open_and_wait(qtbot, window, group_png)
    before = window.status_text.text()
    window.draw_action.trigger()
    assert window.status_text.text() == "Drag a box around the face"
    window.draw_action.trigger()  # changed my mind
    assert window.status_text.text() == before

    window.draw_action.trigger()
    view, box = window.compare.main, window.session.face(2).box
    a, b = view.mapFromScene(QPointF(box[0], box[1])), view.mapFromScene(QPointF(box[2], box[3]))
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(view.viewport(), pos=b)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=b)
    assert window.status_text.text().startswith("Face 4 added")


def test_the_progress_bar_is_busy_where_a_step_cannot_say_how_far_it_is(window):
    bar = window.progress
    window._show_progress(Progress("detect", 0.0))
    assert bar.maximum() == 0 and window.status_text.text() == "Finding faces…"
    window._show_progress(Progress("restore", 0.0, 0, 3))
    assert bar.maximum() == 0 and window.status_text.text() == "Restoring face 1 of 3…"
    window._show_progress(Progress("restore", 0.5, 2, 3))
    assert bar.maximum() == 1000 and bar.value() == 500
    window._show_progress(Progress("index", 0.25, 3, 12))
    assert window.status_text.text() == "Reading the reference photos (3 of 12)…"


def test_a_paused_photo_says_paused(qtbot, tmp_path):
    panel = BatchPanel()
    qtbot.addWidget(panel)
    photo = tmp_path / "a.jpg"
    panel.set_inputs([photo], [photo])
    panel.set_running(True)
    panel.show_event(BatchEvent(0, 1, progress=Progress("blend", 0.85, 3, 3, photo)))
    assert panel.statuses() == ["Blending…"]
    panel.set_paused(True)
    assert panel.statuses() == ["Paused"]
    panel.show_event(BatchEvent(0, 1, progress=Progress("save", 0.9, 3, 3, photo)))  # the step that was under way
    assert panel.statuses() == ["Paused"]
    panel.set_paused(False)
    assert panel.statuses() == ["Continuing…"]
