"""TransformerLens's side of `mechanic bench circuit`: edge attribution patching (EAP) on MIB's
edge graph with TransformerLens hooks — use_attn_result, use_split_qkv_input, use_hook_mlp_in;
cached clean and corrupted runs of the node outputs (hook_embed + hook_pos_embed, hook_result,
hook_mlp_out); the clean run's backward with hooks on every receiver input (hook_q/k/v_input,
hook_mlp_in, the last hook_resid_post); scores (u_corrupt − u_clean) · grad, one einsum per
receiver layer — on the same checkpoint and prompt pairs.

    /tmp/ref/bin/python scripts/bench/circuit_bench.py DIR INPUTS.json [repeats] [threads]

Prints one JSON object: {"eap_s": median seconds, "edges": count}.
"""
import json, statistics, sys, time

import torch
import transformer_lens.loading_from_pretrained as loading
from transformer_lens import HookedTransformer
from transformers import GPT2LMHeadModel

path, inputs = sys.argv[1], json.load(open(sys.argv[2]))
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
loading.get_official_model_name = lambda name: name
hf = GPT2LMHeadModel.from_pretrained(path, torch_dtype=torch.float32)
model = HookedTransformer.from_pretrained(path, hf_model=hf, device="cpu", tokenizer=None, dtype=torch.float32)
model.set_use_attn_result(True)
model.set_use_split_qkv_input(True)
model.set_use_hook_mlp_in(True)
clean, corrupt = torch.tensor(inputs["clean"]), torch.tensor(inputs["corrupt"])
answers, wrongs = torch.tensor(inputs["answer"]), torch.tensor(inputs["wrong"])
rows = torch.arange(clean.shape[0])
L, H = model.cfg.n_layers, model.cfg.n_heads
outs = lambda n: n in ("hook_embed", "hook_pos_embed") or n.endswith(("attn.hook_result", "hook_mlp_out"))  # noqa: E731


def metric(logits):
    return (logits[rows, -1, answers] - logits[rows, -1, wrongs]).mean()


def nodes(cache):
    """[upstream, batch, pos, d_model] in topological order: input, per layer heads then MLP."""
    parts = [(cache["hook_embed"] + cache["hook_pos_embed"])[None]]
    for l in range(L):
        parts.append(cache[f"blocks.{l}.attn.hook_result"].permute(2, 0, 1, 3))
        parts.append(cache[f"blocks.{l}.hook_mlp_out"][None])
    return torch.cat(parts)


def eap():
    with torch.no_grad():
        _, cc = model.run_with_cache(clean, names_filter=outs)
        _, kc = model.run_with_cache(corrupt, names_filter=outs)
        delta = nodes(kc) - nodes(cc)
    grads = {}

    def bwd(g, hook):
        grads[hook.name] = g.detach()

    names = [f"blocks.{l}.hook_{p}_input" for l in range(L) for p in "qkv"] + [f"blocks.{l}.hook_mlp_in" for l in range(L)] \
        + [f"blocks.{L - 1}.hook_resid_post"]
    for n in names:
        model.hook_dict[n].add_hook(bwd, dir="bwd")
    try:
        metric(model(clean)).backward()
    finally:
        model.reset_hooks()
    model.zero_grad(set_to_none=True)
    scores = []
    with torch.no_grad():
        for l in range(L):
            before = 1 + l * (H + 1)
            g = torch.cat([grads[f"blocks.{l}.hook_{p}_input"].permute(2, 0, 1, 3) for p in "qkv"])   # [3H, b, p, d]
            scores.append(torch.einsum("ubpd,rbpd->ur", delta[:before], g).flatten())
            scores.append(torch.einsum("ubpd,bpd->u", delta[: before + H], grads[f"blocks.{l}.hook_mlp_in"]))
        scores.append(torch.einsum("ubpd,bpd->u", delta, grads[f"blocks.{L - 1}.hook_resid_post"]))
    return torch.cat(scores)


count = eap().numel()
times = []
for _ in range(repeats):
    t = time.perf_counter()
    eap()
    times.append(time.perf_counter() - t)
print(json.dumps({"eap_s": statistics.median(times), "edges": count}))
