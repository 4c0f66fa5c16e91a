"""Article-number questions generated from an index's own laws, scored with and without the exact lookup.

    python bench/eval_articles.py --index /tmp/bridge-laws [--per-law 4] [--seed 7]

For every law in the index (a document whose passages carry 第X条 section labels, see qa/articles.py)
up to `--per-law` articles are drawn at random (seeded) and asked in rotating forms, with the law's
full title or a short form, Chinese or Arabic numerals, with or without 《》 ("《X》第十九条的内容是什么？",
"X第19条是怎么规定的？", …). The evidence is a verbatim stretch of the article's own text. Reported:
hit@1/hit@5 of the article with the lookup (the service's default) and without it (ranking alone),
and the per-query time of both. The questions are made from the corpus structure only: no dev
question is read.
"""
from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import cn2an

from qa.articles import title_aliases
from qa.embedders import make_embedder
from qa.overlap import norm_text
from qa.retrieval import HybridRetriever
from qa.settings import get_settings
from qa.store import load_index

FORMS = [
    "《{name}》第{cn}条的内容是什么？",
    "{name}第{arabic}条是怎么规定的？",
    "{name}第{cn}条规定了什么",
    "请问《{name}》第{arabic}条说的是什么",
]


def make_questions(retriever: HybridRetriever, per_law: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    cat = retriever.articles
    out = []
    for law in sorted(cat.laws, key=lambda x: x.name):
        doc_id = law.versions[0]
        arts = sorted(cat.articles[doc_id])
        if len(arts) < 5:
            continue
        title = retriever.index.documents[doc_id].title
        names = sorted(title_aliases(title), key=len)
        for k, (number, sub) in enumerate(rng.sample(arts, min(per_law, len(arts)))):
            rows = cat.articles[doc_id][(number, sub)]
            body = norm_text(retriever.index.chunks[rows[0]].text)
            label = f"第{cn2an.an2cn(number)}条" + (f"之{cn2an.an2cn(sub)}" if sub else "")
            pos = body.find(label)
            evidence = body[pos + len(label): pos + len(label) + 24] if pos >= 0 else body[:24]
            if len(evidence) < 8:
                continue
            form = FORMS[(k + len(out)) % len(FORMS)]
            name = names[rng.randrange(len(names))]
            cn = cn2an.an2cn(number) + ("" if not sub else "")
            q = form.format(name=name, cn=cn, arabic=number)
            if sub:
                q = q.replace(f"第{cn}条", f"第{cn}条之{cn2an.an2cn(sub)}").replace(
                    f"第{number}条", f"第{number}条之{cn2an.an2cn(sub)}")
            out.append({"question": q, "evidence": evidence, "doc_id": doc_id})
    return out


def score(retriever: HybridRetriever, questions: list[dict]) -> tuple[float, float, float]:
    h1 = h5 = 0
    t0 = time.perf_counter()
    for q in questions:
        hits, _ = retriever.search(q["question"], top_k=5)
        texts = [norm_text(h.chunk.text) for h in hits]
        if texts and q["evidence"] in texts[0]:
            h1 += 1
        if any(q["evidence"] in t for t in texts):
            h5 += 1
    ms = (time.perf_counter() - t0) * 1000 / max(1, len(questions))
    return h1 / max(1, len(questions)), h5 / max(1, len(questions)), ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--per-law", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--show", type=int, default=0, help="print this many generated questions")
    args = ap.parse_args()
    settings = get_settings()
    embedder = make_embedder(settings.embedder, settings.omp_threads)
    index = load_index(args.index or settings.index_dir, embedder.id)
    with_lookup = HybridRetriever(index, embedder)
    without = HybridRetriever(index, embedder, article_lookup=False)
    questions = make_questions(with_lookup, args.per_law, args.seed)
    for q in questions[: args.show]:
        print("  ", q["question"], "|", q["evidence"])
    print(f"{len(questions)} article-number questions over {len(with_lookup.articles)} laws "
          f"({len(index.chunks)} chunks)")
    # warm the embedder's cache once so both variants pay the same for query vectors
    for q in questions:
        embedder.embed_query(q["question"])
    for name, r in (("ranking alone", without), ("exact lookup", with_lookup)):
        h1, h5, ms = score(r, questions)
        print(f"{name:<14} hit@1 {h1:.3f}  hit@5 {h5:.3f}  {ms:.2f} ms/query (query vectors cached)")


if __name__ == "__main__":
    main()
