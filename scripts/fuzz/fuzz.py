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

Prints counts per class and lists every case not in clean-error/success. The cases are built in
cases.py. See README.md.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import (arg_cases, config_cases, copy_model, safetensors_cases, special_file_cases,  # noqa: E402
                   tokenizer_cases)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = ["gpt2-tiny", "pythia-tiny", "llama-tiny"]
GOOD = ("clean-error", "success")
DUMP_MARKERS = ["NSCocoaErrorDomain", "UserInfo=", "Error Domain=", "DecodingError", "debugDescription", "codingPath",
                "NSUnderlyingError", "Swift.DecodingError"]
CRASH_MARKERS = ["Fatal error", "Swift runtime failure", "Illegal instruction", "Segmentation fault", "Trace/breakpoint",
                 "Current stack trace", "💣"]


# ---------------------------------------------------------------------------------------------
# file snapshots

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
