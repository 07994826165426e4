"""Tests of training/data/dataset.py (and the prepare run and CLI commands that feed and show it), on the
tiny face set of conftest.py."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import torch

from training.data.dataset import (
    MIRROR_68,
    DegradedFaces,
    FaceCache,
    ProtocolFaces,
    ReferencePairs,
    infinite_loader,
    loader_throughput,
    mirror_landmarks,
)

# (train rows, test rows) after prepare: the noise photo is dropped, the rest are kept in manifest order
TRAIN = [0, 1, 2, 3, 4, 5, 6, 11]
TEST = [7, 8, 9, 10, 12]


def same_item(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a
    )


# --------------------------------------------------------------------------------- prepare and cache


def test_prepare_summary_counts_the_dropped_photo(tiny_prepared):
    _, summary = tiny_prepared
    assert (summary["photos"], summary["faces"], summary["dropped"]) == (14, 13, 1)
    table = summary["by_source_split"]
    assert table["aaf"]["train"] == {"photos": 2, "faces": 1, "dropped": 1}
    assert table["celeba"]["train"]["dropped"] == 0 and table["celeba"]["test"]["faces"] == 4


def test_cache_loads_memory_mapped(tiny_cache):
    c = tiny_cache
    assert len(c) == 13
    assert isinstance(c.crops, np.memmap) and c.crops.shape == (13, 128, 128, 3) and c.crops.dtype == np.uint8
    assert c.landmarks.shape == (13, 68, 2) and c.masks.shape == (13, 128, 128) and c.descriptors.shape == (13, 128)
    assert "aaf/00003A33.webp" not in set(c.file)  # the noise photo
    assert c.row(11)["source"] == "aaf" and c.age[11] == 25 and np.isnan(c.age[0]) and c.identity[11] == ""


def test_cache_reopens_its_arrays_when_pickled(tiny_cache):
    import pickle

    blob = pickle.dumps(tiny_cache)
    assert len(blob) < 20_000  # the table only: the arrays are reopened, not copied
    copy = pickle.loads(blob)
    assert np.array_equal(copy.crops[3], tiny_cache.crops[3])


def test_indices_per_split_source_identity_and_sharpness(tiny_cache):
    c = tiny_cache
    assert c.indices("train").tolist() == TRAIN
    assert c.indices("test").tolist() == TEST
    assert c.indices("val").tolist() == []
    assert c.indices("test", sources=("aaf",)).tolist() == [12]
    assert c.indices("train", with_identity=True).tolist() == TRAIN[:-1]
    threshold = c.sharpness_threshold("train", 0.25)
    sharp = c.indices("train", min_sharpness=threshold)
    assert 0 < len(sharp) < len(TRAIN) and (c.sharpness[sharp] >= threshold).all()


def test_missing_cache_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="training prepare"):
        FaceCache(tmp_path)


# ---------------------------------------------------------------------------------------------- items


@pytest.mark.parametrize("pipeline, lq_size, n_labels", [
    ("frrnet", 128, 3), ("frrnet-train", 128, 3), ("bfr-severe", 128, 0), ("seed003-16", 16, 0), ("gfrnet-4x", 128, 0), ("oldphoto", 128, 0),
])
def test_item_shapes_dtypes_ranges(tiny_cache, pipeline, lq_size, n_labels):
    item = DegradedFaces(tiny_cache, TRAIN, pipeline, seed=1)[2]
    expected = {"lq": (3, lq_size, lq_size), "hq": (3, 128, 128), "landmarks": (68, 2), "mask": (1, 128, 128),
                "descriptor": (128,), "labels": (n_labels,)}
    for key, shape in expected.items():
        assert item[key].shape == shape, key
        assert item[key].dtype == torch.float32, key
    for key in ("lq", "hq"):
        assert 0 <= item[key].min() and item[key].max() <= 1
    assert set(item["mask"].unique().tolist()) == {0.0, 1.0}
    assert set(item["labels"].tolist()) <= {0.0, 1.0}
    assert item["index"] == TRAIN[2]
    assert not torch.equal(item["lq"], item["hq"]) or pipeline == "frrnet-train"  # training leaves 15 % intact


def test_hq_is_the_cache_crop_and_a_callable_pipeline_works(tiny_cache):
    from frstudio.core.degradations import Degraded

    ds = DegradedFaces(tiny_cache, TRAIN, lambda img, rng: Degraded(img * 0.5, {}), flip=False)
    item = ds[0]
    assert torch.equal(item["hq"], torch.from_numpy(tiny_cache.crops[0].transpose(2, 0, 1) / np.float32(255)))
    assert torch.allclose(item["lq"], item["hq"] * 0.5)
    assert item["labels"].shape == (0,)


def test_items_are_deterministic_per_seed_epoch_index(tiny_cache):
    a = DegradedFaces(tiny_cache, TRAIN, "bfr-severe", seed=3)
    b = DegradedFaces(tiny_cache, TRAIN, "bfr-severe", seed=3)
    assert same_item(a[1], b[1])
    assert not torch.equal(a[1]["lq"], a[2]["lq"])  # another item
    b.set_epoch(1)
    assert not torch.equal(a[1]["lq"], b[1]["lq"])  # another epoch
    assert same_item(a[(1, 1)], b[1])  # the epoch may be named with the index
    c = DegradedFaces(tiny_cache, TRAIN, "bfr-severe", seed=4)
    assert not torch.equal(a[1]["lq"], c[1]["lq"])  # another seed


def test_flips_happen_about_half_the_time(tiny_cache):
    from frstudio.core.degradations import Degraded

    ds = DegradedFaces(tiny_cache, TRAIN, lambda img, rng: Degraded(img, {}))
    crops = [torch.from_numpy(tiny_cache.crops[r].transpose(2, 0, 1) / np.float32(255)) for r in TRAIN]
    flips = sum(not torch.equal(ds[(epoch, i)]["hq"], crops[i]) for epoch in range(5) for i in range(len(ds)))
    assert 8 <= flips <= 32  # of 40, p = .5
    unflipped = DegradedFaces(tiny_cache, TRAIN, lambda img, rng: Degraded(img, {}), flip=False)
    assert all(torch.equal(unflipped[(epoch, 0)]["hq"], crops[0]) for epoch in range(5))


# ---------------------------------------------------------------------------------------------- flips


def test_mirror_permutation_is_an_involution_that_swaps_sides():
    assert sorted(MIRROR_68.tolist()) == list(range(68))
    assert np.array_equal(MIRROR_68[MIRROR_68], np.arange(68))
    assert set(MIRROR_68[36:42]) == set(range(42, 48))  # left eye <- right eye
    assert MIRROR_68[36] == 45 and MIRROR_68[39] == 42  # outer corner <- outer corner, inner <- inner
    assert MIRROR_68[0] == 16 and MIRROR_68[8] == 8 and MIRROR_68[17] == 26  # jaw ends, chin, brow ends
    assert MIRROR_68[48] == 54 and MIRROR_68[51] == 51 and MIRROR_68[62] == 62  # mouth corners, lip centres
    assert all(MIRROR_68[k] == k for k in (27, 28, 29, 30, 33, 57, 66))  # the midline stays


def test_mirroring_twice_gives_the_landmarks_back(tiny_cache):
    lm = np.asarray(tiny_cache.landmarks[0])
    assert np.allclose(mirror_landmarks(mirror_landmarks(lm)), lm, atol=1e-5)  # float32 127 - (127 - x)


def bilinear(img: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Sample H x W x 3 float32 at (x, y) points with pixel centres at integers (OpenCV's convention)."""
    xs = np.ascontiguousarray(points[:, 0:1], np.float32)
    ys = np.ascontiguousarray(points[:, 1:2], np.float32)
    return cv2.remap(np.ascontiguousarray(img), xs, ys, cv2.INTER_LINEAR)[:, 0]


def flipped_item(ds: DegradedFaces, i: int) -> tuple[dict, int]:
    """The first epoch where item i comes out mirrored."""
    for epoch in range(50):
        rng = ds.item_rng(i, epoch)
        if rng.random() < 0.5:
            return ds[(epoch, i)], epoch
    raise AssertionError("no flip in 50 epochs")


def test_flipped_landmarks_sit_on_the_flipped_features(tiny_cache):
    from frstudio.core.degradations import Degraded

    ds = DegradedFaces(tiny_cache, TRAIN, lambda img, rng: Degraded(img, {}), seed=0)
    row = TRAIN[0]
    item, _ = flipped_item(ds, 0)
    original = tiny_cache.crops[row].astype(np.float32) / 255
    lm = np.asarray(tiny_cache.landmarks[row], np.float64)
    flipped = item["hq"].numpy().transpose(1, 2, 0)
    flm = item["landmarks"].numpy().astype(np.float64)
    assert np.array_equal(flipped, original[:, ::-1])
    assert np.array_equal(item["mask"][0].numpy(), tiny_cache.masks[row][:, ::-1])
    # the image's left eye after the flip is the mirror of its right eye before
    assert flm[36:42, 0].mean() == pytest.approx(127 - lm[42:48, 0].mean(), abs=1e-4)
    assert flm[36:42, 1].mean() == pytest.approx(lm[42:48, 1].mean(), abs=1e-4)
    # each point sees the same colour as before, to float precision: proves x' = W - 1 - x (x' = W - x
    # would sample a pixel off, and the face's edges would show it)
    assert np.abs(bilinear(flipped, flm) - bilinear(original, lm[MIRROR_68])).max() < 1e-5
    # and dlib, fitting landmarks afresh on the flipped crop, agrees with the mirrored points
    from frstudio.core.detect import landmarks_in_box

    crop8 = np.ascontiguousarray(np.round(flipped * 255).astype(np.uint8))
    box = (flm[:, 0].min(), flm[:, 1].min(), flm[:, 0].max() + 1, flm[:, 1].max() + 1)
    fitted = landmarks_in_box(crop8, box)
    for eye in (slice(36, 42), slice(42, 48)):
        assert np.linalg.norm(fitted[eye].mean(axis=0) - flm[eye].mean(axis=0)) < 2.0


def test_flipped_item_lq_is_the_degraded_flipped_hq(tiny_cache):
    from frstudio.core.degradations import Degraded

    ds = DegradedFaces(tiny_cache, TRAIN, lambda img, rng: Degraded(1 - img, {}), seed=0)
    item, _ = flipped_item(ds, 1)
    assert torch.allclose(item["lq"], 1 - item["hq"])
    assert torch.equal(item["descriptor"], torch.from_numpy(np.array(tiny_cache.descriptors[TRAIN[1]])))


# ------------------------------------------------------------------------------------------ protocol


def test_protocol_faces_are_the_same_on_every_instance(tiny_cache):
    from frstudio.core.degradations import protocol_rng, seed003_128

    a, b = ProtocolFaces(tiny_cache, "seed003-128"), ProtocolFaces(tiny_cache, "seed003-128")
    assert len(a) == len(TEST)
    for i in range(len(a)):
        assert same_item(a[i], b[i])
    a.set_epoch(7)
    assert same_item(a[2], b[2])
    # exactly docs/evaluation.md's input: the pipeline seeded from (protocol, file name)
    row = TEST[2]
    expected = seed003_128(tiny_cache.crops[row].astype(np.float32) / 255, protocol_rng("seed003-128", tiny_cache.file[row]))
    assert np.array_equal(a[2]["lq"].numpy().transpose(1, 2, 0), expected.image)
    # and independent of the subset asked for
    assert same_item(ProtocolFaces(tiny_cache, "seed003-128", indices=[row])[0], a[2])


def test_protocol_16_gives_a_16_pixel_input(tiny_cache):
    item = ProtocolFaces(tiny_cache, "seed003-16")[0]
    assert item["lq"].shape == (3, 16, 16) and item["hq"].shape == (3, 128, 128)


# ------------------------------------------------------------------------------------------ references


@pytest.mark.parametrize("mode", ["best", "random"])
def test_references_are_another_photo_of_the_same_person(tiny_cache, mode):
    pairs = ReferencePairs(tiny_cache, "train", "gfrnet-train", mode=mode, seed=2)
    assert len(pairs) == 7  # people 101 and 102; the aaf row has no identity
    for epoch in range(2):
        pairs.set_epoch(epoch)
        for i in range(len(pairs)):
            item = pairs[i]
            assert item["ref_index"] != item["index"]
            assert tiny_cache.identity[item["ref_index"]] == tiny_cache.identity[item["index"]]
            assert item["ref"].shape == (3, 128, 128) and item["ref"].dtype == torch.float32
            assert item["ref_landmarks"].shape == (68, 2)


def test_best_reference_is_sharp_and_frontal_and_fixed(tiny_cache):
    pairs = ReferencePairs(tiny_cache, "train", "gfrnet-train", mode="best", flip=False)
    refs = {pairs[i]["index"]: pairs[i]["ref_index"] for i in range(len(pairs))}
    for target, ref in refs.items():
        mates = [r for r in pairs.people[tiny_cache.identity[target]] if r != target]
        assert pairs.rank[ref] == max(pairs.rank[m] for m in mates)
    pairs.set_epoch(3)
    assert {pairs[i]["index"]: pairs[i]["ref_index"] for i in range(len(pairs))} == refs
    # unflipped, the reference is the cache's crop
    item = pairs[0]
    assert torch.equal(item["ref"], torch.from_numpy(tiny_cache.crops[item["ref_index"]].transpose(2, 0, 1) / np.float32(255)))


def test_different_mode_picks_another_person(tiny_cache):
    pairs = ReferencePairs(tiny_cache, "train", "frrnet", mode="different")
    for i in range(len(pairs)):
        item = pairs[i]
        assert tiny_cache.identity[item["ref_index"]] != tiny_cache.identity[item["index"]]
        assert tiny_cache.identity[item["ref_index"]] != ""


def test_a_share_of_wrong_references_is_flagged(tiny_cache):
    pairs = ReferencePairs(tiny_cache, "train", "frrnet", mode="random", wrong_share=0.5, seed=3)
    same = []
    for epoch in range(4):
        for i in range(len(pairs)):
            item = pairs[(epoch, i)]
            is_same = tiny_cache.identity[item["ref_index"]] == tiny_cache.identity[item["index"]]
            assert item["ref_same"] == float(is_same)
            same.append(is_same)
    assert 0.2 < np.mean(same) < 0.8
    plain = ReferencePairs(tiny_cache, "train", "frrnet", mode="random", seed=3)
    assert all(plain[i]["ref_same"] == 1.0 for i in range(len(plain)))


def test_single_photo_people_are_skipped(tiny_cache):
    pairs = ReferencePairs(tiny_cache, "test", "gfrnet-4x", protocol=True)
    assert sorted(pairs[i]["index"] for i in range(len(pairs))) == [7, 8, 9]  # not 10: person 104 has one photo
    again = ReferencePairs(tiny_cache, "test", "gfrnet-4x", protocol=True)
    assert same_item(pairs[1], again[1])
    with pytest.raises(ValueError, match="two people"):
        ReferencePairs(tiny_cache, "test", "gfrnet-4x", mode="different")


# ------------------------------------------------------------------------------------------- loading


def test_infinite_loader_batches_and_epochs(tiny_cache):
    ds = DegradedFaces(tiny_cache, TRAIN, "gfrnet-4x", seed=5)
    batches = list(itertools.islice(infinite_loader(ds, batch_size=3, workers=0, seed=1), 5))
    for b in batches:
        assert b["lq"].shape == (3, 3, 128, 128) and b["landmarks"].shape == (3, 68, 2) and b["index"].shape == (3,)
    # 8 items, batch 3: two full batches per epoch, the last two items dropped; each epoch a new order
    epoch0 = torch.cat([batches[0]["index"], batches[1]["index"]]).tolist()
    epoch1 = torch.cat([batches[2]["index"], batches[3]["index"]]).tolist()
    assert len(set(epoch0)) == 6 and len(set(epoch1)) == 6 and epoch0 != epoch1
    assert ds.epoch == 2  # the main copy follows
    again = next(infinite_loader(DegradedFaces(tiny_cache, TRAIN, "gfrnet-4x", seed=5), 3, workers=0, seed=1))
    assert same_item(again, batches[0])


def test_infinite_loader_is_the_same_with_a_worker(tiny_cache):
    make = lambda: DegradedFaces(tiny_cache, TRAIN, "bfr-severe", seed=5)  # noqa: E731
    inline = list(itertools.islice(infinite_loader(make(), 4, workers=0, seed=2), 3))
    stream = infinite_loader(make(), 4, workers=1, seed=2)
    worked = list(itertools.islice(stream, 3))
    stream.close()
    for a, b in zip(inline, worked):
        assert same_item(a, b)  # the third batch is epoch 1's: the worker saw the epoch change


def test_reference_pairs_go_through_the_loader(tiny_cache):
    batch = next(infinite_loader(ReferencePairs(tiny_cache, "train", "frrnet", mode="random"), 4, workers=0))
    assert batch["ref"].shape == (4, 3, 128, 128) and batch["labels"].shape == (4, 3)


def test_loader_throughput_is_positive(tiny_cache):
    assert loader_throughput(DegradedFaces(tiny_cache, TRAIN, "gfrnet-4x"), batch_size=4, workers=0, batches=2) > 0


# ---------------------------------------------------------------------------------------------- CLI


def test_montage_command_writes_the_grid(tiny_prepared, tmp_path):
    from training.__main__ import main
    from training.data.dataset import PIPELINES  # the app's and the training-only marked ones
    from training.montage import montage_columns, montage_size

    out = tmp_path / "montage.png"
    assert main(["degradations", "--montage", str(out), "--cache", str(tiny_prepared[0]), "--n", "2"]) == 0
    img = cv2.imread(str(out))
    assert img.shape == (*montage_size(2), 3)
    n = 1 + len(PIPELINES)  # HQ, then every pipeline
    assert len(montage_columns()) == n and montage_size(2) == (22 + 2 * 132 - 4, n * 132 - 4)


def test_montage_without_a_cache_uses_the_sample(tmp_path, capsys):
    from training.__main__ import main
    from training.montage import montage_size

    out = tmp_path / "sample.png"
    assert main(["degradations", "--montage", str(out), "--cache", str(tmp_path / "none"), "--n", "1"]) == 0
    assert "astronaut.jpg" in capsys.readouterr().out
    assert cv2.imread(str(out)).shape == (*montage_size(1), 3)


def test_loader_speed_command(tiny_prepared, capsys):
    from training.__main__ import main

    assert main(["loader-speed", "--cache", str(tiny_prepared[0]), "--pipelines", "frrnet", "--workers", "0",
                 "--batch", "4", "--batches", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].split()[:2] == ["frrnet", "0"] and float(lines[-1].split()[2]) > 0


def test_mix_montage_shows_draws_of_one_training_mix(tiny_prepared, tmp_path):
    import cv2

    from training.__main__ import main
    from training.montage import montage_size

    out = tmp_path / "mix.png"
    assert main(["degradations", "--montage", str(out), "--cache", str(tiny_prepared[0]), "--n", "2", "--mix", "restore-mix", "--draws", "3"]) == 0
    img = cv2.imread(str(out))
    assert img.shape == (*montage_size(2, 4), 3)
