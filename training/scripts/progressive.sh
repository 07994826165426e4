#!/bin/bash
# progressive_128 runs beyond the card's first one (resources/weights/README.md, progressive): run from the
# repository root with the venv active; runs land in runs/ (git-ignored). Usage: training/scripts/progressive.sh STAGE...
set -euo pipefail
stage_mix() {  # issue 21 item 6: the shipped weights fine-tuned on the default model's mix (restore-mix: every
    # protocol's damage, which seed003-128 alone never showed it). Resumable with PROG_RESUME=1; PROG_HOURS bounds it.
    # Its continuation: PROG_INIT=runs/progressive128_mix PROG_RUN=runs/progressive128_mix2. PROG_SET adds settings:
    # a continuation wants PROG_SET=ramp_start=1 (eq. 6's ramp restarted at a quarter of the pixel and perceptual
    # weights took validation PSNR from 26.64 to 24.90 in 500 steps of runs/progressive128_mix3's first start).
    local start=(--init-from "${PROG_INIT:-resources/weights/progressive_128.safetensors}")
    [[ -n "${PROG_RESUME:-}" ]] && start=(--resume)
    python -m training train progressive_128 "${start[@]}" --run-dir "${PROG_RUN:-runs/progressive128_mix}" \
        --hours "${PROG_HOURS:-1.0}" --val-every 250 --set degradation=restore-mix steps="${PROG_STEPS:-1500}" ${PROG_SET:-}
}
stage_compare_mix() {  # the run's export beside the shipped weights on PROG_SPREAD (300) spread test faces
    local run="${PROG_RUN:-runs/progressive128_mix}"
    python -m training export progressive_128 --run-dir "$run" --out "$run/weights" --data "shared faces train split \
minus its blurriest 10 %: seed003-128 (the shipped run), then restore-mix (every protocol's damage, 8 % clean faces)"
    training/scripts/compare_mix.sh progressive_128 "$run" "${PROG_SPREAD:-300}"
}
for stage in "$@"; do "stage_$stage"; done
