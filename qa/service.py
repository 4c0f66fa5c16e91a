"""The question-answering service in-process: load the index, search, ask; reload when a new build
is published. The HTTP app and the CLI are thin layers over this.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .answer import Answer, Passage, candidate_features, decide
from .chunking import indexed_body
from .embedders import Embedder, make_embedder
from .indexer import BuildReport, build_index
from .model import Chunk, Document
from .readers import DocumentBudget
from .retrieval import Hit, HybridRetriever, QueryAnalysis
from .settings import Settings
from .store import LoadedIndex, Store, open_store

log = logging.getLogger(__name__)

RELOAD_CHECK_SECONDS = 1.0


class QueryError(ValueError):
    """A query the service will not run (empty, too long, top_k out of range, unknown document)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    analysis: QueryAnalysis
    took_ms: float


@dataclass
class AskResult:
    question: str
    answer: Answer
    hits: list[Hit]
    took_ms: float


class QAService:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()  # one build at a time; searches go on meanwhile
        self._checked_at = 0.0
        self._state: tuple[LoadedIndex, HybridRetriever] | None = None
        self._version: str | None = None  # the store's version of the state above
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        """Where the index lives (`QA_STORE`: the index folder, or a Milvus collection)."""
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    # -- lifecycle -------------------------------------------------------------------------------------

    @property
    def budget(self) -> DocumentBudget:
        """What one document may cost to read (QA_MAX_DOC_CHARS, …)."""
        return DocumentBudget.from_settings(self.settings)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings.embedder, self.settings.omp_threads,
                                           self.settings.index_threads)
        return self._embedder

    def passage_embedder(self, ray_address: str | None = None) -> Embedder:
        """The embedder for bulk passages: this process's, or Ray's (`qa index --ray`), which embeds
        the same passages into the same vectors on an actor pool."""
        if not ray_address:
            return self.embedder
        from .ray_embed import RayEmbedder

        return RayEmbedder(self.embedder, self.settings.embedder, ray_address, actors=self.settings.ray_actors,
                           threads=max(1, self.settings.index_threads // self.settings.ray_actors)
                           if ray_address == "local" else None, gpus_per_actor=self.settings.ray_gpus)

    def build(self, corpus: list[Path] | None = None, progress: bool = True,
              ray_address: str | None = None) -> BuildReport:
        with self._build_lock:
            report = build_index(corpus or [self.settings.corpus_dir], self.settings.index_dir,
                                 self.passage_embedder(ray_address), progress=progress,
                                 vector_index=self.settings.vector_index, store=self.store)
            self.reload(force=True)
        return report

    def ensure_index(self, progress: bool = True) -> None:
        """Build from the corpus folder when there is no index yet (first start), then load."""
        if not self.store.exists():
            log.info("no index in %s: building it from %s", self.store.location, self.settings.corpus_dir)
            self.build(progress=progress)
        self.reload()

    def reload(self, force: bool = False) -> bool:
        """Load the serving build if it changed. Requests in flight keep the state they started with."""
        version = self.store.version()
        with self._lock:
            if not force and self._state is not None and self._version == version:
                return False
            index = self.store.load(self.embedder.id)
            self._state = (index, HybridRetriever(index, self.embedder))
            self._version = version
        log.info("serving index %s (%d documents, %d chunks, embedder %s)", index.version,
                 len(index.documents), len(index.chunks), index.manifest.embedder)
        return True

    @property
    def state(self) -> tuple[LoadedIndex, HybridRetriever]:
        """The serving index; a build published by another process (`qa index` while the server runs)
        is picked up within a second, without a restart and without failing requests in flight."""
        now = time.monotonic()
        if self._state is None or now - self._checked_at > RELOAD_CHECK_SECONDS:
            self._checked_at = now
            try:
                self.reload()
            except Exception:
                if self._state is None:
                    raise
                log.exception("a new index could not be loaded; still serving %s", self._state[0].version)
        assert self._state is not None
        return self._state

    # -- changing the corpus ----------------------------------------------------------------------------

    def add_documents(self, paths: list[Path], progress: bool = False, ray_address: str | None = None) -> BuildReport:
        from .indexer import add_to_index

        with self._build_lock:
            report = add_to_index(paths, self.settings.index_dir, self.passage_embedder(ray_address), progress=progress,
                                  vector_index=self.settings.vector_index, store=self.store)
            self.reload(force=True)
        return report

    def remove_document(self, doc_id: str, progress: bool = False) -> BuildReport:
        from .indexer import remove_from_index

        with self._build_lock:
            report = remove_from_index(doc_id, self.settings.index_dir, self.embedder, progress=progress,
                                       vector_index=self.settings.vector_index, store=self.store)
            self.reload(force=True)
        return report

    @property
    def index(self) -> LoadedIndex:
        return self.state[0]

    # -- queries ---------------------------------------------------------------------------------------

    def check_query(self, query: object, top_k: object, doc: str | None = None) -> tuple[str, int]:
        if not isinstance(query, str) or not query.strip():
            raise QueryError("empty_query", "the query is empty")
        try:  # JSON may carry lone surrogates ("\\ud800"), which no tokenizer takes
            query.encode("utf-8")
        except UnicodeEncodeError:
            raise QueryError("invalid_request", "the query is not valid Unicode text") from None
        if len(query) > self.settings.max_query_chars:
            raise QueryError("query_too_long",
                             f"the query has {len(query)} characters; at most {self.settings.max_query_chars}")
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= self.settings.max_top_k:
            raise QueryError("bad_top_k", f"top_k must be an integer from 1 to {self.settings.max_top_k}")
        if doc is not None and doc not in self.index.documents:
            raise QueryError("unknown_document", f"no document with doc_id {doc!r}; see GET /v1/documents")
        return query.strip(), top_k

    def search(self, query: str, top_k: int = 5, doc: str | None = None,
               filter_expr: str | None = None) -> SearchResult:
        """`filter_expr`: a scalar filter for store-side searches (Milvus; qa.store.milvus_filters)."""
        t0 = time.perf_counter()
        query, top_k = self.check_query(query, top_k, doc)
        _, retriever = self.state
        hits, analysis = retriever.search(query, top_k=top_k, doc=doc, filter_expr=filter_expr)
        return SearchResult(query=query, hits=hits, analysis=analysis, took_ms=(time.perf_counter() - t0) * 1000)

    def document(self, doc_id: str) -> Document | None:
        return self.index.documents.get(doc_id)

    def citation(self, chunk: Chunk) -> dict:
        index, retriever = self.state
        doc = index.documents.get(chunk.doc_id)
        versions = retriever.articles.version_info(chunk.doc_id) or {}
        return {
            "doc_id": chunk.doc_id,
            "doc_title": doc.title if doc else None,
            "doc_number": doc.doc_number if doc else None,
            "issuer": doc.issuer if doc else None,
            "date": doc.date if doc else None,
            "section": chunk.section_path,
            "page": chunk.page,
            "source": doc.source if doc else None,
            "char_start": chunk.char_start,
            "char_end": chunk.char_end,
            "version": versions.get("version"),
            "latest_version": versions.get("latest"),
        }

    def ask(self, question: str, top_k: int = 5) -> "AskResult":
        """Answer from the best passages, or abstain (answer None, type 'none') when they do not
        support one. Citations are the retrieved passages either way, so a person can look."""
        t0 = time.perf_counter()
        question, top_k = self.check_query(question, top_k)
        index, retriever = self.state  # one state for the whole request, even if a new build lands
        hits, analysis = retriever.search(question, top_k=max(top_k, 10))
        candidate = candidate_features(question, _passages(hits, index), hits, analysis, retriever)
        answer = decide(candidate, self.settings.abstain_below)
        # the passages the answer was taken from come first among the citations
        used = [hits[i] for i in answer.support if i < len(hits)]
        rest = [h for h in hits if all(h is not u for u in used)]
        cited = (used + rest)[:top_k]
        answer.support = list(range(len(used)))
        return AskResult(question=question, answer=answer, hits=cited, took_ms=(time.perf_counter() - t0) * 1000)


def _passages(hits: list[Hit], index: LoadedIndex) -> list[Passage]:
    """What the answer extractor reads of each hit: its text and its document's metadata."""
    out = []
    for h in hits:
        doc = index.documents.get(h.chunk.doc_id)
        # a table row's printed copy follows its labelled rendering; the extractor reads the latter
        out.append(Passage(text=indexed_body(h.chunk), score=h.score, section=list(h.chunk.section),
                           doc_title=doc.title if doc else "", doc_number=doc.doc_number if doc else None,
                           issuer=doc.issuer if doc else None, date=doc.date if doc else None,
                           kind=h.chunk.kind))
    return out
