"""The vocabulary bridge, option by option: retrieval quality on every question set and its latency.

    python bench/eval_bridge.py --gazette /tmp/idx-gaz --laws /tmp/idx-laws --govcn /tmp/idx-govcn \\
        [--sets own,dev,laws] [--variants base,thes0.5,prf0.3,nbr0.5,...] [--misses VARIANT]

Question sets (evidence hit@1 / hit@5 as shared/eval/score.py counts them: a returned passage holds a
gold evidence string, whitespace removed):

- `own`: the everyday-language questions written for this repository — `bench/data/paraphrase-own.jsonl`
  (split tune → fit, heldout) and the `style: everyday` questions of `bench/data/questions-own.jsonl` and
  `questions-own-2.jsonl` that have evidence. Gazette and laws questions are asked of the gazette + laws
  index (`--laws`), govcn questions of the State Council pages (`--govcn`). Weights, thresholds and
  rules are chosen on `own-fit` only; `own-heldout` is the report.
- `dev`: `../shared/eval/dev.jsonl` on the gazette index (`--gazette`); `laws`: `../shared/eval/laws-dev.jsonl`
  on the gazette + laws index. Report columns only: run them once per variant, never choose on them.

Variants (each a `qa.retrieval.HybridRetriever` over the same loaded indexes; parts joined by `+`):

- `base`   the service as shipped
- `thesN`  同义词词林 synonyms of the question's words, weight N (qa/expansion.py)
- `prfN`   pseudo-relevance feedback from the first pass's top 5 passages, weight N
- `nbrN`   the corpus-learned colloquial → official map (qa/bridge.py), weight N: static term vectors (e5's
           input embedding table), made when the retriever is built; settings after `/`: `kK` substitutes
           per word, `cX` least cosine, `gG` gate passages (0: no gate), `capfloor` the whole-question bound
           for unseen words, `all` every question word (not only those the corpus lacks), `enc` term vectors
           of the whole encoder (bench/build_term_vectors.py --kind encoder; question words then run the
           encoder at query time)

ms/query: mean `search` time per question with the question's vector cached (the retrieval's and the
bridge's own cost, without the embedder's), every variant timed in the same run, interleaved.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.bridge import NeighbourMap  # noqa: E402
from qa.embedders import make_embedder  # noqa: E402
from qa.retrieval import HybridRetriever  # noqa: E402
from qa.settings import get_settings  # noqa: E402
from qa.store import load_index  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
_WS = re.compile(r"\s+")
_VARIANT = re.compile(r"(thes|prf|nbr)([0-9.]+)")
_KNOB = re.compile(r"(cap|all|enc|k|c|g)([0-9.a-z]*)")
_TV = {"gazette": "gaz", "laws": "laws", "govcn": "govcn"}
_KW = {"thes": "thesaurus_weight", "prf": "feedback_weight", "nbr": "neighbour_weight"}


def norm(s: str) -> str:
    return _WS.sub("", s)


def retriever_kwargs(spec: str) -> tuple[dict, dict]:
    """(HybridRetriever keyword arguments, neighbour-map settings) of a variant such as
    `thes0.5+nbr0.5/k3/c0.9/g20/capown` (after `/`: per_word, min_cos, gate depth, unseen cap, `all` words)."""
    kw = {v: 0.0 for v in _KW.values()}
    knobs: dict = {}
    if spec != "base":
        for part in spec.split("+"):
            head, *rest = part.split("/")
            m = _VARIANT.fullmatch(head)
            if not m:
                raise SystemExit(f"unknown variant {part!r}")
            kw[_KW[m.group(1)]] = float(m.group(2))
            for r in rest:
                k = _KNOB.fullmatch(r)
                if not k:
                    raise SystemExit(f"unknown setting {r!r} in {part!r}")
                name, val = k.groups()
                if name == "k":
                    knobs["per_word"] = int(val)
                elif name == "c":
                    knobs["min_cos"] = float(val)
                elif name == "g":
                    knobs["gate"] = int(val)
                elif name == "cap":
                    knobs["unseen_cap"] = val
                elif name == "enc":
                    knobs["encoder"] = True
                else:
                    knobs["unseen_only"] = False
    return kw, knobs


def rank_of(hits, evidence: list[str]) -> int | None:
    for i, h in enumerate(hits, 1):
        t = norm(h.chunk.text)
        if any(e in t for e in evidence):
            return i
    return None


def _read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def own_questions() -> list[tuple[str, str, dict]]:
    """(split, corpus, question) of the everyday-language own questions with evidence."""
    out = []
    for q in _read(ROOT / "bench" / "data" / "paraphrase-own.jsonl"):
        if q.get("evidence"):
            out.append(("fit" if q["split"] == "tune" else "heldout", "laws", q))
    for name in ("questions-own.jsonl", "questions-own-2.jsonl"):
        for q in _read(ROOT / "bench" / "data" / name):
            if q.get("evidence") and q.get("style") == "everyday":
                out.append((q["split"], "govcn" if q["corpus"] == "govcn" else "laws", q))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gazette", type=Path, default=Path("/tmp/idx-gaz"))
    ap.add_argument("--laws", type=Path, default=Path("/tmp/idx-laws"), help="gazette + laws sample")
    ap.add_argument("--govcn", type=Path, default=Path("/tmp/idx-govcn"))
    ap.add_argument("--sets", default="own",
                    help="own (fit and held-out), own-fit, official, bank, dev, laws (comma-separated)")
    ap.add_argument("--variants", default="base,thes0.5,prf0.3")
    ap.add_argument("--embedder", default=None, help="QA_EMBEDDER spec (default: the setting)")
    ap.add_argument("--misses", default="", help="print this variant's own-fit misses at 5")
    ap.add_argument("--json", type=Path, default=None, help="write every rank here")
    ap.add_argument("--encoder-term-vectors", type=Path, default=Path("/tmp/bridge-tv"),
                    help="folder with gaz/, laws/, govcn/ made by bench/build_term_vectors.py --kind encoder "
                         "(nbr variants with /enc; the static map needs nothing stored)")
    args = ap.parse_args()
    settings = get_settings()
    embedder = make_embedder(args.embedder or settings.embedder, settings.omp_threads)
    variants = args.variants.split(",")
    wanted = set(args.sets.split(","))

    # (set name, index name, question)
    rows: list[tuple[str, str, dict]] = []
    if wanted & {"own", "own-fit"}:  # own-fit alone while choosing: the held-out half stays unseen
        rows += [(f"own-{split}", corpus, q) for split, corpus, q in own_questions()
                 if "own" in wanted or split == "fit"]
    if "official" in wanted:  # the own questions in official wording: a bridge must not cost them anything
        rows += [("official", "govcn" if q["corpus"] == "govcn" else "laws", q)
                 for name in ("questions-own.jsonl", "questions-own-2.jsonl")
                 for q in _read(ROOT / "bench" / "data" / name) if q.get("evidence") and q.get("style") == "official"]
    if "bank" in wanted:  # generated questions (bench/question_bank.py), held-out split: the same check
        rows += [("bank", "govcn" if q["corpus"] == "govcn" else "laws", q)
                 for q in _read(ROOT / "bench" / "data" / "question_bank.jsonl")
                 if q.get("evidence") and q.get("split") == "heldout"]
    if "dev" in wanted:
        rows += [("dev", "gazette", q) for q in _read(SHARED / "dev.jsonl") if q.get("evidence")]
    if "laws" in wanted:
        rows += [("laws", "laws", q) for q in _read(SHARED / "laws-dev.jsonl") if q.get("evidence")]
    paths = {"gazette": args.gazette, "laws": args.laws, "govcn": args.govcn}
    indexes = {name: load_index(paths[name], embedder.id) for name in sorted({r[1] for r in rows})}
    retrievers = {}
    for v in variants:
        kw, knobs = retriever_kwargs(v)
        encoder = knobs.pop("encoder", False)
        for name, idx in indexes.items():
            r = retrievers[(v, name)] = HybridRetriever(idx, embedder, **kw)
            if r.neighbour_weight > 0:
                if encoder:  # whole-encoder term vectors, made by bench/build_term_vectors.py --kind encoder
                    r.neighbours = NeighbourMap.load(args.encoder_term_vectors / _TV[name], r._terms)
                if r.neighbours is None:
                    raise SystemExit(f"no term vectors for {name}")
                for key, val in knobs.items():
                    setattr(r.neighbours, key, val)
    for _, _, q in rows:  # query vectors once, so the timings below are the retrieval's own
        embedder.embed_query(q["question"])

    ranks: dict[tuple[str, str], list[tuple[str, int | None, str]]] = defaultdict(list)
    seconds: dict[str, float] = defaultdict(float)
    for n, (set_name, index_name, q) in enumerate(rows):
        ev = [norm(e) for e in q["evidence"]]
        for v in (variants if n % 2 else variants[::-1]):
            t0 = time.perf_counter()
            hits, _ = retrievers[(v, index_name)].search(q["question"], top_k=10)
            seconds[v] += time.perf_counter() - t0
            r = rank_of(hits, ev)
            ranks[(v, set_name)].append((q["type"], r, q["id"]))
            if v == args.misses and set_name == "own-fit" and (r is None or r > 5):
                print(f"  miss [{r}] {q['question']} | {q['evidence'][0]} | top: {hits[0].chunk.text[:60]!r}")

    print(f"{len(rows)} questions; " + ", ".join(f"{k}: {idx.version} ({len(idx.chunks)} chunks)"
                                                 for k, idx in indexes.items()))
    cols: list[tuple[str, str, object]] = []  # (header, set, type filter)
    set_names = sorted({r[0] for r in rows}, key=["own-fit", "own-heldout", "official", "bank", "dev", "laws"].index)
    for s in set_names:
        n = len(ranks[(variants[0], s)])
        if s in ("dev", "laws"):
            npara = sum(1 for t, _, _ in ranks[(variants[0], s)] if t == "paraphrase")
            cols.append((f"{s} paraphrase ({npara})", s, "paraphrase"))
            cols.append((f"{s} other types ({n - npara})", s, "other"))
        else:
            cols.append((f"{s} ({n})", s, None))
    header = "| variant | " + " | ".join(f"{h} @1/@5" for h, _, _ in cols) + " | ms/query |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for v in variants:
        cells = []
        for _, s, typ in cols:
            rs = [r for t, r, _ in ranks[(v, s)]
                  if typ is None or (t == typ if typ != "other" else t != "paraphrase")]
            cells.append(f"{_h(rs, 1):.3f} / {_h(rs, 5):.3f}")
        print(f"| {v} | " + " | ".join(cells) + f" | {seconds[v] * 1000 / max(1, len(rows)):.2f} |")
    if wanted & {"dev", "laws", "bank"}:
        print("per type, hit@1/@5:")
        for s in ("dev", "laws", "bank"):
            types = sorted({t for t, _, _ in ranks.get((variants[0], s), [])})
            for v in variants:
                cells = []
                for t in types:
                    rs = [r for tt, r, _ in ranks[(v, s)] if tt == t]
                    cells.append(f"{t} {_h(rs, 1):.3f}/{_h(rs, 5):.3f}")
                if cells:
                    print(f"  {s} {v}: " + "  ".join(cells))
    if args.json:
        args.json.write_text(json.dumps({f"{v}|{s}": r for (v, s), r in ranks.items()}, ensure_ascii=False))


def _h(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / max(1, len(ranks))


if __name__ == "__main__":
    main()
