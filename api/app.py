"""The FastAPI application: `create_app()` for tests and embedding, `app` for `uvicorn api.app:app`."""
from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from qa import __version__
from qa.service import QAService
from qa.settings import Settings, get_settings

from . import chat, web
from .errors import error_response, install_error_handlers
from .routes import router
from .uploads import router as uploads_router

log = logging.getLogger("api")
MAX_BODY_BYTES = 64 * 1024


def create_app(service: QAService | None = None, settings: Settings | None = None,
               build_if_missing: bool = True) -> FastAPI:
    settings = settings or get_settings()
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
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(chat.router)
    app.include_router(web.router)
    app.include_router(uploads_router)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Content-Type", "X-API-Key"])

    @app.middleware("http")
    async def limit_and_log(request: Request, call_next):
        t0 = time.perf_counter()
        length = request.headers.get("content-length")
        # uploads have their own (larger) limit; every other body is a small JSON object
        limit = settings.max_upload_bytes + 64 * 1024 if request.url.path == "/v1/documents" else MAX_BODY_BYTES
        if length is not None and (not length.isdigit() or int(length) > limit):
            response = error_response(413, "payload_too_large", f"request bodies are limited to {limit} bytes")
        else:
            response = await call_next(request)
        log.info("%s %s %d %.1fms", request.method, request.url.path, response.status_code,
                 (time.perf_counter() - t0) * 1000)
        return response

    return app


def __getattr__(name: str):
    # `uvicorn api.app:app` builds the app from the environment on first access only
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
