#!/usr/bin/env bash
# Attribution patching: Mechanic vs TransformerLens's recipe, same checkpoint, same prompts, same run.
# Usage: scripts/bench/atp.sh [repeats]   (needs /tmp/ref, see tl_forward.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${1:-3}"
dir=/tmp/mechanic-bench/gpt2-random
py="${MECHANIC_REF_PYTHON:-/tmp/ref/bin/python}"
mkdir -p /tmp/mechanic-bench
./mechanic bench atp --dir "$dir" --repeats "$repeats" --write-inputs /tmp/mechanic-bench/atp-inputs.json > /tmp/mechanic-bench/atp-mechanic.json
for f in vocab.json merges.txt; do
  [ -f "$dir/$f" ] || cp "../shared/data/tokenizers/gpt2/$f" "$dir/$f" 2>/dev/null || true
done
OPENBLAS_NUM_THREADS=2 "$py" scripts/bench/atp_bench.py "$dir" /tmp/mechanic-bench/atp-inputs.json "$repeats" 2 > /tmp/mechanic-bench/atp-tl.json
"$py" - <<'PY'
import json
last = lambda f: json.loads([l for l in open(f) if l.strip().startswith("{")][-1])
m = last("/tmp/mechanic-bench/atp-mechanic.json"); t = last("/tmp/mechanic-bench/atp-tl.json")
print(f"attribution patching, {m['pairs']} pairs x {m['seq']} tokens (resid_pre, attn_head_out_all_pos, block_every)")
print(f"  Mechanic {m['atp_s']:.3f}s   TransformerLens {t['atp_s']:.3f}s   TL / Mechanic {t['atp_s']/m['atp_s']:.2f}x")
print(f"  Mechanic: setup (clean and corrupted runs) {m['setup_s']:.3f}s, metric forward+backward {m['forward_backward_s']:.3f}s, one forward {m['forward_s']:.3f}s; exact resid_pre sweep (fast engine) {m['exact_resid_pre_s']:.3f}s "
      f"= {m['exact_resid_pre_s']/m['atp_s']:.1f}x the AtP time")
PY
