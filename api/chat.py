"""An OpenAI-compatible face for chatbot frameworks: `POST /v1/chat/completions` and `GET /v1/models`.

A chatbot sends the conversation; the last user message is the question, answered by the service's
`ask` (the same extractive answer as POST /v1/ask, never generated text). A follow-up that names no
topic ("那配合的单位有哪些？") is made to stand alone with the previous user question's topic
(`qa.followup`); the question answered comes back as the extra field `question`. The reply's content is the
answer, or the not-in-corpus sentence, followed by the numbered sources, one per line:

    市乡村振兴局

    来源：
    [1] 关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接实施方案（青党发〔2021〕16号）二、主要任务 > …

The structured citations (the objects of /v1/ask) ride along as an extra top-level `citations` field
(on the last chunk when streaming). Any model name is accepted; replies name MODEL_ID. `usage` counts
characters, which for Chinese text is close to a token count. Errors use OpenAI's error shape, which
also carries our contract's `{"error": {"code", "message"}}`.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.followup import resolve as resolve_followup
from qa.service import QAService, QueryError

from .deps import ServiceDep
from .observability import record_answer
from .routes import hit_to_schema
from .schemas import ErrorBody, SearchHit

MODEL_ID = "gazette-qa"
MODEL_CREATED = int(time.time())
NOT_FOUND_SENTENCE = "文件中没有找到这个问题的答案。"
TOP_K = 5

router = APIRouter(tags=["chatbots (OpenAI-compatible)"])


# -- request and response bodies ---------------------------------------------------------------------

class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[dict[str, Any]] | None = Field(
        None, description="text, or OpenAI content parts of which the `text` parts are read")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"model": MODEL_ID, "messages": [{"role": "user", "content": "防止返贫动态监测由哪个部门牵头？"}]}]})

    model: str | None = Field(None, description=f"any name is accepted; replies name {MODEL_ID!r}")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: dict[str, Any] | None = Field(None, description="`include_usage` is honoured")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[SearchHit] = Field(description="the passages cited, as in POST /v1/ask")
    question: str = Field(description="the question answered: the last user message, or a follow-up that "
                                      "named no topic made to stand alone with the previous question's topic")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    code: str
    param: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


class ChatRequestError(Exception):
    """A request the endpoint refuses, answered in OpenAI's error shape."""

    def __init__(self, code: str, message: str, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.param = code, message, status, param


def openai_error(exc: ChatRequestError) -> JSONResponse:
    body = OpenAIError(error=OpenAIErrorDetail(message=exc.message, type="invalid_request_error",
                                               code=exc.code, param=exc.param))
    return JSONResponse(body.model_dump(), status_code=exc.status)


# -- reading the request -----------------------------------------------------------------------------

async def parse_request(request: Request) -> ChatRequest:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ChatRequestError("bad_json", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ChatRequestError("invalid_request", "the request body must be a JSON object")
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise ChatRequestError("invalid_request", f"'{field}': {first['msg']}", param=field) from None


def message_text(message: ChatMessage) -> str:
    if isinstance(message.content, list):
        return "".join(str(part.get("text", "")) for part in message.content if part.get("type") == "text")
    return message.content or ""


def question_of(body: ChatRequest, max_chars: int) -> str:
    """The last user message, checked as /v1/ask checks a question, made to stand alone when it is a
    follow-up that names no topic of its own (resolved against the earlier user messages)."""
    users = [message_text(m).strip() for m in body.messages if m.role == "user"]
    if not users:
        raise ChatRequestError("no_user_message", "the messages hold no message with role 'user'",
                               param="messages")
    question = users[-1]
    if not question:
        raise ChatRequestError("empty_query", "the last user message is empty", param="messages")
    if len(question) > max_chars:
        raise ChatRequestError("query_too_long", f"the last user message has {len(question)} characters; "
                                                 f"at most {max_chars}", param="messages")
    resolved = resolve_followup(question, [q for q in users[:-1] if len(q) <= max_chars]).resolved
    return resolved if len(resolved) <= max_chars else question


# -- the reply ---------------------------------------------------------------------------------------

def source_line(number: int, hit: SearchHit) -> str:
    """`[1] 标题（文号）section`, without （文号） where the document has none."""
    c = hit.citation
    title = c.doc_title or c.doc_id
    if c.doc_number:
        return f"[{number}] {title}（{c.doc_number}）{c.section or ''}"
    return f"[{number}] {title} {c.section or ''}".rstrip()


def reply_pieces(answer: str | None, found: bool, citations: list[SearchHit]) -> list[str]:
    """The reply's content in the pieces it is streamed in; joined they are the whole content."""
    pieces = [answer if found and answer else NOT_FOUND_SENTENCE]
    if citations:
        pieces.append("\n\n来源：\n" if found else "\n\n最接近的段落（仅供参考）：\n")
        lines = [source_line(i, hit) for i, hit in enumerate(citations, 1)]
        pieces += [line + "\n" for line in lines[:-1]] + lines[-1:]
    return pieces


def run_ask(service: QAService, question: str) -> tuple[list[str], list[SearchHit], str]:
    result = service.ask(question, TOP_K)
    citations = [hit_to_schema(service, i, h, result.state) for i, h in enumerate(result.hits, 1)]
    found = result.answer.answer_type != "none"
    return reply_pieces(result.answer.answer, found, citations), citations, result.answer.answer_type


def usage_of(body: ChatRequest, content: str) -> Usage:
    prompt = sum(len(message_text(m)) for m in body.messages)
    return Usage(prompt_tokens=prompt, completion_tokens=len(content), total_tokens=prompt + len(content))


# -- streaming ---------------------------------------------------------------------------------------

def sse(data: dict | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n"


def stream_events(completion_id: str, created: int, pieces: list[str], citations: list[SearchHit],
                  usage: Usage | None, question: str) -> Iterator[str]:
    """Server-sent events: the role, one content delta per piece, the stop chunk with the citations,
    the usage chunk when asked for (stream_options.include_usage), then [DONE]."""
    def chunk(delta: dict, finish_reason: str | None = None, **extra: Any) -> str:
        return sse({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                    "model": MODEL_ID, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                    **extra})

    yield chunk({"role": "assistant", "content": ""})
    for piece in pieces:
        yield chunk({"content": piece})
    yield chunk({}, "stop", citations=[c.model_dump() for c in citations], question=question)
    if usage is not None:
        yield sse({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                   "model": MODEL_ID, "choices": [], "usage": usage.model_dump()})
    yield sse("[DONE]")


# -- routes ------------------------------------------------------------------------------------------

def _inlined_schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema with its $defs inlined (the body is read by hand, so FastAPI does not
    register it; this documents it in the OpenAPI page all the same)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)


_CHAT_DOC = {"requestBody": {"required": True,
                             "content": {"application/json": {"schema": _inlined_schema(ChatRequest)}}}}


@router.post("/v1/chat/completions", response_model=None, openapi_extra=_CHAT_DOC,
             summary="OpenAI-compatible chat completion: the answer to the last user message, with sources",
             responses={200: {"model": ChatCompletion, "content": {"text/event-stream": {}},
                              "description": "a chat.completion, or chat.completion.chunk events when stream"},
                        400: {"model": OpenAIError, "description": "invalid request"},
                        413: {"model": ErrorBody, "description": "request body over 64 KiB"}})
async def chat_completions(request: Request, service: ServiceDep) -> JSONResponse | StreamingResponse:
    try:
        body = await parse_request(request)
        question = question_of(body, service.settings.max_query_chars)
        pieces, citations, answer_type = await run_in_threadpool(run_ask, service, question)
    except ChatRequestError as e:
        return openai_error(e)
    except QueryError as e:
        return openai_error(ChatRequestError(e.code, e.message))
    record_answer(request, "/v1/chat/completions", answer_type)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    content = "".join(pieces)
    usage = usage_of(body, content)
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        events = stream_events(completion_id, created, pieces, citations, usage if include_usage else None,
                               question)
        return StreamingResponse(events, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    completion = ChatCompletion(id=completion_id, created=created, model=MODEL_ID, usage=usage,
                                choices=[Choice(message=AssistantMessage(content=content))], citations=citations,
                                question=question)
    return JSONResponse(completion.model_dump())


MODEL_CARD = ModelCard(id=MODEL_ID, created=MODEL_CREATED, owned_by="gazette-qa")


@router.get("/v1/models", response_model=ModelList, summary="The model name chatbots may use")
async def list_models() -> ModelList:
    return ModelList(data=[MODEL_CARD])


@router.get("/v1/models/{model_id}", response_model=ModelCard,
            responses={404: {"model": OpenAIError}, 422: {"model": ErrorBody}})
async def retrieve_model(model_id: str) -> ModelCard | JSONResponse:
    if model_id != MODEL_ID:
        return openai_error(ChatRequestError("model_not_found", f"the model {model_id!r} does not exist; "
                                             f"use {MODEL_ID!r}", status=404, param="model"))
    return MODEL_CARD
