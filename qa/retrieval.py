"""Hybrid retrieval: BM25 over jieba tokens and dense vectors from FAISS, fused by normalised scores.

Why not reciprocal-rank fusion: on this corpus RRF of fixed chunks was measured worse than BM25 alone
on lead-unit, figure and document questions (exact names and numbers, where BM25 is sharp) and better
only on paraphrases. Ranks throw away how far ahead the best lexical match is. Here each list is
normalised by its own best score over the candidate pool (BM25 divided by its maximum; cosine
min–max scaled over the pool), and combined with a lexical weight; the candidate pool is the union of
both top-`depth` lists, so a passage that only the dense side finds can still win on a paraphrase.
The weights were measured, not assumed: see bench/eval_retrieval.py and the README.

A long chunk's cosine is moved half way toward its best sentence window's when that is higher
(`WINDOW_MIX`): the sentence that answers counts, and so does the passage around it.

Where the candidates come from depends on the store: the files store's BM25 (bm25s) and vectors
(FAISS, raw rows) are in memory and scored here; a Milvus build (`index.search`) hands over the same
candidates — BM25 top-N, dense top-N, each candidate's exact BM25 score and blended cosine — and
everything after that (normalisation, fusion, priors, clause re-ranking, answers) is the same code.
`search(..., filter_expr=…)` scopes a Milvus search by scalar fields (qa.store.milvus_filters).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from .articles import ArticleCatalog
from .bridge import NeighbourMap, neighbour_bonus
from .chunking import indexed_body, sentence_windows
from .embedders import Embedder
from .expansion import TermScores, expansion_bonus, feedback_expansion, thesaurus_expansions
from .filters import SearchFilter
from .model import Chunk
from .overlap import bigrams, clause_overlap, norm_text
from .store import LoadedIndex

log = logging.getLogger(__name__)

LEXICAL_WEIGHT = 0.5
CANDIDATE_DEPTH = 100
FRONT_MATTER_PRIOR = 0.6
CLAUSE_WEIGHT = 0.3
RERANK_DEPTH = 30
WINDOW_MIX = 0.5  # 0 = whole-passage cosine only, 1 = the best window's alone (measured worse on dev)
# the vocabulary bridge (qa/expansion.py); 0 = off. Measured in bench/eval_bridge.py, see BENCHMARKS.md
THESAURUS_WEIGHT = 0.0
FEEDBACK_WEIGHT = 0.0
FEEDBACK_DEPTH = 5
NEIGHBOUR_WEIGHT = 0.5  # the corpus-learned colloquial → official map (qa/bridge.py): held-out hit@1 +0.05
OUTSIDE_NAMED_DOC = 0.85  # score factor for passages outside a document the question names
TITLE_MATCH = 0.5  # share of a title's character pairs a question must hold to name it
# words every title has: they do not name one document
_TITLE_NOISE = re.compile(r"关于|印发|的通知|通知|实施方案|方案|工作|要点|计划|青铜峡市|青铜峡|\d{4}年?")


@dataclass
class Hit:
    chunk: Chunk
    score: float  # fused, in [0, 1]
    lexical: float  # raw BM25 score
    dense: float  # cosine similarity, with its best window's blended in (0 when there is no dense index)
    lexical_norm: float
    dense_norm: float
    match: str | None = None  # "article": found by the article the question names, not by ranking


@dataclass
class QueryAnalysis:
    """What the query looked like to the lexical side (used to judge whether the corpus answers)."""

    tokens: list[str]
    known_tokens: list[str]  # tokens that occur in the corpus vocabulary
    idf: dict[str, float]
    vector: "np.ndarray | None" = None  # the query's embedding, once the dense side has computed it


class HybridRetriever:
    def __init__(self, index: LoadedIndex, embedder: Embedder | None,
                 lexical_weight: float = LEXICAL_WEIGHT, depth: int = CANDIDATE_DEPTH,
                 clause_weight: float = CLAUSE_WEIGHT, rerank_depth: int = RERANK_DEPTH,
                 window_mix: float = WINDOW_MIX, article_lookup: bool = True,
                 thesaurus_weight: float = THESAURUS_WEIGHT, feedback_weight: float = FEEDBACK_WEIGHT,
                 feedback_depth: int = FEEDBACK_DEPTH, neighbour_weight: float = NEIGHBOUR_WEIGHT) -> None:
        self.index = index
        self.remote = index.search  # a store-side searcher (Milvus), None for the files store
        has_dense = index.vectors is not None or (self.remote is not None and self.remote.dense)
        self.embedder = embedder if has_dense else None
        self.lexical_weight = lexical_weight if self.embedder is not None else 1.0
        self.depth = depth
        self.clause_weight = clause_weight
        self.rerank_depth = rerank_depth
        self.window_mix = window_mix
        self.article_lookup = article_lookup
        self.thesaurus_weight = thesaurus_weight
        self.feedback_weight = feedback_weight
        self.feedback_depth = feedback_depth
        self.neighbour_weight = neighbour_weight
        self.neighbours: NeighbourMap | None = None  # loaded below with the index's term vectors
        self._windows = None
        self._row_of: dict[int, int] | None = None  # chunk_id → row, made when first needed
        if self.embedder is not None and index.window_vectors is not None and len(index.window_vectors) \
                and window_mix > 0:
            self._windows = index.window_vectors
            # windows are stored in chunk order, so each chunk's windows are one run of rows
            self._window_chunks, self._window_starts = np.unique(np.asarray(index.window_owner), return_index=True)
            self._window_ends = np.append(self._window_starts[1:], len(index.window_owner))
        self._doc_of = np.array([c.doc_id for c in index.chunks])
        # each chunk's document as a small integer: a filter's mask is one gather, also at 1M chunks
        self._doc_ids = list(index.documents)
        code = {doc_id: i for i, doc_id in enumerate(self._doc_ids)}
        self._doc_code = np.array([code.get(c.doc_id, -1) for c in index.chunks], dtype=np.int64)
        if self.remote is not None:
            # the store keeps the vocabulary and document frequencies (IDF is applied query-side)
            self._vocab = self.remote.vocab
            self._idf = self.remote.idf
            self._terms = None
            if thesaurus_weight > 0 or feedback_weight > 0:
                log.warning("the vocabulary bridge (thesaurus/feedback expansion) needs the files store's BM25 "
                            "matrix; it is off on %s", index.store)
                self.thesaurus_weight = self.feedback_weight = 0.0
            if self.neighbour_weight > 0:  # on by default: say it once, quietly
                log.info("the word map (colloquial → corpus terms) needs the files store's BM25 matrix; off on %s",
                         index.store)
                self.neighbour_weight = 0.0
        else:
            vocab = index.bm25.vocab_dict or {}
            self._vocab = vocab
            self._terms = TermScores(index.bm25, len(index.chunks))
            if self.neighbour_weight > 0 and self.embedder is not None and index.bm25 is not None:
                self.neighbours = NeighbourMap.for_index(index, self._terms, self.embedder)
            n_docs = max(1, len(index.chunks))
            # document frequency per term from the CSC matrix: column lengths
            indptr = np.asarray(index.bm25.scores["indptr"])
            df = np.diff(indptr)
            self._idf = {t: float(np.log(1 + (n_docs - df[i] + 0.5) / (df[i] + 0.5))) for t, i in vocab.items()
                         if i < len(df)}
        # the table of contents repeats every title and 文号: it should not outrank the documents
        self._prior = np.array([FRONT_MATTER_PRIOR if c.kind == "front_matter" else 1.0 for c in index.chunks],
                               dtype=np.float32)
        self._title_grams = {d.doc_id: bigrams(_TITLE_NOISE.sub("", d.title)) for d in index.documents.values()}
        # per-document things `named_documents` needs, computed once instead of on every query
        self._doc_numbers = [(d.doc_id, norm_text(d.doc_number)) for d in index.documents.values() if d.doc_number]
        self._title_gram_list = [(doc_id, grams) for doc_id, grams in self._title_grams.items() if grams]
        # laws by name and their articles by number: "《X法》第十九条" is looked up, not ranked
        self.articles = ArticleCatalog(index.documents, index.chunks)
        self._exact = index.vectors is not None and index.manifest.vector_index == "flat" and \
            index.raw_vectors is not None

    def _embed_words(self, words: list[str]) -> np.ndarray:
        return self.neighbours.word_vectors(self.embedder, words)

    def named_documents(self, query: str) -> set[str]:
        """Documents the query names: by 文号, else by a law's name (full or short: 劳动合同法 for
        中华人民共和国劳动合同法; every version of it), else by most of a title's characters pairs."""
        q = norm_text(query)
        laws = self.articles.named_laws(query)
        if len(laws) == 1:
            return set(laws[0].versions)
        by_number = {doc_id for doc_id, number in self._doc_numbers if number in q}
        if by_number:
            return by_number
        if laws:
            return set()  # several laws named: none of them is the one scope
        q_grams = bigrams(q)
        best, best_score = set(), 0.0
        for doc_id, t_grams in self._title_gram_list:
            score = len(t_grams & q_grams) / len(t_grams)
            if score > best_score + 1e-9:
                best, best_score = {doc_id}, score
            elif abs(score - best_score) <= 1e-9:
                best.add(doc_id)
        return best if best_score >= TITLE_MATCH and len(best) == 1 else set()

    def _without_title_words(self, analysis: QueryAnalysis, scoped: set[str]) -> QueryAnalysis:
        """Once a question has named its document, the words that named it no longer tell that
        document's passages apart (they would favour the title heading); rank on the rest."""
        if len(scoped) != 1:
            return analysis
        title = norm_text(self.index.documents[next(iter(scoped))].title)
        rest = [t for t in analysis.known_tokens if t not in title]
        if not rest:
            return analysis
        return QueryAnalysis(tokens=analysis.tokens, known_tokens=rest, idf=analysis.idf)

    # -- the two sides ---------------------------------------------------------------------------------

    def analyse(self, query: str) -> QueryAnalysis:
        tokens = self.index.segmenter.tokenize(query)
        known = [t for t in tokens if t in self._vocab]
        return QueryAnalysis(tokens=tokens, known_tokens=known, idf={t: self._idf.get(t, 0.0) for t in known})

    def lexical_scores(self, analysis: QueryAnalysis) -> np.ndarray:
        n = len(self.index.chunks)
        if not analysis.known_tokens:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self.index.bm25.get_scores(analysis.known_tokens), dtype=np.float32)[:n]

    def cosines(self, q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine of query vector `q` with every chunk (or the chunks in `rows`), each long chunk's
        moved toward its best sentence window's by `window_mix` where the window is closer."""
        if rows is None:
            sims = np.asarray(self.index.raw_vectors) @ q
            if self._windows is None:
                return sims
            best = np.maximum.reduceat(np.asarray(self._windows) @ q, self._window_starts)
            sims[self._window_chunks] = self._blend(sims[self._window_chunks], best)
            return sims
        sims = np.asarray(self.index.raw_vectors[rows]) @ q
        if self._windows is None:
            return sims
        pos = np.searchsorted(self._window_chunks, rows)
        has = (pos < len(self._window_chunks)) & (self._window_chunks[np.minimum(pos, len(self._window_chunks) - 1)] == rows)
        if has.any():
            starts, ends = self._window_starts[pos[has]], self._window_ends[pos[has]]
            window_rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
            offsets = np.concatenate([[0], np.cumsum(ends - starts)[:-1]])
            best = np.maximum.reduceat(np.asarray(self._windows[window_rows]) @ q, offsets)
            sims[has] = self._blend(sims[has], best)
        return sims

    def window_cosines(self, chunk: Chunk, q: np.ndarray | None) -> list[tuple[str, float]]:
        """(text, cosine with query vector `q`) of each sentence window of `chunk`, in order; [] when
        it has none (a short chunk) or the windows are not in memory. The answer layer reads them to
        find the sentence a question in other words is about."""
        if self._windows is None or q is None:
            return []
        if self._row_of is None:
            self._row_of = {c.chunk_id: i for i, c in enumerate(self.index.chunks)}
        row = self._row_of.get(chunk.chunk_id)
        pos = int(np.searchsorted(self._window_chunks, row)) if row is not None else len(self._window_chunks)
        if pos >= len(self._window_chunks) or self._window_chunks[pos] != row:
            return []
        a, b = int(self._window_starts[pos]), int(self._window_ends[pos])
        texts = sentence_windows(chunk)
        if len(texts) != b - a:
            return []
        sims = np.asarray(self._windows[a:b]) @ q
        return [(t, float(v)) for t, v in zip(texts, sims)]

    def _blend(self, whole: np.ndarray, best_window: np.ndarray) -> np.ndarray:
        return np.where(best_window > whole, whole + self.window_mix * (best_window - whole), whole)

    def dense_candidates(self, q: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(the dense side's best `depth` chunk rows for query vector `q`, every chunk's cosine when it
        was computed for them: exactly, on a flat index or within one document)."""
        if self._exact or mask is not None:
            sims = self.cosines(q)
            ranked = np.where(mask, sims, -np.inf) if mask is not None else sims
            k = min(self.depth, int(np.isfinite(ranked).sum()))
            if k <= 0:
                return np.array([], dtype=np.int64), sims
            return np.argpartition(-ranked, k - 1)[:k], sims
        _, idx = self.index.vectors.search(q[None, :], self.depth)
        return idx[0][idx[0] >= 0].astype(np.int64), None

    def _allowed_docs_expr(self, search_filter: SearchFilter) -> str:
        """A store-side filter for the documents `search_filter` allows (decided here, on the documents'
        metadata, so that both stores read a filter the same way)."""
        from .store.milvus_filters import filter_expr

        docs = self.index.documents
        allowed = [doc_id for doc_id in self._doc_ids if search_filter.allows(docs[doc_id])]
        return filter_expr(doc_ids=allowed) if allowed else 'doc_id == ""'

    def filter_mask(self, search_filter: SearchFilter | None, doc: str | None = None) -> np.ndarray | None:
        """Which chunks may be returned (None: all): those of `doc` and of the documents the filter
        allows. Ranking then happens within them, so a filter never loses a small document's passages."""
        mask = (self._doc_of == doc) if doc is not None else None
        if search_filter is None:
            return mask
        allowed = np.zeros(len(self._doc_ids) + 1, dtype=bool)  # the last slot: chunks of no document
        docs = self.index.documents
        for i, doc_id in enumerate(self._doc_ids):
            allowed[i] = search_filter.allows(docs[doc_id])
        by_filter = allowed[self._doc_code]
        return by_filter if mask is None else (mask & by_filter)

    # -- fusion ------------------------------------------------------------------------------------------

    def search(self, query: str, top_k: int = 5, doc: str | None = None,
               search_filter: SearchFilter | None = None, filter_expr: str | None = None
               ) -> tuple[list[Hit], QueryAnalysis]:
        """The `top_k` best passages for `query`, within document `doc` and the documents
        `search_filter` allows when given. `filter_expr` (a Milvus scalar filter,
        qa.store.milvus_filters.filter_expr) scopes a store-side search; the files store takes none
        (ValueError). On a store-side search a `search_filter` becomes the expression of the documents
        it allows."""
        if self.remote is not None:
            if search_filter is not None:
                expr = self._allowed_docs_expr(search_filter)
                filter_expr = f"({filter_expr}) and ({expr})" if filter_expr else expr
            return self._search_remote(query, top_k, doc, filter_expr)
        if filter_expr is not None:
            raise ValueError("filter expressions need a store-side searcher (QA_STORE=milvus)")
        analysis = self.analyse(query)
        mask = self.filter_mask(search_filter, doc)
        if mask is not None and not mask.any():
            return [], analysis
        scoped = self.named_documents(query) if doc is None else set()
        ranked_on = self._without_title_words(analysis, scoped)
        lex = self.lexical_scores(ranked_on)
        if self.thesaurus_weight > 0:
            # words of the question that the text may say otherwise (同义词词林), never above the word itself
            own = [t for t in ranked_on.tokens if t in ranked_on.known_tokens or t not in analysis.known_tokens]
            lex = lex + expansion_bonus(self._terms, ranked_on.known_tokens,
                                        thesaurus_expansions(own, self._terms, self.thesaurus_weight))
        if mask is not None:
            lex = np.where(mask, lex, 0.0)

        dense_idx = np.array([], dtype=np.int64)
        q = sims = None
        if self.embedder is not None:
            q = self.embedder.embed_query(query).astype(np.float32)
            analysis.vector = q
            dense_idx, sims = self.dense_candidates(q, mask)
        # the articles the question names by number come first, whatever their scores
        pinned = self.articles.lookup(query, default_docs=[doc] if doc is not None else scoped) \
            if self.article_lookup else []
        if mask is not None:
            pinned = [r for r in pinned if mask[r]]

        if self.neighbour_weight > 0 and self.neighbours is not None:
            # question words the corpus never uses, bridged to its nearest terms (qa/bridge.py)
            # its candidates: the terms of the dense side's best passages (faiss returns them ranked)
            gate = dense_idx[np.argsort(-sims[dense_idx])] if sims is not None else dense_idx
            exp = self.neighbours.expansions(analysis.tokens, self._embed_words, self.neighbour_weight, gate)
            bonus = neighbour_bonus(self._terms, ranked_on.known_tokens, exp, self.neighbours.unseen_cap)
            lex = lex + (np.where(mask, bonus, 0.0) if mask is not None else bonus)

        if self.feedback_weight > 0:
            # pseudo-relevance feedback: the words of the first pass's best passages, as a second query
            cand, fused, *_ = self._fuse(query, lex, q, sims, dense_idx, pinned, scoped, clause=False)
            top = cand[np.argsort(-fused, kind="stable")[: self.feedback_depth]]
            lists = [self.index.segmenter.tokenize(indexed_body(self.index.chunks[int(r)])) for r in top]
            exp = feedback_expansion(lists, analysis.tokens, self._idf, self.feedback_weight)
            bonus = expansion_bonus(self._terms, ranked_on.known_tokens, exp)
            lex = lex + (np.where(mask, bonus, 0.0) if mask is not None else bonus)

        cand, fused, lex_c, lex_n, dense_c, dense_n = self._fuse(query, lex, q, sims, dense_idx, pinned, scoped)
        return self._hits(cand, fused, lex_c, lex_n, dense_c, dense_n, pinned, top_k), analysis

    def _search_remote(self, query: str, top_k: int, doc: str | None,
                       filter_expr: str | None) -> tuple[list[Hit], QueryAnalysis]:
        """The same search with the candidates from the store (Milvus): BM25 top-N and dense top-N
        with every candidate's exact scores, then the same fusion and re-ranking as above."""
        from .store.milvus_filters import literal

        analysis = self.analyse(query)
        scoped = self.named_documents(query) if doc is None else set()
        ranked_on = self._without_title_words(analysis, scoped)
        expr = filter_expr
        if doc is not None:
            expr = f"doc_id == {literal(doc)}" + (f" and ({expr})" if expr else "")
        q = self.embedder.embed_query(query).astype(np.float32) if self.embedder is not None else None
        pinned = self.articles.lookup(query, default_docs=[doc] if doc is not None else scoped) \
            if self.article_lookup else []
        if doc is not None:
            pinned = [r for r in pinned if self._doc_of[r] == doc]
        if filter_expr is not None:
            pinned = []  # an article lookup knows nothing of the filter's fields
        cand, lex_c, dense_c = self.remote.candidates(ranked_on.known_tokens, q, self.depth, pinned, expr,
                                                      self.window_mix)
        if cand.size == 0:
            return [], analysis
        fused, lex_n, dense_n = self._score(query, cand, lex_c, dense_c if q is not None else None, scoped)
        if q is None:
            dense_c = np.zeros(len(cand), dtype=np.float32)
        return self._hits(cand, fused, lex_c, lex_n, dense_c, dense_n, pinned, top_k), analysis

    def _hits(self, cand: np.ndarray, fused: np.ndarray, lex_c: np.ndarray, lex_n: np.ndarray,
              dense_c: np.ndarray, dense_n: np.ndarray, pinned: list[int], top_k: int) -> list[Hit]:
        if cand.size == 0:
            return []
        order = np.argsort(-fused, kind="stable")
        pinned_set = set(pinned)
        first = [int(np.searchsorted(cand, r)) for r in pinned]
        if first:
            fused[first] = 1.0  # an exact lookup is as sure as retrieval gets
            order = np.concatenate([np.asarray(first, dtype=np.int64), order[~np.isin(order, first)]])
        hits = [
            Hit(chunk=self.index.chunks[int(cand[i])], score=float(fused[i]), lexical=float(lex_c[i]),
                dense=float(dense_c[i]), lexical_norm=float(lex_n[i]), dense_norm=float(dense_n[i]),
                match="article" if int(cand[i]) in pinned_set else None)
            for i in order[:top_k]
        ]
        return hits

    def _fuse(self, query: str, lex: np.ndarray, q: np.ndarray | None, sims: np.ndarray | None,
              dense_idx: np.ndarray, pinned: list[int], scoped: set[str], clause: bool = True
              ) -> tuple[np.ndarray, ...]:
        """(candidate rows, fused score, raw and normalised lexical, raw and normalised dense), each per
        candidate: the union of both sides' best `depth` and the pinned rows."""
        n_lex = min(self.depth, int((lex > 0).sum()))
        lex_idx = np.argpartition(-lex, n_lex - 1)[:n_lex] if n_lex else np.array([], dtype=np.int64)
        cand = np.union1d(np.union1d(lex_idx, dense_idx), np.asarray(pinned, dtype=np.int64)).astype(np.int64)
        empty = np.zeros(0, dtype=np.float32)
        if cand.size == 0:
            return cand, empty, empty, empty, empty, empty

        lex_c = lex[cand]
        dense_c = None
        if q is not None:
            # exact cosine for every candidate (lexical-only ones too), from the raw rows the index keeps
            dense_c = sims[cand] if sims is not None else self.cosines(q, cand)
        fused, lex_n, dense_n = self._score(query, cand, lex_c, dense_c, scoped, clause)
        if dense_c is None:
            dense_c = np.zeros(len(cand), dtype=np.float32)
        return cand, fused, lex_c, lex_n, dense_c, dense_n

    def _score(self, query: str, cand: np.ndarray, lex_c: np.ndarray, dense_c: np.ndarray | None,
               scoped: set[str], clause: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fused score, normalised BM25, normalised cosine) per candidate: each side normalised over
        the pool, weighted, the priors applied, then the head re-ranked by clause overlap."""
        lex_max = float(lex_c.max()) if lex_c.size else 0.0
        lex_n = lex_c / lex_max if lex_max > 0 else np.zeros_like(lex_c)

        dense_n = np.zeros(len(cand), dtype=np.float32)
        if dense_c is not None:
            lo, hi = float(dense_c.min()), float(dense_c.max())
            dense_n = (dense_c - lo) / (hi - lo) if hi > lo else np.zeros_like(dense_c)

        w = self.lexical_weight
        fused = (w * lex_n + (1 - w) * dense_n) * self._prior[cand]
        if scoped:
            # a question that names a document (by 文号 or title) is about that document
            outside = ~np.isin(self._doc_of[cand], list(scoped))
            fused = np.where(outside, fused * OUTSIDE_NAMED_DOC, fused)
        if clause and self.clause_weight > 0:
            # re-rank the head of the list by how well one clause of the passage covers the question
            head = np.argsort(-fused, kind="stable")[: self.rerank_depth]
            for i in head:
                chunk = self.index.chunks[int(cand[i])]
                fused[i] += self.clause_weight * clause_overlap(query, indexed_body(chunk)) * self._prior[cand[i]]
            fused /= 1 + self.clause_weight
        return fused, lex_n, dense_n
