"""TransformerLens 2.18's side of `mechanic bench load` (run both through scripts/bench/load.sh).

One Python process: from_pretrained (with its default weight processing, as Mechanic loads the
model) of the random GPT-2-small-shaped checkpoint, then one forward on 3 tokens. Prints
{"import_s", "load_s", "forward_s", "load_forward_s", "process_s", "peak_rss"}: `load_forward_s`
is from_pretrained + the forward (imports excluded), `process_s` the whole process up to the
print (interpreter start excluded), `*_cpu_s` the same spans in process CPU seconds (all threads),
`peak_rss` the process's peak resident set in bytes.

    /tmp/ref/bin/python scripts/bench/tl_load.py DIR [threads]
"""
import json, resource, sys, time

t0, c0 = time.perf_counter(), time.process_time()
import torch
import transformer_lens.loading_from_pretrained as loading
from transformer_lens import HookedTransformer
from transformers import GPT2LMHeadModel
import contextlib, io

path = sys.argv[1]
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
torch.set_grad_enabled(False)
loading.get_official_model_name = lambda name: name  # accept a local directory as the model name
t1, c1 = time.perf_counter(), time.process_time()
hf = GPT2LMHeadModel.from_pretrained(path, torch_dtype=torch.float32)
with contextlib.redirect_stdout(io.StringIO()):  # the "Loaded pretrained model" banner
    model = HookedTransformer.from_pretrained(path, hf_model=hf, device="cpu", tokenizer=None, dtype=torch.float32)
del hf
t2 = time.perf_counter()
logits = model(torch.tensor([[464, 3797, 257]]))
float(logits[0, -1].max())
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "forward_s": t3 - t2, "load_forward_s": t3 - t1,
                  "process_s": t3 - t0, "load_forward_cpu_s": c3 - c1, "process_cpu_s": c3 - c0, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
