#!/usr/bin/env bash
# Circuit discovery: Mechanic's EAP vs the same EAP with TransformerLens hooks, same checkpoint,
# same 10 pairs of 15 tokens, same run; plus Mechanic's exact ACDC run for real (stopped after
# ACDC_LIMIT seconds, default 1200; KL threshold ACDC_THRESHOLD, default 0.001: on this random
# checkpoint 0.01 removes every edge; ACDC_SAMPLE=k also times k naive edge tests per layer).
# Usage: scripts/bench/circuit.sh [repeats]   (needs /tmp/ref, see tl_forward.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${1:-3}"
dir=/tmp/mechanic-bench/gpt2-random
py="${MECHANIC_REF_PYTHON:-/tmp/ref/bin/python}"
bin="${MECHANIC_BIN:-.build/release/mechanic}"
mkdir -p /tmp/mechanic-bench
rm -f /tmp/mechanic-bench/circuit-inputs.json
"$bin" bench circuit --dir "$dir" --repeats "$repeats" --acdc-sample "${ACDC_SAMPLE:-0}" --acdc-limit "${ACDC_LIMIT:-1200}" --acdc-threshold "${ACDC_THRESHOLD:-0.001}" --write-inputs /tmp/mechanic-bench/circuit-inputs.json > /tmp/mechanic-bench/circuit-mechanic.json
for f in vocab.json merges.txt; do
  [ -f "$dir/$f" ] || cp "../shared/data/tokenizers/gpt2/$f" "$dir/$f" 2>/dev/null || true
done
OPENBLAS_NUM_THREADS=2 "$py" scripts/bench/circuit_bench.py "$dir" /tmp/mechanic-bench/circuit-inputs.json "$repeats" 2 > /tmp/mechanic-bench/circuit-tl.json
"$py" - <<'PY'
import json
last = lambda f: json.loads([l for l in open(f) if l.strip().startswith("{")][-1])
m = last("/tmp/mechanic-bench/circuit-mechanic.json"); t = last("/tmp/mechanic-bench/circuit-tl.json")
print(f"EAP on {m['edges']} edges (TL: {t['edges']}), {m['pairs']} pairs x {m['seq']} tokens")
print(f"  Mechanic {m['eap_s']:.3f}s   TransformerLens hooks {t['eap_s']:.3f}s   Mechanic / TL {m['eap_s']/t['eap_s']:.2f}")
if m["acdc_tests"]:
    print(f"  exact ACDC, naive extrapolation (every edge a timed test): {m['acdc_estimate_s']:.0f}s = {m['acdc_estimate_s']/60:.1f} min")
    for x in m["acdc_tests"]:
        print(f"    receivers of layer {x['layer']:2d}: {x['edges']:5d} edges x {x['test_s']*1000:.0f} ms")
f = m.get("acdc_full") or {}
if f:
    state = f"finished: {f['kept']} edges kept, {f['skipped']} of {f['visited']} edges removed without a run" if f["finished"] else f"stopped at the limit after {f['visited']} of {m['edges']} edges"
    print(f"  exact ACDC run for real (KL, threshold {f['threshold']}): {f['seconds']:.0f}s = {f['seconds']/60:.1f} min, {state}")
PY
