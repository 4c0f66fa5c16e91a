"""Request and response bodies of the HTTP contract (shared/API.md). Field names are fixed; more may be added."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

MAX_QUERY_CHARS = 512


class SearchRequest(BaseModel):
    # a misspelt field ("topk") must be an error, not a silently ignored default
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"query": "污水处理站建设谁牵头？", "top_k": 5}]})

    query: StrictStr = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="the question or keywords")
    top_k: StrictInt = Field(5, ge=1, le=50, description="how many passages to return")
    doc: StrictStr | None = Field(None, max_length=200, description="search only this document (a doc_id)")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"question": "防止返贫动态监测由哪个部门牵头？", "top_k": 5}]})

    question: StrictStr = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    top_k: StrictInt = Field(5, ge=1, le=50, description="how many citations to return")


class Citation(BaseModel):
    doc_id: str
    doc_title: str | None
    doc_number: str | None = Field(description="文号, null where the document has none")
    issuer: str | None
    date: str | None = Field(description="ISO date of the document")
    section: str | None = Field(description="section path, e.g. 二、主要任务 > （三）… > 14.")
    page: int | None
    source: str | None = Field(description="corpus file the passage comes from")
    char_start: int
    char_end: int
    version: str | None = Field(None, description="for one of several versions of a law: its version "
                                "(the title's note, e.g. 2012修正, else its date); null otherwise")
    latest_version: bool | None = Field(None, description="whether this is the newest indexed version of the law; "
                                        "null when the index holds one version")


class SearchHit(BaseModel):
    rank: int
    score: float
    text: str
    citation: Citation
    chunk_id: int
    lexical_score: float
    dense_score: float
    match: Literal["article"] | None = Field(None, description="'article': the passage holds the article the "
                                             "question names by number (looked up, ranked first)")


class SearchResponse(BaseModel):
    query: str
    took_ms: float
    results: list[SearchHit]


class AskResponse(BaseModel):
    question: str
    answer: str | None
    answer_type: Literal["lead_unit", "number", "date", "document", "person", "task_list", "passage", "none"]
    lead_units: list[str]
    supporting_units: list[str]
    confidence: float
    citations: list[SearchHit]
    took_ms: float


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
