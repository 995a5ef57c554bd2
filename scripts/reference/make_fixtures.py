"""Regenerate Mechanic's model fixtures and TransformerLens 2.18 reference activations.

Run by hand from the repository root (never by CI):

    /tmp/ref/bin/python scripts/reference/make_fixtures.py [--qwen2]

Environment (the exact working install; the plain line from DESIGN.md pulls pyarrow 26, which
refuses numpy 1.26 and makes `import transformer_lens` fail, so pyarrow is pinned):

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch transformer_lens==2.18.0 \
        transformers==4.57.1 'huggingface_hub<1' 'datasets<4' 'pyarrow==19.0.1'

  (versions seen: torch 2.15.0, numpy 1.26.4, pyarrow 19.0.1, tokenizers 0.22.2,
   safetensors 0.8.0, datasets 3.6.0, huggingface_hub 0.36.2)

Writes
  Tests/Fixtures/models/<name>/      tiny random HF models (safetensors, float32) + tokenizer files
  Tests/Fixtures/reference/<name>/   TransformerLens caches/logits/losses/weights + manifest.json
See Tests/Fixtures/reference/README.md for the layout and every key name.

Everything is deterministic: fixed seeds, one torch thread, no network (no hub downloads).
"""

import argparse
import filecmp
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_models as bm  # noqa: E402

import transformer_lens  # noqa: E402
import transformer_lens.loading_from_pretrained as loading  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformer_lens import HookedTransformer, utils  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from importlib.metadata import version as _pkg_version  # noqa: E402

TL_VERSION = _pkg_version("transformer_lens")
assert TL_VERSION == "2.18.0", TL_VERSION

# weights_{mode}.safetensors is written for these modes (unprocessed = a pure re-layout of the HF
# weights; left out to keep Tests/Fixtures small).
WEIGHT_MODES = ("processed",)
# unprocessed per-prompt caches are written for these prompts only (HF logits exist for all)
UNPROCESSED_PROMPTS = ("p0",)
# hooks kept in the reduced batch files (besides logits/loss/loss_per_token/tokens/masks)
BATCH_MINIMAL = ("hook_attn_scores", "hook_pattern", "hook_pos_embed")

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "Tests" / "Fixtures" / "models"
REF = ROOT / "Tests" / "Fixtures" / "reference"

# A local directory works as a model name once the alias lookup returns it unchanged.
_orig_official = loading.get_official_model_name
loading.get_official_model_name = lambda name: name if Path(name).exists() else _orig_official(name)

# TL quirk: convert_hf_model_config decides the architecture from the *name* when it contains
# "llama"/"gemma" and then never loads hf_config, so a local path like ".../llama-tiny" crashes
# (UnboundLocalError on hf_config). We therefore hand TL a symlink with a neutral name.
_ALIAS_ROOT = Path(tempfile.mkdtemp(prefix="mechanic_tl_"))


def tl_name(model_dir: Path) -> str:
    alias = _ALIAS_ROOT / ("m_" + model_dir.name.replace("llama", "lm").replace("gemma", "gm"))
    if not alias.exists():
        alias.symlink_to(model_dir.resolve())
    return str(alias)


# ----------------------------------------------------------------------------- model specs

GPT2_PROMPTS = [
    ("p0", "The cat sat."),
    ("p1", "The sea.<|endoftext|>The cat"),  # <|endoftext|> inside the text -> the special id
    ("p2", "Water boils at 100 degrees"),
]
LLAMA_PROMPTS = [
    ("p0", "The cat sat."),
    ("p1", "café 16"),  # 'é' and '6' are not in the vocab -> byte fallback <0xC3><0xA9>, <0x36>
    ("p2", "It was the best of times"),
]
BATCH_TEXTS = ["The dog", "Good morning!", "The cat sat."]

SPECS = {
    "gpt2-tiny": dict(prompts=GPT2_PROMPTS, batch=BATCH_TEXTS),
    # a variant: only the p2 caches (weights = gpt2-tiny's, same everything else)
    "gpt2-tiny-scaled": dict(prompts=GPT2_PROMPTS, batch=BATCH_TEXTS, light=True),
    # no weights_processed file: its processing is GPT-2's (LN fold, centering, value-bias fold)
    "pythia-tiny": dict(prompts=GPT2_PROMPTS, batch=BATCH_TEXTS, weights=False),
    "pythia-tiny-sequential": dict(prompts=GPT2_PROMPTS, batch=BATCH_TEXTS, hf_only=True),
    "llama-tiny": dict(prompts=LLAMA_PROMPTS, batch=BATCH_TEXTS),
    "qwen2-tiny": dict(prompts=GPT2_PROMPTS, batch=BATCH_TEXTS),
}


def build_models(with_qwen2: bool):
    if MODELS.exists():
        shutil.rmtree(MODELS)
    MODELS.mkdir(parents=True)
    d = {n: MODELS / n for n in SPECS}
    for n, p in d.items():
        if n != "qwen2-tiny" or with_qwen2:
            p.mkdir()
    v = bm.make_gpt2_tokenizer(d["gpt2-tiny"])
    bm.make_gpt2(d["gpt2-tiny"], v, scaled=False, seed=1)
    bm.copy_tokenizer(d["gpt2-tiny"], d["gpt2-tiny-scaled"])
    bm.make_gpt2(d["gpt2-tiny-scaled"], v, scaled=True, seed=1)  # same weights as gpt2-tiny
    bm.make_neox_tokenizer(d["pythia-tiny"])
    bm.make_pythia(d["pythia-tiny"], parallel=True, seed=3, vocab_size=512)
    bm.copy_tokenizer(d["pythia-tiny"], d["pythia-tiny-sequential"])
    bm.make_pythia(d["pythia-tiny-sequential"], parallel=False, seed=3, vocab_size=512)  # same weights
    bm.make_llama_tokenizer(d["llama-tiny"], total_vocab=512)
    bm.make_llama(d["llama-tiny"], vocab_size=512, seed=5)
    if with_qwen2:
        vq = bm.make_qwen2_tokenizer(d["qwen2-tiny"])
        bm.make_qwen2(d["qwen2-tiny"], vocab_size=512, eos_id=vq - 3, seed=7)
    for p in MODELS.glob("*/generation_config.json"):
        p.unlink()
    # The variants have byte-identical weights to their base model: store them once and link, the way
    # the Hugging Face cache links snapshots/<rev>/model.safetensors to blobs/<sha>.
    for variant, base in (("gpt2-tiny-scaled", "gpt2-tiny"), ("pythia-tiny-sequential", "pythia-tiny")):
        v, b = d[variant] / "model.safetensors", d[base] / "model.safetensors"
        assert filecmp.cmp(v, b, shallow=False), f"{variant} weights differ from {base}"
        v.unlink()
        v.symlink_to(Path("..") / base / "model.safetensors")


# ----------------------------------------------------------------------------- helpers


def f32(t):
    return t.detach().to(torch.float32).contiguous().clone()


def save(path: Path, tensors: dict, index: dict):
    out = {}
    for k, t in tensors.items():
        t = t.detach()
        if t.dtype in (torch.int32, torch.int64, torch.bool):
            out[k] = t.to(torch.int64).contiguous().clone()
        else:
            out[k] = f32(t)
    save_file(out, str(path))
    index[path.name] = {k: list(v.shape) for k, v in out.items()}


def load_hf(model_dir: Path):
    return AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager").eval()


def load_tl(model_dir: Path, processed: bool):
    tok = AutoTokenizer.from_pretrained(model_dir)
    kw = dict(hf_model=load_hf(model_dir), tokenizer=tok, device="cpu", dtype="float32")
    if processed:
        m = HookedTransformer.from_pretrained(tl_name(model_dir), **kw)
    else:
        m = HookedTransformer.from_pretrained_no_processing(tl_name(model_dir), **kw)
    return m.eval()


def set_hooks(model, *, attn_result=True, mlp_in=True, attn_in=False, split_qkv=False):
    model.set_use_attn_result(attn_result)
    model.set_use_hook_mlp_in(mlp_in)
    model.cfg.use_attn_in = attn_in  # set directly: set_use_attn_in asserts for GQA
    model.set_use_split_qkv_input(split_qkv)


@torch.no_grad()
def dump_run(model, tokens, path, index, attention_mask=None, extra=None, keep=None):
    """run_with_cache + losses; saves every hook (or, with keep, only hooks ending in one of keep)."""
    logits, cache = model.run_with_cache(tokens, attention_mask=attention_mask)
    loss = model(tokens, return_type="loss", attention_mask=attention_mask)
    lpt = model(tokens, return_type="loss", loss_per_token=True, attention_mask=attention_mask)
    t = {k: v for k, v in cache.cache_dict.items() if keep is None or k.endswith(keep)}
    t["logits"] = logits
    t["loss"] = loss.reshape(1)
    t["loss_per_token"] = lpt
    t["tokens"] = tokens
    if attention_mask is not None:
        t["attention_mask"] = attention_mask
    t.update(extra or {})
    save(path, t, index)
    return logits, cache


def same_hooks(cache, ref_cache, skip):
    """Max abs difference over the hooks both caches have (except `skip`)."""
    d = 0.0
    for k, v in cache.cache_dict.items():
        if k.endswith(skip) or k not in ref_cache.cache_dict:
            continue
        d = max(d, maxdiff(v, ref_cache[k]))
    return d


def hf_positions(mask):
    return (mask.cumsum(-1) - 1).clamp(min=0)


def maxdiff(a, b):
    return float((a - b).abs().max())


def to_tokens_list(model, texts, side):
    """TL's to_tokens for a batch with the given padding side and the mask TL would compute."""
    old = model.tokenizer.padding_side
    model.tokenizer.padding_side = side
    try:
        toks = model.to_tokens(texts)
        mask = utils.get_attention_mask(model.tokenizer, toks, model.cfg.default_prepend_bos)
    finally:
        model.tokenizer.padding_side = old
    return toks, mask


# ----------------------------------------------------------------------------- per model


@torch.no_grad()
def reference_for(name: str, spec: dict):
    model_dir = MODELS / name
    out = REF / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    index, notes, checks = {}, [], {}
    hf = load_hf(model_dir)

    if spec.get("hf_only"):
        return hf_only_reference(name, spec, model_dir, out, hf, index)

    models = {"processed": load_tl(model_dir, True), "unprocessed": load_tl(model_dir, False)}
    ref = models["processed"]
    prompts = []
    for pname, text in spec["prompts"]:
        toks = ref.to_tokens(text)
        assert torch.equal(toks, models["unprocessed"].to_tokens(text))
        prompts.append({"name": pname, "text": text, "tokens": toks[0].tolist()})

    # Hugging Face ground truth.
    hf_t = {}
    for p in prompts:
        toks = torch.tensor([p["tokens"]])
        hf_t[f"logits_{p['name']}"] = hf(toks).logits
        hf_t[f"tokens_{p['name']}"] = toks
    save(out / "hf_logits.safetensors", hf_t, index)

    # Batches.
    tl_left, mask_left = to_tokens_list(ref, spec["batch"], "left")
    tl_right, mask_right = to_tokens_list(ref, spec["batch"], "right")
    lens = [len(ref.to_tokens(t)[0]) for t in spec["batch"]]
    assert len(set(lens)) == 3, lens
    assert mask_left.sum(1).tolist() == lens and mask_right.sum(1).tolist() == lens, (lens, mask_left)

    light = spec.get("light", False)
    for mode, model in models.items():
        # 1. each prompt: all activations incl. hook_result and hook_mlp_in.
        full = {}
        for p in prompts:
            toks = torch.tensor([p["tokens"]])
            set_hooks(model)
            hfl = hf_t[f"logits_{p['name']}"]
            logits = model(toks)
            if mode == "unprocessed":
                checks[f"unprocessed_{p['name']}_logits_vs_hf_max_abs"] = maxdiff(logits, hfl)
            checks[f"{mode}_{p['name']}_logprobs_vs_hf_max_abs"] = maxdiff(
                logits.log_softmax(-1), hfl.log_softmax(-1))
            if (light and (p["name"] != "p2" or mode != "processed")) or \
                    (mode == "unprocessed" and p["name"] not in UNPROCESSED_PROMPTS):
                continue
            _, full[p["name"]] = dump_run(model, toks, out / f"{mode}_{p['name']}.safetensors", index)
        toks0 = torch.tensor([prompts[0]["tokens"]])
        if light:
            continue
        # 2. p0 with split qkv inputs (use_attn_in off). Only the hooks that are new or change shape
        #    are stored; every other hook is checked to equal {mode}_p0.
        set_hooks(model, split_qkv=True)
        split_keys = ("hook_q_input", "hook_k_input", "hook_v_input", "ln1.hook_scale", "ln1.hook_normalized")
        _, c = dump_run(model, toks0, out / f"{mode}_p0_splitqkv.safetensors", index, keep=split_keys)
        checks[f"{mode}_p0_splitqkv_other_hooks_vs_p0_max_abs"] = same_hooks(c, full["p0"], split_keys)
        if mode == "processed":
            notes.append("split_qkv: ln1.hook_normalized shape %s, ln1.hook_scale %s (ln1 runs three times, "
                         "on the q/k/v inputs; the cache keeps the LAST call = the value input, which has "
                         "n_key_value_heads heads for GQA)" % (list(c["blocks.0.ln1.hook_normalized"].shape),
                                                              list(c["blocks.0.ln1.hook_scale"].shape)))
        # 3. p0 with hook_attn_in (use_attn_in on); same storage rule.
        set_hooks(model, attn_in=True)
        attn_in_keys = ("hook_attn_in", "ln1.hook_scale", "ln1.hook_normalized")
        try:
            _, c = dump_run(model, toks0, out / f"{mode}_p0_attnin.safetensors", index, keep=attn_in_keys)
            checks[f"{mode}_p0_attnin_other_hooks_vs_p0_max_abs"] = same_hooks(c, full["p0"], attn_in_keys)
            if mode == "processed":
                notes.append("attn_in: hook_attn_in shape %s; ln1.hook_normalized becomes %s"
                             % (list(c["blocks.0.hook_attn_in"].shape),
                                list(c["blocks.0.ln1.hook_normalized"].shape)))
        except Exception as e:  # GQA: TL can't do attn_in
            if mode == "processed":
                notes.append(f"use_attn_in=True does not work for this model in TL ({type(e).__name__}: "
                             f"{str(e)[:160]}); no *_p0_attnin file")
        set_hooks(model)
        # 4. batches. Full cache for processed/left; the other three keep logits, losses and the
        #    attention scores/patterns (+ hook_pos_embed) only, to keep Tests/Fixtures small.
        logits, _ = dump_run(model, tl_left, out / f"{mode}_batch_left.safetensors", index,
                             attention_mask=mask_left, keep=None if mode == "processed" else BATCH_MINIMAL)
        if mode == "unprocessed":
            hfl = hf(tl_left, attention_mask=mask_left, position_ids=hf_positions(mask_left)).logits
            m = mask_left.bool()
            checks["unprocessed_batch_left_real_tokens_vs_hf_max_abs"] = maxdiff(logits[m], hfl[m])
        # right batch: no mask is passed (TL default: right padding is not masked); the real-token
        # mask is stored as `real_token_mask` for information only.
        dump_run(model, tl_right, out / f"{mode}_batch_right.safetensors", index,
                 extra={"real_token_mask": mask_right}, keep=BATCH_MINIMAL)
        if mode in WEIGHT_MODES and spec.get("weights", True):
            sd = {k: v for k, v in model.state_dict().items()
                  if not (k.endswith(".mask") or k.endswith(".IGNORE"))}
            save(out / f"weights_{mode}.safetensors", sd, index)

    # Generation (processed).
    gen = ref.generate(toks0, max_new_tokens=8, do_sample=False, use_past_kv_cache=True, verbose=False)
    gen_nostop = ref.generate(toks0, max_new_tokens=8, do_sample=False, use_past_kv_cache=True,
                              verbose=False, stop_at_eos=False)
    gen_nocache = ref.generate(toks0, max_new_tokens=8, do_sample=False, use_past_kv_cache=False,
                               verbose=False, stop_at_eos=False)
    checks["generate_kv_cache_equals_no_cache"] = bool(torch.equal(gen_nostop, gen_nocache))

    hf_check = hf_logits_unchanged(model_dir, hf, hf_t, prompts)
    checks["hf_model_untouched_by_tl_loading"] = hf_check
    cfg = ref.cfg
    manifest = {
        "model": name,
        "tl_version": TL_VERSION,
        "hf_model_dir": f"Tests/Fixtures/models/{name}",
        "tl_config": tl_cfg_summary(models),
        "bos_token_id": ref.tokenizer.bos_token_id,
        "eos_token_id": ref.tokenizer.eos_token_id,
        "pad_token_id": ref.tokenizer.pad_token_id,
        "default_prepend_bos": cfg.default_prepend_bos,
        "tokenizer_prepends_bos": cfg.tokenizer_prepends_bos,
        "prompts": prompts,
        "batch": {
            "texts": spec["batch"],
            "tokens_left": tl_left.tolist(), "mask_left": mask_left.tolist(),
            "tokens_right": tl_right.tolist(), "mask_right": mask_right.tolist(),
            "position_ids_left": utils.get_offset_position_ids(0, mask_left).tolist(),
        },
        "generation": {
            "prompt_tokens": toks0[0].tolist(),
            "max_new_tokens": 8,
            "greedy_tokens": gen[0].tolist(),
            "greedy_tokens_no_eos_stop": gen_nostop[0].tolist(),
        },
        "checks": checks,
        "notes": " | ".join(notes + model_notes(name, checks, gen, gen_nostop)),
        "files": index,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(name, json.dumps(checks, indent=1))


def hf_logits_unchanged(model_dir, hf, hf_t, prompts):
    fresh = load_hf(model_dir)
    ok = True
    for p in prompts:
        toks = torch.tensor([p["tokens"]])
        ok &= torch.equal(fresh(toks).logits, hf_t[f"logits_{p['name']}"])
    return bool(ok)


def tl_cfg_summary(models):
    keys = ["d_model", "d_head", "n_heads", "n_key_value_heads", "d_mlp", "n_layers", "n_ctx", "d_vocab",
            "d_vocab_out", "act_fn", "eps", "normalization_type", "positional_embedding_type", "rotary_dim",
            "rotary_base", "rotary_adjacent_pairs", "parallel_attn_mlp", "use_attn_scale", "attn_scale",
            "scale_attn_by_inverse_layer_idx", "gated_mlp", "final_rms", "original_architecture"]
    out = {}
    for mode, m in models.items():
        d = m.cfg.to_dict()
        out[mode] = {k: (d.get(k) if not isinstance(d.get(k), torch.dtype) else str(d.get(k))) for k in keys}
    return out


def model_notes(name, checks, gen, gen_nostop):
    n = []
    if gen.shape != gen_nostop.shape:
        n.append("TL generate stopped at EOS (stop_at_eos=True default): greedy_tokens is shorter than "
                 "prompt+8; greedy_tokens_no_eos_stop has stop_at_eos=False")
    if name.startswith("llama"):
        n.append("llama: TL processing folds RMSNorm weights (fold_biases=False, center_weights=False) and "
                 "skips center_writing_weights (warning: not LayerNorm); center_unembed and "
                 "fold_value_biases still run; ln*/ln_final become RMSNormPre in processed mode")
        n.append("llama: TL's Llama config does not read rope_theta (rotary_base stays 10000), fine here "
                 "because rope_theta = 10000")
    if name.startswith("pythia"):
        n.append("pythia: TL hard-codes parallel_attn_mlp=True for GPTNeoX and has no resid_mid hook; "
                 "rotary_dim = round(rotary_pct * d_head)")
    if name == "gpt2-tiny-scaled":
        n.append("gpt2-tiny-scaled has identical weights to gpt2-tiny; only scale_attn_by_inverse_layer_idx "
                 "differs (TL divides attn scores by (layer+1) in addition to sqrt(d_head))")
    worst = max(v for k, v in checks.items() if k.startswith("unprocessed_") and "logits_vs_hf" in k)
    n.append(f"TL unprocessed logits vs HF max abs diff {worst:.3g}")
    return n


@torch.no_grad()
def hf_only_reference(name, spec, model_dir, out, hf, index):
    """pythia-tiny-sequential: HF ground truth only, plus a demonstration that TL gets it wrong."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    prompts, hf_t = [], {}
    for pname, text in spec["prompts"]:
        ids = tok(tok.bos_token + text, return_tensors="pt").input_ids
        prompts.append({"name": pname, "text": text, "tokens": ids[0].tolist()})
        hf_t[f"logits_{pname}"] = hf(ids).logits
        hf_t[f"tokens_{pname}"] = ids
    save(out / "hf_logits.safetensors", hf_t, index)
    tl = load_tl(model_dir, False)
    diffs = {}
    for p in prompts:
        toks = torch.tensor([p["tokens"]])
        assert toks[0].tolist() == tl.to_tokens(p["text"])[0].tolist()
        diffs[p["name"]] = maxdiff(tl(toks), hf_t[f"logits_{p['name']}"])
    manifest = {
        "model": name,
        "tl_version": TL_VERSION,
        "hf_model_dir": f"Tests/Fixtures/models/{name}",
        "hf_only": True,
        "prompts": prompts,
        "checks": {f"tl_unprocessed_{k}_logits_vs_hf_max_abs": v for k, v in diffs.items()},
        "notes": ("use_parallel_residual=False. TransformerLens 2.18 cannot represent this model: its GPTNeoX "
                  "config conversion hard-codes parallel_attn_mlp=True and loads it WITHOUT any warning, "
                  "giving wrong logits (see checks: max abs diff vs HF). Only HF logits are saved; tokens "
                  "= tokenizer(bos_token + text) which equals TL's to_tokens. Same weights and tokenizer as "
                  "pythia-tiny."),
        "files": index,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(name, manifest["checks"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qwen2", action="store_true", help="also build qwen2-tiny")
    ap.add_argument("--skip-build", action="store_true", help="reuse Tests/Fixtures/models")
    args = ap.parse_args()
    if not args.skip_build:
        build_models(args.qwen2)
    for name, spec in SPECS.items():
        if (MODELS / name).exists():
            reference_for(name, spec)


if __name__ == "__main__":
    main()
