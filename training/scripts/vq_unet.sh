#!/bin/bash
# Every vq_unet run behind resources/weights/README.md, in order (2-core CPU: ~3 h in all; one at a time, since
# two processes on two cores slow each other by far more than half). Run from the repository root with the
# venv active; runs land in runs/ (git-ignored). Usage: training/scripts/vq_unet.sh [main|finetune|ablation|evaluate]...
set -euo pipefail
set -f  # the --set values hold brackets: never glob them
stage_main() {  # run 1: the recipe's defaults (3,000 steps)
    python -m training train vq_unet --run-dir runs/vq_unet --val-every 500
}
stage_finetune() {  # run 2, the shipped weights: 1,500 steps from run 1 with the identity term
    python -m training train vq_unet --init-from runs/vq_unet --run-dir runs/vq_ft_id05_a001 --val-every 500 \
        --set steps=1500 lr=2e-4 lr_d=1e-4 lambda_id=0.5 alpha=0.001
    python -m training export vq_unet --run-dir runs/vq_ft_id05_a001 --out runs/vq_ft_id05_a001/weights
}
stage_ablation() {  # the paper's Table 3 and the skip-count sweep at half size, 500 steps each
    local r='widths=[8,16,32,48,64] steps=500'
    python -m training train vq_unet --set $r lgf=false quantize=false noise=false --run-dir runs/vq_abl_base
    python -m training train vq_unet --set $r lgf=true quantize=false noise=false --run-dir runs/vq_abl_lgf
    python -m training train vq_unet --set $r lgf=true quantize=true noise=false --run-dir runs/vq_abl_quant
    python -m training train vq_unet --set $r --run-dir runs/vq_abl_noise
    for k in 1 3 4; do python -m training train vq_unet --set $r skips=$k --run-dir runs/vq_skips$k; done
    python -m training table vq_unet --run runs/vq_abl_base --run runs/vq_abl_lgf --run runs/vq_abl_quant \
        --run runs/vq_abl_noise --run runs/vq_skips1 --run runs/vq_skips3 --run runs/vq_skips4 \
        --protocols bfr-severe --spread 300 --json runs/vq_ablation.json
}
stage_mix() {  # issue 21 item 6: the shipped weights fine-tuned on the default model's mix (restore-mix: every
    # protocol's damage, fading and colour casts included, which bfr-severe never showed it). Resumable with
    # VQ_RESUME=1; VQ_HOURS bounds the run. Then the ship decision: `stage_compare_mix`.
    local start=(--init-from resources/weights/vq_unet.safetensors)
    [[ -n "${VQ_RESUME:-}" ]] && start=(--resume)
    python -m training train vq_unet "${start[@]}" --run-dir "${VQ_RUN:-runs/vq_mix}" --hours "${VQ_HOURS:-1.0}" \
        --val-every 500 --set degradation=restore-mix steps="${VQ_STEPS:-3000}" lr=2e-4 lr_d=1e-4 lambda_id=0.5 alpha=0.001
}
stage_compare_mix() {  # the run's export beside the shipped weights on VQ_SPREAD (300) spread test faces
    local run="${VQ_RUN:-runs/vq_mix}"
    python -m training export vq_unet --run-dir "$run" --out "$run/weights" --data "shared faces train split minus its \
blurriest 10 %: bfr-severe (the shipped run), then restore-mix (every protocol's damage, 8 % clean faces)"
    training/scripts/compare_mix.sh vq_unet "$run" "${VQ_SPREAD:-300}"
}
stage_evaluate() {  # the card's 1,000-face table for the fine-tuned weights
    python -m training evaluate vq_unet --protocol bfr-severe --spread 1000 --by-category \
        --weights runs/vq_ft_id05_a001/weights --json runs/vq_ft_id05_a001/eval.json
}
for stage in "${@:-main finetune ablation evaluate}"; do
    for s in $stage; do "stage_$s"; done
done
