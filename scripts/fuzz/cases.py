"""Case builders for fuzz.py: mutated copies of the fixture models and hostile arguments.

Each builder returns (name, setup steps, argv function, expectation) tuples; fuzz.py runs them.
"""
import json
import os
import random
import shutil
import struct

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "models")


# ---------------------------------------------------------------------------------------------
# file helpers

def read_st(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    return n, json.loads(data[8:8 + n]), data[8 + n:]


def write_st(path, header_text, body, length=None):
    hb = header_text.encode() if isinstance(header_text, str) else header_text
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb) if length is None else length))
        f.write(hb)
        f.write(body)


# ---------------------------------------------------------------------------------------------
# cases

def copy_model(model):
    def setup_base(d):
        shutil.copytree(os.path.join(FIXTURES, model), os.path.join(d, "model"))
        os.makedirs(os.path.join(d, "results"))
        with open(os.path.join(d, "results", "notes.txt"), "w") as f:
            f.write("precious\n")
    return setup_base


def predict(d):
    return ["predict", "--model", os.path.join(d, "model"), "--tokens", "1,2,3", "--top", "3"]


def tokenize(d):
    return ["tokenize", "--model", os.path.join(d, "model"), "hello world"]


def mutate_st(fn):
    """setup step: rewrite model.safetensors with fn(n, header, body) -> (header_text|bytes, body, length)"""
    def step(d):
        p = os.path.join(d, "model", "model.safetensors")
        n, header, body = read_st(p)
        raw = open(p, "rb").read()
        result = fn(n, header, body, raw)
        if isinstance(result, bytes):
            with open(p, "wb") as f:
                f.write(result)
        else:
            write_st(p, *result)
    return step


def first_weight(header):
    return sorted(k for k in header if k != "__metadata__")[0]


def safetensors_cases(model, rng):
    cases = []
    def add(name, fn, expect="error"):
        cases.append((f"{model}/st/{name}", [mutate_st(fn)], predict, expect))
    add("empty", lambda n, h, b, raw: b"")
    add("4-bytes", lambda n, h, b, raw: raw[:4])
    add("header-only", lambda n, h, b, raw: raw[:8 + n])
    add("half-header", lambda n, h, b, raw: raw[:8 + n // 2])
    add("truncated-1", lambda n, h, b, raw: raw[:-1])
    add("truncated-half", lambda n, h, b, raw: raw[:len(raw) // 2])
    add("extended-1", lambda n, h, b, raw: raw + b"\0")
    add("extended-8", lambda n, h, b, raw: raw + b"\0" * 8)
    for delta in (-1, 1, -8, 8):
        add(f"header-len{delta:+d}", lambda n, h, b, raw, delta=delta: (raw[8:8 + n], b, n + delta))
    add("header-len-2^63", lambda n, h, b, raw: (raw[8:8 + n], b, 2 ** 63))
    add("header-len-2^64-1", lambda n, h, b, raw: (raw[8:8 + n], b, 2 ** 64 - 1))
    def dup(n, h, b, raw):
        name = first_weight(h)
        text = json.dumps(h)
        entry = json.dumps({name: h[name]})[1:-1]
        return (text[:-1] + ", " + entry + "}", b)
    add("duplicate-name", dup)
    for dt in ("I32", "I64", "F16", "F64", "U8", "BOOL", "F8_E4M3", "", 7):
        def wrong(n, h, b, raw, dt=dt):
            h = dict(h)
            name = first_weight(h)
            h[name] = dict(h[name], dtype=dt)
            return (json.dumps(h), b)
        add(f"dtype-{dt}", wrong)
    def meta(value):
        def f(n, h, b, raw):
            h = dict(h)
            h["__metadata__"] = value
            return (json.dumps(h), b)
        return f
    add("metadata-list", meta([1, 2]))
    add("metadata-int-value", meta({"format": 3}))
    add("metadata-ok", meta({"format": "pt"}), expect="any")
    def shift(n, h, b, raw):
        h = dict(h)
        name = first_weight(h)
        o = h[name]["data_offsets"]
        h[name] = dict(h[name], data_offsets=[o[0] + 4, o[1] + 4])
        return (json.dumps(h), b)
    add("offset-shift", shift)
    def gap(n, h, b, raw):
        h = {k: (dict(v, data_offsets=[v["data_offsets"][0] + 4, v["data_offsets"][1] + 4]) if k != "__metadata__" else v)
             for k, v in h.items()}
        return (json.dumps(h), b"\0" * 4 + b)
    add("leading-gap", gap)
    def shape(value):
        def f(n, h, b, raw):
            h = dict(h)
            name = first_weight(h)
            h[name] = dict(h[name], shape=value)
            return (json.dumps(h), b)
        return f
    for label, value in (("neg", [-1, 4]), ("huge", [2 ** 62, 2 ** 62]), ("float", [1.5]), ("string", "64"), ("null", None)):
        add(f"shape-{label}", shape(value))
    add("many-tensors", lambda n, h, b, raw: ("{" + ",".join(f'"t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'
                                                              for i in range(300000)) + "}", b""))
    add("deep-nesting", lambda n, h, b, raw: ("[" * 100000, b""))
    add("header-not-object", lambda n, h, b, raw: ("[1,2,3]", b))
    add("header-binary", lambda n, h, b, raw: (bytes(rng.randrange(256) for _ in range(n)), b))
    for i in range(12):
        def flip(n, h, b, raw, i=i):
            r = random.Random(f"{model}-{i}")
            data = bytearray(raw)
            pos = r.randrange(8 + n) if i < 8 else 8 + n + r.randrange(len(raw) - 8 - n)
            data[pos] ^= 1 << r.randrange(8)
            return bytes(data)
        add(f"bitflip-{'header' if i < 8 else 'data'}-{i}", flip, expect="any")
    return cases


def edit_config(edit):
    def step(d):
        p = os.path.join(d, "model", "config.json")
        with open(p) as f:
            cfg = json.load(f)
        result = edit(cfg)
        with open(p, "w") as f:
            if isinstance(result, str):
                f.write(result)
            else:
                json.dump(cfg if result is None else result, f)
    return step


def config_cases(model):
    cases = []
    keys = {
        "gpt2-tiny": ["n_layer", "n_embd", "n_head", "n_positions", "vocab_size", "n_inner"],
        "pythia-tiny": ["num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "max_position_embeddings",
                        "vocab_size"],
        "llama-tiny": ["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim",
                       "intermediate_size", "max_position_embeddings", "vocab_size"],
    }[model]
    values = {"neg": -1, "zero": 0, "null": None, "float": 1.5, "string": "2", "huge": 4611686018427387904, "1e30": 1e30,
              "true": True}
    for key in keys:
        for label, value in values.items():
            def edit(cfg, key=key, value=value):
                cfg[key] = value
            cases.append((f"{model}/config/{key}={label}", [edit_config(edit)], predict, "error"))
    floats = {
        "gpt2-tiny": {"layer_norm_epsilon": [-1e-5, 0, "x", None, 1e30]},
        "pythia-tiny": {"rotary_pct": [2.0, -0.5, 1e30, 0, "x"], "rotary_emb_base": [0, -1, None], "layer_norm_eps": [-1, "x"]},
        "llama-tiny": {"rope_theta": [0, -10000, "x", 1e400 if False else 1e308], "rms_norm_eps": [-1e-6, "x"],
                       "rope_scaling": [[1, 2], "linear", {"type": "bogus", "factor": 2}]},
    }[model]
    for key, vs in floats.items():
        for value in vs:
            def edit(cfg, key=key, value=value):
                cfg[key] = value
            cases.append((f"{model}/config/{key}={json.dumps(value)}", [edit_config(edit)], predict, "error"))
    cases.append((f"{model}/config/not-json", [edit_config(lambda c: "{\"n_layer\": 2,\n  oops }")], predict, "error"))
    cases.append((f"{model}/config/truncated", [edit_config(lambda c: json.dumps(c)[:40])], predict, "error"))
    cases.append((f"{model}/config/top-level-array", [edit_config(lambda c: "[1, 2, 3]")], predict, "error"))
    cases.append((f"{model}/config/empty", [edit_config(lambda c: "")], predict, "error"))
    cases.append((f"{model}/config/duplicate-key",
                  [edit_config(lambda c: json.dumps(c)[:-1] + ', "model_type": "' + c["model_type"] + '"}')], predict, "error"))
    cases.append((f"{model}/config/50MB-array",
                  [edit_config(lambda c: json.dumps(c)[:-1] + ', "junk": [' + ",".join(["1.5"] * 12_000_000) + "]}")],
                  predict, "error"))
    cases.append((f"{model}/config/20MB-string",
                  [edit_config(lambda c: json.dumps(c)[:-1] + ', "junk": "' + "x" * 20_000_000 + '"}')], predict, "error"))
    cases.append((f"{model}/config/binary", [edit_config(lambda c: "\x00\x01\xff garbage")], predict, "error"))
    return cases


def replace_with(kind, rel):
    def step(d):
        p = os.path.join(d, "model", rel)
        if os.path.exists(p):
            os.remove(p)
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "dir":
            os.makedirs(p)
        elif kind == "dangling":
            os.symlink(os.path.join(d, "nowhere"), p)
        elif kind == "devzero":
            os.symlink("/dev/zero", p)
        elif kind == "missing":
            pass
    return step


def special_file_cases(model):
    cases = []
    files = ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    if model == "gpt2-tiny":
        files += ["vocab.json", "merges.txt"]
    for rel in files:
        for kind in ("fifo", "dir", "dangling", "devzero"):
            # A dangling symlink counts as a missing file (as in the Hugging Face cache).
            expect = "error" if rel in ("model.safetensors", "config.json", "tokenizer.json") and kind != "dangling" else "any"
            cases.append((f"{model}/special/{rel}={kind}", [replace_with(kind, rel)], predict, expect))
    return cases


def write_model_file(rel, content):
    def step(d):
        with open(os.path.join(d, "model", rel), "wb") as f:
            f.write(content)
    return step


def tokenizer_cases(model, rng):
    cases = []
    tok = os.path.join(FIXTURES, model, "tokenizer.json")
    text = open(tok, "rb").read()
    cases.append((f"{model}/tok/truncated", [write_model_file("tokenizer.json", text[:len(text) // 2])], tokenize, "error"))
    cases.append((f"{model}/tok/binary", [write_model_file("tokenizer.json", bytes(rng.randrange(256) for _ in range(4000)))],
                  tokenize, "error"))
    obj = json.loads(text)
    vocab = obj["model"]["vocab"]
    if isinstance(vocab, dict):
        first = next(iter(vocab))
        dup = json.dumps(obj).replace('"vocab": {', '"vocab": {' + json.dumps(first) + ": 7, ", 1)
        cases.append((f"{model}/tok/duplicate-vocab-key", [write_model_file("tokenizer.json", dup.encode())], tokenize, "error"))
    for label, value in (("vocab-list", [1, 2]), ("vocab-neg-id", {"a": -1}), ("vocab-huge-id", {"a": 2 ** 62}),
                         ("merges-garbage", None)):
        o = json.loads(text)
        if label == "merges-garbage":
            o["model"]["merges"] = [123, None, ["a"]]
        else:
            o["model"]["vocab"] = value
        cases.append((f"{model}/tok/{label}", [write_model_file("tokenizer.json", json.dumps(o).encode())], tokenize, "error"))
    o = json.loads(text)
    o["added_tokens"] = [{"id": 10 ** 12, "content": "<x>", "special": True}]
    cases.append((f"{model}/tok/added-token-huge-id", [write_model_file("tokenizer.json", json.dumps(o).encode())], tokenize, "error"))
    if model == "gpt2-tiny":
        def no_json(d):
            os.remove(os.path.join(d, "model", "tokenizer.json"))
        merges = open(os.path.join(FIXTURES, model, "merges.txt"), "rb").read()
        cases.append((f"{model}/tok/merges-binary-line", [no_json, write_model_file("merges.txt", merges + bytes(
            rng.randrange(1, 256) for _ in range(800)).replace(b"\n", b"x") + b"\n")], tokenize, "error"))
        cases.append((f"{model}/tok/vocab-json-dup", [no_json, write_model_file("vocab.json", b'{"a": 1, "a": 2}')], tokenize, "error"))
    return cases


def arg_cases():
    cases = []
    model = "gpt2-tiny"
    def m(d):
        return os.path.join(d, "model")
    hostile = [
        ("predict-top-0", lambda d: ["predict", "--model", m(d), "--tokens", "1,2", "--top", "0"]),
        ("predict-top-neg", lambda d: ["predict", "--model", m(d), "--tokens", "1,2", "--top=-1"]),
        ("predict-top-huge", lambda d: ["predict", "--model", m(d), "--tokens", "1,2", "--top", "9223372036854775807"]),
        ("tokens-double-comma", lambda d: ["predict", "--model", m(d), "--tokens", "1,,2"]),
        ("tokens-empty", lambda d: ["predict", "--model", m(d), "--tokens", ""]),
        ("tokens-negative", lambda d: ["predict", "--model", m(d), "--tokens=-1"]),
        ("tokens-out-of-vocab", lambda d: ["predict", "--model", m(d), "--tokens", "999999"]),
        ("tokens-int-overflow", lambda d: ["predict", "--model", m(d), "--tokens", "99999999999999999999999"]),
        ("tokens-too-long", lambda d: ["predict", "--model", m(d), "--tokens", ",".join(["1"] * 100)]),
        ("generate-max-new-huge", lambda d: ["generate", "--model", m(d), "--tokens", "1,2", "--max-new-tokens",
                                             "9223372036854775807", "--temperature", "0"]),
        ("generate-max-new-neg", lambda d: ["generate", "--model", m(d), "--tokens", "1,2", "--max-new-tokens=-1"]),
        ("generate-temperature-nan", lambda d: ["generate", "--model", m(d), "--tokens", "1,2", "--temperature", "nan"]),
        ("generate-temperature-neg", lambda d: ["generate", "--model", m(d), "--tokens", "1,2", "--temperature=-1"]),
        ("generate-top-p-2", lambda d: ["generate", "--model", m(d), "--tokens", "1,2", "--top-p", "2"]),
        ("generate-top-k-neg", lambda d: ["generate", "--model", m(d), "--tokens", "1,2", "--top-k=-1"]),
        ("lens-pos-huge", lambda d: ["lens", "--model", m(d), "--tokens", "1,2", "--pos", "1000"]),
        ("cache-names-bad-regex", lambda d: ["cache", "--model", m(d), "--tokens", "1,2", "--names", "(", "--out",
                                             os.path.join(d, "new.safetensors")]),
        ("model-empty", lambda d: ["predict", "--model", "", "--tokens", "1"]),
        ("model-missing-dir", lambda d: ["predict", "--model", os.path.join(d, "nope"), "--tokens", "1"]),
        ("neurons-corpus-devzero", lambda d: ["neurons", "--model", m(d), "--neuron", "0:1", "--corpus", "/dev/zero"]),
        ("neurons-corpus-dir", lambda d: ["neurons", "--model", m(d), "--neuron", "0:1", "--corpus", os.path.join(d, "results")]),
        ("neurons-corpus-fifo", lambda d: ["neurons", "--model", m(d), "--neuron", "0:1", "--corpus", os.path.join(d, "pipe")]),
    ]
    def fifo(d):
        os.mkfifo(os.path.join(d, "pipe"))
    for name, args in hostile:
        cases.append((f"args/{name}", [fifo], args, "error"))
    outs = {
        "dir": lambda d: os.path.join(d, "results"),
        "empty": lambda d: "",
        "model-file": lambda d: os.path.join(d, "model", "model.safetensors"),
        "config": lambda d: os.path.join(d, "model", "config.json"),
        "tokenizer": lambda d: os.path.join(d, "model", "tokenizer.json"),
        "model-dir": lambda d: os.path.join(d, "model"),
        "fifo": lambda d: os.path.join(d, "pipe"),
        "symlink-to-dir": lambda d: os.path.join(d, "link"),
        "symlink-to-model": lambda d: os.path.join(d, "weights-link"),
        "hardlink-to-model": lambda d: os.path.join(d, "weights-hard"),
        "no-parent": lambda d: os.path.join(d, "nowhere", "x.out"),
        "dot": lambda d: ".",
    }
    def links(d):
        os.mkfifo(os.path.join(d, "pipe"))
        os.symlink(os.path.join(d, "results"), os.path.join(d, "link"))
        os.symlink(os.path.join(d, "model", "model.safetensors"), os.path.join(d, "weights-link"))
        os.link(os.path.join(d, "model", "model.safetensors"), os.path.join(d, "weights-hard"))
    for label, target in outs.items():
        cases.append((f"out/cache--out={label}", [links],
                      lambda d, t=target: ["cache", "--model", m(d), "--tokens", "1,2", "--out", t(d)], "error"))
        cases.append((f"out/lens--html={label}", [links],
                      lambda d, t=target: ["lens", "--model", m(d), "--tokens", "1,2", "--html", t(d)], "error"))
        cases.append((f"out/dataset--out={label}", [links],
                      lambda d, t=target: ["dataset", "--model", m(d), "--count", "2", "--out", t(d)], "error"))
    cases.append(("out/cache--out=new-file", [links],
                  lambda d: ["cache", "--model", m(d), "--tokens", "1,2", "--out", os.path.join(d, "new.safetensors")], "any"))
    return [(n, s, a, e) for n, s, a, e in cases], model
