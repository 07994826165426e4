"""Tests of training/metrics against values worked out by hand, closed forms, and an independent
implementation (scikit-image) where one exists."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from training import metrics as M
from training.metrics.fidelity import _ssim_and_cs, gaussian_window


def natural_ish(size: int = 128, seed: int = 0) -> np.ndarray:
    """RGB 0-255 float64: blurred random texture plus a gradient; deterministic."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)), (0, 0), 1.5)
    img = 0.5 * img + np.linspace(0, 120, size)[None, :, None]
    return np.clip(img, 0, 255)


A = natural_ish()
B = np.clip(cv2.GaussianBlur(A, (0, 0), 1.0) + np.random.default_rng(1).normal(0, 6, A.shape), 0, 255)

# --------------------------------------------------------------------------------------- PSNR


def test_psnr_of_a_constant_offset():
    a = np.full((32, 32, 3), 100.0)
    assert M.psnr(a, a + 5, channel="rgb") == pytest.approx(20 * math.log10(255 / 5))
    # a grey offset d moves Y by d * (65.481 + 128.553 + 24.966) / 255 = d * 219 / 255
    assert M.psnr(a, a + 5) == pytest.approx(20 * math.log10(255 / (5 * 219 / 255)))
    assert M.psnr(a, a) == math.inf


def test_rgb_to_y_range():
    assert M.rgb_to_y(np.zeros((1, 1, 3)))[0, 0] == pytest.approx(16.0)
    assert M.rgb_to_y(np.full((1, 1, 3), 255.0))[0, 0] == pytest.approx(235.0)


# --------------------------------------------------------------------------------------- SSIM


def test_ssim_identical_is_one_and_symmetric():
    assert M.ssim(A, A) == pytest.approx(1.0)
    assert M.ssim(A, A, channel="rgb") == pytest.approx(1.0)
    assert M.ssim(A, B) == pytest.approx(M.ssim(B, A))
    assert 0 < M.ssim(A, B) < 1
    with pytest.raises(ValueError):
        M.ssim(A, B[:-1])
    with pytest.raises(ValueError):
        M.ssim(A, B, channel="lab")


def test_face_psnr_reads_only_the_masked_pixels():
    truth = np.full((8, 8, 3), 100.0)
    img = truth.copy()
    img[:, :4] += 40  # damage outside the face only
    mask = np.zeros((8, 8))
    mask[:, 4:] = 1
    assert M.face_psnr(img, truth, mask) == math.inf and M.psnr(img, truth) < 30
    img[:, 4:] += 5
    assert M.face_psnr(img, truth, mask) == pytest.approx(M.psnr(img[:, 4:], truth[:, 4:]))
    with pytest.raises(ValueError, match="empty"):
        M.face_psnr(img, truth, np.zeros((8, 8)))


def test_ssim_and_psnr_match_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    kw = dict(data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    ref_rgb = skm.structural_similarity(A, B, channel_axis=-1, **kw)
    ref_y = skm.structural_similarity(M.rgb_to_y(A), M.rgb_to_y(B), **kw)
    assert M.ssim(A, B, channel="rgb") == pytest.approx(ref_rgb, abs=1e-9)
    assert M.ssim(A, B) == pytest.approx(ref_y, abs=1e-9)
    assert M.psnr(A, B, channel="rgb") == pytest.approx(skm.peak_signal_noise_ratio(A, B, data_range=255), abs=1e-9)


def test_ssim_of_constant_images_is_the_luminance_term():
    # flat images: every variance is 0, so cs = C2 / C2 = 1 and SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b, c1 = 80.0, 120.0, (0.01 * 255) ** 2
    lum = (2 * a * b + c1) / (a * a + b * b + c1)
    x, y = np.full((64, 64), a), np.full((64, 64), b)
    assert M.ssim(x, y) == pytest.approx(lum)
    # MS-SSIM: cs = 1 at the first four scales, so only the last scale's luminance term remains
    assert M.ms_ssim(x, y) == pytest.approx(lum ** M.fidelity.MS_SSIM_WEIGHTS[-1])


def test_small_window_rule_by_hand():
    """At 8 x 8 (the 5th scale of a 128 face) the window is 8 x 8 with sigma 1.5 * 8 / 11, one 'valid'
    position: SSIM is the formula on the window-weighted moments of the whole image, written out here."""
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 255, (8, 8)), rng.uniform(0, 255, (8, 8))
    g = np.exp(-((np.arange(8) - 3.5) ** 2) / (2 * (1.5 * 8 / 11) ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    np.testing.assert_allclose(gaussian_window(8, 1.5 * 8 / 11), w)
    mx, my = (w * x).sum(), (w * y).sum()
    vx, vy, cxy = (w * x * x).sum() - mx**2, (w * y * y).sum() - my**2, (w * x * y).sum() - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    cs = (2 * cxy + c2) / (vx + vy + c2)
    s = (2 * mx * my + c1) / (mx**2 + my**2 + c1) * cs
    got_s, got_cs = _ssim_and_cs(x[..., None], y[..., None], 255.0, 11, 1.5, 0.01, 0.03)
    assert got_s == pytest.approx(s) and got_cs == pytest.approx(cs)


# ------------------------------------------------------------------------------------ MS-SSIM


def test_ms_ssim_basics():
    assert M.ms_ssim(A, A) == pytest.approx(1.0)
    assert M.ms_ssim(A, A, channel="rgb") == pytest.approx(1.0)
    v = M.ms_ssim(A, B)
    assert 0 < v < 1 and math.isfinite(v)
    # one scale with weight 1 is plain SSIM
    assert M.ms_ssim(A, B, weights=(1.0,)) == pytest.approx(M.ssim(A, B))
    # a strong blur loses more than B's mild blur + noise (a case single-scale SSIM ranks the other way)
    worse = np.clip(cv2.GaussianBlur(A, (0, 0), 3.0), 0, 255)
    assert M.ms_ssim(A, worse) < M.ms_ssim(A, B) and M.ssim(A, worse) > M.ssim(A, B)
    with pytest.raises(ValueError):
        M.ms_ssim(A[:8, :8], B[:8, :8])


def test_ms_ssim_by_hand_from_scales():
    """MS-SSIM = prod_{j<5} cs_j^w_j * ssim_5^w_5, with the 2 x 2 mean down-sampling between scales."""
    x, y = M.rgb_to_y(A)[..., None], M.rgb_to_y(B)[..., None]
    terms = []
    for _ in range(5):
        terms.append(_ssim_and_cs(x, y, 255.0, 11, 1.5, 0.01, 0.03))
        x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2, 1).mean(axis=(1, 3))
        y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2, 1).mean(axis=(1, 3))
    w = M.fidelity.MS_SSIM_WEIGHTS
    expected = np.prod([terms[j][1] ** w[j] for j in range(4)]) * terms[4][0] ** w[4]
    assert M.ms_ssim(A, B) == pytest.approx(expected, rel=1e-9)


# ----------------------------------------------------------------------------- LMD and identity


def test_lmd():
    a = np.random.default_rng(0).uniform(0, 128, (68, 2))
    assert M.lmd(a, a + np.array([3.0, 4.0])) == pytest.approx(5.0)
    batch = np.stack([a, a])
    moved = batch.copy()
    moved[1] += np.array([0.0, 2.0])
    assert M.lmd(batch, moved) == pytest.approx(1.0)  # mean of 0 and 2
    with pytest.raises(ValueError):
        M.lmd(a, a[:5])


def test_identity_scores():
    gt = np.zeros((3, 128))
    restored = np.zeros((3, 128))
    restored[0, 0], restored[1, 5], restored[2, 9] = 0.3, 0.7, 0.5
    s = M.identity_scores(restored, gt)
    assert s.mean_distance == pytest.approx(0.5)
    assert s.match_rate == pytest.approx(2 / 3)
    np.testing.assert_allclose(s.distances, [0.3, 0.7, 0.5])
    assert M.identity_scores(restored, gt, threshold=0.4).match_rate == pytest.approx(1 / 3)


# ------------------------------------------------------------------------- iPrecision / iRecall

# Worked out on paper (all points on the plane, k = 1):
#   real       r0 (0,0) A   r1 (1,0) B   r2 (3,0) C   r3 (6,0) D   r4 (10,0) E
#   k=1 radii  1            1            2            3            4
#   restored   g0 (0.5,0) A g1 (20,1) B  g2 (4.4,0) C g3 (8.5,0) D g4 (20,0) E
#   k=1 radii  3.9 (g2)     1 (g4)       3.9 (g0)     4.1 (g2)     1 (g1)
# iPrecision: g0 in r0's ball (0.5 <= 1), same id -> 1; g1 in no ball -> 0; g2 in r2's ball (1.4 <= 2) -> 1;
#   g3 in r3's ball (2.5 <= 3, D) -> 1 (it is also in r4's ball, of E, which does not matter); g4: 10 > 4 -> 0.
#   = 3/5.
# iRecall: r0 in g0's ball -> 1; r1: only g1 is B and 19.03 > 1 -> 0 (r1 is inside g0's ball, but g0 is A);
#   r2 in g2's -> 1; r3 in g3's (2.5 <= 4.1) -> 1; r4: g4 is E but 10 > 1 -> 0 (inside g3's ball, of D) = 3/5.
# Without identities (all equal) r1 and r4 would count: plain recall 1.0, plain precision still 3/5.
REAL = np.array([[0, 0], [1, 0], [3, 0], [6, 0], [10, 0]], float)
GEN = np.array([[0.5, 0], [20, 1], [4.4, 0], [8.5, 0], [20, 0]], float)
IDS = np.array(["A", "B", "C", "D", "E"])


def test_ipred_and_iprecision_irecall_on_the_worked_example():
    np.testing.assert_array_equal(M.ipred(GEN, IDS, REAL, IDS, k=1), [1, 0, 1, 1, 0])
    np.testing.assert_array_equal(M.ipred(REAL, IDS, GEN, IDS, k=1), [1, 0, 1, 1, 0])
    assert M.iprecision_irecall(REAL, GEN, IDS, k=1) == pytest.approx((0.6, 0.6))
    same = np.zeros(5, int)
    assert M.iprecision_irecall(REAL, GEN, same, same, k=1) == pytest.approx((0.6, 1.0))


def test_iprecision_irecall_k4_and_properties():
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(6), 5)  # 6 people, 5 photos each: the 4 nearest neighbours stay within a person
    centres = rng.normal(0, 1.0, (6, 16))
    real = centres[ids] + rng.normal(0, 0.1, (30, 16))
    # perfect restorations: every restored face sits on its own real face
    assert M.iprecision_irecall(real, real.copy(), ids) == (1.0, 1.0)
    # restored faces that look like someone else: tight on another person's cluster
    wrong = centres[(ids + 1) % 6] + rng.normal(0, 0.1, (30, 16))
    p, r = M.iprecision_irecall(real, wrong, ids)
    assert p == 0.0 and r == 0.0
    # growing k can only help (balls grow)
    noisy = real + rng.normal(0, 0.3, real.shape)
    values = [M.iprecision_irecall(real, noisy, ids, k=k) for k in (1, 2, 4, 8)]
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(values, values[1:]))
    with pytest.raises(ValueError):
        M.iprecision_irecall(real[:4], noisy[:4], ids[:4], k=4)  # k-th neighbour needs N > k


# ------------------------------------------------------------------------------------------ FD


def _with_exact_stats(rng, mu, cov, n=64):
    """Samples whose sample mean and (N - 1) covariance are exactly mu and cov."""
    z = rng.normal(size=(n, len(mu)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return z @ np.linalg.cholesky(cov).T + mu


def test_fd_closed_forms():
    # commuting (diagonal) covariances: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = 5.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert M.frechet_distance_from_stats(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)
    # non-commuting 2 x 2: Tr sqrt(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det(S1 S2)))
    s1 = np.array([[2.0, 0.8], [0.8, 1.0]])
    s2 = np.array([[1.0, -0.3], [-0.3, 3.0]])
    p = s1 @ s2
    tr_sqrt = math.sqrt(np.trace(p) + 2 * math.sqrt(np.linalg.det(p)))
    expected = np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert M.frechet_distance_from_stats(np.zeros(2), s1, np.zeros(2), s2) == pytest.approx(expected)
    # the same from feature sets with exactly those statistics
    rng = np.random.default_rng(0)
    f1 = _with_exact_stats(rng, np.array([1.0, 2.0]), s1)
    f2 = _with_exact_stats(rng, np.array([0.0, 0.0]), s2, n=90)
    assert M.frechet_distance(f1, f2) == pytest.approx(5.0 + expected)
    assert M.frechet_distance(f1, f1) == pytest.approx(0.0, abs=1e-8)


def test_fd_singular_covariances_do_not_fail():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(10, 32))  # fewer samples than dimensions: singular covariances
    g = rng.normal(size=(10, 32)) + 1.0
    v = M.frechet_distance(f, g)
    assert math.isfinite(v) and v > 0


# ---------------------------------------------------------------------------------------- NIQE


def dead_leaves(rng: np.random.Generator, size: int = 192) -> np.ndarray:
    """A 'dead leaves' picture (occluding discs of power-law sizes): sharp edges and scale-invariant
    statistics like natural images; RGB 0-255 float64."""
    img = np.full((size, size, 3), rng.uniform(0, 255, 3))
    for _ in range(600):
        r = int(np.clip(4 * rng.pareto(1.5) + 2, 2, size // 3))
        colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cv2.circle(img, (int(rng.integers(0, size)), int(rng.integers(0, size))), r, colour, -1, cv2.LINE_AA)
    return np.clip(img + rng.normal(0, 2, img.shape), 0, 255)


@pytest.fixture(scope="module")
def niqe_model():
    rng = np.random.default_rng(0)
    return M.fit_niqe([dead_leaves(rng) for _ in range(20)])


def test_niqe_features_shape():
    feats, sharp = M.niqe_features(dead_leaves(np.random.default_rng(1)), 96)
    assert feats.shape == (4, 36) and sharp.shape == (4,)
    assert np.isfinite(feats).all()
    with pytest.raises(ValueError):
        M.niqe_features(np.zeros((64, 64, 3)), 96)


def test_niqe_rises_with_blur_noise_and_jpeg(niqe_model):
    assert niqe_model.mu.shape == (36,) and niqe_model.cov.shape == (36, 36)
    test = dead_leaves(np.random.default_rng(99))
    clean = M.niqe(test, niqe_model)
    blurred = M.niqe(cv2.GaussianBlur(test, (0, 0), 2.0), niqe_model)
    noisy = M.niqe(np.clip(test + np.random.default_rng(1).normal(0, 20, test.shape), 0, 255), niqe_model)
    buf = cv2.imencode(".jpg", test.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 10])[1]
    jpeg = M.niqe(cv2.imdecode(buf, cv2.IMREAD_COLOR).astype(float), niqe_model)
    assert clean < blurred and clean < noisy and clean < jpeg
    # a 128 x 128 crop has a single patch (zero test covariance): still ordered
    crop = test[:128, :128]
    assert M.niqe(crop, niqe_model) < M.niqe(cv2.GaussianBlur(crop, (0, 0), 2.0), niqe_model)
    assert math.isnan(M.niqe(np.full((96, 96, 3), 128.0), niqe_model))  # flat: no statistics


def test_niqe_model_round_trip(niqe_model, tmp_path):
    path = tmp_path / "niqe.npz"
    niqe_model.save(path)
    loaded = M.NiqeModel.load(path)
    np.testing.assert_array_equal(loaded.mu, niqe_model.mu)
    np.testing.assert_array_equal(loaded.cov, niqe_model.cov)
    assert (loaded.patch_size, loaded.n_patches) == (96, niqe_model.n_patches)
    img = dead_leaves(np.random.default_rng(7))
    assert M.niqe(img, loaded) == M.niqe(img, niqe_model)


def test_fit_niqe_keeps_only_sharp_patches_and_needs_two():
    half_flat = dead_leaves(np.random.default_rng(3))
    half_flat[:, 96:] = 128.0  # right half flat: its patches have no local contrast
    model = M.fit_niqe([half_flat, dead_leaves(np.random.default_rng(4))])
    assert model.n_patches <= 2 + 4
    with pytest.raises(ValueError):
        M.fit_niqe([np.full((96, 96, 3), 50.0)])


def test_detail_ratio_is_one_for_the_clean_face_below_for_blur_above_for_noise():
    import cv2

    from training.metrics import detail_ratio

    rng = np.random.default_rng(0)
    clean = cv2.resize(rng.uniform(0, 255, (32, 32, 3)).astype(np.float32), (96, 96), interpolation=cv2.INTER_CUBIC).clip(0, 255)
    blurred = cv2.GaussianBlur(clean, (0, 0), 1.5)
    noisy = (clean + rng.normal(0, 8, clean.shape)).clip(0, 255)
    assert detail_ratio(clean, clean) == pytest.approx(1.0)
    assert detail_ratio(blurred, clean) < 0.5 and detail_ratio(noisy, clean) > 1.1
    mask = np.zeros((96, 96))
    mask[:, :48] = 1  # only the left half counts: blurring the right half changes nothing
    half = clean.copy()
    half[:, 50:] = blurred[:, 50:]
    assert detail_ratio(half, clean, mask) == pytest.approx(1.0) and detail_ratio(half, clean) < 0.9
    assert np.isnan(detail_ratio(clean, np.full_like(clean, 128.0)))
