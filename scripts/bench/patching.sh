#!/usr/bin/env bash
# Mechanic vs TransformerLens activation patching (resid_pre, attn_head_out_all_pos) on a
# GPT-2-small-shaped random model, 20-token prompts, same machine, same run.
# Usage: scripts/bench/patching.sh   (needs /tmp/ref, see tl_forward.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
py="${MECHANIC_REF_PYTHON:-/tmp/ref/bin/python}"
mkdir -p /tmp/mechanic-bench
./mechanic bench patching --naive > /tmp/mechanic-bench/patch-mechanic.json
OPENBLAS_NUM_THREADS=2 "$py" scripts/bench/patching_bench.py --threads 2 > /tmp/mechanic-bench/patch-tl.json
"$py" - <<'PY'
import json
last = lambda f: json.loads([l for l in open(f) if l.strip().startswith("{")][-1])
m = last("/tmp/mechanic-bench/patch-mechanic.json"); t = last("/tmp/mechanic-bench/patch-tl.json")
print(f"{'measure':26} {'Mechanic':>10} {'TransformerLens':>16} {'TL / Mechanic':>14}")
for k in ["resid_pre", "attn_head_out_all_pos", "forward"]:
    for suffix, label in [("", "wall"), ("_cpu", "cpu")]:
        if k + suffix in m and k + suffix in t:
            print(f"{k + ' (' + label + ')':26} {m[k+suffix]:9.3f}s {t[k+suffix]:15.3f}s {t[k+suffix]/m[k+suffix]:13.1f}x")
PY
