"""What every store shares: the data a build hands over (`BuildData`), what the indexer may reuse from
the serving build (`Previous`), the loaded index retrieval reads (`LoadedIndex`), the manifest, the
errors, and the `Store` interface that each store (files, Milvus) implements.

The indexer is a pipeline read → chunk → segment → embed → `store.write(BuildData)`; it never opens a
file or a collection itself. A store owns its layout: how a build is written, published (so that a
crash mid-build leaves the old one serving), loaded, changed in place (add/remove) and listed.
"""
from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from ..model import Chunk, Document
from ..segment import Segmenter

FORMAT_VERSION = 1


class IndexError_(RuntimeError):
    """Base for index problems that the user can fix by (re)building."""


class IndexNotFound(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


class StoreUnavailable(IndexError_):
    """The store cannot be reached or is not installed (a Milvus server down, pymilvus missing)."""


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
    files: dict = field(default_factory=dict)  # file name -> sha256 (files store)
    timings: dict = field(default_factory=dict)
    vector_index: str = "flat"
    excluded_docs: list = field(default_factory=list)
    reading: str = ""  # fingerprint of the reading code (qa.indexer.reading_fingerprint)
    store: str = "files"

    @classmethod
    def from_dict(cls, data: dict) -> "Manifest":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")


@dataclass
class BuildData:
    """Everything one build consists of, as the indexer's pipeline produced it. Rows line up:
    `chunks[i]`, `vectors[i]`, `vector_keys[i]`, `token_lists[i]` and `lexical_texts[i]` are one chunk;
    `window_owner[j]` is the chunk row of window vector `window_vectors[j]`. `extras` carries what
    other parts of the service keep with an index (a name → JSON-able object or bytes); each store
    keeps it beside the chunks and returns it as `LoadedIndex.extras`."""

    documents: list[Document]
    chunks: list[Chunk]
    token_lists: list[list[str]]
    segmenter: Segmenter
    embedder_id: str
    dim: int
    vectors: np.ndarray | None = None
    vector_keys: list[str] = field(default_factory=list)
    window_vectors: np.ndarray | None = None
    window_owner: list[int] = field(default_factory=list)
    window_keys: list[str] = field(default_factory=list)
    lexical_texts: list[str] | None = None
    doc_texts: dict[str, dict] = field(default_factory=dict)
    corpus: list[dict] = field(default_factory=list)  # the sources: one entry per file
    timings: dict = field(default_factory=dict)
    vector_index: str = "auto"
    excluded_docs: list[str] = field(default_factory=list)
    reading: str = ""
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreviousFile:
    """What the serving build made of one unchanged file: its documents, chunks and their texts."""

    documents: list[dict]
    chunks: dict[str, list[dict]]  # doc_id → its chunks, in order
    texts: dict[str, dict]


@dataclass
class Previous:
    """What a new build may take over from the serving one instead of recomputing it."""

    reading: dict[tuple[str, str], PreviousFile] = field(default_factory=dict)  # (source, sha256) → reading
    terms: set[str] = field(default_factory=set)  # the domain dictionary the tokens were cut with
    tokens: dict[str, list[str]] = field(default_factory=dict)  # text key → tokens
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # text key → vector (same embedder only)


@dataclass
class LoadedIndex:
    """Everything retrieval needs, in memory (files store), or the chunks and documents in memory
    with the vector and lexical search delegated to the store (`search` set: Milvus)."""

    path: Path
    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: Any  # faiss.Index | None (files store)
    raw_vectors: np.ndarray | None
    bm25: Any  # bm25s.BM25 | None (files store)
    segmenter: Segmenter
    window_vectors: np.ndarray | None = None  # sentence windows of long chunks (None in older builds)
    window_owner: np.ndarray | None = None  # chunk row of each window, non-decreasing
    extras: dict[str, Any] = field(default_factory=dict)
    search: Any = None  # a store-side searcher (qa.store.milvus.MilvusSearch) instead of bm25/vectors
    store: str = "files"
    doc_texts: dict[str, dict] | None = None  # held in memory by stores that cannot read them on demand
    text_reader: Callable[[str], dict | None] | None = None  # reads one document's text from the store (Milvus)

    @property
    def version(self) -> str:
        return self.manifest.build_id

    def document_text(self, doc_id: str) -> dict | None:
        """{"text_start", "text"} of a document, read on demand (reading views are rare)."""
        if self.doc_texts is not None:
            return self.doc_texts.get(doc_id)
        if self.text_reader is not None:
            return self.text_reader(doc_id)
        try:
            texts = json.loads((self.path / "document_texts.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return texts.get(doc_id)


class Store(ABC):
    """Where builds live. `incremental` stores change the serving build in place on add/remove
    (upsert, delete); the others get a complete new build from the indexer each time."""

    kind: ClassVar[str]
    incremental: ClassVar[bool] = False

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the index is, for messages (a folder, a Milvus URI and collection)."""

    @abstractmethod
    def version(self) -> str | None:
        """A token that changes whenever what serves changes; None when there is no index yet."""

    def exists(self) -> bool:
        return self.version() is not None

    @abstractmethod
    def lock(self) -> Any:
        """A context manager held by the one build, add or remove running on this index."""

    @abstractmethod
    def manifest(self) -> Manifest | None:
        """The serving build's manifest, None when there is none."""

    @abstractmethod
    def documents(self) -> list[dict]:
        """Metadata of the serving build's documents (what /v1/documents lists)."""

    @abstractmethod
    def previous(self, embedder_id: str | None, reading: str = "") -> Previous:
        """What a new build can reuse from the serving one (empty when there is none): its reading of
        files only when it was read by the same reading code (fingerprint `reading`), its vectors only
        when made by embedder `embedder_id`."""

    @abstractmethod
    def write(self, data: BuildData) -> Manifest:
        """Write a complete build and publish it (the old one serves until it is complete)."""

    @abstractmethod
    def load(self, embedder_id: str | None = None, verify: bool = True) -> LoadedIndex:
        """Load the serving build. `embedder_id` None skips the embedder check (lexical-only use)."""

    def extras(self) -> dict[str, Any]:
        """What the serving build keeps beside its chunks (`BuildData.extras`); a rebuild keeps it."""
        return {}

    def upsert(self, data: BuildData, replaced_sources: set[str]) -> Manifest:  # pragma: no cover
        """Incremental stores: add `data`'s documents, replacing every document of `replaced_sources`."""
        raise NotImplementedError

    def delete(self, doc_id: str, drop_source: bool) -> Manifest:  # pragma: no cover
        """Incremental stores: remove one document (and its file from the corpus list if `drop_source`)."""
        raise NotImplementedError

    def describe(self) -> dict:
        """What /healthz says about the store."""
        return {"store": self.kind}

    def report_path(self) -> Path:
        """Where a build report says the index went."""
        return Path(self.location)


def setting_for(embedder_id: str) -> str:
    """The QA_EMBEDDER value that makes an embedder with this id."""
    if embedder_id.startswith("e5:"):
        return "e5"
    if embedder_id.startswith("e5-onnx:"):
        return "e5-onnx:" + embedder_id.split(":")[1]
    return embedder_id


def check_manifest(manifest: Manifest, embedder_id: str | None, where: str, rebuild: str) -> None:
    """The checks every store makes before it serves a build: format and embedder."""
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatch(f"index in {where} has format {manifest.format_version}, this version reads "
                            f"{FORMAT_VERSION}; rebuild with `qa index`")
    if embedder_id is not None and manifest.embedder != embedder_id:
        raise IndexMismatch(
            f"index in {where} was built with embedder {manifest.embedder!r} but {embedder_id!r} is "
            f"configured; rebuild it with `QA_EMBEDDER={setting_for(embedder_id)} {rebuild}` "
            f"or set QA_EMBEDDER={setting_for(manifest.embedder)} to use it as it is")


@contextmanager
def nothing() -> Iterator[None]:
    yield
