"""Edge attribution patching (EAP) and EAP-IG references on MIB's edge graph, from torch autograd
through TransformerLens 2.18 hooks (use_attn_result, use_split_qkv_input, use_hook_mlp_in).

Run by hand from the repository root AFTER make_fixtures.py and make_analysis_fixtures.py:

    /tmp/ref/bin/python scripts/reference/circuit_fixtures.py

The run: the fixture's prompt pair and its mirror image as one batch, (clean, corrupted) and
(corrupted, clean), answers (a, w) / wrongs (w, a); metric = mean over the pairs of
logits[-1, answer] - logits[-1, wrong]. For every edge u -> v of the graph (Sources/
MechanicAnalysis/Circuits/CircuitGraph.swift, same order):

  eap     sum over pairs, positions, d_model of (u_corrupt - u_clean) * d metric / d (v's input),
          the gradient on the clean run; u's output is hook_embed (+ hook_pos_embed) for input,
          hook_result[:, :, h] for a head, hook_mlp_out for an MLP; v's input is
          hook_q_input[:, :, h] / hook_k_input[:, :, g] / hook_v_input[:, :, g], hook_mlp_in, or
          the last hook_resid_post for the logits
  eap_ig  the same with the gradient averaged over 5 runs whose hook_embed is
          corrupt + (k/5) (clean - corrupt), k = 0..4 (EAP-IG-inputs)

Writes Tests/Fixtures/reference/<model>/circuit_<mode>.json: {"clean", "corrupt", "answer",
"wrong" (the first pair; the batch adds its mirror image), "edges": [names], "eap": [...],
"eap_ig": [...], "metric": clean metric}. Prompts: reference/<model>/analysis.json where it
exists, fixed token ids otherwise.
"""

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402

OUT = HERE.parents[1] / "Tests" / "Fixtures" / "reference"
RUNS = [("gpt2-tiny", True), ("gpt2-tiny", False), ("pythia-tiny", True), ("pythia-tiny-sequential", True),
        ("llama-tiny", True), ("llama-tiny", False), ("qwen2-tiny", True)]
IG_STEPS = 5


def graph(cfg):
    """(upstream nodes, receivers, edges) in CircuitGraph.swift's order."""
    H = cfg.n_heads
    K = cfg.n_key_value_heads or H
    up = [("input",)]
    rec = []
    for l in range(cfg.n_layers):
        before = len(up)
        rec += [("q", l, h, before) for h in range(H)]
        rec += [("k", l, g, before) for g in range(K)] + [("v", l, g, before) for g in range(K)]
        up += [("head", l, h) for h in range(H)]
        if not cfg.attn_only:
            rec.append(("mlp", l, 0, before if cfg.parallel_attn_mlp else len(up)))
            up.append(("mlp", l))
    rec.append(("logits", cfg.n_layers, 0, len(up)))
    return up, rec


def node_name(n):
    if n[0] == "head":
        return f"a{n[1]}.h{n[2]}"
    return "input" if n[0] == "input" else f"m{n[1]}"


def prompts(name):
    """The fixture's analysis prompt pair, or (models without one) fixed token ids."""
    path = mf.REF / name / "analysis.json"
    if path.exists():
        info = json.loads(path.read_text())
        return info["clean_tokens"], info["corrupted_tokens"], info["answer_id"], info["wrong_id"]
    clean = [1, 5, 9, 13, 17, 21, 25, 29]
    return clean, clean[:3] + [40] + clean[4:], 7, 11


def recv_name(r):
    port, l, h, _ = r
    if port in ("q", "k", "v"):
        return f"a{l}.h{h}<{port}>"
    return f"m{l}" if port == "mlp" else "logits"


def outputs(model, tokens):
    names = ["hook_embed", "hook_pos_embed"] + [f"blocks.{l}.attn.hook_result" for l in range(model.cfg.n_layers)] \
        + [f"blocks.{l}.hook_mlp_out" for l in range(model.cfg.n_layers)]
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return cache


def output(cache, node):
    if node[0] == "input":
        x = cache["hook_embed"]
        return x + cache["hook_pos_embed"] if "hook_pos_embed" in cache.cache_dict else x
    if node[0] == "head":
        return cache[f"blocks.{node[1]}.attn.hook_result"][:, :, node[2]]
    return cache[f"blocks.{node[1]}.hook_mlp_out"]


def receiver_grads(model, tokens, metric, embed=None):
    L = model.cfg.n_layers
    grads = {}
    names = {f"blocks.{l}.hook_{p}_input" for l in range(L) for p in "qkv"} | {f"blocks.{l}.hook_mlp_in" for l in range(L)} \
        | {f"blocks.{L - 1}.hook_resid_post"}

    def bwd(g, hook):
        grads[hook.name] = grads[hook.name] + g.detach() if hook.name in grads else g.detach().clone()

    for name in names:
        if name in model.hook_dict:
            model.hook_dict[name].add_hook(bwd, dir="bwd")
    fwd = [("hook_embed", lambda x, hook: embed.clone().requires_grad_(True))] if embed is not None else []
    try:
        with model.hooks(fwd_hooks=fwd):
            value = metric(model(tokens))
            value.backward()
    finally:
        model.reset_hooks()
    model.zero_grad(set_to_none=True)
    return value.detach(), grads


def grad_of(grads, r, L):
    port, l, h, _ = r
    if port in ("q", "k", "v"):
        return grads[f"blocks.{l}.hook_{port}_input"][:, :, h]
    if port == "mlp":
        return grads[f"blocks.{l}.hook_mlp_in"]
    return grads[f"blocks.{L - 1}.hook_resid_post"]


def scores(model, up, rec, clean_c, corrupt_c, grads):
    out = []
    for r in rec:
        g = grad_of(grads, r, model.cfg.n_layers)
        for u in up[: r[3]]:
            out.append(float(((output(corrupt_c, u) - output(clean_c, u)) * g).double().sum()))
    return out


def check_against_hf(model, name):
    hf = mf.load_hf(mf.MODELS / name)
    tokens = torch.tensor([[1, 5, 9, 13, 17, 21, 25, 29]])
    with torch.no_grad():
        want = hf(tokens).logits.log_softmax(-1)   # processed TL logits are centred: compare log-probs
        got = model(tokens).log_softmax(-1)
    diff = float((want - got).abs().max())
    assert diff < 1e-4, f"{name}: TL with parallel_attn_mlp=False differs from HF by {diff}"


def main():
    for name, processed in RUNS:
        model = mf.load_tl(mf.MODELS / name, processed=processed)
        mf.set_hooks(model, attn_result=True, mlp_in=True, split_qkv=True)
        if name == "pythia-tiny-sequential":
            # TL 2.18 hard-codes parallel_attn_mlp=True for GPTNeoX; the blocks read the shared
            # cfg at run time, so this gives the sequential model (checked against HF below).
            model.cfg.parallel_attn_mlp = False
            from transformer_lens.hook_points import HookPoint
            for block in model.blocks:
                block.hook_resid_mid = HookPoint()
            model.setup()
            check_against_hf(model, name)
        c, k, a, w = prompts(name)
        clean, corrupt = torch.tensor([c, k]), torch.tensor([k, c])
        answers, wrongs = torch.tensor([a, w]), torch.tensor([w, a])
        rows = torch.arange(2)

        def metric(logits):
            return (logits[rows, -1, answers] - logits[rows, -1, wrongs]).mean()

        up, rec = graph(model.cfg)
        names = [f"{node_name(u)}->{recv_name(r)}" for r in rec for u in up[: r[3]]]
        clean_c, corrupt_c = outputs(model, clean), outputs(model, corrupt)
        value, g = receiver_grads(model, clean, metric)
        eap = scores(model, up, rec, clean_c, corrupt_c, g)
        ig = [0.0] * len(eap)
        e_clean, e_corrupt = clean_c["hook_embed"], corrupt_c["hook_embed"]
        for step in range(IG_STEPS):
            _, gk = receiver_grads(model, clean, metric, embed=e_corrupt + (step / IG_STEPS) * (e_clean - e_corrupt))
            for i, s in enumerate(scores(model, up, rec, clean_c, corrupt_c, gk)):
                ig[i] += s / IG_STEPS
        mode = "processed" if processed else "unprocessed"
        path = OUT / name / f"circuit_{mode}.json"
        path.write_text(json.dumps({"clean": c, "corrupt": k, "answer": a, "wrong": w, "edges": names, "eap": eap, "eap_ig": ig, "metric": float(value), "ig_steps": IG_STEPS}) + "\n")
        print(name, mode, len(names), "edges", path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
