"""Embedding throughput of a multilingual-e5-small-shaped encoder on one GPU, for the 10⁸-chunk plan
in BENCHMARKS.md: how many passages per second one Ray GPU actor embeds.

    python3 bench/gpu_embed_throughput.py        # on a machine with CUDA, torch and transformers

This is the script that was run on the H200 (2026-12-04), as it ran. The weights are random (the
bundled e5 weights do not travel to that machine): throughput depends on the architecture and the
sequence lengths, not on the weight values. The architecture is e5-small's (XLM-RoBERTa: 12 layers,
hidden 384, 12 heads, FFN 1536, vocabulary 250,037). Passage lengths follow `H`, the histogram in
16-token bins of the real token counts of every chunk and sentence window of the gazette + laws
sample (10,240 passages; "passage: " prefix included, cut at 512; mean 87, p95 189 tokens), kept in
`bench/data/passage_token_lengths.json` and made with the service's own tokenizer. Batches are
length-sorted as the service's embedders do; each ends with mean pooling, L2 normalisation and a copy
of the vectors back to the host (what a Ray actor returns).
"""
import time

import numpy as np
import torch
from transformers import XLMRobertaConfig as C, XLMRobertaModel as M

H = [23, 248, 1154, 2261, 2536, 1286, 702, 454, 428, 291, 213, 157, 125, 81, 75, 56, 35, 29, 29, 21, 18, 7, 4, 3,
     1, 1, 1, 0, 0, 1, 0, 0]
r = np.random.default_rng(0)
p = np.array(H) / sum(H)
N = 200000
b = r.choice(len(H), N, p=p)
L = np.sort(np.minimum(512, b * 16 + r.integers(1, 17, N)))
c = C(vocab_size=250037, hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536,
      max_position_embeddings=514, type_vocab_size=1)


def run(m, L, B, dt, q=False):
    torch.cuda.synchronize()
    t = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(L), B):
            l = L[s:s + B]
            T = int(l.max())
            ids = torch.randint(5, 250000, (len(l), T), device='cuda')
            mk = (torch.arange(T, device='cuda')[None] < torch.tensor(l, device='cuda')[:, None]).long()
            o = m(input_ids=ids, attention_mask=mk).last_hidden_state
            w = mk.unsqueeze(-1).to(o.dtype)
            v = torch.nn.functional.normalize(((o * w).sum(1) / w.sum(1)).float(), dim=-1).cpu()  # noqa: F841
    torch.cuda.synchronize()
    d = time.perf_counter() - t
    if not q:
        print(str(dt), 'batch', B, 'n', len(L), round(d, 2), 's', round(len(L) / d), 'passages/s',
              round(int(L.sum()) / d), 'tokens/s', flush=True)


for dt, Bs in ((torch.float16, (256, 1024)), (torch.bfloat16, (1024,)), (torch.float32, (256,))):
    m = M(c, add_pooling_layer=False).to('cuda', dtype=dt).eval()
    run(m, L[:20000], 256, dt, True)  # warm-up: kernels, allocator
    for B in Bs:
        run(m, L, B, dt)
    del m
    torch.cuda.empty_cache()
print(torch.cuda.get_device_name(0), torch.__version__, 'mean tokens', L.mean(), 'p95', np.percentile(L, 95))
