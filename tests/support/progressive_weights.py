"""A randomly initialised, small `progressive_16` (16 -> 128) in a weights folder, as `training export` would
write it: the real network and loading code, no trained weights needed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SMALL = {"widths": [8, 8, 4, 4], "blocks": [1, 1, 1]}


def write_progressive_16(folder: Path, seed: int = 0) -> Path:
    """Add progressive_16's file and manifest entry to `folder` (keeping the entries already there)."""
    import torch
    from safetensors.torch import save_file

    from frstudio.models import progressive

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = progressive.config_dict(progressive.Config(objective="16", **SMALL))
    net = progressive.build(config)
    path = folder / "progressive_16.safetensors"
    save_file({k: v.half().contiguous() for k, v in net.state_dict().items()}, str(path))
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": {}}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest["models"]["progressive_16"] = {"file": path.name, "sha256": digest, "config": config, "steps": 0, "metrics": {}}
    manifest_path.write_text(json.dumps(manifest))
    return folder
