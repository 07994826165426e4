"""The restoration networks and the table that describes them.

No Qt and no training code here. Each network lives in its own module, which provides:
  - `Config`: a dataclass of the architecture's hyper-parameters (saved in the weights manifest), and
  - `build(config: dict) -> torch.nn.Module`, whose forward takes images N x 3 x S x S in [0, 1]
    (and, for models with `takes_reference`, an aligned reference face as second argument) and returns
    either the restored images N x 3 x S' x S' in [0, 1] or a dict with key "image" and optional extras
    (e.g. "labels": the distortion classifier's probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    description: str
    input_size: int  # aligned crop side the network takes
    output_size: int  # side of the restored crop it returns
    takes_reference: bool  # needs an aligned photo of the same person
    module: str  # python module providing Config and build()
    weights: str  # file name inside resources/weights/
    bf16_ok: bool = False  # measured to keep quality under bf16 autocast on CPU
    stochastic: bool = False  # forward takes seed=: each seed a different restoration (frstudio.core.variants)

    @property
    def label(self) -> str:
        return f"{self.title} ({self.name})"


def _spec(name, title, description, size, out=None, reference=False, module=None, bf16_ok=False, stochastic=False):
    return ModelSpec(
        name=name,
        title=title,
        description=description,
        input_size=size,
        output_size=out or size,
        takes_reference=reference,
        module=module or f"frstudio.models.{name}",
        weights=f"{name}.safetensors",
        bf16_ok=bf16_ok,
        stochastic=stochastic,
    )


# The explicit table, in the order the app offers them; the first one with bundled weights is the default.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        # bf16: outputs within 0.001 dB of fp32 on 200 test faces, 4x faster (benchmarks/bench_precision.py)
        _spec("frrnet", "FRR-Net", "Restores and relights: noise, blur and low light (the default).", 128, bf16_ok=True),
        _spec("gfrnet", "GFRNet", "Uses a good photo of the same person as a guide.", 128, reference=True),
        _spec(
            "progressive_16",
            "Progressive GAN 16→128",
            "For tiny faces in group photos: up-scales 8×.",
            16,
            out=128,
            module="frstudio.models.progressive",
        ),
        _spec(
            "progressive_128",
            "Progressive GAN 128",
            "Blind restoration with attention to facial landmarks.",
            128,
            module="frstudio.models.progressive",
        ),
        _spec(
            "mmrb_stylegan",
            "MMRB + StyleGAN2",
            "Severe damage, through a StyleGAN2 face prior (a weak one): keeps the person, smooths rather than sharpens.",
            128,
        ),
        _spec(
            "vq_unet",
            "Stochastic VQ U-Net",
            "Severe damage; sharper, but a first short run that can draw a generic face. Several variants, ranked by identity.",
            128,
            stochastic=True,
        ),
    ]
}
