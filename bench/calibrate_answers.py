"""Print, per question of a set, the evidence the abstention decision sees, and the confidence
calibration (accuracy per confidence bin) of /v1/ask answers, in-process.

    python bench/calibrate_answers.py --set ../shared/eval/dev.jsonl [--index index] [--features]
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from qa.service import QAService
from qa.settings import get_settings

_WS = re.compile(r"\s+")


def norm(s: str) -> str:
    return _WS.sub("", s or "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True, type=Path)
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--features", action="store_true", help="print each question's features")
    args = ap.parse_args()
    settings = get_settings()
    if args.index:
        settings = settings.model_copy(update={"index_dir": args.index})
    service = QAService(settings)
    service.reload()
    rows = []
    for line in args.set.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        res = service.ask(q["question"], 10)
        a = res.answer
        gold = [norm(x) for x in q.get("answer") or []]
        cands = [norm(a.answer)] if a.answer else []
        cands += [norm(u) for u in a.lead_units]
        ok = any(g in c for g in gold for c in cands if c) if gold else None
        abstained = a.answer is None
        rows.append((q, a, ok, abstained))
        if args.features:
            f = a.features if isinstance(getattr(a, "features", None), dict) else {}
            mark = "UNANS" if q["type"] == "unanswerable" else ("ok " if ok else "BAD")
            keep = {k: f.get(k) for k in ("intended_type", "clause_overlap", "coverage", "missing", "unseen",
                                          "marker_style", "rank", "span_score") if k in f}
            print(f"{mark} {'ABST' if abstained else '    '} conf={a.confidence:.2f} {a.answer_type:9s} "
                  f"{q['question'][:30]:32s} -> {str(a.answer)[:24]:26s} {keep}")
    answered = [(q, a, ok) for q, a, ok, ab in rows if not ab and q["type"] != "unanswerable" and ok is not None]
    print("\nconfidence calibration on answered, answerable questions (accuracy per bin):")
    for lo, hi in [(0, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)]:
        b = [ok for q, a, ok in answered if lo <= a.confidence < hi]
        if b:
            print(f"  [{lo:.1f}, {min(hi, 1):.1f})  n={len(b):3d}  accuracy {sum(b) / len(b):.2f}")
    una = [ab for q, a, ok, ab in rows if q["type"] == "unanswerable"]
    fa = [ab for q, a, ok, ab in rows if q["type"] != "unanswerable"]
    if una:
        print(f"abstention on unanswerable: {sum(una)}/{len(una)}; false abstention: {sum(fa)}/{len(fa)}")


if __name__ == "__main__":
    main()
