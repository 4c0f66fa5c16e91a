"""Build an index from corpus files: read → chunk → segment → embed → store, then publish atomically.

A rebuild does only the work that changed: a file whose name and content hash are those of a file in
the serving build (read by the same reading code) is not read again, its documents and chunks are
taken over; tokens and vectors (of chunks and their sentence windows) are reused by text hash. So
adding or editing one file reads, tokenises and embeds about that file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout
from tqdm import tqdm

from .chunking import chunk_document, indexed_body, sentence_windows
from .embedders import Embedder
from .model import Chunk, Document
from .readers import SUPPORTED_SUFFIXES, UnreadableDocument, read_file, source_text
from .segment import Segmenter, harvest_domain_terms
from .store import (BUILD_LOCK, DOC_TEXTS, TOKENS, VECTOR_KEYS, WINDOW_KEYS, WINDOW_VECTORS, current_build,
                    new_build_dir, publish_build, sha256_file, text_key, write_build)

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
             f"{self.seconds.get('lexical', 0):.1f} s, dense {self.seconds.get('dense', 0):.1f} s; "
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


def _previous_vectors(index_dir: Path, embedder_id: str) -> dict[str, np.ndarray]:
    """key of the embedded text → vector (chunks and windows), from the serving build when it used
    the same embedder."""
    path = current_build(index_dir)
    if path is None or not (path / "vectors.npy").exists() or not (path / VECTOR_KEYS).exists():
        return {}
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("embedder") != embedder_id:
            return {}
        found: dict[str, np.ndarray] = {}
        for vectors_file, keys_file in (("vectors.npy", VECTOR_KEYS), (WINDOW_VECTORS, WINDOW_KEYS)):
            if not (path / keys_file).exists():
                continue
            vectors = np.load(path / vectors_file)
            keys = (path / keys_file).read_text(encoding="utf-8").split()
            if len(keys) == len(vectors):
                found.update(zip(keys, vectors))
        return found
    except Exception as e:  # a damaged old build only costs re-embedding
        log.warning("not reusing vectors of %s: %s", path, e)
        return {}


def reading_fingerprint() -> str:
    """A hash of the code that turns a file into documents and chunks: a build made by other reading
    code is not reused (a fixed reader must re-read every file)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted([*(here / "readers").glob("*.py"), here / "chunking.py", here / "model.py"]):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class PreviousFile:
    """What the serving build made of one unchanged file: its documents, chunks and their texts."""

    documents: list[dict]
    chunks: dict[str, list[dict]]  # doc_id → its chunks, in order
    texts: dict[str, dict]


def _previous_reading(index_dir: Path) -> dict[tuple[str, str], PreviousFile]:
    """(source, sha256) → the serving build's reading of that file, when it was read by this code."""
    path = current_build(index_dir)
    if path is None:
        return {}
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("reading") != reading_fingerprint():
            return {}
        docs = json.loads((path / "documents.json").read_text(encoding="utf-8"))
        texts = json.loads((path / DOC_TEXTS).read_text(encoding="utf-8"))
        by_doc: dict[str, list[dict]] = {}
        with open(path / "chunks.jsonl", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    chunk = json.loads(line)
                    by_doc.setdefault(chunk["doc_id"], []).append(chunk)
        by_source: dict[str, list[dict]] = {}
        for d in docs:
            by_source.setdefault(d["source"], []).append(d)
        found: dict[tuple[str, str], PreviousFile] = {}
        for entry in manifest.get("corpus", []):
            file_docs = by_source.get(entry["source"], [])
            found[(entry["source"], entry["sha256"])] = PreviousFile(
                documents=file_docs, chunks={d["doc_id"]: by_doc.get(d["doc_id"], []) for d in file_docs},
                texts={d["doc_id"]: texts[d["doc_id"]] for d in file_docs if d["doc_id"] in texts})
        return found
    except Exception as e:  # a damaged old build only costs re-reading
        log.warning("not reusing the reading of %s: %s", path, e)
        return {}


def document_text(doc: Document, source: str | None) -> dict:
    """The document's stretch of its source file, so a client can show a passage in context."""
    if source is None or not doc.blocks:
        return {"text_start": 0, "text": "\n".join(b.text for b in doc.blocks)}
    start = min(b.char_start for b in doc.blocks)
    end = max(b.char_end for b in doc.blocks)
    return {"text_start": start, "text": source[start:end]}


def _previous_tokens(index_dir: Path) -> tuple[set[str], dict[str, list[str]]]:
    """(domain terms, text key → tokens) of the serving build, for reuse."""
    path = current_build(index_dir)
    if path is None or not (path / TOKENS).exists():
        return set(), {}
    try:
        terms = set((path / "terms.txt").read_text(encoding="utf-8").split())
        with open(path / TOKENS, encoding="utf-8") as fh:
            cached = dict(json.loads(line) for line in fh if line.strip())
        return terms, cached
    except Exception as e:  # a damaged cache only costs re-tokenising
        log.warning("not reusing tokens of %s: %s", path, e)
        return set(), {}


def _tokenize_reusing(texts: list[str], segmenter: Segmenter,
                      previous: tuple[set[str], dict[str, list[str]]]) -> list[list[str]]:
    """Tokens of every text, reusing the previous build's where the text is unchanged and holds no
    dictionary term that was added or dropped since (only those can segment differently), so adding
    one document re-tokenises about that document, not the corpus."""
    old_terms, cached = previous
    changed = sorted(old_terms.symmetric_difference(segmenter.domain_terms)) if cached else []
    out = []
    for text in texts:
        tokens = cached.get(text_key(text))
        if tokens is None or any(term in text for term in changed):
            tokens = segmenter.tokenize(text)
        out.append(tokens)
    return out


def read_corpus(files: Sequence[tuple[Path, str]], progress: bool = False, exclude_docs: set[str] = frozenset(),
                previous: dict[tuple[str, str], PreviousFile] | None = None,
                ) -> tuple[list[Document], list[Chunk], list[dict], list[tuple[str, str]], dict[str, dict]]:
    """Documents, chunks, corpus entries, skipped files and document texts of `files`. A file whose
    source name and content hash are in `previous` is not read again: its documents and chunks are
    taken from there."""
    documents: list[Document] = []
    chunks: list[Chunk] = []
    corpus: list[dict] = []
    skipped: list[tuple[str, str]] = []
    used_ids: set[str] = set()
    texts: dict[str, dict] = {}
    previous = previous or {}
    for path, source in tqdm(files, desc="reading", unit="file", disable=not progress or len(files) < 2):
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


_LOCKS: dict[Path, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """Hold the build lock of `index_dir`: one build at a time across threads and processes (an
    upload to one of several server workers, `qa index add` in a shell). A build reads the serving
    build's file list and publishes a new one; two at once would lose one's change. It is an flock,
    so a killed build releases it; nested use in one thread (add → build) is allowed."""
    index_dir = Path(index_dir).resolve()
    index_dir.mkdir(parents=True, exist_ok=True)
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(index_dir, FileLock(index_dir / BUILD_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another build of %s is running; waiting for it to finish", index_dir)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def build_index(corpus_paths: Sequence[Path], index_dir: Path, embedder: Embedder | None,
                progress: bool = True, vector_index: str = "auto", *,
                files: Sequence[tuple[Path, str]] | None = None,
                exclude_docs: Iterable[str] = ()) -> BuildReport:
    """Build a complete new index from `corpus_paths` (or explicit `files`) and make it the serving
    one. `exclude_docs` are doc ids removed from the index although their file is still indexed."""
    with index_lock(index_dir):
        return _build_index(corpus_paths, Path(index_dir), embedder, progress, vector_index, files=files,
                            exclude_docs=exclude_docs)


def _build_index(corpus_paths: Sequence[Path], index_dir: Path, embedder: Embedder | None,
                 progress: bool, vector_index: str, *, files: Sequence[tuple[Path, str]] | None,
                 exclude_docs: Iterable[str]) -> BuildReport:
    t0 = time.perf_counter()
    files = list(files) if files is not None else discover(corpus_paths)
    if not files:
        raise FileNotFoundError(f"no documents ({', '.join(SUPPORTED_SUFFIXES)}) under "
                                f"{', '.join(map(str, corpus_paths))}")
    excluded = set(exclude_docs)
    previous = _previous_reading(index_dir)
    documents, chunks, corpus, skipped, doc_texts = read_corpus(files, progress, excluded, previous)
    files_reused = sum(1 for entry in corpus if (entry["source"], entry["sha256"]) in previous)
    if not chunks:
        raise ValueError("no readable document: " + "; ".join(f"{f}: {w}" for f, w in skipped))
    t_read = time.perf_counter()

    segmenter = Segmenter(harvest_domain_terms(c.text for c in chunks))
    lex_texts = [lexical_text(c) for c in chunks]
    token_lists = _tokenize_reusing(lex_texts, segmenter, _previous_tokens(index_dir))
    t_lex = time.perf_counter()

    vectors = window_vectors = None
    keys: list[str] = []
    window_owner: list[int] = []
    window_keys: list[str] = []
    embedded = reused = 0
    if embedder is not None:
        texts = [dense_text(c) for c in chunks]
        window_texts: list[str] = []
        for row, chunk in enumerate(chunks):
            for window in sentence_windows(chunk):
                window_texts.append(window)
                window_owner.append(row)
        keys = [text_key(t) for t in texts]
        window_keys = [text_key(t) for t in window_texts]
        all_vectors, embedded, reused = _embed_reusing(
            texts + window_texts, keys + window_keys, embedder, _previous_vectors(index_dir, embedder.id), progress)
        vectors, window_vectors = all_vectors[: len(texts)], all_vectors[len(texts):]
    t_dense = time.perf_counter()

    build_path = new_build_dir(index_dir)
    try:
        timings = {"read": t_read - t0, "lexical": t_lex - t_read, "dense": t_dense - t_lex}
        manifest = write_build(
            build_path, documents=documents, chunks=chunks, vectors=vectors, token_lists=token_lists,
            segmenter=segmenter, vector_keys=keys, doc_texts=doc_texts, lexical_texts=lex_texts,
            embedder_id=embedder.id if embedder else "none", dim=embedder.dim if embedder else 0, corpus=corpus,
            timings=timings, vector_index=vector_index, excluded_docs=sorted(excluded), reading=reading_fingerprint(),
            window_vectors=window_vectors, window_owner=window_owner, window_keys=window_keys)
        final = publish_build(index_dir, build_path)
    except BaseException:
        shutil.rmtree(build_path, ignore_errors=True)
        raise
    total = time.perf_counter() - t0
    report = BuildReport(index_path=final, build_id=manifest.build_id, documents=len(documents),
                         chunks=len(chunks), files=len(files) - len(skipped), skipped=skipped,
                         windows=len(window_owner), files_reused=files_reused,
                         embedded=embedded, reused=reused, seconds={**timings, "total": total})
    log.info(report.summary())
    return report


def _embed_reusing(texts: list[str], keys: list[str], embedder: Embedder, previous: dict[str, np.ndarray],
                   progress: bool) -> tuple[np.ndarray, int, int]:
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
            vectors[todo] = embedder.embed_passages([texts[i] for i in todo], progress=bar.update)
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


def indexed_files(index_dir: Path) -> tuple[list[tuple[Path, str]], set[str]]:
    """The files the serving build was made from, and the doc ids removed from it."""
    path = current_build(index_dir)
    if path is None:
        return [], set()
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    files = [(Path(c["path"]), c["source"]) for c in manifest.get("corpus", [])]
    return files, set(manifest.get("excluded_docs", []))


def add_to_index(paths: Sequence[Path], index_dir: Path, embedder: Embedder | None,
                 progress: bool = True, vector_index: str = "auto") -> BuildReport:
    """Add (or replace) files: a new build from the indexed files plus these; only the new or
    changed chunks are embedded."""
    with index_lock(index_dir):
        return _add_to_index(paths, index_dir, embedder, progress, vector_index)


def _add_to_index(paths: Sequence[Path], index_dir: Path, embedder: Embedder | None,
                  progress: bool, vector_index: str) -> BuildReport:
    files, excluded = indexed_files(index_dir)
    new = discover(paths)
    if not new:
        raise FileNotFoundError(f"no documents ({', '.join(SUPPORTED_SUFFIXES)}) in {', '.join(map(str, paths))}")
    new_paths = {p.resolve() for p, _ in new}
    kept = [(p, src) for p, src in files if p.resolve() not in new_paths]
    taken = {src for _, src in kept}
    # two files may share a name in different folders: keep the source names distinct
    renamed = [(p, src if src not in taken else f"{p.parent.name}/{src}") for p, src in new]
    return build_index([], index_dir, embedder, progress, vector_index, files=kept + renamed, exclude_docs=excluded)


def remove_from_index(doc_id: str, index_dir: Path, embedder: Embedder | None,
                      progress: bool = True, vector_index: str = "auto") -> BuildReport:
    """Remove one document. A file that held only that document leaves the index; from a file with
    several (a gazette issue) the document is excluded and stays excluded in later rebuilds."""
    with index_lock(index_dir):
        return _remove_from_index(doc_id, index_dir, embedder, progress, vector_index)


def _remove_from_index(doc_id: str, index_dir: Path, embedder: Embedder | None,
                       progress: bool, vector_index: str) -> BuildReport:
    path = current_build(index_dir)
    if path is None:
        raise FileNotFoundError(f"no index in {index_dir}/")
    docs = json.loads((path / "documents.json").read_text(encoding="utf-8"))
    doc = next((d for d in docs if d["doc_id"] == doc_id), None)
    if doc is None:
        raise KeyError(doc_id)
    files, excluded = indexed_files(index_dir)
    siblings = [d for d in docs if d["source"] == doc["source"] and d["doc_id"] != doc_id]
    if siblings:
        excluded.add(doc_id)
    else:
        files = [(p, src) for p, src in files if src != doc["source"]]
    if not files:
        raise ValueError("that is the last document of the index; build a new index instead")
    return build_index([], index_dir, embedder, progress, vector_index, files=files, exclude_docs=excluded)
