"""Analysis references (patching, head detection, cache decompositions, FactoredMatrix, test_prompt)
from TransformerLens 2.18 for Mechanic's MechanicAnalysis tests.

Run by hand from the repository root AFTER make_fixtures.py (it reads Tests/Fixtures/models):

    /tmp/ref/bin/python scripts/reference/make_analysis_fixtures.py

Same venv as make_fixtures.py (see its docstring). Writes, per model (processed mode = the
from_pretrained defaults), into Tests/Fixtures/reference/<model>/:

  analysis.json                  prompts, token ids, answer/wrong ids, metric values, labels, notes
  analysis_patching.safetensors  every transformer_lens.patching function, keyed by suffix
  analysis_heads.safetensors     head_detector.detect_head, 3 head types x 2 error measures
  analysis_cache.safetensors     ActivationCache decompositions, logit_attrs, apply_ln_to_stack
  analysis_factored.safetensors  FactoredMatrix OV/QK of layer 1 head 0, all_composition_scores
  (test_prompt's ranks/probs are in analysis.json)

See Tests/Fixtures/reference/README.md ("Analysis files") for every key.
"""

import contextlib
import io
import json
import re
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (sets threads/determinism, patches TL's name lookup)

from transformer_lens import patching, utils  # noqa: E402
from transformer_lens.head_detector import detect_head  # noqa: E402

MODELS = ["gpt2-tiny", "pythia-tiny", "llama-tiny"]
CLEAN_TEXT = "The cat sat on the mat. The cat"
CORRUPT_TEXT = "The dog sat on the mat. The dog"
HEAD_TEXT = "The cat sat on the mat. The cat sat on the mat."  # repeats for the head detectors
TEST_PROMPT = ("The cat sat on the", "mat")

PATCH_FUNCS = [
    "resid_pre", "resid_mid", "attn_out", "mlp_out",
    "attn_head_out_all_pos", "attn_head_q_all_pos", "attn_head_k_all_pos", "attn_head_v_all_pos",
    "attn_head_pattern_all_pos",
    "attn_head_out_by_pos", "attn_head_q_by_pos", "attn_head_k_by_pos", "attn_head_v_by_pos",
    "attn_head_pattern_by_pos", "attn_head_pattern_dest_src_pos",
    "attn_head_all_pos_every", "attn_head_by_pos_every", "block_every",
]


def save(path, tensors):
    mf.save_file({k: (v.detach().contiguous().clone() if v.dtype == torch.int64 else mf.f32(v))
                  for k, v in tensors.items()}, str(path))
    return {k: list(v.shape) for k, v in tensors.items()}


@torch.no_grad()
def patching_refs(model, clean, corrupt, answer, wrong, notes):
    def metric(logits):
        return logits[0, -1, answer] - logits[0, -1, wrong]

    clean_logits, clean_cache = model.run_with_cache(clean)
    corrupt_logits = model(corrupt)
    out = {"clean_metric": metric(clean_logits).reshape(1), "corrupted_metric": metric(corrupt_logits).reshape(1)}
    for name in PATCH_FUNCS:
        fn = getattr(patching, "get_act_patch_" + name)
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # tqdm bars
                out[name] = fn(model, corrupt, clean_cache, metric)
        except Exception as e:
            notes.append(f"patching.get_act_patch_{name} fails in TL for this model "
                         f"({type(e).__name__}: {str(e)[:120]}); key absent")
    return out


@torch.no_grad()
def head_refs(model):
    out = {"tokens": model.to_tokens(HEAD_TEXT)}
    for head in ("previous_token_head", "duplicate_token_head", "induction_head"):
        for measure in ("mul", "abs"):
            out[f"{head}_{measure}"] = detect_head(model, HEAD_TEXT, head, error_measure=measure)
    return out


@torch.no_grad()
def cache_refs(model, clean, answer, wrong, labels, notes, keep_full):
    _, cache = model.run_with_cache(clean)
    out = {}

    def put(key, res):
        t, lab = res
        out[key] = t
        labels[key] = lab
        return t

    # Parallel attn/MLP models have no hook_resid_mid, so incl_mid=True raises a KeyError in TL.
    incl_mid = not model.cfg.parallel_attn_mlp
    if not incl_mid:
        notes.append("accumulated_resid(incl_mid=True) raises KeyError 'blocks.0.hook_resid_mid' in TL for "
                     "parallel attn/MLP models; accumulated_resid_* use incl_mid=False here")
    for ln in (True, False):
        s = "ln" if ln else "noln"
        put(f"accumulated_resid_{s}", cache.accumulated_resid(
            layer=None, incl_mid=incl_mid, apply_ln=ln, pos_slice=-1, return_labels=True))
        put(f"decompose_resid_{s}", cache.decompose_resid(apply_ln=ln, pos_slice=-1, return_labels=True))
        put(f"stack_head_results_{s}", cache.stack_head_results(
            layer=-1, pos_slice=-1, apply_ln=ln, return_labels=True))
    full_ln = put("full_resid_decomposition_ln", cache.get_full_resid_decomposition(
        expand_neurons=True, apply_ln=True, pos_slice=-1, return_labels=True))
    full_noln, lab = cache.get_full_resid_decomposition(
        expand_neurons=True, apply_ln=False, pos_slice=-1, return_labels=True)
    assert lab == labels["full_resid_decomposition_ln"]
    if not keep_full:  # size: the [n_components, 1, d_model] stack is stored for gpt2-tiny only
        del out["full_resid_decomposition_ln"]
        out["full_resid_decomposition_ln_sum"] = full_ln.sum(0)

    # logit_attrs applies the final-LN scale itself, so it is given the un-normalised stacks.
    for key, stack in (("decompose_resid", out["decompose_resid_noln"]),
                       ("accumulated_resid", out["accumulated_resid_noln"]),
                       ("stack_head_results", out["stack_head_results_noln"]),
                       ("full_resid_decomposition", full_noln)):
        out[f"logit_attrs_{key}"] = cache.logit_attrs(stack, tokens=answer, incorrect_tokens=wrong, pos_slice=-1)
        out[f"logit_attrs_answer_only_{key}"] = cache.logit_attrs(stack, tokens=answer, pos_slice=-1)

    # apply_ln_to_stack at the final LN and at block 1's ln1 / ln2.
    out["apply_ln_to_stack_final"] = cache.apply_ln_to_stack(out["decompose_resid_noln"], layer=None, pos_slice=-1)
    for mlp_input, s in ((False, "ln1"), (True, "ln2")):
        stack, lab = cache.decompose_resid(layer=1, mlp_input=mlp_input, apply_ln=False, pos_slice=-1,
                                           return_labels=True)
        out[f"decompose_resid_l1_{s}_noln"] = stack
        labels[f"decompose_resid_l1_{s}_noln"] = lab
        out[f"apply_ln_to_stack_l1_{s}"] = cache.apply_ln_to_stack(stack, layer=1, mlp_input=mlp_input,
                                                                    pos_slice=-1)
    return out


@torch.no_grad()
def factored_refs(model):
    out = {}
    for name, fm in (("OV", model.OV[1, 0]), ("QK", model.QK[1, 0])):
        U, S, Vh = fm.svd()
        eig = fm.eigenvalues
        order = sorted(range(len(eig)), key=lambda i: (round(eig[i].real.item(), 5), eig[i].imag.item()))
        out.update({
            f"{name}_A": fm.A, f"{name}_B": fm.B, f"{name}_AB": fm.AB, f"{name}_BA": fm.BA,
            f"{name}_U": U, f"{name}_S": S, f"{name}_Vh": Vh,
            f"{name}_eigenvalues_real": eig.real, f"{name}_eigenvalues_imag": eig.imag,
            f"{name}_eigenvalues_sorted_real": eig.real[order], f"{name}_eigenvalues_sorted_imag": eig.imag[order],
            f"{name}_norm": fm.norm().reshape(1),
        })
    for mode in ("Q", "K", "V"):
        out[f"composition_scores_{mode}"] = model.all_composition_scores(mode)
    return out


@torch.no_grad()
def test_prompt_ref(model):
    """Mirror of utils.test_prompt(prompt, answer, model) (prepend_space_to_answer=True, top_k=10),
    returning what it prints; cross-checked against the printed ranks."""
    prompt, answer = TEST_PROMPT
    answer = answer if answer.startswith(" ") else " " + answer
    prompt_tokens = model.to_tokens(prompt)
    answer_tokens = model.to_tokens(answer, prepend_bos=False)
    tokens = torch.cat((prompt_tokens, answer_tokens), dim=1)
    logits = model(tokens)
    probs = logits.softmax(-1)
    rows = []
    plen = prompt_tokens.shape[1]
    for index in range(plen, tokens.shape[1]):
        tok = int(tokens[0, index])
        p = probs[0, index - 1]
        sp, spos = p.sort(descending=True)
        rank = int(spos.argsort(-1)[tok])
        rows.append({
            "position": index - 1, "answer_token": tok, "rank": rank,
            "logit": float(logits[0, index - 1, tok]), "prob": float(p[tok]),
            "top10_tokens": spos[:10].tolist(), "top10_logits": logits[0, index - 1, spos[:10]].tolist(),
            "top10_probs": sp[:10].tolist(),
        })
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        utils.test_prompt(TEST_PROMPT[0], TEST_PROMPT[1], model)
    printed = re.search(r"Ranks of the answer tokens:\s*(.*)", buf.getvalue().replace("\x1b", ""))
    printed_ranks = [int(r) for r in re.findall(r"(\d+)\)", printed.group(1))] if printed else None
    assert printed_ranks == [r["rank"] for r in rows], (printed_ranks, rows, buf.getvalue())
    return {"prompt": TEST_PROMPT[0], "answer": TEST_PROMPT[1], "answer_with_space": answer,
            "prompt_tokens": prompt_tokens[0].tolist(), "answer_tokens": answer_tokens[0].tolist(),
            "answer_str_tokens": model.to_str_tokens(answer, prepend_bos=False),
            "per_answer_token": rows}


def main():
    for name in MODELS:
        model = mf.load_tl(mf.MODELS / name, processed=True)
        out_dir = mf.REF / name
        for p in out_dir.glob("analysis*"):
            p.unlink()
        notes, labels, files = [], {}, {}
        clean, corrupt = model.to_tokens(CLEAN_TEXT), model.to_tokens(CORRUPT_TEXT)
        assert clean.shape == corrupt.shape, (clean, corrupt)
        with torch.no_grad():
            answer = int(model(clean)[0, -1].argmax())
            c = model(corrupt)[0, -1]
            wrong = int(c.argmax()) if int(c.argmax()) != answer else int(c.topk(2).indices[1])

        files["analysis_patching.safetensors"] = save(
            out_dir / "analysis_patching.safetensors", patching_refs(model, clean, corrupt, answer, wrong, notes))
        files["analysis_heads.safetensors"] = save(out_dir / "analysis_heads.safetensors", head_refs(model))
        files["analysis_cache.safetensors"] = save(
            out_dir / "analysis_cache.safetensors", cache_refs(model, clean, answer, wrong, labels, notes, name == "gpt2-tiny"))
        files["analysis_factored.safetensors"] = save(out_dir / "analysis_factored.safetensors", factored_refs(model))
        p = load_file(str(out_dir / "analysis_patching.safetensors"))
        if model.cfg.n_key_value_heads:
            notes.append("GQA: *_k_*/*_v_* patching iterates over n_key_value_heads heads only; in the "
                         "*_every stacks their head axis is zero-padded to n_heads")
        manifest = {
            "model": name, "tl_version": mf.TL_VERSION, "mode": "processed",
            "clean_text": CLEAN_TEXT, "corrupted_text": CORRUPT_TEXT,
            "clean_tokens": clean[0].tolist(), "corrupted_tokens": corrupt[0].tolist(),
            "answer_id": answer, "wrong_id": wrong,
            "metric": "logits[0, -1, answer_id] - logits[0, -1, wrong_id]",
            "clean_metric": float(p["clean_metric"][0]), "corrupted_metric": float(p["corrupted_metric"][0]),
            "head_detector_text": HEAD_TEXT,
            "labels": labels,
            "test_prompt": test_prompt_ref(model),
            "notes": " | ".join(notes),
            "files": files,
        }
        (out_dir / "analysis.json").write_text(json.dumps(manifest, indent=1) + "\n")
        print(name, "clean", manifest["clean_metric"], "corrupt", manifest["corrupted_metric"], notes)


if __name__ == "__main__":
    main()
