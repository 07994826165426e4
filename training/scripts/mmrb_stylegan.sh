#!/bin/bash
# Every mmrb_stylegan run behind resources/weights/README.md, in order (2-core CPU; one process at a time).
# Run from the repository root with the venv active; runs land in runs/ (git-ignored).
# Usage: training/scripts/mmrb_stylegan.sh [prior|main|evaluate|identity]...
set -euo pipefail
set -f
stage_prior() {  # the StyleGAN2 prior, unconditional, 0.5 h; then its sample grid and FD-dlib on the test split
    python -m training train stylegan_prior --run-dir runs/stylegan_prior --hours 0.5 --val-every 500
    python -m training prior runs/stylegan_prior --samples 1000 --grid runs/stylegan_prior/prior_grid.png \
        --json runs/stylegan_prior/prior.json
}
stage_main() {  # codec + prior jointly, from the prior's EMA generator and discriminator, 0.75 h (3,000 steps)
    python -m training train mmrb_stylegan --set prior=runs/stylegan_prior --run-dir runs/mmrb_stylegan --hours 0.75 --val-every 500
    python -m training export mmrb_stylegan --run-dir runs/mmrb_stylegan   # -> resources/weights (shipped)
}
stage_evaluate() {  # the card's tables: 1,000 bfr-severe faces with the pose breakdown, 500 seed003-128 faces
    python -m training evaluate mmrb_stylegan --protocol bfr-severe --spread 1000 --by-category --record \
        --json runs/mmrb_stylegan/eval_bfr.json
    python -m training evaluate mmrb_stylegan --protocol seed003-128 --spread 500 --by-category --record \
        --json runs/mmrb_stylegan/eval_seed003.json
}
stage_identity() {  # fine-tune the shipped weights for identity: adversarial weights /10, face preserving x3 (0.45 h)
    python -m training train mmrb_stylegan --init-from resources/weights/mmrb_stylegan.safetensors \
        --set prior=runs/stylegan_prior steps=2000 lambda_g=0.002 lambda_l=0.012 lambda_fp=30 \
        --run-dir runs/mmrb_stylegan_id --hours 0.6 --val-every 500
    python -m training export mmrb_stylegan --run-dir runs/mmrb_stylegan_id --out runs/mmrb_stylegan_id/weights
    python -m training evaluate mmrb_stylegan --weights runs/mmrb_stylegan_id/weights --protocol bfr-severe \
        --spread 1000 --by-category --json runs/mmrb_stylegan_id/eval_bfr.json
}
for stage in "${@:-prior main evaluate}"; do
    for s in $stage; do "stage_$s"; done
done
