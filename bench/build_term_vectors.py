"""Embed an index's vocabulary for the colloquial → official map (qa/bridge.py) into a folder of its own.

    python bench/build_term_vectors.py --index /tmp/idx-laws --out /tmp/bridge-tv/laws

What `qa index` would store beside the build if the map were switched on; the bench keeps it outside the
ready-made indexes (they are read-only here). Prints the count and the time it took (the index-time cost).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.bridge import NeighbourMap, embed_words, static_vectors  # noqa: E402
from qa.embedders import make_embedder  # noqa: E402
from qa.expansion import TermScores  # noqa: E402
from qa.settings import get_settings  # noqa: E402
from qa.store import load_index  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--kind", choices=("static", "encoder"), default="static",
                    help="static: e5's input embedding rows (no encoder run); encoder: the whole model")
    args = ap.parse_args()
    s = get_settings()
    embedder = make_embedder(s.embedder, s.omp_threads, index_threads=s.index_threads)
    index = load_index(args.index, embedder.id)
    scores = TermScores(index.bm25, len(index.chunks))
    t0 = time.perf_counter()
    if args.kind == "static":
        nmap = NeighbourMap.build(scores, lambda words: static_vectors(embedder, words), kind="static")
    else:
        nmap = NeighbourMap.build(scores, lambda words: embed_words(embedder, words, bulk=True), kind="encoder")
    dt = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    nmap.save(args.out)
    per = dt / max(1, len(nmap.terms)) * 1000
    print(f"{args.index}: {len(nmap.terms)} terms embedded ({args.kind}) in {dt:.1f} s ({per:.2f} ms each)")


if __name__ == "__main__":
    main()
