"""While a job runs: undo, redo and drawing a face are off (they add or remove the faces the job is reading); a
batch that meets an odd path or stops on an error leaves no photo looking as if it were still coming."""

from __future__ import annotations

from frstudio.core.errors import WeightsError
from frstudio.core.pipeline import BatchEvent
from tests.gui.conftest import wait_idle
from tests.gui.test_batch import make_files, wait_batch


def test_undo_redo_and_drawing_are_off_while_a_restore_runs(qtbot, window, group_png):
    window.open_photo(group_png)
    wait_idle(qtbot, window)
    s = window.session
    window.add_face(s.face(2).box)  # undoing this removes a face
    assert len(s.faces) == 4 and window.undo_action.isEnabled()

    window.restore_action.trigger()
    assert window.job is not None
    assert not window.undo_action.isEnabled() and not window.redo_action.isEnabled() and not window.draw_action.isEnabled()
    window.undo_action.trigger()
    window.add_face(s.face(0).box)
    assert len(s.faces) == 4  # neither the undo nor a drawn box reached the session while it was restoring
    wait_idle(qtbot, window)
    assert not window.message.isVisible() or "went wrong" not in window.message.label.text()
    assert all(s.info(f.index).restored for f in s.faces)
    assert window.undo_action.isEnabled() and window.draw_action.isEnabled()
    window.undo_action.trigger()
    assert len(s.faces) == 3 and window.redo_action.isEnabled()


def test_a_file_name_too_long_for_its_output_fails_alone_in_the_app(qtbot, window, tmp_path, group_photo):
    long = "n" * 245 + ".jpg"
    make_files(tmp_path / "in", group_photo, names=("a.jpg", long, "z.jpg"), corrupt=None)
    window.set_batch_output(tmp_path / "out")
    window.add_to_batch([tmp_path / "in"])
    window.start_batch()
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["Restored", "Failed", "Restored"]
    assert "the file name is too long" in window.batch.table.item(1, 2).text()


def test_a_batch_stopped_by_an_error_leaves_no_photo_waiting(qtbot, window, tmp_path, group_photo, monkeypatch):
    import frstudio.gui.batch_controller as batch_controller

    files = make_files(tmp_path / "in", group_photo, corrupt=None)

    def failing_batch(inputs, options, restorers, cancel):
        yield BatchEvent(0, 3)
        raise WeightsError("tiny.safetensors is corrupt")

    monkeypatch.setattr(batch_controller, "restore_batch", failing_batch)
    window.add_to_batch([tmp_path / "in"])
    window.start_batch()
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["Not done"] * len(files)
    assert "tiny.safetensors is corrupt" in window.message.label.text()


def test_restored_copies_from_an_earlier_run_are_not_left_waiting(qtbot, window, tmp_path):
    from tests.test_batch_safety import blank

    folder = tmp_path / "in"
    blank(folder / "a.jpg"), blank(folder / "a_restored.jpg", seed=1)  # no face: copied, no network
    window.add_to_batch([folder])
    assert window.batch.table.rowCount() == 1  # the earlier result is not a photo to do
    window.set_batch_output(tmp_path / "elsewhere")
    window.add_to_batch([folder])
    assert window.batch.table.rowCount() == 2  # into another folder it is a photo like any other ...
    window.set_batch_output(None)  # ... until the output goes back next to the photos
    window.start_batch()
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["Already done", "Left out"]
