"""The FastAPI application: `create_app()` for tests and embedding, `app` for `uvicorn api.app:app`."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import __version__
from qa.logs import setup_logging
from qa.service import QAService
from qa.settings import Settings, get_settings

from . import chat, observability, tasks, web
from .errors import error_response, install_error_handlers
from .ratelimit import RateLimitMiddleware
from .routes import router
from .uploads import router as uploads_router

log = logging.getLogger("api")
MAX_BODY_BYTES = 64 * 1024


def _ensure_logging(settings: Settings) -> None:
    """Request and build lines must reach stderr however the app is started (`qa serve` configures
    logging; a bare `uvicorn api.app:app` or a worker process configures only uvicorn's own loggers,
    which then go through ours, in QA_LOG_FORMAT)."""
    if not logging.getLogger().handlers:
        setup_logging(settings.log_format)


def create_app(service: QAService | None = None, settings: Settings | None = None,
               build_if_missing: bool = True) -> FastAPI:
    settings = settings or get_settings()
    _ensure_logging(settings)
    service = service or QAService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if build_if_missing:
            service.ensure_index()
        else:
            service.reload()
        yield

    app = FastAPI(
        title="Gazette QA",
        version=__version__,
        description="Retrieval question answering over Chinese government documents: cited passages "
                    "(/v1/search) and short extractive answers (/v1/ask).",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.metrics = observability.Metrics(service)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(tasks.router)
    app.include_router(observability.router)
    app.include_router(chat.router)
    app.include_router(web.router)
    app.include_router(uploads_router)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"], expose_headers=["X-Request-ID"])

    app.add_middleware(BodyLimitMiddleware, upload_limit=settings.max_upload_bytes + 64 * 1024)
    # outermost but for the request log: a refused request costs no body parsing and no search
    app.add_middleware(RateLimitMiddleware, configured=settings.rate_limit, bind_host=settings.host)

    # added last, so outermost: its id, log line and count cover every response, 413s and 500s too
    app.add_middleware(observability.RequestContextMiddleware, metrics=app.state.metrics)
    return app


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request bodies are limited to {limit} bytes")


class BodyLimitMiddleware:
    """413 for a body over the limit: at once when Content-Length says so, and for a body without
    one (Transfer-Encoding: chunked) as soon as the bytes received pass the limit, so that no body
    is read into memory or onto disk past it. Uploads have their own (larger) limit; every other
    body is a small JSON object."""

    def __init__(self, app, upload_limit: int) -> None:
        self.app, self.upload_limit = app, upload_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope["path"] == "/v1/documents" else MAX_BODY_BYTES
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            response = error_response(413, "payload_too_large", f"request bodies are limited to {limit} bytes")
            return await response(scope, receive, send)
        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)  # answered by the app's HTTPException handler
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as e:  # raised where no handler was installed (outside the routes)
            if started:
                raise
            await error_response(413, "payload_too_large", e.detail)(scope, receive, send)


def __getattr__(name: str):
    # `uvicorn api.app:app` builds the app from the environment on first access only
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
