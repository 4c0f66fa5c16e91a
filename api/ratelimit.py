"""Rate limiting of the public endpoints per client address, with the `limits` library.

`QA_RATE_LIMIT` takes `limits` notation: "20/second", "10/second;200/minute" (every part applies),
or "off". Unset, the limit is `DEFAULT_PUBLIC_LIMIT` when the server is reachable beyond loopback
(it is configured to bind a non-loopback address, or a request arrived on one) and off on loopback,
where the only clients are this machine's. Over the limit: 429 with a JSON error and `Retry-After`
(seconds until the oldest counted request leaves the window); for the chat endpoint the error is in
OpenAI's shape, which also carries `code` and `message`.

Limited: /v1/search, /v1/ask, /v1/chat/completions and every other read under /v1/ and /mcp. Not
limited: the key-protected writes (POST/DELETE /v1/documents), /healthz, /metrics, the web page and
its static files. The client address is the connection's peer (behind a reverse proxy, start
uvicorn with --proxy-headers and --forwarded-allow-ips so that it is the real client's). Counters
live in the process's memory (moving window): each worker process counts on its own.
"""
from __future__ import annotations

import ipaddress
import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from .errors import error_response

log = logging.getLogger("api")

DEFAULT_PUBLIC_LIMIT = "10/second;300/minute"
_OFF = {"", "off", "none", "0", "false", "no"}
_OPENAI_PATHS = ("/v1/chat/completions",)


def parse_rate_limit(value: str | None) -> list[RateLimitItem] | None:
    """The limits of a QA_RATE_LIMIT value; None for "off". A malformed value is an error at start-up,
    not a silently unlimited server."""
    if value is None or value.strip().lower() in _OFF:
        return None
    try:
        return parse_many(value)
    except ValueError as e:
        raise ValueError(f"QA_RATE_LIMIT={value!r} is not a rate limit such as '20/second' or "
                         f"'10/second;200/minute' ({e})") from e


def is_loopback(host: str | None) -> bool:
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def is_limited_path(method: str, path: str) -> bool:
    if path.startswith("/v1/documents") and method in ("POST", "DELETE"):
        return False  # writes need the API key; their cost is bounded by the document budget
    return path.startswith("/v1/") or path == "/mcp" or path.startswith("/mcp/")


class RateLimitMiddleware:
    """ASGI middleware: count each limited request against its client's address, answer 429 past it.

    `configured`: the QA_RATE_LIMIT value (None when unset); `bind_host`: the host the server was
    configured to listen on (QA_HOST / `qa serve --host`)."""

    def __init__(self, app, configured: str | None, bind_host: str | None) -> None:
        self.app = app
        self.explicit = configured is not None
        self.items = parse_rate_limit(configured if self.explicit else DEFAULT_PUBLIC_LIMIT)
        self.public_bind = not is_loopback(bind_host)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        if self.explicit:
            log.info("rate limit %s per client address", configured if self.items else "off")
        elif self.public_bind:
            log.info("listening beyond loopback: rate limit %s per client address (QA_RATE_LIMIT)",
                     DEFAULT_PUBLIC_LIMIT)

    def _active(self, scope) -> bool:
        if not self.items:
            return False
        if self.explicit or self.public_bind:
            return True
        server = scope.get("server")  # the local address this connection came in on
        return bool(server) and not is_loopback(server[0])

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not is_limited_path(scope["method"], scope["path"]) or not self._active(scope):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown", 0))[0]
        for item in self.items:  # every part of "10/second;300/minute" must allow the request
            if not self.limiter.hit(item, client):
                retry = self._retry_after(item, client)
                message = (f"too many requests from {client}: the limit is {item} per client address; "
                           f"retry after {retry} s")
                headers = {"Retry-After": str(retry)}
                if scope["path"] in _OPENAI_PATHS:
                    body = {"error": {"message": message, "type": "rate_limit_error", "param": None,
                                      "code": "too_many_requests"}}
                    from fastapi.responses import JSONResponse

                    response = JSONResponse(body, status_code=429, headers=headers)
                else:
                    response = error_response(429, "too_many_requests", message, headers)
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)

    def _retry_after(self, item: RateLimitItem, client: str) -> int:
        reset, _remaining = self.limiter.get_window_stats(item, client)
        return max(1, math.ceil(reset - time.time()))
