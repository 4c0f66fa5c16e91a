"""Where an index lives. Each store owns its layout — how a build is written, published, loaded and
changed — behind one interface (`qa.store.base.Store`):

- `files` (default, `qa.store.files`): FAISS + bm25s + JSON files in an index folder;
- `milvus` (planned, issue 13: a Milvus collection through pymilvus's `MilvusClient`): not written yet;
  `QA_STORE=milvus` fails with a clear message.

`open_store(settings)` picks one from the settings (`QA_STORE`). A store's client library is to be
imported only when that store is opened, so the default install never loads pymilvus or ray.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import faiss  # noqa: F401  (tests patch qa.store.faiss.write_index to stall a build mid-write)

from .base import (FORMAT_VERSION, BuildData, IndexCorrupt, IndexError_, IndexMismatch, IndexNotFound,
                   LoadedIndex, Manifest, Previous, PreviousFile, Store, StoreUnavailable, sha256_file,
                   text_key)
from .files import (BUILD_LOCK, BUILDS, CURRENT, DISK_FULL_ERRNOS, DOC_TEXTS, FLAT_MAX, TOKENS, VECTOR_INDEX_KINDS,
                    VECTOR_KEYS, WINDOW_KEYS, WINDOW_OWNER, WINDOW_VECTORS, DiskFull, FileStore, current_build, index_lock,
                    load_index, make_vector_index, new_build_dir, publish_build, verify_build, write_build)

if TYPE_CHECKING:
    from ..settings import Settings

STORE_KINDS = ("files", "milvus")

__all__ = [
    "BUILD_LOCK", "BUILDS", "CURRENT", "DISK_FULL_ERRNOS", "DiskFull", "DOC_TEXTS", "FLAT_MAX", "FORMAT_VERSION", "STORE_KINDS", "TOKENS",
    "VECTOR_INDEX_KINDS", "VECTOR_KEYS", "WINDOW_KEYS", "WINDOW_OWNER", "WINDOW_VECTORS", "BuildData",
    "FileStore", "IndexCorrupt", "IndexError_", "IndexMismatch", "IndexNotFound", "LoadedIndex", "Manifest",
    "Previous", "PreviousFile", "Store", "StoreUnavailable", "current_build", "index_lock", "load_index",
    "make_vector_index", "new_build_dir", "open_store", "publish_build", "sha256_file", "text_key",
    "verify_build", "write_build",
]


def open_store(settings: "Settings", index_dir: Path | None = None) -> Store:
    """The store the settings name: the index folder itself, or a Milvus collection (the index folder
    then holds only the build lock)."""
    index_dir = Path(index_dir if index_dir is not None else settings.index_dir)
    kind = getattr(settings, "store", "files")
    if kind == "files":
        return FileStore(index_dir)
    if kind == "milvus":
        # the interface is ready for it (Store, BuildData, upsert/delete); the store itself is not written yet
        raise StoreUnavailable("QA_STORE=milvus: the Milvus store is not implemented in this version "
                               "(issue 13); use QA_STORE=files")
    raise ValueError(f"unknown store {kind!r}: use one of {', '.join(STORE_KINDS)}")
