"""The vocabulary bridge, option by option: retrieval quality on every question set and its latency.

    python bench/eval_bridge.py --index /tmp/bridge-laws \\
        --set own=bench/data/paraphrase-own.jsonl --set dev=../shared/eval/dev.jsonl \\
        --set laws=../shared/eval/laws-dev.jsonl [--variants base,thes0.5,prf0.3,...]

Variants (built on `qa.retrieval.HybridRetriever`, one index loaded once):

- `base`            the service as shipped before the bridge
- `thesN`           同义词词林 synonyms of the question's words, weight N (qa/expansion.py)
- `prfN`            pseudo-relevance feedback from the first pass's top 5 passages, weight N
- `thesN+prfM`      both

A set whose lines carry `"split": "tune"` / `"heldout"` (bench/data/paraphrase-own.jsonl) is reported
per split: weights are chosen on `tune` only, `heldout` and the shared dev sets are for the report.
Per set: evidence hit@1 / hit@5 (as shared/eval/score.py counts them) overall and for the
paraphrase questions; per variant the mean search time with query vectors cached (the bridge's own
cost, without the embedder's) — every variant is timed in the same run, interleaved per question.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from pathlib import Path

from qa.embedders import make_embedder
from qa.retrieval import HybridRetriever
from qa.settings import get_settings
from qa.store import load_index

_WS = re.compile(r"\s+")
_VARIANT = re.compile(r"(thes|prf)([0-9.]+)")


def norm(s: str) -> str:
    return _WS.sub("", s)


def make(index, embedder, spec: str) -> HybridRetriever:
    kw = {"thesaurus_weight": 0.0, "feedback_weight": 0.0}
    if spec != "base":
        for part in spec.split("+"):
            m = _VARIANT.fullmatch(part)
            if not m:
                raise SystemExit(f"unknown variant {part!r}")
            kw["thesaurus_weight" if m.group(1) == "thes" else "feedback_weight"] = float(m.group(2))
    return HybridRetriever(index, embedder, **kw)


def rank_of(hits, evidence: list[str]) -> int | None:
    for i, h in enumerate(hits, 1):
        t = norm(h.chunk.text)
        if any(e in t for e in evidence):
            return i
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--set", action="append", required=True, help="NAME=PATH (repeatable)")
    ap.add_argument("--variants", default="base,thes0.3,thes0.5,thes0.8,prf0.3,prf0.6,thes0.5+prf0.3")
    ap.add_argument("--misses", default="", help="print this variant's misses at 5 on the tune split")
    args = ap.parse_args()
    settings = get_settings()
    embedder = make_embedder(settings.embedder, settings.omp_threads)
    index = load_index(args.index or settings.index_dir, embedder.id)
    variants = args.variants.split(",")
    retrievers = {v: make(index, embedder, v) for v in variants}
    sets: dict[str, list[dict]] = {}
    for spec in args.set:
        name, _, path = spec.partition("=")
        qs = [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
        qs = [q for q in qs if q.get("evidence")]
        if any("split" in q for q in qs):
            for split in ("tune", "heldout"):
                sets[f"{name}-{split}"] = [q for q in qs if q.get("split") == split]
        else:
            sets[name] = qs
    for qs in sets.values():  # query vectors once, so the timings below are the retrieval's own
        for q in qs:
            embedder.embed_query(q["question"])
    ranks: dict[tuple[str, str], list[tuple[str, int | None]]] = defaultdict(list)
    seconds: dict[str, float] = defaultdict(float)
    n_queries = 0
    for set_name, qs in sets.items():
        for q in qs:
            ev = [norm(e) for e in q["evidence"]]
            n_queries += 1
            for v in (variants if n_queries % 2 else variants[::-1]):
                t0 = time.perf_counter()
                hits, _ = retrievers[v].search(q["question"], top_k=10)
                seconds[v] += time.perf_counter() - t0
                r = rank_of(hits, ev)
                ranks[(v, set_name)].append((q["type"], r))
                if v == args.misses and set_name.endswith("tune") and (r is None or r > 5):
                    print(f"  miss [{r}] {q['question']} | {q['evidence'][0]} | top: {hits[0].chunk.text[:50]!r}")
    print(f"index {index.version}: {len(index.chunks)} chunks; {n_queries} questions")
    header = "| variant | " + " | ".join(f"{s} @1/@5" for s in sets) + " | paraphrase (dev) @1/@5 | ms/query |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for v in variants:
        cells = []
        for s in sets:
            rs = [r for _, r in ranks[(v, s)]]
            cells.append(f"{_h(rs, 1):.3f} / {_h(rs, 5):.3f}")
        para = [r for s in sets if not s.startswith("own") for t, r in ranks[(v, s)] if t == "paraphrase"]
        cells.append(f"{_h(para, 1):.3f} / {_h(para, 5):.3f}")
        print(f"| {v} | " + " | ".join(cells) + f" | {seconds[v] * 1000 / n_queries:.2f} |")


def _h(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / max(1, len(ranks))


if __name__ == "__main__":
    main()
