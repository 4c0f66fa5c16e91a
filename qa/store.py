"""The on-disk index: FAISS vectors, a BM25 lexical index, the chunk store and a manifest.

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

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bm25s
import faiss
import numpy as np

from .model import Chunk, Document
from .segment import Segmenter

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CURRENT = "CURRENT"
VECTOR_KEYS = "vector_keys.txt"
WINDOW_VECTORS = "window_vectors.npy"
WINDOW_OWNER = "window_owner.npy"
WINDOW_KEYS = "window_keys.txt"
DOC_TEXTS = "document_texts.json"
TOKENS = "tokens.jsonl"
BUILDS = "builds"
BUILD_LOCK = ".build.lock"


class IndexError_(RuntimeError):
    """Base for index problems that the user can fix by (re)building."""


class IndexNotFound(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class Manifest:
    format_version: int
    build_id: str
    built_at: str
    embedder: str
    dim: int
    corpus: list[dict]  # [{"source", "path", "sha256", "documents", "chunks"}]
    counts: dict
    files: dict = field(default_factory=dict)  # file name -> sha256
    timings: dict = field(default_factory=dict)
    vector_index: str = "flat"
    excluded_docs: list = field(default_factory=list)
    reading: str = ""  # fingerprint of the reading code (qa.indexer.reading_fingerprint)

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")


@dataclass
class LoadedIndex:
    """Everything retrieval needs, in memory."""

    path: Path
    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: faiss.Index | None
    raw_vectors: np.ndarray | None
    bm25: bm25s.BM25
    segmenter: Segmenter
    window_vectors: np.ndarray | None = None  # sentence windows of long chunks (None in older builds)
    window_owner: np.ndarray | None = None  # chunk row of each window, non-decreasing

    @property
    def version(self) -> str:
        return self.manifest.build_id

    def document_text(self, doc_id: str) -> dict | None:
        """{"text_start", "text"} of a document, read on demand (reading views are rare)."""
        try:
            texts = json.loads((self.path / DOC_TEXTS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return texts.get(doc_id)


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


def write_build(path: Path, *, documents: list[Document], chunks: list[Chunk], vectors: np.ndarray | None,
                token_lists: list[list[str]], segmenter: Segmenter, embedder_id: str,
                vector_keys: list[str] | None = None, doc_texts: dict[str, dict] | None = None,
                lexical_texts: list[str] | None = None, dim: int,
                corpus: list[dict], timings: dict, vector_index: str = "auto",
                excluded_docs: list[str] | None = None, reading: str = "", window_vectors: np.ndarray | None = None,
                window_owner: Sequence[int] | None = None, window_keys: list[str] | None = None) -> Manifest:
    """Write every file of a build into `path` (a fresh folder) and its manifest last."""
    (path / "documents.json").write_text(
        json.dumps([d.metadata() for d in documents], ensure_ascii=False, indent=1), encoding="utf-8")
    (path / DOC_TEXTS).write_text(json.dumps(doc_texts or {}, ensure_ascii=False), encoding="utf-8")
    with open(path / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for c in chunks:
            fh.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
    kind = "none"
    if vectors is not None:
        np.save(path / "vectors.npy", vectors.astype(np.float32))
        if vector_keys:  # hashes of the embedded texts: a rebuild reuses vectors whose text is unchanged
            (path / VECTOR_KEYS).write_text("\n".join(vector_keys) + "\n", encoding="utf-8")
        index, kind = make_vector_index(vectors, vector_index)
        faiss.write_index(index, str(path / "vectors.faiss"))
        if window_vectors is not None and window_owner is not None:
            np.save(path / WINDOW_VECTORS, np.asarray(window_vectors, dtype=np.float32))
            np.save(path / WINDOW_OWNER, np.asarray(window_owner, dtype=np.int32))
            if window_keys:
                (path / WINDOW_KEYS).write_text("\n".join(window_keys) + "\n", encoding="utf-8")
    retriever = bm25s.BM25()
    # an empty token list would make bm25s fail; "" never matches a query term
    retriever.index([t if t else [""] for t in token_lists] or [[""]], show_progress=False)
    retriever.save(str(path / "bm25"), show_progress=False)
    segmenter.save_terms(path / "terms.txt")
    if lexical_texts is not None:  # tokens by text hash: a rebuild re-tokenises only what changed
        with open(path / TOKENS, "w", encoding="utf-8") as fh:
            for text, tokens in zip(lexical_texts, token_lists):
                fh.write(json.dumps([text_key(text), tokens], ensure_ascii=False) + "\n")
    files = {str(p.relative_to(path)): sha256_file(p) for p in sorted(path.rglob("*")) if p.is_file()}
    manifest = Manifest(
        format_version=FORMAT_VERSION, build_id=path.name.removesuffix(".partial"),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), embedder=embedder_id, dim=dim, corpus=corpus,
        counts={"documents": len(documents), "chunks": len(chunks)}, files=files, timings=timings,
        vector_index=kind, excluded_docs=excluded_docs or [], reading=reading,
    )
    manifest.write(path / "manifest.json")
    return manifest


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
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatch(f"index in {path} has format {manifest.format_version}, this version reads "
                            f"{FORMAT_VERSION}; rebuild with `qa index`")
    if embedder_id is not None and manifest.embedder != embedder_id:
        raise IndexMismatch(
            f"index in {index_dir}/ was built with embedder {manifest.embedder!r} but {embedder_id!r} is "
            f"configured; rebuild it with `QA_EMBEDDER={_setting_for(embedder_id)} qa index --index {index_dir}` "
            f"or set QA_EMBEDDER={_setting_for(manifest.embedder)} to use it as it is")
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
    except IndexError_:
        raise
    except Exception as e:  # a damaged file that slipped past the checksums (verify=False)
        raise IndexCorrupt(f"cannot load index {path} ({type(e).__name__}: {e}); rebuild with `qa index`") from e
    segmenter = Segmenter.from_terms_file(path / "terms.txt")
    return LoadedIndex(path=path, manifest=manifest, documents=documents, chunks=chunks, vectors=vectors,
                       raw_vectors=raw, bm25=bm25, segmenter=segmenter, window_vectors=windows,
                       window_owner=owner)


def _setting_for(embedder_id: str) -> str:
    """The QA_EMBEDDER value that makes an embedder with this id."""
    if embedder_id.startswith("e5:"):
        return "e5"
    if embedder_id.startswith("e5-onnx:"):
        return "e5-onnx:" + embedder_id.split(":")[1]
    return embedder_id
