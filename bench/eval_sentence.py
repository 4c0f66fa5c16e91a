#!/usr/bin/env python3
"""How much the embedder's closeness to a sentence should count when a passage is answered by its best
sentence (`qa.answer.extract.DENSE_SENTENCE_WEIGHT`).

For each hand-written question (bench/data/questions-own*.jsonl) the passages are retrieved once, then
answered with each weight; an answer is right when a gold answer string is in it (as score.py counts).
The weight is chosen on the fit split; the held-out split is reported for the chosen one.

    python bench/eval_sentence.py --index gazette=/tmp/idx-gaz --index laws=/tmp/idx-laws --index govcn=/tmp/idx-govcn
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import qa.answer.extract as extract  # noqa: E402
from qa.service import QAService, _passages  # noqa: E402
from qa.settings import Settings  # noqa: E402

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8)
OWN = [ROOT / "bench/data/questions-own.jsonl", ROOT / "bench/data/questions-own-2.jsonl"]


def norm(s: str | None) -> str:
    return re.sub(r"\s+", "", s or "")


def right(q: dict, answer) -> bool:
    cands = [norm(answer.answer)] + [norm(u) for u in answer.lead_units]
    return any(norm(g) and norm(g) in c for g in q["answer"] for c in cands if c)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", action="append", required=True, help="CORPUS=INDEX_DIR")
    args = ap.parse_args()
    indexes = dict(spec.split("=", 1) for spec in args.index)
    questions = [json.loads(line) for path in OWN for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    questions = [q for q in questions if q["type"] != "unanswerable" and q["corpus"] in indexes]
    prepared = []
    for corpus, where in indexes.items():
        service = QAService(Settings(index_dir=Path(where)))
        service.reload()
        index, retriever = service.state
        for q in questions:
            if q["corpus"] == corpus:
                hits, analysis = retriever.search(q["question"], top_k=10)
                prepared.append((q, _passages(hits, index, retriever, analysis)))
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for weight in WEIGHTS:
        extract.DENSE_SENTENCE_WEIGHT = weight
        for q, passages in prepared:
            a = extract.answer_question(q["question"], passages)
            for group in ("all", q["type"], f"passage-answer" if a.answer_type == "passage" else "other-answer"):
                c = counts[(weight, q["split"], group)]
                c[0] += right(q, a)
                c[1] += 1
    groups = sorted({k[2] for k in counts})
    for split in ("fit", "heldout"):
        print(f"\n{split} split: share of answers holding a gold answer (n)")
        print("weight  " + "  ".join(f"{g:>16s}" for g in groups))
        for weight in WEIGHTS:
            cells = [counts.get((weight, split, g), [0, 0]) for g in groups]
            print(f"{weight:5.2f}   " + "  ".join(f"{c[0] / c[1]:8.3f} ({c[1]:3d})" if c[1] else " " * 16 for c in cells))


if __name__ == "__main__":
    main()
