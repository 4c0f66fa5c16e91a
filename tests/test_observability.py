"""What operators see: Prometheus `/metrics`, JSON request logs (`QA_LOG_FORMAT=json`) and the
`X-Request-ID` on every response — against a real uvicorn server on the session's index."""
from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from conftest import CORPUS_DIR, running_server
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

QUESTION = "黄河滩区治理工程由哪个单位牵头？"
UNANSWERED = "义务教育学校课后服务怎么收费？"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def json_server(built_settings, tmp_path_factory):
    log = tmp_path_factory.mktemp("observability") / "server.log"
    env = {"QA_INDEX_DIR": str(built_settings.index_dir), "QA_CORPUS_DIR": str(CORPUS_DIR), "QA_API_KEY": "",
           "QA_LOG_FORMAT": "json"}
    with running_server(env, qa_serve=True, log=log) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client, log


def _samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


def _value(samples, name: str, **labels) -> float:
    matching = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(matching)


def test_metrics_count_requests_answers_and_the_index(json_server):
    client, _ = json_server
    before = _samples(client.get("/metrics").text)
    assert client.post("/v1/ask", json={"question": QUESTION}).json()["answer_type"] == "lead_unit"
    assert client.post("/v1/ask", json={"question": UNANSWERED}).json()["answer_type"] == "none"
    assert client.post("/v1/ask", json={"question": ""}).status_code == 422
    assert client.get("/v1/documents/no-such-doc").status_code == 404
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = _samples(r.text)

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("qa_http_requests_total", method="POST", route="/v1/ask", status="200") == 2
    assert delta("qa_http_requests_total", method="POST", route="/v1/ask", status="422") == 1
    # by route template, not one series per document id
    assert delta("qa_http_requests_total", route="/v1/documents/{doc_id}", status="404") == 1
    assert not any("no-such-doc" in str(s.labels) for s in after["qa_http_requests_total"])
    assert delta("qa_http_request_duration_seconds_count", method="POST", route="/v1/ask") == 3
    assert delta("qa_http_request_duration_seconds_sum", method="POST", route="/v1/ask") > 0
    # abstention rate: answers by type, 'none' being the abstentions
    assert delta("qa_answers_total", endpoint="/v1/ask", answer_type="lead_unit") == 1
    assert delta("qa_answers_total", endpoint="/v1/ask", answer_type="none") == 1
    health = client.get("/healthz").json()
    assert _value(after, "qa_index_documents") == health["documents"]
    assert _value(after, "qa_index_chunks") == health["chunks"]
    assert abs(_value(after, "qa_index_build_timestamp_seconds") - time.time()) < 86400
    assert _value(after, "qa_index_build_duration_seconds") > 0
    assert _value(after, "qa_index_info", version=health["index_version"]) == 1


def test_openmetrics_on_request(json_server):
    client, _ = json_server
    r = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")


@pytest.mark.parametrize("incoming,echoed", [
    ("req-42.a_b:c", "req-42.a_b:c"),
    ("has space", None),
    ("x" * 200, None),
    ('quote"', None),
    ("", None),
])
def test_request_id_is_echoed_or_generated(json_server, incoming, echoed):
    client, _ = json_server
    r = client.post("/v1/search", json={"query": "滩区治理", "top_k": 1}, headers={"X-Request-ID": incoming})
    rid = r.headers["x-request-id"]
    assert rid == echoed if echoed else GENERATED_ID.fullmatch(rid)


def test_every_response_carries_a_request_id(json_server):
    client, _ = json_server
    responses = [
        client.get("/healthz"),
        client.get("/no/such/route"),  # 404
        client.post("/v1/search", content=b"{", headers={"Content-Type": "application/json"}),  # 400
        client.post("/v1/search", json={"query": "x", "top_k": 0}),  # 422
        client.post("/v1/ask", content=b"x" * 70_000, headers={"Content-Type": "application/json"}),  # 413
        client.post("/v1/documents", files={"file": ("a.md", b"x")}),  # writes are off
        client.get("/metrics"),
    ]
    ids = [r.headers.get("x-request-id") for r in responses]
    assert all(i and GENERATED_ID.fullmatch(i) for i in ids), list(zip([r.status_code for r in responses], ids))
    assert len(set(ids)) == len(ids)


def _json_lines(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("{")]


def test_json_logs_one_object_per_line_with_the_request_id(json_server):
    client, log = json_server
    rid = "log-test-7f3a"
    assert client.post("/v1/ask", json={"question": QUESTION}, headers={"X-Request-ID": rid}).status_code == 200
    assert client.get("/v1/documents/nope", headers={"X-Request-ID": rid + "-404"}).status_code == 404
    deadline = time.time() + 10
    while not any(e.get("request_id") == rid + "-404" for e in _json_lines(log)) and time.time() < deadline:
        time.sleep(0.1)
    lines = log.read_text(encoding="utf-8").splitlines()
    # every line is JSON: uvicorn's own startup lines go through the same handler
    assert lines and all(line.startswith("{") for line in lines if line.strip()), [l for l in lines if not l.startswith("{")][:3]
    entries = _json_lines(log)
    mine = [e for e in entries if e.get("request_id") == rid]
    assert len(mine) == 1
    e = mine[0]
    assert (e["method"], e["path"], e["status"], e["level"], e["logger"]) == ("POST", "/v1/ask", 200, "INFO", "api")
    assert isinstance(e["ms"], float) and e["ms"] > 0 and e["client"].startswith("127.0.0.1:")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", e["time"])
    assert [x["status"] for x in entries if x.get("request_id") == rid + "-404"] == [404]
    assert any("serving index" in x["message"] and x["request_id"] is None for x in entries)


def test_an_unhandled_error_is_a_json_500_with_its_request_id(service, caplog):
    # a route that fails on purpose, added to the real app: the error path, not a mocked component
    from api.app import create_app

    app = create_app(service, service.settings, build_if_missing=False)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("deliberate failure")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert r.headers["x-request-id"] == "boom-1"
    failed = [rec for rec in caplog.records if rec.name == "api" and rec.exc_info]
    assert failed and failed[-1].request_id == "boom-1"
    assert "deliberate failure" not in r.text
