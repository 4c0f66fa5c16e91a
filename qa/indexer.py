"""Build an index from corpus files: read → chunk → segment → embed → store, then publish atomically.

A rebuild does only the work that changed: a file whose name and content hash are those of a file in
the serving build (read by the same reading code) is not read again, its documents and chunks are
taken over; tokens and vectors (of chunks and their sentence windows) are reused by text hash. So
adding or editing one file reads, tokenises and embeds about that file.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .cancel import CancelToken, check
from .chunking import chunk_document, indexed_body, sentence_windows
from .embedders import Embedder
from .model import Chunk, Document
from .readers import SUPPORTED_SUFFIXES, UnreadableDocument, read_file, source_text
from .segment import Segmenter, harvest_domain_terms
from .store import BuildData, FileStore, Previous, PreviousFile, Store, index_lock, sha256_file, text_key
from .tasks import FORMAT as TASKS_FORMAT
from .tasks import document_entry, registry_payload

__all__ = ["BuildReport", "PreviousFile", "add_to_index", "build_index", "dense_text", "discover", "index_lock",
           "lexical_text", "read_corpus", "reading_fingerprint", "remove_from_index"]

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    index_path: Path
    build_id: str
    documents: int
    chunks: int
    files: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    files_reused: int = 0  # unchanged files whose documents and chunks came from the previous build
    windows: int = 0  # sentence windows of long chunks, embedded beside them
    embedded: int = 0  # vectors computed by this build (chunks and windows)
    reused: int = 0  # vectors taken over from the previous build
    seconds: dict = field(default_factory=dict)

    def summary(self) -> str:
        s = (f"indexed {self.documents} documents, {self.chunks} chunks from {self.files} files "
             f"({self.files - self.files_reused} read, {self.files_reused} unchanged) in "
             f"{self.seconds.get('total', 0):.1f} s (read {self.seconds.get('read', 0):.1f} s, lexical "
             f"{self.seconds.get('lexical', 0):.1f} s, tasks {self.seconds.get('tasks', 0):.2f} s, "
             f"dense {self.seconds.get('dense', 0):.1f} s; "
             f"{self.embedded} vectors embedded, {self.reused} reused, for chunks and {self.windows} "
             f"sentence windows) → {self.index_path}")
        if self.skipped:
            s += f"; skipped {len(self.skipped)} file(s): " + "; ".join(f"{f} ({why})" for f, why in self.skipped)
        return s


def discover(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """(file, source name) for every supported file under `paths`, in a stable order."""
    found: list[tuple[Path, str]] = []
    for root in paths:
        root = Path(root)
        if root.is_file():
            found.append((root, root.name))
        elif root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith("."):
                    found.append((p, str(p.relative_to(root))))
        else:
            raise FileNotFoundError(f"corpus path {root} does not exist")
    return found


def lexical_text(chunk: Chunk) -> str:
    """What BM25 sees: the passage and its section headings (not the document title, which would
    make every passage of a well-titled document match)."""
    headings = chunk.context.split(" > ", 1)[1] if " > " in chunk.context else ""
    body = indexed_body(chunk)
    return f"{headings}\n{body}" if headings else body


def dense_text(chunk: Chunk) -> str:
    """What the embedder sees: title and section path give the passage its topic."""
    body = indexed_body(chunk)
    return f"{chunk.context}\n{body}" if chunk.context else body


def reading_fingerprint() -> str:
    """A hash of the code that turns a file into documents and chunks: a build made by other reading
    code is not reused (a fixed reader must re-read every file)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    # the task registry is made from the same reading: new registry code re-reads every file too
    reading_code = [here / name for name in ("chunking.py", "model.py", "units.py", "tasks.py", "unit_names.py")]
    for path in sorted([*(here / "readers").glob("*.py"), *reading_code]):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def document_text(doc: Document, source: str | None) -> dict:
    """The document's stretch of its source file, so a client can show a passage in context."""
    if source is None or not doc.blocks:
        return {"text_start": 0, "text": "\n".join(b.text for b in doc.blocks)}
    start = min(b.char_start for b in doc.blocks)
    end = max(b.char_end for b in doc.blocks)
    return {"text_start": start, "text": source[start:end]}


def _tokenize_reusing(texts: list[str], segmenter: Segmenter, previous: Previous) -> list[list[str]]:
    """Tokens of every text, reusing the previous build's where the text is unchanged and holds no
    dictionary term that was added or dropped since (only those can segment differently), so adding
    one document re-tokenises about that document, not the corpus."""
    old_terms, cached = previous.terms, previous.tokens
    changed = sorted(old_terms.symmetric_difference(segmenter.domain_terms)) if cached else []
    out = []
    for text in texts:
        tokens = cached.get(text_key(text))
        if tokens is None or any(term in text for term in changed):
            tokens = segmenter.tokenize(text)
        out.append(tokens)
    return out


def read_corpus(files: Sequence[tuple[Path, str]], progress: bool = False, exclude_docs: set[str] = frozenset(),
                previous: dict[tuple[str, str], PreviousFile] | None = None, used_ids: set[str] | None = None,
                cancel: CancelToken | None = None,
                ) -> tuple[list[Document], list[Chunk], list[dict], list[tuple[str, str]], dict[str, dict]]:
    """Documents, chunks, corpus entries, skipped files and document texts of `files`. A file whose
    source name and content hash are in `previous` is not read again: its documents and chunks are
    taken from there. `used_ids` are doc ids already taken (by documents kept in place)."""
    documents: list[Document] = []
    chunks: list[Chunk] = []
    corpus: list[dict] = []
    skipped: list[tuple[str, str]] = []
    used_ids = set(used_ids or ())
    texts: dict[str, dict] = {}
    previous = previous or {}
    for path, source in tqdm(files, desc="reading", unit="file", disable=not progress or len(files) < 2):
        check(cancel)  # a cancelled build stops between files
        n_before = len(chunks)
        digest = sha256_file(path) if path.is_file() else ""
        known = previous.get((source, digest))
        if known is not None:
            docs = _reuse(known, exclude_docs, used_ids, chunks, texts)
        else:
            try:
                docs = read_file(path, source)
                src = source_text(path)
            except UnreadableDocument as e:
                log.warning("skipped %s: %s", source, e)
                skipped.append((source, str(e)))
                continue
            except Exception as e:  # a reader bug on one file must not take the build down
                log.exception("skipped %s: reader failed", source)
                skipped.append((source, f"{type(e).__name__}: {e}"))
                continue
            docs = [d for d in docs if d.doc_id not in exclude_docs]
            for doc in docs:
                doc.doc_id = _unique_id(doc.doc_id, used_ids)
                chunks.extend(chunk_document(doc, src, start_id=len(chunks)))
                texts[doc.doc_id] = document_text(doc, src)
        documents.extend(docs)
        corpus.append({"source": source, "path": str(path.resolve()), "sha256": digest,
                       "documents": len(docs), "chunks": len(chunks) - n_before})
    return documents, chunks, corpus, skipped, texts


def _reuse(known: PreviousFile, exclude_docs: set[str], used_ids: set[str], chunks: list[Chunk],
           texts: dict[str, dict]) -> list[Document]:
    """Append a previous build's chunks of one file (renumbered) and return its documents."""
    docs = []
    for meta in known.documents:
        if meta["doc_id"] in exclude_docs:
            continue
        old_id = meta["doc_id"]
        doc = Document(**{**meta, "doc_id": _unique_id(old_id, used_ids)})
        for c in known.chunks.get(old_id, []):
            chunks.append(Chunk(**{**c, "chunk_id": len(chunks), "doc_id": doc.doc_id}))
        if old_id in known.texts:
            texts[doc.doc_id] = known.texts[old_id]
        docs.append(doc)
    return docs




def task_entries(documents: Sequence[Document], doc_texts: dict[str, dict], corpus: Sequence[dict],
                 previous: dict | None) -> dict[str, dict]:
    """The task registry's entry of every document (qa.tasks): made from the blocks of a document read
    by this build, taken over from the serving registry for a file that was not read again (the same
    reading code made it: the reading fingerprint covers qa.tasks), read again when it has none."""
    old = (previous or {}).get("docs", {}) if (previous or {}).get("format") == TASKS_FORMAT else {}
    entries: dict[str, dict] = {}
    missing: dict[str, list[Document]] = {}
    for doc in documents:
        if doc.blocks:
            entries[doc.doc_id] = document_entry(doc, doc_texts.get(doc.doc_id))
        elif doc.doc_id in old and old[doc.doc_id].get("source") == doc.source:
            entries[doc.doc_id] = old[doc.doc_id]
        else:
            missing.setdefault(doc.source, []).append(doc)
    paths = {c["source"]: Path(c["path"]) for c in corpus}
    for source, docs in missing.items():  # an index made before the registry: read those files once
        try:
            fresh = read_file(paths[source], source)
            src = source_text(paths[source])
        except (KeyError, OSError, UnreadableDocument) as e:
            log.warning("no task records for %s: %s", source, e)
            continue
        by_id = {d.doc_id: d for d in fresh}
        for k, doc in enumerate(docs):
            made = by_id.get(doc.doc_id) or (fresh[k] if k < len(fresh) else None)
            if made is not None:
                made.doc_id = doc.doc_id
                entries[doc.doc_id] = document_entry(made, document_text(made, src))
    return entries


def _with_tasks(extras: dict, documents: Sequence[Document], doc_texts: dict[str, dict],
                corpus: Sequence[dict]) -> dict:
    entries = task_entries(documents, doc_texts, corpus, extras.get("tasks"))
    return {**extras, "tasks": registry_payload(entries)}


def _store(index_dir: Path, store: Store | None) -> Store:
    return store if store is not None else FileStore(Path(index_dir))


def _locked(store: Store, cancel: CancelToken | None):
    """The store's build lock; waiting for another build (another process's `qa index add`) is
    cancellable for a files store, whose lock can be polled."""
    if cancel is not None and isinstance(store, FileStore):
        return index_lock(store.index_dir, cancel=cancel)
    return store.lock()


def build_index(corpus_paths: Sequence[Path], index_dir: Path, embedder: Embedder | None,
                progress: bool = True, vector_index: str = "auto", *,
                files: Sequence[tuple[Path, str]] | None = None,
                exclude_docs: Iterable[str] = (), store: Store | None = None,
                extras: dict | None = None, cancel: CancelToken | None = None) -> BuildReport:
    """Build a complete new index from `corpus_paths` (or explicit `files`) and make it the serving
    one. `exclude_docs` are doc ids removed from the index although their file is still indexed.
    `store` is where it goes (default: the files store in `index_dir`); `extras` are kept with it
    (default: the serving build's). `cancel` stops it before it publishes (BuildCancelled); the
    serving index is then untouched."""
    store = _store(index_dir, store)
    with _locked(store, cancel):
        return _build_index(corpus_paths, store, embedder, progress, vector_index, files=files,
                            exclude_docs=exclude_docs, extras=extras, cancel=cancel)


def _build_index(corpus_paths: Sequence[Path], store: Store, embedder: Embedder | None,
                 progress: bool, vector_index: str, *, files: Sequence[tuple[Path, str]] | None,
                 exclude_docs: Iterable[str], extras: dict | None, cancel: CancelToken | None = None) -> BuildReport:
    t0 = time.perf_counter()
    files = list(files) if files is not None else discover(corpus_paths)
    if not files:
        raise FileNotFoundError(f"no documents ({', '.join(SUPPORTED_SUFFIXES)}) under "
                                f"{', '.join(map(str, corpus_paths))}")
    excluded = set(exclude_docs)
    previous = store.previous(embedder.id if embedder is not None else None, reading_fingerprint())
    documents, chunks, corpus, skipped, doc_texts = read_corpus(files, progress, excluded, previous.reading,
                                                                 cancel=cancel)
    files_reused = sum(1 for entry in corpus if (entry["source"], entry["sha256"]) in previous.reading)
    if not chunks:
        raise ValueError("no readable document: " + "; ".join(f"{f}: {w}" for f, w in skipped))
    t_read = time.perf_counter()

    segmenter = Segmenter(harvest_domain_terms(c.text for c in chunks))
    lex_texts = [lexical_text(c) for c in chunks]
    token_lists = _tokenize_reusing(lex_texts, segmenter, previous)
    t_lex = time.perf_counter()

    # the task registry is written with the build, so that it always describes the documents served
    kept = dict(extras) if extras is not None else store.extras()
    kept = _with_tasks(kept, documents, doc_texts, corpus)
    t_tasks = time.perf_counter()

    data = BuildData(documents=documents, chunks=chunks, token_lists=token_lists, segmenter=segmenter,
                     embedder_id=embedder.id if embedder else "none", dim=embedder.dim if embedder else 0,
                     lexical_texts=lex_texts, doc_texts=doc_texts, corpus=corpus, vector_index=vector_index,
                     excluded_docs=sorted(excluded), reading=reading_fingerprint(), extras=kept)
    embedded, reused = _embed_into(data, embedder, previous.vectors, progress, cancel)
    t_dense = time.perf_counter()
    data.timings = {"read": t_read - t0, "lexical": t_lex - t_read, "tasks": t_tasks - t_lex,
                    "dense": t_dense - t_tasks}
    check(cancel)  # the last point where stopping leaves nothing behind: after it, the build publishes
    manifest = store.write(data)
    total = time.perf_counter() - t0
    report = BuildReport(index_path=_report_path(store), build_id=manifest.build_id, documents=len(documents),
                         chunks=len(chunks), files=len(files) - len(skipped), skipped=skipped,
                         windows=len(data.window_owner), files_reused=files_reused,
                         embedded=embedded, reused=reused, seconds={**data.timings, "total": total})
    log.info(report.summary())
    return report


def _report_path(store: Store) -> Path:
    return store.report_path()


def _embed_into(data: BuildData, embedder: Embedder | None, previous: dict[str, np.ndarray],
                progress: bool, cancel: CancelToken | None = None) -> tuple[int, int]:
    """Fill the build's chunk and window vectors (and their keys); returns (embedded, reused)."""
    if embedder is None:
        return 0, 0
    texts = [dense_text(c) for c in data.chunks]
    window_texts: list[str] = []
    window_owner: list[int] = []
    for row, chunk in enumerate(data.chunks):
        for window in sentence_windows(chunk):
            window_texts.append(window)
            window_owner.append(row)
    keys = [text_key(t) for t in texts]
    window_keys = [text_key(t) for t in window_texts]
    all_vectors, embedded, reused = _embed_reusing(texts + window_texts, keys + window_keys, embedder, previous,
                                                   progress, cancel)
    data.vectors, data.window_vectors = all_vectors[: len(texts)], all_vectors[len(texts):]
    data.vector_keys, data.window_keys, data.window_owner = keys, window_keys, window_owner
    return embedded, reused


def _embed_reusing(texts: list[str], keys: list[str], embedder: Embedder, previous: dict[str, np.ndarray],
                   progress: bool, cancel: CancelToken | None = None) -> tuple[np.ndarray, int, int]:
    """(vectors, embedded, reused): the previous build's vector where a text's key is known, the
    embedder's for the rest."""
    t0 = time.perf_counter()
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    todo = []
    for i, key in enumerate(keys):
        v = previous.get(key)
        if v is not None and v.shape == (embedder.dim,):
            vectors[i] = v
        else:
            todo.append(i)
    if todo:
        chars = sum(len(texts[i]) for i in todo)
        with tqdm(total=len(todo), desc="embedding", unit="passage", disable=not progress) as bar:
            def advanced(n: int) -> None:
                bar.update(n)
                check(cancel)  # embedding is most of a build's time: stop between batches

            vectors[todo] = embedder.embed_passages([texts[i] for i in todo], progress=advanced)
        log.info("embedded %d passages (%d chars) in %.1f s", len(todo), chars, time.perf_counter() - t0)
    return vectors, len(todo), len(texts) - len(todo)


def _unique_id(doc_id: str, used: set[str]) -> str:
    """Two files may hold a document with the same id (a re-issued notice): number the later ones."""
    candidate, n = doc_id, 1
    while candidate in used:
        n += 1
        candidate = f"{doc_id}-{n}"
    used.add(candidate)
    return candidate


def indexed_files(index_dir: Path, store: Store | None = None) -> tuple[list[tuple[Path, str]], set[str]]:
    """The files the serving build was made from, and the doc ids removed from it."""
    manifest = _store(index_dir, store).manifest()
    if manifest is None:
        return [], set()
    files = [(Path(c["path"]), c["source"]) for c in manifest.corpus]
    return files, set(manifest.excluded_docs)


def add_to_index(paths: Sequence[Path], index_dir: Path, embedder: Embedder | None,
                 progress: bool = True, vector_index: str = "auto", store: Store | None = None,
                 cancel: CancelToken | None = None) -> BuildReport:
    """Add (or replace) files. Files store: a new build from the indexed files plus these, where only
    the new or changed chunks are embedded; an incremental store (Milvus): only these files are read
    and embedded, and their chunks upserted in place."""
    store = _store(index_dir, store)
    with _locked(store, cancel):
        return _add_to_index(paths, store, embedder, progress, vector_index, cancel)


def _add_to_index(paths: Sequence[Path], store: Store, embedder: Embedder | None,
                  progress: bool, vector_index: str, cancel: CancelToken | None = None) -> BuildReport:
    files, excluded = indexed_files(Path(store.location), store)
    new = discover(paths)
    if not new:
        raise FileNotFoundError(f"no documents ({', '.join(SUPPORTED_SUFFIXES)}) in {', '.join(map(str, paths))}")
    new_paths = {p.resolve() for p, _ in new}
    kept = [(p, src) for p, src in files if p.resolve() not in new_paths]
    taken = {src for _, src in kept}
    # two files may share a name in different folders: keep the source names distinct
    renamed = [(p, src if src not in taken else f"{p.parent.name}/{src}") for p, src in new]
    if store.incremental and store.exists():
        return _upsert_files(renamed, store, embedder, progress, {src for _, src in files} - taken, cancel)
    return _build_index([], store, embedder, progress, vector_index, files=kept + renamed, exclude_docs=excluded,
                        extras=None, cancel=cancel)


def _upsert_files(files: list[tuple[Path, str]], store: Store, embedder: Embedder | None, progress: bool,
                  replaced: set[str], cancel: CancelToken | None = None) -> BuildReport:
    """Read, cut and embed only `files`, and upsert them into the serving collection; documents of
    `replaced` sources (files indexed before under the same name) are replaced."""
    t0 = time.perf_counter()
    kept_docs = [d for d in store.documents() if d["source"] not in replaced]
    previous = store.previous(None, "")  # only the dictionary: the stored chunks were cut with it
    documents, chunks, corpus, skipped, doc_texts = read_corpus(files, progress, used_ids={d["doc_id"] for d in kept_docs},
                                                                 cancel=cancel)
    if not chunks:
        raise ValueError("no readable document: " + "; ".join(f"{f}: {w}" for f, w in skipped))
    t_read = time.perf_counter()
    # the serving dictionary, unchanged: new terms would cut queries differently from the chunks
    # already stored (a full `qa index` harvests them)
    segmenter = Segmenter(sorted(previous.terms))
    lex_texts = [lexical_text(c) for c in chunks]
    token_lists = [segmenter.tokenize(t) for t in lex_texts]
    t_lex = time.perf_counter()
    # the registry after the upsert: the kept documents' entries and the new ones (a store that changes
    # in place keeps `data.extras` as its extras)
    serving = store.extras()
    old_tasks = serving.get("tasks") or {}
    old_entries = old_tasks.get("docs", {}) if old_tasks.get("format") == TASKS_FORMAT else {}
    entries = {d["doc_id"]: old_entries[d["doc_id"]] for d in kept_docs if d["doc_id"] in old_entries}
    entries.update(task_entries(documents, doc_texts, corpus, None))
    data = BuildData(documents=documents, chunks=chunks, token_lists=token_lists, segmenter=segmenter,
                     embedder_id=embedder.id if embedder else "none", dim=embedder.dim if embedder else 0,
                     lexical_texts=lex_texts, doc_texts=doc_texts, corpus=corpus, reading=reading_fingerprint(),
                     extras={**serving, "tasks": registry_payload(entries)})
    embedded, _ = _embed_into(data, embedder, {}, progress, cancel)
    t_dense = time.perf_counter()
    data.timings = {"read": t_read - t0, "lexical": t_lex - t_read, "dense": t_dense - t_lex}
    check(cancel)
    manifest = store.upsert(data, replaced)
    report = BuildReport(index_path=_report_path(store), build_id=manifest.build_id,
                         documents=manifest.counts["documents"], chunks=manifest.counts["chunks"],
                         files=len(files) - len(skipped), skipped=skipped, windows=len(data.window_owner),
                         embedded=embedded, reused=manifest.counts["chunks"] - len(chunks),
                         seconds={**data.timings, "total": time.perf_counter() - t0})
    log.info(report.summary())
    return report


def remove_from_index(doc_id: str, index_dir: Path, embedder: Embedder | None,
                      progress: bool = True, vector_index: str = "auto", store: Store | None = None,
                      cancel: CancelToken | None = None) -> BuildReport:
    """Remove one document. A file that held only that document leaves the index; from a file with
    several (a gazette issue) the document is excluded and stays excluded in later rebuilds."""
    store = _store(index_dir, store)
    with _locked(store, cancel):
        return _remove_from_index(doc_id, store, embedder, progress, vector_index, cancel)


def _remove_from_index(doc_id: str, store: Store, embedder: Embedder | None,
                       progress: bool, vector_index: str, cancel: CancelToken | None = None) -> BuildReport:
    if not store.exists():
        raise FileNotFoundError(f"no index in {store.location}")
    docs = store.documents()
    doc = next((d for d in docs if d["doc_id"] == doc_id), None)
    if doc is None:
        raise KeyError(doc_id)
    files, excluded = indexed_files(Path(store.location), store)
    siblings = [d for d in docs if d["source"] == doc["source"] and d["doc_id"] != doc_id]
    if siblings:
        excluded.add(doc_id)
    else:
        files = [(p, src) for p, src in files if src != doc["source"]]
    if not files:
        raise ValueError("that is the last document of the index; build a new index instead")
    if store.incremental:
        t0 = time.perf_counter()
        check(cancel)
        manifest = store.delete(doc_id, drop_source=not siblings)
        report = BuildReport(index_path=_report_path(store), build_id=manifest.build_id,
                             documents=manifest.counts["documents"], chunks=manifest.counts["chunks"], files=0,
                             reused=manifest.counts["chunks"], seconds={"total": time.perf_counter() - t0})
        log.info(report.summary())
        return report
    return _build_index([], store, embedder, progress, vector_index, files=files, exclude_docs=excluded, extras=None,
                        cancel=cancel)
