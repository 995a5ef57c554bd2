#!/usr/bin/env python3
"""Regenerates the tokenizer fixtures in Tests/Fixtures/tokenizers/ from Hugging Face.

Ground truth for MechanicTokenizers is what Hugging Face `tokenizers` (through `transformers`,
as a user loads a tokenizer) returns for the same files. This script

1. builds a deterministic corpus of >= 1,000 varied strings (many scripts, emoji with ZWJ and
   skin tones, code, whitespace runs, numbers, contractions, special tokens inside text, text that
   normalization changes, the empty string) -> corpus.json;
2. for each real tokenizer in ../shared/data/tokenizers/{gpt2,pythia,llama2} (loaded with
   `transformers.AutoTokenizer.from_pretrained(dir)`) writes the expected ids with and without
   special tokens, decodes, and per-id pieces -> {gpt2,pythia,llama2}.json;
3. trains small synthetic tokenizers that exercise the components the real files do not use
   (Split with the Llama-3 / Qwen2 regexes, ignore_merges, Metaspace, byte fallback with unk and
   fuse_unk, NFKC/NFD/StripAccents/Lowercase/Strip/Replace normalizers, Digits, Punctuation,
   WhitespaceSplit, Whitespace, regex splits with every behavior, continuing_subword_prefix,
   end_of_word_suffix, Template/Bert/Roberta/Sequence post-processors, all decoders, added tokens
   with lstrip/rstrip/single_word/normalized, "a b" merges) -> synthetic/<name>.json (the
   tokenizer) and synthetic/<name>.expected.json (ids via `tokenizers.Tokenizer`).

Never run by CI. Run by hand:
    python3 -m venv /tmp/tokref && /tmp/tokref/bin/pip install tokenizers transformers==4.57.1
    /tmp/tokref/bin/python scripts/reference/tokenizer_corpus.py
"""
import json
import os
import random
import sys
import unicodedata

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tokenizers  # noqa: E402
import transformers  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "tokenizers"))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

LATIN = [
    "The quick brown fox jumps over the lazy dog.",
    "When Mary and John went to the store, John gave a drink to",
    "The opposite of tall is",
    "Hello, world!",
    "In 1492, Columbus sailed the ocean blue.",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    "Portez ce vieux whisky au juge blond qui fume.",
    "El veloz murciélago hindú comía feliz cardillo y kiwi.",
    "Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Árvíztűrő tükörfúrógép",
    "Ça va? Très bien, merci. Où est la bibliothèque?",
    "naïve café résumé coöperate façade jalapeño",
    "Þetta er íslenska. Æðislegt!",
]
CONTRACTIONS = [
    "it's", "I'm", "we'll", "they've", "she'd", "don't", "can't", "won't", "IT'S", "We'LL", "THEY'VE",
    "O'Neil", "rock 'n' roll", "'tis", "y'all'd've", "'s", "'S", "''s", "x'sy", "'re'", "the dog's bone",
    "I'D", "you'Re", "it’s (curly)", "'ſ", "'ll've'm'd't",
]
SCRIPTS = [
    "Привет, мир!", "Съешь же ещё этих мягких французских булок, да выпей чаю.", "Ёлка и йогурт",
    "Καλημέρα κόσμε", "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.", "ΐ ΰ ά ; ·",
    "你好，世界！", "日本語のテキストです。カタカナとひらがな。", "한국어 문장입니다. 안녕하세요",
    "漢字と仮名交じり文", "中文标点：，。！？「」", "ｶﾀｶﾅ半角", "我爱北京天安门",
    "مرحبا بالعالم", "السلام عليكم ورحمة الله", "١٢٣٤٥ أرقام عربية", "ـــ",
    "नमस्ते दुनिया", "हिन्दी भाषा में वाक्य", "क़ ख़ ग़", "संस्कृतम्",
    "שלום עולם", "עִבְרִית עם ניקוד",
    "สวัสดีชาวโลก", "ქართული ენა", "Հայերեն", "தமிழ் மொழி", "ᚠᛇᚻ᛫ᛒᛦᚦ", "𐌰𐌱𐌲 gothic", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math",
]
EMOJI = [
    "😀", "👍🏽 good", "👨‍👩‍👧‍👦 family", "🏳️‍🌈", "🇺🇸🇫🇷🇯🇵", "1️⃣2️⃣", "❤️‍🔥", "🧑🏾‍💻 coding", "I ❤ NY",
    "👩🏻‍❤️‍💋‍👨🏼", "🎉🎉🎉", "emoji😀inside", "🤖 robots 🚀 rockets", "✅ done ❌ failed", "☕️", "🫠🫡",
]
CODE = [
    "def foo(x):\n    return x * 2\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    '{"key": "value", "list": [1, 2, 3], "nested": {"a": null}}',
    '<div class="main">Hello</div>',
    "let x: [Int] = [1, 2, 3]  // comment",
    "SELECT * FROM users WHERE id = 42;",
    "if __name__ == '__main__':\n    main()",
    "$ ls -la | grep '^d'\n",
    "x += 1; y -= 2; z *= 3; w /= 4",
    "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); }",
    "    indented with four spaces\n        and eight",
    "\tfunc f() {\n\t\treturn\n\t}",
    "a = {k: v for k, v in zip(keys, values)}",
    "console.log(`template ${literal}`);",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "<|im_start|>user\nhi<|im_end|>",
]
WHITESPACE = [
    "", " ", "  ", "   ", "\n", "\n\n", "\t", "\t\t", "\r\n", "a\r\nb", " \n \t ", "word  ", "  word", "a    b",
    "a \n b", "line1\nline2\n", "\u00a0", "a\u00a0b", "a\u3000b", "a\u2028b", "a\u0085b", "a\u200bb", "a\ufeffb",
    "tab\tseparated\tvalues", " " * 50, "\n" * 10, "a" + " " * 30 + "b", "\t \t \t", "end with newline\n",
    "\r\r\n\n", " leading", "trailing ", "  both  ", "\n\nparagraph\n\n", "a\n\n\n\nb", "x\r\ny\rz",
    "a \u00a0 b", "\u2003em space\u2003", "a\x0bb\x0cc", "   \n   ", " \t\n\r\n \t", "a\x00b", "\x01\x7f",
]
NUMBERS = [
    "12345", "3.14159", "1,000,000", "+1 (555) 123-4567", "2024-01-15", "0x1F", "1e-10", "٣٤٥", "１２３", "²³",
    "½ cup", "Ⅻ", "42nd", "100%", "$19.99", "99 bottles", "1234567890123456789", "v1.2.3", "3rd of 4",
    "0.000001", "-273.15°C", "10^9", "12:30:45", "1/2/3",
]
SPECIAL = [
    "<|endoftext|>", "Hello<|endoftext|>World", "a <|endoftext|> b", "<s>", "</s>", "<s> hi </s>", "<unk>",
    "<|padding|>", "[PAD]", "x<s>y", "<|endoftext|><|endoftext|>", " <s>", "<s>\n", "< s >", "<|endoftext",
    "text <|endoftext|>\n\nmore", "</s><s>", "<s><s>", "<<s>>", "doc1<|endoftext|>doc2<|endoftext|>",
]
NORMALIZATION = [
    "e\u0301", "cafe\u0301", "Å", "A\u030a", "\u212b", "\u212a", "ﬁ ligature", "Ｆｕｌｌｗｉｄｔｈ", "\u1100\u1161\u11a8",
    "क\u093c", "\u0958", "ﬃ", "x\u0308\u0301", "ǅ", "㍿", "①②③", "\u0301abc", "o\u0302\u0323", "\u00e9\u0301",
    "ⓐⓑⓒ", "ｘ²", "Ǆ ǆ", "ﬀ", "é é", "Ω Ω",
]
METASPACE = ["▁", "▁hello", "a▁b", "▁▁▁", "hello ▁ world"]
MISC = [
    "ALL CAPS SENTENCE", "MiXeD CaSe", "snake_case_name", "camelCaseName", "kebab-case-name", "email@example.com",
    "https://example.com/path?q=1&r=2#frag", "C:\\Windows\\System32", "...", "!!!???", "—–-", "«quoted»",
    "“smart quotes” and ‘single’", "§ ¶ † ‡ • …", "™ © ®", "a/b/c", "~!@#$%^&*()_+`-=[]{}|;:',.<>/?",
    "\\n literal", "a" * 52, "zz" * 80, "Mississippi", "antidisestablishmentarianism",
    "Pneumonoultramicroscopicsilicovolcanoconiosis", "ab" * 150, "😀" * 20, "ÀÀÀÀÀÀÀÀÀÀ",
]
WORDS = (
    "the of and to in is was for on that with as by at from his her they we you it this be are or an"
    " model token layer attention head residual stream neuron circuit logit probability embedding"
    " Москва книга время человек δύναμη λόγος 東京 学生 先生 사랑 시간 كتاب مدرسة किताब समय ספר זמן"
    " don't it's we're I've you'll 2023 42 3.5 1000 #1 @user #hashtag (note) [ref] {x} \"quote\" 'single'"
).split()
SEPARATORS = [" ", " ", " ", "", "  ", "\n", "\t", ", ", ". ", " \n", "\n\n", " - ", "\r\n"]


def build_corpus():
    curated = LATIN + CONTRACTIONS + SCRIPTS + EMOJI + CODE + WHITESPACE + NUMBERS + SPECIAL + NORMALIZATION + METASPACE + MISC
    pieces = curated + WORDS * 3
    rng = random.Random(20240607)
    generated = []
    while len(curated) + len(generated) < 1150:
        n = rng.randint(1, 7)
        parts = [rng.choice(pieces) for _ in range(n)]
        s = ""
        for i, p in enumerate(parts):
            if i:
                s += rng.choice(SEPARATORS)
            s += p
        if rng.random() < 0.1:
            s = " " * rng.randint(1, 3) + s
        if rng.random() < 0.1:
            s = s + rng.choice([" ", "\n", "  ", "\t"])
        generated.append(s)
    long_strings = [
        " ".join(rng.choice(WORDS) for _ in range(500)),
        "\n".join(rng.choice(curated) for _ in range(60)),
        "a" * 1000,
        "1234567890" * 50,
        " " * 300 + "x",
        "".join(rng.choice(SCRIPTS) for _ in range(20)),
    ]
    corpus = curated + generated + long_strings
    # Deduplicate, keeping order.
    seen, out = set(), []
    for s in corpus:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out, len(curated)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path) / 1e6:.2f} MB)")


def piece_ids(used_ids, size, stride):
    ids = set(used_ids) | set(range(0, size, stride)) | {size - 1}
    return sorted(ids)


def real_fixture(name, corpus):
    tok = transformers.AutoTokenizer.from_pretrained(os.path.join(SHARED, name))
    ids = [tok(s)["input_ids"] for s in corpus]
    ids_ns = [tok.encode(s, add_special_tokens=False) for s in corpus]
    used = {i for row in ids for i in row}
    wrap = special_wrap(lambda s, special: tok.encode(s, add_special_tokens=special))
    size = len(tok)
    sample = piece_ids(used, size, 37) + [t.id for t in []]
    sample = sorted(set(sample) | set(tok.added_tokens_decoder.keys()))
    pieces = [[i, tok.batch_decode([[i]], clean_up_tokenization_spaces=False)[0], tok.convert_ids_to_tokens(i)] for i in sample]
    return {
        "name": name,
        "source": f"transformers {transformers.__version__} AutoTokenizer.from_pretrained, tokenizers {tokenizers.__version__}",
        "class": type(tok).__name__,
        "len": size,
        "bos_token": tok.bos_token,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
        "unk_token_id": tok.unk_token_id,
        "adds_bos": len(tok.encode("")) > 0,
        "special_ids": sorted(tok.all_special_ids),
        "encoding": "null entries mean: special_prefix + ids_no_special + special_suffix (ids) / the corpus string (decodes)",
        "special_prefix": wrap[0],
        "special_suffix": wrap[1],
        "ids_no_special": ids_ns,
        "ids": compact_ids(ids, ids_ns, wrap),
        "decode_no_special": compact([tok.decode(r, clean_up_tokenization_spaces=False) for r in ids_ns], corpus),
        "decode": compact([tok.decode(r, clean_up_tokenization_spaces=False) for r in ids], corpus),
        "decode_skip_special": compact([tok.decode(r, skip_special_tokens=True, clean_up_tokenization_spaces=False) for r in ids], corpus),
        "pieces": pieces,
    }


def compact(values, reference):
    """None where a value equals the reference, to keep the fixtures small."""
    return [None if v == r else v for v, r in zip(values, reference)]


def special_wrap(encode):
    """(prefix, suffix): the special tokens the post-processor puts around a sequence, read off
    the ids of "x" with and without special tokens."""
    with_special, without = encode("x", True), encode("x", False)
    for k in range(len(with_special) - len(without) + 1):
        if with_special[k:k + len(without)] == without:
            return with_special[:k], with_special[k + len(without):]
    return [], []


def compact_ids(ids, ids_ns, wrap):
    """None where the ids are exactly prefix + ids_no_special + suffix (checked here against
    Hugging Face's own output, so the fixture still states its exact result)."""
    prefix, suffix = wrap
    return [None if v == prefix + r + suffix else v for v, r in zip(ids, ids_ns)]


def to_legacy_merges(path):
    """Rewrites [a, b] merges as "a b" strings (the older tokenizer.json format)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))


def edit_vocab(path, fn):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    fn(data)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))


def train(tok, texts, trainer):
    tok.train_from_iterator(texts, trainer)
    return tok


def synthetic_tokenizers(training):
    """(name, builder) pairs; each builder returns a trained `tokenizers.Tokenizer`."""
    byte_alphabet = pre_tokenizers.ByteLevel.alphabet()

    def llama3():
        tok = Tokenizer(models.BPE(ignore_merges=True))
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        tok.decoder = decoders.ByteLevel()
        train(tok, training, trainers.BpeTrainer(vocab_size=900, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
                                                 initial_alphabet=byte_alphabet, show_progress=False))
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)])
        tok.add_special_tokens([AddedToken("<|eot|>", lstrip=True, rstrip=True)])
        tok.add_tokens([AddedToken("hello world", single_word=True, normalized=True), AddedToken("<s>", normalized=False)])
        return tok

    def qwen2():
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        train(tok, training, trainers.BpeTrainer(vocab_size=700, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                                 initial_alphabet=byte_alphabet, show_progress=False))
        return tok

    def gpt2_prefix():
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        train(tok, training, trainers.BpeTrainer(vocab_size=600, special_tokens=["</s>", "<pad>"],
                                                 initial_alphabet=byte_alphabet, show_progress=False))
        eos = tok.token_to_id("</s>")
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", eos)]),
        ])
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True), AddedToken("[SEP]", rstrip=True)])
        return tok

    def metaspace():
        tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " ")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
        tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="first")])
        train(tok, training, trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=120,
                                                 show_progress=False))
        tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
        return tok

    def metaspace_post(path):
        # Byte-fallback tokens for most bytes (0xF0-0xF4 left out so 4-byte characters become <unk>).
        def fn(data):
            vocab = data["model"]["vocab"]
            n = max(vocab.values()) + 1
            for b in range(256):
                if 0xF0 <= b <= 0xF4:
                    continue
                key = f"<0x{b:02X}>"
                if key not in vocab:
                    vocab[key] = n
                    n += 1
        edit_vocab(path, fn)

    def sentencepiece_legacy():
        tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=False, byte_fallback=True))
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
        train(tok, training, trainers.BpeTrainer(vocab_size=500, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=80,
                                                 show_progress=False))
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
        return tok

    def sentencepiece_post(path):
        def fn(data):
            vocab = data["model"]["vocab"]
            n = max(vocab.values()) + 1
            for b in range(0x80, 0x100):   # no ASCII byte tokens: rare ASCII characters become <unk>
                vocab[f"<0x{b:02X}>"] = n
                n += 1
        edit_vocab(path, fn)
        to_legacy_merges(path)

    def bert_like():
        tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
        tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase(),
                                               normalizers.Strip(left=True, right=True)])
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="isolated"),
                                                     pre_tokenizers.Digits(individual_digits=True)])
        tok.decoder = decoders.BPEDecoder(suffix="</w>")
        train(tok, training, trainers.BpeTrainer(vocab_size=800, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                                                 continuing_subword_prefix="##", end_of_word_suffix="</w>", limit_alphabet=150,
                                                 show_progress=False))
        tok.post_processor = processors.BertProcessing(sep=("[SEP]", 2), cls=("[CLS]", 1))
        return tok

    def regex_behaviors():
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.Replace(Regex(r"[0-9]{4,}"), "#")])
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r"[0-9]+"), behavior="merged_with_previous"),
            pre_tokenizers.Split("-", behavior="merged_with_next"),
            pre_tokenizers.Split(Regex(r"[aeiou]"), behavior="contiguous", invert=True),
            pre_tokenizers.Split(Regex(r"\s+"), behavior="removed"),
            pre_tokenizers.Digits(individual_digits=False),
            pre_tokenizers.Whitespace(),
        ])
        tok.decoder = decoders.Fuse()
        train(tok, training, trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>", "<cls>", "</sep>"], limit_alphabet=200,
                                                 show_progress=False))
        tok.post_processor = processors.RobertaProcessing(sep=("</sep>", 2), cls=("<cls>", 1))
        return tok

    def bertpre():
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.normalizer = normalizers.Strip(left=False, right=True)
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.BertPreTokenizer(),
                                                     pre_tokenizers.Metaspace(replacement="_", prepend_scheme="always", split=False)])
        tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="_", prepend_scheme="always"), decoders.Strip("x", 2, 0)])
        train(tok, training, trainers.BpeTrainer(vocab_size=500, special_tokens=["<unk>"], limit_alphabet=150, show_progress=False))
        return tok

    return [
        ("llama3_split", llama3, None),
        ("qwen2_nfc", qwen2, None),
        ("bytelevel_prefix", gpt2_prefix, to_legacy_merges),
        ("metaspace_fallback", metaspace, metaspace_post),
        ("sentencepiece_legacy", sentencepiece_legacy, sentencepiece_post),
        ("bert_like", bert_like, None),
        ("regex_behaviors", regex_behaviors, None),
        ("bertpre_metaspace", bertpre, None),
    ]


def synthetic_fixtures(corpus, n_curated):
    os.makedirs(os.path.join(OUT, "synthetic"), exist_ok=True)
    training = corpus + [" ".join(WORDS)] * 5
    indices = list(range(n_curated + 150)) + list(range(len(corpus) - 6, len(corpus) - 2))
    strings = [corpus[i] for i in indices]
    for name, build, post in synthetic_tokenizers(training):
        path = os.path.join(OUT, "synthetic", f"{name}.json")
        build().save(path)
        if post:
            post(path)
        with open(path, encoding="utf-8") as f:   # compact, with a trailing newline
            data = json.load(f)
        write_json(path, data)
        tok = Tokenizer.from_file(path)
        ids = [tok.encode(s).ids for s in strings]
        ids_ns = [tok.encode(s, add_special_tokens=False).ids for s in strings]
        wrap = special_wrap(lambda s, special: tok.encode(s, add_special_tokens=special).ids)
        size = tok.get_vocab_size(with_added_tokens=True)
        write_json(os.path.join(OUT, "synthetic", f"{name}.expected.json"), {
            "name": name,
            "source": f"tokenizers {tokenizers.__version__} Tokenizer.from_file",
            "corpus_indices": indices,
            "encoding": "null entries mean: special_prefix + ids_no_special + special_suffix (ids) / the string (decodes)",
            "special_prefix": wrap[0],
            "special_suffix": wrap[1],
            "ids_no_special": ids_ns,
            "ids": compact_ids(ids, ids_ns, wrap),
            "decode": compact([tok.decode(r, skip_special_tokens=False) for r in ids], strings),
            "decode_skip_special": compact([tok.decode(r, skip_special_tokens=True) for r in ids], strings),
            "pieces": [[i, tok.decode([i], skip_special_tokens=False), tok.id_to_token(i)] for i in range(size)],
        })


def main():
    corpus, n_curated = build_corpus()
    assert len(corpus) >= 1000, len(corpus)
    os.makedirs(OUT, exist_ok=True)
    write_json(os.path.join(OUT, "corpus.json"), {"curated": n_curated, "strings": corpus})
    if not os.path.isdir(SHARED):
        sys.exit(f"missing {SHARED}: the real tokenizer files are needed")
    for name in ["gpt2", "pythia", "llama2"]:
        fixture = real_fixture(name, corpus)
        write_json(os.path.join(OUT, f"{name}.json"), fixture)
    synthetic_fixtures(corpus, n_curated)


if __name__ == "__main__":
    main()
