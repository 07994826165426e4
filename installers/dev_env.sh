#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv and install FR Studio into it, editable.
# Safe to run again: it only installs what is missing. Usage: bash installers/dev_env.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras="gui"
[[ "${1:-}" == "--test" ]] && extras="gui,test"

if [[ ! -x .venv/bin/python ]]; then
    "$PY" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first and pinned: this machine carries a local CPU wheel of 2.13.0. Installing the project first
# would let pip resolve "torch" to the newest release with several GB of CUDA libraries.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install -q "torch==2.13.0"
fi
.venv/bin/python -m pip install -q -e ".[${extras}]"
.venv/bin/python -c "import torch, dlib, cv2, ai_edge_litert.interpreter; print('FR Studio environment ready: torch', torch.__version__, '| dlib', dlib.__version__, '| opencv', cv2.__version__, '| LiteRT for BlazeFace')"
