#!/usr/bin/env bash
# Whole-process load cost, Mechanic vs TransformerLens on the GPT-2-small-shaped random checkpoint,
# same machine, same run: `mechanic bench load` (predict with a cold / warm / no weight cache, and
# a one-pair resid_pre `mechanic patch`, as child processes with their peak RSS), then
# TransformerLens's from_pretrained + one forward (tl_load.py) and its resid_pre sweep on the same
# pair (patch_bench.py). Usage: scripts/bench/load.sh [repeats]   (needs /tmp/ref, see tl_forward.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${1:-5}"
dir="${MECHANIC_BENCH_DIR:-/tmp/mechanic-bench/gpt2-random}"
mechanic="${MECHANIC_BIN:-./mechanic}"
out="${MECHANIC_BENCH_OUT:-/tmp/mechanic-bench/load}"
py="${MECHANIC_REF_PYTHON:-/tmp/ref/bin/python}"
mkdir -p "$out"
"$mechanic" bench load --dir "$dir" --repeats "$repeats" --inputs "$out/pair.json" --json > "$out/mechanic.json"
# TransformerLens's loader wants tokenizer files beside the weights: use the real GPT-2 ones.
for f in vocab.json merges.txt; do
  [ -f "$dir/$f" ] || cp "../shared/data/tokenizers/gpt2/$f" "$dir/$f" 2>/dev/null || true
done
for i in 1 2 3; do OPENBLAS_NUM_THREADS=2 "$py" scripts/bench/tl_load.py "$dir" 2 | tail -1; done > "$out/tl_load.jsonl"
OPENBLAS_NUM_THREADS=2 "$py" scripts/bench/patch_bench.py --model "$dir" --inputs "$out/pair.json" \
  --threads 2 --sweeps resid_pre > "$out/tl_patch.json" 2> "$out/tl_patch.err"
"$py" - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
m = json.load(open(f"{out}/mechanic.json"))
runs = [json.loads(l) for l in open(f"{out}/tl_load.jsonl") if l.strip().startswith("{")]
tl = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
sweep = json.loads([l for l in open(f"{out}/tl_patch.json") if l.strip().startswith("{")][-1])["sweeps"]["resid_pre"]["s"]
gb = m["checkpoint_bytes"]
print(f"checkpoint {gb/1e6:.0f} MB (float32)")
print(f"mechanic predict, cold cache   {m['cold_s']:7.3f} s   peak RSS {m['cold_peak_rss']/1e6:6.0f} MB = {m['cold_rss_ratio']:.2f}x checkpoint")
print(f"mechanic predict, warm cache   {m['warm_s']:7.3f} s   peak RSS {m['warm_peak_rss']/1e6:6.0f} MB = {m['warm_rss_ratio']:.2f}x checkpoint")
print(f"mechanic predict, no cache     {m['uncached_s']:7.3f} s   peak RSS {m['uncached_peak_rss']/1e6:6.0f} MB = {m['uncached_peak_rss']/gb:.2f}x")
print(f"TransformerLens from_pretrained + forward {tl['load_forward_s']:7.3f} s (imports {tl['import_s']:.2f} s more; peak RSS {tl['peak_rss']/1e6:.0f} MB)")
print(f"  warm predict (whole process) / TL load+forward = {m['warm_s']/tl['load_forward_s']:.3f}  (goal <= 0.125)")
print(f"  warm predict / TL whole process (with imports)  = {m['warm_s']/tl['process_s']:.3f}")
print(f"  CPU seconds: warm predict {m['warm_cpu_s']:.3f} vs TL load+forward {tl['load_forward_cpu_s']:.3f} = {m['warm_cpu_s']/tl['load_forward_cpu_s']:.3f}")
tl_sweep = json.loads([l for l in open(f"{out}/tl_patch.json") if l.strip().startswith("{")][-1])["sweeps"]["resid_pre"]
print(f"mechanic patch resid_pre, 1 pair (whole process, warm) {m['patch_one_pair_s']:7.3f} s (CPU {m['patch_one_pair_cpu_s']:.2f} s); TransformerLens sweep alone {sweep:7.3f} s (CPU {tl_sweep['cpu_s']:.2f} s)")
print(f"  ratio {m['patch_one_pair_s']/sweep:.3f}  (goal <= 0.05)")
PY
