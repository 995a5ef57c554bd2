#!/usr/bin/env bash
# The explorer's prompt-page API (mechanic serve) vs TransformerLens doing the same analyses in one
# process, on the GPT-2-small-shaped random checkpoint of `mechanic bench forward`, same machine,
# same run. Usage: scripts/bench/explorer.sh [repeats]   (needs /tmp/ref, see tl_forward.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${1:-5}"
src=/tmp/mechanic-bench/gpt2-random
py="${MECHANIC_REF_PYTHON:-/tmp/ref/bin/python}"
[ -f "$src/model.safetensors" ] || ./mechanic bench forward --dir "$src" --repeats 1 > /dev/null
# A directory of links: the checkpoint and GPT-2's tokenizer files (TransformerLens's loader wants them).
dir=$(mktemp -d /tmp/mechanic-explorer-bench.XXXXXX)
ln -s "$src/model.safetensors" "$src/config.json" "$dir/"
for f in vocab.json merges.txt; do [ -f "../shared/data/tokenizers/gpt2/$f" ] && ln -s "$(realpath ../shared/data/tokenizers/gpt2/$f)" "$dir/$f"; done
out="$dir/serve.out"
OPENBLAS_NUM_THREADS=2 ./mechanic serve --model "$dir" --port 0 --workers 1 > "$out" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 600); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/$|\1|p' "$out")
OPENBLAS_NUM_THREADS=2 "$py" scripts/bench/explorer_bench.py "$dir" "$port" "$repeats" 2 "$pid" | tail -1
