"""Request and response bodies of the HTTP contract (shared/API.md). Field names are fixed; more may be added."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

# the answer shapes and the limits are defined once, in qa/contract.py (the CLI and MCP use them too)
from qa.contract import (DEFAULT_TOP_K, MAX_QUERY_CHARS, MAX_TOP_K, AskResponse, Citation,  # noqa: F401
                         SearchHit, SearchResponse, TaskCitation, TaskOut, TasksResponse, UnitInfo, UnitRef,
                         UnitsResponse)
from qa.filters import SearchFilter

_FILTERS = "only passages of documents that match every given key (ranked among those, not filtered after)"


class SearchRequest(BaseModel):
    # a misspelt field ("topk") must be an error, not a silently ignored default
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"query": "污水处理站建设谁牵头？", "top_k": 5}]})

    query: StrictStr = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="the question or keywords")
    top_k: StrictInt = Field(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description="how many passages to return")
    doc: StrictStr | None = Field(None, max_length=200, description="search only this document (a doc_id)")
    filters: SearchFilter | None = Field(None, description=_FILTERS)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"question": "防止返贫动态监测由哪个部门牵头？", "top_k": 5}]})

    question: StrictStr = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    top_k: StrictInt = Field(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description="how many citations to return")
    filters: SearchFilter | None = Field(None, description=_FILTERS)


class Health(BaseModel):
    status: str
    documents: int
    chunks: int
    index_version: str
    embedder: str
    store: str = Field("files", description="where the index lives: 'files' or 'milvus'")


class DocumentMeta(BaseModel):
    doc_id: str
    title: str
    doc_number: str | None
    issuer: str | None
    date: str | None
    addressees: str | None
    category: str | None
    source: str


class DocumentInfo(DocumentMeta):
    chunks: int


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class DocumentChunk(BaseModel):
    chunk_id: int
    char_start: int = Field(description="offset in the source file (subtract text_start to index `text`)")
    char_end: int
    section: str | None
    kind: str
    page: int | None


class DocumentText(DocumentMeta):
    text: str = Field(description="the document's stretch of its source file")
    text_start: int = Field(description="offset of text[0] in the source file")
    chunks: list[DocumentChunk]


class BuildSummary(BaseModel):
    index_version: str
    documents: int
    chunks: int
    embedded: int = Field(description="vectors (of chunks and their sentence windows) embedded by this build")
    reused: int = Field(description="vectors taken over from the previous build")
    files_read: int = Field(description="files read by this build; the others were unchanged and not read again")
    seconds: float
    skipped: list[dict]
