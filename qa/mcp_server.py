"""The service as a Model Context Protocol server, so that an MCP-capable assistant can search the
documents, ask them and read one: `qa mcp` (stdio) or `qa mcp --http PORT` (streamable HTTP at /mcp).

Built on the official `mcp` SDK (`MCPServer`, FastMCP's successor). Tools return the same JSON as the
HTTP API (`/v1/search`, `/v1/ask`, `/v1/documents/{id}`), as structured content and as text. A bad
argument is never a crash: the SDK checks each call against the tool's input schema (types, ranges,
required fields, unknown fields) and answers a result with `isError` and the reason; a query the
service refuses (unknown document, a question of blanks) is answered the same way.
"""
# no `from __future__ import annotations`: the SDK reads the tools' annotations at run time, and
# they name types local to build_server (limits taken from the settings)
import logging
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from .contract import ask_response, search_response
from .filters import SearchFilter
from .service import QAService, QueryError

log = logging.getLogger(__name__)

SERVER_NAME = "gazette-qa"
DOCUMENT_CHARS = 20_000
_FILTERS = ("only documents matching every given key: doc_ids (list), issuer (substring), date_from / date_to "
            "(YYYY-MM-DD), source_prefix")  # a page of a document's text per call: a whole issue would flood a model's context

INSTRUCTIONS = (
    "Answers questions about Chinese government documents (gazettes, notices, laws) with citations. "
    "Use `ask` for a question (who leads a task, a target, a deadline, which document says what): it returns "
    "a short answer taken verbatim from the documents, or answer_type 'none' when they do not answer. "
    "Use `search` for the passages themselves, and `document` to read a cited document (doc_id from a "
    "citation). Questions and queries work best in Chinese.")


def _refuse(e: QueryError) -> Exception:
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(f"{e.code}: {e.message}")


def build_server(service: QAService) -> Any:
    """An `MCPServer` with the tools `search`, `ask` and `document` over `service`."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from . import __version__

    s = service.settings
    Query = Annotated[str, Field(min_length=1, max_length=s.max_query_chars,
                                 description="the question or keywords, best in Chinese")]
    TopK = Annotated[int, Field(ge=1, le=s.max_top_k, strict=True, description="how many passages to return")]
    tools: list[Any] = []

    def tool(description: str):
        def register(fn):
            tools.append(_strict_tool(fn, description))
            return fn
        return register

    @tool(
        "The passages of the documents most relevant to a query, each with its citation (document title, "
        "文号, issuer, date, section path, character offsets in the source file).")
    def search(query: Query, top_k: TopK = 5,
               doc: Annotated[str | None, Field(max_length=200, description=(
                   "search only this document (a doc_id from a citation)"))] = None,
               filters: Annotated[SearchFilter | None, Field(description=_FILTERS)] = None) -> dict[str, Any]:
        try:
            result = service.search(query, top_k, doc, filters)
        except QueryError as e:
            raise _refuse(e) from None
        return search_response(service, result).model_dump()

    @tool(
        "A short answer to a question, taken verbatim from the documents, with its citations: the lead "
        "(牵头) and supporting (责任/配合) units of a task, a figure, a deadline, a document's title/文号/date, "
        "or the best sentence. answer is null and answer_type 'none' when the documents do not answer; "
        "the closest passages are cited anyway.")
    def ask(question: Query, top_k: Annotated[int, Field(ge=1, le=s.max_top_k, strict=True,
                                                         description="how many citations to return")] = 5,
            filters: Annotated[SearchFilter | None, Field(description=_FILTERS)] = None) -> dict[str, Any]:
        try:
            result = service.ask(question, top_k, filters)
        except QueryError as e:
            raise _refuse(e) from None
        return ask_response(service, result).model_dump()

    @tool(
        "One document: its metadata (title, 文号, issuer, date, addressees, source file), the sections of "
        f"its chunks, and its text, {DOCUMENT_CHARS} characters per call from `offset` (call again with "
        "next_offset for more). doc_id comes from a citation of `search` or `ask`.")
    def document(doc_id: Annotated[str, Field(min_length=1, max_length=200, description="the document's doc_id")],
                 offset: Annotated[int, Field(ge=0, strict=True, description="first character of the text to return")] = 0,
                 max_chars: Annotated[int, Field(ge=0, le=DOCUMENT_CHARS, strict=True, description=(
                     "most characters of text to return (0: metadata and sections only)"))] = DOCUMENT_CHARS,
                 ) -> dict[str, Any]:
        index = service.index
        doc = index.documents.get(doc_id)
        if doc is None:
            raise ToolError(f"unknown_document: no document with doc_id {doc_id!r}; ids are in the citations "
                            "of search and ask")
        stored = index.document_text(doc_id) or {"text_start": 0, "text": ""}
        full = stored["text"]
        if offset > len(full):
            raise ToolError(f"bad_offset: the text has {len(full)} characters; offset {offset} is past its end")
        text = full[offset:offset + max_chars]
        end = offset + len(text)
        sections: list[str] = []
        for c in index.chunks:  # reading order; a section is listed once, where it first appears
            if c.doc_id == doc_id and c.section_path and c.section_path not in sections:
                sections.append(c.section_path)
        return {**doc.metadata(), "chunks": sum(1 for c in index.chunks if c.doc_id == doc_id),
                "sections": sections, "text_start": stored["text_start"], "text_length": len(full),
                "offset": offset, "text": text, "next_offset": end if end < len(full) else None}

    return MCPServer(SERVER_NAME, title="Gazette QA", version=__version__, instructions=INSTRUCTIONS,
                     tools=tools)


def _strict_tool(fn: Any, description: str) -> Any:
    """The SDK's tool for `fn`, refusing arguments it does not take: a misspelt `topk` must be an
    error the caller sees, not a silently ignored default (as on the HTTP API)."""
    from mcp.server.mcpserver.tools.base import Tool
    from mcp_types import ToolAnnotations

    t = Tool.from_function(fn, description=description, annotations=ToolAnnotations(
        read_only_hint=True, idempotent_hint=True, open_world_hint=False))
    base = t.fn_metadata.arg_model
    t.fn_metadata.arg_model = type(base.__name__, (base,), {"model_config": ConfigDict(
        **base.model_config, extra="forbid")})
    t.parameters["additionalProperties"] = False
    return t


def run(service: QAService, http_port: int | None = None, host: str = "127.0.0.1") -> None:
    """Serve over stdio (the default: the assistant launches `qa mcp`), or over streamable HTTP at
    http://HOST:PORT/mcp."""
    server = build_server(service)
    if http_port is None:
        log.info("MCP server on stdio (tools: search, ask, document)")
        server.run("stdio")
    else:
        log.info("MCP server on http://%s:%d/mcp (streamable HTTP)", host, http_port)
        server.run("streamable-http", host=host, port=http_port)

