import numpy as np
import pytest

from frstudio.core.detect import DetectionSettings, Face, detect_faces, manual_face, reading_order, smallest_detectable_eye_distance
from tests.conftest import HEAD_BOX, paste_faces


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


def paste_warped(canvas: np.ndarray, astronaut, reference_landmarks, centre, eye_distance: float, roll: float = 0.0, squeeze: float = 1.0):
    """Paste the sample's head into `canvas` (in place) with its eyes' midpoint at `centre`, `eye_distance` px
    between the eyes, turned by `roll` degrees in the picture and narrowed to `squeeze` of its width (a stand-in
    for a head turned sideways: HOG, frontal-only, misses it from ~0.5 down). Returns the expected landmarks."""
    import cv2

    x0, y0, x1, y1 = HEAD_BOX
    head = astronaut[y0:y1, x0:x1]
    lm = reference_landmarks - (x0, y0)
    mid = (lm[36:42].mean(0) + lm[42:48].mean(0)) / 2
    scale = eye_distance / np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))
    # squeeze about the eyes' midpoint, then scale and turn about it, then move it to `centre`
    squeeze_m = np.array([[squeeze, 0, (1 - squeeze) * mid[0]], [0, 1, 0], [0, 0, 1]])
    turn = np.vstack([cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), roll, scale), [0, 0, 1]])
    matrix = (turn @ squeeze_m)[:2]
    matrix[:, 2] += np.asarray(centre) - mid
    h, w = canvas.shape[:2]
    warped = cv2.warpAffine(head, matrix, (w, h), flags=cv2.INTER_AREA)
    inside = cv2.warpAffine(np.ones(head.shape[:2], np.uint8), matrix, (w, h)) > 0
    canvas[inside] = warped[inside]
    return cv2.transform(lm[None], matrix)[0]


@pytest.fixture(scope="module")
def turned_group(astronaut, astronaut_landmarks):
    """A 1200 x 800 group photo: an upright face, two tilted 40-45 degrees in the picture, one narrowed like a
    head turned sideways, and two small ones (12 px between the eyes), one of them tilted."""
    rng = np.random.default_rng(3)
    canvas = np.clip(np.full((800, 1200, 3), 170.0) + rng.normal(0, 4, (800, 1200, 3)), 0, 255).astype(np.uint8)
    placements = {
        "upright": ((200, 220), 40, 0, 1.0),
        "tilted left": ((560, 220), 40, 45, 1.0),
        "tilted right": ((950, 230), 30, -40, 1.0),
        "turned": ((230, 600), 40, 0, 0.45),
        "small": ((620, 600), 12, 0, 1.0),
        "small tilted": ((900, 600), 12, 30, 1.0),
    }
    expected = {name: paste_warped(canvas, astronaut, astronaut_landmarks, *args) for name, args in placements.items()}
    return canvas, expected


def _found(faces, landmarks) -> Face | None:
    """The face whose box holds the expected eyes-nose-mouth centre."""
    centre = landmarks[[36, 39, 42, 45, 30, 48, 54]].mean(0)
    hits = [f for f in faces if f.box[0] <= centre[0] <= f.box[2] and f.box[1] <= centre[1] <= f.box[3]]
    return hits[0] if len(hits) == 1 else None


def test_the_ensemble_finds_turned_tilted_and_small_faces_that_hog_misses(turned_group):
    canvas, expected = turned_group
    faces = detect_faces(canvas)
    assert len(faces) == len(expected)  # every face once, nothing else
    for name, landmarks in expected.items():
        face = _found(faces, landmarks)
        assert face is not None, f"the {name} face was missed"
    # what the ensemble adds: dlib's HOG alone, as the default was before it, misses the turned and small faces
    hog = detect_faces(canvas, DetectionSettings(detector="hog", min_eye_distance=20))
    missed = {name for name, landmarks in expected.items() if _found(hog, landmarks) is None}
    assert {"turned", "small", "small tilted"} <= missed and missed & {"tilted left", "tilted right"}


def test_tilted_faces_get_landmarks_fitted_upright(turned_group):
    canvas, expected = turned_group
    faces = detect_faces(canvas)
    for name in ("tilted left", "tilted right", "small tilted"):
        landmarks = expected[name]
        face = _found(faces, landmarks)
        eye = np.linalg.norm(landmarks[42:48].mean(0) - landmarks[36:42].mean(0))
        error = np.linalg.norm(face.landmarks - landmarks, axis=1).mean()
        assert error < 0.12 * eye, f"{name}: landmarks {error:.1f} px off ({eye:.0f} px between the eyes)"
        assert not face.profile


def test_a_face_the_landmarks_cannot_follow_is_marked_profile_and_placed_on_blazeface_points(astronaut):
    from frstudio.core.align import five_points
    from frstudio.core.blazeface import BlazeDetection
    from frstudio.core.detect import blaze_face

    faces = detect_faces(astronaut.copy())
    p = five_points(faces[0].landmarks)
    # BlazeFace's points of a head turned to profile: both eyes and the mouth to one side, the nose tip beyond them
    eyes_y, mouth = p[0][1], (p[3] + p[4]) / 2
    keypoints = np.array([[p[0][0], eyes_y], [p[0][0] + 12, eyes_y], [p[0][0] - 25, p[2][1]], [p[0][0] - 5, mouth[1]],
                          [p[1][0], eyes_y], [p[1][0] + 20, eyes_y]])
    det = BlazeDetection(np.array(faces[0].box), 0.9, keypoints)
    face = blaze_face(astronaut, det)
    assert face.profile and face.detector == "blazeface"
    placed = five_points(face.landmarks)
    # the mean face is placed by a least-squares similarity on BlazeFace's eyes, nose and mouth: their centres agree
    placed4 = np.array([placed[0], placed[1], placed[2], (placed[3] + placed[4]) / 2])
    assert np.linalg.norm(placed4.mean(0) - keypoints[:4].mean(0)) < 1.0
    assert 10 < face.eye_distance < 40


def test_weak_hog_faces_need_blazeface_to_agree(astronaut):
    # HOG alone, scanning the sample at its own size, takes a patch of the space suit for a face (score ~0)
    hog = detect_faces(astronaut.copy(), DetectionSettings(detector="hog", min_eye_distance=32))
    assert len(hog) == 2 and min(f.score for f in hog) < 0.5
    faces = detect_faces(astronaut.copy())
    assert len(faces) == 1 and faces[0].detector == "hog"


def test_the_smallest_face_found_is_reported():
    from frstudio.core.detect import smallest_found_eye_distance

    default = DetectionSettings()
    assert smallest_found_eye_distance(4000, 3000, default) == pytest.approx(default.min_eye_distance, abs=0.5)
    # 50 MP is beyond BlazeFace's scan budget at 10 px: the floor rises, and is reported
    assert 15 < smallest_found_eye_distance(8660, 5773, default) < 40
    assert smallest_found_eye_distance(4000, 3000, DetectionSettings(detector="hog", min_eye_distance=20)) == pytest.approx(20.0)


def test_unknown_detectors_are_refused(astronaut):
    with pytest.raises(ValueError):
        detect_faces(astronaut.copy(), DetectionSettings(detector="cnn"))


def test_the_command_line_finds_the_turned_faces_by_default_and_refuses_the_cnn_detector(turned_group, tmp_path, capsys):
    import json

    from PIL import Image

    from frstudio.cli import main

    canvas, expected = turned_group
    path = tmp_path / "group.png"
    Image.fromarray(canvas).save(path)
    assert main(["detect", str(path), "--json"]) == 0
    faces = json.loads(capsys.readouterr().out)["faces"]
    assert len(faces) == len(expected) and {f["detector"] for f in faces} == {"hog", "blazeface"}
    for fewer in ("cnn", "hog"):  # no option finds fewer faces than the default: CNN and HOG alone are gone
        with pytest.raises(SystemExit) as refused:
            main(["detect", str(path), "--detector", fewer])
        assert refused.value.code == 2


def test_blazeface_runs_on_opencv_where_litert_is_missing(astronaut, monkeypatch):
    import builtins

    import cv2

    from frstudio.core import blazeface

    tile = cv2.resize(astronaut, (192, 192), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
    reg, logits = blazeface._Model()(tile)
    real_import = builtins.__import__

    def without_litert(name, *args, **kwargs):
        if name.startswith("ai_edge_litert"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_litert)
    fallback = blazeface._Model()
    assert fallback._interpreter is None
    reg2, logits2 = fallback(tile)
    assert np.abs(reg2 - reg).max() < 1e-2 and np.abs(logits2 - logits).max() < 1e-2
