#!/usr/bin/env python3
"""Encode throughput of MechanicTokenizers vs Hugging Face `tokenizers` (Rust), single-threaded.

For each real tokenizer in ../shared/data/tokenizers/{gpt2,pythia,llama2}:
  * builds a deterministic ~8 MB text (a mix of the strings of Tests/Fixtures/tokenizers/corpus.json:
    many scripts, emoji, code, numbers, whitespace runs; special-token text left out), one line per
    sentence, no two lines alike;
  * Hugging Face: the backend `tokenizers.Tokenizer` of `transformers.AutoTokenizer.from_pretrained(dir)`
    (exactly what the fixtures are generated from), `encode(..., add_special_tokens=False)` of each
    line (mode "lines") or of the whole text as one string (mode "whole"), RAYON_NUM_THREADS=1,
    TOKENIZERS_PARALLELISM=false, no encode_batch;
  * Swift: `TokenizerBenchmark.run(tokenizerDirectory:textFile:repeats:perLine:)`, the same calls on
    the same text, through a throwaway executable compiled here with `swiftc -O -wmo` from
    Sources/MechanicTokenizers/*.swift plus a 20-line main (until `mechanic bench tokenizer` exists);
  * checks that the ids are identical and prints MB/s (10^6 UTF-8 bytes per second, best of
    --repeats runs, word caches warm on both sides), the ratio, and load times.

Run (from the repository root):
    python3 -m venv /tmp/tokref && /tmp/tokref/bin/pip install tokenizers transformers==4.57.1
    /tmp/tokref/bin/python scripts/bench/tokenizer_bench.py [--mb 8] [--repeats 3] [--only llama2] [--mode lines|whole|both]
    python3 scripts/bench/tokenizer_bench.py --load 9    # load CPU time only (no Hugging Face needed)

"lines" (one encode call per line, what a user encoding prompts or documents does) is the fair
comparison; "whole" (the 8 MB text as one string) is a case Hugging Face handles badly (its
offset bookkeeping over one huge string), so its ratio flatters Swift.
"""
import argparse
import array
import json
import os
import random
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "tokenizers"))
SPECIAL_TEXT = ["<|endoftext|>", "<|padding|>", "<s>", "</s>", "<unk>", "[PAD]"]

SWIFT_MAIN = r"""
import Foundation

@main
struct TokenizerBenchMain {
    static func main() throws {
        let args = CommandLine.arguments
        if args.count == 3, args[1] == "--load" {
            // The first load of this process, as a command such as `mechanic predict` pays it.
            func cpuMilliseconds() -> Double {
                var u = rusage()
                getrusage(Int32(RUSAGE_SELF.rawValue), &u)  // Linux (glibc) spelling
                return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3
            }
            let c0 = cpuMilliseconds(), t0 = DispatchTime.now().uptimeNanoseconds
            let tok = try Tokenizer.load(path: URL(fileURLWithPath: args[2]))
            let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6, cpu = cpuMilliseconds() - c0
            print("{\"load_ms\": \(wall), \"load_cpu_ms\": \(cpu), \"vocab_size\": \(tok.vocabSize)}")
            return
        }
        guard args.count == 6, let repeats = Int(args[3]) else {
            FileHandle.standardError.write("usage: tokbench TOKENIZER_DIR TEXT_FILE REPEATS IDS_OUT whole|lines\n".data(using: .utf8)!)
            exit(2)
        }
        let result = try TokenizerBenchmark.run(tokenizerDirectory: URL(fileURLWithPath: args[1]),
                                                textFile: URL(fileURLWithPath: args[2]), repeats: repeats,
                                                perLine: args[5] == "lines")
        var ids = result.ids.map { Int32(truncatingIfNeeded: $0) }
        let data = ids.withUnsafeMutableBytes { Data($0) }
        try data.write(to: URL(fileURLWithPath: args[4]))
        print("{\"mb_per_second\": \(result.mbPerSecond), \"load_ms\": \(result.loadMilliseconds), \"count\": \(ids.count)}")
    }
}
"""


def build_text(megabytes, seed=1234):
    with open(os.path.join(ROOT, "Tests", "Fixtures", "tokenizers", "corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)["strings"]
    corpus = [s for s in corpus if s and not any(t in s for t in SPECIAL_TEXT) and len(s) < 400]
    words = [w for s in corpus for w in s.split(" ") if w]
    rng = random.Random(seed)
    separators = [" "] * 12 + [", ", ". ", "  ", "\t", " - ", ": "]
    lines, size = [], 0
    target = int(megabytes * 1e6)
    while size < target:
        if rng.random() < 0.15:
            line = rng.choice(corpus)
        else:
            n = rng.randint(4, 40)
            line = rng.choice(words)
            for _ in range(n - 1):
                line += rng.choice(separators) + rng.choice(words)
        lines.append(line)
        size += len(line.encode("utf-8")) + 1
    return "\n".join(lines) + "\n"


def build_swift(workdir):
    main = os.path.join(workdir, "main.swift")
    with open(main, "w") as f:
        f.write(SWIFT_MAIN)
    # One module: MechanicJSON + MechanicTokenizers (without Exports.swift, which imports MechanicJSON).
    sources = []
    for target in ["MechanicJSON", "MechanicTokenizers"]:
        d = os.path.join(ROOT, "Sources", target)
        sources += sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".swift") and n != "Exports.swift")
    # TokenizerBenchmark.swift, without its `import MechanicTokenizers` (all one module here).
    with open(os.path.join(ROOT, "Sources", "MechanicBench", "TokenizerBenchmark.swift")) as f:
        bench = "".join(line for line in f if line.strip() != "import MechanicTokenizers")
    bench_path = os.path.join(workdir, "TokenizerBenchmark.swift")
    with open(bench_path, "w") as f:
        f.write(bench)
    sources.append(bench_path)
    exe = os.path.join(workdir, "tokbench")
    cmd = ["swiftc", "-O", "-wmo", "-parse-as-library", "-package-name", "mechanic", "-module-name", "TokBench", "-o", exe] + sources + [main]
    print("building:", " ".join(cmd[:8]), "-o", exe, "Sources/{MechanicJSON,MechanicTokenizers}/*.swift TokenizerBenchmark.swift main.swift", flush=True)
    subprocess.run(cmd, check=True)
    return exe


def split_lines(text):
    """Lines with their "\n", exactly as TokenizerBenchmark.splitLines cuts them."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def bench_hf(name, text, repeats, mode):
    import transformers  # noqa: E402

    t0 = time.perf_counter()
    tok = transformers.AutoTokenizer.from_pretrained(os.path.join(SHARED, name))
    load_ms = (time.perf_counter() - t0) * 1e3
    backend = tok.backend_tokenizer
    lines = split_lines(text) if mode == "lines" else None
    best = float("inf")
    ids = None
    for _ in range(repeats):
        t = time.perf_counter()
        if lines is None:
            ids = backend.encode(text, add_special_tokens=False).ids
        else:
            ids = []
            for line in lines:
                ids += backend.encode(line, add_special_tokens=False).ids
        best = min(best, time.perf_counter() - t)
    return len(text.encode("utf-8")) / 1e6 / best, load_ms, ids


def bench_swift(exe, name, text_file, repeats, workdir, mode):
    ids_file = os.path.join(workdir, f"{name}.ids")
    out = subprocess.run([exe, os.path.join(SHARED, name), text_file, str(repeats), ids_file, mode],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    ids = array.array("i")
    with open(ids_file, "rb") as f:
        ids.frombytes(f.read())
    return result["mb_per_second"], result["load_ms"], ids.tolist()


def bench_load(exe, runs):
    """CPU and wall ms of the first tokenizer load in fresh processes (min and median of `runs`)."""
    env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.hugetlb=1")  # as scripts/bench/load.sh runs mechanic
    paths = [("gpt2", "gpt2"), ("pythia", "pythia"), ("llama2 tokenizer.json", "llama2"),
             ("llama2 tokenizer.model", os.path.join("llama2", "tokenizer.model"))]
    print(f"{'tokenizer':<24} {'cpu ms min':>11} {'cpu ms median':>14} {'wall ms median':>15}")
    for label, rel in paths:
        results = []
        for _ in range(runs):
            out = subprocess.run([exe, "--load", os.path.join(SHARED, rel)], check=True, capture_output=True, text=True, env=env)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        cpu = sorted(r["load_cpu_ms"] for r in results)
        wall = sorted(r["load_ms"] for r in results)
        print(f"{label:<24} {cpu[0]:>11.1f} {cpu[len(cpu) // 2]:>14.1f} {wall[len(wall) // 2]:>15.1f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=8.0, help="size of the text in MB (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="encodes per tokenizer; the best is reported")
    parser.add_argument("--only", action="append", help="gpt2, pythia or llama2 (repeatable)")
    parser.add_argument("--mode", choices=["lines", "whole", "both"], default="both",
                        help="encode each line separately (one encode call per line), the whole text as one string, or both")
    parser.add_argument("--load", type=int, metavar="RUNS",
                        help="only time loading each tokenizer (first load of a fresh process, RUNS processes each)")
    args = parser.parse_args()
    if not os.path.isdir(SHARED):
        sys.exit(f"missing {SHARED}")
    if args.load:
        with tempfile.TemporaryDirectory(prefix="tokbench") as workdir:
            bench_load(build_swift(workdir), args.load)
        return
    import tokenizers

    with tempfile.TemporaryDirectory(prefix="tokbench") as workdir:
        text = build_text(args.mb)
        text_file = os.path.join(workdir, "text.txt")
        with open(text_file, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"text: {len(text.encode('utf-8')) / 1e6:.2f} MB, {text.count(chr(10))} lines; "
              f"tokenizers {tokenizers.__version__}, single-threaded; best of {args.repeats}", flush=True)
        exe = build_swift(workdir)
        rows = []
        modes = ["lines", "whole"] if args.mode == "both" else [args.mode]
        for mode in modes:
            for name in args.only or ["gpt2", "pythia", "llama2"]:
                hf_mbs, hf_load, hf_ids = bench_hf(name, text, args.repeats, mode)
                sw_mbs, sw_load, sw_ids = bench_swift(exe, name, text_file, args.repeats, workdir, mode)
                same = hf_ids == sw_ids
                if not same:
                    first = next((i for i, (a, b) in enumerate(zip(hf_ids, sw_ids)) if a != b), min(len(hf_ids), len(sw_ids)))
                    print(f"  {name} ({mode}): ids differ (HF {len(hf_ids)}, Swift {len(sw_ids)} ids; first difference at {first})")
                rows.append((name, mode, hf_mbs, sw_mbs, sw_mbs / hf_mbs, same, len(hf_ids), hf_load, sw_load))
                print(f"  {name} ({mode}): HF {hf_mbs:.2f} MB/s, Swift {sw_mbs:.2f} MB/s", flush=True)
        print()
        print(f"{'tokenizer':<10} {'mode':<6} {'HF MB/s':>9} {'Swift MB/s':>11} {'ratio':>8} {'ids equal':>10} {'tokens':>9} {'HF load ms':>11} {'Swift load ms':>14}")
        for name, mode, hf, sw, ratio, same, n, hl, sl in rows:
            print(f"{name:<10} {mode:<6} {hf:>9.2f} {sw:>11.2f} {ratio:>7.2f}x {str(same):>10} {n:>9} {hl:>11.1f} {sl:>14.1f}")
        if not all(r[5] for r in rows):
            sys.exit(1)


if __name__ == "__main__":
    main()
