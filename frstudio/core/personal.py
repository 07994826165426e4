"""Learn this person: a copy of the default model tuned on a few good photos of one person.

A network trained on thousands of people restores a damaged face towards faces in general; given good photos of
the same person it can restore towards *this* face. MyStyle and Dual-Pivot Tuning do this by tuning a generative
prior on a few photos of one person; here the prior is the restoration network itself, so tuning it is a short
supervised fine-tune: each photo is damaged with the training mix (`restore-mix`, frstudio.core.degradations), heavy
blur and the severe blind mix in turn (TUNING_DAMAGE), the copy restores it, and pixel + identity losses pull the
result to the photo. Only the decoder learns (the part
that draws the face; the encoder and the damage classifier stay as shipped), within a time budget, on the CPU.
As in training, the target is the photo inside the face mask and the damaged input outside it, with the mask the
shipped model predicts, which the copy is held to: left free, its mask spreads and it starts "restoring" the
background of the photos it learned from into every other photo.

One photo is held out when there are three or more: it is damaged with fixed seeds the way a likeness is lost
(heavy blur, severe damage: CHECK_DAMAGE) and restored by the shipped and the tuned network, and the results are
compared with the clean photo (PSNR, and dlib's descriptor distance: the measure a person's other photos are
matched by). So each personal model carries its own measurement
(`PersonalModel.check`), and Auto uses it only where it measured better (`PersonalModel.helps`).

Tuned weights never leave the user's machine: they are kept in the user data folder, keyed by the photos'
descriptors and the base weights' sha256, so the same photos give the same model back without tuning again and
new shipped weights start a new one. No Qt here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from frstudio.core.errors import Cancelled, FRStudioError
from frstudio.core.files import atomic_write_bytes
from frstudio.core.jobs import Progress
from frstudio.core.paths import user_folder

# The parts of each model that tune: the decoder, which draws the face from the encoder's features.
TUNED_PARTS = {"frrnet": ("bottleneck", "up", "dec_blocks", "image_head")}
DAMAGE = "restore-mix"
# The copies a person's model learns from: the training mix, heavy blur and the severe blind mix in turn. Tuned on the
# training mix alone, it restored 16 people's 8x-blurred faces less like them than the guided model did (dlib distance
# 0.632 against 0.628, face PSNR 22.31 against 22.80); with the two severe damages added, 0.604 and 23.11, and on
# bfr-severe 0.579 against 0.596 (benchmarks/personal.py --tune-damage; resources/weights/README.md, gfrnet).
TUNING_DAMAGE = (DAMAGE, "gfrnet-8x", "bfr-severe")
# The check damages the held-out photo the way a person's likeness is lost, where a learned model is for: heavy blur
# (8x down and up) and the severe blind mix, half of the copies each. Checked on the training mix instead, most
# learned models failed it (3 of 16 people) while they restored severely damaged photos of the same people much closer
# to them (benchmarks/personal.py).
CHECK_DAMAGE = ("gfrnet-8x", "bfr-severe")
PERSON_PHOTOS = 20  # at most this many of a person's photos are learned from (the closest, sharpest first)
CHECK_SEEDS = 8  # damaged copies of the held-out photo the check restores
# Room for the check's own noise (8 damaged copies of one photo; a chosen margin, not a measured one): a personal
# model within it of the shipped one's PSNR counts as equal (issue 25: better identity "at equal or better PSNR").
CHECK_PSNR_TOLERANCE = 0.2
# How close a face must be to a learned person's photos for Auto to restore it with their learned copy (dlib distance;
# PersonalStore.find). Stricter than dlib's same-person 0.6: on 91 test people (benchmarks/recognition.py) a single
# learned stranger's copy was taken for 1.8-3.9 % of damaged faces within 0.6 and for none within 0.5, where a
# stranger's copy pulls a face 0.11-0.14 towards them. The price is re-finding fewer of the person's own damaged faces
# (oldphoto: 69 % -> 30 %), where their copy gains little (benchmarks/personal.py, mild damage).
RECOGNITION_DISTANCE = 0.5
STORE_VERSION = 3  # 2: checked on severe damage (CHECK_DAMAGE); 3: tuned on TUNING_DAMAGE


@dataclass
class TuningSettings:
    seconds: float = 60.0  # the whole job, damage and check included
    max_steps: int = 600
    batch: int = 4
    lr: float = 1e-4
    identity_weight: float = 0.1  # identity network's embedding distance (dlib's scale) beside L1 on the pixels
    pairs_per_photo: int = 32  # damaged copies made of each photo before tuning starts
    damages: tuple[str, ...] = TUNING_DAMAGE  # degradation pipelines the copies are made with, in turn
    seed: int = 0


DEFAULT_SETTINGS = TuningSettings()


@dataclass
class PersonalModel:
    """A tuned copy of a model for one person: its weights (fp32 state of the tuned parts) and what it knows."""

    key: str
    base: str  # the model it was tuned from
    base_sha256: str
    state: dict  # parameter name -> torch tensor, the tuned parts only
    photos: int  # photos it learned from (the one held out for its check not counted)
    steps: int
    seconds: float
    # on the held-out photo: {"psnr": [shipped, personal], "identity": [shipped, personal]} (identity: dlib descriptor
    # distance to the clean photo's), or {} with fewer than three photos
    check: dict = field(default_factory=dict)
    # dlib descriptors of the photos it learned from (lists of 128 floats): how a face of the same person in another
    # photo finds it (PersonalStore.find)
    descriptors: list = field(default_factory=list)

    @property
    def helps(self) -> bool:
        """Whether it restored the held-out photo closer to the person than the shipped model, at no loss of
        fidelity: identity closer, PSNR not lower beyond CHECK_PSNR_TOLERANCE. Unmeasured (fewer than three
        photos): False."""
        if not self.check:
            return False
        psnr, identity = self.check["psnr"], self.check["identity"]
        return identity[1] < identity[0] and psnr[1] >= psnr[0] - CHECK_PSNR_TOLERANCE


def person_key(base_sha256: str, descriptors: Sequence[np.ndarray]) -> str:
    """The same photos (in any order) and the same base weights give the same key."""
    rows = sorted(tuple(np.round(np.asarray(d, np.float64), 3).tolist()) for d in descriptors)
    digest = hashlib.sha256(base_sha256.encode())
    for row in rows:
        digest.update(np.asarray(row, np.float64).tobytes())
    return digest.hexdigest()[:24]


def default_store_dir() -> Path:
    """FRSTUDIO_DATA_DIR (tests), else the user data folder: these weights are the user's, not a cache."""
    return user_folder("data", "people")


class PersonalStore:
    """Personal models on disk: `<key>.safetensors` (fp16, the tuned parts) beside `<key>.json`."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else default_store_dir()

    def load(self, key: str) -> PersonalModel | None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        meta_path, weights_path = self.folder / f"{key}.json", self.folder / f"{key}.safetensors"
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("version") != STORE_VERSION:
                return None
            state = {k: v.float() for k, v in load_file(str(weights_path)).items()}
        except (OSError, ValueError, SafetensorError):  # missing, half-written by a crash, or from another version
            return None
        meta.pop("version")
        return PersonalModel(state=state, **meta)

    def has_models(self) -> bool:
        return self.folder.is_dir() and any(self.folder.glob("*.json"))

    def find(self, descriptor: np.ndarray, base_sha256: str | None) -> PersonalModel | None:
        """The model learned from the base weights `base_sha256` for the person with this descriptor (one of the
        photos it learned from within RECOGNITION_DISTANCE; the closest wins) that measured better than
        the base, or None. What lets a person learned once be restored with it in every later photo."""
        best, best_distance = None, RECOGNITION_DISTANCE
        for meta_path in sorted(self.folder.glob("*.json")) if base_sha256 and self.folder.is_dir() else []:
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue
            if meta.get("version") != STORE_VERSION or meta.get("base_sha256") != base_sha256 or not meta.get("descriptors"):
                continue
            distance = float(np.min(np.linalg.norm(np.asarray(meta["descriptors"], np.float64) - np.asarray(descriptor, np.float64), axis=1)))
            if distance < best_distance:
                model = self.load(meta["key"])
                if model is not None and model.helps:
                    best, best_distance = model, distance
        return best

    def save(self, model: PersonalModel) -> None:
        import torch
        from safetensors.torch import save

        self.folder.mkdir(parents=True, exist_ok=True)
        blob = save({k: v.detach().to(torch.float16).contiguous() for k, v in model.state.items()})
        atomic_write_bytes(self.folder / f"{model.key}.safetensors", blob)
        meta = {k: v for k, v in asdict(model).items() if k != "state"}
        # the weights first: a model whose description exists always has its weights
        atomic_write_bytes(self.folder / f"{model.key}.json", json.dumps({"version": STORE_VERSION, **meta}, indent=1).encode())


def tunable(name: str) -> bool:
    return name in TUNED_PARTS


@dataclass
class PersonPhotos:
    """A person's photos for `tune`: aligned 128 px crops (N x 128 x 128 x 3 float32), dlib descriptors and 68
    landmarks in crop pixels; `recognised`: found by the face's likeness rather than taken as asked."""

    crops: np.ndarray
    descriptors: list
    landmarks: list
    recognised: bool = True


def person_photos(library, descriptor: np.ndarray, limit: int = PERSON_PHOTOS, asked: bool = False) -> PersonPhotos:
    """The good photos of the person with this `descriptor` in a ReferenceLibrary (the same person by dlib's
    distance, best first, at most `limit`), as `tune` takes them. `asked`: the person chose this folder for this
    very face, so when the face is too damaged to be recognised (benchmarks/reference_matching.py: at 8x blur a
    face finds its own folder 12 % of the time) a folder that holds one person only is taken as theirs."""
    from frstudio.core.align import TEMPLATE_SIZE, estimate_transform, five_points, transform_points

    faces, recognised = [f for f, _ in library.candidates(descriptor)], True
    if not faces and asked:
        faces, recognised = library.sole_person(), False
    found = PersonPhotos(np.zeros((0, TEMPLATE_SIZE, TEMPLATE_SIZE, 3), np.float32), [], [], recognised)
    if faces:
        faces = faces[:limit]
        found.crops = np.asarray([library.aligned(f, TEMPLATE_SIZE) for f in faces], np.float32)
        found.descriptors = [f.descriptor for f in faces]
        found.landmarks = [transform_points(f.landmarks, estimate_transform(five_points(f.landmarks), TEMPLATE_SIZE)) for f in faces]
    return found


def personal_restorer(base, model: PersonalModel):
    """A Restorer that restores with `model`'s tuned weights (the base restorer is left as it was)."""
    twin = copy.copy(base)
    twin.network = copy.deepcopy(base.network)
    twin.network.load_state_dict(model.state, strict=False)
    twin.network.eval()
    twin.personal = model
    return twin


def _face_masks(network, lq: np.ndarray) -> np.ndarray:
    """The face masks `network` predicts for damaged crops (N x 1 x S x S float32), 16 at a time."""
    import torch

    with torch.inference_mode():
        return np.concatenate([network(_tensor(lq[i : i + 16]))["mask"].float().numpy() for i in range(0, len(lq), 16)])


def _damaged_pairs(crops: np.ndarray, count: int, seed: int, tick: Callable[[], None], mirror: bool = True,
                   damages: Sequence[str] = (DAMAGE,)) -> tuple[np.ndarray, np.ndarray]:
    from frstudio.core.degradations import PIPELINES

    lq, hq = [], []
    for i, crop in enumerate(crops):
        for k in range(count):
            rng = np.random.default_rng([seed, i, k])
            clean = crop[:, ::-1] if mirror and k % 2 else crop  # mirrored copies double what the few photos show
            damage = PIPELINES[damages[k % len(damages)]]
            lq.append(damage(np.ascontiguousarray(clean), rng).image)
            hq.append(clean)
        tick()
    return np.stack(lq).astype(np.float32), np.ascontiguousarray(np.stack(hq), dtype=np.float32)


def _check(network, crop: np.ndarray, landmarks: np.ndarray, describe, seed: int) -> tuple[float, float]:
    """Mean PSNR (dB) and dlib descriptor distance to the clean crop of `network`'s restorations of CHECK_SEEDS
    damaged copies of `crop` (its 68 `landmarks` in crop pixels)."""
    import torch

    from frstudio.core.imageio import float_to_uint8

    lq, hq = _damaged_pairs(crop[None], CHECK_SEEDS, seed + 1000, lambda: None, mirror=False, damages=CHECK_DAMAGE)
    with torch.inference_mode():
        out = network(_tensor(lq))["image"].float().clamp(0, 1)
        mse = ((out - _tensor(hq)) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
        psnr = float((10 * torch.log10(1.0 / mse)).mean())
    images = [float_to_uint8(o) for o in out.permute(0, 2, 3, 1).numpy()]
    clean, *restored = describe([(float_to_uint8(crop), landmarks)] + [(im, landmarks) for im in images])
    return psnr, float(np.mean([np.linalg.norm(d - clean) for d in restored]))


class _Adam:
    """Adam (Kingma & Ba) over `params`. Not torch.optim.Adam: its step imports torch._dynamo, which the installed
    app leaves out (installers/frstudio.spec: the compiler stack and what it pulls in are ~100 MB)."""

    def __init__(self, params: list, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        import torch

        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def step(self) -> None:
        import torch

        self.t += 1
        b1, b2 = self.betas
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                if p.grad is None:
                    continue
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                denominator = (v / (1 - b2**self.t)).sqrt_().add_(self.eps)
                p.addcdiv_(m, denominator, value=-self.lr / (1 - b1**self.t))
                p.grad = None


def _tensor(images: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def tune(base, crops: Sequence[np.ndarray], descriptors: Sequence[np.ndarray], landmarks: Sequence[np.ndarray],
         settings: TuningSettings | None = None, store: PersonalStore | None = None,
         cancel: Callable[[], bool] | None = None, describe=None) -> Generator[Progress, None, PersonalModel]:
    """Tune a copy of `base` (a Restorer of a `tunable` model) on one person's good photos: `crops` are their
    aligned faces (S x S x 3 float32 [0, 1], the base's input size), `descriptors` their dlib descriptors (the
    model's key), `landmarks` their 68 landmarks in crop pixels (for the held-out check's descriptors, computed by
    `describe`, default frstudio.core.dlib_work.describe_in_process). A generator of `Progress` events ("learn",
    fraction of the time budget); returns the PersonalModel, saved in `store`. A model already in the store for
    these photos and weights is returned at once. `cancel()` returning True stops it between steps (raises
    Cancelled; nothing is saved)."""
    import torch

    from frstudio.core.dlib_work import describe_in_process
    from frstudio.core.restore import load_identity_network

    settings = settings or DEFAULT_SETTINGS
    describe = describe or describe_in_process
    store = store or PersonalStore()
    if not tunable(base.name):
        raise FRStudioError(f"'{base.spec.title}' cannot learn a person; only {', '.join(TUNED_PARTS)} can")
    crops = np.asarray(crops, np.float32)
    if crops.ndim != 4 or len(crops) == 0 or not len(crops) == len(descriptors) == len(landmarks):
        raise FRStudioError("learning a person needs at least one photo of their face")
    key = person_key(base.entry["sha256"], descriptors)
    known = store.load(key)
    if known is not None:
        yield Progress("learn", 1.0, message="learned before: using the saved model")
        return known

    start = time.monotonic()

    def check_cancel() -> None:
        if cancel is not None and cancel():
            raise Cancelled("cancelled")

    held_out = crops[-1] if len(crops) >= 3 else None
    train_crops = crops[:-1] if held_out is not None else crops
    yield Progress("learn", 0.0, message="damaging copies of their photos")
    lq, hq = _damaged_pairs(train_crops, settings.pairs_per_photo, settings.seed, check_cancel, damages=settings.damages)
    masks = _face_masks(base.network, lq)

    network = copy.deepcopy(base.network).float().train()
    network.requires_grad_(False)
    params = []
    for part in TUNED_PARTS[base.name]:
        for p in getattr(network, part).parameters():
            p.requires_grad_(True)
            params.append(p)
    identity = load_identity_network()
    opt = _Adam(params, lr=settings.lr)
    rng = np.random.default_rng(settings.seed)
    bf16 = bool(getattr(base, "bf16", False))
    steps = 0
    while steps < settings.max_steps and time.monotonic() - start < settings.seconds * (0.9 if held_out is not None else 0.95):
        check_cancel()
        pick = rng.choice(len(lq), size=min(settings.batch, len(lq)), replace=False)
        x, mask = _tensor(lq[pick]), torch.from_numpy(masks[pick])
        target = mask * _tensor(hq[pick]) + (1 - mask) * x
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = network(x)
            image = out["image"].float()
            pixel = (image - target).abs().mean() + (out["mask"].float() - mask).abs().mean()
            distance = (identity(image) - identity(target)).norm(dim=1).mean()
        loss = pixel + settings.identity_weight * distance
        loss.backward()
        opt.step()
        steps += 1
        if steps % 5 == 0:
            yield Progress("learn", min(0.95, (time.monotonic() - start) / settings.seconds), face=steps,
                           message=f"learning their face ({steps} steps)")
    network.eval()
    check = {}
    if held_out is not None:
        yield Progress("learn", 0.9, message="checking on a photo it did not learn from")
        shipped = _check(base.network, held_out, landmarks[-1], describe, settings.seed)
        personal = _check(network, held_out, landmarks[-1], describe, settings.seed)
        check = {"psnr": [round(shipped[0], 3), round(personal[0], 3)], "identity": [round(shipped[1], 4), round(personal[1], 4)]}
    tuned = {n: p.detach().clone() for n, p in network.named_parameters() if n.split(".")[0] in TUNED_PARTS[base.name]}
    model = PersonalModel(key=key, base=base.name, base_sha256=base.entry["sha256"], state=tuned, photos=len(train_crops),
                          steps=steps, seconds=round(time.monotonic() - start, 1), check=check,
                          descriptors=[np.round(np.asarray(d, np.float64), 4).tolist() for d in descriptors])
    store.save(model)
    yield Progress("learn", 1.0, face=steps, message="learned")
    return model
