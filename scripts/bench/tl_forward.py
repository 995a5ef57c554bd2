"""Times TransformerLens 2.18 on the work `mechanic bench forward` does, on the same checkpoint.

Run through scripts/bench/forward.sh (which runs both and prints the ratios). Needs the reference
venv: python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch transformer_lens==2.18.0 \
    transformers==4.57.1 'huggingface_hub<1' 'datasets<4'
"""
import json, statistics, sys, time

import torch
import transformer_lens.loading_from_pretrained as loading
from transformer_lens import HookedTransformer
from transformers import GPT2LMHeadModel

path = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
torch.set_grad_enabled(False)

loading.get_official_model_name = lambda name: name  # accept a local directory as the model name
t = time.perf_counter()
hf = GPT2LMHeadModel.from_pretrained(path, torch_dtype=torch.float32)
cfg = loading.get_pretrained_model_config(path, hf_cfg=hf.config.to_dict(), fold_ln=True, device="cpu")
model = HookedTransformer.from_pretrained(path, hf_model=hf, device="cpu", tokenizer=None, dtype=torch.float32)
load_s = time.perf_counter() - t

gen = torch.Generator().manual_seed(7)
small = torch.randint(0, model.cfg.d_vocab, (1, 16), generator=gen)
large = torch.randint(0, model.cfg.d_vocab, (8, 64), generator=gen)

def median(f):
    f()
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return statistics.median(times)

out = {
    "load_s": load_s,
    "forward_1x16_s": median(lambda: model(small)),
    "forward_8x64_s": median(lambda: model(large)),
    "forward_cache_8x64_s": median(lambda: model.run_with_cache(large)),
    "torch_threads": torch.get_num_threads(),
}
print(json.dumps(out))
