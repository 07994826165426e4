"""Datasets over the prepared face cache (`python -m training prepare`).

* :class:`FaceCache` opens the cache: the flat arrays memory-mapped, the `faces.csv` table as numpy columns.
* :class:`DegradedFaces` is the training set: an HQ crop, randomly mirrored, degraded by one pipeline of
  `frstudio.core.degradations`. Item ``i`` of epoch ``e`` is a pure function of ``(seed, e, i)``.
* :class:`ProtocolFaces` is an evaluation set: the degradation is seeded from (protocol, file name) as
  docs/evaluation.md prescribes, so every run and machine sees the same inputs.
* :class:`ReferencePairs` adds a second photo of the same person (GFRNet's guidance), or of another person.
* :func:`infinite_loader` turns any of them into an endless, reproducible stream of batches.

Every item is a dict of tensors::

    lq          3 x S x S float32 [0, 1]   (S = 128, or 16 for seed003-16)
    hq          3 x 128 x 128 float32 [0, 1]
    landmarks   68 x 2 float32, crop pixels (pixel centres are integers, as in frstudio.core.align)
    mask        1 x 128 x 128 float32 {0, 1}
    descriptor  128 float32, dlib's descriptor of the *unflipped* face (see DegradedFaces)
    labels      float32: frrnet's [noise, blur, relight]; shape (0,) for the other pipelines
    index       int, the row of the cache (not the position in the dataset)
"""

from __future__ import annotations

import csv
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from frstudio.core.degradations import PIPELINES as FACE_PIPELINES
from frstudio.core.degradations import Degraded, protocol_rng
from training.data import marked

# The app's degradations and the training-only ones with print marks drawn by the scratch detector's generators.
PIPELINES = {**FACE_PIPELINES, **marked.PIPELINES}

CROP = 128
ARRAYS = ("crops", "landmarks", "masks", "descriptors")

# The multi-labels a pipeline reports, in the order the label tensor holds them.
LABEL_KEYS: dict[str, tuple[str, ...]] = {name: ("noise", "blur", "relight") for name in ("frrnet", "frrnet-train", "frrnet-train-lighting", "frrnet-lowlight", "everyday-damage", "restore-mix")}
LABEL_KEYS.update(marked.LABEL_KEYS)

# dlib's 68 points under a left-right mirror: after flipping, point k is the mirror image of point
# MIRROR_68[k] (the image's left eye corner becomes the right one, and so on). Points on the midline map to
# themselves. The permutation is its own inverse.
MIRROR_68 = np.array(
    list(range(16, -1, -1))                          # jaw 0..16, reversed
    + list(range(26, 16, -1))                        # brows 17..21 <-> 26..22
    + [27, 28, 29, 30]                               # nose bridge: on the midline
    + [35, 34, 33, 32, 31]                           # nostrils 31..35, reversed
    + [45, 44, 43, 42, 47, 46]                       # left eye 36..41 <- right eye (outer corner to outer corner)
    + [39, 38, 37, 36, 41, 40]                       # right eye 42..47 <- left eye
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lip 48..59: corners swap, 51 and 57 stay
    + [64, 63, 62, 61, 60, 67, 66, 65],              # inner lip 60..67: corners swap, 62 and 66 stay
    dtype=np.int64,
)


def mirror_landmarks(landmarks: np.ndarray, width: int = CROP) -> np.ndarray:
    """68 x 2 landmarks of a horizontally flipped image of ``width`` pixels.

    Pixel centres are at integer coordinates (OpenCV's and frstudio.core.align's convention), so column
    ``x`` lands on column ``width - 1 - x``. The points are then renumbered with :data:`MIRROR_68`, so that
    e.g. points 36-41 still describe the eye on the image's left.
    """
    mirrored = np.asarray(landmarks, np.float32).copy()
    mirrored[:, 0] = (width - 1) - mirrored[:, 0]
    return mirrored[MIRROR_68]


# ------------------------------------------------------------------------------------------- the cache


class FaceCache:
    """The prepared cache: a folder written by prepare (crops.npy, landmarks.npy, masks.npy, descriptors.npy,
    faces.csv).

    The arrays are memory-mapped read-only (``np.load(mmap_mode='r')``): loader workers share the page cache
    instead of each holding a copy, and opening a 30k-face cache is instant. The table is kept as numpy
    columns (``file``, ``source``, ``identity``, ``age``, ``gender``, ``split``, ``sharpness``, ``yaw``,
    ``eye_distance``, ``score``) so filters are vectorised. ``identity`` is ``""`` and ``age`` NaN where the
    manifest has none (aaf has no identities, celeba no ages).
    """

    crops: np.ndarray        # N x 128 x 128 x 3 uint8, RGB
    landmarks: np.ndarray    # N x 68 x 2 float32, crop pixels
    masks: np.ndarray        # N x 128 x 128 uint8 {0, 1}
    descriptors: np.ndarray  # N x 128 float32

    def __init__(self, root: Path | str):
        self.root = Path(root)
        missing = [f for f in (*(f"{a}.npy" for a in ARRAYS), "faces.csv") if not (self.root / f).is_file()]
        if missing:
            raise FileNotFoundError(f"{self.root} is not a prepared face cache (missing {', '.join(missing)}); "
                                    "run `python -m training prepare` first")
        self._open_arrays()
        with open(self.root / "faces.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        column = lambda key: [r[key] for r in rows]  # noqa: E731
        self.file = np.array(column("file"), dtype=object)
        self.source = np.array(column("source"), dtype=object)
        self.identity = np.array(column("identity"), dtype=object)
        self.gender = np.array(column("gender"), dtype=object)
        self.split = np.array(column("split"), dtype=object)
        self.age = np.array([float(a) if a else np.nan for a in column("age")], np.float32)
        self.sharpness = np.array(column("sharpness"), np.float64)
        self.yaw = np.array(column("yaw"), np.float64)
        self.eye_distance = np.array(column("eye_distance"), np.float64)
        self.score = np.array(column("score"), np.float64)
        if len(self.file) != len(self.crops):
            raise ValueError(f"{self.root}: faces.csv has {len(self.file)} rows but crops.npy {len(self.crops)}")

    def _open_arrays(self) -> None:
        for name in ARRAYS:
            setattr(self, name, np.load(self.root / f"{name}.npy", mmap_mode="r"))

    # A memmap pickles as a full in-memory copy; a worker started by spawn/forkserver reopens the files.
    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ARRAYS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open_arrays()

    def __len__(self) -> int:
        return len(self.file)

    def __repr__(self) -> str:
        return f"FaceCache({str(self.root)!r}, {len(self)} faces)"

    def row(self, index: int) -> dict:
        """One row of faces.csv as a dict (for reports and debugging)."""
        keys = ("file", "source", "identity", "age", "gender", "split", "sharpness", "yaw", "eye_distance", "score")
        return {k: getattr(self, k)[index] for k in keys}

    def indices(
        self,
        split: str,
        sources: tuple[str, ...] | None = None,
        min_sharpness: float | None = None,
        with_identity: bool = False,
    ) -> np.ndarray:
        """Rows (int64, ascending) of ``split``, optionally only from ``sources``, at least ``min_sharpness``
        sharp, and only those with a known identity."""
        keep = self.split == split
        if sources is not None:
            keep &= np.isin(self.source, list(sources))
        if min_sharpness is not None:
            keep &= self.sharpness >= min_sharpness
        if with_identity:
            keep &= self.identity != ""
        return np.flatnonzero(keep).astype(np.int64)

    def sharpness_threshold(self, split: str, quantile: float) -> float:
        """The sharpness below which the blurriest ``quantile`` of ``split`` lies.

        E.g. ``cache.indices("train", min_sharpness=cache.sharpness_threshold("train", 0.1))`` drops the
        blurriest 10 % for the HQ targets (some aaf photos are soft, see the data README).
        """
        values = self.sharpness[self.split == split]
        if values.size == 0:
            raise ValueError(f"no faces in split {split!r}")
        return float(np.quantile(values, quantile))


# ------------------------------------------------------------------------------------------ datasets

Pipeline = Callable[[np.ndarray, np.random.Generator], Degraded]


def _resolve_pipeline(pipeline: str | Pipeline, label_keys: Sequence[str] | None) -> tuple[Pipeline, tuple[str, ...]]:
    if isinstance(pipeline, str):
        if pipeline not in PIPELINES:
            raise KeyError(f"unknown pipeline {pipeline!r}; choose from {', '.join(PIPELINES)}")
        keys = LABEL_KEYS.get(pipeline, ()) if label_keys is None else tuple(label_keys)
        return PIPELINES[pipeline], keys
    return pipeline, tuple(label_keys or ())


def _to_chw(img: np.ndarray) -> torch.Tensor:
    """H x W x 3 float32 -> 3 x H x W tensor (contiguous: flips leave negative strides torch cannot take)."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))


class _CacheFaces(Dataset):
    """What the datasets share: turning cache row + generator (+ flip) into the item dict."""

    def __init__(self, cache: FaceCache, indices: Sequence[int] | np.ndarray, pipeline: str | Pipeline,
                 label_keys: Sequence[str] | None = None):
        self.cache = cache
        self.rows = np.asarray(indices, np.int64)
        self.pipeline, self.label_keys = _resolve_pipeline(pipeline, label_keys)

    def __len__(self) -> int:
        return len(self.rows)

    def hq_face(self, row: int, flip: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The HQ crop (128 x 128 x 3 float32 [0, 1]), landmarks (68 x 2) and mask (128 x 128 uint8) of a
        cache row, mirrored when ``flip``. The only uint8 -> float conversion of the pipeline happens here."""
        hq = self.cache.crops[row].astype(np.float32) / 255.0
        landmarks = np.array(self.cache.landmarks[row], np.float32)  # a copy: the memmap is read-only
        mask = np.asarray(self.cache.masks[row])
        if flip:
            hq, mask = hq[:, ::-1], mask[:, ::-1]
            landmarks = mirror_landmarks(landmarks, hq.shape[1])
        return hq, landmarks, mask

    def make_item(self, row: int, rng: np.random.Generator, flip: bool) -> dict:
        hq, landmarks, mask = self.hq_face(row, flip)
        degraded = self.pipeline(np.ascontiguousarray(hq), rng)
        labels = [float(degraded.labels[k]) for k in self.label_keys]
        return {
            "lq": _to_chw(degraded.image),
            "hq": _to_chw(hq),
            "landmarks": torch.from_numpy(np.ascontiguousarray(landmarks, np.float32)),
            "mask": torch.from_numpy(np.ascontiguousarray(mask, np.float32)[None]),
            # Never flipped: dlib's descriptor barely changes under a mirror (0.20 between the bundled
            # astronaut and her mirror image, well under the 0.6 same-person threshold and about what two
            # photos of one person differ by), and recomputing it would cost 0.1 s per item.
            "descriptor": torch.from_numpy(np.array(self.cache.descriptors[row], np.float32)),
            "labels": torch.tensor(labels, dtype=torch.float32).reshape(len(labels)),
            "index": int(row),
        }


class DegradedFaces(_CacheFaces):
    """Training faces: ``cache`` rows ``indices``, each degraded by ``pipeline`` (a name in
    ``frstudio.core.degradations.PIPELINES`` or a callable ``(img, rng) -> Degraded``).

    Item ``i`` of epoch ``e`` draws everything from ``np.random.default_rng([seed, e, i])``: first the flip
    (p = .5 when ``flip``), then the pipeline's own parameters. So an item never depends on the worker that
    made it or on what was drawn before; call :meth:`set_epoch` for fresh degradations each pass
    (:func:`infinite_loader` does it by passing the epoch with each index).

    A flip mirrors the HQ crop, the mask and the landmarks (renumbered, see :data:`MIRROR_68`) before the
    degradation, so LQ and HQ stay pixel-aligned. The descriptor stays that of the unflipped face: dlib's
    descriptors are nearly mirror-invariant (0.20 apart for the bundled sample; same person under 0.6).

    label_keys: the ``Degraded.labels`` entries stacked into ``labels``; by default frrnet's
    ``(noise, blur, relight)`` for the frrnet pipelines (:data:`LABEL_KEYS`) and none otherwise (or for a callable).
    """

    def __init__(self, cache: FaceCache, indices: Sequence[int] | np.ndarray, pipeline: str | Pipeline,
                 seed: int = 0, flip: bool = True, label_keys: Sequence[str] | None = None):
        super().__init__(cache, indices, pipeline, label_keys)
        self.seed = int(seed)
        self.flip = flip
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def item_rng(self, i: int, epoch: int | None = None) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, i])

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        """``dataset[i]`` uses the current epoch; ``dataset[(epoch, i)]`` names it (what the loader does,
        because set_epoch on the main process's copy cannot reach the copies inside running workers)."""
        epoch, i = key if isinstance(key, tuple) else (self.epoch, key)
        rng = self.item_rng(i, epoch)
        flip = self.flip and bool(rng.random() < 0.5)
        return self.make_item(int(self.rows[i]), rng, flip)


class ProtocolFaces(_CacheFaces):
    """Evaluation inputs of a named protocol: rows of ``split`` (default 'test', or the given ``indices``),
    each degraded with ``protocol_rng(protocol, file)`` exactly as docs/evaluation.md says, so the input is the
    same on every run and machine, whatever the order or the subset. No flip."""

    def __init__(self, cache: FaceCache, protocol: str, split: str = "test",
                 indices: Sequence[int] | np.ndarray | None = None, sources: tuple[str, ...] | None = None):
        if protocol not in PIPELINES:
            raise KeyError(f"unknown protocol {protocol!r}; choose from {', '.join(PIPELINES)}")
        super().__init__(cache, cache.indices(split, sources) if indices is None else indices, protocol)
        self.protocol = protocol

    def set_epoch(self, epoch: int) -> None:
        """Accepted for the loader's sake; the inputs do not change with the epoch."""

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        i = key[1] if isinstance(key, tuple) else key
        row = int(self.rows[i])
        return self.make_item(row, protocol_rng(self.protocol, str(self.cache.file[row])), flip=False)


REFERENCE_MODES = ("best", "random", "different")


class ReferencePairs(Dataset):
    """Target + reference photo pairs for reference-guided restoration (GFRNet).

    Targets are the celeba rows of ``split`` whose person has at least two photos there (aaf has no
    identities; a person with a single photo has no reference). The reference, always HQ, is:

    * ``"best"``: the same person's other photo with the highest ``sharpness rank + frontality rank`` (ranks
      in [0, 1] among that person's photos in the split; frontality = small |yaw|), ties to the lower row:
      deterministic, the reference a user would pick;
    * ``"random"``: another photo of the same person, drawn from the item's generator;
    * ``"different"``: a photo of another person, drawn from the item's generator (the paper's ablation
      with a wrong reference).

    With ``wrong_share`` > 0 (training), that share of the items gets another person's photo instead, so a
    model learns to suppress a wrong guide; ``ref_same`` (1.0 or 0.0) says which each item got.

    The target is a :class:`DegradedFaces` item (training: target and reference mirrored independently), or,
    with ``protocol=True``, a :class:`ProtocolFaces` item (evaluation: no flips, and the random choices are
    seeded from the protocol and file name). Items add ``ref`` (3 x 128 x 128), ``ref_landmarks`` (68 x 2) and
    ``ref_index`` (cache row) to the target's dict.
    """

    def __init__(self, cache: FaceCache, split: str, pipeline: str | Pipeline, mode: str = "best",
                 seed: int = 0, flip: bool = True, protocol: bool = False, wrong_share: float = 0.0):
        if mode not in REFERENCE_MODES:
            raise ValueError(f"mode must be one of {REFERENCE_MODES}, got {mode!r}")
        if not 0.0 <= wrong_share <= 1.0:
            raise ValueError(f"wrong_share must be in [0, 1], got {wrong_share}")
        self.cache, self.mode, self.seed, self.epoch = cache, mode, int(seed), 0
        self.wrong_share = float(wrong_share)
        self.flip = flip and not protocol
        rows = cache.indices(split, sources=("celeba",), with_identity=True)
        people: dict[str, list[int]] = {}
        for r in rows:
            people.setdefault(str(cache.identity[r]), []).append(int(r))
        self.people = {who: np.array(rs, np.int64) for who, rs in people.items() if len(rs) >= 2}
        if (mode == "different" or wrong_share > 0) and len(self.people) < 2:
            raise ValueError(f"'different' references need two people with two photos in split {split!r}")
        self.rank = self._reference_rank()
        targets = np.sort(np.concatenate(list(self.people.values()))) if self.people else np.zeros(0, np.int64)
        self.target = (ProtocolFaces(cache, pipeline, indices=targets) if protocol
                       else DegradedFaces(cache, targets, pipeline, seed=seed, flip=self.flip))
        self.protocol = protocol
        # every eligible row, for the 'different' draw (a row of anyone but the target's person)
        self._pool = targets

    def _reference_rank(self) -> dict[int, float]:
        """Row -> sharpness rank + frontality rank, both within the person's photos (higher is better)."""
        rank: dict[int, float] = {}
        for rows in self.people.values():
            n = len(rows) - 1
            sharp = np.argsort(np.argsort(self.cache.sharpness[rows], kind="stable"), kind="stable") / n
            frontal = np.argsort(np.argsort(-np.abs(self.cache.yaw[rows]), kind="stable"), kind="stable") / n
            rank.update(zip(rows.tolist(), (sharp + frontal).tolist()))
        return rank

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.target.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.target)

    def _reference(self, row: int, rng: np.random.Generator, mode: str) -> int:
        person = str(self.cache.identity[row])
        if mode == "different":
            # draw until the person differs: one or two draws with hundreds of people, and no per-item scan
            while True:
                other = int(self._pool[rng.integers(len(self._pool))])
                if self.cache.identity[other] != person:
                    return other
        candidates = self.people[person][self.people[person] != row]
        if mode == "random":
            return int(candidates[rng.integers(len(candidates))])
        # 'best': max rank; candidates are ascending, and argmax takes the first of equals
        return int(candidates[np.argmax([self.rank[int(c)] for c in candidates])])

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, i = key if isinstance(key, tuple) else (self.epoch, key)
        item = self.target[(epoch, i)]
        row = item["index"]
        # A stream of its own (the target's consumes a pipeline-dependent number of draws), derived from the
        # same key: changing the pipeline never changes the reference.
        if self.protocol:
            rng = protocol_rng(f"{self.target.protocol}/reference", str(self.cache.file[row]))
        else:
            rng = np.random.default_rng([self.seed, epoch, i, 1])
        mode = self.mode
        if self.wrong_share and rng.random() < self.wrong_share:
            mode = "different"
        ref_row = self._reference(row, rng, mode)
        flip = self.flip and bool(rng.random() < 0.5)
        ref, ref_landmarks, _ = self.target.hq_face(ref_row, flip)
        item.update(ref=_to_chw(ref), ref_landmarks=torch.from_numpy(np.ascontiguousarray(ref_landmarks)),
                    ref_index=ref_row, ref_same=float(mode != "different"))
        return item


# ---------------------------------------------------------------------------------------- loading


class _EpochBatches(Sampler):
    """Endless batches of ``(epoch, i)`` keys: epoch after epoch, a permutation of the dataset drawn from
    ``default_rng([seed, epoch])`` (or in order), the last incomplete batch dropped.

    The epoch travels with each index: the workers' copies of the dataset never see set_epoch calls made
    in the main process, and they prefetch across epoch boundaries anyway. Being endless, the DataLoader's
    iterator (and its workers) lives for the whole run.
    """

    def __init__(self, n: int, batch_size: int, seed: int, shuffle: bool):
        if n < batch_size:
            raise ValueError(f"a dataset of {n} items cannot fill one batch of {batch_size}")
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for epoch in itertools.count():
            order = np.random.default_rng([self.seed, epoch]).permutation(self.n) if self.shuffle else np.arange(self.n)
            for start in range(0, self.n - self.batch_size + 1, self.batch_size):
                yield [(epoch, int(i)) for i in order[start : start + self.batch_size]]


def infinite_loader(dataset: Dataset, batch_size: int, workers: int = 1, seed: int = 0,
                    shuffle: bool = True) -> Iterator[dict]:
    """Endless batches (dicts of stacked tensors) from ``dataset`` (one whose ``__getitem__`` takes
    ``(epoch, i)``: the datasets of this module).

    Batches are always full (drop_last); each pass over the data is an epoch with its own order (from
    ``seed``) and its own degradations, so the stream is the same for a given seed whatever ``workers``.
    Workers stay alive for the whole stream (one endless DataLoader iterator, persistent_workers as well).
    """
    sampler = _EpochBatches(len(dataset), batch_size, seed, shuffle)
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
        # No worker_init_fn setting cv2.setNumThreads(1): in a forked worker it deadlocks once the parent's
        # OpenCV pool is idle (the child inherits a condition variable with waiters that no longer exist).
        # Torch's own threads are set to 1 in each worker by the DataLoader itself.
        prefetch_factor=2 if workers > 0 else None,
    )
    per_epoch = len(dataset) // batch_size
    for count, batch in enumerate(loader):
        if hasattr(dataset, "set_epoch") and count % per_epoch == 0:
            dataset.set_epoch(count // per_epoch)  # keeps the main copy in step, for code that inspects it
        yield batch


def loader_throughput(dataset: Dataset, batch_size: int = 16, workers: int = 1, batches: int = 30) -> float:
    """Batches per second of :func:`infinite_loader` once running.

    Not counted: worker start-up, and the first ``1 + 2 * workers`` batches, which the workers make in
    parallel while the first is awaited (the prefetch queue); counting them would flatter short runs.
    """
    stream = infinite_loader(dataset, batch_size, workers=workers)
    try:
        for _ in range(1 + 2 * workers):
            next(stream)
        start = time.perf_counter()
        for _ in range(batches):
            next(stream)
        return batches / (time.perf_counter() - start)
    finally:
        stream.close()  # shuts the workers down
