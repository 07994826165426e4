import cv2
import numpy as np
import pytest

from frstudio.core.align import align_face
from frstudio.core.blend import BlendSettings, blend_face, face_outline, feather_width
from frstudio.core.detect import detect_faces


@pytest.fixture(scope="module")
def faces(group_photo):
    return detect_faces(group_photo.pixels)


def _outline_mask(shape, landmarks):
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(face_outline(landmarks)).astype(np.int32)], 1)
    return cv2.dilate(mask, np.ones((3, 3), np.uint8)).astype(bool)


def test_no_step_at_the_mask_edge(group_photo, faces):
    face = faces[0]
    flat = np.full_like(group_photo.pixels, 60)
    aligned = align_face(flat, face.landmarks, 128)
    bright = np.full((128, 128, 3), 0.9, np.float32)  # the worst case: restored face very different from the photo
    out = flat.copy()
    blend_face(out, bright, aligned, face.landmarks, BlendSettings(match_tone=False))
    grey = out[..., 0].astype(np.float64)
    step = max(np.abs(np.diff(grey, axis=0)).max(), np.abs(np.diff(grey, axis=1)).max())
    jump = 0.9 * 255 - 60
    assert grey.max() > 0.95 * 0.9 * 255  # the face itself is fully restored ...
    # ... and the transition is a ramp spread over the feather width, not a seam: no pixel-to-pixel step
    # larger than a Gaussian ramp of that width would give (max slope 1 / (sigma sqrt(2 pi)))
    sigma = feather_width(face.eye_distance) / 2.5
    assert step < 1.2 * jump / (sigma * np.sqrt(2 * np.pi))


def test_only_the_face_region_changes_and_excluded_faces_stay_identical(group_photo, faces):
    photo = group_photo.pixels
    out = photo.copy()
    face = faces[1]
    aligned = align_face(photo, face.landmarks, 128)
    blend_face(out, np.clip(aligned.image * 0.5, 0, 1), aligned, face.landmarks, BlendSettings(match_tone=False))
    changed = np.any(out != photo, axis=2)
    assert changed.sum() > 1000
    assert not np.any(changed & ~_outline_mask(photo.shape, face.landmarks))  # nothing outside the outline (no rectangle)
    for other in (faces[0], faces[2]):
        x0, y0, x1, y1 = (int(v) for v in other.box)
        np.testing.assert_array_equal(out[y0:y1, x0:x1], photo[y0:y1, x0:x1])


def test_strength_mixes_linearly(group_photo, faces):
    photo = group_photo.pixels
    face = faces[0]
    aligned = align_face(photo, face.landmarks, 128)
    white = np.ones((128, 128, 3), np.float32)
    outs = {}
    for s in (0.0, 0.5, 1.0):
        outs[s] = photo.copy()
        blend_face(outs[s], white, aligned, face.landmarks, BlendSettings(strength=s, match_tone=False))
    np.testing.assert_array_equal(outs[0.0], photo)
    inside = _outline_mask(photo.shape, face.landmarks)
    half = outs[0.5][inside].astype(float) - photo[inside]
    full = outs[1.0][inside].astype(float) - photo[inside]
    assert abs(half.sum() / full.sum() - 0.5) < 0.01


def test_tone_matching_removes_a_colour_cast_but_keeps_detail(group_photo, faces):
    photo = group_photo.pixels
    face = faces[0]
    aligned = align_face(photo, face.landmarks, 128)
    cast = aligned.image.copy()
    cast[..., 0] = np.clip(cast[..., 0] * 0.6, 0, 1)  # a model that lost the red
    inside = _outline_mask(photo.shape, face.landmarks)
    means = {}
    for match in (False, True):
        out = photo.copy()
        blend_face(out, cast, aligned, face.landmarks, BlendSettings(match_tone=match))
        means[match] = out[inside].astype(float).mean(axis=0) - photo[inside].astype(float).mean(axis=0)
    assert means[False][0] < -15  # the cast shows without matching
    assert np.abs(means[True]).max() < 2.0  # and is gone with it


@pytest.mark.parametrize("tone", ["grey", "sepia"])
def test_grey_and_sepia_photos_get_no_added_colour(group_photo, faces, tone):
    photo = group_photo.pixels.astype(np.float32)
    luma = photo @ np.array([0.299, 0.587, 0.114], np.float32)
    tint = np.array([1.0, 1.0, 1.0]) if tone == "grey" else np.array([1.07, 0.95, 0.78])
    toned = np.clip(luma[..., None] * tint, 0, 255).astype(np.uint8)
    face = faces[0]
    aligned = align_face(toned, face.landmarks, 128)
    colourful = aligned.image.copy()
    colourful[..., 1] *= 0.5  # magenta-ish output from a colour model
    out = toned.copy()
    blend_face(out, colourful, aligned, face.landmarks, BlendSettings(keep_grey=True))
    ycc_in = cv2.cvtColor(toned, cv2.COLOR_RGB2YCrCb).astype(int)
    ycc_out = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb).astype(int)
    assert np.abs(ycc_out[..., 1:] - ycc_in[..., 1:]).max() <= 2  # chroma untouched
    if tone == "grey":
        assert np.abs(out.astype(int) - out[..., :1]).max() <= 1  # channels stay equal


def test_sixteen_bit_photos_stay_sixteen_bit(group_photo, faces):
    photo16 = group_photo.pixels.astype(np.uint16) * 257
    face = faces[2]
    aligned = align_face(photo16, face.landmarks, 128)
    out = photo16.copy()
    blend_face(out, aligned.image, aligned, face.landmarks)
    assert out.dtype == np.uint16
    assert np.abs(out.astype(int) - photo16).mean() < 257  # an identity restoration changes almost nothing


def _occluded_mask(aligned, landmarks, size=128):
    """A crop-space mask of the face with its lower half cut away, as a mask head would predict for a face
    whose chin is hidden behind a hand."""
    crop_landmarks = landmarks @ aligned.matrix[:, :2].T + aligned.matrix[:, 2]
    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, [np.round(face_outline(crop_landmarks)).astype(np.int32)], 1.0)
    nose_y = int(crop_landmarks[33, 1])
    mask[nose_y:] = 0
    return mask, crop_landmarks


def test_predicted_mask_keeps_what_it_excludes(group_photo, faces):
    face = faces[0]
    photo = group_photo.pixels
    aligned = align_face(photo, face.landmarks, 128)
    white = np.ones((128, 128, 3), np.float32)
    mask, _ = _occluded_mask(aligned, face.landmarks)
    with_mask, outline_only = photo.copy(), photo.copy()
    blend_face(with_mask, white, aligned, face.landmarks, BlendSettings(match_tone=False), mask)
    blend_face(outline_only, white, aligned, face.landmarks, BlendSettings(match_tone=False, use_model_mask=False), mask)
    chin = face.landmarks[8].astype(int)
    mouth = face.landmarks[57].astype(int)
    probe = (slice(mouth[1], chin[1]), slice(int(face.landmarks[48, 0]), int(face.landmarks[54, 0])))
    np.testing.assert_array_equal(with_mask[probe], photo[probe])  # the "hand" is left alone ...
    assert np.any(outline_only[probe] != photo[probe])  # ... which the outline alone would have painted over
    forehead = tuple(((face.landmarks[21] + face.landmarks[22]) / 2).astype(int))
    assert with_mask[forehead[1] + 2, forehead[0]].min() > 250  # the visible face is restored


def test_a_failed_predicted_mask_falls_back_to_the_outline(group_photo, faces):
    face = faces[0]
    photo = group_photo.pixels
    aligned = align_face(photo, face.landmarks, 128)
    white = np.ones((128, 128, 3), np.float32)
    tiny = np.zeros((128, 128), np.float32)
    tiny[60:64, 60:64] = 1  # a mask head that found almost nothing
    a, b = photo.copy(), photo.copy()
    blend_face(a, white, aligned, face.landmarks, BlendSettings(match_tone=False), tiny)
    blend_face(b, white, aligned, face.landmarks, BlendSettings(match_tone=False))
    np.testing.assert_array_equal(a, b)


# ---- faces larger than the crop: the model's correction at its scale, the photo's own finer detail kept ----

@pytest.fixture(scope="module")
def big_face(astronaut, astronaut_landmarks):
    """The sample enlarged 4x (eyes ~170 px apart, over five times the 128 px crop's 31.5), its landmarks moved with
    it, and fine detail added (the enlarged sample has little finer than the crop's)."""
    big = cv2.resize(astronaut, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    big += np.random.default_rng(0).normal(0, 6, big.shape[:2])[..., None]  # grain: detail of one pixel's size
    return np.clip(big, 0, 255).astype(np.uint8), (astronaut_landmarks + 0.5) * 4 - 0.5


def _face_inside(shape, landmarks, margin=25):
    return cv2.erode(_outline_mask(shape, landmarks).astype(np.uint8), np.ones((margin, margin), np.uint8)).astype(bool)


def test_a_model_that_changes_nothing_changes_nothing_on_a_big_face(big_face):
    from frstudio.core.blend import larger_than_crop

    photo, landmarks = big_face
    aligned = align_face(photo, landmarks, 128)
    assert larger_than_crop(aligned, 128)
    for denoise in (False, True):
        out = photo.copy()
        blend_face(out, aligned.image.copy(), aligned, landmarks, BlendSettings(fine_band_denoise=denoise))
        # the enlarged crop alone would lose the grain: before scale-aware compositing this differed by ~6 levels
        assert np.abs(out.astype(int) - photo).mean() < (0.3 if denoise else 0.01)
        assert np.abs(out.astype(int) - photo).max() <= (40 if denoise else 1)


def test_a_model_that_changes_nothing_changes_nothing_on_a_face_at_the_crops_scale(astronaut, astronaut_landmarks):
    from frstudio.core.blend import larger_than_crop

    # eyes ~30 px apart, the crop's own scale: warping the crop back (two bilinear resamplings) softened such a face
    photo = cv2.resize(astronaut, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    landmarks = (astronaut_landmarks + 0.5) * 0.7 - 0.5
    aligned = align_face(photo, landmarks, 128)
    assert not larger_than_crop(aligned, 128)
    out = photo.copy()
    blend_face(out, aligned.image.copy(), aligned, landmarks, BlendSettings(match_tone=False))
    assert np.abs(out.astype(int) - photo).max() <= 1


def test_the_plain_warp_of_a_big_face_loses_its_detail(big_face):
    from frstudio.core import blend

    photo, landmarks = big_face
    aligned = align_face(photo, landmarks, 128)
    plain = photo.copy()
    saved = blend.carry_correction

    def warp_back_the_crop(original, restored, crop, to_roi, large):
        return blend._enlarge(restored, to_roi, original.shape[:2])

    blend.carry_correction = warp_back_the_crop
    try:
        blend_face(plain, aligned.image.copy(), aligned, landmarks, BlendSettings(fine_band_denoise=False))
    finally:
        blend.carry_correction = saved
    inside = _face_inside(photo.shape, landmarks)
    lap = lambda img: cv2.Laplacian(img.astype(np.float32).mean(axis=2), cv2.CV_32F)[inside].var()  # noqa: E731
    assert lap(plain) < 0.5 * lap(photo)  # what this issue fixes: the old path's result of the same identity model


def test_a_big_face_gets_the_models_correction_at_the_models_scale(big_face):
    photo, landmarks = big_face
    aligned = align_face(photo, landmarks, 128)
    brighter = np.clip(aligned.image + 0.1, 0, 1)  # a correction the crop can hold
    out = photo.copy()
    blend_face(out, brighter, aligned, landmarks, BlendSettings(match_tone=False, fine_band_denoise=False))
    inside = _face_inside(photo.shape, landmarks, margin=4 * int(feather_width(170)))  # where the mask is 1
    lift = out[inside].astype(float) - photo[inside]
    unclipped = photo[inside] < 200
    assert abs(lift[unclipped].mean() - 25.5) < 1.5
    detail = lambda img: img.astype(float) - cv2.GaussianBlur(img.astype(np.float32), (0, 0), 3)  # noqa: E731
    keep = inside & (photo.max(axis=2) < 200)  # the grain survives the correction, level for level
    assert np.percentile(np.abs(detail(out)[keep] - detail(photo)[keep]), 99) < 2.0


def test_fine_band_denoise_removes_noise_on_flat_skin_and_keeps_edges():
    from frstudio.core.blend import denoise_fine_band, fine_band_noise

    rng = np.random.default_rng(1)
    fine = np.zeros((200, 200, 3), np.float32)
    fine[:, 100:102] = 0.3  # an edge (a lash, a glasses rim)
    noisy = fine + rng.normal(0, 0.02, (200, 200))[..., None].astype(np.float32)
    support = np.ones((200, 200), bool)
    assert abs(fine_band_noise(noisy, support) - 0.02) < 0.004
    cleaned = denoise_fine_band(noisy, support)
    assert np.abs(cleaned[:, :80]).std() < 0.5 * 0.02  # flat part: most of the noise gone
    assert cleaned[:, 100:102, 0].mean() > 0.25  # the edge stays
