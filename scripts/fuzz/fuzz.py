#!/usr/bin/env python3
"""Fuzzes the `mechanic` binary with hostile files and arguments (run by hand, never by CI).

Builds mutated copies of the fixture models (Tests/Fixtures/models: gpt2-tiny, pythia-tiny,
llama-tiny) in a scratch directory, runs the release binary on each case with a timeout, and
classifies the outcome:

  clean-error   non-zero exit, one line on stderr (ArgumentParser's "Usage:"/"See --help" tail
                after a one-line "Error:" counts as clean)
  success       exit 0 where success is acceptable
  accepted      exit 0 where the input is hostile and an error was expected
  crash         killed by a signal, or a Swift runtime trap ("Fatal error", "Swift runtime failure")
  hang          still running at the timeout
  data-loss     a watched file or directory changed or disappeared
  multi-line    an error message of more than one line
  debug-dump    an error message holding a raw Foundation/Decoding error dump

Prints counts per class and lists every case not in clean-error/success. See README.md.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "models")
MODELS = ["gpt2-tiny", "pythia-tiny", "llama-tiny"]
GOOD = ("clean-error", "success")
DUMP_MARKERS = ["NSCocoaErrorDomain", "UserInfo=", "Error Domain=", "DecodingError", "debugDescription", "codingPath",
                "NSUnderlyingError", "Swift.DecodingError"]
CRASH_MARKERS = ["Fatal error", "Swift runtime failure", "Illegal instruction", "Segmentation fault", "Trace/breakpoint",
                 "Current stack trace", "💣"]


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


def snapshot(top):
    """kind + content hash of everything under `top` (symlinks not followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, top)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[rel] = "file:" + hashlib.sha1(f.read()).hexdigest()
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir"
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = "link:" + os.readlink(p)
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = "fifo"
            else:
                out[rel] = "special"
    return out


# ---------------------------------------------------------------------------------------------
# cases

class Case:
    def __init__(self, name, setup, args, expect="error", allowed=()):
        self.name = name          # unique label
        self.setup = setup        # fn(case_dir) -> None, mutates the copied model in case_dir/model
        self.args = args          # fn(case_dir) -> argv (without the binary)
        self.expect = expect      # "error" (hostile input) or "any"
        self.allowed = allowed    # paths (relative to case_dir) that may change


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


# ---------------------------------------------------------------------------------------------
# running and classifying

def classify(case_expect, rc, stderr, timed_out, before, after):
    if timed_out:
        return "hang"
    if before != after:
        return "data-loss"
    if rc < 0 or rc in (132, 133, 134, 139) or any(m in stderr for m in CRASH_MARKERS):
        return "crash"
    if rc == 0:
        return "accepted" if case_expect == "error" else "success"
    if any(m in stderr for m in DUMP_MARKERS):
        return "debug-dump"
    lines = [l for l in stderr.splitlines() if l.strip()]
    # ArgumentParser appends "Usage: ..." and "See 'mechanic ... --help'" after a one-line error.
    core = [l for l in lines if not l.startswith(("Usage:", "Help:")) and not l.strip().startswith("See '") and not l.startswith("  ")]
    if len(core) != 1:
        return "multi-line"
    return "clean-error"


def run_case(binary, work, index, name, setups, args_fn, expect, base_model, timeout):
    d = os.path.join(work, f"case{index:04d}")
    os.makedirs(d)
    copy_model(base_model)(d)
    for s in setups:
        s(d)
    argv = [binary] + args_fn(d)
    before = snapshot(d)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=os.path.join(work, "hf-home"))
    start = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=d, env=env, start_new_session=True)
    timed_out = False
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
    elapsed = time.time() - start
    stderr = err.decode("utf-8", "replace")
    after = snapshot(d)
    # A new file that is not in `before` is the command's output, not a loss.
    after_cmp = {k: v for k, v in after.items() if k in before}
    cls = classify(expect, p.returncode, stderr, timed_out, before, after_cmp)
    return cls, p.returncode, stderr, elapsed, argv, d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "mechanic"))
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case (default 20)")
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write every outcome to this JSON file")
    opts = ap.parse_args()
    if not os.access(opts.binary, os.X_OK):
        sys.exit(f"no binary at {opts.binary}; build it with: swift build -c release --product mechanic")
    rng = random.Random(opts.seed)
    cases = []
    for model in MODELS:
        for c in safetensors_cases(model, rng) + config_cases(model) + special_file_cases(model) + tokenizer_cases(model, rng):
            cases.append(c + (model,))
    arg, arg_model = arg_cases()
    cases += [c + (arg_model,) for c in arg]
    cases = [c for c in cases if opts.filter in c[0]]
    work = tempfile.mkdtemp(prefix="mechanic-fuzz-")
    counts, failures, records = {}, [], []
    try:
        for i, (name, setups, args_fn, expect, model) in enumerate(cases):
            cls, rc, stderr, elapsed, argv, d = run_case(opts.binary, work, i, name, setups, args_fn, expect, model, opts.timeout)
            counts[cls] = counts.get(cls, 0) + 1
            first = stderr.strip().splitlines()[0] if stderr.strip() else ""
            records.append({"case": name, "class": cls, "rc": rc, "seconds": round(elapsed, 2), "stderr": stderr[-2000:]})
            if cls not in GOOD:
                failures.append((name, cls, rc, elapsed, first[:200], len(stderr.splitlines())))
            print(f"[{i + 1}/{len(cases)}] {cls:12s} {elapsed:6.2f}s  {name}", file=sys.stderr)
            if not opts.keep:
                shutil.rmtree(d, ignore_errors=True)
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{len(cases)} cases")
    for cls in ("clean-error", "success", "accepted", "crash", "hang", "data-loss", "multi-line", "debug-dump"):
        print(f"  {cls:12s} {counts.get(cls, 0)}")
    if failures:
        print("\nfailures:")
        for name, cls, rc, elapsed, first, nlines in failures:
            print(f"  {cls:11s} rc={rc:<4} {elapsed:5.1f}s {name}: {first}" + (f"  [{nlines} lines]" if nlines > 1 else ""))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(records, f, indent=1)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
