"""What operators watch: one log line per request with its request id, and Prometheus metrics at
`GET /metrics`.

Every response, errors included, carries `X-Request-ID`: the caller's own when it sent a sane one, else
a new id; the same id is on the request's log line and on every line logged while serving it
(`QA_LOG_FORMAT=json` makes those lines JSON objects, see `qa.logs`).

Metrics (prometheus-client, one registry per app):
- `qa_http_requests_total{method,route,status}` and `qa_http_request_duration_seconds{method,route}`,
  by route template (`/v1/documents/{doc_id}`, not every id; `unmatched` for paths no route serves);
- `qa_answers_total{endpoint,answer_type}`: answers of /v1/ask and of the chat endpoint by type,
  `answer_type="none"` being the abstentions;
- `qa_index_documents`, `qa_index_chunks`, `qa_index_build_timestamp_seconds`,
  `qa_index_build_duration_seconds` and `qa_index_info{version,embedder}`, read from the serving index
  at each scrape (so a new build shows at once).
With `qa serve --workers N` each worker process keeps its own numbers; a scrape reads one of them.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from qa.logs import request_id, request_id_var
from qa.service import QAService

from .errors import error_response

log = logging.getLogger("api")

router = APIRouter(tags=["service"])
# search and ask answer in milliseconds; uploads and first loads take seconds
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _IndexCollector(Collector):
    """Index size and build time, read from the service at scrape time."""

    def __init__(self, service: QAService) -> None:
        self.service = service

    def collect(self):
        try:
            index = self.service.index
        except Exception:  # no index loaded: nothing to report (healthz says why)
            return
        m = index.manifest
        yield GaugeMetricFamily("qa_index_documents", "documents in the serving index", value=len(index.documents))
        yield GaugeMetricFamily("qa_index_chunks", "chunks in the serving index", value=len(index.chunks))
        try:
            built = datetime.strptime(m.built_at, "%Y-%m-%dT%H:%M:%S%z").timestamp()
            yield GaugeMetricFamily("qa_index_build_timestamp_seconds",
                                    "when the serving index was built (Unix time)", value=built)
        except (TypeError, ValueError):
            pass
        if m.timings:
            yield GaugeMetricFamily("qa_index_build_duration_seconds", "how long the serving index took to build",
                                    value=sum(v for v in m.timings.values() if isinstance(v, (int, float))))
        info = GaugeMetricFamily("qa_index_info", "the serving index", labels=["version", "embedder"])
        info.add_metric([index.version, m.embedder], 1)
        yield info


class Metrics:
    def __init__(self, service: QAService) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("qa_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("qa_http_request_duration_seconds", "HTTP request latency by route",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.answers = Counter("qa_answers", "answers by endpoint and answer_type ('none': abstained)",
                               ["endpoint", "answer_type"], registry=self.registry)
        self.registry.register(_IndexCollector(service))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def answer(self, endpoint: str, answer_type: str) -> None:
        self.answers.labels(endpoint, answer_type).inc()


def record_answer(request: Request, endpoint: str, answer_type: str) -> None:
    """Count one answer (routes call this; the app holds the metrics)."""
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.answer(endpoint, answer_type)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (text exposition format)",
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request) -> Response:
    # the format the scraper asks for (Prometheus text or OpenMetrics), as prometheus-client's own server does
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(request.app.state.metrics.registry), headers={"Content-Type": content_type})


class RequestContextMiddleware:
    """Outermost layer: gives each request its id, echoes it as `X-Request-ID`, logs one line when the
    response is done, and counts the request. An exception no handler took becomes the contract's
    500 JSON error here, so that it too carries the id."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = request_id(incoming.decode("latin-1") if incoming is not None else None)
        token = request_id_var.set(rid)
        status, started = 500, False
        t0 = time.perf_counter()

        async def send_with_id(message):
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": headers + [(b"x-request-id", rid.encode("latin-1"))]}
            await send(message)

        method, path = scope["method"], scope["path"]
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", method, path, extra={"request_id": rid})
            if started:
                raise
            await error_response(500, "internal_error", "the service failed on this request; it has been logged"
                                 )(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - t0
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(method, route, status, seconds)
            client = scope.get("client")
            log.info("%s %s %d %.1fms", method, path, status, seconds * 1000,
                     extra={"request_id": rid, "method": method, "path": path, "status": status, "ms": round(seconds * 1000, 1),
                            "client": f"{client[0]}:{client[1]}" if client else None})
            request_id_var.reset(token)
