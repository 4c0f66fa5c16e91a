"""What a retrieval variant does to the answers: `QAService.ask` on the own questions that have short answers.

    python bench/eval_bridge_answers.py --laws /tmp/idx-laws --govcn /tmp/idx-govcn --variants base,nbr0.5

Per variant and split (fit / held-out) of the everyday-language questions of
`bench/data/questions-own*.jsonl`: answered right (a gold answer string in the answer or its lead units, as
shared/eval/score.py counts it), answered wrong, withheld. The calibrated decision
(qa/answer/calibration.json) stays as fitted; only the retriever changes (its weights, as in
bench/eval_bridge.py).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_bridge import _read, retriever_kwargs  # noqa: E402
from fit_calibration import is_right  # noqa: E402

from qa.bridge import NeighbourMap  # noqa: E402
from qa.embedders import make_embedder  # noqa: E402
from qa.retrieval import HybridRetriever  # noqa: E402
from qa.service import QAService  # noqa: E402
from qa.settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--laws", type=Path, default=Path("/tmp/idx-laws"), help="gazette + laws sample")
    ap.add_argument("--govcn", type=Path, default=Path("/tmp/idx-govcn"))
    ap.add_argument("--variants", default="base,nbr0.5")
    ap.add_argument("--splits", default="fit,heldout")
    ap.add_argument("--embedder", default="e5-onnx", help="QA_EMBEDDER spec the indexes were built with")
    ap.add_argument("--encoder-term-vectors", type=Path, default=Path("/tmp/bridge-tv"),
                    help="as in eval_bridge.py, for variants with /enc (laws/ and govcn/ beneath)")
    args = ap.parse_args()
    embedder = make_embedder(args.embedder)
    services = {}
    for name, path in (("laws", args.laws), ("govcn", args.govcn)):
        svc = QAService(Settings(index_dir=path, embedder=args.embedder), embedder)
        svc.reload()
        services[name] = svc
    qs = [q for f in ("questions-own.jsonl", "questions-own-2.jsonl") for q in _read(ROOT / "bench/data" / f)
          if q.get("answer") and q.get("style") == "everyday" and q["split"] in args.splits.split(",")]
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for v in args.variants.split(","):
        kw, knobs = retriever_kwargs(v)
        encoder = knobs.pop("encoder", False)
        for name, svc in services.items():
            index, _ = svc.state
            r = HybridRetriever(index, embedder, **kw)
            if encoder:
                r.neighbours = NeighbourMap.load(args.encoder_term_vectors / name, r._terms)
            for key, val in knobs.items():
                setattr(r.neighbours, key, val)
            svc._state = (index, r)
        for q in qs:
            svc = services["govcn" if q["corpus"] == "govcn" else "laws"]
            res = svc.ask(q["question"], top_k=5)
            a = res.answer
            kind = "withheld" if a.answer is None else \
                ("right" if is_right(q, a.answer, list(a.lead_units or [])) else "wrong")
            counts[(v, q["split"])][kind] += 1
    print("| variant | split | n | right | wrong | withheld |")
    print("|---|---|---|---|---|---|")
    for (v, split), c in counts.items():
        n = sum(c.values())
        print(f"| {v} | {split} | {n} | {c['right'] / n:.3f} | {c['wrong'] / n:.3f} | {c['withheld'] / n:.3f} |")


if __name__ == "__main__":
    main()
