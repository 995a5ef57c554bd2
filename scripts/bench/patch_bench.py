"""TransformerLens 2.18's side of `mechanic bench patch` (run both through scripts/bench/patch.sh).

Loads the same random GPT-2-small-shaped checkpoint Mechanic wrote (with from_pretrained's weight
processing, as Mechanic loads it), reads the prompt pairs Mechanic generated (`--inputs`, written
by `mechanic bench patch --inputs`), and times `patching.get_act_patch_<sweep>` with the mean
logit difference over the pairs (answer and wrong id fixed per pair). The clean cache is
computed before the timed calls, as TransformerLens's API expects; its time is reported as
`setup_s` but is not part of any sweep.

    /tmp/ref/bin/python scripts/bench/patch_bench.py --model DIR --inputs FILE [--threads 2]
        [--sweeps resid_pre,attn_head_out_all_pos,block_every]

Prints one JSON object: {"setup_s", "setup_cpu_s", "torch_threads", "sweeps": {name: {"s",
"cpu_s", "shape", "grid"}}} — wall seconds, process CPU seconds, and the grid (flattened).
Needs the reference venv (see tl_forward.py).
"""

import argparse
import contextlib
import io
import json
import time

import torch
import transformer_lens.loading_from_pretrained as loading
from transformer_lens import HookedTransformer, patching
from transformers import GPT2LMHeadModel


def timed(body):
    t, c = time.perf_counter(), time.process_time()
    value = body()
    return value, time.perf_counter() - t, time.process_time() - c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="checkpoint directory written by `mechanic bench patch`")
    ap.add_argument("--inputs", required=True, help="prompt pairs written by `mechanic bench patch --inputs`")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sweeps", default="resid_pre,attn_head_out_all_pos,block_every")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)

    loading.get_official_model_name = lambda name: name  # accept a local directory as the model name
    hf = GPT2LMHeadModel.from_pretrained(args.model, torch_dtype=torch.float32)
    with contextlib.redirect_stdout(io.StringIO()):  # the "Loaded pretrained model" banner
        model = HookedTransformer.from_pretrained(args.model, hf_model=hf, device="cpu", tokenizer=None,
                                                  dtype=torch.float32)
    del hf
    model.eval()

    with open(args.inputs) as f:
        pairs = json.load(f)["pairs"]
    clean = torch.tensor([p["clean"] for p in pairs])      # [pairs, pos]
    corrupt = torch.tensor([p["corrupt"] for p in pairs])  # [pairs, pos]
    answers = torch.tensor([p["answer"] for p in pairs])
    wrongs = torch.tensor([p["wrong"] for p in pairs])
    rows = torch.arange(len(pairs))

    def metric(logits):
        last = logits[:, -1, :]  # [pairs, d_vocab]
        return (last[rows, answers] - last[rows, wrongs]).mean()

    model(corrupt)  # warm-up
    (_, clean_cache), setup_s, setup_cpu = timed(lambda: model.run_with_cache(clean))
    out = {"setup_s": setup_s, "setup_cpu_s": setup_cpu, "torch_threads": torch.get_num_threads(),
           "pairs": len(pairs), "seq": clean.shape[1], "sweeps": {}}
    for name in args.sweeps.split(","):
        fn = getattr(patching, "get_act_patch_" + name)
        with contextlib.redirect_stderr(io.StringIO()):  # tqdm progress bars
            grid, s, cpu = timed(lambda: fn(model, corrupt, clean_cache, metric))
        out["sweeps"][name] = {"s": s, "cpu_s": cpu, "shape": list(grid.shape),
                               "grid": grid.flatten().tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
