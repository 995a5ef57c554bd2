"""Patching references beyond the `get_act_patch_*` functions (those are in
`make_analysis_fixtures.py`): TransformerLens 2.18's `generic_activation_patch` on the kinds
Mechanic adds, batched pairs, and an independent Python implementation of path patching.

Run by hand from the repository root AFTER make_fixtures.py and make_analysis_fixtures.py (it
reads Tests/Fixtures/models and the prompts of reference/<model>/analysis.json):

    /tmp/ref/bin/python scripts/reference/patching_fixtures.py

Writes Tests/Fixtures/reference/<model>/patching_extra.safetensors (processed weights) with

  resid_post [L, pos]              generic_activation_patch, "resid_post", layer_pos_patch_setter
  mlp_neuron_all [L, d_mlp]        "post", act[:, :, n] = clean[:, :, n]
  mlp_neuron_final [L, d_mlp]      "post", act[:, -1, n] = clean[:, -1, n]
  attn_head_result [L, H]          use_attn_result, "result", layer_head_vector_patch_setter
  attn_head_result_by_pos [L, pos, H]   "result", layer_pos_head_vector_patch_setter
  pairs2_resid_pre [L, pos]        two pairs as one batch: (clean, corrupt) and (corrupt, clean)
  pairs2_attn_head_out_all_pos [L, H]   with answers (a, w) / wrongs (w, a); metric = batch mean
  path_qk_grid [L, H]              path patching, each head alone as sender, receivers
                                   L1H0:q + L1H1:k (ARENA's 3-run procedure, written here)
  path_logits_grid [L, H]          receivers = logits (MLPs recomputed)
  path_logits_frozen_grid [L, H]   receivers = logits, MLP outputs frozen at clean

Metric: logits[:, -1, answer] - logits[:, -1, wrong] (mean over the batch).
"""

import contextlib
import io
import itertools
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_fixtures as mf  # noqa: E402  (threads, determinism, TL name lookup)

from transformer_lens import patching, utils  # noqa: E402

OUT = HERE.parents[1] / "Tests" / "Fixtures" / "reference"
MODELS = ["gpt2-tiny", "pythia-tiny", "llama-tiny"]
PATH_RECEIVERS = [(1, 0, "q"), (1, 1, "k")]


def quiet(fn, *args, **kw):
    with contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kw)


def generic(model, corrupt, clean_cache, metric, setter, act, axes=None, index_df=None, shape=None):
    out = quiet(patching.generic_activation_patch, model, corrupt, clean_cache, metric, setter, act,
                index_axis_names=axes, index_df=index_df)
    return out.reshape(shape) if shape is not None else out


@torch.no_grad()
def path_patch(model, clean, corrupt, metric, sender, receivers, freeze_mlps):
    """Wang et al. 2022's path patching: sender z from the corrupted run, every other head's z
    frozen at clean (and MLP outputs with freeze_mlps); record the receivers' q/k/v (or take the
    logits); rerun clean with only those replaced."""
    L = model.cfg.n_layers
    _, clean_cache = model.run_with_cache(clean)
    _, corrupt_cache = model.run_with_cache(corrupt)

    def freeze_z(z, hook):
        layer = hook.layer()
        z = clean_cache[hook.name].clone()
        if layer == sender[0]:
            z[:, :, sender[1]] = corrupt_cache[hook.name][:, :, sender[1]]
        return z

    hooks = [(utils.get_act_name("z", l), freeze_z) for l in range(L)]
    if freeze_mlps:
        hooks += [(utils.get_act_name("mlp_out", l), lambda x, hook: clean_cache[hook.name].clone()) for l in range(L)]
    if receivers == "logits":
        return metric(model.run_with_hooks(clean, fwd_hooks=hooks))
    names = {utils.get_act_name(kind, l) for l, _, kind in receivers}
    recorded = {}

    def record(x, hook):
        recorded[hook.name] = x.clone()

    model.run_with_hooks(clean, fwd_hooks=hooks + [(n, record) for n in names])

    def replace(x, hook):
        for l, h, kind in receivers:
            if utils.get_act_name(kind, l) == hook.name:
                x[:, :, h] = recorded[hook.name][:, :, h]
        return x

    return metric(model.run_with_hooks(clean, fwd_hooks=[(n, replace) for n in names]))


@torch.no_grad()
def refs(model, clean, corrupt, answer, wrong):
    L, H, M = model.cfg.n_layers, model.cfg.n_heads, model.cfg.d_mlp

    def metric(logits):
        return logits[0, -1, answer] - logits[0, -1, wrong]

    _, clean_cache = model.run_with_cache(clean)
    out = {"resid_post": generic(model, corrupt, clean_cache, metric, patching.layer_pos_patch_setter,
                                 "resid_post", ("layer", "pos"))}
    neurons = patching.make_df_from_ranges([L, M], ["layer", "neuron"])

    def neuron_all(act, index, clean_act):
        act[:, :, index[1]] = clean_act[:, :, index[1]]
        return act

    def neuron_final(act, index, clean_act):
        act[:, -1, index[1]] = clean_act[:, -1, index[1]]
        return act

    out["mlp_neuron_all"] = generic(model, corrupt, clean_cache, metric, neuron_all, "post", index_df=neurons, shape=(L, M))
    out["mlp_neuron_final"] = generic(model, corrupt, clean_cache, metric, neuron_final, "post", index_df=neurons, shape=(L, M))

    model.set_use_attn_result(True)
    _, result_cache = model.run_with_cache(clean)
    out["attn_head_result"] = generic(model, corrupt, result_cache, metric, patching.layer_head_vector_patch_setter,
                                      "result", ("layer", "head"))
    out["attn_head_result_by_pos"] = generic(model, corrupt, result_cache, metric,
                                             patching.layer_pos_head_vector_patch_setter, "result", ("layer", "pos", "head"))
    model.set_use_attn_result(False)

    # Two pairs in one batch: the pair and its mirror image.
    clean2, corrupt2 = torch.cat([clean, corrupt]), torch.cat([corrupt, clean])
    answers, wrongs = torch.tensor([answer, wrong]), torch.tensor([wrong, answer])

    def metric2(logits):
        rows = torch.arange(2)
        return (logits[rows, -1, answers] - logits[rows, -1, wrongs]).mean()

    _, cache2 = model.run_with_cache(clean2)
    out["pairs2_resid_pre"] = quiet(patching.get_act_patch_resid_pre, model, corrupt2, cache2, metric2)
    out["pairs2_attn_head_out_all_pos"] = quiet(patching.get_act_patch_attn_head_out_all_pos, model, corrupt2, cache2, metric2)

    for key, receivers, freeze in [("path_qk_grid", PATH_RECEIVERS, False), ("path_logits_grid", "logits", False),
                                   ("path_logits_frozen_grid", "logits", True)]:
        grid = torch.zeros(L, H)
        for l, h in itertools.product(range(L), range(H)):
            grid[l, h] = path_patch(model, clean, corrupt, metric, (l, h), receivers, freeze)
        out[key] = grid
    return out


def main():
    for name in MODELS:
        info = json.loads((mf.REF / name / "analysis.json").read_text())
        model = mf.load_tl(mf.MODELS / name, processed=True)
        clean = torch.tensor([info["clean_tokens"]])
        corrupt = torch.tensor([info["corrupted_tokens"]])
        out = refs(model, clean, corrupt, info["answer_id"], info["wrong_id"])
        (OUT / name).mkdir(parents=True, exist_ok=True)
        path = OUT / name / "patching_extra.safetensors"
        mf.save_file({k: mf.f32(v) for k, v in out.items()}, str(path))
        print(name, {k: list(v.shape) for k, v in out.items()}, path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
