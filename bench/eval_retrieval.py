"""Measure retrieval variants side by side, in-process, on a question set (FORMAT.md of shared/eval).

    python bench/eval_retrieval.py --set ../shared/eval/dev.jsonl [--index index] [--weights 0,0.5,0.6,1]

For each lexical weight (1 = BM25 only, 0 = dense only) and candidate depth it prints evidence
hit@1/@5 and MRR@10 per question type, computed the way shared/eval/score.py does (a passage is a hit
when it contains a gold evidence string, whitespace removed). It measures; it does not tune anything
by itself.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

from qa.embedders import make_embedder
from qa.retrieval import HybridRetriever
from qa.settings import get_settings
from qa.store import load_index

_WS = re.compile(r"\s+")


def norm(s: str) -> str:
    return _WS.sub("", s)


def first_hit(texts: list[str], evidence: list[str]) -> int | None:
    for i, t in enumerate(texts, 1):
        nt = norm(t)
        if any(e in nt for e in evidence):
            return i
    return None


def evaluate(retriever: HybridRetriever, questions: list[dict]) -> dict[str, dict[str, float]]:
    rows = defaultdict(list)
    for q in questions:
        ev = [norm(e) for e in q.get("evidence") or []]
        if not ev:
            continue
        hits, _ = retriever.search(q["question"], top_k=10)
        rank = first_hit([h.chunk.text for h in hits], ev)
        rows[q["type"]].append(rank)
        rows["OVERALL"].append(rank)
    out = {}
    for t, ranks in rows.items():
        n = len(ranks)
        out[t] = {"n": n,
                  "hit@1": sum(1 for r in ranks if r and r <= 1) / n,
                  "hit@5": sum(1 for r in ranks if r and r <= 5) / n,
                  "mrr@10": sum(1 / r for r in ranks if r) / n}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True, type=Path)
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--weights", default="1,0.8,0.7,0.6,0.5,0.4,0")
    ap.add_argument("--depths", default="100")
    ap.add_argument("--clause", default="0.3", help="clause re-ranking weights to try (0 = off)")
    ap.add_argument("--window-mix", default="0.5", help="sentence-window blends to try (0 = whole chunks only)")
    ap.add_argument("--misses", action="store_true", help="list the questions missed at 5 for the first variant")
    args = ap.parse_args()
    settings = get_settings()
    index_dir = args.index or settings.index_dir
    embedder = make_embedder(settings.embedder, settings.omp_threads)
    index = load_index(index_dir, embedder.id)
    questions = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"index {index.version}: {len(index.documents)} documents, {len(index.chunks)} chunks; "
          f"{len(questions)} questions from {args.set}")
    for depth in [int(d) for d in args.depths.split(",")]:
        for w, cw, wm in [(float(x), float(c), float(m)) for x in args.weights.split(",")
                          for c in args.clause.split(",") for m in args.window_mix.split(",")]:
            r = HybridRetriever(index, embedder, lexical_weight=w, depth=depth, clause_weight=cw, window_mix=wm)
            res = evaluate(r, questions)
            o = res["OVERALL"]
            per_type = "  ".join(f"{t}:{m['hit@1']:.2f}/{m['hit@5']:.2f}" for t, m in sorted(res.items()) if t != "OVERALL")
            print(f"w_lex={w:.2f} clause={cw:.2f} window={wm:.2f} depth={depth:<4} hit@1 {o['hit@1']:.3f} hit@5 {o['hit@5']:.3f} "
                  f"MRR@10 {o['mrr@10']:.3f} | {per_type}")
            if args.misses:
                for q in questions:
                    ev = [norm(e) for e in q.get("evidence") or []]
                    if not ev:
                        continue
                    hits, _ = r.search(q["question"], top_k=10)
                    rank = first_hit([h.chunk.text for h in hits], ev)
                    if rank is None or rank > 1:
                        print(f"   miss@1 rank={rank} [{q['type']}] {q['question']}  | top: {hits[0].chunk.text[:60]!r}")
                args.misses = False


if __name__ == "__main__":
    main()
