"""Edit ▸ Find Small Faces: remembered in the settings, re-detects the open photo with the smaller eye distance
(keeping faces drawn by hand), and batches detect with it too."""

from __future__ import annotations

import json

from frstudio.core.detect import SMALL_FACES_MIN_EYE_DISTANCE, DetectionSettings
from frstudio.gui.settings import SETTINGS_VERSION, Settings, load_settings, save_settings
from tests.gui.conftest import wait_idle
from tests.gui.test_batch import make_files, wait_batch

DEFAULT = DetectionSettings().min_eye_distance


def record_detections(monkeypatch, owner, name="detect"):
    """Wrap owner.<name>(rgb8, settings) to note each call's min_eye_distance."""
    seen: list[float] = []
    inner = getattr(owner, name)

    def detect(rgb8, settings=None, *args):
        seen.append((settings or DetectionSettings()).min_eye_distance)
        return inner(rgb8, settings, *args)

    monkeypatch.setattr(owner, name, detect)
    return seen


def test_the_option_is_remembered_and_an_older_settings_file_gets_it_off(make_window, settings_dir):
    first = make_window()
    assert not first.small_faces_action.isChecked() and first.detection_settings().min_eye_distance == DEFAULT
    assert "slower" in first.small_faces_action.text().lower() and "px between the eyes" in first.small_faces_action.statusTip()
    first.small_faces_action.trigger()
    assert load_settings().find_small_faces  # saved at once, not only on quit
    assert "Small faces will be looked for" in first.status_text.text()
    first.close()
    second = make_window(load_settings())
    assert second.small_faces_action.isChecked()
    assert second.detection_settings().min_eye_distance == SMALL_FACES_MIN_EYE_DISTANCE == 6.0

    save_settings(Settings(find_small_faces=True))
    assert load_settings().find_small_faces
    path = settings_dir / "settings.json"
    path.write_text(json.dumps({"version": 1, "model": "frrnet", "strength": 0.5}))  # written before the option existed
    old = load_settings()
    assert old.version == SETTINGS_VERSION == 4 and not old.find_small_faces and (old.model, old.strength) == ("frrnet", 0.5)


def test_toggling_finds_the_open_photos_faces_again_keeping_drawn_ones(qtbot, window, group_png, monkeypatch):
    seen = record_detections(monkeypatch, window.dlib)
    window.open_photo(group_png)
    window.small_faces_action.trigger()  # while the photo is still opening: done once it is open
    assert window.is_busy()
    wait_idle(qtbot, window)
    s = window.session
    assert seen == [DEFAULT, SMALL_FACES_MIN_EYE_DISTANCE]
    assert s.detection.min_eye_distance == SMALL_FACES_MIN_EYE_DISTANCE
    assert "Faces found again with small faces" in window.status_text.text()
    detected = len(s.faces)
    assert detected >= 3

    window.add_face(s.face(0).box)  # a face drawn by hand (undoable)...
    assert window.undo_stack.count() == 1 and len(s.faces) == detected + 1
    window.small_faces_action.trigger()  # ...off again
    wait_idle(qtbot, window)
    assert seen[-1] == DEFAULT and s.detection.min_eye_distance == DEFAULT and not load_settings().find_small_faces
    assert window.session is s
    assert [f.detector for f in s.faces].count("manual") == 1  # the drawn face is kept, numbered last
    assert s.faces[-1].detector == "manual" and [f.index for f in s.faces] == list(range(len(s.faces)))
    assert sorted(window.compare.main._faces) == [f.index for f in s.faces]
    assert window.undo_stack.count() == 0  # faces were numbered anew: the old steps no longer apply
    assert "1 drawn by hand kept" in window.status_text.text()


def test_a_batch_detects_with_the_option(qtbot, window, tmp_path, group_photo, monkeypatch):
    from frstudio.core import pipeline

    assert window.batches.options().detection.min_eye_distance == DEFAULT
    seen = record_detections(monkeypatch, pipeline, "detect_faces")
    window.small_faces_action.trigger()
    make_files(tmp_path / "in", group_photo, names=("a.jpg",), corrupt=None)
    window.set_batch_output(tmp_path / "out")
    window.add_to_batch([tmp_path / "in"])
    window.batch.start_button.click()
    wait_batch(qtbot, window)
    assert window.batch.statuses() == ["Restored"]
    assert seen == [SMALL_FACES_MIN_EYE_DISTANCE]
