"""TransformerLens's side of `mechanic bench patching`: times `get_act_patch_resid_pre` and
`get_act_patch_attn_head_out_all_pos` on a GPT-2-small-shaped random model (12 layers, d_model
768, 12 heads, d_mlp 3072, d_vocab 50257, LNPre as after fold_ln), prompts of 20 tokens,
float32 on the CPU with 2 torch threads — the same shapes `PatchingBenchmark.run` times.

    /tmp/ref/bin/python scripts/bench/patching_bench.py [--seq 20] [--threads 2] [--repeats 1]

Prints one JSON object of seconds: {"resid_pre": s, "attn_head_out_all_pos": s, "forward": s}
("forward" = one plain forward of the corrupted prompt, for scale), each also as "<key>_cpu":
the process's CPU seconds (steadier than wall time on a shared machine).
"""

import argparse
import contextlib
import io
import json
import time

import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig, patching


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--layers", type=int, default=12)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = HookedTransformerConfig(n_layers=args.layers, d_model=768, n_heads=12, d_head=64, d_mlp=3072,
                                  d_vocab=50257, n_ctx=1024, act_fn="gelu_new", normalization_type="LNPre",
                                  device="cpu", seed=0)
    model = HookedTransformer(cfg)
    model.eval()
    g = torch.Generator().manual_seed(1)
    clean = torch.randint(0, cfg.d_vocab, (1, args.seq), generator=g)
    corrupt = clean.clone()
    corrupt[0, 3] = (clean[0, 3] + 1) % cfg.d_vocab
    corrupt[0, -1] = (clean[0, -1] + 1) % cfg.d_vocab
    answer, wrong = 11, 12

    def metric(logits):
        return logits[0, -1, answer] - logits[0, -1, wrong]

    out = {}
    with torch.no_grad():
        _, clean_cache = model.run_with_cache(clean)
        model(corrupt)  # warm-up

        def timed(key, body):
            t, c = time.perf_counter(), time.process_time()
            for _ in range(args.repeats):
                body()
            out[key] = (time.perf_counter() - t) / args.repeats
            out[key + "_cpu"] = (time.process_time() - c) / args.repeats

        timed("forward", lambda: model(corrupt))
        for name in ["resid_pre", "attn_head_out_all_pos"]:
            fn = getattr(patching, "get_act_patch_" + name)
            with contextlib.redirect_stderr(io.StringIO()):
                timed(name, lambda: fn(model, corrupt, clean_cache, metric))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
