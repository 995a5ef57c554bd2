"""Prints the table of scripts/bench/patch.sh from the JSON of both sides.

    python3 scripts/bench/patch_table.py MECHANIC.json [TL.json]

Mechanic's time per sweep is charged its whole setup (the clean and corrupted runs with every
cache the sweeps read), TransformerLens's is its `get_act_patch_*` call alone (its clean cache is
computed before the call, as its API expects). The floor is the multiply-adds the engine still
must do for the sweep (PatchFloor) at the sgemm rate Mechanic measured in the same run.
"""

import json
import sys


def last_json(path):
    with open(path) as f:
        return json.loads([line for line in f if line.strip().startswith("{")][-1])


def main():
    m = last_json(sys.argv[1])
    t = last_json(sys.argv[2]) if len(sys.argv) > 2 else None
    print(f"{m['pairs']} prompt pairs x {m['seq']} tokens, GPT-2-small-shaped random model, engine {m['engine']}, "
          f"{m['threads']} BLAS threads; sgemm {m['sgemm_gflops']:.1f} GFLOP/s measured in this run")
    print(f"Mechanic setup (clean + corrupted runs, caches): {m['setup_s']:.2f} s wall, {m['setup_cpu_s']:.2f} s CPU "
          "- included in every Mechanic figure below (headline ratio)")
    if t:
        print(f"TransformerLens clean run_with_cache: {t['setup_s']:.2f} s wall - not in its timed call, as in its API")
    print()
    head = f"{'sweep':22} {'Mechanic s':>11} {'(cpu)':>7} {'floor s':>8} {'Mech/floor':>10}"
    if t:
        head += f" {'TL s':>8} {'(cpu)':>8} {'TL/Mech':>8} {'(cpu)':>7} {'sweep only':>10} {'max|diff|':>10} {'max|grid|':>9}"
    print(head)
    for name in m.get("order", sorted(m["sweeps"])):
        s = m["sweeps"][name]
        total, total_cpu = m["setup_s"] + s["s"], m["setup_cpu_s"] + s["cpu_s"]
        line = f"{name:22} {total:11.2f} {total_cpu:7.2f} {s['floor_s']:8.2f} {s['s'] / s['floor_s']:9.2f}x"
        ts = t["sweeps"].get(name) if t else None
        if ts:
            diff = max(abs(a - b) for a, b in zip(s["grid"], ts["grid"])) if s["shape"] == ts["shape"] else float("nan")
            line += (f" {ts['s']:8.1f} {ts['cpu_s']:8.1f} {ts['s'] / total:7.1f}x {ts['cpu_s'] / total_cpu:6.1f}x"
                     f" {ts['s'] / s['s']:9.1f}x {diff:10.2e} {max(abs(v) for v in ts['grid']):9.3f}")
        print(line)
    print()
    print("Mechanic s: setup + sweep; floor: the sweep's unavoidable multiply-adds at the measured sgemm rate;")
    print("Mech/floor: the sweep alone over its floor; TL/Mech: TransformerLens over Mechanic (setup included);")
    print("sweep only: the same without Mechanic's setup; max|diff|: largest difference between the two grids.")


if __name__ == "__main__":
    main()
