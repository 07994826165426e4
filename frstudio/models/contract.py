"""The model contract, written down once: what a network's module provides and what its network does.

`frstudio.models.MODELS` names, for each model, the module that holds its network (`ModelSpec.module`). The
engine (`frstudio.core.restore.Restorer`), the weights manifest and the training package rely on that module
for exactly what `ModelModule` lists, and on the network it builds for what `RestorationNetwork` lists. The
optional parts are read through `labels_of` and `reference_optional`, so nothing else spells them out.
No torch, no Qt and nothing of `frstudio.core` here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ModelModule(Protocol):
    """A network's module (`frstudio.models.frrnet`, ...).

    - `Config`: a dataclass of the architecture's hyper-parameters, every one with a default. The weights
      manifest stores the shipped network's as `config_dict(Config(...))`.
    - `build(config)`: the network (a `RestorationNetwork`), from such a dict or from a `Config`.
    - `default_config()`: `config_dict(Config())`.
    - `config_dict(config)`: the shared :func:`config_dict` below.
    - `LABELS` (optional): the names of the distortion classifier's outputs, in the order of the network's
      "labels" output, e.g. FRR-Net's ("noise", "blur", "relight"). Read it with :func:`labels_of`.
    """

    Config: type

    def build(self, config: Any) -> Any: ...

    def default_config(self) -> dict: ...

    def config_dict(self, config: Any) -> dict: ...


class RestorationNetwork(Protocol):
    """What `build` returns: a torch module called as `network(x[, reference][, seed=...])`.

    - `x`: degraded aligned faces, N x 3 x S x S in [0, 1], S the spec's `input_size`.
    - `reference`: only for a model whose spec `takes_reference`: aligned good faces of the same people,
      N x 3 x S x S. It may be left out only by a network whose `reference_optional` is True.
    - `seed=`: only for a model whose spec is `stochastic`: the noise it draws (one result per face and seed;
      None draws from torch's global generator).

    It returns the restored faces N x 3 x S' x S' in [0, 1] (S' the spec's `output_size`), or a dict with them
    under "image" and optional extras per face: "labels" (N x len(LABELS) probabilities), "mask" (N x 1 x S' x
    S', the face mask it predicted), or anything else worth showing ("warped", "flow").

    `reference_optional` (optional attribute, default False): forward also runs without a reference.
    Read it with :func:`reference_optional`.
    """

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any: ...


def config_dict(config: Any) -> dict:
    """A model's `Config` as the plain dict the weights manifest stores (tuples as lists, as JSON has them)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def labels_of(module: ModelModule) -> tuple[str, ...]:
    """The names of a module's classifier outputs (its `LABELS`); () for a network without a classifier."""
    return tuple(getattr(module, "LABELS", ()))


def reference_optional(network: RestorationNetwork) -> bool:
    """Whether a reference-taking network may also be called without its reference."""
    return bool(getattr(network, "reference_optional", False))
