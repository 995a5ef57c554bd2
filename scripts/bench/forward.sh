#!/usr/bin/env bash
# Mechanic vs TransformerLens on a GPT-2-small-shaped random checkpoint, same machine, same run.
# Usage: scripts/bench/forward.sh [repeats]   (needs /tmp/ref, see tl_forward.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${1:-5}"
dir=/tmp/mechanic-bench/gpt2-random
py="${MECHANIC_REF_PYTHON:-/tmp/ref/bin/python}"
./mechanic bench forward --dir "$dir" --repeats "$repeats" --json > /tmp/mechanic-bench/mechanic.json
# TransformerLens's loader wants tokenizer files beside the weights: use the real GPT-2 ones.
for f in vocab.json merges.txt; do
  [ -f "$dir/$f" ] || cp "../shared/data/tokenizers/gpt2/$f" "$dir/$f" 2>/dev/null || true
done
OPENBLAS_NUM_THREADS=2 "$py" scripts/bench/tl_forward.py "$dir" "$repeats" 2 > /tmp/mechanic-bench/tl.json
"$py" - <<'PY'
import json
last = lambda f: json.loads([l for l in open(f) if l.strip().startswith("{")][-1])  # TL prints a banner
m = last("/tmp/mechanic-bench/mechanic.json"); t = last("/tmp/mechanic-bench/tl.json")
print(f"{'measure':24} {'Mechanic':>10} {'TransformerLens':>16} {'TL / Mechanic':>14}")
for k, label in [("forward_1x16_s", "forward 1x16"), ("forward_8x64_s", "forward 8x64"), ("forward_cache_8x64_s", "forward+cache 8x64"), ("load_s", "load")]:
    print(f"{label:24} {m[k]*1e3:9.1f}ms {t[k]*1e3:15.1f}ms {t[k]/m[k]:13.2f}x")
print(f"Mechanic forward 8x64 reaches {100*m['fraction_of_sgemm']:.0f}% of the measured sgemm rate ({m['sgemm_gflops']:.1f} GFLOP/s)")
PY
