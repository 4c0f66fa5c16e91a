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
    match: Literal["article", "document"] | None = Field(
        None, description="'article': the passage holds the article the question names by number (looked up, "
                          "ranked first); 'document': the document's own header, cited for a 文号/issuer/date answer")


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


# --- tasks and units (GET /v1/tasks, GET /v1/units; task_list answers of /v1/ask) --------------------


class TaskCitation(BaseModel):
    rank: int
    text: str = Field(description="the passage the task is printed in, as /v1/search returns it")
    citation: Citation
    chunk_id: int
    kind: Literal["item", "lines", "row", "prose"] = Field(
        description="item: a body item closed by a unit marking; lines: an item with 牵头单位/责任单位 lines; "
                    "row: a row of an annex task table; prose: responsibility stated in a sentence (由X负责)")


class TaskOut(BaseModel):
    task_id: str = Field(description="stable id of the task (its document and where it is printed)")
    title: str = Field(description="short name of the task as printed, e.g. 实施滩区治理工程")
    text: str = Field(description="the task's passage as it reads in the source")
    lead_units: list[str] = Field(description="units the text says lead it (牵头), one spelling per unit")
    supporting_units: list[str] = Field(description="units named as 责任/配合 units (or 'X负责') that do not lead it")
    deadline: str | None = Field(description="完成时限 where the document gives one")
    role: Literal["lead", "support"] | None = Field(None, description="the asked unit's role in this task; "
                                                    "null when no unit was asked")
    doc_id: str
    doc_title: str | None
    doc_number: str | None
    section: str | None
    citations: list[TaskCitation] = Field(description="every place the task is printed (a body item and the "
                                          "rows of an annex that repeat it)")


class UnitRef(BaseModel):
    name: str = Field(description="the unit's fullest spelling in the documents")
    aliases: list[str] = Field(description="the other spellings of the same unit found in the documents")


class TasksResponse(BaseModel):
    unit: UnitRef | None = Field(description="the unit asked for; null when none was")
    role: Literal["lead", "support", "any"]
    total: int = Field(description="tasks matching, before paging")
    limit: int
    offset: int
    tasks: list[TaskOut]
    took_ms: float


class UnitInfo(UnitRef):
    lead: int = Field(description="tasks it leads")
    support: int = Field(description="tasks it takes part in without leading them")


class UnitsResponse(BaseModel):
    units: list[UnitInfo]


class AskWithTasksResponse(AskResponse):
    tasks: list[TaskOut] | None = Field(None, description="answer_type task_list: the tasks of the unit asked "
                                        "about, as GET /v1/tasks returns them")
