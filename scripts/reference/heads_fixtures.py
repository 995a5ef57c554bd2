"""TransformerLens 2.18 references for Mechanic's attention-head analysis (MechanicAnalysis/Heads).

Run by hand from the repository root (never by CI), with the reference venv:

    /tmp/ref/bin/python scripts/reference/heads_fixtures.py

Reads the tiny fixture models from Tests/Fixtures/models (or $MECHANIC_FIXTURES/models) and writes,
for each model below, into Tests/Fixtures/reference/<model>/:

  heads_manifest.json        detect_head scores (every pattern x error measure x exclusion), the
                             induction stripe on given repeated tokens, FactoredMatrix values of
                             model.OV / model.QK per head (S, eigenvalues, norm, get_corner),
                             all_composition_scores("Q"|"K"|"V"), full-OV-circuit copy scores,
                             token-mapping ranks and the name-mover scatter data
  heads_factored.safetensors AB / BA of a few heads' OV and QK circuits and of factored products

Everything is deterministic (fixed tokens, one torch thread, no network). Outputs are small
(a few tens of KB per model).
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

import transformer_lens.loading_from_pretrained as loading  # noqa: E402
from importlib.metadata import version as _pkg_version  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformer_lens import FactoredMatrix, HookedTransformer  # noqa: E402
from transformer_lens.head_detector import (  # noqa: E402
    detect_head,
    get_duplicate_token_head_detection_pattern,
    get_induction_head_detection_pattern,
    get_previous_token_head_detection_pattern,
)
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

assert _pkg_version("transformer_lens") == "2.18.0"

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("MECHANIC_FIXTURES", ROOT / "Tests" / "Fixtures"))
MODELS = FIXTURES / "models"
OUT = ROOT / "Tests" / "Fixtures" / "reference"

# A local directory works as a model name once the alias lookup returns it unchanged; TL decides
# the architecture from names containing "llama", so hand it a neutral symlink.
_orig_official = loading.get_official_model_name
loading.get_official_model_name = lambda name: name if Path(name).exists() else _orig_official(name)
_ALIAS_ROOT = Path(tempfile.mkdtemp(prefix="mechanic_heads_"))


def tl_name(model_dir: Path) -> str:
    alias = _ALIAS_ROOT / ("m_" + model_dir.name.replace("llama", "lm"))
    if not alias.exists():
        alias.symlink_to(model_dir.resolve())
    return str(alias)


def load_tl(model_dir: Path, processed: bool):
    tok = AutoTokenizer.from_pretrained(model_dir)
    hf = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    kw = dict(hf_model=hf, tokenizer=tok, device="cpu", dtype="float32")
    if processed:
        return HookedTransformer.from_pretrained(tl_name(model_dir), **kw).eval()
    return HookedTransformer.from_pretrained_no_processing(tl_name(model_dir), **kw).eval()


def floats(t):
    return [float(x) for x in t.detach().flatten().tolist()]


def nested(t):
    return t.detach().to(torch.float64).tolist()


# Texts with repeated tokens so duplicate/induction patterns are not empty.
DETECT_TEXTS = ["The cat sat. The cat sat. The cat", "one two three one two three one"]


def detect_cases(model):
    cases = []
    for text in DETECT_TEXTS:
        tokens = model.to_tokens(text)[0].tolist()
        for pattern in ("previous_token_head", "duplicate_token_head", "induction_head"):
            for measure in ("mul", "abs"):
                for ex_bos, ex_cur in ((False, False), (True, False), (False, True), (True, True)):
                    scores = detect_head(model, text, pattern, exclude_bos=ex_bos,
                                         exclude_current_token=ex_cur, error_measure=measure)
                    cases.append(dict(text=text, tokens=tokens, pattern=pattern, measure=measure,
                                      exclude_bos=ex_bos, exclude_current_token=ex_cur,
                                      scores=nested(scores)))
    # a subset of heads: the others are -1
    text = DETECT_TEXTS[0]
    heads = [(0, 1), (1, 2)]
    scores = detect_head(model, text, "induction_head", heads=heads)
    cases.append(dict(text=text, tokens=model.to_tokens(text)[0].tolist(), pattern="induction_head",
                      measure="mul", exclude_bos=False, exclude_current_token=False,
                      heads=[list(h) for h in heads], scores=nested(scores)))
    # a list of texts: the mean of per-text scores (TL drops the other options in this path)
    scores = detect_head(model, DETECT_TEXTS, "duplicate_token_head")
    cases.append(dict(texts=DETECT_TEXTS, token_lists=[model.to_tokens(t)[0].tolist() for t in DETECT_TEXTS],
                      pattern="duplicate_token_head", measure="mul", exclude_bos=False,
                      exclude_current_token=False, scores=nested(scores)))
    return cases


def detection_patterns(model):
    tokens = model.to_tokens(DETECT_TEXTS[0]).cpu()
    return dict(tokens=tokens[0].tolist(),
                previous_token_head=nested(get_previous_token_head_detection_pattern(tokens)),
                duplicate_token_head=nested(get_duplicate_token_head_detection_pattern(tokens)),
                induction_head=nested(get_induction_head_detection_pattern(tokens)))


def induction_stripe(model, seq_len=8):
    # [BOS] + r + r with fixed r; score = mean attention from each second-half token to the token
    # after its first occurrence (query L+1+j -> key j+2).
    g = torch.Generator().manual_seed(0)
    vocab = model.cfg.d_vocab
    bos = model.tokenizer.bos_token_id
    r = torch.randperm(vocab - 1, generator=g)[:seq_len]
    r = torch.where(r >= bos, r + 1, r) if bos is not None and bos < vocab else r
    tokens = torch.cat([torch.tensor([bos]), r, r]).unsqueeze(0)
    _, cache = model.run_with_cache(tokens)
    L = seq_len
    scores = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        pat = cache["pattern", layer][0]  # [head, q, k]
        qs = torch.arange(L + 1, 2 * L + 1)
        scores[layer] = pat[:, qs, qs - L + 1].mean(-1)
    return dict(tokens=tokens[0].tolist(), seq_len=L, scores=nested(scores))


def factored_values(fm: FactoredMatrix, corner_k=3):
    out = dict(S=floats(fm.S), norm=float(fm.norm()), corner=nested(fm.get_corner(corner_k)),
               shape=list(fm.shape))
    if fm.ldim == fm.rdim:
        ev = fm.eigenvalues
        out["eig_re"] = floats(ev.real)
        out["eig_im"] = floats(ev.imag)
    return out


def circuits(model, tensors, tensor_level):
    cfg = model.cfg
    OV, QK = model.OV, model.QK
    per_head = []
    for layer in range(cfg.n_layers):
        for head in range(cfg.n_heads):
            per_head.append(dict(layer=layer, head=head, OV=factored_values(OV[layer, head]),
                                 QK=factored_values(QK[layer, head])))
    if tensor_level == "gqa":
        # head 1 shares key/value head 0 with head 0 (TL repeats the KV head)
        tensors["OV.1.1.AB"] = OV[1, 1].AB
    if tensor_level == "full":
        tensors["OV.0.0.AB"] = OV[0, 0].AB
        tensors["OV.0.0.BA"] = OV[0, 0].BA
        tensors["QK.1.3.AB"] = QK[1, 3].AB
    # products: FM @ FM, FM @ matrix, matrix @ FM, transpose
    a, b = OV[0, 0], QK[cfg.n_layers - 1, 0]
    prod = a @ b
    w = model.W_U[:, :5]  # [d_model, 5]
    right = a @ w
    left = model.W_E[:5] @ a  # [5, d_model]
    if tensor_level == "full":
        tensors["prod.OV00_QK.AB"] = prod.AB
        tensors["prod.OV00_WU5.AB"] = right.AB
        tensors["prod.WE5_OV00.AB"] = left.AB
    products = dict(
        OV00_QK=dict(factored_values(prod), A_shape=list(prod.A.shape), B_shape=list(prod.B.shape)),
        OV00_WU5=dict(S=floats(right.S), norm=float(right.norm()), A_shape=list(right.A.shape), B_shape=list(right.B.shape)),
        WE5_OV00=dict(S=floats(left.S), norm=float(left.norm()), A_shape=list(left.A.shape), B_shape=list(left.B.shape)),
    )
    comp = {mode: nested(model.all_composition_scores(mode)) for mode in ("Q", "K", "V")}
    return per_head, products, comp


def copy_scores(model):
    cfg = model.cfg
    top1 = torch.zeros(cfg.n_layers, cfg.n_heads)
    eig = torch.zeros(cfg.n_layers, cfg.n_heads)
    pos_frac = torch.zeros(cfg.n_layers, cfg.n_heads)
    pairs = [(5, 7), (10, 3), (42, 42), (100, 250)]
    ranks, logits = [], []
    for layer in range(cfg.n_layers):
        r_row, l_row = [], []
        for head in range(cfg.n_heads):
            full = model.W_E @ model.OV[layer, head] @ model.W_U  # FactoredMatrix [vocab, vocab]
            ab = full.AB
            top1[layer, head] = (ab.argmax(-1) == torch.arange(cfg.d_vocab)).float().mean()
            ev = full.eigenvalues
            eig[layer, head] = (ev.sum() / ev.abs().sum()).real
            pos_frac[layer, head] = ev.real.clamp(min=0).sum() / ev.abs().sum()
            r_h, l_h = [], []
            for s, t in pairs:
                row = ab[s]
                r_h.append(int((row > row[t]).sum().item()) + 1)
                l_h.append(float(row[t]))
            r_row.append(r_h)
            l_row.append(l_h)
        ranks.append(r_row)
        logits.append(l_row)
    return dict(top1=nested(top1), eigen_score=nested(eig), positive_eigen_fraction=nested(pos_frac),
                pairs=[list(p) for p in pairs], pair_ranks=ranks, pair_logits=logits)


def name_movers(model):
    text = DETECT_TEXTS[0]
    tokens = model.to_tokens(text)
    ids = tokens[0].tolist()
    answer, wrong = ids[2], ids[1]  # " cat" (as a stand-in answer) vs "The"
    answer_pos = ids.index(answer)
    wrong_pos = ids.index(wrong)
    _, cache = model.run_with_cache(tokens)
    stack, labels = cache.stack_head_results(layer=-1, pos_slice=-1, return_labels=True)  # [comp, 1, d_model]
    stack = cache.apply_ln_to_stack(stack, layer=-1, pos_slice=-1)
    direction = model.W_U[:, answer] - model.W_U[:, wrong]
    effect = (stack[:, 0, :] @ direction).reshape(model.cfg.n_layers, model.cfg.n_heads)
    attn_a = torch.stack([cache["pattern", layer][0, :, -1, answer_pos] for layer in range(model.cfg.n_layers)])
    attn_w = torch.stack([cache["pattern", layer][0, :, -1, wrong_pos] for layer in range(model.cfg.n_layers)])
    return dict(tokens=ids, answer=answer, wrong=wrong, answer_pos=answer_pos, wrong_pos=wrong_pos,
                direct_effect=nested(effect), attn_to_answer=nested(attn_a), attn_to_wrong=nested(attn_w))


def reference(name: str, processed: bool, full: bool, tensor_level: str):
    model = load_tl(MODELS / name, processed)
    tensors = {}
    manifest = dict(model=name, processed=processed, tl_version="2.18.0",
                    detect=detect_cases(model), detection_patterns=detection_patterns(model))
    if full:
        per_head, products, comp = circuits(model, tensors, tensor_level)
        manifest.update(induction=induction_stripe(model), circuits=per_head, products=products,
                        composition=comp, copy=copy_scores(model))
        if model.cfg.normalization_type in ("LN", "LNPre"):
            manifest["name_movers"] = name_movers(model)
    return manifest, tensors


def main():
    # (model, processed, circuits/copy/name movers too, which AB tensors to store)
    jobs = [("gpt2-tiny", True, True, "full"), ("gpt2-tiny", False, False, "none"),
            ("pythia-tiny", True, True, "none"), ("llama-tiny", True, True, "gqa")]
    for name, processed, full, tensor_level in jobs:
        out = OUT / name
        out.mkdir(parents=True, exist_ok=True)
        manifest, tensors = reference(name, processed, full, tensor_level)
        suffix = "" if processed else "_unprocessed"
        (out / f"heads_manifest{suffix}.json").write_text(json.dumps(manifest, indent=None) + "\n")
        if tensors:
            save_file({k: v.detach().to(torch.float32).contiguous().clone() for k, v in tensors.items()},
                      str(out / f"heads_factored{suffix}.safetensors"))
        print(name, "processed" if processed else "unprocessed", "ok")


if __name__ == "__main__":
    sys.exit(main())
