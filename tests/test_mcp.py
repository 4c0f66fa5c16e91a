"""`qa mcp`, driven by the official `mcp` client: over stdio (the client launches `python -m qa.cli mcp
--index <the session's index>`, as an assistant would) and over streamable HTTP (`--http PORT`). The
tools are listed with typed, described arguments; `ask`, `search` and `document` answer from the real
index; bad arguments come back as MCP errors and the server keeps serving."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import anyio
import httpx
import pytest
from conftest import EMBEDDER, ROOT, _free_port

mcp = pytest.importorskip("mcp", reason="pip install 'gazette-qa[mcp]'")
from mcp import Client, StdioServerParameters

QUESTION = "黄河滩区治理工程由哪个单位牵头？"
TOOLS = {"search", "ask", "document"}


def _env() -> dict[str, str]:
    return {"QA_EMBEDDER": EMBEDDER, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
            "PATH": os.environ.get("PATH", "")}


def _stdio(index_dir) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "qa.cli", "mcp", "--index", str(index_dir)],
                                 cwd=str(ROOT), env=_env())


def _run(session) -> None:
    """Run `session(client)` against a stdio server of the session's index."""
    anyio.run(session)


def _payload(result) -> dict:
    assert not result.is_error, result.content
    # the same JSON as structured content and as the text block
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def test_tools_are_listed_with_typed_described_arguments(built_settings):
    async def session():
        async with Client(_stdio(built_settings.index_dir), read_timeout_seconds=120) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert TOOLS <= set(tools)
            for t in tools.values():
                assert len(t.description) > 40
                props = t.input_schema["properties"]
                assert all(p.get("description") for p in props.values()), (t.name, props)
                assert t.input_schema.get("additionalProperties") is False
                assert t.annotations.read_only_hint is True
            ask = tools["ask"].input_schema
            assert ask["required"] == ["question"]
            assert ask["properties"]["top_k"]["type"] == "integer"
            assert ask["properties"]["top_k"]["maximum"] == built_settings.max_top_k
            assert tools["search"].input_schema["properties"]["query"]["maxLength"] == built_settings.max_query_chars

    _run(session)


def test_ask_search_and_document_answer_from_the_index(built_settings):
    async def session():
        async with Client(_stdio(built_settings.index_dir), read_timeout_seconds=120) as client:
            answer = _payload(await client.call_tool("ask", {"question": QUESTION, "top_k": 3}))
            assert answer["answer_type"] == "lead_unit" and answer["lead_units"] == ["水务局"]
            assert "自然资源局" in answer["supporting_units"]
            assert len(answer["citations"]) == 3
            cited = answer["citations"][0]["citation"]
            assert cited["doc_number"] == "青党办〔2021〕46号" and "滩区" in answer["citations"][0]["text"]

            found = _payload(await client.call_tool("search", {"query": "黄河滩区治理", "top_k": 2}))
            assert [h["rank"] for h in found["results"]] == [1, 2]
            one = _payload(await client.call_tool("search", {"query": "黄河滩区治理", "doc": cited["doc_id"]}))
            assert {h["citation"]["doc_id"] for h in one["results"]} == {cited["doc_id"]}

            doc = _payload(await client.call_tool("document", {"doc_id": cited["doc_id"], "max_chars": 500}))
            assert doc["doc_number"] == "青党办〔2021〕46号" and doc["title"]
            assert len(doc["text"]) == 500 and doc["next_offset"] == 500 and doc["text_length"] > 500
            assert doc["chunks"] > 0 and any("滩区" in s or "生态" in s for s in doc["sections"])
            rest = _payload(await client.call_tool("document", {"doc_id": cited["doc_id"], "offset": 500,
                                                                "max_chars": 100}))
            assert rest["offset"] == 500 and len(rest["text"]) == 100

    _run(session)


@pytest.mark.parametrize("tool,args,reason", [
    ("ask", {}, "question"),
    ("ask", {"question": ""}, "question"),
    ("ask", {"question": QUESTION, "top_k": 0}, "top_k"),
    ("ask", {"question": QUESTION, "top_k": "3"}, "top_k"),
    ("ask", {"question": QUESTION, "topk": 3}, "topk"),
    ("ask", {"question": "问" * 600}, "question"),
    ("search", {"query": 42}, "query"),
    ("search", {"query": "滩区", "doc": "no-such-doc"}, "unknown_document"),
    ("document", {"doc_id": "no-such-doc"}, "unknown_document"),
    ("document", {"doc_id": "x", "offset": -1}, "offset"),
    ("no_such_tool", {}, "no_such_tool"),
])
def test_bad_arguments_are_mcp_errors(built_settings, tool, args, reason):
    async def session():
        async with Client(_stdio(built_settings.index_dir), read_timeout_seconds=120) as client:
            result = await client.call_tool(tool, args)
            assert result.is_error and reason in result.content[0].text, result.content
            # and the server goes on serving
            assert _payload(await client.call_tool("ask", {"question": QUESTION}))["lead_units"] == ["水务局"]

    _run(session)


def test_streamable_http(built_settings, tmp_path):
    port = _free_port()
    log = tmp_path / "mcp-http.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "mcp", "--index", str(built_settings.index_dir),
                                 "--http", str(port)], cwd=ROOT, env={**os.environ, **_env()}, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                assert time.time() < deadline, "the MCP HTTP server did not come up in 120 s"
                time.sleep(0.3)

        async def session():
            async with Client(url, read_timeout_seconds=120) as client:
                assert TOOLS <= {t.name for t in (await client.list_tools()).tools}
                answer = _payload(await client.call_tool("ask", {"question": QUESTION}))
                assert answer["lead_units"] == ["水务局"]
                bad = await client.call_tool("ask", {"question": QUESTION, "top_k": 99})
                assert bad.is_error

        anyio.run(session)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "MCP server on http://" in log.read_text(errors="replace")
