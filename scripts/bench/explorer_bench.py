"""The explorer's prompt-page API against TransformerLens doing the same analyses in one process.

Run through scripts/bench/explorer.sh. Mechanic: `mechanic serve` on the checkpoint, timed from
this process over loopback (POST /api/prompt: forward with cache, top-k and loss at every
position, the layer x position logit-lens grid of the answer, every head's pattern; then POST
/api/attribute --by head: DLA by head at the last position), HTTP and JSON included.
TransformerLens: run_with_cache, accumulated_resid(apply_ln=True) at every position unembedded,
top-k and per-token loss from the logits, stack_head_results + apply_ln_to_stack + the answer's
residual direction (DLA by head). Medians (and minima) of `repeats` runs of each, interleaved,
after one warm-up each.
Usage: explorer_bench.py DIR PORT [repeats] [threads] [server-pid]
(with the server's pid, CPU seconds per run of each side too: the server's, and this process's)
"""
import json, os, statistics, sys, time, urllib.request

import torch
import transformer_lens.loading_from_pretrained as loading
from transformer_lens import HookedTransformer
from transformers import GPT2LMHeadModel

path, port = sys.argv[1], int(sys.argv[2])
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
server_pid = int(sys.argv[5]) if len(sys.argv) > 5 else None  # the server's CPU time is read when given
torch.set_grad_enabled(False)

gen = torch.Generator().manual_seed(11)
tokens = torch.randint(0, 50257, (1, 32), generator=gen)
ids = tokens[0].tolist()
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

def post(route, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/{route}", data=json.dumps(body).encode(), method="POST")
    with opener.open(req) as r:
        return json.loads(r.read())

def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    if pid is None:
        t = os.times(); return t.user + t.system
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def mechanic():
    o = post("prompt", {"tokens": ids, "top": 5})
    a = post("attribute", {"tokens": ids, "answer-id": o["answer"]["id"], "by": "head", "top": 1000})
    return o, a

o, a = mechanic()
answer = o["answer"]["id"]

loading.get_official_model_name = lambda name: name
hf = GPT2LMHeadModel.from_pretrained(path, torch_dtype=torch.float32)
model = HookedTransformer.from_pretrained(path, hf_model=hf, device="cpu", tokenizer=None, dtype=torch.float32)

def tl():
    logits, cache = model.run_with_cache(tokens)
    top = logits[0].topk(5, dim=-1)                                               # top-k at every position
    loss = model.loss_fn(logits, tokens, per_token=True)                          # per-token loss
    resid, labels = cache.accumulated_resid(incl_mid=True, apply_ln=True, return_labels=True)  # [25, 1, 32, d]
    lens = model.unembed(resid[:, 0])                                             # [25, 32, vocab]
    lp = lens.log_softmax(-1)[..., answer]                                        # answer's probability...
    rank = (lens > lens[..., answer:answer + 1]).sum(-1)                          # ...and rank in the grid
    heads = cache.stack_head_results(layer=-1, pos_slice=-1)                      # [144, 1, d]
    heads = cache.apply_ln_to_stack(heads, layer=-1, pos_slice=-1)
    dla = heads[:, 0] @ model.tokens_to_residual_directions(answer)               # DLA by head
    patterns = [cache["pattern", l] for l in range(model.cfg.n_layers)]
    return top, loss, lp, rank, dla, patterns

# Interleaved (Mechanic, TransformerLens, Mechanic, …) so that a shared machine's load falls on
# both alike; medians and minima of each.
mechanic(); tl()
times = {"mechanic": [], "tl": []}
cpu = {"mechanic": 0.0, "tl": 0.0}
for _ in range(repeats):
    for name, f in (("mechanic", mechanic), ("tl", tl)):
        pid = server_pid if name == "mechanic" else None
        c, t = cpu_seconds(pid), time.perf_counter(); f(); times[name].append(time.perf_counter() - t)
        cpu[name] += cpu_seconds(pid) - c
mechanic_s, tl_s = statistics.median(times["mechanic"]), statistics.median(times["tl"])
# Same numbers: the grid's final row is the model's own probability of the answer.
ours = o["lens"]["prob"][-1]
theirs = tl()[2][-1].exp().tolist()
err = max(abs(x - y) for x, y in zip(ours, theirs))
print(json.dumps({"mechanic_s": mechanic_s, "transformer_lens_s": tl_s, "ratio_mechanic_over_tl": mechanic_s / tl_s,
                  "mechanic_min_s": min(times["mechanic"]), "transformer_lens_min_s": min(times["tl"]),
                  "ratio_of_minima": min(times["mechanic"]) / min(times["tl"]),
                  "cpu_s_per_run": {k: v / repeats for k, v in cpu.items()} if server_pid else None,
                  "final_row_max_abs_diff": err, "tokens": 32, "torch_threads": torch.get_num_threads()}))
