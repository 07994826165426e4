"""The restoration networks and the table that describes them.

No Qt, no training code and nothing of the engine (`frstudio.core`) here. Each network lives in its own
module, which keeps the model contract of `frstudio.models.contract` (`ModelModule`: `Config`, `build`,
`default_config`, `config_dict`, optional `LABELS`; the network it builds, `RestorationNetwork`: images in,
restored images or a dict of them and extras out, a reference and a seed where the spec says so).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str  # plain words for the people who restore their photos, e.g. "Everyday restore"
    description: str  # one line: what it is for, and honestly what it cannot do
    input_size: int  # aligned crop side the network takes
    output_size: int  # side of the restored crop it returns
    takes_reference: bool  # needs an aligned photo of the same person
    module: str  # python module keeping the model contract (frstudio.models.contract.ModelModule)
    weights: str  # file name inside resources/weights/
    bf16_ok: bool = False  # measured to keep quality under bf16 autocast on CPU
    stochastic: bool = False  # forward takes seed=: each seed a different restoration (frstudio.core.variants)
    technical: str = ""  # the research name, shown under "Details" and by `frstudio models --details`

    @property
    def label(self) -> str:
        return f"{self.title} ({self.name})"


def _spec(name, title, description, size, out=None, reference=False, module=None, bf16_ok=False, stochastic=False, technical=""):
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
        technical=technical,
    )


# The explicit table, in the order the app offers them; the first one with bundled weights is the default.
# Descriptions say what each is for and, from its card in resources/weights/README.md, where it falls short.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        # bf16: outputs within 0.001 dB of fp32 on 200 test faces, 4x faster (benchmarks/bench_precision.py)
        _spec("frrnet", "Everyday restore",
              "For most old photos: reduces noise and blur and brightens dark faces. The default.",
              128, bf16_ok=True, technical="FRR-Net, width 28 depth 2 (paper 000)"),
        _spec("gfrnet", "Guided by a photo of the same person",
              "Give a face a good photo of the same person: it helps keep their likeness, but adds little detail of its own.",
              128, reference=True, technical="GFRNet: WarpNet + RecNet (paper 004)"),
        _spec("progressive_16", "Tiny faces",
              "For faces only a few pixels across, such as people far off in a group photo: draws a larger face, "
              "which may not look exactly like the person.",
              16, out=128, module="frstudio.models.progressive", technical="Progressive GAN 16→128 (paper 003)"),
        _spec("progressive_128", "Gentle clean-up (experimental)",
              "An early model that changes faces very little; to try, not for everyday use.",
              128, module="frstudio.models.progressive", technical="Progressive GAN 128 (paper 003)"),
        _spec("mmrb_stylegan", "Severe damage — smooth",
              "For badly damaged faces: keeps the person's look, but smooths the face rather than adding detail.",
              128, technical="MMRB codec + a small StyleGAN2 prior (paper 002)"),
        _spec("vq_unet", "Severe damage — several versions",
              "For badly damaged faces: sharper, but may draw a partly generic face. Can make several versions "
              "and keep the one most like the person.",
              128, stochastic=True, technical="Stochastic VQ U-Net (paper 001)"),
    ]
}
