"""The batch queue's choices and layout: photos without faces are not copied unless asked, finished photos can be
redone, and showing the queue leaves the photo most of the window; the single photo's Export asks before saving
a copy with nothing restored."""

from __future__ import annotations

from PIL import Image

from frstudio.core.session import ExportSettings
from frstudio.gui.settings import load_settings
from tests.gui.conftest import wait_idle
from tests.gui.test_batch import make_files, wait_batch
from tests.gui.test_main_window import open_and_wait


def landscape(folder):
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (300, 200), (120, 160, 90)).save(folder / "field.jpg")
    return folder / "field.jpg"


def test_a_photo_without_faces_is_not_copied_unless_asked(qtbot, window, tmp_path):
    landscape(tmp_path / "in")
    window.set_batch_output(tmp_path / "out")
    window.add_to_batch([tmp_path / "in"])
    assert not window.batch.copy_no_faces.isChecked()
    window.batch.start_button.click()
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["No faces: not copied"]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())

    window.batch.copy_no_faces.setChecked(True)
    assert load_settings().batch_copy_no_faces
    window.batch.start_button.click()
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["No faces: copied"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["field_restored.jpg"]


def test_finished_photos_are_redone_when_asked(qtbot, window, tmp_path, group_photo):
    make_files(tmp_path / "in", group_photo, names=("a.jpg",), corrupt=None)
    window.set_batch_output(tmp_path / "out")
    window.add_to_batch([tmp_path / "in"])
    window.batch.start_button.click()
    wait_batch(qtbot, window)
    out = tmp_path / "out" / "a_restored.jpg"
    first = out.stat().st_mtime_ns
    window.batch.start_button.click()
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["Already done"] and out.stat().st_mtime_ns == first
    window.batch.redo.setChecked(True)
    window.batch.start_button.click()
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["Restored"] and out.stat().st_mtime_ns != first


def test_the_queue_leaves_the_photo_most_of_the_window(qtbot, window, tmp_path, group_photo, group_png):
    open_and_wait(qtbot, window, group_png)
    width, photo_height = window.width(), window.compare.main.height()
    make_files(tmp_path / "in", group_photo, corrupt=None)
    window.set_batch_output(tmp_path / ("a folder with a long name, " * 6) / "out")
    window.add_to_batch([tmp_path / "in"])
    window.batch.offer_resume()  # the longest banner
    qtbot.wait(100)
    assert window.width() == width  # no long path or banner widens the window
    assert window.compare.main.height() >= 0.6 * photo_height
    assert "…" in window.batch.output_button.text() and "long name" in window.batch.output_button.toolTip()


def test_exporting_a_photo_without_faces_asks_first(qtbot, window, tmp_path):
    path = landscape(tmp_path / "photos")
    open_and_wait(qtbot, window, path)
    questions = []
    window.ask = lambda q: questions.append(q) or False
    window.export_photo(ExportSettings(folder=tmp_path / "out", comparison=True))
    wait_idle(qtbot, window)
    assert "no face was found" in questions[0] and window.status_text.text() == "No faces restored: not copied"
    assert not (tmp_path / "out").exists()
    window.ask = lambda q: True
    window.export_photo(ExportSettings(folder=tmp_path / "out", comparison=True))
    wait_idle(qtbot, window)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["field_restored.jpg"]  # no before | after of nothing
