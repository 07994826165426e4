import numpy as np
import pytest

from frstudio.core.align import TEMPLATE_128, align_face, estimate_transform, five_points, invert_affine, template, transform_points, warp_to_crop


def _blob_image(centre, shape=(600, 800), sigma=2.0, dtype=np.uint8):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    blob = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma**2))
    scale = 65535 if dtype == np.uint16 else 255
    return np.repeat((blob * scale).astype(dtype)[..., None], 3, axis=2)


def _centroid(img):
    w = img[..., 0].astype(np.float64)
    w = np.where(w > 0.05 * w.max(), w, 0)
    yy, xx = np.mgrid[0 : w.shape[0], 0 : w.shape[1]]
    return np.array([(xx * w).sum() / w.sum(), (yy * w).sum() / w.sum()])


def _landmarks_for(eye_left, eye_right):
    """68 synthetic landmarks whose five points are a scaled, rotated template: enough for alignment."""
    t = TEMPLATE_128
    src, dst = t[:2], np.array([eye_left, eye_right], np.float64)
    a, b = src[1] - src[0], dst[1] - dst[0]
    s = np.linalg.norm(b) / np.linalg.norm(a)
    ang = np.arctan2(b[1], b[0]) - np.arctan2(a[1], a[0])
    rot = s * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    pts5 = (t - src[0]) @ rot.T + dst[0]
    lm = np.zeros((68, 2))
    lm[36:42], lm[42:48], lm[30], lm[48], lm[54] = pts5[0], pts5[1], pts5[2], pts5[3], pts5[4]
    return lm


@pytest.mark.parametrize("eyes,size", [(((300, 250), (360, 262)), 128), (((500, 500), (800, 580)), 128), (((300, 250), (331, 250)), 16), (((200, 300), (260, 240)), 256), (((300, 250), (320, 252)), 128)])
def test_inverse_maps_crop_back_within_half_a_pixel(eyes, size):
    lm = _landmarks_for(*eyes)
    # a point near the middle of the face, off the pixel grid
    target = transform_points(np.array([[0.47 * size + 0.3, 0.53 * size + 0.7]]), invert_affine(estimate_transform(five_points(lm), size)))[0]
    crop_per_image_px = size / 128 * 31.5 / np.linalg.norm(np.subtract(*eyes))
    # a blob a few crop pixels wide, so its centroid can be measured precisely in the crop
    # (on a canvas large enough that the crop's footprint holds no mirrored copy of the blob)
    aligned = align_face(_blob_image(target, shape=(1400, 1400), sigma=max(2.0, 2.0 / crop_per_image_px)), lm, size)
    # the blob's position found in the crop, mapped back with the inverse, lands on the true position,
    # to within half a pixel of the coarser of the two grids
    found_in_crop = _centroid(aligned.image)
    back = transform_points(found_in_crop[None], aligned.inverse)[0]
    assert np.linalg.norm(back - target) * min(1.0, crop_per_image_px) < 0.5
    if crop_per_image_px >= 1:  # a small face, enlarged: the photo's grid is the coarser one
        assert np.linalg.norm(back - target) < 0.5


def test_points_round_trip_and_hit_the_template():
    lm = _landmarks_for((210.2, 180.9), (262.7, 171.4))
    aligned = align_face(np.zeros((400, 500, 3), np.uint8), lm, 128)
    pts = five_points(lm)
    np.testing.assert_allclose(transform_points(transform_points(pts, aligned.matrix), aligned.inverse), pts, atol=1e-9)
    np.testing.assert_allclose(transform_points(pts, aligned.matrix), template(128), atol=1e-3)
    np.testing.assert_allclose(invert_affine(aligned.inverse), aligned.matrix, atol=1e-12)


def test_crop_is_float_in_unit_range_for_8_and_16_bit():
    lm = _landmarks_for((300, 250), (360, 262))
    for dtype in (np.uint8, np.uint16):
        crop = align_face(_blob_image((330, 300), sigma=5, dtype=dtype), lm, 128).image
        assert crop.dtype == np.float32 and crop.shape == (128, 128, 3)
        assert 0.9 < crop.max() <= 1.0 and crop.min() >= 0.0


def test_face_cut_by_the_border_still_aligns():
    lm = _landmarks_for((-5, 40), (40, 40))  # left eye outside the image
    aligned = align_face(np.full((200, 200, 3), 128, np.uint8), lm, 128)
    assert aligned.image.shape == (128, 128, 3)


def test_face_outside_the_image_is_refused():
    with pytest.raises(ValueError):
        warp_to_crop(np.zeros((100, 100, 3), np.uint8), np.array([[1, 0, 5000.0], [0, 1, 5000.0]]), 128)


def test_a_16_px_crop_is_the_128_px_crop_shrunk_like_the_training_inputs(astronaut, astronaut_landmarks):
    """The 16 -> 128 model was trained on 128 px crops shrunk by area averaging: the app's 16 px crop must be
    that same image (sampled directly at 16 px it was aliased and shifted by 0.44 px, and cost the model 5 dB)."""
    import cv2

    from frstudio.core.align import resize_matrix

    full = align_face(astronaut, astronaut_landmarks, 128)
    small = align_face(astronaut, astronaut_landmarks, 16)
    np.testing.assert_allclose(small.image, cv2.resize(full.image, (16, 16), interpolation=cv2.INTER_AREA), atol=1e-5)
    # the matrices agree with cv2.resize's pixel-centre convention: the template's eyes land where they should
    np.testing.assert_allclose(transform_points(five_points(astronaut_landmarks), small.matrix),
                               transform_points(transform_points(five_points(astronaut_landmarks), full.matrix), resize_matrix(128, 16)))
    np.testing.assert_allclose(template(16), (TEMPLATE_128 + 0.5) / 8 - 0.5)


def test_a_128_px_restoration_of_a_16_px_crop_goes_back_where_the_face_was(astronaut, astronaut_landmarks):
    """A perfect 16 -> 128 model (it returns the true 128 px crop) blended back leaves the photo as it was."""
    from frstudio.core.blend import BlendSettings, blend_face

    full = align_face(astronaut, astronaut_landmarks, 128)
    small = align_face(astronaut, astronaut_landmarks, 16)
    pixels = astronaut.copy()
    blend_face(pixels, full.image, small, astronaut_landmarks, BlendSettings(match_tone=False))
    x0, y0 = astronaut_landmarks.min(0).astype(int)
    x1, y1 = astronaut_landmarks.max(0).astype(int)
    diff = np.abs(pixels[y0:y1, x0:x1].astype(float) - astronaut[y0:y1, x0:x1].astype(float)).mean()
    assert diff < 2.0, diff  # resampling twice; a 3.5 px shift of the face gave ~10 levels
