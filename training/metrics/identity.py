"""Geometry and identity metrics: LMD, dlib descriptor distance and match rate, iPrecision / iRecall.

These take arrays computed elsewhere (68 landmarks, dlib's 128-d face descriptors, identity labels) so they
are plain numpy and testable without dlib.

iPrecision / iRecall (seed 001, "Rethinking Deep Face Restoration", Sec. 3.3, eqs. 11-12)
---------------------------------------------------------------------------------------
With E_r the real (ground-truth) embeddings, E_g the restored ones (paired: a restored face carries the
identity of the photo it was restored from), kappa the Euclidean distance and NN_k(e', E) the k-th nearest
neighbour of e' within its own set E (itself excluded, as in Kynkäänniemi et al. 2019, which the metric
adapts)::

    iPred(e, E) = 1(I_e = I_e')  if there is an e' in E with kappa(e, e') <= kappa(e', NN_k(e', E)),  else 0
    iPrecision  = mean over e_g in E_g of iPred(e_g, E_r)
    iRecall     = mean over e_r in E_r of iPred(e_r, E_g)

Reading of the "exists" (the paper's appendix pseudo-code is not available to us): iPred(e, E) = 1 when e
lies inside the k-NN ball of *some* e' in E that has e's identity; a ball of another identity neither helps
nor hurts (Fig. 4 (e): e in the ball of e'_2 of another person does not count). This is the reading under
which, as the paper reports, precision and recall can only grow with k, and under which k = 1 means "closer
to a photo of the same person than that photo's nearest other real photo". Without identity labels
(all identities equal) it reduces exactly to Kynkäänniemi's precision and recall.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DLIB_SAME_PERSON = 0.6


def lmd(landmarks_a: np.ndarray, landmarks_b: np.ndarray) -> float:
    """Landmark distance: mean Euclidean distance between corresponding points.

    landmarks_a, landmarks_b: (68, 2) arrays, or (N, 68, 2) for N faces (mean over all points of all faces),
    in pixels of the image they were found in (128 x 128 crops for the protocols).
    """
    a = np.asarray(landmarks_a, dtype=np.float64)
    b = np.asarray(landmarks_b, dtype=np.float64)
    if a.shape != b.shape or a.shape[-1] != 2:
        raise ValueError(f"landmark arrays must have equal shape (..., 2), got {a.shape} and {b.shape}")
    return float(np.linalg.norm(a - b, axis=-1).mean())


def identity_distances(restored: np.ndarray, ground_truth: np.ndarray) -> np.ndarray:
    """Per-face Euclidean distance between paired descriptors: (N, D) and (N, D) -> (N,) float64."""
    r = np.atleast_2d(np.asarray(restored, dtype=np.float64))
    g = np.atleast_2d(np.asarray(ground_truth, dtype=np.float64))
    if r.shape != g.shape:
        raise ValueError(f"descriptor arrays differ in shape: {r.shape} vs {g.shape}")
    return np.linalg.norm(r - g, axis=1)


@dataclass(frozen=True)
class IdentityScores:
    """mean_distance: mean descriptor distance; match_rate: share of faces under the threshold;
    distances: the per-face distances (N,)."""

    mean_distance: float
    match_rate: float
    distances: np.ndarray


def identity_scores(
    restored: np.ndarray, ground_truth: np.ndarray, threshold: float = DLIB_SAME_PERSON
) -> IdentityScores:
    """dlib identity metrics of paired descriptors (N, 128): mean distance and share with distance < threshold."""
    d = identity_distances(restored, ground_truth)
    return IdentityScores(float(d.mean()), float((d < threshold).mean()), d)


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix (len(a), len(b)), exact to round-off (no Gram-matrix cancellation)."""
    out = np.empty((a.shape[0], b.shape[0]))
    step = max(1, 2**22 // max(1, b.shape[0] * a.shape[1]))
    for i in range(0, a.shape[0], step):
        out[i:i + step] = np.linalg.norm(a[i:i + step, None, :] - b[None, :, :], axis=-1)
    return out


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row of the same set: (N,) float64."""
    f = np.asarray(features, dtype=np.float64)
    if not 1 <= k < f.shape[0]:
        raise ValueError(f"k must be in [1, N-1] for a set of N = {f.shape[0]}, got {k}")
    d = _pairwise(f, f)
    np.fill_diagonal(d, np.inf)  # exclude the point itself
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def ipred(
    queries: np.ndarray, query_ids: np.ndarray, reference: np.ndarray, reference_ids: np.ndarray, k: int = 4
) -> np.ndarray:
    """iPred(e, E) for every query e: (M,) int array of 0/1.

    queries (M, D) with identities query_ids (M,); reference set E (N, D) with reference_ids (N,).
    1 where the query lies within the k-NN ball (radius taken inside E) of a reference of the same identity.
    """
    q = np.asarray(queries, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    qid, rid = np.asarray(query_ids), np.asarray(reference_ids)
    if q.ndim != 2 or ref.ndim != 2 or q.shape[1] != ref.shape[1]:
        raise ValueError(f"need (M, D) and (N, D) arrays, got {q.shape} and {ref.shape}")
    if qid.shape != (q.shape[0],) or rid.shape != (ref.shape[0],):
        raise ValueError("one identity label per feature row is needed")
    radii = knn_radii(ref, k)
    inside = _pairwise(q, ref) <= radii[None, :]
    same = qid[:, None] == rid[None, :]
    return (inside & same).any(axis=1).astype(int)


def iprecision_irecall(
    real: np.ndarray,
    generated: np.ndarray,
    real_ids: np.ndarray,
    generated_ids: np.ndarray | None = None,
    k: int = 4,
) -> tuple[float, float]:
    """(iPrecision, iRecall) of restored embeddings against real ones, seed 001 eqs. 11-12.

    real: (N, D) ground-truth embeddings; generated: (M, D) restored embeddings; real_ids: (N,) identities;
    generated_ids: (M,) identities of the restored faces, by default the same as real_ids (paired sets).
    """
    gen_ids = np.asarray(real_ids if generated_ids is None else generated_ids)
    precision = ipred(generated, gen_ids, real, real_ids, k).mean()
    recall = ipred(real, real_ids, generated, gen_ids, k).mean()
    return float(precision), float(recall)
