#!/usr/bin/env bash
# Issue 6's patching benchmark: `mechanic bench patch`, then TransformerLens 2.18 on the identical
# prompt pairs and weights, in the same run; prints times, ratios, floors and grid agreement.
# Usage: scripts/bench/patch.sh [--mechanic-only] [--pairs 10] [--seq 15]
#                               [--sweeps resid_pre,attn_head_out_all_pos,block_every]
# Needs the reference venv /tmp/ref (see tl_forward.py) unless --mechanic-only; outputs are kept
# in $MECHANIC_BENCH_OUT (default /tmp/mechanic-bench/patch). TransformerLens takes about half an
# hour for the three default sweeps on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=/tmp/mechanic-bench/gpt2-random
out="${MECHANIC_BENCH_OUT:-/tmp/mechanic-bench/patch}"
py="${MECHANIC_REF_PYTHON:-/tmp/ref/bin/python}"
pairs=10 seq=15 sweeps=resid_pre,attn_head_out_all_pos,block_every tl=1
while [ $# -gt 0 ]; do
  case "$1" in
    --mechanic-only) tl=0; shift ;;
    --pairs) pairs="$2"; shift 2 ;;
    --seq) seq="$2"; shift 2 ;;
    --sweeps) sweeps="$2"; shift 2 ;;
    *) echo "patch.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
./mechanic bench patch --dir "$dir" --pairs "$pairs" --seq "$seq" --sweeps "$sweeps" --threads 2 \
  --inputs "$out/inputs.json" --json > "$out/mechanic.json"
if [ "$tl" = 0 ]; then
  python3 scripts/bench/patch_table.py "$out/mechanic.json"
  exit 0
fi
# TransformerLens's loader wants tokenizer files beside the weights: use the real GPT-2 ones.
for f in vocab.json merges.txt; do
  [ -f "$dir/$f" ] || cp "../shared/data/tokenizers/gpt2/$f" "$dir/$f" 2>/dev/null || true
done
OPENBLAS_NUM_THREADS=2 "$py" scripts/bench/patch_bench.py --model "$dir" --inputs "$out/inputs.json" \
  --threads 2 --sweeps "$sweeps" > "$out/tl.json" 2> "$out/tl.err"
"$py" scripts/bench/patch_table.py "$out/mechanic.json" "$out/tl.json"
