"""Where an index lives. Each store owns its layout — how a build is written, published, loaded and
changed — behind one interface (`qa.store.base.Store`):

- `files` (default, `qa.store.files`): FAISS + bm25s + JSON files in an index folder;
- `milvus` (`qa.store.milvus`): one Milvus collection per build behind an alias, through pymilvus's
  `MilvusClient` — milvus-lite for a local path, a Milvus server or cluster for `http(s)://host:19530`.

`open_store(settings)` picks one from the settings (`QA_STORE`), or, when that is unset, from what the
index folder says (`store.json`, written by a Milvus build, so `qa index add FILE --index DIR` finds the
collection the folder was built into). pymilvus is imported only when a Milvus store is used, so the
default install never loads pymilvus or ray.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import json

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
    "make_vector_index", "new_build_dir", "open_store", "store_pointer", "publish_build", "sha256_file", "text_key",
    "verify_build", "write_build",
]


POINTER = "store.json"


def store_pointer(index_dir: Path) -> dict:
    """What a Milvus build wrote into its index folder ({"store", "uri", "collection"}), or {}."""
    try:
        info = json.loads((Path(index_dir) / POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def open_store(settings: "Settings", index_dir: Path | None = None) -> Store:
    """The store the settings name: the index folder itself, or a Milvus collection (the index folder
    then holds the build lock and `store.json`). Unset settings fall back on the folder's `store.json`,
    then on the files store; a Milvus URI defaults to `<index folder>/milvus.db` (milvus-lite)."""
    index_dir = Path(index_dir if index_dir is not None else settings.index_dir)
    pointer = store_pointer(index_dir)
    kind = getattr(settings, "store", None) or pointer.get("store") or "files"
    if kind == "files":
        return FileStore(index_dir)
    if kind == "milvus":
        from .milvus import MilvusStore

        same = pointer.get("store") == "milvus"
        uri = settings.milvus_uri or (pointer.get("uri") if same else None) or str(index_dir / "milvus.db")
        alias = settings.milvus_collection if "milvus_collection" in settings.model_fields_set or not same \
            else pointer.get("collection") or settings.milvus_collection
        return MilvusStore(index_dir, uri, token=settings.milvus_token, alias=alias,
                           vector_index=getattr(settings, "vector_index", "auto"))
    raise ValueError(f"unknown store {kind!r}: use one of {', '.join(STORE_KINDS)}")
