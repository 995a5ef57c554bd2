"""TransformerLens's side of `mechanic bench atp`: attribution patching as TransformerLens's
attribution-patching demo does it (a cached clean run; the corrupted run with forward-cache and
backward hooks on resid_pre / attn_out / mlp_out / z; the metric's backward; the estimates
(clean − corrupted) · grad for resid_pre [layer, pos], attn_head_out_all_pos [layer, head] and
block_every [3, layer, pos]), on the same checkpoint and prompt pairs.

    /tmp/ref/bin/python scripts/bench/atp_bench.py DIR INPUTS.json [repeats] [threads]

Prints one JSON object: {"atp_s": median seconds}.
"""
import json, statistics, sys, time

import torch
import transformer_lens.loading_from_pretrained as loading
from transformer_lens import HookedTransformer, utils
from transformers import GPT2LMHeadModel

path, inputs = sys.argv[1], json.load(open(sys.argv[2]))
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
loading.get_official_model_name = lambda name: name
hf = GPT2LMHeadModel.from_pretrained(path, torch_dtype=torch.float32)
model = HookedTransformer.from_pretrained(path, hf_model=hf, device="cpu", tokenizer=None, dtype=torch.float32)
clean, corrupt = torch.tensor(inputs["clean"]), torch.tensor(inputs["corrupt"])
answers, wrongs = torch.tensor(inputs["answer"]), torch.tensor(inputs["wrong"])
rows = torch.arange(clean.shape[0])
L = model.cfg.n_layers
names = lambda n: n.endswith(("hook_resid_pre", "hook_attn_out", "hook_mlp_out", "hook_z"))  # noqa: E731


def metric(logits):
    return (logits[rows, -1, answers] - logits[rows, -1, wrongs]).mean()


def atp():
    with torch.no_grad():
        _, clean_cache = model.run_with_cache(clean, names_filter=names)
    acts, grads = {}, {}

    def fwd(x, hook):
        acts[hook.name] = x.detach()

    def bwd(g, hook):
        grads[hook.name] = g.detach()

    model.reset_hooks()
    model.add_hook(names, fwd, "fwd")
    model.add_hook(names, bwd, "bwd")
    value = metric(model(corrupt))
    value.backward()
    model.reset_hooks()
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        prod = lambda act, l: (clean_cache[utils.get_act_name(act, l)] - acts[utils.get_act_name(act, l)]) * grads[utils.get_act_name(act, l)]  # noqa: E731
        resid = torch.stack([prod("resid_pre", l).sum(dim=(0, 2)) for l in range(L)])
        heads = torch.stack([prod("z", l).sum(dim=(0, 1, 3)) for l in range(L)])
        block = torch.stack([torch.stack([prod(a, l).sum(dim=(0, 2)) for l in range(L)]) for a in ["resid_pre", "attn_out", "mlp_out"]])
    return resid, heads, block


atp()
times = []
for _ in range(repeats):
    t = time.perf_counter()
    atp()
    times.append(time.perf_counter() - t)
print(json.dumps({"atp_s": statistics.median(times)}))
