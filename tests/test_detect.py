import numpy as np
import pytest

from frstudio.core.detect import DetectionSettings, Face, detect_faces, manual_face, reading_order, smallest_detectable_eye_distance
from tests.conftest import paste_faces


def test_finds_every_pasted_face_with_accurate_landmarks(group_photo):
    faces = detect_faces(group_photo.pixels)
    assert len(faces) == 3
    for expected in group_photo.landmarks:
        # each pasted face is matched by one detection whose landmarks sit where the paste put them
        errors = [np.linalg.norm(f.landmarks - expected, axis=1).mean() for f in faces]
        eye_distance = np.linalg.norm(expected[42:48].mean(0) - expected[36:42].mean(0))
        assert min(errors) < 0.08 * eye_distance


def test_faces_are_numbered_left_to_right_then_top_to_bottom(group_photo):
    faces = detect_faces(group_photo.pixels)
    assert [f.index for f in faces] == [0, 1, 2]
    centres = [f.centre for f in faces]
    assert centres[0][0] < centres[1][0]  # first row, left to right
    assert centres[2][1] > max(centres[0][1], centres[1][1])  # second row below


def test_small_faces_down_to_about_20px_between_the_eyes(astronaut, astronaut_landmarks):
    photo = paste_faces(astronaut, astronaut_landmarks, (400, 300), [(150, 100, 0.5)])  # eye distance ~21.6 px
    faces = detect_faces(photo.pixels)
    assert len(faces) == 1
    assert 19 < faces[0].eye_distance < 24


def test_photo_without_faces():
    rng = np.random.default_rng(1)
    assert detect_faces(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)) == []


def test_large_photo_is_scanned_within_budget_and_reports_its_floor():
    settings = DetectionSettings(min_eye_distance=20, max_scan_megapixels=24)
    assert smallest_detectable_eye_distance(1000, 800, settings) == pytest.approx(20.0)
    # 50 MP cannot be scanned at 1.6x within 24 MP: the floor rises, and is reported
    assert smallest_detectable_eye_distance(8660, 5773, settings) > 40


def test_faces_in_bands_and_coarse_pass_are_not_duplicated(astronaut, astronaut_landmarks):
    # a tall photo is scanned in bands; the face straddles the band boundary
    photo = paste_faces(astronaut, astronaut_landmarks, (700, 1400), [(200, 560, 1.4)])
    faces = detect_faces(photo.pixels, DetectionSettings(threads=2))
    assert len(faces) == 1


def test_manual_box_gets_landmarks(group_photo):
    faces = detect_faces(group_photo.pixels)
    face = manual_face(group_photo.pixels, faces[0].box)
    assert face.detector == "manual"
    assert np.abs(face.landmarks - faces[0].landmarks).mean() < 1.0


def test_reading_order_groups_rows_by_face_height():
    def f(x, y):
        return Face(-1, (x, y, x + 50, y + 50), np.zeros((68, 2), np.float32), 1.0)

    faces = reading_order([f(300, 110), f(0, 100), f(150, 95), f(10, 300)])
    assert [(int(x.box[0]), int(x.box[1])) for x in faces] == [(0, 100), (150, 95), (300, 110), (10, 300)]
    assert [x.index for x in faces] == [0, 1, 2, 3]


def test_rejects_non_rgb8():
    with pytest.raises(ValueError):
        detect_faces(np.zeros((10, 10), np.uint8))


def test_cnn_detector_runs_in_a_worker_process(astronaut, astronaut_landmarks):
    faces = detect_faces(astronaut.copy(), DetectionSettings(detector="cnn", cnn_max_side=400))
    assert len(faces) == 1 and faces[0].detector == "cnn"
    assert np.linalg.norm(faces[0].landmarks - astronaut_landmarks, axis=1).mean() < 2.0
