"""Every error is JSON `{"error": {"code", "message"}}`: 4xx for the client's mistakes, 5xx for ours."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.contract import MAX_TOP_K
from qa.filters import SearchFilter
from qa.service import QueryError
from qa.store import IndexError_

log = logging.getLogger("api")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
               422: "invalid_request", 429: "too_many_requests", 503: "unavailable"}


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    first = errors[0] if errors else {}
    kind = first.get("type", "")
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc) or "body"
    if kind == "json_invalid":
        return 400, "bad_json", "the request body is not valid JSON"
    if kind in ("model_attributes_type", "dict_type") and not loc:
        return 422, "invalid_request", "the request body must be a JSON object"
    if loc and loc[0] == "filters":
        # filters are checked, not ignored: a misspelt key or a bad date must not widen the search
        if kind == "extra_forbidden":
            return 422, "unknown_filter", (f"'{field}' is not a filter; filters are "
                                           f"{', '.join(SearchFilter.model_fields)}")
        return 422, "bad_filter", f"'{field}': {SearchFilter.error_message(first)}"
    if kind == "extra_forbidden":
        return 422, "unknown_field", f"'{field}' is not a field of this request; see /docs"
    if kind == "missing":
        return 422, "missing_field", f"'{field}' is required"
    if field in ("query", "question"):
        if kind == "string_too_short":
            return 422, "empty_query", f"'{field}' is empty"
        if kind == "string_too_long":
            limit = first.get("ctx", {}).get("max_length")
            return 422, "query_too_long", f"'{field}' is longer than {limit} characters"
    if field == "top_k" and kind in ("greater_than_equal", "less_than_equal"):
        return 422, "bad_top_k", f"top_k must be an integer from 1 to {MAX_TOP_K}"
    return 422, "invalid_request", f"'{field}': {first.get('msg', 'invalid value')}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _validation_message(exc)
        return error_response(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}"
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(QueryError)
    async def _query(request: Request, exc: QueryError) -> JSONResponse:
        status = 404 if exc.code == "unknown_document" else 422
        return error_response(status, exc.code, exc.message)

    @app.exception_handler(IndexError_)
    async def _index(request: Request, exc: IndexError_) -> JSONResponse:
        log.error("index unavailable: %s", exc)
        return error_response(503, "index_unavailable", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "the service failed on this request; it has been logged")
