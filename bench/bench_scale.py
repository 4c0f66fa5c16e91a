"""What one million chunks cost: approximate vector search (FAISS IVF / HNSW) and BM25 (bm25s), synthetic.

    python bench/bench_scale.py                       # 1,000,000 chunks, IVF at 1M, HNSW at 200k (~12 min, ~6 GB)
    python bench/bench_scale.py --n 100000            # smaller, ~1 min
    python bench/bench_scale.py --hnsw-n 1000000      # HNSW at full size too (long on 2 cores)
    python bench/bench_scale.py --parts vectors       # or bm25

Synthetic data (seeded, `--seed`):

* vectors: `--n` rows of dimension 384 (multilingual-e5-small's), float32, L2-normalised, drawn around
  `--centroids` (2,000) Gaussian centroids: x = normalise(c_k + σ·g) with σ = `--noise` (0.04 per
  dimension, i.e. a noise vector of norm ≈ 0.78 next to a unit centroid; a point's cosine to its own
  centroid ≈ 0.79, to a random other point of its cluster ≈ 0.62). Queries: `--queries` (200) new
  points from the same distribution (not in the collection).
* token lists: ~40 tokens per chunk (Poisson, at least 5) over a vocabulary of 50,000 terms
  ("w123"), term rank drawn from a Zipf law p(r) ∝ 1/r^`--zipf` (1.0). Queries: 6 tokens from the same
  law. The BM25 index is built exactly as `qa.store.write_build` builds it (`bm25s.BM25().index(list of
  token lists)`), and queried as `qa.retrieval` queries it (`get_scores(tokens)` over every chunk, then
  `argpartition` for the best 100).

Measured:

* exact baseline: `faiss.IndexFlatIP` (what `make_vector_index` uses up to 200k): single-query p50, and
  the ground-truth top 10 of every query.
* approximate: IVF (`--ivf`, default "IVF4096_HNSW32,Flat": 4,096 lists, an HNSW graph over the
  centroids to pick them; k-means on `--train` rows) at the full size, and HNSW32 (efConstruction
  80, as `make_vector_index` builds it) at `--hnsw-n` rows (default min(n, 200,000): a 1M HNSW build is
  too long for this budget on 2 cores; its build time is reported at the size it was built). Each is
  queried one query at a time (the service's pattern) with one FAISS thread, over a sweep of nprobe /
  efSearch: p50/p95 latency and recall@10 against the exact top 10 of the same collection.
* build time (FAISS builds use all cores), RSS delta (VmRSS after − before, the input rows excluded)
  and peak RSS growth (VmHWM, reset before each phase), and the serialised index size.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_latency import loadavg, machine, pct

# -- memory --------------------------------------------------------------------------------------------

def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def rss() -> int:
    return _status("VmRSS")


def trim() -> None:
    """Give freed memory back to the OS (glibc keeps large freed blocks and reuses them, which would
    hide the next index's memory from an RSS delta)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def reset_peak() -> None:
    trim()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak() -> int:
    return _status("VmHWM")


def mib(x: float) -> float:
    return round(x / 2**20, 1)


# -- data ----------------------------------------------------------------------------------------------

def clustered(n: int, dim: int, centroids: np.ndarray, noise: float, rng: np.random.Generator,
              block: int = 100_000) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, block):
        e = min(n, s + block)
        k = rng.integers(0, len(centroids), e - s)
        x = centroids[k] + noise * rng.standard_normal((e - s, dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s:e] = x
    return out


def index_size(index) -> int:
    import faiss

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.faiss")
        faiss.write_index(index, p)
        return os.path.getsize(p)


def time_queries(search, xq: np.ndarray) -> tuple[list[float], np.ndarray]:
    lat, ids = [], []
    for q in xq:
        t = time.perf_counter()
        _, i = search(q[None, :])
        lat.append((time.perf_counter() - t) * 1000)
        ids.append(i[0])
    return lat, np.array(ids)


def recall_at_10(ids: np.ndarray, gt: np.ndarray) -> float:
    return float(np.mean([len(set(a[:10].tolist()) & set(b[:10].tolist())) / 10 for a, b in zip(ids, gt)]))


# -- vectors -------------------------------------------------------------------------------------------

def bench_vectors(args, rng: np.random.Generator) -> dict:
    import faiss

    threads = os.cpu_count() or 1
    dim = args.dim
    t = time.perf_counter()
    centroids = rng.standard_normal((args.centroids, dim), dtype=np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    xb = clustered(args.n, dim, centroids, args.noise, rng)
    xq = clustered(args.queries, dim, centroids, args.noise, rng)
    out: dict = {"n": args.n, "dim": dim, "data_mib": mib(xb.nbytes), "generate_s": round(time.perf_counter() - t, 1)}
    print(f"vectors: generated {args.n}×{dim} in {out['generate_s']} s (load {loadavg()})", flush=True)

    def exact(n: int) -> dict:
        faiss.omp_set_num_threads(threads)
        trim()
        r0 = rss()
        t0 = time.perf_counter()
        flat = faiss.IndexFlatIP(dim)
        flat.add(xb[:n])
        build = time.perf_counter() - t0
        _, gt = flat.search(xq, 10)  # batched: the ground truth
        faiss.omp_set_num_threads(1)
        lat, _ = time_queries(lambda q, index=flat: index.search(q, 10), xq[:args.exact_queries])
        res = {"n": n, "build_s": round(build, 1), "rss_delta_mib": mib(rss() - r0),
               "query_p50_ms": round(pct(lat, 50), 2), "query_p95_ms": round(pct(lat, 95), 2),
               "queries_timed": len(lat), "recall@10": 1.0, "load_avg": loadavg()}
        del flat
        trim()
        return res, gt

    out["exact"], gt = exact(args.n)
    print(f"  exact IndexFlatIP at {args.n}: {out['exact']}", flush=True)

    # IVF at full size
    if "ivf" in args.methods:
        faiss.omp_set_num_threads(threads)
        reset_peak()
        r0, p0 = rss(), peak()
        t0 = time.perf_counter()
        ivf = faiss.index_factory(dim, args.ivf, faiss.METRIC_INNER_PRODUCT)
        train = xb[rng.choice(args.n, min(args.n, args.train), replace=False)]
        ivf.train(train)
        t_train = time.perf_counter() - t0
        ivf.add(xb)
        build = time.perf_counter() - t0
        res = {"factory": args.ivf, "n": args.n, "train_rows": len(train), "train_s": round(t_train, 1),
               "build_s": round(build, 1), "rss_delta_mib": mib(rss() - r0), "peak_growth_mib": mib(peak() - p0),
               "index_mib": mib(index_size(ivf)), "load_avg": loadavg(), "sweep": []}
        del train
        faiss.omp_set_num_threads(1)
        params = faiss.ParameterSpace()
        for nprobe in [int(x) for x in args.nprobe.split(",")]:
            params.set_index_parameter(ivf, "nprobe", nprobe)
            lat, ids = time_queries(lambda q: ivf.search(q, 10), xq)
            row = {"nprobe": nprobe, "p50_ms": round(pct(lat, 50), 3), "p95_ms": round(pct(lat, 95), 3),
                   "recall@10": round(recall_at_10(ids, gt), 4), "load_avg": loadavg()}
            res["sweep"].append(row)
            print(f"  {args.ivf} nprobe={nprobe}: {row}", flush=True)
        out["ivf"] = res
        print(f"  IVF build: { {k: v for k, v in res.items() if k != 'sweep'} }", flush=True)
        del ivf
        trim()

    # HNSW, at hnsw_n
    if "hnsw" in args.methods:
        n_h = min(args.n, args.hnsw_n)
        gt_h = gt
        if n_h != args.n:
            out["exact_hnsw_n"], gt_h = exact(n_h)
        faiss.omp_set_num_threads(threads)
        reset_peak()
        r0, p0 = rss(), peak()
        t0 = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.add(xb[:n_h])
        build = time.perf_counter() - t0
        res = {"factory": "HNSW32 (efConstruction 80)", "n": n_h, "build_s": round(build, 1),
               "rss_delta_mib": mib(rss() - r0), "peak_growth_mib": mib(peak() - p0),
               "index_mib": mib(index_size(hnsw)), "load_avg": loadavg(), "sweep": []}
        faiss.omp_set_num_threads(1)
        for ef in [int(x) for x in args.ef.split(",")]:
            hnsw.hnsw.efSearch = ef
            lat, ids = time_queries(lambda q: hnsw.search(q, 10), xq)
            row = {"efSearch": ef, "p50_ms": round(pct(lat, 50), 3), "p95_ms": round(pct(lat, 95), 3),
                   "recall@10": round(recall_at_10(ids, gt_h), 4), "load_avg": loadavg()}
            res["sweep"].append(row)
            print(f"  HNSW32 at {n_h} efSearch={ef}: {row}", flush=True)
        out["hnsw"] = res
        print(f"  HNSW build: { {k: v for k, v in res.items() if k != 'sweep'} }", flush=True)
        del hnsw
        trim()
    faiss.omp_set_num_threads(threads)
    return out


# -- BM25 ----------------------------------------------------------------------------------------------

def bench_bm25(args, rng: np.random.Generator) -> dict:
    import bm25s

    vocab = [f"w{i}" for i in range(args.vocab)]
    p = 1.0 / np.arange(1, args.vocab + 1) ** args.zipf
    p /= p.sum()
    t = time.perf_counter()
    lengths = np.maximum(5, rng.poisson(args.tokens, args.n))
    ids = rng.choice(args.vocab, size=int(lengths.sum()), p=p)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    trim()
    r_before_tokens = rss()
    token_lists = [[vocab[j] for j in ids[bounds[i]:bounds[i + 1]].tolist()] for i in range(args.n)]
    gen_s = time.perf_counter() - t
    tokens_mib = mib(rss() - r_before_tokens)
    del ids
    print(f"bm25: generated {args.n} token lists ({int(lengths.sum())} tokens) in {gen_s:.1f} s "
          f"(their Python lists: {tokens_mib} MiB) (load {loadavg()})", flush=True)

    reset_peak()
    r0, p0 = rss(), peak()
    t0 = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(token_lists, show_progress=False)
    build = time.perf_counter() - t0
    peak_growth = peak() - p0
    r_idx = rss() - r0  # the index's memory: RSS growth over the build, the input lists still held
    del token_lists
    with tempfile.TemporaryDirectory() as d:
        retriever.save(d, show_progress=False)
        disk = sum(f.stat().st_size for f in Path(d).rglob("*") if f.is_file())
    nnz = len(retriever.scores["data"])
    q_ids = rng.choice(args.vocab, size=(args.queries, args.query_tokens), p=p)
    queries = [[vocab[j] for j in row] for row in q_ids.tolist()]
    retriever.get_scores(queries[0])  # warm-up
    lat = []
    for q in queries:
        t = time.perf_counter()
        s = retriever.get_scores(q)
        k = min(100, len(s))
        np.argpartition(-s, k - 1)[:k]
        lat.append((time.perf_counter() - t) * 1000)
    res = {"n": args.n, "tokens": int(lengths.sum()), "vocab": args.vocab, "zipf": args.zipf, "nnz": nnz,
           "build_s": round(build, 1), "index_rss_mib": mib(r_idx), "peak_growth_mib": mib(peak_growth),
           "disk_mib": mib(disk), "token_lists_mib": tokens_mib, "query_tokens": args.query_tokens,
           "query_p50_ms": round(pct(lat, 50), 2), "query_p95_ms": round(pct(lat, 95), 2), "load_avg": loadavg()}
    print(f"  bm25: {res}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--centroids", type=int, default=2000)
    ap.add_argument("--noise", type=float, default=0.04)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--exact-queries", type=int, default=30, help="single queries timed on the exact index")
    ap.add_argument("--parts", default="vectors,bm25")
    ap.add_argument("--methods", default="ivf,hnsw")
    ap.add_argument("--ivf", default="IVF4096_HNSW32,Flat", help="FAISS factory string of the IVF index")
    ap.add_argument("--train", type=int, default=100_000, help="k-means training rows")
    ap.add_argument("--nprobe", default="8,16,32,64")
    ap.add_argument("--hnsw-n", type=int, default=200_000)
    ap.add_argument("--ef", default="16,32,64,128")
    ap.add_argument("--vocab", type=int, default=50_000)
    ap.add_argument("--zipf", type=float, default=1.0)
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--query-tokens", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    res = {"machine": machine(), "command": " ".join([Path(sys.executable).name] + sys.argv),
           "args": vars(args) | {"out": str(args.out)}, "load_avg_start": loadavg()}
    print(json.dumps(res["machine"]), "load avg", res["load_avg_start"], flush=True)
    if "vectors" in args.parts:
        res["vectors"] = bench_vectors(args, rng)
    if "bm25" in args.parts:
        res["bm25"] = bench_bm25(args, rng)
    res["total_s"] = round(time.perf_counter() - t0, 1)
    res["load_avg_end"] = loadavg()
    print_tables(res)
    if args.out:
        args.out.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")


def print_tables(res: dict) -> None:
    print(f"\nmachine {res['machine']}; load avg {res['load_avg_start']} → {res['load_avg_end']}; total {res['total_s']} s")
    v = res.get("vectors")
    if v:
        print(f"\nvectors: {v['n']}×{v['dim']} float32 ({v['data_mib']} MiB of rows), 200 single queries, 1 FAISS thread")
        print("| index | rows | build s | RSS Δ MiB | peak Δ MiB | index MiB | setting | p50 ms | p95 ms | recall@10 | load avg |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for key in ("exact", "exact_hnsw_n"):
            e = v.get(key)
            if e:
                print(f"| IndexFlatIP (exact) | {e['n']} | {e['build_s']} | {e['rss_delta_mib']} | – | – | – | "
                      f"{e['query_p50_ms']} | {e['query_p95_ms']} | 1.0 | {e['load_avg']} |")
        for key, knob in (("ivf", "nprobe"), ("hnsw", "efSearch")):
            r = v.get(key)
            if not r:
                continue
            for row in r["sweep"]:
                print(f"| {r['factory']} | {r['n']} | {r['build_s']} | {r['rss_delta_mib']} | {r['peak_growth_mib']} | "
                      f"{r['index_mib']} | {knob}={row[knob]} | {row['p50_ms']} | {row['p95_ms']} | {row['recall@10']} | "
                      f"{row['load_avg']} |")
    b = res.get("bm25")
    if b:
        print("\n| BM25 (bm25s) | chunks | tokens | nnz | build s | index RSS MiB | peak Δ MiB | disk MiB | "
              "query p50 ms | query p95 ms | load avg |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        print(f"| Zipf {b['zipf']}, vocab {b['vocab']}, {b['query_tokens']}-token queries | {b['n']} | {b['tokens']} | "
              f"{b['nnz']} | {b['build_s']} | {b['index_rss_mib']} | {b['peak_growth_mib']} | {b['disk_mib']} | "
              f"{b['query_p50_ms']} | {b['query_p95_ms']} | {b['load_avg']} |")


if __name__ == "__main__":
    main()
