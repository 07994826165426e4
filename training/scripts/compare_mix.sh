#!/bin/bash
# The ship decision for a model trained on restore-mix: RUN's export (RUN/weights) beside the shipped weights on
# the same N spread test faces of every mix protocol, two evaluations at a time on the two cores, then one table.
# Usage: training/scripts/compare_mix.sh MODEL RUN [N=300]   (run from the repository root, venv active)
set -euo pipefail
model="$1" run="$2" n="${3:-300}"
protocols="oldphoto bfr-severe seed003-128 frrnet frrnet-lowlight"
for p in $protocols; do
    OMP_NUM_THREADS=1 python -m training evaluate "$model" --protocol "$p" --spread "$n" --weights "$run/weights" \
        --json "$run/eval${n}_$p.json" > "$run/eval${n}_$p.log" 2>&1 &
    OMP_NUM_THREADS=1 python -m training evaluate "$model" --protocol "$p" --spread "$n" \
        --json "$run/shipped${n}_$p.json" > "$run/shipped${n}_$p.log" 2>&1
    wait
done
python - "$run" "$n" $protocols <<'PY'
import json, sys
run, n, protocols = sys.argv[1], sys.argv[2], sys.argv[3:]
keys = ("psnr_face", "ssim", "id_match", "lmd", "iprecision", "niqe", "detail")
print("| protocol | " + " | ".join(f"{k}: input / shipped / run" for k in keys) + " |")
for p in protocols:
    new, old = (json.load(open(f"{run}/{w}{n}_{p}.json")) for w in ("eval", "shipped"))
    cells = [" / ".join(f"{row.get(k, float('nan')):.3f}" for row in (new["input"], old["output"], new["output"])) for k in keys]
    print(f"| {p} | " + " | ".join(cells) + " |")
PY
