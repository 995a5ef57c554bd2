"""Tiny random Hugging Face models + tokenizers for the Mechanic fixtures.

Imported by make_fixtures.py; everything is deterministic (fixed seeds, 1 torch thread).
"""

import json
import os
import shutil

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    GPT2TokenizerFast,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    GPTNeoXTokenizerFast,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2TokenizerFast,
)
from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

from corpus import CORPUS

EOT = "<|endoftext|>"


# ----------------------------------------------------------------------------- tokenizers


def _train_merges(pre_tokenizer, vocab_size, initial_alphabet):
    """Train a BPE on CORPUS and return (trainer vocab ordered by id, merges as [a, b] pairs)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[],
        initial_alphabet=initial_alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(keepends=True), trainer)
    model = json.loads(tok.to_str())["model"]
    vocab = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
    merges = [list(m) if isinstance(m, (list, tuple)) else m.split(" ") for m in model["merges"]]
    return vocab, merges


def _byte_level_vocab(prefix_specials, n_merges, suffix_specials):
    """Byte-level BPE vocab laid out like GPT-2 / GPT-NeoX:
    [prefix specials] + 256 byte symbols in bytes_to_unicode order + merged tokens + [suffix specials]."""
    _, merges = _train_merges(
        pre_tokenizers.ByteLevel(add_prefix_space=False),
        256 + n_merges,
        pre_tokenizers.ByteLevel.alphabet(),
    )
    merges = merges[:n_merges]
    assert len(merges) == n_merges, f"corpus too small: {len(merges)} merges < {n_merges}"
    vocab = {}
    for s in prefix_specials:
        vocab[s] = len(vocab)
    for ch in bytes_to_unicode().values():
        vocab[ch] = len(vocab)
    for a, b in merges:
        assert a + b not in vocab
        vocab[a + b] = len(vocab)
    for s in suffix_specials:
        vocab[s] = len(vocab)
    return vocab, [tuple(m) for m in merges]


def _special(content):
    return {"content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def make_gpt2_tokenizer(out_dir):
    """GPT-2 style: 256 bytes (ids 0..255, GPT-2 order), 243 merges, <|endoftext|> = 499 (last)."""
    vocab, merges = _byte_level_vocab([], 243, [EOT])
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([EOT])
    assert tok.token_to_id(EOT) == len(vocab) - 1
    fast = GPT2TokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=EOT,
                             add_prefix_space=False, model_max_length=64)
    fast.save_pretrained(out_dir)
    return len(vocab)


def make_neox_tokenizer(out_dir):
    """GPT-NeoX / Pythia style: <|endoftext|> = 0, <|padding|> = 1, bytes 2..257, 242 merges (500 total)."""
    vocab, merges = _byte_level_vocab([EOT, "<|padding|>"], 242, [])
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B:1", special_tokens=[])
    tok.add_special_tokens([EOT, "<|padding|>"])
    fast = GPTNeoXTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=EOT,
                                pad_token="<|padding|>", add_bos_token=False, add_eos_token=False,
                                add_prefix_space=False, model_max_length=64)
    fast.save_pretrained(out_dir)
    return len(vocab)


def make_llama_tokenizer(out_dir, total_vocab=512):
    """Llama-2 style SentencePiece-BPE tokenizer.json: <unk>=0, <s>=1, </s>=2, <0x00>..<0xFF> = 3..258,
    then learned pieces; normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer, byte_fallback,
    TemplateProcessing that adds <s>.  (Note: the corpus has no digit '6' and no 'é', so those go
    through byte fallback.)"""
    pieces, merges = _train_merges(
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True),
        total_vocab - 3 - 256,
        [],
    )
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for p in pieces:
        if p not in vocab:
            vocab[p] = len(vocab)
    assert len(vocab) == total_vocab, len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m) for m in merges], unk_token="<unk>",
                               fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", 1)])
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    fast = LlamaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                              add_bos_token=True, add_eos_token=False, legacy=True, model_max_length=64)
    fast.save_pretrained(out_dir)
    # The slow-tokenizer artefacts are not needed (no tokenizer.model exists).
    return len(vocab)


def make_qwen2_tokenizer(out_dir):
    """Qwen2 style byte-level BPE: bytes 0..255, 240 merges, then <|endoftext|>, <|im_start|>, <|im_end|>.
    No BOS token (like Qwen2)."""
    vocab, merges = _byte_level_vocab([], 240, [])
    specials = [EOT, "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens(specials)
    fast = Qwen2TokenizerFast(tokenizer_object=tok, bos_token=None, eos_token=EOT, unk_token=None,
                              pad_token=EOT, model_max_length=64)
    fast.save_pretrained(out_dir)
    return len(vocab) + len(specials)


# ----------------------------------------------------------------------------- weights


def randomize_(model, seed, embed_std=0.3, pos_std=0.15):
    """Give EVERY parameter a non-trivial random value (so folding/centering is exercised):
    Linear/Conv1D weights ~ N(0, 1/fan_in), biases ~ 0.1 N(0,1), norm weights ~ 1 + 0.1 N(0,1),
    norm biases ~ 0.1 N(0,1), token embeddings ~ embed_std N(0,1), position embeddings ~ pos_std N(0,1)."""
    from transformers.pytorch_utils import Conv1D

    g = torch.Generator().manual_seed(seed)

    def randn(shape):
        return torch.randn(*shape, generator=g, dtype=torch.float32)

    done = set()
    with torch.no_grad():
        for mname, mod in model.named_modules():
            own = dict(mod.named_parameters(recurse=False))
            if not own:
                continue
            cls = type(mod).__name__
            for pname, p in own.items():
                full = f"{mname}.{pname}"
                if id(p) in done:  # tied
                    continue
                done.add(id(p))
                if isinstance(mod, torch.nn.Embedding):
                    std = pos_std if ("wpe" in mname or "position" in mname) else embed_std
                    p.copy_(std * randn(p.shape))
                elif isinstance(mod, (torch.nn.Linear, Conv1D)):
                    if pname == "weight":
                        fan_in = p.shape[1] if isinstance(mod, torch.nn.Linear) else p.shape[0]
                        p.copy_(randn(p.shape) / fan_in ** 0.5)
                    else:
                        p.copy_(0.1 * randn(p.shape))
                elif "Norm" in cls or "norm" in cls.lower():
                    if pname == "weight":
                        p.copy_(1.0 + 0.1 * randn(p.shape))
                    else:
                        p.copy_(0.1 * randn(p.shape))
                else:
                    raise ValueError(f"don't know how to randomise {full} ({cls})")
    return model


def _save(model, out_dir):
    model.save_pretrained(out_dir, safe_serialization=True)
    # generation_config.json is noise for the fixtures; keep it (HF writes it) – it is tiny.


def make_gpt2(out_dir, vocab_size, scaled=False, seed=1):
    cfg = GPT2Config(
        vocab_size=vocab_size, n_positions=64, n_ctx=64, n_embd=64, n_layer=2, n_head=4,
        activation_function="gelu_new", layer_norm_epsilon=1e-5, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, scale_attn_by_inverse_layer_idx=scaled, bos_token_id=vocab_size - 1,
        eos_token_id=vocab_size - 1, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(cfg).eval()
    randomize_(model, seed)
    model.tie_weights()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    _save(model, out_dir)


def make_pythia(out_dir, parallel=True, seed=3, vocab_size=512):
    cfg = GPTNeoXConfig(
        vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=256, hidden_act="gelu", rotary_pct=0.25, rotary_emb_base=10000,
        max_position_embeddings=64, layer_norm_eps=1e-5, use_parallel_residual=parallel,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, attention_bias=True,
        attention_dropout=0.0, hidden_dropout=0.0,
    )
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(cfg).eval()
    randomize_(model, seed)
    _save(model, out_dir)


def make_llama(out_dir, vocab_size=512, seed=5):
    cfg = LlamaConfig(
        vocab_size=vocab_size, hidden_size=96, intermediate_size=160, num_hidden_layers=2,
        num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6,
        rope_theta=10000.0, hidden_act="silu", tie_word_embeddings=False, bos_token_id=1,
        eos_token_id=2, attention_bias=False, mlp_bias=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).eval()
    randomize_(model, seed, embed_std=1.0)
    _save(model, out_dir)


def make_qwen2(out_dir, vocab_size, eos_id, seed=7):
    cfg = Qwen2Config(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6,
        rope_theta=10000.0, hidden_act="silu", tie_word_embeddings=False, use_sliding_window=False,
        bos_token_id=None, eos_token_id=eos_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg).eval()
    randomize_(model, seed, embed_std=1.0)
    _save(model, out_dir)


def copy_tokenizer(src, dst):
    for f in os.listdir(src):
        if f.startswith("tokenizer") or f in ("vocab.json", "merges.txt", "special_tokens_map.json"):
            shutil.copy(os.path.join(src, f), os.path.join(dst, f))
