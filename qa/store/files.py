"""The files store (the default): FAISS vectors, a BM25 lexical index, the chunk store and a manifest
in a folder.

Layout of an index folder (default `index/`)::

    index/CURRENT                 the name of the build that serves (replaced atomically)
    index/.build.lock             held by the one build running (qa.indexer.index_lock)
    index/builds/<build_id>/      one complete build:
        manifest.json             version, embedder id and dimension, corpus file hashes, counts,
                                  build time, sha256 of every file below
        documents.json            document metadata
        document_texts.json       each document's stretch of its source text (for reading views)
        chunks.jsonl              one chunk per line (text, section, offsets, context)
        vectors.faiss, vectors.npy  dense vectors (FAISS: exact up to 200k chunks, IVF above; raw rows kept
                                  for exact re-scoring of candidates and for incremental rebuilds)
        vector_keys.txt           sha1 of the text each vector was computed from
        window_vectors.npy        vectors of long chunks' sentence windows, in chunk order
        window_owner.npy          the chunk (row) each window belongs to
        window_keys.txt           sha1 of each window's text
        tokens.jsonl              the jieba tokens of each chunk, by text hash (reused by rebuilds)
        bm25/                     bm25s index over jieba tokens
        terms.txt                 the domain dictionary used to segment passages (and so queries)

A build is written into a fresh folder and only then named in CURRENT, so a crash mid-build leaves
the previous index serving; loading checks the manifest's checksums and embedder before use.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import bm25s
import faiss
import numpy as np
from filelock import FileLock, Timeout

from ..cancel import CancelToken
from ..model import Chunk, Document
from ..segment import Segmenter
from .base import (FORMAT_VERSION, BuildData, IndexCorrupt, IndexError_, IndexNotFound,
                   LoadedIndex, Manifest, Previous, PreviousFile, Store, check_manifest, sha256_file, text_key)

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
VECTOR_KEYS = "vector_keys.txt"
WINDOW_VECTORS = "window_vectors.npy"
WINDOW_OWNER = "window_owner.npy"
WINDOW_KEYS = "window_keys.txt"
DOC_TEXTS = "document_texts.json"
TOKENS = "tokens.jsonl"
EXTRAS = "extras"
BUILDS = "builds"
BUILD_LOCK = ".build.lock"


def current_build(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    path = index_dir / BUILDS / name
    return path if name and path.is_dir() else None


def new_build_dir(index_dir: Path) -> Path:
    build_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    path = index_dir / BUILDS / (build_id + ".partial")
    path.mkdir(parents=True)
    return path


def write_build(path: Path, data: BuildData) -> Manifest:
    """Write every file of a build into `path` (a fresh folder) and its manifest last."""
    (path / "documents.json").write_text(
        json.dumps([d.metadata() for d in data.documents], ensure_ascii=False, indent=1), encoding="utf-8")
    (path / DOC_TEXTS).write_text(json.dumps(data.doc_texts or {}, ensure_ascii=False), encoding="utf-8")
    with open(path / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for c in data.chunks:
            fh.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
    kind = "none"
    if data.vectors is not None:
        np.save(path / "vectors.npy", data.vectors.astype(np.float32))
        if data.vector_keys:  # hashes of the embedded texts: a rebuild reuses vectors whose text is unchanged
            (path / VECTOR_KEYS).write_text("\n".join(data.vector_keys) + "\n", encoding="utf-8")
        index, kind = make_vector_index(data.vectors, data.vector_index)
        _write_faiss(index, path / "vectors.faiss")
        if data.window_vectors is not None and data.window_owner is not None:
            np.save(path / WINDOW_VECTORS, np.asarray(data.window_vectors, dtype=np.float32))
            np.save(path / WINDOW_OWNER, np.asarray(data.window_owner, dtype=np.int32))
            if data.window_keys:
                (path / WINDOW_KEYS).write_text("\n".join(data.window_keys) + "\n", encoding="utf-8")
    retriever = bm25s.BM25()
    # an empty token list would make bm25s fail; "" never matches a query term
    retriever.index([t if t else [""] for t in data.token_lists] or [[""]], show_progress=False)
    retriever.save(str(path / "bm25"), show_progress=False)
    data.segmenter.save_terms(path / "terms.txt")
    if data.lexical_texts is not None:  # tokens by text hash: a rebuild re-tokenises only what changed
        with open(path / TOKENS, "w", encoding="utf-8") as fh:
            for text, tokens in zip(data.lexical_texts, data.token_lists):
                fh.write(json.dumps([text_key(text), tokens], ensure_ascii=False) + "\n")
    _write_extras(path / EXTRAS, data.extras)
    files = {str(p.relative_to(path)): sha256_file(p) for p in sorted(path.rglob("*")) if p.is_file()}
    manifest = Manifest(
        format_version=FORMAT_VERSION, build_id=path.name.removesuffix(".partial"),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), embedder=data.embedder_id, dim=data.dim,
        corpus=data.corpus, counts={"documents": len(data.documents), "chunks": len(data.chunks)}, files=files,
        timings=data.timings, vector_index=kind, excluded_docs=list(data.excluded_docs), reading=data.reading,
    )
    manifest.write(path / "manifest.json")
    return manifest


def _write_extras(folder: Path, extras: dict) -> None:
    """Each extra as one file: bytes as `<name>.bin`, anything else as `<name>.json`."""
    if not extras:
        return
    folder.mkdir()
    for name, value in extras.items():
        if "/" in name or name.startswith("."):
            raise ValueError(f"extra name {name!r} is not a plain name")
        if isinstance(value, (bytes, bytearray)):
            (folder / f"{name}.bin").write_bytes(bytes(value))
        else:
            (folder / f"{name}.json").write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")


def _read_extras(folder: Path) -> dict:
    extras: dict = {}
    if folder.is_dir():
        for f in sorted(folder.iterdir()):
            if f.suffix == ".bin":
                extras[f.stem] = f.read_bytes()
            elif f.suffix == ".json":
                extras[f.stem] = json.loads(f.read_text(encoding="utf-8"))
    return extras


FLAT_MAX = 200_000  # exact search is fast enough below this (and exact)
VECTOR_INDEX_KINDS = ("auto", "flat", "ivf", "hnsw")


def make_vector_index(vectors: np.ndarray, kind: str = "auto") -> tuple[faiss.Index, str]:
    """Exact inner-product search up to 200k vectors; above that IVF (inverted lists over an HNSW
    coarse quantiser), which bench/bench_scale.py measured at 1M chunks: build 231 s, query p50
    0.43 ms, recall@10 0.984 — HNSW32 builds several times slower here at the same query speed."""
    n, dim = vectors.shape
    if kind == "auto":
        kind = "flat" if n <= FLAT_MAX else "ivf"
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    elif kind == "ivf":
        # ~4·√n lists, each trained on ≥ 39 rows (FAISS's rule of thumb); nprobe is stored in the file
        nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))
        index = faiss.index_factory(dim, f"IVF{nlist}_HNSW32,Flat", faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(n, size=min(n, nlist * 64), replace=False)]
        index.train(sample)
        faiss.extract_index_ivf(index).nprobe = min(nlist, 16)
    else:
        raise ValueError(f"unknown vector index kind {kind!r}: use {', '.join(VECTOR_INDEX_KINDS)}")
    index.add(vectors)
    return index, kind


DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class DiskFull(OSError):
    """No room for a new build (ENOSPC, quota, file size limit): it was removed, the serving build
    is untouched. An OSError with the errno, so callers that handle a full disk (uploads: 507) see it."""


def _write_faiss(index: faiss.Index, path: Path) -> None:
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as e:
        # FAISS reports a failed write as a RuntimeError carrying strerror(errno), not as an OSError
        for code in DISK_FULL_ERRNOS:
            if os.strerror(code) in str(e):
                raise OSError(code, os.strerror(code), str(path)) from e
        raise


def publish_build(index_dir: Path, build_path: Path, keep: int = 2) -> Path:
    """Make a finished build the serving one: rename it complete, then swap CURRENT atomically."""
    final = build_path.with_name(build_path.name.removesuffix(".partial"))
    os.replace(build_path, final)
    tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
    tmp.write_text(final.name + "\n", encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)
    _prune_builds(index_dir, keep=keep, serving=final.name)
    return final


def _prune_builds(index_dir: Path, keep: int, serving: str) -> None:
    # keep the previous build for a server that still has it open; drop older ones and failed partials
    builds = sorted((p for p in (index_dir / BUILDS).iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    complete = [p for p in builds if not p.name.endswith(".partial") and p.name != serving]
    for p in complete[: max(0, len(complete) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    for p in builds:
        if p.name.endswith(".partial") and time.time() - p.stat().st_mtime > 24 * 3600:
            shutil.rmtree(p, ignore_errors=True)


def verify_build(path: Path, manifest: Manifest) -> None:
    for name, digest in manifest.files.items():
        f = path / name
        if not f.is_file():
            raise IndexCorrupt(f"index file {f} is missing; rebuild with `qa index`")
        if sha256_file(f) != digest:
            raise IndexCorrupt(f"index file {f} does not match its checksum (corrupted or truncated); "
                               "rebuild with `qa index`")


def load_index(index_dir: Path, embedder_id: str | None = None, verify: bool = True) -> LoadedIndex:
    """Load the serving build. `embedder_id` None skips the embedder check (lexical-only use)."""
    path = current_build(index_dir)
    if path is None:
        raise IndexNotFound(f"no index in {index_dir}/ yet; build one with `qa index --index {index_dir}`")
    try:
        manifest = Manifest.read(path / "manifest.json")
    except (OSError, ValueError, TypeError) as e:
        raise IndexCorrupt(f"cannot read {path}/manifest.json ({e}); rebuild with `qa index`") from e
    check_manifest(manifest, embedder_id, f"{index_dir}/", f"qa index --index {index_dir}")
    if verify:
        verify_build(path, manifest)
    try:
        documents = {
            d["doc_id"]: Document(**d)
            for d in json.loads((path / "documents.json").read_text(encoding="utf-8"))
        }
        with open(path / "chunks.jsonl", encoding="utf-8") as fh:
            chunks = [Chunk(**json.loads(line)) for line in fh if line.strip()]
        vectors = raw = None
        if (path / "vectors.faiss").exists():
            vectors = faiss.read_index(str(path / "vectors.faiss"))
            raw = np.load(path / "vectors.npy", mmap_mode="r")
            if vectors.ntotal != len(chunks) or vectors.d != manifest.dim:
                raise IndexCorrupt(f"{path}/vectors.faiss holds {vectors.ntotal}×{vectors.d} vectors for "
                                   f"{len(chunks)} chunks of dimension {manifest.dim}; rebuild with `qa index`")
        windows = owner = None
        if raw is not None and (path / WINDOW_VECTORS).exists():
            windows = np.load(path / WINDOW_VECTORS, mmap_mode="r")
            owner = np.load(path / WINDOW_OWNER)
            if len(owner) != len(windows) or (len(windows) and windows.shape[1] != manifest.dim) or \
                    (len(owner) and (owner.min() < 0 or owner.max() >= len(chunks) or np.any(np.diff(owner) < 0))):
                raise IndexCorrupt(f"{path}/{WINDOW_VECTORS} and {WINDOW_OWNER} do not fit the chunks; "
                                   "rebuild with `qa index`")
        bm25 = bm25s.BM25.load(str(path / "bm25"), show_progress=False)
        extras = _read_extras(path / EXTRAS)
    except IndexError_:
        raise
    except Exception as e:  # a damaged file that slipped past the checksums (verify=False)
        raise IndexCorrupt(f"cannot load index {path} ({type(e).__name__}: {e}); rebuild with `qa index`") from e
    segmenter = Segmenter.from_terms_file(path / "terms.txt")
    return LoadedIndex(path=path, manifest=manifest, documents=documents, chunks=chunks, vectors=vectors,
                       raw_vectors=raw, bm25=bm25, segmenter=segmenter, window_vectors=windows,
                       window_owner=owner, extras=extras)


_LOCKS: dict[Path, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def index_lock(index_dir: Path, cancel: CancelToken | None = None) -> Iterator[None]:
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
        while True:  # with a cancel token, a caller that gave up stops waiting (an upload's deadline)
            try:
                lock.acquire(timeout=None if cancel is None else 0.25)
                break
            except Timeout:
                cancel.check()  # type: ignore[union-attr]
    try:
        yield
    finally:
        lock.release()


class FileStore(Store):
    """An index folder: builds under `builds/`, the serving one named in `CURRENT`."""

    kind = "files"

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)

    @property
    def location(self) -> str:
        return f"{self.index_dir}/"

    def version(self) -> str | None:
        path = current_build(self.index_dir)
        return str(path) if path is not None else None

    def report_path(self) -> Path:
        return current_build(self.index_dir) or self.index_dir

    def lock(self):
        return index_lock(self.index_dir)

    def manifest(self) -> Manifest | None:
        path = current_build(self.index_dir)
        if path is None:
            return None
        return Manifest.read(path / "manifest.json")

    def documents(self) -> list[dict]:
        path = current_build(self.index_dir)
        if path is None:
            return []
        return json.loads((path / "documents.json").read_text(encoding="utf-8"))

    def extras(self) -> dict:
        path = current_build(self.index_dir)
        if path is None:
            return {}
        try:
            return _read_extras(path / EXTRAS)
        except (OSError, ValueError) as e:  # a rebuild must not fail on a damaged old build
            log.warning("not keeping the extras of %s: %s", path, e)
            return {}

    def write(self, data: BuildData) -> Manifest:
        build_path: Path | None = None
        try:
            build_path = new_build_dir(self.index_dir)
            manifest = write_build(build_path, data)
            publish_build(self.index_dir, build_path)
        except BaseException as e:
            if build_path is not None:
                shutil.rmtree(build_path, ignore_errors=True)  # frees what it took; CURRENT is untouched
            if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS and not isinstance(e, DiskFull):
                where = f" writing {Path(e.filename).name}" if e.filename else ""
                raise DiskFull(e.errno, f"no space left for the new build of {self.index_dir} ({os.strerror(e.errno)}"
                               f"{where}); it was removed and the serving index is unchanged: free some space "
                               "and run it again") from e
            raise
        return manifest

    def load(self, embedder_id: str | None = None, verify: bool = True) -> LoadedIndex:
        return load_index(self.index_dir, embedder_id, verify)

    def previous(self, embedder_id: str | None, reading: str = "") -> Previous:
        path = current_build(self.index_dir)
        if path is None:
            return Previous()
        terms, tokens = _previous_tokens(path)
        return Previous(reading=_previous_reading(path, reading), terms=terms, tokens=tokens,
                        vectors=_previous_vectors(path, embedder_id) if embedder_id else {})


def _previous_vectors(path: Path, embedder_id: str) -> dict[str, np.ndarray]:
    """key of the embedded text → vector (chunks and windows), from build `path` when it used the
    same embedder."""
    if not (path / "vectors.npy").exists() or not (path / VECTOR_KEYS).exists():
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


def _previous_reading(path: Path, reading: str) -> dict[tuple[str, str], PreviousFile]:
    """(source, sha256) → build `path`'s reading of that file, when it was read by the same reading
    code (fingerprint `reading`)."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("reading") != reading:
            return {}
        docs = json.loads((path / "documents.json").read_text(encoding="utf-8"))
        texts = json.loads((path / DOC_TEXTS).read_text(encoding="utf-8"))
        by_doc: dict[str, list[dict]] = {}
        with open(path / "chunks.jsonl", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    chunk = json.loads(line)
                    by_doc.setdefault(chunk["doc_id"], []).append(chunk)
        return group_reading(manifest.get("corpus", []), docs, by_doc, texts)
    except Exception as e:  # a damaged old build only costs re-reading
        log.warning("not reusing the reading of %s: %s", path, e)
        return {}


def group_reading(corpus: list[dict], docs: list[dict], by_doc: dict[str, list[dict]],
                  texts: dict[str, dict]) -> dict[tuple[str, str], PreviousFile]:
    """A build's documents, chunks and texts grouped by the corpus file they came from."""
    by_source: dict[str, list[dict]] = {}
    for d in docs:
        by_source.setdefault(d["source"], []).append(d)
    found: dict[tuple[str, str], PreviousFile] = {}
    for entry in corpus:
        file_docs = by_source.get(entry["source"], [])
        found[(entry["source"], entry["sha256"])] = PreviousFile(
            documents=file_docs, chunks={d["doc_id"]: by_doc.get(d["doc_id"], []) for d in file_docs},
            texts={d["doc_id"]: texts[d["doc_id"]] for d in file_docs if d["doc_id"] in texts})
    return found


def _previous_tokens(path: Path) -> tuple[set[str], dict[str, list[str]]]:
    """(domain terms, text key → tokens) of build `path`, for reuse."""
    if not (path / TOKENS).exists():
        return set(), {}
    try:
        terms = set((path / "terms.txt").read_text(encoding="utf-8").split())
        with open(path / TOKENS, encoding="utf-8") as fh:
            cached = dict(json.loads(line) for line in fh if line.strip())
        return terms, cached
    except Exception as e:  # a damaged cache only costs re-tokenising
        log.warning("not reusing tokens of %s: %s", path, e)
        return set(), {}
