#!/bin/bash
# Every frrnet run behind resources/weights/README.md, in order (2-core CPU: ~3.5 h in all; one process at a
# time). Run from the repository root with the venv active; runs land in runs/ (git-ignored).
# Usage: training/scripts/frrnet.sh [variants|table|lighting|ship|evaluate|identity|mix|mix_more|sharpen|sharpen_r1|sharpen_fine|sharpen_warm|identity_mix|marks|evaluate_marks|ship_marks|compare_mix|ship_mix]...
set -euo pipefail
stage_variants() {  # the paper's Table 1: three width/depth variants, same budget (5,400 steps x batch 8, Algorithm 1)
    python -m training train frrnet --set width=8 depth=1 --run-dir runs/frrnet_w8d1
    python -m training train frrnet --run-dir runs/frrnet                     # W12D2, the recipe's defaults
    python -m training train frrnet --set width=16 depth=3 --run-dir runs/frrnet_w16d3
}
stage_table() {  # the card's Table-1-style comparison on 1,000 spread test faces, with CPU speed (idle machine)
    python -m training table frrnet --run runs/frrnet_w8d1 --run runs/frrnet --run runs/frrnet_w16d3 \
        --protocols frrnet seed003-128 frrnet-lowlight --spread 1000 --json runs/frrnet_table.json
}
stage_lighting() {  # the shipped weights: W12D2 fine-tuned on Algorithm 1 with low light and screen light added
    python -m training export frrnet --run-dir runs/frrnet --out runs/frrnet/weights
    python -m training train frrnet --init-from runs/frrnet/weights/frrnet.safetensors --run-dir runs/frrnet_lighting \
        --set degradation=frrnet-train-lighting steps=5000 lr=5e-4 --steps 4947 --val-every 1000
    # (the shipped run had a 0.6 h budget, which stopped it at step 4,947 of its 5,000-step cosine schedule)
}
stage_ship() {  # into resources/weights with its manifest entry (the base run's steps and hours counted)
    python -m training export frrnet --run-dir runs/frrnet_lighting --data "shared faces train split minus its \
blurriest 10 %: 23,342 aligned 128x128 crops (celeba + aaf); 5,400 steps on frrnet-train (Algorithm 1), then \
fine-tuned on frrnet-train-lighting (Algorithm 1 with low light and screen light)"
}
stage_evaluate() {  # the card's numbers for the shipped weights, recorded in the manifest
    for p in frrnet-lowlight frrnet seed003-128 frrnet-train; do  # frrnet-train: the classifier on Algorithm 1's mix
        python -m training evaluate frrnet --protocol "$p" --spread 1000 --record --json "runs/frrnet_lighting/$p.json"
    done
    python -m training evaluate frrnet --protocol bfr-severe --spread 1000 --by-category --record \
        --json runs/frrnet_lighting/bfr-severe.json  # the vq_unet card's comparison and the pose breakdown
    python benchmarks/composite_ceiling.py --n 1000
}
stage_identity() {  # tried, not shipped (the card says why): the shipped weights + 3,000 steps with the FaceID term
    python -m training train frrnet --init-from resources/weights/frrnet.safetensors --run-dir runs/frrnet_id \
        --set degradation=frrnet-train-lighting steps=3000 lr=3e-4 lambda_id=5 --val-every 500
    python -m training export frrnet --run-dir runs/frrnet_id --out runs/frrnet_id/weights
    for p in frrnet seed003-128 frrnet-lowlight; do
        python -m training evaluate frrnet --protocol "$p" --spread 1000 --weights runs/frrnet_id/weights --json "runs/frrnet_id/$p.json"
    done
}
stage_mix() {  # the default at the paper's size (W28D2, 6.3 M parameters besides the frozen identity network) on the
    # damage people bring (restore-mix: every protocol's damage, the everyday chain, 8 % clean faces); one session's
    # CPU budget, resumable with --resume inside a session
    python -m training train frrnet --run-dir runs/frrnet_mix --hours "${FRRNET_HOURS:-1.7}" --val-every 500 \
        --set width=28 depth=2 degradation=restore-mix lambda_style=0 lr=7e-4 steps="${FRRNET_STEPS:-5000}" val_faces=64
}
stage_mix_more() {  # each later session: continue from the shipped weights (or, where the machine kept it, from the
    # last run's fp32 checkpoint: FRRNET_INIT=runs/frrnet_mix). runs/frrnet_mix_more2 (2026-12-06, two sessions) is
    # FRRNET_INIT=runs/frrnet_mix_more FRRNET_RUN=runs/frrnet_mix_more2 FRRNET_LR=3e-4 FRRNET_STEPS=20000, resumed in
    # the second session with the same settings and --resume
    python -m training train frrnet --init-from "${FRRNET_INIT:-resources/weights/frrnet.safetensors}" \
        --run-dir "${FRRNET_RUN:-runs/frrnet_mix_more}" \
        --hours "${FRRNET_HOURS:-2.3}" --val-every 500 \
        --set width=28 depth=2 degradation=restore-mix lambda_style=0 lr="${FRRNET_LR:-4e-4}" steps="${FRRNET_STEPS:-6500}" val_faces=64
}
stage_sharpen() {  # issue 21, item 4, tried on 2026-12-06, not shipped: the mix objective with a stronger perceptual term
    # plus a patch discriminator and one on the eyes and the mouth (training/discriminators.py), from the mix run's fp32
    # checkpoint. Both discriminators stayed at chance (loss 1.36 of 1.39) over 2,048 steps at lr_d 2e-4 and 900 more
    # at 1e-3, so the generator got no adversarial signal, and validation PSNR fell 0.25 dB (the runs' history.json).
    python -m training train frrnet --init-from "${FRRNET_INIT:-runs/frrnet_mix_more2}" --run-dir runs/frrnet_sharpen \
        --hours 0.34 --val-every 500 --set width=28 depth=2 degradation=restore-mix lambda_style=0 lr=2e-4 steps=12000 \
        val_faces=64 lambda_per=0.1 lambda_adv=0.03 lambda_parts=0.03
    python -m training train frrnet --init-from runs/frrnet_sharpen --run-dir runs/frrnet_sharpen2 --hours 0.3 \
        --val-every 500 --set width=28 depth=2 degradation=restore-mix lambda_style=0 lr=2e-4 steps=11000 val_faces=64 \
        lambda_per=0.1 lambda_adv=0.03 lambda_parts=0.03 lr_d=1e-3
}
stage_sharpen_r1() {  # issue 21, item 4, second try: the same objective with discriminators that can tell (no spectral
    # normalisation, a lazy R1 penalty instead; training/discriminators.py says why), from the shipped run's checkpoint.
    # Resumable: run the stage again with FRRNET_RESUME=1.
    local start=(--init-from runs/frrnet_mix_more2)
    [[ -n "${FRRNET_RESUME:-}" ]] && start=(--resume)
    python -m training train frrnet "${start[@]}" \
        --run-dir runs/frrnet_sharpen_r1 --hours "${FRRNET_HOURS:-1.05}" --val-every 1000 --set width=28 depth=2 \
        degradation=restore-mix lambda_style=0 lr=1e-4 steps=7000 val_faces=64 lambda_adv=0.03 lambda_parts=0.03 \
        d_spectral=false d_detail=true r1_gamma=0.1 r1_every=4 lr_d=5e-4
    # (These runs had PyTorch's default init and the fine band at x4; since the fourth try, plain discriminators are
    # He-initialised and see it at x16, so this stage no longer reproduces them exactly.)
    # (first try, 1,138 steps with the image alone, R1 gamma 1 and lr_d 2e-4: both discriminators at exactly 2 ln 2,
    # their weights still at their initial values: the image's difference was too faint to learn from)
}
stage_sharpen_fine() {  # issue 21, item 4, third try: no discriminator; an L1 on the fine band (lambda_fine) beside the
    # mix objective, from the shipped run's checkpoint. Resumable with FRRNET_RESUME=1.
    local start=(--init-from runs/frrnet_mix_more2)
    [[ -n "${FRRNET_RESUME:-}" ]] && start=(--resume)
    python -m training train frrnet "${start[@]}" --run-dir runs/frrnet_sharpen_fine --hours "${FRRNET_HOURS:-0.65}" \
        --val-every 1000 --set width=28 depth=2 degradation=restore-mix lambda_style=0 lr=1e-4 steps=4500 val_faces=64 \
        lambda_fine=2
}
stage_sharpen_warm() {  # issue 21, item 4, fourth try: the adversarial fine-tune with He-initialised plain discriminators
    # (training/discriminators.py says why) that first learn alone for d_warmup steps on the frozen network's outputs,
    # from the fourth mix run, no R1 penalty (it holds down the input gradients a discriminator needs to see a few grey
    # levels of missing detail). Resumable with FRRNET_RESUME=1.
    local start=(--init-from "${FRRNET_INIT:-runs/frrnet_mix_more3}")
    [[ -n "${FRRNET_RESUME:-}" ]] && start=(--resume)
    # At lambda_adv = lambda_parts = 0.03 (runs/frrnet_sharpen_warm_adv003) validation PSNR fell 0.8 dB in the first
    # 1,200 steps after the warm-up and clean faces were changed 60 % more: FRRNET_ADV sets both. At 0.01
    # (runs/frrnet_sharpen_warm_adv001) faces came out sharper with a dark line drawn around them, learned from the
    # training target's outline: d_inside=true counts the patch verdicts inside the face only.
    # At 0.005 with d_inside (runs/frrnet_sharpen_warm) skin turned blotchy and likeness fell: runs/frrnet_sharpen_gentle
    # is FRRNET_ADV=0.002 FRRNET_PARTS=0.005 FRRNET_ID=0.5 (gentler on skin, the eyes and mouth pushed more, the
    # identity term holding likeness).
    # 2026-12-07 (10), the sixth try: the eyes-and-mouth discriminator alone (skin is where the blotches came from, the
    # eyes and mouth are where a person looks for sharpness), the identity term at full weight, from the shipped weights:
    # FRRNET_INIT=resources/weights/frrnet.safetensors FRRNET_RUN=runs/frrnet_sharpen_parts FRRNET_ADV=0 FRRNET_PARTS=0.01
    # FRRNET_ID=1 FRRNET_HOURS=1.6
    # 2026-12-07 (11), the seventh try: no adversarial term at all, feature matching on both discriminators instead
    # (paired: the target's detail at each place, not any plausible detail), at half the rate:
    # FRRNET_INIT=resources/weights/frrnet.safetensors FRRNET_RUN=runs/frrnet_sharpen_fm FRRNET_ADV=0 FRRNET_PARTS=0
    # FRRNET_FM=0.01 FRRNET_ID=1 FRRNET_LR=5e-5 FRRNET_HOURS=1.3
    # 2026-12-07 (13), the ninth try: the seventh with the discriminators held unsure (d_floor 0.4) over a 6,000-step
    # schedule: FRRNET_INIT=resources/weights/frrnet.safetensors FRRNET_RUN=runs/frrnet_sharpen_floor FRRNET_ADV=0
    # FRRNET_PARTS=0 FRRNET_FM=0.01 FRRNET_ID=1 FRRNET_LR=5e-5 FRRNET_STEPS=6000 FRRNET_DFLOOR=0.4 FRRNET_HOURS=1.2
    local adv="${FRRNET_ADV:-0.005}" fm="${FRRNET_FM:-0}"
    python -m training train frrnet "${start[@]}" --run-dir "${FRRNET_RUN:-runs/frrnet_sharpen_warm}" \
        --hours "${FRRNET_HOURS:-1.75}" --val-every 1000 --set width=28 depth=2 degradation=restore-mix lambda_style=0 \
        lr="${FRRNET_LR:-1e-4}" steps="${FRRNET_STEPS:-10000}" val_faces=64 lambda_adv="$adv" lambda_parts="${FRRNET_PARTS:-$adv}" d_spectral=false \
        d_detail=true lr_d=1e-3 d_warmup=800 d_inside="${FRRNET_INSIDE:-true}" lambda_id="${FRRNET_ID:-0}" \
        lambda_fm_patch="$fm" lambda_fm_parts="$fm" d_floor="${FRRNET_DFLOOR:-0}"
}
stage_identity_mix() {  # 2026-12-06 (7): the mix objective plus the FaceID term alone (no discriminator), from the
    # fourth mix run: aimed at the one face goal the default misses, iPrecision on bfr-severe (1,000 faces: 0.149, the
    # input 0.156), which the vq_unet card found the identity term lifts; shipped. Resumable with FRRNET_RESUME=1.
    # Its continuation (started at the end of that session, 0.6 h, to go on with --resume):
    # FRRNET_INIT=runs/frrnet_identity FRRNET_RUN=runs/frrnet_identity2 FRRNET_STEPS=20000 FRRNET_HOURS=0.6
    # On a new machine (2026-12-07, no runs/ kept), from the shipped weights with a fresh optimiser at half the rate:
    # FRRNET_INIT=resources/weights/frrnet.safetensors FRRNET_RUN=runs/frrnet_identity3 FRRNET_LR=5e-5 FRRNET_STEPS=6000 FRRNET_HOURS=0.8
    local start=(--init-from "${FRRNET_INIT:-runs/frrnet_mix_more3}")
    [[ -n "${FRRNET_RESUME:-}" ]] && start=(--resume)
    python -m training train frrnet "${start[@]}" --run-dir "${FRRNET_RUN:-runs/frrnet_identity}" \
        --hours "${FRRNET_HOURS:-2.2}" --val-every 1000 --set width=28 depth=2 degradation=restore-mix lambda_style=0 \
        lr="${FRRNET_LR:-1e-4}" steps="${FRRNET_STEPS:-16000}" val_faces=64 lambda_id="${FRRNET_ID:-1}"
}
stage_marks() {  # issue 22, item 2 (2026-12-07, fourteenth session): the default learns to take away the print marks
    # that cross a face, for when scratch removal is off or its detector misses one: restore-mix with the scratch
    # detector's train-family marks on a quarter of the faces (training/data/marked.py), from the shipped weights,
    # validated on plain restore-mix so its numbers continue the shipped run's. Resumable with FRRNET_RESUME=1.
    # Run once (13,571 steps, 1.75 h): +3 dB on marked faces, not shipped because its classifier made Auto change clean
    # faces (resources/weights/README.md, frrnet). The second try (2026-12-07, fifteenth session) leaves the marked
    # faces out of the classifier's loss: FRRNET_MARKS=restore-mix-marks-unlabelled FRRNET_RUN=runs/frrnet_marks2 FRRNET_HOURS=1.4
    # FRRNET_STEPS=8500 (7,565 steps: the classifier kept clean faces, but the network moved faces more; not shipped).
    # The third (2026-12-07, sixteenth session) also holds the faces without marks to the shipped weights' output
    # (lambda_hold, training/recipes/frrnet.py): FRRNET_MARKS=restore-mix-marks-unlabelled FRRNET_HOLD=2
    # FRRNET_RUN=runs/frrnet_marks3 FRRNET_HOURS=1.75 FRRNET_STEPS=9000 (8,475 steps; shipped). It started from and was held
    # to the weights shipped before it; to repeat it now that those are replaced, take them from git
    # (`git show 8de2789:resources/weights/frrnet.safetensors`, with that commit's manifest.json beside it) and name that
    # folder's file in FRRNET_INIT and FRRNET_HOLD_WEIGHTS.
    local start=(--init-from "${FRRNET_INIT:-resources/weights/frrnet.safetensors}")
    [[ -n "${FRRNET_RESUME:-}" ]] && start=(--resume)
    python -m training train frrnet "${start[@]}" --run-dir "${FRRNET_RUN:-runs/frrnet_marks}" \
        --hours "${FRRNET_HOURS:-1.8}" --val-every 1000 --set width=28 depth=2 degradation="${FRRNET_MARKS:-restore-mix-marks}" \
        val_degradation=restore-mix lambda_style=0 lr="${FRRNET_LR:-1e-4}" steps="${FRRNET_STEPS:-12000}" val_faces=64 \
        lambda_id="${FRRNET_ID:-1}" lambda_hold="${FRRNET_HOLD:-0}" hold_weights="${FRRNET_HOLD_WEIGHTS:-resources/weights/frrnet.safetensors}"
}
MIX_DATA="shared faces train split minus its blurriest 10 %: 23,342 aligned 128x128 crops (celeba + aaf); restore-mix \
(every protocol's damage, the everyday-damage chain, 8 % clean faces)"
MIX_PROTOCOLS="oldphoto bfr-severe seed003-128 frrnet frrnet-lowlight"
stage_compare_mix() {  # the ship decision: the run's export beside the shipped weights on the same spread test faces
    # (FRRNET_SPREAD, default 300; training/scripts/compare_mix.sh)
    local run="${FRRNET_RUN:-runs/frrnet_mix_more}"
    python -m training export frrnet --run-dir "$run" --out "$run/weights" --data "$MIX_DATA"
    training/scripts/compare_mix.sh frrnet "$run" "${FRRNET_SPREAD:-300}"
}
stage_evaluate_marks() {  # the marks run's export on the card's 1,000 spread test faces, recorded in its own manifest
    # (RUN/weights), with the print-mark protocols beside the mix's, and the shipped weights on those two (two
    # evaluations at a time on the two cores)
    local run="${FRRNET_RUN:-runs/frrnet_marks}" w="${FRRNET_RUN:-runs/frrnet_marks}/weights"
    python -m training export frrnet --run-dir "$run" --out "$w" --data "$MIX_DATA; then ${FRRNET_MARKS:-restore-mix-marks} (the scratch \
detector's train-family print marks on 25 % of the faces)"
    local ev=(python -m training evaluate frrnet --spread 1000)
    (for p in oldphoto bfr-severe seed003-128 frrnet; do
        OMP_NUM_THREADS=1 "${ev[@]}" --protocol "$p" --weights "$w" --record --json "$run/eval1000_$p.json" > "$run/eval1000_$p.log" 2>&1
    done) &
    for p in frrnet-lowlight marks oldphoto-marks; do
        OMP_NUM_THREADS=1 "${ev[@]}" --protocol "$p" --weights "$w" --record --json "$run/eval1000_$p.json" > "$run/eval1000_$p.log" 2>&1
    done
    for p in marks oldphoto-marks; do
        OMP_NUM_THREADS=1 "${ev[@]}" --protocol "$p" --json "$run/shipped1000_$p.json" > "$run/shipped1000_$p.log" 2>&1
    done
    wait
}
stage_ship_marks() {  # the marks run into resources/weights with the numbers evaluate_marks recorded (the same
    # weights: the export is deterministic)
    local run="${FRRNET_RUN:-runs/frrnet_marks}"
    python -m training export frrnet --run-dir "$run" --data "$MIX_DATA; then ${FRRNET_MARKS:-restore-mix-marks} (the scratch \
detector's train-family print marks on 25 % of the faces)"
    python - "$run/weights/manifest.json" <<'PY'
import json, sys
from training.export import read_manifest, weights_dir, write_manifest
run = json.load(open(sys.argv[1]))["models"]["frrnet"]
manifest = read_manifest(weights_dir())
assert manifest["models"]["frrnet"]["sha256"] == run["sha256"], "the run's export and the shipped file differ"
manifest["models"]["frrnet"]["metrics"] = run["metrics"]
write_manifest(weights_dir(), manifest)
PY
}
stage_ship_mix() {  # into resources/weights, then the card's numbers on 1,000 spread test faces, recorded
    local run="${FRRNET_RUN:-runs/frrnet_mix_more}"
    python -m training export frrnet --run-dir "$run" --data "$MIX_DATA"
    for p in $MIX_PROTOCOLS; do
        python -m training evaluate frrnet --protocol "$p" --spread 1000 --record --json "$run/eval1000_$p.json"
    done
}
for stage in "${@:-variants table lighting ship evaluate}"; do
    for s in $stage; do "stage_$s"; done
done
