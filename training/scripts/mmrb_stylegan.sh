#!/bin/bash
# Every mmrb_stylegan run behind resources/weights/README.md, in order (2-core CPU; one process at a time).
# Run from the repository root with the venv active; runs land in runs/ (git-ignored).
# Usage: training/scripts/mmrb_stylegan.sh [prior|main|identity|evaluate]...
set -euo pipefail
set -f
stage_prior() {  # the StyleGAN2 prior, unconditional, 0.5 h; then its sample grid and FD-dlib on the test split
    python -m training train stylegan_prior --run-dir runs/stylegan_prior --hours 0.5 --val-every 500
    python -m training prior runs/stylegan_prior --samples 1000 --grid runs/stylegan_prior/prior_grid.png \
        --json runs/stylegan_prior/prior.json
}
stage_main() {  # codec + prior jointly, from the prior's EMA generator and discriminator, 0.75 h (3,000 steps)
    python -m training train mmrb_stylegan --set prior=runs/stylegan_prior --run-dir runs/mmrb_stylegan --hours 0.75 --val-every 500
    python -m training export mmrb_stylegan --run-dir runs/mmrb_stylegan --out runs/mmrb_stylegan/weights
}
stage_evaluate() {  # the card's tables: 1,000 bfr-severe faces with the pose breakdown, 500 seed003-128 faces
    python -m training evaluate mmrb_stylegan --protocol bfr-severe --spread 1000 --by-category --record \
        --json runs/mmrb_stylegan/eval_bfr.json
    python -m training evaluate mmrb_stylegan --protocol seed003-128 --spread 500 --by-category --record \
        --json runs/mmrb_stylegan/eval_seed003.json
}
stage_identity() {  # the shipped weights: main's, fine-tuned 300 steps for identity (adversarial /10, face preserving x3)
    # Longer is worse: at 600 and 2,000 steps the faces grow coloured squiggles and identity falls back;
    # with face preserving off instead, the prior's generic, distorted face comes back (identity falls).
    python -m training train mmrb_stylegan --init-from runs/mmrb_stylegan/weights/mmrb_stylegan.safetensors \
        --set prior=runs/stylegan_prior steps=300 lambda_g=0.002 lambda_l=0.012 lambda_fp=30 \
        --run-dir runs/mmrb_stylegan_id300 --hours 0.3 --val-every 300
    python -m training export mmrb_stylegan --run-dir runs/mmrb_stylegan_id300   # -> resources/weights (shipped)
}
for stage in "${@:-prior main identity evaluate}"; do
    for s in $stage; do "stage_$s"; done
done
