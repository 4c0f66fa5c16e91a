"""A colloquial → official word map learned from the corpus itself: the embedder's neighbours.

A citizen writes 房子, 抽烟, 退钱, 暖气, 小贩; the text says 房屋, 吸烟, 退款, 采暖, 摊贩. Such words mostly never
occur in the corpus, so BM25 gives them nothing, and 同义词词林 (qa/expansion.py) knows only some of them.
The embedder knows more. The map:

- **vectors for the corpus vocabulary** (every index term of two CJK characters or more): by default the
  mean of the term's pieces in e5's input embedding table (`kind="static"`: no encoder run — 0.04 ms a
  term, made when the index is loaded, nothing stored), or the whole encoder on `"query: <term>"`
  (`kind="encoder"`: sharper, but a question word then costs an encoder run, ~4 ms, at query time);
- **the question words it is asked about**: those the corpus never uses (`unseen_only`), the ones BM25
  cannot score, embedded the same way;
- **their substitutes**: the nearest corpus terms (cosine ≥ `min_cos`, at most `per_word`) among the terms
  of the `gate` passages the dense side ranks best for the whole question. Word vectors alone also pair
  words that merely share a character (真名 → 真币, 暖气 → 气阀); the question's meaning, through the dense
  ranking, picks among them. A term in more than `max_df_share` of the passages says nothing and is never
  proposed.

The substitutes enter BM25 through `neighbour_bonus`: for a question word the corpus uses, under
`qa.expansion.expansion_bonus`'s guarantee (a passage with the word itself always scores at least as high
on that word as one holding only a substitute); for a word it never uses (no exact match exists to
protect), as weight × the substitute's own BM25 (tests/test_bridge.py).

Settings were chosen on the fit split of the own everyday questions (bench/eval_bridge.py, BENCHMARKS.md).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .expansion import Expansion, TermScores, expansion_bonus

log = logging.getLogger(__name__)

TERM_VECTORS = "term_vectors.npy"  # float16, one row per line of TERM_LIST (kept outside an index by the bench)
TERM_LIST = "term_vectors.txt"
TERM_KIND = "term_vectors.kind"  # "static" or "encoder"
_WORDLIKE = re.compile(r"[\u3400-\u9fff]{2,}")  # CJK words of two characters or more (no digits, no Latin)
# chosen on own-fit (bench/eval_bridge.py): static vectors are less spread than the encoder's, hence the lower cut
DEFAULTS = {"static": {"min_cos": 0.4}, "encoder": {"min_cos": 0.9}}


def vocabulary(scores: TermScores) -> list[str]:
    """The corpus terms the map may propose, in a stable order."""
    return sorted(t for t in scores.vocab if _WORDLIKE.fullmatch(t))


class NeighbourMap:
    """Corpus terms with their vectors; `expansions` finds substitutes for question words."""

    def __init__(self, terms: list[str], vectors: np.ndarray, scores: TermScores, kind: str = "static",
                 per_word: int = 3, min_cos: float | None = None, gate: int = 20, max_df_share: float = 0.05,
                 unseen_only: bool = True, unseen_cap: str = "own") -> None:
        if len(terms) != len(vectors):
            raise ValueError(f"{len(terms)} terms but {len(vectors)} vectors")
        if kind not in DEFAULTS:
            raise ValueError(f"kind must be one of {sorted(DEFAULTS)}")
        self.terms = terms
        self.vectors = np.asarray(vectors, dtype=np.float16)  # half the memory; cosines in float32
        self.scores = scores
        self.kind = kind
        self.per_word, self.gate, self.max_df_share = per_word, gate, max_df_share
        self.min_cos = DEFAULTS[kind]["min_cos"] if min_cos is None else min_cos
        self.unseen_only, self.unseen_cap = unseen_only, unseen_cap
        col = np.array([scores.vocab[t] for t in terms], dtype=np.int64)
        df = np.diff(scores.indptr)[col] if len(col) else np.zeros(0, np.int64)
        limit = max(1, int(max_df_share * scores.n))
        self._usable = (df > 0) & (df <= limit)
        # passage → map rows of its terms (CSR), for the gate
        from scipy.sparse import csc_matrix

        n_terms = len(scores.indptr) - 1
        keep = scores.indices < scores.n
        m = csc_matrix((keep.astype(np.int8), scores.indices, scores.indptr),
                       shape=(max(scores.n, int(scores.indices.max()) + 1 if len(scores.indices) else 0), n_terms))
        self._passage_terms = m.tocsr()
        self._to_row = np.full(n_terms, -1, dtype=np.int64)
        self._to_row[col] = np.arange(len(col))

    # -- building and storing ----------------------------------------------------------------------------

    @classmethod
    def build(cls, scores: TermScores, embed_many: Callable[[list[str]], np.ndarray], kind: str = "static",
              **kw) -> "NeighbourMap":
        terms = vocabulary(scores)
        vectors = embed_many(terms) if terms else np.zeros((0, 1), np.float32)
        return cls(terms, vectors, scores, kind=kind, **kw)

    @classmethod
    def for_index(cls, index, scores: TermScores, embedder, **kw) -> "NeighbourMap | None":
        """The map of a loaded index: term vectors stored beside the build if there are any, else static
        vectors made now from the embedder's word table; None when neither is possible (an embedder
        other than e5-onnx)."""
        stored = cls.load(Path(index.path), scores, **kw) if getattr(index, "path", None) else None
        if stored is not None:
            return stored
        if static_vectors(embedder, ["测试"]) is None:
            return None
        return cls.build(scores, lambda words: static_vectors(embedder, words), kind="static", **kw)

    def save(self, folder: Path) -> None:
        np.save(folder / TERM_VECTORS, self.vectors.astype(np.float16))
        (folder / TERM_LIST).write_text("\n".join(self.terms), encoding="utf-8")
        (folder / TERM_KIND).write_text(self.kind, encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, scores: TermScores, **kw) -> "NeighbourMap | None":
        if not (folder / TERM_VECTORS).is_file() or not (folder / TERM_LIST).is_file():
            return None
        terms = [t for t in (folder / TERM_LIST).read_text(encoding="utf-8").split("\n") if t]
        if any(t not in scores.vocab for t in terms):
            log.warning("%s does not match this index's vocabulary: no neighbour map", folder / TERM_LIST)
            return None
        kind = (folder / TERM_KIND).read_text(encoding="utf-8").strip() if (folder / TERM_KIND).is_file() \
            else "encoder"
        return cls(terms, np.load(folder / TERM_VECTORS), scores, **{"kind": kind, **kw})

    def word_vectors(self, embedder, words: list[str]) -> np.ndarray:
        """Vectors of question words in the space of the stored term vectors."""
        if self.kind == "static":
            found = static_vectors(embedder, words)
            if found is None:
                raise ValueError("static term vectors need the e5-onnx embedder's word table")
            return found
        return embed_words(embedder, words)

    # -- querying ------------------------------------------------------------------------------------------

    def asked(self, tokens: Iterable[str]) -> list[str]:
        """The question words the map is asked about: word-like, and (`unseen_only`) not in the corpus."""
        return [t for t in dict.fromkeys(tokens)
                if _WORDLIKE.fullmatch(t) and not (self.unseen_only and self.scores.df(t) > 0)]

    def gate_rows(self, passages: np.ndarray) -> np.ndarray:
        """Map rows of the terms that occur in `passages` (chunk rows)."""
        passages = np.asarray(passages, dtype=np.int64)
        passages = passages[(passages >= 0) & (passages < self._passage_terms.shape[0])]
        if not len(passages):
            return np.zeros(0, dtype=np.int64)
        rows = self._to_row[np.unique(self._passage_terms[passages].indices)]
        return rows[rows >= 0]

    def expansions(self, tokens: Iterable[str], embed_many: Callable[[list[str]], np.ndarray], weight: float,
                   gate_passages: np.ndarray | None = None) -> list[Expansion]:
        """Substitutes for the asked question words, one `Expansion` per word that has any.
        `gate_passages`: chunk rows, best first (the dense ranking); None: every term may be proposed."""
        if weight <= 0 or not len(self.terms):
            return []
        tokens = list(tokens)
        words = self.asked(tokens)
        if not words:
            return []
        if gate_passages is not None and self.gate > 0:
            rows = self.gate_rows(np.asarray(gate_passages)[: self.gate])
            rows = rows[self._usable[rows]]
        else:
            rows = np.flatnonzero(self._usable)
        if not len(rows):
            return []
        own = set(tokens)
        q = np.asarray(embed_many(words), dtype=np.float32)
        sims = q @ self.vectors[rows].astype(np.float32).T  # (words, candidate terms)
        out = []
        for w, row in zip(words, sims):
            top = np.argsort(-row, kind="stable")[: self.per_word + len(own)]
            picked = [self.terms[rows[i]] for i in top if row[i] >= self.min_cos and self.terms[rows[i]] not in own]
            if picked[: self.per_word]:
                out.append(Expansion(w, tuple(picked[: self.per_word]), weight))
        return out


def neighbour_bonus(scores: TermScores, query_tokens: Iterable[str], expansions: list[Expansion],
                    unseen_cap: str = "own") -> np.ndarray:
    """Extra BM25 credit from `expansions` (one per question word). A word the corpus uses keeps
    `expansion_bonus`'s bound (never above its own weakest exact match). A word it never uses has no exact
    match to protect: `unseen_cap` "own" gives a passage weight × its best substitute's BM25 (as if the
    question had used that word, weighted); "floor" applies the bound of a whole-question expansion (the
    weakest exact match of any question word; measured worse on own-fit)."""
    query_tokens = list(query_tokens)
    seen = [e for e in expansions if e.source is not None and scores.df(e.source) > 0]
    unseen = [e for e in expansions if not (e.source is not None and scores.df(e.source) > 0)]
    bonus = expansion_bonus(scores, query_tokens, seen)
    if unseen_cap == "floor":
        return bonus + expansion_bonus(scores, query_tokens, unseen)
    for exp in unseen:
        if exp.weight <= 0:
            continue
        sub = np.zeros(scores.n, dtype=np.float32)
        for t in exp.terms:
            docs, vals = scores.term(t)
            if docs.size:
                np.maximum.at(sub, docs, vals)
        bonus += exp.weight * sub
    return bonus


def embed_words(embedder, words: list[str], bulk: bool = False) -> np.ndarray:
    """Query vectors (`"query: <word>"`) of short words through the whole encoder: in batches on the
    ONNX engine's index-time session (`bulk`), else one by one through the embedder's cached `embed_query`."""
    model = getattr(embedder, "_model", None)
    if bulk and hasattr(model, "encode") and hasattr(model, "release_bulk"):
        try:
            return model.encode(list(words), "query", batch_size=64, bulk=True)
        finally:
            model.release_bulk()
    return np.stack([embedder.embed_query(w) for w in words]) if words else np.zeros((0, embedder.dim), np.float32)


def static_vectors(embedder, words: list[str]) -> np.ndarray | None:
    """Words as the mean of their pieces' rows in e5's input embedding table (no encoder run), L2-normalised;
    None when the embedder is not the ONNX export (no table to read)."""
    model = getattr(embedder, "_model", None)
    table = getattr(model, "_words", None)
    tokenizer = getattr(model, "tokenizer", None)
    if table is None or tokenizer is None:
        return None
    out = np.zeros((len(words), table.dim), dtype=np.float32)
    space = _space_piece(tokenizer)
    for i, ids in enumerate(tokenizer.encode_batch(list(words))):
        ids = np.asarray(ids[1:-1], dtype=np.int64)  # without <s> and </s>
        if len(ids) > 1:
            ids = ids[ids != space]  # the word-start marker "▁" alone carries no meaning
        if len(ids):
            v = table[ids].mean(axis=0)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out


def _space_piece(tokenizer) -> int:
    ids = getattr(tokenizer, "_ids", None)  # qa.unigram's piece → id
    if ids is not None:
        return int(ids.get("\u2581", -1))
    tok = getattr(tokenizer, "tokenizer", None)  # a tokenizers.Tokenizer (exports of format 1)
    found = tok.token_to_id("\u2581") if tok is not None else None
    return -1 if found is None else int(found)
