"""How large a collection milvus-lite (embedded, pure Python) handles: synthetic chunks at growing sizes.

    python bench/bench_milvus_scale.py --sizes 10000,50000,100000,250000 --budget-s 1800 --out scale.json

Each size runs in its own process on its own milvus-lite data folder (hosted in that process, as a local
`QA_MILVUS_URI` path is) and builds one collection with the Milvus store's own schema and indexes
(`MilvusStore._create`: FLAT COSINE on 384-dim vectors, SPARSE_INVERTED_INDEX IP): random unit
vectors; sparse BM25-style vectors of ~30 terms drawn from a Zipf law over 200k terms (the shape of
jieba tokens); a 600-byte JSON payload per row (a chunk's JSON is 0.5–3 KB); doc ids of 50 chunks each.
It times the inserts (batches of 256 rows, as a build inserts them), the flush, a reload of the collection in
a fresh process (what a restarted server pays), and the queries one search makes: dense top-100 on
chunks, sparse top-100, and a dense top-100 filtered to one document; with the process's peak RSS and
the folder's size on disk. Sizes run in order until the time budget is spent: the last size that
finished within it is the largest milvus-lite handled here.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DIM = 384
VOCAB = 200_000


def _rows(start: int, n: int, rng: np.random.Generator, unit: list[float]):
    vec = rng.standard_normal((n, DIM)).astype(np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    terms = rng.zipf(1.3, size=(n, 30)) % VOCAB
    payload = json.dumps({"text": "示" * 180, "section": ["第一章", "第一条"]}, ensure_ascii=False)
    for i in range(n):
        seq = start + i
        sparse = {int(t): float(w) for t, w in zip(terms[i], rng.random(30) * 0.6 + 0.1)}
        yield {"pk": f"c{seq}", "row": "chunk", "seq": seq, "gen": 0, "doc_id": f"doc-{seq // 50}",
               "issuer": "青铜峡市人民政府", "date": 20210000 + seq % 1231, "source": f"s{seq // 500}.txt",
               "kind": "paragraph", "name": "", "dense": vec[i].tolist(), "sparse": sparse, "data": payload}


def one_size(n: int, folder: Path) -> dict:
    """Build, flush and query a collection of `n` synthetic chunks in `folder` (this process hosts it)."""
    sys.path.insert(0, str(ROOT))
    from qa.store.milvus import BATCH_ROWS, MilvusStore

    store = MilvusStore(folder, str(folder / "lite.db"), alias="scale")
    coll = "scale__synthetic"
    store._create(coll, DIM, n)
    client = store.conn.client
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    done = 0
    while done < n:
        step = min(50_000, n - done)
        batch: list[dict] = []
        for row in _rows(done, step, rng, []):
            batch.append(row)
            if len(batch) == BATCH_ROWS:
                client.insert(coll, batch)
                batch = []
        if batch:
            client.insert(coll, batch)
        done += step
    t_insert = time.perf_counter() - t0
    t1 = time.perf_counter()
    client.flush(coll)
    t_flush = time.perf_counter() - t1
    res = {"n": n, "insert_s": round(t_insert, 1), "rows_per_s": round(n / t_insert), "flush_s": round(t_flush, 1)}
    res.update(_queries(client, coll, rng))
    res["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return res


def _queries(client, coll: str, rng: np.random.Generator, n_q: int = 10) -> dict:
    out: dict = {}
    qs = rng.standard_normal((n_q, DIM)).astype(np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    sparse = [{int(t): 2.0 for t in rng.zipf(1.3, size=6) % VOCAB} for _ in range(n_q)]
    cases = {
        "dense_top100_ms": lambda i: client.search(coll, [qs[i].tolist()], anns_field="dense", limit=100,
                                                   filter='row == "chunk"', output_fields=["seq", "row"],
                                                   search_params={"metric_type": "COSINE"}),
        "sparse_top100_ms": lambda i: client.search(coll, [sparse[i]], anns_field="sparse", limit=100,
                                                    filter='row == "chunk"', output_fields=["seq", "row"],
                                                    search_params={"metric_type": "IP"}),
        "dense_one_doc_ms": lambda i: client.search(coll, [qs[i].tolist()], anns_field="dense", limit=100,
                                                    filter=f'row == "chunk" and doc_id == "doc-{i * 7}"',
                                                    output_fields=["seq", "row"],
                                                    search_params={"metric_type": "COSINE"}),
    }
    for name, fn in cases.items():
        fn(0)
        ts = []
        for i in range(n_q):
            t = time.perf_counter()
            fn(i)
            ts.append((time.perf_counter() - t) * 1000)
        out[name] = {"p50": round(float(np.percentile(ts, 50)), 1), "p95": round(float(np.percentile(ts, 95)), 1)}
    return out


def reload_size(folder: Path) -> dict:
    """A fresh process opening the folder and loading the collection (a restarted server)."""
    sys.path.insert(0, str(ROOT))
    from qa.store.milvus import MilvusStore

    t0 = time.perf_counter()
    store = MilvusStore(folder, str(folder / "lite.db"), alias="scale")
    client = store.conn.client
    client.load_collection("scale__synthetic")
    t_load = time.perf_counter() - t0
    out = {"reload_s": round(t_load, 1)}
    out.update({f"after_reload_{k}": v for k, v in _queries(client, "scale__synthetic", np.random.default_rng(1)).items()
                if k == "dense_top100_ms"})
    out["reload_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def _du(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,50000,100000,250000,500000")
    ap.add_argument("--budget-s", type=float, default=1800)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--max-rss-mib", type=float, default=8192,
                    help="stop before a size whose peak memory, extrapolated linearly, would pass this")
    ap.add_argument("--child", nargs=2, metavar=("WHAT", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, n = args.child
        res = one_size(int(n), args.folder) if what == "build" else reload_size(args.folder)
        args.out.write_text(json.dumps(res))
        return
    started = time.monotonic()
    results = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "budget_s": args.budget_s, "sizes": []}
    for n in [int(x) for x in args.sizes.split(",")]:
        if results["sizes"]:
            last = results["sizes"][-1]
            projected = max(last["peak_rss_mib"], last["reload_peak_rss_mib"]) * n / last["n"]
            if projected > args.max_rss_mib:
                results["stopped"] = f"{n} rows would need ~{projected:.0f} MiB (over --max-rss-mib {args.max_rss_mib:.0f})"
                break
        left = args.budget_s - (time.monotonic() - started)
        if left <= 0:
            results["stopped"] = f"budget spent before {n}"
            break
        folder = Path(tempfile.mkdtemp(prefix=f"lite-scale-{n}-"))
        part = folder / "result.json"
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        t0 = time.monotonic()
        print(f"[{time.strftime('%H:%M:%S')}] {n} rows (budget left {left:.0f} s)", flush=True)
        try:
            subprocess.run([sys.executable, __file__, "--child", "build", str(n), "--folder", str(folder),
                            "--out", str(part)], check=True, timeout=left)
        except subprocess.TimeoutExpired:
            results["stopped"] = f"{n} rows did not finish within the budget ({left:.0f} s left)"
            shutil.rmtree(folder, ignore_errors=True)
            break
        res = json.loads(part.read_text())
        res["disk_mib"] = round(_du(folder), 1)
        subprocess.run([sys.executable, __file__, "--child", "reload", str(n), "--folder", str(folder),
                        "--out", str(part)], check=True, timeout=max(60, args.budget_s))
        res.update(json.loads(part.read_text()))
        res["wall_s"] = round(time.monotonic() - t0, 1)
        res["load_avg_before"] = load
        print("  ", res, flush=True)
        results["sizes"].append(res)
        args.out.write_text(json.dumps(results, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
    results["total_s"] = round(time.monotonic() - started, 1)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
