"""Loading a model's bundled weights and running it on aligned faces.

Weights come only from `resources/weights/<name>.safetensors` and must match the sha256 recorded in
`resources/weights/manifest.json`; nothing is ever downloaded. Every way this can fail (no entry, missing
file, corrupt file, weights that do not fit the network) is a `WeightsError` whose message names the file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from frstudio.core.errors import ModelUnavailableError, WeightsError
from frstudio.core.paths import weights_dir
from frstudio.models import MODELS, ModelSpec
from frstudio.models.contract import ModelModule, labels_of, reference_optional

MANIFEST = "manifest.json"


def read_manifest(directory: Path | None = None) -> dict:
    """The manifest's `models` table ({} when there is no manifest yet)."""
    path = (directory or weights_dir()) / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path} cannot be read: {exc}") from exc
    models = data.get("models", {}) if isinstance(data, dict) else {}
    return models if isinstance(models, dict) else {}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelUnavailableError(f"unknown model '{name}'; choose one of: {', '.join(MODELS)}") from None


@dataclass
class ModelStatus:
    """What the app can tell a user about one model without loading it."""

    spec: ModelSpec
    weights_path: Path
    present: bool  # a manifest entry and its file exist (not yet verified against the sha256)
    implemented: bool
    entry: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.present and self.implemented

    def to_json(self) -> dict:
        return {
            "name": self.spec.name,
            "title": self.spec.title,
            "description": self.spec.description,
            "technical": self.spec.technical,
            "input_size": self.spec.input_size,
            "output_size": self.spec.output_size,
            "takes_reference": self.spec.takes_reference,
            "weights": str(self.weights_path),
            "weights_present": self.present,
            "implemented": self.implemented,
            "steps": self.entry.get("steps"),
            "metrics": self.entry.get("metrics", {}),
        }


def _implemented(spec: ModelSpec) -> bool:
    return importlib.util.find_spec(spec.module) is not None


def model_statuses(directory: Path | None = None) -> list[ModelStatus]:
    directory = directory or weights_dir()
    manifest = read_manifest(directory)
    out = []
    for spec in MODELS.values():
        entry = manifest.get(spec.name, {})
        path = directory / entry.get("file", spec.weights)
        out.append(ModelStatus(spec, path, bool(entry) and path.is_file(), _implemented(spec), entry))
    return out


def default_model(directory: Path | None = None) -> str | None:
    """The first model in the table whose trained weights are bundled (None before any ships)."""
    for status in model_statuses(directory):
        if status.available:
            return status.spec.name
    return None


# A classifier's outputs are independent sigmoid probabilities: a label is "found" above one half.
VERDICT_THRESHOLD = 0.5
# Plain words for the distortion labels (RestoredFace.verdict names them after the model module's LABELS).
LABEL_WORDS = {"noise": "noise", "blur": "blur", "relight": "low light"}


def verdict_words(verdict: dict[str, float]) -> list[str]:
    """The labels a classifier found, in plain words, most certain first: ["blur", "low light"]."""
    found = sorted(((p, k) for k, p in verdict.items() if p >= VERDICT_THRESHOLD), reverse=True)
    return [LABEL_WORDS.get(k, k) for _, k in found]


@dataclass
class RestoredFace:
    image: np.ndarray  # S' x S' x 3 float32 in [0, 1]
    extras: dict = field(default_factory=dict)  # the network's other outputs for this face, e.g. "mask", "labels"
    label_names: tuple[str, ...] = ()  # what the entries of extras["labels"] mean (the model module's LABELS)

    @property
    def verdict(self) -> dict[str, float]:
        """The model's distortion classifier for this face, {"noise": p, "blur": p, "relight": p}; empty
        for models without one."""
        probs = self.extras.get("labels")
        if probs is None or len(self.label_names) != np.size(probs):
            return {}
        return {name: float(p) for name, p in zip(self.label_names, np.ravel(probs))}

    @property
    def mask(self) -> np.ndarray | None:
        """The face mask the model predicted (S' x S' float in [0, 1], crop space), if it predicts one."""
        mask = self.extras.get("mask")
        if mask is None:
            return None
        mask = np.asarray(mask, np.float32)
        return mask[0] if mask.ndim == 3 else mask


def pick_device(prefer: str | None = None) -> str:
    import torch

    if prefer:
        return prefer
    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX-512 BF16 or AMX). Without it, bf16 autocast is
    emulated and slower than fp32, so "auto" precision stays fp32 on such (most consumer) CPUs."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a private probe: if a torch release drops it, play safe
        return False


def load_verified_state(name: str, directory: Path | None = None, file_name: str | None = None, title: str | None = None):
    """(config, fp32 state dict, manifest entry) of a bundled model, after checking its sha256.

    Shared by the Restorer and by helper networks (the identity network) that are not restorers.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = directory or weights_dir()
    title = title or name
    entry = read_manifest(directory).get(name)
    expected = directory / (entry.get("file", file_name or f"{name}.safetensors") if entry else (file_name or f"{name}.safetensors"))
    if not entry:
        raise WeightsError(f"no trained weights for {title} are bundled yet ({expected} has no entry in {directory / MANIFEST})")
    if not expected.is_file():
        raise WeightsError(f"the weights file {expected} for {title} is missing; reinstall FR Studio")
    if sha256_of(expected) != entry.get("sha256"):
        raise WeightsError(f"the weights file {expected} is corrupt (its sha256 does not match {MANIFEST}); reinstall FR Studio")
    try:
        state = load_file(str(expected))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"the weights file {expected} cannot be read: {exc}") from exc
    return entry.get("config", {}), {k: v.float() for k, v in state.items()}, {**entry, "path": str(expected)}


def load_identity_network(device: str = "cpu"):
    """The bundled, sha256-verified identity network (`frstudio.models.faceid`; frozen, eval mode), for the
    training losses and metrics."""
    from frstudio.models import faceid

    config, state, _ = load_verified_state("faceid", title="the identity network")
    net = faceid.build(config)
    net.load_state_dict(state)
    return net.eval().requires_grad_(False).to(device)


def _load_into(network, state: dict, entry: dict) -> None:
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise WeightsError(f"the weights file {entry['path']} does not fit the network: {first_line}") from exc


class Restorer:
    """One network with its bundled weights: load once, call `restore()` many times."""

    def __init__(self, name: str, device: str | None = None, directory: Path | None = None, precision: str = "auto"):
        import torch

        self.spec = get_spec(name)
        self.config, state, self.entry = load_verified_state(name, directory, self.spec.weights, self.spec.label)
        try:
            module: ModelModule = importlib.import_module(self.spec.module)
        except ImportError as exc:
            raise ModelUnavailableError(f"the network of {self.spec.label} is not part of this version ({exc})") from exc
        network = module.build(self.config)
        self.label_names = labels_of(module)
        _load_into(network, state, self.entry)
        self.device = pick_device(device)
        self.network = network.eval().to(self.device)
        self.bf16 = precision == "bf16" or (precision == "auto" and self.device == "cpu" and self.spec.bf16_ok and cpu_has_native_bf16())
        self._torch = torch

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def stochastic(self) -> bool:
        """Whether the network draws noise: then each seed gives a different, reproducible restoration."""
        return self.spec.stochastic

    def restore(self, crops: np.ndarray, reference: np.ndarray | None = None, seed: int = 0) -> list[RestoredFace]:
        """Restore a batch of aligned crops N x S x S x 3 (float32 [0, 1]); `reference` is one aligned face
        S x S x 3 (or N of them, one per crop) for models that take one. `seed`: the noise of a stochastic
        model (ignored by the others); the default 0 makes restoring the same face twice give the same face."""
        torch = self._torch
        crops = np.asarray(crops, np.float32)
        if crops.ndim == 3:
            crops = crops[None]
        size = self.spec.input_size
        if crops.shape[1:] != (size, size, 3):
            raise ValueError(f"{self.spec.name} takes {size} x {size} crops, got {crops.shape[1:3]}")
        x = torch.from_numpy(np.ascontiguousarray(crops.transpose(0, 3, 1, 2))).to(self.device)
        args = [x]
        if self.spec.takes_reference and reference is None:
            # a network that can also restore without its guide says so (GFRNet's no-reference path, used to
            # measure what the reference adds); the others cannot run at all
            if not reference_optional(self.network):
                raise ModelUnavailableError(f"the model '{self.spec.title}' needs a reference photo of the same person")
        elif self.spec.takes_reference:
            ref = np.asarray(reference, np.float32)
            ref = np.broadcast_to(ref[None] if ref.ndim == 3 else ref, crops.shape)
            # a copy: broadcast_to gives a read-only view, which torch.from_numpy warns about
            args.append(torch.from_numpy(np.array(ref.transpose(0, 3, 1, 2), order="C")).to(self.device))
        with torch.inference_mode(), torch.autocast(self.device if self.device != "mps" else "cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out = self.network(*args, seed=seed) if self.stochastic else self.network(*args)
        extras_batch = {}
        if isinstance(out, dict):
            extras_batch = {k: v for k, v in out.items() if k != "image"}
            out = out["image"]
        images = out.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        results = []
        for i, img in enumerate(images):
            extras = {k: v[i].float().cpu().numpy() for k, v in extras_batch.items() if hasattr(v, "shape")}
            results.append(RestoredFace(np.ascontiguousarray(img), extras, self.label_names))
        return results


class PassThroughRestorer:
    """Returns the crops unchanged: the whole pipeline without a network (benchmarks, 'copy faces' runs)."""

    spec = ModelSpec("passthrough", "No restoration", "Returns faces unchanged.", 128, 128, False, "", "")
    name = "passthrough"
    stochastic = False

    def restore(self, crops: np.ndarray, reference: np.ndarray | None = None, seed: int = 0) -> list[RestoredFace]:
        return [RestoredFace(np.asarray(c, np.float32).copy()) for c in np.asarray(crops)]

