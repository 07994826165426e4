"""The real window, driven as a person would: open, detect, exclude, restore, compare, undo, export."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from frstudio.core.imageio import load_photo
from frstudio.core.pipeline import RestorerCache
from frstudio.core.restore import Restorer
from frstudio.core.session import ExportSettings
from tests.conftest import SAMPLE, file_digest
from tests.gui.conftest import wait_idle


def open_and_wait(qtbot, window, path):
    window.open_photo(path)
    wait_idle(qtbot, window)


def click_face(qtbot, view, index):
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.face_centre(index))


def test_open_exclude_restore_swipe_undo_export(qtbot, window, group_png, group_photo, tmp_path):
    before = file_digest(group_png)
    open_and_wait(qtbot, window, group_png)
    s = window.session
    assert [f.index for f in s.faces] == [0, 1, 2]
    assert sorted(window.compare.main._faces) == [0, 1, 2]
    assert window.panel.faces.count() == 3
    assert "3 faces found" in window.status_text.text()

    click_face(qtbot, window.compare.main, 1)  # a click on a face leaves it out
    assert not s.choices[1].included and s.choices[0].included
    assert window.panel.faces.item(1).checkState() == Qt.CheckState.Unchecked

    window.restore_action.trigger()
    wait_idle(qtbot, window)
    assert [s.info(i).restored for i in range(3)] == [True, False, True]
    view = window.compare.main
    assert view.has_result
    result = view.after.full
    x0, y0, x1, y1 = (int(v) for v in s.face(1).box)
    np.testing.assert_array_equal(result[y0:y1, x0:x1], group_photo.pixels[y0:y1, x0:x1])  # excluded face unchanged
    x0, y0, x1, y1 = (int(v) for v in s.face(0).box)
    assert np.any(result[y0:y1, x0:x1] != group_photo.pixels[y0:y1, x0:x1])
    assert window.compare.strip.count() == 3

    window.mode_actions["swipe"].trigger()
    assert view.mode == "swipe" and window.compare.swipe_row.isVisible()
    width = group_photo.pixels.shape[1]
    assert view._clip.rect().width() == pytest.approx(width * 0.5)
    window.compare.slider.setValue(200)
    assert view._clip.rect().width() == pytest.approx(width * 0.2)
    assert view._divider.isVisible()

    window.undo_action.trigger()  # undo "exclude face 2"
    assert s.choices[1].included and s.stale_faces() == [1]
    assert window.panel.restore_button.text() == "Restore 1 face"
    window.redo_action.trigger()
    assert not s.choices[1].included

    wait_idle(qtbot, window)
    window.export_photo(ExportSettings(folder=tmp_path / "out", format="PNG"))
    wait_idle(qtbot, window)
    out = tmp_path / "out" / "family_restored.png"
    assert window.last_export == [out]
    np.testing.assert_array_equal(load_photo(out).pixels, s.preview())
    assert file_digest(group_png) == before


def test_export_asks_before_replacing(qtbot, window, group_png, tmp_path):
    open_and_wait(qtbot, window, group_png)
    window.restore()  # (a photo with nothing restored asks first whether to copy it at all)
    wait_idle(qtbot, window)
    settings = ExportSettings(folder=tmp_path / "out")
    window.export_photo(settings)
    wait_idle(qtbot, window)
    questions = []
    window.ask = lambda q: questions.append(q) or False
    window.export_photo(settings)
    wait_idle(qtbot, window)
    assert questions and "already exists" in questions[0]


def test_strength_recomposes_without_running_the_network_again(qtbot, window, group_png):
    calls = []

    def factory(name):
        restorer = Restorer(name)
        inner = restorer.restore
        restorer.restore = lambda crops, ref=None: calls.append(len(crops)) or inner(crops, ref)
        return restorer

    window.restorers = RestorerCache(factory)
    open_and_wait(qtbot, window, group_png)
    window.restore()
    wait_idle(qtbot, window)
    assert sum(calls) == 3
    full = window.compare.main.after.full.copy()
    window.panel.strength.setValue(0)  # all faces to 0 %: the original again
    wait_idle(qtbot, window)
    assert sum(calls) == 3
    np.testing.assert_array_equal(window.compare.main.after.full if window.compare.main.has_result else window.session.photo.pixels, window.session.photo.pixels)
    window.undo_action.trigger()
    wait_idle(qtbot, window)
    np.testing.assert_array_equal(window.compare.main.after.full, full)
    assert sum(calls) == 3


def test_before_after_key_and_side_by_side_sync(qtbot, window, group_png):
    open_and_wait(qtbot, window, group_png)
    window.restore()
    wait_idle(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert window.compare.main.mode == "before" and not window.compare.main._clip.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert window.compare.main.mode == "after" and window.compare.main._clip.isVisible()
    window.set_compare_mode("side")
    assert window.compare.left.isVisible()
    window.compare.main.zoom_by(2.0)
    main, left = window.compare.main, window.compare.left
    assert left.zoom() == pytest.approx(main.zoom())
    main.horizontalScrollBar().setValue(main.horizontalScrollBar().maximum() // 2)
    assert left.horizontalScrollBar().value() == main.horizontalScrollBar().value()


def test_draw_a_missed_face(qtbot, window, group_png):
    open_and_wait(qtbot, window, group_png)
    s = window.session
    box = s.face(2).box
    view = window.compare.main
    window.draw_action.trigger()
    assert view.drawing
    a = view.mapFromScene(QPointF(box[0], box[1]))
    b = view.mapFromScene(QPointF(box[2], box[3]))
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(view.viewport(), pos=b)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=b)
    assert len(s.faces) == 4 and s.faces[-1].detector == "manual"
    assert not view.drawing and not window.draw_action.isChecked()
    assert np.abs(s.faces[-1].landmarks - s.face(2).landmarks).mean() < 3
    window.undo_action.trigger()
    assert len(s.faces) == 3 and 3 not in window.compare.main._faces


def test_dropping_a_photo_on_a_face_makes_it_the_reference(qtbot, window, group_png):
    open_and_wait(qtbot, window, group_png)
    view = window.compare.main
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(SAMPLE))])
    event = QDropEvent(QPointF(view.face_centre(2)), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)
    wait_idle(qtbot, window)
    assert window.session.choices[2].reference == SAMPLE
    assert window.panel.current == 2 and window.panel.reference.text() == "astronaut.jpg"
    assert window.session.choices[0].reference is None


def test_a_broken_photo_is_a_message_not_a_crash(qtbot, window, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    open_and_wait(qtbot, window, bad)
    assert window.message.isVisible()
    assert "broken.jpg" in window.message.label.text()
    assert "Traceback" not in window.message.label.text()


def test_settings_remember_recent_files_and_choices(qtbot, make_window, group_png):
    from frstudio.gui.settings import load_settings

    first = make_window()
    open_and_wait(qtbot, first, group_png)
    first.panel.strength.setValue(60)
    wait_idle(qtbot, first)
    first.resize(900, 700)
    first.close()
    saved = load_settings()
    assert saved.recent_files[0] == str(group_png.resolve())
    assert saved.last_folder == str(group_png.parent.resolve())
    assert saved.strength == pytest.approx(0.6) and (saved.window_width, saved.window_height) == (900, 700)
    second = make_window(saved)
    assert second.recent_menu.actions()[0].text() == "family.png"
    assert second.panel.strength.value() == 60


def test_reference_folder_gives_each_face_its_person_in_one_undo_step(qtbot, window, group_png, tmp_path):
    import shutil

    folder = tmp_path / "portraits"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "eileen.jpg")
    open_and_wait(qtbot, window, group_png)
    window.match_reference_folder(folder)
    wait_idle(qtbot, window)
    s = window.session
    assert [s.choices[i].reference for i in range(3)] == [folder / "eileen.jpg"] * 3
    assert "3 faces" in window.status_text.text()
    window.undo_action.trigger()
    assert [s.choices[i].reference for i in range(3)] == [None] * 3


def test_a_photo_relit_with_its_faces_is_named_in_the_status_line(qtbot, window, tmp_path, group_photo):
    from PIL import Image

    from tests.test_session import Relighting

    path = tmp_path / "dark.png"
    Image.fromarray((group_photo.pixels * 0.4).astype(np.uint8)).save(path)
    window.restorers = RestorerCache(lambda name: Relighting(Restorer(name).spec))
    open_and_wait(qtbot, window, path)
    window.restore()
    wait_idle(qtbot, window)
    assert "3 faces restored; the whole photo brightened to match its relit faces" in window.status_text.text()
    window.panel.strength.setValue(0)  # every face back as it was: nothing relit any more
    wait_idle(qtbot, window)
    assert window.status_text.text() == "The photo keeps its own light"
