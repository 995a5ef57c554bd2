#!/usr/bin/env python3
"""Expected ids of Llama-2's SentencePiece `tokenizer.model`, straight from the `sentencepiece`
library, for Tests/Fixtures/tokenizers/llama2_sentencepiece.json.

MechanicTokenizers reads `tokenizer.model` itself (a hand-written protobuf reader and
SentencePiece's BPE); this is its ground truth. The corpus is the tokenizer corpus
(Tests/Fixtures/tokenizers/corpus.json, from tokenizer_corpus.py) plus edge cases. `ids` are
`encode(text)` without BOS; Llama prepends BOS 1 (as LlamaTokenizer / TransformerLens do), which
the test adds. `decode` is `decode(ids)`; `pieces` samples `decode([id])` and `id_to_piece(id)`.

Never run by CI. Run by hand:
    python3 -m venv /tmp/spm && /tmp/spm/bin/pip install sentencepiece
    /tmp/spm/bin/python scripts/reference/sentencepiece_fixtures.py
"""
import json
import os

import sentencepiece

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "tokenizers", "llama2", "tokenizer.model"))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")

EDGE_CASES = [
    "", " ", "  ", "   leading", "trailing   ", "a  b", "a   b    c", " \n ", "\n", "\n\n",
    "line1\nline2", "\t", "a\tb", "\r\n", "😀", "👨\u200d👩\u200d👧", "🦙 llama", "你好，世界", "日本語",
    "한국어", "\u0001\u007f", "\x00", "€", "\u2581", "\u2581\u2581x", "<s>", "</s>", "<unk>", "<s> hi </s>",
    "<0x0A>", "The mouse is ", "short", "The mouse is short", "The mouse is  short",
    "The opposite of tall is", "ὕαλον ϕαγεῖν δύναμαι", "\ufeffbom", "x" * 300, " ".join(["word"] * 100),
]


def main():
    sp = sentencepiece.SentencePieceProcessor(model_file=MODEL)
    with open(os.path.join(FIXTURES, "corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)["strings"]
    strings = []
    for s in corpus + EDGE_CASES:
        if s not in strings:
            strings.append(s)
    ids = [sp.encode(s) for s in strings]
    decoded = [sp.decode(i) for i in ids]
    sample = list(range(0, 300)) + list(range(300, sp.get_piece_size(), 97)) + [29871, 29889, 3273, 13, 31999]
    pieces = [[i, sp.id_to_piece(i), sp.decode([i])] for i in sorted(set(sample))]
    out = {
        "source": "sentencepiece %s on ../shared/data/tokenizers/llama2/tokenizer.model" % sentencepiece.__version__,
        "bos_id": sp.bos_id(), "eos_id": sp.eos_id(), "unk_id": sp.unk_id(), "pad_id": sp.pad_id(),
        "piece_size": sp.get_piece_size(),
        "strings": strings,
        "ids": ids,
        # null where decode(ids) is the string itself
        "decode": [None if d == s else d for s, d in zip(strings, decoded)],
        "pieces": pieces,
    }
    path = os.path.join(FIXTURES, "llama2_sentencepiece.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    print("wrote %s: %d strings" % (path, len(strings)))


if __name__ == "__main__":
    main()
