"""The question-answering service in-process: load the index, search, ask; reload when a new build
is published. The HTTP app and the CLI are thin layers over this.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .answer import Answer, Passage, candidate_features, decide
from .answer.extract import TOP_K as EXTRACT_DEPTH
from .cancel import CancelToken
from .chunking import indexed_body
from .embedders import Embedder, make_embedder
from .filters import FilterError, SearchFilter
from .indexer import BuildReport, build_index
from .model import Chunk, Document
from .overlap import norm_text
from .readers import DocumentBudget
from .retrieval import Hit, HybridRetriever, QueryAnalysis
from .settings import Settings
from .units import declares_first_listed_lead
from .store import LoadedIndex, Store, open_store
from .tasks import ROLES, TaskQuery, TaskRegistry, UnknownUnit

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
    index_version: str | None = None  # the build that answered (one build for the whole request)
    # that build and its retriever: citations are shaped from it, not from a build published since
    state: "tuple[LoadedIndex, HybridRetriever] | None" = field(default=None, repr=False)


@dataclass
class AskResult:
    question: str
    answer: Answer
    hits: list[Hit]
    took_ms: float
    tasks: list[dict] | None = None  # task_list answers: the tasks, shaped as GET /v1/tasks gives them
    index_version: str | None = None
    state: "tuple[LoadedIndex, HybridRetriever] | None" = field(default=None, repr=False)


MAX_TASKS_LIMIT = 500


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
        self._tasks: tuple[LoadedIndex, TaskRegistry, dict] | None = None  # registry of that index, citations
        self._tasks_lock = threading.Lock()

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

    def _building(self, cancel: CancelToken | None):
        """This service's build lock (one build at a time per process; the store's lock covers other
        processes). Waiting for it is cancellable: an upload whose client left stops queueing."""
        if cancel is not None:
            while not self._build_lock.acquire(timeout=0.25):
                cancel.check()
            return _Held(self._build_lock)
        return self._build_lock

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
              cancel: CancelToken | None = None, ray_address: str | None = None) -> BuildReport:
        with self._building(cancel):
            report = build_index(corpus or [self.settings.corpus_dir], self.settings.index_dir,
                                 self.passage_embedder(ray_address), progress=progress,
                                 vector_index=self.settings.vector_index, store=self.store, cancel=cancel)
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
        release_freed_memory()  # what the build (ours or another process's) and the old index left
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

    def add_documents(self, paths: list[Path], progress: bool = False, cancel: CancelToken | None = None,
                      ray_address: str | None = None) -> BuildReport:
        """Index `paths` beside the serving documents; `cancel` stops it before it publishes (nothing of
        it is then in the index)."""
        from .indexer import add_to_index

        with self._building(cancel):
            report = add_to_index(paths, self.settings.index_dir, self.passage_embedder(ray_address),
                                  progress=progress, vector_index=self.settings.vector_index, store=self.store,
                                  cancel=cancel)
            self.reload(force=True)
        return report

    def remove_document(self, doc_id: str, progress: bool = False, cancel: CancelToken | None = None) -> BuildReport:
        from .indexer import remove_from_index

        with self._building(cancel):
            report = remove_from_index(doc_id, self.settings.index_dir, self.embedder, progress=progress,
                                       vector_index=self.settings.vector_index, store=self.store, cancel=cancel)
            self.reload(force=True)
        return report

    @property
    def index(self) -> LoadedIndex:
        return self.state[0]

    # -- queries ---------------------------------------------------------------------------------------

    def check_filter(self, filters: object) -> SearchFilter | None:
        """The filter of a request (a SearchFilter, a JSON object or None); QueryError names what is
        wrong with it: an unknown key, a malformed date, a doc_id the index does not hold."""
        try:
            search_filter = SearchFilter.parse(filters)  # type: ignore[arg-type]
        except FilterError as e:
            raise QueryError(e.code, e.message) from None
        if search_filter is not None:
            unknown = search_filter.unknown_doc_ids(self.index.documents)
            if unknown:
                raise QueryError("unknown_document", f"filters.doc_ids: no document with doc_id "
                                 f"{', '.join(map(repr, unknown[:5]))}; see GET /v1/documents")
        return search_filter

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
               filters: SearchFilter | dict | None = None, filter_expr: str | None = None) -> SearchResult:
        """The best `top_k` passages, within document `doc` and the documents `filters` allows
        (ranked among those, not filtered after ranking). `filter_expr`: a scalar filter for store-side
        searches (Milvus; qa.store.milvus_filters)."""
        t0 = time.perf_counter()
        query, top_k = self.check_query(query, top_k, doc)
        search_filter = self.check_filter(filters)
        index, retriever = self.state
        hits, analysis = retriever.search(query, top_k=top_k, doc=doc, search_filter=search_filter,
                                          filter_expr=filter_expr)
        return SearchResult(query=query, hits=hits, analysis=analysis, took_ms=(time.perf_counter() - t0) * 1000,
                            index_version=index.version, state=(index, retriever))

    def document(self, doc_id: str) -> Document | None:
        return self.index.documents.get(doc_id)

    def citation(self, chunk: Chunk, state: tuple[LoadedIndex, HybridRetriever] | None = None) -> dict:
        """The citation of `chunk`, from the build it was found in (`state`, a result's), so that a
        build published meanwhile (another document removed) cannot change what a hit says."""
        index, retriever = state or self.state
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

    # -- tasks: who does what --------------------------------------------------------------------------

    def task_registry(self) -> tuple[LoadedIndex, TaskRegistry]:
        """The serving index and its task registry (built once per index from `extras["tasks"]`; an index
        made before the registry existed gets one from its files, read again once)."""
        index = self.index
        current = self._tasks
        if current is not None and current[0] is index:
            return index, current[1]
        with self._tasks_lock:
            if self._tasks is None or self._tasks[0] is not index:
                payload = index.extras.get("tasks")
                if payload is None:
                    payload = self._registry_from_files(index)
                registry = TaskRegistry.from_payload(payload, index.documents.keys())
                self._tasks = (index, registry, {})
            return index, self._tasks[1]

    def _registry_from_files(self, index: LoadedIndex) -> dict:
        from .indexer import task_entries
        from .tasks import registry_payload

        log.info("index %s has no task registry: reading its files for one (rebuild with `qa index` to keep it)",
                 index.version)
        docs = list(index.documents.values())
        return registry_payload(task_entries(docs, {}, index.manifest.corpus, None))

    def check_task_query(self, role: object, limit: object, offset: object) -> tuple[str, int, int]:
        if role not in ROLES:
            raise QueryError("bad_role", f"role must be one of {', '.join(ROLES)}")
        for name, value, low, high in (("limit", limit, 1, MAX_TASKS_LIMIT), ("offset", offset, 0, None)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low or (high and value > high):
                bound = f"from {low} to {high}" if high else f"of at least {low}"
                raise QueryError(f"bad_{name}", f"{name} must be an integer {bound}")
        return role, limit, offset  # type: ignore[return-value]

    def tasks(self, unit: str | None = None, role: str = "any", doc: str | None = None, q: str | None = None,
              limit: int = 100, offset: int = 0) -> TaskQuery:
        """The tasks of a unit in a role (or all tasks), of one document, matching `q`; paged. Raises
        QueryError for bad arguments and qa.tasks.UnknownUnit (with the closest spellings) for a unit no
        document names."""
        role, limit, offset = self.check_task_query(role, limit, offset)
        index, registry = self.task_registry()
        if doc is not None and doc not in index.documents:
            raise QueryError("unknown_document", f"no document with doc_id {doc!r}; see GET /v1/documents")
        try:
            return registry.query(unit=unit, role=role, doc=doc, q=q, limit=limit, offset=offset)
        except UnknownUnit:
            named = self.mentioned_unit(unit or "")
            if named is None:
                raise
            # the documents name it (a town in a list of places, a member's office) but give it no task
            return TaskQuery(unit={"uid": -1, "name": named, "aliases": []}, role=role, total=0, hits=[])

    def mentioned_unit(self, text: str) -> str | None:
        """`text` when it is a unit's name that some passage prints although no marking assigns it work
        ("峡口镇" in a list of villages), else None."""
        from .unit_names import UNIT_END, is_name, spaceless

        name = spaceless(text)
        if not name or not UNIT_END.search(name) or not is_name(name):
            return None
        index = self.index
        return name if any(name in spaceless(c.text) for c in index.chunks) else None

    def units(self) -> list[dict]:
        """Every unit the documents assign work to, with its spellings and task counts."""
        return self.task_registry()[1].units()

    def task_chunks(self, record: dict) -> list[tuple[Chunk, str]]:
        """The passages (chunks) a task is printed in, each with the kind of part ("item", "lines",
        "row", "prose"), in document order; cached per index."""
        index, _ = self.task_registry()
        state = self._tasks
        assert state is not None
        cache = state[2]
        found = cache.get(record["task_id"])
        if found is None:
            by_doc = cache.get(("chunks", record["doc_id"]))
            if by_doc is None:
                by_doc = [c for c in index.chunks if c.doc_id == record["doc_id"] and c.kind != "heading"]
                cache[("chunks", record["doc_id"])] = by_doc
            found, seen = [], set()
            for part in record["parts"]:
                a, b = part["char_start"], part["char_end"]
                over = [c for c in by_doc if c.char_start < b and c.char_end > a]
                # the passage that holds most of the part first; a long item split in pieces may need two
                over.sort(key=lambda c: -(min(b, c.char_end) - max(a, c.char_start)))
                for c in over[:2]:
                    if c.chunk_id not in seen:
                        seen.add(c.chunk_id)
                        found.append((c, part["kind"]))
            found.sort(key=lambda t: t[0].chunk_id)
            cache[record["task_id"]] = found
        return found

    def task_view(self, hit_record: dict, role: str | None) -> dict:
        """A task as the API returns it: units deduplicated by the directory, citations as passages."""
        index, registry = self.task_registry()
        doc = index.documents.get(hit_record["doc_id"])
        citations = [{"rank": i, "text": c.text, "citation": self.citation(c), "chunk_id": c.chunk_id, "kind": kind}
                     for i, (c, kind) in enumerate(self.task_chunks(hit_record), 1)]
        return {
            "task_id": hit_record["task_id"], "title": hit_record["title"], "text": hit_record["text"],
            "lead_units": registry.distinct(hit_record["lead"]),
            "supporting_units": registry.distinct(hit_record["support"], exclude=hit_record["lead"]),
            "deadline": hit_record["deadline"], "role": role, "doc_id": hit_record["doc_id"],
            "doc_title": doc.title if doc else None, "doc_number": doc.doc_number if doc else None,
            "section": hit_record["section"], "citations": citations,
        }

    def _task_answer(self, question: str, top_k: int, t0: float) -> "AskResult | None":
        """A unit → tasks question answered from the registry; None when it is none, or names no known unit."""
        from .answer.analysis import unit_task_question

        asked = unit_task_question(question)
        if asked is None:
            return None
        try:
            result = self.tasks(unit=asked.unit, role=asked.role, limit=MAX_TASKS_LIMIT)
        except UnknownUnit:
            return None  # the pipeline answers (or abstains) as for any other question
        tasks = [self.task_view(h.record, h.role) for h in result.hits]
        name = result.unit["name"] if result.unit else asked.unit
        answer = Answer(answer=task_summary(name, asked.role, tasks), answer_type="task_list",
                        lead_units=[name] if asked.role == "lead" and tasks else [],
                        supporting_units=[name] if asked.role == "support" and tasks else [],
                        confidence=1.0 if tasks else 0.9, support=[],
                        features={"intended_type": "task_list", "unit": name, "role": asked.role})
        hits, seen = [], set()
        for h in result.hits:  # the tasks' passages: the first passage of each task
            for c, _ in self.task_chunks(h.record):
                if c.chunk_id not in seen:
                    seen.add(c.chunk_id)
                    hits.append(Hit(chunk=c, score=1.0, lexical=0.0, dense=0.0, lexical_norm=0.0, dense_norm=0.0))
                break
            if len(hits) >= top_k:
                break
        state = self.state
        return AskResult(question=question, answer=answer, hits=hits, took_ms=(time.perf_counter() - t0) * 1000,
                         tasks=tasks, index_version=state[0].version, state=state)

    def ask(self, question: str, top_k: int = 5, filters: SearchFilter | dict | None = None) -> "AskResult":
        """Answer from the best passages, or abstain (answer None, type 'none') when they do not
        support one. Citations are the retrieved passages either way, so a person can look. A question
        about what a unit does ("水务局牵头哪些工作？") is answered from the task registry. With
        `filters`, only the documents it allows are read (and the registry, which knows no filter, is not)."""
        t0 = time.perf_counter()
        question, top_k = self.check_query(question, top_k)
        search_filter = self.check_filter(filters)
        if search_filter is None:
            listed = self._task_answer(question, top_k, t0)
            if listed is not None:
                return listed
        index, retriever = self.state  # one state for the whole request, even if a new build lands
        hits, analysis = retriever.search(question, top_k=max(top_k, 10), search_filter=search_filter)
        candidate = candidate_features(question, _passages(hits, index, retriever, analysis), hits, analysis, retriever)
        answer = decide(candidate, self.settings.abstain_below)
        # the passages the answer was taken from come first among the citations
        used = [hits[i] for i in answer.support if i < len(hits)]
        if answer.answer_type == "document" and used:
            # a document field (文号, issuer, date) is cited from the document's own header, which
            # retrieval often ranks below the body passages that mention the topic
            header = _header_hit(index, used[0], answer.answer or "")
            if header is not None:
                used = [header]
        rest = [h for h in hits if all(h is not u for u in used)]
        cited = (used + rest)[:top_k]
        answer.support = list(range(len(used)))
        return AskResult(question=question, answer=answer, hits=cited, took_ms=(time.perf_counter() - t0) * 1000,
                         index_version=index.version, state=(index, retriever))


def release_freed_memory() -> None:
    """Give the heap a build freed back to the system. A build allocates hundreds of MB of small
    objects (chunks, tokens, the new index beside the old one) and frees them; glibc keeps freed heap
    mapped, so a server that built once stayed ~100–150 MB above one that did not (bench_memory.py:
    first start 473 → 372 MiB after 50 asks). A few milliseconds, once per new build."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


class _Held:
    """A lock already acquired, released when the `with` block ends."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _header_hit(index: LoadedIndex, used: Hit, answer: str) -> Hit | None:
    """The first passage of the answer's document that prints the answer (its header, for a 文号 or a
    date), as a hit in place of the passage the answer was read from; None when that one is already it
    or no passage prints the answer (an issuer or title taken from metadata: the header then is the
    document's first passage)."""
    doc_id = used.chunk.doc_id
    wanted = norm_text(answer)
    chunks = sorted((c for c in index.chunks if c.doc_id == doc_id), key=lambda c: (c.char_start, c.chunk_id))
    if not chunks or not wanted:
        return None
    printed = [c for c in chunks if wanted in norm_text(c.text)]
    header = printed[0] if printed else chunks[0]
    if printed and used.chunk in printed and printed.index(used.chunk) == 0:
        return None
    if header.chunk_id == used.chunk.chunk_id:
        return None
    return Hit(chunk=header, score=used.score, lexical=0.0, dense=0.0, lexical_norm=0.0, dense_norm=0.0,
               match="document")


def _first_listed_lead_docs(index: LoadedIndex) -> frozenset[str]:
    """Documents that declare "排在第一位的部门为牵头部门" somewhere in their text (computed once per loaded
    index: one pattern search per chunk)."""
    cached = getattr(index, "_first_listed_lead_docs", None)
    if cached is None:
        cached = frozenset(c.doc_id for c in index.chunks if declares_first_listed_lead(c.text))
        index._first_listed_lead_docs = cached
    return cached


def _passages(hits: list[Hit], index: LoadedIndex, retriever: HybridRetriever | None = None,
              query: QueryAnalysis | None = None) -> list[Passage]:
    """What the answer extractor reads of each hit: its text and its document's metadata, and for the
    passages it reads (the first EXTRACT_DEPTH) the cosines of their sentence windows with the question."""
    out = []
    conventions = _first_listed_lead_docs(index)
    vector = query.vector if query is not None else None
    for rank, h in enumerate(hits):
        windows = retriever.window_cosines(h.chunk, vector) if retriever is not None and rank < EXTRACT_DEPTH else []
        doc = index.documents.get(h.chunk.doc_id)
        # a table row's printed copy follows its labelled rendering; the extractor reads the latter
        out.append(Passage(text=indexed_body(h.chunk), score=h.score, section=list(h.chunk.section),
                           doc_title=doc.title if doc else "", doc_number=doc.doc_number if doc else None,
                           issuer=doc.issuer if doc else None, date=doc.date if doc else None,
                           kind=h.chunk.kind, first_listed_leads=h.chunk.doc_id in conventions,
                           dense=h.dense, windows=windows))
    return out


_ROLE_WORDS = {"lead": "牵头", "support": "作为责任或配合单位参与", "any": "牵头或参与"}


def task_summary(unit: str, role: str, tasks: list[dict]) -> str:
    """The one-line answer to a unit → tasks question: "市住建局牵头 12 项任务：实施…；…" (the first titles)."""
    if not tasks:
        return f"文件中没有写明{unit}{_ROLE_WORDS[role]}的任务。"
    if role == "any":
        lead = sum(1 for t in tasks if t.get("role") == "lead")
        head = f"{unit}牵头 {lead} 项、参与 {len(tasks) - lead} 项任务" if lead else f"{unit}参与 {len(tasks)} 项任务"
    else:
        head = f"{unit}{_ROLE_WORDS[role]} {len(tasks)} 项任务"
    titles = [t["title"] for t in tasks[:3]]
    return f"{head}：{'；'.join(titles)}{'等' if len(tasks) > 3 else ''}。"
