"""Logging for every entry point (`qa serve`, `qa mcp`, a bare `uvicorn api.app:app`): one setup, in
text (the default) or JSON lines (`QA_LOG_FORMAT=json`, for log collectors), to stderr.

JSON lines carry `time` (ISO 8601, UTC), `level`, `logger`, `message`, the `request_id` of the HTTP
request being served (when a line is logged while one is), and whatever fields the call passes in
`extra=` — the request lines pass `method`, `path`, `status`, `ms` and `client`. The request id lives in
a context variable, so a traceback logged deep inside a request still names it.
"""
from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from typing import Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# libraries that log their internals at INFO/DEBUG
NOISY = ("bm25s", "faiss.loader", "jieba")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# an id a client or a proxy sent: short, printable, no spaces or quotes, so it is safe to log and echo
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")


def request_id(incoming: str | None) -> str:
    """The id of a request: the caller's `X-Request-ID` when it is sane, else a new one."""
    if incoming is not None and _SANE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s",
                         rename_fields={"levelname": "level", "name": "logger"}, timestamp="time",
                         json_ensure_ascii=False)


def make_handler(fmt: LogFormat) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_RequestIdFilter())
    return handler


def setup_logging(fmt: LogFormat = "text", verbose: bool = False) -> None:
    """Root logging for a command: one stderr handler in the chosen format (replacing any earlier
    one of ours), uvicorn's loggers sent through it too, noisy libraries quietened."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_qa_handler", False):
            root.removeHandler(h)
    handler = make_handler(fmt)
    handler._qa_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Python warnings become log records too, so that a JSON log holds nothing but JSON lines
    logging.captureWarnings(True)
