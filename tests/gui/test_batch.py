"""The batch queue: per-file status with a corrupt file in the middle, cancel, pause and resume after restart."""

from __future__ import annotations

from PIL import Image

from frstudio.gui.settings import load_settings


def make_files(folder, group_photo, names=("a.jpg", "b.jpg", "c.jpg"), corrupt="b.jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    small = Image.fromarray(group_photo.pixels).resize((450, 325))
    for name in names:
        if name == corrupt:
            (folder / name).write_bytes(b"\xff\xd8\xff\xe0 truncated")
        else:
            small.save(folder / name, quality=90)
    return [folder / n for n in names]


def wait_batch(qtbot, window, timeout=120_000):
    qtbot.waitUntil(lambda: window.batch_job is None, timeout=timeout)


def test_batch_of_three_with_a_corrupt_file(qtbot, window, tmp_path, group_photo):
    files = make_files(tmp_path / "in", group_photo)
    window.set_batch_output(tmp_path / "out")
    window.open_paths([tmp_path / "in"])  # a folder goes to the queue
    assert window.batch_dock.isVisible() and window.batch.table.rowCount() == 3
    window.batch.start_button.click()
    assert load_settings().pending_batch == [str(tmp_path / "in")]  # remembered while it runs
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["Restored", "Failed", "Restored"]
    assert "b.jpg" in window.batch.table.item(1, 2).text()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_restored.jpg", "c_restored.jpg"]
    assert window.batch.progress.value() == 3 and window.batch.progress.maximum() == 3
    assert "2 restored" in window.batch.summary.text() and "1 failed" in window.batch.summary.text()
    assert load_settings().pending_batch == []
    assert files[0].exists()


def test_cancel_a_batch(qtbot, window, tmp_path, group_photo):
    make_files(tmp_path / "in", group_photo, corrupt=None)
    window.set_batch_output(tmp_path / "out")
    window.add_to_batch([tmp_path / "in"])
    window.start_batch(paused=True)  # paused before the first photo...
    assert window.batch.pause_button.text() == "Continue"
    window.batch.cancel_button.click()  # ...then cancelled
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["Cancelled"] * 3
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert "Cancelled" in window.batch.summary.text()
    assert window.batch.start_button.isEnabled() and not window.batch.cancel_button.isEnabled()


def test_a_paused_batch_resumes_after_a_restart(qtbot, make_window, tmp_path, group_photo):
    make_files(tmp_path / "in", group_photo, corrupt=None)
    first = make_window()
    first.set_batch_output(tmp_path / "out")
    first.add_to_batch([tmp_path / "in"])
    first.start_batch(paused=True)
    first.close()  # quit while paused: the batch is remembered
    assert load_settings().pending_batch == [str(tmp_path / "in")]

    second = make_window()
    assert second.batch_dock.isVisible() and second.batch.start_button.text() == "Resume"
    assert "press Resume" in second.batch.summary.text()  # the banner names the button as it is
    second.batch.start_button.click()
    wait_batch(qtbot, second)
    assert second.batch.statuses() == ["Restored"] * 3
    assert second.batch.start_button.text() == "Start"  # nothing left to resume
    assert len(list((tmp_path / "out").iterdir())) == 3
    assert load_settings().pending_batch == []
