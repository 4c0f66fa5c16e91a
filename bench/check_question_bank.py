#!/usr/bin/env python3
"""Check the generated question bank against the corpora it was generated from, and print its counts.

For every answerable question: the record has the FORMAT.md fields; 1-3 evidence strings of 8-40
characters, each found (whitespace removed) in the text of some chunk of its corpus, all of them in one
chunk; some answer string occurs in the corpus. For every unanswerable one: no evidence or answer, a
`perturbation`, and its `check` holds: `absent` strings occur in no corpus, `never_together` pairs never
share a chunk, `absent_in_doc` strings do not occur in the named document. The split is by document
(no document in both splits) and every corpus has both splits and both kinds of question.

    python bench/check_question_bank.py [--bank bench/data/question_bank.jsonl] [--shared ../shared]

Exit status 1 when a problem is found (each is printed).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from question_bank import DEFAULT_OUT, DEFAULT_SHARED, AllText, Corpus, load_corpora, norm, perturbation_problems  # noqa: E402

TYPES = {"lead_unit", "detail", "metadata", "paraphrase", "table", "unanswerable"}
ANSWER_TYPES = {"lead_unit", "person", "number", "date", "document", "passage", "yes_no", "none"}
REQUIRED = ("id", "type", "question", "evidence", "answer", "doc", "corpus", "answer_type", "source", "split", "template")


def check(records: list[dict], corpora: dict[str, Corpus]) -> list[str]:
    """Every problem found, one line each (an empty list: the bank is sound)."""
    problems: list[str] = []
    allt = AllText(corpora)
    ids = Counter(r.get("id") for r in records)
    problems += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    questions = Counter(norm(r.get("question", "")) for r in records)
    problems += [f"duplicate question {q}" for q, n in questions.items() if n > 1]
    doc_splits: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        rid = r.get("id")
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            problems.append(f"{rid}: missing fields {missing}")
            continue
        if r["type"] not in TYPES or r["answer_type"] not in ANSWER_TYPES or r["split"] not in ("fit", "heldout"):
            problems.append(f"{rid}: bad type/answer_type/split {r['type']}/{r['answer_type']}/{r['split']}")
        corpus = corpora.get(r["corpus"])
        if corpus is None:
            problems.append(f"{rid}: corpus {r['corpus']} not loaded")
            continue
        doc_splits[(r["corpus"], r["doc"])].add(r["split"])
        if not r["question"].endswith(("？", "?")):
            problems.append(f"{rid}: question does not end with a question mark")
        if r["type"] == "unanswerable":
            if r["evidence"] or r["answer"] or not r.get("perturbation") or "from_id" not in r:
                problems.append(f"{rid}: unanswerable needs empty evidence/answer, a perturbation and from_id")
            problems += [f"{rid}: {p}" for p in perturbation_problems(r.get("check") or {}, corpora, allt)]
            if not r.get("check"):
                problems.append(f"{rid}: no machine check for the perturbation")
            continue
        ev = r["evidence"]
        if not (1 <= len(ev) <= 3) or any(not (8 <= len(e) <= 40) for e in ev):
            problems.append(f"{rid}: evidence must be 1-3 strings of 8-40 characters: {ev}")
        nev = [norm(e) for e in ev]
        holders = [i for i, t in enumerate(corpus.norm_chunks) if all(e in t for e in nev)]
        if not holders:
            lost = [e for e in ev if norm(e) not in corpus.blob]
            problems.append(f"{rid}: evidence not in one chunk" + (f" (not found at all: {lost})" if lost else ""))
        if not r["answer"] or not any(norm(a) and norm(a) in corpus.blob for a in r["answer"]):
            problems.append(f"{rid}: no answer string occurs in the corpus: {r['answer']}")
    for (cname, doc), splits in doc_splits.items():
        if len(splits) > 1:
            problems.append(f"document {cname}:{doc} is in both splits")
    present = Counter((r["corpus"], r["split"], r["type"] == "unanswerable") for r in records if "corpus" in r)
    for cname in corpora:
        for split in ("fit", "heldout"):
            for unans in (False, True):
                if not present[(cname, split, unans)]:
                    kind = "unanswerable" if unans else "answerable"
                    problems.append(f"corpus {cname}: no {kind} question in split {split}")
    return problems


def counts_table(records: list[dict]) -> str:
    """corpus × type × split counts, then answer types and perturbations, as Markdown tables."""
    rows = []
    c = Counter((r["corpus"], r["type"], r["split"]) for r in records)
    corpora = sorted({r["corpus"] for r in records})
    types = sorted({r["type"] for r in records})
    rows.append("| corpus | type | fit | heldout | all |")
    rows.append("|---|---|---:|---:|---:|")
    for cn in corpora:
        for t in types:
            f, h = c[(cn, t, "fit")], c[(cn, t, "heldout")]
            if f or h:
                rows.append(f"| {cn} | {t} | {f} | {h} | {f + h} |")
        tot_f = sum(v for k, v in c.items() if k[0] == cn and k[2] == "fit")
        tot_h = sum(v for k, v in c.items() if k[0] == cn and k[2] == "heldout")
        unans = sum(v for k, v in c.items() if k[0] == cn and k[1] == "unanswerable")
        rows.append(f"| **{cn}** | all (unanswerable {unans / max(1, tot_f + tot_h):.0%}) | {tot_f} | {tot_h} | {tot_f + tot_h} |")
    n_f = sum(1 for r in records if r["split"] == "fit")
    n_u = sum(1 for r in records if r["type"] == "unanswerable")
    rows.append(f"| **all** | all (unanswerable {n_u / max(1, len(records)):.0%}) | {n_f} | {len(records) - n_f} | {len(records)} |")
    rows.append("")
    rows.append("| corpus | answer_type (answerable) | n |")
    rows.append("|---|---|---:|")
    for (cn, at), n in sorted(Counter((r["corpus"], r["answer_type"]) for r in records if r["type"] != "unanswerable").items()):
        rows.append(f"| {cn} | {at} | {n} |")
    rows.append("")
    rows.append("| corpus | perturbation (unanswerable) | n |")
    rows.append("|---|---|---:|")
    for (cn, pt), n in sorted(Counter((r["corpus"], r["perturbation"]) for r in records if r["type"] == "unanswerable").items()):
        rows.append(f"| {cn} | {pt} | {n} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bank", type=Path, default=DEFAULT_OUT, help="the question bank (JSONL)")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder with corpora/ (default ../shared)")
    args = ap.parse_args(argv)
    records = [json.loads(line) for line in args.bank.read_text(encoding="utf-8").splitlines() if line.strip()]
    corpora = load_corpora(args.shared)
    problems = check(records, corpora)
    print(counts_table(records))
    for p in problems:
        print("PROBLEM", p)
    print(f"{len(records)} questions, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
