"""Property-based API tests: Schemathesis generates requests from the service's own /openapi.json and
sends them to a REAL uvicorn server. Every response must be a non-5xx that matches the status codes,
content types and schemas the OpenAPI document declares, and every error must be JSON
`{"error": {"code", "message"}}`.

Bounded for the suite: SCHEMATHESIS_CASES (default 50) cases per operation, schema-valid and
schema-violating data mixed, no deadline per case. The long form, run by hand:

    SCHEMATHESIS_CASES=200 .venv/bin/python -m pytest -q tests/test_schemathesis.py

Two servers: the session's (writes off: POST/DELETE /v1/documents answer 403) and one with
QA_API_KEY set, where the generated requests never hold the key and so must get 401 (or another
4xx for a body refused before the key is looked at), never a 5xx and never a write.

(Each operation is driven by Hypothesis directly, from `operation.as_strategy()`:
`schemathesis.pytest.from_fixture` does not run under pytest 9.)
"""
from __future__ import annotations

import os
import shutil
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.conftest import running_server

CASES = int(os.environ.get("SCHEMATHESIS_CASES", "50"))
SECONDS_PER_OPERATION = float(os.environ.get("SCHEMATHESIS_SECONDS", "20"))
KEY = "schemathesis-key-5d1c"

OPERATIONS = [("POST", "/v1/search"), ("POST", "/v1/ask"), ("GET", "/healthz"), ("GET", "/v1/documents"),
              ("POST", "/v1/documents"), ("GET", "/v1/documents/{doc_id}"), ("DELETE", "/v1/documents/{doc_id}"),
              ("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("GET", "/v1/models/{model_id}"),
              ("GET", "/metrics"), ("GET", "/v1/tasks"), ("GET", "/v1/units")]
WRITES = [("POST", "/v1/documents"), ("DELETE", "/v1/documents/{doc_id}")]


def error_shape(ctx, response, case):
    """Every 4xx/5xx is a JSON object whose `error` has a string `code` and a non-empty `message`
    (the chat endpoint's OpenAI-style errors carry both as well)."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert "application/json" in content_type, f"{response.status_code} is not JSON: {content_type!r}"
    error = response.json().get("error")
    assert isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str) \
        and error["message"], f"{response.status_code} without error.code/message: {response.text[:200]}"
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          error_shape]


class _Budget(Exception):
    pass


def fuzz(schema, method: str, path: str, extra_check=None) -> int:
    """Send up to CASES generated requests (valid and invalid) to one operation; every response must
    pass CHECKS. Stops early, passing, when SECONDS_PER_OPERATION is spent. Returns the count sent."""
    operation = schema[path][method]
    strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                         operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    sent = 0
    deadline = time.monotonic() + SECONDS_PER_OPERATION

    @given(case=strategy)
    @settings(max_examples=CASES, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    def run(case):
        nonlocal sent
        if time.monotonic() > deadline:
            return  # out of time: the remaining examples pass without a request
        sent += 1
        response = case.call_and_validate(checks=CHECKS, timeout=30)
        if extra_check is not None:
            extra_check(case, response)

    run()
    print(f"schemathesis: {method} {path}: {sent} requests")
    return sent


@pytest.fixture(scope="module")
def open_schema(server_url):
    return schemathesis.openapi.from_url(server_url + "/openapi.json")


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, built_settings):
    """A server with QA_API_KEY set, on a copy of the session index (a write that got in would
    change the copy only, and show up as a file in its corpus/uploads)."""
    root = tmp_path_factory.mktemp("schemathesis-keyed")
    shutil.copytree(built_settings.index_dir, root / "index")
    (root / "corpus").mkdir()
    with running_server({"QA_INDEX_DIR": str(root / "index"), "QA_CORPUS_DIR": str(root / "corpus"),
                         "QA_API_KEY": KEY}) as url:
        yield url, root, schemathesis.openapi.from_url(url + "/openapi.json")


def test_the_operations_fuzzed_are_all_the_api_has(open_schema):
    declared = {(r.ok().method.upper(), r.ok().path) for r in open_schema.get_all_operations()}
    assert declared == set(OPERATIONS)


@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_get_answers_within_the_contract(open_schema, method, path):
    sent = fuzz(open_schema, method, path)
    assert sent >= 1


@pytest.mark.parametrize("method,path", WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_writes_without_the_key_are_refused_never_5xx(keyed, method, path):
    url, root, schema = keyed

    def refused(case, response):
        # no generated request holds the key: 401, or 400/413/422 for a body refused before it is read
        assert response.status_code in (400, 401, 413, 415, 422), (response.status_code, response.text[:200])

    sent = fuzz(schema, method, path, refused)
    assert sent >= 1
    assert not (root / "corpus" / "uploads").exists()
    health = httpx.get(url + "/healthz").json()
    assert health["documents"] == 8


def test_writes_without_a_key_header_are_401(keyed):
    url, root, _ = keyed
    r = httpx.post(url + "/v1/documents", files={"file": ("a.md", "# 通知\n\n正文。".encode())})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = httpx.delete(url + "/v1/documents/doc-x", headers={"X-API-Key": "wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert not (root / "corpus" / "uploads").exists()


# -- what the fuzzing found, pinned ------------------------------------------------------------------

@pytest.mark.parametrize("path,body", [
    ("/v1/chat/completions", r'{"messages": [{"role": "user", "content": "\ud800谁牵头"}]}'),
    ("/v1/chat/completions", r'{"messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]}'),
    ("/v1/search", r'{"query": "\ud800污水"}'),
    ("/v1/ask", r'{"question": "谁牵头\udbff"}'),
])
def test_lone_surrogates_in_json_are_a_4xx(server_url, path, body):
    # valid JSON, but no UTF-8 text: the tokenizer used to fail on it (500)
    r = httpx.post(server_url + path, content=body.encode(), headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and r.json()["error"]["code"], r.text


@pytest.mark.parametrize("method,template,path,request_kwargs,status", [
    ("POST", "/v1/documents", "/v1/documents",
     {"content": b"--b\r\nFalse--b--\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=b"}}, 400),
    ("POST", "/v1/search", "/v1/search", {"json": {"query": "x" * 70_000}}, 413),
    ("POST", "/v1/ask", "/v1/ask", {"json": {"question": "x" * 70_000}}, 413),
    ("POST", "/v1/chat/completions", "/v1/chat/completions",
     {"json": {"messages": [{"role": "user", "content": "x" * 70_000}]}}, 413),
    ("GET", "/v1/documents/{doc_id}", "/v1/documents/" + "d" * 201, {}, 422),
])
def test_error_statuses_are_declared_with_their_schema(server_url, open_schema, method, template, path,
                                                       request_kwargs, status):
    """Errors the fuzzing met (or that the body limit gives) are declared, with the body they have."""
    r = httpx.request(method, server_url + path, **request_kwargs)
    assert r.status_code == status, r.text
    open_schema[template][method].Case().validate_response(r, checks=CHECKS)
