"""Remove scratches in the app: Off / Auto / On repairs the open photo (the detector runs once per photo: the
strength only repairs again), the before stays the scan, marks can be shown, painted and unpainted by hand as undoable
steps, the batch queue has the same choice, and a missing detector is said plainly while the rest keeps working.

The detector is a stand-in (tests.support.marks.WhiteLineDetector: near-white pixels are marks), given to the
window's RestorerCache as the other tests give it fake models."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from frstudio.core.pipeline import RestorerCache
from frstudio.core.scratches import ScratchSettings
from frstudio.gui.scratch_box import DESCRIPTION
from frstudio.gui.settings import load_settings, save_settings
from tests.gui.conftest import wait_idle
from tests.gui.test_batch import wait_batch
from tests.gui.test_main_window import open_and_wait
from tests.support.marks import WhiteLineDetector

LINE = (slice(300, 302), slice(50, 850))  # a white scratch across a face and the background
SPOT = (slice(500, 506), slice(800, 806))  # a dark speck on the background that the detector does not take for a mark


def scratched(folder, group_photo):
    """The group photo with nothing near white but a scratch, and a dark speck; saved as PNG."""
    pixels = np.clip(group_photo.pixels, 0, 240).astype(np.uint8)
    pixels[LINE] = 255
    pixels[SPOT] = 0
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(folder / "scan.png")
    return folder / "scan.png", pixels


def with_detector(window) -> list:
    """Give the window the stand-in detector; returns a list that grows by one per tile it looks at."""
    runs = []

    def make():
        net = WhiteLineDetector()
        net.register_forward_hook(lambda *_: runs.append(1))
        return net

    window.restorers = RestorerCache(damage_factory=make)
    return runs


def choose(combo, mode: str) -> None:
    combo.setCurrentIndex(combo.findData(mode))


def paint(qtbot, view, points) -> None:
    """A brush stroke along `points` (photo pixels): press, move, release."""
    at = [view.mapFromScene(QPointF(x, y)) for x, y in points]
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=at[0])
    for p in at[1:]:
        qtbot.mouseMove(view.viewport(), p)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=at[-1])


def test_on_repairs_the_scratch_and_the_strength_repairs_again_without_searching_again(qtbot, window, tmp_path, group_photo):
    runs = with_detector(window)
    path, pixels = scratched(tmp_path / "photos", group_photo)
    open_and_wait(qtbot, window, path)
    s, box, view = window.session, window.panel.scratch_box, window.compare.main
    assert runs == [] and s.scratches.mode == "off"  # Off: a newly opened photo is not searched
    assert box.description.text() == DESCRIPTION and not box.strength.isEnabled()

    choose(box.mode, "on")
    wait_idle(qtbot, window)
    searched = len(runs)
    assert searched > 0 and s.scratch_result.repaired
    np.testing.assert_array_equal(view.before.full, pixels)  # the before is the scan as opened
    assert (view.after.full[LINE] < 250).all()  # the after shows the repair, though no face is restored yet
    assert box.result.text().startswith("Scratches and dust removed (")
    assert window.status_text.text().startswith("Scratches and dust removed (")
    assert "3 faces to restore from the repaired photo" in window.status_text.text()
    assert window.panel.restore_button.text() == "Restore 3 faces" and box.strength.isEnabled()

    first = s.scratch_result
    box.strength.setValue(80)  # as the keyboard moves it: repaired again at once
    wait_idle(qtbot, window)
    assert len(runs) == searched  # the detector did not run again
    assert s.scratches == ScratchSettings("on", 0.8) and s.scratch_result is not first
    saved = load_settings()
    assert (saved.scratches, saved.scratch_strength) == ("on", 0.8)

    window.restore()  # the faces, from the repaired photo
    wait_idle(qtbot, window)
    assert all(s.info(f.index).restored for f in s.faces)
    assert (view.after.full[LINE] < 250).all() and (view.after.full[LINE] != pixels[LINE]).any()
    np.testing.assert_array_equal(view.before.full, pixels)

    choose(box.mode, "off")  # back to the scan: the faces are restored again from it
    wait_idle(qtbot, window)
    assert s.photo is s.original and box.result.text() == "" and len(runs) == searched
    assert s.stale_faces() == [0, 1, 2]


def test_a_photo_opened_with_auto_is_repaired_once_its_faces_are_found(qtbot, make_window, tmp_path, group_photo):
    settings = load_settings()
    settings.scratches = "auto"
    save_settings(settings)
    window = make_window(load_settings())
    runs = with_detector(window)
    path, _ = scratched(tmp_path / "photos", group_photo)
    open_and_wait(qtbot, window, path)
    s = window.session
    assert runs and s.scratches.mode == "auto" and s.scratch_result.repaired
    assert window.panel.scratch_box.mode.currentData() == "auto"
    assert window.status_text.text().startswith("Scratches and dust removed (") and "3 faces found" in window.status_text.text()
    assert (window.compare.main.after.full[LINE] < 250).all()


def test_show_marks_lays_the_marks_over_the_photo_and_takes_them_away(qtbot, window, tmp_path, group_photo):
    with_detector(window)
    path, _ = scratched(tmp_path / "photos", group_photo)
    open_and_wait(qtbot, window, path)
    box, view = window.panel.scratch_box, window.compare.main
    box.show_marks.setChecked(True)  # nothing found yet: nothing to show
    assert not view.marks_shown
    choose(box.mode, "on")
    wait_idle(qtbot, window)
    assert view.marks_shown
    layer = view._marks.pixmap().toImage()
    on, off = layer.pixelColor(400, 300), layer.pixelColor(400, 100)
    assert on.red() > 200 and on.green() < 50 and 100 < on.alpha() < 160  # red, half see-through, on the scratch
    assert off.alpha() == 0

    box.show_marks.setChecked(False)
    assert not view.marks_shown
    box.show_marks.setChecked(True)
    assert view.marks_shown
    choose(box.mode, "off")  # Off shows the scan, but what was found can still be seen
    wait_idle(qtbot, window)
    assert view.marks_shown
    open_and_wait(qtbot, window, path)  # another photo (here the same file again), not searched: no marks
    assert not view.marks_shown
    choose(box.mode, "on")
    wait_idle(qtbot, window)
    assert view.marks_shown


def test_a_brush_stroke_is_one_undoable_step(qtbot, window, tmp_path, group_photo):
    with_detector(window)
    path, pixels = scratched(tmp_path / "photos", group_photo)
    open_and_wait(qtbot, window, path)
    s, box, view = window.session, window.panel.scratch_box, window.compare.main
    box.mark_button.click()
    assert view.brush == "mark" and view.brush_size == 12
    paint(qtbot, view, [(798, 503), (803, 503), (808, 503)])
    wait_idle(qtbot, window)
    assert s.scratches.mode == "on" and box.mode.currentData() == "on"  # painting while Off turns it on
    assert len(s.strokes) == 1 and s.strokes[0].add
    assert (s.photo.pixels[SPOT] > 100).all() and (view.after.full[SPOT] > 100).all()  # the speck is filled in
    assert window.undo_action.text() == "&Undo Mark damage"

    window.undo_action.trigger()
    wait_idle(qtbot, window)
    assert s.strokes == []
    np.testing.assert_array_equal(view.after.full[SPOT], pixels[SPOT])  # the speck is back ...
    assert (view.after.full[LINE] < 250).all()  # ... and the scratch found by the detector stays repaired
    window.redo_action.trigger()
    wait_idle(qtbot, window)
    assert (view.after.full[SPOT] > 100).all()

    box.unmark_button.click()  # one brush at a time
    assert view.brush == "unmark" and not box.mark_button.isChecked()
    paint(qtbot, view, [(400, 301), (430, 301)])
    wait_idle(qtbot, window)
    assert window.undo_action.text() == "&Undo Unmark damage"
    assert (view.after.full[300:302, 405:425] == 255).all()  # kept as scanned where it was unmarked
    box.unmark_button.click()
    assert view.brush is None and not view.drawing


def test_cancelling_the_search_puts_the_choice_back(qtbot, window, tmp_path, group_photo):
    def cancelled_at_the_first_tile():
        net = WhiteLineDetector()
        net.register_forward_hook(lambda *_: window.job.cancel())  # as Cancel (Esc) would, mid-search
        return net

    window.restorers = RestorerCache(damage_factory=cancelled_at_the_first_tile)
    path, _ = scratched(tmp_path / "photos", group_photo)
    open_and_wait(qtbot, window, path)
    s, box = window.session, window.panel.scratch_box
    choose(box.mode, "auto")
    wait_idle(qtbot, window)
    assert window.status_text.text() == "Cancelled: the photo keeps its earlier result"
    assert not s.damage_found and s.photo is s.original and s.scratches.mode == "off"
    assert box.mode.currentData() == "off" and load_settings().scratches == "off"


def test_scratch_settings_are_checked_when_read(settings_dir):
    import json

    path = settings_dir / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 3, "model": "frrnet"}))  # written before scratch removal existed
    old = load_settings()
    assert (old.scratches, old.scratch_strength, old.batch_scratches) == ("off", 0.5, "off")
    path.write_text(json.dumps({"version": 4, "scratches": "always", "scratch_strength": 3, "batch_scratches": "auto"}))
    odd = load_settings()
    assert (odd.scratches, odd.scratch_strength, odd.batch_scratches) == ("off", 1.0, "auto")


def test_the_batch_removes_scratches_as_its_queue_says(qtbot, window, tmp_path, monkeypatch):
    import frstudio.gui.batch_controller as batch_controller

    monkeypatch.setattr(batch_controller, "RestorerCache", lambda: RestorerCache(damage_factory=WhiteLineDetector))
    folder = tmp_path / "in"
    folder.mkdir()
    field = np.full((200, 300, 3), (120, 160, 90), np.uint8)
    field[100:102, 20:280] = 255
    Image.fromarray(field).save(folder / "field.png")
    window.set_batch_output(tmp_path / "out")
    window.add_to_batch([folder])
    panel = window.batch
    assert panel.scratches.currentData() == "off" and not panel.scratch_strength.isEnabled()
    choose(panel.scratches, "on")
    panel.scratch_strength.setValue(70)
    assert window.batches.options().scratches == ScratchSettings("on", 0.7)
    saved = load_settings()
    assert (saved.batch_scratches, saved.batch_scratch_strength, saved.scratches) == ("on", 0.7, "off")  # its own choice
    panel.start_button.click()
    assert not panel.scratches.isEnabled()
    wait_batch(qtbot, window)
    assert panel.statuses() == ["No faces: copied"] and "scratches repaired" in panel.table.item(0, 2).text()
    out = np.asarray(Image.open(tmp_path / "out" / "field_restored.png"))
    assert (out[100:102, 20:280] < 250).all()


def test_without_the_detector_the_app_says_so_and_keeps_working(qtbot, window, tmp_path, group_photo):
    # tiny_weights' manifest has no detector: the real loader finds none, as in an installation without it
    path, pixels = scratched(tmp_path / "photos", group_photo)
    open_and_wait(qtbot, window, path)
    s, box, view = window.session, window.panel.scratch_box, window.compare.main
    choose(box.mode, "on")
    wait_idle(qtbot, window)
    assert window.message.isVisible() and "cannot look for scratches and dust in this installation" in window.message.label.text()
    assert "went wrong" not in window.message.label.text() and window.status_text.text() != "Stopped"
    assert s.scratches.mode == "off" and box.mode.currentData() == "off" and load_settings().scratches == "off"
    assert "not available in this installation" in box.description.text() and "scratch and dust detector" in box.description.toolTip()
    np.testing.assert_array_equal(s.photo.pixels, pixels)

    window.message.hide()
    box.mark_button.click()  # marks painted by hand are still repaired
    paint(qtbot, view, [(803, 503)])
    wait_idle(qtbot, window)
    assert (s.photo.pixels[SPOT] > 100).all() and (s.photo.pixels[LINE] == 255).all()
    assert not window.message.isVisible()  # said once

    window.restore()
    wait_idle(qtbot, window)
    assert all(s.info(f.index).restored for f in s.faces)

    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(pixels[:200, :300]).save(folder / "a.png")
    window.add_to_batch([folder])
    choose(window.batch.scratches, "auto")
    window.start_batch()  # not started: said once, instead of failing photo after photo
    assert window.batch_job is None and "set it to Off" in window.message.label.text()


def test_restore_faded_colours_is_a_choice_for_the_open_photo_and_can_be_taken_back(qtbot, window, tmp_path, group_photo):
    from frstudio.core import degradations as D

    faded = np.clip(np.round(D.fade(group_photo.pixels / 255.0, 0.4) * 255), 0, 255).astype(np.uint8)
    (tmp_path / "photos").mkdir()
    Image.fromarray(faded).save(tmp_path / "photos" / "faded.png")
    open_and_wait(qtbot, window, tmp_path / "photos" / "faded.png")
    s, box, view = window.session, window.panel.scratch_box, window.compare.main
    assert not box.faded.isChecked() and s.photo is s.original
    box.faded.setChecked(True)
    wait_idle(qtbot, window)
    assert s.faded_colours and view.after.full.std() > faded.std() * 1.3  # contrast back, though no face is restored
    np.testing.assert_array_equal(view.before.full, faded)
    assert s.stale_faces() == [0, 1, 2]  # the faces are restored from the new colours
    box.faded.setChecked(False)
    wait_idle(qtbot, window)
    assert s.photo is s.original
