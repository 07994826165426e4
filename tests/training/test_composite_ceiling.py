"""benchmarks/composite_ceiling.py: the face-only ceiling the FRR-Net card quotes."""

import numpy as np

from tests.support.benchmarks import load_benchmark


def _module():
    return load_benchmark("composite_ceiling")


def test_a_perfect_face_gains_only_what_the_mask_covers(tiny_prepared):
    from training.data.dataset import FaceCache, ProtocolFaces

    faces = ProtocolFaces(FaceCache(tiny_prepared[0]), "frrnet")
    r = _module().ceiling(faces, 4)
    assert r["n"] == min(4, len(faces)) and 0.1 < r["mask_share"] < 0.9
    assert r["ceiling"] > r["input"]  # the face is restored perfectly...
    assert np.isfinite(r["ceiling"])  # ...but the background is not: never the infinite PSNR of a perfect crop
