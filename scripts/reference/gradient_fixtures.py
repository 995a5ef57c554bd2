"""Gradient and attribution-patching references from torch autograd through TransformerLens 2.18.

Run by hand from the repository root AFTER make_fixtures.py and make_analysis_fixtures.py (it
reads Tests/Fixtures/models and the prompts of reference/<model>/analysis.json):

    /tmp/ref/bin/python scripts/reference/gradient_fixtures.py

The run: two prompt pairs as one batch, (clean, corrupted) and its mirror image (corrupted,
clean), answers (a, w) / wrongs (w, a). The *target* batch is the corrupted one (denoising:
clean activations are patched into it). Writes Tests/Fixtures/reference/<model>/
gradients_<mode>.safetensors with

  grad.<hook>            d metric / d activation on the target batch, for every hook point
                         (backward hooks, torch autograd; summed over the hook's calls — ln1 is
                         called once per q/k/v input); metric = mean over the pairs of
                         logits[-1, answer] - logits[-1, wrong]
  lossgrad.<hook>        the same for metric = mean cross-entropy of the answer at the final
                         position (hook_embed and every hook_resid_pre only)
  metric, lossmetric     the metrics of the target batch, [1]
  atp.<kind>             attribution patching as TransformerLens's attribution-patching demo
                         computes it: sum over the patched elements and the pairs of
                         (clean − corrupted activation) · grad, in the shape of get_act_patch_<kind>
  atpstar.<kind>         AtP* for query/key kinds (Kramár et al. 2024): the patched head's
                         attention pattern recomputed exactly with the clean queries/keys (a real
                         forward with the patch, read at that layer), then
                         sum((pattern' − pattern) · d metric / d pattern)
  exact.<kind>           the exact patched metric (TransformerLens get_act_patch_<kind>)

Modes: processed (from_pretrained) for every model, unprocessed for gpt2-tiny and llama-tiny
(LayerNorm / RMSNorm with weights in the backward).
"""

import contextlib
import io
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402  (threads, determinism, TL name lookup)

from transformer_lens import patching, utils  # noqa: E402

OUT = HERE.parents[1] / "Tests" / "Fixtures" / "reference"
RUNS = [("gpt2-tiny", True), ("gpt2-tiny", False), ("pythia-tiny", True), ("llama-tiny", True), ("llama-tiny", False)]
LINEAR_KINDS = {  # kind: (act, per-element selection) — summed like the patch selects
    "resid_pre": "resid_pre", "attn_out": "attn_out", "mlp_out": "mlp_out",
    "attn_head_out_all_pos": "z", "attn_head_q_all_pos": "q", "attn_head_k_all_pos": "k",
    "attn_head_v_all_pos": "v", "attn_head_pattern_all_pos": "pattern",
    "attn_head_q_by_pos": "q", "attn_head_k_by_pos": "k",
}


def grads(model, tokens, metric, names=None):
    """Forward + backward of metric(logits); returns (metric value, {hook: grad}, {hook: act})."""
    grad, act = {}, {}

    def keep(name):
        return names is None or name in names

    def bwd(g, hook):
        # ln1 runs three times (query, key and value inputs), so its backward hooks fire three
        # times: the gradient of the activation is the sum.
        grad[hook.name] = grad[hook.name] + g.detach() if hook.name in grad else g.detach().clone()

    def fwd(x, hook):
        act[hook.name] = x.detach().clone()

    for name, hp in model.hook_dict.items():
        if keep(name):
            hp.add_hook(bwd, dir="bwd")
            hp.add_hook(fwd, dir="fwd")
    try:
        value = metric(model(tokens))
        value.backward()
    finally:
        model.reset_hooks()
    model.zero_grad(set_to_none=True)
    return value.detach(), grad, act


def atp(kind, act, delta, g, cfg, P):
    """Linear AtP in get_act_patch_<kind>'s shape: sum over pairs and patched elements of delta·g."""
    L = cfg.n_layers
    prod = lambda l: (delta[utils.get_act_name(act, l)] * g[utils.get_act_name(act, l)])  # noqa: E731
    if kind in ("resid_pre", "attn_out", "mlp_out"):
        return torch.stack([prod(l).sum(dim=(0, 2)) for l in range(L)])            # [L, pos]
    if kind.endswith("_all_pos") and act != "pattern":
        return torch.stack([prod(l).sum(dim=(0, 1, 3)) for l in range(L)])         # [L, heads]
    if kind == "attn_head_pattern_all_pos":
        return torch.stack([prod(l).sum(dim=(0, 2, 3)) for l in range(L)])         # [L, H]
    if kind.endswith("_by_pos"):
        return torch.stack([prod(l).sum(dim=(0, 3)) for l in range(L)])            # [L, pos, heads]
    raise ValueError(kind)


@torch.no_grad()
def pattern_after(model, corrupt, clean_act, act, layer, head, pos):
    """The layer's attention pattern in the target run with one query/key head (at `pos`, or all
    positions when None) replaced by the clean run's value: an exact forward."""
    name = utils.get_act_name(act, layer)
    seen = {}

    def patch(x, hook):
        if pos is None:
            x[:, :, head] = clean_act[name][:, :, head]
        else:
            x[:, pos, head] = clean_act[name][:, pos, head]
        return x

    def grab(x, hook):
        seen["p"] = x.detach().clone()

    model.run_with_hooks(corrupt, fwd_hooks=[(name, patch), (utils.get_act_name("pattern", layer), grab)],
                         stop_at_layer=layer + 1)
    return seen["p"]


def atp_star(model, kind, act, corrupt, clean_act, corrupt_act, g, P):
    cfg = model.cfg
    L, H = cfg.n_layers, cfg.n_heads
    kv = act == "k"
    heads = cfg.n_key_value_heads if (kv and cfg.n_key_value_heads) else H
    group = H // heads
    by_pos = kind.endswith("_by_pos")
    out = torch.zeros((L, P, heads) if by_pos else (L, heads))
    for l in range(L):
        pname = utils.get_act_name("pattern", l)
        base, gp = corrupt_act[pname], g[pname]
        for h in range(heads):
            for p in (range(P) if by_pos else [None]):
                new = pattern_after(model, corrupt, clean_act, act, l, h, p)
                qheads = range(h * group, (h + 1) * group) if kv else [h]
                est = sum(((new[:, q] - base[:, q]) * gp[:, q]).sum() for q in qheads)
                if by_pos:
                    out[l, p, h] = est
                else:
                    out[l, h] = est
    return out


def quiet(fn, *args, **kw):
    with contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kw)


def refs(model, clean, corrupt, answers, wrongs):
    rows = torch.arange(clean.shape[0])
    P = clean.shape[1]

    def metric(logits):
        return (logits[rows, -1, answers] - logits[rows, -1, wrongs]).mean()

    def loss(logits):
        return -torch.log_softmax(logits[:, -1], dim=-1)[rows, answers].mean()

    value, g, corrupt_act = grads(model, corrupt, metric)
    _, _, clean_act = grads(model, clean, metric)
    out = {"metric": value.reshape(1)}
    for k, v in g.items():
        out["grad." + k] = v
    names = {"hook_embed"} | {utils.get_act_name("resid_pre", l) for l in range(model.cfg.n_layers)}
    lvalue, lg, _ = grads(model, corrupt, loss, names)
    out["lossmetric"] = lvalue.reshape(1)
    for k, v in lg.items():
        out["lossgrad." + k] = v

    delta = {k: clean_act[k] - corrupt_act[k] for k in corrupt_act}
    for kind, act in LINEAR_KINDS.items():
        out["atp." + kind] = atp(kind, act, delta, g, model.cfg, P)
    for kind in ["attn_head_q_all_pos", "attn_head_k_all_pos", "attn_head_q_by_pos", "attn_head_k_by_pos"]:
        out["atpstar." + kind] = atp_star(model, kind, LINEAR_KINDS[kind], corrupt, clean_act, corrupt_act, g, P)
    with torch.no_grad():
        _, clean_cache = model.run_with_cache(clean)
        for kind in LINEAR_KINDS:
            out["exact." + kind] = quiet(getattr(patching, "get_act_patch_" + kind), model, corrupt, clean_cache, metric)
    return out


def main():
    for name, processed in RUNS:
        info = json.loads((mf.REF / name / "analysis.json").read_text())
        model = mf.load_tl(mf.MODELS / name, processed=processed)
        c, k = info["clean_tokens"], info["corrupted_tokens"]
        a, w = info["answer_id"], info["wrong_id"]
        clean, corrupt = torch.tensor([c, k]), torch.tensor([k, c])
        answers, wrongs = torch.tensor([a, w]), torch.tensor([w, a])
        out = refs(model, clean, corrupt, answers, wrongs)
        mode = "processed" if processed else "unprocessed"
        path = OUT / name / f"gradients_{mode}.safetensors"
        mf.save_file({k: mf.f32(v) for k, v in out.items()}, str(path))
        print(name, mode, len(out), "tensors", path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
